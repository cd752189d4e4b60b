//! `Router`: Go 1.22 `ServeMux` routing for gmp handlers.
//!
//! Patterns are `[METHOD ][HOST]/PATH` (see `pattern`); the most specific pattern that
//! matches a request wins, and two patterns that match some request in common with
//! neither more specific panic at registration, naming both (Go's rules, in `pattern`).
//! A request is served as `ServeMux` serves it:
//! - a target that is not a path (`*`, or an authority) is 400;
//! - a path that is not clean (`//a`, `/a/../b`, `/a/./b`) is redirected (301) to its
//!   clean form, and `/tree` to `/tree/` when only the subtree pattern `/tree/` matches;
//! - the path is matched segment by segment on percent-decoded segments, so `%2F` inside
//!   a segment never splits it; wildcard values are decoded (`Request::param`);
//! - `GET` patterns also match `HEAD`; a path that only other methods' patterns match is
//!   405 with an `Allow` header; nothing matches: 404.
//!
//! Middleware added with [`Router::with`] runs around all of it, the 404s, 405s and
//! redirects included, outermost first.

mod pattern;
mod tree;

use crate::handler::{Handler, Middleware, Next};
use crate::request::Request;
use crate::response::Response;
use crate::url::clean_path;
// `Pattern` for the fuzz targets (`crate::__fuzz`) too.
pub(crate) use pattern::Pattern;
use std::io;
use std::panic::Location;
use tree::Tree;

struct Route {
    pattern: Pattern,
    handler: Box<dyn Handler>,
}

/// Routes requests to handlers by method, host and path, with Go 1.22 `ServeMux`
/// patterns and rules (see the module's docs).
///
/// ```no_run
/// use gmp_http::{FileServer, Router, Server};
///
/// let mut app = Router::new();
/// app.handle("GET /items/{id}", |req, res| {
///     let id = req.param("id").unwrap_or("");
///     res.body(format!("item {id}"));
///     Ok(())
/// });
/// app.handle("GET /{$}", |_req, res| {
///     res.body("home");
///     Ok(())
/// });
/// app.mount("/static/", FileServer::new("./public").strip_prefix("/static/"));
/// let app = app.with(|req, res, next| {
///     res.header("x-powered-by", "gmp");
///     next.call(req, res)
/// });
/// Server::bind("127.0.0.1:8080")?.serve_handler(app)
/// # ; Ok::<(), std::io::Error>(())
/// ```
pub struct Router {
    tree: Tree,
    routes: Vec<Route>,
    middleware: Vec<Box<Middleware>>,
}

impl Default for Router {
    fn default() -> Router {
        Router::new()
    }
}

impl Router {
    /// A router with no routes: every request is 404.
    pub fn new() -> Router {
        Router {
            tree: Tree::new(),
            routes: Vec::new(),
            middleware: Vec::new(),
        }
    }

    /// Routes requests that match `pattern` to the closure or `fn` `f`.
    ///
    /// # Panics
    /// If the pattern is malformed (the message says what is wrong), or conflicts with a
    /// pattern registered before (the message names both and where each was
    /// registered).
    #[track_caller]
    pub fn handle<F>(&mut self, pattern: &str, f: F) -> &mut Router
    where
        F: Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static,
    {
        self.add(pattern, Box::new(f), Location::caller())
    }

    /// Routes requests that match `pattern` to the handler `h`: a
    /// [`FileServer`](crate::FileServer), another `Router`, a handler wrapped by middleware, or any type implementing
    /// [`Handler`]. (Closures go through [`handle`](Router::handle), whose `Fn` bound is
    /// what lets Rust infer their argument types.)
    ///
    /// # Panics
    /// As [`handle`](Router::handle).
    #[track_caller]
    pub fn mount<H: Handler>(&mut self, pattern: &str, h: H) -> &mut Router {
        self.add(pattern, Box::new(h), Location::caller())
    }

    fn add(
        &mut self,
        text: &str,
        handler: Box<dyn Handler>,
        loc: &'static Location<'static>,
    ) -> &mut Router {
        let pattern = match Pattern::parse(text, loc) {
            Ok(p) => p,
            Err(e) => panic!("gmp-http: bad pattern {text:?} (at {loc}): {e}"),
        };
        if let Some(other) = self
            .routes
            .iter()
            .map(|r| &r.pattern)
            .find(|o| pattern.conflicts_with(o))
        {
            let both = pattern.common_path(other);
            let method = pattern
                .method
                .as_deref()
                .or(other.method.as_deref())
                .unwrap_or("GET");
            panic!(
                "gmp-http: pattern {text:?} (at {loc}) conflicts with pattern {:?} (at {}): \
                 both match some requests, such as {method} {both}, and neither is more specific",
                &*other.text, other.loc
            );
        }
        let route = self.routes.len() as u32;
        self.tree.insert(&pattern, route);
        self.routes.push(Route { pattern, handler });
        self
    }

    /// Adds middleware around everything this router does (routes, 404s, 405s and
    /// redirects): `m(req, res, next)` runs for each request, and `next.call(req, res)`
    /// runs the rest. Middleware added first runs outermost.
    pub fn with<M>(mut self, m: M) -> Router
    where
        M: Fn(&mut Request<'_>, &mut Response<'_>, Next<'_>) -> io::Result<()>
            + Send
            + Sync
            + 'static,
    {
        self.middleware.push(Box::new(m));
        self
    }

    /// The registered patterns, in registration order, in canonical form.
    pub fn patterns(&self) -> impl Iterator<Item = String> + '_ {
        self.routes.iter().map(|r| r.pattern.to_string())
    }

    /// The lookup alone, as routing does it for a request (path cleaning checked, host
    /// ignored, wildcard ranges into `caps`): the index of the route, in registration
    /// order. For `benches/router.rs`, which compares it with matchit's; not an API.
    #[doc(hidden)]
    pub fn __lookup(&self, method: &str, path: &str, caps: &mut Vec<(u32, u32)>) -> Option<usize> {
        let clean = clean_path(path);
        caps.clear();
        self.tree.find("", method, &clean, caps).map(|r| r as usize)
    }

    /// The methods a 405 for `path` would list (hosts aside), for the fuzz targets.
    pub(crate) fn allowed_methods(&self, path: &str) -> Vec<String> {
        self.tree
            .allowed("", path)
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// Routing itself, at the end of the middleware chain.
    pub(crate) fn dispatch(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        let mut caps = req.take_captures();
        caps.clear();
        let (found, redirect_to) = {
            let path = req.path();
            if !path.starts_with('/') {
                req.put_captures(caps);
                res.status(400)
                    .header("content-type", "text/plain; charset=utf-8");
                res.body("request target is not a path\n");
                return Ok(());
            }
            let host = if self.tree.has_hosts() {
                req.header("host").map_or("", strip_port)
            } else {
                ""
            };
            let method = req.method();
            let clean = clean_path(path);
            let found = self.tree.find(host, method, &clean, &mut caps);
            let mut to = None;
            // `/tree` with only `/tree/` registered: redirect to the subtree (Go's rule:
            // only when the slash form matches exactly, not through a wider pattern).
            if !clean.ends_with('/') && !found.is_some_and(|r| self.is_exact(r, &clean)) {
                let slashed = format!("{clean}/");
                let mut c2 = Vec::new();
                if let Some(r) = self.tree.find(host, method, &slashed, &mut c2) {
                    if self.is_exact(r, &slashed) {
                        to = Some(slashed);
                    }
                }
            }
            if to.is_none() && clean != path {
                to = Some(clean.into_owned());
            }
            (found, to)
        };
        if let Some(to) = redirect_to {
            req.put_captures(caps);
            return redirect(req, res, &to);
        }
        let Some(route) = found else {
            req.put_captures(caps);
            return self.no_route(req, res);
        };
        let route = &self.routes[route as usize];
        // The captured ranges index the request's path (an unclean one was redirected,
        // so the clean path is the request's own).
        let ok = req.set_params(route.pattern.wildcards(), &caps);
        req.put_captures(caps);
        if !ok {
            res.status(400)
                .header("content-type", "text/plain; charset=utf-8");
            res.body("a path segment is not UTF-8 once percent-decoded\n");
            return Ok(());
        }
        route.handler.call(req, res)
    }

    /// Whether route `r` matches `path` exactly (not through a non-empty multi match):
    /// Go's `exactMatch`.
    fn is_exact(&self, r: u32, path: &str) -> bool {
        let p = &self.routes[r as usize].pattern;
        if !matches!(p.segments.last(), Some(pattern::Segment::Multi(_))) {
            return true;
        }
        if !path.ends_with('/') {
            return false;
        }
        p.segments.len() == path.bytes().filter(|&b| b == b'/').count()
    }

    /// 405 with `Allow` when other methods match the path, else 404.
    #[cold]
    fn no_route(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        let host = if self.tree.has_hosts() {
            req.header("host").map_or("", strip_port)
        } else {
            ""
        };
        let allowed = self.tree.allowed(host, req.path());
        res.header("content-type", "text/plain; charset=utf-8");
        res.header("x-content-type-options", "nosniff");
        if allowed.is_empty() {
            res.status(404).body("404 page not found\n");
        } else {
            res.status(405).header("allow", &allowed.join(", "));
            res.body("Method Not Allowed\n");
        }
        Ok(())
    }
}

/// 301 to `path` with the request's query.
#[cold]
fn redirect(req: &mut Request<'_>, res: &mut Response<'_>, path: &str) -> io::Result<()> {
    let to = match req.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    res.status(301);
    res.try_header("location", &to)?;
    res.header("content-type", "text/plain; charset=utf-8");
    res.body(format!("Moved Permanently: {to}\n"));
    Ok(())
}

/// The host without its port: `example.com:8080` → `example.com`, `[::1]:80` → `::1`.
fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rfind(':') {
        Some(i) if !h[..i].contains(':') => &h[..i],
        _ => h,
    }
}

impl Handler for Router {
    fn call(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        if self.middleware.is_empty() {
            return self.dispatch(req, res);
        }
        Next::new(&self.middleware, &|req, res| self.dispatch(req, res)).call(req, res)
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("patterns", &self.patterns().collect::<Vec<_>>())
            .field("middleware", &self.middleware.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::strip_port;

    #[test]
    fn hosts_without_ports() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("[::1]"), "::1");
    }
}
