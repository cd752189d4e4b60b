//! When a connection carries another request and when it closes: the HTTP/1.1 and 1.0
//! defaults, `Connection: close`, bodies a handler leaves unread (drained up to 256 KiB,
//! closed past that), error responses, and the idle timeout.

mod common;
mod http_util;

use common::Watchdog;
use http_util::{Client, TestServer};
use std::io::Write;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn http11_keeps_the_connection_alive_by_default() {
    let _w = Watchdog::new("1.1 keep-alive", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    let port = c.get("/peer").text();
    for i in 0..10 {
        let r = c.get(&format!("/n/{i}"));
        assert_eq!(r.status, 200);
        assert!(!r.says_close(), "{r:?}");
        assert_eq!(r.version, "HTTP/1.1");
        assert_eq!(r.text(), format!("target: /n/{i}"));
    }
    assert_eq!(c.get("/peer").text(), port, "not the same connection");
    s.stop();
}

#[test]
fn connection_close_closes_after_the_response() {
    let _w = Watchdog::new("connection close", LIMIT);
    let s = TestServer::demo();
    for value in ["close", "Close", "keep-alive, close", "upgrade,CLOSE"] {
        let mut c = s.client();
        c.send(format!(
            "GET / HTTP/1.1\r\nHost: t\r\nConnection: {value}\r\n\r\n"
        ));
        let r = c.resp();
        assert_eq!(r.body, b"Hello, World!");
        assert!(r.says_close(), "Connection: {value} answered {r:?}");
        c.expect_closed();
    }
    // A request pipelined behind `Connection: close` is not answered.
    let mut c = s.client();
    c.send(
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(c.resp().body, b"Hello, World!");
    c.expect_closed();
    s.stop();
}

#[test]
fn a_handler_connection_close_closes_the_connection() {
    let _w = Watchdog::new("handler close", LIMIT);
    let s = TestServer::start(
        |s| s,
        |req, res| {
            if req.path() == "/bye" {
                res.header("Connection", "close");
            }
            http_util::demo(req, res)
        },
    );
    let mut c = s.client();
    assert!(!c.get("/").says_close());
    let r = c.get("/bye");
    assert!(r.says_close(), "{r:?}");
    c.expect_closed();
    s.stop();
}

#[test]
fn http10_keeps_alive_only_on_request() {
    let _w = Watchdog::new("1.0 keep-alive", LIMIT);
    let s = TestServer::demo();
    // Plain 1.0: one response, then the server closes.
    let mut c = s.client();
    c.send("GET / HTTP/1.0\r\n\r\n");
    let r = c.resp();
    assert_eq!(r.body, b"Hello, World!");
    assert!(r.version == "HTTP/1.1" || r.version == "HTTP/1.0", "{r:?}");
    assert!(
        !r.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("keep-alive")),
        "{r:?}"
    );
    c.expect_closed();

    // 1.0 with Connection: keep-alive: answered with keep-alive and reused.
    let mut c = s.client();
    for _ in 0..3 {
        c.send("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        let r = c.resp();
        assert_eq!(r.body, b"Hello, World!");
        assert_eq!(
            r.header("connection")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("keep-alive"),
            "{r:?}"
        );
    }
    // ... until a request without it.
    c.send("GET / HTTP/1.0\r\n\r\n");
    assert_eq!(c.resp().body, b"Hello, World!");
    c.expect_closed();

    // A streamed response to 1.0 has no length and ends with the connection, even if
    // the client asked for keep-alive.
    let mut c = s.client();
    c.send("GET /stream?n=4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.resp();
    assert!(!r.is_chunked() && !r.has("content-length"), "{r:?}");
    assert_eq!(r.text(), "line 0\nline 1\nline 2\nline 3\n");
    c.expect_closed();
    s.stop();
}

/// Sends a POST of `len` body bytes to `/noread` (whose handler never reads it), from a
/// writer thread, and returns the response.
fn post_unread(c: &mut Client<std::net::TcpStream>, len: usize) -> http_util::Resp {
    let mut w = c.stream().try_clone().unwrap();
    let head = format!("POST /noread HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n");
    let writer = std::thread::spawn(move || {
        w.write_all(head.as_bytes()).unwrap();
        w.write_all(&vec![b'u'; len]).unwrap();
    });
    let r = c.resp();
    writer.join().unwrap();
    r
}

#[test]
fn unread_body_up_to_256_kib_is_drained_and_the_connection_reused() {
    let _w = Watchdog::new("drain", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    let port = c.get("/peer").text();
    for len in [1, 4000, 100_000, 256 << 10] {
        let r = post_unread(&mut c, len);
        assert_eq!(r.body, b"ok");
        assert!(
            !r.says_close(),
            "{len} unread bytes closed the connection: {r:?}"
        );
        assert_eq!(c.get("/peer").text(), port, "after {len} unread bytes");
    }
    // Partly read: the rest is drained.
    let mut w = c.stream().try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(b"POST /read?n=10 HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n")
            .unwrap();
        w.write_all(&[b'p'; 200_000]).unwrap();
    });
    assert_eq!(c.resp().text(), "read 10");
    writer.join().unwrap();
    assert_eq!(c.get("/peer").text(), port);
    s.stop();
}

#[test]
fn unread_body_over_256_kib_closes_the_connection() {
    let _w = Watchdog::new("no drain", LIMIT);
    let s = TestServer::demo();
    // Only the head and a little of the body go out: the server must answer and close
    // without waiting for the rest.
    let mut c = s.client();
    c.send(format!(
        "POST /noread HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\nxxxx",
        (256 << 10) + 1
    ));
    let r = c.resp();
    assert_eq!(r.body, b"ok");
    assert!(r.says_close(), "{r:?}");
    c.expect_closed();
    s.stop();
}

#[test]
fn error_responses_close_the_connection() {
    let _w = Watchdog::new("error close", LIMIT);
    let s = TestServer::demo();
    // A good request, then a bad one on the same connection: the bad one's answer is
    // the last thing sent.
    let mut c = s.client();
    assert_eq!(c.get("/").status, 200);
    c.send("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.resp();
    assert_eq!(r.status, 400);
    assert!(r.says_close());
    c.expect_closed();

    // A body cut short (the client half-closes): the handler's read fails, the server
    // answers 400 and closes.
    let mut c = s.client();
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    c.stream().shutdown(std::net::Shutdown::Write).unwrap();
    let r = c.resp();
    assert_eq!(r.status, 400, "{r:?}");
    c.expect_closed();
    s.stop();
}

#[test]
fn body_read_timeout_fails_a_stalled_body_with_408() {
    let _w = Watchdog::new("body timeout", LIMIT);
    let s = TestServer::start(
        |s| s.body_read_timeout(Duration::from_millis(300)),
        http_util::demo,
    );
    let mut c = s.client();
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    let r = c.resp();
    assert_eq!(r.status, 408, "{r:?}");
    assert!(r.says_close());
    c.expect_closed();
    s.stop();
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let _w = Watchdog::new("idle timeout", LIMIT);
    let idle = Duration::from_millis(500);
    // A header timeout longer than the client's read limit: a connection closed by it
    // instead of the idle timeout fails the test.
    let s = TestServer::start(
        |s| {
            s.idle_timeout(idle)
                .header_read_timeout(Duration::from_secs(20))
        },
        http_util::demo,
    );
    // Busy enough (a request every 50 ms for over twice the timeout): stays open.
    let mut c = s.client();
    let port = c.get("/peer").text();
    let start = Instant::now();
    while start.elapsed() < idle * 2 + Duration::from_millis(200) {
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(c.get("/peer").text(), port);
    }
    // Idle: closed, not before the timeout (the reaper's clock is coarse: a few ms),
    // and within the read limit.
    let idle_from = Instant::now();
    c.expect_closed();
    let waited = idle_from.elapsed();
    assert!(
        waited >= idle - Duration::from_millis(50),
        "closed after {waited:?} idle, before the {idle:?} idle timeout"
    );
    // A connection that never sent anything is idle too.
    let mut c = s.client();
    let idle_from = Instant::now();
    c.expect_closed();
    assert!(idle_from.elapsed() >= idle - Duration::from_millis(50));
    // The server still serves.
    assert_eq!(s.client().get("/").status, 200);
    s.stop();
}

#[test]
fn a_slow_handler_is_not_cut_off_by_the_header_or_idle_timeouts() {
    let _w = Watchdog::new("slow handler", LIMIT);
    let s = TestServer::start(
        |s| {
            s.header_read_timeout(Duration::from_millis(300))
                .idle_timeout(Duration::from_millis(300))
        },
        http_util::demo,
    );
    let mut c = s.client();
    let r = c.get("/sleep?ms=1000");
    assert_eq!((r.status, r.text().as_str()), (200, "slept"));
    assert!(!r.says_close());
    s.stop();
}
