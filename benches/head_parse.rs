//! Request head parsing alone: the server's parser (through `gmp_http::__fuzz`) over
//! the 16 pipelined heads of one `wrk -s bench/pipeline.lua` write (`http16`'s shape),
//! and over a browser-sized head, with the connection loop's reused index.
//!
//! Prints `name value unit` lines: nanoseconds per head, the median of the rounds.
//! `BENCH_ROUNDS` sets the rounds (default 15).

use gmp_http::__fuzz::parse_pipelined_heads;
use std::time::Instant;

const WRK: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:41234\r\nAccept: text/plain\r\n\r\n";
const BROWSER: &[u8] = b"GET /articles/2026/12/gmp?utm_source=feed HTTP/1.1\r\n\
Host: example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Connection: keep-alive\r\n\
Cookie: session=4f9c2a7e8b1d; theme=dark\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Priority: u=0, i\r\n\r\n";

/// Nanoseconds per head over `heads` copies of `one`, the median of `rounds`.
fn ns_per_head(one: &[u8], heads: usize, rounds: usize) -> f64 {
    let buf = one.repeat(heads);
    let reps = 2_000_000 / heads / one.len().div_ceil(64);
    let mut v: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            let parsed = parse_pipelined_heads(&buf, reps);
            let ns = t.elapsed().as_nanos() as f64;
            assert_eq!(parsed, reps * buf.len(), "a head was refused or incomplete");
            ns / (reps * heads) as f64
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    println!(
        "head_parse_http16 {:.1} ns/head",
        ns_per_head(WRK, 16, rounds)
    );
    println!(
        "head_parse_browser {:.1} ns/head",
        ns_per_head(BROWSER, 1, rounds)
    );
}
