//! After a burst of blocking calls, the idle threads beyond what the Ps need exit once
//! they have idled for the keep-alive (`RuntimeBuilder::thread_keep_alive`), their
//! threads are joined, `gmp::stats()` shows it, and the next burst starts threads again.

mod common;

use common::{thread_count, Watchdog};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The tests count the process's threads: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `n` blocking calls at once (each waits for all the others to be inside, so each has
/// a thread of its own), from `n` goroutines. Returns the threads seen right after.
fn burst(n: usize) -> usize {
    let inside = Arc::new(Barrier::new(n));
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let inside = inside.clone();
            gmp::spawn(move || {
                gmp::blocking(move || {
                    inside.wait();
                });
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    gmp::stats().threads
}

/// Polls `stats()` for up to `limit` until `ok` holds; returns the last snapshot.
fn settle(limit: Duration, ok: impl Fn(&gmp::Stats) -> bool) -> gmp::Stats {
    let t = Instant::now();
    loop {
        let st = gmp::stats();
        if ok(&st) || t.elapsed() > limit {
            return st;
        }
        gmp::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_burst_of_500_leaves_no_threads_behind_after_the_keep_alive() {
    let _serial = serial();
    let _w = Watchdog::new("burst and keep-alive", Duration::from_secs(120));
    let procs = 2;
    let os_before = thread_count();
    gmp::Runtime::builder()
        .procs(procs)
        .thread_keep_alive(Duration::from_millis(100))
        .run(move || {
            for round in 0..2 {
                let peak = burst(500);
                assert!(
                    peak >= 500,
                    "round {round}: only {peak} threads for 500 calls"
                );
                let exited_before = gmp::stats().threads_exited;
                // The idle threads beyond the Ps' go after 100 ms idle; the Ps keep theirs.
                let st = settle(Duration::from_secs(10), |st| st.threads <= procs + 1);
                assert!(
                    st.threads <= procs + 1,
                    "round {round}: {} threads 10 s after the burst: {st:?}",
                    st.threads
                );
                assert!(st.idle_threads <= procs, "{st:?}");
                let exited = st.threads_exited - exited_before;
                assert!(
                    exited + procs as u64 + 1 >= peak as u64,
                    "only {exited} exited: {st:?}"
                );
                // And their OS threads are gone (joined by sysmon), not just uncounted.
                let t = Instant::now();
                while thread_count() > os_before + procs + 4 && t.elapsed() < Duration::from_secs(5)
                {
                    gmp::sleep(Duration::from_millis(10));
                }
                let os = thread_count();
                assert!(
                    os <= os_before + procs + 4,
                    "round {round}: {os} OS threads, {os_before} before the runtime"
                );
            }
        });
}

#[test]
fn idle_threads_stay_for_the_keep_alive() {
    let _serial = serial();
    let procs = 2;
    gmp::Runtime::builder()
        .procs(procs)
        .thread_keep_alive(Duration::from_secs(5))
        .run(move || {
            let peak = burst(100);
            gmp::sleep(Duration::from_millis(300));
            let st = gmp::stats();
            assert!(
                st.threads + 5 >= peak && st.threads_exited == 0,
                "{peak} threads became {st:?} within 300 ms of a 5 s keep-alive"
            );
            assert!(st.idle_threads + procs + 5 >= peak, "{st:?}");
            // A second burst finds them: no new threads.
            let again = burst(100);
            assert!(again <= peak + 5, "{peak} threads, then {again}");
        });
}

#[test]
fn a_keep_alive_of_max_keeps_every_thread() {
    let _serial = serial();
    gmp::Runtime::builder()
        .procs(1)
        .thread_keep_alive(Duration::MAX)
        .run(|| {
            let peak = burst(20);
            gmp::sleep(Duration::from_millis(200));
            let st = gmp::stats();
            assert_eq!(st.threads, peak, "{st:?}");
            assert_eq!(st.threads_exited, 0);
        });
}

#[test]
fn runtimes_end_cleanly_while_idle_threads_exit() {
    let _serial = serial();
    // Ms exit after 1 ms idle while the runtime shuts down: every thread is joined.
    let _w = Watchdog::new("shutdown while Ms exit", Duration::from_secs(120));
    let os_before = thread_count();
    for i in 0..30 {
        gmp::Runtime::builder()
            .procs(2)
            .thread_keep_alive(Duration::from_millis(1))
            .run(move || {
                burst(40);
                gmp::sleep(Duration::from_micros(200 * (i % 10)));
            });
    }
    let t = Instant::now();
    while thread_count() > os_before && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        thread_count() <= os_before,
        "{} threads, {os_before} before",
        thread_count()
    );
}
