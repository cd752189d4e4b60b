//! Scheduler micro-benchmarks, in the shapes of the peers go-micro and may-micro
//! (`bench/go/micro/main.go`, `bench/rust/src/bin/may-micro.rs`).
//! Prints one `name value unit` line each.
//!
//! `cargo bench --bench sched` runs all; `cargo bench --bench sched -- NAME` runs those
//! whose name contains NAME, or only the one named NAME if that is a whole name.
//! `parked-1m` is heavy (about 5 GiB of memory) and runs only when named.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn report(name: &str, value: f64, unit: &str, note: &str) {
    println!("{name:<22} {value:10.1} {unit}  {note}");
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |name: &str, heavy: bool| {
        if filter.is_empty() {
            !heavy
        } else {
            filter
                .iter()
                .any(|f| name == f || (!exact(f) && name.contains(f.as_str())))
        }
    };
    if want("yield", false) {
        yield_bench(None);
    }
    if want("yield (procs=1)", false) {
        yield_bench(Some(1));
    }
    if want("spawn+join", false) {
        spawn_join(None);
    }
    if want("spawn+join (procs=1)", false) {
        spawn_join(Some(1));
    }
    if want("parked-100k", false) {
        parked("parked-100k", 100_000);
    }
    if want("blocking round trip", false) {
        blocking_round_trip();
    }
    if want("parked-1m", true) {
        parked("parked-1m", 1_000_000);
    }
}

/// `gmp::blocking(|| ())` with a free P: release the P, take it back.
fn blocking_round_trip() {
    let n = 2_000_000u64 / scale();
    let elapsed = gmp::Runtime::builder().procs(2).run(move || {
        let t = Instant::now();
        for i in 0..n {
            std::hint::black_box(gmp::blocking(|| std::hint::black_box(i)));
        }
        t.elapsed()
    });
    report(
        "blocking round trip",
        elapsed.as_nanos() as f64 / n as f64,
        "ns/op",
        "gmp::blocking(|| ()) with nothing else running, 2 Ps",
    );
}

fn builder(procs: Option<usize>) -> gmp::RuntimeBuilder {
    match procs {
        Some(n) => gmp::Runtime::builder().procs(n),
        None => gmp::Runtime::builder(),
    }
}

/// go-micro's `gosched`: two goroutines each yield n/2 times; total time / n.
fn yield_bench(procs: Option<usize>) {
    let n = 20_000_000u64 / scale();
    let (elapsed, p) = builder(procs).run(move || {
        let t = Instant::now();
        let hs: Vec<_> = (0..2)
            .map(|_| {
                gmp::spawn(move || {
                    for _ in 0..n / 2 {
                        gmp::yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        (t.elapsed(), gmp::stats().procs)
    });
    let name = if procs.is_some() {
        "yield (procs=1)"
    } else {
        "yield"
    };
    report(
        name,
        elapsed.as_nanos() as f64 / n as f64,
        "ns/op",
        &format!("({n} yields, {p} procs)"),
    );
}

/// go-micro's `spawn+join`: start n empty goroutines, then wait for all.
fn spawn_join(procs: Option<usize>) {
    let n = 1_000_000 / scale() as usize;
    let (elapsed, p, retakes, steals) = builder(procs).run(move || {
        // Warm the stack caches, as Go's and may's heaps are warm by this point too.
        let hs: Vec<_> = (0..10_000).map(|_| gmp::spawn(|| {})).collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let t = Instant::now();
        let hs: Vec<_> = (0..n).map(|_| gmp::spawn(|| {})).collect();
        for h in hs {
            h.join().unwrap();
        }
        let st = gmp::stats();
        (t.elapsed(), st.procs, st.retakes, st.steals)
    });
    let name = if procs.is_some() {
        "spawn+join (procs=1)"
    } else {
        "spawn+join"
    };
    report(
        name,
        elapsed.as_nanos() as f64 / n as f64,
        "ns/op",
        &format!("({n} goroutines, {p} procs, {retakes} retakes, {steals} steals)"),
    );
}

/// `n` goroutines parked in `sleep` at once with the default 256 KiB stack: resident
/// memory per goroutine, measured from /proc/self/statm before and after.
fn parked(name: &str, n: usize) {
    let (per_g, maps, secs) = gmp::run(move || {
        let before = rss_bytes();
        let parked = Arc::new(AtomicUsize::new(0));
        let release = Instant::now() + Duration::from_secs(3600);
        let t = Instant::now();
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let parked = parked.clone();
                gmp::spawn(move || {
                    parked.fetch_add(1, Ordering::Relaxed);
                    let now = Instant::now();
                    gmp::sleep(release.saturating_duration_since(now));
                })
            })
            .collect();
        while parked.load(Ordering::Relaxed) < n {
            gmp::sleep(Duration::from_millis(10));
        }
        // Let the last ones reach their park.
        gmp::sleep(Duration::from_millis(100));
        let secs = t.elapsed().as_secs_f64();
        let per_g = (rss_bytes() - before) as f64 / n as f64;
        let maps = std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count();
        // The goroutines are left parked: the runtime drops them when main returns.
        drop(hs);
        (per_g, maps, secs)
    });
    report(
        name,
        per_g,
        "bytes/G",
        &format!("({n} parked in {secs:.1} s; {maps} mappings in the process)"),
    );
}

/// Whether `f` names one benchmark exactly (then it runs alone: `spawn+join` without
/// `spawn+join (procs=1)`).
fn exact(f: &str) -> bool {
    NAMES.contains(&f)
}

const NAMES: &[&str] = &[
    "yield",
    "yield (procs=1)",
    "spawn+join",
    "spawn+join (procs=1)",
    "parked-100k",
    "blocking round trip",
    "parked-1m",
];

/// `BENCH_SCALE=k` divides the iteration counts by k (for runs under valgrind).
fn scale() -> u64 {
    std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}
