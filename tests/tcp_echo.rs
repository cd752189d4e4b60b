//! TCP through the netpoller: bulk echo over many connections, half-close, resets,
//! timeouts, a writer blocked by a slow reader, accept under a busy run queue.

mod common;

use common::XorShift;
use gmp::net::{Shutdown, TcpListener, TcpStream};
use std::io::{self, ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Echoes every byte of every connection until the peer half-closes; then closes.
fn echo_conn(mut c: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 << 10];
    let mut total = 0;
    loop {
        let n = c.read(&mut buf)?;
        if n == 0 {
            c.shutdown(Shutdown::Write)?;
            return Ok(total);
        }
        c.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// An echo server on 127.0.0.1:0, accepting `conns` connections.
fn echo_server(conns: usize) -> (std::net::SocketAddr, gmp::JoinHandle<u64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = gmp::spawn(move || {
        let hs: Vec<_> = (0..conns)
            .map(|_| {
                let (c, _) = l.accept().unwrap();
                gmp::spawn(move || echo_conn(c).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    (addr, h)
}

fn pattern(seed: u64, i: usize) -> u8 {
    (seed as usize)
        .wrapping_mul(31)
        .wrapping_add(i.wrapping_mul(7)) as u8
}

#[test]
fn thousand_connections_echo_a_mebibyte_each() {
    const CONNS: usize = 1000;
    const BYTES: usize = 1 << 20;
    let total = gmp::run(|| {
        let (addr, server) = echo_server(CONNS);
        let clients: Vec<_> = (0..CONNS)
            .map(|k| {
                gmp::spawn(move || {
                    let c = Arc::new(TcpStream::connect(addr).unwrap());
                    let w = c.clone();
                    // Writer and reader run as two goroutines on one socket.
                    let writer = gmp::spawn(move || {
                        let mut rng = XorShift::new(k as u64);
                        let mut sent = 0;
                        let mut chunk = Vec::new();
                        while sent < BYTES {
                            let n = (1 + rng.below(9000) as usize).min(BYTES - sent);
                            chunk.clear();
                            chunk.extend((sent..sent + n).map(|i| pattern(k as u64, i)));
                            (&*w).write_all(&chunk).unwrap();
                            sent += n;
                        }
                        w.shutdown(Shutdown::Write).unwrap();
                    });
                    let mut got = 0usize;
                    let mut buf = vec![0u8; 7000];
                    loop {
                        let n = (&*c).read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        for (j, &b) in buf[..n].iter().enumerate() {
                            assert_eq!(b, pattern(k as u64, got + j), "conn {k} byte {}", got + j);
                        }
                        got += n;
                    }
                    writer.join().unwrap();
                    got
                })
            })
            .collect();
        let got: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(server.join().unwrap(), got as u64);
        got
    });
    assert_eq!(total, CONNS * BYTES);
}

#[test]
fn half_close_echoes_the_rest_then_closes() {
    gmp::run(|| {
        let (addr, server) = echo_server(1);
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"the rest").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"the rest");
        assert_eq!(server.join().unwrap(), 8);
    });
}

#[test]
fn peer_reset_mid_transfer_is_an_error_not_a_hang() {
    gmp::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = gmp::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let chunk = vec![7u8; 64 << 10];
            // Write until the reset surfaces.
            loop {
                if let Err(e) = c.write_all(&chunk) {
                    return e.kind();
                }
            }
        });
        let c = TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 1000];
        (&c).read_exact(&mut buf).unwrap();
        // SO_LINGER 0: close sends RST.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on a live socket with a correctly sized option.
        let r = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&c),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0);
        drop(c);
        let kind = server.join().unwrap();
        assert!(
            matches!(kind, ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
            "unexpected error kind {kind:?}"
        );
        // The runtime keeps serving.
        let (addr2, s2) = echo_server(1);
        let mut c2 = TcpStream::connect(addr2).unwrap();
        c2.write_all(b"ok").unwrap();
        c2.shutdown(Shutdown::Write).unwrap();
        let mut v = Vec::new();
        c2.read_to_end(&mut v).unwrap();
        assert_eq!(v, b"ok");
        s2.join().unwrap();
    });
}

#[test]
fn read_timeout_fires_and_the_connection_still_works() {
    gmp::run(|| {
        let (addr, server) = echo_server(1);
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(50)));
        let t = Instant::now();
        let mut buf = [0u8; 16];
        let e = c.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(
            t.elapsed() >= Duration::from_millis(50),
            "timed out early: {:?}",
            t.elapsed()
        );
        c.write_all(b"still here").unwrap();
        let mut back = [0u8; 10];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"still here");
        assert!(
            c.set_read_timeout(Some(Duration::ZERO)).is_err(),
            "zero timeout is an error"
        );
        c.shutdown(Shutdown::Write).unwrap();
        server.join().unwrap();
    });
}

#[test]
fn write_to_a_stalled_reader_parks_the_goroutine_not_the_thread() {
    gmp::Runtime::builder().procs(1).run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stalled = gmp::spawn(move || l.accept().unwrap().0);
        let writer_conn = TcpStream::connect(addr).unwrap();
        let peer = stalled.join().unwrap(); // never reads
        let blocked = Arc::new(AtomicBool::new(true));
        let b = blocked.clone();
        let written = Arc::new(AtomicUsize::new(0));
        let w = written.clone();
        let writer = gmp::spawn(move || {
            let chunk = vec![1u8; 64 << 10];
            let mut c = writer_conn;
            c.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
            while b.load(Ordering::SeqCst) {
                match c.write(&chunk) {
                    Ok(n) => {
                        w.fetch_add(n, Ordering::SeqCst);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        // Let the writer fill the socket buffers and park.
        gmp::sleep(Duration::from_millis(200));
        let filled = written.load(Ordering::SeqCst);
        assert!(filled > 0);
        // With one P, other connections still flow.
        let (addr2, s2) = echo_server(1);
        let mut c2 = TcpStream::connect(addr2).unwrap();
        for i in 0..100u32 {
            c2.write_all(&i.to_le_bytes()).unwrap();
            let mut b4 = [0u8; 4];
            c2.read_exact(&mut b4).unwrap();
            assert_eq!(u32::from_le_bytes(b4), i);
        }
        assert_eq!(
            written.load(Ordering::SeqCst),
            filled,
            "the writer should be parked"
        );
        // Unblock: stop, then drain so the writer's last write completes.
        blocked.store(false, Ordering::SeqCst);
        let drain = gmp::spawn(move || {
            let mut p = peer;
            let mut buf = vec![0u8; 64 << 10];
            let mut n = 0;
            while let Ok(k) = p.read(&mut buf) {
                if k == 0 {
                    break;
                }
                n += k;
            }
            n
        });
        writer.join().unwrap().unwrap();
        c2.shutdown(Shutdown::Write).unwrap();
        s2.join().unwrap();
        drop(drain);
    });
}

#[test]
fn accept_is_served_while_every_p_is_busy() {
    gmp::Runtime::builder().procs(1).run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        // Two goroutines keep the run queue non-empty: the P never goes idle.
        let busy: Vec<_> = (0..2)
            .map(|_| {
                let stop = stop.clone();
                gmp::spawn(move || {
                    let t = Instant::now();
                    while !stop.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(20) {
                        gmp::yield_now();
                    }
                    !stop.load(Ordering::SeqCst)
                })
            })
            .collect();
        let acceptor = gmp::spawn(move || l.accept().map(|(_, a)| a));
        // A plain thread connects from outside the runtime.
        let client = std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
        let peer = acceptor.join().unwrap().unwrap();
        stop.store(true, Ordering::SeqCst);
        for b in busy {
            assert!(
                !b.join().unwrap(),
                "a busy goroutine hit its 20 s limit before accept"
            );
        }
        let c = client.join().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
    });
}

#[test]
fn connect_errors_and_timeouts_are_clear() {
    gmp::run(|| {
        // A port with nothing listening: refused.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = TcpStream::connect(addr).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        // Host names resolve (off the P).
        let l = TcpListener::bind("localhost:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = TcpStream::connect(("localhost", port)).unwrap();
        assert_eq!(c.peer_addr().unwrap().port(), port);
        assert!(TcpStream::connect_timeout(&c.peer_addr().unwrap(), Duration::ZERO).is_err());
        let bad = TcpListener::bind("definitely not an address").unwrap_err();
        assert!(!bad.to_string().is_empty());
    });
}

#[test]
fn sockets_work_from_a_plain_thread() {
    // Server in a runtime, client on a thread that never joins a runtime.
    gmp::run(|| {
        let (addr, server) = echo_server(1);
        let client = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            let mut b = [0u8; 4];
            assert_eq!(c.read(&mut b).unwrap_err().kind(), ErrorKind::TimedOut);
            c.write_all(b"ping").unwrap();
            c.read_exact(&mut b).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            b
        });
        // Wait without blocking this goroutine's thread in std's join.
        while !client.is_finished() {
            gmp::sleep(Duration::from_millis(1));
        }
        assert_eq!(&client.join().unwrap(), b"ping");
        server.join().unwrap();
    });
    // And entirely outside any runtime.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0u8; 3];
        s.read_exact(&mut b).unwrap();
        s.write_all(&b).unwrap();
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"abc").unwrap();
    let mut b = [0u8; 3];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"abc");
    t.join().unwrap();
}

#[test]
fn std_conversions_round_trip() {
    gmp::run(|| {
        let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let l = TcpListener::try_from(std_l).unwrap();
        let addr = l.local_addr().unwrap();
        let h = gmp::spawn(move || l.accept().unwrap().0);
        let c = std::net::TcpStream::connect(addr).unwrap();
        let s = h.join().unwrap();
        let mut back: std::net::TcpStream = s.into_std().unwrap();
        (&c).write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        back.read_exact(&mut b).unwrap(); // blocking std read works again
        assert_eq!(&b, b"x");
        let ours = TcpStream::from_std(c).unwrap();
        let clone = ours.try_clone().unwrap();
        back.write_all(b"y").unwrap();
        (&clone).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"y");
        assert!(ours.nodelay().is_ok() && ours.set_nodelay(true).is_ok());
        assert!(ours.nodelay().unwrap());
    });
}

#[test]
fn accept_out_of_descriptors_returns_the_error() {
    if common::child_mode().as_deref() == Some("emfile") {
        gmp::run(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let lim = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            // SAFETY: lowering this process's own descriptor limit.
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
            let mut hold = Vec::new();
            // Use up descriptors with clients (each holds one here).
            let mut clients = Vec::new();
            loop {
                match std::net::TcpStream::connect(addr) {
                    Ok(c) => clients.push(c),
                    Err(_) => break,
                }
                match std::fs::File::open("/dev/null") {
                    Ok(f) => hold.push(f),
                    Err(_) => break,
                }
            }
            let t = Instant::now();
            let e = l.accept().map(|_| ()).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
            assert!(t.elapsed() < Duration::from_secs(5));
            // Free some: accept works again.
            hold.clear();
            l.accept().unwrap();
            println!("EMFILE-OK");
        });
        return;
    }
    let out = common::run_child(
        "accept_out_of_descriptors_returns_the_error",
        "emfile",
        &[],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success() && out.stdout.contains("EMFILE-OK"),
        "{}",
        out.describe()
    );
}

#[test]
fn many_acceptors_share_one_listener() {
    // Several goroutines waiting on one socket direction: one edge can announce more
    // connections than its waiter consumes, and the others must still get theirs.
    gmp::Runtime::builder().procs(4).run(|| {
        for round in 0..30 {
            let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            let addr = l.local_addr().unwrap();
            let acceptors: Vec<_> = (0..16)
                .map(|_| {
                    let l = l.clone();
                    gmp::spawn(move || {
                        let (mut c, _) = l.accept().unwrap();
                        let mut b = [0u8; 1];
                        c.read_exact(&mut b).unwrap();
                        b[0]
                    })
                })
                .collect();
            let clients: Vec<_> = (0..16u8)
                .map(|i| {
                    gmp::spawn(move || {
                        let mut c = TcpStream::connect(addr).unwrap();
                        c.write_all(&[i]).unwrap();
                        c
                    })
                })
                .collect();
            let t = Instant::now();
            let mut got: Vec<u8> = acceptors.into_iter().map(|h| h.join().unwrap()).collect();
            got.sort();
            assert_eq!(got, (0..16).collect::<Vec<u8>>(), "round {round}");
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "round {round} took {:?}",
                t.elapsed()
            );
            drop(clients);
        }
    });
}

#[test]
fn a_socket_outlives_its_runtime_and_works_in_the_next() {
    // The listener is registered with runtime 1 (a goroutine parked in its accept), then
    // runtime 1 ends and runtime 2 (which may reuse runtime 1's memory) accepts on it.
    let l = gmp::run(|| {
        let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = l.local_addr().unwrap();
        let waiter = {
            let l = l.clone();
            gmp::spawn(move || l.accept().map(|_| ()))
        };
        gmp::sleep(Duration::from_millis(20));
        let _c = TcpStream::connect(addr).unwrap();
        waiter.join().unwrap().unwrap();
        Arc::try_unwrap(l).unwrap()
    });
    let addr = l.local_addr().unwrap();
    for _ in 0..3 {
        let l = &l;
        let got = std::thread::scope(|sc| {
            sc.spawn(|| {
                gmp::run(|| {
                    let client = std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(20));
                        std::net::TcpStream::connect(addr).unwrap()
                    });
                    let (_, peer) = l.accept().unwrap();
                    let c = client.join().unwrap();
                    peer == c.local_addr().unwrap()
                })
            })
            .join()
            .unwrap()
        });
        assert!(got);
    }
}
