//! `SpinLock`: the short internal lock of a channel (Go's runtime `lock`, minus the
//! futex sleep: critical sections here are a few dozen instructions and never block).
//!
//! std's `Mutex` measured 110-130 ns per message on the buffered 4x4 channel benchmark
//! with 2 Ps (its waiters re-read the lock word on every `pause`, keeping its cache line
//! shared while the owner wants it exclusive); waiting with bursts of 30 `pause`s
//! between looks, as Go's `lock` does, is what this lock adds. A waiter that spun long
//! (the owner's thread was preempted) yields its thread instead of burning the CPU.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering::*};

pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock owns `value`; moving the lock moves a `T`, which `T: Send` allows.
unsafe impl<T: Send> Send for SpinLock<T> {}
// SAFETY: the lock gives one thread at a time access to `value`, so sharing the lock
// only moves access to `T` between threads, which `T: Send` allows.
unsafe impl<T: Send> Sync for SpinLock<T> {}

pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

/// Spins (a `procyield` each) before yielding the thread.
const ACTIVE_SPINS: u32 = 4;

/// Go's `procyield(30)`: 30 `pause` instructions, the wait between two looks at a
/// word another thread is about to change (this lock, `gmp::sync::Mutex`'s spin, an
/// idle M's note). 30 take ~400 ns on this machine's Xeon (a C loop of a million); a few
/// hundred ns to a few µs elsewhere, with the CPU's `pause` latency.
#[inline]
pub(crate) fn procyield() {
    for _ in 0..30 {
        std::hint::spin_loop();
    }
}

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        // Acquire pairs with the Release store in `SpinGuard::drop`.
        if self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    fn lock_slow(&self) {
        let mut spins = 0u32;
        loop {
            // Relaxed: a look only; the CAS below carries the ordering.
            if !self.locked.load(Relaxed)
                && self
                    .locked
                    .compare_exchange_weak(false, true, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
            if spins < ACTIVE_SPINS {
                procyield();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        // Release publishes the critical section to the next `lock`'s Acquire.
        self.lock.locked.store(false, Release);
    }
}
