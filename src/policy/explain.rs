//! `policy explain`: which rules and requirements apply to an image, from the policy alone
//! (no registry access, nothing verified).

use serde::Serialize;

use super::glob::NormalisedImage;
use super::model::{Mode, NoMatch, Policy, Select, SignedByOrigin};
use crate::format::reference::ImageRef;

/// What a policy asks of one image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Explanation {
    /// The image as given.
    pub image: String,
    /// The names patterns are matched against (repository, with tag, with digest).
    pub matched_as: String,
    /// Every rule, whether it applies and why (or why not).
    pub rules: Vec<RuleExplanation>,
    /// `noMatch`, when no rule applies (what then happens to the image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_match: Option<NoMatch>,
    /// The authorities verification would consult.
    pub authorities: Vec<String>,
}

/// One rule for one image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuleExplanation {
    /// Rule name.
    pub name: String,
    /// Whether it applies.
    pub applies: bool,
    /// The `images` pattern that matched, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<String>,
    /// The `exclude` pattern that removed the image, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded_by: Option<String>,
    /// Its mode.
    pub mode: Mode,
    /// The signature requirement (`anyOf(a, 2 of [b, c])`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatures: Option<String>,
    /// The attestation requirements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<AttestationExplanation>,
}

/// One attestation requirement.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AttestationExplanation {
    /// The requirement's label.
    pub requirement: String,
    /// Accepted predicate types.
    pub predicate_types: Vec<String>,
    /// Which attestation decides.
    pub select: Select,
    /// Who must have signed it (`None`: any authority of the policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// Where `signedBy` came from.
    pub signed_by_origin: SignedByOrigin,
    /// The content checks that run (`sbom`, `vulnerabilities`, `condition`).
    pub checks: Vec<&'static str>,
}

impl Policy {
    /// What this policy asks of `image` (see the module docs).
    pub fn explain(&self, image: &ImageRef) -> Explanation {
        let normalised = NormalisedImage::new(image);
        let rules: Vec<RuleExplanation> = self
            .rules()
            .iter()
            .map(|rule| {
                let matched_by = rule
                    .images
                    .iter()
                    .find(|p| p.matches(&normalised))
                    .map(|p| p.as_str().to_owned());
                let excluded_by = rule
                    .exclude
                    .iter()
                    .find(|p| p.matches(&normalised))
                    .map(|p| p.as_str().to_owned());
                RuleExplanation {
                    name: rule.name.clone(),
                    applies: matched_by.is_some() && excluded_by.is_none(),
                    matched_by,
                    excluded_by,
                    mode: rule.mode,
                    signatures: rule.signatures.as_ref().map(ToString::to_string),
                    attestations: rule
                        .attestations
                        .iter()
                        .map(|a| AttestationExplanation {
                            requirement: a.label(),
                            predicate_types: a.predicate_types.clone(),
                            select: a.select,
                            signed_by: a.signed_by.as_ref().map(ToString::to_string),
                            signed_by_origin: a.signed_by_origin,
                            checks: [
                                a.sbom.as_ref().map(|_| "sbom"),
                                a.vulnerabilities.as_ref().map(|_| "vulnerabilities"),
                                a.condition.as_ref().map(|_| "condition"),
                            ]
                            .into_iter()
                            .flatten()
                            .collect(),
                        })
                        .collect(),
                }
            })
            .collect();
        let none_applies = !rules.iter().any(|r| r.applies);
        Explanation {
            image: image.to_string(),
            matched_as: normalised.full(),
            no_match: none_applies.then(|| self.no_match()),
            authorities: self
                .authorities_needed(image)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            rules,
        }
    }
}

/// The policy-file spelling of a serialisable enum value (`enforce`, `rule-signatures`).
fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Explanation {
    /// Lines for humans: the applying rules with their requirements, then the others with
    /// why they do not apply.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!("{} (matched as {})\n", self.image, self.matched_as);
        for r in self.rules.iter().filter(|r| r.applies) {
            let _ = writeln!(
                out,
                "  rule {} ({}, matched by `{}`)",
                r.name,
                word(&r.mode),
                r.matched_by.as_deref().unwrap_or_default()
            );
            if let Some(s) = &r.signatures {
                let _ = writeln!(out, "    signatures: {s}");
            }
            for a in &r.attestations {
                let signed_by = a.signed_by.as_deref().unwrap_or("any authority");
                let _ = writeln!(
                    out,
                    "    attestation {}: {} select {}, signed by {} ({}){}",
                    a.requirement,
                    a.predicate_types.join(" | "),
                    a.select,
                    signed_by,
                    word(&a.signed_by_origin),
                    if a.checks.is_empty() {
                        String::new()
                    } else {
                        format!(", checks: {}", a.checks.join(", "))
                    }
                );
            }
        }
        if let Some(no_match) = self.no_match {
            let _ = writeln!(out, "  no rule applies: noMatch is {}", word(&no_match));
        }
        for r in self.rules.iter().filter(|r| !r.applies) {
            let why = match &r.excluded_by {
                Some(p) => format!("excluded by `{p}`"),
                None => "no image pattern matches".to_owned(),
            };
            let _ = writeln!(out, "  not rule {}: {why}", r.name);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::keys::SigningKey::generate_p256()
            .unwrap()
            .public_key();
        std::fs::write(dir.path().join("k.pub"), key.to_pem()).unwrap();
        let yaml = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: warn\n  \
            authorities:\n    k: {key: {file: k.pub}}\n  rules:\n    - name: payments\n      \
            images: [\"registry.acme.io/payments/**\"]\n      exclude: [\"registry.acme.io/payments/sandbox/**\"]\n      \
            signatures: {authority: k}\n      attestations:\n        - predicateType: [spdxjson, cyclonedx]\n          \
            sbom: {deniedLicenses: [AGPL-3.0-only]}\n    - name: base\n      mode: warn\n      \
            images: [\"index.docker.io/library/**\"]\n      signatures: {authority: k}\n";
        Policy::from_str_with_base(yaml, dir.path()).unwrap()
    }

    #[test]
    fn names_the_rules_that_apply_and_why_others_do_not() {
        let p = policy();
        let e = p.explain(&ImageRef::parse("REGISTRY.ACME.IO/payments/api:v1").unwrap());
        let payments = &e.rules[0];
        assert!(payments.applies);
        assert_eq!(
            payments.matched_by.as_deref(),
            Some("registry.acme.io/payments/**")
        );
        assert_eq!(payments.signatures.as_deref(), Some("k"));
        let att = &payments.attestations[0];
        assert_eq!(att.predicate_types.len(), 2);
        assert_eq!(att.signed_by.as_deref(), Some("k"));
        assert_eq!(att.signed_by_origin, SignedByOrigin::RuleSignatures);
        assert_eq!(att.checks, ["sbom"]);
        assert!(!e.rules[1].applies);
        assert!(e.no_match.is_none());
        assert_eq!(e.authorities, ["k"]);
        let text = e.to_text();
        assert!(
            text.contains("rule payments") && text.contains("not rule base"),
            "{text}"
        );

        let sandbox = p.explain(&ImageRef::parse("registry.acme.io/payments/sandbox/x:1").unwrap());
        assert!(!sandbox.rules[0].applies);
        assert_eq!(
            sandbox.rules[0].excluded_by.as_deref(),
            Some("registry.acme.io/payments/sandbox/**")
        );
        assert_eq!(sandbox.no_match, Some(NoMatch::Warn));
        assert!(sandbox.authorities.is_empty());
        assert!(sandbox.to_text().contains("excluded by"));
        assert!(
            sandbox.to_text().contains("noMatch is warn"),
            "{}",
            sandbox.to_text()
        );
        assert!(
            text.contains("(enforce, matched by") && text.contains("(rule-signatures)"),
            "{text}"
        );

        let hub = p.explain(&ImageRef::parse("busybox:1.36").unwrap());
        assert!(hub.rules[1].applies, "{}", hub.to_text());
        assert_eq!(hub.rules[1].mode, Mode::Warn);
    }
}
