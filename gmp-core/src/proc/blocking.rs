//! `gmp::blocking`: a goroutine gives its P up for a call that may block its thread, and
//! takes one back after it (Go's `entersyscall`/`exitsyscall`).

use super::handoff::{acquirep, handoffp, locks_add, needs_m, p_try_enter, reacquire, releasep};
use super::lockedm;
use super::m::{self, M};
use std::sync::atomic::Ordering::*;

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
/// # Panics
/// If releasing the P needs a new thread and the runtime already runs its limit of
/// threads (`RuntimeBuilder::max_threads`, default 10,000): too many goroutines are
/// blocked at once.
pub fn blocking<F: FnOnce() -> R, R>(f: F) -> R {
    let Some(m) = p_try_enter() else {
        if m::current().is_null() {
            return f();
        }
        // The P was taken while this goroutine ran: it is already off any P.
        return run_released(f);
    };
    // SAFETY: `m` is this thread's M, holding its P inside a section.
    unsafe { entersyscall(&mut *m) };
    run_released(f)
}

/// Runs `f` with the M's P released, then takes one back.
fn run_released<F: FnOnce() -> R, R>(f: F) -> R {
    /// Takes a P back however `f` ends (a panic included, so the unwinding goroutine
    /// and whatever catches it run with a P as usual).
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            exitsyscall();
        }
    }
    let _exit = Exit;
    f()
}

/// Releases the P of `m` (inside a section) and leaves the section.
///
/// # Safety
/// `m` is this thread's M, running a goroutine, holding its P inside one section.
unsafe fn entersyscall(m: &mut M) {
    let s = m.sched();
    // SAFETY: `m` holds its P.
    let pr = unsafe { &*m.p };
    let work = needs_m(s, pr);
    if work
        && s.nmidle.load(SeqCst) == 0
        // Relaxed: the limit is set before the first M starts.
        && lockedm::threads_counted(s) >= s.max_threads.load(Relaxed)
    {
        locks_add(m, u32::MAX);
        panic!(
            "gmp::blocking: the runtime already runs {} threads, its limit \
             (RuntimeBuilder::max_threads); too many goroutines are blocked at once",
            s.mcount.load(SeqCst)
        );
    }
    let p = releasep(m);
    locks_add(m, u32::MAX);
    handoffp(s, p, work);
}

/// Takes a P back after `blocking`: the one it had if still idle, else any idle P, else
/// queues the goroutine (the M then sleeps until it is needed).
fn exitsyscall() {
    let m = m::current();
    debug_assert!(!m.is_null());
    // SAFETY: this thread's M, running a goroutine outside any section, without a P.
    unsafe {
        let m = &mut *m;
        let s = m.sched();
        let mut l = s.lock();
        if let Some(p) = s.pidleget(&mut l) {
            acquirep(m, p);
            return;
        }
        drop(l);
        reacquire(m);
    }
}
