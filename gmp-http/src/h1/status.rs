//! Status codes: reason phrases and which statuses carry no body.

use super::spare::Spare;

/// The reason phrase for `code` (RFC 9110 §15), or `""` for codes without one.
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// 1xx, 204 and 304 responses end after their header section (RFC 9112 §6.3).
pub(crate) fn has_no_body(code: u16) -> bool {
    code < 200 || code == 204 || code == 304
}

/// Appends `HTTP/1.1 <code> <reason>\r\n`.
pub(crate) fn put_status_line(w: &mut Spare<'_>, code: u16) {
    if code == 200 {
        w.put(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    w.put(b"HTTP/1.1 ");
    w.put(&[
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
        b' ',
    ]);
    w.put(reason(code).as_bytes());
    w.put(b"\r\n");
}

/// Appends `n` in lowercase hex (a chunk size).
pub(crate) fn append_hex(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_numbers() {
        let mut v = Vec::new();
        {
            let mut w = Spare::new(&mut v, 0);
            put_status_line(&mut w, 200);
            put_status_line(&mut w, 404);
            put_status_line(&mut w, 599);
        }
        assert_eq!(
            v,
            b"HTTP/1.1 200 OK\r\nHTTP/1.1 404 Not Found\r\nHTTP/1.1 599 \r\n"
        );
        let mut v = Vec::new();
        {
            let mut w = Spare::new(&mut v, 0);
            w.put_u64(0);
            w.put(b" ");
            w.put_u64(u64::MAX);
            w.put(b" ");
        }
        append_hex(&mut v, 0);
        v.push(b' ');
        append_hex(&mut v, 0x1f2e);
        assert_eq!(v, b"0 18446744073709551615 0 1f2e");
        assert!(has_no_body(101) && has_no_body(204) && has_no_body(304));
        assert!(!has_no_body(200) && !has_no_body(404));
    }
}
