//! Request heads (the server's side): the request line, the header section through the
//! shared field-line grammar ([`super::fields`]), then the rules of RFC 9112 that decide
//! how long the body is and whether the connection can carry another request.
//!
//! The head is parsed in place: the request keeps offsets into the connection's read
//! buffer ([`FieldIdx`]), never owned copies of its headers. The common head is scanned
//! by [`super::head_scan`], which also picks out the fields with a rule; the general
//! parsers here and in `fields` take the rest and decide every refusal, so the two paths
//! accept and refuse the same heads, with the same status.

use super::fields::{self, is_tchar, FieldError, FieldIdx, MAX_FIELDS};
use super::framing::Framing;
use super::head_scan::{self, Line, Section};
use super::request_rules;
use super::{reject, Reject, Version};

pub(crate) use super::head_scan::MAX_TARGET;

/// A parsed, validated request head. Ranges are absolute offsets in the read buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub method: (u32, u32),
    pub target: (u32, u32),
    pub version: Version,
    /// Bytes of the head, from its first byte to the end of the empty line.
    pub len: usize,
    pub framing: Framing,
    /// The connection may carry another request after this one.
    pub keep_alive: bool,
    /// `Expect: 100-continue` from an HTTP/1.1 client.
    pub expect_continue: bool,
}

impl Head {
    /// A placeholder for [`parse`] to write over.
    pub(crate) const EMPTY: Head = Head {
        method: (0, 0),
        target: (0, 0),
        version: Version::Http11,
        len: 0,
        framing: Framing::Length(0),
        keep_alive: false,
        expect_continue: false,
    };
}

/// Limits that apply while parsing a head.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub max_header_bytes: usize,
    pub max_body_bytes: u64,
}

/// Parses the head at the start of `buf` (which sits at offset `base` of the read
/// buffer) into `out`. `Ok(false)`: incomplete, read more (`out` is then unchanged).
/// Header offsets go to `idx`.
///
/// The head goes to the caller's `out` rather than back in a `Result<Option<Head>>`:
/// the caller copied that result out right after `parse` stored it, with 16-byte loads
/// over 8-byte stores, which the store buffer cannot forward (perf put 20-28% of
/// `serve_on`'s samples, `http16`, on that copy).
///
/// The common head goes through [`head_scan`] alone, in one straight path; any other,
/// and one that has not all arrived, is parsed again by [`parse_general`].
#[inline]
pub(crate) fn parse(
    buf: &[u8],
    base: usize,
    scratch: &mut [httparse::Header<'static>],
    idx: &mut Vec<FieldIdx>,
    limits: Limits,
    out: &mut Head,
) -> Result<bool, Reject> {
    if let Some(line) = head_scan::request_line(buf) {
        if line.end - 1 <= MAX_TARGET + 64 {
            idx.clear();
            if let Some(section) = head_scan::section(buf, line.end, base, idx) {
                return finish(buf, base, idx, line, section, limits, out);
            }
        }
    }
    parse_general(buf, base, scratch, idx, limits, out)
}

/// [`parse`] for any head: the request line and the header section through the general
/// parsers where the fast ones defer.
#[inline(never)]
fn parse_general(
    buf: &[u8],
    base: usize,
    scratch: &mut [httparse::Header<'static>],
    idx: &mut Vec<FieldIdx>,
    limits: Limits,
    out: &mut Head,
) -> Result<bool, Reject> {
    debug_assert_eq!(scratch.len(), MAX_FIELDS);
    let line = match head_scan::request_line(buf) {
        Some(line) => line,
        None => match parse_request_line(buf)? {
            Some(line) => line,
            None => return partial(buf, limits),
        },
    };
    // The limit `partial` puts on a request line whose head has not all arrived holds
    // for a complete head too, so where a read ends cannot change the answer (a long
    // method: AFL found a 19,833-byte one accepted whole and refused when cut).
    if line.end - 1 - line.method.0 > MAX_TARGET + 64 {
        return Err(reject(414, "request target too long"));
    }
    idx.clear();
    let section = match head_scan::section(buf, line.end, base, idx) {
        Some(s) => s,
        None => match section(buf, base, line.end, scratch, idx) {
            Ok(Some(s)) => s,
            Ok(None) => return partial(buf, limits),
            Err(FieldError::TooMany) => return Err(reject(431, "too many header fields")),
            Err(e) => return Err(reject(400, e.why())),
        },
    };
    finish(buf, base, idx, line, section, limits, out)
}

/// The header section at `buf[at..]` through httparse, for what [`head_scan::section`]
/// leaves (any line outside its common case): the fields go to `idx`, as the fast path
/// puts them, and every field is marked for [`finish`] to classify.
#[cold]
#[inline(never)]
fn section(
    buf: &[u8],
    base: usize,
    at: usize,
    scratch: &mut [httparse::Header<'static>],
    idx: &mut Vec<FieldIdx>,
) -> Result<Option<Section>, FieldError> {
    idx.clear();
    fields::parse_section(&buf[at..], scratch, |headers, len| {
        let off = |s: &[u8]| -> (u32, u32) {
            let o = s.as_ptr() as usize - buf.as_ptr() as usize + base;
            (o as u32, s.len() as u32)
        };
        idx.extend(headers.iter().map(|h| FieldIdx {
            name: off(h.name.as_bytes()),
            value: off(h.value),
        }));
        // At most MAX_FIELDS (100) fields, so the mask fits.
        Section {
            len,
            hosts: 0,
            special: (1u128 << headers.len()) - 1,
        }
    })
}

/// `method SP request-target SP HTTP-version CRLF` (RFC 9112 §3), after any empty lines
/// (§2.2). `Ok(None)`: incomplete. Stricter than it needs to be nowhere that clients
/// differ: single spaces, a token method, a target of visible ASCII (or UTF-8), and a
/// bare LF accepted as the line end like httparse does for headers.
#[inline(never)]
fn parse_request_line(buf: &[u8]) -> Result<Option<Line>, Reject> {
    let mut i = 0;
    while i < buf.len() && (buf[i] == b'\r' || buf[i] == b'\n') {
        if buf[i] == b'\r' && buf.get(i + 1).is_some_and(|&b| b != b'\n') {
            return Err(reject(400, "malformed line ending"));
        }
        i += 1;
    }
    let m0 = i;
    while i < buf.len() && is_tchar(buf[i]) {
        i += 1;
    }
    if i == buf.len() {
        return Ok(None);
    }
    if i == m0 || buf[i] != b' ' {
        return Err(reject(400, "malformed request line"));
    }
    let method = (m0, i);
    i += 1;
    let t0 = i;
    // The target runs to the next space; visible ASCII is the fast case.
    let visible = buf[t0..]
        .iter()
        .position(|&b| !(0x21..0x7f).contains(&b))
        .map_or(buf.len(), |n| t0 + n);
    i = visible;
    if i < buf.len() && buf[i] >= 0x80 {
        // UTF-8 in the target: allowed if it is valid UTF-8 (the target is a `&str`).
        i = buf[t0..]
            .iter()
            .position(|&b| b <= b' ' || b == 0x7f)
            .map_or(buf.len(), |n| t0 + n);
        match std::str::from_utf8(&buf[t0..i]) {
            Ok(_) => {}
            // Cut inside a character by the end of what has arrived: the rest of it may
            // come with the next read (`error_len` is `None` only for a truncated
            // sequence at the end).
            Err(e) if i == buf.len() && e.error_len().is_none() => return Ok(None),
            Err(_) => return Err(reject(400, "malformed request target")),
        }
    }
    if i - t0 > MAX_TARGET {
        return Err(reject(414, "request target too long"));
    }
    if i == buf.len() {
        return Ok(None);
    }
    if i == t0 || buf[i] != b' ' {
        return Err(reject(400, "malformed request line"));
    }
    let target = (t0, i);
    i += 1;
    // `HTTP/1.1` then CRLF (or LF).
    let rest = &buf[i..];
    if rest.len() < 8 {
        let n = rest.len().min(5);
        return if rest[..n] == b"HTTP/"[..n] {
            Ok(None)
        } else {
            Err(reject(400, "malformed HTTP version"))
        };
    }
    let v = &rest[..8];
    let version = match v {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        _ if v.starts_with(b"HTTP/")
            && v[5].is_ascii_digit()
            && v[6] == b'.'
            && v[7].is_ascii_digit() =>
        {
            return Err(reject(505, "unsupported HTTP version"))
        }
        _ => return Err(reject(400, "malformed HTTP version")),
    };
    let end = match &rest[8..] {
        [] | [b'\r'] => return Ok(None),
        [b'\r', b'\n', ..] => i + 10,
        [b'\n', ..] => i + 9,
        _ => return Err(reject(400, "malformed request line")),
    };
    Ok(Some(Line {
        method,
        target,
        version,
        end,
    }))
}

/// The framing rules, over the parsed headers (`idx`, offsets into the read buffer of
/// which `buf` starts at `base`): the fields `section` marks, in their order (so the
/// first field that breaks a rule names the status), and its count of Host fields.
#[inline(always)]
fn finish(
    buf: &[u8],
    base: usize,
    idx: &[FieldIdx],
    line: Line,
    section: Section,
    limits: Limits,
    out: &mut Head,
) -> Result<bool, Reject> {
    let len = line.end + section.len;
    if len > limits.max_header_bytes {
        return Err(reject(431, "request header section too large"));
    }
    // The common head: HTTP/1.1, one Host, no other field with a rule. What `rules`
    // makes of it without a field to read: no body, kept alive.
    if section.special == 0 && section.hosts == 1 && line.version == Version::Http11 {
        let range = |(a, b): (usize, usize)| ((a + base) as u32, (b - a) as u32);
        *out = Head {
            method: range(line.method),
            target: range(line.target),
            version: Version::Http11,
            len,
            framing: Framing::Length(0),
            keep_alive: true,
            expect_continue: false,
        };
        return Ok(true);
    }
    *out = rules(buf, base, idx, line, section, len, limits)?;
    Ok(true)
}

/// [`finish`] for any head: [`request_rules::apply`].
#[inline(never)]
fn rules(
    buf: &[u8],
    base: usize,
    idx: &[FieldIdx],
    line: Line,
    section: Section,
    len: usize,
    limits: Limits,
) -> Result<Head, Reject> {
    let range = |(a, b): (usize, usize)| ((a + base) as u32, (b - a) as u32);
    let o = request_rules::apply(buf, base, idx, line.version, section, limits.max_body_bytes)?;
    Ok(Head {
        method: range(line.method),
        target: range(line.target),
        version: line.version,
        len,
        framing: o.framing,
        keep_alive: o.keep_alive,
        expect_continue: o.expect_continue,
    })
}

/// Whether the (possibly incomplete or refused) request at the start of `buf` is a HEAD
/// request: its method, after any empty lines, is `HEAD`.
pub(crate) fn is_head_request(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    buf[start..].starts_with(b"HEAD ")
}

/// An incomplete head: fine unless it already breaks a limit.
fn partial(buf: &[u8], limits: Limits) -> Result<bool, Reject> {
    match request_line(buf) {
        // The request line alone (method, target, version) is over the target limit.
        None if buf.len() > MAX_TARGET + 64 => Err(reject(414, "request target too long")),
        Some(line) if line.len() > MAX_TARGET + 64 => Err(reject(414, "request target too long")),
        _ if buf.len() > limits.max_header_bytes => {
            Err(reject(431, "request header section too large"))
        }
        _ => Ok(false),
    }
}

/// The first line, if its end has arrived.
fn request_line(buf: &[u8]) -> Option<&[u8]> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let rest = &buf[start..];
    rest.iter().position(|&b| b == b'\n').map(|n| &rest[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(raw: &[u8]) -> Result<Option<Head>, Reject> {
        let mut scratch = vec![httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut idx = Vec::new();
        let mut head = Head::EMPTY;
        parse(
            raw,
            0,
            &mut scratch,
            &mut idx,
            Limits {
                max_header_bytes: 4096,
                max_body_bytes: 1000,
            },
            &mut head,
        )
        .map(|done| done.then_some(head))
    }

    fn status(raw: &[u8]) -> u16 {
        match run(raw) {
            Err(r) => r.status,
            Ok(Some(_)) => 200,
            Ok(None) => 0,
        }
    }

    /// AFL (fuzz/crashes/request_head/610d5be2b2c6cfcc): a request line made long by its
    /// method was accepted whole but refused with 414 when cut before the head's end.
    #[test]
    fn a_long_request_line_is_refused_whole_or_cut() {
        let mut raw = vec![b'G'];
        raw.resize(MAX_TARGET + 100, b'E');
        raw.extend_from_slice(b" / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(status(&raw), 414);
        assert_eq!(status(&raw[..raw.len() - 2]), 414);
        // Just under the limit, the same line is a request (with a header limit that
        // lets it in).
        let mut ok = vec![b'G'];
        ok.resize(MAX_TARGET + 64 - b" / HTTP/1.1\r".len(), b'E');
        ok.extend_from_slice(b" / HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut scratch = vec![httparse::EMPTY_HEADER; MAX_FIELDS];
        let limits = Limits {
            max_header_bytes: 2 * MAX_TARGET,
            max_body_bytes: 0,
        };
        let mut head = Head::EMPTY;
        let done = parse(&ok, 0, &mut scratch, &mut Vec::new(), limits, &mut head);
        assert!(matches!(done, Ok(true)));
    }

    #[test]
    fn framing() {
        let h = run(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.keep_alive);
        let h = run(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Chunked);
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"),
            200
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"),
            400
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"),
            400
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            400
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n"),
            413
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            501
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            400
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chu nked\r\n\r\n"),
            400
        );
        assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.0\r\n\r\n"), 200);
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(status(b"GET / HTTX/1.1\r\n\r\n"), 400);
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nExpect: nope\r\n\r\n"),
            417
        );
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\n"), 0);
        // Bytes httparse refuses in a value (the parser relies on it).
        for bad in [&b"\0"[..], b"\r", b"\x01", b"\x7f", b"a\rb"] {
            let raw = [&b"GET / HTTP/1.1\r\nHost: a\r\nX: v"[..], bad, b"\r\n\r\n"].concat();
            assert_eq!(status(&raw), 400, "{bad:?}");
        }
    }

    #[test]
    fn request_lines() {
        // Empty lines before the request line are skipped; a bare LF ends a line.
        assert_eq!(status(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
        assert_eq!(status(b"GET / HTTP/1.1\nHost: a\n\n"), 200);
        // UTF-8 in the target is accepted, other bytes over 0x7f are not.
        assert_eq!(
            status("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes()),
            200
        );
        assert_eq!(status(b"GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        for bad in [
            &b"GET  / HTTP/1.1\r\n\r\n"[..],
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1 \r\n\r\n",
            b"GET / HTTP/1.1\rX\r\n\r\n",
            b"GET / http/1.1\r\n\r\n",
            b"\rGET / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(status(bad), 400, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(status(b"GET / HTTP/1.2\r\n\r\n"), 505);
        let long = [
            b"GET /".as_slice(),
            &[b'a'; MAX_TARGET],
            b" HTTP/1.1\r\n\r\n",
        ]
        .concat();
        assert_eq!(status(&long), 414);
        assert_eq!(status(&long[..MAX_TARGET + 8]), 414);
        // Every proper prefix of a good head is incomplete, not an error (a UTF-8
        // character in the target cut in two included).
        let good = b"GET /x?y HTTP/1.1\r\nHost: a\r\n\r\n";
        for n in 0..good.len() {
            assert_eq!(status(&good[..n]), 0, "prefix {n}");
        }
        let utf8 = "GET /\u{e9}\u{1f600} HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes();
        for n in 0..utf8.len() {
            assert_eq!(status(&utf8[..n]), 0, "prefix {n}");
        }
        assert_eq!(status(utf8), 200);
        let h = run(good).unwrap().unwrap();
        assert_eq!((h.target, h.method, h.len), ((4, 4), (0, 3), good.len()));
    }

    #[test]
    fn fast_line_agrees() {
        let line = |l: Line| (l.method, l.target, l.version, l.end);
        let good = b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n";
        let l = head_scan::request_line(good).unwrap();
        assert_eq!(line(l), ((0, 3), (4, 14), Version::Http11, 25));
        for other in [
            &b"\r\nGET / HTTP/1.1\r\n"[..],
            b"GET / HTTP/1.1\n",
            b"GET / HTTP/1.1\r",
            b"GET / HTTP/1.2\r\n",
            b"GET /\xc3\xa9 HTTP/1.1\r\n",
            b"GET  / HTTP/1.1\r\n",
            b"GET /abcdefgh\x7f HTTP/1.1\r\n",
        ] {
            assert!(head_scan::request_line(other).is_none(), "{other:?}");
        }
        let long = [b"GET /".as_slice(), &[b'a'; MAX_TARGET], b" HTTP/1.1\r\n"].concat();
        assert!(head_scan::request_line(&long).is_none());
        assert!(head_scan::request_line(
            &long[..long.len() - 12]
                .iter()
                .chain(b" HTTP/1.0\r\n")
                .copied()
                .collect::<Vec<_>>()
        )
        .is_some());
        // Random lines over the bytes that matter: wherever the fast path answers, the
        // general parser gives the same line.
        let alphabet = b"GETPOST /a?%:\x21\x7e\x7f\x80\xff\x00\x20\t\r\nHTP1.0";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut taken = 0;
        for _ in 0..200_000 {
            let pick = |r: u64| alphabet[(r % alphabet.len() as u64) as usize];
            let mut raw: Vec<u8> = match next() % 3 {
                0 => b"GET ".to_vec(),
                1 => b"PUT ".to_vec(),
                _ => vec![],
            };
            raw.extend((0..next() % 24).map(|_| pick(next())));
            match next() % 3 {
                0 => raw.extend_from_slice(b" HTTP/1.1\r\n"),
                1 => raw.extend_from_slice(b" HTTP/1.0\r\nX"),
                _ => {}
            }
            if let Some(l) = head_scan::request_line(&raw) {
                taken += 1;
                let general = parse_request_line(&raw).map(|l| l.map(line));
                assert_eq!(
                    general,
                    Ok(Some(line(l))),
                    "{:?}",
                    String::from_utf8_lossy(&raw)
                );
            }
        }
        assert!(taken > 1000, "only {taken} random lines took the fast path");
    }

    #[test]
    fn header_slots_are_left_empty() {
        let mut scratch = vec![httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut idx = Vec::new();
        let limits = Limits {
            max_header_bytes: 4096,
            max_body_bytes: 1000,
        };
        for raw in [
            &b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"[..], // complete
            b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n",          // partial
            b"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n",     // refused
        ] {
            let mut head = Head::EMPTY;
            let _ = parse(raw, 0, &mut scratch, &mut idx, limits, &mut head);
            assert!(scratch
                .iter()
                .all(|h| h.name.is_empty() && h.value.is_empty()));
        }
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |raw: &[u8]| run(raw).unwrap().unwrap().keep_alive;
        assert!(ka(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }
}
