//! Keyless identity policy: certificate identity (SAN), OIDC issuer and GitHub workflow claims,
//! read from a Fulcio leaf certificate.
//!
//! What we do where cosign's two code paths differ (cosign-formats §5.7), always the stricter:
//! - **Identity**: the certificate must carry exactly one SAN of a supported kind (Fulcio issues
//!   exactly one); it is the URI, email or otherName (`1.3.6.1.4.1.57264.1.7`, UTF8String).
//! - **Issuer**: read from `1.3.6.1.4.1.57264.1.8` (DER UTF8String) or the deprecated `.1` (raw
//!   bytes). If both are present they must be equal, else the certificate is rejected.
//! - **Regexes** are matched against the **whole** value (`^(?:R)$`), where cosign uses Go's
//!   unanchored `MatchString`. `.*@example\.com` still works; `@example\.com$` must be written
//!   as `.*@example\.com`.
//! - **GitHub claims** compare exactly with the deprecated raw OIDs `.2`–`.6`; when a deprecated
//!   extension is absent, its 1.8+ successor is used (`.20` trigger, `.13` sha, `.12`
//!   repository as `https://github.com/<owner/repo>`, `.14` ref); `name` has no successor.

use std::collections::BTreeMap;

use x509_cert::Certificate;
use x509_cert::der::asn1::{Ia5StringRef, Utf8StringRef};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

const OID_SAN: &str = "2.5.29.17";
const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1.";
const OID_OTHERNAME_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";

/// How a certificate identity or issuer is matched: the one matcher type for `--certificate-*`
/// flags and policy `subject`/`issuer` fields. The two regex semantics are two constructors:
/// [`Matcher::regex`] (flags: anchored to the whole value) and [`Matcher::unanchored_regex`]
/// (policies: policy-controller's `regexp.MatchString`, a match anywhere).
#[derive(Debug, Clone)]
pub enum Matcher {
    /// The value equals this string exactly.
    Exact(String),
    /// The value matches this regex (anchored or not, as it was built).
    Regex(regex::Regex),
}

impl Matcher {
    /// A regex matcher anchored to the whole value: `^(?:pattern)$` (the `--certificate-*-regexp`
    /// flags; cosign matches unanchored, we match the whole value, which is stricter).
    pub fn regex(pattern: &str) -> Result<Self, IdentityError> {
        if pattern.is_empty() {
            return Err(IdentityError::NoConstraint(
                "empty regular expression".into(),
            ));
        }
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map(Self::Regex)
            .map_err(|e| IdentityError::InvalidRegex {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })
    }

    /// A regex matcher with policy-controller semantics: the pattern as written, matching
    /// anywhere in the value unless it has its own `^`/`$` (policy `subjectRegExp` /
    /// `issuerRegExp`; `imprint policy lint` warns when the anchors are missing).
    pub fn unanchored_regex(pattern: &str) -> Result<Self, IdentityError> {
        regex::Regex::new(pattern)
            .map(Self::Regex)
            .map_err(|e| IdentityError::InvalidRegex {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(s) => s == value,
            Self::Regex(r) => r.is_match(value),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Exact(s) => s.is_empty(),
            Self::Regex(r) => r.as_str().is_empty(),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(s) => write!(f, "`{s}`"),
            Self::Regex(r) => write!(f, "regex `{}`", r.as_str()),
        }
    }
}

/// Serialised as the exact string, or a regex as `/pattern/`.
impl serde::Serialize for Matcher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Exact(v) => s.serialize_str(v),
            Self::Regex(r) => s.serialize_str(&format!("/{}/", r.as_str())),
        }
    }
}

/// Why an identity policy cannot be built, or a certificate's identity is not accepted. Each
/// variant names the failing check; `verify::bundle::BundleError` converts from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The policy constrains nothing (empty identity, issuer or regex).
    #[error("{0}")]
    NoConstraint(String),
    /// A regex does not compile.
    #[error("bad regex `{pattern}`: {reason}")]
    InvalidRegex {
        /// The pattern as given.
        pattern: String,
        /// The regex compiler's message.
        reason: String,
    },
    /// The leaf certificate or one of its Fulcio extensions does not parse.
    #[error("{0}")]
    CertificateParse(String),
    /// The certificate has no usable identity: no, several or an unsupported subjectAltName.
    #[error("{0}")]
    San(String),
    /// The certificate identity (SAN) does not match the policy.
    #[error("certificate identity `{identity}` does not match {expected}")]
    IdentityMismatch {
        /// The certificate's identity.
        identity: String,
        /// The matcher it failed, as displayed.
        expected: String,
    },
    /// The certificate has no OIDC issuer, or its two issuer extensions disagree.
    #[error("{0}")]
    IssuerExtension(String),
    /// The certificate's OIDC issuer does not match the policy.
    #[error("certificate OIDC issuer `{issuer}` does not match {expected}")]
    IssuerMismatch {
        /// The certificate's issuer.
        issuer: String,
        /// The matcher it failed, as displayed.
        expected: String,
    },
    /// A GitHub workflow claim does not match.
    #[error(transparent)]
    GithubClaim(ClaimMismatch),
}

impl IdentityError {
    /// A short name of the failing check, the same as `BundleError::check` gives after
    /// conversion (`identity-policy`, `certificate`, `identity`, `issuer`, `github-claim`).
    pub fn check(&self) -> &'static str {
        match self {
            Self::NoConstraint(_) | Self::InvalidRegex { .. } => "identity-policy",
            Self::CertificateParse(_) => "certificate",
            Self::San(_) | Self::IdentityMismatch { .. } => "identity",
            Self::IssuerExtension(_) | Self::IssuerMismatch { .. } => "issuer",
            Self::GithubClaim(_) => "github-claim",
        }
    }
}

/// GitHub workflow claims (`--certificate-github-workflow-*` flags, `github:` in a policy),
/// compared exactly; see [`GithubClaims::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GithubClaims {
    /// Event that triggered the workflow (`.2`, else `.20`).
    pub trigger: Option<String>,
    /// Commit SHA (`.3`, else `.13`).
    pub sha: Option<String>,
    /// Workflow name (`.4`).
    pub name: Option<String>,
    /// `owner/repo` (`.5`, else `.12` as `https://github.com/owner/repo`).
    pub repository: Option<String>,
    /// Git ref (`.6`, else `.14`).
    pub git_ref: Option<String>,
}

/// Who may have signed: identity and issuer (both required), plus optional GitHub claims.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// Certificate identity (SAN).
    pub subject: Matcher,
    /// OIDC issuer.
    pub issuer: Matcher,
    /// GitHub workflow claims.
    pub github: GithubClaims,
}

impl IdentityPolicy {
    /// Build a policy. Refuses an empty identity or issuer ("no identity constraint"), as cosign
    /// refuses keyless verification without `--certificate-identity*` and
    /// `--certificate-oidc-issuer*`.
    pub fn new(
        subject: Matcher,
        issuer: Matcher,
        github: GithubClaims,
    ) -> Result<Self, IdentityError> {
        let p = Self {
            subject,
            issuer,
            github,
        };
        p.check_constrained()?;
        Ok(p)
    }

    /// Fails if the policy constrains nothing (fields are public, so this is re-checked at
    /// verification time).
    pub(crate) fn check_constrained(&self) -> Result<(), IdentityError> {
        if self.subject.is_empty() {
            return Err(IdentityError::NoConstraint(
                "the certificate identity is empty".into(),
            ));
        }
        if self.issuer.is_empty() {
            return Err(IdentityError::NoConstraint(
                "the OIDC issuer is empty".into(),
            ));
        }
        Ok(())
    }
}

/// Identity facts read from a Fulcio leaf certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertIdentity {
    pub identity: String,
    pub issuer: String,
    /// Readable names of Fulcio extensions → values.
    pub extensions: BTreeMap<String, String>,
    raw_ext: BTreeMap<u32, String>,
}

/// The Fulcio certificate extensions under `1.3.6.1.4.1.57264.1.`: OID arc → readable name.
/// The extensions of a verified certificate signer (`Signer::Certificate`) are keyed by
/// these names; the GitHub claim check reads them through this table too.
pub const FULCIO_EXTENSIONS: &[(u32, &str)] = &[
    (1, "issuer-v1"),
    (2, "github-workflow-trigger"),
    (3, "github-workflow-sha"),
    (4, "github-workflow-name"),
    (5, "github-workflow-repository"),
    (6, "github-workflow-ref"),
    (8, "issuer"),
    (9, "build-signer-uri"),
    (10, "build-signer-digest"),
    (11, "runner-environment"),
    (12, "source-repository-uri"),
    (13, "source-repository-digest"),
    (14, "source-repository-ref"),
    (15, "source-repository-identifier"),
    (16, "source-repository-owner-uri"),
    (17, "source-repository-owner-identifier"),
    (18, "build-config-uri"),
    (19, "build-config-digest"),
    (20, "build-trigger"),
    (21, "run-invocation-uri"),
    (22, "source-repository-visibility-at-signing"),
    (23, "deployment-environment"),
    (24, "token-subject"),
];

/// The readable name of the Fulcio extension `1.3.6.1.4.1.57264.1.<arc>`.
pub fn extension_name(arc: u32) -> Option<&'static str> {
    FULCIO_EXTENSIONS
        .iter()
        .find(|(n, _)| *n == arc)
        .map(|(_, name)| *name)
}

/// A GitHub workflow claim that the certificate does not satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMismatch {
    /// Which claim (`trigger`, `sha`, `name`, `repository`, `ref`).
    pub claim: &'static str,
    /// The value the policy asks for.
    pub expected: String,
    /// What the certificate carries (`None`: neither the deprecated extension nor its
    /// successor).
    pub found: Option<String>,
}

impl std::fmt::Display for ClaimMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "github workflow {}: expected `{}`, certificate has ",
            self.claim, self.expected
        )?;
        match &self.found {
            Some(v) => write!(f, "`{v}`"),
            None => f.write_str("none"),
        }
    }
}

impl std::error::Error for ClaimMismatch {}

impl GithubClaims {
    /// Compares the claims with a certificate's Fulcio extensions, given by OID arc
    /// (`ext(2)` is `1.3.6.1.4.1.57264.1.2`). The deprecated extension is used when present,
    /// else its successor (`.20` trigger, `.13` sha, `.12` repository as
    /// `https://github.com/<owner/repo>`, `.14` ref); `name` has no successor.
    pub fn check<'a>(&self, ext: impl Fn(u32) -> Option<&'a str>) -> Result<(), ClaimMismatch> {
        let checks: [(&'static str, &Option<String>, u32, Option<u32>); 5] = [
            ("trigger", &self.trigger, 2, Some(20)),
            ("sha", &self.sha, 3, Some(13)),
            ("name", &self.name, 4, None),
            ("repository", &self.repository, 5, Some(12)),
            ("ref", &self.git_ref, 6, Some(14)),
        ];
        for (claim, want, old, new) in checks {
            let Some(want) = want else { continue };
            let got = ext(old).or_else(|| {
                let v = ext(new?)?;
                Some(if old == 5 {
                    v.strip_prefix("https://github.com/").unwrap_or(v)
                } else {
                    v
                })
            });
            if got != Some(want.as_str()) {
                return Err(ClaimMismatch {
                    claim,
                    expected: want.clone(),
                    found: got.map(str::to_owned),
                });
            }
        }
        Ok(())
    }

    /// [`check`](Self::check) against extensions keyed by their readable names
    /// ([`FULCIO_EXTENSIONS`]), as in
    /// `Signer::Certificate`.
    pub fn check_named(&self, extensions: &BTreeMap<String, String>) -> Result<(), ClaimMismatch> {
        self.check(|arc| {
            extension_name(arc)
                .and_then(|name| extensions.get(name))
                .map(String::as_str)
        })
    }
}

/// Read SAN identity, issuer and Fulcio extensions from a DER certificate.
pub(crate) fn read_identity(cert_der: &[u8]) -> Result<CertIdentity, IdentityError> {
    let cert = Certificate::from_der(cert_der).map_err(|e| {
        IdentityError::CertificateParse(format!("cannot parse leaf certificate: {e}"))
    })?;
    let mut sans: Vec<String> = Vec::new();
    let mut raw_ext = BTreeMap::new();
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        let oid = ext.extn_id.to_string();
        let value = ext.extn_value.as_bytes();
        if oid == OID_SAN {
            let san = SubjectAltName::from_der(value).map_err(|e| {
                IdentityError::San(format!("cannot parse subjectAltName extension: {e}"))
            })?;
            for name in san.0 {
                match name {
                    GeneralName::Rfc822Name(s) => sans.push(s.to_string()),
                    GeneralName::UniformResourceIdentifier(s) => sans.push(s.to_string()),
                    GeneralName::OtherName(other)
                        if other.type_id.to_string() == OID_OTHERNAME_USERNAME =>
                    {
                        let v: Utf8StringRef<'_> = other.value.decode_as().map_err(|e| {
                            IdentityError::San(format!("bad otherName SAN value: {e}"))
                        })?;
                        sans.push(v.as_str().to_owned());
                    }
                    other => {
                        let kind = match other.to_der().map(|d| d.first().copied()) {
                            Ok(Some(tag)) => format!("tag 0x{tag:02x}"),
                            _ => "unknown tag".to_owned(),
                        };
                        return Err(IdentityError::San(format!(
                            "unsupported subjectAltName kind ({kind}); Fulcio certificates carry an email, URI or otherName identity"
                        )));
                    }
                }
            }
        } else if let Some(rest) = oid.strip_prefix(FULCIO_ARC) {
            let Ok(n) = rest.parse::<u32>() else { continue };
            let text = if n <= 6 {
                // Deprecated extensions are raw string bytes, not DER.
                String::from_utf8(value.to_vec()).map_err(|_| {
                    IdentityError::CertificateParse(format!("Fulcio extension {oid} is not UTF-8"))
                })?
            } else {
                Utf8StringRef::from_der(value)
                    .map(|s| s.as_str().to_owned())
                    .or_else(|_| Ia5StringRef::from_der(value).map(|s| s.as_str().to_owned()))
                    .map_err(|e| {
                        IdentityError::CertificateParse(format!(
                            "Fulcio extension {oid} is not a DER string: {e}"
                        ))
                    })?
            };
            if raw_ext.insert(n, text).is_some() {
                return Err(IdentityError::CertificateParse(format!(
                    "Fulcio extension {oid} appears twice"
                )));
            }
        }
    }
    let identity = match sans.len() {
        1 => sans.remove(0),
        0 => {
            return Err(IdentityError::San(
                "certificate has no email, URI or otherName subjectAltName".into(),
            ));
        }
        n => {
            return Err(IdentityError::San(format!(
                "certificate has {n} subjectAltNames; a Fulcio certificate has exactly one"
            )));
        }
    };
    let issuer = match (raw_ext.get(&8), raw_ext.get(&1)) {
        (Some(v2), Some(v1)) if v2 != v1 => {
            return Err(IdentityError::IssuerExtension(format!(
                "certificate issuer extensions disagree: .1.8 `{v2}` vs .1.1 `{v1}`"
            )));
        }
        (Some(v), _) | (None, Some(v)) => v.clone(),
        (None, None) => {
            return Err(IdentityError::IssuerExtension(
                "certificate has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)".into(),
            ));
        }
    };
    let extensions = raw_ext
        .iter()
        .filter_map(|(n, v)| extension_name(*n).map(|name| (name.to_owned(), v.clone())))
        .collect();
    Ok(CertIdentity {
        identity,
        issuer,
        extensions,
        raw_ext,
    })
}

impl CertIdentity {
    /// Apply `policy`; the error names the failing check.
    pub(crate) fn check(&self, policy: &IdentityPolicy) -> Result<(), IdentityError> {
        policy.check_constrained()?;
        if !policy.subject.matches(&self.identity) {
            return Err(IdentityError::IdentityMismatch {
                identity: self.identity.clone(),
                expected: policy.subject.to_string(),
            });
        }
        if !policy.issuer.matches(&self.issuer) {
            return Err(IdentityError::IssuerMismatch {
                issuer: self.issuer.clone(),
                expected: policy.issuer.to_string(),
            });
        }
        policy
            .github
            .check(|arc| self.raw_ext.get(&arc).map(String::as_str))
            .map_err(IdentityError::GithubClaim)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored() {
        let m = Matcher::regex(".*@example\\.com").unwrap();
        assert!(m.matches("a@example.com"));
        assert!(!m.matches("a@example.com.evil"));
        let m = Matcher::regex("example").unwrap();
        assert!(!m.matches("a@example.com"));
        // Alternation stays inside the anchors.
        let m = Matcher::regex("a|b").unwrap();
        assert!(m.matches("a") && !m.matches("ab") && !m.matches("xa"));
    }

    #[test]
    fn refuses_empty_constraints() {
        let no_constraint = |r: Result<IdentityPolicy, IdentityError>| {
            matches!(r, Err(IdentityError::NoConstraint(_)))
        };
        assert!(no_constraint(IdentityPolicy::new(
            Matcher::Exact(String::new()),
            Matcher::Exact("x".into()),
            GithubClaims::default()
        )));
        assert!(no_constraint(IdentityPolicy::new(
            Matcher::Exact("x".into()),
            Matcher::Exact(String::new()),
            GithubClaims::default()
        )));
        assert!(matches!(
            Matcher::regex(""),
            Err(IdentityError::NoConstraint(_))
        ));
        assert!(matches!(
            Matcher::regex("("),
            Err(IdentityError::InvalidRegex { ref pattern, .. }) if pattern == "("
        ));
    }

    #[test]
    fn unanchored_regex_matches_anywhere() {
        let m = Matcher::unanchored_regex("example\\.com").unwrap();
        assert!(m.matches("a@example.com.evil"));
        let m = Matcher::unanchored_regex("^a@example\\.com$").unwrap();
        assert!(!m.matches("a@example.com.evil") && m.matches("a@example.com"));
        assert!(matches!(
            Matcher::unanchored_regex("("),
            Err(IdentityError::InvalidRegex { .. })
        ));
    }

    fn legacy_cert() -> Vec<u8> {
        let pem = std::fs::read(
            crate::format::vectors_dir()
                .join("derived/legacy-sig-keyless-containers-image/certificate.pem"),
        )
        .unwrap();
        pem::parse(pem).unwrap().into_contents()
    }

    #[test]
    fn reads_legacy_v1_issuer_and_email() {
        let id = read_identity(&legacy_cert()).unwrap();
        assert_eq!(id.identity, "mitr@redhat.com");
        assert_eq!(id.issuer, "https://github.com/login/oauth");
        let pol = IdentityPolicy::new(
            Matcher::Exact("mitr@redhat.com".into()),
            Matcher::Exact("https://github.com/login/oauth".into()),
            GithubClaims::default(),
        )
        .unwrap();
        id.check(&pol).unwrap();
        let mut wrong = pol.clone();
        wrong.subject = Matcher::Exact("mitr@redhat.co".into());
        assert_eq!(
            id.check(&wrong),
            Err(IdentityError::IdentityMismatch {
                identity: "mitr@redhat.com".into(),
                expected: "`mitr@redhat.co`".into(),
            })
        );
        let mut wrong = pol.clone();
        wrong.issuer = Matcher::Exact("https://accounts.google.com".into());
        assert!(matches!(
            id.check(&wrong),
            Err(IdentityError::IssuerMismatch { ref issuer, .. }) if issuer == "https://github.com/login/oauth"
        ));
        // A GitHub claim the certificate does not carry fails.
        let mut wrong = pol;
        wrong.github.trigger = Some("push".into());
        assert_eq!(
            id.check(&wrong),
            Err(IdentityError::GithubClaim(ClaimMismatch {
                claim: "trigger",
                expected: "push".into(),
                found: None,
            }))
        );
    }

    #[test]
    fn github_claims_fall_back_to_v2_extensions() {
        let raw_ext: BTreeMap<u32, String> = [
            (12, "https://github.com/o/r".to_owned()),
            (13, "abc".to_owned()),
            (14, "refs/heads/main".to_owned()),
            (20, "push".to_owned()),
        ]
        .into_iter()
        .collect();
        let id = CertIdentity {
            identity: "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main".into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            extensions: BTreeMap::new(),
            raw_ext,
        };
        let pol = |g: GithubClaims| {
            IdentityPolicy::new(
                Matcher::regex("https://github.com/o/r/.*").unwrap(),
                Matcher::Exact("https://token.actions.githubusercontent.com".into()),
                g,
            )
            .unwrap()
        };
        let good = GithubClaims {
            trigger: Some("push".into()),
            sha: Some("abc".into()),
            name: None,
            repository: Some("o/r".into()),
            git_ref: Some("refs/heads/main".into()),
        };
        id.check(&pol(good.clone())).unwrap();
        // `name` has no successor: asking for it fails when .4 is absent.
        let mut g = good.clone();
        g.name = Some("wf".into());
        assert!(matches!(
            id.check(&pol(g)),
            Err(IdentityError::GithubClaim(ClaimMismatch {
                claim: "name",
                found: None,
                ..
            }))
        ));
        let mut g = good;
        g.repository = Some("o/other".into());
        assert!(matches!(
            id.check(&pol(g)),
            Err(IdentityError::GithubClaim(ClaimMismatch { claim: "repository", ref found, .. }))
                if found.as_deref() == Some("o/r")
        ));
    }
}
