//! The audit report as JUnit XML, for CI systems that show test results: one test case per
//! row (class name = workload, name = slot and image), a `<failure>` for a denied row, an
//! `<error>` for a row that could not be checked, and warned rows passing with their reasons
//! in `<system-out>`. Everything in one `<testsuite>` named after the policy.

use super::report::{Report, Row, RowOutcome};

/// Text for XML: `&`, `<`, `>`, `"` and `'` escaped; characters XML 1.0 cannot hold (most
/// C0 controls, U+FFFE, U+FFFF) become U+FFFD.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn failure_text(row: &Row) -> String {
    let mut text = String::new();
    for f in &row.failures {
        if f.detail {
            text.push_str("    - ");
        } else if let (Some(rule), Some(mode)) = (&f.rule, f.mode) {
            text.push_str(&format!("[{rule}/{}] ", super::render::mode_word(mode)));
        }
        if let (false, Some(req)) = (f.detail, &f.requirement) {
            text.push_str(&format!("{req}: "));
        }
        text.push_str(&format!("{}: {}\n", f.code, f.message));
    }
    for w in &row.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    text
}

fn testcase(row: &Row) -> String {
    let classname = row
        .source
        .workload
        .as_ref()
        .map_or_else(|| "(image input)".to_owned(), |w| w.id());
    let name = match &row.source.slot {
        Some(slot) => format!("{slot} {}", row.source.image),
        None => row.source.image.clone(),
    };
    let mut out = format!(
        "    <testcase classname=\"{}\" name=\"{}\"",
        xml(&classname),
        xml(&name)
    );
    if let Some(loc) = &row.source.location {
        out.push_str(&format!(
            " file=\"{}\" line=\"{}\"",
            xml(&loc.file),
            loc.line
        ));
    }
    out.push_str(" time=\"0\"");
    let reasons = row.reasons.join(",");
    let first = row
        .failures
        .iter()
        .find(|f| !f.detail)
        .map(|f| f.message.as_str())
        .unwrap_or_default();
    let body = match row.outcome {
        RowOutcome::Denied => Some(format!(
            "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
            xml(&reasons),
            xml(first),
            xml(&failure_text(row))
        )),
        RowOutcome::Error => Some(format!(
            "      <error type=\"{}\" message=\"{}\">{}</error>\n",
            xml(&reasons),
            xml(first),
            xml(&failure_text(row))
        )),
        _ if !row.failures.is_empty() || !row.warnings.is_empty() => Some(format!(
            "      <system-out>{}: {}\n{}</system-out>\n",
            row.outcome.as_str(),
            xml(&reasons),
            xml(&failure_text(row))
        )),
        _ => None,
    };
    match body {
        Some(body) => {
            out.push_str(">\n");
            out.push_str(&body);
            out.push_str("    </testcase>\n");
        }
        None => out.push_str("/>\n"),
    }
    out
}

/// The report as a JUnit XML document.
pub fn junit(report: &Report) -> String {
    let s = &report.summary;
    let name = format!("imprint audit ({})", report.policy.origin);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\">\n",
        xml(&name),
        s.rows,
        s.denied,
        s.error
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\">\n",
        xml(&name),
        s.rows,
        s.denied,
        s.error
    ));
    out.push_str("    <properties>\n");
    for (k, v) in [
        ("imprint.version", report.imprint_version.clone()),
        ("policy.hash", report.policy.hash.to_string()),
        (
            "trustRoot.hash",
            report
                .trust_root
                .as_ref()
                .map_or_else(String::new, |t| t.hash.to_string()),
        ),
        ("uniqueImages", s.unique_images.to_string()),
        ("uniqueDigests", s.unique_digests.to_string()),
        (
            "enforceReadiness.wouldDeny",
            s.enforce_readiness.would_deny.to_string(),
        ),
    ] {
        out.push_str(&format!(
            "      <property name=\"{}\" value=\"{}\"/>\n",
            xml(k),
            xml(&v)
        ));
    }
    out.push_str("    </properties>\n");
    for row in &report.rows {
        out.push_str(&testcase(row));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            xml("a<b>&\"c\"'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;\u{FFFD}\n"
        );
    }
}
