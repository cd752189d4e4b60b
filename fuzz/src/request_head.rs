//! The `request_head` target: the server's whole path from bytes to "request", "4xx"
//! or "incomplete" (`h1::request_head::parse` with the server's limits).
//!
//! Properties:
//! - a head that parses in one read parses identically when it arrives split at any
//!   byte: every shorter prefix is incomplete, every longer one gives the same head;
//! - the server accepts exactly the heads a separate reference accepts (the request
//!   line grammar, the field-line grammar, and the Content-Length / Transfer-Encoding,
//!   Host and Expect rules of RFC 9112 §3, §5, §6 and RFC 9110), with the same framing,
//!   head length and keep-alive; where it refuses, its status is one the reference
//!   names; and a prefix the reference says can still become a valid head is never
//!   refused.
//!
//! Input: one byte choosing the limits, then the bytes the client sent.

use super::grammar::{self, Framing, Line, Section};
use gmp_http::__fuzz::{self as gmp, BodyFraming, RequestHead, MAX_FIELDS, MAX_TARGET};
use gmp_http::Version;

/// What the reference makes of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A complete, valid head.
    Head {
        method: std::ops::Range<usize>,
        target: std::ops::Range<usize>,
        version: Version,
        len: usize,
        framing: BodyFraming,
        keep_alive: bool,
        expect_continue: bool,
    },
    /// Incomplete, and it can still become a valid head: a server must wait.
    Partial,
    /// Refused, with every status a server may answer; `complete` when the whole head
    /// was there (else the server may also still be waiting).
    Refused { statuses: Vec<u16>, complete: bool },
}

fn refused(statuses: Vec<u16>, complete: bool) -> Verdict {
    Verdict::Refused { statuses, complete }
}

/// The request line (RFC 9112 §3) `method SP request-target SP HTTP-version`, or as
/// much of it as has arrived (`complete` false): the method, the target, the version,
/// or the statuses that refuse it.
#[allow(clippy::type_complexity)]
fn request_line(
    l: &[u8],
    complete: bool,
) -> Result<Option<(std::ops::Range<usize>, std::ops::Range<usize>, Version)>, Vec<u16>> {
    let method_end = l
        .iter()
        .position(|&b| !grammar::is_tchar(b))
        .unwrap_or(l.len());
    if method_end == l.len() {
        return if complete { Err(vec![400]) } else { Ok(None) };
    }
    if method_end == 0 || l[method_end] != b' ' {
        return Err(vec![400]);
    }
    let t0 = method_end + 1;
    // The target: bytes above SP but DEL, valid UTF-8 (so a `&str`).
    let t_end = l[t0..]
        .iter()
        .position(|&b| b <= b' ' || b == 0x7f)
        .map_or(l.len(), |n| t0 + n);
    let target = &l[t0..t_end];
    let mut statuses = Vec::new();
    if target.len() > MAX_TARGET {
        statuses.push(414);
    }
    match std::str::from_utf8(target) {
        Ok(_) => {}
        // Cut inside a character: fine until the rest comes.
        Err(e) if e.error_len().is_none() && t_end == l.len() && !complete => {}
        Err(_) => statuses.push(400),
    }
    if t_end == l.len() {
        return if complete || !statuses.is_empty() {
            statuses.push(400);
            Err(statuses)
        } else {
            Ok(None)
        };
    }
    if target.is_empty() || l[t_end] != b' ' {
        statuses.push(400);
        return Err(statuses);
    }
    let v = &l[t_end + 1..];
    // `HTTP/` DIGIT `.` DIGIT, exactly.
    let shape = |i: usize, b: u8| match i {
        0..=4 => b == b"HTTP/"[i],
        5 | 7 => b.is_ascii_digit(),
        6 => b == b'.',
        _ => false,
    };
    if !v.iter().enumerate().all(|(i, &b)| shape(i, b)) {
        statuses.push(400);
        // A version of the right shape but another number, with junk after it: 505
        // names the version, 400 the junk; either is right.
        if v.len() > 8
            && v[..8].iter().enumerate().all(|(i, &b)| shape(i, b))
            && !v.starts_with(b"HTTP/1.0")
            && !v.starts_with(b"HTTP/1.1")
        {
            statuses.push(505);
        }
        return Err(statuses);
    }
    if v.len() < 8 {
        if complete {
            statuses.push(400);
        }
        return if statuses.is_empty() {
            Ok(None)
        } else {
            Err(statuses)
        };
    }
    let version = match v {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        _ => {
            statuses.push(505);
            return Err(statuses);
        }
    };
    if !statuses.is_empty() {
        return Err(statuses);
    }
    Ok(Some((0..method_end, t0..t_end, version)))
}

/// The reference's reading of `buf` under the server's limits.
pub fn reference(buf: &[u8], max_header_bytes: usize, max_body_bytes: u64) -> Verdict {
    // Limits that apply to an incomplete head: the server gives up on one this large.
    let over = |at_least: usize| {
        let mut s = Vec::new();
        if at_least > max_header_bytes {
            s.push(431);
        }
        s
    };
    let partial = |extra: Vec<u16>| {
        let mut s = over(buf.len());
        // A request line still unfinished this long is refused as a long target.
        let line_start = buf.iter().position(|&b| b != b'\r' && b != b'\n');
        let line_len = line_start.map_or(0, |s| {
            buf[s..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(buf.len() - s)
        });
        if buf.len() > MAX_TARGET + 64 || line_len > MAX_TARGET + 64 {
            s.push(414);
        }
        s.extend(extra);
        if s.is_empty() {
            Verdict::Partial
        } else {
            refused(s, false)
        }
    };
    // Empty lines before the request line (RFC 9112 §2.2).
    let mut at = 0;
    loop {
        match &buf[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [b'\n', ..] => at += 1,
            [b'\r'] => return partial(vec![]),
            [b'\r', ..] => return refused(vec![400], false),
            _ => break,
        }
    }
    let (method, target, version, fields_at) = match grammar::line(buf, at) {
        Line::BareCr => {
            // The line may also be refused for what comes before the CR.
            return refused(vec![400, 414, 505, 431], false);
        }
        Line::Partial(p) => {
            // An unfinished line already wrong may also be refused for its size: the
            // server gives up on a head this large before it looks at the line.
            return match request_line(p, false) {
                Ok(_) => partial(vec![]),
                Err(s) => partial(s),
            };
        }
        Line::Full(l, next) => {
            // A line longer than `partial` allows is refused complete as well (414),
            // whatever else is wrong with it.
            let long = next - at - 1 > MAX_TARGET + 64;
            match request_line(l, true) {
                Ok(Some(_)) if long => return refused(vec![414], false),
                Ok(Some((m, t, v))) => {
                    (m.start + at..m.end + at, t.start + at..t.end + at, v, next)
                }
                Ok(None) => unreachable!("a complete line is decided"),
                Err(mut s) => {
                    if long {
                        s.push(414);
                    }
                    return refused(s, false);
                }
            }
        }
    };
    let (fields, len) = match grammar::section(&buf[fields_at..], MAX_FIELDS) {
        Section::Complete(f, n) => (f, fields_at + n),
        Section::Partial => return partial(vec![]),
        Section::TooMany => return refused(vec![431], false),
        Section::TooManyAndMalformed => return refused(vec![431, 400], false),
        Section::Malformed => return refused(vec![400], false),
    };
    // The head is complete: the rules over its fields.
    let mut statuses = over(len);
    let hosts = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"host"))
        .count();
    if version == Version::Http11 && hosts != 1 {
        statuses.push(400);
    }
    let framing = match grammar::framing(&fields) {
        Framing::Refused(s) => {
            statuses.extend(s);
            BodyFraming::Length(0)
        }
        Framing::Length(n) => {
            if n > max_body_bytes {
                statuses.push(413);
            }
            BodyFraming::Length(n)
        }
        Framing::None => BodyFraming::Length(0),
        Framing::Chunked => BodyFraming::Chunked,
    };
    let mut expect_continue = false;
    for (_, v) in fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"expect"))
    {
        if v.eq_ignore_ascii_case(b"100-continue") {
            expect_continue = version == Version::Http11;
        } else {
            statuses.push(417);
        }
    }
    if !statuses.is_empty() {
        return refused(statuses, true);
    }
    let close = grammar::has_token(&fields, b"connection", b"close");
    let te = fields
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(b"transfer-encoding"));
    let keep_alive = match version {
        Version::Http11 => !close,
        // RFC 9112 §6.1: a 1.0 message with Transfer-Encoding is served, then closed.
        Version::Http10 => {
            grammar::has_token(&fields, b"connection", b"keep-alive") && !close && !te
        }
    };
    Verdict::Head {
        method,
        target,
        version,
        len,
        framing,
        keep_alive,
        expect_continue,
    }
}

/// The limits an input's first byte chooses: header limits around the sizes inputs
/// reach, body limits around the lengths they name.
pub fn limits(b: u8) -> (usize, u64) {
    let header = [64, 200, 1024, 64 << 10][usize::from(b & 3)];
    let body = [0, 10, 1000, 16 << 20][usize::from(b >> 2 & 3)];
    (header, body)
}

/// gmp's result in the reference's terms, for comparison.
fn same_head(h: &RequestHead, v: &Verdict) -> bool {
    match v {
        Verdict::Head {
            method,
            target,
            version,
            len,
            framing,
            keep_alive,
            expect_continue,
        } => {
            h.method == *method
                && h.target == *target
                && h.version == *version
                && h.len == *len
                && h.framing == *framing
                && h.keep_alive == *keep_alive
                && h.expect_continue == *expect_continue
        }
        _ => false,
    }
}

/// Asserts the properties for one input.
pub fn check(data: &[u8]) {
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };
    let (max_header, max_body) = limits(sel);
    let got = gmp::parse_request_head(buf, max_header, max_body);
    let want = reference(buf, max_header, max_body);
    let show = || String::from_utf8_lossy(buf).into_owned();
    match (&got, &want) {
        (Ok(Some(h)), v) => assert!(
            same_head(h, v),
            "gmp accepted {:?} as {h:?}; the reference says {v:?}",
            show()
        ),
        (Ok(None), Verdict::Partial) => {}
        (
            Ok(None),
            Verdict::Refused {
                complete: false, ..
            },
        ) => {}
        (Err((status, why)), Verdict::Refused { statuses, .. }) => assert!(
            statuses.contains(status),
            "gmp refused {:?} with {status} ({why}); the reference allows {statuses:?}",
            show()
        ),
        (got, want) => panic!("gmp: {got:?}, the reference: {want:?}, for {:?}", show()),
    }
    // The same bytes in two reads, split anywhere: a prefix of an accepted head is
    // incomplete, and the head that parses is the same whatever the split.
    let stride = (buf.len() / 512).max(1);
    for k in (0..buf.len()).step_by(stride) {
        let part = gmp::parse_request_head(&buf[..k], max_header, max_body);
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
