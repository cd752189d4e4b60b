//! Who holds a P, and giving it up: P sections, `acquirep`/`releasep`, a goroutine that
//! lost its P taking one back, `handoffp`, and sysmon's retake. `gmp::blocking`, which
//! gives its P up for a call, is `blocking.rs`'s.
//!
//! # Why a P can be taken from a running M
//! A goroutine that blocks its thread without telling the runtime (`std::thread::sleep`,
//! `std::fs::read`, a lock of another library) or computes for a long time never comes
//! back to the scheduler, so the other goroutines queued on its P would wait with it.
//! Go preempts such a goroutine; gmp cannot interrupt a thread in a syscall, so sysmon
//! takes the *P* away from the M instead and hands it to another M (Go's `retake` and
//! `handoffp`). The stuck goroutine keeps its thread and finds out when it next needs
//! the P.
//!
//! # P sections
//! Everything that touches a P's owner-only state from a goroutine's stack (`ready`
//! into the local queue, `spawn`, entering g0 through `mcall`) runs inside a *P
//! section*: `M::locks` goes up, then the goroutine checks that `P::owner` is still its
//! M. While on g0 an M is always inside a section. sysmon takes a P only from an M that
//! is outside any section:
//!
//! ```text
//!   goroutine (its M)                      sysmon
//!   locks = 1          (plain store)       CAS owner: M → M|RETAKING
//!   compiler fence                         membarrier()  ← a full fence on every CPU
//!   owner == M ?       (plain load)        locks == 0 ?  → owner = 0, hand the P off
//!                                                    else → owner = M (give it back)
//! ```
//!
//! This is Dekker's handshake with the goroutine's fence moved into sysmon's
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: either sysmon sees the section, or
//! the goroutine sees the retake. The goroutine side thus costs a plain store and load
//! instead of a locked instruction on every switch; the rare retake pays for an IPI. If
//! the kernel refuses `membarrier`, both sides use a real fence instead.
//! An M that sees `RETAKING` waits for sysmon to decide (microseconds).
//!
//! The two words and both halves of the handshake are `words/section.rs`'s, which
//! `scripts/loom.sh section` model-checks (its module doc says what that proves and
//! what it assumes of `membarrier`).

use super::blocking;
use super::lockedm;
use super::m::{self, M};
use super::p::P;
use super::sched::{self, Sched};
use super::schedule;
use super::timer;
use crate::clock::NEVER;
use crate::words::section::{Barrier, Held, RETAKING};
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering::*};
use std::sync::Once;

/// How long a P's goroutine may stay away from the scheduler before sysmon hands the P
/// to another M (Go's `forcePreemptNS`).
pub(super) const RETAKE_NS: u64 = 10_000_000;

const BARRIER_UNKNOWN: u8 = 0;
const BARRIER_MEMBARRIER: u8 = 1;
const BARRIER_FENCE: u8 = 2;
static BARRIER: AtomicU8 = AtomicU8::new(BARRIER_UNKNOWN);
static BARRIER_INIT: Once = Once::new();

const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

/// Registers the process for expedited private `membarrier` (once, before any runtime
/// starts its Ms), or falls back to fences on the goroutine side.
pub(crate) fn init_barrier() {
    BARRIER_INIT.call_once(|| {
        // SAFETY: a plain syscall with integer arguments.
        let r = unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                0,
                0,
            )
        };
        let mode = if r == 0 {
            BARRIER_MEMBARRIER
        } else {
            tracing::debug!(
                "membarrier unavailable ({}): P sections use fences",
                std::io::Error::last_os_error()
            );
            BARRIER_FENCE
        };
        // Relaxed: `Once` publishes it to every thread that starts after this.
        BARRIER.store(mode, Relaxed);
    });
}

/// How this process's P sections fence (see the module doc).
#[inline(always)]
fn barrier() -> Barrier {
    // Relaxed: set once before the first runtime starts (ordered by `Once`).
    if BARRIER.load(Relaxed) == BARRIER_MEMBARRIER {
        Barrier::Membarrier
    } else {
        Barrier::Fence
    }
}

#[inline(always)]
pub(super) fn locks_add(m: &M, d: u32) {
    m.locks.add(d);
}

// ---- owning a P --------------------------------------------------------------------

/// Binds `p` to `m`. Called by `m`'s own thread, holding `p` by the scheduler's rules
/// (taken from the idle list or handed over by `startm`).
pub(super) fn acquirep(m: &mut M, p: *const P) {
    m.p = p;
    // SAFETY: `p` points into the live runtime's `ps`.
    let p = unsafe { &*p };
    // A new tick, so sysmon's "unchanged since" sample restarts with this owner.
    p.tick();
    p.owner.acquire(m as *mut M as usize);
}

/// Unbinds the M's P and returns it. Called on g0 or inside a P section, so a retake in
/// progress is always given back; wait for that.
pub(super) fn releasep(m: &mut M) -> *const P {
    let p = std::mem::replace(&mut m.p, ptr::null());
    let me = m as *mut M as usize;
    // SAFETY: `p` points into the live runtime's `ps`.
    let owner = unsafe { &(*p).owner };
    owner.release(me);
    p
}

/// Enters a P section from a goroutine (or nests one on g0): returns this thread's M if
/// it still holds its P, which then stays its own until `p_exit`. Returns `None` outside
/// a runtime, or if the P was taken (then `M::p` is cleared; see `p_enter_for_mcall`).
#[inline]
pub(super) fn p_try_enter() -> Option<*mut M> {
    p_try_enter_on(m::current())
}

/// [`p_try_enter`] with this thread's M (or null) at hand.
#[inline]
pub(super) fn p_try_enter_on(m: *mut M) -> Option<*mut M> {
    if m.is_null() {
        return None;
    }
    // SAFETY: `m` is this thread's M; only this thread writes its fields.
    let mr = unsafe { &mut *m };
    mr.locks.enter(barrier());
    let p = mr.p;
    if !p.is_null() {
        // SAFETY: `p` points into the live runtime's `ps`.
        let owner = unsafe { &(*p).owner };
        loop {
            match owner.check(m as usize) {
                Held::Mine => return Some(m),
                Held::Retaking => std::hint::spin_loop(),
                Held::Taken => break,
            }
        }
        // sysmon took it while the goroutine ran, and took a permit of `blocking.rs`
        // for this M with it (see `retake`): the M is away from the Ps until it holds a
        // P again or is listed idle, which give the permit back.
        mr.p = ptr::null();
        debug_assert!(!mr.permit);
        mr.permit = true;
    }
    locks_add(mr, u32::MAX);
    None
}

/// Leaves a P section entered by `p_try_enter`.
#[inline]
pub(super) fn p_exit(m: *mut M) {
    // SAFETY: `m` is this thread's M.
    locks_add(unsafe { &*m }, u32::MAX);
}

/// Enters a P section that continues into g0 through `mcall` (which `execute` ends).
/// If the P was taken, gets one first: an idle one, or by queueing this goroutine on the
/// global queue, in which case it resumes on whatever M runs it next. Returns the
/// (possibly new) M. Must be called from a goroutine.
pub(super) fn p_enter_for_mcall() -> *mut M {
    loop {
        if let Some(m) = p_try_enter() {
            return m;
        }
        let m = m::current();
        assert!(!m.is_null(), "gmp: a goroutine operation outside a runtime");
        // SAFETY: this thread's M, running a goroutine that lost its P.
        unsafe { reacquire(&mut *m) };
    }
}

/// A goroutine whose M has no P: takes an idle P, or queues itself on the global queue
/// and lets this M sleep (Go's `exitsyscall` slow path). Either way an M away from the
/// Ps gives its permit back.
///
/// # Safety
/// `m` is this thread's M, running a goroutine, outside any section, without a P.
pub(super) unsafe fn reacquire(m: &mut M) {
    let s = m.sched();
    let mut l = s.lock();
    if let Some(p) = s.pidleget(&mut l) {
        acquirep(m, p);
        let woke = blocking::release_permit(m, &mut l);
        drop(l);
        if woke {
            blocking::readied(s);
        }
        return;
    }
    drop(l);
    // The permit, if any, goes back once the M is listed idle (`stopm_register`) or
    // asleep with its locked G (`requeue_locked_m`).
    tracing::trace!("goroutine lost its P and found no idle one: requeued");
    locks_add(m, 1);
    // SAFETY: this G is running on `m`; `requeue_m` saves it and never returns to this
    // frame directly (the G resumes here when an M runs it again). Mid-unwind it must
    // resume on this M (see `lockedm.rs`), so it is locked to it first.
    unsafe {
        let g = m.curg;
        let requeue = if std::thread::panicking() {
            // Relaxed: see `G::locked_m`.
            (*g).locked_m.store(m, Relaxed);
            lockedm::requeue_locked_m
        } else {
            requeue_m
        };
        crate::arch::mcall(&mut (*g).sched, m.g0_sp, requeue, m as *mut M as usize);
    }
}

/// Gives away the P of `m` (on g0, inside a section), as `blocking` does: to an M if
/// the P has work, else to the idle list. For an M about to sleep with its G.
pub(super) fn handoff_own_p(m: &mut M) {
    let s = m.sched();
    // SAFETY: `m` holds its P.
    let work = needs_m(s, unsafe { &*m.p });
    let p = releasep(m);
    handoffp(s, p, work);
}

/// On g0, for an M without a P: the saved goroutine goes to the global queue, the M
/// sleeps until it is handed a P, then schedules.
///
/// # Safety
/// A g0 entry point: see the contract on `arch::G0Fn` (arch/x86_64.rs).
unsafe extern "C" fn requeue_m(m: usize) -> ! {
    // SAFETY: a `G0Fn` (its contract): `m` is this thread's M, its G saved.
    unsafe {
        let m = &mut *(m as *mut M);
        let g = m.curg;
        m.curg = ptr::null_mut();
        (*g).min_sp = (*g).min_sp.min((*g).sched.sp);
        super::traceback::saved(g);
        schedule::inject(m.sched(), &[g]);
        schedule::stopm(m);
        schedule::schedule_m(m)
    }
}

/// Whether a P given up by its M has anything that needs an M: queued Gs, global work,
/// timers (someone must run them), or sockets to poll or timers on any P with nobody
/// sleeping in the poller (Go's `handoffp`: "if this is the last running P and nobody
/// is polling network, need to wakeup another M"). The M giving up its P may be the
/// last one awake: the sleeper that woke to run the goroutine now entering `blocking`,
/// with the other Ms stopped. Without the timers of the other Ps here, a timer on an
/// idle P waited for the blocking call to return (`tests/timers_of_idle_ps.rs`: 40 of
/// 40 rounds did; an HTTP server out of descriptors hung with its accept loop's back-off
/// `sleep` never woken).
pub(super) fn needs_m(s: &Sched, p: &P) -> bool {
    p.has_work(&s.stealers[p.id])
        || !s.injector.is_empty()
        || p.timers.first() != NEVER
        || (!s.sleeper.load(SeqCst)
            && (s.netpoll.waiters.load(SeqCst) > 0 || timer::earliest(s) != NEVER))
}

/// A P whose M let go of it: to a new or idle M if it has work, else to the idle list
/// (Go's `handoffp`).
pub(super) fn handoffp(s: &Sched, p: *const P, work: bool) {
    if work {
        schedule::startm(s, Some(p), false);
        return;
    }
    {
        let mut l = s.lock();
        s.pidleput(&mut l, p);
    }
    // Work may have arrived between the check and the P becoming idle: a producer that
    // saw no idle P did not wake anyone. Re-check now that the P is visible as idle.
    // SAFETY: `p` points into the live runtime's `ps`.
    if needs_m(s, unsafe { &*p }) {
        schedule::wakep(s);
    }
}

// ---- sysmon's retake -------------------------------------------------------------------

/// What sysmon last saw of one P.
#[derive(Clone, Copy, Default)]
pub(super) struct Sample {
    owner: usize,
    tick: u32,
    since: u64,
}

/// Hands off every P whose goroutine has not come back to the scheduler for
/// `RETAKE_NS` while other work needs the P. Called by sysmon every tick.
pub(super) fn retake(s: &Sched, samples: &mut [Sample], now: u64) {
    for (i, p) in s.ps.iter().enumerate() {
        let owner = p.owner.load();
        // Relaxed: compared with an earlier snapshot only; a stale value delays a retake
        // by one tick at most.
        let tick = p.schedtick.load(Relaxed);
        let seen = &mut samples[i];
        if owner == 0 || owner & RETAKING != 0 {
            seen.owner = 0;
            continue;
        }
        if seen.owner != owner || seen.tick != tick {
            *seen = Sample {
                owner,
                tick,
                since: now,
            };
            continue;
        }
        if now.saturating_sub(seen.since) < RETAKE_NS || !needs_m(s, p) {
            continue;
        }
        // The stuck M will be away from the Ps as if in a `blocking` call: it needs a
        // permit, or the Ps might find no thread. None free: the P stays with it.
        // The permit is taken before RETAKING is set and given back after it is
        // cleared, so sysmon never waits for the scheduler lock with a retake in
        // progress (`blocking::give_up_p` holds the lock in `releasep`).
        if !blocking::take_permit(s, &mut s.lock()) {
            continue;
        }
        if !p.owner.begin_retake(owner) {
            give_back_permit(s);
            continue;
        }
        let m = owner as *const M;
        // SAFETY: `m` owned the P a moment ago and cannot release it (or exit) while
        // the RETAKING bit is set: `releasep` waits for us.
        if !p.owner.decide(owner, unsafe { &(*m).locks }, barrier()) {
            give_back_permit(s);
            continue;
        }
        // The P is taken (owner 0). The M finds out in `p_try_enter_on`, and holds the
        // permit from then on.
        seen.owner = 0;
        sched::count_retake(s);
        tracing::debug!(
            p = i,
            "sysmon: goroutine away from the scheduler for 10 ms, P handed to another M"
        );
        schedule::startm(s, Some(p), false);
    }
}

/// A permit sysmon took for a retake it did not make.
fn give_back_permit(s: &Sched) {
    let woke = blocking::put_permit(s, &mut s.lock());
    if woke {
        blocking::readied(s);
    }
}
