//! The field-line grammar (RFC 9110 §5, RFC 9112 §5): one definition of what a header or
//! trailer line may look like, used by the request head parser, the chunked decoder's
//! trailer section and the client's response head, and the checks on fields gmp writes.
//!
//! A field line is `token ":" OWS value OWS` ending in CRLF (or a bare LF, which
//! RFC 9112 §2.2 lets a recipient accept): no whitespace between the name and the colon,
//! no obs-fold continuation lines, no control characters in the value but HTAB. httparse
//! parses the section (its default configuration is exactly this grammar, and its
//! name and value scans are vectorised); [`parse_section`] is the one place that calls
//! it, so the parsers built on it cannot drift apart: a line refused in a head is refused
//! in a trailer section too.
//!
//! The server's request heads first try `head_scan::section`, which takes only the
//! common case (every line `name: value` with CRLF and no control byte but HTAB) and
//! leaves everything else, refusals included, to [`parse_section`]: it can accept less
//! than httparse, never more or differently.

/// Parsed field slots per section (hyper's default limit too).
pub(crate) const MAX_FIELDS: usize = 100;

/// Where one field's name and value lie in a buffer: (offset, length) pairs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldIdx {
    pub name: (u32, u32),
    pub value: (u32, u32),
}

/// Why a field section was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// More than [`MAX_FIELDS`] lines (or than the slots given).
    TooMany,
    /// A name that is not a token, whitespace before the colon, a line without a colon,
    /// or a folded (obs-fold) line.
    Name,
    /// A control character in a value.
    Value,
    /// A CR not followed by LF.
    LineEnding,
}

impl FieldError {
    /// What was wrong, for an error response or an `io::Error`.
    pub(crate) fn why(self) -> &'static str {
        match self {
            FieldError::TooMany => "too many header fields",
            FieldError::Name => {
                "malformed field line (not a token name, whitespace before the colon, no colon, or a folded line)"
            }
            FieldError::Value => "invalid byte in a field value",
            FieldError::LineEnding => "malformed line ending",
        }
    }
}

/// Parses the field section at the start of `buf`: field lines up to and including the
/// empty line that ends the section. `Ok(None)`: incomplete. On success `f` sees the
/// fields (borrowing `buf`) and the section's length in bytes, and its result is
/// returned.
///
/// `slots` must hold only `httparse::EMPTY_HEADER` on entry; it does again on return,
/// on every path, so a caller may keep it between calls (a pool does) without it ever
/// holding a pointer into a buffer that has since moved.
// Always inlined: the request head parser calls it once per request, and as a call the
// closure and its captures cost ~70 instructions a request (callgrind, 16 pipelined).
#[inline(always)]
pub(crate) fn parse_section<R>(
    buf: &[u8],
    slots: &mut [httparse::Header<'static>],
    f: impl FnOnce(&[httparse::Header<'_>], usize) -> R,
) -> Result<Option<R>, FieldError> {
    let parsed = {
        // SAFETY: the same slice with the headers' borrow shortened from 'static to
        // `buf`'s. Every slot holds an `EMPTY_HEADER` (valid for any lifetime) on entry,
        // and every slot httparse may have filled is reset to it below, on every path,
        // before `buf`'s borrow ends.
        // (The cast changes only a lifetime, which clippy does not see.)
        #[allow(clippy::unnecessary_cast)]
        let shortened: &mut [httparse::Header<'_>] = unsafe {
            &mut *(slots as *mut [httparse::Header<'static>] as *mut [httparse::Header<'_>])
        };
        match httparse::parse_headers(buf, shortened) {
            Ok(httparse::Status::Complete((n, fields))) => Ok(Some((fields.len(), n))),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(e) => Err(e),
        }
    };
    match parsed {
        Ok(Some((count, len))) => {
            let r = f(&slots[..count], len);
            slots[..count].fill(httparse::EMPTY_HEADER);
            Ok(Some(r))
        }
        other => {
            // httparse filled an unknown number of slots before it stopped.
            slots.fill(httparse::EMPTY_HEADER);
            match other {
                Ok(_) => Ok(None),
                Err(httparse::Error::TooManyHeaders) => Err(FieldError::TooMany),
                Err(httparse::Error::HeaderName) => Err(FieldError::Name),
                Err(httparse::Error::HeaderValue) => Err(FieldError::Value),
                Err(_) => Err(FieldError::LineEnding),
            }
        }
    }
}

/// Token characters (RFC 9110 §5.6.2), as a table: a header name is checked per byte.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let extra = b"!#$%&'*+-.^_`|~";
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
};

/// A token character.
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// A field name: one or more token characters. Branch-free, so the loop vectorises.
#[inline]
pub(crate) fn valid_name(n: &[u8]) -> bool {
    let mut ok = !n.is_empty();
    for &b in n {
        ok &= TCHAR[b as usize];
    }
    ok
}

/// A field value gmp may write: no control characters but HTAB (CR, LF or NUL would let
/// a value split the message). Eight bytes at a time, the last word overlapping the one
/// before (a value of 4 to 7 bytes is two overlapping halves of one word), so no value
/// of 4 bytes or more is looked at byte by byte unless a word is flagged: a word with
/// no byte under 0x20 and no DEL is fine as a whole, and only a value with a flagged
/// word (HTAB, or a byte that is refused) is checked byte by byte.
#[inline]
pub(crate) fn valid_value(v: &[u8]) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let byte_ok = |b: u8| (b >= 0x20 && b != 0x7f) || b == b'\t';
    // High bit set in a byte of `under` iff that byte is < 0x20 (for bytes < 0x80; a
    // byte >= 0x80 can only raise false alarms, which the byte check clears).
    let flagged = |x: u64| {
        let under = x.wrapping_sub(LOW * 0x20) & !x & HIGH;
        let y = x ^ (LOW * 0x7f);
        let del = y.wrapping_sub(LOW) & !y & HIGH;
        (under | del) != 0
    };
    let word = |i: usize| u64::from_le_bytes(v[i..i + 8].try_into().unwrap_or([0; 8]));
    let half = |i: usize| u64::from(u32::from_le_bytes(v[i..i + 4].try_into().unwrap_or([0; 4])));
    let n = v.len();
    let clean = if n >= 8 {
        let mut bad = flagged(word(n - 8));
        let mut i = 0;
        while i + 8 < n {
            bad |= flagged(word(i));
            i += 8;
        }
        !bad
    } else if n >= 4 {
        !flagged(half(0) | half(n - 4) << 32)
    } else {
        false
    };
    clean || v.iter().all(|&b| byte_ok(b))
}

/// Whether field name `name` (token characters) is `lower` (a name in lowercase letters
/// and `-`) in any case. `b | 0x20` lowercases a letter and leaves `-` alone; no other
/// token character maps onto a lowercase letter or `-`.
#[inline]
pub(crate) fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len() && name.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b)
}

/// `v` without leading and trailing spaces and tabs (OWS).
#[inline]
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = v.iter().position(|b| !is_ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !is_ws(b)).map_or(start, |e| e + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = Vec<(String, Vec<u8>)>;

    fn section(raw: &[u8]) -> Result<Option<(Fields, usize)>, FieldError> {
        let mut slots = vec![httparse::EMPTY_HEADER; MAX_FIELDS];
        let r = parse_section(raw, &mut slots, |fields, len| {
            let owned = fields
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect();
            (owned, len)
        });
        assert!(slots
            .iter()
            .all(|h| h.name.is_empty() && h.value.is_empty()));
        r
    }

    #[test]
    fn the_grammar() {
        let (f, n) = section(b"A: 1\r\nB-c:  two words \t\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(n, 27);
        assert_eq!(f[0], ("A".into(), b"1".to_vec()));
        assert_eq!(f[1], ("B-c".into(), b"two words".to_vec()));
        // An empty section, and a bare LF as a line end.
        assert_eq!(section(b"\r\n").unwrap().unwrap().1, 2);
        assert_eq!(section(b"A: 1\n\n").unwrap().unwrap().1, 6);
        // Incomplete.
        assert_eq!(section(b"A: 1\r\n").unwrap(), None);
        assert_eq!(section(b"A").unwrap(), None);
        // Refused.
        for (bad, e) in [
            (&b"GET /2 HTTP/1.1\r\n\r\n"[..], FieldError::Name),
            (b"Host\r\n\r\n", FieldError::Name),
            (b"A : 1\r\n\r\n", FieldError::Name),
            (b"A\t: 1\r\n\r\n", FieldError::Name),
            (b"A: 1\r\n folded\r\n\r\n", FieldError::Name),
            (b"A: 1\r\n\tfolded\r\n\r\n", FieldError::Name),
            (b" A: 1\r\n\r\n", FieldError::Name),
            (b"(A): 1\r\n\r\n", FieldError::Name),
            (b": 1\r\n\r\n", FieldError::Name),
            (b"A: 1\x002\r\n\r\n", FieldError::Value),
            (b"A: 1\x7f\r\n\r\n", FieldError::Value),
            (b"A: 1\rB: 2\r\n\r\n", FieldError::Value),
            (b"\rX", FieldError::LineEnding),
        ] {
            assert_eq!(section(bad), Err(e), "{:?}", String::from_utf8_lossy(bad));
        }
        let many = "A: 1\r\n".repeat(MAX_FIELDS + 1) + "\r\n";
        assert_eq!(section(many.as_bytes()), Err(FieldError::TooMany));
    }

    #[test]
    fn checks_on_written_fields() {
        assert!(valid_name(b"content-type") && valid_name(b"X-a_b.c~1"));
        assert!(!valid_name(b"") && !valid_name(b"a b") && !valid_name(b"a:b"));
        for ok in [
            &b""[..],
            b"text/plain",
            b"a\tb",
            b"\x80\xff caf\xc3\xa9 0123456789abcdef",
        ] {
            assert!(valid_value(ok), "{ok:?}");
        }
        // Every control byte but HTAB, and DEL, at every position of a value
        // of every length up to three words (so in each overlapping word and half), is
        // refused; HTAB there is not, nor are bytes over 0x7f.
        for len in 1..25 {
            for at in 0..len {
                for bad in (0u8..0x20).filter(|&b| b != b'\t').chain([0x7f]) {
                    let mut v = vec![b'a'; len];
                    v[at] = bad;
                    assert!(!valid_value(&v), "{bad:#x} at {at} of {len}");
                }
                for ok in [b'\t', 0x80, 0xff, b' '] {
                    let mut v = vec![b'a'; len];
                    v[at] = ok;
                    assert!(valid_value(&v), "{ok:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn names_in_any_case() {
        assert!(eq_lower(b"Content-Length", b"content-length"));
        assert!(eq_lower(b"HOST", b"host"));
        assert!(!eq_lower(b"hosts", b"host") && !eq_lower(b"h0st", b"host"));
        assert_eq!(trim(b" \ta b\t "), b"a b");
        assert_eq!(trim(b"  "), b"");
    }
}
