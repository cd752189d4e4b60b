//! What a server connection reads and writes: its TCP socket, or TLS over it (cargo
//! feature `tls`); and [`Upgraded`], the connection a handler takes over after a 101.
//!
//! The request and the response of one exchange both use the connection (the body is
//! read while the response is written), and they run on the connection's goroutine
//! only; so the TLS session sits in a `RefCell` borrowed for the length of one read or
//! write, never across a call back into the handler. Without the `tls` feature this is a
//! `&TcpStream` and nothing more.
//!
//! The invariant of an upgrade: the connection's socket is owned by its registry entry
//! (`Owner`), and whoever uses it holds that entry: the connection's goroutine while it
//! serves requests, then the `Upgraded` it handed the connection to, which also ends the
//! registration when it is dropped. The TLS session moves into the `Upgraded` with it;
//! its `SockRef` points into the entry the `Upgraded` keeps alive.

use gmp_net::TcpStream;
use std::cell::Cell;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

#[cfg(feature = "tls")]
use gmp_net::tls::TlsStream;
#[cfg(feature = "tls")]
use std::cell::RefCell;

/// What a handler can learn about a connection's TLS: see
/// [`Request::tls`](crate::Request::tls).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The server name the client asked for (SNI), if it sent one.
    pub server_name: Option<String>,
    /// The application protocol agreed on (ALPN): `http/1.1` when the client offered it.
    pub alpn: Option<String>,
    /// The TLS version, as rustls names it (`TLSv1_3`, `TLSv1_2`).
    pub version: String,
}

/// After an error response, how long the connection keeps reading (and dropping) what
/// the client still sends, so that closing does not reset the connection before the
/// client has read the response (Go's `rstAvoidanceDelay` is the same 500 ms).
pub(crate) const LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// The server's record of a connection, as an upgrade needs it.
pub(crate) trait Owner: Send + Sync {
    /// The connection's socket.
    fn socket(&self) -> &TcpStream;
    /// Marks the connection handed over to a handler (no timeouts, not idle). False if
    /// it was closed meanwhile.
    fn hand_over(&self) -> bool;
    /// Ends the connection's registration with its server.
    fn release(&self);
}

pub(crate) struct Transport<'s> {
    tcp: &'s TcpStream,
    /// The registry entry, for an upgrade.
    owner: Option<&'s Arc<dyn Owner>>,
    /// `Response::upgrade` handed the connection over: the server must not use it.
    upgraded: Cell<bool>,
    #[cfg(feature = "tls")]
    /// Boxed: a session is 1.2 KiB, and inline it made the connection's frames (and the
    /// stack pages an idle connection keeps) that much deeper, more than once over.
    tls: RefCell<Option<Box<TlsStream<SockRef>>>>,
    #[cfg(feature = "tls")]
    info: Option<TlsInfo>,
}

/// A `&TcpStream` without its lifetime, for the TLS session: a `RefCell` over a type
/// with a lifetime would make `Transport<'s>` invariant in `'s`, and a request could not
/// borrow it for less. It is made from a socket borrowed for as long as the session is
/// in a `Transport` over the same socket, or moves into an `Upgraded` that holds the
/// socket's owner.
#[cfg(feature = "tls")]
pub(crate) struct SockRef {
    sock: std::ptr::NonNull<TcpStream>,
    /// Reads return `WouldBlock` instead of parking (for the WebSocket layer's reads,
    /// which wait for readiness without holding their lock).
    nonblocking: bool,
}

// SAFETY: a `SockRef` is a `&TcpStream` (which is Send and Sync) whose lifetime is kept
// by its holder (see the type's doc); it is only sent along with that holder.
#[cfg(feature = "tls")]
unsafe impl Send for SockRef {}

#[cfg(feature = "tls")]
impl SockRef {
    fn get(&self) -> &TcpStream {
        // SAFETY: made from a live `&TcpStream` whose owner outlives this `SockRef`: the
        // `Transport<'s>` holding it keeps `&'s TcpStream` beside it, and an `Upgraded`
        // keeps the socket's `Owner` (the type's doc).
        unsafe { self.sock.as_ref() }
    }
}

#[cfg(feature = "tls")]
impl Read for SockRef {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        if self.nonblocking {
            return self.get().try_read(b);
        }
        (&mut self.get()).read(b)
    }
}

#[cfg(feature = "tls")]
impl Write for SockRef {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        (&mut self.get()).write(b)
    }
    fn write_vectored(&mut self, b: &[IoSlice<'_>]) -> io::Result<usize> {
        (&mut self.get()).write_vectored(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The handshake's product: a TLS session over a socket borrowed for `'s`.
#[cfg(feature = "tls")]
pub(crate) struct Tls<'s> {
    tcp: &'s TcpStream,
    stream: Box<TlsStream<SockRef>>,
}

#[cfg(feature = "tls")]
impl<'s> Tls<'s> {
    /// The server's side of a handshake on `tcp`.
    pub(crate) fn accept(
        tcp: &'s TcpStream,
        config: &std::sync::Arc<gmp_net::tls::rustls::ServerConfig>,
    ) -> io::Result<Tls<'s>> {
        let sock = SockRef {
            sock: std::ptr::NonNull::from(tcp),
            nonblocking: false,
        };
        Ok(Tls {
            tcp,
            stream: Box::new(gmp_net::tls::accept(sock, config)?),
        })
    }
}

impl<'s> Transport<'s> {
    pub(crate) fn tcp(tcp: &'s TcpStream, owner: Option<&'s Arc<dyn Owner>>) -> Transport<'s> {
        Transport {
            tcp,
            owner,
            upgraded: Cell::new(false),
            #[cfg(feature = "tls")]
            tls: RefCell::new(None),
            #[cfg(feature = "tls")]
            info: None,
        }
    }

    #[cfg(feature = "tls")]
    pub(crate) fn tls(tls: Tls<'s>, owner: Option<&'s Arc<dyn Owner>>) -> Transport<'s> {
        let Tls { tcp, stream: tls } = tls;
        let info = TlsInfo {
            server_name: tls.server_name().map(str::to_string),
            alpn: tls
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            version: tls
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
        };
        Transport {
            tcp,
            owner,
            upgraded: Cell::new(false),
            tls: RefCell::new(Some(tls)),
            info: Some(info),
        }
    }

    /// The socket (for timeouts, shutdown, readiness).
    #[inline]
    pub(crate) fn socket(&self) -> &'s TcpStream {
        self.tcp
    }

    /// The connection's TLS, if it has any.
    #[inline]
    pub(crate) fn tls_info(&self) -> Option<&TlsInfo> {
        #[cfg(feature = "tls")]
        if let Some(info) = &self.info {
            return Some(info);
        }
        None
    }

    /// Whether a handler took the connection over (`Response::upgrade`).
    #[inline]
    pub(crate) fn upgraded(&self) -> bool {
        self.upgraded.get()
    }

    /// Runs `f` on the TLS session, if the connection has one (and it was not handed
    /// over). The test for TLS is inlined into every caller and the session's part is
    /// not: as one function it was a call of some 10 instructions on each read, write
    /// and wait of a plain TCP connection (42 a request, callgrind).
    #[cfg(feature = "tls")]
    #[inline(always)]
    fn with_tls<R>(
        &self,
        f: impl FnOnce(&mut TlsStream<SockRef>) -> io::Result<R>,
    ) -> Option<io::Result<R>> {
        self.info.as_ref()?;
        Some(self.on_tls(f))
    }

    #[cfg(feature = "tls")]
    #[inline(never)]
    fn on_tls<R>(&self, f: impl FnOnce(&mut TlsStream<SockRef>) -> io::Result<R>) -> io::Result<R> {
        match self.tls.borrow_mut().as_mut() {
            Some(t) => f(t),
            None => Err(handed_over()),
        }
    }

    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(r) = self.with_tls(|t| t.read(buf)) {
            return r;
        }
        (&mut &*self.tcp).read(buf)
    }

    #[inline]
    pub(crate) fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(r) = self.with_tls(|t| t.write_all(buf)) {
            return r;
        }
        (&mut &*self.tcp).write_all(buf)
    }

    #[inline]
    pub(crate) fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(r) = self.with_tls(|t| t.write_vectored(bufs)) {
            return r;
        }
        (&mut &*self.tcp).write_vectored(bufs)
    }

    /// Waits until a read would find data. Over TLS that is decrypted data: the wait
    /// reads records into rustls's own buffer ([`TlsStream::readable`]), so the
    /// connection takes its buffer set only once a request has begun to arrive, never
    /// for a partial record or for a socket that only may have data (after a request
    /// body, up to 45% of idle TLS connections used to wait in a read holding their
    /// set), and rustls's buffer is back at 4 KiB while the connection is idle
    /// (`tests/tls_idle_memory.rs`).
    pub(crate) fn readable(&self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(r) = self.with_tls(|t| t.readable()) {
            return r;
        }
        self.tcp.readable()
    }

    /// Ends our side: a TLS `close_notify` first (a client then sees a clean end, not a
    /// truncation), then the socket's write half.
    pub(crate) fn close_write(&self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        let _ = self.with_tls(|t| t.close_notify());
        self.tcp.shutdown(gmp_net::Shutdown::Write)
    }

    /// Closes our side, then reads and drops what the client still sends for up to
    /// `linger` (and `max` bytes), so that the kernel does not answer unread input with
    /// a reset that could destroy the response on its way.
    pub(crate) fn linger_close(&self, linger: std::time::Duration, max: usize) {
        if self.close_write().is_err() {
            return;
        }
        let started = std::time::Instant::now();
        let mut scratch = [0u8; 1024];
        let mut dropped = 0usize;
        while started.elapsed() < linger && dropped < max {
            if self.tcp.set_read_timeout(Some(linger)).is_err() {
                return;
            }
            // The socket itself: after a close_notify the TLS session reads nothing more.
            match (&mut &*self.tcp).read(&mut scratch) {
                Ok(0) | Err(_) => return,
                Ok(n) => dropped += n,
            }
        }
    }

    /// Hands the connection (and its TLS session) over to an `Upgraded`. Errors if the
    /// server has no owner to give (a client connection) or closed the connection.
    pub(crate) fn hand_over(&self) -> io::Result<Upgraded> {
        let owner = self.owner.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "gmp-http: this connection cannot be upgraded",
            )
        })?;
        if self.upgraded.get() {
            return Err(handed_over());
        }
        if !owner.hand_over() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "gmp-http: the connection was closed before the upgrade",
            ));
        }
        self.upgraded.set(true);
        // The socket's owner comes too: its `release` ends the registration, and it
        // keeps the socket open for the session's `SockRef`.
        let owner = owner.clone();
        let _ = self.tcp.set_read_timeout(None);
        Ok(Upgraded {
            nonblocking: false,
            #[cfg(feature = "tls")]
            tls: self.tls.borrow_mut().take(),
            #[cfg(feature = "tls")]
            info: self.info.clone(),
            owner,
        })
    }
}

fn handed_over() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "gmp-http: the connection was handed over by Response::upgrade",
    )
}

/// A connection a handler took over with [`Response::upgrade`](crate::Response::upgrade)
/// (Go's `Hijack`): after the `101 Switching Protocols`, the raw bytes of the connection
/// (decrypted, over TLS) in both directions. The server no longer times it out or counts
/// it idle; graceful shutdown waits for it within its grace (or closes it at once, with
/// `Server::wait_for_upgraded(false)`), and dropping it closes the connection.
///
/// It owns the connection: a handler may keep it, or move it to another goroutine.
pub struct Upgraded {
    /// Reads return `WouldBlock` instead of parking (the WebSocket layer's reads).
    nonblocking: bool,
    #[cfg(feature = "tls")]
    tls: Option<Box<TlsStream<SockRef>>>,
    #[cfg(feature = "tls")]
    info: Option<TlsInfo>,
    /// Declared last: dropped after the TLS session, whose `SockRef` points into it.
    owner: Arc<dyn Owner>,
}

impl Upgraded {
    fn tcp(&self) -> &TcpStream {
        self.owner.socket()
    }

    /// The connection's owner, for waiting on its socket without the `Upgraded`.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn owner(&self) -> Arc<dyn Owner> {
        self.owner.clone()
    }

    /// Reads return `WouldBlock` instead of parking while this is on.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn set_nonblocking(&mut self, on: bool) {
        self.nonblocking = on;
    }

    /// The connection's TLS, if it has any.
    pub fn tls(&self) -> Option<&TlsInfo> {
        #[cfg(feature = "tls")]
        if let Some(info) = &self.info {
            return Some(info);
        }
        None
    }

    /// Waits until a read would find data (decrypted bytes already held count).
    pub fn readable(&mut self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(t) = &mut self.tls {
            if t.has_buffered_plaintext() {
                return Ok(());
            }
        }
        self.tcp().readable()
    }

    /// A read that never parks: `WouldBlock` when nothing is there yet (then
    /// [`readable`](Self::readable) waits for more).
    pub fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(t) = &mut self.tls {
            t.get_mut().nonblocking = true;
            let r = t.read(buf);
            t.get_mut().nonblocking = false;
            return r;
        }
        self.tcp().try_read(buf)
    }

    /// As [`TcpStream::set_read_timeout`](gmp_net::TcpStream::set_read_timeout).
    pub fn set_read_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(d)
    }

    /// As [`TcpStream::set_write_timeout`](gmp_net::TcpStream::set_write_timeout): a write
    /// that makes no progress this long fails (the server's write timeout is the
    /// default).
    pub fn set_write_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(d)
    }

    /// The client's address.
    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.tcp().peer_addr()
    }

    /// Shuts the connection down (a TLS `close_notify` first when writing ends).
    pub fn shutdown(&mut self, how: gmp_net::Shutdown) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(t) = &mut self.tls {
            if how != gmp_net::Shutdown::Read {
                let _ = t.close_notify();
            }
        }
        self.tcp().shutdown(how)
    }
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded")
            .field("peer", &self.peer_addr().ok())
            .field("tls", &self.tls().is_some())
            .finish()
    }
}

impl Read for Upgraded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.nonblocking {
            return self.try_read(buf);
        }
        #[cfg(feature = "tls")]
        if let Some(t) = &mut self.tls {
            return t.read(buf);
        }
        (&mut self.tcp()).read(buf)
    }
}

impl Write for Upgraded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(t) = &mut self.tls {
            return t.write(buf);
        }
        (&mut self.tcp()).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(t) = &mut self.tls {
            return t.write_vectored(bufs);
        }
        (&mut self.tcp()).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(t) = &mut self.tls {
            return t.flush();
        }
        Ok(())
    }
}

impl Drop for Upgraded {
    fn drop(&mut self) {
        #[cfg(feature = "tls")]
        drop(self.tls.take());
        // Shut down now: other holders of the entry (the registry, for a moment) must not
        // keep the connection open.
        let _ = self.tcp().shutdown(gmp_net::Shutdown::Both);
        self.owner.release();
    }
}
