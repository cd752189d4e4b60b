//! `gmp::debug::goroutines()` and `goroutines_grouped()`: goroutines parked in known
//! functions on a channel, a `select!`, `sleep`, a `Mutex`, a `RwLock`, a `WaitGroup`,
//! a socket read and a `join` each show their wait reason, their function and their
//! creator; a goroutine spinning without ever yielding is reported as running on
//! another thread and does not hold the dump up; 100,000 goroutines parked at one site
//! make one group.

mod common;

use common::Watchdog;
use std::hint::black_box;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[inline(never)]
fn park_on_chan(rx: gmp::chan::Receiver<u32>) {
    black_box(rx.recv().ok());
}

#[inline(never)]
fn park_in_select(a: gmp::chan::Receiver<u32>, b: gmp::chan::Receiver<u32>) {
    let v = gmp::select! {
        recv(a) -> v => v.ok(),
        recv(b) -> v => v.ok(),
    };
    black_box(v);
}

#[inline(never)]
fn park_in_sleep() {
    gmp::sleep(Duration::from_secs(3600));
    // Not a tail call: this frame stays on the stack under `sleep`.
    black_box(());
}

#[inline(never)]
fn park_on_mutex(m: Arc<gmp::sync::Mutex<u32>>) {
    black_box(*m.lock());
}

#[inline(never)]
fn park_on_rwlock(l: Arc<gmp::sync::RwLock<u32>>) {
    black_box(*l.read());
}

#[inline(never)]
fn park_on_waitgroup(wg: Arc<gmp::sync::WaitGroup>) {
    wg.wait();
}

#[inline(never)]
fn park_on_socket(mut s: gmp::net::TcpStream) {
    let mut b = [0u8; 16];
    black_box(s.read(&mut b).ok());
}

#[inline(never)]
fn park_in_join(h: gmp::JoinHandle<()>) {
    black_box(h.join().ok());
}

/// Never yields: a loop of plain loads until `stop`.
#[inline(never)]
fn spin(stop: Arc<AtomicBool>, running: Arc<AtomicBool>) {
    running.store(true, SeqCst);
    while !stop.load(SeqCst) {
        black_box(0u64);
    }
}

/// The dump's block for the goroutine whose frames include `func`.
fn block_with<'a>(dump: &'a str, func: &str) -> Option<&'a str> {
    dump.split("\n\n").find(|b| b.contains(func))
}

#[test]
fn dump_shows_reason_function_and_creator_of_each_goroutine() {
    let _w = Watchdog::new("goroutine dump", Duration::from_secs(120));
    gmp::Runtime::builder().procs(3).run(|| {
        let (ctx, crx) = gmp::chan::bounded::<u32>(0);
        let (sa_tx, sa) = gmp::chan::bounded::<u32>(0);
        let (sb_tx, sb) = gmp::chan::bounded::<u32>(0);
        let m = Arc::new(gmp::sync::Mutex::new(0));
        let rw = Arc::new(gmp::sync::RwLock::new(0));
        let wg = Arc::new(gmp::sync::WaitGroup::new());
        wg.add(1);
        let ln = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        let client = gmp::net::TcpStream::connect(addr).unwrap();
        let (server, _) = ln.accept().unwrap();
        let held = m.lock();
        let wheld = rw.write();
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(AtomicBool::new(false));

        let mut hs = Vec::new();
        hs.push(gmp::spawn(move || park_on_chan(crx)));
        hs.push(gmp::spawn(move || park_in_select(sa, sb)));
        let sleeper = gmp::spawn(park_in_sleep);
        let m2 = m.clone();
        hs.push(gmp::spawn(move || park_on_mutex(m2)));
        let rw2 = rw.clone();
        hs.push(gmp::spawn(move || park_on_rwlock(rw2)));
        let wg2 = wg.clone();
        hs.push(gmp::spawn(move || park_on_waitgroup(wg2)));
        hs.push(gmp::spawn(move || park_on_socket(server)));
        let (jtx, jrx) = gmp::chan::bounded::<()>(0);
        let target = gmp::spawn(move || {
            let _ = jrx.recv();
        });
        hs.push(gmp::spawn(move || park_in_join(target)));
        let (st, rn) = (stop.clone(), running.clone());
        hs.push(gmp::spawn(move || spin(st, rn)));

        let want = [
            ("park_on_chan", "chan receive"),
            ("park_in_select", "select"),
            ("park_in_sleep", "sleep"),
            ("park_on_mutex", "sync.Mutex.Lock"),
            ("park_on_rwlock", "sync.RWMutex.RLock"),
            ("park_on_waitgroup", "sync.WaitGroup.Wait"),
            ("park_on_socket", "IO wait"),
            ("park_in_join", "join"),
        ];
        // Wait until every goroutine is parked where it should be.
        let dump = loop {
            let d = gmp::debug::goroutines();
            let parked = want.iter().all(|(f, why)| {
                block_with(&d, &format!("goroutine_dump::{f}"))
                    .is_some_and(|b| b.contains(&format!("[{why}]")))
            });
            if parked && running.load(SeqCst) {
                break d;
            }
            gmp::sleep(Duration::from_millis(5));
        };
        println!("{dump}");
        // The caller first, running, with its own frames.
        assert!(dump.starts_with("goroutine 1 [running]:\n"), "{dump}");
        let me = block_with(&dump, "goroutine 1 [running]").unwrap();
        assert!(me.contains("goroutine_dump::dump_shows_reason"), "{me}");
        for (f, why) in want {
            let b = block_with(&dump, &format!("goroutine_dump::{f}")).unwrap();
            let head = b.lines().next().unwrap();
            assert!(head.ends_with(&format!(" [{why}]:")), "{f}: {b}");
            // The function appears with its file and line.
            assert!(b.contains("tests/goroutine_dump.rs:"), "{f}: {b}");
            // Frames end at the goroutine's code: no runtime entry, no catch_unwind.
            assert!(!b.contains("run_start") && !b.contains("g_entry"), "{f}: {b}");
            assert!(!b.contains("catch_unwind"), "{f}: {b}");
            // Its creator: this test's function, in goroutine 1, at the spawn line.
            assert!(
                b.contains(
                    "created by goroutine_dump::dump_shows_reason_function_and_creator_of_each_goroutine in goroutine 1\n\ttests/goroutine_dump.rs:"
                ) || b.contains("in goroutine 1\n\t") && b.contains("goroutine_dump.rs:"),
                "{f}: {b}"
            );
        }
        // A spawned function item: its creator is named as such.
        let b = block_with(&dump, "goroutine_dump::park_in_sleep(...)").unwrap();
        assert!(b.contains("created by spawn of goroutine_dump::park_in_sleep in goroutine 1"), "{b}");
        // The join's target, parked in a closure, is created by this test.
        // The spinner runs on another M: stack unavailable, and the dump did not wait.
        let spinner = dump
            .split("\n\n")
            .find(|b| b.contains("goroutine running on other thread"))
            .expect("the spinner is listed as running");
        assert!(spinner.contains("[running]:"), "{spinner}");

        // The grouped form names each reason once.
        let g = gmp::debug::goroutines_grouped();
        assert!(g.starts_with("goroutine profile: total "), "{g}");
        assert!(g.contains("# [chan receive]") && g.contains("goroutine_dump::park_on_chan"), "{g}");

        stop.store(true, SeqCst);
        drop(held);
        drop(wheld);
        wg.done();
        ctx.send(1).unwrap();
        sa_tx.send(1).unwrap();
        drop(sb_tx);
        drop(client);
        jtx.send(()).unwrap();
        for h in hs {
            h.join().unwrap();
        }
        drop(sleeper);
    });
}

#[inline(never)]
fn parked_worker(rx: gmp::chan::Receiver<()>) {
    black_box(rx.recv().ok());
}

#[test]
fn grouped_dump_of_100k_parked_goroutines_is_one_group() {
    const N: usize = 100_000;
    let _w = Watchdog::new("100k dump", Duration::from_secs(300));
    gmp::Runtime::builder().procs(2).run(|| {
        let (tx, rx) = gmp::chan::bounded::<()>(0);
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let rx = rx.clone();
                gmp::spawn(move || parked_worker(rx))
            })
            .collect();
        // Wait until all are parked.
        while !gmp::debug::goroutines_grouped().contains(&format!("{N} @")) {
            gmp::sleep(Duration::from_millis(20));
        }
        let t = Instant::now();
        let g = gmp::debug::goroutines_grouped();
        println!("grouped dump of {N} parked goroutines: {:?}", t.elapsed());
        let first_group = g.lines().nth(1).unwrap();
        assert!(first_group.starts_with(&format!("{N} @ 0x")), "{g}");
        let block = g.split("\n\n").next().unwrap();
        assert!(block.contains("# [chan receive]"), "{block}");
        assert!(block.contains("goroutine_dump::parked_worker"), "{block}");
        let t = Instant::now();
        let full = gmp::debug::goroutines();
        println!(
            "full dump of {N} parked goroutines: {:?}, {} bytes",
            t.elapsed(),
            full.len()
        );
        assert_eq!(full.matches("[chan receive]:").count(), N);
        drop(tx);
        for h in hs {
            h.join().unwrap();
        }
    });
}

/// Child body: goroutines parked in known places, then SIGQUIT to this process.
fn quit_child() {
    gmp::run(|| {
        let (_tx, rx) = gmp::chan::bounded::<u32>(0);
        let h = gmp::spawn(move || park_on_chan(rx));
        while !gmp::debug::goroutines().contains("[chan receive]") {
            gmp::sleep(Duration::from_millis(5));
        }
        // SAFETY: kill(2) to this process.
        unsafe { libc::kill(libc::getpid(), libc::SIGQUIT) };
        // sysmon serves it within a tick; the process never gets past this.
        gmp::sleep(Duration::from_secs(60));
        drop(h);
        println!("still alive after SIGQUIT");
    });
}

#[test]
fn sigquit_prints_the_dump_and_exits_with_status_2() {
    if common::child_mode().is_some() {
        return quit_child();
    }
    let name = "sigquit_prints_the_dump_and_exits_with_status_2";
    let out = common::run_child(
        name,
        "quit",
        &[("GMP_TRACEBACK", None)],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("SIGQUIT: quit"), "{}", out.describe());
    let b = block_with(&out.stderr, "goroutine_dump::park_on_chan")
        .unwrap_or_else(|| panic!("{}", out.describe()));
    assert!(b.contains("[chan receive]:"), "{}", out.describe());
    assert!(out.stderr.contains("goroutine 1 ["), "{}", out.describe());
    // GMP_TRACEBACK=none: the same exit, no goroutines.
    let out = common::run_child(
        name,
        "quit",
        &[("GMP_TRACEBACK", Some("none"))],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("SIGQUIT: quit"), "{}", out.describe());
    assert!(!out.stderr.contains("goroutine "), "{}", out.describe());
}

#[inline(never)]
fn park_for_good() {
    gmp::park_forever();
}

#[test]
fn deadlock_report_prints_the_dump() {
    if common::child_mode().is_some() {
        gmp::run(|| {
            let h = gmp::spawn(park_for_good);
            let _ = h.join();
        });
        return;
    }
    let name = "deadlock_report_prints_the_dump";
    let out = common::run_child(
        name,
        "deadlock",
        &[("GMP_TRACEBACK", None)],
        Duration::from_secs(60),
    );
    assert!(!out.status.success(), "{}", out.describe());
    let e = &out.stderr;
    assert!(
        e.contains("all goroutines are asleep - deadlock!\n\ngoroutine 1 [running]:"),
        "{}",
        out.describe()
    );
    let b = block_with(e, "goroutine_dump::park_for_good")
        .unwrap_or_else(|| panic!("{}", out.describe()));
    assert!(b.contains("[park forever]:"), "{}", out.describe());
    // The main goroutine's frames show where it waited.
    let main = block_with(e, "goroutine 1 [running]").unwrap();
    assert!(main.contains("JoinHandle<T>::join"), "{}", out.describe());
}

/// Every goroutine block of a dump is well formed: a header, and for a goroutine other
/// than the caller, frames that start at the switch (`mcall`) or none at all.
fn check_well_formed(dump: &str) -> usize {
    let mut n = 0;
    for b in dump.split("\n\n").filter(|b| !b.trim().is_empty()) {
        // Called outside a runtime, each runtime's section starts with `runtime N:`.
        let mut lines = b.lines().skip_while(|l| l.starts_with("runtime "));
        let Some(head) = lines.next() else { continue };
        assert!(
            head.starts_with("goroutine ") && head.ends_with("]:"),
            "{head}\n{b}"
        );
        if head.contains("[running]") {
            continue;
        }
        if let Some(first) = lines
            .next()
            .filter(|l| !l.starts_with('\t') && !l.starts_with("created by"))
        {
            assert!(first.starts_with("gmp_core::arch::x86_64::mcall"), "{b}");
        }
        n += 1;
    }
    n
}

#[test]
fn dumps_while_goroutines_park_wake_spawn_and_exit() {
    let _w = Watchdog::new("dump under churn", Duration::from_secs(120));
    gmp::Runtime::builder().procs(2).run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let mut hs = Vec::new();
        for _ in 0..4 {
            let stop = stop.clone();
            hs.push(gmp::spawn(move || {
                while !stop.load(SeqCst) {
                    // Short-lived goroutines that ping-pong, yield and exit.
                    let (tx, rx) = gmp::chan::bounded::<u32>(0);
                    let h = gmp::spawn(move || {
                        for i in 0..50 {
                            tx.send(i).unwrap();
                            gmp::yield_now();
                        }
                    });
                    while rx.recv().is_ok() {}
                    h.join().unwrap();
                }
            }));
        }
        // From a plain thread too: the dump of a runtime it is not part of.
        let outside = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(SeqCst) {
                    check_well_formed(&gmp::debug::goroutines());
                    n += 1;
                }
                n
            })
        };
        let t = Instant::now();
        let mut dumps = 0;
        while t.elapsed() < Duration::from_secs(2) {
            check_well_formed(&gmp::debug::goroutines());
            assert!(gmp::debug::goroutines_grouped().starts_with("goroutine profile: total "));
            dumps += 1;
        }
        stop.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        let n = outside.join().unwrap();
        println!("{dumps} dumps from a goroutine, {n} from a plain thread, under churn");
        assert!(dumps > 0 && n > 0);
    });
}

/// Never-ending recursion with 1 KiB of locals per frame.
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

#[test]
fn stack_overflow_lists_the_goroutines() {
    if common::child_mode().is_some() {
        gmp::run(|| {
            let (_tx, rx) = gmp::chan::bounded::<u32>(0);
            let _h = gmp::spawn(move || park_on_chan(rx));
            while !gmp::debug::goroutines().contains("[chan receive]") {
                gmp::sleep(Duration::from_millis(5));
            }
            let h = gmp::Builder::new()
                .stack_size(64 << 10)
                .spawn(|| black_box(recurse_forever(0)))
                .unwrap();
            let _ = h.join();
        });
        return;
    }
    let name = "stack_overflow_lists_the_goroutines";
    let out = common::run_child(
        name,
        "overflow",
        &[("GMP_TRACEBACK", None)],
        Duration::from_secs(60),
    );
    let e = &out.stderr;
    assert!(
        e.contains("overflowed its stack of 64 KiB"),
        "{}",
        out.describe()
    );
    let b = block_with(e, "[chan receive]:").unwrap_or_else(|| panic!("{}", out.describe()));
    assert!(
        b.contains("created by goroutine_dump::stack_overflow_lists_the_goroutines in goroutine 1\n\ttests/goroutine_dump.rs:"),
        "{}",
        out.describe()
    );
    assert!(e.contains("goroutine 1 [join]:"), "{}", out.describe());
    assert!(e.contains(" [running]:"), "{}", out.describe());
}
