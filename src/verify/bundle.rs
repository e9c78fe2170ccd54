//! Sigstore bundle verification (v0.1/v0.2/v0.3) and keyless identity checks, offline against
//! a trust root; the shared core of legacy keyless layer verification ([`super::legacy`]) too.
//!
//! The cryptographic work is done by `sigstore-verify` 0.15 (certificate chain at the signing
//! time, SCT, SET, inclusion proof + checkpoint, RFC 3161 timestamps, Rekor v2, DSSE and
//! message signatures, tlog-body consistency). On our side ([`identity`]) we apply the identity
//! policy (regexes, issuer, GitHub claims) and some stricter checks the crate does not make;
//! each one says so in a comment (look for "our check").

use sigstore_types::{Bundle, SignatureContent};
use sigstore_verify::{
    CertificateError, Error as SvError, PublicKeyVerificationPolicy, TimestampError,
    TransparencyLogError,
};

use crate::format::digest::Digest;
pub use crate::verify::proof::{BundleContent, VerifiedBundle};
use crate::verify::proof::{Signer, TlogEvidence, seal_bundle};

use crate::trust::identity;
use crate::trust::{IdentityPolicy, TrustRoot};

/// Why a bundle (or legacy keyless layer) was rejected. Each variant names the failing check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle JSON (or an annotation) is malformed or of an unsupported version.
    #[error("malformed bundle: {0}")]
    Malformed(String),
    /// The bundle uses a feature we cannot verify.
    #[error("unsupported bundle: {0}")]
    Unsupported(String),
    /// The trusted root cannot be used.
    #[error("trusted root {source_name}: {detail}")]
    TrustRoot {
        /// Which root (path or "embedded").
        source_name: String,
        /// What is wrong.
        detail: String,
    },
    /// Keyless verification was asked for without an identity constraint.
    #[error("no identity constraint: {0}")]
    NoIdentityConstraint(String),
    /// The signing certificate is malformed, expired or not valid at the signing time.
    #[error("certificate check failed: {0}")]
    Certificate(String),
    /// The certificate does not chain to a trusted Fulcio CA (or the chain material is bad).
    #[error("certificate-chain check failed: {0}")]
    CertificateChain(String),
    /// The embedded SCT is missing or does not verify.
    #[error("sct check failed: {0}")]
    Sct(String),
    /// The inclusion promise (SET) is missing or does not verify.
    #[error("tlog-set check failed: {0}")]
    TlogSet(String),
    /// The Merkle inclusion proof does not verify.
    #[error("inclusion-proof check failed: {0}")]
    InclusionProof(String),
    /// The checkpoint (signed tree head) does not verify.
    #[error("checkpoint check failed: {0}")]
    Checkpoint(String),
    /// The tlog entry's body does not describe this signature/payload/certificate, or names an
    /// unknown log, or its integrated time is invalid.
    #[error("tlog-entry check failed: {0}")]
    TlogEntry(String),
    /// The signature does not verify.
    #[error("signature check failed: {0}")]
    Signature(String),
    /// The certificate identity (SAN) does not match the policy.
    #[error("identity check failed: {0}")]
    Identity(String),
    /// The OIDC issuer does not match the policy.
    #[error("issuer check failed: {0}")]
    Issuer(String),
    /// A GitHub workflow claim does not match.
    #[error("github-claim check failed: {0}")]
    GithubClaim(String),
    /// The artifact's digest does not match the bundle (message digest or statement subject).
    #[error("artifact-digest check failed: {0}")]
    ArtifactDigest(String),
    /// An RFC 3161 timestamp is invalid, or no verified signing time exists.
    #[error("timestamp check failed: {0}")]
    Timestamp(String),
    /// The key given by the verifier is unusable.
    #[error("public key: {0}")]
    Key(String),
}

impl BundleError {
    /// Which check failed, as a value (the gate maps it to a reason code).
    pub fn kind(&self) -> BundleCheck {
        match self {
            Self::Malformed(_) => BundleCheck::BundleFormat,
            Self::Unsupported(_) => BundleCheck::BundleSupport,
            Self::TrustRoot { .. } => BundleCheck::TrustRoot,
            Self::NoIdentityConstraint(_) => BundleCheck::IdentityPolicy,
            Self::Certificate(_) => BundleCheck::Certificate,
            Self::CertificateChain(_) => BundleCheck::CertificateChain,
            Self::Sct(_) => BundleCheck::Sct,
            Self::TlogSet(_) => BundleCheck::TlogSet,
            Self::InclusionProof(_) => BundleCheck::InclusionProof,
            Self::Checkpoint(_) => BundleCheck::Checkpoint,
            Self::TlogEntry(_) => BundleCheck::TlogEntry,
            Self::Signature(_) => BundleCheck::Signature,
            Self::Identity(_) => BundleCheck::Identity,
            Self::Issuer(_) => BundleCheck::Issuer,
            Self::GithubClaim(_) => BundleCheck::GithubClaim,
            Self::ArtifactDigest(_) => BundleCheck::ArtifactDigest,
            Self::Timestamp(_) => BundleCheck::Timestamp,
            Self::Key(_) => BundleCheck::Key,
        }
    }

    /// A short name of the failing check (`certificate-chain`, `sct`, `tlog-set`, ...).
    pub fn check(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// The check of Sigstore verification that rejected a bundle or a legacy keyless layer: the
/// kind of a [`BundleError`], without its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BundleCheck {
    /// The bundle JSON (or an annotation) is malformed or of an unsupported version.
    BundleFormat,
    /// The bundle uses a feature we cannot verify.
    BundleSupport,
    /// The trusted root cannot be used.
    TrustRoot,
    /// Keyless verification was asked for without an identity constraint.
    IdentityPolicy,
    /// The signing certificate is malformed, expired or not valid at the signing time.
    Certificate,
    /// The certificate does not chain to a trusted Fulcio CA.
    CertificateChain,
    /// The embedded SCT is missing or does not verify.
    Sct,
    /// The inclusion promise (SET) is missing or does not verify.
    TlogSet,
    /// The Merkle inclusion proof does not verify.
    InclusionProof,
    /// The checkpoint does not verify.
    Checkpoint,
    /// The tlog entry does not describe this signature, or names an unknown log.
    TlogEntry,
    /// The signature does not verify.
    Signature,
    /// The certificate identity (SAN) does not match the policy.
    Identity,
    /// The OIDC issuer does not match the policy.
    Issuer,
    /// A GitHub workflow claim does not match.
    GithubClaim,
    /// The artifact's digest does not match the bundle (message digest or statement subject).
    ArtifactDigest,
    /// An RFC 3161 timestamp is invalid, or no verified signing time exists.
    Timestamp,
    /// The key given by the verifier is unusable.
    Key,
}

impl BundleCheck {
    /// The kebab-case name (`certificate-chain`, `sct`, `tlog-set`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BundleFormat => "bundle-format",
            Self::BundleSupport => "bundle-support",
            Self::TrustRoot => "trust-root",
            Self::IdentityPolicy => "identity-policy",
            Self::Certificate => "certificate",
            Self::CertificateChain => "certificate-chain",
            Self::Sct => "sct",
            Self::TlogSet => "tlog-set",
            Self::InclusionProof => "inclusion-proof",
            Self::Checkpoint => "checkpoint",
            Self::TlogEntry => "tlog-entry",
            Self::Signature => "signature",
            Self::Identity => "identity",
            Self::Issuer => "issuer",
            Self::GithubClaim => "github-claim",
            Self::ArtifactDigest => "artifact-digest",
            Self::Timestamp => "timestamp",
            Self::Key => "key",
        }
    }
}

impl std::fmt::Display for BundleCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<crate::trust::TrustRootError> for BundleError {
    fn from(e: crate::trust::TrustRootError) -> Self {
        Self::TrustRoot {
            source_name: e.source_name,
            detail: e.detail,
        }
    }
}

impl From<crate::trust::IdentityError> for BundleError {
    fn from(e: crate::trust::IdentityError) -> Self {
        use crate::trust::IdentityError as E;
        let s = e.to_string();
        match e {
            E::NoConstraint(_) | E::InvalidRegex { .. } => Self::NoIdentityConstraint(s),
            E::CertificateParse(_) => Self::Certificate(s),
            E::San(_) | E::IdentityMismatch { .. } => Self::Identity(s),
            E::IssuerExtension(_) | E::IssuerMismatch { .. } => Self::Issuer(s),
            E::GithubClaim(_) => Self::GithubClaim(s),
        }
    }
}

impl From<SvError> for BundleError {
    fn from(e: SvError) -> Self {
        let s = e.to_string();
        match e {
            SvError::IdentityMismatch { .. } => Self::Identity(s),
            SvError::IssuerMismatch { .. } => Self::Issuer(s),
            SvError::SignatureInvalid(_) => Self::Signature(s),
            SvError::ArtifactMismatch(_) | SvError::UnsupportedArtifact(_) => {
                Self::ArtifactDigest(s)
            }
            SvError::Certificate(c) => match c {
                CertificateError::ChainInvalid(_) | CertificateError::NoValidAuthority { .. } => {
                    Self::CertificateChain(s)
                }
                CertificateError::Sct(_) => Self::Sct(s),
                _ => Self::Certificate(s),
            },
            SvError::TransparencyLog(t) => match t {
                TransparencyLogError::InclusionProof(_) => Self::InclusionProof(s),
                TransparencyLogError::Checkpoint(_) => Self::Checkpoint(s),
                TransparencyLogError::InclusionPromise(_) => Self::TlogSet(s),
                _ => Self::TlogEntry(s),
            },
            SvError::Timestamp(t) => match t {
                TimestampError::Invalid(_)
                | TimestampError::OutsideAuthorityValidity { .. }
                | TimestampError::NoVerifiedTimestamp(_) => Self::Timestamp(s),
                _ => Self::Timestamp(s),
            },
            SvError::InvalidBundle(_) | SvError::Bundle(_) | SvError::Types(_) => {
                Self::Malformed(s)
            }
            SvError::UnsupportedBundle(_) => Self::Unsupported(s),
            SvError::InvalidTrustRoot(_)
            | SvError::TrustRoot(_)
            | SvError::TrustedCertificate(_) => Self::TrustRoot {
                source_name: "trusted root".into(),
                detail: s,
            },
            SvError::Crypto(_) => Self::Signature(s),
            _ => Self::Malformed(s),
        }
    }
}

/// What the signer must be.
#[derive(Debug, Clone)]
pub enum VerificationPolicy {
    /// A public key given by the verifier (SubjectPublicKeyInfo DER).
    Key {
        /// SPKI DER of the key.
        spki_der: Vec<u8>,
    },
    /// A Fulcio certificate with a matching identity.
    Keyless(IdentityPolicy),
}

/// The artifact a bundle is checked against.
#[derive(Debug, Clone)]
pub enum Artifact<'a> {
    /// The artifact bytes.
    Bytes(&'a [u8]),
    /// The artifact's sha256 digest.
    Digest(Digest),
}

/// The sha256 subject digests of an in-toto statement (used when the caller checks subjects).
pub(crate) fn first_statement_subject(payload: &[u8]) -> Result<Digest, BundleError> {
    let v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| BundleError::Malformed(format!("DSSE payload is not JSON: {e}")))?;
    v.get("subject")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("digest")?.get("sha256")?.as_str())
        .find_map(|h| Digest::from_hex(&h.to_ascii_lowercase()).ok())
        .ok_or_else(|| {
            BundleError::ArtifactDigest("in-toto statement has no sha256 subject".into())
        })
}

fn sha256_hash(d: &Digest) -> sigstore_types::Sha256Hash {
    sigstore_types::Sha256Hash::new(d.raw())
}

/// Our check (sigstore-go makes it, the crate does not): a v0.1/v0.2 certificate chain in the
/// bundle must not contain a self-signed (root) certificate; trust anchors come only from the
/// trusted root.
fn check_bundle_chain(bundle: &Bundle) -> Result<(), BundleError> {
    use x509_cert::der::Decode;
    if let sigstore_types::bundle::VerificationMaterialContent::X509CertificateChain {
        certificates,
    } = &bundle.verification_material.content
    {
        let max = crate::limits::Limits::DEFAULT.max_cert_chain_len;
        if certificates.len() > max {
            return Err(BundleError::CertificateChain(format!(
                "max_cert_chain_len: the bundle's certificate chain has {} certificates, over \
                 the limit of {max}",
                certificates.len()
            )));
        }
        for (i, c) in certificates.iter().enumerate() {
            let cert = x509_cert::Certificate::from_der(c.raw_bytes.as_bytes()).map_err(|e| {
                BundleError::CertificateChain(format!("bundle certificate {}: {e}", i + 1))
            })?;
            if cert.tbs_certificate.subject == cert.tbs_certificate.issuer {
                return Err(BundleError::CertificateChain(format!(
                    "bundle certificate chain contains a self-signed root certificate (position {})",
                    i + 1
                )));
            }
        }
    }
    Ok(())
}

/// Our check (cosign and sigstore-go make it; the crate loads every trust-root CA certificate
/// as an anchor, whose own notBefore/notAfter webpki does not check): some trust-root CA chain
/// that issues the leaf must have all its certificates valid at the signing time `t`.
pub(crate) fn check_ca_valid_at(
    leaf_der: &[u8],
    trust: &TrustRoot,
    t: i64,
) -> Result<(), BundleError> {
    use x509_cert::der::Decode;
    let leaf = x509_cert::Certificate::from_der(leaf_der)
        .map_err(|e| BundleError::Certificate(format!("cannot parse leaf certificate: {e}")))?;
    let mut issuing = 0;
    for ca in &trust.root().certificate_authorities {
        let certs: Vec<x509_cert::Certificate> = ca
            .cert_chain
            .certificates
            .iter()
            .filter_map(|c| x509_cert::Certificate::from_der(c.raw_bytes.as_bytes()).ok())
            .collect();
        let issues_leaf = certs
            .first()
            .is_some_and(|first| first.tbs_certificate.subject == leaf.tbs_certificate.issuer);
        if issues_leaf {
            issuing += 1;
            if certs.iter().all(|c| super::legacy::valid_at(c, t)) {
                return Ok(());
            }
        }
    }
    Err(BundleError::CertificateChain(if issuing == 0 {
        format!(
            "no trusted CA issues the certificate (issuer `{}`)",
            leaf.tbs_certificate.issuer
        )
    } else {
        format!("the issuing CA certificates are not all valid at the signing time {t}")
    }))
}

/// Verify a Sigstore bundle (JSON bytes) against `policy` and `trust`.
///
/// `artifact`: `Some` checks the message digest (message-signature bundles) or that the
/// artifact is a subject of the in-toto statement (DSSE bundles). `None` is only allowed for
/// DSSE bundles, and then the **caller** must check the statement's subject (image
/// attestations do this against the image digest).
pub fn verify_bundle(
    bundle_json: &[u8],
    artifact: Option<Artifact<'_>>,
    policy: &VerificationPolicy,
    trust: &TrustRoot,
) -> Result<VerifiedBundle, BundleError> {
    verify_bundle_with(
        bundle_json,
        artifact,
        policy,
        trust,
        VerifyOptions::default(),
    )
}

/// Options that weaken [`verify_bundle`]; the default is the safe setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Accept a bundle without transparency-log proof (cosign `--insecure-ignore-tlog`): no
    /// inclusion proof, checkpoint or SET is required. Tlog entries that are present are still
    /// checked for consistency with the bundle, and a keyless bundle still needs a verified
    /// signing time (an RFC 3161 timestamp). Needed for key-signed bundles written without a
    /// tlog upload.
    pub insecure_ignore_tlog: bool,
}

impl VerifyOptions {
    /// The default (safe) options: the transparency log is required.
    pub fn new() -> Self {
        Self::default()
    }
    /// Set [`VerifyOptions::insecure_ignore_tlog`].
    pub fn insecure_ignore_tlog(mut self, yes: bool) -> Self {
        self.insecure_ignore_tlog = yes;
        self
    }
}

/// [`verify_bundle`] with explicit [`VerifyOptions`].
pub fn verify_bundle_with(
    bundle_json: &[u8],
    artifact: Option<Artifact<'_>>,
    policy: &VerificationPolicy,
    trust: &TrustRoot,
    options: VerifyOptions,
) -> Result<VerifiedBundle, BundleError> {
    let text = std::str::from_utf8(bundle_json)
        .map_err(|_| BundleError::Malformed("bundle is not UTF-8".into()))?;
    let bundle = Bundle::from_json(text).map_err(|e| BundleError::Malformed(e.to_string()))?;
    verify_parsed(&bundle, artifact, policy, trust, options)
}

pub(crate) fn verify_parsed(
    bundle: &Bundle,
    artifact: Option<Artifact<'_>>,
    policy: &VerificationPolicy,
    trust: &TrustRoot,
    options: VerifyOptions,
) -> Result<VerifiedBundle, BundleError> {
    let content = match &bundle.content {
        SignatureContent::MessageSignature(m) => {
            let digest = m
                .message_digest
                .as_ref()
                .filter(|d| d.algorithm == sigstore_types::HashAlgorithm::Sha2256)
                .and_then(|d| <[u8; 32]>::try_from(d.digest.as_bytes()).ok())
                .map(|raw| Digest::from_raw(&raw));
            let digest = match (digest, &artifact) {
                (Some(d), _) => d,
                (None, Some(Artifact::Bytes(b))) => Digest::of(b),
                (None, Some(Artifact::Digest(d))) => d.clone(),
                (None, None) => {
                    return Err(BundleError::ArtifactDigest(
                        "a message-signature bundle needs the artifact".into(),
                    ));
                }
            };
            BundleContent::MessageSignature { digest }
        }
        SignatureContent::DsseEnvelope(env) => BundleContent::Dsse {
            payload_type: env.payload_type.clone(),
            payload: env.payload.as_bytes().to_vec(),
        },
        _ => return Err(BundleError::Unsupported("unknown bundle content".into())),
    };
    // With no artifact (DSSE only), bind to the statement's own subject; the caller checks it.
    let subject;
    let sv_artifact: sigstore_types::Artifact<'_> = match artifact {
        Some(Artifact::Bytes(b)) => sigstore_types::Artifact::from_blob(b),
        Some(Artifact::Digest(d)) => sigstore_types::Artifact::from_digest(sha256_hash(&d)),
        None => match &content {
            BundleContent::Dsse { payload, .. } => {
                subject = first_statement_subject(payload)?;
                sigstore_types::Artifact::from_digest(sha256_hash(&subject))
            }
            BundleContent::MessageSignature { .. } => {
                return Err(BundleError::ArtifactDigest(
                    "a message-signature bundle needs the artifact".into(),
                ));
            }
        },
    };

    let verifier = trust.verifier();
    let signing_time: Option<i64>;
    let signer = match policy {
        VerificationPolicy::Key { spki_der } => {
            let key = sigstore_types::DerPublicKey::new(spki_der.clone());
            let mut key_policy = PublicKeyVerificationPolicy::new(key);
            if options.insecure_ignore_tlog {
                key_policy = key_policy.skip_tlog_unsafe();
            }
            let result = verifier.verify(sv_artifact, bundle, &key_policy)?;
            if !options.insecure_ignore_tlog && !result.tlog_verified() {
                return Err(BundleError::TlogEntry(
                    "verifier did not report the tlog entry verified".into(),
                ));
            }
            signing_time = result.verified_timestamps().first().map(|t| t.as_second());
            Signer::Key {
                fingerprint: Digest::of(spki_der).to_string(),
            }
        }
        VerificationPolicy::Keyless(identity) => {
            identity.check_constrained()?;
            let cert = bundle.signing_certificate().ok_or_else(|| {
                BundleError::Certificate(
                    "keyless verification needs a certificate in the bundle".into(),
                )
            })?;
            check_bundle_chain(bundle)?;
            // Identity, issuer and claims are matched by us (regexes, GitHub claims, stricter
            // SAN/issuer rules); the crate does chain, SCT, tlog, timestamps and signature.
            let mut policy = sigstore_verify::VerificationPolicy::any_identity();
            if options.insecure_ignore_tlog {
                policy = policy.skip_tlog_unsafe();
            }
            let result = verifier.verify(sv_artifact, bundle, &policy)?;
            if !(result.certificate_verified()
                && result.sct_verified()
                && (options.insecure_ignore_tlog || result.tlog_verified()))
            {
                return Err(BundleError::CertificateChain(
                    "verifier did not report chain, SCT and tlog all verified".into(),
                ));
            }
            signing_time = result.verified_timestamps().first().map(|t| t.as_second());
            for t in result.verified_timestamps() {
                check_ca_valid_at(cert.as_bytes(), trust, t.as_second())?;
            }
            let id = identity::read_identity(cert.as_bytes())?;
            id.check(identity)?;
            Signer::Certificate {
                identity: id.identity,
                issuer: id.issuer,
                extensions: id.extensions,
            }
        }
    };
    let tlog = bundle
        .verification_material
        .tlog_entries
        .first()
        .map(|e| TlogEvidence {
            log_index: e.log_index.as_i64(),
            // Rekor v2 entries have no integrated time; report the verified (TSA) time.
            integrated_time: e
                .integrated_time
                .map(|t| t.as_second())
                .or(signing_time)
                .unwrap_or(0),
            log_id: hex::encode(e.log_id.key_id.as_bytes()),
        });
    Ok(seal_bundle(signer, tlog, content))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::trust::{GithubClaims, Matcher};

    fn conf() -> std::path::PathBuf {
        crate::format::vectors_dir().join("sigstore-conformance/bundle-verify")
    }
    const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    const ISS: &str = "https://token.actions.githubusercontent.com";

    fn keyless(id: &str, iss: &str) -> VerificationPolicy {
        VerificationPolicy::Keyless(
            IdentityPolicy::new(
                Matcher::Exact(id.into()),
                Matcher::Exact(iss.into()),
                GithubClaims::default(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn happy_path_v03_and_negatives() {
        let trust = TrustRoot::public_good().unwrap();
        let bundle = std::fs::read(conf().join("happy-path-v0.3/bundle.sigstore.json")).unwrap();
        let art = std::fs::read(conf().join("a.txt")).unwrap();
        let v = verify_bundle(
            &bundle,
            Some(Artifact::Bytes(&art)),
            &keyless(ID, ISS),
            &trust,
        )
        .unwrap();
        assert!(matches!(v.signer(), Signer::Certificate { identity, .. } if identity == ID));
        assert!(v.tlog().is_some());
        // By digest too.
        let d = Digest::of(&art);
        verify_bundle(
            &bundle,
            Some(Artifact::Digest(d)),
            &keyless(ID, ISS),
            &trust,
        )
        .unwrap();
        // Wrong artifact.
        let e = verify_bundle(
            &bundle,
            Some(Artifact::Bytes(b"nope")),
            &keyless(ID, ISS),
            &trust,
        )
        .unwrap_err();
        assert_eq!(e.check(), "artifact-digest", "{e}");
        // Wrong identity / issuer.
        let e = verify_bundle(
            &bundle,
            Some(Artifact::Bytes(&art)),
            &keyless("x", ISS),
            &trust,
        )
        .unwrap_err();
        assert_eq!(e.check(), "identity", "{e}");
        let e = verify_bundle(
            &bundle,
            Some(Artifact::Bytes(&art)),
            &keyless(ID, "x"),
            &trust,
        )
        .unwrap_err();
        assert_eq!(e.check(), "issuer", "{e}");
        // Regex that only matches a prefix is rejected (anchored).
        let pol = VerificationPolicy::Keyless(
            IdentityPolicy::new(
                Matcher::regex("https://github.com/sigstore-conformance/").unwrap(),
                Matcher::Exact(ISS.into()),
                GithubClaims::default(),
            )
            .unwrap(),
        );
        assert!(verify_bundle(&bundle, Some(Artifact::Bytes(&art)), &pol, &trust).is_err());
        let pol = VerificationPolicy::Keyless(
            IdentityPolicy::new(
                Matcher::regex("https://github.com/sigstore-conformance/.*").unwrap(),
                Matcher::regex("https://token\\.actions\\.githubusercontent\\.com").unwrap(),
                GithubClaims::default(),
            )
            .unwrap(),
        );
        verify_bundle(&bundle, Some(Artifact::Bytes(&art)), &pol, &trust).unwrap();
        // A public key cannot verify a keyless bundle.
        let e = verify_bundle(
            &bundle,
            Some(Artifact::Bytes(&art)),
            &VerificationPolicy::Key {
                spki_der: vec![1, 2, 3],
            },
            &trust,
        );
        assert!(e.is_err());
    }

    #[test]
    fn oci_attestation_without_artifact() {
        let trust = TrustRoot::public_good().unwrap();
        let bundle = std::fs::read(
            crate::format::vectors_dir()
                .join("bundles/cosign-oci-attestation/oci-attestation.sigstore.json"),
        )
        .unwrap();
        let v = verify_bundle(
            &bundle,
            None,
            &keyless("cody@soyland.com", "https://github.com/login/oauth"),
            &trust,
        )
        .unwrap();
        match v.content() {
            BundleContent::Dsse { payload, .. } => {
                assert_eq!(
                    first_statement_subject(payload).unwrap().to_string(),
                    "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn github_claims_from_certificate() {
        let trust = TrustRoot::public_good().unwrap();
        let bundle = std::fs::read(conf().join("happy-path-v0.3/bundle.sigstore.json")).unwrap();
        let art = std::fs::read(conf().join("a.txt")).unwrap();
        let v = verify_bundle(
            &bundle,
            Some(Artifact::Bytes(&art)),
            &keyless(ID, ISS),
            &trust,
        )
        .unwrap();
        let Signer::Certificate { extensions, .. } = v.signer() else {
            panic!("not a certificate signer")
        };
        let get = |k: &str| extensions.get(k).cloned();
        let claims = GithubClaims {
            trigger: get("github-workflow-trigger").or(get("build-trigger")),
            sha: get("github-workflow-sha").or(get("source-repository-digest")),
            name: get("github-workflow-name"),
            repository: get("github-workflow-repository"),
            git_ref: get("github-workflow-ref").or(get("source-repository-ref")),
        };
        assert!(claims.trigger.is_some() && claims.sha.is_some() && claims.git_ref.is_some());
        let with = |c: GithubClaims| {
            VerificationPolicy::Keyless(
                IdentityPolicy::new(Matcher::Exact(ID.into()), Matcher::Exact(ISS.into()), c)
                    .unwrap(),
            )
        };
        verify_bundle(
            &bundle,
            Some(Artifact::Bytes(&art)),
            &with(claims.clone()),
            &trust,
        )
        .unwrap();
        let mut bad = claims.clone();
        bad.sha = Some("0".repeat(40));
        let e =
            verify_bundle(&bundle, Some(Artifact::Bytes(&art)), &with(bad), &trust).unwrap_err();
        assert_eq!(e.check(), "github-claim", "{e}");
        let mut bad = claims;
        bad.git_ref = Some("refs/heads/evil".into());
        assert!(verify_bundle(&bundle, Some(Artifact::Bytes(&art)), &with(bad), &trust).is_err());
    }

    #[test]
    fn staging_root_and_non_dsse_without_artifact() {
        assert!(TrustRoot::staging().is_ok());
        let trust = TrustRoot::public_good().unwrap();
        let bundle = std::fs::read(conf().join("happy-path-v0.3/bundle.sigstore.json")).unwrap();
        let e = verify_bundle(&bundle, None, &keyless(ID, ISS), &trust).unwrap_err();
        assert_eq!(e.check(), "artifact-digest");
        let e = verify_bundle(b"{}", None, &keyless(ID, ISS), &trust).unwrap_err();
        assert_eq!(e.check(), "bundle-format");
        let e = verify_bundle(b"\xff", None, &keyless(ID, ISS), &trust).unwrap_err();
        assert_eq!(e.check(), "bundle-format");
    }

    #[test]
    fn insecure_ignore_tlog_option() {
        let trust = TrustRoot::public_good().unwrap();
        let art = std::fs::read(conf().join("a.txt")).unwrap();
        let strip = |case: &str| {
            let mut b: serde_json::Value = serde_json::from_slice(
                &std::fs::read(conf().join(case).join("bundle.sigstore.json")).unwrap(),
            )
            .unwrap();
            b["verificationMaterial"]["tlogEntries"] = serde_json::json!([]);
            serde_json::to_vec(&b).unwrap()
        };
        let key = pem::parse(std::fs::read(conf().join("managed-key-happy-path/key.pub")).unwrap())
            .unwrap()
            .into_contents();
        let key_pol = VerificationPolicy::Key { spki_der: key };
        let no_tlog = strip("managed-key-happy-path");
        // Default: the tlog is required.
        assert!(verify_bundle(&no_tlog, Some(Artifact::Bytes(&art)), &key_pol, &trust).is_err());
        let insecure = VerifyOptions::new().insecure_ignore_tlog(true);
        let v = verify_bundle_with(
            &no_tlog,
            Some(Artifact::Bytes(&art)),
            &key_pol,
            &trust,
            insecure,
        )
        .unwrap();
        assert!(v.tlog().is_none());
        assert!(matches!(v.signer(), Signer::Key { .. }));
        // Still checks the signature.
        assert!(
            verify_bundle_with(
                &no_tlog,
                Some(Artifact::Bytes(b"x")),
                &key_pol,
                &trust,
                insecure
            )
            .is_err()
        );
        // Keyless without tlog and without a timestamp has no signing time: rejected.
        let keyless_no_tlog = strip("happy-path-v0.3");
        let e = verify_bundle_with(
            &keyless_no_tlog,
            Some(Artifact::Bytes(&art)),
            &keyless(ID, ISS),
            &trust,
            insecure,
        )
        .unwrap_err();
        assert_eq!(e.check(), "bundle-format", "{e}");
    }
}
