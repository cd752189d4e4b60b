//! `examples/chat` in a real browser: headless Chromium loads the page, the page's own
//! script sends a message through its WebSocket, a gmp WebSocket client in the room reads
//! it, answers, and the page shows the answer. The browser is driven through the
//! DevTools protocol, over gmp's own WebSocket client. Needs `chromium` (skipped with a
//! notice where it is missing; a failure under CI, which installs it).

mod common;

use gmp::http::ws::{self, Message};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `examples/chat` as built next to this test (it needs the `websocket` feature).
fn chat_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("examples").join("chat");
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: CI builds it (cargo test --all-features)",
        bin.display()
    );
    eprintln!("note: examples/chat is not built (cargo test --all-features builds it); skipping");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One DevTools `Runtime.evaluate` of `expr` (a promise is awaited); its value, or the
/// exception it threw.
fn try_evaluate(
    cdp: &ws::WebSocket,
    id: u64,
    expr: &str,
) -> Result<serde_json::Value, serde_json::Value> {
    let cmd = serde_json::json!({
        "id": id,
        "method": "Runtime.evaluate",
        "params": {"expression": expr, "awaitPromise": true, "returnByValue": true},
    });
    cdp.send(Message::text(cmd.to_string())).unwrap();
    loop {
        let Message::Text(t) = cdp.read().unwrap() else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        if v["id"] == id {
            if !v["result"]["exceptionDetails"].is_null() {
                return Err(v);
            }
            return Ok(v["result"]["result"]["value"].clone());
        }
    }
}

fn evaluate(cdp: &ws::WebSocket, id: u64, expr: &str) -> serde_json::Value {
    try_evaluate(cdp, id, expr).unwrap_or_else(|v| panic!("{expr}: {v}"))
}

#[test]
fn a_browser_chats_through_the_pages_own_script() {
    let _w = common::Watchdog::new("chat browser", Duration::from_secs(120));
    let Some(chat) = chat_binary() else { return };
    if !common::tool("chromium") {
        return;
    }
    // The chat server, on a port of its own.
    let mut server = Command::new(&chat)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Kill(server);
    let base = line
        .trim()
        .strip_prefix("chat: listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let addr = base.trim_start_matches("http://").to_string();

    // Headless Chromium on the page, with its DevTools port open.
    let dport = free_port();
    let profile = std::env::temp_dir().join(format!("gmp-chromium-{}", std::process::id()));
    let browser = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--remote-debugging-port={dport}"))
        .arg(format!("{base}/"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _browser = Kill(browser);

    let ok = gmp::run(move || {
        // A gmp client in the room.
        let me = ws::connect(&format!("ws://{addr}/ws")).unwrap();
        // The page's DevTools WebSocket.
        let http = gmp::http::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let target = loop {
            if let Ok(mut r) = http.get(&format!("http://127.0.0.1:{dport}/json/list")) {
                let list: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
                let page = list.as_array().into_iter().flatten().find(|t| {
                    t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(&base))
                });
                if let Some(p) = page {
                    break p["webSocketDebuggerUrl"].as_str().unwrap().to_string();
                }
            }
            assert!(Instant::now() < deadline, "Chromium's page never showed up");
            gmp::sleep(Duration::from_millis(100));
        };
        let cdp = ws::Connect::new(&target)
            .max_message_size(64 << 20)
            .connect()
            .unwrap();
        // Until the page's script has run (the page may still be loading).
        let mut id = 100;
        while try_evaluate(&cdp, id, "typeof chatReady") != Ok(serde_json::json!("object")) {
            assert!(Instant::now() < deadline, "the page's script never ran");
            id += 1;
            gmp::sleep(Duration::from_millis(50));
        }
        // The page's script: wait until its socket is open, then send through it.
        let sent = evaluate(
            &cdp,
            1,
            "chatReady.then(() => { chatSend('hello from chromium'); return true; })",
        );
        assert_eq!(sent, serde_json::Value::Bool(true));
        // The room hears it.
        loop {
            let Message::Text(t) = me.read().unwrap() else {
                continue;
            };
            if t.ends_with(": hello from chromium") {
                break;
            }
        }
        // And the page shows what the room says.
        me.send(Message::text("hi browser")).unwrap();
        let shown = evaluate(
            &cdp,
            2,
            "new Promise(ok => { const t = setInterval(() => { \
               if (document.getElementById('log').innerText.includes('hi browser')) { \
                 clearInterval(t); ok(document.getElementById('log').innerText); } }, 50); })",
        );
        shown.as_str().unwrap().to_string()
    });
    assert!(
        ok.contains("hello from chromium") && ok.contains("hi browser"),
        "{ok}"
    );
    let _ = std::fs::remove_dir_all(profile);
}
