//! The HTTP/1 wire format, shared by the server and the client: the field-line grammar
//! ([`fields`]), message framing ([`framing`], [`chunked`]), request heads
//! ([`request_head`], their common case scanned by [`head_scan`], their rules in
//! [`request_rules`]), status lines and reason phrases ([`status`]), the `Date` header
//! ([`date`]) and the writer heads are appended with ([`spare`]).
//!
//! Nothing here knows about sockets, goroutines or handlers: every function takes bytes
//! and returns bytes, offsets or a refusal. The server (`crate::server`), the request and
//! response types and the client build on it; no module here imports one of them.

mod byte_classes;
pub(crate) mod chunked;
pub(crate) mod date;
pub(crate) mod fields;
pub(crate) mod framing;
pub(crate) mod head_scan;
pub(crate) mod request_head;
mod request_rules;
pub(crate) mod response_head;
pub(crate) mod spare;
pub(crate) mod status;

/// The HTTP version of a message.
///
/// ```
/// assert_eq!(gmp_http::Version::Http11.to_string(), "HTTP/1.1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// A message refused on the wire: the status a server answers with and why (the body of
/// its error response, or the message of the client's `io::Error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reject {
    pub status: u16,
    pub why: &'static str,
}

pub(crate) const fn reject(status: u16, why: &'static str) -> Reject {
    Reject { status, why }
}
