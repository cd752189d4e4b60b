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
//! the next event on the connection (EPOLLOUT is registered for that). The listening
//! socket, the epoll set and wait and the accept are the ones the Rust floors share
//! (`peers::floor`).
//! usage: tls-floor ADDR CERT.pem KEY.pem
use peers::floor;
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
    let l = floor::listen(&a[1], "tls-floor");
    let mut conns: Vec<Option<Box<Conn>>> = Vec::new();
    let mut out = Vec::with_capacity(64 << 10);
    // EPOLLOUT too: records the socket could not take wait for it.
    let interest = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP;
    let ep = floor::epoll(l);
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        for e in floor::wait(ep, &mut evs) {
            let fd = e.u64 as i32;
            if fd == l {
                while let Some(fd) = floor::accept(l, ep, interest) {
                    floor::put(
                        &mut conns,
                        fd,
                        Conn {
                            fd,
                            tls: ServerConnection::new(cfg.clone()).expect("tls-floor: session"),
                            matched: 0,
                        },
                    );
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
