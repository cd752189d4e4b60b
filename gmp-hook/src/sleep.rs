//! The interposed waits with no descriptor to read: `nanosleep` and `clock_nanosleep`
//! (so `std::thread::sleep` parks the goroutine on a timer), and `poll` (std's
//! `connect_timeout` polls one socket; that parks in the netpoller, anything else runs
//! off the P through `gmp::blocking`).

use crate::fdtab::{self, KNOWN, SOCK};
use crate::sys::{self, set_errno};
use gmp_core::__private::netpoll::{deadline_after, Mode};
use libc::{c_int, clockid_t, nfds_t, pollfd, timespec};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// A valid relative `timespec` as a `Duration`, or `None` (`EINVAL`).
fn duration(ts: &timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `nanosleep(2)`: a goroutine sleeps on a timer, its thread runs other goroutines.
///
/// # Safety
/// libc's contract for `nanosleep`.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if req.is_null() || !crate::can_park() {
        // SAFETY: the caller's arguments, as given.
        return unsafe { sys::nanosleep(req, rem) };
    }
    // SAFETY: the caller's timespec.
    let Some(d) = duration(unsafe { &*req }) else {
        set_errno(libc::EINVAL);
        return -1;
    };
    gmp_core::sleep(d);
    0
}

/// `clock_nanosleep(2)` on the realtime, monotonic or boot-time clock, relative or
/// absolute (`TIMER_ABSTIME`), as `nanosleep`. Returns 0 or an error number, as libc's.
///
/// # Safety
/// libc's contract for `clock_nanosleep`.
#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let known = matches!(
        clock,
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME
    );
    if !known || req.is_null() || !crate::can_park() {
        // SAFETY: the caller's arguments, as given.
        return unsafe { sys::clock_nanosleep(clock, flags, req, rem) };
    }
    // SAFETY: the caller's timespec.
    let Some(at) = duration(unsafe { &*req }) else {
        return libc::EINVAL;
    };
    let d = if flags & libc::TIMER_ABSTIME != 0 {
        // SAFETY: a zeroed timespec is a valid out-buffer.
        let mut now: timespec = unsafe { std::mem::zeroed() };
        // SAFETY: clock_gettime into our buffer (the vDSO; not a hooked call).
        if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
            return libc::EINVAL;
        }
        at.saturating_sub(duration(&now).unwrap_or_default())
    } else {
        at
    };
    gmp_core::sleep(d);
    0
}

/// `poll(2)`. A goroutine polling one socket for reading or for writing with a timeout
/// (std's `connect_timeout`) parks in the netpoller; any other poll that may wait runs
/// through `gmp::blocking` (its thread blocks, its P goes on with other goroutines).
///
/// # Safety
/// libc's contract for `poll`.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, n: nfds_t, timeout: c_int) -> c_int {
    if timeout == 0 || !crate::can_park() {
        // SAFETY: the caller's arguments, as given.
        return unsafe { sys::poll(fds, n, timeout) };
    }
    if n == 0 && timeout > 0 {
        gmp_core::sleep(Duration::from_millis(timeout as u64));
        return 0;
    }
    if n == 1 {
        // SAFETY: the caller's one pollfd.
        if let Some(r) = unsafe { poll_one(fds, timeout) } {
            return r;
        }
    }
    // SAFETY: the caller's arguments, as given.
    gmp_core::blocking(|| unsafe { sys::poll(fds, n, timeout) })
}

/// `poll` of one socket for one direction on a goroutine; `None` if that is not what
/// was asked.
///
/// # Safety
/// `fds` points to one valid pollfd.
unsafe fn poll_one(fds: *mut pollfd, timeout: c_int) -> Option<c_int> {
    // SAFETY: the caller's pollfd.
    let p = unsafe { &mut *fds };
    let read = libc::POLLIN | libc::POLLPRI | libc::POLLRDNORM;
    let write = libc::POLLOUT | libc::POLLWRNORM;
    let mode = if p.events & write == 0 && p.events & read != 0 {
        Mode::Read
    } else if p.events & read == 0 && p.events & write != 0 {
        Mode::Write
    } else {
        return None;
    };
    let s = fdtab::slot(p.fd)?;
    let mut state = s.state.load(Relaxed);
    if state & KNOWN == 0 {
        state = fdtab::classify(p.fd, s);
    }
    if state & (KNOWN | SOCK) != KNOWN | SOCK {
        return None;
    }
    let deadline = (timeout > 0).then(|| deadline_after(Duration::from_millis(timeout as u64)));
    let pd = s.pd_or_alloc(p.fd);
    loop {
        let since = pd.events(mode);
        // SAFETY: the caller's pollfd, no waiting.
        let r = unsafe { sys::poll(fds, 1, 0) };
        if r != 0 {
            return Some(r);
        }
        if pd.wait_since(mode, deadline, Some(since)).is_err() {
            // The timeout passed (or the socket was closed: the poll says how).
            // SAFETY: as above.
            return Some(unsafe { sys::poll(fds, 1, 0) });
        }
    }
}
