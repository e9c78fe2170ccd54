//! Where a command's stdout output goes: the terminal, or (cosign's root `--output-file`)
//! a file written atomically when the command ends.
//!
//! Commands write their results through [`stdout`], never `std::io::stdout()` directly, so
//! `--output-file` catches everything they print there. Messages on stderr stay on stderr.
//! Captured output streams into the file's temporary (not memory), which is put in place by
//! [`finish`]; the temporary is created by [`capture`] before the command runs, so an
//! unwritable `--output-file` fails before anything is signed or pushed.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use imprint::fs::{AtomicFile, Overwrite};

/// `Some` while stdout output is captured for `--output-file`.
static CAPTURED: Mutex<Option<std::io::BufWriter<AtomicFile>>> = Mutex::new(None);

fn captured() -> std::sync::MutexGuard<'static, Option<std::io::BufWriter<AtomicFile>>> {
    CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The command's stdout: the process's stdout, or the `--output-file` being written.
pub(crate) struct Stdout;

/// The command's stdout (see the module documentation).
pub(crate) fn stdout() -> Stdout {
    Stdout
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(f) = captured().as_mut() {
            return f.write(buf);
        }
        std::io::stdout().lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(f) = captured().as_mut() {
            return f.write_all(buf);
        }
        std::io::stdout().lock().write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(f) = captured().as_mut() {
            return f.flush();
        }
        std::io::stdout().lock().flush()
    }
}

/// Is stdout being captured for `--output-file`? (A command with a file option of its own
/// refuses both at once instead of leaving one of the files empty.)
pub(crate) fn is_captured() -> bool {
    captured().is_some()
}

/// From now on, write stdout output to `path`'s temporary file, put in place by [`finish`]
/// (mode 0644, replacing a file there, as cosign's `--output-file` truncates it).
pub(crate) fn capture(path: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let file = AtomicFile::create(path, 0o644, Overwrite::Replace)
        .with_context(|| format!("cannot write --output-file {}", path.display()))?;
    *captured() = Some(std::io::BufWriter::new(file));
    Ok(())
}

/// Put what was captured in place at `path` atomically, and stop capturing.
pub(crate) fn finish(path: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let Some(file) = captured().take() else {
        return Ok(());
    };
    file.into_inner()
        .map_err(std::io::IntoInnerError::into_error)
        .and_then(AtomicFile::commit)
        .with_context(|| format!("cannot write --output-file {}", path.display()))
}
