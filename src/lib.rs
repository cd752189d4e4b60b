//! The README, whose example is compiled and run as a doc test:
#![doc = include_str!("../README.md")]

// gmp-core's public API, listed one by one: a glob would also re-export its hidden
// internals (`gmp_core::__private`, what gmp-net and the `select!` macro use).
pub use gmp_core::{
    blocking, chan, debug, in_runtime, park_forever, run, select, sleep, spawn, stats, sync,
    yield_now, Builder, JoinHandle, Runtime, RuntimeBuilder, Stats, DEFAULT_STACK_SIZE,
    MAX_STACK_SIZE, MIN_STACK_SIZE,
};

/// Blocking-style sockets: see the `gmp-net` crate.
pub use gmp_net as net;

/// A tiny, correct HTTP/1.1 server: see the `gmp-http` crate.
pub use gmp_http as http;

/// Unmodified `std::net` code parks the goroutine (feature `hook`): see the `gmp-hook`
/// crate. Naming it here links its interposed libc functions into the program.
#[cfg(feature = "hook")]
pub use gmp_hook as hook;

/// The runtime's internals are not part of the facade:
///
/// ```compile_fail
/// use gmp::__private::netpoll::PollDesc;
/// ```
///
/// ```compile_fail
/// use gmp::netpoll::PollDesc;
/// ```
#[doc(hidden)]
pub mod internals_are_not_reexported {}
