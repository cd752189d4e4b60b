//! `struct M`: an OS thread that runs Gs, its g0 context, and how it sleeps and wakes.
//!
//! An M's native thread stack is its g0: `mstart` fixes the g0 SP once and every `mcall`
//! restarts there. The M currently running on a thread is found through one
//! thread-local pointer, read only through the `#[inline(never)]` accessor
//! [`current`]: a G may resume on another M after any switch, and an inlined
//! thread-local read could let the compiler reuse the old thread's address across it
//! (ARCHITECTURE.md, invariant 4).
//!
//! Idle Ms sleep on a [`Note`], a one-shot futex event: `sleep` returns once `wake` has
//! been called, whichever comes first, so a wake-up is never lost. One that idles for
//! the keep-alive while the Ps have Ms enough exits ([`idle_sleep`]).

use super::g::G;
use super::handoff;
use super::lockedm;
use super::p::P;
use super::sched::Sched;
use super::schedule;
use crate::arch::{self, Gobuf};
use crate::clock::{nanotime, NEVER};
use crate::signal;
use crate::spinlock::procyield;
use crate::words::note::{NoteWord, ASLEEP};
use crate::words::section::Locks;
use std::cell::Cell;
use std::io;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

pub(crate) struct M {
    /// Matches the thread name `gmp-m<id>`.
    #[allow(dead_code)]
    pub(super) id: usize,
    sched: *const Sched,
    /// Fixed SP every `mcall` on this M starts g0 at.
    pub(super) g0_sp: usize,
    /// The G running on this M, null while on g0 between Gs.
    pub(super) curg: *mut G,
    /// The P this M holds, null while it holds none.
    pub(super) p: *const P,
    /// Whether this M is counted in `Sched::nmspinning`.
    pub(super) spinning: bool,
    /// Set by `startm` before waking this M: the P to run with.
    pub(super) next_p: *const P,
    /// Sleeps here when idle.
    pub(super) park: Note,
    /// The park commit of the G being parked (lives on that G's stack; see `park::park`).
    pub(super) park_commit: Option<*mut dyn FnMut(*mut G) -> bool>,
    /// The thread context `mstart` was called from; resumed when the M exits.
    pub(super) exit_buf: Gobuf,
    /// xorshift state for random steal order.
    pub(super) rand: u64,
    /// P sections this thread is inside (`handoff.rs`): at least 1 while on g0, 0 while
    /// a goroutine runs its own code. Written only by this thread (Relaxed load + store);
    /// sysmon reads it after a `membarrier` (see `handoff.rs`, `words/section.rs`).
    pub(super) locks: Locks,
    /// Left the idle list for good after its keep-alive ([`idle_sleep`]): counted in
    /// `Sched::nmexiting`, no longer in `mcount`. This thread only.
    pub(super) expired: bool,
    /// Holds a permit of `blocking.rs` (one of the threads that may be away from the
    /// Ps): from giving its P up for a `blocking` call, or from finding that sysmon took
    /// it (`handoff::p_try_enter_on`), until it holds a P again or is listed idle. This
    /// thread only.
    pub(super) permit: bool,
    /// The Gs this M's blocking netpoll readied (`sleeper::sleep_in_netpoll`), kept
    /// between polls so that the idle path allocates nothing. Empty between uses.
    pub(super) pollbuf: Vec<*mut G>,
}

thread_local! {
    /// The M running on this thread; null on threads that are not Ms. `const`-initialised
    /// with no destructor, so reading it is a plain TLS load, safe in a signal handler.
    static CURRENT_M: Cell<*mut M> = const { Cell::new(ptr::null_mut()) };
}

/// The M running on this thread, or null. Never inlined: see the module doc.
#[inline(never)]
pub(crate) fn current() -> *mut M {
    CURRENT_M.with(|c| c.get())
}

#[inline(never)]
pub(super) fn set_current(m: *mut M) {
    CURRENT_M.with(|c| c.set(m));
}

/// For the SIGSEGV handler: `(id, name, stack lo, stack hi)` of the G running on this
/// thread, if any.
pub(super) fn running_g_for_signal() -> Option<(u64, Option<&'static [u8]>, usize, usize)> {
    let m = current();
    if m.is_null() {
        return None;
    }
    // SAFETY: `m` is this thread's live M (it is cleared before the M is freed), and a
    // running G's header stays valid while it runs on this thread.
    unsafe {
        let g = (*m).curg;
        if g.is_null() {
            return None;
        }
        let g = &*g;
        let name = g.name.as_ref().map(|n| &*(n.as_bytes() as *const [u8]));
        Some((g.id, name, g.stack.lo, g.stack.hi))
    }
}

impl M {
    pub(super) fn new(id: usize, sched: *const Sched) -> M {
        M {
            id,
            sched,
            g0_sp: 0,
            curg: ptr::null_mut(),
            p: ptr::null(),
            spinning: false,
            next_p: ptr::null(),
            park: Note::new(),
            park_commit: None,
            exit_buf: Gobuf::default(),
            rand: 0x9E37_79B9_7F4A_7C15 ^ (id as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
            locks: Locks::new(1),
            permit: false,
            pollbuf: Vec::new(),
            expired: false,
        }
    }

    /// The runtime this M belongs to.
    #[inline]
    pub(super) fn sched(&self) -> &'static Sched {
        // SAFETY: an M never outlives its runtime: `run` joins every M before dropping it.
        unsafe { &*self.sched }
    }

    pub(crate) fn fastrand(&mut self) -> u32 {
        let mut x = self.rand;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rand = x;
        (x >> 32) as u32
    }
}

thread_local! {
    static THREAD_RAND: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A cheap random number (xorshift), per M, or per thread outside a runtime.
#[inline(never)]
pub(crate) fn fastrand() -> u32 {
    let m = current();
    if !m.is_null() {
        // SAFETY: the M is this thread's; only this thread touches its `rand`.
        return unsafe { (*m).fastrand() };
    }
    THREAD_RAND.with(|c| {
        let mut x = c.get();
        if x == 0 {
            x = nanotime() | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        (x >> 32) as u32
    })
}

// ---- starting an M -----------------------------------------------------------------

/// Starts a new M thread that will run `p` (Go's `newm`). The caller (`startm`) counted
/// it in `Sched::mcount` already, within `max_threads`.
pub(super) fn newm(s: &Sched, p: *const P, spinning: bool) -> io::Result<()> {
    // `startm` counted this M already, under the limit.
    // Relaxed: the limit is set before the first M starts (the thread spawn orders it).
    debug_assert!(lockedm::threads_counted(s) <= s.max_threads.load(Ordering::Relaxed));
    // Relaxed: a unique number for the thread name, nothing else hangs on it.
    let id = s.next_mid.fetch_add(1, Ordering::Relaxed) + 1;
    let sp = s as *const Sched as usize;
    let pp = p as usize;
    // Hold the list while spawning, so `shutdown` cannot miss this thread (see there).
    let mut threads = s.threads.lock().unwrap_or_else(|e| e.into_inner());
    let h = thread::Builder::new()
        .name(format!("gmp-m{id}"))
        .spawn(move || m_main(sp as *const Sched, id, pp as *const P, spinning))?;
    threads.push(h);
    tracing::debug!(m = id, "new M");
    Ok(())
}

/// The body of an M's thread: binds `p`, enters the scheduling loop on g0 through
/// `mstart`, and when the M exits (`mexit` resumes `exit_buf`) frees it.
fn m_main(s: *const Sched, id: usize, p: *const P, spinning: bool) {
    let alt = signal::ensure_altstack();
    let m = Box::into_raw(Box::new(M::new(id, s)));
    // SAFETY: `m` is ours until freed below; `mstart` returns only when the M exits,
    // after which no G or g0 code refers to it. `s` outlives every M (`shutdown` waits for
    // `mcount` to reach zero, which is the last thing this thread does with it).
    unsafe {
        // `gettid` is a plain syscall.
        (*s).allm_lock().push((m as usize, libc::gettid()));
        handoff::acquirep(&mut *m, p);
        (*m).spinning = spinning;
        set_current(m);
        arch::mstart(
            &mut (*m).exit_buf,
            &mut (*m).g0_sp,
            schedule::mstart_entry,
            m as usize,
        );
        set_current(ptr::null_mut());
        (*s).allm_lock().retain(|&(x, _)| x != m as usize);
        let expired = (*m).expired;
        drop(Box::from_raw(m));
        signal::free_altstack(alt);
        // The last access to the Sched: `shutdown` waits for both counts to reach zero.
        if expired {
            (*s).nmexiting.fetch_sub(1, Ordering::SeqCst);
        } else {
            (*s).mcount.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

// ---- idle Ms -----------------------------------------------------------------------

/// How long an idle M looks at its note before it sleeps on the futex (only with more
/// than one P: with one, the sleeper runs that P itself when work comes, and hands no
/// batch to a second M). Under load the sleeper's next batch wakes it within
/// microseconds; caught in the spin, that wake-up costs no `futex`
/// call on either side and no context switch. `compare.py http --no-pin --wakeups
/// --conns 50 --rounds 5 --secs 3` (2 Ps beside wrk), futex calls per request with no
/// spin, 30, 50 and 100 µs: 0.108, 0.053, 0.037 and 0.019 (hyper 0.026); context
/// switches 0.140, 0.045, 0.038 and 0.029 (hyper 0.060); requests/s 1.000, 1.029, 1.019
/// and 1.000. The CPU per request rose from 4.91 to 5.32 µs (hyper 5.45). A spin that
/// yielded the CPU between looks, as the sleeper's does, made more context switches than
/// no spin (0.299, and 0.849 × the requests): each yield to the load generator on the
/// same CPU is one. With a CPU hog beside the run, a 50 µs spin of this kind served
/// 1.016 × the requests of none (5 rounds). The cost: the CPU it burns, and `echo`'s
/// p99 beside its client on the same two CPUs, 0.99-2.45 ms with the spin against
/// 0.50-1.46 ms without (tokio 0.31-0.69, Go 2.7-4.0; ARCHITECTURE.md, "The idle M's
/// spin").
const IDLE_SPIN_NS: u64 = 100_000;

/// `idle_sleep`'s spin: looks at the note for up to [`IDLE_SPIN_NS`] unless as many idle
/// Ms already spin as half the busy Ps (one may always spin), Go's cap on its spinning
/// Ms: on a large machine whose Ps go idle together, the others sleep at once. Returns
/// whether the M was woken.
fn idle_spin(s: &Sched, m: &M) -> bool {
    // SeqCst as every access of `npidle`.
    let busy = s.procs - s.npidle.load(Ordering::SeqCst).min(s.procs);
    // Relaxed: a cap on the CPU spent, not a handshake; two Ms that pass it together
    // spin one more than the cap, and nothing else reads the count.
    if s.nmidlespin.fetch_add(1, Ordering::Relaxed) >= (busy / 2).max(1) {
        s.nmidlespin.fetch_sub(1, Ordering::Relaxed);
        return false;
    }
    let woken = m.park.spin_until(nanotime().saturating_add(IDLE_SPIN_NS));
    // Relaxed: as above.
    s.nmidlespin.fetch_sub(1, Ordering::Relaxed);
    woken
}

/// Sleeps on the M's note until `startm` (or `shutdown`) wakes it, after a short spin
/// ([`idle_spin`]). An M that stays idle for the keep-alive (`Sched::keep_alive`) while
/// more Ms than the Ps could use are around exits instead (`mexit`, then `m_main` frees
/// it): a burst of blocking calls would otherwise leave its threads behind for good, as
/// Go's runtime does (it never frees an M).
///
/// "More than the Ps could use": the Ms counted against the limit that are not away
/// from the Ps in blocking calls (`Locked::nsys`) hold a P, are idle, or are on their way
/// to the idle list; with more than `procs` of them, this one is not needed to run a P.
/// The ones kept serve the next blocking call's hand-off without starting a thread.
/// Leaving is decided under the scheduler lock, off the idle list, so `startm` either
/// took the M first (and its wake-up is on its way) or does not see it.
pub(super) fn idle_sleep(m: &mut M) {
    let s = m.sched();
    if s.procs > 1 && idle_spin(s, m) {
        return;
    }
    if s.keep_alive == NEVER {
        m.park.sleep();
        return;
    }
    if m.park.sleep_until(nanotime().saturating_add(s.keep_alive)) {
        return;
    }
    let mut l = s.lock();
    if !s.is_idle_listed(&l, m as *mut M as usize) {
        // `startm` or `shutdown` took this M off the list: their wake-up follows.
        drop(l);
        m.park.sleep();
        return;
    }
    if lockedm::threads_counted(s).saturating_sub(l.nsys) <= s.procs {
        // Needed: it sleeps until it is woken. Only new Ms make one excess again,
        // and those go idle later, with their own keep-alive.
        drop(l);
        m.park.sleep();
        return;
    }
    s.mremove(&mut l, m);
    // Out of the count at once (so `startm` may start another in its place), its
    // thread ending in `m_main` (`nmexiting` until then).
    s.mcount.fetch_sub(1, Ordering::SeqCst);
    s.nmexiting.fetch_add(1, Ordering::SeqCst);
    // Relaxed: a statistic.
    s.threads_exited.fetch_add(1, Ordering::Relaxed);
    m.expired = true;
    drop(l);
    tracing::debug!(m = m.id, "idle M exits after its keep-alive");
    schedule::mexit(m);
}

/// A one-shot futex event: `wake` sets it, `sleep` waits until it is set, `clear` re-arms.
/// The word and its orderings are `words/note.rs`'s (model-checked there).
pub(super) struct Note {
    word: NoteWord,
}

impl Note {
    pub(super) fn new() -> Note {
        Note {
            word: NoteWord::new(),
        }
    }

    /// Re-arms the note: only the sleeping M, before publishing itself as idle under
    /// the scheduler lock (which orders it before any `wake`).
    pub(super) fn clear(&self) {
        self.word.clear();
    }

    /// Wakes the M sleeping here (or the next `sleep`); what the caller wrote before is
    /// visible to it.
    pub(super) fn wake(&self) {
        if self.word.wake() {
            futex_wake(self.word.key(), 1);
        }
    }

    /// Waits until woken. Returns at once if already woken.
    pub(super) fn sleep(&self) {
        while !self.word.is_woken() {
            if !self.word.prepare_sleep() {
                return;
            }
            futex_wait(self.word.key(), ASLEEP, None);
        }
    }

    /// Looks at the note until `deadline` (a `nanotime` instant), with pause
    /// instructions between looks and without sleeping: a wake that comes meanwhile
    /// costs neither side a system call. Returns whether it was woken.
    pub(super) fn spin_until(&self, deadline: u64) -> bool {
        loop {
            if self.word.is_woken() {
                return true;
            }
            if nanotime() >= deadline {
                return false;
            }
            procyield();
        }
    }

    /// Waits until woken or until `deadline` (a `nanotime` instant). Returns whether it
    /// was woken.
    pub(super) fn sleep_until(&self, deadline: u64) -> bool {
        loop {
            if self.word.is_woken() {
                return true;
            }
            let now = nanotime();
            if now >= deadline {
                return false;
            }
            if !self.word.prepare_sleep() {
                return true;
            }
            futex_wait(
                self.word.key(),
                ASLEEP,
                Some(Duration::from_nanos(deadline - now)),
            );
        }
    }
}

/// `FUTEX_WAIT_PRIVATE` on `key` while it holds `val`, for at most `timeout`.
pub(super) fn futex_wait(key: &AtomicU32, val: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `key` is a live u32; the kernel only reads it and the timespec.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            key.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            val,
            tsp,
        );
    }
}

pub(super) fn futex_wake(key: &AtomicU32, n: i32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            key.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        );
    }
}
