//! A goroutine that parks while it unwinds (a destructor sleeps, waits on a channel or a
//! socket) must finish unwinding on the thread it started on: std counts panics per
//! thread, so a goroutine that moved would leave its old thread "panicking" (every later
//! goroutine there would see `thread::panicking()`, and its next panic would abort the
//! process as a panic inside a panic) and its new thread's count wrong.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// The goroutines here panic on purpose; keep their messages out of the test output.
fn quiet_expected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !msg.starts_with("unwinding goroutine") && !msg.starts_with("caught ") {
            default(info);
        }
    }));
}

fn tid() -> u64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u64 }
}

/// Parks a few times in its destructor, recording whether it ever resumed on another
/// thread than the one that started unwinding.
struct ParksWhileDropped {
    moved: Arc<AtomicUsize>,
    rx: Option<gmp::chan::Receiver<()>>,
}

impl Drop for ParksWhileDropped {
    fn drop(&mut self) {
        assert!(std::thread::panicking(), "dropped by the unwind");
        let start = tid();
        for i in 0..20 {
            match (i % 3, &self.rx) {
                (0, _) => gmp::sleep(Duration::from_micros(200)),
                (1, Some(rx)) => {
                    let _ = rx.recv();
                }
                _ => gmp::yield_now(),
            }
            if tid() != start {
                self.moved.fetch_add(1, SeqCst);
            }
            assert!(std::thread::panicking(), "still unwinding after a park");
        }
    }
}

#[test]
fn goroutine_parking_mid_unwind_stays_on_its_thread() {
    quiet_expected_panics();
    gmp::Runtime::builder().procs(2).run(|| {
        let moved = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        // Busy goroutines on both Ps, so a readied goroutine is likely to be picked
        // up by the other thread.
        let busy: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                gmp::spawn(move || {
                    while !stop.load(SeqCst) {
                        gmp::yield_now();
                    }
                })
            })
            .collect();
        for round in 0..50 {
            let (tx, rx) = gmp::chan::bounded::<()>(0);
            let moved2 = moved.clone();
            let h = gmp::spawn(move || {
                let _d = ParksWhileDropped {
                    moved: moved2,
                    rx: Some(rx),
                };
                panic!("unwinding goroutine {round}");
            });
            // Feed the destructor's channel receives from here (another goroutine,
            // which may run on the other thread).
            for _ in 0..7 {
                if tx.send(()).is_err() {
                    break;
                }
            }
            let err = h.join().expect_err("the goroutine panicked");
            let msg = err.downcast_ref::<String>().map(String::as_str);
            assert_eq!(msg, Some(format!("unwinding goroutine {round}").as_str()));
        }
        // Every thread's panic count is back to zero: no goroutine, on either thread,
        // sees a panic in progress, and a new panic on each is caught (a wrong count
        // would abort the process as a panic inside a panic).
        let checks: Vec<_> = (0..64)
            .map(|i| {
                gmp::spawn(move || {
                    gmp::yield_now();
                    assert!(
                        !std::thread::panicking(),
                        "goroutine {i} sees a stale panic"
                    );
                    let r = catch_unwind(AssertUnwindSafe(|| panic!("caught {i}")));
                    assert!(r.is_err());
                    assert!(!std::thread::panicking());
                })
            })
            .collect();
        for h in checks {
            h.join().expect("no stale panic count on any thread");
        }
        stop.store(true, SeqCst);
        for h in busy {
            h.join().unwrap();
        }
        assert_eq!(
            moved.load(SeqCst),
            0,
            "a goroutine resumed on another thread while unwinding"
        );
    });
}

#[test]
fn goroutine_losing_its_p_mid_unwind_stays_on_its_thread() {
    // The unwinding goroutine blocks its thread for 30 ms without telling the runtime,
    // so sysmon hands its P to another M, which keeps it busy: when the goroutine parks
    // next it has no P and finds no idle one, the path that requeues a goroutine on the
    // global queue. It must still resume on its own thread.
    quiet_expected_panics();
    gmp::Runtime::builder().procs(1).run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let busy = gmp::spawn(move || {
            while !stop2.load(SeqCst) {
                gmp::yield_now();
            }
        });
        struct BlocksThenParks(Arc<AtomicUsize>);
        impl Drop for BlocksThenParks {
            fn drop(&mut self) {
                let start = tid();
                std::thread::sleep(Duration::from_millis(30));
                for _ in 0..5 {
                    gmp::sleep(Duration::from_micros(100));
                    gmp::yield_now();
                    if tid() != start {
                        self.0.fetch_add(1, SeqCst);
                    }
                    assert!(std::thread::panicking());
                }
            }
        }
        let moved = Arc::new(AtomicUsize::new(0));
        let retakes = gmp::stats().retakes;
        for round in 0..3 {
            let m = moved.clone();
            let h = gmp::spawn(move || {
                let _d = BlocksThenParks(m);
                panic!("unwinding goroutine {round}");
            });
            assert!(h.join().is_err());
        }
        assert!(
            gmp::stats().retakes > retakes,
            "sysmon never took the P, so the requeue path was not exercised"
        );
        let r = catch_unwind(AssertUnwindSafe(|| panic!("caught main")));
        assert!(r.is_err());
        stop.store(true, SeqCst);
        busy.join().unwrap();
        assert_eq!(
            moved.load(SeqCst),
            0,
            "resumed on another thread mid-unwind"
        );
    });
}
