//! Stack overflow in a goroutine hits its guard page and is reported by name and size
//! before the process aborts; recursion that fits the stack works. The overflowing cases
//! run in a child process (this test binary re-executed, see `common::run_child`).

mod common;

use common::{child_mode, run_child};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// Recurses `depth` times with at least 1 KiB of locals per frame. Returns a value that
/// depends on every frame, so nothing is optimised away.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut buf = [0u8; 1024];
    buf[(depth % 1024) as usize] = depth as u8;
    black_box(&mut buf);
    if black_box(depth) == 0 {
        return buf[0] as u64;
    }
    let below = recurse(depth - 1);
    below.wrapping_add(black_box(buf[(depth % 1024) as usize]) as u64)
}

/// Never-ending recursion (the stop condition is never true).
#[inline(never)]
fn recurse_forever(n: u64) -> u64 {
    let mut buf = [0u8; 1024];
    buf[(n % 1024) as usize] = n as u8;
    black_box(&mut buf);
    if black_box(n) == u64::MAX {
        return 0;
    }
    recurse_forever(n + 1).wrapping_add(black_box(buf[(n % 1024) as usize]) as u64)
}

/// Spawns a goroutine that overflows, after printing its id to stderr (so the parent can
/// check the id in the report).
fn overflow_in_goroutine(builder: gmp::Builder) {
    gmp::run(move || {
        let go = Arc::new(AtomicBool::new(false));
        let g = go.clone();
        let h = builder
            .spawn(move || {
                while !g.load(SeqCst) {
                    gmp::yield_now();
                }
                recurse_forever(0)
            })
            .expect("spawn");
        eprintln!("child goroutine id={}", h.id());
        go.store(true, SeqCst);
        let _ = h.join();
        eprintln!("UNREACHABLE: the overflowing goroutine was joined");
    });
    std::process::exit(0);
}

fn child_id(out: &common::ChildOutput) -> u64 {
    let line = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("child goroutine id="))
        .unwrap_or_else(|| panic!("child printed no goroutine id\n{}", out.describe()));
    line.trim().parse().unwrap()
}

fn assert_aborted_with(out: &common::ChildOutput, report: &str) {
    assert!(
        !out.status.success(),
        "child exited successfully\n{}",
        out.describe()
    );
    assert_eq!(
        out.signal(),
        Some(libc::SIGABRT),
        "child was not aborted\n{}",
        out.describe()
    );
    assert!(
        out.stderr.contains(report),
        "stderr lacks {report:?}\n{}",
        out.describe()
    );
    assert!(!out.stderr.contains("UNREACHABLE"), "{}", out.describe());
}

#[test]
fn overflow_in_named_goroutine_is_reported_and_aborts() {
    if child_mode().as_deref() == Some("overflow-named") {
        overflow_in_goroutine(gmp::Builder::new().name("the-name").stack_size(64 << 10));
    }
    let out = run_child(
        "overflow_in_named_goroutine_is_reported_and_aborts",
        "overflow-named",
        &[],
        CHILD_TIMEOUT,
    );
    assert!(out.stderr.contains("goroutine"), "{}", out.describe());
    assert!(out.stderr.contains("\"the-name\""), "{}", out.describe());
    assert!(
        out.stderr.contains("overflowed its stack of 64 KiB"),
        "{}",
        out.describe()
    );
    let id = child_id(&out);
    assert_aborted_with(
        &out,
        &format!("goroutine {id} \"the-name\" overflowed its stack of 64 KiB\n"),
    );
}

#[test]
fn overflow_in_unnamed_goroutine_reports_default_size() {
    if child_mode().as_deref() == Some("overflow-unnamed") {
        overflow_in_goroutine(gmp::Builder::new());
    }
    let out = run_child(
        "overflow_in_unnamed_goroutine_reports_default_size",
        "overflow-unnamed",
        &[],
        CHILD_TIMEOUT,
    );
    let id = child_id(&out);
    let kib = gmp::DEFAULT_STACK_SIZE >> 10;
    assert_aborted_with(
        &out,
        &format!("goroutine {id} overflowed its stack of {kib} KiB\n"),
    );
}

#[test]
fn overflow_reports_the_rounded_stack_size() {
    if child_mode().as_deref() == Some("overflow-rounded") {
        // 20,000 bytes round up to five 4 KiB pages.
        overflow_in_goroutine(gmp::Builder::new().name("odd").stack_size(20_000));
    }
    let out = run_child(
        "overflow_reports_the_rounded_stack_size",
        "overflow-rounded",
        &[],
        CHILD_TIMEOUT,
    );
    let id = child_id(&out);
    assert_aborted_with(
        &out,
        &format!("goroutine {id} \"odd\" overflowed its stack of 20 KiB\n"),
    );
}

#[test]
fn overflow_in_main_goroutine_reports_runtime_stack_size() {
    if child_mode().as_deref() == Some("overflow-main") {
        gmp::Runtime::builder()
            .stack_size(128 << 10)
            .run(|| recurse_forever(0));
        std::process::exit(0);
    }
    let out = run_child(
        "overflow_in_main_goroutine_reports_runtime_stack_size",
        "overflow-main",
        &[],
        CHILD_TIMEOUT,
    );
    assert_aborted_with(
        &out,
        "goroutine 1 \"main\" overflowed its stack of 128 KiB\n",
    );
}

#[test]
fn overflow_of_a_plain_thread_is_still_reported_by_std() {
    // The runtime's SIGSEGV handler must pass faults that are not a goroutine's guard page
    // on to std's handler.
    if child_mode().as_deref() == Some("overflow-thread") {
        gmp::run(|| gmp::spawn(|| 1).join().unwrap());
        let h = std::thread::Builder::new()
            .name("plain-thread".into())
            .stack_size(128 << 10)
            .spawn(|| recurse_forever(0))
            .unwrap();
        let _ = h.join();
        std::process::exit(0);
    }
    let out = run_child(
        "overflow_of_a_plain_thread_is_still_reported_by_std",
        "overflow-thread",
        &[],
        CHILD_TIMEOUT,
    );
    assert!(!out.status.success(), "{}", out.describe());
    assert!(
        out.stderr.contains("thread 'plain-thread'") && out.stderr.contains("overflowed its stack"),
        "std's overflow report is missing\n{}",
        out.describe()
    );
    assert!(!out.stderr.contains("goroutine"), "{}", out.describe());
}

#[test]
fn recursion_that_fits_the_stack_works() {
    gmp::run(|| {
        // ~100 KiB of frames in the default 256 KiB stack.
        let h = gmp::spawn(|| recurse(100));
        h.join().unwrap();
        // The main goroutine has the default stack too.
        recurse(100);
        // ~800 KiB in a 1 MiB stack (would overflow the default 256 KiB).
        let h = gmp::Builder::new()
            .name("deep")
            .stack_size(1 << 20)
            .spawn(|| recurse(800))
            .unwrap();
        h.join().unwrap();
        // ~40 KiB in a 64 KiB stack, many times in a row (stacks are recycled).
        for _ in 0..100 {
            let h = gmp::Builder::new()
                .stack_size(64 << 10)
                .spawn(|| recurse(40))
                .unwrap();
            h.join().unwrap();
        }
        // Deep use, yield in the middle (switching must preserve the deep stack).
        let h = gmp::spawn(|| {
            #[inline(never)]
            fn deep_yield(n: u32) -> u32 {
                let mut buf = [n as u8; 1024];
                black_box(&mut buf);
                if n == 0 {
                    gmp::yield_now();
                    gmp::sleep(Duration::from_micros(10));
                    return buf[0] as u32;
                }
                deep_yield(n - 1) + buf[5] as u32
            }
            deep_yield(150)
        });
        let expect: u32 = (0..=150u32).map(|n| n as u8 as u32).sum();
        assert_eq!(h.join().unwrap(), expect);
    });
}

#[test]
fn deep_recursion_in_runtime_with_larger_default_stack() {
    let v = gmp::Runtime::builder().stack_size(2 << 20).run(|| {
        let h = gmp::spawn(|| recurse(1500));
        h.join().unwrap().wrapping_add(recurse(1500))
    });
    black_box(v);
}
