//! A goroutine that spawns in a loop and never parks loses its P to sysmon after 10 ms
//! (`handoff::retake`); its next spawn takes a P back, as Go's preemption at `newproc`
//! would put it back on one. With one P the goroutines it spawned then never run beside
//! it again, except in the short stretch between a retake and its next spawn.
//!
//! Before, it went on spawning without a P for as long as it never parked: the spawned
//! goroutines ran on the P's new M beside it, two threads running goroutine code with
//! one P, and every spawn took the global queue's slow path.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pure computation for about `d`: no runtime call, so nothing switches goroutines.
fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn a_spawning_loop_gets_its_p_back_after_a_retake() {
    let (windows, concurrent, retakes, spawned, ran) = gmp::Runtime::builder().procs(1).run(|| {
        let ran = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut handles = Vec::new();
        let (mut windows, mut concurrent) = (0u64, 0u64);
        // Until sysmon has retaken the P a few times (or 5 s pass, under a load
        // that keeps sysmon from running at all).
        while start.elapsed() < Duration::from_millis(100)
            || (gmp::stats().retakes < 3 && start.elapsed() < Duration::from_secs(5))
        {
            let r = ran.clone();
            handles.push(gmp::spawn(move || {
                r.fetch_add(1, SeqCst);
            }));
            // A window of 200 µs with no runtime call: a goroutine runs in it only on
            // another M, with a P this one no longer holds.
            let before = ran.load(SeqCst);
            spin(Duration::from_micros(200));
            windows += 1;
            if ran.load(SeqCst) != before {
                concurrent += 1;
            }
        }
        let retakes = gmp::stats().retakes;
        let spawned = handles.len() as u64;
        for h in handles {
            h.join().unwrap();
        }
        (windows, concurrent, retakes, spawned, ran.load(SeqCst))
    });
    assert_eq!(ran, spawned, "every spawned goroutine ran once");
    assert!(retakes > 0, "sysmon never took the P in {windows} windows");
    // Each retake lets the queued goroutines run beside this one until its next spawn,
    // which ends the window the retake fell in (or, if it fell between a spawn and the
    // window's first load, the next one).
    assert!(
        concurrent <= 2 * retakes,
        "goroutines ran beside the spawning loop in {concurrent} of {windows} windows, \
         with only {retakes} retakes: it went on without a P"
    );
}
