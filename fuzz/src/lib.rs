//! The properties each fuzz target asserts, one module per target, and the small
//! reference checks they compare gmp's parsers with ([`grammar`]).
//!
//! Each target's `check(data)` panics when a property fails, which AFL records as a
//! crash. The same functions run without the engine: `tests/fuzz_corpus.rs` includes this
//! file (`#[path]`) and replays the committed seed corpus and every crash input through
//! them, so CI keeps the properties green. Nothing here may depend on the `afl` crate.
//!
//! Every module reaches gmp's crate-private parsers through `gmp_http::__fuzz`, which is
//! a thin window onto them, not an API.

pub mod chunked;
pub mod grammar;
pub mod paths;
pub mod request_head;
pub mod response_head;
pub mod router;
pub mod ws_handshake;

/// The targets, by the names `scripts/fuzz.sh` and the corpus directories use.
pub const TARGETS: [&str; 6] = [
    "request_head",
    "chunked",
    "response_head",
    "router",
    "ws_handshake",
    "paths",
];

/// Runs target `name`'s property checks on `data`; panics when one fails.
pub fn check(name: &str, data: &[u8]) {
    match name {
        "request_head" => request_head::check(data),
        "chunked" => chunked::check(data),
        "response_head" => response_head::check(data),
        "router" => router::check(data),
        "ws_handshake" => ws_handshake::check(data),
        "paths" => paths::check(data),
        _ => panic!("no fuzz target named {name:?} (targets: {TARGETS:?})"),
    }
}

/// A tiny deterministic generator (xorshift), for the splits an input is fed in: the
/// same input always splits the same way, so a crash replays.
pub struct Splits(u64);

impl Splits {
    /// A generator seeded from `seed`.
    pub fn new(seed: &[u8]) -> Splits {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for &b in seed {
            s = (s ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Splits(s | 1)
    }

    /// A number in `1..=max` (`max` ≥ 1).
    pub fn next(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + (self.0 % max as u64) as usize
    }
}
