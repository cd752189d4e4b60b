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

/// Outside a runtime `yield_now` is `std::thread::yield_now` (`sched_yield(2)`): it gives
/// the CPU to another runnable thread. This thread and a spinning one are pinned to one
/// CPU; a yield that is a thread yield lets the spinner's counter move before it returns.
/// Without the yield the counter moves between two adjacent loads only if the timer
/// preempts exactly there: 0 of 100 when `yield_now` was made a no-op to check this
/// test. With it, 35 to 42 of 100 did here (the spinner then runs a whole slice).
#[test]
fn yield_outside_runtime_is_a_thread_yield() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    fn pin_to(cpu: usize) {
        // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET and sched_setaffinity only
        // read and write the set passed, for the calling thread (pid 0).
        let r = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
        };
        assert_eq!(
            r,
            0,
            "sched_setaffinity to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }

    assert!(!gmp::in_runtime());
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    assert!(
        cpu >= 0,
        "sched_getcpu: {}",
        std::io::Error::last_os_error()
    );
    let cpu = cpu as usize;
    // This test's own thread (libtest gives each test one): the pinning ends with it.
    pin_to(cpu);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = {
        let (count, stop) = (count.clone(), stop.clone());
        std::thread::spawn(move || {
            pin_to(cpu);
            while !stop.load(Relaxed) {
                count.fetch_add(1, Relaxed);
            }
        })
    };
    // Wait for the spinner without yielding (that is what is under test).
    while count.load(Relaxed) == 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    const YIELDS: usize = 100;
    let mut moved = 0;
    for _ in 0..YIELDS {
        let before = count.load(Relaxed);
        gmp::yield_now();
        if count.load(Relaxed) != before {
            moved += 1;
        }
    }
    stop.store(true, Relaxed);
    spinner.join().unwrap();
    assert!(
        moved >= 3,
        "the spinner on the same CPU ran during only {moved} of {YIELDS} yields: \
         yield_now outside a runtime did not give up the CPU"
    );
}
