//! Route lookup cost: gmp's `Router` against matchit (axum's matcher) on the GitHub REST
//! API's route set (203 routes, `benches/data/github-api-routes.txt`), every route
//! looked up once per round with its wildcards filled in. matchit has no method level,
//! so it gets one tree per method, as httprouter and axum's method routing do.
//!
//! Prints `name value unit` lines: nanoseconds per lookup for each (median of the
//! rounds, interleaved so that a drift of the machine hits both), and their ratio.
//! `BENCH_ROUNDS` sets the rounds (default 15).

use gmp::http::Router;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

fn routes() -> Vec<(String, String)> {
    include_str!("data/github-api-routes.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (m, p) = l.split_once(' ').expect("METHOD /path");
            (m.to_string(), p.to_string())
        })
        .collect()
}

/// The path with each `{name}` replaced by a value.
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|seg| if seg.starts_with('{') { "gmp-rs" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let routes = routes();
    let mut gmp_router = Router::new();
    let mut matchit_routers: HashMap<String, matchit::Router<usize>> = HashMap::new();
    for (i, (m, p)) in routes.iter().enumerate() {
        gmp_router.handle(&format!("{m} {p}"), |_req, _res| Ok(()));
        matchit_routers
            .entry(m.clone())
            .or_default()
            .insert(p.as_str(), i)
            .expect("matchit takes the route");
    }
    let requests: Vec<(String, String)> = routes
        .iter()
        .map(|(m, p)| (m.clone(), concrete(p)))
        .collect();
    // Both find the route each request was made from.
    let mut caps = Vec::new();
    for (i, (m, p)) in requests.iter().enumerate() {
        assert_eq!(
            gmp_router.__lookup(m, p, &mut caps),
            Some(i),
            "gmp: {m} {p}"
        );
        let hit = matchit_routers[m].at(p).expect("matchit finds it");
        assert_eq!(*hit.value, i, "matchit: {m} {p}");
    }

    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let reps = 2_000;
    let lookups = (reps * requests.len()) as f64;
    let (mut gmp_ns, mut matchit_ns) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..reps {
            for (m, p) in &requests {
                black_box(gmp_router.__lookup(black_box(m), black_box(p), &mut caps));
                black_box(&caps);
            }
        }
        gmp_ns.push(t.elapsed().as_nanos() as f64 / lookups);
        let t = Instant::now();
        for _ in 0..reps {
            for (m, p) in &requests {
                let r = matchit_routers
                    .get(black_box(m.as_str()))
                    .and_then(|r| r.at(black_box(p)).ok());
                black_box(r.map(|m| (*m.value, m.params.len())));
            }
        }
        matchit_ns.push(t.elapsed().as_nanos() as f64 / lookups);
    }
    let (g, mi) = (median(gmp_ns), median(matchit_ns));
    println!("router-lookup-gmp {g:.1} ns");
    println!("router-lookup-matchit {mi:.1} ns");
    println!("router-lookup-ratio {:.3} gmp/matchit", g / mi);
}
