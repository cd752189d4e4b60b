//! The words of the runtime's handshakes (wake-ups, P sections, locked Ms), as small
//! pure state machines: atomics (one list under its own mutex) and their transitions,
//! no scheduler calls. The runtime's code around them (`park`,
//! `ready`, timers, the poller) decides what a transition means; these types only own
//! the word and the orderings that make each transition safe, which is what
//! `scripts/loom.sh` model-checks with loom (`cfg(loom)`, through `sync_atomic`).
//!
//! - [`JoinWord`](join::JoinWord): a join packet's state (`proc/spawn.rs`).
//! - [`PollWord`](poll::PollWord): one direction of a `PollDesc` (`proc/netpoll.rs`).
//! - [`ClaimWord`](claim::ClaimWord): the claim word of a wait (`proc/wait.rs`).
//! - [`LockedMs`](locked::LockedMs): the list of locked Ms and their count, a
//!   lock-based protocol (`proc/lockedm.rs`).
//! - [`NoteWord`](note::NoteWord): an M's note, the one-shot event it sleeps on
//!   (`proc/m.rs`).
//! - [`Owner`](section::Owner) and [`Locks`](section::Locks): a P's owner and an M's
//!   section count, the Dekker handshake of P sections (`proc/handoff.rs`).
//!
//! Every method is `#[inline]` and does exactly the atomic operations the code did
//! before it was factored out, so the runtime's hot paths pay nothing for the seam.
//!
//! Invariant the models check, for each wake-up word: exactly one wake-up per park (none
//! lost, none doubled), and whatever the waker wrote before its wake-up is visible to
//! the woken. `section.rs` and `locked.rs` state their own.

pub(crate) mod claim;
pub(crate) mod join;
pub(crate) mod locked;
pub(crate) mod note;
pub(crate) mod poll;
pub(crate) mod section;

#[cfg(all(test, loom))]
mod model {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;

    /// Runs `f` under loom and prints how many interleavings it explored.
    pub(crate) fn check(name: &str, f: impl Fn() + Sync + Send + 'static) {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        loom::model(move || {
            r.fetch_add(1, Relaxed);
            f();
        });
        println!("loom model {name}: {} interleavings", runs.load(Relaxed));
    }
}
