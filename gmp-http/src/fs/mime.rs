//! `Content-Type` from a file name's extension: a small fixed table of the types a web
//! server meets every day. Anything else is `application/octet-stream`, so a browser
//! downloads it instead of guessing (the server also sends `X-Content-Type-Options:
//! nosniff`). Go consults the system's MIME database and then sniffs the content; a
//! fixed table answers the same on every machine, which matters more for a server's
//! tests and its users' than covering rare types.

use std::path::Path;

/// The type for `name`'s extension (compared case-insensitively); text types carry
/// `charset=utf-8`.
pub(crate) fn content_type(name: &Path) -> &'static str {
    let Some(ext) = name.extension().and_then(|e| e.to_str()) else {
        return OCTET_STREAM;
    };
    if ext.len() > 5 {
        return OCTET_STREAM;
    }
    let mut lower = [0u8; 5];
    for (d, s) in lower.iter_mut().zip(ext.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    match &lower[..ext.len()] {
        b"html" | b"htm" => "text/html; charset=utf-8",
        b"css" => "text/css; charset=utf-8",
        b"js" | b"mjs" => "text/javascript; charset=utf-8",
        b"json" | b"map" => "application/json",
        b"txt" => "text/plain; charset=utf-8",
        b"csv" => "text/csv; charset=utf-8",
        b"xml" => "text/xml; charset=utf-8",
        b"svg" => "image/svg+xml",
        b"png" => "image/png",
        b"jpg" | b"jpeg" => "image/jpeg",
        b"gif" => "image/gif",
        b"webp" => "image/webp",
        b"ico" => "image/x-icon",
        b"wasm" => "application/wasm",
        b"pdf" => "application/pdf",
        b"woff" => "font/woff",
        b"woff2" => "font/woff2",
        b"mp4" => "video/mp4",
        b"webm" => "video/webm",
        b"mp3" => "audio/mpeg",
        b"wav" => "audio/wav",
        b"zip" => "application/zip",
        b"gz" => "application/gzip",
        b"tar" => "application/x-tar",
        _ => OCTET_STREAM,
    }
}

const OCTET_STREAM: &str = "application/octet-stream";

#[cfg(test)]
mod tests {
    use super::content_type;
    use std::path::Path;

    #[test]
    fn table() {
        for (name, want) in [
            ("index.html", "text/html; charset=utf-8"),
            ("INDEX.HTM", "text/html; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("app.mjs", "text/javascript; charset=utf-8"),
            ("app.js.map", "application/json"),
            ("img.JPEG", "image/jpeg"),
            ("font.woff2", "font/woff2"),
            ("x.tar.gz", "application/gzip"),
            ("README", "application/octet-stream"),
            (".bashrc", "application/octet-stream"),
            ("a.unknownext", "application/octet-stream"),
            ("a.", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), want, "{name}");
        }
    }
}
