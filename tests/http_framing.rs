//! Request framing rules (RFC 9112), one test per rule, on raw sockets: what the server
//! refuses, with which status, and that it closes the connection after (a valid request
//! sent right behind the bad one is never answered).

mod common;
mod http_util;

use common::Watchdog;
use http_util::{assert_ok, assert_refused, Client, TestServer};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn content_length_with_transfer_encoding_is_400_and_close() {
    let _w = Watchdog::new("cl+te", LIMIT);
    let s = TestServer::demo();
    assert_refused(
        s.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    );
    // Order does not matter, nor does the case of the names.
    assert_refused(
        s.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    );
    s.stop();
}

#[test]
fn invalid_or_conflicting_content_length_is_400_and_close() {
    let _w = Watchdog::new("bad cl", LIMIT);
    let s = TestServer::demo();
    for v in [
        "abc",
        "-1",
        "+5",
        "5 5",
        "0x10",
        "",
        "5;",
        "99999999999999999999999",
    ] {
        let raw = format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {v}\r\n\r\nhello");
        assert_refused(s.addr, raw.as_bytes(), 400);
    }
    // Conflicting values, in one field or in two.
    assert_refused(
        s.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!",
        400,
    );
    assert_refused(
        s.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    );
    // Repeats of one value are allowed (RFC 9112 §6.3).
    let r = assert_ok(
        s.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(r.body, b"hello");
    s.stop();
}

#[test]
fn transfer_encoding_other_than_final_chunked_is_501_or_400_and_close() {
    let _w = Watchdog::new("te", LIMIT);
    let s = TestServer::demo();
    let te = |v: &str| {
        format!("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: {v}\r\n\r\n0\r\n\r\n")
    };
    // Well-formed codings we do not decode: 501.
    for v in ["gzip", "gzip, chunked", "deflate", "x-custom;q=1, chunked"] {
        assert_refused(s.addr, te(v).as_bytes(), 501);
    }
    // chunked not last (RFC 9112 §6.3: 400), twice, malformed, or empty: 400.
    for v in [
        "chunked, gzip",
        "chunked, chunked",
        "chu nked",
        "\"chunked\"",
        "",
    ] {
        assert_refused(s.addr, te(v).as_bytes(), 400);
    }
    // Split over two fields the rule is the same.
    assert_refused(
        s.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
        400,
    );
    // HTTP/1.0 with chunked framing is served, then closed (RFC 9112 §6.1), even when
    // it asked for keep-alive.
    let mut c = s.client();
    c.send("POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
    assert_eq!(c.resp().body, b"hi");
    c.expect_closed();
    // Upper case and an empty list element are fine.
    let r = assert_ok(
        s.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: , CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(r.body, b"abc");
    s.stop();
}

#[test]
fn chunked_body_with_extensions_and_trailers_is_decoded() {
    let _w = Watchdog::new("chunked", LIMIT);
    let s = TestServer::demo();
    let body = b"5;name=value\r\nhello\r\n6;a=\"b c\";flag\r\n, worl\r\n000A ;x=y\r\nd! and mor\r\n1\r\ne\r\n0;last\r\nX-Trailer: 1\r\nChecksum: abc\r\n\r\n";
    let head = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    let want = b"hello, world! and more";

    // All at once, then another request on the same connection.
    let mut c = s.client();
    c.send([head.as_slice(), body].concat());
    let r = c.resp();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, want);
    assert_eq!(r.header("x-chunked"), Some("yes"));
    assert!(!r.says_close());
    assert_eq!(c.get("/").body, b"Hello, World!");

    // Trickled a few bytes at a time: the decoder resumes anywhere.
    let mut c = s.client();
    c.send(head);
    for piece in body.chunks(3) {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(1));
    }
    let r = c.resp();
    assert_eq!(r.body, want);
    assert_eq!(c.get("/").body, b"Hello, World!");

    // Read one byte at a time.
    let mut c = s.client();
    c.send(
        [
            &b"POST /echo-bytewise HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            body,
        ]
        .concat(),
    );
    assert_eq!(c.resp().body, want);
    c.send("POST /echo-bytewise HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(c.resp().body, b"hello");

    // A chunked body the handler does not read is drained; the connection goes on.
    let mut c = s.client();
    c.send(b"POST /noread HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(body);
    assert_eq!(c.resp().body, b"ok");
    assert_eq!(c.get("/").body, b"Hello, World!");

    // A large body in large chunks (the direct-read path).
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut raw = head.to_vec();
    for part in big.chunks(70_000) {
        raw.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        raw.extend_from_slice(part);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let mut c = s.client();
    let w = c.stream().try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        (&w).write_all(&raw).unwrap();
    });
    let r = c.resp();
    writer.join().unwrap();
    assert_eq!(r.body, big);
    assert_eq!(c.get("/").body, b"Hello, World!");
    s.stop();
}

#[test]
fn malformed_or_overflowing_chunk_size_is_400_and_close() {
    let _w = Watchdog::new("chunk size", LIMIT);
    let s = TestServer::demo();
    for chunk in [
        "fffffffffffffffff\r\n", // 17 hex digits: over u64
        "10000000000000000\r\n", // 2^64
        "ffffffffffffffff0\r\n",
        "xyz\r\nabc\r\n0\r\n\r\n",
        "-1\r\n",
        "\r\nabc\r\n0\r\n\r\n",
        "3\nabc\r\n0\r\n\r\n",    // bare LF ends the size line
        "3\r\nabcd\r\n0\r\n\r\n", // data longer than its size
    ] {
        let raw =
            format!("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}");
        assert_refused(s.addr, raw.as_bytes(), 400);
    }
    // A trailer section over the header limit (64 KiB by default) is refused too.
    let raw = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Big: {}\r\n\r\n",
        "t".repeat(70_000)
    );
    assert_refused(s.addr, raw.as_bytes(), 400);
    // An extension longer than the server's bound (4 KiB) is refused too.
    let raw = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\na\r\n0\r\n\r\n",
        "e".repeat(5000)
    );
    assert_refused(s.addr, raw.as_bytes(), 400);
    s.stop();
}

#[test]
fn header_syntax_errors_are_400_and_close() {
    let _w = Watchdog::new("header syntax", LIMIT);
    let s = TestServer::demo();
    let cases: [&[u8]; 9] = [
        // obs-fold
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n\tb\r\n\r\n",
        // whitespace before the colon
        b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-A\t: 1\r\n\r\n",
        // bare CR in a value, and as a line ending
        b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\rHost: t\r\n\r\n",
        // NUL in a value and in a name
        b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX\0A: ab\r\n\r\n",
        // a line that is not a header
        b"GET / HTTP/1.1\r\nHost: t\r\nnot a header\r\n\r\n",
    ];
    for raw in cases {
        assert_refused(s.addr, raw, 400);
    }
    s.stop();
}

#[test]
fn malformed_request_lines_are_400_and_close() {
    let _w = Watchdog::new("request line", LIMIT);
    let s = TestServer::demo();
    for line in [
        "GET  / HTTP/1.1",
        "GET /  HTTP/1.1",
        "GET\t/ HTTP/1.1",
        "GET / HTTP/1.1 ",
        " GET / HTTP/1.1",
        "GET HTTP/1.1",
        "GET /",
        "G(T / HTTP/1.1",
        "GET / x HTTP/1.1",
        "GET /a\x7fb HTTP/1.1",
        "GET /a b HTTP/1.1",
        "GET /\0 HTTP/1.1",
    ] {
        // (A stray space or a space in the target is not an unknown version: 400,
        // not 505.)
        assert_refused(s.addr, format!("{line}\r\nHost: t\r\n\r\n").as_bytes(), 400);
    }
    // Methods are case-sensitive tokens, any of them reaches the handler.
    for m in ["get", "PURGE", "M-SEARCH", "X!#$%&'*+.^_`|~1"] {
        let r = assert_ok(
            s.addr,
            format!("{m} /m HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.text(), "target: /m");
    }
    s.stop();
}

#[test]
fn http11_needs_exactly_one_host() {
    let _w = Watchdog::new("host", LIMIT);
    let s = TestServer::demo();
    assert_refused(s.addr, b"GET / HTTP/1.1\r\n\r\n", 400);
    assert_refused(s.addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    assert_refused(s.addr, b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
    // HTTP/1.0 may leave it out; an empty Host is one Host.
    assert_ok(s.addr, b"GET / HTTP/1.0\r\n\r\n");
    assert_ok(s.addr, b"GET / HTTP/1.1\r\nHost:\r\n\r\n");
    s.stop();
}

#[test]
fn request_target_over_8_kib_is_414() {
    let _w = Watchdog::new("414", LIMIT);
    let s = TestServer::demo();
    // Just under the limit is served.
    let path = format!("/{}", "a".repeat(8000));
    let r = assert_ok(
        s.addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.text(), format!("target: {path}"));
    // Over it, whole.
    let path = format!("/{}", "a".repeat(8200));
    assert_refused(
        s.addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        414,
    );
    // Over it and still arriving (no end of line yet): refused without waiting.
    let mut c = s.client();
    c.send(format!("GET /{}", "b".repeat(20_000)));
    let r = c.resp();
    assert_eq!(r.status, 414);
    assert!(r.says_close());
    c.expect_closed();
    s.stop();
}

#[test]
fn header_section_over_the_limit_is_431() {
    let _w = Watchdog::new("431", LIMIT);
    let s = TestServer::start(|s| s.max_header_bytes(4096), http_util::demo);
    let head = |filler: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: t\r\nX-Filler: {}\r\n\r\n",
            "f".repeat(filler)
        )
    };
    assert_ok(s.addr, head(3000).as_bytes());
    assert_refused(s.addr, head(5000).as_bytes(), 431);
    // Many small fields, and a head that never ends.
    let many: String = (0..300).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_refused(
        s.addr,
        format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n").as_bytes(),
        431,
    );
    let mut c = s.client();
    c.send(format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}",
        "g".repeat(10_000)
    ));
    let r = c.resp();
    assert_eq!(r.status, 431);
    c.expect_closed();
    s.stop();

    // The default limit (64 KiB) holds too.
    let s = TestServer::demo();
    assert_ok(s.addr, head(30_000).as_bytes());
    assert_refused(s.addr, head(70_000).as_bytes(), 431);
    s.stop();
}

#[test]
fn body_over_the_limit_is_413_before_it_is_read() {
    let _w = Watchdog::new("413", LIMIT);
    let calls = Arc::new(AtomicUsize::new(0));
    let k = calls.clone();
    let s = TestServer::start(
        |s| s.max_body_bytes(1000),
        move |req, res| {
            k.fetch_add(1, SeqCst);
            http_util::demo(req, res)
        },
    );
    // Only the head is sent: the answer must not wait for the body.
    let mut c = s.client();
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    let r = c.resp();
    assert_eq!(r.status, 413);
    assert!(r.says_close());
    c.expect_closed();
    // With Expect: 100-continue, the 413 comes instead of the 100.
    let mut c = s.client();
    c.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
    );
    let r = c.resp();
    assert_eq!(r.status, 413);
    c.expect_closed();
    assert_eq!(
        calls.load(SeqCst),
        0,
        "the handler ran for a refused request"
    );
    // At the limit is fine.
    let r = assert_ok(
        s.addr,
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n{}",
            "x".repeat(1000)
        )
        .as_bytes(),
    );
    assert_eq!(r.body.len(), 1000);
    // A chunked body over the limit fails to read: 413 and close.
    let mut c = s.client();
    c.send(format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{}\r\n258\r\n{}\r\n0\r\n\r\n",
        "y".repeat(600),
        "z".repeat(600)
    ));
    let r = c.resp();
    assert_eq!(r.status, 413);
    assert!(r.says_close());
    c.expect_closed();
    s.stop();
}

#[test]
fn unknown_http_version_is_505() {
    let _w = Watchdog::new("505", LIMIT);
    let s = TestServer::demo();
    for v in ["HTTP/2.0", "HTTP/1.2", "HTTP/3.0", "HTTP/0.9"] {
        assert_refused(
            s.addr,
            format!("GET / {v}\r\nHost: t\r\n\r\n").as_bytes(),
            505,
        );
    }
    // Not a version at all: 400.
    for v in ["HTTX/1.1", "HTTP/1.1x", "http/1.1"] {
        assert_refused(
            s.addr,
            format!("GET / {v}\r\nHost: t\r\n\r\n").as_bytes(),
            400,
        );
    }
    s.stop();
}

#[test]
fn expect_100_continue_is_answered_when_the_handler_reads_the_body() {
    let _w = Watchdog::new("100-continue", LIMIT);
    // The handler waits before it reads: a 100 sent eagerly (at the head) would reach
    // the client before `reading` is set.
    let reading = Arc::new(AtomicBool::new(false));
    let r2 = reading.clone();
    let s = TestServer::start(
        |s| s,
        move |req, res| {
            if req.path() == "/slow-echo" {
                gmp::sleep(Duration::from_millis(200));
                r2.store(true, SeqCst);
                let mut body = Vec::new();
                req.body().read_to_end(&mut body)?;
                res.body(body);
                return Ok(());
            }
            http_util::demo(req, res)
        },
    );
    let mut c = s.client();
    c.send(
        "POST /slow-echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    let interim = c.resp();
    assert_eq!(interim.status, 100);
    assert!(interim.headers.is_empty(), "{interim:?}");
    assert!(
        reading.load(SeqCst),
        "100 Continue sent before the handler read the body"
    );
    c.send("hello");
    let r = c.resp();
    assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
    assert!(!r.says_close());
    // Next request on the same connection: no stray 100 in between.
    assert_eq!(c.get("/").body, b"Hello, World!");

    // Behind a pipelined request: its answer first, then the 100.
    c.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(c.resp().text(), "target: /a");
    assert_eq!(c.resp().status, 100);
    c.send("abc");
    assert_eq!(c.resp().body, b"abc");

    // A client that sends the body without waiting, behind a pipelined request whose
    // answer is still pending: no 100 (it would overtake that answer), just the two
    // responses in order.
    c.send("GET /b HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nxyz");
    assert_eq!(c.resp().text(), "target: /b");
    let r = c.resp();
    assert_eq!((r.status, r.body.as_slice()), (200, b"xyz".as_slice()));

    // A handler that never reads: no 100; the final answer; the connection closes
    // (the client may still send the body, or not).
    let mut c = s.client();
    c.send("POST /noread HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    let r = c.resp();
    assert_eq!(r.status, 200);
    assert!(r.says_close());
    c.expect_closed();

    // Never to an HTTP/1.0 client: it sends the body after a short wait.
    let mut c = s.client();
    c.send("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    c.stream()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 64];
    match c.r.get_mut().read(&mut b) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!(
            "HTTP/1.0 client got something before sending its body: {other:?} {:?}",
            String::from_utf8_lossy(&b)
        ),
    }
    c.stream()
        .set_read_timeout(Some(http_util::READ_LIMIT))
        .unwrap();
    c.send("hello");
    let r = c.resp();
    assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));

    // Any other expectation: 417.
    assert_refused(
        s.addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\nhello",
        417,
    );
    s.stop();
}

#[test]
fn empty_lines_before_a_request_line_are_ignored() {
    let _w = Watchdog::new("leading crlf", LIMIT);
    let s = TestServer::demo();
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the
    // request line (some clients send CRLF after a POST body).
    let mut c = s.client();
    c.send("\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.resp().body, b"Hello, World!");
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok\r\n");
    assert_eq!(c.resp().body, b"ok");
    assert_eq!(c.get("/").body, b"Hello, World!");
    s.stop();
}

#[test]
fn several_bad_requests_in_a_row_leave_the_server_serving() {
    let _w = Watchdog::new("after errors", LIMIT);
    let s = TestServer::demo();
    for _ in 0..20 {
        assert_refused(s.addr, b"GET / HTTP/1.1\r\n\r\n", 400);
    }
    let mut c = Client::connect(s.addr);
    assert_eq!(c.get("/").body, b"Hello, World!");
    s.stop();
}
