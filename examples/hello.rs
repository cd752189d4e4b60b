//! HTTP server: "Hello, World!" as text/plain on every GET path (the TechEmpower
//! plaintext shape), and `POST /echo` answers with the request body.
//!
//! `cargo run --release --example hello -- [ADDR] [--routed]` (default 127.0.0.1:8080).
//! Logs go to stderr; `RUST_LOG=debug` (any tracing env filter) shows more.
//!
//! `--routed` serves the same answers through a `Router` that also holds the GitHub REST
//! API's 203 routes (`benches/data/github-api-routes.txt`), for measuring what routing
//! adds to a request (`scripts/router-compare.sh`).

use gmp::http::{Request, Response, Router, Server};
use std::io::{self, Read};

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
        println!(
            "hello: listening on http://{}",
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
