//! The `router` target: the router's pattern parser (`router::pattern`) and matcher
//! (`router::tree`).
//!
//! Properties:
//! - parsing a pattern never panics, and an accepted pattern's canonical form (its
//!   `Display`) parses to itself and is equivalent to it (the two conflict);
//! - a router built from the accepted patterns and one built from their canonical forms
//!   route every request alike (same route, same wildcard captures);
//! - routing never panics, whatever the path, and agrees with a separate, naive
//!   matcher: the route found matches the request under Go's rules for that pattern
//!   alone, and when no route is found no pattern matches; every method a 405 would
//!   list routes the path.
//!
//! Input: lines; a line `=METHOD PATH` is a request, any other line a pattern.

use gmp_http::__fuzz as gmp;
use gmp_http::Router;

/// A canonical pattern's path, segment by segment (the naive matcher's view).
#[derive(Debug)]
enum Seg {
    Lit(Vec<u8>),
    Wild,
    Multi,
    End,
}

/// `%XX` decoded; a malformed escape leaves the segment as written (Go's
/// `pathUnescape` as the router uses it).
fn unescape(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            match (
                s.get(i + 1).and_then(|&b| hex(b)),
                s.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => return s.to_vec(),
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Splits a canonical pattern (`[METHOD ][HOST]/PATH`) into its method, host and
/// segments.
fn split(canon: &str) -> (Option<&str>, &str, Vec<Seg>) {
    let (method, rest) = match canon.split_once(' ') {
        Some((m, r)) => (Some(m), r),
        None => (None, canon),
    };
    let slash = rest.find('/').expect("a canonical pattern has a path");
    let (host, path) = rest.split_at(slash);
    let mut segs = Vec::new();
    let parts: Vec<&str> = path[1..].split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        segs.push(match *p {
            "" if last => Seg::Multi,
            "{$}" => Seg::End,
            w if w.starts_with('{') && w.ends_with("...}") => Seg::Multi,
            w if w.starts_with('{') => Seg::Wild,
            lit => Seg::Lit(unescape(lit.as_bytes())),
        });
    }
    (method, host, segs)
}

/// Whether one pattern alone matches (method, clean path), by Go's rules: literals
/// against decoded segments, `{x}` one non-empty segment, `{$}` the trailing slash
/// alone, `{x...}` and a trailing `/` the rest (at least the slash); GET covers HEAD.
fn matches(canon: &str, method: &str, path: &str) -> bool {
    let (m, host, segs) = split(canon);
    if !host.is_empty() {
        return false; // routing here is host-less
    }
    if m.is_some_and(|m| m != method && !(m == "GET" && method == "HEAD")) {
        return false;
    }
    // "/a/b/" → ["a", "b", ""]: the empty last one is the trailing slash.
    let parts: Vec<&str> = path[1..].split('/').collect();
    let n = parts.len();
    let mut i = 0;
    for seg in &segs {
        match seg {
            Seg::Multi => return i < n,
            Seg::End => return i + 1 == n && parts[i].is_empty(),
            Seg::Wild => {
                if i >= n || parts[i].is_empty() {
                    return false;
                }
            }
            Seg::Lit(l) => {
                if i >= n || parts[i].is_empty() || unescape(parts[i].as_bytes()) != *l {
                    return false;
                }
            }
        }
        i += 1;
    }
    i == n
}

/// Adds the patterns of `texts` to a router in order, skipping any that conflicts with
/// one already in (registering it would panic, by design).
fn build(texts: &[String]) -> (Router, Vec<usize>) {
    let mut r = Router::new();
    let mut kept: Vec<usize> = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let clash = kept
            .iter()
            .any(|&k| gmp::patterns_conflict(t, &texts[k]).expect("both patterns parse"));
        if !clash {
            r.handle(t, |_req, _res| Ok(()));
            kept.push(i);
        }
    }
    (r, kept)
}

/// Asserts the properties for one input.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut patterns = Vec::new();
    let mut canons = Vec::new();
    let mut requests = Vec::new();
    for line in text.split('\n') {
        if let Some(req) = line.strip_prefix('=') {
            if requests.len() < 32 {
                requests.push(req.split_once(' ').unwrap_or(("GET", req)));
            }
            continue;
        }
        if patterns.len() == 16 {
            continue;
        }
        let Ok(canon) = gmp::parse_pattern(line) else {
            continue;
        };
        assert_eq!(
            gmp::parse_pattern(&canon).as_ref(),
            Ok(&canon),
            "the canonical form of {line:?} does not parse to itself"
        );
        assert_eq!(
            gmp::patterns_conflict(line, &canon),
            Ok(true),
            "{line:?} and its canonical form {canon:?} are not equivalent"
        );
        patterns.push(line.to_string());
        canons.push(canon);
    }
    let (a, kept) = build(&patterns);
    let (b, kept_b) = build(&canons);
    assert_eq!(kept, kept_b, "conflicts differ after the round trip");
    let (mut ca, mut cb) = (Vec::new(), Vec::new());
    for (method, path) in requests {
        let ra = a.__lookup(method, path, &mut ca);
        let rb = b.__lookup(method, path, &mut cb);
        assert_eq!(
            (ra, &ca),
            (rb, &cb),
            "{method} {path:?}: round trip changed routing"
        );
        let clean = gmp::clean_path(path);
        let found = ra.map(|r| &canons[kept[r]]);
        match found {
            Some(p) => assert!(
                matches(p, method, &clean),
                "{method} {clean:?} was routed to {p:?}, which does not match it"
            ),
            None => {
                for &k in &kept {
                    assert!(
                        !matches(&canons[k], method, &clean),
                        "{method} {clean:?} found no route, but {:?} matches it",
                        canons[k]
                    );
                }
            }
        }
        for &(s, e) in &ca {
            assert!(
                s <= e && e as usize <= clean.len(),
                "capture {s}..{e} outside {clean:?}"
            );
        }
        for m in gmp::allowed_methods(&a, &clean) {
            let mut c = Vec::new();
            assert!(
                a.__lookup(&m, &clean, &mut c).is_some(),
                "405 would allow {m} for {clean:?}, which routes nowhere"
            );
        }
    }
}
