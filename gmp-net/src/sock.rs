//! `Sock<T>`: a nonblocking std socket plus its `PollDesc` and timeouts; the loop that
//! turns `WouldBlock` into parking the goroutine (or blocking the thread, outside a
//! runtime).

use gmp_core::netpoll::{deadline_after, Mode, PollDesc};
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub(crate) struct Sock<T: AsRawFd> {
    io: ManuallyDrop<T>,
    pd: &'static PollDesc,
    /// Timeouts in nanoseconds, 0 for none.
    rto: AtomicU64,
    wto: AtomicU64,
    /// The last read came up short: the socket is probably drained.
    drained: AtomicBool,
}

impl<T: AsRawFd> Sock<T> {
    /// Wraps `io`, which must already be in nonblocking mode.
    pub(crate) fn new(io: T) -> Sock<T> {
        let pd = PollDesc::alloc(io.as_raw_fd());
        Sock {
            io: ManuallyDrop::new(io),
            pd,
            rto: AtomicU64::new(0),
            wto: AtomicU64::new(0),
            drained: AtomicBool::new(false),
        }
    }

    /// Marks a socket that was just accepted as drained: nothing has been read, and
    /// nothing says data is there, so `readable` parks until the peer sends (a server's
    /// idle connection then holds no buffer from its very start) and the first `read`
    /// waits for the event instead of trying its syscall first. No event is lost: the
    /// socket registers with the poller on that first wait, and epoll reports data that
    /// was already there at registration.
    pub(crate) fn accepted(self) -> Sock<T> {
        // Relaxed: see `read`; nothing else can see this socket yet.
        self.drained.store(true, Relaxed);
        self
    }

    pub(crate) fn get(&self) -> &T {
        &self.io
    }

    /// Gives the socket back without closing it.
    pub(crate) fn into_inner(self) -> T {
        let mut me = ManuallyDrop::new(self);
        me.pd.close();
        // SAFETY: `me` is never dropped, so `io` is taken exactly once.
        unsafe { ManuallyDrop::take(&mut me.io) }
    }

    fn timeout_word(&self, mode: Mode) -> &AtomicU64 {
        match mode {
            Mode::Read => &self.rto,
            Mode::Write => &self.wto,
        }
    }

    pub(crate) fn set_timeout(&self, mode: Mode, d: Option<Duration>) -> io::Result<()> {
        let ns = match d {
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ))
            }
            Some(d) => d.as_nanos().clamp(1, u64::MAX as u128) as u64,
            None => 0,
        };
        // Relaxed: a setting read by the next I/O call on this socket; no data hangs on it.
        self.timeout_word(mode).store(ns, Relaxed);
        Ok(())
    }

    pub(crate) fn timeout(&self, mode: Mode) -> Option<Duration> {
        match self.timeout_word(mode).load(Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Runs `f` until it does not return `WouldBlock`, waiting for readiness in between.
    ///
    /// The deadline is computed at the first `WouldBlock`, so an operation that does not
    /// wait (a write into a socket buffer with room) reads no clock.
    pub(crate) fn io<R>(
        &self,
        mode: Mode,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        match f(&self.io) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let deadline = self.timeout(mode).map(deadline_after);
                self.pd.wait(mode, deadline)?;
                self.io_until(mode, deadline, f)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.io(mode, f),
            r => r,
        }
    }

    /// `io` with the deadline already computed.
    fn io_until<R>(
        &self,
        mode: Mode,
        deadline: Option<u64>,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            match f(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.pd.wait(mode, deadline)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// A read of up to `want` bytes. After a short read, with no readiness event since,
    /// the socket is drained: wait first instead of making a syscall that would only
    /// return `WouldBlock`.
    pub(crate) fn read(
        &self,
        want: usize,
        f: impl FnMut(&T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if want == 0 {
            return Ok(0);
        }
        // Relaxed: `drained` is this socket's own hint between reads on it; the readiness
        // words it is combined with carry the ordering (Acquire).
        // One deadline for the whole read, however many waits it takes.
        let deadline = self.timeout(Mode::Read).map(deadline_after);
        if self.drained.load(Relaxed) && !self.pd.is_ready(Mode::Read) && !self.pd.read_closed() {
            self.pd.wait(Mode::Read, deadline)?;
        }
        let n = self.io_until(Mode::Read, deadline, f)?;
        self.drained.store(n > 0 && n < want, Relaxed);
        Ok(n)
    }

    /// Waits until a read will probably find data, without reading: after a short read
    /// with no readiness event since, that is a park; otherwise it returns at once (the
    /// next read may still find nothing and park then). Honours the read timeout.
    ///
    /// A server that keeps a connection idle calls this *before* it takes a read buffer,
    /// so an idle connection holds none.
    pub(crate) fn readable(&self) -> io::Result<()> {
        // Relaxed: see `read`.
        if self.drained.load(Relaxed) && !self.pd.is_ready(Mode::Read) && !self.pd.read_closed() {
            let deadline = self.timeout(Mode::Read).map(deadline_after);
            self.pd.wait(Mode::Read, deadline)?;
            // The wait consumed the event: the next read must make its syscall.
            self.drained.store(false, Relaxed);
        }
        Ok(())
    }

    /// Waits for writability once (for a nonblocking connect).
    pub(crate) fn wait_writable(&self, deadline: Option<u64>) -> io::Result<()> {
        self.pd.wait(Mode::Write, deadline)
    }
}

impl<T: AsRawFd> Drop for Sock<T> {
    fn drop(&mut self) {
        // Wake and deregister before the fd number can be reused.
        self.pd.close();
        // SAFETY: dropped exactly once, here.
        unsafe { ManuallyDrop::drop(&mut self.io) };
    }
}

pub(crate) fn set_nonblocking_fd(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
