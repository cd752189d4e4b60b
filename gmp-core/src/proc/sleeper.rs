//! The netpoller's side of `find_runnable`: the *idle sleeper*, the one M at a time that
//! waits for socket events and timers in the poller instead of on its note
//! (`sleep_in_netpoll`), its short spin before it blocks (`spin_poll`), and the
//! non-blocking poll of an M that holds a P (`netpoll_now`).
//!
//! The invariant: whatever would wake the sleeper's blocking poll (an event, a timer
//! earlier than its timeout, a P left at the thread limit, shutdown) also ends its spin,
//! so a wake-up given while it spins is not lost. Each of those wakers sets its reason
//! (an armed desc, `timer0`, `npending`, `shutdown`) before it wakes the poller, and
//! the spin checks every reason after each poll, which may have consumed the waker's
//! event.

use super::g::{G, G_RUNNABLE};
use super::park::ready;
use super::sched::Sched;
use super::timer;
use crate::clock::{nanotime, NEVER};
use std::ptr;
use std::sync::atomic::Ordering::*;
use std::time::Duration;

/// How long the idle sleeper keeps polling without blocking while another P runs (see
/// [`spin_poll`]). Measured on examples/hello, unpinned with 2 Ps beside `wrk -c50`:
/// the blocking polls that slept (`perf record` of `epoll_wait` enter and exit) returned
/// after 6 µs at p10, 7 µs at p50 and 70 µs at p90, 83% within 10 µs and 88% within
/// 30 µs, so a 20 µs spin catches most of what a blocking poll would sleep for.
/// `compare.py http --no-pin --wakeups --conns 50 --rounds 5 --secs 3` with no spin, a
/// 20 µs spin of pause instructions, and this yielding one, beside hyper in one run:
/// requests/s 1.000, 1.027 and 1.110 (hyper 1.026); CPU per request 5.19, 5.56 and
/// 4.91 µs; context switches per request 0.172, 0.042 and 0.141 (hyper 0.069); futex
/// calls 0.108, 0.006 and 0.110 (hyper 0.031). `echo` the same way: round trips 1.000,
/// 0.997 and 1.033 (tokio 1.084), p99 1,788, 2,319 and 764 µs. A pause loop starves
/// a client that shares the sleeper's CPU: one that spun whenever there was more than
/// one P served 0.80 × the requests of no spin in a run on a loaded machine, where the
/// yielding one served 0.93 ×.
const SPIN_POLL_NS: u64 = 20_000;

/// The idle sleeper's wait: blocks in the netpoller until the earliest timer `when`
/// (`NEVER`: until an event or a wake-up), and adds the Gs it readied to `gs`. `now` is
/// the clock as the caller last read it (0: not read).
pub(super) fn sleep_in_netpoll(s: &Sched, mut when: u64, mut now: u64, gs: &mut Vec<*mut G>) {
    loop {
        s.netpoll.poll_until.store(when, SeqCst);
        let first = timer::earliest(s);
        if first < when {
            when = first;
            continue;
        }
        break;
    }
    // A start refused at the thread limit left an idle P for an M like this one (see
    // "The thread limit" in `schedule`): take it instead of sleeping. Dekker with
    // `startm`: it stores `npending`, then reads `sleeper`; this M set `sleeper` (a
    // SeqCst swap), then reads `npending`, so one of the two sees the other.
    if !s.shutdown.load(SeqCst) && s.npending.load(SeqCst) == 0 && !spin_poll(s, when, &mut now, gs)
    {
        // `now` (0: read the clock) may be a few hundred nanoseconds old: the timeout is
        // then that much longer, and the timer fires that much late.
        let timeout = if when == NEVER {
            None
        } else {
            let now = if now != 0 { now } else { nanotime() };
            Some(Duration::from_nanos(when.saturating_sub(now)))
        };
        s.netpoll.poll_with(timeout, true, |g| gs.push(g));
    }
    s.netpoll.poll_until.store(NEVER, SeqCst);
}

/// Before the sleeper blocks: while another P is running (it is answering requests whose
/// follow-ups arrive within microseconds), poll without blocking for up to
/// [`SPIN_POLL_NS`] (and never past `when`), yielding the CPU between polls. A blocking
/// poll that sleeps costs a context switch each way; the yield lets a thread that shares
/// this CPU (the client on the same machine, another process) run instead of waiting for
/// the spin to end. An idle server (every P idle) and a runtime of one P do not spin:
/// nothing is on its way that another M is producing.
///
/// Returns true if the spin found Gs (in `gs`) or a reason not to block (see the module
/// doc), false if the caller should block in the poller.
fn spin_poll(s: &Sched, when: u64, now: &mut u64, gs: &mut Vec<*mut G>) -> bool {
    // SeqCst as every access of `npidle`; this M's own P is already counted idle.
    if s.npidle.load(SeqCst) >= s.procs {
        return false;
    }
    let end = nanotime().saturating_add(SPIN_POLL_NS).min(when);
    loop {
        if !s
            .netpoll
            .poll_with(Some(Duration::ZERO), true, |g| gs.push(g))
        {
            // Another M is polling: leave the waiting to the blocking poll.
            *now = 0;
            return false;
        }
        if !gs.is_empty()
            || !s.injector.is_empty()
            || s.shutdown.load(SeqCst)
            || s.npending.load(SeqCst) != 0
            || timer::earliest(s) < when
        {
            return true;
        }
        std::thread::yield_now();
        *now = nanotime();
        if *now >= end {
            return false;
        }
    }
}

/// A non-blocking poll from an M that holds a P: readies what it finds into that P.
/// Returns one of them to run now.
pub(super) fn netpoll_now(s: &Sched) -> Option<*mut G> {
    if s.netpoll.waiters.load(SeqCst) == 0 || s.netpoll.last_poll.load(SeqCst) == 0 {
        return None;
    }
    let mut first: *mut G = ptr::null_mut();
    s.netpoll.poll_with(Some(Duration::ZERO), false, |g| {
        if first.is_null() {
            first = g;
        } else {
            ready(g, false);
        }
    });
    if first.is_null() {
        return None;
    }
    // SAFETY: `first` was parked on a desc; the poller won the right to wake it.
    unsafe { polled_runnable(first) };
    Some(first)
}

/// Marks a G that a poll woke, and that this M runs next without queueing it, runnable.
///
/// # Safety
/// `g` was parked on a desc and the caller's poll won the right to wake it.
pub(super) unsafe fn polled_runnable(g: *mut G) {
    // SAFETY: per the contract, `g` is a live G header that only this M touches now.
    // Relaxed: see `G::status`.
    unsafe {
        (*g).status.store(G_RUNNABLE, Relaxed);
        super::latency::runnable(g);
    }
}
