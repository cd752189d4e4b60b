//! `struct Sched`: one runtime's scheduler state, shared by its Ms (Go's `schedt`): the
//! Ps, the global run queue, the idle P and M lists under the scheduler lock, the
//! counts the spinning and deadlock rules read, and the registry of live runtimes. Also
//! `can_spin`, which reads those counts, `stats`, and shutdown. The deadlock check that
//! reads them (`checkdead`) is `deadlock.rs`'s.

use super::blocking::SysWaiter;
use super::g::{G, G_RUNNABLE, G_RUNNING, G_WAITING, HEADER};
use super::handoff;
use super::lockedm;
use super::m::{self, M};
use super::netpoll_epoll::Netpoll;
use super::p::{GRef, P};
use super::stack::StackPool;
use crate::words::locked::LockedMs;
use crossbeam_deque::{Injector, Stealer, Worker};
use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

/// One runtime's scheduler state, shared by its Ms.
pub(crate) struct Sched {
    /// Unique for the life of the process (sockets and join packets remember it).
    pub(super) id: u64,
    pub(super) procs: usize,
    pub(super) ps: Box<[P]>,
    pub(super) stealers: Box<[Stealer<GRef>]>,
    /// The global run queue: overflow, and Gs readied from outside the runtime.
    pub(super) injector: Injector<GRef>,
    pub(super) lock: Mutex<Locked>,
    /// Idle Ps (in `Locked::pidle`) and spinning Ms; read without the lock by `wakep`.
    pub(super) npidle: AtomicUsize,
    pub(super) nmspinning: AtomicUsize,
    /// Idle Ms spinning on their notes before they sleep (`m::idle_spin`).
    pub(super) nmidlespin: AtomicUsize,
    /// Ms alive, and Ms parked in `stopm` (both changed under `lock`).
    pub(super) mcount: AtomicUsize,
    pub(super) nmidle: AtomicUsize,
    /// Ms whose keep-alive expired (`m::idle_sleep`): out of `mcount` since they left the
    /// idle list, their threads ending. `shutdown` and `checkdead`'s count of the
    /// process's threads include them.
    pub(super) nmexiting: AtomicUsize,
    /// How long an idle M beyond what the Ps need waits for work before it exits
    /// (`RuntimeBuilder::thread_keep_alive`); `NEVER`: it never does.
    pub(super) keep_alive: u64,
    /// Ms that exited after their keep-alive, ever (`stats`).
    pub(super) threads_exited: AtomicU64,
    /// Thread creations the kernel refused (`schedule::startm`), and the `nanotime` of
    /// the last one logged: a refusal is logged at most once a second, with the count,
    /// since every `wakep` meanwhile tries again.
    pub(super) newm_failures: AtomicU64,
    pub(super) newm_failure_logged: AtomicU64,
    pub(super) next_mid: AtomicUsize,
    pub(super) stack_size: usize,
    pub(super) default_pool: StackPool,
    /// Pools for other stack sizes. Boxed so `G::pool` pointers stay valid while the
    /// vector grows.
    #[allow(clippy::vec_box)]
    pub(super) pools: Mutex<Vec<Box<StackPool>>>,
    pub(super) next_goid: AtomicU64,
    pub(super) main_g: AtomicPtr<G>,
    pub(super) shutdown: AtomicBool,
    /// The idle sleeper role: taken by one idle M, which blocks in the netpoller until
    /// the earliest timer (`netpoll.poll_until`) or until `wake_sleeper`.
    pub(super) sleeper: AtomicBool,
    pub(super) netpoll: Netpoll,
    /// Threads outside the runtime that will ready a G when they finish (`off_p`), and
    /// wakers outside the runtime between claiming a parked G's wait and readying it
    /// (`pin_runtime`): while any exist, a runtime with every G parked is not
    /// deadlocked, and `shutdown` does not free the runtime. The thread decrements it
    /// after readying, so `checkdead` then sees the G in the global queue.
    pub(super) external: AtomicUsize,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    /// Ms asleep with a goroutine that parked mid-unwind (addresses of `M`s; see
    /// `park`), until the M that dequeues the goroutine hands them a P. `shutdown` wakes
    /// those left. Its lock is a leaf lock. With the count of those that gave their P
    /// away and sleep (`nmlocked`, counted under `lock`): `checkdead` counts them as
    /// idle; the thread limit does not count them. See `words/locked.rs`.
    pub(super) locked_ms: LockedMs,
    /// Every M's address and thread id (Go's `allm`), for `deadlock::checkstuck`, which
    /// reads the threads' state in `/proc`. An M lists itself when it starts and unlists
    /// itself before it is freed. A leaf lock.
    pub(super) allm: Mutex<Vec<(usize, libc::pid_t)>>,
    /// Woken at shutdown, so sysmon exits promptly.
    pub(super) sysmon_key: AtomicU32,
    /// Ms allowed at once (`RuntimeBuilder::max_threads`).
    pub(super) max_threads: AtomicUsize,
    /// Of those, the most that may be away from the Ps at once: `max_threads - procs`
    /// permits of `blocking.rs`.
    pub(super) sys_max: usize,
    /// Copies of `Locked::nsys` and of `Locked::sysq`'s length, stored under `lock`,
    /// for `stats` and sysmon, which read them without it.
    pub(super) nsys: AtomicUsize,
    pub(super) nsysq: AtomicUsize,
    /// A copy of `Locked::pending_m`, stored under `lock`, for the idle sleeper.
    pub(super) npending: AtomicUsize,
    /// Ps sysmon took from goroutines that stayed away from the scheduler (`stats`).
    pub(super) retakes: AtomicU64,
    /// Goroutines spawned by goroutines whose P had been taken (no P counter to bump).
    pub(super) spawned_unowned: AtomicU64,
    /// Whether SIGQUIT, the deadlock report and a stack overflow dump this runtime's
    /// goroutines (`RuntimeBuilder::traceback`, `GMP_TRACEBACK`; `traceback.rs`).
    pub(super) traceback: AtomicBool,
    /// `nanotime` when the runtime was made (the schedtrace line of `metrics`).
    pub(super) started: u64,
    /// Sampled scheduling latencies (`latency.rs`).
    pub(super) latency: super::latency::LatencyHist,
}

/// What the scheduler lock guards: the idle Ps and the idle Ms (Go's `sched.pidle` and
/// `sched.midle`), reached only through `pidleget`/`pidleput` and `mget`/`mput`, which
/// keep `npidle` and `nmidle` equal to the lists' lengths; the goroutines waiting for a
/// thread for a blocking call (`blocking.rs`); and the starts refused at the thread limit
/// (`schedule::startm`).
pub(super) struct Locked {
    pidle: Vec<*const P>,
    midle: Vec<*mut M>,
    /// Permits of `blocking.rs` held: Ms away from the Ps (in a `blocking` call, or
    /// stuck in a call sysmon took the P from), and goroutines handed one on their way
    /// to an M. At most `Sched::sys_max`.
    pub(super) nsys: usize,
    /// Goroutines waiting for a permit, first come first.
    pub(super) sysq: VecDeque<SysWaiter>,
    /// `startm` calls refused at the thread limit since an M last went idle with a P to
    /// take: the next M that goes idle runs an idle P instead (`stopm_register`).
    pub(super) pending_m: usize,
    /// At least the number of Ps in `pidle` with Gs in their `runnext` or local queue
    /// (counted when put there, so an upper bound: thieves may empty a queue since).
    /// While it is non-zero `pidleget` takes such a P first: see there.
    pidle_work: usize,
}

// SAFETY: the raw pointers in `Locked` name Ps and Ms of the runtime, which outlive it;
// they are only used under `Sched::lock`, by whichever thread holds it.
unsafe impl Send for Locked {}
// SAFETY: every field is an atomic, a lock, a structure with its own synchronisation
// (the injector, the stealers, the netpoller) or per-P data under the ownership rule
// of p.rs; `main_g` and the pointers in `Locked` follow the rules written there.
unsafe impl Sync for Sched {}
// SAFETY: as for `Sync`; a `Sched` is made on `run`'s thread and freed there.
unsafe impl Send for Sched {}

impl Sched {
    #[inline]
    pub(super) fn lock(&self) -> MutexGuard<'_, Locked> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes an idle P: one with Gs queued locally if any, else the most recently idled.
    /// Go's idle Ps have empty run queues, so any will do there. Here `startm` refused at
    /// the thread limit (or by the kernel) leaves a P with work idle for the next M
    /// (`schedule.rs`, "The thread limit"), which must take that one: a G in its
    /// `runnext` cannot be stolen, and an M that took another P went idle, leaving the G
    /// runnable with no M (every M idle, `checkdead` reported a deadlock).
    #[inline]
    pub(super) fn pidleget(&self, l: &mut Locked) -> Option<*const P> {
        let p = if l.pidle_work == 0 {
            l.pidle.pop()?
        } else {
            self.pidleget_work(l)?
        };
        // SeqCst: pairs with the loads in `wakep` (see the module doc).
        self.npidle.fetch_sub(1, SeqCst);
        Some(p)
    }

    /// `pidleget` while some P went idle with work: the most recently idled P that still
    /// has some (recounting the others), else the most recently idled.
    #[cold]
    #[inline(never)]
    fn pidleget_work(&self, l: &mut Locked) -> Option<*const P> {
        let mut take = None;
        let mut with_work = 0usize;
        for (i, &p) in l.pidle.iter().enumerate().rev() {
            if self.idle_has_work(p) {
                with_work += 1;
                take.get_or_insert(i);
            }
        }
        l.pidle_work = with_work.saturating_sub(1);
        match take {
            Some(i) => Some(l.pidle.remove(i)),
            None => l.pidle.pop(),
        }
    }

    /// Whether `p`, which no M owns (idle, or being put on the idle list), has Gs in its
    /// `runnext` or local queue. Exact, not a hint: its last owner wrote them before it
    /// gave the P up (under the scheduler lock, or, for a P sysmon took, before sysmon's
    /// `membarrier`), and nobody but an owner adds to them.
    fn idle_has_work(&self, p: *const P) -> bool {
        // SAFETY: `p` points into `ps`.
        let p = unsafe { &*p };
        p.has_work(&self.stealers[p.id])
    }

    #[inline]
    pub(super) fn pidleput(&self, l: &mut Locked, p: *const P) {
        if self.idle_has_work(p) {
            l.pidle_work += 1;
        }
        l.pidle.push(p);
        // SeqCst: a full barrier between publishing the idle P and the re-checks that
        // follow in `find_runnable`; pairs with producers' fence + `npidle` load.
        self.npidle.fetch_add(1, SeqCst);
    }

    /// Takes an idle M, most recently idled first.
    #[inline]
    pub(super) fn mget(&self, l: &mut Locked) -> Option<*mut M> {
        let m = l.midle.pop()?;
        // SeqCst: like every count `checkdead` compares (see there).
        self.nmidle.fetch_sub(1, SeqCst);
        Some(m)
    }

    /// Lists `m` as idle; it sleeps on its note until `startm` hands it a P.
    #[inline]
    pub(super) fn mput(&self, l: &mut Locked, m: *mut M) {
        l.midle.push(m);
        // SeqCst: as in `mget`.
        self.nmidle.fetch_add(1, SeqCst);
    }

    pub(super) fn allm_lock(&self) -> MutexGuard<'_, Vec<(usize, libc::pid_t)>> {
        self.allm.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `m` is listed idle.
    pub(super) fn is_idle_listed(&self, l: &Locked, m: usize) -> bool {
        l.midle.iter().any(|&x| x as usize == m)
    }

    /// Takes `m` off the idle list if it is on it (an idle M leaving for good).
    pub(super) fn mremove(&self, l: &mut Locked, m: *mut M) -> bool {
        let Some(i) = l.midle.iter().position(|&x| ptr::eq(x, m)) else {
            return false;
        };
        l.midle.remove(i);
        // SeqCst: as in `mget`.
        self.nmidle.fetch_sub(1, SeqCst);
        true
    }

    /// Whether some M sleeps in `stopm`.
    pub(super) fn any_idle_m(&self, l: &Locked) -> bool {
        !l.midle.is_empty()
    }

    /// Wakes the idle sleeper so it recomputes its deadline (or notices shutdown).
    pub(super) fn wake_sleeper(&self) {
        self.netpoll.wake();
    }
}

impl Sched {
    /// A runtime's scheduler with `procs` idle Ps, not started yet. `keep_alive` in
    /// nanoseconds, `NEVER` for no limit.
    pub(crate) fn new(
        procs: usize,
        stack_size: usize,
        max_threads: usize,
        keep_alive: u64,
    ) -> Sched {
        let netpoll = Netpoll::new()
            .unwrap_or_else(|e| panic!("gmp::run: cannot create the netpoller (epoll): {e}"));
        let workers: Vec<Worker<GRef>> = (0..procs).map(|_| Worker::new_fifo()).collect();
        let stealers = workers.iter().map(|w| w.stealer()).collect();
        let ps: Box<[P]> = workers
            .into_iter()
            .enumerate()
            .map(|(i, w)| P::new(i, w))
            .collect();
        let s = Sched {
            // Relaxed: only uniqueness matters.
            id: NEXT_RUNTIME_ID.fetch_add(1, Relaxed),
            started: crate::clock::nanotime(),
            latency: super::latency::LatencyHist::new(),
            procs,
            ps,
            stealers,
            injector: Injector::new(),
            lock: Mutex::new(Locked {
                pidle: Vec::new(),
                midle: Vec::new(),
                nsys: 0,
                sysq: VecDeque::new(),
                pending_m: 0,
                pidle_work: 0,
            }),
            npidle: AtomicUsize::new(0),
            nmspinning: AtomicUsize::new(0),
            nmidlespin: AtomicUsize::new(0),
            mcount: AtomicUsize::new(0),
            nmidle: AtomicUsize::new(0),
            nmexiting: AtomicUsize::new(0),
            keep_alive,
            threads_exited: AtomicU64::new(0),
            newm_failures: AtomicU64::new(0),
            newm_failure_logged: AtomicU64::new(0),
            next_mid: AtomicUsize::new(0),
            stack_size,
            default_pool: StackPool::new(stack_size),
            pools: Mutex::new(Vec::new()),
            next_goid: AtomicU64::new(1),
            main_g: AtomicPtr::new(ptr::null_mut()),
            shutdown: AtomicBool::new(false),
            sleeper: AtomicBool::new(false),
            netpoll,
            external: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
            locked_ms: LockedMs::new(),
            allm: Mutex::new(Vec::new()),
            sysmon_key: AtomicU32::new(0),
            max_threads: AtomicUsize::new(max_threads),
            sys_max: max_threads.saturating_sub(procs),
            nsys: AtomicUsize::new(0),
            nsysq: AtomicUsize::new(0),
            npending: AtomicUsize::new(0),
            retakes: AtomicU64::new(0),
            spawned_unowned: AtomicU64::new(0),
            traceback: AtomicBool::new(true),
        };
        {
            let mut l = s.lock();
            // Reverse, so P0 is handed out first.
            l.pidle.extend(s.ps.iter().rev().map(|p| p as *const P));
            s.npidle.store(procs, SeqCst);
        }
        s
    }
}

/// Runtime ids: never reused (Relaxed: only uniqueness matters).
static NEXT_RUNTIME_ID: AtomicU64 = AtomicU64::new(1);

/// Ids and addresses of the runtimes running now. A runtime's `Sched` (and so its
/// stacks) is not freed while it is listed: [`with_live`] holds the lock to read them.
static LIVE: Mutex<Vec<(u64, usize)>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<(u64, usize)>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lists runtime `s` as running, from its start to the end of its shutdown.
pub(crate) fn set_live(s: &Sched, live_now: bool) {
    let mut l = live();
    if live_now {
        l.push((s.id, s as *const Sched as usize));
    } else {
        l.retain(|&(x, _)| x != s.id);
    }
}

/// Calls `f` with every running runtime, which stays alive (listed) until `f` returns:
/// a runtime that ends meanwhile blocks in its last `set_live` until then. For goroutine
/// dumps taken from outside a runtime (SIGQUIT, a plain thread).
pub(crate) fn with_live<R>(f: impl FnOnce(&[&Sched]) -> R) -> R {
    let l = live();
    // SAFETY: listed runtimes are alive while the list's lock is held (see `LIVE`).
    let ss: Vec<&Sched> = l
        .iter()
        .map(|&(_, p)| unsafe { &*(p as *const Sched) })
        .collect();
    f(&ss)
}

/// The runtime the calling goroutine runs on; `None` on a thread outside any runtime.
pub(crate) fn current() -> Option<&'static Sched> {
    let m = m::current();
    // SAFETY: a non-null current M is this thread's live M.
    (!m.is_null()).then(|| unsafe { (*m).sched() })
}

/// Whether runtime `id` is still running (a socket registered with it cannot move).
pub(super) fn is_live(id: u64) -> bool {
    live().iter().any(|&(x, _)| x == id)
}

/// Rounds a `gmp::sync::Mutex` locker may spin before it queues (Go's `active_spin`).
const ACTIVE_SPIN: u32 = 4;

/// Whether a goroutine or thread that found a `gmp::sync::Mutex` locked should spin
/// (round `iter`, from 0) instead of queueing: Go's `sync_runtime_canSpin`. Spinning
/// pays only briefly, on a multicore machine, while another P is running a G (which may
/// be the holder, about to unlock) and this P has nothing else to run; otherwise the
/// spinner only delays the holder or the Gs queued behind it. A plain thread has no P:
/// it spins on any multicore machine.
pub(crate) fn can_spin(iter: u32) -> bool {
    if iter >= ACTIVE_SPIN || ncpu() <= 1 {
        return false;
    }
    if m::current().is_null() {
        return true;
    }
    // Inside a P section the P's queues are this M's to look at; a goroutine whose P was
    // taken does not spin.
    let Some(m) = handoff::p_try_enter() else {
        return false;
    };
    // SAFETY: `m` is this thread's live M, holding its P in the section.
    let spin = unsafe {
        let s = (*m).sched();
        // SeqCst: these counters are SeqCst everywhere; a stale value only mis-tunes one
        // spin round.
        s.procs > s.npidle.load(SeqCst) + s.nmspinning.load(SeqCst) + 1 && (*(*m).p).runq_is_empty()
    };
    handoff::p_exit(m);
    spin
}

/// CPUs available to this process, read once.
fn ncpu() -> usize {
    static NCPU: AtomicUsize = AtomicUsize::new(0);
    // Relaxed: every thread computes the same value; racing stores are identical.
    match NCPU.load(Relaxed) {
        0 => {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            NCPU.store(n, Relaxed);
            n
        }
        n => n,
    }
}

pub(super) fn count_retake(s: &Sched) {
    // Relaxed: a statistic.
    s.retakes.fetch_add(1, Relaxed);
}

/// A snapshot of a runtime's counters, from [`stats`](crate::stats).
///
/// Each counter is read on its own, so the snapshot is not a consistent cut: under load
/// the fields may disagree by a few.
///
/// ```
/// gmp_core::Runtime::builder().procs(1).run(|| {
///     let before = gmp_core::stats().switches;
///     gmp_core::yield_now();
///     assert!(gmp_core::stats().switches > before);
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Goroutines started and not yet finished, the main one included.
    pub goroutines: usize,
    /// Runtime threads (Ms) alive. An M whose keep-alive expired leaves this count when
    /// it leaves the idle list; its thread ends microseconds later.
    pub threads: usize,
    /// Ps: how many goroutines run in parallel (`RuntimeBuilder::procs`).
    pub procs: usize,
    /// Ps with no M, waiting for work.
    pub idle_procs: usize,
    /// Ms looking for work to steal (at most half the busy Ps).
    pub spinning_threads: usize,
    /// Ms parked with nothing to do. Those beyond what the Ps need exit after
    /// `RuntimeBuilder::thread_keep_alive`.
    pub idle_threads: usize,
    /// Ms that exited after idling for their keep-alive, since the runtime started.
    pub threads_exited: u64,
    /// Ms away from the Ps: in [`blocking`](crate::blocking) calls, or stuck in a
    /// blocking call sysmon took the P from. At most `max_threads - procs`.
    pub blocked_threads: usize,
    /// Goroutines waiting for a thread to make a [`blocking`](crate::blocking) call,
    /// because `blocked_threads` is at its limit. They get one in the order they came.
    pub blocking_waiters: usize,
    /// Goroutines in the global run queue.
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

impl Sched {
    /// A snapshot of the counters (`gmp::stats`, and sysmon's schedtrace).
    pub(crate) fn stats(&self) -> Stats {
        // Relaxed throughout: a snapshot of independent counters, not a consistent cut.
        let sum = |f: fn(&P) -> &AtomicU64| self.ps.iter().map(|p| f(p).load(Relaxed)).sum::<u64>();
        let spawned = sum(|p| &p.spawned) + self.spawned_unowned.load(Relaxed);
        let exited = sum(|p| &p.exited);
        Stats {
            goroutines: (1 + spawned).saturating_sub(exited) as usize,
            threads: self.mcount.load(Relaxed),
            procs: self.procs,
            idle_procs: self.npidle.load(Relaxed),
            spinning_threads: self.nmspinning.load(Relaxed),
            idle_threads: self.nmidle.load(Relaxed),
            threads_exited: self.threads_exited.load(Relaxed),
            blocked_threads: self.nsys.load(Relaxed),
            blocking_waiters: self.nsysq.load(Relaxed),
            global_queue: self.injector.len(),
            local_queues: self.stealers.iter().map(|st| st.len()).collect(),
            switches: sum(|p| &p.switches),
            steals: sum(|p| &p.steals),
            spawned,
            retakes: self.retakes.load(Relaxed),
        }
    }
}

// ---- shutdown --------------------------------------------------------------------------

/// Ends a runtime after its main G finished: set `shutdown`, wake every idle M, every
/// locked M, the idle sleeper and sysmon; each M leaves its scheduling loop the next time
/// it enters the scheduler; join every thread; then [`sweep`] the stacks.
pub(crate) fn shutdown(s: &Sched) {
    s.shutdown.store(true, SeqCst);
    {
        let mut l = s.lock();
        while let Some(m) = s.mget(&mut l) {
            // SAFETY: an idle M reads `next_p` after its note is woken.
            unsafe {
                (*m).next_p = ptr::null();
                (*m).park.wake();
            }
        }
    }
    lockedm::wake_all(s);
    s.wake_sleeper();
    s.sysmon_key.fetch_add(1, SeqCst);
    m::futex_wake(&s.sysmon_key, 1);
    loop {
        let hs = std::mem::take(&mut *s.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for h in hs {
            let _ = h.join();
        }
        // `newm` pushes its handle while holding the list and while `mcount` counts the
        // thread, so an empty list with `mcount == 0` means every M has ended (an M that
        // exited after its keep-alive counts in `nmexiting` until its last access).
        if s.mcount.load(SeqCst) == 0
            && s.nmexiting.load(SeqCst) == 0
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
    set_live(s, false);
    tracing::debug!("gmp runtime stopped");
}

/// Drops what is left of every G that did not finish. Runs after all Ms have exited.
///
/// Gs that never ran have their closures dropped; Gs still parked are dropped without
/// running further (their frames are not unwound, so values on their stacks are leaked,
/// not dropped), and every join on them returns an error.
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
                // Relaxed: see `G::status`; every M has been joined.
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
    // runtime while holding that queue's lock (`park::pin_runtime`); it readies the G
    // into the dead runtime's global queue and unpins. Wait for it before `run` frees
    // the Sched and the stacks.
    while s.external.load(SeqCst) > 0 {
        thread::yield_now();
    }
}
