use super::super::import::import_policies;
use super::super::import_kyverno::tests::{import, is_static_fail, note};
use super::super::model::{Authority, AuthorityExpr, Mode};

const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM\n5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==\n-----END PUBLIC KEY-----\n";

/// An ImageValidatingPolicy `iv` with `spec` (indented 2) after its apiVersion line.
fn ivpol(version: &str, spec: &str) -> String {
    format!(
        "apiVersion: policies.kyverno.io/{version}\nkind: ImageValidatingPolicy\nmetadata: {{name: iv}}\nspec:\n{spec}"
    )
}

fn key() -> String {
    serde_json::Value::String(KEY.into()).to_string()
}

#[test]
fn attestors_attestations_and_what_validations_name() {
    let spec = format!(
        "  validationActions: [Deny, Audit]\n  failurePolicy: Ignore\n  matchImageReferences:\n    - glob: \"ghcr.io/acme/*\"\n    - expression: \"image.startsWith('quay.io/')\"\n  attestors:\n    - name: release\n      cosign:\n        key: {{data: {key}, hashAlgorithm: sha256}}\n    - name: ci\n      cosign:\n        keyless:\n          identities:\n            - {{issuer: https://token.actions.githubusercontent.com, subjectRegExp: '^https://github\\.com/acme/.*$'}}\n            - {{issuer: https://accounts.google.com, subject: dev@acme.io}}\n          additionalExtensions: {{githubWorkflowRepository: acme/app}}\n        ctlog: {{url: https://rekor.sigstore.dev, insecureIgnoreSCT: true}}\n    - name: unused\n      cosign: {{key: {{kms: awskms:///x}}}}\n  attestations:\n    - name: slsa\n      intoto: {{type: https://slsa.dev/provenance/v1}}\n    - name: sbom\n      intoto: {{type: https://cyclonedx.org/bom}}\n    - name: never\n      intoto: {{type: vuln}}\n  validations:\n    - expression: >-\n        images.containers.map(image, verifyImageSignatures(image, [attestors.release])).all(e, e > 0)\n    - expression: >-\n        images.containers.map(image, verifyAttestationSignatures(image, attestations.slsa, [attestors.ci])).all(e, e > 0)\n    - expression: >-\n        images.containers.map(image, extractPayload(image, attestations[\"sbom\"]).bomFormat == 'CycloneDX').all(e, e)\n",
        key = key()
    );
    let (p, imp) = import(&ivpol("v1alpha1", &spec));
    let rule = &p.rules()[0];
    assert_eq!(rule.name, "iv");
    assert_eq!(rule.mode, Mode::Enforce);
    let images: Vec<String> = rule.images.iter().map(|i| i.as_str().to_owned()).collect();
    assert_eq!(images, ["ghcr.io/acme/**", "**"], "{}", imp.yaml);
    assert!(note(&imp, "iv.spec.matchImageReferences[1].expression").contains("every image"));
    assert_eq!(
        rule.signatures,
        Some(AuthorityExpr::Authority("iv-release".into()))
    );
    assert!(matches!(p.authority("iv-release"), Some(Authority::Key(_))));
    // The unused attestor is not converted (its KMS key would have been a static fail).
    assert!(p.authority("iv-unused").is_none(), "{}", imp.yaml);
    assert!(note(&imp, "iv.spec.attestors[2]").contains("no validation uses it"));
    assert_eq!(rule.attestations.len(), 2, "{}", imp.yaml);
    let slsa = &rule.attestations[0];
    assert_eq!(slsa.predicate_types, ["https://slsa.dev/provenance/v1"]);
    let Some(AuthorityExpr::AnyOf(ids)) = &slsa.signed_by else {
        panic!("{}", imp.yaml)
    };
    assert_eq!(ids.len(), 2);
    let Some(Authority::Keyless(k)) = p.authority("iv-ci-1") else {
        panic!("{}", imp.yaml)
    };
    assert!(k.subject.matches("dev@acme.io") && !k.subject.matches("eve@acme.io"));
    assert!(
        imp.yaml.contains(r#""github":{"repository":"acme/app"}"#),
        "{}",
        imp.yaml
    );
    // The SBOM is named only by extractPayload: required, signed by the rule's signers.
    let sbom = &rule.attestations[1];
    assert_eq!(sbom.predicate_types, ["https://cyclonedx.org/bom"]);
    assert_eq!(sbom.signed_by, rule.signatures);
    assert!(note(&imp, "iv.spec.attestations[2]").contains("no validation uses it"));
    for i in 0..3 {
        assert!(
            note(&imp, &format!("iv.spec.validations[{i}].expression")).contains("not converted")
        );
    }
    assert!(note(&imp, "iv.spec.failurePolicy").contains("fails closed"));
    assert!(note(&imp, "iv.spec.attestors[1].cosign.ctlog.insecureIgnoreSCT").contains("stricter"));
    assert!(note(&imp, "iv.spec.attestors[0].cosign.key.hashAlgorithm").contains("hash"));
}

#[test]
fn several_attestors_in_one_call_are_all_required() {
    let spec = format!(
        "  validationActions: [Warn]\n  attestors:\n    - {{name: a, cosign: {{key: {{data: {key}}}}}}}\n    - {{name: b, cosign: {{keyless: {{identities: [{{issuer: i, subject: s}}]}}}}}}\n  validations:\n    - expression: \"images.containers.map(i, verifyImageSignatures(i, [attestors.a, attestors.b])).all(e, e > 0)\"\n",
        key = key()
    );
    let (p, imp) = import(&ivpol("v1", &spec));
    let rule = &p.rules()[0];
    assert_eq!(rule.mode, Mode::Warn);
    assert_eq!(rule.images[0].as_str(), "**");
    assert!(note(&imp, "iv.spec.matchImageReferences").contains("every image"));
    assert!(matches!(&rule.signatures, Some(AuthorityExpr::AllOf(v)) if v.len() == 2));
    assert!(note(&imp, "iv.spec.validations").contains("all of them"));
    assert!(note(&imp, "iv.spec.validationActions").contains("`warn`"));
}

#[test]
fn validations_naming_nothing_require_everything_declared() {
    let spec = format!(
        "  validationActions: [Audit]\n  matchImageReferences: [{{glob: \"ghcr.io/*\"}}]\n  attestors:\n    - {{name: a, cosign: {{key: {{data: {key}}}}}}}\n    - {{name: b, cosign: {{key: {{data: {key}}}}}}}\n  attestations:\n    - {{name: s, intoto: {{type: spdx}}}}\n  validations:\n    - expression: \"true\"\n",
        key = key()
    );
    let (p, imp) = import(&ivpol("v1beta1", &spec));
    let rule = &p.rules()[0];
    assert_eq!(rule.mode, Mode::Warn);
    assert!(matches!(&rule.signatures, Some(AuthorityExpr::AllOf(v)) if v.len() == 2));
    assert_eq!(rule.attestations.len(), 1);
    assert!(note(&imp, "iv.spec.validations").contains("every declared attestor"));

    // Nothing declared at all: nothing imprint can check, so every matched image fails.
    let (p, imp) = import(&ivpol(
        "v1",
        "  validationActions: [Deny]\n  validations: [{expression: \"images.containers.all(i, i.startsWith('ghcr.io/'))\"}]\n",
    ));
    assert!(is_static_fail(&p, "iv-nothing-to-verify"), "{}", imp.yaml);
    // No action given: enforce, noted.
    assert_eq!(p.rules()[0].mode, Mode::Enforce);
    let (_, imp) = import(&ivpol("v1", "  validations: []\n"));
    assert!(note(&imp, "iv.spec.validationActions").contains("enforce"));
}

#[test]
fn unsupported_attestors_fail_closed() {
    let spec = "  validationActions: [Deny]\n  attestors:\n    - {name: nota, notary: {certs: {value: x}}}\n    - {name: kms, cosign: {key: {kms: 'awskms:///x'}}}\n    - {name: expr, cosign: {key: {expression: 'x'}}}\n    - {name: subj, cosign: {keyless: {identities: [{issuer: i, subjectExpression: 'x'}]}}}\n    - {name: rekor, cosign: {keyless: {identities: [{issuer: i, subject: s}]}, ctlog: {url: 'https://rekor.example'}}}\n    - {name: root, cosign: {keyless: {identities: [{issuer: i, subject: s}]}, trustedRoot: {value: x}}}\n    - {name: cert, cosign: {certificate: {cert: {value: x}}}}\n    - {name: ann, cosign: {key: {data: x}, annotations: {a: b}}}\n  attestations:\n    - {name: ref, referrer: {type: sbom/cyclone-dx}}\n";
    let (p, imp) = import(&ivpol("v1alpha1", spec));
    for name in [
        "iv-nota",
        "iv-kms",
        "iv-expr",
        "iv-subj",
        "iv-rekor",
        "iv-root",
        "iv-cert",
        "iv-ann",
        "iv-ref-referrer",
    ] {
        assert!(is_static_fail(&p, name), "{name}: {}", imp.yaml);
    }
    for (field, why) in [
        ("iv.spec.attestors[0].notary", "Notary"),
        ("iv.spec.attestors[1].cosign.key.kms", "KMS"),
        ("iv.spec.attestors[2].cosign.key.expression", "CEL"),
        (
            "iv.spec.attestors[3].cosign.keyless.identities[0].subjectExpression",
            "CEL",
        ),
        ("iv.spec.attestors[4].cosign.ctlog.url", "Rekor"),
        ("iv.spec.attestors[5].cosign.trustedRoot", "trusted root"),
        ("iv.spec.attestors[6].cosign.certificate", "certificate"),
        ("iv.spec.attestors[7].cosign.annotations", "annotations"),
        ("iv.spec.attestations[0].referrer", "referrer"),
    ] {
        let n = note(&imp, field);
        assert!(n.contains(why) && n.contains("fail closed"), "{field}: {n}");
    }
    assert!(!imp.yaml.contains("pass"), "{}", imp.yaml);
}

#[test]
fn undeclared_names_fail_closed() {
    let (p, imp) = import(&ivpol(
        "v1",
        "  attestors: []\n  validations: [{expression: \"verifyImageSignatures(i, [attestors.missing]) > 0\"}]\n",
    ));
    assert!(is_static_fail(&p, "iv-undeclared-missing"), "{}", imp.yaml);
    assert!(imp.notes.iter().any(|n| {
        n.reason
            .contains("`attestors.missing`, which is not declared")
    }));
    let (p, imp) = import(&ivpol(
        "v1",
        "  validations: [{expression: \"extractPayload(i, attestations.gone) != null\"}]\n",
    ));
    assert!(
        is_static_fail(&p, "iv-undeclared-attestation-gone"),
        "{}",
        imp.yaml
    );
    // An attestor named by another function is required.
    let spec = format!(
        "  attestors: [{{name: dev-attestor, cosign: {{key: {{data: {key}}}}}}}]\n  validations: [{{expression: \"imageverify.verify(images.containers, attestors.dev-attestor).all(r, r.verified)\"}}]\n",
        key = key()
    );
    let (p, imp) = import(&ivpol("v1", &spec));
    assert_eq!(
        p.rules()[0].signatures,
        Some(AuthorityExpr::Authority("iv-dev-attestor".into())),
        "{}",
        imp.yaml
    );
    let e = import_policies(&ivpol("v1", "  attestations: [{name: x}]\n")).unwrap_err();
    assert!(e.contains("neither intoto.type nor referrer.type"), "{e}");
}

#[test]
fn unknown_fields_are_noted_or_fail_closed() {
    let spec = format!(
        "  validationActions: [Deny]\n  newSpecField: 1\n  attestors:\n    - {{name: a, cosign: {{key: {{data: {key}, newKeyField: x}}}}}}\n    - {{name: b, cosign: {{keyless: {{identities: [{{issuer: i, subject: s, newIdentityField: x}}]}}}}}}\n    - {{name: c, sigstoreNext: {{}}}}\n    - {{name: d, cosign: {{key: {{data: {key}}}, newCosignField: x}}}}\n  attestations:\n    - {{name: s, intoto: {{type: spdx}}, newAttestationField: x}}\n",
        key = key()
    );
    let (p, imp) = import(&ivpol("v1", &spec));
    assert!(note(&imp, "iv.spec.newSpecField").contains("does not know"));
    assert!(note(&imp, "iv.spec.attestations[0].newAttestationField").contains("does not know"));
    for (name, field) in [
        ("iv-a", "iv.spec.attestors[0].cosign.key.newKeyField"),
        (
            "iv-b",
            "iv.spec.attestors[1].cosign.keyless.identities[0].newIdentityField",
        ),
        ("iv-c", "iv.spec.attestors[2].sigstoreNext"),
        ("iv-d", "iv.spec.attestors[3].cosign.newCosignField"),
    ] {
        assert!(is_static_fail(&p, name), "{name}: {}", imp.yaml);
        assert!(note(&imp, field).contains("fail closed"), "{field}");
    }
}

#[test]
fn identity_value_and_regexp_must_both_match() {
    let spec = "  validationActions: [Deny]\n  attestors:\n    - name: a\n      cosign:\n        keyless:\n          identities:\n            - {issuer: 'https://x', subject: dev@acme.io, subjectRegExp: '@acme\\.io$'}\n            - {issuer: 'https://x', subject: dev@acme.io, subjectRegExp: '@other\\.io$'}\n";
    let (p, imp) = import(&ivpol("v1", spec));
    let Some(Authority::Keyless(k)) = p.authority("iv-a-0") else {
        panic!("{}", imp.yaml)
    };
    assert!(k.subject.matches("dev@acme.io") && !k.subject.matches("eve@acme.io"));
    assert!(is_static_fail(&p, "iv-a-1"), "{}", imp.yaml);
    assert!(
        note(
            &imp,
            "iv.spec.attestors[0].cosign.keyless.identities[1].subjectRegExp"
        )
        .contains("fail closed")
    );
}
