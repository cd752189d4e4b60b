//! The `response_head` target: the client's response head parser
//! (`h1::response_head::parse`) and framing (RFC 9112 §6.3).
//!
//! Properties:
//! - a head that parses in one read parses identically when split at any byte;
//! - the client accepts exactly the heads a separate reference accepts (the status
//!   line, the field-line grammar, the Content-Length / Transfer-Encoding rules, no body
//!   for HEAD, 1xx, 204 and 304), with the same framing, head length and keep-alive,
//!   and a prefix the reference says can still become a valid head is never refused.
//!
//! Input: one byte (bit 0: the request was HEAD), then the bytes the server sent.

use super::grammar::{self, Framing, Line, Section};
use gmp_http::__fuzz::{self as gmp, BodyFraming, ResponseHead, MAX_FIELDS};
use gmp_http::Version;

/// Longest status line the client waits for.
const MAX_STATUS_LINE: usize = 8 << 10;

/// What the reference makes of a response.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Complete and valid: version, status, head length, framing, keep-alive.
    Head(Version, u16, usize, BodyFraming, bool),
    /// Incomplete, and it can still become a valid head.
    Partial,
    /// A complete head, refused.
    Refused,
    /// Refused before its end: it can no longer become a valid head (the client may
    /// still wait for more before it notices).
    RefusedPrefix,
}

/// `HTTP/1.x SP 3DIGIT [ SP reason ]`: the reason is UTF-8 without controls but HTAB
/// (gmp also takes a missing reason). `Some(None)`: a prefix of one.
fn status_line(l: &[u8], complete: bool) -> Option<Option<(Version, u16)>> {
    let shape = |i: usize, b: u8| match i {
        0..=6 => b == b"HTTP/1."[i],
        7 => b == b'0' || b == b'1',
        8 => b == b' ',
        9 => (b'1'..=b'9').contains(&b),
        10 | 11 => b.is_ascii_digit(),
        12 => b == b' ',
        _ => b == b'\t' || b >= 0x20 && b != 0x7f,
    };
    if !l.iter().enumerate().all(|(i, &b)| shape(i, b)) {
        return None;
    }
    let reason_ok = l.len() <= 13 || std::str::from_utf8(&l[13..]).is_ok();
    if !complete {
        // A reason cut inside a character can still be completed.
        let cut = l.len() > 13
            && matches!(std::str::from_utf8(&l[13..]), Err(e) if e.error_len().is_none());
        return (reason_ok || cut).then_some(None);
    }
    if l.len() < 12 || !reason_ok {
        return None;
    }
    let version = if l[7] == b'1' {
        Version::Http11
    } else {
        Version::Http10
    };
    let status = l[9..12]
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Some(Some((version, status)))
}

/// The reference's reading of a response head.
pub fn reference(buf: &[u8], head_request: bool) -> Verdict {
    let (version, status, at) = match grammar::line(buf, 0) {
        Line::BareCr => return Verdict::RefusedPrefix,
        Line::Partial(p) => {
            // A CR ends the line (only LF may follow): it must be whole already.
            let viable = match p.strip_suffix(b"\r") {
                Some(l) => status_line(l, true),
                None => status_line(p, false),
            };
            return match viable {
                Some(_) if buf.len() <= MAX_STATUS_LINE => Verdict::Partial,
                _ => Verdict::RefusedPrefix,
            };
        }
        Line::Full(l, next) => match status_line(l, true) {
            Some(Some((v, s))) => (v, s, next),
            _ => return Verdict::RefusedPrefix,
        },
    };
    let (fields, n) = match grammar::section(&buf[at..], MAX_FIELDS) {
        Section::Complete(f, n) => (f, n),
        Section::Partial => return Verdict::Partial,
        Section::TooMany | Section::TooManyAndMalformed | Section::Malformed => {
            return Verdict::RefusedPrefix
        }
    };
    let framing = match grammar::framing(&fields) {
        Framing::Refused(_) => return Verdict::Refused,
        // HEAD, 1xx, 204 and 304 have no body, whatever the fields say.
        _ if head_request || status < 200 || status == 204 || status == 304 => {
            BodyFraming::Length(0)
        }
        Framing::Length(n) => BodyFraming::Length(n),
        Framing::Chunked => BodyFraming::Chunked,
        Framing::None => BodyFraming::Close,
    };
    let keep_alive = framing != BodyFraming::Close
        && !grammar::has_token(&fields, b"connection", b"close")
        && (version == Version::Http11
            || grammar::has_token(&fields, b"connection", b"keep-alive"));
    Verdict::Head(version, status, at + n, framing, keep_alive)
}

fn same(h: &ResponseHead, v: &Verdict) -> bool {
    *v == Verdict::Head(h.version, h.status, h.len, h.framing, h.keep_alive)
}

/// Asserts the properties for one input.
pub fn check(data: &[u8]) {
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };
    let head_request = sel & 1 == 1;
    let got = gmp::parse_response_head(buf, head_request);
    let want = reference(buf, head_request);
    let show = || String::from_utf8_lossy(buf).into_owned();
    match (&got, &want) {
        (Ok(Some(h)), v) => assert!(
            same(h, v),
            "gmp: {h:?}, the reference: {v:?}, for {:?}",
            show()
        ),
        (Ok(None), Verdict::Partial) => {}
        // Broken before its end: the client may wait for more (bounded by its timeout
        // and the line limit) before it refuses.
        (Ok(None), Verdict::RefusedPrefix) => {}
        (Err((502, _)), Verdict::Refused | Verdict::RefusedPrefix) => {}
        (got, want) => panic!("gmp: {got:?}, the reference: {want:?}, for {:?}", show()),
    }
    let stride = (buf.len() / 512).max(1);
    for k in (0..buf.len()).step_by(stride) {
        let part = gmp::parse_response_head(&buf[..k], head_request);
        match (&got, &part) {
            (Ok(Some(h)), Ok(None)) if k < h.len => {}
            (Ok(Some(h)), Ok(Some(p))) if k >= h.len => assert_eq!(h, p, "split at {k}"),
            (_, Ok(Some(p))) => panic!(
                "the first {k} bytes of {:?} parse as {p:?}, all of them as {got:?}",
                show()
            ),
            (Ok(Some(_)), _) => panic!(
                "the first {k} bytes of {:?} give {part:?}, all of them {got:?}",
                show()
            ),
            _ => {}
        }
    }
}
