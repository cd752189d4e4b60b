//! The `hook` feature with blocking crates gmp did not write: the `redis` crate's sync
//! client against a real Redis server, and ureq 3's default agent against gmp's own
//! HTTP server, each from 1,000 goroutines on 2 Ps, on about as many threads as Ps.
//! Each goroutine also waits 20-50 ms for an answer (a `BLPOP` that times out, a
//! handler that sleeps): without the hook that wait blocks a thread long enough for
//! sysmon to hand its P to another, and the threads pile up.

mod common;
mod http_util;

use common::Watchdog;
use http_util::TestServer;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(180);
const GOROUTINES: usize = 1000;
/// Threads beyond the Ps the runtime may run with no blocked goroutine (a spinning M,
/// one starting up).
const SLACK: usize = 3;

/// Runs `f` on 2 Ps and returns the peak of `gmp::stats().threads` while it ran.
fn peak_threads_of(f: impl FnOnce() + Send + 'static) -> (usize, usize) {
    gmp::Runtime::builder().procs(2).run(move || {
        let peak = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, d) = (peak.clone(), done.clone());
        let sampler = gmp::spawn(move || {
            while !d.load(SeqCst) {
                p.fetch_max(gmp::stats().threads, SeqCst);
                gmp::sleep(Duration::from_millis(1));
            }
        });
        f();
        peak.fetch_max(gmp::stats().threads, SeqCst);
        done.store(true, SeqCst);
        sampler.join().unwrap();
        (peak.load(SeqCst), gmp::stats().procs)
    })
}

/// A Redis server on a free loopback port, killed on drop.
struct Redis(Child, u16);

impl Redis {
    fn start() -> Option<Redis> {
        if !common::tool("redis-server") {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &port.to_string(), "--maxclients", "4000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let r = Redis(child, port);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(r)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_redis_crate_from_a_thousand_goroutines() {
    let _w = Watchdog::new("redis crate", LIMIT);
    let Some(redis) = Redis::start() else { return };
    let url = format!("redis://127.0.0.1:{}/", redis.1);
    let wrong = Arc::new(AtomicUsize::new(0));
    let w = wrong.clone();
    let (peak, procs) = peak_threads_of(move || {
        let client = redis::Client::open(url).unwrap();
        let handles: Vec<_> = (0..GOROUTINES)
            .map(|i| {
                let client = client.clone();
                let wrong = w.clone();
                gmp::spawn(move || {
                    let mut con = client.get_connection().expect("redis connect");
                    for j in 0..20 {
                        let key = format!("k{i}:{j}");
                        let val = format!("v{}", i * 1000 + j);
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(&val)
                            .query::<()>(&mut con)
                            .expect("SET");
                        let got: String = redis::cmd("GET").arg(&key).query(&mut con).expect("GET");
                        if got != val {
                            wrong.fetch_add(1, SeqCst);
                        }
                    }
                    // Nobody pushes this list: the server answers nil after 50 ms.
                    let popped: Option<(String, String)> = redis::cmd("BLPOP")
                        .arg(format!("empty{i}"))
                        .arg(0.05)
                        .query(&mut con)
                        .expect("BLPOP");
                    if popped.is_some() {
                        wrong.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    assert_eq!(wrong.load(SeqCst), 0, "GET returned another value");
    assert!(
        peak <= procs + SLACK,
        "peak {peak} threads for {procs} Ps: the redis client blocked threads"
    );
}

#[test]
fn ureqs_default_agent_from_a_thousand_goroutines() {
    let _w = Watchdog::new("ureq", LIMIT);
    let server = TestServer::start(
        |s| s,
        |req, res| {
            gmp::sleep(Duration::from_millis(20));
            let body = format!("hello {}", req.path());
            res.header("content-type", "text/plain").body(body);
            Ok(())
        },
    );
    let base = format!("http://{}", server.addr);
    let wrong = Arc::new(AtomicUsize::new(0));
    let w = wrong.clone();
    let (peak, procs) = peak_threads_of(move || {
        let agent = ureq::Agent::new_with_defaults();
        let handles: Vec<_> = (0..GOROUTINES)
            .map(|i| {
                let agent = agent.clone();
                let base = base.clone();
                let wrong = w.clone();
                gmp::spawn(move || {
                    for j in 0..5 {
                        let path = format!("/items/{i}/{j}");
                        let mut res = agent.get(format!("{base}{path}")).call().expect("ureq GET");
                        let text = res.body_mut().read_to_string().expect("ureq body");
                        if text != format!("hello {path}") {
                            wrong.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    server.stop();
    assert_eq!(wrong.load(SeqCst), 0, "a response body was wrong");
    assert!(
        peak <= procs + SLACK,
        "peak {peak} threads for {procs} Ps: ureq blocked threads"
    );
}
