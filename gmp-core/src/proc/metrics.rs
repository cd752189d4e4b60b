//! [`Metrics`]: one snapshot of a runtime's goroutines and scheduler, for
//! `gmp::debug::metrics` and the HTTP debug endpoint built on it.
//!
//! Nothing here is counted for the sake of metrics alone, so nothing costs a running
//! program anything until someone asks: goroutines by state come from walking the
//! goroutine registry (the stack pools, as a dump does, without stacks); threads,
//! procs, queues, switches, steals and retakes are `Stats`' counters; timers are the
//! P heaps' lengths (under each heap's lock); stack memory is the pools' chunks, their
//! residency asked of the kernel with `mincore`; and the scheduling-latency histogram is
//! the sampled one of `latency.rs`, the only part with a cost on the hot path.
//! A snapshot is not a consistent cut: each figure is read on its own, while the
//! runtime runs.

use super::latency::{self, BUCKETS};
use super::sched::{self, Sched};
use super::stack::PAGE;
use super::traceback::{self, GState};
use crate::clock::nanotime;
use std::time::Duration;

/// A snapshot of the calling goroutine's runtime: goroutines by state, threads, Ps,
/// queues, timers, stack memory, scheduler counters and the scheduling-latency
/// histogram. Figures are read one by one while the runtime runs, so they need not add
/// up exactly to each other (or to a [`Stats`](crate::Stats) taken a moment apart).
#[derive(Clone, Debug)]
pub struct Metrics {
    /// Goroutines running on a thread, the caller included.
    pub goroutines_running: usize,
    /// Goroutines in a run queue (or spawned and not started yet).
    pub goroutines_runnable: usize,
    /// Goroutines in [`blocking`](crate::blocking) on a thread of their own.
    pub goroutines_blocking: usize,
    /// Goroutines parked, for any reason.
    pub goroutines_waiting: usize,
    /// The parked goroutines by wait reason, in a goroutine dump's words (`"chan
    /// receive"`, `"IO wait"`, `"sync.Mutex.Lock"`, ...): only reasons that have at
    /// least one goroutine, largest first.
    pub waiting_by_reason: Vec<(&'static str, usize)>,
    /// Goroutines ever spawned, the main one not included ([`Stats::spawned`](crate::Stats::spawned)).
    pub goroutines_created: u64,
    /// Runtime threads (Ms) alive.
    pub threads: usize,
    /// Threads parked with nothing to do.
    pub idle_threads: usize,
    /// Threads away from the Ps in a [`blocking`](crate::blocking) call (or stuck in a
    /// call sysmon took the P from).
    pub blocked_threads: usize,
    /// Ps: how many goroutines run in parallel.
    pub procs: usize,
    /// Ps with no thread, waiting for work.
    pub idle_procs: usize,
    /// Threads spinning, looking for work to steal.
    pub spinning_threads: usize,
    /// Goroutines in the global run queue.
    pub global_queue: usize,
    /// Length of each P's local run queue (its `runnext` slot not included).
    pub local_queues: Vec<usize>,
    /// Goroutines parked in the netpoller, waiting for a socket (`IO wait`).
    pub netpoll_waiters: usize,
    /// Timers in the Ps' heaps: sleeps, socket deadlines, wait timeouts. Timers whose
    /// wait already ended stay until they fire or the heap prunes them, so this is an
    /// upper bound on the live ones.
    pub timers: usize,
    /// Address space mapped for goroutine stacks (every chunk of every stack pool, guard
    /// pages included). Reserved, not committed: see `stack_bytes_resident`.
    pub stack_bytes_mapped: u64,
    /// Of that, bytes in memory, as the kernel reports them (`mincore` over the chunks).
    pub stack_bytes_resident: u64,
    /// Times a goroutine was switched to.
    pub switches: u64,
    /// Successful steals from another P's run queue.
    pub steals: u64,
    /// Ps sysmon took from a goroutine that stayed away from the scheduler for 10 ms.
    pub retakes: u64,
    /// Sampled time from runnable to running.
    pub sched_latency: LatencyHistogram,
    /// Time since the runtime was made.
    pub uptime: Duration,
}

/// Sampled scheduling latency (Go's `/sched/latencies:seconds`): the time from a
/// goroutine becoming runnable (readied, spawned, yielding) to running, for one run in
/// 64 of each goroutine, with a resolution of 64 ns.
#[derive(Clone, Debug, Default)]
pub struct LatencyHistogram {
    /// `(upper_ns, count)`: `count` samples were below `upper_ns` nanoseconds and at
    /// least the previous bucket's `upper_ns`. Bounds are powers of two; the last is
    /// `u64::MAX`. Not cumulative.
    pub buckets: Vec<(u64, u64)>,
    /// Sum of the samples, in nanoseconds.
    pub sum_ns: u64,
    /// Number of samples (the sum of the bucket counts).
    pub count: u64,
}

/// A [`Metrics`] snapshot of the calling goroutine's runtime. It walks every goroutine
/// header (no stacks), so it takes time proportional to the goroutines alive: about as
/// long as a dump of them without their frames.
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let (tx, rx) = gmp::chan::bounded::<()>(0);
///     let h = gmp::spawn(move || rx.recv());
///     while gmp::debug::metrics().waiting_by_reason != [("chan receive", 1)] {
///         gmp::yield_now();
///     }
///     let m = gmp::debug::metrics();
///     assert_eq!((m.goroutines_running, m.goroutines_waiting), (1, 1));
///     tx.send(()).unwrap();
///     h.join().unwrap().unwrap();
/// });
/// ```
///
/// # Panics
/// Outside a runtime.
pub fn metrics() -> Metrics {
    collect(sched::current().expect("gmp::debug::metrics called outside a gmp runtime"))
}

/// Go's schedtrace line for the calling goroutine's runtime (what `GMP_SCHEDTRACE`
/// prints): `SCHED 1234ms: gomaxprocs=4 idleprocs=3 threads=5 spinningthreads=0
/// idlethreads=2 runqueue=0 [0 0 0 0]`.
///
/// # Panics
/// Outside a runtime.
pub fn schedtrace() -> String {
    let s = sched::current().expect("gmp::debug::schedtrace called outside a gmp runtime");
    super::sysmon::schedtrace_line(s, nanotime().saturating_sub(s.started) / 1_000_000)
}

fn collect(s: &Sched) -> Metrics {
    let mut m = Metrics {
        goroutines_running: 0,
        goroutines_runnable: 0,
        goroutines_blocking: 0,
        goroutines_waiting: 0,
        waiting_by_reason: Vec::new(),
        goroutines_created: 0,
        threads: 0,
        idle_threads: 0,
        blocked_threads: 0,
        procs: 0,
        idle_procs: 0,
        spinning_threads: 0,
        global_queue: 0,
        local_queues: Vec::new(),
        netpoll_waiters: 0,
        timers: 0,
        stack_bytes_mapped: 0,
        stack_bytes_resident: 0,
        switches: 0,
        steals: 0,
        retakes: 0,
        sched_latency: LatencyHistogram::default(),
        uptime: Duration::from_nanos(nanotime().saturating_sub(s.started)),
    };
    let mut reasons: Vec<(&'static str, usize)> = Vec::new();
    for v in traceback::snapshot(s, false) {
        match v.state {
            GState::Running => m.goroutines_running += 1,
            GState::Runnable => m.goroutines_runnable += 1,
            GState::Blocking => m.goroutines_blocking += 1,
            GState::Waiting(why) => {
                m.goroutines_waiting += 1;
                if why == traceback::WaitReason::IoWait {
                    m.netpoll_waiters += 1;
                }
                let w = why.as_str();
                match reasons.iter_mut().find(|(r, _)| *r == w) {
                    Some((_, n)) => *n += 1,
                    None => reasons.push((w, 1)),
                }
            }
        }
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    m.waiting_by_reason = reasons;

    let st = s.stats();
    m.goroutines_created = st.spawned;
    m.threads = st.threads;
    m.idle_threads = st.idle_threads;
    m.blocked_threads = st.blocked_threads;
    m.procs = st.procs;
    m.idle_procs = st.idle_procs;
    m.spinning_threads = st.spinning_threads;
    m.global_queue = st.global_queue;
    m.local_queues = st.local_queues;
    m.switches = st.switches;
    m.steals = st.steals;
    m.retakes = st.retakes;

    m.timers = s.ps.iter().map(|p| p.timers.len()).sum();
    let (mapped, resident) = stack_memory(s);
    m.stack_bytes_mapped = mapped;
    m.stack_bytes_resident = resident;

    let (counts, sum_ns) = latency::collect(s);
    m.sched_latency = LatencyHistogram {
        buckets: counts
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let upper = if k + 1 == BUCKETS {
                    u64::MAX
                } else {
                    1u64 << k
                };
                (upper, n)
            })
            .collect(),
        sum_ns,
        count: counts.iter().sum(),
    };
    m
}

/// Bytes mapped for `s`'s stacks, and of those, resident (`mincore`).
fn stack_memory(s: &Sched) -> (u64, u64) {
    let mut chunks = s.default_pool.chunks();
    for pool in s.pools.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        chunks.extend(pool.chunks());
    }
    let mut mapped = 0u64;
    let mut resident = 0u64;
    let mut vec = Vec::new();
    for (base, len) in chunks {
        mapped += len as u64;
        vec.clear();
        vec.resize(len / PAGE, 0u8);
        // SAFETY: `[base, base + len)` is a chunk the pool keeps mapped while the runtime
        // lives (chunks are unmapped only when the pool is dropped, at shutdown), page
        // aligned, and `vec` has a byte per page.
        let r = unsafe { libc::mincore(base as *mut libc::c_void, len, vec.as_mut_ptr()) };
        if r == 0 {
            resident += vec.iter().filter(|&&b| b & 1 == 1).count() as u64 * PAGE as u64;
        }
    }
    (mapped, resident)
}
