//! gmp-core: goroutines (G) on OS threads (M) holding processors (P), scheduled the way
//! Go's runtime does it, with every switch going through the M's g0 stack.
//!
//! See `DESIGN.md` for the architecture. Module map:
//!
//! | module | owns |
//! |---|---|
//! | `arch` | `Gobuf`, `mcall`, `gogo`, the G trampoline (the only asm) |
//! | `stack` | stack chunks, guard pages, free lists, overflow reports |
//! | `g` | `struct G` (at the top of its stack), start closures, join packets |
//! | `m` | `struct M`, the current-M thread-local, futex notes |
//! | `p` | `struct P`: run queue, `runnext`, free Gs, timers, counters |
//! | `sched` | `schedule`, `find_runnable`, stealing, spinning, `ready`, `park` |
//! | `timer` | per-P timer heaps, `sleep` |
//! | `netpoll` | the mio poller, `PollDesc`, waiting for readiness (used by gmp-net) |
//! | `runtime` | `run`, the runtime builder, M threads, shutdown, `stats` |
//! | `spawn` | `spawn`, `Builder`, `JoinHandle` |
//! | `sysmon` | the monitor thread: retakes stuck Ps, polls a starved netpoller, schedtrace |
//! | `handoff` | who holds a P: P sections, `blocking`, sysmon's retake, the thread cap |
//! | `wait` | the claim protocol every channel and sync wait uses |
//! | `chan` | channels and `select!` |
//! | `spinlock` | the channel's short internal lock |
//! | `sync` | `Mutex`, `RwLock`, `Condvar`, `WaitGroup`, `Semaphore`, `Barrier` |
//! | `chan`, `wait` | channels and `select!`, on the claim protocol of `wait` |
//! | `sync` | `Mutex`, `RwLock`, `Condvar`, `WaitGroup`, `Semaphore`, `Barrier` (they park) |
//!
//! # Thread-local storage
//! A goroutine may resume on another OS thread after any call that can switch
//! (`yield_now`, `sleep`, `join`, and later every socket and channel operation). Do not
//! hold a `thread_local!` borrow across such a call: the value before and after may belong
//! to two different threads.
//!
//! # Floating point
//! The FP environment (MXCSR, x87 control word) is not saved per goroutine: a goroutine
//! must not change rounding modes or exception masks.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod arch;
pub mod chan;
mod clock;
mod proc;
mod runtime;
mod signal;
mod spinlock;
pub mod sync;

pub use proc::{
    blocking, park_forever, sleep, spawn, yield_now, Builder, JoinHandle, Stats,
    DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE,
};
pub use runtime::{in_runtime, run, stats, Runtime, RuntimeBuilder};

/// What sibling crates and this crate's macros need of the runtime's internals. Not a
/// stable API, hidden from the docs, and not re-exported by the `gmp` facade.
#[doc(hidden)]
pub mod __private {
    /// The netpoller, for gmp-net's sockets: a [`PollDesc`](netpoll::PollDesc) per
    /// socket, waits for readiness, deadlines.
    pub mod netpoll {
        pub use crate::proc::{deadline_after, deadline_left, Mode, PollDesc};
    }

    /// Runs a blocking call on a thread of its own while the goroutine parks (gmp-net's
    /// name resolution).
    pub use crate::proc::off_p;

    /// The runtime of `select!`, for the macro's expansion.
    pub mod select {
        pub use crate::chan::select::{select, Case, Mode, RecvCase, SendCase, DEFAULT};
    }
}
