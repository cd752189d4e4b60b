//! Scheduling latency, sampled: how long a goroutine waits between becoming runnable
//! and running (Go's `/sched/latencies:seconds`), in fixed log2 buckets per P.
//!
//! Go stamps one transition to runnable in 8 (`gTrackingPeriod`). gmp stamps one in
//! [`SAMPLE_RUNS`] of each goroutine's runs, chosen by its switch sequence `G::seq`,
//! which grows by 2 per run and is already on the cache line `ready` writes: the waker
//! that makes the goroutine runnable ([`runnable`]) stores a coarse `nanotime` in
//! `G::ready_at` when the sequence says so, and `execute`, which already touches that line
//! to switch to it, records the delta into its P's histogram ([`record`]) and clears the
//! stamp. An unsampled ready costs a load and a predictable branch; an unsampled switch a
//! load and a predictable branch; a sampled one two clock reads (vDSO) and two
//! owner-only counter bumps.
//!
//! Invariant: a stamp is consumed (recorded and cleared) by the next `execute` of its
//! goroutine, which always follows the ready that set it, because every goroutine reaches
//! an M through a run queue and `execute`. A new goroutine's header starts unstamped
//! (`G::init_at`), and `prepare` clears it, so a stamp never outlives a goroutine.
//!
//! The stamp is 32 bits of `nanotime >> STAMP_SHIFT` so it fits in the padding after
//! `G::deadlocked` without growing the header: 64 ns resolution, wrapping after 274 s,
//! so a wait longer than that is recorded modulo it (a runtime with such waits has
//! bigger problems, and the goroutine dump shows them).

use super::g::G;
use super::p::P;
use super::sched::Sched;
use crate::clock::nanotime;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One run in this many of each goroutine is timed. Go samples 1 in 8 through its
/// status transitions; 64 keeps the sampled clock reads (about 2 × 20 ns) under 1 ns per
/// switch on average.
pub(super) const SAMPLE_RUNS: u32 = 64;

/// `G::seq` grows by 2 per run: sample when its run count is a multiple of
/// [`SAMPLE_RUNS`].
const SEQ_MASK: u32 = 2 * SAMPLE_RUNS - 1;

/// Stamps keep `nanotime >> STAMP_SHIFT` (64 ns units) in 32 bits.
const STAMP_SHIFT: u32 = 6;

/// Buckets: `k` holds latencies in `[2^(k-1), 2^k)` ns (bucket 0: zero), the last one
/// everything from `2^(BUCKETS-2)` ns (about 275 s) up.
pub(crate) const BUCKETS: usize = 40;

/// A P's histogram. Written only by the M holding the P (in `execute`, a plain load and
/// store each, no locked instruction); read by `metrics` with Relaxed loads.
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
/// runnable (`ready`, `yield_now`, the netpoller's `inject`), before the queue push that
/// hands it to the M that will run it (which publishes the stamp).
///
/// # Safety
/// `g` is a G header of a live runtime that the caller may make runnable.
#[inline(always)]
pub(super) unsafe fn runnable(g: *mut G) {
    // SAFETY: per the contract. Relaxed: `seq` only chooses the sample (any recent
    // value will do); the stamp is a plain field, published by the queue push.
    unsafe {
        if (*g).seq.load(Relaxed) & SEQ_MASK == 0 {
            (*g).ready_at = stamp_now();
        }
    }
}

/// `execute` is about to run `g` on `p`: records its wait if it was stamped.
///
/// # Safety
/// The calling M holds `p` and has dequeued `g`.
#[inline(always)]
pub(super) unsafe fn record(p: &P, g: *mut G) {
    // SAFETY: per the contract; the queue pop published the stamp.
    let at = unsafe { (*g).ready_at };
    if at != 0 {
        // SAFETY: as above.
        unsafe { (*g).ready_at = 0 };
        record_slow(p, at);
    }
}

#[cold]
#[inline(never)]
fn record_slow(p: &P, at: u32) {
    let ns = (stamp_now().wrapping_sub(at) as u64) << STAMP_SHIFT;
    let h = &p.latency;
    P::bump(&h.buckets[bucket(ns)]);
    // Relaxed load + store: owner-only, like `P::bump`.
    h.sum_ns.store(h.sum_ns.load(Relaxed) + ns, Relaxed);
}

/// Every P's histogram of `s` added up: bucket counts and the sum of the samples in ns.
pub(crate) fn collect(s: &Sched) -> ([u64; BUCKETS], u64) {
    let mut out = [0u64; BUCKETS];
    let mut sum = 0;
    for p in s.ps.iter() {
        for (o, b) in out.iter_mut().zip(&p.latency.buckets) {
            // Relaxed: independent statistics, not a consistent cut.
            *o += b.load(Relaxed);
        }
        sum += p.latency.sum_ns.load(Relaxed);
    }
    (out, sum)
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
