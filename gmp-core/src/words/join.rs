//! A join packet's state word (`proc/spawn.rs`): `RUNNING`, `DONE`, `CANCELLED`, or the
//! address of a waiter parked on the joiner's stack.
//!
//! The finishing side reads the waiter, then CASes the final state in and wakes what it
//! read; the joiner publishes its waiter with a CAS from `RUNNING` inside its park commit.
//! Exactly one of the two sees the other: either the commit fails (the state is final,
//! the joiner does not sleep) or the finisher finds the waiter and wakes it, once. The
//! waiter is read *before* the CAS because the joiner may leave (its frame, which holds
//! the waiter, gone) as soon as it sees the final state.

use crate::sync_atomic::AtomicUsize;
use std::sync::atomic::Ordering;

pub(crate) const RUNNING: usize = 0;
// `finish(CANCELLED)` comes only from the shutdown sweep, for a G that will never run
// again, so it never races with `finish(DONE)`.
pub(crate) const DONE: usize = 1;
pub(crate) const CANCELLED: usize = 2;

pub(crate) struct JoinWord(AtomicUsize);

impl JoinWord {
    pub(crate) fn new() -> JoinWord {
        JoinWord(AtomicUsize::new(RUNNING))
    }

    /// Publishes `final_state` (`DONE` or `CANCELLED`). If a waiter was parked, returns
    /// `read(waiter)`, taken before the waiter could leave: the caller wakes it. `None`
    /// if nobody waited or the state was already final.
    #[inline]
    pub(crate) fn finish<R>(&self, final_state: usize, read: impl Fn(usize) -> R) -> Option<R> {
        // Acquire pairs with the Release CAS in `publish` that published the waiter, so
        // reading it is safe. The waiter stays valid while the state still points at it
        // (its owner leaves only after seeing a final state), so read it first, then
        // publish with Release (pairs with the joiner's Acquire loads).
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            if cur == DONE || cur == CANCELLED {
                return None;
            }
            let wake = (cur != RUNNING).then(|| read(cur));
            // AcqRel: Release publishes the result (see above); Acquire (both ways)
            // reads a waiter published meanwhile, as the load above.
            match self
                .0
                .compare_exchange(cur, final_state, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return wake,
                Err(now) => cur = now,
            }
        }
    }

    /// Whether the state is final; after `true` the result is visible.
    #[inline]
    pub(crate) fn is_final(&self) -> bool {
        // Acquire pairs with the Release in `finish`: the result is visible after this.
        let s = self.0.load(Ordering::Acquire);
        s == DONE || s == CANCELLED
    }

    /// The joiner's park commit: publishes `waiter` (an address, never 0, 1 or 2) if the
    /// state is still `RUNNING`. `false`: it is final, do not sleep.
    #[inline]
    pub(crate) fn publish(&self, waiter: usize) -> bool {
        // Release publishes the waiter to `finish`'s Acquire; Acquire on failure: the
        // state is final, and the result it guards is read next.
        self.0
            .compare_exchange(RUNNING, waiter, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Takes `waiter` back out (its frame unwinds). Fails harmlessly if `finish` already
    /// replaced it.
    #[inline]
    pub(crate) fn retract(&self, waiter: usize) {
        // AcqRel/Acquire as in `publish`; nothing is read through the waiter.
        let _ = self
            .0
            .compare_exchange(waiter, RUNNING, Ordering::AcqRel, Ordering::Acquire);
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::words::model::check;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::AtomicUsize as Count;
    use loom::sync::Arc;
    use loom::thread;
    use std::sync::atomic::Ordering::SeqCst;

    /// A joiner's frame: the waiter it publishes and the result slot the finisher
    /// writes. Leaving the frame is modelled as a write to the waiter cell, so loom
    /// reports a finisher that reads the waiter after the joiner could have left.
    struct Shared {
        word: JoinWord,
        waiter: UnsafeCell<usize>,
        result: UnsafeCell<u32>,
        wakes: Count,
    }

    fn shared() -> Arc<Shared> {
        Arc::new(Shared {
            word: JoinWord::new(),
            waiter: UnsafeCell::new(0),
            result: UnsafeCell::new(0),
            wakes: Count::new(0),
        })
    }

    /// The finishing goroutine: writes the result, finishes, wakes what it read.
    fn finisher(s: &Shared, state: usize) {
        if state == DONE {
            s.result.with_mut(|r| unsafe { *r = 42 });
        }
        let addr = &s.waiter as *const _ as usize;
        if let Some(w) = s.word.finish(state, |a| {
            assert_eq!(a, addr);
            s.waiter.with(|w| unsafe { *w })
        }) {
            assert_eq!(w, 7, "the waiter read is the one published");
            s.wakes.fetch_add(1, SeqCst);
        }
    }

    /// The joiner: publishes its waiter unless the state is final, sleeps until woken,
    /// then reads the result and leaves its frame.
    fn joiner(s: &Shared) {
        let addr = &s.waiter as *const _ as usize;
        while !s.word.is_final() {
            s.waiter.with_mut(|w| unsafe { *w = 7 });
            if s.word.publish(addr) {
                // Parked: only the finisher's wake-up lets it go on.
                while s.wakes.load(SeqCst) == 0 {
                    thread::yield_now();
                }
            }
        }
        // Leaving the frame: the finisher must be done reading the waiter.
        s.waiter.with_mut(|w| unsafe { *w = 0 });
    }

    #[test]
    fn park_against_finish() {
        check("join: park against finish", || {
            let s = shared();
            let f = {
                let s = s.clone();
                thread::spawn(move || finisher(&s, DONE))
            };
            joiner(&s);
            assert_eq!(s.result.with(|r| unsafe { *r }), 42);
            f.join().unwrap();
            assert!(s.wakes.load(SeqCst) <= 1);
        });
    }

    #[test]
    fn retract_against_finish() {
        // The joiner's park panics (deadlock) and its frame unwinds: it takes the waiter
        // back while the finisher may be reading it.
        check("join: retract against finish", || {
            let s = shared();
            let f = {
                let s = s.clone();
                thread::spawn(move || finisher(&s, DONE))
            };
            let addr = &s.waiter as *const _ as usize;
            s.waiter.with_mut(|w| unsafe { *w = 7 });
            if s.word.publish(addr) {
                s.word.retract(addr);
            }
            // Unwound: the frame is gone. If the finisher read the waiter, it did so
            // before its CAS, which the failed retract or the final state orders first.
            // (After a retract that succeeded, a finisher may still be reading the
            // waiter it loaded before: it then fails its CAS and drops what it read.
            // That read races with the frame's reuse, which this model leaves out: a
            // goroutine's stack stays mapped, and the copied `G` pointer is discarded.)
            if s.word.is_final() {
                s.waiter.with_mut(|w| unsafe { *w = 0 });
            }
            f.join().unwrap();
        });
    }
}
