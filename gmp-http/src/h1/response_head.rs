//! Response heads (the client's side): the status line, the header section through the
//! shared field-line grammar ([`super::fields`]), then the rules of RFC 9112 §6.3 that
//! decide how long the body is and whether the connection can carry another request.
//!
//! The client must not be smuggled to either: a response with conflicting
//! `Content-Length`s, or with both `Content-Length` and `Transfer-Encoding`, is an error,
//! not a guess (RFC 9112 §6.3 allows treating it as one).

use super::fields::{self, eq_lower, trim, FieldError};
use super::framing::{Framing, FramingFields};
use super::status::has_no_body;
use super::{reject, Reject, Version};

/// How a response body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// A length (0: no body: HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// A parsed response head. The fields are owned: a response outlives the read buffer's
/// next fill.
#[derive(Clone, Debug)]
pub(crate) struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bytes of the head, through the empty line.
    pub len: usize,
    pub body: BodyKind,
    /// The connection may carry another request after this response.
    pub keep_alive: bool,
}

/// Parses the response head at the start of `buf`, for a request whose method was HEAD
/// or not. `Ok(None)`: incomplete (the caller bounds how long it waits).
pub(crate) fn parse(
    buf: &[u8],
    head_request: bool,
    slots: &mut [httparse::Header<'static>],
) -> Result<Option<ResponseHead>, Reject> {
    let Some((version, status, reason, line_len)) = status_line(buf)? else {
        return Ok(None);
    };
    let section = fields::parse_section(&buf[line_len..], slots, |hs, n| {
        let headers: Vec<(String, Vec<u8>)> = hs
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect();
        (headers, n)
    });
    let (headers, n) = match section {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(None),
        Err(FieldError::TooMany) => {
            return Err(reject(502, "too many header fields in the response"))
        }
        Err(e) => return Err(reject(502, e.why())),
    };
    let mut framing = FramingFields::default();
    let (mut close, mut keep_alive_token) = (false, false);
    for (name, value) in &headers {
        let name = name.as_bytes();
        if eq_lower(name, b"content-length") {
            framing.content_length(value).map_err(to_502)?;
        } else if eq_lower(name, b"transfer-encoding") {
            framing.transfer_encoding(value).map_err(to_502)?;
        } else if eq_lower(name, b"connection") {
            for t in value.split(|&b| b == b',').map(trim) {
                close |= t.eq_ignore_ascii_case(b"close");
                keep_alive_token |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let body = if head_request || has_no_body(status) {
        // Framing fields of a response without a body describe what a GET would have
        // got; they are still checked above, so a smuggling attempt is refused anyway.
        framing.framing().map_err(to_502)?;
        BodyKind::Length(0)
    } else {
        match framing.framing().map_err(to_502)? {
            Some(Framing::Length(n)) => BodyKind::Length(n),
            Some(Framing::Chunked) => BodyKind::Chunked,
            None => BodyKind::Close,
        }
    };
    let keep_alive = body != BodyKind::Close
        && !close
        && match version {
            Version::Http11 => true,
            Version::Http10 => keep_alive_token,
        };
    Ok(Some(ResponseHead {
        version,
        status,
        reason,
        headers,
        len: line_len + n,
        body,
        keep_alive,
    }))
}

fn to_502(r: Reject) -> Reject {
    // The framing checks speak as a server (400, 501); for a client every refusal is a
    // bad response from upstream.
    reject(502, r.why)
}

/// `HTTP/1.x SP 3DIGIT SP reason CRLF` (the reason may be empty, and the space before
/// it missing, as some servers send). `Ok(None)`: incomplete.
fn status_line(buf: &[u8]) -> Result<Option<(Version, u16, String, usize)>, Reject> {
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > 8 << 10 {
            return Err(reject(502, "response status line too long"));
        }
        // A prefix that cannot start a status line is refused now, not after a timeout.
        let n = buf.len().min(5);
        if buf[..n] != b"HTTP/"[..n] {
            return Err(reject(502, "malformed response status line"));
        }
        return Ok(None);
    };
    let line = &buf[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let bad = || reject(502, "malformed response status line");
    if line.len() < 12 || !line.starts_with(b"HTTP/1.") || line[8] != b' ' {
        return Err(bad());
    }
    let version = match line[7] {
        b'0' => Version::Http10,
        b'1' => Version::Http11,
        _ => return Err(reject(502, "unsupported HTTP version in the response")),
    };
    let digits = &line[9..12];
    if !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return Err(bad());
    }
    let status = digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    let reason = match &line[12..] {
        [] => "",
        [b' ', rest @ ..] => std::str::from_utf8(rest).map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if reason.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(bad());
    }
    Ok(Some((version, status, reason.to_string(), lf + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::fields::MAX_FIELDS;

    fn run(raw: &[u8], head: bool) -> Result<Option<ResponseHead>, Reject> {
        let mut slots = vec![httparse::EMPTY_HEADER; MAX_FIELDS];
        parse(raw, head, &mut slots)
    }

    #[test]
    fn framing_of_responses() {
        let r = run(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false)
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.status, r.body, r.keep_alive, r.len),
            (200, BodyKind::Length(5), true, 38)
        );
        assert_eq!(r.reason, "OK");
        let r = run(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.body, BodyKind::Chunked);
        // Neither: until the close, and the connection cannot be reused.
        let r = run(b"HTTP/1.1 200 OK\r\n\r\n", false).unwrap().unwrap();
        assert_eq!((r.body, r.keep_alive), (BodyKind::Close, false));
        // HEAD, 204, 304 and 1xx have no body whatever the headers say.
        let r = run(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert_eq!((r.body, r.keep_alive), (BodyKind::Length(0), true));
        for s in [b"204", b"304", b"100"] {
            let raw = [&b"HTTP/1.1 "[..], s, b" X\r\nContent-Length: 9\r\n\r\n"].concat();
            assert_eq!(run(&raw, false).unwrap().unwrap().body, BodyKind::Length(0));
        }
        // HTTP/1.0: keep-alive only when asked; Connection: close always closes.
        let r = run(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false)
            .unwrap()
            .unwrap();
        assert!(!r.keep_alive);
        let r = run(
            b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert!(r.keep_alive);
        let r = run(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert!(!r.keep_alive);
        // Empty reason, no space.
        assert_eq!(
            run(b"HTTP/1.1 404\r\n\r\n", false).unwrap().unwrap().status,
            404
        );
        assert_eq!(
            run(b"HTTP/1.1 404 \r\n\r\n", false)
                .unwrap()
                .unwrap()
                .reason,
            ""
        );
    }

    #[test]
    fn refused_responses() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: y\r\n folded\r\n\r\n",
            b"HTTP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 099 OK\r\n\r\n",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
            b"<html>",
            // A 304 with a smuggling pair is refused even though it has no body.
            b"HTTP/1.1 304 X\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(
                run(bad, false).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Every prefix of a good head is incomplete, not an error.
        let good = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        for n in 0..good.len() {
            assert!(run(&good[..n], false).unwrap().is_none(), "prefix {n}");
        }
    }
}
