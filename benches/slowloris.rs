//! A normal client's latency while 10,000 idle keep-alive connections and 1,000
//! slowloris clients hold the server (issue 19), against the same client with the
//! server to itself.
//!
//! The server is a child process (this program again, `--server`): a `Hello, World!`
//! handler with gmp's default settings (10 s header read timeout, 60 s idle timeout),
//! 2 Ps. The attack runs on this process's runtime: 10,000 connections that send one
//! request, read the answer and then sit idle, and 1,000 that send a request line and
//! then one header line a second until the server cuts them off at the header timeout,
//! and reconnect. The normal client is a plain `std::net` thread: for `--secs` seconds
//! (default 12, so the attack phase sees the trickling connections cut off and come
//! back) one GET after another on one keep-alive connection, then 3,000 GETs on a fresh
//! connection each (a fixed number: a timed loop ran this machine out of ephemeral
//! ports, and its connects measured TIME_WAIT reuse), each answer checked; first without
//! the attack, then with it.
//!
//! Prints `name value unit` lines: the p50, p99 and max of each client shape in each
//! phase (`slowloris_keepalive_p99_quiet`, `..._attack`, `slowloris_fresh_...`), the
//! requests behind them, and the trickling connections the server cut off during the
//! attack phase. All three parties share this machine's cores, so the attack's own
//! client work is part of what the normal client feels. `cargo bench --bench slowloris`.

// The tests' helper for the open-files limit (and nothing else of that module).
#[path = "../tests/http_util/mod.rs"]
mod http_util;

use gmp::http::{Request, Response, Server};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IDLE: usize = 10_000;
const SLOW: usize = 1_000;
/// Fresh-connection requests per phase.
const FRESH: usize = 3_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let want = (IDLE + SLOW) as u64 + 500;
    let limit = http_util::raise_nofile(want);
    assert!(
        limit >= want,
        "RLIMIT_NOFILE is {limit}, below the {want} descriptors this benchmark needs"
    );
    if args.iter().any(|a| a == "--server") {
        return serve();
    }
    let secs = args
        .iter()
        .position(|a| a == "--secs")
        .map(|i| {
            args[i + 1]
                .parse::<u64>()
                .expect("--secs takes whole seconds")
        })
        .unwrap_or(12);
    let span = Duration::from_secs(secs);

    let mut server = Command::new(std::env::current_exe().unwrap())
        .arg("--server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the server printed {line:?}, not its address"));

    measure("quiet", addr, span);

    let stop = Arc::new(AtomicBool::new(false));
    let (idle_up, slow_up, cuts) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let attack = {
        let (stop, idle_up, slow_up, cuts) =
            (stop.clone(), idle_up.clone(), slow_up.clone(), cuts.clone());
        std::thread::spawn(move || {
            gmp::Runtime::builder()
                .procs(2)
                .run(move || attack(addr, stop, idle_up, slow_up, cuts))
        })
    };
    let t0 = Instant::now();
    while idle_up.load(SeqCst) < IDLE || slow_up.load(SeqCst) < SLOW {
        assert!(
            t0.elapsed() < Duration::from_secs(60) && !attack.is_finished(),
            "only {} idle and {} trickling connections up after {:?}",
            idle_up.load(SeqCst),
            slow_up.load(SeqCst),
            t0.elapsed()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let cut_before = cuts.load(SeqCst);
    measure("attack", addr, span);
    println!(
        "slowloris_cut_off_attack {} connections",
        cuts.load(SeqCst) - cut_before
    );
    stop.store(true, SeqCst);
    attack.join().expect("the attack failed");
    drop(server.stdin.take());
    let status = server.wait().unwrap();
    assert!(status.success(), "the server ended with {status}");
}

/// The child: serves until its stdin closes.
fn serve() {
    let server = Server::bind("127.0.0.1:0").expect("bind");
    let addr = server.local_addr().unwrap();
    let handle = server.shutdown_handle();
    let t = std::thread::spawn(move || {
        gmp::Runtime::builder()
            .procs(2)
            .run(move || server.serve(hello))
    });
    println!("{addr}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    handle.shutdown();
    t.join().unwrap().expect("serve");
}

fn hello(_: &mut Request<'_>, res: &mut Response<'_>) -> std::io::Result<()> {
    res.header("content-type", "text/plain");
    res.body("Hello, World!");
    Ok(())
}

const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n";

/// Reads one answer to `REQ` and checks it.
fn read_hello(s: &mut impl Read) {
    let mut got = Vec::new();
    let mut b = [0u8; 512];
    while !got.ends_with(b"Hello, World!") {
        let n = s.read(&mut b).expect("read an answer");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&b[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200 "), "{got:?}");
}

/// The normal client, both shapes, and their lines.
fn measure(phase: &str, addr: SocketAddr, span: Duration) {
    let mut keepalive = Vec::new();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < span {
        let t = Instant::now();
        c.write_all(REQ).unwrap();
        read_hello(&mut c);
        keepalive.push(t.elapsed());
    }
    let mut fresh = Vec::new();
    for _ in 0..FRESH {
        let t = Instant::now();
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_nodelay(true).unwrap();
        c.write_all(REQ).unwrap();
        read_hello(&mut c);
        fresh.push(t.elapsed());
    }
    for (shape, mut v) in [("keepalive", keepalive), ("fresh", fresh)] {
        v.sort();
        let q = |f: f64| v[((v.len() - 1) as f64 * f) as usize].as_secs_f64() * 1e6;
        println!("slowloris_{shape}_p50_{phase} {:.1} us", q(0.5));
        println!("slowloris_{shape}_p99_{phase} {:.1} us", q(0.99));
        println!("slowloris_{shape}_max_{phase} {:.1} us", q(1.0));
        println!("slowloris_{shape}_requests_{phase} {} requests", v.len());
    }
}

fn attack(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    idle_up: Arc<AtomicUsize>,
    slow_up: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
) {
    let (stop_tx, stop_rx) = gmp::chan::bounded::<()>(0);
    let idle: Vec<_> = (0..IDLE)
        .map(|_| {
            let (idle_up, stop_rx) = (idle_up.clone(), stop_rx.clone());
            gmp::spawn(move || {
                let mut c = gmp::net::TcpStream::connect(addr).expect("idle connect");
                c.write_all(REQ).unwrap();
                read_hello(&mut c);
                idle_up.fetch_add(1, SeqCst);
                let _ = stop_rx.recv(); // until the channel closes
            })
        })
        .collect();
    let slow: Vec<_> = (0..SLOW)
        .map(|_| {
            let (slow_up, cuts, stop) = (slow_up.clone(), cuts.clone(), stop.clone());
            gmp::spawn(move || {
                let mut first = true;
                while !stop.load(SeqCst) {
                    let mut c = gmp::net::TcpStream::connect(addr).expect("trickle connect");
                    c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                    if first {
                        slow_up.fetch_add(1, SeqCst);
                        first = false;
                    }
                    let mut ok = c.write_all(b"GET /slow HTTP/1.1\r\nHost: b\r\n").is_ok();
                    let mut b = [0u8; 256];
                    while ok && !stop.load(SeqCst) {
                        ok = match c.read(&mut b) {
                            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                                c.write_all(b"X-Slow: 1\r\n").is_ok()
                            }
                            Err(e) if e.kind() == ErrorKind::TimedOut => {
                                c.write_all(b"X-Slow: 1\r\n").is_ok()
                            }
                            _ => false, // closed, reset, or the server's 408
                        };
                    }
                    if !ok {
                        cuts.fetch_add(1, SeqCst);
                    }
                }
            })
        })
        .collect();
    // The main goroutine polls the flag for the whole attack, then lets everyone go.
    while !stop.load(SeqCst) {
        gmp::sleep(Duration::from_millis(20));
    }
    drop(stop_tx);
    drop(stop_rx);
    for h in idle.into_iter().chain(slow) {
        h.join().expect("an attacking connection failed");
    }
}
