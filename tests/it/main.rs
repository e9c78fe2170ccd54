//! The integration tests, in one binary (as ripgrep and uv do): one module per topic, and one
//! shared [`support`] module (the `imprint` command, the shared vectors, hand-made `.sig`
//! layers, the registry and the proxy). Run one topic with `cargo test --test it attest::`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod admission;
mod attest;
mod audit;
mod blob;
mod bundles_oci;
mod cli_output;
mod cli_parity;
mod concurrency;
mod conformance;
mod cosign_flags;
mod decision_log;
mod demo;
mod dsse_interop;
mod fuzz;
mod hostile_attachments;
mod hostile_registry;
mod hostile_transport;
mod identities;
mod keyless_legacy;
mod keyless_sign;
mod keys;
mod notation;
mod notation_policy;
mod pkcs11;
mod policy_checks;
mod policy_import;
mod policy_lint;
mod policy_scenarios;
mod registry;
mod round_trips;
mod secrets;
mod sign_verify;
mod tlog_upload;
mod tuf;

/// The support module's own checks.
mod support_checks {
    use std::path::PathBuf;

    use crate::support::{find_program, require_program};

    #[test]
    fn programs_on_path_and_by_absolute_path_are_found() {
        assert_eq!(find_program("sh").map(|p| p.ends_with("sh")), Some(true));
        assert_eq!(find_program("/bin/sh"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(find_program("imprint-no-such-program"), None);
        assert_eq!(find_program("/nonexistent/imprint-no-such-program"), None);
    }

    #[test]
    #[should_panic(
        expected = "this test runs `imprint-no-such-program`, which is not installed: it is in \
                    Debian's `imprint-no-such-package` package"
    )]
    fn a_missing_program_is_named_with_its_package() {
        require_program("imprint-no-such-program", "imprint-no-such-package");
    }
}
