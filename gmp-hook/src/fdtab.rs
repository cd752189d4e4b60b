//! What the hook knows of each file descriptor: one static slot per fd number, read
//! with one atomic load on every interposed call.
//!
//! A slot's `state` is 0 (unknown: never seen, or closed since) or `KNOWN` plus what
//! classification found: `SOCK` (a socket), `USER_NB` (its owner made it non-blocking:
//! `SOCK_NONBLOCK`, `fcntl`, `ioctl(FIONBIO)`), `HIDDEN_NB` (the hook made it
//! non-blocking in the kernel while its owner still sees a blocking socket). Only a
//! known socket with `USER_NB` clear is the hook's business; everything else goes
//! straight to the kernel ([`passthrough`]).
//!
//! Sockets made through the hooked `socket`, `socketpair`, `accept` and `accept4` are
//! known from birth, so gmp's own sockets (created `SOCK_NONBLOCK`, or made
//! non-blocking with `fcntl` before first use) never cost a classifying syscall. A
//! descriptor the hook never saw made (inherited, opened by a C library) is classified
//! the first time a goroutine uses it: `fstat`, `F_GETFL` and the two timeouts, once.
//!
//! The slots are static and never freed: no allocation and no lock on any path that
//! reads them. A `close` resets the slot before the number can be reused. A descriptor
//! closed behind the hook's back (glibc's internal calls, raw `syscall(2)`) leaves a
//! stale slot for the next descriptor of that number; the docs say so.
//!
//! Orderings: a descriptor reaches another thread only through something that
//! synchronises (a channel, a spawn, a lock), which also carries its slot's writes, so
//! the slot's words are Relaxed; `pd` is the exception, published by a CAS (below).

use crate::sys;
use gmp_core::__private::netpoll::{Mode, PollDesc};
use libc::c_int;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering::*};

/// Descriptors below this number are tracked; higher ones go straight to the kernel
/// (the docs say so). 2^20 is the usual hard `RLIMIT_NOFILE`; the table is 32 MiB of
/// zero pages that cost memory only where descriptors are used.
pub(crate) const MAX_FDS: usize = 1 << 20;

pub(crate) const KNOWN: u32 = 1;
pub(crate) const SOCK: u32 = 2;
pub(crate) const USER_NB: u32 = 4;
pub(crate) const HIDDEN_NB: u32 = 8;
/// The bits a duplicate shares with its original (it shares the open file description).
const SHARED: u32 = KNOWN | SOCK | USER_NB | HIDDEN_NB;

pub(crate) struct Slot {
    pub(crate) state: AtomicU32,
    /// The netpoller's desc for this fd, allocated the first time a goroutine waits.
    pd: AtomicPtr<PollDesc>,
    /// `SO_RCVTIMEO` / `SO_SNDTIMEO` in nanoseconds, 0 for none.
    rto: AtomicU64,
    wto: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU32::new(0),
            pd: AtomicPtr::new(ptr::null_mut()),
            rto: AtomicU64::new(0),
            wto: AtomicU64::new(0),
        }
    }

    /// The owner's timeout for `mode`, if any.
    pub(crate) fn timeout(&self, mode: Mode) -> Option<std::time::Duration> {
        let ns = match mode {
            Mode::Read => self.rto.load(Relaxed),
            Mode::Write => self.wto.load(Relaxed),
        };
        (ns != 0).then(|| std::time::Duration::from_nanos(ns))
    }

    pub(crate) fn set_timeout(&self, write: bool, ns: u64) {
        if write {
            self.wto.store(ns, Relaxed);
        } else {
            self.rto.store(ns, Relaxed);
        }
    }

    /// The desc the netpoller wakes this fd's waiters through, if one was made.
    pub(crate) fn pd(&self) -> Option<&'static PollDesc> {
        // Acquire pairs with the Release CAS in `pd_or_alloc`: the desc's fields as
        // `alloc` left them.
        let p = self.pd.load(Acquire);
        // SAFETY: a non-null `pd` came from `PollDesc::alloc`, which never frees.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// The desc for `fd`, made on first need. Two goroutines racing here both allocate;
    /// the loser gives its (never registered) desc back.
    pub(crate) fn pd_or_alloc(&self, fd: c_int) -> &'static PollDesc {
        if let Some(pd) = self.pd() {
            return pd;
        }
        let new = PollDesc::alloc(fd);
        let p = new as *const PollDesc as *mut PollDesc;
        // Release pairs with the Acquire load in `pd`; failure Acquire, as that load.
        match self
            .pd
            .compare_exchange(ptr::null_mut(), p, Release, Acquire)
        {
            Ok(_) => new,
            Err(cur) => {
                new.close();
                // SAFETY: as in `pd`.
                unsafe { &*cur }
            }
        }
    }
}

static TABLE: [Slot; MAX_FDS] = [const { Slot::new() }; MAX_FDS];

/// The slot of `fd`, or `None` for a negative or untracked number.
#[inline(always)]
pub(crate) fn slot(fd: c_int) -> Option<&'static Slot> {
    TABLE.get(fd as u32 as usize)
}

/// Whether a call on a descriptor in `state` goes straight to the kernel: a known
/// non-socket, or a socket its owner made non-blocking. (Unknown descriptors are
/// classified on the slow path first.)
#[inline(always)]
pub(crate) fn passthrough(state: u32) -> bool {
    state & KNOWN != 0 && state & (SOCK | USER_NB) != SOCK
}

/// A socket was made (`socket`, `socketpair`, `accept`): known from birth.
#[inline]
pub(crate) fn opened_socket(fd: c_int, nonblocking: bool) {
    if let Some(s) = slot(fd) {
        s.rto.store(0, Relaxed);
        s.wto.store(0, Relaxed);
        s.state.store(
            KNOWN | SOCK | if nonblocking { USER_NB } else { 0 },
            Relaxed,
        );
    }
}

/// `fd` is about to be closed (or was replaced by `dup2`): wake and drop its desc and
/// forget what was known, before the number can be reused.
#[inline]
pub(crate) fn forget(fd: c_int) {
    let Some(s) = slot(fd) else { return };
    if s.state.load(Relaxed) == 0 {
        return;
    }
    s.state.store(0, Relaxed);
    s.rto.store(0, Relaxed);
    s.wto.store(0, Relaxed);
    // AcqRel: Acquire as `pd` (the desc is the one `alloc` made); Release, so a later
    // `pd_or_alloc` for the reused number starts from null.
    let p = s.pd.swap(ptr::null_mut(), AcqRel);
    // In a forked child (between fork and exec) the desc belongs to the parent's
    // runtime, which has no threads here: leave it alone.
    if !p.is_null() && !crate::DISABLED.load(Relaxed) {
        // SAFETY: as in `Slot::pd`.
        unsafe { &*p }.close();
    }
}

/// `new` is a duplicate of `old` (`dup*`, `F_DUPFD`): same open file description, so
/// the same blocking mode and timeouts. Its desc is its own, made on first need.
pub(crate) fn duplicated(old: c_int, new: c_int) {
    forget(new);
    let (Some(o), Some(n)) = (slot(old), slot(new)) else {
        return;
    };
    n.rto.store(o.rto.load(Relaxed), Relaxed);
    n.wto.store(o.wto.load(Relaxed), Relaxed);
    n.state.store(o.state.load(Relaxed) & SHARED, Relaxed);
}

/// Learns what `fd` is from the kernel (a descriptor the hook did not see made).
#[cold]
pub(crate) fn classify(fd: c_int, s: &Slot) -> u32 {
    // SAFETY: a zeroed `stat` is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat into our buffer.
    if unsafe { sys::fstat(fd, &mut st) } != 0 {
        // Not a descriptor (EBADF): leave it unknown; the call itself will fail.
        return 0;
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        s.state.store(KNOWN, Relaxed);
        return KNOWN;
    }
    // SAFETY: F_GETFL takes no argument.
    let fl = unsafe { sys::fcntl(fd, libc::F_GETFL, 0) };
    let mut state = KNOWN | SOCK;
    if fl >= 0 && fl & libc::O_NONBLOCK != 0 {
        state |= USER_NB;
    }
    for (name, write) in [(libc::SO_RCVTIMEO, false), (libc::SO_SNDTIMEO, true)] {
        // SAFETY: a zeroed timeval is a valid out-buffer of the length we pass.
        let mut tv: libc::timeval = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
        // SAFETY: getsockopt into our buffer.
        let r = unsafe {
            sys::getsockopt(
                fd,
                libc::SOL_SOCKET,
                name,
                &mut tv as *mut libc::timeval as *mut libc::c_void,
                &mut len,
            )
        };
        if r == 0 {
            s.set_timeout(write, timeval_ns(&tv));
        }
    }
    s.state.store(state, Relaxed);
    state
}

/// Sets `O_NONBLOCK` in the kernel under a socket its owner sees as blocking. `false`
/// if the kernel refused (the caller then just makes the blocking call).
#[cold]
pub(crate) fn hide_nonblocking(fd: c_int, s: &Slot) -> bool {
    // SAFETY: F_GETFL takes no argument; F_SETFL an int.
    let ok = unsafe {
        let fl = sys::fcntl(fd, libc::F_GETFL, 0);
        fl >= 0 && sys::fcntl(fd, libc::F_SETFL, (fl | libc::O_NONBLOCK) as usize) == 0
    };
    if ok {
        s.state.fetch_or(HIDDEN_NB, Relaxed);
    }
    ok
}

/// A `timeval` timeout in nanoseconds (0: none, as the kernel reads it).
pub(crate) fn timeval_ns(tv: &libc::timeval) -> u64 {
    if tv.tv_sec < 0 || tv.tv_usec < 0 {
        return 0;
    }
    (tv.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(tv.tv_usec as u64 * 1000)
}
