//! An idle M looks at its note for up to 100 µs before it sleeps on the futex
//! (gmp-core/src/proc/m.rs, `idle_spin`), and its waker makes the `futex_wake` call only
//! if the M has marked the note asleep (gmp-core/src/words/note.rs). A wake must reach
//! the M wherever it lands: before the spin, during it, between the spin's end and the
//! mark, and during the futex wait.
//!
//! Plain threads drive goroutines through the two kinds of wake-up that start an idle
//! M: a send from outside the runtime (the global queue and `wakep`), and socket events
//! (the poller readies a batch and wakes an M for the rest). Each thread waits a random
//! 0-250 µs between messages, so the M that went idle after the last answer is woken at
//! every point of its 100 µs spin and after it. A lost wake-up leaves the goroutine
//! unrun: its thread then waits for the answer until the watchdog ends the test.

mod common;

use common::{Watchdog, XorShift};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Messages per driving thread.
const MESSAGES: u64 = 1_500;

fn burn(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// `threads` plain threads, each sending numbered messages to its own goroutine over a
/// channel and waiting for each answer (the number plus one) before the next.
fn channel_round_trips(procs: usize, threads: u64) {
    gmp::Runtime::builder().procs(procs).run(move || {
        let drivers: Vec<_> = (0..threads)
            .map(|t| {
                let (to_g, from_thread) = gmp::chan::bounded::<u64>(1);
                let (to_thread, from_g) = gmp::chan::bounded::<u64>(1);
                gmp::spawn(move || {
                    while let Ok(i) = from_thread.recv() {
                        to_thread.send(i + 1).unwrap();
                    }
                });
                std::thread::spawn(move || {
                    let mut rng = XorShift::new(0x1d1e + t);
                    for i in 0..MESSAGES {
                        burn(Duration::from_micros(rng.below(250)));
                        to_g.send(i).unwrap();
                        assert_eq!(from_g.recv().unwrap(), i + 1, "wrong answer");
                    }
                })
            })
            .collect();
        for d in drivers {
            gmp::blocking(move || d.join()).unwrap();
        }
    });
}

#[test]
fn sends_from_plain_threads_wake_idle_ms_at_every_point_of_their_spin() {
    let _w = Watchdog::new("wakes from plain threads", Duration::from_secs(120));
    channel_round_trips(2, 1);
    channel_round_trips(2, 3);
    // More Ps than busy ones: the spin's cap (half the busy Ps, at least one) makes
    // the other idle Ms sleep at once.
    channel_round_trips(4, 3);
}

#[test]
fn socket_events_wake_idle_ms_at_every_point_of_their_spin() {
    let _w = Watchdog::new("wakes from the poller", Duration::from_secs(120));
    gmp::Runtime::builder().procs(2).run(|| {
        let l = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        const CLIENTS: u64 = 3;
        gmp::spawn(move || {
            for _ in 0..CLIENTS {
                let (mut c, _) = l.accept().unwrap();
                gmp::spawn(move || {
                    let mut b = [0u8; 8];
                    while c.read_exact(&mut b).is_ok() {
                        let n = u64::from_le_bytes(b) + 1;
                        c.write_all(&n.to_le_bytes()).unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    c.set_nodelay(true).unwrap();
                    let mut rng = XorShift::new(0x50c4 + t);
                    let mut b = [0u8; 8];
                    for i in 0..MESSAGES {
                        burn(Duration::from_micros(rng.below(250)));
                        c.write_all(&i.to_le_bytes()).unwrap();
                        c.read_exact(&mut b).unwrap();
                        assert_eq!(u64::from_le_bytes(b), i + 1, "wrong answer");
                    }
                })
            })
            .collect();
        for c in clients {
            gmp::blocking(move || c.join()).unwrap();
        }
    });
}
