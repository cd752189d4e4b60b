//! `Response`: status, headers and a body, serialised into the connection's write buffer
//! so that the responses to pipelined requests leave in one `write`.

use crate::h1::date;
use crate::h1::fields::{eq_lower, valid_name, valid_value};
use crate::h1::spare::Spare;
use crate::h1::status::{append_hex, has_no_body, put_status_line};
use crate::h1::Version;
use crate::transport::Transport;
use bytes::Bytes;
use std::io::{self, IoSlice, Write};
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Arc;

/// Pending output is written to the socket once it reaches this size.
pub(crate) const FLUSH_AT: usize = 64 << 10;
/// A body or streamed write at least this large is written from where it is, not
/// copied into the write buffer.
const COPY_MAX: usize = 16 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Nothing committed: status and headers can still change.
    Open,
    /// Streaming with the handler's own Content-Length; `written` counts against it.
    Length,
    /// Streaming with chunked framing (HTTP/1.1).
    Chunked,
    /// Streaming to an HTTP/1.0 client: the body ends when the connection closes.
    Close,
    /// Streaming where no body may go: HEAD (writes are dropped, as the body of a HEAD
    /// response is), or a 1xx/204/304 status (writes fail).
    NoBody,
    /// `finish` ran.
    Done,
}

/// The response to one request. Set the status and headers, then either give the whole
/// body with [`body`](Self::body) (Content-Length is set from it) or stream it through
/// [`std::io::Write`] (chunked for HTTP/1.1 unless the handler set Content-Length;
/// close-delimited for HTTP/1.0).
///
/// `Date` and `Server` are added unless the handler sets them; `Connection` is the
/// server's to manage (a handler's `Connection: close` is honoured); `Transfer-Encoding`
/// cannot be set.
///
/// ```no_run
/// use std::io::Write;
/// gmp_http::Server::bind("127.0.0.1:8080")?.serve(|req, res| {
///     if req.path() == "/stream" {
///         for i in 0..3 {
///             writeln!(res, "line {i}")?; // chunked
///         }
///     } else {
///         res.status(404).header("content-type", "text/plain").body("not here\n");
///     }
///     Ok(())
/// })
/// # ; Ok::<(), std::io::Error>(())
/// ```
pub struct Response<'c> {
    stream: &'c Transport<'c>,
    out: &'c mut Vec<u8>,
    /// Scratch for the header lines when the head is rebuilt (a status other than 200,
    /// or the handler's own `Date` or `Server`).
    head: &'c mut Vec<u8>,
    code: u16,
    body: Option<Bytes>,
    declared: Option<u64>,
    user_date: bool,
    user_server: bool,
    version: Version,
    is_head: bool,
    mode: Mode,
    written: u64,
    /// The response says `Connection: close`, and the connection closes after it.
    pub(crate) close: bool,
    /// Where this response starts in `out`.
    start: usize,
    /// The handler's header lines lie in `out[lines..lines_end]` (`lines_end` is the
    /// end of `out` while the response is open). `out[start..lines]` is the head of a
    /// 200 response, written when the response was made, so that the lines go straight
    /// after it; `finish` rebuilds the head if the response is not that.
    lines: usize,
    lines_end: usize,
    /// The second the advance head's Date names.
    dated: i64,
    /// Some of this response has reached the socket.
    pub(crate) flushed: bool,
    /// Set while a `timeout` runs the handler: who owns the socket, the response or the
    /// timeout's watchdog (see `middleware`).
    guard: Option<Arc<AtomicU8>>,
    /// The watchdog answered instead (a 503): nothing more goes out, the connection
    /// closes.
    pub(crate) abandoned: bool,
}

/// `guard` states. RUNNING: the handler runs and nothing of its response is on the
/// wire; SENDING: the response claimed the socket; TIMED_OUT: the watchdog did (and sent
/// its 503); DONE: the handler returned first.
pub(crate) const RUNNING: u8 = 0;
pub(crate) const SENDING: u8 = 1;
pub(crate) const TIMED_OUT: u8 = 2;
pub(crate) const DONE: u8 = 3;

impl<'c> Response<'c> {
    pub(crate) fn new(
        stream: &'c Transport<'c>,
        out: &'c mut Vec<u8>,
        head: &'c mut Vec<u8>,
        version: Version,
        is_head: bool,
        close: bool,
    ) -> Response<'c> {
        let start = out.len();
        let dated = date::append_200_head(out);
        Response {
            lines: start + date::HEAD_200_LEN,
            lines_end: usize::MAX,
            dated,
            stream,
            out,
            head,
            code: 200,
            body: None,
            declared: None,
            user_date: false,
            user_server: false,
            version,
            is_head,
            mode: Mode::Open,
            written: 0,
            close,
            start,
            flushed: false,
            guard: None,
            abandoned: false,
        }
    }

    /// Sets the status code (200 unless set). Ignored, with a warning, once the body
    /// has started streaming.
    ///
    /// # Panics
    /// If `code` is not in 100..=999.
    pub fn status(&mut self, code: u16) -> &mut Self {
        assert!(
            (100..=999).contains(&code),
            "gmp-http: status code {code} is not a three-digit number"
        );
        if self.committed("status") {
            return self;
        }
        self.code = code;
        self
    }

    /// Adds a header. Repeats are sent as given. `Content-Length` is taken as the
    /// length of a streamed body (or of the body a HEAD response describes).
    ///
    /// For names and values the handler wrote itself. A value that comes from the client
    /// (a header or query echoed back, a file name) goes through
    /// [`try_header`](Self::try_header), which returns an error instead of panicking.
    ///
    /// # Panics
    /// If the name is not a token, the value holds CR, LF, NUL or another control
    /// character but HTAB (any would let a value split the response), or the handler
    /// sets `Transfer-Encoding` or an invalid `Content-Length`.
    #[inline]
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        if let Err(e) = self.add_header(name, value) {
            bad_header(e, name, value);
        }
        self
    }

    /// [`header`](Self::header) that returns an `InvalidInput` error, saying what was
    /// wrong, where `header` would panic; the header is then not added. The form to use
    /// for values that come from the client.
    ///
    /// ```no_run
    /// gmp_http::Server::bind("127.0.0.1:8080")?.serve(|req, res| {
    ///     let name = req.query().unwrap_or("").to_string();
    ///     res.try_header("x-echo", &name)?; // a CR or LF in it: an error, not a panic
    ///     res.body("ok");
    ///     Ok(())
    /// })
    /// # ; Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_header(&mut self, name: &str, value: &str) -> io::Result<&mut Self> {
        match self.add_header(name, value) {
            Ok(()) => Ok(self),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                header_error(e, name, value),
            )),
        }
    }

    // Always inlined into `header` and `try_header`: as a call, ~19 instructions a header.
    #[inline(always)]
    fn add_header(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        if !valid_name(name.as_bytes()) {
            return Err(HeaderError::Name);
        }
        if !valid_value(value.as_bytes()) {
            return Err(HeaderError::Value);
        }
        if self.committed("header") {
            return Ok(());
        }
        let n = name.as_bytes();
        match special(n) {
            Special::None => {}
            Special::ContentLength => {
                let v = value.trim();
                let len = v
                    .parse::<u64>()
                    .ok()
                    .filter(|_| v.bytes().all(|b| b.is_ascii_digit()));
                self.declared = Some(len.ok_or(HeaderError::ContentLength)?);
                return Ok(());
            }
            Special::TransferEncoding => return Err(HeaderError::TransferEncoding),
            Special::Connection => {
                if value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"))
                {
                    self.close = true;
                }
                return Ok(());
            }
            Special::Date => self.user_date = true,
            Special::Server => self.user_server = true,
        }
        append_field(self.out, n, value.as_bytes());
        Ok(())
    }

    /// Sets the whole body; Content-Length follows from it. A `&'static str` or
    /// `&'static [u8]` is not copied (nor is a `String` or `Vec<u8>`, which move).
    ///
    /// # Panics
    /// If the body already started streaming through `Write`.
    pub fn body(&mut self, body: impl Into<Bytes>) -> &mut Self {
        assert!(
            self.mode == Mode::Open,
            "gmp-http: Response::body called after the body started streaming through Write"
        );
        self.body = Some(body.into());
        self
    }

    /// Takes the connection over, as Go's `Hijack` after a `101 Switching Protocols`:
    /// writes the 101 with `Upgrade: protocol`, `Connection: Upgrade` and the headers set
    /// so far (after any earlier pipelined responses, which go first), and returns the
    /// connection with the bytes the server had already read past the request's head
    /// (the client may have sent its first frames right behind it).
    ///
    /// From then on the connection is the handler's: the server no longer times it out
    /// or counts it idle, graceful shutdown waits for it within its grace (see
    /// [`Server::wait_for_upgraded`](crate::Server::wait_for_upgraded)), and it closes
    /// when the [`Upgraded`](crate::Upgraded) is dropped. Nothing more of this response
    /// is written.
    ///
    /// ```no_run
    /// use std::io::{Read, Write};
    /// gmp_http::Server::bind("127.0.0.1:8080")?.serve(|req, res| {
    ///     let (mut conn, first) = res.upgrade(req, "echo-bytes")?;
    ///     conn.write_all(&first)?;
    ///     let mut buf = [0u8; 4096];
    ///     while let Ok(n @ 1..) = conn.read(&mut buf) {
    ///         conn.write_all(&buf[..n])?;
    ///     }
    ///     Ok(())
    /// })
    /// # ; Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Errors: the response already started, `protocol` is not a valid header value, the
    /// request has a body, or the connection is gone.
    pub fn upgrade(
        &mut self,
        req: &mut crate::Request<'_>,
        protocol: &str,
    ) -> io::Result<(crate::Upgraded, Bytes)> {
        let fail = |why: &str| {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("gmp-http: cannot upgrade: {why}"),
            ))
        };
        if self.mode != Mode::Open || self.flushed {
            return fail("the response has started");
        }
        if protocol.is_empty() || !valid_value(protocol.as_bytes()) {
            return fail("invalid protocol name");
        }
        if req.has_body() {
            return fail("the request has a body");
        }
        let conn = self.stream.hand_over()?;
        let lines = &self.out[self.lines..];
        let mut head = Vec::with_capacity(128 + lines.len());
        head.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: ");
        head.extend_from_slice(protocol.as_bytes());
        head.extend_from_slice(b"\r\nConnection: Upgrade\r\n");
        head.extend_from_slice(lines);
        head.extend_from_slice(b"\r\n");
        self.mode = Mode::Done;
        self.close = true;
        // Earlier pipelined answers, then the 101 (in place of the 200 head written in
        // advance), on the connection now the handler's (over TLS, through its session).
        let mut conn = conn;
        let mut all = Vec::with_capacity(self.start + head.len());
        all.extend_from_slice(&self.out[..self.start]);
        all.extend_from_slice(&head);
        self.out.clear();
        io::Write::write_all(&mut conn, &all)?;
        // Nothing more of this response is written: its buffers go while the handler
        // keeps the connection (the buffer set gets them back in the pool). With the
        // request's buffer cut back, an idle WebSocket holds 8.3 KB less (compare.py
        // idle-ws: 22,031 -> 13,709 bytes per connection).
        *self.out = Vec::new();
        *self.head = Vec::new();
        Ok((conn, req.take_leftover()))
    }

    /// The status code set so far.
    pub fn status_code(&self) -> u16 {
        self.code
    }

    /// The handler's headers so far, as (name, value), in order. None once part of the
    /// response went to the socket (a streamed body flushed): they are not kept then.
    #[cfg_attr(not(feature = "http-types"), allow(dead_code))]
    pub(crate) fn header_lines(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let kept = match self.flushed {
            true => None,
            false => self.out.get(self.lines..self.lines_end.min(self.out.len())),
        };
        kept.unwrap_or_default()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|line| {
                // Lines are `name: value\r`, written by `header` from `&str`s.
                let line = std::str::from_utf8(line).ok()?;
                let line = line.strip_suffix('\r').unwrap_or(line);
                line.split_once(": ")
            })
    }

    #[cfg_attr(not(feature = "http-types"), allow(dead_code))]
    pub(crate) fn declared_length(&self) -> Option<u64> {
        self.declared
    }

    #[inline]
    fn committed(&self, what: &str) -> bool {
        if self.mode == Mode::Open {
            return false;
        }
        late(what);
        true
    }

    /// Appends the status line and headers, then `body` (a small body given whole goes in
    /// the same pass). Inlined into `finish` (the path of every response given whole) and
    /// `start_stream`: as a call its prologue and epilogue were 18 of its 93 instructions
    /// (callgrind; `#[inline]` alone was not taken).
    #[inline(always)]
    fn write_head(&mut self, length: Option<u64>, chunked: bool, body: &[u8]) {
        let out = &mut *self.out;
        if self.code == 200 && !self.user_server && !self.user_date {
            // The head written in advance stands, with the lines after it: nothing to
            // copy (the copy's loads of the lines just stored were 19% of `finish`'s
            // samples, `http16`). Its Date is brought to this second.
            date::refresh_200_head(out, self.start, self.dated);
        } else {
            // Another status line, or the handler's own Date or Server: the lines move
            // aside while the head is written again. The Date line comes from a
            // thread-local copy (a call that is not inlined): it goes in before `w`
            // exists, which keeps `w` in registers rather than in memory that the call
            // might see (4 instructions a response, callgrind).
            self.head.clear();
            self.head.extend_from_slice(&out[self.lines..]);
            out.truncate(self.start);
            out.reserve(160 + self.head.len() + body.len());
            put_status_line(&mut Spare::new(out, 0), self.code);
            if !self.user_server {
                out.extend_from_slice(b"Server: gmp\r\n");
            }
            if !self.user_date {
                out.extend_from_slice(b"Date: ");
                date::append(out);
                out.extend_from_slice(b"\r\n");
            }
            self.lines = out.len();
            out.extend_from_slice(self.head);
        }
        self.lines_end = out.len();
        out.reserve(96 + body.len());
        let mut w = Spare::new(out, 0);
        if let Some(n) = length {
            w.put(b"Content-Length: ");
            w.put_u64(n);
            w.put(b"\r\n");
        }
        if chunked {
            w.put(b"Transfer-Encoding: chunked\r\n");
        }
        match (self.version, self.close) {
            (Version::Http11, true) => w.put(b"Connection: close\r\n"),
            (Version::Http10, false) => w.put(b"Connection: keep-alive\r\n"),
            _ => {}
        }
        w.put(b"\r\n");
        w.put_var(body);
    }

    /// Commits the head for streaming.
    fn start_stream(&mut self) {
        if self.is_head || has_no_body(self.code) {
            let len = if has_no_body(self.code) {
                None
            } else {
                self.declared
            };
            self.write_head(len, false, &[]);
            self.mode = Mode::NoBody;
        } else if let Some(n) = self.declared {
            self.write_head(Some(n), false, &[]);
            self.mode = Mode::Length;
        } else if self.version == Version::Http11 {
            self.write_head(None, true, &[]);
            self.mode = Mode::Chunked;
        } else {
            self.close = true;
            self.write_head(None, false, &[]);
            self.mode = Mode::Close;
        }
    }

    /// Ends the response after the handler returned. An error means the response is
    /// broken on the wire (fewer bytes than its Content-Length): close the connection.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self.mode {
            Mode::Open => {
                let body = self.body.take().unwrap_or_default();
                if has_no_body(self.code) {
                    self.write_head(None, false, &[]);
                } else if self.is_head {
                    let len = if body.is_empty() {
                        self.declared.unwrap_or(0)
                    } else {
                        body.len() as u64
                    };
                    self.write_head(Some(len), false, &[]);
                } else {
                    let n = body.len() as u64;
                    if body.len() < COPY_MAX {
                        self.write_head(Some(n), false, &body);
                        if self.out.len() >= FLUSH_AT {
                            self.push()?;
                        }
                    } else {
                        self.write_head(Some(n), false, &[]);
                        self.append(&body)?;
                    }
                }
            }
            Mode::Length if self.written < self.declared.unwrap_or(0) => {
                self.mode = Mode::Done;
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "gmp-http: the handler wrote fewer bytes than its Content-Length",
                ));
            }
            Mode::Chunked => self.out.extend_from_slice(b"0\r\n\r\n"),
            _ => {}
        }
        self.mode = Mode::Done;
        Ok(())
    }

    /// Adds body bytes to the output: copied if small, else written straight out
    /// together with what is pending.
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() < COPY_MAX {
            self.out.extend_from_slice(data);
            if self.out.len() >= FLUSH_AT {
                self.push()?;
            }
            return Ok(());
        }
        self.claim()?;
        self.flushed = true;
        write_all_two(self.stream, self.out, data)
    }

    /// Writes out everything pending.
    fn push(&mut self) -> io::Result<()> {
        self.claim()?;
        self.flushed = true;
        write_all_two(self.stream, self.out, &[])
    }

    /// Before the response's first bytes go to the socket under a `timeout`: take the
    /// socket from the watchdog, or fail if it already answered.
    #[inline]
    fn claim(&mut self) -> io::Result<()> {
        match &self.guard {
            None => Ok(()),
            Some(g) => claim_slow(g),
        }
    }

    /// Writes out earlier pipelined responses still pending, before this one is
    /// committed (its advance head and header lines stay, moved to the front).
    pub(crate) fn flush_earlier(&mut self) -> io::Result<()> {
        debug_assert!(self.mode == Mode::Open);
        if self.start > 0 {
            self.stream.write_all(&self.out[..self.start])?;
            self.out.drain(..self.start);
            self.lines -= self.start;
            self.start = 0;
        }
        Ok(())
    }

    pub(crate) fn set_guard(&mut self, g: Option<Arc<AtomicU8>>) {
        self.guard = g;
    }

    /// The watchdog answered: drop whatever the handler left in the buffer; nothing
    /// more is written and the connection closes.
    pub(crate) fn abandon(&mut self) {
        self.out.truncate(self.start);
        self.mode = Mode::Done;
        self.abandoned = true;
        self.close = true;
    }

    /// The socket's descriptor, and whether plain bytes may be written to it (not under
    /// TLS, whose session the handler's goroutine owns).
    pub(crate) fn raw_fd(&self) -> (std::os::fd::RawFd, bool) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(self.stream.socket());
        (fd, self.stream.tls_info().is_none())
    }

    pub(crate) fn is_head(&self) -> bool {
        self.is_head
    }

    /// Body bytes of this response so far: the whole body given to `body`, or what was
    /// streamed (none for HEAD).
    pub(crate) fn body_bytes(&self) -> u64 {
        match (&self.body, self.mode) {
            _ if self.is_head => 0,
            (Some(b), Mode::Open) => b.len() as u64,
            _ => self.written,
        }
    }

    /// Drops this response's bytes if none reached the socket (for the 500 after a
    /// panic). Returns whether it could.
    pub(crate) fn discard(&mut self) -> bool {
        if self.flushed {
            return false;
        }
        self.out.truncate(self.start);
        self.mode = Mode::Done;
        true
    }
}

#[cold]
fn claim_slow(g: &AtomicU8) -> io::Result<()> {
    // SeqCst, as every access to a guard: the handler's claim and the watchdog's CAS
    // decide who writes to the socket, and the middleware's final CAS reads the winner.
    match g.compare_exchange(RUNNING, SENDING, SeqCst, SeqCst) {
        Ok(_) | Err(SENDING) => Ok(()),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "gmp-http: the handler ran out of time; the client got a 503",
        )),
    }
}

impl Write for Response<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.mode == Mode::Open {
            self.start_stream();
        }
        match self.mode {
            Mode::NoBody if self.is_head => return Ok(buf.len()),
            Mode::NoBody => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("gmp-http: a {} response has no body", self.code),
                ))
            }
            Mode::Done => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "gmp-http: the response is finished",
                ))
            }
            Mode::Length => {
                let limit = self.declared.unwrap_or(0);
                if self.written + buf.len() as u64 > limit {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("gmp-http: writing past the declared Content-Length of {limit}"),
                    ));
                }
                self.append(buf)?;
            }
            Mode::Chunked => {
                // An empty chunk would end the body.
                if buf.is_empty() {
                    return Ok(0);
                }
                append_hex(self.out, buf.len() as u64);
                self.out.extend_from_slice(b"\r\n");
                self.append(buf)?;
                self.out.extend_from_slice(b"\r\n");
            }
            Mode::Close => self.append(buf)?,
            Mode::Open => unreachable!("start_stream left Open"),
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    /// Sends the head (if not yet) and everything written so far.
    fn flush(&mut self) -> io::Result<()> {
        if self.mode == Mode::Open {
            self.start_stream();
        }
        self.push()
    }
}

impl std::fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.code)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Writes `a` then `b` completely, with vectored writes, and clears `a`.
pub(crate) fn write_all_two(s: &Transport<'_>, a: &mut Vec<u8>, b: &[u8]) -> io::Result<()> {
    if b.is_empty() {
        // One buffer: `send`, which is cheaper in the kernel than `writev`.
        s.write_all(a)?;
        a.clear();
        return Ok(());
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let bufs = [IoSlice::new(&a[i..]), IoSlice::new(&b[j..])];
        let n = match s.write_vectored(&bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from_a = n.min(a.len() - i);
        i += from_a;
        j += n - from_a;
    }
    a.clear();
    Ok(())
}

/// Appends a complete error response (the server's own: a malformed request, a panic).
/// The response to a HEAD request keeps its headers, `Content-Length` included (what a
/// GET would have got), and has no body (RFC 9110 §9.3.2).
pub(crate) fn write_error(out: &mut Vec<u8>, code: u16, why: &str, is_head: bool) {
    put_status_line(&mut Spare::new(out, 200 + why.len()), code);
    out.extend_from_slice(b"Server: gmp\r\nDate: ");
    date::append(out);
    let mut w = Spare::new(out, 0);
    w.put(b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    w.put_u64(why.len() as u64 + 1);
    w.put(b"\r\nConnection: close\r\n\r\n");
    if !is_head {
        w.put(why.as_bytes());
        w.put(b"\n");
    }
}

/// Why a header was not added.
#[derive(Clone, Copy, Debug)]
enum HeaderError {
    Name,
    Value,
    ContentLength,
    TransferEncoding,
}

/// What was wrong with a header, for `try_header`'s error and `header`'s panic.
#[cold]
#[inline(never)]
fn header_error(e: HeaderError, name: &str, value: &str) -> String {
    match e {
        HeaderError::Name => format!("gmp-http: invalid header name {name:?}"),
        HeaderError::Value => format!(
            "gmp-http: the value of header {name:?} contains a control character (CR, LF, NUL...): {value:?}"
        ),
        HeaderError::ContentLength => format!("gmp-http: invalid Content-Length {value:?}"),
        HeaderError::TransferEncoding => {
            "gmp-http: Transfer-Encoding is set by the server (stream through Write for chunked)"
                .to_string()
        }
    }
}

/// The panic for an invalid header, out of line: the formatting machinery would
/// otherwise sit in `header`'s frame on every call.
#[cold]
#[inline(never)]
fn bad_header(e: HeaderError, name: &str, value: &str) -> ! {
    panic!("{}", header_error(e, name, value));
}

/// The warning for a status or header set after the head went out: out of line, so the
/// check in `status` and `header` inlines into the handler (as a call, 15 instructions a
/// header).
#[cold]
#[inline(never)]
fn late(what: &str) {
    tracing::warn!("gmp-http: Response::{what} after the head was sent is ignored");
}

/// Headers the server treats specially.
enum Special {
    None,
    ContentLength,
    TransferEncoding,
    Connection,
    Date,
    Server,
}

/// Appends `name: value` CRLF to `v` with one capacity check, where four
/// `extend_from_slice` calls made four (with `header` inlined and a constant name and
/// value, the whole line becomes a few stores).
#[inline(always)]
fn append_field(v: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let n = name.len() + value.len() + 4;
    v.reserve(n);
    let at = v.len();
    // SAFETY: `reserve` made room for `n` more bytes past `at`, and the four copies
    // below write exactly `n` bytes there (name, ": ", value, CRLF) before `set_len`
    // counts them; the sources are other allocations or constants, never `v`.
    unsafe {
        let p = v.as_mut_ptr().add(at);
        std::ptr::copy_nonoverlapping(name.as_ptr(), p, name.len());
        let p = p.add(name.len());
        p.cast::<[u8; 2]>().write_unaligned(*b": ");
        let p = p.add(2);
        std::ptr::copy_nonoverlapping(value.as_ptr(), p, value.len());
        p.add(value.len())
            .cast::<[u8; 2]>()
            .write_unaligned(*b"\r\n");
        v.set_len(at + n);
    }
}

#[inline(always)]
fn special(n: &[u8]) -> Special {
    let is = |name: &[u8]| eq_lower(n, name);
    match n.len() {
        4 if is(b"date") => Special::Date,
        6 if is(b"server") => Special::Server,
        10 if is(b"connection") => Special::Connection,
        14 if is(b"content-length") => Special::ContentLength,
        17 if is(b"transfer-encoding") => Special::TransferEncoding,
        _ => Special::None,
    }
}
