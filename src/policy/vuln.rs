//! Built-in vulnerability-report check: maximum severity, maximum scan age, ignore list.
//!
//! Formats and where each field is read (see `policies/README.md` for the table):
//!
//! | Format | Id | Severity | Scan time |
//! |---|---|---|---|
//! | cosign vuln predicate | inside `scanner.result` (Trivy / Grype / SARIF, parsed as below) | same | `metadata.scanFinishedOn` (else `scanStartedOn`) |
//! | Trivy JSON | `Results[].Vulnerabilities[].VulnerabilityID` (+`VendorIDs`) | `.Severity` | `CreatedAt` |
//! | Grype JSON | `matches[].vulnerability.id` (+`relatedVulnerabilities[].id`) | `.vulnerability.severity` | `descriptor.timestamp` |
//! | SARIF 2.1 (Trivy, Grype) | `runs[].results[].ruleId` (a leading `CVE-…`/`GHSA-…` is extracted) | rule `properties.tags` word, else `properties["security-severity"]` (CVSS bands), else result `level` | `runs[].invocations[].endTimeUtc` (else `startTimeUtc`) |
//! | CycloneDX with `vulnerabilities` | `vulnerabilities[].id` | highest `ratings[].severity` | `metadata.timestamp` |
//!
//! A needed field that is absent fails the check with `field-missing`, naming the field: no
//! scan time with `maxAge`, or no findings list (e.g. `scanner.result: null`) with
//! `maxSeverity`. Severity `unknown` ranks with `critical` (fail closed).

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::decision::{Reason, ReasonCode};
use super::duration::format_duration;
use super::model::VulnCheck;
use crate::format::pick::{KeepKeys, Skipping};

/// Vulnerability severity, lowest first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// No finding at all is allowed (only as `maxSeverity`).
    None,
    /// Negligible (Grype).
    Negligible,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
    /// The scanner did not know; ranks with critical.
    Unknown,
}

impl Severity {
    fn rank(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Negligible => 1,
            Self::Low => 2,
            Self::Medium => 3,
            Self::High => 4,
            Self::Critical | Self::Unknown => 5,
        }
    }

    /// Parses a scanner's word (case-insensitive).
    pub fn from_word(word: &str) -> Option<Self> {
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "negligible" => Self::Negligible,
            "low" => Self::Low,
            "medium" | "moderate" => Self::Medium,
            "high" => Self::High,
            "critical" => Self::Critical,
            "unknown" => Self::Unknown,
            "none" | "info" => Self::Negligible,
            _ => return None,
        })
    }

    /// CVSS v3 bands.
    pub fn from_score(score: f64) -> Self {
        if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else if score > 0.0 {
            Self::Low
        } else {
            Self::Negligible
        }
    }

    /// Lower-case word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Negligible => "negligible",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
            Self::Unknown => "unknown",
        }
    }
}

/// Which report format was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum VulnFormat {
    /// cosign vuln predicate wrapping another format (or nothing).
    CosignVuln,
    /// CycloneDX `vulnerabilities`.
    CycloneDx,
    /// Grype JSON.
    Grype,
    /// SARIF 2.1.
    Sarif,
    /// Trivy JSON.
    Trivy,
}

impl VulnFormat {
    /// The format's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::CosignVuln => "cosign vuln",
            Self::CycloneDx => "CycloneDX",
            Self::Grype => "Grype",
            Self::Sarif => "SARIF",
            Self::Trivy => "Trivy",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VulnFinding {
    /// Primary id (upper case), e.g. `CVE-2019-14697`.
    pub id: String,
    /// Other ids (GHSA↔CVE, vendor ids), upper case.
    pub aliases: Vec<String>,
    /// Affected package, when given.
    pub package: Option<String>,
    /// Severity.
    pub severity: Severity,
}

/// A parsed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParsedVulnReport {
    /// Format.
    pub format: VulnFormat,
    /// Findings; `None` when the document has no findings list (e.g. `scanner.result: null`).
    pub findings: Option<Vec<VulnFinding>>,
    /// Scan time, when present.
    pub scanned_at: Option<DateTime<Utc>>,
    /// The field the scan time is (or would be) read from.
    pub time_field: &'static str,
    /// The field findings are read from.
    pub findings_field: &'static str,
}

/// The result of checking one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnReport {
    /// Parsed report.
    pub report: ParsedVulnReport,
    /// Findings above `maxSeverity` (not ignored).
    pub too_severe: Vec<VulnFinding>,
    /// Ids ignored by the policy that were present.
    pub ignored: Vec<String>,
    /// Age of the scan at evaluation time.
    pub age: Option<Duration>,
    /// `maxAge`, when it was exceeded.
    pub too_old: Option<Duration>,
}

impl VulnReport {
    /// The failure reason, if any.
    pub fn reason(&self) -> Option<Reason> {
        if let (Some(max), Some(age)) = (self.too_old, self.age) {
            let at = self
                .report
                .scanned_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            return Some(Reason::new(
                ReasonCode::VulnReportTooOld,
                format!(
                    "scan from {at} ({}) is {} old, more than maxAge {}",
                    self.report.time_field,
                    format_duration(age),
                    format_duration(max)
                ),
            ));
        }
        let worst = self.too_severe.iter().max_by_key(|f| f.severity.rank())?;
        Some(Reason::new(
            ReasonCode::VulnTooSevere,
            format!(
                "{} finding(s) above maxSeverity, e.g. {} ({}{})",
                self.too_severe.len(),
                worst.id,
                worst.severity.as_str(),
                worst
                    .package
                    .as_deref()
                    .map(|p| format!(" in {p}"))
                    .unwrap_or_default()
            ),
        ))
    }
}

/// Parses a vulnerability report predicate.
pub fn parse_vuln_report(predicate: &Value) -> Result<ParsedVulnReport, Reason> {
    parse_inner(predicate, 0)
}

fn parse_inner(v: &Value, depth: u8) -> Result<ParsedVulnReport, Reason> {
    let Some(obj) = v.as_object() else {
        return Err(Reason::new(
            ReasonCode::UnsupportedFormat,
            "vulnerability report is not a JSON object",
        ));
    };
    if obj.contains_key("scanner") && depth == 0 {
        let time_field = "predicate.metadata.scanFinishedOn";
        let scanned_at = time_at(v, &["metadata", "scanFinishedOn"])
            .or_else(|| time_at(v, &["metadata", "scanStartedOn"]));
        let result = v.get("scanner").and_then(|s| s.get("result"));
        let findings = match result {
            Some(r) if !r.is_null() => {
                Some(parse_inner(r, depth + 1)?.findings.unwrap_or_default())
            }
            _ => None,
        };
        return Ok(ParsedVulnReport {
            format: VulnFormat::CosignVuln,
            findings,
            scanned_at,
            time_field,
            findings_field: "predicate.scanner.result",
        });
    }
    if obj.contains_key("Results")
        || (obj.contains_key("SchemaVersion") && obj.contains_key("ArtifactName"))
    {
        let mut findings = Vec::new();
        for result in obj
            .get("Results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for vuln in result
                .get("Vulnerabilities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = str_at(vuln, &["VulnerabilityID"])
                    .unwrap_or_default()
                    .to_uppercase();
                let aliases = vuln
                    .get("VendorIDs")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_uppercase)
                            .collect()
                    })
                    .unwrap_or_default();
                let severity = str_at(vuln, &["Severity"])
                    .and_then(|s| Severity::from_word(&s))
                    .unwrap_or(Severity::Unknown);
                findings.push(VulnFinding {
                    id,
                    aliases,
                    package: str_at(vuln, &["PkgName"]),
                    severity,
                });
            }
        }
        return Ok(ParsedVulnReport {
            format: VulnFormat::Trivy,
            findings: Some(findings),
            scanned_at: time_at(v, &["CreatedAt"]),
            time_field: "CreatedAt",
            findings_field: "Results[].Vulnerabilities[]",
        });
    }
    if let Some(matches) = obj.get("matches").and_then(Value::as_array) {
        let findings = matches
            .iter()
            .map(|m| VulnFinding {
                id: str_at(m, &["vulnerability", "id"])
                    .unwrap_or_default()
                    .to_uppercase(),
                aliases: m
                    .get("relatedVulnerabilities")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r.get("id").and_then(Value::as_str))
                            .map(str::to_uppercase)
                            .collect()
                    })
                    .unwrap_or_default(),
                package: str_at(m, &["artifact", "name"]),
                severity: str_at(m, &["vulnerability", "severity"])
                    .and_then(|s| Severity::from_word(&s))
                    .unwrap_or(Severity::Unknown),
            })
            .collect();
        return Ok(ParsedVulnReport {
            format: VulnFormat::Grype,
            findings: Some(findings),
            scanned_at: time_at(v, &["descriptor", "timestamp"]),
            time_field: "descriptor.timestamp",
            findings_field: "matches[]",
        });
    }
    if let Some(runs) = obj.get("runs").and_then(Value::as_array) {
        let mut findings = Vec::new();
        let mut scanned_at = None;
        for run in runs {
            let rules: Vec<&Value> = run
                .get("tool")
                .and_then(|t| t.get("driver"))
                .and_then(|d| d.get("rules"))
                .and_then(Value::as_array)
                .map(|r| r.iter().collect())
                .unwrap_or_default();
            for inv in run
                .get("invocations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                scanned_at = scanned_at
                    .or_else(|| time_at(inv, &["endTimeUtc"]))
                    .or_else(|| time_at(inv, &["startTimeUtc"]));
            }
            for result in run
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let rule_id = str_at(result, &["ruleId"]).unwrap_or_default();
                let rule = result
                    .get("ruleIndex")
                    .and_then(Value::as_u64)
                    .and_then(|i| rules.get(usize::try_from(i).ok()?).copied())
                    .filter(|r| r.get("id").and_then(Value::as_str) == Some(rule_id.as_str()))
                    .or_else(|| {
                        rules
                            .iter()
                            .find(|r| r.get("id").and_then(Value::as_str) == Some(rule_id.as_str()))
                            .copied()
                    });
                let severity = sarif_severity(rule, result);
                let (id, aliases) = split_sarif_id(&rule_id);
                findings.push(VulnFinding {
                    id,
                    aliases,
                    package: None,
                    severity,
                });
            }
        }
        return Ok(ParsedVulnReport {
            format: VulnFormat::Sarif,
            findings: Some(findings),
            scanned_at,
            time_field: "runs[].invocations[].endTimeUtc",
            findings_field: "runs[].results[]",
        });
    }
    if let Some(vulns) = obj.get("vulnerabilities").and_then(Value::as_array) {
        let findings = vulns
            .iter()
            .map(|vuln| {
                let severity = vuln
                    .get("ratings")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("severity").and_then(Value::as_str))
                    .filter_map(Severity::from_word)
                    .max_by_key(|s| s.rank())
                    .unwrap_or(Severity::Unknown);
                VulnFinding {
                    id: str_at(vuln, &["id"]).unwrap_or_default().to_uppercase(),
                    aliases: Vec::new(),
                    package: None,
                    severity,
                }
            })
            .collect();
        return Ok(ParsedVulnReport {
            format: VulnFormat::CycloneDx,
            findings: Some(findings),
            scanned_at: time_at(v, &["metadata", "timestamp"]),
            time_field: "metadata.timestamp",
            findings_field: "vulnerabilities[]",
        });
    }
    Err(Reason::new(
        ReasonCode::UnsupportedFormat,
        "not a known vulnerability report: expected a cosign vuln predicate (`scanner`), Trivy JSON (`Results`), Grype JSON (`matches`), SARIF (`runs`) or CycloneDX (`vulnerabilities`)",
    ))
}

fn sarif_severity(rule: Option<&Value>, result: &Value) -> Severity {
    if let Some(rule) = rule {
        let props = rule.get("properties");
        if let Some(tags) = props.and_then(|p| p.get("tags")).and_then(Value::as_array)
            && let Some(s) = tags
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|t| match Severity::from_word(t) {
                    Some(Severity::Negligible) if !t.eq_ignore_ascii_case("negligible") => None,
                    other => other,
                })
                .max_by_key(|s| s.rank())
        {
            return s;
        }
        if let Some(score) = props.and_then(|p| p.get("security-severity")) {
            let parsed = score
                .as_f64()
                .or_else(|| score.as_str().and_then(|s| s.trim().parse().ok()));
            if let Some(score) = parsed {
                return Severity::from_score(score);
            }
        }
    }
    match result.get("level").and_then(Value::as_str) {
        Some("error") => Severity::High,
        Some("warning") => Severity::Medium,
        Some("note") => Severity::Low,
        Some("none") => Severity::Negligible,
        _ => Severity::Unknown,
    }
}

fn split_sarif_id(rule_id: &str) -> (String, Vec<String>) {
    let upper = rule_id.to_uppercase();
    let parts: Vec<&str> = upper.split('-').collect();
    let extracted = if parts.len() >= 3 && parts[0] == "CVE" {
        Some(parts[..3].join("-"))
    } else if parts.len() >= 4 && parts[0] == "GHSA" {
        Some(parts[..4].join("-"))
    } else {
        None
    };
    match extracted {
        Some(id) if id != upper => (id, vec![upper]),
        _ => (upper, Vec::new()),
    }
}

fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    let text = str_at(v, path)?;
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// How far a scan time may be ahead of the verifier's clock (clock skew) under `maxAge`.
pub(crate) const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// The top-level predicate keys every reader of a vulnerability report or a document time
/// looks at ([`parse_vuln_report`] for each scanner format, `select::document_time`). The
/// rest of a predicate (an SBOM's `components` or `packages`) is never needed by them.
pub(crate) const REPORT_KEYS: &[&str] = &[
    "scanner",
    "metadata",
    "Results",
    "SchemaVersion",
    "ArtifactName",
    "CreatedAt",
    "matches",
    "descriptor",
    "runs",
    "vulnerabilities",
    "creationInfo",
    "runDetails",
];

/// The predicate of an in-toto statement as a `Value` of only its [`REPORT_KEYS`] sections,
/// read from the statement bytes: for a 200 MiB SBOM with a `vulnerabilities` section this
/// is that section and `metadata`, not a DOM of every component.
pub(crate) fn report_sections(statement: &[u8], skipping: Skipping) -> Result<Value, Reason> {
    crate::format::pick::statement_predicate(statement, KeepKeys(REPORT_KEYS, skipping), skipping)
        .map(Option::unwrap_or_default)
        .map_err(|e| {
            Reason::new(
                ReasonCode::UnsupportedFormat,
                format!("the statement's predicate cannot be read: {e}"),
            )
        })
}

/// Runs the vulnerability check on the `predicate` of an in-toto statement, from the
/// statement's bytes (only the report's sections are built, see [`report_sections`]).
pub fn check_vulnerabilities_statement(
    check: &VulnCheck,
    statement: &[u8],
    now: SystemTime,
) -> Result<VulnReport, Reason> {
    check_vulnerabilities(check, &report_sections(statement, Skipping::Checked)?, now)
}

/// [`check_vulnerabilities_statement`] on a verified attestation's statement, which was read
/// in full when it was verified: the components beside the report are skipped unchecked
/// ([`Skipping::Verified`]).
pub(crate) fn check_vulnerabilities_verified(
    check: &VulnCheck,
    att: &crate::verify::proof::VerifiedAttestation,
    now: SystemTime,
) -> Result<VulnReport, Reason> {
    check_vulnerabilities(
        check,
        &report_sections(att.statement_json(), Skipping::Verified)?,
        now,
    )
}

/// Runs the vulnerability check on a predicate at time `now`.
pub fn check_vulnerabilities(
    check: &VulnCheck,
    predicate: &Value,
    now: SystemTime,
) -> Result<VulnReport, Reason> {
    let report = parse_vuln_report(predicate)?;
    let mut age = None;
    let mut too_old = None;
    if let Some(max_age) = check.max_age {
        let Some(at) = report.scanned_at else {
            return Err(Reason::new(
                ReasonCode::FieldMissing,
                format!(
                    "maxAge needs the scan time, but `{}` is absent (or not an RFC 3339 time) in this {} report",
                    report.time_field,
                    report.format.name()
                ),
            ));
        };
        let scanned: SystemTime = at.into();
        // A scan time ahead of the clock says nothing about freshness (and would stay
        // "fresh" for as long as it is ahead): more than the clock skew allowed is refused.
        if scanned
            .duration_since(now)
            .is_ok_and(|ahead| ahead > MAX_CLOCK_SKEW)
        {
            return Err(Reason::new(
                ReasonCode::VulnReportTooOld,
                format!(
                    "scan time {} (`{}`) is more than {} ahead of now: a future-dated scan \
                     cannot show the report is within maxAge",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    report.time_field,
                    format_duration(MAX_CLOCK_SKEW)
                ),
            ));
        }
        let a = now.duration_since(scanned).unwrap_or(Duration::ZERO);
        age = Some(a);
        if a > max_age {
            too_old = Some(max_age);
        }
    }
    let mut too_severe = Vec::new();
    let mut ignored = Vec::new();
    if let Some(max) = check.max_severity {
        let Some(findings) = &report.findings else {
            return Err(Reason::new(
                ReasonCode::FieldMissing,
                format!(
                    "maxSeverity needs findings, but `{}` is absent or null",
                    report.findings_field
                ),
            ));
        };
        for f in findings {
            if f.severity.rank() <= max.rank() {
                continue;
            }
            if check.ignore.contains(&f.id) || f.aliases.iter().any(|a| check.ignore.contains(a)) {
                ignored.push(f.id.clone());
                continue;
            }
            too_severe.push(f.clone());
        }
    }
    ignored.sort();
    ignored.dedup();
    Ok(VulnReport {
        report,
        too_severe,
        ignored,
        age,
        too_old,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(max: Option<Severity>, age: Option<u64>, ignore: &[&str]) -> VulnCheck {
        VulnCheck {
            max_severity: max,
            max_age: age.map(Duration::from_secs),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn at(s: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
            .into()
    }

    #[test]
    fn trivy_severity_and_ignore() {
        let doc = json!({"SchemaVersion": 2, "ArtifactName": "x", "CreatedAt": "2024-01-01T00:00:00Z",
            "Results": [{"Vulnerabilities": [
                {"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": "CRITICAL"},
                {"VulnerabilityID": "CVE-2", "PkgName": "b", "Severity": "LOW"}]}]});
        let now = at("2024-01-02T00:00:00Z");
        let r = check_vulnerabilities(&check(Some(Severity::High), None, &[]), &doc, now).unwrap();
        assert_eq!(r.reason().unwrap().code, ReasonCode::VulnTooSevere);
        let r = check_vulnerabilities(&check(Some(Severity::High), None, &["CVE-1"]), &doc, now)
            .unwrap();
        assert_eq!(r.reason(), None);
        assert_eq!(r.ignored, vec!["CVE-1".to_string()]);
        let r = check_vulnerabilities(&check(None, Some(3600), &[]), &doc, now).unwrap();
        assert_eq!(r.reason().unwrap().code, ReasonCode::VulnReportTooOld);
        let r = check_vulnerabilities(&check(None, Some(2 * 86_400), &[]), &doc, now).unwrap();
        assert_eq!(r.reason(), None);
    }

    /// Regression (issue 10): a scan dated in the future had age 0 and passed every maxAge
    /// for as long as its date stayed ahead. More than 5 minutes ahead is now refused.
    #[test]
    fn a_future_dated_scan_does_not_meet_max_age() {
        let doc = json!({"SchemaVersion": 2, "ArtifactName": "x", "CreatedAt": "2030-01-01T00:00:00Z",
            "Results": []});
        let e = check_vulnerabilities(
            &check(None, Some(86_400), &[]),
            &doc,
            at("2026-12-02T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(e.code, ReasonCode::VulnReportTooOld);
        assert!(e.message.contains("ahead of now"), "{}", e.message);
        // Within the allowed clock skew: accepted.
        let ok = check_vulnerabilities(
            &check(None, Some(86_400), &[]),
            &doc,
            at("2029-12-31T23:56:00Z"),
        )
        .unwrap();
        assert_eq!(ok.reason(), None);
        // Without maxAge the date is not judged.
        assert!(
            check_vulnerabilities(&check(None, None, &[]), &doc, at("2026-12-02T00:00:00Z"))
                .is_ok()
        );
    }

    #[test]
    fn unknown_ranks_as_critical() {
        let doc = json!({"matches": [{"vulnerability": {"id": "GHSA-x", "severity": "Unknown"}}]});
        let now = SystemTime::UNIX_EPOCH;
        let high =
            check_vulnerabilities(&check(Some(Severity::High), None, &[]), &doc, now).unwrap();
        assert!(high.reason().is_some());
        let crit =
            check_vulnerabilities(&check(Some(Severity::Critical), None, &[]), &doc, now).unwrap();
        assert!(crit.reason().is_none());
    }

    #[test]
    fn sarif_ids_and_levels() {
        assert_eq!(
            split_sarif_id("CVE-2005-2541-tar"),
            (
                "CVE-2005-2541".to_string(),
                vec!["CVE-2005-2541-TAR".to_string()]
            )
        );
        let doc = json!({"runs": [{"tool": {"driver": {"rules": []}}, "results": [{"ruleId": "CVE-9", "level": "error"}]}]});
        let p = parse_vuln_report(&doc).unwrap();
        assert_eq!(p.findings.unwrap()[0].severity, Severity::High);
        let e = check_vulnerabilities(&check(None, Some(1), &[]), &doc, SystemTime::UNIX_EPOCH)
            .unwrap_err();
        assert_eq!(e.code, ReasonCode::FieldMissing);
        assert!(e.message.contains("runs[].invocations[].endTimeUtc"));
    }

    #[test]
    fn cosign_null_result_is_missing_for_severity() {
        let doc = json!({"scanner": {"uri": "x", "result": null}, "metadata": {"scanFinishedOn": "2022-04-12T00:10:00Z"}});
        let e = check_vulnerabilities(
            &check(Some(Severity::High), None, &[]),
            &doc,
            SystemTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(e.code, ReasonCode::FieldMissing);
        assert!(e.message.contains("scanner.result"));
        let ok = check_vulnerabilities(
            &check(None, Some(3600), &[]),
            &doc,
            at("2022-04-12T00:30:00Z"),
        )
        .unwrap();
        assert_eq!(ok.reason(), None);
    }
}
