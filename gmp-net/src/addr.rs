//! `ToSocketAddrs`: std's trait shape, but a host name is resolved on another thread so
//! that the lookup (which can take seconds) never blocks a P.

use std::io;
use std::net::{self, IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::vec;

/// Like [`std::net::ToSocketAddrs`], implemented for the same types. Addresses given as
/// numbers resolve in place; a host name is looked up off the P.
///
/// ```
/// use gmp_net::ToSocketAddrs;
/// let addrs: Vec<_> = gmp_core::run(|| ("127.0.0.1", 80).to_socket_addrs().unwrap().collect());
/// assert_eq!(addrs[0].port(), 80);
/// ```
pub trait ToSocketAddrs {
    /// The addresses, in the order the resolver gave them.
    type Iter: Iterator<Item = SocketAddr>;
    /// Resolves `self`; from a goroutine a host-name lookup parks it, not the P.
    fn to_socket_addrs(&self) -> io::Result<Self::Iter>;
}

macro_rules! direct {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {
            type Iter = std::option::IntoIter<SocketAddr>;
            fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
                net::ToSocketAddrs::to_socket_addrs(self)
            }
        }
    )*};
}
direct!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

fn lookup(host: String, port: Option<u16>) -> io::Result<vec::IntoIter<SocketAddr>> {
    let name = host.clone();
    let v: Vec<SocketAddr> = gmp_core::__private::off_p(move || -> io::Result<Vec<SocketAddr>> {
        Ok(match port {
            Some(p) => net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), p))?.collect(),
            None => net::ToSocketAddrs::to_socket_addrs(host.as_str())?.collect(),
        })
    })
    .map_err(|e| {
        // The lookup never ran: say so, and which name it was for (the OS error
        // alone reads "Resource temporarily unavailable").
        io::Error::new(
            e.kind(),
            format!("cannot start a thread to resolve {name:?}: {e}"),
        )
    })??;
    Ok(v.into_iter())
}

impl ToSocketAddrs for str {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return Ok(vec![a].into_iter());
        }
        lookup(self.to_string(), None)
    }
}

impl ToSocketAddrs for String {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        self.as_str().to_socket_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        let (host, port) = *self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)].into_iter());
        }
        lookup(host.to_string(), Some(port))
    }
}

impl ToSocketAddrs for (String, u16) {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (self.0.as_str(), self.1).to_socket_addrs()
    }
}

impl<'a> ToSocketAddrs for &'a [SocketAddr] {
    type Iter = std::iter::Cloned<std::slice::Iter<'a, SocketAddr>>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        Ok(self.iter().cloned())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    type Iter = T::Iter;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (**self).to_socket_addrs()
    }
}

/// Tries `f` on each address in turn, as std does, returning the first success or the
/// last error.
pub(crate) fn each_addr<A: ToSocketAddrs + ?Sized, T>(
    addr: &A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}
