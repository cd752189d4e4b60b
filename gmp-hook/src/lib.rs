//! gmp-hook: unmodified blocking code parks the goroutine instead of blocking its
//! thread. The crate defines the libc functions that `std::net`, `std::thread::sleep`
//! and the crates built on them call (`recv`, `send`, `read`, `write`, `accept`,
//! `connect`, `poll`, `nanosleep`, `getaddrinfo`, ...); the linker binds the program's
//! calls to these instead of glibc's. Tencent's libco does the same for C.
//!
//! # What a hooked call does
//! On a goroutine, for a socket its owner sees as blocking, the hook sets `O_NONBLOCK`
//! under it (once), makes the call, and on `EAGAIN` parks the goroutine in gmp's
//! netpoller (with the socket's `SO_RCVTIMEO`/`SO_SNDTIMEO` as the deadline), then
//! retries: the thread runs other goroutines meanwhile. The result is what the
//! blocking call would have returned (`wait.rs` says exactly). Sleeps park on a timer;
//! `getaddrinfo` and polls of several descriptors run through `gmp::blocking`.
//!
//! Everything else goes straight to the kernel, after one load from a static table
//! (`fdtab.rs`): plain threads, files, pipes, ttys, sockets their owner made
//! non-blocking, and so gmp's own sockets (made `SOCK_NONBLOCK`: no extra syscall). A
//! plain thread that uses a socket a goroutine used before (now non-blocking in the
//! kernel) still blocks: the hook waits in `poll(2)` for it.
//!
//! # What is not covered
//! Only calls that go through the program's symbol table are seen: Rust code linked
//! into the executable (std and every crate). C code in shared libraries (libpq,
//! libssl's own sockets, libcurl) calls glibc directly, and glibc's internal calls
//! (its resolver, `system`) never leave glibc; `io_uring`, raw `syscall(2)` and
//! descriptors numbered past 2^20 are not seen either. Such calls block their thread as
//! before, and sysmon hands the P on after ~10 ms.
//!
//! # Turning it off
//! Build without the `hook` feature of `gmp`, or set `GMP_HOOK=off` in the environment
//! (read once at start-up): every call then goes straight to the kernel. A forked child
//! (between `fork` and `exec`) never parks.
//!
//! # Invariants
//! No allocation, no lock and no recursion on the fast path (a table load and the raw
//! syscall through `sys.rs`, never the libc function the hook replaces); the slow path
//! allocates only a socket's first `PollDesc`. A hooked call parks only where
//! `gmp_core::__private::can_park` says a goroutine may: never on g0, inside a P
//! section, inside `gmp::blocking`, or on a plain thread.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]

mod ctl;
mod fdtab;
mod io;
mod resolve;
mod sleep;
mod sys;
mod wait;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Set in a forked child and by `GMP_HOOK=off`: nothing parks.
static DISABLED: AtomicBool = AtomicBool::new(false);

/// The `ioctl` request `active` sends to descriptor -1 (`"GMPH"`; the real `ioctl`
/// answers `EBADF` to any request on -1).
pub(crate) const PROBE: libc::c_ulong = 0x474d_5048;

/// Whether a hooked call may park here: the hook is on, and gmp-core says the caller is
/// a goroutine that may park.
#[inline]
pub(crate) fn can_park() -> bool {
    // Relaxed: a flag set once before (start-up) or in (fork) this thread's life.
    !DISABLED.load(Relaxed) && gmp_core::__private::can_park()
}

/// Runs at load time (`.init_array`): reads `GMP_HOOK` and arranges for a forked child
/// to stop parking. `wait::slow` refers to it, so the linker keeps it with the hooks.
#[used]
#[link_section = ".init_array"]
pub(crate) static INIT: extern "C" fn() = init;

extern "C" fn init() {
    extern "C" fn in_child() {
        DISABLED.store(true, Relaxed);
    }
    // SAFETY: a NUL-terminated name; the value, if any, is a C string libc owns.
    let off = unsafe {
        let v = libc::getenv(c"GMP_HOOK".as_ptr());
        !v.is_null() && matches!(std::ffi::CStr::from_ptr(v).to_bytes(), b"off" | b"0")
    };
    if off {
        DISABLED.store(true, Relaxed);
    }
    // SAFETY: registering a handler that only stores to an atomic.
    unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
}

/// Whether the hooks are in effect: this program's libc calls reach them (the linker
/// bound them here) and `GMP_HOOK=off` was not set.
///
/// ```
/// // In a program built with gmp's `hook` feature:
/// assert!(gmp_hook::active());
/// ```
pub fn active() -> bool {
    let mut got: libc::c_int = 0;
    // SAFETY: the probe request on -1: the hook writes the int; the real ioctl fails
    // with EBADF and writes nothing.
    let r = unsafe { libc::ioctl(-1, PROBE, &mut got as *mut libc::c_int) };
    r == 0 && got == 1 && !DISABLED.load(Relaxed)
}
