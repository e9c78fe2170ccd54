//! Keyless identity flags, named as cosign names them, shared by `verify-bundle`, `verify` and
//! `verify-attestation`. Every flag conflicts with `--key` (the parent command must define an
//! argument with id `key`).

use imprint::bundle::{GithubClaims, IdentityPolicy, Matcher};

/// Long help of the regex flags.
pub const REGEX_HELP: &str = "Regular expression (Rust `regex` syntax, close to Go RE2) matched against the WHOLE value: \
imprint anchors it as ^(?:REGEX)$. cosign matches unanchored (Go MatchString); imprint is stricter, \
so write `.*@example\\.com`, not `@example\\.com`.";

/// `--certificate-identity[-regexp]`, `--certificate-oidc-issuer[-regexp]`,
/// `--certificate-github-workflow-{trigger,sha,name,repository,ref}`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IdentityOpts {
    /// Expected certificate identity (SAN: email, URI or username), exact match.
    #[arg(long, value_name = "IDENTITY", conflicts_with_all = ["key", "certificate_identity_regexp"])]
    pub certificate_identity: Option<String>,

    /// Expected certificate identity as a regex matched against the whole SAN.
    #[arg(long, value_name = "REGEX", long_help = REGEX_HELP, conflicts_with = "key")]
    pub certificate_identity_regexp: Option<String>,

    /// Expected OIDC issuer, exact match.
    #[arg(long, value_name = "URL", conflicts_with_all = ["key", "certificate_oidc_issuer_regexp"])]
    pub certificate_oidc_issuer: Option<String>,

    /// Expected OIDC issuer as a regex matched against the whole issuer.
    #[arg(long, value_name = "REGEX", long_help = REGEX_HELP, conflicts_with = "key")]
    pub certificate_oidc_issuer_regexp: Option<String>,

    /// Expected GitHub workflow trigger (Fulcio OID .2, else .20), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_trigger: Option<String>,
    /// Expected GitHub workflow commit SHA (OID .3, else .13), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_sha: Option<String>,
    /// Expected GitHub workflow name (OID .4), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_name: Option<String>,
    /// Expected GitHub repository `owner/repo` (OID .5, else .12), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_repository: Option<String>,
    /// Expected GitHub workflow ref (OID .6, else .14), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_ref: Option<String>,
}

impl IdentityOpts {
    /// Whether any identity flag was given.
    pub fn any(&self) -> bool {
        self.certificate_identity.is_some()
            || self.certificate_identity_regexp.is_some()
            || self.certificate_oidc_issuer.is_some()
            || self.certificate_oidc_issuer_regexp.is_some()
            || self.certificate_github_workflow_trigger.is_some()
            || self.certificate_github_workflow_sha.is_some()
            || self.certificate_github_workflow_name.is_some()
            || self.certificate_github_workflow_repository.is_some()
            || self.certificate_github_workflow_ref.is_some()
    }

    /// The identity policy: an identity and an issuer are both required (keyless
    /// verification without identity constraints is refused, as cosign refuses it).
    pub fn policy(&self) -> Result<IdentityPolicy, String> {
        let subject = match (
            &self.certificate_identity,
            &self.certificate_identity_regexp,
        ) {
            (Some(s), None) => Matcher::Exact(s.clone()),
            (None, Some(r)) => Matcher::regex(r).map_err(|e| e.to_string())?,
            _ => {
                return Err(
                    "keyless verification needs --certificate-identity or --certificate-identity-regexp (or use --key)"
                        .into(),
                );
            }
        };
        let issuer = match (
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        ) {
            (Some(s), None) => Matcher::Exact(s.clone()),
            (None, Some(r)) => Matcher::regex(r).map_err(|e| e.to_string())?,
            _ => {
                return Err(
                    "keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp"
                        .into(),
                );
            }
        };
        let github = GithubClaims {
            trigger: self.certificate_github_workflow_trigger.clone(),
            sha: self.certificate_github_workflow_sha.clone(),
            name: self.certificate_github_workflow_name.clone(),
            repository: self.certificate_github_workflow_repository.clone(),
            git_ref: self.certificate_github_workflow_ref.clone(),
        };
        IdentityPolicy::new(subject, issuer, github).map_err(|e| e.to_string())
    }
}
