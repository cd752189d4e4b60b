//! Waiting for a peer: the claim protocol under channels, `select!` and `gmp::sync`.
//!
//! A goroutine or thread that must wait creates a [`Wait`] on its stack, puts one or more
//! [`Entry`]s that point at it into wait queues (each queue under its owner's lock), and
//! blocks. A peer that finds an entry must first *claim* the wait; only the one claimer
//! hands over a value, and then marks the wait *done*, which wakes the waiter. A wait
//! with a deadline has a timer that competes for the same claim, and a `select!` wait has
//! entries in several queues that all compete for it: whoever loses the claim skips the
//! entry, so exactly one case fires and no value is lost.
//!
//! # The claim word
//! `gen << GEN_SHIFT | TIMEOUT | PARKED | DONE | CLAIMED`. A goroutine's word lives in its
//! G header (it outlives the waiting frame, so a late timer can still look at it); a
//! thread's lives in its `Wait`. Each wait takes a new generation, so a stale timer or
//! entry (an old generation) can never claim a later wait.
//!
//! - claim: CAS `gen|0 → gen|CLAIMED` (peers do it under the queue lock);
//! - done: the claimer writes its result, then `fetch_or(DONE)`; if `PARKED` was set the
//!   goroutine is asleep and the claimer readies it;
//! - park: the waiting goroutine's park commit (on g0, the G saved) does
//!   `fetch_or(PARKED)`; if `DONE` was already set it does not sleep.
//!
//! Exactly one side sees the other's bit, so the goroutine is readied exactly once, and
//! never before it is saved. A claimed-but-not-done wait keeps the waiter asleep until
//! the claimer has finished writing into its frame.

use super::g::G;
use super::m;
use super::park;
use super::timer::{self, Timer, TimerFunc};
pub(crate) use super::traceback::WaitReason;
use crate::clock::{nanotime, NEVER};
use crate::words::claim::{ClaimWord, CLAIMED, DONE, GEN_SHIFT, PARKED, TIMEOUT};
use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::thread::{self, Thread};
use std::time::Instant;

/// A parked waiter's hook for the shutdown sweep: a function and its argument (a frame
/// of the waiter) that unlink the wait's entries from their queues (`G::wait_cleanup`).
///
/// # Safety
/// The function is called only by the shutdown sweep, with the argument registered
/// beside it, while the waiting goroutine is still parked in the wait (its stack, which
/// the argument points into, intact) and no M runs any more.
pub(crate) type Cleanup = (unsafe fn(*const ()), *const ());

/// `Wait::fired` when nothing fired yet.
pub(crate) const NONE: usize = usize::MAX;

enum Who {
    G(*mut G),
    Thread(Thread),
}

/// One wait of one goroutine or thread. Lives on the waiter's stack and must not move
/// while entries point at it.
pub(crate) struct Wait {
    who: Who,
    /// What a goroutine dump shows while it waits.
    why: WaitReason,
    gen: u64,
    /// A thread's claim word (a goroutine uses its G header's).
    thread_word: ClaimWord,
    /// Which entry (`Entry::case`) the claimer completed. Written before `DONE`.
    fired: AtomicUsize,
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A peer (or the waiter itself) completed the entry with this `case`.
    Fired(usize),
    TimedOut,
}

/// What the claimer must wake once it has released its locks.
#[must_use]
pub(crate) enum Wakeup {
    None,
    /// A goroutine of the runtime the claimer runs on, and the claimer's M (read once
    /// in `done`, reused by `ready`).
    G(*mut G, *mut m::M),
    /// A goroutine of a runtime the claimer is not part of (the claimer is a plain thread
    /// or another runtime's goroutine). `done` pinned that runtime (`park::pin_runtime`)
    /// while the queue lock still kept it from being swept; `wake` unpins it.
    GOutside(*mut G),
    Thread(Thread),
}

impl Wakeup {
    /// Readies the goroutine (next on this P, as Go's channel hand-off does) or unparks
    /// the thread.
    pub(crate) fn wake(self) {
        match self {
            Wakeup::None => {}
            Wakeup::G(g, m) => park::ready_on(m, g, true),
            // SAFETY: `done` pinned the runtime for this wake-up.
            Wakeup::GOutside(g) => unsafe { park::ready_pinned(g) },
            Wakeup::Thread(t) => t.unpark(),
        }
    }

    /// Like [`wake`](Wakeup::wake), but a goroutine goes to the tail of this P's queue
    /// instead of `runnext`. For wakers that go on running (a lock's unlocker): `runnext`
    /// is owner-only, so a goroutine left there waits until the waker parks or yields,
    /// while one in the queue can be stolen by an idle P at once.
    pub(crate) fn wake_tail(self) {
        match self {
            Wakeup::None => {}
            Wakeup::G(g, m) => park::ready_on(m, g, false),
            // SAFETY: `done` pinned the runtime for this wake-up.
            Wakeup::GOutside(g) => unsafe { park::ready_pinned(g) },
            Wakeup::Thread(t) => t.unpark(),
        }
    }

    /// Whether this wakes a goroutine.
    pub(crate) fn is_g(&self) -> bool {
        matches!(self, Wakeup::G(..) | Wakeup::GOutside(_))
    }
}

impl Wait {
    /// Starts a new wait for the calling goroutine or thread, waiting for `why`.
    pub(crate) fn new(why: WaitReason) -> Wait {
        let m = m::current();
        if m.is_null() {
            return Wait {
                who: Who::Thread(thread::current()),
                why,
                gen: 0,
                thread_word: ClaimWord::new(),
                fired: AtomicUsize::new(NONE),
            };
        }
        // SAFETY: a thread with an M calling into the runtime from user code runs a G,
        // whose header is live while it runs; only this G writes its own word between
        // waits (peers and timers of older generations only CAS, and fail).
        let g = unsafe { (*m).curg };
        // SAFETY: as above. Only this G writes its word between waits.
        let gen = unsafe { (*g).wait.begin() };
        Wait {
            who: Who::G(g),
            why,
            gen,
            thread_word: ClaimWord::new(),
            fired: AtomicUsize::new(NONE),
        }
    }

    fn word(&self) -> &ClaimWord {
        match self.who {
            // SAFETY: G headers stay mapped while their runtime lives, and a waiting G's
            // runtime lives while the G waits.
            Who::G(g) => unsafe { &(*g).wait },
            Who::Thread(_) => &self.thread_word,
        }
    }

    /// Claims the wait. Peers call this under the lock of the queue that holds the entry;
    /// the waiter may claim its own wait (a case it found ready, or its own timeout).
    pub(crate) fn try_claim(&self) -> bool {
        self.word().claim(self.gen, 0).is_some()
    }

    /// Completes a wait the caller claimed: records `case`, then marks it done. The
    /// returned wake-up must be run (after releasing locks). The wait must not be
    /// touched after this: its owner may return at once.
    pub(crate) fn done(&self, case: usize) -> Wakeup {
        // Relaxed: published by the Release half of the `fetch_or(DONE)` below.
        self.fired.store(case, Relaxed);
        // Everything needed from `self` is copied out first: once `DONE` is set the
        // waiter may return and its frame (this `Wait`) be gone.
        let (g, thread) = match &self.who {
            Who::G(g) => (*g, None),
            Who::Thread(t) => (ptr::null_mut(), Some(t.clone())),
        };
        // Publishes `fired` and whatever the claimer wrote into the waiter's frame.
        let parked = self.word().done();
        match thread {
            Some(t) => Wakeup::Thread(t),
            None if !parked => Wakeup::None,
            None => {
                let m = m::current();
                // SAFETY: `g`'s runtime is alive: its G is parked in this wait.
                if unsafe { park::on_runtime(m, g) } {
                    Wakeup::G(g, m)
                } else {
                    // The caller still holds the lock of the queue the entry was in, so
                    // the shutdown sweep (which unlinks entries under that lock) has not
                    // passed this G: its runtime is alive and can be pinned.
                    // SAFETY: as above.
                    unsafe { park::pin_runtime(g) };
                    Wakeup::GOutside(g)
                }
            }
        }
    }

    /// Blocks until the wait is done, or until `deadline` (an `Instant`) passes with
    /// nobody having claimed it. `cleanup`, for goroutines, is what the shutdown sweep
    /// calls to unlink this wait's entries if the runtime ends while it sleeps.
    pub(crate) fn block(&self, deadline: Option<Instant>, cleanup: Option<Cleanup>) -> Outcome {
        match self.who {
            Who::G(g) => self.block_g(g, deadline, cleanup),
            Who::Thread(_) => self.block_thread(deadline),
        }
        let w = self.word().load();
        debug_assert!(w & DONE != 0);
        if w & TIMEOUT != 0 {
            Outcome::TimedOut
        } else {
            // Relaxed: ordered after `done`'s store by the Acquire load of the word above.
            Outcome::Fired(self.fired.load(Relaxed))
        }
    }

    fn block_g(&self, g: *mut G, deadline: Option<Instant>, cleanup: Option<Cleanup>) {
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            let when = nanotime()
                .saturating_add(left.as_nanos().min(u64::MAX as u128 / 2) as u64)
                .min(NEVER - 1);
            timer::add_timer_from_g(Timer {
                when,
                f: &WAIT_TIMEOUT,
                arg: g as usize,
                seq: self.gen,
            });
        }
        /// Clears the cleanup hook however this frame is left (`park` panics when the
        /// runtime finds every goroutine asleep).
        struct Reset(*mut G);
        impl Drop for Reset {
            fn drop(&mut self) {
                // SAFETY: this G owns its header while it runs.
                unsafe { (*self.0).wait_cleanup = None };
            }
        }
        // SAFETY: as above.
        unsafe { (*g).wait_cleanup = cleanup };
        let _reset = Reset(g);
        let word = self.word();
        while word.load() & DONE == 0 {
            // On g0, the G saved: from here a claimer that sees PARKED readies it.
            park::park(self.why, |_| word.park_commit());
        }
        // Running again: `checkdead` stops counting this G as waiting (`in_claim_wait`).
        word.unpark();
    }

    fn block_thread(&self, deadline: Option<Instant>) {
        let word = &self.thread_word;
        let mut deadline = deadline;
        while word.load() & DONE == 0 {
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now < d {
                        thread::park_timeout(d - now);
                    } else if word.claim(self.gen, DONE | TIMEOUT).is_some() {
                        return;
                    } else {
                        // A peer claimed it first: it finishes shortly and unparks us.
                        deadline = None;
                    }
                }
            }
        }
    }
}

/// The timer of a goroutine's wait with a deadline: `arg` is the G, `seq` the wait's
/// generation.
static WAIT_TIMEOUT: TimerFunc = TimerFunc {
    fire: |g, gen| timeout_fired(g as *mut G, gen),
    stale: |g, gen| timeout_stale(g as *mut G, gen),
};

/// A wait timer fired: claims the wait for the timeout. Returns the G to ready if it is
/// already asleep (else its park commit sees `DONE` and it does not sleep).
fn timeout_fired(g: *mut G, gen: u64) -> *mut G {
    // SAFETY: G headers stay mapped while their runtime lives, and timers are dropped
    // before it ends.
    let word = unsafe { &(*g).wait };
    match word.claim(gen, DONE | TIMEOUT) {
        Some(old) if old & PARKED != 0 => g,
        _ => ptr::null_mut(),
    }
}

/// Whether `g` parked in a wait of this protocol and has not run since: still waiting,
/// or completed by a claimer that has yet to ready it (`PARKED` stays set until the G
/// runs again, so a claimer between `done` and `ready` cannot slip past `checkdead`).
///
/// # Safety
/// `g` is a G header of a live runtime.
pub(crate) unsafe fn in_claim_wait(g: *const G) -> bool {
    // SAFETY: per the contract.
    // Relaxed: `checkdead` reads it with every M idle, under the scheduler lock; a
    // claimer racing with it is caught by the claim in `claim_for_deadlock`.
    unsafe { (*g).wait.load_relaxed() & PARKED != 0 }
}

/// For the deadlock report: claims `g`'s wait if it is parked in one, so no claimer can
/// ready it behind the report's back. Returns `false` if someone claimed it first (then
/// there is no deadlock to report); `true` also when `g` is in no claim wait.
///
/// # Safety
/// `g` is a G header of a live runtime.
pub(crate) unsafe fn claim_for_deadlock(g: *const G) -> bool {
    // SAFETY: per the contract.
    let word = unsafe { &(*g).wait };
    // Acquire pairs with the park commit's `fetch_or(PARKED)`; the claim below carries
    // the ordering that matters.
    let w = word.load();
    if w & PARKED == 0 {
        return true;
    }
    word.claim(w >> GEN_SHIFT, DONE).is_some()
}

/// Whether a wait timer can no longer claim its wait (for pruning timer heaps).
fn timeout_stale(g: *mut G, gen: u64) -> bool {
    // SAFETY: as in `timeout_fired`.
    // Relaxed: a pruning hint; a timer kept by mistake fires and claims nothing.
    let w = unsafe { (*g).wait.load_relaxed() };
    w >> GEN_SHIFT != gen || w & CLAIMED != 0
}

/// A queue entry: one wait in one queue. `slot` points at the waiter's value (to send,
/// or where to receive); `case` tells the waiter which of its entries fired.
pub(crate) struct Entry {
    pub(crate) wait: *const Wait,
    pub(crate) slot: *mut u8,
    pub(crate) case: usize,
    /// Set by the claimer for a receive that found the channel disconnected, and for
    /// sync primitives that need one more bit of result.
    pub(crate) flag: Cell<bool>,
}

impl Entry {
    pub(crate) fn new(wait: &Wait, slot: *mut u8, case: usize) -> Entry {
        Entry {
            wait,
            slot,
            case,
            flag: Cell::new(false),
        }
    }

    /// The entry's wait.
    ///
    /// # Safety
    /// The entry must still be in a queue whose lock the caller holds (its waiter cannot
    /// have returned), or belong to the caller.
    pub(crate) unsafe fn wait(&self) -> &Wait {
        // SAFETY: per the contract.
        unsafe { &*self.wait }
    }
}

/// A FIFO of entries, kept under its owner's lock. Entries are raw pointers into the
/// waiters' frames: each waiter unlinks its entries (or a claimer pops them) before
/// its frame returns.
#[derive(Default)]
pub(crate) struct WaitQueue {
    q: std::collections::VecDeque<*const Entry>,
}

// SAFETY: the entries are only dereferenced under the owning lock (see above).
unsafe impl Send for WaitQueue {}

impl WaitQueue {
    /// An empty queue, usable in `const` initialisers (`gmp::sync::Mutex::new` is `const`).
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            q: std::collections::VecDeque::new(),
        }
    }

    pub(crate) fn push(&mut self, e: &Entry) {
        self.q.push_back(e);
    }

    /// Queues `e` at the head: for a waiter that was woken, lost the race it was woken
    /// for, and waits again (Go's `semacquire` with `lifo`), so it keeps its place.
    pub(crate) fn push_front(&mut self, e: &Entry) {
        self.q.push_front(e);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    #[allow(dead_code)] // kept for gmp::sync users and tests
    pub(crate) fn len(&self) -> usize {
        self.q.len()
    }

    /// Removes `e` if it is still queued.
    pub(crate) fn remove(&mut self, e: &Entry) -> bool {
        let p = e as *const Entry;
        if let Some(i) = self.q.iter().position(|&x| ptr::eq(x, p)) {
            self.q.remove(i);
            true
        } else {
            false
        }
    }

    /// Pops entries until one whose wait this call claims; entries whose wait was claimed
    /// elsewhere (a timeout, another select case) are dropped from the queue on the way.
    ///
    /// # Safety
    /// The caller holds the queue's lock.
    pub(crate) unsafe fn claim_first(&mut self) -> Option<&Entry> {
        while let Some(e) = self.q.pop_front() {
            // SAFETY: queued entries are live while the lock is held.
            let e = unsafe { &*e };
            // SAFETY: as above.
            if unsafe { e.wait() }.try_claim() {
                return Some(e);
            }
        }
        None
    }

    /// Whether some queued entry is not claimed yet (a peer is really waiting). Entries
    /// of the caller's own `me` wait do not count.
    ///
    /// # Safety
    /// The caller holds the queue's lock.
    pub(crate) unsafe fn has_waiter(&self, me: Option<&Wait>) -> bool {
        self.q.iter().any(|&e| {
            // SAFETY: as in `claim_first`.
            let w = unsafe { (*e).wait() };
            !me.is_some_and(|me| ptr::eq(me, w)) && w.claimable()
        })
    }

    /// Like `claim_first`, skipping entries of the caller's own wait `me`.
    ///
    /// # Safety
    /// The caller holds the queue's lock.
    pub(crate) unsafe fn claim_first_other(&mut self, me: &Wait) -> Option<&Entry> {
        let mut i = 0;
        while i < self.q.len() {
            // SAFETY: as in `claim_first`.
            let e = unsafe { &*self.q[i] };
            // SAFETY: as above.
            let w = unsafe { e.wait() };
            if ptr::eq(w, me) {
                i += 1;
                continue;
            }
            self.q.remove(i);
            if w.try_claim() {
                return Some(e);
            }
        }
        None
    }
}

impl Wait {
    /// Whether nobody has claimed this wait yet.
    fn claimable(&self) -> bool {
        // Acquire pairs with a claimer's AcqRel CAS (the caller holds the queue lock,
        // which orders the waiter's setup anyway).
        let w = self.word().load();
        w >> GEN_SHIFT == self.gen && w & CLAIMED == 0
    }
}
