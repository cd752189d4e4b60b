//! Locked Ms: a goroutine that parks while it unwinds resumes on the M it parked on,
//! which runs nothing else meanwhile (Go's `LockOSThread`, for the length of the
//! unwind).
//!
//! # Why
//! std counts panics per thread. A goroutine that parks mid-unwind (a destructor that
//! sleeps, locks or does I/O) and resumed on another M would leave its old thread
//! "panicking" (every later goroutine there would see `thread::panicking()`, and its
//! next panic would abort the process as a panic inside a panic) and underflow its new
//! thread's count.
//!
//! # How
//! `park` (and `handoff::reacquire`, for a goroutine that lost its P) stores the M in
//! the panicking G's `locked_m` before the G can be woken. On g0 the M lists itself
//! ([`prepare`]), gives its P away, counts itself asleep ([`count`]) and sleeps
//! ([`stoplockedm`]). Whichever M later dequeues the woken G sees `locked_m` in
//! `schedule` and calls [`startlockedm`]: it hands its own P to the locked M, which runs
//! the G, and goes idle itself. A park that does not happen after all (its commit
//! returned false) unlists the M again ([`cancel`]).
//!
//! An M asleep with its G counts as idle for `checkdead` (`LockedMs::nmlocked`) and not
//! against the thread limit ([`threads_counted`]): there are as many as goroutines
//! unwinding through a park at once, and failing to start an M for the P one gives away
//! would leave that P's timers and queue to nobody. `shutdown` wakes every listed M to
//! exit ([`wake_all`]).
//!
//! Cost: two thread wake-ups per park, on a path only unwinding takes. Every park and
//! yield pays a `panicking()` check, and `schedule` a look at the dequeued G's
//! `locked_m`, which sits next to `status` on the line every switch touches.
//!
//! The list and its count are `words/locked.rs`'s (`LockedMs`), the note the M sleeps on
//! `words/note.rs`'s; `scripts/loom.sh locked` model-checks this sequence on them: a
//! park against the dequeuer's `startlockedm`, against `shutdown`, and against both.

use super::blocking;
use super::deadlock;
use super::g::G;
use super::handoff;
use super::m::M;
use super::p::GRef;
use super::sched::Sched;
use super::schedule::{self, Stop};
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::*;

/// Before the G locked to `m` can be woken: re-arms the M's note and lists the M for
/// `shutdown`.
pub(super) fn prepare(m: &mut M) {
    m.park.clear();
    let s = m.sched();
    // `shutdown` sets the flag before it drains the list under the list's lock: either
    // the drain wakes this M, or this M sees the flag and wakes itself.
    if !s
        .locked_ms
        .list(m as *mut M as usize, || s.shutdown.load(SeqCst))
    {
        // `next_p` stays null: `stoplockedm` exits the M.
        m.park.wake();
    }
}

/// Counts `m`, listed by `prepare` and about to give its P away, as asleep with
/// its G (`LockedMs::nmlocked`), unless `startlockedm` or `shutdown` already unlisted
/// it. Under the scheduler lock, as `startlockedm`'s uncount and `checkdead`'s read.
pub(super) fn count(m: &mut M) {
    let s = m.sched();
    let _l = s.lock();
    s.locked_ms.count(m as *mut M as usize);
}

/// The locked G did not park after all: it goes on running here, unlocked.
///
/// # Safety
/// `g` is the G `m` is about to resume.
pub(super) unsafe fn cancel(m: &mut M, g: *mut G) {
    m.sched().locked_ms.unlist(m as *mut M as usize);
    // SAFETY: per the contract.
    // Relaxed: see `G::locked_m`.
    unsafe { (*g).locked_m.store(ptr::null_mut(), Relaxed) };
}

/// Sleeps, without a P, until `startlockedm` hands this M the P of whichever M
/// dequeued `g`, then runs `g` (or exits at shutdown).
///
/// # Safety
/// `g` is locked to `m` and parked or queued; `prepare` ran before it could be
/// woken; `m` holds no P.
pub(super) unsafe fn stoplockedm(m: &mut M, g: *mut G) -> ! {
    {
        // This may be the last M to go to sleep.
        let s = m.sched();
        let mut l = s.lock();
        deadlock::checkdead(s, &mut l);
    }
    m.park.sleep();
    let p = std::mem::replace(&mut m.next_p, ptr::null());
    if p.is_null() {
        if !m.sched().shutdown.load(SeqCst) {
            unreachable!("a locked M was woken without a P outside shutdown");
        }
        schedule::mexit(m);
    }
    handoff::acquirep(m, p);
    // SAFETY: `g` is locked to this M, which alone may run it: it runs here again,
    // unlocked.
    // Relaxed: see `G::locked_m`.
    unsafe { (*g).locked_m.store(ptr::null_mut(), Relaxed) };
    schedule::execute(m, g)
}

/// Threads that count against `RuntimeBuilder::max_threads`: every M but those asleep
/// with a G that parked mid-unwind. Those are as many as goroutines unwinding through a
/// park at once, and failing to start an M for the P one gives away would leave its
/// timers and queue to nobody (a panic there would be a panic inside a panic).
pub(super) fn threads_counted(s: &Sched) -> usize {
    s.mcount.load(SeqCst).saturating_sub(s.locked_ms.nmlocked())
}

/// `schedule` dequeued `g`, locked to `target`: gives `target` this M's P to run it
/// with, then waits, idle, for another P. Returns holding one.
///
/// # Safety
/// `g` was just dequeued by this M and is locked to `target`.
#[cold]
#[inline(never)]
pub(super) unsafe fn startlockedm(m: &mut M, g: *mut G, target: *mut M) {
    let s = m.sched();
    let mut l = s.lock();
    // Unlisted, `target` is also uncounted (it no longer counts as idle).
    let listed = s.locked_ms.unlist(target as usize);
    if !listed || s.shutdown.load(SeqCst) {
        // Shutdown: `shutdown` woke `target` to exit, or (if we unlisted it first) we
        // do. Leave the G for the final sweep.
        drop(l);
        // SAFETY: `g` was dequeued by this M and is in no queue now; a listed `target`
        // sleeps in `stoplockedm` and reads `next_p` after its note is woken.
        unsafe {
            s.injector.push(GRef(NonNull::new_unchecked(g)));
            if listed {
                (*target).next_p = ptr::null();
                (*target).park.wake();
            }
        }
        schedule::mexit(m);
    }
    let p = handoff::releasep(m);
    // Idle before `target` runs: when its G parks again it hands the P to an idle M,
    // and must find this one rather than start a thread (or fail to, at the limit).
    // `target` is no longer counted as idle, so `checkdead` cannot fire here.
    let stop = schedule::stopm_register(s, m, &mut l);
    if let Stop::Exit = stop {
        // Shutdown began after the check above: `target` is unlisted, so wake it to
        // exit (`next_p` null), leave the G for the final sweep, and exit too.
        s.pidleput(&mut l, p);
        drop(l);
        // SAFETY: as below; `g` is in no queue.
        unsafe {
            s.injector.push(GRef(NonNull::new_unchecked(g)));
            (*target).next_p = ptr::null();
            (*target).park.wake();
        }
        schedule::mexit(m);
    }
    drop(l);
    // SAFETY: `target` sleeps in `stoplockedm` (it listed itself before `g` could be
    // woken; only this function and `shutdown` unlist it, both under a lock we held)
    // and reads `next_p` after its note is woken.
    unsafe {
        (*target).next_p = p;
        (*target).park.wake();
    }
    match stop {
        Stop::Run(p) => handoff::acquirep(m, p),
        _ => schedule::stopm_wait(m),
    }
}

/// `requeue_m` for a goroutine locked to its M: the M sleeps until the M that dequeues
/// the goroutine hands it a P, then resumes it here.
///
/// # Safety
/// A g0 entry point: see the contract on `arch::G0Fn` (arch/x86_64.rs).
pub(super) unsafe extern "C" fn requeue_locked_m(m: usize) -> ! {
    // SAFETY: as in `handoff::requeue_m`; the G's `locked_m` is this M.
    unsafe {
        let m = &mut *(m as *mut M);
        let g = m.curg;
        m.curg = ptr::null_mut();
        (*g).min_sp = (*g).min_sp.min((*g).sched.sp);
        super::traceback::saved(g);
        prepare(m);
        count(m);
        // Asleep with its G, the M no longer counts against the limit: a permit it held
        // for a `blocking` call or a retake goes back.
        let s = m.sched();
        let woke = blocking::release_permit(m, &mut s.lock());
        if woke {
            blocking::readied(s);
        }
        schedule::inject(s, &[g]);
        stoplockedm(m, g)
    }
}

/// At shutdown: wakes every listed M to exit (`next_p` null). Unlisting (and
/// uncounting) them keeps `startlockedm` away.
pub(super) fn wake_all(s: &Sched) {
    for m in s.locked_ms.take_all() {
        let m = m as *mut M;
        // SAFETY: a listed M sleeps in `stoplockedm` and reads `next_p` after its note is
        // woken; unlisted here, no `startlockedm` touches it.
        unsafe {
            (*m).next_p = ptr::null();
            (*m).park.wake();
        }
    }
}
