//! `gmp::sync` micro-benchmarks, in the shapes of go-micro, the Go peer's micro-benchmarks
//! (`mutex uncontended` is its case of the same name). Prints one `name value unit` line each.
//!
//! `cargo bench --bench sync` runs all; `cargo bench --bench sync -- NAME` runs those
//! whose name contains NAME.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

fn report(name: &str, value: f64, unit: &str, note: &str) {
    println!("{name:<30} {value:10.1} {unit}  {note}");
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if want("mutex uncontended") {
        uncontended();
    }
    if want("mutex contended 4 goroutines") {
        contended(4);
    }
    if want("std mutex uncontended") {
        std_uncontended();
    }
}

/// go-micro's `mutex uncontended`: one goroutine locks and unlocks n times.
fn uncontended() {
    let n = 20_000_000u64 / scale();
    let elapsed = gmp::run(move || {
        // Go's loop exactly: lock, unlock, nothing in between.
        let m = gmp::sync::Mutex::new(());
        let t = Instant::now();
        for _ in 0..n {
            drop(black_box(&m).lock());
        }
        t.elapsed()
    });
    report(
        "mutex uncontended",
        elapsed.as_nanos() as f64 / n as f64,
        "ns/op",
        &format!("({n} lock+unlock)"),
    );
}

/// `g` goroutines each lock, bump a shared counter and unlock n/g times; total time / n.
fn contended(g: u64) {
    let n = 4_000_000u64 / scale();
    let (elapsed, procs) = gmp::run(move || {
        let m = Arc::new(gmp::sync::Mutex::new(0u64));
        let t = Instant::now();
        let hs: Vec<_> = (0..g)
            .map(|_| {
                let m = m.clone();
                gmp::spawn(move || {
                    for _ in 0..n / g {
                        *black_box(&*m).lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let e = t.elapsed();
        assert_eq!(*m.lock(), n / g * g);
        (e, gmp::stats().procs)
    });
    report(
        &format!("mutex contended {g} goroutines"),
        elapsed.as_nanos() as f64 / (n / g * g) as f64,
        "ns/op",
        &format!("({n} lock+unlock, {procs} procs)"),
    );
}

/// For reference: `std::sync::Mutex` in a goroutine, uncontended.
fn std_uncontended() {
    let n = 20_000_000u64 / scale();
    let elapsed = gmp::run(move || {
        let m = std::sync::Mutex::new(0u64);
        let t = Instant::now();
        for _ in 0..n {
            *black_box(&m).lock().unwrap() += 1;
        }
        t.elapsed()
    });
    report(
        "std mutex uncontended",
        elapsed.as_nanos() as f64 / n as f64,
        "ns/op",
        &format!("({n} lock+unlock)"),
    );
}

/// `BENCH_SCALE=k` divides the iteration counts by k (for runs under valgrind).
fn scale() -> u64 {
    std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}
