//! Load generator for WebSocket echo servers: C connections to ws://ADDR/ws, each
//! keeping W binary messages of L bytes in flight (it sends one more for each echo it
//! gets back), for S seconds, on one thread.
//!
//! usage: ws-load ADDR [--conns 100] [--window 1] [--len 64] [--secs 5]
//!
//! All connections are opened and upgraded first; the clock starts when they are, and
//! only echoes received in the S seconds after count. Prints `name value unit` lines:
//! `messages`, `messages/s`, `p50` and `p99` (microseconds from a message's send to
//! its echo), `conns` (how many took part) and `errors` (connections that failed; the
//! first error's message on stderr).
//!
//! The client side is peers::ws's hand-written frames, not a WebSocket library, so that
//! the generator costs less per message than any server it measures (compare.py runs it
//! on its own CPU against a server given part of another).
use peers::ws::{client_frame, echo_len, handshake, whole_echoes};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Args {
    addr: String,
    conns: usize,
    window: usize,
    len: usize,
    secs: f64,
}

fn args() -> Args {
    let usage = "usage: ws-load ADDR [--conns 100] [--window 1] [--len 64] [--secs 5]";
    let fail = |why: &str| -> ! {
        eprintln!("ws-load: {why}\n{usage}");
        std::process::exit(2)
    };
    let mut a = Args {
        addr: String::new(),
        conns: 100,
        window: 1,
        len: 64,
        secs: 5.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| -> f64 {
            let v = it
                .next()
                .unwrap_or_else(|| fail(&format!("{flag} needs a value")));
            v.parse()
                .unwrap_or_else(|_| fail(&format!("{flag}: not a number: {v:?}")))
        };
        match arg.as_str() {
            "--conns" => a.conns = value("--conns") as usize,
            "--window" => a.window = value("--window") as usize,
            "--len" => a.len = value("--len") as usize,
            "--secs" => a.secs = value("--secs"),
            _ if arg.starts_with('-') || !a.addr.is_empty() => fail(&format!("unknown {arg:?}")),
            _ => a.addr = arg,
        }
    }
    if a.addr.is_empty() || a.conns == 0 || a.window == 0 || a.secs <= 0.0 || a.len > 125 {
        fail("an ADDR; --conns, --window and --secs above zero; --len at most 125");
    }
    a
}

/// What every connection adds to, on the one thread.
#[derive(Default)]
struct Shared {
    /// Connections upgraded and waiting for the start.
    ready: usize,
    failed: usize,
    first_error: Option<String>,
    /// While the clock runs: echoes received, and each one's microseconds.
    counting: bool,
    messages: u64,
    latencies: Vec<u32>,
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let shared = Rc::new(RefCell::new(Shared::default()));
        let (go, started) = tokio::sync::watch::channel(false);
        for _ in 0..a.conns {
            let shared = shared.clone();
            let mut started = started.clone();
            let (addr, window, len) = (a.addr.clone(), a.window, a.len);
            tokio::task::spawn_local(async move {
                let r = run(&addr, window, len, &shared, &mut started).await;
                if let Err(e) = r {
                    let mut s = shared.borrow_mut();
                    s.failed += 1;
                    s.first_error.get_or_insert_with(|| e.to_string());
                }
            });
        }
        // Every connection upgraded (or failed) before the clock starts; 30 s at most.
        let opened = Instant::now();
        loop {
            let s = shared.borrow();
            if s.ready + s.failed >= a.conns || opened.elapsed() > Duration::from_secs(30) {
                break;
            }
            drop(s);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        shared.borrow_mut().counting = true;
        let t0 = Instant::now();
        let _ = go.send(true);
        tokio::time::sleep(Duration::from_secs_f64(a.secs)).await;
        let mut s = shared.borrow_mut();
        s.counting = false;
        let elapsed = t0.elapsed().as_secs_f64();
        let msgs = s.messages;
        let lat = &mut s.latencies;
        lat.sort_unstable();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        let (p50, p99) = (pct(0.50), pct(0.99));
        println!("messages {msgs} msgs");
        println!("messages/s {:.0} msg/s", msgs as f64 / elapsed);
        println!("p50 {p50} us");
        println!("p99 {p99} us");
        println!("conns {} conns", s.ready);
        println!("errors {} conns", s.failed);
        if let Some(e) = &s.first_error {
            eprintln!("ws-load: first error: {e}");
        }
        // The connections still have messages in flight: end here, without draining them.
        std::process::exit(0);
    });
}

/// One connection: upgrade, wait for the start, then keep `window` messages in flight.
async fn run(
    addr: &str,
    window: usize,
    len: usize,
    shared: &RefCell<Shared>,
    started: &mut tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    handshake(&mut s, addr, "/ws").await?;
    shared.borrow_mut().ready += 1;
    if started.wait_for(|&go| go).await.is_err() {
        return Ok(());
    }
    let frame = client_frame(len);
    let batch = frame.repeat(window);
    let each = echo_len(len);
    // When each message in flight was sent, oldest first (echoes come back in order).
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(window);
    let mut buf = vec![0u8; (each * window).max(4096)];
    let mut have = 0;
    s.write_all(&batch).await?;
    let now = Instant::now();
    sent.extend(std::iter::repeat_n(now, window));
    loop {
        let n = s.read(&mut buf[have..]).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        have += n;
        let k = whole_echoes(&buf[..have], len)?;
        if k == 0 {
            continue;
        }
        buf.copy_within(k * each..have, 0);
        have -= k * each;
        let now = Instant::now();
        {
            let mut sh = shared.borrow_mut();
            let counting = sh.counting;
            for t in sent.drain(..k) {
                if counting {
                    sh.latencies
                        .push(now.duration_since(t).as_micros().min(u32::MAX as u128) as u32);
                }
            }
            if counting {
                sh.messages += k as u64;
            }
        }
        s.write_all(&batch[..k * frame.len()]).await?;
        sent.extend(std::iter::repeat_n(now, k));
    }
}
