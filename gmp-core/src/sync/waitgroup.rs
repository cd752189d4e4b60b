//! [`WaitGroup`]: Go's `sync.WaitGroup`.
//!
//! An atomic counter, so `add` and `done` cost one atomic add while nobody waits, and a
//! queue of waiters under the internal lock. A waiter re-checks the counter under that
//! lock before queueing; whoever brings the counter to zero takes the lock afterwards
//! and wakes every queued waiter. One of the two sees the other, so no wake-up is lost.
//!
//! It is used through `&self` (share it with an `Arc`, or borrow it), as in Go, rather
//! than as a cloneable handle whose drop counts as `done`: the counter can then be
//! raised for work not yet started, and one group can be waited on many times.

use super::block::{block, wake_all, Abandon, Lock};
use crate::proc::wait::{Entry, Wait, WaitQueue, WaitReason};
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicIsize, Ordering::*};

/// Waits for a collection of goroutines (or threads) to finish.
///
/// [`add`](WaitGroup::add) raises the counter by the number of tasks, each task calls
/// [`done`](WaitGroup::done) when it finishes, and [`wait`](WaitGroup::wait) parks
/// (blocks, on a thread) until the counter is zero. Call `add` before starting the task
/// it counts, not inside it, or `wait` may see zero too early.
///
/// ```
/// # use gmp_core as gmp;
/// use gmp::sync::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// gmp::run(|| {
///     let wg = Arc::new(WaitGroup::new());
///     let hits = Arc::new(AtomicUsize::new(0));
///     for _ in 0..8 {
///         wg.add(1);
///         let (wg, hits) = (wg.clone(), hits.clone());
///         gmp::spawn(move || {
///             hits.fetch_add(1, Ordering::Relaxed);
///             wg.done();
///         });
///     }
///     wg.wait();
///     assert_eq!(hits.load(Ordering::Relaxed), 8);
/// });
/// ```
pub struct WaitGroup {
    count: AtomicIsize,
    q: Lock<WaitQueue>,
}

// SAFETY: the raw entry pointers in the queue are only used under its lock, by
// whichever thread holds it.
unsafe impl Send for WaitGroup {}
// SAFETY: as for `Send`: shared use goes through the lock.
unsafe impl Sync for WaitGroup {}

impl WaitGroup {
    /// A group with a counter of zero. `const`, so it can initialise a `static`.
    pub const fn new() -> WaitGroup {
        WaitGroup {
            count: AtomicIsize::new(0),
            q: Lock::new(WaitQueue::new()),
        }
    }

    /// Adds `delta` (which may be negative) to the counter. When it reaches zero, every
    /// goroutine or thread in [`wait`](WaitGroup::wait) is released.
    ///
    /// # Panics
    /// If the counter would become negative (or overflow); the counter is then left as
    /// it was.
    pub fn add(&self, delta: isize) {
        // AcqRel: Release publishes this task's writes; Acquire takes those of the tasks
        // that counted down before, so that the one reaching zero passes all of them to
        // the waiters it wakes (`done`'s Release). Pairs with the Acquire loads in `wait`.
        let old = self.count.fetch_add(delta, AcqRel);
        let new = match old.checked_add(delta) {
            Some(n) if n >= 0 => n,
            r => {
                // Relaxed: undoing our own add; nothing to publish.
                self.count.fetch_sub(delta, Relaxed);
                match r {
                    Some(_) => panic!(
                        "gmp::sync::WaitGroup: negative counter ({old} + {delta}): \
                         done() called more times than add()"
                    ),
                    None => panic!("gmp::sync::WaitGroup: counter overflow"),
                }
            }
        };
        if new == 0 && delta != 0 {
            let mut q = self.q.lock();
            let mut wakes = Vec::new();
            // SAFETY: we hold the queue lock, so claimed entries' waiters still wait.
            while let Some(e) = unsafe { q.claim_first() } {
                // SAFETY: as above.
                wakes.push(unsafe { e.wait().done(0) });
            }
            drop(q);
            wake_all(wakes);
        }
    }

    /// Subtracts one from the counter: `add(-1)`.
    ///
    /// # Panics
    /// If the counter is zero.
    pub fn done(&self) {
        self.add(-1);
    }

    /// Parks (blocks, on a thread) until the counter is zero. Returns at once if it is.
    pub fn wait(&self) {
        // Acquire: pairs with the AcqRel add that brought the counter to zero.
        if self.count.load(Acquire) == 0 {
            return;
        }
        let wait = Wait::new(WaitReason::WaitGroupWait);
        let e = Entry::new(&wait, ptr::null_mut(), 0);
        let mut q = self.q.lock();
        // Re-checked under the lock: an `add` reaching zero after this takes the lock
        // after us and finds our entry. Acquire: as above.
        if self.count.load(Acquire) == 0 {
            return;
        }
        q.push(&e);
        drop(q);
        block(&wait, None, &|_: Abandon| {
            // Released or not, nothing was handed to us: just unlink.
            self.q.lock().remove(&e);
        });
    }

    /// The counter now (a snapshot).
    pub fn count(&self) -> isize {
        // Relaxed: a snapshot that orders nothing.
        self.count.load(Relaxed)
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}
