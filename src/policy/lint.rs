//! Lint: findings about a policy that loads but is probably wrong or too weak
//! (`imprint policy lint`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::{Authority, Mode, NoMatch, Policy, SignedByOrigin, StaticAction};
use crate::trust::Matcher;

/// How serious a lint finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LintLevel {
    /// Worth knowing.
    Info,
    /// Probably not what you meant.
    Warning,
    /// The policy does not protect anything (or cannot match anything).
    Error,
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintFinding {
    /// Severity.
    pub level: LintLevel,
    /// Stable kebab-case code (`allows-everything`, `unused-authority`, ...).
    pub code: &'static str,
    /// Where (`spec.rules[0]`, `spec.authorities.bob`).
    pub location: String,
    /// One-line explanation.
    pub message: String,
}

impl Policy {
    /// Findings about a policy that loads but is probably wrong or too weak.
    pub fn lint(&self) -> Vec<LintFinding> {
        let mut out = Vec::new();
        let mut push = |level, code, location: String, message: String| {
            out.push(LintFinding {
                level,
                code,
                location,
                message,
            })
        };
        if self.rules.is_empty() && self.no_match == NoMatch::Allow {
            push(
                LintLevel::Error,
                "allows-everything",
                "spec".into(),
                "no rules and `noMatch: allow`: every image is allowed without any check".into(),
            );
        } else if self.no_match == NoMatch::Allow {
            push(
                LintLevel::Warning,
                "no-match-allow",
                "spec.noMatch".into(),
                "images that no rule matches are allowed unchecked; consider `deny` or `warn`"
                    .into(),
            );
        }
        if !self.rules.is_empty()
            && self.rules.iter().all(|r| r.mode != Mode::Enforce)
            && self.no_match != NoMatch::Deny
        {
            push(
                LintLevel::Warning,
                "never-denies",
                "spec.rules".into(),
                "no rule is in `enforce` mode and `noMatch` is not `deny`: this policy never denies an image".into(),
            );
        }
        let mut used: BTreeSet<&str> = BTreeSet::new();
        let mut used_roots: BTreeSet<&str> = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let location = format!("spec.rules[{i}] ({})", rule.name);
            used.extend(rule.authority_names());
            if rule.images.is_empty() {
                push(
                    LintLevel::Error,
                    "rule-matches-nothing",
                    location.clone(),
                    "`images` is empty, so the rule never applies".into(),
                );
            } else if rule.images.iter().all(|p| {
                rule.exclude
                    .iter()
                    .any(|e| e.normalised() == p.normalised() || e.normalised() == "**")
            }) {
                push(
                    LintLevel::Error,
                    "rule-matches-nothing",
                    location.clone(),
                    "every `images` pattern is also excluded, so the rule never applies".into(),
                );
            }
            if rule.mode == Mode::Audit {
                push(
                    LintLevel::Info,
                    "audit-only",
                    location.clone(),
                    "audit mode: failures are recorded but never deny or warn".into(),
                );
            }
            let names = rule.authority_names();
            if !names.is_empty()
                && names.iter().all(|n| {
                    matches!(
                        self.authorities.get(*n),
                        Some(Authority::Static(StaticAction::Pass))
                    )
                })
                && rule.attestations.is_empty()
            {
                push(
                    LintLevel::Info,
                    "static-pass",
                    location.clone(),
                    "the rule only uses `static: pass` authorities: matching images are allowed unchecked".into(),
                );
            }
            for (j, a) in rule.attestations.iter().enumerate() {
                if a.signed_by_origin == SignedByOrigin::AnyAuthority {
                    push(
                        LintLevel::Warning,
                        "attestation-any-signer",
                        format!(
                            "spec.rules[{i}] ({}).attestations[{j}] ({})",
                            rule.name,
                            a.label()
                        ),
                        format!(
                            "attestation requirement `{}` has no `signedBy` and rule `{}` has no `signatures` to default it to: an attestation signed by any authority of the policy counts; name who must sign it",
                            a.label(),
                            rule.name
                        ),
                    );
                }
            }
            if rule.attestations.iter().any(|a| {
                a.signed_by.is_none()
                    && a.sbom.is_none()
                    && a.vulnerabilities.is_none()
                    && a.condition.is_none()
            }) {
                push(
                    LintLevel::Info,
                    "attestation-presence-only",
                    location.clone(),
                    "an attestation requirement has no content check and no `signedBy`: any policy authority's attestation of that type is enough".into(),
                );
            }
        }
        for (name, authority) in &self.authorities {
            if !used.contains(name.as_str()) {
                push(
                    LintLevel::Warning,
                    "unused-authority",
                    format!("spec.authorities.{name}"),
                    format!("authority `{name}` is not used by any rule"),
                );
            }
            if let Authority::Keyless(k) = authority {
                used_roots.insert(k.trust_root.as_str());
                for (field, matcher) in [("issuerRegExp", &k.issuer), ("subjectRegExp", &k.subject)]
                {
                    if let Matcher::Regex(r) = matcher {
                        let s = r.as_str();
                        if !s.starts_with('^') || !s.ends_with('$') {
                            push(
                                LintLevel::Warning,
                                "unanchored-regexp",
                                format!("spec.authorities.{name}.keyless.{field}"),
                                format!(
                                    "`{s}` is not anchored with `^…$`, so it also matches identities that merely contain it"
                                ),
                            );
                        }
                    }
                }
            }
        }
        // Key authorities that are one key by canonical identity (however the PEM writes it:
        // SPKI or PKCS#1, compressed or uncompressed point, a certificate's key).
        let mut by_key: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, authority) in &self.authorities {
            if let Authority::Key(k) = authority {
                let identity = crate::keys::PublicKey::from_pem(&k.pem)
                    .ok()
                    .map(|key| key.fingerprint())
                    .or_else(|| k.fingerprint.clone());
                if let Some(identity) = identity {
                    by_key.entry(identity).or_default().push(name.as_str());
                }
            }
        }
        for (identity, names) in &by_key {
            if let [first, .., last] = names.as_slice() {
                let listed = names[..names.len() - 1]
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                push(
                    LintLevel::Warning,
                    "duplicate-key",
                    format!("spec.authorities.{first}"),
                    format!(
                        "authorities {listed} and `{last}` are the same key ({identity}): they count as one signer"
                    ),
                );
            }
        }
        for name in self.trust_roots.keys() {
            if !used_roots.contains(name.as_str()) {
                push(
                    LintLevel::Warning,
                    "unused-trust-root",
                    format!("spec.trustRoots.{name}"),
                    format!("trust root `{name}` is not used by any keyless authority"),
                );
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(spec: &str) -> Policy {
        let yaml = format!("apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n{spec}");
        Policy::from_str_with_base(&yaml, Path::new(".")).unwrap()
    }

    #[test]
    fn lint_findings() {
        let codes = |p: &Policy| p.lint().into_iter().map(|f| f.code).collect::<Vec<_>>();
        let p = parse("  noMatch: allow\n");
        assert_eq!(codes(&p), ["allows-everything"]);
        let p = parse(
            "  noMatch: warn\n  authorities:\n    a: {static: pass}\n    unused: {static: fail}\n    ci: {keyless: {issuer: x, subjectRegExp: 'acme'}}\n  rules:\n    - name: r\n      images: []\n      mode: warn\n      signatures: {anyOf: [{authority: a}, {authority: ci}]}\n",
        );
        let found = codes(&p);
        for want in [
            "rule-matches-nothing",
            "never-denies",
            "unused-authority",
            "unanchored-regexp",
        ] {
            assert!(found.contains(&want), "{want} missing from {found:?}");
        }
        let p = parse(
            "  authorities:\n    a: {static: pass}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      exclude: ['ghcr.io/**']\n      signatures: {authority: a}\n",
        );
        assert!(codes(&p).contains(&"rule-matches-nothing"));
        assert!(codes(&p).contains(&"static-pass"));
    }

    #[test]
    fn an_attestation_without_any_signer_constraint_is_a_warning() {
        let p = parse(
            "  authorities:\n    ci: {keyless: {issuer: x, subject: y}}\n    dev: {key: {pem: \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}}\n  rules:\n    - name: scans\n      images: ['ghcr.io/**']\n      attestations:\n        - {name: scan, predicateType: vuln, vulnerabilities: {maxSeverity: high}}\n        - {predicateType: spdx, signedBy: {authority: ci}, sbom: {deniedLicenses: [AGPL-3.0-only]}}\n    - name: signed\n      images: ['ghcr.io/**']\n      signatures: {authority: ci}\n      attestations: [{predicateType: vuln, vulnerabilities: {maxSeverity: high}}]\n",
        );
        let found: Vec<LintFinding> = p
            .lint()
            .into_iter()
            .filter(|f| f.code == "attestation-any-signer")
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].level, LintLevel::Warning);
        assert_eq!(
            found[0].location,
            "spec.rules[0] (scans).attestations[0] (scan)"
        );
        assert!(
            found[0].message.contains("`scan`") && found[0].message.contains("rule `scans`"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn the_same_key_under_several_names_is_reported() {
        let (_, encodings) = crate::keys::test_p256_encodings();
        let pem = |der: &[u8]| crate::keys::go_pem("PUBLIC KEY", der).replace('\n', "\\n");
        let other = crate::keys::SigningKey::generate_p256()
            .unwrap()
            .public_key()
            .to_pem()
            .replace('\n', "\\n");
        let p = parse(&format!(
            "  authorities:\n    a: {{key: {{pem: \"{}\"}}}}\n    b: {{key: {{pem: \"{}\"}}}}\n    c: {{key: {{pem: \"{}\"}}}}\n    d: {{key: {{pem: \"{other}\"}}}}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      signatures: {{threshold: {{count: 3, of: [a, b, c, d]}}}}\n",
            pem(&encodings[0]),
            pem(&encodings[1]),
            pem(&encodings[2]),
        ));
        let found: Vec<LintFinding> = p
            .lint()
            .into_iter()
            .filter(|f| f.code == "duplicate-key")
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].level, LintLevel::Warning);
        assert_eq!(found[0].location, "spec.authorities.a");
        assert!(
            found[0].message.contains("`a`, `b` and `c`"),
            "{}",
            found[0].message
        );
    }
}
