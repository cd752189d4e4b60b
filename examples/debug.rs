//! The runtime's debug endpoint (`gmp::http::debug::handler`) mounted under
//! `/debug/gmp/`, answering only loopback clients: the access control it needs, because
//! it shows the program's internals. `/` says hello; a few goroutines wait on a channel
//! and one ticks every second, so the dump and the metrics have something to show.
//!
//! `cargo run --release --example debug -- [ADDR]` (default 127.0.0.1:6060), then
//! `curl 127.0.0.1:6060/debug/gmp/metrics`, `.../goroutines?debug=1`, `.../sched`.

use gmp::http::{Router, Server};
use std::time::Duration;

mod common;

fn main() {
    let addr = common::setup("127.0.0.1:6060");
    gmp::run(move || {
        let (tx, rx) = gmp::chan::bounded::<()>(0);
        for _ in 0..8 {
            let rx = rx.clone();
            gmp::spawn(move || rx.recv());
        }
        gmp::spawn(|| loop {
            gmp::sleep(Duration::from_secs(1));
        });

        let debug = gmp::http::debug::handler();
        let mut app = Router::new();
        app.handle("GET /{$}", |_, res| {
            res.body("Hello, World!");
            Ok(())
        });
        app.handle("GET /debug/gmp/", move |req, res| {
            if !req.remote_addr().ip().is_loopback() {
                res.status(403).body("forbidden\n");
                return Ok(());
            }
            debug(req, res)
        });
        let server = match Server::bind(addr.as_str()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("debug: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "debug: listening on http://{}/debug/gmp/",
            server.local_addr().expect("bound socket has an address")
        );
        if let Err(e) = server.serve_handler(app) {
            eprintln!("debug: {e}");
            std::process::exit(1);
        }
        drop(tx);
    });
}
