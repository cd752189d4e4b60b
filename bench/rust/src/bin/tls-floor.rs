//! The floor for `compare.py https` and `https16`: what an HTTPS server costs when it does
//! nothing but the syscalls and the crypto. bench/floor/http-floor.c's loop with rustls in
//! it: one thread, edge-triggered epoll (libc directly), nonblocking accept, TCP_NODELAY,
//! and one rustls `ServerConnection` per connection with the configuration the other
//! HTTPS peers use (ring provider, rustls's safe default versions, so TLS 1.3 with wrk;
//! ALPN http/1.1; the certificate and key from the command line). On each event for a
//! connection: one `read_tls` (one recv into rustls's own, reused, record buffer),
//! `process_new_packets`, a scan of the plaintext in place for "\r\n\r\n" (no parsing, a
//! per-connection matcher as in http-floor.c), the canned response gmp's hello sends (a
//! fixed Date) copied once per request into a reused buffer, that buffer handed to the
//! rustls writer in one call (one record per batch of pipelined answers, as gmp and hyper
//! write theirs), and one `write_tls` (one writev of every record pending).
//!
//! No server can cost less per request with these syscalls and this crypto: no runtime,
//! no parser, no allocation of its own per request (rustls allocates what it allocates:
//! a Vec per decrypted record and per encrypted one). So `floor / gmp` in the same run
//! says how much of a server's cost is left to win, and whether a target such as
//! issue 14's (≥ 1.1 × hyper+rustls under a CPU quota) is reachable at all.
//!
//! A benchmark tool, not a server: requests with bodies are not supported, a session
//! that fails is closed without ceremony, and records the socket cannot take wait for
//! the next event on the connection (EPOLLOUT is registered for that).
//! usage: tls-floor ADDR CERT.pem KEY.pem
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use rustls::ServerConnection;
use std::io::{self, BufRead, IoSlice, Read, Write};
use std::sync::Arc;

const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nServer: gmp\r\nDate: Fri, 27 Nov 2026 09:41:20 GMT\r\n\
content-type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// One connection: its socket, its session, and how much of "\r\n\r\n" the plaintext so
/// far ends with.
struct Conn {
    fd: i32,
    tls: ServerConnection,
    matched: u8,
}

/// The socket as rustls reads and writes it: one recv per `read`, one writev per
/// `write_vectored` (rustls's `write_tls` hands every pending record in one call).
struct Sock {
    fd: i32,
    /// The last read filled the space rustls offered: the socket may hold more.
    filled: bool,
}

impl Read for Sock {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `b` is valid for writes of `b.len()` bytes.
        let n = unsafe { libc::recv(self.fd, b.as_mut_ptr().cast(), b.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        self.filled = n as usize == b.len();
        Ok(n as usize)
    }
}

impl Write for Sock {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(b)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // SAFETY: IoSlice is ABI-compatible with iovec on Unix, and rustls passes at most
        // 64 slices (below IOV_MAX). SIGPIPE is ignored by Rust's runtime, so a peer that
        // left makes this fail with EPIPE.
        let n = unsafe { libc::writev(self.fd, bufs.as_ptr().cast(), bufs.len() as i32) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn config(cert: &str, key: &str) -> rustls::ServerConfig {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| panic!("tls-floor: {cert}: {e}"));
    let key = PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| panic!("tls-floor: {key}: {e}"));
    #[allow(deprecated)] // ring's provider: see gmp_net::tls::ring_provider
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg
}

/// A nonblocking listening socket on `addr` (IPv4 HOST:PORT), backlog 4096 as http-floor.c.
fn listen(addr: &str) -> i32 {
    let sa: std::net::SocketAddrV4 = addr
        .parse()
        .unwrap_or_else(|e| panic!("tls-floor: bad address {addr}: {e}"));
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
            panic!("tls-floor: bind {addr}: {}", io::Error::last_os_error());
        }
        l
    }
}

/// Serves one event on `c`: reads while the socket may hold more, answers every complete
/// request, sends what rustls has. False when the connection is done.
fn serve(c: &mut Conn, out: &mut Vec<u8>) -> bool {
    let mut sock = Sock {
        fd: c.fd,
        filled: false,
    };
    loop {
        sock.filled = false;
        match c.tls.read_tls(&mut sock) {
            Ok(0) => return false,
            Ok(_) => {}
            // Drained (or woken for EPOLLOUT only): send what is pending, wait.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return flush(c, &mut sock),
            Err(_) => return false,
        }
        if c.tls.process_new_packets().is_err() {
            let _ = flush(c, &mut sock); // the alert rustls queued
            return false;
        }
        // The plaintext, in place: rustls holds each decrypted record as one chunk.
        out.clear();
        let mut k = c.matched;
        loop {
            let mut r = c.tls.reader();
            let n = match r.fill_buf() {
                Ok([]) => return false, // close_notify
                Ok(chunk) => {
                    for &ch in chunk {
                        if ch == if k & 1 == 1 { b'\n' } else { b'\r' } {
                            k += 1;
                            if k == 4 {
                                k = 0;
                                out.extend_from_slice(RESP);
                            }
                        } else {
                            k = (ch == b'\r') as u8;
                        }
                    }
                    chunk.len()
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            };
            r.consume(n);
        }
        c.matched = k;
        if !out.is_empty() && c.tls.writer().write_all(out).is_err() {
            return false;
        }
        if !flush(c, &mut sock) {
            return false;
        }
        if !sock.filled {
            return true;
        }
    }
}

/// Sends what rustls has queued, as far as the socket takes it (the rest waits for the
/// next EPOLLOUT). False on a socket error.
fn flush(c: &mut Conn, sock: &mut Sock) -> bool {
    while c.tls.wants_write() {
        match c.tls.write_tls(sock) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
    true
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: tls-floor ADDR CERT.pem KEY.pem");
        std::process::exit(2);
    }
    let cfg = Arc::new(config(&a[2], &a[3]));
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
                        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET)
                            as u32,
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
                        tls: ServerConnection::new(cfg.clone()).expect("tls-floor: session"),
                        matched: 0,
                    }));
                }
                continue;
            }
            let Some(c) = conns.get_mut(fd as usize).and_then(Option::as_mut) else {
                continue;
            };
            if !serve(c, &mut out) {
                conns[fd as usize] = None;
                // SAFETY: the connection's socket, closed once (its entry is gone); closing
                // also takes it out of the epoll set.
                unsafe { libc::close(fd) };
            }
        }
    }
}
