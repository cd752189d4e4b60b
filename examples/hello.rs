//! HTTP server: "Hello, World!" as text/plain on every GET path (the TechEmpower
//! plaintext shape), and `POST /echo` answers with the request body.
//!
//! `cargo run --release --example hello -- [ADDR] [--routed]` (default 127.0.0.1:8080).
//! Logs go to stderr; `RUST_LOG=debug` (any tracing env filter) shows more.
//!
//! `--routed` serves the same answers through a `Router` that also holds the GitHub REST
//! API's 203 routes (`benches/data/github-api-routes.txt`), for measuring what routing
//! adds to a request (`scripts/router-compare.sh`).
//!
//! `--tls CERT.pem KEY.pem` serves HTTPS with that certificate chain and key; `--tls`
//! alone makes a self-signed pair for `localhost` and `127.0.0.1` (rcgen), writes it to
//! a temporary directory and prints where: `curl --cacert <that>/cert.pem
//! https://localhost:8080/`.

use gmp::http::{Request, Response, Router, Server};
use gmp::net::tls::rustls;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::io::{self, Read};
use std::sync::Arc;

mod common;

fn main() {
    let addr = common::setup("127.0.0.1:8080");
    gmp::run(move || {
        let server = match Server::bind(addr.as_str()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hello: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        let args: Vec<String> = std::env::args().collect();
        let (server, scheme) = match args.iter().position(|a| a == "--tls") {
            Some(i) => match tls_config(common::tls_files(&args[i + 1..])) {
                Ok(cfg) => (server.tls(cfg), "https"),
                Err(e) => {
                    eprintln!("hello: TLS: {e}");
                    std::process::exit(1);
                }
            },
            None => (server, "http"),
        };
        println!(
            "hello: listening on {scheme}://{}",
            server.local_addr().expect("bound socket has an address")
        );
        let served = if std::env::args().any(|a| a == "--routed") {
            server.serve_handler(routed())
        } else {
            server.serve(hello)
        };
        if let Err(e) = served {
            eprintln!("hello: {e}");
            std::process::exit(1);
        }
    });
}

fn hello(req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
    match (req.method(), req.path()) {
        ("GET" | "HEAD", _) => {
            res.header("content-type", "text/plain");
            res.body("Hello, World!");
        }
        ("POST", "/echo") => {
            let mut body =
                Vec::with_capacity(req.content_length().unwrap_or(0).min(1 << 20) as usize);
            req.body().read_to_end(&mut body)?;
            res.header("content-type", "application/octet-stream");
            res.body(body);
        }
        ("POST", _) => {
            res.status(404).header("content-type", "text/plain");
            res.body("not found: POST goes to /echo\n");
        }
        _ => {
            res.status(405).header("allow", "GET, HEAD, POST");
            res.header("content-type", "text/plain");
            res.body("method not allowed\n");
        }
    }
    Ok(())
}

/// `hello` behind a router with a realistic route set: the API's routes answer 204, and
/// `GET /{$}`, `GET /plaintext` and `POST /echo` go to `hello`.
fn routed() -> Router {
    let mut r = Router::new();
    for line in include_str!("../benches/data/github-api-routes.txt").lines() {
        if !line.trim().is_empty() {
            r.handle(line, |_req, res| {
                res.status(204);
                Ok(())
            });
        }
    }
    r.handle("GET /{$}", hello);
    r.handle("GET /plaintext", hello);
    r.handle("POST /echo", hello);
    r
}

/// The server's TLS configuration from `files` (certificate chain, key), or from a
/// self-signed pair made now when there are none.
fn tls_config(files: &[String]) -> io::Result<Arc<rustls::ServerConfig>> {
    let bad = |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let (cert_pem, key_pem) = match files {
        [cert, key] => (std::fs::read(cert)?, std::fs::read(key)?),
        _ => {
            let pair =
                rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                    .map_err(|e| bad(&e))?;
            let dir = std::env::temp_dir().join(format!("gmp-hello-tls-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("cert.pem"), pair.cert.pem())?;
            std::fs::write(dir.join("key.pem"), pair.signing_key.serialize_pem())?;
            println!(
                "hello: a self-signed certificate for localhost and 127.0.0.1 is in {} (cert.pem, key.pem)",
                dir.display()
            );
            (
                pair.cert.pem().into_bytes(),
                pair.signing_key.serialize_pem().into_bytes(),
            )
        }
    };
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| bad(&e))?;
    let cfg = rustls::ServerConfig::builder_with_provider(gmp::net::tls::ring_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(&e))?;
    Ok(Arc::new(cfg))
}
