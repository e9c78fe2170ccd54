//! The audit report as a table (for people) and as JSON.

use super::report::{Report, Row, RowOutcome};
use crate::policy::Mode;

/// The mode as written in policies.
pub fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Audit => "audit",
        Mode::Enforce => "enforce",
        Mode::Warn => "warn",
    }
}

/// The report as pretty JSON (the typed [`Report`]).
pub fn json(report: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
fn columns(header: &[&str], rows: &[Vec<String>], indent: &str) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = indent.to_owned();
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < cells.len() {
                let w = widths.get(i).copied().unwrap_or(0);
                text.push_str(&" ".repeat(w.saturating_sub(cell.chars().count()) + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}

fn short_digest(row: &Row) -> String {
    row.digest
        .as_ref()
        .map_or_else(|| "-".to_owned(), |d| format!("sha256:{}", &d.hex()[..12]))
}

/// The report as a table: one line per row (workload, slot, image, digest, outcome, reasons,
/// file:line), the failures of non-allowed rows indented below it, then the summary and the
/// enforce-readiness tables.
pub fn table(report: &Report) -> String {
    let header = [
        "WORKLOAD", "SLOT", "IMAGE", "DIGEST", "OUTCOME", "REASONS", "LOCATION",
    ];
    let cells: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            vec![
                r.source
                    .workload
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |w| w.id()),
                r.source.slot.clone().unwrap_or_else(|| "-".to_owned()),
                r.source.image.clone(),
                short_digest(r),
                r.outcome.as_str().to_owned(),
                if r.reasons.is_empty() {
                    "-".to_owned()
                } else {
                    r.reasons.join(",")
                },
                r.source
                    .location
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
            ]
        })
        .collect();
    // The row table, with failures interleaved: render the table, then insert.
    let rendered = columns(&header, &cells, "");
    let mut lines = rendered.lines();
    let mut out = String::new();
    if let Some(h) = lines.next() {
        out.push_str(h);
        out.push('\n');
    }
    for (row, line) in report.rows.iter().zip(lines) {
        out.push_str(line);
        out.push('\n');
        if row.outcome != RowOutcome::Allowed {
            for f in &row.failures {
                if f.detail {
                    out.push_str(&format!("      - {}: {}\n", f.code, f.message));
                    continue;
                }
                let rule = match (&f.rule, f.mode) {
                    (Some(rule), Some(mode)) => format!("[{rule}/{}] ", mode_word(mode)),
                    _ => String::new(),
                };
                let req = f
                    .requirement
                    .as_deref()
                    .map(|r| format!("{r}: "))
                    .unwrap_or_default();
                out.push_str(&format!("  ✗ {rule}{req}{}: {}\n", f.code, f.message));
            }
        }
    }
    out.push('\n');
    out.push_str(&summary(report));
    out
}

/// The summary and enforce-readiness part of [`table`].
pub fn summary(report: &Report) -> String {
    let s = &report.summary;
    let r = &s.enforce_readiness;
    let mut out = format!(
        "imprint {}, policy {} ({}), trust root {}\n",
        report.imprint_version,
        report.policy.origin,
        report.policy.hash,
        match &report.trust_root {
            Some(t) if t.default => format!("{} (embedded default; the policy uses none)", t.hash),
            Some(t) => format!(
                "{} ({})",
                t.hash,
                t.roots
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "(none loaded)".to_owned(),
        }
    );
    out.push_str(&format!(
        "{} row(s): {} allowed, {} warned, {} denied, {} error (could not check)\n",
        s.rows, s.allowed, s.warned, s.denied, s.error
    ));
    out.push_str(&format!(
        "verified {} unique image reference(s), {} unique digest(s)\n",
        s.unique_images, s.unique_digests
    ));
    if let Some(n) = s.registry_requests {
        let per = if s.unique_images > 0 {
            format!(
                " ({:.1} per unique image)",
                n as f64 / s.unique_images as f64
            )
        } else {
            String::new()
        };
        out.push_str(&format!("registry requests: {n}{per}\n"));
    }
    let i = &report.inputs;
    out.push_str(&format!(
        "read {} file(s), {} document(s)",
        i.files, i.documents
    ));
    if !i.skipped.is_empty() {
        let skipped: Vec<String> = i.skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push_str(&format!("; skipped {}", skipped.join(", ")));
    }
    out.push('\n');
    for w in &i.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(&format!(
        "\nenforce readiness (every rule in enforce mode): {} row(s) would be denied, {} could not be checked",
        r.would_deny, r.unchecked
    ));
    if r.no_match_warned > 0 {
        out.push_str(&format!(
            ", {} warned by noMatch: warn (denied under noMatch: deny)",
            r.no_match_warned
        ));
    }
    out.push('\n');
    if !r.by_rule.is_empty() {
        let rows: Vec<Vec<String>> = r
            .by_rule
            .iter()
            .map(|(name, rr)| {
                vec![
                    name.clone(),
                    mode_word(rr.mode).to_owned(),
                    rr.rows.to_string(),
                    rr.would_deny.to_string(),
                    rr.unchecked.to_string(),
                ]
            })
            .collect();
        out.push_str(&columns(
            &["RULE", "MODE", "ROWS", "WOULD-DENY", "UNCHECKED"],
            &rows,
            "  ",
        ));
    }
    if !r.by_namespace.is_empty() {
        let rows: Vec<Vec<String>> = r
            .by_namespace
            .iter()
            .map(|(name, n)| {
                vec![
                    name.clone(),
                    n.rows.to_string(),
                    n.denied.to_string(),
                    n.would_deny.to_string(),
                    n.error.to_string(),
                ]
            })
            .collect();
        out.push_str(&columns(
            &["NAMESPACE", "ROWS", "DENIED", "WOULD-DENY", "ERROR"],
            &rows,
            "  ",
        ));
    }
    out
}
