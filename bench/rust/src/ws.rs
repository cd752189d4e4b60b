//! The WebSocket client side of ws-load and conn-hold, written out by hand (RFC 6455)
//! rather than with a WebSocket library, so that the load generator spends as little
//! CPU per message as it can: the handshake is one fixed request, a message is a
//! prebuilt masked frame, and an echo is recognised by its two header bytes.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The client's masking key (RFC 6455 §5.3). A benchmark may use a fixed one: the
/// server unmasks every frame the same way whatever the key is.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Opens the WebSocket: the upgrade request for `path`, then the server's response head
/// up to its blank line, which must say `101`. Any bytes after the head are an error
/// (the server has nothing to send before the client's first message).
pub async fn handshake(s: &mut TcpStream, host: &str, path: &str) -> std::io::Result<()> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 512];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Err(bad("the server closed during the handshake"));
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            if !head.starts_with(b"HTTP/1.1 101") {
                let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
                return Err(bad(&format!(
                    "the handshake got {:?}",
                    String::from_utf8_lossy(line)
                )));
            }
            if end + 4 != head.len() {
                return Err(bad("bytes after the 101 response"));
            }
            return Ok(());
        }
        if head.len() > 8192 {
            return Err(bad("a response head over 8 KiB"));
        }
    }
}

fn bad(why: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string())
}

/// A binary message of `len` bytes (at most 125, so its length fits the first header)
/// as the client sends it: FIN + binary, the mask bit and the length, the key, the
/// masked payload.
pub fn client_frame(len: usize) -> Vec<u8> {
    assert!(len <= 125, "a frame of at most 125 bytes");
    let mut f = vec![0x82, 0x80 | len as u8];
    f.extend_from_slice(&MASK);
    f.extend((0..len).map(|i| b'x' ^ MASK[i % 4]));
    f
}

/// The length of the echo of a `len`-byte message: the server's frames are not masked.
pub fn echo_len(len: usize) -> usize {
    2 + len
}

/// Counts the whole echoes at the front of `buf` (each `0x82, len`, then `len` bytes of
/// `x`) and returns how many there are, or an error on anything else the server sent
/// (a close, a ping, a fragmented, resized or changed message).
pub fn whole_echoes(buf: &[u8], len: usize) -> std::io::Result<usize> {
    let each = echo_len(len);
    let n = buf.len() / each;
    for f in buf.chunks_exact(each).take(n) {
        if f[0] != 0x82 || f[1] != len as u8 || f[2..].iter().any(|&b| b != b'x') {
            return Err(bad(&format!(
                "not the echo of the {len}-byte binary message: header {:02x} {:02x}",
                f[0], f[1]
            )));
        }
    }
    Ok(n)
}
