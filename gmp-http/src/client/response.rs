//! The client's `Response`: status and headers, and the body as a reader that hands its
//! connection back to the pool once the body has been read to its end.

use super::conn::Conn;
use super::{Deadline, Inner};
use crate::h1::chunked::Decoder;
use crate::h1::response_head::BodyKind;
use crate::h1::Version;
use std::io::{self, Read};
use std::sync::Arc;

/// Reads this large or larger go straight into the caller's buffer when nothing is
/// buffered.
const DIRECT_READ: usize = 4096;
/// Trailer fields read and dropped after a chunked body, at most.
const MAX_TRAILER: usize = 64 << 10;

/// A response from a [`Client`](crate::Client). The body is read through
/// [`body`](Response::body) (an `io::Read`), [`text`](Response::text) or
/// [`bytes`](Response::bytes); the connection goes back to the client's pool when the
/// body has been read to its end. Dropped with body bytes still unread, the response
/// closes its connection unless what is left is already buffered.
pub struct Response {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) version: Version,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) url: String,
    pub(crate) body: Body,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase the server sent (may be empty).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The first header named `name` (case-insensitive), if its value is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Every header in order, as (name, value bytes), repeats included.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The URL this response came from (after redirects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The body, as a reader that ends where the body ends.
    pub fn body(&mut self) -> &mut Body {
        &mut self.body
    }

    /// The body as a reader, owned.
    pub fn into_body(self) -> Body {
        self.body
    }

    /// The rest of the body.
    pub fn bytes(&mut self) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.body.read_to_end(&mut v)?;
        Ok(v)
    }

    /// The rest of the body as text (invalid UTF-8 is an `InvalidData` error).
    pub fn text(&mut self) -> io::Result<String> {
        String::from_utf8(self.bytes()?).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the body is not UTF-8: {e}"),
            )
        })
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url)
            .field("headers", &self.headers.len())
            .finish_non_exhaustive()
    }
}

/// Where the body reader is.
pub(crate) enum State {
    Length(u64),
    Chunked(Box<Decoder>),
    Close,
    Done,
}

/// A response body: see [`Response::body`].
pub struct Body {
    conn: Option<Conn>,
    state: State,
    keep_alive: bool,
    pool: Option<Arc<Inner>>,
    deadline: Deadline,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("done", &matches!(self.state, State::Done))
            .finish_non_exhaustive()
    }
}

impl Body {
    pub(crate) fn new(
        conn: Conn,
        kind: BodyKind,
        keep_alive: bool,
        pool: Arc<Inner>,
        deadline: Deadline,
    ) -> Body {
        let state = match kind {
            BodyKind::Length(n) => State::Length(n),
            BodyKind::Chunked => State::Chunked(Box::new(Decoder::new(MAX_TRAILER))),
            BodyKind::Close => State::Close,
        };
        let mut b = Body {
            conn: Some(conn),
            state,
            keep_alive,
            pool: Some(pool),
            deadline,
        };
        if matches!(b.state, State::Length(0)) {
            b.finish();
        }
        b
    }

    /// The body ended: the connection goes back to the pool if it can carry another
    /// request.
    fn finish(&mut self) {
        self.state = State::Done;
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        // Bytes past the end of the response: the server is not speaking HTTP/1.1 as
        // agreed, and the connection is not reused.
        if self.keep_alive && conn.start == conn.end {
            conn.reset_buffer();
            if let Some(pool) = self.pool.take() {
                pool.put(conn);
            }
        }
    }

    /// The connection is unusable (a framing error, a failed read).
    fn broken(&mut self, e: io::Error) -> io::Error {
        self.state = State::Done;
        self.conn = None;
        e
    }

    fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(0);
            };
            let buffered = conn.end - conn.start;
            match &mut self.state {
                State::Done => return Ok(0),
                State::Length(0) => {
                    self.finish();
                    return Ok(0);
                }
                State::Length(left) => {
                    let want = (out.len() as u64).min(*left) as usize;
                    let n = if buffered > 0 {
                        let n = want.min(buffered);
                        out[..n].copy_from_slice(&conn.buf[conn.start..conn.start + n]);
                        conn.start += n;
                        n
                    } else if want >= DIRECT_READ {
                        let t = self.deadline.remaining(None)?;
                        match conn.read_direct(&mut out[..want], t) {
                            Ok(0) => return Err(self.broken(cut_short())),
                            Ok(n) => n,
                            Err(e) => {
                                return Err(self
                                    .broken(self.deadline.explain(e, "reading the response body")))
                            }
                        }
                    } else {
                        self.fill()?;
                        continue;
                    };
                    *left -= n as u64;
                    if *left == 0 {
                        self.finish();
                    }
                    return Ok(n);
                }
                State::Chunked(dec) => {
                    if buffered > 0 {
                        let (used, n) = match dec.decode(&conn.buf[conn.start..conn.end], out) {
                            Ok(v) => v,
                            Err(why) => {
                                return Err(self.broken(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    format!("bad chunked body from the server: {why}"),
                                )))
                            }
                        };
                        conn.start += used;
                        if dec.is_done() {
                            self.finish();
                            return Ok(n);
                        }
                        if n > 0 {
                            return Ok(n);
                        }
                    } else if dec.in_data() && out.len() >= DIRECT_READ {
                        let want = (out.len() as u64).min(dec.remaining) as usize;
                        let t = self.deadline.remaining(None)?;
                        match conn.read_direct(&mut out[..want], t) {
                            Ok(0) => return Err(self.broken(cut_short())),
                            Ok(n) => {
                                dec.consumed_data(n);
                                return Ok(n);
                            }
                            Err(e) => {
                                return Err(self
                                    .broken(self.deadline.explain(e, "reading the response body")))
                            }
                        }
                    }
                    self.fill()?;
                }
                State::Close => {
                    if buffered > 0 {
                        let n = out.len().min(buffered);
                        out[..n].copy_from_slice(&conn.buf[conn.start..conn.start + n]);
                        conn.start += n;
                        return Ok(n);
                    }
                    let t = self.deadline.remaining(None)?;
                    return match conn.read_direct(out, t) {
                        Ok(0) => {
                            // The body ends with the connection, which is not reused.
                            self.state = State::Done;
                            self.conn = None;
                            Ok(0)
                        }
                        Ok(n) => Ok(n),
                        Err(e) => {
                            Err(self.broken(self.deadline.explain(e, "reading the response body")))
                        }
                    };
                }
            }
        }
    }

    /// Reads more of the body into the connection's buffer; end of stream here is a body
    /// cut short.
    fn fill(&mut self) -> io::Result<()> {
        let t = self.deadline.remaining(None)?;
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        match conn.fill(t, MAX_TRAILER + DIRECT_READ) {
            Ok(0) => Err(self.broken(cut_short())),
            Ok(_) => Ok(()),
            Err(e) => Err(self.broken(self.deadline.explain(e, "reading the response body"))),
        }
    }

    /// What is left of the body is all buffered: read it here so the connection can be
    /// reused. Never waits on the network.
    fn finish_from_buffer(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let buffered = conn.end - conn.start;
        match &mut self.state {
            State::Length(left) if *left <= buffered as u64 => {
                conn.start += *left as usize;
                self.finish();
            }
            State::Chunked(dec) => {
                let mut sink = [0u8; 1024];
                while conn.start < conn.end && !dec.is_done() {
                    match dec.decode(&conn.buf[conn.start..conn.end], &mut sink) {
                        Ok((used, _)) if used > 0 => conn.start += used,
                        Ok((_, n)) if n > 0 => {}
                        _ => break,
                    }
                }
                if dec.is_done() {
                    self.finish();
                }
            }
            _ => {}
        }
    }
}

fn cut_short() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the server closed the connection before the response body ended",
    )
}

impl Read for Body {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_body(out)
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if !matches!(self.state, State::Done) {
            self.finish_from_buffer();
        }
    }
}
