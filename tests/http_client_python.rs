//! The client against a server gmp did not write: Python's `http.server` with keep-alive
//! (`tests/py/http_peer_server.py`), for reuse counted on the server, chunked (with a
//! trailer) and close-delimited bodies, a server that closes idle connections, redirects
//! with the header rule, and a header timeout. Needs python3 (skipped with a notice where
//! it is missing, a failure under CI).

mod common;

use gmp::http::Client;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Peer {
    child: Child,
    base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer() -> Option<Peer> {
    if !common::tool("python3") {
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/http_peer_server.py");
    let mut child = Command::new("python3")
        .args([script, "0.3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port from the python server: {line:?}"));
    Some(Peer {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

#[test]
fn the_client_against_pythons_http_server() {
    let _w = common::Watchdog::new("python peer", Duration::from_secs(60));
    let Some(p) = peer() else { return };
    let c = Client::new();
    let b = &p.base;
    // Keep-alive: ten requests, one connection as the server counts them.
    for i in 0..10 {
        assert_eq!(
            c.get(&format!("{b}/x{i}")).unwrap().text().unwrap(),
            format!("path /x{i}")
        );
    }
    assert_eq!(c.get(&format!("{b}/count")).unwrap().text().unwrap(), "1");
    // Chunked with a trailer, read to the end: the connection is still reused.
    let text = c
        .get(&format!("{b}/chunked?n=100"))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text.lines().count(), 100);
    assert_eq!(c.get(&format!("{b}/count")).unwrap().text().unwrap(), "1");
    // Close-delimited: read to the close, the connection is not reused.
    assert_eq!(
        c.get(&format!("{b}/close")).unwrap().text().unwrap(),
        "until the close"
    );
    assert_eq!(c.get(&format!("{b}/count")).unwrap().text().unwrap(), "2");
    // The server closes idle connections after 0.3 s: a POST after 0.8 s idle goes out on
    // a fresh connection, never on the closed one.
    std::thread::sleep(Duration::from_millis(800));
    let mut r = c
        .request("POST", &format!("{b}/echo"))
        .body("after idle")
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap(), "after idle");
    assert_eq!(c.get(&format!("{b}/count")).unwrap().text().unwrap(), "3");
    // Redirects: POST 303 → GET; Authorization and Cookie kept on the same host, dropped
    // on another ("localhost" against "127.0.0.1").
    let port = b.rsplit(':').next().unwrap();
    let same = format!("{b}/redirect?code=303&to=/headers");
    let mut r = c
        .request("POST", &same)
        .header("authorization", "Bearer t")
        .header("cookie", "c=1")
        .body("x")
        .send()
        .unwrap();
    let t = r.text().unwrap();
    assert!(
        t.starts_with("auth=Bearer t cookie=c=1 ua=gmp-http/") && t.ends_with("method=GET"),
        "{t}"
    );
    let other = format!("{b}/redirect?code=302&to=http://localhost:{port}/headers");
    let mut r = c
        .request("GET", &other)
        .header("authorization", "Bearer t")
        .header("cookie", "c=1")
        .send()
        .unwrap();
    let t = r.text().unwrap();
    assert!(t.starts_with("auth=- cookie=-"), "{t}");
    // A header timeout against a slow answer.
    let slow = Client::builder()
        .response_header_timeout(Duration::from_millis(200))
        .build();
    let t0 = Instant::now();
    let e = slow.get(&format!("{b}/slow?ms=2000")).unwrap_err();
    assert!(e.to_string().contains("response_header_timeout"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(2));
}
