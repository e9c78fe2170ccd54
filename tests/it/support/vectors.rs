//! Where the shared test vectors are: `$IMPRINT_VECTORS` if set, else `../shared/vectors`
//! beside the crate (the layout of a checkout and of CI). Included with
//! `#[path = "support/vectors.rs"] mod vectors;` by the test binaries that read vectors.

use std::path::{Path, PathBuf};

/// The vectors directory; panics with a hint when it is missing (tests cannot run without it).
pub fn dir() -> PathBuf {
    let dir = std::env::var_os("IMPRINT_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"));
    assert!(
        dir.is_dir(),
        "test vectors not found at {} (set IMPRINT_VECTORS)",
        dir.display()
    );
    dir
}
