//! One direction of a `PollDesc` (`proc/netpoll.rs`): `0` (nothing known), `READY` (an
//! event nobody consumed), `WAIT` (a goroutine is about to park, not yet saved) or the
//! parked G's address.
//!
//! The waiter announces `0 → WAIT` on its own stack, then parks; its park commit, on g0
//! with the G saved, CASes `WAIT → G`. A waker (an event: `unblock(true)`; a deadline or
//! a close: `unblock(false)`) CASes whatever it finds: `WAIT → READY/0` (the commit will
//! fail and the G not sleep, and it consumes the READY) or `G → 0` (it wakes that G,
//! which the wake-up itself tells of the event). So each park gets exactly one wake-up.
//! Go's `netpollblock`/`netpollunblock`; unlike Go, a woken G finds no READY to swap
//! out, which saves a locked instruction per wait (see `unblock`).

use crate::sync_atomic::AtomicUsize;
use std::sync::atomic::Ordering::*;

pub(crate) const READY: usize = 1;
pub(crate) const WAIT: usize = 2;

/// What [`PollWord::announce`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Announce {
    /// `0 → WAIT`: park next.
    Waiting,
    /// A READY was there and is consumed: retry the syscall.
    Consumed,
    /// Another goroutine waits on this direction.
    Busy,
}

pub(crate) struct PollWord(AtomicUsize);

impl PollWord {
    pub(crate) fn new() -> PollWord {
        PollWord(AtomicUsize::new(0))
    }

    /// Announces a wait, or consumes a pending READY.
    #[inline]
    pub(crate) fn announce(&self) -> Announce {
        // The common case first: nothing pending, so announce the wait. (Trying
        // `READY → 0` first cost a locked instruction per wait that failed on every
        // drained-socket read.) Acquire pairs with the Release CAS in `unblock`; failure
        // (Relaxed) reads nothing we rely on.
        match self.0.compare_exchange(0, WAIT, Acquire, Relaxed) {
            Ok(_) => Announce::Waiting,
            Err(READY) if self.consume() => Announce::Consumed,
            Err(_) => Announce::Busy,
        }
    }

    /// Takes back this waiter's own `WAIT` (an early error or return): a READY that raced
    /// in stays for the next wait.
    #[inline]
    pub(crate) fn retract(&self) {
        // Release, as every write that hands the slot back: the next waiter's Acquire CAS
        // from 0 pairs with it. Failure Relaxed: a READY found instead is left alone.
        let _ = self.0.compare_exchange(WAIT, 0, Release, Relaxed);
    }

    /// The park commit, on g0 with the G saved: `WAIT → g`. `false`: a waker came first,
    /// do not sleep.
    #[inline]
    pub(crate) fn commit(&self, g: usize) -> bool {
        // Release publishes the parked G to `unblock`'s Acquire. Acquire (both ways): a
        // failed commit read the waker's READY or 0, and the G then goes on with what the
        // waker published before it (`unblock`'s Release).
        self.0.compare_exchange(WAIT, g, AcqRel, Acquire).is_ok()
    }

    /// Consumes a READY if there is one. Not a plain swap: once a waker moved the word
    /// on, another goroutine may already have put its WAIT or itself there. Looks
    /// before it CASes: after a wake-up the word is usually 0, and a failed CAS is
    /// still a locked instruction.
    #[inline]
    pub(crate) fn consume(&self) -> bool {
        // Acquire (the load and the CAS) pairs with `unblock`'s Release CAS that set
        // READY; failure Relaxed.
        self.0.load(Acquire) == READY && self.0.compare_exchange(READY, 0, Acquire, Relaxed).is_ok()
    }

    /// Whether a READY is pending.
    #[inline]
    pub(crate) fn is_ready(&self) -> bool {
        // Acquire pairs with `unblock`'s Release CAS that set READY.
        self.0.load(Acquire) == READY
    }

    /// Resets the word when no one can be waiting (the desc is recycled or moved to a
    /// new runtime; the caller's lock or Release store publishes it).
    #[inline]
    pub(crate) fn reset(&self) {
        self.0.store(0, Relaxed);
    }

    /// The waker: an event (`ioready`) or a deadline or close. An event leaves READY,
    /// unless it wakes a parked G: the wake-up is then the news, and the word goes to 0
    /// (the G no longer has a READY to take back with a second locked instruction; 97
    /// of 3,192 user-space samples, `compare.py http`, fell after that CAS). A deadline
    /// or close leaves 0. Returns the parked G to ready, or 0.
    #[inline]
    pub(crate) fn unblock(&self, ioready: bool) -> usize {
        // An event: a Relaxed first guess for the CAS, which carries the ordering (the
        // poller's event count, a SeqCst RMW, came just before). A deadline or a close
        // stored its flag (`expired`, `closing`) just before and must not miss a waiter
        // that announced and then read the flag: a plain load here let both sides miss
        // each other (store buffering; loom's `close_against_a_waiter` found it). An RMW
        // orders the flag before the read of the word: a waiter whose announce comes
        // later in the word's order reads from this RMW (Release) and sees the flag; an
        // earlier one is seen here. Cold paths: one locked instruction per close or
        // fired deadline.
        let mut old = if ioready {
            self.0.load(Relaxed)
        } else {
            self.0.fetch_add(0, AcqRel)
        };
        loop {
            if old == READY || (old == 0 && !ioready) {
                return 0;
            }
            let new = if ioready && (old == 0 || old == WAIT) {
                READY
            } else {
                0
            };
            // AcqRel: Acquire to read the parked G published by the commit; Release so
            // the woken G sees what happened before (pairs with its Acquire CASes).
            match self.0.compare_exchange(old, new, AcqRel, Acquire) {
                Ok(_) => return if old == 0 || old == WAIT { 0 } else { old },
                Err(now) => old = now,
            }
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::words::model::check;
    use loom::sync::atomic::{AtomicBool, AtomicUsize as Count};
    use loom::sync::Arc;
    use loom::thread;
    use std::sync::atomic::Ordering::SeqCst;

    const G: usize = 0x1000;

    struct Shared {
        word: PollWord,
        /// Wake-ups delivered to the parked G.
        wakes: Count,
        /// The desc's `closing` flag, set before a close's `unblock(false)`.
        closing: AtomicBool,
        /// A deadline that fired (`expired`), stored before its `unblock(false)`.
        expired: AtomicBool,
        /// Events so far: the poller's count (`rev`), bumped before its CAS.
        events: Count,
        /// The event's `unblock(true)` woke the parked G.
        event_woke: AtomicBool,
    }

    fn shared() -> Arc<Shared> {
        Arc::new(Shared {
            word: PollWord::new(),
            wakes: Count::new(0),
            closing: AtomicBool::new(false),
            expired: AtomicBool::new(false),
            events: Count::new(0),
            event_woke: AtomicBool::new(false),
        })
    }

    fn wake(s: &Shared, g: usize) {
        if g != 0 {
            assert_eq!(g, G);
            s.wakes.fetch_add(1, SeqCst);
        }
    }

    /// What `wait_since` does with the word: announce, check for a close or deadline,
    /// read the event count, park, then consume a READY or see the count moved. Returns
    /// when the wait is over: "ready", "error" (closed or expired) or "woken" (neither:
    /// the G was woken, by the event if the protocol is right, which counted itself
    /// before the count was read); a lost wake-up spins here forever, which loom
    /// reports.
    fn waiter(s: &Shared, after_announce: impl FnOnce()) -> &'static str {
        match s.word.announce() {
            Announce::Consumed => return "ready",
            Announce::Busy => panic!("one waiter per direction"),
            Announce::Waiting => {}
        }
        after_announce();
        if s.closing.load(Acquire) || s.expired.load(Acquire) {
            s.word.retract();
            return "error";
        }
        let seen = s.events.load(SeqCst);
        if s.word.commit(G) {
            while s.wakes.load(SeqCst) == 0 {
                thread::yield_now();
            }
        }
        if s.word.consume() || s.events.load(SeqCst) != seen {
            return "ready";
        }
        if s.closing.load(Acquire) || s.expired.load(Acquire) {
            "error"
        } else {
            "woken"
        }
    }

    /// The poller's side of an event: count it, then `unblock(true)`, noting whether
    /// that woke the G.
    fn event(s: &Shared) {
        s.events.fetch_add(1, SeqCst);
        let g = s.word.unblock(true);
        if g != 0 {
            s.event_woke.store(true, SeqCst);
        }
        wake(s, g);
    }

    #[test]
    fn park_against_ready() {
        check("poll: park against ready", || {
            let s = shared();
            let p = {
                let s = s.clone();
                thread::spawn(move || event(&s))
            };
            let r = waiter(&s, || {});
            p.join().unwrap();
            assert!(s.wakes.load(SeqCst) <= 1);
            // The event is never lost: seen by the wait, told by the wake-up, or
            // pending for the next wait.
            let woken = r == "woken" && s.event_woke.load(SeqCst);
            assert!(r == "ready" || woken || s.word.is_ready(), "{r}");
        });
    }

    #[test]
    fn deadline_against_readiness() {
        check("poll: deadline against readiness", || {
            let s = shared();
            let p = {
                let s = s.clone();
                thread::spawn(move || event(&s))
            };
            // The deadline's timer is pushed after the announce (`add_deadline`, under
            // the heap's lock, which orders the two).
            let mut t = None;
            let r = waiter(&s, || {
                let s = s.clone();
                t = Some(thread::spawn(move || {
                    s.expired.store(true, Release);
                    wake(&s, s.word.unblock(false));
                }));
            });
            p.join().unwrap();
            // No timer when the wait found the event before it announced.
            if let Some(t) = t {
                t.join().unwrap();
            }
            assert!(s.wakes.load(SeqCst) <= 1, "one park, two wake-ups");
            assert!(
                r != "woken" || s.event_woke.load(SeqCst),
                "woken by neither"
            );
        });
    }

    #[test]
    fn close_against_a_waiter() {
        check("poll: close against a waiter", || {
            let s = shared();
            let c = {
                let s = s.clone();
                thread::spawn(move || {
                    s.closing.store(true, Release);
                    wake(&s, s.word.unblock(false));
                })
            };
            let r = waiter(&s, || {});
            c.join().unwrap();
            assert_eq!(r, "error", "a wait that outlives the close");
            assert!(s.wakes.load(SeqCst) <= 1);
        });
    }
}
