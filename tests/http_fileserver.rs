//! `FileServer` on raw sockets: content types, validators and 304s, ranges (206, 416,
//! `If-Range`), HEAD, directories (index, no listing unless asked, redirects), a large
//! file streamed whole, every path traversal attempt refused, symlinks inside the root
//! served and leading out refused, 405 for other methods, and curl as a client.
//! Each test serves its own directory under the system temp dir, removed at the end.

mod common;
mod http_util;

use gmp::http::{FileServer, Router};
use http_util::{Client, Resp, TestServer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, UNIX_EPOCH};

/// A fresh directory tree for one test: `<tmp>/gmp-fs-<pid>-<n>-<name>/`, with `root/`
/// (what the server serves) and `outside/secret.txt` next to it. Removed on drop.
struct Tree {
    base: PathBuf,
    root: PathBuf,
}

const SECRET: &str = "TOP-SECRET-CONTENT";
/// Tue, 14 Nov 2023 22:13:20 GMT: the files' modification time.
const MTIME: u64 = 1_700_000_000;
const MTIME_TEXT: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

impl Tree {
    fn new(name: &str) -> Tree {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "gmp-fs-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/secret.txt"), SECRET).unwrap();
        std::fs::write(base.join("secret.txt"), SECRET).unwrap();
        Tree { base, root }
    }

    /// Writes `rel` under the root (parents created) with the fixed modification time.
    fn file(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        set_mtime(&p, MTIME);
        p
    }

    fn dir(&self, rel: &str) {
        std::fs::create_dir_all(self.root.join(rel)).unwrap();
    }

    fn serve(&self) -> TestServer {
        self.serve_with(|f| f)
    }

    fn serve_with(&self, f: impl FnOnce(FileServer) -> FileServer) -> TestServer {
        TestServer::start_handler(|s| s, f(FileServer::new(&self.root)))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn set_mtime(p: &Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

/// Sends one request with extra header lines and reads the response.
fn req(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let mut c = Client::connect(addr);
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n");
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    c.send(raw);
    c.read_resp(method == "HEAD")
}

fn get(addr: SocketAddr, target: &str) -> Resp {
    req(addr, "GET", target, &[])
}

fn assert_status(r: &Resp, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {r:?} {:?}", r.text());
}

#[test]
fn content_type_comes_from_the_extension() {
    let t = Tree::new("types");
    let table = [
        ("a.html", "text/html; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.mjs", "text/javascript; charset=utf-8"),
        ("a.json", "application/json"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.svg", "image/svg+xml"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.JPEG", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("a.ico", "image/x-icon"),
        ("a.wasm", "application/wasm"),
        ("a.pdf", "application/pdf"),
        ("a.xml", "text/xml; charset=utf-8"),
        ("a.woff", "font/woff"),
        ("a.woff2", "font/woff2"),
        ("a.mp4", "video/mp4"),
        ("a.webm", "video/webm"),
        ("a.mp3", "audio/mpeg"),
        ("a.wav", "audio/wav"),
        ("a.csv", "text/csv; charset=utf-8"),
        ("a.js.map", "application/json"),
        ("a.zip", "application/zip"),
        ("a.tar.gz", "application/gzip"),
        ("a.tar", "application/x-tar"),
        ("noext", "application/octet-stream"),
        ("a.bin", "application/octet-stream"),
    ];
    for (name, _) in table {
        t.file(name, format!("content of {name}"));
    }
    let s = t.serve();
    for (name, want) in table {
        let r = get(s.addr, &format!("/{name}"));
        assert_status(&r, 200, name);
        assert_eq!(r.header("content-type"), Some(want), "{name}");
        assert_eq!(r.text(), format!("content of {name}"));
        assert_eq!(r.header("content-length"), Some(&*r.body.len().to_string()));
        assert_eq!(r.header("last-modified"), Some(MTIME_TEXT), "{name}");
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
        let etag = r.header("etag").expect("an ETag");
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
            "strong ETag: {etag}"
        );
    }
    s.stop();
}

#[test]
fn if_none_match_gives_304_and_takes_precedence() {
    let t = Tree::new("etag");
    let p = t.file("a.txt", "hello");
    t.file("b.txt", "other file");
    let s = t.serve();
    let r = get(s.addr, "/a.txt");
    let etag = r.header("etag").unwrap().to_string();
    assert_ne!(get(s.addr, "/b.txt").header("etag"), Some(&*etag));

    for inm in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        "*".to_string(),
    ] {
        let r = req(s.addr, "GET", "/a.txt", &[("If-None-Match", &inm)]);
        assert_status(&r, 304, &inm);
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(&*etag));
        assert!(!r.has("content-length") && !r.has("content-type"), "{r:?}");
    }
    let r = req(s.addr, "GET", "/a.txt", &[("If-None-Match", "\"nope\"")]);
    assert_status(&r, 200, "etag mismatch");
    assert_eq!(r.text(), "hello");
    // If-None-Match decides even when If-Modified-Since would say "not modified"...
    let r = req(
        s.addr,
        "GET",
        "/a.txt",
        &[
            ("If-None-Match", "\"nope\""),
            ("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        ],
    );
    assert_status(&r, 200, "If-None-Match wins over If-Modified-Since");
    // ... and when it would say "modified".
    let r = req(
        s.addr,
        "GET",
        "/a.txt",
        &[
            ("If-None-Match", &etag),
            ("If-Modified-Since", "Thu, 01 Jan 1981 00:00:00 GMT"),
        ],
    );
    assert_status(&r, 304, "a matching If-None-Match wins");
    // HEAD too.
    let r = req(s.addr, "HEAD", "/a.txt", &[("If-None-Match", &etag)]);
    assert_status(&r, 304, "HEAD");
    // The file changes: the old tag no longer matches.
    std::fs::write(&p, "hello, changed").unwrap();
    let r = req(s.addr, "GET", "/a.txt", &[("If-None-Match", &etag)]);
    assert_status(&r, 200, "after a change");
    assert_eq!(r.text(), "hello, changed");
    assert_ne!(r.header("etag"), Some(&*etag));
    s.stop();
}

#[test]
fn if_modified_since_gives_304() {
    let t = Tree::new("ims");
    t.file("a.txt", "hello");
    let s = t.serve();
    for (ims, want) in [
        (MTIME_TEXT, 304),
        ("Tue, 14 Nov 2023 22:13:21 GMT", 304),
        ("Tuesday, 14-Nov-23 22:13:20 GMT", 304), // RFC 850 form
        ("Tue Nov 14 22:13:20 2023", 304),        // asctime form
        ("Tue, 14 Nov 2023 22:13:19 GMT", 200),
        ("not a date", 200),
    ] {
        let r = req(s.addr, "GET", "/a.txt", &[("If-Modified-Since", ims)]);
        assert_status(&r, want, ims);
        if want == 200 {
            assert_eq!(r.text(), "hello");
        } else {
            assert!(r.body.is_empty() && r.has("etag"));
        }
    }
    // If-Match / If-Unmodified-Since that fail: 412.
    let r = req(s.addr, "GET", "/a.txt", &[("If-Match", "\"nope\"")]);
    assert_status(&r, 412, "If-Match");
    let r = req(
        s.addr,
        "GET",
        "/a.txt",
        &[("If-Unmodified-Since", "Tue, 14 Nov 2023 22:13:19 GMT")],
    );
    assert_status(&r, 412, "If-Unmodified-Since");
    s.stop();
}

#[test]
fn a_single_range_gives_206_and_an_unsatisfiable_one_416() {
    let t = Tree::new("range");
    let content: String = (0..100)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    t.file("r.txt", &content);
    t.file("empty.txt", "");
    let s = t.serve();
    for (range, start, end) in [
        ("bytes=10-19", 10, 19),
        ("bytes=0-0", 0, 0),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=95-1000", 95, 99),
        ("bytes=0-9,5-14", 0, 14), // overlapping ranges merge into one
    ] {
        let r = req(s.addr, "GET", "/r.txt", &[("Range", range)]);
        assert_status(&r, 206, range);
        assert_eq!(
            r.header("content-range"),
            Some(&*format!("bytes {start}-{end}/100")),
            "{range}"
        );
        assert_eq!(r.text(), &content[start..=end], "{range}");
        assert_eq!(
            r.header("content-length"),
            Some(&*(end - start + 1).to_string())
        );
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    for range in ["bytes=100-", "bytes=200-300", "bytes=-0"] {
        let r = req(s.addr, "GET", "/r.txt", &[("Range", range)]);
        assert_status(&r, 416, range);
        assert_eq!(r.header("content-range"), Some("bytes */100"), "{range}");
    }
    // Several disjoint ranges: the whole file, 200 (documented choice).
    let r = req(s.addr, "GET", "/r.txt", &[("Range", "bytes=0-1,50-51")]);
    assert_status(&r, 200, "multiple ranges");
    assert_eq!(r.text(), content);
    assert!(!r.has("content-range"));
    // Other units and bad syntax are ignored.
    for range in ["items=0-5", "bytes=5-3", "bytes=x"] {
        let r = req(s.addr, "GET", "/r.txt", &[("Range", range)]);
        assert_status(&r, 200, range);
        assert_eq!(r.body.len(), 100);
    }
    // An empty file ignores the range.
    let r = req(s.addr, "GET", "/empty.txt", &[("Range", "bytes=0-")]);
    assert_status(&r, 200, "empty file");
    assert!(r.body.is_empty());
    // If-Range: the current ETag or date keeps the range; anything else drops it.
    let etag = get(s.addr, "/r.txt").header("etag").unwrap().to_string();
    for (ir, want) in [
        (etag.as_str(), 206),
        (MTIME_TEXT, 206),
        ("\"stale\"", 200),
        ("Wed, 01 Jan 2020 00:00:00 GMT", 200),
    ] {
        let r = req(
            s.addr,
            "GET",
            "/r.txt",
            &[("Range", "bytes=0-4"), ("If-Range", ir)],
        );
        assert_status(&r, want, ir);
        assert_eq!(r.body.len(), if want == 206 { 5 } else { 100 });
    }
    // HEAD of a range: the same head, no body.
    let r = req(s.addr, "HEAD", "/r.txt", &[("Range", "bytes=10-19")]);
    assert_status(&r, 206, "HEAD range");
    assert_eq!(r.header("content-length"), Some("10"));
    s.stop();
}

#[test]
fn head_has_the_length_but_no_body() {
    let t = Tree::new("head");
    t.file("big.bin", http_util::pattern(200_000));
    let s = t.serve();
    let mut c = s.client();
    c.send("HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.head_resp();
    assert_status(&r, 200, "HEAD");
    assert_eq!(r.header("content-length"), Some("200000"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    // No body was sent: the next response on the connection follows at once.
    let r = c.get("/big.bin");
    assert_status(&r, 200, "GET after HEAD");
    assert_eq!(r.body, http_util::pattern(200_000));
    s.stop();
}

#[test]
fn a_large_file_streams_whole() {
    let t = Tree::new("large");
    // 5 MiB and a bit: not a multiple of the 64 KiB read size.
    let content = http_util::pattern(5 * 1024 * 1024 + 12_345);
    t.file("large.bin", &content);
    let s = t.serve();
    let mut c = s.client();
    let r = c.get("/large.bin");
    assert_status(&r, 200, "large");
    assert!(!r.is_chunked());
    assert_eq!(
        r.header("content-length"),
        Some(&*content.len().to_string())
    );
    assert!(r.body == content, "the body differs from the file");
    // A range deep inside it.
    let r =
        c.roundtrip("GET /large.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=3000000-3999999\r\n\r\n");
    assert_status(&r, 206, "range of the large file");
    assert!(r.body[..] == content[3_000_000..4_000_000]);
    s.stop();
}

#[test]
fn directories_serve_their_index_and_redirect_to_the_slash_form() {
    let t = Tree::new("dirs");
    t.file("index.html", "root index");
    t.file("sub/index.html", "sub index");
    t.file("sub/a.txt", "a");
    t.dir("empty");
    let s = t.serve();
    let r = get(s.addr, "/");
    assert_status(&r, 200, "/");
    assert_eq!(r.text(), "root index");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(get(s.addr, "/sub/").text(), "sub index");
    for (target, location) in [
        ("/sub", "sub/"),
        ("/sub?x=1", "sub/?x=1"),
        ("/sub/index.html", "./"),
        ("/index.html", "./"),
        ("/sub/a.txt/", "../a.txt"),
    ] {
        let r = get(s.addr, target);
        assert_status(&r, 301, target);
        assert_eq!(r.header("location"), Some(location), "{target}");
    }
    // No index and no listing: 404, and the entries are not named.
    t.file("empty/hidden-name.txt", "x");
    std::fs::remove_file(t.root.join("sub/index.html")).unwrap();
    for target in ["/empty/", "/sub/"] {
        let r = get(s.addr, target);
        assert_status(&r, 404, target);
        assert!(!r.text().contains("hidden-name") && !r.text().contains("a.txt"));
    }
    assert_status(&get(s.addr, "/missing.txt"), 404, "missing");
    assert_status(&get(s.addr, "/missing/"), 404, "missing dir");
    s.stop();
}

#[test]
fn listing_only_when_asked_for() {
    let t = Tree::new("listing");
    t.file("d/one.txt", "1");
    t.file("d/<two>.txt", "2");
    t.dir("d/inner");
    let s = t.serve_with(|f| f.list_directories(true));
    let r = get(s.addr, "/d/");
    assert_status(&r, 200, "listing");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.contains("<a href=\"./one.txt\">one.txt</a>"), "{html}");
    assert!(html.contains("<a href=\"./inner/\">inner/</a>"), "{html}");
    assert!(html.contains("&lt;two&gt;.txt"), "{html}");
    assert!(!html.contains("<two>"), "{html}");
    s.stop();
    // With index(false), index.html is a plain file and no longer redirected.
    t.file("d/index.html", "idx");
    let s = t.serve_with(|f| f.index(false).list_directories(true));
    assert!(get(s.addr, "/d/").text().contains("index.html"));
    let r = get(s.addr, "/d/index.html");
    assert_status(&r, 200, "index.html as a file");
    assert_eq!(r.text(), "idx");
    s.stop();
}

#[test]
fn traversal_attempts_are_refused() {
    let t = Tree::new("traversal");
    t.file("sub/a.txt", "inside");
    let secret_abs = t.base.join("secret.txt");
    let s = t.serve();
    let abs = format!("/{}", secret_abs.display()); // `//tmp/.../secret.txt`
    let cases: Vec<(&str, String)> = vec![
        ("dot-dot", "/../secret.txt".into()),
        ("dot-dot deep", "/sub/../../secret.txt".into()),
        ("dot-dot into outside", "/../outside/secret.txt".into()),
        ("encoded dot-dot", "/%2e%2e/secret.txt".into()),
        ("encoded dot-dot upper", "/%2E%2E/secret.txt".into()),
        ("half-encoded dot-dot", "/.%2e/secret.txt".into()),
        ("encoded slash", "/..%2fsecret.txt".into()),
        ("encoded slash deep", "/sub%2f..%2f..%2fsecret.txt".into()),
        ("backslash", "/..\\secret.txt".into()),
        ("encoded backslash", "/..%5csecret.txt".into()),
        ("NUL", "/sub/a.txt%00.html".into()),
        ("NUL alone", "/%00".into()),
        ("absolute path", abs.clone()),
        ("absolute /etc", "//etc/passwd".into()),
        ("absolute-form target", "http://t/../secret.txt".into()),
        ("malformed escape", "/sub/%zz".into()),
    ];
    for (what, target) in &cases {
        let r = get(s.addr, target);
        assert!(
            r.status == 400 || r.status == 404,
            "{what} ({target}): {} {:?}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains(SECRET), "{what} ({target}) leaked");
    }
    // The ones that name no file at all are refused as bad requests, not looked up.
    for target in [
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%00",
    ] {
        assert_status(&get(s.addr, target), 400, target);
    }
    assert_status(&get(s.addr, "/sub/a.txt"), 200, "a file inside");
    s.stop();
}

#[test]
fn symlinks_inside_the_root_are_served_and_leading_out_refused() {
    use std::os::unix::fs::symlink;
    let t = Tree::new("symlinks");
    t.file("real.txt", "real content");
    t.file("dir/x.txt", "x in dir");
    symlink("real.txt", t.root.join("rel-link.txt")).unwrap();
    symlink(t.root.join("real.txt"), t.root.join("abs-link.txt")).unwrap();
    symlink("dir", t.root.join("dir-link")).unwrap();
    symlink("../secret.txt", t.root.join("escape.txt")).unwrap();
    symlink(t.base.join("secret.txt"), t.root.join("escape-abs.txt")).unwrap();
    symlink("../outside", t.root.join("out-dir")).unwrap();
    symlink("/etc", t.root.join("etc")).unwrap();
    symlink("loop-b", t.root.join("loop-a")).unwrap();
    symlink("loop-a", t.root.join("loop-b")).unwrap();
    let s = t.serve();
    for (target, body) in [
        ("/rel-link.txt", "real content"),
        ("/abs-link.txt", "real content"),
        ("/dir-link/x.txt", "x in dir"),
    ] {
        let r = get(s.addr, target);
        assert_status(&r, 200, target);
        assert_eq!(r.text(), body);
    }
    for target in [
        "/escape.txt",
        "/escape-abs.txt",
        "/out-dir/secret.txt",
        "/out-dir/",
        "/etc/passwd",
        "/loop-a",
    ] {
        let r = get(s.addr, target);
        assert_status(&r, 404, target);
        assert!(!r.text().contains(SECRET));
    }
    s.stop();
}

#[test]
fn special_files_are_not_served() {
    let t = Tree::new("fifo");
    let fifo = t.root.join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let s = t.serve();
    // Opening a FIFO for reading would wait for a writer: refused instead, at once.
    assert_status(&get(s.addr, "/pipe"), 404, "FIFO");
    s.stop();
}

#[test]
fn other_methods_get_405() {
    let t = Tree::new("methods");
    t.file("a.txt", "a");
    let s = t.serve();
    for m in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let mut c = s.client();
        c.send(format!(
            "{m} /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
        ));
        let r = c.resp();
        assert_status(&r, 405, m);
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{m}");
    }
    s.stop();
}

#[test]
fn mounted_under_a_prefix() {
    let t = Tree::new("prefix");
    t.file("app.css", "body{}");
    t.file("sub/index.html", "sub");
    let mut app = Router::new();
    app.mount(
        "/static/",
        FileServer::new(&t.root).strip_prefix("/static/"),
    );
    app.handle("GET /{$}", |_req, res| {
        res.body("home");
        Ok(())
    });
    let s = TestServer::start_handler(|s| s, app);
    let r = get(s.addr, "/static/app.css");
    assert_status(&r, 200, "/static/app.css");
    assert_eq!(r.text(), "body{}");
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    let r = get(s.addr, "/static/sub");
    assert_status(&r, 301, "/static/sub");
    assert_eq!(r.header("location"), Some("sub/"));
    assert_eq!(get(s.addr, "/static/sub/").text(), "sub");
    assert_eq!(get(s.addr, "/").text(), "home");
    assert_status(&get(s.addr, "/static/missing"), 404, "missing");
    s.stop();
    // Served directly, a path outside the prefix is 404.
    let s = TestServer::start_handler(|s| s, FileServer::new(&t.root).strip_prefix("/static/"));
    assert_status(&get(s.addr, "/app.css"), 404, "outside the prefix");
    assert_status(&get(s.addr, "/static/app.css"), 200, "inside the prefix");
    s.stop();
}

#[test]
fn curl_range_and_conditional_get() {
    if !common::tool("curl") {
        return;
    }
    let t = Tree::new("curl");
    let content: String = (0..1000)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    t.file("c.txt", &content);
    let s = t.serve();
    let url = format!("http://{}/c.txt", s.addr);
    let curl = |args: &[&str]| -> (String, Vec<u8>) {
        // `-D /dev/stderr`: the head on stderr, the body on stdout.
        let out = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", "-D", "/dev/stderr"])
            .args(args)
            .arg(&url)
            .output()
            .expect("run curl");
        assert!(out.status.success(), "curl failed: {out:?}");
        (
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.stdout,
        )
    };
    let (head, body) = curl(&["-r", "100-199"]);
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-range: bytes 100-199/1000"),
        "{head}"
    );
    assert_eq!(body, content.as_bytes()[100..200]);

    let (head, body) = curl(&[]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, content.as_bytes());
    let etag = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case("etag"))
                .map(|(_, v)| v.trim().to_string())
        })
        .expect("an ETag");
    let (head, body) = curl(&["-H", &format!("If-None-Match: {etag}")]);
    assert!(head.starts_with("HTTP/1.1 304"), "{head}");
    assert!(body.is_empty());
    // `-z DATE` sends If-Modified-Since.
    let (head, _) = curl(&["-z", MTIME_TEXT]);
    assert!(head.starts_with("HTTP/1.1 304"), "{head}");
    let (head, body) = curl(&["-z", "Mon, 01 Jan 2001 00:00:00 GMT"]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body.len(), 1000);
    s.stop();
}

#[test]
fn a_missing_root_is_a_server_error() {
    let t = Tree::new("noroot");
    let s = TestServer::start_handler(|s| s, FileServer::new(t.base.join("no-such-dir")));
    let r = get(s.addr, "/a.txt");
    assert_status(&r, 500, "missing root");
    assert!(
        !r.text().contains("no-such-dir"),
        "the path leaked: {:?}",
        r.text()
    );
    s.stop();
}
