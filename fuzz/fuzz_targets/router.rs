//! AFL++ entry point of the `router` target: every input goes through
//! `gmp_fuzz::router::check`, which panics (a crash, for AFL) when a property fails.

fn main() {
    afl::fuzz!(|data: &[u8]| gmp_fuzz::router::check(data));
}
