//! `gmp::blocking`: a goroutine gives its P up for a call that may block its thread, and
//! takes one back after it (Go's `entersyscall`/`exitsyscall`), within a budget of
//! threads such calls may hold, which a call past it waits for in FIFO order.
//!
//! # The budget
//! A runtime runs at most `max_threads` Ms (`RuntimeBuilder::max_threads`). `procs` of
//! them belong to the Ps: whatever the blocking calls do, every P must be able to get
//! an M, or the goroutines that never block would stall behind those that do. So at
//! most `max_threads - procs` Ms are *away* from the Ps at once (`Locked::nsys`): in a
//! `blocking` call, or stuck in a call sysmon took the P from (`handoff::retake`). Each
//! holds a *permit* (`M::permit`) from giving its P up until it holds a P again or is
//! listed idle ([`release_permit`]).
//!
//! A call that finds every permit held waits for one: its goroutine parks in a FIFO
//! queue (`Locked::sysq`), and its M goes on running the P's other goroutines. A
//! returning call hands its permit straight to the first waiter ([`put_permit`]), and a
//! new call takes a free permit only when nobody queues, so no call overtakes one that
//! waits. Permits, the queue and the idle lists share the scheduler lock, which
//! `entersyscall` and `exitsyscall` took anyway, so the budget costs no extra lock.
//!
//! # Why not the simpler designs
//! - Go has no wait: past its limit (`debug.SetMaxThreads`) `newm` throws "thread
//!   exhaustion" and the process dies. A server under a burst of slow blocking calls
//!   should slow down, not crash.
//! - tokio's `block_in_place` lets the call proceed at once and makes the worker's core
//!   (a P) wait for a thread instead. Under a flood of blocking calls every P would end
//!   up waiting, and with them the goroutines that never block (the accept loop, every
//!   connection's I/O). Here only the goroutines that make blocking calls wait, as in
//!   tokio's `spawn_blocking`, whose pool is separate from the workers.
//! - Waiting only when the P needs a new M and none can be made (the old panic's
//!   condition) would let calls take every thread while their Ps happen to be idle;
//!   work arriving later would then find no M for any P.
//!
//! # A call that can never get a thread
//! With `max_threads <= procs` no call ever could: `run` refuses such a runtime. At run
//! time a wait ends when a permit holder returns; when sysmon proves that none ever
//! will (`deadlock::checkstuck`), every waiter panics with [`NEVER_MSG`] instead of
//! hanging.

use super::g::{G, G_RUNNABLE};
use super::handoff::{
    locks_add, needs_m, p_exit, p_try_enter, p_try_enter_on, reacquire, releasep,
};
use super::m::{self, M};
use super::p::GRef;
use super::park::park;
use super::sched::{Locked, Sched};
use super::schedule::{startm, wakep};
use super::traceback::WaitReason;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU8, Ordering::*};
use std::sync::MutexGuard;

/// Runs `f`, a call that may block its thread (file I/O, a C library, a lock of another
/// runtime), without holding up other goroutines: the goroutine's P is released while
/// `f` runs, so the runtime's other goroutines keep running on other threads, and taken
/// back afterwards (its own if still free; else any idle P; else the goroutine queues
/// for one). Go does this around every syscall (`entersyscall`/`exitsyscall`).
///
/// Outside a runtime it just calls `f`.
///
/// ```
/// # use gmp_core as gmp; // the facade crate `gmp` re-exports gmp-core
/// gmp::run(|| {
///     let ticker = gmp::spawn(|| {
///         for _ in 0..5 {
///             gmp::sleep(std::time::Duration::from_millis(1));
///         }
///     });
///     // Blocks this goroutine's thread, not the runtime.
///     let data = gmp::blocking(|| std::fs::read("/proc/self/stat")).unwrap();
///     assert!(!data.is_empty());
///     ticker.join().unwrap();
/// });
/// ```
///
/// A goroutine that blocks without `blocking` is still rescued, only later: after
/// ~10 ms sysmon hands its P to another thread.
///
/// # Waiting for a thread
/// At most `max_threads - procs` threads (`RuntimeBuilder::max_threads`) are in blocking
/// calls at once, so that the Ps always have threads to run the other goroutines on. A
/// call past that waits, in FIFO order, until one returns; meanwhile its goroutine is
/// parked and its P runs other goroutines. `gmp::stats()` shows the threads in blocking
/// calls (`blocked_threads`) and the goroutines waiting for one (`blocking_waiters`).
///
/// A call inside another `blocking` call's `f` runs at once, on the thread it is on.
///
/// # Panics
/// If the call can never get a thread: every thread for blocking calls is held by a call
/// that waits, with no timeout, on a lock, channel, condition variable or `park` of this
/// process, and nothing is left that could wake one: no other thread in the process, no
/// goroutine running, runnable, sleeping or waiting on a socket. sysmon proves this from
/// `/proc` (each such thread asleep in a private futex wait with no timeout, before and
/// after, with no context switch between); every waiting call then panics, saying so,
/// and its goroutine unwinds as from any panic (releasing, say, the lock the stuck calls
/// wait for). Short of that proof (a call in `sleep`, `read` or a futex wait with a
/// timeout, another thread, a goroutine that might still run) the call waits.
///
pub fn blocking<F: FnOnce() -> R, R>(f: F) -> R {
    let m = m::current();
    if m.is_null() {
        return f();
    }
    // SAFETY: this thread's M; only this thread writes its `p`.
    if unsafe { (*m).p.is_null() } {
        // Already away from the Ps, holding a permit: inside another `blocking` call's
        // `f`, or sysmon took the P and this goroutine found out. Its next goroutine
        // operation takes a P back (`p_enter_for_mcall`).
        return f();
    }
    let Some(m) = p_try_enter_on(m) else {
        // sysmon took the P just now: this M holds the permit sysmon took for it.
        return f();
    };
    // SAFETY: `m` is this thread's M, holding its P inside a section, running a G.
    let g = unsafe { (*m).curg };
    // SAFETY: as above.
    unsafe { entersyscall(m) };
    // A dump shows the goroutine `blocking` from here (`run_released` sets it back).
    super::traceback::set_wait(g, WaitReason::Blocking);
    run_released(f, g)
}

/// Runs `f` with the M's P released, then takes one back.
fn run_released<F: FnOnce() -> R, R>(f: F, g: *mut G) -> R {
    /// Takes a P back however `f` ends (a panic included, so the unwinding goroutine
    /// and whatever catches it run with a P as usual).
    struct Exit(*mut G);
    impl Drop for Exit {
        fn drop(&mut self) {
            exitsyscall();
            super::traceback::set_wait(self.0, WaitReason::None);
        }
    }
    let _exit = Exit(g);
    f()
}

/// Takes a permit (waiting for one if none is free), then releases the P of `m` and
/// leaves the section. Returns on whatever M runs the goroutine by then, without a P.
///
/// # Safety
/// `m` is this thread's M, running a goroutine, holding its P inside one section.
unsafe fn entersyscall(m: *mut M) {
    // SAFETY: per the contract.
    let mr = unsafe { &mut *m };
    let s = mr.sched();
    let mut l = s.lock();
    if take_permit(s, &mut l) {
        // SAFETY: per the contract; we hold a permit.
        unsafe { give_up_p(mr, l) };
        return;
    }
    drop(l);
    p_exit(m);
    wait_for_thread(s);
    // Resumed with a permit, on whichever M runs this goroutine now (`m` is stale).
    match p_try_enter() {
        // SAFETY: this thread's M, holding its P in a section; we hold a permit.
        Some(m) => unsafe { give_up_p(&mut *m, s.lock()) },
        None => {
            // sysmon took the P since this goroutine resumed, and took a permit for
            // this M with it: one is enough.
            let woke = put_permit(s, &mut s.lock());
            if woke {
                readied(s);
            }
        }
    }
}

/// Releases the P of `m` for a call, holding a permit and the scheduler lock: to an M if
/// the P has work, else to the idle list (as `handoffp`, sharing the lock).
///
/// # Safety
/// `m` is this thread's M, running a goroutine, holding its P inside one section; a
/// permit was taken for the call.
unsafe fn give_up_p(m: &mut M, mut l: MutexGuard<'_, Locked>) {
    let s = m.sched();
    debug_assert!(!m.permit);
    m.permit = true;
    // SAFETY: `m` holds its P.
    let work = needs_m(s, unsafe { &*m.p });
    // Holding the scheduler lock here is safe: sysmon never waits for it while it has a
    // retake of this P in progress (see `handoff::retake`), so `releasep` cannot wait on
    // a thread that waits on us.
    let p = releasep(m);
    locks_add(m, u32::MAX);
    if work {
        drop(l);
        startm(s, Some(p), false);
        return;
    }
    s.pidleput(&mut l, p);
    drop(l);
    // Work may have arrived between the check and the P becoming idle (see `handoffp`).
    // SAFETY: `p` points into the live runtime's `ps`.
    if needs_m(s, unsafe { &*p }) {
        wakep(s);
    }
}

/// Takes a P back after `blocking`: the one it had if still idle, else any idle P, else
/// queues the goroutine (the M then sleeps until it is needed). The permit goes back
/// when the M holds a P or is listed idle.
fn exitsyscall() {
    let m = m::current();
    debug_assert!(!m.is_null());
    // SAFETY: this thread's M, running a goroutine outside any section.
    unsafe {
        if !(*m).p.is_null() {
            // A goroutine operation inside `f` took a P back (and gave the permit back).
            if let Some(m) = p_try_enter_on(m) {
                p_exit(m);
                return;
            }
            // ... and sysmon has taken that P since: take one back as below.
        }
        reacquire(&mut *m);
    }
}

// ---- the permits -------------------------------------------------------------------

/// `outcome` of a queued wait: still waiting, given a permit, or never to get one.
const WAITING: u8 = 0;
const GRANTED: u8 = 1;
const NEVER: u8 = 2;

/// What a call that can never get a thread panics with.
pub(super) const NEVER_MSG: &str = "gmp::blocking: this call can never get a thread: every \
     thread for blocking calls (RuntimeBuilder::max_threads minus procs) is held by a call \
     that waits with no timeout on a lock, channel or condition variable of this process, \
     and no goroutine or thread is left that could wake one";

/// A goroutine queued for a permit: the G and its wait's outcome, which lives on the
/// G's stack while it is queued.
pub(super) type SysWaiter = (*mut G, *const AtomicU8);

/// Threads blocking calls may hold at once.
#[inline]
fn budget(s: &Sched) -> usize {
    s.sys_max
}

/// Takes a permit if one is free and no goroutine queues for one (a new call never
/// overtakes a waiting one).
pub(super) fn take_permit(s: &Sched, l: &mut Locked) -> bool {
    if !l.sysq.is_empty() || l.nsys >= budget(s) {
        return false;
    }
    set_nsys(s, l, l.nsys + 1);
    true
}

/// Gives a permit back: to the first queued goroutine, which goes on the global queue
/// (so `checkdead`, under the same lock, sees it), else to the pool. Returns whether a
/// goroutine was queued: the caller then calls [`readied`] once it dropped the lock, or
/// runs an idle P itself.
pub(super) fn put_permit(s: &Sched, l: &mut Locked) -> bool {
    let Some((g, outcome)) = l.sysq.pop_front() else {
        set_nsys(s, l, l.nsys - 1);
        return false;
    };
    // The permit passes to `g`: `nsys` stays.
    // Relaxed: a copy for `stats`, stored under the lock.
    s.nsysq.store(l.sysq.len(), Relaxed);
    // SAFETY: a queued goroutine stays parked, its frame (holding `outcome`) intact,
    // until it is readied, which happens only after it is popped, under this lock (here
    // and in `fail_waiters`).
    unsafe {
        // Relaxed (outcome, status): the global queue's push and pop carry them to the
        // goroutine and the M that runs it.
        (*outcome).store(GRANTED, Relaxed);
        (*g).status.store(G_RUNNABLE, Relaxed);
        s.injector.push(GRef(NonNull::new_unchecked(g)));
    }
    true
}

/// Readies every queued goroutine with the news that it can never get a thread
/// (`deadlock::checkstuck`). Returns how many; the caller wakes Ms for them.
pub(super) fn fail_waiters(s: &Sched, l: &mut Locked) -> usize {
    let n = l.sysq.len();
    while let Some((g, outcome)) = l.sysq.pop_front() {
        // SAFETY: as in `put_permit`.
        unsafe {
            // Relaxed: as in `put_permit`.
            (*outcome).store(NEVER, Relaxed);
            (*g).status.store(G_RUNNABLE, Relaxed);
            s.injector.push(GRef(NonNull::new_unchecked(g)));
        }
    }
    // Relaxed: as in `put_permit`.
    s.nsysq.store(0, Relaxed);
    n
}

fn set_nsys(s: &Sched, l: &mut Locked, n: usize) {
    l.nsys = n;
    // Relaxed: a copy for `stats`, stored under the lock (a plain store, where an atomic
    // counter would cost two locked instructions per call).
    s.nsys.store(n, Relaxed);
}

/// An M that holds a permit now holds a P, or is about to be listed idle or asleep
/// with a locked G: gives the permit back ([`put_permit`]). Returns whether a goroutine
/// was queued.
pub(super) fn release_permit(m: &mut M, l: &mut Locked) -> bool {
    if !m.permit {
        return false;
    }
    m.permit = false;
    put_permit(m.sched(), l)
}

/// After a goroutine went on the global queue under the lock: wake an M for it.
pub(super) fn readied(s: &Sched) {
    // Pairs with the SeqCst RMW in `pidleput`, as in `park::ready_on`.
    fence(SeqCst);
    wakep(s);
}

/// Parks the calling goroutine in the FIFO queue until a permit is handed to it.
/// Panics if it can never get one.
fn wait_for_thread(s: &'static Sched) {
    let outcome = AtomicU8::new(WAITING);
    let at = &outcome as *const AtomicU8;
    park(super::traceback::WaitReason::Blocking, |g| {
        let mut l = s.lock();
        // A permit came free since `entersyscall` looked, and nobody queued.
        if take_permit(s, &mut l) {
            // Relaxed: read by this goroutine when it resumes, on this M.
            outcome.store(GRANTED, Relaxed);
            return false;
        }
        l.sysq.push_back((g, at));
        // Relaxed: as in `put_permit`.
        s.nsysq.store(l.sysq.len(), Relaxed);
        true
    });
    // Relaxed: see `put_permit`.
    match outcome.load(Relaxed) {
        GRANTED => {}
        NEVER => panic!("{NEVER_MSG}"),
        _ => unreachable!("a goroutine waiting for a thread was woken without one"),
    }
}
