//! Pipelining: many requests in one write are all answered, in order, and a bad one in
//! the middle ends the connection after the answers before it.

mod common;
mod http_util;

use common::Watchdog;
use http_util::TestServer;
use std::io::Read;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn hundred_pipelined_requests_in_one_write_are_answered_in_order() {
    let _w = Watchdog::new("pipelining", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    let mut raw = Vec::new();
    for i in 0..100 {
        raw.extend_from_slice(format!("GET /p/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    c.send(&raw);
    // Count the socket reads the responses took (for the log only: how TCP segments
    // them is not the server's to promise).
    let mut counting = Counting {
        inner: c.stream().try_clone().unwrap(),
        reads: 0,
    };
    let mut wire = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    // The last response ends the wire: read until it is there.
    while !wire.ends_with(b"target: /p/99") {
        let n = counting
            .read(&mut buf)
            .expect("read the pipelined responses");
        assert!(
            n > 0,
            "connection closed after {} responses",
            count(&wire, b"\r\n\r\n")
        );
        wire.extend_from_slice(&buf[..n]);
    }
    eprintln!(
        "100 pipelined responses arrived in {} reads",
        counting.reads
    );
    let mut r = http_util::Client::new(std::io::Cursor::new(wire));
    for i in 0..100 {
        let resp = r.resp();
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.text(),
            format!("target: /p/{i}"),
            "response {i} out of order"
        );
    }
    assert!(r.r.fill_buf_empty(), "bytes after the 100th response");
    // The connection is still good.
    assert_eq!(c.get("/").body, b"Hello, World!");
    s.stop();
}

#[test]
fn pipelined_requests_with_bodies_and_mixed_framing() {
    let _w = Watchdog::new("pipelining bodies", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    let mut raw = Vec::new();
    let mut want = Vec::new();
    for i in 0..100 {
        match i % 5 {
            0 => {
                let body = format!("body-{i}");
                raw.extend_from_slice(
                    format!(
                        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
                want.push((false, body));
            }
            1 => {
                raw.extend_from_slice(
                    format!("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nc-{}\r\n0\r\n\r\n", i % 10).as_bytes(),
                );
                want.push((false, format!("c-{}", i % 10)));
            }
            2 => {
                raw.extend_from_slice(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
                want.push((true, String::new()));
            }
            3 => {
                // Body left unread: drained.
                raw.extend_from_slice(
                    b"POST /noread HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\nignored",
                );
                want.push((false, "ok".into()));
            }
            _ => {
                raw.extend_from_slice(b"GET /stream?n=3 HTTP/1.1\r\nHost: t\r\n\r\n");
                want.push((false, "line 0\nline 1\nline 2\n".into()));
            }
        }
    }
    c.send(&raw);
    for (i, (head, body)) in want.iter().enumerate() {
        let r = if *head { c.head_resp() } else { c.resp() };
        assert_eq!(r.status, 200, "response {i}");
        assert_eq!(&r.text(), body, "response {i}");
    }
    assert_eq!(c.get("/").body, b"Hello, World!");
    s.stop();
}

#[test]
fn a_bad_request_in_a_pipeline_ends_it_after_the_earlier_answers() {
    let _w = Watchdog::new("pipelining error", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    let mut raw = Vec::new();
    for i in 0..10 {
        raw.extend_from_slice(format!("GET /p/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    raw.extend_from_slice(b"GET /bad HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n");
    for i in 10..20 {
        raw.extend_from_slice(format!("GET /p/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    c.send(&raw);
    for i in 0..10 {
        assert_eq!(c.resp().text(), format!("target: /p/{i}"));
    }
    let r = c.resp();
    assert_eq!(r.status, 400);
    assert!(r.says_close());
    c.expect_closed();
    s.stop();
}

#[test]
fn thousands_of_pipelined_requests_split_at_random_points() {
    let _w = Watchdog::new("pipelining split", LIMIT);
    let s = TestServer::demo();
    let mut c = s.client();
    let mut rng = common::XorShift::new(7);
    let mut raw = Vec::new();
    let mut want = Vec::new();
    for i in 0..3000u64 {
        match rng.below(4) {
            0 => {
                let body: String = (0..rng.below(3000))
                    .map(|k| (b'a' + (k % 26) as u8) as char)
                    .collect();
                raw.extend_from_slice(
                    format!(
                        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
                want.push(body);
            }
            1 => {
                let body = format!("chunked-{i}");
                raw.extend_from_slice(
                    format!(
                        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                want.push(body);
            }
            _ => {
                let pad = "p".repeat(rng.below(500) as usize);
                raw.extend_from_slice(
                    format!("GET /g/{i}?{pad} HTTP/1.1\r\nHost: t\r\nX-Pad: {pad}\r\n\r\n")
                        .as_bytes(),
                );
                want.push(format!("target: /g/{i}?{pad}"));
            }
        }
    }
    // Written in pieces of random size (1 byte to 20 KiB) while the responses are read.
    let mut w = c.stream().try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut rng = common::XorShift::new(11);
        let mut at = 0;
        while at < raw.len() {
            let n = (1 + rng.below(20_000) as usize).min(raw.len() - at);
            w.write_all(&raw[at..at + n]).unwrap();
            at += n;
        }
    });
    for (i, body) in want.iter().enumerate() {
        let r = c.resp();
        assert_eq!(r.status, 200, "response {i}");
        assert!(
            r.text() == *body,
            "response {i}: {:?} != {:?}",
            r.text(),
            body
        );
    }
    writer.join().unwrap();
    assert_eq!(c.get("/").body, b"Hello, World!");
    s.stop();
}

/// The process's count of write-type system calls (`write`, `writev`; not `send`, which
/// std's `TcpStream::write` uses).
fn write_syscalls() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").expect("read /proc/self/io");
    io.lines()
        .find_map(|l| l.strip_prefix("syscw: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("syscw in /proc/self/io")
}

/// Responses to requests that arrive together leave in few writes. Runs in a child
/// process, alone, so that the process-wide count of write calls is the server's; the
/// bound is loose (a write per response would be 100).
#[test]
fn pipelined_responses_leave_in_few_writes() {
    if common::child_mode().is_none() {
        let out = common::run_child(
            "pipelined_responses_leave_in_few_writes",
            "child",
            &[],
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "{}", out.describe());
        let line = out
            .stdout
            .lines()
            .find_map(|l| l.split_once("server writes:"));
        let line = line.unwrap_or_else(|| panic!("{}", out.describe()));
        eprintln!("server writes:{}", line.1);
        return;
    }
    let s = TestServer::demo();
    let mut c = s.client();
    assert_eq!(c.get("/").status, 200); // warm up: connection accepted, buffers made
    let mut raw = Vec::new();
    for i in 0..100 {
        raw.extend_from_slice(format!("GET /p/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    let before = write_syscalls();
    c.send(&raw); // `send(2)`: not counted
    let mut last = None;
    for _ in 0..100 {
        last = Some(c.resp());
    }
    let writes = write_syscalls() - before;
    assert_eq!(last.unwrap().text(), "target: /p/99");
    println!("server writes: {writes} for 100 pipelined responses");
    assert!(
        writes <= 20,
        "{writes} write calls for 100 pipelined responses (one per response?)"
    );
    s.stop();
}

/// Non-overlapping occurrences of `pat` in `hay`.
fn count(hay: &[u8], pat: &[u8]) -> usize {
    hay.windows(pat.len()).filter(|w| *w == pat).count()
}

struct Counting {
    inner: std::net::TcpStream,
    reads: usize,
}

impl Read for Counting {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.reads += 1;
        self.inner.read(b)
    }
}

trait FillBufEmpty {
    fn fill_buf_empty(&mut self) -> bool;
}

impl<R: Read> FillBufEmpty for std::io::BufReader<R> {
    fn fill_buf_empty(&mut self) -> bool {
        std::io::BufRead::fill_buf(self).is_ok_and(|b| b.is_empty())
    }
}
