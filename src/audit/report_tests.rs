use std::time::SystemTime;

use super::*;
use crate::audit::manifest::{SourceLocation, Workload};
use crate::keys::SigningKey;
use crate::policy::{Evidence, Reason, evaluate};

fn policy(dir: &std::path::Path) -> Policy {
    let key = SigningKey::generate_p256().unwrap();
    std::fs::write(dir.join("k.pub"), key.public_key().to_pem()).unwrap();
    let yaml = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: warn\n  authorities:\n    k: {key: {file: k.pub}}\n    k2: {key: {file: k.pub}}\n  rules:\n    - name: enf\n      images: [\"r.example/enf/**\"]\n      signatures: {authority: k}\n    - name: wrn\n      mode: warn\n      images: [\"r.example/wrn/**\"]\n      signatures: {authority: k}\n    - name: aud\n      mode: audit\n      images: [\"r.example/aud/**\"]\n      signatures: {authority: k}\n    - name: thr\n      images: [\"r.example/thr/**\"]\n      signatures: {threshold: {count: 2, of: [k, k2]}}\n";
    Policy::from_str_with_base(yaml, dir).unwrap()
}

fn digest(n: u8) -> Digest {
    Digest::of(&[n])
}

fn used(ns: Option<&str>, image: &str) -> ImageUse {
    ImageUse {
        workload: Some(Workload {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: ns.map(str::to_owned),
            name: "p".into(),
        }),
        slot: Some("containers[0]".into()),
        container: None,
        image: image.into(),
        location: Some(SourceLocation {
            file: "m.yaml".into(),
            line: 3,
            column: 7,
        }),
    }
}

fn decide(p: &Policy, image: &str, n: u8, discovery_error: bool) -> (ImageRef, Decision) {
    let r = ImageRef::parse(image).unwrap();
    let mut ev = Evidence::new(r.clone(), digest(n));
    if discovery_error {
        ev.discovery_errors
            .push(Reason::new(ReasonCode::RegistryError, "rate limited (429)"));
    }
    let d = evaluate(p, &ev, SystemTime::now());
    (r, d)
}

#[test]
fn outcomes_reasons_and_would_deny() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path());
    let mut rows = Vec::new();
    for (ns, image, n, err) in [
        (Some("a"), "r.example/enf/x:1", 1, false),
        (Some("a"), "r.example/wrn/x:1", 2, false),
        (
            Some("b"),
            "r.example/aud/x@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            3,
            false,
        ),
        (None, "r.example/other/x:1", 4, false),
        (Some("b"), "r.example/enf/y:1", 5, true),
    ] {
        let (r, d) = decide(&p, image, n, err);
        rows.push(row(used(ns, image), &r, &d));
    }
    let unresolved = Decision::unresolved(
        "r.example/enf/z:1",
        &p,
        SystemTime::now(),
        ReasonCode::Timeout,
        "deadline passed",
    );
    rows.push(row(
        used(Some("a"), "r.example/enf/z:1"),
        &ImageRef::parse("r.example/enf/z:1").unwrap(),
        &unresolved,
    ));
    rows.push(invalid(used(Some("a"), "UPPER/Case::bad"), "bad".into()));

    let outcomes: Vec<RowOutcome> = rows.iter().map(|r| r.outcome).collect();
    use RowOutcome::*;
    assert_eq!(
        outcomes,
        [Denied, Warned, Allowed, Warned, Error, Error, Denied]
    );
    let would: Vec<bool> = rows.iter().map(|r| r.would_deny).collect();
    assert_eq!(would, [true, true, true, false, false, false, true]);
    assert_eq!(rows[0].reasons, ["no-signatures"]);
    assert_eq!(rows[0].would_deny_rules, ["enf"]);
    assert_eq!(rows[0].failures.len(), 1);
    assert_eq!(rows[0].failures[0].rule.as_deref(), Some("enf"));
    assert_eq!(rows[0].failures[0].mode, Some(Mode::Enforce));
    assert!(
        rows[0].failures[0].message.starts_with("k: "),
        "{:?}",
        rows[0].failures[0]
    );
    assert_eq!(rows[1].would_deny_rules, ["wrn"]);
    assert_eq!(
        rows[2].reasons,
        ["no-signatures"],
        "audit failures are reasons too"
    );
    assert!(!rows[2].by_tag);
    assert!(rows[0].by_tag);
    assert_eq!(rows[3].reasons, ["no-matching-rule"]);
    assert!(rows[3].rules.is_empty());
    assert_eq!(rows[4].reasons, ["registry-error"]);
    assert!(
        rows[4].would_deny_rules.is_empty(),
        "infrastructure is not a verdict"
    );
    assert_eq!(rows[4].digest, Some(digest(5)));
    assert_eq!(rows[5].reasons, ["timeout"]);
    assert_eq!(rows[5].digest, None);
    assert_eq!(rows[5].failures[0].rule, None);
    assert_eq!(rows[6].reasons, [INVALID_REFERENCE]);

    let s = summarise(&p, &rows, 6, 5);
    assert_eq!(
        (s.rows, s.allowed, s.warned, s.denied, s.error),
        (7, 1, 2, 2, 2)
    );
    assert_eq!((s.unique_images, s.unique_digests), (6, 5));
    assert_eq!(s.registry_requests, None);
    assert!(s.notes.is_empty());
    let r = &s.enforce_readiness;
    assert_eq!((r.would_deny, r.unchecked, r.no_match_warned), (4, 2, 1));
    let rule = |n: &str| {
        let x = &r.by_rule[n];
        (x.mode, x.rows, x.would_deny, x.unchecked)
    };
    assert_eq!(rule("enf"), (Mode::Enforce, 2, 1, 1));
    assert_eq!(rule("wrn"), (Mode::Warn, 1, 1, 0));
    assert_eq!(rule("aud"), (Mode::Audit, 1, 1, 0));
    let ns = |n: &str| {
        let x = &r.by_namespace[n];
        (x.rows, x.denied, x.would_deny, x.error)
    };
    assert_eq!(ns("a"), (4, 2, 3, 1));
    assert_eq!(ns("b"), (2, 0, 1, 1));
    assert_eq!(ns("(unset)"), (1, 0, 0, 0));
    assert_eq!(rows[4].unchecked_rules, ["enf"]);
    assert_eq!(r.by_rule["thr"].rows, 0);

    // JSON shape: the image use is flattened into the row.
    let v = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(v["workload"]["kind"], "Pod");
    assert_eq!(v["slot"], "containers[0]");
    assert_eq!(v["location"]["line"], 3);
    assert_eq!(v["outcome"], "denied");
    assert_eq!(v["byTag"], true);
    assert_eq!(v["failures"][0]["mode"], "enforce");
}

#[test]
fn a_threshold_unmet_because_discovery_failed_is_an_error_not_a_denial() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path());
    let (r, d) = decide(&p, "r.example/thr/x:1", 1, true);
    // The engine's own reason is the threshold's; the registry errors are in its details.
    assert_eq!(
        d.reason().map(|r| r.code),
        Some(ReasonCode::ThresholdNotMet)
    );
    let row = row(used(None, "r.example/thr/x:1"), &r, &d);
    assert_eq!(row.outcome, RowOutcome::Error);
    assert_eq!(row.unchecked_rules, ["thr"]);
    assert!(!row.would_deny);
    assert!(row.failures.iter().any(|f| f.code == "registry-error"));
    // Without the discovery error it is a verdict.
    let (r, d) = decide(&p, "r.example/thr/x:1", 1, false);
    let row = super::row(used(None, "r.example/thr/x:1"), &r, &d);
    assert_eq!(row.outcome, RowOutcome::Denied);
    assert_eq!(row.would_deny_rules, ["thr"]);
    assert!(row.would_deny);
}

#[test]
fn sarif_levels_from_modes_and_runs_split_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path());
    let mut rows = Vec::new();
    for (image, n) in [
        ("r.example/enf/x:1", 1),
        ("r.example/wrn/x:1", 2),
        ("r.example/aud/x:1", 3),
        ("r.example/other/x:1", 4),
    ] {
        let (r, d) = decide(&p, image, n, false);
        rows.push(row(used(Some("a"), image), &r, &d));
    }
    let report = |rows: Vec<Row>| {
        let summary = summarise(&p, &rows, rows.len(), rows.len());
        Report {
            imprint_version: "0".into(),
            policy: PolicyInfo {
                origin: "p.yaml".into(),
                hash: p.hash(),
                rules: Vec::new(),
            },
            trust_root: None,
            inputs: InputSummary::default(),
            rows,
            summary,
        }
    };
    let log = crate::audit::sarif::sarif(&report(rows.clone()));
    let results = log["runs"][0]["results"].as_array().unwrap();
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    // enforce → error, warn → warning, audit → note, noMatch: warn → warning.
    assert_eq!(levels, ["error", "warning", "note", "warning"]);
    assert_eq!(results[3]["ruleId"], "no-matching-rule");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "m.yaml"
    );
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(
        rules.len(),
        2,
        "no-signatures and no-matching-rule, once each"
    );
    // The fingerprint ignores the digest and the line.
    let mut moved = rows[0].clone();
    moved.digest = Some(digest(99));
    if let Some(l) = moved.source.location.as_mut() {
        l.line += 10;
    }
    let again = crate::audit::sarif::sarif(&report(vec![moved]));
    assert_eq!(
        again["runs"][0]["results"][0]["partialFingerprints"],
        results[0]["partialFingerprints"]
    );

    // 25,001 results: two runs.
    let many: Vec<Row> = (0..crate::audit::sarif::MAX_RESULTS_PER_RUN + 1)
        .map(|_| invalid(used(None, "Bad"), "bad".into()))
        .collect();
    let log = crate::audit::sarif::sarif(&report(many));
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["results"].as_array().unwrap().len(), 25_000);
    assert_eq!(runs[1]["results"].as_array().unwrap().len(), 1);
    assert_eq!(runs[1]["tool"]["driver"]["name"], "imprint");
}

#[test]
fn trust_root_hash_of_the_roots_the_policy_uses_or_the_default() {
    use crate::trust::EmbeddedRoot;
    let dir = tempfile::tempdir().unwrap();
    // Key authorities only: the embedded public-good default.
    let v = Verifier::builder(policy(dir.path())).build().unwrap();
    let t = TrustRootInfo::of(&v).unwrap();
    let pg = EmbeddedRoot::PublicGood.load().unwrap().hash();
    assert!(t.default);
    assert_eq!(t.hash, pg);
    assert_eq!(t.roots.len(), 1);
    assert_eq!(t.roots[0].name, "public-good");
    // A keyless authority on a root the policy defines: that root, not the default.
    let yaml = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  trustRoots:\n    stg: {embedded: staging}\n  authorities:\n    ci:\n      keyless: {issuer: https://issuer.example, subject: x@example.com, trustRoot: stg}\n  rules:\n    - name: r\n      images: [\"r.example/**\"]\n      signatures: {authority: ci}\n";
    let p = Policy::from_str_with_base(yaml, dir.path()).unwrap();
    let v = Verifier::builder(p).build().unwrap();
    let t = TrustRootInfo::of(&v).unwrap();
    let stg = EmbeddedRoot::Staging.load().unwrap().hash();
    assert!(!t.default);
    assert_eq!(t.hash, stg);
    assert_ne!(stg, pg);
    assert_eq!(t.roots[0].name, "stg");
    // Several: one hash over all, independent of order.
    let a = TrustRootEntry {
        name: "a".into(),
        origin: String::new(),
        hash: pg.clone(),
    };
    let b = TrustRootEntry {
        name: "b".into(),
        origin: String::new(),
        hash: stg.clone(),
    };
    let ab = combined_hash(&[a.clone(), b.clone()]);
    assert_eq!(ab, combined_hash(&[b, a]));
    assert_ne!(ab, pg);
    assert_ne!(ab, stg);
}

#[test]
fn policy_reports_per_namespace_and_cluster_parse_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path());
    let mut rows = Vec::new();
    for (ns, image, n) in [
        (Some("a"), "r.example/enf/x:1", 1),
        (Some("a"), "r.example/wrn/x:1", 2),
        (Some("b"), "r.example/aud/x:1", 3),
        (None, "r.example/other/x:1", 4),
    ] {
        let (r, d) = decide(&p, image, n, false);
        rows.push(row(used(ns, image), &r, &d));
    }
    let (r, d) = decide(&p, "r.example/enf/y:1", 5, true);
    rows.push(row(used(Some("b"), "r.example/enf/y:1"), &r, &d));
    let summary = summarise(&p, &rows, rows.len(), rows.len());
    let report = Report {
        imprint_version: "9.9.9".into(),
        policy: PolicyInfo {
            origin: "p.yaml".into(),
            hash: p.hash(),
            rules: p
                .rules()
                .iter()
                .map(|r| RuleInfo {
                    name: r.name.clone(),
                    mode: r.mode,
                })
                .collect(),
        },
        trust_root: None,
        inputs: InputSummary::default(),
        rows,
        summary,
    };
    let text = crate::audit::policyreport::yaml(&report).unwrap();
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
    let kinds: Vec<(&str, &str, Option<&str>)> = docs
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap(),
                d["metadata"]["namespace"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("PolicyReport", "imprint-audit-a", Some("a")),
            ("PolicyReport", "imprint-audit-b", Some("b")),
            ("ClusterPolicyReport", "imprint-audit", None),
        ],
        "{text}"
    );
    for d in &docs {
        assert_eq!(d["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(d["metadata"]["annotations"]["imprint.dev/version"], "9.9.9");
        assert_eq!(
            d["metadata"]["annotations"]["imprint.dev/policy-hash"],
            p.hash().to_string()
        );
    }
    let result = |doc: usize, i: usize| {
        let r = &docs[doc]["results"][i];
        (
            r["rule"].as_str().unwrap().to_owned(),
            r["result"].as_str().unwrap().to_owned(),
        )
    };
    // enf (unsigned: fail), wrn (warn), aud (audit mode fails as fail), no rule (warn under
    // noMatch: warn), enf with discovery failing (error).
    assert_eq!(result(0, 0), ("enf".into(), "fail".into()), "{text}");
    assert_eq!(result(0, 1), ("wrn".into(), "warn".into()), "{text}");
    assert_eq!(result(1, 0), ("aud".into(), "fail".into()), "{text}");
    assert_eq!(result(1, 1), ("enf".into(), "error".into()), "{text}");
    assert_eq!(
        result(2, 0),
        ("no-matching-rule".into(), "warn".into()),
        "{text}"
    );
    let a = &docs[0];
    assert_eq!(a["summary"]["fail"], 1);
    assert_eq!(a["summary"]["warn"], 1);
    let r0 = &a["results"][0];
    assert_eq!(r0["policy"], "p.yaml");
    assert_eq!(r0["source"], "imprint");
    assert_eq!(r0["properties"]["digest"], digest(1).to_string());
    assert_eq!(r0["properties"]["slot"], "containers[0]");
    assert_eq!(r0["properties"]["location"], "m.yaml:3");
    assert_eq!(r0["properties"]["mode"], "enforce");
    assert_eq!(r0["resources"][0]["kind"], "Pod");
    assert_eq!(r0["resources"][0]["namespace"], "a");
    assert!(!r0["message"].as_str().unwrap().is_empty());
}

#[test]
fn attachment_tags_are_not_images() {
    let hex = "a".repeat(64);
    for t in ["sig", "att", "sbom"] {
        assert!(is_attachment_tag(&format!("sha256-{hex}.{t}")));
    }
    assert!(!is_attachment_tag("v1"));
    assert!(!is_attachment_tag(&format!("sha256-{hex}")));
    assert!(!is_attachment_tag(&format!(
        "sha256-{}.sig",
        "a".repeat(63)
    )));
    assert!(!is_attachment_tag(&format!("sha256-{hex}.other")));
}
