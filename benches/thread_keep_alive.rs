//! What keeping an idle runtime thread costs against starting a new one, for the choice
//! of `RuntimeBuilder::thread_keep_alive`'s default (`DEFAULT_THREAD_KEEP_ALIVE`).
//!
//! - `burst, new threads` / `burst, idle threads`: 500 `gmp::blocking` calls at once,
//!   each waiting until all are inside (so each has a thread of its own), on a fresh
//!   runtime (every call's thread is started) and again on the same runtime (every
//!   call finds an idle thread). Per call.
//! - `thread start`: the difference, per thread: what a burst pays per thread when
//!   the keep-alive let the previous burst's threads go.
//! - `one call, new thread` / `one call, idle thread`: one `gmp::blocking` call at a
//!   time on one P that has other work, so each call hands the P to another thread:
//!   with a keep-alive of zero that thread is new each time (the last one exited as
//!   soon as it idled), with no limit it is the idle one. The difference is what a
//!   thread's start and exit cost the calling goroutine, in the latency of its call.
//! - `idle thread rss` / `idle thread vm`: resident and virtual memory per idle thread
//!   while they wait (`/proc/self/statm` before and after the burst).
//! - `rss returned`: resident memory per thread given back once they exited.
//!
//! Prints one `name value unit` line each. `cargo bench --bench thread_keep_alive`
//! runs all; `-- NAME` those whose name contains NAME.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const N: usize = 500;

fn report(name: &str, value: f64, unit: &str, note: &str) {
    println!("{name:<28} {value:10.2} {unit}  {note}");
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if want("burst") || want("thread start") {
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let (c, w) = gmp::Runtime::builder()
                .procs(2)
                .thread_keep_alive(Duration::MAX)
                .run(|| (burst(N), burst(N)));
            cold.push(c);
            warm.push(w);
        }
        let (c, w) = (median(cold), median(warm));
        let per = |d: Duration| d.as_secs_f64() * 1e6 / N as f64;
        report(
            "burst, new threads",
            per(c),
            "us/call",
            "(median of 5 bursts of 500)",
        );
        report(
            "burst, idle threads",
            per(w),
            "us/call",
            "(the same, threads kept)",
        );
        report(
            "thread start",
            per(c) - per(w),
            "us/thread",
            "(the difference)",
        );
    }
    if want("one call") {
        let n = 2000;
        let (mut new, mut idle) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            new.push(one_at_a_time(Duration::ZERO, n));
            idle.push(one_at_a_time(Duration::MAX, n));
        }
        let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
        let (a, b) = (per(median(new)), per(median(idle)));
        report(
            "one call, new thread",
            a,
            "us/call",
            "(median of 5 runs of 2,000)",
        );
        report(
            "one call, idle thread",
            b,
            "us/call",
            "(the same, threads kept)",
        );
    }
    if want("rss") || want("vm") {
        gmp::Runtime::builder()
            .procs(2)
            .thread_keep_alive(Duration::from_millis(200))
            .run(|| {
                burst(8);
                gmp::sleep(Duration::from_millis(400));
                let before = statm();
                burst(N);
                let idle = statm();
                let t = Instant::now();
                while gmp::stats().threads > 3 && t.elapsed() < Duration::from_secs(10) {
                    gmp::sleep(Duration::from_millis(10));
                }
                // sysmon joins them within a tick.
                gmp::sleep(Duration::from_millis(50));
                let after = statm();
                let kib = |pages: i64| pages as f64 * 4.0 / N as f64;
                report(
                    "idle thread rss",
                    kib(idle.1 - before.1),
                    "KiB/thread",
                    &format!("({N} idle threads)"),
                );
                report(
                    "idle thread vm",
                    kib(idle.0 - before.0),
                    "KiB/thread",
                    "(address space: stack, guard, signal stack)",
                );
                report(
                    "rss returned",
                    kib(idle.1 - after.1),
                    "KiB/thread",
                    &format!(
                        "(after the keep-alive; {} exited)",
                        gmp::stats().threads_exited
                    ),
                );
            });
    }
}

/// `n` blocking calls one after the other on one P kept busy by a yielding goroutine,
/// with idle threads kept for `keep_alive`.
fn one_at_a_time(keep_alive: Duration, n: u32) -> Duration {
    gmp::Runtime::builder()
        .procs(1)
        .thread_keep_alive(keep_alive)
        .run(move || {
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let spinner = gmp::spawn(move || {
                while !s.load(SeqCst) {
                    gmp::yield_now();
                }
            });
            let t = Instant::now();
            for _ in 0..n {
                gmp::blocking(|| std::hint::black_box(()));
            }
            let t = t.elapsed();
            stop.store(true, SeqCst);
            spinner.join().expect("the spinner");
            t
        })
}

/// `n` blocking calls at once, each on a thread of its own; returns how long they took.
fn burst(n: usize) -> Duration {
    let inside = Arc::new(Barrier::new(n));
    let t = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let inside = inside.clone();
            gmp::spawn(move || {
                gmp::blocking(move || {
                    inside.wait();
                });
            })
        })
        .collect();
    for h in hs {
        h.join().expect("a blocking call");
    }
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// (virtual, resident) pages of this process.
fn statm() -> (i64, i64) {
    let s = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let mut it = s
        .split_whitespace()
        .map(|x| x.parse::<i64>().expect("a number"));
    (it.next().unwrap(), it.next().unwrap())
}
