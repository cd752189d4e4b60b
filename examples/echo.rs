//! TCP echo server: one goroutine per connection, every byte echoed back.
//!
//! `cargo run --release --example echo -- [ADDR]` (default 127.0.0.1:7000).
//! Logs go to stderr; `RUST_LOG=debug` (any tracing env filter) shows more.

use gmp::net::{Shutdown, TcpListener, TcpStream};
use std::io::{self, Read, Write};
use std::time::Duration;

mod common;

fn main() {
    let addr = common::setup("127.0.0.1:7000");
    gmp::run(move || {
        let listener = match TcpListener::bind(addr.as_str()) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("echo: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "echo: listening on {}",
            listener.local_addr().expect("bound socket has an address")
        );
        let mut backoff = Duration::from_millis(5);
        loop {
            match listener.accept() {
                Ok((conn, peer)) => {
                    backoff = Duration::from_millis(5);
                    gmp::spawn(move || {
                        if let Err(e) = echo(conn) {
                            tracing::debug!(%peer, "connection ended: {e}");
                        }
                    });
                }
                Err(e) if is_out_of_fds(&e) => {
                    // Out of descriptors: wait for connections to close instead of
                    // spinning on accept (Go's net/http does the same).
                    tracing::warn!("accept: {e}; retrying in {backoff:?}");
                    gmp::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => tracing::warn!("accept: {e}"),
            }
        }
    });
}

fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM)
    )
}

/// Echoes until the peer closes its side, then closes ours.
///
/// Reads start in a 1 KiB buffer on the goroutine's stack, which shares the stack's first
/// page with the goroutine itself, so an idle connection costs about one page. A
/// connection that fills it (bulk traffic) moves to a 64 KiB heap buffer.
fn echo(mut conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut small = [0u8; 1024];
    let mut big: Vec<u8> = Vec::new();
    loop {
        let buf: &mut [u8] = if big.is_empty() { &mut small } else { &mut big };
        let n = conn.read(buf)?;
        if n == 0 {
            // Half-close from the peer: everything was echoed; close our side too.
            let _ = conn.shutdown(Shutdown::Write);
            return Ok(());
        }
        let full = n == buf.len();
        conn.write_all(&buf[..n])?;
        if full && big.is_empty() {
            big = vec![0u8; 64 << 10];
        }
    }
}
