//! The soak's clients: one goroutine per kind of traffic, each looping over rounds until
//! the run stops. The well-behaved kinds check every byte of every answer and count a
//! failure for any error; the faulty kinds (resets, half-closes, slow and unread bodies,
//! panics) only require that the server answers or cuts them off within a deadline.
//!
//! Invariant: every socket a client opens is closed by the end of its round, so when the
//! load stops the server's connection goroutines and fds can all go.

use crate::wire::{self, check, echo_head, gen_request, read_response, Counters, Rng};
use gmp::net::tls::rustls;
use gmp::net::TcpStream;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long any one read or write may wait before the client calls it a hang: far longer
/// than the server's own timeouts, so a loaded machine does not make a false failure.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// What every client needs to reach the servers.
pub struct Ctx {
    pub plain: SocketAddr,
    pub tls: SocketAddr,
    pub tls_client: Arc<rustls::ClientConfig>,
    pub counters: Arc<Counters>,
}

/// One kind of client: its name (for failure notes) and one round of its traffic.
pub type Round = fn(&Ctx, &mut Rng) -> Result<(), String>;

/// The kinds of client and how many goroutines run each.
pub fn kinds() -> Vec<(&'static str, Round, usize)> {
    let mut k: Vec<(&'static str, Round, usize)> = vec![
        ("keep-alive", keep_alive, 4),
        ("pipelined", pipelined, 2),
        ("chunked upload", chunked, 2),
        ("slowloris head", slowloris_head, 2),
        ("slowloris body", slowloris_body, 2),
        ("reset mid-request", reset_mid_request, 1),
        ("reset mid-response", reset_mid_response, 1),
        ("half-close", half_close, 1),
        ("request body unread", request_body_unread, 1),
        ("response body unread", response_body_unread, 1),
        ("panicking handler", panicking, 1),
        ("sleeping handler", sleeping, 1),
        ("blocking handler", blocking, 1),
        ("tls", tls, 2),
        ("websocket", websocket, 2),
        ("client pool", pool, 2),
    ];
    #[cfg(feature = "hook")]
    k.push(("std::net via hook", std_net, 1));
    k
}

fn e(what: &str, err: impl std::fmt::Display) -> String {
    format!("{what}: {err}")
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr).map_err(|x| e("connect", x))?;
    s.set_read_timeout(Some(PATIENCE))
        .map_err(|x| e("timeout", x))?;
    s.set_write_timeout(Some(PATIENCE))
        .map_err(|x| e("timeout", x))?;
    Ok(s)
}

/// Makes the next close of `s` send a reset (`SO_LINGER` 0) instead of a FIN.
fn linger_zero(s: &impl AsRawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a `linger` of the size passed.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

/// A few checked requests, one at a time, on one connection of any stream type: an echo
/// of a seeded body or a `/gen` of one, at random.
fn exchanges<S: Read + Write>(
    c: &Ctx,
    rng: &mut Rng,
    conn: &mut BufReader<S>,
    n: usize,
) -> Result<(), String> {
    for _ in 0..n {
        let (seed, len) = (rng.next_u64(), rng.usize(0, 64 << 10));
        if rng.range(0, 1) == 0 {
            let mut req = echo_head(len).into_bytes();
            req.extend(wire::body(seed, len));
            conn.get_mut().write_all(&req).map_err(|x| e("write", x))?;
        } else {
            let req = gen_request("/gen", seed, len, "");
            conn.get_mut()
                .write_all(req.as_bytes())
                .map_err(|x| e("write", x))?;
        }
        let res = read_response(conn).map_err(|x| e("read", x))?;
        check(&res, seed, len)?;
        c.counters.request(len);
        if c.counters.stopping() {
            break;
        }
    }
    Ok(())
}

fn keep_alive(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let n = rng.usize(1, 50);
    exchanges(c, rng, &mut BufReader::new(connect(c.plain)?), n)
}

/// Up to 16 requests written at once, then their answers read in order.
fn pipelined(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let mut conn = BufReader::new(connect(c.plain)?);
    for _ in 0..rng.usize(1, 10) {
        let mut wire_out = Vec::new();
        let mut want = Vec::new();
        for _ in 0..rng.usize(2, 16) {
            let (seed, len) = (rng.next_u64(), rng.usize(0, 16 << 10));
            if rng.range(0, 1) == 0 {
                wire_out.extend(echo_head(len).into_bytes());
                wire_out.extend(wire::body(seed, len));
            } else {
                wire_out.extend(gen_request("/gen", seed, len, "").into_bytes());
            }
            want.push((seed, len));
        }
        conn.get_mut()
            .write_all(&wire_out)
            .map_err(|x| e("write", x))?;
        for (seed, len) in want {
            check(
                &read_response(&mut conn).map_err(|x| e("read", x))?,
                seed,
                len,
            )?;
            c.counters.request(len);
        }
    }
    Ok(())
}

/// A chunked upload: random chunk sizes, written in random pieces with short pauses
/// (the head in one piece: the server allows it 3 s from its first byte).
fn chunked(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let mut conn = BufReader::new(connect(c.plain)?);
    let (seed, len) = (rng.next_u64(), rng.usize(0, 200 << 10));
    let body = wire::body(seed, len);
    let head = b"POST /echo HTTP/1.1\r\nhost: soak\r\ntransfer-encoding: chunked\r\n\r\n";
    conn.get_mut().write_all(head).map_err(|x| e("write", x))?;
    let mut out = Vec::new();
    let mut at = 0;
    while at < len {
        let n = rng.usize(1, 8192).min(len - at);
        out.extend(format!("{n:x}\r\n").into_bytes());
        out.extend(&body[at..at + n]);
        out.extend(b"\r\n");
        at += n;
    }
    out.extend(b"0\r\n\r\n");
    let mut at = 0;
    while at < out.len() {
        let n = rng.usize(1, 4096).min(out.len() - at);
        conn.get_mut()
            .write_all(&out[at..at + n])
            .map_err(|x| e("write", x))?;
        at += n;
        if rng.range(0, 15) == 0 {
            gmp::sleep(Duration::from_millis(rng.range(0, 5)));
        }
    }
    check(
        &read_response(&mut conn).map_err(|x| e("read", x))?,
        seed,
        len,
    )?;
    c.counters.request(len);
    Ok(())
}

/// Writes `first`, then one byte of `drip` every `every` until the server closes the
/// connection (a write fails, or a read sees its answer or end of stream).
fn trickle(c: &Ctx, first: &[u8], drip: u8, every: Duration) -> Result<(), String> {
    let s = connect(c.plain)?;
    let start = Instant::now();
    let mut w = &s;
    if w.write_all(first).is_err() {
        c.counters.fault();
        return Ok(());
    }
    let mut buf = [0; 512];
    loop {
        match s.try_read(&mut buf) {
            Ok(_) => break,
            Err(x) if x.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        if start.elapsed() > PATIENCE {
            return Err("the server never cut off a slow client".into());
        }
        gmp::sleep(every);
        if w.write_all(&[drip]).is_err() {
            break;
        }
    }
    c.counters.fault();
    Ok(())
}

/// A head that never ends: the server's head timeout (3 s) must close it.
fn slowloris_head(c: &Ctx, _: &mut Rng) -> Result<(), String> {
    trickle(
        c,
        b"GET / HTTP/1.1\r\nhost: soak\r\nx-slow: ",
        b'a',
        Duration::from_millis(300),
    )
}

/// A body sent a byte per 6 s: the server's body read timeout (4 s) must end it.
fn slowloris_body(c: &Ctx, _: &mut Rng) -> Result<(), String> {
    let head = format!("{}0123456789", echo_head(1000));
    trickle(c, head.as_bytes(), b'b', Duration::from_secs(6))
}

/// A request cut by a reset in its head or its body.
fn reset_mid_request(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let s = connect(c.plain)?;
    let len = rng.usize(1, 256 << 10);
    let mut req = echo_head(len).into_bytes();
    req.extend(wire::body(rng.next_u64(), len));
    let cut = rng.usize(1, req.len() - 1);
    let _ = (&s).write_all(&req[..cut]);
    gmp::sleep(Duration::from_millis(rng.range(0, 20)));
    linger_zero(&s);
    c.counters.fault();
    Ok(())
}

/// A large answer cut by a reset after some of it was read (and checked).
fn reset_mid_response(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let s = connect(c.plain)?;
    let seed = rng.next_u64();
    let len = 4 << 20;
    (&s).write_all(gen_request("/gen", seed, len, "").as_bytes())
        .map_err(|x| e("write", x))?;
    let mut got = vec![0; rng.usize(1, 256 << 10)];
    (&s).read_exact(&mut got).map_err(|x| e("read", x))?;
    let at = got.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    if let Some(at) = at {
        let want = wire::body(seed, got.len() - at);
        if got[at..] != want[..] {
            return Err(format!(
                "the start of a 4 MiB answer differs (seed {seed:#x})"
            ));
        }
        c.counters.request(want.len());
    }
    linger_zero(&s);
    c.counters.fault();
    Ok(())
}

/// A request, then the write side shut: the answer must still come, then the close.
fn half_close(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let mut conn = BufReader::new(connect(c.plain)?);
    let (seed, len) = (rng.next_u64(), rng.usize(0, 64 << 10));
    let mut req = echo_head(len).into_bytes();
    req.extend(wire::body(seed, len));
    conn.get_mut().write_all(&req).map_err(|x| e("write", x))?;
    conn.get_ref()
        .shutdown(Shutdown::Write)
        .map_err(|x| e("shutdown", x))?;
    check(
        &read_response(&mut conn).map_err(|x| e("read", x))?,
        seed,
        len,
    )?;
    c.counters.request(len);
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest)
        .map_err(|x| e("read to the close", x))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes after the answer to a half-close",
            rest.len()
        ));
    }
    c.counters.fault();
    Ok(())
}

/// A body the handler never reads: its answer must come, and the connection then either
/// carries the next request correctly or is closed.
fn request_body_unread(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let mut conn = BufReader::new(connect(c.plain)?);
    let len = rng.usize(1, 64 << 10);
    let mut req = format!("POST /ignore HTTP/1.1\r\nhost: soak\r\ncontent-length: {len}\r\n\r\n")
        .into_bytes();
    req.extend(wire::body(rng.next_u64(), len));
    c.counters.fault();
    if conn.get_mut().write_all(&req).is_err() {
        return Ok(()); // the server answered and closed before taking it all
    }
    let res = read_response(&mut conn).map_err(|x| e("read", x))?;
    if res.status != 200 || res.body != b"ignored" {
        return Err(format!(
            "POST /ignore answered {} {:?}",
            res.status, res.body
        ));
    }
    c.counters.request(res.body.len());
    if !res.close {
        exchanges(c, rng, &mut conn, 1)?;
    }
    Ok(())
}

/// A large answer whose body the client never reads before it closes.
fn response_body_unread(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let s = connect(c.plain)?;
    (&s).write_all(gen_request("/gen", rng.next_u64(), 8 << 20, "").as_bytes())
        .map_err(|x| e("write", x))?;
    let mut head = [0; 64];
    (&s).read_exact(&mut head).map_err(|x| e("read", x))?;
    gmp::sleep(Duration::from_millis(rng.range(0, 500)));
    c.counters.fault();
    Ok(())
}

/// A handler that panics: a 500 and the close.
fn panicking(c: &Ctx, _: &mut Rng) -> Result<(), String> {
    let mut conn = BufReader::new(connect(c.plain)?);
    conn.get_mut()
        .write_all(b"GET /panic HTTP/1.1\r\nhost: soak\r\n\r\n")
        .map_err(|x| e("write", x))?;
    let res = read_response(&mut conn).map_err(|x| e("read", x))?;
    if res.status != 500 || !res.close {
        return Err(format!(
            "a panic answered {} (close: {})",
            res.status, res.close
        ));
    }
    c.counters.request(0);
    c.counters.fault();
    Ok(())
}

fn slow_handler(c: &Ctx, rng: &mut Rng, path: &str, max_ms: u64) -> Result<(), String> {
    let mut conn = BufReader::new(connect(c.plain)?);
    for _ in 0..rng.usize(1, 10) {
        let (seed, len) = (rng.next_u64(), rng.usize(0, 16 << 10));
        let req = gen_request(path, seed, len, &format!("&ms={}", rng.range(1, max_ms)));
        conn.get_mut()
            .write_all(req.as_bytes())
            .map_err(|x| e("write", x))?;
        check(
            &read_response(&mut conn).map_err(|x| e("read", x))?,
            seed,
            len,
        )?;
        c.counters.request(len);
    }
    Ok(())
}

/// Handlers that park in `gmp::sleep`.
fn sleeping(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    slow_handler(c, rng, "/sleep", 100)
}

/// Handlers that block a thread inside `gmp::blocking`.
fn blocking(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    slow_handler(c, rng, "/block", 50)
}

/// Checked requests over TLS.
fn tls(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let tcp = connect(c.tls)?;
    let s = gmp::net::tls::connect("localhost", tcp, &c.tls_client).map_err(|x| e("tls", x))?;
    let n = rng.usize(1, 20);
    exchanges(c, rng, &mut BufReader::new(s), n)
}

/// WebSocket echo of seeded binary messages through tungstenite's client.
fn websocket(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    use tungstenite::Message;
    let tcp = connect(c.plain)?;
    let (mut ws, _) = tungstenite::client::client(format!("ws://{}/ws", c.plain), tcp)
        .map_err(|x| e("ws handshake", x))?;
    for _ in 0..rng.usize(1, 20) {
        let (seed, len) = (rng.next_u64(), rng.usize(0, 64 << 10));
        let want = wire::body(seed, len);
        ws.send(Message::binary(want.clone()))
            .map_err(|x| e("ws send", x))?;
        match ws.read().map_err(|x| e("ws read", x))? {
            Message::Binary(got) if got[..] == want[..] => c.counters.request(len),
            other => return Err(format!("ws echo of {len} bytes came back as {other:?}")),
        }
    }
    ws.close(None).map_err(|x| e("ws close", x))?;
    while ws.read().is_ok() {}
    Ok(())
}

/// gmp's client pool: echoes, and `/proxy`, whose handler calls back into the server
/// through its own pool.
fn pool(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let client = gmp::http::Client::builder().timeout(PATIENCE).build();
    for _ in 0..rng.usize(1, 20) {
        let (seed, len) = (rng.next_u64(), rng.usize(0, 64 << 10));
        let mut res = if rng.range(0, 1) == 0 {
            client
                .request("POST", &format!("http://{}/echo", c.plain))
                .body(wire::body(seed, len))
                .send()
        } else {
            client.get(&format!("http://{}/proxy?seed={seed}&len={len}", c.plain))
        }
        .map_err(|x| e("client", x))?;
        let mut body = Vec::new();
        res.body()
            .read_to_end(&mut body)
            .map_err(|x| e("client body", x))?;
        let got = wire::Response {
            status: res.status(),
            body,
            close: false,
        };
        check(&got, seed, len)?;
        c.counters.request(len);
    }
    Ok(())
}

/// std::net, which the `hook` feature makes park this goroutine.
#[cfg(feature = "hook")]
fn std_net(c: &Ctx, rng: &mut Rng) -> Result<(), String> {
    let s = std::net::TcpStream::connect(c.plain).map_err(|x| e("std connect", x))?;
    s.set_read_timeout(Some(PATIENCE))
        .map_err(|x| e("timeout", x))?;
    let n = rng.usize(1, 50);
    exchanges(c, rng, &mut BufReader::new(s), n)
}
