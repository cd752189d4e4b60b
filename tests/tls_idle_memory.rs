//! What an idle keep-alive TLS connection keeps on the heap: rustls's session (its keys,
//! its state, its buffer of received records at the resting 4 KiB) and nothing of the
//! server's buffer sets, after a small GET and after a 64 KiB request body alike.
//!
//! Counted with a counting global allocator (live bytes), not RSS: the goroutine stacks
//! are not on the heap, and the clients, in this process too, drop their TLS state
//! after their one exchange and keep only the socket, so the growth per connection is
//! the server's (with the buffer sets its threads' pools gained meanwhile, which a
//! goroutine that moves between threads can add a few of). Measured here: 6.7 KiB per
//! connection after a GET, 6.9-7.0 KiB after a 64 KiB body. Before the idle wait read
//! through `TlsStream::readable`, 24 KiB after the body: rustls kept the 32 KiB of
//! capacity the body had grown its buffer to, and some connections, woken early by
//! their socket, waited in a read holding an 11.6 KiB buffer set (6% of them here; 45%
//! with clients that leave Nagle on).

mod common;
mod http_util;
mod tls_util;

use common::Watchdog;
use http_util::{Client, TestServer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// Counts the bytes of live heap allocations.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // Relaxed, here and below: a statistic read after the threads have settled.
        LIVE.fetch_add(l.size(), Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: as above.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            LIVE.fetch_add(new, Relaxed);
            LIVE.fetch_sub(l.size(), Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CONNS: usize = 300;
/// Heap bytes per idle TLS connection that a connection holding a buffer set (11.6 KiB)
/// or a grown rustls buffer (16 KiB and more) does not stay under.
const BOUND: usize = 10 * 1024;
const BODY: usize = 64 << 10;

/// Opens `CONNS` TLS connections that each make one exchange (`post`: a `BODY`-byte
/// body, else a GET) and keep only their sockets; returns them, the heap growth per
/// connection and the growth of the server's buffer sets (for the report) once they
/// are idle.
fn open(p: &tls_util::Pki, server: &TestServer, post: bool) -> (Vec<TcpStream>, usize, isize) {
    let cfg = p.client_config();
    let mut req =
        format!("POST /read?n={BODY} HTTP/1.1\r\nHost: t\r\nContent-Length: {BODY}\r\n\r\n")
            .into_bytes();
    req.resize(req.len() + BODY, b'x');
    let mut conns = Vec::with_capacity(CONNS);
    std::thread::sleep(Duration::from_millis(200));
    let (heap, sets) = (LIVE.load(Relaxed), gmp::http::stats().buffer_sets);
    for _ in 0..CONNS {
        let tcp = TcpStream::connect(server.addr).expect("connect");
        // Without it the body's last record waits for the server's delayed ACK.
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(http_util::READ_LIMIT)).unwrap();
        let tls = gmp::net::tls::connect("localhost", tcp, &cfg).expect("handshake");
        let mut c = Client::new(tls);
        let r = if post { c.roundtrip(&req) } else { c.get("/") };
        assert_eq!(r.status, 200);
        // The client's TLS state goes; the socket stays, and the server sees an idle
        // keep-alive connection.
        conns.push(c.r.into_inner().into_inner());
    }
    // Let every connection goroutine reach its idle wait.
    std::thread::sleep(Duration::from_millis(300));
    let per = LIVE.load(Relaxed).saturating_sub(heap) / CONNS;
    let sets = gmp::http::stats().buffer_sets as isize - sets as isize;
    (conns, per, sets)
}

#[test]
fn idle_tls_connections_hold_no_grown_buffers() {
    let _w = Watchdog::new("idle TLS memory", Duration::from_secs(120));
    let limit = http_util::raise_nofile(4096);
    assert!(
        limit >= 4 * CONNS as u64 + 100,
        "RLIMIT_NOFILE is {limit}: too low for {} connections at both ends",
        4 * CONNS
    );
    let p = tls_util::pki("idle-memory", &["localhost"]);
    let server = TestServer::start_handler(|s| s.tls(p.server_config()), http_util::demo);
    // A few exchanges of each kind first, so the runtime's threads and pools exist.
    let (_warm, _, _) = open(&p, &server, true);
    // All sets stay open together: nothing of one is reused by the next.
    let (_gets, after_get, sets_get) = open(&p, &server, false);
    let (_posts, after_body, sets_body) = open(&p, &server, true);
    println!(
        "heap per idle TLS connection: {after_get} B after a GET, {after_body} B after a \
         {BODY}-byte body; buffer sets gained: {sets_get}, {sets_body}"
    );
    for (what, per) in [("a GET", after_get), ("a body", after_body)] {
        assert!(
            per < BOUND,
            "an idle TLS connection after {what} keeps {per} B of heap (bound {BOUND})"
        );
    }
    server.stop();
}
