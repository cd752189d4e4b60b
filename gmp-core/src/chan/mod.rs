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
//! Laid out as crossbeam-channel is: this file holds the constructors and the two
//! halves, `hchan.rs` the channel itself (Go's `hchan`: the lock, the buffer, the wait
//! queues), `error.rs` the errors, `select.rs` the runtime of `select!` and
//! `select_macro.rs` the macro that calls it.

mod error;
mod hchan;
pub(crate) mod select;
mod select_macro;

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

use hchan::{Chan, Failed, Until};
use std::fmt;
use std::sync::atomic::Ordering::*;
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
    let c = Arc::new(Chan::new(cap));
    (Sender { c: c.clone() }, Receiver { c })
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
        if self.c.senders.fetch_sub(1, AcqRel) == 1 {
            self.c.disconnect_senders();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // AcqRel: as in `Sender::drop`.
        if self.c.receivers.fetch_sub(1, AcqRel) == 1 {
            self.c.disconnect_receivers();
        }
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
