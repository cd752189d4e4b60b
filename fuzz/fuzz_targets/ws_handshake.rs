//! AFL++ entry point of the `ws_handshake` target: every input goes through
//! `gmp_fuzz::ws_handshake::check`, which panics (a crash, for AFL) when a property fails.

fn main() {
    afl::fuzz!(|data: &[u8]| gmp_fuzz::ws_handshake::check(data));
}
