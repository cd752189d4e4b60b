//! Spawning goroutines and joining them: `gmp::spawn`, `gmp::Builder`, `JoinHandle`.

use super::g::{Packet, G};
use super::m;
use super::p::P;
use super::sched::{self, Sched};
use super::stack;
use std::fmt;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;

/// Starts a goroutine running `f` on the current runtime and returns its handle.
///
/// The new goroutine goes to the spawning P's `runnext` slot, as in Go: it runs next on
/// this P unless another P steals it first.
///
/// # Panics
/// Outside a runtime, or if no stack can be allocated (see [`Builder::spawn`] for the
/// fallible form).
///
/// ```
/// gmp_core::run(|| {
///     let h = gmp_core::spawn(|| 6 * 7);
///     assert_eq!(h.join().unwrap(), 42);
/// });
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("gmp::spawn: {e}"))
}

/// Goroutine settings: a name (shown in stack overflow reports and traces) and a stack
/// size.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Stack size in bytes, rounded up to whole pages, at least 16 KiB; `spawn` fails
    /// above 1 GiB.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the goroutine. Fails if its stack cannot be mapped or guarded.
    ///
    /// # Panics
    /// Outside a runtime.
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let m = m::current();
        assert!(
            !m.is_null(),
            "gmp::spawn called outside a gmp runtime: start one with gmp::run(|| ...) and \
             spawn goroutines from inside it"
        );
        // SAFETY: `m` is this thread's M, running this G, so its runtime is live.
        let s: &Sched = unsafe { &*(*m).sched };
        // The P's caches and goroutine ids, if this goroutine still holds its P (nothing
        // below switches, so the section keeps it).
        let section = super::handoff::p_try_enter();
        // SAFETY: inside the section the M holds its P.
        let p: Option<&P> = section.map(|m| unsafe { &*(*m).p });
        let r = spawn_on(s, p, self, f);
        if let Some(m) = section {
            super::handoff::p_exit(m);
        }
        r
    }
}

fn spawn_on<F, T>(s: &Sched, p: Option<&P>, b: Builder, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let size = match b.stack_size {
        Some(n) => stack::round_size(n)?,
        None => s.stack_size,
    };
    let g = sched::gfget(s, p, size)?;
    let packet = Arc::new(Packet::new(s.id));
    let id = sched::next_goid(s, p);
    let name = b.name.map(Arc::from);
    // SAFETY: `g` is a free G we own.
    unsafe { G::prepare(g, id, s, name, f, packet.clone()) };
    match p {
        Some(p) => P::bump(&p.spawned),
        // Relaxed: a statistic.
        None => {
            s.spawned_unowned.fetch_add(1, Relaxed);
        }
    }
    tracing::trace!(goid = id, "spawn");
    sched::ready(g, true);
    Ok(JoinHandle { packet, id })
}

/// An owned permission to wait for a goroutine and take its result.
///
/// Dropping the handle detaches the goroutine.
pub struct JoinHandle<T> {
    packet: Arc<Packet<T>>,
    id: u64,
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine to finish: parks the calling goroutine, or blocks the
    /// calling thread outside a runtime (and, for a goroutine of another runtime, blocks
    /// its thread too). `Err` carries the goroutine's panic payload, or a message if the
    /// runtime shut down before the goroutine finished.
    pub fn join(self) -> thread::Result<T> {
        let m = m::current();
        // SAFETY: a live M's runtime is live.
        if !m.is_null() && unsafe { (*(*m).sched).id } == self.packet.rt {
            self.packet.join.wait_g();
        } else {
            self.packet.join.wait_thread();
        }
        self.packet.take()
    }

    /// Whether the goroutine has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.packet.join.is_final()
    }

    /// The goroutine's id (the main goroutine is 1).
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Runs `f` on a new OS thread and waits for it: the calling goroutine parks, so its P
/// keeps running other goroutines. Outside a runtime `f` just runs here. For calls that
/// block in the kernel or in libc with no readiness to wait for, such as name
/// resolution. (The runtime counts these threads, so a goroutine waiting on one is never
/// taken for a deadlock.)
#[doc(hidden)]
pub fn off_p<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let m = m::current();
    if m.is_null() {
        return Ok(f());
    }
    // SAFETY: this G's M and its runtime are live; `s` is only used before we park and
    // by the thread, which the runtime outlives (see `Sched::external`).
    let s: &'static Sched = unsafe { &*(*m).sched };
    let packet = Arc::new(Packet::new(s.id));
    let theirs = packet.clone();
    s.external.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let spawned = thread::Builder::new()
        .name("gmp-offp".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            // SAFETY: only this thread writes the result, before publishing DONE.
            unsafe { *theirs.result.get() = Some(r) };
            theirs.join.finish(super::g::DONE);
            s.external.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        s.external.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        return Err(e);
    }
    packet.join.wait_g();
    match packet.take() {
        Ok(v) => Ok(v),
        Err(p) => std::panic::resume_unwind(p),
    }
}
