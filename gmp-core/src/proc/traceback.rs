//! What a goroutine dump knows of each goroutine (Go's `traceback.go`): why it waits and
//! since when, who created it and where, and its saved context, read without its
//! cooperation and never from a stack that is being reused.
//!
//! # Bookkeeping
//! Each G header carries a [`GTrace`]: the wait reason and the time the wait began in
//! one word (`park` stores it: one load of a coarse clock that sysmon advances every
//! tick, one store), and the spawn site, the creator's id and the start closure's type
//! name, written once by `spawn`. 40 bytes per goroutine, in the header that already
//! lives in the stack's top page.
//!
//! # Reading a stack that may run again: the switch sequence
//! `G::seq` is odd while the goroutine's registers are live on an M (its stack changing
//! under it) or its header is being rewritten for a new goroutine, and even while it is
//! saved in its `Gobuf`. Only the M that owns the G writes it, with plain stores (no
//! locked instruction): [`resumed`] (odd) where an M switches to the G (`execute`, and
//! `park_m` when the commit found the wake-up done), [`saved`] (even) in every g0
//! function after `mcall` saved the G, and `spawn::prepare` brackets the header's
//! rewrite with both. A reader (`snapshot`) is a seqlock reader: it loads the word
//! (Acquire, pairs with the Release store in [`saved`]), reads the `Gobuf` and walks the
//! stack from the saved SP with volatile loads, then loads the word again after an
//! Acquire fence (pairing with the Release fence in [`resumed`], which orders the odd
//! store before any write the running goroutine makes): if the word did not move and is
//! even, nothing was written meanwhile and the walk is of one consistent stack;
//! otherwise the walk is thrown away and retried. The memory read is always mapped:
//! stacks are carved from chunks that stay mapped until the runtime ends (a recycled
//! stack's trimmed pages read as zeros), and the walk reads only between the saved SP and
//! the G header. A goroutine that runs meanwhile, even one that never yields, costs the
//! reader a retry, never a wait: the dump needs no cooperation and stops no one.
//!
//! # The registry
//! Go keeps `allgs`, every G ever made. gmp's stack pools already are that list: every
//! stack carved holds a G header until the runtime ends (`StackPool::for_each_carved`),
//! so [`for_each_g`] visits every goroutine by walking the pools, and costs spawn nothing.
//! A metrics function counts goroutines by [`GState`] the same way.

use super::g::{G, G_RUNNABLE, G_RUNNING, G_WAITING, HEADER};
use super::m;
use super::sched::Sched;
use crate::clock::nanotime;
use crate::unwind;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};

/// Why a goroutine waits, in Go's words where gmp has the same thing (`waitReason` in
/// Go's runtime2.go). Stored in a byte of [`GTrace`]'s word by `park`, whose every
/// caller names its reason.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum WaitReason {
    /// Not parked since it was spawned (or its reason was never set).
    None = 0,
    ChanReceive,
    ChanSend,
    Select,
    SelectNoCases,
    IoWait,
    Sleep,
    MutexLock,
    RwMutexRLock,
    RwMutexLock,
    CondWait,
    WaitGroupWait,
    Semacquire,
    BarrierWait,
    Join,
    /// In `gmp::blocking`, or waiting for a thread to make such a call.
    Blocking,
    /// Parked for good (`park_forever`).
    Forever,
    /// `yield_now` while unwinding (readied at once).
    Yield,
    /// Waiting for a thread started with `off_p` (name resolution).
    OffP,
}

impl WaitReason {
    const ALL: [WaitReason; 19] = [
        WaitReason::None,
        WaitReason::ChanReceive,
        WaitReason::ChanSend,
        WaitReason::Select,
        WaitReason::SelectNoCases,
        WaitReason::IoWait,
        WaitReason::Sleep,
        WaitReason::MutexLock,
        WaitReason::RwMutexRLock,
        WaitReason::RwMutexLock,
        WaitReason::CondWait,
        WaitReason::WaitGroupWait,
        WaitReason::Semacquire,
        WaitReason::BarrierWait,
        WaitReason::Join,
        WaitReason::Blocking,
        WaitReason::Forever,
        WaitReason::Yield,
        WaitReason::OffP,
    ];

    fn from_u8(b: u8) -> WaitReason {
        Self::ALL
            .get(b as usize)
            .copied()
            .unwrap_or(WaitReason::None)
    }

    /// The words a dump prints.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "waiting",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::IoWait => "IO wait",
            WaitReason::Sleep => "sleep",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwMutexRLock => "sync.RWMutex.RLock",
            WaitReason::RwMutexLock => "sync.RWMutex.Lock",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::Semacquire => "semacquire",
            WaitReason::BarrierWait => "barrier wait",
            WaitReason::Join => "join",
            WaitReason::Blocking => "blocking",
            WaitReason::Forever => "park forever",
            WaitReason::Yield => "yield",
            WaitReason::OffP => "off-P call",
        }
    }
}

/// A goroutine's traceback bookkeeping, in its G header.
pub(super) struct GTrace {
    /// `since & !0xff | reason`: the coarse time (`COARSE_NOW`, ns) the current wait
    /// began and its [`WaitReason`]. Written by the goroutine itself (in `park`, and
    /// around `gmp::blocking`); Relaxed: a reader takes whatever it finds, validated by
    /// `G::seq` where it matters.
    wait: AtomicU64,
    /// The id of the goroutine that spawned this one; 0 for a main goroutine.
    pub(super) parent: u64,
    /// Where `spawn` was called (`#[track_caller]`).
    pub(super) created_at: Option<&'static Location<'static>>,
    /// `type_name` of the start closure: `my_crate::accept_loop::{{closure}}` names the
    /// function that spawned it.
    pub(super) created_by: &'static str,
}

impl GTrace {
    pub(super) const fn new() -> GTrace {
        GTrace {
            wait: AtomicU64::new(0),
            parent: 0,
            created_at: None,
            created_by: "",
        }
    }
}

/// A coarse monotonic clock (`nanotime`), advanced by every runtime's sysmon each tick
/// (10 ms): `park` reads it instead of the clock, because a wait is reported in minutes.
static COARSE_NOW: AtomicU64 = AtomicU64::new(0);

/// sysmon's tick: advances [`COARSE_NOW`].
pub(super) fn tick() {
    // Relaxed: a clock reading; readers take any recent value.
    COARSE_NOW.fetch_max(nanotime(), Relaxed);
}

/// Records why the running goroutine `g` is about to wait (`park`, `blocking`).
#[inline(always)]
pub(super) fn set_wait(g: *mut G, why: WaitReason) {
    // Relaxed: see `GTrace::wait`.
    let since = COARSE_NOW.load(Relaxed) & !0xff;
    // SAFETY: the running goroutine's own header.
    unsafe { (*g).trace.wait.store(since | why as u64, Relaxed) };
}

/// The M is about to run `g`'s code (its `Gobuf` is no longer a true picture of its
/// stack): `G::seq` becomes odd. Called only by the M that owns `g` now.
///
/// # Safety
/// `g` is a G header this M owns (dequeued or just saved by it).
#[inline(always)]
pub(super) unsafe fn resumed(g: *mut G) {
    // SAFETY: per the contract.
    let seq = unsafe { &(*g).seq };
    // Relaxed load: only this M writes the word now. Relaxed store then a Release fence:
    // the fence orders the store before every later write of this goroutine and of
    // this M to the stack (a seqlock writer's opening; pairs with the Acquire fence in
    // `read_g`, which then sees the odd value).
    seq.store(seq.load(Relaxed) | 1, Relaxed);
    fence(Release);
}

/// `g` is saved in its `Gobuf` (or its header fully rewritten): `G::seq` becomes even.
///
/// # Safety
/// As for [`resumed`].
#[inline(always)]
pub(super) unsafe fn saved(g: *mut G) {
    // SAFETY: per the contract.
    let seq = unsafe { &(*g).seq };
    // Release: publishes the saved `Gobuf` and the stack to a reader's Acquire load of
    // the word (`read_g`).
    let s = seq.load(Relaxed);
    seq.store((s | 1).wrapping_add(1), Release);
}

/// What a dump shows a goroutine doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GState {
    /// Running on an M (not the caller's).
    Running,
    /// In `gmp::blocking` on its own thread.
    Blocking,
    /// In a run queue, or not started yet.
    Runnable,
    /// Parked, for this reason.
    Waiting(WaitReason),
}

/// A goroutine as a dump sees it.
#[derive(Clone, Debug)]
pub(crate) struct GView {
    pub(crate) id: u64,
    pub(crate) state: GState,
    /// How long it has waited (or blocked), in ns, when known.
    pub(crate) waited_ns: Option<u64>,
    /// Parked mid-unwind, its M asleep with it (`lockedm.rs`).
    pub(crate) locked: bool,
    /// The calling goroutine itself (its frames are taken by the caller).
    pub(crate) is_self: bool,
    pub(crate) parent: u64,
    pub(crate) created_at: Option<&'static Location<'static>>,
    pub(crate) created_by: &'static str,
    /// Its frames: the saved PC (the resume point inside `mcall`, so like a return
    /// address it is looked up one byte back), then return addresses, outermost last.
    /// Empty when the stack was not read (running elsewhere, not started, or `frames`
    /// was not asked for).
    pub(crate) pcs: Vec<u64>,
    /// The walk gave up: the goroutine kept running while it was read.
    pub(crate) torn: bool,
}

/// Calls `f` with every G header of runtime `s` that holds a goroutine (any status but
/// idle or dead). The headers stay mapped while `s` lives; their contents may change
/// under the caller.
pub(crate) fn for_each_g(s: &Sched, mut f: impl FnMut(*const G)) {
    let mut gs: Vec<usize> = Vec::new();
    {
        let pools = s.pools.lock().unwrap_or_else(|e| e.into_inner());
        for pool in std::iter::once(&s.default_pool).chain(pools.iter().map(|b| &**b)) {
            // Only the addresses under the pools' locks: spawns carve under them.
            pool.for_each_carved(|st| gs.push(st.hi - HEADER));
        }
    }
    for g in gs {
        let g = g as *const G;
        // SAFETY: a carved stack's header stays mapped while the runtime lives. A header
        // being written for the first time (`G::init_at`, just after carving) reads as
        // zeros (fresh mapping) or idle. Relaxed: a hint; `read_g` validates.
        let st = unsafe { (*g).status.load(Relaxed) };
        if matches!(st, G_RUNNABLE | G_RUNNING | G_WAITING) {
            f(g);
        }
    }
}

/// Every goroutine of `s`, with its frames if `frames`.
pub(crate) fn snapshot(s: &Sched, frames: bool) -> Vec<GView> {
    let me = current_g();
    let now = nanotime();
    let mut cache = unwind::Cache::new();
    let mut out = Vec::new();
    for_each_g(s, |g| {
        if let Some(v) = read_g(g, ptr::eq(g, me), frames, now, &mut cache) {
            out.push(v);
        }
    });
    out.sort_by_key(|v| v.id);
    out
}

/// The goroutine running on this thread, or null.
fn current_g() -> *const G {
    let m = m::current();
    if m.is_null() {
        return ptr::null();
    }
    // SAFETY: this thread's live M; only this thread writes `curg`.
    unsafe { (*m).curg }
}

/// Reads one goroutine (see the module doc for why this is safe while it runs).
fn read_g(
    g: *const G,
    is_self: bool,
    frames: bool,
    now: u64,
    cache: &mut unwind::Cache,
) -> Option<GView> {
    const TRIES: usize = 4;
    let mut torn = false;
    for _ in 0..TRIES {
        // SAFETY: the header stays mapped (see `for_each_g`); every field is read as a
        // value and validated by the sequence word before it is used.
        unsafe {
            // Acquire: pairs with the Release store in `saved`.
            let seq1 = (*g).seq.load(Acquire);
            let status = (*g).status.load(Relaxed);
            let wait = (*g).trace.wait.load(Relaxed);
            let why = WaitReason::from_u8(wait as u8);
            let since = wait & !0xff;
            let id = ptr::read_volatile(&(*g).id);
            let parent = ptr::read_volatile(&(*g).trace.parent);
            let created_at = ptr::read_volatile(&(*g).trace.created_at);
            let created_by = ptr::read_volatile(&(*g).trace.created_by);
            let locked = !(*g).locked_m.load(Relaxed).is_null();
            let buf = ptr::read_volatile(&(*g).sched);
            let running = seq1 & 1 == 1;
            let state = if is_self {
                GState::Running
            } else if running {
                if why == WaitReason::Blocking {
                    GState::Blocking
                } else {
                    GState::Running
                }
            } else {
                match status {
                    G_WAITING => GState::Waiting(why),
                    G_RUNNABLE | G_RUNNING => GState::Runnable,
                    _ => return None,
                }
            };
            let mut pcs = Vec::new();
            if frames && !running && !is_self && !crate::arch::is_fresh(&buf) {
                let lo = buf.sp as u64;
                let hi = g as u64;
                unwind::walk(
                    buf.pc as u64,
                    buf.sp as u64,
                    buf.bp as u64,
                    cache,
                    &mut pcs,
                    |a| {
                        if a < lo || a + 8 > hi || a % 8 != 0 {
                            return None;
                        }
                        // SAFETY: [lo, hi) lies in this G's stack, mapped while the
                        // runtime lives; a word read while the G runs is thrown away below.
                        Some(ptr::read_volatile(a as *const u64))
                    },
                );
            }
            // Acquire: pairs with the Release fence in `resumed`: if the goroutine ran
            // during the reads above, this load sees its odd (or a later) value.
            fence(Acquire);
            let seq2 = (*g).seq.load(Relaxed);
            if seq1 != seq2 {
                torn = true;
                continue;
            }
            let waits = matches!(state, GState::Waiting(_) | GState::Blocking);
            let waited_ns = (waits && since != 0).then(|| now.saturating_sub(since));
            return Some(GView {
                id,
                state,
                waited_ns,
                locked,
                is_self,
                parent,
                created_at,
                created_by,
                pcs,
                torn: false,
            });
        }
    }
    // It kept switching while we read: report what is known without a stack.
    // SAFETY: as above.
    let id = unsafe { ptr::read_volatile(&(*g).id) };
    Some(GView {
        id,
        state: GState::Running,
        waited_ns: None,
        locked: false,
        is_self: false,
        parent: 0,
        created_at: None,
        created_by: "",
        pcs: Vec::new(),
        torn,
    })
}

/// Sets whether the dumps SIGQUIT, the deadlock report and a stack overflow print
/// include runtime `s`'s goroutines.
pub(crate) fn set_enabled(s: &Sched, on: bool) {
    // Relaxed: set before the runtime's first M starts (the thread start publishes it).
    s.traceback.store(on, Relaxed);
}

/// Whether runtime `s` prints its goroutines when it fails (see [`set_enabled`]).
pub(crate) fn enabled(s: &Sched) -> bool {
    // Relaxed: see `set_enabled`.
    s.traceback.load(Relaxed)
}

/// What prints the goroutines of the calling goroutine's runtime when it deadlocks
/// (`debug.rs` sets it when a runtime starts; the core only calls it, so it names no
/// module above it).
static ON_DEADLOCK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Registers the deadlock report's printer (once per process).
pub(crate) fn set_deadlock_printer(f: fn()) {
    let _ = ON_DEADLOCK.set(f);
}

/// Prints the deadlock report's dump, if the running goroutine's runtime wants it
/// (`park`, on the main goroutine, just before it panics).
pub(super) fn print_deadlock() {
    let Some(s) = super::sched::current() else {
        return;
    };
    if let (true, Some(f)) = (enabled(s), ON_DEADLOCK.get()) {
        f();
    }
}

// ---- for debuggers ---------------------------------------------------------------------

/// A stack chunk as a debugger reads it (`gmp-gdb.py`): `[guard page][stack]` slots of
/// `slot` bytes from `base`, each stack's G header at its top. `len` is 0 once the chunk
/// is unmapped (records are never freed: a debugger may be reading the list).
#[repr(C)]
pub(super) struct DebugChunk {
    base: AtomicUsize,
    len: AtomicUsize,
    slot: usize,
    next: *const DebugChunk,
}

/// Every stack chunk of every runtime, newest first: what `gmp-gdb.py` walks to find
/// the goroutines (Go's script walks `runtime.allgs`). C layout, by symbol name.
#[no_mangle]
#[used]
static gmp_core_debug_chunks: AtomicPtr<DebugChunk> = AtomicPtr::new(ptr::null_mut());

/// What `gmp-gdb.py` needs of the G header's layout: a version, then the header's size
/// and the offsets of `sched` (the Gobuf: sp, pc, bp, bx), `status`, `seq`, `id`, the
/// wait word (reason in its low byte) and `locked_m`.
#[no_mangle]
#[used]
static gmp_core_debug_layout: [u64; 8] = [
    1,
    HEADER as u64,
    std::mem::offset_of!(G, sched) as u64,
    std::mem::offset_of!(G, status) as u64,
    std::mem::offset_of!(G, seq) as u64,
    std::mem::offset_of!(G, id) as u64,
    (std::mem::offset_of!(G, trace) + std::mem::offset_of!(GTrace, wait)) as u64,
    std::mem::offset_of!(G, locked_m) as u64,
];

/// Lists a chunk mapped for stacks (`mapped`), or marks it unmapped.
pub(super) fn debug_chunk(base: usize, len: usize, slot: usize, mapped: bool) {
    // Keeps the layout table in the binary: the linker drops what no code references.
    std::hint::black_box(&gmp_core_debug_layout);
    if !mapped {
        // Acquire: pairs with the push's CAS, which published the records' fields.
        let mut c = gmp_core_debug_chunks.load(Acquire);
        while !c.is_null() {
            // SAFETY: records are leaked, never freed.
            let r = unsafe { &*c };
            if r.base.load(Relaxed) == base {
                // Relaxed: only a debugger reads it, with the process stopped.
                r.len.store(0, Relaxed);
                return;
            }
            c = r.next.cast_mut();
        }
        return;
    }
    let rec = Box::leak(Box::new(DebugChunk {
        base: AtomicUsize::new(base),
        len: AtomicUsize::new(len),
        slot,
        next: ptr::null(),
    }));
    // Acquire/Release: a push onto a Treiber stack; the CAS publishes the record's
    // fields to whoever loads the head after it (a walk in `debug_chunk`).
    let mut head = gmp_core_debug_chunks.load(Acquire);
    loop {
        rec.next = head;
        match gmp_core_debug_chunks.compare_exchange_weak(head, rec, AcqRel, Acquire) {
            Ok(_) => return,
            Err(h) => head = h,
        }
    }
}

/// The goroutine list a stack overflow prints, from the SIGSEGV handler: each
/// goroutine's id, state or wait reason and creator, without frames (walking and naming
/// them allocates). Async-signal-safe: it reads the lock-free chunk list and the G
/// headers (mapped while their runtime lives) and writes through `out` only. Skips the
/// runtimes whose traceback is off.
pub(crate) fn write_signal_safe(out: &mut dyn FnMut(&[u8])) {
    // Acquire: pairs with the push's CAS in `debug_chunk`.
    let mut c = gmp_core_debug_chunks.load(Acquire);
    while !c.is_null() {
        // SAFETY: chunk records are leaked, never freed.
        let r = unsafe { &*c };
        // Relaxed: a snapshot; a chunk unmapped meanwhile is the rare race this cannot
        // exclude without a lock (the process is aborting).
        let (base, len) = (r.base.load(Relaxed), r.len.load(Relaxed));
        let mut at = base;
        while len != 0 && at + r.slot <= base + len {
            write_header((at + r.slot - HEADER) as *const G, out);
            at += r.slot;
        }
        c = r.next.cast_mut();
    }
}

fn write_header(g: *const G, out: &mut dyn FnMut(&[u8])) {
    // SAFETY: a slot's header is mapped (see `write_signal_safe`); fields are read as
    // values.
    unsafe {
        // Relaxed: a best-effort picture from a signal handler.
        let status = (*g).status.load(Relaxed);
        if !matches!(status, G_RUNNABLE | G_RUNNING | G_WAITING) {
            return;
        }
        let rt = ptr::read_volatile(&(*g).rt);
        if rt.is_null() || !enabled(&*rt) {
            return;
        }
        let running = (*g).seq.load(Relaxed) & 1 == 1;
        let why = WaitReason::from_u8((*g).trace.wait.load(Relaxed) as u8);
        out(b"goroutine ");
        write_num(ptr::read_volatile(&(*g).id), out);
        out(b" [");
        out(match (running, status) {
            (true, _) => b"running",
            (false, G_WAITING) => why.as_str().as_bytes(),
            _ => b"runnable",
        });
        out(b"]:\n");
        if let Some(at) = ptr::read_volatile(&(*g).trace.created_at) {
            out(b"created by ");
            let by = ptr::read_volatile(&(*g).trace.created_by);
            let mut name = by;
            while let Some(n) = name.strip_suffix("::{{closure}}") {
                name = n;
            }
            out(name.as_bytes());
            out(b" in goroutine ");
            write_num(ptr::read_volatile(&(*g).trace.parent), out);
            out(b"\n\t");
            out(at.file().as_bytes());
            out(b":");
            write_num(u64::from(at.line()), out);
            out(b"\n");
        }
        out(b"\n");
    }
}

fn write_num(mut v: u64, out: &mut dyn FnMut(&[u8])) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out(&digits[i..]);
}
