//! [`Condvar`]: waiting for a condition under a [`Mutex`](super::Mutex).
//!
//! A FIFO queue of waiters under the internal lock. `wait` queues its entry *before*
//! unlocking the mutex, so a notify that follows any change the waiter could have missed
//! (made under the mutex) finds the entry: no wake-up is lost between the unlock and the
//! park. `notify_one` claims the first waiter whose wait is still claimable, so a waiter
//! that is timing out at that moment never swallows a notification meant for another.
//! Woken waiters then take the mutex like any locker (no requeueing onto the mutex's
//! queue, as `parking_lot` does: simpler, and the mutex's spinning absorbs most of the
//! thundering herd of `notify_all`).

use super::block::{block, wake_all, Abandon, Lock};
use super::mutex::MutexGuard;
use crate::proc::wait::{Entry, Outcome, Wait, WaitQueue, WaitReason, Wakeup};
use std::fmt;
use std::ptr;
use std::time::{Duration, Instant};

/// A condition variable: goroutines (or threads) wait on it, holding a
/// [`MutexGuard`], until another notifies them that the condition they wait for may
/// have changed.
///
/// Waiting parks the goroutine (a thread blocks). As with every condition variable,
/// check the condition in a loop ([`wait_while`](Condvar::wait_while) does it): a
/// notification says the condition *may* hold. Waiters are woken in the order they
/// started waiting.
///
/// ```
/// # use gmp_core as gmp;
/// use gmp::sync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// gmp::run(|| {
///     let pair = Arc::new((Mutex::new(false), Condvar::new()));
///     let pair2 = pair.clone();
///     gmp::spawn(move || {
///         let (ready, cv) = &*pair2;
///         *ready.lock() = true;
///         cv.notify_one();
///     });
///     let (ready, cv) = &*pair;
///     let guard = cv.wait_while(ready.lock(), |ready| !*ready);
///     assert!(*guard);
/// });
/// ```
pub struct Condvar {
    q: Lock<WaitQueue>,
}

/// Whether a timed wait on a [`Condvar`] ended because its time ran out.
///
/// ```
/// # use gmp_core as gmp;
/// use gmp::sync::{Condvar, Mutex};
/// use std::time::Duration;
///
/// gmp::run(|| {
///     let (m, cv) = (Mutex::new(()), Condvar::new());
///     let (_guard, res) = cv.wait_timeout(m.lock(), Duration::from_millis(1));
///     assert!(res.timed_out()); // nobody notified
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait ended because the timeout elapsed (for `wait_timeout_while`:
    /// and the condition still held).
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

// SAFETY: the raw entry pointers in the queue are only used under its lock, by
// whichever thread holds it.
unsafe impl Send for Condvar {}
// SAFETY: as for `Send`: shared use goes through the lock.
unsafe impl Sync for Condvar {}

impl Condvar {
    /// A condition variable nobody waits on. `const`, so it can initialise a `static`.
    pub const fn new() -> Condvar {
        Condvar {
            q: Lock::new(WaitQueue::new()),
        }
    }

    /// Unlocks the guard's mutex, waits for a notification, and locks the mutex again.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_until(guard, None).0
    }

    /// Waits (as [`wait`](Condvar::wait)) as long as `condition` returns `true`, checking
    /// it under the lock first and after every wake-up. Returns once it is `false`.
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> MutexGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`wait`](Condvar::wait), giving up after `timeout`. The mutex is locked again
    /// either way.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let (g, timed_out) = self.wait_until(guard, Instant::now().checked_add(timeout));
        (g, WaitTimeoutResult(timed_out))
    }

    /// Like [`wait_while`](Condvar::wait_while), giving up after `timeout` in all. The
    /// result says whether it timed out with `condition` still `true`.
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult)
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(timeout);
        while condition(&mut *guard) {
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return (guard, WaitTimeoutResult(true));
            }
            guard = self.wait_until(guard, deadline).0;
        }
        (guard, WaitTimeoutResult(false))
    }

    /// Wakes the longest-waiting waiter, if any.
    pub fn notify_one(&self) {
        let mut q = self.q.lock();
        // SAFETY: we hold the queue lock, so a claimed entry's waiter is still waiting.
        let wake = unsafe { q.claim_first().map(|e| e.wait().done(0)) };
        drop(q);
        wake.unwrap_or(Wakeup::None).wake_tail();
    }

    /// Wakes every waiter waiting now.
    pub fn notify_all(&self) {
        let mut q = self.q.lock();
        let mut wakes = Vec::new();
        // SAFETY: as in `notify_one`.
        while let Some(e) = unsafe { q.claim_first() } {
            // SAFETY: as above.
            wakes.push(unsafe { e.wait().done(0) });
        }
        drop(q);
        wake_all(wakes);
    }

    /// Waits until notified or `deadline`; returns the guard and whether it timed out.
    fn wait_until<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        let mutex = guard.mutex();
        let wait = Wait::new(WaitReason::CondWait);
        let e = Entry::new(&wait, ptr::null_mut(), 0);
        // Queued before the unlock: see the module doc.
        self.q.lock().push(&e);
        drop(guard);
        let out = block(&wait, deadline, &|why| self.abandon(&e, why));
        (mutex.lock(), out == Outcome::TimedOut)
    }

    /// A waiter gives up its entry (see [`Abandon`]).
    fn abandon(&self, e: &Entry, why: Abandon) {
        let removed = self.q.lock().remove(e);
        if !removed && why == Abandon::Unwind {
            // Notified just as we unwound: pass the notification on.
            self.notify_one();
        }
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
