//! Channel micro-benchmarks, in the shapes of go-micro's (`bench/go/micro`). Prints one
//! `name value unit` line each.
//!
//! `cargo bench --bench chan` runs all; `cargo bench --bench chan -- NAME` runs those whose
//! name contains NAME. `BENCH_SCALE=k` divides the iteration counts by k (for valgrind).
//!
//! Definitions (go-micro's, `bench/go/micro/main.go`):
//! - `chan ping-pong`: two unbuffered channels; an echo goroutine forwards each value
//!   from `ping` to `pong`; the main goroutine sends `i` on `ping` and receives the
//!   answer from `pong`, n = 1,000,000 times. ns per round trip (one send + its answer).
//! - `chan 4x4 buffered`: one channel of capacity 1024; 4 producers send n/4 values each,
//!   4 consumers receive n/4 each, n = 4,000,000; timed from before the spawns until the
//!   consumers are done. ns per message, and messages per second.
//! - `select 2 ready` (not in go-micro): two channels each holding n values, then n
//!   `select`s with one receive arm per channel, n = 1,000,000. ns per select. The Go
//!   peer for it:
//!   ```go
//!   a, b := make(chan int, n), make(chan int, n)
//!   for i := 0; i < n; i++ { a <- i; b <- i }
//!   start := time.Now()
//!   for i := 0; i < n; i++ { select { case <-a: case <-b: } }
//!   ```

use gmp::chan::{bounded, unbounded};
use std::time::{Duration, Instant};

fn report(name: &str, value: f64, unit: &str, note: &str) {
    println!("{name:<26} {value:10.1} {unit}  {note}");
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if want("chan ping-pong") {
        ping_pong(None);
    }
    if want("chan ping-pong (procs=1)") {
        ping_pong(Some(1));
    }
    if want("chan 4x4 buffered") {
        four_by_four(None);
    }
    if want("chan 4x4 buffered (procs=1)") {
        four_by_four(Some(1));
    }
    if want("select 2 ready") {
        select_two_ready();
    }
}

fn builder(procs: Option<usize>) -> gmp::RuntimeBuilder {
    match procs {
        Some(n) => gmp::Runtime::builder().procs(n),
        None => gmp::Runtime::builder(),
    }
}

fn suffix(procs: Option<usize>) -> String {
    procs.map_or(String::new(), |n| format!(" (procs={n})"))
}

/// go-micro's `chan ping-pong`.
fn ping_pong(procs: Option<usize>) {
    let n = 1_000_000 / scale();
    let (elapsed, p) = builder(procs).run(move || {
        let (ping_tx, ping_rx) = bounded::<u64>(0);
        let (pong_tx, pong_rx) = bounded::<u64>(0);
        let echo = gmp::spawn(move || {
            for v in ping_rx.iter() {
                pong_tx.send(v).unwrap();
            }
        });
        let t = Instant::now();
        for i in 0..n {
            ping_tx.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        let e = t.elapsed();
        drop(ping_tx);
        echo.join().unwrap();
        (e, gmp::stats().procs)
    });
    report(
        &format!("chan ping-pong{}", suffix(procs)),
        per_op(elapsed, n),
        "ns/op",
        &format!("({n} round trips, {p} procs)"),
    );
}

/// go-micro's `chan 4x4 buffered`.
fn four_by_four(procs: Option<usize>) {
    let n = 4_000_000 / scale();
    let (elapsed, p) = builder(procs).run(move || {
        let (tx, rx) = bounded::<u64>(1024);
        let t = Instant::now();
        for _ in 0..4 {
            let tx = tx.clone();
            gmp::spawn(move || {
                for i in 0..n / 4 {
                    tx.send(i).unwrap();
                }
            });
        }
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                gmp::spawn(move || {
                    for _ in 0..n / 4 {
                        rx.recv().unwrap();
                    }
                })
            })
            .collect();
        for c in consumers {
            c.join().unwrap();
        }
        (t.elapsed(), gmp::stats().procs)
    });
    report(
        &format!("chan 4x4 buffered{}", suffix(procs)),
        per_op(elapsed, n),
        "ns/op",
        &format!(
            "({:.0} msgs/s; {n} msgs, {p} procs)",
            n as f64 / elapsed.as_secs_f64()
        ),
    );
}

/// Two always-ready channels, one `select` per value.
fn select_two_ready() {
    let n = 1_000_000 / scale();
    let elapsed = gmp::run(move || {
        let (ta, ra) = unbounded::<u64>();
        let (tb, rb) = unbounded::<u64>();
        for i in 0..n {
            ta.send(i).unwrap();
            tb.send(i).unwrap();
        }
        let t = Instant::now();
        let mut sum = 0u64;
        for _ in 0..n {
            sum += gmp::select! {
                recv(ra) -> v => v.unwrap(),
                recv(rb) -> v => v.unwrap(),
            };
        }
        let e = t.elapsed();
        std::hint::black_box(sum);
        e
    });
    report(
        "select 2 ready",
        per_op(elapsed, n),
        "ns/op",
        &format!("({n} selects)"),
    );
}

fn per_op(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

fn scale() -> u64 {
    std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}
