//! Timer latency under load (issue 20): N goroutines doing loopback TCP echo round
//! trips against an echo server in the same runtime, and one goroutine that sleeps 5 ms
//! over and over and records by how much each sleep overshoots. Two Ps. The Go twin is
//! `bench/go/timerlat`, `scripts/timer-latency.sh` runs both.
//!
//! `cargo bench --bench timer_latency -- [N ...] [--secs S]` (default N = 1000 and
//! 10000, S = 3). Prints `name value unit` lines per N:
//! `timer_overshoot_{p50,p99,max}_nN` in µs and `round_trips_nN` per second.
//!
//! Each client connection takes two descriptors in this process (its end and the
//! server's), so N = 10,000 needs about 20,064: the soft limit is raised to the hard one,
//! and to 2 N + 64 where the process may raise the hard limit (CAP_SYS_RESOURCE). If it still does
//! not fit, the run stops with the limit it needs.

use gmp::net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The sleep whose overshoot is measured.
const SLEEP: Duration = Duration::from_millis(5);
/// Bytes per round trip.
const MSG: usize = 32;

fn main() {
    let mut ns = Vec::new();
    let mut secs = 3.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => {
                let v = args.next().unwrap_or_default();
                secs = match v.parse() {
                    Ok(s) if s > 0.0 => s,
                    _ => die(&format!(
                        "--secs needs a positive number of seconds, got {v:?}"
                    )),
                };
            }
            // cargo bench passes --bench.
            a if a.starts_with("--") => {}
            a => match a.parse::<usize>() {
                Ok(n) if n > 0 => ns.push(n),
                _ => die(&format!(
                    "N must be a positive number of goroutines, got {a:?}"
                )),
            },
        }
    }
    if ns.is_empty() {
        ns = vec![1000, 10_000];
    }
    for n in ns {
        raise_fd_limit(2 * n as u64 + 64);
        run(n, Duration::from_secs_f64(secs));
    }
}

fn die(msg: &str) -> ! {
    eprintln!("timer_latency: {msg}");
    std::process::exit(2);
}

/// Raises RLIMIT_NOFILE's soft limit to `need` (and the hard one, where allowed).
fn raise_fd_limit(need: u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        die("getrlimit(RLIMIT_NOFILE) failed");
    }
    if r.rlim_cur >= need {
        return;
    }
    let want = libc::rlimit {
        rlim_cur: need.max(r.rlim_cur),
        rlim_max: need.max(r.rlim_max),
    };
    // SAFETY: a valid rlimit; raising the hard limit fails without CAP_SYS_RESOURCE.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
        return;
    }
    let soft = libc::rlimit {
        rlim_cur: r.rlim_max,
        rlim_max: r.rlim_max,
    };
    // SAFETY: as above; the soft limit may always rise to the hard one.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) };
    if r.rlim_max < need {
        die(&format!(
            "needs {need} file descriptors (two per connection) but the hard limit is {}; \
             raise it (ulimit -Hn) or pass a smaller N",
            r.rlim_max
        ));
    }
}

fn run(n: usize, secs: Duration) {
    let (overshoots, round_trips, elapsed) = gmp::Runtime::builder().procs(2).run(move || {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| die(&format!("bind: {e}")));
        let addr = listener.local_addr().expect("bound socket has an address");
        // Accepts the N connections, then waits for their echo goroutines: every
        // descriptor is closed before the next N's runtime starts.
        let server = gmp::spawn(move || {
            let echoes: Vec<_> = (0..n)
                .map(|_| match listener.accept() {
                    Ok((conn, _)) => gmp::spawn(move || echo(conn)),
                    Err(e) => die(&format!("accept: {e}")),
                })
                .collect();
            for e in echoes {
                e.join().expect("echo goroutine panicked");
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        // Every connection first, then the load: a connect behind thousands of busy
        // goroutines would wait its turn in the run queue several times over.
        let conns: Vec<TcpStream> = (0..n)
            .map(|_| TcpStream::connect(addr).unwrap_or_else(|e| die(&format!("connect: {e}"))))
            .collect();
        let clients: Vec<_> = conns
            .into_iter()
            .map(|conn| {
                let (stop, count) = (stop.clone(), count.clone());
                gmp::spawn(move || client(conn, &stop, &count))
            })
            .collect();
        // Let every client reach its loop before measuring.
        gmp::sleep(Duration::from_millis(200));
        let mut overshoots = Vec::new();
        let start = Instant::now();
        let before = count.load(Ordering::Relaxed);
        while start.elapsed() < secs {
            let t = Instant::now();
            gmp::sleep(SLEEP);
            overshoots.push(t.elapsed().saturating_sub(SLEEP));
        }
        let elapsed = start.elapsed();
        let round_trips = count.load(Ordering::Relaxed) - before;
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("client goroutine panicked");
        }
        server.join().expect("server goroutine panicked");
        (overshoots, round_trips, elapsed)
    });
    let mut us: Vec<f64> = overshoots.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    let pct = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
    println!("timer_overshoot_p50_n{n} {:.1} us", pct(0.50));
    println!("timer_overshoot_p99_n{n} {:.1} us", pct(0.99));
    println!("timer_overshoot_max_n{n} {:.1} us", us[us.len() - 1]);
    println!("timer_samples_n{n} {} sleeps", us.len());
    println!(
        "round_trips_n{n} {:.0} /s",
        round_trips as f64 / elapsed.as_secs_f64()
    );
}

/// Echo round trips until `stop`, counting each in `count`.
fn client(mut conn: TcpStream, stop: &AtomicBool, count: &AtomicU64) {
    conn.set_nodelay(true).expect("set_nodelay");
    let msg = [7u8; MSG];
    let mut buf = [0u8; MSG];
    // Relaxed: a flag and a statistic; the join orders what matters.
    while !stop.load(Ordering::Relaxed) {
        conn.write_all(&msg)
            .unwrap_or_else(|e| die(&format!("write: {e}")));
        conn.read_exact(&mut buf)
            .unwrap_or_else(|e| die(&format!("read: {e}")));
        count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Echoes until the peer closes.
fn echo(mut conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; 512];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(k) => {
                if conn.write_all(&buf[..k]).is_err() {
                    return;
                }
            }
        }
    }
}
