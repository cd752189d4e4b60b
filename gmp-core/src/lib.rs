//! gmp-core: goroutines (G) on OS threads (M) holding processors (P), scheduled the way
//! Go's runtime does it, with every switch going through the M's g0 stack.
//!
//! ```
//! # use gmp_core as gmp; // the facade crate `gmp` re-exports gmp-core
//! let total = gmp::run(|| {
//!     let (tx, rx) = gmp::chan::bounded(0);
//!     for i in 0..10u64 {
//!         let tx = tx.clone();
//!         gmp::spawn(move || tx.send(i * i).unwrap());
//!     }
//!     drop(tx);
//!     rx.iter().sum::<u64>()
//! });
//! assert_eq!(total, 285);
//! ```
//!
//! `ARCHITECTURE.md` at the repository root explains the design: the layers, the g0
//! switch and its invariants, scheduling, the netpoller, sysmon, locked Ms, the claim
//! protocol, and the measurement behind each tuning constant. Module map, bottom up:
//!
//! | module | owns |
//! |---|---|
//! | `arch` | `Gobuf`, `mcall`, `gogo`, `mstart`, the G trampoline (the only asm) |
//! | `clock` | `nanotime`, `NEVER` |
//! | `spinlock` | the channel's short internal lock |
//! | `signal` | the SIGSEGV stack-overflow report, alternate signal stacks |
//! | `proc` | the scheduler core, one circle of files as Go's runtime package: |
//! | `proc/g`, `m`, `p` | `struct G` (at the top of its stack) and its free lists; `struct M` (an OS thread, its g0, its note); `struct P` (run queue, `runnext`, caches, timers) |
//! | `proc/sched` | `struct Sched` (Go's `schedt`), idle lists, shutdown, the deadlock check |
//! | `proc/schedule` | `schedule`, `find_runnable`, stealing, spinning, `wakep`, `startm`, `stopm` |
//! | `proc/park` | `park`, `ready`, `yield_now`, `goexit` and their g0 halves |
//! | `proc/handoff` | who holds a P: P sections, `blocking`, sysmon's retake |
//! | `proc/lockedm` | a goroutine that parks while it unwinds stays on its M |
//! | `proc/sysmon` | the monitor thread: retakes stuck Ps, polls a starved netpoller, schedtrace |
//! | `proc/spawn` | `spawn`, `Builder`, `JoinHandle`, a G's start, the join protocol |
//! | `proc/stack` | stack chunks, guard pages, free lists, trimming |
//! | `proc/timer` | timers (`{when, f, arg, seq}`), per-P heaps, `sleep` |
//! | `proc/netpoll` | the mio poller, `PollDesc`, waiting for readiness (for gmp-net) |
//! | `proc/wait` | the claim protocol every channel and sync wait uses |
//! | `chan` | channels; `chan/select` and `select!` |
//! | `sync` | `Mutex`, `RwLock`, `Condvar`, `WaitGroup`, `Semaphore`, `Barrier` (they park) |
//! | `runtime` | `run`, the runtime builder, `stats`: the top |
//!
//! # Thread-local storage
//! A goroutine may resume on another OS thread after any call that can switch
//! (`yield_now`, `sleep`, `join`, socket I/O, channel and `sync` operations, and
//! `blocking`). Do not hold a `thread_local!` borrow across such a call: the value before
//! and after may belong to two different threads.
//!
//! # Floating point
//! The FP environment (MXCSR, x87 control word) is not saved per goroutine: a goroutine
//! must not change rounding modes or exception masks.

// gdb's goroutine commands (`info goroutines`, `goroutine <id> bt`), embedded in every
// binary that links gmp: gdb loads it from `.debug_gdb_scripts` (see gmp-gdb.py).
#![debugger_visualizer(gdb_script_file = "../gmp-gdb.py")]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]

mod arch;
pub mod chan;
mod clock;
pub mod debug;
mod proc;
mod runtime;
mod signal;
mod spinlock;
pub mod sync;
mod sync_atomic;
mod unwind;
mod valgrind;
mod words;

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

    /// Whether the caller is a goroutine that may park here (gmp-hook's interposed libc
    /// calls park only then).
    pub use crate::proc::can_park;

    /// Runs a blocking call on a thread of its own while the goroutine parks (gmp-net's
    /// name resolution).
    pub use crate::proc::off_p;

    /// Releases the running goroutine's stack pages below the caller's frame (gmp-net's
    /// TLS handshakes, which run deep once and then wait).
    pub use crate::proc::release_below_caller;

    /// The runtime of `select!`, for the macro's expansion.
    pub mod select {
        pub use crate::chan::select::{select, Case, Mode, RecvCase, SendCase, DEFAULT};
    }
}
