//! HTTP load generator on gmp's client: `--conns` goroutines share one
//! `gmp::http::Client` and each loops `client.get(url)` and reads the body to its end,
//! for `--secs` seconds. Every response must be a 200 whose body is `--len` bytes long
//! (13: "Hello, World!", what bench/floor/http-floor.c and examples/hello answer);
//! anything else, and every failed request, counts as an error.
//!
//! `cargo run --release --example http-load -- URL [--conns 50] [--secs 5] [--procs 1] [--len 13]`
//!
//! Prints `requests N`, `req/s X` (N over the time from the first request to the last
//! goroutine's end) and `errors E`, and the first error's message on stderr. Its peers
//! (bench/go/client-load, bench/rust/src/bin/reqwest-load.rs and ureq-load.rs) take the
//! same arguments and print the same lines, for scripts/client-compare.sh.
//!
//! The client keeps up to `--conns` idle connections per host (`max_idle_per_host`), as
//! every peer is told to, so that no pool's limit decides the result: with the default
//! 32, more than 32 connections idle at once would close the extra ones and make their
//! goroutines redial. (On one P that rarely happens, since a goroutine takes a
//! connection back right after returning it: a smoke run accepted 50 either way.)

use std::io::{self, Read};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    conns: usize,
    secs: f64,
    procs: usize,
    len: usize,
}

const USAGE: &str = "usage: http-load URL [--conns 50] [--secs 5] [--procs 1] [--len 13]";

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        conns: 50,
        secs: 5.0,
        procs: 1,
        len: 13,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> f64 {
            let v = it
                .next()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")));
            v.parse()
                .unwrap_or_else(|_| fail(&format!("{name}: not a number: {v:?}")))
        };
        match arg.as_str() {
            "--conns" => a.conns = value("--conns") as usize,
            "--secs" => a.secs = value("--secs"),
            "--procs" => a.procs = value("--procs") as usize,
            "--len" => a.len = value("--len") as usize,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ if arg.starts_with('-') || !a.url.is_empty() => fail(&format!("unknown {arg:?}")),
            _ => a.url = arg,
        }
    }
    if a.url.is_empty() || a.conns == 0 || a.procs == 0 || a.secs <= 0.0 {
        fail("a URL, and --conns, --procs and --secs above zero");
    }
    a
}

fn fail(why: &str) -> ! {
    eprintln!("http-load: {why}\n{USAGE}");
    std::process::exit(2);
}

/// What one goroutine did.
#[derive(Default)]
struct Tally {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

fn main() {
    let a = args();
    let (tally, elapsed) = gmp::Runtime::builder().procs(a.procs).run(move || {
        let client = gmp::http::Client::builder()
            .max_idle_per_host(a.conns)
            .build();
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(a.secs);
        let workers: Vec<_> = (0..a.conns)
            .map(|_| {
                let (client, url) = (client.clone(), a.url.clone());
                gmp::spawn(move || worker(&client, &url, a.len, deadline))
            })
            .collect();
        let mut all = Tally::default();
        for w in workers {
            let t = w.join().expect("a load goroutine panicked");
            all.requests += t.requests;
            all.errors += t.errors;
            all.first_error = all.first_error.or(t.first_error);
        }
        (all, start.elapsed())
    });
    println!("requests {}", tally.requests);
    println!("req/s {:.0}", tally.requests as f64 / elapsed.as_secs_f64());
    println!("errors {}", tally.errors);
    if let Some(e) = tally.first_error {
        eprintln!("http-load: first error: {e}");
    }
}

/// Requests one after another until `deadline`; a request counts when its response was
/// a 200 with a `len`-byte body, read to the end (which hands the connection back).
fn worker(client: &gmp::http::Client, url: &str, len: usize, deadline: Instant) -> Tally {
    let mut t = Tally::default();
    let mut body = Vec::with_capacity(len.max(64));
    while Instant::now() < deadline {
        match get(client, url, len, &mut body) {
            Ok(()) => t.requests += 1,
            Err(e) => {
                t.errors += 1;
                t.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    t
}

fn get(client: &gmp::http::Client, url: &str, len: usize, body: &mut Vec<u8>) -> io::Result<()> {
    let mut res = client.get(url)?;
    body.clear();
    res.body().read_to_end(body)?;
    if res.status() != 200 || body.len() != len {
        return Err(io::Error::other(format!(
            "status {} with a {}-byte body (want 200 with {len})",
            res.status(),
            body.len()
        )));
    }
    Ok(())
}
