//! The channel itself (Go's `hchan`): one spin lock over a buffer and two wait queues.
//!
//! A sender that finds a receiver waiting hands the value straight into the receiver's
//! frame (claiming its wait, `proc/wait.rs`), else buffers it, else queues itself with
//! its value; a receiver does the reverse, and refills the buffer from the first waiting
//! sender. Every handover happens under the lock; wake-ups run after it is released.
//! The lock is held for a few dozen instructions and never across a park.

use crate::proc::wait::{Entry, Outcome, Wait, WaitQueue, WaitReason, Wakeup};
use crate::spinlock::{SpinGuard, SpinLock};
use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

/// A channel: one lock over a buffer and two wait queues, shared by every handle.
pub(super) struct Chan<T> {
    inner: SpinLock<Inner<T>>,
    /// `usize::MAX` for unbounded.
    pub(super) cap: usize,
    /// Live `Sender`s and `Receiver`s; the last of either kind disconnects.
    pub(super) senders: AtomicUsize,
    pub(super) receivers: AtomicUsize,
}

/// What the channel's lock guards.
pub(super) struct Inner<T> {
    buf: VecDeque<T>,
    /// Receivers waiting for a value; entries' slots are `Option<T>` to fill.
    pub(super) recvq: WaitQueue,
    /// Senders waiting for room or a receiver; entries' slots are `Option<T>` holding
    /// the value.
    pub(super) sendq: WaitQueue,
    /// Every sender is gone.
    pub(super) tx_gone: bool,
    /// Every receiver is gone.
    pub(super) rx_gone: bool,
}

// SAFETY: the raw entry pointers inside are only used under `inner`'s lock, and values
// of `T` move between threads only as `T: Send` allows.
unsafe impl<T: Send> Send for Chan<T> {}
// SAFETY: as for `Send`: shared use goes through `inner`'s lock, and a value sent on
// one thread is received on another, which `T: Send` allows.
unsafe impl<T: Send> Sync for Chan<T> {}

impl<T> Chan<T> {
    /// A channel holding at most `cap` values (`usize::MAX`: unbounded), with one
    /// sender and one receiver.
    pub(super) fn new(cap: usize) -> Chan<T> {
        Chan {
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
        }
    }

    #[inline]
    pub(super) fn lock(&self) -> SpinGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    /// The last sender is gone: receivers waiting now get `RecvError` (once the buffer
    /// is empty, which it is when a receiver waits).
    pub(super) fn disconnect_senders(&self) {
        let mut g = self.lock();
        g.tx_gone = true;
        // SAFETY: `g` is the lock.
        let wakes = unsafe { disconnect_all(&mut g.recvq) };
        drop(g);
        wakes.into_iter().for_each(Wakeup::wake);
    }

    /// The last receiver is gone: waiting senders get their values back, and buffered
    /// values are dropped.
    pub(super) fn disconnect_receivers(&self) {
        let mut g = self.lock();
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

impl<T> Inner<T> {
    /// Sends `v` now if a receiver waits (other than `me`) or the buffer has room.
    /// Returns who to wake, or gives `v` back.
    ///
    /// # Safety
    /// Called under the channel's lock (which `&mut self` is).
    #[inline]
    pub(super) unsafe fn try_send(
        &mut self,
        v: T,
        cap: usize,
        me: Option<&Wait>,
    ) -> Result<Wakeup, T> {
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
    #[inline]
    pub(super) unsafe fn try_recv(&mut self, me: Option<&Wait>) -> Option<(T, Wakeup)> {
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
    #[inline]
    pub(super) unsafe fn send_ready(&self, cap: usize, me: &Wait) -> bool {
        // SAFETY: we hold the lock.
        self.rx_gone || self.buf.len() < cap || unsafe { self.recvq.has_waiter(Some(me)) }
    }

    /// # Safety
    /// As `try_send`.
    #[inline]
    pub(super) unsafe fn recv_ready(&self, me: &Wait) -> bool {
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
pub(super) enum Until {
    Now,
    Forever,
    Deadline(Instant),
}

pub(super) enum Failed<T> {
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
    #[inline]
    pub(super) fn send(&self, v: T, until: Until) -> Result<(), Failed<T>> {
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
        let wait = Wait::new(WaitReason::ChanSend);
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

    #[inline]
    pub(super) fn recv(&self, until: Until) -> Result<T, Failed<()>> {
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
        let wait = Wait::new(WaitReason::ChanReceive);
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

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.lock().buf.len()
    }

    #[inline]
    pub(super) fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }
}
