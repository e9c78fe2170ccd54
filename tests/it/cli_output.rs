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

/// A hostile registry's text (an error body with an escape sequence, a carriage return,
/// newlines forging `Verified OK` and `error:` lines, and a bidi override) reaches the
/// terminal escaped: no raw control or bidi character, no forged line. Through the error
/// chain (`verify --key`) and through the decision table (`verify --policy`).
#[tokio::test(flavor = "multi_thread")]
async fn registry_text_reaches_the_terminal_escaped() {
    use crate::support::proxy::{Fault, Proxy};
    use crate::support::{push_random_image, registry, unique_repo};

    let repo = unique_repo("hostile-text");
    let (_, digest) = push_random_image(&repo).await;
    let proxy = Proxy::start(registry()).await;
    let path = repo.split_once('/').map_or(repo.as_str(), |(_, p)| p);
    let image = format!("{}/{path}@{digest}", proxy.addr());
    let hostile = "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"\u{1b}[2J\u{1b}[31mgone\r\
                   \nVerified OK\n\u{202e}KO deifireV\u{9b}\u{7f}\u{2066}\"}]}";
    for status in [403, 500, 400] {
        proxy.clear_faults();
        let mut fault = Fault::body("application/json", hostile.as_bytes().to_vec());
        fault.status = status;
        proxy.inject("GET", "/manifests/", fault.clone());
        proxy.inject("HEAD", "/manifests/", fault);

        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("policy.yaml");
        std::fs::write(
            &policy,
            format!(
                "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nmetadata: {{name: hostile}}\n\
                 spec:\n  authorities:\n    k: {{key: {{file: {}}}}}\n  rules:\n    - name: all\n      \
                 images: [\"**\"]\n      signatures: {{authority: k}}\n",
                crate::support::crate_path("keys/demo.pub").display()
            ),
        )
        .unwrap();
        let runs = [
            vec!["verify", "--key", "keys/demo.pub", &image],
            vec!["verify", "--policy", policy.to_str().unwrap(), &image],
        ];
        for args in runs {
            let (code, stdout, stderr) = tokio::task::block_in_place(|| run(imprint().args(&args)));
            let all = format!("{stdout}{stderr}");
            assert_ne!(code, 0, "{args:?} succeeded:\n{all}");
            assert!(
                all.contains("KO deifireV"),
                "{args:?} (status {status}) did not show the registry's text:\n{all}"
            );
            let raw: Vec<char> = all
                .chars()
                .filter(|&c| c != '\n' && imprint::format::text::is_unsafe_for_terminal(c))
                .collect();
            assert!(
                raw.is_empty(),
                "{args:?} (status {status}) printed raw {raw:?}:\n{}",
                all.escape_debug()
            );
            for line in all.lines() {
                assert!(
                    !line.trim_start().starts_with("Verified OK"),
                    "{args:?} (status {status}) printed a forged line:\n{all}"
                );
            }
        }
    }
}
