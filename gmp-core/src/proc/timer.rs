//! Timers: Go's `{when, f, arg, seq}`, per-P 4-ary heaps, running them, and `sleep`.
//!
//! A [`Timer`] fires at `when` by calling `f.fire(arg, seq)`, which returns the goroutine
//! to ready (or null). What a timer is for lives in `f`, in the file that owns it:
//! [`sleep`] here, socket deadlines in `netpoll.rs`, channel and sync wait timeouts in
//! `wait.rs`. So this file names none of them, and they call into it, not the other way
//! round. `seq` tells one use of `arg` from the next (a deadline number, a wait's
//! generation): a timer for a wait that is over finds its `seq` stale and does nothing.
//!
//! Each P owns a heap under its own mutex (uncontended unless another M runs this P's
//! expired timers while it looks for work, or the idle sleeper does). The earliest
//! deadline is mirrored in `Timers::timer0` so that `schedule`, `find_runnable` and the
//! idle sleeper read it without the lock. A 4-ary heap is shallower than a binary one,
//! so a push or pop touches fewer cache lines; Go's runtime made the same choice.
//!
//! Timers are not deleted when the operation they guard finishes first (a read with a
//! timeout that got its data): firing them is harmless, and the heap prunes stale ones
//! (`TimerFunc::stale`) whenever it doubles, so a loop of timed operations cannot grow it
//! without bound.
//!
//! An entry readies its G when `now >= when`, never before, so `sleep` never returns
//! early. It readies it into `runnext` of the P that ran it, so a goroutine woken by its
//! timer runs next instead of waiting behind the whole run queue (Go's `goroutineReady`
//! readies with `next = true` for the same reason); of timers due together, the
//! earliest goes there and the others to the queue's tail, in deadline order.

use super::g::G;
use super::handoff;
use super::m::{self, M};
use super::p::P;
use super::park;
use super::sched::Sched;
use super::schedule;
use crate::clock::{nanotime, NEVER};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::{Mutex, MutexGuard};

/// What a timer does: Go's timer `f`, plus the staleness check the heap prunes with.
pub(super) struct TimerFunc {
    /// Fires the timer (called under its heap's lock, on whichever M runs it): returns
    /// the goroutine to ready once the lock is released, or null.
    pub(super) fire: fn(arg: usize, seq: u64) -> *mut G,
    /// Whether firing would do nothing any more (the wait it guards is over): such a
    /// timer is dropped when the heap prunes.
    pub(super) stale: fn(arg: usize, seq: u64) -> bool,
}

/// One timer: at `when` (a [`nanotime`] instant), `f.fire(arg, seq)`.
#[derive(Clone, Copy)]
pub(super) struct Timer {
    pub(super) when: u64,
    pub(super) f: &'static TimerFunc,
    pub(super) arg: usize,
    pub(super) seq: u64,
}

impl Timer {
    fn is_stale(&self) -> bool {
        (self.f.stale)(self.arg, self.seq)
    }
}

/// `sleep`'s timer: readies the G in `arg`.
static WAKE: TimerFunc = TimerFunc {
    fire: |g, _| g as *mut G,
    stale: |_, _| false,
};

#[derive(Default)]
pub(super) struct TimerHeap {
    heap: Vec<Timer>,
    /// Length at which `push` next prunes stale timers. Timers are not deleted when the
    /// operation they guard finishes first (a read with a timeout that got its data);
    /// pruning whenever the heap doubles keeps a loop of timed operations from growing
    /// it without bound, at O(1) amortized per push.
    prune_at: usize,
}

const PRUNE_MIN: usize = 64;

// SAFETY: a timer's `arg` may be a G or desc address; it is used only by whoever pops
// the timer, under the heap's lock, through `f`.
unsafe impl Send for TimerHeap {}

impl TimerHeap {
    /// The earliest deadline, or [`NEVER`].
    pub(super) fn first(&self) -> u64 {
        self.heap.first().map_or(NEVER, |t| t.when)
    }

    pub(super) fn push(&mut self, t: Timer) {
        if self.heap.len() >= self.prune_at.max(PRUNE_MIN) {
            self.prune();
        }
        self.push_no_prune(t);
    }

    /// Pops the earliest entry if it is due at `now`.
    pub(super) fn pop_due(&mut self, now: u64) -> Option<Timer> {
        if self.first() > now {
            return None;
        }
        let top = self.heap[0];
        let last = self.heap.pop().expect("heap is not empty");
        if !self.heap.is_empty() {
            self.sift_down(last);
        }
        Some(top)
    }

    /// Drops stale timers and rebuilds the heap.
    fn prune(&mut self) {
        let mut live = std::mem::take(&mut self.heap);
        live.retain(|t| !t.is_stale());
        self.prune_at = (2 * live.len()).max(PRUNE_MIN);
        self.heap.reserve(live.len());
        for t in live {
            self.push_no_prune(t);
        }
    }

    fn push_no_prune(&mut self, t: Timer) {
        self.heap.push(t);
        let mut i = self.heap.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.heap[parent].when <= t.when {
                break;
            }
            self.heap[i] = self.heap[parent];
            i = parent;
        }
        self.heap[i] = t;
    }

    fn sift_down(&mut self, t: Timer) {
        let n = self.heap.len();
        let mut i = 0;
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let mut min = first;
            for c in first + 1..(first + 4).min(n) {
                if self.heap[c].when < self.heap[min].when {
                    min = c;
                }
            }
            if self.heap[min].when >= t.when {
                break;
            }
            self.heap[i] = self.heap[min];
            i = min;
        }
        self.heap[i] = t;
    }

    /// Removes every entry, for the shutdown sweep.
    pub(super) fn clear(&mut self) {
        self.heap = Vec::new();
    }
}

/// Parks the calling goroutine for at least `dur`. Outside a runtime it sleeps the
/// thread. A zero duration yields.
///
/// ```
/// use std::time::{Duration, Instant};
/// gmp_core::run(|| {
///     let t = Instant::now();
///     gmp_core::sleep(Duration::from_millis(5));
///     assert!(t.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(dur: std::time::Duration) {
    if m::current().is_null() {
        std::thread::sleep(dur);
        return;
    }
    if dur.is_zero() {
        park::yield_now();
        return;
    }
    // NEVER means "no timer": the latest real deadline is one before it.
    let when = nanotime()
        .saturating_add(dur.as_nanos().min(u64::MAX as u128) as u64)
        .min(NEVER - 1);
    park::park(super::traceback::WaitReason::Sleep, |g| {
        // The commit runs on g0 of the M that parked this G (not necessarily the M it
        // ran on before: a G that lost its P moves before parking), holding its P.
        let m = m::current();
        // SAFETY: a park commit runs on g0 of this thread's live M.
        add_timer(
            unsafe { &*m },
            Timer {
                when,
                f: &WAKE,
                arg: g as usize,
                seq: 0,
            },
        );
        true
    });
}

// ---- a P's timers ----------------------------------------------------------------------

/// A P's timer heap and the lock-free copy of its earliest deadline.
pub(super) struct Timers {
    heap: Mutex<TimerHeap>,
    /// Earliest `when` in `heap`, or `NEVER`. Written under the heap's lock, read without
    /// it. SeqCst stores and loads: see [`add_timer_on`].
    timer0: AtomicU64,
}

impl Timers {
    pub(super) fn new() -> Timers {
        Timers {
            heap: Mutex::new(TimerHeap::default()),
            timer0: AtomicU64::new(NEVER),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TimerHeap> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The earliest deadline, or `NEVER`.
    pub(super) fn first(&self) -> u64 {
        // SeqCst: pairs with the SeqCst store in `add_timer_on` (see there).
        self.timer0.load(SeqCst)
    }

    /// [`first`](Self::first) as a hint for `schedule`'s fast path: a timer missed here
    /// is seen by `find_runnable`'s SeqCst read the next time this P runs out of local
    /// work or reaches tick 61.
    #[inline]
    pub(super) fn first_hint(&self) -> u64 {
        // Relaxed: a hint, see above.
        self.timer0.load(Relaxed)
    }

    /// Timers in the heap, stale ones not yet pruned included (`metrics`).
    pub(super) fn len(&self) -> usize {
        self.lock().heap.len()
    }

    /// Drops every timer, for the shutdown sweep.
    pub(super) fn clear(&self) {
        self.lock().clear();
        self.timer0.store(NEVER, SeqCst);
    }
}

/// Adds a timer for the running G on `m`'s P, waking the sleeper if it now sleeps too
/// long. Called on g0 from a park commit, whose M holds its P.
pub(super) fn add_timer(m: &M, t: Timer) {
    // SAFETY: a park commit's M holds its P.
    add_timer_on(m.sched(), unsafe { &*m.p }, t);
}

/// Adds a timer on the current M's P, from a G (not from a park commit).
pub(super) fn add_timer_from_g(t: Timer) {
    let m = m::current();
    // SAFETY: called from a G, so this thread's M and its runtime are live.
    let s = unsafe { (*m).sched() };
    match handoff::p_try_enter() {
        Some(m) => {
            // SAFETY: the section holds the P.
            add_timer_on(s, unsafe { &*(*m).p }, t);
            handoff::p_exit(m);
        }
        // This goroutine's P was taken: any heap will do.
        None => add_timer_on(s, &s.ps[0], t),
    }
}

/// Adds a timer to `p`'s heap (any P: the heap has its own lock).
fn add_timer_on(s: &Sched, p: &P, t: Timer) {
    let when = t.when;
    {
        let mut h = p.timers.lock();
        h.push(t);
        p.timers.timer0.store(h.first(), SeqCst);
    }
    // SeqCst store above, SeqCst load here; the sleeper stores `poll_until`, then
    // re-reads every `timer0` (`sleeper::sleep_in_netpoll`): one of us sees the other.
    if s.sleeper.load(SeqCst) {
        if when < s.netpoll.poll_until.load(SeqCst) {
            s.wake_sleeper();
        }
    } else {
        // Nobody sleeps until the next timer: start an M that will (Go's wakeNetPoller).
        schedule::wakep(s);
    }
}

/// The earliest timer over all Ps, or `NEVER`.
pub(super) fn earliest(s: &Sched) -> u64 {
    s.ps.iter().map(|p| p.timers.first()).min().unwrap_or(NEVER)
}

/// Runs every P's expired timers, readying their Gs into the current M's P: the first
/// one into `runnext`, the others behind the local queue (see `run_timers`). Idle Ps'
/// timers too: nobody else may be awake to run them.
#[inline(never)]
pub(super) fn run_all_timers(s: &Sched) {
    let now = nanotime();
    let mut next = true;
    for p in s.ps.iter() {
        if p.timers.first() <= now {
            run_timers(p, now, &mut next);
        }
    }
}

/// Readies every G whose timer on `heap_p` is due at `now`, into the current M's P: while
/// `*next`, the first into `runnext` (clearing `*next`), the rest to the queue's tail.
fn run_timers(heap_p: &P, now: u64, next: &mut bool) {
    // Fired under the lock, readied after it: `ready` may start an M, which must not
    // wait for this heap.
    let mut due: [*mut G; 32] = [ptr::null_mut(); 32];
    loop {
        let mut n = 0;
        let mut popped = 0;
        {
            let mut h = heap_p.timers.lock();
            while popped < due.len() {
                let Some(t) = h.pop_due(now) else { break };
                popped += 1;
                let g = (t.f.fire)(t.arg, t.seq);
                if !g.is_null() {
                    due[n] = g;
                    n += 1;
                }
            }
            heap_p.timers.timer0.store(h.first(), SeqCst);
        }
        // The first into `runnext`, as Go's `goroutineReady` does (`ready(gp,
        // next=true)`): at the tail of the local queue a woken sleeper waited for every
        // G ahead of it. With 1,000 goroutines on echo round trips
        // (benches/timer_latency.rs, 2 Ps) the queue held 150-970 Gs when a 5 ms
        // sleep's timer fired, and the sleep overshot by 0.5-14 ms while the timer
        // itself fired within 0.25 ms of its deadline in all but 3 of 261 sleeps.
        // Go readies every due G into `runnext`, each pushing the one before to the
        // tail, so of timers due together the latest runs first; here the earliest
        // does and the rest follow in deadline order (tests/sleep.rs pins the order).
        for &g in &due[..n] {
            park::ready(g, std::mem::replace(next, false));
        }
        if popped < due.len() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order() {
        let mut h = TimerHeap::default();
        let mut x = 12345u64;
        let mut whens = Vec::new();
        for _ in 0..1000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let w = x >> 40;
            whens.push(w);
            h.push(Timer {
                when: w,
                f: &WAKE,
                arg: 0,
                seq: 0,
            });
        }
        whens.sort();
        assert_eq!(h.first(), whens[0]);
        let mut got = Vec::new();
        while let Some(t) = h.pop_due(u64::MAX - 1) {
            got.push(t.when);
        }
        assert_eq!(got, whens);
        assert_eq!(h.first(), NEVER);
    }

    #[test]
    fn pop_due_respects_now() {
        let mut h = TimerHeap::default();
        h.push(Timer {
            when: 100,
            f: &WAKE,
            arg: 0,
            seq: 0,
        });
        assert!(h.pop_due(99).is_none());
        assert_eq!(h.pop_due(100).unwrap().when, 100);
    }
}
