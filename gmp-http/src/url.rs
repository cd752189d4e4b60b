//! URL path and query text: percent-decoding (RFC 3986 §2.1), path cleaning (Go's
//! `cleanPath`: `path.Clean` that keeps a trailing slash) and query pairs. Pure functions
//! over strings, used by the request's accessors, the router and the file server; no
//! decoding allocates unless the text holds an escape.

use std::borrow::Cow;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` (and `+` as a space when `plus` is set, as in a query). `None` if
/// an escape is malformed (`%` not followed by two hex digits).
pub(crate) fn decode(s: &[u8], plus: bool) -> Option<Cow<'_, [u8]>> {
    if !s.iter().any(|&b| b == b'%' || (plus && b == b'+')) {
        return Some(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = hex(*s.get(i + 1)?)?;
                let lo = hex(*s.get(i + 2)?)?;
                out.push(hi << 4 | lo);
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
    Some(Cow::Owned(out))
}

/// Go's `pathUnescape` as the router uses it: the decoded bytes, or `s` itself when an
/// escape is malformed.
pub(crate) fn path_unescape(s: &[u8]) -> Cow<'_, [u8]> {
    decode(s, false).unwrap_or(Cow::Borrowed(s))
}

/// A query value or name, decoded (`+` is a space), as UTF-8 with any invalid bytes
/// replaced; a malformed escape is kept as written.
pub(crate) fn query_text(s: &str) -> Cow<'_, str> {
    match decode(s.as_bytes(), true) {
        Some(Cow::Borrowed(_)) | None => Cow::Borrowed(s),
        Some(Cow::Owned(v)) => match String::from_utf8(v) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

/// The `name=value` pairs of a query, decoded, in order (repeats included; a pair
/// without `=` has an empty value; empty pairs are skipped).
pub(crate) fn query_pairs(q: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    q.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (query_text(k), query_text(v))
    })
}

/// Go's `cleanPath`: the canonical form of an absolute path — `.` and `..` elements
/// resolved (never above the root), repeated slashes collapsed, a trailing slash kept.
/// Works on the escaped path, as the router matches it: `%2e%2e` is not `..` here.
pub(crate) fn clean_path(p: &str) -> Cow<'_, str> {
    if is_clean(p) {
        return Cow::Borrowed(p);
    }
    let mut out: Vec<&str> = Vec::new();
    for elem in p.split('/') {
        match elem {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            e => out.push(e),
        }
    }
    let mut s = String::with_capacity(p.len() + 1);
    for e in &out {
        s.push('/');
        s.push_str(e);
    }
    // A trailing slash stays (`/a/` is not `/a`); `/a/b/..` is `/a`, as in Go.
    if s.is_empty() || p.ends_with('/') {
        s.push('/');
    }
    Cow::Owned(s)
}

/// Whether `clean_path(p)` is `p`: absolute, no empty, `.` or `..` element (a final
/// empty element, the trailing slash, is fine).
#[inline]
fn is_clean(p: &str) -> bool {
    let b = p.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    // The common case in one pass: no slash followed by a slash or a dot means no
    // empty, `.` or `..` element.
    // Bitwise and over two shifted slices: no branch per byte, so it vectorises.
    let suspect = b.iter().zip(&b[1..]).fold(false, |acc, (&x, &y)| {
        acc | ((x == b'/') & ((y == b'/') | (y == b'.')))
    });
    if !suspect {
        return true;
    }
    is_clean_slow(b)
}

/// `is_clean` for a path with a `//` or a `/.` somewhere.
#[cold]
fn is_clean_slow(b: &[u8]) -> bool {
    let mut i = 1;
    while i < b.len() {
        // `i` is just past a slash: the element runs to the next one.
        let end = b[i..]
            .iter()
            .position(|&c| c == b'/')
            .map_or(b.len(), |n| i + n);
        match &b[i..end] {
            b"" if end < b.len() => return false, // `//`
            b"." | b".." => return false,
            _ => {}
        }
        i = end + 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_is_gos() {
        // Go's cleanPath table (net/http, with path.Clean's cases).
        for (input, want) in [
            ("", "/"),
            ("/", "/"),
            ("a", "/a"),
            ("/a", "/a"),
            ("/a/", "/a/"),
            ("//a", "/a"),
            ("/a//b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../a", "/a"),
            ("/a/b/..", "/a"),
            ("/a/b/.", "/a/b"),
            ("/a/b/../..", "/"),
            ("/a/b/../../..", "/"),
            ("/.", "/"),
            ("/..", "/"),
            ("///", "/"),
            ("/a/b/c/./../../g", "/a/g"),
            ("/%2e%2e/a", "/%2e%2e/a"),
            ("/a/.../b", "/a/.../b"),
            ("/a/..b/.c", "/a/..b/.c"),
        ] {
            assert_eq!(clean_path(input), want, "{input:?}");
            assert_eq!(is_clean(input), input == want, "{input:?}");
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(decode(b"a%20b%2Fc", false).unwrap().as_ref(), b"a b/c");
        assert_eq!(decode(b"a+b", false).unwrap().as_ref(), b"a+b");
        assert_eq!(decode(b"a+b%2B", true).unwrap().as_ref(), b"a b+");
        assert!(decode(b"%zz", false).is_none());
        assert!(decode(b"%4", false).is_none());
        assert_eq!(path_unescape(b"%zz%41").as_ref(), b"%zz%41");
        assert_eq!(path_unescape(b"caf%C3%A9").as_ref(), "café".as_bytes());
        let q: Vec<_> = query_pairs("a=1&b=x+y&&c&d=%E2%82%AC&a=2&e=%ff&f=%z")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            q,
            [
                ("a", "1"),
                ("b", "x y"),
                ("c", ""),
                ("d", "€"),
                ("a", "2"),
                ("e", "\u{fffd}"),
                ("f", "%z")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }
}
