//! The calls that tell the hook what a descriptor is: made (`socket`, `socketpair`),
//! gone (`close`), duplicated (`dup`, `dup2`, `dup3`, `F_DUPFD`), switched to
//! non-blocking by its owner (`fcntl(F_SETFL)`, `ioctl(FIONBIO)`), given timeouts
//! (`setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)`). Each makes the real call and records the
//! result; where the hook keeps a socket non-blocking under a blocking owner, the owner
//! is shown the mode it set (`F_GETFL`), and clearing `O_NONBLOCK` leaves the kernel's
//! flag on.
//!
//! `fcntl` and `ioctl` are variadic in C; stable Rust cannot define a variadic function,
//! so they are defined with one word-sized argument, which is where the x86-64 System V
//! convention puts a variadic caller's first integer or pointer argument (and these
//! calls take at most one).

use crate::fdtab::{self, HIDDEN_NB, KNOWN, SOCK, USER_NB};
use crate::sys;
use libc::{c_int, c_ulong, c_void, socklen_t};
use std::sync::atomic::Ordering::Relaxed;

/// `socket(2)`; the socket is known from birth.
///
/// # Safety
/// libc's contract for `socket`.
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, proto: c_int) -> c_int {
    // SAFETY: the caller's arguments, as given.
    let fd = unsafe { sys::socket(domain, ty, proto) };
    if fd >= 0 {
        fdtab::opened_socket(fd, ty & libc::SOCK_NONBLOCK != 0);
    }
    fd
}

/// `socketpair(2)`; both sockets are known from birth.
///
/// # Safety
/// libc's contract for `socketpair`.
#[no_mangle]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    proto: c_int,
    sv: *mut c_int,
) -> c_int {
    // SAFETY: the caller's arguments, as given; `sv` holds two ints.
    unsafe {
        let r = sys::socketpair(domain, ty, proto, sv);
        if r == 0 {
            fdtab::opened_socket(*sv, ty & libc::SOCK_NONBLOCK != 0);
            fdtab::opened_socket(*sv.add(1), ty & libc::SOCK_NONBLOCK != 0);
        }
        r
    }
}

/// `close(2)`: the hook forgets the descriptor (waking any goroutine parked on it with
/// `EBADF`) before its number can be reused.
///
/// # Safety
/// libc's contract for `close`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    fdtab::forget(fd);
    // SAFETY: the caller's argument.
    unsafe { sys::close(fd) }
}

/// `dup(2)`: the duplicate shares the original's mode and timeouts.
///
/// # Safety
/// libc's contract for `dup`.
#[no_mangle]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: the caller's argument.
    let new = unsafe { sys::dup(fd) };
    if new >= 0 {
        fdtab::duplicated(fd, new);
    }
    new
}

/// `dup2(2)`, as `dup`; whatever `new` was is forgotten.
///
/// # Safety
/// libc's contract for `dup2`.
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // SAFETY: the caller's arguments.
    let r = unsafe { sys::dup2(old, new) };
    if r >= 0 && old != new {
        fdtab::duplicated(old, new);
    }
    r
}

/// `dup3(2)`, as `dup2`.
///
/// # Safety
/// libc's contract for `dup3`.
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments.
    let r = unsafe { sys::dup3(old, new, flags) };
    if r >= 0 {
        fdtab::duplicated(old, new);
    }
    r
}

/// `fcntl(2)`: records `O_NONBLOCK` set or cleared by the owner, hides the hook's own,
/// and carries a socket's mode to an `F_DUPFD` duplicate.
///
/// # Safety
/// libc's contract for `fcntl`, with at most one argument after `cmd`.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    let slot = fdtab::slot(fd);
    let state = slot.map_or(0, |s| s.state.load(Relaxed));
    let ours = state & (KNOWN | SOCK) == KNOWN | SOCK;
    match cmd {
        libc::F_SETFL if ours => {
            let s = slot.expect("a known socket has a slot");
            let nb = arg as c_int & libc::O_NONBLOCK != 0;
            let kernel = if state & HIDDEN_NB != 0 {
                arg | libc::O_NONBLOCK as usize
            } else {
                arg
            };
            // SAFETY: the caller's arguments, with our flag kept.
            let r = unsafe { sys::fcntl(fd, cmd, kernel) };
            if r == 0 {
                if nb {
                    s.state.fetch_or(USER_NB, Relaxed);
                } else {
                    s.state.fetch_and(!USER_NB, Relaxed);
                }
            }
            r
        }
        libc::F_GETFL if ours => {
            // SAFETY: the caller's arguments.
            let r = unsafe { sys::fcntl(fd, cmd, arg) };
            if r >= 0 && state & HIDDEN_NB != 0 && state & USER_NB == 0 {
                return r & !libc::O_NONBLOCK;
            }
            r
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            // SAFETY: the caller's arguments.
            let new = unsafe { sys::fcntl(fd, cmd, arg) };
            if new >= 0 {
                fdtab::duplicated(fd, new);
            }
            new
        }
        // SAFETY: the caller's arguments, as given.
        _ => unsafe { sys::fcntl(fd, cmd, arg) },
    }
}

/// `ioctl(2)`: `FIONBIO` is recorded as `fcntl(F_SETFL)` is.
///
/// # Safety
/// libc's contract for `ioctl`, with at most one argument after `req`.
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, arg: usize) -> c_int {
    if fd == -1 && req == crate::PROBE {
        if arg != 0 {
            // SAFETY: `crate::active` passes a pointer to an int.
            unsafe { *(arg as *mut c_int) = 1 };
        }
        return 0;
    }
    if req == libc::FIONBIO {
        if let Some(s) = fdtab::slot(fd) {
            let state = s.state.load(Relaxed);
            if state & (KNOWN | SOCK) == KNOWN | SOCK && arg != 0 {
                // SAFETY: FIONBIO's argument points to an int.
                let nb = unsafe { *(arg as *const c_int) } != 0;
                if !nb && state & HIDDEN_NB != 0 {
                    // The kernel's flag stays on (the hook waits for this owner).
                    s.state.fetch_and(!USER_NB, Relaxed);
                    return 0;
                }
                // SAFETY: the caller's arguments.
                let r = unsafe { sys::ioctl(fd, req, arg) };
                if r == 0 {
                    if nb {
                        s.state.fetch_or(USER_NB, Relaxed);
                    } else {
                        s.state.fetch_and(!USER_NB, Relaxed);
                    }
                }
                return r;
            }
        }
    }
    // SAFETY: the caller's arguments, as given.
    unsafe { sys::ioctl(fd, req, arg) }
}

/// `setsockopt(2)`: `SO_RCVTIMEO` and `SO_SNDTIMEO` become the deadlines of the hook's
/// waits (the kernel keeps them too, for `getsockopt`).
///
/// # Safety
/// libc's contract for `setsockopt`.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's arguments, as given.
    let r = unsafe { sys::setsockopt(fd, level, name, val, len) };
    // SO_RCVTIMEO_NEW / SO_SNDTIMEO_NEW (66, 67) take the same 16-byte struct on x86-64.
    let write = match name {
        libc::SO_RCVTIMEO | 66 => false,
        libc::SO_SNDTIMEO | 67 => true,
        _ => return r,
    };
    if r == 0 && level == libc::SOL_SOCKET && len as usize >= std::mem::size_of::<libc::timeval>() {
        if let Some(s) = fdtab::slot(fd) {
            // SAFETY: the kernel accepted `val` as a timeval.
            let tv = unsafe { std::ptr::read_unaligned(val as *const libc::timeval) };
            s.set_timeout(write, fdtab::timeval_ns(&tv));
        }
    }
    r
}
