//! `gmp::debug::metrics()` and the HTTP debug endpoint (`gmp::http::debug::handler`):
//! goroutines parked on a channel, in `sleep`, on a `Mutex` and on a socket show up in
//! the right state and reason counts, and the states add up to `gmp::stats()`; the
//! sampled latency histogram fills as goroutines ping-pong; the `metrics` page, parsed by
//! Python's `prometheus_client` (a parser gmp did not write), reconciles with
//! `gmp::stats()` taken around it and with the load the test put on the server; the
//! `goroutines` pages return the dumps and `sched` the schedtrace line.

mod common;
mod http_util;

use common::Watchdog;
use gmp::http::{Request, Response, Router};
use http_util::TestServer;
use std::collections::HashMap;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[inline(never)]
fn park_on_chan(rx: gmp::chan::Receiver<u32>) {
    black_box(rx.recv().ok());
}

/// Yields until `f` holds for a fresh metrics snapshot; returns that snapshot.
fn wait_for(f: impl Fn(&gmp::debug::Metrics) -> bool) -> gmp::debug::Metrics {
    loop {
        let m = gmp::debug::metrics();
        if f(&m) {
            return m;
        }
        gmp::sleep(Duration::from_millis(1));
    }
}

fn reason(m: &gmp::debug::Metrics, why: &str) -> usize {
    m.waiting_by_reason
        .iter()
        .find(|(r, _)| *r == why)
        .map_or(0, |(_, n)| *n)
}

#[test]
fn parked_goroutines_are_counted_by_state_and_reason() {
    let _w = Watchdog::new("metrics by state", LIMIT);
    gmp::Runtime::builder().procs(2).run(|| {
        const N: usize = 50;
        let before = gmp::stats();
        let (tx, rx) = gmp::chan::bounded::<u32>(0);
        let chans: Vec<_> = (0..N)
            .map(|_| {
                let rx = rx.clone();
                gmp::spawn(move || park_on_chan(rx))
            })
            .collect();
        let sleeper = gmp::spawn(|| gmp::sleep(Duration::from_secs(3600)));
        let m = Arc::new(gmp::sync::Mutex::new(0u32));
        let guard = m.lock();
        let locker = {
            let m = m.clone();
            gmp::spawn(move || black_box(*m.lock()))
        };
        let l = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = gmp::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut server, _) = l.accept().unwrap();
        let reader = gmp::spawn(move || {
            let mut b = [0u8; 1];
            server.read(&mut b).map(|n| (n, b[0]))
        });

        let m1 = wait_for(|m| {
            reason(m, "chan receive") == N
                && reason(m, "sleep") == 1
                && reason(m, "sync.Mutex.Lock") == 1
                && reason(m, "IO wait") == 1
        });
        let st = gmp::stats();
        // Everything but the caller is parked: the states add up to `stats`' count.
        assert_eq!(m1.goroutines_running, 1, "{m1:?}");
        assert_eq!(m1.goroutines_runnable + m1.goroutines_blocking, 0, "{m1:?}");
        assert_eq!(m1.goroutines_waiting, N + 3, "{m1:?}");
        let total = m1.goroutines_running + m1.goroutines_waiting;
        assert_eq!(total, st.goroutines, "{m1:?} vs {st:?}");
        assert_eq!(m1.netpoll_waiters, 1);
        assert!(m1.timers >= 1, "the sleep's timer: {m1:?}");
        assert_eq!(
            m1.waiting_by_reason[0],
            ("chan receive", N),
            "largest first"
        );
        // Counters lie between two `stats` snapshots taken around it.
        assert!(m1.goroutines_created >= before.spawned + N as u64 + 3);
        assert!(m1.goroutines_created <= st.spawned);
        assert!(m1.switches <= st.switches && m1.switches >= before.switches);
        assert!(m1.steals <= st.steals && m1.retakes <= st.retakes);
        assert_eq!(m1.procs, 2);
        assert_eq!(m1.local_queues.len(), 2);
        assert!(m1.threads >= 1 && m1.threads >= m1.idle_threads);
        // Stacks: the chunks are reserved address space; a few of their pages are in
        // memory (each parked goroutine touched at least its top page).
        assert!(m1.stack_bytes_mapped > 0);
        assert!(m1.stack_bytes_resident >= (N as u64 + 4) * 4096, "{m1:?}");
        assert!(m1.stack_bytes_resident <= m1.stack_bytes_mapped);
        assert!(m1.uptime > Duration::ZERO);

        // Release them all: the counts go back to the caller alone.
        drop(rx);
        drop(tx);
        drop(guard);
        client.write_all(b"x").unwrap();
        for h in chans {
            h.join().unwrap();
        }
        locker.join().unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), (1, b'x'));
        let m2 = wait_for(|m| m.goroutines_waiting == 1);
        assert_eq!(m2.waiting_by_reason, [("sleep", 1)]);
        assert_eq!(m2.netpoll_waiters, 0);
        drop(sleeper);
    });
}

#[test]
fn latency_histogram_samples_a_ping_pong() {
    let _w = Watchdog::new("latency histogram", LIMIT);
    gmp::Runtime::builder().procs(2).run(|| {
        const ROUNDS: u64 = 20_000;
        let before = gmp::debug::metrics().sched_latency;
        let (ping_tx, ping_rx) = gmp::chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = gmp::chan::bounded::<u64>(0);
        let echo = gmp::spawn(move || {
            for v in ping_rx.iter() {
                pong_tx.send(v).unwrap();
            }
        });
        for i in 0..ROUNDS {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i);
        }
        drop(ping_tx);
        echo.join().unwrap();
        let h = gmp::debug::metrics().sched_latency;
        // Each round readies one goroutine or both (one may find the other already
        // waiting): up to 2 * ROUNDS readies, one run in 64 of each goroutine timed.
        let samples = h.count - before.count;
        assert!(
            samples >= ROUNDS / 128,
            "{samples} samples for {ROUNDS} rounds"
        );
        assert!(samples <= gmp::stats().switches);
        assert_eq!(h.count, h.buckets.iter().map(|b| b.1).sum::<u64>());
        assert_eq!(h.buckets.last().unwrap().0, u64::MAX);
        assert!(h.buckets.windows(2).all(|w| w[0].0 < w[1].0));
        // The stamps have 64 ns resolution: a latency is a multiple of it.
        assert!(h.buckets[1..7].iter().all(|b| b.1 == 0), "{h:?}");
        assert!(h.sum_ns % 64 == 0);
    });
}

/// Senders of the channels the `/load/{n}` goroutines park on (in the server's runtime),
/// one list per test.
type Parked = Mutex<Vec<gmp::chan::Sender<u32>>>;
static PARKED_METRICS: Parked = Mutex::new(Vec::new());
static PARKED_PAGES: Parked = Mutex::new(Vec::new());

fn debug_app(parked: &'static Parked) -> Router {
    let mut app = Router::new();
    app.handle("GET /debug/gmp/", gmp::http::debug::handler());
    // Parks `n` goroutines on a channel in the server's runtime.
    app.handle("GET /load/{n}", move |req, res| {
        let n: usize = req.param("n").unwrap().parse().unwrap();
        let (tx, rx) = gmp::chan::bounded::<u32>(0);
        for _ in 0..n {
            let rx = rx.clone();
            gmp::spawn(move || park_on_chan(rx));
        }
        parked.lock().unwrap().push(tx);
        res.body("parked");
        Ok(())
    });
    app.handle("GET /teapot", |_, res| {
        res.status(418).body("short and stout");
        Ok(())
    });
    // The metrics page with `gmp::stats()` taken just before and after, in headers.
    let debug = gmp::http::debug::handler();
    app.handle(
        "GET /bracketed/metrics",
        move |req: &mut Request<'_>, res: &mut Response<'_>| -> io::Result<()> {
            let before = gmp::stats();
            debug(req, res)?;
            let after = gmp::stats();
            for (k, a, b) in [
                (
                    "goroutines",
                    before.goroutines as u64,
                    after.goroutines as u64,
                ),
                ("switches", before.switches, after.switches),
                ("spawned", before.spawned, after.spawned),
                ("procs", before.procs as u64, after.procs as u64),
            ] {
                res.header(&format!("x-gmp-{k}"), &format!("{a} {b}"));
            }
            Ok(())
        },
    );
    app
}

/// `GET target` on a fresh connection: status, body, and the `x-gmp-` headers.
fn get(s: &TestServer, target: &str) -> (u16, String, HashMap<String, (u64, u64)>) {
    let r = s.client().get(target);
    let mut xs = HashMap::new();
    for (k, v) in &r.headers {
        if let Some(k) = k.to_ascii_lowercase().strip_prefix("x-gmp-") {
            let mut it = v.split(' ').map(|n| n.parse::<u64>().unwrap());
            xs.insert(k.to_string(), (it.next().unwrap(), it.next().unwrap()));
        }
    }
    (r.status, r.text(), xs)
}

/// Every sample of a Prometheus text page as `name{k="v",...}` → value, as Python's
/// `prometheus_client` parser reads it.
fn parse_with_python(python: &str, page: &str) -> HashMap<String, f64> {
    const SCRIPT: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
        print("%s\t%s{%s}\t%r" % (fam.type, s.name, labels, s.value))
"#;
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejected the page: {}\n{page}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut samples = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let mut f = line.split('\t');
        let (kind, name, value) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        assert_ne!(kind, "unknown", "{name} has no TYPE");
        samples.insert(name.to_string(), value.parse::<f64>().unwrap());
    }
    samples
}

#[test]
fn the_metrics_page_parses_with_prometheus_client_and_reconciles() {
    let _w = Watchdog::new("metrics page", LIMIT);
    let Some(python) = common::python_with("prometheus_client") else {
        return;
    };
    const N: u64 = 30;
    const REQUESTS: u64 = 2000;
    let s = TestServer::start_handler(|s| s, debug_app(&PARKED_METRICS));
    assert_eq!(get(&s, &format!("/load/{N}")).0, 200);
    assert_eq!(get(&s, "/teapot").0, 418);
    assert_eq!(get(&s, "/nowhere").0, 404);

    // A connection left open: counted in the open connections while the page is made.
    // Its requests wake its goroutine from the netpoller each time: enough runs for the
    // latency histogram to sample some (one run in 64).
    let mut idle = s.client();
    for _ in 0..REQUESTS {
        assert_eq!(idle.get("/teapot").status, 418);
    }

    let samples = loop {
        let (status, page, xs) = get(&s, "/bracketed/metrics");
        assert_eq!(status, 200);
        let v = parse_with_python(&python, &page);
        if v[r#"gmp_goroutines_waiting{reason="chan receive"}"#] as u64 != N {
            // The parked goroutines have not all parked yet.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        break (v, xs, page);
    };
    let (v, xs, page) = samples;
    let within = |name: &str, k: &str| {
        let (a, b) = xs[k];
        let x = v[name] as u64;
        assert!(
            a <= x && x <= b,
            "{name} = {x}, gmp::stats() {k} went {a} -> {b}\n{page}"
        );
    };
    // The states add up to the goroutines `gmp::stats()` counts (the server's accept
    // loop, its reaper, its connection goroutines and the parked ones).
    let states: f64 = ["running", "runnable", "blocking", "waiting"]
        .iter()
        .map(|st| v[&format!(r#"gmp_goroutines{{state="{st}"}}"#)])
        .sum();
    let (g0, g1) = xs["goroutines"];
    assert!(
        g0 <= states as u64 && states as u64 <= g1,
        "states add to {states}, gmp::stats() {g0}..{g1}\n{page}"
    );
    assert!(v[r#"gmp_goroutines{state="running"}"#] >= 1.0);
    assert!(v[r#"gmp_goroutines{state="waiting"}"#] >= N as f64);
    within("gmp_switches_total{}", "switches");
    within("gmp_goroutines_created_total{}", "spawned");
    within("gmp_procs{}", "procs");
    assert!(
        v["gmp_netpoll_waiters{}"] >= 1.0,
        "the accept loop waits for connections"
    );
    assert!(v["gmp_threads{}"] >= 1.0);
    assert!(v["gmp_stack_resident_bytes{}"] <= v["gmp_stack_mapped_bytes{}"]);
    assert!(v["gmp_stack_resident_bytes{}"] >= (N * 4096) as f64);

    // The HTTP server's counters: this process's responses so far (other tests in
    // this binary run servers too, so at least ours).
    assert!(v[r#"gmp_http_responses_total{code="2xx"}"#] >= 1.0);
    assert!(v[r#"gmp_http_responses_total{code="4xx"}"#] >= (REQUESTS + 2) as f64);
    assert!(
        v["gmp_http_open_connections{}"] >= 2.0,
        "the idle one and this one"
    );

    // The histogram: cumulative buckets ending in +Inf = _count.
    let mut buckets: Vec<(f64, f64)> = v
        .iter()
        .filter_map(|(k, &n)| {
            let le = k
                .strip_prefix(r#"gmp_sched_latency_seconds_bucket{le=""#)?
                .strip_suffix("\"}")?;
            Some((le.parse::<f64>().unwrap(), n))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert!(buckets.len() > 30, "{buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last().unwrap().0, f64::INFINITY);
    assert_eq!(
        buckets.last().unwrap().1,
        v["gmp_sched_latency_seconds_count{}"]
    );
    // Some of those requests found their bytes already there (no park); enough woke
    // the connection's goroutine for one in 64 of its runs to be timed.
    assert!(v["gmp_sched_latency_seconds_count{}"] >= 1.0, "{page}");
    assert!(v["gmp_sched_latency_seconds_sum{}"] > 0.0);

    PARKED_METRICS.lock().unwrap().clear();
    drop(idle);
    s.stop();
}

#[test]
fn the_goroutine_and_sched_pages() {
    let _w = Watchdog::new("debug pages", LIMIT);
    let s = TestServer::start_handler(|s| s, debug_app(&PARKED_PAGES));
    assert_eq!(get(&s, "/load/3").0, 200);

    let full = loop {
        let (status, body, _) = get(&s, "/debug/gmp/goroutines");
        assert_eq!(status, 200);
        if body.matches("[chan receive]").count() >= 3 {
            break body;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(full.contains("debug_metrics::park_on_chan"), "{full}");
    assert!(
        full.contains("created by debug_metrics::debug_app"),
        "{full}"
    );

    let (status, grouped, _) = get(&s, "/debug/gmp/goroutines?debug=1");
    assert_eq!(status, 200);
    assert!(
        grouped.starts_with("goroutine profile: total "),
        "{grouped}"
    );
    assert!(grouped.contains("# [chan receive]"), "{grouped}");
    assert!(grouped.contains("debug_metrics::park_on_chan"), "{grouped}");

    let (status, same, _) = get(&s, "/debug/gmp/goroutines?debug=2");
    assert_eq!(status, 200);
    assert!(same.contains("[chan receive]"));

    let (status, body, _) = get(&s, "/debug/gmp/goroutines?debug=7");
    assert_eq!(status, 400);
    assert!(body.contains("debug must be 1 or 2"), "{body}");

    let (status, sched, _) = get(&s, "/debug/gmp/sched");
    assert_eq!(status, 200);
    assert!(sched.starts_with("SCHED "), "{sched}");
    assert!(sched.contains(" gomaxprocs="), "{sched}");
    assert!(sched.ends_with("]\n"), "{sched}");

    let (status, index, _) = get(&s, "/debug/gmp/");
    assert_eq!(status, 200);
    assert!(index.contains("goroutines?debug=1") && index.contains("metrics"));
    let (status, _, _) = get(&s, "/debug/gmp/nothing");
    assert_eq!(status, 404);

    PARKED_PAGES.lock().unwrap().clear();
    s.stop();
}
