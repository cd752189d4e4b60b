//! WebSockets (feature `websocket`): gmp's server and client, the handshake's refusals,
//! subprotocols, the message limit, one reader beside writers on other goroutines, a
//! peer that stops reading, `wss://`, answers to messages that came together sent
//! together (`try_read`, `write`, `flush`), and the tungstenite client on gmp sockets
//! from 1,000 goroutines at once.

mod common;
mod http_util;
mod tls_util;

use common::Watchdog;
use gmp::http::ws::{self, CloseCode, Message};
use gmp::http::{Router, Server};
use http_util::TestServer;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

fn app() -> Router {
    let mut r = Router::new();
    // Echo until the peer closes.
    r.handle("GET /echo", |req, res| {
        let ws = ws::accept(req, res)?;
        while let Ok(msg) = ws.read() {
            if msg.is_close() {
                break;
            }
            if msg.is_text() || msg.is_binary() {
                ws.send(msg)?;
            }
        }
        Ok(())
    });
    // Echo, answering the messages that came together in one write; then says how
    // many came in the largest batch.
    r.handle("GET /batch", |req, res| {
        let ws = ws::accept(req, res)?;
        let mut largest = 0;
        loop {
            let mut next = Some(ws.read()?);
            let mut batch = 0;
            while let Some(msg) = next {
                if msg.is_close() {
                    return Ok(());
                }
                if msg == Message::text("done") {
                    ws.send(Message::text(format!("largest batch {largest}")))?;
                } else if msg.is_text() || msg.is_binary() {
                    ws.write(msg)?;
                    batch += 1;
                }
                next = ws.try_read()?;
            }
            largest = largest.max(batch);
            ws.flush()?;
        }
    });
    // Subprotocols: answers with the one agreed on.
    r.handle("GET /proto", |req, res| {
        let ws = ws::Accept::new()
            .protocols(&["v2", "v1"])
            .accept(req, res)?;
        ws.send(Message::text(ws.protocol().unwrap_or("none").to_string()))?;
        let _ = ws.read();
        Ok(())
    });
    // A writer goroutine sends ticks while this one reads; "stop" ends both.
    r.handle("GET /ticks", |req, res| {
        let ws = Arc::new(ws::accept(req, res)?);
        let w = ws.clone();
        let writer = gmp::spawn(move || {
            for i in 0..50 {
                if w.send(Message::text(format!("tick {i}"))).is_err() {
                    break;
                }
                gmp::sleep(Duration::from_millis(2));
            }
        });
        let mut got = Vec::new();
        while let Ok(msg) = ws.read() {
            match msg {
                Message::Text(t) if t == "stop" => break,
                Message::Text(t) => got.push(t.to_string()),
                _ => {}
            }
        }
        writer.join().unwrap();
        ws.send(Message::text(format!("read {}", got.join(","))))?;
        let _ = ws.close(CloseCode::Normal, "done");
        Ok(())
    });
    // Closes at once with a code and a reason.
    r.handle("GET /close-me", |req, res| {
        let ws = ws::accept(req, res)?;
        ws.close(CloseCode::from(4001), "server says bye")?;
        while ws.read().is_ok() {}
        Ok(())
    });
    // Sends until a write fails; answers how it failed through the log of its status.
    r.handle("GET /flood", |req, res| {
        let ws = ws::accept(req, res)?;
        ws.set_write_timeout(Some(Duration::from_millis(300)))?;
        let big = Message::binary(vec![7u8; 64 << 10]);
        let t = Instant::now();
        let mut sent = 0usize;
        let e = loop {
            if let Err(e) = ws.send(big.clone()) {
                break e;
            }
            sent += 1;
            assert!(sent < 100_000, "never blocked");
        };
        FLOOD.lock().unwrap().push((e.kind(), sent, t.elapsed()));
        Ok(())
    });
    r
}

static FLOOD: std::sync::Mutex<Vec<(io::ErrorKind, usize, Duration)>> =
    std::sync::Mutex::new(Vec::new());

fn url(s: &TestServer, path: &str) -> String {
    format!("ws://{}{path}", s.addr)
}

#[test]
fn echo_text_binary_ping_and_close_between_gmps_client_and_server() {
    let _w = Watchdog::new("ws echo", LIMIT);
    let s = TestServer::start_handler(|s| s, app());
    let u = url(&s, "/echo");
    gmp::run(move || {
        let c = ws::connect(&u).unwrap();
        c.send(Message::text("hello")).unwrap();
        assert_eq!(c.read().unwrap(), Message::text("hello"));
        c.send(Message::binary(vec![0u8, 1, 2, 255])).unwrap();
        assert_eq!(c.read().unwrap(), Message::binary(vec![0u8, 1, 2, 255]));
        // A large message, under the default limit.
        let big = vec![42u8; 3 << 20];
        c.send(Message::binary(big.clone())).unwrap();
        assert_eq!(c.read().unwrap().into_data().len(), big.len());
        // Ping: the server answers with a pong carrying the payload.
        c.send(Message::Ping(b"p1".to_vec().into())).unwrap();
        assert_eq!(c.read().unwrap(), Message::Pong(b"p1".to_vec().into()));
        // Close with a code: the server answers the close.
        c.close(CloseCode::Away, "bye").unwrap();
        match c.read() {
            Ok(Message::Close(Some(f))) => assert_eq!(f.code, CloseCode::Away),
            other => panic!("expected the close back, got {other:?}"),
        }
        assert!(c.read().is_err());
    });
    s.stop();
}

#[test]
fn messages_that_came_together_are_answered_together() {
    let _w = Watchdog::new("ws batch", LIMIT);
    let s = TestServer::start_handler(|s| s, app());
    let u = url(&s, "/batch");
    gmp::run(move || {
        let c = ws::connect(&u).unwrap();
        // Nothing has come: try_read does not wait.
        assert_eq!(c.try_read().unwrap(), None);
        for i in 0..5 {
            c.write(Message::text(format!("m{i}"))).unwrap();
        }
        c.flush().unwrap(); // the five in one write
        for i in 0..5 {
            assert_eq!(c.read().unwrap(), Message::text(format!("m{i}")));
        }
        c.send(Message::text("done")).unwrap();
        // One write from the client arrives in one read on loopback: the server read
        // all five before it answered.
        assert_eq!(c.read().unwrap(), Message::text("largest batch 5"));
        c.close(CloseCode::Normal, "").unwrap();
        while c.read().is_ok() {}
    });
    s.stop();
}

#[test]
fn bad_handshakes_get_400_or_426_with_the_reason() {
    let _w = Watchdog::new("ws refusals", LIMIT);
    let s = TestServer::start_handler(|s| s, app());
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let good = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
    for (req, status, why) in [
        (format!("GET /echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n{key}\r\n"), 400, "missing Upgrade: websocket"),
        (format!("GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n{key}\r\n"), 400, "missing Connection: upgrade"),
        (format!("GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n{key}\r\n"), 426, "Sec-WebSocket-Version"),
        (format!("GET /echo HTTP/1.1\r\nHost: a\r\n{good}Sec-WebSocket-Key: short\r\n\r\n"), 400, "invalid Sec-WebSocket-Key"),
        (format!("GET /echo HTTP/1.1\r\nHost: a\r\n{good}\r\n"), 400, "invalid Sec-WebSocket-Key"),
        (format!("GET /echo HTTP/1.0\r\nHost: a\r\n{good}{key}\r\n"), 400, "needs HTTP/1.1"),
    ] {
        let mut c = s.client();
        c.send(&req);
        let r = c.resp();
        assert_eq!(r.status, status, "{req:?}: {r:?}");
        assert!(r.text().contains(why), "{why:?} in {:?}", r.text());
        if status == 426 {
            assert_eq!(r.header("sec-websocket-version"), Some("13"));
        }
    }
    // No subprotocol in common: 101 without one.
    let mut c = s.client();
    c.send(format!(
        "GET /proto HTTP/1.1\r\nHost: a\r\n{good}{key}Sec-WebSocket-Protocol: v0, v9\r\n\r\n"
    ));
    let r = c.head_resp();
    assert_eq!((r.status, r.header("sec-websocket-protocol")), (101, None));
    drop(c); // else shutdown waits for the upgraded connection (its grace: 10 s)
             // A good one: 101 with the accept key of RFC 6455's example.
    let mut c = s.client();
    c.send(format!("GET /echo HTTP/1.1\r\nHost: a\r\n{good}{key}\r\n"));
    let r = c.head_resp();
    assert_eq!(r.status, 101);
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    drop(c);
    s.stop();
}

#[test]
fn subprotocols_limits_and_a_reader_beside_a_writer() {
    let _w = Watchdog::new("ws more", LIMIT);
    let s = TestServer::start_handler(|s| s, app());
    let (proto, echo, ticks) = (url(&s, "/proto"), url(&s, "/echo"), url(&s, "/ticks"));
    gmp::run(move || {
        // The server's preference among what the client offers.
        let c = ws::Connect::new(&proto)
            .protocols(&["v1", "v2"])
            .connect()
            .unwrap();
        assert_eq!(c.protocol(), Some("v2"));
        assert_eq!(c.read().unwrap(), Message::text("v2"));
        // None in common: the server accepts without one (RFC 6455 §4.2.2), and
        // tungstenite's client, stricter, refuses that.
        let e = ws::Connect::new(&proto)
            .protocols(&["v0"])
            .connect()
            .unwrap_err();
        assert!(e.to_string().contains("subprotocol"), "{e}");
        // A 16 MiB message is over the default limit (4 MiB): the server's read fails
        // and the connection closes.
        let c = ws::Connect::new(&echo)
            .max_message_size(32 << 20)
            .connect()
            .unwrap();
        let _ = c.send(Message::binary(vec![1u8; 16 << 20]));
        let r = c.read();
        assert!(
            !matches!(r, Ok(Message::Binary(_))),
            "a 16 MiB message came back: {r:?}"
        );
        // One goroutine reads while another writes on the same WebSocket.
        let c = Arc::new(ws::connect(&ticks).unwrap());
        let mut ticks_seen = 0;
        loop {
            match c.read().unwrap() {
                Message::Text(t) if t.starts_with("tick") => {
                    ticks_seen += 1;
                    c.send(Message::text(format!("ack{ticks_seen}"))).unwrap();
                    if ticks_seen == 50 {
                        c.send(Message::text("stop")).unwrap();
                    }
                }
                Message::Text(t) => {
                    assert!(t.starts_with("read ack1,ack2"), "{t}");
                    assert!(t.ends_with("ack50"), "{t}");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
    });
    s.stop();
}

#[test]
fn a_peer_that_stops_reading_times_the_writes_out() {
    let _w = Watchdog::new("ws flood", LIMIT);
    let s = TestServer::start_handler(|s| s, app());
    let u = url(&s, "/flood");
    gmp::run(move || {
        let c = ws::connect(&u).unwrap();
        // Never read: the server's sends fill the socket buffers, then time out.
        let deadline = Instant::now() + Duration::from_secs(20);
        while FLOOD.lock().unwrap().is_empty() {
            assert!(
                Instant::now() < deadline,
                "the server's writes never failed"
            );
            gmp::sleep(Duration::from_millis(50));
        }
        drop(c);
    });
    let (kind, sent, took) = FLOOD.lock().unwrap()[0];
    println!("flood: {sent} messages of 64 KiB sent, then {kind:?} after {took:?}");
    assert_eq!(kind, io::ErrorKind::TimedOut);
    // What the kernel's socket buffers took, not an unbounded user-space buffer.
    assert!(
        sent < 400,
        "{sent} messages of 64 KiB went out to a peer that reads nothing"
    );
    s.stop();
}

#[test]
fn wss_over_tls() {
    let _w = Watchdog::new("wss", LIMIT);
    let p = tls_util::pki("wss", &["localhost"]);
    let cfg = p.server_config();
    let s = TestServer::start_handler(move |s: Server| s.tls(cfg), app());
    let u = format!("wss://localhost:{}/echo", s.addr.port());
    let client_cfg = p.client_config();
    gmp::run(move || {
        let c = ws::Connect::new(&u)
            .tls_config(client_cfg)
            .connect()
            .unwrap();
        for i in 0..20 {
            c.send(Message::text(format!("secret {i}"))).unwrap();
            assert_eq!(c.read().unwrap(), Message::text(format!("secret {i}")));
        }
        c.close(CloseCode::Normal, "").unwrap();
    });
    s.stop();
}

#[test]
fn the_tungstenite_client_from_a_thousand_goroutines() {
    let _w = Watchdog::new("ws 1000", LIMIT);
    http_util::raise_nofile(8192);
    let s = TestServer::start_handler(|s| s, app());
    let addr = s.addr;
    let ok = gmp::run(move || {
        let hs: Vec<_> = (0..1000)
            .map(|i| {
                gmp::spawn(move || {
                    let tcp = gmp::net::TcpStream::connect(addr).unwrap();
                    let (mut c, _) =
                        tungstenite::client::client(format!("ws://{addr}/echo"), tcp).unwrap();
                    let mut ok = 0;
                    for j in 0..5 {
                        let m = format!("g{i} m{j}");
                        c.send(tungstenite::Message::text(m.clone())).unwrap();
                        if c.read().unwrap() == tungstenite::Message::text(m) {
                            ok += 1;
                        }
                    }
                    c.close(None).unwrap();
                    while c.read().is_ok() {}
                    ok
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    assert_eq!(ok, 5000);
    s.stop();
}

#[test]
fn pythons_websockets_client() {
    let _w = Watchdog::new("ws python", LIMIT);
    let Some(python) = common::python_with("websockets") else {
        return;
    };
    let s = TestServer::start_handler(|s| s, app());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/ws_client.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(format!("ws://{}", s.addr))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "text: hello",
        "binary: 0001ff",
        "fragmented: frag1-frag2-frag3",
        "pong: True",
        "close code: 4000 client says bye",
        "server close: 4001 server says bye",
        "16 MiB: closed 1009",
    ] {
        assert!(text.lines().any(|l| l == want), "{want:?} not in:\n{text}");
    }
    s.stop();
}
