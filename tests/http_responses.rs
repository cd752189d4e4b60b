//! What every response carries and what some must leave out: `Date` (a current
//! IMF-fixdate, refreshed) and `Server` on all of them, HEAD with headers and no body,
//! 1xx/204/304 with neither body nor Content-Length, and streamed (chunked) bodies.

mod common;
mod http_util;

use common::Watchdog;
use http_util::{now_secs, parse_imf_date, Resp, TestServer};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn check_date_and_server(r: &Resp, what: &str) {
    assert_eq!(r.count("server"), 1, "{what}: {r:?}");
    assert_eq!(r.count("date"), 1, "{what}: {r:?}");
    let date = r.header("date").unwrap();
    let t = parse_imf_date(date)
        .unwrap_or_else(|| panic!("{what}: Date {date:?} is not an IMF-fixdate"));
    let now = now_secs();
    assert!(
        t + 5 >= now && t <= now + 5,
        "{what}: Date {date:?} is not now ({now})"
    );
}

#[test]
fn every_response_has_date_and_server() {
    let _w = Watchdog::new("date/server", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    check_date_and_server(&c.get("/"), "200");
    check_date_and_server(&c.get("/status?code=404"), "404");
    check_date_and_server(&c.get("/status?code=204"), "204");
    check_date_and_server(&c.get("/stream?n=3"), "streamed");
    c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    check_date_and_server(&c.head_resp(), "HEAD");
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
    assert_eq!(c.resp().status, 100);
    c.send("x");
    check_date_and_server(&c.resp(), "after 100");
    check_date_and_server(&s.client().get("/panic"), "panic 500");
    check_date_and_server(&s.client().get("/error"), "error 500");
    let mut c = s.client();
    c.send("GET / HTTP/1.1\r\n\r\n");
    check_date_and_server(&c.resp(), "400");

    // A handler's own Date and Server replace the defaults (not added twice).
    let s2 = TestServer::start(
        |s| s,
        |_req, res| {
            res.header("Server", "custom")
                .header("date", "Sun, 06 Nov 1994 08:49:37 GMT");
            res.body("x");
            Ok(())
        },
    );
    let r = s2.client().get("/");
    assert_eq!(r.header("server"), Some("custom"));
    assert_eq!(r.header("date"), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
    assert_eq!((r.count("server"), r.count("date")), (1, 1));
    assert_eq!(
        parse_imf_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777)
    );
    s2.stop();
    s.stop();
}

#[test]
fn date_is_refreshed() {
    let _w = Watchdog::new("date refresh", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    let first = parse_imf_date(c.get("/").header("date").unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    let second = parse_imf_date(c.get("/").header("date").unwrap()).unwrap();
    assert!(
        second > first,
        "Date not refreshed over 2.1 s: {first} then {second}"
    );
    s.stop();
}

#[test]
fn a_slow_handler_is_dated_when_it_answers() {
    // The head of a 200 is written when the request starts (so the handler's header
    // lines go straight after it); its Date must still be the time of the answer.
    let _w = Watchdog::new("slow date", LIMIT);
    let s = TestServer::start(
        |s| s,
        |req, res| {
            gmp::sleep(Duration::from_millis(1600));
            res.header("x-late", "yes");
            if req.path() == "/stream" {
                std::io::Write::write_all(res, b"streamed")?;
            } else {
                res.body("whole");
            }
            Ok(())
        },
    );
    for path in ["/", "/stream"] {
        let asked = now_secs();
        let r = s.client().get(path);
        assert_eq!((r.status, r.header("x-late")), (200, Some("yes")), "{path}");
        let date = parse_imf_date(r.header("date").unwrap()).unwrap();
        // The servers publish the second twice a second: 1.6 s later it has moved on.
        assert!(
            date > asked,
            "{path}: dated {date}, asked in {asked}: the Date of the request's start"
        );
    }
    s.stop();
}

#[test]
fn head_gets_the_headers_and_no_body() {
    let _w = Watchdog::new("head", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    // The length the GET would have; then the next response must start right after
    // the head (a stray body would break its status line).
    c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.head_resp();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(c.get("/").body, b"Hello, World!");
    // A streaming handler: its writes are dropped, no chunked framing is announced.
    c.send("HEAD /stream?n=100 HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.head_resp();
    assert_eq!(r.status, 200);
    assert!(!r.is_chunked(), "{r:?}");
    assert!(!r.says_close(), "{r:?}");
    assert_eq!(c.get("/").body, b"Hello, World!");
    // Pipelined HEADs between GETs.
    c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\nHEAD /y HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head_resp().header("content-length"), Some("13"));
    assert_eq!(c.resp().text(), "target: /x");
    assert_eq!(c.head_resp().header("content-length"), Some("10"));
    assert_eq!(c.resp().body, b"Hello, World!");
    // Nothing else is pending on the connection.
    c.stream()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut b = [0u8; 16];
    assert!(
        c.r.buffer().is_empty() && std::io::Read::read(c.r.get_mut(), &mut b).is_err(),
        "bytes after the last response"
    );
    s.stop();
}

#[test]
fn status_1xx_204_304_have_no_body_and_no_content_length() {
    let _w = Watchdog::new("no body statuses", LIMIT);
    let s = TestServer::start(
        |s| s,
        |req, res| {
            let code = http_util::param(req, "code").unwrap_or(200) as u16;
            res.status(code);
            if req.path() == "/write" {
                // Streaming into a body-less status fails.
                let e = std::io::Write::write(res, b"body").unwrap_err();
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            } else {
                res.header("content-length", "4");
                res.body("body");
            }
            Ok(())
        },
    );
    let mut c = s.client();
    for code in [204, 304, 103, 199] {
        for path in ["/body", "/write"] {
            let r = c.get(&format!("{path}?code={code}"));
            assert_eq!(r.status, code);
            assert!(!r.has("content-length"), "{code} {path}: {r:?}");
            assert!(!r.has("transfer-encoding"), "{code} {path}: {r:?}");
        }
    }
    // The connection is still in step: no body bytes went out.
    let r = c.get("/body?code=200");
    assert_eq!((r.status, r.body.as_slice()), (200, b"body".as_slice()));
    s.stop();
}

#[test]
fn streamed_responses_are_chunked_for_http11() {
    let _w = Watchdog::new("chunked download", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    let r = c.get("/stream?n=1000");
    assert!(r.is_chunked(), "{r:?}");
    assert!(!r.has("content-length"));
    let want: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(r.text(), want);
    // And the connection is reusable after the terminating chunk.
    assert_eq!(c.get("/").body, b"Hello, World!");
    s.stop();
}

#[test]
fn large_bodies_whole_and_streamed_keep_their_order_in_a_pipeline() {
    let _w = Watchdog::new("large bodies", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    // Small and large (past the copy threshold) responses, pipelined.
    let reqs = [
        "/",
        "/big?n=1000000",
        "/",
        "/big-stream?n=1000000&write=100000",
        "/",
        "/big-stream?n=300000&write=7",
        "/big?n=20000",
        "/big-stream?n=20000&write=20000",
    ];
    let raw: String = reqs
        .iter()
        .map(|p| format!("GET {p} HTTP/1.1\r\nHost: t\r\n\r\n"))
        .collect();
    c.send(raw);
    for p in reqs {
        let r = c.resp();
        assert_eq!(r.status, 200, "{p}");
        let want = match p.split_once("n=") {
            Some((_, n)) => http_util::pattern(n.split('&').next().unwrap().parse().unwrap()),
            None => b"Hello, World!".to_vec(),
        };
        assert!(r.body == want, "{p}: wrong body ({} bytes)", r.body.len());
        assert_eq!(r.is_chunked(), p.starts_with("/big-stream"), "{p}");
    }
    s.stop();
}

#[test]
fn a_response_shorter_than_its_content_length_closes_the_connection() {
    let _w = Watchdog::new("short body", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    c.send("GET /short HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    // The client cannot get a complete response, and the next request is not answered
    // (its answer would be read as the rest of the body).
    match c.try_read_resp(false) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        other => panic!("expected the body cut short by a close, got {other:?}"),
    }
    s.stop();
}

#[test]
fn a_header_that_would_split_the_response_is_refused() {
    let _w = Watchdog::new("header injection", LIMIT);
    let s = TestServer::start(
        |s| s,
        |req, res| {
            match req.path() {
                "/crlf" => res.header("x-a", "1\r\nx-injected: 2"),
                "/nul" => res.header("x-a", "1\0"),
                "/name" => res.header("x a", "1"),
                _ => res.header("x-tab", "a\tb"),
            };
            res.body("ok");
            Ok(())
        },
    );
    for path in ["/crlf", "/nul", "/name"] {
        let mut c = s.client();
        let r = c.get(path);
        // The handler panicked with a message saying what was wrong: a 500, nothing of
        // the bad header on the wire, and the connection closes.
        assert_eq!(r.status, 500, "{path}");
        assert!(!r.has("x-injected") && !r.has("x-a"), "{path}: {r:?}");
        assert!(r.says_close(), "{path}");
    }
    // HTAB is allowed in a value.
    let r = s.client().get("/tab");
    assert_eq!((r.status, r.header("x-tab")), (200, Some("a\tb")));
    s.stop();
}

#[test]
fn try_header_refuses_what_header_panics_on_with_an_error() {
    let _w = Watchdog::new("try_header", LIMIT);
    let s = TestServer::start(
        |s| s,
        |req, res| {
            // Echoes the query into a header: the case `try_header` is for.
            let v = req
                .query()
                .unwrap_or("")
                .replace("%0D%0A", "\r\n")
                .replace("%00", "\0");
            let name = if req.path() == "/name" {
                "x a"
            } else {
                "x-echo"
            };
            match res.try_header(name, &v) {
                Ok(_) => {
                    res.body("ok");
                }
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
                    res.status(400).body(e.to_string());
                }
            }
            Ok(())
        },
    );
    for (path, why) in [
        ("/v?a%0D%0Ax-injected:%202", "control character"),
        ("/v?a%00", "control character"),
        ("/name?a", "invalid header name"),
    ] {
        let r = s.client().get(path);
        assert_eq!(r.status, 400, "{path}: {r:?}");
        assert!(r.text().contains(why), "{path}: {}", r.text());
        assert!(!r.has("x-injected") && !r.has("x-echo"), "{path}: {r:?}");
        assert!(
            !r.says_close(),
            "an error the handler answered keeps the connection"
        );
    }
    let r = s.client().get("/v?fine");
    assert_eq!((r.status, r.header("x-echo")), (200, Some("fine")));
    // Transfer-Encoding and a bad Content-Length are errors too.
    let s2 = TestServer::start(
        |s| s,
        |req, res| {
            let (n, v) = match req.path() {
                "/te" => ("transfer-encoding", "chunked"),
                _ => ("content-length", "12x"),
            };
            let e = res.try_header(n, v).expect_err("an error");
            res.status(400).body(e.to_string());
            Ok(())
        },
    );
    assert!(s2
        .client()
        .get("/te")
        .text()
        .contains("Transfer-Encoding is set by the server"));
    assert!(s2
        .client()
        .get("/cl")
        .text()
        .contains("invalid Content-Length"));
    s.stop();
    s2.stop();
}
