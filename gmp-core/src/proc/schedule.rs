//! One round of scheduling: `schedule`, `find_runnable`, stealing, spinning Ms, `wakep`,
//! `startm` and `stopm`. Go's design (runtime/proc.go), in Go's words.
//!
//! A G runs on an M that holds a P. When the G parks, yields or exits it calls `mcall`,
//! and the rest happens on the M's g0 stack: the `*_m` function of `park.rs` decides
//! what the old G becomes, then [`schedule`] finds the next G and `gogo`s to it.
//! `schedule` never returns, so g0 never accumulates frames (ARCHITECTURE.md,
//! invariant 2).
//!
//! # Finding work (`find_runnable`)
//! Expired timers of every P first; every 61st tick the global queue (so a busy P cannot
//! starve it); then `runnext`, the local queue, the global queue, a non-blocking netpoll
//! (only while another P is busy or this M spins: otherwise the blocking poll that
//! follows finds the same events), and stealing half of another P's queue (four passes
//! over the Ps in random order).
//! Failing that the M gives its P back, re-checks every source, and sleeps: as the *idle
//! sleeper*, blocked in the netpoller until the earliest timer of any P (one M at a
//! time, and only if a timer or a socket wait is pending), or on its own futex note
//! until `startm` hands it a P (the sleeper's wait, and its short spin before it blocks
//! while another P runs, are `sleeper.rs`'s). `schedule` handles the common case (local
//! work, none of this P's timers due) inline, before calling `find_runnable`, and on
//! every 8th of its schedules runs the other Ps' expired timers, in case their Ms have
//! stopped scheduling for a while (`OTHER_TIMERS_TICKS`).
//!
//! # Spinning
//! An M looking for work to steal is *spinning*. `wakep` starts a new M only if a P is idle
//! and no M is spinning, and at most half the busy Ps spin, so a burst of `ready`s costs
//! one thread wake-up instead of one each. A spinning M that finds work stops spinning and,
//! if it was the last spinner, wakes another (there may be more work).
//!
//! No wake-up is lost because each side writes, then reads the other side's word, with a
//! full barrier in between (SeqCst RMWs on x86 are one): a producer pushes work, then reads
//! `npidle`/`nmspinning`; a consumer going idle bumps `npidle` / drops `nmspinning`, then
//! re-checks the queues. At least one of them sees the other. Work in a busy P's local
//! queue needs no wake-up: that P's M will run it.
//!
//! # The thread limit
//! `startm` starts an M only while fewer than `max_threads` are counted (every M but
//! those asleep with a locked G, `lockedm::threads_counted`). At most
//! `max_threads - procs` Ms are away from the Ps (`blocking.rs`), and when a P needs an
//! M at most `procs - 1` others hold one, so a start is refused only while some M is
//! neither away, nor holding a P, nor idle: one between giving its P back in
//! `find_runnable` and listing itself idle (the idle sleeper, blocked in the netpoller,
//! is one). The refused P goes back to the idle list, counted in `Locked::pending_m`, and
//! the sleeper is woken; the next M that lists itself idle runs an idle P instead
//! (`stopm_register`), and the sleeper takes one when it wakes (or, if it was about to
//! poll, does not: `sleeper::sleep_in_netpoll`). Whoever takes an idle P then takes the refused
//! one: `pidleget` prefers an idle P with Gs queued locally, since a G in its `runnext`
//! cannot be stolen from another P. So a P with work does not wait for a thread that
//! is not on its way.

use super::blocking;
use super::deadlock;
use super::g::{G, G_RUNNABLE, G_RUNNING};
use super::handoff;
use super::lockedm;
use super::m::{self, M};
use super::p::{GRef, P};
use super::park::ready_local;
use super::sched::{Locked, Sched};
use super::sleeper::{netpoll_now, polled_runnable, sleep_in_netpoll};
use super::timer;
use crate::arch;
use crate::clock::{nanotime, NEVER};
use crossbeam_deque::Steal;
use std::ptr::{self, NonNull};
use std::sync::atomic::{fence, Ordering::*};

/// Entered by `mstart` on a new M's g0.
///
/// # Safety
/// A g0 entry point: see the contract on `arch::G0Fn` (arch/x86_64.rs).
pub(super) unsafe extern "C" fn mstart_entry(m: usize) -> ! {
    // SAFETY: `m` is the new M, set up by `m_main`.
    unsafe { schedule(&mut *(m as *mut M)) }
}

/// `schedule` for g0 functions outside this module.
pub(super) fn schedule_m(m: &mut M) -> ! {
    schedule(m)
}

/// One round of scheduling: find a G and run it. Never returns.
///
/// Always inlined, with `execute`, into the g0 functions that end in it: a CALL that
/// never returns leaves a stale entry on the CPU's return-stack predictor, and the next
/// RET in the resumed G would then mispredict. Inlined, the only calls on the way from
/// `mcall` to `gogo` are ones that return (`find_runnable`). Measured with the `yield`
/// bench on one P: 33 → 20 ns per yield.
#[inline(always)]
pub(super) fn schedule(m: &mut M) -> ! {
    loop {
        let mut g = ptr::null_mut();
        // The common case inline: local work, none of this P's timers due, not the 61st
        // tick; every 8th, the other Ps' expired timers first (`OTHER_TIMERS_TICKS`).
        // With a timer pending the clock is read on every schedule, as Go's
        // `checkTimers` reads `nanotime`; one that is due sends the round to
        // `find_runnable`, which runs it before it looks at any queue. A server keeps a
        // timer pending all the time (its reaper), and before this check every request's
        // park went through `find_runnable`: `scripts/instructions.sh --conns 100 gmp`,
        // `http`, 1,616.4 → 1,564.7 instructions a request (one connection, where every
        // park goes on to the poller: 1,932.8 → 1,953.6).
        // SAFETY: an M in `schedule` holds its P.
        let p = unsafe { &*m.p };
        // Relaxed: hints only. A timer (see `Timers::first_hint`) or shutdown missed here
        // is seen by `find_runnable` (SeqCst loads) the next time this P runs out of
        // local work or hits tick 61.
        let tick = p.schedtick.load(Relaxed);
        let t0 = p.timers.first_hint();
        // The clock as read here, for `find_runnable`'s first timer check (0: not read).
        let mut now = 0;
        if tick % 61 != 0
            && !m.sched().shutdown.load(Relaxed)
            && (t0 == NEVER || {
                now = nanotime();
                t0 > now
            })
        {
            if tick % OTHER_TIMERS_TICKS == 0 {
                run_other_timers(m.sched());
            }
            g = p.runqget();
        }
        if g.is_null() {
            g = find_runnable(m, now);
        }
        if m.spinning {
            resetspinning(m);
        }
        // SAFETY: `g` was just dequeued by this M; its header is live.
        // Relaxed: see `G::locked_m`.
        let locked = unsafe { (*g).locked_m.load(Relaxed) };
        if !locked.is_null() && !ptr::eq(locked, m) {
            // SAFETY: as above; `locked` is the M that `g` is locked to.
            unsafe { lockedm::startlockedm(m, g, locked) };
            continue;
        }
        execute(m, g)
    }
}

#[inline(always)]
pub(super) fn execute(m: &mut M, g: *mut G) -> ! {
    // SAFETY: `g` was taken from a queue, so this M alone owns running it; the M holds P.
    unsafe {
        let p = &*m.p;
        p.tick();
        P::bump(&p.switches);
        m.curg = g;
        // Relaxed: see `G::status`.
        (*g).status.store(G_RUNNING, Relaxed);
        super::traceback::resumed(g);
        // Leaving g0 for the goroutine's own code: out of the P section (Relaxed: see
        // `M::locks`; sysmon reads it only after a membarrier).
        m.locks.set(0);
        arch::gogo(&(*g).sched)
    }
}

/// How often (in this P's schedules) `schedule`'s fast path runs the expired timers of
/// the other Ps. A P's own timers are run on each of its schedules, but an M that holds
/// a P can stop scheduling for a while: the kernel preempts its thread, or it polls a
/// large batch. Until then only another P could run that P's timers, and before this
/// check it did so when it ran out of work or on its 61st tick. With 1,000 goroutines on
/// echo round trips (benches/timer_latency.rs, 2 Ps) the 5 ms sleep's timer fired
/// 50-260 µs late in 1 sleep in 25, its P's M not scheduling meanwhile (`perf sched`:
/// ~200 preemptions of the Ms a second), and the other P ran it on its 61st tick: p99
/// overshoot 160-230 µs against Go's 50-80 µs. Every 8th schedule: 25-62 µs (Go 49-66),
/// every 16th 53-64 µs (three interleaved runs each).
const OTHER_TIMERS_TICKS: u32 = 8;

/// `schedule`'s look at every P's timers ([`OTHER_TIMERS_TICKS`]); with one P there is
/// no other. Out of line: it runs on one schedule in eight.
#[inline(never)]
fn run_other_timers(s: &Sched) {
    if s.procs > 1 {
        run_expired_timers(s, 0);
    }
}

fn resetspinning(m: &mut M) {
    m.spinning = false;
    let s = m.sched();
    // SeqCst: pairs with `wakep`'s loads; if we were the last spinner, wake another to
    // look for the rest of the work.
    if s.nmspinning.fetch_sub(1, SeqCst) == 1 {
        wakep(s);
    }
}

/// Starts an M to run an idle P if there is one and nobody is spinning.
#[inline]
pub(super) fn wakep(s: &Sched) {
    if s.npidle.load(SeqCst) == 0 || s.nmspinning.load(SeqCst) != 0 {
        return;
    }
    if s.nmspinning.compare_exchange(0, 1, SeqCst, SeqCst).is_err() {
        return;
    }
    startm(s, None, true);
}

/// Gives `p` (or an idle P) to an idle or new M. With `spinning`, the caller already
/// counted the M in `nmspinning`; the count is undone if there is no P to run. At the
/// thread limit the P goes back to the idle list, for the next M that goes idle.
pub(crate) fn startm(s: &Sched, p: Option<*const P>, spinning: bool) {
    let mut l = s.lock();
    let p = match p.or_else(|| s.pidleget(&mut l)) {
        Some(p) if !s.shutdown.load(SeqCst) => p,
        other => {
            if let Some(p) = other {
                s.pidleput(&mut l, p);
            }
            drop(l);
            if spinning {
                s.nmspinning.fetch_sub(1, SeqCst);
            }
            return;
        }
    };
    if let Some(m) = s.mget(&mut l) {
        drop(l);
        // SAFETY: an idle M sleeps on its note and reads these only after `wake`
        // (Release/Acquire on the note).
        unsafe {
            (*m).next_p = p;
            (*m).spinning = spinning;
            (*m).park.wake();
        }
        return;
    }
    // Relaxed: the limit is set before the first M starts.
    if lockedm::threads_counted(s) >= s.max_threads.load(Relaxed) {
        // Only while an M is on its way to the idle list (see "The thread limit" above):
        // leave the P idle for it to take.
        s.pidleput(&mut l, p);
        let n = l.pending_m + 1;
        set_pending(s, &mut l, n);
        drop(l);
        if spinning {
            s.nmspinning.fetch_sub(1, SeqCst);
        }
        // That M may be the idle sleeper, blocked in the netpoller until a timer (Dekker
        // with `sleeper::sleep_in_netpoll`: `npending` was stored first).
        if s.sleeper.load(SeqCst) {
            s.wake_sleeper();
        }
        tracing::trace!("startm at the thread limit: the P waits for the next idle M");
        return;
    }
    s.mcount.fetch_add(1, SeqCst);
    drop(l);
    if let Err(e) = m::newm(s, p, spinning) {
        let mut l = s.lock();
        s.mcount.fetch_sub(1, SeqCst);
        s.pidleput(&mut l, p);
        drop(l);
        if spinning {
            s.nmspinning.fetch_sub(1, SeqCst);
        }
        log_newm_failure(s, &e);
    }
}

/// Logs a refused thread creation, at most once a second: the P went back to the idle
/// list and every `wakep` until a thread can start tries again, so one log line per
/// try would flood (thousands a second under a thread limit).
#[cold]
fn log_newm_failure(s: &Sched, e: &std::io::Error) {
    // Relaxed: a statistic and a rate limit; a line more or less costs nothing.
    let n = s.newm_failures.fetch_add(1, Relaxed) + 1;
    let now = nanotime();
    let last = s.newm_failure_logged.load(Relaxed);
    if (last == 0 || now.saturating_sub(last) >= 1_000_000_000)
        && s.newm_failure_logged
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_ok()
    {
        tracing::error!(
            "gmp: cannot start a runtime thread: {e} ({n} refused so far); the goroutines \
             wait for a running thread"
        );
    }
}

/// Finds a runnable G, sleeping if there is none. Returns with `m.p` held. `now` is the
/// clock as `schedule` just read it, or 0.
#[inline(never)]
fn find_runnable(m: &mut M, now: u64) -> *mut G {
    let s = m.sched();
    // The clock for the next pass's timer check (0: read it): `schedule`'s read for the
    // first pass, then the time the blocking poll ended (one clock read fewer per
    // wake-up of an idle server).
    let mut polled_at = now;
    loop {
        // Acquire pairs with the SeqCst store in `sched::shutdown`.
        if s.shutdown.load(Acquire) {
            mexit(m);
        }
        // SAFETY: the M holds `m.p` at the top of every iteration.
        let p = unsafe { &*m.p };
        // Expired timers of any P, idle ones included: nobody else may be awake to run
        // them (the slow path only; `schedule`'s fast path checks this P's).
        run_expired_timers(s, polled_at);
        polled_at = 0;
        // Relaxed: owner-only (see `P::tick`).
        if p.schedtick.load(Relaxed) % 61 == 0 {
            if let Some(g) = steal_global(s, p) {
                return g;
            }
        }
        let g = p.runqget();
        if !g.is_null() {
            return g;
        }
        if let Some(g) = steal_global(s, p) {
            return g;
        }
        let busy = s.procs - s.npidle.load(SeqCst);
        // The non-blocking poll only where it can save more than it costs: with this P
        // the only busy one there is nothing to steal, and if the poll finds nothing (an
        // idle server between requests) the blocking poll below follows at once, a second
        // epoll_wait for the same events. tokio's workers go straight to the blocking
        // poll too. Skipping it cost 1.9 -> 1.0 epoll_wait calls per request on one
        // keep-alive connection (strace -c -f, GMP_MAXPROCS=1); under load the blocking
        // poll returns at once with the batch the non-blocking one would have found.
        if busy > 1 || m.spinning {
            if let Some(g) = netpoll_now(s) {
                return g;
            }
        }
        // With one P there is nobody to steal from and no second P for a `wakep` to
        // start, so an M does not start spinning (two locked instructions, the count's
        // add and sub, on every wait of a one-P server for the poller); one handed the P
        // as spinning (`startm`) still is until it finds work or sleeps.
        if m.spinning || (s.procs > 1 && 2 * s.nmspinning.load(SeqCst) < busy) {
            if !m.spinning {
                m.spinning = true;
                s.nmspinning.fetch_add(1, SeqCst);
            }
            if let Some(g) = steal_work(s, m) {
                return g;
            }
        }

        // Nothing to run: give the P back, then look once more before sleeping.
        let mut l = s.lock();
        if !s.injector.is_empty() {
            drop(l);
            continue;
        }
        let p = handoff::releasep(m);
        s.pidleput(&mut l, p);
        drop(l);
        let was_spinning = m.spinning;
        if was_spinning {
            m.spinning = false;
            // SeqCst: after this, re-check the queues (see the module doc).
            s.nmspinning.fetch_sub(1, SeqCst);
        }
        // The clock as `check_again` read it (0: it did not), for the poll's timeout.
        let mut now = 0;
        if let Some(p) = check_again(s, was_spinning, &mut now) {
            handoff::acquirep(m, p);
            if was_spinning {
                m.spinning = true;
                s.nmspinning.fetch_add(1, SeqCst);
            }
            continue;
        }

        let when = timer::earliest(s);
        let io_waiters = s.netpoll.waiters.load(SeqCst) > 0;
        if (when != NEVER || io_waiters) && !s.sleeper.swap(true, SeqCst) {
            let mut gs = std::mem::take(&mut m.pollbuf);
            sleep_in_netpoll(s, when, now, &mut gs);
            s.sleeper.store(false, SeqCst);
            // SeqCst as every access of `last_poll`; 0 if another M is blocked in it.
            polled_at = s.netpoll.last_poll.load(SeqCst);
            let mut l = s.lock();
            let p = s.pidleget(&mut l);
            drop(l);
            let mut first: *mut G = ptr::null_mut();
            if let Some(p) = p {
                handoff::acquirep(m, p);
                // The first woken G runs here, now; only the rest go to the queue, where
                // they wake an idle M to steal them (Go's `findRunnable`: `list.pop()`,
                // then `injectglist` the rest). Queueing the first as well woke the
                // other M for every batch, a single G included, only for it to find
                // nothing and sleep again.
                //
                // Straight into this P's queue: g0 is inside the P section, so `ready`'s
                // look-up of the thread's M, its section and its `wakep` per G would
                // only repeat what is known here. One `wakep` after the batch does what
                // the first of the per-G calls did; the later ones found an M spinning
                // (or no idle P) and returned. `scripts/instructions.sh gmp`, `http` and
                // `http16`: with 100 connections (`--conns 100`) 1,638.9 → 1,615.0 and
                // 953.0 → 949.1 instructions a request, with one 1,940.1 → 1,932.3 and
                // 970.1 → 969.2.
                // SAFETY: `p` points into the runtime's `ps`; this M just acquired it.
                let p = unsafe { &*p };
                if let Some((&g, rest)) = gs.split_first() {
                    first = g;
                    if !rest.is_empty() {
                        // SAFETY: the poll won the right to wake each G of its batch;
                        // this M holds `p` on g0, inside its section.
                        unsafe { queue_polled(s, p, rest) };
                    }
                }
            } else {
                // Every P is busy: hand the woken Gs to them; their Ms run their own
                // timers.
                inject(s, &gs);
            }
            gs.clear();
            m.pollbuf = gs;
            if !first.is_null() {
                // The poll may have ended for a timer: run the expired ones first, as
                // the top of the loop would.
                run_expired_timers(s, polled_at);
                // SAFETY: `first` was parked on a desc; the poller won the right to wake it.
                unsafe { polled_runnable(first) };
                return first;
            }
            if p.is_some() {
                continue;
            }
        }
        stopm(m);
    }
}

/// Queues the Gs of a poll's batch after the first on `p`, then wakes one M to steal
/// them if any went into the stealable queue. The caller takes the first G out and
/// calls this only for a batch of more than one: a loop that tested each G for being
/// the first cost a batch of one (one connection busy) 6 to 9 instructions
/// (`scripts/instructions.sh gmp`, `http`).
///
/// # Safety
/// Each G was parked on a desc and the poll won the right to wake it; the calling M
/// holds `p` on g0, inside its section.
#[inline(always)]
unsafe fn queue_polled(s: &Sched, p: &P, gs: &[*mut G]) {
    let mut stealable = false;
    for &g in gs {
        // SAFETY: per the contract.
        stealable |= unsafe { ready_local(p, g, false) };
    }
    if stealable {
        wakep(s);
    }
}

/// `find_runnable`'s last look after releasing the P: returns an idle P to retry with if
/// any source has work. A clock reading it takes goes to `now`, so the poll that may
/// follow needs none of its own (one `clock_gettime` fewer per wake-up of an idle server).
fn check_again(s: &Sched, was_spinning: bool, now: &mut u64) -> Option<*const P> {
    let work =
        !s.injector.is_empty() || (was_spinning && s.stealers.iter().any(|st| !st.is_empty())) || {
            let t0 = timer::earliest(s);
            t0 != NEVER && {
                *now = nanotime();
                t0 <= *now
            }
        };
    if !work {
        return None;
    }
    let mut l = s.lock();
    s.pidleget(&mut l)
}

/// A batch from the global queue into `p`'s, and one G of it to run.
#[inline]
fn steal_global(s: &Sched, p: &P) -> Option<*mut G> {
    // Two loads first: the steal's own attempt on an empty queue cost ~38 instructions,
    // twice per wake-up of an idle P (callgrind of `examples/hello`, one P). A G pushed
    // just after this look is not lost: `find_runnable` looks at the queue again after
    // it gives its P back (`check_again`), with the fence that pairs with the pusher's.
    if s.injector.is_empty() {
        return None;
    }
    steal_global_batch(s, p)
}

#[inline(never)]
fn steal_global_batch(s: &Sched, p: &P) -> Option<*mut G> {
    loop {
        match s.injector.steal_batch_and_pop(p.runq()) {
            Steal::Success(g) => return Some(g.0.as_ptr()),
            Steal::Empty => return None,
            Steal::Retry => continue,
        }
    }
}

/// Steals half of a random other P's queue.
fn steal_work(s: &Sched, m: &mut M) -> Option<*mut G> {
    // SAFETY: the M holds its P.
    let p = unsafe { &*m.p };
    let n = s.procs;
    if n == 1 {
        return None;
    }
    for _ in 0..4 {
        let start = m.fastrand() as usize % n;
        for k in 0..n {
            let i = (start + k) % n;
            if i == p.id {
                continue;
            }
            loop {
                match s.stealers[i].steal_batch_and_pop(p.runq()) {
                    Steal::Success(g) => {
                        P::bump(&p.steals);
                        tracing::trace!(from = i, to = p.id, "steal");
                        return Some(g.0.as_ptr());
                    }
                    Steal::Empty => break,
                    Steal::Retry => continue,
                }
            }
        }
    }
    None
}

/// Runs every P's expired timers if the earliest is due by `now` (0: read the clock,
/// which is read only when some timer is pending). Inlined, with the firing out of line
/// (`timer::run_all_timers`): as one call, the firing's 344-byte frame and six saved
/// registers cost ~33 instructions on each look that found nothing due, twice per
/// wake-up of an idle P (callgrind of `examples/hello`).
#[inline]
fn run_expired_timers(s: &Sched, now: u64) {
    let t0 = timer::earliest(s);
    if t0 != NEVER && t0 <= if now != 0 { now } else { nanotime() } {
        timer::run_all_timers(s);
    }
}

/// Makes Gs found by a poller that holds no P (the idle sleeper when every P is busy,
/// sysmon, a goroutine that lost its P) runnable: they go on the global queue, and an
/// idle M is woken for each, up to one per P.
pub(super) fn inject(s: &Sched, gs: &[*mut G]) {
    for &g in gs {
        // SAFETY: `g` was parked on a desc; the poller won the right to wake it.
        unsafe {
            // Relaxed: see `G::status`.
            (*g).status.store(G_RUNNABLE, Relaxed);
            super::latency::runnable(g);
            s.injector.push(GRef(NonNull::new_unchecked(g)));
        }
    }
    if !gs.is_empty() {
        fence(SeqCst);
        for _ in 0..gs.len().min(s.procs) {
            wakep(s);
        }
    }
}

/// Parks the M until `startm` hands it a P (or shutdown). Returns holding a P.
pub(super) fn stopm(m: &mut M) {
    let s = m.sched();
    let mut l = s.lock();
    match stopm_register(s, m, &mut l) {
        Stop::Sleep => {
            drop(l);
            stopm_wait(m);
        }
        Stop::Run(p) => {
            drop(l);
            handoff::acquirep(m, p);
        }
        Stop::Exit => {
            drop(l);
            mexit(m);
        }
    }
}

/// Sets `Locked::pending_m` and its copy `Sched::npending`, which the idle sleeper reads
/// without the lock.
fn set_pending(s: &Sched, l: &mut Locked, n: usize) {
    l.pending_m = n;
    // SeqCst: the Dekker store of `startm` (see `sleeper::sleep_in_netpoll`).
    s.npending.store(n, SeqCst);
}

/// What an M about to go idle does instead ([`stopm_register`]).
pub(super) enum Stop {
    /// It is listed idle: sleep ([`stopm_wait`]).
    Sleep,
    /// Run this idle P: a goroutine that waited for a thread was just queued, or a start
    /// refused at the thread limit waits for an M.
    Run(*const P),
    /// Shutdown: exit the M.
    Exit,
}

/// `stopm`'s first half, under the lock: gives back the M's permit for blocking calls,
/// if it holds one, then lists the M as idle, unless there is shutdown or an idle P
/// that needs it (see [`Stop`]).
pub(super) fn stopm_register(s: &Sched, m: &mut M, l: &mut Locked) -> Stop {
    if s.shutdown.load(SeqCst) {
        return Stop::Exit;
    }
    // Given on to a waiting goroutine, if any, which goes on the global queue: run it
    // here if a P is idle (no one else would be woken for it: this M is the one `wakep`
    // would find).
    let handed = blocking::release_permit(m, l);
    if handed || l.pending_m > 0 {
        if let Some(p) = s.pidleget(l) {
            let n = l.pending_m.saturating_sub(1);
            set_pending(s, l, n);
            return Stop::Run(p);
        }
        // Every P has an M: the refused starts were served.
        set_pending(s, l, 0);
    }
    m.park.clear();
    s.mput(l, m as *mut M);
    deadlock::checkdead(s, l);
    Stop::Sleep
}

/// `stopm`'s second half: sleeps until `startm` hands the M a P (or shutdown), or exits
/// the M after its keep-alive (`m::idle_sleep`).
pub(super) fn stopm_wait(m: &mut M) {
    let s = m.sched();
    // Or exits, after its keep-alive, if the Ps have Ms enough.
    m::idle_sleep(m);
    let p = std::mem::replace(&mut m.next_p, ptr::null());
    if p.is_null() {
        if !s.shutdown.load(SeqCst) {
            unreachable!("an M was woken without a P outside shutdown");
        }
        mexit(m);
    }
    handoff::acquirep(m, p);
}

/// Leaves the scheduling loop for good: back to `m_main` on the thread's own stack.
pub(super) fn mexit(m: &mut M) -> ! {
    let s = m.sched();
    if !m.p.is_null() {
        let p = handoff::releasep(m);
        let mut l = s.lock();
        s.pidleput(&mut l, p);
    }
    if m.spinning {
        m.spinning = false;
        s.nmspinning.fetch_sub(1, SeqCst);
    }
    // SAFETY: `exit_buf` was saved by `mstart` on this thread and is resumed once.
    unsafe { arch::gogo(&m.exit_buf) }
}
