//! A tour of gmp-core: goroutines in plain blocking style, spawned by the thousand,
//! sleeping, passing results back through `join`.
//!
//! `cargo run --release --example goroutines -- [N]` (default 100000)

use std::time::{Duration, Instant};

fn main() {
    let n: u64 = std::env::args().nth(1).map_or(100_000, |a| {
        a.parse()
            .unwrap_or_else(|_| panic!("N must be a whole number, got {a:?}"))
    });
    gmp::run(move || {
        let t = Instant::now();
        // Each goroutine sleeps a little (parking, not blocking its thread), then answers.
        let handles: Vec<_> = (0..n)
            .map(|i| {
                gmp::spawn(move || {
                    gmp::sleep(Duration::from_millis(i % 100));
                    i
                })
            })
            .collect();
        let peak = gmp::stats();
        let sum: u64 = handles
            .into_iter()
            .map(|h| h.join().expect("no goroutine panics"))
            .sum();
        assert_eq!(sum, n * (n.saturating_sub(1)) / 2);
        println!(
            "{n} goroutines slept and answered in {:?} on {} threads ({} procs); sum {sum}",
            t.elapsed(),
            peak.threads,
            peak.procs
        );
        println!("{:?}", gmp::stats());
    });
}
