//! The HTTP client load generators' command line and report, the same as
//! examples/http-load.rs: `URL [--conns 50] [--secs 5] [--len 13]`, then the lines
//! `requests N`, `req/s X` and `errors E` (the first error's message on stderr).

use std::time::Duration;

/// The command line.
pub struct Args {
    pub url: String,
    /// Concurrent requesters (goroutines, tasks or threads): one connection each.
    pub conns: usize,
    pub secs: f64,
    /// The body length every response must have (13: "Hello, World!").
    pub len: usize,
}

impl Args {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.secs)
    }
}

/// Parses the command line; exits with usage on a mistake.
pub fn args(name: &str) -> Args {
    let usage = format!("usage: {name} URL [--conns 50] [--secs 5] [--len 13]");
    let fail = |why: &str| -> ! {
        eprintln!("{name}: {why}\n{usage}");
        std::process::exit(2)
    };
    let mut a = Args {
        url: String::new(),
        conns: 50,
        secs: 5.0,
        len: 13,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| -> f64 {
            let v = it
                .next()
                .unwrap_or_else(|| fail(&format!("{flag} needs a value")));
            v.parse()
                .unwrap_or_else(|_| fail(&format!("{flag}: not a number: {v:?}")))
        };
        match arg.as_str() {
            "--conns" => a.conns = value("--conns") as usize,
            "--secs" => a.secs = value("--secs"),
            "--len" => a.len = value("--len") as usize,
            _ if arg.starts_with('-') || !a.url.is_empty() => fail(&format!("unknown {arg:?}")),
            _ => a.url = arg,
        }
    }
    if a.url.is_empty() || a.conns == 0 || a.secs <= 0.0 {
        fail("a URL, and --conns and --secs above zero");
    }
    a
}

/// What one requester did.
#[derive(Default)]
pub struct Tally {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Tally {
    /// Counts one request's outcome.
    pub fn count<E: std::fmt::Display>(&mut self, r: Result<(), E>) {
        match r {
            Ok(()) => self.requests += 1,
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }

    pub fn add(&mut self, t: Tally) {
        self.requests += t.requests;
        self.errors += t.errors;
        self.first_error = self.first_error.take().or(t.first_error);
    }

    /// Prints the report: the requests, their rate over `elapsed`, the errors.
    pub fn report(&self, name: &str, elapsed: Duration) {
        println!("requests {}", self.requests);
        println!("req/s {:.0}", self.requests as f64 / elapsed.as_secs_f64());
        println!("errors {}", self.errors);
        if let Some(e) = &self.first_error {
            eprintln!("{name}: first error: {e}");
        }
    }
}

/// The error for a response that is not a 200 with a `want`-byte body.
pub fn check(status: u16, len: usize, want: usize) -> Result<(), String> {
    if status == 200 && len == want {
        Ok(())
    } else {
        Err(format!(
            "status {status} with a {len}-byte body (want 200 with {want})"
        ))
    }
}
