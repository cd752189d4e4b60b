//! Synchronisation primitives that park goroutines: [`Mutex`], [`RwLock`], [`Condvar`],
//! [`WaitGroup`], [`Semaphore`] and [`Barrier`].
//!
//! They have the shape of `std::sync`'s (and Go's `sync`), but a goroutine that must
//! wait *parks*: its OS thread goes on running other goroutines. Called from a plain
//! thread (outside any runtime) they block that thread instead, so threads and
//! goroutines can share them. `std::sync::Mutex` would work inside goroutines too, but a
//! goroutine waiting for it blocks its whole M, and with it every goroutine queued on
//! that M's P; a lock held across a `gmp::sleep` or a socket read would then stall the
//! runtime.
//!
//! # Design
//! Each primitive keeps its waiters in FIFO wait queues (`wait::WaitQueue`)
//! under a small internal lock and waits with the claim protocol of `proc/wait.rs`, as
//! channels do: whoever releases the resource claims the first waiter's wait under the
//! internal lock, writes what it hands over (the lock itself, a permit, a read share),
//! marks the wait done, and wakes the waiter after releasing the internal lock. A waiter
//! whose deadline passed is claimed by its timer instead and unlinks its own entry; a
//! waiter that unwinds (the deadlock panic from `park`) unlinks its entry and passes on
//! whatever a peer handed it at the last moment. Handing over directly, instead of
//! waking the waiter to try again, is what makes [`Semaphore`] and [`RwLock`] fair and
//! lets [`Mutex`]'s starvation mode exist.
//!
//! A woken goroutine goes to the tail of the waker's run queue, not to `runnext` as a
//! channel hand-off does: whoever releases a lock or a permit usually goes on running,
//! and `runnext` is not stealable, so a waiter put there would sit behind the waker
//! (for as long as it runs without parking) while other Ps idle. In the queue, an idle P
//! steals it at once. (Go puts it in `runnext`, which its idle Ps can steal.)
//!
//! [`Mutex`] and [`RwLock`] also keep an atomic state word, so that locking and
//! unlocking touch only that word while nobody waits (one CAS each); the internal lock
//! and queues are used only on contention. The internal lock is a `std::sync::Mutex`:
//! it is held for a few instructions, never across a park, so a goroutine that meets it
//! contended loses at most a short futex wait.
//!
//! # No poisoning
//! Like `parking_lot` and Go, and unlike `std`, a lock whose holder panicked is simply
//! unlocked when the guard drops: the next locker gets the data as the panicking code
//! left it. Poisoning would add a flag check to every lock and a `Result` to every call;
//! goroutine code that must stay consistent under panics can catch them itself.
//!
//! # Runtime shutdown
//! Goroutines still parked when their runtime ends are dropped without unwinding
//! (see `gmp::run`): their queue entries are unlinked, but what they hold stays held: a
//! [`Mutex`] locked by such a goroutine stays locked for the threads that outlive it.

mod barrier;
mod condvar;
mod mutex;
mod rwlock;
mod semaphore;
mod waitgroup;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;

use crate::proc::wait::{Outcome, Wait, Wakeup};
use std::time::Instant;

/// Why a waiter gives up its queued entry without a peer having popped it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Abandon {
    /// Its deadline passed: the timer claimed the wait, so no peer handed it anything.
    TimedOut,
    /// `park` panicked (the runtime found every goroutine asleep). A peer may still have
    /// claimed the entry in the meantime (a plain thread, or a goroutine of another
    /// runtime): what it handed over must be passed on.
    Unwind,
    /// The runtime ended with this goroutine parked (the shutdown sweep). Unlink only
    /// and wake nobody: goroutines of that runtime can no longer be readied.
    Sweep,
}

/// The internal lock of a primitive: a `std::sync::Mutex` that ignores poisoning (no
/// code panics while holding it, short of an allocation failure in a queue, which
/// leaves the state consistent).
struct Lock<T>(std::sync::Mutex<T>);

impl<T> Lock<T> {
    const fn new(v: T) -> Self {
        Lock(std::sync::Mutex::new(v))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Blocks on `wait`, whose entries the caller queued, until a peer completes it or
/// `deadline` passes. `abandon` unlinks the entries (taking the primitive's internal
/// lock itself) when the wait ends without a peer having popped them: after a timeout,
/// while unwinding from `park`, and from the runtime's shutdown sweep. Like chan/mod.rs's
/// `Unlink`.
fn block(wait: &Wait, deadline: Option<Instant>, abandon: &dyn Fn(Abandon)) -> Outcome {
    struct OnUnwind<'a> {
        abandon: &'a dyn Fn(Abandon),
        armed: bool,
    }
    impl Drop for OnUnwind<'_> {
        fn drop(&mut self) {
            if self.armed {
                (self.abandon)(Abandon::Unwind);
            }
        }
    }
    /// For `G::wait_cleanup`.
    ///
    /// # Safety
    /// A `wait::Cleanup` function: see the contract there.
    unsafe fn sweep(p: *const ()) {
        // SAFETY: `p` is the `OnUnwind` registered below; its goroutine is parked and
        // being swept, so the frame holding it is intact.
        unsafe { ((*(p as *const OnUnwind<'_>)).abandon)(Abandon::Sweep) }
    }
    let mut guard = OnUnwind {
        abandon,
        armed: true,
    };
    let cleanup = (
        sweep as unsafe fn(*const ()),
        &guard as *const OnUnwind<'_> as *const (),
    );
    let out = wait.block(deadline, Some(cleanup));
    guard.armed = false;
    if out == Outcome::TimedOut {
        abandon(Abandon::TimedOut);
    }
    out
}

/// Runs wake-ups collected under an internal lock, once it is released. Goroutines go
/// to the tail of the waker's run queue (see the module doc).
fn wake_all(wakes: Vec<Wakeup>) {
    for w in wakes {
        w.wake_tail();
    }
}
