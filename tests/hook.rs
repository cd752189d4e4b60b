//! The `hook` feature: unmodified `std::net` code, `std::thread::sleep` and name
//! resolution park the goroutine instead of blocking its thread, and everything else
//! (plain threads, non-blocking sockets) behaves exactly as without the hook.

mod common;

use common::Watchdog;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener as StdListener, TcpStream as StdStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

fn runtime(procs: usize) -> gmp::RuntimeBuilder {
    gmp::Runtime::builder().procs(procs)
}

/// Threads beyond the Ps that the runtime may run without any blocked goroutine: a
/// spinning M looking for work and one starting up.
const SLACK: usize = 3;

/// A gmp echo server on 127.0.0.1:0, serving until the runtime ends.
fn echo_server() -> std::net::SocketAddr {
    let l = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    gmp::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            gmp::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Raises the soft descriptor limit to the hard one (the 10,000-goroutine test holds
/// thousands of sockets on both ends).
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reading and raising this process's own limit within its hard limit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur
}

/// Samples `gmp::stats().threads` every millisecond until dropped; `max()` is the peak.
struct PeakThreads(Arc<AtomicUsize>, Arc<std::sync::atomic::AtomicBool>);

impl PeakThreads {
    fn start() -> PeakThreads {
        let peak = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        gmp::spawn(move || {
            while !s.load(SeqCst) {
                p.fetch_max(gmp::stats().threads, SeqCst);
                gmp::sleep(Duration::from_millis(1));
            }
        });
        PeakThreads(peak, stop)
    }
    fn max(&self) -> usize {
        self.0
            .fetch_max(gmp::stats().threads, SeqCst)
            .max(gmp::stats().threads)
    }
}

impl Drop for PeakThreads {
    fn drop(&mut self) {
        self.1.store(true, SeqCst);
    }
}

#[test]
fn the_hooks_are_linked_into_the_program() {
    assert!(
        gmp::hook::active(),
        "the program's libc calls do not reach gmp-hook"
    );
}

#[test]
fn std_sockets_on_ten_thousand_goroutines_park_on_two_ps() {
    let _w = Watchdog::new("std sockets on 10,000 goroutines", LIMIT);
    let nofile = raise_nofile();
    // Each open connection holds two descriptors here (client and server end).
    let open_at_once = ((nofile as usize).saturating_sub(200) / 2).min(4000);
    runtime(2).run(move || {
        let addr = echo_server();
        let peak = PeakThreads::start();
        let permits = Arc::new(gmp::sync::Semaphore::new(open_at_once));
        let wrong = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..10_000u32)
            .map(|i| {
                let permits = permits.clone();
                let wrong = wrong.clone();
                gmp::spawn(move || {
                    let _p = permits.acquire();
                    let mut s = StdStream::connect(addr).expect("std connect");
                    for round in 0..3u32 {
                        let msg: Vec<u8> = (0..1000u32)
                            .map(|k| (i.wrapping_mul(31) ^ k ^ round) as u8)
                            .collect();
                        s.write_all(&msg).expect("std write");
                        let mut back = vec![0u8; msg.len()];
                        s.read_exact(&mut back).expect("std read");
                        if back != msg {
                            wrong.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let st = gmp::stats();
        let max = peak.max();
        assert_eq!(wrong.load(SeqCst), 0, "echoed bytes differ");
        assert!(
            max <= st.procs + SLACK,
            "peak {max} threads for {} Ps: std socket calls blocked threads",
            st.procs
        );
    });
}

#[test]
fn thread_sleep_on_ten_thousand_goroutines_takes_about_one_sleep_on_few_threads() {
    let _w = Watchdog::new("thread::sleep on 10,000 goroutines", LIMIT);
    runtime(2).run(|| {
        let peak = PeakThreads::start();
        let t = Instant::now();
        let handles: Vec<_> = (0..10_000)
            .map(|_| gmp::spawn(|| std::thread::sleep(Duration::from_millis(200))))
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let took = t.elapsed();
        let st = gmp::stats();
        let max = peak.max();
        eprintln!("10,000 × thread::sleep(200 ms): {took:?}, peak {max} threads");
        assert!(
            took >= Duration::from_millis(200),
            "a sleep ended early: {took:?}"
        );
        assert!(
            max <= st.procs + SLACK,
            "peak {max} threads for {} Ps: thread::sleep blocked threads",
            st.procs
        );
    });
}

#[test]
fn clock_nanosleep_absolute_and_relative_park() {
    runtime(1).run(|| {
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let ticker = gmp::spawn(move || {
            for _ in 0..20 {
                gmp::sleep(Duration::from_millis(2));
                t.fetch_add(1, SeqCst);
            }
        });
        let start = Instant::now();
        // SAFETY: clock_gettime/clock_nanosleep with valid timespecs.
        unsafe {
            let mut now: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
            let mut at = now;
            at.tv_nsec += 60_000_000;
            if at.tv_nsec >= 1_000_000_000 {
                at.tv_sec += 1;
                at.tv_nsec -= 1_000_000_000;
            }
            let r = libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &at,
                std::ptr::null_mut(),
            );
            assert_eq!(r, 0);
            let rel = libc::timespec {
                tv_sec: 0,
                tv_nsec: 20_000_000,
            };
            assert_eq!(
                libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &rel, std::ptr::null_mut()),
                0
            );
            let bad = libc::timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000,
            };
            assert_eq!(
                libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &bad, std::ptr::null_mut()),
                libc::EINVAL
            );
            assert_eq!(libc::nanosleep(&bad, std::ptr::null_mut()), -1);
            assert_eq!(*libc::__errno_location(), libc::EINVAL);
        }
        assert!(start.elapsed() >= Duration::from_millis(80));
        // With one P, the ticker ran while this goroutine slept.
        assert!(
            ticks.load(SeqCst) >= 10,
            "the other goroutine did not run during the sleeps: {} ticks",
            ticks.load(SeqCst)
        );
        ticker.join().unwrap();
        assert_eq!(gmp::stats().retakes, 0, "a sleep blocked the P's thread");
    });
}

#[test]
fn std_timeouts_fire_with_std_error_kinds() {
    let _w = Watchdog::new("std timeouts", LIMIT);
    runtime(2).run(|| {
        // A server that accepts and then neither reads nor writes.
        let l = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let held = gmp::spawn(move || {
            let mut conns = Vec::new();
            for _ in 0..2 {
                conns.push(l.accept().unwrap().0);
            }
            gmp::sleep(Duration::from_secs(3));
            drop(conns);
        });
        let mut s = StdStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(100)));
        let t = Instant::now();
        let e = s.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );

        // Writes into a peer that never reads: the buffers fill, then the timeout.
        let mut w = StdStream::connect(addr).unwrap();
        w.set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let chunk = vec![7u8; 1 << 16];
        let e = loop {
            if let Err(e) = w.write_all(&chunk) {
                break e;
            }
        };
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        drop((s, w));
        held.join().unwrap();
    });
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so a connect
/// to it hangs until its timeout (a black hole on loopback).
fn black_hole() -> (Vec<StdStream>, std::net::SocketAddr, i32) {
    // SAFETY: plain socket calls on a socket this function owns.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as u16;
        sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
        assert_eq!(
            libc::bind(fd, &sa as *const _ as *const libc::sockaddr, len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        let mut got: libc::sockaddr_in = std::mem::zeroed();
        let mut glen = len;
        libc::getsockname(fd, &mut got as *mut _ as *mut libc::sockaddr, &mut glen);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], u16::from_be(got.sin_port)));
        // Fill the accept queue (backlog 0 holds one) from a plain thread.
        let mut fill = Vec::new();
        for _ in 0..4 {
            match StdStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(c) => fill.push(c),
                Err(_) => break,
            }
        }
        (fill, addr, fd)
    }
}

#[test]
fn connect_timeout_to_a_black_hole_times_out_on_time() {
    let _w = Watchdog::new("connect_timeout", LIMIT);
    let (fill, addr, fd) = std::thread::spawn(black_hole).join().unwrap();
    runtime(1).run(move || {
        let ticks = Arc::new(AtomicUsize::new(0));
        let t2 = ticks.clone();
        let ticker = gmp::spawn(move || {
            for _ in 0..50 {
                gmp::sleep(Duration::from_millis(2));
                t2.fetch_add(1, SeqCst);
            }
        });
        let t = Instant::now();
        let e = StdStream::connect_timeout(&addr, Duration::from_millis(300)).unwrap_err();
        let took = t.elapsed();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(
            ticks.load(SeqCst) >= 20,
            "the P was blocked: {} ticks",
            ticks.load(SeqCst)
        );
        ticker.join().unwrap();
        assert_eq!(
            gmp::stats().retakes,
            0,
            "connect_timeout blocked the P's thread"
        );
    });
    drop(fill);
    // SAFETY: closing the listener made above.
    unsafe { libc::close(fd) };
}

#[test]
fn a_plain_threads_std_socket_still_blocks() {
    let _w = Watchdog::new("plain thread blocks", LIMIT);
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        c.write_all(b"late").unwrap();
        // Hold the connection until the client is done.
        let _ = c.read(&mut [0u8; 1]);
    });
    let mut s = StdStream::connect(addr).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"late");
    assert!(t.elapsed() >= Duration::from_millis(90));
    drop(s);
    server.join().unwrap();
}

#[test]
fn a_socket_a_goroutine_used_still_blocks_on_a_plain_thread_and_looks_blocking() {
    let _w = Watchdog::new("hidden non-blocking", LIMIT);
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<StdStream>();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.write_all(b"first").unwrap();
        // The client moves its socket to a plain thread, then reads "second".
        std::thread::sleep(Duration::from_millis(150));
        c.write_all(b"second").unwrap();
        let _ = c.read(&mut [0u8; 1]);
    });
    runtime(1).run(move || {
        let mut s = StdStream::connect(addr).unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"first");
        // The owner still sees a blocking socket.
        // SAFETY: F_GETFL on a socket we own.
        let fl = unsafe { libc::fcntl(s.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(fl & libc::O_NONBLOCK, 0, "O_NONBLOCK shows through");
        tx.send(s).unwrap();
    });
    let mut s = rx.recv().unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf)
        .expect("a plain thread's read blocks until data");
    assert_eq!(&buf, b"second");
    assert!(t.elapsed() >= Duration::from_millis(50));
    drop(s);
    server.join().unwrap();
}

#[test]
fn a_socket_its_owner_made_non_blocking_says_would_block() {
    let _w = Watchdog::new("user non-blocking", LIMIT);
    runtime(1).run(|| {
        let addr = echo_server();
        let mut s = StdStream::connect(addr).unwrap();
        s.set_nonblocking(true).unwrap();
        let e = s.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        s.set_nonblocking(false).unwrap();
        s.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        // A duplicate shares the mode; and a closed socket's number is forgotten.
        let mut d = s.try_clone().unwrap();
        d.write_all(b"pong").unwrap();
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
    });
}

#[test]
fn std_listener_accept_and_name_lookup_park() {
    let _w = Watchdog::new("accept and getaddrinfo", LIMIT);
    runtime(1).run(|| {
        let l = StdListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = gmp::spawn(move || {
            for _ in 0..20 {
                let (mut c, _) = l.accept().unwrap();
                gmp::spawn(move || {
                    let mut b = [0u8; 2];
                    c.read_exact(&mut b).unwrap();
                    c.write_all(&b).unwrap();
                });
            }
        });
        let clients: Vec<_> = (0..20)
            .map(|_| {
                gmp::spawn(move || {
                    // "localhost" goes through getaddrinfo.
                    let mut c = StdStream::connect(("localhost", port)).unwrap();
                    c.write_all(b"hi").unwrap();
                    let mut b = [0u8; 2];
                    c.read_exact(&mut b).unwrap();
                    assert_eq!(&b, b"hi");
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
        assert_eq!(gmp::stats().retakes, 0, "a std call blocked the only P");
    });
}

#[test]
fn a_forked_child_runs_blocking_calls_as_the_kernel_does() {
    use std::os::unix::process::CommandExt;
    let _w = Watchdog::new("fork", LIMIT);
    runtime(2).run(|| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                gmp::spawn(move || {
                    let mut cmd = std::process::Command::new("sh");
                    cmd.args(["-c", &format!("echo child{i}")]);
                    cmd.stdout(std::process::Stdio::piped());
                    // A pre_exec closure makes std fork (not posix_spawn); between fork
                    // and exec the child is a copy of this goroutine's thread, with no
                    // runtime around it: a sleep there must sleep, not park.
                    // SAFETY: the closure only sleeps (nanosleep is async-signal-safe).
                    unsafe {
                        cmd.pre_exec(|| {
                            std::thread::sleep(Duration::from_millis(5));
                            Ok(())
                        });
                    }
                    let out = cmd.output().expect("fork and exec sh");
                    assert!(out.status.success());
                    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("child{i}\n"));
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}
