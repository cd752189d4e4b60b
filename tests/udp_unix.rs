//! UDP and Unix-domain sockets through the netpoller.

use gmp::net::{UdpSocket, UnixListener, UnixStream};
use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

#[test]
fn udp_round_trip() {
    gmp::run(|| {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let h = gmp::spawn(move || {
            let mut buf = [0u8; 1500];
            for _ in 0..100 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.connect(addr).unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        for i in 0..100u32 {
            c.send(&i.to_be_bytes()).unwrap();
            let mut b = [0u8; 8];
            let n = c.recv(&mut b).unwrap();
            assert_eq!(&b[..n], &i.to_be_bytes());
        }
        h.join().unwrap();
        c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let mut b = [0u8; 8];
        assert_eq!(c.recv(&mut b).unwrap_err().kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn unix_socket_round_trip() {
    let dir = std::env::temp_dir().join(format!("gmp-unix-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let p = path.clone();
    gmp::run(move || {
        let l = UnixListener::bind(&p).unwrap();
        let server = gmp::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut v = Vec::new();
            s.read_to_end(&mut v).unwrap();
            s.write_all(&v).unwrap();
            v.len()
        });
        let mut c = UnixStream::connect(&p).unwrap();
        let msg = vec![9u8; 300_000];
        let w = c.try_clone().unwrap();
        let writer = gmp::spawn(move || {
            let mut w = w;
            w.write_all(&msg).unwrap();
            w.shutdown(std::net::Shutdown::Write).unwrap();
        });
        writer.join().unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), 300_000);
        assert!(back.iter().all(|&b| b == 9));
        assert_eq!(server.join().unwrap(), 300_000);
        let (a, b) = UnixStream::pair().unwrap();
        (&a).write_all(b"pair").unwrap();
        let mut buf = [0u8; 4];
        (&b).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pair");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
