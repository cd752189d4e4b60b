//! Panics: a panicking goroutine's join gives `Err` with its payload and the runtime goes
//! on; a panic in the main goroutine comes out of `run`.

mod common;

use common::panic_message;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, PartialEq)]
struct CustomPayload(u32);

#[test]
fn panicking_goroutine_gives_err_and_runtime_goes_on() {
    gmp::run(|| {
        let h = gmp::spawn(|| -> u32 { panic!("boom {}", 42) });
        let err = h
            .join()
            .expect_err("join of a panicking goroutine must be Err");
        assert_eq!(panic_message(&*err).as_deref(), Some("boom 42"));

        let h = gmp::spawn(|| -> u32 { panic!("static boom") });
        let err = h.join().unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"static boom"));

        let h = gmp::spawn(|| std::panic::panic_any(CustomPayload(7)));
        let err = h.join().unwrap_err();
        assert_eq!(err.downcast_ref::<CustomPayload>(), Some(&CustomPayload(7)));

        // The runtime is fine afterwards.
        let hs: Vec<_> = (0..100u64).map(|i| gmp::spawn(move || i * 2)).collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 9900);
        gmp::sleep(Duration::from_millis(1));
        gmp::yield_now();
    });
}

#[test]
fn panic_after_yields_and_sleeps_unwinds_correctly() {
    // The panic unwinds a stack that has been switched away from and resumed, possibly on
    // another thread; destructors of its frames run.
    let drops = Arc::new(AtomicUsize::new(0));
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let d2 = drops.clone();
    gmp::run(move || {
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let d = d2.clone();
                gmp::spawn(move || {
                    let _a = D(d.clone());
                    gmp::yield_now();
                    let _b = D(d.clone());
                    gmp::sleep(Duration::from_micros(100 + i));
                    let _c = D(d);
                    gmp::yield_now();
                    if i % 2 == 0 {
                        panic!("goroutine {i} panics");
                    }
                    i
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            match h.join() {
                Ok(v) => {
                    assert_eq!(v as usize, i);
                    assert!(i % 2 == 1);
                }
                Err(e) => {
                    assert!(i % 2 == 0);
                    assert_eq!(panic_message(&*e), Some(format!("goroutine {i} panics")));
                }
            }
        }
    });
    assert_eq!(
        drops.load(SeqCst),
        150,
        "every frame's locals are dropped, panicking or not"
    );
}

#[test]
fn many_concurrent_panics() {
    gmp::run(|| {
        let hs: Vec<_> = (0..2000u32)
            .map(|i| {
                gmp::spawn(move || {
                    if i % 3 == 0 {
                        gmp::yield_now();
                        std::panic::panic_any(CustomPayload(i));
                    }
                    i
                })
            })
            .collect();
        let mut errs = 0;
        for (i, h) in hs.into_iter().enumerate() {
            match h.join() {
                Ok(v) => assert_eq!(v, i as u32),
                Err(e) => {
                    assert_eq!(
                        e.downcast_ref::<CustomPayload>(),
                        Some(&CustomPayload(i as u32))
                    );
                    errs += 1;
                }
            }
        }
        assert_eq!(errs, 667);
        // A finished goroutine is counted out just after its joiner is woken.
        let mut spins = 0;
        while gmp::stats().goroutines != 1 {
            spins += 1;
            assert!(
                spins < 100_000,
                "goroutine count stuck at {}",
                gmp::stats().goroutines
            );
            gmp::yield_now();
        }
    });
}

#[test]
fn panic_in_main_goroutine_comes_out_of_run() {
    let r = catch_unwind(|| gmp::run(|| -> u32 { panic!("main goroutine says {}", "bye") }));
    let err = r.expect_err("run must propagate the main goroutine's panic");
    assert_eq!(
        panic_message(&*err).as_deref(),
        Some("main goroutine says bye")
    );

    let r = catch_unwind(|| gmp::run(|| std::panic::panic_any(CustomPayload(99))));
    assert_eq!(
        r.unwrap_err().downcast_ref::<CustomPayload>(),
        Some(&CustomPayload(99))
    );

    // A new runtime works afterwards.
    assert_eq!(gmp::run(|| gmp::spawn(|| 5).join().unwrap()), 5);
}

#[test]
fn panic_in_main_with_other_goroutines_parked_or_running() {
    let r = catch_unwind(|| {
        gmp::Runtime::builder().procs(2).run(|| {
            // Parked in a long sleep: dropped at shutdown.
            for _ in 0..10 {
                drop(gmp::spawn(|| gmp::sleep(Duration::from_secs(3600))));
            }
            // Still yielding when main panics.
            for _ in 0..4 {
                drop(gmp::spawn(|| {
                    for _ in 0..1000 {
                        gmp::yield_now();
                    }
                }));
            }
            gmp::yield_now();
            panic!("main gives up");
        })
    });
    assert_eq!(
        panic_message(&*r.unwrap_err()).as_deref(),
        Some("main gives up")
    );
}

#[test]
fn panic_in_main_after_many_switches_and_sleeps() {
    let r = catch_unwind(|| {
        gmp::Runtime::builder().procs(4).run(|| {
            let first = std::thread::current().id();
            let mut moved = false;
            for _ in 0..200 {
                // Keep the other Ps busy so main gets picked up elsewhere sometimes.
                let hs: Vec<_> = (0..8).map(|_| gmp::spawn(gmp::yield_now)).collect();
                gmp::sleep(Duration::from_micros(50));
                for h in hs {
                    h.join().unwrap();
                }
                moved |= std::thread::current().id() != first;
            }
            panic!("moved={moved}");
        })
    });
    let msg = panic_message(&*r.unwrap_err()).unwrap();
    assert!(msg.starts_with("moved="), "{msg}");
}

#[test]
fn join_err_from_a_plain_thread() {
    let (tx, rx) = std::sync::mpsc::channel();
    let joined = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let j = joined.clone();
    let joiner = std::thread::spawn(move || {
        let h: gmp::JoinHandle<u8> = rx.recv().unwrap();
        let r = h.join();
        j.store(true, SeqCst);
        r
    });
    gmp::run(move || {
        let h = gmp::spawn(|| -> u8 {
            gmp::sleep(Duration::from_millis(20));
            panic!("seen from a thread")
        });
        tx.send(h).unwrap();
        // Keep the runtime alive until the thread's join has returned.
        while !joined.load(SeqCst) {
            gmp::sleep(Duration::from_millis(1));
        }
    });
    let r = joiner.join().unwrap();
    let err = r.unwrap_err();
    assert_eq!(panic_message(&*err).as_deref(), Some("seen from a thread"));
}

#[test]
fn nested_catch_unwind_inside_a_goroutine() {
    gmp::run(|| {
        let h = gmp::spawn(|| {
            let r = catch_unwind(AssertUnwindSafe(|| {
                gmp::yield_now();
                panic!("inner");
            }));
            assert_eq!(panic_message(&*r.unwrap_err()).as_deref(), Some("inner"));
            gmp::yield_now();
            "survived"
        });
        assert_eq!(h.join().unwrap(), "survived");
    });
}
