//! [`Mutex`]: Go's `sync.Mutex` design, with a guard that owns the data.
//!
//! The lock is one atomic state word: `LOCKED | WOKEN | STARVING | PARKED`. Locking
//! when it is free is one CAS (`0 → LOCKED`) and unlocking with nobody waiting is one
//! CAS back (`LOCKED → 0`); about 5 ns together, the price of two locked instructions.
//! Everything else is the slow path, out of line.
//!
//! # Slow path (Go's `lockSlow`/`unlockSlow`)
//! - A locker that finds the mutex held first *spins* a few rounds, when that can pay
//!   (`proc::sched::can_spin`: multicore, another P running, nothing else to run here): the
//!   holder may be about to unlock, and a park and ready cost far more than a few
//!   hundred cycles of waiting. A spinner sets `WOKEN`, telling unlockers not to wake a
//!   queued waiter that would only lose to it.
//! - Then it queues: under the internal lock it sets `PARKED` (with a CAS that proves
//!   the mutex is still held, so the holder's unlock sees it), pushes an entry and
//!   parks. `PARKED` is set exactly while the FIFO queue is not empty, both changed
//!   only under that lock.
//! - *Normal mode.* Unlock clears `LOCKED` and, if someone is queued and nobody is
//!   awake already, wakes the first waiter (setting `WOKEN`), which then competes for the
//!   lock with newcomers. Newcomers usually win (they are running already, the waiter
//!   must first be scheduled): that is what makes a contended mutex fast, and what lets
//!   a waiter be overtaken indefinitely. A woken waiter that loses queues again at the
//!   *front*, keeping its place.
//! - *Starvation mode.* A waiter that has waited more than 1 ms in all sets `STARVING`.
//!   From then on unlock hands the lock itself to the first waiter: `LOCKED` never
//!   drops, so nobody can barge in, and newcomers queue at the back. The mutex returns
//!   to normal mode when a waiter that waited less than 1 ms, or the last one, gets the
//!   lock. Go's numbers: normal mode has far better throughput, starvation mode bounds
//!   the tail latency.
//!
//! Handing the lock over (rather than only a wake-up, as Go's semaphore does) uses
//! `proc/wait.rs`'s claim protocol: the unlocker writes `OWNER` into the waiter's result
//! slot before marking its wait done. Go keeps a waiter *count* in its word and its
//! queue in a separate semaphore table, and must tolerate the two disagreeing for a
//! moment; a single `PARKED` bit kept under the queue lock is exact, which is what lets
//! a waiter that unwinds (or is swept at shutdown) leave without corrupting the state.

use super::block::{block, Abandon, Lock};
use crate::clock::nanotime;
use crate::proc::sched::can_spin;
use crate::proc::wait::{Entry, Outcome, Wait, WaitQueue, WaitReason, Wakeup};
use crate::spinlock::procyield;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering::*};

/// Held by a goroutine or thread.
const LOCKED: u32 = 1;
/// A locker is awake and about to take the lock (a spinner or a woken waiter): unlock
/// need not wake anyone.
const WOKEN: u32 = 2;
/// Starvation mode: unlock hands the lock to the first waiter.
const STARVING: u32 = 4;
/// The wait queue is not empty. Changed only under the queue lock.
const PARKED: u32 = 8;

/// A waiter that has waited longer than this puts the mutex into starvation mode. Go's
/// `starvationThresholdNs` (1 ms): long enough that normal mode, with its far better
/// throughput, is what a mutex runs in unless a waiter is really being starved.
const STARVATION_NS: u64 = 1_000_000;

// What an unlocker writes into a queued waiter's result slot before marking its wait
// done (`RES_NONE`: nothing; a timer would claim a wait without writing).
const RES_NONE: u8 = 0;
/// Woken to compete for the lock, in normal mode; `WOKEN` is set on its behalf.
const RES_WOKEN: u8 = 1;
/// Handed the lock, in starvation mode: it holds it now.
const RES_OWNER: u8 = 2;

/// The lock without the data: state word and wait queue.
pub(super) struct RawMutex {
    state: AtomicU32,
    queue: Lock<WaitQueue>,
}

impl RawMutex {
    const fn new() -> RawMutex {
        RawMutex {
            state: AtomicU32::new(0),
            queue: Lock::new(WaitQueue::new()),
        }
    }

    #[inline]
    fn lock(&self) {
        // Acquire: pairs with the Release of the unlock that freed the lock (`unlock`,
        // `unlock_slow`, `hand_off`), so this holder sees the previous one's writes.
        // Failure Relaxed: the slow path re-reads.
        if self
            .state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        // Relaxed: a first guess for the CAS, which carries the ordering.
        let mut s = self.state.load(Relaxed);
        loop {
            // Held, or being handed to a waiter: no barging in starvation mode.
            if s & (LOCKED | STARVING) != 0 {
                return false;
            }
            // Acquire: as in `lock`.
            match self
                .state
                .compare_exchange_weak(s, s | LOCKED, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// # Safety
    /// The caller holds the lock.
    #[inline]
    unsafe fn unlock(&self) {
        // Release: pairs with the next locker's Acquire CAS. Fails when anyone waits or
        // spins (or in starvation mode): then the slow path decides whom to wake.
        if self
            .state
            .compare_exchange(LOCKED, 0, Release, Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        // When this locker first queued (0: not yet); a re-queue keeps its place.
        let mut wait_start = 0u64;
        let mut starving = false;
        // This locker set `WOKEN` (spinning) or was woken with it set: it must clear it
        // in the CAS that takes the lock or queues it.
        let mut awoke = false;
        let mut iter = 0;
        // Relaxed: every decision below is re-validated by a CAS.
        let mut s = self.state.load(Relaxed);
        loop {
            if s & (LOCKED | STARVING) == LOCKED && can_spin(iter) {
                // Tell unlockers not to wake a waiter while we are awake to take it.
                if !awoke
                    && s & (WOKEN | PARKED) == PARKED
                    // Relaxed: a hint bit; it orders no data.
                    && self
                        .state
                        .compare_exchange_weak(s, s | WOKEN, Relaxed, Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                procyield();
                iter += 1;
                // Relaxed: re-read for the next round; every decision is re-validated.
                s = self.state.load(Relaxed);
                continue;
            }
            if s & (LOCKED | STARVING) == 0 {
                let new = if awoke {
                    (s | LOCKED) & !WOKEN
                } else {
                    s | LOCKED
                };
                // Acquire: as in `lock`.
                match self.state.compare_exchange_weak(s, new, Acquire, Relaxed) {
                    Ok(_) => return,
                    Err(now) => {
                        s = now;
                        continue;
                    }
                }
            }

            // Held (or in starvation mode): queue.
            let res = Cell::new(RES_NONE);
            let wait = Wait::new(WaitReason::MutexLock);
            let e = Entry::new(&wait, res.as_ptr(), 0);
            let mut q = self.queue.lock();
            // Relaxed throughout: the queue lock orders `PARKED` with the queue; the
            // CAS only has to prove the mutex is still held, so its holder's unlock
            // (an RMW on this word, later in its modification order) sees `PARKED`.
            let mut cur = self.state.load(Relaxed);
            let queued = loop {
                if cur & (LOCKED | STARVING) == 0 {
                    break false; // freed meanwhile: try to take it
                }
                let mut new = cur | PARKED;
                if awoke {
                    new &= !WOKEN;
                }
                if starving && cur & LOCKED != 0 {
                    new |= STARVING;
                }
                // Relaxed: see above.
                match self.state.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                    Ok(_) => break true,
                    Err(now) => cur = now,
                }
            };
            if !queued {
                drop(q);
                s = cur;
                continue;
            }
            // `WOKEN`, if ours, was cleared by that CAS; `awoke` is set again below
            // only if we are woken with it.
            if wait_start == 0 {
                wait_start = nanotime();
                q.push(&e);
            } else {
                q.push_front(&e);
            }
            drop(q);
            let out = block(&wait, None, &|why| self.abandon(&e, &res, why));
            debug_assert_eq!(out, Outcome::Fired(0), "mutex waits have no deadline");
            starving = starving || nanotime().saturating_sub(wait_start) > STARVATION_NS;
            if res.get() == RES_OWNER {
                // Handed over in starvation mode (`LOCKED` never dropped). A waiter that
                // did not wait long ends starvation mode (the last one already did,
                // in `hand_off`).
                if !starving {
                    // Relaxed: we hold the lock; the bit orders nothing.
                    self.state.fetch_and(!STARVING, Relaxed);
                }
                return;
            }
            // Woken in normal mode (`WOKEN` set for us): compete again. Relaxed: as at
            // the top, a first guess for the CASes.
            awoke = true;
            iter = 0;
            s = self.state.load(Relaxed);
        }
    }

    #[cold]
    #[inline(never)]
    fn unlock_slow(&self) {
        // Relaxed: a first guess for the CAS below, which carries the ordering.
        let mut s = self.state.load(Relaxed);
        loop {
            debug_assert!(s & LOCKED != 0, "unlock of an unlocked gmp::sync::Mutex");
            if s & STARVING != 0 {
                self.hand_off();
                return;
            }
            // Release: pairs with the next locker's Acquire CAS.
            match self
                .state
                .compare_exchange_weak(s, s & !LOCKED, Release, Relaxed)
            {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // Normal mode, lock freed: wake the first waiter to compete for it, unless a
        // locker is awake already (spinning, or woken and not yet back).
        if s & (PARKED | WOKEN) == PARKED {
            self.wake_one();
        }
    }

    /// Normal mode: wakes the first waiter to compete for the lock, if the lock is still
    /// free and nobody is awake for it.
    fn wake_one(&self) {
        let mut q = self.queue.lock();
        // Relaxed: only bits are decided here; the woken waiter takes the lock with its
        // own Acquire CAS.
        let mut s = self.state.load(Relaxed);
        loop {
            if s & PARKED == 0 || s & (LOCKED | WOKEN | STARVING) != 0 {
                return; // nobody queued, or whoever holds or wakes next will see to it
            }
            match self
                .state
                .compare_exchange_weak(s, s | WOKEN, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: we hold the queue lock; a claimed entry's slot is its waiter's `res`
        // cell, live until we mark the wait done.
        let wake = unsafe {
            q.claim_first().map(|e| {
                *e.slot = RES_WOKEN;
                e.wait().done(0)
            })
        };
        let mut clear = 0;
        if q.is_empty() {
            clear |= PARKED;
        }
        if wake.is_none() {
            clear |= WOKEN; // nobody to wake after all
        }
        if clear != 0 {
            // Relaxed: as above.
            self.state.fetch_and(!clear, Relaxed);
        }
        drop(q);
        wake.unwrap_or(Wakeup::None).wake_tail();
    }

    /// Starvation mode: hands the held lock to the first waiter.
    fn hand_off(&self) {
        let mut q = self.queue.lock();
        // SAFETY: as in `wake_one`.
        let wake = unsafe {
            q.claim_first().map(|e| {
                *e.slot = RES_OWNER;
                e.wait().done(0)
            })
        };
        match wake {
            Some(_) if !q.is_empty() => {}
            // The last waiter gets it: back to normal mode. Relaxed: the new owner is
            // ordered after us by `done`'s Release, not by this word.
            Some(_) => {
                self.state.fetch_and(!(PARKED | STARVING), Relaxed);
            }
            // Every waiter left (unwound): leave starvation mode and unlock. Release:
            // pairs with the next locker's Acquire CAS.
            None => {
                self.state.fetch_and(!(LOCKED | STARVING | PARKED), Release);
            }
        }
        drop(q);
        let Some(wake) = wake else { return };
        // The new owner runs next, on this P (Go's `semrelease` with `handoff`): the
        // lock is its now, so everyone else, this goroutine included, waits for it.
        // Not while unwinding (a guard dropped by a panic): a goroutine that switches
        // mid-unwind may resume on another thread, and std counts panics per thread.
        let yield_to_it =
            wake.is_g() && !crate::proc::m::current().is_null() && !std::thread::panicking();
        wake.wake();
        if yield_to_it {
            crate::proc::park::yield_now();
        }
    }

    /// A queued locker gives up its entry `e` (see [`Abandon`]).
    fn abandon(&self, e: &Entry, res: &Cell<u8>, why: Abandon) {
        let mut q = self.queue.lock();
        if q.remove(e) {
            if q.is_empty() {
                // Relaxed: bits only, changed under the queue lock. A `STARVING` left
                // with nobody queued is cleared by the holder's `hand_off`.
                self.state.fetch_and(!PARKED, Relaxed);
            }
            return;
        }
        drop(q);
        if why != Abandon::Unwind {
            return;
        }
        // A peer popped the entry just as we unwound: pass on what it gave us.
        match res.get() {
            // SAFETY: the lock was handed to us.
            RES_OWNER => unsafe { self.unlock() },
            RES_WOKEN => {
                // Relaxed: a hint bit.
                self.state.fetch_and(!WOKEN, Relaxed);
                self.wake_one();
            }
            _ => {}
        }
    }
}

/// A mutual exclusion lock that parks goroutines while they wait, protecting a `T`.
///
/// `lock` returns a [`MutexGuard`] that gives access to the data and unlocks when
/// dropped. A goroutine that finds the mutex locked may spin briefly, then parks (its
/// thread runs other goroutines); a plain thread blocks. Waiters queue in FIFO order,
/// and a waiter that has waited more than 1 ms switches the mutex into starvation mode,
/// where the lock is handed from one waiter to the next and newcomers cannot barge in
/// (Go's `sync.Mutex` policy). A goroutine that hands the lock over this way yields to
/// the new owner.
///
/// Unlike `std::sync::Mutex` there is no poisoning: if a holder panics, the guard still
/// unlocks and the next locker sees the data as it was left. A guard may be dropped by
/// another goroutine or thread than the one that locked.
///
/// Uncontended, `lock` and the guard's drop are one atomic compare-and-swap each.
///
/// ```
/// # use gmp_core as gmp;
/// use gmp::sync::Mutex;
/// use std::sync::Arc;
///
/// gmp::run(|| {
///     let counter = Arc::new(Mutex::new(0));
///     let hs: Vec<_> = (0..10)
///         .map(|_| {
///             let counter = counter.clone();
///             gmp::spawn(move || {
///                 for _ in 0..100 {
///                     *counter.lock() += 1;
///                 }
///             })
///         })
///         .collect();
///     for h in hs {
///         h.join().unwrap();
///     }
///     assert_eq!(*counter.lock(), 1000);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex owns its `T`; moving it moves a `T`, which `T: Send` allows.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: the mutex hands out `&mut T` to one holder at a time, so sharing it moves `T`
// between threads only as `T: Send` allows.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`. `const`, so it can initialise a `static`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the calling goroutine (or blocking the calling thread)
    /// until it is available. Locking a mutex the caller already holds deadlocks.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard {
            mutex: self,
            _data: PhantomData,
        }
    }

    /// Locks the mutex if it is free now. Fails (`None`) if it is held, and also in
    /// starvation mode, where it belongs to the first waiter as soon as it is released.
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().then(|| MutexGuard {
            mutex: self,
            _data: PhantomData,
        })
    }

    /// The data, through a unique borrow of the mutex (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether the mutex is held now (a snapshot, for diagnostics).
    pub fn is_locked(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.raw.state.load(Relaxed) & LOCKED != 0
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(v: T) -> Self {
        Mutex::new(v)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Access to the data of a locked [`Mutex`]; unlocks when dropped.
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let m = gmp::sync::Mutex::new(vec![1]);
///     {
///         let mut g = m.lock();
///         g.push(2); // DerefMut
///     } // unlocked here
///     assert_eq!(m.lock().len(), 2);
/// });
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Send and Sync as `&mut T` is.
    _data: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for `Condvar`).
    pub(super) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock, and gives it up exactly once, here.
        unsafe { self.mutex.raw.unlock() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
