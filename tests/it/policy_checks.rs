//! Built-in policy checks on the real predicate vectors in `../shared/vectors/predicates`
//! (facts from that folder's README), plus: every example policy in `policies/` loads and
//! lints clean of errors, and every policy in `testdata/policy/invalid/` fails with the error
//! its `# expect:` line states.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine;
use imprint::policy::{
    LintLevel, OrSemantics, Policy, ReasonCode, SbomCheck, SbomFormat, Severity, VulnCheck,
    VulnFormat, check_sbom, check_vulnerabilities, evaluate_condition, parse_vuln_report,
    sbom_packages,
};
use serde_json::{Value, json};

/// The predicate vectors (`predicates/` of the shared vectors).
fn predicates() -> PathBuf {
    crate::support::vectors().join("predicates")
}

fn load(rel: &str) -> Value {
    let bytes = std::fs::read(predicates().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

fn at(s: &str) -> SystemTime {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

/// The in-toto statement(s) inside a plain statement, a DSSE envelope, a Sigstore bundle, or a
/// `gcloud … --show-provenance` document.
fn statements(doc: &Value) -> Vec<Value> {
    let decode = |env: &Value| -> Value {
        let payload = env["payload"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    if doc.get("_type").is_some() {
        vec![doc.clone()]
    } else if doc.get("dsseEnvelope").is_some() {
        vec![decode(&doc["dsseEnvelope"])]
    } else if doc.get("payloadType").is_some() {
        vec![decode(doc)]
    } else if let Some(list) = doc.pointer("/provenance_summary/provenance") {
        list.as_array()
            .unwrap()
            .iter()
            .map(|p| decode(&p["envelope"]))
            .collect()
    } else {
        panic!("unknown wrapper")
    }
}

/// Builds a policy with one attestation requirement and returns it (for its checks).
fn policy_with(requirement: &str) -> Policy {
    let yaml = format!(
        "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  authorities:\n    a: {{static: pass}}\n  rules:\n    - name: r\n      images: ['**']\n      attestations:\n        - {requirement}\n"
    );
    Policy::from_str_with_base(&yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

fn sbom_check(spec: &str) -> SbomCheck {
    let p = policy_with(&format!("{{predicateType: x, sbom: {spec}}}"));
    p.rules()[0].attestations[0].sbom.clone().unwrap()
}

fn vuln_check(spec: &str) -> VulnCheck {
    let p = policy_with(&format!("{{predicateType: x, vulnerabilities: {spec}}}"));
    p.rules()[0].attestations[0]
        .vulnerabilities
        .clone()
        .unwrap()
}

fn denied_packages(check: &SbomCheck, doc: &Value) -> Vec<String> {
    let report = check_sbom(check, doc).unwrap();
    let mut names: Vec<String> = report.findings.iter().map(|f| f.package.clone()).collect();
    names.sort();
    names.dedup();
    names
}

// ---------------------------------------------------------------- SBOMs

#[test]
fn sbom_mageia_spdx_gpl3_and_or_expressions() {
    let doc = load("sbom/protobom-trivy-0.42.1_mageia-5.1.spdx.json");
    let (format, packages) = sbom_packages(&doc).unwrap();
    assert_eq!(format, SbomFormat::Spdx);
    assert_eq!(packages.len(), 183);
    // 33 packages are GPL-3.0-only.
    let report = check_sbom(&sbom_check("{deniedLicenses: [GPL-3.0-only]}"), &doc).unwrap();
    assert_eq!(report.format, SbomFormat::Spdx);
    assert!(report.findings.len() >= 33, "{}", report.findings.len());
    assert_eq!(report.reason().unwrap().code, ReasonCode::SbomDeniedLicense);
    // `GPL-3.0-or-later OR Artistic` (dbus, less, ...): allowed under `choice` because the
    // other branch can be chosen... unless `Artistic` is unparsed; either way it must not be
    // denied by `choice`, and must be denied by `anyMention`.
    let choice = sbom_check("{deniedLicenses: [GPL-3.0-or-later]}");
    let any = sbom_check("{deniedLicenses: [GPL-3.0-or-later], licenseOr: anyMention}");
    let choice_denied = denied_packages(&choice, &doc);
    let any_denied = denied_packages(&any, &doc);
    assert!(
        !choice_denied.contains(&"less".to_string()),
        "{choice_denied:?}"
    );
    assert!(any_denied.contains(&"less".to_string()), "{any_denied:?}");
    assert!(any_denied.len() > choice_denied.len());
    // Free-text values such as `BSD-like` are reported, not silently accepted.
    assert!(
        check_sbom(&choice, &doc)
            .unwrap()
            .unparsed_licenses
            .iter()
            .any(|l| l.contains("BSD-like"))
    );
    // Versions with epochs: `lib64nss3 2:3.28.6-1.3.mga5` is newer than any epoch-0 version.
    let pkg = sbom_check("{deniedPackages: [{name: lib64nss3, versions: '<2:3.30'}]}");
    assert_eq!(denied_packages(&pkg, &doc), ["lib64nss3"]);
    let pkg = sbom_check("{deniedPackages: [{name: lib64nss3, versions: '<3.30'}]}");
    assert!(denied_packages(&pkg, &doc).is_empty());
}

#[test]
fn sbom_apko_curl_declared_licenses() {
    let doc = load("sbom/protobom-apko-curl.spdx.json");
    // licenseConcluded is NOASSERTION; licenseDeclared carries GPL-3.0-or-later.
    let check = sbom_check("{deniedLicenses: [GPL-3.0-or-later]}");
    assert_eq!(
        denied_packages(&check, &doc),
        ["glibc", "glibc-locale-posix", "ld-linux", "libgcc"]
    );
    // `MPL-2.0 AND MIT`: denying MIT denies zlib and ca-certificates-bundle (AND).
    let mit = denied_packages(&sbom_check("{deniedLicenses: [MPL-2.0]}"), &doc);
    assert_eq!(mit, ["ca-certificates-bundle", "zlib"]);
    // purl-based package rule with Alpine-style versions.
    // The image itself is also a package (`pkg:oci/curl@sha256:…`, no version): a ranged
    // rule treats a missing version as inside the range, so it is reported too.
    let image_pkg = "sha256:47fed8868b46b060efb8699dc40e981a0c785650223e03602d8c4493fc75b68c";
    let curl = sbom_check("{deniedPackages: [{name: curl, versions: '<8.1.2-r1'}]}");
    assert_eq!(denied_packages(&curl, &doc), ["curl", image_pkg]);
    let curl = sbom_check("{deniedPackages: [{name: curl, versions: '<8.1.2-r0'}]}");
    assert_eq!(denied_packages(&curl, &doc), [image_pkg]);
    let zlib = sbom_check("{deniedPackages: [{name: zlib, versions: '>=1.2.13-r3, <1.3'}]}");
    assert_eq!(denied_packages(&zlib, &doc), ["zlib"]);
}

#[test]
fn sbom_bitnami_postgresql_and_elasticsearch() {
    let pg = load("sbom/trivy-bitnami-postgresql.spdx.json");
    assert_eq!(
        denied_packages(&sbom_check("{deniedLicenses: [LGPL-2.1-only]}"), &pg),
        ["GEOS"]
    );
    assert!(denied_packages(&sbom_check("{deniedLicenses: [GPL-3.0-only]}"), &pg).is_empty());
    let es = load("sbom/trivy-bitnami-elasticsearch.spdx.json");
    let elastic = check_sbom(&sbom_check("{deniedLicenses: [Elastic-2.0]}"), &es).unwrap();
    assert_eq!(elastic.findings.len(), 1);
    assert_eq!(elastic.findings[0].package, "Elasticsearch");
    assert_eq!(elastic.findings[0].version.as_deref(), Some("8.9.1"));
    // `jar` has no version: a ranged rule treats it as inside the range (fail closed).
    let jar = check_sbom(
        &sbom_check("{deniedPackages: [{name: jar, versions: '<1.0'}]}"),
        &es,
    )
    .unwrap();
    assert_eq!(jar.findings.len(), 1);
    assert!(jar.findings[0].detail.contains("gives no version"));
}

#[test]
fn sbom_syft_kubectl_licenseref() {
    let doc = load("sbom/guac-syft-0.90.0_kubectl-amd64.spdx.json");
    let (_, packages) = sbom_packages(&doc).unwrap();
    assert_eq!(packages.len(), 89);
    assert_eq!(
        denied_packages(&sbom_check("{deniedLicenses: [GPL-2.0-only]}"), &doc),
        ["netbase"]
    );
    assert_eq!(
        denied_packages(&sbom_check("{deniedLicenses: [LicenseRef-GPL]}"), &doc),
        ["base-files"]
    );
}

#[test]
fn sbom_cyclonedx_trivy_alpine_deprecated_gpl() {
    let doc = load("sbom/cyclonedx-rust-cargo-trivy-0.42.1_alpine-3.13.1.cdx-1.4.json");
    let (format, packages) = sbom_packages(&doc).unwrap();
    assert_eq!(format, SbomFormat::CycloneDx);
    // 15 components plus `metadata.component` (the image itself).
    assert_eq!(packages.len(), 16);
    // `GPL-2.0` (deprecated) expressions count as GPL-2.0-only: 6 components.
    let gpl = denied_packages(&sbom_check("{deniedLicenses: [GPL-2.0-only]}"), &doc);
    assert_eq!(gpl.len(), 6, "{gpl:?}");
    assert!(gpl.contains(&"busybox".to_string()));
    assert_eq!(
        denied_packages(&sbom_check("{deniedLicenses: [OpenSSL]}"), &doc).len(),
        2
    );
    let busybox = sbom_check("{deniedPackages: [{name: busybox, versions: '<1.32.1-r3'}]}");
    assert_eq!(denied_packages(&busybox, &doc), ["busybox"]);
}

#[test]
fn sbom_cdxgen_ids_names_and_expressions() {
    let doc = load("sbom/cdxgen-vuln-spring_v9.10.2.cdx-1.5.json");
    let (_, packages) = sbom_packages(&doc).unwrap();
    // 88 components plus `metadata.component` (vuln-spring, Apache-2.0).
    assert_eq!(packages.len(), 89);
    assert!(!denied_packages(&sbom_check("{deniedLicenses: [BSD-4-Clause]}"), &doc).is_empty());
    // `(CDDL-1.0 OR GPL-2.0-with-classpath-exception)`: a choice is left, unless anyMention.
    let choice = check_sbom(&sbom_check("{deniedLicenses: [CDDL-1.0]}"), &doc).unwrap();
    assert!(choice.findings.is_empty(), "{:?}", choice.findings);
    let any = check_sbom(
        &sbom_check("{deniedLicenses: [CDDL-1.0], licenseOr: anyMention}"),
        &doc,
    )
    .unwrap();
    assert_eq!(any.findings.len(), 1);
    // Free-text names are listed as unparsed.
    assert!(any.unparsed_licenses.contains("Bouncy Castle Licence"));
    // log4j-api 2.12.1 is inside `<2.17.1`; logback-core 1.2.3 is outside `>=1.3`.
    let log4j = sbom_check(
        "{deniedPackages: [{name: log4j-api, versions: '<2.17.1'}, {name: logback-core, versions: '>=1.3'}]}",
    );
    assert_eq!(denied_packages(&log4j, &doc), ["log4j-api"]);
}

#[test]
fn sbom_syft_cyclonedx_alpine_and_rails() {
    let alpine = load("sbom/guac-syft-0.58.0_alpine.cdx-1.4.json");
    assert_eq!(
        denied_packages(&sbom_check("{deniedLicenses: [GPL-2.0-only]}"), &alpine).len(),
        6
    );
    assert!(denied_packages(&sbom_check("{deniedLicenses: [AGPL-3.0-only]}"), &alpine).is_empty());
    let rails = load("sbom/protobom-syft-1.2.0_rails-5.0.0.cdx-1.5.json");
    let (_, packages) = sbom_packages(&rails).unwrap();
    // 445 components plus `metadata.component` (the rails image).
    assert_eq!(packages.len(), 446);
    let gpl3 = check_sbom(&sbom_check("{deniedLicenses: [GPL-3.0-only]}"), &rails).unwrap();
    assert!(!gpl3.findings.is_empty());
    // `GPL` alone is free text: never guessed to be a specific GPL version.
    assert!(gpl3.unparsed_licenses.contains("GPL"));
}

#[test]
fn sbom_check_on_non_sbom_says_so() {
    let not_sbom = load("vuln/trivy-alpine-39.trivy.json");
    let err = check_sbom(&sbom_check("{deniedLicenses: [MIT]}"), &not_sbom).unwrap_err();
    assert_eq!(err.code, ReasonCode::UnsupportedFormat);
    let err = check_sbom(
        &sbom_check("{deniedLicenses: [MIT]}"),
        &json!({"spdxVersion": "SPDX-2.3", "name": "empty"}),
    )
    .unwrap_err();
    assert_eq!(err.code, ReasonCode::FieldMissing);
    assert!(err.message.contains("`packages`"));
}

// ---------------------------------------------------------------- vulnerability reports

#[test]
fn vuln_trivy_alpine39() {
    let doc = load("vuln/trivy-alpine-39.trivy.json");
    let parsed = parse_vuln_report(&doc).unwrap();
    assert_eq!(parsed.format, VulnFormat::Trivy);
    let findings = parsed.findings.unwrap();
    let critical: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .collect();
    assert_eq!(critical.len(), 2);
    assert!(critical.iter().all(|f| f.id == "CVE-2019-14697"));
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.severity == Severity::Medium)
            .count(),
        4
    );
    let created = at("2021-08-25T12:20:30Z");
    let day_later = created + Duration::from_secs(86_400);
    let too_severe =
        check_vulnerabilities(&vuln_check("{maxSeverity: high}"), &doc, day_later).unwrap();
    assert_eq!(too_severe.reason().unwrap().code, ReasonCode::VulnTooSevere);
    assert!(
        too_severe
            .reason()
            .unwrap()
            .message
            .contains("CVE-2019-14697")
    );
    let ignored = check_vulnerabilities(
        &vuln_check("{maxSeverity: medium, maxAge: 7d, ignore: [CVE-2019-14697]}"),
        &doc,
        day_later,
    )
    .unwrap();
    assert_eq!(ignored.reason(), None);
    assert_eq!(ignored.ignored, ["CVE-2019-14697"]);
    let old = check_vulnerabilities(
        &vuln_check("{maxAge: 7d}"),
        &doc,
        created + Duration::from_secs(8 * 86_400),
    )
    .unwrap();
    let reason = old.reason().unwrap();
    assert_eq!(reason.code, ReasonCode::VulnReportTooOld);
    assert!(
        reason.message.contains("2021-08-25T12:20:30Z"),
        "{}",
        reason.message
    );
    assert!(reason.message.contains("CreatedAt"));
}

#[test]
fn vuln_trivy_without_created_at() {
    let doc = load("vuln/defectdojo-trivy_teamdojo-image.trivy.json");
    let parsed = parse_vuln_report(&doc).unwrap();
    let findings = parsed.findings.unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.id == "CVE-2019-12900" && f.severity == Severity::Critical)
    );
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.severity == Severity::Critical)
            .count(),
        1
    );
    let err =
        check_vulnerabilities(&vuln_check("{maxAge: 30d}"), &doc, SystemTime::now()).unwrap_err();
    assert_eq!(err.code, ReasonCode::FieldMissing);
    assert!(err.message.contains("`CreatedAt`"), "{}", err.message);
    // Severity alone still works.
    let r = check_vulnerabilities(
        &vuln_check("{maxSeverity: critical}"),
        &doc,
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(r.reason(), None);
}

#[test]
fn vuln_trivy_sarif_levels_and_tags() {
    let doc = load("vuln/trivy-alpine-310.trivy.sarif.json");
    let parsed = parse_vuln_report(&doc).unwrap();
    assert_eq!(parsed.format, VulnFormat::Sarif);
    let findings = parsed.findings.unwrap();
    assert_eq!(findings.len(), 4);
    assert!(findings.iter().all(|f| f.severity == Severity::Medium));
    let now = SystemTime::now();
    let ok = check_vulnerabilities(&vuln_check("{maxSeverity: medium}"), &doc, now).unwrap();
    assert_eq!(ok.reason(), None);
    let low = check_vulnerabilities(&vuln_check("{maxSeverity: low}"), &doc, now).unwrap();
    assert_eq!(low.too_severe.len(), 4);
    let err = check_vulnerabilities(&vuln_check("{maxAge: 7d}"), &doc, now).unwrap_err();
    assert_eq!(err.code, ReasonCode::FieldMissing);
    assert!(err.message.contains("runs[].invocations[].endTimeUtc"));

    let nginx = load("vuln/vexctl-nginx-trivy-0.42.1.sarif.json");
    let findings = parse_vuln_report(&nginx).unwrap().findings.unwrap();
    assert_eq!(findings.len(), 99);
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.severity == Severity::High)
            .count(),
        3
    );
    assert!(findings.iter().any(|f| f.id == "CVE-2023-27103"));
    assert!(findings.iter().any(|f| f.id == "CVE-2007-5686"));
    let r = check_vulnerabilities(&vuln_check("{maxSeverity: medium}"), &nginx, now).unwrap();
    assert_eq!(r.too_severe.len(), 3);
}

#[test]
fn vuln_grype_sarif_numeric_severity_and_package_suffixed_ids() {
    let doc = load("vuln/vexctl-nginx-grype-0.63.0.sarif.json");
    let findings = parse_vuln_report(&doc).unwrap().findings.unwrap();
    assert_eq!(findings.len(), 99);
    // `CVE-2005-2541-tar` → id CVE-2005-2541, security-severity 10.0 → critical.
    let tar = findings.iter().find(|f| f.id == "CVE-2005-2541").unwrap();
    assert_eq!(tar.severity, Severity::Critical);
    assert!(tar.aliases.contains(&"CVE-2005-2541-TAR".to_string()));
    assert!(findings.iter().all(|f| f.severity != Severity::Unknown));
    let check = vuln_check("{maxSeverity: high, ignore: [CVE-2005-2541]}");
    let r = check_vulnerabilities(&check, &doc, SystemTime::now()).unwrap();
    assert!(r.ignored.contains(&"CVE-2005-2541".to_string()));
    assert!(!r.too_severe.iter().any(|f| f.id == "CVE-2005-2541"));
}

#[test]
fn vuln_grype_json_new_and_old_schema() {
    let busybox = load("vuln/defectdojo-grype-0.94.0_busybox-1.32.1.grype.json");
    let parsed = parse_vuln_report(&busybox).unwrap();
    assert_eq!(parsed.format, VulnFormat::Grype);
    assert!(
        parsed
            .scanned_at
            .unwrap()
            .to_rfc3339()
            .starts_with("2025-06-19T11:43:35")
    );
    let findings = parsed.findings.unwrap();
    assert_eq!(findings.len(), 15);
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    assert_eq!(
        (
            count(Severity::Critical),
            count(Severity::High),
            count(Severity::Medium),
            count(Severity::Low)
        ),
        (1, 10, 2, 2)
    );
    assert!(
        findings
            .iter()
            .any(|f| f.id == "CVE-2022-48174" && f.severity == Severity::Critical)
    );
    let fresh = at("2025-06-20T00:00:00Z");
    let r = check_vulnerabilities(
        &vuln_check("{maxSeverity: high, maxAge: 1d}"),
        &busybox,
        fresh,
    )
    .unwrap();
    assert_eq!(r.reason().unwrap().code, ReasonCode::VulnTooSevere);
    assert_eq!(r.too_severe.len(), 1);

    let old = load("vuln/defectdojo-grype-0.28.0_vulnerable-image.grype.json");
    let findings = parse_vuln_report(&old).unwrap().findings.unwrap();
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.id == "CVE-2021-33574" && f.severity == Severity::Critical)
            .count(),
        2
    );
    assert!(findings.iter().any(|f| f.severity == Severity::Negligible));
    let err = check_vulnerabilities(&vuln_check("{maxAge: 7d}"), &old, fresh).unwrap_err();
    assert_eq!(err.code, ReasonCode::FieldMissing);
    assert!(
        err.message.contains("`descriptor.timestamp`"),
        "{}",
        err.message
    );
}

#[test]
fn vuln_cosign_predicate_placeholder() {
    let doc = load("vuln/cosign-vuln-predicate.cosign-vuln.json");
    let parsed = parse_vuln_report(&doc).unwrap();
    assert_eq!(parsed.format, VulnFormat::CosignVuln);
    assert_eq!(
        parsed.scanned_at.unwrap().to_rfc3339(),
        "2022-04-12T00:10:00+00:00"
    );
    // scanner.result is null: maxSeverity cannot be judged.
    let err = check_vulnerabilities(
        &vuln_check("{maxSeverity: critical}"),
        &doc,
        SystemTime::now(),
    )
    .unwrap_err();
    assert_eq!(err.code, ReasonCode::FieldMissing);
    assert!(err.message.contains("predicate.scanner.result"));
    let fresh = check_vulnerabilities(
        &vuln_check("{maxAge: 1h}"),
        &doc,
        at("2022-04-12T00:30:00Z"),
    )
    .unwrap();
    assert_eq!(fresh.reason(), None);
    let stale = check_vulnerabilities(
        &vuln_check("{maxAge: 1h}"),
        &doc,
        at("2022-04-12T02:00:00Z"),
    )
    .unwrap();
    assert_eq!(stale.reason().unwrap().code, ReasonCode::VulnReportTooOld);
}

#[test]
fn vuln_cosign_predicate_wrapping_trivy() {
    // The shape `trivy --format cosign-vuln` produces, around a real Trivy report.
    let trivy = load("vuln/trivy-alpine-39.trivy.json");
    let doc = json!({
        "invocation": {},
        "scanner": {"uri": "pkg:github/aquasecurity/trivy@dev", "version": "dev", "result": trivy},
        "metadata": {"scanStartedOn": "2021-08-25T12:20:00Z", "scanFinishedOn": "2021-08-25T12:20:30Z"}
    });
    let r = check_vulnerabilities(
        &vuln_check("{maxSeverity: high}"),
        &doc,
        at("2021-08-26T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(r.report.format, VulnFormat::CosignVuln);
    assert_eq!(r.too_severe.len(), 2);
}

#[test]
fn vuln_cyclonedx_embedded_vulnerabilities() {
    let doc = load("sbom/cyclonedx-rust-cargo-trivy-0.42.1_alpine-3.13.1.cdx-1.4.json");
    let parsed = parse_vuln_report(&doc).unwrap();
    assert_eq!(parsed.format, VulnFormat::CycloneDx);
    assert_eq!(parsed.findings.unwrap().len(), 27);
    assert_eq!(
        parsed.scanned_at.unwrap().to_rfc3339(),
        "2023-09-07T12:58:31+00:00"
    );
}

#[test]
fn vuln_check_on_non_report_says_so() {
    let err = check_vulnerabilities(
        &vuln_check("{maxSeverity: high}"),
        &load("sbom/trivy-bitnami-postgresql.spdx.json"),
        SystemTime::now(),
    )
    .unwrap_err();
    assert_eq!(err.code, ReasonCode::UnsupportedFormat);
}

// ---------------------------------------------------------------- provenance (CEL)

const BUILDER_ID: &str =
    "has(predicate.runDetails) ? predicate.runDetails.builder.id : predicate.builder.id";

fn condition(source: &str, statement: &Value) -> Result<bool, String> {
    let image =
        json!({"reference": "r", "digest": "sha256:00", "registry": "ghcr.io", "repository": "x"});
    let predicate = statement.get("predicate").cloned().unwrap_or(Value::Null);
    evaluate_condition(
        source,
        &predicate,
        statement,
        &image,
        Duration::from_secs(2),
    )
}

fn trusted_generator(rel: &str) -> Result<bool, String> {
    let st = statements(&load(rel));
    condition(
        &format!(
            "({BUILDER_ID}).startsWith('https://github.com/slsa-framework/slsa-github-generator/')"
        ),
        &st[0],
    )
}

#[test]
fn provenance_builder_ids() {
    assert_eq!(
        trusted_generator(
            "provenance/slsa-github-generator-go-builder-v1.2.2_slsa-verifier.slsa02.statement.json"
        ),
        Ok(true)
    );
    assert_eq!(
        trusted_generator("provenance/slsa-verifier-generic-generator-v1.9.0.slsa02.dsse.json"),
        Ok(true)
    );
    assert_eq!(
        trusted_generator(
            "provenance/slsa-verifier-container-based-builder-v2.1.0.slsa1.bundle.json"
        ),
        Ok(true)
    );
    // The fork (asraa/slsa-github-generator) must not pass.
    assert_eq!(
        trusted_generator("provenance/slsa-verifier-untrusted-fork-builder.slsa02.dsse.json"),
        Ok(false)
    );
    // GitHub-hosted runners and the reusable workflow are not the generator.
    for rel in [
        "provenance/sigstore-go-npm-sigstore-1.3.0.slsa02.statement.json",
        "provenance/sigstore-go-npm-sigstore-2.0.0.slsa1.bundle.json",
        "provenance/gh-cli-gh-attest_provenance-demo-whl.slsa1.bundle.json",
        "provenance/slsa-verifier-gh-attest_publish-to-bcr.slsa1.bundle.json",
        "provenance/guac-azure-devops_kubectl.slsa02.statement.json",
    ] {
        assert_eq!(trusted_generator(rel), Ok(false), "{rel}");
    }
}

#[test]
fn provenance_sources_and_build_types() {
    let st = statements(&load(
        "provenance/slsa-verifier-gh-attest_publish-to-bcr.slsa1.bundle.json",
    ));
    assert_eq!(
        condition(
            "predicate.buildDefinition.buildType == 'https://actions.github.io/buildtypes/workflow/v1' && predicate.buildDefinition.externalParameters.workflow.repository.endsWith('aspect-build/rules_lint')",
            &st[0]
        ),
        Ok(true)
    );
    let st = statements(&load(
        "provenance/sigstore-go-npm-sigstore-1.3.0.slsa02.statement.json",
    ));
    assert_eq!(
        condition(
            "predicate.invocation.configSource.uri == 'git+https://github.com/sigstore/sigstore-js@refs/heads/main' && statement.subject[0].name == 'pkg:npm/sigstore@1.3.0'",
            &st[0]
        ),
        Ok(true)
    );
    let st = statements(&load(
        "provenance/slsa-verifier-container-based-builder-v2.1.0.slsa1.bundle.json",
    ));
    assert_eq!(
        condition(
            "predicate.buildDefinition.externalParameters.source.uri.contains('example-package')",
            &st[0]
        ),
        Ok(true)
    );
    // Azure DevOps: the builder id is not a URI.
    let st = statements(&load(
        "provenance/guac-azure-devops_kubectl.slsa02.statement.json",
    ));
    assert_eq!(
        condition("predicate.builder.id.startsWith('https://')", &st[0]),
        Ok(false)
    );
    assert_eq!(condition("size(statement.subject) == 75", &st[0]), Ok(true));
}

#[test]
fn provenance_gcb_v1_and_nonstandard_v01() {
    let st = statements(&load(
        "provenance/slsa-verifier-gcb-gcloud-describe.slsa1-and-v01.json",
    ));
    assert_eq!(st.len(), 2);
    let v1 = st
        .iter()
        .find(|s| s["predicateType"] == "https://slsa.dev/provenance/v1")
        .unwrap();
    assert_eq!(
        condition(
            &format!("({BUILDER_ID}) == 'https://cloudbuild.googleapis.com/GoogleHostedWorker'"),
            v1
        ),
        Ok(true)
    );
    // The signed v0.1 payload carries the predicate twice (`predicate` and `slsaProvenance`)...
    let v01 = st
        .iter()
        .find(|s| s.get("slsaProvenance").is_some())
        .unwrap();
    assert_eq!(
        condition(
            &format!("({BUILDER_ID}).startsWith('https://cloudbuild.googleapis.com/')"),
            v01
        ),
        Ok(true)
    );
    // ...but the plain `build.intotoStatement` keeps it only under the non-standard
    // `slsaProvenance`: `predicate` is null there, and a condition over it is an error, never
    // a pass.
    let doc = load("provenance/slsa-verifier-gcb-gcloud-describe.slsa1-and-v01.json");
    let plain = doc
        .pointer("/provenance_summary/provenance")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .find_map(|p| p.pointer("/build/intotoStatement"))
        .unwrap();
    assert!(plain.get("predicate").is_none());
    let err = condition(&format!("({BUILDER_ID}).startsWith('https://')"), plain).unwrap_err();
    assert!(!err.is_empty());
    assert_eq!(
        condition(
            "has(statement.slsaProvenance) && statement.slsaProvenance.builder.id.startsWith('https://cloudbuild.googleapis.com/')",
            plain
        ),
        Ok(true)
    );
}

#[test]
fn vex_condition() {
    let vex = load("vex/vexctl-openvex-0.2.0_nginx-2vulns.json");
    let statement = json!({"predicateType": "https://openvex.dev/ns", "predicate": vex});
    assert_eq!(
        condition(
            "predicate.statements.exists(s, s.vulnerability.name == 'CVE-2023-27103' && s.status == 'not_affected')",
            &statement
        ),
        Ok(true)
    );
}

// ---------------------------------------------------------------- policy files

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    out.sort();
    out
}

#[test]
fn example_policies_load_and_lint() {
    let dir = crate::support::crate_path("policies");
    let files = yaml_files(&dir);
    assert!(files.len() >= 5, "{files:?}");
    for path in files {
        let policy = Policy::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!policy.rules().is_empty(), "{}", path.display());
        let findings = policy.lint();
        let errors: Vec<_> = findings
            .iter()
            .filter(|f| f.severity == LintLevel::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "audit-everything.yaml" {
            assert!(
                findings.iter().any(|f| f.code == "never-denies"),
                "{findings:?}"
            );
        }
    }
}

#[test]
fn example_payments_policy_shape() {
    let path = crate::support::crate_path("policies/payments.yaml");
    let policy = Policy::from_path(&path).unwrap();
    assert_eq!(
        policy
            .rules_for(&"registry.acme.io/payments/api:v1".parse().unwrap())
            .len(),
        1
    );
    assert!(
        policy
            .rules_for(&"registry.acme.io/payments/sandbox/x:v1".parse().unwrap())
            .is_empty()
    );
    let needed: Vec<&str> = policy
        .authorities_needed(&"registry.acme.io/payments/api:v1".parse().unwrap())
        .into_iter()
        .collect();
    assert_eq!(needed, ["alice", "bob", "carol", "ci", "release-key"]);
    let sbom = policy.rules()[0].attestations[0].sbom.as_ref().unwrap();
    assert_eq!(sbom.license_or, OrSemantics::Choice);
}

#[test]
fn testdata_policy_with_key_files() {
    let path = crate::support::crate_path("testdata/policy/with-key-files.yaml");
    let policy = Policy::from_path(&path).unwrap();
    let keys: Vec<&str> = policy.authorities().map(|(n, _)| n).collect();
    assert_eq!(keys, ["alice", "bob", "carol", "release"]);
    for (_, authority) in policy.authorities() {
        let imprint::policy::Authority::Key(key) = authority else {
            panic!("expected key authority");
        };
        assert!(key.pem.starts_with(b"-----BEGIN PUBLIC KEY-----"));
        assert!(key.fingerprint.as_deref().unwrap().starts_with("sha256:"));
    }
}

#[test]
fn invalid_policies_fail_with_the_expected_error() {
    let dir = crate::support::crate_path("testdata/policy/invalid");
    let files = yaml_files(&dir);
    assert!(files.len() >= 8);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", path.display()));
        let err = Policy::from_path(&path).expect_err(&path.display().to_string());
        let message = err.to_string();
        assert!(
            message.contains(expect),
            "{}:\n  got:    {message}\n  wanted: {expect}",
            path.display()
        );
        // `<path>:<line>:<column>: …` — every fixture's error points into the file.
        let rest = message
            .strip_prefix(&path.display().to_string())
            .unwrap_or_else(|| panic!("{message}"));
        let mut parts = rest.splitn(4, ':');
        assert_eq!(parts.next(), Some(""), "{message}");
        let line: u64 = parts
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{message}"));
        let column: u64 = parts
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{message}"));
        assert!(line > 1 && column > 0, "{message}");
        if path.ends_with("threshold-too-high.yaml") {
            assert_eq!(line, 11, "{message}");
        }
        eprintln!("{message}");
    }
}
