//! WebSockets (cargo feature `websocket`), with tungstenite for the protocol: the
//! server's handshake on top of [`Response::upgrade`](crate::Response::upgrade), the
//! client's over gmp's sockets (and TLS for `wss://`), and a [`WebSocket`] that one
//! goroutine reads while others write, as gorilla/websocket's connection allows.
//!
//! The invariant that makes a shared `WebSocket` work: tungstenite's state is behind a
//! lock that no one holds while waiting for the network to bring data. A read takes the
//! lock and lets tungstenite read what has arrived without waiting (a partial frame
//! stays in tungstenite's buffer); on `WouldBlock` it releases the lock, waits for the
//! peer outside it (and on a plain connection reads the socket there too: see
//! `ws/conn.rs`), and tries again. A write holds the lock while it writes (bounded by the
//! socket's write timeout, so a peer that stops reading fails the write instead of
//! growing a buffer).

mod conn;

use crate::request::Request;
use crate::response::Response;
use conn::{ClientSock, Conn, Input, Socket, Stream};
use gmp_core::sync::Mutex;
use gmp_net::TcpStream;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;
use tungstenite::protocol::{Role, WebSocketConfig};

pub use tungstenite::protocol::frame::coding::CloseCode;
pub use tungstenite::protocol::CloseFrame;
pub use tungstenite::Message;

/// The default limit on a message (and a frame): 4 MiB. tungstenite's own default is
/// 64 MiB, more than a server should accept from any client without asking.
pub const DEFAULT_MAX_MESSAGE: usize = 4 << 20;

/// A WebSocket connection. `Send + Sync`: share it (in an `Arc`) between the goroutine
/// that reads it and any that write to it. One reader at a time; writes are whole
/// messages, one at a time.
///
/// ```no_run
/// let mut app = gmp_http::Router::new();
/// app.handle("GET /ws", |req, res| {
///     let ws = gmp_http::ws::accept(req, res)?;
///     while let Ok(msg) = ws.read() {
///         if msg.is_close() {
///             break;
///         }
///         ws.send(msg)?;
///     }
///     Ok(())
/// });
/// ```
pub struct WebSocket {
    inner: Mutex<tungstenite::WebSocket<Conn>>,
    /// Held by a `read` from start to end, so that a second reader waits its turn
    /// instead of taking bytes off the socket between the first one's.
    read_turn: Mutex<()>,
    socket: Socket,
    protocol: Option<String>,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

/// tungstenite's error as an `io::Error` that says what went wrong.
fn to_io(e: tungstenite::Error) -> io::Error {
    use tungstenite::Error as E;
    match e {
        E::Io(e) => e,
        E::ConnectionClosed => io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "WebSocket: the connection is closed",
        ),
        E::AlreadyClosed => {
            io::Error::new(io::ErrorKind::NotConnected, "WebSocket: already closed")
        }
        E::Capacity(c) => io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {c}")),
        E::Protocol(p) => io::Error::new(
            io::ErrorKind::InvalidData,
            format!("WebSocket protocol error: {p}"),
        ),
        E::WriteBufferFull(_) => io::Error::new(
            io::ErrorKind::WouldBlock,
            "WebSocket: the peer is not reading (write buffer full)",
        ),
        E::Utf8(e) => io::Error::new(
            io::ErrorKind::InvalidData,
            format!("WebSocket: invalid UTF-8 in a text message: {e}"),
        ),
        other => io::Error::other(format!("WebSocket: {other}")),
    }
}

impl WebSocket {
    fn new(
        ws: tungstenite::WebSocket<Conn>,
        socket: Socket,
        protocol: Option<String>,
    ) -> WebSocket {
        WebSocket {
            inner: Mutex::new(ws),
            read_turn: Mutex::new(()),
            socket,
            protocol,
        }
    }

    /// The next message: text, binary, ping, pong (pings are answered for you) or close
    /// (answered too; the connection is done after it). Parks the goroutine until one
    /// has arrived whole; messages queued with [`write`](Self::write) go out before it
    /// parks. Errors: the connection closed (`ConnectionAborted`), a protocol violation
    /// or a message over the size limit (`InvalidData`), the socket's errors.
    pub fn read(&self) -> io::Result<Message> {
        loop {
            if let Some(m) = self.next(true)? {
                return Ok(m);
            }
        }
    }

    /// The next message if it has arrived whole, without waiting: `None` if it has not
    /// (and then messages queued with [`write`](Self::write) have gone out). With
    /// [`write`](Self::write) and [`flush`](Self::flush), what a server needs to answer
    /// messages that arrive together in one write, as `StreamExt::forward` does for
    /// tokio-tungstenite:
    ///
    /// ```no_run
    /// # fn echo(ws: &gmp_http::ws::WebSocket) -> std::io::Result<()> {
    /// loop {
    ///     let mut next = Some(ws.read()?);
    ///     while let Some(msg) = next {
    ///         if msg.is_close() {
    ///             return Ok(());
    ///         }
    ///         if msg.is_text() || msg.is_binary() {
    ///             ws.write(msg)?; // queued
    ///         }
    ///         next = ws.try_read()?;
    ///     }
    ///     ws.flush()?; // the echoes of everything that came together, in one write
    /// }
    /// # }
    /// ```
    pub fn try_read(&self) -> io::Result<Option<Message>> {
        self.next(false)
    }

    /// `read` (`wait`) or `try_read`; `None` only without `wait`.
    fn next(&self, wait: bool) -> io::Result<Option<Message>> {
        let _turn = self.read_turn.lock();
        let mut input = None;
        loop {
            {
                let mut ws = self.inner.lock();
                let conn = ws.get_mut();
                if let Some(Input::Bytes(chunk, n)) = input.take() {
                    conn.inbox.fill(chunk, n);
                }
                conn.set_locked(true);
                let r = ws.read();
                let conn = ws.get_mut();
                conn.set_locked(false);
                conn.inbox.release_if_read();
                match r {
                    Ok(m) => {
                        // A pong or a close this read queued in reply goes out now (and
                        // with it what `write` queued; after other messages that waits,
                        // so that answers to messages that came together leave together).
                        if m.is_ping() || m.is_close() {
                            match ws.flush() {
                                Ok(()) | Err(tungstenite::Error::ConnectionClosed) => {}
                                Err(tungstenite::Error::Io(e))
                                    if e.kind() == io::ErrorKind::WouldBlock => {}
                                Err(e) => return Err(to_io(e)),
                            }
                        }
                        return Ok(Some(m));
                    }
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        // Tell the peer why, as RFC 6455 §7.4.1 has it: 1009 for a
                        // message over the limit, 1002 for a protocol violation.
                        let code = match &e {
                            tungstenite::Error::Capacity(_) => Some(CloseCode::Size),
                            tungstenite::Error::Protocol(_) => Some(CloseCode::Protocol),
                            _ => None,
                        };
                        if let Some(code) = code {
                            let reason = if code == CloseCode::Size {
                                "message too big"
                            } else {
                                "protocol error"
                            };
                            let _ = ws.close(Some(CloseFrame {
                                code,
                                reason: reason.into(),
                            }));
                            let _ = ws.flush();
                            // The peer may still be sending (the rest of that message):
                            // closing now would reset the connection and destroy the close
                            // frame on its way. Read and drop for a moment first.
                            ws.get_mut().linger();
                        }
                        return Err(to_io(e));
                    }
                }
                // Answers the read queued (a pong, a close), and what `write` queued,
                // go out now, not with the next message.
                match ws.flush() {
                    Ok(()) => {}
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(to_io(e)),
                }
                if !wait && !ws.get_ref().inbox.more() {
                    return Ok(None);
                }
            }
            input = Some(if wait {
                self.socket.wait_and_read()?
            } else {
                match self.socket.read_now()? {
                    Some(i) => i,
                    None => return Ok(None),
                }
            });
        }
    }

    /// Sends a message (whole, then flushed). Parks while the socket's buffer is full;
    /// a peer that stops reading makes it fail with `TimedOut` after the write timeout
    /// (the server's, for an accepted socket; see [`set_write_timeout`]).
    ///
    /// [`set_write_timeout`]: WebSocket::set_write_timeout
    pub fn send(&self, msg: Message) -> io::Result<()> {
        self.inner.lock().send(msg).map_err(to_io)
    }

    /// Queues a message without sending it: it goes out with the next [`flush`],
    /// [`send`], a [`read`] that waits or a [`try_read`] that finds nothing, or once
    /// more than 16 KiB are queued. Answering messages that arrived together in one
    /// write saves a syscall per message (see [`try_read`]).
    ///
    /// [`flush`]: WebSocket::flush
    /// [`send`]: WebSocket::send
    /// [`read`]: WebSocket::read
    /// [`try_read`]: WebSocket::try_read
    pub fn write(&self, msg: Message) -> io::Result<()> {
        self.inner.lock().write(msg).map_err(to_io)
    }

    /// Sends what [`write`](Self::write) queued (parking while the socket's buffer is
    /// full, bounded by the write timeout as [`send`](Self::send) is).
    pub fn flush(&self) -> io::Result<()> {
        self.inner.lock().flush().map_err(to_io)
    }

    /// Starts the closing handshake with `code` and `reason`; keep reading until the
    /// peer's close comes back (or the read fails).
    pub fn close(&self, code: CloseCode, reason: &str) -> io::Result<()> {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let mut ws = self.inner.lock();
        match ws.close(Some(frame)) {
            Ok(()) | Err(tungstenite::Error::ConnectionClosed) => ws.flush().or_else(|e| match e {
                tungstenite::Error::ConnectionClosed => Ok(()),
                e => Err(to_io(e)),
            }),
            Err(e) => Err(to_io(e)),
        }
    }

    /// The subprotocol both sides agreed on (`Sec-WebSocket-Protocol`), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// How long a write may make no progress before it fails (`None`: forever).
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.socket.tcp().set_write_timeout(d)
    }
}

/// tungstenite's read buffer: the most it takes from the inbox (or, over TLS, from the
/// session) at a time, and what an idle WebSocket keeps. tungstenite zero-fills the part
/// of its buffer a read may fill before every read: its default 128 KiB made that
/// `memset` 34% of the server's CPU in `scripts/ws-compare.sh`'s echo of 64-byte
/// messages, and kept 128 KiB of touched memory under every idle connection. The
/// socket is read in chunks of `conn::CHUNK` that no idle connection holds, so this can
/// be small; a larger message still arrives whole (tungstenite's buffer grows to its
/// length), only in copies of this size.
const READ_BUFFER: usize = 1 << 10;

/// What [`WebSocket::write`] may queue before it writes.
const WRITE_QUEUE: usize = 16 << 10;

fn config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
        // `send` flushes each message; `write` queues up to this much (a batch of
        // answers) before it writes.
        .write_buffer_size(WRITE_QUEUE)
        .max_write_buffer_size(max_message + (64 << 10))
}

/// Accepts a WebSocket on `req` with the default settings: see [`Accept`].
pub fn accept(req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<WebSocket> {
    Accept::new().accept(req, res)
}

/// The server's side of a WebSocket handshake, with settings.
///
/// ```no_run
/// let mut app = gmp_http::Router::new();
/// app.handle("GET /chat", |req, res| {
///     let ws = gmp_http::ws::Accept::new()
///         .protocols(&["chat.v2", "chat.v1"])
///         .max_message_size(1 << 20)
///         .accept(req, res)?;
///     let _agreed = ws.protocol();
///     Ok(())
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Accept {
    protocols: Vec<String>,
    max_message: usize,
}

impl Default for Accept {
    fn default() -> Accept {
        Accept::new()
    }
}

impl Accept {
    /// Defaults: no subprotocol, messages up to [`DEFAULT_MAX_MESSAGE`].
    pub fn new() -> Accept {
        Accept {
            protocols: Vec::new(),
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }

    /// The subprotocols this server speaks, preferred first: the first one the client
    /// also offers is chosen (none if there is no common one, as RFC 6455 says).
    pub fn protocols(mut self, protocols: &[&str]) -> Accept {
        self.protocols = protocols.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The largest message (and frame) accepted; a larger one fails the read with
    /// `InvalidData` and the connection is closed.
    pub fn max_message_size(mut self, n: usize) -> Accept {
        self.max_message = n;
        self
    }

    /// Checks the handshake (GET, `Upgrade: websocket`, `Connection: upgrade`,
    /// `Sec-WebSocket-Version: 13`, a valid `Sec-WebSocket-Key`), answers `101` and
    /// returns the WebSocket. A bad handshake is answered here (400 with the reason, or
    /// 426 with `Sec-WebSocket-Version: 13` for another version) and returned as an
    /// `InvalidInput` error for the handler to pass on with `?`.
    pub fn accept(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<WebSocket> {
        if let Err((status, why)) = check(req) {
            res.status(status)
                .header("content-type", "text/plain; charset=utf-8");
            if status == 426 {
                res.header("sec-websocket-version", "13")
                    .header("upgrade", "websocket");
            }
            let body = format!("{why}\n");
            res.header("content-length", &body.len().to_string());
            // Sent now, so that the error this returns does not replace it with a 500.
            res.write_all(body.as_bytes())?;
            res.flush()?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WebSocket handshake refused ({status}): {why}"),
            ));
        }
        let key = req
            .header("sec-websocket-key")
            .unwrap_or("")
            .trim()
            .to_string();
        let protocol = req.header("sec-websocket-protocol").and_then(|offered| {
            let offered: Vec<&str> = offered.split(',').map(str::trim).collect();
            self.protocols
                .iter()
                .find(|p| offered.contains(&p.as_str()))
                .cloned()
        });
        res.header(
            "sec-websocket-accept",
            &tungstenite::handshake::derive_accept_key(key.as_bytes()),
        );
        if let Some(p) = &protocol {
            res.header("sec-websocket-protocol", p);
        }
        let (conn, first) = res.upgrade(req, "websocket")?;
        let socket = Socket::server(conn.owner(), conn.tls().is_some());
        let ws = tungstenite::WebSocket::from_partially_read(
            Conn::new(Stream::Server(conn)),
            first.to_vec(),
            Role::Server,
            Some(config(self.max_message)),
        );
        Ok(WebSocket::new(ws, socket, protocol))
    }
}

/// Whether `req` is a WebSocket handshake gmp can answer; else the status and why.
fn check(req: &Request<'_>) -> Result<(), (u16, &'static str)> {
    let fields: Vec<(&str, &[u8])> = req.headers().collect();
    check_head(req.method(), req.version(), &fields)
}

/// [`check`] over a request's method, version and fields (as `Request::headers` gives
/// them), so that the fuzz targets can call it without a connection.
pub(crate) fn check_head(
    method: &str,
    version: crate::Version,
    fields: &[(&str, &[u8])],
) -> Result<(), (u16, &'static str)> {
    let headers = fields.iter().copied();
    let has_token = |name: &str, token: &str| {
        headers
            .clone()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    };
    // `Request::header`: the first field of that name, if its value is UTF-8, with
    // its optional whitespace (SP, HTAB) trimmed; `str::trim` would also take Unicode
    // spaces, which a value may hold as obs-text ("13<NBSP>" is not 13).
    let header = |name: &str| {
        headers
            .clone()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(crate::h1::fields::trim(v)).ok())
    };
    if method != "GET" {
        return Err((400, "a WebSocket handshake is a GET"));
    }
    if version != crate::Version::Http11 {
        return Err((400, "a WebSocket handshake needs HTTP/1.1"));
    }
    if !has_token("upgrade", "websocket") {
        return Err((400, "missing Upgrade: websocket"));
    }
    if !has_token("connection", "upgrade") {
        return Err((400, "missing Connection: upgrade"));
    }
    if header("sec-websocket-version") != Some("13") {
        return Err((426, "unsupported Sec-WebSocket-Version (13 is)"));
    }
    if !valid_key(header("sec-websocket-key").unwrap_or("")) {
        return Err((400, "invalid Sec-WebSocket-Key (16 bytes, base64)"));
    }
    Ok(())
}

/// 16 bytes in base64: 22 characters, the last holding 2 bits, then `==`.
fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    b.len() == 24
        && b[22..] == *b"=="
        && b[..22].iter().all(|&c| b64(c))
        && matches!(b[21], b'A' | b'Q' | b'g' | b'w')
}

/// Connects to `url` (`ws://` or, with the `tls` feature, `wss://`) with the default
/// settings: see [`Connect`].
///
/// ```no_run
/// # extern crate gmp_core as gmp;
/// gmp::run(|| -> std::io::Result<()> {
///     let ws = gmp_http::ws::connect("ws://127.0.0.1:8080/ws")?;
///     ws.send(gmp_http::ws::Message::text("hello"))?;
///     let echo = ws.read()?;
///     println!("{echo}");
///     Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn connect(url: &str) -> io::Result<WebSocket> {
    Connect::new(url).connect()
}

/// The client's side of a WebSocket handshake, with settings.
pub struct Connect {
    url: String,
    protocols: Vec<String>,
    max_message: usize,
    timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<Arc<gmp_net::tls::rustls::ClientConfig>>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Connect {
    /// Defaults: no subprotocol, messages up to [`DEFAULT_MAX_MESSAGE`], 30 s for the
    /// connection and the handshake, webpki's roots for `wss://`.
    pub fn new(url: &str) -> Connect {
        Connect {
            url: url.to_string(),
            protocols: Vec::new(),
            max_message: DEFAULT_MAX_MESSAGE,
            timeout: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Subprotocols to offer (`Sec-WebSocket-Protocol`), preferred first.
    pub fn protocols(mut self, protocols: &[&str]) -> Connect {
        self.protocols = protocols.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The largest message (and frame) accepted from the server.
    pub fn max_message_size(mut self, n: usize) -> Connect {
        self.max_message = n;
        self
    }

    /// How long connecting and the handshake may take.
    pub fn timeout(mut self, d: Duration) -> Connect {
        self.timeout = d;
        self
    }

    /// The TLS configuration for `wss://` (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<gmp_net::tls::rustls::ClientConfig>) -> Connect {
        self.tls = Some(config);
        self
    }

    /// Connects and performs the handshake.
    pub fn connect(self) -> io::Result<WebSocket> {
        let url = crate::url::Url::parse(&self.url)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let addrs: Vec<_> =
            gmp_net::ToSocketAddrs::to_socket_addrs(&(url.host.as_str(), url.port))?.collect();
        let mut last = None;
        let mut tcp = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, self.timeout) {
                Ok(t) => {
                    tcp = Some(t);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
            io::Error::new(e.kind(), format!("connecting to {}: {e}", url.authority()))
        })?;
        let _ = tcp.set_nodelay(true);
        tcp.set_read_timeout(Some(self.timeout))?;
        tcp.set_write_timeout(Some(self.timeout))?;
        let tcp = Arc::new(tcp);
        let sock = ClientSock {
            tcp: tcp.clone(),
            nonblocking: false,
        };
        let conn = Conn::new(if url.https {
            #[cfg(feature = "tls")]
            {
                let cfg = match &self.tls {
                    Some(c) => c.clone(),
                    None => default_tls(),
                };
                Stream::ClientTls(Box::new(gmp_net::tls::connect(&url.host, sock, &cfg)?))
            }
            #[cfg(not(feature = "tls"))]
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "wss:// needs gmp-http's tls feature",
            ));
        } else {
            Stream::Client(sock)
        });
        let mut request =
            tungstenite::client::IntoClientRequest::into_client_request(self.url.as_str())
                .map_err(to_io)?;
        if !self.protocols.is_empty() {
            let v = self.protocols.join(", ");
            request.headers_mut().insert(
                "sec-websocket-protocol",
                v.parse().map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "invalid subprotocol name")
                })?,
            );
        }
        let (ws, response) =
            tungstenite::client::client_with_config(request, conn, Some(config(self.max_message)))
                .map_err(|e| match e {
                    tungstenite::HandshakeError::Failure(e) => io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("WebSocket handshake with {}: {}", url.authority(), to_io(e)),
                    ),
                    tungstenite::HandshakeError::Interrupted(_) => {
                        io::Error::new(io::ErrorKind::WouldBlock, "WebSocket handshake interrupted")
                    }
                })?;
        // Reads wait without a timeout from now on; writes keep one.
        tcp.set_read_timeout(None)?;
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(WebSocket::new(ws, Socket::client(tcp, url.https), protocol))
    }
}

/// webpki's roots with ring and no ALPN (a WebSocket handshake is HTTP/1.1).
#[cfg(feature = "tls")]
fn default_tls() -> Arc<gmp_net::tls::rustls::ClientConfig> {
    use gmp_net::tls::rustls;
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Arc::new(
        rustls::ClientConfig::builder_with_provider(gmp_net::tls::ring_provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys() {
        assert!(super::valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        for bad in [
            "",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25jZR==",
            "dGhlIHNhbXBsZSBub25jZ$==",
            "dGhlIHNhbXBsZSBub25jZQ==x",
        ] {
            assert!(!super::valid_key(bad), "{bad}");
        }
    }
}
