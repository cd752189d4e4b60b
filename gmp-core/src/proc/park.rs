//! How a G leaves its M and comes back: [`park`], [`ready`], [`yield_now`] and `goexit`,
//! with their g0 halves (`park_m`, `gosched_m`, `goexit0`). Go's `gopark`, `goready`,
//! `Gosched` and `goexit`.
//!
//! Each G-side entry enters a P section and calls `mcall`, which saves the G and runs
//! the g0 half on the M's g0 stack. Only there, with the G saved, does anything make the
//! G visible to other Ms: `park_m` runs the park's *commit*, which publishes the G to
//! its waker (a channel queue, a netpoll word, a timer) or finds that the wake-up already
//! happened and resumes it at once (ARCHITECTURE.md, invariant 1: commit after save). Then `schedule`
//! runs the next G. `ready` is the waker's side: it puts the G in a run queue, in this
//! P's `runnext` when the waker runs on the G's runtime (the readied G inherits the time
//! slice, as in Go), otherwise in the global queue.

use super::g::{self, G, G_RUNNABLE, G_RUNNING, G_WAITING};
use super::handoff;
use super::lockedm;
use super::m::{self, M};
use super::p::{GRef, P};
use super::schedule::{schedule, wakep};
use super::traceback::{self, WaitReason};
use crate::arch;
use std::ptr::{self, NonNull};
use std::sync::atomic::{fence, Ordering::*};

// ---- G-side entry points (run on a G's stack) -------------------------------------

/// Parks the running G, waiting for `why` (Go's `gopark` and its `waitReason`: a dump
/// shows it). `commit` runs on g0 after the G is saved, with the G's pointer;
/// it makes the G findable by its waker and returns `true`, or returns `false` if the
/// wake-up already happened, and the G continues at once. Returns when readied.
///
/// Panics with Go's deadlock message if the runtime found every G asleep while this
/// was the main G.
///
/// # Parking mid-unwind
/// A goroutine that parks while it unwinds resumes on the same M, which runs nothing
/// else meanwhile (`lockedm.rs` says why and how). The common path pays one
/// `panicking()` check here.
pub(super) fn park<F: FnMut(*mut G) -> bool>(why: WaitReason, mut commit: F) {
    assert!(
        !m::current().is_null(),
        "gmp: park called outside a goroutine"
    );
    let m = handoff::p_enter_for_mcall();
    let c: &mut dyn FnMut(*mut G) -> bool = &mut commit;
    // SAFETY: `c` lives in this frame, which stays intact while the G is parked; g0 calls
    // it only before the G can be resumed (see `park_m`), so the erased lifetime never
    // outlives the borrow. `m`/`g` are this thread's live M and its running G.
    let g = unsafe {
        let c: *mut (dyn FnMut(*mut G) -> bool + 'static) = std::mem::transmute(c);
        (*m).park_commit = Some(c);
        let g = (*m).curg;
        traceback::set_wait(g, why);
        if std::thread::panicking() {
            // Relaxed: see `G::locked_m`.
            (*g).locked_m.store(m, Relaxed);
        }
        arch::mcall(&mut (*g).sched, (*m).g0_sp, park_m, m as usize);
        g
    };
    // Resumed, possibly on another M: `m` is stale from here on.
    // SAFETY: `g` is this G, just resumed; its header is live while it runs.
    unsafe { super::latency::resumed(g) };
    // SAFETY: as above.
    // Relaxed: see `G::deadlocked`; the ready that resumed us published it. A load, and
    // a store only when set: nothing else writes the flag while this G runs (it is set
    // only on a parked G), and a swap here was a locked instruction on every park (42 of
    // 7,701 user-space samples, `http16`, fell on the one after it).
    if unsafe { (*g).deadlocked.load(Relaxed) } {
        // SAFETY: as above.
        unsafe { (*g).deadlocked.store(false, Relaxed) };
        traceback::print_deadlock();
        panic!("all goroutines are asleep - deadlock!");
    }
}

/// Parks the calling goroutine with nothing that can ever wake it: it stays parked until
/// the runtime ends (and is dropped then). If every goroutine ends up asleep this way, or
/// in joins on such goroutines, the runtime reports the deadlock: in the main goroutine
/// this panics with `all goroutines are asleep - deadlock!`.
///
/// The deadlock tests use it (so does `select! {}`): a deadlock made of such parks and
/// joins is reported in any process, while one made of channel or `gmp::sync` waits is
/// reported only in a process with no thread besides the runtime's own, since a plain
/// thread may hold the other end (see `sched::checkdead`). Outside a runtime it panics.
///
/// ```
/// # use gmp_core as gmp;
/// let r = std::panic::catch_unwind(|| gmp::run(|| gmp::park_forever()));
/// assert!(r.is_err()); // all goroutines are asleep - deadlock!
/// ```
#[doc(hidden)]
pub fn park_forever() -> ! {
    park_forever_for(WaitReason::Forever)
}

/// [`park_forever`], showing `why` in a goroutine dump.
fn park_forever_for(why: WaitReason) -> ! {
    loop {
        park(why, |_| true);
    }
}

/// Blocks the calling goroutine (as [`park_forever`]) or thread forever: `select! {}`.
pub(crate) fn park_or_block_forever() -> ! {
    if m::current().is_null() {
        loop {
            std::thread::park();
        }
    }
    park_forever_for(WaitReason::SelectNoCases)
}

/// Puts the calling goroutine at the tail of its P's queue and runs another (Go's
/// `runtime.Gosched`). Outside a runtime it yields the thread (`std::thread::yield_now`).
///
/// ```
/// # use gmp_core as gmp;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// gmp::Runtime::builder().procs(1).run(|| {
///     let ran = Arc::new(AtomicBool::new(false));
///     let r = ran.clone();
///     gmp::spawn(move || r.store(true, Ordering::SeqCst));
///     // One P: the new goroutine runs only when this one gives the P up.
///     while !ran.load(Ordering::SeqCst) {
///         gmp::yield_now();
///     }
/// });
/// ```
pub fn yield_now() {
    if m::current().is_null() {
        std::thread::yield_now();
        return;
    }
    if std::thread::panicking() {
        yield_unwinding();
        return;
    }
    let m = handoff::p_enter_for_mcall();
    // SAFETY: `m` is this thread's M, running a G (a thread with an M runs only Gs and g0,
    // and g0 code never calls this), holding its P in a section that g0 continues.
    unsafe {
        let g = (*m).curg;
        // Stamped here, not in `gosched_m`: see `latency.rs` on keeping g0 code small.
        super::latency::runnable(g);
        arch::mcall(&mut (*g).sched, (*m).g0_sp, gosched_m, m as usize);
        super::latency::resumed(g);
    }
}

/// `yield_now` mid-unwind, when this M may run no other G (see `park`): park, readied
/// at once, so the others still get to run, on another M.
#[cold]
#[inline(never)]
fn yield_unwinding() {
    park(WaitReason::Yield, |g| {
        ready(g, false);
        true
    });
}

/// Ends the running G. Called by `g_entry` after the closure returned or panicked.
pub(super) fn goexit() -> ! {
    let m = handoff::p_enter_for_mcall();
    // SAFETY: as in `yield_now`. The saved context is never resumed.
    unsafe {
        let g = (*m).curg;
        arch::mcall(&mut (*g).sched, (*m).g0_sp, goexit0, m as usize);
    }
    unreachable!("a dead goroutine was resumed")
}

/// Makes `g` runnable. On an M of `g`'s runtime holding a P it goes to that P
/// (`runnext` if `next`, inheriting the time slice, as Go's `ready` does); from anywhere
/// else, to the global queue.
pub(super) fn ready(g: *mut G, next: bool) {
    ready_on(m::current(), g, next)
}

/// [`ready`] with the calling thread's M (or null) already at hand.
pub(super) fn ready_on(m: *mut M, g: *mut G, next: bool) {
    // SAFETY: `g` is a parked G of a live runtime; the caller won the right to wake it.
    unsafe {
        let s = &*(*g).rt;
        let mine = !m.is_null() && ptr::eq((*m).sched(), s);
        if let Some(m) = mine.then(|| handoff::p_try_enter_on(m)).flatten() {
            let stealable = ready_local(&*(*m).p, g, next);
            handoff::p_exit(m);
            if stealable {
                wakep(s);
            }
            return;
        }
        // Relaxed: see `G::status`.
        (*g).status.store(G_RUNNABLE, Relaxed);
        super::latency::runnable(g);
        tracing::trace!(goid = (*g).id, "ready");
        s.injector.push(GRef(NonNull::new_unchecked(g)));
        // Pairs with the SeqCst RMW in `pidleput`: either the idle M re-checks and sees
        // this G, or we see its idle P in `wakep`.
        fence(SeqCst);
        wakep(s);
    }
}

/// [`ready`]'s local half, for a caller inside a P section of `g`'s runtime holding
/// `p`: `g` goes into `p`'s queue (`runnext` if `next`). Returns whether the caller must
/// call `wakep` once out of the section: a G that only went into `runnext` cannot be
/// stolen (it is owner-only), so waking an idle M for it would buy a futex wake-up and
/// nothing else (chan ping-pong on 2 Ps measured 240-279 ns per round trip with the
/// wake-up, 139-155 ns without).
///
/// # Safety
/// As for `ready`; the caller holds `p` in a section.
#[inline]
pub(super) unsafe fn ready_local(p: &P, g: *mut G, next: bool) -> bool {
    // SAFETY: per the contract.
    unsafe {
        // Relaxed: see `G::status`.
        (*g).status.store(G_RUNNABLE, Relaxed);
        super::latency::runnable(g);
        tracing::trace!(goid = (*g).id, "ready");
    }
    p.runqput(g, next)
}

/// Whether `m` (the calling thread's M, or null) is an M of `g`'s runtime.
///
/// # Safety
/// `g` is a G header of a live runtime.
#[inline]
pub(super) unsafe fn on_runtime(m: *mut M, g: *mut G) -> bool {
    // SAFETY: a live M's fields; `g` per the contract.
    !m.is_null() && unsafe { ptr::eq((*m).sched(), (*g).rt) }
}

/// Keeps `g`'s runtime from ending until [`ready_pinned`]: counted in `external`, which
/// `shutdown` waits for before and after its sweep. For wakers outside the runtime.
///
/// # Safety
/// `g`'s runtime must still be alive, and stay so until this returns (the caller holds
/// the lock of a wait queue with `g`'s entry in it, which the sweep needs to unlink it).
pub(super) unsafe fn pin_runtime(g: *mut G) {
    // SAFETY: per the contract.
    unsafe { (*(*g).rt).external.fetch_add(1, SeqCst) };
}

/// Readies `g` from outside its runtime, then drops the pin taken by [`pin_runtime`].
///
/// # Safety
/// The caller pinned `g`'s runtime and won the right to wake `g`.
pub(super) unsafe fn ready_pinned(g: *mut G) {
    // SAFETY: the pin keeps the runtime (its Sched and G headers) alive until the
    // decrement, which is the last access.
    unsafe {
        let s = (*g).rt;
        ready(g, true);
        (*s).external.fetch_sub(1, SeqCst);
    }
}

// ---- g0 side -------------------------------------------------------------------------

/// `park`'s g0 half: runs the commit, then the next G (or the parked G again, if the
/// commit found the wake-up already done).
///
/// # Safety
/// A g0 entry point: see the contract on `arch::G0Fn` (arch/x86_64.rs).
unsafe extern "C" fn park_m(m: usize) -> ! {
    // SAFETY: a `G0Fn` (its contract): `m` is this thread's M, holding its P, its G
    // saved.
    unsafe {
        let m = &mut *(m as *mut M);
        let g = m.curg;
        m.curg = ptr::null_mut();
        (*g).min_sp = (*g).min_sp.min((*g).sched.sp);
        traceback::saved(g);
        // Relaxed (status, locked_m): see `G::status` and `G::locked_m`.
        (*g).status.store(G_WAITING, Relaxed);
        let commit = m.park_commit.take().expect("park sets a commit");
        tracing::trace!(goid = (*g).id, "park");
        let locked = ptr::eq((*g).locked_m.load(Relaxed), m);
        if locked {
            lockedm::prepare(m);
        }
        if !(*commit)(g) {
            if locked {
                lockedm::cancel(m, g);
            }
            (*g).status.store(G_RUNNING, Relaxed);
            traceback::resumed(g);
            m.curg = g;
            // Back in the goroutine's own code: out of the P section (Relaxed: see
            // `M::locks`; sysmon reads it only after a membarrier).
            m.locks.set(0);
            arch::gogo(&(*g).sched);
        }
        if locked {
            lockedm::count(m);
            handoff::handoff_own_p(m);
            lockedm::stoplockedm(m, g);
        }
        schedule(m)
    }
}

/// `yield_now`'s g0 half: the G goes to the tail of this P's queue.
///
/// # Safety
/// A g0 entry point: see the contract on `arch::G0Fn` (arch/x86_64.rs).
unsafe extern "C" fn gosched_m(m: usize) -> ! {
    // SAFETY: as in `park_m`; the M holds a P while running a G.
    unsafe {
        let m = &mut *(m as *mut M);
        let g = m.curg;
        m.curg = ptr::null_mut();
        (*g).min_sp = (*g).min_sp.min((*g).sched.sp);
        traceback::saved(g);
        // Relaxed: see `G::status`.
        (*g).status.store(G_RUNNABLE, Relaxed);
        let _ = (*m.p).runqput(g, false);
        schedule(m)
    }
}

/// `goexit`'s g0 half: the G's header and stack go back to a free list.
///
/// # Safety
/// A g0 entry point: see the contract on `arch::G0Fn` (arch/x86_64.rs).
unsafe extern "C" fn goexit0(m: usize) -> ! {
    // SAFETY: as in `park_m`. The G's closure and frames are finished; its header and
    // stack go back to a free list.
    unsafe {
        let m = &mut *(m as *mut M);
        let g = m.curg;
        m.curg = ptr::null_mut();
        let p = &*m.p;
        let s = m.sched();
        P::bump(&p.exited);
        // The main G's header is about to be recycled: `checkdead` must not see it.
        // Relaxed load first: `main_g` is set to `g` before `g` first runs (the queue
        // push publishes it) and never set to `g` again, so a G that is not the main one
        // skips the locked CAS on the `Sched` line every M reads.
        if s.main_g.load(Relaxed) == g {
            let _ = s
                .main_g
                // Failure ordering Relaxed: on failure nothing is read or published.
                .compare_exchange(g, ptr::null_mut(), SeqCst, Relaxed);
        }
        g::gfput(s, p, g);
        schedule(m)
    }
}

/// Whether the caller is a goroutine that may park here: a G running its own code on an
/// M that holds a P, outside any P section. Not on g0 (`curg` is null there or `locks`
/// is up), not inside `blocking` (the M gave its P up: the caller asked to block this
/// thread), not on a plain thread. gmp-hook's interposed libc calls park only then and
/// otherwise make the call as the kernel would.
#[inline(never)]
pub fn can_park() -> bool {
    let m = m::current();
    if m.is_null() {
        return false;
    }
    // SAFETY: `m` is this thread's live M; `curg`, `p` and `locks` are written only by
    // this thread. Relaxed: this thread's own store, read back by this thread.
    unsafe { !(*m).curg.is_null() && !(*m).p.is_null() && (*m).locks.get() == 0 }
}
