//! UDP: `UdpSocket`, std's API on goroutines.

use crate::addr::{each_addr, ToSocketAddrs};
use crate::sock::{set_nonblocking_fd, Sock};
use gmp_core::__private::netpoll::Mode;
use std::fmt;
use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// A UDP socket. Receives park the calling goroutine until a datagram arrives.
///
/// ```
/// gmp_core::run(|| {
///     let a = gmp_net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = gmp_net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).unwrap();
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    sock: Sock<net::UdpSocket>,
}

impl UdpSocket {
    /// As [`std::net::UdpSocket::bind`].
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(&addr, |a| UdpSocket::from_std(net::UdpSocket::bind(a)?))
    }

    /// Takes a socket from std, switching it to nonblocking mode.
    pub fn from_std(s: net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Ok(UdpSocket { sock: Sock::new(s) })
    }

    /// Gives the socket back to std, in blocking mode.
    pub fn into_std(self) -> io::Result<net::UdpSocket> {
        let s = self.sock.into_inner();
        s.set_nonblocking(false)?;
        Ok(s)
    }

    /// Sets the default peer for `send`/`recv` and filters what `recv` accepts.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(&addr, |a| self.sock.get().connect(a))
    }

    /// As [`std::net::UdpSocket::send_to`]; the goroutine parks where std's call would block.
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let a = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.sock.io(Mode::Write, |s| s.send_to(buf, a))
    }
    /// As [`std::net::UdpSocket::recv_from`]; the goroutine parks where std's call would block.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.io(Mode::Read, |s| s.recv_from(buf))
    }
    /// As [`std::net::UdpSocket::peek_from`]; the goroutine parks where std's call would block.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.io(Mode::Read, |s| s.peek_from(buf))
    }
    /// As [`std::net::UdpSocket::send`]; the goroutine parks where std's call would block.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.io(Mode::Write, |s| s.send(buf))
    }
    /// As [`std::net::UdpSocket::recv`]; the goroutine parks where std's call would block.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(Mode::Read, |s| s.recv(buf))
    }
    /// As [`std::net::UdpSocket::peek`]; the goroutine parks where std's call would block.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(Mode::Read, |s| s.peek(buf))
    }
    /// As [`std::net::UdpSocket::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }
    /// As [`std::net::UdpSocket::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().peer_addr()
    }
    timeout_methods!();
    /// As [`std::net::UdpSocket::set_broadcast`].
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.sock.get().set_broadcast(on)
    }
    /// As [`std::net::UdpSocket::broadcast`].
    pub fn broadcast(&self) -> io::Result<bool> {
        self.sock.get().broadcast()
    }
    /// As [`std::net::UdpSocket::set_ttl`].
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.get().set_ttl(ttl)
    }
    /// As [`std::net::UdpSocket::ttl`].
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.get().ttl()
    }
    /// As [`std::net::UdpSocket::take_error`].
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }
    /// As [`std::net::UdpSocket::try_clone`].
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let s = self.sock.get().try_clone()?;
        set_nonblocking_fd(s.as_raw_fd())?;
        Ok(UdpSocket { sock: Sock::new(s) })
    }
}

fd_impls!(UdpSocket);
std_conversions!(UdpSocket, net::UdpSocket);
