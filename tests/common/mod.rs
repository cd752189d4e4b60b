//! Helpers shared by the integration tests: re-running this test binary as a child
//! process (for behaviour that aborts the process or needs its own environment), a
//! deterministic RNG, and panic payload access.
//!
//! Child-process protocol: the parent runs its own executable with
//! `--exact <test name> --nocapture --test-threads=1` and `GMP_TEST_CHILD=<mode>` set.
//! The same `#[test]` function then sees the variable and runs the child body instead of
//! the parent body (see [`child_mode`]).

#![allow(dead_code)]

use std::any::Any;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that switches a test into its child-process body.
pub const CHILD_ENV: &str = "GMP_TEST_CHILD";

/// The child mode this process was started with, if it is a child.
pub fn child_mode() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// What a child process left behind.
#[derive(Debug)]
pub struct ChildOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ChildOutput {
    /// The signal that killed the child, if any.
    pub fn signal(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal()
    }

    /// A printable summary for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "child status: {:?}\n--- child stdout ---\n{}\n--- child stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs this test binary's test `test_name` in a child process with `GMP_TEST_CHILD=mode`
/// and the extra environment `env` (a `None` value removes the variable). Kills the child
/// and panics if it has not exited within `timeout`.
pub fn run_child(
    test_name: &str,
    mode: &str,
    env: &[(&str, Option<&str>)],
    timeout: Duration,
) -> ChildOutput {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        // Keep the child's environment predictable: the parent may run under either.
        .env_remove("GMP_MAXPROCS")
        .env_remove("GMP_SCHEDTRACE")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let mut child = cmd.spawn().expect("spawn child test process");
    let mut out = child.stdout.take().expect("stdout pipe");
    let mut err = child.stderr.take().expect("stderr pipe");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = ChildOutput {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    };
    assert!(
        !timed_out,
        "child `{test_name}` (mode {mode}) did not finish within {timeout:?} and was killed \
         (hang)\n{}",
        output.describe()
    );
    output
}

/// The message of a panic payload (`&str` or `String`), or `None` for other payloads.
pub fn panic_message(p: &(dyn Any + Send)) -> Option<String> {
    if let Some(s) = p.downcast_ref::<&'static str>() {
        Some((*s).to_string())
    } else {
        p.downcast_ref::<String>().cloned()
    }
}

/// A deterministic xorshift64* generator.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // Never zero; spread small seeds.
        XorShift((seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Threads of this process (entries of `/proc/self/task`).
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .count()
}

/// Aborts the process with a message if it is not dropped within `limit`: a stress test
/// that loses a wake-up hangs, and a hang should fail the run rather than stall it.
pub struct Watchdog(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Watchdog {
    pub fn new(what: &'static str, limit: Duration) -> Watchdog {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + limit;
            while Instant::now() < end {
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("watchdog: `{what}` still running after {limit:?}: hung (lost wake-up?)");
            std::process::abort();
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Whether the external tool `prog` is there for a test that drives it (`prog
/// --version` exits successfully; `openssl version` for openssl, which refuses
/// `--version`). When it is not: under `CI` the test fails (CI installs every tool the
/// tests use, so a missing one is a broken CI, not a reason to skip); elsewhere it
/// prints a notice and the caller skips.
pub fn tool(prog: &str) -> bool {
    let probe = if prog == "openssl" {
        "version"
    } else {
        "--version"
    };
    let ok = std::process::Command::new(prog)
        .arg(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{prog} is not on PATH and CI is set: .ci/run installs it; a test must not skip in CI"
        );
        eprintln!("note: {prog} is not on PATH; skipping the test that needs it");
    }
    ok
}

/// A Python that can import `module`: `$GMP_TEST_PYTHON` (CI points it at a venv where
/// it installed the test packages), else `python3`. `None` (with a notice) when there is
/// none; under `CI` a failure, as for `tool`.
pub fn python_with(module: &str) -> Option<String> {
    let python = std::env::var("GMP_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{python} cannot import {module} and CI is set: .ci/run installs it (GMP_TEST_PYTHON)"
    );
    eprintln!("note: {python} cannot import {module}; skipping the test that needs it (set GMP_TEST_PYTHON)");
    None
}
