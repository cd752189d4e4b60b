//! x86-64 context switching: `Gobuf`, `mcall`, `gogo`, `mstart` and the G entry
//! trampoline. This is the only file in gmp with `asm!`.
//!
//! Every switch goes G → g0 → G. A running G calls [`mcall`], which saves its context in
//! its `Gobuf` and calls a function on the M's g0 stack at a fixed SP; that function ends
//! in [`gogo`], which loads another `Gobuf` and jumps. Nothing here decides *which* G runs:
//! that is `proc/schedule.rs`.
//!
//! # What is saved
//!
//! SysV x86-64 makes rbx, rbp, r12–r15 and rsp callee-saved. The `asm!` in `mcall` lists
//! r12–r15 and every caller-saved register as clobbered, so the compiler spills whatever
//! is live in them on the G's own stack before the switch and reloads it after. rbx and
//! rbp cannot be `asm!` operands (LLVM reserves them), so they go into the `Gobuf` by hand
//! with rsp and the resume PC:
//!
//! ```text
//! Gobuf (repr C, 32 bytes)      +0 sp   +8 pc   +16 bp   +24 bx
//! ```
//!
//! MXCSR and the x87 control word are not switched: a G must not change the floating
//! point environment (rounding mode, exception masks), since the next G on that M would
//! inherit it.
//!
//! # mcall(save, g0_sp, f, arg)
//!
//! ```text
//!   before (running on G's stack)           after (running on g0)
//!
//!   G stack                                 G stack                 g0 stack (M's thread stack)
//!   |  caller frames   |                    |  caller frames   |    | mstart's frame   |
//!   |  spilled r12..   |  <- rsp            |  spilled r12..   |    +------------------+ <- g0_sp (fixed)
//!   |                  |                    |                  |    | return addr (ud2)|
//!                                                                   | f's frame ...    | <- rsp
//!   save: { ?, ?, ?, ? }                    save: { sp: G's rsp, pc: label 2, bp, bx }
//! ```
//!
//! `f(arg)` never returns: it ends in `gogo` (or in `gogo` of the M's exit buffer at
//! shutdown). Because every `mcall` restarts g0 at the same SP, g0 frames never pile up;
//! nothing on g0 may own a resource across a `gogo` (ARCHITECTURE.md, invariant 2).
//!
//! # gogo(buf)
//!
//! ```text
//!   before (on g0)                          after (on the G's stack)
//!   buf: { sp, pc, bp, bx }                 rsp = sp, rbp = bp, rbx = bx, rip = pc
//! ```
//!
//! For a G that was suspended by `mcall`, `pc` is label 2 inside `mcall`'s `asm!`, so the
//! G continues as if `mcall` had returned; the compiler reloads what it spilled. For a
//! fresh G, `pc` is the trampoline `gmp_core_g_trampoline_v0`, `bx` carries the entry's
//! argument (the `*mut G`) and `bp` the entry function itself ([`prepare_fresh`]); the
//! trampoline moves the entry out of rbp and zeroes it before calling.
//!
//! # A fresh G's stack
//!
//! ```text
//!   hi  +---------------------------+
//!       | G header, start closure   |   (proc/g.rs: the G lives at the top of its stack)
//!       +---------------------------+ <- sp (16-byte aligned), bp = 0
//!       |   trampoline: call entry  |
//!       |   pushes the return addr  |   entry's frame sees rsp ≡ 8 (mod 16), as ABI wants
//!       |   ...                     |
//!   lo  +---------------------------+
//!       | guard page                |
//! ```
//!
//! The trampoline's CFI marks the return address as undefined, so an unwinder (a panic
//! backtrace with `RUST_BACKTRACE=1`, gdb's `bt`) stops cleanly at the G's entry instead
//! of reading garbage above the stack top.

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!(
    "gmp supports x86-64 Linux only: port gmp-core/src/arch/x86_64.rs (Gobuf, mcall, gogo, \
     mstart, the G trampoline) to this target and gmp-core/src/stack.rs (guard pages, \
     SIGSEGV) to this OS"
);

use core::arch::{asm, global_asm};

/// A suspended execution context: what `gogo` needs to resume it.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Gobuf {
    pub sp: usize,
    pub pc: usize,
    pub bp: usize,
    pub bx: usize,
}

/// A function run on g0 by [`mcall`] or [`mstart`]: the g0 half of a switch. Every g0
/// entry point of the runtime (`park_m`, `gosched_m`, `goexit0`, `requeue_m`,
/// `requeue_locked_m`, `mstart_entry`) has this type and this one contract.
///
/// # Safety
/// Only `mcall` and `mstart` call it, on the g0 stack of the M whose address is `arg`,
/// on that M's own thread:
/// - `arg` is the `*mut M` of the calling thread's live M, inside a P section (its
///   `locks` is at least 1). The M holds its P, except in `requeue_m` and
///   `requeue_locked_m`, which exist for an M whose P was taken.
/// - The G the M was running (`M::curg`; none for `mstart`) is saved in its `Gobuf`, and
///   nothing has made it resumable elsewhere yet: the function decides what it becomes
///   and only then publishes it (ARCHITECTURE.md, invariant 1: commit after save).
/// - The function never returns: it ends in `gogo` (to a G, or to the M's exit buffer
///   in `mexit`), and holds nothing on its frame that needs dropping across that jump:
///   the next `mcall` on this M reuses the same g0 stack from the top (ARCHITECTURE.md, invariant 2).
/// - It never unwinds: it is `extern "C"`, so a panic inside it aborts the process
///   instead of unwinding across the switch (ARCHITECTURE.md, invariant 3).
pub(crate) type G0Fn = unsafe extern "C" fn(usize) -> !;

/// The stack pointer where this is inlined: the lowest address of the caller's frame.
/// Below it lies only what calls made from here will push.
#[inline(always)]
pub(crate) fn sp() -> usize {
    let sp: usize;
    // SAFETY: reads rsp into a register; no memory, stack or flags are touched.
    unsafe { asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Saves the running context into `*save`, switches to the g0 stack at `g0_sp` and calls
/// `f(arg)` there. Returns when some M later runs `gogo(save)`.
///
/// # Safety
/// `save` must stay valid until it is resumed; `g0_sp` must be the 16-byte aligned top of
/// an unused stack region; `f` must never return, and must not make the saved context
/// resumable by another thread before this call has written it (it has, by the time `f`
/// runs).
#[inline(always)]
pub(crate) unsafe fn mcall(save: *mut Gobuf, g0_sp: usize, f: G0Fn, arg: usize) {
    // SAFETY: the caller guarantees the pointers; the asm saves rsp/rbp/rbx/pc by hand
    // and declares every other register clobbered, so the compiler preserves what it
    // needs across the switch on this stack.
    unsafe {
        asm!(
            // The resume PC is label 2 below, so a resumed G falls out of this asm block.
            "lea rax, [rip + 2f]",
            "mov [rsi], rsp",
            "mov [rsi + 8], rax",
            "mov [rsi + 16], rbp",
            "mov [rsi + 24], rbx",
            // Onto g0. From here the G's stack is no longer touched by this thread.
            "mov rsp, rdx",
            // A zero return address, so f starts with the ABI's rsp ≡ 8 (mod 16) and a
            // backtrace taken on g0 ends here. JMP rather than CALL: f never returns,
            // and a CALL would leave an entry on the CPU's return-stack predictor that
            // no RET consumes, making the resumed G's next RET mispredict.
            "push 0",
            "jmp rcx",
            "2:",
            in("rdi") arg,
            in("rsi") save,
            in("rdx") g0_sp,
            in("rcx") f,
            lateout("r12") _,
            lateout("r13") _,
            lateout("r14") _,
            lateout("r15") _,
            clobber_abi("C"),
        );
    }
}

/// Starts an M's scheduling loop on its own thread stack: saves the calling context in
/// `*save` (resumed with `gogo(save)` when the M exits), picks a g0 SP a little below the
/// current one, stores it in `*g0_sp_out`, and calls `f(arg)` there.
///
/// # Safety
/// As for [`mcall`]; `g0_sp_out` must be writable.
#[inline(never)]
pub(crate) unsafe fn mstart(save: *mut Gobuf, g0_sp_out: *mut usize, f: G0Fn, arg: usize) {
    // SAFETY: as in `mcall`; the new g0 SP lies below every frame of this thread that is
    // still live (256 bytes under our rsp), on the same thread stack.
    unsafe {
        asm!(
            "lea rax, [rip + 2f]",
            "mov [rsi], rsp",
            "mov [rsi + 8], rax",
            "mov [rsi + 16], rbp",
            "mov [rsi + 24], rbx",
            // g0 starts 256 bytes under the caller's frame, 16-byte aligned; every later
            // mcall on this M restarts from exactly here.
            "lea rax, [rsp - 256]",
            "and rax, -16",
            "mov [rdx], rax",
            "mov rsp, rax",
            "call rcx",
            "ud2",
            "2:",
            in("rdi") arg,
            in("rsi") save,
            in("rdx") g0_sp_out,
            in("rcx") f,
            lateout("r12") _,
            lateout("r13") _,
            lateout("r14") _,
            lateout("r15") _,
            clobber_abi("C"),
        );
    }
}

/// Resumes the context in `*buf`. Never returns.
///
/// # Safety
/// `buf` must hold a context saved by `mcall`/`mstart` that nobody else resumes, or one
/// prepared by [`prepare_fresh`] on a stack that is not in use.
#[inline(always)]
pub(crate) unsafe fn gogo(buf: *const Gobuf) -> ! {
    // SAFETY: the caller guarantees `buf` is a resumable context owned by this M now.
    unsafe {
        asm!(
            "mov rsp, [rdi]",
            "mov rbp, [rdi + 16]",
            "mov rbx, [rdi + 24]",
            "jmp qword ptr [rdi + 8]",
            in("rdi") buf,
            options(noreturn),
        );
    }
}

/// The function a fresh G starts in, through the trampoline.
///
/// # Safety
/// Only the trampoline calls it, on the fresh G's stack, with the `arg` that was given
/// to [`prepare_fresh`] with it, once. It never returns (it ends by switching away for
/// good) and never unwinds (`extern "C"`: a panic aborts; ARCHITECTURE.md, invariant 3).
pub(crate) type GEntry = unsafe extern "C" fn(usize) -> !;

/// Fills `buf` so that `gogo(buf)` starts `entry(arg)` on a stack whose usable top is
/// `sp` (rounded down to 16 bytes), through the trampoline. `gogo` loads `bx` and `bp`
/// for every resume; for a fresh G they carry `arg` and `entry` into the trampoline,
/// which is how this file calls the entry without naming it.
pub(crate) fn prepare_fresh(buf: &mut Gobuf, sp: usize, entry: GEntry, arg: usize) {
    buf.sp = sp & !15;
    buf.pc = gmp_core_g_trampoline_v0 as *const () as usize;
    buf.bp = entry as usize;
    buf.bx = arg;
}

/// Whether `buf` is a fresh context from [`prepare_fresh`] that never ran (its PC is
/// the trampoline's first instruction, not a resume point inside `mcall`).
pub(crate) fn is_fresh(buf: &Gobuf) -> bool {
    buf.pc == gmp_core_g_trampoline_v0 as *const () as usize
}

unsafe extern "C" {
    /// Defined in the `global_asm!` below: `entry(arg)`, with `entry` in rbp and `arg`
    /// in rbx, a zeroed frame pointer and CFI that ends unwinding here.
    fn gmp_core_g_trampoline_v0();
}

global_asm!(
    ".pushsection .text.gmp_core_g_trampoline_v0,\"ax\",@progbits",
    ".balign 16",
    ".globl gmp_core_g_trampoline_v0",
    ".hidden gmp_core_g_trampoline_v0",
    ".type gmp_core_g_trampoline_v0,@function",
    "gmp_core_g_trampoline_v0:",
    ".cfi_startproc",
    // The return address of this frame is undefined: unwinders stop here (as at _start).
    ".cfi_undefined rip",
    // `prepare_fresh` put the entry in rbp and its argument in rbx. Take the entry out,
    // then zero rbp: frame-pointer walkers stop at a zero rbp.
    "mov rax, rbp",
    "xor ebp, ebp",
    "mov rdi, rbx",
    "call rax",
    // The entry never returns (it ends in mcall to goexit).
    "ud2",
    ".cfi_endproc",
    ".size gmp_core_g_trampoline_v0, .-gmp_core_g_trampoline_v0",
    ".popsection",
);

// ---- valgrind client requests ------------------------------------------------------

/// Issues a valgrind client request: `args` is `[request, a1, a2, a3, a4, a5]`; returns
/// valgrind's answer, or `default` when the program does not run under valgrind.
///
/// The request is valgrind's fixed "special instruction sequence" for amd64 (its
/// `valgrind.h`, `VALGRIND_DO_CLIENT_REQUEST_EXPR`): four rotations of rdi by 3, 13, 61
/// and 51 bits, 128 in all, so rdi comes back unchanged, then `xchg rbx, rbx`, which
/// changes nothing either. Natively that is six cheap instructions that do nothing
/// (only the flags change, so `preserves_flags` is not claimed); valgrind's JIT
/// recognises the sequence, reads the array rax points to, and puts its answer in rdx.
/// Neither rdi nor rbx is an operand: both keep their values.
///
/// # Safety
/// Under valgrind, the request's arguments must mean what the request says (a stack
/// range to register must be memory of this process); natively it has no effect.
#[inline(always)]
pub(crate) unsafe fn valgrind_request(default: usize, args: &[usize; 6]) -> usize {
    let result: usize;
    // SAFETY: the sequence leaves every register but rdx (the result) and the flags as
    // it found them; valgrind only reads `args` (hence no `nomem`).
    unsafe {
        asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inout("rdx") default => result,
            options(nostack),
        );
    }
    result
}
