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
//! A G's result travels through a [`Packet`], shared by the [`JoinHandle`](crate::JoinHandle)
//! and the G header; the header's reference lets the runtime cancel the join of a G that
//! never finishes because the runtime shut down.

use super::sched::Sched;
use super::stack::{Stack, StackPool};
use crate::arch::{self, Gobuf};
use std::any::Any;
use std::cell::UnsafeCell;
use std::mem::{align_of, size_of};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

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
    /// Free-list link.
    pub schedlink: *mut G,
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

/// Start closures larger than this are boxed rather than placed on the stack top, so
/// the first page is left for frames.
const INLINE_START_MAX: usize = 1024;

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
                schedlink: ptr::null_mut(),
                min_sp: stack.hi,
                wait: AtomicU64::new(0),
                wait_cleanup: None,
            });
        }
        g
    }

    /// Makes an idle G ready to run `f`, writing the closure under the header.
    ///
    /// # Safety
    /// `g` must be an idle G owned by the caller.
    pub(crate) unsafe fn prepare<F, T>(
        g: *mut G,
        id: u64,
        rt: *const Sched,
        name: Option<Arc<str>>,
        f: F,
        packet: Arc<Packet<T>>,
    ) where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: the caller owns `g`; every write stays between the stack's initial SP
        // and its top.
        unsafe {
            let gr = &mut *g;
            let start = Start {
                f,
                packet: Arc::as_ptr(&packet),
            };
            let top = g as usize;
            let sp = if inline_start::<F, T>() {
                let at = (top - size_of::<Start<F, T>>()) & !(align_of::<Start<F, T>>() - 1);
                (at as *mut Start<F, T>).write(start);
                gr.start_data = at as *mut u8;
                at
            } else {
                gr.start_data = Box::into_raw(Box::new(start)) as *mut u8;
                top
            };
            gr.start = Some(run_start::<F, T>);
            gr.id = id;
            gr.rt = rt;
            gr.name = name;
            gr.packet = Some(packet);
            gr.deadlocked.store(false, Ordering::Relaxed);
            arch::prepare_fresh(&mut gr.sched, sp, g as usize);
        }
    }
}

fn inline_start<F, T>() -> bool {
    size_of::<Start<F, T>>() <= INLINE_START_MAX && align_of::<Start<F, T>>() <= 64
}

struct Start<F, T> {
    f: F,
    packet: *const Packet<T>,
}

/// Runs or drops the start closure of `g` (see `G::start`).
unsafe fn run_start<F, T>(g: *mut G, run: bool)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: `start_data` was written by `prepare` with a `Start<F, T>` and is consumed
    // exactly once, here (`G::start` is taken before this is called).
    let Start { f, packet } = unsafe {
        let data = (*g).start_data as *mut Start<F, T>;
        if inline_start::<F, T>() {
            data.read()
        } else {
            *Box::from_raw(data)
        }
    };
    if !run {
        return;
    }
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    // SAFETY: the packet is kept alive by the G header's Arc until `finish` below; only
    // this G writes the result, before publishing DONE.
    unsafe {
        *(*packet).result.get() = Some(result);
        if let Some(p) = (*g).packet.take() {
            p.join_state().finish(DONE);
        }
    }
}

/// Entered through the trampoline on a fresh G's stack. Runs the G's closure (panics are
/// caught inside `run_start`, so nothing unwinds past this frame) and exits the G.
pub(crate) unsafe extern "C" fn g_entry(g: *mut G) -> ! {
    // SAFETY: `g` is the G the trampoline was started for; it is running on this M.
    unsafe {
        let start = (*g).start.take().expect("a fresh G has a start closure");
        start(g, true);
        super::sched::goexit()
    }
}

// ---- join -------------------------------------------------------------------------

const RUNNING: usize = 0;
pub(crate) const DONE: usize = 1;
pub(crate) const CANCELLED: usize = 2;

/// Who waits in a join. Lives on the joiner's stack while `JoinState::state` points to it.
pub(crate) enum Waiter {
    G(*mut G),
    Thread(thread::Thread),
}

/// The handshake between a finishing G and its joiner. `state` is `RUNNING`, `DONE`,
/// `CANCELLED`, or the address of a parked [`Waiter`].
pub(crate) struct JoinState {
    state: AtomicUsize,
}

impl JoinState {
    /// Publishes the final state and wakes the waiter, if one is parked.
    pub(crate) fn finish(&self, final_state: usize) {
        // Acquire pairs with the Release CAS in `wait_g`/`wait_thread` that published the
        // waiter, so reading it is safe. The waiter stays valid while the state still
        // points at it (its owner leaves only after seeing a final state), so read it
        // first, then publish with Release (pairs with the joiner's Acquire loads).
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur == DONE || cur == CANCELLED {
                return;
            }
            let wake = if cur == RUNNING {
                None
            } else {
                // SAFETY: see above.
                Some(match unsafe { &*(cur as *const Waiter) } {
                    Waiter::G(g) => Waiter::G(*g),
                    Waiter::Thread(t) => Waiter::Thread(t.clone()),
                })
            };
            match self
                .state
                .compare_exchange(cur, final_state, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    match wake {
                        Some(Waiter::G(g)) => super::sched::ready(g, true),
                        Some(Waiter::Thread(t)) => t.unpark(),
                        None => {}
                    }
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }

    pub(crate) fn is_final(&self) -> bool {
        // Acquire pairs with the Release in `finish`: the result is visible after this.
        let s = self.state.load(Ordering::Acquire);
        s == DONE || s == CANCELLED
    }

    /// Parks the current G until the state is final.
    pub(crate) fn wait_g(&self) {
        /// If `park` panics (the runtime found every G asleep), take the waiter back out
        /// of the state before this frame, which holds it, unwinds away.
        struct Retract<'a>(&'a AtomicUsize, usize);
        impl Drop for Retract<'_> {
            fn drop(&mut self) {
                // Fails harmlessly if `finish` already replaced it.
                let _ =
                    self.0
                        .compare_exchange(self.1, RUNNING, Ordering::AcqRel, Ordering::Acquire);
            }
        }
        while !self.is_final() {
            let mut waiter = Waiter::G(ptr::null_mut());
            let wp = &mut waiter as *mut Waiter;
            let _retract = Retract(&self.state, wp as usize);
            super::sched::park(|g| {
                // SAFETY: runs on g0 while this G is saved; `wp` points into its frame.
                unsafe { *wp = Waiter::G(g) };
                // Release publishes the waiter to `finish`'s Acquire.
                self.state
                    .compare_exchange(RUNNING, wp as usize, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            });
        }
    }

    /// Blocks the current (non-runtime) thread until the state is final.
    pub(crate) fn wait_thread(&self) {
        let waiter = Waiter::Thread(thread::current());
        let wp = &waiter as *const Waiter as usize;
        if self
            .state
            .compare_exchange(RUNNING, wp, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        while !self.is_final() {
            thread::park();
        }
    }
}

/// What the runtime needs of a packet without knowing `T`.
pub(crate) trait Joinable: Send + Sync {
    fn join_state(&self) -> &JoinState;
}

pub(crate) struct Packet<T> {
    pub join: JoinState,
    /// Id of the runtime whose goroutine fills it: only a goroutine of that runtime may
    /// park in `join` (another runtime could end while it waits, leaving its waiter
    /// on an unmapped stack, and could not see the waker when it checks for deadlock).
    pub rt: u64,
    pub result: UnsafeCell<Option<thread::Result<T>>>,
}

// SAFETY: `result` is written once by the finishing G before `DONE` is published
// (Release) and read only by the joiner after observing it (Acquire).
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T: Send> Joinable for Packet<T> {
    fn join_state(&self) -> &JoinState {
        &self.join
    }
}

impl<T> Packet<T> {
    pub(crate) fn new(rt: u64) -> Packet<T> {
        Packet {
            rt,
            join: JoinState {
                state: AtomicUsize::new(RUNNING),
            },
            result: UnsafeCell::new(None),
        }
    }

    /// Takes the result once the state is final.
    pub(crate) fn take(&self) -> thread::Result<T> {
        debug_assert!(self.join.is_final());
        // SAFETY: the state is final (observed with Acquire), so the writer is done, and
        // the JoinHandle is the only reader.
        match unsafe { (*self.result.get()).take() } {
            Some(r) => r,
            None => Err(Box::new(CANCELLED_MSG) as Box<dyn Any + Send>),
        }
    }
}

pub(crate) const CANCELLED_MSG: &str =
    "goroutine was dropped before it finished: its runtime shut down";
