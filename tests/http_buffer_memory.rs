//! What the server's connection buffers keep after traffic that makes them grow: large
//! heads, long pipelined and streamed output, and large bodies whose clients reset
//! halfway. Read through `gmp::http::stats()` (bytes of every live buffer set), not RSS:
//! once the connections are idle or gone, every set is back at its initial size and the
//! per-thread pools hold no more than their cap.

mod common;
mod http_util;

use common::Watchdog;
use http_util::{Client, TestServer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sets one thread's pool keeps (`server/pool.rs`).
const POOL_MAX: usize = 64;

/// Waits until every live set is at `per_set` bytes, or fails. Called once the clients
/// have their last responses: a connection gives its set back right after writing its
/// response, and a set lent out is counted at the size it had when lent, so the figure
/// is checked after a quiet moment and must hold twice in a row.
fn settled(per_set: usize) -> gmp::http::Stats {
    std::thread::sleep(Duration::from_millis(200));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut held = 0;
    loop {
        let s = gmp::http::stats();
        held = if s.buffer_bytes == s.buffer_sets * per_set {
            held + 1
        } else {
            0
        };
        if held == 2 {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "buffers did not come back to {per_set} bytes a set: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Posts `size` bytes to `/echo`, reads 64 KiB of the answer, then resets the
/// connection (SO_LINGER 0).
fn aborted_echo(addr: std::net::SocketAddr, size: usize) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {size}\r\n\r\n"
    )
    .unwrap();
    let body = vec![b'x'; 1 << 20];
    for _ in 0..size >> 20 {
        s.write_all(&body).unwrap();
    }
    let mut got = 0;
    let mut buf = [0u8; 16 << 10];
    while got < 64 << 10 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a `linger` of the size given.
    let r = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

#[test]
fn buffers_shrink_back_after_traffic_that_grew_them() {
    let _w = Watchdog::new("buffer memory", Duration::from_secs(120));
    let s = TestServer::demo();
    // One plain request: the size of a set at rest.
    s.client().get("/");
    let base = settled_any();
    let per_set = base.buffer_bytes / base.buffer_sets;
    assert!(per_set > 8 << 10 && per_set < 16 << 10, "{base:?}");

    // Large heads grow the read buffer.
    let mut c = s.client();
    for _ in 0..3 {
        let r = c.roundtrip(format!(
            "GET /big-head HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
            "b".repeat(40 << 10)
        ));
        assert_eq!(r.status, 200);
    }
    // Many pipelined requests in one write grow the write buffer to its flush size.
    let mut pipelined = Vec::new();
    for _ in 0..2000 {
        pipelined.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    c.send(&pipelined);
    for _ in 0..2000 {
        assert_eq!(c.resp().status, 200);
    }
    // A response streamed in small writes.
    let r = c.get("/big-stream?n=1000000&write=100");
    assert_eq!(r.body.len(), 1_000_000);
    // Large bodies whose clients reset after 64 KiB of the answer, 10 at once, twice.
    for _ in 0..2 {
        let ts: Vec<_> = (0..10)
            .map(|_| {
                let addr = s.addr;
                std::thread::spawn(move || aborted_echo(addr, 4 << 20))
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
    }
    // A head cut off by a reset halfway.
    let mut cut = Client::connect(s.addr);
    cut.send(format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}",
        "c".repeat(20 << 10)
    ));
    drop(cut);
    drop(c);

    let after = settled(per_set);
    println!("at rest: {base:?}; after the traffic: {after:?}");

    // 300 requests in flight at once each hold a set; afterwards the pools keep at most
    // their cap per thread (the server's runtime runs on a few threads).
    let clients: Vec<_> = (0..300)
        .map(|_| {
            let mut c = s.client();
            c.send("GET /sleep?ms=500 HTTP/1.1\r\nHost: a\r\n\r\n");
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let busy = gmp::http::stats();
    assert!(busy.buffer_sets >= 300, "{busy:?}");
    for mut c in clients {
        assert_eq!(c.resp().text(), "slept");
    }
    let after = settled(per_set);
    let threads = 4; // procs (2 here, the machine's cores) and a few more
    assert!(
        after.buffer_sets <= POOL_MAX * threads.max(num_cpus()),
        "{after:?}"
    );
    println!("after 300 at once: {after:?}");
    s.stop();
}

/// Waits for the first sets to be given back (any size).
fn settled_any() -> gmp::http::Stats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = gmp::http::stats();
        if s.buffer_sets > 0 {
            return s;
        }
        assert!(Instant::now() < deadline, "no buffer set was ever made");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
