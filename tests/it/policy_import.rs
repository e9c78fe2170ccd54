//! `imprint policy import` of Kyverno policies (issue 12): the fixtures from Kyverno's
//! repositories (`testdata/policy-import/kyverno/`) convert to policies that load and lint
//! without errors, with what was not converted on stderr; a Kyverno `ClusterPolicy` and an
//! `ImageValidatingPolicy` naming the demo key and the demo layout, imported, decide the demo
//! image as Kyverno would: allowed when signed (and attested) as required, denied when they
//! require an attestation the image lacks.

use std::path::Path;

use crate::support::cli::{imprint, run};

/// Import `input`, write the policy to `dir/name`, and return its path and the stderr notes.
fn import_to(dir: &Path, input: &Path, name: &str) -> (std::path::PathBuf, String) {
    let (code, out, err) = run(imprint().args(["policy", "import"]).arg(input));
    assert_eq!(code, 0, "{}: {err}", input.display());
    let policy = dir.join(name);
    std::fs::write(&policy, &out).unwrap();
    (policy, err)
}

/// `imprint verify --policy POLICY oci:LAYOUT:demo`: the exit code and the output.
fn verify_demo(policy: &Path) -> (i32, String) {
    let layout = crate::support::crate_path("testdata/demo-image");
    let (code, out, err) = run(imprint()
        .args(["verify", "--policy"])
        .arg(policy)
        .arg(format!("oci:{}:demo", layout.display())));
    (code, format!("{out}{err}"))
}

#[test]
fn every_kyverno_fixture_converts_loads_and_lints() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = crate::support::crate_path("testdata/policy-import/kyverno");
    let mut seen = 0;
    for (file, must_note, must_yaml) in [
        (
            "verify-image.yaml",
            "mutateDigest: not converted",
            r#""key":{"pem":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra"#,
        ),
        (
            "verify-image-slsa.yaml",
            "content is not checked",
            r#""subjectRegExp":"^https://github\\.com/slsa\\-framework/"#,
        ),
        (
            "require-vulnerability-scan.yaml",
            "Audit (admit and report) is converted as mode `warn`",
            "mode: warn",
        ),
        (
            "verify-sbom-cyclonedx.yaml",
            "converted to the CEL condition",
            r#""condition":"(predicate[\"Data\"][\"bomFormat\"] == \"CycloneDX\")""#,
        ),
        (
            "verify-image-gcpkms.yaml",
            "keys.kms: KMS keys are not supported; converted to `static: fail`",
            r#"{"static":"fail"}"#,
        ),
        (
            "verify-image-with-multi-keys.yaml",
            "a key from a variable",
            r#"{"static":"fail"}"#,
        ),
        (
            "notary-attestation-verification.yaml",
            "Notary (Notation) signatures are not supported yet",
            r#"{"static":"fail"}"#,
        ),
        (
            "keyless-attestations-multiple-subjects-counts-1.yaml",
            "ignoreSCT: not converted",
            r#""signedBy":{"anyOf":[{"authority":"#,
        ),
        (
            "multiple-attestors.yaml",
            "required: not converted",
            r#"name: "validate-signatures-check-2""#,
        ),
        (
            "keyed-basic-namespace-selector.yaml",
            "namespace and label selectors cannot be",
            "mode: enforce",
        ),
        (
            "verify-image-ivpol.yaml",
            "notary: Notary (Notation) signatures are not supported yet",
            r#"{"static":"fail"}"#,
        ),
        (
            "ivpol-sample-policy.yaml",
            "referrer: OCI referrer artifacts",
            r#""predicateType":"sbom/cyclone-dx""#,
        ),
        (
            "ivpol-cosign-attestation-extract-cache-hit.yaml",
            "validations[1].expression: CEL validations are not converted",
            r#""predicateType":"https://slsa.dev/provenance/v1","signedBy":{"authority":"#,
        ),
    ] {
        let (policy, err) = import_to(dir.path(), &fixtures.join(file), file);
        assert!(err.contains(must_note), "{file}: {err}");
        assert!(
            err.contains("not converted as written: (all): images no rule matches are denied"),
            "{file}: {err}"
        );
        let yaml = std::fs::read_to_string(&policy).unwrap();
        assert!(yaml.contains(must_yaml), "{file}: {yaml}");
        assert!(!yaml.contains("\"pass\""), "{file}: {yaml}");
        let (code, lint, lint_err) = run(imprint().args(["policy", "lint"]).arg(&policy));
        assert_eq!(code, 0, "{file}: {lint}{lint_err}\n{yaml}");
        seen += 1;
    }
    let on_disk = std::fs::read_dir(&fixtures)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yaml")
        })
        .count();
    assert_eq!(seen, on_disk, "every fixture is tested");

    // Several files in one stream (a List and multi-document YAML, mixed kinds) make one
    // policy with every rule.
    let mut all = String::new();
    for f in ["verify-image.yaml", "verify-image-ivpol.yaml"] {
        all.push_str(&std::fs::read_to_string(fixtures.join(f)).unwrap());
        all.push_str("\n---\n");
    }
    all.push_str(
        &std::fs::read_to_string(crate::support::crate_path(
            "testdata/policy-import/signed-by-aws-kms-key.yaml",
        ))
        .unwrap(),
    );
    let input = dir.path().join("all.yaml");
    std::fs::write(&input, all).unwrap();
    let (policy, _) = import_to(dir.path(), &input, "all-imported.yaml");
    let yaml = std::fs::read_to_string(policy).unwrap();
    assert_eq!(yaml.matches("    - name: ").count(), 3, "{yaml}");
    // An imprint policy is not an input.
    let (code, _, err) = run(imprint().args(["policy", "import", "policies/demo.yaml"]));
    assert_eq!(code, 2);
    assert!(err.contains("no ClusterImagePolicy, Kyverno"), "{err}");
}

/// A Kyverno ClusterPolicy around the demo key and layout, imported, allows the demo image
/// and denies it when it requires an attestation the image lacks.
#[test]
fn imported_kyverno_cluster_policy_decides_the_demo_image() {
    let dir = tempfile::tempdir().unwrap();
    let root = crate::support::crate_path("");
    let key = std::fs::read_to_string(root.join("keys/demo.pub")).unwrap();
    let key = serde_json::Value::String(key).to_string();
    let other = serde_json::Value::String(
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOUD2uzRHLnx1oH6XAnF+8haL73BF\nzh9pMI1x1/c4Nj/w+rsrgMCDyV/S8hmsXEbizhYD3QndVtV1piBDfDIb8w==\n-----END PUBLIC KEY-----\n"
            .into(),
    )
    .to_string();
    let layout = root.join("testdata/demo-image");
    let policy = |action: &str, attestors: &str, attestations: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: demo}}\nspec:\n  \
             validationFailureAction: {action}\n  rules:\n    - name: verify\n      match: {{any: \
             [{{resources: {{kinds: [Pod]}}}}]}}\n      verifyImages:\n        - imageReferences: \
             [\"oci:{}*\"]\n          attestors:\n{attestors}{attestations}",
            layout.display()
        )
    };
    let demo_key =
        format!("            - entries:\n                - keys: {{publicKeys: {key}}}\n");
    let demo_or_other = format!(
        "            - count: 1\n              entries:\n                - keys: {{publicKeys: {other}}}\n                - keys: {{publicKeys: {key}}}\n"
    );
    let demo_and_other = format!(
        "            - entries:\n                - keys: {{publicKeys: {other}}}\n                - keys: {{publicKeys: {key}}}\n"
    );
    let cyclonedx = |value: &str| {
        format!(
            "          attestations:\n            - type: https://cyclonedx.org/bom\n              conditions:\n                - all: [{{key: \"{{{{ bomFormat }}}}\", operator: Equals, value: {value}}}]\n"
        )
    };
    let spdx = "          attestations:\n            - type: https://spdx.dev/Document\n";
    for (what, action, attestors, attestations, want) in [
        (
            "signed by the demo key",
            "Enforce",
            &demo_key,
            String::new(),
            0,
        ),
        (
            "count 1 of two keys",
            "Enforce",
            &demo_or_other,
            String::new(),
            0,
        ),
        (
            "both keys (no count)",
            "Enforce",
            &demo_and_other,
            String::new(),
            1,
        ),
        (
            "CycloneDX SBOM whose condition holds",
            "Enforce",
            &demo_key,
            cyclonedx("CycloneDX"),
            0,
        ),
        (
            "CycloneDX SBOM whose condition fails",
            "Enforce",
            &demo_key,
            cyclonedx("SPDX"),
            1,
        ),
        (
            "an SPDX SBOM the image lacks",
            "Enforce",
            &demo_key,
            spdx.to_owned(),
            1,
        ),
        ("the same in Audit", "Audit", &demo_key, spdx.to_owned(), 0),
    ] {
        let input = dir.path().join("kyverno.yaml");
        std::fs::write(&input, policy(action, attestors, &attestations)).unwrap();
        let (imported, _) = import_to(dir.path(), &input, "imported.yaml");
        let (code, out) = verify_demo(&imported);
        assert_eq!(
            code,
            want,
            "{what}: {out}\n{}",
            std::fs::read_to_string(&imported).unwrap()
        );
        if action == "Audit" {
            assert!(out.contains("warned"), "{what}: {out}");
        }
    }
}

/// The same with an ImageValidatingPolicy: cosign key attestor, CEL validations naming it.
#[test]
fn imported_image_validating_policy_decides_the_demo_image() {
    let dir = tempfile::tempdir().unwrap();
    let root = crate::support::crate_path("");
    let key = std::fs::read_to_string(root.join("keys/demo.pub")).unwrap();
    let key = serde_json::Value::String(key).to_string();
    let layout = root.join("testdata/demo-image");
    let policy = |predicate_type: &str, validation: &str| {
        format!(
            "apiVersion: policies.kyverno.io/v1beta1\nkind: ImageValidatingPolicy\nmetadata: {{name: demo}}\nspec:\n  \
             validationActions: [Deny]\n  matchImageReferences:\n    - glob: \"oci:{}*\"\n  attestors:\n    \
             - name: demo\n      cosign:\n        key: {{data: {key}}}\n  attestations:\n    - name: sbom\n      \
             intoto: {{type: {predicate_type}}}\n  validations:\n    - expression: >-\n        \
             images.containers.map(image, verifyImageSignatures(image, [attestors.demo])).all(e, e > 0)\n{validation}",
            layout.display()
        )
    };
    let attested = "    - expression: >-\n        images.containers.map(image, verifyAttestationSignatures(image, attestations.sbom, [attestors.demo])).all(e, e > 0)\n";
    for (what, predicate_type, validation, want) in [
        (
            "signature only (the SBOM is not named)",
            "https://spdx.dev/Document",
            "",
            0,
        ),
        (
            "CycloneDX SBOM verified",
            "https://cyclonedx.org/bom",
            attested,
            0,
        ),
        (
            "an SPDX SBOM the image lacks",
            "https://spdx.dev/Document",
            attested,
            1,
        ),
    ] {
        let input = dir.path().join("ivpol.yaml");
        std::fs::write(&input, policy(predicate_type, validation)).unwrap();
        let (imported, err) = import_to(dir.path(), &input, "imported.yaml");
        assert!(err.contains("CEL validations are not converted"), "{err}");
        let (code, out) = verify_demo(&imported);
        assert_eq!(
            code,
            want,
            "{what}: {out}\n{}",
            std::fs::read_to_string(&imported).unwrap()
        );
    }
}
