//! What a server connection reads and writes: its TCP socket, or TLS over it (cargo
//! feature `tls`).
//!
//! The request and the response of one exchange both use the connection (the body is
//! read while the response is written), and they run on the connection's goroutine
//! only; so the TLS session sits in a `RefCell` borrowed for the length of one read or
//! write, never across a call back into the handler. Without the `tls` feature this is a
//! `&TcpStream` and nothing more.

use gmp_net::TcpStream;
use std::io::{self, IoSlice, Read, Write};

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

pub(crate) struct Transport<'s> {
    tcp: &'s TcpStream,
    #[cfg(feature = "tls")]
    tls: Option<(RefCell<TlsStream<SockRef>>, TlsInfo)>,
}

/// A `&TcpStream` without its lifetime, for the TLS session: a `RefCell` over a type
/// with a lifetime would make `Transport<'s>` invariant in `'s`, and a request could not
/// borrow it for less. Only `Transport::tls` makes one, from the `&'s TcpStream` it
/// keeps beside it, so it never outlives the socket.
#[cfg(feature = "tls")]
pub(crate) struct SockRef(std::ptr::NonNull<TcpStream>);

#[cfg(feature = "tls")]
impl SockRef {
    fn get(&self) -> &TcpStream {
        // SAFETY: made from a `&'s TcpStream` in `Transport::tls`; the `Transport<'s>`
        // that owns this `SockRef` holds the same reference for `'s`, so the socket is
        // alive whenever this is used.
        unsafe { self.0.as_ref() }
    }
}

#[cfg(feature = "tls")]
impl Read for SockRef {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
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
    stream: TlsStream<SockRef>,
}

#[cfg(feature = "tls")]
impl<'s> Tls<'s> {
    /// The server's side of a handshake on `tcp`.
    pub(crate) fn accept(
        tcp: &'s TcpStream,
        config: &std::sync::Arc<gmp_net::tls::rustls::ServerConfig>,
    ) -> io::Result<Tls<'s>> {
        let sock = SockRef(std::ptr::NonNull::from(tcp));
        Ok(Tls {
            tcp,
            stream: gmp_net::tls::accept(sock, config)?,
        })
    }
}

impl<'s> Transport<'s> {
    pub(crate) fn tcp(tcp: &'s TcpStream) -> Transport<'s> {
        Transport {
            tcp,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    #[cfg(feature = "tls")]
    pub(crate) fn tls(tls: Tls<'s>) -> Transport<'s> {
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
            tls: Some((RefCell::new(tls), info)),
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
        if let Some((_, info)) = &self.tls {
            return Some(info);
        }
        None
    }

    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some((t, _)) = &self.tls {
            return t.borrow_mut().read(buf);
        }
        (&mut &*self.tcp).read(buf)
    }

    #[inline]
    pub(crate) fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some((t, _)) = &self.tls {
            return t.borrow_mut().write_all(buf);
        }
        (&mut &*self.tcp).write_all(buf)
    }

    #[inline]
    pub(crate) fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some((t, _)) = &self.tls {
            return t.borrow_mut().write_vectored(bufs);
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
        if let Some((t, _)) = &self.tls {
            return t.borrow_mut().readable();
        }
        self.tcp.readable()
    }

    /// Ends our side: a TLS `close_notify` first (a client then sees a clean end, not a
    /// truncation), then the socket's write half.
    pub(crate) fn close_write(&self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some((t, _)) = &self.tls {
            let _ = t.borrow_mut().close_notify();
        }
        self.tcp.shutdown(gmp_net::Shutdown::Write)
    }
}
