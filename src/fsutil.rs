//! Small filesystem helpers shared by the commands that write files (keys, layouts, reports).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically, with permission bits `mode` (for example `0o600`).
///
/// The bytes go to a fresh temporary file in the same directory, which is flushed to disk
/// (`fsync`) and then moved into place, so readers see either the old file or the complete new
/// one, never a partial write. The directory is synced afterwards.
///
/// With `overwrite == false` an existing `path` is never replaced: the call fails with
/// [`io::ErrorKind::AlreadyExists`], and this check is made atomically (the file is linked into
/// place, which fails if the name exists), so a concurrent writer cannot be clobbered either.
/// The permission bits are set exactly (not filtered by the umask). On failure the temporary
/// file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, overwrite: bool) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !overwrite && fs::symlink_metadata(path).is_ok() {
        return Err(already_exists(path));
    }

    let (tmp_path, mut file) = create_temp(&dir, file_name, mode)?;
    let result = (|| {
        file.write_all(bytes)?;
        set_mode(&file, mode)?;
        file.sync_all()?;
        drop(file);
        if overwrite {
            fs::rename(&tmp_path, path)
        } else {
            match fs::hard_link(&tmp_path, path) {
                Ok(()) => fs::remove_file(&tmp_path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(already_exists(path)),
                // Filesystems without hard links: fall back to a checked rename.
                Err(_) => {
                    if fs::symlink_metadata(path).is_ok() {
                        Err(already_exists(path))
                    } else {
                        fs::rename(&tmp_path, path)
                    }
                }
            }
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
        return result;
    }
    // Make the rename itself durable. Not every platform can open a directory; ignore that.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn already_exists(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{} already exists", path.display()),
    )
}

fn create_temp(dir: &Path, file_name: &std::ffi::OsStr, mode: u32) -> io::Result<(PathBuf, File)> {
    let mut last_err = None;
    for _ in 0..16 {
        let mut random = [0u8; 8];
        aws_lc_rs::rand::fill(&mut random)
            .map_err(|_| io::Error::other("system random number generator failed"))?;
        let mut name = std::ffi::OsString::from(".");
        name.push(file_name);
        name.push(format!(".tmp-{}", hex::encode(random)));
        let tmp_path = dir.join(name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Never more permissive than the final mode, even for a moment.
            options.mode(mode & 0o600);
        }
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(&tmp_path) {
            Ok(file) => return Ok((tmp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("could not create a temporary file")))
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
        write_atomic(&path, b"secret", 0o600, false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"secret");
        #[cfg(unix)]
        assert_eq!(mode_of(&path), 0o600);
        let pub_path = dir.path().join("a.pub");
        write_atomic(&pub_path, b"public", 0o644, false).unwrap();
        #[cfg(unix)]
        assert_eq!(mode_of(&pub_path), 0o644);
        // Only the two files: no temporary left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn refuses_to_clobber_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        fs::write(&path, b"old").unwrap();
        let err = write_atomic(&path, b"new", 0o600, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn overwrites_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        fs::write(&path, b"old").unwrap();
        write_atomic(&path, b"new", 0o600, true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_directory_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("a.key");
        assert!(write_atomic(&path, b"x", 0o600, false).is_err());
        assert!(!path.exists());
    }
}
