//! The validated policy model: authorities, authority expressions, rules, attestation
//! requirements and content checks, and [`Policy`] with its accessors. Built only by
//! [`super::load`]; everything here is already checked.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::glob::{ImagePattern, NormalisedImage};
use super::sbom::DeniedPackage;
use super::vuln::Severity;
use crate::format::digest::Digest;
use crate::format::reference::ImageRef;
pub use crate::store::discover::SignatureFormat;
pub use crate::trust::GithubClaims;
use crate::trust::{self, EmbeddedRoot, Matcher, TrustRootError};
use crate::verify::proof::Signer;

/// What happens to an image that no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NoMatch {
    /// Allow it.
    Allow,
    /// Deny it (the default).
    #[default]
    Deny,
    /// Allow it with a warning.
    Warn,
}

/// What a failing rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Mode {
    /// Failure is recorded only; it never changes the outcome.
    Audit,
    /// Failure denies the image (the default).
    #[default]
    Enforce,
    /// Failure allows the image with a warning (outcome `warned`).
    Warn,
}

/// Result of a `static` authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StaticAction {
    /// Always fails (reason `static-fail`).
    Fail,
    /// Always met, without looking at the registry.
    Pass,
}

/// How `OR` in a package's license expression is read by `deniedLicenses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum OrSemantics {
    /// `A OR B` lets the user choose: denied only if every choice needs a denied license
    /// (the default; this is what SPDX `OR` means).
    #[default]
    Choice,
    /// Denied if a denied license appears anywhere in the expression.
    AnyMention,
}

/// A named trust root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TrustRoot {
    /// A trust root compiled into imprint (`public-good`, `staging`).
    Embedded(EmbeddedRoot),
    /// A `trusted_root.json` file (resolved against the policy file's directory).
    File(PathBuf),
}

impl TrustRoot {
    /// Loads it (an embedded root is parsed once per process and shared). `public-good` is
    /// the TUF-cached root when `imprint trust-root update` has filled the cache
    /// ([`trust::tuf::default_root`]), else the embedded copy; the root's origin says which.
    pub fn load(&self) -> Result<Arc<trust::TrustRoot>, TrustRootError> {
        match self {
            Self::Embedded(EmbeddedRoot::PublicGood) => trust::tuf::default_root(),
            Self::Embedded(root) => root.load(),
            Self::File(path) => trust::TrustRoot::from_file(path).map(Arc::new),
        }
    }
}

/// Where a key authority's PEM came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum KeySource {
    /// Environment variable (read once, when the policy was loaded).
    Env(String),
    /// A file (resolved against the policy file's directory).
    File(PathBuf),
    /// Inline `pem:` in the policy.
    Inline,
}

/// A public key authority. The PEM is kept as given; `crate::keys` parses it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyAuthority {
    /// Where the PEM came from.
    pub source: KeySource,
    /// The PEM bytes.
    #[serde(skip)]
    pub pem: Vec<u8>,
    /// `sha256:<hex>` of the SubjectPublicKeyInfo DER (same as [`Signer::Key`]'s
    /// fingerprint), when the PEM is a `PUBLIC KEY` block.
    pub fingerprint: Option<String>,
    /// Accepted signature formats.
    pub signature_format: SignatureFormat,
}

/// A keyless (Fulcio certificate) authority.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeylessAuthority {
    /// Name of the trust root (`public-good` if not given); see [`Policy::trust_root`].
    pub trust_root: String,
    /// OIDC issuer (a regex matches unanchored, as in policy-controller).
    pub issuer: Matcher,
    /// Certificate identity (SAN; a regex matches unanchored, as in policy-controller).
    pub subject: Matcher,
    /// GitHub workflow claims.
    pub github: GithubClaims,
    /// Accepted signature formats.
    pub signature_format: SignatureFormat,
}

impl KeylessAuthority {
    /// Checks a verified signer against the identity constraints. `Err` says which field
    /// did not match.
    pub fn check_signer(&self, signer: &Signer) -> Result<(), String> {
        match signer {
            Signer::Certificate {
                identity,
                issuer,
                extensions,
            } => {
                if !self.issuer.matches(issuer) {
                    return Err(format!("issuer `{issuer}` does not match {}", self.issuer));
                }
                if !self.subject.matches(identity) {
                    return Err(format!(
                        "identity `{identity}` does not match {}",
                        self.subject
                    ));
                }
                self.github
                    .check_named(extensions)
                    .map_err(|m| m.to_string())?;
                Ok(())
            }
            Signer::Key { .. } => Err("signed with a key, not a certificate".into()),
        }
    }
}

/// One trust store of a [`NotationAuthority`]: `type:name` and where its certificates are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotationStore {
    /// `ca:<name>`, `signingAuthority:<name>` or `tsa:<name>`.
    pub store: String,
    /// A certificate file (PEM or DER) or a directory of them (resolved against the policy
    /// file's directory).
    pub path: PathBuf,
}

/// A Notary Project (Notation) signer: what one statement of Notation's `trustpolicy.json`
/// says (trust stores, trusted identities, verification level and overrides), verified by
/// [`crate::notation`]. The certificates are read when the policy is loaded; a store that
/// cannot be read makes `authenticity` fail at verification (and `policy lint` warns).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotationAuthority {
    /// The trust stores, as written.
    pub trust_stores: Vec<NotationStore>,
    /// `x509.subject: <DN>` entries, or `*`.
    pub trusted_identities: Vec<String>,
    /// `strict`, `permissive`, `audit` or `skip`.
    pub level: String,
    /// Per-check overrides, as written.
    pub overrides: BTreeMap<String, String>,
    /// `always` or `afterCertExpiry`.
    pub verify_timestamp: String,
    /// The statement [`crate::notation::verify_signature`] applies (scope `*`).
    #[serde(skip)]
    pub(super) statement: crate::notation::Statement,
    /// The certificates of the stores.
    #[serde(skip)]
    pub(super) stores: crate::notation::TrustStores,
}

impl NotationAuthority {
    /// The Notation trust policy statement this authority is.
    pub fn statement(&self) -> &crate::notation::Statement {
        &self.statement
    }

    /// The loaded trust stores.
    pub fn stores(&self) -> &crate::notation::TrustStores {
        &self.stores
    }

    /// Why a configured store is unusable (unreadable, empty, not a CA certificate), one
    /// line per store type that has a problem; empty when all load.
    pub fn store_problems(&self) -> Vec<String> {
        use crate::notation::trustpolicy::StoreType;
        [StoreType::Ca, StoreType::SigningAuthority, StoreType::Tsa]
            .into_iter()
            .filter_map(|kind| self.stores.certs(&self.statement.trust_stores, kind).err())
            .collect()
    }
}

/// A named signer the policy trusts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Authority {
    /// A public key.
    Key(KeyAuthority),
    /// A Fulcio certificate identity.
    Keyless(KeylessAuthority),
    /// Always passes or always fails, with no registry access.
    Static(StaticAction),
    /// A Notary Project (Notation) signer.
    Notation(NotationAuthority),
}

impl Authority {
    /// Accepted signature formats (`Any` for static authorities).
    pub fn signature_format(&self) -> SignatureFormat {
        match self {
            Self::Key(k) => k.signature_format,
            Self::Keyless(k) => k.signature_format,
            Self::Static(_) | Self::Notation(_) => SignatureFormat::Any,
        }
    }
}

/// An expression over authorities: `authority`, `anyOf`, `allOf`, `threshold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AuthorityExpr {
    /// Every child must be met.
    AllOf(Vec<Self>),
    /// At least one child must be met.
    AnyOf(Vec<Self>),
    /// A single named authority.
    Authority(String),
    /// At least `count` of the named authorities, counted by distinct signer.
    Threshold {
        /// How many.
        count: usize,
        /// Authority names (distinct).
        of: Vec<String>,
    },
}

impl AuthorityExpr {
    /// Every authority name the expression mentions.
    pub fn names(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names<'a>(&'a self, out: &mut BTreeSet<&'a str>) {
        match self {
            Self::Authority(name) => {
                out.insert(name);
            }
            Self::AnyOf(children) | Self::AllOf(children) => {
                children.iter().for_each(|c| c.collect_names(out));
            }
            Self::Threshold { of, .. } => out.extend(of.iter().map(String::as_str)),
        }
    }
}

impl fmt::Display for AuthorityExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Authority(name) => write!(f, "{name}"),
            Self::AnyOf(children) | Self::AllOf(children) => {
                let word = if matches!(self, Self::AnyOf(_)) {
                    "anyOf"
                } else {
                    "allOf"
                };
                let parts: Vec<String> = children.iter().map(ToString::to_string).collect();
                write!(f, "{word}({})", parts.join(", "))
            }
            Self::Threshold { count, of } => write!(f, "{count} of [{}]", of.join(", ")),
        }
    }
}

/// Built-in SBOM content check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomCheck {
    /// Denied licenses as written (SPDX expressions; every id in them is denied).
    pub denied_licenses: Vec<String>,
    /// The normalised SPDX ids (or `LicenseRef-…`) that are denied.
    pub denied_license_ids: BTreeSet<String>,
    /// Denied packages.
    pub denied_packages: Vec<DeniedPackage>,
    /// How `OR` is read.
    pub license_or: OrSemantics,
}

/// Built-in vulnerability report check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnCheck {
    /// Highest severity allowed (findings above it fail). `None`: no severity limit.
    pub max_severity: Option<Severity>,
    /// Maximum age of the scan.
    #[serde(serialize_with = "ser_opt_duration")]
    pub max_age: Option<Duration>,
    /// Vulnerability ids (CVE, GHSA, …) that never fail the check.
    pub ignore: BTreeSet<String>,
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&super::duration::format_duration(*d)),
        None => s.serialize_none(),
    }
}

/// Which verified attestations of a requirement's type decide whether it is met
/// (`select:`). Only attestations that meet `signedBy` are candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Select {
    /// The newest decides (the default): by the time the document states (scan time, SBOM
    /// creation time, provenance finish time), else the transparency-log time; an
    /// attestation without any time counts as the oldest. Several newest with the same time
    /// must all pass (fail closed).
    #[default]
    Newest,
    /// Every candidate must pass.
    All,
    /// One passing candidate is enough (failing ones are reported as warnings).
    Any,
}

impl Select {
    /// The word used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::All => "all",
            Self::Any => "any",
        }
    }

    /// The accepted words.
    pub const WORDS: [&'static str; 3] = ["newest", "all", "any"];

    /// Parses a policy word.
    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "newest" => Some(Self::Newest),
            "all" => Some(Self::All),
            "any" => Some(Self::Any),
            _ => None,
        }
    }
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an attestation requirement's `signedBy` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SignedByOrigin {
    /// Written in the policy.
    Written,
    /// Not written: the rule's `signatures` expression.
    RuleSignatures,
    /// Not written and the rule has no `signatures`: any authority of the policy
    /// (`signed_by` is `None`; lint warns).
    AnyAuthority,
}

/// One attestation that must exist (and pass its checks).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationRequirement {
    /// Optional label used in decisions.
    pub name: Option<String>,
    /// The accepted in-toto predicate types (aliases such as `cyclonedx` are expanded; at
    /// least one, no duplicates); an attestation of any of them is a candidate.
    pub predicate_types: Vec<String>,
    /// Which candidates decide.
    pub select: Select,
    /// Who must have signed it; `None`: any authority of the policy.
    pub signed_by: Option<AuthorityExpr>,
    /// Whether `signed_by` was written, defaulted to the rule's `signatures`, or is absent.
    pub signed_by_origin: SignedByOrigin,
    /// SBOM check.
    pub sbom: Option<SbomCheck>,
    /// Vulnerability report check.
    pub vulnerabilities: Option<VulnCheck>,
    /// CEL condition (compiled at load; must evaluate to `true`).
    pub condition: Option<String>,
}

impl AttestationRequirement {
    /// A short label: the name, or the predicate type(s).
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.types_text(),
        }
    }

    /// The predicate type, or `[a, b]` for several.
    pub fn types_text(&self) -> String {
        match self.predicate_types.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        }
    }

    /// Whether `predicate_type` is one of the accepted types.
    pub fn accepts_type(&self, predicate_type: &str) -> bool {
        self.predicate_types.iter().any(|t| t == predicate_type)
    }
}

/// A rule: which images, and what they need.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// Image patterns (any must match).
    #[serde(serialize_with = "ser_patterns")]
    pub images: Vec<ImagePattern>,
    /// Patterns removed from this rule.
    #[serde(serialize_with = "ser_patterns")]
    pub exclude: Vec<ImagePattern>,
    /// What failure does.
    pub mode: Mode,
    /// Signature requirement.
    pub signatures: Option<AuthorityExpr>,
    /// Attestation requirements (all must be met).
    pub attestations: Vec<AttestationRequirement>,
}

fn ser_patterns<S: serde::Serializer>(p: &[ImagePattern], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(p.iter().map(ImagePattern::as_str))
}

impl Rule {
    /// Whether this rule applies to the image (matched by `images` and not by `exclude`).
    pub fn applies_to(&self, image: &NormalisedImage) -> bool {
        self.images.iter().any(|p| p.matches(image))
            && !self.exclude.iter().any(|p| p.matches(image))
    }

    /// Every authority the rule mentions (signatures and `signedBy`).
    pub fn authority_names(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        if let Some(expr) = &self.signatures {
            out.extend(expr.names());
        }
        for att in &self.attestations {
            if let Some(expr) = &att.signed_by {
                out.extend(expr.names());
            }
        }
        out
    }
}

/// A validated trust policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(super) origin: String,
    /// The YAML it was loaded from (lint maps fields back to lines with it).
    pub(super) source: Arc<str>,
    pub(super) hash: Digest,
    pub(super) name: Option<String>,
    pub(super) no_match: NoMatch,
    pub(super) trust_roots: BTreeMap<String, TrustRoot>,
    pub(super) authorities: BTreeMap<String, Authority>,
    pub(super) rules: Vec<Rule>,
}

impl Policy {
    /// sha256 of the policy source bytes (for caching decisions per policy).
    pub fn hash(&self) -> Digest {
        self.hash.clone()
    }

    /// Where the policy came from (path or `<inline>`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `metadata.name`, if given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// What happens to images no rule matches.
    pub fn no_match(&self) -> NoMatch {
        self.no_match
    }

    /// Named authorities.
    pub fn authorities(&self) -> impl Iterator<Item = (&str, &Authority)> {
        self.authorities.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// One authority by name.
    pub fn authority(&self, name: &str) -> Option<&Authority> {
        self.authorities.get(name)
    }

    /// Named trust roots.
    pub fn trust_roots(&self) -> impl Iterator<Item = (&str, &TrustRoot)> {
        self.trust_roots.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// All rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The trust root a keyless authority's `trustRoot` names: the one defined in
    /// `spec.trustRoots`, else the embedded public-good root for its default name
    /// (`public-good`), else `None` (the loader refuses such a policy).
    pub fn trust_root(&self, name: &str) -> Option<TrustRoot> {
        match self.trust_roots.get(name) {
            Some(root) => Some(root.clone()),
            None if name == EmbeddedRoot::PublicGood.name() => {
                Some(TrustRoot::Embedded(EmbeddedRoot::PublicGood))
            }
            None => None,
        }
    }

    /// The rules that apply to an image (every one must pass).
    pub fn rules_for(&self, image: &ImageRef) -> Vec<&Rule> {
        self.rules_for_image(&NormalisedImage::new(image))
    }

    /// The rules that apply to an image already split for matching (with its resolved digest).
    pub fn rules_for_image(&self, image: &NormalisedImage) -> Vec<&Rule> {
        self.rules.iter().filter(|r| r.applies_to(image)).collect()
    }

    /// Authorities whose evidence the caller must collect for this image (those named by
    /// matching rules), without static ones, which need no registry access.
    pub fn authorities_needed(&self, image: &ImageRef) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        for rule in self.rules_for(image) {
            for name in rule.authority_names() {
                if !matches!(
                    self.authorities.get(name),
                    Some(Authority::Static(_)) | None
                ) {
                    out.insert(name);
                }
            }
            if rule.attestations.iter().any(|a| a.signed_by.is_none()) {
                for (name, authority) in &self.authorities {
                    if !matches!(authority, Authority::Static(_)) {
                        out.insert(name.as_str());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn policy_regexes_match_unanchored_like_policy_controller() {
        let yaml = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  authorities:\n    ci: {keyless: {issuerRegExp: 'token\\.actions', subjectRegExp: 'acme/'}}\n";
        let p = Policy::from_str_with_base(yaml, std::path::Path::new(".")).unwrap();
        let Some(Authority::Keyless(k)) = p.authority("ci") else {
            panic!("not keyless")
        };
        let signer = |identity: &str| Signer::Certificate {
            identity: identity.into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            extensions: BTreeMap::new(),
        };
        k.check_signer(&signer(
            "https://github.com/acme/app/.github/workflows/x.yml@refs/heads/main",
        ))
        .unwrap();
        assert_eq!(
            k.check_signer(&signer("https://github.com/other/app")),
            Err("identity `https://github.com/other/app` does not match regex `acme/`".into())
        );
    }

    #[test]
    fn policy_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Policy>();
        assert_send_sync::<crate::policy::Decision>();
    }
}
