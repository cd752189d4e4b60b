//! A `gmp::blocking` call that can never get a thread panics instead of hanging: every
//! thread for blocking calls is held by a call that waits, with no timeout, on a lock or
//! channel only the waiting goroutines could release, and nothing else is left to run.
//! And calls that will get a thread (the holders sleep, or wait with a timeout, or a
//! goroutine that might release them still runs) wait for it without a panic.
//!
//! Its own `main`, no libtest: the runtime can prove that no thread will ever wake the
//! holders only in a process whose threads are all its own. For the same reason there
//! is no watchdog thread: `alarm` ends a hung run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

fn panic_message(e: &(dyn std::any::Any + Send)) -> Option<String> {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
}

/// Yields until `n` threads are in blocking calls.
fn until_blocked(n: usize) {
    while gmp::stats().blocked_threads < n {
        gmp::yield_now();
    }
}

/// `blocking(f)` in a goroutine of its own: its outcome, or the panic's message.
fn outcome<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    gmp::spawn(move || gmp::blocking(f))
        .join()
        .map_err(|e| panic_message(&*e).unwrap_or_default())
}

const NEVER: &str = "can never get a thread";

/// The goroutine holds the lock the one thread's call waits for, then makes a call.
fn waiting_goroutine_holds_the_lock_the_call_waits_for() -> Result<(), String> {
    gmp::Runtime::builder().procs(1).max_threads(2).run(|| {
        let lock = Arc::new(Mutex::new(()));
        let guard = lock.lock().unwrap();
        let l = lock.clone();
        let holder = gmp::spawn(move || gmp::blocking(move || drop(l.lock().unwrap())));
        until_blocked(1);
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| gmp::blocking(|| ())));
        let msg = match r {
            Ok(()) => return Err("the call got a thread".to_string()),
            Err(e) => panic_message(&*e).unwrap_or_default(),
        };
        if !msg.contains(NEVER) {
            return Err(format!("panicked with {msg:?}"));
        }
        // Proven within a few of sysmon's checks (100 ms apart).
        if t.elapsed() > Duration::from_secs(5) {
            return Err(format!("took {:?} to tell", t.elapsed()));
        }
        drop(guard);
        holder.join().map_err(|_| "the holder failed".to_string())?;
        // The thread is free again: a call gets it.
        gmp::blocking(|| ());
        Ok(())
    })
}

/// Two threads, both waiting on a channel whose sender only goroutines that wait for a
/// thread would use; every waiter panics, and a goroutine then sends without a
/// blocking call.
fn every_waiter_panics() -> Result<(), String> {
    gmp::Runtime::builder().procs(2).max_threads(4).run(|| {
        let (tx, rx) = mpsc::channel::<()>();
        let rx = Arc::new(Mutex::new(rx));
        let holders: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                gmp::spawn(move || gmp::blocking(move || rx.lock().unwrap().recv().unwrap()))
            })
            .collect();
        until_blocked(2);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let tx = tx.clone();
                gmp::spawn(move || gmp::blocking(move || tx.send(()).unwrap()))
            })
            .collect();
        let msgs: Vec<String> = waiters
            .into_iter()
            .map(|h| {
                h.join()
                    .map_or_else(|e| panic_message(&*e).unwrap_or_default(), |()| "Ok".into())
            })
            .collect();
        if !msgs.iter().all(|m| m.contains(NEVER)) {
            return Err(format!("waiters ended with {msgs:?}"));
        }
        tx.send(()).unwrap();
        tx.send(()).unwrap();
        for h in holders {
            h.join().map_err(|_| "a holder failed".to_string())?;
        }
        Ok(())
    })
}

/// The holder sleeps (`nanosleep`, not a futex): the waiter gets the thread after it.
fn holder_in_a_sleep_is_waited_for() -> Result<(), String> {
    gmp::Runtime::builder().procs(1).max_threads(2).run(|| {
        let holder =
            gmp::spawn(|| gmp::blocking(|| std::thread::sleep(Duration::from_millis(600))));
        until_blocked(1);
        let t = Instant::now();
        outcome(|| ())?;
        if t.elapsed() < Duration::from_millis(300) {
            return Err(format!(
                "the call ran after {:?}, during the sleep",
                t.elapsed()
            ));
        }
        holder.join().map_err(|_| "the holder failed".to_string())
    })
}

/// The holder waits on a channel with a timeout: the waiter gets the thread after it.
fn holder_in_a_timed_wait_is_waited_for() -> Result<(), String> {
    gmp::Runtime::builder().procs(1).max_threads(2).run(|| {
        let (tx, rx) = mpsc::channel::<()>();
        let holder = gmp::spawn(move || {
            gmp::blocking(move || rx.recv_timeout(Duration::from_millis(600)).is_err())
        });
        until_blocked(1);
        outcome(|| ())?;
        drop(tx);
        match holder.join() {
            Ok(true) => Ok(()),
            _ => Err("the holder's wait did not time out".into()),
        }
    })
}

/// The holder waits forever on a lock, but a goroutine still sleeping on a timer is the
/// one that releases it: not provable, so the waiter waits, and gets the thread.
fn a_goroutine_that_may_still_run_is_waited_for() -> Result<(), String> {
    gmp::Runtime::builder().procs(1).max_threads(2).run(|| {
        let lock = Arc::new(Mutex::new(()));
        let ticks = Arc::new(AtomicUsize::new(0));
        let (l, t) = (lock.clone(), ticks.clone());
        let (locked_tx, locked_rx) = gmp::chan::bounded::<()>(1);
        let releaser = gmp::spawn(move || {
            let guard = l.lock().unwrap();
            locked_tx.send(()).unwrap();
            for _ in 0..40 {
                gmp::sleep(Duration::from_millis(10));
                t.fetch_add(1, SeqCst);
            }
            drop(guard);
        });
        locked_rx.recv().unwrap();
        let l = lock.clone();
        let holder = gmp::spawn(move || gmp::blocking(move || drop(l.lock().unwrap())));
        until_blocked(1);
        outcome(|| ())?;
        if ticks.load(SeqCst) < 40 {
            return Err("the call ran before the lock was released".into());
        }
        releaser
            .join()
            .map_err(|_| "the releaser failed".to_string())?;
        holder.join().map_err(|_| "the holder failed".to_string())
    })
}

type Case = (&'static str, fn() -> Result<(), String>);

fn main() {
    // A hung case ends the run (no watchdog thread: it would be a thread the runtime
    // cannot see into, and the proof would never be made).
    // SAFETY: `alarm` only arms a timer; SIGALRM's default action ends the process.
    unsafe { libc::alarm(120) };
    // Quiet: the expected panics would print their message and location.
    std::panic::set_hook(Box::new(|_| {}));
    let cases: [Case; 5] = [
        (
            "waiting_goroutine_holds_the_lock_the_call_waits_for",
            waiting_goroutine_holds_the_lock_the_call_waits_for,
        ),
        ("every_waiter_panics", every_waiter_panics),
        (
            "holder_in_a_sleep_is_waited_for",
            holder_in_a_sleep_is_waited_for,
        ),
        (
            "holder_in_a_timed_wait_is_waited_for",
            holder_in_a_timed_wait_is_waited_for,
        ),
        (
            "a_goroutine_that_may_still_run_is_waited_for",
            a_goroutine_that_may_still_run_is_waited_for,
        ),
    ];
    let mut failed = 0;
    for (name, case) in cases {
        match catch_unwind(case) {
            Ok(Ok(())) => println!("test {name} ... ok"),
            Ok(Err(e)) => {
                failed += 1;
                println!("test {name} ... FAILED: {e}");
            }
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED: panicked: {:?}", panic_message(&*e));
            }
        }
    }
    if failed > 0 {
        println!("{failed} failed");
        std::process::exit(1);
    }
    println!("test result: ok. {} passed", cases.len());
}
