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
//! Module map (each arrow points one way: `h1` imports nothing above it, and no module
//! imports one that imports it back):
//!
//! | module | owns |
//! |---|---|
//! | `h1` | the HTTP/1 wire format shared by server and client: the field-line grammar, framing (`Content-Length`, `Transfer-Encoding`, chunked), request heads, status lines, `Date` |
//! | `request`, `response` | the handler's view of one exchange: `Request` (the head in place, the body as a reader), `Response` (serialised into the connection's write buffer) |
//! | `handler` | the `Handler` trait that `serve` calls |
//! | `fs` | `FileServer`: static files under a root (path safety, conditionals, ranges, streaming) |
//! | `server` | the accept loop, settings, reaper and shutdown (`server`), one connection's loop (`server::conn`), the shared registry (`server::registry`), responses by status class and open connections (`server::counters`), per-thread buffer pools (`server::pool`), SIGINT/SIGTERM shutdown (`server::signals`) |
//! | `client` | the HTTP/1.1 client: `Client`, its connection pool, redirects and retries (on `h1`'s response heads and chunked decoder) |
//! | `transport` | what a server connection reads and writes: TCP, or TLS over it (feature `tls`) |
//! | `debug` | the runtime's debug endpoint: goroutine dumps, Prometheus metrics, the schedtrace line (`debug::handler`) |
//! | `ws` | WebSockets over `Response::upgrade` and the client's sockets, with tungstenite (feature `websocket`) |
//! | `interop` | conversions to and from the `http` crate's types (feature `http-types`) |

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod client;
pub mod debug;
mod fs;
mod h1;
mod handler;
#[cfg(feature = "http-types")]
mod interop;
#[cfg(feature = "json")]
mod json;
mod middleware;
mod request;
mod response;
mod router;
mod server;
mod transport;
mod url;
#[cfg(feature = "websocket")]
pub mod ws;

/// The crate-private parsers, for the fuzz targets in `fuzz/` and the test that replays
/// their corpus. Not part of the API: hidden, unstable, not for use outside this
/// repository.
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

pub use bytes::Bytes;
pub use client::{Client, ClientBuilder};
pub use fs::FileServer;
pub use h1::Version;
pub use handler::{Handler, Next, With};
pub use middleware::{log_requests, timeout, Timeout};
pub use request::{Body, BodyError, Request};
pub use response::Response;
pub use router::Router;
pub use server::{stats, Server, ShutdownHandle, Stats};
pub use transport::{TlsInfo, Upgraded};
