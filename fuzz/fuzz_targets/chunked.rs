//! AFL++ entry point of the `chunked` target: every input goes through
//! `gmp_fuzz::chunked::check`, which panics (a crash, for AFL) when a property fails.

fn main() {
    afl::fuzz!(|data: &[u8]| gmp_fuzz::chunked::check(data));
}
