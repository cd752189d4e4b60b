//! Conditional requests (RFC 9110 §13) against a file's validators: its strong `ETag`
//! (from size and modification time) and `Last-Modified`.
//!
//! The order is RFC 9110 §13.2.2's, as Go's `checkPreconditions` follows it:
//! `If-Match`, else `If-Unmodified-Since` (412 when false); then `If-None-Match`, else
//! `If-Modified-Since` (304 for GET and HEAD when the client's copy is current); then
//! `If-Range` decides whether `Range` applies. A date that does not parse makes its
//! header absent, as RFC 9110 says to treat it.

use crate::h1::date;
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

/// What identifies one version of a file.
#[derive(Clone, Debug)]
pub(crate) struct Validators {
    /// The strong entity tag, quotes included: `"<mtime ns hex>-<size hex>"`.
    pub etag: String,
    /// The modification time in whole seconds; `None` when unknown or the epoch (a
    /// placeholder time, which Go also leaves out).
    pub modified: Option<i64>,
}

impl Validators {
    pub(crate) fn new(size: u64, mtime: Option<SystemTime>) -> Validators {
        let since = mtime.and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        let ns = since.map_or(0, |d| d.as_nanos());
        Validators {
            etag: format!("\"{ns:x}-{size:x}\""),
            modified: since.map(|d| d.as_secs() as i64).filter(|&s| s != 0),
        }
    }
}

/// The conditional headers of a request (each repeated header's lines joined with
/// commas, as list headers may be).
#[derive(Default, Debug)]
pub(crate) struct Conditions<'a> {
    pub if_match: Option<Cow<'a, str>>,
    pub if_unmodified_since: Option<&'a str>,
    pub if_none_match: Option<Cow<'a, str>>,
    pub if_modified_since: Option<&'a str>,
    pub if_range: Option<&'a str>,
}

/// What the preconditions say to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Serve the file; honour `Range` only if `range` is set.
    Serve { range: bool },
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition the client set is false.
    Failed,
}

/// Evaluates `c` for a GET or HEAD of the file with validators `v`.
pub(crate) fn evaluate(c: &Conditions<'_>, v: &Validators) -> Outcome {
    let first = match (&c.if_match, c.if_unmodified_since) {
        (Some(im), _) => Some(list_matches(im, &v.etag, true)),
        (None, Some(ius)) => match (date::parse(ius), v.modified) {
            (Some(t), Some(m)) => Some(m <= t),
            _ => None,
        },
        (None, None) => None,
    };
    if first == Some(false) {
        return Outcome::Failed;
    }
    match (&c.if_none_match, c.if_modified_since) {
        (Some(inm), _) => {
            if list_matches(inm, &v.etag, false) {
                return Outcome::NotModified;
            }
        }
        (None, Some(ims)) => {
            if let (Some(t), Some(m)) = (date::parse(ims), v.modified) {
                if m <= t {
                    return Outcome::NotModified;
                }
            }
        }
        (None, None) => {}
    }
    let range = match c.if_range {
        None => true,
        Some(ir) => if_range(ir.trim_matches([' ', '\t']), v),
    };
    Outcome::Serve { range }
}

/// `If-Range`: an entity tag must match strongly; a date must equal the modification
/// time (RFC 9110 §13.1.5; Go compares the same way).
fn if_range(ir: &str, v: &Validators) -> bool {
    if ir.starts_with('"') || ir.starts_with("W/") {
        return matches!(scan_etag(ir), Some((tag, rest)) if rest.trim().is_empty() && strong_eq(tag, &v.etag));
    }
    matches!((date::parse(ir), v.modified), (Some(t), Some(m)) if t == m)
}

/// Whether the entity-tag list `list` (or `*`) matches `etag`, strongly or weakly.
/// A list that stops parsing matches nothing past that point.
fn list_matches(list: &str, etag: &str, strong: bool) -> bool {
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        if rest.starts_with('*') {
            return true;
        }
        let Some((tag, after)) = scan_etag(rest) else {
            return false;
        };
        let hit = if strong {
            strong_eq(tag, etag)
        } else {
            weak_eq(tag, etag)
        };
        if hit {
            return true;
        }
        rest = after;
    }
}

/// The entity tag at the start of `s` (`"x"` or `W/"x"`) and the text after it.
fn scan_etag(s: &str) -> Option<(&str, &str)> {
    let start = if s.starts_with("W/") { 2 } else { 0 };
    let b = s.as_bytes();
    if b.get(start) != Some(&b'"') {
        return None;
    }
    for (i, &c) in b.iter().enumerate().skip(start + 1) {
        match c {
            b'"' => return Some((&s[..=i], &s[i + 1..])),
            // etagc: %x21 / %x23-7E / obs-text
            0x21 | 0x23..=0x7e | 0x80..=0xff => {}
            _ => return None,
        }
    }
    None
}

/// Strong comparison: both strong and equal.
fn strong_eq(a: &str, b: &str) -> bool {
    a == b && a.starts_with('"')
}

/// Weak comparison: equal once any `W/` is dropped.
fn weak_eq(a: &str, b: &str) -> bool {
    a.strip_prefix("W/").unwrap_or(a) == b.strip_prefix("W/").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"abc-10\"";
    // Sun, 06 Nov 1994 08:49:37 GMT
    const T: i64 = 784_111_777;

    fn v() -> Validators {
        Validators {
            etag: ETAG.into(),
            modified: Some(T),
        }
    }

    fn eval(f: impl FnOnce(&mut Conditions<'static>)) -> Outcome {
        let mut c = Conditions::default();
        f(&mut c);
        evaluate(&c, &v())
    }

    const SERVE: Outcome = Outcome::Serve { range: true };
    const AT_T: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE_T: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const AFTER_T: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    #[test]
    fn validators() {
        let t = UNIX_EPOCH + std::time::Duration::new(T as u64, 5);
        let v = Validators::new(16, Some(t));
        assert_eq!(v.modified, Some(T));
        assert_eq!(
            v.etag,
            format!("\"{:x}-10\"", T as u128 * 1_000_000_000 + 5)
        );
        assert_eq!(Validators::new(0, Some(UNIX_EPOCH)).modified, None);
        assert_eq!(Validators::new(0, None).modified, None);
    }

    #[test]
    fn if_none_match() {
        for (inm, want) in [
            (ETAG, Outcome::NotModified),
            ("W/\"abc-10\"", Outcome::NotModified), // weak comparison
            ("\"x\", \"abc-10\"", Outcome::NotModified),
            ("\"x\",,W/\"y\" , \"abc-10\"", Outcome::NotModified),
            ("*", Outcome::NotModified),
            ("\"x\"", SERVE),
            ("abc-10", SERVE), // not quoted: not an entity tag
            ("\"abc-10", SERVE),
        ] {
            assert_eq!(eval(|c| c.if_none_match = Some(inm.into())), want, "{inm}");
        }
    }

    #[test]
    fn if_modified_since() {
        assert_eq!(
            eval(|c| c.if_modified_since = Some(AT_T)),
            Outcome::NotModified
        );
        assert_eq!(
            eval(|c| c.if_modified_since = Some(AFTER_T)),
            Outcome::NotModified
        );
        assert_eq!(eval(|c| c.if_modified_since = Some(BEFORE_T)), SERVE);
        assert_eq!(eval(|c| c.if_modified_since = Some("garbage")), SERVE);
    }

    #[test]
    fn if_none_match_takes_precedence() {
        // An etag that does not match wins over a date that would say "not modified".
        assert_eq!(
            eval(|c| {
                c.if_none_match = Some("\"other\"".into());
                c.if_modified_since = Some(AFTER_T);
            }),
            SERVE
        );
        // And a matching etag wins over a date that would say "modified".
        assert_eq!(
            eval(|c| {
                c.if_none_match = Some(ETAG.into());
                c.if_modified_since = Some(BEFORE_T);
            }),
            Outcome::NotModified
        );
    }

    #[test]
    fn if_match_and_if_unmodified_since() {
        assert_eq!(eval(|c| c.if_match = Some(ETAG.into())), SERVE);
        assert_eq!(eval(|c| c.if_match = Some("*".into())), SERVE);
        assert_eq!(
            eval(|c| c.if_match = Some("W/\"abc-10\"".into())),
            Outcome::Failed
        );
        assert_eq!(eval(|c| c.if_match = Some("\"x\"".into())), Outcome::Failed);
        assert_eq!(eval(|c| c.if_unmodified_since = Some(AT_T)), SERVE);
        assert_eq!(
            eval(|c| c.if_unmodified_since = Some(BEFORE_T)),
            Outcome::Failed
        );
        // If-Match present: If-Unmodified-Since is not looked at.
        assert_eq!(
            eval(|c| {
                c.if_match = Some(ETAG.into());
                c.if_unmodified_since = Some(BEFORE_T);
            }),
            SERVE
        );
    }

    #[test]
    fn if_range() {
        let no_range = Outcome::Serve { range: false };
        for (ir, want) in [
            (ETAG, SERVE),
            ("W/\"abc-10\"", no_range), // weak tags never match strongly
            ("\"other\"", no_range),
            (AT_T, SERVE),
            (AFTER_T, no_range),
            ("garbage", no_range),
        ] {
            assert_eq!(eval(|c| c.if_range = Some(ir)), want, "{ir}");
        }
    }
}
