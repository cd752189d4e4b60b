//! `yield_now` puts the running goroutine at the tail of its P's queue: on one P,
//! goroutines that only push and yield run in strict round-robin order.

use std::sync::{Arc, Mutex};

const ROUNDS: usize = 10_000;

fn round_robin(k: usize) -> Vec<usize> {
    gmp::Runtime::builder().procs(1).run(move || {
        let log = Arc::new(Mutex::new(Vec::with_capacity(k * ROUNDS)));
        let hs: Vec<_> = (0..k)
            .map(|id| {
                let log = log.clone();
                gmp::spawn(move || {
                    for _ in 0..ROUNDS {
                        log.lock().unwrap().push(id);
                        gmp::yield_now();
                    }
                    id
                })
            })
            .collect();
        for (id, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), id);
        }
        let v = std::mem::take(&mut *log.lock().unwrap());
        v
    })
}

#[test]
fn two_goroutines_ping_pong_strictly_alternate() {
    let v = round_robin(2);
    assert_eq!(v.len(), 2 * ROUNDS);
    for (i, w) in v.windows(2).enumerate() {
        assert_ne!(
            w[0],
            w[1],
            "no strict alternation at entry {i}: {:?}",
            &v[i.saturating_sub(4)..(i + 4).min(v.len())]
        );
    }
    assert_eq!(v.iter().filter(|&&x| x == 0).count(), ROUNDS);
    assert_eq!(v.iter().filter(|&&x| x == 1).count(), ROUNDS);
}

#[test]
fn three_goroutines_take_turns_in_a_fixed_cycle() {
    let v = round_robin(3);
    assert_eq!(v.len(), 3 * ROUNDS);
    let first: Vec<usize> = v[..3].to_vec();
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![0, 1, 2],
        "each goroutine runs once per cycle: {first:?}"
    );
    for i in 3..v.len() {
        assert_eq!(
            v[i],
            v[i - 3],
            "cycle broken at entry {i}: {:?}",
            &v[i - 3..(i + 3).min(v.len())]
        );
    }
}

#[test]
fn yield_in_main_goroutine_lets_spawned_goroutines_run() {
    // On one P, a spawned goroutine runs only when the spawner gives up the P.
    let ran = gmp::Runtime::builder().procs(1).run(|| {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = flag.clone();
        let h = gmp::spawn(move || f.store(true, std::sync::atomic::Ordering::SeqCst));
        let mut yields = 0;
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            gmp::yield_now();
            yields += 1;
            assert!(
                yields < 1_000,
                "spawned goroutine never ran while main yielded"
            );
        }
        h.join().unwrap();
        yields
    });
    assert!(ran >= 1);
}

#[test]
fn yield_outside_runtime_is_a_thread_yield() {
    // Must not panic or block.
    for _ in 0..10 {
        gmp::yield_now();
    }
}
