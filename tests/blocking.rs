//! A goroutine that blocks its thread never stalls the others: `gmp::blocking` releases
//! its P for the call, and sysmon hands the P of a goroutine that stayed away from the
//! scheduler for ~10 ms (a forgotten blocking call, a long computation) to another
//! thread. Threads are capped: past the cap a blocking call waits for a thread
//! (tests/blocking_waits_for_a_thread.rs).

mod common;

use common::panic_message;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// With one P: a goroutine ticks every 10 ms while another blocks its thread for 1 s
/// with `block`. Returns how many ticks happened during the block.
fn ticks_while_blocked(block: fn()) -> (usize, u64) {
    gmp::Runtime::builder().procs(1).run(move || {
        let ticks = Arc::new(AtomicUsize::new(0));
        let blocking = Arc::new(AtomicBool::new(false));
        let (t, b) = (ticks.clone(), blocking.clone());
        let ticker = gmp::spawn(move || {
            let end = Instant::now() + Duration::from_secs(5);
            while Instant::now() < end {
                gmp::sleep(Duration::from_millis(10));
                if b.load(SeqCst) {
                    t.fetch_add(1, SeqCst);
                }
            }
        });
        let b = blocking.clone();
        let blocker = gmp::spawn(move || {
            b.store(true, SeqCst);
            block();
            b.store(false, SeqCst);
        });
        blocker.join().unwrap();
        let n = ticks.load(SeqCst);
        let retakes = gmp::stats().retakes;
        drop(ticker); // detached: ends after 5 s or with the runtime
        (n, retakes)
    })
}

#[test]
fn a_forgotten_thread_sleep_does_not_stop_other_goroutines() {
    let (ticks, retakes) = ticks_while_blocked(|| common::block_thread(Duration::from_secs(1)));
    // 100 ticks fit in the second; sysmon needs 10-20 ms to notice. Allow a slow machine.
    assert!(
        ticks >= 30,
        "only {ticks} ticks of 10 ms during a 1 s thread::sleep on the only P"
    );
    assert!(retakes >= 1, "sysmon never retook the P");
}

#[test]
fn a_long_cpu_loop_does_not_stop_other_goroutines() {
    let (ticks, retakes) = ticks_while_blocked(|| {
        let end = Instant::now() + Duration::from_secs(1);
        let mut x = 0u64;
        while Instant::now() < end {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    });
    assert!(
        ticks >= 30,
        "only {ticks} ticks during a 1 s CPU loop on the only P"
    );
    assert!(retakes >= 1, "sysmon never retook the P");
}

#[test]
fn blocking_releases_the_p_for_the_call() {
    let (ticks, retakes) =
        ticks_while_blocked(|| gmp::blocking(|| std::thread::sleep(Duration::from_secs(1))));
    assert!(
        ticks >= 30,
        "only {ticks} ticks during a 1 s gmp::blocking call"
    );
    assert_eq!(
        retakes, 0,
        "gmp::blocking released the P itself; sysmon had nothing to do"
    );
}

#[test]
fn blocking_returns_the_value_and_propagates_panics() {
    gmp::Runtime::builder().procs(2).run(|| {
        assert_eq!(gmp::blocking(|| 6 * 7), 42);
        let r = std::panic::catch_unwind(|| gmp::blocking(|| panic!("inside blocking")));
        assert_eq!(
            panic_message(&*r.unwrap_err()).as_deref(),
            Some("inside blocking")
        );
        // The goroutine has a P again: it can spawn, park and be woken.
        let h = gmp::spawn(|| gmp::blocking(|| 1) + 1);
        gmp::sleep(Duration::from_millis(1));
        assert_eq!(h.join().unwrap(), 2);
    });
    // Outside a runtime it just calls the closure.
    assert_eq!(gmp::blocking(|| "plain"), "plain");
}

#[test]
fn many_goroutines_in_blocking_calls_at_once_all_finish() {
    gmp::Runtime::builder().procs(2).run(|| {
        let done = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..64)
            .map(|i| {
                let done = done.clone();
                gmp::spawn(move || {
                    for _ in 0..5 {
                        gmp::blocking(|| std::thread::sleep(Duration::from_millis(1 + i % 3)));
                        gmp::yield_now();
                    }
                    done.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(done.load(SeqCst), 64);
    });
}

#[test]
fn goroutines_that_lost_their_p_keep_working_correctly() {
    // Stress the retake race: goroutines alternate long thread-blocking stretches (their P
    // is retaken) with channel traffic, spawns and yields (they find out and get a P
    // back). Every message must arrive exactly once.
    gmp::Runtime::builder().procs(2).run(|| {
        let (tx, rx) = gmp::chan::bounded::<u64>(8);
        let producers: Vec<_> = (0..8u64)
            .map(|p| {
                let tx = tx.clone();
                gmp::spawn(move || {
                    for i in 0..200u64 {
                        if i % 50 == 0 {
                            // Long enough for sysmon (10 ms, ticking every 10 ms).
                            common::block_thread(Duration::from_millis(25));
                        }
                        if i % 7 == 0 {
                            let h = gmp::spawn(move || i);
                            assert_eq!(h.join().unwrap(), i);
                        }
                        tx.send(p * 1000 + i).unwrap();
                        if i % 3 == 0 {
                            gmp::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut seen = vec![false; 8000];
        for v in rx.iter() {
            assert!(!seen[v as usize], "{v} received twice");
            seen[v as usize] = true;
        }
        for h in producers {
            h.join().unwrap();
        }
        let missing = (0..8u64)
            .flat_map(|p| (0..200).map(move |i| p * 1000 + i))
            .filter(|&v| !seen[v as usize])
            .count();
        assert_eq!(missing, 0);
        assert!(
            gmp::stats().retakes > 0,
            "no P was retaken: the race was not exercised"
        );
    });
}

#[test]
fn past_the_thread_limit_blocking_calls_wait_instead_of_panicking() {
    // One P, at most 3 threads: 2 for blocking calls. 8 calls of 300 ms each take turns
    // on those 2 threads (they used to panic with the third); the main goroutine keeps
    // its P meanwhile.
    let (results, elapsed, most) = gmp::Runtime::builder().procs(1).max_threads(3).run(|| {
        let most = Arc::new(AtomicUsize::new(0));
        let t = Instant::now();
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let most = most.clone();
                gmp::spawn(move || {
                    gmp::blocking(|| {
                        most.fetch_max(gmp::stats().blocked_threads, SeqCst);
                        std::thread::sleep(Duration::from_millis(300))
                    })
                })
            })
            .collect();
        let results: Vec<_> = hs.into_iter().map(|h| h.join().is_ok()).collect();
        (results, t.elapsed(), most.load(SeqCst))
    });
    assert!(results.iter().all(|&ok| ok), "a call failed: {results:?}");
    assert!(
        most <= 2,
        "{most} threads in blocking calls at once, limit 2"
    );
    assert!(
        elapsed >= Duration::from_millis(1150),
        "8 calls of 300 ms on 2 threads took only {elapsed:?}: they did not wait"
    );
}

/// A runtime whose blocking calls could never get a thread is refused at `run`.
#[test]
#[should_panic(expected = "blocking calls at least one more")]
fn max_threads_not_above_procs_is_rejected() {
    gmp::Runtime::builder().procs(2).max_threads(2).run(|| ());
}
