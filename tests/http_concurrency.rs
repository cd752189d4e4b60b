//! Many clients at once: 1,000 keep-alive connections, all open together, each making
//! several requests (GET and POST) with every answer checked.

mod common;
mod http_util;

use common::Watchdog;
use gmp::sync::Barrier;
use http_util::{Client, TestServer};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn thousand_concurrent_keep_alive_clients() {
    const CLIENTS: usize = 1000;
    const REQUESTS: usize = 5;
    let _w = Watchdog::new("1000 clients", Duration::from_secs(60));
    let limit = http_util::raise_nofile(8192);
    assert!(
        limit >= 2 * CLIENTS as u64 + 100,
        "RLIMIT_NOFILE is {limit}: too low for {CLIENTS} connections at both ends"
    );
    let s = TestServer::demo();
    let addr = s.addr;
    gmp::run(move || {
        // Every client holds its connection until all have connected and been
        // answered once: 1,000 keep-alive connections at the same time.
        let all_connected = Arc::new(Barrier::new(CLIENTS));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let all_connected = all_connected.clone();
                gmp::spawn(move || {
                    let stream = gmp::net::TcpStream::connect(addr).expect("connect");
                    stream.set_read_timeout(Some(http_util::READ_LIMIT)).unwrap();
                    let mut c = Client::new(&stream);
                    let port = c.get("/peer").text();
                    all_connected.wait();
                    for k in 0..REQUESTS {
                        let r = if k % 2 == 0 {
                            let r = c.get(&format!("/c/{i}/{k}"));
                            assert_eq!(r.text(), format!("target: /c/{i}/{k}"));
                            r
                        } else {
                            let body = format!("client {i} request {k}");
                            let r = c.roundtrip(format!(
                                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            ));
                            assert_eq!(r.text(), body);
                            r
                        };
                        assert_eq!(r.status, 200);
                        assert!(!r.says_close(), "client {i}: {r:?}");
                        assert!(c.r.buffer().is_empty(), "client {i}: stray bytes");
                    }
                    assert_eq!(c.get("/peer").text(), port, "client {i} changed connection");
                })
            })
            .collect();
        let failed = clients
            .into_iter()
            .map(|h| h.join())
            .filter(Result::is_err)
            .count();
        assert_eq!(failed, 0, "{failed} of {CLIENTS} clients failed");
    });
    s.stop();
}
