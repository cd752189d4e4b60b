//! loom models of locked Ms (`words/locked.rs`): the parking M's sequence (`park_m`,
//! `lockedm::count`, `handoff_own_p`, `stoplockedm`) against the M that dequeues its G
//! (`schedule`, `startlockedm`) and against `shutdown` (`lockedm::wake_all`), each step
//! as `proc/lockedm.rs` takes it. The list and the note are the runtime's types; loom's
//! `Mutex` stands for the scheduler lock and for the run queue (a push and a pop that
//! synchronise, as crossbeam's do), a loom `UnsafeCell` for `M::next_p`, and a Relaxed
//! atomic for `G::locked_m`.

use super::*;
use crate::words::model::check;
use crate::words::note::NoteWord;
use loom::cell::UnsafeCell;
use loom::sync::atomic::AtomicBool;
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

/// The parking M, the dequeuing M, their Ps, the G.
const A: usize = 0x1000;
const B: usize = 0x2000;
const P1: usize = 1;
const P2: usize = 2;
const G: usize = 7;

#[derive(Default)]
struct Idle {
    ps: Vec<usize>,
    ms: Vec<usize>,
}

struct Shared {
    locked: LockedMs,
    /// The scheduler lock, with the idle lists it guards.
    sched: Mutex<Idle>,
    /// The run queue the woken G goes through.
    queue: Mutex<Vec<usize>>,
    shutdown: AtomicBool,
    /// A's note and `next_p`; the G's `locked_m`.
    note_a: NoteWord,
    next_p_a: UnsafeCell<usize>,
    locked_m: loom::sync::atomic::AtomicUsize,
}

fn shared() -> Arc<Shared> {
    Arc::new(Shared {
        locked: LockedMs::new(),
        sched: Mutex::new(Idle::default()),
        queue: Mutex::new(Vec::new()),
        shutdown: AtomicBool::new(false),
        note_a: NoteWord::new(),
        next_p_a: UnsafeCell::new(0),
        locked_m: loom::sync::atomic::AtomicUsize::new(0),
    })
}

/// How the parking M ended: ran its G with this P, or exited at shutdown.
#[derive(Debug, PartialEq)]
enum Parked {
    Ran(usize),
    Exited,
}

/// M `A`, holding `P1`, runs a G that parks mid-unwind; the G is woken at once (the
/// earliest a waker can ready it: right after the park commit).
fn parking_m(s: &Shared) -> Parked {
    parking_m_with(s, None)
}

/// Two ways to get `prepare` wrong, for the models that show loom catches them.
#[derive(Clone, Copy, PartialEq)]
enum Wrong {
    /// The note is re-armed after the M is listed.
    ClearAfterList,
    /// The M lists itself after its G can be woken.
    ListAfterCommit,
}

/// `parking_m`, or one of its `Wrong` variants.
fn parking_m_with(s: &Shared, wrong: Option<Wrong>) -> Parked {
    // `park`: the G is locked to this M before it can be woken.
    s.locked_m.store(A, Relaxed);
    let prepare = || {
        // `park_m` → `lockedm::prepare`.
        if wrong != Some(Wrong::ClearAfterList) {
            s.note_a.clear();
        }
        if !s.locked.list(A, || s.shutdown.load(SeqCst)) {
            s.note_a.wake();
        }
        if wrong == Some(Wrong::ClearAfterList) {
            s.note_a.clear();
        }
    };
    if wrong != Some(Wrong::ListAfterCommit) {
        prepare();
    }
    // The commit succeeds and a waker readies the G.
    s.queue.lock().unwrap().push(G);
    if wrong == Some(Wrong::ListAfterCommit) {
        prepare();
    }
    // `lockedm::count`, under the scheduler lock.
    {
        let _l = s.sched.lock().unwrap();
        s.locked.count(A);
    }
    // `handoff_own_p`: P1 has no work, so it goes idle.
    s.sched.lock().unwrap().ps.push(P1);
    // `stoplockedm`: sleep until woken, then take `next_p`.
    while !s.note_a.is_woken() {
        thread::yield_now();
    }
    // SAFETY: a loom cell; loom reports a read that races with a waker's write.
    let p = s
        .next_p_a
        .with_mut(|p| unsafe { std::mem::replace(&mut *p, 0) });
    if p == 0 {
        assert!(
            s.shutdown.load(SeqCst),
            "a locked M was woken without a P outside shutdown"
        );
        return Parked::Exited;
    }
    s.locked_m.store(0, Relaxed);
    Parked::Ran(p)
}

/// How the dequeuing M ended: idle after handing `P2` over, or exited at shutdown.
#[derive(Debug, PartialEq)]
enum Dequeued {
    Idle,
    Exited,
}

/// M `B`, holding `P2`, in `schedule`: dequeues the G, sees `locked_m`, and
/// `startlockedm`s.
fn dequeuing_m(s: &Shared) -> Dequeued {
    let g = loop {
        if let Some(g) = s.queue.lock().unwrap().pop() {
            break g;
        }
        thread::yield_now();
    };
    let target = s.locked_m.load(Relaxed);
    assert_eq!(target, A, "the dequeuer sees the G's locked M");
    let mut l = s.sched.lock().unwrap();
    let listed = s.locked.unlist(target);
    if !listed || s.shutdown.load(SeqCst) {
        assert!(
            s.shutdown.load(SeqCst),
            "a locked M unlisted outside shutdown"
        );
        drop(l);
        s.queue.lock().unwrap().push(g);
        if listed {
            // SAFETY: a loom cell; loom reports a write that races with A's read.
            s.next_p_a.with_mut(|p| unsafe { *p = 0 });
            s.note_a.wake();
        }
        return Dequeued::Exited;
    }
    // `releasep`, `stopm_register`: B is idle before A runs.
    l.ms.push(B);
    drop(l);
    // SAFETY: a loom cell; loom reports a write that races with A's read.
    s.next_p_a.with_mut(|p| unsafe { *p = P2 });
    s.note_a.wake();
    Dequeued::Idle
}

/// `shutdown`: the flag, then `wake_all`.
fn shutdown(s: &Shared) {
    s.shutdown.store(true, SeqCst);
    for m in s.locked.take_all() {
        assert_eq!(m, A);
        // SAFETY: a loom cell; loom reports a write that races with A's read.
        s.next_p_a.with_mut(|p| unsafe { *p = 0 });
        s.note_a.wake();
    }
}

/// What every model checks once all threads are done.
fn balanced(s: &Shared) {
    assert_eq!(s.locked.nmlocked(), 0, "nmlocked does not balance");
    assert!(s.locked.listed().is_empty(), "an M stays listed");
}

#[test]
fn park_against_startlockedm() {
    check("locked: park against the dequeuer's startlockedm", || {
        let s = shared();
        let b = {
            let s = s.clone();
            thread::spawn(move || dequeuing_m(&s))
        };
        assert_eq!(parking_m(&s), Parked::Ran(P2), "the locked M runs its G");
        assert_eq!(b.join().unwrap(), Dequeued::Idle);
        balanced(&s);
        let idle = s.sched.lock().unwrap();
        assert_eq!(idle.ps, [P1], "the parking M's P is idle, once");
        assert_eq!(idle.ms, [B], "the dequeuer is idle");
        assert!(s.queue.lock().unwrap().is_empty());
    });
}

/// The model can fail: a note re-armed after the M is listed can erase shutdown's
/// wake, and the M sleeps forever (loom gives up on the endless wait).
#[test]
#[should_panic(expected = "Model exceeded maximum number of branches")]
fn a_note_rearmed_after_listing_is_caught() {
    loom::model(|| {
        let s = shared();
        let c = {
            let s = s.clone();
            thread::spawn(move || shutdown(&s))
        };
        parking_m_with(&s, Some(Wrong::ClearAfterList));
        c.join().unwrap();
    });
}

/// The model can fail: an M that lists itself only after its G can be woken is not
/// found by the dequeuer.
#[test]
#[should_panic(expected = "a locked M unlisted outside shutdown")]
fn listing_after_the_commit_is_caught() {
    loom::model(|| {
        let s = shared();
        let b = {
            let s = s.clone();
            thread::spawn(move || dequeuing_m(&s))
        };
        parking_m_with(&s, Some(Wrong::ListAfterCommit));
        b.join().unwrap();
    });
}

#[test]
fn park_against_shutdown() {
    check("locked: park against shutdown", || {
        let s = shared();
        let c = {
            let s = s.clone();
            thread::spawn(move || shutdown(&s))
        };
        assert_eq!(parking_m(&s), Parked::Exited, "shutdown wakes the locked M");
        c.join().unwrap();
        balanced(&s);
        assert_eq!(*s.queue.lock().unwrap(), [G], "the G is left for the sweep");
    });
}

#[test]
fn park_against_startlockedm_and_shutdown() {
    check("locked: park against startlockedm and shutdown", || {
        let s = shared();
        let b = {
            let s = s.clone();
            thread::spawn(move || dequeuing_m(&s))
        };
        let c = {
            let s = s.clone();
            thread::spawn(move || shutdown(&s))
        };
        let a = parking_m(&s);
        let b = b.join().unwrap();
        c.join().unwrap();
        balanced(&s);
        let queued = s.queue.lock().unwrap().clone();
        match a {
            Parked::Ran(p) => {
                assert_eq!(p, P2);
                assert_eq!(b, Dequeued::Idle, "P2 has one M");
                assert!(queued.is_empty(), "the G ran and is queued too");
            }
            Parked::Exited => {
                assert_eq!(queued, [G], "the G is left for the sweep, once");
                assert_eq!(b, Dequeued::Exited, "the dequeuer exits too");
            }
        }
    });
}
