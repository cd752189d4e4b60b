//! The floor for `compare.py http` and `http16` of a server that parses what it serves:
//! bench/floor/http-floor.c's loop (one thread, edge-triggered epoll through libc, one
//! recv per event until a short read, the answers to one read in one send, TCP_NODELAY,
//! the same 128-byte response with a fixed Date) with each request head parsed by
//! httparse, the parser hyper and may_minihttp use, instead of counted by its "\r\n\r\n".
//! Per request it does what any HTTP/1.1 server must before it answers: parse and check
//! the request line and every header field, and look for the fields that frame a body.
//!
//! http-floor.c says what the syscalls cost; this says what the syscalls and httparse's
//! parse cost with nothing else: no runtime, no allocation per request, no per-request
//! state but the parser's. So `pfloor / peer` in one run says how far a server that
//! parsed as cheaply as httparse, and did nothing more, would lead that peer.
//!
//! A benchmark tool, not a server: a request with a body (Content-Length or
//! Transfer-Encoding), a head that httparse rejects, or one longer than the 16 KB read
//! buffer closes the connection; a send the socket cannot take whole is not retried
//! (wrk's small requests never fill it). The listening socket, the epoll set and wait
//! and the accept are the ones the Rust floors share (`peers::floor`).
//! usage: http-parse-floor ADDR
use peers::floor;
use std::io;

const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nServer: gmp\r\nDate: Fri, 27 Nov 2026 09:41:20 GMT\r\n\
content-type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// The read buffer, one for every connection (as http-floor.c's): a read lands in
/// memory the last read touched.
const BUF: usize = 16 << 10;

/// One connection: its socket and the bytes of a request head not yet complete (empty
/// but for a head split across reads).
struct Conn {
    fd: i32,
    rest: Vec<u8>,
}

/// Answers every complete request head at the front of `buf` into `out`. Returns how
/// many bytes they took, or `None` if a head is malformed or announces a body.
fn answer(buf: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut at = 0;
    while at < buf.len() {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut fields);
        match req.parse(&buf[at..]) {
            Ok(httparse::Status::Complete(n)) => {
                if req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("content-length")
                        || h.name.eq_ignore_ascii_case("transfer-encoding")
                }) {
                    return None;
                }
                out.extend_from_slice(RESP);
                at += n;
            }
            Ok(httparse::Status::Partial) => break,
            Err(_) => return None,
        }
    }
    Some(at)
}

/// Serves one event on `c`: reads (after the head left incomplete last time, if any)
/// until a short read, answering each read's complete requests in one send. False when
/// the connection is done.
fn serve(c: &mut Conn, buf: &mut [u8; BUF], out: &mut Vec<u8>) -> bool {
    loop {
        let kept = c.rest.len();
        buf[..kept].copy_from_slice(&c.rest);
        let room = BUF - kept;
        if room == 0 {
            return false; // a head longer than the buffer
        }
        // SAFETY: the buffer past the kept bytes, valid for `room` bytes.
        let r = unsafe { libc::recv(c.fd, buf[kept..].as_mut_ptr().cast(), room, 0) };
        if r <= 0 {
            return r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock;
        }
        let end = kept + r as usize;
        out.clear();
        let Some(done) = answer(&buf[..end], out) else {
            return false;
        };
        c.rest.clear();
        c.rest.extend_from_slice(&buf[done..end]);
        if !out.is_empty() {
            // SAFETY: `out` is valid for its length. MSG_NOSIGNAL: a peer that left makes
            // this fail with EPIPE, and the next recv says so.
            unsafe { libc::send(c.fd, out.as_ptr().cast(), out.len(), libc::MSG_NOSIGNAL) };
        }
        if (r as usize) < room {
            return true;
        }
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 2 {
        eprintln!("usage: http-parse-floor ADDR");
        std::process::exit(2);
    }
    let l = floor::listen(&a[1], "http-parse-floor");
    let mut conns: Vec<Option<Box<Conn>>> = Vec::new();
    let mut buf = Box::new([0u8; BUF]);
    let mut out = Vec::with_capacity(64 << 10);
    let ep = floor::epoll(l);
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        for e in floor::wait(ep, &mut evs) {
            let fd = e.u64 as i32;
            if fd == l {
                while let Some(fd) = floor::accept(l, ep, libc::EPOLLIN | libc::EPOLLRDHUP) {
                    floor::put(
                        &mut conns,
                        fd,
                        Conn {
                            fd,
                            rest: Vec::new(),
                        },
                    );
                }
                continue;
            }
            let Some(c) = conns.get_mut(fd as usize).and_then(Option::as_mut) else {
                continue;
            };
            if !serve(c, &mut buf, &mut out) {
                conns[fd as usize] = None;
                // SAFETY: the connection's socket, closed once (its entry is gone); closing
                // also takes it out of the epoll set.
                unsafe { libc::close(fd) };
            }
        }
    }
}
