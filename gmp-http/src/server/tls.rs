//! The server's TLS (cargo feature `tls`): the handshake of an accepted connection.
//!
//! The handshake counts as receiving a request head: the connection is in the HEAD
//! state, so the reaper closes it when the header-read timeout runs out, and a client
//! that stalls mid-handshake costs a parked goroutine for that long and nothing more.
//! Before rustls sees a byte, the first one is looked at: a TLS handshake record starts
//! with 0x16; an ASCII letter is a plaintext HTTP request, answered with Go's 400
//! ("Client sent an HTTP request to an HTTPS server."); anything else is closed at once.

use super::registry::{Entry, Shared, BUSY, HEAD};
use crate::transport::{Tls, Transport};
use gmp_net::tls::rustls::ServerConfig;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

/// `config` with ALPN set to `http/1.1` only: the server speaks HTTP/1.1, and a client
/// offered `h2` must not be told it got it.
pub(crate) fn http11(config: Arc<ServerConfig>) -> Arc<ServerConfig> {
    if config.alpn_protocols == [b"http/1.1".to_vec()] {
        return config;
    }
    let mut c = (*config).clone();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

/// The handshake on `entry`'s socket; `None` if it failed (the connection is done).
pub(crate) fn handshake<'s>(
    shared: &Shared,
    entry: &'s Entry,
    remote: SocketAddr,
    config: &Arc<ServerConfig>,
) -> Option<Tls<'s>> {
    if !entry.enter(BUSY, HEAD, shared.epoch()) {
        return None;
    }
    let tcp = &entry.stream;
    let mut first = [0u8; 1];
    match tcp.peek(&mut first) {
        Ok(1) => {}
        _ => return None, // gone, or closed by the reaper
    }
    if first[0] != 0x16 {
        if first[0].is_ascii_alphabetic() {
            tracing::debug!(%remote, "gmp-http: plain HTTP on the TLS port");
            let _ = (&mut &*tcp).write_all(
                b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                  Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
            );
            Transport::tcp(tcp, None).linger_close(crate::transport::LINGER, 64 << 10);
        } else {
            tracing::debug!(%remote, "gmp-http: not a TLS handshake: closing");
        }
        return None;
    }
    match Tls::accept(tcp, config) {
        Ok(tls) => entry.to(HEAD, BUSY).then_some(tls),
        Err(e) => {
            tracing::debug!(%remote, "gmp-http: TLS handshake failed: {e}");
            None
        }
    }
}
