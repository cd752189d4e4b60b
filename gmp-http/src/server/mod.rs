//! `Server`: the accept loop, the settings builder, the reaper goroutine, graceful
//! shutdown and `ShutdownHandle`. One goroutine per connection runs `conn`'s loop; the
//! state they share is in `registry`; `pool` holds the per-thread buffer pools;
//! `signals` turns SIGINT/SIGTERM into a shutdown.
//!
//! Timeouts on idle and half-received requests are kept by one *reaper* goroutine per
//! server, not by a timer per read: each connection records its state and since when
//! (a CAS and a store per state change), and the reaper shuts down the sockets that
//! overstay. "When" is the reaper's tick count, not a clock read: the reaper advances it
//! each tick (a quarter of the shortest timeout), so a connection closes between one and
//! one and a half timeouts after its state began. A timer per read would cost a heap
//! insert and removal on every request for a deadline that almost never fires (Go's
//! net/http pays that); the reaper pays a scan of the registry per tick instead.

mod conn;
pub(crate) mod counters;
mod pool;
mod registry;
mod signals;
#[cfg(feature = "tls")]
mod tls;

pub use pool::{stats, Stats};

use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;
use gmp_core::sync::Mutex;
use gmp_net::{TcpListener, TcpStream, ToSocketAddrs};
use registry::{Registry, Settings, Shared, IDLE, UPGRADED};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

/// An HTTP/1.1 server: one goroutine per connection, handlers written as plain
/// blocking code.
///
/// ```no_run
/// let server = gmp_http::Server::bind("127.0.0.1:8080")?;
/// server.serve(|_req, res| {
///     res.header("content-type", "text/plain");
///     res.body("Hello, World!");
///     Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

/// Stops a [`Server`]: see [`ShutdownHandle::shutdown`]. Cheap to clone; usable from
/// any goroutine or thread.
///
/// ```
/// let server = gmp_http::Server::bind("127.0.0.1:0")?;
/// let handle = server.shutdown_handle();
/// let stopper = std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_millis(50));
///     handle.shutdown();
/// });
/// server.serve(|_req, res| {
///     res.body("ok");
///     Ok(())
/// })?; // returns once the handle stops it
/// stopper.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl Server {
    /// Binds a listening socket. Works inside a gmp runtime or outside one.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<Server> {
        Server::from_listener(TcpListener::bind(addr)?)
    }

    /// Serves on a listener bound elsewhere.
    pub fn from_listener(listener: TcpListener) -> io::Result<Server> {
        Ok(Server {
            shared: Arc::new(Shared {
                listener_fd: std::sync::Mutex::new(Some(listener.as_raw_fd())),
                settings: Settings::default(),
                shutting_down: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                conns: Mutex::new(Registry::default()),
                live: AtomicUsize::new(0),
                epoch: AtomicU64::new(0),
            }),
            listener,
        })
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    fn settings(&mut self) -> &mut Settings {
        &mut Arc::get_mut(&mut self.shared)
            .expect("gmp-http: change settings before taking a ShutdownHandle")
            .settings
    }

    /// Largest request head (request line and headers) accepted; larger gets 431.
    /// Default 64 KiB.
    ///
    /// # Panics
    /// If `n` is under 1 KiB, or a [`ShutdownHandle`] was already taken (settings are
    /// fixed from then on).
    pub fn max_header_bytes(mut self, n: usize) -> Server {
        assert!(
            n >= 1024,
            "gmp-http: max_header_bytes must be at least 1024"
        );
        self.settings().max_header_bytes = n;
        self
    }

    /// Largest request body accepted; a larger Content-Length gets 413 before the body
    /// is read, and a chunked body that grows past it fails to read. Default 16 MiB.
    pub fn max_body_bytes(mut self, n: u64) -> Server {
        self.settings().max_body_bytes = n;
        self
    }

    /// How long a client may take to send a request head, from its first byte; then the
    /// connection is closed. `None` disables it. Default 10 s.
    pub fn header_read_timeout(mut self, d: impl Into<Option<Duration>>) -> Server {
        self.settings().header_read_timeout = nonzero(d.into(), "header_read_timeout");
        self
    }

    /// How long a keep-alive connection may wait for its next request; then it is
    /// closed. `None` disables it. Default 60 s.
    pub fn idle_timeout(mut self, d: impl Into<Option<Duration>>) -> Server {
        self.settings().idle_timeout = nonzero(d.into(), "idle_timeout");
        self
    }

    /// How long a write may make no progress (a client that stopped reading) before it
    /// fails and the connection closes. `None` disables it. Default 60 s.
    pub fn write_timeout(mut self, d: impl Into<Option<Duration>>) -> Server {
        self.settings().write_timeout = nonzero(d.into(), "write_timeout");
        self
    }

    /// How long a read of the request body may wait for data before it fails with
    /// `TimedOut`. `None` disables it. Default 60 s.
    pub fn body_read_timeout(mut self, d: impl Into<Option<Duration>>) -> Server {
        self.settings().body_read_timeout = nonzero(d.into(), "body_read_timeout");
        self
    }

    /// How long shutdown waits for requests in flight before closing their
    /// connections. Default 10 s.
    pub fn shutdown_grace(mut self, d: Duration) -> Server {
        self.settings().shutdown_grace = d;
        self
    }

    /// Shuts the server down gracefully on SIGINT (Ctrl-C) or SIGTERM, as
    /// [`ShutdownHandle::shutdown`] does: stop accepting, let requests in flight
    /// finish, close idle connections; then `serve` returns `Ok(())`. A second signal
    /// during the shutdown exits the process at once, with status 130 (SIGINT) or 143
    /// (SIGTERM). While `serve` runs, these signals no longer end the process by
    /// themselves; their previous disposition is back once it returns.
    ///
    /// The signals are received through [`gmp_net::signal::Signals`] (a goroutine
    /// parked on a self-pipe; nothing but a one-byte `send` runs in the signal
    /// handler). Several servers may each ask: one signal shuts down all of them.
    /// Asking twice is asking once.
    ///
    /// ```no_run
    /// gmp_http::Server::bind("127.0.0.1:8080")?
    ///     .shutdown_on_signals()
    ///     .serve(|_req, res| {
    ///         res.body("hello");
    ///         Ok(())
    ///     })?;
    /// println!("stopped by a signal; every request in flight was answered");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// As the other settings, if a [`ShutdownHandle`] was already taken.
    pub fn shutdown_on_signals(mut self) -> Server {
        self.settings().shutdown_on_signals = true;
        self
    }

    /// Serves HTTPS: every connection starts with a TLS handshake with `config` (the
    /// certificate chain and key), under the header-read timeout. ALPN is set to
    /// `http/1.1` (the server speaks HTTP/1.1 only); handlers see the connection's TLS
    /// through [`Request::tls`](crate::Request::tls). Cargo feature `tls`.
    ///
    /// ```no_run
    /// use gmp_net::tls::rustls;
    /// use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    /// let certs = CertificateDer::pem_file_iter("cert.pem").unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    /// let key = PrivateKeyDer::from_pem_file("key.pem").unwrap();
    /// let config = rustls::ServerConfig::builder_with_provider(gmp_net::tls::ring_provider())
    /// .with_safe_default_protocol_versions()
    /// .unwrap()
    /// .with_no_client_auth()
    /// .with_single_cert(certs, key)
    /// .unwrap();
    /// gmp_http::Server::bind("0.0.0.0:8443")?
    ///     .tls(std::sync::Arc::new(config))
    ///     .serve(|req, res| {
    ///         res.body(format!("hello over {:?}", req.tls().map(|t| &t.version)));
    ///         Ok(())
    ///     })
    /// # ; Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: std::sync::Arc<gmp_net::tls::rustls::ServerConfig>) -> Server {
        self.settings().tls = Some(tls::http11(config));
        self
    }

    /// Whether graceful shutdown waits for connections handlers took over with
    /// [`Response::upgrade`](crate::Response::upgrade) (WebSockets, say), as it waits for
    /// requests in flight: within the grace period, then they are closed (default
    /// `true`). With `false` they are closed when shutdown starts. (Go's `Shutdown`
    /// neither waits for nor closes hijacked connections; gmp keeps track of them.)
    pub fn wait_for_upgraded(mut self, wait: bool) -> Server {
        self.settings().wait_for_upgraded = wait;
        self
    }

    /// A handle that stops this server. Take it after the settings.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }

    /// Accepts connections and serves each on its own goroutine with the closure or
    /// `fn` `handler`, until a [`ShutdownHandle`] stops the server; then returns
    /// `Ok(())`.
    ///
    /// Called outside a gmp runtime, it starts one (with default settings) and serves
    /// in it. Accept errors are logged and do not stop the server; running out of file
    /// descriptors backs off (5 ms, doubling up to 1 s) instead of spinning.
    ///
    /// A [`Router`](crate::Router), [`FileServer`](crate::FileServer) or other
    /// [`Handler`] value is served with [`serve_handler`](Server::serve_handler): this
    /// method's `Fn` bound is what lets Rust infer a closure's argument types.
    pub fn serve<F>(self, handler: F) -> io::Result<()>
    where
        F: Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static,
    {
        self.serve_handler(handler)
    }

    /// [`serve`](Server::serve) for any [`Handler`]: a [`Router`](crate::Router), a
    /// [`FileServer`](crate::FileServer), a handler wrapped by middleware.
    pub fn serve_handler<H: Handler>(self, handler: H) -> io::Result<()> {
        if !gmp_core::in_runtime() {
            return gmp_core::run(move || self.serve_handler(handler));
        }
        let Server { listener, shared } = self;
        let signals = if shared.settings.shutdown_on_signals {
            Some(signals::watch(ShutdownHandle {
                shared: shared.clone(),
            })?)
        } else {
            None
        };
        let handler = Arc::new(handler);
        spawn_reaper(&shared);
        let mut backoff = Duration::from_millis(5);
        loop {
            if shared.shutting_down() {
                break;
            }
            match listener.accept() {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(5);
                    if shared.shutting_down() {
                        break;
                    }
                    start_conn(&shared, &handler, stream, peer);
                }
                Err(_) if shared.shutting_down() => break,
                Err(e) if is_out_of_fds(&e) => {
                    tracing::warn!("gmp-http: accept: {e}; retrying in {backoff:?}");
                    gmp_core::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => tracing::warn!("gmp-http: accept: {e}"),
            }
        }
        *shared.listener_fd.lock().unwrap_or_else(|e| e.into_inner()) = None;
        drop(listener);
        drain(&shared);
        shared.stopped.store(true, SeqCst);
        if let Some(s) = signals {
            s.stop();
        }
        Ok(())
    }
}

fn nonzero(d: Option<Duration>, what: &str) -> Option<Duration> {
    assert!(
        d != Some(Duration::ZERO),
        "gmp-http: {what} must be positive (None disables it)"
    );
    d
}

fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM)
    )
}

fn start_conn<F: Handler>(
    shared: &Arc<Shared>,
    handler: &Arc<F>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    // Responses are written whole; Nagle would only hold back the last segment.
    let _ = stream.set_nodelay(true);
    if let Err(e) = stream.set_write_timeout(shared.settings.write_timeout) {
        tracing::warn!("gmp-http: {e}");
        return;
    }
    let entry = Shared::register(shared, stream);
    let (s, e, h) = (shared.clone(), entry.clone(), handler.clone());
    let spawned = gmp_core::Builder::new().spawn(move || {
        // An upgraded connection's registration went with it to its `Upgraded`.
        if !conn::serve_conn(&s, &e, peer, &*h) {
            e.release();
        }
    });
    if let Err(err) = spawned {
        tracing::warn!("gmp-http: cannot start a goroutine for {peer}: {err}");
        entry.release();
    }
}

fn spawn_reaper(shared: &Arc<Shared>) {
    let st = &shared.settings;
    // Twice a second at least: the reaper also publishes the second for `Date`.
    let tick = [st.header_read_timeout, st.idle_timeout]
        .into_iter()
        .flatten()
        .map(|t| t / 4)
        .fold(Duration::from_millis(500), Duration::min)
        .max(Duration::from_millis(10));
    crate::h1::date::tick();
    let shared = shared.clone();
    gmp_core::spawn(move || {
        while !shared.stopped.load(SeqCst) {
            gmp_core::sleep(tick);
            crate::h1::date::tick();
            shared.reap(tick);
        }
    });
}

/// Graceful shutdown, after the accept loop ended: close idle connections, give the
/// busy ones the grace period, then close whatever is left.
fn drain(shared: &Shared) {
    let start = std::time::Instant::now();
    if !shared.settings.wait_for_upgraded {
        shared.each(|e| {
            e.close_if(UPGRADED);
        });
    }
    loop {
        shared.each(|e| {
            e.close_if(IDLE);
        });
        if shared.live.load(SeqCst) == 0 || start.elapsed() >= shared.settings.shutdown_grace {
            break;
        }
        gmp_core::sleep(Duration::from_millis(5));
    }
    let left = shared.live.load(SeqCst);
    if left == 0 {
        return;
    }
    tracing::warn!("gmp-http: shutdown grace over; closing {left} connections");
    shared.each(|e| e.force_close());
    // Their goroutines end at their next socket operation; a handler busy elsewhere
    // (computing, sleeping) is not waited for longer than this.
    let forced = std::time::Instant::now();
    while shared.live.load(SeqCst) > 0 && forced.elapsed() < Duration::from_secs(1) {
        gmp_core::sleep(Duration::from_millis(5));
    }
}

impl ShutdownHandle {
    /// Starts a graceful shutdown and returns at once: the server stops accepting,
    /// closes idle connections, lets requests in flight finish (their responses say
    /// `Connection: close`) for up to the grace period, closes what is left, and then
    /// `serve` returns `Ok(())`. Calling it again does nothing more.
    pub fn shutdown(&self) {
        if self.shared.shutting_down.swap(true, SeqCst) {
            return;
        }
        // Wake the accept loop: shutdown(2) on a listening socket makes a pending
        // accept fail (EINVAL) and is reported by epoll.
        let fd = self
            .shared
            .listener_fd
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(fd) = *fd {
            // SAFETY: `serve` closes the listener only after clearing `fd` under this
            // lock, so while we hold it the descriptor is still the listener's.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    /// Whether shutdown has been requested.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutting_down()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("settings", &self.shared.settings)
            .finish()
    }
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("shutting_down", &self.shared.shutting_down())
            .finish()
    }
}
