//! Faults the runtime must survive (issue 19): the kernel refusing a goroutine stack or a
//! thread. Each fault is made real in a child process of this test binary (a limit
//! lowered there never touches the other tests): a low `RLIMIT_AS` refuses the `mmap` of
//! a stack chunk; a low `RLIMIT_NPROC`, after the child gave up root (a process with
//! `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN` is not held to that limit), refuses `clone`.
//! What must hold: a clear error or panic message, never undefined behaviour or a hang,
//! and the goroutines that need nothing new keep running.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `VmSize` of this process, in bytes.
fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    kb << 10
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) {
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: setrlimit with a valid struct, on this (child) process only.
    let r = unsafe { libc::setrlimit(resource, &lim) };
    assert_eq!(r, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn a_refused_stack_is_an_error_from_builder_and_a_panic_from_spawn() {
    if common::child_mode().as_deref() == Some("stack") {
        // 64 MiB stacks: a chunk holds 16 of them, so the 17th goroutine needs a new
        // 1 GiB mapping, which the address-space limit below refuses.
        gmp::Runtime::builder()
            .procs(1)
            .stack_size(64 << 20)
            .run(stack_child);
        return;
    }
    let out = common::run_child(
        "a_refused_stack_is_an_error_from_builder_and_a_panic_from_spawn",
        "stack",
        &[],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success() && out.stdout.contains("STACK-FAULT-OK"),
        "{}",
        out.describe()
    );
}

fn stack_child() {
    // Room for heap and a few thread stacks, not for another 1 GiB stack chunk.
    set_limit(libc::RLIMIT_AS, vm_size() + (256 << 20));
    let (tx, rx) = gmp::chan::unbounded::<()>();
    let mut parked = Vec::new();
    let err = loop {
        let rx = rx.clone();
        match gmp::Builder::new().spawn(move || {
            let _ = rx.recv();
        }) {
            Ok(h) => parked.push(h),
            Err(e) => break e,
        }
        assert!(parked.len() < 64, "64 stacks of 64 MiB fit under RLIMIT_AS");
    };
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("goroutine stacks"), "{msg}");
    println!("Builder::spawn: {msg} (after {} goroutines)", parked.len());
    // `gmp::spawn` panics with the same reason, on this goroutine, which goes on.
    let p = std::panic::catch_unwind(|| gmp::spawn(|| ())).unwrap_err();
    let pm = common::panic_message(&*p).unwrap();
    assert!(
        pm.starts_with("gmp::spawn: ") && pm.contains("goroutine stacks"),
        "{pm}"
    );
    println!("gmp::spawn panicked: {pm}");
    // Everything already running is intact: wake and join the parked goroutines, and
    // their stacks serve new goroutines again.
    drop(tx);
    for h in parked.drain(..) {
        h.join().unwrap();
    }
    let n: u32 = (0..8u32)
        .map(|i| gmp::spawn(move || i))
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(n, 28);
    println!("STACK-FAULT-OK");
}

/// Gives up root in this (child) process, so `RLIMIT_NPROC` binds: changing every uid
/// away from 0 clears the capabilities (no `SECBIT_KEEP_CAPS` is set). `false` if it
/// cannot (not root and not otherwise privileged: the limit binds anyway).
fn drop_root() {
    // SAFETY: plain id queries.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    // 65534 is `nobody` on Debian and most distributions; any unprivileged uid will do.
    // SAFETY: setgroups/setresgid/setresuid with valid arguments; glibc applies them to
    // every thread of the process.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
        assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim();
    assert_eq!(
        u64::from_str_radix(eff, 16).unwrap(),
        0,
        "capabilities left after setresuid: {eff}"
    );
}

/// No new thread from here on: the process gave up root, and `RLIMIT_NPROC` 0 is below
/// any count of its user's tasks.
fn refuse_threads() {
    drop_root();
    set_limit(libc::RLIMIT_NPROC, 0);
    assert!(
        std::thread::Builder::new().spawn(|| ()).is_err(),
        "a thread was still created under RLIMIT_NPROC 0"
    );
}

/// The thread-creation faults run in one child each; each prints its marker at the end.
fn thread_fault(mode: &str, marker: &str) {
    let out = common::run_child(
        &format!("thread_creation_refused_{mode}"),
        mode,
        &[("RUST_LOG", Some("gmp_core=error"))],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success() && out.stdout.contains(marker),
        "{}",
        out.describe()
    );
}

/// Counts ticks of goroutines that only sleep: they need no new thread, so they must
/// keep ticking on the Ms that exist while another goroutine's thread is blocked.
struct Tickers {
    ticks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handles: Vec<gmp::JoinHandle<()>>,
}

impl Tickers {
    fn start(n: usize) -> Tickers {
        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..n)
            .map(|_| {
                let (t, s) = (ticks.clone(), stop.clone());
                gmp::spawn(move || {
                    while !s.load(SeqCst) {
                        gmp::sleep(Duration::from_millis(2));
                        t.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        Tickers {
            ticks,
            stop,
            handles,
        }
    }

    fn count(&self) -> usize {
        self.ticks.load(SeqCst)
    }

    fn stop(self) {
        self.stop.store(true, SeqCst);
        for h in self.handles {
            h.join().unwrap();
        }
    }
}

/// A tracing subscriber that keeps the runtime's error events, to check the message.
fn capture_errors() -> Arc<Mutex<Vec<u8>>> {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            std::io::stderr().write_all(b)?;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink(buf.clone());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();
    buf
}

fn captured(buf: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// The runtime said a thread could not start, and said it without flooding the log
/// (every `wakep` retries; the log is rate-limited to a line a second).
fn assert_refusal_logged(log: &str) {
    let lines = log.matches("cannot start a runtime thread").count();
    assert!((1..=3).contains(&lines), "{lines} lines:\n{log}");
}

/// Two Ps with their Ms running before threads are refused: the goroutines on the P
/// that keeps its M go on ticking through a blocking call whose hand-off cannot start
/// a thread.
#[test]
fn thread_creation_refused_blocking() {
    if common::child_mode().as_deref() == Some("blocking") {
        let log = capture_errors();
        gmp::Runtime::builder().procs(2).run(move || {
            warm_up_two_ms();
            refuse_threads();
            let tickers = Tickers::start(8);
            // Queued work on this P when the call gives it up: the hand-off wants a
            // new M for it, and gets none.
            let before = tickers.count();
            let r = gmp::blocking(|| {
                common::block_thread(Duration::from_millis(300));
                7
            });
            assert_eq!(r, 7);
            let during = tickers.count() - before;
            assert!(during > 0, "no goroutine ran during the blocking call");
            tickers.stop();
            let logged = captured(&log);
            assert_refusal_logged(&logged);
            println!("ticks during the call: {during}; log: {logged:?}");
            println!("BLOCKING-OK");
        });
        return;
    }
    thread_fault("blocking", "BLOCKING-OK");
}

/// The resolver runs `getaddrinfo` on a thread of its own (`off_p`): when that thread
/// cannot start, the lookup fails with an error that says so, and nothing else stops.
#[test]
fn thread_creation_refused_resolver() {
    if common::child_mode().as_deref() == Some("resolver") {
        gmp::Runtime::builder().procs(2).run(|| {
            let l = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            warm_up_two_ms();
            refuse_threads();
            let tickers = Tickers::start(4);
            let e = gmp::net::TcpStream::connect(("localhost", port)).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("thread") && msg.contains("localhost"),
                "unclear error: {msg}"
            );
            // An address needs no lookup and no thread.
            let _c = gmp::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let before = tickers.count();
            gmp::sleep(Duration::from_millis(50));
            assert!(tickers.count() > before, "tickers stopped");
            tickers.stop();
            println!("resolver: {msg}");
            println!("RESOLVER-OK");
        });
        return;
    }
    thread_fault("resolver", "RESOLVER-OK");
}

/// sysmon takes the P of a goroutine that blocks its thread unannounced and hands it
/// to a new M; when no thread can start, the P's goroutines are left to the M that is
/// still running, which steals them, and the failure is logged.
#[test]
fn thread_creation_refused_handoff() {
    if common::child_mode().as_deref() == Some("handoff") {
        let log = capture_errors();
        gmp::Runtime::builder().procs(2).run(move || {
            warm_up_two_ms();
            refuse_threads();
            let tickers = Tickers::start(8);
            let blocker = gmp::spawn(|| common::block_thread(Duration::from_millis(500)));
            gmp::sleep(Duration::from_millis(20));
            let before = tickers.count();
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(300) {
                gmp::sleep(Duration::from_millis(10));
            }
            assert!(tickers.count() > before, "tickers stopped");
            blocker.join().unwrap();
            tickers.stop();
            let logged = captured(&log);
            assert_refusal_logged(&logged);
            println!("log: {logged:?}");
            println!("HANDOFF-OK");
        });
        return;
    }
    thread_fault("handoff", "HANDOFF-OK");
}

/// Makes both Ms of a two-P runtime exist: two goroutines that each hold a P until the
/// other arrives.
fn warm_up_two_ms() {
    let (a_tx, a_rx) = std::sync::mpsc::channel::<()>();
    let (b_tx, b_rx) = std::sync::mpsc::channel::<()>();
    let h = gmp::spawn(move || {
        a_tx.send(()).unwrap();
        // Spin (holding this P) until the main goroutine is running on the other.
        while b_rx.try_recv().is_err() {
            std::hint::spin_loop();
        }
    });
    // Wait by spinning, so this goroutine keeps its P and the spawned one needs the
    // other P (and an M for it).
    while a_rx.try_recv().is_err() {
        std::hint::spin_loop();
    }
    b_tx.send(()).unwrap();
    h.join().unwrap();
    assert!(gmp::stats().threads >= 2, "{:?}", gmp::stats());
}
