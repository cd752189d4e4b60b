//! Starting and ending a runtime: `gmp::run`, the runtime builder, and `gmp::stats`.
//! The top of gmp-core: it calls down into the core (`proc/`) and nothing calls it.
//!
//! `run` does not turn the calling thread into an M: it makes the runtime's `Sched`,
//! puts the main G on the global queue, starts sysmon and the first M, and blocks until
//! the main G's join packet completes. Keeping the caller off the scheduler means the
//! caller's stack never has to be switched back to at shutdown, and `run` can be called
//! from any thread, including from inside another program's thread pool.
//!
//! Once the main G has returned, `sched::shutdown` stops every M and sweeps what is left:
//! Gs that never ran have their closures dropped, Gs still parked are dropped without
//! running further (their frames are not unwound, so values on their stacks are leaked,
//! not dropped), and every join on them returns an error. Finally the stack mappings are
//! unmapped.
//!
//! A G that never enters the scheduler again (an endless loop without `yield_now`)
//! keeps its M, and so `run`, from finishing.

use crate::clock::NEVER;
use crate::debug::{self, Traceback};
use crate::proc::handoff;
use crate::proc::m;
use crate::proc::sched::{self, Sched, Stats};
use crate::proc::schedule;
use crate::proc::spawn;
use crate::proc::stack;
use crate::proc::sysmon;
use crate::signal;
use std::panic;
use std::thread;
use std::time::Duration;

/// Entry point for configuring a runtime: `gmp::Runtime::builder().procs(2).run(|| ..)`.
///
/// ```
/// let answer = gmp_core::Runtime::builder()
///     .procs(2)
///     .stack_size(64 << 10)
///     .run(|| gmp_core::spawn(|| 42).join().unwrap());
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    _private: (),
}

impl Runtime {
    /// A builder with the default settings.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            procs: None,
            stack_size: stack::DEFAULT_STACK_SIZE,
            max_threads: DEFAULT_MAX_THREADS,
            thread_keep_alive: DEFAULT_THREAD_KEEP_ALIVE,
            traceback: None,
        }
    }
}

/// Settings for one runtime: `gmp::Runtime::builder().procs(2).stack_size(64 << 10)`,
/// then [`run`](RuntimeBuilder::run).
///
/// The number of Ps is, in order: [`procs`](RuntimeBuilder::procs) if the code called it,
/// else `GMP_MAXPROCS` from the environment, else the available parallelism. This is
/// Go's rule for `GOMAXPROCS`: an explicit call in the code wins over the environment
/// variable, which only sets the default.
///
/// ```
/// let procs = gmp_core::Runtime::builder()
///     .procs(3)
///     .max_threads(100)
///     .run(|| gmp_core::stats().procs);
/// assert_eq!(procs, 3); // whatever GMP_MAXPROCS says
/// ```
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    procs: Option<usize>,
    stack_size: usize,
    max_threads: usize,
    thread_keep_alive: Duration,
    traceback: Option<Traceback>,
}

/// Default for [`RuntimeBuilder::max_threads`] (Go's `debug.SetMaxThreads` default).
pub const DEFAULT_MAX_THREADS: usize = 10_000;

/// Default for [`RuntimeBuilder::thread_keep_alive`]: 10 s, as tokio's blocking pool.
///
/// Measured (`cargo bench --bench thread_keep_alive`, 2 CPUs, three runs): a burst of
/// 500 blocking calls that must start its threads takes 46 µs more per thread than one
/// that finds them idle, and a single call whose P goes to a new thread 42-44 µs against
/// 34-36 µs; an idle thread holds 15.6-16.1 KiB resident (2 MiB of address space), 11.4
/// KiB of which comes back when it exits. Restarting is cheap at any keep-alive above a
/// second (46 µs per thread per 10 s is 0.0005% of a core); keeping costs memory for
/// the keep-alive's length (16 MB per 1,000 threads). 10 s keeps the threads of bursts
/// that recur at human time scales and gives the memory back soon after.
pub const DEFAULT_THREAD_KEEP_ALIVE: Duration = Duration::from_secs(10);

impl RuntimeBuilder {
    /// Number of Ps: how many goroutines run in parallel. Default: `GMP_MAXPROCS` if set,
    /// else the available parallelism; a value set here wins over `GMP_MAXPROCS`.
    ///
    /// # Panics
    /// If `n` is zero.
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
    /// `procs` of them are the Ps' own; the rest, `n - procs`, may be away from the Ps in
    /// [`blocking`](crate::blocking) calls (or stuck in blocking calls sysmon rescued)
    /// at once. A `blocking` call past that waits, in FIFO order, for one of them to
    /// return, while the Ps go on running the other goroutines.
    ///
    /// # Panics
    /// If `n` is zero; `run` panics if it is not larger than the number of Ps.
    pub fn max_threads(mut self, n: usize) -> Self {
        assert!(n > 0, "gmp: max_threads must be at least 1");
        self.max_threads = n;
        self
    }

    /// How long an idle runtime thread beyond what the Ps need waits for work before it
    /// exits; default 10 s. Threads beyond the Ps are started for
    /// [`blocking`](crate::blocking) calls; after a burst of them they idle until a later
    /// call wants one, and those not wanted for this long exit, so the process does not
    /// keep the burst's threads for good. `procs` threads always stay; `Duration::MAX`
    /// keeps them all (Go's behaviour). `gmp::stats()` counts them in `idle_threads`
    /// and, once gone, in `threads_exited`.
    ///
    /// ```
    /// use std::sync::{Arc, Barrier};
    /// use std::time::Duration;
    /// gmp_core::Runtime::builder()
    ///     .procs(1)
    ///     .thread_keep_alive(Duration::from_millis(20))
    ///     .run(|| {
    ///         // Four calls at once, each on a thread of its own.
    ///         let all_in = Arc::new(Barrier::new(4));
    ///         let calls: Vec<_> = (0..4)
    ///             .map(|_| {
    ///                 let all_in = all_in.clone();
    ///                 gmp_core::spawn(move || gmp_core::blocking(move || all_in.wait()))
    ///             })
    ///             .collect();
    ///         calls.into_iter().for_each(|h| drop(h.join()));
    ///         assert!(gmp_core::stats().threads >= 4);
    ///         while gmp_core::stats().threads > 1 {
    ///             gmp_core::sleep(Duration::from_millis(10));
    ///         }
    ///         assert!(gmp_core::stats().threads_exited >= 3);
    ///     });
    /// ```
    pub fn thread_keep_alive(mut self, d: Duration) -> Self {
        self.thread_keep_alive = d;
        self
    }

    /// Whether SIGQUIT, the deadlock report and a stack overflow print this runtime's
    /// goroutines ([`Traceback`]). Default: `GMP_TRACEBACK` (`none` or `all`) if set,
    /// else `All`; a value set here wins over `GMP_TRACEBACK`.
    ///
    /// ```
    /// use gmp_core::debug::Traceback;
    /// gmp_core::Runtime::builder()
    ///     .traceback(Traceback::None)
    ///     .run(|| assert!(gmp_core::debug::goroutines().starts_with("goroutine 1 [running]")));
    /// ```
    pub fn traceback(mut self, t: Traceback) -> Self {
        self.traceback = Some(t);
        self
    }

    /// Runs `f` as the main goroutine and returns its value once it returns. A panic in
    /// `f` comes out of `run`.
    ///
    /// # Panics
    /// Inside a runtime (a goroutine cannot start another runtime); on a malformed
    /// `GMP_MAXPROCS` when `procs` was not called; if `max_threads` is not larger than
    /// the number of Ps; if the main goroutine's stack or first thread cannot be made.
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
        // Go's rule: the code's explicit call wins; the environment sets the default.
        let procs = self
            .procs
            .or_else(procs_from_env)
            .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
        // The Ps need `procs` threads; with no thread beyond them, no `blocking` call
        // could ever run.
        assert!(
            self.max_threads > procs,
            "gmp: max_threads ({}) must be larger than procs ({procs}): the Ps need \
             {procs} threads and blocking calls at least one more",
            self.max_threads
        );
        signal::install_overflow_handler(stack::guard_hit);
        signal::set_overflow_dump(crate::proc::traceback::write_signal_safe);
        handoff::init_barrier();
        // `NEVER` (u64::MAX ns, 584 years) for "no limit".
        let keep_alive = u64::try_from(self.thread_keep_alive.as_nanos()).unwrap_or(NEVER);
        let s = Box::new(Sched::new(
            procs,
            self.stack_size,
            self.max_threads,
            keep_alive,
        ));
        let s: &Sched = &s;
        debug::init(s, self.traceback);
        sched::set_live(s, true);
        signal::quit_runtime(true);

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
        let main = spawn::spawn_main(s, main)
            .unwrap_or_else(|e| panic!("gmp::run: cannot allocate the main goroutine: {e}"));
        tracing::debug!(procs, stack_size = self.stack_size, "gmp runtime starting");
        sysmon::start(s);
        schedule::startm(s, None, false);
        assert!(
            s.stats().threads > 0,
            "gmp::run: cannot start the first runtime thread (see the error log)"
        );

        let result = main.join();
        sched::shutdown(s);
        signal::quit_runtime(false);
        match result {
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

/// Counters of the runtime the calling goroutine runs on.
///
/// ```
/// gmp_core::Runtime::builder().procs(2).run(|| {
///     let s = gmp_core::stats();
///     assert_eq!(s.procs, 2);
///     assert_eq!(s.goroutines, 1); // the main goroutine
/// });
/// ```
///
/// # Panics
/// Outside a runtime.
pub fn stats() -> Stats {
    sched::current()
        .expect("gmp::stats called outside a gmp runtime")
        .stats()
}
