//! One client connection: its stream, its read buffer, and the exchange of one request
//! for one response head, under the request's deadlines.
//!
//! The read buffer outlives a response: bytes read past a response's end (there should
//! be none; a server that sends them loses the connection) and the unread part of a body
//! are in `buf[start..end]`.

use super::Deadline;
use crate::h1::fields::MAX_FIELDS;
use crate::h1::response_head::{self, ResponseHead};
use gmp_net::TcpStream;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

/// What a connection reads from and writes to.
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<gmp_net::tls::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_ref(),
        }
    }

    fn set_timeouts(
        &self,
        read: Option<std::time::Duration>,
        write: Option<std::time::Duration>,
    ) -> io::Result<()> {
        let s = self.tcp();
        s.set_read_timeout(read)?;
        s.set_write_timeout(write)
    }
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(b),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(b),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(b),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(b),
        }
    }
    fn write_vectored(&mut self, b: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(b),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write_vectored(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Which pool a connection belongs to: (https, host, port).
pub(crate) type Key = (bool, String, u16);

/// A connection to one origin.
pub(crate) struct Conn {
    pub stream: Stream,
    pub key: Key,
    pub buf: Vec<u8>,
    pub start: usize,
    pub end: usize,
    /// It served a request before (a failure before any response byte may then be the
    /// server having closed it while idle: the retry rule).
    pub reused: bool,
    /// Since when it has been idle in the pool.
    pub idle_since: Instant,
}

/// How an exchange failed: the error, and whether it happened before the server could
/// have seen the request (nothing written) or before any response byte arrived.
pub(crate) struct Failure {
    pub error: io::Error,
    pub nothing_written: bool,
    pub no_response: bool,
}

const READ_BUF: usize = 8 << 10;

impl Conn {
    pub(crate) fn new(stream: Stream, key: Key) -> Conn {
        Conn {
            stream,
            key,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            reused: false,
            idle_since: Instant::now(),
        }
    }

    /// Whether the server closed (or wrote to) the connection while it was idle: a
    /// non-blocking peek that finds end of stream or unexpected bytes. One `recv` with
    /// `MSG_PEEK | MSG_DONTWAIT`, no parking. (Under TLS, bytes waiting are taken as a
    /// closing alert too: a server has nothing else to say to an idle connection.)
    pub(crate) fn looks_alive(&self) -> bool {
        if self.start != self.end {
            return false; // bytes nobody asked for
        }
        let mut b = [0u8; 1];
        let fd = self.stream.tcp().as_raw_fd();
        // SAFETY: a valid socket descriptor owned by this connection and a 1-byte buffer
        // of that length; MSG_DONTWAIT keeps the call from blocking.
        let n = unsafe {
            libc::recv(
                fd,
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }

    /// Writes the request head and a body held in memory, in as few writes as it takes.
    pub(crate) fn write_all(
        &mut self,
        head: &[u8],
        body: &[u8],
        dl: &Deadline,
    ) -> Result<(), Failure> {
        let (mut i, mut j) = (0, 0);
        while i < head.len() || j < body.len() {
            self.arm_write(dl).map_err(|e| fail(e, i == 0, true))?;
            let bufs = [IoSlice::new(&head[i..]), IoSlice::new(&body[j..])];
            let n = match self.stream.write_vectored(&bufs) {
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            }
            .map_err(|e| fail(dl.explain(e, "writing the request"), i == 0 && j == 0, true))?;
            let from_head = n.min(head.len() - i);
            i += from_head;
            j += n - from_head;
        }
        Ok(())
    }

    /// Writes the request head, then `body` in chunked framing as it reads it.
    pub(crate) fn write_chunked(
        &mut self,
        head: &[u8],
        body: &mut dyn Read,
        dl: &Deadline,
    ) -> Result<(), Failure> {
        self.write_all(head, &[], dl)?;
        let mut chunk = vec![0u8; 16 << 10];
        loop {
            let n = loop {
                match body.read(&mut chunk) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(fail(
                            io::Error::new(e.kind(), format!("reading the request body: {e}")),
                            false,
                            true,
                        ))
                    }
                }
            };
            let mut framed = Vec::with_capacity(n + 16);
            crate::h1::status::append_hex(&mut framed, n as u64);
            framed.extend_from_slice(b"\r\n");
            if n == 0 {
                framed.extend_from_slice(b"\r\n");
                return self.write_more(&framed, &[], dl);
            }
            self.write_more(&framed, &chunk[..n], dl)?;
            self.write_more(b"\r\n", &[], dl)?;
        }
    }

    /// `write_all` for bytes after the first: a failure is never "nothing written".
    fn write_more(&mut self, a: &[u8], b: &[u8], dl: &Deadline) -> Result<(), Failure> {
        self.write_all(a, b, dl).map_err(|mut f| {
            f.nothing_written = false;
            f
        })
    }

    fn arm_write(&self, dl: &Deadline) -> io::Result<()> {
        let t = dl.remaining(None)?;
        self.stream.set_timeouts(t, t)
    }

    /// Reads a response head (skipping 1xx interim responses but 101) within the
    /// deadlines and `max_head` bytes.
    pub(crate) fn read_head(
        &mut self,
        head_request: bool,
        max_head: usize,
        dl: &Deadline,
    ) -> Result<ResponseHead, Failure> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut got_any = false;
        loop {
            match response_head::parse(&self.buf[self.start..self.end], head_request, &mut slots) {
                Ok(Some(h)) => {
                    self.start += h.len;
                    if (100..200).contains(&h.status) && h.status != 101 {
                        continue;
                    }
                    return Ok(h);
                }
                Ok(None) => {}
                Err(r) => {
                    return Err(fail(
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("bad response from the server: {}", r.why),
                        ),
                        false,
                        false,
                    ))
                }
            }
            if self.end - self.start >= max_head {
                return Err(fail(
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the response head is larger than {max_head} bytes"),
                    ),
                    false,
                    false,
                ));
            }
            let n = self
                .fill(
                    dl.remaining(None).map_err(|e| fail(e, false, !got_any))?,
                    max_head,
                )
                .map_err(|e| {
                    fail(
                        dl.explain(e, "waiting for the response head"),
                        false,
                        !got_any,
                    )
                })?;
            if n == 0 {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    if got_any {
                        "the server closed the connection in the middle of the response head"
                    } else {
                        "the server closed the connection without a response"
                    },
                );
                return Err(fail(e, false, !got_any));
            }
            got_any = true;
        }
    }

    /// One read into the buffer (moving unread bytes to its front, growing it up to
    /// `max` bytes if it is full). Returns the bytes read; 0 at end of stream.
    pub(crate) fn fill(
        &mut self,
        timeout: Option<std::time::Duration>,
        max: usize,
    ) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let len = (self.buf.len() * 2).min(max.max(READ_BUF) + READ_BUF);
            if len <= self.buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "read buffer full",
                ));
            }
            self.buf.resize(len, 0);
        }
        self.stream.set_timeouts(timeout, timeout)?;
        let end = self.end;
        let n = self.stream.read(&mut self.buf[end..])?;
        self.end += n;
        Ok(n)
    }

    /// Reads into `out` past the buffer (for large body reads).
    pub(crate) fn read_direct(
        &mut self,
        out: &mut [u8],
        timeout: Option<std::time::Duration>,
    ) -> io::Result<usize> {
        self.stream.set_timeouts(timeout, timeout)?;
        self.stream.read(out)
    }

    /// Back to the pool's shape: an empty, default-sized buffer.
    pub(crate) fn reset_buffer(&mut self) {
        self.start = 0;
        self.end = 0;
        if self.buf.len() > READ_BUF {
            self.buf.truncate(READ_BUF);
            self.buf.shrink_to_fit();
        }
    }
}

fn fail(error: io::Error, nothing_written: bool, no_response: bool) -> Failure {
    Failure {
        error,
        nothing_written,
        no_response,
    }
}
