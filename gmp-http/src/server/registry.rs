//! The server's shared state: its settings, the registry of live connections with the
//! state each is in (idle, receiving a head, busy), the reaper's tick that times them,
//! and the shutdown flag. Connection goroutines and the accept loop both use it; it uses
//! neither.

use gmp_core::sync::Mutex;
use gmp_net::{Shutdown, TcpStream};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::Duration;

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub max_header_bytes: usize,
    pub max_body_bytes: u64,
    pub header_read_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    pub body_read_timeout: Option<Duration>,
    pub shutdown_grace: Duration,
    pub shutdown_on_signals: bool,
    /// Graceful shutdown waits for upgraded connections within its grace (or closes
    /// them at once).
    pub wait_for_upgraded: bool,
    /// Serve TLS with this configuration (ALPN set to http/1.1).
    #[cfg(feature = "tls")]
    pub tls: Option<std::sync::Arc<gmp_net::tls::rustls::ServerConfig>>,
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
            shutdown_on_signals: false,
            wait_for_upgraded: true,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl crate::transport::Owner for Entry {
    fn socket(&self) -> &TcpStream {
        &self.stream
    }

    fn hand_over(&self) -> bool {
        self.to(BUSY, UPGRADED)
    }

    fn release(&self) {
        Entry::release(self);
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
/// Handed to a handler by `Response::upgrade`: no timeouts, not idle; shutdown waits
/// for it within the grace (or closes it at once: `Server::wait_for_upgraded(false)`).
pub(crate) const UPGRADED: u32 = 4;

/// One connection, shared between its goroutine and the registry. Its registration ends
/// with `release`: when its goroutine ends, or, for an upgraded connection, when the
/// `Upgraded` that took it over is dropped.
pub(crate) struct Entry {
    pub stream: TcpStream,
    state: AtomicU32,
    /// When the current state began, in reaper ticks (`Shared::epoch`).
    since: AtomicU64,
    /// Its place in the registry.
    slot: usize,
    /// The server (weak: the registry holds the entry).
    shared: Weak<Shared>,
}

impl Entry {
    /// Moves `from → to`, noting that the new state began at tick `now`. False if the
    /// connection was closed under us.
    #[inline]
    pub(crate) fn enter(&self, from: u32, to: u32, now: u64) -> bool {
        // Relaxed: pairs with the Relaxed load in `Shared::reap`, which reads `since` only
        // after its SeqCst load of `state`; the SeqCst CAS below publishes this store with
        // the new state, so a reaper that sees the state sees this `since` or a later one.
        self.since.store(now, Relaxed);
        self.to(from, to)
    }

    /// Moves `from → to` without restarting the clock (for BUSY, which never times out).
    #[inline]
    pub(crate) fn to(&self, from: u32, to: u32) -> bool {
        // SeqCst: with the SeqCst `shutting_down` flag, either the connection sees the
        // flag after going idle or shutdown's sweep sees it idle (Dekker).
        self.state
            .compare_exchange(from, to, SeqCst, SeqCst)
            .is_ok()
    }

    #[inline]
    pub(crate) fn state(&self) -> u32 {
        self.state.load(SeqCst)
    }

    /// Ends the registration (the connection no longer counts as live).
    pub(crate) fn release(&self) {
        if let Some(s) = self.shared.upgrade() {
            s.unregister(self.slot);
        }
    }

    /// Closes the connection whatever its state (shutdown's grace is over).
    pub(crate) fn force_close(&self) {
        self.state.store(CLOSED, SeqCst);
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Closes the connection from outside if it is in state `from`.
    pub(crate) fn close_if(&self, from: u32) -> bool {
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
pub(crate) struct Registry {
    slots: Vec<Option<Arc<Entry>>>,
    free: Vec<usize>,
}

pub(crate) struct Shared {
    /// The listening socket's descriptor while `serve` runs it, for `ShutdownHandle`;
    /// `serve` clears it under the lock before closing the socket, so a shutdown never
    /// hits a reused descriptor.
    pub(crate) listener_fd: std::sync::Mutex<Option<RawFd>>,
    pub settings: Settings,
    pub(crate) shutting_down: AtomicBool,
    /// Set when `serve` returns: the reaper stops.
    pub(crate) stopped: AtomicBool,
    pub(crate) conns: Mutex<Registry>,
    pub(crate) live: AtomicUsize,
    /// Reaper ticks so far: the clock of connection states.
    pub(crate) epoch: AtomicU64,
}

impl Shared {
    #[inline]
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.load(SeqCst)
    }

    /// The current reaper tick.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        // Relaxed: pairs with the reaper's Relaxed `fetch_add` in `reap`. A tick count
        // guards no memory; a connection that reads the previous tick starts its state
        // one tick early, which `reap`'s rounding allows for.
        self.epoch.load(Relaxed)
    }

    pub(crate) fn register(self: &Arc<Self>, stream: TcpStream) -> Arc<Entry> {
        let mut r = self.conns.lock();
        let slot = r.free.pop().unwrap_or_else(|| {
            r.slots.push(None);
            r.slots.len() - 1
        });
        let entry = Arc::new(Entry {
            stream,
            state: AtomicU32::new(BUSY),
            since: AtomicU64::new(self.epoch()),
            slot,
            shared: Arc::downgrade(self),
        });
        r.slots[slot] = Some(entry.clone());
        drop(r);
        // SeqCst: read by shutdown's wait loop; pairs with the fetch_sub in `unregister`.
        self.live.fetch_add(1, SeqCst);
        super::counters::opened();
        entry
    }

    pub(crate) fn unregister(&self, slot: usize) {
        let mut r = self.conns.lock();
        r.slots[slot] = None;
        r.free.push(slot);
        drop(r);
        self.live.fetch_sub(1, SeqCst);
        super::counters::closed();
    }

    /// Applies `f` to every live connection.
    pub(crate) fn each(&self, mut f: impl FnMut(&Entry)) {
        let r = self.conns.lock();
        for e in r.slots.iter().flatten() {
            f(e);
        }
    }

    /// One reaper tick: advance the clock, then close connections idle or receiving a
    /// head for too long.
    pub(crate) fn reap(&self, tick: Duration) {
        // Relaxed: pairs with the Relaxed load in `epoch`; see there.
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
            // The state first, then when it began: a state read here was stored after its
            // `since` (see `Entry::enter`), so the age is never that of an older state.
            // Relaxed: pairs with the Relaxed store in `Entry::enter`.
            let state = e.state();
            let age = now.saturating_sub(e.since.load(Relaxed));
            match state {
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
