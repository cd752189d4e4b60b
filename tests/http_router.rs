//! The router on the wire, case by case from Go 1.22 `ServeMux`'s documented behaviour:
//! precedence (the most specific pattern wins), `{$}`, `{x...}`, subtree patterns, host
//! patterns, GET matching HEAD, 405 with `Allow`, 404, the redirects for unclean paths and
//! for `/tree` → `/tree/`, matching on decoded segments, and the registration panics for
//! conflicting and malformed patterns.

mod common;
mod http_util;

use common::Watchdog;
use gmp::http::{Handler, Request, Response, Router};
use http_util::{Resp, TestServer};
use std::io;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// A handler that answers with its own name and the request's parameters.
fn named(
    name: &'static str,
    params: &'static [&'static str],
) -> impl Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static {
    move |req, res| {
        let mut body = name.to_string();
        for p in params {
            body.push_str(&format!(" {p}={}", req.param(p).unwrap_or("<none>")));
        }
        res.body(body);
        Ok(())
    }
}

/// Go's documentation examples and precedence cases in one router.
fn go_router() -> Router {
    let mut r = Router::new();
    r.handle("/index.html", named("index.html", &[]));
    r.handle("GET /static/", named("static/", &[]));
    r.handle("example.com/", named("example.com/", &[]));
    r.handle("example.com/{$}", named("example.com/{$}", &[]));
    r.handle(
        "/b/{bucket}/o/{objectname...}",
        named("bucket-object", &["bucket", "objectname"]),
    );
    r.handle("/images/", named("images/", &[]));
    r.handle("/images/thumbnails/", named("thumbnails/", &[]));
    r.handle("/posts/{id}", named("posts/{id}", &["id"]));
    r.handle("/posts/latest", named("posts/latest", &[]));
    r.handle("GET /{$}", named("root", &[]));
    r.handle("POST /items", named("post-items", &[]));
    r.handle("GET /items/{id}", named("get-item", &["id"]));
    r.handle("DELETE /items/{id}", named("delete-item", &["id"]));
    r.handle("/a/b/z", named("a/b/z", &[]));
    r.handle("/a/{x}/c", named("a/{x}/c", &["x"]));
    r.handle("/seg/{s}", named("seg", &["s"]));
    r.handle("/lit/a%2Fb", named("lit-a/b", &[]));
    r.handle("/caf%C3%A9/{x}", named("cafe", &["x"]));
    r.handle("/tree/", named("tree/", &[]));
    r.handle("/exact", named("exact", &[]));
    r.handle("/exact/", named("exact/", &[]));
    r
}

/// Sends `method target` with `host` and returns the response.
fn ask(s: &TestServer, method: &str, target: &str, host: &str) -> Resp {
    let mut c = s.client();
    c.send(format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\n\r\n"
    ));
    c.read_resp(method == "HEAD")
}

#[test]
fn gos_routing_table() {
    let _w = Watchdog::new("routing table", LIMIT);
    let s = TestServer::start_handler(|s| s, go_router());
    // (method, target, host, status, body or Location/Allow)
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        // Literal, any method and host.
        ("GET", "/index.html", "a", 200, "index.html"),
        ("POST", "/index.html", "a", 200, "index.html"),
        // A subtree for GET (and so HEAD).
        ("GET", "/static/x/y.css", "a", 200, "static/"),
        ("GET", "/static/", "a", 200, "static/"),
        ("POST", "/static/x", "a", 405, "GET, HEAD"),
        // The host pattern wins over host-less ones; {$} is exactly "/".
        ("GET", "/", "example.com", 200, "example.com/{$}"),
        ("GET", "/", "example.com:8080", 200, "example.com/{$}"),
        ("GET", "/index.html", "example.com", 200, "example.com/"),
        ("GET", "/anything/else", "example.com", 200, "example.com/"),
        ("GET", "/", "other.org", 200, "root"),
        // {name...} takes the rest, decoded.
        (
            "GET",
            "/b/mybucket/o/path/to/obj%20x",
            "a",
            200,
            "bucket-object bucket=mybucket objectname=path/to/obj x",
        ),
        (
            "GET",
            "/b/mybucket/o/",
            "a",
            200,
            "bucket-object bucket=mybucket objectname=",
        ),
        // The more specific subtree wins.
        ("GET", "/images/thumbnails/x.png", "a", 200, "thumbnails/"),
        ("GET", "/images/x.png", "a", 200, "images/"),
        // A literal beats a wildcard.
        ("GET", "/posts/latest", "a", 200, "posts/latest"),
        ("GET", "/posts/42", "a", 200, "posts/{id} id=42"),
        // Methods: 405 with Allow for the others, GET covers HEAD.
        ("POST", "/items", "a", 200, "post-items"),
        ("GET", "/items", "a", 405, "POST"),
        ("GET", "/items/7", "a", 200, "get-item id=7"),
        ("DELETE", "/items/7", "a", 200, "delete-item id=7"),
        ("PUT", "/items/7", "a", 405, "DELETE, GET, HEAD"),
        // Backtracking: /a/b/z fails on c, /a/{x}/c takes it.
        ("GET", "/a/b/c", "a", 200, "a/{x}/c x=b"),
        ("GET", "/a/b/z", "a", 200, "a/b/z"),
        // Segments are decoded before matching: %2F stays inside its segment.
        ("GET", "/seg/a%2Fb", "a", 200, "seg s=a/b"),
        ("GET", "/lit/a%2Fb", "a", 200, "lit-a/b"),
        ("GET", "/lit/a/b", "a", 404, ""),
        ("GET", "/caf%c3%a9/1", "a", 200, "cafe x=1"),
        ("GET", "/café/1", "a", 200, "cafe x=1"),
        // Nothing matches.
        ("GET", "/nowhere", "a", 404, ""),
        ("GET", "/posts/1/2", "a", 404, ""),
        // Unclean paths redirect to the clean form, query kept.
        ("GET", "//posts/1", "a", 301, "/posts/1"),
        ("GET", "/posts/./1", "a", 301, "/posts/1"),
        ("GET", "/x/../posts/1?q=1", "a", 301, "/posts/1?q=1"),
        ("GET", "/posts/1/..", "a", 301, "/posts"),
        // /tree → /tree/ when only the subtree matches exactly.
        ("GET", "/tree", "a", 301, "/tree/"),
        ("GET", "/tree?x=y", "a", 301, "/tree/?x=y"),
        ("GET", "/tree/", "a", 200, "tree/"),
        ("GET", "/tree/leaf", "a", 200, "tree/"),
        ("GET", "/exact", "a", 200, "exact"),
        ("GET", "/exact/", "a", 200, "exact/"),
        // Not a path.
        ("OPTIONS", "*", "a", 400, ""),
    ];
    for &(method, target, host, status, want) in cases {
        let r = ask(&s, method, target, host);
        let what = format!("{method} {target} (Host: {host}): {r:?}");
        assert_eq!(r.status, status, "{what}");
        match status {
            200 => assert_eq!(r.text(), want, "{what}"),
            301 => assert_eq!(r.header("location"), Some(want), "{what}"),
            405 => assert_eq!(r.header("allow"), Some(want), "{what}"),
            _ => {}
        }
    }
    // HEAD is served by GET patterns, without a body.
    let r = ask(&s, "HEAD", "/items/9", "a");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("13")); // "get-item id=9"
    assert!(r.body.is_empty());
    s.stop();
}

#[test]
fn a_wildcard_value_that_is_not_utf8_is_400() {
    let _w = Watchdog::new("utf8", LIMIT);
    let s = TestServer::start_handler(|s| s, go_router());
    let r = ask(&s, "GET", "/posts/%ff", "a");
    assert_eq!(r.status, 400, "{r:?}");
    // A literal segment that decodes to invalid UTF-8 just does not match.
    let r = ask(&s, "GET", "/nowhere%ff", "a");
    assert_eq!(r.status, 404, "{r:?}");
    s.stop();
}

/// Registers `patterns` in order and returns the panic message, if any.
fn register(patterns: &[&str]) -> Option<String> {
    let r = std::panic::catch_unwind(|| {
        let mut r = Router::new();
        for p in patterns {
            r.handle(p, named("x", &[]));
        }
    });
    r.err().map(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn conflicting_patterns_panic_naming_both() {
    // Go's documented conflicts, and equivalent patterns.
    for (a, b) in [
        ("GET /", "/index.html"),
        ("/posts/{id}", "/posts/{name}"),
        ("/a/{x}", "/{y}/b"),
        ("GET /items/{id}", "GET /items/{name}"),
        ("/x/", "/x/{rest...}"),
        ("GET /{x}", "/a"),
        ("/{$}", "/{$}"),
        ("GET /a/{x}", "/a/b"),
    ] {
        let msg = register(&[a, b]).unwrap_or_else(|| panic!("{a:?} and {b:?} registered"));
        assert!(
            msg.contains(&format!("{a:?}")) && msg.contains(&format!("{b:?}")),
            "{a} / {b}: {msg}"
        );
        assert!(msg.contains("conflicts"), "{msg}");
        assert!(
            msg.contains("http_router.rs"),
            "no registration site: {msg}"
        );
    }
    // Not conflicts: one is more specific, or they are disjoint.
    for set in [
        &["/posts/{id}", "/posts/latest"][..],
        &["/images/", "/images/thumbnails/"],
        &["GET /a", "POST /a"],
        &["GET /a", "HEAD /a"],
        &["/", "/{$}"],
        &["a.example/{x}", "b.example/{x}", "/{x}"],
        &["/a/{x}/c", "/a/b/z"],
    ] {
        assert_eq!(register(set), None, "{set:?}");
    }
}

#[test]
fn malformed_patterns_panic_saying_what_is_wrong() {
    for (p, why) in [
        ("", "empty pattern"),
        ("GET", "missing the '/'"),
        ("/a/{x", "must end with '}'"),
        ("/{x}/{x}", "duplicate wildcard name"),
        ("/{x...}/y", "not at the end"),
        ("GET /a/../b", "not clean"),
        ("/a/{1}", "bad wildcard name"),
    ] {
        let msg = register(&[p]).unwrap_or_else(|| panic!("{p:?} registered"));
        assert!(msg.contains(why), "{p:?}: {msg}");
        assert!(msg.contains(&format!("{p:?}")), "{msg}");
    }
}

#[test]
fn middleware_runs_around_routes_404s_and_redirects_outermost_first() {
    let _w = Watchdog::new("middleware", LIMIT);
    let mut app = Router::new();
    app.handle("GET /x", |_req, res| {
        res.body("x");
        Ok(())
    });
    let app = app
        .with(|req, res, next| {
            res.header("x-outer", req.path());
            next.call(req, res)
        })
        .with(|req, res, next| {
            res.header("x-inner", "1");
            if req.query() == Some("deny") {
                res.status(403).body("denied");
                return Ok(());
            }
            next.call(req, res)
        });
    let s = TestServer::start_handler(|s| s, app);
    for (target, status) in [("/x", 200), ("/nope", 404), ("//x", 301), ("/x?deny", 403)] {
        let r = ask(&s, "GET", target, "a");
        assert_eq!(r.status, status, "{target}: {r:?}");
        assert_eq!(r.header("x-outer"), Some(target.split('?').next().unwrap()));
        assert_eq!(r.header("x-inner"), Some("1"));
    }
    s.stop();
}

#[test]
fn a_handler_wrapped_alone_and_a_mounted_router() {
    let _w = Watchdog::new("wrapped", LIMIT);
    let hello = |_: &mut Request<'_>, res: &mut Response<'_>| {
        res.body("hello");
        Ok(())
    };
    let mut api = Router::new();
    api.handle("GET /api/v1/{thing}", named("api", &["thing"]));
    let mut app = Router::new();
    app.mount(
        "GET /hello",
        hello.with(|req, res, next| {
            res.header("x-wrapped", "yes");
            next.call(req, res)
        }),
    );
    app.mount("/api/", api);
    app.handle("GET /plain", hello);
    let s = TestServer::start_handler(|s| s, app);
    let r = ask(&s, "GET", "/hello", "a");
    assert_eq!((r.status, r.header("x-wrapped")), (200, Some("yes")));
    let r = ask(&s, "GET", "/plain", "a");
    assert_eq!((r.status, r.header("x-wrapped")), (200, None));
    assert_eq!(
        ask(&s, "GET", "/api/v1/widgets", "a").text(),
        "api thing=widgets"
    );
    // The inner router's own 404 and 405.
    assert_eq!(ask(&s, "GET", "/api/v2/x", "a").status, 404);
    assert_eq!(ask(&s, "POST", "/api/v1/x", "a").status, 405);
    s.stop();
}

#[test]
fn query_params_are_decoded() {
    let _w = Watchdog::new("query", LIMIT);
    let s = TestServer::start(
        |s| s,
        |req, res| {
            let a = req.query_param("a").unwrap_or_default().into_owned();
            let all: Vec<String> = req.query_pairs().map(|(k, v)| format!("{k}={v}")).collect();
            res.body(format!("a={a} all={}", all.join(",")));
            Ok(())
        },
    );
    let r = ask(&s, "GET", "/?a=x+y%21&b=%E2%82%AC&a=2&c", "a");
    assert_eq!(r.text(), "a=x y! all=a=x y!,b=€,a=2,c=");
    s.stop();
}
