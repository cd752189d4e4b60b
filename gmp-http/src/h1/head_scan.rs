//! The common request head without httparse: a request line and field lines scanned
//! eight bytes a word (SWAR), with the fields whose names carry a message rule (Host,
//! Content-Length, Transfer-Encoding, Connection, Expect) picked out during the same
//! scan. The request head parser ([`super::request_head`]) calls it once per request.
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

use super::fields::{eq_lower, is_tchar, FieldIdx, MAX_FIELDS};
use super::Version;

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

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

/// A buffer of at least 8 bytes, read a word at a time.
#[derive(Clone, Copy)]
struct Bytes<'a> {
    buf: &'a [u8],
    /// `buf.len() - 8`: the last offset a whole word can be read from.
    last: usize,
}

impl<'a> Bytes<'a> {
    #[inline(always)]
    fn new(buf: &'a [u8]) -> Option<Self> {
        let last = buf.len().checked_sub(8)?;
        Some(Bytes { buf, last })
    }

    /// Eight bytes from `i`, the first in the low byte; bytes past the end read as 0,
    /// which every scan here stops at (and then finds no byte there, or not the one it
    /// wants, and defers).
    #[inline(always)]
    fn word(self, i: usize) -> u64 {
        if i <= self.last {
            // SAFETY: `i + 8 <= buf.len()` (`i <= buf.len() - 8`), so the eight bytes
            // read are in `buf`; `read_unaligned` takes any alignment.
            u64::from_le(unsafe { self.buf.as_ptr().add(i).cast::<u64>().read_unaligned() })
        } else {
            self.word_at_end(i)
        }
    }

    /// [`Self::word`] within 8 bytes of the end (or past it): the last word shifted
    /// down, so the bytes past the end come in as zeros. No copy and no call.
    #[inline(always)]
    fn word_at_end(self, i: usize) -> u64 {
        // SAFETY: `last + 8 == buf.len()`, so the eight bytes read are in `buf`.
        let end = u64::from_le(unsafe {
            self.buf
                .as_ptr()
                .add(self.last)
                .cast::<u64>()
                .read_unaligned()
        });
        // Bytes left from `i`: 0..=7 here. As a u128, a shift by 64 is defined.
        let left = (self.last + 8).saturating_sub(i).min(8) as u32;
        (u128::from(end) >> (64 - 8 * left)) as u64
    }
}

/// The byte of `word` whose flag is the lowest set bit of `m` (a mask with high bits of
/// bytes set, `m != 0`).
#[inline(always)]
fn flagged_byte(word: u64, m: u64) -> u8 {
    (word >> (m.trailing_zeros() & 56)) as u8
}

/// The high bit of each byte of `x` that is not visible ASCII (0x21..=0x7e) is set, and
/// possibly of bytes above such a byte: the lowest set bit is exact (`under` flags bytes
/// under 0x21 and `over` bytes over 0x7e; a borrow or carry that makes a false flag
/// only runs upward from a true one), which is all `trailing_zeros` needs.
#[inline(always)]
fn not_visible(x: u64) -> u64 {
    let under = x.wrapping_sub(LOW * 0x21) & !x & HIGH;
    let over = (x | x.wrapping_add(LOW)) & HIGH;
    under | over
}

/// The high bit of each byte of `x` under 0x20 or DEL is set, and possibly of a byte
/// above one of those or above a 0xff: so the lowest set bit is a control byte or DEL
/// unless a 0xff is below it (then the caller, finding some other byte there, defers).
/// `x - 0x20` borrows (sets the high bit) in a byte under 0x20, `x + 1` carries into
/// the high bit of DEL, and `& !x` drops bytes over 0x7f.
#[inline(always)]
fn control(x: u64) -> u64 {
    (x.wrapping_sub(LOW * 0x20) | x.wrapping_add(LOW)) & !x & HIGH
}

/// The high bit of each byte of `x` that is not an ASCII letter or `-` is set: exactly,
/// byte by byte (every sum below stays within its byte, so nothing carries). Letters
/// and `-` are token characters; a name that also has others (digits, `_`, ...) takes
/// the byte loop from its first one.
#[inline(always)]
fn not_letter_or_dash(x: u64) -> u64 {
    const LOW7: u64 = LOW * 0x7f;
    // Letters to lowercase; the high bit of a byte of `y` is that of `x`.
    let y = x | (LOW * 0x20);
    let h = y & LOW7;
    // h + (0x80 - k) has its high bit set iff h >= k, for h <= 0x7f, with no carry out.
    let ge_a = h + LOW * u64::from(0x80 - b'a');
    let gt_z = h + LOW * u64::from(0x80 - b'z' - 1);
    let not_letter = !ge_a | gt_z | y;
    // Its low seven bits are 0 iff the byte is `-`; the high bit of `d` is `x`'s.
    let d = x ^ (LOW * u64::from(b'-'));
    let not_dash = ((d & LOW7) + LOW7) | d;
    not_letter & not_dash & HIGH
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
    let b = Bytes::new(buf)?;
    let method = if b.word(0) as u32 == u32::from_le_bytes(*b"GET ") {
        3
    } else {
        method_end(buf)?
    };
    let t0 = method + 1;
    // To the first byte that is not visible ASCII (padding past the end included).
    let mut j = t0;
    let mut word = b.word(j);
    let mut m = not_visible(word);
    while m == 0 {
        j += 8;
        word = b.word(j);
        m = not_visible(word);
    }
    let t1 = j + (m.trailing_zeros() / 8) as usize;
    if flagged_byte(word, m) != b' ' || t1 == t0 || t1 - t0 > MAX_TARGET {
        return None;
    }
    // The version and CRLF: a word and the two bytes after it.
    let v = t1 + 1;
    if v + 2 > b.last {
        return None;
    }
    let version = match b.word(v) {
        w if w == u64::from_le_bytes(*b"HTTP/1.1") => Version::Http11,
        w if w == u64::from_le_bytes(*b"HTTP/1.0") => Version::Http10,
        _ => return None,
    };
    if b.word(v + 2) >> 48 != u64::from(u16::from_le_bytes(*b"\r\n")) {
        return None;
    }
    Some(Line {
        method: (0, method),
        target: (t0, t1),
        version,
        end: v + 10,
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
/// length in lowercase and the mask of its bytes in that word (no word matches
/// `(1, 0)`: no such name; the last entry stands for every longer name): a name whose
/// first word, in lowercase, is that is the special name if it is no longer than 8
/// bytes, and a candidate for [`special`] if it is longer.
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
            word |= (name[j] as u64) << (8 * j);
            mask |= 0xff << (8 * j);
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
/// The common line is one straight path: the name's end found a word at a time (a name
/// of letters and `-` needs no other check to be a token), one SP of OWS, the value
/// scanned a word at a time, no trailing-whitespace trim unless the byte before CR
/// might be SP or HTAB, and a name classified by its length and one compare.
#[inline(always)]
pub(crate) fn section(
    buf: &[u8],
    at: usize,
    base: usize,
    idx: &mut Vec<FieldIdx>,
) -> Option<Section> {
    const CRLF: u16 = u16::from_le_bytes(*b"\r\n");
    let b = Bytes::new(buf)?;
    let mut i = at;
    let mut hosts = 0;
    let mut special = 0u128;
    loop {
        // A line: the empty line that ends the section, or a field. At the end of the
        // buffer (a request read alone ends with its empty line) the two bytes are
        // compared before a word is made of fewer than 8.
        let first = if i <= b.last {
            b.word(i)
        } else if buf.get(i..i + 2) == Some(&b"\r\n"[..]) {
            0x0a0d
        } else {
            b.word_at_end(i)
        };
        if first as u16 == CRLF {
            return Some(Section {
                len: i + 2 - at,
                hosts,
                special,
            });
        }
        if idx.len() == MAX_FIELDS {
            return None;
        }
        // The name, to the colon.
        let mut j = i;
        let mut word = first;
        let mut m = not_letter_or_dash(word);
        while m == 0 {
            j += 8;
            word = b.word(j);
            m = not_letter_or_dash(word);
        }
        let mut colon = j + (m.trailing_zeros() / 8) as usize;
        if flagged_byte(word, m) != b':' {
            colon = name_rest(buf, colon)?;
        }
        let name_len = colon - i;
        if name_len == 0 {
            return None;
        }
        // The value: one SP of OWS skipped, to the first control byte, which must be
        // the CR of CRLF. (HTAB, in OWS or the value, is a control: `value_rest`.)
        let sp = usize::from(b.word(colon + 1) as u8 == b' ');
        let mut value = colon + 1 + sp;
        let mut j = value;
        let mut word = b.word(j);
        let more_ows = maybe_ows(word as u8);
        let mut m = control(word);
        while m == 0 {
            j += 8;
            word = b.word(j);
            m = control(word);
        }
        let mut end = j + (m.trailing_zeros() / 8) as usize;
        if flagged_byte(word, m) != b'\r' {
            end = value_rest(buf, end)?;
        }
        if *buf.get(end + 1)? != b'\n' {
            return None;
        }
        // More OWS: only if the value's first byte may be SP or HTAB.
        if more_ows {
            value = skip_ows(buf, value, end);
        }
        // Trailing OWS: none unless the byte before CR may be SP or HTAB.
        let mut value_end = end;
        if maybe_ows(buf[end - 1]) {
            value_end = trim_end(buf, value, end);
        }
        // Host counted, the other special names marked: by length and first word.
        let (want, mask) = FIRST_WORD[name_len.min(FIRST_WORD.len() - 1)];
        if (first | (LOW * 0x20)) & mask == want {
            if name_len == 4 {
                hosts += 1;
            } else if name_len <= 8 || special_at(buf, i, name_len) {
                special |= 1 << idx.len();
            }
        }
        idx.push(FieldIdx {
            name: ((base + i) as u32, name_len as u32),
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

/// The rest of a value whose first control byte (at `i`, or a byte above a 0xff, see
/// [`control`]) is not CR: past HTAB and any byte that is not a control, to the first
/// control byte if that is CR; `None` if it is another or has not arrived.
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
    fn word_classes_are_exact() {
        // Every byte value in every position of a word, among letters.
        for at in 0..8 {
            for b in 0..=255u8 {
                let mut w = *b"aZ-qmB-z";
                w[at] = b;
                let x = u64::from_le_bytes(w);
                let flagged = |m: u64| m >> (8 * at + 7) & 1 == 1;
                let letter_or_dash = b.is_ascii_alphabetic() || b == b'-';
                assert_eq!(
                    not_letter_or_dash(x),
                    if letter_or_dash { 0 } else { 0x80 << (8 * at) },
                    "{b:#x} at {at}"
                );
                assert_eq!(
                    flagged(not_visible(x)),
                    !(0x21..0x7f).contains(&b),
                    "{b:#x}"
                );
                assert_eq!(flagged(control(x)), b < 0x20 || b == 0x7f, "{b:#x}");
            }
        }
        // Random words of the bytes that matter: the lowest flag of `not_visible` is the
        // first byte outside 0x21..=0x7e, that of `control` the first control byte or
        // DEL unless a 0xff comes before it (then a byte above that 0xff).
        let bytes = [
            0x00, 0x09, 0x0d, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xfe, 0xff, b'a',
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let w: [u8; 8] = std::array::from_fn(|k| bytes[(seed >> (5 * k)) as usize % 12]);
            let x = u64::from_le_bytes(w);
            let lowest = |m: u64| (m != 0).then(|| (m.trailing_zeros() / 8) as usize);
            let first = |f: fn(u8) -> bool| w.iter().position(|&b| f(b));
            assert_eq!(
                lowest(not_visible(x)),
                first(|b| !(0x21..0x7f).contains(&b)),
                "{w:x?}"
            );
            let ctl = first(|b| b < 0x20 || b == 0x7f);
            match (lowest(control(x)), first(|b| b == 0xff)) {
                (got, Some(ff)) if ctl.is_none_or(|c| ff < c) => {
                    assert!(got.is_none_or(|g| g > ff), "{w:x?}")
                }
                (got, _) => assert_eq!(got, ctl, "{w:x?}"),
            }
        }
    }

    #[test]
    fn loads_past_the_end_read_zeros() {
        let buf: Vec<u8> = (1..=20).collect();
        for i in 0..=24 {
            let want: [u8; 8] = std::array::from_fn(|k| *buf.get(i + k).unwrap_or(&0));
            let b = Bytes::new(&buf).unwrap();
            assert_eq!(b.word(i), u64::from_le_bytes(want), "at {i}");
            if i + 8 > buf.len() {
                assert_eq!(b.word_at_end(i), u64::from_le_bytes(want), "at {i}");
            }
        }
        assert!(Bytes::new(&buf[..7]).is_none());
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
