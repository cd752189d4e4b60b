//! The README, whose example is compiled and run as a doc test:
#![doc = include_str!("../README.md")]

pub use gmp_core::*;

/// Blocking-style sockets: see the `gmp-net` crate.
pub use gmp_net as net;

/// A tiny, correct HTTP/1.1 server: see the `gmp-http` crate.
pub use gmp_http as http;
