//! From a request path to a file under the root, and the rule that keeps it there.
//!
//! Invariant: every file the server opens is under the root's canonical path. Three
//! steps keep it:
//! 1. [`local`] turns the URL path into a relative path segment by segment: each
//!    segment is percent-decoded, and a decoded segment that is `.` or `..`, or holds
//!    `/` (`%2F`), `\` or NUL is refused (400). Empty segments (`//`) are skipped, so an
//!    "absolute" path in the URL is still relative to the root. Nothing but plain names
//!    reaches the file system.
//! 2. [`open_under`] resolves the result with `canonicalize` (every symlink followed)
//!    and refuses (as not found) anything whose canonical path is not under the
//!    root's. Symlinks are thus allowed as long as they stay inside the root; one that
//!    leads out is a 404, as if it were not there.
//! 3. The canonical path is opened (`O_NOFOLLOW`: the last component cannot have
//!    become a symlink since), and the file actually opened is checked again: its
//!    path as the kernel knows it (`/proc/self/fd/N`) must be under the root too. So
//!    someone who can rename directories inside the root cannot race step 2 by
//!    swapping a directory for a symlink between the check and the open. Without
//!    `/proc` mounted that re-check is skipped and the window is back (a few
//!    microseconds, and only against an attacker who can write inside the root).
//!    `openat2(RESOLVE_BENEATH)` would do all of this in one call, but it refuses
//!    absolute symlinks even when they point inside the root, and needs Linux 5.6
//!    and a sandbox that lets it through: a second policy and a second code path.
//!
//! Only regular files and directories are served: a FIFO or device under the root is
//! not found (opening a FIFO would block a thread until a writer came).

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A request path made local: the relative path it names below the root.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Local {
    pub rel: PathBuf,
    /// The URL path ended in `/` (a directory's form).
    pub slash: bool,
}

/// Makes the (still percent-encoded) URL path `p` local; `Err` says why it is refused.
pub(crate) fn local(p: &str) -> Result<Local, &'static str> {
    let mut rel = PathBuf::new();
    for seg in p.split('/').filter(|s| !s.is_empty()) {
        let name = crate::url::decode(seg.as_bytes(), false)
            .ok_or("malformed percent-escape in the path")?;
        match &*name {
            b"." | b".." => return Err("a path element is . or .."),
            n if n.contains(&b'/') => return Err("a path element holds an encoded slash"),
            n if n.contains(&b'\\') => return Err("the path holds a backslash"),
            n if n.contains(&0) => return Err("the path holds a NUL byte"),
            n => rel.push(OsStr::from_bytes(n)),
        }
    }
    Ok(Local {
        rel,
        slash: p.ends_with('/'),
    })
}

/// A file or directory opened under the root.
#[derive(Debug)]
pub(crate) struct Opened {
    pub file: File,
    pub meta: Metadata,
    /// Its canonical path.
    pub path: PathBuf,
}

/// Opens `root/rel` if its canonical path lies under `root`'s (see the module's
/// docs). `rel` comes from [`local`]. Blocks the thread: call it inside
/// `gmp::blocking`. Errors: `NotFound` for anything missing, outside the root, or
/// neither a regular file nor a directory; `Other` when the root itself cannot be
/// resolved; else the OS's error.
pub(crate) fn open_under(root: &Path, rel: &Path) -> io::Result<Opened> {
    // A root that cannot be resolved is the server's misconfiguration, not a missing
    // page: an `Other` error, which the file server answers with 500 and logs.
    let root = root
        .canonicalize()
        .map_err(|e| io::Error::other(format!("the root {}: {e}", root.display())))?;
    let path = not_found_if_absent(root.join(rel).canonicalize())?;
    if !path.starts_with(&root) {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the path resolves outside the root",
        ));
    }
    let file = not_found_if_absent(
        OpenOptions::new()
            .read(true)
            // O_NONBLOCK: a FIFO swapped in after the check must not block the open.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path),
    )?;
    if opened_outside(&file, &root) {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the file opened lies outside the root (a path changed during the open)",
        ));
    }
    let meta = file.metadata()?;
    if !meta.is_file() && !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "not a regular file or directory",
        ));
    }
    Ok(Opened { file, meta, path })
}

/// Step 3's re-check (see the module's docs): whether the kernel's path of the open
/// `file` is outside `root`. False when `/proc` cannot tell.
fn opened_outside(file: &File, root: &Path) -> bool {
    match std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
        Ok(real) => !real.starts_with(root),
        Err(_) => false,
    }
}

/// Errors that mean "no such file here" become `NotFound`: a path through a file
/// (`ENOTDIR`, Go's `mapOpenError` does the same), a symlink loop, a name too long.
fn not_found_if_absent<T>(r: io::Result<T>) -> io::Result<T> {
    r.map_err(|e| match e.raw_os_error() {
        Some(libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG) => {
            io::Error::new(io::ErrorKind::NotFound, e)
        }
        _ => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str, rel: &str, slash: bool) {
        assert_eq!(
            local(p),
            Ok(Local {
                rel: rel.into(),
                slash
            }),
            "{p:?}"
        );
    }

    #[test]
    fn plain_paths() {
        ok("/", "", true);
        ok("", "", false);
        ok("/a/b.txt", "a/b.txt", false);
        ok("/a/b/", "a/b", true);
        ok("//etc/passwd", "etc/passwd", false);
        ok("/a//b", "a/b", false);
        ok("/caf%C3%A9%20x.txt", "café x.txt", false);
        ok("/...", "...", false);
        ok("/.hidden", ".hidden", false);
        ok("/a%2eb", "a.b", false);
        // Not UTF-8 once decoded: a Linux file name all the same.
        assert_eq!(
            local("/%ff").unwrap().rel.as_os_str().as_bytes(),
            b"\xff".as_slice()
        );
    }

    #[test]
    fn the_opened_file_is_checked_where_it_is() {
        let base = std::env::temp_dir().join(format!("gmp-fs-path-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("in.txt"), b"in").unwrap();
        std::fs::write(base.join("out.txt"), b"out").unwrap();
        let root = root.canonicalize().unwrap();
        let inside = File::open(root.join("in.txt")).unwrap();
        let outside = File::open(base.join("out.txt")).unwrap();
        let checks = (
            opened_outside(&inside, &root),
            opened_outside(&outside, &root),
        );
        std::fs::remove_dir_all(&base).unwrap();
        // /proc is mounted on every Linux machine these tests run on.
        assert_eq!(checks, (false, true));
    }

    #[test]
    fn refused() {
        for p in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/.",
            "/a/./b",
            "/%2e%2e/etc/passwd",
            "/%2E%2E",
            "/.%2e/x",
            "/%2e",
            "/a%2fb",
            "/..%2f..%2fetc",
            "/a%5cb",
            "/a\\b",
            "/..\\..\\etc",
            "/a%00b",
            "/a%zz",
            "/a%2",
        ] {
            assert!(local(p).is_err(), "{p:?} accepted");
        }
    }
}
