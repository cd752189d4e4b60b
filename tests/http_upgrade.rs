//! `Response::upgrade` (Go's `Hijack`): the 101, then the raw connection with the bytes
//! read past the head; earlier pipelined answers first; the upgraded connection outlives
//! its handler on another goroutine, is exempt from the idle timeout, and graceful
//! shutdown waits for it within the grace or closes it at once when told to; over TLS
//! too.

mod common;
mod http_util;
mod tls_util;

use common::Watchdog;
use gmp::http::{Request, Response, Server};
use http_util::{Client, TestServer};
use std::io::{self, BufRead, Read, Write};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// Upgrades `/echo` to a byte echo (first echoing what came behind the head), in the
/// handler's goroutine, or on another goroutine for `/detach`.
fn app(req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
    match req.path() {
        "/echo" | "/detach" => {
            res.header("x-upgraded", "yes");
            let detach = req.path() == "/detach";
            let (mut conn, first) = res.upgrade(req, "echo")?;
            let mut run = move || -> io::Result<()> {
                conn.write_all(&first)?;
                let mut buf = [0u8; 1024];
                loop {
                    let n = conn.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    conn.write_all(&buf[..n])?;
                }
            };
            if detach {
                gmp::spawn(move || {
                    let _ = run();
                });
                Ok(())
            } else {
                run()
            }
        }
        "/late" => {
            res.write_all(b"started")?;
            res.flush()?;
            let e = res.upgrade(req, "x").unwrap_err();
            assert!(e.to_string().contains("the response has started"), "{e}");
            Ok(())
        }
        "/body" => {
            let e = res.upgrade(req, "x").unwrap_err();
            res.body(e.to_string());
            Ok(())
        }
        _ => http_util::demo(req, res),
    }
}

/// Reads the 101's head and checks it.
fn read_101<R: BufRead>(r: &mut R) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    for h in [
        "Upgrade: echo\r\n",
        "Connection: Upgrade\r\n",
        "x-upgraded: yes\r\n",
    ] {
        assert!(head.contains(h), "{h:?} in {head}");
    }
}

fn upgrade_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
}

#[test]
fn the_101_then_the_raw_connection_with_what_came_behind_the_head() {
    let _w = Watchdog::new("upgrade", LIMIT);
    let s = TestServer::start(|s| s.idle_timeout(Duration::from_millis(200)), app);
    let mut c = Client::connect(s.addr);
    // A pipelined request first, then the upgrade with its first bytes in one write.
    c.send(format!(
        "GET /before HTTP/1.1\r\nHost: a\r\n\r\n{}first bytes|",
        upgrade_request("/echo")
    ));
    assert_eq!(c.resp().text(), "target: /before");
    read_101(&mut c.r);
    let mut got = vec![0u8; 12];
    c.r.read_exact(&mut got).unwrap();
    assert_eq!(got, b"first bytes|");
    // Idle for longer than the server's idle timeout: an upgraded connection is not
    // timed out.
    std::thread::sleep(Duration::from_millis(700));
    c.send("ping");
    let mut got = [0u8; 4];
    c.r.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    drop(c);
    s.stop();
}

#[test]
fn an_upgraded_connection_outlives_its_handler_on_another_goroutine() {
    let _w = Watchdog::new("detach", LIMIT);
    let s = TestServer::start(|s| s, app);
    let mut c = Client::connect(s.addr);
    c.send(upgrade_request("/detach"));
    read_101(&mut c.r);
    for i in 0..20 {
        let msg = format!("message {i};");
        c.send(&msg);
        let mut got = vec![0u8; msg.len()];
        c.r.read_exact(&mut got).unwrap();
        assert_eq!(got, msg.as_bytes());
    }
    drop(c);
    s.stop();
}

#[test]
fn upgrade_refuses_a_started_response_and_a_request_with_a_body() {
    let _w = Watchdog::new("upgrade errors", LIMIT);
    let s = TestServer::start(|s| s, app);
    let r = s.client().get("/late");
    assert_eq!(r.text(), "started");
    let mut c = s.client();
    let r = c.roundtrip("POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
    assert!(r.text().contains("the request has a body"), "{}", r.text());
    s.stop();
}

#[test]
fn shutdown_waits_for_an_upgraded_connection_or_closes_it_when_told() {
    let _w = Watchdog::new("upgrade shutdown", LIMIT);
    // Default: shutdown waits (within the grace) for the upgraded connection.
    let s = TestServer::start(|s| s.shutdown_grace(Duration::from_secs(5)), app);
    let mut c = Client::connect(s.addr);
    c.send(upgrade_request("/echo"));
    read_101(&mut c.r);
    let h = s.shutdown_handle();
    h.shutdown();
    std::thread::sleep(Duration::from_millis(300));
    c.send("still here");
    let mut got = [0u8; 10];
    c.r.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"still here");
    let t = Instant::now();
    drop(c); // the client leaves: the handler returns, shutdown completes
    s.stop();
    assert!(t.elapsed() < Duration::from_secs(3));

    // wait_for_upgraded(false): shutdown closes it at once.
    let s = TestServer::start(
        |s| {
            s.wait_for_upgraded(false)
                .shutdown_grace(Duration::from_secs(5))
        },
        app,
    );
    let mut c = Client::connect(s.addr);
    c.send(upgrade_request("/echo"));
    read_101(&mut c.r);
    let t = Instant::now();
    s.shutdown_handle().shutdown();
    let mut rest = Vec::new();
    let _ = c.r.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "closed after {:?}",
        t.elapsed()
    );
    s.stop();
}

#[test]
fn upgrade_over_tls() {
    let _w = Watchdog::new("upgrade tls", LIMIT);
    let p = tls_util::pki("upgrade", &["localhost"]);
    let cfg = p.server_config();
    let s = TestServer::start(move |s: Server| s.tls(cfg), app);
    let tcp = std::net::TcpStream::connect(s.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let tls = gmp::net::tls::connect("localhost", tcp, &p.client_config()).unwrap();
    let mut c = Client::new(tls);
    c.send(format!("{}over tls|", upgrade_request("/echo")));
    read_101(&mut c.r);
    let mut got = vec![0u8; 9];
    c.r.read_exact(&mut got).unwrap();
    assert_eq!(got, b"over tls|");
    c.send("and more");
    let mut got = [0u8; 8];
    c.r.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"and more");
    drop(c);
    s.stop();
}
