//! `TcpStream::readable` with `try_read`: a loop that waits with one and reads with the
//! other parks between messages, also when a readiness event that announced data already
//! read is still pending.

mod common;

use common::Watchdog;
use std::io::{ErrorKind, Write};
use std::time::Duration;

#[test]
fn a_try_read_and_readable_loop_parks_instead_of_spinning() {
    let _w = Watchdog::new("try_read/readable", Duration::from_secs(60));
    gmp::Runtime::builder().procs(1).run(|| {
        let l = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = gmp::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        // A read that parks registers the socket with the poller.
        let first = gmp::spawn(move || {
            gmp::sleep(Duration::from_millis(20));
            c.write_all(b"a").unwrap();
            c
        });
        let mut b = [0u8; 8];
        assert_eq!(std::io::Read::read(&mut s, &mut b).unwrap(), 1);
        let mut c = first.join().unwrap();
        // Data arrives while nobody waits: its readiness event stays pending.
        c.write_all(b"x").unwrap();
        gmp::sleep(Duration::from_millis(20));
        assert_eq!(s.try_read(&mut b).unwrap(), 1);
        assert_eq!(
            s.try_read(&mut b).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // The next message comes 50 ms later, from another goroutine on the only P.
        let writer = gmp::spawn(move || {
            gmp::sleep(Duration::from_millis(50));
            c.write_all(b"yz").unwrap();
            c
        });
        let mut rounds = 0;
        let n = loop {
            rounds += 1;
            s.readable().unwrap();
            match s.try_read(&mut b) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(
                rounds < 100,
                "readable returned {rounds} times with nothing to read"
            );
        };
        assert_eq!(&b[..n], b"yz");
        assert!(
            rounds <= 3,
            "{rounds} rounds of readable/try_read for one message"
        );
        drop(writer.join().unwrap());
    });
}
