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
//! A connection's loop counts its responses in a local [`Tally`] and adds them to the
//! set once per batch it sends.
//!
//! Invariant: a set is written only by the thread whose thread-local points to it, and
//! at most one thread's does (its `owned` flag). The thread-local is read afresh by
//! the `#[inline(never)]` flush each time and there is no switch inside, so a goroutine
//! that moves to another thread between two flushes writes the new thread's set
//! (gmp-core's thread-local rule).

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

/// Responses a connection's loop answered and has not yet added to the thread's set.
///
/// Counting is a local increment; [`flush`](Self::flush) adds them all with one look
/// at the thread-local. The loop flushes before each of its sends, so a client that
/// has its response finds it counted (but for a response that went out from inside the
/// handler or `finish`, streamed or large, as before the tally), and when it ends
/// (`Drop`). For 16 pipelined requests that is one flush instead of 16 calls that each
/// read the thread-local (24 instructions a response, callgrind, `http16`). A goroutine
/// that moves to another thread between counting and flushing adds to the new thread's
/// set: the flush reads the thread-local afresh.
pub(crate) struct Tally {
    /// 2xx responses, nearly all of them.
    ok: u64,
    /// Other classes (index as in [`responses`]), and whether any is non-zero.
    other: [u64; CLASSES],
    any_other: bool,
}

impl Tally {
    pub(crate) const fn new() -> Tally {
        Tally {
            ok: 0,
            other: [0; CLASSES],
            any_other: false,
        }
    }

    /// Counts a response with `status`.
    #[inline]
    pub(crate) fn add(&mut self, status: u16) {
        if (200..300).contains(&status) {
            self.ok += 1;
        } else {
            self.other[class(status)] += 1;
            self.any_other = true;
        }
    }

    /// Adds what was counted to this thread's set.
    #[inline]
    pub(crate) fn flush(&mut self) {
        if self.ok != 0 || self.any_other {
            add_tally(self);
        }
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.flush();
    }
}

fn class(status: u16) -> usize {
    match status {
        100..=599 => (status / 100) as usize,
        _ => 0,
    }
}

/// `Tally::flush`'s work. `#[inline(never)]` with no switch inside: the thread-local is
/// read afresh on each flush (gmp-core's thread-local rule).
#[inline(never)]
fn add_tally(t: &mut Tally) {
    let set = MINE.with(|m| m.get()).unwrap_or_else(register);
    // Relaxed, and a load and a store rather than a `fetch_add`: only this thread writes
    // the set (the invariant), and `responses` reads it as a statistic (no pair).
    let c = &set.by_class[2];
    c.store(c.load(Relaxed) + t.ok, Relaxed);
    t.ok = 0;
    if t.any_other {
        for (c, n) in set.by_class.iter().zip(&mut t.other) {
            c.store(c.load(Relaxed) + *n, Relaxed);
            *n = 0;
        }
        t.any_other = false;
    }
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

    /// Counts one response on this thread's set (the drop flushes).
    fn response(status: u16) {
        let mut t = Tally::new();
        t.add(status);
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
    fn a_tally_adds_when_flushed_and_when_dropped() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let before = responses();
        let mut t = Tally::new();
        t.add(700); // class 0, as `response`
        t.add(99);
        t.add(200);
        assert_eq!(responses()[0], before[0], "counted before the flush");
        t.flush();
        let flushed = responses();
        assert_eq!(flushed[0] - before[0], 2, "class 0 lost in the flush");
        assert!(flushed[2] - before[2] >= 1, "the 2xx lost in the flush");
        t.flush();
        assert_eq!(responses()[0], flushed[0], "a second flush added again");
        t.add(600);
        t.add(204);
        drop(t);
        let dropped = responses();
        assert_eq!(dropped[0] - flushed[0], 1, "the drop did not flush");
        assert!(
            dropped[2] - flushed[2] >= 1,
            "the drop did not flush the 2xx"
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
