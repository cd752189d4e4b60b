//! A goroutine that parks while it unwinds (a destructor sleeps, waits on a channel or a
//! socket) must finish unwinding on the thread it started on: std counts panics per
//! thread, so a goroutine that moved would leave its old thread "panicking" (every later
//! goroutine there would see `thread::panicking()`, and its next panic would abort the
//! process as a panic inside a panic) and its new thread's count wrong.

mod common;

use common::{panic_message, Watchdog};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        if !msg.starts_with("unwinding goroutine")
            && !msg.starts_with("caught ")
            && !msg.starts_with("all goroutines are asleep")
        {
            default(info);
        }
    }));
}

/// `n` goroutines that keep their Ps busy, yielding, until `stop`.
fn spawn_yielders(n: usize, stop: &Arc<AtomicBool>) -> Vec<gmp::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let stop = stop.clone();
            gmp::spawn(move || {
                while !stop.load(SeqCst) {
                    gmp::yield_now();
                }
            })
        })
        .collect()
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
        let busy = spawn_yielders(4, &stop);
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
    // so sysmon hands its P to another M; busy goroutines keep every P busy, so when the
    // goroutine parks next it has no P and finds no idle one: the path that requeues a
    // goroutine on the global queue. It must still resume on its own thread.
    quiet_expected_panics();
    let _w = Watchdog::new("P lost mid-unwind", Duration::from_secs(60));
    gmp::Runtime::builder().procs(1).run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let busy = spawn_yielders(2 * gmp::stats().procs, &stop);
        struct BlocksThenParks(Arc<AtomicUsize>);
        impl Drop for BlocksThenParks {
            fn drop(&mut self) {
                let start = tid();
                common::block_thread(Duration::from_millis(30));
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
        for h in busy {
            h.join().unwrap();
        }
        assert_eq!(
            moved.load(SeqCst),
            0,
            "resumed on another thread mid-unwind"
        );
    });
}

/// Unwinds forever, mostly running between parks, so the runtime is likely to shut
/// down while the goroutine runs (its M not asleep) and then see it park.
struct UnwindsForever {
    parks: Arc<AtomicUsize>,
    sleep: bool,
}

impl Drop for UnwindsForever {
    fn drop(&mut self) {
        loop {
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(500) {}
            self.parks.fetch_add(1, SeqCst);
            if self.sleep {
                gmp::sleep(Duration::from_micros(50));
            } else {
                gmp::yield_now();
            }
        }
    }
}

#[test]
fn runtime_ends_while_a_goroutine_unwinds_through_parks() {
    // The main goroutine returns while another is mid-unwind: `run` must return, with
    // the unwinding goroutine's thread woken and ended whether it was asleep or running
    // (a park after the shutdown began once slept forever).
    quiet_expected_panics();
    let _w = Watchdog::new("shutdown mid-unwind", Duration::from_secs(60));
    for round in 0..40 {
        gmp::Runtime::builder().procs(2).run(move || {
            let parks = Arc::new(AtomicUsize::new(0));
            let p2 = parks.clone();
            let _h = gmp::spawn(move || {
                let _d = UnwindsForever {
                    parks: p2,
                    sleep: round % 2 == 1,
                };
                panic!("unwinding goroutine {round}");
            });
            while parks.load(SeqCst) < 3 {
                gmp::sleep(Duration::from_micros(100));
            }
        });
    }
}

#[test]
fn deadlock_is_reported_with_a_goroutine_parked_mid_unwind() {
    // The thread of a goroutine parked for good mid-unwind sleeps outside the idle list;
    // it still counts as idle, so the main goroutine's deadlock is reported.
    quiet_expected_panics();
    let _w = Watchdog::new("deadlock mid-unwind", Duration::from_secs(60));
    let r = catch_unwind(AssertUnwindSafe(|| {
        gmp::Runtime::builder().procs(2).run(|| {
            struct ParksForever;
            impl Drop for ParksForever {
                fn drop(&mut self) {
                    gmp::park_forever();
                }
            }
            let _h = gmp::spawn(|| {
                let _d = ParksForever;
                panic!("unwinding goroutine parks forever");
            });
            gmp::sleep(Duration::from_millis(20));
            gmp::park_forever();
        })
    }));
    let err = r.expect_err("the deadlock is reported");
    assert_eq!(
        panic_message(&*err).as_deref(),
        Some("all goroutines are asleep - deadlock!")
    );
}

#[test]
fn threads_asleep_mid_unwind_do_not_count_against_the_thread_limit() {
    // Each goroutine parked mid-unwind holds its thread. Counted against `max_threads`,
    // they kept the runtime from starting the M its timers needed, and it hung.
    quiet_expected_panics();
    let _w = Watchdog::new("thread limit mid-unwind", Duration::from_secs(60));
    let procs = 1;
    gmp::Runtime::builder()
        .procs(procs)
        .max_threads(procs + 2)
        .run(move || {
            struct Sleeps;
            impl Drop for Sleeps {
                fn drop(&mut self) {
                    for _ in 0..5 {
                        gmp::sleep(Duration::from_millis(1));
                    }
                }
            }
            let hs: Vec<_> = (0..procs + 4)
                .map(|i| {
                    gmp::spawn(move || {
                        let _d = Sleeps;
                        panic!("unwinding goroutine {i}");
                    })
                })
                .collect();
            for h in hs {
                assert!(h.join().is_err());
            }
        });
}

/// Unwinds through every kind of park: a sleep, a channel receive, a yield, `blocking`,
/// a thread block long enough for sysmon to take the P, and a `gmp::sync::Mutex`.
struct ParksEveryWay {
    moved: Arc<AtomicUsize>,
    rx: gmp::chan::Receiver<()>,
    k: usize,
}

impl Drop for ParksEveryWay {
    fn drop(&mut self) {
        let start = tid();
        for i in 0..12 {
            match (i + self.k) % 6 {
                0 => gmp::sleep(Duration::from_micros(50)),
                1 => {
                    let _ = self.rx.recv();
                }
                2 => gmp::yield_now(),
                3 => gmp::blocking(|| std::thread::sleep(Duration::from_micros(200))),
                4 if self.k % 7 == 0 => common::block_thread(Duration::from_millis(12)),
                4 => {}
                _ => {
                    let m = gmp::sync::Mutex::new(0);
                    *m.lock() += 1;
                }
            }
            if tid() != start {
                self.moved.fetch_add(1, SeqCst);
            }
            assert!(std::thread::panicking());
        }
    }
}

#[test]
fn stress_parks_of_every_kind_mid_unwind() {
    quiet_expected_panics();
    let _w = Watchdog::new("every park mid-unwind", Duration::from_secs(120));
    for procs in [1, 2, 4] {
        gmp::Runtime::builder().procs(procs).run(move || {
            let moved = Arc::new(AtomicUsize::new(0));
            for round in 0..6 {
                let pairs: Vec<_> = (0..16)
                    .map(|k| {
                        let (tx, rx) = gmp::chan::bounded::<()>(0);
                        let moved = moved.clone();
                        let h = gmp::spawn(move || {
                            let _d = ParksEveryWay {
                                moved,
                                rx,
                                k: k + round,
                            };
                            panic!("unwinding goroutine {k}");
                        });
                        let feeder = gmp::spawn(move || {
                            for _ in 0..12 {
                                if tx.send(()).is_err() {
                                    break;
                                }
                            }
                        });
                        (h, feeder)
                    })
                    .collect();
                for (h, feeder) in pairs {
                    assert!(h.join().is_err());
                    feeder.join().unwrap();
                }
            }
            let checks: Vec<_> = (0..64)
                .map(|i| {
                    gmp::spawn(move || {
                        gmp::yield_now();
                        assert!(!std::thread::panicking());
                        assert!(catch_unwind(AssertUnwindSafe(|| panic!("caught {i}"))).is_err());
                    })
                })
                .collect();
            for h in checks {
                h.join().expect("no stale panic count on any thread");
            }
            assert_eq!(
                moved.load(SeqCst),
                0,
                "resumed on another thread mid-unwind"
            );
        });
    }
}
