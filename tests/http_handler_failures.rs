//! A handler that panics or returns an error: its client gets a 500 (if nothing was
//! sent yet) and its connection closes; every other connection, and later requests,
//! are served as before.

mod common;
mod http_util;

use common::Watchdog;
use http_util::TestServer;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_panicking_handler_gets_a_500_and_only_its_connection_closes() {
    let _w = Watchdog::new("panic", LIMIT);
    let s = TestServer::demo();
    // Another keep-alive connection, open across the panics.
    let mut other = s.client();
    let port = other.get("/peer").text();

    for _ in 0..5 {
        let mut c = s.client();
        assert_eq!(c.get("/").status, 200);
        let r = c.get("/panic");
        assert_eq!(r.status, 500);
        assert!(r.says_close(), "{r:?}");
        c.expect_closed();
        assert_eq!(other.get("/peer").text(), port, "the other connection");
    }
    // A panic after part of the body went out: no 500 can follow; the response is cut
    // short and the connection closes.
    let mut c = s.client();
    c.send("GET /panic-late HTTP/1.1\r\nHost: t\r\n\r\n");
    match c.try_read_resp(false) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        other => panic!("expected the chunked body cut short by a close, got {other:?}"),
    }

    // New connections, and many requests, still work.
    for _ in 0..20 {
        assert_eq!(s.client().get("/").body, b"Hello, World!");
    }
    assert_eq!(other.get("/peer").text(), port);
    s.stop();
}

#[test]
fn pipelined_requests_behind_a_panic_are_not_answered() {
    let _w = Watchdog::new("panic pipeline", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    c.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.resp().text(), "target: /a");
    assert_eq!(c.resp().status, 500);
    c.expect_closed();
    s.stop();
}

#[test]
fn a_handler_error_closes_only_its_connection() {
    let _w = Watchdog::new("error", LIMIT);
    let s = TestServer::demo();
    let mut other = s.client();
    let port = other.get("/peer").text();
    let mut c = s.client();
    assert_eq!(c.get("/").status, 200);
    let r = c.get("/error");
    assert_eq!(r.status, 500);
    assert!(r.says_close());
    c.expect_closed();
    assert_eq!(other.get("/peer").text(), port);
    assert_eq!(s.client().get("/").status, 200);
    s.stop();
}

#[test]
fn panics_on_many_connections_at_once_leave_the_server_serving() {
    let _w = Watchdog::new("panic storm", LIMIT);
    let s = TestServer::demo();
    let addr = s.addr;
    let threads: Vec<_> = (0..16)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = http_util::Client::connect(addr);
                for i in 0..20 {
                    assert_eq!(c.get(&format!("/{t}/{i}")).status, 200);
                }
                assert_eq!(c.get("/panic").status, 500);
                c.expect_closed();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.client().get("/").status, 200);
    s.stop();
}

/// Parks in its destructor: the handler that panics while holding it keeps unwinding
/// across switches (as one holding a buffered writer to a backend, or a lock whose
/// release waits, would).
struct ParksOnDrop;

impl Drop for ParksOnDrop {
    fn drop(&mut self) {
        for _ in 0..3 {
            gmp::sleep(Duration::from_micros(300));
            gmp::yield_now();
        }
    }
}

#[test]
fn handlers_that_park_while_unwinding_leave_the_server_serving() {
    // Before goroutines were kept on their thread while unwinding, a goroutine resumed
    // on another thread mid-unwind left std's panic count of its first thread at 1, and
    // the next handler panic there aborted the whole server.
    let _w = Watchdog::new("panic parking in drop", LIMIT);
    let s = TestServer::start(
        |srv| srv,
        |req: &mut gmp::http::Request<'_>, res: &mut gmp::http::Response<'_>| {
            if req.path() == "/panic-parks" {
                let _guard = ParksOnDrop;
                panic!("handler panics holding a value that parks when dropped");
            }
            assert!(
                !std::thread::panicking(),
                "a stale panic count on this thread"
            );
            res.body("ok");
            Ok(())
        },
    );
    let addr = s.addr;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                for i in 0..15 {
                    let mut c = http_util::Client::connect(addr);
                    assert_eq!(c.get(&format!("/{i}")).text(), "ok");
                    let r = c.get("/panic-parks");
                    assert_eq!(r.status, 500);
                    c.expect_closed();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for _ in 0..20 {
        assert_eq!(s.client().get("/").text(), "ok");
    }
    s.stop();
}
