//! The word of an M's note (`proc/m.rs`'s `Note`, a one-shot futex event): 0 armed, 1
//! woken. `wake` sets it and tells the caller whether to `futex_wake`; a sleeper returns
//! once it reads 1. The futex calls are `Note`'s; this type owns the word's transitions
//! and orderings.
//!
//! Invariant: a wake is never lost. It sets the word, which only the note's own M
//! clears (`clear`, before it publishes itself to any waker), so a sleep that starts
//! after the wake returns at once; and what the waker wrote before `wake` (the P it
//! hands over in `next_p`) is visible to the M after its sleep returns.

use crate::sync_atomic::AtomicU32;
use std::sync::atomic::Ordering::*;

pub(crate) struct NoteWord(AtomicU32);

impl NoteWord {
    pub(crate) fn new() -> NoteWord {
        NoteWord(AtomicU32::new(0))
    }

    /// Re-arms the note. Only its own M, before it makes itself findable by a waker
    /// (an idle list, `locked_ms`), whose lock orders this before any `wake`.
    #[inline]
    pub(crate) fn clear(&self) {
        // Relaxed: ordered by that lock (see above).
        self.0.store(0, Relaxed);
    }

    /// Sets the note; `true` if it was armed (the caller then wakes a sleeper).
    #[inline]
    pub(crate) fn wake(&self) -> bool {
        // Release pairs with the Acquire in `is_woken`: the waker's writes before this
        // (the P it hands over) are visible to the woken M.
        self.0.swap(1, Release) == 0
    }

    /// Whether the note was woken; after `true`, the waker's writes are visible.
    #[inline]
    pub(crate) fn is_woken(&self) -> bool {
        // Acquire pairs with the Release swap in `wake`.
        self.0.load(Acquire) != 0
    }

    /// The word, for `futex_wait`/`futex_wake` on it (they wait while it holds 0).
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
}
