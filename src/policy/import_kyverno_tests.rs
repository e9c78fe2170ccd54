use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::super::import::{Imported, import_cluster_image_policies, import_policies};
use super::super::model::{Authority, AuthorityExpr, Mode, Policy, StaticAction};
use super::super::{SignatureFormat, evaluate_condition};
use super::{translate_glob, wildcard_regexp};

const KEY_A: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM
5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==
-----END PUBLIC KEY-----";
const KEY_B: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOUD2uzRHLnx1oH6XAnF+8haL73BF
zh9pMI1x1/c4Nj/w+rsrgMCDyV/S8hmsXEbizhYD3QndVtV1piBDfDIb8w==
-----END PUBLIC KEY-----";

/// `yaml` imported, and the policy it makes loaded (shared with the ImageValidatingPolicy
/// tests).
pub(in crate::policy) fn import(yaml: &str) -> (Policy, Imported) {
    let imp = import_policies(yaml).unwrap();
    let p = Policy::from_str_with_base(&imp.yaml, Path::new(".")).unwrap();
    (p, imp)
}

/// The reason noted for `field`; panics when there is none.
pub(in crate::policy) fn note<'a>(imp: &'a Imported, field: &str) -> &'a str {
    imp.notes
        .iter()
        .find(|n| n.field == field)
        .map(|n| n.reason.as_str())
        .unwrap_or_else(|| panic!("no note for {field}: {:#?}", imp.notes))
}

/// Whether authority `name` is `static: fail`.
pub(in crate::policy) fn is_static_fail(p: &Policy, name: &str) -> bool {
    matches!(
        p.authority(name),
        Some(Authority::Static(StaticAction::Fail))
    )
}

/// A ClusterPolicy with `body` as its one verifyImages entry (indented 6).
fn cluster_policy(action: &str, body: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: p}}\nspec:\n{action}  rules:\n    - name: r\n      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n      verifyImages:\n{body}"
    )
}

fn pem_block(pem: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    pem.lines().map(|l| format!("{pad}{l}\n")).collect()
}

#[test]
fn keys_count_sets_and_modes() {
    let body = format!(
        "      - imageReferences: [\"ghcr.io/acme/*\", \"registry.acme.io/app*\"]\n        skipImageReferences: [\"ghcr.io/acme/sandbox/*\"]\n        failureAction: Enforce\n        attestors:\n          - count: 2\n            entries:\n              - keys:\n                  publicKeys: |\n{}{}              - keyless: {{subject: \"https://github.com/acme/*\", issuer: https://token.actions.githubusercontent.com, additionalExtensions: {{githubWorkflowRepository: acme/app, githubWorkflowTrigger: push}}}}\n          - entries:\n              - keys: {{publicKeys: {}, rekor: {{ignoreTlog: true}}}}\n",
        pem_block(KEY_A, 20),
        pem_block(KEY_B, 20),
        serde_json::Value::String(KEY_A.into())
    );
    let (p, imp) = import(&cluster_policy("  validationFailureAction: Audit\n", &body));
    let rule = &p.rules()[0];
    // failureAction on the entry overrides the policy's Audit.
    assert_eq!(rule.mode, Mode::Enforce);
    assert_eq!(rule.name, "p-r");
    let images: Vec<String> = rule.images.iter().map(|i| i.as_str().to_owned()).collect();
    assert_eq!(
        images,
        [
            "ghcr.io/acme/**",
            "registry.acme.io/app*",
            "registry.acme.io/app*/**"
        ],
        "{}",
        imp.yaml
    );
    assert_eq!(rule.exclude.len(), 1);
    // The multi-key publicKeys counts as two entries: a threshold of 2 over 3 signers,
    // and the second set must pass too.
    let sig = rule.signatures.as_ref().unwrap();
    let AuthorityExpr::AllOf(sets) = sig else {
        panic!("{sig}")
    };
    assert!(
        matches!(&sets[0], AuthorityExpr::Threshold { count: 2, of } if of.len() == 3),
        "{sig}"
    );
    assert!(matches!(&sets[1], AuthorityExpr::Authority(_)), "{sig}");
    let Some(Authority::Keyless(k)) = p.authority("p-r-a0-e1") else {
        panic!("{}", imp.yaml)
    };
    assert!(
        k.subject
            .matches("https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main")
    );
    assert!(!k.subject.matches("https://github.com/acmex/app"));
    assert!(
        k.issuer
            .matches("https://token.actions.githubusercontent.com")
    );
    assert!(
        imp.yaml
            .contains(r#""github":{"repository":"acme/app","trigger":"push"}"#)
            || imp
                .yaml
                .contains(r#""github":{"trigger":"push","repository":"acme/app"}"#),
        "{}",
        imp.yaml
    );
    assert!(matches!(
        p.authority("p-r-a0-e0-k0"),
        Some(Authority::Key(_))
    ));
    assert!(matches!(
        p.authority("p-r-a0-e0-k1"),
        Some(Authority::Key(_))
    ));
    assert!(
        note(
            &imp,
            "p.spec.rules[0].verifyImages[0].attestors[0].entries[1].keyless.subject"
        )
        .contains("subjectRegExp")
    );
    assert!(
        note(
            &imp,
            "p.spec.rules[0].verifyImages[0].attestors[0].entries[0].keys.rekor"
        )
        .contains("transparency-log")
    );
    // ignoreTlog: true matches imprint, so no tlog note for the second set.
    assert!(
        !imp.notes.iter().any(
            |n| n.field == "p.spec.rules[0].verifyImages[0].attestors[1].entries[0].keys.rekor"
        )
    );
    assert!(note(&imp, "p.spec.rules[0].match").contains("resource selection"));
    assert!(
        imp.notes
            .iter()
            .any(|n| n.field == "(all)" && n.reason.contains("noMatch: allow"))
    );

    // The policy's Audit applies when the entry has no failureAction; count 1 is anyOf.
    let body = format!(
        "      - imageReferences: [\"*\"]\n        attestors:\n          - count: 1\n            entries:\n              - keys: {{publicKeys: {}}}\n              - keys: {{publicKeys: {}}}\n",
        serde_json::Value::String(KEY_A.into()),
        serde_json::Value::String(KEY_B.into())
    );
    let (p, imp) = import(&cluster_policy("  validationFailureAction: Audit\n", &body));
    assert_eq!(p.rules()[0].mode, Mode::Warn);
    assert_eq!(p.rules()[0].images[0].as_str(), "**");
    assert!(matches!(
        p.rules()[0].signatures,
        Some(AuthorityExpr::AnyOf(_))
    ));
    assert!(note(&imp, "p.spec.validationFailureAction").contains("`warn`"));
    // No action anywhere: Kyverno's default, Audit.
    let (p, imp) = import(&cluster_policy("", &body));
    assert_eq!(p.rules()[0].mode, Mode::Warn);
    assert!(
        note(&imp, "p.spec.rules[0].verifyImages[0].failureAction").contains("default is Audit")
    );
    let (p, _) = import(&cluster_policy(
        "  validationFailureAction: enforce\n",
        &body,
    ));
    assert_eq!(p.rules()[0].mode, Mode::Enforce);
}

#[test]
fn counts_out_of_range_are_refused() {
    for count in ["3", "0", "two"] {
        let body = format!(
            "      - imageReferences: [\"*\"]\n        attestors:\n          - count: {count}\n            entries:\n              - keys: {{publicKeys: {}}}\n              - keys: {{publicKeys: {}}}\n",
            serde_json::Value::String(KEY_A.into()),
            serde_json::Value::String(KEY_B.into())
        );
        let e = import_policies(&cluster_policy("", &body)).unwrap_err();
        assert!(e.contains("attestors[0].count"), "{count}: {e}");
    }
}

#[test]
fn what_cannot_be_checked_fails_closed() {
    let body = "      - imageReferences: [\"ghcr.io/acme/*\"]\n        attestors:\n          - entries:\n              - keys: {kms: \"gcpkms://projects/x\"}\n              - keys: {secret: {name: k, namespace: default}}\n              - keys: {publicKeys: \"{{ keys.data.production }}\"}\n              - keys: {publicKeys: \"k8s://default/key\"}\n              - keys: {publicKeys: \"not a key\"}\n              - certificates: {cert: x}\n              - keyless: {subject: s, issuer: i, roots: x}\n              - keyless: {subject: s, issuer: i, rekor: {url: https://rekor.example}}\n              - keyless: {subject: s, issuer: i, ctlog: {pubkey: x}}\n              - keyless: {subject: s, issuer: i, additionalExtensions: {buildSignerURI: x}}\n              - keys: {publicKeys: x}\n                annotations: {env: prod}\n              - attestor: \"{{ attestors.x }}\"\n              - {}\n";
    let (p, imp) = import(&cluster_policy("", body));
    let AuthorityExpr::AllOf(all) = p.rules()[0].signatures.as_ref().unwrap() else {
        panic!()
    };
    assert_eq!(all.len(), 13, "{}", imp.yaml);
    for e in 0..13 {
        let name = format!("p-r-a0-e{e}");
        assert!(is_static_fail(&p, &name), "{name}: {}", imp.yaml);
    }
    let at = "p.spec.rules[0].verifyImages[0].attestors[0].entries";
    for (field, why) in [
        ("[0].keys.kms", "KMS"),
        ("[1].keys.secret", "secrets"),
        ("[2].keys.publicKeys", "variable"),
        ("[3].keys.publicKeys", "secrets"),
        ("[4].keys.publicKeys", "not a PEM"),
        ("[5].certificates", "certificate"),
        ("[6].keyless.roots", "roots"),
        ("[7].keyless.rekor.url", "Rekor"),
        ("[8].keyless.ctlog.pubkey", "transparency-log keys"),
        ("[9].keyless.additionalExtensions.buildSignerURI", "GitHub"),
        ("[10].annotations", "annotations"),
        ("[11].attestor", "variable"),
        ("[12]", "no keys"),
    ] {
        let n = note(&imp, &format!("{at}{field}"));
        assert!(n.contains(why) && n.contains("fail closed"), "{field}: {n}");
    }
    // No pass anywhere.
    assert!(!imp.yaml.contains("pass"), "{}", imp.yaml);
}

#[test]
fn notary_and_bundle_types() {
    let body = format!(
        "      - type: Notary\n        imageReferences: [\"ghcr.io/acme/*\"]\n        attestors:\n          - entries:\n              - certificates: {{cert: x}}\n      - type: SigstoreBundle\n        imageReferences: [\"ghcr.io/other/*\"]\n        attestors:\n          - entries:\n              - keys: {{publicKeys: {}}}\n",
        serde_json::Value::String(KEY_A.into())
    );
    let (p, imp) = import(&cluster_policy(
        "  validationFailureAction: Enforce\n",
        &body,
    ));
    assert_eq!(p.rules().len(), 2);
    assert_eq!(p.rules()[0].name, "p-r-0");
    assert!(is_static_fail(&p, "p-r-0-a0"), "{}", imp.yaml);
    assert!(note(&imp, "p.spec.rules[0].verifyImages[0].type").contains("Notary"));
    let Some(Authority::Key(k)) = p.authority("p-r-1-a0-e0") else {
        panic!("{}", imp.yaml)
    };
    assert_eq!(k.signature_format, SignatureFormat::Bundle);
}

#[test]
fn attestations_types_signers_and_conditions() {
    let body = format!(
        "      - imageReferences: [\"ghcr.io/acme/*\"]\n        attestors:\n          - entries:\n              - keys: {{publicKeys: {key}}}\n        attestations:\n          - type: https://cyclonedx.org/bom\n            conditions:\n              - all:\n                  - {{key: \"{{{{ Data.bomFormat }}}}\", operator: Equals, value: CycloneDX}}\n                  - {{key: \"{{{{ Data.specVersion }}}}\", operator: NotEquals, value: \"1.0\"}}\n                any:\n                  - {{key: \"{{{{ Data.version }}}}\", operator: GreaterThanOrEquals, value: 1}}\n          - predicateType: https://slsa.dev/provenance/v0.2\n            attestors:\n              - entries:\n                  - keyless: {{subject: s, issuer: i}}\n            conditions:\n              - all:\n                  - {{key: \"{{{{ regex_match('^x', '{{{{builder.id}}}}') }}}}\", operator: Equals, value: true}}\n          - type: vuln\n            conditions:\n              - all:\n                  - {{key: \"{{{{ scanner.uri }}}}\", operator: Equals, value: \"https://github.com/*\"}}\n",
        key = serde_json::Value::String(KEY_A.into())
    );
    let (p, imp) = import(&cluster_policy(
        "  validationFailureAction: Enforce\n",
        &body,
    ));
    let rule = &p.rules()[0];
    assert_eq!(rule.attestations.len(), 3, "{}", imp.yaml);
    let sbom = &rule.attestations[0];
    assert_eq!(sbom.predicate_types, ["https://cyclonedx.org/bom"]);
    assert!(sbom.signed_by.is_none() || sbom.signed_by == rule.signatures);
    assert!(
        note(
            &imp,
            "p.spec.rules[0].verifyImages[0].attestations[0].attestors"
        )
        .contains("without verifying its signature")
    );
    let cel = sbom.condition.as_deref().unwrap();
    let run = |predicate: serde_json::Value| {
        evaluate_condition(
            cel,
            &predicate,
            &json!({}),
            &json!({}),
            Duration::from_secs(5),
        )
    };
    assert_eq!(
        run(json!({"Data": {"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1}})),
        Ok(true),
        "{cel}"
    );
    assert_eq!(
        run(json!({"Data": {"bomFormat": "SPDX", "specVersion": "1.4", "version": 1}})),
        Ok(false)
    );
    assert_eq!(
        run(json!({"Data": {"bomFormat": "CycloneDX", "specVersion": "1.0", "version": 1}})),
        Ok(false)
    );
    assert_eq!(
        run(json!({"Data": {"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 0}})),
        Ok(false)
    );
    // A missing field is an error, never a pass.
    assert!(run(json!({"Data": {}})).is_err());
    assert!(
        note(
            &imp,
            "p.spec.rules[0].verifyImages[0].attestations[0].conditions"
        )
        .contains("CEL")
    );

    let slsa = &rule.attestations[1];
    assert_eq!(slsa.predicate_types, ["https://slsa.dev/provenance/v0.2"]);
    assert_eq!(
        slsa.signed_by,
        Some(AuthorityExpr::Authority("p-r-att1-a0-e0".into()))
    );
    assert!(slsa.condition.is_none());
    assert!(
        note(
            &imp,
            "p.spec.rules[0].verifyImages[0].attestations[1].conditions"
        )
        .contains("content is not checked")
    );
    // A wildcard value is a Kyverno pattern, not a literal: not converted.
    assert!(rule.attestations[2].condition.is_none());
    assert!(
        note(
            &imp,
            "p.spec.rules[0].verifyImages[0].attestations[2].conditions"
        )
        .contains("not converted")
    );

    // An attestation with nobody to sign it fails closed.
    let body = "      - imageReferences: [\"*\"]\n        attestations:\n          - type: vuln\n";
    let (p, imp) = import(&cluster_policy("", body));
    assert!(p.rules()[0].signatures.is_none());
    assert!(is_static_fail(&p, "p-r-att0-no-attestors"), "{}", imp.yaml);
    // So does an entry that verifies nothing imprint can check.
    let body = "      - imageReferences: [\"*\"]\n        verifyDigest: true\n";
    let (p, imp) = import(&cluster_policy("", body));
    assert!(is_static_fail(&p, "p-r-nothing-to-verify"), "{}", imp.yaml);
    assert!(note(&imp, "p.spec.rules[0].verifyImages[0].verifyDigest").contains("digest"));
    let e = import_policies(&cluster_policy(
        "",
        "      - imageReferences: [\"*\"]\n        attestations:\n          - {conditions: []}\n",
    ))
    .unwrap_err();
    assert!(e.contains("attestations[0]: no type"), "{e}");
}

#[test]
fn selectors_policies_and_mixed_documents() {
    let key = serde_json::Value::String(KEY_A.into());
    let yaml = format!(
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Namespace\n    metadata: {{name: x}}\n  - apiVersion: kyverno.io/v2beta1\n    kind: Policy\n    metadata: {{name: ns, namespace: team}}\n    spec:\n      validationFailureAction: Enforce\n      failurePolicy: Ignore\n      rules:\n        - name: other\n          validate: {{message: m}}\n        - name: sig\n          match: {{all: [{{resources: {{kinds: [Pod], namespaceSelector: {{matchLabels: {{signed: 'true'}}}}}}}}]}}\n          exclude: {{any: [{{resources: {{namespaces: [kube-system]}}}}]}}\n          verifyImages:\n            - imageReferences: [\"ghcr.io/a*/app:*\"]\n              attestors: [{{entries: [{{keys: {{publicKeys: {key}}}}}]}}]\n  - apiVersion: policy.sigstore.dev/v1beta1\n    kind: ClusterImagePolicy\n    metadata: {{name: cip}}\n    spec:\n      images: [{{glob: \"quay.io/**\"}}]\n      authorities: [{{name: k, key: {{data: {key}}}}}]\n  - apiVersion: policies.kyverno.io/v1\n    kind: ImageValidatingPolicy\n    metadata: {{name: iv}}\n    spec:\n      validationActions: [Deny]\n      matchImageReferences: [{{glob: \"docker.io/acme/*\"}}]\n      attestors: [{{name: k, cosign: {{key: {{data: {key}}}}}}}]\n      validations: [{{expression: \"images.containers.map(i, verifyImageSignatures(i, [attestors.k])).all(e, e > 0)\"}}]\n"
    );
    let (p, imp) = import(&yaml);
    let names: Vec<&str> = p.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["ns-sig", "cip", "iv"], "{}", imp.yaml);
    assert!(imp.yaml.contains("Kyverno ClusterPolicy/Policy, sigstore policy-controller ClusterImagePolicy, Kyverno ImageValidatingPolicy"), "{}", imp.yaml);
    assert!(note(&imp, "document 1").contains("skipped"));
    assert!(note(&imp, "ns.metadata.namespace").contains("namespace"));
    assert!(note(&imp, "ns.spec.failurePolicy").contains("fails closed"));
    assert!(note(&imp, "ns.spec.rules[0]").contains("not a verifyImages rule"));
    assert!(note(&imp, "ns.spec.rules[1].match").contains("namespace and label selectors cannot"));
    assert!(note(&imp, "ns.spec.rules[1].exclude").contains("stricter"));
    assert!(
        note(&imp, "ns.spec.rules[1].verifyImages[0].imageReferences").contains("also matches `/`")
    );
    assert_eq!(
        imp.notes.iter().filter(|n| n.field == "(all)").count(),
        2,
        "{:#?}",
        imp.notes
    );
    // The policy-controller entry point still refuses Kyverno resources.
    let e = import_cluster_image_policies(&yaml).unwrap_err();
    assert!(
        e.contains("expected a policy.sigstore.dev ClusterImagePolicy"),
        "{e}"
    );
    // Nothing to import at all.
    let e = import_policies("apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
    assert!(e.contains("no ClusterImagePolicy, Kyverno"), "{e}");
    let e = import_policies(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: v}\nspec:\n  rules: [{name: r, validate: {}}]\n",
    )
    .unwrap_err();
    assert!(e.contains("v.spec.rules: no verifyImages rule"), "{e}");
}

#[test]
fn image_patterns_and_wildcards() {
    let mut out = super::Converted::default();
    let t = |p: &str, out: &mut super::Converted| translate_glob(p, "f", out);
    assert_eq!(t("*", &mut out), ["**"]);
    assert_eq!(t("ghcr.io/*", &mut out), ["ghcr.io/**"]);
    assert_eq!(t("ghcr.io/*/app:*", &mut out), ["ghcr.io/**/app:*"]);
    assert_eq!(t("ghcr.io/app:v1*", &mut out), ["ghcr.io/app:v1*"]);
    assert_eq!(
        t("ghcr.io/app@sha256:*", &mut out),
        ["ghcr.io/app@sha256:*"]
    );
    assert_eq!(
        t("ghcr.io/app*", &mut out),
        ["ghcr.io/app*", "ghcr.io/app*/**"]
    );
    assert_eq!(t("oci:/x/demo*", &mut out), ["oci:/x/demo*"]);
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    assert_eq!(t("ghcr.io/team-*/app", &mut out), ["ghcr.io/team-*/app"]);
    assert_eq!(out.notes.len(), 1);
    let re = wildcard_regexp("https://github.com/a.b/*@refs/tags/v?");
    assert_eq!(re, r"^https://github\.com/a\.b/.*@refs/tags/v.$");
    let re = regex::Regex::new(&re).unwrap();
    assert!(re.is_match("https://github.com/a.b/w.yml@refs/tags/v1"));
    assert!(!re.is_match("https://github.com/aXb/w.yml@refs/tags/v1"));
    assert!(!re.is_match("https://github.com/a.b/w.yml@refs/tags/v10"));
}

#[test]
fn unknown_fields_are_noted_or_fail_closed() {
    let body = format!(
        "      - imageReferences: [\"*\"]\n        futureOption: x\n        attestors:\n          - entries:\n              - keys: {{publicKeys: {key}, newConstraint: y}}\n              - keyless: {{subject: s, issuer: i, subjectRegExp: '^s$', newClaim: z}}\n              - keyless: {{subject: s, subjectRegExp: '^s$', issuer: i}}\n              - newAttestorKind: {{}}\n",
        key = serde_json::Value::String(KEY_A.into())
    );
    let (p, imp) = import(&cluster_policy(
        "  applyRules: One\n  newSpecField: 1\n",
        &body,
    ));
    let at = "p.spec.rules[0].verifyImages[0]";
    assert!(note(&imp, &format!("{at}.futureOption")).contains("does not know"));
    assert!(note(&imp, "p.spec.newSpecField").contains("does not know"));
    assert!(note(&imp, "p.spec.applyRules").contains("stricter"));
    for (e, field) in [
        (0, "keys.newConstraint"),
        (1, "keyless.newClaim"),
        (3, "newAttestorKind"),
    ] {
        assert!(
            is_static_fail(&p, &format!("p-r-a0-e{e}")),
            "{e}: {}",
            imp.yaml
        );
        assert!(
            note(&imp, &format!("{at}.attestors[0].entries[{e}].{field}")).contains("fail closed")
        );
    }
    let Some(Authority::Keyless(k)) = p.authority("p-r-a0-e2") else {
        panic!("{}", imp.yaml)
    };
    assert!(k.subject.matches("s") && !k.subject.matches("xs"));
    assert!(
        note(&imp, &format!("{at}.attestors[0].entries[2].keyless")).contains("regexp is used")
    );
}

#[test]
fn issuer_and_regexp_both_apply_and_extension_values_are_exact() {
    let body = "      - imageReferences: [\"*\"]\n        attestors:\n          - entries:\n              - keyless: {subject: s, issuer: 'https://x', issuerRegExp: '^https://x$'}\n              - keyless: {subject: s, issuer: 'https://a', issuerRegExp: '^https://b$'}\n              - keyless: {subject: s, issuer: 'https://*', issuerRegExp: '^https://'}\n              - keyless: {subject: s, issuer: i, additionalExtensions: {githubWorkflowRef: 'refs/tags/*'}}\n              - keyless: {subject: s, issuer: i, additionalExtensions: {'1.3.6.1.4.1.57264.1.6': refs/heads/main}}\n";
    let (p, imp) = import(&cluster_policy("", body));
    let Some(Authority::Keyless(k)) = p.authority("p-r-a0-e0") else {
        panic!("{}", imp.yaml)
    };
    assert!(k.issuer.matches("https://x") && !k.issuer.matches("https://xy"));
    let at = "p.spec.rules[0].verifyImages[0].attestors[0].entries";
    for (e, field) in [
        (1, "keyless.issuerRegExp"),
        (2, "keyless.issuerRegExp"),
        (3, "keyless.additionalExtensions.githubWorkflowRef"),
    ] {
        assert!(
            is_static_fail(&p, &format!("p-r-a0-e{e}")),
            "{e}: {}",
            imp.yaml
        );
        assert!(note(&imp, &format!("{at}[{e}].{field}")).contains("fail closed"));
    }
    assert!(
        imp.yaml.contains(r#""github":{"ref":"refs/heads/main"}"#),
        "{}",
        imp.yaml
    );
}
