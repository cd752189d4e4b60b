//! Channels: Go's `chan`, multi-producer multi-consumer, for goroutines and threads.
//!
//! ```
//! # use gmp_core as gmp; // the facade crate `gmp` re-exports gmp-core
//! gmp::run(|| {
//!     let (tx, rx) = gmp::chan::bounded(0); // a rendezvous, like Go's `make(chan T)`
//!     let h = gmp::spawn(move || {
//!         for i in 0..3 {
//!             tx.send(i).unwrap();
//!         }
//!     });
//!     let got: Vec<i32> = rx.iter().collect(); // ends when every sender is gone
//!     assert_eq!(got, [0, 1, 2]);
//!     h.join().unwrap();
//! });
//! ```
//!
//! A goroutine that must wait parks (its thread runs other goroutines); a plain thread
//! blocks. A receiver waiting when a value is sent gets it handed over directly and runs
//! next on the sender's processor, as in Go. Values sent by one sender arrive in the
//! order sent. When every [`Sender`] is gone, receivers get what is buffered, then
//! [`RecvError`]; when every [`Receiver`] is gone, `send` returns the value in its error
//! and buffered values are dropped.
//!
//! The channel is one lock over a buffer and two wait queues; waiting follows the claim
//! protocol of `proc/wait.rs`, which is also what lets [`select!`](crate::select!) wait
//! on many channels at once.
//!
//! Laid out as crossbeam-channel is: this file holds the channel and its two halves,
//! `error.rs` the errors, `select.rs` the runtime of `select!` and `select_macro.rs` the
//! macro that calls it.

mod error;
pub(crate) mod select;
mod select_macro;

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

use crate::proc::wait::{Entry, Outcome, Wait, WaitQueue, Wakeup};
use crate::spinlock::{SpinGuard, SpinLock};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A channel holding at most `cap` values; `bounded(0)` is a rendezvous: each `send`
/// waits for a receiver to take the value.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new_chan(cap)
}

/// A channel without a bound: `send` never waits.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new_chan(usize::MAX)
}

fn new_chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(Chan {
        inner: SpinLock::new(Inner {
            buf: VecDeque::with_capacity(if cap == usize::MAX { 0 } else { cap.min(1024) }),
            recvq: WaitQueue::default(),
            sendq: WaitQueue::default(),
            tx_gone: false,
            rx_gone: false,
        }),
        cap,
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
    });
    (Sender { c: c.clone() }, Receiver { c })
}

struct Chan<T> {
    inner: SpinLock<Inner<T>>,
    /// `usize::MAX` for unbounded.
    cap: usize,
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

struct Inner<T> {
    buf: VecDeque<T>,
    /// Receivers waiting for a value; entries' slots are `Option<T>` to fill.
    recvq: WaitQueue,
    /// Senders waiting for room or a receiver; entries' slots are `Option<T>` holding
    /// the value.
    sendq: WaitQueue,
    tx_gone: bool,
    rx_gone: bool,
}

// SAFETY: the raw entry pointers inside are only used under `inner`'s lock, and values
// of `T` move between threads only as `T: Send` allows.
unsafe impl<T: Send> Send for Chan<T> {}
// SAFETY: as for `Send`: shared use goes through `inner`'s lock, and a value sent on
// one thread is received on another, which `T: Send` allows.
unsafe impl<T: Send> Sync for Chan<T> {}

impl<T> Chan<T> {
    fn lock(&self) -> SpinGuard<'_, Inner<T>> {
        self.inner.lock()
    }
}

impl<T> Inner<T> {
    /// Sends `v` now if a receiver waits (other than `me`) or the buffer has room.
    /// Returns who to wake, or gives `v` back.
    ///
    /// # Safety
    /// Called under the channel's lock (which `&mut self` is).
    unsafe fn try_send(&mut self, v: T, cap: usize, me: Option<&Wait>) -> Result<Wakeup, T> {
        // SAFETY: we hold the lock.
        if let Some(e) = unsafe { claim_other(&mut self.recvq, me) } {
            // SAFETY: a claimed receive entry's slot is its waiter's `Option<T>`, which
            // stays put until we mark the wait done.
            unsafe {
                *(e.slot as *mut Option<T>) = Some(v);
                return Ok(e.wait().done(e.case));
            }
        }
        if self.buf.len() < cap {
            self.buf.push_back(v);
            return Ok(Wakeup::None);
        }
        Err(v)
    }

    /// Receives now from the buffer or a waiting sender (other than `me`).
    ///
    /// # Safety
    /// As `try_send`.
    unsafe fn try_recv(&mut self, me: Option<&Wait>) -> Option<(T, Wakeup)> {
        if let Some(v) = self.buf.pop_front() {
            // Room now: move the first waiting sender's value into the buffer.
            // SAFETY: we hold the lock.
            let wake = match unsafe { claim_other(&mut self.sendq, me) } {
                // SAFETY: a claimed send entry's slot is its waiter's `Some(value)`.
                Some(e) => unsafe {
                    let sv = (*(e.slot as *mut Option<T>)).take();
                    self.buf
                        .push_back(sv.expect("a waiting sender holds its value"));
                    e.wait().done(e.case)
                },
                None => Wakeup::None,
            };
            return Some((v, wake));
        }
        // SAFETY: as above.
        let e = unsafe { claim_other(&mut self.sendq, me) }?;
        // SAFETY: as above.
        unsafe {
            let v = (*(e.slot as *mut Option<T>)).take();
            Some((
                v.expect("a waiting sender holds its value"),
                e.wait().done(e.case),
            ))
        }
    }

    /// Whether a send or receive could complete now without waiting for `me`'s own
    /// entries (used by `select!` while registering).
    ///
    /// # Safety
    /// As `try_send`.
    unsafe fn send_ready(&self, cap: usize, me: &Wait) -> bool {
        // SAFETY: we hold the lock.
        self.rx_gone || self.buf.len() < cap || unsafe { self.recvq.has_waiter(Some(me)) }
    }

    /// # Safety
    /// As `try_send`.
    unsafe fn recv_ready(&self, me: &Wait) -> bool {
        // SAFETY: we hold the lock.
        !self.buf.is_empty() || self.tx_gone || unsafe { self.sendq.has_waiter(Some(me)) }
    }
}

/// # Safety
/// The caller holds the lock of the channel that owns `q`.
unsafe fn claim_other<'q>(q: &'q mut WaitQueue, me: Option<&Wait>) -> Option<&'q Entry> {
    // SAFETY: per the contract.
    unsafe {
        match me {
            None => q.claim_first(),
            Some(me) => q.claim_first_other(me),
        }
    }
}

/// Wakes every waiter of `q` with the "disconnected" flag (the channel's other side is
/// gone). Returns who to wake once the lock is released.
///
/// # Safety
/// The caller holds the lock of the channel that owns `q`.
unsafe fn disconnect_all(q: &mut WaitQueue) -> Vec<Wakeup> {
    let mut wakes = Vec::new();
    // SAFETY: per the contract.
    while let Some(e) = unsafe { q.claim_first() } {
        e.flag.set(true);
        // SAFETY: claimed under the lock, so its waiter is still waiting.
        wakes.push(unsafe { e.wait().done(e.case) });
    }
    wakes
}

// ---- waiting -----------------------------------------------------------------------

/// How long a blocking operation may wait.
#[derive(Clone, Copy)]
enum Until {
    Now,
    Forever,
    Deadline(Instant),
}

enum Failed<T> {
    Full(T),
    Disconnected(T),
    Timeout(T),
}

/// Unlinks one entry from its queue on the way out of a wait that ended without a
/// claimer popping it (timeout), or that unwound (the deadlock panic), and at runtime
/// shutdown through the G's `wait_cleanup`.
struct Unlink<'a, T> {
    c: &'a Chan<T>,
    e: *const Entry,
    send: bool,
}

impl<T> Unlink<'_, T> {
    fn unlink(&self) {
        let mut g = self.c.lock();
        let q = if self.send {
            &mut g.sendq
        } else {
            &mut g.recvq
        };
        // SAFETY: `e` is this frame's entry.
        q.remove(unsafe { &*self.e });
    }

    /// For `G::wait_cleanup`.
    ///
    /// # Safety
    /// A `wait::Cleanup` function: see the contract there.
    unsafe fn erased(p: *const ()) {
        // SAFETY: `p` is the `Unlink` registered by `wait_on`, whose frame is intact
        // (its G is parked and is being swept).
        unsafe { (*(p as *const Self)).unlink() }
    }
}

impl<T> Drop for Unlink<'_, T> {
    fn drop(&mut self) {
        self.unlink();
    }
}

impl<T> Chan<T> {
    fn send(&self, v: T, until: Until) -> Result<(), Failed<T>> {
        let mut g = self.lock();
        if g.rx_gone {
            return Err(Failed::Disconnected(v));
        }
        // SAFETY: `g` is the lock.
        let v = match unsafe { g.try_send(v, self.cap, None) } {
            Ok(w) => {
                drop(g);
                w.wake();
                return Ok(());
            }
            Err(v) => v,
        };
        let deadline = match until {
            Until::Now => return Err(Failed::Full(v)),
            Until::Deadline(d) if d <= Instant::now() => return Err(Failed::Timeout(v)),
            Until::Deadline(d) => Some(d),
            Until::Forever => None,
        };
        let mut slot = Some(v);
        let wait = Wait::new();
        let e = Entry::new(&wait, &mut slot as *mut Option<T> as *mut u8, 0);
        g.sendq.push(&e);
        drop(g);
        match self.wait_on(&wait, &e, true, deadline) {
            // Taken by a receiver, or handed back because every receiver left.
            Outcome::Fired(_) => match slot.take() {
                None => Ok(()),
                Some(v) => Err(Failed::Disconnected(v)),
            },
            Outcome::TimedOut => Err(Failed::Timeout(slot.take().expect("not taken"))),
        }
    }

    fn recv(&self, until: Until) -> Result<T, Failed<()>> {
        let mut g = self.lock();
        // SAFETY: `g` is the lock.
        if let Some((v, w)) = unsafe { g.try_recv(None) } {
            drop(g);
            w.wake();
            return Ok(v);
        }
        if g.tx_gone {
            return Err(Failed::Disconnected(()));
        }
        let deadline = match until {
            Until::Now => return Err(Failed::Full(())),
            Until::Deadline(d) if d <= Instant::now() => return Err(Failed::Timeout(())),
            Until::Deadline(d) => Some(d),
            Until::Forever => None,
        };
        let mut slot: Option<T> = None;
        let wait = Wait::new();
        let e = Entry::new(&wait, &mut slot as *mut Option<T> as *mut u8, 0);
        g.recvq.push(&e);
        drop(g);
        match self.wait_on(&wait, &e, false, deadline) {
            Outcome::Fired(_) => slot.ok_or(Failed::Disconnected(())),
            Outcome::TimedOut => Err(Failed::Timeout(())),
        }
    }

    /// Blocks on `wait`, whose one entry `e` is queued. On a timeout the entry is
    /// unlinked here; on a fire the claimer already popped it.
    fn wait_on(&self, wait: &Wait, e: &Entry, send: bool, deadline: Option<Instant>) -> Outcome {
        let unlink = Unlink { c: self, e, send };
        let cleanup = (
            Unlink::<T>::erased as unsafe fn(*const ()),
            &unlink as *const Unlink<'_, T> as *const (),
        );
        let out = wait.block(deadline, Some(cleanup));
        if let Outcome::Fired(_) = out {
            std::mem::forget(unlink);
        }
        out
    }

    fn len(&self) -> usize {
        self.lock().buf.len()
    }

    fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }
}

// ---- Sender / Receiver -------------------------------------------------------------

/// The sending half of a channel. Clone it for more producers; the channel disconnects
/// for receivers when the last clone is dropped.
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let (tx, rx) = gmp::chan::bounded(2);
///     let producers: Vec<_> = (0..2)
///         .map(|i| {
///             let tx = tx.clone();
///             gmp::spawn(move || tx.send(i).unwrap())
///         })
///         .collect();
///     drop(tx); // the last clone left is the producers'
///     producers.into_iter().for_each(|h| h.join().unwrap());
///     let mut got: Vec<i32> = rx.iter().collect();
///     got.sort();
///     assert_eq!(got, [0, 1]);
/// });
/// ```
pub struct Sender<T> {
    c: Arc<Chan<T>>,
}

/// The receiving half of a channel. Clone it for more consumers; the channel disconnects
/// for senders when the last clone is dropped.
///
/// ```
/// # use gmp_core as gmp;
/// use std::time::Duration;
/// gmp::run(|| {
///     let (tx, rx) = gmp::chan::unbounded();
///     let rx2 = rx.clone();
///     tx.send("a").unwrap();
///     assert_eq!(rx2.recv(), Ok("a"));
///     assert!(rx.recv_timeout(Duration::from_millis(1)).is_err());
///     drop(rx);
///     drop(rx2);
///     assert!(tx.send("b").is_err()); // every receiver is gone
/// });
/// ```
pub struct Receiver<T> {
    c: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `v`, waiting for room (or, for `bounded(0)`, for a receiver to take it).
    /// Fails, giving `v` back, if every receiver is gone.
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        match self.c.send(v, Until::Forever) {
            Ok(()) => Ok(()),
            Err(Failed::Disconnected(v) | Failed::Full(v) | Failed::Timeout(v)) => {
                Err(SendError(v))
            }
        }
    }

    /// Sends `v` if that needs no waiting.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.c.send(v, Until::Now) {
            Ok(()) => Ok(()),
            Err(Failed::Disconnected(v)) => Err(TrySendError::Disconnected(v)),
            Err(Failed::Full(v) | Failed::Timeout(v)) => Err(TrySendError::Full(v)),
        }
    }

    /// Sends `v`, waiting at most `timeout`.
    pub fn send_timeout(&self, v: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(v, Instant::now().checked_add(timeout))
    }

    /// Sends `v`, waiting until `deadline` at most (`None`: forever).
    pub fn send_deadline(
        &self,
        v: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let until = deadline.map_or(Until::Forever, Until::Deadline);
        match self.c.send(v, until) {
            Ok(()) => Ok(()),
            Err(Failed::Disconnected(v)) => Err(SendTimeoutError::Disconnected(v)),
            Err(Failed::Full(v) | Failed::Timeout(v)) => Err(SendTimeoutError::Timeout(v)),
        }
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.c.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound given to [`bounded`]; `None` for [`unbounded`].
    pub fn capacity(&self) -> Option<usize> {
        self.c.capacity()
    }

    /// Whether both halves belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.c, &other.c)
    }
}

impl<T> Receiver<T> {
    /// Receives a value, waiting for one. Fails once every sender is gone and nothing is
    /// buffered.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.c.recv(Until::Forever).map_err(|_| RecvError)
    }

    /// Receives a value if one is there.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.c.recv(Until::Now).map_err(|e| match e {
            Failed::Disconnected(()) => TryRecvError::Disconnected,
            _ => TryRecvError::Empty,
        })
    }

    /// Receives a value, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(Instant::now().checked_add(timeout))
    }

    /// Receives a value, waiting until `deadline` at most (`None`: forever).
    pub fn recv_deadline(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let until = deadline.map_or(Until::Forever, Until::Deadline);
        self.c.recv(until).map_err(|e| match e {
            Failed::Disconnected(()) => RecvTimeoutError::Disconnected,
            _ => RecvTimeoutError::Timeout,
        })
    }

    /// Values until every sender is gone (each `next` waits).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// The values there now, without waiting.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.c.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound given to [`bounded`]; `None` for [`unbounded`].
    pub fn capacity(&self) -> Option<usize> {
        self.c.capacity()
    }

    /// Whether both halves belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.c, &other.c)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: a new handle is made from a live one, so the count cannot be zero;
        // the drop side's AcqRel decrement orders the last drop (as in `Arc`).
        self.c.senders.fetch_add(1, Relaxed);
        Sender { c: self.c.clone() }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        // Relaxed: as in `Sender::clone`.
        self.c.receivers.fetch_add(1, Relaxed);
        Receiver { c: self.c.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last dropper sees every other handle's operations.
        if self.c.senders.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        let mut g = self.c.lock();
        g.tx_gone = true;
        // SAFETY: `g` is the lock.
        let wakes = unsafe { disconnect_all(&mut g.recvq) };
        drop(g);
        wakes.into_iter().for_each(Wakeup::wake);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // AcqRel: as in `Sender::drop`.
        if self.c.receivers.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        let mut g = self.c.lock();
        g.rx_gone = true;
        // SAFETY: `g` is the lock.
        let wakes = unsafe { disconnect_all(&mut g.sendq) };
        // Dropped after unlocking: a value's destructor may use the channel.
        let buffered = std::mem::take(&mut g.buf);
        drop(g);
        wakes.into_iter().for_each(Wakeup::wake);
        drop(buffered);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

/// Blocking iterator over a [`Receiver`]: see [`Receiver::iter`]. Ends when every
/// sender is gone and the channel is empty.
///
/// ```
/// # use gmp_core as gmp;
/// let (tx, rx) = gmp::chan::unbounded();
/// for i in 0..3 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.iter().sum::<i32>(), 3);
/// ```
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator over a [`Receiver`]: see [`Receiver::try_iter`]. Ends when
/// nothing is there to receive now.
///
/// ```
/// # use gmp_core as gmp;
/// let (tx, rx) = gmp::chan::unbounded();
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]); // tx is still alive
/// ```
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator over a [`Receiver`] (`for v in rx`).
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let (tx, rx) = gmp::chan::bounded(0);
///     let consumer = gmp::spawn(move || rx.into_iter().count());
///     for i in 0..5 {
///         tx.send(i).unwrap();
///     }
///     drop(tx);
///     assert_eq!(consumer.join().unwrap(), 5);
/// });
/// ```
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
