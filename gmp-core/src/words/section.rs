//! The words of a P section (`proc/handoff.rs`): an M's section count ([`Locks`], Go's
//! `m.locks`) and a P's owner word ([`Owner`]: the owning M's address, `| RETAKING`
//! while sysmon decides, or 0), with the two halves of the Dekker handshake between
//! them ([`section_fence`], [`heavy_barrier`]).
//!
//! ```text
//!   goroutine (its M)                      sysmon
//!   locks += 1         (plain store)       CAS owner: M → M|RETAKING
//!   section_fence                          heavy_barrier
//!   owner == M ?       (plain load)        locks == 0 ?  → owner = 0, hand the P off
//!                                                    else → owner = M (give it back)
//! ```
//!
//! Invariant: never both "the goroutine is inside a section holding its P" and "sysmon
//! handed the P off". Dekker's argument: with a full fence between each side's write and
//! read, at least one side sees the other's write. With `membarrier` the goroutine's
//! fence is only a compiler fence, and sysmon's `membarrier(PRIVATE_EXPEDITED)` makes
//! every other thread of the process run a full barrier wherever it is, which turns
//! that compiler fence into a real one for this retake (the kernel's promise: its man
//! page shows exactly this pairing of `barrier()` and `membarrier()` standing for
//! `smp_mb()` on both sides). Without `membarrier` both sides fence: the goroutine with
//! `fence(SeqCst)`, sysmon with `fence(SeqCst)` after its CAS.
//!
//! # What the loom models prove, and what they assume
//! `scripts/loom.sh section` runs a goroutine entering a section against sysmon's
//! retake, over every interleaving (bounded preemptions) and every value loom lets each
//! Relaxed load read. They prove: the goroutine never holds its P inside a section
//! after sysmon handed it off, the P is never lost (it ends with the goroutine's M or
//! handed off exactly once), a goroutine that sees `RETAKING` waits for the decision,
//! and `releasep` on g0 against a retake gives the P up exactly once.
//!
//! They assume, because loom cannot send an IPI:
//! - `membarrier` is modelled as `fence(SeqCst)` on sysmon's side *and* turns the
//!   goroutine side's compiler fence into `fence(SeqCst)` (in a loom build
//!   [`section_fence`] issues one in `Barrier::Membarrier` mode too). So loom checks
//!   Dekker with SeqCst fences; that `membarrier` gives that is the kernel's guarantee,
//!   taken on trust.
//! - loom 0.7 (Cargo.lock) models SeqCst *fences* (each joins a global causality, its
//!   `seq_cst_fence`), but treats SeqCst *accesses* as AcqRel (its `seq_cst` is a no-op:
//!   "may fail to model correct code, but will not silently allow bugs"). So the model
//!   leans on fences only, which is also what the C++/Rust memory model needs here: a
//!   SeqCst CAS followed by a Relaxed load is not a fence.
//!
//! That last point is what the model found: in fence mode sysmon used to rely on its
//! SeqCst CAS as its fence. It is one on x86-64 (`lock cmpxchg`), but not in Rust's
//! memory model, nor on a weaker CPU (an aarch64 `ldaxr`/`stlxr` CAS lets a later load
//! pass its store): both sides could read the old values and sysmon hand off a P the
//! goroutine was using. [`heavy_barrier`] now fences in that mode. A model without the
//! goroutine's fence (`entry_without_the_fence_is_caught`) shows the check can fail.
//!
//! Not modelled: nested sections and a goroutine that leaves a section and enters
//! another while sysmon retakes (the writes of its earlier section reach the P's next
//! owner through the same barrier and `startm`'s scheduler lock); the permits of
//! `blocking.rs` that `retake` takes around this; the registration of `membarrier`.

use crate::sync_atomic::{AtomicU32, AtomicUsize};
#[cfg(loom)]
use loom::{hint::spin_loop, sync::atomic::fence};
use std::sync::atomic::Ordering::*;
#[cfg(not(loom))]
use std::{
    hint::spin_loop,
    sync::atomic::{compiler_fence, fence},
};

/// Low bit of the owner word while sysmon decides whether to take the P (M addresses
/// are aligned, so the bit is free).
pub(crate) const RETAKING: usize = 1;

/// How the two sides fence: chosen once per process (`handoff::init_barrier`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Barrier {
    /// sysmon calls `membarrier`; the goroutine side needs only a compiler fence.
    Membarrier,
    /// The kernel refused `membarrier`: both sides issue `fence(SeqCst)`.
    Fence,
}

/// The goroutine side's fence, between `locks += 1` and the owner check.
#[inline(always)]
pub(crate) fn section_fence(b: Barrier) {
    match b {
        // Model: `membarrier` makes this a full fence for the retake it races with
        // (see the module doc).
        #[cfg(loom)]
        Barrier::Membarrier => fence(SeqCst),
        #[cfg(not(loom))]
        Barrier::Membarrier => compiler_fence(SeqCst),
        Barrier::Fence => fence(SeqCst),
    }
}

/// sysmon's fence, between its CAS to `RETAKING` and its read of `locks`.
#[inline]
pub(crate) fn heavy_barrier(b: Barrier) {
    match b {
        Barrier::Membarrier => membarrier(),
        // The CAS before is SeqCst, but a SeqCst RMW is no fence for the Relaxed load
        // after it (see the module doc): this pairs with the goroutine's fence.
        Barrier::Fence => fence(SeqCst),
    }
}

/// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: a full barrier on every CPU running
/// a thread of this process (which `handoff::init_barrier` registered).
#[cfg(not(loom))]
fn membarrier() {
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    // SAFETY: a plain syscall with integer arguments; the process registered for it.
    unsafe {
        libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    }
}

/// In a loom build: the fence `membarrier` stands for (see the module doc).
#[cfg(loom)]
fn membarrier() {
    fence(SeqCst);
}

/// An M's count of the P sections it is inside (`M::locks`): at least 1 on g0, 0 while
/// a goroutine runs its own code. Written only by its M's thread.
pub(crate) struct Locks(AtomicU32);

impl Locks {
    pub(crate) fn new(n: u32) -> Locks {
        Locks(AtomicU32::new(n))
    }

    /// Adds `d` (wrapping: `u32::MAX` leaves a section).
    #[inline(always)]
    pub(crate) fn add(&self, d: u32) {
        // Relaxed load + store: only this M's thread writes; sysmon reads after its
        // barrier, which pairs with `section_fence` (see the module doc).
        self.0.store(self.0.load(Relaxed).wrapping_add(d), Relaxed);
    }

    /// Sets the count (the M's own thread: 0 when it goes back to a goroutine's code).
    #[inline(always)]
    pub(crate) fn set(&self, n: u32) {
        // Relaxed: as in `add`.
        self.0.store(n, Relaxed);
    }

    /// The count. Its own M reads its own writes; sysmon reads it only after
    /// `heavy_barrier` (see `Owner::decide`).
    #[inline(always)]
    pub(crate) fn get(&self) -> u32 {
        // Relaxed: as in `add`.
        self.0.load(Relaxed)
    }

    /// The goroutine side's entry: `locks += 1`, then the fence. The owner check
    /// ([`Owner::check`]) comes next.
    #[inline(always)]
    pub(crate) fn enter(&self, b: Barrier) {
        self.add(1);
        section_fence(b);
    }
}

/// What the goroutine's owner check saw.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Held {
    /// The P is this M's: it stays so until the section ends.
    Mine,
    /// sysmon is deciding: look again.
    Retaking,
    /// sysmon took it (or it was never this M's).
    Taken,
}

/// A P's owner word (`P::owner`).
pub(crate) struct Owner(AtomicUsize);

impl Owner {
    pub(crate) fn new() -> Owner {
        Owner(AtomicUsize::new(0))
    }

    /// Binds the P to `m` (`acquirep`), an M that holds it by the scheduler's rules.
    #[inline]
    pub(crate) fn acquire(&self, m: usize) {
        // SeqCst: pairs with sysmon's CAS in `begin_retake`.
        self.0.store(m, SeqCst);
    }

    /// `releasep`: `m` gives the P up. Inside a section (on g0), so a retake in
    /// progress gives it back: waits for that. Panics if another M owns the P.
    #[inline]
    pub(crate) fn release(&self, m: usize) {
        loop {
            // SeqCst: pairs with sysmon's CAS.
            match self.0.compare_exchange(m, 0, SeqCst, SeqCst) {
                Ok(_) => return,
                Err(o) if o == m | RETAKING => spin_loop(),
                Err(o) => unreachable!("releasing a P owned by another M ({o:#x})"),
            }
        }
    }

    /// The goroutine side's check, after [`Locks::enter`].
    #[inline(always)]
    pub(crate) fn check(&self, m: usize) -> Held {
        // Relaxed: the section fence (with sysmon's barrier) orders this load after the
        // `locks` store; see the module doc.
        let o = self.0.load(Relaxed);
        if o == m {
            Held::Mine
        } else if o == m | RETAKING {
            Held::Retaking
        } else {
            Held::Taken
        }
    }

    /// The owner, for sysmon's sample (0, an M, or an M `| RETAKING`).
    #[inline]
    pub(crate) fn load(&self) -> usize {
        // SeqCst: pairs with `acquire`/`release`.
        self.0.load(SeqCst)
    }

    /// sysmon's first step: `m → m|RETAKING`. `false` if `m` no longer owns the P.
    #[inline]
    pub(crate) fn begin_retake(&self, m: usize) -> bool {
        // SeqCst: pairs with `acquire`/`release`; the ordering against the section is
        // the barrier's, in `decide`.
        self.0
            .compare_exchange(m, m | RETAKING, SeqCst, SeqCst)
            .is_ok()
    }

    /// sysmon's second step, after `begin_retake(m)` succeeded: the barrier, then
    /// `locks` of `m` (`m_locks`). Outside any section, the P is taken (owner 0, and
    /// `true`: hand it off); inside one, it goes back to `m`.
    #[inline]
    pub(crate) fn decide(&self, m: usize, m_locks: &Locks, b: Barrier) -> bool {
        heavy_barrier(b);
        let take = m_locks.get() == 0;
        // SeqCst: pairs with `check`'s load (a spinning goroutine sees it) and with
        // `release`.
        self.0.store(if take { 0 } else { m }, SeqCst);
        take
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::words::model::check;
    use loom::sync::Arc;
    use loom::thread;

    /// The goroutine's M and the M sysmon's hand-off starts (aligned addresses).
    const M: usize = 0x1000;
    const M2: usize = 0x2000;

    struct Shared {
        owner: Owner,
        locks: Locks,
    }

    /// A P held by `M`, whose goroutine runs its own code (`locks` 0) or is on g0 (1).
    fn shared(locks: u32) -> Arc<Shared> {
        let s = Arc::new(Shared {
            owner: Owner::new(),
            locks: Locks::new(locks),
        });
        s.owner.acquire(M);
        s
    }

    /// `p_try_enter_on`: `true` if the goroutine holds its P inside the section (it then
    /// stays inside to the end of the model). `fence: None` leaves the fence out.
    fn goroutine(s: &Shared, fence: Option<Barrier>) -> bool {
        match fence {
            Some(b) => s.locks.enter(b),
            None => s.locks.add(1),
        }
        loop {
            match s.owner.check(M) {
                Held::Mine => return true,
                Held::Retaking => thread::yield_now(),
                Held::Taken => {
                    s.locks.add(u32::MAX);
                    return false;
                }
            }
        }
    }

    /// Two sysmon ticks of `retake` against `M`; a P taken is handed to `M2` (the M
    /// `startm` wakes, which `acquirep`s it). Returns how many times it handed off.
    /// `decide: None` is the old fence mode: sysmon's CAS and no fence after it.
    fn sysmon(s: &Shared, decide: Option<Barrier>) -> usize {
        let mut handoffs = 0;
        for _ in 0..2 {
            if !s.owner.begin_retake(M) {
                continue;
            }
            let take = match decide {
                Some(b) => s.owner.decide(M, &s.locks, b),
                None => {
                    let take = s.locks.get() == 0;
                    s.owner.0.store(if take { 0 } else { M }, SeqCst);
                    take
                }
            };
            if take {
                handoffs += 1;
                s.owner.acquire(M2);
            }
        }
        handoffs
    }

    fn entry_against_retake(g: Option<Barrier>, sys: Option<Barrier>) {
        let s = shared(0);
        let t = {
            let s = s.clone();
            thread::spawn(move || sysmon(&s, sys))
        };
        let owns = goroutine(&s, g);
        let handoffs = t.join().unwrap();
        assert!(
            !(owns && handoffs > 0),
            "sysmon handed off a P its goroutine holds in a section"
        );
        assert!(handoffs <= 1, "the P was handed off twice");
        let o = s.owner.load();
        if handoffs == 1 {
            assert_eq!(o, M2, "the P handed off is the new M's");
        } else {
            assert!(owns, "the P was lost: neither handed off nor held");
            assert_eq!(o, M);
        }
    }

    #[test]
    fn entry_against_retake_membarrier() {
        check("section: entry against retake (membarrier)", || {
            entry_against_retake(Some(Barrier::Membarrier), Some(Barrier::Membarrier))
        });
    }

    #[test]
    fn entry_against_retake_fence() {
        check("section: entry against retake (fence fallback)", || {
            entry_against_retake(Some(Barrier::Fence), Some(Barrier::Fence))
        });
    }

    /// The model can fail: without the goroutine's fence, loom finds the interleaving
    /// where both sides read the old values.
    #[test]
    #[should_panic(expected = "sysmon handed off a P its goroutine holds in a section")]
    fn entry_without_the_fence_is_caught() {
        loom::model(|| entry_against_retake(None, Some(Barrier::Membarrier)));
    }

    /// The bug the model found (the module doc): in fence mode, sysmon's SeqCst CAS
    /// was its only fence.
    #[test]
    #[should_panic(expected = "sysmon handed off a P its goroutine holds in a section")]
    fn sysmon_without_its_fence_is_caught() {
        loom::model(|| entry_against_retake(Some(Barrier::Fence), None));
    }

    /// `releasep` on g0 (a section held) against a retake: sysmon gives the P back, and
    /// the M releases it exactly once.
    #[test]
    fn release_against_retake() {
        check("section: release on g0 against retake", || {
            let s = shared(1);
            let t = {
                let s = s.clone();
                thread::spawn(move || sysmon(&s, Some(Barrier::Membarrier)))
            };
            s.owner.release(M);
            assert_eq!(t.join().unwrap(), 0, "sysmon took a P from g0");
            assert_eq!(s.owner.load(), 0, "the released P is idle");
        });
    }
}
