//! How a `gmp::sync` primitive waits: [`block`] on the claim protocol, leaving its
//! queues however the wait ends ([`Abandon`]), [`wake_all`] after the internal
//! [`Lock`] is released, and that lock itself. Shared by every primitive in `sync/`.

use crate::proc::wait::{Outcome, Wait, Wakeup};
use std::time::Instant;

/// Why a waiter gives up its queued entry without a peer having popped it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Abandon {
    /// Its deadline passed: the timer claimed the wait, so no peer handed it anything.
    TimedOut,
    /// `park` panicked (the runtime found every goroutine asleep). A peer may still have
    /// claimed the entry in the meantime (a plain thread, or a goroutine of another
    /// runtime): what it handed over must be passed on.
    Unwind,
    /// The runtime ended with this goroutine parked (the shutdown sweep). Unlink only
    /// and wake nobody: goroutines of that runtime can no longer be readied.
    Sweep,
}

/// The internal lock of a primitive: a `std::sync::Mutex` that ignores poisoning (no
/// code panics while holding it, short of an allocation failure in a queue, which
/// leaves the state consistent).
pub(super) struct Lock<T>(std::sync::Mutex<T>);

impl<T> Lock<T> {
    pub(super) const fn new(v: T) -> Self {
        Lock(std::sync::Mutex::new(v))
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Blocks on `wait`, whose entries the caller queued, until a peer completes it or
/// `deadline` passes. `abandon` unlinks the entries (taking the primitive's internal
/// lock itself) when the wait ends without a peer having popped them: after a timeout,
/// while unwinding from `park`, and from the runtime's shutdown sweep. Like chan/hchan.rs's
/// `Unlink`.
pub(super) fn block(wait: &Wait, deadline: Option<Instant>, abandon: &dyn Fn(Abandon)) -> Outcome {
    struct OnUnwind<'a> {
        abandon: &'a dyn Fn(Abandon),
        armed: bool,
    }
    impl Drop for OnUnwind<'_> {
        fn drop(&mut self) {
            if self.armed {
                (self.abandon)(Abandon::Unwind);
            }
        }
    }
    /// For `G::wait_cleanup`.
    ///
    /// # Safety
    /// A `wait::Cleanup` function: see the contract there.
    unsafe fn sweep(p: *const ()) {
        // SAFETY: `p` is the `OnUnwind` registered below; its goroutine is parked and
        // being swept, so the frame holding it is intact.
        unsafe { ((*(p as *const OnUnwind<'_>)).abandon)(Abandon::Sweep) }
    }
    let mut guard = OnUnwind {
        abandon,
        armed: true,
    };
    let cleanup = (
        sweep as unsafe fn(*const ()),
        &guard as *const OnUnwind<'_> as *const (),
    );
    let out = wait.block(deadline, Some(cleanup));
    guard.armed = false;
    if out == Outcome::TimedOut {
        abandon(Abandon::TimedOut);
    }
    out
}

/// Runs wake-ups collected under an internal lock, once it is released. Goroutines go
/// to the tail of the waker's run queue (see the module doc).
pub(super) fn wake_all(wakes: Vec<Wakeup>) {
    for w in wakes {
        w.wake_tail();
    }
}
