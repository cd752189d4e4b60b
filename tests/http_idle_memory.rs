//! An idle keep-alive connection holds no buffer: its buffers go back to the pool
//! between requests, and a connection that has not sent anything yet has not taken any.
//! Measured as the server process's RSS growth per idle connection (the clients are
//! plain sockets, which add kernel memory but no RSS). A buffer set is over 12 KiB
//! (4 KiB read, 4 KiB write, 3.2 KiB of header slots), so holding one per connection
//! would show as well over the bound; a goroutine and its socket cost about 4 KiB.

mod common;
mod http_util;

use common::Watchdog;
use http_util::TestServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const CONNS: usize = 2000;
/// Bytes of RSS per idle connection that no buffer-holding server stays under.
const BOUND: usize = 9 * 1024;

fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb: usize = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

/// Opens `CONNS` more connections, runs `setup` on each, and returns them with the RSS
/// growth per connection once their goroutines are idle.
fn open(server: &TestServer, setup: impl Fn(&mut TcpStream)) -> (Vec<TcpStream>, usize) {
    let before = rss();
    let conns: Vec<TcpStream> = (0..CONNS)
        .map(|_| {
            let mut c = TcpStream::connect(server.addr).expect("connect");
            setup(&mut c);
            c
        })
        .collect();
    // Let every connection goroutine reach its idle wait.
    std::thread::sleep(Duration::from_millis(300));
    let per = rss().saturating_sub(before) / CONNS;
    (conns, per)
}

#[test]
fn idle_connections_hold_no_buffers() {
    let _w = Watchdog::new("idle memory", Duration::from_secs(60));
    let limit = http_util::raise_nofile(16384);
    assert!(
        limit >= 4 * CONNS as u64 + 100,
        "RLIMIT_NOFILE is {limit}: too low for {} connections at both ends",
        2 * CONNS
    );
    let server = TestServer::demo();
    // One request first, so the runtime's threads and pools exist before measuring.
    let mut c = TcpStream::connect(server.addr).expect("connect");
    get(&mut c);
    // Both sets stay open together: nothing of the first is reused by the second.
    let (_unused, never_used) = open(&server, |_| {});
    let (_used, after_request) = open(&server, get);
    println!("RSS per idle connection: {never_used} B unused, {after_request} B after one request");
    assert!(
        never_used < BOUND,
        "a connection that sent nothing costs {never_used} B of RSS (bound {BOUND})"
    );
    assert!(
        after_request < BOUND,
        "an idle keep-alive connection costs {after_request} B of RSS (bound {BOUND})"
    );
    server.stop();
}

/// One keep-alive GET, read to the end of its body (Content-Length framed).
fn get(c: &mut TcpStream) {
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a Content-Length");
            if got.len() >= end + 4 + len {
                return;
            }
        }
        let n = c.read(&mut buf).expect("read");
        assert!(n > 0, "server closed a keep-alive connection");
        got.extend_from_slice(&buf[..n]);
    }
}
