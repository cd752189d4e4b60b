//! The runtime's clock: [`nanotime`], nanoseconds on `CLOCK_MONOTONIC`, and [`NEVER`], the
//! instant that never comes.
//!
//! At the bottom of the crate: timers, socket deadlines, sysmon and `gmp::sync::Mutex`'s
//! starvation clock all read it, and it reads nothing of theirs. Go keeps the same two
//! names in its runtime (`nanotime`, and a timer `when` of `maxWhen`).

/// No deadline: the `when` of a timer heap with no timer in it, and of a poller that
/// sleeps without a timeout.
pub(crate) const NEVER: u64 = u64::MAX;

/// Nanoseconds on `CLOCK_MONOTONIC` (the clock `Instant` uses; a vDSO call, no syscall).
pub(crate) fn nanotime() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass and nothing else.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
