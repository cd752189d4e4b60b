//! Slowloris: a client that trickles its request head is cut off at the header read
//! timeout, and 5,000 of them at once do not stop normal clients from being served.

mod common;
mod http_util;

use common::Watchdog;
use http_util::{Client, TestServer};
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a trickled connection ended.
#[derive(Debug)]
enum Trickle {
    /// The server closed it this long after its first byte.
    Cut(Duration),
    /// Still open after this long: the header timeout did not fire.
    NotCut(Duration),
}

/// Sends a request line, then a header line each time a read times out (the socket's
/// read timeout paces it), until the server closes the connection or `give_up`
/// passes. Generic over std and gmp sockets.
fn trickle<S>(mut s: S, give_up: Duration) -> Trickle
where
    S: Read + Write,
{
    let first = Instant::now();
    if s.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n").is_err() {
        return Trickle::Cut(first.elapsed());
    }
    let mut b = [0u8; 256];
    loop {
        match s.read(&mut b) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // End of stream, a reset, or a response (a 408 would be fine too).
            _ => return Trickle::Cut(first.elapsed()),
        }
        if first.elapsed() > give_up {
            return Trickle::NotCut(first.elapsed());
        }
        if s.write_all(b"X-Slow: 1\r\n").is_err() {
            return Trickle::Cut(first.elapsed());
        }
    }
}

#[test]
fn a_trickling_client_is_cut_off_at_the_header_timeout() {
    let _w = Watchdog::new("slowloris one", Duration::from_secs(30));
    let timeout = Duration::from_secs(1);
    let s = TestServer::start(|s| s.header_read_timeout(timeout), http_util::demo);
    let c = std::net::TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    match trickle(&c, timeout * 8) {
        Trickle::Cut(after) => assert!(
            after >= timeout - Duration::from_millis(100),
            "cut off after {after:?}, before the {timeout:?} header timeout"
        ),
        Trickle::NotCut(after) => panic!("still trickling after {after:?}"),
    }
    // A client that sends its head at a normal pace is served.
    assert_eq!(s.client().get("/").status, 200);
    s.stop();
}

#[test]
fn five_thousand_trickling_clients_do_not_stop_normal_clients() {
    const SLOW: usize = 5000;
    let _w = Watchdog::new("slowloris 5000", Duration::from_secs(90));
    // Both ends of every connection live in this process.
    let limit = http_util::raise_nofile(4 * SLOW as u64);
    let slow = SLOW.min((limit.saturating_sub(200) / 2) as usize);
    if slow < SLOW {
        eprintln!(
            "note: RLIMIT_NOFILE is {limit}; running {slow} trickling clients instead of {SLOW}"
        );
    }
    assert!(
        slow >= 500,
        "RLIMIT_NOFILE {limit} is too low for this test"
    );
    let timeout = Duration::from_secs(2);
    let every = Duration::from_millis(250);
    let s = TestServer::start(|s| s.header_read_timeout(timeout), http_util::demo);
    let addr = s.addr;

    let started = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (st, sp) = (started.clone(), stop.clone());
    // The trickling clients: goroutines of their own runtime, on gmp sockets. Each
    // reconnects after being cut off until the normal clients are done, so the server
    // holds thousands of trickling connections the whole time.
    let slow_side = std::thread::spawn(move || {
        gmp::run(move || {
            let hs: Vec<_> = (0..slow)
                .map(|_| {
                    let (st, sp) = (st.clone(), sp.clone());
                    gmp::spawn(move || {
                        let mut ends = Vec::new();
                        let mut counted = false;
                        loop {
                            let c = gmp::net::TcpStream::connect(addr).expect("connect");
                            c.set_read_timeout(Some(every)).unwrap();
                            if !counted {
                                st.fetch_add(1, SeqCst);
                                counted = true;
                            }
                            ends.push(trickle(&c, timeout * 6));
                            if sp.load(SeqCst) {
                                return ends;
                            }
                        }
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("trickling client panicked"))
                .collect::<Vec<_>>()
        })
    });
    let t0 = Instant::now();
    while started.load(SeqCst) < slow {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "only {} of {slow} trickling clients connected",
            started.load(SeqCst)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("{slow} trickling clients connected in {:?}", t0.elapsed());

    // Normal clients, while the trickling goes on: keep-alive and fresh connections.
    let normal: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                for i in 0..10 {
                    let r = c.get(&format!("/n/{t}/{i}"));
                    assert_eq!(r.text(), format!("target: /n/{t}/{i}"));
                    assert_eq!(Client::connect(addr).get("/").body, b"Hello, World!");
                }
            })
        })
        .collect();
    for n in normal {
        n.join().expect("a normal client failed");
    }
    eprintln!(
        "normal clients served {:?} after the trickling began",
        t0.elapsed()
    );
    stop.store(true, SeqCst);

    let ends = slow_side.join().expect("trickling side panicked");
    let mut cuts = 0;
    for (i, e) in ends.iter().flatten().enumerate() {
        match e {
            Trickle::Cut(after) => {
                cuts += 1;
                assert!(
                    *after >= timeout - Duration::from_millis(100),
                    "connection {i} cut off after {after:?}, before the {timeout:?} timeout"
                );
            }
            Trickle::NotCut(after) => {
                panic!("connection {i} still trickling after {after:?}: not cut off")
            }
        }
    }
    eprintln!("{cuts} trickling connections cut off");
    assert!(cuts >= slow);
    assert_eq!(s.client().get("/").status, 200);
    s.stop();
}
