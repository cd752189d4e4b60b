//! Proving that nothing can ever wake a goroutine again: Go's `checkdead`.
//!
//! When the last M goes idle with no timer pending, no goroutine waiting on a socket, no
//! `off_p` thread running and the main G parked, nothing can wake any G: the main G is
//! readied with a flag and panics `all goroutines are asleep - deadlock!` from its `park`.
//! A goroutine waiting on a channel, `select!` or sync primitive rules that out unless
//! the process has no thread besides the runtime's own: a plain thread may hold the other
//! end, and the runtime cannot see where handles went.

use super::g::{G, G_RUNNABLE, G_WAITING, HEADER};
use super::sched::{Locked, Sched};
use super::timer;
use crate::clock::NEVER;
use std::sync::atomic::Ordering::*;

impl Sched {
    /// Whether some G is parked in a claim-protocol wait (channel, `select!`, sync
    /// primitive). Scans every G header, so only `checkdead` calls it, when it would
    /// otherwise report a deadlock; the channel path pays nothing for it.
    fn any_claim_waiter(&self) -> bool {
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = false;
        for pool in std::iter::once(&self.default_pool).chain(pools.iter().map(|b| &**b)) {
            pool.for_each_carved(|st| {
                // SAFETY: every carved stack has a G header, and with every M idle no
                // one is carving or initialising one.
                found =
                    found || unsafe { super::wait::in_claim_wait((st.hi - HEADER) as *const G) };
            });
            if found {
                return true;
            }
        }
        false
    }
}

/// Called with the lock held by an M about to sleep: if every M is now idle, no timer is
/// pending and the main G is parked, nothing can ever wake a G. Ready the main G with
/// the deadlock flag, on this M.
///
/// A goroutine waiting on a channel, `select!` or sync primitive rules that out: the
/// other end may be held by a plain thread or by another runtime's goroutine, which the
/// runtime cannot see, so channel deadlocks go unreported rather than reported wrongly.
/// (Reporting one anyway would also ready the main G behind the claim protocol's back:
/// the thread could still complete its channel operation and ready it a second time.)
pub(super) fn checkdead(s: &Sched, l: &mut Locked) {
    // Every M idle: in `stopm`, or asleep with a G that parked mid-unwind.
    if s.shutdown.load(SeqCst)
        || s.nmidle.load(SeqCst) + s.nmlocked.load(SeqCst) != s.mcount.load(SeqCst)
        // From `lockedm::stoplockedm` with no M in `stopm`: none to run the main G on.
        || !s.any_idle_m(l)
    {
        return;
    }
    if !s.injector.is_empty()
        || timer::earliest(s) != NEVER
        || s.sleeper.load(SeqCst)
        || s.netpoll.waiters.load(SeqCst) > 0
        || s.external.load(SeqCst) > 0
        // Goroutines queue for a thread only while every permit is held by an M away
        // from the Ps, which is not idle: so never true here. Belt and braces.
        || !l.sysq.is_empty()
    {
        return;
    }
    let main = s.main_g.load(SeqCst);
    // SAFETY: the main G's header stays valid until the runtime ends.
    // Relaxed: see `G::status`; every M is idle, under the scheduler lock.
    if main.is_null() || unsafe { (*main).status.load(Relaxed) } != G_WAITING {
        return;
    }
    // Last: the checks that scan every G and read /proc. A goroutine waiting on a
    // channel or sync primitive could be woken by a plain thread holding the other end;
    // only a process with no thread besides the runtime's own proves nobody can.
    if s.any_claim_waiter() && foreign_threads(s) {
        return;
    }
    let Some(p) = s.pidleget(l) else { return };
    // Take the main G's wait, if it is in one, so nothing else can ready it.
    // SAFETY: the main G's header is valid (above).
    if !unsafe { super::wait::claim_for_deadlock(main) } {
        s.pidleput(l, p);
        return;
    }
    let me = s.mget(l).expect("checked above");
    // SAFETY: `me` sleeps in `stopm` (the calling M, which pushed itself last under this
    // lock, or, called from `lockedm::stoplockedm`, another) and reads `next_p` after its note
    // is woken; the main G is parked and, with every M idle, nobody else can wake it.
    unsafe {
        // Relaxed: the queue push and the note's wake-up below publish both.
        (*main).deadlocked.store(true, Relaxed);
        (*main).status.store(G_RUNNABLE, Relaxed);
        let _ = (*p).runqput(main, true);
        (*me).next_p = p;
        (*me).spinning = false;
        (*me).park.wake();
    }
}

/// Whether the process has threads besides this runtime's Ms, its sysmon and the
/// thread blocked in `run`. Such a thread may hold a channel or sync handle and wake a
/// goroutine later (the runtime cannot see where handles went), so with one around,
/// every goroutine being asleep is not proof of a deadlock. Go needs no such rule: all of
/// its code runs on goroutines. This errs on the side of never reporting a false
/// deadlock: a process with any extra thread (a test harness, a logging thread, another
/// runtime) gets no deadlock panic, only a hang. Read only on the rare path where every
/// M is idle and the main G is parked.
fn foreign_threads(s: &Sched) -> bool {
    let ours = s.mcount.load(SeqCst) + 2;
    match process_threads() {
        Some(n) => n > ours,
        None => true,
    }
}

/// The number of threads in this process (`/proc/self/stat`, field 20).
fn process_threads() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(17)?.parse().ok()
}
