//! The `chunked` target: the chunked decoder (`h1::chunked::Decoder`) the server's
//! request bodies and the client's response bodies go through, fed in random splits.
//!
//! Properties:
//! - every split of the input into reads, and every size of output buffer, gives the
//!   same data, the same end (bytes consumed) and the same error as one read;
//! - a call never consumes more than it was given, never writes more than its output
//!   holds, and never yields more data bytes than it consumed;
//! - the data equals what a separate reference decoder (RFC 9112 §7.1, written plainly
//!   below) finds, and on a framing error the decoder has yielded exactly the data
//!   before the error, never a byte past it.
//!
//! Input: one byte choosing the trailer limit, then the body bytes.

use super::grammar::{self, Line, Section};
use super::Splits;
use gmp_http::__fuzz::{ChunkedDecoder, MAX_FIELDS};

/// Longest chunk-size line gmp accepts, CRLF included.
const MAX_SIZE_LINE: usize = 4096;

/// The reference's reading of a chunked body.
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// The body ended `used` bytes in (the next message starts there).
    Done { data: Vec<u8>, used: usize },
    /// The input ended first, and what came so far is fine.
    Partial { data: Vec<u8> },
    /// Malformed: the data before the error.
    Bad { data: Vec<u8> },
}

/// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1.1): hex digits (no overflow), then
/// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`. `None` if not
/// well-formed.
fn size_line(l: &[u8]) -> Option<u64> {
    let digits = l.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let size = l[..digits].iter().try_fold(0u64, |n, &d| {
        let d = (d as char).to_digit(16)? as u64;
        n.checked_mul(16)?.checked_add(d)
    })?;
    let mut rest = &l[digits..];
    let ws = |r: &mut &[u8]| {
        while let [b' ' | b'\t', t @ ..] = r {
            *r = t;
        }
    };
    while !rest.is_empty() {
        ws(&mut rest);
        rest = rest.strip_prefix(b";")?;
        ws(&mut rest);
        let n = rest.iter().take_while(|&&b| grammar::is_tchar(b)).count();
        if n == 0 {
            return None;
        }
        rest = &rest[n..];
        let mut after = rest;
        ws(&mut after);
        if let Some(v) = after.strip_prefix(b"=") {
            let mut v = v;
            ws(&mut v);
            if let Some(q) = v.strip_prefix(b"\"") {
                // quoted-string: qdtext or a backslash pair, up to the closing quote.
                let mut i = 0;
                loop {
                    match q.get(i)? {
                        b'"' => break,
                        b'\\' => {
                            let c = *q.get(i + 1)?;
                            if !(c == b'\t' || c >= 0x20 && c != 0x7f) {
                                return None;
                            }
                            i += 2;
                        }
                        &c if c == b'\t'
                            || c == b' '
                            || (0x21..=0x7e).contains(&c)
                            || c >= 0x80 =>
                        {
                            i += 1
                        }
                        _ => return None,
                    }
                }
                rest = &q[i + 1..];
            } else {
                let n = v.iter().take_while(|&&b| grammar::is_tchar(b)).count();
                if n == 0 {
                    return None;
                }
                rest = &v[n..];
            }
        }
        // Whitespace may only lead to another extension.
        let mut peek = rest;
        ws(&mut peek);
        if !peek.is_empty() && peek[0] != b';' {
            return None;
        }
        if peek.is_empty() && !rest.is_empty() {
            return None;
        }
    }
    Some(size)
}

/// Whether `p` (a size line without its CRLF, cut short) can still become a valid
/// one: some completion of it is.
fn size_line_prefix(p: &[u8]) -> bool {
    // Completions to try: the line as it is, or closed by a digit, a name, a value or
    // a quote: enough for every state the grammar can be in.
    let tails: [&[u8]; 7] = [b"", b"0", b"a", b";a", b"\"", b"=a", b"\\a\""];
    tails.iter().any(|t| {
        let line = [p, t].concat();
        size_line(&line).is_some()
    })
}

/// The reference decoder, over the whole input at once.
pub fn reference(input: &[u8], max_trailer: usize) -> Body {
    let mut data = Vec::new();
    let mut at = 0;
    loop {
        // The size line, which must end in CRLF.
        let rest = &input[at..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            // gmp counts the line's bytes as they come, CR included.
            let fine = rest.len() <= MAX_SIZE_LINE
                && match rest.strip_suffix(b"\r") {
                    // The CR ends the line: it must be whole already.
                    Some(l) => !l.contains(&b'\r') && size_line(l).is_some(),
                    None => !rest.contains(&b'\r') && size_line_prefix(rest),
                };
            return if fine {
                Body::Partial { data }
            } else {
                Body::Bad { data }
            };
        };
        let Some(l) = rest[..lf].strip_suffix(b"\r") else {
            return Body::Bad { data };
        };
        if lf + 1 > MAX_SIZE_LINE {
            return Body::Bad { data };
        }
        let Some(size) = size_line(l) else {
            return Body::Bad { data };
        };
        at += lf + 1;
        if size == 0 {
            break;
        }
        // The data, then CRLF.
        let avail = (input.len() - at) as u64;
        if avail < size {
            data.extend_from_slice(&input[at..]);
            return Body::Partial { data };
        }
        let end = at + size as usize;
        data.extend_from_slice(&input[at..end]);
        at = end;
        match &input[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [] | [b'\r'] => return Body::Partial { data },
            _ => return Body::Bad { data },
        }
    }
    // The trailer section: field lines up to an empty line, within the limit.
    let rest = &input[at..];
    // No trailer fields: the empty line alone, whatever the limit (its CR alone so far
    // is the start of it).
    if let Line::Full([], next) = grammar::line(rest, 0) {
        return Body::Done {
            data,
            used: at + next,
        };
    }
    if rest == b"\r" {
        return Body::Partial { data };
    }
    match grammar::section(rest, MAX_FIELDS) {
        Section::Complete(_, n) if n <= max_trailer => Body::Done { data, used: at + n },
        Section::Partial if rest.len() <= max_trailer => Body::Partial { data },
        _ => Body::Bad { data },
    }
}

/// What one way of feeding the decoder gave: the data, and how it ended.
#[derive(Debug)]
struct Run {
    data: Vec<u8>,
    end: Result<Option<usize>, &'static str>,
}

/// Feeds `input` to a decoder the way a connection does: a window of arrived bytes that
/// grows by `splits`, unconsumed bytes kept, outputs of the sizes `splits` gives; and,
/// when `direct`, chunk data copied by the caller as the server's direct reads do.
fn feed(input: &[u8], max_trailer: usize, splits: &mut Option<Splits>, direct: bool) -> Run {
    let mut d = ChunkedDecoder::new(max_trailer);
    let mut data = Vec::new();
    let (mut at, mut avail) = (0usize, 0usize);
    let mut next = |max: usize| splits.as_mut().map_or(max, |s| s.next(max));
    loop {
        if d.is_done() {
            return Run {
                data,
                end: Ok(Some(at)),
            };
        }
        let out_len = next(64);
        if direct && d.in_data() && at < avail {
            let n = (avail - at).min(out_len).min(d.remaining() as usize);
            data.extend_from_slice(&input[at..at + n]);
            at += n;
            d.consumed_data(n);
            continue;
        }
        let mut out = vec![0u8; out_len];
        let window = &input[at..avail];
        match d.decode(window, &mut out) {
            Ok((used, n)) => {
                assert!(used <= window.len() && n <= out.len(), "decode overran");
                assert!(n <= used, "decode yielded {n} bytes out of {used}");
                data.extend_from_slice(&out[..n]);
                at += used;
                if n == 0 && !d.is_done() && (used == 0 || at == avail) {
                    if avail == input.len() {
                        return Run {
                            data,
                            end: Ok(None),
                        };
                    }
                    avail = (avail + next(input.len() - avail)).min(input.len());
                }
            }
            Err(why) => {
                return Run {
                    data,
                    end: Err(why),
                }
            }
        }
    }
}

/// Asserts the properties for one input.
pub fn check(data: &[u8]) {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let max_trailer = [0, 16, 256, 64 << 10][usize::from(sel & 3)];
    let want = reference(input, max_trailer);
    let mut splits = Some(Splits::new(data));
    let runs = [
        ("one read", feed(input, max_trailer, &mut None, false)),
        ("split", feed(input, max_trailer, &mut splits, false)),
        ("split, direct", feed(input, max_trailer, &mut splits, true)),
    ];
    for (how, run) in runs {
        let agrees = match (&run.end, &want) {
            (Ok(Some(used)), Body::Done { data, used: u }) => run.data == *data && used == u,
            (Ok(None), Body::Partial { data }) => run.data == *data,
            // Data before the error may be held back, never made up or taken past it.
            (Err(_), Body::Bad { data }) => data.starts_with(&run.data),
            _ => false,
        };
        assert!(
            agrees,
            "{how}: gmp {:?} after {:?}; the reference: {want:?}; for {:?}",
            run.end,
            String::from_utf8_lossy(&run.data),
            String::from_utf8_lossy(input)
        );
    }
}
