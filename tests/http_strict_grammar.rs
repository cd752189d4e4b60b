//! The chunked body's grammar on raw sockets: trailer lines are field lines (the desync
//! an outside probe found: request lines swallowed as trailers), chunk-size lines are
//! exactly `size [BWS ";" ext]`, and the server's own error responses to HEAD carry no
//! body. Each case is sent in one write and again one byte per write, so that the
//! decoder meets it split at every byte.

mod common;
mod http_util;

use common::Watchdog;
use http_util::{Client, Resp, TestServer};
use std::io::{self, Write};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const CHUNKED_ECHO: &str = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

/// Sends `raw` in one write, or one byte per write (the server then sees it in as many
/// reads as the network makes of it). A write that fails because the server already
/// answered and closed is not an error: the response is what the test reads.
fn send(c: &mut Client<std::net::TcpStream>, raw: &[u8], bytewise: bool) {
    let mut s = c.stream();
    let pieces: Vec<&[u8]> = if bytewise {
        raw.chunks(1).collect()
    } else {
        vec![raw]
    };
    for p in pieces {
        match s.write_all(p) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                return
            }
            Err(e) => panic!("writing to the server: {e}"),
        }
    }
}

/// Sends `raw` (then a valid request) both ways and asserts: `status`, `Connection:
/// close`, and the connection closes with nothing more, so the request behind is never
/// answered.
fn refused(s: &TestServer, raw: &[u8], status: u16) {
    for bytewise in [false, true] {
        let mut c = s.client();
        let mut bytes = raw.to_vec();
        bytes.extend_from_slice(b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
        send(&mut c, &bytes, bytewise);
        let r = c
            .try_read_resp(false)
            .unwrap_or_else(|e| panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw)));
        assert_eq!(
            r.status,
            status,
            "{:?} (bytewise: {bytewise}) answered {} {:?}",
            String::from_utf8_lossy(raw),
            r.status,
            r.text()
        );
        assert!(r.says_close(), "no Connection: close: {r:?}");
        c.expect_closed();
    }
}

/// Sends `raw` both ways and returns the responses to the `n` requests in it.
fn answered(s: &TestServer, raw: &[u8], n: usize) -> Vec<Resp> {
    let mut all = Vec::new();
    for bytewise in [false, true] {
        let mut c = s.client();
        send(&mut c, raw, bytewise);
        for _ in 0..n {
            let r = c.try_read_resp(false).unwrap_or_else(|e| {
                panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw))
            });
            all.push(r);
        }
    }
    all
}

#[test]
fn request_lines_in_a_trailer_section_are_refused_not_swallowed() {
    let _w = Watchdog::new("smuggled trailer", LIMIT);
    let s = TestServer::demo();
    // The probe's request: gmp used to answer `xyz`, take `GET /2 HTTP/1.1` and `Host: a`
    // as trailer lines, then answer `/3`.
    let raw = b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
        3\r\nxyz\r\n0\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    refused(&s, raw, 400);
    s.stop();
}

#[test]
fn trailer_lines_that_a_head_would_refuse_are_400_and_close() {
    let _w = Watchdog::new("bad trailers", LIMIT);
    let s = TestServer::demo();
    for trailer in [
        &b"NoColon\r\n"[..],
        b"X-T : 1\r\n",
        b"X-T\t: 1\r\n",
        b"X-T: 1\r\n folded\r\n",
        b"X-T: 1\r\n\tfolded\r\n",
        b" X-T: 1\r\n",
        b"X(T): 1\r\n",
        b": 1\r\n",
        b"X-T: a\x00b\r\n",
        b"X-T: a\x7fb\r\n",
        b"X-T: a\x01b\r\n",
        b"X-T: a\rb\r\n",
        b"X-T: 1\r\r\n",
        b"HTTP/1.1 200 OK\r\n",
    ] {
        let raw = [
            CHUNKED_ECHO.as_bytes(),
            b"3\r\nxyz\r\n0\r\n",
            trailer,
            b"\r\n",
        ]
        .concat();
        refused(&s, &raw, 400);
    }
    s.stop();
}

#[test]
fn valid_trailers_are_read_and_dropped_and_the_connection_goes_on() {
    let _w = Watchdog::new("good trailers", LIMIT);
    let s = TestServer::demo();
    for trailers in [
        &b""[..],
        b"X-T: 1\r\n",
        b"X-Empty:\r\n",
        b"Checksum: abc def\r\nX-U:  spaced  \r\nX-Obs: caf\xc3\xa9\r\n",
    ] {
        let raw = [
            CHUNKED_ECHO.as_bytes(),
            b"3\r\nxyz\r\n0\r\n",
            trailers,
            b"\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
        ]
        .concat();
        for pair in answered(&s, &raw, 2).chunks(2) {
            assert_eq!(pair[0].status, 200);
            assert_eq!(
                pair[0].body,
                b"xyz",
                "{:?}",
                String::from_utf8_lossy(trailers)
            );
            assert!(!pair[0].says_close());
            assert_eq!(pair[1].text(), "target: /next");
        }
    }
    s.stop();
}

#[test]
fn chunk_size_lines_follow_the_grammar() {
    let _w = Watchdog::new("chunk lines", LIMIT);
    let s = TestServer::demo();
    // Whitespace after the size is allowed only before an extension; extensions are
    // `;name[=token|quoted]` with BWS around `;` and `=`.
    for line in [
        "5 ",
        "5\t",
        "5 \t",
        " 5",
        "+5",
        "-5",
        "0x5",
        "5;",
        "5;=b",
        "5;a=",
        "5;a ",
        "5;a=b ",
        "5;a=b c",
        "5;a=\"b",
        "5;a=\"b\"c",
        "5;(a)",
        "5;a=b;",
        "5 ; ",
    ] {
        let raw = format!("{CHUNKED_ECHO}{line}\r\nhello\r\n0\r\n\r\n");
        refused(&s, raw.as_bytes(), 400);
    }
    for line in [
        "5",
        "005",
        "5;a",
        "5;a=b",
        "5 ;a=b",
        "5\t;a=b",
        "5; a = b ;c",
        "5;a=\"q v\"",
        "5;a=\"x\\\"y\";b=\"\"",
    ] {
        let raw = format!("{CHUNKED_ECHO}{line}\r\nhello\r\n0;last=1\r\n\r\n");
        for r in answered(&s, raw.as_bytes(), 1) {
            assert_eq!(
                (r.status, r.body.as_slice()),
                (200, &b"hello"[..]),
                "{line:?}"
            );
        }
    }
    s.stop();
}

/// Reads a response to HEAD and asserts it has `status`, keeps `Content-Length`, and is
/// followed by nothing: no body, then the close.
fn head_refused(s: &TestServer, raw: &[u8], status: u16) {
    for bytewise in [false, true] {
        let mut c = s.client();
        send(&mut c, raw, bytewise);
        let r = c.head_resp();
        assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(raw));
        let len: usize = r
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Content-Length: {r:?}"));
        assert!(len > 0, "{r:?}");
        assert!(r.says_close());
        // A body here would be read as the start of the next response.
        c.expect_closed();
    }
}

#[test]
fn error_responses_to_head_carry_no_body() {
    let _w = Watchdog::new("head errors", LIMIT);
    let s = TestServer::start(|s| s.max_body_bytes(1000), http_util::demo);
    head_refused(&s, b"HEAD / HTTP/1.1\r\n\r\n", 400); // missing Host
    head_refused(&s, b"HEAD / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n", 400);
    head_refused(
        &s,
        b"\r\nHEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
    head_refused(
        &s,
        b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
        413,
    );
    let long = format!("HEAD /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    head_refused(&s, long.as_bytes(), 414);
    let big = format!(
        "HEAD / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    head_refused(&s, big.as_bytes(), 431);
    head_refused(
        &s,
        b"HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
    );
    head_refused(&s, b"HEAD / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    head_refused(&s, b"HEAD / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", 417);
    // The handler's failures: a panic and an error become 500s.
    head_refused(&s, b"HEAD /panic HTTP/1.1\r\nHost: a\r\n\r\n", 500);
    head_refused(&s, b"HEAD /error HTTP/1.1\r\nHost: a\r\n\r\n", 500);
    // A body the handler reads and that turns out malformed: the 400 has no body.
    head_refused(
        &s,
        b"HEAD /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
        400,
    );
    // The same errors to GET still carry their text.
    let mut c = s.client();
    c.send(b"GET / HTTP/1.1\r\n\r\n");
    let r = c.resp();
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "missing Host header\n")
    );
    s.stop();
}
