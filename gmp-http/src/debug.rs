//! The runtime's debug endpoint: goroutine dumps, metrics in the Prometheus text format
//! and the schedtrace line over HTTP, as Go's `net/http/pprof` serves
//! `/debug/pprof/goroutine`. It only formats what `gmp::debug` (`gmp_core::debug`) and
//! the server's counters (`server::counters`) already hold: serving it costs the
//! program nothing until it is asked.
//!
//! **It exposes the program's internals** (function names, source paths, what each
//! goroutine waits on, load figures): mount it behind your own access control, or on a
//! listener only operators reach, never on a public route as it is.

use crate::request::Request;
use crate::response::Response;
use crate::server::counters;
use gmp_core::debug::{self, Metrics};
use std::fmt::Write as _;
use std::io;

/// A handler for the debug endpoint, to mount at a path of your choosing that ends in
/// `/` (a subtree): the last segment of the request path picks the page.
///
/// | path | what |
/// |---|---|
/// | `…/` | an index of the pages |
/// | `…/goroutines` | every goroutine with its stack (Go's `goroutine?debug=2`) |
/// | `…/goroutines?debug=1` | goroutines with identical stacks grouped, with counts |
/// | `…/metrics` | [`gmp::debug::metrics`](gmp_core::debug::metrics) and the HTTP servers' requests by status class and open connections, in the Prometheus text exposition format (0.0.4) |
/// | `…/sched` | Go's schedtrace line |
///
/// Anything else is a 404. The pages describe the runtime of the goroutine that serves
/// the request (the server's).
///
/// It exposes internals: put it behind your own access control (see the module doc).
///
/// ```no_run
/// let mut app = gmp_http::Router::new();
/// app.handle("GET /debug/gmp/", gmp_http::debug::handler());
/// gmp_http::Server::bind("127.0.0.1:6060")?.serve_handler(app)
/// # ; Ok::<(), std::io::Error>(())
/// ```
pub fn handler(
) -> impl Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static {
    serve
}

fn serve(req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
    let page = req.path().rsplit('/').next().unwrap_or("");
    match page {
        "" => {
            text(res);
            res.body(INDEX);
        }
        "goroutines" => {
            let grouped = match req.query_param("debug").as_deref() {
                None | Some("2") => false,
                Some("1") => true,
                Some(other) => {
                    let msg = format!("debug must be 1 or 2, not {other:?}\n");
                    text(res);
                    res.status(400).body(msg);
                    return Ok(());
                }
            };
            let dump = if grouped {
                debug::goroutines_grouped()
            } else {
                debug::goroutines()
            };
            text(res);
            res.body(dump);
        }
        "metrics" => {
            res.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
            let m = debug::metrics();
            res.body(prometheus(
                &m,
                &counters::responses(),
                counters::open_connections(),
            ));
        }
        "sched" => {
            text(res);
            res.body(debug::schedtrace() + "\n");
        }
        _ => {
            text(res);
            res.status(404)
                .body(format!("no debug page {page:?}\n\n{INDEX}"));
        }
    }
    Ok(())
}

const INDEX: &str = "gmp debug pages (they expose internals: keep them behind access control)\n\
    goroutines           every goroutine with its stack (Go's debug=2)\n\
    goroutines?debug=1   goroutines grouped by stack, with counts\n\
    metrics              runtime and HTTP server metrics, Prometheus text format\n\
    sched                the schedtrace line\n";

fn text(res: &mut Response<'_>) {
    res.header("content-type", "text/plain; charset=utf-8");
}

/// The metrics in the Prometheus text exposition format, version 0.0.4.
fn prometheus(m: &Metrics, responses: &[u64; counters::CLASSES], open: usize) -> String {
    let mut o = Out(String::with_capacity(4096));
    o.family("gmp_goroutines", "gauge", "Goroutines by state.");
    for (state, n) in [
        ("running", m.goroutines_running),
        ("runnable", m.goroutines_runnable),
        ("blocking", m.goroutines_blocking),
        ("waiting", m.goroutines_waiting),
    ] {
        o.sample("gmp_goroutines", &[("state", state)], n as f64);
    }
    o.family(
        "gmp_goroutines_waiting",
        "gauge",
        "Parked goroutines by wait reason (reasons with none are left out).",
    );
    for (reason, n) in &m.waiting_by_reason {
        o.sample("gmp_goroutines_waiting", &[("reason", reason)], *n as f64);
    }
    o.counter(
        "gmp_goroutines_created_total",
        "Goroutines spawned, the main one not included.",
        m.goroutines_created,
    );
    let gauges: [(&str, &str, usize); 10] = [
        ("gmp_threads", "Runtime threads (Ms) alive.", m.threads),
        (
            "gmp_threads_idle",
            "Threads parked with nothing to do.",
            m.idle_threads,
        ),
        (
            "gmp_threads_blocking",
            "Threads away from the Ps in a blocking call.",
            m.blocked_threads,
        ),
        (
            "gmp_threads_spinning",
            "Threads spinning, looking for work.",
            m.spinning_threads,
        ),
        ("gmp_procs", "Ps: goroutines that run in parallel.", m.procs),
        ("gmp_procs_idle", "Ps with no thread.", m.idle_procs),
        (
            "gmp_runqueue_global",
            "Goroutines in the global run queue.",
            m.global_queue,
        ),
        (
            "gmp_netpoll_waiters",
            "Goroutines parked waiting for a socket.",
            m.netpoll_waiters,
        ),
        (
            "gmp_timers",
            "Timers in the Ps' heaps (stale ones not yet pruned included).",
            m.timers,
        ),
        (
            "gmp_http_open_connections",
            "Connections open on this process's HTTP servers.",
            open,
        ),
    ];
    for (name, help, v) in gauges {
        o.family(name, "gauge", help);
        o.sample(name, &[], v as f64);
    }
    o.family(
        "gmp_runqueue_local",
        "gauge",
        "Goroutines in each P's local run queue.",
    );
    for (p, n) in m.local_queues.iter().enumerate() {
        o.sample("gmp_runqueue_local", &[("p", &p.to_string())], *n as f64);
    }
    o.family(
        "gmp_stack_mapped_bytes",
        "gauge",
        "Address space mapped for goroutine stacks.",
    );
    o.sample("gmp_stack_mapped_bytes", &[], m.stack_bytes_mapped as f64);
    o.family(
        "gmp_stack_resident_bytes",
        "gauge",
        "Goroutine stack bytes in memory (mincore).",
    );
    o.sample(
        "gmp_stack_resident_bytes",
        &[],
        m.stack_bytes_resident as f64,
    );
    o.family(
        "gmp_uptime_seconds",
        "gauge",
        "Time since the runtime started.",
    );
    o.sample("gmp_uptime_seconds", &[], m.uptime.as_secs_f64());
    o.counter(
        "gmp_switches_total",
        "Times a goroutine was switched to.",
        m.switches,
    );
    o.counter(
        "gmp_steals_total",
        "Successful steals from another P's run queue.",
        m.steals,
    );
    o.counter(
        "gmp_retakes_total",
        "Ps sysmon took from a goroutine away from the scheduler.",
        m.retakes,
    );

    let h = &m.sched_latency;
    o.family(
        "gmp_sched_latency_seconds",
        "histogram",
        "Time from runnable to running, sampled (1 run in 64 of each goroutine).",
    );
    let mut cum = 0u64;
    for &(upper_ns, n) in &h.buckets {
        cum += n;
        // Stamps have 64 ns resolution: finer buckets would always be empty.
        if upper_ns < 64 || upper_ns == u64::MAX {
            continue;
        }
        let le = format!("{:e}", upper_ns as f64 / 1e9);
        o.sample(
            "gmp_sched_latency_seconds_bucket",
            &[("le", &le)],
            cum as f64,
        );
    }
    o.sample(
        "gmp_sched_latency_seconds_bucket",
        &[("le", "+Inf")],
        h.count as f64,
    );
    o.sample("gmp_sched_latency_seconds_sum", &[], h.sum_ns as f64 / 1e9);
    o.sample("gmp_sched_latency_seconds_count", &[], h.count as f64);

    o.family(
        "gmp_http_responses_total",
        "counter",
        "Responses of this process's HTTP servers by status class.",
    );
    for (class, n) in responses.iter().enumerate() {
        let code = match class {
            0 => "other".to_string(),
            c => format!("{c}xx"),
        };
        o.sample("gmp_http_responses_total", &[("code", &code)], *n as f64);
    }
    o.0
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn counter(&mut self, name: &str, help: &str, v: u64) {
        self.family(name, "counter", help);
        self.sample(name, &[], v as f64);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"");
                escape(&mut self.0, val);
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {v}");
    }
}

/// A label value as the text format wants it: `\`, `"` and newline escaped.
fn escape(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        escape(&mut s, "a\"b\\c\nd");
        assert_eq!(s, r#"a\"b\\c\nd"#);
    }
}
