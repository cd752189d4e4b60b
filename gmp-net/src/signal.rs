//! `Signals`: Unix signals received by goroutines, as Go's `signal.Notify` delivers
//! them to a channel.
//!
//! Owns the process's handlers for the signals that some `Signals` asked for. A
//! handler may run on any thread, between any two instructions of a goroutine or of
//! the scheduler itself, so it must not touch the runtime (no lock, no allocation, no
//! park or ready). It does the least that wakes a goroutine: for each `Signals`
//! registered for the signal it `send`s one byte, the signal's number, to that
//! `Signals`' socket pair with `MSG_DONTWAIT | MSG_NOSIGNAL` (async-signal-safe; never
//! blocks, never raises SIGPIPE). The other end is a [`UnixStream`] in the runtime's
//! netpoller, so [`Signals::recv`] parks like any socket read and the runtime wakes it.
//! `signalfd` would need the signals blocked in every thread, the runtime's and the
//! program's, which a library cannot arrange.
//!
//! Invariant: a handler never sends to a descriptor that was closed (and perhaps
//! reused for something else). Registrations live in a fixed table of slots whose
//! fields are atomics. A handler marks the slot busy before reading its descriptor;
//! [`Signals::stop`] clears the descriptor, then waits until the slot is not busy,
//! and only then closes the socket. Both sides use SeqCst (a Dekker handshake): either
//! the handler sees the cleared descriptor, or `stop` sees it busy and waits for the
//! few instructions of one `send`.
//!
//! The handler is installed (with `SA_RESTART`, so other threads' system calls resume
//! rather than fail with `EINTR`, and `SA_ONSTACK`, so it runs on a thread's alternate
//! stack where one is set up) when the first `Signals` asks for a signal, and the
//! previous disposition is restored when the last one stops, unless someone else
//! installed another handler in between.

use crate::UnixStream;
use std::io::{self, Read};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;

/// Registrations at once, across the process (each holds a socket pair).
const SLOTS: usize = 64;

/// One registration, as the handler reads it.
struct Slot {
    /// The write end of the registration's socket pair; -1 when free.
    fd: AtomicI32,
    /// Bit `n - 1` for each signal `n` the registration wants.
    mask: AtomicU64,
    /// Handlers between reading `fd` and finishing their `send`.
    busy: AtomicU32,
}

#[allow(clippy::declare_interior_mutable_const)] // each array element is its own slot
const FREE: Slot = Slot {
    fd: AtomicI32::new(-1),
    mask: AtomicU64::new(0),
    busy: AtomicU32::new(0),
};
static TABLE: [Slot; SLOTS] = [FREE; SLOTS];

/// What only registration and stop touch, under one lock (never the handler).
struct Installed {
    /// Which slots are taken.
    taken: [bool; SLOTS],
    /// Per signal: how many registrations want it, and the disposition it had before
    /// the first one.
    users: [u32; 65],
    previous: [Option<libc::sigaction>; 65],
}

static INSTALLED: Mutex<Installed> = Mutex::new(Installed {
    taken: [false; SLOTS],
    users: [0; 65],
    previous: [None; 65],
});

/// Receives Unix signals on a goroutine: [`recv`](Signals::recv) parks until one of
/// the signals asked for arrives, and returns its number. Like Go's `signal.Notify`:
/// while a `Signals` exists, the signals it names no longer have their default effect
/// (SIGINT no longer kills the process); several `Signals` for the same signal each get
/// every delivery; dropping it (or [`stop`](Signals::stop)) restores the previous
/// disposition once no other `Signals` wants the signal.
///
/// Deliveries that are not received queue up to the socket buffer (thousands), then
/// further ones are dropped, as Go drops them when a channel is full; the kernel
/// itself merges a signal sent again before its handler ran.
///
/// ```
/// gmp_core::run(|| {
///     let signals = gmp_net::signal::Signals::new(&[libc::SIGUSR1]).unwrap();
///     // SAFETY: kill(2) takes plain integers; `signals` now handles SIGUSR1.
///     assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) }, 0);
///     assert_eq!(signals.recv().unwrap(), libc::SIGUSR1); // parks until it arrives
/// });
/// ```
pub struct Signals {
    rx: UnixStream,
    tx: std::os::unix::net::UnixStream,
    slot: usize,
    mask: u64,
    stopped: AtomicBool,
}

impl Signals {
    /// Starts receiving `signals` (`libc::SIGINT`, `libc::SIGTERM`, ...).
    ///
    /// Errors (`InvalidInput`): an empty list; a number that is not a signal; SIGKILL
    /// and SIGSTOP (no process can catch them); SIGSEGV, SIGBUS, SIGFPE, SIGILL and
    /// SIGTRAP (raised by a faulting instruction, which would fault again as soon as a
    /// handler returned). Else the OS's error, or `Other` when 64 `Signals` already
    /// exist.
    pub fn new(signals: &[i32]) -> io::Result<Signals> {
        if signals.is_empty() {
            return Err(invalid("gmp-net: Signals::new needs at least one signal"));
        }
        let mut mask = 0u64;
        for &s in signals {
            if !(1..=64).contains(&s) || s > libc::SIGRTMAX() {
                return Err(invalid(&format!("gmp-net: {s} is not a signal number")));
            }
            if [libc::SIGKILL, libc::SIGSTOP].contains(&s) {
                return Err(invalid(&format!(
                    "gmp-net: signal {s} (SIGKILL or SIGSTOP) cannot be caught"
                )));
            }
            if [
                libc::SIGSEGV,
                libc::SIGBUS,
                libc::SIGFPE,
                libc::SIGILL,
                libc::SIGTRAP,
            ]
            .contains(&s)
            {
                return Err(invalid(&format!(
                    "gmp-net: signal {s} reports a faulting instruction and cannot be received \
                     by a goroutine"
                )));
            }
            mask |= bit(s);
        }
        let (tx, rx) = std::os::unix::net::UnixStream::pair()?;
        let rx = UnixStream::from_std(rx)?;
        let mut inst = lock();
        let slot = inst.taken.iter().position(|t| !t).ok_or_else(|| {
            io::Error::other(format!(
                "gmp-net: {SLOTS} Signals exist already; stop one first"
            ))
        })?;
        // The slot first, the handler after: a signal that finds the handler finds the
        // slot. The descriptor before the mask: a handler that sees the mask sees it.
        TABLE[slot].fd.store(tx.as_raw_fd(), SeqCst);
        TABLE[slot].mask.store(mask, SeqCst);
        inst.taken[slot] = true;
        let mut done = 0u64;
        for s in signals_in(mask) {
            if inst.users[s as usize] == 0 {
                match install(s) {
                    Ok(prev) => inst.previous[s as usize] = Some(prev),
                    Err(e) => {
                        // Undo what this call did, then report.
                        for d in signals_in(done) {
                            release(&mut inst, d);
                        }
                        clear(slot);
                        inst.taken[slot] = false;
                        return Err(e);
                    }
                }
            }
            inst.users[s as usize] += 1;
            done |= bit(s);
        }
        drop(inst);
        Ok(Signals {
            rx,
            tx,
            slot,
            mask,
            stopped: AtomicBool::new(false),
        })
    }

    /// Waits for the next signal and returns its number. Parks the goroutine (blocks
    /// the thread outside a runtime). Several goroutines may wait on one `Signals`;
    /// each delivery wakes one of them.
    ///
    /// Errors: `NotConnected` once [`stop`](Signals::stop) has run (a `recv` parked at
    /// that moment returns it too).
    pub fn recv(&self) -> io::Result<i32> {
        let mut b = [0u8; 1];
        loop {
            if self.stopped.load(SeqCst) {
                return Err(stopped());
            }
            match (&self.rx).read(&mut b) {
                Ok(1) => return Ok(i32::from(b[0])),
                Ok(_) => return Err(stopped()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Stops receiving: the signals go back to their previous disposition (unless
    /// another `Signals` still wants them), and `recv` returns `NotConnected` from now
    /// on, waking any goroutine parked in it. Calling it again does nothing; dropping a
    /// `Signals` calls it.
    pub fn stop(&self) {
        if self.stopped.swap(true, SeqCst) {
            return;
        }
        let mut inst = lock();
        clear(self.slot);
        inst.taken[self.slot] = false;
        for s in signals_in(self.mask) {
            release(&mut inst, s);
        }
        drop(inst);
        // No handler uses `tx` any more (`clear` waited): end the stream, which wakes
        // a parked `recv` with end of file.
        let _ = self.tx.shutdown(Shutdown::Both);
    }

    /// The signals this `Signals` receives, in increasing order.
    pub fn signals(&self) -> Vec<i32> {
        signals_in(self.mask).collect()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("signals", &self.signals())
            .field("stopped", &self.stopped.load(SeqCst))
            .finish()
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "gmp-net: Signals stopped")
}

fn lock() -> std::sync::MutexGuard<'static, Installed> {
    // The table stays consistent across a panic (each step is one store).
    INSTALLED.lock().unwrap_or_else(|e| e.into_inner())
}

fn bit(sig: i32) -> u64 {
    1 << (sig - 1)
}

fn signals_in(mask: u64) -> impl Iterator<Item = i32> {
    (1..=64).filter(move |&s| mask & bit(s) != 0)
}

/// Empties `slot` and waits until no handler is using its descriptor.
fn clear(slot: usize) {
    let t = &TABLE[slot];
    t.mask.store(0, SeqCst);
    t.fd.store(-1, SeqCst);
    // Pairs with the handler's SeqCst `busy` increment before its `fd` load: a handler
    // that loaded the old descriptor is counted here, and one that increments later
    // loads -1. It is busy for one `send`, so this spins for microseconds at most.
    while t.busy.load(SeqCst) != 0 {
        std::hint::spin_loop();
    }
}

/// One registration of `sig` is gone; the last restores the previous disposition.
fn release(inst: &mut Installed, sig: i32) {
    let i = sig as usize;
    inst.users[i] -= 1;
    if inst.users[i] > 0 {
        return;
    }
    let Some(prev) = inst.previous[i].take() else {
        return;
    };
    // SAFETY: sigaction with a null new action only reads the current one into `cur`,
    // a zeroed (valid) sigaction.
    let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `sig` is a valid signal (checked in `new`).
    let ok = unsafe { libc::sigaction(sig, std::ptr::null(), &mut cur) } == 0;
    // Someone installed their own handler since ours: leave theirs.
    if ok && cur.sa_sigaction == handler_address() {
        // SAFETY: `prev` is the disposition `sigaction` gave us for `sig`.
        unsafe { libc::sigaction(sig, &prev, std::ptr::null_mut()) };
    }
}

/// Installs the handler for `sig`; returns the previous disposition.
fn install(sig: i32) -> io::Result<libc::sigaction> {
    // SAFETY: a zeroed sigaction is valid (no handler, empty mask, no flags); the
    // fields that matter are set below.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler_address();
    act.sa_flags = libc::SA_RESTART | libc::SA_ONSTACK;
    // SAFETY: `act.sa_mask` is a sigset_t owned by `act`.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: as for `act`.
    let mut prev: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live sigaction values; `handler` is an
    // `extern "C" fn(c_int)`, what a handler without SA_SIGINFO must be.
    if unsafe { libc::sigaction(sig, &act, &mut prev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(prev)
}

/// `handler` as `sigaction` stores it.
fn handler_address() -> libc::sighandler_t {
    handler as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t
}

/// The signal handler: one byte to each registration that wants `sig`. Only atomics
/// and `send(2)`, both async-signal-safe; `errno` is restored for the code it
/// interrupted.
extern "C" fn handler(sig: libc::c_int) {
    if !(1..=64).contains(&sig) {
        return;
    }
    // SAFETY: `__errno_location` returns this thread's errno, valid for the thread's
    // life.
    let errno = unsafe { *libc::__errno_location() };
    let b = sig as u8;
    for t in &TABLE {
        if t.mask.load(SeqCst) & bit(sig) == 0 {
            continue;
        }
        // Pairs with `clear`: busy first, then the descriptor (see there).
        t.busy.fetch_add(1, SeqCst);
        let fd = t.fd.load(SeqCst);
        if fd >= 0 && t.mask.load(SeqCst) & bit(sig) != 0 {
            // SAFETY: `fd` is an open socket: `clear` waits for `busy` to drop before
            // its owner closes it. `b` is a live byte; a full buffer (EAGAIN) drops the
            // delivery, as documented.
            unsafe {
                libc::send(
                    fd,
                    (&b as *const u8).cast(),
                    1,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
        }
        t.busy.fetch_sub(1, SeqCst);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}
