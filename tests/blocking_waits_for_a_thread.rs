//! `gmp::blocking` past the thread limit: at most `max_threads - procs` threads are in
//! blocking calls at once; a call past that waits, in the order it came, while the Ps
//! keep running the goroutines that never block. No wake-up is lost (every call ends)
//! and the runtime's thread count never passes the limit.

mod common;

use common::Watchdog;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most seen of: calls inside `f` at once, `stats().threads`, `stats().blocked_threads`.
#[derive(Default)]
struct Peaks {
    inside: AtomicUsize,
    most_inside: AtomicUsize,
    threads: AtomicUsize,
    blocked: AtomicUsize,
}

impl Peaks {
    /// Runs `f` as a blocking call, recording the peaks from inside it.
    fn blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        gmp::blocking(|| {
            let n = self.inside.fetch_add(1, SeqCst) + 1;
            self.most_inside.fetch_max(n, SeqCst);
            self.sample();
            let r = f();
            self.inside.fetch_sub(1, SeqCst);
            r
        })
    }

    fn sample(&self) {
        let st = gmp::stats();
        self.threads.fetch_max(st.threads, SeqCst);
        self.blocked.fetch_max(st.blocked_threads, SeqCst);
    }

    fn check(&self, max_threads: usize, budget: usize) {
        let inside = self.most_inside.load(SeqCst);
        let threads = self.threads.load(SeqCst);
        let blocked = self.blocked.load(SeqCst);
        assert!(
            inside <= budget,
            "{inside} calls ran at once, budget {budget}"
        );
        assert!(
            blocked <= budget,
            "stats showed {blocked} blocked threads, budget {budget}"
        );
        assert!(
            threads <= max_threads,
            "{threads} threads, limit {max_threads}"
        );
    }
}

/// A goroutine that never blocks: ticks every millisecond until `stop`. Returns its
/// handle and tick count.
fn ticker(stop: Arc<AtomicBool>, peaks: Arc<Peaks>) -> (gmp::JoinHandle<()>, Arc<AtomicUsize>) {
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let h = gmp::spawn(move || {
        while !stop.load(SeqCst) {
            gmp::sleep(Duration::from_millis(1));
            peaks.sample();
            t.fetch_add(1, SeqCst);
        }
    });
    (h, ticks)
}

#[test]
fn two_thousand_goroutines_share_two_threads_for_blocking_calls() {
    let _w = Watchdog::new(
        "2,000 goroutines at the thread limit",
        Duration::from_secs(120),
    );
    let procs = 2;
    let max = procs + 2;
    gmp::Runtime::builder()
        .procs(procs)
        .max_threads(max)
        .run(move || {
            let peaks = Arc::new(Peaks::default());
            let stop = Arc::new(AtomicBool::new(false));
            let (tick_h, ticks) = ticker(stop.clone(), peaks.clone());
            let calls = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..2000)
                .map(|i| {
                    let (peaks, calls) = (peaks.clone(), calls.clone());
                    gmp::spawn(move || {
                        for _ in 0..3 {
                            peaks.blocking(|| std::thread::sleep(Duration::from_millis(1)));
                            calls.fetch_add(1, SeqCst);
                            if i % 2 == 0 {
                                gmp::yield_now();
                            }
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            stop.store(true, SeqCst);
            tick_h.join().unwrap();
            assert_eq!(calls.load(SeqCst), 6000);
            peaks.check(max, max - procs);
            // 6,000 calls of 1 ms on 2 threads: at least 3 s, during which the ticker,
            // which never blocks, kept its P.
            let ticks = ticks.load(SeqCst);
            assert!(ticks >= 300, "the ticker ticked {ticks} times in 3 s");
            let st = gmp::stats();
            assert_eq!(st.blocking_waiters, 0);
            assert_eq!(st.blocked_threads, 0);
        });
}

#[test]
fn waiting_calls_get_their_thread_in_the_order_they_came() {
    for procs in [1, 2] {
        let order = gmp::Runtime::builder()
            .procs(procs)
            .max_threads(procs + 1)
            .run(|| {
                // The one thread for blocking calls is held until `tx` sends.
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                let holder = gmp::spawn(move || gmp::blocking(move || rx.recv().unwrap()));
                while gmp::stats().blocked_threads < 1 {
                    gmp::yield_now();
                }
                let order = Arc::new(Mutex::new(Vec::new()));
                let mut hs = Vec::new();
                for i in 0..8 {
                    let o = order.clone();
                    hs.push(gmp::spawn(move || {
                        gmp::blocking(|| o.lock().unwrap().push(i));
                    }));
                    // The next one comes only once this one queues.
                    while gmp::stats().blocking_waiters < i + 1 {
                        gmp::yield_now();
                    }
                }
                tx.send(()).unwrap();
                holder.join().unwrap();
                for h in hs {
                    h.join().unwrap();
                }
                let v = order.lock().unwrap().clone();
                v
            });
        assert_eq!(order, (0..8).collect::<Vec<_>>(), "procs = {procs}");
    }
}

#[test]
fn zero_length_calls_at_the_limit_lose_no_wake_up() {
    // One thread for blocking calls, handed from call to call as fast as they come,
    // while the goroutines also pass messages: every hand-off races a new call, a
    // queueing goroutine's park and the Ms going idle.
    let _w = Watchdog::new(
        "zero-length blocking calls at the limit",
        Duration::from_secs(120),
    );
    let procs = 2;
    gmp::Runtime::builder()
        .procs(procs)
        .max_threads(procs + 1)
        .run(move || {
            let peaks = Arc::new(Peaks::default());
            let (tx, rx) = gmp::chan::bounded::<u64>(16);
            let hs: Vec<_> = (0..200u64)
                .map(|i| {
                    let (peaks, tx) = (peaks.clone(), tx.clone());
                    gmp::spawn(move || {
                        for k in 0..300u64 {
                            peaks.blocking(|| black_box(k));
                            if k % 10 == 0 {
                                tx.send(i).unwrap();
                            }
                            if k % 7 == 0 {
                                gmp::yield_now();
                            }
                        }
                    })
                })
                .collect();
            drop(tx);
            let received = rx.iter().count();
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(received, 200 * 30);
            peaks.check(procs + 1, 1);
        });
}

#[test]
fn retaken_goroutines_share_the_budget_with_blocking_calls() {
    // Goroutines that block their thread without `blocking` (sysmon takes their P) and
    // goroutines in `blocking` calls draw on the same threads; the limit holds and every
    // call ends.
    let _w = Watchdog::new("retakes beside blocking calls", Duration::from_secs(120));
    let procs = 2;
    let max = procs + 3;
    gmp::Runtime::builder()
        .procs(procs)
        .max_threads(max)
        .run(move || {
            let peaks = Arc::new(Peaks::default());
            let stop = Arc::new(AtomicBool::new(false));
            let (tick_h, _ticks) = ticker(stop.clone(), peaks.clone());
            let mut hs: Vec<_> = (0..8)
                .map(|_| {
                    let peaks = peaks.clone();
                    gmp::spawn(move || {
                        for _ in 0..5 {
                            common::block_thread(Duration::from_millis(15));
                            peaks.sample();
                            gmp::yield_now();
                        }
                    })
                })
                .collect();
            hs.extend((0..300).map(|_| {
                let peaks = peaks.clone();
                gmp::spawn(move || {
                    for _ in 0..3 {
                        peaks.blocking(|| std::thread::sleep(Duration::from_millis(1)));
                    }
                })
            }));
            for h in hs {
                h.join().unwrap();
            }
            stop.store(true, SeqCst);
            tick_h.join().unwrap();
            // Calls in `f` are at most the budget; retaken goroutines are not inside one.
            peaks.check(max, max - procs);
        });
}

#[test]
fn a_blocking_call_inside_another_runs_at_once_and_keeps_no_p() {
    let procs = 2;
    gmp::Runtime::builder().procs(procs).run(move || {
        let v = gmp::blocking(|| gmp::blocking(|| 41) + 1);
        assert_eq!(v, 42);
        // A goroutine operation inside `f` takes a P back for the rest of the call.
        let w = gmp::blocking(|| {
            gmp::yield_now();
            gmp::blocking(|| 7)
        });
        assert_eq!(w, 7);
        // Every P but this goroutine's is idle again once the Ms settle (the nested
        // call used to take a second P and keep it for good). An M woken to spin when
        // this goroutine's timer fires holds the other P for a few microseconds.
        let mut idle = 0;
        for _ in 0..20 {
            gmp::sleep(Duration::from_millis(5));
            for _ in 0..200 {
                let st = gmp::stats();
                idle = st.idle_procs;
                if idle == procs - 1 && st.blocked_threads == 0 {
                    return;
                }
                common::block_thread(Duration::from_micros(50));
            }
        }
        panic!(
            "{idle} idle Ps of {procs} after the calls; expected {}",
            procs - 1
        );
    });
}

#[test]
fn a_p_that_needs_a_thread_at_the_limit_gets_the_idle_sleeper() {
    // Two Ps, three threads: one held by a blocking call, one running this goroutine,
    // one the idle sleeper, blocked in the netpoller for a far timer. Work queued on
    // this P wakes an M for the other P: none can be started, so the sleeper must be
    // woken to take it. Nothing else could run the work while this goroutine holds its
    // P (sysmon cannot take it: no thread is left for this goroutine to be away on).
    let _w = Watchdog::new("a P at the thread limit", Duration::from_secs(60));
    gmp::Runtime::builder().procs(2).max_threads(3).run(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let holder = gmp::spawn(move || gmp::blocking(move || rx.recv().unwrap()));
        while gmp::stats().blocked_threads < 1 {
            gmp::yield_now();
        }
        let far = gmp::spawn(|| gmp::sleep(Duration::from_secs(5)));
        gmp::yield_now();
        // The other M finds nothing and sleeps in the netpoller until `far`'s timer.
        common::block_thread(Duration::from_millis(30));
        let st = gmp::stats();
        assert_eq!((st.threads, st.idle_procs), (3, 1), "{st:?}");
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let first = gmp::spawn(move || r.store(true, SeqCst));
        // The second goes into `runnext` and pushes the first into the stealable queue,
        // which wakes an M for the idle P.
        let second = gmp::spawn(|| ());
        let t = std::time::Instant::now();
        while !ran.load(SeqCst) {
            assert!(
                t.elapsed() < Duration::from_secs(1),
                "the idle P found no thread at the limit: {:?}",
                gmp::stats()
            );
            std::hint::spin_loop();
        }
        tx.send(()).unwrap();
        for h in [holder, first, second] {
            h.join().unwrap();
        }
        drop(far);
    });
}
