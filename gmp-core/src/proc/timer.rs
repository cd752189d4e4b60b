//! Per-P timer heaps: a 4-ary min-heap of `(when, G)` entries, and `sleep`.
//!
//! Each P owns a heap under its own mutex (uncontended unless another M runs this P's
//! expired timers while stealing, or the idle sleeper does). The earliest deadline is
//! mirrored in `P::timer0` so that `find_runnable` and the idle sleeper read it without
//! the lock. A 4-ary heap is shallower than a binary one, so a push or pop touches fewer
//! cache lines; Go's runtime made the same choice.
//!
//! An entry readies its G when `now >= when`, never before, so `sleep` never returns
//! early.

use super::g::G;
use super::netpoll::{Mode, PollDesc};
use crate::clock::{nanotime, NEVER};

#[derive(Clone, Copy)]
pub(crate) struct Timer {
    pub when: u64,
    pub kind: TimerKind,
}

#[derive(Clone, Copy)]
pub(crate) enum TimerKind {
    /// `sleep`: ready the G.
    Wake(*mut G),
    /// A socket deadline: wake the desc's waiter if deadline `n` is still current.
    Deadline {
        pd: &'static PollDesc,
        mode: Mode,
        n: u64,
    },
    /// The deadline of a channel or sync wait (`wait.rs`): generation `gen` of `g`'s wait.
    WaitTimeout { g: *mut G, gen: u64 },
}

impl Timer {
    /// Whether firing this timer can no longer do anything (the wait or socket deadline
    /// it was for is over). Such timers are pruned instead of waiting to expire.
    fn is_stale(&self) -> bool {
        match self.kind {
            TimerKind::Wake(_) => false,
            TimerKind::Deadline { pd, mode, n } => super::netpoll::deadline_stale(pd, mode, n),
            TimerKind::WaitTimeout { g, gen } => super::wait::timeout_stale(g, gen),
        }
    }
}

#[derive(Default)]
pub(crate) struct TimerHeap {
    heap: Vec<Timer>,
    /// Length at which `push` next prunes stale timers. Timers are not deleted when the
    /// operation they guard finishes first (a read with a timeout that got its data);
    /// pruning whenever the heap doubles keeps a loop of timed operations from growing
    /// it without bound, at O(1) amortized per push.
    prune_at: usize,
}

const PRUNE_MIN: usize = 64;

// SAFETY: the G pointers are only readied by whoever pops them, under the P's lock.
unsafe impl Send for TimerHeap {}

impl TimerHeap {
    /// The earliest deadline, or [`NEVER`].
    pub(crate) fn first(&self) -> u64 {
        self.heap.first().map_or(NEVER, |t| t.when)
    }

    pub(crate) fn push(&mut self, t: Timer) {
        if self.heap.len() >= self.prune_at.max(PRUNE_MIN) {
            self.prune();
        }
        self.push_no_prune(t);
    }

    /// Pops the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<Timer> {
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
    pub(crate) fn clear(&mut self) {
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
    let m = super::m::current();
    if m.is_null() {
        std::thread::sleep(dur);
        return;
    }
    if dur.is_zero() {
        super::sched::yield_now();
        return;
    }
    // NEVER means "no timer": the latest real deadline is one before it.
    let when = nanotime()
        .saturating_add(dur.as_nanos().min(u64::MAX as u128) as u64)
        .min(NEVER - 1);
    super::sched::park(|g| {
        // SAFETY: the commit runs on g0 of the M that parked this G (not necessarily
        // `m`: a G that lost its P moves before parking), holding its P.
        super::sched::add_timer(
            unsafe { &*super::m::current() },
            Timer {
                when,
                kind: TimerKind::Wake(g),
            },
        );
        true
    });
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
                kind: TimerKind::Wake(std::ptr::null_mut()),
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
            kind: TimerKind::Wake(std::ptr::null_mut()),
        });
        assert!(h.pop_due(99).is_none());
        assert_eq!(h.pop_due(100).unwrap().when, 100);
    }
}
