//! The word of an M's note (`proc/m.rs`'s `Note`, a one-shot futex event): 0 armed, 1
//! woken, 2 armed with its M asleep (or on its way into `futex_wait`). `wake` sets it
//! and tells the caller whether to `futex_wake`: only if the M said it sleeps, so a wake
//! that comes while the M still spins on the word costs no system call on either side.
//! The futex calls are `Note`'s; this type owns the word's transitions and orderings.
//!
//! Invariant: a wake is never lost. It sets the word, which only the note's own M
//! clears (`clear`, before it publishes itself to any waker), so a sleep that starts
//! after the wake returns at once; an M goes into `futex_wait` only on 2, which it stored
//! by a compare-exchange from 0, so a wake after that store sees 2 and wakes it, and one
//! before it makes the compare-exchange fail. What the waker wrote before `wake` (the P
//! it hands over in `next_p`) is visible to the M after its sleep returns.

use crate::sync_atomic::AtomicU32;
use std::sync::atomic::Ordering::*;

/// Armed, the M not (yet) in the kernel.
const ARMED: u32 = 0;
/// Woken.
const WOKEN: u32 = 1;
/// Armed, the M in (or entering) `futex_wait` on this value.
pub(crate) const ASLEEP: u32 = 2;

pub(crate) struct NoteWord(AtomicU32);

impl NoteWord {
    pub(crate) fn new() -> NoteWord {
        NoteWord(AtomicU32::new(ARMED))
    }

    /// Re-arms the note. Only its own M, before it makes itself findable by a waker
    /// (an idle list, `locked_ms`), whose lock orders this before any `wake`.
    #[inline]
    pub(crate) fn clear(&self) {
        // Relaxed: ordered by that lock (see above).
        self.0.store(ARMED, Relaxed);
    }

    /// Sets the note; `true` if its M said it sleeps (the caller then `futex_wake`s it).
    #[inline]
    pub(crate) fn wake(&self) -> bool {
        // Release pairs with the Acquire in `is_woken` and `prepare_sleep`: the waker's
        // writes before this (the P it hands over) are visible to the woken M.
        self.0.swap(WOKEN, Release) == ASLEEP
    }

    /// Whether the note was woken; after `true`, the waker's writes are visible.
    #[inline]
    pub(crate) fn is_woken(&self) -> bool {
        // Acquire pairs with the Release swap in `wake`.
        self.0.load(Acquire) == WOKEN
    }

    /// The M is about to `futex_wait` on [`ASLEEP`]: marks the word so that a `wake`
    /// from now on makes the system call. `false` if it was woken meanwhile (then the
    /// waker's writes are visible, as after `is_woken`).
    #[inline]
    pub(crate) fn prepare_sleep(&self) -> bool {
        // Acquire on both outcomes pairs with the Release swap in `wake` (a failure
        // reads WOKEN); the success publishes nothing. A word already ASLEEP (a timed
        // sleep that ran out and sleeps again) stays so.
        match self.0.compare_exchange(ARMED, ASLEEP, Acquire, Acquire) {
            Ok(_) => true,
            Err(v) => v == ASLEEP,
        }
    }

    /// The word, for `futex_wait`/`futex_wake` on it (they wait while it holds
    /// [`ASLEEP`]).
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn key(&self) -> &AtomicU32 {
        &self.0
    }

    /// In a loom build no M runs (only the words' models do), so nobody sleeps on a
    /// futex; `Note` still compiles against this.
    #[cfg(loom)]
    pub(crate) fn key(&self) -> &std::sync::atomic::AtomicU32 {
        unreachable!("a loom build runs only the words' models, which never futex-wait")
    }

    /// The word's value, for a model's futex (which waits while it holds [`ASLEEP`]).
    #[cfg(all(test, loom))]
    pub(crate) fn load(&self) -> u32 {
        self.0.load(SeqCst)
    }
}

/// The note's wake-up, with the futex modelled as a mutex and condition variable (the
/// kernel compares the word and queues the waiter atomically, as `futex_wait` under the
/// mutex does here): whether the M spins first or sleeps at once, and wherever the waker
/// comes, the M returns woken and sees what the waker wrote.
#[cfg(all(test, loom))]
mod models {
    use super::*;
    use crate::words::model::check;
    use loom::cell::UnsafeCell;
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    struct Futex {
        word: NoteWord,
        lock: Mutex<()>,
        cond: Condvar,
        next_p: UnsafeCell<usize>,
    }

    fn futex_wait(f: &Futex) {
        let g = f.lock.lock().unwrap();
        if f.word.load() == ASLEEP {
            drop(f.cond.wait(g).unwrap());
        }
    }

    fn futex_wake(f: &Futex) {
        let _g = f.lock.lock().unwrap();
        f.cond.notify_one();
    }

    fn run(spins: usize) {
        let f = Arc::new(Futex {
            word: NoteWord::new(),
            lock: Mutex::new(()),
            cond: Condvar::new(),
            next_p: UnsafeCell::new(0),
        });
        let w = f.clone();
        let waker = thread::spawn(move || {
            // SAFETY: a loom cell; loom reports a write that races with the M's read.
            w.next_p.with_mut(|p| unsafe { *p = 7 });
            if w.word.wake() {
                futex_wake(&w);
            }
        });
        // `Note::sleep`: spin a little, then sleep until woken.
        let mut woken = false;
        for _ in 0..spins {
            if f.word.is_woken() {
                woken = true;
                break;
            }
            thread::yield_now();
        }
        while !woken {
            if !f.word.prepare_sleep() {
                break;
            }
            futex_wait(&f);
            woken = f.word.is_woken();
        }
        // SAFETY: a loom cell; loom reports a read that races with the waker's write.
        assert_eq!(f.next_p.with(|p| unsafe { *p }), 7);
        waker.join().unwrap();
    }

    #[test]
    fn a_wake_reaches_a_note_that_sleeps_at_once() {
        check("note_sleeps_at_once", || run(0));
    }

    #[test]
    fn a_wake_reaches_a_note_that_spins_first() {
        check("note_spins_first", || run(1));
    }
}
