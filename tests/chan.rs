//! Channels (`gmp::chan`): ordering, capacity, rendezvous, disconnection, timeouts,
//! heavy fan-in, plain threads talking to goroutines, and the iterators.
//!
//! Every message is accounted for exactly: a lost value makes a test hang or come up
//! short, a duplicated one makes a count exceed one. Timing is only checked from below
//! (a timeout never fires early), never for speed.

mod common;

use common::{child_mode, run_child, Watchdog, XorShift};
use gmp::chan::{
    bounded, unbounded, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender,
    TryRecvError, TrySendError,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

// ---- helpers ---------------------------------------------------------------------------

/// Counts live heap bytes, for the timer-pruning test (which runs alone in a child
/// process so that other tests' allocations do not show up).
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to `System`, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(l.size() as isize, SeqCst);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE_BYTES.fetch_sub(l.size() as isize, SeqCst);
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(l.size() as isize, SeqCst);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new as isize - l.size() as isize, SeqCst);
        // SAFETY: as above.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A value that counts its drops.
#[derive(Debug)]
struct Tracked {
    id: u64,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: u64, drops: &Arc<AtomicUsize>) -> Tracked {
        Tracked {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// One counter per value in `0..n`, to check that each arrives exactly once.
struct Seen(Vec<AtomicU8>);

impl Seen {
    fn new(n: usize) -> Seen {
        Seen((0..n).map(|_| AtomicU8::new(0)).collect())
    }

    fn mark(&self, v: u64) {
        let before = self.0[v as usize].fetch_add(1, SeqCst);
        assert_eq!(before, 0, "value {v} received twice");
    }

    fn assert_all_once(&self) {
        let missing: Vec<usize> = (0..self.0.len())
            .filter(|&i| self.0[i].load(SeqCst) != 1)
            .take(10)
            .collect();
        assert!(
            missing.is_empty(),
            "values not received exactly once: {missing:?}..."
        );
    }
}

fn procs(n: usize) -> gmp::RuntimeBuilder {
    gmp::Runtime::builder().procs(n)
}

/// Makes a channel of one kind.
type Make = fn() -> (Sender<u64>, Receiver<u64>);

/// Capacities that cover the three kinds of channel.
fn kinds() -> [(&'static str, Make); 4] {
    [
        ("bounded(0)", || bounded(0)),
        ("bounded(1)", || bounded(1)),
        ("bounded(16)", || bounded(16)),
        ("unbounded", unbounded),
    ]
}

// ---- semantics -------------------------------------------------------------------------

#[test]
fn values_from_one_sender_arrive_in_the_order_sent() {
    let _watchdog = Watchdog::new(
        "values_from_one_sender_arrive_in_the_order_sent",
        Duration::from_secs(120),
    );
    const SENDERS: u64 = 8;
    const EACH: u64 = 5_000;
    for (name, make) in kinds() {
        for p in [1, 2] {
            procs(p).run(move || {
                let (tx, rx) = make();
                let hs: Vec<_> = (0..SENDERS)
                    .map(|s| {
                        let tx = tx.clone();
                        gmp::spawn(move || {
                            for k in 0..EACH {
                                tx.send(s << 32 | k).unwrap();
                                if k % 97 == 0 {
                                    gmp::yield_now();
                                }
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let mut next = [0u64; SENDERS as usize];
                let mut total = 0;
                for v in rx.iter() {
                    let (s, k) = ((v >> 32) as usize, v & 0xffff_ffff);
                    assert_eq!(k, next[s], "{name}, procs {p}: sender {s} out of order");
                    next[s] += 1;
                    total += 1;
                }
                assert_eq!(total, SENDERS * EACH, "{name}, procs {p}");
                hs.into_iter().for_each(|h| h.join().unwrap());
            });
        }
    }
}

#[test]
fn bounded_channel_holds_at_most_its_capacity() {
    gmp::run(|| {
        let (tx, rx) = bounded::<u32>(3);
        assert_eq!(tx.capacity(), Some(3));
        assert_eq!(rx.capacity(), Some(3));
        assert!(tx.is_empty() && rx.is_empty());
        for i in 0..3 {
            tx.try_send(i).unwrap();
            assert_eq!(rx.len(), i as usize + 1);
        }
        match tx.try_send(99) {
            Err(TrySendError::Full(99)) => {}
            other => panic!("try_send on a full channel: {other:?}"),
        }
        assert_eq!(tx.len(), 3);
        assert_eq!(rx.recv(), Ok(0));
        tx.try_send(3).unwrap();
        assert!(tx.try_send(4).unwrap_err().is_full());
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2, 3]);
        assert!(rx.is_empty());
    });
}

#[test]
fn bounded_channel_never_buffers_more_than_its_capacity_under_load() {
    // Producers block on a full channel while a slow consumer samples `len`.
    const CAP: usize = 5;
    procs(2).run(|| {
        let (tx, rx) = bounded::<u64>(CAP);
        let hs: Vec<_> = (0..6u64)
            .map(|p| {
                let tx = tx.clone();
                gmp::spawn(move || {
                    for k in 0..2_000 {
                        tx.send(p * 10_000 + k).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut n = 0;
        let mut max_len = 0;
        loop {
            max_len = max_len.max(rx.len());
            match rx.recv() {
                Ok(_) => n += 1,
                Err(RecvError) => break,
            }
            if n % 100 == 0 {
                gmp::yield_now();
            }
        }
        assert_eq!(n, 12_000);
        assert!(max_len <= CAP, "len() reached {max_len} > capacity {CAP}");
        assert!(
            max_len > 0,
            "the producers never got ahead: the test did not test"
        );
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

#[test]
fn rendezvous_send_completes_only_when_a_receiver_takes_the_value() {
    procs(2).run(|| {
        let (tx, rx) = bounded::<u32>(0);
        assert_eq!(tx.capacity(), Some(0));
        // Nobody receives: try_send fails and gives the value back.
        match tx.try_send(5) {
            Err(TrySendError::Full(5)) => {}
            other => panic!("try_send with no receiver: {other:?}"),
        }
        assert!(rx.is_empty());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

        let sent = Arc::new(AtomicBool::new(false));
        let s2 = sent.clone();
        let h = gmp::spawn(move || {
            tx.send(7).unwrap();
            s2.store(true, SeqCst);
            tx
        });
        gmp::sleep(Duration::from_millis(50));
        assert!(
            !sent.load(SeqCst),
            "send on bounded(0) returned with no receiver"
        );
        assert_eq!(rx.len(), 0, "a rendezvous channel buffered a value");
        assert_eq!(rx.recv(), Ok(7));
        let tx = h.join().unwrap();
        assert!(sent.load(SeqCst));

        // A receiver waiting: try_send hands the value over.
        let r = gmp::spawn(move || rx.recv());
        let mut tries = 0u64;
        loop {
            match tx.try_send(8) {
                Ok(()) => break,
                Err(TrySendError::Full(8)) => {
                    tries += 1;
                    assert!(tries < 10_000_000, "the receiver never showed up");
                    gmp::yield_now();
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(r.join().unwrap(), Ok(8));
    });
}

#[test]
fn unbounded_send_never_blocks() {
    // One processor and no receiver running: every send must return on its own.
    procs(1).run(|| {
        let (tx, rx) = unbounded::<u64>();
        assert_eq!(tx.capacity(), None);
        for i in 0..100_000 {
            tx.send(i).unwrap();
            tx.try_send(i + 1_000_000).unwrap();
        }
        assert_eq!(rx.len(), 200_000);
        let h = gmp::spawn(move || {
            let mut n = 0;
            while let Ok(v) = rx.try_recv() {
                let _ = v;
                n += 1;
            }
            n
        });
        assert_eq!(h.join().unwrap(), 200_000);
        // The receiver is gone now.
        assert_eq!(tx.send(1), Err(SendError(1)));
    });
}

#[test]
fn receivers_drain_the_buffer_then_see_the_disconnect() {
    gmp::run(|| {
        let (tx, rx) = bounded::<u32>(10);
        let tx2 = tx.clone();
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        drop(tx);
        tx2.send(5).unwrap();
        drop(tx2);
        assert_eq!(rx.len(), 6);
        for i in 0..6 {
            assert_eq!(rx.recv(), Ok(i));
        }
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Err(RecvTimeoutError::Disconnected)
        );
        assert_eq!(rx.iter().next(), None);
    });
}

#[test]
fn receivers_waiting_when_the_last_sender_drops_get_recv_error() {
    for (name, make) in kinds() {
        procs(2).run(move || {
            let (tx, rx) = make();
            let waiting = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    let rx = rx.clone();
                    let waiting = waiting.clone();
                    gmp::spawn(move || {
                        waiting.fetch_add(1, SeqCst);
                        if i % 2 == 0 {
                            rx.recv().map_err(|_| ())
                        } else {
                            rx.recv_timeout(Duration::from_secs(30)).map_err(|e| {
                                assert_eq!(e, RecvTimeoutError::Disconnected);
                            })
                        }
                    })
                })
                .collect();
            while waiting.load(SeqCst) < 8 {
                gmp::yield_now();
            }
            gmp::sleep(Duration::from_millis(20));
            let tx2 = tx.clone();
            drop(tx);
            gmp::sleep(Duration::from_millis(5));
            drop(tx2);
            for h in hs {
                assert_eq!(h.join().unwrap(), Err(()), "{name}");
            }
        });
    }
}

#[test]
fn send_gives_the_value_back_when_every_receiver_is_gone() {
    gmp::run(|| {
        let (tx, rx) = bounded::<String>(2);
        let rx2 = rx.clone();
        drop(rx);
        tx.send("kept".into()).unwrap();
        drop(rx2);
        assert_eq!(tx.send("a".into()), Err(SendError("a".to_string())));
        match tx.try_send("b".into()) {
            Err(TrySendError::Disconnected(s)) => assert_eq!(s, "b"),
            other => panic!("{other:?}"),
        }
        match tx.send_timeout("c".into(), Duration::from_secs(10)) {
            Err(SendTimeoutError::Disconnected(s)) => assert_eq!(s, "c"),
            other => panic!("{other:?}"),
        }
        assert_eq!(SendError(3).into_inner(), 3);
    });
}

#[test]
fn senders_waiting_when_the_last_receiver_drops_get_their_values_back() {
    for (name, make) in kinds() {
        if name == "unbounded" {
            continue;
        }
        procs(2).run(move || {
            let (tx, rx) = make();
            // Fill the buffer, so that the senders below have to wait.
            let cap = tx.capacity().unwrap() as u64;
            for i in 0..cap {
                tx.send(1000 + i).unwrap();
            }
            let started = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..6u64)
                .map(|i| {
                    let tx = tx.clone();
                    let started = started.clone();
                    gmp::spawn(move || {
                        started.fetch_add(1, SeqCst);
                        if i % 2 == 0 {
                            tx.send(i).map_err(|e| e.into_inner())
                        } else {
                            tx.send_timeout(i, Duration::from_secs(30)).map_err(|e| {
                                assert!(e.is_disconnected(), "{e:?}");
                                e.into_inner()
                            })
                        }
                    })
                })
                .collect();
            while started.load(SeqCst) < 6 {
                gmp::yield_now();
            }
            gmp::sleep(Duration::from_millis(20));
            drop(rx);
            for (i, h) in hs.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), Err(i as u64), "{name}");
            }
        });
    }
}

#[test]
fn values_buffered_when_the_receivers_drop_are_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    gmp::run(move || {
        let (tx, rx) = bounded::<Tracked>(10);
        for i in 0..7 {
            tx.send(Tracked::new(i, &d)).unwrap();
        }
        let first = rx.recv().unwrap();
        assert_eq!(first.id, 0);
        assert_eq!(d.load(SeqCst), 0);
        drop(rx);
        // The six still buffered go with the last receiver, not with the channel.
        assert_eq!(
            d.load(SeqCst),
            6,
            "buffered values not dropped with the receivers"
        );
        let back = tx.send(Tracked::new(100, &d)).unwrap_err().into_inner();
        assert_eq!(back.id, 100);
        assert_eq!(d.load(SeqCst), 6, "a value given back was dropped");
        drop(back);
        drop(first);
        drop(tx);
        assert_eq!(d.load(SeqCst), 8);
    });
    assert_eq!(
        drops.load(SeqCst),
        8,
        "some value was dropped twice or never"
    );
}

#[test]
fn every_value_is_dropped_exactly_once_under_churn() {
    let _watchdog = Watchdog::new(
        "every_value_is_dropped_exactly_once_under_churn",
        Duration::from_secs(120),
    );
    // Senders and receivers come and go while values are in flight; at the end every
    // value made was dropped exactly once: received, given back, or still buffered when
    // the last receiver went.
    const MADE: u64 = 40_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (received, returned) = procs(2).run(move || {
        let (tx, rx) = bounded::<Tracked>(8);
        let received = Arc::new(AtomicUsize::new(0));
        let returned = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..4u64)
            .map(|p| {
                let (tx, d, returned) = (tx.clone(), d.clone(), returned.clone());
                gmp::spawn(move || {
                    for k in 0..MADE / 4 {
                        let v = Tracked::new(p * MADE + k, &d);
                        if let Err(e) = tx.send(v) {
                            drop(e.into_inner());
                            returned.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let rs: Vec<_> = (0..3u64)
            .map(|c| {
                let (rx, received) = (rx.clone(), received.clone());
                gmp::spawn(move || {
                    // Each consumer leaves after a different number of values.
                    for _ in 0..(c + 1) * 4_000 {
                        match rx.recv() {
                            Ok(v) => {
                                drop(v);
                                received.fetch_add(1, SeqCst);
                            }
                            Err(RecvError) => break,
                        }
                    }
                })
            })
            .collect();
        drop(rx);
        rs.into_iter().for_each(|h| h.join().unwrap());
        hs.into_iter().for_each(|h| h.join().unwrap());
        (received.load(SeqCst), returned.load(SeqCst))
    });
    assert_eq!(received, 24_000);
    assert!(returned > 0, "every send succeeded: the test did not test");
    assert_eq!(
        drops.load(SeqCst),
        MADE as usize,
        "received {received}, given back {returned}, the rest must be dropped with the buffer"
    );
}

// ---- timeouts --------------------------------------------------------------------------

#[test]
fn recv_timeout_times_out_and_not_early() {
    gmp::run(|| {
        let (_tx, rx) = bounded::<u32>(1);
        for ms in [1u64, 10, 40] {
            let d = Duration::from_millis(ms);
            let t = Instant::now();
            assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Timeout));
            assert!(
                t.elapsed() >= d,
                "recv_timeout({d:?}) after {:?}",
                t.elapsed()
            );
        }
        let t = Instant::now();
        assert_eq!(
            rx.recv_deadline(Some(t + Duration::from_millis(15))),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(t.elapsed() >= Duration::from_millis(15));
        // A deadline already past does not wait, and does not miss a ready value.
        assert_eq!(
            rx.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Timeout)
        );
        _tx.send(3).unwrap();
        assert_eq!(rx.recv_deadline(Some(t)), Ok(3));
    });
}

#[test]
fn send_timeout_times_out_with_the_value_back() {
    gmp::run(|| {
        for cap in [0usize, 1] {
            let (tx, rx) = bounded::<String>(cap);
            if cap == 1 {
                tx.send("first".into()).unwrap();
            }
            let d = Duration::from_millis(30);
            let t = Instant::now();
            match tx.send_timeout("late".into(), d) {
                Err(SendTimeoutError::Timeout(s)) => assert_eq!(s, "late"),
                other => panic!("cap {cap}: {other:?}"),
            }
            assert!(
                t.elapsed() >= d,
                "send_timeout returned after {:?}",
                t.elapsed()
            );
            // The value that timed out is not in the channel.
            drop(tx);
            let rest: Vec<String> = rx.iter().collect();
            let want: Vec<String> = if cap == 1 {
                vec!["first".into()]
            } else {
                vec![]
            };
            assert_eq!(rest, want, "cap {cap}");
        }
    });
}

#[test]
fn timeouts_succeed_when_the_peer_arrives_in_time() {
    procs(2).run(|| {
        for cap in [0usize, 1] {
            let (tx, rx) = bounded::<u32>(cap);
            let h = gmp::spawn({
                let tx = tx.clone();
                move || {
                    gmp::sleep(Duration::from_millis(20));
                    tx.send(1).unwrap();
                }
            });
            assert_eq!(rx.recv_timeout(Duration::from_secs(20)), Ok(1));
            h.join().unwrap();

            if cap == 1 {
                tx.send(0).unwrap(); // full
            }
            let h = gmp::spawn({
                let rx = rx.clone();
                move || {
                    gmp::sleep(Duration::from_millis(20));
                    let mut got = vec![rx.recv().unwrap()];
                    if cap == 1 {
                        got.push(rx.recv().unwrap());
                    }
                    got
                }
            });
            tx.send_timeout(2, Duration::from_secs(20)).unwrap();
            let want = if cap == 1 { vec![0, 2] } else { vec![2] };
            assert_eq!(h.join().unwrap(), want, "cap {cap}");
        }
    });
}

#[test]
fn a_timed_out_wait_takes_nothing_later() {
    // After a recv_timeout / send_timeout timed out, its queue entry must be gone: a
    // later value goes to the next receiver, a later receiver does not get the value
    // that timed out.
    procs(2).run(|| {
        let (tx, rx) = bounded::<u32>(0);
        for _ in 0..50 {
            assert_eq!(
                rx.recv_timeout(Duration::from_micros(200)),
                Err(RecvTimeoutError::Timeout)
            );
            assert!(tx.try_send(1).is_err(), "a timed-out receiver took a value");
            assert!(tx.send_timeout(2, Duration::from_micros(200)).is_err());
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        }
        let h = gmp::spawn(move || rx.recv_timeout(Duration::from_secs(20)));
        tx.send(3).unwrap();
        assert_eq!(h.join().unwrap(), Ok(3));
    });
}

#[test]
fn timeouts_racing_with_peers_lose_nothing() {
    let _watchdog = Watchdog::new(
        "timeouts_racing_with_peers_lose_nothing",
        Duration::from_secs(120),
    );
    // Receivers and senders with timeouts about as long as the gaps between peers: every
    // value either arrives exactly once or comes back to its sender in the error.
    const SENDERS: u64 = 4;
    const EACH: u64 = 3_000;
    let seen = Arc::new(Seen::new((SENDERS * EACH) as usize));
    let s2 = seen.clone();
    let (got, back) = procs(2).run(move || {
        let (tx, rx) = bounded::<u64>(0);
        let back = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..SENDERS)
            .map(|p| {
                let (tx, back, seen) = (tx.clone(), back.clone(), s2.clone());
                gmp::spawn(move || {
                    let mut rng = XorShift::new(p);
                    for k in 0..EACH {
                        let v = p * EACH + k;
                        let d = Duration::from_micros(rng.below(60));
                        match tx.send_timeout(v, d) {
                            Ok(()) => {}
                            Err(SendTimeoutError::Timeout(w)) => {
                                assert_eq!(w, v);
                                seen.mark(v);
                                back.fetch_add(1, SeqCst);
                            }
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let rs: Vec<_> = (0..3u64)
            .map(|c| {
                let (rx, seen) = (rx.clone(), s2.clone());
                gmp::spawn(move || {
                    let mut rng = XorShift::new(100 + c);
                    let mut n = 0;
                    loop {
                        match rx.recv_timeout(Duration::from_micros(rng.below(60))) {
                            Ok(v) => {
                                seen.mark(v);
                                n += 1;
                            }
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => return n,
                        }
                    }
                })
            })
            .collect();
        drop(rx);
        hs.into_iter().for_each(|h| h.join().unwrap());
        let got: usize = rs.into_iter().map(|h| h.join().unwrap()).sum();
        (got, back.load(SeqCst))
    });
    seen.assert_all_once();
    assert_eq!(got + back, (SENDERS * EACH) as usize);
    assert!(
        got > 0 && back > 0,
        "got {got}, back {back}: the race never happened"
    );
}

#[test]
fn a_loop_of_successful_recv_timeouts_does_not_grow_memory() {
    // Each recv_timeout that parks arms a timer; when a value arrives first the timer
    // stays in the heap until pruned. 100,000 of them must not pile up. Measured with a
    // counting allocator, in a child process so no other test allocates meanwhile.
    const NAME: &str = "a_loop_of_successful_recv_timeouts_does_not_grow_memory";
    if child_mode().as_deref() == Some(NAME) {
        let r = procs(1).run(|| {
            // Unbounded, so that sends never park: with one processor each side then
            // reaches its recv_timeout before the other side sends, and parks with a
            // timer every round trip.
            let (ping_tx, ping_rx) = unbounded::<u64>();
            let (pong_tx, pong_rx) = unbounded::<u64>();
            let echo = gmp::spawn(move || {
                while let Ok(v) = ping_rx.recv_timeout(Duration::from_secs(600)) {
                    pong_tx.send(v).unwrap();
                }
            });
            let round = |n: u64| {
                let t = Instant::now();
                for i in 0..n {
                    ping_tx.send(i).unwrap();
                    assert_eq!(pong_rx.recv_timeout(Duration::from_secs(600)), Ok(i));
                }
                t.elapsed()
            };
            round(1_000); // warm up: heaps and queues at their working size
            let before = LIVE_BYTES.load(SeqCst);
            let sw = gmp::stats().switches;
            let first = round(50_000);
            let mid = LIVE_BYTES.load(SeqCst);
            let second = round(50_000);
            let after = LIVE_BYTES.load(SeqCst);
            let switches = gmp::stats().switches - sw;
            drop(ping_tx);
            echo.join().unwrap();
            (before, mid, after, first, second, switches)
        });
        println!("RESULT {r:?}");
        let (before, mid, after, first, second, switches) = r;
        println!(
            "live heap before {before}, after 50k {mid}, after 100k {after}; \
             halves {first:?} / {second:?}; {switches} switches"
        );
        // Both sides park on every round trip with procs(1).
        assert!(
            switches >= 200_000,
            "only {switches} switches: the waits did not park"
        );
        let grown = after - before;
        assert!(
            grown < 256 << 10,
            "the live heap grew by {grown} bytes over 100,000 timed receives \
             (stale timers not pruned?)"
        );
        println!("CHILD OK");
        return;
    }
    let out = run_child(NAME, NAME, &[], Duration::from_secs(120));
    assert!(
        out.status.success() && out.stdout.contains("CHILD OK"),
        "{}",
        out.describe()
    );
    for l in out.stdout.lines().filter(|l| l.starts_with("live heap")) {
        println!("{l}");
    }
}

// ---- fan-in under load -----------------------------------------------------------------

fn thousand_producers_ten_consumers(p: usize) {
    let _watchdog = Watchdog::new("thousand_producers_ten_consumers", Duration::from_secs(120));
    const PRODUCERS: u64 = 1_000;
    const EACH: u64 = 1_000;
    let seen = Arc::new(Seen::new((PRODUCERS * EACH) as usize));
    let s2 = seen.clone();
    let counts = procs(p).run(move || {
        let (tx, rx) = bounded::<u64>(64);
        let ps: Vec<_> = (0..PRODUCERS)
            .map(|i| {
                let tx = tx.clone();
                gmp::spawn(move || {
                    for k in 0..EACH {
                        tx.send(i * EACH + k).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let cs: Vec<_> = (0..10)
            .map(|_| {
                let (rx, seen) = (rx.clone(), s2.clone());
                gmp::spawn(move || {
                    let mut n = 0u64;
                    for v in rx.iter() {
                        seen.mark(v);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        drop(rx);
        ps.into_iter().for_each(|h| h.join().unwrap());
        cs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(counts.iter().sum::<u64>(), PRODUCERS * EACH);
    seen.assert_all_once();
}

#[test]
fn thousand_producers_ten_consumers_bounded_64_procs_2() {
    thousand_producers_ten_consumers(2);
}

#[test]
fn thousand_producers_ten_consumers_bounded_64_procs_1() {
    thousand_producers_ten_consumers(1);
}

// ---- threads and goroutines ------------------------------------------------------------

#[test]
fn channels_work_between_plain_threads_without_a_runtime() {
    for (name, make) in kinds() {
        let (tx, rx) = make();
        let ts: Vec<_> = (0..3u64)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for k in 0..2_000 {
                        tx.send(t * 2_000 + k).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let seen = Seen::new(6_000);
        rx.iter().for_each(|v| seen.mark(v));
        seen.assert_all_once();
        ts.into_iter().for_each(|t| t.join().unwrap());
        let _ = name;
    }
}

/// `threads` plain threads send `each` values each to `gs` goroutines, or the reverse.
fn threads_and_goroutines(make: Make, threads_send: bool) {
    const THREADS: u64 = 3;
    const GS: u64 = 3;
    const EACH: u64 = 3_000;
    let seen = Arc::new(Seen::new((THREADS * EACH) as usize));
    let (tx, rx) = make();
    let s2 = seen.clone();
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let (tx, rx, seen) = (tx.clone(), rx.clone(), s2.clone());
            std::thread::spawn(move || {
                if threads_send {
                    drop(rx);
                    for k in 0..EACH {
                        tx.send(t * EACH + k).unwrap();
                    }
                } else {
                    drop(tx);
                    for v in rx.iter() {
                        seen.mark(v);
                    }
                }
            })
        })
        .collect();
    procs(2).run(move || {
        let hs: Vec<_> = (0..GS)
            .map(|g| {
                let (tx, rx, seen) = (tx.clone(), rx.clone(), s2.clone());
                gmp::spawn(move || {
                    if threads_send {
                        drop(tx);
                        for v in rx.iter() {
                            seen.mark(v);
                        }
                    } else {
                        drop(rx);
                        for k in 0..EACH * THREADS / GS {
                            tx.send(g * EACH * THREADS / GS + k).unwrap();
                        }
                    }
                })
            })
            .collect();
        drop((tx, rx));
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    ts.into_iter().for_each(|t| t.join().unwrap());
    seen.assert_all_once();
}

#[test]
fn threads_send_to_goroutines() {
    for (_, make) in kinds() {
        threads_and_goroutines(make, true);
    }
}

#[test]
fn goroutines_send_to_threads() {
    for (_, make) in kinds() {
        threads_and_goroutines(make, false);
    }
}

#[test]
fn a_thread_blocked_in_recv_is_woken_by_a_goroutine_send() {
    for (name, make) in kinds() {
        let (tx, rx) = make();
        let barrier = Arc::new(Barrier::new(2));
        let b2 = barrier.clone();
        let t = std::thread::spawn(move || {
            b2.wait();
            let t0 = Instant::now();
            let v = rx.recv();
            (v, t0.elapsed())
        });
        barrier.wait();
        gmp::run(move || {
            // Let the thread get into its wait first.
            gmp::sleep(Duration::from_millis(30));
            tx.send(42).unwrap();
            // `tx` stays alive until after the send: the thread must get the value, not
            // a disconnect.
        });
        let (v, waited) = t.join().unwrap();
        assert_eq!(v, Ok(42), "{name}");
        assert!(
            waited >= Duration::from_millis(20),
            "{name}: did not block ({waited:?})"
        );
    }
}

#[test]
fn a_goroutine_blocked_in_recv_is_woken_by_a_thread_send() {
    // The goroutine, and with it the whole runtime, is idle while the thread sleeps:
    // that is not a deadlock, since the thread holds a sender.
    for (name, make) in kinds() {
        let (tx, rx) = make();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx.send(42).unwrap();
        });
        let v = procs(2).run(move || rx.recv());
        assert_eq!(v, Ok(42), "{name}");
        t.join().unwrap();
    }
}

#[test]
fn a_goroutine_blocked_in_send_is_woken_by_a_thread_recv() {
    let (tx, rx) = bounded::<u32>(0);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        rx.recv()
    });
    procs(2).run(move || tx.send(9).unwrap());
    assert_eq!(t.join().unwrap(), Ok(9));
}

#[test]
fn a_thread_blocked_in_send_is_woken_by_a_goroutine_recv() {
    let (tx, rx) = bounded::<u32>(1);
    tx.send(1).unwrap();
    let t = std::thread::spawn(move || {
        let t0 = Instant::now();
        tx.send(2).unwrap();
        t0.elapsed()
    });
    let got = gmp::run(move || {
        gmp::sleep(Duration::from_millis(30));
        (rx.recv().unwrap(), rx.recv().unwrap())
    });
    assert_eq!(got, (1, 2));
    assert!(t.join().unwrap() >= Duration::from_millis(20));
}

#[test]
fn a_thread_recv_timeout_times_out_and_succeeds() {
    let (tx, rx) = bounded::<u32>(0);
    let d = Duration::from_millis(30);
    let t0 = Instant::now();
    assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Timeout));
    assert!(t0.elapsed() >= d);
    match tx.send_timeout(1, d) {
        Err(SendTimeoutError::Timeout(1)) => {}
        other => panic!("{other:?}"),
    }
    let t = std::thread::spawn(move || rx.recv_timeout(Duration::from_secs(20)));
    gmp::run(move || {
        gmp::sleep(Duration::from_millis(20));
        tx.send(5).unwrap();
    });
    assert_eq!(t.join().unwrap(), Ok(5));
}

#[test]
fn goroutines_of_two_runtimes_talk_over_channels() {
    // Each runtime's goroutines wait on peers of the other runtime: neither runtime may
    // take that for a deadlock, and wake-ups cross runtimes both ways.
    const N: u64 = 20_000;
    let (req_tx, req_rx) = bounded::<u64>(0);
    let (resp_tx, resp_rx) = bounded::<u64>(0);
    let server = std::thread::spawn(move || {
        procs(2).run(move || {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let (req_rx, resp_tx) = (req_rx.clone(), resp_tx.clone());
                    gmp::spawn(move || {
                        let mut n = 0;
                        for v in req_rx.iter() {
                            resp_tx.send(v * 2).unwrap();
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            drop((req_rx, resp_tx));
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
    });
    let sum = procs(2).run(move || {
        let sender = gmp::spawn(move || {
            for i in 0..N {
                if i % 1000 == 0 {
                    gmp::sleep(Duration::from_millis(1));
                }
                req_tx.send(i).unwrap();
            }
        });
        let sum: u64 = (0..N).map(|_| resp_rx.recv().unwrap()).sum();
        sender.join().unwrap();
        sum
    });
    assert_eq!(server.join().unwrap(), N);
    assert_eq!(sum, N * (N - 1));
}

#[test]
fn threads_waking_goroutines_while_their_runtime_ends_do_not_crash() {
    // Plain threads keep handing values to goroutines parked in `recv` while `run`
    // returns and tears the runtime down. A thread that claimed a goroutine's wait just
    // before the shutdown sweep unlinked it must not ready that goroutine into a runtime
    // that is gone. In a child process: the failure is memory corruption.
    const NAME: &str = "threads_waking_goroutines_while_their_runtime_ends_do_not_crash";
    if child_mode().as_deref() == Some(NAME) {
        let end = Instant::now() + Duration::from_secs(4);
        let mut rounds = 0u64;
        while Instant::now() < end {
            let (tx, rx) = bounded::<u64>(0);
            let stop = Arc::new(AtomicBool::new(false));
            let ts: Vec<_> = (0..3)
                .map(|_| {
                    let (stop, tx) = (stop.clone(), tx.clone());
                    std::thread::spawn(move || {
                        let mut i = 0;
                        while !stop.load(SeqCst) {
                            let _ = tx.try_send(i);
                            i += 1;
                        }
                    })
                })
                .collect();
            procs(2).run(move || {
                for _ in 0..32 {
                    let rx = rx.clone();
                    gmp::spawn(move || while rx.recv().is_ok() {});
                }
                gmp::sleep(Duration::from_micros(rounds % 100));
            });
            stop.store(true, SeqCst);
            ts.into_iter().for_each(|t| t.join().unwrap());
            rounds += 1;
        }
        println!("CHILD OK after {rounds} runtimes");
        return;
    }
    let out = run_child(NAME, NAME, &[], Duration::from_secs(120));
    assert!(
        out.status.success() && out.stdout.contains("CHILD OK"),
        "{}",
        out.describe()
    );
}

// ---- iterators -------------------------------------------------------------------------

#[test]
fn iter_try_iter_and_into_iter() {
    procs(2).run(|| {
        let (tx, rx) = unbounded::<u32>();
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        // try_iter takes what is there now and stops without waiting.
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(rx.try_iter().next(), None);

        // iter waits for values and ends when every sender is gone.
        let h = gmp::spawn(move || {
            for i in 10..15 {
                gmp::sleep(Duration::from_millis(1));
                tx.send(i).unwrap();
            }
        });
        let mut got = Vec::new();
        for v in &rx {
            got.push(v);
        }
        assert_eq!(got, [10, 11, 12, 13, 14]);
        h.join().unwrap();

        let (tx, rx) = bounded::<u32>(0);
        let h = gmp::spawn(move || (0..100).for_each(|i| tx.send(i).unwrap()));
        let v: Vec<u32> = rx.into_iter().collect();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
        h.join().unwrap();
    });
}

#[test]
fn handles_compare_and_format() {
    let (tx, rx) = bounded::<u8>(1);
    let (tx2, rx2) = bounded::<u8>(1);
    assert!(tx.same_channel(&tx.clone()));
    assert!(!tx.same_channel(&tx2));
    assert!(rx.same_channel(&rx.clone()));
    assert!(!rx.same_channel(&rx2));
    assert_eq!(format!("{tx:?} {rx:?}"), "Sender { .. } Receiver { .. }");
    assert_eq!(format!("{:?}", TrySendError::Full(1)), "Full(..)");
    assert!(SendError(1).to_string().contains("receivers"));
    assert!(RecvError.to_string().contains("senders"));
    // The error helpers agree with what the operations return.
    assert!(rx2.try_recv().unwrap_err().is_empty());
    assert!(rx2
        .recv_timeout(std::time::Duration::from_millis(1))
        .unwrap_err()
        .is_timeout());
    drop((tx2, tx));
    assert!(rx2.try_recv().unwrap_err().is_disconnected());
    assert!(rx2
        .recv_timeout(std::time::Duration::from_millis(1))
        .unwrap_err()
        .is_disconnected());
}
