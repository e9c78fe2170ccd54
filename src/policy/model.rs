//! The policy file: wire types (strict serde), the validated model, loading and lint.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

use super::duration::parse_duration;
use super::glob::{ImagePattern, NormalisedImage};
use super::sbom::DeniedPackage;
use super::version::VersionRange;
use super::vuln::Severity;
use crate::format::digest::Digest;
pub use crate::trust::GithubClaims;
use crate::verify::proof::Signer;

/// The only `apiVersion` this build understands.
pub const API_VERSION: &str = "imprint.dev/v1";
/// The only `kind` this build understands.
pub const KIND: &str = "TrustPolicy";
/// Largest policy file accepted (bytes): [`Limits::max_policy_bytes`].
///
/// [`Limits::max_policy_bytes`]: crate::limits::Limits::max_policy_bytes
pub const MAX_POLICY_BYTES: usize = crate::limits::Limits::DEFAULT.max_policy_bytes as usize;
/// Largest CEL condition accepted (characters): [`Limits::max_condition_chars`].
///
/// [`Limits::max_condition_chars`]: crate::limits::Limits::max_condition_chars
pub const MAX_CONDITION_CHARS: usize = crate::limits::Limits::DEFAULT.max_condition_chars;

/// Why a policy could not be loaded. Every variant names the file (`origin`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy file {}", path.display())]
    Read {
        /// The path that was read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_POLICY_BYTES`].
    #[error("policy file {origin} is {size} bytes, more than the limit of {MAX_POLICY_BYTES}")]
    TooLarge {
        /// File name or `<inline>`.
        origin: String,
        /// Its size.
        size: usize,
    },
    /// A field the format does not have (typo or wrong level).
    #[error("{origin}{}: unknown field `{field}`{}", fmt_location(*.location), fmt_suggestion(.suggestion.as_deref(), .expected))]
    UnknownField {
        /// File name or `<inline>`.
        origin: String,
        /// The unknown field.
        field: String,
        /// The closest known field, if one is close.
        suggestion: Option<String>,
        /// The fields allowed at that place.
        expected: Vec<String>,
        /// 1-based line and column, when known.
        location: Option<(u64, u64)>,
    },
    /// A value that is not one of the allowed words (e.g. `mode: enforced`).
    #[error("{origin}{}: unknown value `{value}`{}", fmt_location(*.location), fmt_suggestion(.suggestion.as_deref(), .expected))]
    UnknownValue {
        /// File name or `<inline>`.
        origin: String,
        /// The unknown value.
        value: String,
        /// The closest allowed value, if one is close.
        suggestion: Option<String>,
        /// The allowed values.
        expected: Vec<String>,
        /// 1-based line and column, when known.
        location: Option<(u64, u64)>,
    },
    /// YAML syntax or shape error (missing field, wrong type, duplicate key).
    #[error("{origin}{}: {message}", fmt_location(*.location))]
    Syntax {
        /// File name or `<inline>`.
        origin: String,
        /// The parser's message.
        message: String,
        /// 1-based line and column, when known.
        location: Option<(u64, u64)>,
    },
    /// The file parsed but a value is invalid (bad reference, regex, glob, threshold, ...).
    #[error("{origin}{}: {field}: {message}", fmt_location(*.location))]
    Invalid {
        /// File name or `<inline>`.
        origin: String,
        /// Dotted path to the field, e.g. `spec.rules[0].signatures`.
        field: String,
        /// What is wrong.
        message: String,
        /// 1-based line and column of the field (or its nearest ancestor), when known.
        location: Option<(u64, u64)>,
    },
}

fn fmt_location(location: Option<(u64, u64)>) -> String {
    match location {
        Some((line, column)) => format!(":{line}:{column}"),
        None => String::new(),
    }
}

fn fmt_suggestion(suggestion: Option<&str>, expected: &[String]) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None if !expected.is_empty() => format!(" (expected one of: {})", expected.join(", ")),
        None => String::new(),
    }
}

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

/// Which signature storage formats an authority accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SignatureFormat {
    /// Both (the default).
    #[default]
    Any,
    /// Sigstore bundles attached as OCI referrers only.
    Bundle,
    /// Legacy `sha256-<hex>.sig` / `.att` tags only.
    Legacy,
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
    /// A trust root compiled into imprint (`public-good`).
    Embedded(String),
    /// A `trusted_root.json` file (resolved against the policy file's directory).
    File(PathBuf),
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

/// Exact or regular-expression match on a certificate field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StringMatcher {
    /// Equal, byte for byte.
    Exact(String),
    /// Regex (not implicitly anchored; lint warns when `^`/`$` are missing).
    Regex(Regex),
}

impl StringMatcher {
    /// Whether `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        match self {
            Self::Exact(expected) => expected == value,
            Self::Regex(regex) => regex.is_match(value),
        }
    }
}

impl fmt::Display for StringMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(s) => write!(f, "{s}"),
            Self::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

impl Serialize for StringMatcher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A keyless (Fulcio certificate) authority.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeylessAuthority {
    /// Name of the trust root (`public-good` if not given).
    pub trust_root: String,
    /// OIDC issuer.
    pub issuer: StringMatcher,
    /// Certificate identity (SAN).
    pub subject: StringMatcher,
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
                if !self.issuer.is_match(issuer) {
                    return Err(format!("issuer `{issuer}` does not match {}", self.issuer));
                }
                if !self.subject.is_match(identity) {
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
}

impl Authority {
    /// Accepted signature formats (`Any` for static authorities).
    pub fn signature_format(&self) -> SignatureFormat {
        match self {
            Self::Key(k) => k.signature_format,
            Self::Keyless(k) => k.signature_format,
            Self::Static(_) => SignatureFormat::Any,
        }
    }
}

/// An expression over authorities: `authority`, `anyOf`, `allOf`, `threshold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AuthorityExpr {
    /// Every child must be met.
    AllOf(Vec<AuthorityExpr>),
    /// At least one child must be met.
    AnyOf(Vec<AuthorityExpr>),
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

/// One attestation that must exist (and pass its checks).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationRequirement {
    /// Optional label used in decisions.
    pub name: Option<String>,
    /// The in-toto predicate type (aliases such as `cyclonedx` are expanded).
    pub predicate_type: String,
    /// Who must have signed it; `None`: any authority of the policy.
    pub signed_by: Option<AuthorityExpr>,
    /// SBOM check.
    pub sbom: Option<SbomCheck>,
    /// Vulnerability report check.
    pub vulnerabilities: Option<VulnCheck>,
    /// CEL condition (compiled at load; must evaluate to `true`).
    pub condition: Option<String>,
}

impl AttestationRequirement {
    /// A short label: the name, or the predicate type.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.predicate_type)
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

/// A validated trust policy.
#[derive(Debug, Clone)]
pub struct Policy {
    origin: String,
    hash: Digest,
    name: Option<String>,
    no_match: NoMatch,
    trust_roots: BTreeMap<String, TrustRoot>,
    authorities: BTreeMap<String, Authority>,
    rules: Vec<Rule>,
}

impl Policy {
    /// Loads a policy file; relative key/trust-root paths resolve against its directory.
    pub fn from_path(path: &Path) -> Result<Self, PolicyError> {
        let bytes = std::fs::read(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| PolicyError::Syntax {
            origin: origin.clone(),
            message: format!("not UTF-8: {e}"),
            location: None,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, base, origin)
    }

    /// Parses policy YAML; relative paths resolve against `base_dir`.
    pub fn from_str_with_base(yaml: &str, base_dir: &Path) -> Result<Self, PolicyError> {
        Self::parse(yaml, base_dir, "<inline>".to_string())
    }

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

    /// The rules that apply to an image reference (every one must pass).
    pub fn rules_for(&self, image_ref: &str) -> Vec<&Rule> {
        self.rules_for_image(&NormalisedImage::parse(image_ref))
    }

    /// The rules that apply to a parsed image.
    pub fn rules_for_image(&self, image: &NormalisedImage) -> Vec<&Rule> {
        self.rules.iter().filter(|r| r.applies_to(image)).collect()
    }

    /// Authorities whose evidence the caller must collect for this image (those named by
    /// matching rules), without static ones, which need no registry access.
    pub fn authorities_needed(&self, image_ref: &str) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        for rule in self.rules_for(image_ref) {
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
                    if let StringMatcher::Regex(r) = matcher {
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

    fn parse(yaml: &str, base: &Path, origin: String) -> Result<Self, PolicyError> {
        if yaml.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                origin,
                size: yaml.len(),
            });
        }
        let file: raw::PolicyFile =
            serde_saphyr::from_str(yaml).map_err(|e| convert_yaml_error(&e, &origin))?;
        let mut v = Validator {
            origin: origin.clone(),
            base: base.to_path_buf(),
        };
        let policy = v.validate(file).map_err(|e| match e {
            PolicyError::Invalid {
                origin,
                field,
                message,
                location: None,
            } => PolicyError::Invalid {
                origin,
                location: super::locate::locate(yaml, &field),
                field,
                message,
            },
            other => other,
        })?;
        Ok(Self {
            origin,
            hash: Digest::of(yaml.as_bytes()),
            ..policy
        })
    }
}

impl FromStr for Policy {
    type Err = PolicyError;
    /// Parses policy YAML; relative paths resolve against the current directory.
    fn from_str(yaml: &str) -> Result<Self, PolicyError> {
        Self::from_str_with_base(yaml, Path::new("."))
    }
}

fn convert_yaml_error(error: &serde_saphyr::Error, origin: &str) -> PolicyError {
    let inner = error.without_snippet();
    let location = inner
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| (l.line(), l.column()));
    match inner {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => PolicyError::UnknownField {
            origin: origin.to_string(),
            suggestion: suggest(field, expected),
            field: field.clone(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
            location,
        },
        serde_saphyr::Error::SerdeUnknownVariant {
            variant, expected, ..
        } => PolicyError::UnknownValue {
            origin: origin.to_string(),
            suggestion: suggest(variant, expected),
            value: variant.clone(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
            location,
        },
        other => PolicyError::Syntax {
            origin: origin.to_string(),
            message: strip_location_suffix(&other.to_string()),
            location,
        },
    }
}

fn strip_location_suffix(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

/// The closest candidate by edit distance (case-insensitive), if it is close enough.
pub(crate) fn suggest(word: &str, candidates: &[&str]) -> Option<String> {
    let lower = word.to_lowercase();
    let close = candidates
        .iter()
        .map(|c| (levenshtein(&lower, &c.to_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string());
    // `denied` → `deny`, `imagesList` → `images`: a shared stem of 3+ characters that is at
    // least half of the candidate.
    close.or_else(|| {
        candidates
            .iter()
            .filter(|c| {
                let c = c.to_lowercase();
                let common = c
                    .chars()
                    .zip(lower.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                common >= 3 && common * 2 >= c.len()
            })
            .max_by_key(|c| c.len())
            .map(|c| c.to_string())
    })
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Expands cosign's `--type` shortcuts with the one table
/// ([`crate::format::predicate::SHORTCUTS`]); anything else is kept as written.
fn expand_predicate_alias(t: &str) -> String {
    crate::format::predicate::expand_shortcut(t).map_or_else(|| t.to_owned(), str::to_owned)
}

struct Validator {
    origin: String,
    base: PathBuf,
}

impl Validator {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            origin: self.origin.clone(),
            field: field.into(),
            message: message.into(),
            location: None,
        }
    }

    fn validate(&mut self, file: raw::PolicyFile) -> Result<Policy, PolicyError> {
        if file.api_version != API_VERSION {
            return Err(self.err(
                "apiVersion",
                format!(
                    "`{}` is not supported (expected `{API_VERSION}`)",
                    file.api_version
                ),
            ));
        }
        if file.kind != KIND {
            return Err(self.err(
                "kind",
                format!("`{}` is not supported (expected `{KIND}`)", file.kind),
            ));
        }
        let spec = file.spec;
        let mut trust_roots = BTreeMap::new();
        for (name, root) in spec.trust_roots {
            let field = format!("spec.trustRoots.{name}");
            let root = match (root.embedded, root.file) {
                (Some(e), None) => {
                    if e != "public-good" {
                        return Err(self.err(
                            format!("{field}.embedded"),
                            format!("unknown embedded trust root `{e}` (known: public-good)"),
                        ));
                    }
                    TrustRoot::Embedded(e)
                }
                (None, Some(f)) => {
                    let path = self.base.join(f);
                    if !path.is_file() {
                        return Err(self.err(
                            format!("{field}.file"),
                            format!("{} does not exist or is not a file", path.display()),
                        ));
                    }
                    TrustRoot::File(path)
                }
                _ => return Err(self.err(field, "give exactly one of `embedded` or `file`")),
            };
            trust_roots.insert(name, root);
        }
        let mut authorities = BTreeMap::new();
        for (name, a) in spec.authorities {
            let authority = self.authority(&name, a, &trust_roots)?;
            authorities.insert(name, authority);
        }
        let mut rules = Vec::new();
        let mut names = BTreeSet::new();
        for (i, r) in spec.rules.into_iter().enumerate() {
            let field = format!("spec.rules[{i}]");
            if !names.insert(r.name.clone()) {
                return Err(self.err(
                    format!("{field}.name"),
                    format!("duplicate rule name `{}`", r.name),
                ));
            }
            rules.push(self.rule(&field, r, &authorities)?);
        }
        Ok(Policy {
            origin: self.origin.clone(),
            hash: Digest::of(b""),
            name: file.metadata.and_then(|m| m.name),
            no_match: spec.no_match.unwrap_or_default(),
            trust_roots,
            authorities,
            rules,
        })
    }

    fn authority(
        &self,
        name: &str,
        a: raw::Authority,
        trust_roots: &BTreeMap<String, TrustRoot>,
    ) -> Result<Authority, PolicyError> {
        let field = format!("spec.authorities.{name}");
        let format = a.signature_format.unwrap_or_default();
        match (a.key, a.keyless, a.static_action) {
            (Some(key), None, None) => {
                let (source, pem) = match (key.file, key.pem, key.env) {
                    (Some(f), None, None) => {
                        let path = self.base.join(&f);
                        let pem = std::fs::read(&path).map_err(|e| {
                            self.err(
                                format!("{field}.key.file"),
                                format!("cannot read {}: {e}", path.display()),
                            )
                        })?;
                        (KeySource::File(path), pem)
                    }
                    (None, Some(p), None) => (KeySource::Inline, p.into_bytes()),
                    (None, None, Some(var)) => {
                        let value = std::env::var(&var).map_err(|_| {
                            self.err(
                                format!("{field}.key.env"),
                                format!("environment variable `{var}` is not set (or not UTF-8)"),
                            )
                        })?;
                        (KeySource::Env(var), value.into_bytes())
                    }
                    _ => {
                        return Err(self.err(
                            format!("{field}.key"),
                            "give exactly one of `file`, `pem` or `env`",
                        ));
                    }
                };
                let parsed = pem::parse(&pem).map_err(|e| {
                    self.err(format!("{field}.key"), format!("not a PEM public key: {e}"))
                })?;
                let fingerprint = (parsed.tag() == "PUBLIC KEY")
                    .then(|| Digest::of(parsed.contents()).to_string());
                Ok(Authority::Key(KeyAuthority {
                    source,
                    pem,
                    fingerprint,
                    signature_format: format,
                }))
            }
            (None, Some(k), None) => {
                let trust_root = k.trust_root.unwrap_or_else(|| "public-good".to_string());
                if !trust_roots.contains_key(&trust_root) && trust_root != "public-good" {
                    return Err(self.err(
                        format!("{field}.keyless.trustRoot"),
                        format!("trust root `{trust_root}` is not defined in spec.trustRoots"),
                    ));
                }
                let issuer = self.matcher(
                    &format!("{field}.keyless"),
                    "issuer",
                    k.issuer,
                    k.issuer_reg_exp,
                )?;
                let subject = self.matcher(
                    &format!("{field}.keyless"),
                    "subject",
                    k.subject,
                    k.subject_reg_exp,
                )?;
                let github = k
                    .github
                    .map(|g| GithubClaims {
                        trigger: g.trigger,
                        sha: g.sha,
                        name: g.name,
                        repository: g.repository,
                        git_ref: g.git_ref,
                    })
                    .unwrap_or_default();
                Ok(Authority::Keyless(KeylessAuthority {
                    trust_root,
                    issuer,
                    subject,
                    github,
                    signature_format: format,
                }))
            }
            (None, None, Some(action)) => Ok(Authority::Static(action)),
            _ => Err(self.err(field, "give exactly one of `key`, `keyless` or `static`")),
        }
    }

    fn matcher(
        &self,
        field: &str,
        what: &str,
        exact: Option<String>,
        regex: Option<String>,
    ) -> Result<StringMatcher, PolicyError> {
        match (exact, regex) {
            (Some(e), None) => Ok(StringMatcher::Exact(e)),
            (None, Some(r)) => Regex::new(&r).map(StringMatcher::Regex).map_err(|e| {
                self.err(format!("{field}.{what}RegExp"), format!("invalid regex: {e}"))
            }),
            (Some(_), Some(_)) => Err(self.err(
                field,
                format!("give `{what}` or `{what}RegExp`, not both"),
            )),
            (None, None) => Err(self.err(
                field,
                format!("`{what}` or `{what}RegExp` is required (use `{what}RegExp: '.*'` to accept any, explicitly)"),
            )),
        }
    }

    fn rule(
        &self,
        field: &str,
        r: raw::Rule,
        authorities: &BTreeMap<String, Authority>,
    ) -> Result<Rule, PolicyError> {
        if r.name.trim().is_empty() {
            return Err(self.err(format!("{field}.name"), "rule name is empty"));
        }
        let patterns = |list: Vec<String>, sub: &str| -> Result<Vec<ImagePattern>, PolicyError> {
            list.iter()
                .enumerate()
                .map(|(i, p)| {
                    ImagePattern::new(p).map_err(|e| self.err(format!("{field}.{sub}[{i}]"), e))
                })
                .collect()
        };
        let images = patterns(r.images, "images")?;
        let exclude = patterns(r.exclude, "exclude")?;
        let signatures = r
            .signatures
            .map(|e| self.expr(&format!("{field}.signatures"), e, authorities))
            .transpose()?;
        let mut attestations = Vec::new();
        for (i, a) in r.attestations.into_iter().enumerate() {
            attestations.push(self.attestation(
                &format!("{field}.attestations[{i}]"),
                a,
                authorities,
            )?);
        }
        if signatures.is_none() && attestations.is_empty() {
            return Err(self.err(
                field,
                "the rule has no `signatures` and no `attestations`; to allow images explicitly, use an authority with `static: pass`",
            ));
        }
        Ok(Rule {
            name: r.name,
            images,
            exclude,
            mode: r.mode.unwrap_or_default(),
            signatures,
            attestations,
        })
    }

    fn expr(
        &self,
        field: &str,
        e: raw::Expr,
        authorities: &BTreeMap<String, Authority>,
    ) -> Result<AuthorityExpr, PolicyError> {
        let known = |name: &str, f: &str| -> Result<(), PolicyError> {
            if authorities.contains_key(name) {
                Ok(())
            } else {
                let keys: Vec<&str> = authorities.keys().map(String::as_str).collect();
                let hint = suggest(name, &keys)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                Err(self.err(
                    f,
                    format!("authority `{name}` is not defined in spec.authorities{hint}"),
                ))
            }
        };
        Ok(match e {
            raw::Expr::Authority(name) => {
                known(&name, &format!("{field}.authority"))?;
                AuthorityExpr::Authority(name)
            }
            raw::Expr::AnyOf(children) | raw::Expr::AllOf(children) if children.is_empty() => {
                return Err(self.err(field, "`anyOf`/`allOf` must not be empty"));
            }
            raw::Expr::AnyOf(children) => AuthorityExpr::AnyOf(
                children
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| self.expr(&format!("{field}.anyOf[{i}]"), c, authorities))
                    .collect::<Result<_, _>>()?,
            ),
            raw::Expr::AllOf(children) => AuthorityExpr::AllOf(
                children
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| self.expr(&format!("{field}.allOf[{i}]"), c, authorities))
                    .collect::<Result<_, _>>()?,
            ),
            raw::Expr::Threshold(t) => {
                let f = format!("{field}.threshold");
                let mut seen = BTreeSet::new();
                for (i, name) in t.of.iter().enumerate() {
                    known(name, &format!("{f}.of[{i}]"))?;
                    if !seen.insert(name) {
                        return Err(self.err(
                            format!("{f}.of[{i}]"),
                            format!("authority `{name}` is listed twice"),
                        ));
                    }
                }
                if t.count == 0 || t.count as usize > t.of.len() {
                    return Err(self.err(
                        format!("{f}.count"),
                        format!(
                            "count must be between 1 and the number of authorities in `of` ({}), got {}",
                            t.of.len(),
                            t.count
                        ),
                    ));
                }
                AuthorityExpr::Threshold {
                    count: t.count as usize,
                    of: t.of,
                }
            }
        })
    }

    fn attestation(
        &self,
        field: &str,
        a: raw::Attestation,
        authorities: &BTreeMap<String, Authority>,
    ) -> Result<AttestationRequirement, PolicyError> {
        if a.predicate_type.trim().is_empty() {
            return Err(self.err(format!("{field}.predicateType"), "empty predicate type"));
        }
        let signed_by = a
            .signed_by
            .map(|e| self.expr(&format!("{field}.signedBy"), e, authorities))
            .transpose()?;
        let sbom = a
            .sbom
            .map(|s| self.sbom(&format!("{field}.sbom"), s))
            .transpose()?;
        let vulnerabilities = match a.vulnerabilities {
            Some(v) => {
                let max_age = v
                    .max_age
                    .map(|d| parse_duration(&d))
                    .transpose()
                    .map_err(|e| self.err(format!("{field}.vulnerabilities.maxAge"), e))?;
                if v.max_severity.is_none() && max_age.is_none() {
                    return Err(self.err(
                        format!("{field}.vulnerabilities"),
                        "give `maxSeverity` and/or `maxAge`",
                    ));
                }
                Some(VulnCheck {
                    max_severity: v.max_severity,
                    max_age,
                    ignore: v
                        .ignore
                        .into_iter()
                        .map(|s| s.trim().to_uppercase())
                        .collect(),
                })
            }
            None => None,
        };
        if let Some(c) = &a.condition {
            if c.chars().count() > MAX_CONDITION_CHARS {
                return Err(self.err(
                    format!("{field}.condition"),
                    format!("condition is longer than {MAX_CONDITION_CHARS} characters"),
                ));
            }
            super::cel::compile_check(c).map_err(|e| self.err(format!("{field}.condition"), e))?;
        }
        Ok(AttestationRequirement {
            name: a.name,
            predicate_type: expand_predicate_alias(a.predicate_type.trim()),
            signed_by,
            sbom,
            vulnerabilities,
            condition: a.condition,
        })
    }

    fn sbom(&self, field: &str, s: raw::Sbom) -> Result<SbomCheck, PolicyError> {
        let mut ids = BTreeSet::new();
        for (i, text) in s.denied_licenses.iter().enumerate() {
            let parsed = super::sbom::denied_license_ids(text)
                .map_err(|e| self.err(format!("{field}.deniedLicenses[{i}]"), e))?;
            ids.extend(parsed);
        }
        let mut packages = Vec::new();
        for (i, p) in s.denied_packages.into_iter().enumerate() {
            if p.name.trim().is_empty() {
                return Err(self.err(format!("{field}.deniedPackages[{i}].name"), "empty name"));
            }
            let versions = p
                .versions
                .as_deref()
                .map(VersionRange::parse)
                .transpose()
                .map_err(|e| self.err(format!("{field}.deniedPackages[{i}].versions"), e))?;
            packages.push(DeniedPackage {
                name: p.name,
                versions,
            });
        }
        if ids.is_empty() && packages.is_empty() {
            return Err(self.err(field, "give `deniedLicenses` and/or `deniedPackages`"));
        }
        Ok(SbomCheck {
            denied_licenses: s.denied_licenses,
            denied_license_ids: ids,
            denied_packages: packages,
            license_or: s.license_or.unwrap_or_default(),
        })
    }
}

/// Wire types: exactly what the YAML may contain.
mod raw {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::{Mode, NoMatch, OrSemantics, SignatureFormat, StaticAction};
    use crate::policy::vuln::Severity;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct PolicyFile {
        pub api_version: String,
        pub kind: String,
        #[serde(default)]
        pub metadata: Option<Metadata>,
        pub spec: Spec,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Metadata {
        #[serde(default)]
        pub name: Option<String>,
        #[serde(default)]
        #[allow(dead_code)]
        pub description: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Spec {
        #[serde(default)]
        pub no_match: Option<NoMatch>,
        #[serde(default)]
        pub trust_roots: BTreeMap<String, TrustRoot>,
        #[serde(default)]
        pub authorities: BTreeMap<String, Authority>,
        #[serde(default)]
        pub rules: Vec<Rule>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct TrustRoot {
        #[serde(default)]
        pub embedded: Option<String>,
        #[serde(default)]
        pub file: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Authority {
        #[serde(default)]
        pub key: Option<Key>,
        #[serde(default)]
        pub keyless: Option<Keyless>,
        #[serde(default, rename = "static")]
        pub static_action: Option<StaticAction>,
        #[serde(default)]
        pub signature_format: Option<SignatureFormat>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Key {
        #[serde(default)]
        pub file: Option<String>,
        #[serde(default)]
        pub pem: Option<String>,
        #[serde(default)]
        pub env: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Keyless {
        #[serde(default)]
        pub trust_root: Option<String>,
        #[serde(default)]
        pub issuer: Option<String>,
        #[serde(default, rename = "issuerRegExp")]
        pub issuer_reg_exp: Option<String>,
        #[serde(default)]
        pub subject: Option<String>,
        #[serde(default, rename = "subjectRegExp")]
        pub subject_reg_exp: Option<String>,
        #[serde(default)]
        pub github: Option<Github>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Github {
        #[serde(default)]
        pub trigger: Option<String>,
        #[serde(default)]
        pub sha: Option<String>,
        #[serde(default)]
        pub name: Option<String>,
        #[serde(default)]
        pub repository: Option<String>,
        #[serde(default, rename = "ref")]
        pub git_ref: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Rule {
        pub name: String,
        #[serde(default)]
        pub images: Vec<String>,
        #[serde(default)]
        pub exclude: Vec<String>,
        #[serde(default)]
        pub mode: Option<Mode>,
        #[serde(default)]
        pub signatures: Option<Expr>,
        #[serde(default)]
        pub attestations: Vec<Attestation>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) enum Expr {
        Authority(String),
        AnyOf(Vec<Expr>),
        AllOf(Vec<Expr>),
        Threshold(Threshold),
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Threshold {
        pub count: u32,
        pub of: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Attestation {
        #[serde(default)]
        pub name: Option<String>,
        pub predicate_type: String,
        #[serde(default)]
        pub signed_by: Option<Expr>,
        #[serde(default)]
        pub sbom: Option<Sbom>,
        #[serde(default)]
        pub vulnerabilities: Option<Vulnerabilities>,
        #[serde(default)]
        pub condition: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Sbom {
        #[serde(default)]
        pub denied_licenses: Vec<String>,
        #[serde(default)]
        pub denied_packages: Vec<DeniedPackage>,
        #[serde(default)]
        pub license_or: Option<OrSemantics>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct DeniedPackage {
        pub name: String,
        #[serde(default)]
        pub versions: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Vulnerabilities {
        #[serde(default)]
        pub max_severity: Option<Severity>,
        #[serde(default)]
        pub max_age: Option<String>,
        #[serde(default)]
        pub ignore: Vec<String>,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n";

    fn parse(spec: &str) -> Result<Policy, PolicyError> {
        Policy::from_str_with_base(&format!("{HEAD}{spec}"), Path::new("."))
    }

    fn invalid(spec: &str) -> (String, String) {
        match parse(spec) {
            Err(PolicyError::Invalid {
                field,
                message,
                location,
                ..
            }) => {
                assert!(location.is_some(), "no location for {field}");
                (field, message)
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    const KEYLESS: &str = "  authorities:\n    ci:\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n";

    #[test]
    fn unknown_field_has_suggestion_and_location() {
        let spec = format!("{KEYLESS}        subjectRegex: '^x$'\n");
        let err = parse(&spec).unwrap_err();
        match &err {
            PolicyError::UnknownField {
                field,
                suggestion,
                location,
                ..
            } => {
                assert_eq!(field, "subjectRegex");
                assert_eq!(suggestion.as_deref(), Some("subjectRegExp"));
                assert_eq!(location.map(|l| l.0), Some(8));
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(text.starts_with("<inline>:8:"), "{text}");
        assert!(text.contains("did you mean `subjectRegExp`?"), "{text}");
    }

    #[test]
    fn unknown_top_level_and_rule_fields() {
        let err = Policy::from_str_with_base(
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec: {}\nspecs: {}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(
            matches!(err, PolicyError::UnknownField { ref suggestion, .. } if suggestion.as_deref() == Some("spec")),
            "{err}"
        );
        let err = parse("  rules:\n    - name: a\n      image: [x]\n").unwrap_err();
        assert!(err.to_string().contains("did you mean `images`?"), "{err}");
        let err = parse("  noMatch: denied\n").unwrap_err();
        assert!(
            matches!(err, PolicyError::UnknownValue { ref suggestion, .. } if suggestion.as_deref() == Some("deny")),
            "{err}"
        );
        let err = parse("  authorities:\n    a: {static: pass}\n  rules:\n    - name: r\n      images: [x]\n      signatures: {anyof: [{authority: a}]}\n").unwrap_err();
        assert!(err.to_string().contains("did you mean `anyOf`?"), "{err}");
    }

    #[test]
    fn wrong_api_version_and_kind() {
        let err = Policy::from_str_with_base(
            "apiVersion: v1\nkind: TrustPolicy\nspec: {}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("apiVersion"), "{err}");
        let err = Policy::from_str_with_base(
            "apiVersion: imprint.dev/v1\nkind: Policy\nspec: {}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("kind"), "{err}");
    }

    #[test]
    fn syntax_error_has_location() {
        let err = parse("  rules: [\n").unwrap_err();
        assert!(matches!(err, PolicyError::Syntax { .. }), "{err}");
        let err = parse("  noMatch: deny\n  noMatch: allow\n").unwrap_err();
        assert!(
            matches!(
                err,
                PolicyError::Syntax {
                    location: Some((5, _)),
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("duplicate"), "{err}");
        let err = parse("  authorities:\n    a: {static: pass}\n  rules:\n    - name: r\n      images: [x]\n      signatures: {threshold: {count: two, of: [a]}}\n").unwrap_err();
        assert!(
            matches!(
                err,
                PolicyError::Syntax {
                    location: Some((9, _)),
                    ..
                }
            ),
            "{err}"
        );
        let err = parse("  rules:\n    - images: [x]\n").unwrap_err();
        assert!(err.to_string().contains("missing field `name`"), "{err}");
    }

    const AUTH: &str = "  authorities:\n    a: {static: pass}\n    b: {static: pass}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n";

    #[test]
    fn references_must_exist() {
        let (field, message) = invalid(&format!("{AUTH}      signatures: {{authority: c}}\n"));
        assert_eq!(field, "spec.rules[0].signatures.authority");
        assert!(message.contains("`c` is not defined"), "{message}");
        let (_, message) = invalid(&format!("{AUTH}      signatures: {{authority: aa}}\n"));
        assert!(message.contains("did you mean `a`?"), "{message}");
        let (field, _) = invalid(
            "  authorities:\n    ci:\n      keyless: {issuer: x, subject: y, trustRoot: corp}\n",
        );
        assert_eq!(field, "spec.authorities.ci.keyless.trustRoot");
    }

    #[test]
    fn thresholds_are_checked() {
        let (field, _) = invalid(&format!(
            "{AUTH}      signatures: {{threshold: {{count: 3, of: [a, b]}}}}\n"
        ));
        assert_eq!(field, "spec.rules[0].signatures.threshold.count");
        let (field, _) = invalid(&format!(
            "{AUTH}      signatures: {{threshold: {{count: 0, of: [a, b]}}}}\n"
        ));
        assert_eq!(field, "spec.rules[0].signatures.threshold.count");
        let (field, message) = invalid(&format!(
            "{AUTH}      signatures: {{threshold: {{count: 1, of: [a, a]}}}}\n"
        ));
        assert_eq!(field, "spec.rules[0].signatures.threshold.of[1]");
        assert!(message.contains("twice"));
        let (field, _) = invalid(&format!(
            "{AUTH}      signatures: {{anyOf: [{{allOf: []}}]}}\n"
        ));
        assert_eq!(field, "spec.rules[0].signatures.anyOf[0]");
        // Nesting to any depth parses.
        let ok = parse(&format!("{AUTH}      signatures: {{anyOf: [{{allOf: [{{anyOf: [{{threshold: {{count: 1, of: [a, b]}}}}]}}, {{authority: b}}]}}]}}\n")).unwrap();
        assert_eq!(
            ok.rules()[0].signatures.as_ref().unwrap().to_string(),
            "anyOf(allOf(anyOf(1 of [a, b]), b))"
        );
    }

    #[test]
    fn values_are_compiled_at_load() {
        let cases = [
            (
                "      exclude: ['ghcr.io/[x']\n      signatures: {authority: a}\n",
                "spec.rules[0].exclude[0]",
            ),
            (
                "      attestations: [{predicateType: x, condition: 'predicate.a =='}]\n",
                "spec.rules[0].attestations[0].condition",
            ),
            (
                "      attestations: [{predicateType: x, vulnerabilities: {maxAge: 7y}}]\n",
                "spec.rules[0].attestations[0].vulnerabilities.maxAge",
            ),
            (
                "      attestations: [{predicateType: x, sbom: {deniedLicenses: ['MIT AND (']}}]\n",
                "spec.rules[0].attestations[0].sbom.deniedLicenses[0]",
            ),
            (
                "      attestations: [{predicateType: x, sbom: {deniedPackages: [{name: a, versions: '<'}]}}]\n",
                "spec.rules[0].attestations[0].sbom.deniedPackages[0].versions",
            ),
            (
                "      attestations: [{predicateType: x, vulnerabilities: {}}]\n",
                "spec.rules[0].attestations[0].vulnerabilities",
            ),
            ("      mode: warn\n", "spec.rules[0]"),
        ];
        for (rule, want) in cases {
            let (field, message) = invalid(&format!("{AUTH}{rule}"));
            assert_eq!(field, want, "{message}");
        }
        let (field, _) =
            invalid("  authorities:\n    ci:\n      keyless: {issuer: x, subjectRegExp: '(' }\n");
        assert_eq!(field, "spec.authorities.ci.keyless.subjectRegExp");
        let (_, message) = invalid("  authorities:\n    ci:\n      keyless: {issuer: x}\n");
        assert!(message.contains("subjectRegExp: '.*'"), "{message}");
        let (field, _) = invalid("  authorities:\n    k: {key: {pem: 'not a pem'}}\n");
        assert_eq!(field, "spec.authorities.k.key");
        let (field, _) = invalid("  authorities:\n    k: {static: pass, key: {pem: x}}\n");
        assert_eq!(field, "spec.authorities.k");
        let (field, _) = invalid(&format!(
            "{AUTH}      signatures: {{authority: a}}\n    - name: r\n      images: [x]\n      signatures: {{authority: a}}\n"
        ));
        assert_eq!(field, "spec.rules[1].name");
    }

    #[test]
    fn keys_from_file_env_and_inline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let pem = "-----BEGIN PUBLIC KEY-----\nAAECAw==\n-----END PUBLIC KEY-----\n";
        std::fs::write(dir.path().join("keys/release.pub"), pem).unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(
            &path,
            format!("{HEAD}  authorities:\n    release: {{key: {{file: keys/release.pub}}}}\n    missing: {{key: {{env: IMPRINT_TEST_UNSET_VAR_9f2}}}}\n"),
        )
        .unwrap();
        let (field, message) = match Policy::from_path(&path) {
            Err(PolicyError::Invalid { field, message, .. }) => (field, message),
            other => panic!("{other:?}"),
        };
        assert_eq!(field, "spec.authorities.missing.key.env");
        assert!(message.contains("IMPRINT_TEST_UNSET_VAR_9f2"));
        std::fs::write(
            &path,
            format!("{HEAD}  authorities:\n    release: {{key: {{file: keys/release.pub}}}}\n"),
        )
        .unwrap();
        let policy = Policy::from_path(&path).unwrap();
        let Some(Authority::Key(key)) = policy.authority("release") else {
            panic!("not a key authority");
        };
        assert_eq!(key.pem, pem.as_bytes());
        assert_eq!(
            key.source,
            KeySource::File(dir.path().join("keys/release.pub"))
        );
        assert_eq!(
            key.fingerprint.as_deref(),
            Some(Digest::of(&[0, 1, 2, 3]).to_string().as_str())
        );
        assert_eq!(policy.hash(), Digest::of(&std::fs::read(&path).unwrap()));
        let missing = dir.path().join("nope.yaml");
        assert!(matches!(
            Policy::from_path(&missing),
            Err(PolicyError::Read { .. })
        ));
    }

    #[test]
    fn predicate_aliases_and_rules_for() {
        let p = parse(&format!("{AUTH}      exclude: ['ghcr.io/x/sandbox/**']\n      attestations: [{{predicateType: slsaprovenance1}}]\n")).unwrap();
        assert_eq!(
            p.rules()[0].attestations[0].predicate_type,
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(p.rules_for("ghcr.io/x/app:1").len(), 1);
        assert!(p.rules_for("ghcr.io/x/sandbox/app:1").is_empty());
        assert!(p.rules_for("docker.io/library/busybox").is_empty());
    }

    #[test]
    fn every_attest_type_shortcut_expands_like_attest() {
        for (shortcut, _) in crate::format::predicate::SHORTCUTS {
            let p = parse(&format!(
                "{AUTH}      attestations: [{{predicateType: {shortcut}}}]\n"
            ))
            .unwrap();
            assert_eq!(
                p.rules()[0].attestations[0].predicate_type,
                crate::format::predicate::predicate_type_uri(shortcut).unwrap(),
                "predicateType: {shortcut}"
            );
        }
        // `custom` and `link` are what `imprint attest --type custom|link` writes.
        let p = parse(&format!(
            "{AUTH}      attestations: [{{predicateType: custom}}, {{predicateType: link}}]\n"
        ))
        .unwrap();
        let types: Vec<&str> = p.rules()[0]
            .attestations
            .iter()
            .map(|a| a.predicate_type.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "https://cosign.sigstore.dev/attestation/v1",
                "https://in-toto.io/Link/v1"
            ]
        );
    }

    #[test]
    fn lint_findings() {
        let codes = |p: &Policy| p.lint().into_iter().map(|f| f.code).collect::<Vec<_>>();
        let p = parse("  noMatch: allow\n").unwrap();
        assert_eq!(codes(&p), ["allows-everything"]);
        let p = parse("  noMatch: warn\n  authorities:\n    a: {static: pass}\n    unused: {static: fail}\n    ci: {keyless: {issuer: x, subjectRegExp: 'acme'}}\n  rules:\n    - name: r\n      images: []\n      mode: warn\n      signatures: {anyOf: [{authority: a}, {authority: ci}]}\n").unwrap();
        let found = codes(&p);
        for want in [
            "rule-matches-nothing",
            "never-denies",
            "unused-authority",
            "unanchored-regexp",
        ] {
            assert!(found.contains(&want), "{want} missing from {found:?}");
        }
        let p = parse("  authorities:\n    a: {static: pass}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      exclude: ['ghcr.io/**']\n      signatures: {authority: a}\n").unwrap();
        assert!(codes(&p).contains(&"rule-matches-nothing"));
        assert!(codes(&p).contains(&"static-pass"));
    }

    #[test]
    fn policy_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Policy>();
        assert_send_sync::<crate::policy::Decision>();
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("subjectRegex", &["subject", "subjectRegExp"]).as_deref(),
            Some("subjectRegExp")
        );
        assert_eq!(suggest("zzz", &["images", "exclude"]), None);
    }
}
