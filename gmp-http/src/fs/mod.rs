//! `FileServer`: static files from a directory, as Go's `http.FileServer` serves them.
//!
//! Owns the request flow (method, prefix, path, directory rules, conditionals, ranges,
//! streaming); the pieces live in `path` (the URL path to a file that stays under the
//! root — the security invariant is stated there), `precondition` (ETag and the
//! `If-*` headers), `range` (`Range`), `mime` (`Content-Type`) and `listing`.
//!
//! Invariant: file system calls (`canonicalize`, `open`, `fstat`, `pread`, `readdir`)
//! run inside `gmp::blocking`, so a disk that stalls holds a thread, never a P; and a
//! file is streamed through one buffer of at most [`CHUNK`] bytes, however large it is.
//!
//! Why not read the whole file, or `sendfile(2)`: reading whole files makes memory grow
//! with file size times concurrent downloads; `sendfile` would bypass the `Response`
//! (its buffering, its write timeout, its accounting of Content-Length) and would need
//! a socket-side park the server does not expose. Reads through a 64 KiB buffer cost
//! one copy per byte and one `gmp::blocking` per 64 KiB (measured under [`CHUNK`]).

mod listing;
mod mime;
mod path;
mod precondition;
mod range;

use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;
use precondition::{Conditions, Outcome, Validators};
use range::Ranges;
// For the fuzz targets (`crate::__fuzz`).
pub(crate) use path::local;
use std::borrow::Cow;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes read from the file per `pread`, and the most a download holds in memory.
///
/// 64 KiB, each read inside `gmp::blocking`: `cargo bench --bench fs_read` (a cached
/// 1 MiB file, 2 Ps, the other one busy; 4 runs on a shared 2-core machine) measured
/// `gmp::blocking` around nothing at 0.21-0.45 µs, a 64 KiB `pread` at 5.1-6.3 µs plain
/// and 4.9-6.4 µs wrapped (the difference is inside the noise, at most ~0.2 µs or 4 %),
/// and a 4 KiB `pread` at 0.76-1.09 µs plain and 1.0-1.4 µs wrapped (up to 45 % more).
/// So the wrapper is worth its price at 64 KiB and not at 4 KiB; larger chunks gain
/// little and cost memory per download.
const CHUNK: usize = 64 << 10;

/// Serves files from a directory: a [`Handler`] for `GET` and `HEAD`.
///
/// ```no_run
/// use gmp_http::{FileServer, Router, Server};
///
/// let mut app = Router::new();
/// app.handle("GET /{$}", |_req, res| {
///     res.body("home");
///     Ok(())
/// });
/// // /static/app.css is ./public/app.css
/// app.mount("/static/", FileServer::new("./public").strip_prefix("/static/"));
/// Server::bind("127.0.0.1:8080")?.serve_handler(app)
/// # ; Ok::<(), std::io::Error>(())
/// ```
///
/// What it does, for each request:
/// - `GET` and `HEAD` only; any other method gets 405 with `Allow: GET, HEAD`.
/// - The path (after [`strip_prefix`](FileServer::strip_prefix)) names a file under the
///   root. Each segment is percent-decoded; a segment that decodes to `.` or `..`, or
///   holds `/` (`%2F`), `\` or NUL, is refused with 400. Symlinks are followed only
///   while they stay inside the root: one whose target lies outside (its canonical
///   path is not under the root's) is a 404. Files whose names start with a dot are
///   served like any other, as Go does: keep secrets out of the root.
/// - A file: `Content-Type` from its extension (a built-in table of the common web
///   types; `application/octet-stream` otherwise), `Content-Length`, `Last-Modified`,
///   a strong `ETag` from its size and modification time, `Accept-Ranges: bytes`.
///   `If-None-Match` (which takes precedence) and `If-Modified-Since` give 304 when the
///   client's copy is current; `If-Match` and `If-Unmodified-Since` give 412 when
///   false (RFC 9110 §13.2.2). One `Range: bytes=` range gives 206 with
///   `Content-Range` (subject to `If-Range`); a range that starts past the end gives
///   416 with `Content-Range: bytes */size`. Several ranges are answered with the
///   whole file and 200, unless they merge into one range (no `multipart/byteranges`).
///   A `Range` in another unit or with invalid syntax is ignored.
/// - A directory: its path must end in `/`, else a 301 to the slash form (relative,
///   so it works under any prefix). It serves its `index.html` (unless
///   [`index(false)`](FileServer::index)); without one, 404, or a listing with
///   [`list_directories(true)`](FileServer::list_directories). A path ending in
///   `/index.html` is redirected to `./`, and a file's path with a trailing slash to the
///   path without, as Go does.
/// - Missing files are 404, unreadable ones 403, other errors 500 (logged).
///
/// Files are streamed in 64 KiB reads, each inside [`gmp_core::blocking`], so a large
/// download holds 64 KiB of memory and a slow disk never holds up other goroutines.
#[derive(Clone, Debug)]
pub struct FileServer {
    root: PathBuf,
    prefix: Option<String>,
    index: bool,
    list: bool,
}

impl FileServer {
    /// Serves the files under `root` (a directory; relative to the working directory
    /// if relative). The root is resolved on each request, so it may be created or
    /// replaced while the server runs; while it does not exist, requests get 500 and
    /// a warning is logged (a misconfigured server, not a missing page).
    pub fn new(root: impl Into<PathBuf>) -> FileServer {
        FileServer {
            root: root.into(),
            prefix: None,
            index: true,
            list: false,
        }
    }

    /// Strips `prefix` from the request path before looking the file up, as Go's
    /// `http.StripPrefix`: with `strip_prefix("/static/")`, `/static/app.css` is
    /// `app.css` under the root. The prefix is compared with the path as sent (before
    /// percent-decoding); a request whose path does not start with it gets 404.
    ///
    /// # Panics
    /// If `prefix` does not start with `/` (no request path could match it).
    pub fn strip_prefix(mut self, prefix: &str) -> FileServer {
        assert!(
            prefix.starts_with('/'),
            "gmp-http: FileServer::strip_prefix({prefix:?}): a prefix starts with '/'"
        );
        self.prefix = Some(prefix.to_string());
        self
    }

    /// Whether a directory serves its `index.html` (default `true`). When off,
    /// `index.html` is a file like any other (no redirect of `/index.html` to `./`).
    pub fn index(mut self, on: bool) -> FileServer {
        self.index = on;
        self
    }

    /// Whether a directory without `index.html` gets a listing of its entries (an HTML
    /// page of links) instead of 404. Default `false`.
    pub fn list_directories(mut self, on: bool) -> FileServer {
        self.list = on;
        self
    }

    fn serve(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        let head = match req.method() {
            "GET" => false,
            "HEAD" => true,
            _ => {
                res.header("allow", "GET, HEAD");
                return error(res, 405, "405 method not allowed");
            }
        };
        let full = req.path();
        if !full.starts_with('/') {
            return error(res, 400, "400 request target is not a path");
        }
        let rest = match &self.prefix {
            Some(p) => match full.strip_prefix(p.as_str()) {
                Some(rest) => rest,
                None => return error(res, 404, NOT_FOUND),
            },
            None => full,
        };
        // Go's rule: `.../index.html` is served as its directory, at `./`.
        if self.index && full.ends_with("/index.html") {
            return redirect(req, res, "./");
        }
        let local = match path::local(rest) {
            Ok(l) => l,
            Err(why) => {
                tracing::debug!("gmp-http: FileServer refused path {full:?}: {why}");
                return error(res, 400, &format!("400 invalid path: {why}"));
            }
        };
        let opened = match gmp_core::blocking(|| path::open_under(&self.root, &local.rel)) {
            Ok(o) => o,
            Err(e) => return io_error(res, full, e),
        };
        let base = full.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if !opened.meta.is_dir() {
            if local.slash {
                // `/a.txt/` → `../a.txt`. A root that is itself a file has no name to
                // go back to.
                if base.is_empty() {
                    return error(res, 404, NOT_FOUND);
                }
                return redirect(req, res, &relative(&format!("../{base}")));
            }
            let name = local.rel.file_name().map(Path::new).unwrap_or(&opened.path);
            return send_file(req, res, opened.file, &opened.meta, name, head);
        }
        if !local.slash {
            return redirect(req, res, &relative(&format!("{base}/")));
        }
        drop(opened.file);
        if self.index {
            let index = local.rel.join("index.html");
            if let Ok(ix) = gmp_core::blocking(|| path::open_under(&self.root, &index)) {
                if ix.meta.is_file() {
                    return send_file(req, res, ix.file, &ix.meta, &index, head);
                }
            }
        }
        if !self.list {
            return error(res, 404, NOT_FOUND);
        }
        match gmp_core::blocking(|| listing::render(&opened.path)) {
            Ok(html) => {
                res.header("content-type", "text/html; charset=utf-8");
                res.body(html);
                Ok(())
            }
            Err(e) => io_error(res, full, e),
        }
    }
}

impl Handler for FileServer {
    fn call(&self, req: &mut Request<'_>, res: &mut Response<'_>) -> io::Result<()> {
        self.serve(req, res)
    }
}

const NOT_FOUND: &str = "404 page not found";

/// Answers a file: conditionals, range, headers, then the bytes.
fn send_file(
    req: &Request<'_>,
    res: &mut Response<'_>,
    file: std::fs::File,
    meta: &std::fs::Metadata,
    name: &Path,
    head: bool,
) -> io::Result<()> {
    let size = meta.len();
    let v = Validators::new(size, meta.modified().ok());
    let last_modified = v.modified.map(crate::h1::date::format);
    let last_modified = last_modified
        .as_ref()
        .map(|d| std::str::from_utf8(d).expect("IMF-fixdate is ASCII"));
    let outcome = precondition::evaluate(&conditions(req), &v);
    res.header("etag", &v.etag);
    if outcome == Outcome::NotModified {
        // RFC 9110 §15.4.5: the validators a 200 would carry, no content headers (and,
        // as in Go, no Last-Modified next to an ETag).
        res.status(304);
        return Ok(());
    }
    if let Some(lm) = last_modified {
        res.header("last-modified", lm);
    }
    if outcome == Outcome::Failed {
        return error(res, 412, "412 precondition failed");
    }
    let ranges = match req.header("range") {
        Some(r) if outcome == (Outcome::Serve { range: true }) => range::parse(r, size),
        _ => Ranges::Whole,
    };
    res.header("accept-ranges", "bytes");
    let (start, len) = match ranges {
        Ranges::Whole => (0, size),
        Ranges::One { start, len } => {
            res.status(206);
            let end = start + len - 1;
            res.header("content-range", &format!("bytes {start}-{end}/{size}"));
            (start, len)
        }
        Ranges::Unsatisfiable => {
            res.header("content-range", &format!("bytes */{size}"));
            return error(res, 416, "416 requested range not satisfiable");
        }
    };
    res.header("content-type", mime::content_type(name));
    res.header("x-content-type-options", "nosniff");
    res.header("content-length", &len.to_string());
    if head || len == 0 {
        return Ok(());
    }
    stream(&file, start, len, res)
}

/// Copies `len` bytes of `file` from `start` into the response, [`CHUNK`] at a time.
fn stream(file: &std::fs::File, start: u64, len: u64, res: &mut Response<'_>) -> io::Result<()> {
    let mut buf = vec![0u8; len.min(CHUNK as u64) as usize];
    let (mut at, end) = (start, start + len);
    while at < end {
        let want = buf.len().min((end - at) as usize);
        let n = gmp_core::blocking(|| read_at(file, &mut buf[..want], at))?;
        if n == 0 {
            // The file shrank after its size was sent: the response cannot be
            // completed, and the connection closes (the client sees a short body).
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "gmp-http: FileServer: the file shrank while being sent",
            ));
        }
        res.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, at) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// The request's conditional headers (repeated lines of a list header joined).
fn conditions<'r>(req: &'r Request<'_>) -> Conditions<'r> {
    let list = |name: &str| -> Option<Cow<'r, str>> {
        let mut values = req
            .headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok());
        let first = values.next()?;
        let mut all = Cow::Borrowed(first);
        for v in values {
            let s = all.to_mut();
            s.push(',');
            s.push_str(v);
        }
        Some(all)
    };
    Conditions {
        if_match: list("if-match"),
        if_unmodified_since: req.header("if-unmodified-since"),
        if_none_match: list("if-none-match"),
        if_modified_since: req.header("if-modified-since"),
        if_range: req.header("if-range"),
    }
}

/// A relative reference whose first segment holds a `:` would read as a scheme
/// (`javascript:x/`): `./` in front keeps it a path.
fn relative(to: &str) -> Cow<'_, str> {
    let first = to.split('/').next().unwrap_or("");
    if first.contains(':') {
        Cow::Owned(format!("./{to}"))
    } else {
        Cow::Borrowed(to)
    }
}

/// 301 to the relative reference `to`, keeping the query (Go's `localRedirect`).
fn redirect(req: &Request<'_>, res: &mut Response<'_>, to: &str) -> io::Result<()> {
    let to = match req.query() {
        Some(q) => format!("{to}?{q}"),
        None => to.to_string(),
    };
    res.status(301);
    res.try_header("location", &to)?;
    res.header("content-type", "text/plain; charset=utf-8");
    res.body(format!("Moved Permanently: {to}\n"));
    Ok(())
}

/// A plain-text error response.
fn error(res: &mut Response<'_>, status: u16, text: &str) -> io::Result<()> {
    res.status(status);
    res.header("content-type", "text/plain; charset=utf-8");
    res.header("x-content-type-options", "nosniff");
    res.body(format!("{text}\n"));
    Ok(())
}

/// The response for a failed open or read: 404, 403, or 500 (logged; the text sent
/// says no more than the status, as Go's `toHTTPError`).
fn io_error(res: &mut Response<'_>, path: &str, e: io::Error) -> io::Result<()> {
    match e.kind() {
        io::ErrorKind::NotFound => {
            tracing::debug!("gmp-http: FileServer: {path:?}: {e}");
            error(res, 404, NOT_FOUND)
        }
        io::ErrorKind::PermissionDenied => {
            tracing::debug!("gmp-http: FileServer: {path:?}: {e}");
            error(res, 403, "403 forbidden")
        }
        _ => {
            tracing::warn!("gmp-http: FileServer: {path:?}: {e}");
            error(res, 500, "500 internal server error")
        }
    }
}
