//! Package versions and version ranges for `deniedPackages`.
//!
//! SBOM versions are not all semver (`1:2-21.mga5`, `3.0.8-r3`, `2.17.0`, `v1.2`), so versions
//! are compared the way dpkg compares them, which orders semver, Debian, RPM-like and Alpine
//! versions sensibly:
//! * an optional numeric epoch (`1:`) is compared first (missing = 0); a leading `v` is ignored;
//! * the rest is split into alternating non-digit and digit runs; digit runs compare
//!   numerically, non-digit runs character by character with `~` before everything (even
//!   the end of the string), then the end, then letters, then other characters.
//!
//! So `2.17.0 < 2.17.1 < 2.17.10`, `3.0.8-r3 < 3.0.8-r10`, `1.0~rc1 < 1.0`. Difference from
//! semver: a `-pre` suffix sorts *after* the release (`2.17.1-rc1 > 2.17.1`).
//!
//! Ranges: comparators `<`, `<=`, `>`, `>=`, `=` (or a bare version), `!=`, joined by `,` or
//! spaces (all must hold), with `||` between alternatives; `*` is any version.

use std::cmp::Ordering;

use serde::Serialize;

/// A parsed version range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRange {
    source: String,
    #[serde(skip)]
    alternatives: Vec<Vec<(Op, String)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
    Ne,
}

impl VersionRange {
    /// Parses a range such as `<2.17.1`, `>=2.0, <2.17.1 || =1.2.3`, `*`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("empty version range (use `*` for any version)".into());
        }
        let mut alternatives = Vec::new();
        for alt in trimmed.split("||") {
            let mut comparators = Vec::new();
            let alt = alt.trim();
            if alt.is_empty() {
                return Err(format!("empty alternative in version range `{text}`"));
            }
            if alt == "*" {
                alternatives.push(Vec::new());
                continue;
            }
            // Split on commas and spaces, re-attaching an operator separated from its version.
            let tokens: Vec<&str> = alt.split([',', ' ']).filter(|t| !t.is_empty()).collect();
            let mut i = 0;
            while i < tokens.len() {
                let mut token = tokens[i].to_string();
                if matches!(token.as_str(), "<" | "<=" | ">" | ">=" | "=" | "==" | "!=") {
                    let Some(next) = tokens.get(i + 1) else {
                        return Err(format!("operator `{token}` has no version in `{text}`"));
                    };
                    token.push_str(next);
                    i += 1;
                }
                comparators.push(parse_comparator(&token, text)?);
                i += 1;
            }
            alternatives.push(comparators);
        }
        Ok(Self {
            source: trimmed.to_string(),
            alternatives,
        })
    }

    /// The range as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `version` is inside the range.
    pub fn contains(&self, version: &str) -> bool {
        self.alternatives.iter().any(|alt| {
            alt.iter().all(|(op, bound)| {
                let ord = compare_versions(version, bound);
                match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                }
            })
        })
    }
}

fn parse_comparator(token: &str, whole: &str) -> Result<(Op, String), String> {
    let (op, rest) = if let Some(r) = token.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = token.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = token.strip_prefix("!=") {
        (Op::Ne, r)
    } else if let Some(r) = token.strip_prefix("==") {
        (Op::Eq, r)
    } else if let Some(r) = token.strip_prefix('>') {
        (Op::Gt, r)
    } else if let Some(r) = token.strip_prefix('<') {
        (Op::Lt, r)
    } else if let Some(r) = token.strip_prefix('=') {
        (Op::Eq, r)
    } else {
        (Op::Eq, token)
    };
    if rest.is_empty() {
        return Err(format!("comparator `{token}` has no version in `{whole}`"));
    }
    if !rest
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return Err(format!(
            "`{rest}` in `{whole}` is not a version (it must start with a letter or digit)"
        ));
    }
    if rest.contains(['<', '>', '=', '*']) {
        return Err(format!("`{token}` in `{whole}` is not a valid comparator"));
    }
    Ok((op, rest.to_string()))
}

/// Compares two package versions (dpkg-style, see the module docs).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = split_epoch(a);
    let (epoch_b, rest_b) = split_epoch(b);
    epoch_a
        .cmp(&epoch_b)
        .then_with(|| verrevcmp(rest_a.as_bytes(), rest_b.as_bytes()))
}

fn split_epoch(v: &str) -> (u64, &str) {
    let v = v.trim();
    let v = v
        .strip_prefix(['v', 'V'])
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(v);
    if let Some((epoch, rest)) = v.split_once(':')
        && !epoch.is_empty()
        && epoch.bytes().all(|b| b.is_ascii_digit())
    {
        return (epoch.parse().unwrap_or(u64::MAX), rest);
    }
    (0, v)
}

fn char_order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            let (oa, ob) = (char_order(ca), char_order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            if ca.is_some() {
                i += 1;
            }
            if cb.is_some() {
                j += 1;
            }
        }
        // Digit run, compared numerically without overflow (strip zeros, then length, then text).
        let start_a = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let start_b = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let na = trim_zeros(&a[start_a..i]);
        let nb = trim_zeros(&b[start_b..j]);
        let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let first = d.iter().position(|&c| c != b'0').unwrap_or(d.len());
    &d[first..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn orders_common_version_schemes() {
        use Ordering::*;
        for (a, b, want) in [
            ("2.17.0", "2.17.1", Less),
            ("2.17.10", "2.17.9", Greater),
            ("2.17.1", "v2.17.1", Equal),
            ("3.0.8-r3", "3.0.8-r10", Less),
            ("1:2-21.mga5", "3.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0a", "1.0", Greater),
            ("1.2.3", "1.2.3", Equal),
            ("2.17.1-rc1", "2.17.1", Greater),
            ("0010", "9", Greater),
            ("99999999999999999999999", "1", Greater),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn ranges() {
        let r = VersionRange::parse("<2.17.1").unwrap();
        assert!(r.contains("2.14.1"));
        assert!(!r.contains("2.17.1"));
        assert!(!r.contains("2.20.0"));
        let r = VersionRange::parse(">= 2.0, <2.17.1 || =1.2.3").unwrap();
        assert!(r.contains("2.5"));
        assert!(r.contains("1.2.3"));
        assert!(!r.contains("1.2.4"));
        let any = VersionRange::parse("*").unwrap();
        assert!(any.contains("anything"));
        let exact = VersionRange::parse("3.0.8-r3").unwrap();
        assert!(exact.contains("3.0.8-r3"));
        assert!(!exact.contains("3.0.8-r4"));
        let ne = VersionRange::parse("!=1.0").unwrap();
        assert!(ne.contains("1.1") && !ne.contains("1.0"));
    }

    #[test]
    fn bad_ranges() {
        for bad in ["", "<", "<=>1", "1.0 ||", ">=*", "< -1"] {
            assert!(VersionRange::parse(bad).is_err(), "{bad:?} should fail");
        }
    }
}
