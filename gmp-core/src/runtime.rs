//! Starting and ending a runtime: `gmp::run`, the runtime builder, M threads, shutdown,
//! and `gmp::stats`.
//!
//! `run` does not turn the calling thread into an M: it starts M threads, puts the main G
//! on the global queue, and blocks until the main G's join packet completes. Keeping the
//! caller off the scheduler means the caller's stack never has to be switched back to at
//! shutdown, and `run` can be called from any thread, including from inside another
//! program's thread pool.
//!
//! Shutdown, once the main G has returned: set `shutdown`, wake every idle M, the timer
//! sleeper and sysmon; each M leaves its scheduling loop the next time it enters the
//! scheduler; join every thread; then sweep the stacks: Gs that never ran have their
//! closures dropped, Gs still parked are dropped without running further (their frames
//! are not unwound, so values on their stacks are leaked, not dropped), and every join
//! on them returns an error. Finally the stack mappings are unmapped.
//!
//! A G that never enters the scheduler again (an endless loop without `yield_now`)
//! keeps its M, and so `run`, from finishing.

use crate::proc::g;
use crate::proc::g::{G, G_RUNNABLE, G_RUNNING, G_WAITING, HEADER};
use crate::proc::m;
use crate::proc::p::{GRef, P};
use crate::proc::sched::{self, Sched};
use crate::proc::schedule;
use crate::proc::spawn::{self, Packet};
use crate::proc::stack;
use crate::signal;
use std::panic;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Arc;
use std::thread;

/// Entry point for configuring a runtime: `gmp::Runtime::builder().procs(2).run(|| ..)`.
pub struct Runtime {
    _private: (),
}

impl Runtime {
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            procs: None,
            stack_size: stack::DEFAULT_STACK_SIZE,
            max_threads: DEFAULT_MAX_THREADS,
        }
    }
}

/// Settings for one runtime. `GMP_MAXPROCS` in the environment overrides `procs`.
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    procs: Option<usize>,
    stack_size: usize,
    max_threads: usize,
}

/// Default for [`RuntimeBuilder::max_threads`] (Go's `debug.SetMaxThreads` default).
pub const DEFAULT_MAX_THREADS: usize = 10_000;

impl RuntimeBuilder {
    /// Number of Ps: how many goroutines run in parallel. Default: available parallelism.
    pub fn procs(mut self, n: usize) -> Self {
        assert!(n > 0, "gmp: procs must be at least 1");
        self.procs = Some(n);
        self
    }

    /// Default stack size of this runtime's goroutines, rounded up to whole pages
    /// (at least 16 KiB). Default 256 KiB; only touched pages use memory.
    ///
    /// # Panics
    /// Above 1 GiB.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = stack::round_size(bytes).unwrap_or_else(|e| panic!("gmp: {e}"));
        self
    }

    /// The most runtime threads (Ms) this runtime may run at once; default 10,000.
    /// Threads beyond the Ps come from goroutines blocked in [`blocking`](crate::blocking)
    /// calls (and in blocking calls sysmon rescued). Past the limit, `blocking` panics
    /// with a message that says so, instead of the process running out of threads.
    ///
    /// # Panics
    /// If `n` is zero; `run` panics if it is not larger than the number of Ps.
    pub fn max_threads(mut self, n: usize) -> Self {
        assert!(n > 0, "gmp: max_threads must be at least 1");
        self.max_threads = n;
        self
    }

    /// Runs `f` as the main goroutine and returns its value once it returns. A panic in
    /// `f` comes out of `run`.
    ///
    /// # Panics
    /// Inside a runtime (a goroutine cannot start another runtime); on a malformed
    /// `GMP_MAXPROCS`; if the main goroutine's stack or first thread cannot be made.
    pub fn run<F, T>(self, f: F) -> T
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        assert!(
            m::current().is_null(),
            "gmp::run called inside a gmp runtime: a goroutine cannot start another \
             runtime; use gmp::spawn to start a goroutine"
        );
        let procs = procs_from_env().unwrap_or_else(|| {
            self.procs
                .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()))
        });
        assert!(
            self.max_threads > procs,
            "gmp: max_threads ({}) must be larger than procs ({procs})",
            self.max_threads
        );
        signal::install_overflow_handler(stack::guard_hit);
        crate::proc::handoff::init_barrier();
        let s = Box::new(Sched::new(procs, self.stack_size, self.max_threads));
        let s: &Sched = &s;
        sched::set_live(s.id, true);

        let mut out: Option<T> = None;
        let out_ptr = &mut out as *mut Option<T> as usize;
        let main: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
            let v = f();
            // SAFETY: `out` outlives the main G: `run` waits for the main G's packet
            // before reading it or returning.
            unsafe { *(out_ptr as *mut Option<T>) = Some(v) };
        });
        // SAFETY: only the lifetime is erased. The main G always finishes (or unwinds)
        // before `run` returns: `run` blocks on its packet, which only the G completes
        // (the shutdown sweep that cancels packets runs after that).
        let main: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(main) };
        let packet = Arc::new(Packet::<()>::new(s.id));
        let g = g::gfget(s, None, s.stack_size)
            .unwrap_or_else(|e| panic!("gmp::run: cannot allocate the main goroutine: {e}"));
        let id = g::next_goid(s, None);
        // SAFETY: `g` is a fresh idle G owned here.
        unsafe { spawn::prepare(g, id, s, Some(Arc::from("main")), main, packet.clone()) };
        s.main_g.store(g, SeqCst);
        // SAFETY: `g` is a valid G.
        unsafe { (*g).status.store(G_RUNNABLE, Relaxed) };
        s.injector
            .push(GRef(NonNull::new(g).expect("G is not null")));
        tracing::debug!(procs, stack_size = s.stack_size, "gmp runtime starting");
        crate::proc::sysmon::start(s);
        schedule::startm(s, None, false);
        assert!(
            s.mcount.load(SeqCst) > 0,
            "gmp::run: cannot start the first runtime thread (see the error log)"
        );

        packet.join.wait_thread();
        shutdown(s);
        match packet.take() {
            Ok(()) => out.take().expect("the main goroutine returned a value"),
            Err(e) => panic::resume_unwind(e),
        }
    }
}

/// Runs `f` as the main goroutine of a new runtime with default settings and returns its
/// value. See [`RuntimeBuilder::run`].
///
/// ```
/// let sum = gmp_core::run(|| {
///     let hs: Vec<_> = (0..10u64).map(|i| gmp_core::spawn(move || i * i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(sum, 285);
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    Runtime::builder().run(f)
}

/// Whether the caller is a goroutine of a running gmp runtime (as opposed to a plain
/// thread). Libraries use it to start a runtime only when they are not already in one.
///
/// ```
/// assert!(!gmp_core::in_runtime());
/// gmp_core::run(|| assert!(gmp_core::in_runtime()));
/// ```
pub fn in_runtime() -> bool {
    !m::current().is_null()
}

fn procs_from_env() -> Option<usize> {
    let v = std::env::var("GMP_MAXPROCS").ok()?;
    match v.trim().parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("GMP_MAXPROCS must be a positive integer, got {v:?}"),
    }
}

/// Ends a runtime after its main G finished: see the module doc.
fn shutdown(s: &Sched) {
    s.shutdown.store(true, SeqCst);
    {
        let mut l = s.lock();
        for m in l.midle.drain(..) {
            s.nmidle.fetch_sub(1, SeqCst);
            // SAFETY: an idle M reads `next_p` after its note is woken.
            unsafe {
                (*m).next_p = ptr::null();
                (*m).park.wake();
            }
        }
    }
    crate::proc::lockedm::wake_all(s);
    s.wake_sleeper();
    s.sysmon_key.fetch_add(1, SeqCst);
    m::futex_wake(&s.sysmon_key, 1);
    loop {
        let hs = std::mem::take(&mut *s.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for h in hs {
            let _ = h.join();
        }
        // `newm` pushes its handle while holding the list and while `mcount` counts the
        // thread, so an empty list with `mcount == 0` means every M has ended.
        if s.mcount.load(SeqCst) == 0
            && s.threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
        {
            break;
        }
        thread::yield_now();
    }
    // `off_p` threads touch the Sched until their last decrement.
    while s.external.load(SeqCst) > 0 {
        thread::sleep(std::time::Duration::from_millis(1));
    }
    sweep(s);
    sched::set_live(s.id, false);
    tracing::debug!("gmp runtime stopped");
}

/// Drops what is left of every G that did not finish. Runs after all Ms have exited.
fn sweep(s: &Sched) {
    for p in s.ps.iter() {
        p.drain();
        p.timers.clear();
    }
    while !s.injector.steal().is_empty() {}
    let pools = s.pools.lock().unwrap_or_else(|e| e.into_inner());
    for pool in std::iter::once(&s.default_pool).chain(pools.iter().map(|b| &**b)) {
        pool.for_each_carved(|st| {
            let g = (st.hi - HEADER) as *mut G;
            // SAFETY: every carved stack has a G header (written by `G::init_at` when it
            // was carved) and no thread runs Gs any more.
            unsafe {
                let gr = &mut *g;
                let status = gr.status.load(Relaxed);
                let cleanup = gr.wait_cleanup.take();
                if let (Some((f, arg)), G_RUNNABLE | G_WAITING) = (cleanup, status) {
                    // A G parked on a channel or sync primitive (or readied from one and
                    // not yet run): unlink its queue entries, which live on this stack, so
                    // the object's other users never see them.
                    f(arg);
                }
                if matches!(status, G_RUNNABLE | G_RUNNING | G_WAITING) {
                    if let Some(start) = gr.start.take() {
                        start(g, false);
                    }
                    if let Some(pk) = gr.packet.take() {
                        pk.cancel();
                    }
                }
                gr.name = None;
            }
        });
    }
    drop(pools);
    // A thread that claimed a G's wait before the loop above unlinked it pinned the
    // runtime while holding that queue's lock (`sched::pin_runtime`); it readies the G
    // into the dead runtime's global queue and unpins. Wait for it before `run` frees
    // the Sched and the stacks.
    while s.external.load(SeqCst) > 0 {
        thread::yield_now();
    }
}

/// A snapshot of the current runtime's counters (see [`stats`]).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Goroutines started and not yet finished, the main one included.
    pub goroutines: usize,
    /// Runtime threads (Ms) alive.
    pub threads: usize,
    pub procs: usize,
    pub idle_procs: usize,
    pub spinning_threads: usize,
    /// Ms parked with nothing to do.
    pub idle_threads: usize,
    pub global_queue: usize,
    /// Length of each P's local run queue.
    pub local_queues: Vec<usize>,
    /// Times a G was switched to.
    pub switches: u64,
    /// Successful steals from other Ps' queues.
    pub steals: u64,
    /// Goroutines spawned (the main one not included).
    pub spawned: u64,
    /// Times sysmon took a P from a goroutine that stayed away from the scheduler for
    /// 10 ms (a blocking call outside `gmp::blocking`, or a long computation) and handed
    /// it to another thread.
    pub retakes: u64,
}

/// Counters of the runtime the calling goroutine runs on.
///
/// # Panics
/// Outside a runtime.
pub fn stats() -> Stats {
    let m = m::current();
    assert!(!m.is_null(), "gmp::stats called outside a gmp runtime");
    // SAFETY: a live M's runtime is live.
    let s = unsafe { &*(*m).sched };
    // Relaxed throughout: a snapshot of independent counters, not a consistent cut.
    let sum = |f: fn(&P) -> &AtomicU64| s.ps.iter().map(|p| f(p).load(Relaxed)).sum::<u64>();
    let spawned = sum(|p| &p.spawned) + s.spawned_unowned.load(Relaxed);
    let exited = sum(|p| &p.exited);
    Stats {
        goroutines: (1 + spawned).saturating_sub(exited) as usize,
        threads: s.mcount.load(Relaxed),
        procs: s.procs,
        idle_procs: s.npidle.load(Relaxed),
        spinning_threads: s.nmspinning.load(Relaxed),
        idle_threads: s.nmidle.load(Relaxed),
        global_queue: s.injector.len(),
        local_queues: s.stealers.iter().map(|st| st.len()).collect(),
        switches: sum(|p| &p.switches),
        steals: sum(|p| &p.steals),
        spawned,
        retakes: s.retakes.load(Relaxed),
    }
}
