//! TCP: `TcpListener` and `TcpStream`, std's API on goroutines.

use crate::addr::{each_addr, ToSocketAddrs};
use crate::sock::{set_nonblocking_fd, Sock};
use gmp_core::__private::netpoll::{deadline_after, Mode};
use std::fmt;
use std::io;
use std::net::{self, Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::time::Duration;

/// A TCP socket server. `accept` parks the calling goroutine until a connection arrives.
///
/// ```
/// use std::io::{Read, Write};
/// gmp_core::run(|| {
///     let listener = gmp_net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let server = gmp_core::spawn(move || {
///         let (mut conn, _) = listener.accept().unwrap();
///         let mut buf = [0u8; 5];
///         conn.read_exact(&mut buf).unwrap();
///         conn.write_all(&buf).unwrap();
///     });
///     let mut c = gmp_net::TcpStream::connect(addr).unwrap();
///     c.write_all(b"hello").unwrap();
///     let mut back = [0u8; 5];
///     c.read_exact(&mut back).unwrap();
///     assert_eq!(&back, b"hello");
///     server.join().unwrap();
/// });
/// ```
pub struct TcpListener {
    sock: Sock<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn) and listens with the kernel's
    /// largest backlog (`net.core.somaxconn`, as Go does; std uses 128, which a burst of
    /// a thousand connects overflows).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(&addr, |a| {
            let l = listen(a)?;
            Ok(TcpListener { sock: Sock::new(l) })
        })
    }

    /// Takes a listener from std, switching it to nonblocking mode.
    pub fn from_std(l: net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener { sock: Sock::new(l) })
    }

    /// Gives the listener back to std, in blocking mode.
    pub fn into_std(self) -> io::Result<net::TcpListener> {
        let l = self.sock.into_inner();
        l.set_nonblocking(false)?;
        Ok(l)
    }

    /// Accepts a connection. Errors such as `EMFILE` (out of file descriptors) are
    /// returned at once, not retried.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self.sock.io(Mode::Read, |l| accept4(l.as_raw_fd()))?;
        // SAFETY: accept4 returned a fresh descriptor we own.
        let s = unsafe { net::TcpStream::from_raw_fd(fd) };
        Ok((
            TcpStream {
                sock: Sock::new(s).accepted(),
            },
            addr,
        ))
    }

    /// An endless iterator of `accept` results.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// As [`std::net::TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }
    /// As [`std::net::TcpListener::set_ttl`].
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.get().set_ttl(ttl)
    }
    /// As [`std::net::TcpListener::ttl`].
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.get().ttl()
    }
    /// As [`std::net::TcpListener::take_error`].
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }
    /// As [`std::net::TcpListener::try_clone`].
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            sock: Sock::new(self.sock.get().try_clone()?),
        })
    }
}

/// A nonblocking listening socket on `addr` with `SO_REUSEADDR` (as std sets it).
fn listen(addr: SocketAddr) -> io::Result<net::TcpListener> {
    let m = mio::net::TcpListener::bind(addr)?;
    // mio listened with its own backlog; listening again only raises it.
    // SAFETY: listen(2) on the socket we just made.
    if unsafe { libc::listen(m.as_raw_fd(), somaxconn()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor moves from mio's listener to std's.
    Ok(unsafe { net::TcpListener::from_raw_fd(m.into_raw_fd()) })
}

fn somaxconn() -> libc::c_int {
    static V: std::sync::OnceLock<libc::c_int> = std::sync::OnceLock::new();
    *V.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4096)
    })
}

/// `accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: one syscall, no `fcntl` after.
fn accept4(fd: RawFd) -> io::Result<(RawFd, SocketAddr)> {
    // SAFETY: a zeroed sockaddr_storage is a valid out-buffer of the length we pass.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let c = libc::accept4(
            fd,
            &mut storage as *mut _ as *mut libc::sockaddr,
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        );
        if c < 0 {
            return Err(io::Error::last_os_error());
        }
        match sockaddr_to_addr(&storage) {
            Ok(a) => Ok((c, a)),
            Err(e) => {
                libc::close(c);
                Err(e)
            }
        }
    }
}

fn sockaddr_to_addr(s: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match s.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a = unsafe { &*(s as *const _ as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Ok(SocketAddr::new(ip.into(), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a = unsafe { &*(s as *const _ as *const libc::sockaddr_in6) };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(std::net::SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        f => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected address family {f}"),
        )),
    }
}

/// Iterator over incoming connections; see [`TcpListener::incoming`].
///
/// ```no_run
/// gmp_core::run(|| {
///     let l = gmp_net::TcpListener::bind("127.0.0.1:7000").unwrap();
///     for conn in l.incoming() {
///         let Ok(conn) = conn else { continue };
///         gmp_core::spawn(move || drop(conn));
///     }
/// });
/// ```
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection. Reads and writes park the calling goroutine while the socket is
/// not ready; from a plain thread outside any runtime they block the thread.
///
/// ```
/// use std::io::{Read, Write};
/// gmp_core::run(|| {
///     let l = gmp_net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = l.local_addr().unwrap();
///     let server = gmp_core::spawn(move || {
///         let (mut s, _) = l.accept().unwrap();
///         let mut b = [0u8; 4];
///         s.read_exact(&mut b).unwrap(); // parks until the bytes arrive
///         s.write_all(&b).unwrap();
///     });
///     let mut c = gmp_net::TcpStream::connect(addr).unwrap();
///     c.write_all(b"ping").unwrap();
///     let mut b = [0u8; 4];
///     c.read_exact(&mut b).unwrap();
///     assert_eq!(&b, b"ping");
///     server.join().unwrap();
/// });
/// ```
pub struct TcpStream {
    sock: Sock<net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr` (each resolved address in turn).
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(&addr, |a| TcpStream::connect_one(a, None))
    }

    /// Connects to one address, failing with `TimedOut` after `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_one(*addr, Some(timeout))
    }

    fn connect_one(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        // mio starts a nonblocking connect and returns at once.
        let m = mio::net::TcpStream::connect(addr)?;
        // SAFETY: the descriptor moves from mio's socket to std's.
        let s = unsafe { net::TcpStream::from_raw_fd(m.into_raw_fd()) };
        let stream = TcpStream { sock: Sock::new(s) };
        let deadline = timeout.map(deadline_after);
        loop {
            if let Some(e) = stream.sock.get().take_error()? {
                return Err(e);
            }
            match stream.sock.get().peer_addr() {
                Ok(_) => return Ok(stream),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => return Err(e),
            }
            stream.sock.wait_writable(deadline).map_err(|e| {
                if e.kind() == io::ErrorKind::TimedOut {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connect to {addr} timed out"),
                    )
                } else {
                    e
                }
            })?;
        }
    }

    /// Takes a stream from std, switching it to nonblocking mode.
    pub fn from_std(s: net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        Ok(TcpStream { sock: Sock::new(s) })
    }

    /// Gives the stream back to std, in blocking mode.
    pub fn into_std(self) -> io::Result<net::TcpStream> {
        let s = self.sock.into_inner();
        s.set_nonblocking(false)?;
        Ok(s)
    }

    /// Waits until the stream has data to read (or end of stream, or an error), without
    /// reading it; honours the read timeout. Not in std: tokio's `readable` in blocking
    /// form. It may return early (the next `read` then waits as usual), never late.
    ///
    /// A server that keeps connections open between requests waits here, so it needs
    /// no read buffer for an idle connection.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// gmp_core::run(|| {
    ///     let l = gmp_net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let mut c = gmp_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    ///     let (mut s, _) = l.accept().unwrap();
    ///     c.write_all(b"x").unwrap();
    ///     s.readable().unwrap();
    ///     let mut b = [0u8; 1];
    ///     assert_eq!(s.read(&mut b).unwrap(), 1);
    /// });
    /// ```
    pub fn readable(&self) -> io::Result<()> {
        self.sock.readable()
    }
    /// A read that never parks: the data there is, or `WouldBlock` if there is none
    /// (`Ok(0)` at end of stream). Pair it with [`readable`](Self::readable) to wait for
    /// more without holding anything meanwhile: after a `WouldBlock`, `readable` parks
    /// until the next data arrives.
    ///
    /// ```
    /// use std::io::Write;
    /// gmp_core::run(|| {
    ///     let l = gmp_net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let mut c = gmp_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    ///     let (s, _) = l.accept().unwrap();
    ///     let mut b = [0u8; 8];
    ///     assert_eq!(s.try_read(&mut b).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    ///     c.write_all(b"hi").unwrap();
    ///     s.readable().unwrap();
    ///     assert_eq!(s.try_read(&mut b).unwrap(), 2);
    /// });
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.try_read(|mut s| io::Read::read(&mut s, buf))
    }

    /// As [`std::net::TcpStream::peek`]; the goroutine parks where std's call would block.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.peek(|s| s.peek(buf))
    }
    /// As [`std::net::TcpStream::shutdown`].
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.get().shutdown(how)
    }
    /// As [`std::net::TcpStream::set_nodelay`].
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock.get().set_nodelay(nodelay)
    }
    /// As [`std::net::TcpStream::nodelay`].
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.get().nodelay()
    }
    /// As [`std::net::TcpStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().peer_addr()
    }
    /// As [`std::net::TcpStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }
    /// As [`std::net::TcpStream::set_ttl`].
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.get().set_ttl(ttl)
    }
    /// As [`std::net::TcpStream::ttl`].
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.get().ttl()
    }
    /// As [`std::net::TcpStream::take_error`].
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }
    timeout_methods!();
    /// A second handle to the same connection (a duplicated descriptor). Timeouts are
    /// per handle.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let s = self.sock.get().try_clone()?;
        set_nonblocking_fd(s.as_raw_fd())?;
        Ok(TcpStream { sock: Sock::new(s) })
    }
}

stream_io!(TcpStream);

fd_impls!(TcpListener);
fd_impls!(TcpStream);

std_conversions!(TcpListener, net::TcpListener);
std_conversions!(TcpStream, net::TcpStream);
