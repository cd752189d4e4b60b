//! [`RwLock`]: many readers or one writer; writers are preferred, so they cannot
//! starve.
//!
//! One atomic state word, `readers << 2 | PARKED | WRITER`, and two FIFO queues
//! (readers, writers) under the internal lock. While nobody is queued, `read` is one
//! CAS adding a reader and `write` one CAS `0 → WRITER`; their unlocks are one atomic
//! each. `PARKED` is set exactly while a queue is not empty (both changed under the
//! internal lock), and it sends every newcomer, readers included, down the slow path:
//! a reader arriving while a writer waits queues behind it, so a stream of readers
//! cannot keep a writer out (writer preference).
//!
//! Who goes next is decided in one place, `dispatch`, under the internal lock, and the
//! lock is handed over rather than competed for (the claimer writes the state for the
//! waiter before marking its wait done):
//! - the last reader out hands the lock to the first queued writer;
//! - a writer's unlock admits *all* readers queued at that moment (they waited for this
//!   writer), else hands it to the next writer.
//!
//! So readers and writers alternate under contention, as with Go's `RWMutex`: neither a
//! writer (new readers queue behind it) nor the readers (a writer's unlock lets in all
//! of them before the next writer) can be starved. Go builds `RWMutex` from a `Mutex`
//! and two semaphores with counters that are briefly inconsistent; one word plus queues
//! under one lock lets a waiter that unwinds leave cleanly.

use super::block::{block, wake_all, Abandon, Lock};
use crate::proc::wait::{Entry, Wait, WaitQueue, WaitReason, Wakeup};
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::*};

/// A writer holds the lock.
const WRITER: usize = 1;
/// A reader or writer is queued. Changed only under the queue lock.
const PARKED: usize = 2;
/// One reader holding the lock (the reader count is the rest of the word).
const READER: usize = 4;
/// Reader counts at or above this panic instead of overflowing into the flag bits.
const MAX_STATE: usize = usize::MAX - 2 * READER;

struct Queues {
    readers: WaitQueue,
    writers: WaitQueue,
}

impl Queues {
    fn is_empty(&self) -> bool {
        self.readers.is_empty() && self.writers.is_empty()
    }
}

struct RawRwLock {
    state: AtomicUsize,
    queues: Lock<Queues>,
}

fn too_many_readers() -> ! {
    panic!("gmp::sync::RwLock: too many readers")
}

impl RawRwLock {
    const fn new() -> RawRwLock {
        RawRwLock {
            state: AtomicUsize::new(0),
            queues: Lock::new(Queues {
                readers: WaitQueue::new(),
                writers: WaitQueue::new(),
            }),
        }
    }

    /// One attempt round at adding a reader while no writer holds or waits.
    #[inline]
    fn try_read(&self) -> bool {
        // Relaxed: a first guess for the CAS.
        let mut s = self.state.load(Relaxed);
        loop {
            if s & (WRITER | PARKED) != 0 {
                return false;
            }
            if s >= MAX_STATE {
                too_many_readers();
            }
            // Acquire: pairs with the Release of the last writer's unlock.
            match self
                .state
                .compare_exchange_weak(s, s + READER, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    #[inline]
    fn read(&self) {
        if !self.try_read() {
            self.read_slow();
        }
    }

    #[inline]
    fn try_write(&self) -> bool {
        // Acquire: pairs with the Release of the previous holders' unlocks.
        self.state
            .compare_exchange(0, WRITER, Acquire, Relaxed)
            .is_ok()
    }

    #[inline]
    fn write(&self) {
        if !self.try_write() {
            self.write_slow();
        }
    }

    /// # Safety
    /// The caller holds a read share.
    #[inline]
    unsafe fn read_unlock(&self) {
        // Release: pairs with the Acquire of the writer that locks next (its CAS, or the
        // Acquire load in `dispatch` of whoever hands it the lock).
        let s = self.state.fetch_sub(READER, Release);
        if s == READER | PARKED {
            // The last reader out, with waiters queued (a writer).
            self.dispatch_now();
        }
    }

    /// # Safety
    /// The caller holds the write lock.
    #[inline]
    unsafe fn write_unlock(&self) {
        // Release: pairs with the next holder's Acquire CAS.
        if self
            .state
            .compare_exchange(WRITER, 0, Release, Relaxed)
            .is_err()
        {
            self.write_unlock_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn read_slow(&self) {
        let wait = Wait::new(WaitReason::RwMutexRLock);
        let e = Entry::new(&wait, ptr::null_mut(), 0);
        let mut q = self.queues.lock();
        // Relaxed: the CASes below re-validate; the queue lock orders the queues.
        let mut s = self.state.load(Relaxed);
        loop {
            if s & WRITER == 0 && q.is_empty() {
                // Nobody holds it for writing, nobody waits (so `PARKED` is clear):
                // join the readers.
                if s >= MAX_STATE {
                    too_many_readers();
                }
                // Acquire: as in `try_read`.
                match self
                    .state
                    .compare_exchange_weak(s, s + READER, Acquire, Relaxed)
                {
                    Ok(_) => return,
                    Err(now) => s = now,
                }
                continue;
            }
            // Relaxed: a bit changed under the queue lock; the holder's unlock RMW
            // comes later in this word's order and sees it.
            match self
                .state
                .compare_exchange_weak(s, s | PARKED, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        q.readers.push(&e);
        let mut wakes = Vec::new();
        self.dispatch(&mut q, &mut wakes);
        drop(q);
        wake_all(wakes);
        block(&wait, None, &|why| self.abandon(&e, false, why));
        // Claimed by `dispatch`: a read share was added for us.
    }

    #[cold]
    #[inline(never)]
    fn write_slow(&self) {
        let wait = Wait::new(WaitReason::RwMutexLock);
        let e = Entry::new(&wait, ptr::null_mut(), 0);
        let mut q = self.queues.lock();
        // Relaxed: as in `read_slow`.
        let mut s = self.state.load(Relaxed);
        loop {
            if s == 0 {
                // Acquire: as in `try_write`.
                match self
                    .state
                    .compare_exchange_weak(0, WRITER, Acquire, Relaxed)
                {
                    Ok(_) => return,
                    Err(now) => s = now,
                }
                continue;
            }
            // Relaxed: as in `read_slow`.
            match self
                .state
                .compare_exchange_weak(s, s | PARKED, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        q.writers.push(&e);
        let mut wakes = Vec::new();
        self.dispatch(&mut q, &mut wakes);
        drop(q);
        wake_all(wakes);
        block(&wait, None, &|why| self.abandon(&e, true, why));
        // Claimed by `dispatch` or `write_unlock_slow`: `WRITER` was set for us.
    }

    #[cold]
    #[inline(never)]
    fn write_unlock_slow(&self) {
        let mut q = self.queues.lock();
        let mut wakes = Vec::new();
        // The readers that queued while we held the lock go first, all together.
        let n = Self::claim_all(&mut q.readers, &mut wakes);
        let new = if n > 0 {
            n.checked_mul(READER)
                .filter(|&r| r < MAX_STATE)
                .unwrap_or_else(|| too_many_readers())
                | if q.writers.is_empty() { 0 } else { PARKED }
        } else if let Some(w) = Self::claim_one(&mut q.writers) {
            wakes.push(w);
            WRITER | if q.is_empty() { 0 } else { PARKED }
        } else {
            0
        };
        // Nothing else changes the word now: we hold `WRITER` (no reader or writer gets
        // in) and the queue lock (`PARKED`). Release: pairs with the Acquire of
        // whoever takes the lock next by CAS; those we hand it to are ordered after us
        // by `done`'s Release.
        self.state.store(new, Release);
        drop(q);
        wake_all(wakes);
    }

    /// Takes the queue lock and runs `dispatch`.
    #[cold]
    #[inline(never)]
    fn dispatch_now(&self) {
        let mut q = self.queues.lock();
        let mut wakes = Vec::new();
        self.dispatch(&mut q, &mut wakes);
        drop(q);
        wake_all(wakes);
    }

    /// Under the queue lock: hands the lock to whoever may have it now. A held write
    /// lock is left to its holder's unlock; held read shares, when a writer is queued,
    /// to the last reader's unlock.
    fn dispatch(&self, q: &mut Queues, wakes: &mut Vec<Wakeup>) {
        // Acquire: pairs with the Release decrements of the readers that left, so a
        // writer we hand the lock to (through `done`) comes after their reads.
        let s = self.state.load(Acquire);
        if s & WRITER != 0 {
            return;
        }
        if s < READER {
            if let Some(w) = Self::claim_one(&mut q.writers) {
                wakes.push(w);
                let new = WRITER | if q.is_empty() { 0 } else { PARKED };
                // Free and `PARKED`: no fast path or unlock touches the word now.
                // Relaxed: the writer is ordered after us by `done`'s Release.
                let swapped = self.state.compare_exchange(s, new, Relaxed, Relaxed);
                debug_assert!(swapped.is_ok(), "RwLock state changed under dispatch");
                return;
            }
        } else if !q.writers.is_empty() {
            return;
        }
        // No writer holds or waits: every queued reader may join the holders.
        let n = Self::claim_all(&mut q.readers, wakes);
        if n > 0 {
            let add = n
                .checked_mul(READER)
                .filter(|&r| r < MAX_STATE - s)
                .unwrap_or_else(|| too_many_readers());
            // Relaxed: the readers are ordered after us by `done`'s Release.
            self.state.fetch_add(add, Relaxed);
        }
        if q.is_empty() {
            // Relaxed: a bit changed under the queue lock.
            self.state.fetch_and(!PARKED, Relaxed);
        }
    }

    /// Claims the first live entry of `q`, flags it as handed the lock, and marks it
    /// done. The caller holds the queue lock.
    fn claim_one(q: &mut WaitQueue) -> Option<Wakeup> {
        // SAFETY: the caller holds the queue lock, so a claimed entry's waiter still
        // waits.
        unsafe {
            q.claim_first().map(|e| {
                e.flag.set(true);
                e.wait().done(0)
            })
        }
    }

    /// `claim_one` for every entry; returns how many.
    fn claim_all(q: &mut WaitQueue, wakes: &mut Vec<Wakeup>) -> usize {
        let mut n = 0;
        while let Some(w) = Self::claim_one(q) {
            wakes.push(w);
            n += 1;
        }
        n
    }

    /// A queued reader or writer gives up its entry `e` (see [`Abandon`]).
    fn abandon(&self, e: &Entry, writer: bool, why: Abandon) {
        let mut q = self.queues.lock();
        let queue = if writer {
            &mut q.writers
        } else {
            &mut q.readers
        };
        if queue.remove(e) {
            let mut wakes = Vec::new();
            if why == Abandon::Sweep {
                if q.is_empty() {
                    // Relaxed: a bit changed under the queue lock.
                    self.state.fetch_and(!PARKED, Relaxed);
                }
            } else {
                // A writer leaving the queue may let the readers behind it in.
                self.dispatch(&mut q, &mut wakes);
            }
            drop(q);
            wake_all(wakes);
            return;
        }
        drop(q);
        if why == Abandon::Unwind && e.flag.get() {
            // Handed the lock just as we unwound: release it.
            // SAFETY: `dispatch` gave this entry the share or the write lock.
            unsafe {
                if writer {
                    self.write_unlock();
                } else {
                    self.read_unlock();
                }
            }
        }
    }
}

/// A reader-writer lock that parks goroutines while they wait: many readers at once,
/// or one writer.
///
/// Writers are preferred: once a writer waits, new readers queue behind it, so readers
/// cannot starve it; when it unlocks, every reader that queued meanwhile gets in before
/// the next writer, so writers cannot starve readers either. Waiting parks a goroutine
/// (a thread blocks). No poisoning (see [the module doc](crate::sync)).
///
/// ```
/// # use gmp_core as gmp;
/// use gmp::sync::RwLock;
/// use std::sync::Arc;
///
/// gmp::run(|| {
///     let config = Arc::new(RwLock::new(String::from("v1")));
///     let reader = {
///         let config = config.clone();
///         gmp::spawn(move || config.read().len())
///     };
///     config.write().push_str("-patched");
///     assert!(matches!(reader.join().unwrap(), 2 | 10));
///     assert_eq!(*config.read(), "v1-patched");
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    data: UnsafeCell<T>,
}

// SAFETY: the lock owns its `T`; moving it moves a `T`, which `T: Send` allows.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: a writer gets `&mut T` (so `T: Send` is needed to share the lock); readers
// share `&T` across threads (so `T: Sync` is needed too).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`. `const`, so it can initialise a `static`.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            raw: RawRwLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Takes a read share, parking (blocking, on a thread) while a writer holds the lock
    /// or waits for it.
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.raw.read();
        RwLockReadGuard {
            lock: self,
            _data: PhantomData,
        }
    }

    /// Takes a read share if that needs no waiting (no writer holds or waits).
    #[inline]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw.try_read().then(|| RwLockReadGuard {
            lock: self,
            _data: PhantomData,
        })
    }

    /// Takes the write lock, parking (blocking, on a thread) until no reader or writer
    /// holds it.
    #[inline]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.raw.write();
        RwLockWriteGuard {
            lock: self,
            _data: PhantomData,
        }
    }

    /// Takes the write lock if nobody holds it or waits for it.
    #[inline]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw.try_write().then(|| RwLockWriteGuard {
            lock: self,
            _data: PhantomData,
        })
    }

    /// The data, through a unique borrow of the lock (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(v: T) -> Self {
        RwLock::new(v)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Shared access to the data of an [`RwLock`]; gives up the read share when dropped.
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let lock = gmp::sync::RwLock::new(5);
///     let (a, b) = (lock.read(), lock.read()); // readers share
///     assert_eq!(*a + *b, 10);
/// });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Send and Sync as `&T` is.
    _data: PhantomData<&'a T>,
}

/// Exclusive access to the data of an [`RwLock`]; unlocks when dropped.
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let lock = gmp::sync::RwLock::new(5);
///     *lock.write() += 1;
///     assert_eq!(*lock.read(), 6);
/// });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Send and Sync as `&mut T` is.
    _data: PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read share is held, so no writer has `&mut T`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds a read share and gives it up once, here.
        unsafe { self.lock.raw.read_unlock() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held, so nobody else touches the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the write lock and gives it up once, here.
        unsafe { self.lock.raw.write_unlock() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
