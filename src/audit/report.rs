//! Verifying the image uses of a manifest set and summarising what enforcing would deny.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::manifest::{ImageUse, Manifests};
use crate::format::digest::Digest;
use crate::format::reference::ImageRef;
use crate::gate::Verifier;
use crate::policy::{Decision, Mode, Outcome, Policy, ReasonCode};

/// The reason code of an image reference that does not parse (the policy engine never sees
/// it; `verify --policy` denies it too).
pub const INVALID_REFERENCE: &str = "invalid-reference";

/// Most tags read from one repository for `imprint audit --repository` (the rest are left off
/// with a warning in the report's inputs).
pub const MAX_REPOSITORY_TAGS: usize = 10_000;

/// Tags asked for per page of the tag list API.
pub const TAG_PAGE_SIZE: usize = 1_000;

/// Add every tag of `repository` (a registry reference; a tag or digest on it is ignored) to
/// `manifests` as an image row `registry/path:tag` (cosign attachment tags skipped), at most `max` tags, read through
/// `verifier`'s client (so its requests are counted with the audit's). A truncated list adds a
/// warning to the inputs. Returns how many tags were added.
pub async fn add_repository(
    verifier: &Verifier,
    manifests: &mut Manifests,
    repository: &str,
    max: usize,
    page: usize,
) -> Result<usize, crate::store::RegistryError> {
    let image = ImageRef::parse(repository).map_err(|e| crate::store::RegistryError::Config {
        message: format!("`{repository}` is not a repository reference: {e}"),
    })?;
    let ImageRef::Remote(remote) = &image else {
        return Err(crate::store::RegistryError::Config {
            message: format!("`{repository}` is an OCI layout, not a registry repository"),
        });
    };
    let before = verifier.registry_requests();
    let listed = verifier.client().list_tags(&image, max, page).await;
    manifests.registry_requests += verifier.registry_requests().saturating_sub(before);
    let list = listed?;
    let name = format!("{}/{}", remote.registry(), remote.repository());
    let mut added = 0;
    for tag in list.tags.iter().filter(|t| !is_attachment_tag(t)) {
        manifests.add_image(&format!("{name}:{tag}"));
        added += 1;
    }
    if list.truncated {
        manifests.warnings.push(format!(
            "repository `{name}`: only the first {max} tags were audited (the tag list has more)"
        ));
    }
    Ok(added)
}

/// Whether `tag` is a cosign attachment tag (`sha256-<64 hex>.sig`, `.att`, `.sbom`) rather
/// than an image: skipped by [`add_repository`].
pub fn is_attachment_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let Some((hex, suffix)) = rest.split_once('.') else {
        return false;
    };
    hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(suffix, "sig" | "att" | "sbom")
}

/// The outcome of one row. Verdicts (`allowed`, `warned`, `denied`) are kept apart from
/// infrastructure (`error`): an image the registry would not show is not an unsigned image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RowOutcome {
    /// Every enforced and warned requirement was met.
    Allowed,
    /// Allowed, with a failed `warn` rule (or `noMatch: warn`).
    Warned,
    /// The policy denies it: unsigned, wrong signer, failed attestation checks, no matching
    /// rule under `noMatch: deny`, an unparsable reference.
    Denied,
    /// It could not be checked: the decision was a denial for `registry-error` or `timeout`
    /// (registry unreachable, rate limited, authentication failed, deadline passed), or every
    /// `enforce` rule that failed did so only because evidence could not be read.
    Error,
}

impl RowOutcome {
    /// Lower-case word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Warned => "warned",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }

    fn of(decision: &Decision) -> Self {
        match decision.outcome() {
            Outcome::Allowed => Self::Allowed,
            Outcome::Warned => Self::Warned,
            _ if decision.reason().is_some_and(|r| is_infrastructure(r.code)) => Self::Error,
            _ => Self::Denied,
        }
    }
}

/// Whether `code` says "could not check" rather than "checked and failed".
pub fn is_infrastructure(code: ReasonCode) -> bool {
    matches!(code, ReasonCode::RegistryError | ReasonCode::Timeout)
}

/// Why a row was denied or warned: one failed requirement of one rule (or the decision's own
/// reason when no rule applied), with the message the policy engine gave. Messages of
/// signature requirements begin with the authority they are about (`release: …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The policy rule (`None` for `noMatch`, registry errors before any rule, bad references).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// That rule's mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The requirement, e.g. `signatures: release`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// The reason code (`no-signatures`, `identity-mismatch`, `registry-error`, …).
    pub code: String,
    /// One line for humans.
    pub message: String,
    /// A further finding of the failure before it (another branch of an `anyOf`, an
    /// authority of a threshold), not a failure of its own.
    #[serde(skip_serializing_if = "is_false")]
    pub detail: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One (workload, slot, image) and what the policy said about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Where the image was named.
    #[serde(flatten)]
    pub source: ImageUse,
    /// The reference verified (canonical form); `None` when the image does not parse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The digest it resolved to (`None` when it could not be resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Whether it was written with a tag (not pinned by digest).
    pub by_tag: bool,
    /// The outcome.
    pub outcome: RowOutcome,
    /// The policy rules that applied to the image, in policy order.
    pub rules: Vec<String>,
    /// Reason codes: the decision's main reason first, then those of every failed
    /// requirement (each once).
    pub reasons: Vec<String>,
    /// Every failed requirement (and further findings of it), in policy order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
    /// Rules that failed for reasons other than infrastructure: with every mode `enforce`,
    /// each of these would deny.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_deny_rules: Vec<String>,
    /// Rules that failed only because evidence could not be read (`registry-error`,
    /// `timeout` in the reason or the details of every failed requirement): unknown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked_rules: Vec<String>,
    /// Whether it would be denied if every rule were `enforce`: denied now, or a rule failed
    /// for a reason other than infrastructure. An `error` row is not, unless such a rule also
    /// failed.
    pub would_deny: bool,
    /// The decision's warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Row {
    /// The namespace key used in summaries: the workload's namespace, `(unset)` when the
    /// manifest names none, `(image input)` for images given directly.
    pub fn namespace_key(&self) -> String {
        match &self.source.workload {
            Some(w) => w.namespace.clone().unwrap_or_else(|| "(unset)".to_owned()),
            None => "(image input)".to_owned(),
        }
    }
}

/// Per rule: how many rows it applied to and how many it failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReadiness {
    /// Its current mode.
    pub mode: Mode,
    /// Rows it applied to.
    pub rows: usize,
    /// Rows it failed for a reason other than infrastructure: denied under `enforce`.
    pub would_deny: usize,
    /// Rows where it failed because evidence could not be read (`registry-error`,
    /// `timeout`): unknown.
    pub unchecked: usize,
}

/// Per namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceReadiness {
    /// Rows.
    pub rows: usize,
    /// Rows denied now.
    pub denied: usize,
    /// Rows that would be denied with every rule `enforce`.
    pub would_deny: usize,
    /// Rows that could not be checked.
    pub error: usize,
}

/// What would be denied if every rule's mode were `enforce`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// Rows that would be denied.
    pub would_deny: usize,
    /// Rows that could not be checked (`error`): neither ready nor not.
    pub unchecked: usize,
    /// Rows warned because no rule matched under `noMatch: warn` (denied by `noMatch: deny`;
    /// not counted in `wouldDeny`, which is about rule modes).
    pub no_match_warned: usize,
    /// Per policy rule (every rule of the policy), by name.
    pub by_rule: BTreeMap<String, RuleReadiness>,
    /// Per namespace, by name.
    pub by_namespace: BTreeMap<String, NamespaceReadiness>,
}

/// Counts over the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Rows.
    pub rows: usize,
    /// Rows allowed.
    pub allowed: usize,
    /// Rows warned.
    pub warned: usize,
    /// Rows denied.
    pub denied: usize,
    /// Rows that could not be checked.
    pub error: usize,
    /// Distinct references verified (each once, however many rows name it).
    pub unique_images: usize,
    /// Distinct digests those resolved to.
    pub unique_digests: usize,
    /// HTTP requests sent to registries (pings, token fetches, retries included) by the
    /// audit: the verifications ([`Verifier::registry_requests`] before and after) and the
    /// `--repository` tag lists ([`Manifests::registry_requests`]). `None` only for summaries
    /// made without a verifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_requests: Option<u64>,
    /// The enforce-readiness summary.
    pub enforce_readiness: Readiness,
    /// Notes about what is not measured.
    pub notes: Vec<String>,
}

/// The policy the audit used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInfo {
    /// Where it was loaded from.
    pub origin: String,
    /// sha256 of its source.
    pub hash: Digest,
    /// Every rule, in policy order, with its mode.
    pub rules: Vec<RuleInfo>,
}

/// The Sigstore trust roots the audit's verifier used (header of every output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustRootInfo {
    /// One hash for all of them: the root's own hash when there is one, else sha256 over the
    /// lines `name hash` sorted by name.
    pub hash: Digest,
    /// Whether the policy uses none (key authorities only) and `hash` is that of the embedded
    /// public-good default, which keyless verification would use.
    pub default: bool,
    /// Each root, by name.
    pub roots: Vec<TrustRootEntry>,
}

/// One trust root of [`TrustRootInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustRootEntry {
    /// Its name in the policy (`public-good`, or a `spec.trustRoots` key).
    pub name: String,
    /// Where it came from.
    pub origin: String,
    /// sha256 of its `trusted_root.json` bytes.
    pub hash: Digest,
}

impl TrustRootInfo {
    /// The roots `verifier` loaded, or the embedded default when it loaded none (`None` when
    /// even that does not parse, which a build of imprint that passed its tests cannot do).
    pub fn of(verifier: &Verifier) -> Option<Self> {
        let mut roots: Vec<TrustRootEntry> = verifier
            .trust_roots()
            .map(|(name, r)| TrustRootEntry {
                name: name.to_owned(),
                origin: r.origin().to_owned(),
                hash: r.hash(),
            })
            .collect();
        let default = roots.is_empty();
        if default {
            let r = crate::trust::EmbeddedRoot::PublicGood.load().ok()?;
            roots.push(TrustRootEntry {
                name: crate::trust::EmbeddedRoot::PublicGood.name().to_owned(),
                origin: r.origin().to_owned(),
                hash: r.hash(),
            });
        }
        Some(Self {
            hash: combined_hash(&roots),
            default,
            roots,
        })
    }
}

fn combined_hash(roots: &[TrustRootEntry]) -> Digest {
    match roots {
        [one] => one.hash.clone(),
        _ => {
            let mut sorted: Vec<&TrustRootEntry> = roots.iter().collect();
            sorted.sort_by(|a, b| a.name.cmp(&b.name));
            let text: String = sorted
                .iter()
                .map(|r| format!("{} {}\n", r.name, r.hash))
                .collect();
            Digest::of(text.as_bytes())
        }
    }
}

/// A policy rule's name and mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// Rule name.
    pub name: String,
    /// Its mode.
    pub mode: Mode,
}

/// What was read (besides the image uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputSummary {
    /// Files read (stdin counts as one).
    pub files: usize,
    /// Documents read.
    pub documents: usize,
    /// Objects skipped, by `apiVersion kind`.
    pub skipped: BTreeMap<String, usize>,
    /// Warnings from reading (containers without image).
    pub warnings: Vec<String>,
}

/// The whole audit, serialised as `imprint audit -o json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The imprint version that made it.
    pub imprint_version: String,
    /// The policy.
    pub policy: PolicyInfo,
    /// The trust roots (`None` only if the embedded default does not parse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_root: Option<TrustRootInfo>,
    /// What was read.
    pub inputs: InputSummary,
    /// One row per image use, in input order.
    pub rows: Vec<Row>,
    /// Counts and enforce readiness.
    pub summary: Summary,
}

impl Report {
    /// Whether any row is denied.
    pub fn any_denied(&self) -> bool {
        self.summary.denied > 0
    }

    /// Whether any row could not be checked.
    pub fn any_error(&self) -> bool {
        self.summary.error > 0
    }
}

/// Verify every image use of `manifests` with `verifier`: each distinct reference once,
/// concurrently ([`Verifier::verify_all`]), results fanned back out to the rows.
pub async fn audit(verifier: &Verifier, manifests: Manifests) -> Report {
    audit_with_progress(verifier, manifests, |_, _| {}).await
}

/// [`audit`], calling `progress(done, total)` each time one of the `total` distinct images
/// has been decided (from the verifying tasks: keep it quick), e.g. to draw a progress line.
pub async fn audit_with_progress(
    verifier: &Verifier,
    manifests: Manifests,
    progress: impl Fn(usize, usize) + Send + Sync + 'static,
) -> Report {
    let Manifests {
        uses,
        files,
        documents,
        skipped,
        warnings,
        registry_requests: input_requests,
    } = manifests;
    // Distinct references, in first-use order.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut unique: Vec<ImageRef> = Vec::new();
    let parsed: Vec<Result<(ImageRef, usize), String>> = uses
        .iter()
        .map(|u| match ImageRef::parse(&u.image) {
            Ok(r) => {
                let key = r.to_string();
                let i = *index.entry(key).or_insert_with(|| {
                    unique.push(r.clone());
                    unique.len() - 1
                });
                Ok((r, i))
            }
            Err(e) => Err(e.to_string()),
        })
        .collect();
    let requests_before = verifier.registry_requests();
    let total = unique.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let decisions = verifier
        .verify_all_with(&unique, move |_| {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, total);
        })
        .await;
    let requests = verifier.registry_requests().saturating_sub(requests_before);
    let rows: Vec<Row> = uses
        .into_iter()
        .zip(parsed)
        .map(|(source, parsed)| match parsed {
            Ok((r, i)) => match decisions.get(i) {
                Some(d) => row(source, &r, d),
                None => invalid(source, "no decision was made for it".to_owned()),
            },
            Err(e) => invalid(source, e),
        })
        .collect();
    let unique_digests = decisions
        .iter()
        .filter_map(Decision::digest)
        .collect::<BTreeSet<_>>()
        .len();
    let mut summary = summarise(verifier.policy(), &rows, unique.len(), unique_digests);
    summary.registry_requests = Some(requests + input_requests);
    Report {
        imprint_version: env!("CARGO_PKG_VERSION").to_owned(),
        policy: PolicyInfo {
            origin: verifier.policy().origin().to_owned(),
            hash: verifier.policy().hash(),
            rules: verifier
                .policy()
                .rules()
                .iter()
                .map(|r| RuleInfo {
                    name: r.name.clone(),
                    mode: r.mode,
                })
                .collect(),
        },
        trust_root: TrustRootInfo::of(verifier),
        inputs: InputSummary {
            files,
            documents,
            skipped,
            warnings,
        },
        rows,
        summary,
    }
}

fn invalid(source: ImageUse, message: String) -> Row {
    Row {
        source,
        reference: None,
        digest: None,
        by_tag: false,
        outcome: RowOutcome::Denied,
        rules: Vec::new(),
        reasons: vec![INVALID_REFERENCE.to_owned()],
        failures: vec![Failure {
            rule: None,
            mode: None,
            requirement: None,
            code: INVALID_REFERENCE.to_owned(),
            message,
            detail: false,
        }],
        would_deny_rules: Vec::new(),
        unchecked_rules: Vec::new(),
        would_deny: true,
        warnings: Vec::new(),
    }
}

fn row(source: ImageUse, image: &ImageRef, d: &Decision) -> Row {
    let mut reasons: Vec<String> = Vec::new();
    let mut push_code = |code: ReasonCode| {
        let code = code.as_str().to_owned();
        if !reasons.contains(&code) {
            reasons.push(code);
        }
    };
    if let Some(r) = d.reason() {
        push_code(r.code);
    }
    let mut failures = Vec::new();
    let mut would_deny_rules = Vec::new();
    let mut unchecked_rules = Vec::new();
    for rule in d.rules().iter().filter(|r| !r.met()) {
        // Unmet only because evidence could not be read: every unmet requirement has an
        // infrastructure code in its reason or its details (a threshold's own reason is
        // `threshold-not-met`; its authorities' `registry-error` are in the details).
        let mut unchecked = true;
        for req in rule.requirements().iter().filter(|r| !r.met()) {
            let mut tainted = false;
            let mut add = |code: ReasonCode, message: &str, detail: bool| {
                tainted |= is_infrastructure(code);
                failures.push(Failure {
                    rule: Some(rule.name().to_owned()),
                    mode: Some(rule.mode()),
                    requirement: Some(req.requirement().to_owned()),
                    code: code.as_str().to_owned(),
                    message: message.to_owned(),
                    detail,
                });
            };
            if let Some(reason) = req.reason() {
                push_code(reason.code);
                add(reason.code, &reason.message, false);
            }
            for detail in req.details() {
                add(detail.code, &detail.message, true);
            }
            unchecked &= tainted;
        }
        if unchecked {
            unchecked_rules.push(rule.name().to_owned());
        } else {
            would_deny_rules.push(rule.name().to_owned());
        }
    }
    // A reason that is not one of the rules' (no matching rule, unresolved image).
    if d.rules().is_empty()
        && let Some(r) = d.reason()
    {
        failures.push(Failure {
            rule: None,
            mode: None,
            requirement: None,
            code: r.code.as_str().to_owned(),
            message: r.message.clone(),
            detail: false,
        });
    }
    let mut outcome = RowOutcome::of(d);
    // Denied, but every enforce rule that failed could not be checked: not a verdict.
    let enforce_failed = |names: &[String]| {
        d.rules()
            .iter()
            .any(|r| !r.met() && r.mode() == Mode::Enforce && names.iter().any(|n| n == r.name()))
    };
    if outcome == RowOutcome::Denied
        && enforce_failed(&unchecked_rules)
        && !enforce_failed(&would_deny_rules)
    {
        outcome = RowOutcome::Error;
    }
    let would_deny = outcome == RowOutcome::Denied || !would_deny_rules.is_empty();
    Row {
        source,
        reference: Some(image.to_string()),
        digest: d.digest().cloned(),
        by_tag: image.digest().is_none(),
        outcome,
        rules: d.rules().iter().map(|r| r.name().to_owned()).collect(),
        reasons,
        failures,
        would_deny_rules,
        unchecked_rules,
        would_deny,
        warnings: d.warnings().to_vec(),
    }
}

fn summarise(
    policy: &Policy,
    rows: &[Row],
    unique_images: usize,
    unique_digests: usize,
) -> Summary {
    let mut s = Summary {
        rows: rows.len(),
        unique_images,
        unique_digests,
        registry_requests: None,
        ..Summary::default()
    };
    let r = &mut s.enforce_readiness;
    for rule in policy.rules() {
        r.by_rule.insert(
            rule.name.clone(),
            RuleReadiness {
                mode: rule.mode,
                ..RuleReadiness::default()
            },
        );
    }
    for row in rows {
        match row.outcome {
            RowOutcome::Allowed => s.allowed += 1,
            RowOutcome::Warned => s.warned += 1,
            RowOutcome::Denied => s.denied += 1,
            RowOutcome::Error => s.error += 1,
        }
        if row.would_deny {
            r.would_deny += 1;
        }
        if row.outcome == RowOutcome::Error {
            r.unchecked += 1;
        }
        if row.outcome == RowOutcome::Warned
            && row.reasons.first().map(String::as_str) == Some(ReasonCode::NoMatchingRule.as_str())
        {
            r.no_match_warned += 1;
        }
        let ns = r.by_namespace.entry(row.namespace_key()).or_default();
        ns.rows += 1;
        ns.denied += usize::from(row.outcome == RowOutcome::Denied);
        ns.error += usize::from(row.outcome == RowOutcome::Error);
        ns.would_deny += usize::from(row.would_deny);
        let failed: BTreeSet<&str> = row.would_deny_rules.iter().map(String::as_str).collect();
        let unchecked: BTreeSet<&str> = row.unchecked_rules.iter().map(String::as_str).collect();
        for name in &row.rules {
            if let Some(rr) = r.by_rule.get_mut(name) {
                rr.rows += 1;
                rr.would_deny += usize::from(failed.contains(name.as_str()));
                rr.unchecked += usize::from(unchecked.contains(name.as_str()));
            }
        }
    }
    s
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
