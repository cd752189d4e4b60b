//! The reference grammar: RFC 9110 / 9112 written out plainly, byte by byte, with no
//! speed tricks and no code shared with gmp, so that a disagreement with gmp's parsers
//! is a finding in one or the other.
//!
//! Incomplete input is judged as a prefix: [`Section::Partial`] means the bytes so far
//! can still become a valid section, so a server must wait for more rather than refuse.

/// `tchar` (RFC 9110 §5.6.2).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte a field value may hold (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text.
pub fn is_value_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// OWS removed from both ends (SP and HTAB only).
pub fn trim(v: &[u8]) -> &[u8] {
    let mut v = v;
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// The comma-separated elements of a list field, each trimmed (empty ones kept).
pub fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(trim)
}

/// One line of `buf` from `at`.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A whole line without its CRLF (or bare LF, RFC 9112 §2.2), and where the next
    /// one starts.
    Full(&'a [u8], usize),
    /// No LF yet: the bytes so far.
    Partial(&'a [u8]),
    /// A CR that is not followed by LF.
    BareCr,
}

/// The line of `buf` that starts at `at`.
pub fn line(buf: &[u8], at: usize) -> Line<'_> {
    let rest = &buf[at..];
    match rest.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let l = &rest[..lf];
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            if l.contains(&b'\r') {
                Line::BareCr
            } else {
                Line::Full(l, at + lf + 1)
            }
        }
        None => {
            // A CR may end the bytes so far (its LF is still to come), nowhere else.
            let body = rest.strip_suffix(b"\r").unwrap_or(rest);
            if body.contains(&b'\r') {
                Line::BareCr
            } else {
                Line::Partial(rest)
            }
        }
    }
}

/// A field line `token ":" OWS value OWS` (no obs-fold, no space before the colon):
/// its name and trimmed value.
pub fn field_line(l: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = l.iter().position(|&b| b == b':')?;
    let (name, value) = (&l[..colon], &l[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    if !value.iter().all(|&b| is_value_byte(b)) {
        return None;
    }
    Some((name, trim(value)))
}

/// Whether `p` (no LF, perhaps ending in CR) can still grow into a field line.
fn field_line_prefix(p: &[u8]) -> bool {
    if let Some(l) = p.strip_suffix(b"\r") {
        // Only LF may follow the CR: the line is whole already.
        return field_line(l).is_some();
    }
    let name_end = p.iter().position(|&b| !is_tchar(b)).unwrap_or(p.len());
    if name_end == p.len() {
        return true;
    }
    name_end > 0 && p[name_end] == b':' && p[name_end + 1..].iter().all(|&b| is_value_byte(b))
}

/// What a field section (RFC 9112 §5, ended by an empty line) looks like.
#[derive(Debug, PartialEq, Eq)]
pub enum Section<'a> {
    /// Complete and well-formed: the fields, and the section's length through its empty
    /// line.
    Complete(Vec<(&'a [u8], &'a [u8])>, usize),
    /// Not ended yet, and fine so far.
    Partial,
    /// More than `max_fields` lines.
    TooMany,
    /// More than `max_fields` lines, and a line past the limit is not a field line
    /// either: a parser may name either fault first (httparse checks each line before
    /// it counts it; the reference stops counting at the limit).
    TooManyAndMalformed,
    /// A line that is not a field line, or a bare CR.
    Malformed,
}

/// The field section at the start of `buf`, allowing at most `max_fields` fields.
pub fn section(buf: &[u8], max_fields: usize) -> Section<'_> {
    let mut fields = Vec::new();
    let mut at = 0;
    loop {
        match line(buf, at) {
            Line::BareCr => return Section::Malformed,
            Line::Full([], next) => return Section::Complete(fields, next),
            Line::Full(l, next) => {
                if fields.len() == max_fields {
                    return past_limit(buf, at);
                }
                match field_line(l) {
                    Some(f) => fields.push(f),
                    None => return Section::Malformed,
                }
                at = next;
            }
            Line::Partial(p) => {
                if p.is_empty() || p == b"\r" {
                    return Section::Partial;
                }
                if fields.len() == max_fields {
                    return past_limit(buf, at);
                }
                return if field_line_prefix(p) {
                    Section::Partial
                } else {
                    Section::Malformed
                };
            }
        }
    }
}

/// The lines from `at` on, where the field limit was already reached: `TooMany`, or
/// `TooManyAndMalformed` if one of them (up to the section's end, or what has arrived of
/// it) is not a field line.
fn past_limit(buf: &[u8], mut at: usize) -> Section<'_> {
    loop {
        match line(buf, at) {
            Line::BareCr => return Section::TooManyAndMalformed,
            Line::Full([], _) => return Section::TooMany,
            Line::Full(l, next) => {
                if field_line(l).is_none() {
                    return Section::TooManyAndMalformed;
                }
                at = next;
            }
            Line::Partial(p) => {
                return if p.is_empty() || p == b"\r" || field_line_prefix(p) {
                    Section::TooMany
                } else {
                    Section::TooManyAndMalformed
                };
            }
        }
    }
}

/// `Content-Length` and `Transfer-Encoding` as gmp reads them (RFC 9112 §6): every
/// `Content-Length` element `1*DIGIT` and all equal; `Transfer-Encoding` only `chunked`,
/// once, last; not both.
#[derive(Debug, PartialEq, Eq)]
pub enum Framing {
    /// Neither field.
    None,
    Length(u64),
    Chunked,
    /// Refused, with the statuses a server may answer (400, or 501 for a coding it does
    /// not know).
    Refused(Vec<u16>),
}

/// The framing `fields` give.
pub fn framing(fields: &[(&[u8], &[u8])]) -> Framing {
    let mut length: Option<u64> = None;
    let mut refused: Vec<u16> = Vec::new();
    let mut te: Vec<&[u8]> = Vec::new();
    let mut te_seen = false;
    for (name, value) in fields {
        if name.eq_ignore_ascii_case(b"content-length") {
            for item in list(value) {
                let n = if !item.is_empty() && item.iter().all(u8::is_ascii_digit) {
                    item.iter().try_fold(0u64, |n, &d| {
                        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                    })
                } else {
                    None
                };
                match (n, length) {
                    (None, _) => refused.push(400),
                    (Some(n), Some(l)) if n != l => refused.push(400),
                    (Some(n), _) => length = Some(n),
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te_seen = true;
            te.extend(list(value).filter(|c| !c.is_empty()));
        }
    }
    if te_seen {
        let chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        if te.len() != 1 || !chunked(te[0]) {
            refused.push(400);
            // A well-formed coding gmp does not decode (before any chunked) is 501.
            let first_unknown = te.iter().take_while(|c| !chunked(c)).next();
            if first_unknown.is_some_and(|c| {
                let name = trim(c.split(|&b| b == b';').next().unwrap_or(c));
                !name.is_empty() && name.iter().all(|&b| is_tchar(b))
            }) {
                refused.push(501);
            }
        }
        if length.is_some() {
            refused.push(400);
        }
    }
    if !refused.is_empty() {
        return Framing::Refused(refused);
    }
    match (te_seen, length) {
        (true, _) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::None,
    }
}

/// Whether some `name` field lists `token` (case-insensitively).
pub fn has_token(fields: &[(&[u8], &[u8])], name: &[u8], token: &[u8]) -> bool {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .any(|(_, v)| list(v).any(|t| t.eq_ignore_ascii_case(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections() {
        assert_eq!(
            section(b"A: 1\r\nB:2 \n\r\nX", 10),
            Section::Complete(vec![(&b"A"[..], &b"1"[..]), (b"B", b"2")], 13)
        );
        assert_eq!(section(b"A: 1\r\nB", 10), Section::Partial);
        assert_eq!(section(b"A : 1\r\n", 10), Section::Malformed);
        assert_eq!(section(b" A: 1\r\n", 10), Section::Malformed);
        assert_eq!(section(b"A: 1\r\nB: 2\r\n", 1), Section::TooMany);
        assert_eq!(
            section(b"A: 1\r\nB: 2\r\nC\r\n", 1),
            Section::TooManyAndMalformed
        );
        assert_eq!(
            section(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 1),
            Section::TooMany
        );
        assert_eq!(
            section(b"A: 1\r\nB: 2\r\n\rx", 1),
            Section::TooManyAndMalformed
        );
        assert_eq!(framing(&[(b"content-length", b"5, 5")]), Framing::Length(5));
        assert_eq!(
            framing(&[(b"transfer-encoding", b"chunked")]),
            Framing::Chunked
        );
        assert_eq!(
            framing(&[(b"transfer-encoding", b"gzip, chunked")]),
            Framing::Refused(vec![400, 501])
        );
    }
}
