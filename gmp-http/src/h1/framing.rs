//! Message framing from the header fields (RFC 9112 §6): `Content-Length` and
//! `Transfer-Encoding` read the same way for requests and responses, so a message that
//! the server would refuse is refused by the client too (neither side can be smuggled
//! to).

use super::fields::{is_tchar, trim};
use super::{reject, Reject};

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length: n` (for a request, 0 when it has neither header).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What the framing fields of one message said so far.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FramingFields {
    pub length: Option<u64>,
    /// A `Transfer-Encoding` field was present.
    pub te_seen: bool,
    /// Its final coding is `chunked`.
    pub te_chunked: bool,
}

impl FramingFields {
    /// One `Content-Length` field: a list of identical `1*DIGIT`s (RFC 9110 §8.6), the
    /// same as any earlier one.
    pub(crate) fn content_length(&mut self, value: &[u8]) -> Result<(), Reject> {
        for item in value.split(|&b| b == b',') {
            let n = parse_length(trim(item))?;
            if self.length.is_some_and(|l| l != n) {
                return Err(reject(400, "conflicting Content-Length values"));
            }
            self.length = Some(n);
        }
        Ok(())
    }

    /// One `Transfer-Encoding` field: `chunked` must be the final coding, and it is the
    /// only one gmp decodes (another well-formed coding is 501, RFC 9112 §6.1).
    pub(crate) fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), Reject> {
        self.te_seen = true;
        for item in value.split(|&b| b == b',') {
            let coding = trim(item);
            if coding.is_empty() {
                continue; // empty list elements are allowed (RFC 9110 §5.6.1)
            }
            if self.te_chunked {
                // Anything after `chunked` (another coding, or chunked twice).
                return Err(reject(400, "chunked must be the final transfer coding"));
            }
            if coding.eq_ignore_ascii_case(b"chunked") {
                self.te_chunked = true;
            } else if is_coding(coding) {
                return Err(reject(501, "unsupported transfer coding"));
            } else {
                return Err(reject(400, "malformed Transfer-Encoding"));
            }
        }
        Ok(())
    }

    /// The framing these fields give, or `None` for neither field (what that means is
    /// the caller's: length 0 for a request, read-to-close for a response).
    pub(crate) fn framing(&self) -> Result<Option<Framing>, Reject> {
        match (self.te_seen, self.length) {
            (true, Some(_)) => Err(reject(
                400,
                "both Content-Length and Transfer-Encoding are present",
            )),
            (true, None) if !self.te_chunked => Err(reject(400, "empty Transfer-Encoding")),
            (true, None) => Ok(Some(Framing::Chunked)),
            (false, Some(n)) => Ok(Some(Framing::Length(n))),
            (false, None) => Ok(None),
        }
    }
}

/// `1*DIGIT`, without overflow.
fn parse_length(v: &[u8]) -> Result<u64, Reject> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(reject(400, "invalid Content-Length"));
    }
    v.iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(reject(400, "Content-Length out of range"))
}

/// A transfer coding name, possibly with parameters (`gzip`, `foo;q=1`): well-formed
/// but not one we decode.
fn is_coding(v: &[u8]) -> bool {
    let name = v.split(|&b| b == b';').next().unwrap_or(v);
    let name = trim(name);
    !name.is_empty() && name.iter().all(|&b| is_tchar(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(cl: &[&[u8]], te: &[&[u8]]) -> Result<Option<Framing>, u16> {
        let mut f = FramingFields::default();
        for v in cl {
            f.content_length(v).map_err(|r| r.status)?;
        }
        for v in te {
            f.transfer_encoding(v).map_err(|r| r.status)?;
        }
        f.framing().map_err(|r| r.status)
    }

    #[test]
    fn lengths_and_codings() {
        assert_eq!(fields(&[b"5"], &[]), Ok(Some(Framing::Length(5))));
        assert_eq!(fields(&[b"5, 5", b"5"], &[]), Ok(Some(Framing::Length(5))));
        assert_eq!(fields(&[b"5", b"6"], &[]), Err(400));
        for bad in [
            &b""[..],
            b"+5",
            b"-5",
            b"0x5",
            b"5 5",
            b"99999999999999999999",
        ] {
            assert_eq!(fields(&[bad], &[]), Err(400), "{bad:?}");
        }
        assert_eq!(fields(&[], &[b"chunked"]), Ok(Some(Framing::Chunked)));
        assert_eq!(fields(&[], &[b" , CHUNKED ,"]), Ok(Some(Framing::Chunked)));
        assert_eq!(fields(&[], &[b"gzip", b"chunked"]), Err(501));
        assert_eq!(fields(&[], &[b"chunked, gzip"]), Err(400));
        assert_eq!(fields(&[], &[b"chunked", b"chunked"]), Err(400));
        assert_eq!(fields(&[], &[b"chu nked"]), Err(400));
        assert_eq!(fields(&[], &[b""]), Err(400));
        assert_eq!(fields(&[b"5"], &[b"chunked"]), Err(400));
        assert_eq!(fields(&[], &[]), Ok(None));
    }
}
