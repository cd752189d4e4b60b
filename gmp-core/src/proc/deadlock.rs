//! Proving that nothing can ever wake a goroutine again: Go's `checkdead`, and its
//! counterpart for blocking calls, `checkstuck`.
//!
//! When the last M goes idle with no timer pending, no goroutine waiting on a socket, no
//! `off_p` thread running and the main G parked, nothing can wake any G: the main G is
//! readied with a flag and panics `all goroutines are asleep - deadlock!` from its `park`.
//! A goroutine waiting on a channel, `select!` or sync primitive rules that out unless
//! the process has no thread besides the runtime's own: a plain thread may hold the other
//! end, and the runtime cannot see where handles went.
//!
//! When goroutines wait for a thread for a `blocking` call (`blocking.rs`) and every M
//! but those holding the threads is idle, the same holds if the holders can never
//! return: `checkstuck`, run by sysmon, proves that from `/proc` and makes each waiting
//! call panic instead of hanging.

use super::blocking;
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

/// Called with the lock held by an M about to sleep (or by sysmon, after it joined the
/// thread of an M that exited: see `sysmon.rs`): if every M is now idle, no timer is
/// pending and the main G is parked, nothing can ever wake a G. Ready the main G with
/// the deadlock flag, on an idle M.
///
/// A goroutine waiting on a channel, `select!` or sync primitive rules that out: the
/// other end may be held by a plain thread or by another runtime's goroutine, which the
/// runtime cannot see, so channel deadlocks go unreported rather than reported wrongly.
/// (Reporting one anyway would also ready the main G behind the claim protocol's back:
/// the thread could still complete its channel operation and ready it a second time.)
pub(super) fn checkdead(s: &Sched, l: &mut Locked) {
    // Every M idle: in `stopm`, or asleep with a G that parked mid-unwind.
    if s.shutdown.load(SeqCst)
        || s.nmidle.load(SeqCst) + s.locked_ms.nmlocked() != s.mcount.load(SeqCst)
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
    let ours = s.mcount.load(SeqCst) + s.nmexiting.load(SeqCst) + 2;
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

// ---- blocking calls that can never return --------------------------------------------

/// How often sysmon runs the full [`checkstuck`] while goroutines wait for a thread:
/// it reads two `/proc` files per thread twice, which sysmon's 10 ms tick need not pay.
const STUCK_EVERY_NS: u64 = 100_000_000;

/// sysmon's state for [`checkstuck`].
#[derive(Default)]
pub(super) struct StuckCheck {
    next: u64,
}

/// Called by sysmon every tick. If goroutines wait for a thread for a `blocking` call
/// and it can prove that none will ever get one, readies each with the news, and its
/// call panics (`blocking::NEVER_MSG`).
///
/// The proof: at one instant T, every M is idle (listed idle, or asleep with a locked G)
/// except the Ms holding the permits, and each of those is asleep in a private futex
/// wait (`FUTEX_WAIT` or `FUTEX_WAIT_BITSET` with `FUTEX_PRIVATE_FLAG`, which std's and
/// parking_lot's locks, channels, condition variables and `park` use) with no timeout;
/// no goroutine is runnable, no timer pending, no goroutine waiting on a socket, no
/// `off_p` thread running, and the process has no thread besides the runtime's own.
/// Then nothing is left to run: a private futex can be woken only by a thread of this
/// process, every such thread is asleep, and nothing (no timer, no socket, no other
/// thread) can wake the idle Ms. Signals are the exception this does not see.
///
/// T is found without stopping anything: each holder's state and context switch counts
/// are read once (status, then syscall), then again (syscall, then status), and must not
/// have changed: a thread that woke in between would have been running at the second
/// read, or would have slept again and counted a switch. So every holder slept from its
/// first read to its second, and all of them at the instant between the two passes. The
/// scheduler's state is read under its lock before the first pass and after the second;
/// in between only the holders could have changed it, and they slept from T on, so the
/// second reading is T's.
pub(super) fn checkstuck(s: &Sched, st: &mut StuckCheck, now: u64) {
    // Relaxed: a hint; the decision is made under the lock.
    if s.nsysq.load(Relaxed) == 0 || now < st.next {
        return;
    }
    st.next = now + STUCK_EVERY_NS;
    let Some(holders) = stuck_holders(s, &s.lock()) else {
        return;
    };
    if foreign_threads(s) {
        return;
    }
    let Some(first) = holders
        .iter()
        .map(|&tid| read_wait(tid, true))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let Some(second) = holders
        .iter()
        .map(|&tid| read_wait(tid, false))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    if first != second {
        return;
    }
    let mut l = s.lock();
    if stuck_holders(s, &l).as_ref() != Some(&holders) {
        return;
    }
    let n = blocking::fail_waiters(s, &mut l);
    drop(l);
    tracing::error!(
        waiters = n,
        threads = holders.len(),
        "gmp::blocking: calls can never get a thread: every thread for blocking calls waits \
         forever on a futex of this process"
    );
    for _ in 0..n.min(s.procs) {
        blocking::readied(s);
    }
}

/// Under the lock: the thread ids, sorted, of the Ms holding the permits, if goroutines
/// wait for one and every other M is idle with nothing left to run (see [`checkstuck`]).
fn stuck_holders(s: &Sched, l: &Locked) -> Option<Vec<libc::pid_t>> {
    // SeqCst: the counts `checkdead` compares, changed under the lock we hold.
    if s.shutdown.load(SeqCst)
        || l.sysq.is_empty()
        || s.nmidle.load(SeqCst) + s.locked_ms.nmlocked() + l.nsys != s.mcount.load(SeqCst)
        || !s.injector.is_empty()
        || timer::earliest(s) != NEVER
        || s.sleeper.load(SeqCst)
        || s.netpoll.waiters.load(SeqCst) > 0
        || s.external.load(SeqCst) > 0
    {
        return None;
    }
    let locked = s.locked_ms.listed();
    let mut tids: Vec<libc::pid_t> = s
        .allm_lock()
        .iter()
        .filter(|&&(m, _)| !s.is_idle_listed(l, m) && !locked.contains(&m))
        .map(|&(_, tid)| tid)
        .collect();
    if tids.len() != l.nsys {
        return None;
    }
    tids.sort_unstable();
    Some(tids)
}

/// One reading of thread `tid`, if it is asleep in a private futex wait with no
/// timeout: the `syscall` line and the voluntary and involuntary context switches. The
/// first pass reads the counts first, the second reads them last (see [`checkstuck`]).
fn read_wait(tid: libc::pid_t, counts_first: bool) -> Option<(String, u64, u64)> {
    let dir = format!("/proc/self/task/{tid}");
    let counts = || -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line[name.len()..].trim().parse().ok()
        };
        Some((
            field("voluntary_ctxt_switches:")?,
            field("nonvoluntary_ctxt_switches:")?,
        ))
    };
    let before = if counts_first { Some(counts()?) } else { None };
    let syscall = std::fs::read_to_string(format!("{dir}/syscall")).ok()?;
    let (v, n) = match before {
        Some(c) => c,
        None => counts()?,
    };
    futex_wait_forever(&syscall).then_some((syscall, v, n))
}

/// Whether a `/proc/<tid>/syscall` line ("nr arg0 .. arg5 sp pc") is a private futex
/// wait with no timeout. A running thread reads "running".
fn futex_wait_forever(line: &str) -> bool {
    let mut it = line.split_whitespace();
    let nr = it.next().and_then(|t| t.parse::<libc::c_long>().ok());
    let args: Vec<u64> = it
        .take(6)
        .filter_map(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok())
        .collect();
    if nr != Some(libc::SYS_futex) || args.len() != 6 {
        return false;
    }
    let (op, timeout) = (args[1] as libc::c_int, args[3]);
    let cmd = op & !(libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME);
    op & libc::FUTEX_PRIVATE_FLAG != 0
        && (cmd == libc::FUTEX_WAIT || cmd == libc::FUTEX_WAIT_BITSET)
        && timeout == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn futex_waits_without_a_timeout_are_told_apart() {
        // std's `futex_wait` with no timeout: FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG.
        assert!(futex_wait_forever(
            "202 0x7f00aa 0x89 0x2 0x0 0x0 0xffffffff 0x7ffd10 0x7f00bb\n"
        ));
        // parking_lot's: FUTEX_WAIT | FUTEX_PRIVATE_FLAG.
        assert!(futex_wait_forever(
            "202 0x7f00aa 0x80 0x1 0x0 0x0 0x0 0x7ffd10 0x7f00bb"
        ));
        // With a timeout.
        assert!(!futex_wait_forever(
            "202 0x7f00aa 0x89 0x2 0x7ffd20 0x0 0xffffffff 0x7ffd10 0x7f00bb"
        ));
        // Shared (another process could wake it), a join on a thread's tid.
        assert!(!futex_wait_forever(
            "202 0x7f00aa 0x0 0x1 0x0 0x0 0x0 0x7ffd10 0x7f00bb"
        ));
        // A wake, a sleep, a read, a running thread, a thread outside a syscall.
        assert!(!futex_wait_forever(
            "202 0x7f00aa 0x81 0x1 0x0 0x0 0x0 0x7ffd10 0x7f00bb"
        ));
        assert!(!futex_wait_forever(
            "230 0x1 0x0 0x7ffd20 0x0 0x0 0x0 0x7ffd10 0x7f00bb"
        ));
        assert!(!futex_wait_forever(
            "0 0x3 0x7f00aa 0x1000 0x0 0x0 0x0 0x7ffd10 0x7f00bb"
        ));
        assert!(!futex_wait_forever("running\n"));
        assert!(!futex_wait_forever("-1 0x7ffd10 0x7f00bb\n"));
    }
}
