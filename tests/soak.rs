//! The soak under faults (`examples/soak`), 20 seconds of it: every kind of client at
//! once against a gmp server, every answer checked, and goroutines, fds and RSS back to
//! their levels once the load stops. The example is its own process, so the counts are
//! the server's and its clients', not this test harness's.
//!
//! It checks nothing about speed: on a loaded machine it does fewer requests, and its
//! clients wait up to 60 s for any answer before they call it lost.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `examples/soak` as built next to this test (`cargo test --all-features` builds it).
fn soak_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("examples").join("soak");
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: CI builds it (cargo test --all-features)",
        bin.display()
    );
    eprintln!("note: examples/soak is not built (cargo test --all-features builds it); skipping");
    None
}

#[test]
fn twenty_seconds_of_soak_under_faults() {
    let Some(bin) = soak_binary() else { return };
    let mut child = Command::new(&bin)
        .args(["--secs", "20", "--seed", "19"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start examples/soak");
    // The soak ends itself: 20 s of load, up to 120 s for its clients to finish, up to
    // 30 s to settle. Past that it hangs, which is a failure too.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for examples/soak") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut out)
        .expect("read the soak's report");
    println!("{out}");
    let status = status.expect("examples/soak did not end within 300 s");
    assert!(status.success(), "examples/soak failed ({status}):\n{out}");
    let value = |name: &str| -> f64 {
        out.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} line in:\n{out}"))
    };
    assert!(value("requests") > 0.0, "no request was checked:\n{out}");
    assert!(
        value("faults_injected") > 0.0,
        "no fault was injected:\n{out}"
    );
    assert_eq!(value("wrong_or_lost"), 0.0);
    assert!(out.contains("soak: PASS"));
}
