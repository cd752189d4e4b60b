//! Park/ready race stress: for a few seconds, goroutines park and are readied from every
//! direction (joins that race with the joined goroutine finishing, timers, yields, joins
//! from plain threads, tokens passed around rings) and every wake-up must be accounted
//! for exactly: none lost (the test would hang or come up short) and none duplicated
//! (a goroutine resumed twice would corrupt a count or crash).

mod common;

use common::XorShift;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const RUN_FOR: Duration = Duration::from_secs(3);

/// A random short pause: nothing, a yield or a few, or a sleep of 0..50 us.
fn jitter(rng: &mut XorShift) {
    match rng.below(6) {
        0 => {}
        1 => gmp::yield_now(),
        2 => {
            for _ in 0..rng.below(4) {
                gmp::yield_now();
            }
        }
        3 => gmp::sleep(Duration::from_micros(rng.below(50))),
        4 => gmp::sleep(Duration::from_nanos(rng.below(2_000))),
        _ => {
            // A short burst of work without yielding.
            let mut x = rng.next_u64();
            for _ in 0..rng.below(200) {
                x = std::hint::black_box(x.rotate_left(7) ^ 0x5555);
            }
        }
    }
}

fn value_of(worker: u64, seq: u64) -> u64 {
    worker.wrapping_mul(1_000_003) ^ seq.wrapping_mul(0x9E37_79B9)
}

#[derive(Default)]
struct Totals {
    spawned: AtomicU64,
    joined: AtomicU64,
    value_sum_expected: AtomicU64,
    value_sum_got: AtomicU64,
    thread_sent: AtomicU64,
    thread_joined: AtomicU64,
    detached_started: AtomicU64,
    detached_done: AtomicU64,
}

#[test]
fn park_ready_races_lose_and_duplicate_nothing() {
    const WORKERS: u64 = 16;
    const JOIN_THREADS: usize = 3;
    let totals = Arc::new(Totals::default());
    let t = totals.clone();
    let (tx, rx) = mpsc::channel::<(u64, gmp::JoinHandle<u64>)>();
    let rx = Arc::new(Mutex::new(rx));
    // Plain threads joining handles created inside the runtime.
    let joiners: Vec<_> = (0..JOIN_THREADS)
        .map(|_| {
            let rx = rx.clone();
            let t = totals.clone();
            std::thread::spawn(move || loop {
                let msg = rx.lock().unwrap().recv();
                let Ok((expect, h)) = msg else { return };
                let v = h.join().expect("goroutine joined from a thread panicked");
                assert_eq!(v, expect);
                t.thread_joined.fetch_add(1, SeqCst);
            })
        })
        .collect();

    gmp::Runtime::builder().procs(4).run(move || {
        let deadline = Instant::now() + RUN_FOR;
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let t = t.clone();
                let tx = tx.clone();
                gmp::spawn(move || {
                    let mut rng = XorShift::new(w);
                    let mut seq = 0u64;
                    let mut mine = 0u64;
                    while Instant::now() < deadline {
                        seq += 1;
                        let v = value_of(w, seq);
                        let mut crng = XorShift::new(v);
                        let kind = rng.below(10);
                        t.spawned.fetch_add(1, SeqCst);
                        t.value_sum_expected.fetch_add(v, SeqCst);
                        let h = gmp::spawn(move || {
                            jitter(&mut crng);
                            jitter(&mut crng);
                            v
                        });
                        match kind {
                            // Hand the handle to a plain thread.
                            0 => {
                                t.thread_sent.fetch_add(1, SeqCst);
                                tx.send((v, h)).unwrap();
                                t.joined.fetch_add(1, SeqCst);
                                t.value_sum_got.fetch_add(v, SeqCst);
                                continue;
                            }
                            // Detach a grandchild that reports on its own.
                            1 => {
                                t.detached_started.fetch_add(1, SeqCst);
                                let t2 = t.clone();
                                let mut grng = XorShift::new(v ^ 1);
                                drop(gmp::spawn(move || {
                                    jitter(&mut grng);
                                    t2.detached_done.fetch_add(1, SeqCst);
                                }));
                            }
                            _ => {}
                        }
                        // Race the join against the child finishing.
                        jitter(&mut rng);
                        let got = h.join().expect("child panicked");
                        assert_eq!(got, v, "worker {w} seq {seq}: wrong value");
                        t.joined.fetch_add(1, SeqCst);
                        t.value_sum_got.fetch_add(got, SeqCst);
                        mine += 1;
                    }
                    mine
                })
            })
            .collect();
        drop(tx);
        let mut local_joins = 0;
        for h in workers {
            local_joins += h.join().unwrap();
        }
        assert!(local_joins > 0);
        // Wait (without blocking this M) for the plain threads and detached goroutines.
        let wait_until = Instant::now() + Duration::from_secs(60);
        while t.thread_joined.load(SeqCst) < t.thread_sent.load(SeqCst)
            || t.detached_done.load(SeqCst) < t.detached_started.load(SeqCst)
        {
            assert!(
                Instant::now() < wait_until,
                "lost wake-ups: {} of {} thread joins, {} of {} detached goroutines finished",
                t.thread_joined.load(SeqCst),
                t.thread_sent.load(SeqCst),
                t.detached_done.load(SeqCst),
                t.detached_started.load(SeqCst)
            );
            gmp::sleep(Duration::from_millis(1));
        }
    });
    for j in joiners {
        j.join().unwrap();
    }
    let t = totals;
    let spawned = t.spawned.load(SeqCst);
    assert!(spawned > 1000, "only {spawned} rounds in {RUN_FOR:?}");
    assert_eq!(t.joined.load(SeqCst), spawned);
    assert_eq!(
        t.value_sum_got.load(SeqCst),
        t.value_sum_expected.load(SeqCst)
    );
    assert_eq!(t.thread_joined.load(SeqCst), t.thread_sent.load(SeqCst));
    assert!(t.thread_sent.load(SeqCst) > 0);
    assert_eq!(
        t.detached_done.load(SeqCst),
        t.detached_started.load(SeqCst)
    );
}

#[test]
fn token_rings_pass_every_token_exactly_once() {
    // Rings of goroutines pass a counter around: goroutine i of a ring of k may only
    // advance the counter when `counter % k == i`, waiting with random yields and short
    // sleeps otherwise. Each records the values it advanced from; together they must be
    // exactly 0..total, each once.
    const RINGS: u64 = 6;
    let results = gmp::Runtime::builder().procs(4).run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let rings: Vec<_> = (0..RINGS)
            .map(|r| {
                let k = 2 + r as usize; // ring sizes 2..7
                let token = Arc::new(AtomicUsize::new(0));
                let members: Vec<_> = (0..k)
                    .map(|i| {
                        let token = token.clone();
                        let stop = stop.clone();
                        gmp::spawn(move || {
                            let mut rng = XorShift::new(r * 100 + i as u64);
                            let mut seen = Vec::new();
                            loop {
                                let cur = token.load(SeqCst);
                                if cur % k == i {
                                    if stop.load(SeqCst) && cur >= k {
                                        // Let the others see the stop too.
                                        token.store(cur + k * 1_000_000_000, SeqCst);
                                        return seen;
                                    }
                                    seen.push(cur);
                                    jitter(&mut rng);
                                    // Only the holder may advance it.
                                    assert_eq!(
                                        token.swap(cur + 1, SeqCst),
                                        cur,
                                        "ring {r}: token advanced twice"
                                    );
                                } else if cur >= k * 1_000_000_000 {
                                    return seen;
                                } else {
                                    jitter(&mut rng);
                                    if rng.below(3) == 0 {
                                        gmp::sleep(Duration::from_micros(rng.below(30)));
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                (k, token, members)
            })
            .collect();
        gmp::sleep(RUN_FOR);
        stop.store(true, SeqCst);
        rings
            .into_iter()
            .map(|(k, token, members)| {
                let seen: Vec<Vec<usize>> =
                    members.into_iter().map(|h| h.join().unwrap()).collect();
                let end = token.load(SeqCst) % (k * 1_000_000_000);
                (k, end, seen)
            })
            .collect::<Vec<_>>()
    });
    for (k, _end, seen) in results {
        let mut all: Vec<usize> = seen.iter().flatten().copied().collect();
        all.sort_unstable();
        let n = all.len();
        assert!(n > 10, "ring of {k} passed only {n} tokens");
        assert_eq!(
            all,
            (0..n).collect::<Vec<_>>(),
            "ring of {k}: tokens lost or duplicated"
        );
        for (i, s) in seen.iter().enumerate() {
            assert!(
                s.iter().all(|&v| v % k == i),
                "ring of {k}: member {i} took a token not its turn"
            );
        }
    }
}

#[test]
fn join_chains_wake_in_order() {
    // Each goroutine joins the previous one: a chain of wake-ups, each readying the next
    // joiner the moment its target finishes. Many chains at once, for a while.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        rounds += 1;
        let seed = rounds;
        let total = gmp::Runtime::builder().procs(3).run(move || {
            let chains: Vec<_> = (0..8u64)
                .map(|c| {
                    gmp::spawn(move || {
                        let mut rng = XorShift::new(seed * 31 + c);
                        let mut prev: Option<gmp::JoinHandle<u64>> = None;
                        for i in 0..200u64 {
                            let mut r2 = XorShift::new(rng.next_u64());
                            let p = prev.take();
                            prev = Some(gmp::spawn(move || {
                                jitter(&mut r2);
                                let before = match p {
                                    Some(p) => p.join().unwrap(),
                                    None => 0,
                                };
                                jitter(&mut r2);
                                before + i
                            }));
                            if rng.below(4) == 0 {
                                jitter(&mut rng);
                            }
                        }
                        prev.unwrap().join().unwrap()
                    })
                })
                .collect();
            chains.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(total, 8 * (199 * 200 / 2), "round {rounds}");
    }
}
