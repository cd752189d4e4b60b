//! Process-wide HTTP server counters for `gmp_http::debug`: responses by status class
//! and open connections, summed over every [`Server`](crate::Server) of the process.
//!
//! Responses are counted per thread: a thread takes a cache-line sized counter set
//! when it first counts one, and lets go of it when it exits; the next thread to count
//! takes a set let go of before it makes one, and adds to the counts in it. So there
//! are as many sets as threads that ever counted at the same time (Ms come and go),
//! listed in [`SETS`] for [`responses`] to sum, never freed.
//!
//! Only the owning thread writes its set, so a count is a plain load and store, not a
//! locked `fetch_add`: a locked add waits for every store before it (the response's)
//! to drain, and `perf record` put 3.3% of the pipelined server's CPU on the
//! instruction after it (`http16` under a 50% quota). The shards picked by the
//! connection's slot that it had also put connections served on different threads on
//! one line.
//!
//! A connection is counted with one `fetch_add` when it registers and one `fetch_sub`
//! when it leaves. Nothing else reads or orders by these: they are statistics, summed
//! on demand.
//!
//! Invariant: a set is written only by the thread whose thread-local points to it, and
//! at most one thread's does (its `owned` flag). The thread-local is read afresh by
//! the `#[inline(never)]` [`response`] on each count and there is no switch inside, so
//! a goroutine that moves to another thread between two counts writes the new thread's
//! set (gmp-core's thread-local rule).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Mutex;

/// Status classes: `0` for a status outside 100..=599, else the first digit.
pub(crate) const CLASSES: usize = 6;

/// One thread's response counts by class.
#[repr(align(64))]
struct Set {
    by_class: [AtomicU64; CLASSES],
    /// A thread counts with this set.
    owned: AtomicBool,
}

/// Every thread's set, in the order the threads first counted.
static SETS: Mutex<Vec<&'static Set>> = Mutex::new(Vec::new());

static OPEN: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's set, once it has counted a response. `const`-initialised with no
    /// destructor: reading it is a plain TLS load.
    static MINE: Cell<Option<&'static Set>> = const { Cell::new(None) };
    /// Lets go of this thread's set when the thread exits (set up by `register`).
    static OWNER: Owner = const { Owner(Cell::new(None)) };
}

struct Owner(Cell<Option<&'static Set>>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(set) = self.0.get() {
            MINE.with(|m| m.set(None));
            // Release: pairs with `register`'s Acquire claim, so the next owner reads
            // this thread's last counts before it adds to them.
            set.owned.store(false, Release);
        }
    }
}

/// Counts a response with `status` on this thread's set.
#[inline(never)]
pub(crate) fn response(status: u16) {
    let class = match status {
        100..=599 => (status / 100) as usize,
        _ => 0,
    };
    let set = MINE.with(|m| m.get()).unwrap_or_else(register);
    let c = &set.by_class[class];
    // Relaxed, and a load and a store rather than a `fetch_add`: only this thread writes
    // the set (the invariant), and `responses` reads it as a statistic (no pair).
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// Gives this thread a set: one an exited thread let go of, or a new one.
#[cold]
#[inline(never)]
fn register() -> &'static Set {
    let set = {
        let mut sets = SETS.lock().unwrap_or_else(|e| e.into_inner());
        // Acquire: pairs with `Owner::drop`'s Release (see there).
        let free = sets.iter().copied().find(|s| {
            s.owned
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
        });
        free.unwrap_or_else(|| {
            let set: &'static Set = Box::leak(Box::new(Set {
                by_class: [const { AtomicU64::new(0) }; CLASSES],
                owned: AtomicBool::new(true),
            }));
            sets.push(set);
            set
        })
    };
    // During the thread's teardown `OWNER` may be gone: then the set stays owned (the
    // thread's last counts still go to it, and no other thread writes it).
    let _ = OWNER.try_with(|o| o.0.set(Some(set)));
    MINE.with(|m| m.set(Some(set)));
    set
}

/// A connection registered with a server.
pub(crate) fn opened() {
    // Relaxed: a statistic.
    OPEN.fetch_add(1, Relaxed);
}

/// A connection left its server's registry.
pub(crate) fn closed() {
    // Relaxed: a statistic.
    OPEN.fetch_sub(1, Relaxed);
}

/// Responses so far by class: index 1 to 5 for `1xx` to `5xx`, 0 for anything else.
pub(crate) fn responses() -> [u64; CLASSES] {
    let mut out = [0u64; CLASSES];
    for s in SETS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        for (o, c) in out.iter_mut().zip(&s.by_class) {
            // Relaxed: a statistic.
            *o += c.load(Relaxed);
        }
    }
    out
}

/// Connections registered with a server of this process and not yet closed.
pub(crate) fn open_connections() -> usize {
    // Relaxed: a statistic.
    OPEN.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> usize {
        SETS.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The tests here count class 0 (no server sends it) and take turns.
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn counts_outlive_their_threads_and_sets_are_reused() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let (before, sets_before) = (responses(), sets());
        // One after another: each thread has exited (and let go of its set) before the
        // next one counts.
        for _ in 0..50 {
            std::thread::spawn(|| {
                response(204);
                response(700); // outside 100..=599: class 0
            })
            .join()
            .unwrap();
        }
        let after = responses();
        assert_eq!(after[0] - before[0], 50, "a count was lost");
        assert!(after[2] - before[2] >= 50, "a count was lost");
        // Without reuse there would be 50 more sets; other tests' threads may take the
        // one let go of in between, but not 40 times.
        let grown = sets() - sets_before;
        assert!(
            grown <= 10,
            "{grown} new sets for 50 threads that came and went"
        );
    }

    #[test]
    fn threads_at_once_each_count_on_their_own_set() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let before = responses()[0];
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10_000 {
                        response(0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(responses()[0] - before, 80_000, "two threads wrote one set");
    }
}
