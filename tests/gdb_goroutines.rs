//! gmp-gdb.py in gdb's batch mode, on a live process (`gdb -batch -p PID`) and on a core
//! file (`gcore`): `info goroutines` lists each goroutine with its wait reason and the
//! function it parked in, and `goroutine N bt` shows that function on its stack. The
//! script is also embedded in the binary (`.debug_gdb_scripts`), which gdb auto-loads.

mod common;

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

#[inline(never)]
fn gdb_parked_on_chan(rx: gmp::chan::Receiver<u32>) {
    black_box(rx.recv().ok());
}

#[inline(never)]
fn gdb_parked_on_mutex(m: Arc<gmp::sync::Mutex<u32>>) {
    black_box(*m.lock());
}

#[inline(never)]
fn gdb_parked_in_sleep() {
    gmp::sleep(Duration::from_secs(3600));
    // Not a tail call: this frame stays on the stack under `sleep`.
    black_box(());
}

/// The child: three goroutines parked in the functions above; prints `ready`, then
/// waits for its stdin to close.
fn child() {
    gmp::Runtime::builder().procs(2).run(|| {
        let (_tx, rx) = gmp::chan::bounded::<u32>(0);
        let m = Arc::new(gmp::sync::Mutex::new(0));
        let held = m.lock();
        let m2 = m.clone();
        let _a = gmp::spawn(move || gdb_parked_on_chan(rx));
        let _b = gmp::spawn(move || gdb_parked_on_mutex(m2));
        let _c = gmp::spawn(gdb_parked_in_sleep);
        loop {
            let d = gmp::debug::goroutines();
            if ["[chan receive]", "[sync.Mutex.Lock]", "[sleep]"]
                .iter()
                .all(|w| d.contains(w))
            {
                break;
            }
            gmp::sleep(Duration::from_millis(5));
        }
        println!("ready {}", std::process::id());
        // Blocks this goroutine's thread until the parent closes stdin.
        let mut s = String::new();
        let _ = gmp::blocking(|| std::io::stdin().read_line(&mut s));
        drop(held);
        std::process::exit(0);
    });
}

fn script() -> String {
    format!("{}/gmp-core/gmp-gdb.py", env!("CARGO_MANIFEST_DIR"))
}

/// Runs gdb in batch mode with `args` and the script's commands; returns its stdout.
fn gdb(target: &[&str], cmds: &[String]) -> String {
    let mut c = Command::new("gdb");
    c.args(["-nx", "-batch", "-ex", &format!("source {}", script())]);
    for cmd in cmds {
        c.args(["-ex", cmd]);
    }
    c.args(target);
    let out = c.output().expect("run gdb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!(
        "{text}\n--- gdb stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The id of the goroutine whose `info goroutines` line names `func`.
fn id_of(info: &str, func: &str, reason: &str) -> u64 {
    let line = info
        .lines()
        .find(|l| l.contains(func))
        .unwrap_or_else(|| panic!("no goroutine in {func}:\n{info}"));
    assert!(line.contains(reason), "{line}");
    line.split_whitespace().next().unwrap().parse().unwrap()
}

fn check(target: &[&str]) {
    let info = gdb(target, &["info goroutines".to_string()]);
    let want = [
        ("gdb_goroutines::gdb_parked_on_chan", "chan receive"),
        ("gdb_goroutines::gdb_parked_on_mutex", "sync.Mutex.Lock"),
        ("gdb_goroutines::gdb_parked_in_sleep", "sleep"),
    ];
    for (func, reason) in want {
        let id = id_of(&info, func, reason);
        let bt = gdb(target, &[format!("goroutine {id} bt")]);
        assert!(bt.contains(&format!("goroutine {id} [{reason}]:")), "{bt}");
        assert!(bt.contains(func), "goroutine {id} bt lacks {func}:\n{bt}");
        assert!(bt.contains("gmp_core::proc::park::park"), "{bt}");
    }
    // The running main goroutine is marked.
    assert!(info.lines().any(|l| l.starts_with('*')), "{info}");
}

#[test]
fn gdb_lists_goroutines_and_their_stacks_live_and_in_a_core_file() {
    if common::child_mode().is_some() {
        return child();
    }
    if !common::tool("gdb") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut ch = Command::new(&exe)
        .args([
            "--exact",
            "gdb_lists_goroutines_and_their_stacks_live_and_in_a_core_file",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(common::CHILD_ENV, "gdb")
        // gcore cannot read a chunk of MADV_GUARD_INSTALL guards (proc/stack.rs).
        .env("GMP_STACK_GUARDS", "mprotect")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(ch.stdout.take().unwrap()).lines();
    let pid = loop {
        let l = lines.next().expect("the child says ready").unwrap();
        // libtest may have printed `test name ... ` before it on the same line.
        if let Some(p) = l.split("ready ").nth(1) {
            break p.trim().to_string();
        }
    };
    let core = std::env::temp_dir().join(format!("gmp-gdb-test-{pid}"));
    let result = std::panic::catch_unwind(|| {
        check(&["-p", &pid]);
        // gcore writes <prefix>.<pid>.
        let st = Command::new("gcore")
            .args(["-o", core.to_str().unwrap(), &pid])
            .stdout(Stdio::null())
            .status()
            .expect("run gcore");
        assert!(st.success());
        let file = format!("{}.{pid}", core.display());
        check(&[exe.to_str().unwrap(), &file]);
        let _ = std::fs::remove_file(&file);
    });
    drop(ch.stdin.take());
    let _ = ch.kill();
    let _ = ch.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn the_script_is_embedded_in_the_binary() {
    if common::child_mode().is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let bytes = std::fs::read(exe).unwrap();
    let needle = b"gmp's gdb extension";
    assert!(
        bytes.windows(needle.len()).any(|w| w == needle),
        "gmp-gdb.py is not in the test binary's .debug_gdb_scripts"
    );
}
