//! Trust policies: which images need which signers and attestations, and what happens
//! otherwise. Pure logic, no registry I/O.
//!
//! * [`Policy`] parses and validates a YAML policy file (format: `policies/README.md`).
//!   Parsing is strict: an unknown field is an error naming the field, a suggestion and the
//!   line/column. Every cross-reference, regex, glob, CEL condition, duration, license
//!   expression and version range is checked at load, never at evaluation.
//! * [`evaluate`] takes the already-verified [`Evidence`] for one image and returns a typed
//!   [`Decision`] that lists every requirement, the evidence that met it or the
//!   [`ReasonCode`] it failed with.
//! * [`render_table`] prints decisions as a compact table.

mod cel;
mod decision;
mod duration;
mod error;
mod eval;
mod explain;
mod glob;
mod import;
mod import_ivpol;
mod import_kyverno;
mod lint;
mod load;
mod locate;
mod model;
pub(crate) mod sbom;
mod select;
mod version;
mod vuln;
mod wire;

pub use cel::{DEFAULT_BUDGET as CONDITION_BUDGET, evaluate_condition};
pub use decision::{
    Candidate, Decision, EvidenceRecord, Outcome, Reason, ReasonCode, RequirementDecision,
    RuleDecision, Selection, SignerSummary, TrustRootUse, render_table,
};
pub use duration::{format_duration, parse_duration};
pub use error::PolicyError;
pub use eval::{AuthorityEvidence, Evidence, ImageInfo, NotationEvidence, Rejection, evaluate};
pub use explain::{AttestationExplanation, Explanation, RuleExplanation};
pub use glob::{ImagePattern, NormalisedImage};
pub use import::{ImportNote, Imported, import_cluster_image_policies, import_policies};
pub use lint::{LINT_CODES, LintFinding, LintLevel};
pub use load::{API_VERSION, KIND, MAX_CONDITION_CHARS, MAX_POLICY_BYTES};
pub use model::{
    AttestationRequirement, Authority, AuthorityExpr, GithubClaims, KeyAuthority, KeySource,
    KeylessAuthority, Mode, NoMatch, NotationAuthority, NotationStore, OrSemantics, Policy, Rule,
    SbomCheck, Select, SignatureFormat, SignedByOrigin, StaticAction, TrustRoot, VulnCheck,
};
pub use sbom::{
    DeniedPackage, SbomFinding, SbomFormat, SbomPackage, SbomReport, check_sbom, check_sbom_json,
    check_sbom_statement, sbom_packages, sbom_packages_json,
};
pub use version::{VersionRange, compare_versions};
pub use vuln::{
    ParsedVulnReport, Severity, VulnFinding, VulnFormat, VulnReport, check_vulnerabilities,
    check_vulnerabilities_statement, parse_vuln_report,
};
