//! The time an attestation is ordered by under `select: newest`: the time the document
//! states, else the transparency-log time, else none (ordered as the oldest).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::verify::proof::VerifiedAttestation;

/// When an attestation was made, and where that was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AttestationTime {
    /// `None`: no time at all (ordered before every timed attestation).
    pub at: Option<DateTime<Utc>>,
    /// The field it was read from, `tlog integratedTime`, or `none`.
    pub from: &'static str,
}

/// Time fields of SBOMs and provenance, in the order they are tried (vulnerability reports
/// first go through [`super::vuln::parse_vuln_report`], which knows each scanner's field).
const DOCUMENT_TIMES: [(&[&str], &str); 4] = [
    // SPDX 2.x
    (&["creationInfo", "created"], "creationInfo.created"),
    // CycloneDX (an SBOM without `vulnerabilities`)
    (&["metadata", "timestamp"], "metadata.timestamp"),
    // SLSA provenance v1
    (
        &["runDetails", "metadata", "finishedOn"],
        "runDetails.metadata.finishedOn",
    ),
    // SLSA provenance v0.2
    (&["metadata", "buildFinishedOn"], "metadata.buildFinishedOn"),
];

/// The time the predicate states: a vulnerability report's scan time, an SBOM's creation
/// time, a provenance's finish time. `None` when it states none (or not as RFC 3339).
pub(super) fn document_time(predicate: &Value) -> Option<(DateTime<Utc>, &'static str)> {
    if let Ok(report) = super::vuln::parse_vuln_report(predicate)
        && let Some(at) = report.scanned_at
    {
        return Some((at, report.time_field));
    }
    DOCUMENT_TIMES
        .iter()
        .find_map(|(path, field)| time_at(predicate, path).map(|t| (t, *field)))
}

/// The time `att` is ordered by: [`document_time`], else its verified transparency-log
/// entry's integrated time, else none.
pub(super) fn attestation_time(att: &VerifiedAttestation) -> AttestationTime {
    // Only the predicate's report and time sections are built, never an SBOM's components.
    let sections = super::vuln::report_sections(
        att.statement_json(),
        crate::format::pick::Skipping::Verified,
    )
    .unwrap_or_default();
    if let Some((at, from)) = document_time(&sections) {
        return AttestationTime { at: Some(at), from };
    }
    if let Some(at) = att
        .tlog()
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.integrated_time, 0))
    {
        return AttestationTime {
            at: Some(at),
            from: "tlog integratedTime",
        };
    }
    AttestationTime {
        at: None,
        from: "none",
    }
}

fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    let text = cur.as_str()?;
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn document_times_by_format() {
        let cases = [
            (
                json!({"spdxVersion": "SPDX-2.3", "creationInfo": {"created": "2024-01-02T03:04:05Z"}}),
                "creationInfo.created",
            ),
            (
                json!({"bomFormat": "CycloneDX", "metadata": {"timestamp": "2024-01-02T03:04:05Z"}, "components": []}),
                "metadata.timestamp",
            ),
            (
                json!({"runDetails": {"metadata": {"finishedOn": "2024-01-02T03:04:05Z"}}}),
                "runDetails.metadata.finishedOn",
            ),
            (
                json!({"metadata": {"buildFinishedOn": "2024-01-02T03:04:05Z"}}),
                "metadata.buildFinishedOn",
            ),
            (
                json!({"SchemaVersion": 2, "CreatedAt": "2024-01-02T03:04:05Z", "Results": []}),
                "CreatedAt",
            ),
            (
                json!({"scanner": {"result": null}, "metadata": {"scanFinishedOn": "2024-01-02T03:04:05Z"}}),
                "predicate.metadata.scanFinishedOn",
            ),
        ];
        for (doc, field) in cases {
            let (at, from) = document_time(&doc).unwrap_or_else(|| panic!("{doc}"));
            assert_eq!(from, field);
            assert_eq!(at.to_rfc3339(), "2024-01-02T03:04:05+00:00");
        }
        assert_eq!(
            document_time(&json!({"creationInfo": {"created": "yesterday"}})),
            None
        );
        assert_eq!(document_time(&json!(null)), None);
    }
}
