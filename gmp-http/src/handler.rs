//! `Handler`: what the server calls for each request, and middleware around it (`Next`,
//! `With`).
//!
//! A handler is anything with `call(&self, req, res)`: closures and `fn`s through the
//! blanket impl, and the handler types gmp-http ships (`Router`, `FileServer`, a handler
//! wrapped by middleware). Rust infers a closure's argument types only from an `Fn`
//! bound, not from a trait that closures implement, so the methods that take closures
//! (`Server::serve`, `Router::handle`, `Handler::with`) keep an `Fn` bound, and handler
//! values go through `Server::serve_handler` and `Router::mount`.

use crate::request::Request;
use crate::response::Response;
use std::io;

/// What the server calls for each request: read the request, write the response.
/// Returning an error closes the connection (with a 500, or the 4xx a broken body
/// calls for, if nothing was sent yet).
///
/// Closures and `fn`s with the signature of [`call`](Handler::call) are handlers:
///
/// ```no_run
/// use gmp_http::{Handler, Request, Response};
/// use std::io;
///
/// fn hello(_req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
///     res.body("hello");
///     Ok(())
/// }
///
/// struct Counter(std::sync::atomic::AtomicU64);
///
/// impl Handler for Counter {
///     fn call(&self, _req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
///         let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         res.body(n.to_string());
///         Ok(())
///     }
/// }
///
/// let mut app = gmp_http::Router::new();
/// app.handle("GET /hello", hello);
/// app.mount("GET /count", Counter(0.into()));
/// gmp_http::Server::bind("127.0.0.1:8080")?.serve_handler(app)
/// # ; Ok::<(), io::Error>(())
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Serves one request.
    fn call(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()>;

    /// This handler wrapped by middleware `m`, which gets each request with a [`Next`]
    /// that runs this handler.
    ///
    /// ```no_run
    /// use gmp_http::Handler;
    /// let hello = |_: &mut gmp_http::Request<'_>, res: &mut gmp_http::Response<'_>| {
    ///     res.body("hello");
    ///     Ok(())
    /// };
    /// let app = hello.with(|req, res, next| {
    ///     res.header("x-served-by", "gmp");
    ///     next.call(req, res)
    /// });
    /// gmp_http::Server::bind("127.0.0.1:8080")?.serve_handler(app)
    /// # ; Ok::<(), std::io::Error>(())
    /// ```
    fn with<M>(self, m: M) -> With<Self, M>
    where
        Self: Sized,
        M: Fn(&mut Request<'_>, &mut Response<'_>, Next<'_>) -> io::Result<()>
            + Send
            + Sync
            + 'static,
    {
        With { inner: self, m }
    }
}

impl<F> Handler for F
where
    F: Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static,
{
    #[inline]
    fn call(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        self(req, res)
    }
}

/// A middleware function as the router keeps it.
pub(crate) type Middleware =
    dyn Fn(&mut Request<'_>, &mut Response<'_>, Next<'_>) -> io::Result<()> + Send + Sync;

/// What a chain of middleware ends in: a handler's `call`, or a router's routing.
pub(crate) type End<'a> = dyn Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + 'a;

/// The rest of the chain, for middleware: [`call`](Next::call) runs it (the next
/// middleware, or the handler).
pub struct Next<'a> {
    rest: &'a [Box<Middleware>],
    end: &'a End<'a>,
}

impl<'a> Next<'a> {
    /// A chain of `rest` (outermost first), then `end`.
    pub(crate) fn new(rest: &'a [Box<Middleware>], end: &'a End<'a>) -> Next<'a> {
        Next { rest, end }
    }

    /// Runs the rest of the chain on this request.
    pub fn call(self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        match self.rest.split_first() {
            Some((m, rest)) => m(req, res, Next::new(rest, self.end)),
            None => (self.end)(req, res),
        }
    }
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("middleware_left", &self.rest.len())
            .finish_non_exhaustive()
    }
}

/// A handler wrapped by middleware: see [`Handler::with`].
pub struct With<H, M> {
    inner: H,
    m: M,
}

impl<H, M> Handler for With<H, M>
where
    H: Handler,
    M: Fn(&mut Request<'_>, &mut Response<'_>, Next<'_>) -> io::Result<()> + Send + Sync + 'static,
{
    fn call(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        (self.m)(
            req,
            res,
            Next::new(&[], &|req, res| self.inner.call(req, res)),
        )
    }
}

impl<H, M> std::fmt::Debug for With<H, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("With").finish_non_exhaustive()
    }
}
