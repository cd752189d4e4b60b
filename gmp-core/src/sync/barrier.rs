//! [`Barrier`]: `n` parties wait until all have arrived, then all go on.
//!
//! A count and a queue under the internal lock. The `n`-th arrival (the leader) resets
//! the count and releases every queued waiter under the same lock, so the barrier is at
//! once ready for the next generation: a fast goroutine that loops round and waits again
//! counts towards the new generation, never the old one. (Waiters need no generation
//! number: each generation's entries are all popped by its leader.)

use super::block::{block, wake_all, Lock};
use crate::proc::wait::{Entry, Wait, WaitQueue, WaitReason};
use std::fmt;
use std::ptr;

/// Lets `n` goroutines (or threads) wait until all `n` have reached the same point.
/// Reusable: after releasing one generation it counts the next.
///
/// ```
/// # use gmp_core as gmp;
/// use gmp::sync::Barrier;
/// use std::sync::Arc;
///
/// gmp::run(|| {
///     let barrier = Arc::new(Barrier::new(4));
///     let hs: Vec<_> = (0..4)
///         .map(|_| {
///             let barrier = barrier.clone();
///             gmp::spawn(move || barrier.wait().is_leader())
///         })
///         .collect();
///     let leaders = hs.into_iter().map(|h| h.join().unwrap());
///     assert_eq!(leaders.filter(|&leader| leader).count(), 1); // exactly one
/// });
/// ```
pub struct Barrier {
    n: usize,
    inner: Lock<Inner>,
}

struct Inner {
    /// Arrivals in the current generation.
    count: usize,
    q: WaitQueue,
}

// SAFETY: the raw entry pointers in the queue are only used under its lock, by
// whichever thread holds it.
unsafe impl Send for Barrier {}
// SAFETY: as for `Send`: shared use goes through the lock.
unsafe impl Sync for Barrier {}

/// What [`Barrier::wait`] returns: whether this party was the generation's leader.
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let b = gmp::sync::Barrier::new(1);
///     assert!(b.wait().is_leader()); // alone: always the leader
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one party per generation: the last to arrive.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (`0` behaves like `1`). `const`, so it can initialise
    /// a `static`.
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            n,
            inner: Lock::new(Inner {
                count: 0,
                q: WaitQueue::new(),
            }),
        }
    }

    /// Parks (blocks, on a thread) until `n` parties have called `wait` in this
    /// generation. The last to arrive does not wait and is the leader.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut g = self.inner.lock();
        g.count += 1;
        if g.count >= self.n {
            g.count = 0;
            let mut wakes = Vec::new();
            // SAFETY: we hold the lock, so a claimed entry's waiter still waits.
            while let Some(e) = unsafe { g.q.claim_first() } {
                // SAFETY: as above.
                wakes.push(unsafe { e.wait().done(0) });
            }
            drop(g);
            wake_all(wakes);
            return BarrierWaitResult(true);
        }
        let wait = Wait::new(WaitReason::BarrierWait);
        let e = Entry::new(&wait, ptr::null_mut(), 0);
        g.q.push(&e);
        drop(g);
        block(&wait, None, &|_| {
            // Leaving before the generation completed: no longer count as arrived.
            let mut g = self.inner.lock();
            if g.q.remove(&e) {
                g.count -= 1;
            }
        });
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}
