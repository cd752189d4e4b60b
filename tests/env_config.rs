//! Configuration and misuse: `GMP_MAXPROCS`, `GMP_SCHEDTRACE`, the builders, `stats`,
//! joins from plain threads, `is_finished`, and the panics for calls made in the wrong
//! place. Anything that needs its own environment runs in a child process.

mod common;

use common::{child_mode, panic_message, run_child};
use std::hint::black_box;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

fn panic_text<T>(r: std::thread::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected a panic"),
        Err(e) => panic_message(&*e).expect("a string panic message"),
    }
}

#[test]
fn spawn_outside_a_runtime_panics() {
    let msg = panic_text(catch_unwind(|| gmp::spawn(|| 1)));
    assert!(msg.contains("outside a gmp runtime"), "{msg}");
    let msg = panic_text(catch_unwind(|| gmp::Builder::new().name("x").spawn(|| 1)));
    assert!(msg.contains("outside a gmp runtime"), "{msg}");
    // Also from a plain thread while a runtime runs elsewhere.
    gmp::run(|| {
        let t = std::thread::spawn(|| catch_unwind(|| gmp::spawn(|| 1)).is_err());
        // Do not block this M on the thread for long: it finishes at once.
        while !t.is_finished() {
            gmp::sleep(Duration::from_millis(1));
        }
        assert!(t.join().unwrap(), "spawn on a plain thread must panic");
    });
}

#[test]
fn stats_outside_a_runtime_panics() {
    let msg = panic_text(catch_unwind(gmp::stats));
    assert!(msg.contains("outside a gmp runtime"), "{msg}");
}

#[test]
fn run_inside_a_runtime_panics() {
    gmp::run(|| {
        let msg = panic_text(catch_unwind(|| gmp::run(|| 1)));
        assert!(msg.contains("inside a gmp runtime"), "{msg}");
        let h = gmp::spawn(|| {
            let r = catch_unwind(|| gmp::Runtime::builder().procs(1).run(|| 2));
            panic_text(r)
        });
        let msg = h.join().unwrap();
        assert!(msg.contains("inside a gmp runtime"), "{msg}");
        // The runtime is unharmed.
        assert_eq!(gmp::spawn(|| 3).join().unwrap(), 3);
    });
}

#[test]
fn runtimes_on_several_threads_at_once() {
    let ts: Vec<_> = (0..4u64)
        .map(|i| {
            std::thread::spawn(move || {
                gmp::Runtime::builder().procs(1 + i as usize).run(move || {
                    let hs: Vec<_> = (0..1000u64).map(|k| gmp::spawn(move || k * i)).collect();
                    let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
                    (s, gmp::stats().procs)
                })
            })
        })
        .collect();
    for (i, t) in ts.into_iter().enumerate() {
        let (s, procs) = t.join().unwrap();
        assert_eq!(s, 999 * 1000 / 2 * i as u64);
        assert_eq!(procs, 1 + i);
    }
}

#[test]
fn procs_from_builder_and_stats_fields() {
    for procs in [1usize, 2, 3, 5] {
        let st = gmp::Runtime::builder().procs(procs).run(gmp::stats);
        assert_eq!(st.procs, procs);
        assert_eq!(st.local_queues.len(), procs);
        assert!(st.threads >= 1 && st.threads <= procs, "{st:?}");
        assert!(
            st.idle_procs < procs,
            "the main goroutine holds a P: {st:?}"
        );
        assert_eq!(st.goroutines, 1, "{st:?}");
        assert_eq!(st.spawned, 0, "{st:?}");
        assert!(st.switches >= 1, "{st:?}");
    }
}

#[test]
fn default_procs_is_available_parallelism() {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let procs = gmp::run(|| gmp::stats().procs);
    if std::env::var_os("GMP_MAXPROCS").is_none() {
        assert_eq!(procs, n);
    }
}

#[test]
#[should_panic(expected = "procs must be at least 1")]
fn zero_procs_is_rejected() {
    let _ = gmp::Runtime::builder().procs(0);
}

#[test]
fn stats_count_goroutines_as_they_come_and_go() {
    gmp::Runtime::builder().procs(2).run(|| {
        let release = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let r = release.clone();
                gmp::spawn(move || {
                    while !r.load(SeqCst) {
                        gmp::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        let st = gmp::stats();
        assert_eq!(st.goroutines, 11, "{st:?}");
        assert_eq!(st.spawned, 10, "{st:?}");
        release.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        // The finished goroutines are counted out right after waking their joiner.
        let t = Instant::now();
        while gmp::stats().goroutines != 1 {
            assert!(t.elapsed() < Duration::from_secs(10), "{:?}", gmp::stats());
            gmp::yield_now();
        }
        assert_eq!(gmp::stats().spawned, 10);
    });
}

#[test]
fn join_from_a_plain_thread() {
    let (tx, rx) = mpsc::channel();
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let t = std::thread::spawn(move || {
        let mut got = Vec::new();
        for h in rx {
            let h: gmp::JoinHandle<u64> = h;
            got.push(h.join().unwrap());
            d.fetch_add(1, SeqCst);
        }
        got
    });
    gmp::run(move || {
        for i in 0..20u64 {
            let h = gmp::spawn(move || {
                // Some finish before the thread joins, some after it started waiting.
                if i % 2 == 0 {
                    gmp::sleep(Duration::from_millis(5 + i));
                }
                i * 10
            });
            tx.send(h).unwrap();
        }
        drop(tx);
        // Keep the runtime up (without blocking this M) until the thread has them all.
        while done.load(SeqCst) < 20 {
            gmp::sleep(Duration::from_millis(1));
        }
    });
    let got = t.join().unwrap();
    assert_eq!(got, (0..20u64).map(|i| i * 10).collect::<Vec<_>>());
}

#[test]
fn join_from_a_plain_thread_after_the_runtime_ended() {
    // A goroutine that finished before shutdown keeps its result; one that was still
    // parked gives Err.
    let (done, parked) = gmp::run(|| {
        let done = gmp::spawn(|| 7u32);
        let parked = gmp::spawn(|| {
            gmp::sleep(Duration::from_secs(3600));
            8u32
        });
        while !done.is_finished() {
            gmp::yield_now();
        }
        (done, parked)
    });
    assert!(done.is_finished());
    assert!(parked.is_finished());
    let t = std::thread::spawn(move || (done.join(), parked.join()));
    let (a, b) = t.join().unwrap();
    assert_eq!(a.unwrap(), 7);
    let msg = panic_message(&*b.unwrap_err()).unwrap();
    assert!(msg.contains("shut down"), "{msg}");
}

#[test]
fn is_finished_tracks_completion() {
    gmp::run(|| {
        let go = Arc::new(AtomicBool::new(false));
        let g = go.clone();
        let h = gmp::spawn(move || {
            while !g.load(SeqCst) {
                gmp::sleep(Duration::from_micros(200));
            }
            "done"
        });
        for _ in 0..20 {
            assert!(!h.is_finished());
            gmp::sleep(Duration::from_micros(300));
        }
        go.store(true, SeqCst);
        let t = Instant::now();
        while !h.is_finished() {
            assert!(t.elapsed() < Duration::from_secs(10));
            gmp::yield_now();
        }
        assert!(h.is_finished());
        assert_eq!(h.join().unwrap(), "done");
        // A panicking goroutine is finished too.
        let h = gmp::spawn(|| panic!("finished by panicking"));
        while !h.is_finished() {
            gmp::yield_now();
        }
        assert!(h.join().is_err());
    });
}

#[test]
fn builder_names_and_stack_sizes() {
    gmp::run(|| {
        let h = gmp::Builder::new().name("worker-1").spawn(|| 1).unwrap();
        assert!(h.id() > 1);
        assert_eq!(h.join().unwrap(), 1);
        // Names need not be unique; non-ASCII is fine.
        let hs: Vec<_> = (0..10)
            .map(|i| {
                gmp::Builder::new()
                    .name("same — ünïcødé")
                    .spawn(move || i)
                    .unwrap()
            })
            .collect();
        assert_eq!(hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 45);
        // Stack sizes: tiny (rounded up to the minimum), odd, large.
        for size in [0usize, 1, gmp::MIN_STACK_SIZE, 20_000, 100_000, 4 << 20] {
            let h = gmp::Builder::new()
                .name(format!("sized-{size}"))
                .stack_size(size)
                .spawn(move || {
                    // Use a good part of the stack, whatever the size (at least the 16 KiB
                    // minimum): a frame below takes 1-3 KiB.
                    let usable = size.max(gmp::MIN_STACK_SIZE);
                    let frames = usable / 4096;
                    fn eat(n: usize) -> usize {
                        let b = black_box([n as u8; 1024]);
                        if n == 0 {
                            return b[0] as usize;
                        }
                        eat(n - 1) + b[1] as usize
                    }
                    eat(frames)
                })
                .unwrap();
            h.join().unwrap();
        }
        // A Builder is reusable through Clone.
        let b = gmp::Builder::new().name("cloned").stack_size(64 << 10);
        let hs: Vec<_> = (0..5)
            .map(|i| b.clone().spawn(move || i).unwrap())
            .collect();
        assert_eq!(hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 10);
    });
}

#[test]
fn builder_spawn_reports_an_unmappable_stack_as_an_error() {
    gmp::run(|| {
        // 64 TiB stacks cannot be mapped.
        let r = gmp::Builder::new().stack_size(1 << 46).spawn(|| 1);
        let e = r.expect_err("a 64 TiB stack cannot be mapped");
        assert!(!e.to_string().is_empty());
        // The runtime goes on.
        assert_eq!(gmp::spawn(|| 2).join().unwrap(), 2);
        // `gmp::spawn` has no error path for it; the fallible form must not panic even
        // for sizes that overflow when rounded to pages.
        let r = catch_unwind(|| {
            gmp::Builder::new()
                .stack_size(usize::MAX)
                .spawn(|| 3)
                .is_err()
        });
        assert!(
            matches!(r, Ok(true)),
            "Builder::stack_size(usize::MAX).spawn must return Err, got {:?}",
            r.map_err(|e| panic_message(&*e))
        );
        assert_eq!(gmp::spawn(|| 4).join().unwrap(), 4);
    });
}

#[test]
fn runtime_stack_size_sets_the_default() {
    // 2 MiB default stacks hold ~800 KiB of frames (256 KiB ones would overflow).
    gmp::Runtime::builder().stack_size(2 << 20).run(|| {
        fn eat(n: usize) -> usize {
            let b = black_box([n as u8; 1024]);
            if n == 0 {
                return b[0] as usize;
            }
            eat(n - 1) + b[1] as usize
        }
        let h = gmp::spawn(|| eat(800));
        black_box(h.join().unwrap());
        black_box(eat(800));
    });
}

/// Go's rule for GOMAXPROCS: an explicit `procs(n)` in the code wins; the environment
/// variable only sets the default.
#[test]
fn explicit_procs_wins_over_maxprocs_env() {
    if child_mode().as_deref() == Some("maxprocs-3") {
        let st = gmp::Runtime::builder().procs(1).run(gmp::stats);
        let st2 = gmp::run(gmp::stats);
        let st3 = gmp::Runtime::builder().stack_size(64 << 10).run(gmp::stats);
        println!(
            "procs={} queues={} default={} builder-default={}",
            st.procs,
            st.local_queues.len(),
            st2.procs,
            st3.procs
        );
        std::process::exit(0);
    }
    let out = run_child(
        "explicit_procs_wins_over_maxprocs_env",
        "maxprocs-3",
        &[("GMP_MAXPROCS", Some("3"))],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout
            .contains("procs=1 queues=1 default=3 builder-default=3"),
        "{}",
        out.describe()
    );
}

#[test]
fn explicit_procs_ignores_a_malformed_maxprocs_env() {
    if child_mode().as_deref() == Some("maxprocs-bad-explicit") {
        println!(
            "procs={}",
            gmp::Runtime::builder().procs(2).run(|| gmp::stats().procs)
        );
        std::process::exit(0);
    }
    let out = run_child(
        "explicit_procs_ignores_a_malformed_maxprocs_env",
        "maxprocs-bad-explicit",
        &[("GMP_MAXPROCS", Some("abc"))],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(out.stdout.contains("procs=2"), "{}", out.describe());
}

#[test]
fn maxprocs_env_with_spaces_is_accepted() {
    if child_mode().as_deref() == Some("maxprocs-spaces") {
        println!("procs={}", gmp::run(|| gmp::stats().procs));
        std::process::exit(0);
    }
    let out = run_child(
        "maxprocs_env_with_spaces_is_accepted",
        "maxprocs-spaces",
        &[("GMP_MAXPROCS", Some(" 2 "))],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(out.stdout.contains("procs=2"), "{}", out.describe());
}

#[test]
fn bad_maxprocs_env_panics_with_a_clear_message() {
    if let Some(mode) = child_mode() {
        if let Some(v) = mode.strip_prefix("bad-maxprocs:") {
            assert_eq!(std::env::var("GMP_MAXPROCS").unwrap(), v);
            let r = catch_unwind(|| gmp::run(|| 1));
            match r {
                Ok(_) => println!("NO PANIC"),
                Err(e) => println!("PANIC: {}", panic_message(&*e).unwrap_or_default()),
            }
            std::process::exit(0);
        }
    }
    for bad in ["abc", "0", "-1", "2.5", ""] {
        let out = run_child(
            "bad_maxprocs_env_panics_with_a_clear_message",
            &format!("bad-maxprocs:{bad}"),
            &[("GMP_MAXPROCS", Some(bad))],
            CHILD_TIMEOUT,
        );
        assert!(out.status.success(), "{}", out.describe());
        let line = out
            .stdout
            .lines()
            .find_map(|l| l.split_once("PANIC: ").map(|x| x.1.to_string()))
            .unwrap_or_else(|| panic!("GMP_MAXPROCS={bad:?} did not panic\n{}", out.describe()));
        assert!(line.contains("GMP_MAXPROCS"), "{line}");
        assert!(
            line.contains(&format!("{bad:?}")),
            "message should quote the value: {line}"
        );
    }
}

#[test]
fn schedtrace_env_prints_sched_lines() {
    if child_mode().as_deref() == Some("schedtrace") {
        gmp::Runtime::builder().procs(2).run(|| {
            let hs: Vec<_> = (0..4)
                .map(|_| gmp::spawn(|| gmp::sleep(Duration::from_millis(150))))
                .collect();
            gmp::sleep(Duration::from_millis(200));
            for h in hs {
                h.join().unwrap();
            }
        });
        println!("CHILD OK");
        std::process::exit(0);
    }
    let out = run_child(
        "schedtrace_env_prints_sched_lines",
        "schedtrace",
        &[("GMP_SCHEDTRACE", Some("20"))],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(out.stdout.contains("CHILD OK"), "{}", out.describe());
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("SCHED "))
        .collect();
    assert!(!lines.is_empty(), "no SCHED lines\n{}", out.describe());
    for l in &lines {
        assert!(l.contains("gomaxprocs=2"), "{l}");
        for field in [
            "idleprocs=",
            "threads=",
            "spinningthreads=",
            "idlethreads=",
            "runqueue=",
        ] {
            assert!(l.contains(field), "{l} lacks {field}");
        }
        // One queue length per P, in brackets.
        let q = l
            .rsplit_once('[')
            .map(|x| x.1.trim_end_matches(']'))
            .unwrap_or("");
        assert_eq!(q.split_whitespace().count(), 2, "{l}");
    }
}

#[test]
fn no_schedtrace_without_the_env() {
    if child_mode().as_deref() == Some("no-schedtrace") {
        gmp::run(|| gmp::sleep(Duration::from_millis(50)));
        std::process::exit(0);
    }
    let out = run_child(
        "no_schedtrace_without_the_env",
        "no-schedtrace",
        &[],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(!out.stderr.contains("SCHED "), "{}", out.describe());
}

#[test]
fn bad_schedtrace_env_panics_and_the_next_runtime_works() {
    if child_mode().as_deref() == Some("bad-schedtrace") {
        let r = catch_unwind(|| gmp::run(|| 1));
        match r {
            Ok(_) => println!("NO PANIC"),
            Err(e) => println!("PANIC: {}", panic_message(&*e).unwrap_or_default()),
        }
        // The child runs this one test on one thread, so changing the environment is safe.
        std::env::remove_var("GMP_SCHEDTRACE");
        let v = gmp::run(|| gmp::spawn(|| 5).join().unwrap());
        println!("after: {v}");
        std::process::exit(0);
    }
    let out = run_child(
        "bad_schedtrace_env_panics_and_the_next_runtime_works",
        "bad-schedtrace",
        &[("GMP_SCHEDTRACE", Some("soon"))],
        CHILD_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("PANIC: GMP_SCHEDTRACE"),
        "{}",
        out.describe()
    );
    assert!(out.stdout.contains("\"soon\""), "{}", out.describe());
    assert!(out.stdout.contains("after: 5"), "{}", out.describe());
}
