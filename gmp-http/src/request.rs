//! `Request`: the parsed head, read in place from the connection's buffer, and the body
//! as a reader.

use crate::h1::chunked::Decoder;
use crate::h1::fields::FieldIdx;
use crate::h1::framing::Framing;
use crate::h1::request_head::Head;
use crate::h1::Version;
use crate::transport::{TlsInfo, Transport};
use std::borrow::Cow;
use std::io::{self, Read};
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
    stream: &'c Transport<'c>,
    buf: &'c mut Vec<u8>,
    idx: &'c [FieldIdx],
    params: &'c mut Params,
    /// Lent by the connection loop, where `parse` wrote it (a copy into the request was
    /// loads that the store buffer could not forward, see `request_head::parse`).
    head: &'c Head,
    /// First byte of the head in `buf`.
    start: usize,
    /// Unread bytes (the body, then perhaps more pipelined requests) lie in `[pos, end)`.
    pub(crate) pos: usize,
    pub(crate) end: usize,
    /// The connection's (a reference: copying it was 4 stores a request).
    remote: &'c SocketAddr,
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
    pub(crate) broken: Option<BodyError>,
}

impl<'c> Request<'c> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stream: &'c Transport<'c>,
        buf: &'c mut Vec<u8>,
        idx: &'c [FieldIdx],
        params: &'c mut Params,
        head: &'c Head,
        start: usize,
        end: usize,
        remote: &'c SocketAddr,
        max_body: u64,
        max_trailer: usize,
        body_timeout: Option<Duration>,
    ) -> Request<'c> {
        let (left, chunked) = match head.framing {
            Framing::Length(n) => (n, None),
            Framing::Chunked => (0, Some(Decoder::new(max_trailer))),
        };
        params.clear();
        Request {
            stream,
            buf,
            idx,
            params,
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

    #[inline]
    fn bytes(&self, (off, len): (u32, u32)) -> &[u8] {
        &self.buf[off as usize..off as usize + len as usize]
    }

    #[inline]
    fn text(&self, range: (u32, u32)) -> &str {
        // SAFETY: `range` is the method (token characters, checked by `head`), the
        // target (visible ASCII, or checked UTF-8, by `head`) or a header name (token
        // characters, checked by httparse) in this buffer, and the head's bytes are not
        // written while the request lives: body reads only use the buffer past the head.
        unsafe { std::str::from_utf8_unchecked(self.bytes(range)) }
    }

    /// The method, as sent (`GET`, `POST`, ...).
    #[inline]
    pub fn method(&self) -> &str {
        self.text(self.head.method)
    }

    /// The request target exactly as sent: `/a/b?x=1`, or an absolute URI, or `*`.
    #[inline]
    pub fn target(&self) -> &str {
        self.text(self.head.target)
    }

    /// The path: the target without its query (and without scheme and authority when
    /// the target is an absolute URI).
    #[inline]
    pub fn path(&self) -> &str {
        path_of(self.target())
    }

    /// The query, without the `?`; `None` when the target has none.
    pub fn query(&self) -> Option<&str> {
        let t = origin_form(self.target());
        query_at(t).map(|i| &t[i + 1..])
    }

    /// The value of the router's wildcard `name` (`{name}` or `{name...}` in the pattern
    /// that matched), percent-decoded: one path segment, or the rest of the path for
    /// `{name...}`. `None` if the pattern has no such wildcard (or no router routed this
    /// request).
    ///
    /// ```no_run
    /// let mut app = gmp_http::Router::new();
    /// app.handle("GET /users/{id}/files/{path...}", |req, res| {
    ///     let id = req.param("id").unwrap_or("");
    ///     let path = req.param("path").unwrap_or("");
    ///     res.body(format!("user {id}, file {path}"));
    ///     Ok(())
    /// });
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// The first query parameter `name`, percent-decoded (`+` is a space). `None` if the
    /// query has none; `Some("")` for `?name` or `?name=`.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The query's `name=value` pairs in order, percent-decoded (`+` is a space), repeats
    /// included. Invalid UTF-8 after decoding is replaced with U+FFFD.
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
        crate::url::query_pairs(self.query().unwrap_or(""))
    }

    /// Whether the request has a body (a `Content-Length` over 0, or chunked).
    pub(crate) fn has_body(&self) -> bool {
        !matches!(self.head.framing, Framing::Length(0))
    }

    /// The bytes the connection read past this request's head (the client's first bytes
    /// after an upgrade), taken out of the buffer, which is then cut back to the head:
    /// the handler may still read the request's fields, but the connection's input is
    /// its own from now on, and an upgraded connection (a WebSocket) may live for hours.
    /// The connection's buffer set gets its size back when it returns to the pool.
    pub(crate) fn take_leftover(&mut self) -> bytes::Bytes {
        let b = bytes::Bytes::copy_from_slice(&self.buf[self.pos..self.end]);
        self.buf.truncate(self.pos);
        self.buf.shrink_to_fit();
        self.end = self.pos;
        b
    }

    /// The router's scratch vector for wildcard ranges (kept with the connection's
    /// buffers, so routing allocates nothing once it has grown).
    pub(crate) fn take_captures(&mut self) -> Vec<(u32, u32)> {
        std::mem::take(&mut self.params.caps)
    }

    pub(crate) fn put_captures(&mut self, caps: Vec<(u32, u32)>) {
        self.params.caps = caps;
    }

    /// Sets the parameters from the wildcard `names` and their byte ranges in the path,
    /// percent-decoding each value. False (and no parameters) if a value is not UTF-8.
    pub(crate) fn set_params<'n>(
        &mut self,
        names: impl Iterator<Item = &'n str>,
        caps: &[(u32, u32)],
    ) -> bool {
        self.params.clear();
        if caps.is_empty() {
            return true;
        }
        let (off, len) = self.head.target;
        let target = &self.buf[off as usize..(off + len) as usize];
        // SAFETY: the target is visible ASCII or checked UTF-8 (`request_head`), as in
        // `text`; only `self.params` is written below, never the buffer.
        let target = unsafe { std::str::from_utf8_unchecked(target) };
        let path = path_of(target);
        for (name, &(s, e)) in names.zip(caps) {
            let value = crate::url::path_unescape(&path.as_bytes()[s as usize..e as usize]);
            let Ok(v) = std::str::from_utf8(&value) else {
                self.params.clear();
                return false;
            };
            self.params.push(name, v);
        }
        true
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

    /// The connection's TLS (server name, ALPN protocol, version); `None` over plain
    /// TCP.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.stream.tls_info()
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        *self.remote
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

    /// Marks the request broken with `status` (the answer if the handler returns the
    /// error) and returns the error for the handler.
    pub(crate) fn fail(
        &mut self,
        status: u16,
        why: impl Into<Cow<'static, str>>,
        kind: io::ErrorKind,
    ) -> io::Error {
        let e = BodyError {
            status,
            why: why.into(),
        };
        self.broken = Some(e.clone());
        io::Error::new(kind, e)
    }

    fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(b) = &self.broken {
            return Err(io::Error::new(io::ErrorKind::InvalidData, b.clone()));
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
                self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
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
                self.broken = Some(BodyError {
                    status: 408,
                    why: Cow::Borrowed("reading the request body failed"),
                });
                Err(e)
            }
        }
    }
}

/// One socket read with the body timeout (the connection otherwise reads without one:
/// its idle and header deadlines are kept by the server's reaper).
fn sock_read(
    stream: &Transport<'_>,
    timeout: Option<Duration>,
    into: &mut [u8],
) -> io::Result<usize> {
    let s = stream.socket();
    s.set_read_timeout(timeout)?;
    let r = stream.read(into);
    s.set_read_timeout(None)?;
    r
}

/// The path of a request target: without scheme and authority, and without the query.
// Always inlined: every handler that routes calls it, and as a call it cost ~3
// instructions more a request (callgrind of `examples/hello`).
#[inline(always)]
fn path_of(target: &str) -> &str {
    let t = origin_form(target);
    match query_at(t) {
        Some(i) => &t[..i],
        None => t,
    }
}

/// Path parameters set by a router, and the router's scratch while matching. Kept with
/// the connection's buffers, so routing allocates nothing once they have grown.
#[derive(Default, Debug)]
pub(crate) struct Params {
    /// Names and values, back to back.
    text: String,
    /// (name start, name end, value end) in `text`; the value starts at the name's end.
    spans: Vec<(u32, u32, u32)>,
    /// The router's wildcard ranges while it matches.
    caps: Vec<(u32, u32)>,
}

impl Params {
    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(name);
        let mid = self.text.len() as u32;
        self.text.push_str(value);
        self.spans.push((start, mid, self.text.len() as u32));
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.spans
            .iter()
            .find(|&&(s, m, _)| &self.text[s as usize..m as usize] == name)
            .map(|&(_, m, e)| &self.text[m as usize..e as usize])
    }
}

/// Where the `?` is (no `split_once`, which builds a searcher for every call).
#[inline]
fn query_at(t: &str) -> Option<usize> {
    // Eight bytes at a time (a byte at a time cost 5 instructions a byte of every path,
    // callgrind of `examples/hello`): a word XOR '?' has a zero byte where a '?' is, and
    // the lowest byte the zero-byte mask flags is exact (a borrow only runs upward).
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let b = t.as_bytes();
    let first = |at: usize| {
        let w = b.get(at..at + 8)?;
        let x = u64::from_le_bytes(w.try_into().ok()?) ^ (LOW * u64::from(b'?'));
        let zero = x.wrapping_sub(LOW) & !x & HIGH;
        (zero != 0).then(|| at + (zero.trailing_zeros() / 8) as usize)
    };
    if b.len() < 8 {
        return b.iter().position(|&c| c == b'?');
    }
    let mut i = 0;
    while i + 8 <= b.len() {
        if let Some(q) = first(i) {
            return Some(q);
        }
        i += 8;
    }
    // The tail as the last word, overlapping bytes already known to hold no '?'.
    if i < b.len() {
        return first(b.len() - 8);
    }
    None
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

/// Why a request's body could not be read (malformed framing, over the server's body
/// limit, cut short) or decoded (`Request::json`), carried inside the `io::Error` a
/// read returns: `e.get_ref()` downcasts to it. A handler that returns such an error
/// (`?`) gets its client the [`status`](BodyError::status) it names, with the message.
///
/// ```no_run
/// use std::io::Read;
/// gmp_http::Server::bind("127.0.0.1:8080")?.serve(|req, res| {
///     let mut body = Vec::new();
///     if let Err(e) = req.body().read_to_end(&mut body) {
///         let status = e
///             .get_ref()
///             .and_then(|e| e.downcast_ref::<gmp_http::BodyError>())
///             .map_or(500, |b| b.status());
///         tracing::info!("body refused with {status}: {e}");
///         return Err(e); // the client gets `status` (413 for a body over the limit)
///     }
///     res.body(body);
///     Ok(())
/// })
/// # ; Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyError {
    status: u16,
    why: Cow<'static, str>,
}

impl BodyError {
    /// The status the server answers with: 400 (malformed, cut short, bad JSON), 408
    /// (the read failed or timed out), 413 (over the body limit), 415 (not JSON).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.why
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl std::error::Error for BodyError {}

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
    use super::{origin_form, query_at};

    #[test]
    fn query_at_finds_the_first_question_mark() {
        // Every length around the word size, the mark at every place (and none), with
        // bytes either side of '?' (0x3f) that a borrow could confuse.
        for len in 0..40 {
            for at in (0..len).map(Some).chain([None]) {
                let t: String = (0..len)
                    .map(|i| match at {
                        Some(a) if i == a => '?',
                        _ if i % 3 == 0 => '>',
                        _ if i % 3 == 1 => '@',
                        _ => 'a',
                    })
                    .collect();
                assert_eq!(query_at(&t), t.find('?'), "{t:?}");
            }
        }
        assert_eq!(query_at("/a??b?"), Some(2));
    }

    #[test]
    fn absolute_form() {
        assert_eq!(origin_form("/a?b"), "/a?b");
        assert_eq!(origin_form("http://h:1/a?b"), "/a?b");
        assert_eq!(origin_form("HTTPS://h"), "/");
        assert_eq!(origin_form("http://h?x"), "?x");
        assert_eq!(origin_form("*"), "*");
    }
}
