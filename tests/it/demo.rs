//! The README's offline demo keeps working: the committed OCI layout verifies with the
//! committed demo key and satisfies the demo policy; another key does not.

use crate::support::cli::imprint;

use imprint::gate::Verifier;
use imprint::policy::{Outcome, Policy};

#[test]
fn demo_image_verifies_with_demo_key() {
    let out = imprint()
        .args([
            "verify",
            "--key",
            "keys/demo.pub",
            "oci:testdata/demo-image:demo",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let payloads: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        payloads[0]["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(payloads[0]["optional"]["env"], "demo");

    let out = imprint()
        .args([
            "verify-attestation",
            "--key",
            "keys/demo.pub",
            "--type",
            "cyclonedx",
            "oci:testdata/demo-image:demo",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A key that did not sign it.
    let out = imprint()
        .args([
            "verify",
            "--key",
            "keys/connaisseur-alice.pub",
            "oci:testdata/demo-image:demo",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn demo_policy_through_the_cli() {
    let out = imprint()
        .args([
            "verify",
            "--policy",
            "policies/demo.yaml",
            "oci:testdata/demo-image:demo",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("IMAGE") && table.contains("allowed"),
        "{table}"
    );
    let out = imprint()
        .args([
            "verify",
            "--policy",
            "policies/demo.yaml",
            "-o",
            "json",
            "oci:testdata/demo-image:demo",
            "oci:testdata/no-such-layout:x",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "one image cannot be resolved: denied"
    );
    let decisions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decisions[0]["outcome"], "allowed");
    assert_eq!(decisions[1]["outcome"], "denied");
    assert_eq!(decisions[1]["reason"]["code"], "registry-error");
    let out = imprint()
        .args(["policy", "lint", "policies/demo.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn demo_policy_allows_the_demo_image() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = Policy::from_path(&root.join("policies/demo.yaml")).unwrap();
    let verifier = Verifier::builder(policy).build().unwrap();
    // Layout paths in references are relative to the working directory.
    std::env::set_current_dir(root).unwrap();
    let d = verifier.verify_str("oci:testdata/demo-image:demo").await;
    assert_eq!(
        d.outcome,
        Outcome::Allowed,
        "{}",
        serde_json::to_string_pretty(&d).unwrap()
    );
    assert_eq!(d.rules.len(), 1);
    assert!(d.rules[0].requirements.iter().all(|r| r.met));
}
