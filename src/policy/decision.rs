//! Decisions: the typed, serialisable answer for one image, and a table renderer.

use serde::Serialize;

use super::model::{Mode, Select};
use crate::format::digest::Digest;
use crate::verify::proof::{Signer, Source, TlogEvidence};

/// Why a requirement failed (or why an image got its outcome). Serialised in kebab-case;
/// the codes are stable: new codes may be added, existing ones are never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// An attestation of the required predicate type, signed as required, was not found.
    AttestationMissing,
    /// A CEL condition could not be evaluated (error, timeout, non-boolean result).
    ConditionError,
    /// A CEL condition evaluated to `false`.
    ConditionFalse,
    /// A signature or attestation names a different image digest.
    DigestMismatch,
    /// A field the check needs is absent from the document.
    FieldMissing,
    /// A signature verified but its signer did not match the authority's identity.
    IdentityMismatch,
    /// The document is not in a format the check understands.
    UnsupportedFormat,
    /// No rule matched the image and `noMatch` is `deny` (or `warn`).
    NoMatchingRule,
    /// No signature verified under the authority.
    NoSignatures,
    /// Signatures or attestations could not be discovered (fail closed).
    RegistryError,
    /// An SBOM lists a package under a denied license.
    SbomDeniedLicense,
    /// An SBOM lists a denied package (in the denied version range).
    SbomDeniedPackage,
    /// A signature was found but did not verify.
    SignatureInvalid,
    /// A `static: fail` authority.
    StaticFail,
    /// Fewer distinct authorities than the threshold count.
    ThresholdNotMet,
    /// The scan is older than `maxAge`.
    VulnReportTooOld,
    /// A finding is more severe than `maxSeverity`.
    VulnTooSevere,
    /// A registry request or the image's verification ran past its deadline (fail closed).
    Timeout,
}

impl ReasonCode {
    /// The kebab-case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AttestationMissing => "attestation-missing",
            Self::ConditionError => "condition-error",
            Self::ConditionFalse => "condition-false",
            Self::DigestMismatch => "digest-mismatch",
            Self::FieldMissing => "field-missing",
            Self::IdentityMismatch => "identity-mismatch",
            Self::UnsupportedFormat => "unsupported-format",
            Self::NoMatchingRule => "no-matching-rule",
            Self::NoSignatures => "no-signatures",
            Self::RegistryError => "registry-error",
            Self::SbomDeniedLicense => "sbom-denied-license",
            Self::SbomDeniedPackage => "sbom-denied-package",
            Self::SignatureInvalid => "signature-invalid",
            Self::StaticFail => "static-fail",
            Self::ThresholdNotMet => "threshold-not-met",
            Self::VulnReportTooOld => "vuln-report-too-old",
            Self::VulnTooSevere => "vuln-too-severe",
            Self::Timeout => "timeout",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reason code with a one-line human explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable code.
    pub code: ReasonCode,
    /// One line for humans.
    pub message: String,
}

impl Reason {
    /// Makes a reason; the message is flattened to one line (newlines and control characters
    /// from registry errors or documents become spaces).
    pub(crate) fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = if message.chars().any(char::is_control) {
            message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        } else {
            message
        };
        Self { code, message }
    }
}

/// The overall outcome for one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outcome {
    /// Every enforced and warned requirement was met (audit failures do not count).
    Allowed,
    /// An `enforce` rule failed, or no rule matched under `noMatch: deny`.
    Denied,
    /// Allowed, but a `warn` rule failed or no rule matched under `noMatch: warn`.
    Warned,
}

impl Outcome {
    /// Lower-case word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Warned => "warned",
        }
    }
}

/// Who signed, in a form fit for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SignerSummary {
    /// A public key.
    Key {
        /// `sha256:<hex>` of the SPKI DER.
        fingerprint: String,
    },
    /// A certificate identity.
    Certificate {
        /// SAN.
        identity: String,
        /// OIDC issuer.
        issuer: String,
    },
    /// A `static: pass` authority (no signature involved).
    Static,
    /// A Notation signature's signing certificate.
    Notation {
        /// The leaf certificate's subject DN.
        subject: String,
        /// `sha256:<hex>` of the leaf certificate's DER.
        certificate: String,
        /// `notary.x509` or `notary.x509.signingAuthority`.
        #[serde(rename = "signingScheme")]
        signing_scheme: String,
    },
}

impl SignerSummary {
    pub(crate) fn of(signer: &Signer) -> Self {
        match signer {
            Signer::Key { fingerprint } => Self::Key {
                fingerprint: fingerprint.clone(),
            },
            Signer::Certificate {
                identity, issuer, ..
            } => Self::Certificate {
                identity: identity.clone(),
                issuer: issuer.clone(),
            },
        }
    }

    /// Short text for tables.
    pub fn short(&self) -> String {
        match self {
            Self::Key { fingerprint } => {
                let hex = fingerprint.strip_prefix("sha256:").unwrap_or(fingerprint);
                format!("key {}", &hex[..hex.len().min(12)])
            }
            Self::Certificate { identity, issuer } => format!("{identity} ({issuer})"),
            Self::Static => "static".into(),
            Self::Notation { subject, .. } => format!("notation {subject}"),
        }
    }
}

/// One piece of evidence that met (part of) a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceRecord {
    /// The policy authority it was verified under.
    pub authority: String,
    /// Who signed.
    pub signer: SignerSummary,
    /// Verified transparency-log entry, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlog: Option<TlogEvidence>,
    /// Where the signature or attestation was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// For attestations: the predicate type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// For attestations: sha256 of the verified envelope (or bundle) bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_digest: Option<Digest>,
}

/// The result for one requirement of one rule. Only the policy engine makes these; read them
/// through the accessors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequirementDecision {
    /// What was required, e.g. `signatures: anyOf(release-key, 2 of [alice, bob, carol])` or
    /// `attestation https://slsa.dev/provenance/v1`.
    pub(super) requirement: String,
    /// Whether it was met.
    pub(super) met: bool,
    /// The evidence that met it (also partial evidence when it was not met).
    pub(super) evidence: Vec<EvidenceRecord>,
    /// Why it failed (`None` when met).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<Reason>,
    /// Further findings (other failed branches, other candidate attestations, notes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) details: Vec<Reason>,
    /// What the checks could not judge in the evidence that met the requirement (license
    /// texts that are not SPDX expressions); copied into the decision's warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) warnings: Vec<String>,
    /// For attestation requirements with candidates: which attestation(s) decided, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) selection: Option<Selection>,
}

/// Which verified attestations decided an attestation requirement (`select:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// The requirement's `select:`.
    pub select: Select,
    /// One line: why these decided (e.g. `newest of 2 by CreatedAt`).
    pub why: String,
    /// The attestations that decided the outcome.
    pub decided_by: Vec<Candidate>,
    /// The other candidates (they did not decide; failing ones are also warnings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<Candidate>,
}

/// One candidate attestation (met `signedBy`, of an accepted predicate type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// `sha256:` and the first 12 hex digits of the statement's digest.
    pub statement: String,
    /// Its predicate type (one of the requirement's).
    pub predicate_type: String,
    /// The time it was ordered by (RFC 3339), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Where that time came from (`CreatedAt`, `creationInfo.created`, `tlog integratedTime`,
    /// or `none`).
    pub time_from: String,
    /// Whether it passed the requirement's checks.
    pub passed: bool,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// The result for one rule that applied to the image. Only the policy engine makes these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleDecision {
    /// Rule name.
    pub(super) name: String,
    /// Its mode.
    pub(super) mode: Mode,
    /// Whether every requirement was met.
    pub(super) met: bool,
    /// Per requirement.
    pub(super) requirements: Vec<RequirementDecision>,
}

/// The decision for one image. Only [`evaluate`](super::evaluate) and the deploy gate make
/// these (library users cannot forge one); read it through the accessors. Serialised as the
/// `--output json` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The reference as given.
    pub(super) reference: String,
    /// The resolved digest that was evaluated (`None` when the image could not be resolved).
    pub(super) digest: Option<Digest>,
    /// Allowed, denied or warned.
    pub(super) outcome: Outcome,
    /// sha256 of the policy source.
    pub(super) policy: Digest,
    /// Evaluation time (RFC 3339, UTC).
    pub(super) evaluated_at: String,
    /// Rules that applied, in policy order.
    pub(super) rules: Vec<RuleDecision>,
    /// The main reason for a denied or warned outcome (first failing enforce/warn
    /// requirement, or `no-matching-rule` / `registry-error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<Reason>,
    /// Warnings (failed `warn` rules, `noMatch: warn`, failed `audit` rules).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) warnings: Vec<String>,
    /// The trust roots the policy's keyless authorities verify against, and where each came
    /// from (the TUF cache or the embedded copy). Empty, and not serialised, for key-only
    /// policies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) trust_roots: Vec<TrustRootUse>,
}

/// One trust root a [`Decision`] was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TrustRootUse {
    /// Its name in the policy (`public-good`, or a `spec.trustRoots` key).
    pub name: String,
    /// Where it came from: `TUF cache DIR (mirror URL, updated T)`, the embedded copy, a file.
    pub origin: String,
    /// sha256 of its `trusted_root.json` bytes.
    pub sha256: Digest,
}

impl Decision {
    /// This decision, recording the trust roots it was made with (the deploy gate).
    pub(crate) fn with_trust_roots(mut self, roots: Vec<TrustRootUse>) -> Self {
        self.trust_roots = roots;
        self
    }

    /// The trust roots the keyless authorities verified against (empty for key-only policies).
    pub fn trust_roots(&self) -> &[TrustRootUse] {
        &self.trust_roots
    }

    /// The decision for an image that could not be evaluated at all (unparsable reference,
    /// registry unreachable, tag not found): denied, whatever the policy says, because
    /// nothing could be checked (fail closed).
    pub(crate) fn unresolved(
        reference: &str,
        policy: &super::model::Policy,
        now: std::time::SystemTime,
        code: ReasonCode,
        message: impl Into<String>,
    ) -> Self {
        Self {
            reference: reference.to_owned(),
            digest: None,
            outcome: Outcome::Denied,
            policy: policy.hash(),
            evaluated_at: chrono::DateTime::<chrono::Utc>::from(now)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rules: Vec::new(),
            reason: Some(Reason::new(code, message)),
            warnings: Vec::new(),
            trust_roots: Vec::new(),
        }
    }

    /// Whether the image may be used (allowed or warned).
    pub fn is_allowed(&self) -> bool {
        self.outcome != Outcome::Denied
    }

    /// The reference as given.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The resolved digest that was evaluated (`None` when the image could not be resolved).
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Allowed, denied or warned.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// sha256 of the policy source.
    pub fn policy(&self) -> &Digest {
        &self.policy
    }

    /// Evaluation time (RFC 3339, UTC).
    pub fn evaluated_at(&self) -> &str {
        &self.evaluated_at
    }

    /// Rules that applied, in policy order.
    pub fn rules(&self) -> &[RuleDecision] {
        &self.rules
    }

    /// The main reason for a denied or warned outcome (first failing enforce/warn
    /// requirement, or `no-matching-rule` / `registry-error`).
    pub fn reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    /// Warnings (failed `warn` rules, `noMatch: warn`, failed `audit` rules).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl RuleDecision {
    /// Rule name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether every requirement was met.
    pub fn met(&self) -> bool {
        self.met
    }

    /// Per requirement.
    pub fn requirements(&self) -> &[RequirementDecision] {
        &self.requirements
    }
}

impl RequirementDecision {
    /// What was required, e.g. `signatures: anyOf(release-key, 2 of [alice, bob, carol])`.
    pub fn requirement(&self) -> &str {
        &self.requirement
    }

    /// Whether it was met.
    pub fn met(&self) -> bool {
        self.met
    }

    /// The evidence that met it (also partial evidence when it was not met).
    pub fn evidence(&self) -> &[EvidenceRecord] {
        &self.evidence
    }

    /// Why it failed (`None` when met).
    pub fn reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    /// Further findings (other failed branches, other candidate attestations, notes).
    pub fn details(&self) -> &[Reason] {
        &self.details
    }

    /// Warnings from this requirement (copied into the decision's warnings, prefixed).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// For an attestation requirement: which attestation(s) decided, and why.
    pub fn selection(&self) -> Option<&Selection> {
        self.selection.as_ref()
    }
}

/// Renders decisions as a compact, colourless table: one line per image, then one indented
/// line per failed requirement (and per warning).
///
/// ```text
/// IMAGE                              DIGEST        OUTCOME  RULES     REASON
/// registry.acme.io/payments/api:v1   sha256:1a2b3c4d5e6f  denied   payments  threshold-not-met: …
/// ```
pub fn render_table(decisions: &[Decision]) -> String {
    let rows: Vec<[String; 5]> = decisions
        .iter()
        .map(|d| {
            let digest = d
                .digest
                .as_ref()
                .map_or_else(|| "-".to_owned(), |d| format!("sha256:{}", &d.hex()[..12]));
            let rules = if d.rules.is_empty() {
                "-".to_string()
            } else {
                d.rules
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let reason = d
                .reason
                .as_ref()
                .map(|r| format!("{}: {}", r.code, r.message))
                .unwrap_or_else(|| "-".into());
            [
                d.reference.clone(),
                digest,
                d.outcome.as_str().to_string(),
                rules,
                reason,
            ]
        })
        .collect();
    let header = ["IMAGE", "DIGEST", "OUTCOME", "RULES", "REASON"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: [&str; 5], out: &mut String| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 4 {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                let pad = widths[i] - cell.chars().count() + 2;
                text.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header, &mut out);
    for (d, row) in decisions.iter().zip(rows.iter()) {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]], &mut out);
        for rule in &d.rules {
            for req in rule.requirements.iter().filter(|r| !r.met) {
                if let Some(reason) = &req.reason {
                    out.push_str(&format!(
                        "  ✗ [{}/{}] {}: {} ({})\n",
                        rule.name,
                        mode_word(rule.mode),
                        req.requirement,
                        reason.code,
                        reason.message
                    ));
                }
            }
        }
        for w in &d.warnings {
            out.push_str(&format!("  ! {w}\n"));
        }
    }
    out
}

fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Audit => "audit",
        Mode::Enforce => "enforce",
        Mode::Warn => "warn",
    }
}
