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

mod arch;
pub mod chan;
mod clock;
mod proc;
mod runtime;
mod signal;
mod spinlock;
pub mod sync;

#[doc(hidden)]
pub use proc::netpoll;

/// What sibling crates and this crate's macros need of the runtime's internals: not a
/// stable API, and not re-exported by the `gmp` facade.
#[doc(hidden)]
pub mod __private {
    /// The runtime of `select!`, for the macro's expansion.
    pub mod select {
        pub use crate::chan::select::{select, Case, Mode, RecvCase, SendCase, DEFAULT};
    }
}

pub use proc::handoff::blocking;
pub use proc::park::{park_forever, yield_now};
pub use proc::sched::Stats;
pub use proc::spawn::{off_p, spawn, Builder, JoinHandle};
pub use proc::stack::{DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE};
pub use proc::timer::sleep;
pub use runtime::{in_runtime, run, stats, Runtime, RuntimeBuilder};
