//! Hammers the netpoll park/ready protocol: many connections, each with a reader and a
//! writer goroutine on the same socket, small random writes and random yields, for a few
//! seconds. Every byte must arrive exactly once, in order, and nothing may hang.

mod common;

use common::XorShift;
use gmp::net::{Shutdown, TcpListener, TcpStream};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn read_write_readiness_races() {
    const CONNS: usize = 64;
    let secs = Duration::from_secs(3);
    gmp::run(move || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // Server: echo with its own reader/writer split, through a small buffer.
        let server = gmp::spawn(move || {
            let hs: Vec<_> = (0..CONNS)
                .map(|_| {
                    let (c, _) = l.accept().unwrap();
                    gmp::spawn(move || {
                        let mut buf = [0u8; 97];
                        let mut c = c;
                        loop {
                            let n = c.read(&mut buf).unwrap();
                            if n == 0 {
                                c.shutdown(Shutdown::Write).unwrap();
                                return;
                            }
                            c.write_all(&buf[..n]).unwrap();
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        });
        let deadline = Instant::now() + secs;
        let clients: Vec<_> = (0..CONNS)
            .map(|k| {
                gmp::spawn(move || {
                    let c = Arc::new(TcpStream::connect(addr).unwrap());
                    let w = c.clone();
                    let writer = gmp::spawn(move || {
                        let mut rng = XorShift::new(k as u64 + 1);
                        let mut seq: u64 = 0;
                        while Instant::now() < deadline {
                            let n = 1 + rng.below(300) as usize;
                            let chunk: Vec<u8> = (0..n).map(|i| (seq + i as u64) as u8).collect();
                            (&*w).write_all(&chunk).unwrap();
                            seq += n as u64;
                            match rng.below(4) {
                                0 => gmp::yield_now(),
                                1 => gmp::sleep(Duration::from_micros(rng.below(50))),
                                _ => {}
                            }
                        }
                        w.shutdown(Shutdown::Write).unwrap();
                        seq
                    });
                    let mut rng = XorShift::new(k as u64 + 1000);
                    let mut got: u64 = 0;
                    let mut buf = vec![0u8; 512];
                    loop {
                        let want = 1 + rng.below(buf.len() as u64) as usize;
                        let n = (&*c).read(&mut buf[..want]).unwrap();
                        if n == 0 {
                            break;
                        }
                        for (j, &b) in buf[..n].iter().enumerate() {
                            assert_eq!(
                                b,
                                (got + j as u64) as u8,
                                "conn {k}: byte {} out of order",
                                got + j as u64
                            );
                        }
                        got += n as u64;
                        if rng.below(3) == 0 {
                            gmp::yield_now();
                        }
                    }
                    let sent = writer.join().unwrap();
                    assert_eq!(got, sent, "conn {k}: bytes lost or duplicated");
                    sent
                })
            })
            .collect();
        let total: u64 = clients.into_iter().map(|h| h.join().unwrap()).sum();
        server.join().unwrap();
        assert!(total > 0);
    });
}
