//! A chat room: each WebSocket on its own goroutine, a hub goroutine fanning messages out
//! through `gmp::chan`, and a small HTML page at `/` that a browser can use.
//!
//! `cargo run --release --features websocket --example chat -- [ADDR]` (default
//! 127.0.0.1:8080), then open http://127.0.0.1:8080/ in two browser tabs.
//!
//! Each connection has three parts: its handler's goroutine reads the browser's
//! messages and hands them to the hub; a writer goroutine sends the hub's broadcasts to
//! the browser from a bounded outbox; the hub owns the list of outboxes. A browser that
//! stops reading fills its outbox, and the hub drops it instead of waiting for it.

use gmp::chan::{self, Receiver, Sender, TrySendError};
use gmp::http::ws::{self, Message};
use gmp::http::{log_requests, Router, Server};
use std::collections::HashMap;
use std::sync::Arc;

mod common;

/// What the hub hears.
enum Event {
    Join(u64, Sender<Arc<str>>),
    Leave(u64),
    Say(u64, String),
}

/// Messages a browser may have waiting before the hub gives up on it.
const OUTBOX: usize = 64;

fn hub(events: Receiver<Event>) {
    let mut members: HashMap<u64, Sender<Arc<str>>> = HashMap::new();
    for ev in events.iter() {
        let line: Arc<str> = match ev {
            Event::Join(id, outbox) => {
                members.insert(id, outbox);
                format!("* guest{id} joined ({} here)", members.len()).into()
            }
            Event::Leave(id) => {
                members.remove(&id);
                format!("* guest{id} left").into()
            }
            Event::Say(id, text) => format!("guest{id}: {text}").into(),
        };
        members.retain(|id, outbox| match outbox.try_send(line.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                eprintln!("chat: guest{id} is not reading; dropped");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }
}

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>gmp chat</title>
<style>body{font:15px sans-serif;max-width:40em;margin:2em auto}#log{list-style:none;padding:0}
#log li{padding:.2em 0}form{display:flex;gap:.5em}#text{flex:1}</style></head>
<body><h1>gmp chat</h1><ul id="log"></ul>
<form id="form"><input id="text" autocomplete="off" placeholder="say something"><button>send</button></form>
<script>
const log = document.getElementById("log");
const show = (t) => { const li = document.createElement("li"); li.textContent = t; log.appendChild(li); };
const sock = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
window.chatReady = new Promise((ok, fail) => { sock.onopen = ok; sock.onerror = fail; });
window.chatSend = (t) => sock.send(t);
sock.onmessage = (e) => show(e.data);
sock.onclose = () => show("* disconnected");
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  if (input.value) { chatSend(input.value); input.value = ""; }
};
</script></body></html>
"#;

fn main() -> std::io::Result<()> {
    let addr = common::setup("127.0.0.1:8080");
    gmp::run(move || {
        let (events, inbox) = chan::unbounded::<Event>();
        gmp::spawn(move || hub(inbox));
        let next_id = Arc::new(std::sync::atomic::AtomicU64::new(1));

        let mut app = Router::new();
        app.handle("GET /{$}", |_req, res| {
            res.header("content-type", "text/html; charset=utf-8");
            res.body(PAGE);
            Ok(())
        });
        app.handle("GET /ws", move |req, res| {
            let socket = Arc::new(ws::accept(req, res)?);
            let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // The writer: the hub's broadcasts, from the outbox, to the browser.
            let (outbox, pending) = chan::bounded::<Arc<str>>(OUTBOX);
            let w = socket.clone();
            let writer = gmp::spawn(move || {
                for line in pending.iter() {
                    if w.send(Message::text(&*line)).is_err() {
                        break;
                    }
                }
            });
            let _ = events.send(Event::Join(id, outbox));
            // The reader: this goroutine.
            while let Ok(msg) = socket.read() {
                match msg {
                    Message::Text(t) => {
                        let text = t.trim();
                        if !text.is_empty() {
                            let _ = events.send(Event::Say(id, text.chars().take(500).collect()));
                        }
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            // The hub drops the outbox, which ends the writer.
            let _ = events.send(Event::Leave(id));
            let _ = writer.join();
            Ok(())
        });
        let server = Server::bind(addr.as_str())?;
        println!("chat: listening on http://{}", server.local_addr()?);
        server
            .shutdown_on_signals()
            .serve_handler(app.with(log_requests))
    })
}
