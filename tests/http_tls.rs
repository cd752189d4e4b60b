//! HTTPS (feature `tls`): gmp's server and client with rustls, against each other and
//! against clients gmp did not write (curl, openssl s_client, Python's ssl). Keep-alive,
//! pipelining and refusals work as over TCP; plain HTTP, garbage and stalled handshakes
//! on the TLS port are closed promptly, and 5,000 stalled handshakes do not stop a
//! normal client; the client checks the certificate and the host name.

mod common;
mod http_util;
mod tls_util;

use common::Watchdog;
use gmp::http::{Client, Request, Response, Router};
use http_util::{Client as RawClient, TestServer};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

fn info(req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
    let t = req.tls().cloned().unwrap_or_default();
    res.body(format!(
        "sni={} alpn={} version={}",
        t.server_name.as_deref().unwrap_or("-"),
        t.alpn.as_deref().unwrap_or("-"),
        t.version
    ));
    Ok(())
}

fn app() -> Router {
    let mut r = Router::new();
    r.handle("GET /info", info);
    r.handle("GET /goroutines", |_req, res| {
        res.body(gmp::stats().goroutines.to_string());
        Ok(())
    });
    r.handle("/", http_util::demo);
    r
}

fn tls_server(
    p: &tls_util::Pki,
    configure: impl FnOnce(gmp::http::Server) -> gmp::http::Server,
) -> TestServer {
    let cfg = p.server_config();
    TestServer::start_handler(move |s| configure(s.tls(cfg)), app())
}

/// A raw TLS client on a std socket (a plain thread), for byte-level checks.
fn raw_tls(p: &tls_util::Pki, addr: std::net::SocketAddr) -> gmp::net::tls::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    gmp::net::tls::connect("localhost", tcp, &p.client_config()).unwrap()
}

#[test]
fn the_gmp_client_and_server_over_tls() {
    let _w = Watchdog::new("tls basics", LIMIT);
    let p = tls_util::pki("basics", &["localhost", "127.0.0.1"]);
    let s = tls_server(&p, |s| s);
    let port = s.addr.port();
    let client = Client::builder().tls_config(p.client_config()).build();
    let mut r = client
        .get(&format!("https://localhost:{port}/info"))
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().unwrap(),
        "sni=localhost alpn=http/1.1 version=TLSv1_3"
    );
    // By IP address (no SNI is sent for an IP).
    let mut r = client
        .get(&format!("https://127.0.0.1:{port}/info"))
        .unwrap();
    assert!(r.text().unwrap().starts_with("sni=- alpn=http/1.1"));
    // Keep-alive: the pooled TLS connection carries the next requests.
    for i in 0..20 {
        let mut r = client
            .get(&format!("https://localhost:{port}/x{i}"))
            .unwrap();
        assert_eq!(r.text().unwrap(), format!("target: /x{i}"));
    }
    assert_eq!(client.idle_connections(), 2); // one per host name
                                              // Bodies both ways, large ones included.
    let big = http_util::pattern(2_000_000);
    let mut r = client
        .request("POST", &format!("https://localhost:{port}/echo"))
        .body(big.clone())
        .send()
        .unwrap();
    assert_eq!(r.bytes().unwrap(), big);
    let mut r = client
        .request("POST", &format!("https://localhost:{port}/echo"))
        .body_reader(io::Cursor::new(big.clone()))
        .send()
        .unwrap();
    assert_eq!(r.bytes().unwrap(), big);
    let mut r = client
        .get(&format!("https://localhost:{port}/stream?n=500"))
        .unwrap();
    assert_eq!(r.text().unwrap().lines().count(), 500);
    s.stop();
}

#[test]
fn pipelining_and_refusals_work_as_over_tcp() {
    let _w = Watchdog::new("tls pipelining", LIMIT);
    let p = tls_util::pki("pipe", &["localhost"]);
    let s = tls_server(&p, |s| s.max_body_bytes(1000));
    let mut c = RawClient::new(raw_tls(&p, s.addr));
    let mut burst = Vec::new();
    for i in 0..50 {
        burst.extend_from_slice(format!("GET /p{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
    }
    c.send(&burst);
    for i in 0..50 {
        assert_eq!(c.resp().text(), format!("target: /p{i}"));
    }
    // A chunked upload on the same connection.
    c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(c.resp().text(), "hello");
    // Refusals, each on its own connection: the status, then a clean TLS close.
    for (raw, status) in [
        (&b"GET / HTTP/1.1\r\n\r\n"[..], 400),
        (
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
            413,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
    ] {
        let mut c = RawClient::new(raw_tls(&p, s.addr));
        c.send(raw);
        let r = c.resp();
        assert_eq!(r.status, status);
        assert!(r.says_close());
        let mut rest = Vec::new();
        // close_notify: a clean end of stream, not a truncation error.
        c.r.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
    s.stop();
}

#[test]
fn plain_http_and_garbage_on_the_tls_port_are_closed_promptly() {
    let _w = Watchdog::new("tls garbage", LIMIT);
    let p = tls_util::pki("garbage", &["localhost"]);
    let s = tls_server(&p, |s| s);
    let mut c = RawClient::connect(s.addr);
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.resp();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "Client sent an HTTP request to an HTTPS server.\n"
    );
    for junk in [&b"\x00\x01\x02 garbage"[..], b"\x16\x03\x01\x00\x05hello"] {
        let mut t = TcpStream::connect(s.addr).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let started = Instant::now();
        t.write_all(junk).unwrap();
        let mut b = Vec::new();
        let _ = t.read_to_end(&mut b); // a TLS alert at most, then the close
        assert!(started.elapsed() < Duration::from_secs(2), "{junk:?}");
        assert!(!b.starts_with(b"HTTP"), "{junk:?}");
    }
    s.stop();
}

#[test]
fn stalled_handshakes_time_out_and_do_not_stop_normal_clients() {
    let _w = Watchdog::new("tls stalls", LIMIT);
    http_util::raise_nofile(16_384);
    let p = tls_util::pki("stall", &["localhost"]);
    let s = tls_server(&p, |s| s.header_read_timeout(Duration::from_millis(700)));
    let client = Client::builder().tls_config(p.client_config()).build();
    let url = |path: &str| format!("https://localhost:{}{path}", s.addr.port());
    let base: usize = client
        .get(&url("/goroutines"))
        .unwrap()
        .text()
        .unwrap()
        .parse()
        .unwrap();
    // 5,000 connections that never send a byte, and one that stops mid-ClientHello.
    let mut stalled: Vec<TcpStream> = (0..5000)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    let mut partial = TcpStream::connect(s.addr).unwrap();
    partial
        .write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01")
        .unwrap();
    stalled.push(partial);
    // A normal client is served meanwhile (on a new connection: a fresh handshake).
    let fresh = Client::builder().tls_config(p.client_config()).build();
    let t = Instant::now();
    let mut r = fresh.get(&url("/info")).unwrap();
    assert!(r.text().unwrap().starts_with("sni=localhost"));
    println!(
        "a fresh client beside 5,000 stalled handshakes: answered in {:?}",
        t.elapsed()
    );
    // After the header timeout every stalled connection is closed, and no goroutine is
    // left of them.
    for (i, mut c) in stalled.into_iter().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut b = [0u8; 64];
        match c.read(&mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Ok(n) if i == 5000 => assert!(b[0] == 0x15, "not an alert: {:?}", &b[..n]),
            other => panic!("stalled connection {i}: {other:?}"),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now: usize = client
            .get(&url("/goroutines"))
            .unwrap()
            .text()
            .unwrap()
            .parse()
            .unwrap();
        if now <= base + 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{now} goroutines, {base} before");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.stop();
}

#[test]
fn the_client_refuses_an_untrusted_certificate_and_a_wrong_name() {
    let _w = Watchdog::new("tls refusals", LIMIT);
    let p = tls_util::pki("refuse", &["localhost"]);
    let s = tls_server(&p, |s| s);
    let port = s.addr.port();
    // The default roots (webpki's) do not include the test CA.
    let e = Client::new()
        .get(&format!("https://localhost:{port}/"))
        .unwrap_err();
    assert!(
        e.to_string().contains("TLS handshake with localhost")
            && e.to_string().contains("UnknownIssuer"),
        "{e}"
    );
    // Trusted CA, but the certificate is for localhost, not for 127.0.0.1.
    let client = Client::builder().tls_config(p.client_config()).build();
    let e = client
        .get(&format!("https://127.0.0.1:{port}/"))
        .unwrap_err();
    assert!(e.to_string().contains("not valid for name"), "{e}");
    // Plain http:// to the TLS port: the server's 400.
    let mut r = Client::new()
        .get(&format!("http://localhost:{port}/"))
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("HTTPS server"));
    s.stop();
}

#[test]
fn graceful_shutdown_finishes_a_request_in_flight_over_tls() {
    let _w = Watchdog::new("tls shutdown", LIMIT);
    let p = tls_util::pki("shutdown", &["localhost"]);
    let s = tls_server(&p, |s| s);
    let mut c = RawClient::new(raw_tls(&p, s.addr));
    c.send("GET /sleep?ms=400 HTTP/1.1\r\nHost: a\r\n\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let h = s.shutdown_handle();
    h.shutdown();
    let r = c.resp();
    assert_eq!((r.status, r.text().as_str()), (200, "slept"));
    assert!(r.says_close());
    s.stop();
}

/// Runs `cmd` with `input` on stdin and returns its stdout, or fails the test.
fn run(cmd: &mut Command, input: &[u8]) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn clients_gmp_did_not_write() {
    let _w = Watchdog::new("tls peers", LIMIT);
    let p = tls_util::pki("peers", &["localhost"]);
    let s = tls_server(&p, |s| s);
    let port = s.addr.port();
    let url = format!("https://localhost:{port}/info");
    if common::tool("curl") {
        let out = run(
            Command::new("curl")
                .args(["-sS", "--cacert"])
                .arg(p.ca_file())
                .arg(&url),
            b"",
        );
        assert!(out.starts_with("sni=localhost alpn=http/1.1"), "{out}");
        // Keep-alive across two URLs on one curl command.
        let out = run(
            Command::new("curl")
                .args(["-sS", "-w", "%{num_connects}\\n", "--cacert"])
                .arg(p.ca_file())
                .args([url.as_str(), url.as_str()]),
            b"",
        );
        assert!(
            out.ends_with("0\n"),
            "the second request reused the connection: {out}"
        );
    }
    if common::tool("openssl") {
        let out = run(
            Command::new("openssl")
                .args(["s_client", "-quiet", "-verify_return_error", "-connect"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-servername", "localhost", "-alpn", "http/1.1", "-CAfile"])
                .arg(p.ca_file()),
            b"GET /info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assert!(
            out.contains("200 OK") && out.contains("sni=localhost alpn=http/1.1"),
            "{out}"
        );
    }
    if common::tool("python3") {
        let script = format!(
            "import http.client, ssl\n\
             ctx = ssl.create_default_context(cafile={ca:?})\n\
             c = http.client.HTTPSConnection('localhost', {port}, context=ctx)\n\
             for i in range(3):\n\
             \x20   c.request('GET', '/info')\n\
             \x20   r = c.getresponse()\n\
             \x20   print(r.status, r.read().decode())\n\
             c.request('POST', '/echo', body=b'x' * 100000)\n\
             r = c.getresponse()\n\
             print(r.status, len(r.read()))\n",
            ca = p.ca_file().display().to_string()
        );
        let out = run(Command::new("python3").arg("-c").arg(&script), b"");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[..3]
                .iter()
                .all(|l| l.starts_with("200 sni=localhost")),
            "{out}"
        );
        assert_eq!(lines[3], "200 100000");
    }
    s.stop();
}

#[test]
fn the_gmp_client_against_pythons_ssl_server() {
    let _w = Watchdog::new("tls python server", LIMIT);
    if !common::tool("python3") {
        return;
    }
    let p = tls_util::pki("pyserver", &["localhost"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/http_peer_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg("5")
        .arg(p.cert_file())
        .arg(p.key_file())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
    let client = Client::builder().tls_config(p.client_config()).build();
    let base = format!("https://localhost:{port}");
    for i in 0..5 {
        let mut r = client.get(&format!("{base}/x{i}")).unwrap();
        assert_eq!(r.text().unwrap(), format!("path /x{i}"));
    }
    assert_eq!(
        client
            .get(&format!("{base}/count"))
            .unwrap()
            .text()
            .unwrap(),
        "1",
        "keep-alive over TLS"
    );
    let text = client
        .get(&format!("{base}/chunked?n=20"))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text.lines().count(), 20);
    let mut r = client
        .request("POST", &format!("{base}/echo"))
        .body("over tls")
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap(), "over tls");
    // The default roots do not trust the test CA.
    let e = Client::new().get(&format!("{base}/")).unwrap_err();
    assert!(
        e.to_string().contains("UnknownIssuer") || e.to_string().contains("unknown issuer"),
        "{e}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
