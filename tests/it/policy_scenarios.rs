//! Trust-policy scenarios against the real registry: real signatures and attestations made by
//! imprint, a real policy file, the library `Verifier`, and a fixed clock. Each scenario states
//! the expected outcome and reason code.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::support::{push_random_image, registry, test_client, unique_repo};
use imprint::format::reference::ImageRef;
use imprint::gate::{Clock, Verifier};
use imprint::keys::SigningKey;
use imprint::policy::{Decision, Outcome, Policy, ReasonCode};
use imprint::sign::{self, AttestOptions, SignOptions};
use imprint::store::{AuthSource, RegistryConfig};

#[derive(Debug)]
struct Fixed(SystemTime);
impl Clock for Fixed {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// 2025-06-20T00:00:00Z: a day after the grype scan vector's `descriptor.timestamp`.
fn june_2025() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_377_600)
}

struct Keys {
    release: SigningKey,
    alice: SigningKey,
    bob: SigningKey,
    carol: SigningKey,
}

struct World {
    dir: tempfile::TempDir,
    keys: Keys,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys {
            release: SigningKey::generate_p256().unwrap(),
            alice: SigningKey::generate_p256().unwrap(),
            bob: SigningKey::generate_p256().unwrap(),
            carol: SigningKey::generate_p256().unwrap(),
        };
        for (name, k) in [
            ("release", &keys.release),
            ("alice", &keys.alice),
            ("bob", &keys.bob),
            ("carol", &keys.carol),
        ] {
            std::fs::write(
                dir.path().join(format!("{name}.pub")),
                k.public_key().to_pem(),
            )
            .unwrap();
        }
        Self { dir, keys }
    }

    /// A policy with the standard authorities (`alice-again` is alice's key under a second
    /// name) and the given `noMatch` and rules (YAML, indented for `spec.rules`).
    fn policy(&self, no_match: &str, rules: &str) -> Policy {
        let yaml = format!(
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: {no_match}\n  authorities:\n    release: {{key: {{file: release.pub}}}}\n    alice: {{key: {{file: alice.pub}}}}\n    alice-again: {{key: {{file: alice.pub}}}}\n    bob: {{key: {{file: bob.pub}}}}\n    carol: {{key: {{file: carol.pub}}}}\n  rules:\n{rules}"
        );
        Policy::from_str_with_base(&yaml, self.dir.path()).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }
}

async fn decide(policy: Policy, image: &ImageRef, now: SystemTime) -> Decision {
    let v = Verifier::builder(policy)
        .registry(RegistryConfig {
            auth: AuthSource::Anonymous,
            ..RegistryConfig::default()
        })
        .clock(Arc::new(Fixed(now)))
        .build()
        .unwrap();
    v.verify(image).await
}

async fn signed_image(prefix: &str, signers: &[&SigningKey]) -> ImageRef {
    let (image, _) = push_random_image(&format!("{prefix}/{}", unique_repo("img"))).await;
    let client = test_client();
    for k in signers {
        sign::sign_image(&client, &image, k, &SignOptions::default())
            .await
            .unwrap();
    }
    image
}

fn rule(prefix: &str, body: &str) -> String {
    format!(
        "    - name: r-{prefix}\n      images: [\"{}/{prefix}/**\"]\n{body}",
        registry()
    )
}

fn assert_decision(d: &Decision, outcome: Outcome, code: Option<ReasonCode>, what: &str) {
    assert_eq!(
        d.outcome(),
        outcome,
        "{what}: {}",
        serde_json::to_string_pretty(d).unwrap()
    );
    assert_eq!(
        d.reason().map(|r| r.code),
        code,
        "{what}: {}",
        serde_json::to_string_pretty(d).unwrap()
    );
}

#[tokio::test]
async fn signature_expressions_met_and_unmet() {
    let w = World::new();
    let k = &w.keys;
    let expr = "      signatures:\n        anyOf:\n          - authority: release\n          - allOf:\n              - authority: carol\n              - threshold: {count: 2, of: [alice, bob, alice-again]}\n";
    let p = "sigexpr";
    let policy = || w.policy("deny", &rule(p, expr));
    let cases: Vec<(&str, Vec<&SigningKey>, Outcome, Option<ReasonCode>)> = vec![
        (
            "release alone meets anyOf",
            vec![&k.release],
            Outcome::Allowed,
            None,
        ),
        (
            "carol + alice + bob meet allOf(carol, 2 of 3)",
            vec![&k.carol, &k.alice, &k.bob],
            Outcome::Allowed,
            None,
        ),
        (
            "carol + alice: threshold counts alice and alice-again once",
            vec![&k.carol, &k.alice],
            Outcome::Denied,
            Some(ReasonCode::ThresholdNotMet),
        ),
        (
            "alice + bob without carol: allOf unmet",
            vec![&k.alice, &k.bob],
            Outcome::Denied,
            Some(ReasonCode::NoSignatures),
        ),
        (
            "unsigned",
            vec![],
            Outcome::Denied,
            Some(ReasonCode::NoSignatures),
        ),
    ];
    for (what, signers, outcome, code) in cases {
        let image = signed_image(p, &signers).await;
        let d = decide(policy(), &image, SystemTime::now()).await;
        if outcome == Outcome::Denied {
            assert_eq!(
                d.outcome(),
                Outcome::Denied,
                "{what}: {}",
                serde_json::to_string_pretty(&d).unwrap()
            );
            let got = d.reason().map(|r| r.code);
            assert!(
                got == code
                    || matches!(
                        got,
                        Some(
                            ReasonCode::ThresholdNotMet
                                | ReasonCode::NoSignatures
                                | ReasonCode::SignatureInvalid
                        )
                    ),
                "{what}: reason {got:?}"
            );
        } else {
            assert_decision(&d, outcome, code, what);
        }
        assert!(d.digest().is_some());
        assert_eq!(d.policy(), &policy().hash());
    }
}

#[tokio::test]
async fn same_signer_twice_does_not_meet_a_threshold() {
    let w = World::new();
    let p = "twice";
    let policy = w.policy(
        "deny",
        &rule(
            p,
            "      signatures:\n        threshold: {count: 2, of: [alice, bob]}\n",
        ),
    );
    // Two different signatures by alice (different annotations, so two layers).
    let (image, _) = push_random_image(&format!("{p}/{}", unique_repo("img"))).await;
    let client = test_client();
    for v in ["1", "2"] {
        let opts = SignOptions {
            annotations: [("n".to_owned(), v.to_owned())].into(),
            ..SignOptions::default()
        };
        sign::sign_image(&client, &image, &w.keys.alice, &opts)
            .await
            .unwrap();
    }
    let d = decide(policy.clone(), &image, SystemTime::now()).await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::ThresholdNotMet),
        "alice twice",
    );
    sign::sign_image(&client, &image, &w.keys.bob, &SignOptions::default())
        .await
        .unwrap();
    let d = decide(policy, &image, SystemTime::now()).await;
    assert_decision(&d, Outcome::Allowed, None, "alice + bob");
    // Evidence names both authorities and their key fingerprints.
    let json = serde_json::to_string(&d).unwrap();
    assert!(
        json.contains(&w.keys.alice.public_key().fingerprint())
            && json.contains(&w.keys.bob.public_key().fingerprint()),
        "{json}"
    );
}

#[tokio::test]
async fn no_match_exclude_modes_and_two_rules() {
    let w = World::new();
    let k = &w.keys;
    let p = "modes";
    let needs_release = "      signatures: {authority: release}\n";
    // Excluded image falls through to noMatch.
    let excl = format!(
        "    - name: r\n      images: [\"{r}/{p}/**\"]\n      exclude: [\"{r}/{p}/sandbox/**\"]\n{needs_release}",
        r = registry()
    );
    let sandbox = signed_image(&format!("{p}/sandbox"), &[&k.release]).await;
    for (nm, outcome, code) in [
        ("deny", Outcome::Denied, Some(ReasonCode::NoMatchingRule)),
        ("warn", Outcome::Warned, Some(ReasonCode::NoMatchingRule)),
        ("allow", Outcome::Allowed, None),
    ] {
        let d = decide(w.policy(nm, &excl), &sandbox, SystemTime::now()).await;
        assert_decision(&d, outcome, code, &format!("excluded, noMatch {nm}"));
        assert!(d.rules().is_empty());
    }
    // warn mode: unmet → warned; audit mode: unmet → allowed, recorded as a warning.
    let unsigned = signed_image(p, &[]).await;
    let warn = format!("{}      mode: warn\n", rule(p, needs_release));
    let d = decide(w.policy("deny", &warn), &unsigned, SystemTime::now()).await;
    assert_decision(
        &d,
        Outcome::Warned,
        Some(ReasonCode::NoSignatures),
        "warn mode",
    );
    let audit = format!("{}      mode: audit\n", rule(p, needs_release));
    let d = decide(w.policy("deny", &audit), &unsigned, SystemTime::now()).await;
    assert_eq!(d.outcome(), Outcome::Allowed);
    assert!(!d.warnings().is_empty(), "audit failures are recorded");
    // Two matching rules: both must pass.
    let by_release = signed_image(p, &[&k.release]).await;
    let two = format!(
        "{}    - name: second\n      images: [\"{}/{p}/**\"]\n      signatures: {{authority: carol}}\n",
        rule(p, needs_release),
        registry()
    );
    let d = decide(w.policy("deny", &two), &by_release, SystemTime::now()).await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::SignatureInvalid), // release signed; nothing verifies with carol's key
        "second rule unmet",
    );
    assert_eq!(d.rules().len(), 2);
    sign::sign_image(
        &test_client(),
        &by_release,
        &k.carol,
        &SignOptions::default(),
    )
    .await
    .unwrap();
    let d = decide(w.policy("deny", &two), &by_release, SystemTime::now()).await;
    assert_decision(&d, Outcome::Allowed, None, "both rules met");
}

fn vector(rel: &str) -> serde_json::Value {
    let p = crate::support::vectors().join("predicates").join(rel);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

async fn attested_image(
    prefix: &str,
    key: &SigningKey,
    predicate_type: &str,
    predicate: serde_json::Value,
) -> ImageRef {
    let (image, _) = push_random_image(&format!("{prefix}/{}", unique_repo("img"))).await;
    let opts = AttestOptions {
        predicate_type: predicate_type.to_owned(),
        predicate: predicate.into(),
        replace: false,
        recursive: false,
        limits: Default::default(),
        format: sign::WriteFormat::Legacy,
    };
    sign::attest_image(&test_client(), &image, key, &opts)
        .await
        .unwrap();
    image
}

#[tokio::test]
async fn attestation_content_checks() {
    let w = World::new();
    let k = &w.keys;
    let p = "content";
    // SBOM with GPL-2.0-only components (syft, alpine).
    let sbom = attested_image(
        p,
        &k.alice,
        "https://cyclonedx.org/bom",
        vector("sbom/guac-syft-0.58.0_alpine.cdx-1.4.json"),
    )
    .await;
    let sbom_rule = |denied: &str| {
        rule(
            p,
            &format!(
                "      attestations:\n        - predicateType: cyclonedx\n          signedBy: {{authority: alice}}\n          sbom: {{deniedLicenses: [{denied}]}}\n"
            ),
        )
    };
    let d = decide(
        w.policy("deny", &sbom_rule("GPL-2.0-only")),
        &sbom,
        SystemTime::now(),
    )
    .await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::SbomDeniedLicense),
        "denied license present",
    );
    let d = decide(
        w.policy("deny", &sbom_rule("AGPL-3.0-only")),
        &sbom,
        SystemTime::now(),
    )
    .await;
    assert_decision(&d, Outcome::Allowed, None, "denied license absent");
    // Signed by the wrong authority: missing.
    let wrong_signer = rule(
        p,
        "      attestations:\n        - predicateType: cyclonedx\n          signedBy: {authority: bob}\n",
    );
    let d = decide(w.policy("deny", &wrong_signer), &sbom, SystemTime::now()).await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::AttestationMissing),
        "SBOM signed by alice, bob required",
    );

    // Grype scan of busybox 1.32.1: 1 critical (CVE-2022-48174), scanned 2025-06-19.
    let vuln = attested_image(
        p,
        &k.alice,
        "https://cosign.sigstore.dev/attestation/vuln/v1",
        vector("vuln/defectdojo-grype-0.94.0_busybox-1.32.1.grype.json"),
    )
    .await;
    let vuln_rule = |check: &str| {
        rule(
            p,
            &format!(
                "      attestations:\n        - predicateType: vuln\n          vulnerabilities: {check}\n"
            ),
        )
    };
    let d = decide(
        w.policy("deny", &vuln_rule("{maxSeverity: high}")),
        &vuln,
        june_2025(),
    )
    .await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::VulnTooSevere),
        "critical finding",
    );
    let d = decide(
        w.policy(
            "deny",
            &vuln_rule("{maxSeverity: high, ignore: [CVE-2022-48174]}"),
        ),
        &vuln,
        june_2025(),
    )
    .await;
    assert_decision(&d, Outcome::Allowed, None, "critical finding ignored");
    let d = decide(
        w.policy("deny", &vuln_rule("{maxAge: 7d}")),
        &vuln,
        june_2025(),
    )
    .await;
    assert_decision(&d, Outcome::Allowed, None, "scan one day old");
    let d = decide(
        w.policy("deny", &vuln_rule("{maxAge: 7d}")),
        &vuln,
        june_2025() + Duration::from_secs(30 * 86_400),
    )
    .await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::VulnReportTooOld),
        "scan 31 days old",
    );

    // CEL conditions over a custom predicate.
    let custom = attested_image(
        p,
        &k.alice,
        "https://example.com/build/v1",
        serde_json::json!({"builder": {"id": "https://github.com/acme/builder"}}),
    )
    .await;
    let cel = |cond: &str| {
        rule(
            p,
            &format!(
                "      attestations:\n        - predicateType: https://example.com/build/v1\n          condition: '{cond}'\n"
            ),
        )
    };
    let d = decide(
        w.policy(
            "deny",
            &cel(r#"predicate.builder.id.startsWith("https://github.com/")"#),
        ),
        &custom,
        SystemTime::now(),
    )
    .await;
    assert_decision(&d, Outcome::Allowed, None, "CEL true");
    let d = decide(
        w.policy(
            "deny",
            &cel(r#"predicate.builder.id.startsWith("https://gitlab.com/")"#),
        ),
        &custom,
        SystemTime::now(),
    )
    .await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::ConditionFalse),
        "CEL false",
    );
    let d = decide(
        w.policy("deny", &cel("predicate.no.such.field == 1")),
        &custom,
        SystemTime::now(),
    )
    .await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::ConditionError),
        "CEL error fails the requirement",
    );
}

/// Issue 11: two scans of one image by the same signer, an older clean one (legacy `.att`)
/// and a newer one reporting a critical CVE (bundle referrer). The newest decides by
/// default, so the image is denied (before: the clean one met the requirement); under
/// `select: any` it is allowed, with a warning naming the failing scan.
#[tokio::test]
async fn the_newest_scan_decides_and_any_warns() {
    let w = World::new();
    let p = "newest";
    let (image, _) = push_random_image(&format!("{p}/{}", unique_repo("img"))).await;
    let trivy = |created: &str, severity: &str| {
        serde_json::json!({"SchemaVersion": 2, "ArtifactName": "app", "CreatedAt": created,
            "Results": [{"Target": "app", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-2025-1111", "PkgName": "openssl", "Severity": severity}]}]})
    };
    for (predicate, format) in [
        (
            trivy("2025-06-10T00:00:00Z", "LOW"),
            sign::WriteFormat::Legacy,
        ),
        (
            trivy("2025-06-19T00:00:00Z", "CRITICAL"),
            sign::WriteFormat::Bundle,
        ),
    ] {
        let opts = AttestOptions {
            predicate_type: "https://aquasecurity.github.io/trivy".to_owned(),
            predicate: predicate.into(),
            replace: false,
            recursive: false,
            limits: Default::default(),
            format,
        };
        sign::attest_image(&test_client(), &image, &w.keys.alice, &opts)
            .await
            .unwrap();
    }
    let scan_rule = |select: &str| {
        rule(
            p,
            &format!(
                "      attestations:\n        - predicateType: https://aquasecurity.github.io/trivy\n          signedBy: {{authority: alice}}\n          vulnerabilities: {{maxSeverity: high}}\n{select}"
            ),
        )
    };
    let d = decide(w.policy("deny", &scan_rule("")), &image, june_2025()).await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::VulnTooSevere),
        "newer critical scan decides",
    );
    let req = &d.rules()[0].requirements()[0];
    let sel = req.selection().expect("selection recorded");
    assert_eq!(sel.decided_by.len(), 1, "{sel:?}");
    assert_eq!(
        sel.decided_by[0].time.as_deref(),
        Some("2025-06-19T00:00:00Z")
    );
    assert_eq!(sel.decided_by[0].time_from, "CreatedAt");
    assert_eq!(sel.others.len(), 1, "{sel:?}");
    assert!(sel.others[0].passed);

    let d = decide(
        w.policy("deny", &scan_rule("          select: any\n")),
        &image,
        june_2025(),
    )
    .await;
    assert_decision(
        &d,
        Outcome::Allowed,
        None,
        "select: any, the clean scan is enough",
    );
    let failing = d.rules()[0].requirements()[0]
        .selection()
        .expect("selection recorded")
        .others
        .iter()
        .find(|c| !c.passed)
        .map(|c| c.statement.trim_start_matches("sha256:").to_owned())
        .expect("the critical scan is listed");
    assert!(
        d.warnings().iter().any(|w| w.contains(&failing)
            && w.contains("https://aquasecurity.github.io/trivy")
            && w.contains("vuln-too-severe")
            && w.contains("CVE-2025-1111")),
        "{:?}",
        d.warnings()
    );
}

#[tokio::test]
async fn registry_errors_deny() {
    let w = World::new();
    let policy = w.policy(
        "allow",
        "    - name: all\n      images: [\"**\"]\n      signatures: {authority: release}\n",
    );
    // Nothing listens on port 1: the image cannot be resolved, and that denies (fail closed),
    // even with `noMatch: allow`.
    let image = ImageRef::parse("127.0.0.1:1/nothing/here:v1").unwrap();
    let d = decide(policy.clone(), &image, SystemTime::now()).await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::RegistryError),
        "unreachable registry",
    );
    assert!(d.digest().is_none());
    // A tag that does not exist: also a registry error, not an allow.
    let missing =
        ImageRef::parse(&format!("{}/{}:nope", registry(), unique_repo("missing"))).unwrap();
    let d = decide(policy, &missing, SystemTime::now()).await;
    assert_decision(
        &d,
        Outcome::Denied,
        Some(ReasonCode::RegistryError),
        "missing tag",
    );
}

#[tokio::test]
async fn cached_decisions_are_reused_within_ttl() {
    let w = World::new();
    let p = "cache";
    let image = signed_image(p, &[&w.keys.release]).await;
    let v =
        Verifier::builder(w.policy("deny", &rule(p, "      signatures: {authority: release}\n")))
            .registry(RegistryConfig {
                auth: AuthSource::Anonymous,
                ..RegistryConfig::default()
            })
            .decision_ttl(Duration::from_secs(60))
            .build()
            .unwrap();
    let first = v.verify(&image).await;
    assert_eq!(first.outcome(), Outcome::Allowed);
    let many = v.verify_all(&vec![image.clone(); 50]).await;
    assert!(many.iter().all(|d| d == &first), "same decision from cache");
}

/// Registry requests per image for a policy decision with full discovery (legacy tags and
/// bundle referrers): resolve, `.sig` manifest, payload blob, the referrers tag-schema
/// index; the referrers API probe happens once per registry, and there is no `/v2/` ping
/// (issue 14).
#[tokio::test]
async fn requests_per_image_with_full_discovery() {
    let w = World::new();
    let proxy = crate::support::proxy::Proxy::start(registry()).await;
    let p = "requests";
    let mut images = Vec::new();
    for _ in 0..5 {
        let image = signed_image(p, &[&w.keys.release]).await;
        let path = image
            .repository_name()
            .split_once('/')
            .unwrap()
            .1
            .to_owned();
        images.push(ImageRef::parse(&format!("{}/{path}:v1", proxy.addr())).unwrap());
    }
    let rule = format!(
        "    - name: r\n      images: [\"{}/{p}/**\"]\n      signatures: {{authority: release}}\n",
        proxy.addr()
    );
    let v = Verifier::builder(w.policy("deny", &rule))
        .registry(RegistryConfig {
            auth: AuthSource::Anonymous,
            ..RegistryConfig::default()
        })
        .build()
        .unwrap();
    proxy.reset();
    for image in &images {
        let d = v.verify(image).await;
        assert_eq!(
            d.outcome(),
            Outcome::Allowed,
            "{}",
            serde_json::to_string_pretty(&d).unwrap()
        );
    }
    let log = proxy.requests();
    assert_eq!(
        log.len(),
        1 + 4 * images.len(),
        "one referrers probe + 4 per image: {log:#?}"
    );
}
