//! `gmp_net::signal::Signals`: a signal sent with `kill` wakes a goroutine parked in
//! `recv`; every `Signals` for a signal gets each delivery; `stop` wakes a parked
//! `recv` with an error; the previous disposition comes back when the last `Signals`
//! for a signal goes; bad signal lists are refused.
//!
//! Each case that installs a handler runs in a child process of its own (the
//! `run_child` protocol of `common`), so a signal sent to the test process never meets
//! a test binary whose handler another test just removed.

mod common;

use common::{child_mode, run_child, Watchdog};
use gmp::net::signal::Signals;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

const MARK: &str = "SIGNALS-CHILD-OK";

/// Runs `body` in a child process (this test, re-run) and checks it finished.
fn in_child(test: &str, body: fn()) {
    if child_mode().is_some() {
        let _w = Watchdog::new("signals child", Duration::from_secs(20));
        body();
        println!("{MARK}");
        return;
    }
    let out = run_child(test, "child", &[], Duration::from_secs(30));
    assert!(
        out.status.success() && out.stdout.contains(MARK),
        "{}",
        out.describe()
    );
}

fn kill_self(sig: i32) {
    // SAFETY: kill(2) on this process, with a signal a live `Signals` handles.
    assert_eq!(unsafe { libc::kill(libc::getpid(), sig) }, 0);
}

/// The handler now installed for `sig`, and its flags.
fn disposition(sig: i32) -> (libc::sighandler_t, libc::c_int) {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action only reads.
    let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::sigaction(sig, std::ptr::null(), &mut cur) },
        0
    );
    (cur.sa_sigaction, cur.sa_flags)
}

#[test]
fn sigusr1_wakes_a_parked_goroutine() {
    in_child("sigusr1_wakes_a_parked_goroutine", || {
        // One P: the receiver must park (not block the thread) for main to go on.
        gmp::Runtime::builder().procs(1).run(|| {
            let signals = Arc::new(Signals::new(&[libc::SIGUSR1]).unwrap());
            let got = Arc::new(AtomicBool::new(false));
            let (s, g) = (signals.clone(), got.clone());
            let receiver = gmp::spawn(move || {
                let r = s.recv();
                g.store(true, SeqCst);
                r
            });
            gmp::sleep(Duration::from_millis(100));
            assert!(!got.load(SeqCst), "recv returned before any signal");
            kill_self(libc::SIGUSR1);
            assert_eq!(receiver.join().unwrap().unwrap(), libc::SIGUSR1);
        });
    });
}

#[test]
fn each_signals_gets_every_delivery_and_stop_wakes_recv() {
    in_child(
        "each_signals_gets_every_delivery_and_stop_wakes_recv",
        || {
            gmp::Runtime::builder().procs(2).run(|| {
                let a = Signals::new(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
                let b = Arc::new(Signals::new(&[libc::SIGUSR2]).unwrap());
                assert_eq!(a.signals(), [libc::SIGUSR1, libc::SIGUSR2]);
                kill_self(libc::SIGUSR2);
                assert_eq!(a.recv().unwrap(), libc::SIGUSR2);
                assert_eq!(b.recv().unwrap(), libc::SIGUSR2);
                kill_self(libc::SIGUSR1);
                assert_eq!(a.recv().unwrap(), libc::SIGUSR1);
                // A goroutine parked in recv is woken by stop, with NotConnected.
                let b2 = b.clone();
                let parked = gmp::spawn(move || b2.recv());
                gmp::sleep(Duration::from_millis(50));
                b.stop();
                let e = parked.join().unwrap().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::NotConnected, "{e}");
                assert_eq!(b.recv().unwrap_err().kind(), ErrorKind::NotConnected);
                b.stop(); // again: nothing more
                          // `a` still gets SIGUSR2 after `b` stopped.
                kill_self(libc::SIGUSR2);
                assert_eq!(a.recv().unwrap(), libc::SIGUSR2);
            });
        },
    );
}

#[test]
fn the_previous_disposition_comes_back() {
    in_child("the_previous_disposition_comes_back", || {
        // SAFETY: SIG_IGN for SIGUSR2 in this child process.
        unsafe { libc::signal(libc::SIGUSR2, libc::SIG_IGN) };
        assert_eq!(disposition(libc::SIGUSR1).0, libc::SIG_DFL);
        gmp::run(|| {
            let one = Signals::new(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
            let two = Signals::new(&[libc::SIGUSR2]).unwrap();
            for sig in [libc::SIGUSR1, libc::SIGUSR2] {
                let (h, flags) = disposition(sig);
                assert!(h != libc::SIG_DFL && h != libc::SIG_IGN);
                assert!(flags & libc::SA_RESTART != 0, "no SA_RESTART");
            }
            drop(one);
            // SIGUSR1 is back to the default; SIGUSR2 still has a user.
            assert_eq!(disposition(libc::SIGUSR1).0, libc::SIG_DFL);
            assert_ne!(disposition(libc::SIGUSR2).0, libc::SIG_IGN);
            kill_self(libc::SIGUSR2);
            assert_eq!(two.recv().unwrap(), libc::SIGUSR2);
            drop(two);
            assert_eq!(disposition(libc::SIGUSR2).0, libc::SIG_IGN);
            // Installing again after all were gone works the same.
            let again = Signals::new(&[libc::SIGUSR2]).unwrap();
            kill_self(libc::SIGUSR2);
            assert_eq!(again.recv().unwrap(), libc::SIGUSR2);
        });
    });
}

#[test]
fn bad_signal_lists_are_refused() {
    // Refused before anything is installed: safe in the test process itself.
    for (list, what) in [
        (&[][..], "empty"),
        (&[0][..], "0"),
        (&[65][..], "65"),
        (&[-1][..], "-1"),
        (&[libc::SIGKILL][..], "SIGKILL"),
        (&[libc::SIGSTOP][..], "SIGSTOP"),
        (&[libc::SIGSEGV][..], "SIGSEGV"),
        (&[libc::SIGBUS][..], "SIGBUS"),
        (&[libc::SIGFPE][..], "SIGFPE"),
        (&[libc::SIGILL][..], "SIGILL"),
        (&[libc::SIGUSR1, libc::SIGKILL][..], "a list with SIGKILL"),
    ] {
        let e = Signals::new(list).expect_err(what);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
        assert!(e.to_string().starts_with("gmp-net:"), "{what}: {e}");
    }
    // Nothing was installed by the refused SIGUSR1 of the last list.
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action only reads.
    let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut cur) };
    assert_eq!(cur.sa_sigaction, libc::SIG_DFL);
}
