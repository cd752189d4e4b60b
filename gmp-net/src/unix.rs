//! Unix domain stream sockets: `UnixListener` and `UnixStream`.

use crate::sock::{set_nonblocking_fd, Sock};
use gmp_core::__private::netpoll::Mode;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;

/// A Unix socket server.
///
/// ```
/// use std::io::{Read, Write};
/// let dir = std::env::temp_dir().join(format!("gmp-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("sock");
/// let _ = std::fs::remove_file(&path);
/// gmp_core::run(|| {
///     let l = gmp_net::UnixListener::bind(&path).unwrap();
///     let p = path.clone();
///     let client = gmp_core::spawn(move || {
///         let mut c = gmp_net::UnixStream::connect(&p).unwrap();
///         c.write_all(b"hi").unwrap();
///     });
///     let (mut s, _) = l.accept().unwrap();
///     let mut buf = [0u8; 2];
///     s.read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"hi");
///     client.join().unwrap();
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    sock: Sock<net::UnixListener>,
}

impl UnixListener {
    /// As [`std::os::unix::net::UnixListener::bind`].
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::from_std(net::UnixListener::bind(path)?)
    }
    /// Takes a socket from std, switching it to nonblocking mode.
    pub fn from_std(l: net::UnixListener) -> io::Result<UnixListener> {
        l.set_nonblocking(true)?;
        Ok(UnixListener { sock: Sock::new(l) })
    }
    /// Gives the socket back to std, in blocking mode.
    pub fn into_std(self) -> io::Result<net::UnixListener> {
        let l = self.sock.into_inner();
        l.set_nonblocking(false)?;
        Ok(l)
    }
    /// As [`std::os::unix::net::UnixListener::accept`].
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.sock.io(Mode::Read, |l| l.accept())?;
        Ok((UnixStream::from_std(s)?, a))
    }
    /// As [`std::os::unix::net::UnixListener::incoming`].
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<UnixStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }
    /// As [`std::os::unix::net::UnixListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }
    /// As [`std::os::unix::net::UnixListener::take_error`].
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }
    /// As [`std::os::unix::net::UnixListener::try_clone`].
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            sock: Sock::new(self.sock.get().try_clone()?),
        })
    }
}

/// A Unix stream connection.
///
/// ```
/// use std::io::{Read, Write};
/// gmp_core::run(|| {
///     let (mut a, mut b) = gmp_net::UnixStream::pair().unwrap();
///     a.write_all(b"hi").unwrap();
///     let mut buf = [0u8; 2];
///     b.read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"hi");
/// });
/// ```
pub struct UnixStream {
    sock: Sock<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path` (a local connect completes or fails at once).
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::from_std(net::UnixStream::connect(path)?)
    }
    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }
    /// Takes a socket from std, switching it to nonblocking mode.
    pub fn from_std(s: net::UnixStream) -> io::Result<UnixStream> {
        s.set_nonblocking(true)?;
        Ok(UnixStream { sock: Sock::new(s) })
    }
    /// Gives the socket back to std, in blocking mode.
    pub fn into_std(self) -> io::Result<net::UnixStream> {
        let s = self.sock.into_inner();
        s.set_nonblocking(false)?;
        Ok(s)
    }
    /// As [`std::os::unix::net::UnixStream::shutdown`].
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.get().shutdown(how)
    }
    /// As [`std::os::unix::net::UnixStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().peer_addr()
    }
    /// As [`std::os::unix::net::UnixStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }
    /// As [`std::os::unix::net::UnixStream::take_error`].
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }
    timeout_methods!();
    /// As [`std::os::unix::net::UnixStream::try_clone`].
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let s = self.sock.get().try_clone()?;
        set_nonblocking_fd(s.as_raw_fd())?;
        Ok(UnixStream { sock: Sock::new(s) })
    }
}

stream_io!(UnixStream);

fd_impls!(UnixListener);
fd_impls!(UnixStream);
std_conversions!(UnixListener, net::UnixListener);
std_conversions!(UnixStream, net::UnixStream);
