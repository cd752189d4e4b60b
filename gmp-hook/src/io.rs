//! The interposed socket I/O calls: reads, writes, `accept`, `connect`. Each is the libc
//! function's exact signature; each either goes straight to the kernel (the fast path:
//! one table load) or runs through `wait::call`.

use crate::fdtab;
use crate::sys::{self, errno, set_errno};
use crate::wait;
use gmp_core::__private::netpoll::{deadline_after, Mode};
use libc::{c_int, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};
use std::sync::atomic::Ordering::Relaxed;

/// How many iovecs a write that resumes part-way rebuilds on the stack at once; a longer
/// remainder goes out over several calls.
const IOV_CHUNK: usize = 64;

/// The iovecs of `iov[..cnt]` past the first `skip` bytes, up to `IOV_CHUNK` of them.
///
/// # Safety
/// `iov` points to `cnt` valid iovecs.
unsafe fn iov_rest(
    iov: *const iovec,
    cnt: c_int,
    mut skip: usize,
    out: &mut [iovec; IOV_CHUNK],
) -> c_int {
    let mut n = 0;
    for i in 0..cnt.max(0) as usize {
        // SAFETY: `i < cnt` (the caller's contract).
        let v = unsafe { *iov.add(i) };
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        out[n] = iovec {
            // SAFETY: `skip < iov_len`: still inside the caller's buffer.
            iov_base: unsafe { (v.iov_base as *mut u8).add(skip) } as *mut c_void,
            iov_len: v.iov_len - skip,
        };
        skip = 0;
        n += 1;
        if n == IOV_CHUNK {
            break;
        }
    }
    n as c_int
}

/// The total length of `iov[..cnt]`.
///
/// # Safety
/// As for [`iov_rest`].
unsafe fn iov_len(iov: *const iovec, cnt: c_int) -> usize {
    let mut total = 0usize;
    for i in 0..cnt.max(0) as usize {
        // SAFETY: `i < cnt` (the caller's contract).
        total = total.saturating_add(unsafe { (*iov.add(i)).iov_len });
    }
    total
}

/// `read(2)`: on a blocking socket a goroutine parks until data (or EOF) arrives.
///
/// # Safety
/// libc's contract for `read`.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    // SAFETY: the caller's arguments, as given.
    wait::call(fd, Mode::Read, 0, |_| unsafe { sys::read(fd, buf, n) })
}

/// `readv(2)`, as `read`.
///
/// # Safety
/// libc's contract for `readv`.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    // SAFETY: the caller's arguments, as given.
    wait::call(fd, Mode::Read, 0, |_| unsafe { sys::readv(fd, iov, cnt) })
}

/// `recv(2)`, as `read`; `MSG_DONTWAIT` goes straight to the kernel, `MSG_WAITALL` waits
/// for all `n` bytes (or EOF, an error, the timeout).
///
/// # Safety
/// libc's contract for `recv`.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's arguments, as given.
    unsafe {
        recvfrom(
            fd,
            buf,
            n,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// `recvfrom(2)`, as `recv`.
///
/// # Safety
/// libc's contract for `recvfrom`.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the caller's arguments, as given.
        return unsafe { sys::recvfrom(fd, buf, n, flags, addr, alen) };
    }
    let want = if flags & libc::MSG_WAITALL != 0 { n } else { 0 };
    wait::call(fd, Mode::Read, want, |done| {
        // SAFETY: the caller's buffer, past what is already filled.
        unsafe {
            sys::recvfrom(
                fd,
                (buf as *mut u8).add(done) as *mut c_void,
                n - done,
                flags,
                addr,
                alen,
            )
        }
    })
}

/// `recvmsg(2)`, as `read` (one message; `MSG_DONTWAIT` straight to the kernel).
///
/// # Safety
/// libc's contract for `recvmsg`.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the caller's arguments, as given.
        return unsafe { sys::recvmsg(fd, msg, flags) };
    }
    // SAFETY: the caller's arguments, as given.
    wait::call(fd, Mode::Read, 0, |_| unsafe {
        sys::recvmsg(fd, msg, flags)
    })
}

/// `write(2)`: on a blocking socket a goroutine parks until all `n` bytes are sent.
///
/// # Safety
/// libc's contract for `write`.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t {
    wait::call(fd, Mode::Write, n, |done| {
        // SAFETY: the caller's buffer, past what is already sent.
        unsafe { sys::write(fd, (buf as *const u8).add(done) as *const c_void, n - done) }
    })
}

/// `writev(2)`, as `write`.
///
/// # Safety
/// libc's contract for `writev`.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    // SAFETY: the caller's iovecs.
    let want = unsafe { iov_len(iov, cnt) };
    wait::call(fd, Mode::Write, want, |done| {
        if done == 0 {
            // SAFETY: the caller's arguments, as given.
            return unsafe { sys::writev(fd, iov, cnt) };
        }
        let mut rest = [iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; IOV_CHUNK];
        // SAFETY: the caller's iovecs; the rebuilt ones point into the same buffers.
        unsafe {
            let n = iov_rest(iov, cnt, done, &mut rest);
            sys::writev(fd, rest.as_ptr(), n)
        }
    })
}

/// `send(2)`, as `write`; `MSG_DONTWAIT` goes straight to the kernel.
///
/// # Safety
/// libc's contract for `send`.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, n: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's arguments, as given.
    unsafe { sendto(fd, buf, n, flags, std::ptr::null(), 0) }
}

/// `sendto(2)`, as `send`.
///
/// # Safety
/// libc's contract for `sendto`.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the caller's arguments, as given.
        return unsafe { sys::sendto(fd, buf, n, flags, addr, alen) };
    }
    wait::call(fd, Mode::Write, n, |done| {
        // SAFETY: the caller's buffer, past what is already sent.
        unsafe {
            sys::sendto(
                fd,
                (buf as *const u8).add(done) as *const c_void,
                n - done,
                flags,
                addr,
                alen,
            )
        }
    })
}

/// `sendmsg(2)`, as `send`; a message sent part-way goes on without its control data
/// (the kernel took that with the first part).
///
/// # Safety
/// libc's contract for `sendmsg`.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the caller's arguments, as given.
        return unsafe { sys::sendmsg(fd, msg, flags) };
    }
    // SAFETY: the caller's msghdr and its iovecs.
    let want = unsafe { iov_len((*msg).msg_iov, (*msg).msg_iovlen as c_int) };
    wait::call(fd, Mode::Write, want, |done| {
        if done == 0 {
            // SAFETY: the caller's arguments, as given.
            return unsafe { sys::sendmsg(fd, msg, flags) };
        }
        let mut rest = [iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; IOV_CHUNK];
        // SAFETY: the caller's msghdr; the rebuilt iovecs point into its buffers.
        unsafe {
            let mut m: msghdr = *msg;
            m.msg_iovlen = iov_rest(m.msg_iov, m.msg_iovlen as c_int, done, &mut rest) as _;
            m.msg_iov = rest.as_mut_ptr();
            m.msg_control = std::ptr::null_mut();
            m.msg_controllen = 0;
            sys::sendmsg(fd, &m, flags)
        }
    })
}

/// `accept(2)`: a goroutine parks until a connection arrives on a blocking listener.
///
/// # Safety
/// libc's contract for `accept`.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> c_int {
    // SAFETY: the caller's arguments, as given.
    unsafe { accept4(fd, addr, alen, 0) }
}

/// `accept4(2)`, as `accept`; the new socket is known from birth.
///
/// # Safety
/// libc's contract for `accept4`.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, as given.
    let c = wait::call(fd, Mode::Read, 0, |_| unsafe {
        sys::accept4(fd, addr, alen, flags) as isize
    }) as c_int;
    if c >= 0 {
        fdtab::opened_socket(c, flags & libc::SOCK_NONBLOCK != 0);
    }
    c
}

/// `connect(2)`: on a blocking socket a goroutine parks until the connection is made or
/// fails, under the socket's send timeout (`EINPROGRESS` when it passes, as the kernel).
///
/// # Safety
/// libc's contract for `connect`.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, alen: socklen_t) -> c_int {
    // SAFETY: the caller's arguments, as given.
    let raw = || unsafe { sys::connect(fd, addr, alen) };
    let Some(s) = fdtab::slot(fd) else {
        return raw();
    };
    let state = s.state.load(Relaxed);
    if fdtab::passthrough(state) {
        return raw();
    }
    let Some(park) = wait::prepare(fd, s, state, crate::can_park()) else {
        return raw();
    };
    let deadline = s.timeout(Mode::Write).map(deadline_after);
    let since = s.pd().map(|pd| pd.events(Mode::Write));
    let r = raw();
    if r == 0 || errno() != libc::EINPROGRESS {
        return r;
    }
    let mut since = since;
    loop {
        if let Err(e) = wait::wait(fd, s, Mode::Write, deadline, since, park) {
            set_errno(if e == libc::EAGAIN {
                libc::EINPROGRESS
            } else {
                e
            });
            return -1;
        }
        // A wake-up can be spurious (a recycled desc's stale readiness): the
        // connection is done only once the socket polls writable.
        since = s.pd().map(|pd| pd.events(Mode::Write));
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no waiting.
        if unsafe { sys::poll(&mut pfd, 1, 0) } != 0 {
            break;
        }
    }
    let mut err: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: getsockopt into our int.
    let r = unsafe {
        sys::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut err as *mut c_int as *mut c_void,
            &mut len,
        )
    };
    if r != 0 {
        return -1;
    }
    if err != 0 {
        set_errno(err);
        return -1;
    }
    0
}
