//! `gmp::sleep`: never returns early, wakes sleepers in deadline order, runs a woken
//! sleeper ahead of a long run queue, and parks a hundred thousand goroutines at once.

mod common;

use common::XorShift;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn sleep_never_returns_early() {
    const GOROUTINES: u64 = 64;
    const SLEEPS: u64 = 40;
    let checked = gmp::run(|| {
        let hs: Vec<_> = (0..GOROUTINES)
            .map(|i| {
                gmp::spawn(move || {
                    let mut rng = XorShift::new(i);
                    let mut early = Vec::new();
                    for k in 0..SLEEPS {
                        // 1 us .. 20 ms, log-spread so short sleeps are common.
                        let d = match k % 4 {
                            0 => Duration::from_nanos(1_000 + rng.below(9_000)),
                            1 => Duration::from_micros(10 + rng.below(990)),
                            2 => Duration::from_micros(1_000 + rng.below(9_000)),
                            _ => Duration::from_micros(10_000 + rng.below(10_001)),
                        };
                        let t = Instant::now();
                        gmp::sleep(d);
                        let e = t.elapsed();
                        if e < d {
                            early.push((d, e));
                        }
                    }
                    assert!(
                        early.is_empty(),
                        "goroutine {i}: sleeps returned early (asked, got): {early:?}"
                    );
                    SLEEPS
                })
            })
            .collect();
        // The main goroutine sleeps too, while the others do.
        for us in [1u64, 7, 50, 300, 2_000, 15_000] {
            let d = Duration::from_micros(us);
            let t = Instant::now();
            gmp::sleep(d);
            assert!(
                t.elapsed() >= d,
                "main: sleep({d:?}) returned after {:?}",
                t.elapsed()
            );
        }
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(checked, GOROUTINES * SLEEPS);
}

#[test]
fn sleep_never_returns_early_on_one_proc() {
    gmp::Runtime::builder().procs(1).run(|| {
        let hs: Vec<_> = (0..16u64)
            .map(|i| {
                gmp::spawn(move || {
                    let mut rng = XorShift::new(100 + i);
                    for _ in 0..50 {
                        let d = Duration::from_nanos(1_000 + rng.below(3_000_000));
                        let t = Instant::now();
                        gmp::sleep(d);
                        let e = t.elapsed();
                        assert!(e >= d, "sleep({d:?}) returned after {e:?}");
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn sleepers_wake_in_deadline_order_on_one_proc() {
    let order = gmp::Runtime::builder().procs(1).run(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        // Spawned in scrambled order; deadlines 4 ms apart.
        let idx: Vec<u64> = (0..25).map(|i| (i * 7) % 25).collect();
        let hs: Vec<_> = idx
            .iter()
            .map(|&i| {
                let log = log.clone();
                gmp::spawn(move || {
                    gmp::sleep(Duration::from_millis(5 + 4 * i));
                    log.lock().unwrap().push(i);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let v = log.lock().unwrap().clone();
        v
    });
    assert_eq!(order, (0..25).collect::<Vec<_>>());
}

/// Timers due together (their P was busy past both deadlines) wake their sleepers in
/// deadline order: the earliest goes into `runnext`, the rest to the queue's tail.
#[test]
fn sleepers_due_together_wake_in_deadline_order() {
    let order = gmp::Runtime::builder().procs(1).run(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = (0..10u64)
            .map(|i| {
                let log = log.clone();
                gmp::spawn(move || {
                    gmp::sleep(Duration::from_millis(1 + i));
                    log.lock().unwrap().push(i);
                })
            })
            .collect();
        // Every sleeper parks, then the only P stays busy past all ten deadlines, so
        // one pass of the scheduler finds them all due.
        gmp::yield_now();
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(30) {
            std::hint::spin_loop();
        }
        for h in hs {
            h.join().unwrap();
        }
        let v = log.lock().unwrap().clone();
        v
    });
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

/// A goroutine woken by its timer goes into `runnext` (Go's `goroutineReady`), not to
/// the tail of the run queue: on one P with `BUSY` goroutines yielding in turn, the
/// goroutines that run between a sleep's deadline and the sleeper's resumption are the
/// one that was running when the deadline passed and the few that ran before the next
/// timer check, not the whole queue. Counted in runs, not time, so the machine's load
/// cannot change the outcome.
#[test]
fn a_woken_sleeper_runs_ahead_of_the_run_queue() {
    const BUSY: usize = 1000;
    const SLEEPS: usize = 20;
    let worst = gmp::Runtime::builder().procs(1).run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        // The sleep's deadline as nanoseconds since `t0` (u64::MAX: no sleep pending),
        // and how many busy runs began after it.
        let t0 = Instant::now();
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let late = Arc::new(AtomicUsize::new(0));
        let busy: Vec<_> = (0..BUSY)
            .map(|_| {
                let (stop, deadline, late) = (stop.clone(), deadline.clone(), late.clone());
                gmp::spawn(move || {
                    while !stop.load(SeqCst) {
                        if t0.elapsed().as_nanos() as u64 >= deadline.load(SeqCst) {
                            late.fetch_add(1, SeqCst);
                        }
                        gmp::yield_now();
                    }
                })
            })
            .collect();
        // Every busy goroutine queued and running.
        gmp::yield_now();
        let mut worst = 0;
        for _ in 0..SLEEPS {
            late.store(0, SeqCst);
            let d = Duration::from_micros(500);
            deadline.store((t0.elapsed() + d).as_nanos() as u64, SeqCst);
            gmp::sleep(d);
            deadline.store(u64::MAX, SeqCst);
            worst = worst.max(late.load(SeqCst));
        }
        stop.store(true, SeqCst);
        for h in busy {
            h.join().unwrap();
        }
        worst
    });
    // At the tail of the queue the sleeper would wait for all BUSY goroutines (the
    // rule before: at least BUSY - 1 late runs per sleep).
    assert!(
        worst < BUSY / 10,
        "{worst} goroutines ran between a sleep's deadline and the sleeper; \
         it waited behind the run queue"
    );
}

#[test]
fn zero_sleep_yields_and_returns() {
    gmp::Runtime::builder().procs(1).run(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let h = gmp::spawn(move || r.store(1, SeqCst));
        // On one P the spawned goroutine can only run if sleep(0) gives up the P.
        gmp::sleep(Duration::ZERO);
        assert_eq!(ran.load(SeqCst), 1, "sleep(0) did not yield");
        h.join().unwrap();
    });
}

#[test]
fn sleep_outside_a_runtime_sleeps_the_thread() {
    let d = Duration::from_millis(3);
    let t = Instant::now();
    gmp::sleep(d);
    assert!(t.elapsed() >= d);
}

#[test]
fn one_hundred_thousand_goroutines_sleep_at_once() {
    // Each goroutine sleeps 200..500 ms, again and again, until every one of them has gone
    // to sleep at least once and main has looked at the counters: however long spawning
    // takes (it is slow in debug builds and on a loaded machine), all of them are alive and
    // in their sleep loops when main samples `stats()`. Every single sleep is checked.
    const N: usize = 100_000;
    let t0 = Instant::now();
    let (goroutines_while_asleep, results) = gmp::run(move || {
        let asleep = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let asleep = asleep.clone();
                let release = release.clone();
                gmp::spawn(move || {
                    let d = Duration::from_micros(200_000 + (i as u64 * 3_001) % 300_000);
                    let mut sleeps = 0u32;
                    let mut early = 0u32;
                    loop {
                        let start = Instant::now();
                        let deadline = start + d;
                        if sleeps == 0 {
                            asleep.fetch_add(1, SeqCst);
                        }
                        gmp::sleep(d);
                        sleeps += 1;
                        let now = Instant::now();
                        if now < deadline || now.duration_since(start) < d {
                            early += 1;
                        }
                        if release.load(SeqCst) {
                            return (sleeps, early);
                        }
                    }
                })
            })
            .collect();
        while asleep.load(SeqCst) < N {
            gmp::sleep(Duration::from_millis(5));
        }
        let st = gmp::stats();
        release.store(true, SeqCst);
        let results: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        (st.goroutines, results)
    });
    assert!(
        goroutines_while_asleep > N,
        "stats().goroutines was {goroutines_while_asleep} with {N} goroutines asleep (+ main)"
    );
    assert_eq!(results.len(), N);
    let early: u32 = results.iter().map(|r| r.1).sum();
    let sleeps: u64 = results.iter().map(|r| r.0 as u64).sum();
    assert!(results.iter().all(|r| r.0 >= 1));
    assert_eq!(
        early, 0,
        "{early} of {sleeps} sleeps woke before their deadline"
    );
    assert!(t0.elapsed() >= Duration::from_millis(200));
}
