//! `imprint policy lint`: findings with code, severity and file:line:column as text and as
//! `-o json`, and the exit codes (1 on an error-level finding, 0 on warnings only, 2 for a
//! policy that cannot be loaded).

use std::path::Path;

use crate::support::cli::{imprint, run};

const HEAD: &str = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A private key where the public key belongs (line 6) and an unused authority (line 7).
fn broken_policy(dir: &Path) -> String {
    let key = imprint::keys::SigningKey::generate_p256().unwrap();
    let private = pem::encode(&pem::Pem::new(
        "PRIVATE KEY",
        key.to_pkcs8_der().unwrap().to_vec(),
    ));
    write(dir, "cosign.key", &private);
    write(
        dir,
        "policy.yaml",
        &format!(
            "{HEAD}  authorities:\n    release:\n      key: {{file: cosign.key}}\n    spare: {{static: fail}}\n  rules:\n    - name: r\n      images: ['ghcr.io/acme/**']\n      signatures: {{authority: release}}\n"
        ),
    )
}

#[test]
fn text_output_names_file_line_column_severity_and_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = broken_policy(dir.path());
    let (code, stdout, stderr) = run(imprint().args(["policy", "lint", &path]));
    assert_eq!(code, 1, "an error-level finding exits 1\n{stdout}{stderr}");
    let private = stdout
        .lines()
        .find(|l| l.contains("[private-key]"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        private.starts_with(&format!(
            "{path}:6:19: error[private-key] spec.authorities.release.key.file: "
        )),
        "{private}"
    );
    assert!(
        stdout.contains(&format!(
            "{path}:7:12: warning[unused-authority] spec.authorities.spare: "
        )),
        "{stdout}"
    );
    assert!(stderr.contains("1 error-level lint finding(s)"), "{stderr}");
}

#[test]
fn json_output_is_an_array_of_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = broken_policy(dir.path());
    let (code, stdout, stderr) = run(imprint().args(["policy", "lint", "-o", "json", &path]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let findings: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(findings.len(), 2, "{stdout}");
    for f in &findings {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "code", "column", "field", "file", "line", "message", "severity"
            ]
        );
        assert_eq!(f["file"], path.as_str());
    }
    let private = findings
        .iter()
        .find(|f| f["code"] == "private-key")
        .unwrap();
    assert_eq!(private["severity"], "error");
    assert_eq!(private["line"], 6);
    assert_eq!(private["column"], 19);
    assert_eq!(private["field"], "spec.authorities.release.key.file");
    let unused = findings
        .iter()
        .find(|f| f["code"] == "unused-authority")
        .unwrap();
    assert_eq!(unused["severity"], "warning");
}

#[test]
fn warnings_only_exit_0_and_a_clean_policy_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let warned = write(
        dir.path(),
        "warned.yaml",
        &format!(
            "{HEAD}  authorities:\n    ci: {{keyless: {{issuer: 'https://token.actions.githubusercontent.com', subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main'}}}}\n  rules:\n    - name: r\n      images: ['ghcr.io/acme/**']\n      signatures: {{authority: ci}}\n      attestations: [{{predicateType: spdxx}}]\n"
        ),
    );
    let (code, stdout, stderr) = run(imprint().args(["policy", "lint", &warned]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("warning[unknown-predicate-type]") && stdout.contains("`spdx`"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(imprint().args(["policy", "lint", "policies/demo.yaml"]));
    assert_eq!(
        (code, stdout.as_str()),
        (0, "policies/demo.yaml: ok\n"),
        "{stderr}"
    );
    let (code, stdout, _) =
        run(imprint().args(["policy", "lint", "-o", "json", "policies/demo.yaml"]));
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn an_unloadable_policy_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.yaml", &format!("{HEAD}  rulez: []\n"));
    for args in [
        vec!["policy", "lint", &bad],
        vec!["policy", "lint", "-o", "json", &bad],
    ] {
        let (code, stdout, stderr) = run(imprint().args(&args));
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains("unknown field `rulez`"), "{stderr}");
    }
}

/// `policy explain` (issue 12): the applying rules and requirements, offline, text and JSON.
#[test]
fn policy_explain_names_rules_offline() {
    let (code, out, err) = run(imprint().args([
        "policy",
        "explain",
        "policies/demo.yaml",
        "oci:testdata/demo-image:demo",
        "ghcr.io/other/app:1",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rule demo-image (enforce, matched by `oci:../testdata/demo-image**`)"),
        "{out}"
    );
    assert!(out.contains("signatures: demo-key"), "{out}");
    assert!(out.contains("no rule applies: noMatch is deny"), "{out}");
    let (code, out, _) = run(imprint().args([
        "policy",
        "explain",
        "-o",
        "json",
        "policies/demo.yaml",
        "oci:testdata/demo-image:demo",
    ]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["rules"][0]["applies"], true);
    assert_eq!(v[0]["authorities"][0], "demo-key");
}

/// `policy test` (issue 12): the committed fixtures pass offline; a wrong expectation fails
/// (exit 1) naming file:line and what differed, in text, JSON, JUnit and GitHub annotations;
/// registry images are refused as not offline; an invalid test file is exit 2.
#[test]
fn policy_test_runs_cases_offline() {
    let (code, out, err) = run(imprint().args(["policy", "test", "testdata/policy-tests"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("8 case(s) in 1 file(s): 8 passed, 0 failed"),
        "{out}"
    );
    // Manifest cases: one line per image use of the Deployment and the CronJob.
    assert!(
        out.contains("PASS ")
            && out.contains(
                ": the demo workloads are allowed: batch/v1/CronJob/shop/nightly containers[0] (expected allowed [] by demo-key, got allowed [])"
            ),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(
                |l| l.contains("denies every workload: apps/v1/Deployment/shop/web")
                    && l.contains("got denied [signature-invalid]")
            )
            .count(),
        2,
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let root = crate::support::crate_path("");
    let file = dir.path().join("imprint-test.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: imprint.dev/v1\nkind: PolicyTest\npolicy: {root}/policies/demo.yaml\ncases:\n  \
             - name: wrongly expected denied\n    image: oci:{root}/testdata/demo-image:demo\n    \
             expect: {{outcome: denied}}\n  - name: not offline\n    image: ghcr.io/a/b:1\n    \
             expect: {{outcome: allowed}}\n",
            root = root.display()
        ),
    )
    .unwrap();
    let (code, out, _) = run(imprint().arg("policy").arg("test").arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL {}:5: wrongly expected denied",
            file.display()
        )),
        "{out}"
    );
    assert!(out.contains("expected denied, got allowed"), "{out}");
    assert!(out.contains("policy tests run offline"), "{out}");
    let (code, out, _) = run(imprint().args(["policy", "test", "-o", "json"]).arg(&file));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["passed"], false);
    assert_eq!(v[0]["line"], 5);
    let (_, out, _) = run(imprint().args(["policy", "test", "-o", "junit"]).arg(&file));
    assert!(
        out.contains(r#"tests="2" failures="2""#) && out.contains("<failure message="),
        "{out}"
    );
    let (_, out, _) = run(imprint()
        .args(["policy", "test", "-o", "github"])
        .arg(&file));
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("::error file="))
            .count(),
        2,
        "{out}"
    );

    std::fs::write(
        &file,
        "apiVersion: imprint.dev/v1\nkind: PolicyTest\ncasez: []\n",
    )
    .unwrap();
    let (code, _, err) = run(imprint().arg("policy").arg("test").arg(&file));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("casez"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(imprint().arg("policy").arg("test").arg(empty.path()));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no imprint-test.yaml found"), "{err}");

    // A manifest case expecting the wrong outcome fails (exit 1), per image use; a registry
    // image in the manifest makes the test file invalid (exit 2), at the manifest's line.
    let manifest = dir.path().join("pod.yaml");
    let write_pod = |image: &str| {
        std::fs::write(
            &manifest,
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: ns}}\nspec:\n  containers:\n    - name: c\n      image: {image}\n"
            ),
        )
        .unwrap();
    };
    write_pod(&format!("oci:{}/testdata/demo-image:demo", root.display()));
    std::fs::write(
        &file,
        format!(
            "apiVersion: imprint.dev/v1\nkind: PolicyTest\npolicy: {}/policies/demo.yaml\ncases:\n  - name: pod\n    manifest: pod.yaml\n    results:\n      - resources: [Pod/ns/p]\n        expect: {{outcome: denied}}\n",
            root.display()
        ),
    )
    .unwrap();
    let (code, out, err) = run(imprint().arg("policy").arg("test").arg(&file));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "FAIL {}:5: pod: v1/Pod/ns/p containers[0]",
            file.display()
        )) && out.contains("expected denied, got allowed"),
        "{out}"
    );
    let (_, out, _) = run(imprint().args(["policy", "test", "-o", "json"]).arg(&file));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["resource"], "v1/Pod/ns/p containers[0]", "{out}");
    write_pod("ghcr.io/acme/app:1");
    let (code, out, err) = run(imprint().arg("policy").arg("test").arg(&file));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!(
            "{}:7: image `ghcr.io/acme/app:1`",
            manifest.display()
        )),
        "{err}"
    );
}

/// `policy import` (issue 12): the policy-controller example policies convert to policies
/// that load, with what was not converted on stderr; a ClusterImagePolicy naming the demo key
/// and demo layout, imported, decides the demo image as policy-controller would.
#[test]
fn policy_import_converts_cluster_image_policies() {
    let dir = tempfile::tempdir().unwrap();
    for (file, must_note) in [
        (
            "custom-key-attestation-sbom-spdxjson.yaml",
            "attestations[0].policy",
        ),
        (
            "keyless-attestation-sbom-spdxjson.yaml",
            "attestations[0].policy",
        ),
        ("release-signed-by-github-actions.yaml", "noMatch: deny"),
        (
            "signed-by-aws-kms-key.yaml",
            "key.kms: KMS keys are not supported",
        ),
    ] {
        let (code, out, err) = run(imprint()
            .args(["policy", "import"])
            .arg(format!("testdata/policy-import/{file}")));
        assert_eq!(code, 0, "{file}: {err}");
        assert!(err.contains(must_note), "{file}: {err}");
        let converted = dir.path().join(file);
        std::fs::write(&converted, &out).unwrap();
        let (code, lint, _) = run(imprint().args(["policy", "lint"]).arg(&converted));
        assert_eq!(code, 0, "{file}: {lint}\n{out}");
    }
    assert!(
        std::fs::read_to_string(dir.path().join("signed-by-aws-kms-key.yaml"))
            .unwrap()
            .contains("{static: fail}")
    );

    let root = crate::support::crate_path("");
    let key = std::fs::read_to_string(root.join("keys/demo.pub")).unwrap();
    let layout = root.join("testdata/demo-image");
    let cip = |attestation: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: demo}}\nspec:\n  \
             images: [{{glob: \"oci:{}**\"}}]\n  authorities:\n    - name: demo\n      key:\n        data: {}\n{attestation}",
            layout.display(),
            serde_json::Value::String(key.clone())
        )
    };
    for (attestation, want) in [
        ("", 0),
        (
            "      attestations: [{name: sbom, predicateType: cyclonedx}]\n",
            0,
        ),
        (
            "      attestations: [{name: sbom, predicateType: spdxjson}]\n",
            1,
        ),
    ] {
        let input = dir.path().join("cip.yaml");
        std::fs::write(&input, cip(attestation)).unwrap();
        let (code, out, err) = run(imprint().args(["policy", "import"]).arg(&input));
        assert_eq!(code, 0, "{err}");
        let policy = dir.path().join("imported.yaml");
        std::fs::write(&policy, &out).unwrap();
        let (code, table, err) = run(imprint()
            .args(["verify", "--policy"])
            .arg(&policy)
            .arg(format!("oci:{}:demo", layout.display())));
        assert_eq!(code, want, "{attestation}: {table}{err}\n{out}");
    }
    let (code, _, err) = run(imprint().args(["policy", "import", "policies/demo.yaml"]));
    assert_eq!(code, 2);
    assert!(err.contains("ClusterImagePolicy"), "{err}");
}

/// Layout patterns that no OCI layout image can match, patterns doubled after
/// normalisation, and an allow-only rule that a wider checked rule overrides (issue 12).
#[test]
fn lint_reports_layout_patterns_duplicates_and_overridden_allow_rules() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::canonicalize(dir.path()).unwrap().join("layouts");
    std::fs::create_dir_all(&real).unwrap();
    let link = real.parent().unwrap().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let path = write(
        dir.path(),
        "policy.yaml",
        &format!(
            "{HEAD}  authorities:\n    ci: {{keyless: {{issuer: x, subject: y}}}}\n    ok: {{static: pass}}\n  rules:\n    - name: signed\n      images: ['ghcr.io/acme/**', 'oci://ghcr.io/acme/*', 'oci:{}/**']\n      signatures: {{authority: ci}}\n    - name: tools\n      images: ['ghcr.io/acme/tools/*', 'GHCR.IO/acme/tools/*']\n      signatures: {{authority: ok}}\n",
            link.display()
        ),
    );
    let (code, stdout, stderr) = run(imprint().args(["policy", "lint", &path]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line = |code: &str| -> Vec<&str> {
        stdout
            .lines()
            .filter(|l| l.contains(&format!("[{code}]")))
            .collect()
    };
    let layout = line("unmatchable-layout-pattern");
    assert_eq!(layout.len(), 2, "{stdout}");
    assert!(
        layout[0].starts_with(&format!(
            "{path}:9:35: error[unmatchable-layout-pattern] spec.rules[0].images[1]: "
        )) && layout[0].contains("not a registry"),
        "{stdout}"
    );
    assert!(
        layout[1].contains("spec.rules[0].images[2]")
            && layout[1].contains(&format!("`{}`", real.display())),
        "{stdout}"
    );
    let duplicate = line("duplicate-pattern");
    assert_eq!(duplicate.len(), 1, "{stdout}");
    assert!(
        duplicate[0].starts_with(&format!(
            "{path}:12:40: warning[duplicate-pattern] spec.rules[1].images[1]: "
        )),
        "{stdout}"
    );
    let overridden = line("allow-rule-overridden");
    assert_eq!(overridden.len(), 1, "{stdout}");
    assert!(
        overridden[0].starts_with(&format!(
            "{path}:12:15: warning[allow-rule-overridden] spec.rules[1].images: "
        )),
        "{stdout}"
    );
    let (code, stdout, _) = run(imprint().args(["policy", "lint", "-o", "json", &path]));
    assert_eq!(code, 1);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let codes: Vec<&str> = findings
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for want in [
        "unmatchable-layout-pattern",
        "duplicate-pattern",
        "allow-rule-overridden",
    ] {
        assert!(codes.contains(&want), "{want} missing from {codes:?}");
    }
    // Written without the link, the layout pattern is fine.
    let fixed = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&link.display().to_string(), &real.display().to_string());
    std::fs::write(&path, fixed).unwrap();
    let (_, stdout, _) = run(imprint().args(["policy", "lint", &path]));
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("[unmatchable-layout-pattern]"))
            .count(),
        1,
        "{stdout}"
    );
}
