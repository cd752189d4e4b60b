//! Issue 19's fault: 10,000 idle keep-alive connections plus 1,000 slowloris clients at
//! once, and a normal client is still answered, every answer checked. The idle
//! connections are served again after the attack, and every trickling connection is cut
//! off at the header read timeout, not before. The server runs in a child process (this
//! test binary again), as a server would: both ends of 11,000 connections do not fit one
//! process's 20,000 descriptors here. (`benches/slowloris.rs` measures the normal
//! client's latency with and without the attack; README gives the figures.)

mod common;
mod http_util;

use common::{child_mode, Watchdog, CHILD_ENV};
use http_util::{Client, TestServer};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IDLE: usize = 10_000;
const SLOW: usize = 1_000;
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads one `Hello, World!` answer of the demo handler's `/` from `s`.
fn read_hello(s: &mut gmp::net::TcpStream) -> Result<(), String> {
    let mut got = Vec::new();
    let mut b = [0u8; 512];
    while !got.ends_with(b"Hello, World!") {
        match s.read(&mut b) {
            Ok(0) => return Err(format!("closed after {:?}", String::from_utf8_lossy(&got))),
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) => return Err(format!("{e} after {:?}", String::from_utf8_lossy(&got))),
        }
    }
    if !got.starts_with(b"HTTP/1.1 200 ") {
        return Err(format!("answer {:?}", String::from_utf8_lossy(&got)));
    }
    Ok(())
}

/// One trickling connection: a request line, then a header line every `every`, until
/// the server closes it. Returns how long after its first byte that was.
fn trickle(addr: std::net::SocketAddr, every: Duration) -> Result<Duration, String> {
    let mut c = gmp::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(every)).unwrap();
    let first = Instant::now();
    c.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n")
        .map_err(|e| format!("first write: {e}"))?;
    let mut b = [0u8; 256];
    loop {
        match c.read(&mut b) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // End of stream, a reset, or an answer (a 408): the server cut it off.
            _ => return Ok(first.elapsed()),
        }
        if first.elapsed() > HEADER_TIMEOUT * 6 {
            return Err(format!("still trickling after {:?}", first.elapsed()));
        }
        if c.write_all(b"X-Slow: 1\r\n").is_err() {
            return Ok(first.elapsed());
        }
    }
}

#[test]
fn ten_thousand_idle_and_a_thousand_slowloris_clients_do_not_stop_a_normal_client() {
    let _w = Watchdog::new("idle and slowloris", Duration::from_secs(150));
    let want = (IDLE + SLOW) as u64 + 500;
    if child_mode().as_deref() == Some("server") {
        // The server: serves until the parent closes this process's stdin.
        let limit = http_util::raise_nofile(want);
        assert!(
            limit >= want,
            "server: RLIMIT_NOFILE is {limit}, below {want}"
        );
        let s = TestServer::start(|s| s.header_read_timeout(HEADER_TIMEOUT), http_util::demo);
        println!("addr {}", s.addr);
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        s.stop();
        return;
    }
    let limit = http_util::raise_nofile(want);
    assert!(
        limit >= want,
        "RLIMIT_NOFILE is {limit} and cannot be raised to {want}: this test needs \
         {IDLE} idle and {SLOW} trickling connections"
    );
    let mut server = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "--nocapture", "--test-threads=1"])
        .arg("ten_thousand_idle_and_a_thousand_slowloris_clients_do_not_stop_a_normal_client")
        .env(CHILD_ENV, "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    // libtest's "test NAME ... " comes first, on the same line.
    let mut line = String::new();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let addr: std::net::SocketAddr = loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the server process ended before it printed its address"
        );
        if let Some(at) = line.find("addr ") {
            break line[at + 5..].trim().parse().unwrap();
        }
    };

    let idle_up = Arc::new(AtomicUsize::new(0));
    let slow_up = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = gmp::chan::bounded::<()>(0);
    let (iu, su) = (idle_up.clone(), slow_up.clone());
    // The attack: goroutines of their own runtime, on gmp sockets.
    let attack = std::thread::spawn(move || {
        gmp::run(move || {
            let idle: Vec<_> = (0..IDLE)
                .map(|i| {
                    let (iu, stop) = (iu.clone(), stop_rx.clone());
                    gmp::spawn(move || -> Result<(), String> {
                        let mut c = gmp::net::TcpStream::connect(addr)
                            .map_err(|e| format!("idle {i} connect: {e}"))?;
                        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                        let req = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
                        c.write_all(req).map_err(|e| format!("idle {i}: {e}"))?;
                        read_hello(&mut c).map_err(|e| format!("idle {i}, first: {e}"))?;
                        iu.fetch_add(1, SeqCst);
                        // Idle until the normal client is done (the channel closes).
                        let _ = stop.recv();
                        c.write_all(req).map_err(|e| format!("idle {i}: {e}"))?;
                        read_hello(&mut c).map_err(|e| format!("idle {i}, after: {e}"))
                    })
                })
                .collect();
            let slow: Vec<_> = (0..SLOW)
                .map(|_| {
                    let (su, stop) = (su.clone(), stop_rx.clone());
                    gmp::spawn(move || -> Result<Vec<Duration>, String> {
                        let mut cuts = Vec::new();
                        loop {
                            if cuts.is_empty() {
                                su.fetch_add(1, SeqCst);
                            }
                            cuts.push(trickle(addr, Duration::from_millis(250))?);
                            if matches!(stop.try_recv(), Err(gmp::chan::TryRecvError::Disconnected))
                            {
                                return Ok(cuts);
                            }
                        }
                    })
                })
                .collect();
            drop(stop_rx);
            let idle: Vec<_> = idle.into_iter().map(|h| h.join().unwrap()).collect();
            let slow: Vec<_> = slow.into_iter().map(|h| h.join().unwrap()).collect();
            (idle, slow)
        })
    });

    let t0 = Instant::now();
    while idle_up.load(SeqCst) < IDLE || slow_up.load(SeqCst) < SLOW {
        assert!(
            t0.elapsed() < Duration::from_secs(60) && !attack.is_finished(),
            "only {} of {IDLE} idle and {} of {SLOW} trickling clients up after {:?}",
            idle_up.load(SeqCst),
            slow_up.load(SeqCst),
            t0.elapsed()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "{IDLE} idle and {SLOW} trickling connections up in {:?}",
        t0.elapsed()
    );

    // The normal client, for longer than the header timeout so trickling connections
    // are cut off and come back while it runs: keep-alive and fresh connections.
    let t1 = Instant::now();
    let mut c = Client::connect(addr);
    let mut n = 0;
    while t1.elapsed() < HEADER_TIMEOUT * 2 {
        let r = c.get(&format!("/n/{n}"));
        assert_eq!(r.text(), format!("target: /n/{n}"));
        assert_eq!(Client::connect(addr).get("/").body, b"Hello, World!");
        n += 1;
    }
    eprintln!("normal client: {n} keep-alive and {n} fresh-connection requests answered");
    assert!(n > 0);
    drop(stop_tx);

    let (idle, slow) = attack.join().expect("the attack side panicked");
    for r in idle {
        r.unwrap();
    }
    let mut cuts = 0;
    for r in slow {
        for after in r.unwrap() {
            cuts += 1;
            assert!(
                after >= HEADER_TIMEOUT - Duration::from_millis(100),
                "a trickling connection was cut off after {after:?}, before the \
                 {HEADER_TIMEOUT:?} header timeout"
            );
        }
    }
    eprintln!("{cuts} trickling connections cut off; {IDLE} idle connections served again");
    assert!(cuts >= SLOW);
    drop(server.stdin.take());
    let status = server.wait().unwrap();
    assert!(status.success(), "the server process ended with {status}");
}
