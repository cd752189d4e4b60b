//! Hammers the join packet's two references (`gmp-core/src/proc/packet.rs`): the
//! handle's and the G header's, each dropped on whichever thread and in whichever order
//! the race decides, with packets from the per-thread block caches (small results) and
//! from the global allocator (large ones), across Ps that steal each other's goroutines.
//! Every result must be dropped exactly once (taken by `join`, or dropped with the
//! packet after a detach), every joined value must be the one its goroutine returned,
//! and a packet must never be reused while a reference to it is alive (which would
//! show up as a wrong value or a double drop).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// A result that counts its drops and carries a value to check.
struct Counted {
    value: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// Does a little work that sometimes switches, so goroutines finish both before and
/// after their handles are joined or dropped.
fn jitter(i: u64) {
    if i % 3 == 0 {
        gmp::yield_now();
    }
}

#[test]
fn join_and_detach_race_across_ps() {
    const SPAWNERS: u64 = 4;
    const EACH: u64 = 20_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let joined = gmp::Runtime::builder().procs(2).run(move || {
        let spawners: Vec<_> = (0..SPAWNERS)
            .map(|s| {
                let d = d.clone();
                gmp::spawn(move || {
                    let mut joined = 0u64;
                    let mut pending = Vec::new();
                    for i in 0..EACH {
                        let value = s * EACH + i;
                        let d = d.clone();
                        let small = gmp::spawn(move || {
                            jitter(i);
                            Counted { value, drops: d }
                        });
                        // A result too large for a pooled block.
                        let large = gmp::spawn(move || {
                            jitter(i + 1);
                            [value; 16]
                        });
                        match i % 4 {
                            // Detached at once, most likely before it ran.
                            0 => drop(small),
                            // Joined at once.
                            1 => {
                                assert_eq!(small.join().unwrap().value, value);
                                joined += 1;
                            }
                            // Joined or dropped later, most likely after it ran.
                            _ => pending.push((value, small)),
                        }
                        assert_eq!(large.join().unwrap(), [value; 16]);
                        if pending.len() == 64 {
                            for (k, (v, h)) in pending.drain(..).enumerate() {
                                if k % 2 == 0 {
                                    assert_eq!(h.join().unwrap().value, v);
                                    joined += 1;
                                } else {
                                    drop(h);
                                }
                            }
                        }
                    }
                    for (v, h) in pending {
                        assert_eq!(h.join().unwrap().value, v);
                        joined += 1;
                    }
                    joined
                })
            })
            .collect();
        let joined: u64 = spawners.into_iter().map(|h| h.join().unwrap()).sum();
        // Detached goroutines may still be running: wait until each result is dropped.
        let want = (SPAWNERS * EACH) as usize;
        let t = std::time::Instant::now();
        while d.load(SeqCst) < want && t.elapsed() < std::time::Duration::from_secs(60) {
            gmp::yield_now();
        }
        joined
    });
    assert!(joined > 0);
    assert_eq!(drops.load(SeqCst), (SPAWNERS * EACH) as usize);
}

/// Handles joined from plain threads outside the runtime, while the runtime's own
/// goroutines spawn and join: the packets freed on those threads go to their caches,
/// and back to the shared list when the threads exit.
#[test]
fn handles_joined_from_outside_threads() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    gmp::Runtime::builder().procs(2).run(move || {
        let (tx, rx) = std::sync::mpsc::channel::<gmp::JoinHandle<Counted>>();
        let joiner = std::thread::spawn(move || {
            let mut n = 0u64;
            for h in rx {
                assert!(h.join().unwrap().value < 50_000);
                n += 1;
            }
            n
        });
        for i in 0..50_000u64 {
            let d = d.clone();
            let h = gmp::spawn(move || Counted { value: i, drops: d });
            if i % 2 == 0 {
                tx.send(h).unwrap();
            } else {
                assert_eq!(h.join().unwrap().value, i);
            }
        }
        drop(tx);
        assert_eq!(gmp::blocking(move || joiner.join().unwrap()), 25_000);
    });
    assert_eq!(drops.load(SeqCst), 50_000);
}
