//! The netpoller's sockets: `PollDesc`s, and the park/ready protocol that lets a
//! goroutine wait for readiness without blocking its thread (Go's `netpoll.go`; the
//! poller itself is `netpoll_epoll.rs`).
//!
//! A socket is registered once, edge-triggered, for reading and writing. Its [`PollDesc`]
//! keeps one word per direction:
//!
//! | value | meaning |
//! |---|---|
//! | `0` | nothing known, nobody waiting |
//! | `READY` | an event arrived that nobody consumed yet |
//! | `WAIT` | a G is about to park (it has not been saved yet) |
//! | a `*mut G` | that G is parked, waiting |
//!
//! The waiting G swaps `0 → WAIT` on its own stack, then parks; the park *commit* runs on
//! g0 after the G is saved and CASes `WAIT → G`. If readiness (or a deadline, or close)
//! arrived in between, the word is no longer `WAIT`, the commit fails and the G carries on
//! without sleeping. The waker CASes whatever it finds: `WAIT → READY` (no G to wake
//! yet), `G → READY` (wake the G). So there is exactly one wake per park: no lost
//! wake-up, no double wake-up. Go's `netpollblock`/`netpollunblock` work the same way.
//!
//! A goroutine that read the direction's event count (`PollDesc::events`) before the
//! syscall that returned `WouldBlock` passes it to `wait_since`, which does not park if
//! an event arrived since: with several goroutines on one direction, that event's READY
//! may have gone to another of them, and edge-triggered epoll does not repeat it.
//!
//! `PollDesc`s are never freed, only recycled (as Go's `pollCache`): an event or a timer
//! can still name a desc after its socket closed. Each carries a generation in the token
//! (top 16 bits) so stale events are dropped; deadline timers carry a per-direction
//! deadline number that only the current wait matches.
//!
//! One word holds one waiter per direction. gmp-net's sockets queue their waiting
//! operations per direction (a FIFO semaphore, taken only when an operation has to
//! wait, as Go's fdMutex), so they never have two. Any other caller's second waiter
//! naps 1 ms and retries its syscall.

use super::g::G;
use super::m;
use super::park;
use super::sched::{self, Sched};
use super::timer::{self, Timer, TimerFunc};
use crate::clock::nanotime;
use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::RawFd;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::words::poll::{Announce, PollWord};

/// The `nanotime` instant `d` from now: a deadline for [`PollDesc::wait`].
pub fn deadline_after(d: Duration) -> u64 {
    nanotime().saturating_add(d.as_nanos().min(u64::MAX as u128 / 2) as u64)
}

/// How long until `deadline` (from [`deadline_after`]); zero once it has passed.
pub fn deadline_left(deadline: u64) -> Duration {
    Duration::from_nanos(deadline.saturating_sub(nanotime()))
}

/// How long a second goroutine waiting on the same socket direction naps before it
/// retries its syscall (see `PollDesc::wait`).
const SHARED_WAIT_NAP: Duration = Duration::from_millis(1);

/// A desc's token is its address (never 0: the poller's waker has token 0) with the
/// desc's generation in the top 16 bits.
const ADDR_BITS: u32 = 48;
const ADDR_MASK: usize = (1 << ADDR_BITS) - 1;

/// Which half of a socket a G waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Readable: data, a connection to accept, or the peer's close.
    Read,
    /// Writable: room in the send buffer, or a finished connect.
    Write,
}

/// Per-socket readiness state. Obtain with [`PollDesc::alloc`], give back with
/// [`PollDesc::close`] before closing the fd. gmp-net's sockets are built on it.
///
/// ```
/// use gmp_core::__private::netpoll::{Mode, PollDesc};
/// use std::net::UdpSocket;
/// use std::os::fd::AsRawFd;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// a.set_nonblocking(true).unwrap();
/// let pd = PollDesc::alloc(a.as_raw_fd());
/// let to = a.local_addr().unwrap();
/// gmp_core::run(move || {
///     gmp_core::spawn(move || {
///         gmp_core::sleep(std::time::Duration::from_millis(5));
///         UdpSocket::bind("127.0.0.1:0").unwrap().send_to(b"x", to).unwrap();
///     });
///     let mut buf = [0u8; 8];
///     loop {
///         match a.recv(&mut buf) {
///             Ok(n) => break assert_eq!(&buf[..n], b"x"),
///             // Parks this goroutine until the poller sees the datagram.
///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
///                 pd.wait(Mode::Read, None).unwrap()
///             }
///             Err(e) => panic!("{e}"),
///         }
///     }
///     pd.close();
/// });
/// ```
#[repr(align(64))]
pub struct PollDesc {
    /// The park/ready words, one per direction (`words/poll.rs`).
    rg: PollWord,
    wg: PollWord,
    /// Readiness events seen per direction (see [`PollDesc::events`]).
    rev: AtomicU64,
    wev: AtomicU64,
    /// Generation, bumped at close: tokens of older registrations are ignored.
    seq: AtomicU64,
    closing: AtomicBool,
    /// An event said the read side is closed or in error (EOF, RST): sticky, because a
    /// read that returns the last data does not return the EOF behind it.
    rclosed: AtomicBool,
    /// Deadline timers: each wait with a deadline takes a fresh number; the timer that
    /// fires stores its number in `*expired` and wakes the G, which compares.
    rdl: AtomicU64,
    wdl: AtomicU64,
    rexpired: AtomicU64,
    wexpired: AtomicU64,
    /// Id of the runtime this desc's fd is registered with (0: none). Ids are never
    /// reused, so a desc that outlives its runtime cannot mistake a new one for it.
    rt: AtomicU64,
    /// That runtime's registry, for deregistering (kept alive by the Arc even after the
    /// runtime ended). Locked only to register and deregister.
    registry: Mutex<Option<Arc<Registry>>>,
    /// The socket's descriptor. Relaxed: written in `alloc` before the desc reaches any
    /// other thread (moving the socket there synchronises), and read-only afterwards.
    fd: AtomicU64,
}

static FREE: Mutex<Vec<&'static PollDesc>> = Mutex::new(Vec::new());

impl PollDesc {
    /// A fresh (or recycled) desc for socket `fd`.
    pub fn alloc(fd: RawFd) -> &'static PollDesc {
        let pd = FREE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| {
                Box::leak(Box::new(PollDesc {
                    rg: PollWord::new(),
                    wg: PollWord::new(),
                    rev: AtomicU64::new(0),
                    wev: AtomicU64::new(0),
                    seq: AtomicU64::new(0),
                    closing: AtomicBool::new(false),
                    rclosed: AtomicBool::new(false),
                    rdl: AtomicU64::new(0),
                    wdl: AtomicU64::new(0),
                    rexpired: AtomicU64::new(0),
                    wexpired: AtomicU64::new(0),
                    rt: AtomicU64::new(0),
                    registry: Mutex::new(None),
                    fd: AtomicU64::new(0),
                }))
            });
        // Relaxed: see the field (the desc reaches other threads with its socket).
        pd.fd.store(fd as u64, Relaxed);
        pd
    }

    fn slot(&self, mode: Mode) -> &PollWord {
        match mode {
            Mode::Read => &self.rg,
            Mode::Write => &self.wg,
        }
    }

    fn token(&self) -> Token {
        let addr = self as *const PollDesc as usize;
        debug_assert_eq!(addr & !ADDR_MASK, 0);
        // Relaxed: only the socket's own operations change the generation (`close`), and
        // a recycled desc came here through `FREE`'s lock, after its last bump.
        Token(addr | ((self.seq.load(Relaxed) as usize & 0xFFFF) << ADDR_BITS))
    }

    /// Registers the fd with the current runtime's poller if it is not yet.
    fn ensure_registered(&self, s: &Sched) -> io::Result<()> {
        // Acquire pairs with the Release store below: registered means registered.
        if self.rt.load(Acquire) == s.id {
            return Ok(());
        }
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Acquire: as above; the lock orders us after any registration that stored it.
        let cur = self.rt.load(Acquire);
        if cur == s.id {
            return Ok(());
        }
        // Relaxed: see the field.
        let fd = self.fd.load(Relaxed) as RawFd;
        if cur != 0 {
            if sched::is_live(cur) {
                return Err(io::Error::other(
                    "gmp: this socket is registered with another gmp runtime that is still \
                     running; a socket cannot be used from two runtimes",
                ));
            }
            // Its runtime ended: move the socket to this one. Words left by goroutines
            // that were dropped with that runtime go too.
            if let Some(old) = reg.take() {
                let _ = old.deregister(&mut SourceFd(&fd));
            }
            // Nobody of the new runtime waits on this desc before the Release store of
            // `rt` below publishes these.
            self.rg.reset();
            self.wg.reset();
        }
        s.netpoll.registry.register(
            &mut SourceFd(&fd),
            self.token(),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        *reg = Some(s.netpoll.registry.clone());
        // Release: after the registration, so a waiter that sees this id parks on an fd
        // that really is in the poller.
        self.rt.store(s.id, Release);
        Ok(())
    }

    /// Waits until the socket may be ready for `mode`, the `deadline` (a `nanotime`
    /// instant) passes, or the desc is closed. `Ok` means: try the syscall again.
    ///
    /// Inside a runtime the goroutine parks; elsewhere the thread blocks in `poll(2)`.
    pub fn wait(&'static self, mode: Mode, deadline: Option<u64>) -> io::Result<()> {
        self.wait_since(mode, deadline, None)
    }

    /// How many readiness events for `mode` the poller has seen. Read it *before* the
    /// syscall that returned `WouldBlock` and hand it to [`wait_since`](Self::wait_since).
    pub fn events(&self, mode: Mode) -> u64 {
        match mode {
            Mode::Read => self.rev.load(SeqCst),
            Mode::Write => self.wev.load(SeqCst),
        }
    }

    /// [`wait`](Self::wait) for a caller whose syscall ran after it read
    /// [`events`](Self::events) = `since`: if an event arrived after that, it does not
    /// park. With several goroutines on one direction, that event's READY (or wake-up)
    /// may have gone to another of them and the slot be back at 0; parking would miss it
    /// (edge-triggered: it is not repeated).
    pub fn wait_since(
        &'static self,
        mode: Mode,
        deadline: Option<u64>,
        since: Option<u64>,
    ) -> io::Result<()> {
        let m = m::current();
        if m.is_null() {
            return self.wait_thread(mode, deadline);
        }
        // SAFETY: `m` is this thread's live M.
        let s = unsafe { (*m).sched() };
        self.ensure_registered(s)?;
        let slot = self.slot(mode);
        // `announce` tries `0 → WAIT` first, then consumes a READY (see there).
        match slot.announce() {
            Announce::Waiting => {}
            Announce::Consumed => return Ok(()),
            Announce::Busy => {
                // Another goroutine waits on this direction. gmp-net's sockets never get
                // here (they queue their waiters); for other callers, one word holds one
                // waiter, so this one naps and then retries the syscall: the edge that
                // woke the other may have announced more than it consumed, and no new edge
                // will come for that.
                self.check(mode, deadline, None)?;
                super::timer::sleep(SHARED_WAIT_NAP);
                return self.check(mode, deadline, None);
            }
        }
        if let Err(e) = self.check(mode, deadline, None) {
            // Only our own WAIT goes back to 0: a READY that raced in stays.
            slot.retract();
            return Err(e);
        }
        // An event since the caller's syscall that someone else consumed: retry instead.
        // (The poller counts before its CAS on the slot; our CAS above read that CAS or a
        // later RMW in its release sequence, so this load sees the count.)
        let seen = self.events(mode);
        if since.is_some_and(|n| seen != n) {
            slot.retract();
            return Ok(());
        }
        let dl = deadline.map(|when| {
            let (ctr, _) = self.deadline_words(mode);
            // Relaxed: only this direction's single waiter counts. The timer that
            // compares it was pushed after this under its heap's lock, which orders this
            // increment before the timer's load (`deadline_fired`).
            let n = ctr.fetch_add(1, Relaxed) + 1;
            add_deadline(when, self, mode, n);
            n
        });
        s.netpoll.waiters.fetch_add(1, SeqCst);
        // The commit publishes the saved G, or fails if a waker came first.
        park::park(super::traceback::WaitReason::IoWait, |g| {
            slot.commit(g as usize)
        });
        s.netpoll.waiters.fetch_sub(1, SeqCst);
        // A READY if the event came before the commit (which then failed), or came again
        // after the wake-up. An event that woke us left none (`PollWord::unblock`), but
        // it counted itself before its CAS, and the wake-up orders that count before
        // this load: then retry the syscall even if a deadline fired since, as Go's
        // `netpollblock` prefers I/O. (An event counted before `seen` was read, whose
        // CAS still found us parked, goes to `check`, which says Ok unless a deadline or
        // a close came too; with a `since` there is no such event, it returned above.)
        if slot.consume() || self.events(mode) != seen {
            return Ok(());
        }
        self.check(mode, deadline, dl)
    }

    fn deadline_words(&self, mode: Mode) -> (&AtomicU64, &AtomicU64) {
        match mode {
            Mode::Read => (&self.rdl, &self.rexpired),
            Mode::Write => (&self.wdl, &self.wexpired),
        }
    }

    fn check(&self, mode: Mode, deadline: Option<u64>, armed: Option<u64>) -> io::Result<()> {
        // Acquire pairs with the Release store in `close`: a caller that sees the flag
        // sees the desc as `close` left it before waking waiters. (A waiter that `close`
        // woke is ordered after the store by the wake-up itself: `unblock`'s CAS and the
        // run queue.)
        if self.closing.load(Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "gmp: the socket was closed",
            ));
        }
        let expired = match armed {
            // Acquire pairs with the Release store of `expired` in `deadline_fired`.
            Some(n) => self.deadline_words(mode).1.load(Acquire) == n,
            None => deadline.is_some_and(|d| d <= nanotime()),
        };
        if expired {
            let what = if mode == Mode::Read { "read" } else { "write" };
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("gmp: {what} timed out"),
            ));
        }
        Ok(())
    }

    /// Outside a runtime: block the thread in `poll(2)`.
    fn wait_thread(&self, mode: Mode, deadline: Option<u64>) -> io::Result<()> {
        let events = if mode == Mode::Read {
            libc::POLLIN
        } else {
            libc::POLLOUT
        };
        let mut pfd = libc::pollfd {
            // Relaxed: see the field.
            fd: self.fd.load(Relaxed) as RawFd,
            events,
            revents: 0,
        };
        let timeout = match deadline {
            None => -1,
            Some(d) => {
                let now = nanotime();
                if d <= now {
                    return self.check(mode, deadline, None);
                }
                ((d - now).div_ceil(1_000_000)).min(i32::MAX as u64) as i32
            }
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        if r == 0 {
            return self.check(mode, deadline, None);
        }
        Ok(())
    }

    /// Whether an edge event arrived for `mode` that nobody consumed. A read that came up
    /// short and finds this false, and [`read_closed`](Self::read_closed) false, can park
    /// at once instead of making a syscall that would only return `WouldBlock`
    /// (ARCHITECTURE.md, "The netpoller").
    pub fn is_ready(&self, mode: Mode) -> bool {
        self.slot(mode).is_ready()
    }

    /// Whether the peer closed its side or the socket is in error. Several events fold
    /// into one `READY`, so an EOF that arrived with the last data is not signalled
    /// again after a read returns that data: a short read is not "drained" then.
    pub fn read_closed(&self) -> bool {
        // Acquire pairs with the Release store in `Netpoll::poll`.
        self.rclosed.load(Acquire)
    }

    /// Wakes whoever waits, deregisters, and recycles the desc. Call before closing the fd.
    pub fn close(&'static self) {
        // Release pairs with the Acquire load in `check`.
        self.closing.store(true, Release);
        for mode in [Mode::Read, Mode::Write] {
            let g = self.slot(mode).unblock(false) as *mut G;
            if !g.is_null() {
                park::ready(g, false);
            }
        }
        // AcqRel: Acquire pairs with the Release store in `ensure_registered` (the
        // registration this undoes is visible); Release pairs with its Acquire loads, so
        // a later registration of the recycled desc starts from a deregistered fd.
        if self.rt.swap(0, AcqRel) != 0 {
            // Relaxed: see the field.
            let fd = self.fd.load(Relaxed) as RawFd;
            if let Some(r) = self
                .registry
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                let _ = r.deregister(&mut SourceFd(&fd));
            }
        }
        // New generation: events of the old one are ignored. Release pairs with the
        // poller's Acquire load in `poll_with`: a poller that reads the new generation
        // drops the event. One that read the old generation just before this may still
        // mark the recycled desc READY: a spurious readiness, which costs the next
        // operation one syscall that returns `WouldBlock`.
        self.seq.fetch_add(1, Release);
        // The FREE lock below publishes these resets to the next `alloc`.
        self.rg.reset();
        self.wg.reset();
        // Relaxed: as above.
        self.rclosed.store(false, Relaxed);
        self.closing.store(false, Relaxed);
        FREE.lock().unwrap_or_else(|e| e.into_inner()).push(self);
    }
}

/// Marks `slot` ready (`ioready`) or just wakes its waiter (deadline, close). Returns the
/// G to ready, or null.
#[inline]
pub(super) fn netpollready(ev: &Event, f: &mut impl FnMut(*mut G)) -> usize {
    let t = ev.token().0;
    // SAFETY: descs are never freed; a stale token is caught by the generation check.
    let pd = unsafe { &*((t & ADDR_MASK) as *const PollDesc) };
    // Acquire pairs with the Release bump in `PollDesc::close`.
    if (pd.seq.load(Acquire) as usize & 0xFFFF) != t >> ADDR_BITS {
        return 0;
    }
    let mut woken = 0;
    let err = ev.is_error();
    if ev.is_read_closed() || err {
        // Release: before the READY that a reader may see (pairs with `read_closed`).
        pd.rclosed.store(true, Release);
    }
    if ev.is_readable() || ev.is_read_closed() || err {
        // Counted before the slot's CAS: see `wait_since`.
        pd.rev.fetch_add(1, SeqCst);
        let g = pd.rg.unblock(true) as *mut G;
        if !g.is_null() {
            woken += 1;
            f(g);
        }
    }
    if ev.is_writable() || ev.is_write_closed() || err {
        // As above.
        pd.wev.fetch_add(1, SeqCst);
        let g = pd.wg.unblock(true) as *mut G;
        if !g.is_null() {
            woken += 1;
            f(g);
        }
    }
    woken
}

// ---- deadlines --------------------------------------------------------------------

/// A socket deadline's timer: `arg` is the desc's address with the low bit set for the
/// write side (descs are 64-byte aligned), `seq` the deadline's number.
static DEADLINE: TimerFunc = TimerFunc {
    fire: |arg, n| {
        let (pd, mode) = deadline_target(arg);
        deadline_fired(pd, mode, n)
    },
    stale: |arg, n| {
        let (pd, mode) = deadline_target(arg);
        deadline_stale(pd, mode, n)
    },
};

/// Adds deadline `n` of `pd`'s `mode` side, at `when`, on the current M's P (called
/// from a G, before it parks).
fn add_deadline(when: u64, pd: &'static PollDesc, mode: Mode, n: u64) {
    let side = match mode {
        Mode::Read => 0,
        Mode::Write => 1,
    };
    timer::add_timer_from_g(Timer {
        when,
        f: &DEADLINE,
        arg: pd as *const PollDesc as usize | side,
        seq: n,
    });
}

/// The desc and side a `DEADLINE` timer's `arg` names.
fn deadline_target(arg: usize) -> (&'static PollDesc, Mode) {
    let mode = if arg & 1 == 0 {
        Mode::Read
    } else {
        Mode::Write
    };
    // SAFETY: `arg` was made from a `&'static PollDesc` by `add_deadline`; descs are
    // never freed.
    (unsafe { &*((arg & !1) as *const PollDesc) }, mode)
}

/// A deadline timer fired: wake the waiter if this deadline is still the current one.
fn deadline_fired(pd: &'static PollDesc, mode: Mode, n: u64) -> *mut G {
    let (ctr, expired) = pd.deadline_words(mode);
    // Relaxed: the waiter's increment to `n` came before it pushed this timer under the
    // heap lock this runner holds, which orders it. A later increment (a newer wait)
    // may be missed: this timer then wakes the newer wait, whose `check` finds
    // `expired` is not its number and retries its syscall.
    if ctr.load(Relaxed) != n {
        return ptr::null_mut();
    }
    // Release pairs with the Acquire load in `check`.
    expired.store(n, Release);
    pd.slot(mode).unblock(false) as *mut G
}

/// Whether a deadline timer is for a wait that is over (a later wait re-armed it).
fn deadline_stale(pd: &'static PollDesc, mode: Mode, n: u64) -> bool {
    let (ctr, _) = pd.deadline_words(mode);
    // Relaxed: a pruning hint; a timer kept by mistake just fires and finds nothing.
    ctr.load(Relaxed) != n
}
