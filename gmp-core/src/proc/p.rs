//! `struct P`: a processor, the right to run Gs. An M must hold a P to run Go code.
//!
//! A P owns a local run queue (crossbeam's FIFO `Worker`, whose `Stealer` lives in
//! `Sched::stealers`) plus a `runnext` slot, a cache of free Gs with default-size
//! stacks, its timer heap, and counters.
//!
//! Ownership: fields in `Cell`/`UnsafeCell` are touched only by the M currently holding
//! this P (handed over under the scheduler lock, which orders one owner's writes before
//! the next owner's reads), and only inside a P section (`handoff.rs`): sysmon may take
//! the P from an M whose goroutine has been away from the scheduler too long, and the
//! section is what tells that M it lost the P. Other Ms reach a P only through its
//! stealer, its timer mutex and its atomics.
//!
//! `runnext` is owner-only here (Go lets thieves take it after a short delay). A G
//! readied by the running G sits there and inherits the time slice; if the running G
//! then spins without yielding, the readied G waits for it. Stealing `runnext` would need
//! an atomic swap on every spawn and ready, the two hottest queue operations; instead
//! `ready` wakes no idle M for a G that only went into `runnext`, and `gmp::sync` wakes
//! into the stealable queue (ARCHITECTURE.md, "Scheduling").

use super::g::G;
use super::timer::Timers;
use crate::words::section::Owner;
use crossbeam_deque::Worker;
use std::cell::{Cell, UnsafeCell};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// A G pointer that may cross threads inside the run queues.
#[derive(Clone, Copy)]
pub(super) struct GRef(pub(super) NonNull<G>);

// SAFETY: a G is run by one M at a time; the queues hand the pointer over with the
// synchronisation crossbeam-deque provides.
unsafe impl Send for GRef {}

/// How many free Gs a P caches before spilling half to the pool's shared list.
pub(super) const GFREE_MAX: usize = 64;

/// Aligned to 128 bytes (two cache lines, the adjacent-line prefetcher's pair) so that Ps
/// in `Sched::ps` never share a line: the yield benchmark ran 36 ns/op with two Ps
/// writing counters into one line (commit 6b6d1d5; ARCHITECTURE.md,
/// "Measurements behind the tuning constants").
#[repr(align(128))]
pub(crate) struct P {
    pub(super) id: usize,
    runq: UnsafeCell<Worker<GRef>>,
    /// Owner-only like a `Cell`; atomic (Relaxed, plain moves) so sysmon may peek.
    runnext: AtomicPtr<G>,
    /// Gs run on this P. Written by the owner only (Relaxed load + store); sysmon reads it
    /// to see whether the P is stuck.
    pub(super) schedtick: AtomicU32,
    /// The M holding this P (its address), `| RETAKING` while sysmon tries to take it, or
    /// 0 when idle. See `handoff.rs`.
    pub(super) owner: Owner,
    pub(super) gfree: UnsafeCell<Vec<*mut G>>,
    /// Goroutine ids handed out in batches so spawn does not contend on one counter.
    pub(super) goid_next: Cell<u64>,
    pub(super) goid_end: Cell<u64>,
    pub(super) timers: Timers,
    // Counters, written only by the owner (load + store, no RMW), read by `stats`.
    pub(super) switches: AtomicU64,
    pub(super) steals: AtomicU64,
    pub(super) spawned: AtomicU64,
    pub(super) exited: AtomicU64,
}

// SAFETY: the owner-only fields are touched only by the M holding the P, inside a P
// section (the ownership rule in the module doc); other Ms use the stealer, the timer
// heap's lock and the atomics.
unsafe impl Sync for P {}
// SAFETY: as for `Sync`; Ps live in their runtime's `Sched` and move with it.
unsafe impl Send for P {}

impl P {
    pub(super) fn new(id: usize, runq: Worker<GRef>) -> P {
        P {
            id,
            runq: UnsafeCell::new(runq),
            runnext: AtomicPtr::new(ptr::null_mut()),
            schedtick: AtomicU32::new(0),
            owner: Owner::new(),
            gfree: UnsafeCell::new(Vec::new()),
            goid_next: Cell::new(0),
            goid_end: Cell::new(0),
            timers: Timers::new(),
            switches: AtomicU64::new(0),
            steals: AtomicU64::new(0),
            spawned: AtomicU64::new(0),
            exited: AtomicU64::new(0),
        }
    }

    /// The local queue. Owner only.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub(super) fn runq(&self) -> &Worker<GRef> {
        // SAFETY: only the owning M calls this; `Worker` methods take `&self`.
        unsafe { &*self.runq.get() }
    }

    /// Whether the P has Gs queued (a racy peek for sysmon and hand-offs).
    pub(super) fn has_work(&self, stealer: &crossbeam_deque::Stealer<GRef>) -> bool {
        // Relaxed: a hint; the caller re-checks under the scheduler's protocol.
        !self.runnext.load(Ordering::Relaxed).is_null() || !stealer.is_empty()
    }

    /// Bumps `schedtick` (owner only).
    #[inline]
    pub(super) fn tick(&self) -> u32 {
        // Relaxed load + store: owner-only; sysmon only compares snapshots.
        let t = self.schedtick.load(Ordering::Relaxed).wrapping_add(1);
        self.schedtick.store(t, Ordering::Relaxed);
        t
    }

    /// Queues `g`: in `runnext` (kicking the old one to the tail) or at the tail.
    /// Owner only.
    /// Returns whether a G went into the stealable queue (not just `runnext`).
    #[inline]
    pub(super) fn runqput(&self, g: *mut G, next: bool) -> bool {
        // Relaxed load + store: owner-only (see the field).
        let g = if next {
            let old = self.runnext.load(Ordering::Relaxed);
            self.runnext.store(g, Ordering::Relaxed);
            old
        } else {
            g
        };
        match NonNull::new(g) {
            Some(g) => {
                self.runq().push(GRef(g));
                true
            }
            None => false,
        }
    }

    /// `runnext` first, then the local queue. Owner only.
    #[inline]
    pub(super) fn runqget(&self) -> *mut G {
        // Relaxed: owner-only (see the field).
        let g = self.runnext.load(Ordering::Relaxed);
        if !g.is_null() {
            self.runnext.store(ptr::null_mut(), Ordering::Relaxed);
        }
        if !g.is_null() {
            return g;
        }
        self.runq().pop().map_or(ptr::null_mut(), |g| g.0.as_ptr())
    }

    /// Whether `runnext` and the local queue are both empty. Owner only.
    #[inline]
    pub(super) fn runq_is_empty(&self) -> bool {
        // Relaxed: owner-only (see the field).
        self.runnext.load(Ordering::Relaxed).is_null() && self.runq().is_empty()
    }

    /// Free-G cache. Owner only.
    #[allow(clippy::mut_from_ref)]
    pub(super) fn gfree(&self) -> &mut Vec<*mut G> {
        // SAFETY: only the owning M calls this, and never holds two borrows at once.
        unsafe { &mut *self.gfree.get() }
    }

    /// Owner-only counter bump: a plain load and store, no locked instruction.
    #[inline]
    pub(super) fn bump(c: &AtomicU64) {
        // Relaxed: a statistic; only the owner writes it.
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Drains every queued G, for the shutdown sweep (after all Ms have exited).
    pub(super) fn drain(&self) {
        // Relaxed: every M has been joined, which orders their writes before this.
        self.runnext.store(ptr::null_mut(), Ordering::Relaxed);
        while self.runq().pop().is_some() {}
    }
}
