//! The rules of RFC 9112 and RFC 9110 over a request head's fields: Host (exactly one
//! in HTTP/1.1), the body's framing (`Content-Length`, `Transfer-Encoding`, through
//! [`super::framing`]), `Connection` and `Expect`, which together say how long the body
//! is and whether the connection can carry another request.
//!
//! The invariant: the fields are read in their order, so the first one that breaks a
//! rule names the status, whichever parser found them; only the fields marked by
//! [`super::head_scan`] (or every field, from the general parser) are looked at.

use super::fields::{trim, FieldIdx};
use super::framing::{Framing, FramingFields};
use super::head_scan::{special, Section, Special};
use super::{reject, Reject, Version};

/// What the rules make of a head.
pub(crate) struct Outcome {
    pub framing: Framing,
    /// The connection may carry another request after this one.
    pub keep_alive: bool,
    /// `Expect: 100-continue` from an HTTP/1.1 client.
    pub expect_continue: bool,
}

/// The marked fields' rules (`section.special`, offsets in `idx` into the read buffer of
/// which `buf` starts at `base`), then the Host rule (with `section.hosts` Host fields
/// not marked), the framing, and whether the connection stays open.
pub(crate) fn apply(
    buf: &[u8],
    base: usize,
    idx: &[FieldIdx],
    version: Version,
    section: Section,
    max_body_bytes: u64,
) -> Result<Outcome, Reject> {
    let mut rules = Rules {
        hosts: section.hosts,
        ..Rules::default()
    };
    rules.fields(buf, base, idx, section.special, version)?;
    if version == Version::Http11 && rules.hosts != 1 {
        return Err(reject(
            400,
            if rules.hosts == 0 {
                "missing Host header"
            } else {
                "more than one Host header"
            },
        ));
    }
    let te_seen = rules.framing.te_seen;
    let framing = rules.framing.framing()?.unwrap_or(Framing::Length(0));
    if let Framing::Length(n) = framing {
        if n > max_body_bytes {
            return Err(reject(413, "request body too large"));
        }
    }
    let keep_alive = match version {
        Version::Http11 => !rules.close,
        // A 1.0 message with Transfer-Encoding has faulty framing (RFC 9112 §6.1): serve
        // it, then close.
        Version::Http10 => rules.keep_alive_token && !rules.close && !te_seen,
    };
    Ok(Outcome {
        framing,
        keep_alive,
        expect_continue: rules.expect_continue,
    })
}

/// What the fields with a rule said so far.
#[derive(Default)]
struct Rules {
    hosts: u32,
    framing: FramingFields,
    close: bool,
    keep_alive_token: bool,
    expect_continue: bool,
}

impl Rules {
    /// The fields of `idx` whose bits are set in `marked`, in order; those with no rule
    /// are passed over. Both field parsers have already refused NUL, CR, LF and other
    /// controls in values.
    #[inline(always)]
    fn fields(
        &mut self,
        buf: &[u8],
        base: usize,
        idx: &[FieldIdx],
        mut marked: u128,
        version: Version,
    ) -> Result<(), Reject> {
        let bytes = |(off, n): (u32, u32)| &buf[off as usize - base..][..n as usize];
        while marked != 0 {
            let f = idx[marked.trailing_zeros() as usize];
            marked &= marked - 1;
            let value = bytes(f.value);
            match special(bytes(f.name)) {
                None => {}
                Some(Special::Host) => self.hosts += 1,
                Some(Special::ContentLength) => self.framing.content_length(value)?,
                Some(Special::TransferEncoding) => self.framing.transfer_encoding(value)?,
                Some(Special::Connection) => {
                    for item in value.split(|&b| b == b',') {
                        let t = trim(item);
                        self.close |= t.eq_ignore_ascii_case(b"close");
                        self.keep_alive_token |= t.eq_ignore_ascii_case(b"keep-alive");
                    }
                }
                Some(Special::Expect) => {
                    if trim(value).eq_ignore_ascii_case(b"100-continue") {
                        self.expect_continue = version == Version::Http11;
                    } else {
                        return Err(reject(417, "unsupported expectation"));
                    }
                }
            }
        }
        Ok(())
    }
}
