//! The common request head without httparse: a request line and field lines scanned
//! sixteen bytes at a time ([`super::byte_classes`]), with the fields whose names carry
//! a message rule (Host, Content-Length, Transfer-Encoding, Connection, Expect) picked
//! out during the same scan by length and first word. The request head parser
//! ([`super::request_head`]) calls it once per request.
//!
//! The invariant: where a scan here answers, it gives exactly what the general parsers
//! give (the request line of `request_head`, the fields and length of
//! [`super::fields::parse_section`]); anything else, every refusal included, it leaves
//! to them by answering `None`. So it decides no refusal and accepts no oddity: it can
//! only be faster. The tests below and in `request_head` compare it with the general
//! parsers on 200,000 random inputs each, and the `request_head` fuzz target compares
//! the whole head with a separate reference.
//!
//! Why a second scanner rather than only httparse: httparse's call, its slot array and
//! the walk over its slots cost ~260 instructions a request more than this path
//! (commit 8013ed6), and a byte-at-a-time scan of names and whitespace plus a second
//! pass that compared each name with the special ones cost ~8 instructions a byte
//! (`scripts/instructions.sh`, see ARCHITECTURE.md's table of measured choices).

use super::byte_classes::Buf;
use super::fields::{eq_lower, is_tchar, FieldIdx, MAX_FIELDS};
use super::Version;

/// Longest request target accepted (RFC 9112 §3 recommends at least 8000 octets).
pub(crate) const MAX_TARGET: usize = 8 << 10;

/// The request line's parts, as offsets in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub method: (usize, usize),
    pub target: (usize, usize),
    pub version: Version,
    /// Where the header section starts.
    pub end: usize,
}

/// A field whose name carries one of the request head's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
}

/// Which rule field name `name` (token characters) carries, in any case. Told apart by
/// length first: most names have none of these lengths.
#[inline(never)]
pub(crate) fn special(name: &[u8]) -> Option<Special> {
    let (want, kind): (&[u8], _) = match name.len() {
        4 => (b"host", Special::Host),
        6 => (b"expect", Special::Expect),
        10 => (b"connection", Special::Connection),
        14 => (b"content-length", Special::ContentLength),
        17 => (b"transfer-encoding", Special::TransferEncoding),
        _ => return None,
    };
    eq_lower(name, want).then_some(kind)
}

/// Whether `buf[i..]` starts with CRLF. (`i < buf.len() - 1` rather than
/// `i + 1 < buf.len()`, so that no sum can overflow: one compare for both bytes.)
#[inline(always)]
fn crlf_at(buf: &[u8], i: usize) -> bool {
    if i < buf.len().saturating_sub(1) {
        // SAFETY: `i + 1 < buf.len()`: both bytes are in `buf`.
        let pair = unsafe { [*buf.get_unchecked(i), *buf.get_unchecked(i + 1)] };
        pair == *b"\r\n"
    } else {
        false
    }
}

/// SP or HTAB, and six more bytes (NUL, 0x01, BS, `!`, `(`, `)`): the bytes `b` with
/// `b & 0xd6 == 0`, a one-instruction filter before the exact, rare check.
#[inline(always)]
fn maybe_ows(b: u8) -> bool {
    b & 0xd6 == 0
}

/// The common case of the request line: a token method, a target of visible ASCII (at
/// most [`MAX_TARGET`] bytes), `HTTP/1.1` or `HTTP/1.0`, and CRLF, with nothing before
/// it; `None` for anything else, which the general parser then accepts, refuses or
/// waits for. Where it answers, it gives the very `Line` the general parser gives
/// (`request_head::tests::fast_line_agrees`).
#[inline(always)]
pub(crate) fn request_line(buf: &[u8]) -> Option<Line> {
    let b = Buf::new(buf)?;
    let method = if buf[..4] == *b"GET " {
        3
    } else {
        method_end(buf)?
    };
    let t0 = method + 1;
    // To the first byte that is not visible ASCII (past the end included).
    let mut j = t0;
    let mut m = b.not_visible(j);
    while m == 0 {
        j += 16;
        m = b.not_visible(j);
    }
    let t1 = j + m.trailing_zeros() as usize;
    if t1 == t0 || t1 - t0 > MAX_TARGET || buf.get(t1) != Some(&b' ') {
        return None;
    }
    // The version and CRLF: a word and the two bytes after it.
    let v: &[u8; 10] = buf.get(t1 + 1..)?.first_chunk()?;
    let (version, crlf) = v.split_at(8);
    let version = match u64::from_le_bytes(version.try_into().ok()?) {
        w if w == u64::from_le_bytes(*b"HTTP/1.1") => Version::Http11,
        w if w == u64::from_le_bytes(*b"HTTP/1.0") => Version::Http10,
        _ => return None,
    };
    if crlf != b"\r\n" {
        return None;
    }
    Some(Line {
        method: (0, method),
        target: (t0, t1),
        version,
        end: t1 + 11,
    })
}

/// The end of a method other than `GET`: a token and then SP.
#[inline(never)]
fn method_end(buf: &[u8]) -> Option<usize> {
    let n = buf.iter().position(|&b| !is_tchar(b))?;
    (n > 0 && buf[n] == b' ').then_some(n)
}

/// What [`section`] found besides the fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    /// Bytes of the section, its empty line included.
    pub len: usize,
    /// How many fields are `Host`.
    pub hosts: u32,
    /// Bit `j` set iff field `j` is a [`Special`] one other than `Host`.
    pub special: u128,
}

/// For each name length up to 17, the first word of the one special name of that
/// length with bit 5 of each byte clear, and the mask of its bytes in that word with
/// bit 5 clear too (no word matches `(1, 0)`: no such name; the last entry stands for
/// every longer name). Without bit 5 a letter is the same in either case and `-` is
/// 0x0d, which no other token character becomes (CR, the only other byte that does,
/// is no token character), so a name (token characters) whose first word, masked, is
/// that is the special name if it is no longer than 8 bytes, and a candidate for
/// [`special`] if it is longer.
static FIRST_WORD: [(u64, u64); 19] = {
    let mut t = [(1, 0); 19];
    let names: [&[u8]; 5] = [
        b"host",
        b"expect",
        b"connection",
        b"content-length",
        b"transfer-encoding",
    ];
    let mut k = 0;
    while k < names.len() {
        let name = names[k];
        let (mut word, mut mask, mut j) = (0u64, 0u64, 0);
        while j < 8 && j < name.len() {
            word |= ((name[j] & !0x20) as u64) << (8 * j);
            mask |= 0xdf << (8 * j);
            j += 1;
        }
        t[name.len()] = (word, mask);
        k += 1;
    }
    t
};

/// The common case of [`super::fields::parse_section`]: the field section at `buf[at..]`
/// when every line is `token ":" OWS value OWS CRLF` with a value of no control
/// character but HTAB, the section ends in CRLF, and it has at most [`MAX_FIELDS`]
/// lines. Each field goes to `idx`, its offsets shifted by `base` (where `buf` sits in
/// the connection's read buffer).
///
/// `None` for anything else (a bare LF, a control character, an incomplete line, too
/// many fields): the caller then clears `idx` and asks `parse_section`, which accepts,
/// refuses or waits. What this accepts, `parse_section` accepts, field for field
/// (`tests::fast_section_agrees`).
///
/// The common line is one straight path: the name's end found sixteen bytes at a time
/// (a name of letters and `-` needs no other check to be a token), one SP of OWS, the
/// value scanned sixteen bytes at a time, no trailing-whitespace trim unless the byte
/// before CR might be SP or HTAB, and a name classified by its length and one compare.
#[inline(always)]
pub(crate) fn section(
    buf: &[u8],
    at: usize,
    base: usize,
    idx: &mut Vec<FieldIdx>,
) -> Option<Section> {
    let b = Buf::new(buf)?;
    let mut i = at;
    let mut hosts = 0;
    let mut special = 0u128;
    loop {
        // A line: the empty line that ends the section (within 16 bytes of the end of
        // a request read alone, so looked at first there), or a field.
        let end_of_section = || Section {
            len: i + 2 - at,
            hosts,
            special,
        };
        let c = if b.whole(i) {
            b.line(i)
        } else if crlf_at(buf, i) {
            return Some(end_of_section());
        } else {
            b.line(i)
        };
        if c.first as u8 == b'\r' {
            return crlf_at(buf, i).then(end_of_section);
        }
        if idx.len() == MAX_FIELDS {
            return None;
        }
        // The name: letters and `-` to the colon; any other token byte, the loop.
        let mut j = i;
        let mut stop = !c.name() & 0xffff;
        let mut colons = c.colon();
        while stop == 0 {
            j += 16;
            let c = b.line(j);
            stop = !c.name() & 0xffff;
            colons = c.colon();
        }
        let k = stop.trailing_zeros();
        let mut colon = j + k as usize;
        if colons >> k & 1 == 0 {
            colon = name_rest(buf, colon)?;
        }
        let name_len = colon - i;
        if name_len == 0 {
            return None;
        }
        let name = ((base + i) as u32, name_len as u32);
        // Host counted, the other special names marked: by length and first word.
        let (want, mask) = FIRST_WORD[name_len.min(FIRST_WORD.len() - 1)];
        if c.first & mask == want {
            if name_len == 4 {
                hosts += 1;
            } else if name_len <= 8 || special_at(buf, i, name_len) {
                special |= 1 << idx.len();
            }
        }
        // The value: one SP of OWS skipped, to the first control byte, which must be
        // the CR of CRLF. (HTAB, in OWS or the value, is a control: `value_rest`.) The
        // byte after the colon (the SP, or the value's first) is looked at alone and
        // the scan for the control starts past it, at the value's start when there is
        // an SP: so the scan's load waits for the colon alone, not also for that byte
        // (`cargo bench --bench head_parse`: 42.3-42.8 to 38.0-38.1 ns a head of
        // `http16`'s, 209.6-210.0 to 185.4-191.0 ns a browser's; 15 to 24 instructions
        // a request more, `scripts/instructions.sh`).
        let after = buf.get(colon + 1).copied();
        let sp = usize::from(after == Some(b' '));
        let mut value = colon + 1 + sp;
        let (mut j, mut m) = match after {
            Some(c) if c >= 0x20 && c != 0x7f => (colon + 2, b.ctl(colon + 2)),
            _ => (colon + 1, 1),
        };
        while m == 0 {
            j += 16;
            m = b.ctl(j);
        }
        let mut end = j + m.trailing_zeros() as usize;
        if !crlf_at(buf, end) {
            end = value_rest(buf, end)?;
            if !crlf_at(buf, end) {
                return None;
            }
        }
        // More OWS: only if the value's first byte may be SP or HTAB.
        // SAFETY: `value <= end` and `end + 1 < buf.len()` (`crlf_at`).
        let first_byte = unsafe { *buf.get_unchecked(value) };
        if maybe_ows(first_byte) {
            value = skip_ows(buf, value, end);
        }
        // Trailing OWS: none unless the byte before CR may be SP or HTAB.
        // SAFETY: `0 <= colon < end`, and `end < buf.len()` as above.
        let last_byte = unsafe { *buf.get_unchecked(end - 1) };
        let mut value_end = end;
        if maybe_ows(last_byte) {
            value_end = trim_end(buf, value, end);
        }
        idx.push(FieldIdx {
            name,
            value: ((base + value) as u32, (value_end - value) as u32),
        });
        i = end + 2;
    }
}

/// The rest of a name whose first byte that is not a letter or `-` (at `i`) is not the
/// colon: token characters to the colon, or `None`.
#[cold]
#[inline(never)]
fn name_rest(buf: &[u8], mut i: usize) -> Option<usize> {
    while is_tchar(*buf.get(i)?) {
        i += 1;
    }
    (buf[i] == b':').then_some(i)
}

/// The rest of a value whose first control byte (at `i`) is not CR: past HTAB and any
/// byte that is not a control, to the first control byte if that is CR; `None` if it is
/// another or has not arrived.
#[cold]
#[inline(never)]
fn value_rest(buf: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let b = *buf.get(i)?;
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            return (b == b'\r').then_some(i);
        }
        i += 1;
    }
}

/// Past OWS from `i`, but not past `end`.
#[cold]
#[inline(never)]
fn skip_ows(buf: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && matches!(buf[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// The end of the value at `buf[value..end]` without its trailing SP and HTAB.
#[cold]
#[inline(never)]
fn trim_end(buf: &[u8], value: usize, mut end: usize) -> usize {
    while end > value && matches!(buf[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    end
}

/// Whether the name at `buf[name..][..len]`, of a length one of the rarer special names
/// has, is one of them.
#[cold]
#[inline(never)]
fn special_at(buf: &[u8], name: usize, len: usize) -> bool {
    special(&buf[name..][..len]).is_some()
}

#[cfg(test)]
mod tests {
    use super::super::fields::parse_section;
    use super::*;

    type Fields = Vec<(String, Vec<u8>)>;

    /// httparse's fields and length, or its refusal.
    fn general(raw: &[u8]) -> Result<Option<(Fields, usize)>, ()> {
        let mut slots = vec![httparse::EMPTY_HEADER; MAX_FIELDS];
        parse_section(raw, &mut slots, |fields, len| {
            let owned = fields
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect();
            (owned, len)
        })
        .map_err(|_| ())
    }

    /// The fast path's fields and length, or `None` where it defers; its Host count and
    /// special fields are checked against [`special`] on the way.
    fn fast(raw: &[u8]) -> Option<(Fields, usize)> {
        let mut idx = Vec::new();
        let s = section(raw, 0, 0, &mut idx)?;
        let get = |(o, l): (u32, u32)| &raw[o as usize..][..l as usize];
        let kinds: Vec<_> = idx.iter().map(|f| special(get(f.name))).collect();
        let hosts = kinds.iter().filter(|&&k| k == Some(Special::Host)).count();
        assert_eq!(
            s.hosts as usize,
            hosts,
            "{:?}",
            String::from_utf8_lossy(raw)
        );
        for (j, k) in kinds.iter().enumerate() {
            let marked = s.special >> j & 1 == 1;
            assert_eq!(
                marked,
                k.is_some() && *k != Some(Special::Host),
                "field {j}"
            );
        }
        let f = idx
            .iter()
            .map(|f| {
                let name = String::from_utf8(get(f.name).to_vec()).expect("a token");
                (name, get(f.value).to_vec())
            })
            .collect();
        Some((f, s.len))
    }

    #[test]
    fn crlf_only_where_both_bytes_are() {
        assert!(!crlf_at(b"", 0) && !crlf_at(b"\r", 0) && !crlf_at(b"\r\n", 1));
        assert!(crlf_at(b"\r\n", 0) && crlf_at(b"a\r\n", 1));
        assert!(!crlf_at(b"a\r\n", 0) && !crlf_at(b"a\r\n", 2) && !crlf_at(b"a\r\n", usize::MAX));
    }

    #[test]
    fn special_names() {
        for (name, kind) in [
            (&b"Host"[..], Some(Special::Host)),
            (b"hOST", Some(Special::Host)),
            (b"Content-Length", Some(Special::ContentLength)),
            (b"TRANSFER-ENCODING", Some(Special::TransferEncoding)),
            (b"connection", Some(Special::Connection)),
            (b"Expect", Some(Special::Expect)),
            (b"Hosts", None),
            (b"Accept", None),
            (b"Content_Length", None),
            (b"h0st", None),
        ] {
            assert_eq!(special(name), kind, "{:?}", String::from_utf8_lossy(name));
        }
        let raw = b"host: a\r\nX: 1\r\nContent-Length: 1\r\nHOST: b\r\nExpect: x\r\n\r\n";
        let mut idx = Vec::new();
        let s = section(raw, 0, 0, &mut idx).unwrap();
        assert_eq!((s.hosts, s.special, s.len), (2, 0b10100, raw.len()));
    }

    #[test]
    fn fast_section_agrees() {
        // The common shapes are taken by the fast path.
        let (f, n) = fast(b"Host: a:1\r\nX-y:\t v \t w \t\r\nE:\r\n\r\nGET").unwrap();
        assert_eq!(n, 32);
        assert_eq!(f[1], ("X-y".into(), b"v \t w".to_vec()));
        assert_eq!(f[2], ("E".into(), vec![]));
        let long = [&b"A: "[..], &[b'x'; 37], b"\xc3\xa9\r\n\r\n"].concat();
        assert_eq!(fast(&long).unwrap().0[0].1.len(), 39);
        let (f, _) = fast(b"X-B3_id9: 1\r\nA:  \t\r\nB:   v\r\n\r\n").unwrap();
        assert_eq!(f[0], ("X-B3_id9".into(), b"1".to_vec()));
        assert_eq!(f[1], ("A".into(), vec![]));
        assert_eq!(f[2], ("B".into(), b"v".to_vec()));
        // Anything else is left to httparse.
        for other in [
            &b"A: 1\n\r\n"[..],
            b"A: 1\r\n\n",
            b"A: 1\r\n",
            b"A: 1\r",
            b"A : 1\r\n\r\n",
            b"A: 1\r\n folded\r\n\r\n",
            b"A: 1\x7f2\r\n\r\n",
            b"A: 01234567\x0089\r\n\r\n",
            b"A: 0123456\rB: 1\r\n\r\n",
            b"ABCDEFGH",
            b"ABCDEFGH:",
            b": 1\r\n\r\n",
            b"A(: 1\r\n\r\n",
        ] {
            assert!(
                fast(other).is_none(),
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
        let many = "A: 1\r\n".repeat(MAX_FIELDS + 1) + "\r\n";
        assert!(fast(many.as_bytes()).is_none());
        let most = "A: 1\r\n".repeat(MAX_FIELDS) + "\r\n";
        assert_eq!(fast(most.as_bytes()).unwrap().0.len(), MAX_FIELDS);
        // Random sections over the bytes that matter: wherever the fast path answers,
        // httparse gives the same fields and length.
        let alphabet = b"aZ-:: \t\t\r\n\r\n\x00\x1f\x7f\x80\xff,;_9hostHOST";
        let names: [&[u8]; 6] = [
            b"Host: ",
            b"content-length:",
            b"Transfer-Encoding:",
            b"Connection: ",
            b"EXPECT:",
            b"Accept-Encoding: ",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut taken = 0;
        for _ in 0..200_000 {
            let mut raw = Vec::new();
            for _ in 0..next() % 4 {
                if next() % 2 == 0 {
                    raw.extend_from_slice(names[(next() % names.len() as u64) as usize]);
                }
                let len = (next() % 20) as usize;
                raw.extend((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
                if next() % 2 == 0 {
                    raw.extend_from_slice(b"\r\n");
                }
            }
            if next() % 2 == 0 {
                raw.extend_from_slice(b"\r\n\r\n");
            }
            if let Some(got) = fast(&raw) {
                taken += 1;
                assert_eq!(
                    general(&raw),
                    Ok(Some(got)),
                    "{:?}",
                    String::from_utf8_lossy(&raw)
                );
            }
        }
        assert!(
            taken > 1000,
            "only {taken} random sections took the fast path"
        );
    }
}
