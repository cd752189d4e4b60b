//! The chunked transfer coding (RFC 9112 §7.1), decoded incrementally.
//!
//! The decoder sees whatever bytes the connection has buffered, consumes what it can, and
//! copies chunk data out; it never needs a whole chunk or line at once. Sizes are checked
//! for overflow, a size line (with its extensions, which are ignored) is bounded, and
//! trailer fields are read and dropped within a bound.

/// Longest chunk-size line accepted, extensions included.
const MAX_SIZE_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits.
    Size,
    /// After the digits: whitespace, then `;` extensions or CR.
    AfterSize,
    /// Inside chunk extensions, up to CR.
    Ext,
    /// Expecting the LF that ends the size line.
    SizeLf,
    /// Copying chunk data; `remaining` bytes to go.
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    TrailerLf,
    EndLf,
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
    /// Bytes of trailer fields so far.
    trailer: usize,
    max_trailer: usize,
    /// Data bytes left in the current chunk.
    pub remaining: u64,
}

/// What the decoder found wrong; the message goes into the error response.
pub(crate) type Error = &'static str;

impl Decoder {
    pub(crate) fn new(max_trailer: usize) -> Decoder {
        Decoder {
            state: State::Size,
            size: 0,
            digits: 0,
            line: 0,
            trailer: 0,
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
    /// or the body ends; a return of (n, 0) with `n` = input length means "more input".
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), Error> {
        let mut i = 0;
        let mut o = 0;
        while i < input.len() {
            if self.state == State::Data {
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
                continue;
            }
            if self.state == State::Done {
                break;
            }
            let b = input[i];
            i += 1;
            self.step(b)?;
            if self.state == State::Done {
                break;
            }
        }
        Ok((i, o))
    }

    /// One byte outside chunk data.
    fn step(&mut self, b: u8) -> Result<(), Error> {
        match self.state {
            State::Size | State::AfterSize | State::Ext | State::SizeLf => {
                self.line += 1;
                if self.line > MAX_SIZE_LINE {
                    return Err("chunk size line too long");
                }
            }
            _ => {}
        }
        match self.state {
            State::Size => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                    if self.size >> 60 != 0 {
                        return Err("chunk size out of range");
                    }
                    self.size = self.size << 4 | d;
                    self.digits += 1;
                }
                _ if self.digits == 0 => return Err("malformed chunk size"),
                b' ' | b'\t' => self.state = State::AfterSize,
                b';' => self.state = State::Ext,
                b'\r' => self.state = State::SizeLf,
                _ => return Err("malformed chunk size"),
            },
            State::AfterSize => match b {
                b' ' | b'\t' => {}
                b';' => self.state = State::Ext,
                b'\r' => self.state = State::SizeLf,
                _ => return Err("malformed chunk size"),
            },
            State::Ext => match b {
                b'\r' => self.state = State::SizeLf,
                b'\n' | 0 => return Err("malformed chunk extension"),
                _ => {}
            },
            State::SizeLf => {
                if b != b'\n' {
                    return Err("chunk size line must end in CRLF");
                }
                self.line = 0;
                if self.size == 0 {
                    self.state = State::TrailerStart;
                } else {
                    self.remaining = self.size;
                    self.size = 0;
                    self.digits = 0;
                    self.state = State::Data;
                }
            }
            State::DataCr => {
                if b != b'\r' {
                    return Err("chunk data must end in CRLF");
                }
                self.state = State::DataLf;
            }
            State::DataLf => {
                if b != b'\n' {
                    return Err("chunk data must end in CRLF");
                }
                self.state = State::Size;
            }
            State::TrailerStart | State::Trailer | State::TrailerLf | State::EndLf => {
                self.trailer += 1;
                if self.trailer > self.max_trailer {
                    return Err("trailer section too large");
                }
                self.state = match (self.state, b) {
                    (State::TrailerStart, b'\r') => State::EndLf,
                    (State::EndLf, b'\n') => State::Done,
                    (State::Trailer, b'\r') => State::TrailerLf,
                    (State::TrailerLf, b'\n') => State::TrailerStart,
                    (State::TrailerStart | State::Trailer, b) if b != b'\n' && b != 0 => {
                        State::Trailer
                    }
                    _ => return Err("malformed trailer section"),
                };
            }
            State::Data | State::Done => unreachable!("handled by decode"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed `step` bytes at a time into `out_step`-sized outputs.
    fn decode_all(input: &[u8], step: usize, out_step: usize) -> Result<(Vec<u8>, usize), Error> {
        let mut d = Decoder::new(1024);
        let mut data = Vec::new();
        let mut at = 0;
        let mut avail = 0;
        while !d.is_done() {
            if at == avail {
                if avail == input.len() {
                    return Err("truncated");
                }
                avail = (avail + step).min(input.len());
            }
            let mut out = vec![0; out_step];
            let (c, o) = d.decode(&input[at..avail], &mut out)?;
            at += c;
            data.extend_from_slice(&out[..o]);
        }
        Ok((data, at))
    }

    #[test]
    fn decodes_in_any_split() {
        let body = b"5\r\nhello\r\n7;ext=1;x=\"y\"\r\n, world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 100] {
            for out in [1, 4, 64] {
                let (data, used) = decode_all(body, step, out).unwrap();
                assert_eq!(data, b"hello, world");
                assert_eq!(&body[used..], b"NEXT");
            }
        }
    }

    #[test]
    fn rejects_bad_input() {
        let bad: [&[u8]; 8] = [
            b"g\r\n",
            b"\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n",
            b"11111111111111111\r\n",
            b"0\r\nbad\nline\r\n\r\n",
            b"5;ext\n",
            b"-1\r\n",
        ];
        for b in bad {
            assert!(
                decode_all(b, 100, 64).is_err(),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        // The largest 16-digit size is accepted as a size.
        let mut d = Decoder::new(10);
        let mut out = [0u8; 4];
        d.decode(b"fffffffffffffff\r\n", &mut out).unwrap();
        assert_eq!(d.remaining, 0xfff_ffff_ffff_ffff);
        // Long extensions and trailers are bounded.
        let long_ext = [b"1;".as_slice(), &[b'a'; 5000]].concat();
        assert_eq!(
            decode_all(&long_ext, 100, 64),
            Err("chunk size line too long")
        );
        let long_trailer = [b"0\r\nX: ".as_slice(), &[b'a'; 2000], b"\r\n\r\n"].concat();
        assert_eq!(
            decode_all(&long_trailer, 100, 64),
            Err("trailer section too large")
        );
    }
}
