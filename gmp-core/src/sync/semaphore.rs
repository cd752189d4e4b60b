//! [`Semaphore`]: a counting semaphore with FIFO hand-off.
//!
//! The permit count and a FIFO queue of waiters sit under the internal lock. A released
//! permit goes straight to the first queued waiter (claimed under the lock, the entry's
//! `flag` set to say "a permit is yours") and only adds to the count when nobody waits.
//! So the count is non-zero only while the queue holds no live waiter, and a newcomer
//! can never take a permit ahead of a waiter: acquisition is strictly first come, first
//! served. (Waking the waiter to retry instead would let running goroutines barge in
//! forever.)

use super::block::{block, wake_all, Abandon, Lock};
use crate::proc::wait::{Entry, Outcome, Wait, WaitQueue, WaitReason};
use std::fmt;
use std::ptr;
use std::time::{Duration, Instant};

/// A counting semaphore: at most `permits` holders at once, served in arrival order.
///
/// [`acquire`](Semaphore::acquire) parks the goroutine (blocks a thread) until a permit
/// is free and returns a [`SemaphorePermit`] that gives it back when dropped.
///
/// ```
/// # use gmp_core as gmp;
/// use gmp::sync::Semaphore;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// gmp::run(|| {
///     let sem = Arc::new(Semaphore::new(2)); // two at a time
///     let inside = Arc::new(AtomicUsize::new(0));
///     let hs: Vec<_> = (0..6)
///         .map(|_| {
///             let (sem, inside) = (sem.clone(), inside.clone());
///             gmp::spawn(move || {
///                 let _permit = sem.acquire();
///                 assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///                 gmp::sleep(Duration::from_millis(1));
///                 inside.fetch_sub(1, Ordering::SeqCst);
///             })
///         })
///         .collect();
///     for h in hs {
///         h.join().unwrap();
///     }
///     assert_eq!(sem.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    inner: Lock<Inner>,
}

struct Inner {
    permits: usize,
    /// Waiters; a claimer sets the entry's `flag` when it hands over a permit.
    q: WaitQueue,
}

// SAFETY: the raw entry pointers in the queue are only used under its lock, by
// whichever thread holds it.
unsafe impl Send for Semaphore {}
// SAFETY: as for `Send`: shared use goes through the lock.
unsafe impl Sync for Semaphore {}

/// One permit of a [`Semaphore`], released when dropped (or kept for good with
/// [`forget`](SemaphorePermit::forget)).
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let sem = gmp::sync::Semaphore::new(1);
///     let permit = sem.acquire();
///     assert!(sem.try_acquire().is_none());
///     drop(permit);
///     assert!(sem.try_acquire().is_some());
/// });
/// ```
#[must_use = "the permit is released at once if unused"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` permits free. `const`, so it can initialise a `static`.
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            inner: Lock::new(Inner {
                permits,
                q: WaitQueue::new(),
            }),
        }
    }

    /// Takes a permit, parking (blocking, on a thread) until one is free. Waiters get
    /// permits in the order they started waiting.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_until(None)
            .expect("an acquire without deadline succeeds")
    }

    /// Takes a permit if one is free now (none is while others wait for one).
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut g = self.inner.lock();
        if g.permits == 0 {
            return None;
        }
        g.permits -= 1;
        Some(SemaphorePermit { sem: self })
    }

    /// Takes a permit, waiting at most `timeout`; `None` if none came in time.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        match Instant::now().checked_add(timeout) {
            Some(d) => self.acquire_until(Some(d)),
            None => Some(self.acquire()),
        }
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        let mut g = self.inner.lock();
        if g.permits > 0 {
            g.permits -= 1;
            return Some(SemaphorePermit { sem: self });
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return None;
        }
        let wait = Wait::new(WaitReason::Semacquire);
        let e = Entry::new(&wait, ptr::null_mut(), 0);
        g.q.push(&e);
        drop(g);
        match block(&wait, deadline, &|why| self.abandon(&e, why)) {
            // Claimed by `add_permits`: the permit is ours.
            Outcome::Fired(_) => Some(SemaphorePermit { sem: self }),
            Outcome::TimedOut => None,
        }
    }

    /// A waiter gives up its entry (see [`Abandon`]).
    fn abandon(&self, e: &Entry, why: Abandon) {
        let removed = self.inner.lock().q.remove(e);
        // Handed a permit just as we unwound: give it back.
        if !removed && why == Abandon::Unwind && e.flag.get() {
            self.add_permits(1);
        }
    }

    /// Returns one permit: `add_permits(1)`. For permits taken out of the count with
    /// [`SemaphorePermit::forget`]; dropping a permit already does this.
    pub fn release(&self) {
        self.add_permits(1);
    }

    /// Adds `n` permits: each goes to the first waiter, if any, else to the count.
    ///
    /// # Panics
    /// If the count would overflow `usize`.
    pub fn add_permits(&self, n: usize) {
        let mut g = self.inner.lock();
        let mut wakes = Vec::new();
        let mut left = n;
        while left > 0 {
            // SAFETY: we hold the lock, so a claimed entry's waiter still waits.
            let Some(e) = (unsafe { g.q.claim_first() }) else {
                break;
            };
            e.flag.set(true);
            // SAFETY: as above.
            wakes.push(unsafe { e.wait().done(0) });
            left -= 1;
        }
        g.permits = g
            .permits
            .checked_add(left)
            .expect("gmp::sync::Semaphore: permit count overflow");
        drop(g);
        wake_all(wakes);
    }

    /// Permits free now (a snapshot).
    pub fn available_permits(&self) -> usize {
        self.inner.lock().permits
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken for good: the semaphore has one permit fewer, until
    /// [`Semaphore::release`] or [`Semaphore::add_permits`] puts one back.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(1);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}
