//! The parsers, reachable from the fuzz targets (`fuzz/`), the test that replays their
//! corpus (`tests/fuzz_corpus.rs`) and the head-parsing benchmark
//! (`benches/head_parse.rs`). **Not part of the API**: hidden from the docs, free to
//! change with any release, and not for use outside this repository.
//!
//! It owns nothing: each function calls the crate-private parser it is named after and
//! copies the result into a plain public type. No check, default or rule lives here, so
//! what the fuzzer exercises is exactly what the server and the client run.

use crate::h1::{chunked, framing, request_head, response_head};
use crate::Version;
use std::ops::Range;
use std::panic::Location;
use std::path::PathBuf;

/// A refusal: the status the server (or, for a response, the client) answers with and
/// why.
pub type Refusal = (u16, &'static str);

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Content-Length` bytes (0 for a request without framing fields).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (responses only).
    Close,
}

/// A request head the server accepted: ranges index the buffer given to
/// [`parse_request_head`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The method's bytes.
    pub method: Range<usize>,
    /// The request target's bytes.
    pub target: Range<usize>,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// Bytes of the head through its empty line.
    pub len: usize,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// The connection may carry another request.
    pub keep_alive: bool,
    /// `Expect: 100-continue` from an HTTP/1.1 client.
    pub expect_continue: bool,
    /// Each field's name and value.
    pub fields: Vec<(Range<usize>, Range<usize>)>,
}

fn range((off, len): (u32, u32)) -> Range<usize> {
    off as usize..off as usize + len as usize
}

fn body_framing(f: framing::Framing) -> BodyFraming {
    match f {
        framing::Framing::Length(n) => BodyFraming::Length(n),
        framing::Framing::Chunked => BodyFraming::Chunked,
    }
}

/// The server's head parser (`h1::request_head::parse`) over `buf` with these limits:
/// `Ok(None)` means incomplete (the server reads more).
pub fn parse_request_head(
    buf: &[u8],
    max_header_bytes: usize,
    max_body_bytes: u64,
) -> Result<Option<RequestHead>, Refusal> {
    let mut scratch = vec![httparse::EMPTY_HEADER; crate::h1::fields::MAX_FIELDS];
    let mut idx = Vec::new();
    let limits = request_head::Limits {
        max_header_bytes,
        max_body_bytes,
    };
    let mut h = request_head::Head::EMPTY;
    match request_head::parse(buf, 0, &mut scratch, &mut idx, limits, &mut h) {
        Ok(true) => Ok(Some(RequestHead {
            method: range(h.method),
            target: range(h.target),
            version: h.version,
            len: h.len,
            framing: body_framing(h.framing),
            keep_alive: h.keep_alive,
            expect_continue: h.expect_continue,
            fields: idx
                .iter()
                .map(|f| (range(f.name), range(f.value)))
                .collect(),
        })),
        Ok(false) => Ok(None),
        Err(r) => Err((r.status, r.why)),
    }
}

/// The server's head parser run as the connection loop runs it (one header index and
/// slot array for every head) over `buf`, pipelined heads without bodies: parses them
/// all, `rounds` times, and returns the sum of the heads' lengths (`rounds * buf.len()`
/// when every head was complete and accepted). For `benches/head_parse.rs`.
pub fn parse_pipelined_heads(buf: &[u8], rounds: usize) -> usize {
    let mut scratch = vec![httparse::EMPTY_HEADER; crate::h1::fields::MAX_FIELDS];
    let mut idx = Vec::with_capacity(16);
    let limits = request_head::Limits {
        max_header_bytes: 64 << 10,
        max_body_bytes: 0,
    };
    let mut head = request_head::Head::EMPTY;
    let mut sum = 0;
    for _ in 0..rounds {
        let mut start = 0;
        while start < buf.len() {
            let rest = std::hint::black_box(&buf[start..]);
            match request_head::parse(rest, start, &mut scratch, &mut idx, limits, &mut head) {
                Ok(true) => start += head.len,
                _ => break,
            }
        }
        sum += start;
    }
    sum
}

/// The longest request target the server accepts.
pub const MAX_TARGET: usize = request_head::MAX_TARGET;

/// The most fields one section may hold.
pub const MAX_FIELDS: usize = crate::h1::fields::MAX_FIELDS;

/// The chunked decoder (`h1::chunked::Decoder`) the server's request bodies and the
/// client's response bodies go through.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder(chunked::Decoder);

impl ChunkedDecoder {
    /// A decoder that accepts a trailer section of up to `max_trailer` bytes.
    pub fn new(max_trailer: usize) -> ChunkedDecoder {
        ChunkedDecoder(chunked::Decoder::new(max_trailer))
    }

    /// Decodes from `input` into `out`: (input bytes consumed, data bytes written).
    pub fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), &'static str> {
        self.0.decode(input, out)
    }

    /// The body (trailers included) has ended.
    pub fn is_done(&self) -> bool {
        self.0.is_done()
    }

    /// In chunk data, with [`remaining`](Self::remaining) bytes to go.
    pub fn in_data(&self) -> bool {
        self.0.in_data()
    }

    /// Data bytes left in the current chunk.
    pub fn remaining(&self) -> u64 {
        self.0.remaining
    }

    /// Records `n` data bytes the caller copied itself (at most `remaining`).
    pub fn consumed_data(&mut self, n: usize) {
        self.0.consumed_data(n)
    }
}

/// A response head the client accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The fields, in order.
    pub fields: Vec<(String, Vec<u8>)>,
    /// Bytes of the head through its empty line.
    pub len: usize,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// The connection may carry another request.
    pub keep_alive: bool,
}

/// The client's response head parser (`h1::response_head::parse`), for a request whose
/// method was HEAD or not. `Ok(None)`: incomplete.
pub fn parse_response_head(
    buf: &[u8],
    head_request: bool,
) -> Result<Option<ResponseHead>, Refusal> {
    let mut slots = vec![httparse::EMPTY_HEADER; crate::h1::fields::MAX_FIELDS];
    match response_head::parse(buf, head_request, &mut slots) {
        Ok(Some(h)) => Ok(Some(ResponseHead {
            version: h.version,
            status: h.status,
            reason: h.reason,
            fields: h.headers,
            len: h.len,
            framing: match h.body {
                response_head::BodyKind::Length(n) => BodyFraming::Length(n),
                response_head::BodyKind::Chunked => BodyFraming::Chunked,
                response_head::BodyKind::Close => BodyFraming::Close,
            },
            keep_alive: h.keep_alive,
        })),
        Ok(None) => Ok(None),
        Err(r) => Err((r.status, r.why)),
    }
}

/// A router pattern parsed (`router::pattern::Pattern::parse`) and written back in its
/// canonical form (its `Display`), or why it was refused.
#[track_caller]
pub fn parse_pattern(text: &str) -> Result<String, String> {
    crate::router::Pattern::parse(text, Location::caller()).map(|p| p.to_string())
}

/// Whether registering both patterns in one router is refused as a conflict (both must
/// parse).
#[track_caller]
pub fn patterns_conflict(a: &str, b: &str) -> Result<bool, String> {
    let a = crate::router::Pattern::parse(a, Location::caller())?;
    let b = crate::router::Pattern::parse(b, Location::caller())?;
    Ok(a.conflicts_with(&b))
}

/// The methods a router's 405 would list for `path` (`router::tree::Tree::allowed`, hosts
/// ignored).
pub fn allowed_methods(router: &crate::Router, path: &str) -> Vec<String> {
    router.allowed_methods(path)
}

/// The WebSocket handshake check (`ws::check_head`) over a request's method, version
/// and fields: `Ok` if gmp answers it with 101.
#[cfg(feature = "websocket")]
pub fn websocket_handshake<'a>(
    method: &str,
    version: Version,
    fields: &[(&'a str, &'a [u8])],
) -> Result<(), Refusal> {
    crate::ws::check_head(method, version, fields)
}

/// Percent-decoding (`url::decode`); `plus` decodes `+` as a space. `None`: a malformed
/// escape.
pub fn percent_decode(s: &[u8], plus: bool) -> Option<Vec<u8>> {
    crate::url::decode(s, plus).map(|c| c.into_owned())
}

/// The router's segment decoding (`url::path_unescape`).
pub fn path_unescape(s: &[u8]) -> Vec<u8> {
    crate::url::path_unescape(s).into_owned()
}

/// Go's `cleanPath` (`url::clean_path`).
pub fn clean_path(p: &str) -> String {
    crate::url::clean_path(p).into_owned()
}

/// A query's decoded pairs (`url::query_pairs`).
pub fn query_pairs(q: &str) -> Vec<(String, String)> {
    crate::url::query_pairs(q)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The file server's path rule (`fs::path::local`): the relative path a URL path names
/// under the root and whether it ended in `/`, or why it is refused.
pub fn fs_local(p: &str) -> Result<(PathBuf, bool), &'static str> {
    crate::fs::local(p).map(|l| (l.rel, l.slash))
}
