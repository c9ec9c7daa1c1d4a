//! Output files: names taken from specs are file names, never paths, and every file is written
//! whole or not at all.
//!
//! A sweep spec may come from someone else; its `name` becomes the stem of the files written
//! under `--out`, so a name such as `../../escaped` or `/etc/x` must be refused rather than
//! followed. And a command that fails half-way (a full disk, a bad value found late) must not
//! leave a truncated CSV behind that a later `merge` or a dashboard would take for a result:
//! files are written to a temporary sibling and renamed into place, which is atomic on every
//! platform tiersim runs on.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writing a file or creating a directory failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {}", path.display(), reason(source))]
pub struct WriteError {
    /// The path that could not be written.
    pub path: PathBuf,
    /// The operating system's reason.
    pub source: io::Error,
}

impl WriteError {
    /// Whether the failure comes from the path the user gave (a missing directory, a file where
    /// a directory was expected, no permission) rather than from the machine (a full disk).
    pub fn is_users(&self) -> bool {
        use io::ErrorKind::*;
        matches!(
            self.source.kind(),
            NotFound
                | AlreadyExists
                | PermissionDenied
                | NotADirectory
                | IsADirectory
                | InvalidInput
                | InvalidFilename
                | ReadOnlyFilesystem
        )
    }
}

/// The operating system's message without its `(os error N)` suffix, which tells a user
/// nothing.
fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// `name` if it can be used as a file name (stem) under `--out`; otherwise what is wrong and
/// what is expected.
pub fn file_name(name: &str) -> Result<&str, String> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.len() > 200 {
        Some("is longer than 200 bytes")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if name == "." || name == ".." || name.starts_with('.') {
        Some("starts with a dot")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!(
            "`{}` {p}; expected a file name such as kv-spill-hbf (letters, digits, `-`, `_`, \
             `.`), which becomes the stem of the files under --out",
            name.escape_debug()
        )),
        None => Ok(name),
    }
}

/// Reads a text input whole, refusing one past [`crate::limits::FILE_BYTES`] before reading
/// it (and reading at most one byte past the limit, so a device such as `/dev/zero` that
/// never ends is refused too).
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    use std::io::Read;
    let err = |reason: String| ReadError {
        path: path.to_owned(),
        reason,
    };
    let f = std::fs::File::open(path).map_err(|e| err(reason(&e)))?;
    let limit = crate::limits::FILE_BYTES;
    let mut bytes = Vec::new();
    f.take(limit.max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(reason(&e)))?;
    if bytes.len() as u64 > limit.max {
        return Err(err(format!(
            "it is larger than tiersim's limit of {} MiB for a text input; {}",
            limit.max >> 20,
            limit.split
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        err(format!(
            "byte {} is not UTF-8; expected a text file",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reading an input file failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {reason}", path.display())]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// What was wrong, as a clause.
    pub reason: String,
}

impl ReadError {
    /// A failure of `path`'s reading or parsing, with its cause as the reason.
    pub fn at(path: &Path, cause: impl std::fmt::Display) -> Self {
        Self {
            path: path.to_owned(),
            reason: cause.to_string(),
        }
    }
}

/// Checks, before any work, that a file can later be written at `path`: its directory exists
/// and `path` is not a directory. A long fit or sweep then cannot fail at its last step for a
/// mistyped output path.
pub fn check_writable(path: &Path) -> Result<(), WriteError> {
    let err = |kind: io::ErrorKind, what: &str| WriteError {
        path: path.to_owned(),
        source: io::Error::new(kind, what.to_owned()),
    };
    if path.is_dir() {
        return Err(err(
            io::ErrorKind::IsADirectory,
            "it is a directory; expected a file path",
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(err(
            io::ErrorKind::NotFound,
            &format!("its directory {} does not exist", parent.display()),
        ));
    }
    Ok(())
}

/// Checks that `dir` can serve as an output directory: it is a directory or does not exist yet
/// (it is created when the first file is written).
pub fn check_out_dir(dir: &Path) -> Result<(), WriteError> {
    if dir.exists() && !dir.is_dir() {
        return Err(WriteError {
            path: dir.to_owned(),
            source: io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it is a file; expected a directory (or a path that does not exist yet)",
            ),
        });
    }
    Ok(())
}

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.to_owned(),
        source,
    })
}

/// Writes `bytes` to `path` through a temporary sibling renamed into place, so that `path`
/// holds either its old content or all of `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    let tmp = temporary_sibling(path);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            // A failure to create the temporary file is reported against the file asked for:
            // that is the path the user knows.
            Err(err(e))
        }
    }
}

/// `dir/.name.tmp-PID` beside `path`: hidden, unique per process, on the same file system.
pub fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_out_are_refused() {
        for bad in [
            "../../escaped",
            "/etc/x",
            "a/b",
            "a\\b",
            "..",
            ".hidden",
            "",
            "a\0b",
        ] {
            assert!(file_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["kv-spill-hbf-vs-ssd", "moe_cache.v2", "täst"] {
            assert_eq!(file_name(good), Ok(good));
        }
        let e = file_name("a\0b").unwrap_err();
        assert!(e.contains("a\\0b") && e.contains("control"), "{e}");
    }

    #[test]
    fn an_atomic_write_replaces_whole_and_a_failed_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"new content").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new content");
        let missing = dir.path().join("no-such-dir").join("y.csv");
        let e = write_atomic(&missing, b"z").unwrap_err();
        assert!(e.is_users());
        let text = e.to_string();
        assert!(
            text.contains("y.csv") && !text.contains("os error"),
            "{text}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only x.csv remains");
    }
}
