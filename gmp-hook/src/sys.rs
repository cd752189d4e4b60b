//! Raw system calls: the hook's own way into the kernel. In an executable that links
//! gmp-hook, libc's `recv` *is* the hook, so calling it from here would recurse; every
//! call below goes through `syscall(2)` instead. Each returns what the libc wrapper
//! returns (-1 with `errno` set on failure).

use libc::{c_int, c_long, c_void, size_t, sockaddr, socklen_t, ssize_t};

/// This thread's `errno`.
#[inline]
pub(crate) fn errno() -> c_int {
    // SAFETY: `__errno_location` returns this thread's errno slot, valid for its life.
    unsafe { *libc::__errno_location() }
}

/// Sets this thread's `errno`.
#[inline]
pub(crate) fn set_errno(e: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e }
}

macro_rules! raw {
    ($nr:expr $(, $a:expr)*) => {
        // SAFETY: the caller passes the arguments its own caller passed to the libc
        // function this syscall implements, with the same meaning.
        unsafe { libc::syscall($nr $(, $a as c_long)*) }
    };
}

pub(crate) unsafe fn read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    raw!(libc::SYS_read, fd, buf, n) as ssize_t
}

pub(crate) unsafe fn write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t {
    raw!(libc::SYS_write, fd, buf, n) as ssize_t
}

pub(crate) unsafe fn readv(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t {
    raw!(libc::SYS_readv, fd, iov, cnt) as ssize_t
}

pub(crate) unsafe fn writev(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t {
    raw!(libc::SYS_writev, fd, iov, cnt) as ssize_t
}

pub(crate) unsafe fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> ssize_t {
    raw!(libc::SYS_recvfrom, fd, buf, n, flags, addr, len) as ssize_t
}

pub(crate) unsafe fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> ssize_t {
    raw!(libc::SYS_sendto, fd, buf, n, flags, addr, len) as ssize_t
}

pub(crate) unsafe fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t {
    raw!(libc::SYS_recvmsg, fd, msg, flags) as ssize_t
}

pub(crate) unsafe fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t {
    raw!(libc::SYS_sendmsg, fd, msg, flags) as ssize_t
}

pub(crate) unsafe fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    raw!(libc::SYS_accept4, fd, addr, len, flags) as c_int
}

pub(crate) unsafe fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    raw!(libc::SYS_connect, fd, addr, len) as c_int
}

pub(crate) unsafe fn socket(domain: c_int, ty: c_int, proto: c_int) -> c_int {
    raw!(libc::SYS_socket, domain, ty, proto) as c_int
}

pub(crate) unsafe fn socketpair(domain: c_int, ty: c_int, proto: c_int, sv: *mut c_int) -> c_int {
    raw!(libc::SYS_socketpair, domain, ty, proto, sv) as c_int
}

pub(crate) unsafe fn poll(fds: *mut libc::pollfd, n: libc::nfds_t, timeout: c_int) -> c_int {
    raw!(libc::SYS_poll, fds, n, timeout) as c_int
}

pub(crate) unsafe fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    raw!(libc::SYS_fcntl, fd, cmd, arg) as c_int
}

pub(crate) unsafe fn ioctl(fd: c_int, req: libc::c_ulong, arg: usize) -> c_int {
    raw!(libc::SYS_ioctl, fd, req, arg) as c_int
}

pub(crate) unsafe fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    raw!(libc::SYS_setsockopt, fd, level, name, val, len) as c_int
}

pub(crate) unsafe fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    raw!(libc::SYS_getsockopt, fd, level, name, val, len) as c_int
}

pub(crate) unsafe fn close(fd: c_int) -> c_int {
    raw!(libc::SYS_close, fd) as c_int
}

pub(crate) unsafe fn dup(fd: c_int) -> c_int {
    raw!(libc::SYS_dup, fd) as c_int
}

pub(crate) unsafe fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    raw!(libc::SYS_dup3, old, new, flags) as c_int
}

pub(crate) unsafe fn dup2(old: c_int, new: c_int) -> c_int {
    raw!(libc::SYS_dup2, old, new) as c_int
}

pub(crate) unsafe fn fstat(fd: c_int, st: *mut libc::stat) -> c_int {
    raw!(libc::SYS_fstat, fd, st) as c_int
}

pub(crate) unsafe fn nanosleep(req: *const libc::timespec, rem: *mut libc::timespec) -> c_int {
    raw!(libc::SYS_nanosleep, req, rem) as c_int
}

/// `clock_nanosleep` as libc returns it: 0 or an error number (not -1 and `errno`).
pub(crate) unsafe fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const libc::timespec,
    rem: *mut libc::timespec,
) -> c_int {
    if raw!(libc::SYS_clock_nanosleep, clock, flags, req, rem) == 0 {
        0
    } else {
        errno()
    }
}
