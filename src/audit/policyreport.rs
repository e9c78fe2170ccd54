//! `imprint audit -o policyreport`: the report as Kubernetes Policy Reports
//! (`wgpolicyk8s.io/v1alpha2`, the OpenReports shape), one `PolicyReport` per namespace and a
//! `ClusterPolicyReport` for rows without one (workloads whose manifest names no namespace,
//! images given directly), as multi-document YAML.
//!
//! Each row gives one result per policy rule that applied to its image: `pass` when the rule
//! was met, `fail` when it failed (modes `enforce` and `audit`), `warn` when a `warn` rule
//! failed, `error` when it could not be checked (`registry-error`, `timeout`). A row no rule
//! applied to gives one result whose rule is its reason code (`no-matching-rule`,
//! `invalid-reference`, `registry-error`). `properties` carry the image, digest, slot,
//! location, mode and reason codes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::report::{Report, Row, RowOutcome};
use crate::policy::Mode;

/// `apiVersion` of every report.
pub const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";

/// `source` of every result.
pub const SOURCE: &str = "imprint";

/// A `PolicyReport` or `ClusterPolicyReport`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// [`API_VERSION`].
    pub api_version: &'static str,
    /// `PolicyReport` (namespaced) or `ClusterPolicyReport`.
    pub kind: &'static str,
    /// Name, namespace, labels, annotations (imprint version, policy and trust-root hashes).
    pub metadata: Metadata,
    /// Counts of results by kind.
    pub summary: ReportSummary,
    /// One per (row, rule).
    pub results: Vec<ReportResult>,
}

/// `metadata` of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    /// `imprint-audit` (cluster) or `imprint-audit-<namespace>`, cut to 253 characters.
    pub name: String,
    /// The namespace (absent for the cluster report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `app.kubernetes.io/managed-by: imprint`.
    pub labels: BTreeMap<String, String>,
    /// `imprint.dev/version`, `imprint.dev/policy`, `imprint.dev/policy-hash`,
    /// `imprint.dev/trust-root-hash`.
    pub annotations: BTreeMap<String, String>,
}

/// `summary` of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// Results `pass`.
    pub pass: usize,
    /// Results `fail`.
    pub fail: usize,
    /// Results `warn`.
    pub warn: usize,
    /// Results `error`.
    pub error: usize,
    /// Results `skip` (always 0).
    pub skip: usize,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportResult {
    /// [`SOURCE`].
    pub source: &'static str,
    /// The policy (where it was loaded from).
    pub policy: String,
    /// The rule, or the row's reason code when no rule applied.
    pub rule: String,
    /// `pass`, `fail`, `warn` or `error`.
    pub result: &'static str,
    /// Always true: results count.
    pub scored: bool,
    /// What failed, or that the rule was met.
    pub message: String,
    /// The workload (absent for images given directly).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    /// `image`, `reference`, `digest`, `slot`, `location`, `mode`, `reasons`, `outcome`.
    pub properties: BTreeMap<String, String>,
}

/// A workload named by a result (a Kubernetes `ObjectReference`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// `apps/v1`, …
    pub api_version: String,
    /// `Deployment`, …
    pub kind: String,
    /// Its namespace, when the manifest names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

/// The reports of `report`: one `PolicyReport` per namespace (by name), then the
/// `ClusterPolicyReport` when some rows have no namespace. Empty when there are no rows.
pub fn policy_reports(report: &Report) -> Vec<PolicyReport> {
    let mut by_ns: BTreeMap<Option<String>, Vec<ReportResult>> = BTreeMap::new();
    for row in &report.rows {
        let ns = row
            .source
            .workload
            .as_ref()
            .and_then(|w| w.namespace.clone());
        by_ns.entry(ns).or_default().extend(results(report, row));
    }
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "imprint.dev/version".to_owned(),
        report.imprint_version.clone(),
    );
    annotations.insert(
        "imprint.dev/policy".to_owned(),
        report.policy.origin.clone(),
    );
    annotations.insert(
        "imprint.dev/policy-hash".to_owned(),
        report.policy.hash.to_string(),
    );
    if let Some(t) = &report.trust_root {
        annotations.insert("imprint.dev/trust-root-hash".to_owned(), t.hash.to_string());
    }
    let labels: BTreeMap<String, String> =
        [("app.kubernetes.io/managed-by".to_owned(), SOURCE.to_owned())].into();
    let make = |ns: Option<String>, results: Vec<ReportResult>| {
        let mut summary = ReportSummary::default();
        for r in &results {
            match r.result {
                "pass" => summary.pass += 1,
                "fail" => summary.fail += 1,
                "warn" => summary.warn += 1,
                "error" => summary.error += 1,
                _ => summary.skip += 1,
            }
        }
        let (kind, name) = match &ns {
            Some(n) => ("PolicyReport", format!("imprint-audit-{n}")),
            None => ("ClusterPolicyReport", "imprint-audit".to_owned()),
        };
        PolicyReport {
            api_version: API_VERSION,
            kind,
            metadata: Metadata {
                name: name.chars().take(253).collect(),
                namespace: ns,
                labels: labels.clone(),
                annotations: annotations.clone(),
            },
            summary,
            results,
        }
    };
    // Namespaced reports first, the cluster report (key `None`, first in the map) last.
    let mut out = Vec::new();
    let mut cluster = None;
    for (ns, results) in by_ns {
        match ns {
            Some(_) => out.push(make(ns, results)),
            None => cluster = Some(make(None, results)),
        }
    }
    out.extend(cluster);
    out
}

/// The reports as multi-document YAML.
pub fn yaml(report: &Report) -> Result<String, serde_saphyr::ser::Error> {
    serde_saphyr::to_string_multiple(&policy_reports(report))
}

fn results(report: &Report, row: &Row) -> Vec<ReportResult> {
    let resources: Vec<Resource> = row
        .source
        .workload
        .iter()
        .map(|w| Resource {
            api_version: w.api_version.clone(),
            kind: w.kind.clone(),
            namespace: w.namespace.clone(),
            name: w.name.clone(),
        })
        .collect();
    let mut base = BTreeMap::new();
    base.insert("image".to_owned(), row.source.image.clone());
    if let Some(r) = &row.reference {
        base.insert("reference".to_owned(), r.clone());
    }
    if let Some(d) = &row.digest {
        base.insert("digest".to_owned(), d.to_string());
    }
    if let Some(s) = &row.source.slot {
        base.insert("slot".to_owned(), s.clone());
    }
    if let Some(l) = &row.source.location {
        base.insert("location".to_owned(), format!("{}:{}", l.file, l.line));
    }
    base.insert("outcome".to_owned(), row.outcome.as_str().to_owned());
    let result = |rule: String,
                  result: &'static str,
                  message: String,
                  mode: Option<Mode>,
                  reasons: Vec<&str>| {
        let mut properties = base.clone();
        if let Some(m) = mode {
            properties.insert("mode".to_owned(), super::render::mode_word(m).to_owned());
        }
        if !reasons.is_empty() {
            properties.insert("reasons".to_owned(), reasons.join(","));
        }
        ReportResult {
            source: SOURCE,
            policy: report.policy.origin.clone(),
            rule,
            result,
            scored: true,
            message,
            resources: resources.clone(),
            properties,
        }
    };
    if row.rules.is_empty() {
        let code = row
            .reasons
            .first()
            .cloned()
            .unwrap_or_else(|| "no-rule".to_owned());
        let word = match row.outcome {
            RowOutcome::Allowed => "pass",
            RowOutcome::Warned => "warn",
            RowOutcome::Denied => "fail",
            RowOutcome::Error => "error",
        };
        let message = row
            .failures
            .iter()
            .find(|f| !f.detail)
            .map_or_else(|| row.outcome.as_str().to_owned(), |f| f.message.clone());
        let reasons = row.reasons.iter().map(String::as_str).collect();
        return vec![result(code, word, message, None, reasons)];
    }
    let mode_of = |name: &str| {
        report
            .policy
            .rules
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.mode)
    };
    row.rules
        .iter()
        .map(|name| {
            let failures: Vec<_> = row
                .failures
                .iter()
                .filter(|f| !f.detail && f.rule.as_deref() == Some(name.as_str()))
                .collect();
            let mode = mode_of(name).or_else(|| failures.first().and_then(|f| f.mode));
            let word = if row.unchecked_rules.contains(name) {
                "error"
            } else if row.would_deny_rules.contains(name) {
                if mode == Some(Mode::Warn) {
                    "warn"
                } else {
                    "fail"
                }
            } else {
                "pass"
            };
            let message = if failures.is_empty() {
                format!("rule `{name}` is met")
            } else {
                failures
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let mut reasons: Vec<&str> = Vec::new();
            for f in &failures {
                if !reasons.contains(&f.code.as_str()) {
                    reasons.push(&f.code);
                }
            }
            result(name.clone(), word, message, mode, reasons)
        })
        .collect()
}
