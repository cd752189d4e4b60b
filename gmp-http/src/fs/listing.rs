//! Directory listings (only when `FileServer::list_directories(true)`): an HTML page
//! with one link per entry, sorted by name, directories marked with a trailing `/`.
//! Names are HTML-escaped in the text and percent-encoded in the links, so no file
//! name can inject markup or turn into another URL (a `?` or `#` in a name stays part
//! of the path).

use std::fmt::Write as _;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The listing of directory `dir` (blocks the thread: call it inside `gmp::blocking`).
pub(crate) fn render(dir: &Path) -> io::Result<String> {
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let ty = e.file_type()?;
        // A symlink is listed as what it points to (a broken one as a file).
        let is_dir = ty.is_dir() || (ty.is_symlink() && e.path().is_dir());
        entries.push((e.file_name(), is_dir));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut html = String::from(
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
    );
    for (name, is_dir) in entries {
        let bytes = name.as_bytes();
        let slash = if is_dir { "/" } else { "" };
        html.push_str("<a href=\"./");
        for &b in bytes {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
                // `&` and `'` are safe in a double-quoted attribute once `&` is escaped.
                if b == b'&' {
                    html.push_str("&amp;");
                } else {
                    html.push(b as char);
                }
            } else {
                let _ = write!(html, "%{b:02X}");
            }
        }
        html.push_str(slash);
        html.push_str("\">");
        for c in String::from_utf8_lossy(bytes).chars() {
            match c {
                '&' => html.push_str("&amp;"),
                '<' => html.push_str("&lt;"),
                '>' => html.push_str("&gt;"),
                '"' => html.push_str("&quot;"),
                '\'' => html.push_str("&#39;"),
                c => html.push(c),
            }
        }
        html.push_str(slash);
        html.push_str("</a>\n");
    }
    html.push_str("</pre>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_escaped() {
        let dir = std::env::temp_dir().join(format!("gmp-listing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub dir")).unwrap();
        for name in ["<b>&x.txt", "q?#.txt", "a.txt"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let html = super::render(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let a = html.find("./a.txt").unwrap();
        let b = html
            .find("./%3Cb%3E&amp;x.txt\">&lt;b&gt;&amp;x.txt</a>")
            .unwrap();
        let q = html.find("./q%3F%23.txt\">q?#.txt</a>").unwrap();
        let s = html.find("./sub%20dir/\">sub dir/</a>").unwrap();
        assert!(b < a && a < q && q < s, "{html}");
        assert!(!html.contains("<b>"), "{html}");
    }
}
