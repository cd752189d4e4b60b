//! Scheduling latency, sampled: how long a goroutine waits between becoming runnable
//! and running (Go's `/sched/latencies:seconds`), in fixed log2 buckets per runtime.
//!
//! Go stamps one transition to runnable in 8 (`gTrackingPeriod`). gmp stamps one in
//! [`SAMPLE_RUNS`] of each goroutine's runs, chosen by its switch sequence `G::seq`,
//! which grows by 2 per run and sits on the cache line `ready` writes anyway: whoever
//! makes the goroutine runnable ([`runnable`]: `ready`, the netpoller; for `yield_now`
//! the goroutine itself on its way out) stores a coarse `nanotime` in `G::ready_at`
//! when the sequence says so, and the goroutine, once it runs again ([`resumed`]: where
//! `park` and `yield_now` return from `mcall`, and at a new goroutine's entry), records
//! the delta into its runtime's histogram and clears the stamp. An unsampled ready costs
//! a load and a predictable branch, and so does an unsampled resume; a sampled one two
//! clock reads (vDSO) and two Relaxed `fetch_add`s, on one switch in 64.
//!
//! The record is on the goroutine's side, not in `execute`: `execute` is inlined into
//! every g0 function that ends in `schedule`, and even the three instructions of the
//! check there made LLVM stop inlining the run queue's `pop` into `gosched_m` (`yield
//! (procs=1)` under callgrind: 161.6 instructions per yield without sampling, 174.7 with
//! the check in `execute`, 169.8 as it is). For the same reason `yield_now` stamps itself
//! before `mcall` rather than in `gosched_m`.
//!
//! Invariant: a stamp is consumed by the next resume of its goroutine, which always
//! follows the ready that set it: a goroutine resumes where it saved itself, and every
//! place that stamps saved it in `park` or `yield_now` (or never ran it: a new
//! goroutine starts at its entry). A new goroutine's header starts unstamped
//! (`G::init_at`) and `prepare` clears it, so a stamp never outlives a goroutine.
//!
//! The stamp is 32 bits of `nanotime >> STAMP_SHIFT` so that it fits in padding of the
//! G header's first line: 64 ns resolution, wrapping after 274 s, so a wait longer than
//! that is recorded modulo it (a runtime with such waits has bigger problems, and the
//! goroutine dump shows them).

use super::g::G;
use super::sched::Sched;
use crate::clock::nanotime;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One run in this many of each goroutine is timed. Go samples 1 in 8 through its
/// status transitions; 64 keeps the sampled clock reads (about 2 × 20 ns) under 1 ns per
/// switch on average.
pub(super) const SAMPLE_RUNS: u32 = 64;

/// `G::seq` grows by 2 per run (odd while running, even while saved): sample when its
/// run count, `seq / 2`, is a multiple of [`SAMPLE_RUNS`], whichever parity it has.
const SEQ_MASK: u32 = 2 * SAMPLE_RUNS - 2;

/// Stamps keep `nanotime >> STAMP_SHIFT` (64 ns units) in 32 bits.
const STAMP_SHIFT: u32 = 6;

/// Buckets: `k` holds latencies in `[2^(k-1), 2^k)` ns (bucket 0: zero), the last one
/// everything from `2^(BUCKETS-2)` ns (about 275 s) up.
pub(crate) const BUCKETS: usize = 40;

/// A runtime's histogram (`Sched::latency`). Written with Relaxed `fetch_add`s by the
/// sampled goroutines (one switch in 64, so the line is rarely contended); read by
/// `metrics` with Relaxed loads. Statistics: nothing is ordered by them.
pub(super) struct LatencyHist {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

impl LatencyHist {
    pub(super) const fn new() -> LatencyHist {
        LatencyHist {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
            sum_ns: AtomicU64::new(0),
        }
    }
}

/// The bucket of a latency of `ns` nanoseconds.
pub(crate) fn bucket(ns: u64) -> usize {
    ((u64::BITS - ns.leading_zeros()) as usize).min(BUCKETS - 1)
}

/// The current time as a stamp: never 0, which means "not sampled".
#[inline]
fn stamp_now() -> u32 {
    ((nanotime() >> STAMP_SHIFT) as u32).max(1)
}

/// `g` is becoming runnable: stamp it if this run is sampled. Called by whoever makes it
/// runnable (`ready`, the netpoller's `inject`; `yield_now` by the goroutine itself just
/// before it switches out), before the queue push that hands it to the M that will run
/// it (which publishes the stamp).
///
/// # Safety
/// `g` is a G header of a live runtime that the caller may make runnable.
#[inline(always)]
pub(super) unsafe fn runnable(g: *mut G) {
    // SAFETY: per the contract. Relaxed: `seq` only chooses the sample (any recent
    // value will do).
    if unsafe { (*g).seq.load(Relaxed) } & SEQ_MASK == 0 {
        // SAFETY: per the contract.
        unsafe { stamp(g) };
    }
}

/// The sampled half of [`runnable`], out of line so the hot callers stay small (inlined,
/// the clock read grew `gosched_m` enough for LLVM to stop inlining the run queue's
/// `pop` into it).
///
/// # Safety
/// As for [`runnable`].
#[cold]
#[inline(never)]
unsafe fn stamp(g: *mut G) {
    // SAFETY: per the contract; the stamp is a plain field, published by the queue push.
    unsafe { (*g).ready_at = stamp_now() };
}

/// The goroutine `g` runs again, on its own stack: records how long it waited, if its
/// run was stamped.
///
/// # Safety
/// `g` is the calling goroutine's own G header.
#[inline(always)]
pub(super) unsafe fn resumed(g: *mut G) {
    // SAFETY: per the contract; the queue pop that handed `g` to this M published the
    // stamp.
    let at = unsafe { (*g).ready_at };
    if at != 0 {
        // SAFETY: as above.
        unsafe { record(g, at) };
    }
}

/// # Safety
/// As for [`resumed`].
#[cold]
#[inline(never)]
unsafe fn record(g: *mut G, at: u32) {
    let ns = (stamp_now().wrapping_sub(at) as u64) << STAMP_SHIFT;
    // SAFETY: per the contract; `rt` is the live runtime `g` runs on.
    let h = unsafe {
        (*g).ready_at = 0;
        &(*(*g).rt).latency
    };
    // Relaxed: statistics (see `LatencyHist`).
    h.buckets[bucket(ns)].fetch_add(1, Relaxed);
    h.sum_ns.fetch_add(ns, Relaxed);
}

/// The histogram of `s`: bucket counts and the sum of the samples in ns.
pub(crate) fn collect(s: &Sched) -> ([u64; BUCKETS], u64) {
    let h = &s.latency;
    let mut out = [0u64; BUCKETS];
    for (o, b) in out.iter_mut().zip(&h.buckets) {
        // Relaxed: independent statistics, not a consistent cut.
        *o += b.load(Relaxed);
    }
    (out, h.sum_ns.load(Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log2() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(63), 6);
        assert_eq!(bucket(64), 7);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn stamps_are_never_zero() {
        assert_ne!(stamp_now(), 0);
    }
}
