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

use super::sched::Sched;
use super::stack::{Stack, StackPool};
use crate::arch::Gobuf;
use std::mem::size_of;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64};
use std::sync::Arc;

/// G status values (`G::status`).
pub(crate) const G_IDLE: u32 = 0; // on a free list
pub(crate) const G_RUNNABLE: u32 = 1;
pub(crate) const G_RUNNING: u32 = 2;
pub(crate) const G_WAITING: u32 = 3;
pub(crate) const G_DEAD: u32 = 4;

#[repr(C, align(64))]
pub(crate) struct G {
    pub sched: Gobuf,
    /// `G_*`. Written with Relaxed everywhere: it orders nothing by itself. Who may run
    /// or wake a G is decided by the queues, the park/ready words and the scheduler lock,
    /// which carry the happens-before; `checkdead` and the shutdown sweep read it only
    /// when those have already quiesced every M.
    pub status: AtomicU32,
    /// Next to `status`, which every switch touches. While this G is parked mid-unwind: the M it must resume on (see
    /// `sched::park`), else null. Set by the G's own M before the G can be woken and
    /// cleared by that M when it resumes the G; Relaxed, because the G reaches another
    /// M only through a wake-up and a run queue, which carry the happens-before.
    pub locked_m: AtomicPtr<super::m::M>,
    /// Set before readying the main G when every G is asleep; `park` then panics.
    /// Relaxed: the ready that follows (queue push, note wake-up) publishes it.
    pub deadlocked: AtomicBool,
    pub id: u64,
    pub stack: Stack,
    /// Runs (`true`) or drops (`false`) the start closure; taken when used.
    pub start: Option<unsafe fn(*mut G, bool)>,
    pub start_data: *mut u8,
    /// The join packet, type-erased; taken when the G finishes or is cancelled.
    pub packet: Option<Arc<dyn Joinable>>,
    pub name: Option<Arc<str>>,
    pub rt: *const Sched,
    /// The pool this G's stack came from (the default pool is cached per P).
    pub pool: *const StackPool,
    /// Lowest SP this G was saved at, for trimming its stack when it exits.
    pub min_sp: usize,
    /// The claim word of this G's current wait on a channel or sync primitive
    /// (generation and state bits, see `wait.rs`). Never reset: generations keep counting
    /// across reuse, so a stale timer or waker can never match a later wait.
    pub wait: AtomicU64,
    /// While parked in such a wait: takes this G's entries out of the wait queues. The
    /// shutdown sweep calls it before the G's stack (which holds the entries) goes away.
    pub wait_cleanup: Option<super::wait::Cleanup>,
}

/// Bytes reserved at the top of a stack for the header.
pub(crate) const HEADER: usize = size_of::<G>().next_multiple_of(64);

impl G {
    /// Lays out a fresh G header at the top of `stack`.
    pub(crate) fn init_at(stack: Stack, pool: *const StackPool) -> *mut G {
        let g = (stack.hi - HEADER) as *mut G;
        // SAFETY: the top HEADER bytes of a fresh stack are ours and suitably aligned
        // (stack tops are page-aligned, HEADER a multiple of 64).
        unsafe {
            g.write(G {
                sched: Gobuf::default(),
                status: AtomicU32::new(G_IDLE),
                locked_m: AtomicPtr::new(ptr::null_mut()),
                deadlocked: AtomicBool::new(false),
                id: 0,
                stack,
                start: None,
                start_data: ptr::null_mut(),
                packet: None,
                name: None,
                rt: ptr::null(),
                pool,
                min_sp: stack.hi,
                wait: AtomicU64::new(0),
                wait_cleanup: None,
            });
        }
        g
    }
}

/// What a G header needs of its join packet without knowing the result type (the
/// protocol is `spawn.rs`'s).
pub(crate) trait Joinable: Send + Sync {
    /// The G will never finish (its runtime shut down): the joiner gets an error.
    fn cancel(&self);
}
