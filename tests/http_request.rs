//! What a handler sees of a request: method, target, path and query (origin and
//! absolute form), version, headers (case-insensitive lookup, repeats in order, raw
//! bytes), the client's address and the declared length.

mod common;
mod http_util;

use common::Watchdog;
use http_util::TestServer;
use std::fmt::Write as _;
use std::time::Duration;

#[test]
fn request_accessors() {
    let _w = Watchdog::new("accessors", Duration::from_secs(30));
    let s = TestServer::start(
        |s| s,
        |req, res| {
            let mut out = String::new();
            writeln!(out, "method={}", req.method()).unwrap();
            writeln!(out, "target={}", req.target()).unwrap();
            writeln!(out, "path={}", req.path()).unwrap();
            writeln!(out, "query={:?}", req.query()).unwrap();
            writeln!(out, "version={}", req.version()).unwrap();
            writeln!(out, "x-one={:?}", req.header("X-ONE")).unwrap();
            writeln!(out, "missing={:?}", req.header("missing")).unwrap();
            writeln!(out, "length={:?}", req.content_length()).unwrap();
            for (n, v) in req.headers() {
                writeln!(out, "h {n}={}", String::from_utf8_lossy(v)).unwrap();
            }
            writeln!(out, "peer_ip={}", req.remote_addr().ip()).unwrap();
            writeln!(out, "peer_port={}", req.remote_addr().port()).unwrap();
            res.body(out);
            Ok(())
        },
    );
    let mut c = s.client();
    let local_port = c.stream().local_addr().unwrap().port();
    let r = c.roundtrip(
        "PATCH /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: t\r\nx-one: first\r\nX-Rep: 1\r\nx-rep: 2\r\nContent-Length: 0\r\n\r\n",
    );
    let want = format!(
        "method=PATCH\ntarget=/a/b%20c?x=1&y=2\npath=/a/b%20c\nquery=Some(\"x=1&y=2\")\n\
         version=HTTP/1.1\nx-one=Some(\"first\")\nmissing=None\nlength=Some(0)\n\
         h Host=t\nh x-one=first\nh X-Rep=1\nh x-rep=2\nh Content-Length=0\n\
         peer_ip=127.0.0.1\npeer_port={local_port}\n"
    );
    assert_eq!(r.text(), want);

    // Absolute form, no query; HTTP/1.0; a non-UTF-8 value is there as bytes only.
    let r = c.roundtrip(
        b"GET http://example.com:8080/p/q HTTP/1.0\r\nConnection: keep-alive\r\nX-One: \xff\xfe\r\n\r\n"
            .as_slice(),
    );
    let text = r.text();
    assert!(
        text.contains("target=http://example.com:8080/p/q\npath=/p/q\nquery=None\n"),
        "{text}"
    );
    assert!(text.contains("version=HTTP/1.0\nx-one=None\n"), "{text}");
    assert!(text.contains("h X-One=\u{fffd}\u{fffd}\n"), "{text}");
    // A chunked request has no declared length; `*` is a target too.
    let r =
        c.roundtrip("OPTIONS * HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    let text = r.text();
    assert!(
        text.contains("method=OPTIONS\ntarget=*\npath=*\n"),
        "{text}"
    );
    assert!(text.contains("length=None\n"), "{text}");
    s.stop();
}

#[test]
fn non_ascii_request_targets_are_refused_or_valid_utf8() {
    let _w = Watchdog::new("non-ascii", Duration::from_secs(30));
    let s = TestServer::demo();
    for raw in [
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n".as_slice(),
        b"GET /\xff\xfe HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a?\xc3 HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let mut c = s.client();
        c.send(raw);
        let r = c.resp();
        // `Request::target` is a `&str`: whatever reaches the handler must be UTF-8.
        assert!(
            r.status == 400 || (r.status == 200 && std::str::from_utf8(&r.body).is_ok()),
            "{:?} answered {} {:?}",
            String::from_utf8_lossy(raw),
            r.status,
            r.body
        );
        eprintln!(
            "{:?} -> {} {:?}",
            String::from_utf8_lossy(raw),
            r.status,
            r.text()
        );
    }
    s.stop();
}
