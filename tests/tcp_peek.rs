//! A peek on a freshly accepted stream, then a read: the read finds the peeked bytes.
//!
//! An accepted stream starts out taken for drained (a server's never-used connection
//! waits without a buffer), and a read of a drained socket waits for the next readiness
//! edge. A peek that waited consumed the edge that announced the data; the read must
//! then make its syscall, not wait for an edge that never comes (it hung until the
//! client sent more, which the TLS server's first-byte check hit: the client waits for
//! the ServerHello).

mod common;

use std::io::{Read, Write};
use std::time::Duration;

#[test]
fn a_read_after_a_peek_finds_the_data() {
    let _w = common::Watchdog::new("peek then read", Duration::from_secs(30));
    gmp::run(|| {
        let l = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        for round in 0..200 {
            // The client writes after a moment, so the server's peek parks first.
            let client = gmp::spawn(move || {
                let mut c = gmp::net::TcpStream::connect(addr).unwrap();
                if round % 2 == 0 {
                    gmp::sleep(Duration::from_millis(1));
                }
                c.write_all(b"hello").unwrap();
                let mut back = [0u8; 5];
                c.read_exact(&mut back).unwrap();
                assert_eq!(&back, b"HELLO");
            });
            let (mut s, _) = l.accept().unwrap();
            let mut first = [0u8; 1];
            assert_eq!(s.peek(&mut first).unwrap(), 1);
            assert_eq!(first[0], b'h');
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = [0u8; 5];
            s.read_exact(&mut got).expect("the read after a peek hung");
            assert_eq!(&got, b"hello");
            s.write_all(b"HELLO").unwrap();
            client.join().unwrap();
        }
    });
}
