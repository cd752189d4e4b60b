//! The chunked transfer coding (RFC 9112 §7.1), decoded incrementally.
//!
//! The decoder sees whatever bytes the connection has buffered, consumes what it can, and
//! copies chunk data out; it never needs a whole chunk at once. Chunk-size lines follow
//! the grammar exactly (`chunk-size [ BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ... ]
//! CRLF`, extensions checked and ignored); sizes are checked for overflow and a size line
//! is bounded. The trailer section goes through the same field-line grammar as a request
//! head ([`super::fields::parse_section`]), so a line that a head would refuse (no colon,
//! whitespace before it, obs-fold, a control character: the shape of a smuggled request)
//! is refused here too. Valid trailer fields are read and dropped: gmp exposes no
//! trailers, as RFC 9110 §6.5.1 allows a recipient that does not need them.

use super::fields::{parse_section, FieldError, MAX_FIELDS};

/// Longest chunk-size line accepted, extensions included.
const MAX_SIZE_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits.
    Size,
    /// Whitespace after the digits: only a `;` extension may follow.
    SizeWs,
    /// After a `;`: whitespace, then an extension name.
    ExtStart,
    /// In an extension name.
    ExtName,
    /// Whitespace after a name: `=` or `;` may follow.
    ExtNameWs,
    /// After `=`: whitespace, then a token or a quoted string.
    ExtValStart,
    /// In a token value.
    ExtToken,
    /// In a quoted value, and just after a backslash in it.
    ExtQuoted,
    ExtQuotedPair,
    /// Right after a value: `;`, CR or whitespace.
    ExtValEnd,
    /// Whitespace after a value: only another `;` extension may follow.
    ExtValWs,
    /// Expecting the LF that ends the size line.
    SizeLf,
    /// Copying chunk data; `remaining` bytes to go.
    Data,
    DataCr,
    DataLf,
    /// After the last chunk: the trailer section, parsed whole once it has arrived.
    Trailers,
    Done,
}

/// An incremental decoder.
#[derive(Clone, Debug)]
pub(crate) struct Decoder {
    state: State,
    size: u64,
    digits: u32,
    /// Bytes of the current size line.
    line: usize,
    max_trailer: usize,
    /// Data bytes left in the current chunk.
    pub remaining: u64,
}

/// What the decoder found wrong; the message goes into the error response.
pub(crate) type Error = &'static str;

const BAD_SIZE: Error = "malformed chunk size";
const BAD_EXT: Error = "malformed chunk extension";

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    super::fields::is_tchar(b)
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `qdtext` (RFC 9110 §5.6.4): HTAB, SP, visible ASCII but `"` and `\`, obs-text.
fn is_qdtext(b: u8) -> bool {
    b == b'\t'
        || b == b' '
        || b == 0x21
        || (0x23..=0x5b).contains(&b)
        || (0x5d..=0x7e).contains(&b)
        || b >= 0x80
}

impl Decoder {
    pub(crate) fn new(max_trailer: usize) -> Decoder {
        Decoder {
            state: State::Size,
            size: 0,
            digits: 0,
            line: 0,
            max_trailer,
            remaining: 0,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the decoder is in the middle of chunk data (the caller may read data for
    /// it straight into the destination, up to `remaining` bytes).
    pub(crate) fn in_data(&self) -> bool {
        self.state == State::Data
    }

    /// Records `n` data bytes that the caller copied itself.
    pub(crate) fn consumed_data(&mut self, n: usize) {
        self.remaining -= n as u64;
        if self.remaining == 0 {
            self.state = State::DataCr;
        }
    }

    /// Decodes from `input`, copying chunk data into `out`. Returns (bytes of `input`
    /// consumed, bytes written to `out`). Stops when `out` is full, the input runs out,
    /// or the body ends. A return that wrote nothing to a non-empty `out` with the body
    /// not done means "more input": the caller appends to what was not consumed (a
    /// trailer section is consumed only once all of it has arrived) and calls again.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), Error> {
        let mut i = 0;
        let mut o = 0;
        while i < input.len() {
            match self.state {
                State::Data => {
                    if o == out.len() {
                        break;
                    }
                    let n = (input.len() - i)
                        .min(out.len() - o)
                        .min(self.remaining.min(usize::MAX as u64) as usize);
                    out[o..o + n].copy_from_slice(&input[i..i + n]);
                    i += n;
                    o += n;
                    self.consumed_data(n);
                }
                State::Trailers => {
                    match self.trailers(&input[i..])? {
                        Some(n) => {
                            i += n;
                            self.state = State::Done;
                        }
                        None => break,
                    }
                    break;
                }
                State::Done => break,
                _ => {
                    let b = input[i];
                    i += 1;
                    self.step(b)?;
                }
            }
        }
        Ok((i, o))
    }

    /// The trailer section at the start of `input`: its length once it is complete and
    /// well-formed, `None` while more of it is to come.
    #[inline(never)]
    fn trailers(&self, input: &[u8]) -> Result<Option<usize>, Error> {
        // The common case, no trailer fields: no slots needed.
        match input {
            [b'\r', b'\n', ..] | [b'\n', ..] => return Ok(Some(1 + (input[0] == b'\r') as usize)),
            [b'\r'] => return Ok(None),
            _ => {}
        }
        let mut slots = [httparse::EMPTY_HEADER; MAX_FIELDS];
        match parse_section(input, &mut slots, |_, n| n) {
            Ok(Some(n)) if n <= self.max_trailer => Ok(Some(n)),
            Ok(None) if input.len() <= self.max_trailer => Ok(None),
            Ok(_) => Err("trailer section too large"),
            Err(e) => Err(match e {
                FieldError::TooMany => "too many trailer fields",
                FieldError::Name => {
                    "malformed trailer field line (not a token name, whitespace before the colon, no colon, or a folded line)"
                }
                FieldError::Value => "invalid byte in a trailer field value",
                FieldError::LineEnding => "malformed line ending in the trailer section",
            }),
        }
    }

    /// One byte of a chunk-size line, or of the CRLF after chunk data.
    fn step(&mut self, b: u8) -> Result<(), Error> {
        if !matches!(self.state, State::DataCr | State::DataLf) {
            self.line += 1;
            if self.line > MAX_SIZE_LINE {
                return Err("chunk size line too long");
            }
        }
        self.state = match (self.state, b) {
            (State::Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                if self.size >> 60 != 0 {
                    return Err("chunk size out of range");
                }
                self.size = self.size << 4 | d;
                self.digits += 1;
                State::Size
            }
            (State::Size, _) if self.digits == 0 => return Err(BAD_SIZE),
            (State::Size | State::SizeWs, b';') => State::ExtStart,
            (State::Size | State::SizeWs, b' ' | b'\t') => State::SizeWs,
            (State::Size, b'\r') => State::SizeLf,
            // `5 \r\n`: whitespace after the size is allowed only before an extension.
            (State::Size | State::SizeWs, _) => return Err(BAD_SIZE),

            (State::ExtStart, b) if is_ws(b) => State::ExtStart,
            (State::ExtStart, b) if is_tchar(b) => State::ExtName,
            (State::ExtName, b) if is_tchar(b) => State::ExtName,
            (State::ExtName | State::ExtNameWs, b) if is_ws(b) => State::ExtNameWs,
            (State::ExtName | State::ExtNameWs, b'=') => State::ExtValStart,
            (State::ExtName | State::ExtNameWs, b';') => State::ExtStart,
            (State::ExtName, b'\r') => State::SizeLf,
            (State::ExtValStart, b) if is_ws(b) => State::ExtValStart,
            (State::ExtValStart, b'"') => State::ExtQuoted,
            (State::ExtValStart | State::ExtToken, b) if is_tchar(b) => State::ExtToken,
            (State::ExtQuoted, b'"') => State::ExtValEnd,
            (State::ExtQuoted, b'\\') => State::ExtQuotedPair,
            (State::ExtQuoted, b) if is_qdtext(b) => State::ExtQuoted,
            (State::ExtQuotedPair, b) if b == b'\t' || b >= 0x20 && b != 0x7f => State::ExtQuoted,
            (State::ExtToken | State::ExtValEnd, b'\r') => State::SizeLf,
            (State::ExtToken | State::ExtValEnd | State::ExtValWs, b';') => State::ExtStart,
            (State::ExtToken | State::ExtValEnd | State::ExtValWs, b) if is_ws(b) => {
                State::ExtValWs
            }
            (
                State::ExtStart
                | State::ExtName
                | State::ExtNameWs
                | State::ExtValStart
                | State::ExtToken
                | State::ExtQuoted
                | State::ExtQuotedPair
                | State::ExtValEnd
                | State::ExtValWs,
                _,
            ) => return Err(BAD_EXT),

            (State::SizeLf, b'\n') => {
                self.line = 0;
                if self.size == 0 {
                    State::Trailers
                } else {
                    self.remaining = self.size;
                    self.size = 0;
                    self.digits = 0;
                    State::Data
                }
            }
            (State::SizeLf, _) => return Err("chunk size line must end in CRLF"),
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size,
            (State::DataCr | State::DataLf, _) => return Err("chunk data must end in CRLF"),
            (State::Data | State::Trailers | State::Done, _) => {
                unreachable!("handled by decode")
            }
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` made available `step` bytes at a time, into `out_step`-sized
    /// outputs, as a connection would: unconsumed bytes stay, more are appended.
    fn decode_all(input: &[u8], step: usize, out_step: usize) -> Result<(Vec<u8>, usize), Error> {
        let mut d = Decoder::new(1024);
        let mut data = Vec::new();
        let (mut at, mut avail) = (0, 0);
        while !d.is_done() {
            let mut out = vec![0; out_step];
            let (c, o) = d.decode(&input[at..avail], &mut out)?;
            assert!(at + c <= avail && o <= out_step);
            at += c;
            data.extend_from_slice(&out[..o]);
            if o == 0 && !d.is_done() {
                if avail == input.len() {
                    return Err("truncated");
                }
                avail = (avail + step).min(input.len());
            }
        }
        Ok((data, at))
    }

    /// `decode_all` in every split size from 1 byte up, with small and large outputs;
    /// every split must agree.
    fn decode_splits(input: &[u8]) -> Result<(Vec<u8>, usize), Error> {
        let whole = decode_all(input, input.len().max(1), 1 << 16);
        for step in 1..input.len().min(40) {
            for out in [1, 3, 64] {
                assert_eq!(
                    decode_all(input, step, out),
                    whole,
                    "step {step} out {out}: {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        whole
    }

    #[test]
    fn decodes_in_any_split() {
        let body = b"5\r\nhello\r\n7;ext=1;x=\"y\"\r\n, world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (data, used) = decode_splits(body).unwrap();
        assert_eq!(data, b"hello, world");
        assert_eq!(&body[used..], b"NEXT");
    }

    #[test]
    fn chunk_size_lines_follow_the_grammar() {
        let ok: [&[u8]; 12] = [
            b"5\r\nhello\r\n0\r\n\r\n",
            b"5;a=b\r\nhello\r\n0\r\n\r\n",
            b"5 ;a=b\r\nhello\r\n0\r\n\r\n",
            b"5\t; a = b ;c\r\nhello\r\n0\r\n\r\n",
            b"5;a\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"q v\"\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"q \\\" \\\\ v\";b=c\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"\"\r\nhello\r\n0\r\n\r\n",
            b"5;a=b ;c\r\nhello\r\n0\r\n\r\n",
            b"005\r\nhello\r\n000;last\r\n\r\n",
            b"A\r\n0123456789\r\n0\r\n\r\n",
            b"5;a=\"x\" ; b\r\nhello\r\n0\r\n\r\n",
        ];
        for input in ok {
            let r = decode_splits(input);
            assert!(r.is_ok(), "{:?}: {r:?}", String::from_utf8_lossy(input));
            assert!(r.unwrap().0.len() == 5 || input.starts_with(b"A"));
        }
        let bad: [(&[u8], Error); 19] = [
            (b"5 \r\nhello\r\n0\r\n\r\n", BAD_SIZE),
            (b"5\t\r\nhello\r\n0\r\n\r\n", BAD_SIZE),
            (b" 5\r\nhello\r\n0\r\n\r\n", BAD_SIZE),
            (b"+5\r\nhello\r\n0\r\n\r\n", BAD_SIZE),
            (b"-5\r\n", BAD_SIZE),
            (b"0x5\r\nhello\r\n0\r\n\r\n", BAD_SIZE),
            (b"g\r\n", BAD_SIZE),
            (b"\r\n", BAD_SIZE),
            (b"5;\r\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5;a=\r\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5;a \r\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5;a=b \r\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5;a=\"b\r\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5;a=\"b\" c\r\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5;(a)\r\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5;a=b\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", BAD_EXT),
            (b"5\nhello\r\n0\r\n\r\n", BAD_SIZE),
            (b"5\r\nhelloX\r\n", "chunk data must end in CRLF"),
        ];
        for (input, why) in bad {
            assert_eq!(
                decode_splits(input),
                Err(why),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            decode_all(b"11111111111111111\r\n", 100, 64),
            Err("chunk size out of range")
        );
        // The largest 16-digit size is accepted as a size.
        let mut d = Decoder::new(10);
        let mut out = [0u8; 4];
        d.decode(b"fffffffffffffff\r\n", &mut out).unwrap();
        assert_eq!(d.remaining, 0xfff_ffff_ffff_ffff);
        // Long extensions are bounded.
        let long_ext = [b"1;a=".as_slice(), &[b'a'; 5000]].concat();
        assert_eq!(
            decode_all(&long_ext, 100, 64),
            Err("chunk size line too long")
        );
    }

    #[test]
    fn trailers_follow_the_field_grammar() {
        // Valid trailer sections, then the next request.
        for trailers in [
            &b"\r\n"[..],
            b"\n",
            b"X-T: 1\r\n\r\n",
            b"X-T: 1\r\nX-U:\r\nChecksum: abc def\r\n\r\n",
        ] {
            let input = [b"3\r\nxyz\r\n0\r\n", trailers, b"GET / HTTP/1.1\r\n"].concat();
            let (data, used) = decode_splits(&input).unwrap();
            assert_eq!(data, b"xyz");
            assert_eq!(&input[used..], b"GET / HTTP/1.1\r\n");
        }
        // The desync the outside probe found: a request line and a field taken for
        // trailer lines.
        let smuggle = b"3\r\nxyz\r\n0\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
        let why = decode_splits(smuggle).unwrap_err();
        assert!(why.starts_with("malformed trailer field line"), "{why}");
        for bad in [
            &b"NoColon\r\n\r\n"[..],
            b"X-T : 1\r\n\r\n",
            b"X-T\t: 1\r\n\r\n",
            b"X-T: 1\r\n folded\r\n\r\n",
            b"X-T: 1\r\n\tfolded\r\n\r\n",
            b" X-T: 1\r\n\r\n",
            b"X(T): 1\r\n\r\n",
            b": 1\r\n\r\n",
            b"X-T: a\x00b\r\n\r\n",
            b"X-T: a\x7fb\r\n\r\n",
            b"X-T: a\rb\r\n\r\n",
            b"\rX",
        ] {
            let input = [b"0\r\n", bad].concat();
            assert!(
                decode_splits(&input).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long_trailer = [b"0\r\nX: ".as_slice(), &[b'a'; 2000], b"\r\n\r\n"].concat();
        assert_eq!(
            decode_all(&long_trailer, 100, 64),
            Err("trailer section too large")
        );
        let unfinished = [b"0\r\nX: ".as_slice(), &[b'a'; 2000]].concat();
        assert_eq!(
            decode_all(&unfinished, 100, 64),
            Err("trailer section too large")
        );
    }
}
