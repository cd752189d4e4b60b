//! Backtraces work on goroutine stacks: a panic inside a goroutine prints a backtrace
//! (with `RUST_BACKTRACE=1`) naming the function that panicked, and the unwinder's walk up
//! the goroutine stack ends cleanly at the trampoline instead of crashing.

mod common;

use common::{child_mode, panic_message, run_child};
use std::backtrace::Backtrace;
use std::time::Duration;

const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

#[inline(never)]
fn gmp_distinctive_panicking_function() -> u32 {
    gmp::yield_now();
    if std::hint::black_box(true) {
        panic!("panic for the backtrace test");
    }
    1
}

#[inline(never)]
fn gmp_distinctive_outer_caller(depth: u32) -> u32 {
    if depth == 0 {
        return gmp_distinctive_panicking_function();
    }
    // Switch (and maybe migrate) in the middle of the call chain.
    gmp::sleep(Duration::from_micros(10));
    std::hint::black_box(gmp_distinctive_outer_caller(depth - 1))
}

#[inline(never)]
fn gmp_distinctive_capturing_function() -> String {
    gmp::yield_now();
    Backtrace::force_capture().to_string()
}

fn assert_clean(out: &common::ChildOutput) {
    for bad in [
        "SIGSEGV",
        "SIGBUS",
        "signal",
        "Segmentation",
        "fatal runtime error",
        "overflowed",
    ] {
        assert!(
            !out.stderr.contains(bad),
            "child stderr mentions {bad:?}\n{}",
            out.describe()
        );
    }
}

#[test]
fn panic_backtrace_in_goroutine_names_the_function() {
    if child_mode().as_deref() == Some("panic-backtrace") {
        let msg = gmp::Runtime::builder().procs(2).run(|| {
            let h = gmp::Builder::new()
                .name("bt")
                .spawn(|| gmp_distinctive_outer_caller(5))
                .unwrap();
            let err = h.join().expect_err("the goroutine panics");
            panic_message(&*err).unwrap_or_default()
        });
        println!("joined: {msg}");
        std::process::exit(0);
    }
    let out = run_child(
        "panic_backtrace_in_goroutine_names_the_function",
        "panic-backtrace",
        &[("RUST_BACKTRACE", Some("1"))],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("joined: panic for the backtrace test"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("panic for the backtrace test"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("stack backtrace:"),
        "no backtrace printed\n{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("gmp_distinctive_panicking_function"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("gmp_distinctive_outer_caller"),
        "{}",
        out.describe()
    );
    assert_clean(&out);
}

#[test]
fn full_backtrace_in_goroutine_walks_to_the_end() {
    // `RUST_BACKTRACE=full` prints every frame, including those below the closure: the
    // walk must end at the goroutine trampoline without reading garbage.
    if child_mode().as_deref() == Some("panic-backtrace-full") {
        gmp::run(|| {
            let h = gmp::spawn(|| gmp_distinctive_outer_caller(2));
            assert!(h.join().is_err());
        });
        println!("CHILD OK");
        std::process::exit(0);
    }
    let out = run_child(
        "full_backtrace_in_goroutine_walks_to_the_end",
        "panic-backtrace-full",
        &[("RUST_BACKTRACE", Some("full"))],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(out.stdout.contains("CHILD OK"), "{}", out.describe());
    assert!(
        out.stderr.contains("gmp_distinctive_panicking_function"),
        "{}",
        out.describe()
    );
    assert_clean(&out);
}

#[test]
fn panic_backtrace_in_main_goroutine() {
    if child_mode().as_deref() == Some("panic-backtrace-main") {
        let r = std::panic::catch_unwind(|| gmp::run(|| gmp_distinctive_outer_caller(3)));
        assert!(r.is_err());
        println!("CHILD OK");
        std::process::exit(0);
    }
    let out = run_child(
        "panic_backtrace_in_main_goroutine",
        "panic-backtrace-main",
        &[("RUST_BACKTRACE", Some("1"))],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(out.stdout.contains("CHILD OK"), "{}", out.describe());
    assert!(
        out.stderr.contains("gmp_distinctive_panicking_function"),
        "{}",
        out.describe()
    );
    assert_clean(&out);
}

#[test]
fn uncaught_panic_in_goroutine_of_a_failing_test_is_a_normal_failure() {
    // The child's test body lets the join error escape, so the harness reports a failed
    // test (exit code 101) rather than a crash.
    if child_mode().as_deref() == Some("panic-escapes") {
        gmp::run(|| {
            let h = gmp::spawn(|| gmp_distinctive_outer_caller(1));
            h.join().unwrap()
        });
        return;
    }
    let out = run_child(
        "uncaught_panic_in_goroutine_of_a_failing_test_is_a_normal_failure",
        "panic-escapes",
        &[("RUST_BACKTRACE", Some("1"))],
        CHILD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(101), "{}", out.describe());
    assert!(
        out.stderr.contains("gmp_distinctive_panicking_function"),
        "{}",
        out.describe()
    );
    assert_clean(&out);
}

#[test]
fn backtrace_captured_inside_a_goroutine() {
    let bt = gmp::run(|| {
        let h = gmp::spawn(|| {
            gmp::sleep(Duration::from_micros(100));
            gmp_distinctive_capturing_function()
        });
        h.join().unwrap()
    });
    assert!(
        bt.contains("gmp_distinctive_capturing_function"),
        "captured backtrace lacks the function:\n{bt}"
    );
    assert!(bt.contains("backtrace_captured_inside_a_goroutine"), "{bt}");
}

#[test]
fn many_backtraces_captured_concurrently_after_migration() {
    let n = gmp::Runtime::builder().procs(4).run(|| {
        let hs: Vec<_> = (0..64)
            .map(|i| {
                gmp::spawn(move || {
                    for _ in 0..(i % 5) {
                        gmp::yield_now();
                        gmp::sleep(Duration::from_micros(20));
                    }
                    gmp_distinctive_capturing_function()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|bt| bt.contains("gmp_distinctive_capturing_function"))
            .count()
    });
    assert_eq!(n, 64);
}
