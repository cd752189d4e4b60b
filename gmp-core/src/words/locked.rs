//! The list of locked Ms (`proc/lockedm.rs`, `Sched::locked_ms`): Ms whose G parked
//! mid-unwind and must resume on them, from the park until another M claims them, with
//! the count of those asleep (`nmlocked`, Go's `sched.nmidlelocked`).
//!
//! This protocol runs on locks, not on a lock-free word: the list has its own mutex,
//! and `count` runs under the scheduler lock too (`checkdead` reads `nmlocked` under
//! it). The parking M wakes through its note (`words/note.rs`) and reads the P it is
//! handed (`M::next_p`) after the note's Acquire.
//!
//! Invariants: an M is listed from before its G can be woken until exactly one of its
//! G's dequeuer (`startlockedm`), a park that did not happen (`cancel`) or `shutdown`
//! unlists it, and only that one wakes it; it is counted in `nmlocked` at most once,
//! and uncounted by whoever unlists it, so the count balances (it is 0 once no M is
//! listed). The models (`scripts/loom.sh locked`) run the runtime's own sequence on
//! this type, with loom's mutexes standing for the scheduler lock and the run queue.

use crate::sync_atomic::{AtomicUsize, Mutex};
use std::sync::atomic::Ordering::SeqCst;

struct Entry {
    m: usize,
    /// Counted in `nmlocked` (`count` ran while the M was listed).
    counted: bool,
}

pub(crate) struct LockedMs {
    list: Mutex<Vec<Entry>>,
    nmlocked: AtomicUsize,
}

impl LockedMs {
    pub(crate) fn new() -> LockedMs {
        LockedMs {
            list: Mutex::new(Vec::new()),
            nmlocked: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> crate::sync_atomic::MutexGuard<'_, Vec<Entry>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `prepare`: lists `m` (its note re-armed first), unless `shutdown()`, read under
    /// the list's lock, is true. `shutdown` sets its flag before it drains the list
    /// ([`take_all`](Self::take_all)) under the same lock, so either the drain sees `m`
    /// or `m` sees the flag: `false` means not listed, and the caller wakes itself.
    pub(crate) fn list(&self, m: usize, shutdown: impl FnOnce() -> bool) -> bool {
        let mut l = self.lock();
        if shutdown() {
            return false;
        }
        l.push(Entry { m, counted: false });
        true
    }

    /// `count`: if `m` is still listed, counts it asleep with its G (`true`). Called
    /// with the scheduler lock held, as `checkdead`'s read of [`nmlocked`](Self::nmlocked).
    pub(crate) fn count(&self, m: usize) -> bool {
        let mut l = self.lock();
        match l.iter_mut().find(|e| e.m == m) {
            Some(e) => {
                debug_assert!(!e.counted);
                e.counted = true;
                self.nmlocked.fetch_add(1, SeqCst);
                true
            }
            None => false,
        }
    }

    /// `startlockedm` claiming its target, or `cancel`: unlists `m` and uncounts it.
    /// `false` if it was not listed (`shutdown` took it first).
    pub(crate) fn unlist(&self, m: usize) -> bool {
        let mut l = self.lock();
        let Some(i) = l.iter().position(|e| e.m == m) else {
            return false;
        };
        if l.swap_remove(i).counted {
            self.nmlocked.fetch_sub(1, SeqCst);
        }
        true
    }

    /// `shutdown`: unlists (and uncounts) every M, for the caller to wake.
    pub(crate) fn take_all(&self) -> Vec<usize> {
        let mut l = self.lock();
        l.drain(..)
            .map(|e| {
                if e.counted {
                    self.nmlocked.fetch_sub(1, SeqCst);
                }
                e.m
            })
            .collect()
    }

    /// Listed Ms asleep with their G.
    pub(crate) fn nmlocked(&self) -> usize {
        self.nmlocked.load(SeqCst)
    }

    /// The listed Ms (for `checkdead`'s slow path).
    pub(crate) fn listed(&self) -> Vec<usize> {
        self.lock().iter().map(|e| e.m).collect()
    }
}

#[cfg(all(test, loom))]
#[path = "locked_models.rs"]
mod tests;
