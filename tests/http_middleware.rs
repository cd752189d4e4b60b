//! The middleware gmp-http ships, and what the server logs about failing handlers:
//! `log_requests` logs the status the client actually received (a handler error or
//! panic as the 500 it became, a broken body as its 4xx), the bytes and the duration;
//! a handler error is logged at WARN and a panic at ERROR, each naming the request;
//! `timeout` answers 503 and closes when the handler has sent nothing in time, never
//! overtakes an earlier pipelined response, and leaves no goroutine behind.

mod common;
mod http_util;

use common::Watchdog;
use gmp::http::{log_requests, timeout, Request, Response, Router};
use http_util::TestServer;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// Everything `tracing` printed in this test binary (one subscriber for the process:
/// the servers' runtime threads log through the global default).
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The log lines that mention `needle`, waiting briefly for them (the server logs after
/// the response went out).
fn lines_with(needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
        let found: Vec<String> = text
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect();
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn app() -> Router {
    let mut r = Router::new();
    r.handle("GET /ok/{tag}", |_req, res| {
        res.body("twelve bytes");
        Ok(())
    });
    r.handle("GET /error/{tag}", |_req, _res| {
        Err(io::Error::other("the database is down"))
    });
    r.handle("GET /panic/{tag}", |_req, _res| {
        panic!("handler panics on purpose")
    });
    r.handle("POST /read/{tag}", |req, res| {
        let mut body = Vec::new();
        req.body().read_to_end(&mut body)?;
        res.body("read");
        Ok(())
    });
    r.with(log_requests)
}

#[test]
fn log_requests_logs_the_status_the_client_received() {
    let _w = Watchdog::new("log", LIMIT);
    logs();
    let s = TestServer::start_handler(|s| s.max_body_bytes(100), app());
    let mut c = s.client();
    assert_eq!(c.get("/ok/t1").status, 200);
    assert_eq!(s.client().get("/error/t2").status, 500);
    assert_eq!(s.client().get("/panic/t3").status, 500);
    assert_eq!(s.client().get("/nothing/t4").status, 404);
    let mut c = s.client();
    c.send(format!(
        "POST /read/t5 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n{}\r\n0\r\n\r\n",
        "x".repeat(128)
    ));
    assert_eq!(c.resp().status, 413);
    for (tag, status, outcome, bytes) in [
        ("/ok/t1", 200, "ok", 12),
        ("/error/t2", 500, "error", 0),
        ("/panic/t3", 500, "panic", 0),
        ("/nothing/t4", 404, "ok", 19),
        ("/read/t5", 413, "error", 0),
    ] {
        let found = lines_with(&format!("path=\"{tag}\""));
        let access: Vec<_> = found
            .iter()
            .filter(|l| l.contains("gmp_http::access"))
            .collect();
        assert_eq!(access.len(), 1, "{tag}: {found:?}");
        let l = access[0];
        assert!(l.contains(" INFO "), "{l}");
        for want in [
            format!("status={status}"),
            format!("outcome=\"{outcome}\""),
            format!("bytes={bytes}"),
            "micros=".to_string(),
            "remote=127.0.0.1:".to_string(),
        ] {
            assert!(l.contains(&want), "{tag}: no {want} in {l}");
        }
    }
    s.stop();
}

#[test]
fn handler_errors_warn_and_panics_name_the_request() {
    let _w = Watchdog::new("failure logs", LIMIT);
    logs();
    let s = TestServer::start_handler(|s| s, app());
    assert_eq!(s.client().get("/error/w1").status, 500);
    assert_eq!(s.client().get("/panic/w2").status, 500);
    let err = lines_with("handler error: the database is down");
    let err: Vec<_> = err.iter().filter(|l| l.contains("/error/w1")).collect();
    assert_eq!(
        err.len(),
        1,
        "{err:?} in {}",
        String::from_utf8_lossy(&logs().lock().unwrap())
    );
    assert!(
        err[0].contains(" WARN ") && err[0].contains("method=\"GET\""),
        "{}",
        err[0]
    );
    assert!(err[0].contains("remote=127.0.0.1:"), "{}", err[0]);
    let p = lines_with("handler panicked: handler panics on purpose");
    let p: Vec<_> = p.iter().filter(|l| l.contains("/panic/w2")).collect();
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("ERROR") && p[0].contains("remote=127.0.0.1:"),
        "{}",
        p[0]
    );
    s.stop();
}

fn slow(req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
    let ms: u64 = req
        .query_param("ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if req.query_param("stream").is_some() {
        res.write_all(b"started ")?;
        res.flush()?;
    }
    gmp::sleep(Duration::from_millis(ms));
    res.write_all(b"done")?;
    Ok(())
}

fn goroutines(_: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
    res.body(gmp::stats().goroutines.to_string());
    Ok(())
}

#[test]
fn timeout_answers_503_and_closes_when_nothing_was_sent() {
    let _w = Watchdog::new("timeout", LIMIT);
    let mut app = Router::new();
    app.mount("GET /slow", timeout(Duration::from_millis(200), slow));
    app.handle("GET /goroutines", goroutines);
    app.handle("GET /fast", |_req, res| {
        res.body("fast");
        Ok(())
    });
    let s = TestServer::start_handler(|s| s, app);
    let base: usize = s.client().get("/goroutines").text().parse().unwrap();

    // In time: the handler's answer.
    let r = s.client().get("/slow?ms=10");
    assert_eq!((r.status, r.text().as_str()), (200, "done"));

    // Late: a 503 at the deadline, then the connection closes.
    let mut c = s.client();
    let t = Instant::now();
    let r = c.get("/slow?ms=1500");
    let waited = t.elapsed();
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.says_close(), "{r:?}");
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(1400),
        "503 after {waited:?}"
    );
    c.expect_closed();

    // HEAD: the 503 without a body.
    let mut c = s.client();
    c.send("HEAD /slow?ms=1500 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.head_resp().status, 503);
    c.expect_closed();

    // Started in time: the deadline no longer applies.
    let r = s.client().get("/slow?ms=400&stream");
    assert_eq!((r.status, r.text().as_str()), (200, "started done"));

    // A pipelined request ahead of the slow one gets its answer first.
    let mut c = s.client();
    c.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /slow?ms=1500 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.resp().text(), "fast");
    assert_eq!(c.resp().status, 503);
    c.expect_closed();

    // ... and ahead of one that answers in time: both answers, whole and in order (the
    // slow one's head, written when it started, moves to the front of the buffer when
    // the fast one's answer goes out), and the connection carries on.
    let mut c = s.client();
    c.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /slow?ms=10 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.resp().text(), "fast");
    let r = c.resp();
    assert_eq!((r.status, r.text().as_str()), (200, "done"), "{r:?}");
    assert_eq!(c.get("/fast").text(), "fast");
    drop(c); // its connection's goroutine ends too, before the count below

    // Once the late handlers have returned (1.5 s), no goroutine is left of them.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now: usize = s.client().get("/goroutines").text().parse().unwrap();
        if now <= base {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{now} goroutines, {base} before the timeouts"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    s.stop();
}
