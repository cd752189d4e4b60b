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

/// An absolute `http`/`https` URL as a client needs it: scheme, host, port and the
/// request target (path and query; the fragment is dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url {
    pub https: bool,
    /// The host, without brackets for an IPv6 literal, lowercased.
    pub host: String,
    pub port: u16,
    /// Path and query, as sent in the request line (`/` at least).
    pub target: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query][#fragment]` (or `https`, or `ws`/`wss`
    /// as their HTTP twins). The error says what is wrong.
    pub(crate) fn parse(s: &str) -> Result<Url, String> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("{s:?} is not an absolute URL (no scheme://)"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            other => return Err(format!("unsupported URL scheme {other:?} in {s:?}")),
        };
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        if authority.contains('@') {
            return Err(format!("user information in URLs is not supported: {s:?}"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("unclosed '[' in the host of {s:?}"))?;
            h.parse::<std::net::Ipv6Addr>()
                .map_err(|_| format!("bad IPv6 address {h:?} in {s:?}"))?;
            match after {
                "" => (h, None),
                p if p.starts_with(':') => (h, Some(&p[1..])),
                _ => return Err(format!("bad authority in {s:?}")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("no host in {s:?}"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:".contains(&b))
        {
            return Err(format!("bad host {host:?} in {s:?}"));
        }
        let port = match port {
            None | Some("") => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0 && !p.to_string().is_empty())
                .ok_or_else(|| format!("bad port {p:?} in {s:?}"))?,
        };
        let target = if target.is_empty() {
            "/".to_string()
        } else if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_string()
        };
        if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(format!(
                "{s:?} holds a space or control character (percent-encode it)"
            ));
        }
        Ok(Url {
            https,
            host: host.to_ascii_lowercase(),
            port,
            target,
        })
    }

    /// The port is the scheme's default.
    pub(crate) fn default_port(&self) -> bool {
        self.port == if self.https { 443 } else { 80 }
    }

    /// `host[:port]` for a `Host` header (brackets around an IPv6 literal).
    pub(crate) fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The URL `reference` (a redirect's `Location`) resolves to from this one (RFC 3986
    /// §5.2, for the forms servers send: absolute, `//authority/path`, `/path`,
    /// `relative/path`, `?query`).
    pub(crate) fn join(&self, reference: &str) -> Result<Url, String> {
        let reference = reference.trim();
        if reference.contains("://") && reference.find("://") < reference.find(['/', '?']) {
            return Url::parse(reference);
        }
        let scheme = if self.https { "https" } else { "http" };
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let base = format!("{scheme}://{}", self.authority());
        if reference.starts_with('/') {
            let (path, query) = split_query(reference);
            return Url::parse(&format!("{base}{}{query}", remove_dots(path)));
        }
        let (own_path, own_query) = split_query(&self.target);
        if reference.is_empty() {
            return Url::parse(&format!("{base}{own_path}{own_query}"));
        }
        if reference.starts_with('?') {
            return Url::parse(&format!("{base}{own_path}{reference}"));
        }
        let dir = &own_path[..own_path.rfind('/').map_or(0, |i| i + 1)];
        let (path, query) = split_query(reference);
        Url::parse(&format!(
            "{base}{}{query}",
            remove_dots(&format!("{dir}{path}"))
        ))
    }
}

fn split_query(t: &str) -> (&str, &str) {
    match t.find('?') {
        Some(i) => t.split_at(i),
        None => (t, ""),
    }
}

/// RFC 3986 §5.2.4 for an absolute path: `.` and `..` segments resolved, other slashes
/// kept as they are.
fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
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
    fn absolute_urls() {
        let u = Url::parse("http://Example.COM:8080/a/b?x=1#frag").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.target.as_str()),
            (false, "example.com", 8080, "/a/b?x=1")
        );
        assert_eq!(u.authority(), "example.com:8080");
        let u = Url::parse("https://h").unwrap();
        assert_eq!(
            (u.port, u.target.as_str(), u.authority().as_str()),
            (443, "/", "h")
        );
        let u = Url::parse("http://[::1]:9/x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority().as_str()),
            ("::1", 9, "[::1]:9")
        );
        assert_eq!(Url::parse("http://h?q").unwrap().target, "/?q");
        for bad in [
            "example.com/x",
            "ftp://h/",
            "http:///x",
            "http://h:0/",
            "http://h:99999/",
            "http://h:x/",
            "http://u:p@h/",
            "http://h/a b",
            "http://[::1/",
            "http://[zz]/",
            "http://h\u{7f}/",
            "http://h^/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_references() {
        let base = Url::parse("http://h:81/a/b/c?q=1").unwrap();
        for (r, want) in [
            ("https://other/x", "https://other:443/x"),
            ("//other/y", "http://other:80/y"),
            ("/z?k", "http://h:81/z?k"),
            ("d", "http://h:81/a/b/d"),
            ("../d", "http://h:81/a/d"),
            ("./", "http://h:81/a/b/"),
            ("?n=2", "http://h:81/a/b/c?n=2"),
            ("/a/./b/../c", "http://h:81/a/c"),
            ("", "http://h:81/a/b/c?q=1"),
        ] {
            let u = base.join(r).unwrap();
            let got = format!(
                "{}://{}:{}{}",
                if u.https { "https" } else { "http" },
                u.host,
                u.port,
                u.target
            );
            assert_eq!(got, want, "{r:?}");
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
