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
