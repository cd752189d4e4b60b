//! `Sock<T>`: a nonblocking std socket plus its `PollDesc` and timeouts; the loop that
//! turns `WouldBlock` into parking the goroutine (or blocking the thread, outside a
//! runtime).

use gmp_core::__private::netpoll::{deadline_after, deadline_left, Mode, PollDesc};
use gmp_core::sync::Semaphore;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::time::Duration;

pub(crate) struct Sock<T: AsRawFd> {
    io: ManuallyDrop<T>,
    pd: &'static PollDesc,
    /// Timeouts in nanoseconds, 0 for none.
    rto: AtomicU64,
    wto: AtomicU64,
    /// The last read came up short: the socket is probably drained.
    drained: AtomicBool,
    /// Per direction, the turn to wait: an operation that has to wait holds it until it
    /// returns, so goroutines sharing the socket wait one at a time, and each queued
    /// one is woken when the one before it is done (Go's fdMutex, but only on the
    /// waiting path: an operation that does not block takes no lock). The `PollDesc`
    /// holds one waiter per direction.
    rturn: TurnLock,
    wturn: TurnLock,
}

/// The lock behind a direction's turn. Uncontended it is one swap to take and a store
/// and a load to give back; goroutines that find it taken count themselves in `queued`
/// and park on `hint`, a FIFO semaphore that each release posts one permit to while
/// anyone is queued. A woken goroutine tries again (one that was not queued may take
/// the turn first); a permit nobody needed only makes a later queuer try once more.
struct TurnLock {
    held: AtomicBool,
    queued: AtomicUsize,
    hint: Semaphore,
}

/// A turn held by an operation (see `Sock::rturn`), given back when it returns.
struct Turn<'a>(&'a TurnLock);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let t = self.0;
        // SeqCst with `queued` (here and in `TurnLock::take`): either the queuer's try
        // after counting itself sees the turn free, or this sees the queuer.
        t.held.store(false, SeqCst);
        if t.queued.load(SeqCst) > 0 {
            t.hint.release();
        }
    }
}

impl TurnLock {
    const fn new() -> TurnLock {
        TurnLock {
            held: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            hint: Semaphore::new(0),
        }
    }

    /// Takes the turn. `Ok(true)` if it had to queue: the goroutine before may have
    /// left data, so the caller retries its syscall before it waits.
    fn take(&self, deadline: Option<u64>) -> io::Result<(Turn<'_>, bool)> {
        if !self.held.swap(true, SeqCst) {
            return Ok((Turn(self), false));
        }
        self.queued.fetch_add(1, SeqCst);
        let r = loop {
            if !self.held.swap(true, SeqCst) {
                break Ok((Turn(self), true));
            }
            let hinted = match deadline.map(deadline_left) {
                None => {
                    self.hint.acquire().forget();
                    true
                }
                Some(left) => {
                    !left.is_zero()
                        && self
                            .hint
                            .acquire_timeout(left)
                            .map(|p| p.forget())
                            .is_some()
                }
            };
            if !hinted {
                break Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timed out waiting behind another goroutine using this socket",
                ));
            }
        };
        self.queued.fetch_sub(1, SeqCst);
        r
    }
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
            rturn: TurnLock::new(),
            wturn: TurnLock::new(),
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

    /// Waits for readiness on `mode`, first taking this direction's turn (queueing
    /// behind another goroutine's wait, until `deadline`) unless `turn` holds it.
    /// `since`: the desc's event count read before the syscall that would block (see
    /// `PollDesc::wait_since`); `None` when no syscall preceded the wait.
    fn wait<'s>(
        &'s self,
        mode: Mode,
        deadline: Option<u64>,
        turn: &mut Option<Turn<'s>>,
        since: Option<u64>,
    ) -> io::Result<()> {
        if turn.is_none() {
            let lock = match mode {
                Mode::Read => &self.rturn,
                Mode::Write => &self.wturn,
            };
            let (t, queued) = lock.take(deadline)?;
            *turn = Some(t);
            if queued {
                // The one before us may have left data it was woken for: retry the
                // syscall before waiting.
                return Ok(());
            }
        }
        self.pd.wait_since(mode, deadline, since)
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
        // Before the syscall: an event after this, for a `WouldBlock` the syscall may
        // already have missed, keeps the wait from parking (see `PollDesc::wait_since`).
        let since = self.pd.events(mode);
        match f(&self.io) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let deadline = self.timeout(mode).map(deadline_after);
                let mut turn = None;
                self.wait(mode, deadline, &mut turn, Some(since))?;
                self.io_until(mode, deadline, &mut turn, f)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.io(mode, f),
            r => r,
        }
    }

    /// `io` with the deadline already computed, and the turn if already taken.
    fn io_until<'s, R>(
        &'s self,
        mode: Mode,
        deadline: Option<u64>,
        turn: &mut Option<Turn<'s>>,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let since = self.pd.events(mode);
            match f(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(mode, deadline, turn, Some(since))?
                }
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
        let mut turn = None;
        if self.drained.load(Relaxed) && !self.pd.is_ready(Mode::Read) && !self.pd.read_closed() {
            self.wait(Mode::Read, deadline, &mut turn, None)?;
        }
        let n = self.io_until(Mode::Read, deadline, &mut turn, f)?;
        self.drained.store(n > 0 && n < want, Relaxed);
        Ok(n)
    }

    /// A read that never waits: the syscall once. `WouldBlock` marks the socket
    /// drained, so that `readable` then waits for the next readiness edge.
    pub(crate) fn try_read(&self, f: impl FnOnce(&T) -> io::Result<usize>) -> io::Result<usize> {
        let r = f(&self.io);
        // Relaxed: see `read`.
        match &r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.drained.store(true, Relaxed),
            _ => self.drained.store(false, Relaxed),
        }
        r
    }

    /// A peek: waits for data like a read, but leaves it in the socket. The wait may
    /// have consumed the readiness edge that announced the data, so the socket is no
    /// longer taken for drained: the next read makes its syscall instead of waiting for
    /// an edge that will not come (edge-triggered epoll announces data once).
    pub(crate) fn peek(&self, f: impl FnMut(&T) -> io::Result<usize>) -> io::Result<usize> {
        let r = self.io(Mode::Read, f);
        // Relaxed: see `read`.
        self.drained.store(false, Relaxed);
        r
    }

    /// Waits until a read will probably find data, without reading: after a read that
    /// came up short (or a `try_read` that found nothing), that is a wait, which either
    /// consumes a readiness event that arrived since and returns, or parks; otherwise it
    /// returns at once (the next read may still find nothing and park then). Honours the
    /// read timeout.
    ///
    /// A pending event is consumed rather than just looked at: an event that announced
    /// data a read has since taken stays pending until a wait takes it, and returning
    /// at once on it would send a `try_read`/`readable` loop round without end.
    ///
    /// A server that keeps a connection idle calls this *before* it takes a read buffer,
    /// so an idle connection holds none.
    pub(crate) fn readable(&self) -> io::Result<()> {
        // Relaxed: see `read`.
        if self.drained.load(Relaxed) && !self.pd.read_closed() {
            let deadline = self.timeout(Mode::Read).map(deadline_after);
            self.wait(Mode::Read, deadline, &mut None, None)?;
            // The wait consumed the event (or another goroutine's wait ended, which
            // may have left data): the next read must make its syscall.
            self.drained.store(false, Relaxed);
        }
        Ok(())
    }

    /// Waits for writability once (for a nonblocking connect).
    pub(crate) fn wait_writable(&self, deadline: Option<u64>) -> io::Result<()> {
        self.wait(Mode::Write, deadline, &mut None, None)
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
