//! The stream calls on gmp-net's fast path (`recv`, `send`, `readv`, `sendmsg`), made
//! through `syscall(2)` rather than glibc's wrappers of the same names.
//!
//! glibc's wrappers are pthread cancellation points: each brackets its syscall with
//! `__pthread_enable_asynccancel` and `__pthread_disable_asynccancel`, some 60
//! instructions a call, 121 of the 3,340 user-space instructions of an HTTP request
//! (callgrind, `scripts/instructions.sh`). gmp never cancels a thread, so the brackets
//! buy nothing. The calls keep std's flags (`MSG_NOSIGNAL` on sends) and return what
//! std's would: the count, or the OS error. With the `hook` feature these calls do not
//! pass through gmp-hook's interposed symbols, which would only pass them on: gmp's
//! own sockets are non-blocking and registered already.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::RawFd;

/// A syscall's result as std reports it: `-1` is the thread's `errno`.
#[inline]
fn cvt(r: libc::c_long) -> io::Result<usize> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// This thread's `errno`, read through libc's `__errno_location`, in a frame of its own.
///
/// Not `io::Error::last_os_error()`: std declares `__errno_location` `#[ffi_const]`, so
/// once that call is inlined into a loop that parks (`Sock::io_until`), LLVM may compute
/// the errno address once and keep it, and a goroutine that parked on one thread and
/// resumed on another then reads the first thread's errno: a reset peer's `ECONNRESET`
/// came back as the `EAGAIN` of an earlier call and the writer parked forever
/// (tests/tcp_echo.rs `peer_reset_mid_transfer_is_an_error_not_a_hang`, about one run
/// in two). libc's binding is a plain call, and `inline(never)` keeps it one per read
/// (gmp-core's thread-local rule).
#[cold]
#[inline(never)]
fn errno() -> io::Error {
    // SAFETY: `__errno_location` returns this thread's errno slot, valid while it lives.
    io::Error::from_raw_os_error(unsafe { *libc::__errno_location() })
}

/// `recv(fd, buf, 0)`.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length; a null source address is allowed.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            0,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    })
}

/// `send(fd, buf, MSG_NOSIGNAL)`: a closed peer is `EPIPE`, never `SIGPIPE`.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length; no destination address.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::socklen_t,
        )
    })
}

/// `readv(fd, bufs)`. `IoSliceMut` is ABI-compatible with `iovec` (std guarantees it).
pub(crate) fn readv(fd: RawFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let n = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: `bufs` holds `n` or more iovecs, each valid for writes of its length.
    cvt(unsafe { libc::syscall(libc::SYS_readv, fd, bufs.as_mut_ptr(), n) })
}

/// `sendmsg` of `bufs` with `MSG_NOSIGNAL` (std's `write_vectored` is `writev`, which can
/// raise `SIGPIPE`; std ignores that signal, a program that restores it would die).
pub(crate) fn sendv(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero msghdr is valid (no address, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(libc::UIO_MAXIOV as usize) as _;
    // SAFETY: `msg` points at `msg_iovlen` iovecs (`IoSlice` is ABI-compatible with
    // `iovec`), each valid for reads of its length; sendmsg does not write through them.
    cvt(unsafe { libc::syscall(libc::SYS_sendmsg, fd, &msg, libc::MSG_NOSIGNAL) })
}
