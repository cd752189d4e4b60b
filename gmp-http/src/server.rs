//! `Server`: the accept loop, settings, the registry of connections that the reaper and
//! graceful shutdown walk, and `ShutdownHandle`.
//!
//! Timeouts on idle and half-received requests are kept by one *reaper* goroutine per
//! server, not by a timer per read: each connection records its state and since when
//! (a CAS and a store per state change), and the reaper shuts down the sockets that
//! overstay. "When" is the reaper's tick count, not a clock read: the reaper advances it
//! each tick (a quarter of the shortest timeout), so a connection closes between one and
//! one and a half timeouts after its state began. A timer per read would cost a heap
//! insert and removal on every request for a deadline that almost never fires (Go's
//! net/http pays that); the reaper pays a scan of the registry per tick instead.

use crate::conn;
use crate::request::Request;
use crate::response::Response;
use gmp_core::sync::Mutex;
use gmp_net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

/// What `serve` calls for each request.
pub trait Handler:
    Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static
{
}
impl<F> Handler for F where
    F: Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static
{
}

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub max_header_bytes: usize,
    pub max_body_bytes: u64,
    pub header_read_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    pub body_read_timeout: Option<Duration>,
    pub shutdown_grace: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_header_bytes: 64 << 10,
            max_body_bytes: 16 << 20,
            header_read_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(60)),
            body_read_timeout: Some(Duration::from_secs(60)),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Connection states, for the reaper and for shutdown.
pub(crate) const IDLE: u32 = 0;
/// Receiving a request head.
pub(crate) const HEAD: u32 = 1;
/// Running a handler (or reading its body, or writing its response).
pub(crate) const BUSY: u32 = 2;
/// Shut down by the reaper or by shutdown; the connection goroutine ends.
pub(crate) const CLOSED: u32 = 3;

/// One connection, shared between its goroutine and the registry.
pub(crate) struct Entry {
    pub stream: TcpStream,
    state: AtomicU32,
    /// When the current state began, in reaper ticks (`Shared::epoch`).
    since: AtomicU64,
}

impl Entry {
    /// Moves `from → to`, noting that the new state began at tick `now`. False if the
    /// connection was closed under us.
    pub(crate) fn enter(&self, from: u32, to: u32, now: u64) -> bool {
        // Relaxed: the reaper reads `since` only to judge age, after it sees the state
        // (SeqCst, below); a stale value shifts one judgement by a tick at most.
        self.since.store(now, Relaxed);
        self.to(from, to)
    }

    /// Moves `from → to` without restarting the clock (for BUSY, which never times out).
    pub(crate) fn to(&self, from: u32, to: u32) -> bool {
        // SeqCst: with the SeqCst `shutting_down` flag, either the connection sees the
        // flag after going idle or shutdown's sweep sees it idle (Dekker).
        self.state
            .compare_exchange(from, to, SeqCst, SeqCst)
            .is_ok()
    }

    pub(crate) fn state(&self) -> u32 {
        self.state.load(SeqCst)
    }

    /// Closes the connection from outside if it is in state `from`.
    fn close_if(&self, from: u32) -> bool {
        if self
            .state
            .compare_exchange(from, CLOSED, SeqCst, SeqCst)
            .is_ok()
        {
            let _ = self.stream.shutdown(Shutdown::Both);
            return true;
        }
        false
    }
}

#[derive(Default)]
struct Registry {
    slots: Vec<Option<Arc<Entry>>>,
    free: Vec<usize>,
}

pub(crate) struct Shared {
    /// The listening socket's descriptor while `serve` runs it, for `ShutdownHandle`;
    /// `serve` clears it under the lock before closing the socket, so a shutdown never
    /// hits a reused descriptor.
    listener_fd: std::sync::Mutex<Option<RawFd>>,
    pub settings: Settings,
    shutting_down: AtomicBool,
    /// Set when `serve` returns: the reaper stops.
    stopped: AtomicBool,
    conns: Mutex<Registry>,
    live: AtomicUsize,
    /// Reaper ticks so far: the clock of connection states.
    epoch: AtomicU64,
}

impl Shared {
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.load(SeqCst)
    }

    /// The current reaper tick.
    pub(crate) fn epoch(&self) -> u64 {
        // Relaxed: a clock reading; see `Entry::enter`.
        self.epoch.load(Relaxed)
    }

    fn register(&self, stream: TcpStream) -> (usize, Arc<Entry>) {
        let entry = Arc::new(Entry {
            stream,
            state: AtomicU32::new(BUSY),
            since: AtomicU64::new(self.epoch()),
        });
        let mut r = self.conns.lock();
        let slot = match r.free.pop() {
            Some(i) => {
                r.slots[i] = Some(entry.clone());
                i
            }
            None => {
                r.slots.push(Some(entry.clone()));
                r.slots.len() - 1
            }
        };
        drop(r);
        // SeqCst: read by shutdown's wait loop; pairs with the fetch_sub in `unregister`.
        self.live.fetch_add(1, SeqCst);
        (slot, entry)
    }

    pub(crate) fn unregister(&self, slot: usize) {
        let mut r = self.conns.lock();
        r.slots[slot] = None;
        r.free.push(slot);
        drop(r);
        self.live.fetch_sub(1, SeqCst);
    }

    /// Applies `f` to every live connection.
    fn each(&self, mut f: impl FnMut(&Entry)) {
        let r = self.conns.lock();
        for e in r.slots.iter().flatten() {
            f(e);
        }
    }

    /// One reaper tick: advance the clock, then close connections idle or receiving a
    /// head for too long.
    fn reap(&self, tick: Duration) {
        let now = self.epoch.fetch_add(1, Relaxed) + 1;
        // A state that began during tick `since` has lasted at least `now - since - 1`
        // whole ticks; close once that reaches the timeout.
        let limit = |t: Option<Duration>| {
            t.map(|t| {
                t.as_nanos()
                    .div_ceil(tick.as_nanos())
                    .min(u64::MAX as u128 - 1) as u64
                    + 1
            })
        };
        let (idle, head) = (
            limit(self.settings.idle_timeout),
            limit(self.settings.header_read_timeout),
        );
        self.each(|e| {
            let age = now.saturating_sub(e.since.load(Relaxed));
            match e.state() {
                IDLE if idle.is_some_and(|t| age >= t) && e.close_if(IDLE) => {
                    tracing::debug!("gmp-http: idle timeout: closing a connection");
                }
                HEAD if head.is_some_and(|t| age >= t) && e.close_if(HEAD) => {
                    tracing::debug!("gmp-http: header read timeout: closing a connection");
                }
                _ => {}
            }
        });
    }
}

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

    /// A handle that stops this server. Take it after the settings.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }

    /// Accepts connections and serves each on its own goroutine until a
    /// [`ShutdownHandle`] stops the server; then returns `Ok(())`.
    ///
    /// Called outside a gmp runtime, it starts one (with default settings) and serves
    /// in it. Accept errors are logged and do not stop the server; running out of file
    /// descriptors backs off (5 ms, doubling up to 1 s) instead of spinning.
    pub fn serve<F: Handler>(self, handler: F) -> io::Result<()> {
        if !gmp_core::in_runtime() {
            return gmp_core::run(move || self.serve(handler));
        }
        let Server { listener, shared } = self;
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
    let (slot, entry) = shared.register(stream);
    let (s, h) = (shared.clone(), handler.clone());
    let spawned = gmp_core::Builder::new().spawn(move || {
        conn::serve_conn(&s, &entry, peer, &*h);
        s.unregister(slot);
    });
    if let Err(e) = spawned {
        tracing::warn!("gmp-http: cannot start a goroutine for {peer}: {e}");
        shared.unregister(slot);
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
    crate::date::tick();
    let shared = shared.clone();
    gmp_core::spawn(move || {
        while !shared.stopped.load(SeqCst) {
            gmp_core::sleep(tick);
            crate::date::tick();
            shared.reap(tick);
        }
    });
}

/// Graceful shutdown, after the accept loop ended: close idle connections, give the
/// busy ones the grace period, then close whatever is left.
fn drain(shared: &Shared) {
    let start = std::time::Instant::now();
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
    shared.each(|e| {
        e.state.store(CLOSED, SeqCst);
        let _ = e.stream.shutdown(Shutdown::Both);
    });
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
