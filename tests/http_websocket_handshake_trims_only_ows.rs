//! The WebSocket handshake's `Sec-WebSocket-Version` and `Sec-WebSocket-Key` values are
//! compared after trimming optional whitespace (SP, HTAB; RFC 9110 §5.6.3) only: a
//! value padded with other Unicode whitespace (NBSP, EM SPACE, which reach a field value
//! as obs-text) is not `13` or a valid key. Found by the `ws_handshake` fuzz target's
//! reference check on two hand-written inputs (now in fuzz/crashes/ws_handshake; AFL had
//! not reached them in its first six minutes): the check trimmed with `str::trim`,
//! which takes Unicode whitespace too.

mod common;
mod http_util;

use common::Watchdog;
use gmp::http::ws;
use http_util::TestServer;
use std::time::Duration;

#[test]
fn version_and_key_padded_with_unicode_spaces_are_refused() {
    let _w = Watchdog::new("ws ows", Duration::from_secs(30));
    let s = TestServer::start(
        |s| s,
        |req, res| {
            ws::accept(req, res)?;
            Ok(())
        },
    );
    let head = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    for (fields, status) in [
        (
            format!("Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\u{a0}\r\n"),
            426,
        ),
        (
            format!("Sec-WebSocket-Key: {key}\u{2003}\r\nSec-WebSocket-Version: 13\r\n"),
            400,
        ),
        (
            format!("Sec-WebSocket-Key: \u{a0}{key}\r\nSec-WebSocket-Version: 13\r\n"),
            400,
        ),
    ] {
        let mut c = s.client();
        c.send(format!("{head}{fields}\r\n"));
        let r = c.resp();
        assert_eq!(r.status, status, "{fields:?}: {}", r.text());
    }
    // OWS itself is still trimmed.
    let mut c = s.client();
    c.send(format!(
        "{head}Sec-WebSocket-Key: \t{key} \r\nSec-WebSocket-Version:  13\t\r\n\r\n"
    ));
    let r = c.head_resp();
    assert_eq!(r.status, 101);
    drop(c);
    s.stop();
}
