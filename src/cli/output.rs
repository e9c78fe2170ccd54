//! Where a command's stdout output goes: the terminal, or (cosign's root `--output-file`)
//! a file written atomically when the command ends.
//!
//! Commands write their results through [`stdout`], never `std::io::stdout()` directly, so
//! `--output-file` catches everything they print there. Messages on stderr stay on stderr.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// `Some` while stdout output is captured for `--output-file`.
static CAPTURED: Mutex<Option<Vec<u8>>> = Mutex::new(None);

fn captured() -> std::sync::MutexGuard<'static, Option<Vec<u8>>> {
    CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The command's stdout: the process's stdout, or the `--output-file` buffer.
pub(crate) struct Stdout;

/// The command's stdout (see the module documentation).
pub(crate) fn stdout() -> Stdout {
    Stdout
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(b) = captured().as_mut() {
            b.extend_from_slice(buf);
            return Ok(buf.len());
        }
        std::io::stdout().lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(b) = captured().as_mut() {
            b.extend_from_slice(buf);
            return Ok(());
        }
        std::io::stdout().lock().write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if captured().is_some() {
            return Ok(());
        }
        std::io::stdout().lock().flush()
    }
}

/// From now on, keep stdout output for [`finish`].
/// Is stdout being captured for `--output-file`? (A command with a file option of its own
/// refuses both at once instead of leaving one of the files empty.)
pub(crate) fn is_captured() -> bool {
    captured().is_some()
}

pub(crate) fn capture() {
    *captured() = Some(Vec::new());
}

/// Write what was captured to `path` atomically (mode 0644, replacing a file there, as
/// cosign's `--output-file` truncates it), and stop capturing.
pub(crate) fn finish(path: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let bytes = captured().take().unwrap_or_default();
    imprint::fs::write_atomic(path, &bytes, 0o644, imprint::fs::Overwrite::Replace)
        .with_context(|| format!("cannot write --output-file {}", path.display()))
}
