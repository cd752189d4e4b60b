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
mod block;
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
