//! The server under soak: examples/hello's handler shape plus the routes the faults
//! need, served twice from this process, over plain TCP and over TLS.
//!
//! Routes: `GET /` (hello), `POST /echo` (the body back), `GET /gen?seed&len` (a body the
//! client can check), `/sleep` and `/block` (the same after `gmp::sleep`, or after a
//! thread blocked inside `gmp::blocking`), `/proxy` (the same fetched from `/gen` through
//! gmp's client pool, calling back into this server), `/panic`, `POST /ignore` (leaves
//! the request body unread) and `/ws` (WebSocket echo).
//!
//! Timeouts are short so the slow clients are cut off within seconds (a head must arrive
//! within 3 s, a body read may wait 4 s, a write 5 s, an idle keep-alive 10 s), and long
//! against the well-behaved clients' pauses (a few milliseconds) even on a loaded machine.

use crate::wire;
use gmp::http::ws::{self, Message};
use gmp::http::{Client, Request, Response, Server, ShutdownHandle};
use gmp::net::tls::rustls;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The message of the panics `/panic` injects; the panic hook keeps them off stderr.
pub const INJECTED: &str = "soak: injected panic";

/// A running server: its address and what stops it.
pub struct Running {
    pub addr: SocketAddr,
    pub stop: ShutdownHandle,
    pub done: gmp::JoinHandle<io::Result<()>>,
}

/// Where `/proxy` calls back to: the plain server's own address.
static SELF_ADDR: OnceLock<SocketAddr> = OnceLock::new();
/// The client pool `/proxy` uses, shared by every handler; [`drop_pool`] closes its idle
/// connections when the load stops.
static POOL: Mutex<Option<Client>> = Mutex::new(None);

/// Drops `/proxy`'s client pool and the idle connections it keeps.
pub fn drop_pool() {
    POOL.lock().unwrap_or_else(|e| e.into_inner()).take();
}

/// Starts the server on 127.0.0.1 port 0, over TLS when `tls` is given.
pub fn start(tls: Option<Arc<rustls::ServerConfig>>) -> io::Result<Running> {
    let mut server = Server::bind("127.0.0.1:0")?
        .header_read_timeout(Duration::from_secs(3))
        .body_read_timeout(Duration::from_secs(4))
        .write_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(10))
        .shutdown_grace(Duration::from_secs(5));
    let plain = tls.is_none();
    if let Some(cfg) = tls {
        server = server.tls(cfg);
    }
    let addr = server.local_addr()?;
    if plain {
        let _ = SELF_ADDR.set(addr);
    }
    let stop = server.shutdown_handle();
    let done = gmp::spawn(move || server.serve(handle));
    Ok(Running { addr, stop, done })
}

fn num(req: &Request<'_>, name: &str) -> io::Result<u64> {
    req.query_param(name)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("no {name}")))
}

fn handle(req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
    let gen = |req: &Request<'_>| -> io::Result<Vec<u8>> {
        Ok(wire::body(num(req, "seed")?, num(req, "len")? as usize))
    };
    match (req.method(), req.path()) {
        ("POST", "/echo") => {
            let mut body = Vec::new();
            req.body().read_to_end(&mut body)?;
            res.body(body);
        }
        ("GET", "/gen") => {
            res.body(gen(req)?);
        }
        ("GET", "/sleep") => {
            gmp::sleep(Duration::from_millis(num(req, "ms")?));
            res.body(gen(req)?);
        }
        ("GET", "/block") => {
            let ms = num(req, "ms")?;
            gmp::blocking(move || block_thread(Duration::from_millis(ms)));
            res.body(gen(req)?);
        }
        ("GET", "/proxy") => {
            let addr = SELF_ADDR.get().expect("the plain server starts first");
            let url = format!("http://{addr}/gen?{}", req.query().unwrap_or(""));
            let pool = POOL
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| Client::builder().max_idle_per_host(8).build())
                .clone();
            let mut inner = pool.get(&url)?;
            let mut body = Vec::new();
            inner.body().read_to_end(&mut body)?;
            res.status(inner.status());
            res.body(body);
        }
        ("GET", "/panic") => panic!("{INJECTED}"),
        ("POST", "/ignore") => {
            res.body("ignored");
        }
        ("GET", "/ws") => {
            let ws = ws::accept(req, res)?;
            while let Ok(msg) = ws.read() {
                match msg {
                    Message::Binary(_) | Message::Text(_) => ws.send(msg)?,
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        }
        ("GET", _) => {
            res.header("content-type", "text/plain");
            res.body("Hello, World!");
        }
        _ => {
            res.status(404);
            res.body("not found\n");
        }
    }
    Ok(())
}

/// Blocks this OS thread for `d` with a raw `nanosleep`, which the `hook` feature does
/// not turn into a goroutine park: `/block` must really hold a thread.
fn block_thread(d: Duration) {
    let ts = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: nanosleep with a valid timespec and no remainder pointer.
    unsafe { libc::syscall(libc::SYS_nanosleep, &ts as *const libc::timespec, 0usize) };
}

/// A self-signed certificate for `localhost`: the server's configuration and a client
/// configuration that trusts it.
pub fn tls_pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".into()])
        .expect("rcgen makes a self-signed certificate");
    let cert = CertificateDer::from(pair.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(gmp::net::tls::ring_provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("rcgen's key matches its certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("the certificate parses");
    let client = rustls::ClientConfig::builder_with_provider(gmp::net::tls::ring_provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}
