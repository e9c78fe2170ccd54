//! Files: one bounded read and one atomic write, shared by everything that touches the
//! filesystem (keys, policies, predicates, signatures, bundles, trust roots, reports).

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::format::digest::Digest;

/// A file that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The OS refused (missing, permissions, a directory, ...).
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file is larger than the limit for what it should hold.
    #[error("{} is {size} bytes, over the limit of {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (as the file system reports it, or at least what was read).
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. } | Self::TooLarge { path, .. } => path,
        }
    }
}

/// Read a whole file, refusing it past `limit` bytes (the limit is enforced while reading, so a
/// huge or endless file, such as `/dev/zero`, costs at most `limit + 1` bytes of memory).
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let too_large = |size| ReadError::TooLarge {
        path: path.to_owned(),
        size,
        limit,
    };
    let file = File::open(path).map_err(io)?;
    // Refuse by the size the file system reports before reading anything; size the buffer once
    // from it, so that secrets read into it are not left behind in freed, reallocated buffers.
    let len = file.metadata().map_err(io)?.len();
    if len > limit {
        return Err(too_large(len));
    }
    let mut buf = Vec::with_capacity(usize::try_from(len.saturating_add(1)).unwrap_or(0));
    // `take` guards against a file that grows while it is read (or reports no size: pipes).
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(too_large(buf.len() as u64));
    }
    Ok(buf)
}

/// sha256 of a file, streamed (for blob attestations, which only need the digest).
pub fn digest_file(path: &Path) -> Result<Digest, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    let d = ctx.finish();
    let mut raw = [0u8; 32];
    raw.copy_from_slice(d.as_ref());
    Ok(Digest::from_raw(&raw))
}

/// Whether [`write_atomic`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Never replace: fail with [`io::ErrorKind::AlreadyExists`] (checked atomically).
    Refuse,
    /// Replace an existing file (readers see the old or the new one, never a mix).
    Replace,
}

/// Write `bytes` to `path` atomically, with permission bits `mode` (for example `0o600`).
///
/// The bytes go to a fresh temporary file in the same directory (`tempfile`, created mode
/// 0600, so never more permissive than a key file even for a moment), which is flushed to disk
/// and then moved into place, so readers see either the old file or the complete new one. With
/// [`Overwrite::Refuse`] an existing `path` is never replaced, atomically (the temporary file is
/// linked into place, which fails if the name exists), so a concurrent writer cannot be
/// clobbered either. The permission bits are set exactly. On failure the temporary file is
/// removed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, overwrite: Overwrite) -> io::Result<()> {
    let mut file = AtomicFile::create(path, mode, overwrite)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A file written in pieces and put in place atomically by [`commit`](Self::commit), as
/// [`write_atomic`] does with one buffer: for output too large to hold in memory (a streamed
/// SBOM download, `--output-file`). Dropped without `commit`, the temporary file is removed
/// and `path` is left as it was.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    dir: PathBuf,
    mode: u32,
    overwrite: Overwrite,
}

impl AtomicFile {
    /// Start writing `path` (its temporary file is created now, so a missing directory or a
    /// refused overwrite fails here, before anything is written).
    pub fn create(path: &Path, mode: u32, overwrite: Overwrite) -> io::Result<Self> {
        if path.file_name().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", path.display()),
            ));
        }
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if overwrite == Overwrite::Refuse && fs::symlink_metadata(path).is_ok() {
            return Err(already_exists(path));
        }
        let tmp = tempfile::Builder::new()
            .prefix(".imprint-")
            .suffix(".tmp")
            .tempfile_in(&dir)?;
        Ok(Self {
            tmp,
            path: path.to_path_buf(),
            dir,
            mode,
            overwrite,
        })
    }

    /// Set the mode, flush to disk and move the file into place (see [`write_atomic`]).
    pub fn commit(self) -> io::Result<()> {
        let Self {
            mut tmp,
            path,
            dir,
            mode,
            overwrite,
        } = self;
        tmp.flush()?;
        set_mode(tmp.as_file(), mode)?;
        tmp.as_file().sync_all()?;
        match overwrite {
            Overwrite::Replace => tmp.persist(&path).map(drop).map_err(|e| e.error)?,
            Overwrite::Refuse => tmp.persist_noclobber(&path).map(drop).map_err(|e| {
                if e.error.kind() == io::ErrorKind::AlreadyExists {
                    already_exists(&path)
                } else {
                    e.error
                }
            })?,
        }
        // Make the rename itself durable. Not every platform can open a directory; ignore that.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl io::Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

fn already_exists(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{} already exists", path.display()),
    )
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_new_file_with_exact_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        write_atomic(&path, b"secret", 0o600, Overwrite::Refuse).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"secret");
        #[cfg(unix)]
        assert_eq!(mode_of(&path), 0o600);
        let pub_path = dir.path().join("a.pub");
        write_atomic(&pub_path, b"public", 0o644, Overwrite::Refuse).unwrap();
        #[cfg(unix)]
        assert_eq!(mode_of(&pub_path), 0o644);
        // Only the two files: no temporary left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        fs::write(&path, b"old").unwrap();
        let mut f = AtomicFile::create(&path, 0o644, Overwrite::Replace).unwrap();
        f.write_all(b"new ").unwrap();
        f.write_all(b"content").unwrap();
        // Readers still see the old file while it is being written.
        assert_eq!(fs::read(&path).unwrap(), b"old");
        f.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new content");
        #[cfg(unix)]
        assert_eq!(mode_of(&path), 0o644);
        // Dropped without commit: nothing changes and no temporary is left.
        let mut g = AtomicFile::create(&path, 0o644, Overwrite::Replace).unwrap();
        g.write_all(b"lost").unwrap();
        drop(g);
        assert_eq!(fs::read(&path).unwrap(), b"new content");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // A missing directory fails at create, before anything is written.
        let missing = dir.path().join("no/such/dir/out.json");
        assert!(AtomicFile::create(&missing, 0o644, Overwrite::Replace).is_err());
        // Refuse sees an existing file at create.
        let e = AtomicFile::create(&path, 0o644, Overwrite::Refuse).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn refuses_to_clobber_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        fs::write(&path, b"old").unwrap();
        let err = write_atomic(&path, b"new", 0o600, Overwrite::Refuse).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn overwrites_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        fs::write(&path, b"old").unwrap();
        write_atomic(&path, b"new", 0o600, Overwrite::Replace).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bounded_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, [7u8; 100]).unwrap();
        assert_eq!(read_limited(&path, 100).unwrap().len(), 100);
        assert!(matches!(
            read_limited(&path, 99).unwrap_err(),
            ReadError::TooLarge { limit: 99, .. }
        ));
        assert!(matches!(
            read_limited(&dir.path().join("missing"), 100).unwrap_err(),
            ReadError::Io { .. }
        ));
        assert_eq!(digest_file(&path).unwrap(), Digest::of(&[7u8; 100]));
    }

    #[test]
    fn missing_directory_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("a.key");
        assert!(write_atomic(&path, b"x", 0o600, Overwrite::Refuse).is_err());
        assert!(!path.exists());
    }
}
