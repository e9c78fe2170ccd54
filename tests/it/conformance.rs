//! The sigstore-conformance `bundle-verify` suite, walked offline through the library API by the
//! rules of `../shared/vectors/sigstore-conformance/HOW-TO-RUN.md`. Every case is reported by
//! name; none is skipped or special-cased.

use std::path::{Path, PathBuf};

use crate::support::vectors;
use imprint::trust::{GithubClaims, IdentityPolicy, Matcher, TrustRoot};
use imprint::verify::bundle::{Artifact, VerificationPolicy, verify_bundle};

/// The suite's `bundle-verify` directory in the shared vectors.
fn suite() -> PathBuf {
    vectors().join("sigstore-conformance/bundle-verify")
}

/// The Public Good Instance trust root the suite uses by default.
fn pgi_root() -> PathBuf {
    vectors().join("trust-roots/pgi-trusted_root.json")
}
const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Run one case the way the upstream harness does; Ok = verified, Err = rejected (with why).
fn run_case(dir: &Path) -> Result<(), String> {
    let bundle = std::fs::read(dir.join("bundle.sigstore.json")).map_err(|e| e.to_string())?;
    let artifact_path = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        suite().join("a.txt")
    };
    let artifact = std::fs::read(artifact_path).map_err(|e| e.to_string())?;
    let root_path = if dir.join("trusted_root.json").exists() {
        dir.join("trusted_root.json")
    } else {
        pgi_root()
    };
    let trust = TrustRoot::from_file(&root_path).map_err(|e| e.to_string())?;
    let policy = if dir.join("key.pub").exists() {
        let pem_text = std::fs::read(dir.join("key.pub")).map_err(|e| e.to_string())?;
        let block = pem::parse(pem_text).map_err(|e| e.to_string())?;
        VerificationPolicy::Key {
            spki_der: block.into_contents(),
        }
    } else {
        let read_or = |name: &str, default: &str| {
            std::fs::read_to_string(dir.join(name))
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| default.to_owned())
        };
        VerificationPolicy::Keyless(
            IdentityPolicy::new(
                Matcher::Exact(read_or("identity", DEFAULT_IDENTITY)),
                Matcher::Exact(read_or("issuer", DEFAULT_ISSUER)),
                GithubClaims::default(),
            )
            .map_err(|e| e.to_string())?,
        )
    };
    verify_bundle(&bundle, Some(Artifact::Bytes(&artifact)), &policy, &trust)
        .map(|_| ())
        .map_err(|e| format!("[{}] {e}", e.check()))
}

#[test]
fn conformance_bundle_verify() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(suite())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let (mut passed, mut failed) = (0, Vec::new());
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let expect_fail = name.ends_with("_fail");
        let outcome = run_case(dir);
        let ok = outcome.is_err() == expect_fail;
        let detail = match &outcome {
            Ok(()) => "verified".to_owned(),
            Err(e) => format!("rejected: {e}"),
        };
        println!("{} {name}: {detail}", if ok { "PASS" } else { "FAIL" });
        if ok {
            passed += 1;
        } else {
            failed.push(name);
        }
    }
    println!("conformance: {passed} passed, {} failed", failed.len());
    assert_eq!(cases.len(), 70, "the suite has 70 cases");
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

/// `imprint verify-bundle ARGS`, as the sigstore-conformance harness runs it: (exit code,
/// stderr).
fn cli_run(args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = crate::support::cli::run(
        crate::support::cli::imprint()
            .arg("verify-bundle")
            .args(args),
    );
    (code, stderr)
}

/// The exit code of `imprint verify-bundle ARGS`.
fn cli(args: &[&str]) -> i32 {
    cli_run(args).0
}

#[test]
fn cli_shape_on_a_few_cases() {
    let suite = suite().display().to_string();
    let pgi_root = pgi_root().display().to_string();
    let case = |c: &str, f: &str| format!("{suite}/{c}/{f}");
    let a = format!("{suite}/a.txt");
    let ok = |c: &str| {
        cli(&[
            "--bundle",
            &case(c, "bundle.sigstore.json"),
            "--certificate-identity",
            DEFAULT_IDENTITY,
            "--certificate-oidc-issuer",
            DEFAULT_ISSUER,
            "--trusted-root",
            &pgi_root,
            &a,
        ])
    };
    assert_eq!(ok("happy-path-v0.3"), 0);
    assert_eq!(ok("signature-mismatch_fail"), 1);
    // Digest form of ARTIFACT, default (embedded) root.
    let digest = imprint::format::digest::Digest::of(&std::fs::read(&a).unwrap()).to_string();
    let code = cli(&[
        "--bundle",
        &case("happy-path-v0.2", "bundle.sigstore.json"),
        "--certificate-identity-regexp",
        "https://github\\.com/sigstore-conformance/.*",
        "--certificate-oidc-issuer",
        DEFAULT_ISSUER,
        &digest,
    ]);
    assert_eq!(code, 0);
    // Managed key.
    let code = cli(&[
        "--bundle",
        &case("managed-key-happy-path", "bundle.sigstore.json"),
        "--key",
        &case("managed-key-happy-path", "key.pub"),
        &a,
    ]);
    assert_eq!(code, 0);
    // Regression: `--key` used the file's SPKI bytes as they were, so the same key with a
    // compressed point was shown as another signer. Now every spelling is one signer.
    let der = pem::parse(std::fs::read(case("managed-key-happy-path", "key.pub")).unwrap())
        .unwrap()
        .into_contents();
    let dir = tempfile::tempdir().unwrap();
    let mut signers = Vec::new();
    for (i, spelling) in crate::support::point_encodings(&der).iter().enumerate() {
        let path = dir.path().join(format!("{i}.pub"));
        std::fs::write(&path, spelling).unwrap();
        let (code, stderr) = cli_run(&[
            "--bundle",
            &case("managed-key-happy-path", "bundle.sigstore.json"),
            "--key",
            path.to_str().unwrap(),
            &a,
        ]);
        assert_eq!(code, 0, "{stderr}");
        let signer = stderr.lines().find(|l| l.starts_with("signer:")).unwrap();
        signers.push(signer.to_owned());
    }
    assert_eq!(signers[0], signers[1], "compressed point");
    assert_eq!(signers[0], signers[2], "hybrid point");
    // Keyless without identity is refused (exit 2); key plus identity is a usage error.
    let code = cli(&[
        "--bundle",
        &case("happy-path-v0.3", "bundle.sigstore.json"),
        &a,
    ]);
    assert_eq!(code, 2);
    let code = cli(&[
        "--bundle",
        &case("happy-path-v0.3", "bundle.sigstore.json"),
        "--certificate-identity",
        DEFAULT_IDENTITY,
        &a,
    ]);
    assert_eq!(code, 2, "issuer missing");
    let (code, stderr) = cli_run(&[
        "--bundle",
        "b",
        "--key",
        "k",
        "--certificate-identity",
        "x",
        "a",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    // Missing bundle file: operational error.
    let code = cli(&[
        "--bundle",
        "/nonexistent",
        "--certificate-identity",
        "x",
        "--certificate-oidc-issuer",
        "y",
        &a,
    ]);
    assert_eq!(code, 2);
    // trust-root show parses the embedded root.
    let (code, stdout, stderr) =
        crate::support::cli::run(crate::support::cli::imprint().args(["trust-root", "show"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("Fulcio") || stdout.contains("fulcio"),
        "{stdout}"
    );
}

/// Two `_fail` cases are rejected for an encoding problem before the defect their README
/// describes is reached. Remove the encoding noise and check the described defect is caught too.
#[test]
fn fail_cases_also_rejected_for_the_described_defect() {
    let case = suite().join("rekor2-timestamp-with-incorrect-time_fail");
    let trust = TrustRoot::from_file(&case.join("trusted_root.json")).unwrap();
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap()).unwrap();
    // The README's `base64` wrapped the timestamp at 76 columns (Go's decoder skips newlines).
    let ts = &mut b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"];
    *ts = ts.as_str().unwrap().replace(['\n', '\r'], "").into();
    let artifact = std::fs::read(suite().join("a.txt")).unwrap();
    let policy = VerificationPolicy::Keyless(
        IdentityPolicy::new(
            Matcher::Exact(DEFAULT_IDENTITY.into()),
            Matcher::Exact(DEFAULT_ISSUER.into()),
            GithubClaims::default(),
        )
        .unwrap(),
    );
    let e = verify_bundle(
        &serde_json::to_vec(&b).unwrap(),
        Some(Artifact::Bytes(&artifact)),
        &policy,
        &trust,
    )
    .unwrap_err();
    println!(
        "rekor2-timestamp-with-incorrect-time (unwrapped): [{}] {e}",
        e.check()
    );
    assert!(
        matches!(e.check(), "certificate" | "certificate-chain" | "timestamp"),
        "{e}"
    );
}

/// Regression (issue 10): a bundle's `x509CertificateChain` of any length was parsed and
/// walked. Past max_cert_chain_len (10) it is refused by count, naming the limit.
#[test]
fn an_overlong_bundle_certificate_chain_is_refused_by_count() {
    let case = suite().join("happy-path-v0.2");
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap()).unwrap();
    let certs = &mut b["verificationMaterial"]["x509CertificateChain"]["certificates"];
    let leaf = certs[0].clone();
    *certs = serde_json::Value::Array(vec![leaf; 11]);
    let artifact = std::fs::read(suite().join("a.txt")).unwrap();
    let policy = VerificationPolicy::Keyless(
        IdentityPolicy::new(
            Matcher::Exact(DEFAULT_IDENTITY.into()),
            Matcher::Exact(DEFAULT_ISSUER.into()),
            GithubClaims::default(),
        )
        .unwrap(),
    );
    let trust = TrustRoot::from_file(&pgi_root()).unwrap();
    let e = verify_bundle(
        &serde_json::to_vec(&b).unwrap(),
        Some(Artifact::Bytes(&artifact)),
        &policy,
        &trust,
    )
    .unwrap_err();
    assert!(e.to_string().contains("max_cert_chain_len"), "{e}");
}
