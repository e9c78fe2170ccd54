//! Wire types: exactly what a policy file may contain (strict serde, `deny_unknown_fields`).
//! No logic here; [`super::load`] turns these into the validated [`super::model`] types.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::model::{Mode, NoMatch, OrSemantics, StaticAction};
use super::vuln::Severity;

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
    pub notation: Option<Notation>,
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

/// A `notation:` authority: one Notation trust policy statement with its own stores.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Notation {
    #[serde(default)]
    pub trust_stores: Vec<NotationStore>,
    #[serde(default)]
    pub trusted_identities: Vec<String>,
    #[serde(default)]
    pub signature_verification: Option<NotationVerification>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct NotationStore {
    /// `ca:<name>`, `signingAuthority:<name>` or `tsa:<name>`.
    pub store: String,
    /// A PEM/DER certificate file or a directory of them.
    pub path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct NotationVerification {
    pub level: String,
    #[serde(default)]
    pub r#override: BTreeMap<String, String>,
    #[serde(default)]
    pub verify_timestamp: Option<String>,
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
    AnyOf(Vec<Self>),
    AllOf(Vec<Self>),
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
    pub predicate_type: PredicateTypes,
    /// `newest` / `all` / `any`, checked by the loader (so the error names the field).
    #[serde(default)]
    pub select: Option<String>,
    #[serde(default)]
    pub signed_by: Option<Expr>,
    #[serde(default)]
    pub sbom: Option<Sbom>,
    #[serde(default)]
    pub vulnerabilities: Option<Vulnerabilities>,
    #[serde(default)]
    pub condition: Option<String>,
}

/// `predicateType:` as one string or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum PredicateTypes {
    One(String),
    Many(Vec<String>),
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

/// `signatureFormat:` as written; the model uses [`crate::store::discover::SignatureFormat`].
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(super) enum SignatureFormat {
    Any,
    Bundle,
    Legacy,
}

impl From<SignatureFormat> for crate::store::discover::SignatureFormat {
    fn from(f: SignatureFormat) -> Self {
        match f {
            SignatureFormat::Any => Self::Any,
            SignatureFormat::Bundle => Self::Bundle,
            SignatureFormat::Legacy => Self::Legacy,
        }
    }
}
