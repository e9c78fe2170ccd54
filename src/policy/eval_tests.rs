//! Scenario table for evaluation: each combinator met and unmet by one signer, exclusions,
//! noMatch, modes, content checks, and the threshold de-duplication rules.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::{Value, json};

use super::*;
use crate::policy::{SignedByOrigin, SignerSummary, render_table};
use crate::verify::proof::TlogEvidence;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const CI_IDENTITY: &str =
    "https://github.com/acme/payments/.github/workflows/release.yml@refs/tags/v1.0.0";

fn key_pem(label: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("spki-of-{label}"));
    format!("-----BEGIN PUBLIC KEY-----\\n{b64}\\n-----END PUBLIC KEY-----\\n")
}

fn fingerprint(label: &str) -> String {
    Digest::of(format!("spki-of-{label}").as_bytes()).to_string()
}

fn image_digest() -> Digest {
    Digest::of(b"the image manifest")
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) // 2023-11-14T22:13:20Z
}

/// A policy with the shared authorities and the given `rules:` YAML (indented 2 spaces).
fn policy(no_match: &str, rules: &str) -> Policy {
    let yaml = format!(
        r#"apiVersion: imprint.dev/v1
kind: TrustPolicy
spec:
  noMatch: {no_match}
  authorities:
    release: {{key: {{pem: "{release}"}}}}
    alice: {{key: {{pem: "{alice}"}}}}
    alice-again: {{key: {{pem: "{alice}"}}}}
    bob: {{key: {{pem: "{bob}"}}}}
    carol: {{key: {{pem: "{carol}"}}}}
    legacy-only: {{key: {{pem: "{legacy}"}}, signatureFormat: legacy}}
    ci:
      keyless:
        issuer: {ISSUER}
        subjectRegExp: '^https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/v.*$'
        github: {{repository: acme/payments}}
    allow: {{static: pass}}
    block: {{static: fail}}
  rules:
{rules}"#,
        release = key_pem("release"),
        alice = key_pem("alice"),
        bob = key_pem("bob"),
        carol = key_pem("carol"),
        legacy = key_pem("legacy"),
    );
    Policy::from_str_with_base(&yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn legacy_source() -> Source {
    Source::LegacyLayer {
        manifest: Digest::of(b"sig manifest"),
        layer: Digest::of(b"sig layer"),
        index: 0,
    }
}

fn bundle_source() -> Source {
    Source::Bundle {
        referrer: Digest::of(b"referrer"),
        layer: Digest::of(b"bundle"),
    }
}

fn key_signer(label: &str) -> Signer {
    Signer::Key {
        fingerprint: fingerprint(label),
    }
}

fn ci_signer(repository: &str) -> Signer {
    Signer::Certificate {
        identity: CI_IDENTITY.into(),
        issuer: ISSUER.into(),
        extensions: BTreeMap::from([(
            "github-workflow-repository".to_string(),
            repository.to_string(),
        )]),
    }
}

fn sig(signer: Signer) -> VerifiedSignature {
    sig_for(signer, image_digest(), legacy_source())
}

fn sig_for(signer: Signer, image: Digest, source: Source) -> VerifiedSignature {
    VerifiedSignature::fabricated(
        image,
        Some("registry.acme.io/payments/api".into()),
        BTreeMap::new(),
        b"{}".to_vec(),
        signer,
        Some(TlogEvidence {
            log_index: 42,
            integrated_time: 1_699_999_000,
            log_id: "c0ffee".into(),
        }),
        source,
    )
}

fn att(signer: Signer, predicate_type: &str, predicate: Value) -> VerifiedAttestation {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.acme.io/payments/api", "digest": {"sha256": image_digest().hex()}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    VerifiedAttestation::fabricated(
        image_digest(),
        predicate_type.into(),
        statement,
        b"envelope".to_vec(),
        signer,
        None,
        bundle_source(),
    )
}

struct Ev(Evidence);

impl Ev {
    fn new(reference: &str) -> Self {
        Self(Evidence::new(reference.parse().unwrap(), image_digest()))
    }
    fn sig(mut self, authority: &str, s: VerifiedSignature) -> Self {
        self.0
            .by_authority
            .entry(authority.into())
            .or_default()
            .signatures
            .push(s);
        self
    }
    fn att(mut self, authority: &str, a: VerifiedAttestation) -> Self {
        self.0
            .by_authority
            .entry(authority.into())
            .or_default()
            .attestations
            .push(a);
        self
    }
    fn rejected(mut self, authority: &str, code: ReasonCode, message: &str) -> Self {
        self.0
            .by_authority
            .entry(authority.into())
            .or_default()
            .rejected
            .push(Rejection {
                code,
                message: message.into(),
            });
        self
    }
    fn discovery_error(mut self, e: &str) -> Self {
        self.0
            .discovery_errors
            .push(Reason::new(ReasonCode::RegistryError, e));
        self
    }
    fn timed_out(mut self, e: &str) -> Self {
        self.0
            .discovery_errors
            .push(Reason::new(ReasonCode::Timeout, e));
        self
    }
}

const API: &str = "registry.acme.io/payments/api:v1";

const PAYMENTS: &str = r#"  - name: payments
    images: ["registry.acme.io/payments/**"]
    exclude: ["registry.acme.io/payments/sandbox/**"]
    signatures:
      anyOf:
        - authority: release
        - allOf:
            - authority: ci
            - threshold: {count: 2, of: [alice, bob, carol]}
"#;

fn expect(decision: &Decision, outcome: Outcome, code: Option<ReasonCode>) {
    assert_eq!(
        decision.outcome,
        outcome,
        "{}",
        serde_json::to_string_pretty(decision).unwrap()
    );
    assert_eq!(
        decision.reason.as_ref().map(|r| r.code),
        code,
        "{}",
        serde_json::to_string_pretty(decision).unwrap()
    );
}

#[test]
fn any_of_met_by_release_key() {
    let p = policy("deny", PAYMENTS);
    let d = evaluate(
        &p,
        &Ev::new(API).sig("release", sig(key_signer("release"))).0,
        now(),
    );
    expect(&d, Outcome::Allowed, None);
    let req = &d.rules[0].requirements[0];
    assert!(req.met);
    assert_eq!(req.evidence[0].authority, "release");
    assert_eq!(
        req.evidence[0].signer,
        SignerSummary::Key {
            fingerprint: fingerprint("release")
        }
    );
    assert_eq!(req.evidence[0].tlog.as_ref().unwrap().log_index, 42);
}

#[test]
fn any_of_unmet_without_signatures() {
    let p = policy("deny", PAYMENTS);
    let d = evaluate(&p, &Ev::new(API).0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::NoSignatures));
    assert_eq!(d.rules[0].name, "payments");
    assert!(!d.rules[0].met);
}

#[test]
fn all_of_met_by_ci_and_two_maintainers() {
    let p = policy("deny", PAYMENTS);
    let ev = Ev::new(API)
        .sig("ci", sig(ci_signer("acme/payments")))
        .sig("alice", sig(key_signer("alice")))
        .sig("bob", sig(key_signer("bob")));
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Allowed, None);
    let authorities: Vec<&str> = d.rules[0].requirements[0]
        .evidence
        .iter()
        .map(|e| e.authority.as_str())
        .collect();
    assert_eq!(authorities, ["ci", "alice", "bob"]);
}

#[test]
fn all_of_unmet_when_ci_missing() {
    let p = policy("deny", PAYMENTS);
    let ev = Ev::new(API)
        .sig("alice", sig(key_signer("alice")))
        .sig("bob", sig(key_signer("bob")));
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::NoSignatures));
    assert!(
        d.reason
            .unwrap()
            .message
            .contains("ci: no verified signatures")
    );
}

#[test]
fn threshold_unmet_by_one_signer() {
    let p = policy("deny", PAYMENTS);
    let ev = Ev::new(API)
        .sig("ci", sig(ci_signer("acme/payments")))
        .sig("alice", sig(key_signer("alice")));
    let d = evaluate(&p, &ev.0, now());
    // anyOf fails; its reason carries both branches.
    assert_eq!(d.outcome, Outcome::Denied);
    let message = &d.reason.as_ref().unwrap().message;
    assert!(
        message
            .contains("2 of [alice, bob, carol] required, 1 distinct signer(s) verified (alice)"),
        "{message}"
    );
}

#[test]
fn threshold_alone_met_and_unmet() {
    let rules = r#"  - name: two-of-three
    images: ["registry.acme.io/**"]
    signatures: {threshold: {count: 2, of: [alice, bob, carol]}}
"#;
    let p = policy("deny", rules);
    let met = Ev::new(API)
        .sig("bob", sig(key_signer("bob")))
        .sig("carol", sig(key_signer("carol")));
    expect(&evaluate(&p, &met.0, now()), Outcome::Allowed, None);
    let unmet = Ev::new(API).sig("carol", sig(key_signer("carol")));
    expect(
        &evaluate(&p, &unmet.0, now()),
        Outcome::Denied,
        Some(ReasonCode::ThresholdNotMet),
    );
}

#[test]
fn same_signer_twice_counts_once() {
    let rules = r#"  - name: two
    images: ["registry.acme.io/**"]
    signatures: {threshold: {count: 2, of: [alice, bob]}}
"#;
    let p = policy("deny", rules);
    let ev = Ev::new(API).sig("alice", sig(key_signer("alice"))).sig(
        "alice",
        sig_for(key_signer("alice"), image_digest(), bundle_source()),
    );
    expect(
        &evaluate(&p, &ev.0, now()),
        Outcome::Denied,
        Some(ReasonCode::ThresholdNotMet),
    );
}

#[test]
fn same_key_under_two_names_counts_once() {
    let rules = r#"  - name: two
    images: ["registry.acme.io/**"]
    signatures: {threshold: {count: 2, of: [alice, alice-again, bob]}}
"#;
    let p = policy("deny", rules);
    let ev = Ev::new(API)
        .sig("alice", sig(key_signer("alice")))
        .sig("alice-again", sig(key_signer("alice")));
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::ThresholdNotMet));
    let req = &d.rules[0].requirements[0];
    assert!(
        req.details
            .iter()
            .any(|r| r.message.contains("share signers")),
        "{req:?}"
    );
    // Adding bob makes two distinct signers.
    let ev = Ev::new(API)
        .sig("alice", sig(key_signer("alice")))
        .sig("alice-again", sig(key_signer("alice")))
        .sig("bob", sig(key_signer("bob")));
    expect(&evaluate(&p, &ev.0, now()), Outcome::Allowed, None);
}

#[test]
fn wrong_key_under_authority_is_identity_mismatch() {
    let p = policy("deny", PAYMENTS);
    // The glue put a signature by carol's key under `release`: the engine re-checks.
    let ev = Ev::new(API).sig("release", sig(key_signer("carol")));
    let d = evaluate(&p, &ev.0, now());
    assert_eq!(d.outcome, Outcome::Denied);
    assert_eq!(d.reason.unwrap().code, ReasonCode::IdentityMismatch);
}

#[test]
fn keyless_github_claim_mismatch() {
    let rules = r#"  - name: ci
    images: ["registry.acme.io/**"]
    signatures: {authority: ci}
"#;
    let p = policy("deny", rules);
    let ok = Ev::new(API).sig("ci", sig(ci_signer("acme/payments")));
    expect(&evaluate(&p, &ok.0, now()), Outcome::Allowed, None);
    let bad = Ev::new(API).sig("ci", sig(ci_signer("evil/payments")));
    let d = evaluate(&p, &bad.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::IdentityMismatch));
    assert!(
        d.reason
            .unwrap()
            .message
            .contains("github workflow repository: expected `acme/payments`")
    );
}

#[test]
fn digest_mismatch_is_reported() {
    let rules = r#"  - name: r
    images: ["registry.acme.io/**"]
    signatures: {authority: release}
"#;
    let p = policy("deny", rules);
    let ev = Ev::new(API).sig(
        "release",
        sig_for(key_signer("release"), Digest::of(b"other"), legacy_source()),
    );
    expect(
        &evaluate(&p, &ev.0, now()),
        Outcome::Denied,
        Some(ReasonCode::DigestMismatch),
    );
}

#[test]
fn rejected_candidates_give_the_reason() {
    let rules = r#"  - name: r
    images: ["registry.acme.io/**"]
    signatures: {authority: release}
"#;
    let p = policy("deny", rules);
    let ev = Ev::new(API).rejected(
        "release",
        ReasonCode::SignatureInvalid,
        "layer 0: ECDSA signature does not verify",
    );
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::SignatureInvalid));
}

#[test]
fn registry_error_fails_closed() {
    let p = policy("deny", PAYMENTS);
    let ev = Ev::new(API)
        .discovery_error("GET /v2/payments/api/manifests/sha256-…sig: 503\nretry later");
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::RegistryError));
    let message = d.reason.unwrap().message;
    assert!(message.contains("503 retry later"), "{message}");
    // A requirement that is met despite a discovery error stays met.
    let met = Ev::new(API)
        .sig("release", sig(key_signer("release")))
        .discovery_error("referrers API: 404");
    let d = evaluate(&p, &met.0, now());
    expect(&d, Outcome::Allowed, None);
    // ... and says which source could not be read.
    assert!(
        d.warnings()
            .iter()
            .any(|w| w.contains("registry-error") && w.contains("referrers API: 404")),
        "{:?}",
        d.warnings()
    );
}

#[test]
fn a_deadline_fails_closed_with_timeout() {
    let p = policy("deny", PAYMENTS);
    let ev = Ev::new(API)
        .discovery_error("legacy signatures (.sig): 503")
        .timed_out("referrers: verifying the image (image_timeout) after 300s");
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::Timeout));
    assert!(d.reason.unwrap().message.contains("image_timeout"));
}

#[test]
fn signature_format_is_enforced() {
    let rules = r#"  - name: r
    images: ["registry.acme.io/**"]
    signatures: {authority: legacy-only}
"#;
    let p = policy("deny", rules);
    let bundle = Ev::new(API).sig(
        "legacy-only",
        sig_for(key_signer("legacy"), image_digest(), bundle_source()),
    );
    expect(
        &evaluate(&p, &bundle.0, now()),
        Outcome::Denied,
        Some(ReasonCode::NoSignatures),
    );
    let legacy = Ev::new(API).sig("legacy-only", sig(key_signer("legacy")));
    expect(&evaluate(&p, &legacy.0, now()), Outcome::Allowed, None);
}

#[test]
fn excluded_image_falls_to_no_match() {
    let sandbox = "registry.acme.io/payments/sandbox/tool:dev";
    let p = policy("deny", PAYMENTS);
    assert!(p.rules_for(&sandbox.parse().unwrap()).is_empty());
    let d = evaluate(&p, &Ev::new(sandbox).0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::NoMatchingRule));
    assert!(d.rules.is_empty());
}

#[test]
fn no_match_deny_warn_allow() {
    let other = "ghcr.io/someone/else:latest";
    for (mode, outcome) in [
        ("deny", Outcome::Denied),
        ("warn", Outcome::Warned),
        ("allow", Outcome::Allowed),
    ] {
        let p = policy(mode, PAYMENTS);
        let d = evaluate(&p, &Ev::new(other).0, now());
        assert_eq!(d.outcome, outcome, "noMatch {mode}");
    }
}

#[test]
fn warn_mode_allows_with_warning() {
    let rules = r#"  - name: soft
    images: ["registry.acme.io/**"]
    mode: warn
    signatures: {authority: release}
"#;
    let p = policy("deny", rules);
    let d = evaluate(&p, &Ev::new(API).0, now());
    expect(&d, Outcome::Warned, Some(ReasonCode::NoSignatures));
    assert_eq!(d.warnings.len(), 1);
    assert!(d.is_allowed());
}

#[test]
fn audit_mode_only_records() {
    let rules = r#"  - name: watch
    images: ["registry.acme.io/**"]
    mode: audit
    signatures: {authority: release}
"#;
    let p = policy("deny", rules);
    let d = evaluate(&p, &Ev::new(API).0, now());
    expect(&d, Outcome::Allowed, None);
    assert!(!d.rules[0].met);
    assert!(d.warnings[0].starts_with("audit:"));
}

#[test]
fn two_matching_rules_both_must_pass() {
    let rules = r#"  - name: release
    images: ["registry.acme.io/**"]
    signatures: {authority: release}
  - name: bob-too
    images: ["registry.acme.io/payments/*"]
    signatures: {authority: bob}
"#;
    let p = policy("deny", rules);
    let only_release = Ev::new(API).sig("release", sig(key_signer("release")));
    let d = evaluate(&p, &only_release.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::NoSignatures));
    assert_eq!(d.rules.len(), 2);
    assert!(d.rules[0].met && !d.rules[1].met);
    assert!(d.reason.unwrap().message.starts_with("rule bob-too:"));
    let both = Ev::new(API)
        .sig("release", sig(key_signer("release")))
        .sig("bob", sig(key_signer("bob")));
    expect(&evaluate(&p, &both.0, now()), Outcome::Allowed, None);
}

#[test]
fn static_pass_and_fail() {
    let rules = r#"  - name: base-images
    images: ["registry.acme.io/base/**"]
    signatures: {authority: allow}
  - name: blocked
    images: ["registry.acme.io/blocked/**"]
    signatures: {authority: block}
"#;
    let p = policy("deny", rules);
    let d = evaluate(&p, &Ev::new("registry.acme.io/base/debian:12").0, now());
    expect(&d, Outcome::Allowed, None);
    assert_eq!(
        d.rules[0].requirements[0].evidence[0].signer,
        SignerSummary::Static
    );
    let d = evaluate(&p, &Ev::new("registry.acme.io/blocked/x:1").0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::StaticFail));
    assert!(
        p.authorities_needed(&"registry.acme.io/base/debian:12".parse().unwrap())
            .is_empty()
    );
}

fn attestation_rule(body: &str) -> String {
    format!(
        r#"  - name: att
    images: ["registry.acme.io/**"]
    attestations:
      - {body}
"#
    )
}

fn cdx(license: &str) -> Value {
    json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"name": "libfoo", "version": "1.0", "licenses": [{"license": {"id": license}}]},
        {"name": "log4j-core", "version": "2.17.2", "licenses": [{"license": {"id": "Apache-2.0"}}]}
    ]})
}

#[test]
fn sbom_denied_license() {
    let rule = attestation_rule(
        r#"{predicateType: cyclonedx, signedBy: {authority: ci}, sbom: {deniedLicenses: [AGPL-3.0-only], deniedPackages: [{name: log4j-core, versions: "<2.17.1"}]}}"#,
    );
    let p = policy("deny", &rule);
    let bad = Ev::new(API).att(
        "ci",
        att(
            ci_signer("acme/payments"),
            "https://cyclonedx.org/bom",
            cdx("AGPL-3.0-only"),
        ),
    );
    let d = evaluate(&p, &bad.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::SbomDeniedLicense));
    assert!(d.reason.unwrap().message.contains("libfoo 1.0"));
    let good = Ev::new(API).att(
        "ci",
        att(
            ci_signer("acme/payments"),
            "https://cyclonedx.org/bom",
            cdx("MIT"),
        ),
    );
    let d = evaluate(&p, &good.0, now());
    expect(&d, Outcome::Allowed, None);
    let ev = &d.rules[0].requirements[0].evidence[0];
    assert_eq!(
        ev.predicate_type.as_deref(),
        Some("https://cyclonedx.org/bom")
    );
    assert_eq!(ev.attestation_digest, Some(Digest::of(b"envelope")));
}

/// Regression (issue 10): license texts the SBOM check could not judge (not SPDX
/// expressions) were dropped; a passing SBOM whose only AGPL mention is free text read as
/// clean. Now they are decision warnings, with the text.
#[test]
fn unjudged_license_texts_are_warnings() {
    let rule = attestation_rule(
        r#"{predicateType: cyclonedx, signedBy: {authority: ci}, sbom: {deniedLicenses: [AGPL-3.0-only]}}"#,
    );
    let p = policy("deny", &rule);
    let sbom = json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"name": "libfoo", "version": "1.0", "licenses": [{"license": {"name": "Affero GPL v3, probably"}}]},
        {"name": "libbar", "version": "2.0", "licenses": [{"license": {"id": "MIT"}}]}
    ]});
    let ev = Ev::new(API).att(
        "ci",
        att(
            ci_signer("acme/payments"),
            "https://cyclonedx.org/bom",
            sbom,
        ),
    );
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Allowed, None);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("Affero GPL v3, probably") && w.contains("not judged")),
        "{:?}",
        d.warnings
    );
    // A clean SBOM gets no such warning.
    let clean = Ev::new(API).att(
        "ci",
        att(
            ci_signer("acme/payments"),
            "https://cyclonedx.org/bom",
            cdx("MIT"),
        ),
    );
    assert!(evaluate(&p, &clean.0, now()).warnings.is_empty());
}

#[test]
fn attestation_signed_by_wrong_authority_is_missing() {
    let rule = attestation_rule(r#"{predicateType: cyclonedx, signedBy: {authority: ci}}"#);
    let p = policy("deny", &rule);
    let ev = Ev::new(API).att(
        "bob",
        att(key_signer("bob"), "https://cyclonedx.org/bom", cdx("MIT")),
    );
    expect(
        &evaluate(&p, &ev.0, now()),
        Outcome::Denied,
        Some(ReasonCode::AttestationMissing),
    );
}

#[test]
fn attestation_threshold_counts_signers_of_the_same_statement() {
    let rule = attestation_rule(
        r#"{predicateType: cyclonedx, signedBy: {threshold: {count: 2, of: [alice, bob, carol]}}}"#,
    );
    let p = policy("deny", &rule);
    let one = Ev::new(API).att(
        "alice",
        att(key_signer("alice"), "https://cyclonedx.org/bom", cdx("MIT")),
    );
    expect(
        &evaluate(&p, &one.0, now()),
        Outcome::Denied,
        Some(ReasonCode::ThresholdNotMet),
    );
    let two = Ev::new(API)
        .att(
            "alice",
            att(key_signer("alice"), "https://cyclonedx.org/bom", cdx("MIT")),
        )
        .att(
            "bob",
            att(key_signer("bob"), "https://cyclonedx.org/bom", cdx("MIT")),
        );
    expect(&evaluate(&p, &two.0, now()), Outcome::Allowed, None);
    // Two different statements signed by one each do not add up.
    let split = Ev::new(API)
        .att(
            "alice",
            att(key_signer("alice"), "https://cyclonedx.org/bom", cdx("MIT")),
        )
        .att(
            "bob",
            att(
                key_signer("bob"),
                "https://cyclonedx.org/bom",
                cdx("BSD-3-Clause"),
            ),
        );
    expect(
        &evaluate(&p, &split.0, now()),
        Outcome::Denied,
        Some(ReasonCode::ThresholdNotMet),
    );
}

fn trivy(created: &str, severity: &str, id: &str) -> Value {
    json!({"SchemaVersion": 2, "ArtifactName": "api", "CreatedAt": created,
        "Results": [{"Vulnerabilities": [{"VulnerabilityID": id, "PkgName": "musl", "Severity": severity}]}]})
}

fn vuln_case(check: &str, report: Value) -> Decision {
    let rule = attestation_rule(&format!(
        "{{predicateType: https://aquasecurity.github.io/trivy, vulnerabilities: {check}}}"
    ));
    let p = policy("deny", &rule);
    let ev = Ev::new(API).att(
        "ci",
        att(
            ci_signer("acme/payments"),
            "https://aquasecurity.github.io/trivy",
            report,
        ),
    );
    evaluate(&p, &ev.0, now())
}

#[test]
fn vuln_report_too_old() {
    let d = vuln_case(
        "{maxAge: 7d}",
        trivy("2023-11-01T00:00:00Z", "LOW", "CVE-2023-1"),
    );
    expect(&d, Outcome::Denied, Some(ReasonCode::VulnReportTooOld));
    assert!(d.reason.unwrap().message.contains("CreatedAt"));
    let fresh = vuln_case(
        "{maxAge: 7d}",
        trivy("2023-11-14T00:00:00Z", "LOW", "CVE-2023-1"),
    );
    expect(&fresh, Outcome::Allowed, None);
}

#[test]
fn vuln_too_severe_and_ignored() {
    let report = trivy("2023-11-14T00:00:00Z", "CRITICAL", "CVE-2024-0001");
    let d = vuln_case("{maxSeverity: medium}", report.clone());
    expect(&d, Outcome::Denied, Some(ReasonCode::VulnTooSevere));
    assert!(
        d.reason
            .unwrap()
            .message
            .contains("CVE-2024-0001 (critical in musl)")
    );
    let d = vuln_case("{maxSeverity: medium, ignore: [cve-2024-0001]}", report);
    expect(&d, Outcome::Allowed, None);
}

#[test]
fn vuln_missing_time_is_field_missing() {
    let report = json!({"SchemaVersion": 2, "ArtifactName": "api", "Results": []});
    let d = vuln_case("{maxAge: 1d}", report);
    expect(&d, Outcome::Denied, Some(ReasonCode::FieldMissing));
}

fn cel_case(condition: &str) -> Decision {
    let rule = attestation_rule(&format!(
        "{{predicateType: slsaprovenance1, condition: '{condition}'}}"
    ));
    let p = policy("deny", &rule);
    let ev = Ev::new(API).att(
        "ci",
        att(
            ci_signer("acme/payments"),
            "https://slsa.dev/provenance/v1",
            json!({"runDetails": {"builder": {"id": "https://github.com/actions/runner"}}}),
        ),
    );
    evaluate(&p, &ev.0, now())
}

#[test]
fn cel_true_false_error() {
    expect(
        &cel_case(r#"predicate.runDetails.builder.id.startsWith("https://github.com/")"#),
        Outcome::Allowed,
        None,
    );
    expect(
        &cel_case(r#"predicate.runDetails.builder.id == "https://evil.example""#),
        Outcome::Denied,
        Some(ReasonCode::ConditionFalse),
    );
    let d = cel_case("predicate.buildDefinition.externalParameters.x == 1");
    expect(&d, Outcome::Denied, Some(ReasonCode::ConditionError));
    expect(
        &cel_case("predicate.runDetails.builder.id"),
        Outcome::Denied,
        Some(ReasonCode::ConditionError),
    );
    expect(
        &cel_case(r#"image.registry == "registry.acme.io" && image.repository == "payments/api""#),
        Outcome::Allowed,
        None,
    );
}

#[test]
fn decision_serialises_with_stable_codes() {
    let p = policy("deny", PAYMENTS);
    let d = evaluate(&p, &Ev::new(API).0, now());
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["outcome"], "denied");
    assert_eq!(v["reason"]["code"], "no-signatures");
    assert_eq!(v["evaluatedAt"], "2023-11-14T22:13:20Z");
    assert_eq!(v["digest"], image_digest().to_string());
    assert_eq!(v["policy"], p.hash().to_string());
    assert_eq!(v["rules"][0]["mode"], "enforce");
    assert_eq!(
        serde_json::to_value(ReasonCode::VulnReportTooOld).unwrap(),
        "vuln-report-too-old"
    );
}

#[test]
fn table_renders_one_line_per_image_plus_failures() {
    let p = policy("deny", PAYMENTS);
    let allowed = evaluate(
        &p,
        &Ev::new(API).sig("release", sig(key_signer("release"))).0,
        now(),
    );
    let denied = evaluate(&p, &Ev::new("registry.acme.io/payments/db:v2").0, now());
    let table = render_table(&[allowed, denied]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("IMAGE"));
    assert!(lines[1].contains("allowed") && lines[1].contains(API));
    assert!(lines[2].contains("denied") && lines[2].contains("no-signatures"));
    assert!(lines[3].trim_start().starts_with("✗ [payments/enforce]"));
    // Columns line up.
    let col = lines[0].find("OUTCOME").unwrap();
    assert_eq!(&lines[1][col..col + 7], "allowed");
}

/// The signer of a real Fulcio certificate (sigstore-conformance `happy-path-v0.3`, with GitHub
/// extensions), as bundle verification produces it.
fn conformance_signer() -> Signer {
    use crate::trust::{GithubClaims, IdentityPolicy, Matcher};
    use crate::verify::bundle::{Artifact, VerificationPolicy, verify_bundle};
    let dir = crate::format::vectors_dir().join("sigstore-conformance/bundle-verify");
    let bundle = std::fs::read(dir.join("happy-path-v0.3/bundle.sigstore.json")).unwrap();
    let artifact = std::fs::read(dir.join("a.txt")).unwrap();
    let trust = crate::trust::TrustRoot::public_good().unwrap();
    let identity = IdentityPolicy::new(
        Matcher::Exact(CONFORMANCE_IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
        GithubClaims::default(),
    )
    .unwrap();
    let verified = verify_bundle(
        &bundle,
        Some(Artifact::Bytes(&artifact)),
        &VerificationPolicy::Keyless(identity),
        &trust,
    )
    .unwrap();
    verified.signer().clone()
}

const CONFORMANCE_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";

/// A policy whose only rule needs the keyless authority `ci` with these `github:` claims.
fn conformance_policy(github: &str) -> Policy {
    let yaml = format!(
        r#"apiVersion: imprint.dev/v1
kind: TrustPolicy
spec:
  authorities:
    ci:
      keyless:
        issuer: {ISSUER}
        subject: {CONFORMANCE_IDENTITY}
        github: {github}
  rules:
    - name: ci
      images: ["registry.acme.io/**"]
      signatures: {{authority: ci}}
"#
    );
    Policy::from_str_with_base(&yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

const CONFORMANCE_CLAIMS: &str = "{trigger: workflow_dispatch, sha: c7b3dfb335f051e1c86bda4c716fac97df62ad81, name: Extremely dangerous OIDC beacon, repository: sigstore-conformance/extremely-dangerous-public-oidc-beacon, ref: refs/heads/main}";

#[test]
fn keyless_github_claims_match_a_real_fulcio_certificate() {
    let signer = conformance_signer();
    let allowed = conformance_policy(CONFORMANCE_CLAIMS);
    let ev = Ev::new(API).sig("ci", sig(signer));
    expect(&evaluate(&allowed, &ev.0, now()), Outcome::Allowed, None);
    for (claim, wrong) in [
        ("trigger", "{trigger: push}"),
        ("sha", "{sha: 0000000000000000000000000000000000000000}"),
        ("name", "{name: other}"),
        ("repository", "{repository: sigstore-conformance/other}"),
        ("ref", "{ref: refs/heads/evil}"),
    ] {
        let d = evaluate(&conformance_policy(wrong), &ev.0, now());
        expect(&d, Outcome::Denied, Some(ReasonCode::IdentityMismatch));
        let message = d.reason.unwrap().message;
        assert!(
            message.contains(&format!("github workflow {claim}: expected")),
            "{message}"
        );
    }
}

#[test]
fn keyless_github_claims_use_successor_extensions() {
    // A modern Fulcio certificate may carry only the 1.8+ extensions (.20, .13, .12, .14):
    // drop the deprecated `.2`–`.6` from the real certificate's signer.
    let Signer::Certificate {
        identity,
        issuer,
        mut extensions,
    } = conformance_signer()
    else {
        panic!("not a certificate signer")
    };
    extensions.retain(|name, _| !name.starts_with("github-workflow-"));
    assert!(extensions.contains_key("build-trigger"), "{extensions:?}");
    let modern = Signer::Certificate {
        identity,
        issuer,
        extensions,
    };
    let ev = Ev::new(API).sig("ci", sig(modern));
    let claims = "{trigger: workflow_dispatch, sha: c7b3dfb335f051e1c86bda4c716fac97df62ad81, repository: sigstore-conformance/extremely-dangerous-public-oidc-beacon, ref: refs/heads/main}";
    expect(
        &evaluate(&conformance_policy(claims), &ev.0, now()),
        Outcome::Allowed,
        None,
    );
    // `name` has no successor: asking for it denies.
    let d = evaluate(&conformance_policy(CONFORMANCE_CLAIMS), &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::IdentityMismatch));
    assert!(d.reason.unwrap().message.contains(
        "github workflow name: expected `Extremely dangerous OIDC beacon`, certificate has none"
    ));
    let d = evaluate(
        &conformance_policy("{repository: sigstore-conformance/other}"),
        &ev.0,
        now(),
    );
    expect(&d, Outcome::Denied, Some(ReasonCode::IdentityMismatch));
}

/// Decisions are read through accessors; their JSON stays what it was.
#[test]
fn decision_json_is_stable() {
    let rules = r#"  - name: ci
    images: ["registry.acme.io/**"]
    signatures: {anyOf: [{authority: ci}, {authority: release}]}
"#;
    let p = policy("deny", rules);
    let ev = Ev::new(API)
        .sig("ci", sig(ci_signer("evil/payments")))
        .sig("release", sig(key_signer("release")));
    let d = evaluate(&p, &ev.0, now());
    let json = serde_json::to_string(&d).unwrap();
    // The `--output json` report, byte for byte as it was when Decision had public fields.
    let want = r#"{"reference":"registry.acme.io/payments/api:v1","digest":"sha256:5d74aca46333c087a384efd46229304451589038a608f361b803a31cf1673e41","outcome":"allowed","policy":"sha256:6965e4c6c73fc4e5a4e6bd492e1380a31e0412ed4a5f6160e44320aad59b57ce","evaluatedAt":"2023-11-14T22:13:20Z","rules":[{"name":"ci","mode":"enforce","met":true,"requirements":[{"requirement":"signatures: anyOf(ci, release)","met":true,"evidence":[{"authority":"release","signer":{"kind":"key","fingerprint":"sha256:a2ce99e7004b3a24e906ecae754b144d768ac8c9369d85cdb201a090fe4c57a2"},"tlog":{"log_index":42,"integrated_time":1699999000,"log_id":"c0ffee"},"source":{"kind":"legacy-layer","manifest":"sha256:4541539917b4498ec2fe8f61b84c76b71af96aeab5c2af9c8507329550dd9900","layer":"sha256:eed225a67549eef74940ab0a96905d904cd52d8df8fb06693e4b9f2e017ea6be","index":0}}],"details":[{"code":"identity-mismatch","message":"ci: github workflow repository: expected `acme/payments`, certificate has `evil/payments`"}]}]}]}"#;
    assert_eq!(json, want);
}

/// The vector P-256 key as three authorities, one per SEC1 point encoding of its SPKI
/// (uncompressed, compressed, hybrid), plus the signer fingerprint the verifier reports for
/// each (the fingerprint of the key parsed from that authority's PEM).
fn one_key_three_encodings(rules: &str) -> (Policy, [Signer; 3]) {
    let (_, encodings) = crate::keys::test_p256_encodings();
    let pems: Vec<String> = encodings
        .iter()
        .map(|der| crate::keys::go_pem("PUBLIC KEY", der))
        .collect();
    let inline = |pem: &str| pem.replace('\n', "\\n");
    let yaml = format!(
        r#"apiVersion: imprint.dev/v1
kind: TrustPolicy
spec:
  authorities:
    plain: {{key: {{pem: "{}"}}}}
    compressed: {{key: {{pem: "{}"}}}}
    hybrid: {{key: {{pem: "{}"}}}}
  rules:
{rules}"#,
        inline(&pems[0]),
        inline(&pems[1]),
        inline(&pems[2]),
    );
    let policy =
        Policy::from_str_with_base(&yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let signer = |pem: &String| Signer::Key {
        fingerprint: crate::keys::PublicKey::from_pem(pem.as_bytes())
            .unwrap()
            .fingerprint(),
    };
    let signers = [signer(&pems[0]), signer(&pems[1]), signer(&pems[2])];
    (policy, signers)
}

#[test]
fn one_key_in_three_encodings_does_not_meet_three_of_three() {
    let rules = r#"  - name: three
    images: ["registry.acme.io/**"]
    signatures: {threshold: {count: 3, of: [plain, compressed, hybrid]}}
"#;
    let (p, [plain, compressed, hybrid]) = one_key_three_encodings(rules);
    // One signature, which the verifier finds under each of the three authorities.
    let ev = Ev::new(API)
        .sig("plain", sig(plain))
        .sig("compressed", sig(compressed))
        .sig("hybrid", sig(hybrid));
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::ThresholdNotMet));
    let message = &d.reason.as_ref().unwrap().message;
    assert!(message.contains("1 distinct signer(s)"), "{message}");
}

#[test]
fn a_compressed_key_authority_accepts_its_signature() {
    let rules = r#"  - name: one
    images: ["registry.acme.io/**"]
    signatures: {authority: compressed}
"#;
    let (p, [_, compressed, _]) = one_key_three_encodings(rules);
    let Some(Authority::Key(k)) = p.authority("compressed") else {
        panic!("not a key authority")
    };
    // The authority's fingerprint is the canonical one the verifier reports.
    let Signer::Key { fingerprint } = &compressed else {
        panic!("not a key signer")
    };
    assert_eq!(k.fingerprint.as_ref(), Some(fingerprint));
    let ev = Ev::new(API).sig("compressed", sig(compressed));
    expect(&evaluate(&p, &ev.0, now()), Outcome::Allowed, None);
}

// ---- Which attestation decides (issue 11) ----

const TRIVY: &str = "https://aquasecurity.github.io/trivy";
const CDX: &str = "https://cyclonedx.org/bom";

/// `att` with a transparency-log entry integrated at `tlog` (Unix seconds), if given.
fn att_at(
    signer: Signer,
    predicate_type: &str,
    predicate: Value,
    tlog: Option<i64>,
) -> VerifiedAttestation {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.acme.io/payments/api", "digest": {"sha256": image_digest().hex()}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    VerifiedAttestation::fabricated(
        image_digest(),
        predicate_type.into(),
        statement,
        b"envelope".to_vec(),
        signer,
        tlog.map(|integrated_time| TlogEvidence {
            log_index: 7,
            integrated_time,
            log_id: "c0ffee".into(),
        }),
        bundle_source(),
    )
}

/// The short statement digest the decision names `a` by.
fn short(a: &VerifiedAttestation) -> String {
    Digest::of(a.statement_json()).hex()[..12].to_string()
}

fn scan_policy(select: &str) -> Policy {
    policy(
        "deny",
        &attestation_rule(&format!(
            "{{predicateType: {TRIVY}, signedBy: {{authority: ci}}, vulnerabilities: {{maxSeverity: medium}}{select}}}"
        )),
    )
}

fn scan(created: &str, severity: &str) -> VerifiedAttestation {
    att(
        ci_signer("acme/payments"),
        TRIVY,
        trivy(created, severity, "CVE-2023-9"),
    )
}

fn pretty(d: &Decision) -> String {
    serde_json::to_string_pretty(d).unwrap()
}

/// A newer scan reporting a critical CVE decides over an older clean one (before: the clean
/// one met the requirement).
#[test]
fn newest_failing_scan_beats_an_older_clean_one() {
    let old_clean = scan("2023-11-01T00:00:00Z", "LOW");
    let new_bad = scan("2023-11-14T00:00:00Z", "CRITICAL");
    // Either order of the evidence.
    for ev in [
        Ev::new(API)
            .att("ci", old_clean.clone())
            .att("ci", new_bad.clone()),
        Ev::new(API)
            .att("ci", new_bad.clone())
            .att("ci", old_clean.clone()),
    ] {
        let d = evaluate(&scan_policy(""), &ev.0, now());
        expect(&d, Outcome::Denied, Some(ReasonCode::VulnTooSevere));
        let reason = d.reason.clone().unwrap().message;
        assert!(reason.contains(&short(&new_bad)), "{reason}");
        let sel = d.rules[0].requirements[0].selection.clone().unwrap();
        assert_eq!(sel.select, Select::Newest);
        assert_eq!(sel.decided_by.len(), 1, "{}", pretty(&d));
        assert_eq!(
            sel.decided_by[0].statement,
            format!("sha256:{}", short(&new_bad))
        );
        assert_eq!(sel.decided_by[0].time_from, "CreatedAt");
        assert_eq!(
            sel.others[0].statement,
            format!("sha256:{}", short(&old_clean))
        );
        assert!(sel.others[0].passed);
    }
}

/// A newer clean scan decides over an older failing one, and the older one is a warning
/// naming it (before: allowed without a word).
#[test]
fn newest_clean_scan_beats_an_older_failing_one_with_a_warning() {
    let old_bad = scan("2023-11-01T00:00:00Z", "CRITICAL");
    let new_clean = scan("2023-11-14T00:00:00Z", "LOW");
    let ev = Ev::new(API).att("ci", old_bad.clone()).att("ci", new_clean);
    let d = evaluate(&scan_policy(""), &ev.0, now());
    expect(&d, Outcome::Allowed, None);
    let w: Vec<&String> = d
        .warnings
        .iter()
        .filter(|w| w.contains(&short(&old_bad)))
        .collect();
    assert_eq!(w.len(), 1, "{:?}", d.warnings);
    for part in [
        TRIVY,
        "vuln-too-severe",
        "does not decide",
        "newest",
        "rule att",
    ] {
        assert!(w[0].contains(part), "{part} missing from {}", w[0]);
    }
}

#[test]
fn select_all_needs_every_candidate_to_pass() {
    let p = scan_policy(", select: all");
    let bad_old = Ev::new(API)
        .att("ci", scan("2023-11-01T00:00:00Z", "CRITICAL"))
        .att("ci", scan("2023-11-14T00:00:00Z", "LOW"));
    let d = evaluate(&p, &bad_old.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::VulnTooSevere));
    let sel = d.rules[0].requirements[0].selection.clone().unwrap();
    assert_eq!((sel.select, sel.decided_by.len()), (Select::All, 2));
    let clean = Ev::new(API)
        .att("ci", scan("2023-11-01T00:00:00Z", "LOW"))
        .att("ci", scan("2023-11-14T00:00:00Z", "MEDIUM"));
    let d = evaluate(&p, &clean.0, now());
    expect(&d, Outcome::Allowed, None);
    assert_eq!(d.rules[0].requirements[0].evidence.len(), 2);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

/// `select: any` is today's rule, but a failing attestation that did not decide is a warning.
#[test]
fn select_any_allows_with_a_warning_naming_the_failing_one() {
    let new_bad = scan("2023-11-14T00:00:00Z", "CRITICAL");
    let ev = Ev::new(API)
        .att("ci", scan("2023-11-01T00:00:00Z", "LOW"))
        .att("ci", new_bad.clone());
    let d = evaluate(&scan_policy(", select: any"), &ev.0, now());
    expect(&d, Outcome::Allowed, None);
    assert!(
        d.warnings.iter().any(|w| w.contains(&short(&new_bad))
            && w.contains("select: any")
            && w.contains("CVE-2023-9")),
        "{:?}",
        d.warnings
    );
    // None passing: denied, and nothing is a warning (every candidate decided).
    let ev = Ev::new(API)
        .att("ci", scan("2023-11-01T00:00:00Z", "HIGH"))
        .att("ci", new_bad);
    let d = evaluate(&scan_policy(", select: any"), &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::VulnTooSevere));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

/// Two newest with the same time: both must pass (fail closed), whichever is listed first.
#[test]
fn tied_newest_fail_closed() {
    for (first, second) in [("LOW", "CRITICAL"), ("CRITICAL", "LOW")] {
        let ev = Ev::new(API)
            .att("ci", scan("2023-11-14T00:00:00Z", first))
            .att("ci", scan("2023-11-14T00:00:00Z", second))
            .att("ci", scan("2023-11-01T00:00:00Z", "LOW"));
        let d = evaluate(&scan_policy(""), &ev.0, now());
        expect(&d, Outcome::Denied, Some(ReasonCode::VulnTooSevere));
        let sel = d.rules[0].requirements[0].selection.clone().unwrap();
        assert_eq!(sel.decided_by.len(), 2, "{}", pretty(&d));
        assert!(sel.why.contains("tie"), "{}", sel.why);
    }
}

/// No document time: the log time orders; no time at all is the oldest, and said so.
#[test]
fn missing_times_fall_back_to_the_log_then_count_as_oldest() {
    let p = policy(
        "deny",
        &attestation_rule(
            "{predicateType: cyclonedx, signedBy: {authority: ci}, sbom: {deniedLicenses: [AGPL-3.0-only]}}",
        ),
    );
    let ci = || ci_signer("acme/payments");
    // SBOMs without timestamps, ordered by the log: the newer AGPL one decides.
    let ev = Ev::new(API)
        .att("ci", att_at(ci(), CDX, cdx("MIT"), Some(1_699_000_000)))
        .att(
            "ci",
            att_at(ci(), CDX, cdx("AGPL-3.0-only"), Some(1_699_500_000)),
        );
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::SbomDeniedLicense));
    let sel = d.rules[0].requirements[0].selection.clone().unwrap();
    assert_eq!(sel.decided_by[0].time_from, "tlog integratedTime");
    // One with a log time, one with no time at all: the timed one is newer.
    let untimed_bad = att_at(ci(), CDX, cdx("AGPL-3.0-only"), None);
    let ev = Ev::new(API)
        .att("ci", untimed_bad.clone())
        .att("ci", att_at(ci(), CDX, cdx("MIT"), Some(1_699_000_000)));
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Allowed, None);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains(&short(&untimed_bad)) && w.contains("no time stated")),
        "{:?}",
        d.warnings
    );
    // Neither has a time: they tie as the oldest, so the failing one denies.
    let ev = Ev::new(API)
        .att("ci", att_at(ci(), CDX, cdx("MIT"), None))
        .att("ci", untimed_bad);
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::SbomDeniedLicense));
    let why = d.rules[0].requirements[0].selection.clone().unwrap().why;
    assert!(why.contains("states a time"), "{why}");
    // A document time counts before the log time.
    let stamped = |license: &str, at: &str| {
        let mut doc = cdx(license);
        doc["metadata"] = json!({"timestamp": at});
        doc
    };
    let ev = Ev::new(API)
        .att(
            "ci",
            att_at(
                ci(),
                CDX,
                stamped("AGPL-3.0-only", "2023-11-02T00:00:00Z"),
                Some(1),
            ),
        )
        .att(
            "ci",
            att_at(
                ci(),
                CDX,
                stamped("MIT", "2023-11-01T00:00:00Z"),
                Some(1_699_999_999),
            ),
        );
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::SbomDeniedLicense));
    let sel = d.rules[0].requirements[0].selection.clone().unwrap();
    assert_eq!(sel.decided_by[0].time_from, "metadata.timestamp");
    assert_eq!(
        sel.decided_by[0].time.as_deref(),
        Some("2023-11-02T00:00:00Z")
    );
}

/// Without `signedBy`, an attestation requirement takes the rule's `signatures` authorities:
/// a dev key's attestation no longer counts (before: any authority of the policy).
#[test]
fn default_signed_by_is_the_rules_signatures() {
    let rules = r#"  - name: release
    images: ["registry.acme.io/**"]
    signatures: {authority: release}
    attestations:
      - {predicateType: cyclonedx}
"#;
    let p = policy("deny", rules);
    let req = &p.rules()[0].attestations[0];
    assert_eq!(req.signed_by_origin, SignedByOrigin::RuleSignatures);
    let dev = Ev::new(API)
        .sig("release", sig(key_signer("release")))
        .att("bob", att(key_signer("bob"), CDX, cdx("MIT")));
    let d = evaluate(&p, &dev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::AttestationMissing));
    assert!(
        d.reason.unwrap().message.contains("signed by [release]"),
        "only release is asked"
    );
    let release = Ev::new(API)
        .sig("release", sig(key_signer("release")))
        .att("release", att(key_signer("release"), CDX, cdx("MIT")));
    expect(&evaluate(&p, &release.0, now()), Outcome::Allowed, None);
    // The verifier glue is no longer asked for every authority.
    let needed: Vec<&str> = p
        .authorities_needed(&API.parse().unwrap())
        .into_iter()
        .collect();
    assert_eq!(needed, ["release"]);
}

/// `predicateType` may list several types; the decision names the one that matched.
#[test]
fn one_of_several_predicate_types() {
    let p = policy(
        "deny",
        &attestation_rule(
            "{predicateType: [spdx, cyclonedx], signedBy: {authority: ci}, sbom: {deniedLicenses: [AGPL-3.0-only]}}",
        ),
    );
    assert_eq!(
        p.rules()[0].attestations[0].predicate_types,
        ["https://spdx.dev/Document", CDX]
    );
    let ev = Ev::new(API).att("ci", att(ci_signer("acme/payments"), CDX, cdx("MIT")));
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Allowed, None);
    let req = &d.rules[0].requirements[0];
    assert_eq!(
        req.selection.clone().unwrap().decided_by[0].predicate_type,
        CDX
    );
    assert_eq!(req.evidence[0].predicate_type.as_deref(), Some(CDX));
    let spdx = json!({"spdxVersion": "SPDX-2.3", "packages": [
        {"name": "libfoo", "versionInfo": "1.0", "licenseConcluded": "AGPL-3.0-only"}]});
    let ev = Ev::new(API).att(
        "ci",
        att(
            ci_signer("acme/payments"),
            "https://spdx.dev/Document",
            spdx,
        ),
    );
    expect(
        &evaluate(&p, &ev.0, now()),
        Outcome::Denied,
        Some(ReasonCode::SbomDeniedLicense),
    );
    let ev = Ev::new(API).att("ci", att(ci_signer("acme/payments"), TRIVY, json!({})));
    let d = evaluate(&p, &ev.0, now());
    expect(&d, Outcome::Denied, Some(ReasonCode::AttestationMissing));
    assert!(
        d.reason
            .unwrap()
            .message
            .contains("[https://spdx.dev/Document, https://cyclonedx.org/bom]")
    );
}
