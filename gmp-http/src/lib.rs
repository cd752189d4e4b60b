//! A tiny, correct HTTP/1.1 server on gmp goroutines: Go net/http's model (one goroutine
//! per connection, handlers written as plain blocking code) with a small API.
//!
//! ```no_run
//! let server = gmp_http::Server::bind("127.0.0.1:8080")?;
//! server.serve(|req, res| {
//!     res.header("content-type", "text/plain");
//!     res.body("Hello, World!");
//!     Ok(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! What the server does for you (RFC 9110/9112):
//! - keep-alive (HTTP/1.1 by default, 1.0 on request), pipelining with responses
//!   coalesced into as few writes as possible, `Date` and `Server` headers, HEAD and the
//!   body-less statuses;
//! - request framing checks (Content-Length vs Transfer-Encoding, chunked decoding,
//!   Host, header and body limits, `Expect: 100-continue` answered when the handler first
//!   reads the body), each refused with the right 4xx/5xx and a closed connection;
//! - up to 256 KiB of body left unread by a handler is drained so the connection is
//!   reused;
//! - a handler that panics gets its client a 500 (if nothing was sent) and only its own
//!   connection closed;
//! - header-read and idle timeouts (on by default), write and body-read timeouts, and a
//!   graceful [`ShutdownHandle`].
//!
//! Module map: `server` (accept loop, settings, reaper, shutdown), `conn` (one
//! connection's loop), `head` (parsing and framing rules), `chunked` (the chunked
//! decoder), `request`, `response`, `pool` (per-thread buffer pools), `date`, `status`.

mod chunked;
mod conn;
mod date;
mod head;
#[cfg(feature = "http-types")]
mod interop;
mod pool;
mod request;
mod response;
mod server;
mod status;

pub use bytes::Bytes;
pub use head::Version;
pub use request::{Body, Request};
pub use response::Response;
pub use server::{Handler, Server, ShutdownHandle};
