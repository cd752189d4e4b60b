//! Idle Ps steal work: CPU-bound goroutines spawned on one P end up running on every P's
//! thread, and never more of them run at once than there are Ps.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Spins without yielding for at least `min`, and then until `enough()` holds or
/// `max` has passed.
fn spin(min: Duration, max: Duration, enough: impl Fn() -> bool) -> u64 {
    let t = Instant::now();
    let mut x = 0u64;
    loop {
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let e = t.elapsed();
        if e >= max || (e >= min && enough()) {
            return x;
        }
    }
}

struct Report {
    threads: HashSet<ThreadId>,
    peak: usize,
    steals: u64,
    procs: usize,
}

fn cpu_bound_load(procs: usize, goroutines: usize) -> Report {
    gmp::Runtime::builder().procs(procs).run(move || {
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..goroutines)
            .map(|_| {
                let threads = threads.clone();
                let running = running.clone();
                let peak = peak.clone();
                gmp::spawn(move || {
                    let now = running.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    threads.lock().unwrap().insert(std::thread::current().id());
                    // ~100 ms of CPU, longer if not every P has picked up work yet (so a
                    // slow thread start cannot make the test flaky; a runtime that never
                    // steals still fails, after `max`).
                    let x = spin(Duration::from_millis(100), Duration::from_secs(2), || {
                        threads.lock().unwrap().len() >= procs
                    });
                    // Record the thread again: the goroutine never yielded, so it must
                    // still be on the same thread.
                    let after = std::thread::current().id();
                    running.fetch_sub(1, SeqCst);
                    (after, x)
                })
            })
            .collect();
        for h in hs {
            let (tid, _) = h.join().unwrap();
            assert!(threads.lock().unwrap().contains(&tid));
        }
        let st = gmp::stats();
        let threads = threads.lock().unwrap().clone();
        Report {
            threads,
            peak: peak.load(SeqCst),
            steals: st.steals,
            procs: st.procs,
        }
    })
}

#[test]
fn cpu_bound_goroutines_spread_over_two_procs() {
    let r = cpu_bound_load(2, 8);
    assert_eq!(r.procs, 2);
    assert!(
        r.threads.len() >= 2,
        "all CPU-bound goroutines ran on {} thread(s)",
        r.threads.len()
    );
    assert!(r.steals > 0, "no steals recorded");
    assert!(r.peak <= 2, "{} goroutines ran at once on 2 Ps", r.peak);
}

#[test]
fn cpu_bound_goroutines_spread_over_four_procs() {
    // More Ps than this machine may have CPUs: the Ps still each get an M.
    let r = cpu_bound_load(4, 16);
    assert_eq!(r.procs, 4);
    assert!(
        r.threads.len() >= 4,
        "CPU-bound goroutines ran on only {} thread(s) with 4 Ps",
        r.threads.len()
    );
    assert!(r.steals > 0, "no steals recorded");
    assert!(r.peak <= 4, "{} goroutines ran at once on 4 Ps", r.peak);
}

#[test]
fn one_proc_runs_one_goroutine_at_a_time() {
    let r = cpu_bound_load(1, 4);
    assert_eq!(r.procs, 1);
    assert_eq!(r.peak, 1);
    assert_eq!(r.threads.len(), 1);
    assert_eq!(r.steals, 0);
}

#[test]
fn spinning_goroutine_does_not_starve_others_on_other_procs() {
    // One goroutine spins (without yielding) until the others have all finished; that
    // only works if they run on the other P.
    gmp::Runtime::builder().procs(2).run(|| {
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let spinner = gmp::spawn(move || {
            let t = Instant::now();
            while d.load(SeqCst) < 100 {
                assert!(
                    t.elapsed() < Duration::from_secs(20),
                    "other goroutines never ran"
                );
                std::hint::spin_loop();
            }
        });
        // Give the spinner a head start so it occupies a P.
        gmp::sleep(Duration::from_millis(10));
        let hs: Vec<_> = (0..100)
            .map(|_| {
                let done = done.clone();
                gmp::spawn(move || {
                    gmp::yield_now();
                    done.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        spinner.join().unwrap();
    });
}

#[test]
fn timer_fires_while_its_p_runs_a_goroutine_that_never_yields() {
    // Main's sleep timer goes on P0's heap, then P0's M runs a goroutine that spins until
    // main is back. The other P is idle and its M asleep: it must be woken to run the timer
    // (it steals expired timers of busy Ps), or main never wakes.
    let woke_in_time = gmp::Runtime::builder().procs(2).run(|| {
        let woke = Arc::new(AtomicUsize::new(0));
        let w = woke.clone();
        // Goes to this P's `runnext` (not stealable): it runs here once main parks.
        let spinner = gmp::spawn(move || {
            let t = Instant::now();
            while w.load(SeqCst) == 0 {
                if t.elapsed() > Duration::from_secs(10) {
                    return false;
                }
                std::hint::spin_loop();
            }
            true
        });
        // Without yielding, wait until the other M has found nothing to do and gone idle
        // (at that point no timer is pending, so it does not wait for one).
        let t = Instant::now();
        while gmp::stats().idle_threads == 0 && t.elapsed() < Duration::from_secs(2) {
            std::hint::spin_loop();
        }
        gmp::sleep(Duration::from_millis(1));
        woke.store(1, SeqCst);
        spinner.join().unwrap()
    });
    assert!(
        woke_in_time,
        "a 1 ms sleep did not return within 10 s: its P was busy with a spinning goroutine \
         and the idle P's M was never woken to run the timer"
    );
}
