//! The sigstore-conformance `bundle-verify` suite, walked offline through the library API by the
//! rules of `/work/shared/vectors/sigstore-conformance/HOW-TO-RUN.md`. Every case is reported by
//! name; none is skipped or special-cased.

use std::path::{Path, PathBuf};

use imprint::bundle::{
    Artifact, GithubClaims, IdentityPolicy, Matcher, TrustRoot, VerificationPolicy, verify_bundle,
};

const SUITE: &str = "/work/shared/vectors/sigstore-conformance/bundle-verify";
const PGI_ROOT: &str = "/work/shared/vectors/trust-roots/pgi-trusted_root.json";
const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Run one case the way the upstream harness does; Ok = verified, Err = rejected (with why).
fn run_case(dir: &Path) -> Result<(), String> {
    let bundle = std::fs::read(dir.join("bundle.sigstore.json")).map_err(|e| e.to_string())?;
    let artifact_path = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        Path::new(SUITE).join("a.txt")
    };
    let artifact = std::fs::read(artifact_path).map_err(|e| e.to_string())?;
    let root_path = if dir.join("trusted_root.json").exists() {
        dir.join("trusted_root.json")
    } else {
        PathBuf::from(PGI_ROOT)
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
    let mut cases: Vec<PathBuf> = std::fs::read_dir(SUITE)
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
