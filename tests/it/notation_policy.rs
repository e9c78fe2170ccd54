//! A `notation` authority in imprint's own policies (issue 16): the vectors' Notation-signed
//! OCI layout (`generated/oci-layout-signed`: a JWS from the pki-rsa lab CA and a COSE
//! signature from pki-ec) allowed by a policy, denied when the trust store changes, composed
//! with a cosign key authority in `anyOf` / `allOf` / `threshold`, the same decision through
//! `audit`, and through the CLI (`verify --policy`, `policy lint`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::support::cli::{imprint, run};
use imprint::audit::{Manifests, RowOutcome, audit};
use imprint::gate::{Clock, Verifier};
use imprint::policy::{Decision, Outcome, Policy, PolicyError, ReasonCode, SignerSummary};

/// 2026-12-01T00:00:00Z, inside the generated leaves' validity (as tests/it/notation.rs).
const AT: u64 = 1_796_083_200;
const LAB_SUBJECT: &str = "x509.subject: CN=Lab Test Signer,O=Notary,L=Seattle,ST=WA,C=US";

#[derive(Debug)]
struct Fixed;
impl Clock for Fixed {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(AT)
    }
}

/// Resolved (layout images are matched by their resolved path, and the policies here name
/// the vectors by path: a symbolic link on the way, such as `../shared`, must not split them).
fn vdir() -> PathBuf {
    let dir = crate::support::vectors().join("notation");
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

fn layout() -> PathBuf {
    vdir().join("generated/oci-layout-signed")
}

fn image() -> String {
    format!("oci:{}:v1", layout().display())
}

fn unsigned_image() -> String {
    format!(
        "oci:{}:v1",
        vdir()
            .join("notation/test/e2e/testdata/registry/oci_layout/e2e")
            .display()
    )
}

fn root(pki: &str, file: &str) -> String {
    vdir()
        .join("generated")
        .join(pki)
        .join(file)
        .display()
        .to_string()
}

/// A notation authority trusting `cert` in `ca:lab`, with `level`.
fn notation_authority(name: &str, cert: &str, level: &str) -> String {
    format!(
        "    {name}:\n      notation:\n        trustStores: [{{store: 'ca:lab', path: '{cert}'}}]\n        trustedIdentities: ['{LAB_SUBJECT}']\n        signatureVerification: {{level: {level}}}\n"
    )
}

/// A policy: the authorities (YAML lines under `authorities:`), one enforce rule over the
/// vectors' notation layouts with `signatures`.
fn policy_yaml(authorities: &str, signatures: &str) -> String {
    let key = crate::support::crate_path("keys/demo.pub");
    format!(
        "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: deny\n  authorities:\n    release: {{key: {{file: '{}'}}}}\n{authorities}  rules:\n    - name: notation-images\n      images: ['oci:{}/**']\n      signatures: {signatures}\n",
        key.display(),
        vdir().display()
    )
}

fn load(yaml: &str) -> Policy {
    Policy::from_str_with_base(yaml, Path::new("/")).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn verifier(policy: Policy) -> Verifier {
    Verifier::builder(policy)
        .clock(Arc::new(Fixed))
        .build()
        .unwrap()
}

fn decide(policy: Policy, image: &str) -> Decision {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(verifier(policy).verify_str(image))
}

fn good() -> String {
    notation_authority("lab", &root("pki-rsa", "root.pem"), "strict")
}

fn bad_store() -> String {
    notation_authority("lab", &root("pki-rsa", "other-root.pem"), "strict")
}

fn json(d: &Decision) -> serde_json::Value {
    serde_json::to_value(d).unwrap()
}

#[test]
fn a_notation_authority_allows_the_signed_layout() {
    let d = decide(load(&policy_yaml(&good(), "{authority: lab}")), &image());
    assert_eq!(d.outcome(), Outcome::Allowed, "{:#}", json(&d));
    let req = &d.rules()[0].requirements()[0];
    assert!(req.met());
    assert_eq!(req.evidence().len(), 1);
    assert_eq!(req.evidence()[0].authority, "lab");
    let SignerSummary::Notation {
        subject,
        certificate,
        signing_scheme,
    } = &req.evidence()[0].signer
    else {
        panic!("{:?}", req.evidence()[0].signer)
    };
    assert_eq!(subject, "CN=Lab Test Signer,O=Notary,L=Seattle,ST=WA,C=US");
    assert!(certificate.starts_with("sha256:"), "{certificate}");
    assert_eq!(signing_scheme, "notary.x509");
    // The typed decision serialises the signer as `kind: notation`.
    let j = json(&d);
    assert_eq!(
        j["rules"][0]["requirements"][0]["evidence"][0]["signer"]["kind"], "notation",
        "{j:#}"
    );
    // The EC root trusts the other (COSE) signature: also allowed.
    let ec = notation_authority("lab", &root("pki-ec", "root.pem"), "strict");
    let d = decide(load(&policy_yaml(&ec, "{authority: lab}")), &image());
    assert_eq!(d.outcome(), Outcome::Allowed, "{:#}", json(&d));
}

#[test]
fn changing_the_trust_store_denies_with_the_reason() {
    let d = decide(
        load(&policy_yaml(&bad_store(), "{authority: lab}")),
        &image(),
    );
    assert_eq!(d.outcome(), Outcome::Denied);
    let reason = d.reason().unwrap();
    assert_eq!(reason.code, ReasonCode::IdentityMismatch, "{reason:?}");
    assert!(
        reason
            .message
            .contains("does not contain any trusted certificate"),
        "{reason:?}"
    );
    assert!(reason.message.contains("lab"), "{reason:?}");
    // A store path that does not exist: loads, but fails authenticity naming the store.
    let missing = notation_authority("lab", "/nonexistent/imprint-npol-root.pem", "strict");
    let d = decide(load(&policy_yaml(&missing, "{authority: lab}")), &image());
    assert_eq!(d.outcome(), Outcome::Denied);
    let reason = d.reason().unwrap();
    assert_eq!(reason.code, ReasonCode::IdentityMismatch, "{reason:?}");
    assert!(reason.message.contains("ca:lab"), "{reason:?}");
    // Another trusted identity: denied the same way.
    let other = good().replace("CN=Lab Test Signer,", "CN=Someone Else,");
    let d = decide(load(&policy_yaml(&other, "{authority: lab}")), &image());
    assert_eq!(d.outcome(), Outcome::Denied);
    let reason = d.reason().unwrap();
    assert_eq!(reason.code, ReasonCode::IdentityMismatch, "{reason:?}");
    assert!(reason.message.contains("trusted identities"), "{reason:?}");
}

#[test]
fn an_image_without_notation_signatures_is_denied_no_signatures() {
    let d = decide(
        load(&policy_yaml(&good(), "{authority: lab}")),
        &unsigned_image(),
    );
    assert_eq!(d.outcome(), Outcome::Denied, "{:#}", json(&d));
    let reason = d.reason().unwrap();
    assert_eq!(reason.code, ReasonCode::NoSignatures, "{reason:?}");
    assert!(reason.message.contains("lab"), "{reason:?}");
}

#[test]
fn expired_signing_certificate_is_denied_unless_expiry_checks_are_logged() {
    // After the leaves expire (2027-11-23), strict fails authenticTimestamp; the reason names
    // the check. With `authenticTimestamp: log` it is allowed.
    #[derive(Debug)]
    struct Late;
    impl Clock for Late {
        fn now(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH + Duration::from_secs(AT + 400 * 86_400)
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run_late = |yaml: &str| {
        let v = Verifier::builder(load(yaml))
            .clock(Arc::new(Late))
            .build()
            .unwrap();
        rt.block_on(v.verify_str(&image()))
    };
    let d = run_late(&policy_yaml(&good(), "{authority: lab}"));
    assert_eq!(d.outcome(), Outcome::Denied);
    let reason = d.reason().unwrap();
    assert_eq!(reason.code, ReasonCode::SignatureInvalid, "{reason:?}");
    assert!(
        reason.message.contains("authenticTimestamp") || reason.message.contains("expiry"),
        "{reason:?}"
    );
    let logged = good().replace(
        "{level: strict}",
        "{level: strict, override: {authenticTimestamp: log, expiry: log}}",
    );
    let d = run_late(&policy_yaml(&logged, "{authority: lab}"));
    assert_eq!(d.outcome(), Outcome::Allowed, "{:#}", json(&d));
    // What the level let through is in the decision's warnings.
    assert!(
        d.warnings()
            .iter()
            .any(|w| w.contains("lab: Notation") && w.contains("logged only")),
        "{:?}",
        d.warnings()
    );
}

#[test]
fn any_of_a_key_that_did_not_sign_and_the_notation_authority_allows() {
    let d = decide(
        load(&policy_yaml(
            &good(),
            "{anyOf: [{authority: release}, {authority: lab}]}",
        )),
        &image(),
    );
    assert_eq!(d.outcome(), Outcome::Allowed, "{:#}", json(&d));
    let req = &d.rules()[0].requirements()[0];
    assert_eq!(req.evidence().len(), 1);
    assert_eq!(req.evidence()[0].authority, "lab");
    // With the wrong store, neither is met.
    let d = decide(
        load(&policy_yaml(
            &bad_store(),
            "{anyOf: [{authority: release}, {authority: lab}]}",
        )),
        &image(),
    );
    assert_eq!(d.outcome(), Outcome::Denied);
}

#[test]
fn all_of_both_denies_naming_the_missing_signer() {
    let d = decide(
        load(&policy_yaml(
            &good(),
            "{allOf: [{authority: release}, {authority: lab}]}",
        )),
        &image(),
    );
    assert_eq!(d.outcome(), Outcome::Denied, "{:#}", json(&d));
    let reason = d.reason().unwrap();
    assert_eq!(reason.code, ReasonCode::NoSignatures, "{reason:?}");
    assert!(reason.message.contains("release"), "{reason:?}");
    assert!(!reason.message.contains("lab:"), "{reason:?}");
    // The notation half is recorded as met evidence.
    let req = &d.rules()[0].requirements()[0];
    assert!(!req.met());
}

#[test]
fn threshold_counts_each_notation_leaf_as_one_signer() {
    // Two notation authorities whose signatures come from different leaves (RSA and EC):
    // two distinct signers.
    let both = format!(
        "{}{}",
        good(),
        notation_authority("lab-ec", &root("pki-ec", "root.pem"), "strict")
    );
    let d = decide(
        load(&policy_yaml(
            &both,
            "{threshold: {count: 2, of: [lab, lab-ec]}}",
        )),
        &image(),
    );
    assert_eq!(d.outcome(), Outcome::Allowed, "{:#}", json(&d));
    // The same authority twice under another name is the same leaf: one signer.
    let twice = format!(
        "{}{}",
        good(),
        notation_authority("lab-again", &root("pki-rsa", "root.pem"), "strict")
    );
    let d = decide(
        load(&policy_yaml(
            &twice,
            "{threshold: {count: 2, of: [lab, lab-again]}}",
        )),
        &image(),
    );
    assert_eq!(d.outcome(), Outcome::Denied, "{:#}", json(&d));
    assert_eq!(d.reason().unwrap().code, ReasonCode::ThresholdNotMet);
    // A key that did not sign does not make up the count.
    let d = decide(
        load(&policy_yaml(
            &good(),
            "{threshold: {count: 2, of: [lab, release]}}",
        )),
        &image(),
    );
    assert_eq!(d.outcome(), Outcome::Denied);
    assert_eq!(d.reason().unwrap().code, ReasonCode::ThresholdNotMet);
}

#[test]
fn audit_over_a_manifest_reports_the_same_decision() {
    let manifest = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: signed\n  namespace: prod\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {}\n",
        image()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (authority, outcome, code) in [
        (good(), RowOutcome::Allowed, None),
        (
            bad_store(),
            RowOutcome::Denied,
            Some(ReasonCode::IdentityMismatch),
        ),
    ] {
        let policy = load(&policy_yaml(&authority, "{authority: lab}"));
        let direct = decide(policy.clone(), &image());
        let mut m = Manifests::default();
        m.read_str(&manifest, "set.yaml").unwrap();
        let report = rt.block_on(audit(&verifier(policy), m));
        assert_eq!(report.rows.len(), 1);
        let row = &report.rows[0];
        assert_eq!(row.outcome, outcome, "{row:?}");
        match code {
            None => assert_eq!(direct.outcome(), Outcome::Allowed),
            Some(code) => {
                assert_eq!(direct.reason().unwrap().code, code);
                assert_eq!(row.reasons.first().map(String::as_str), Some(code.as_str()));
            }
        }
    }
}

#[test]
fn an_unknown_field_in_the_authority_is_refused_naming_it() {
    let yaml = policy_yaml(
        &good().replace("trustedIdentities:", "trustedIdentity:"),
        "{authority: lab}",
    );
    let e = Policy::from_str_with_base(&yaml, Path::new("/")).unwrap_err();
    let PolicyError::UnknownField {
        field, suggestion, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(field, "trustedIdentity");
    assert_eq!(suggestion.as_deref(), Some("trustedIdentities"));
    let text = e.to_string();
    assert!(text.contains("trustedIdentity"), "{text}");
    // Level `integrity` override: refused naming the field.
    let yaml = policy_yaml(
        &good().replace(
            "{level: strict}",
            "{level: strict, override: {integrity: log}}",
        ),
        "{authority: lab}",
    );
    let e = Policy::from_str_with_base(&yaml, Path::new("/")).unwrap_err();
    assert!(
        e.to_string()
            .contains("spec.authorities.lab.notation.signatureVerification.override"),
        "{e}"
    );
}

#[test]
fn cli_verify_policy_and_lint_know_the_notation_kind() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ok = write("ok.yaml", &policy_yaml(&good(), "{authority: lab}"));
    let bad = write("bad.yaml", &policy_yaml(&bad_store(), "{authority: lab}"));
    let (code, out, err) = run(imprint().args(["verify", "--policy"]).arg(&ok).arg(image()));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(imprint()
        .args(["verify", "--policy"])
        .arg(&bad)
        .arg(image()));
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("identity-mismatch"),
        "{out}\n{err}"
    );
    // Lint: a `skip` level and an unusable store are reported.
    let skip = write(
        "skip.yaml",
        &policy_yaml(
            "    lab:\n      notation: {signatureVerification: {level: skip}}\n    lab2:\n      notation:\n        trustStores: [{store: 'ca:x', path: /nonexistent/x.pem}]\n        trustedIdentities: ['*']\n",
            "{anyOf: [{authority: lab}, {authority: lab2}]}",
        ),
    );
    let (_, out, err) = run(imprint().args(["policy", "lint"]).arg(&skip));
    let all = format!("{out}{err}");
    assert!(all.contains("notation-skip"), "{all}");
    assert!(all.contains("notation-store-unusable"), "{all}");
}
