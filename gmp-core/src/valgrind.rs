//! Telling valgrind about goroutine stacks, so memcheck follows the switches.
//!
//! Memcheck tracks which stack the program runs on by watching the stack pointer; a jump
//! of more than `--max-stackframe` (2 MB by default) looks like a huge frame, and memcheck
//! warns "client switching stacks?" and may then misreport the memory between the two
//! SPs. Every goroutine switch is such a jump. Registering each goroutine stack with
//! `VALGRIND_STACK_REGISTER` tells memcheck that an SP moving into it is a switch.
//!
//! The requests are issued only under valgrind: [`running`] asks once
//! (`RUNNING_ON_VALGRIND`, which answers 0 natively) and caches the answer, so a native
//! run pays one load per carved batch of stacks and never a request. The instruction
//! sequence itself is `arch`'s (the only place with `asm!`).
//!
//! Invariant: under valgrind every stack a pool carves is registered before a G runs on
//! it, and deregistered before its memory is unmapped (`StackPool`'s drop).

use crate::arch::valgrind_request;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// `valgrind.h`'s request numbers.
const RUNNING_ON_VALGRIND: usize = 0x1001;
const STACK_REGISTER: usize = 0x1501;
const STACK_DEREGISTER: usize = 0x1502;

/// 0: not asked yet; 1: native; 2: under valgrind.
static STATE: AtomicU8 = AtomicU8::new(0);

/// Whether this process runs under valgrind (asked once).
#[inline]
pub(crate) fn running() -> bool {
    // Relaxed: every thread computes the same answer; the cache only saves the asking.
    match STATE.load(Relaxed) {
        0 => {
            // SAFETY: RUNNING_ON_VALGRIND takes no arguments and changes nothing.
            let n = unsafe { valgrind_request(0, &[RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0]) };
            STATE.store(if n > 0 { 2 } else { 1 }, Relaxed);
            n > 0
        }
        s => s == 2,
    }
}

/// Registers the stack `[lo, hi)` and returns valgrind's id for it. Call only when
/// [`running`].
pub(crate) fn stack_register(lo: usize, hi: usize) -> usize {
    // SAFETY: `[lo, hi)` is a goroutine stack of this process (the caller's contract);
    // valgrind only records the range.
    unsafe { valgrind_request(0, &[STACK_REGISTER, lo, hi, 0, 0, 0]) }
}

/// Forgets the stack registered as `id`. Call only when [`running`].
pub(crate) fn stack_deregister(id: usize) {
    // SAFETY: valgrind only drops its record of the range.
    unsafe { valgrind_request(0, &[STACK_DEREGISTER, id, 0, 0, 0, 0]) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn natively_the_request_returns_its_default_and_changes_nothing() {
        // Under `cargo test` (not valgrind) the sequence is a no-op returning `default`.
        if super::running() {
            return;
        }
        // SAFETY: an unknown request number; natively nothing happens.
        let r = unsafe { super::valgrind_request(77, &[0x1234_5678, 1, 2, 3, 4, 5]) };
        assert_eq!(r, 77);
        assert!(!super::running());
    }
}
