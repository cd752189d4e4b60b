//! A pattern's canonical form (`Router::patterns`, the pattern's `Display`) registers
//! and routes exactly as the pattern does, a literal `.` or `..` segment written
//! escaped (`%2E`) included (found by the `router` fuzz target's round-trip property:
//! the canonical form wrote the dot plainly, and with a method that is an unclean
//! path, refused at registration).

use gmp_http::Router;

fn router(patterns: &[&str]) -> Router {
    let mut r = Router::new();
    for p in patterns {
        r.handle(p, |_req, _res| Ok(()));
    }
    r
}

#[test]
fn canonical_forms_of_escaped_dot_segments_route_alike() {
    let patterns = [
        "GET /a/%2E",
        "GET /b/%2e%2E/{x}",
        "POST /c/%2E%2E%2E/",
        "/d/%2e/{$}",
    ];
    let original = router(&patterns);
    let canon: Vec<String> = original.patterns().collect();
    let canon_refs: Vec<&str> = canon.iter().map(String::as_str).collect();
    let again = std::panic::catch_unwind(|| router(&canon_refs).patterns().collect::<Vec<_>>());
    let again = again.unwrap_or_else(|_| panic!("the canonical forms {canon:?} do not register"));
    assert_eq!(
        again, canon,
        "the canonical forms are not their own canonical forms"
    );
    let round = router(&canon_refs);
    for (method, path) in [
        ("GET", "/a/%2e"),
        ("GET", "/a/%2E"),
        ("GET", "/b/%2e%2e/z"),
        ("POST", "/c/.../"),
        ("POST", "/c/.../x"),
        ("GET", "/d/%2E/"),
        ("GET", "/a/x"),
    ] {
        let (mut c1, mut c2) = (Vec::new(), Vec::new());
        assert_eq!(
            original.__lookup(method, path, &mut c1),
            round.__lookup(method, path, &mut c2),
            "{method} {path}"
        );
        assert_eq!(c1, c2, "{method} {path}");
    }
    let mut c = Vec::new();
    assert_eq!(original.__lookup("GET", "/a/%2e", &mut c), Some(0));
}
