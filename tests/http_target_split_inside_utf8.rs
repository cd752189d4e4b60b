//! A request whose target holds UTF-8 is served the same however the head is split
//! into reads, even when a read ends inside a multi-byte character (found by the
//! `request_head` fuzz target's split property: the first read's partial character was
//! refused as a malformed target, 400).

mod common;
mod http_util;

use common::Watchdog;
use http_util::TestServer;
use std::time::Duration;

#[test]
fn target_split_inside_a_utf8_character_is_served() {
    let _w = Watchdog::new("utf-8 split", Duration::from_secs(30));
    let s = TestServer::start(
        |s| s,
        |req, res| {
            res.body(req.path().to_string());
            Ok(())
        },
    );
    let head = "GET /caf\u{e9}/\u{1f600} HTTP/1.1\r\nHost: t\r\n\r\n".as_bytes();
    // Split after the first byte of `é`, and after the first two of the emoji.
    let cuts = [9, 13];
    for cut in cuts {
        let mut c = s.client();
        c.send(&head[..cut]);
        // Let the server read the first part on its own.
        std::thread::sleep(Duration::from_millis(100));
        c.send(&head[cut..]);
        let r = c.resp();
        assert_eq!(r.status, 200, "cut at {cut}: {}", r.text());
        assert_eq!(r.text(), "/caf\u{e9}/\u{1f600}");
    }
    s.stop();
}
