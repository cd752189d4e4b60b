//! The scheduler core: what Go keeps in its `runtime` package (`proc.go`, `runtime2.go`,
//! `netpoll.go`, `time.go`, `stack.go`), one file per concept, named as Go names it.
//!
//! These files call each other freely: `park` ends in `schedule`, `schedule` runs timers
//! and polls the netpoller, timers and the netpoller `ready` the Gs they wake, `handoff`
//! starts Ms, an M runs `schedule`. That loop is the scheduler itself, and Go keeps it in
//! one package for the same reason: cutting it would put function pointers or trait
//! objects on the hottest paths (`park`, `ready`, the netpoll check in `find_runnable`).
//! So the circle stays, here, and every arrow across this directory's edge points one
//! way: `chan`, `sync` and `runtime` call in; this calls out only to the bottom (`arch`,
//! `clock`, `signal`). `spawn` and `sysmon` sit here but outside the circle: nothing in
//! it calls them. ARCHITECTURE.md ("gmp-core, layer by layer") draws the floors.
//!
//! | file | owns |
//! |---|---|
//! | `g` | `struct G` at the top of its stack; its free lists (`gfget`, `gfput`) |
//! | `m` | `struct M`: an OS thread, its g0, its `Note`; `newm`, `mstart`, `idle_sleep` |
//! | `p` | `struct P`: run queue, `runnext`, caches, timers, counters |
//! | `sched` | `struct Sched` (Go's `schedt`): idle lists, stats, shutdown |
//! | `deadlock` | `checkdead`, `checkstuck`: proving that nothing can wake a G (or an M) |
//! | `schedule` | `schedule`, `find_runnable`, stealing, `wakep`, `startm`, `stopm` |
//! | `sleeper` | the idle sleeper's wait in the netpoller and its spin; the non-blocking poll |
//! | `park` | `park` (`gopark`), `ready` (`goready`), `yield_now` (`Gosched`), `goexit` |
//! | `handoff` | P sections, `acquirep`/`releasep`, `handoffp`, `retake` |
//! | `blocking` | `gmp::blocking` (`entersyscall`/`exitsyscall`), the thread limit's permits |
//! | `lockedm` | `startlockedm`, `stoplockedm`: a G that parks mid-unwind keeps its M |
//! | `timer` | timers `{when, f, arg, seq}`, per-P heaps, `sleep` |
//! | `netpoll` | `PollDesc` (`pollDesc`), the park/ready words, deadlines |
//! | `netpoll_epoll` | the mio poller, its waker, the polling loop |
//! | `wait` | the claim protocol of channels and `gmp::sync` (Go's `sudog`s) |
//! | `stack` | stack chunks, guard pages, trimming |
//! | `spawn` | `spawn` (`newproc`), a G's start, `JoinHandle`, the join protocol |
//! | `packet` | join packets: their pooled 64-byte blocks and the two counted references |
//! | `traceback` | what a goroutine dump reads of each G: wait reasons, spawn sites, the switch sequence |
//! | `latency` | the sampled scheduling-latency histogram: stamps in `ready`, recorded by the goroutine when it resumes |
//! | `metrics` | `gmp::debug::metrics`: goroutines by state and every scheduler counter in one snapshot |
//! | `sysmon` | the monitor thread (`sysmon`): retake, starved netpoll, stuck calls, schedtrace |
//!
//! The fields of `G`, `M`, `P` and `Sched` are `pub(super)`: visible in this directory and
//! nowhere else. The rest of the crate uses the items re-exported below and a few
//! `pub(crate)` functions.

pub(crate) mod blocking;
mod deadlock;
mod g;
pub(crate) mod handoff;
mod latency;
mod lockedm;
pub(crate) mod m;
pub(crate) mod metrics;
mod netpoll;
mod netpoll_epoll;
mod p;
mod packet;
pub(crate) mod park;
pub(crate) mod sched;
pub(crate) mod schedule;
mod sleeper;
pub(crate) mod spawn;
pub(crate) mod stack;
pub(crate) mod sysmon;
mod timer;
pub(crate) mod traceback;
pub(crate) mod wait;

// The public API, re-exported at the crate root.
pub use blocking::blocking;
pub use park::{park_forever, yield_now};
pub use sched::Stats;
pub use spawn::{spawn, Builder, JoinHandle};
pub use stack::{DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE};
pub use timer::sleep;

// For gmp-net and gmp-hook, through `gmp_core::__private`.
pub use netpoll::{deadline_after, deadline_left, Mode, PollDesc};
pub use park::can_park;
pub use spawn::off_p;
pub use stack::release_below_caller;
