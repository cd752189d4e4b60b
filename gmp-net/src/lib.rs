//! gmp-net: blocking-style sockets for goroutines.
//!
//! The types mirror `std::net` (and `std::os::unix::net`) method for method. The
//! difference is what "blocking" means: a read with nothing to read parks the calling
//! goroutine in gmp-core's netpoller and lets its thread run other goroutines; readiness
//! (or a timeout, or the socket closing) makes it runnable again. Used from a plain
//! thread outside any runtime, the same sockets block that thread, as std's do.
//!
//! Sockets are nonblocking underneath and registered with the runtime's poller the first
//! time they would block. Host names in addresses are resolved on a separate thread, so
//! a slow DNS lookup never holds a P.
//!
//! Conversions: `from_std`/`into_std` and `TryFrom` both ways for every type.
//!
//! [`signal::Signals`] receives Unix signals on a goroutine (Go's `signal.Notify`).

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod addr;
#[macro_use]
mod macros;
pub mod signal;
mod sock;
mod sys;
mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
mod udp;
mod unix;

pub use addr::ToSocketAddrs;
pub use std::net::Shutdown;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
