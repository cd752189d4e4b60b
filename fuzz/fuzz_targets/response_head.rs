//! AFL++ entry point of the `response_head` target: every input goes through
//! `gmp_fuzz::response_head::check`, which panics (a crash, for AFL) when a property fails.

fn main() {
    afl::fuzz!(|data: &[u8]| gmp_fuzz::response_head::check(data));
}
