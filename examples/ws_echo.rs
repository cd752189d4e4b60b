//! WebSocket echo server: every text or binary message comes back as it came, each
//! connection on its own goroutine (the server side of `scripts/ws-compare.sh`).
//!
//! `cargo run --release --features websocket --example ws_echo -- [ADDR]` (default
//! 127.0.0.1:8080); the WebSocket is at any path, e.g. `ws://127.0.0.1:8080/ws`.

use gmp::http::ws::{self, Message};
use gmp::http::Server;

mod common;

fn main() {
    let addr = common::setup("127.0.0.1:8080");
    gmp::run(move || {
        let server = match Server::bind(addr.as_str()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ws_echo: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "ws_echo: listening on ws://{}/ws",
            server.local_addr().expect("bound socket has an address")
        );
        let served = server.serve(|req, res| {
            let ws = ws::accept(req, res)?;
            // Messages that arrived together are echoed together: each is queued with
            // `write`, and the queue goes out in one write once no more is there (what
            // tokio-tungstenite's `forward` does).
            while let Ok(first) = ws.read() {
                let mut next = Some(first);
                while let Some(msg) = next {
                    match msg {
                        Message::Text(_) | Message::Binary(_) => ws.write(msg)?,
                        Message::Close(_) => return Ok(()),
                        // Pings are answered by `read`; pongs need nothing.
                        _ => {}
                    }
                    next = ws.try_read()?;
                }
                ws.flush()?;
            }
            Ok(())
        });
        if let Err(e) = served {
            eprintln!("ws_echo: {e}");
            std::process::exit(1);
        }
    });
}
