//! Several goroutines waiting on one socket direction (readers sharing a `UdpSocket`,
//! acceptors sharing a listener): the first waits for readiness, the others queue behind
//! it and retry when its wait ends. Every datagram reaches a reader, idle queued readers
//! do not wake, and a queued reader's timeout still fires.

mod common;

use common::Watchdog;
use gmp::net::UdpSocket;
use std::collections::HashSet;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn readers_sharing_a_udp_socket_get_every_datagram() {
    let _w = Watchdog::new("shared udp readers", Duration::from_secs(60));
    gmp::Runtime::builder().procs(2).run(|| {
        for round in 0..20 {
            let server = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            let addr = server.local_addr().unwrap();
            const READERS: usize = 8;
            const PER_READER: usize = 25;
            let readers: Vec<_> = (0..READERS)
                .map(|_| {
                    let server = server.clone();
                    gmp::spawn(move || {
                        let mut got = Vec::new();
                        let mut buf = [0u8; 8];
                        for _ in 0..PER_READER {
                            let (n, _) = server.recv_from(&mut buf).unwrap();
                            got.push(u32::from_le_bytes(buf[..n].try_into().unwrap()));
                        }
                        got
                    })
                })
                .collect();
            // Bursts of datagrams: one readiness edge announces several of them, more
            // than the woken reader consumes.
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            for burst in 0..(READERS * PER_READER / 10) {
                for i in 0..10 {
                    let v = (burst * 10 + i) as u32;
                    client.send_to(&v.to_le_bytes(), addr).unwrap();
                }
                gmp::yield_now();
            }
            let mut all = HashSet::new();
            for h in readers {
                for v in h.join().unwrap() {
                    assert!(all.insert(v), "round {round}: datagram {v} twice");
                }
            }
            assert_eq!(all.len(), READERS * PER_READER, "round {round}");
        }
    });
}

#[test]
fn idle_queued_readers_do_not_wake() {
    // Eight goroutines blocked reading one idle socket: only the switches of this
    // goroutine's sleeps happen meanwhile (a reader that napped and retried would add
    // hundreds).
    let _w = Watchdog::new("idle shared readers", Duration::from_secs(60));
    gmp::Runtime::builder().procs(2).run(|| {
        let server = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let addr = server.local_addr().unwrap();
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let server = server.clone();
                gmp::spawn(move || {
                    let mut buf = [0u8; 8];
                    server.recv_from(&mut buf).unwrap().0
                })
            })
            .collect();
        gmp::sleep(Duration::from_millis(20));
        let before = gmp::stats().switches;
        for _ in 0..10 {
            gmp::sleep(Duration::from_millis(10));
        }
        let switches = gmp::stats().switches - before;
        assert!(
            switches < 50,
            "{switches} switches in 100 ms with every reader idle"
        );
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..8 {
            client.send_to(b"x", addr).unwrap();
        }
        for h in readers {
            assert_eq!(h.join().unwrap(), 1);
        }
    });
}

#[test]
fn a_queued_reader_times_out() {
    // A reader without a timeout waits first; one with a 50 ms timeout queues behind it
    // and must still get `TimedOut`; then the first reader still gets its datagram.
    let _w = Watchdog::new("queued reader timeout", Duration::from_secs(60));
    gmp::Runtime::builder().procs(2).run(|| {
        let server = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let addr = server.local_addr().unwrap();
        let first_waiting = Arc::new(AtomicBool::new(false));
        let s1 = server.clone();
        let f1 = first_waiting.clone();
        let first = gmp::spawn(move || {
            f1.store(true, SeqCst);
            let mut buf = [0u8; 8];
            s1.recv_from(&mut buf).unwrap().0
        });
        while !first_waiting.load(SeqCst) {
            gmp::yield_now();
        }
        gmp::sleep(Duration::from_millis(10));
        // The first reader computed its deadline (none) when it started waiting: the
        // timeout set now applies to the second reader only.
        server
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let t = Instant::now();
        let mut buf = [0u8; 8];
        let err = server.recv_from(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(50) && took < Duration::from_secs(5),
            "{took:?}"
        );
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(b"abc", addr)
            .unwrap();
        assert_eq!(first.join().unwrap(), 3);
    });
}
