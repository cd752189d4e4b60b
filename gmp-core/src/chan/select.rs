//! The runtime of `select!`: registering a wait in several channels' queues at once,
//! and the arm types the macro builds (crossbeam-channel's `select.rs` in its layout).
//!
//! A select first tries every arm without waiting, in a random order (Go's fairness
//! rule: when several arms are ready, each is as likely). If none is ready it makes one
//! [`Wait`] and registers an entry for it in each arm's channel, under that channel's
//! lock. Whoever claims the wait first (a peer on any of the channels, or the timeout)
//! completes exactly one arm; the others' entries are unlinked on the way out. A case
//! that looks ready while registering claims the select's own wait and completes at once.
//!
//! Not a stable API: the macro reaches it through `gmp_core::__private::select`.

use super::{Failed, Receiver, RecvError, SendError, Sender, Until};
use crate::proc::m;
use crate::proc::park;
use crate::proc::wait::{Entry, Outcome, Wait, WaitReason, NONE};
use std::time::{Duration, Instant};

/// A `select!` wait, opaque outside the crate.
pub struct Ctx {
    pub(super) wait: Wait,
}

/// What registering a case found.
pub enum Reg {
    /// The entry is queued.
    Queued,
    /// The case completed at once (the select claimed its own wait).
    Fired,
    /// Another case of this select was already completed by a peer.
    Lost,
    /// The case looked ready, the select claimed itself, and then the peer it was
    /// counting on was taken by someone else: start over.
    Retry,
}

/// One arm of a `select!` over a channel operation.
pub trait Case {
    /// Completes now if that needs no waiting (also when the channel is
    /// disconnected: the arm then gets the error).
    fn try_now(&mut self) -> bool;
    /// Under the channel's lock: completes at once if possible (claiming `ctx`'s
    /// wait), else queues an entry for the wait.
    fn register(&mut self, ctx: &Ctx, case: usize) -> Reg;
    /// Unlinks the entry if it is still queued.
    fn unregister(&mut self);
}

/// `recv(r) -> v` arm.
pub struct RecvCase<'a, T> {
    rx: &'a Receiver<T>,
    slot: Option<T>,
    entry: Option<Entry>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvCase<'a, T> {
    /// An arm receiving from `rx`.
    pub fn new(rx: &'a Receiver<T>) -> Self {
        RecvCase {
            rx,
            slot: None,
            entry: None,
            result: None,
        }
    }

    /// The arm's value, once it fired.
    pub fn into_result(self) -> Result<T, RecvError> {
        match self.result {
            Some(r) => r,
            None => match self.slot {
                Some(v) => Ok(v),
                None => Err(RecvError),
            },
        }
    }
}

impl<T> Case for RecvCase<'_, T> {
    fn try_now(&mut self) -> bool {
        match self.rx.c.recv(Until::Now) {
            Ok(v) => self.result = Some(Ok(v)),
            Err(Failed::Disconnected(())) => self.result = Some(Err(RecvError)),
            Err(_) => return false,
        }
        true
    }

    fn register(&mut self, ctx: &Ctx, case: usize) -> Reg {
        let c = &*self.rx.c;
        let mut g = c.lock();
        // SAFETY: `g` is the lock.
        if unsafe { g.recv_ready(&ctx.wait) } {
            if !ctx.wait.try_claim() {
                return Reg::Lost;
            }
            // SAFETY: as above.
            match unsafe { g.try_recv(Some(&ctx.wait)) } {
                Some((v, w)) => {
                    drop(g);
                    w.wake();
                    self.result = Some(Ok(v));
                    return Reg::Fired;
                }
                None if g.tx_gone => {
                    self.result = Some(Err(RecvError));
                    return Reg::Fired;
                }
                None => return Reg::Retry,
            }
        }
        let slot = &mut self.slot as *mut Option<T> as *mut u8;
        let e = self.entry.insert(Entry::new(&ctx.wait, slot, case));
        g.recvq.push(e);
        Reg::Queued
    }

    fn unregister(&mut self) {
        if let Some(e) = &self.entry {
            self.rx.c.lock().recvq.remove(e);
        }
    }
}

/// `send(s, x) -> res` arm.
pub struct SendCase<'a, T> {
    tx: &'a Sender<T>,
    slot: Option<T>,
    entry: Option<Entry>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendCase<'a, T> {
    /// An arm sending `v` on `tx`.
    pub fn new(tx: &'a Sender<T>, v: T) -> Self {
        SendCase {
            tx,
            slot: Some(v),
            entry: None,
            result: None,
        }
    }

    /// The arm's result, once it fired.
    pub fn into_result(self) -> Result<(), SendError<T>> {
        match self.result {
            Some(r) => r,
            // Fired through a queued entry: a receiver took the value, or it is
            // still here because every receiver left.
            None => match self.slot {
                None => Ok(()),
                Some(v) => Err(SendError(v)),
            },
        }
    }
}

impl<T> Case for SendCase<'_, T> {
    fn try_now(&mut self) -> bool {
        let v = self.slot.take().expect("a send arm holds its value");
        match self.tx.c.send(v, Until::Now) {
            Ok(()) => self.result = Some(Ok(())),
            Err(Failed::Disconnected(v)) => self.result = Some(Err(SendError(v))),
            Err(Failed::Full(v) | Failed::Timeout(v)) => {
                self.slot = Some(v);
                return false;
            }
        }
        true
    }

    fn register(&mut self, ctx: &Ctx, case: usize) -> Reg {
        let c = &*self.tx.c;
        let mut g = c.lock();
        // SAFETY: `g` is the lock.
        if unsafe { g.send_ready(c.cap, &ctx.wait) } {
            if !ctx.wait.try_claim() {
                return Reg::Lost;
            }
            let v = self.slot.take().expect("a send arm holds its value");
            if g.rx_gone {
                self.result = Some(Err(SendError(v)));
                return Reg::Fired;
            }
            // SAFETY: as above.
            match unsafe { g.try_send(v, c.cap, Some(&ctx.wait)) } {
                Ok(w) => {
                    drop(g);
                    w.wake();
                    self.result = Some(Ok(()));
                    return Reg::Fired;
                }
                Err(v) => {
                    self.slot = Some(v);
                    return Reg::Retry;
                }
            }
        }
        let slot = &mut self.slot as *mut Option<T> as *mut u8;
        let e = self.entry.insert(Entry::new(&ctx.wait, slot, case));
        g.sendq.push(e);
        Reg::Queued
    }

    fn unregister(&mut self) {
        if let Some(e) = &self.entry {
            self.tx.c.lock().sendq.remove(e);
        }
    }
}

/// How a `select!` without a ready arm behaves.
pub enum Mode {
    /// Wait until an arm is ready (no `default` arm).
    Block,
    /// Run the `default` arm at once (`default => ..`).
    Default,
    /// Wait this long, then run the `default` arm (`default(timeout) => ..`).
    Timeout(Duration),
}

/// Returned for the `default` arm.
pub const DEFAULT: usize = NONE;

struct Cases<'c, 'd> {
    cases: &'c mut [&'d mut dyn Case],
    queued: usize,
    order: &'c [usize],
}

impl Cases<'_, '_> {
    fn unregister(&mut self) {
        for &i in &self.order[..self.queued] {
            self.cases[i].unregister();
        }
        self.queued = 0;
    }

    /// For `G::wait_cleanup`.
    ///
    /// # Safety
    /// A `wait::Cleanup` function: see the contract there.
    unsafe fn erased(p: *const ()) {
        // SAFETY: `p` is the `Cases` of a select whose goroutine is parked and
        // being swept; its frame is intact.
        unsafe { (*(p as *mut Self)).unregister() }
    }
}

impl Drop for Cases<'_, '_> {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// Runs a select: returns the index of the arm that fired, or [`DEFAULT`].
pub fn select(cases: &mut [&mut dyn Case], mode: Mode) -> usize {
    let n = cases.len();
    let deadline = match mode {
        Mode::Timeout(d) => Some(Instant::now().checked_add(d)),
        _ => None,
    };
    // The arms' order, shuffled for each attempt: on the stack for up to 16 arms (a
    // heap `Vec` here was a third of the instructions of a 2-arm select).
    let mut small = [0usize; 16];
    let mut large = Vec::new();
    let order: &mut [usize] = if n <= small.len() {
        &mut small[..n]
    } else {
        large.resize(n, 0);
        &mut large
    };
    order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
    loop {
        shuffle(order);
        for &i in order.iter() {
            if cases[i].try_now() {
                return i;
            }
        }
        match (&mode, deadline) {
            (Mode::Default, _) => return DEFAULT,
            (_, Some(Some(d))) if d <= Instant::now() => return DEFAULT,
            _ => {}
        }
        if n == 0 && matches!(mode, Mode::Block) {
            // Go: `select {}` blocks forever.
            park::park_or_block_forever();
        }
        let ctx = Ctx {
            wait: Wait::new(WaitReason::Select),
        };
        let mut reg = Cases {
            cases: &mut *cases,
            queued: 0,
            order: &*order,
        };
        let mut fired = None;
        let mut retry = false;
        for &i in order.iter() {
            match reg.cases[i].register(&ctx, i) {
                Reg::Queued => reg.queued += 1,
                Reg::Fired => {
                    fired = Some(i);
                    break;
                }
                Reg::Lost => break,
                Reg::Retry => {
                    retry = true;
                    break;
                }
            }
        }
        if let Some(i) = fired {
            return i; // `reg` unregisters the queued entries on drop
        }
        if retry {
            continue;
        }
        let cleanup = (
            Cases::erased as unsafe fn(*const ()),
            &mut reg as *mut Cases<'_, '_> as *const (),
        );
        let out = ctx.wait.block(deadline.flatten(), Some(cleanup));
        drop(reg);
        match out {
            Outcome::Fired(i) => return i,
            Outcome::TimedOut => return DEFAULT,
        }
    }
}

fn shuffle(v: &mut [usize]) {
    for i in (1..v.len()).rev() {
        let j = (m::fastrand() as usize) % (i + 1);
        v.swap(i, j);
    }
}
