//! `Server::shutdown_on_signals`: SIGTERM during a slow request lets it finish with
//! its whole response (and `Connection: close`), closes idle connections, refuses new
//! ones, and `serve` returns `Ok`; a second signal exits the process at once with
//! 128 + the signal; one signal stops every server that asked.
//!
//! The signals go to the test's own process, so each case runs in a child process of
//! its own (`common::run_child`); the parent checks its exit.

mod common;
mod http_util;

use common::{child_mode, run_child, Watchdog};
use gmp::http::Server;
use http_util::Client;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MARK: &str = "HTTP-SIGNALS-CHILD-OK";

fn kill_self(sig: i32) {
    // SAFETY: kill(2) on this process; the server under test handles `sig`.
    assert_eq!(unsafe { libc::kill(libc::getpid(), sig) }, 0);
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A server with `shutdown_on_signals` on its own thread: `/slow?ms=N` sleeps N ms
/// (counting entries in `entered`), anything else answers `fast`.
fn start(
    entered: Arc<AtomicUsize>,
) -> (
    std::net::SocketAddr,
    std::thread::JoinHandle<std::io::Result<()>>,
) {
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .shutdown_grace(Duration::from_secs(60))
        .shutdown_on_signals()
        .shutdown_on_signals(); // twice is once
    let addr = server.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        server.serve(move |req, res| {
            if req.path().starts_with("/slow") {
                entered.fetch_add(1, SeqCst);
                gmp::sleep(Duration::from_millis(
                    http_util::param(req, "ms").unwrap_or(0),
                ));
                res.body("slow done");
            } else {
                res.body("fast");
            }
            Ok(())
        })
    });
    (addr, t)
}

fn disposition(sig: i32) -> libc::sighandler_t {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action only reads.
    let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::sigaction(sig, std::ptr::null(), &mut cur) },
        0
    );
    cur.sa_sigaction
}

#[test]
fn sigterm_lets_requests_in_flight_finish_and_serve_returns() {
    if child_mode().is_some() {
        let _w = Watchdog::new("sigterm child", Duration::from_secs(20));
        let entered = Arc::new(AtomicUsize::new(0));
        let (addr, server) = start(entered.clone());
        let mut idle = Client::connect(addr);
        assert_eq!(idle.get("/").text(), "fast");
        let slow = std::thread::spawn(move || {
            let mut c = Client::connect(addr);
            let r = c.get("/slow?ms=500");
            c.expect_closed();
            r
        });
        wait_for("the slow handler to start", || entered.load(SeqCst) == 1);
        kill_self(libc::SIGTERM);
        idle.expect_closed();
        let r = slow.join().expect("client thread");
        assert_eq!((r.status, r.text().as_str()), (200, "slow done"));
        assert!(r.says_close(), "no Connection: close: {r:?}");
        server
            .join()
            .expect("server thread")
            .expect("serve returned an error");
        match std::net::TcpStream::connect(addr) {
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}"),
            Ok(_) => panic!("connected after shutdown"),
        }
        // serve returned: SIGTERM ends the process again by default.
        assert_eq!(disposition(libc::SIGTERM), libc::SIG_DFL);
        assert_eq!(disposition(libc::SIGINT), libc::SIG_DFL);
        println!("{MARK}");
        return;
    }
    let out = run_child(
        "sigterm_lets_requests_in_flight_finish_and_serve_returns",
        "child",
        &[],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success() && out.stdout.contains(MARK),
        "{}",
        out.describe()
    );
}

/// Child body for the second-signal cases: a request that would take a minute, the
/// signal twice; the process must be gone before it could print the mark.
fn second_signal_child(sig: i32) {
    let _w = Watchdog::new("second signal child", Duration::from_secs(25));
    let entered = Arc::new(AtomicUsize::new(0));
    let (addr, _server) = start(entered.clone());
    std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        c.send("GET /slow?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
        let _ = c.try_read_resp(false);
    });
    wait_for("the slow handler to start", || entered.load(SeqCst) == 1);
    kill_self(sig);
    // The first signal started the shutdown: new connections are refused.
    wait_for("the listener to close", || {
        std::net::TcpStream::connect(addr).is_err()
    });
    kill_self(sig);
    std::thread::sleep(Duration::from_secs(15));
    println!("{MARK}: still running 15 s after the second signal");
}

fn second_signal_parent(test: &str, want: i32) {
    let start = Instant::now();
    let out = run_child(test, "child", &[], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(want), "{}", out.describe());
    assert!(!out.stdout.contains(MARK), "{}", out.describe());
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "exit took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_second_sigterm_exits_at_once_with_143() {
    if child_mode().is_some() {
        return second_signal_child(libc::SIGTERM);
    }
    second_signal_parent("a_second_sigterm_exits_at_once_with_143", 143);
}

#[test]
fn a_second_sigint_exits_at_once_with_130() {
    if child_mode().is_some() {
        return second_signal_child(libc::SIGINT);
    }
    second_signal_parent("a_second_sigint_exits_at_once_with_130", 130);
}

#[test]
fn one_signal_stops_every_server_that_asked() {
    if child_mode().is_some() {
        let _w = Watchdog::new("two servers child", Duration::from_secs(20));
        let (a, ta) = start(Arc::new(AtomicUsize::new(0)));
        let (b, tb) = start(Arc::new(AtomicUsize::new(0)));
        assert_eq!(Client::connect(a).get("/").text(), "fast");
        assert_eq!(Client::connect(b).get("/").text(), "fast");
        kill_self(libc::SIGINT);
        ta.join().unwrap().expect("first server");
        tb.join().unwrap().expect("second server");
        println!("{MARK}");
        return;
    }
    let out = run_child(
        "one_signal_stops_every_server_that_asked",
        "child",
        &[],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success() && out.stdout.contains(MARK),
        "{}",
        out.describe()
    );
}
