//! What the `hook` feature costs and what it buys. Prints `name value unit` lines.
//!
//! Per call (run it once built without the feature and once with; `scripts/hook-bench.sh`
//! interleaves the two): a 1-byte `write` then `read` over a Unix socket pair whose data
//! is always there, so no call blocks, on a goroutine, for a std socket (through the
//! hook's slow path when it is linked) and for a gmp-net socket (the hook's fast path:
//! one table load), and for a std socket on a plain thread.
//!
//! With the feature, also the `redis` workload: 1,000 goroutines on 2 Ps each doing
//! 100 SET/GET pairs over their own connection (the `redis` crate's sync client) against
//! a `redis-server` this program starts, with the hook on and off (`GMP_HOOK=off`, a
//! child process of this program): wall time, peak runtime threads, CPU time.
//!
//! `cargo bench --bench hook [--features hook] [-- NAME]`.

use std::io::{Read, Write};
use std::time::Instant;

fn report(name: &str, value: f64, unit: &str) {
    println!("{name} {value:.1} {unit}");
}

/// ns per call: the fastest of 20 batches (`GMP_HOOK_BENCH_BATCHES`), each `BATCH` rounds of a 1-byte write on `a`
/// and a 1-byte read on `b` (the fastest batch is the one the machine's noise touched
/// least; the hook's cost is a few instructions on a call of a few hundred ns).
fn ping<A: Write, B: Read>(a: &mut A, b: &mut B) -> f64 {
    const BATCH: u32 = 20_000;
    let mut buf = [0u8; 1];
    // Warm-up (and the hook's one-time work on a socket: its first non-blocking switch).
    for _ in 0..1000 {
        a.write_all(b"x").unwrap();
        b.read_exact(&mut buf).unwrap();
    }
    // Fewer under callgrind (scripts/hook-bench.sh counts instructions per call there).
    let batches: u32 = std::env::var("GMP_HOOK_BENCH_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut best = f64::MAX;
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..BATCH {
            a.write_all(b"x").unwrap();
            b.read_exact(&mut buf).unwrap();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / (2.0 * BATCH as f64));
    }
    best
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    #[cfg(feature = "hook")]
    if let Ok(v) = std::env::var("GMP_HOOK_BENCH_CHILD") {
        redis::child(&v);
        return;
    }
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let hook = if cfg!(feature = "hook") {
        "hook"
    } else {
        "nohook"
    };
    // Unix socket pairs: the cheapest socket calls, so the hook's share shows most.
    if want("call_std_goroutine") {
        let ns = gmp::Runtime::builder().procs(1).run(|| {
            let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
            ping(&mut a, &mut b)
        });
        report(&format!("call_std_goroutine_{hook}"), ns, "ns");
    }
    if want("call_gmp_goroutine") {
        let ns = gmp::Runtime::builder().procs(1).run(|| {
            let (mut a, mut b) = gmp::net::UnixStream::pair().unwrap();
            ping(&mut a, &mut b)
        });
        report(&format!("call_gmp_goroutine_{hook}"), ns, "ns");
    }
    if want("call_std_thread") {
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let ns = ping(&mut a, &mut b);
        report(&format!("call_std_thread_{hook}"), ns, "ns");
    }
    #[cfg(feature = "hook")]
    if want("redis") {
        redis::parent();
    }
}

#[cfg(feature = "hook")]
mod redis {
    use super::report;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const GOROUTINES: usize = 1000;
    const PAIRS: usize = 100;

    /// Starts redis-server, runs the workload in a child with the hook on and one with it
    /// off (alternating, 3 rounds), prints the medians.
    pub fn parent() {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("note: redis-server is not on PATH; skipping the redis workload");
            return;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &port.to_string(), "--maxclients", "4000"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut runs: [Vec<[f64; 3]>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..3 {
            for (i, mode) in ["on", "off"].iter().enumerate() {
                let mut c = Command::new(std::env::current_exe().unwrap());
                c.env("GMP_HOOK_BENCH_CHILD", port.to_string());
                if *mode == "off" {
                    c.env("GMP_HOOK", "off");
                }
                let out = c.output().expect("run the workload child");
                let text = String::from_utf8_lossy(&out.stdout);
                let v: Vec<f64> = text
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect();
                assert_eq!(v.len(), 3, "child printed {text:?}");
                runs[i].push([v[0], v[1], v[2]]);
            }
        }
        let _ = server.kill();
        let _ = server.wait();
        for (i, mode) in ["on", "off"].iter().enumerate() {
            let med = |k: usize| {
                let mut xs: Vec<f64> = runs[i].iter().map(|r| r[k]).collect();
                xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
                xs[xs.len() / 2]
            };
            report(
                &format!("redis_{GOROUTINES}x{PAIRS}_wall_hook_{mode}"),
                med(0),
                "ms",
            );
            report(
                &format!("redis_{GOROUTINES}x{PAIRS}_peak_threads_hook_{mode}"),
                med(1),
                "threads",
            );
            report(
                &format!("redis_{GOROUTINES}x{PAIRS}_cpu_hook_{mode}"),
                med(2),
                "ms",
            );
        }
    }

    fn cpu_ms() -> f64 {
        // SAFETY: getrusage into a zeroed struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let t = |tv: libc::timeval| tv.tv_sec as f64 * 1e3 + tv.tv_usec as f64 / 1e3;
        t(ru.ru_utime) + t(ru.ru_stime)
    }

    /// The workload, in a child: prints `wall_ms peak_threads cpu_ms`.
    pub fn child(port: &str) {
        let url = format!("redis://127.0.0.1:{port}/");
        let (wall, peak, cpu) = gmp::Runtime::builder().procs(2).run(move || {
            let client = ::redis::Client::open(url).unwrap();
            let peak = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (p, d) = (peak.clone(), done.clone());
            let sampler = std::thread::spawn(move || {
                // A plain thread samples, so that it runs whatever the goroutines do.
                while !d.load(SeqCst) {
                    let n = std::fs::read_dir("/proc/self/task")
                        .map(|d| d.count())
                        .unwrap_or(0);
                    p.fetch_max(n, SeqCst);
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let cpu0 = cpu_ms();
            let t = Instant::now();
            let hs: Vec<_> = (0..GOROUTINES)
                .map(|i| {
                    let client = client.clone();
                    gmp::spawn(move || {
                        let mut con = client.get_connection().expect("redis connect");
                        for j in 0..PAIRS {
                            let key = format!("b{i}:{j}");
                            ::redis::cmd("SET")
                                .arg(&key)
                                .arg(j)
                                .query::<()>(&mut con)
                                .unwrap();
                            let v: usize = ::redis::cmd("GET").arg(&key).query(&mut con).unwrap();
                            assert_eq!(v, j);
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let wall = t.elapsed().as_secs_f64() * 1e3;
            let cpu = cpu_ms() - cpu0;
            done.store(true, SeqCst);
            sampler.join().unwrap();
            // The sampler and the main thread are not the runtime's.
            (wall, peak.load(SeqCst).saturating_sub(2), cpu)
        });
        println!("{wall:.1} {peak} {cpu:.1}");
    }
}
