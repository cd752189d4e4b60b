//! `Client`: an HTTP/1.1 client with Go's `Transport` semantics — one client shared by
//! every goroutine, a pool of keep-alive connections per origin, calls that park only
//! the calling goroutine (from a plain thread they block it, as the sockets do).
//!
//! What it does for a request: resolves the host off the P (gmp-net's resolver), takes
//! an idle connection or dials one, writes the request (`Content-Length` for a body in
//! memory, chunked for one read as it goes), reads the response head through the same
//! wire format as the server (`h1`), and follows redirects. Its rules, Go's:
//! - a connection returns to the pool only once its body was read to the end (or what
//!   is left of it is already buffered when the response is dropped);
//! - a request that failed on a *reused* connection before any response byte arrived is
//!   retried once on a new connection, if nothing was written, or if it is idempotent
//!   (GET, HEAD, OPTIONS, TRACE, or an `Idempotency-Key`) with a body that can be sent
//!   again; never otherwise;
//! - 301/302/303 redirect as GET without a body (a GET or HEAD keeps its method),
//!   307/308 keep method and body when the body can be sent again (else the 3xx is
//!   returned); `Authorization` and `Cookie` are dropped when a redirect leaves the
//!   host (and its subdomains).

mod conn;
mod pool;
mod response;

pub use response::{Body, Response};

use crate::h1::fields::{valid_name, valid_value};
use crate::url::Url;
use bytes::Bytes;
use conn::{Conn, Failure, Key};
use gmp_net::{TcpStream, ToSocketAddrs};
use pool::Pool;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The client's settings, fixed when it is built.
#[derive(Clone, Debug)]
struct Config {
    max_idle_per_host: usize,
    max_idle: usize,
    idle_timeout: Option<Duration>,
    connect_timeout: Duration,
    response_header_timeout: Option<Duration>,
    timeout: Option<Duration>,
    redirects: usize,
    max_response_header_bytes: usize,
    user_agent: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            // Go's default is 2 per host, which makes a busy caller redial on almost
            // every request; 32 keeps the connections a typical fan-out reuses.
            max_idle_per_host: 32,
            max_idle: 256,
            idle_timeout: Some(Duration::from_secs(90)),
            connect_timeout: Duration::from_secs(30),
            response_header_timeout: None,
            timeout: None,
            redirects: 10,
            max_response_header_bytes: 64 << 10,
            user_agent: Some(concat!("gmp-http/", env!("CARGO_PKG_VERSION")).to_string()),
        }
    }
}

pub(crate) struct Inner {
    pool: Pool,
    cfg: Config,
    /// The TLS configuration: the builder's, or the default one, built on first use.
    #[cfg(feature = "tls")]
    tls: std::sync::OnceLock<Arc<gmp_net::tls::rustls::ClientConfig>>,
}

impl Inner {
    pub(crate) fn put(&self, c: Conn) {
        self.pool.put(c);
    }

    /// The TLS configuration for `https` requests: the one given to the builder, or
    /// webpki's roots (Mozilla's CA list) with ring and ALPN `http/1.1`.
    #[cfg(feature = "tls")]
    fn tls_config(&self) -> Arc<gmp_net::tls::rustls::ClientConfig> {
        self.tls
            .get_or_init(|| {
                use gmp_net::tls::rustls;
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                let mut c =
                    rustls::ClientConfig::builder_with_provider(gmp_net::tls::ring_provider())
                        .with_safe_default_protocol_versions()
                        .expect("ring supports the default protocol versions")
                        .with_root_certificates(roots)
                        .with_no_client_auth();
                c.alpn_protocols = vec![b"http/1.1".to_vec()];
                Arc::new(c)
            })
            .clone()
    }
}

/// An HTTP/1.1 client. Cheap to clone: clones share one pool of connections, and every
/// goroutine can use it at once. Calls park the calling goroutine (from a plain thread
/// they block it).
///
/// ```no_run
/// use std::time::Duration;
/// let client = gmp_http::Client::new();
/// gmp::run(move || -> std::io::Result<()> {
///     let mut res = client.get("http://127.0.0.1:8080/items/1")?;
///     assert_eq!(res.status(), 200);
///     let ct = res.header("content-type").map(str::to_string);
///     let text = res.text()?;
///     println!("{ct:?}: {text}");
///     let res = client
///         .request("POST", "http://127.0.0.1:8080/items")
///         .header("content-type", "application/json")
///         .body(r#"{"name":"x"}"#)
///         .timeout(Duration::from_secs(2))
///         .send()?;
///     println!("{}", res.status());
///     Ok(())
/// })?;
/// # extern crate gmp_core as gmp;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.cfg)
            .field("idle", &self.inner.pool.idle_count())
            .finish()
    }
}

impl Client {
    /// A client with the default settings: 32 idle connections per host (256 in all),
    /// kept 90 s; connect timeout 30 s; no overall or header timeout; 10 redirects.
    pub fn new() -> Client {
        ClientBuilder::default().build()
    }

    /// A client with settings: see [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> io::Result<Response> {
        self.request("GET", url).send()
    }

    /// `HEAD url`.
    pub fn head(&self, url: &str) -> io::Result<Response> {
        self.request("HEAD", url).send()
    }

    /// A request to build and [`send`](RequestBuilder::send).
    pub fn request(&self, method: &str, url: &str) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: ReqBody::None,
            timeout: None,
            error: None,
        }
    }

    /// Idle connections in the pool now.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }
}

/// Settings for a [`Client`].
///
/// ```
/// use std::time::Duration;
/// let client = gmp_http::Client::builder()
///     .max_idle_per_host(32)
///     .idle_timeout(Duration::from_secs(90))
///     .connect_timeout(Duration::from_secs(5))
///     .response_header_timeout(Duration::from_secs(10))
///     .timeout(Duration::from_secs(30))
///     .redirects(10)
///     .build();
/// # drop(client);
/// ```
#[derive(Default, Debug, Clone)]
pub struct ClientBuilder {
    cfg: Config,
    #[cfg(feature = "tls")]
    tls: Option<Arc<gmp_net::tls::rustls::ClientConfig>>,
}

impl ClientBuilder {
    /// Idle keep-alive connections kept per host (default 32; 0 keeps none).
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.cfg.max_idle_per_host = n;
        self
    }

    /// Idle connections kept in all (default 256).
    pub fn max_idle(mut self, n: usize) -> Self {
        self.cfg.max_idle = n;
        self
    }

    /// How long an idle connection is kept (default 90 s; `None`: until the server
    /// closes it).
    pub fn idle_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.cfg.idle_timeout = d.into();
        self
    }

    /// How long dialling one address may take (default 30 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.cfg.connect_timeout = d;
        self
    }

    /// How long to wait for the response head once the request is written (default
    /// none).
    pub fn response_header_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.cfg.response_header_timeout = d.into();
        self
    }

    /// A limit on the whole exchange: connecting, writing, the head, redirects and
    /// reading the body (default none; a request's own `timeout` replaces it).
    pub fn timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.cfg.timeout = d.into();
        self
    }

    /// How many redirects to follow (default 10; 0 returns every 3xx as it is).
    pub fn redirects(mut self, n: usize) -> Self {
        self.cfg.redirects = n;
        self
    }

    /// Largest response head accepted (default 64 KiB).
    pub fn max_response_header_bytes(mut self, n: usize) -> Self {
        self.cfg.max_response_header_bytes = n.max(1024);
        self
    }

    /// The `User-Agent` sent when a request sets none (default `gmp-http/<version>`;
    /// `None` sends none).
    pub fn user_agent(mut self, ua: Option<&str>) -> Self {
        self.cfg.user_agent = ua.map(str::to_string);
        self
    }

    /// The TLS configuration for `https` URLs (roots to trust, client certificates,
    /// ALPN): by default webpki's roots (Mozilla's CA list) with the ring provider and
    /// ALPN `http/1.1`. The server's name (SNI) comes from each URL. Cargo feature
    /// `tls`.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<gmp_net::tls::rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        let cfg = self.cfg;
        #[cfg(feature = "tls")]
        let tls = std::sync::OnceLock::new();
        #[cfg(feature = "tls")]
        if let Some(c) = self.tls {
            let _ = tls.set(c);
        }
        Client {
            inner: Arc::new(Inner {
                pool: Pool::new(cfg.max_idle_per_host, cfg.max_idle, cfg.idle_timeout),
                cfg,
                #[cfg(feature = "tls")]
                tls,
            }),
        }
    }
}

/// A request body.
enum ReqBody {
    None,
    Bytes(Bytes),
    Reader(Box<dyn Read + Send>),
}

/// A request being built: see [`Client::request`].
pub struct RequestBuilder {
    client: Client,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: ReqBody,
    timeout: Option<Duration>,
    /// The first builder error, reported by `send`.
    error: Option<String>,
}

impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    /// Adds a header. A name that is not a token or a value with CR, LF, NUL or another
    /// control character makes `send` fail before anything is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if !valid_name(name.as_bytes()) {
            self.error
                .get_or_insert_with(|| format!("invalid header name {name:?}"));
        } else if !valid_value(value.as_bytes()) {
            self.error.get_or_insert_with(|| {
                format!(
                    "the value of header {name:?} contains a control character (CR, LF, NUL...)"
                )
            });
        } else {
            self.headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// The body, from memory (sent with `Content-Length`; it can be sent again on a
    /// retry or a 307/308 redirect).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = ReqBody::Bytes(body.into());
        self
    }

    /// The body, read as it is sent (chunked). It cannot be sent twice: no retry, and a
    /// 307/308 is returned instead of followed.
    pub fn body_reader(mut self, body: impl Read + Send + 'static) -> Self {
        self.body = ReqBody::Reader(Box::new(body));
        self
    }

    /// A limit on this whole exchange, replacing the client's `timeout`.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Sends the request and returns the response once its head has arrived.
    pub fn send(self) -> io::Result<Response> {
        if let Some(e) = self.error {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, e));
        }
        if self.method.is_empty() || !self.method.bytes().all(crate::h1::fields::is_tchar) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid method {:?}", self.method),
            ));
        }
        let inner = self.client.inner.clone();
        let timeout = self.timeout.or(inner.cfg.timeout);
        let deadline = Deadline::new(timeout, inner.cfg.response_header_timeout);
        let url =
            Url::parse(&self.url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut req = Outgoing {
            method: self.method,
            url,
            headers: self.headers,
            body: self.body,
        };
        let mut redirects = 0;
        loop {
            let res = exchange(&inner, &mut req, deadline)?;
            let Some(next) = redirect(&res, &req) else {
                return Ok(res);
            };
            if redirects == inner.cfg.redirects {
                if inner.cfg.redirects == 0 {
                    return Ok(res);
                }
                return Err(io::Error::other(format!(
                    "stopped after {} redirects (the last to {})",
                    inner.cfg.redirects, res.url
                )));
            }
            redirects += 1;
            drop(res); // its connection returns to the pool if the body was short
            req = next?;
        }
    }
}

/// A request as it goes out (again, on a retry or a redirect).
struct Outgoing {
    method: String,
    url: Url,
    headers: Vec<(String, String)>,
    body: ReqBody,
}

impl Outgoing {
    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Go's `isReplayable`: the body can be sent again and the method is idempotent.
    fn replayable(&self) -> bool {
        !matches!(self.body, ReqBody::Reader(_))
            && (matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "TRACE")
                || self.has_header("idempotency-key")
                || self.has_header("x-idempotency-key"))
    }

    /// The request head.
    fn head(&self, cfg: &Config) -> Vec<u8> {
        let mut h = Vec::with_capacity(256);
        h.extend_from_slice(self.method.as_bytes());
        h.push(b' ');
        h.extend_from_slice(self.url.target.as_bytes());
        h.extend_from_slice(b" HTTP/1.1\r\n");
        if !self.has_header("host") {
            h.extend_from_slice(b"Host: ");
            h.extend_from_slice(self.url.authority().as_bytes());
            h.extend_from_slice(b"\r\n");
        }
        if let Some(ua) = &cfg.user_agent {
            if !self.has_header("user-agent") {
                h.extend_from_slice(b"User-Agent: ");
                h.extend_from_slice(ua.as_bytes());
                h.extend_from_slice(b"\r\n");
            }
        }
        for (n, v) in &self.headers {
            // The framing headers are the client's to write.
            if n.eq_ignore_ascii_case("content-length")
                || n.eq_ignore_ascii_case("transfer-encoding")
            {
                continue;
            }
            h.extend_from_slice(n.as_bytes());
            h.extend_from_slice(b": ");
            h.extend_from_slice(v.as_bytes());
            h.extend_from_slice(b"\r\n");
        }
        match &self.body {
            ReqBody::Bytes(b) => {
                let mut w = crate::h1::spare::Spare::new(&mut h, 40);
                w.put(b"Content-Length: ");
                w.put_u64(b.len() as u64);
                w.put(b"\r\n");
            }
            ReqBody::Reader(_) => h.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            // A method that usually has a body says it has none (Go sends the same).
            ReqBody::None if matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") => {
                h.extend_from_slice(b"Content-Length: 0\r\n")
            }
            ReqBody::None => {}
        }
        h.extend_from_slice(b"\r\n");
        h
    }
}

/// One request and its response head, on a pooled or new connection, with the retry
/// rule.
fn exchange(inner: &Arc<Inner>, req: &mut Outgoing, dl: Deadline) -> io::Result<Response> {
    let key: Key = (req.url.https, req.url.host.clone(), req.url.port);
    let mut fresh_only = false;
    loop {
        let conn = match (!fresh_only).then(|| inner.pool.get(&key)).flatten() {
            Some(c) => c,
            None => dial(inner, &req.url, &key, &dl)?,
        };
        let reused = conn.reused;
        match roundtrip(inner, conn, req, dl) {
            Ok(res) => return Ok(res),
            Err(f) => {
                let retry = reused
                    && f.no_response
                    && (f.nothing_written || req.replayable())
                    && !fresh_only;
                if !retry {
                    return Err(f.error);
                }
                tracing::debug!(
                    "gmp-http client: retrying {} {} on a new connection: {}",
                    req.method,
                    req.url.target,
                    f.error
                );
                fresh_only = true;
            }
        }
    }
}

fn dial(inner: &Inner, url: &Url, key: &Key, dl: &Deadline) -> io::Result<Conn> {
    let connect_timeout = inner.cfg.connect_timeout;
    #[cfg(not(feature = "tls"))]
    if url.https {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "https://{}: TLS is not built into this gmp-http (cargo feature \"tls\")",
                url.authority()
            ),
        ));
    }
    let addrs: Vec<_> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("resolving {}: {e}", url.host)))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        let t = match dl.remaining(Some(connect_timeout)) {
            Ok(t) => t.unwrap_or(connect_timeout),
            Err(e) => return Err(e),
        };
        match TcpStream::connect_timeout(addr, t) {
            Ok(s) => {
                // Requests are written whole; Nagle would only delay the last segment.
                let _ = s.set_nodelay(true);
                #[cfg(feature = "tls")]
                if url.https {
                    return tls_connect(inner, url, s, dl)
                        .map(|t| Conn::new(conn::Stream::Tls(Box::new(t)), key.clone()));
                }
                return Ok(Conn::new(conn::Stream::Tcp(s), key.clone()));
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
    let what = if e.kind() == io::ErrorKind::TimedOut {
        format!(
            "connecting to {} timed out ({connect_timeout:?})",
            url.authority()
        )
    } else {
        format!("connecting to {}: {e}", url.authority())
    };
    Err(io::Error::new(e.kind(), what))
}

/// The TLS handshake on a dialled socket, under the connect timeout and the deadline.
#[cfg(feature = "tls")]
fn tls_connect(
    inner: &Inner,
    url: &Url,
    s: TcpStream,
    dl: &Deadline,
) -> io::Result<gmp_net::tls::TlsStream<TcpStream>> {
    let t = dl.remaining(Some(inner.cfg.connect_timeout))?;
    s.set_read_timeout(t)?;
    s.set_write_timeout(t)?;
    let config = inner.tls_config();
    gmp_net::tls::connect(&url.host, s, &config).map_err(|e| {
        let what = if e.kind() == io::ErrorKind::TimedOut {
            format!("TLS handshake with {} timed out", url.authority())
        } else {
            format!("TLS handshake with {}: {e}", url.authority())
        };
        io::Error::new(e.kind(), what)
    })
}

/// Writes `req` on `conn` and reads the response head.
fn roundtrip(
    inner: &Arc<Inner>,
    mut conn: Conn,
    req: &mut Outgoing,
    dl: Deadline,
) -> Result<Response, Failure> {
    let head = req.head(&inner.cfg);
    match &mut req.body {
        ReqBody::None => conn.write_all(&head, &[], &dl)?,
        ReqBody::Bytes(b) => conn.write_all(&head, b, &dl)?,
        ReqBody::Reader(r) => conn.write_chunked(&head, r.as_mut(), &dl)?,
    }
    let h = conn.read_head(
        req.method == "HEAD",
        inner.cfg.max_response_header_bytes,
        &dl.after_write(),
    )?;
    let url = format!(
        "{}://{}{}",
        if req.url.https { "https" } else { "http" },
        req.url.authority(),
        req.url.target
    );
    Ok(Response {
        status: h.status,
        reason: h.reason,
        version: h.version,
        headers: h.headers,
        url,
        body: Body::new(conn, h.body, h.keep_alive, inner.clone(), dl),
    })
}

/// The request a redirect asks for, if `res` is one the client follows.
fn redirect(res: &Response, req: &Outgoing) -> Option<io::Result<Outgoing>> {
    let keep_method = match res.status {
        301..=303 => false,
        307 | 308 => true,
        _ => return None,
    };
    let location = res.header("location")?;
    let body = if keep_method {
        match &req.body {
            ReqBody::None => ReqBody::None,
            ReqBody::Bytes(b) => ReqBody::Bytes(b.clone()),
            // A body read as it went cannot be sent again: the 3xx is the answer.
            ReqBody::Reader(_) => return None,
        }
    } else {
        ReqBody::None
    };
    let method = if keep_method || req.method == "GET" || req.method == "HEAD" {
        req.method.clone()
    } else {
        "GET".to_string()
    };
    let url = match req.url.join(location) {
        Ok(u) => u,
        Err(e) => {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad redirect Location {location:?}: {e}"),
            )))
        }
    };
    let same_site = url.host == req.url.host || url.host.ends_with(&format!(".{}", req.url.host));
    let headers = req
        .headers
        .iter()
        .filter(|(n, _)| {
            let sensitive = ["authorization", "www-authenticate", "cookie", "cookie2"]
                .iter()
                .any(|s| n.eq_ignore_ascii_case(s));
            let body_header = !keep_method
                && ["content-type", "content-encoding"]
                    .iter()
                    .any(|s| n.eq_ignore_ascii_case(s));
            // The Host the caller set named the old host.
            let host = n.eq_ignore_ascii_case("host");
            (same_site || !sensitive) && !body_header && !host
        })
        .cloned()
        .collect();
    Some(Ok(Outgoing {
        method,
        url,
        headers,
        body,
    }))
}

/// A request's time limits: the whole exchange (`timeout`), and the wait for the
/// response head after the request was written (`response_header_timeout`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    total: Option<Duration>,
    header: Option<Duration>,
    head_at: Option<Instant>,
}

impl Deadline {
    fn new(total: Option<Duration>, header: Option<Duration>) -> Deadline {
        Deadline {
            at: total.map(|t| Instant::now() + t),
            total,
            header,
            head_at: None,
        }
    }

    /// With the head's clock started now.
    fn after_write(mut self) -> Deadline {
        self.head_at = self.header.map(|h| Instant::now() + h);
        self
    }

    /// The time an operation may take: the smaller of `op`, the head's and the whole
    /// exchange's time left. An error if a limit has already passed.
    pub(crate) fn remaining(&self, op: Option<Duration>) -> io::Result<Option<Duration>> {
        let now = Instant::now();
        let mut t = op;
        for (at, why) in [(self.head_at, true), (self.at, false)] {
            if let Some(at) = at {
                let left = at.saturating_duration_since(now);
                if left.is_zero() {
                    return Err(self.timed_out(why));
                }
                t = Some(t.map_or(left, |t| t.min(left)));
            }
        }
        Ok(t)
    }

    fn timed_out(&self, head: bool) -> io::Error {
        let msg = if head {
            format!(
                "no response head within {:?} (response_header_timeout)",
                self.header.unwrap_or_default()
            )
        } else {
            format!(
                "the request timed out after {:?} (timeout)",
                self.total.unwrap_or_default()
            )
        };
        io::Error::new(io::ErrorKind::TimedOut, msg)
    }

    /// `e` with what was being done, and which limit it hit if it timed out.
    pub(crate) fn explain(&self, e: io::Error, doing: &str) -> io::Error {
        if e.kind() == io::ErrorKind::TimedOut {
            let now = Instant::now();
            if self.head_at.is_some_and(|at| now >= at) {
                return self.timed_out(true);
            }
            if self.at.is_some_and(|at| now >= at) {
                return self.timed_out(false);
            }
        }
        io::Error::new(e.kind(), format!("{doing}: {e}"))
    }
}
