//! Peer of gmp's examples/http-load.rs: ureq 3, a blocking client, on --conns OS threads
//! that share one `ureq::Agent` (its pool). Each thread loops `get(url).call()` and reads
//! the body to its end (which hands the connection back to the pool), for --secs
//! seconds. Every response must be a 200 with a --len-byte body, else it is an error.
//! usage: ureq-load URL [--conns 50] [--secs 5] [--len 13]
//! prints: requests N, req/s X, errors E.
//!
//! ureq is built without its default features (no TLS, no gzip). Its pool keeps 3 idle
//! connections per host and 10 in all by default, which would make 47 of 50 threads
//! redial after every response: the agent keeps --conns, as the other clients are told
//! to. No proxy from the environment; status codes are checked here, not turned into
//! errors by ureq.
use peers::load::{self, Tally};
use std::io::Read;
use std::time::Instant;

fn main() {
    let a = load::args("ureq-load");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections(a.conns)
        .max_idle_connections_per_host(a.conns)
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .into();
    let start = Instant::now();
    let deadline = start + a.duration();
    let threads: Vec<_> = (0..a.conns)
        .map(|_| {
            let (agent, url, want) = (agent.clone(), a.url.clone(), a.len);
            std::thread::spawn(move || {
                let mut t = Tally::default();
                let mut body = Vec::with_capacity(want.max(64));
                while Instant::now() < deadline {
                    t.count(get(&agent, &url, want, &mut body));
                }
                t
            })
        })
        .collect();
    let mut all = Tally::default();
    for t in threads {
        all.add(t.join().expect("a load thread panicked"));
    }
    all.report("ureq-load", start.elapsed());
}

fn get(agent: &ureq::Agent, url: &str, want: usize, body: &mut Vec<u8>) -> Result<(), String> {
    let mut res = agent.get(url).call().map_err(|e| e.to_string())?;
    body.clear();
    res.body_mut()
        .as_reader()
        .read_to_end(body)
        .map_err(|e| e.to_string())?;
    load::check(res.status().as_u16(), body.len(), want)
}
