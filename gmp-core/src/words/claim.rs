//! The claim word of a wait (`proc/wait.rs`): `gen << GEN_SHIFT | TIMEOUT | PARKED |
//! DONE | CLAIMED`.
//!
//! - claim: CAS `gen|0 → gen|CLAIMED` (peers under the queue's lock, or a timer with
//!   `DONE | TIMEOUT`); one claimant wins, and a claimant of an older generation never
//!   does;
//! - done: the claimer writes its result, then `fetch_or(DONE)`; if `PARKED` was set the
//!   goroutine is asleep and the claimer readies it;
//! - park: the waiter's park commit (on g0, the G saved) does `fetch_or(PARKED)`; if
//!   `DONE` was already set it does not sleep.
//!
//! Exactly one side sees the other's bit, so the goroutine is readied exactly once.

use crate::sync_atomic::AtomicU64;
use std::sync::atomic::Ordering::*;

pub(crate) const CLAIMED: u64 = 1;
pub(crate) const DONE: u64 = 2;
pub(crate) const PARKED: u64 = 4;
pub(crate) const TIMEOUT: u64 = 8;
pub(crate) const GEN_SHIFT: u32 = 4;

pub(crate) struct ClaimWord(AtomicU64);

impl ClaimWord {
    pub(crate) fn new() -> ClaimWord {
        ClaimWord(AtomicU64::new(0))
    }

    /// Starts the next wait: a new generation, no bits. Only the waiter writes its word
    /// between waits; peers learn of the wait through a queue lock taken after this.
    #[inline]
    pub(crate) fn begin(&self) -> u64 {
        // Relaxed: see above (older generations' claimants only CAS, and fail).
        let gen = (self.0.load(Relaxed) >> GEN_SHIFT).wrapping_add(1) & (u64::MAX >> GEN_SHIFT);
        self.0.store(gen << GEN_SHIFT, Relaxed);
        gen
    }

    /// CAS `gen|0 → gen|CLAIMED|extra`; the word before on success.
    #[inline]
    pub(crate) fn claim(&self, gen: u64, extra: u64) -> Option<u64> {
        // Relaxed first load: only a hint for the CAS, which carries the ordering.
        let mut cur = self.0.load(Relaxed);
        loop {
            if cur >> GEN_SHIFT != gen || cur & CLAIMED != 0 {
                return None;
            }
            // AcqRel: Acquire the waiter's setup of this generation (published to us by
            // the queue lock or the timer heap lock anyway), Release our claim.
            match self
                .0
                .compare_exchange_weak(cur, cur | CLAIMED | extra, AcqRel, Relaxed)
            {
                Ok(old) => return Some(old),
                Err(now) => cur = now,
            }
        }
    }

    /// The claimer's last step: marks the wait done. Returns whether the waiter had
    /// parked (then the claimer readies it). The wait must not be touched after this.
    #[inline]
    pub(crate) fn done(&self) -> bool {
        // Release publishes what the claimer wrote into the waiter's frame; Acquire
        // pairs with the park commit's `fetch_or(PARKED)`.
        self.0.fetch_or(DONE, AcqRel) & PARKED != 0
    }

    /// The park commit: `true` if the waiter may sleep (not done yet).
    #[inline]
    pub(crate) fn park_commit(&self) -> bool {
        // AcqRel: Release publishes the parked state to `done`'s Acquire; Acquire
        // pairs with `done`'s Release when DONE is already set.
        self.0.fetch_or(PARKED, AcqRel) & DONE == 0
    }

    /// The word, with Acquire: after `DONE` is seen, the claimer's writes are visible.
    #[inline]
    pub(crate) fn load(&self) -> u64 {
        // Acquire pairs with `done`'s Release.
        self.0.load(Acquire)
    }

    /// The word, Relaxed: for readers that order themselves otherwise (`checkdead`,
    /// stale-timer checks).
    #[inline]
    pub(crate) fn load_relaxed(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// Running again after a done wait: clears `PARKED`. A plain store: with `DONE` set,
    /// no claimer or timer writes this word any more.
    #[inline]
    pub(crate) fn unpark(&self) {
        self.0.store(self.0.load(Relaxed) & !PARKED, Relaxed);
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

    struct Shared {
        word: ClaimWord,
        /// The waiter's frame, where the claimer hands its value over.
        slot: UnsafeCell<u32>,
        wins: Count,
        wakes: Count,
    }

    fn shared() -> (Arc<Shared>, u64) {
        let s = Arc::new(Shared {
            word: ClaimWord::new(),
            slot: UnsafeCell::new(0),
            wins: Count::new(0),
            wakes: Count::new(0),
        });
        let gen = s.word.begin();
        (s, gen)
    }

    /// A peer: claims, writes its value into the waiter's frame, marks done, readies.
    fn claimant(s: &Shared, gen: u64, value: u32) {
        if s.word.claim(gen, 0).is_some() {
            s.wins.fetch_add(1, SeqCst);
            s.slot.with_mut(|v| unsafe { *v = value });
            if s.word.done() {
                s.wakes.fetch_add(1, SeqCst);
            }
        }
    }

    /// The timer of a wait with a deadline.
    fn timer(s: &Shared, gen: u64) {
        if let Some(old) = s.word.claim(gen, DONE | TIMEOUT) {
            s.wins.fetch_add(1, SeqCst);
            if old & PARKED != 0 {
                s.wakes.fetch_add(1, SeqCst);
            }
        }
    }

    /// `block_g`: park until done; then the outcome.
    fn waiter(s: &Shared) -> Option<u32> {
        while s.word.load() & DONE == 0 {
            if s.word.park_commit() {
                // Asleep until readied: a lost wake-up spins here forever (loom reports
                // it); the model has one wait, so any wake-up is this one's.
                while s.wakes.load(SeqCst) == 0 {
                    thread::yield_now();
                }
            }
        }
        s.word.unpark();
        let w = s.word.load();
        (w & TIMEOUT == 0).then(|| s.slot.with(|v| unsafe { *v }))
    }

    #[test]
    fn two_claimants_of_one_waiter() {
        check("claim: two claimants of one waiter", || {
            let (s, gen) = shared();
            let a = {
                let s = s.clone();
                thread::spawn(move || claimant(&s, gen, 1))
            };
            let b = {
                let s = s.clone();
                thread::spawn(move || claimant(&s, gen, 2))
            };
            let got = waiter(&s).expect("no timer here");
            a.join().unwrap();
            b.join().unwrap();
            assert_eq!(s.wins.load(SeqCst), 1, "two claimants won");
            assert!(got == 1 || got == 2);
            assert!(s.wakes.load(SeqCst) <= 1, "readied twice");
        });
    }

    #[test]
    fn a_deadline_against_a_claimant() {
        check("claim: deadline against a claimant", || {
            let (s, gen) = shared();
            let a = {
                let s = s.clone();
                thread::spawn(move || claimant(&s, gen, 9))
            };
            let t = {
                let s = s.clone();
                thread::spawn(move || timer(&s, gen))
            };
            let got = waiter(&s);
            a.join().unwrap();
            t.join().unwrap();
            assert_eq!(s.wins.load(SeqCst), 1);
            assert!(got.is_none() || got == Some(9));
            assert!(s.wakes.load(SeqCst) <= 1);
        });
    }

    #[test]
    fn a_stale_claimant_never_claims_a_later_wait() {
        check("claim: stale claimant against the next wait", || {
            let (s, gen) = shared();
            // The first wait ends by its own claim (a case it found ready).
            assert!(s.word.claim(gen, 0).is_some());
            s.word.done();
            let stale = {
                let s = s.clone();
                thread::spawn(move || timer(&s, gen))
            };
            let next = s.word.begin();
            let a = {
                let s = s.clone();
                thread::spawn(move || claimant(&s, next, 5))
            };
            assert_eq!(waiter(&s), Some(5), "the stale timer ended the next wait");
            stale.join().unwrap();
            a.join().unwrap();
        });
    }
}
