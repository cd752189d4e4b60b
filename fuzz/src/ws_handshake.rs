//! The `ws_handshake` target: the server's WebSocket handshake check (`ws::check_head`)
//! on requests the head parser accepted.
//!
//! Properties: the check never panics, and it accepts exactly the requests a separate
//! reference accepts (RFC 6455 §4.2.1: GET, HTTP/1.1, `Upgrade` listing `websocket`,
//! `Connection` listing `upgrade`, `Sec-WebSocket-Version: 13`, a `Sec-WebSocket-Key`
//! that is the base64 of 16 bytes); a refusal is 426 exactly when the version is what
//! is wrong, else 400.
//!
//! Input: the request's bytes.

use super::grammar;
use gmp_http::__fuzz as gmp;
use gmp_http::Version;

/// Standard base64 with padding, decoded; `None` unless canonical (the unused bits of
/// the last character zero).
fn base64(s: &[u8]) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if s.len() % 4 != 0 {
        return None;
    }
    let pad = s.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for &c in &s[..s.len() - pad] {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = bits << 6 | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    (bits == 0).then_some(out)
}

/// The reference check: `Ok` or the status.
pub fn reference(method: &str, version: Version, fields: &[(&str, &[u8])]) -> Result<(), u16> {
    let raw: Vec<(&[u8], &[u8])> = fields.iter().map(|(n, v)| (n.as_bytes(), *v)).collect();
    // The first field of a name, its OWS trimmed (a value that is not UTF-8 counts as
    // absent).
    let first = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(grammar::trim(v)).ok())
    };
    let ok = method == "GET"
        && version == Version::Http11
        && grammar::has_token(&raw, b"upgrade", b"websocket")
        && grammar::has_token(&raw, b"connection", b"upgrade");
    if !ok {
        return Err(400);
    }
    if first("sec-websocket-version") != Some("13") {
        return Err(426);
    }
    let key = first("sec-websocket-key").unwrap_or("");
    match base64(key.as_bytes()) {
        Some(k) if k.len() == 16 => Ok(()),
        _ => Err(400),
    }
}

/// Asserts the properties for one input.
pub fn check(data: &[u8]) {
    let Ok(Some(head)) = gmp::parse_request_head(data, 64 << 10, 16 << 20) else {
        return;
    };
    let text = |r: &std::ops::Range<usize>| std::str::from_utf8(&data[r.clone()]).expect("a token");
    let fields: Vec<(&str, &[u8])> = head
        .fields
        .iter()
        .map(|(n, v)| (text(n), &data[v.clone()]))
        .collect();
    let method = text(&head.method);
    let got = gmp::websocket_handshake(method, head.version, &fields).map_err(|(s, _)| s);
    let want = reference(method, head.version, &fields);
    assert_eq!(
        got,
        want,
        "handshake check of {:?}",
        String::from_utf8_lossy(&data[..head.len])
    );
}
