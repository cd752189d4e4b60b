//! The HTTP client against gmp's own server and against scripted raw servers (for the
//! responses a well-behaved server never sends): keep-alive reuse counted on the server,
//! bodies by length, chunked and close, HEAD/204/304, uploads, redirects and their
//! header rule, the retry rule, every timeout, a half-read body, bad responses as errors,
//! and 1,000 goroutines sharing one client.

mod common;
mod http_util;

use common::Watchdog;
use gmp::http::{Client, Router};
use http_util::TestServer;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// A gmp server that records the client port of every request.
fn counting_server() -> (TestServer, Arc<Mutex<Vec<u16>>>) {
    let ports = Arc::new(Mutex::new(Vec::new()));
    let p = ports.clone();
    let mut app = Router::new();
    app.handle("/", move |req, res| {
        p.lock().unwrap().push(req.remote_addr().port());
        http_util::demo(req, res)
    });
    (TestServer::start_handler(|s| s, app), ports)
}

fn connections(ports: &Mutex<Vec<u16>>) -> usize {
    ports.lock().unwrap().iter().collect::<HashSet<_>>().len()
}

#[test]
fn keep_alive_bodies_and_methods_against_gmps_server() {
    let _w = Watchdog::new("client basics", LIMIT);
    let (s, ports) = counting_server();
    let base = format!("http://{}", s.addr);
    let client = Client::new();
    for i in 0..10 {
        let mut r = client.get(&format!("{base}/hello?{i}")).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().unwrap(), format!("target: /hello?{i}"));
    }
    assert_eq!(
        connections(&ports),
        1,
        "ten sequential GETs on one connection"
    );
    assert_eq!(client.idle_connections(), 1);
    // A chunked response, and a large one read straight into the caller's buffer.
    let mut r = client.get(&format!("{base}/stream?n=50")).unwrap();
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let text = r.text().unwrap();
    assert_eq!(text.lines().count(), 50);
    let mut r = client.get(&format!("{base}/big?n=3000000")).unwrap();
    assert_eq!(r.bytes().unwrap(), http_util::pattern(3_000_000));
    // Uploads: from memory (Content-Length) and from a reader (chunked).
    let mut r = client
        .request("POST", &format!("{base}/echo"))
        .header("content-type", "text/plain")
        .body("from memory")
        .send()
        .unwrap();
    assert_eq!(
        (r.status(), r.text().unwrap().as_str()),
        (200, "from memory")
    );
    let big = http_util::pattern(1_000_000);
    let mut r = client
        .request("POST", &format!("{base}/echo"))
        .body_reader(std::io::Cursor::new(big.clone()))
        .send()
        .unwrap();
    assert_eq!(r.header("x-chunked"), Some("yes"));
    assert_eq!(r.bytes().unwrap(), big);
    // HEAD and bodiless statuses end at the head, and the connection is reused.
    let mut r = client.head(&format!("{base}/big?n=100")).unwrap();
    assert_eq!(r.header("content-length"), Some("100"));
    assert_eq!(r.bytes().unwrap(), b"");
    for code in [204, 304] {
        let mut r = client.get(&format!("{base}/status?code={code}")).unwrap();
        assert_eq!((r.status(), r.bytes().unwrap().len()), (code, 0));
    }
    assert_eq!(connections(&ports), 1, "{:?}", ports.lock().unwrap());
    s.stop();
}

#[test]
fn a_half_read_body_closes_its_connection_and_a_finished_one_returns() {
    let _w = Watchdog::new("half read", LIMIT);
    let (s, ports) = counting_server();
    let base = format!("http://{}", s.addr);
    let client = Client::new();
    let mut r = client.get(&format!("{base}/big?n=2000000")).unwrap();
    let mut part = vec![0u8; 10_000];
    r.body().read_exact(&mut part).unwrap();
    drop(r);
    assert_eq!(client.idle_connections(), 0);
    client.get(&format!("{base}/x")).unwrap().text().unwrap();
    assert_eq!(connections(&ports), 2);
    // A short body left unread is already buffered: the connection is reused.
    drop(client.get(&format!("{base}/x")).unwrap());
    client.get(&format!("{base}/y")).unwrap().text().unwrap();
    assert_eq!(connections(&ports), 2);
    s.stop();
}

#[test]
fn header_values_that_would_split_the_request_are_refused_before_sending() {
    let client = Client::new();
    for (n, v) in [
        ("x-a", "1\r\nx-b: 2"),
        ("x-a", "1\n"),
        ("x-a", "\0"),
        ("x a", "1"),
    ] {
        let e = client
            .request("GET", "http://127.0.0.1:9/")
            .header(n, v)
            .send()
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{n:?}: {e}");
    }
    for bad in ["localhost/x", "ftp://x/", "http://h:0/", "http://a b/"] {
        let e = client.get(bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad}: {e}");
    }
}

/// A scripted server: for each accepted connection, `script` gets the stream and the
/// connection's index, reads requests with `read_request` and writes what it wants.
fn scripted<F>(script: F) -> (SocketAddr, Arc<Mutex<usize>>)
where
    F: Fn(TcpStream, usize) + Send + Sync + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0));
    let a = accepted.clone();
    let script = Arc::new(script);
    std::thread::spawn(move || {
        for (i, s) in l.incoming().enumerate() {
            let Ok(s) = s else { return };
            *a.lock().unwrap() += 1;
            let script = script.clone();
            std::thread::spawn(move || script(s, i));
        }
    });
    (addr, accepted)
}

/// Reads one request head (and a Content-Length body); `None` at end of stream.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<(String, Vec<String>, Vec<u8>)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        headers.push(h);
    }
    let len = headers
        .iter()
        .find_map(|h| {
            h.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((line.trim_end().to_string(), headers, body))
}

#[test]
fn close_delimited_and_interim_responses() {
    let _w = Watchdog::new("close delimited", LIMIT);
    let (addr, _) = scripted(|s, _| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let Some((line, ..)) = read_request(&mut r) else {
            return;
        };
        let mut s = s;
        if line.contains("/close") {
            // No length: the body ends with the connection.
            s.write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
                .unwrap();
        } else {
            // Two interim responses, then the answer.
            s.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
        }
    });
    let client = Client::new();
    let mut r = client.get(&format!("http://{addr}/close")).unwrap();
    assert_eq!(r.text().unwrap(), "until the end");
    assert_eq!(client.idle_connections(), 0);
    let mut r = client.get(&format!("http://{addr}/interim")).unwrap();
    assert_eq!((r.status(), r.text().unwrap().as_str()), (200, "ok"));
}

#[test]
fn bad_responses_are_errors_without_a_hang() {
    let _w = Watchdog::new("bad responses", LIMIT);
    let responses: Vec<&'static [u8]> = vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n",
        b"",
    ];
    let (addr, _) = scripted(move |s, i| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        if read_request(&mut r).is_none() {
            return;
        }
        let mut s = s;
        let _ = s.write_all(responses[i % 9]);
        if i % 9 == 7 {
            return; // not HTTP at all, then closed
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        std::thread::sleep(Duration::from_millis(200));
    });
    let client = Client::builder().timeout(Duration::from_secs(10)).build();
    for i in 0..9 {
        let t = Instant::now();
        let r = client
            .get(&format!("http://{addr}/{i}"))
            .and_then(|mut r| r.bytes());
        let e = r.expect_err(&format!("response {i} accepted"));
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "response {i} took {:?}",
            t.elapsed()
        );
        println!("response {i}: {e}");
    }
    // An oversized head.
    let (addr, _) = scripted(|s, _| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        read_request(&mut r);
        let mut s = s;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
        let big = format!("X-Big: {}\r\n", "a".repeat(1000));
        for _ in 0..100 {
            if s.write_all(big.as_bytes()).is_err() {
                return;
            }
        }
    });
    let e = Client::builder()
        .max_response_header_bytes(16 << 10)
        .build()
        .get(&format!("http://{addr}/"))
        .unwrap_err();
    assert!(e.to_string().contains("larger than 16384 bytes"), "{e}");
}

#[test]
fn a_reused_connection_closed_by_the_server_is_retried_for_get_but_not_for_post() {
    let _w = Watchdog::new("retry rule", LIMIT);
    // Each connection answers its first request, then closes on reading the second
    // without a word: what a server closing an idle connection looks like when the
    // request crosses the close.
    let (addr, accepted) = scripted(|s, _| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut s = s;
        let Some((line, ..)) = read_request(&mut r) else {
            return;
        };
        let body = format!("first: {line}");
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        read_request(&mut r);
    });
    let client = Client::new();
    let url = format!("http://{addr}/x");
    assert!(client
        .get(&url)
        .unwrap()
        .text()
        .unwrap()
        .starts_with("first: GET"));
    // The pooled connection looks alive; the server closes it on this request: retried
    // on a new connection, which answers.
    let mut r = client.get(&url).unwrap();
    assert!(r.text().unwrap().starts_with("first: GET"));
    assert_eq!(*accepted.lock().unwrap(), 2);
    // A POST is not idempotent: the failure is the caller's to see.
    let e = client.request("POST", &url).body("x").send().unwrap_err();
    assert!(e.to_string().contains("without a response"), "{e}");
    assert_eq!(*accepted.lock().unwrap(), 2);
    // With an Idempotency-Key it may be retried, as in Go.
    let fresh = Client::new();
    fresh.get(&url).unwrap().text().unwrap();
    let mut r = fresh
        .request("POST", &url)
        .header("idempotency-key", "k1")
        .body("x")
        .send()
        .unwrap();
    assert!(r.text().unwrap().starts_with("first: POST"));
}

#[test]
fn a_server_that_closes_idle_connections_is_noticed_before_reuse() {
    let _w = Watchdog::new("idle close", LIMIT);
    let ports = Arc::new(Mutex::new(Vec::new()));
    let p = ports.clone();
    let s = TestServer::start(
        |s| s.idle_timeout(Duration::from_millis(100)),
        move |req, res| {
            p.lock().unwrap().push(req.remote_addr().port());
            res.body("ok");
            Ok(())
        },
    );
    let client = Client::new();
    let url = format!("http://{}/", s.addr);
    client.get(&url).unwrap().text().unwrap();
    std::thread::sleep(Duration::from_millis(400)); // the server closes the idle one
                                                    // A POST goes out on a fresh connection: the closed one is never handed out.
    let mut r = client.request("POST", &url).body("x").send().unwrap();
    assert_eq!(r.text().unwrap(), "ok");
    assert_eq!(connections(&ports), 2);
    s.stop();
}

#[test]
fn redirects_follow_gos_rules() {
    let _w = Watchdog::new("redirects", LIMIT);
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let mut app = Router::new();
    app.handle("/to", move |req, res| {
        let code: u16 = req.query_param("code").unwrap().parse().unwrap();
        let to = req.query_param("loc").unwrap().into_owned();
        res.status(code).header("location", &to);
        res.body("moving");
        Ok(())
    });
    app.handle("/land", move |req, res| {
        let mut body = Vec::new();
        req.body().read_to_end(&mut body)?;
        let line = format!(
            "{} auth={} cookie={} ua={} body={}",
            req.method(),
            req.header("authorization").unwrap_or("-"),
            req.header("cookie").unwrap_or("-"),
            req.header("user-agent").unwrap_or("-"),
            String::from_utf8_lossy(&body)
        );
        log.lock().unwrap().push(line.clone());
        res.body(line);
        Ok(())
    });
    app.handle("/loop", |_req, res| {
        res.status(302).header("location", "/loop");
        Ok(())
    });
    let s = TestServer::start_handler(|s| s, app);
    let port = s.addr.port();
    let client = Client::new();
    let post = |code: u16, loc: &str| {
        client
            .request(
                "POST",
                &format!("http://127.0.0.1:{port}/to?code={code}&loc={loc}"),
            )
            .header("authorization", "Bearer t")
            .header("cookie", "c=1")
            .body("payload")
            .send()
            .unwrap()
    };
    // 301/302/303: a POST becomes a GET without its body.
    for code in [301, 302, 303] {
        let mut r = post(code, "/land");
        assert_eq!(r.status(), 200);
        assert!(
            r.text()
                .unwrap()
                .starts_with("GET auth=Bearer t cookie=c=1"),
            "{code}"
        );
        assert_eq!(r.url(), format!("http://127.0.0.1:{port}/land"));
    }
    // 307/308: method and body kept.
    for code in [307, 308] {
        let mut r = post(code, "/land");
        let t = r.text().unwrap();
        assert!(
            t.starts_with("POST auth=Bearer t") && t.ends_with("body=payload"),
            "{code}: {t}"
        );
    }
    // Leaving the host ("localhost" is another host than "127.0.0.1"): Authorization
    // and Cookie are dropped, the rest kept.
    let mut r = post(307, &format!("http://localhost:{port}/land"));
    let t = r.text().unwrap();
    assert!(t.starts_with("POST auth=- cookie=- ua=gmp-http/"), "{t}");
    // A streamed body cannot be sent again: the 307 is the answer.
    let r = client
        .request(
            "POST",
            &format!("http://127.0.0.1:{port}/to?code=307&loc=/land"),
        )
        .body_reader(std::io::Cursor::new(b"stream".to_vec()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 307);
    // A loop stops at the limit with an error; with redirects(0) the 3xx comes back.
    let e = client
        .get(&format!("http://127.0.0.1:{port}/loop"))
        .unwrap_err();
    assert!(e.to_string().contains("stopped after 10 redirects"), "{e}");
    let r = Client::builder()
        .redirects(0)
        .build()
        .get(&format!("http://127.0.0.1:{port}/loop"))
        .unwrap();
    assert_eq!(r.status(), 302);
    s.stop();
}

#[test]
fn every_timeout_fires_with_its_name() {
    let _w = Watchdog::new("timeouts", LIMIT);
    // A server that reads the request and never answers; and one that answers with a
    // head and then stalls its body.
    let (silent, _) = scripted(|s, _| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        read_request(&mut r);
        std::thread::sleep(Duration::from_secs(5));
    });
    let (stalling, _) = scripted(|s, _| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        read_request(&mut r);
        let mut s = s;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome");
        std::thread::sleep(Duration::from_secs(5));
    });
    let c = Client::builder()
        .response_header_timeout(Duration::from_millis(300))
        .build();
    let t = Instant::now();
    let e = c.get(&format!("http://{silent}/")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert!(e.to_string().contains("response_header_timeout"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(3));
    // The overall timeout covers reading the body.
    let c = Client::builder()
        .timeout(Duration::from_millis(400))
        .build();
    let mut r = c.get(&format!("http://{stalling}/")).unwrap();
    let t = Instant::now();
    let e = r.bytes().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(
        e.to_string().contains("timed out after 400ms (timeout)"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    // A request's own timeout replaces the client's.
    let e = Client::new()
        .request("GET", &format!("http://{silent}/"))
        .timeout(Duration::from_millis(200))
        .send()
        .unwrap_err();
    assert!(e.to_string().contains("timed out after 200ms"), "{e}");
    // Connecting: a listener whose backlog is full drops the SYN.
    let full = full_listener();
    let c = Client::builder()
        .connect_timeout(Duration::from_millis(300))
        .build();
    let t = Instant::now();
    let e = c.get(&format!("http://{}/", full.0)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(
        e.to_string().contains("connecting to") && e.to_string().contains("timed out"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    drop(full);
}

/// A listener with a backlog of 0 whose queue is already full, so that another
/// connection attempt hangs in SYN_SENT (the kernel drops its SYN).
fn full_listener() -> (SocketAddr, TcpListener, Vec<TcpStream>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
    // SAFETY: a valid listening socket.
    assert_eq!(unsafe { libc::listen(fd, 0) }, 0);
    let addr = l.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    (addr, l, held)
}

#[test]
fn a_thousand_goroutines_share_one_client() {
    let _w = Watchdog::new("1000 goroutines", LIMIT);
    let (s, ports) = counting_server();
    let url = format!("http://{}/", s.addr);
    // Room in the pool for every connection: a goroutine dials only when none is
    // idle, so at most one connection per goroutine is ever opened. (With the default
    // 32 idle per host, how many are closed and redialled depends on timing.)
    let client = Client::builder()
        .max_idle_per_host(1000)
        .max_idle(1000)
        .build();
    let ok = gmp::run(move || {
        let hs: Vec<_> = (0..1000)
            .map(|i| {
                let (c, url) = (client.clone(), url.clone());
                gmp::spawn(move || {
                    (0..5)
                        .map(|j| {
                            let mut r = c.get(&format!("{url}g{i}-{j}")).unwrap();
                            (r.text().unwrap() == format!("target: /g{i}-{j}")) as usize
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    assert_eq!(ok, 5000);
    let conns = connections(&ports);
    println!("5,000 requests from 1,000 goroutines on {conns} connections");
    assert!(conns <= 1000, "{conns}");
    s.stop();
}
