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
