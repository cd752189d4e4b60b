//! Graceful shutdown through `ShutdownHandle`: requests in flight get their whole
//! response, idle connections are closed, new connections are refused, `serve` returns
//! `Ok(())`; a handler past the grace period is cut off; the handle works from inside a
//! handler and from a goroutine of the server's own runtime.

mod common;
mod http_util;

use common::Watchdog;
use gmp::http::{Server, ShutdownHandle};
use http_util::{Client, TestServer};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn graceful_shutdown_finishes_requests_in_flight_and_closes_idle_connections() {
    let _w = Watchdog::new("graceful shutdown", LIMIT);
    const IN_FLIGHT: usize = 20;
    let entered = Arc::new(AtomicUsize::new(0));
    let e = entered.clone();
    let s = TestServer::start(
        // A grace (and header timeout) far longer than the handlers need, and than the
        // clients' read limit: a connection that shutdown should close but leaves to the
        // grace fails.
        |s| {
            s.shutdown_grace(Duration::from_secs(30))
                .header_read_timeout(Duration::from_secs(30))
        },
        move |req, res| {
            if req.path() == "/sleep" {
                e.fetch_add(1, SeqCst);
            }
            http_util::demo(req, res)
        },
    );
    let addr = s.addr;
    // Idle keep-alive connections, and connections that never sent a byte.
    let mut idle: Vec<Client<_>> = (0..10)
        .map(|_| {
            let mut c = s.client();
            assert_eq!(c.get("/").status, 200);
            c
        })
        .collect();
    idle.extend((0..5).map(|_| s.client()));

    let busy: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let r = c.get("/sleep?ms=300");
                c.expect_closed();
                r
            })
        })
        .collect();
    wait_for("the handlers to start", || {
        entered.load(SeqCst) == IN_FLIGHT
    });
    s.shutdown_handle().shutdown();

    for c in &mut idle {
        c.expect_closed();
    }
    for t in busy {
        let r = t.join().expect("client thread");
        assert_eq!((r.status, r.text().as_str()), (200, "slept"));
        assert!(
            r.says_close(),
            "a response during shutdown keeps alive: {r:?}"
        );
    }
    s.stop();
    match std::net::TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("connected to a server that was shut down"),
    }
}

#[test]
fn requests_past_the_grace_period_are_cut_off() {
    let _w = Watchdog::new("grace over", LIMIT);
    let entered = Arc::new(AtomicUsize::new(0));
    let e = entered.clone();
    let s = TestServer::start(
        |s| s.shutdown_grace(Duration::from_millis(200)),
        move |req, res| {
            e.fetch_add(1, SeqCst);
            http_util::demo(req, res)
        },
    );
    let mut c = s.client();
    // The body is still arriving when the grace runs out: the handler is in a read.
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc");
    wait_for("the handler to start", || entered.load(SeqCst) == 1);
    s.stop();
    // The connection was closed under the handler: no 200 arrives.
    match c.try_read_resp(false) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ) => {}
        Ok(r) if r.status != 200 => {}
        other => panic!("expected the connection closed under the handler, got {other:?}"),
    }
}

#[test]
fn shutdown_from_inside_a_handler() {
    let _w = Watchdog::new("shutdown in handler", LIMIT);
    let handle: Arc<OnceLock<ShutdownHandle>> = Arc::new(OnceLock::new());
    let h = handle.clone();
    let s = TestServer::start(
        |s| s,
        move |req, res| {
            if req.path() == "/stop" {
                h.get().expect("handle set").shutdown();
                assert!(h.get().unwrap().is_shutting_down());
                res.body("stopping");
                return Ok(());
            }
            http_util::demo(req, res)
        },
    );
    assert!(handle.set(s.shutdown_handle()).is_ok());
    let mut c = s.client();
    assert_eq!(c.get("/").status, 200);
    let r = c.get("/stop");
    assert_eq!(r.text(), "stopping");
    assert!(r.says_close());
    c.expect_closed();
    s.stop();
}

#[test]
fn serve_in_a_goroutine_of_the_tests_runtime() {
    let _w = Watchdog::new("serve in runtime", LIMIT);
    gmp::run(|| {
        let server = Server::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let handle = server.shutdown_handle();
        let served = gmp::spawn(move || server.serve(http_util::demo));
        let clients: Vec<_> = (0..50)
            .map(|i| {
                gmp::spawn(move || {
                    let mut c = gmp::net::TcpStream::connect(addr).unwrap();
                    c.write_all(
                        format!("GET /{i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                            .as_bytes(),
                    )
                    .unwrap();
                    let mut out = String::new();
                    c.read_to_string(&mut out).unwrap();
                    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
                    assert!(out.ends_with(&format!("target: /{i}")), "{out}");
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        // Shut down from another goroutine while one connection is idle.
        // (After a request, so that it was accepted: one still in the listen queue
        // is reset when the listener closes.)
        let idle = gmp::net::TcpStream::connect(addr).unwrap();
        let mut c = http_util::Client::new(&idle);
        assert_eq!(c.get("/").status, 200);
        let h = handle.clone();
        gmp::spawn(move || h.shutdown()).join().unwrap();
        let mut b = [0u8; 8];
        assert_eq!(
            (&idle).read(&mut b).unwrap(),
            0,
            "idle connection not closed"
        );
        served
            .join()
            .expect("serve panicked")
            .expect("serve failed");
        assert!(handle.is_shutting_down());
    });
}

#[test]
fn shutdown_before_serve_makes_serve_return_at_once() {
    let _w = Watchdog::new("shutdown before serve", LIMIT);
    let server = Server::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.shutdown_handle();
    handle.shutdown();
    handle.shutdown(); // again: nothing more
    server
        .serve(http_util::demo)
        .expect("serve after shutdown returns Ok");
    assert!(std::net::TcpStream::connect(addr).is_err());
}
