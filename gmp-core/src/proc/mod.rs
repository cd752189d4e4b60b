//! The scheduler core: Go's runtime package, one circle of files that call each other.

mod g;
pub(crate) mod handoff;
mod lockedm;
pub(crate) mod m;
mod netpoll;
mod netpoll_epoll;
mod p;
pub(crate) mod park;
pub(crate) mod sched;
pub(crate) mod schedule;
pub(crate) mod spawn;
pub(crate) mod stack;
pub(crate) mod sysmon;
mod timer;
pub(crate) mod wait;

// The public API, re-exported at the crate root.
pub use handoff::blocking;
pub use park::{park_forever, yield_now};
pub use sched::Stats;
pub use spawn::{spawn, Builder, JoinHandle};
pub use stack::{DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE};
pub use timer::sleep;

// For gmp-net, through `gmp_core::__private`.
pub use netpoll::{deadline_after, deadline_left, Mode, PollDesc};
pub use spawn::off_p;
