//! `gmp::select!`: fairness among ready arms, `default` and `default(timeout)`, send arms,
//! disconnected channels, racing selects with exact accounting of every value, goroutine
//! and thread peers, the macro's syntax, and deadlock reporting.

mod common;

use common::{child_mode, panic_message, run_child, Watchdog, XorShift};
use gmp::chan::{bounded, unbounded, Receiver, RecvError, RecvTimeoutError, SendError, Sender};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn procs(n: usize) -> gmp::RuntimeBuilder {
    gmp::Runtime::builder().procs(n)
}

/// Asserts `count` is within ±20% of `share`.
fn assert_share(what: &str, count: usize, share: usize) {
    let (lo, hi) = (share * 8 / 10, share * 12 / 10);
    assert!(
        (lo..=hi).contains(&count),
        "{what}: {count} not within ±20% of {share}"
    );
}

// ---- fairness --------------------------------------------------------------------------

#[test]
fn two_ready_channels_are_chosen_about_equally() {
    const N: usize = 100_000;
    gmp::run(|| {
        let (ta, ra) = unbounded::<u32>();
        let (tb, rb) = unbounded::<u32>();
        for _ in 0..N {
            ta.send(0).unwrap();
            tb.send(1).unwrap();
        }
        let mut n = [0usize; 2];
        for _ in 0..N {
            let i = gmp::select! {
                recv(ra) -> v => { assert_eq!(v, Ok(0)); 0 }
                recv(rb) -> v => { assert_eq!(v, Ok(1)); 1 }
            };
            n[i] += 1;
        }
        assert_share("arm a", n[0], N / 2);
        assert_share("arm b", n[1], N / 2);
        assert_eq!(
            ra.len() + rb.len(),
            N,
            "a select took more or less than one value"
        );
    });
}

#[test]
fn three_ready_channels_are_chosen_about_equally() {
    const N: usize = 100_000;
    gmp::run(|| {
        // Two receive arms and one send arm, all always ready.
        let (ta, ra) = unbounded::<u32>();
        let (tb, rb) = unbounded::<u32>();
        let (tc, rc) = unbounded::<u32>();
        for _ in 0..N {
            ta.send(0).unwrap();
            tb.send(1).unwrap();
        }
        let mut n = [0usize; 3];
        for _ in 0..N {
            let i = gmp::select! {
                recv(ra) -> _ => 0,
                recv(rb) -> _ => 1,
                send(tc, 2) -> r => { r.unwrap(); 2 },
            };
            n[i] += 1;
        }
        for (i, &c) in n.iter().enumerate() {
            assert_share(&format!("arm {i}"), c, N / 3);
        }
        assert_eq!(rc.len(), n[2]);
        assert_eq!(ra.len(), N - n[0]);
    });
}

#[test]
fn ready_arms_are_chosen_fairly_from_a_plain_thread() {
    const N: usize = 30_000;
    let (ta, ra) = unbounded::<u32>();
    let (tb, rb) = unbounded::<u32>();
    for _ in 0..N {
        ta.send(0).unwrap();
        tb.send(1).unwrap();
    }
    let mut n = [0usize; 2];
    for _ in 0..N {
        n[gmp::select! { recv(ra) -> _ => 0, recv(rb) -> _ => 1 }] += 1;
    }
    assert_share("arm a", n[0], N / 2);
    assert_share("arm b", n[1], N / 2);
}

// ---- default ---------------------------------------------------------------------------

#[test]
fn default_runs_when_no_arm_is_ready() {
    gmp::run(|| {
        let (_ta, ra) = bounded::<u32>(1);
        let (tb, _rb) = bounded::<u32>(1);
        tb.send(1).unwrap(); // full: a send arm is not ready either
        let (tz, _rz) = bounded::<u32>(0); // no receiver waiting
        let got = gmp::select! {
            recv(ra) -> _ => "recv",
            send(tb, 2) -> _ => "send full",
            send(tz, 3) -> _ => "send rendezvous",
            default => "default",
        };
        assert_eq!(got, "default");
        assert_eq!(tb.len(), 1);
        // And a ready arm wins over default.
        _ta.send(5).unwrap();
        let got = gmp::select! {
            recv(ra) -> v => v.unwrap(),
            default => 0,
        };
        assert_eq!(got, 5);
    });
}

#[test]
fn default_with_timeout_fires_after_the_timeout_not_before() {
    gmp::run(|| {
        let (_tx, rx) = bounded::<u32>(0);
        for ms in [1u64, 15, 40] {
            let d = Duration::from_millis(ms);
            let t = Instant::now();
            let fired = gmp::select! {
                recv(rx) -> _ => false,
                default(d) => true,
            };
            assert!(fired);
            assert!(
                t.elapsed() >= d,
                "default({d:?}) fired after {:?}",
                t.elapsed()
            );
        }
        // Zero timeout: like `default`.
        let r = gmp::select! { recv(rx) -> _ => 1, default(Duration::ZERO) => 2 };
        assert_eq!(r, 2);
    });
}

#[test]
fn default_with_timeout_does_not_fire_when_an_arm_becomes_ready_in_time() {
    procs(2).run(|| {
        let (tx, rx) = bounded::<u32>(0);
        let (ty, ry) = bounded::<u32>(0);
        let h = gmp::spawn(move || {
            gmp::sleep(Duration::from_millis(20));
            tx.send(1).unwrap();
            // Then a receiver for the send arm of the second select.
            gmp::sleep(Duration::from_millis(20));
            ry.recv().unwrap()
        });
        let got = gmp::select! {
            recv(rx) -> v => v.unwrap(),
            default(Duration::from_secs(20)) => 0,
        };
        assert_eq!(got, 1);
        let got = gmp::select! {
            send(ty, 7) -> r => { r.unwrap(); 1 }
            default(Duration::from_secs(20)) => 0
        };
        assert_eq!(got, 1);
        assert_eq!(h.join().unwrap(), 7);
    });
}

#[test]
fn default_with_timeout_from_a_plain_thread() {
    let (tx, rx) = bounded::<u32>(0);
    let d = Duration::from_millis(25);
    let t = Instant::now();
    let r = gmp::select! { recv(rx) -> _ => 1, default(d) => 0 };
    assert_eq!(r, 0);
    assert!(t.elapsed() >= d);
    let h = std::thread::spawn(move || {
        gmp::select! { recv(rx) -> v => v.unwrap(), default(Duration::from_secs(20)) => 0 }
    });
    gmp::run(move || {
        gmp::sleep(Duration::from_millis(20));
        tx.send(4).unwrap();
    });
    assert_eq!(h.join().unwrap(), 4);
}

#[test]
fn a_select_does_not_pair_with_itself() {
    // Sending and receiving on the same rendezvous channel in one select: each arm would
    // be ready for the other, but one select is a single goroutine.
    gmp::run(|| {
        let (tx, rx) = bounded::<u32>(0);
        let r = gmp::select! {
            send(tx, 1) -> _ => "send",
            recv(rx) -> _ => "recv",
            default => "default",
        };
        assert_eq!(r, "default");
        let t = Instant::now();
        let r = gmp::select! {
            send(tx, 1) -> _ => "send",
            recv(rx) -> _ => "recv",
            default(Duration::from_millis(20)) => "timeout",
        };
        assert_eq!(r, "timeout");
        assert!(t.elapsed() >= Duration::from_millis(20));
        assert!(rx.try_recv().is_err());
    });
}

// ---- send arms, mixed arms, disconnection ----------------------------------------------

#[test]
fn send_arms_deliver_exactly_the_value_of_the_arm_that_fired() {
    procs(2).run(|| {
        let (t1, r1) = bounded::<String>(1);
        let (t2, r2) = bounded::<String>(1);
        t2.send("full".into()).unwrap();
        // Only arm 1 has room.
        let r = gmp::select! {
            send(t1, "one".to_string()) -> r => { r.unwrap(); 1 }
            send(t2, "two".to_string()) -> r => { r.unwrap(); 2 }
        };
        assert_eq!(r, 1);
        assert_eq!(r1.try_recv().as_deref(), Ok("one"));
        assert_eq!(r2.try_recv().as_deref(), Ok("full"));
        assert!(
            r2.try_recv().is_err(),
            "the send arm that did not fire delivered"
        );

        // Both full: the select waits until a receiver makes room in one.
        t1.send("x".into()).unwrap();
        t2.send("y".into()).unwrap();
        let r2b = r2.clone();
        let h = gmp::spawn(move || {
            gmp::sleep(Duration::from_millis(20));
            r2b.recv().unwrap()
        });
        let r = gmp::select! {
            send(t1, "a".to_string()) -> _ => 1,
            send(t2, "b".to_string()) -> _ => 2,
        };
        assert_eq!(r, 2);
        assert_eq!(h.join().unwrap(), "y");
        assert_eq!(r1.len(), 1);
        assert_eq!(r1.try_recv().as_deref(), Ok("x"));
        assert_eq!(r2.try_recv().as_deref(), Ok("b"));
    });
}

#[test]
fn mixed_send_and_receive_arms() {
    procs(2).run(|| {
        let (in_tx, in_rx) = bounded::<u32>(0);
        let (out_tx, out_rx) = bounded::<u32>(0);
        // A peer that alternately receives and sends, with pauses, so the select waits
        // on both arms each time.
        let h = gmp::spawn(move || {
            let mut got = Vec::new();
            for i in 0..200u32 {
                if i % 3 == 0 {
                    gmp::sleep(Duration::from_micros(50));
                }
                if i % 2 == 0 {
                    got.push(out_rx.recv().unwrap());
                } else {
                    in_tx.send(i).unwrap();
                }
            }
            got
        });
        let mut sent = Vec::new();
        let mut received = Vec::new();
        let mut k = 1000;
        while sent.len() + received.len() < 200 {
            gmp::select! {
                send(out_tx, k) -> r => { r.unwrap(); sent.push(k); }
                recv(in_rx) -> v => received.push(v.unwrap()),
            }
            k += 1;
        }
        let got = h.join().unwrap();
        assert_eq!(got, sent, "values of send arms that fired, in order");
        assert_eq!(received, (1..200).step_by(2).collect::<Vec<_>>());
    });
}

#[test]
fn a_select_over_a_disconnected_channel_fires_the_error_arm() {
    procs(2).run(|| {
        let (tx, rx) = bounded::<u32>(4);
        let (_live_tx, live_rx) = bounded::<u32>(0);
        tx.send(1).unwrap();
        drop(tx);
        // Buffered values first, then the error.
        let r = gmp::select! { recv(rx) -> v => v, recv(live_rx) -> _ => unreachable!() };
        assert_eq!(r, Ok(1));
        let r = gmp::select! { recv(rx) -> v => v, recv(live_rx) -> _ => unreachable!() };
        assert_eq!(r, Err(RecvError));
        let r = gmp::select! { recv(rx) -> v => v, default => Ok(99) };
        assert_eq!(r, Err(RecvError), "a disconnected arm is ready, not default");

        let (tx, rx) = bounded::<String>(0);
        drop(rx);
        let r = gmp::select! {
            send(tx, "back".to_string()) -> r => r,
            recv(live_rx) -> _ => unreachable!(),
        };
        assert_eq!(r, Err(SendError("back".to_string())));

        // A select already waiting is woken by the disconnect.
        let (tx, rx) = bounded::<u32>(0);
        let (stx, srx) = bounded::<u32>(0);
        let h = gmp::spawn(move || {
            let a = gmp::select! { recv(rx) -> v => v.map_err(|_| "recv"), recv(live_rx) -> _ => Ok(0) };
            let b = gmp::select! { send(stx, 5) -> r => r.map_err(|e| e.into_inner()) };
            (a, b)
        });
        gmp::sleep(Duration::from_millis(20));
        drop(tx);
        gmp::sleep(Duration::from_millis(20));
        drop(srx);
        let (a, b) = h.join().unwrap();
        assert_eq!(a, Err("recv"));
        assert_eq!(b, Err(5));
    });
}

// ---- racing selects: exact accounting --------------------------------------------------

/// What one goroutine of the racing test saw.
#[derive(Default)]
struct Log {
    /// Values this goroutine received (from any channel).
    received: Vec<u64>,
    /// Values of send arms of this goroutine that fired.
    sent: Vec<u64>,
    /// Count of each way a select ended: recv, send, timeout/default.
    fired: [usize; 3],
}

const SELECT_TAG: u64 = 1 << 62;

#[test]
fn racing_selects_lose_and_duplicate_nothing() {
    let _watchdog = Watchdog::new(
        "racing_selects_lose_and_duplicate_nothing",
        Duration::from_secs(120),
    );
    // Channels a, b: plain senders → selects (and plain receivers);
    // c, d: selects' send arms → plain receivers;
    // e: selects' send arms → selects' receive arms (select against select).
    // Selects block, time out after a few microseconds, or use `default`; any value
    // taken twice, lost, or delivered from a send arm that did not fire breaks the
    // accounting at the end.
    const RUN_FOR: Duration = Duration::from_secs(2);
    const SENDERS: u64 = 4;
    const SELECTORS: u64 = 6;
    let (logs, produced) = procs(2).run(|| {
        let (ta, ra) = bounded::<u64>(0);
        let (tb, rb) = bounded::<u64>(3);
        let (tc, rc) = bounded::<u64>(0);
        let (td, rd) = bounded::<u64>(2);
        let (te, re) = bounded::<u64>(0);
        let end = Instant::now() + RUN_FOR;
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let (ta, tb) = (ta.clone(), tb.clone());
                gmp::spawn(move || {
                    let mut rng = XorShift::new(s);
                    let mut seq = 0u64;
                    while Instant::now() < end {
                        let v = s << 40 | seq;
                        if rng.below(2) == 0 {
                            ta.send(v)
                        } else {
                            tb.send(v)
                        }
                        .unwrap();
                        seq += 1;
                        if rng.below(8) == 0 {
                            gmp::yield_now();
                        }
                    }
                    seq
                })
            })
            .collect();
        drop((ta, tb));
        let plain_rx: Vec<_> = [ra.clone(), rb.clone(), rc.clone(), rd.clone()]
            .into_iter()
            .enumerate()
            .map(|(i, rx)| {
                gmp::spawn(move || {
                    let mut rng = XorShift::new(100 + i as u64);
                    let mut log = Log::default();
                    loop {
                        let r = if rng.below(2) == 0 {
                            rx.recv().map_err(|_| true)
                        } else {
                            rx.recv_timeout(Duration::from_micros(rng.below(30)))
                                .map_err(|e| e == RecvTimeoutError::Disconnected)
                        };
                        match r {
                            Ok(v) => log.received.push(v),
                            Err(true) => return log,
                            Err(false) => {}
                        }
                        if rng.below(16) == 0 {
                            gmp::sleep(Duration::from_micros(rng.below(20)));
                        }
                    }
                })
            })
            .collect();
        drop((rc, rd));
        let selectors: Vec<_> = (0..SELECTORS)
            .map(|k| {
                let (ra, rb, tc, td) = (ra.clone(), rb.clone(), tc.clone(), td.clone());
                let (te, re) = (te.clone(), re.clone());
                gmp::spawn(move || {
                    let mut rng = XorShift::new(1000 + k);
                    let mut log = Log::default();
                    let (mut a_done, mut b_done) = (false, false);
                    let mut j = 0u64;
                    while !(a_done && b_done) {
                        let tag = SELECT_TAG | k << 40 | j << 2;
                        let (vc, vd, ve) = (tag, tag | 1, tag | 2);
                        j += 1;
                        let mut on_recv = |log: &mut Log, v: Result<u64, RecvError>, which| match v
                        {
                            Ok(v) => {
                                log.received.push(v);
                                log.fired[0] += 1;
                            }
                            Err(RecvError) if which == 0 => a_done = true,
                            Err(RecvError) if which == 1 => b_done = true,
                            Err(RecvError) => unreachable!("e has senders while selects run"),
                        };
                        let on_send = |log: &mut Log, r: Result<(), SendError<u64>>, v| {
                            r.expect("c, d and e have receivers while selects run");
                            log.sent.push(v);
                            log.fired[1] += 1;
                        };
                        match rng.below(3) {
                            0 => gmp::select! {
                                recv(ra) -> v => on_recv(&mut log, v, 0),
                                recv(rb) -> v => on_recv(&mut log, v, 1),
                                send(tc, vc) -> r => on_send(&mut log, r, vc),
                                send(td, vd) -> r => on_send(&mut log, r, vd),
                                send(te, ve) -> r => on_send(&mut log, r, ve),
                                recv(re) -> v => on_recv(&mut log, v, 2),
                            },
                            1 => gmp::select! {
                                recv(ra) -> v => on_recv(&mut log, v, 0),
                                recv(rb) -> v => on_recv(&mut log, v, 1),
                                send(tc, vc) -> r => on_send(&mut log, r, vc),
                                send(te, ve) -> r => on_send(&mut log, r, ve),
                                recv(re) -> v => on_recv(&mut log, v, 2),
                                default(Duration::from_micros(rng.below(40))) => log.fired[2] += 1,
                            },
                            _ => gmp::select! {
                                recv(ra) -> v => on_recv(&mut log, v, 0),
                                recv(rb) -> v => on_recv(&mut log, v, 1),
                                send(td, vd) -> r => on_send(&mut log, r, vd),
                                send(te, ve) -> r => on_send(&mut log, r, ve),
                                recv(re) -> v => on_recv(&mut log, v, 2),
                                default => log.fired[2] += 1,
                            },
                        }
                    }
                    log
                })
            })
            .collect();
        drop((ra, rb, tc, td, te, re));
        let produced: Vec<u64> = senders.into_iter().map(|h| h.join().unwrap()).collect();
        let mut logs: Vec<Log> = selectors.into_iter().map(|h| h.join().unwrap()).collect();
        logs.extend(plain_rx.into_iter().map(|h| h.join().unwrap()));
        (logs, produced)
    });

    // Every value received exactly once: the plain senders' values, and the values of
    // the send arms that fired. Nothing else.
    let mut want: Vec<u64> = Vec::new();
    for (s, &n) in produced.iter().enumerate() {
        want.extend((0..n).map(|q| (s as u64) << 40 | q));
    }
    for l in &logs {
        want.extend(&l.sent);
    }
    let mut got: Vec<u64> = logs
        .iter()
        .flat_map(|l| l.received.iter().copied())
        .collect();
    want.sort_unstable();
    got.sort_unstable();
    if got != want {
        let mut count: HashMap<u64, i64> = HashMap::new();
        for v in &want {
            *count.entry(*v).or_default() += 1;
        }
        for v in &got {
            *count.entry(*v).or_default() -= 1;
        }
        let lost: Vec<_> = count
            .iter()
            .filter(|e| *e.1 > 0)
            .map(|e| *e.0)
            .take(10)
            .collect();
        let extra: Vec<_> = count
            .iter()
            .filter(|e| *e.1 < 0)
            .map(|e| *e.0)
            .take(10)
            .collect();
        panic!(
            "{} values expected, {} received; lost (first 10): {lost:x?}; \
             duplicated or never sent (first 10): {extra:x?}",
            want.len(),
            got.len()
        );
    }
    let fired = logs.iter().fold([0; 3], |mut a, l| {
        (0..3).for_each(|i| a[i] += l.fired[i]);
        a
    });
    let from_selects_to_selects = logs[..SELECTORS as usize]
        .iter()
        .flat_map(|l| &l.received)
        .filter(|&&v| v & SELECT_TAG != 0)
        .count();
    println!(
        "{} values; selects fired {} receives, {} sends, {} defaults/timeouts; \
         {from_selects_to_selects} select-to-select",
        want.len(),
        fired[0],
        fired[1],
        fired[2]
    );
    assert!(
        fired.iter().all(|&n| n > 100),
        "some kind of arm hardly ever fired: {fired:?}"
    );
    assert!(
        from_selects_to_selects > 0,
        "no select ever met another select"
    );
}

// ---- goroutine and thread peers --------------------------------------------------------

#[test]
fn a_goroutine_selects_over_a_thread_peer_and_a_goroutine_peer() {
    const EACH: u32 = 2_000;
    let (ta, ra) = bounded::<u32>(0);
    let (tb, rb) = bounded::<u32>(1);
    let t = std::thread::spawn(move || {
        for i in 0..EACH {
            if i % 500 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            ta.send(i).unwrap();
        }
    });
    let (na, nb) = procs(2).run(move || {
        let h = gmp::spawn(move || {
            for i in 0..EACH {
                tb.send(EACH + i).unwrap();
            }
        });
        let (mut na, mut nb) = (0, 0);
        let (mut next_a, mut next_b) = (0, EACH);
        let (mut a_open, mut b_open) = (true, true);
        while a_open || b_open {
            gmp::select! {
                recv(ra) -> v => match v {
                    Ok(v) => { assert_eq!(v, next_a); next_a += 1; na += 1; }
                    Err(_) => a_open = false,
                },
                recv(rb) -> v => match v {
                    Ok(v) => { assert_eq!(v, next_b); next_b += 1; nb += 1; }
                    Err(_) => b_open = false,
                },
            }
        }
        h.join().unwrap();
        (na, nb)
    });
    t.join().unwrap();
    assert_eq!((na, nb), (EACH, EACH));
}

#[test]
fn a_thread_selects_over_goroutine_peers() {
    const EACH: u64 = 2_000;
    let (ta, ra) = bounded::<u64>(0);
    let (tb, rb) = bounded::<u64>(0);
    let (tq, rq) = bounded::<u64>(0);
    let t = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut sent = 0u64;
        // A disconnected channel's arm fires again and again: count each closing once.
        let mut open = [true, true];
        let mut out = Some(tq);
        while open[0] || open[1] || out.is_some() {
            let mut on = |i: usize, v: Result<u64, RecvError>| match v {
                Ok(v) => got.push(v),
                Err(_) => open[i] = false,
            };
            // The send arm is there for as long as the thread has values to send.
            if let Some(tq) = &out {
                gmp::select! {
                    recv(ra) -> v => on(0, v),
                    recv(rb) -> v => on(1, v),
                    send(tq, 10_000 + sent) -> r => { r.unwrap(); sent += 1; }
                }
                if sent == EACH {
                    out = None;
                }
            } else {
                gmp::select! {
                    recv(ra) -> v => on(0, v),
                    recv(rb) -> v => on(1, v),
                }
            }
        }
        drop(out);
        got
    });
    let back = procs(2).run(move || {
        let ha = gmp::spawn(move || (0..EACH).for_each(|i| ta.send(i).unwrap()));
        let hb = gmp::spawn(move || (EACH..2 * EACH).for_each(|i| tb.send(i).unwrap()));
        let back: Vec<u64> = (0..EACH).map(|_| rq.recv().unwrap()).collect();
        ha.join().unwrap();
        hb.join().unwrap();
        back
    });
    let mut got = t.join().unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..2 * EACH).collect::<Vec<_>>());
    assert_eq!(back, (10_000..10_000 + EACH).collect::<Vec<_>>());
}

// ---- the macro -------------------------------------------------------------------------

#[test]
fn select_macro_accepts_blocks_expressions_and_optional_commas() {
    gmp::run(|| {
        let (tx, rx) = unbounded::<u32>();
        let (tx2, rx2) = unbounded::<u32>();
        tx.send(1).unwrap();

        // Expression arms, trailing comma.
        let v = gmp::select! {
            recv(rx) -> v => v.unwrap() + 1,
            recv(rx2) -> _ => 0,
        };
        assert_eq!(v, 2);

        // Expression arms, no trailing comma.
        tx2.send(5).unwrap();
        let v = gmp::select! {
            recv(rx) -> _ => 0,
            recv(rx2) -> v => v.unwrap()
        };
        assert_eq!(v, 5);

        // Block arms, without and with commas, and a default.
        let mut hits = 0;
        gmp::select! {
            recv(rx) -> _ => { hits += 10; }
            send(tx2, 3) -> r => { r.unwrap(); hits += 1; }
        }
        gmp::select! {
            recv(rx2) -> v => { assert_eq!(v, Ok(3)); hits += 1; },
            default => { unreachable!() },
        }
        assert_eq!(hits, 2);
        let d = gmp::select! { recv(rx) -> _ => 1, default => { 7 } };
        assert_eq!(d, 7);
        let d = gmp::select! { recv(rx) -> _ => 1, default(Duration::from_millis(1)) => 8 };
        assert_eq!(d, 8);
        let d = gmp::select! { default => 9 };
        assert_eq!(d, 9);

        // Patterns, single arm, channels behind references and indexing, arms that
        // break out of the surrounding loop.
        let rxs = [rx, rx2];
        let r0 = &rxs[0];
        tx.send(4).unwrap();
        let v = gmp::select! { recv(r0) -> mut v => { v = v.map(|x| x * 2); v.unwrap() } recv(rxs[1]) -> _ => 0 };
        assert_eq!(v, 8);
        drop(tx);
        let mut n = 0;
        loop {
            gmp::select! {
                recv(rxs[0]) -> v => match v {
                    Ok(_) => n += 1,
                    Err(_) => break,
                },
            }
        }
        assert_eq!(n, 0);
        // A `send` arm's value is evaluated once, before waiting.
        let mut evals = 0;
        let (t3, r3) = bounded::<u32>(1);
        gmp::select! {
            send(t3, { evals += 1; 6 }) -> r => r.unwrap(),
        }
        assert_eq!((evals, r3.recv()), (1, Ok(6)));
    });
}

// ---- deadlock --------------------------------------------------------------------------

const DEADLOCK: &str = "all goroutines are asleep - deadlock!";

/// Runs `body` as the main goroutine in a child process and checks that `run` panicked
/// with the deadlock message.
fn expect_deadlock_in_child(name: &str, body: fn()) {
    if child_mode().as_deref() == Some(name) {
        let r = std::panic::catch_unwind(|| procs(2).run(body));
        match r {
            Ok(()) => println!("run returned instead of reporting the deadlock"),
            Err(e) => match panic_message(&*e) {
                Some(m) if m == DEADLOCK => println!("DEADLOCK REPORTED"),
                other => println!("run panicked with {other:?}"),
            },
        }
        std::process::exit(0);
    }
    let out = run_child(name, name, &[], Duration::from_secs(30));
    assert!(
        out.status.success() && out.stdout.contains("DEADLOCK REPORTED"),
        "{}",
        out.describe()
    );
}

#[test]
fn an_empty_select_in_main_alone_is_a_deadlock() {
    expect_deadlock_in_child("an_empty_select_in_main_alone_is_a_deadlock", || {
        gmp::select! {}
    });
}

// A deadlock of goroutines parked on channels is reported only in a process without
// threads of its own; libtest always has some: see tests/chan_deadlock.rs.

#[test]
fn a_deadlock_after_channel_waits_is_still_reported() {
    // Goroutines that waited on channels and finished those waits must not keep the
    // runtime from seeing a later deadlock of another kind.
    expect_deadlock_in_child("a_deadlock_after_channel_waits_is_still_reported", || {
        let (tx, rx) = bounded::<u32>(0);
        let h = gmp::spawn(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
            }
            gmp::park_forever()
        });
        for i in 0..100 {
            assert_eq!(rx.recv(), Ok(i));
        }
        let _ = h.join();
    });
}

#[test]
fn a_goroutine_waiting_for_a_thread_is_not_a_deadlock() {
    // The runtime is idle with every goroutine parked on a channel, but a plain thread
    // holds the other end and sends later.
    let (tx, rx) = bounded::<u32>(0);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        // With a timeout: if the runtime (wrongly) gave up, nobody receives any more.
        tx.send_timeout(1, Duration::from_secs(5)).is_ok()
    });
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        procs(2).run(move || {
            let h = gmp::spawn(move || {
                gmp::select! { recv(rx) -> v => v.unwrap() }
            });
            h.join().unwrap()
        })
    }));
    let delivered = t.join().unwrap();
    match r {
        Ok(v) => assert!(v == 1 && delivered),
        Err(e) => panic!("run panicked: {:?}", panic_message(&*e)),
    }
}

#[test]
fn selects_waiting_when_the_runtime_ends_leave_the_channels_usable() {
    // Goroutines still parked in selects and receives when main returns are swept; their
    // queue entries must be unlinked so the channels' remaining users never touch them.
    let (ta, ra) = bounded::<u32>(0);
    let (tb, rb) = bounded::<u32>(0);
    let parked = Arc::new(AtomicUsize::new(0));
    let p2 = parked.clone();
    let (ra2, rb2, tb2) = (ra.clone(), rb.clone(), tb.clone());
    procs(2).run(move || {
        for _ in 0..20 {
            let (ra, rb, tb, p) = (ra2.clone(), rb2.clone(), tb2.clone(), p2.clone());
            gmp::spawn(move || {
                p.fetch_add(1, SeqCst);
                gmp::select! {
                    recv(ra) -> _ => {},
                    recv(rb) -> _ => {},
                    send(tb, 5) -> _ => {},
                }
            });
        }
        while p2.load(SeqCst) < 20 {
            gmp::sleep(Duration::from_millis(1));
        }
        gmp::sleep(Duration::from_millis(20));
    });
    assert_eq!(parked.load(SeqCst), 20);
    // No receiver is waiting any more: a rendezvous send must not find one.
    assert!(ta.try_send(1).is_err());
    assert!(tb.try_send(1).is_err());
    assert!(rb.try_recv().is_err());
    let h = std::thread::spawn(move || ra.recv());
    ta.send(2).unwrap();
    assert_eq!(h.join().unwrap(), Ok(2));
    let _: (Sender<u32>, Receiver<u32>) = (tb, rb);
}
