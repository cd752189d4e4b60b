//! The one loop behind every interposed call that can block: try the call without
//! blocking; on `EAGAIN`, wait (park the goroutine in the netpoller, or block a plain
//! thread in `poll(2)` if the hook had made the socket non-blocking under it), retry.
//!
//! The result is what the blocking call would have returned: a read returns as soon as
//! some data is there; a write on a blocking socket returns only when all of it went
//! out, or with the count sent so far when the socket's timeout passes or an error
//! follows (as the kernel's blocking `send` does); a timeout with nothing done is -1
//! with `EAGAIN` (`EINPROGRESS` for `connect`), the errno a timed-out blocking call
//! gives, which std reports as `WouldBlock`.

use crate::fdtab::{self, Slot, HIDDEN_NB, KNOWN};
use crate::sys::{self, errno, set_errno};
use gmp_core::__private::netpoll::{deadline_after, Mode};
use libc::c_int;
use std::io::ErrorKind;

/// Runs `op` (the raw call, given how many bytes are already done) as a blocking call
/// on `fd` would behave. `want` is the byte count a write must finish (0 for calls that
/// return after one success: reads, accept).
#[inline(always)]
pub(crate) fn call(
    fd: c_int,
    mode: Mode,
    want: usize,
    mut op: impl FnMut(usize) -> isize,
) -> isize {
    let Some(s) = fdtab::slot(fd) else {
        return op(0);
    };
    let state = s.state.load(std::sync::atomic::Ordering::Relaxed);
    if fdtab::passthrough(state) {
        return op(0);
    }
    let park = crate::can_park();
    if !park && state & HIDDEN_NB == 0 {
        // A plain thread (or g0, or inside `blocking`) on a socket the hook never made
        // non-blocking: the kernel blocks as asked.
        return op(0);
    }
    slow(fd, s, state, park, mode, want, &mut op)
}

/// Decides how a call on a descriptor that is not a pass-through waits, given what
/// `crate::can_park` said (`park`): `Some(true)` to park the goroutine, `Some(false)` to
/// block the thread in `poll(2)` (a socket the hook made non-blocking, used off a
/// goroutine), `None` to make the plain call (the kernel blocks, or does not, as the
/// owner asked). On a goroutine it classifies an unknown descriptor and switches a
/// blocking socket to non-blocking underneath.
pub(crate) fn prepare(fd: c_int, s: &Slot, mut state: u32, park: bool) -> Option<bool> {
    // Keeps the load-time constructor in the link with the hooks (see `crate::INIT`).
    std::hint::black_box(&crate::INIT);
    if !park {
        // Never made non-blocking by the hook: the kernel blocks as asked.
        return (state & HIDDEN_NB != 0).then_some(false);
    }
    if state & KNOWN == 0 {
        state = fdtab::classify(fd, s);
        if state == 0 || fdtab::passthrough(state) {
            return None;
        }
    }
    if state & HIDDEN_NB == 0 && !fdtab::hide_nonblocking(fd, s) {
        return None;
    }
    Some(true)
}

#[inline(never)]
fn slow(
    fd: c_int,
    s: &'static Slot,
    state: u32,
    park: bool,
    mode: Mode,
    want: usize,
    op: &mut dyn FnMut(usize) -> isize,
) -> isize {
    let Some(park) = prepare(fd, s, state, park) else {
        return op(0);
    };
    let deadline = s.timeout(mode).map(deadline_after);
    let mut done = 0usize;
    loop {
        let since = s.pd().map(|pd| pd.events(mode));
        let r = op(done);
        if r >= 0 {
            done += r as usize;
            if r == 0 || done >= want {
                return done as isize;
            }
            continue;
        }
        let e = errno();
        if e != libc::EAGAIN {
            if done > 0 {
                return done as isize;
            }
            return -1;
        }
        if let Err(e) = wait(fd, s, mode, deadline, since, park) {
            if done > 0 {
                return done as isize;
            }
            set_errno(e);
            return -1;
        }
    }
}

/// Waits until `fd` may be ready for `mode`: parks the goroutine (`park`) or blocks the
/// thread in `poll(2)`. `Err` carries the errno to fail with: `EAGAIN` when the
/// deadline passed, `EBADF` when the descriptor was closed meanwhile.
pub(crate) fn wait(
    fd: c_int,
    s: &'static Slot,
    mode: Mode,
    deadline: Option<u64>,
    since: Option<u64>,
    park: bool,
) -> Result<(), c_int> {
    if park {
        return match s.pd_or_alloc(fd).wait_since(mode, deadline, since) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::TimedOut => Err(libc::EAGAIN),
            Err(_) => Err(libc::EBADF),
        };
    }
    poll_thread(fd, mode, deadline)
}

/// Blocks the thread until `fd` is ready for `mode` or `deadline` passes (`EAGAIN`).
fn poll_thread(fd: c_int, mode: Mode, deadline: Option<u64>) -> Result<(), c_int> {
    let events = match mode {
        Mode::Read => libc::POLLIN,
        Mode::Write => libc::POLLOUT,
    };
    loop {
        let timeout = match deadline {
            None => -1,
            Some(d) => {
                let left = gmp_core::__private::netpoll::deadline_left(d);
                if left.is_zero() {
                    return Err(libc::EAGAIN);
                }
                // Round up, so the wait never ends before the deadline.
                left.as_nanos().div_ceil(1_000_000).min(c_int::MAX as u128) as c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { sys::poll(&mut pfd, 1, timeout) };
        if r > 0 {
            return Ok(());
        }
        if r < 0 && errno() != libc::EINTR {
            return Err(errno());
        }
    }
}
