//! The `imprint` command, as the CLI tests run it.

use std::process::{Command, Output};

/// The `imprint` binary of this build (or `$IMPRINT_BIN`, for checkouts that share a target
/// directory and so its uplifted binary), run in the crate's checkout (so the README's
/// relative paths such as `keys/demo.pub` work), with the password from `IMPRINT_PASSWORD`
/// (`test-password`), no `COSIGN_PASSWORD`, no docker config (anonymous registry access), and
/// no TUF cache (the embedded trust root).
pub(crate) fn imprint() -> Command {
    let bin = std::env::var_os("IMPRINT_BIN")
        .unwrap_or_else(|| std::ffi::OsString::from(env!("CARGO_BIN_EXE_imprint")));
    let mut c = Command::new(bin);
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("COSIGN_PASSWORD")
        .env("IMPRINT_PASSWORD", "test-password")
        .env("DOCKER_CONFIG", "/nonexistent")
        // No TUF cache unless a test names one (`IMPRINT_TUF_CACHE`): the embedded root.
        .env("XDG_CACHE_HOME", "/nonexistent-imprint-cache")
        .env_remove("IMPRINT_TUF_CACHE");
    c
}

/// Runs `c`: (exit code, or -1 when killed by a signal; stdout; stderr), lossily decoded.
pub(crate) fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("run imprint");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The stderr of `out`, lossily decoded.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
