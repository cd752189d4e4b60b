//! TLS over gmp sockets (cargo feature `tls`), with rustls.
//!
//! rustls's connections run over any `Read + Write`, so a TLS stream is a rustls
//! connection driven by the socket's blocking-style reads and writes: a read that needs
//! more TLS records parks the goroutine in the socket's read, as a plain read would. No
//! async adapter, no extra thread.
//!
//! The invariants of [`TlsStream`]: whatever rustls has to send goes out before a call
//! returns (a write flushes the records it produced; a read that made rustls owe the
//! peer something, an alert or a key update, flushes it before reading on), so a
//! response written in one call leaves in one burst: no record waits for Nagle or a
//! delayed ACK. And every `read_tls` is followed by `process_new_packets`, so no whole
//! record waits unprocessed between calls: rustls's `wants_read` then tells whether
//! decrypted bytes are there without another pass over its buffer. The crypto provider is *ring*: it builds with only a C compiler
//! (aws-lc-rs needs cmake), which is what a fresh machine has.

use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

pub use rustls;

/// A TLS connection over `S` (a [`TcpStream`](crate::TcpStream), or a reference to one):
/// `Read + Write` of the plaintext, for any protocol.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use std::sync::Arc;
/// # fn config() -> Arc<gmp_net::tls::rustls::ClientConfig> { unimplemented!() }
/// gmp_core::run(|| -> std::io::Result<()> {
///     let tcp = gmp_net::TcpStream::connect("example.org:443")?;
///     let mut tls = gmp_net::tls::connect("example.org", tcp, &config())?;
///     tls.write_all(b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n")?;
///     let mut page = Vec::new();
///     tls.read_to_end(&mut page)?;
///     Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TlsStream<S> {
    conn: Connection,
    sock: S,
}

impl<S> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("server_name", &self.server_name())
            .field("alpn", &self.alpn_protocol().map(String::from_utf8_lossy))
            .finish_non_exhaustive()
    }
}

/// Performs the server side of a handshake on `sock` with `config` and returns the
/// stream. Errors: the peer's misbehaviour (`InvalidData`, with rustls's reason; rustls
/// sent the peer an alert first), the peer leaving (`UnexpectedEof`), the socket's
/// errors (a timeout set on it applies to each read and write of the handshake).
///
/// ```no_run
/// # fn config() -> std::sync::Arc<gmp_net::tls::rustls::ServerConfig> { unimplemented!() }
/// gmp_core::run(|| -> std::io::Result<()> {
///     let l = gmp_net::TcpListener::bind("127.0.0.1:8443")?;
///     let cfg = config();
///     loop {
///         let (tcp, _) = l.accept()?;
///         let cfg = cfg.clone();
///         gmp_core::spawn(move || {
///             use std::io::{Read, Write};
///             let Ok(mut tls) = gmp_net::tls::accept(tcp, &cfg) else { return };
///             let mut line = [0u8; 64];
///             while let Ok(n @ 1..) = tls.read(&mut line) {
///                 if tls.write_all(&line[..n]).is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// })
/// # ; Ok::<(), std::io::Error>(())
/// ```
pub fn accept<S: Read + Write>(sock: S, config: &Arc<ServerConfig>) -> io::Result<TlsStream<S>> {
    let conn = ServerConnection::new(config.clone()).map_err(tls_error)?;
    let mut s = TlsStream {
        conn: conn.into(),
        sock,
    };
    s.handshake()?;
    // The handshake ran deep (about 12 KiB of stack under this frame); a connection
    // that now waits for requests need not keep those pages.
    gmp_core::__private::release_below_caller();
    Ok(s)
}

/// Performs the client side of a handshake with `server_name` (the certificate must be
/// valid for it; it is also sent as SNI) on `sock` and returns the stream.
pub fn connect<S: Read + Write>(
    server_name: &str,
    sock: S,
    config: &Arc<ClientConfig>,
) -> io::Result<TlsStream<S>> {
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid TLS server name {server_name:?}: {e}"),
        )
    })?;
    let conn = ClientConnection::new(config.clone(), name).map_err(tls_error)?;
    let mut s = TlsStream {
        conn: conn.into(),
        sock,
    };
    s.handshake()?;
    // The handshake ran deep (about 12 KiB of stack under this frame); a connection
    // that now waits for requests need not keep those pages.
    gmp_core::__private::release_below_caller();
    Ok(s)
}

/// The crypto provider gmp uses by default: *ring* (see the module's docs for why), as an
/// `Arc` ready for `rustls::ServerConfig::builder_with_provider` and its client twin.
///
/// rustls 0.23.48 marks ring's provider deprecated because ring has no post-quantum key
/// exchange (X25519MLKEM768 comes with aws-lc-rs); TLS 1.3 with X25519 and TLS 1.2 work
/// as before. A user who wants the hybrid exchange builds their configuration with
/// aws-lc-rs and passes it in: nothing in gmp depends on the provider.
///
/// ```
/// let config = gmp_net::tls::rustls::ClientConfig::builder_with_provider(gmp_net::tls::ring_provider())
///     .with_safe_default_protocol_versions()
///     .unwrap()
///     .with_root_certificates(gmp_net::tls::rustls::RootCertStore::empty())
///     .with_no_client_auth();
/// # drop(config);
/// ```
pub fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
}

impl<S: Read + Write> TlsStream<S> {
    /// Drives the handshake to its end.
    fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.flush_tls()?;
            if !self.conn.is_handshaking() {
                break;
            }
            if self.conn.wants_read() {
                self.read_records("during the TLS handshake")?;
            }
        }
        // The last flight (a server's session tickets, a client's Finished).
        self.flush_tls()
    }

    /// Reads and processes more records. End of stream is an error here.
    fn read_records(&mut self, during: &str) -> io::Result<()> {
        let n = self.conn.read_tls(&mut self.sock)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the peer closed the connection {during}"),
            ));
        }
        self.process()
    }

    /// Lets rustls process what it read; on its error, sends the alert it queued.
    fn process(&mut self) -> io::Result<()> {
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.flush_tls();
            return Err(tls_error(e));
        }
        Ok(())
    }

    /// Sends every record rustls has queued.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }

    /// Waits until a read would return without waiting on the socket: decrypted bytes
    /// are buffered, the peer closed (with or without `close_notify`), or it sent
    /// something rustls refused (the error is returned, after the alert). The TLS
    /// counterpart of [`TcpStream::readable`](crate::TcpStream::readable), for a server
    /// that waits between requests holding no read buffer of its own; the socket's read
    /// timeout applies to each socket read.
    ///
    /// It waits by reading records into rustls's own buffer, which the session holds
    /// anyway, and returns only once a whole record has been decrypted. Two things
    /// follow. Before each socket read rustls cuts that buffer back to its resting
    /// 4 KiB when no record is partly received, so an idle connection does not keep
    /// the 32 KiB of capacity that a large request body grew it to. And no early
    /// return: the socket's own `readable` returns at once after a read that filled
    /// the space asked for (the socket is then not known to be drained), and rustls
    /// reads in slices of 4 KiB, so after a request body a server's idle wait would
    /// end at once and its next read, with the server's buffers taken, would park.
    ///
    /// ```no_run
    /// # fn config() -> std::sync::Arc<gmp_net::tls::rustls::ServerConfig> { unimplemented!() }
    /// use std::io::Read;
    /// gmp_core::run(|| -> std::io::Result<()> {
    ///     let l = gmp_net::TcpListener::bind("127.0.0.1:8443")?;
    ///     let (tcp, _) = l.accept()?;
    ///     let mut tls = gmp_net::tls::accept(tcp, &config())?;
    ///     tls.readable()?; // holds no buffer of ours while the client is quiet
    ///     let mut buf = vec![0u8; 4096];
    ///     let n = tls.read(&mut buf)?; // decrypted bytes are there: no wait
    ///     # let _ = n;
    ///     Ok(())
    /// })
    /// # ; Ok::<(), std::io::Error>(())
    /// ```
    pub fn readable(&mut self) -> io::Result<()> {
        loop {
            // No records wait unprocessed (the stream's invariant), so rustls's own state
            // says whether a read would return at once: after the handshake `wants_read`
            // is false exactly when decrypted bytes are buffered or the peer sent
            // close_notify. Asking `process_new_packets` instead cost a second pass over
            // an empty buffer per request (tls-floor's profile, issue 14).
            if !self.conn.wants_read() {
                return Ok(());
            }
            // Anything the records made rustls owe the peer (a key update) goes first.
            self.flush_tls()?;
            if self.conn.read_tls(&mut self.sock)? == 0 {
                // End of stream: the next read reports it.
                return Ok(());
            }
            self.process()?;
        }
    }

    /// Sends a `close_notify` alert: the peer's reads end cleanly. The socket stays
    /// open (shut it down or drop the stream to close it).
    pub fn close_notify(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush_tls()
    }
}

impl<S> TlsStream<S> {
    /// The underlying socket.
    pub fn get_ref(&self) -> &S {
        &self.sock
    }

    /// The underlying socket, mutably (reading or writing it directly breaks the TLS
    /// session).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.sock
    }

    /// The socket, and the end of TLS on it.
    pub fn into_inner(self) -> S {
        self.sock
    }

    /// The server name the client asked for (SNI), on the server's side; the name
    /// connected to, on the client's.
    pub fn server_name(&self) -> Option<&str> {
        match &self.conn {
            Connection::Server(c) => c.server_name(),
            Connection::Client(_) => None,
        }
    }

    /// The application protocol both sides agreed on (ALPN), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The TLS version in use (`TLSv1_3`, `TLSv1_2`).
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }

    /// Whether decrypted bytes are waiting to be read (a read returns without touching
    /// the socket).
    pub fn has_buffered_plaintext(&mut self) -> bool {
        // `process_new_packets` reports it; cheaper: a zero-length peek through the
        // reader is not possible, so ask for the state rustls keeps.
        self.conn
            .process_new_packets()
            .map(|s| s.plaintext_bytes_to_read() > 0)
            .unwrap_or(false)
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.conn.reader().read(buf) {
                // Ok(0): the peer sent close_notify.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // Anything rustls owes the peer (an alert, a key update) goes first.
            self.flush_tls()?;
            match self.conn.read_tls(&mut self.sock)? {
                // End of stream: the reader reports it next (as UnexpectedEof when the
                // peer closed without close_notify).
                0 => {
                    self.process()?;
                    return match self.conn.reader().read(buf) {
                        Ok(n) => Ok(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the peer closed the connection without a TLS close_notify",
                        )),
                        Err(e) => Err(e),
                    };
                }
                _ => self.process()?,
            }
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(buf)?;
        self.flush_tls()?;
        Ok(n)
    }

    /// All the slices become records in one go and leave together: a response's head
    /// and body in one burst.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = self.conn.writer().write_vectored(bufs)?;
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.flush_tls()
    }
}
