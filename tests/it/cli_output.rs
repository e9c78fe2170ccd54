//! The CLI's output, human and JSON, as snapshots of exit code, stdout and stderr (files in
//! `tests/it/snapshots/`; review changes with `cargo insta review` or by reading the diff).
//! Offline: the README's demo OCI layout, keys and policies in this repository. Times and
//! absolute paths are filtered; digests are kept (the demo image is committed, so they are
//! stable and part of what is checked).

use crate::support::cli::{imprint, run};

const DEMO: &str = "oci:testdata/demo-image:demo";

/// Run `imprint ARGS` and snapshot `exit: N`, then stdout and stderr.
fn snapshot(name: &str, args: &[&str]) {
    let (code, stdout, stderr) = run(imprint().args(args));
    let text = format!(
        "$ imprint {}\nexit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        args.join(" ")
    );
    let root = env!("CARGO_MANIFEST_DIR");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(&regex_escape(root), "[CRATE]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

#[test]
fn verify_with_key_human_and_json() {
    snapshot(
        "verify-key-text",
        &["verify", "--key", "keys/demo.pub", "-o", "text", DEMO],
    );
    snapshot(
        "verify-key-json",
        &["verify", "--key", "keys/demo.pub", DEMO],
    );
}

#[test]
fn verify_with_another_key_is_a_failure() {
    snapshot(
        "verify-other-key",
        &["verify", "--key", "keys/connaisseur-alice.pub", DEMO],
    );
}

#[test]
fn verify_with_policy_table_and_json() {
    snapshot(
        "verify-policy-table",
        &["verify", "--policy", "policies/demo.yaml", DEMO],
    );
    snapshot(
        "verify-policy-json",
        &[
            "verify",
            "--policy",
            "policies/demo.yaml",
            "-o",
            "json",
            DEMO,
        ],
    );
}

#[test]
fn operational_errors_name_what_and_why() {
    snapshot(
        "verify-missing-key",
        &["verify", "--key", "keys/no-such.pub", DEMO],
    );
    snapshot(
        "verify-missing-layout",
        &[
            "verify",
            "--key",
            "keys/demo.pub",
            "oci:testdata/no-such-layout:demo",
        ],
    );
    snapshot(
        "policy-lint-unknown-field",
        &[
            "policy",
            "lint",
            "tests/it/snapshots/inputs/unknown-field.yaml",
        ],
    );
}
