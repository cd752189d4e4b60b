//! Signals: the SIGSEGV handler that reports a goroutine's stack overflow by name, the
//! SIGQUIT handler that has the goroutines dumped and the process exit with status 2 (as
//! Go's), and the alternate signal stacks they run on.
//!
//! SIGQUIT: the handler only sets a flag; every runtime's sysmon looks at it on each
//! tick (10 ms) and the first to take it prints the dump the runtime registered
//! (`debug.rs`) and calls `_exit(2)`. A dump allocates, symbolizes and takes locks, which
//! a signal handler may not, and a thread of its own would count against `checkdead`'s
//! rule that the process holds only the runtime's threads. With no runtime running the
//! handler itself writes `SIGQUIT: quit` and exits. The handler is installed only over
//! the default disposition: a program's own SIGQUIT handler (or `gmp::net::signal`'s,
//! installed later) wins.
//!
//! A goroutine that runs off the bottom of its stack hits the guard page below it
//! (`proc/stack.rs`). The handler runs on the thread's alternate signal stack (the
//! goroutine's own stack is exhausted), asks the runtime whether the fault address is
//! the running goroutine's guard page, writes `goroutine N "name" overflowed its stack of
//! K KiB` with `write(2)`, then every goroutine's id, state or wait reason and creator
//! (`traceback::write_signal_safe`, which reads the lock-free chunk list; frames would
//! need an allocating unwinder and symbolizer), and aborts. Any other SIGSEGV goes to the handler that was
//! installed before ours, so std's report of a thread's own stack overflow keeps working.
//!
//! Everything the handler does is async-signal-safe: a lock-free read of the running G
//! (a thread-local pointer and its header), no allocation, `write(2)`, `abort(3)`. It
//! sits at the bottom of the crate: it learns about goroutines through the [`GuardHit`]
//! function the runtime passes when it installs the handler, read only when a SIGSEGV
//! arrives.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Once, OnceLock};

/// A goroutine whose stack overflowed: what the report names.
pub(crate) struct Overflow {
    pub id: u64,
    pub name: Option<&'static [u8]>,
    pub stack_kib: usize,
}

/// Whether a fault address lies in the guard page of the goroutine running on this
/// thread, and whose it is. Must be async-signal-safe.
pub(crate) type GuardHit = fn(addr: usize) -> Option<Overflow>;

static GUARD_HIT: OnceLock<GuardHit> = OnceLock::new();

/// Writes the goroutine list after an overflow report (async-signal-safe; registered
/// by the runtime: `traceback::write_signal_safe`).
pub(crate) type OverflowDump = fn(&mut dyn FnMut(&[u8]));

static OVERFLOW_DUMP: OnceLock<OverflowDump> = OnceLock::new();

/// Registers what an overflow report prints after its line.
pub(crate) fn set_overflow_dump(f: OverflowDump) {
    let _ = OVERFLOW_DUMP.set(f);
}

static INSTALL: Once = Once::new();
// SAFETY: all-zero is a valid `sigaction` (SIG_DFL, empty mask, no flags).
static mut PREV_SEGV: libc::sigaction = unsafe { std::mem::zeroed() };

/// Installs the SIGSEGV handler once per process, keeping the previous one to chain to.
/// `guard_hit` tells the handler whether a fault address is the running goroutine's
/// guard page, and whose.
pub(crate) fn install_overflow_handler(guard_hit: GuardHit) {
    INSTALL.call_once(|| {
        let _ = GUARD_HIT.set(guard_hit);
        // SAFETY: plain sigaction calls; PREV_SEGV is written once here, before the
        // handler that reads it can run (the handler is installed by the second call).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_segv as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGSEGV, ptr::null(), &raw mut PREV_SEGV);
            libc::sigaction(libc::SIGSEGV, &sa, ptr::null_mut());
        }
    });
}

static QUIT_INSTALL: Once = Once::new();
/// SIGQUIT arrived and no sysmon has taken it yet.
static QUIT_PENDING: AtomicBool = AtomicBool::new(false);
/// Runtimes running (whose sysmon will look at `QUIT_PENDING`).
static QUIT_RUNTIMES: AtomicUsize = AtomicUsize::new(0);
/// Prints the dump SIGQUIT asks for (`debug::print_quit`).
static QUIT_DUMP: OnceLock<fn()> = OnceLock::new();

/// Installs the SIGQUIT handler once per process, if SIGQUIT has its default
/// disposition, with `dump` as what prints the goroutines.
pub(crate) fn install_quit_handler(dump: fn()) {
    QUIT_INSTALL.call_once(|| {
        let _ = QUIT_DUMP.set(dump);
        // SAFETY: plain sigaction calls on zeroed (valid) structures.
        unsafe {
            let mut cur: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGQUIT, ptr::null(), &mut cur);
            if cur.sa_sigaction != libc::SIG_DFL {
                return;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_quit as *const () as usize;
            sa.sa_flags = libc::SA_ONSTACK | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGQUIT, &sa, ptr::null_mut());
        }
    });
}

/// A runtime starts (`true`) or has ended (`false`): whether some sysmon will see a
/// SIGQUIT. A SIGQUIT taken by no sysmon before the last runtime ended is served here.
pub(crate) fn quit_runtime(running: bool) {
    if running {
        QUIT_RUNTIMES.fetch_add(1, SeqCst);
    } else if QUIT_RUNTIMES.fetch_sub(1, SeqCst) == 1 && QUIT_PENDING.swap(false, SeqCst) {
        quit_exit(false);
    }
}

/// sysmon's tick: serves a pending SIGQUIT (prints the dump, exits with status 2).
pub(crate) fn poll_quit() {
    // Relaxed first: the common case reads a flag that is false.
    if QUIT_PENDING.load(std::sync::atomic::Ordering::Relaxed) && QUIT_PENDING.swap(false, SeqCst) {
        quit_exit(true);
    }
}

fn quit_exit(dump: bool) -> ! {
    match QUIT_DUMP.get() {
        Some(f) if dump => f(),
        _ => write_all(b"SIGQUIT: quit\n"),
    }
    // SAFETY: _exit ends the process at once, as Go's exit(2) after a SIGQUIT dump;
    // nothing needs unwinding or flushing (stderr is unbuffered).
    unsafe { libc::_exit(2) }
}

extern "C" fn on_quit(_sig: libc::c_int) {
    // Async-signal-safe: atomics, write(2), _exit(2).
    QUIT_PENDING.store(true, SeqCst);
    if QUIT_RUNTIMES.load(SeqCst) == 0 && QUIT_PENDING.swap(false, SeqCst) {
        write_all(b"SIGQUIT: quit\n");
        // SAFETY: async-signal-safe.
        unsafe { libc::_exit(2) };
    }
}

/// `write(2)` of all of `b` to stderr (async-signal-safe).
fn write_all(mut b: &[u8]) {
    while !b.is_empty() {
        // SAFETY: write(2) from a live slice.
        let n = unsafe { libc::write(2, b.as_ptr().cast(), b.len()) };
        if n <= 0 {
            return;
        }
        b = &b[n as usize..];
    }
}

/// Makes sure this thread has an alternate signal stack (std gives its threads one only
/// when its own handler is installed). Returns the mapping to free at thread exit, if we
/// made one.
pub(crate) fn ensure_altstack() -> Option<(usize, usize)> {
    const SIZE: usize = 64 << 10;
    // SAFETY: sigaltstack queries/sets this thread's own alternate stack; the mapping is
    // ours and freed by `free_altstack` after disabling it.
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(ptr::null(), &mut old);
        if old.ss_flags & libc::SS_DISABLE == 0 {
            return None;
        }
        let p = libc::mmap(
            ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return None;
        }
        let st = libc::stack_t {
            ss_sp: p,
            ss_flags: 0,
            ss_size: SIZE,
        };
        libc::sigaltstack(&st, ptr::null_mut());
        Some((p as usize, SIZE))
    }
}

pub(crate) fn free_altstack(alt: Option<(usize, usize)>) {
    if let Some((p, size)) = alt {
        // SAFETY: disable first so no signal lands on the stack being unmapped.
        unsafe {
            let st = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            libc::sigaltstack(&st, ptr::null_mut());
            libc::munmap(p as *mut _, size);
        }
    }
}

extern "C" fn on_segv(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SIGSEGV.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(o) = GUARD_HIT.get().and_then(|hit| hit(addr)) {
        report_overflow(o.id, o.name, o.stack_kib);
        if let Some(dump) = OVERFLOW_DUMP.get() {
            write_all(b"\n");
            dump(&mut |b| write_all(b));
        }
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    // Not ours: hand it to whoever was there before.
    // SAFETY: PREV_SEGV was written before this handler was installed and never again.
    unsafe {
        let prev = (&raw const PREV_SEGV).read();
        if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
            // Restore the default action and return: the faulting instruction runs again
            // and the process dies of SIGSEGV as it would have without us.
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGSEGV, &sa, ptr::null_mut());
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(prev.sa_sigaction);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(prev.sa_sigaction);
            f(sig);
        }
    }
}

/// Writes the overflow message with `write(2)` only: no allocation, no locks.
fn report_overflow(id: u64, name: Option<&[u8]>, kib: usize) {
    let mut buf = [0u8; 256];
    let mut w = SigWriter {
        buf: &mut buf,
        len: 0,
    };
    w.put(b"goroutine ");
    w.num(id);
    if let Some(n) = name {
        w.put(b" \"");
        w.put(n);
        w.put(b"\"");
    }
    w.put(b" overflowed its stack of ");
    w.num(kib as u64);
    w.put(b" KiB\n");
    let len = w.len;
    // SAFETY: write(2) is async-signal-safe; buf is a live local.
    unsafe { libc::write(2, buf.as_ptr().cast(), len) };
}

struct SigWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl SigWriter<'_> {
    fn put(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }
    fn num(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }
}
