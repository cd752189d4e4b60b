//! Real clients against the server: curl and Python's `http.client`, each for
//! keep-alive, chunked upload, chunked download, `Expect: 100-continue` and HEAD. A
//! test whose client is not installed prints a notice and passes (CI installs both
//! when it can: see `.ci/run`).

mod common;
mod http_util;

use common::Watchdog;
use http_util::TestServer;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// What the server saw: (method, target, client port, chunked body).
type Log = Arc<Mutex<Vec<(String, String, u16, bool)>>>;

/// The demo handler, logging each request.
fn logging_server() -> (TestServer, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let s = TestServer::start(
        |s| s,
        move |req, res| {
            l.lock().unwrap().push((
                req.method().to_string(),
                req.target().to_string(),
                req.remote_addr().port(),
                req.content_length().is_none(),
            ));
            http_util::demo(req, res)
        },
    );
    (s, log)
}

/// The client ports of the logged requests whose target starts with `prefix`.
fn ports(log: &Log, prefix: &str) -> Vec<u16> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|e| e.1.starts_with(prefix))
        .map(|e| e.2)
        .collect()
}

/// Runs `cmd`, killing it after `limit`.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {limit:?}\nstderr: {}",
                String::from_utf8_lossy(&e.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn curl(args: &[&str]) -> Output {
    let out = run(
        Command::new("curl")
            .args(["-sS", "--max-time", "20"])
            .args(args),
        Duration::from_secs(30),
    );
    check(&out, &format!("curl {args:?}"));
    out
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("gmp-http-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn curl_keep_alive_chunked_continue_and_head() {
    if !common::tool("curl") {
        return;
    }
    let _w = Watchdog::new("curl", LIMIT);
    let (s, log) = logging_server();
    let base = format!("http://{}", s.addr);
    let dir = temp_dir("curl");

    // Keep-alive: three URLs in one curl run use one connection.
    let out = curl(&[
        "-w",
        "\\n",
        &format!("{base}/ka/1"),
        &format!("{base}/ka/2"),
        &format!("{base}/ka/3"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "target: /ka/1\ntarget: /ka/2\ntarget: /ka/3\n"
    );
    let p = ports(&log, "/ka/");
    assert!(p.len() == 3 && p.iter().all(|&x| x == p[0]), "ports {p:?}");

    // Chunked upload (and the echo back).
    let upload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let file = dir.join("upload.bin");
    std::fs::write(&file, &upload).unwrap();
    let headers = dir.join("headers.txt");
    let out = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &format!("@{}", file.display()),
        "-D",
        headers.to_str().unwrap(),
        &format!("{base}/echo"),
    ]);
    assert!(out.stdout == upload, "chunked upload echoed back wrong");
    let h = std::fs::read_to_string(&headers)
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        h.contains("x-chunked: yes"),
        "the server did not see chunked: {h}"
    );

    // Chunked download.
    let out = curl(&[
        "-D",
        headers.to_str().unwrap(),
        &format!("{base}/stream?n=2000"),
    ]);
    let want: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    let h = std::fs::read_to_string(&headers)
        .unwrap()
        .to_ascii_lowercase();
    assert!(h.contains("transfer-encoding: chunked"), "{h}");

    // Expect: 100-continue. curl waits up to --expect100-timeout for the 100 before
    // sending anyway; the interim response must show in its trace.
    let out = curl(&[
        "-v",
        "--expect100-timeout",
        "15",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{base}/echo"),
    ]);
    assert!(
        out.stdout == upload,
        "100-continue upload echoed back wrong"
    );
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(
        trace.contains("< HTTP/1.1 100 Continue"),
        "no 100 Continue in curl's trace:\n{trace}"
    );

    // HEAD: the headers (with the GET's length), no body; then a GET on the same
    // connection.
    let out = curl(&[
        "-I",
        &format!("{base}/head/1"),
        "--next",
        "-w",
        "\\n",
        &format!("{base}/head/2"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let (head, rest) = text.split_once("\r\n\r\n").expect("curl -I output");
    assert!(head.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 15"),
        "{text}"
    );
    assert_eq!(rest, "target: /head/2\n");
    let p = ports(&log, "/head/");
    assert!(p.len() == 2 && p[0] == p[1], "ports {p:?}");
    let methods: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.1.starts_with("/head/"))
        .map(|e| e.0.clone())
        .collect();
    assert_eq!(methods, ["HEAD", "GET"]);

    let _ = std::fs::remove_dir_all(&dir);
    s.stop();
}

const PYTHON_CLIENT: &str = r#"
import http.client, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

# Keep-alive: several requests on one connection.
for i in range(3):
    c.request("GET", "/ka/%d" % i)
    r = c.getresponse()
    assert r.status == 200, r.status
    assert r.read() == b"target: /ka/%d" % i
sock = c.sock
assert sock is not None

# Chunked upload (a generator body is sent chunked).
parts = [b"part%03d;" % i for i in range(300)]
c.request("POST", "/echo", body=iter(parts), encode_chunked=True,
          headers={"Transfer-Encoding": "chunked"})
r = c.getresponse()
assert r.status == 200, r.status
assert r.getheader("x-chunked") == "yes", r.getheaders()
assert r.read() == b"".join(parts)

# Chunked download.
c.request("GET", "/stream?n=700")
r = c.getresponse()
assert r.getheader("Transfer-Encoding") == "chunked", r.getheaders()
assert r.read() == "".join("line %d\n" % i for i in range(700)).encode()

# HEAD: headers, no body.
c.request("HEAD", "/")
r = c.getresponse()
assert r.status == 200
assert r.getheader("Content-Length") == "13", r.getheaders()
assert r.read() == b""

# Expect: 100-continue, by hand: the interim response comes before the body is sent.
c.putrequest("POST", "/echo")
c.putheader("Expect", "100-continue")
c.putheader("Content-Length", "5")
c.endheaders()
interim = b""
while not interim.endswith(b"\r\n\r\n"):
    b = c.sock.recv(1)
    assert b, "connection closed before 100 Continue"
    interim += b
assert interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim
c.send(b"hello")
r = c.getresponse()
assert r.status == 200
assert r.read() == b"hello"

# Still the first connection.
c.request("GET", "/")
r = c.getresponse()
assert r.read() == b"Hello, World!"
assert c.sock is sock, "the connection was replaced"
c.close()
print("python-ok")
"#;

#[test]
fn python_http_client_keep_alive_chunked_continue_and_head() {
    if !common::tool("python3") {
        return;
    }
    let _w = Watchdog::new("python", LIMIT);
    let (s, log) = logging_server();
    let out = run(
        Command::new("python3")
            .args(["-c", PYTHON_CLIENT])
            .arg(s.addr.port().to_string()),
        Duration::from_secs(30),
    );
    check(&out, "python3 http.client");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "python-ok");
    let entries = log.lock().unwrap().clone();
    assert_eq!(entries.len(), 8, "{entries:?}");
    assert!(
        entries.iter().all(|e| e.2 == entries[0].2),
        "python used more than one connection: {entries:?}"
    );
    assert!(entries[3].3, "the upload was not chunked: {:?}", entries[3]);
    s.stop();
}
