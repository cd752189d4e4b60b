//! `gmp::sync`: Mutex, RwLock, Condvar, WaitGroup, Semaphore and Barrier, used by
//! goroutines (which park) and plain threads (which block), alone and together.
//!
//! Tests where only a thread can wake a goroutine also keep a goroutine sleeping in a
//! loop meanwhile (`Ticker`). The deadlock check no longer needs it (with a plain thread
//! in the process it never reports goroutines parked on sync primitives), but it keeps
//! these tests independent of that rule.

mod common;

use common::{child_mode, panic_message, run_child};
use gmp::sync::{Barrier, Condvar, Mutex, RwLock, Semaphore, WaitGroup};
use std::cell::UnsafeCell;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A counter with no synchronisation of its own: only the lock around it makes the
/// read-modify-write exact.
struct Racy(UnsafeCell<u64>);

// SAFETY: every access in these tests happens under a gmp lock that is being tested.
unsafe impl Sync for Racy {}

impl Racy {
    fn new() -> Racy {
        Racy(UnsafeCell::new(0))
    }
    /// Read, optionally switch away mid-update, write back.
    fn bump(&self, yield_between: bool) {
        // SAFETY: the caller holds the lock that guards this counter.
        unsafe {
            let v = std::ptr::read_volatile(self.0.get());
            if yield_between {
                gmp::yield_now();
            }
            std::ptr::write_volatile(self.0.get(), v + 1);
        }
    }
    fn get(&self) -> u64 {
        // SAFETY: read after every writer finished.
        unsafe { *self.0.get() }
    }
}

/// Keeps a timer pending in the current runtime until dropped (see the module doc).
struct Ticker(Arc<AtomicBool>, Option<gmp::JoinHandle<()>>);

impl Ticker {
    fn start() -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let h = gmp::spawn(move || {
            while !s.load(SeqCst) {
                gmp::sleep(Duration::from_millis(1));
            }
        });
        Ticker(stop, Some(h))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
        if let Some(h) = self.1.take() {
            h.join().unwrap();
        }
    }
}

/// Joins a plain thread from a goroutine without blocking its M: polls, sleeping.
fn join_thread<T>(h: std::thread::JoinHandle<T>) -> T {
    while !h.is_finished() {
        gmp::sleep(Duration::from_millis(1));
    }
    h.join().unwrap()
}

/// Polls `cond` (sleeping between looks) for up to 10 s; panics with `what` if it never
/// holds. For waiting until other goroutines reached a state, not for timing anything.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        gmp::sleep(Duration::from_micros(200)); // a thread sleep outside a runtime
    }
}

// ---- Mutex -----------------------------------------------------------------------------

fn mutex_counter(procs: usize) {
    const GOROUTINES: u64 = 100;
    const ITERS: u64 = 1_000;
    let total = gmp::Runtime::builder().procs(procs).run(|| {
        let m = Arc::new(Mutex::new(()));
        let c = Arc::new(Racy::new());
        let hs: Vec<_> = (0..GOROUTINES)
            .map(|i| {
                let (m, c) = (m.clone(), c.clone());
                gmp::spawn(move || {
                    for k in 0..ITERS {
                        let _g = m.lock();
                        // Switch away inside the critical section now and then, so that
                        // others find the mutex held and park.
                        c.bump((i + k) % 16 == 0);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert!(!m.is_locked());
        c.get()
    });
    assert_eq!(total, GOROUTINES * ITERS);
}

#[test]
fn mutex_100_goroutines_count_exactly_on_2_procs() {
    mutex_counter(2);
}

#[test]
fn mutex_100_goroutines_count_exactly_on_1_proc() {
    mutex_counter(1);
}

/// A hog re-locks the mutex at once after every unlock, while a waiter waits. On one P
/// the hog always wins in normal mode (it runs, the woken waiter must first be scheduled,
/// and finds the mutex re-locked): without starvation mode the waiter gets it only after
/// the hog's loop ends. Once the waiter has waited more than 1 ms, starvation mode must
/// hand it the lock at the hog's next unlock (after about 20 of the hog's iterations).
/// On two Ps the waiter may also win a race in normal mode; the bound must hold anyway.
fn starvation(procs: usize) {
    const HOG_ITERS: usize = 2_000;
    gmp::Runtime::builder().procs(procs).run(|| {
        let m = Arc::new(Mutex::new(()));
        let iters = Arc::new(AtomicUsize::new(0));
        let got_at = Arc::new(AtomicUsize::new(usize::MAX));
        let hog_holds = Arc::new(AtomicBool::new(false));
        let hog = {
            let (m, iters, got_at, hog_holds) =
                (m.clone(), iters.clone(), got_at.clone(), hog_holds.clone());
            gmp::spawn(move || {
                for i in 0..HOG_ITERS {
                    let g = m.lock();
                    hog_holds.store(true, SeqCst);
                    // Let the waiter run (and find the mutex held) on this P too.
                    gmp::yield_now();
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(50) {
                        std::hint::spin_loop();
                    }
                    iters.store(i + 1, SeqCst);
                    drop(g);
                    if got_at.load(SeqCst) != usize::MAX {
                        break;
                    }
                }
            })
        };
        eventually("the hog holds the mutex", || hog_holds.load(SeqCst));
        let waiter = {
            let (m, iters, got_at) = (m.clone(), iters.clone(), got_at.clone());
            gmp::spawn(move || {
                let _g = m.lock();
                got_at.store(iters.load(SeqCst), SeqCst);
            })
        };
        waiter.join().unwrap();
        hog.join().unwrap();
        let at = got_at.load(SeqCst);
        assert!(
            at < HOG_ITERS,
            "the waiter got the mutex only after the hog's {HOG_ITERS} iterations ended \
             (at {at}): no starvation mode"
        );
        // Back in normal mode, and free.
        assert!(m.try_lock().is_some());
    });
}

#[test]
fn mutex_starvation_mode_hands_the_lock_to_a_long_waiter_on_1_proc() {
    starvation(1);
}

#[test]
fn mutex_starvation_mode_hands_the_lock_to_a_long_waiter_on_2_procs() {
    starvation(2);
}

#[test]
fn mutex_try_lock_get_mut_into_inner() {
    gmp::Runtime::builder().procs(2).run(|| {
        let m = Arc::new(Mutex::new(1));
        {
            let g = m.try_lock().expect("a free mutex try-locks");
            assert_eq!(*g, 1);
            assert!(m.try_lock().is_none(), "try_lock of a held mutex must fail");
            assert!(m.is_locked());
            // Held by another goroutine, and by a plain thread.
            let m2 = m.clone();
            assert!(gmp::spawn(move || m2.try_lock().is_none()).join().unwrap());
            let m3 = m.clone();
            assert!(join_thread(std::thread::spawn(move || m3
                .try_lock()
                .is_none())));
        }
        assert!(!m.is_locked());
        *m.try_lock().unwrap() += 1;
        // A goroutine holding it across a park: try_lock fails until it unlocks.
        let held = Arc::new(AtomicBool::new(false));
        let release = Arc::new(AtomicBool::new(false));
        let h = {
            let (m, held, release) = (m.clone(), held.clone(), release.clone());
            gmp::spawn(move || {
                let mut g = m.lock();
                held.store(true, SeqCst);
                while !release.load(SeqCst) {
                    gmp::sleep(Duration::from_millis(1));
                }
                *g += 1;
            })
        };
        eventually("the goroutine holds the mutex", || held.load(SeqCst));
        assert!(m.try_lock().is_none());
        release.store(true, SeqCst);
        h.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 3);
        let mut m = Arc::try_unwrap(m).unwrap();
        *m.get_mut() += 1;
        assert_eq!(m.into_inner(), 4);
    });
}

#[test]
fn mutex_is_unlocked_not_poisoned_when_a_holder_panics() {
    gmp::Runtime::builder().procs(2).run(|| {
        let m = Arc::new(Mutex::new(vec![1]));
        // Waiters queue behind the holder while it panics.
        let held = Arc::new(AtomicBool::new(false));
        let h = {
            let (m, held) = (m.clone(), held.clone());
            gmp::spawn(move || {
                let mut g = m.lock();
                g.push(2);
                held.store(true, SeqCst);
                gmp::sleep(Duration::from_millis(5));
                panic!("boom");
            })
        };
        eventually("the holder holds the mutex", || held.load(SeqCst));
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let m = m.clone();
                gmp::spawn(move || m.lock().push(10 + i))
            })
            .collect();
        let e = h.join().expect_err("the holder panicked");
        assert_eq!(panic_message(&*e).as_deref(), Some("boom"));
        for w in waiters {
            w.join().unwrap();
        }
        let mut v = m.lock().clone();
        v[2..].sort();
        assert_eq!(v, [1, 2, 10, 11, 12, 13]);
    });
}

#[test]
fn mutex_guard_may_be_dropped_by_another_goroutine() {
    gmp::run(|| {
        let m: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
        let g = m.lock();
        let h = gmp::spawn(move || {
            let mut g = g;
            *g = 7;
        }); // unlocked there
        h.join().unwrap();
        assert_eq!(*m.lock(), 7);
    });
}

// ---- RwLock ----------------------------------------------------------------------------

#[test]
fn rwlock_admits_many_readers_at_once() {
    const READERS: usize = 8;
    gmp::Runtime::builder().procs(2).run(|| {
        let l = Arc::new(RwLock::new(5));
        let inside = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..READERS)
            .map(|_| {
                let (l, inside) = (l.clone(), inside.clone());
                gmp::spawn(move || {
                    let g = l.read();
                    inside.fetch_add(1, SeqCst);
                    // Every reader holds its share until all are inside together.
                    eventually("all readers inside at once", || {
                        inside.load(SeqCst) == READERS
                    });
                    *g
                })
            })
            .collect();
        let sum: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 5 * READERS as i32);
    });
}

#[test]
fn rwlock_writers_exclude_readers_and_writers() {
    gmp::Runtime::builder().procs(2).run(|| {
        // Writers keep a == b outside their critical sections only.
        let l = Arc::new(RwLock::new((0u64, 0u64)));
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                gmp::spawn(move || {
                    for i in 0..500 {
                        let mut g = l.write();
                        g.0 += 1;
                        if i % 8 == 0 {
                            gmp::yield_now();
                        }
                        g.1 += 1;
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                gmp::spawn(move || {
                    for i in 0..500 {
                        let g = l.read();
                        assert_eq!(g.0, g.1, "a reader saw a writer's half-done update");
                        if i % 8 == 0 {
                            gmp::yield_now();
                        }
                        assert_eq!(g.0, g.1, "a writer ran while a reader held the lock");
                    }
                })
            })
            .collect();
        for h in writers.into_iter().chain(readers) {
            h.join().unwrap();
        }
        assert_eq!(*l.read(), (2000, 2000));
    });
}

#[test]
fn rwlock_writer_is_not_starved_by_a_stream_of_readers() {
    // Readers overlap all the time (each holds its share across a yield), so without
    // writer preference the lock would never be free for the writer.
    const READER_ITERS: usize = 100_000;
    gmp::Runtime::builder().procs(2).run(|| {
        let l = Arc::new(RwLock::new(0u32));
        let written = Arc::new(AtomicBool::new(false));
        let readers_in = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (l, written, readers_in) = (l.clone(), written.clone(), readers_in.clone());
                gmp::spawn(move || {
                    readers_in.fetch_add(1, SeqCst);
                    let mut n = 0;
                    while n < READER_ITERS && !written.load(SeqCst) {
                        let _g = l.read();
                        gmp::yield_now();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        eventually("readers running", || readers_in.load(SeqCst) == 4);
        *l.write() = 1;
        written.store(true, SeqCst);
        for h in readers {
            let n = h.join().unwrap();
            assert!(
                n < READER_ITERS,
                "a reader finished all {READER_ITERS} iterations before the writer got in"
            );
        }
        assert_eq!(*l.read(), 1);
    });
}

#[test]
fn rwlock_try_read_try_write() {
    gmp::Runtime::builder().procs(2).run(|| {
        let l = Arc::new(RwLock::new(0));
        {
            let _r = l.try_read().expect("free: try_read succeeds");
            assert!(l.try_read().is_some(), "readers share");
            assert!(l.try_write().is_none(), "no writer while a reader holds");
        }
        {
            let _w = l.try_write().expect("free: try_write succeeds");
            assert!(l.try_read().is_none());
            assert!(l.try_write().is_none());
        }
        // A writer waiting behind a reader turns new readers away (writer preference).
        let r = l.read();
        let waiting = Arc::new(AtomicBool::new(false));
        let w = {
            let (l, waiting) = (l.clone(), waiting.clone());
            gmp::spawn(move || {
                waiting.store(true, SeqCst);
                *l.write() += 1;
            })
        };
        eventually("the writer queued", || {
            waiting.load(SeqCst) && l.try_read().is_none()
        });
        drop(r);
        w.join().unwrap();
        assert_eq!(*l.try_read().unwrap(), 1);
        let mut l = Arc::try_unwrap(l).unwrap();
        *l.get_mut() += 1;
        assert_eq!(l.into_inner(), 2);
    });
}

// ---- Condvar ---------------------------------------------------------------------------

#[test]
fn condvar_notify_one_wakes_one_and_notify_all_wakes_all() {
    gmp::Runtime::builder().procs(2).run(|| {
        let state = Arc::new((Mutex::new(0u32), Condvar::new()));
        let waiting = Arc::new(AtomicUsize::new(0));
        let woken = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (state, waiting, woken) = (state.clone(), waiting.clone(), woken.clone());
                gmp::spawn(move || {
                    let (m, cv) = &*state;
                    let mut g = m.lock();
                    waiting.fetch_add(1, SeqCst);
                    g = cv.wait(g);
                    *g += 1;
                    woken.fetch_add(1, SeqCst);
                })
            })
            .collect();
        let (m, cv) = &*state;
        // All three are queued once they counted themselves and released the mutex.
        eventually("three waiters", || {
            waiting.load(SeqCst) == 3 && m.try_lock().is_some()
        });
        cv.notify_one();
        eventually("one woken", || woken.load(SeqCst) == 1);
        // Only one: give the others a chance to run wrongly.
        for _ in 0..100 {
            gmp::yield_now();
        }
        gmp::sleep(Duration::from_millis(5));
        assert_eq!(
            woken.load(SeqCst),
            1,
            "notify_one woke more than one waiter"
        );
        cv.notify_all();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 3);
        // Notifying nobody is a no-op.
        cv.notify_one();
        cv.notify_all();
    });
}

#[test]
fn condvar_wait_timeout_times_out_and_does_not_when_notified() {
    gmp::Runtime::builder().procs(2).run(|| {
        let state = Arc::new((Mutex::new(false), Condvar::new()));
        let (m, cv) = &*state;
        // Nobody notifies: times out, with the mutex locked again.
        let t = Instant::now();
        let (g, res) = cv.wait_timeout(m.lock(), Duration::from_millis(20));
        assert!(res.timed_out());
        assert!(t.elapsed() >= Duration::from_millis(20), "returned early");
        assert!(m.is_locked(), "the guard must hold the mutex again");
        drop(g);
        // Notified well within a long timeout: does not time out.
        let s2 = state.clone();
        let h = gmp::spawn(move || {
            let (m, cv) = &*s2;
            gmp::sleep(Duration::from_millis(5));
            *m.lock() = true;
            cv.notify_one();
        });
        let (g, res) = cv.wait_timeout_while(m.lock(), Duration::from_secs(30), |ready| !*ready);
        assert!(!res.timed_out());
        assert!(*g);
        drop(g);
        h.join().unwrap();
        // wait_timeout_while whose condition never turns: times out.
        let (g, res) = cv.wait_timeout_while(m.lock(), Duration::from_millis(5), |ready| *ready);
        assert!(res.timed_out() && *g);
    });
}

#[test]
fn condvar_timed_out_waiter_does_not_swallow_a_notification() {
    // Many short timed waits racing notify_one: every notification must reach a waiter
    // that has not timed out, or be a no-op because nobody waits; a producer/consumer
    // hand-off built on it loses no item.
    gmp::Runtime::builder().procs(2).run(|| {
        const ITEMS: u32 = 2_000;
        let state = Arc::new((Mutex::new(Vec::<u32>::new()), Condvar::new()));
        let consumer = {
            let state = state.clone();
            gmp::spawn(move || {
                let (m, cv) = &*state;
                let mut got = 0;
                let mut g = m.lock();
                while got < ITEMS {
                    if let Some(_v) = g.pop() {
                        got += 1;
                        continue;
                    }
                    g = cv.wait_timeout(g, Duration::from_micros(50)).0;
                }
                got
            })
        };
        let (m, cv) = &*state;
        for i in 0..ITEMS {
            m.lock().push(i);
            cv.notify_one();
            if i % 64 == 0 {
                gmp::sleep(Duration::from_micros(100));
            }
        }
        assert_eq!(consumer.join().unwrap(), ITEMS);
    });
}

// ---- WaitGroup -------------------------------------------------------------------------

#[test]
fn waitgroup_waits_for_every_done() {
    gmp::Runtime::builder().procs(2).run(|| {
        let wg = Arc::new(WaitGroup::new());
        // Zero count: returns at once.
        wg.wait();
        let done = Arc::new(AtomicUsize::new(0));
        const N: usize = 50;
        wg.add(N as isize);
        for i in 0..N {
            let (wg, done) = (wg.clone(), done.clone());
            gmp::spawn(move || {
                gmp::sleep(Duration::from_micros(100 * (i as u64 % 7)));
                done.fetch_add(1, SeqCst);
                wg.done();
            });
        }
        // Several waiters at once, all released at zero.
        let others: Vec<_> = (0..3)
            .map(|_| {
                let (wg, done) = (wg.clone(), done.clone());
                gmp::spawn(move || {
                    wg.wait();
                    done.load(SeqCst)
                })
            })
            .collect();
        wg.wait();
        assert_eq!(done.load(SeqCst), N, "wait returned before every done");
        for h in others {
            assert_eq!(h.join().unwrap(), N);
        }
        assert_eq!(wg.count(), 0);
        // Reusable.
        wg.add(1);
        let w2 = wg.clone();
        gmp::spawn(move || w2.done());
        wg.wait();
        assert_eq!(wg.count(), 0);
    });
}

#[test]
fn waitgroup_negative_counter_panics() {
    let wg = WaitGroup::new();
    let e = catch_unwind(|| wg.done()).expect_err("done below zero must panic");
    let msg = panic_message(&*e).unwrap();
    assert!(msg.contains("negative counter"), "{msg}");
    assert_eq!(wg.count(), 0, "the counter is left as it was");
    wg.add(2);
    let e = catch_unwind(|| wg.add(-3)).expect_err("add below zero must panic");
    assert!(panic_message(&*e).unwrap().contains("negative counter"));
    assert_eq!(wg.count(), 2);
    // In a goroutine too: the panic reaches its join handle.
    let r = gmp::run(|| {
        gmp::spawn(|| WaitGroup::new().add(-1))
            .join()
            .map_err(|e| panic_message(&*e))
    });
    assert!(r.unwrap_err().unwrap().contains("negative counter"));
}

// ---- Semaphore -------------------------------------------------------------------------

#[test]
fn semaphore_permits_are_never_exceeded() {
    const PERMITS: usize = 3;
    gmp::Runtime::builder().procs(2).run(|| {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                gmp::spawn(move || {
                    for k in 0..100 {
                        let _p = sem.acquire();
                        let now = inside.fetch_add(1, SeqCst) + 1;
                        max.fetch_max(now, SeqCst);
                        assert!(now <= PERMITS, "{now} holders of {PERMITS} permits");
                        if (i + k) % 4 == 0 {
                            gmp::yield_now();
                        }
                        inside.fetch_sub(1, SeqCst);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(sem.available_permits(), PERMITS);
        assert!(max.load(SeqCst) <= PERMITS);
    });
}

#[test]
fn semaphore_acquire_timeout_try_acquire_forget_release() {
    gmp::Runtime::builder().procs(2).run(|| {
        let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(1)));
        let p = sem.try_acquire().expect("one permit free");
        assert!(sem.try_acquire().is_none());
        assert_eq!(sem.available_permits(), 0);
        // Times out while the permit is held.
        let t = Instant::now();
        assert!(sem.acquire_timeout(Duration::from_millis(20)).is_none());
        assert!(t.elapsed() >= Duration::from_millis(20), "returned early");
        // Gets it when released during the wait.
        let h = gmp::spawn(move || {
            gmp::sleep(Duration::from_millis(5));
            drop(p);
        });
        let p = sem
            .acquire_timeout(Duration::from_secs(30))
            .expect("released during the wait");
        h.join().unwrap();
        // A timed-out waiter left nothing behind: the permit goes round normally.
        p.forget();
        assert_eq!(sem.available_permits(), 0);
        sem.release();
        assert_eq!(sem.available_permits(), 1);
        sem.add_permits(2);
        assert_eq!(sem.available_permits(), 3);
        let ps: Vec<_> = (0..3).map(|_| sem.acquire()).collect();
        assert!(sem.try_acquire().is_none());
        drop(ps);
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn semaphore_timeouts_racing_releases_lose_no_permit() {
    // Waiters time out (their timer claims the wait) while holders release (claiming
    // the first waiter): each wait is claimed once, so a permit is neither lost to a
    // waiter that already gave up nor handed out twice.
    gmp::Runtime::builder().procs(2).run(|| {
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let (got, missed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let hs: Vec<_> = (0..8u64)
            .map(|i| {
                let (sem, inside) = (sem.clone(), inside.clone());
                let (got, missed) = (got.clone(), missed.clone());
                gmp::spawn(move || {
                    let mut rng = common::XorShift::new(i);
                    for _ in 0..300 {
                        let timeout = Duration::from_micros(rng.below(60));
                        match sem.acquire_timeout(timeout) {
                            Some(_p) => {
                                assert!(inside.fetch_add(1, SeqCst) < 2, "3 holders");
                                got.fetch_add(1, SeqCst);
                                if rng.below(2) == 0 {
                                    gmp::yield_now();
                                } else {
                                    gmp::sleep(Duration::from_micros(rng.below(30)));
                                }
                                inside.fetch_sub(1, SeqCst);
                            }
                            None => {
                                missed.fetch_add(1, SeqCst);
                            }
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(got.load(SeqCst) + missed.load(SeqCst), 8 * 300);
        assert!(missed.load(SeqCst) > 0 && got.load(SeqCst) > 0);
        assert_eq!(
            sem.available_permits(),
            2,
            "a permit was lost or duplicated"
        );
    });
}

#[test]
fn semaphore_serves_waiters_in_fifo_order() {
    const WAITERS: usize = 10;
    gmp::Runtime::builder().procs(1).run(|| {
        let sem = Arc::new(Semaphore::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let queued = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..WAITERS)
            .map(|i| {
                let (sem, order, q) = (sem.clone(), order.clone(), queued.clone());
                let h = gmp::spawn(move || {
                    q.fetch_add(1, SeqCst);
                    let _p = sem.acquire();
                    order.lock().push(i);
                    gmp::yield_now(); // hold the permit a moment
                });
                // One P: the new goroutine runs (and parks in acquire) before the next.
                while queued.load(SeqCst) <= i {
                    gmp::yield_now();
                }
                gmp::yield_now();
                h
            })
            .collect();
        // Newcomers must not overtake the queue: a permit released now goes to waiter 0.
        sem.add_permits(1);
        assert!(
            sem.try_acquire().is_none(),
            "a newcomer took a waiter's permit"
        );
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*order.lock(), (0..WAITERS).collect::<Vec<_>>());
        assert_eq!(sem.available_permits(), 1);
    });
}

// ---- Barrier ---------------------------------------------------------------------------

#[test]
fn barrier_releases_each_generation_together_with_one_leader() {
    const N: usize = 8;
    const GENERATIONS: usize = 20;
    gmp::Runtime::builder().procs(2).run(|| {
        let b = Arc::new(Barrier::new(N));
        let arrived: Arc<Vec<AtomicUsize>> =
            Arc::new((0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect());
        let leaders: Arc<Vec<AtomicUsize>> =
            Arc::new((0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect());
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let (b, arrived, leaders) = (b.clone(), arrived.clone(), leaders.clone());
                gmp::spawn(move || {
                    for gen in 0..GENERATIONS {
                        if (i + gen) % 3 == 0 {
                            gmp::yield_now();
                        }
                        arrived[gen].fetch_add(1, SeqCst);
                        let r = b.wait();
                        assert_eq!(
                            arrived[gen].load(SeqCst),
                            N,
                            "generation {gen} released before everyone arrived"
                        );
                        if r.is_leader() {
                            leaders[gen].fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        for (gen, l) in leaders.iter().enumerate() {
            assert_eq!(l.load(SeqCst), 1, "generation {gen}: leaders");
        }
        // n = 0 behaves like 1.
        assert!(Barrier::new(0).wait().is_leader());
    });
}

// ---- threads and goroutines together -----------------------------------------------------

#[test]
fn every_primitive_works_between_threads_and_goroutines() {
    gmp::Runtime::builder().procs(2).run(|| {
        let _ticker = Ticker::start();

        // Mutex: threads block, goroutines park, on one counter.
        let m = Arc::new(Mutex::new(()));
        let c = Arc::new(Racy::new());
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (m, c) = (m.clone(), c.clone());
                std::thread::spawn(move || {
                    for k in 0..1_000 {
                        let _g = m.lock();
                        c.bump(false);
                        if k % 100 == 0 {
                            std::thread::sleep(Duration::from_micros(100));
                        }
                    }
                })
            })
            .collect();
        let gs: Vec<_> = (0..3)
            .map(|_| {
                let (m, c) = (m.clone(), c.clone());
                gmp::spawn(move || {
                    for k in 0..1_000 {
                        let _g = m.lock();
                        c.bump(k % 50 == 0);
                        if k % 100 == 0 {
                            gmp::sleep(Duration::from_micros(100));
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(join_thread);
        gs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(c.get(), 6_000);

        // RwLock: a thread writes while goroutines read, and the other way round.
        let l = Arc::new(RwLock::new(0));
        let w = l.write();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let l = l.clone();
                gmp::spawn(move || *l.read())
            })
            .collect();
        let t = {
            let l = l.clone();
            std::thread::spawn(move || *l.read())
        };
        gmp::sleep(Duration::from_millis(5));
        let mut w = w;
        *w = 1;
        drop(w);
        assert!(readers.into_iter().all(|h| h.join().unwrap() == 1));
        assert_eq!(join_thread(t), 1);
        let r = l.read();
        let t = {
            let l = l.clone();
            std::thread::spawn(move || *l.write() += 1) // blocks until we drop `r`
        };
        gmp::sleep(Duration::from_millis(5));
        drop(r);
        join_thread(t);
        assert_eq!(*l.read(), 2);

        // Condvar: a thread waits for a goroutine, a goroutine for a thread.
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let t = {
            let pair = pair.clone();
            std::thread::spawn(move || {
                let (m, cv) = &*pair;
                let g = cv.wait_while(m.lock(), |v| *v < 1);
                drop(g);
                *m.lock() = 2;
                cv.notify_all();
            })
        };
        let g = {
            let pair = pair.clone();
            gmp::spawn(move || {
                let (m, cv) = &*pair;
                *m.lock() = 1;
                cv.notify_all();
                *cv.wait_while(m.lock(), |v| *v < 2)
            })
        };
        assert_eq!(g.join().unwrap(), 2);
        join_thread(t);

        // WaitGroup: a thread waits for goroutines, a goroutine waits for threads.
        let wg_g = Arc::new(WaitGroup::new());
        let wg_t = Arc::new(WaitGroup::new());
        wg_g.add(4);
        wg_t.add(2);
        let waiter_thread = {
            let wg_g = wg_g.clone();
            std::thread::spawn(move || wg_g.wait())
        };
        for _ in 0..4 {
            let wg_g = wg_g.clone();
            gmp::spawn(move || {
                gmp::sleep(Duration::from_millis(2));
                wg_g.done();
            });
        }
        for _ in 0..2 {
            let wg_t = wg_t.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                wg_t.done();
            });
        }
        let waiter_g = {
            let wg_t = wg_t.clone();
            gmp::spawn(move || wg_t.wait())
        };
        waiter_g.join().unwrap();
        join_thread(waiter_thread);

        // Semaphore with one permit, shared by threads and goroutines.
        let sem = Arc::new(Semaphore::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let _p = sem.acquire();
                        assert_eq!(inside.fetch_add(1, SeqCst), 0);
                        std::thread::yield_now();
                        inside.fetch_sub(1, SeqCst);
                    }
                })
            })
            .collect();
        let gs: Vec<_> = (0..2)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                gmp::spawn(move || {
                    for _ in 0..200 {
                        let _p = sem.acquire();
                        assert_eq!(inside.fetch_add(1, SeqCst), 0);
                        gmp::yield_now();
                        inside.fetch_sub(1, SeqCst);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(join_thread);
        gs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sem.available_permits(), 1);

        // Barrier: two threads and two goroutines, several generations.
        let b = Arc::new(Barrier::new(4));
        let leaders = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (b, leaders) = (b.clone(), leaders.clone());
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        if b.wait().is_leader() {
                            leaders.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        let gs: Vec<_> = (0..2)
            .map(|_| {
                let (b, leaders) = (b.clone(), leaders.clone());
                gmp::spawn(move || {
                    for _ in 0..10 {
                        if b.wait().is_leader() {
                            leaders.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(join_thread);
        gs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(leaders.load(SeqCst), 10);
    });
}

// ---- leaving a wait without being woken ----------------------------------------------------

// A deadlocked main goroutine unlinking its condvar wait while unwinding: in
// tests/chan_deadlock.rs (deadlocks on sync waits are reported only without foreign threads).

#[test]
fn goroutines_parked_at_shutdown_are_unlinked_from_every_primitive() {
    // Goroutines still parked on each primitive when main returns are dropped by the
    // runtime and their stacks unmapped; their queue entries must leave the queues
    // first. Then this plain thread releases everything they waited for: a dangling
    // entry would crash it.
    if child_mode().as_deref() == Some("sweep") {
        let m: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
        let cv: &'static Condvar = Box::leak(Box::new(Condvar::new()));
        let cvm: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
        let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(0)));
        let rw: &'static RwLock<u32> = Box::leak(Box::new(RwLock::new(0)));
        let rw2: &'static RwLock<u32> = Box::leak(Box::new(RwLock::new(0)));
        let wg: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
        let b: &'static Barrier = Box::leak(Box::new(Barrier::new(3)));
        let (mg, wg_rw, rg_rw2) = gmp::Runtime::builder().procs(2).run(move || {
            let mg = m.lock();
            let w = rw.write();
            let r = rw2.read();
            wg.add(1);
            let parked = Arc::new(AtomicUsize::new(0));
            for k in 0..7 {
                let parked = parked.clone();
                gmp::spawn(move || {
                    parked.fetch_add(1, SeqCst);
                    match k {
                        0 => drop(m.lock()),
                        1 => drop(cv.wait(cvm.lock())),
                        2 => drop(sem.acquire()),
                        3 => drop(rw.read()),
                        4 => drop(rw2.write()),
                        5 => wg.wait(),
                        _ => drop(b.wait()),
                    }
                });
            }
            eventually("all started", || parked.load(SeqCst) == 7);
            // Let the last ones reach their park.
            gmp::sleep(Duration::from_millis(20));
            (mg, w, r)
        });
        drop(mg);
        drop(wg_rw);
        drop(rg_rw2);
        cv.notify_all();
        sem.add_permits(5);
        wg.done();
        wg.wait();
        assert!(m.try_lock().is_some() && rw.try_write().is_some());
        assert!(rw2.try_write().is_some());
        // The swept barrier waiter no longer counts: three new parties make a generation.
        let ts: Vec<_> = (0..3).map(|_| std::thread::spawn(|| b.wait())).collect();
        let leaders = ts
            .into_iter()
            .map(|t| t.join().unwrap().is_leader())
            .filter(|&l| l)
            .count();
        assert_eq!(leaders, 1);
        println!("PRIMITIVES USABLE AFTERWARDS");
        std::process::exit(0);
    }
    let out = run_child(
        "goroutines_parked_at_shutdown_are_unlinked_from_every_primitive",
        "sweep",
        &[],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("PRIMITIVES USABLE AFTERWARDS"),
        "{}",
        out.describe()
    );
}
