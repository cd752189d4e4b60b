//! The scheduler core: Go's runtime package, one circle of files that call each other.

pub(crate) mod g;
pub(crate) mod handoff;
pub(crate) mod lockedm;
pub(crate) mod m;
pub mod netpoll;
pub(crate) mod p;
pub(crate) mod park;
pub(crate) mod sched;
pub(crate) mod schedule;
pub(crate) mod spawn;
pub(crate) mod stack;
pub(crate) mod sysmon;
pub(crate) mod timer;
pub(crate) mod wait;
