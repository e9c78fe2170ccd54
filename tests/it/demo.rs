//! The README's offline demo keeps working: the committed OCI layout verifies with the
//! committed demo key and satisfies the demo policy; another key does not.

use imprint::gate::Verifier;
use imprint::policy::{Outcome, Policy};

use crate::support::cli::{imprint, run};
use crate::support::crate_path;

const DEMO: &str = "oci:testdata/demo-image:demo";

#[test]
fn demo_image_verifies_with_demo_key() {
    let (code, stdout, stderr) = run(imprint().args(["verify", "--key", "keys/demo.pub", DEMO]));
    assert_eq!(code, 0, "{stderr}");
    let payloads: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        payloads[0]["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(payloads[0]["optional"]["env"], "demo");
    // Signed with the identity the image has in a registry, never the layout's file path.
    assert_eq!(
        payloads[0]["critical"]["identity"]["docker-reference"],
        "registry.example/imprint/demo:demo"
    );

    let (code, _, stderr) = run(imprint().args([
        "verify-attestation",
        "--key",
        "keys/demo.pub",
        "--type",
        "cyclonedx",
        DEMO,
    ]));
    assert_eq!(code, 0, "{stderr}");

    // A key that did not sign it: rejected by the signature check of its one layer.
    let (code, stdout, stderr) =
        run(imprint().args(["verify", "--key", "keys/connaisseur-alice.pub", DEMO]));
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("no matching signatures"), "{stderr}");
    assert!(
        stderr.contains("layer 0") && stderr.contains("signature check failed"),
        "{stderr}"
    );
}

#[test]
fn demo_policy_through_the_cli() {
    let (code, stdout, stderr) =
        run(imprint().args(["verify", "--policy", "policies/demo.yaml", DEMO]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("IMAGE") && stdout.contains("allowed"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(imprint().args([
        "verify",
        "--policy",
        "policies/demo.yaml",
        "-o",
        "json",
        DEMO,
        "oci:testdata/no-such-layout:x",
    ]));
    assert_eq!(code, 1, "one image cannot be resolved: denied\n{stderr}");
    let decisions: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(decisions[0]["outcome"], "allowed");
    assert_eq!(decisions[1]["outcome"], "denied");
    assert_eq!(decisions[1]["reason"]["code"], "registry-error");
    let (code, stdout, stderr) = run(imprint().args(["policy", "lint", "policies/demo.yaml"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[tokio::test]
async fn demo_policy_allows_the_demo_image() {
    let policy = Policy::from_path(&crate_path("policies/demo.yaml")).unwrap();
    let verifier = Verifier::builder(policy).build().unwrap();
    // The demo policy names the layout by its relative path, and layout paths are relative to
    // the working directory: cargo runs the test binary in the crate root. (It is not changed
    // here: the working directory belongs to every test of this binary.)
    assert_eq!(
        std::env::current_dir().unwrap().canonicalize().unwrap(),
        crate_path("").canonicalize().unwrap(),
        "run the tests from the crate root"
    );
    let d = verifier.verify_str(DEMO).await;
    assert_eq!(
        d.outcome(),
        Outcome::Allowed,
        "{}",
        serde_json::to_string_pretty(&d).unwrap()
    );
    assert_eq!(d.rules().len(), 1);
    assert!(d.rules()[0].requirements().iter().all(|r| r.met()));
}

/// Regression (issue 11): the demo policy matched `oci:` paths as written, so it worked only
/// from the repository root. Layout patterns are now relative to the policy file and images
/// are matched by absolute path: the same decision from the filesystem root, from
/// `testdata/`, and with absolute paths.
#[test]
fn demo_policy_works_from_any_directory() {
    let root = crate_path("");
    let policy = root.join("policies/demo.yaml");
    let image = format!("oci:{}:demo", root.join("testdata/demo-image").display());
    for (dir, image, policy) in [
        (
            std::path::PathBuf::from("/"),
            image,
            policy.display().to_string(),
        ),
        (
            root.join("testdata"),
            "oci:demo-image:demo".to_owned(),
            "../policies/demo.yaml".to_owned(),
        ),
        (
            root.join("keys"),
            "oci:../testdata/./demo-image:demo".to_owned(),
            "../policies/demo.yaml".to_owned(),
        ),
    ] {
        let (code, stdout, stderr) = run(imprint()
            .current_dir(&dir)
            .args(["verify", "--policy", &policy, &image]));
        assert_eq!(code, 0, "from {}: {stdout}{stderr}", dir.display());
        assert!(stdout.contains("allowed"), "{stdout}");
    }
    // A copy of the layout elsewhere, named by the same relative path, is not matched.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir(other.path().join("testdata")).unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(root.join("testdata/demo-image"))
        .arg(other.path().join("testdata/"))
        .status()
        .unwrap();
    assert!(copied.success());
    let (code, stdout, _) = run(imprint().current_dir(other.path()).args([
        "verify",
        "--policy",
        &policy.display().to_string(),
        "oci:testdata/demo-image:demo",
    ]));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("no-matching-rule"), "{stdout}");
}
