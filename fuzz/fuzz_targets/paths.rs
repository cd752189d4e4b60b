//! AFL++ entry point of the `paths` target: every input goes through
//! `gmp_fuzz::paths::check`, which panics (a crash, for AFL) when a property fails.

fn main() {
    afl::fuzz!(|data: &[u8]| gmp_fuzz::paths::check(data));
}
