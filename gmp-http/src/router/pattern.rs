//! Route patterns, Go 1.22 `ServeMux` syntax: `[METHOD ][HOST]/PATH`, where a path
//! segment is a literal, `{name}` (one segment), `{name...}` (the rest of the path, last
//! only) or `{$}` (the end of the path, last only), and a path ending in `/` matches the
//! whole subtree below it.
//!
//! Besides parsing, this module owns the relation between two patterns that decides
//! precedence and conflicts, as Go defines it: pattern A is *more specific* than B when
//! A matches a strict subset of B's requests; two patterns that match some request in
//! common with neither more specific than the other *conflict*, and registering the
//! second one panics.

use crate::h1::fields::is_tchar;
use crate::url::{clean_path, path_unescape};
use std::fmt;
use std::panic::Location;

/// One piece of a pattern's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A literal segment, percent-decoded (a request's segment is decoded before it is
    /// compared).
    Lit(Box<[u8]>),
    /// `{name}`: any one segment (not the trailing slash).
    Wild(Box<str>),
    /// `{name...}`, or `None` for the anonymous one a trailing `/` stands for: the rest
    /// of the path, possibly empty.
    Multi(Option<Box<str>>),
    /// `{$}`: a trailing slash and nothing after it.
    End,
}

/// A parsed pattern.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    /// As registered.
    pub text: Box<str>,
    /// `None`: any method.
    pub method: Option<Box<str>>,
    /// `None`: any host.
    pub host: Option<Box<str>>,
    pub segments: Vec<Segment>,
    /// Where it was registered, for conflict messages.
    pub loc: &'static Location<'static>,
}

/// How the requests two patterns match relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relation {
    Equivalent,
    MoreGeneral,
    MoreSpecific,
    Disjoint,
    Overlaps,
}
use Relation::*;

impl Relation {
    fn inverse(self) -> Relation {
        match self {
            MoreGeneral => MoreSpecific,
            MoreSpecific => MoreGeneral,
            r => r,
        }
    }

    /// The relation of two patterns from the relations of their parts.
    fn and(self, r2: Relation) -> Relation {
        match (self, r2) {
            (Equivalent, r) => r,
            (Disjoint, _) | (_, Disjoint) => Disjoint,
            (Overlaps, _) => Overlaps,
            (r, Equivalent) => r,
            (r, r2) if r2 == r.inverse() => Overlaps,
            (_, r2) => r2,
        }
    }
}

impl Pattern {
    /// Parses `text`; the error says what is wrong.
    pub(crate) fn parse(text: &str, loc: &'static Location<'static>) -> Result<Pattern, String> {
        if text.is_empty() {
            return Err("empty pattern".into());
        }
        let (method, rest) = match text.find([' ', '\t']) {
            Some(i) => (Some(&text[..i]), text[i..].trim_start_matches([' ', '\t'])),
            None => (None, text),
        };
        if let Some(m) = method {
            if m.is_empty() || !m.bytes().all(is_tchar) {
                return Err(format!("invalid method {m:?}"));
            }
        }
        let slash = rest
            .find('/')
            .ok_or("missing the '/' that starts the path")?;
        let (host, path) = rest.split_at(slash);
        if host.contains('{') {
            return Err("host contains '{' (missing initial '/'?)".into());
        }
        if host.contains([' ', '\t']) {
            return Err(format!("whitespace in host {host:?}"));
        }
        if method.is_some_and(|m| m != "CONNECT") && clean_path(path) != path {
            return Err(format!(
                "path {path:?} is not clean: requests are cleaned before matching (to {:?}), so it can never match",
                clean_path(path)
            ));
        }
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut rest = path;
        while !rest.is_empty() {
            rest = &rest[1..]; // the slash
            if rest.is_empty() {
                segments.push(Segment::Multi(None));
                break;
            }
            let end = rest.find('/').unwrap_or(rest.len());
            let seg = &rest[..end];
            rest = &rest[end..];
            let Some(open) = seg.find('{') else {
                if seg.contains('}') {
                    return Err(format!("stray '}}' in segment {seg:?}"));
                }
                segments.push(Segment::Lit(path_unescape(seg.as_bytes()).into()));
                continue;
            };
            if open != 0 {
                return Err(format!(
                    "bad wildcard segment {seg:?} (must start with '{{')"
                ));
            }
            if !seg.ends_with('}') {
                return Err(format!("bad wildcard segment {seg:?} (must end with '}}')"));
            }
            let name = &seg[1..seg.len() - 1];
            if name == "$" {
                if !rest.is_empty() {
                    return Err("{$} not at the end".into());
                }
                segments.push(Segment::End);
                break;
            }
            let (name, multi) = match name.strip_suffix("...") {
                Some(n) => (n, true),
                None => (name, false),
            };
            if multi && !rest.is_empty() {
                return Err(format!("{{{name}...}} wildcard not at the end"));
            }
            if name.is_empty() {
                return Err("empty wildcard name".into());
            }
            if !is_identifier(name) {
                return Err(format!("bad wildcard name {name:?}"));
            }
            if names.contains(&name) {
                return Err(format!("duplicate wildcard name {name:?}"));
            }
            names.push(name);
            segments.push(if multi {
                Segment::Multi(Some(name.into()))
            } else {
                Segment::Wild(name.into())
            });
        }
        Ok(Pattern {
            text: text.into(),
            method: method.map(Into::into),
            host: (!host.is_empty()).then(|| host.into()),
            segments,
            loc,
        })
    }

    /// The names of the wildcards, in order.
    pub(crate) fn wildcards(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Wild(n) | Segment::Multi(Some(n)) => Some(&**n),
            _ => None,
        })
    }

    fn ends_in_multi(&self) -> bool {
        matches!(self.segments.last(), Some(Segment::Multi(_)))
    }

    fn compare_methods(&self, other: &Pattern) -> Relation {
        match (self.method.as_deref(), other.method.as_deref()) {
            (a, b) if a == b => Equivalent,
            (None, _) => MoreGeneral,
            (_, None) => MoreSpecific,
            // GET patterns match HEAD requests too.
            (Some("GET"), Some("HEAD")) => MoreGeneral,
            (Some("HEAD"), Some("GET")) => MoreSpecific,
            _ => Disjoint,
        }
    }

    fn compare_paths(&self, other: &Pattern) -> Relation {
        let (a, b) = (&self.segments, &other.segments);
        // A pattern that does not end in a multi wildcard matches paths of exactly its
        // length only.
        if a.len() != b.len() && !self.ends_in_multi() && !other.ends_in_multi() {
            return Disjoint;
        }
        let mut rel = Equivalent;
        for (x, y) in a.iter().zip(b) {
            rel = rel.and(compare_segments(x, y));
            if rel == Disjoint {
                return rel;
            }
        }
        if a.len() == b.len() {
            rel
        } else if a.len() < b.len() && self.ends_in_multi() {
            rel.and(MoreGeneral)
        } else if b.len() < a.len() && other.ends_in_multi() {
            rel.and(MoreSpecific)
        } else {
            Disjoint
        }
    }

    /// How the requests `self` matches relate to those `other` matches (hosts aside).
    pub(crate) fn compare(&self, other: &Pattern) -> Relation {
        let m = self.compare_methods(other);
        if m == Disjoint {
            return Disjoint;
        }
        m.and(self.compare_paths(other))
    }

    /// Whether registering both is an error: same host, and the two match some request
    /// in common with neither more specific than the other.
    pub(crate) fn conflicts_with(&self, other: &Pattern) -> bool {
        // A pattern with a host wins over one without, and different hosts never meet.
        self.host == other.host && matches!(self.compare(other), Equivalent | Overlaps)
    }

    /// A request path both patterns match, for a conflict message.
    pub(crate) fn common_path(&self, other: &Pattern) -> String {
        let mut out = String::new();
        let (mut a, mut b) = (self.segments.iter(), other.segments.iter());
        loop {
            let seg = match (a.next(), b.next()) {
                (None, None) => break,
                (Some(Segment::Lit(l)), _) | (_, Some(Segment::Lit(l))) => {
                    escape_into(&mut out, l);
                    continue;
                }
                (Some(Segment::End), _) | (_, Some(Segment::End)) => "",
                (Some(Segment::Wild(n)), _) | (_, Some(Segment::Wild(n))) => n,
                (Some(Segment::Multi(_)), _) | (_, Some(Segment::Multi(_))) => {
                    if out.is_empty() {
                        out.push('/');
                    }
                    break;
                }
            };
            out.push('/');
            out.push_str(seg);
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

fn compare_segments(x: &Segment, y: &Segment) -> Relation {
    use Segment::*;
    match (x, y) {
        (Multi(_), Multi(_)) => Equivalent,
        (Multi(_), _) => MoreGeneral,
        (_, Multi(_)) => MoreSpecific,
        (Wild(_), Wild(_)) => Equivalent,
        // A single wildcard does not match the trailing slash `{$}` stands for.
        (Wild(_), End) | (End, Wild(_)) => Disjoint,
        (Wild(_), _) => MoreGeneral,
        (_, Wild(_)) => MoreSpecific,
        (a, b) if a == b => Equivalent,
        _ => Disjoint,
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*` in Unicode terms: what Go accepts as a wildcard name.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Writes a decoded literal segment so that parsing it gives the same bytes back. A
/// `.` or `..` segment keeps its dots escaped: written plainly it would be a path element
/// that cleaning removes (and registration refuses).
fn escape_into(out: &mut String, lit: &[u8]) {
    out.push('/');
    let dots = lit == b"." || lit == b"..";
    for &b in lit {
        let plain = b.is_ascii_graphic()
            && !matches!(b, b'/' | b'%' | b'{' | b'}' | b'?' | b'#')
            && !(dots && b == b'.');
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The canonical form: parsing it gives a pattern that matches the same requests.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = &self.method {
            write!(f, "{m} ")?;
        }
        if let Some(h) = &self.host {
            f.write_str(h)?;
        }
        let mut path = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Lit(l) => escape_into(&mut path, l),
                Segment::Wild(n) => path.push_str(&format!("/{{{n}}}")),
                Segment::Multi(Some(n)) => path.push_str(&format!("/{{{n}...}}")),
                Segment::Multi(None) => path.push('/'),
                Segment::End => path.push_str("/{$}"),
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        f.write_str(&path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s, Location::caller()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn parses_gos_syntax() {
        let x = p("GET example.com/a/{b}/c%2Fd/{rest...}");
        assert_eq!(x.method.as_deref(), Some("GET"));
        assert_eq!(x.host.as_deref(), Some("example.com"));
        assert_eq!(
            x.segments,
            [
                Segment::Lit((*b"a").into()),
                Segment::Wild("b".into()),
                Segment::Lit((*b"c/d").into()),
                Segment::Multi(Some("rest".into())),
            ]
        );
        assert_eq!(p("/").segments, [Segment::Multi(None)]);
        assert_eq!(p("/{$}").segments, [Segment::End]);
        assert_eq!(
            p("/a/").segments,
            [Segment::Lit((*b"a").into()), Segment::Multi(None)]
        );
        assert_eq!(p("POST  \t/x").method.as_deref(), Some("POST"));
        for (bad, why) in [
            ("", "empty"),
            ("GET", "missing the '/'"),
            ("G(T /", "invalid method"),
            ("{x}/a", "host contains"),
            ("/a/{x", "must end with"),
            ("/a/x{y}", "must start with"),
            ("/a/{}", "empty wildcard"),
            ("/a/{...}", "empty wildcard"),
            ("/a/{1x}", "bad wildcard name"),
            ("/a/{x-y}", "bad wildcard name"),
            ("/{x}/{x}", "duplicate"),
            ("/{$}/a", "not at the end"),
            ("/{x...}/a", "not at the end"),
            ("GET /a/../b", "not clean"),
            ("GET //a", "not clean"),
            ("/a}", "stray"),
        ] {
            let e = Pattern::parse(bad, Location::caller()).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        // Unclean paths are fine without a method, as in Go (they can match CONNECT).
        p("/a/../b");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "/",
            "/{$}",
            "GET /a/{b}/c/",
            "POST h.example/x/{y...}",
            "/caf%C3%A9/%2F/%25/%7B",
            "GET /a/{x}/{$}",
        ] {
            let x = p(s);
            let y = p(&x.to_string());
            assert_eq!(x.segments, y.segments, "{s}");
            assert_eq!((x.method, x.host), (y.method, y.host));
        }
        assert_eq!(p("/caf%c3%a9/%41").to_string(), "/caf%C3%A9/A");
        assert_eq!(
            p("GET /%2e/%2E%2e/.../x.y").to_string(),
            "GET /%2E/%2E%2E/.../x.y"
        );
    }

    /// Go's own table (pattern_test.go's TestComparePaths and TestConflictsWith cases,
    /// written from the documented rules).
    #[test]
    fn relations_are_gos() {
        for (a, b, want) in [
            ("/a", "/a", Equivalent),
            ("/a", "/b", Disjoint),
            ("/a", "/{x}", MoreSpecific),
            ("/{x}", "/a", MoreGeneral),
            ("/{x}", "/{y}", Equivalent),
            ("/a/{x}", "/{y}/b", Overlaps),
            ("/a/", "/a/b", MoreGeneral),
            ("/a/", "/a/{x...}", Equivalent),
            ("/a/{x...}", "/a/b/c", MoreGeneral),
            ("/a/{$}", "/a/", MoreSpecific),
            ("/a/{$}", "/a/{x}", Disjoint),
            ("/a/{$}", "/a/b", Disjoint),
            ("/", "/{$}", MoreGeneral),
            ("/", "/a/b", MoreGeneral),
            ("/a/b", "/a", Disjoint),
            ("/{x}/{y}", "/a/", Overlaps),
            ("/{x}", "/{x}/", Disjoint),
            ("GET /a", "/a", MoreSpecific),
            ("GET /a", "POST /a", Disjoint),
            ("GET /a", "HEAD /a", MoreGeneral),
            ("GET /{x}", "/a", Overlaps),
            ("GET /a", "/{x}", MoreSpecific),
            ("GET /a/", "HEAD /a/b", MoreGeneral),
        ] {
            assert_eq!(p(a).compare(&p(b)), want, "{a} vs {b}");
            assert_eq!(p(b).compare(&p(a)), want.inverse(), "{b} vs {a}");
        }
        assert!(p("/a/{x}").conflicts_with(&p("/{y}/b")));
        assert!(p("GET /a").conflicts_with(&p("GET /a")));
        assert!(!p("h.example/a").conflicts_with(&p("/a")));
        assert!(!p("a.example/{x}").conflicts_with(&p("b.example/{x}")));
        assert_eq!(p("/a/{x}").common_path(&p("/{y}/b")), "/a/b");
        assert_eq!(p("/{x}/{y}").common_path(&p("/a/")), "/a/y");
    }
}
