//! The floor for `compare.py http` and `http16` of a server that parses what it serves:
//! bench/floor/http-floor.c's loop (one thread, edge-triggered epoll through libc, one
//! recv per event until a short read, the answers to one read in one send, TCP_NODELAY,
//! the same 128-byte response with a fixed Date) with each request head parsed by
//! httparse, the parser hyper and may_minihttp use, instead of counted by its "\r\n\r\n".
//! Per request it does what any HTTP/1.1 server must before it answers: parse and check
//! the request line and every header field, and look for the fields that frame a body.
//!
//! http-floor.c says what the syscalls cost; this says what the syscalls and the cheapest
//! trusted parse cost. No server that parses its requests can cost less per request with
//! these syscalls: no runtime, no allocation per request, no per-request state but the
//! parser's. So `parse-floor / peer` in one run bounds how far any parsing server can
//! lead that peer.
//!
//! A benchmark tool, not a server: a request with a body (Content-Length or
//! Transfer-Encoding), a head that httparse rejects, or one longer than the 16 KB read
//! buffer closes the connection; a send the socket cannot take whole is not
//! retried (wrk's small requests never fill it).
//! usage: http-parse-floor ADDR
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

/// A nonblocking listening socket on `addr` (IPv4 HOST:PORT), backlog 4096 as
/// http-floor.c.
fn listen(addr: &str) -> i32 {
    let sa: std::net::SocketAddrV4 = addr
        .parse()
        .unwrap_or_else(|e| panic!("http-parse-floor: bad address {addr}: {e}"));
    // SAFETY: plain socket calls on a socket made here, with a sockaddr_in built in full.
    unsafe {
        let l = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
        let one: libc::c_int = 1;
        let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(
            l,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const i32).cast(),
            size,
        );
        let mut s: libc::sockaddr_in = std::mem::zeroed();
        s.sin_family = libc::AF_INET as libc::sa_family_t;
        s.sin_port = sa.port().to_be();
        s.sin_addr.s_addr = u32::from_ne_bytes(sa.ip().octets());
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::bind(l, (&s as *const libc::sockaddr_in).cast(), len) != 0
            || libc::listen(l, 4096) != 0
        {
            panic!(
                "http-parse-floor: bind {addr}: {}",
                io::Error::last_os_error()
            );
        }
        l
    }
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
    let l = listen(&a[1]);
    // SAFETY: epoll calls on descriptors made here; `evs` is valid for its length.
    let ep = unsafe { libc::epoll_create1(0) };
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: l as u64,
    };
    // SAFETY: as above.
    unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, l, &mut ev) };
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut conns: Vec<Option<Box<Conn>>> = Vec::new();
    let mut buf = Box::new([0u8; BUF]);
    let mut out = Vec::with_capacity(64 << 10);
    loop {
        // SAFETY: as above.
        let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, -1) };
        for e in &evs[..n.max(0) as usize] {
            let fd = e.u64 as i32;
            if fd == l {
                loop {
                    // SAFETY: accept on the listening socket, addresses not wanted.
                    let s = unsafe {
                        libc::accept4(
                            l,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                            libc::SOCK_NONBLOCK,
                        )
                    };
                    if s < 0 {
                        break;
                    }
                    let one: libc::c_int = 1;
                    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                    let mut e = libc::epoll_event {
                        events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                        u64: s as u64,
                    };
                    // SAFETY: options and registration of the socket just accepted.
                    unsafe {
                        libc::setsockopt(
                            s,
                            libc::IPPROTO_TCP,
                            libc::TCP_NODELAY,
                            (&one as *const i32).cast(),
                            size,
                        );
                        libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s, &mut e);
                    }
                    let i = s as usize;
                    if conns.len() <= i {
                        conns.resize_with(i + 1, || None);
                    }
                    conns[i] = Some(Box::new(Conn {
                        fd: s,
                        rest: Vec::new(),
                    }));
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
