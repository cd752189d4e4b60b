//! What the soak's clients and server agree on: bodies derived from a seed (so a client
//! can check every byte it gets back without keeping a copy), a small RNG, a strict
//! HTTP/1.1 response reader, and the run's counters.
//!
//! Invariant: a body is a pure function of `(seed, len)`; the server's `/gen` and the
//! clients' checks call the same [`fill`], so any byte that differs is a real fault.

use std::io::{self, BufRead};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// A xorshift64* generator: each client goroutine has its own, seeded from the run's
/// seed and its index, so a run is repeatable given its `--seed`.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    pub fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }
}

/// The body of `len` bytes that `seed` names.
pub fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    fill(seed, &mut v);
    v
}

/// Fills `out` with the first `out.len()` bytes of `seed`'s body.
pub fn fill(seed: u64, out: &mut [u8]) {
    let mut r = Rng::new(seed);
    for chunk in out.chunks_mut(8) {
        let w = r.next_u64().to_le_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
}

/// The run's counters, shared by every client and the sampler.
#[derive(Default)]
pub struct Counters {
    /// Requests (and WebSocket messages) whose answer was checked.
    pub requests: AtomicU64,
    /// Body bytes compared with what they should be.
    pub bytes_checked: AtomicU64,
    /// Faults injected: resets, half-closes, slow clients, panics, unread bodies.
    pub faults: AtomicU64,
    /// Answers that were wrong or missing, and hangs: any is a failed run.
    pub failures: AtomicU64,
    /// The first few failures, for the report.
    pub failure_notes: Mutex<Vec<String>>,
    /// Set when the load should stop; every client checks it between requests.
    pub stop: AtomicBool,
}

// Relaxed throughout: the counters are statistics, read after the clients are joined
// (the join is the synchronisation), and `stop` only needs to be seen eventually.
impl Counters {
    pub fn request(&self, bytes: usize) {
        self.requests.fetch_add(1, Relaxed);
        self.bytes_checked.fetch_add(bytes as u64, Relaxed);
    }
    pub fn fault(&self) {
        self.faults.fetch_add(1, Relaxed);
    }
    pub fn fail(&self, what: String) {
        self.failures.fetch_add(1, Relaxed);
        let mut notes = self.failure_notes.lock().unwrap_or_else(|e| e.into_inner());
        if notes.len() < 20 {
            notes.push(what);
        }
    }
    pub fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }
}

/// A response as the soak's clients need it.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The server said `Connection: close`.
    pub close: bool,
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn line<R: BufRead>(r: &mut R) -> io::Result<String> {
    let mut l = String::new();
    if r.read_line(&mut l)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if !l.ends_with("\r\n") {
        return Err(bad(format!("line not ended by CRLF: {l:?}")));
    }
    l.truncate(l.len() - 2);
    Ok(l)
}

/// Reads one response: its head, then a body framed by `Content-Length`, chunked, or by
/// the close.
pub fn read_response<R: BufRead>(r: &mut R) -> io::Result<Response> {
    let status_line = line(r)?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        let h = line(r)?;
        if h.is_empty() {
            break;
        }
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header {h:?}")))?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(value.parse::<usize>().map_err(|e| bad(e.to_string()))?)
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size = line(r)?;
            let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| bad(format!("bad chunk size: {e}")))?;
            if size == 0 {
                while !line(r)?.is_empty() {}
                break;
            }
            let at = body.len();
            body.resize(at + size, 0);
            r.read_exact(&mut body[at..])?;
            if !line(r)?.is_empty() {
                return Err(bad("chunk not followed by CRLF"));
            }
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
        close = true;
    }
    Ok(Response {
        status,
        body,
        close,
    })
}

/// Checks `got` against `seed`'s body of `len` bytes; a note on what differs if not.
pub fn check(got: &Response, seed: u64, len: usize) -> Result<(), String> {
    if got.status != 200 {
        return Err(format!("status {} (seed {seed:#x})", got.status));
    }
    if got.body.len() != len {
        return Err(format!(
            "{} bytes, not {len} (seed {seed:#x})",
            got.body.len()
        ));
    }
    let want = body(seed, len);
    match got.body.iter().zip(&want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!("byte {i} of {len} differs (seed {seed:#x})")),
    }
}

/// A `POST /echo` request head for a body of `len` bytes.
pub fn echo_head(len: usize) -> String {
    format!("POST /echo HTTP/1.1\r\nhost: soak\r\ncontent-length: {len}\r\n\r\n")
}

/// A `GET` of `path?seed=..&len=..`, whose answer is `seed`'s body.
pub fn gen_request(path: &str, seed: u64, len: usize, extra: &str) -> String {
    format!("GET {path}?seed={seed}&len={len}{extra} HTTP/1.1\r\nhost: soak\r\n\r\n")
}
