//! Peer of gmp's examples/http-load.rs: reqwest's async client (hyper 1.x underneath) on
//! a current-thread tokio runtime, one client CPU. --conns tasks share one
//! `reqwest::Client` and each loops `get(url).send()` and reads the body to its end
//! (`bytes()`, which hands the connection back to the pool), for --secs seconds. Every
//! response must be a 200 with a --len-byte body, else it is an error.
//! usage: reqwest-load URL [--conns 50] [--secs 5] [--len 13]
//! prints: requests N, req/s X, errors E.
//!
//! reqwest is built without its default features (no TLS, no HTTP/2, no system proxy):
//! plain HTTP/1.1 like the other clients. Its pool keeps every idle connection per host
//! by default; `pool_max_idle_per_host(conns)` says so anyway, as the peers do, and
//! `no_proxy` keeps an `http_proxy` in the environment out of the measurement.
use peers::load::{self, Tally};
use std::time::Instant;

fn main() {
    let a = load::args("reqwest-load");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (all, elapsed) = rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(a.conns)
            .no_proxy()
            .build()
            .unwrap();
        let start = Instant::now();
        let deadline = start + a.duration();
        let tasks: Vec<_> = (0..a.conns)
            .map(|_| {
                let (client, url, want) = (client.clone(), a.url.clone(), a.len);
                tokio::spawn(async move {
                    let mut t = Tally::default();
                    while Instant::now() < deadline {
                        t.count(get(&client, &url, want).await);
                    }
                    t
                })
            })
            .collect();
        let mut all = Tally::default();
        for t in tasks {
            all.add(t.await.expect("a load task panicked"));
        }
        (all, start.elapsed())
    });
    all.report("reqwest-load", elapsed);
}

async fn get(client: &reqwest::Client, url: &str, want: usize) -> Result<(), String> {
    let res = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    load::check(status, body.len(), want)
}
