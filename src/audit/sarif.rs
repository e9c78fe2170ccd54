//! The audit report as SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure).
//!
//! * One result per failed requirement of a row (and one for a row denied without a rule:
//!   `noMatch`, an unresolved image, an invalid reference). Allowed rows with no failure give
//!   none; an `audit`-mode failure gives a `note`.
//! * `ruleId` is the reason code (`no-signatures`, `registry-error`, …); `tool.driver.rules`
//!   describes every code used, with help text.
//! * `level` comes from the mode of the policy rule that failed: `enforce` → `error`, `warn` →
//!   `warning`, `audit` → `note`; without a rule, `error` for denied and error rows and
//!   `warning` for warned ones.
//! * `partialFingerprints["imprintFinding/v1"]` is the sha256 of workload, slot, repository
//!   (the image without tag or digest), policy rule and reason code: it does not change when a
//!   tag moves, a digest is bumped or lines shift.
//! * The location is the `image:` key (`region.startLine`/`startColumn`) in its file, with the
//!   workload and slot as a logical location; images given on the command line and stdin
//!   have only the logical location.
//! * Runs hold at most [`MAX_RESULTS_PER_RUN`] results (GitHub's limit); more results are
//!   split over several runs.

use serde_json::{Value, json};

use super::report::{Failure, Report, Row, RowOutcome};
use crate::format::digest::Digest;
use crate::format::reference::ImageRef;
use crate::policy::Mode;

/// Results per run (GitHub code scanning rejects runs with more).
pub const MAX_RESULTS_PER_RUN: usize = 25_000;

/// The `$schema` of the log.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Short description and help text of a reason code (`policies/README.md`, "Reason codes").
pub fn rule_help(code: &str) -> (&'static str, &'static str) {
    match code {
        "no-signatures" => (
            "No signature verified under the authority",
            "No signature of the image verified under the authority the policy names (or none in an accepted signatureFormat). Sign the image with that key or identity, or change the rule.",
        ),
        "signature-invalid" => (
            "A signature was found but did not verify",
            "A signature or bundle is attached but fails verification (bad signature, chain, transparency-log proof or malformed material). Re-sign the image.",
        ),
        "identity-mismatch" => (
            "Signed by another key or identity",
            "A signature verified, but by another key, certificate identity, issuer or GitHub claim than the authority requires.",
        ),
        "digest-mismatch" => (
            "Signature or attestation for another digest",
            "The signature or attestation names another image digest than the one the image resolved to.",
        ),
        "threshold-not-met" => (
            "Fewer distinct signers than required",
            "A threshold (count of authorities) was not met: fewer distinct signers verified than the count.",
        ),
        "attestation-missing" => (
            "Required attestation missing",
            "No verified attestation of the required predicate type, signed as signedBy requires, is attached to the image.",
        ),
        "condition-false" => (
            "Attestation condition is false",
            "A CEL condition over the attestation evaluated to false.",
        ),
        "condition-error" => (
            "Attestation condition could not be evaluated",
            "A CEL condition failed to evaluate (error, non-boolean result or budget exceeded).",
        ),
        "no-matching-rule" => (
            "No policy rule matches the image",
            "No rule of the policy matched the image and noMatch is deny or warn. Add a rule for the image or change noMatch.",
        ),
        "registry-error" => (
            "Could not check: registry error",
            "The registry could not be read (unreachable, rate limited, authentication failed, not found): the image could not be checked. This is not a verdict about the image; fix access and run the audit again.",
        ),
        "timeout" => (
            "Could not check: timeout",
            "A registry request or the image's verification ran past its deadline: the image could not be checked. This is not a verdict about the image.",
        ),
        "static-fail" => (
            "A static: fail authority",
            "The rule names an authority that always fails.",
        ),
        "sbom-denied-license" => (
            "SBOM lists a denied license",
            "A package in the image's SBOM attestation needs a license the policy denies.",
        ),
        "sbom-denied-package" => (
            "SBOM lists a denied package",
            "A package in the image's SBOM attestation is in a denied version range.",
        ),
        "vuln-too-severe" => (
            "Vulnerability above maxSeverity",
            "The vulnerability report attestation has a finding more severe than the policy allows.",
        ),
        "vuln-report-too-old" => (
            "Vulnerability report too old",
            "The vulnerability scan is older than maxAge (or dated in the future).",
        ),
        "field-missing" => (
            "Attestation lacks a field the check needs",
            "A document the check reads lacks a field it needs (for example the scan time for maxAge).",
        ),
        "unsupported-format" => (
            "Attestation in an unsupported format",
            "The attested document is not in a format the check understands.",
        ),
        "invalid-reference" => (
            "Invalid image reference",
            "The image as written is not a valid image reference; nothing could be verified.",
        ),
        _ => (
            "Policy requirement not met",
            "A requirement of the trust policy was not met; see the result message.",
        ),
    }
}

fn level_of_mode(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "error",
        Mode::Warn => "warning",
        Mode::Audit => "note",
    }
}

/// A relative path as a URI reference; an absolute one as a `file://` URI. Characters that
/// are not allowed in a URI path are percent-encoded.
fn uri_of(file: &str) -> String {
    let mut out = String::new();
    if file.starts_with('/') {
        out.push_str("file://");
    }
    for b in file.replace('\\', "/").bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char);
            }
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The fingerprint of a finding: stable across tag moves, digest bumps and line shifts.
pub fn fingerprint(row: &Row, rule: Option<&str>, code: &str) -> String {
    let repository = ImageRef::parse(&row.source.image)
        .map(|r| r.repository_name())
        .unwrap_or_else(|_| row.source.image.clone());
    let workload = row
        .source
        .workload
        .as_ref()
        .map(|w| w.id())
        .unwrap_or_default();
    let parts = [
        workload.as_str(),
        row.source.slot.as_deref().unwrap_or(""),
        repository.as_str(),
        rule.unwrap_or(""),
        code,
    ];
    Digest::of(parts.join("\0").as_bytes()).hex().to_owned()
}

fn result(row: &Row, failure: &Failure, details: &[&Failure], rule_index: usize) -> Value {
    let level = match failure.mode {
        Some(mode) => level_of_mode(mode),
        None if row.outcome == RowOutcome::Warned => "warning",
        None => "error",
    };
    let whose = match (&row.source.workload, &row.source.slot) {
        (Some(w), Some(slot)) => format!("{} {slot}", w.id()),
        _ => "command line".to_owned(),
    };
    let mut text = format!(
        "{} ({whose}) is {}: ",
        row.source.image,
        row.outcome.as_str()
    );
    if let (Some(rule), Some(mode)) = (&failure.rule, failure.mode) {
        text.push_str(&format!(
            "rule `{rule}` ({}) ",
            super::render::mode_word(mode)
        ));
    }
    if let Some(req) = &failure.requirement {
        text.push_str(&format!("{req}: "));
    }
    text.push_str(&failure.message);
    for d in details {
        text.push_str(&format!("; {}: {}", d.code, d.message));
    }
    let logical = json!({
        "fullyQualifiedName": match (&row.source.workload, &row.source.slot) {
            (Some(w), Some(slot)) => format!("{}/{slot}", w.id()),
            _ => row.source.image.clone(),
        },
        "kind": "object",
    });
    let mut location = json!({ "logicalLocations": [logical] });
    if let Some(loc) = &row.source.location
        && loc.file != "<stdin>"
        && loc.line > 0
    {
        location["physicalLocation"] = json!({
            "artifactLocation": { "uri": uri_of(&loc.file) },
            "region": { "startLine": loc.line, "startColumn": loc.column.max(1) },
        });
    }
    let mut properties = json!({
        "outcome": row.outcome.as_str(),
        "image": row.source.image,
        "byTag": row.by_tag,
        "wouldDeny": row.would_deny,
    });
    if let Some(w) = &row.source.workload {
        properties["workload"] = json!(w.id());
    }
    if let Some(slot) = &row.source.slot {
        properties["slot"] = json!(slot);
    }
    if let Some(d) = &row.digest {
        properties["digest"] = json!(d.to_string());
    }
    if let Some(rule) = &failure.rule {
        properties["policyRule"] = json!(rule);
    }
    if let Some(mode) = failure.mode {
        properties["mode"] = json!(super::render::mode_word(mode));
    }
    json!({
        "ruleId": failure.code,
        "ruleIndex": rule_index,
        "level": level,
        "message": { "text": text },
        "locations": [location],
        "partialFingerprints": {
            "imprintFinding/v1": fingerprint(row, failure.rule.as_deref(), &failure.code),
        },
        "properties": properties,
    })
}

/// The report as a SARIF 2.1.0 log (a JSON value; serialise it with `serde_json`).
pub fn sarif(report: &Report) -> Value {
    // Results, and the reason codes they use (in first-use order).
    let mut codes: Vec<String> = Vec::new();
    let mut results = Vec::new();
    for row in &report.rows {
        // Each failure with its details (the failures of the same requirement that follow it
        // and are further findings of it).
        let mut i = 0;
        while let Some(f) = row.failures.get(i) {
            let mut j = i + 1;
            while let Some(next) = row.failures.get(j) {
                if !next.detail {
                    break;
                }
                j += 1;
            }
            let details: Vec<&Failure> = row.failures[i + 1..j].iter().collect();
            let index = match codes.iter().position(|c| *c == f.code) {
                Some(p) => p,
                None => {
                    codes.push(f.code.clone());
                    codes.len() - 1
                }
            };
            results.push(result(row, f, &details, index));
            i = j;
        }
    }
    let rules: Vec<Value> = codes
        .iter()
        .map(|code| {
            let (short, help) = rule_help(code);
            json!({
                "id": code,
                "name": code,
                "shortDescription": { "text": short },
                "fullDescription": { "text": help },
                "help": { "text": help },
            })
        })
        .collect();
    let driver = json!({
        "name": "imprint",
        "fullName": "imprint audit",
        "version": report.imprint_version,
        "semanticVersion": report.imprint_version,
        "rules": rules,
    });
    let properties = json!({
        "policy": report.policy,
        "trustRoot": report.trust_root,
        "summary": report.summary,
    });
    let mut runs = Vec::new();
    let mut chunks: Vec<Vec<Value>> = Vec::new();
    let mut rest = results;
    while rest.len() > MAX_RESULTS_PER_RUN {
        let tail = rest.split_off(MAX_RESULTS_PER_RUN);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    for chunk in chunks {
        runs.push(json!({
            "tool": { "driver": driver.clone() },
            "automationDetails": { "id": format!("imprint-audit/{}", report.policy.hash.hex()) },
            "columnKind": "unicodeCodePoints",
            "results": chunk,
            "properties": properties.clone(),
        }));
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": runs,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(uri_of("deploy/app.yaml"), "deploy/app.yaml");
        assert_eq!(uri_of("/tmp/a b#c.yaml"), "file:///tmp/a%20b%23c.yaml");
        assert_eq!(uri_of("dir\\x.yaml"), "dir/x.yaml");
        assert_eq!(uri_of("é.yaml"), "%C3%A9.yaml");
    }

    #[test]
    fn every_engine_code_has_its_own_help() {
        use crate::policy::ReasonCode as R;
        for code in [
            R::AttestationMissing,
            R::ConditionError,
            R::ConditionFalse,
            R::DigestMismatch,
            R::FieldMissing,
            R::IdentityMismatch,
            R::UnsupportedFormat,
            R::NoMatchingRule,
            R::NoSignatures,
            R::RegistryError,
            R::SbomDeniedLicense,
            R::SbomDeniedPackage,
            R::SignatureInvalid,
            R::StaticFail,
            R::ThresholdNotMet,
            R::VulnReportTooOld,
            R::VulnTooSevere,
            R::Timeout,
        ] {
            assert_ne!(
                rule_help(code.as_str()),
                rule_help("no-such-code"),
                "{code}"
            );
        }
    }
}
