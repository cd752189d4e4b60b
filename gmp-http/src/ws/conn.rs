//! What tungstenite reads and writes under the WebSocket's lock ([`Conn`]), and how the
//! reader waits for input outside it ([`Socket::wait_and_read`]).
//!
//! The reader must not hold the lock while it waits for the network, so that other
//! goroutines can send meanwhile. On a plain TCP connection it does the waiting *and*
//! the socket read outside the lock, into a chunk from its thread's pool, and then hands
//! the bytes to tungstenite through the [`Inbox`]; under the lock tungstenite reads
//! only the inbox, and an empty inbox is `WouldBlock`. Two things follow, both measured
//! with `scripts/ws-compare.sh`:
//!
//! - One `recv` per message. The socket is read with gmp-net's parking read, whose
//!   drained rule (a short read means the socket is empty: the next read parks before
//!   its syscall) spares the `recv` that would only return `EAGAIN`.
//! - No busy loop. The reader used to pair `TcpStream::try_read` under the lock with
//!   `TcpStream::readable` outside it. `readable` returns at once while the socket's
//!   readiness flag is set, and a `try_read` never clears it, so a flag left by data
//!   that a `try_read` had already taken (data that arrived while the reader ran) sent
//!   the reader round `try_read` → `EAGAIN` → `readable` until the next message came
//!   (strace over 3 s of `ws-load` at 100 connections: 6.6 `recvfrom`s that failed
//!   with `EAGAIN` per message sent, and 391 `epoll_wait`s for 42,232 messages). A
//!   parking read clears the flag when its syscall finds nothing, then parks.
//!
//! Over TLS the bytes must go through the session, which lives under the lock with
//! tungstenite; there the reader reads with non-parking socket reads under the lock and
//! waits outside it with a one-byte `peek`, which parks as a read does (clearing a stale
//! readiness flag first).
//!
//! An idle WebSocket holds no chunk: the reader first parks in `readable` (which, after
//! the short read that emptied the socket, does park), takes a chunk only once bytes are
//! there, and gives it back as soon as tungstenite has read it all.

use crate::transport::{Owner, Upgraded};
use gmp_net::TcpStream;
use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// How long a WebSocket that failed keeps reading and dropping what the peer sends, so
/// that its close frame is not destroyed by a reset (the HTTP server's `LINGER`).
const LINGER: Duration = crate::transport::LINGER;

/// The most one socket read of a plain connection takes: a chunk from the pool. Larger
/// than tungstenite's own buffer since a chunk is held only while its bytes are being
/// read, never by an idle connection; 16 KiB takes a large message in a quarter of the
/// `recv`s of 4 KiB.
const CHUNK: usize = 16 << 10;
/// Chunks a thread keeps for its readers (256 KiB).
const POOL_MAX: usize = 16;

thread_local! {
    /// Read chunks, each `CHUNK` long and initialised, ready for the next reader that
    /// wakes on this thread. A reader takes one after it wakes and gives it back before
    /// it parks again, so none is borrowed across a park.
    static CHUNKS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

fn chunk_take() -> Vec<u8> {
    CHUNKS
        .try_with(|c| c.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0; CHUNK])
}

fn chunk_give(b: Vec<u8>) {
    let _ = CHUNKS.try_with(|c| {
        let mut c = c.borrow_mut();
        if c.len() < POOL_MAX {
            c.push(b);
        }
    });
}

/// What a WebSocket runs over.
pub(super) enum Stream {
    /// A server's upgraded connection.
    Server(Upgraded),
    /// A client's connection (shared with the reader's wait).
    Client(ClientSock),
    #[cfg(feature = "tls")]
    ClientTls(Box<gmp_net::tls::TlsStream<ClientSock>>),
}

/// A client's socket, with the non-parking switch the reads under the lock use (over
/// TLS).
pub(super) struct ClientSock {
    pub(super) tcp: Arc<TcpStream>,
    pub(super) nonblocking: bool,
}

impl Read for ClientSock {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        if self.nonblocking {
            return self.tcp.try_read(b);
        }
        (&mut &*self.tcp).read(b)
    }
}

impl Write for ClientSock {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        (&mut &*self.tcp).write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream {
    fn is_tls(&self) -> bool {
        match self {
            Stream::Server(u) => u.tls().is_some(),
            Stream::Client(_) => false,
            #[cfg(feature = "tls")]
            Stream::ClientTls(_) => true,
        }
    }

    /// Reads return `WouldBlock` instead of parking while this is on.
    fn set_nonblocking(&mut self, on: bool) {
        match self {
            Stream::Server(u) => u.set_nonblocking(on),
            Stream::Client(c) => c.nonblocking = on,
            #[cfg(feature = "tls")]
            Stream::ClientTls(t) => t.get_mut().nonblocking = on,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Server(u) => u.read(b),
            Stream::Client(c) => c.read(b),
            #[cfg(feature = "tls")]
            Stream::ClientTls(t) => t.read(b),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Server(u) => u.write(b),
            Stream::Client(c) => c.write(b),
            #[cfg(feature = "tls")]
            Stream::ClientTls(t) => t.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Server(u) => u.flush(),
            Stream::Client(c) => c.flush(),
            #[cfg(feature = "tls")]
            Stream::ClientTls(t) => t.flush(),
        }
    }
}

/// Bytes a plain connection's reader took off the socket outside the lock, for
/// tungstenite to read under it.
#[derive(Default)]
pub(super) struct Inbox {
    /// A pooled chunk (empty `Vec` when none is held); the bytes lie in `[start, end)`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The peer closed its side: after the bytes, reads return `Ok(0)`.
    eof: bool,
    /// The last socket read filled its chunk: more may be waiting in the socket (the
    /// drained rule, for `WebSocket::try_read`).
    more: bool,
}

impl Inbox {
    /// What the reader read outside the lock: `n` bytes at the front of `chunk`, or the
    /// end of the stream.
    pub(super) fn fill(&mut self, chunk: Vec<u8>, n: usize) {
        debug_assert!(self.start == self.end, "filled before it was read");
        self.release();
        self.more = n == chunk.len();
        if n == 0 {
            self.eof = true;
            chunk_give(chunk);
            return;
        }
        self.buf = chunk;
        (self.start, self.end) = (0, n);
    }

    /// Whether the socket may hold more than the inbox took (see `more`).
    pub(super) fn more(&self) -> bool {
        self.more
    }

    /// Gives the chunk back to the pool once its bytes are read.
    pub(super) fn release_if_read(&mut self) {
        if self.start == self.end {
            self.release();
        }
    }

    fn release(&mut self) {
        if !self.buf.is_empty() {
            chunk_give(std::mem::take(&mut self.buf));
        }
        (self.start, self.end) = (0, 0);
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.release();
    }
}

/// What tungstenite reads and writes: the stream, and (plain TCP) the reader's inbox.
pub(super) struct Conn {
    pub(super) stream: Stream,
    pub(super) inbox: Inbox,
    /// Set while tungstenite reads under the lock: reads never park. Off, reads are the
    /// stream's own (the client's handshake, `linger`).
    locked: bool,
    tls: bool,
}

impl Conn {
    pub(super) fn new(stream: Stream) -> Conn {
        let tls = stream.is_tls();
        Conn {
            stream,
            inbox: Inbox::default(),
            locked: false,
            tls,
        }
    }

    /// Reads under the lock from now (`true`) or until the next time (`false`).
    pub(super) fn set_locked(&mut self, on: bool) {
        self.locked = on;
        if self.tls {
            self.stream.set_nonblocking(on);
        }
    }

    /// Stops writing, then reads and drops input until the peer closes or `LINGER` ends.
    pub(super) fn linger(&mut self) {
        self.set_locked(false);
        let _ = match &mut self.stream {
            Stream::Server(u) => u
                .shutdown(gmp_net::Shutdown::Write)
                .and(u.set_read_timeout(Some(LINGER))),
            Stream::Client(c) => c
                .tcp
                .shutdown(gmp_net::Shutdown::Write)
                .and(c.tcp.set_read_timeout(Some(LINGER))),
            #[cfg(feature = "tls")]
            Stream::ClientTls(t) => {
                let _ = t.close_notify();
                let tcp = &t.get_ref().tcp;
                tcp.shutdown(gmp_net::Shutdown::Write)
                    .and(tcp.set_read_timeout(Some(LINGER)))
            }
        };
        let started = std::time::Instant::now();
        // On the heap: a 16 KiB array here made every `WebSocket::read`, into which
        // this is inlined, probe (and so keep resident) four more pages of stack.
        let mut scratch = vec![0u8; 16 << 10];
        while started.elapsed() < LINGER {
            match self.stream.read(&mut scratch) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        if !self.locked || self.tls {
            return self.stream.read(b);
        }
        let i = &mut self.inbox;
        if i.start < i.end {
            let n = b.len().min(i.end - i.start);
            b[..n].copy_from_slice(&i.buf[i.start..i.start + n]);
            i.start += n;
            return Ok(n);
        }
        if i.eof {
            return Ok(0);
        }
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.stream.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// The connection's socket, for the reader's wait outside the lock.
pub(super) struct Socket {
    handle: Handle,
    tls: bool,
}

enum Handle {
    Server(Arc<dyn Owner>),
    Client(Arc<TcpStream>),
}

/// What the reader got while it waited outside the lock.
pub(super) enum Input {
    /// A plain connection: the chunk and how many bytes of it were read (0: the end).
    Bytes(Vec<u8>, usize),
    /// Over TLS: the socket has bytes (or its end) for the session to read.
    Ready,
}

impl Socket {
    pub(super) fn server(owner: Arc<dyn Owner>, tls: bool) -> Socket {
        Socket {
            handle: Handle::Server(owner),
            tls,
        }
    }

    pub(super) fn client(tcp: Arc<TcpStream>, tls: bool) -> Socket {
        Socket {
            handle: Handle::Client(tcp),
            tls,
        }
    }

    pub(super) fn tcp(&self) -> &TcpStream {
        match &self.handle {
            Handle::Server(o) => o.socket(),
            Handle::Client(t) => t,
        }
    }

    /// Parks until the peer sends (see the module's doc); on a plain connection, reads
    /// what it sent.
    pub(super) fn wait_and_read(&self) -> io::Result<Input> {
        let tcp = self.tcp();
        if self.tls {
            tcp.peek(&mut [0u8; 1])?;
            return Ok(Input::Ready);
        }
        // No chunk is held while the connection is quiet.
        tcp.readable()?;
        self.read_chunk(|tcp, chunk| (&mut &*tcp).read(chunk))
            .map(|(chunk, n)| Input::Bytes(chunk, n))
    }

    /// On a plain connection, reads what the socket holds without waiting: `None` if
    /// nothing. Over TLS, `None`: the reads under the lock took what there was.
    pub(super) fn read_now(&self) -> io::Result<Option<Input>> {
        if self.tls {
            return Ok(None);
        }
        match self.read_chunk(|tcp, chunk| tcp.try_read(chunk)) {
            Ok((chunk, n)) => Ok(Some(Input::Bytes(chunk, n))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A socket read into a chunk from the pool (which goes back on an error).
    fn read_chunk(
        &self,
        read: impl FnOnce(&TcpStream, &mut [u8]) -> io::Result<usize>,
    ) -> io::Result<(Vec<u8>, usize)> {
        let mut chunk = chunk_take();
        match read(self.tcp(), &mut chunk) {
            Ok(n) => Ok((chunk, n)),
            Err(e) => {
                chunk_give(chunk);
                Err(e)
            }
        }
    }
}
