//! `Request`: the parsed head, read in place from the connection's buffer, and the body
//! as a reader.

use crate::h1::chunked::Decoder;
use crate::h1::fields::FieldIdx;
use crate::h1::framing::Framing;
use crate::h1::request_head::Head;
use crate::h1::{Reject, Version};
use gmp_net::TcpStream;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// A socket read for the body straight into the caller's buffer, when nothing is
/// buffered and the caller's buffer is at least this large.
const DIRECT_READ: usize = 4096;
/// Room kept after the head for reading the body through the connection's buffer.
const BODY_ROOM: usize = 4096;

/// Whether `Expect: 100-continue` has been answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Continue {
    /// The client did not ask.
    No,
    /// The client asked; the interim response goes out on the handler's first body read.
    Pending,
    Sent,
}

/// An HTTP request being served. The head is parsed in place in the connection's read
/// buffer: accessors return slices of it, nothing is copied per request.
///
/// ```no_run
/// use std::io::Read;
/// gmp_http::Server::bind("127.0.0.1:8080")?.serve(|req, res| {
///     let mut body = Vec::new();
///     req.body().read_to_end(&mut body)?;
///     res.body(format!("{} {} sent {} bytes", req.method(), req.path(), body.len()));
///     Ok(())
/// })
/// # ; Ok::<(), std::io::Error>(())
/// ```
pub struct Request<'c> {
    stream: &'c TcpStream,
    buf: &'c mut Vec<u8>,
    idx: &'c [FieldIdx],
    head: Head,
    /// First byte of the head in `buf`.
    start: usize,
    /// Unread bytes (the body, then perhaps more pipelined requests) lie in `[pos, end)`.
    pub(crate) pos: usize,
    pub(crate) end: usize,
    remote: SocketAddr,
    /// Content-Length bytes still to read.
    left: u64,
    chunked: Option<Decoder>,
    /// Decoded body bytes so far (the limit applies to chunked bodies here).
    total: u64,
    max_body: u64,
    body_timeout: Option<Duration>,
    pub(crate) cont: Continue,
    /// Set when the body turned out malformed, too large, or cut short: the status for
    /// the error response (if nothing was sent yet), and the connection must close.
    pub(crate) broken: Option<Reject>,
}

impl<'c> Request<'c> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stream: &'c TcpStream,
        buf: &'c mut Vec<u8>,
        idx: &'c [FieldIdx],
        head: Head,
        start: usize,
        end: usize,
        remote: SocketAddr,
        max_body: u64,
        max_trailer: usize,
        body_timeout: Option<Duration>,
    ) -> Request<'c> {
        let (left, chunked) = match head.framing {
            Framing::Length(n) => (n, None),
            Framing::Chunked => (0, Some(Decoder::new(max_trailer))),
        };
        Request {
            stream,
            buf,
            idx,
            head,
            start,
            pos: start + head.len,
            end,
            remote,
            left,
            chunked,
            total: 0,
            max_body,
            body_timeout,
            cont: if head.expect_continue {
                Continue::Pending
            } else {
                Continue::No
            },
            broken: None,
        }
    }

    fn bytes(&self, (off, len): (u32, u32)) -> &[u8] {
        &self.buf[off as usize..off as usize + len as usize]
    }

    fn text(&self, range: (u32, u32)) -> &str {
        // SAFETY: `range` is the method (token characters, checked by `head`), the
        // target (visible ASCII, or checked UTF-8, by `head`) or a header name (token
        // characters, checked by httparse) in this buffer, and the head's bytes are not
        // written while the request lives: body reads only use the buffer past the head.
        unsafe { std::str::from_utf8_unchecked(self.bytes(range)) }
    }

    /// The method, as sent (`GET`, `POST`, ...).
    pub fn method(&self) -> &str {
        self.text(self.head.method)
    }

    /// The request target exactly as sent: `/a/b?x=1`, or an absolute URI, or `*`.
    pub fn target(&self) -> &str {
        self.text(self.head.target)
    }

    /// The path: the target without its query (and without scheme and authority when
    /// the target is an absolute URI).
    pub fn path(&self) -> &str {
        let t = origin_form(self.target());
        match query_at(t) {
            Some(i) => &t[..i],
            None => t,
        }
    }

    /// The query, without the `?`; `None` when the target has none.
    pub fn query(&self) -> Option<&str> {
        let t = origin_form(self.target());
        query_at(t).map(|i| &t[i + 1..])
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The first header named `name` (compared case-insensitively). `None` if there is
    /// none, or if its value is not UTF-8 ([`headers`](Self::headers) gives raw bytes).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.idx
            .iter()
            .find(|h| self.bytes(h.name).eq_ignore_ascii_case(name.as_bytes()))
            .and_then(|h| std::str::from_utf8(self.bytes(h.value)).ok())
    }

    /// Every header in order, as (name, value bytes), repeats included.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.idx
            .iter()
            .map(move |h| (self.text(h.name), self.bytes(h.value)))
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote
    }

    /// The body length the client declared; `None` for a chunked body.
    pub fn content_length(&self) -> Option<u64> {
        match self.head.framing {
            Framing::Length(n) => Some(n),
            Framing::Chunked => None,
        }
    }

    /// The body, as a reader that ends where the body ends (Content-Length or chunked).
    /// The first read answers `Expect: 100-continue`. Errors: `InvalidData` for a
    /// malformed chunked body or one over the server's body limit, `UnexpectedEof` when
    /// the client stops halfway, `TimedOut` when it stalls.
    pub fn body(&mut self) -> Body<'_, 'c> {
        Body { req: self }
    }

    /// Whether the whole body has been read.
    pub(crate) fn body_done(&self) -> bool {
        match &self.chunked {
            None => self.left == 0,
            Some(d) => d.is_done(),
        }
    }

    /// Content-Length bytes left unread, if the body is not chunked.
    pub(crate) fn length_left(&self) -> Option<u64> {
        self.chunked.is_none().then_some(self.left)
    }

    /// Whether the unread part of the body is all in the buffer already.
    pub(crate) fn body_buffered(&self) -> bool {
        match &self.chunked {
            None => self.left <= (self.end - self.pos) as u64,
            Some(_) => false,
        }
    }

    /// Reads and drops up to `limit` more body bytes. `Ok(true)`: the body is finished
    /// and the connection can carry another request.
    pub(crate) fn drain(&mut self, limit: u64) -> bool {
        let mut scratch = [0u8; 2048];
        let mut dropped = 0u64;
        while !self.body_done() {
            if dropped > limit {
                return false;
            }
            match self.read_body(&mut scratch) {
                Ok(0) => break,
                Ok(n) => dropped += n as u64,
                Err(_) => return false,
            }
        }
        self.body_done()
    }

    fn fail(&mut self, status: u16, why: &'static str, kind: io::ErrorKind) -> io::Error {
        self.broken = Some(Reject { status, why });
        io::Error::new(kind, why)
    }

    fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(r) = self.broken {
            return Err(io::Error::new(io::ErrorKind::InvalidData, r.why));
        }
        if out.is_empty() || self.body_done() {
            return Ok(0);
        }
        if self.cont == Continue::Pending {
            // A client that already sent part of the body is not waiting for the interim
            // response, which may then be left out (RFC 9110 §10.1.1). That is also
            // what keeps it in order: the connection flushes pending responses before
            // the handler only when the body is not all buffered, and when nothing of
            // it is buffered it is not.
            if self.end == self.pos {
                let mut s = self.stream;
                s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            }
            self.cont = Continue::Sent;
        }
        loop {
            let buffered = self.end - self.pos;
            match &mut self.chunked {
                None => {
                    let want = (out.len() as u64).min(self.left) as usize;
                    if buffered > 0 {
                        let n = want.min(buffered);
                        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                        self.pos += n;
                        self.left -= n as u64;
                        return Ok(n);
                    }
                    if want >= DIRECT_READ {
                        let n = self.read_socket_into(&mut out[..want])?;
                        self.left -= n as u64;
                        return Ok(n);
                    }
                }
                Some(dec) => {
                    if buffered > 0 {
                        let r = dec.decode(&self.buf[self.pos..self.end], out);
                        let (used, n) = match r {
                            Ok(v) => v,
                            Err(why) => {
                                return Err(self.fail(400, why, io::ErrorKind::InvalidData))
                            }
                        };
                        self.pos += used;
                        if n > 0 || dec.is_done() {
                            return self.count(n);
                        }
                        // Nothing decoded: the decoder needs more input (it may have
                        // left a partial trailer section unconsumed, which `fill`
                        // keeps). All of it was consumed if it is in chunk data.
                    }
                    if dec.in_data() && out.len() >= DIRECT_READ {
                        let want = (out.len() as u64).min(dec.remaining) as usize;
                        let n = self.read_socket_into(&mut out[..want])?;
                        if let Some(dec) = &mut self.chunked {
                            dec.consumed_data(n);
                        }
                        return self.count(n);
                    }
                }
            }
            self.fill()?;
        }
    }

    /// Counts decoded chunked bytes against the body limit.
    fn count(&mut self, n: usize) -> io::Result<usize> {
        self.total += n as u64;
        if self.total > self.max_body {
            return Err(self.fail(
                413,
                "request body over the server's limit",
                io::ErrorKind::InvalidData,
            ));
        }
        Ok(n)
    }

    /// Reads more of the body into the buffer, past the head (which stays in place).
    fn fill(&mut self) -> io::Result<()> {
        let base = self.start + self.head.len;
        // Keep any partial chunk line; reuse the space of what was consumed.
        let keep = self.end - self.pos;
        self.buf.copy_within(self.pos..self.end, base);
        self.pos = base;
        self.end = base + keep;
        if self.buf.len() - self.end < BODY_ROOM {
            let len = self.end + BODY_ROOM;
            self.buf.resize(len, 0);
        }
        let (end, len) = (self.end, self.buf.len());
        let r = sock_read(self.stream, self.body_timeout, &mut self.buf[end..len]);
        self.end += self.checked(r)?;
        Ok(())
    }

    /// One socket read for the body straight into `into`.
    fn read_socket_into(&mut self, into: &mut [u8]) -> io::Result<usize> {
        let r = sock_read(self.stream, self.body_timeout, into);
        self.checked(r)
    }

    /// End of stream in the middle of a body, or a failed read, breaks the request.
    fn checked(&mut self, r: io::Result<usize>) -> io::Result<usize> {
        match r {
            Ok(0) => Err(self.fail(
                400,
                "connection closed before the request body ended",
                io::ErrorKind::UnexpectedEof,
            )),
            Ok(n) => Ok(n),
            Err(e) => {
                self.broken = Some(Reject {
                    status: 408,
                    why: "reading the request body failed",
                });
                Err(e)
            }
        }
    }
}

/// One socket read with the body timeout (the connection otherwise reads without one:
/// its idle and header deadlines are kept by the server's reaper).
fn sock_read(stream: &TcpStream, timeout: Option<Duration>, into: &mut [u8]) -> io::Result<usize> {
    let mut s = stream;
    s.set_read_timeout(timeout)?;
    let r = s.read(into);
    s.set_read_timeout(None)?;
    r
}

/// Where the `?` is (a plain loop: targets are short, and `split_once` builds a searcher).
fn query_at(t: &str) -> Option<usize> {
    t.bytes().position(|b| b == b'?')
}

/// Strips `scheme://authority` from an absolute-form target.
#[inline]
fn origin_form(t: &str) -> &str {
    if t.starts_with('/') {
        return t;
    }
    absolute_to_origin(t)
}

#[inline(never)]
fn absolute_to_origin(t: &str) -> &str {
    let b = t.as_bytes();
    let scheme_len = if b.len() >= 7 && b[..7].eq_ignore_ascii_case(b"http://") {
        7
    } else if b.len() >= 8 && b[..8].eq_ignore_ascii_case(b"https://") {
        8
    } else {
        return t;
    };
    let rest = &t[scheme_len..];
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
        Some(i) => &rest[i..],
        None => "/",
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("target", &self.target())
            .field("version", &self.version())
            .field("remote_addr", &self.remote)
            .finish_non_exhaustive()
    }
}

/// The request body as a reader: see [`Request::body`].
///
/// ```no_run
/// use std::io::Read;
/// gmp_http::Server::bind("127.0.0.1:8080")?.serve(|req, res| {
///     let mut first = [0u8; 16];
///     let n = req.body().read(&mut first)?; // parks until body bytes arrive
///     res.body(format!("the body starts with {:?}", &first[..n]));
///     Ok(())
/// })
/// # ; Ok::<(), std::io::Error>(())
/// ```
pub struct Body<'r, 'c> {
    req: &'r mut Request<'c>,
}

impl Read for Body<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.req.read_body(out)
    }
}

#[cfg(test)]
mod tests {
    use super::origin_form;

    #[test]
    fn absolute_form() {
        assert_eq!(origin_form("/a?b"), "/a?b");
        assert_eq!(origin_form("http://h:1/a?b"), "/a?b");
        assert_eq!(origin_form("HTTPS://h"), "/");
        assert_eq!(origin_form("http://h?x"), "?x");
        assert_eq!(origin_form("*"), "*");
    }
}
