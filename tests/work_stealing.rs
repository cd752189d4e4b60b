//! Idle Ps steal work: CPU-bound goroutines spawned on one P end up running on every P's
//! thread, and never more of them run at once than there are Ps (unless sysmon took a P
//! from a goroutine that stayed away from the scheduler for 10 ms: see tests/sysmon.rs).

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
    /// Ps sysmon took from a goroutine that stayed away from the scheduler for 10 ms.
    /// Each slice below yields after ~1 ms of CPU, so this stays 0 unless the OS
    /// descheduled an M for that long; each retake can let one more goroutine run at once.
    retakes: u64,
}

/// `goroutines` CPU-bound goroutines spawned from one P: each computes in ~1 ms slices
/// (yielding in between, as a goroutine must to share its P) for at least 100 ms, and
/// longer until every P has run some slice (at most 2 s).
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
                    let t = Instant::now();
                    let mut x = 0;
                    loop {
                        let now = running.fetch_add(1, SeqCst) + 1;
                        peak.fetch_max(now, SeqCst);
                        threads.lock().unwrap().insert(std::thread::current().id());
                        x ^= spin(Duration::from_millis(1), Duration::from_millis(1), || true);
                        running.fetch_sub(1, SeqCst);
                        let e = t.elapsed();
                        let everywhere = threads.lock().unwrap().len() >= procs;
                        if e >= Duration::from_secs(2)
                            || (e >= Duration::from_millis(100) && everywhere)
                        {
                            return x;
                        }
                        gmp::yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let st = gmp::stats();
        let threads = threads.lock().unwrap().clone();
        Report {
            threads,
            peak: peak.load(SeqCst),
            steals: st.steals,
            procs: st.procs,
            retakes: st.retakes,
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
    // A retake hands a P, with its queue, to another M: the goroutines then reach a
    // second thread without a steal (seen once, under a load of 5 on this 2-core machine).
    assert!(
        r.steals > 0 || r.retakes > 0,
        "no steals recorded ({} threads, no retakes)",
        r.threads.len()
    );
    assert!(
        r.peak as u64 <= 2 + r.retakes,
        "{} goroutines ran at once on 2 Ps ({} retakes)",
        r.peak,
        r.retakes
    );
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
    // As with 2 Ps: a retake can spread the goroutines without a steal.
    assert!(
        r.steals > 0 || r.retakes > 0,
        "no steals recorded ({} threads, no retakes)",
        r.threads.len()
    );
    assert!(
        r.peak as u64 <= 4 + r.retakes,
        "{} goroutines ran at once on 4 Ps ({} retakes)",
        r.peak,
        r.retakes
    );
}

#[test]
fn one_proc_runs_one_goroutine_at_a_time() {
    let r = cpu_bound_load(1, 4);
    assert_eq!(r.procs, 1);
    assert_eq!(r.steals, 0);
    assert!(
        r.peak as u64 <= 1 + r.retakes,
        "{} goroutines ran at once on 1 P ({} retakes)",
        r.peak,
        r.retakes
    );
    if r.retakes == 0 {
        assert_eq!(r.threads.len(), 1);
    }
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
