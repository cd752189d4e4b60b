//! Spawning and joining: values come back intact, a million goroutines go through the
//! runtime, detached goroutines still run, ids are unique.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

#[test]
fn one_million_goroutines_spawned_and_joined() {
    const SPAWNERS: u64 = 10;
    const PER_SPAWNER: u64 = 100_000;
    const BATCH: u64 = 1_000;
    let (sum, spawned) = gmp::run(|| {
        let spawners: Vec<_> = (0..SPAWNERS)
            .map(|s| {
                gmp::spawn(move || {
                    let mut sum = 0u64;
                    let mut i = 0;
                    while i < PER_SPAWNER {
                        let hs: Vec<_> = (i..i + BATCH)
                            .map(|j| {
                                let v = s * PER_SPAWNER + j;
                                gmp::spawn(move || v * 3 + 1)
                            })
                            .collect();
                        for h in hs {
                            sum += h.join().expect("child goroutine panicked");
                        }
                        i += BATCH;
                    }
                    sum
                })
            })
            .collect();
        let sum: u64 = spawners.into_iter().map(|h| h.join().unwrap()).sum();
        (sum, gmp::stats().spawned)
    });
    let n = SPAWNERS * PER_SPAWNER;
    // sum over v in 0..n of (3v + 1)
    assert_eq!(sum, 3 * (n * (n - 1) / 2) + n);
    assert_eq!(spawned, n + SPAWNERS);
}

#[test]
fn join_returns_owned_and_large_values() {
    gmp::run(|| {
        let h = gmp::spawn(|| String::from("hello from a goroutine"));
        assert_eq!(h.join().unwrap(), "hello from a goroutine");

        let h = gmp::spawn(|| (0..10_000u32).collect::<Vec<_>>());
        let v = h.join().unwrap();
        assert_eq!(v.len(), 10_000);
        assert!(v.iter().enumerate().all(|(i, &x)| i as u32 == x));

        // A return value larger than a page, by value.
        let h = gmp::spawn(|| {
            let mut a = [0u64; 1024];
            for (i, x) in a.iter_mut().enumerate() {
                *x = i as u64 * 7;
            }
            a
        });
        let a = h.join().unwrap();
        assert!(a.iter().enumerate().all(|(i, &x)| x == i as u64 * 7));

        // A closure capturing more than the inline start area (it is boxed instead).
        let big = [5u8; 8192];
        let h = gmp::spawn(move || big.iter().map(|&b| b as u64).sum::<u64>());
        assert_eq!(h.join().unwrap(), 5 * 8192);

        // Unit and zero-sized results.
        gmp::spawn(|| ()).join().unwrap();
    });
}

#[test]
fn nested_spawns_form_a_tree() {
    fn tree(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let l = gmp::spawn(move || tree(depth - 1));
        let r = gmp::spawn(move || tree(depth - 1));
        l.join().unwrap() + r.join().unwrap()
    }
    let leaves = gmp::run(|| tree(12));
    assert_eq!(leaves, 1 << 12);
}

#[test]
fn joining_in_reverse_and_after_finish_works() {
    gmp::run(|| {
        let hs: Vec<_> = (0..1000u64).map(|i| gmp::spawn(move || i)).collect();
        // Let them all finish first, then join: the results wait in the handles.
        while !hs.iter().all(|h| h.is_finished()) {
            gmp::yield_now();
        }
        for (i, h) in hs.into_iter().enumerate().rev() {
            assert_eq!(h.join().unwrap(), i as u64);
        }
    });
}

#[test]
fn detached_goroutines_still_run() {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    gmp::run(move || {
        for _ in 0..1000 {
            let d = d.clone();
            drop(gmp::spawn(move || {
                gmp::yield_now();
                d.fetch_add(1, SeqCst);
            }));
        }
        while d.load(SeqCst) < 1000 {
            gmp::sleep(std::time::Duration::from_millis(1));
        }
    });
    assert_eq!(done.load(SeqCst), 1000);
}

#[test]
fn goroutine_ids_are_unique_and_not_the_main_id() {
    let ids = gmp::run(|| {
        let hs: Vec<_> = (0..10_000).map(|_| gmp::spawn(|| ())).collect();
        let ids: Vec<u64> = hs.iter().map(|h| h.id()).collect();
        for h in hs {
            h.join().unwrap();
        }
        // Also ids from several spawning goroutines at once.
        let more: Vec<_> = (0..8)
            .map(|_| {
                gmp::spawn(|| {
                    (0..1000)
                        .map(|_| gmp::spawn(|| ()).id())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut ids = ids;
        for h in more {
            ids.extend(h.join().unwrap());
        }
        ids
    });
    let set: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len(), "duplicate goroutine ids");
    assert!(!set.contains(&1), "id 1 belongs to the main goroutine");
    assert!(!set.contains(&0));
}

#[test]
fn run_returns_the_main_goroutines_value() {
    assert_eq!(gmp::run(|| 42), 42);
    let v = gmp::run(|| vec![1, 2, 3]);
    assert_eq!(v, vec![1, 2, 3]);
    // `run` borrows from the caller's stack: the closure need not be 'static.
    let local = String::from("borrowed");
    let n = gmp::run(|| local.len());
    assert_eq!(n, 8);
}

#[test]
fn spawned_goroutines_run_in_parallel_with_main_returning_later() {
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    gmp::run(move || {
        let hs: Vec<_> = (0..64)
            .map(|_| {
                let c = c.clone();
                gmp::spawn(move || {
                    for _ in 0..100 {
                        c.fetch_add(1, SeqCst);
                        gmp::yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    assert_eq!(counter.load(SeqCst), 6400);
}
