//! Helpers shared by the `http_*` integration tests: a server started on 127.0.0.1:0 on
//! its own thread (and runtime) and stopped through its `ShutdownHandle`, a small
//! HTTP/1.1 response reader for raw sockets (std or gmp), a demo handler with one route
//! per behaviour the tests need, and an IMF-fixdate parser for `Date` checks.

#![allow(dead_code)]

use gmp::http::{Handler, Request, Response, Server, ShutdownHandle};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a client waits for any byte before the test fails (a hang, not slowness).
pub const READ_LIMIT: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1:0 serving on its own thread, in its own runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    /// Starts `handler` with the settings `configure` applies.
    pub fn start<F>(configure: impl FnOnce(Server) -> Server, handler: F) -> TestServer
    where
        F: Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static,
    {
        TestServer::start_handler(configure, handler)
    }

    /// Starts any `Handler` (a `Router`, a wrapped handler) with the settings `configure`
    /// applies.
    pub fn start_handler(
        configure: impl FnOnce(Server) -> Server,
        handler: impl Handler,
    ) -> TestServer {
        let server = configure(Server::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let addr = server.local_addr().expect("local_addr");
        let handle = server.shutdown_handle();
        let thread = std::thread::Builder::new()
            .name("http-server".into())
            .spawn(move || server.serve_handler(handler))
            .expect("spawn server thread");
        TestServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// The demo handler with default settings.
    pub fn demo() -> TestServer {
        TestServer::start(|s| s, demo)
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// A raw client connected to this server.
    pub fn client(&self) -> Client<TcpStream> {
        Client::connect(self.addr)
    }

    /// Shuts the server down and checks that `serve` returned `Ok(())`.
    pub fn stop(mut self) {
        self.handle.shutdown();
        let t = self.thread.take().expect("server thread");
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("serve returned an error: {e}"),
            Err(_) => panic!("serve panicked"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A test that failed before `stop`: stop the server without adding a panic.
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// Says `Connection: close`.
    pub fn says_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }
}

/// A client on a raw socket: write bytes, read responses.
pub struct Client<S: Read + Write> {
    pub r: BufReader<S>,
}

impl Client<TcpStream> {
    pub fn connect(addr: SocketAddr) -> Client<TcpStream> {
        let s = TcpStream::connect(addr).expect("connect to the test server");
        s.set_read_timeout(Some(READ_LIMIT)).unwrap();
        s.set_write_timeout(Some(READ_LIMIT)).unwrap();
        s.set_nodelay(true).unwrap();
        Client::new(s)
    }

    pub fn stream(&self) -> &TcpStream {
        self.r.get_ref()
    }
}

impl<S: Read + Write> Client<S> {
    pub fn new(s: S) -> Client<S> {
        Client {
            r: BufReader::with_capacity(64 << 10, s),
        }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.r
            .get_mut()
            .write_all(bytes.as_ref())
            .expect("write to the server");
    }

    /// A response to a request that was not HEAD.
    pub fn resp(&mut self) -> Resp {
        self.read_resp(false)
    }

    /// A response to a HEAD request (no body whatever the headers say).
    pub fn head_resp(&mut self) -> Resp {
        self.read_resp(true)
    }

    /// `send` then `resp`.
    pub fn roundtrip(&mut self, req: impl AsRef<[u8]>) -> Resp {
        self.send(req);
        self.resp()
    }

    /// Sends `GET path` (HTTP/1.1, Host set) and reads the response.
    pub fn get(&mut self, path: &str) -> Resp {
        self.roundtrip(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"))
    }

    pub fn try_read_resp(&mut self, head_request: bool) -> io::Result<Resp> {
        let line = self.line()?;
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_string();
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
        let mut headers = Vec::new();
        loop {
            let l = self.line()?;
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad header line {l:?}"))
            })?;
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut resp = Resp {
            version,
            status,
            headers,
            body: Vec::new(),
        };
        let no_body =
            head_request || (100..200).contains(&status) || status == 204 || status == 304;
        if no_body {
            return Ok(resp);
        }
        if resp.is_chunked() {
            loop {
                let size_line = self.line()?;
                let size = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size line {size_line:?}"),
                    )
                })?;
                if size == 0 {
                    // Trailers, then the empty line.
                    while !self.line()?.is_empty() {}
                    break;
                }
                let at = resp.body.len();
                resp.body.resize(at + size, 0);
                self.r.read_exact(&mut resp.body[at..])?;
                let crlf = self.line()?;
                if !crlf.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "chunk data not followed by CRLF",
                    ));
                }
            }
        } else if let Some(n) = resp.header("content-length") {
            let n: usize = n.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad Content-Length {n}"),
                )
            })?;
            resp.body.resize(n, 0);
            self.r.read_exact(&mut resp.body)?;
        } else {
            self.r.read_to_end(&mut resp.body)?;
        }
        Ok(resp)
    }

    pub fn read_resp(&mut self, head_request: bool) -> Resp {
        self.try_read_resp(head_request)
            .unwrap_or_else(|e| panic!("reading a response: {e}"))
    }

    /// One CRLF-terminated line, without the CRLF.
    fn line(&mut self) -> io::Result<String> {
        let mut l = Vec::new();
        self.r.read_until(b'\n', &mut l)?;
        if !l.ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "connection ended or line not CRLF-terminated: {:?}",
                    String::from_utf8_lossy(&l)
                ),
            ));
        }
        l.truncate(l.len() - 2);
        String::from_utf8(l).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Asserts the server closes the connection with nothing more sent: end of stream
    /// (or a reset) within the read limit.
    pub fn expect_closed(&mut self) {
        assert!(
            self.r.buffer().is_empty(),
            "unexpected bytes after the response: {:?}",
            String::from_utf8_lossy(self.r.buffer())
        );
        let mut b = [0u8; 1024];
        match self.r.get_mut().read(&mut b) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected the connection closed, got more bytes: {:?}",
                String::from_utf8_lossy(&b[..n])
            ),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the connection closed, read failed: {e} (still open?)"),
        }
    }
}

/// Sends `raw` on a new connection and asserts the server answers `status` with
/// `Connection: close`, `Date` and `Server`, and then closes the connection. A valid
/// request appended after `raw` must not be answered.
pub fn assert_refused(addr: SocketAddr, raw: &[u8], status: u16) {
    let mut c = Client::connect(addr);
    let mut bytes = raw.to_vec();
    bytes.extend_from_slice(b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    c.send(&bytes);
    let r = c
        .try_read_resp(false)
        .unwrap_or_else(|e| panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw)));
    assert_eq!(
        r.status,
        status,
        "request {:?} answered {} {:?}",
        String::from_utf8_lossy(raw),
        r.status,
        r.text()
    );
    assert!(
        r.says_close(),
        "error response without Connection: close: {r:?}"
    );
    assert!(r.has("date") && r.has("server"), "no Date/Server: {r:?}");
    c.expect_closed();
}

/// Sends `raw` on a new connection and returns the response, checking it is a 200.
pub fn assert_ok(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut c = Client::connect(addr);
    c.send(raw);
    let r = c.resp();
    assert_eq!(
        r.status,
        200,
        "request {:?} answered {} {:?}",
        String::from_utf8_lossy(raw),
        r.status,
        r.text()
    );
    r
}

/// The query parameter `key` as a number.
pub fn param(req: &Request<'_>, key: &str) -> Option<u64> {
    req.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

/// The demo handler. Routes:
/// - `/echo`: reads the whole body and answers with it (`x-chunked: yes` for a chunked
///   request body);
/// - `/echo-bytewise`: `/echo`, reading one byte at a time;
/// - `/big?n=N`, `/big-stream?n=N&write=W`: N bytes of [`pattern`], whole or streamed
///   in writes of W bytes; `/short`: declares 100 bytes and sends 10;
/// - `/noread`: answers `ok` without reading the body;
/// - `/read?n=K`: reads K body bytes, answers `read K`;
/// - `/status?code=N`: answers status N with a body (which the server must drop for
///   1xx/204/304);
/// - `/stream?n=K`: streams K lines through `Write` (chunked for 1.1), flushing midway;
/// - `/panic`, `/panic-late` (after a flushed partial body), `/error`;
/// - `/sleep?ms=M`: `gmp::sleep`s, then `slept`;
/// - `/peer`: the client's port;
/// - anything else: `Hello, World!` (`/`) or `target: <target>`.
pub fn demo(req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
    res.header("content-type", "text/plain");
    match req.path() {
        "/echo" => {
            let mut body = Vec::new();
            req.body().read_to_end(&mut body)?;
            if req.content_length().is_none() {
                res.header("x-chunked", "yes");
            }
            res.body(body);
        }
        "/echo-bytewise" => {
            // One byte per read: the decoders' smallest steps.
            let mut body = Vec::new();
            let mut b = [0u8; 1];
            while req.body().read(&mut b)? == 1 {
                body.push(b[0]);
            }
            res.body(body);
        }
        "/big" => {
            res.body(pattern(param(req, "n").unwrap_or(0) as usize));
        }
        "/big-stream" => {
            let all = pattern(param(req, "n").unwrap_or(0) as usize);
            for part in all.chunks(param(req, "write").unwrap_or(100_000) as usize) {
                res.write_all(part)?;
            }
        }
        "/short" => {
            // Declares 100 bytes, writes 10.
            res.header("content-length", "100");
            res.write_all(b"0123456789")?;
        }
        "/noread" => {
            res.body("ok");
        }
        "/read" => {
            let n = param(req, "n").unwrap_or(0);
            let mut buf = vec![0u8; n as usize];
            req.body().read_exact(&mut buf)?;
            res.body(format!("read {n}"));
        }
        "/status" => {
            let code = param(req, "code").unwrap_or(200) as u16;
            res.status(code);
            res.body(format!("status {code}"));
        }
        "/stream" => {
            let n = param(req, "n").unwrap_or(10);
            for i in 0..n {
                writeln!(res, "line {i}")?;
                if i == n / 2 {
                    res.flush()?;
                }
            }
        }
        "/panic" => panic!("demo handler panics on purpose"),
        "/panic-late" => {
            res.write_all(b"partial ")?;
            res.flush()?;
            panic!("demo handler panics on purpose after flushing");
        }
        "/error" => return Err(io::Error::other("demo handler fails on purpose")),
        "/sleep" => {
            gmp::sleep(Duration::from_millis(param(req, "ms").unwrap_or(200)));
            res.body("slept");
        }
        "/peer" => {
            res.body(req.remote_addr().port().to_string());
        }
        "/" => {
            res.body("Hello, World!");
        }
        _ => {
            res.body(format!("target: {}", req.target()));
        }
    }
    Ok(())
}

/// `n` bytes of a fixed pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// Seconds since the epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_imf_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 29 || &s[3..5] != ", " || !s.ends_with(" GMT") {
        return None;
    }
    if !["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&&s[..3]) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let day = num(5..7)?;
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| *m == &s[8..11])? as u64 + 1;
    let year = num(12..16)?;
    let (h, m, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if &s[7..8] != " " || &s[11..12] != " " || &s[16..17] != " " || &s[19..20] != ":" {
        return None;
    }
    if day == 0 || day > 31 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as u64 * 86_400 + h * 3600 + m * 60 + sec)
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Raises the soft open-files limit to at least `want` (up to the hard limit); returns
/// the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < want {
            let new = libc::rlimit {
                rlim_cur: want.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &new) == 0 {
                lim.rlim_cur = new.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}
