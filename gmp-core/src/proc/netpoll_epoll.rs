//! The poller: one mio `Poll` (epoll) per runtime, its waker, and polling it (Go's
//! `netpoll_epoll.go`). What an event means for a socket is `netpoll.rs`'s.
//!
//! The poller is also the runtime's idle sleeper: an M with nothing to run blocks in
//! `poll` with the earliest timer as its timeout (one M at a time; see `schedule.rs`),
//! and anything that needs it awake sooner uses the mio `Waker`. Ms that find their
//! queues empty poll without blocking, and sysmon polls if nobody has for 10 ms, so a busy
//! run queue never starves I/O.
//!
//! `busy` is the poller's lock: one M (or sysmon) polls at a time, and another that tries
//! meanwhile gets "busy" instead of waiting, as it would during the syscall.

use super::g::G;
use super::netpoll::netpollready;
use crate::clock::{nanotime, NEVER};
use mio::{Events, Poll, Registry, Token, Waker};
use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

/// The waker's token. Desc tokens are addresses, never 0.
const WAKER: Token = Token(0);

/// The runtime's poller.
pub(super) struct Netpoll {
    poll: UnsafeCell<Poll>,
    events: UnsafeCell<Events>,
    /// Held by whoever is inside `poll` (one M, or sysmon).
    busy: AtomicBool,
    pub(super) registry: Arc<Registry>,
    waker: Waker,
    /// Gs inside `PollDesc::wait`: if any, the idle sleeper must block in the poller, and
    /// there is no deadlock.
    pub(super) waiters: AtomicUsize,
    /// `nanotime` of the last poll's end; 0 while an M is blocked in it.
    pub(super) last_poll: AtomicU64,
    /// When the blocked poller will wake by itself (`NEVER`: not blocked or no timeout).
    pub(super) poll_until: AtomicU64,
}

// SAFETY: `poll` and `events` are touched only by the holder of `busy` (an Acquire
// swap to take it, a Release store to give it back); the other fields synchronise
// themselves.
unsafe impl Sync for Netpoll {}
// SAFETY: as for `Sync`; the poller lives in its runtime's `Sched`.
unsafe impl Send for Netpoll {}

impl Netpoll {
    pub(super) fn new() -> io::Result<Netpoll> {
        let poll = Poll::new()?;
        let registry = Arc::new(poll.registry().try_clone()?);
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(Netpoll {
            poll: UnsafeCell::new(poll),
            // 1024 as tokio: with a thousand busy connections one poll drains them all.
            events: UnsafeCell::new(Events::with_capacity(1024)),
            busy: AtomicBool::new(false),
            registry,
            waker,
            waiters: AtomicUsize::new(0),
            last_poll: AtomicU64::new(nanotime()),
            poll_until: AtomicU64::new(NEVER),
        })
    }

    /// Wakes an M blocked in `poll`.
    pub(super) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            tracing::error!("gmp: cannot wake the netpoller: {e}");
        }
    }

    /// Polls once, blocking up to `timeout` (`None`: until an event or `wake`), and
    /// returns the Gs that became runnable. `None` if another M is polling.
    pub(super) fn poll(&self, timeout: Option<Duration>) -> Option<Vec<*mut G>> {
        let mut gs = Vec::new();
        self.poll_with(timeout, false, |g| gs.push(g)).then_some(gs)
    }

    /// [`poll`](Self::poll) handing each G that became runnable to `f` instead of
    /// collecting them, so the busy path (`sleeper::netpoll_now`, one poll per two to four
    /// round trips in the echo benchmark) allocates nothing. `f` runs while this M holds
    /// the poller: another M that tries to poll meanwhile gets `false`, as it would
    /// during the syscall. Returns `false` if another M is polling.
    ///
    /// The waker's event is for the idle sleeper (`sleeper`: the caller is it). The
    /// waker's eventfd is edge-triggered, so a poll that reports it consumes it: any
    /// other poller that sees it (an M's non-blocking poll, sysmon's) wakes the poller
    /// again, or the sleeper could block with a timeout that a new timer has made too
    /// late, or miss a P left for it or shutdown (Go's netpoll reads its wake-up
    /// eventfd only in a blocking poll, for the same reason).
    pub(super) fn poll_with(
        &self,
        timeout: Option<Duration>,
        sleeper: bool,
        mut f: impl FnMut(*mut G),
    ) -> bool {
        // `busy` is the poller's lock. Acquire pairs with the Release store that ends
        // the previous poll: this M sees `poll` and `events` as that M left them.
        if self.busy.swap(true, Acquire) {
            return false;
        }
        let blocking = timeout != Some(Duration::ZERO);
        if blocking {
            self.last_poll.store(0, SeqCst);
        }
        // SAFETY: we hold `busy`.
        let (poll, events) = unsafe { (&mut *self.poll.get(), &mut *self.events.get()) };
        let r = poll.poll(events, timeout);
        let mut woken = 0usize;
        let mut wake = false;
        if let Err(e) = r {
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::error!("gmp: netpoll failed: {e}");
            }
        } else {
            for ev in events.iter() {
                if ev.token() == WAKER {
                    wake = !sleeper;
                    continue;
                }
                woken += netpollready(ev, &mut f);
            }
        }
        self.last_poll.store(nanotime(), SeqCst);
        // Release pairs with the next poller's Acquire swap (see above).
        self.busy.store(false, Release);
        if wake {
            // Passed on to the sleeper, after `busy` is given back so that its poll can
            // start at once.
            self.wake();
        }
        if woken > 0 {
            tracing::trace!(n = woken, "netpoll woke goroutines");
        }
        true
    }
}
