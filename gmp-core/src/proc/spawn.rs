//! Spawning goroutines and joining them: `gmp::spawn`, `gmp::Builder`, `JoinHandle`,
//! what a fresh goroutine runs first, and the join protocol.
//!
//! A G's start closure is written under its header, at the top of its own stack
//! (`g.rs` shows the layout), unless it is large; the trampoline enters [`g_entry`],
//! which runs it under `catch_unwind` (ARCHITECTURE.md, invariant 3: no panic unwinds past a G's entry)
//! and exits the G.
//!
//! A G's result travels through a join packet (`packet.rs`) shared by the
//! [`JoinHandle`] and the G header. Its state word is `RUNNING`, `DONE`, `CANCELLED`,
//! or the address of a [`Waiter`] parked on the joiner's stack: the finishing G
//! publishes its result, then swaps the state to `DONE` and wakes the waiter it
//! replaced; the joiner publishes its waiter with a CAS from `RUNNING` inside its park
//! commit, so exactly one of the two sees the other. The header's reference to the
//! packet lets the shutdown sweep cancel the join of a G that never finished.

use super::g::{self, G, G_RUNNABLE};
use super::m;
use super::p::{GRef, P};
use super::packet::PacketRef;
use super::park;
use super::sched::{self, Sched};
use super::stack;
use super::traceback::{self, WaitReason};
use crate::arch;
use std::any::Any;
use std::fmt;
use std::io;
use std::mem::{align_of, size_of};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{Ordering, Ordering::Relaxed};
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
#[track_caller]
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
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let h = gmp::Builder::new()
///         .name("worker")
///         .stack_size(64 << 10)
///         .spawn(|| 6 * 7)
///         .expect("a 64 KiB stack");
///     assert_eq!(h.join().unwrap(), 42);
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// No name, the runtime's default stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The goroutine's name, for stack overflow reports and traces.
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
    #[track_caller]
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
        // SAFETY: `m` is this thread's M, running this G.
        let s: &Sched = unsafe { (*m).sched() };
        // SAFETY: as above; `curg` is this goroutine (null on g0, which never spawns).
        let parent = unsafe { (*m).curg.as_ref().map_or(0, |g| g.id) };
        let site = Site {
            parent,
            at: std::panic::Location::caller(),
            by: std::any::type_name::<F>(),
        };
        // The P's caches and goroutine ids, if this goroutine still holds its P (nothing
        // below switches, so the section keeps it).
        let section = enter_for_spawn(m);
        // SAFETY: inside the section the M holds its P.
        let p: Option<&P> = section.map(|m| unsafe { &*(*m).p });
        let r = spawn_on(s, p, self, site, f);
        if let Some(m) = section {
            super::handoff::p_exit(m);
        }
        let (h, wake) = r?;
        if wake {
            super::schedule::wakep(s);
        }
        Ok(h)
    }
}

/// Enters a P section for a spawn. If sysmon took this goroutine's P just now (it spent
/// 10 ms away from the scheduler, as a loop that spawns and never parks does), takes a P
/// back first, as the next park would: an idle one, else this goroutine queues on the
/// global queue and resumes on whichever M runs it. Go preempts such a goroutine at its
/// next call, `newproc` included, so its spawns go on from a P.
///
/// Without this the goroutine went on spawning without a P for as long as it never
/// parked: every spawn took the slow path (the shared free list under its lock, the
/// global queue, a fence and `wakep`), and its thread ran goroutine code beside the Ms
/// of all the Ps, one thread more than `procs` allows (`tests/spawn_takes_its_p_back.rs`
/// saw spawned goroutines run beside the loop in 8,064 of 21,569 windows with one P).
///
/// A goroutine whose M was already without a P (inside `gmp::blocking`'s closure, which
/// gave it up on purpose) spawns without one, onto the global queue.
fn enter_for_spawn(m: *mut m::M) -> Option<*mut m::M> {
    // SAFETY: `m` is this thread's live M; only this thread writes `p` and `curg`.
    let had_p = unsafe { !(*m).p.is_null() && !(*m).curg.is_null() };
    if let Some(m) = super::handoff::p_try_enter_on(m) {
        return Some(m);
    }
    if !had_p {
        return None;
    }
    // SAFETY: this thread's M, running a goroutine, outside any section (the failed
    // `p_try_enter_on` left it) and without a P (it cleared `M::p`).
    unsafe { super::handoff::reacquire(&mut *m) };
    // Possibly on another M now; it holds a P unless sysmon took that one too.
    super::handoff::p_try_enter()
}

/// Makes and readies the G. With `p` (held in the caller's section) the G goes into its
/// `runnext`, and the caller calls `wakep` after leaving the section if the second value
/// says so; without, it goes to the global queue through `ready`.
fn spawn_on<F, T>(
    s: &Sched,
    p: Option<&P>,
    b: Builder,
    site: Site,
    f: F,
) -> io::Result<(JoinHandle<T>, bool)>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let size = match b.stack_size {
        Some(n) => stack::round_size(n)?,
        None => s.stack_size,
    };
    let g = g::gfget(s, p, size)?;
    let (packet, theirs) = PacketRef::new(s.id);
    let id = g::next_goid(s, p);
    let name = b.name.map(Arc::from);
    // SAFETY: `g` is a free G we own.
    unsafe { prepare(g, id, s, name, Some(site), f, theirs) };
    tracing::trace!(goid = id, "spawn");
    let wake = match p {
        Some(p) => {
            P::bump(&p.spawned);
            // SAFETY: `g` is the G prepared above, owned here; the caller holds `p` in a
            // section of `s`, `g`'s runtime.
            unsafe { park::ready_local(p, g, true) }
        }
        None => {
            // Relaxed: a statistic.
            s.spawned_unowned.fetch_add(1, Relaxed);
            park::ready(g, true);
            false
        }
    };
    Ok((JoinHandle { packet, id }, wake))
}

/// Makes the main goroutine of runtime `s`, which is not running yet: `f` goes on the
/// global queue, for the first M to find.
pub(crate) fn spawn_main(
    s: &Sched,
    f: Box<dyn FnOnce() + Send + 'static>,
) -> io::Result<JoinHandle<()>> {
    let g = g::gfget(s, None, s.stack_size)?;
    let (packet, theirs) = PacketRef::new(s.id);
    let id = g::next_goid(s, None);
    // SAFETY: `g` is a fresh idle G owned here.
    unsafe { prepare(g, id, s, Some(Arc::from("main")), None, f, theirs) };
    s.main_g.store(g, Ordering::SeqCst);
    // SAFETY: `g` is the G prepared above, owned here until it is queued.
    // Relaxed: see `G::status`.
    unsafe { (*g).status.store(G_RUNNABLE, Relaxed) };
    // No `ready`: no M runs yet, and `run` starts the first one, which finds it here.
    s.injector
        .push(GRef(NonNull::new(g).expect("G is not null")));
    Ok(JoinHandle { packet, id })
}

/// An owned permission to wait for a goroutine and take its result.
///
/// Dropping the handle detaches the goroutine.
///
/// ```
/// # use gmp_core as gmp;
/// gmp::run(|| {
///     let ok = gmp::spawn(|| "done");
///     let bad = gmp::spawn(|| -> u32 { panic!("oops") });
///     assert_eq!(ok.join().unwrap(), "done");
///     assert!(bad.join().is_err()); // the panic's payload
/// });
/// ```
pub struct JoinHandle<T> {
    packet: PacketRef<T>,
    id: u64,
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine to finish: parks the calling goroutine, or blocks the
    /// calling thread outside a runtime (and, for a goroutine of another runtime, blocks
    /// its thread too). `Err` carries the goroutine's panic payload, or a message if the
    /// runtime shut down before the goroutine finished.
    pub fn join(self) -> thread::Result<T> {
        if sched::current().is_some_and(|s| s.id == self.packet.rt) {
            self.packet.join.wait_g(WaitReason::Join);
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

// ---- a goroutine's start --------------------------------------------------------------

/// Start closures larger than this are boxed rather than placed on the stack top, so
/// the first page is left for frames.
const INLINE_START_MAX: usize = 1024;

/// Makes an idle G ready to run `f`, writing the closure under the header.
///
/// # Safety
/// `g` must be an idle G owned by the caller.
pub(super) unsafe fn prepare<F, T>(
    g: *mut G,
    id: u64,
    rt: *const Sched,
    name: Option<Arc<str>>,
    site: Option<Site>,
    f: F,
    packet: PacketRef<T>,
) where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: the caller owns `g`; every write stays between the stack's initial SP
    // and its top.
    unsafe {
        // The header is rewritten for a new goroutine: a dump reading it concurrently
        // throws its read away (`traceback.rs`, the switch sequence).
        traceback::resumed(g);
        let gr = &mut *g;
        gr.trace.parent = site.map_or(0, |s| s.parent);
        gr.trace.created_at = site.map(|s| s.at);
        gr.trace.created_by = site.map_or("", |s| s.by);
        let start = Start { f };
        let top = g as usize;
        let sp = if inline_start::<F>() {
            let at = (top - size_of::<Start<F>>()) & !(align_of::<Start<F>>() - 1);
            (at as *mut Start<F>).write(start);
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
        gr.packet = Some(packet.into_erased());
        // Relaxed: the queue push that makes the G runnable publishes it.
        gr.deadlocked.store(false, Ordering::Relaxed);
        gr.ready_at = 0;
        arch::prepare_fresh(&mut gr.sched, sp, g_entry, g as usize);
        traceback::saved(g);
    }
}

/// Where a goroutine was spawned, for dumps: by whom, at which call, and the type name
/// of its closure (which names the function the closure was written in).
#[derive(Clone, Copy)]
pub(super) struct Site {
    parent: u64,
    at: &'static std::panic::Location<'static>,
    by: &'static str,
}

fn inline_start<F>() -> bool {
    size_of::<Start<F>>() <= INLINE_START_MAX && align_of::<Start<F>>() <= 64
}

struct Start<F> {
    f: F,
}

/// Runs or drops the start closure of `g` (see `G::start`).
///
/// # Safety
/// `g` was made ready by `prepare::<F, T>`, and this is the one call for it: the caller
/// took `G::start` first (the G's entry to run it, the shutdown sweep to drop it).
unsafe fn run_start<F, T>(g: *mut G, run: bool)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: `start_data` was written by `prepare` with a `Start<F>` and is consumed
    // exactly once, here (`G::start` is taken before this is called).
    let Start { f } = unsafe {
        let data = (*g).start_data as *mut Start<F>;
        if inline_start::<F>() {
            data.read()
        } else {
            *Box::from_raw(data)
        }
    };
    if !run {
        return;
    }
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    // SAFETY: `prepare::<F, T>` gave the header this packet reference, taken only here
    // or by the shutdown sweep (which never sees a G that ran); only this G writes the
    // result, before publishing DONE, and the reference keeps the packet alive until
    // it drops after `finish`.
    unsafe {
        let packet = (*g).packet.take().expect("a running G has its packet");
        let packet = PacketRef::<T>::from_erased(packet);
        *packet.result.get() = Some(result);
        packet.join.finish(DONE);
    }
}

/// Entered through the trampoline on a fresh G's stack (see `arch::prepare_fresh`).
/// Runs the G's closure (panics are caught inside `run_start`, so nothing unwinds past
/// this frame) and exits the G.
///
/// # Safety
/// Called only by the trampoline, with `g` the G whose fresh context `prepare` made
/// and which this M now runs.
unsafe extern "C" fn g_entry(g: usize) -> ! {
    let g = g as *mut G;
    // SAFETY: per the contract, `g` is running on this M and its start closure is set.
    unsafe {
        super::latency::resumed(g);
        let start = (*g).start.take().expect("a fresh G has a start closure");
        start(g, true);
    }
    park::goexit()
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
    // SAFETY: `m` is this thread's live M. `s` is used before we park and by the thread,
    // which the runtime outlives (see `Sched::external`).
    let s: &'static Sched = unsafe { (*m).sched() };
    let (packet, theirs) = PacketRef::new(s.id);
    s.external.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let spawned = thread::Builder::new()
        .name("gmp-offp".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            // SAFETY: only this thread writes the result, before publishing DONE.
            unsafe { *theirs.result.get() = Some(r) };
            theirs.join.finish(DONE);
            s.external.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        s.external.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        return Err(e);
    }
    packet.join.wait_g(WaitReason::OffP);
    match packet.take() {
        Ok(v) => Ok(v),
        Err(p) => std::panic::resume_unwind(p),
    }
}

// ---- join -------------------------------------------------------------------------

use crate::words::join::{JoinWord, DONE};

/// Who waits in a join. Lives on the joiner's stack while the join word points to it.
pub(super) enum Waiter {
    G(*mut G),
    Thread(thread::Thread),
}

/// The handshake between a finishing G and its joiner: the word protocol is
/// `words/join.rs`'s (model-checked there); this adds who is woken and how.
pub(super) struct JoinState {
    word: JoinWord,
}

impl JoinState {
    pub(super) fn new() -> JoinState {
        JoinState {
            word: JoinWord::new(),
        }
    }

    /// Publishes the final state and wakes the waiter, if one is parked.
    pub(super) fn finish(&self, final_state: usize) {
        // SAFETY: `finish` reads the waiter while the word still points at it, which
        // keeps its frame alive (its owner leaves only after seeing a final state).
        let wake = self
            .word
            .finish(final_state, |w| match unsafe { &*(w as *const Waiter) } {
                Waiter::G(g) => Waiter::G(*g),
                Waiter::Thread(t) => Waiter::Thread(t.clone()),
            });
        match wake {
            Some(Waiter::G(g)) => super::park::ready(g, true),
            Some(Waiter::Thread(t)) => t.unpark(),
            None => {}
        }
    }

    pub(super) fn is_final(&self) -> bool {
        self.word.is_final()
    }

    /// Parks the current G until the state is final.
    pub(super) fn wait_g(&self, why: WaitReason) {
        /// If `park` panics (the runtime found every G asleep), take the waiter back out
        /// of the word before this frame, which holds it, unwinds away.
        struct Retract<'a>(&'a JoinWord, usize);
        impl Drop for Retract<'_> {
            fn drop(&mut self) {
                self.0.retract(self.1);
            }
        }
        while !self.is_final() {
            let mut waiter = Waiter::G(ptr::null_mut());
            let wp = &mut waiter as *mut Waiter;
            let _retract = Retract(&self.word, wp as usize);
            super::park::park(why, |g| {
                // SAFETY: runs on g0 while this G is saved; `wp` points into its frame.
                unsafe { *wp = Waiter::G(g) };
                self.word.publish(wp as usize)
            });
        }
    }

    /// Blocks the current (non-runtime) thread until the state is final.
    pub(super) fn wait_thread(&self) {
        let waiter = Waiter::Thread(thread::current());
        let wp = &waiter as *const Waiter as usize;
        if !self.word.publish(wp) {
            return;
        }
        while !self.is_final() {
            thread::park();
        }
    }
}

impl<T> PacketRef<T> {
    /// Takes the result once the state is final.
    pub(super) fn take(&self) -> thread::Result<T> {
        debug_assert!(self.join.is_final());
        // SAFETY: the state is final (observed with Acquire), so the writer is done, and
        // the JoinHandle is the only reader.
        match unsafe { (*self.result.get()).take() } {
            Some(r) => r,
            None => Err(Box::new(CANCELLED_MSG) as Box<dyn Any + Send>),
        }
    }
}

const CANCELLED_MSG: &str = "goroutine was dropped before it finished: its runtime shut down";
