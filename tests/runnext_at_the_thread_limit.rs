//! A P whose M gives it up for a `blocking` call while a goroutine waits in its
//! `runnext` (readied by a spawn or a timer) must reach an M, even at the thread limit.
//! There `startm` finds no M, leaves the P on the idle list and counts the start as
//! pending, for the next M that goes idle. That M used to take whichever P was idled
//! last, and when another P went idle after the refused one it took that one, ran
//! nothing, and slept: the goroutine in the refused P's `runnext` (which no thief may
//! take) was stranded, every M went idle, and `checkdead` reported a deadlock with the
//! goroutine runnable (`two_thousand_goroutines_share_two_threads_for_blocking_calls`
//! failed so once).
//!
//! Each round here spawns goroutines that spawn a child (into their P's `runnext`),
//! then make a blocking call at the limit of 3 threads for 2 Ps, then join the child;
//! and a sleeper whose timer readies it into `runnext`. A stranded child shows as the
//! deadlock panic when the round ends, or as the watchdog's abort.

mod common;

use common::Watchdog;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pure computation for about `d`: the blocking call holds its thread that long.
fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn runnext_work_of_a_p_given_up_at_the_thread_limit_runs() {
    let _w = Watchdog::new(
        "runnext work of Ps given up at the thread limit",
        Duration::from_secs(120),
    );
    let rounds = env("GMP_STRESS_ROUNDS", 3000);
    let workers = env("GMP_STRESS_WORKERS", 4);
    let calls = env("GMP_STRESS_CALLS", 4);
    let ran = gmp::Runtime::builder()
        .procs(2)
        .max_threads(3)
        .run(move || {
            let ran = Arc::new(AtomicUsize::new(0));
            for _ in 0..rounds {
                let sleeper = gmp::spawn(|| gmp::sleep(Duration::from_micros(50)));
                let hs: Vec<_> = (0..workers)
                    .map(|_| {
                        let ran = ran.clone();
                        gmp::spawn(move || {
                            for _ in 0..calls {
                                let r = ran.clone();
                                let child = gmp::spawn(move || {
                                    r.fetch_add(1, SeqCst);
                                });
                                gmp::blocking(|| spin(Duration::from_micros(20)));
                                child.join().unwrap();
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
                sleeper.join().unwrap();
            }
            ran.load(SeqCst)
        });
    assert_eq!(ran, rounds * workers * calls);
}
