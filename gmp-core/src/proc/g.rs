//! `struct G`: a goroutine, living in the top bytes of its own stack.
//!
//! A parked G costs at least the one stack page it touched. Putting the G header and its
//! start closure in that same page, instead of in a heap allocation elsewhere, is what
//! keeps a parked G near 4 KiB: header, closure and the few frames down to the `mcall`
//! that parked it all share one page. G and stack are therefore allocated, recycled and
//! freed together.
//!
//! ```text
//!   hi  +----------------------------+
//!       | G header (this struct)     |  HEADER bytes
//!       +----------------------------+
//!       | Start<F, T> (closure + ptr)|  unless it is large: then it is boxed
//!       +----------------------------+ <- initial SP
//!       | frames ...                 |
//!   lo  +----------------------------+
//!       | guard page                 |
//! ```
//!
//! What a G runs and how its result reaches its joiner are `spawn.rs`'s: the header only
//! holds the start closure (type-erased) and a reference to the join packet, through
//! which the shutdown sweep cancels the join of a G that never finished.

use super::p::{GFREE_MAX, P};
use super::sched::Sched;
use super::stack::{Stack, StackPool};
use super::traceback::GTrace;
use crate::arch::Gobuf;
use std::io;
use std::mem::size_of;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

/// G status values (`G::status`).
pub(super) const G_IDLE: u32 = 0; // on a free list
pub(super) const G_RUNNABLE: u32 = 1;
pub(super) const G_RUNNING: u32 = 2;
pub(super) const G_WAITING: u32 = 3;
pub(super) const G_DEAD: u32 = 4;

/// The header's fields are grouped by cache line (64 bytes; asserted below) for a
/// spawn+join across two CPUs: the spawner writes lines 0 and 1 and the thread that
/// runs the G reads them, and a short G's run and exit (`execute`, `g_entry`,
/// `run_start`, `goexit0`, `gfput`) touch nothing else of the header, so each line the
/// spawner wrote crosses CPUs once. Line 3 holds what a spawn writes for dumps and
/// traces (and the wait reason a G writes when it parks).
#[repr(C, align(64))]
pub(crate) struct G {
    pub(super) sched: Gobuf,
    /// `G_*`. Written with Relaxed everywhere: it orders nothing by itself. Who may run
    /// or wake a G is decided by the queues, the park/ready words and the scheduler lock,
    /// which carry the happens-before; `checkdead` and the shutdown sweep read it only
    /// when those have already quiesced every M.
    pub(super) status: AtomicU32,
    /// Odd while an M runs this G or rewrites its header, even while it is saved: the
    /// seqlock word a goroutine dump validates its reads with (`traceback.rs`). In the
    /// padding after `status`, on the line every switch touches anyway.
    pub(super) seq: AtomicU32,
    /// While this G is parked mid-unwind: the M it must resume on (`lockedm.rs`), else
    /// null. Next to `status`, on the line every switch touches, because `schedule`
    /// reads it for every G it dequeues. Set by the G's own M before the G can be woken
    /// and cleared by that M when it resumes the G; Relaxed, because the G reaches
    /// another M only through a wake-up and a run queue, which carry the happens-before.
    pub(super) locked_m: AtomicPtr<super::m::M>,
    /// Set before readying the main G when every G is asleep; `park` then panics.
    /// Relaxed: the ready that follows (queue push, note wake-up) publishes it.
    pub(super) deadlocked: AtomicBool,
    /// When this G was made runnable, if that run is sampled for the scheduling-latency
    /// histogram (`latency.rs`), else 0. In the padding after `deadlocked`, on the line
    /// `ready` and a switch touch anyway. Written by the waker before the queue push,
    /// read and cleared by the G itself when it runs again (the queue carries the
    /// happens-before).
    pub(super) ready_at: u32,
    /// Runs (`true`) or drops (`false`) the start closure; taken when used, so it is
    /// called once (`spawn::run_start`, whose contract that is).
    pub(super) start: Option<unsafe fn(*mut G, bool)>,
    // ---- 64: the rest of what a spawn writes and the G's first run and exit read ----
    pub(super) start_data: *mut u8,
    /// The join packet, type-erased; taken when the G finishes or is cancelled.
    pub(super) packet: Option<super::packet::Erased>,
    pub(super) name: Option<Arc<str>>,
    pub(super) stack: Stack,
    /// Lowest SP this G was saved at, for trimming its stack when it exits.
    pub(super) min_sp: usize,
    // ---- 128: what neither a spawn nor a short G's run touches ----
    /// The pool this G's stack came from (the default pool is cached per P; `gfput`
    /// tells it by the stack's size without reading this).
    pub(super) pool: *const StackPool,
    /// The claim word of this G's current wait on a channel or sync primitive
    /// (generation and state bits, see `wait.rs`). Never reset: generations keep counting
    /// across reuse, so a stale timer or waker can never match a later wait.
    pub(super) wait: crate::words::claim::ClaimWord,
    /// While parked in such a wait: takes this G's entries out of the wait queues. The
    /// shutdown sweep calls it before the G's stack (which holds the entries) goes away.
    pub(super) wait_cleanup: Option<super::wait::Cleanup>,
    /// Keeps what a spawn alone writes off the line the G's run reads.
    _pad: [u64; 4],
    // ---- 192: written by a spawn (and by a G that parks), read by dumps and traces ----
    pub(super) id: u64,
    pub(super) rt: *const Sched,
    /// Why it waits, since when, and who spawned it where (`traceback.rs`).
    pub(super) trace: GTrace,
}

// The line grouping the comment on `G` describes.
const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(G, start) + 8 == 64);
    assert!(offset_of!(G, start_data) == 64);
    assert!(offset_of!(G, min_sp) + 8 == 128);
    assert!(offset_of!(G, pool) == 128);
    assert!(offset_of!(G, id) == 192);
    assert!(size_of::<G>() == 256);
};

/// Bytes reserved at the top of a stack for the header.
pub(super) const HEADER: usize = size_of::<G>().next_multiple_of(64);

impl G {
    /// Lays out a fresh G header at the top of `stack`.
    pub(super) fn init_at(stack: Stack, pool: *const StackPool) -> *mut G {
        let g = (stack.hi - HEADER) as *mut G;
        // SAFETY: the top HEADER bytes of a fresh stack are ours and suitably aligned
        // (stack tops are page-aligned, HEADER a multiple of 64).
        unsafe {
            g.write(G {
                sched: Gobuf::default(),
                status: AtomicU32::new(G_IDLE),
                seq: AtomicU32::new(0),
                locked_m: AtomicPtr::new(ptr::null_mut()),
                deadlocked: AtomicBool::new(false),
                ready_at: 0,
                id: 0,
                _pad: [0; 4],
                stack,
                start: None,
                start_data: ptr::null_mut(),
                packet: None,
                name: None,
                rt: ptr::null(),
                pool,
                min_sp: stack.hi,
                wait: crate::words::claim::ClaimWord::new(),
                wait_cleanup: None,
                trace: GTrace::new(),
            });
        }
        g
    }
}

// ---- G allocation ----------------------------------------------------------------------

/// Takes a free G with a stack of `size` bytes, or carves a new one.
pub(super) fn gfget(s: &Sched, p: Option<&P>, size: usize) -> io::Result<*mut G> {
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
#[inline]
pub(super) fn gfput(s: &Sched, p: &P, g: *mut G) {
    // SAFETY: `g` has exited; this M owns it until it is on a free list.
    unsafe {
        super::traceback::saved(g);
        let gr = &mut *g;
        // Relaxed: see `G::status`.
        gr.status.store(G_DEAD, Relaxed);
        gr.name = None;
        gr.stack.trim(gr.min_sp.min(gr.sched.sp));
        gr.min_sp = gr.stack.hi;
        // The default pool is the only one of its size; telling it by the size keeps
        // `pool`'s line untouched (see `G`).
        if gr.stack.hi - gr.stack.lo == s.default_pool.size {
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
pub(super) fn next_goid(s: &Sched, p: Option<&P>) -> u64 {
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
        // Relaxed: only uniqueness matters.
        None => s.next_goid.fetch_add(1, Relaxed),
    }
}
