//! Deadlock detection: when every goroutine is parked with no timer pending, `run` panics
//! with Go's message; goroutines asleep on timers are not a deadlock.
//!
//! Joins are the only way a goroutine of one runtime parks without a timer, and every
//! goroutine has a single handle, so they cannot form a wait cycle that includes the main
//! goroutine; a join on another runtime's goroutine blocks the thread (that runtime can
//! still wake it, so it is not a deadlock here). The tests build their deadlocks from
//! `gmp::park_forever()`, a goroutine that nothing can wake. Most cases run in a child
//! process (see `deadlock_case`), so a crash is reported per test.

mod common;

use common::{child_mode, panic_message, run_child};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLOCK: &str = "all goroutines are asleep - deadlock!";

/// Handles of `n` goroutines of the current runtime that park forever.
fn forever_handles(n: usize) -> Vec<gmp::JoinHandle<u32>> {
    (0..n)
        .map(|_| gmp::spawn(|| -> u32 { gmp::park_forever() }))
        .collect()
}

/// Runs `body` (given `foreign` never-finishing handles) as the main goroutine of a runtime
/// built by `builder`, in a child process, and asserts that `run` panicked with the
/// deadlock message and that a new runtime works afterwards.
///
/// In a child process because a runtime that mishandles a deadlock can crash the process
/// (see the report of the failure), and so that the never-shut-down foreign runtime does
/// not outlive the test.
fn deadlock_case<T, F>(test_name: &str, foreign: usize, builder: gmp::RuntimeBuilder, body: F)
where
    T: Send + std::fmt::Debug,
    F: FnOnce(Vec<gmp::JoinHandle<u32>>) -> T + Send,
{
    if child_mode().as_deref() == Some(test_name) {
        let r = catch_unwind(AssertUnwindSafe(move || {
            builder.run(move || body(forever_handles(foreign)))
        }));
        match r {
            Ok(v) => println!("run returned {v:?} instead of reporting the deadlock"),
            Err(e) => match panic_message(&*e) {
                Some(m) if m == DEADLOCK => println!("DEADLOCK REPORTED"),
                other => println!("run panicked with {other:?}, not the deadlock message"),
            },
        }
        let v = gmp::run(|| {
            let hs: Vec<_> = (0..100u32).map(|i| gmp::spawn(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        });
        if v == 4950 {
            println!("RUNTIME WORKS AFTERWARDS");
        }
        // Leave without unwinding into the harness: the foreign runtime is still up.
        std::process::exit(0);
    }
    let out = run_child(test_name, test_name, &[], Duration::from_secs(60));
    assert!(
        out.status.success(),
        "the child crashed\n{}",
        out.describe()
    );
    assert!(
        out.stdout.contains("DEADLOCK REPORTED"),
        "no deadlock reported\n{}",
        out.describe()
    );
    assert!(
        out.stdout.contains("RUNTIME WORKS AFTERWARDS"),
        "{}",
        out.describe()
    );
}

#[test]
fn main_joining_a_goroutine_that_never_finishes_is_a_deadlock() {
    deadlock_case(
        "main_joining_a_goroutine_that_never_finishes_is_a_deadlock",
        1,
        gmp::Runtime::builder().procs(2),
        |mut hs| hs.pop().unwrap().join(),
    );
}

#[test]
fn main_joining_a_goroutine_that_never_finishes_is_a_deadlock_in_process() {
    // The same, with `catch_unwind` around `run` in this process.
    let r = catch_unwind(AssertUnwindSafe(move || {
        gmp::Runtime::builder()
            .procs(2)
            .run(move || forever_handles(1).pop().unwrap().join())
    }));
    match r {
        Ok(v) => panic!("run returned {v:?} instead of reporting the deadlock"),
        Err(e) => assert_eq!(panic_message(&*e).as_deref(), Some(DEADLOCK)),
    }
}

#[test]
fn chain_of_joins_ending_in_a_goroutine_that_never_finishes_is_a_deadlock() {
    // main joins A, A joins B, B joins a goroutine that never finishes.
    deadlock_case(
        "chain_of_joins_ending_in_a_goroutine_that_never_finishes_is_a_deadlock",
        1,
        gmp::Runtime::builder().procs(2),
        |mut hs| {
            let forever = hs.pop().unwrap();
            let b = gmp::spawn(move || forever.join().map(|v| v + 1));
            let a = gmp::spawn(move || b.join());
            a.join()
        },
    );
}

#[test]
fn goroutines_joining_each_other_in_a_cycle_with_main_parked() {
    // A joins B's handle and B joins A's handle (passed through mutexes): neither can
    // ever finish. Main waits on a goroutine that never finishes.
    type Slot = Arc<Mutex<Option<gmp::JoinHandle<u32>>>>;
    deadlock_case(
        "goroutines_joining_each_other_in_a_cycle_with_main_parked",
        1,
        gmp::Runtime::builder().procs(4),
        |mut hs| {
            let forever = hs.pop().unwrap();
            let slot_a: Slot = Arc::new(Mutex::new(None));
            let slot_b: Slot = Arc::new(Mutex::new(None));
            let parked = Arc::new(AtomicUsize::new(0));
            let spawn_waiter = |mine: Slot, parked: Arc<AtomicUsize>| {
                gmp::spawn(move || {
                    let other = loop {
                        if let Some(h) = mine.lock().unwrap().take() {
                            break h;
                        }
                        gmp::yield_now();
                    };
                    parked.fetch_add(1, SeqCst);
                    other.join().unwrap_or(0) + 1
                })
            };
            let a = spawn_waiter(slot_a.clone(), parked.clone());
            let b = spawn_waiter(slot_b.clone(), parked.clone());
            *slot_a.lock().unwrap() = Some(b);
            *slot_b.lock().unwrap() = Some(a);
            while parked.load(SeqCst) < 2 {
                gmp::yield_now();
            }
            forever.join()
        },
    );
}

#[test]
fn deadlock_with_many_parked_goroutines_and_procs() {
    deadlock_case(
        "deadlock_with_many_parked_goroutines_and_procs",
        50,
        gmp::Runtime::builder().procs(4),
        |hs| {
            let mine: Vec<_> = hs
                .into_iter()
                .map(|h| {
                    gmp::spawn(move || {
                        gmp::yield_now();
                        h.join().unwrap()
                    })
                })
                .collect();
            mine.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        },
    );
}

#[test]
fn sleeping_goroutines_are_not_a_deadlock() {
    let t = Instant::now();
    let v = gmp::Runtime::builder().procs(2).run(|| {
        // main joins A, A joins B, B sleeps: every M goes idle, but a timer is pending.
        let b = gmp::spawn(|| {
            gmp::sleep(Duration::from_millis(150));
            1u32
        });
        let a = gmp::spawn(move || b.join().unwrap() + 1);
        a.join().unwrap()
    });
    assert_eq!(v, 2);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[test]
fn main_sleeping_alone_is_not_a_deadlock() {
    gmp::Runtime::builder().procs(1).run(|| {
        gmp::sleep(Duration::from_millis(100));
    });
}

#[test]
fn many_sleepers_with_staggered_deadlines_are_not_a_deadlock() {
    let sum = gmp::Runtime::builder().procs(3).run(|| {
        let hs: Vec<_> = (0..200u64)
            .map(|i| {
                gmp::spawn(move || {
                    gmp::sleep(Duration::from_millis(1 + (i * 37) % 120));
                    // A chain of joins on sleepers too.
                    let h = gmp::spawn(move || {
                        gmp::sleep(Duration::from_millis(i % 7));
                        i
                    });
                    h.join().unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, 199 * 200 / 2);
}

#[test]
fn idle_runtime_with_a_thread_joining_is_not_a_deadlock_while_main_sleeps() {
    // Main waits with sleeps for a plain thread that joins a goroutine; nothing here may be
    // reported as a deadlock.
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    gmp::run(move || {
        let h = gmp::spawn(|| {
            gmp::sleep(Duration::from_millis(30));
            5
        });
        let t = std::thread::spawn(move || {
            assert_eq!(h.join().unwrap(), 5);
            d.store(true, SeqCst);
        });
        while !done.load(SeqCst) {
            gmp::sleep(Duration::from_millis(2));
        }
        t.join().unwrap();
    });
}

#[test]
fn sleep_of_duration_max_is_a_pending_timer_not_a_deadlock() {
    // A goroutine asleep for `Duration::MAX` has a timer pending: the runtime must keep
    // waiting (like Go's `time.Sleep(math.MaxInt64)`), not report a deadlock. The child
    // exits 0 by itself after a while if no deadlock was reported.
    if child_mode().as_deref() == Some("sleep-max") {
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            println!("NO DEADLOCK REPORTED");
            std::process::exit(0);
        });
        let r = catch_unwind(|| {
            gmp::Runtime::builder().procs(1).run(|| {
                let h = gmp::spawn(|| gmp::sleep(Duration::MAX));
                h.join()
            })
        });
        let msg = r.err().and_then(|e| panic_message(&*e));
        println!("run ended early: {msg:?}");
        std::process::exit(3);
    }
    let out = run_child(
        "sleep_of_duration_max_is_a_pending_timer_not_a_deadlock",
        "sleep-max",
        &[],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("NO DEADLOCK REPORTED"),
        "{}",
        out.describe()
    );
}

#[test]
fn deadlocked_join_does_not_leave_a_dangling_waiter() {
    // main joins a goroutine that parks forever; the runtime deadlocks and ends, sweeping
    // that goroutine (which cancels its packet, whose waiter was main). The waiter must
    // have been taken back when main unwound, or the sweep wakes freed memory. Run in a
    // child: the failure mode is a crash.
    if child_mode().as_deref() == Some("dangling-waiter") {
        for _ in 0..3 {
            let r = catch_unwind(AssertUnwindSafe(|| {
                gmp::Runtime::builder()
                    .procs(1)
                    .run(|| forever_handles(1).pop().unwrap().join())
            }));
            let msg = r.err().and_then(|e| panic_message(&*e));
            assert_eq!(msg.as_deref(), Some(DEADLOCK));
            // Reuse the memory the runtime had.
            gmp::run(|| {
                let hs: Vec<_> = (0..1000).map(|i| gmp::spawn(move || i)).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
            });
        }
        println!("CHILD OK");
        std::process::exit(0);
    }
    let out = run_child(
        "deadlocked_join_does_not_leave_a_dangling_waiter",
        "dangling-waiter",
        &[],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(out.stdout.contains("CHILD OK"), "{}", out.describe());
}

#[test]
fn joining_a_goroutine_of_another_runtime_is_not_a_deadlock() {
    // The other runtime's goroutine finishes after a while: the join must wait for it
    // (blocking this goroutine's thread), not report a deadlock, and the other runtime
    // may end first without harm.
    let release = Arc::new(AtomicBool::new(false));
    let rel = release.clone();
    let (tx, rx) = mpsc::channel();
    let other = std::thread::spawn(move || {
        gmp::Runtime::builder().procs(1).run(move || {
            let h = gmp::spawn(move || {
                while !rel.load(SeqCst) {
                    gmp::sleep(Duration::from_millis(1));
                }
                11u32
            });
            tx.send(h).unwrap();
            gmp::sleep(Duration::from_millis(300));
        })
    });
    let h = rx.recv().unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        release.store(true, SeqCst);
    });
    let v = gmp::Runtime::builder()
        .procs(1)
        .run(move || h.join().unwrap());
    assert_eq!(v, 11);
    releaser.join().unwrap();
    other.join().unwrap();
}
