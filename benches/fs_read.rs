//! What `gmp::blocking` costs around a file read, for the file server's choice of
//! wrapping every `pread` in it (`gmp-http/src/fs/mod.rs`, `CHUNK`). Reads a file that
//! is in the page cache (the common case for static files, and the one where the
//! wrapper's share of the cost is largest) at 64 KiB and 4 KiB, plainly and inside
//! `gmp::blocking`, from a goroutine while another goroutine keeps the second P busy
//! (so releasing the P has someone to hand it to, as in a loaded server).
//! Prints one `name value unit` line each.
//!
//! `cargo bench --bench fs_read` runs all; `cargo bench --bench fs_read -- NAME` runs
//! those whose name contains NAME.

use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn report(name: &str, value: f64, unit: &str, note: &str) {
    println!("{name:<32} {value:10.2} {unit}  {note}");
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let path = std::env::temp_dir().join(format!("gmp-fs-read-{}", std::process::id()));
    std::fs::write(&path, vec![7u8; 1 << 20]).expect("write the test file");
    let file = Arc::new(std::fs::File::open(&path).expect("open the test file"));
    // Warm the page cache.
    let _ = std::fs::read(&path);
    if want("blocking empty") {
        let n = 2_000_000;
        let t = in_runtime(move || {
            let t = Instant::now();
            for _ in 0..n {
                gmp::blocking(|| black_box(()));
            }
            t.elapsed()
        });
        report(
            "blocking empty",
            ns(t, n),
            "ns/op",
            "(release and retake the P)",
        );
    }
    for (size, n) in [(64usize << 10, 100_000u64), (4 << 10, 1_000_000)] {
        for wrapped in [false, true] {
            let name = format!(
                "pread {} KiB{}",
                size >> 10,
                if wrapped { " in blocking" } else { " plain" }
            );
            if !want(&name) {
                continue;
            }
            let f = file.clone();
            let t = in_runtime(move || {
                let mut buf = vec![0u8; size];
                let t = Instant::now();
                for i in 0..n {
                    let at = (i * size as u64) % (1 << 20);
                    let r = if wrapped {
                        gmp::blocking(|| f.read_at(&mut buf, at))
                    } else {
                        f.read_at(&mut buf, at)
                    };
                    black_box(r.expect("pread"));
                }
                t.elapsed()
            });
            report(&name, ns(t, n) / 1000.0, "us/op", &format!("({n} reads)"));
        }
    }
    let _ = std::fs::remove_file(&path);
}

fn ns(t: Duration, n: u64) -> f64 {
    t.as_nanos() as f64 / n as f64
}

/// Runs `f` on a goroutine of a 2-P runtime while another goroutine spins on the
/// other P (yielding), so a released P is handed to someone.
fn in_runtime(f: impl FnOnce() -> Duration + Send + 'static) -> Duration {
    gmp::Runtime::builder().procs(2).run(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let spinner = gmp::spawn(move || {
            while !s.load(SeqCst) {
                gmp::yield_now();
            }
        });
        let t = gmp::spawn(f).join().expect("the measured goroutine");
        stop.store(true, SeqCst);
        spinner.join().expect("the spinner");
        t
    })
}
