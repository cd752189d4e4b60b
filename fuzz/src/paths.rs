//! The `paths` target: percent-decoding (`url::decode`, `url::path_unescape`), path
//! cleaning (`url::clean_path`, Go's `cleanPath`), query pairs, and the file server's
//! path rule (`fs::path::local`).
//!
//! Properties:
//! - decoding agrees with a separate reference decoder, and never grows its input;
//! - a cleaned path is absolute, holds no `.` or `..` element and no empty one (but the
//!   trailing slash), keeps a trailing slash, is its own cleaning, and equals what a
//!   reference stack of path elements gives;
//! - the file server's relative path never leaves the root: only plain names (no `..`,
//!   `.`, root or prefix component, no NUL, no backslash), each the decoding of one
//!   URL segment; and it refuses exactly the paths with a segment that decodes to `.`,
//!   `..`, or to bytes with `/`, `\` or NUL, or that does not decode.
//!
//! Input: the path (or query) text.

use gmp_http::__fuzz as gmp;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// `%XX` decoded (and `+` as a space when `plus`); `None` for a malformed escape.
fn decode(s: &[u8], plus: bool) -> Option<Vec<u8>> {
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let v = hex(s.get(i + 1))? * 16 + hex(s.get(i + 2))?;
                out.push(v as u8);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Go's `cleanPath`, as a stack of elements.
fn clean(p: &str) -> String {
    let mut stack: Vec<&str> = Vec::new();
    for e in p.split('/') {
        match e {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            e => stack.push(e),
        }
    }
    let mut s = format!("/{}", stack.join("/"));
    if p.ends_with('/') && !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// Asserts the properties for one input.
pub fn check(data: &[u8]) {
    for plus in [false, true] {
        let got = gmp::percent_decode(data, plus);
        assert_eq!(got, decode(data, plus), "decoding {data:?} (plus {plus})");
        if let Some(d) = &got {
            assert!(d.len() <= data.len());
        }
    }
    let unescaped = gmp::path_unescape(data);
    assert_eq!(
        unescaped,
        decode(data, false).unwrap_or_else(|| data.to_vec())
    );

    let p = String::from_utf8_lossy(data);
    let c = gmp::clean_path(&p);
    assert_eq!(c, clean(&p), "cleaning {p:?}");
    assert!(c.starts_with('/'), "{c:?}");
    assert_eq!(gmp::clean_path(&c), c, "cleaning {c:?} again");
    let elems: Vec<&str> = c[1..].split('/').collect();
    for (i, e) in elems.iter().enumerate() {
        assert!(*e != "." && *e != "..", "{c:?} holds {e:?}");
        assert!(
            !e.is_empty() || i + 1 == elems.len(),
            "{c:?} has an empty element"
        );
    }
    assert!(
        !p.ends_with('/') || c.ends_with('/'),
        "{p:?} lost its trailing slash"
    );

    let _ = gmp::query_pairs(&p);

    // The file server's rule.
    let segs: Vec<Option<Vec<u8>>> = p
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| decode(s.as_bytes(), false))
        .collect();
    let allowed = segs.iter().all(|s| {
        s.as_ref().is_some_and(|n| {
            n != b"." && n != b".." && !n.iter().any(|&b| b == b'/' || b == b'\\' || b == 0)
        })
    });
    match gmp::fs_local(&p) {
        Ok((rel, slash)) => {
            assert!(allowed, "{p:?} was made local as {rel:?}");
            assert_eq!(slash, p.ends_with('/'));
            let names: Vec<&[u8]> = rel
                .components()
                .map(|c| match c {
                    Component::Normal(n) => n.as_bytes(),
                    other => panic!("{p:?} gave {rel:?}, with a {other:?} component"),
                })
                .collect();
            let want: Vec<Vec<u8>> = segs.into_iter().flatten().collect();
            assert_eq!(
                names,
                want.iter().map(Vec::as_slice).collect::<Vec<_>>(),
                "{p:?}"
            );
            let root = Path::new("/srv/root");
            let full = root.join(&rel);
            assert!(full.starts_with(root), "{p:?} leaves the root: {full:?}");
        }
        Err(why) => assert!(
            !allowed,
            "{p:?} refused ({why}) though every segment is a plain name"
        ),
    }
}
