//! Evaluation: a validated [`Policy`] plus already-verified [`Evidence`] → [`Decision`].
//!
//! The caller (the verifier glue) resolves the image, runs crypto verification for each
//! authority returned by [`Policy::authorities_needed`], and fills [`Evidence`]. This module
//! re-checks what it can cheaply (subject digest, key fingerprint, certificate identity,
//! signature format) and fails closed on anything missing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::decision::{
    Candidate, Decision, EvidenceRecord, Outcome, Reason, ReasonCode, RequirementDecision,
    RuleDecision, Selection, SignerSummary,
};
use super::glob::NormalisedImage;
use super::model::{
    AttestationRequirement, Authority, AuthorityExpr, Mode, NoMatch, Policy, Rule, Select,
    SignatureFormat, StaticAction,
};
use super::select::AttestationTime;
use crate::format::digest::Digest;
use crate::format::reference::ImageRef;
use crate::verify::proof::{Signer, Source, VerifiedAttestation, VerifiedSignature};

/// The image being decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The reference as the user gave it (tag or digest form), parsed.
    pub reference: ImageRef,
    /// The resolved manifest digest that was verified.
    pub digest: Digest,
}

/// Why a candidate signature or attestation was rejected during verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `signature-invalid`, `identity-mismatch`, `digest-mismatch`, ...
    pub code: ReasonCode,
    /// One line, e.g. `layer 0 of sha256:…: ECDSA signature does not verify`.
    pub message: String,
}

/// A Notation signature that verified for an image under a `notation` authority.
#[derive(Debug, Clone)]
pub struct NotationEvidence {
    /// The manifest digest the signature's payload descriptor binds.
    pub image: Digest,
    /// The proof.
    pub verified: crate::notation::VerifiedNotation,
}

/// What verified (and what was rejected) under one policy authority.
#[derive(Debug, Clone, Default)]
pub struct AuthorityEvidence {
    /// Notation signatures that verified under a `notation` authority.
    pub notation: Vec<NotationEvidence>,
    /// Signatures over the image that verified with this authority's key or identity.
    pub signatures: Vec<VerifiedSignature>,
    /// Attestations about the image that verified with this authority.
    pub attestations: Vec<VerifiedAttestation>,
    /// Candidates that failed, with why (used for reasons when nothing verified).
    pub rejected: Vec<Rejection>,
}

/// Everything the engine needs for one image.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The image.
    pub image: ImageInfo,
    /// Authority name → what verified under it.
    pub by_authority: BTreeMap<String, AuthorityEvidence>,
    /// Sources of signatures/attestations that could not be read (`registry-error`, or
    /// `timeout` past a deadline). Non-empty means evidence may be incomplete: a requirement
    /// met by what was read stays met (with a warning); an unmet one fails with this code
    /// instead of "unsigned".
    pub discovery_errors: Vec<Reason>,
}

impl Evidence {
    /// Evidence with nothing verified yet, for `reference` resolved to `digest`.
    pub fn new(reference: ImageRef, digest: Digest) -> Self {
        Self {
            image: ImageInfo { reference, digest },
            by_authority: BTreeMap::new(),
            discovery_errors: Vec::new(),
        }
    }
}

/// Evaluates the policy for one image. `now` is injected (scan ages, `evaluatedAt`).
pub fn evaluate(policy: &Policy, evidence: &Evidence, now: SystemTime) -> Decision {
    let image = NormalisedImage::new(&evidence.image.reference)
        .with_digest(&evidence.image.digest.to_string());
    let rules = policy.rules_for_image(&image);
    let evaluated_at = chrono::DateTime::<chrono::Utc>::from(now)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut decision = Decision {
        reference: evidence.image.reference.to_string(),
        digest: Some(evidence.image.digest.clone()),
        outcome: Outcome::Allowed,
        policy: policy.hash(),
        evaluated_at,
        rules: Vec::new(),
        reason: None,
        warnings: Vec::new(),
        trust_roots: Vec::new(),
    };
    if rules.is_empty() {
        let reason = Reason::new(
            ReasonCode::NoMatchingRule,
            format!("no rule matches {}", image.repository),
        );
        match policy.no_match() {
            NoMatch::Allow => {}
            NoMatch::Warn => {
                decision.outcome = Outcome::Warned;
                decision.warnings.push(reason.message.clone());
                decision.reason = Some(reason);
            }
            _ => {
                decision.outcome = Outcome::Denied;
                decision.reason = Some(reason);
            }
        }
        return decision;
    }
    let ctx = Ctx {
        policy,
        evidence,
        image: &image,
        now,
    };
    let mut denied: Option<Reason> = None;
    let mut warned: Option<Reason> = None;
    for rule in rules {
        let result = ctx.rule(rule);
        if !result.met {
            let first = result
                .requirements
                .iter()
                .find_map(|r| r.reason.clone())
                .unwrap_or_else(|| Reason::new(ReasonCode::NoSignatures, "requirement not met"));
            let described =
                Reason::new(first.code, format!("rule {}: {}", rule.name, first.message));
            match rule.mode {
                Mode::Enforce => {
                    denied.get_or_insert(described);
                }
                Mode::Warn => {
                    decision.warnings.push(described.message.clone());
                    warned.get_or_insert(described);
                }
                _ => decision
                    .warnings
                    .push(format!("audit: {}", described.message)),
            }
        }
        for req in &result.requirements {
            decision.warnings.extend(
                req.warnings
                    .iter()
                    .map(|w| format!("rule {}: {}: {w}", rule.name, req.requirement)),
            );
        }
        decision.rules.push(result);
    }
    // Evidence read from the other sources was used; say which source could not be read.
    for e in &evidence.discovery_errors {
        decision
            .warnings
            .push(format!("{}: could not read {}", e.code, e.message));
    }
    if let Some(reason) = denied {
        decision.outcome = Outcome::Denied;
        decision.reason = Some(reason);
    } else if let Some(reason) = warned {
        decision.outcome = Outcome::Warned;
        decision.reason = Some(reason);
    }
    decision
}

/// Result of evaluating an authority expression.
struct ExprResult {
    met: bool,
    evidence: Vec<EvidenceRecord>,
    /// Distinct signer identities behind the evidence (for thresholds).
    identities: BTreeSet<String>,
    reason: Option<Reason>,
    details: Vec<Reason>,
}

impl ExprResult {
    fn unmet(reason: Reason) -> Self {
        Self {
            met: false,
            evidence: Vec::new(),
            identities: BTreeSet::new(),
            reason: Some(reason),
            details: Vec::new(),
        }
    }
}

struct Ctx<'a> {
    policy: &'a Policy,
    evidence: &'a Evidence,
    image: &'a NormalisedImage,
    now: SystemTime,
}

fn identity_key(signer: &Signer) -> String {
    match signer {
        Signer::Key { fingerprint } => format!("key:{fingerprint}"),
        Signer::Certificate {
            identity, issuer, ..
        } => format!("cert:{issuer}|{identity}"),
    }
}

fn format_allows(format: SignatureFormat, source: &Source) -> bool {
    !matches!(
        (format, source),
        (SignatureFormat::Legacy, Source::Bundle { .. })
            | (SignatureFormat::Bundle, Source::LegacyLayer { .. })
    )
}

impl Ctx<'_> {
    /// The code an unmet requirement gets when evidence is incomplete: `timeout` when a
    /// deadline cut discovery short, else `registry-error`; `None` when nothing failed.
    fn discovery_code(&self) -> Option<ReasonCode> {
        let errors = &self.evidence.discovery_errors;
        if errors.iter().any(|e| e.code == ReasonCode::Timeout) {
            Some(ReasonCode::Timeout)
        } else if errors.is_empty() {
            None
        } else {
            Some(ReasonCode::RegistryError)
        }
    }

    fn discovery_messages(&self) -> String {
        let messages: Vec<&str> = self
            .evidence
            .discovery_errors
            .iter()
            .map(|e| e.message.as_str())
            .collect();
        messages.join("; ")
    }

    fn rule(&self, rule: &Rule) -> RuleDecision {
        let mut requirements = Vec::new();
        if let Some(expr) = &rule.signatures {
            let result = self.expr(expr, &|name| self.signature_leaf(name));
            let warnings = self.notation_logged(&result.evidence);
            requirements.push(RequirementDecision {
                requirement: format!("signatures: {expr}"),
                met: result.met,
                evidence: result.evidence,
                reason: if result.met { None } else { result.reason },
                details: result.details,
                warnings,
                selection: None,
            });
        }
        for att in &rule.attestations {
            requirements.push(self.attestation(att));
        }
        RuleDecision {
            name: rule.name.clone(),
            mode: rule.mode,
            met: requirements.iter().all(|r| r.met),
            requirements,
        }
    }

    /// Checks a verified item against its authority; `Err` is why it does not count.
    fn check_item(
        &self,
        name: &str,
        authority: &Authority,
        image: &Digest,
        signer: &Signer,
        source: &Source,
    ) -> Result<(), Reason> {
        if image != &self.evidence.image.digest {
            return Err(Reason::new(
                ReasonCode::DigestMismatch,
                format!(
                    "{name}: verified item is for {image}, not {}",
                    self.evidence.image.digest
                ),
            ));
        }
        if !format_allows(authority.signature_format(), source) {
            return Err(Reason::new(
                ReasonCode::NoSignatures,
                format!(
                    "{name}: found a signature in a format the authority does not accept ({})",
                    match authority.signature_format() {
                        SignatureFormat::Legacy => "legacy only",
                        SignatureFormat::Bundle => "bundle only",
                        SignatureFormat::Any => "any",
                    }
                ),
            ));
        }
        match (authority, signer) {
            (Authority::Key(key), Signer::Key { fingerprint }) => match &key.fingerprint {
                Some(expected) if expected != fingerprint => Err(Reason::new(
                    ReasonCode::IdentityMismatch,
                    format!("{name}: signed by key {fingerprint}, expected {expected}"),
                )),
                _ => Ok(()),
            },
            (Authority::Key(_), Signer::Certificate { identity, .. }) => Err(Reason::new(
                ReasonCode::IdentityMismatch,
                format!("{name}: signed by certificate {identity}, expected a key"),
            )),
            (Authority::Keyless(k), signer) => k
                .check_signer(signer)
                .map_err(|e| Reason::new(ReasonCode::IdentityMismatch, format!("{name}: {e}"))),
            (Authority::Static(_), _) => Err(Reason::new(
                ReasonCode::SignatureInvalid,
                format!("{name}: static authority cannot have signatures"),
            )),
            (Authority::Notation(_), _) => Err(Reason::new(
                ReasonCode::IdentityMismatch,
                format!("{name}: a notation authority accepts Notation signatures only"),
            )),
        }
    }

    fn missing_reason(
        &self,
        name: &str,
        what: &str,
        rejections: Vec<Reason>,
    ) -> (Reason, Vec<Reason>) {
        let mut details = rejections;
        if let Some(ev) = self.evidence.by_authority.get(name) {
            details.extend(
                ev.rejected
                    .iter()
                    .map(|r| Reason::new(r.code, format!("{name}: {}", r.message))),
            );
        }
        if let Some(code) = self.discovery_code() {
            let reason = Reason::new(
                code,
                format!(
                    "{name}: no verified {what}; discovery failed: {}",
                    self.discovery_messages()
                ),
            );
            return (reason, details);
        }
        if let Some(first) = details.first() {
            let reason = Reason::new(first.code, first.message.clone());
            return (reason, details);
        }
        (
            Reason::new(
                if what == "signatures" {
                    ReasonCode::NoSignatures
                } else {
                    ReasonCode::AttestationMissing
                },
                format!("{name}: no verified {what}"),
            ),
            details,
        )
    }

    fn static_leaf(&self, name: &str, action: StaticAction) -> ExprResult {
        match action {
            StaticAction::Pass => ExprResult {
                met: true,
                evidence: vec![EvidenceRecord {
                    authority: name.to_string(),
                    signer: SignerSummary::Static,
                    tlog: None,
                    source: None,
                    predicate_type: None,
                    attestation_digest: None,
                }],
                identities: BTreeSet::from([format!("static:{name}")]),
                reason: None,
                details: Vec::new(),
            },
            _ => ExprResult::unmet(Reason::new(
                ReasonCode::StaticFail,
                format!("{name}: static authority fails"),
            )),
        }
    }

    fn signature_leaf(&self, name: &str) -> ExprResult {
        let Some(authority) = self.policy.authority(name) else {
            return ExprResult::unmet(Reason::new(
                ReasonCode::NoSignatures,
                format!("{name}: unknown authority"),
            ));
        };
        if let Authority::Static(action) = authority {
            return self.static_leaf(name, *action);
        }
        if let Authority::Notation(_) = authority {
            return self.notation_leaf(name);
        }
        let mut accepted: Vec<&VerifiedSignature> = Vec::new();
        let mut rejections = Vec::new();
        if let Some(ev) = self.evidence.by_authority.get(name) {
            for sig in &ev.signatures {
                match self.check_item(name, authority, sig.image(), sig.signer(), sig.source()) {
                    Ok(()) => accepted.push(sig),
                    Err(reason) => rejections.push(reason),
                }
            }
        }
        if accepted.is_empty() {
            let (reason, details) = self.missing_reason(name, "signatures", rejections);
            return ExprResult {
                details,
                ..ExprResult::unmet(reason)
            };
        }
        ExprResult {
            met: true,
            identities: accepted.iter().map(|s| identity_key(s.signer())).collect(),
            evidence: accepted
                .iter()
                .map(|s| EvidenceRecord {
                    authority: name.to_string(),
                    signer: SignerSummary::of(s.signer()),
                    tlog: s.tlog().cloned(),
                    source: Some(s.source().clone()),
                    predicate_type: None,
                    attestation_digest: None,
                })
                .collect(),
            reason: None,
            details: rejections,
        }
    }

    /// The validation failures a `notation` authority's level only logs, for the Notation
    /// signatures that count as evidence (so a permissive policy says what it let through).
    fn notation_logged(&self, evidence: &[EvidenceRecord]) -> Vec<String> {
        let mut out = Vec::new();
        for record in evidence {
            let SignerSummary::Notation { certificate, .. } = &record.signer else {
                continue;
            };
            let Some(ev) = self.evidence.by_authority.get(&record.authority) else {
                continue;
            };
            for n in ev
                .notation
                .iter()
                .filter(|n| n.verified.leaf_sha256() == certificate)
            {
                for f in n.verified.logged() {
                    out.push(format!(
                        "{}: Notation {} validation failed, logged only: {}",
                        record.authority,
                        f.check.as_str(),
                        f.reason
                    ));
                }
            }
        }
        out
    }

    /// A `notation` authority: met by a Notation signature verified for this digest; one
    /// distinct signer per leaf certificate.
    fn notation_leaf(&self, name: &str) -> ExprResult {
        let mut accepted = Vec::new();
        let mut rejections = Vec::new();
        if let Some(ev) = self.evidence.by_authority.get(name) {
            for n in &ev.notation {
                if n.image == self.evidence.image.digest {
                    accepted.push(&n.verified);
                } else {
                    rejections.push(Reason::new(
                        ReasonCode::DigestMismatch,
                        format!(
                            "{name}: Notation signature is for {}, not {}",
                            n.image, self.evidence.image.digest
                        ),
                    ));
                }
            }
        }
        if accepted.is_empty() {
            let (reason, details) = self.missing_reason(name, "Notation signatures", rejections);
            let reason = if reason.code == ReasonCode::AttestationMissing {
                Reason::new(ReasonCode::NoSignatures, reason.message)
            } else {
                reason
            };
            return ExprResult {
                details,
                ..ExprResult::unmet(reason)
            };
        }
        ExprResult {
            met: true,
            identities: accepted
                .iter()
                .map(|v| format!("notation:{}", v.leaf_sha256()))
                .collect(),
            evidence: accepted
                .iter()
                .map(|v| EvidenceRecord {
                    authority: name.to_string(),
                    signer: SignerSummary::Notation {
                        subject: v.signer().to_owned(),
                        certificate: v.leaf_sha256().to_owned(),
                        signing_scheme: v.signing_scheme().as_str().to_owned(),
                    },
                    tlog: None,
                    source: None,
                    predicate_type: None,
                    attestation_digest: None,
                })
                .collect(),
            reason: None,
            details: rejections,
        }
    }

    fn expr(&self, expr: &AuthorityExpr, leaf: &dyn Fn(&str) -> ExprResult) -> ExprResult {
        match expr {
            AuthorityExpr::Authority(name) => leaf(name),
            AuthorityExpr::AnyOf(children) => {
                let results: Vec<ExprResult> =
                    children.iter().map(|c| self.expr(c, leaf)).collect();
                combine(expr, results, false)
            }
            AuthorityExpr::AllOf(children) => {
                let results: Vec<ExprResult> =
                    children.iter().map(|c| self.expr(c, leaf)).collect();
                combine(expr, results, true)
            }
            AuthorityExpr::Threshold { count, of } => {
                let results: Vec<(String, ExprResult)> =
                    of.iter().map(|n| (n.clone(), leaf(n))).collect();
                let met_sets: Vec<(&str, &BTreeSet<String>)> = results
                    .iter()
                    .filter(|(_, r)| r.met)
                    .map(|(n, r)| (n.as_str(), &r.identities))
                    .collect();
                let distinct = max_distinct(&met_sets);
                let met_names: Vec<String> =
                    met_sets.iter().map(|(n, _)| (*n).to_string()).collect();
                let mut details: Vec<Reason> = Vec::new();
                let mut evidence = Vec::new();
                let mut identities = BTreeSet::new();
                for (_, r) in results {
                    if r.met {
                        evidence.extend(r.evidence);
                        identities.extend(r.identities);
                    } else if let Some(reason) = r.reason {
                        details.push(reason);
                    }
                    details.extend(r.details);
                }
                if distinct < met_names.len() {
                    details.push(Reason::new(
                        ReasonCode::ThresholdNotMet,
                        format!(
                            "authorities [{}] share signers: they count as {distinct} distinct signer(s)",
                            met_names.join(", ")
                        ),
                    ));
                }
                let met = distinct >= *count;
                ExprResult {
                    met,
                    evidence,
                    identities,
                    reason: (!met).then(|| {
                        Reason::new(
                            ReasonCode::ThresholdNotMet,
                            format!(
                                "{count} of [{}] required, {distinct} distinct signer(s) verified{}",
                                of.join(", "),
                                if met_names.is_empty() {
                                    String::new()
                                } else {
                                    format!(" ({})", met_names.join(", "))
                                }
                            ),
                        )
                    }),
                    details,
                }
            }
        }
    }

    fn attestation(&self, req: &AttestationRequirement) -> RequirementDecision {
        let label = format!("attestation {}", req.label());
        let names: Vec<&str> = match &req.signed_by {
            Some(expr) => expr.names().into_iter().collect(),
            None => self.policy.authorities().map(|(n, _)| n).collect(),
        };
        // Group verified attestations by statement content: the same statement signed by
        // several authorities is one document with several signers.
        struct Group<'e> {
            statement_digest: Digest,
            attestations: Vec<(&'e str, &'e VerifiedAttestation)>,
        }
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut rejections = Vec::new();
        let mut other_types = BTreeSet::new();
        for name in &names {
            let Some(authority) = self.policy.authority(name) else {
                continue;
            };
            let Some((key, ev)) = self.evidence.by_authority.get_key_value(*name) else {
                continue;
            };
            for att in &ev.attestations {
                if !req.accepts_type(att.predicate_type()) {
                    other_types.insert(att.predicate_type().to_string());
                    continue;
                }
                if let Err(reason) =
                    self.check_item(name, authority, att.image(), att.signer(), att.source())
                {
                    rejections.push(reason);
                    continue;
                }
                // The signed statement bytes: the same statement signed by several
                // authorities is the same bytes.
                let digest = Digest::of(att.statement_json());
                match groups.iter_mut().find(|g| g.statement_digest == digest) {
                    Some(g) => g.attestations.push((key.as_str(), att)),
                    None => groups.push(Group {
                        statement_digest: digest,
                        attestations: vec![(key.as_str(), att)],
                    }),
                }
            }
        }
        if groups.is_empty() {
            let mut details = rejections;
            for name in &names {
                if let Some(ev) = self.evidence.by_authority.get(*name) {
                    details.extend(
                        ev.rejected
                            .iter()
                            .map(|r| Reason::new(r.code, format!("{name}: {}", r.message))),
                    );
                }
            }
            let code = self
                .discovery_code()
                .unwrap_or(ReasonCode::AttestationMissing);
            let mut message = format!(
                "no verified attestation of type {} signed by [{}]",
                req.types_text(),
                names.join(", ")
            );
            if !self.evidence.discovery_errors.is_empty() {
                message.push_str(&format!(
                    "; discovery failed: {}",
                    self.discovery_messages()
                ));
            }
            if !other_types.is_empty() {
                details.push(Reason::new(
                    ReasonCode::AttestationMissing,
                    format!(
                        "attestations of other types were found: {}",
                        other_types.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            return RequirementDecision {
                requirement: label,
                met: false,
                evidence: Vec::new(),
                reason: Some(Reason::new(code, message)),
                details,
                warnings: Vec::new(),
                selection: None,
            };
        }
        // Candidates: the groups that meet `signedBy`, with their time and check result.
        struct Cand<'e> {
            short: String,
            predicate_type: &'e str,
            evidence: Vec<EvidenceRecord>,
            time: AttestationTime,
            /// `Ok`: passed, with what the checks could not judge; `Err`: why it failed.
            result: Result<Vec<String>, Reason>,
        }
        let mut signed_by_failures: Vec<Reason> = Vec::new();
        let mut cands: Vec<Cand<'_>> = Vec::new();
        for group in &groups {
            let short = group.statement_digest.hex()[..12].to_string();
            let records: Vec<EvidenceRecord> = group
                .attestations
                .iter()
                .map(|(name, att)| EvidenceRecord {
                    authority: (*name).to_string(),
                    signer: SignerSummary::of(att.signer()),
                    tlog: att.tlog().cloned(),
                    source: Some(att.source().clone()),
                    predicate_type: Some(att.predicate_type().to_string()),
                    attestation_digest: Some(Digest::of(att.envelope())),
                })
                .collect();
            let mut evidence = records.clone();
            if let Some(expr) = &req.signed_by {
                let signers: BTreeMap<&str, Vec<&EvidenceRecord>> = group
                    .attestations
                    .iter()
                    .zip(records.iter())
                    .fold(BTreeMap::new(), |mut m, ((name, _), rec)| {
                        m.entry(*name).or_insert_with(Vec::new).push(rec);
                        m
                    });
                let identities: BTreeMap<&str, BTreeSet<String>> =
                    group
                        .attestations
                        .iter()
                        .fold(BTreeMap::new(), |mut m, (name, att)| {
                            m.entry(*name)
                                .or_insert_with(BTreeSet::new)
                                .insert(identity_key(att.signer()));
                            m
                        });
                let leaf = |name: &str| -> ExprResult {
                    if let Some(Authority::Static(action)) = self.policy.authority(name) {
                        return self.static_leaf(name, *action);
                    }
                    match signers.get(name) {
                        Some(recs) => ExprResult {
                            met: true,
                            evidence: recs.iter().map(|r| (*r).clone()).collect(),
                            identities: identities.get(name).cloned().unwrap_or_default(),
                            reason: None,
                            details: Vec::new(),
                        },
                        None => ExprResult::unmet(Reason::new(
                            ReasonCode::AttestationMissing,
                            format!("{name}: did not sign attestation {short}"),
                        )),
                    }
                };
                let result = self.expr(expr, &leaf);
                if !result.met {
                    let reason = result.reason.unwrap_or_else(|| {
                        Reason::new(ReasonCode::AttestationMissing, "signedBy not met")
                    });
                    signed_by_failures.push(Reason::new(
                        reason.code,
                        format!("attestation {short}: signedBy {expr}: {}", reason.message),
                    ));
                    continue;
                }
                evidence = result.evidence;
            }
            let Some(&(_, att)) = group.attestations.first() else {
                continue;
            };
            cands.push(Cand {
                short,
                predicate_type: att.predicate_type(),
                evidence,
                time: super::select::attestation_time(att),
                result: self.content_checks(req, att),
            });
        }
        if cands.is_empty() {
            let mut details = signed_by_failures;
            let reason = if details.is_empty() {
                Reason::new(
                    ReasonCode::AttestationMissing,
                    "no attestation met the requirement",
                )
            } else {
                details.remove(0)
            };
            return RequirementDecision {
                requirement: label,
                met: false,
                evidence: Vec::new(),
                reason: Some(reason),
                details,
                warnings: Vec::new(),
                selection: None,
            };
        }
        let n = cands.len();
        let time_text = |c: &Cand<'_>| -> String {
            match c.time.at {
                Some(at) => format!(
                    "{} {}",
                    c.time.from,
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                None => "no time stated, ordered as the oldest".to_string(),
            }
        };
        // Which candidates decide, and why.
        let (deciders, why): (Vec<usize>, String) = match req.select {
            Select::Any => match cands.iter().position(|c| c.result.is_ok()) {
                Some(i) => (
                    vec![i],
                    format!(
                        "any: attestation {} passes ({n} candidate(s))",
                        cands[i].short
                    ),
                ),
                None => (
                    (0..n).collect(),
                    format!("any: none of {n} candidate(s) passes"),
                ),
            },
            Select::All => (
                (0..n).collect(),
                format!("all: every one of {n} candidate(s) must pass"),
            ),
            Select::Newest => {
                let newest = cands.iter().map(|c| c.time.at).max().flatten();
                let tied: Vec<usize> = (0..n).filter(|&i| cands[i].time.at == newest).collect();
                let why = match (newest, tied.as_slice()) {
                    (Some(_), [one]) => format!(
                        "newest: attestation {} is the newest of {n} ({})",
                        cands[*one].short,
                        time_text(&cands[*one])
                    ),
                    (Some(at), _) => format!(
                        "newest: {} of {n} candidates tie as the newest ({}); all of them must pass",
                        tied.len(),
                        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                    (None, [one]) => format!(
                        "newest: attestation {} states no time (no document time, no transparency-log entry) and is the only candidate",
                        cands[*one].short
                    ),
                    (None, _) => format!(
                        "newest: none of {n} candidates states a time (no document time, no transparency-log entry); all tie as the oldest and must pass"
                    ),
                };
                (tied, why)
            }
        };
        let met = deciders.iter().all(|&i| cands[i].result.is_ok());
        let mut warnings = Vec::new();
        let mut details = signed_by_failures;
        let mut reason = None;
        let mut evidence = Vec::new();
        for &i in &deciders {
            match &cands[i].result {
                Ok(w) if met => {
                    warnings.extend(w.iter().cloned());
                    evidence.extend(cands[i].evidence.iter().cloned());
                }
                Ok(_) => {}
                Err(r) => {
                    let r = Reason::new(
                        r.code,
                        format!("attestation {}: {}", cands[i].short, r.message),
                    );
                    if reason.is_none() {
                        reason = Some(r);
                    } else {
                        details.push(r);
                    }
                }
            }
        }
        let why_not = match req.select {
            Select::Newest => "a newer attestation decides under select: newest",
            Select::Any => "another attestation passes and select: any needs only one",
            Select::All => "",
        };
        for (i, c) in cands.iter().enumerate() {
            if deciders.contains(&i) {
                continue;
            }
            if let Err(r) = &c.result {
                warnings.push(format!(
                    "attestation {} ({}, {}) fails its checks but does not decide ({why_not}): {}: {}",
                    c.short,
                    c.predicate_type,
                    time_text(c),
                    r.code,
                    r.message
                ));
            }
        }
        let summary = |c: &Cand<'_>| Candidate {
            statement: format!("sha256:{}", c.short),
            predicate_type: c.predicate_type.to_string(),
            time: c
                .time
                .at
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            time_from: c.time.from.to_string(),
            passed: c.result.is_ok(),
            reason: c.result.as_ref().err().cloned(),
        };
        let selection = Selection {
            select: req.select,
            why,
            decided_by: deciders.iter().map(|&i| summary(&cands[i])).collect(),
            others: (0..n)
                .filter(|i| !deciders.contains(i))
                .map(|i| summary(&cands[i]))
                .collect(),
        };
        RequirementDecision {
            requirement: label,
            met,
            evidence,
            reason: if met {
                None
            } else {
                Some(reason.unwrap_or_else(|| {
                    Reason::new(
                        ReasonCode::AttestationMissing,
                        "no attestation met the requirement",
                    )
                }))
            },
            details,
            warnings,
            selection: Some(selection),
        }
    }

    /// Run the requirement's content checks on `att`: `Ok` with what could not be judged
    /// (license texts that are not SPDX expressions, when licenses are denied), or why it
    /// failed.
    fn content_checks(
        &self,
        req: &AttestationRequirement,
        att: &VerifiedAttestation,
    ) -> Result<Vec<String>, Reason> {
        // The built-in checks read their fields straight from the statement bytes; only a
        // CEL condition gets a DOM of the predicate, within max_predicate_dom_bytes.
        let statement = att.statement_json();
        let mut warnings = Vec::new();
        if let Some(check) = &req.sbom {
            let report = super::sbom::check_sbom_verified(check, att)?;
            if let Some(reason) = report.reason() {
                return Err(reason);
            }
            if !check.denied_licenses.is_empty() && !report.unparsed_licenses.is_empty() {
                const SHOWN: usize = 10;
                let texts: Vec<String> = report
                    .unparsed_licenses
                    .iter()
                    .take(SHOWN)
                    .map(|t| format!("{t:?}"))
                    .collect();
                let more = report.unparsed_licenses.len().saturating_sub(SHOWN);
                warnings.push(format!(
                    "SBOM: {} license text(s) are not SPDX expressions and were not judged \
                     against deniedLicenses: {}{}",
                    report.unparsed_licenses.len(),
                    texts.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        if let Some(check) = &req.vulnerabilities {
            let report = super::vuln::check_vulnerabilities_verified(check, att, self.now)?;
            if let Some(reason) = report.reason() {
                return Err(reason);
            }
        }
        if let Some(condition) = &req.condition {
            let image = super::cel::image_value(
                &self.evidence.image.reference.to_string(),
                &self.evidence.image.digest,
                self.image,
            );
            // The DOM of the statement, within the limit (fails closed).
            let limit = crate::limits::Limits::DEFAULT.max_predicate_dom_bytes;
            if statement.len() as u64 > limit {
                return Err(Reason::new(
                    ReasonCode::ConditionError,
                    format!(
                        "condition not evaluated: the statement is {} bytes, over the limit of {limit} bytes for reading its whole predicate (max_predicate_dom_bytes)",
                        statement.len()
                    ),
                ));
            }
            let statement_value: serde_json::Value =
                serde_json::from_slice(statement).map_err(|e| {
                    Reason::new(
                        ReasonCode::ConditionError,
                        format!("condition not evaluated: the statement cannot be read: {e}"),
                    )
                })?;
            let predicate = statement_value
                .get("predicate")
                .unwrap_or(&serde_json::Value::Null);
            match super::cel::evaluate_condition(
                condition,
                predicate,
                &statement_value,
                &image,
                super::cel::DEFAULT_BUDGET,
            ) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Reason::new(
                        ReasonCode::ConditionFalse,
                        format!("condition is false: {condition}"),
                    ));
                }
                Err(e) => {
                    return Err(Reason::new(
                        ReasonCode::ConditionError,
                        format!("condition failed to evaluate: {e}"),
                    ));
                }
            }
        }
        Ok(warnings)
    }
}

/// Combines anyOf (`all = false`) / allOf (`all = true`) children.
fn combine(expr: &AuthorityExpr, results: Vec<ExprResult>, all: bool) -> ExprResult {
    let met = if all {
        results.iter().all(|r| r.met)
    } else {
        results.iter().any(|r| r.met)
    };
    let mut evidence = Vec::new();
    let mut identities = BTreeSet::new();
    let mut details = Vec::new();
    let mut unmet: Vec<Reason> = Vec::new();
    for r in results {
        if r.met {
            evidence.extend(r.evidence);
            identities.extend(r.identities);
        } else if let Some(reason) = r.reason {
            unmet.push(reason);
        }
        details.extend(r.details);
    }
    let reason = if met {
        None
    } else if all {
        unmet.first().cloned()
    } else {
        let code = match unmet.first() {
            Some(first) if unmet.iter().all(|r| r.code == first.code) => first.code,
            Some(first) => first.code,
            None => ReasonCode::NoSignatures,
        };
        Some(Reason::new(
            code,
            format!(
                "none of {expr} met: {}",
                unmet
                    .iter()
                    .map(|r| r.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ))
    };
    if !met {
        details.extend(unmet.into_iter().skip(usize::from(all)));
    }
    ExprResult {
        met,
        evidence,
        identities,
        reason,
        details,
    }
}

/// Maximum number of authorities that can each be credited with a different signer
/// (bipartite matching): the same key registered under two names counts once.
fn max_distinct(sets: &[(&str, &BTreeSet<String>)]) -> usize {
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    fn augment<'a>(
        i: usize,
        sets: &[(&str, &'a BTreeSet<String>)],
        seen: &mut BTreeSet<&'a str>,
        owner: &mut BTreeMap<&'a str, usize>,
    ) -> bool {
        for id in sets[i].1.iter() {
            if seen.insert(id.as_str()) {
                let free = match owner.get(id.as_str()) {
                    None => true,
                    Some(&j) => augment(j, sets, seen, owner),
                };
                if free {
                    owner.insert(id.as_str(), i);
                    return true;
                }
            }
        }
        false
    }
    let mut count = 0;
    for i in 0..sets.len() {
        let mut seen = BTreeSet::new();
        if augment(i, sets, &mut seen, &mut owner) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "eval_tests.rs"]
mod tests;
