//! Deadlock reports for goroutines parked on channels and `select!`, in a process that has
//! no thread besides the runtime's own (this test has its own `main`, no libtest threads):
//! only then can the runtime know that no plain thread holds the other end.
//!
//! Each case runs in this process, one after the other; a runtime that reported its
//! deadlock has shut down (its threads joined) before the next case starts.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

const DEADLOCK: &str = "all goroutines are asleep - deadlock!";

fn panic_message(e: &(dyn std::any::Any + Send)) -> Option<String> {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
}

/// Runs `body` as the main goroutine of a 2-P runtime and says whether `run` reported
/// the deadlock.
fn reports_deadlock(body: impl FnOnce() + Send) -> Result<(), String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        gmp::Runtime::builder().procs(2).run(body)
    }));
    match r {
        Ok(()) => Err("run returned instead of reporting the deadlock".into()),
        Err(e) => match panic_message(&*e) {
            Some(m) if m == DEADLOCK => Ok(()),
            other => Err(format!("run panicked with {other:?}")),
        },
    }
}

/// A named case: `Ok` if it behaved.
type Case = (&'static str, Box<dyn FnOnce() -> Result<(), String>>);

fn main() {
    // Quiet: the expected panics would print their message and location.
    std::panic::set_hook(Box::new(|_| {}));
    let cases: Vec<Case> = vec![
        (
            "main_receiving_on_a_channel_nobody_else_holds",
            Box::new(|| {
                reports_deadlock(|| {
                    let (_tx, rx) = gmp::chan::bounded::<u32>(0);
                    let _ = rx.recv();
                })
            }),
        ),
        (
            "main_sending_on_a_full_channel_nobody_reads",
            Box::new(|| {
                reports_deadlock(|| {
                    let (tx, _rx) = gmp::chan::bounded::<u32>(1);
                    tx.send(1).unwrap();
                    let _ = tx.send(2);
                })
            }),
        ),
        (
            "goroutines_in_a_channel_cycle_with_main_joining",
            Box::new(|| {
                reports_deadlock(|| {
                    let (tx_a, rx_a) = gmp::chan::bounded::<u32>(0);
                    let (tx_b, rx_b) = gmp::chan::bounded::<u32>(0);
                    // Each waits for the other to send first.
                    let a = gmp::spawn(move || {
                        let v = rx_a.recv();
                        let _ = tx_b.send(1);
                        v
                    });
                    let b = gmp::spawn(move || {
                        let v = rx_b.recv();
                        let _ = tx_a.send(1);
                        v
                    });
                    let _ = a.join();
                    let _ = b.join();
                })
            }),
        ),
        (
            "main_in_a_select_over_channels_held_by_parked_goroutines",
            Box::new(|| {
                reports_deadlock(|| {
                    let (tx1, rx1) = gmp::chan::bounded::<u32>(0);
                    let (tx2, rx2) = gmp::chan::unbounded::<u32>();
                    let _holder = gmp::spawn(move || {
                        let _keep = (tx1, tx2);
                        gmp::park_forever()
                    });
                    gmp::select! {
                        recv(rx1) -> _ => {},
                        recv(rx2) -> _ => {},
                    }
                })
            }),
        ),
        (
            "deadlocked_main_goroutine_unlinks_its_condvar_wait_while_unwinding",
            Box::new(|| {
                // The unwinding waiter must unlink its entry (its stack is unmapped once
                // the runtime is gone: notifying it afterwards would crash).
                let pair: &'static (gmp::sync::Mutex<u32>, gmp::sync::Condvar) = Box::leak(
                    Box::new((gmp::sync::Mutex::new(0), gmp::sync::Condvar::new())),
                );
                reports_deadlock(|| {
                    let (m, cv) = pair;
                    let _g = cv.wait(m.lock());
                })?;
                let (m, cv) = pair;
                cv.notify_all();
                match m.try_lock() {
                    Some(_) => Ok(()),
                    None => Err("the mutex was left locked".into()),
                }
            }),
        ),
        (
            "main_locking_a_mutex_held_by_a_parked_goroutine",
            Box::new(|| {
                reports_deadlock(|| {
                    let m = std::sync::Arc::new(gmp::sync::Mutex::new(0));
                    let m2 = m.clone();
                    let (tx, rx) = gmp::chan::bounded::<()>(0);
                    let _holder = gmp::spawn(move || {
                        let _g = m2.lock();
                        tx.send(()).unwrap();
                        gmp::park_forever()
                    });
                    rx.recv().unwrap();
                    let _g = m.lock();
                })
            }),
        ),
        (
            "a_goroutine_waiting_for_a_plain_thread_is_not_a_deadlock",
            Box::new(|| {
                let (tx, rx) = gmp::chan::bounded::<u32>(0);
                let t = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(100));
                    tx.send(7).unwrap();
                });
                let got = catch_unwind(AssertUnwindSafe(|| {
                    gmp::Runtime::builder().procs(2).run(move || rx.recv())
                }));
                t.join().unwrap();
                match got {
                    Ok(Ok(7)) => Ok(()),
                    Ok(other) => Err(format!("recv returned {other:?}")),
                    Err(e) => Err(format!("run panicked: {:?}", panic_message(&*e))),
                }
            }),
        ),
        (
            "the_runtime_works_after_the_reports",
            Box::new(|| {
                let v = gmp::run(|| {
                    let (tx, rx) = gmp::chan::bounded(0);
                    let h = gmp::spawn(move || (0..100u32).for_each(|i| tx.send(i).unwrap()));
                    let s: u32 = rx.iter().sum();
                    h.join().unwrap();
                    s
                });
                if v == 4950 {
                    Ok(())
                } else {
                    Err(format!("sum {v}"))
                }
            }),
        ),
    ];
    let mut failed = 0;
    let n = cases.len();
    for (name, case) in cases {
        match case() {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                println!("test {name} ... FAILED: {e}");
                failed += 1;
            }
        }
    }
    println!("\nchan_deadlock: {} passed; {failed} failed", n - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
