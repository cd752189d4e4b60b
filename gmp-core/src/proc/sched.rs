//! The scheduler: `schedule`, `find_runnable`, stealing, spinning Ms, `wakep`, `ready`,
//! `park`, `yield_now` and G exit. Go's design (runtime/proc.go), in Go's words.
//!
//! A G runs on an M that holds a P. When the G parks, yields or exits it calls `mcall`,
//! and the rest happens on the M's g0 stack: the `*_m` function decides what the old G
//! becomes, then [`schedule`] finds the next G and `gogo`s to it. `schedule` never
//! returns, so g0 never accumulates frames.
//!
//! # Finding work (`find_runnable`)
//! Expired timers of every P first; every 61st tick the global queue (so a busy P cannot
//! starve it); then `runnext`, the local queue, the global queue, a non-blocking netpoll,
//! and stealing half of another P's queue (four passes over the Ps in random order).
//! Failing that the M gives its P back, re-checks every source, and sleeps: as the *idle
//! sleeper*, blocked in the netpoller until the earliest timer of any P (one M at a
//! time, and only if a timer or a socket wait is pending), or on its own futex note
//! until `startm` hands it a P. `schedule` handles the common case (local work, no timer
//! on this P) inline, before calling `find_runnable`.
//!
//! # Spinning
//! An M looking for work to steal is *spinning*. `wakep` starts a new M only if a P is idle
//! and no M is spinning, and at most half the busy Ps spin, so a burst of `ready`s costs
//! one thread wake-up instead of one each. A spinning M that finds work stops spinning and,
//! if it was the last spinner, wakes another (there may be more work).
//!
//! No wake-up is lost because each side writes, then reads the other side's word, with a
//! full barrier in between (SeqCst RMWs on x86 are one): a producer pushes work, then reads
//! `npidle`/`nmspinning`; a consumer going idle bumps `npidle` / drops `nmspinning`, then
//! re-checks the queues. At least one of them sees the other. Work in a busy P's local
//! queue needs no wake-up: that P's M will run it.
//!
//! # Deadlock
//! When the last M goes idle with no timer pending, no goroutine waiting on a socket, no
//! `off_p` thread running and the main G parked, nothing can wake any G: the main G is
//! readied with a flag and panics `all goroutines are asleep - deadlock!` from its `park`.
//! A goroutine waiting on a channel, `select!` or sync primitive also rules it out: a
//! plain thread may hold the other end (see `checkdead`).

use super::g::{G, G_DEAD, G_RUNNABLE, G_RUNNING, G_WAITING, HEADER};
use super::handoff;
use super::lockedm;
use super::m::{self, M};
use super::netpoll::Netpoll;
use super::p::{GRef, GFREE_MAX, P};
use super::stack::StackPool;
use super::timer;
use crate::arch;
use crate::clock::{nanotime, NEVER};
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use std::io;
use std::ptr::{self, NonNull};
use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*,
};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// One runtime's scheduler state, shared by its Ms.
pub(crate) struct Sched {
    /// Unique for the life of the process (sockets and join packets remember it).
    pub id: u64,
    pub procs: usize,
    pub ps: Box<[P]>,
    pub stealers: Box<[Stealer<GRef>]>,
    /// The global run queue: overflow, and Gs readied from outside the runtime.
    pub injector: Injector<GRef>,
    pub lock: Mutex<Locked>,
    /// Idle Ps (in `Locked::pidle`) and spinning Ms; read without the lock by `wakep`.
    pub npidle: AtomicUsize,
    pub nmspinning: AtomicUsize,
    /// Ms alive, and Ms parked in `stopm` (both changed under `lock`).
    pub mcount: AtomicUsize,
    pub nmidle: AtomicUsize,
    pub next_mid: AtomicUsize,
    pub stack_size: usize,
    pub default_pool: StackPool,
    /// Pools for other stack sizes. Boxed so `G::pool` pointers stay valid while the
    /// vector grows.
    #[allow(clippy::vec_box)]
    pub pools: Mutex<Vec<Box<StackPool>>>,
    pub next_goid: AtomicU64,
    pub main_g: AtomicPtr<G>,
    pub shutdown: AtomicBool,
    /// The idle sleeper role: taken by one idle M, which blocks in the netpoller until
    /// the earliest timer (`netpoll.poll_until`) or until `wake_sleeper`.
    pub sleeper: AtomicBool,
    pub netpoll: Netpoll,
    /// Threads outside the runtime that will ready a G when they finish (`off_p`), and
    /// wakers outside the runtime between claiming a parked G's wait and readying it
    /// (`pin_runtime`): while any exist, a runtime with every G parked is not
    /// deadlocked, and `shutdown` does not free the runtime. The thread decrements it
    /// after readying, so `checkdead` then sees the G in the global queue.
    pub external: AtomicUsize,
    pub threads: Mutex<Vec<JoinHandle<()>>>,
    /// Ms asleep with a goroutine that parked mid-unwind (addresses of `M`s; see
    /// `park`), until the M that dequeues the goroutine hands them a P. `shutdown` wakes
    /// those left. A leaf lock.
    pub locked_ms: Mutex<Vec<usize>>,
    /// Listed Ms that gave their P away and sleep (`lockedm::count`). Changed under
    /// `lock`. `checkdead` counts them as idle; the thread limit does not count them.
    pub nmlocked: AtomicUsize,
    /// Woken at shutdown, so sysmon exits promptly.
    pub sysmon_key: AtomicU32,
    /// Ms allowed at once (`RuntimeBuilder::max_threads`).
    pub max_threads: AtomicUsize,
    /// Ps sysmon took from goroutines that stayed away from the scheduler (`stats`).
    pub retakes: AtomicU64,
    /// Goroutines spawned by goroutines whose P had been taken (no P counter to bump).
    pub spawned_unowned: AtomicU64,
}

pub(crate) struct Locked {
    pub pidle: Vec<*const P>,
    pub midle: Vec<*mut M>,
}

// SAFETY: the raw pointers in `Locked` are only used under `lock`; everything else is
// atomics, mutexes, or per-P data with the ownership rule documented in p.rs.
unsafe impl Send for Locked {}
unsafe impl Sync for Sched {}
unsafe impl Send for Sched {}

impl Sched {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Locked> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn pidleget(&self, l: &mut Locked) -> Option<*const P> {
        let p = l.pidle.pop()?;
        // SeqCst: pairs with the loads in `wakep` (see the module doc).
        self.npidle.fetch_sub(1, SeqCst);
        Some(p)
    }

    pub(crate) fn pidleput(&self, l: &mut Locked, p: *const P) {
        l.pidle.push(p);
        // SeqCst: a full barrier between publishing the idle P and the re-checks that
        // follow in `find_runnable`; pairs with producers' fence + `npidle` load.
        self.npidle.fetch_add(1, SeqCst);
    }

    /// Whether some G is parked in a claim-protocol wait (channel, `select!`, sync
    /// primitive). Scans every G header, so only `checkdead` calls it, when it would
    /// otherwise report a deadlock; the channel path pays nothing for it.
    fn any_claim_waiter(&self) -> bool {
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = false;
        for pool in std::iter::once(&self.default_pool).chain(pools.iter().map(|b| &**b)) {
            pool.for_each_carved(|st| {
                // SAFETY: every carved stack has a G header, and with every M idle no
                // one is carving or initialising one.
                found =
                    found || unsafe { super::wait::in_claim_wait((st.hi - HEADER) as *const G) };
            });
            if found {
                return true;
            }
        }
        false
    }

    /// Wakes the idle sleeper so it recomputes its deadline (or notices shutdown).
    pub(crate) fn wake_sleeper(&self) {
        self.netpoll.wake();
    }
}

impl Sched {
    /// A runtime's scheduler with `procs` idle Ps, not started yet.
    pub(crate) fn new(procs: usize, stack_size: usize, max_threads: usize) -> Sched {
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
            id: NEXT_RUNTIME_ID.fetch_add(1, Relaxed),
            procs,
            ps,
            stealers,
            injector: Injector::new(),
            lock: Mutex::new(Locked {
                pidle: Vec::new(),
                midle: Vec::new(),
            }),
            npidle: AtomicUsize::new(0),
            nmspinning: AtomicUsize::new(0),
            mcount: AtomicUsize::new(0),
            nmidle: AtomicUsize::new(0),
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
            locked_ms: Mutex::new(Vec::new()),
            nmlocked: AtomicUsize::new(0),
            sysmon_key: AtomicU32::new(0),
            max_threads: AtomicUsize::new(max_threads),
            retakes: AtomicU64::new(0),
            spawned_unowned: AtomicU64::new(0),
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

/// Ids of the runtimes running now.
static LIVE: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<u64>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lists runtime `id` as running, from its start to the end of its shutdown.
pub(crate) fn set_live(id: u64, live_now: bool) {
    let mut l = live();
    if live_now {
        l.push(id);
    } else {
        l.retain(|&x| x != id);
    }
}

/// Whether runtime `id` is still running (a socket registered with it cannot move).
pub(crate) fn is_live(id: u64) -> bool {
    live().contains(&id)
}

// ---- G-side entry points (run on a G's stack) -------------------------------------

/// The M this thread runs, or null outside a runtime.
#[inline]
pub(crate) fn current_m() -> *mut M {
    m::current()
}

/// Parks the running G. `commit` runs on g0 after the G is saved, with the G's pointer;
/// it makes the G findable by its waker and returns `true`, or returns `false` if the
/// wake-up already happened, and the G continues at once. Returns when readied.
///
/// Panics with Go's deadlock message if the runtime found every G asleep while this
/// was the main G.
///
/// # Parking mid-unwind
/// A goroutine that parks while it unwinds resumes on the same M, which runs nothing
/// else meanwhile (`lockedm.rs` says why and how). The common path pays one
/// `panicking()` check here.
pub(crate) fn park<F: FnMut(*mut G) -> bool>(mut commit: F) {
    assert!(
        !current_m().is_null(),
        "gmp: park called outside a goroutine"
    );
    let m = handoff::p_enter_for_mcall();
    let c: &mut dyn FnMut(*mut G) -> bool = &mut commit;
    // SAFETY: `c` lives in this frame, which stays intact while the G is parked; g0 calls
    // it only before the G can be resumed (see `park_m`), so the erased lifetime never
    // outlives the borrow. `m`/`g` are this thread's live M and its running G.
    let g = unsafe {
        let c: *mut (dyn FnMut(*mut G) -> bool + 'static) = std::mem::transmute(c);
        (*m).park_commit = Some(c);
        let g = (*m).curg;
        if std::thread::panicking() {
            (*g).locked_m.store(m, Relaxed);
        }
        arch::mcall(&mut (*g).sched, (*m).g0_sp, park_m, m as usize);
        g
    };
    // Resumed, possibly on another M: `m` is stale from here on.
    // SAFETY: `g` is this G; its header is live while it runs.
    if unsafe { (*g).deadlocked.swap(false, Relaxed) } {
        panic!("all goroutines are asleep - deadlock!");
    }
}

/// Parks the calling goroutine with nothing that can ever wake it: it stays parked until
/// the runtime ends (and is dropped then). If every goroutine ends up asleep this way, or
/// in joins on such goroutines, the runtime reports the deadlock: in the main goroutine
/// this panics with `all goroutines are asleep - deadlock!`.
///
/// Until channels arrive this is the one way to build a deadlock inside one runtime (a
/// join on another runtime's goroutine blocks the thread instead, since that runtime can
/// still wake it), so the deadlock tests use it. Outside a runtime it panics.
#[doc(hidden)]
pub fn park_forever() -> ! {
    loop {
        park(|_| true);
    }
}

/// Blocks the calling goroutine (as [`park_forever`]) or thread forever.
pub(crate) fn park_or_block_forever() -> ! {
    if current_m().is_null() {
        loop {
            std::thread::park();
        }
    }
    park_forever()
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
    if current_m().is_null() {
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

thread_local! {
    static THREAD_RAND: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A cheap random number (xorshift), per M, or per thread outside a runtime.
#[inline(never)]
pub(crate) fn fastrand() -> u32 {
    let m = current_m();
    if !m.is_null() {
        // SAFETY: the M is this thread's; only this thread touches its `rand`.
        return unsafe { (*m).fastrand() };
    }
    THREAD_RAND.with(|c| {
        let mut x = c.get();
        if x == 0 {
            x = nanotime() | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        (x >> 32) as u32
    })
}

/// Puts the running G at the tail of its P's queue and runs another.
pub fn yield_now() {
    if current_m().is_null() {
        std::thread::yield_now();
        return;
    }
    if std::thread::panicking() {
        yield_unwinding();
        return;
    }
    let m = handoff::p_enter_for_mcall();
    // SAFETY: `m` is this thread's M, running a G (a thread with an M runs only Gs and g0,
    // and g0 code never calls this), holding its P in a section that g0 continues.
    unsafe {
        let g = (*m).curg;
        arch::mcall(&mut (*g).sched, (*m).g0_sp, gosched_m, m as usize);
    }
}

/// `yield_now` mid-unwind, when this M may run no other G (see `park`): park, readied
/// at once, so the others still get to run, on another M.
#[cold]
#[inline(never)]
fn yield_unwinding() {
    park(|g| {
        ready(g, false);
        true
    });
}

/// Ends the running G. Called by `g_entry` after the closure returned or panicked.
pub(crate) fn goexit() -> ! {
    let m = handoff::p_enter_for_mcall();
    // SAFETY: as in `yield_now`. The saved context is never resumed.
    unsafe {
        let g = (*m).curg;
        arch::mcall(&mut (*g).sched, (*m).g0_sp, goexit0, m as usize);
    }
    unreachable!("a dead goroutine was resumed")
}

/// Makes `g` runnable. On an M of `g`'s runtime holding a P it goes to that P
/// (`runnext` if `next`, inheriting the time slice, as Go's `ready` does); from anywhere
/// else, to the global queue.
pub(crate) fn ready(g: *mut G, next: bool) {
    ready_on(current_m(), g, next)
}

/// [`ready`] with the calling thread's M (or null) already at hand.
pub(crate) fn ready_on(m: *mut M, g: *mut G, next: bool) {
    // SAFETY: `g` is a parked G of a live runtime; the caller won the right to wake it.
    unsafe {
        let s = &*(*g).rt;
        (*g).status.store(G_RUNNABLE, Relaxed);
        tracing::trace!(goid = (*g).id, "ready");
        let mine = !m.is_null() && ptr::eq((*m).sched, s);
        if let Some(m) = mine.then(|| handoff::p_try_enter_on(m)).flatten() {
            let stealable = (*(*m).p).runqput(g, next);
            handoff::p_exit(m);
            // A G that only went into `runnext` cannot be stolen (it is owner-only), so
            // waking an idle M for it would buy a futex wake-up and nothing else: chan
            // ping-pong on 2 Ps measured 240-279 ns per round trip with the wake-up,
            // 139-155 ns without.
            if !stealable {
                return;
            }
        } else {
            s.injector.push(GRef(NonNull::new_unchecked(g)));
            // Pairs with the SeqCst RMW in `pidleput`: either the idle M re-checks and
            // sees this G, or we see its idle P in `wakep`.
            fence(SeqCst);
        }
        wakep(s);
    }
}

/// Whether `m` (the calling thread's M, or null) is an M of `g`'s runtime.
///
/// # Safety
/// `g` is a G header of a live runtime.
#[inline]
pub(crate) unsafe fn on_runtime(m: *mut M, g: *mut G) -> bool {
    // SAFETY: a live M's fields; `g` per the contract.
    !m.is_null() && unsafe { ptr::eq((*m).sched, (*g).rt) }
}

/// Keeps `g`'s runtime from ending until [`ready_pinned`]: counted in `external`, which
/// `shutdown` waits for before and after its sweep. For wakers outside the runtime.
///
/// # Safety
/// `g`'s runtime must still be alive, and stay so until this returns (the caller holds
/// the lock of a wait queue with `g`'s entry in it, which the sweep needs to unlink it).
pub(crate) unsafe fn pin_runtime(g: *mut G) {
    // SAFETY: per the contract.
    unsafe { (*(*g).rt).external.fetch_add(1, SeqCst) };
}

/// Readies `g` from outside its runtime, then drops the pin taken by [`pin_runtime`].
///
/// # Safety
/// The caller pinned `g`'s runtime and won the right to wake `g`.
pub(crate) unsafe fn ready_pinned(g: *mut G) {
    // SAFETY: the pin keeps the runtime (its Sched and G headers) alive until the
    // decrement, which is the last access.
    unsafe {
        let s = (*g).rt;
        ready(g, true);
        (*s).external.fetch_sub(1, SeqCst);
    }
}

// ---- g0 side -------------------------------------------------------------------------

unsafe extern "C" fn park_m(m: usize) -> ! {
    // SAFETY: called by `mcall` on this M's g0 with the M pointer; the G is saved.
    unsafe {
        let m = &mut *(m as *mut M);
        let g = m.curg;
        m.curg = ptr::null_mut();
        (*g).min_sp = (*g).min_sp.min((*g).sched.sp);
        (*g).status.store(G_WAITING, Relaxed);
        let commit = m.park_commit.take().expect("park sets a commit");
        tracing::trace!(goid = (*g).id, "park");
        let locked = ptr::eq((*g).locked_m.load(Relaxed), m);
        if locked {
            lockedm::prepare(m);
        }
        if !(*commit)(g) {
            if locked {
                lockedm::cancel(m, g);
            }
            (*g).status.store(G_RUNNING, Relaxed);
            m.curg = g;
            // Back in the goroutine's own code: out of the P section.
            m.locks.store(0, Relaxed);
            arch::gogo(&(*g).sched);
        }
        if locked {
            lockedm::count(m);
            handoff::handoff_own_p(m);
            lockedm::stoplockedm(m, g);
        }
        schedule(m)
    }
}

unsafe extern "C" fn gosched_m(m: usize) -> ! {
    // SAFETY: as in `park_m`; the M holds a P while running a G.
    unsafe {
        let m = &mut *(m as *mut M);
        let g = m.curg;
        m.curg = ptr::null_mut();
        (*g).min_sp = (*g).min_sp.min((*g).sched.sp);
        (*g).status.store(G_RUNNABLE, Relaxed);
        let _ = (*m.p).runqput(g, false);
        schedule(m)
    }
}

unsafe extern "C" fn goexit0(m: usize) -> ! {
    // SAFETY: as in `park_m`. The G's closure and frames are finished; its header and
    // stack go back to a free list.
    unsafe {
        let m = &mut *(m as *mut M);
        let g = m.curg;
        m.curg = ptr::null_mut();
        let p = &*m.p;
        let s = m.sched();
        P::bump(&p.exited);
        // The main G's header is about to be recycled: `checkdead` must not see it.
        let _ = s
            .main_g
            // Failure ordering Relaxed: on failure nothing is read or published.
            .compare_exchange(g, ptr::null_mut(), SeqCst, Relaxed);
        gfput(s, p, g);
        schedule(m)
    }
}

/// Entered by `mstart` on a new M's g0.
pub(crate) unsafe extern "C" fn mstart_entry(m: usize) -> ! {
    // SAFETY: `m` is the new M, set up by `m_main`.
    unsafe { schedule(&mut *(m as *mut M)) }
}

/// `schedule` for g0 functions outside this module.
pub(crate) fn schedule_m(m: &mut M) -> ! {
    schedule(m)
}

pub(crate) fn count_retake(s: &Sched) {
    // Relaxed: a statistic.
    s.retakes.fetch_add(1, Relaxed);
}

/// One round of scheduling: find a G and run it. Never returns.
///
/// Always inlined, with `execute`, into the g0 functions that end in it: a CALL that
/// never returns leaves a stale entry on the CPU's return-stack predictor, and the next
/// RET in the resumed G would then mispredict. Inlined, the only calls on the way from
/// `mcall` to `gogo` are ones that return (`find_runnable`). Measured with the `yield`
/// bench on one P: 33 → 20 ns per yield.
#[inline(always)]
fn schedule(m: &mut M) -> ! {
    loop {
        let mut g = ptr::null_mut();
        // The common case inline: local work, no timer pending, not the 61st tick.
        // SAFETY: an M in `schedule` holds its P.
        let p = unsafe { &*m.p };
        // Relaxed: hints only. A timer (see `Timers::first_hint`) or shutdown missed here
        // is seen by `find_runnable` (SeqCst loads) the next time this P runs out of
        // local work or hits tick 61.
        if p.timers.first_hint() == NEVER
            && p.schedtick.load(Relaxed) % 61 != 0
            && !m.sched().shutdown.load(Relaxed)
        {
            g = p.runqget();
        }
        if g.is_null() {
            g = find_runnable(m);
        }
        if m.spinning {
            resetspinning(m);
        }
        // SAFETY: `g` was just dequeued by this M; its header is live.
        let locked = unsafe { (*g).locked_m.load(Relaxed) };
        if !locked.is_null() && !ptr::eq(locked, m) {
            // SAFETY: as above; `locked` is the M that `g` is locked to.
            unsafe { lockedm::startlockedm(m, g, locked) };
            continue;
        }
        execute(m, g)
    }
}

#[inline(always)]
pub(super) fn execute(m: &mut M, g: *mut G) -> ! {
    // SAFETY: `g` was taken from a queue, so this M alone owns running it; the M holds P.
    unsafe {
        let p = &*m.p;
        p.tick();
        P::bump(&p.switches);
        m.curg = g;
        (*g).status.store(G_RUNNING, Relaxed);
        // Leaving g0 for the goroutine's own code: out of the P section (Relaxed: see
        // `M::locks`; sysmon reads it only after a membarrier).
        m.locks.store(0, Relaxed);
        arch::gogo(&(*g).sched)
    }
}

fn resetspinning(m: &mut M) {
    m.spinning = false;
    let s = m.sched();
    // SeqCst: pairs with `wakep`'s loads; if we were the last spinner, wake another to
    // look for the rest of the work.
    if s.nmspinning.fetch_sub(1, SeqCst) == 1 {
        wakep(s);
    }
}

/// Starts an M to run an idle P if there is one and nobody is spinning.
pub(crate) fn wakep(s: &Sched) {
    if s.npidle.load(SeqCst) == 0 || s.nmspinning.load(SeqCst) != 0 {
        return;
    }
    if s.nmspinning.compare_exchange(0, 1, SeqCst, SeqCst).is_err() {
        return;
    }
    startm(s, None, true);
}

/// Gives `p` (or an idle P) to an idle or new M. With `spinning`, the caller already
/// counted the M in `nmspinning`; the count is undone if there is no P to run.
pub(crate) fn startm(s: &Sched, p: Option<*const P>, spinning: bool) {
    let mut l = s.lock();
    let p = match p.or_else(|| s.pidleget(&mut l)) {
        Some(p) if !s.shutdown.load(SeqCst) => p,
        other => {
            if let Some(p) = other {
                s.pidleput(&mut l, p);
            }
            drop(l);
            if spinning {
                s.nmspinning.fetch_sub(1, SeqCst);
            }
            return;
        }
    };
    if let Some(m) = l.midle.pop() {
        s.nmidle.fetch_sub(1, SeqCst);
        drop(l);
        // SAFETY: an idle M sleeps on its note and reads these only after `wake`
        // (Release/Acquire on the note).
        unsafe {
            (*m).next_p = p;
            (*m).spinning = spinning;
            (*m).park.wake();
        }
        return;
    }
    s.mcount.fetch_add(1, SeqCst);
    drop(l);
    if let Err(e) = m::newm(s, p, spinning) {
        let mut l = s.lock();
        s.mcount.fetch_sub(1, SeqCst);
        s.pidleput(&mut l, p);
        drop(l);
        if spinning {
            s.nmspinning.fetch_sub(1, SeqCst);
        }
        tracing::error!("gmp: cannot start a runtime thread: {e}");
    }
}

/// Finds a runnable G, sleeping if there is none. Returns with `m.p` held.
#[inline(never)]
fn find_runnable(m: &mut M) -> *mut G {
    let s = m.sched();
    loop {
        if s.shutdown.load(Acquire) {
            mexit(m);
        }
        // SAFETY: the M holds `m.p` at the top of every iteration.
        let p = unsafe { &*m.p };
        // Expired timers of any P, idle ones included: nobody else may be awake to run
        // them (the slow path only; `schedule`'s fast path checks this P's).
        let t0 = timer::earliest(s);
        if t0 != NEVER && t0 <= nanotime() {
            timer::run_all_timers(s);
        }
        if p.schedtick.load(Relaxed) % 61 == 0 {
            if let Some(g) = steal_global(s, p) {
                return g;
            }
        }
        let g = p.runqget();
        if !g.is_null() {
            return g;
        }
        if let Some(g) = steal_global(s, p) {
            return g;
        }
        if let Some(g) = netpoll_now(s) {
            return g;
        }
        let busy = s.procs - s.npidle.load(SeqCst);
        if m.spinning || 2 * s.nmspinning.load(SeqCst) < busy {
            if !m.spinning {
                m.spinning = true;
                s.nmspinning.fetch_add(1, SeqCst);
            }
            if let Some(g) = steal_work(s, m) {
                return g;
            }
        }

        // Nothing to run: give the P back, then look once more before sleeping.
        let mut l = s.lock();
        if !s.injector.is_empty() {
            drop(l);
            continue;
        }
        let p = handoff::releasep(m);
        s.pidleput(&mut l, p);
        drop(l);
        let was_spinning = m.spinning;
        if was_spinning {
            m.spinning = false;
            // SeqCst: after this, re-check the queues (see the module doc).
            s.nmspinning.fetch_sub(1, SeqCst);
        }
        if let Some(p) = check_again(s, was_spinning) {
            handoff::acquirep(m, p);
            if was_spinning {
                m.spinning = true;
                s.nmspinning.fetch_add(1, SeqCst);
            }
            continue;
        }

        let when = timer::earliest(s);
        let io_waiters = s.netpoll.waiters.load(SeqCst) > 0;
        if (when != NEVER || io_waiters) && !s.sleeper.swap(true, SeqCst) {
            let gs = sleep_in_netpoll(s, when);
            s.sleeper.store(false, SeqCst);
            let mut l = s.lock();
            if let Some(p) = s.pidleget(&mut l) {
                drop(l);
                handoff::acquirep(m, p);
                for &g in &gs {
                    ready(g, false);
                }
                continue;
            }
            drop(l);
            // Every P is busy: hand the woken Gs to them; their Ms run their own timers.
            inject(s, &gs);
        }
        stopm(m);
    }
}

/// `find_runnable`'s last look after releasing the P: returns an idle P to retry with if
/// any source has work.
fn check_again(s: &Sched, was_spinning: bool) -> Option<*const P> {
    let work = !s.injector.is_empty()
        || (was_spinning && s.stealers.iter().any(|st| !st.is_empty()))
        || timer::earliest(s) <= nanotime();
    if !work {
        return None;
    }
    let mut l = s.lock();
    s.pidleget(&mut l)
}

fn steal_global(s: &Sched, p: &P) -> Option<*mut G> {
    loop {
        match s.injector.steal_batch_and_pop(p.runq()) {
            Steal::Success(g) => return Some(g.0.as_ptr()),
            Steal::Empty => return None,
            Steal::Retry => continue,
        }
    }
}

/// Steals half of a random other P's queue.
fn steal_work(s: &Sched, m: &mut M) -> Option<*mut G> {
    // SAFETY: the M holds its P.
    let p = unsafe { &*m.p };
    let n = s.procs;
    if n == 1 {
        return None;
    }
    for _ in 0..4 {
        let start = m.fastrand() as usize % n;
        for k in 0..n {
            let i = (start + k) % n;
            if i == p.id {
                continue;
            }
            loop {
                match s.stealers[i].steal_batch_and_pop(p.runq()) {
                    Steal::Success(g) => {
                        P::bump(&p.steals);
                        tracing::trace!(from = i, to = p.id, "steal");
                        return Some(g.0.as_ptr());
                    }
                    Steal::Empty => break,
                    Steal::Retry => continue,
                }
            }
        }
    }
    None
}

/// The idle sleeper's wait: blocks in the netpoller until the earliest timer `when`
/// (`NEVER`: until an event or a wake-up), and returns the Gs it readied.
fn sleep_in_netpoll(s: &Sched, mut when: u64) -> Vec<*mut G> {
    loop {
        s.netpoll.poll_until.store(when, SeqCst);
        let first = timer::earliest(s);
        if first < when {
            when = first;
            continue;
        }
        break;
    }
    let now = nanotime();
    let timeout = if when == NEVER {
        None
    } else {
        Some(Duration::from_nanos(when.saturating_sub(now)))
    };
    let gs = if s.shutdown.load(SeqCst) {
        None
    } else {
        s.netpoll.poll(timeout)
    };
    s.netpoll.poll_until.store(NEVER, SeqCst);
    gs.unwrap_or_default()
}

/// A non-blocking poll from an M that holds a P: readies what it finds into that P.
/// Returns one of them to run now.
fn netpoll_now(s: &Sched) -> Option<*mut G> {
    if s.netpoll.waiters.load(SeqCst) == 0 || s.netpoll.last_poll.load(SeqCst) == 0 {
        return None;
    }
    let mut first: *mut G = ptr::null_mut();
    s.netpoll.poll_with(Some(Duration::ZERO), |g| {
        if first.is_null() {
            first = g;
        } else {
            ready(g, false);
        }
    });
    if first.is_null() {
        return None;
    }
    // SAFETY: `first` was parked on a desc; the poller won the right to wake it.
    unsafe { (*first).status.store(G_RUNNABLE, Relaxed) };
    Some(first)
}

/// Makes Gs found by a poller without a P runnable: on `p` if the caller got one, else
/// on the global queue.
pub(crate) fn inject(s: &Sched, gs: &[*mut G]) {
    for &g in gs {
        // SAFETY: `g` was parked on a desc; the poller won the right to wake it.
        unsafe {
            (*g).status.store(G_RUNNABLE, Relaxed);
            s.injector.push(GRef(NonNull::new_unchecked(g)));
        }
    }
    if !gs.is_empty() {
        fence(SeqCst);
        for _ in 0..gs.len().min(s.procs) {
            wakep(s);
        }
    }
}

/// Parks the M until `startm` hands it a P (or shutdown).
pub(crate) fn stopm(m: &mut M) {
    let s = m.sched();
    let mut l = s.lock();
    if !stopm_register(s, m, &mut l) {
        drop(l);
        mexit(m);
    }
    drop(l);
    stopm_wait(m);
}

/// `stopm`'s first half, under the lock: lists the M as idle. Returns `false` at
/// shutdown instead; the caller then drops the lock and exits the M.
pub(super) fn stopm_register(s: &Sched, m: &mut M, l: &mut Locked) -> bool {
    if s.shutdown.load(SeqCst) {
        return false;
    }
    m.park.clear();
    l.midle.push(m as *mut M);
    s.nmidle.fetch_add(1, SeqCst);
    checkdead(s, l);
    true
}

/// `stopm`'s second half: sleeps until `startm` hands the M a P (or shutdown).
pub(super) fn stopm_wait(m: &mut M) {
    let s = m.sched();
    m.park.sleep();
    let p = std::mem::replace(&mut m.next_p, ptr::null());
    if p.is_null() {
        if !s.shutdown.load(SeqCst) {
            unreachable!("an M was woken without a P outside shutdown");
        }
        mexit(m);
    }
    handoff::acquirep(m, p);
}

/// Called with the lock held by an M about to sleep: if every M is now idle, no timer is
/// pending and the main G is parked, nothing can ever wake a G. Ready the main G with
/// the deadlock flag, on this M.
///
/// A goroutine waiting on a channel, `select!` or sync primitive rules that out: the
/// other end may be held by a plain thread or by another runtime's goroutine, which the
/// runtime cannot see, so channel deadlocks go unreported rather than reported wrongly.
/// (Reporting one anyway would also ready the main G behind the claim protocol's back:
/// the thread could still complete its channel operation and ready it a second time.)
pub(super) fn checkdead(s: &Sched, l: &mut Locked) {
    // Every M idle: in `stopm`, or asleep with a G that parked mid-unwind.
    if s.shutdown.load(SeqCst)
        || s.nmidle.load(SeqCst) + s.nmlocked.load(SeqCst) != s.mcount.load(SeqCst)
        // From `lockedm::stoplockedm` with no M in `stopm`: none to run the main G on.
        || l.midle.is_empty()
    {
        return;
    }
    if !s.injector.is_empty()
        || timer::earliest(s) != NEVER
        || s.sleeper.load(SeqCst)
        || s.netpoll.waiters.load(SeqCst) > 0
        || s.external.load(SeqCst) > 0
    {
        return;
    }
    let main = s.main_g.load(SeqCst);
    // SAFETY: the main G's header stays valid until the runtime ends.
    if main.is_null() || unsafe { (*main).status.load(Relaxed) } != G_WAITING {
        return;
    }
    // Last: the checks that scan every G and read /proc. A goroutine waiting on a
    // channel or sync primitive could be woken by a plain thread holding the other end;
    // only a process with no thread besides the runtime's own proves nobody can.
    if s.any_claim_waiter() && foreign_threads(s) {
        return;
    }
    let Some(p) = s.pidleget(l) else { return };
    // Take the main G's wait, if it is in one, so nothing else can ready it.
    // SAFETY: the main G's header is valid (above).
    if !unsafe { super::wait::claim_for_deadlock(main) } {
        s.pidleput(l, p);
        return;
    }
    let me = l.midle.pop().expect("checked above");
    s.nmidle.fetch_sub(1, SeqCst);
    // SAFETY: `me` sleeps in `stopm` (the calling M, which pushed itself last under this
    // lock, or, called from `lockedm::stoplockedm`, another) and reads `next_p` after its note
    // is woken; the main G is parked and, with every M idle, nobody else can wake it.
    unsafe {
        (*main).deadlocked.store(true, Relaxed);
        (*main).status.store(G_RUNNABLE, Relaxed);
        let _ = (*p).runqput(main, true);
        (*me).next_p = p;
        (*me).spinning = false;
        (*me).park.wake();
    }
}

/// Whether the process has threads besides this runtime's Ms, its sysmon and the
/// thread blocked in `run`. Such a thread may hold a channel or sync handle and wake a
/// goroutine later (the runtime cannot see where handles went), so with one around,
/// every goroutine being asleep is not proof of a deadlock. Go needs no such rule: all of
/// its code runs on goroutines. This errs on the side of never reporting a false
/// deadlock: a process with any extra thread (a test harness, a logging thread, another
/// runtime) gets no deadlock panic, only a hang. Read only on the rare path where every
/// M is idle and the main G is parked.
fn foreign_threads(s: &Sched) -> bool {
    let ours = s.mcount.load(SeqCst) + 2;
    match process_threads() {
        Some(n) => n > ours,
        None => true,
    }
}

/// The number of threads in this process (`/proc/self/stat`, field 20).
fn process_threads() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(17)?.parse().ok()
}

/// Leaves the scheduling loop for good: back to `m_main` on the thread's own stack.
pub(super) fn mexit(m: &mut M) -> ! {
    let s = m.sched();
    if !m.p.is_null() {
        let p = handoff::releasep(m);
        let mut l = s.lock();
        s.pidleput(&mut l, p);
    }
    if m.spinning {
        m.spinning = false;
        s.nmspinning.fetch_sub(1, SeqCst);
    }
    // SAFETY: `exit_buf` was saved by `mstart` on this thread and is resumed once.
    unsafe { arch::gogo(&m.exit_buf) }
}

// ---- G allocation ----------------------------------------------------------------------

/// Takes a free G with a stack of `size` bytes, or carves a new one.
pub(crate) fn gfget(s: &Sched, p: Option<&P>, size: usize) -> io::Result<*mut G> {
    if size == s.default_pool.size {
        if let Some(p) = p {
            let cache = p.gfree();
            if cache.is_empty() {
                s.default_pool.take_free(cache, GFREE_MAX / 2);
            }
            if let Some(g) = cache.pop() {
                return Ok(g);
            }
        } else if let Some(g) = s.default_pool.take_one() {
            return Ok(g);
        }
        return carve_gs(&s.default_pool, p);
    }
    let pool: *const StackPool = {
        let mut pools = s.pools.lock().unwrap_or_else(|e| e.into_inner());
        match pools.iter().find(|q| q.size == size) {
            Some(q) => &**q,
            None => {
                pools.push(Box::new(StackPool::new(size)));
                &**pools.last().unwrap()
            }
        }
    };
    // SAFETY: pools are boxed and live as long as the runtime.
    let pool = unsafe { &*pool };
    if let Some(g) = pool.take_one() {
        return Ok(g);
    }
    carve_gs(pool, None)
}

/// New Gs carved per batch when the free lists are empty: a burst of spawns then pays
/// two `process_madvise` calls per 32 goroutines instead of a syscall and a page fault
/// for each (spawn+join on one P, 1,000,000 goroutines alive at once: 6.5 µs each
/// before).
const CARVE_BATCH: usize = 32;

/// Carves a batch of stacks with fresh G headers; returns one, caches the rest on `p`
/// (or in the pool's shared list).
fn carve_gs(pool: &StackPool, p: Option<&P>) -> io::Result<*mut G> {
    let mut stacks = pool.carve_batch(CARVE_BATCH)?;
    let first = stacks
        .pop()
        .expect("carve_batch returns at least one stack");
    for st in stacks {
        let g = G::init_at(st, pool);
        match p {
            Some(p) => p.gfree().push(g),
            None => pool.put_one(g),
        }
    }
    Ok(G::init_at(first, pool))
}

/// Returns a dead G to a free list, trimming its stack.
fn gfput(s: &Sched, p: &P, g: *mut G) {
    // SAFETY: `g` has exited; this M owns it until it is on a free list.
    unsafe {
        let gr = &mut *g;
        gr.status.store(G_DEAD, Relaxed);
        gr.name = None;
        gr.stack.trim(gr.min_sp.min(gr.sched.sp));
        gr.min_sp = gr.stack.hi;
        if ptr::eq(gr.pool, &s.default_pool) {
            let cache = p.gfree();
            cache.push(g);
            if cache.len() > GFREE_MAX {
                s.default_pool.put_free(cache, GFREE_MAX / 2);
            }
        } else {
            (*gr.pool).put_one(g);
        }
    }
}

/// A fresh goroutine id, from the P's batch when there is one.
pub(crate) fn next_goid(s: &Sched, p: Option<&P>) -> u64 {
    const BATCH: u64 = 16;
    match p {
        Some(p) => {
            if p.goid_next.get() == p.goid_end.get() {
                // Relaxed: only uniqueness matters.
                let start = s.next_goid.fetch_add(BATCH, Relaxed);
                p.goid_next.set(start);
                p.goid_end.set(start + BATCH);
            }
            let id = p.goid_next.get();
            p.goid_next.set(id + 1);
            id
        }
        None => s.next_goid.fetch_add(1, Relaxed),
    }
}
