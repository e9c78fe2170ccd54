//! The Notation verification workflow (signing-and-verification-workflow and
//! trust-store-trust-policy specifications): integrity, authenticity, expiry, authentic
//! timestamp and revocation, each enforced, logged or skipped as the trust policy says.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::envelope::{Algorithm, Envelope, Format, SigningScheme};
use super::timestamp;
use super::trustpolicy::{
    Action, Check, Identities, Statement, StoreType, TrustStores, VerifyTimestamp,
};
use super::x509::{self, Cert, KeyKind};

/// The artifact a signature must be for: its manifest descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactDescriptor {
    /// The manifest media type.
    pub media_type: String,
    /// `sha256:<hex>` (or another algorithm Notation allows).
    pub digest: String,
    /// The manifest size in bytes.
    pub size: u64,
}

/// Options of one verification; the clock is injected.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Verification time, unix seconds ("now").
    pub at: i64,
    /// Payload annotations the signature must carry (`notation verify --user-metadata`).
    pub user_metadata: BTreeMap<String, String>,
}

/// A validation failure that the policy only logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedFailure {
    /// Which validation.
    pub check: Check,
    /// Why it failed.
    pub reason: String,
}

/// Proof that a Notation signature verified under a trust policy statement. Made only by
/// [`verify_signature`].
#[derive(Debug, Clone)]
pub struct VerifiedNotation {
    signer: String,
    leaf_sha256: String,
    format: Format,
    scheme: SigningScheme,
    statement: String,
    logged: Vec<LoggedFailure>,
    annotations: BTreeMap<String, String>,
    signing_time: Option<i64>,
}

impl VerifiedNotation {
    /// The signing certificate's subject DN.
    pub fn signer(&self) -> &str {
        &self.signer
    }
    /// `sha256:<hex>` of the signing (leaf) certificate's DER: the signer's identity when
    /// counting distinct signers.
    pub fn leaf_sha256(&self) -> &str {
        &self.leaf_sha256
    }
    /// JWS or COSE.
    pub fn format(&self) -> Format {
        self.format
    }
    /// The signing scheme.
    pub fn signing_scheme(&self) -> SigningScheme {
        self.scheme
    }
    /// The trust policy statement that applied.
    pub fn statement(&self) -> &str {
        &self.statement
    }
    /// Failures the policy logged instead of enforcing.
    pub fn logged(&self) -> &[LoggedFailure] {
        &self.logged
    }
    /// The payload's `targetArtifact.annotations`.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
    /// The signing time (self-asserted, or authentic for signingAuthority), unix seconds.
    pub fn signing_time(&self) -> Option<i64> {
        self.signing_time
    }
}

/// Why a Notation signature was not accepted.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotationError {
    /// An enforced validation failed.
    #[error("{} validation failed: {reason}", check.as_str())]
    Failed {
        /// Which validation.
        check: Check,
        /// Why.
        reason: String,
    },
    /// The statement's level is `skip`: nothing was verified.
    #[error("trust policy statement {0:?} is configured to skip signature verification")]
    Skipped(String),
    /// No trust policy statement applies to the artifact's repository.
    #[error("{0}")]
    NoPolicy(String),
    /// The image has no Notation signature.
    #[error("no Notation signature is attached to the image")]
    NoSignature,
    /// The image or its signatures could not be read.
    #[error("cannot read the image or its signatures: {0}")]
    Unreadable(String),
    /// The payload does not carry the required user metadata.
    #[error("user metadata check failed: {0}")]
    UserMetadata(String),
}

impl NotationError {
    /// The validation that failed, if one did.
    pub fn check(&self) -> Option<Check> {
        match self {
            Self::Failed { check, .. } => Some(*check),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "targetArtifact")]
    target_artifact: TargetArtifact,
}

#[derive(Deserialize)]
struct TargetArtifact {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn integrity(reason: impl Into<String>) -> NotationError {
    NotationError::Failed {
        check: Check::Integrity,
        reason: reason.into(),
    }
}

/// Verify one envelope (`envelope` bytes of media type `media_type`) for `artifact` under
/// `statement`, with trust-store certificates from `stores`.
pub fn verify_signature(
    envelope: &[u8],
    media_type: &str,
    artifact: &ArtifactDescriptor,
    statement: &Statement,
    stores: &TrustStores,
    opts: &VerifyOptions,
) -> Result<VerifiedNotation, NotationError> {
    if statement.actions.level() == super::trustpolicy::Level::Skip {
        return Err(NotationError::Skipped(statement.name.clone()));
    }
    // 1. Integrity (always enforced).
    let env = Envelope::parse(envelope, media_type).map_err(|e| integrity(e.0))?;
    if let Some(p) = &env.verification_plugin {
        return Err(integrity(format!(
            "the signature requires verification plugin {p:?}; imprint runs no verification plugins"
        )));
    }
    let chain = x509::validate_code_signing_chain(&env.certificate_chain)
        .map_err(|e| integrity(format!("certificate-chain is invalid: {e}")))?;
    let leaf = &chain[0];
    let kind = leaf
        .key_kind()
        .map_err(|e| integrity(format!("signing certificate: {e}")))?;
    let expected_alg = match kind {
        KeyKind::Rsa(2048) => Algorithm::Ps256,
        KeyKind::Rsa(3072) => Algorithm::Ps384,
        KeyKind::Rsa(4096) => Algorithm::Ps512,
        KeyKind::Rsa(bits) => {
            return Err(integrity(format!(
                "signing certificate has a {bits}-bit RSA key (2048, 3072 or 4096 allowed)"
            )));
        }
        KeyKind::Ec256 => Algorithm::Es256,
        KeyKind::Ec384 => Algorithm::Es384,
        KeyKind::Ec521 => Algorithm::Es512,
    };
    if env.algorithm != expected_alg {
        return Err(integrity(format!(
            "signature algorithm {} does not match the signing certificate's key, which requires {}",
            env.algorithm.jose_name(),
            expected_alg.jose_name()
        )));
    }
    env.verify_signature(leaf.public_key_bits())
        .map_err(|e| integrity(e.0))?;
    let payload: Payload = serde_json::from_slice(&env.payload)
        .map_err(|e| integrity(format!("signature payload is not a Notation payload: {e}")))?;
    let t = &payload.target_artifact;
    if t.digest != artifact.digest || t.media_type != artifact.media_type || t.size != artifact.size
    {
        return Err(integrity(format!(
            "content descriptor mismatch: the signature is for {} ({}, {} bytes), not {} ({}, {} bytes)",
            t.digest, t.media_type, t.size, artifact.digest, artifact.media_type, artifact.size
        )));
    }

    let mut logged = Vec::new();
    let mut apply = |check: Check, result: Result<(), String>| -> Result<(), NotationError> {
        let Err(reason) = result else {
            return Ok(());
        };
        match statement.actions.action(check) {
            Action::Enforce => Err(NotationError::Failed { check, reason }),
            Action::Log => {
                tracing::warn!(check = check.as_str(), %reason, "notation validation failure logged by policy");
                logged.push(LoggedFailure { check, reason });
                Ok(())
            }
            Action::Skip => Ok(()),
        }
    };

    // 2. Authenticity.
    if statement.actions.action(Check::Authenticity) != Action::Skip {
        apply(
            Check::Authenticity,
            authenticity(&env, &chain, statement, stores),
        )?;
    }
    // 3. Expiry.
    if statement.actions.action(Check::Expiry) != Action::Skip {
        let r = match env.expiry {
            Some(e) if opts.at > e => Err(format!(
                "digital signature has expired on {:?}",
                x509::fmt_time(e)
            )),
            _ => Ok(()),
        };
        apply(Check::Expiry, r)?;
    }
    // 4. Authentic timestamp.
    if statement.actions.action(Check::AuthenticTimestamp) != Action::Skip {
        apply(
            Check::AuthenticTimestamp,
            authentic_timestamp(&env, &chain, statement, stores, opts.at),
        )?;
    }
    // 5. Revocation: imprint fetches no OCSP responses or CRLs, so a chain that names
    // revocation information has an unknown status, which fails where it is enforced.
    if statement.actions.action(Check::Revocation) != Action::Skip {
        let r = match chain.iter().find(|c| c.has_revocation_info()) {
            Some(c) => Err(format!(
                "revocation status of certificate {:?} cannot be determined: it names OCSP or CRL endpoints and imprint does not fetch them (set the `revocation` override to `log` or `skip` to accept)",
                c.subject()
            )),
            None => Ok(()),
        };
        apply(Check::Revocation, r)?;
    }
    // User metadata (not a policy-controlled validation).
    for (k, v) in &opts.user_metadata {
        match t.annotations.get(k) {
            Some(have) if have == v => {}
            Some(have) => {
                return Err(NotationError::UserMetadata(format!(
                    "payload annotation {k:?} is {have:?}, not {v:?}"
                )));
            }
            None => {
                return Err(NotationError::UserMetadata(format!(
                    "payload has no annotation {k:?}"
                )));
            }
        }
    }
    Ok(VerifiedNotation {
        signer: leaf.subject(),
        leaf_sha256: crate::format::digest::Digest::of(leaf.der()).to_string(),
        format: env.format,
        scheme: env.signing_scheme,
        statement: statement.name.clone(),
        logged,
        annotations: t.annotations.clone(),
        signing_time: env.signing_time.or(env.authentic_signing_time),
    })
}

fn authenticity(
    env: &Envelope,
    chain: &[Cert],
    statement: &Statement,
    stores: &TrustStores,
) -> Result<(), String> {
    let kind = match env.signing_scheme {
        SigningScheme::X509 => StoreType::Ca,
        SigningScheme::X509SigningAuthority => StoreType::SigningAuthority,
    };
    if !statement.trust_stores.iter().any(|s| s.kind == kind) {
        return Err(format!(
            "no trust store of type {:?} is configured for signing scheme {}",
            kind.as_str(),
            env.signing_scheme.as_str()
        ));
    }
    let trusted = stores.certs(&statement.trust_stores, kind)?;
    let anchored = chain
        .iter()
        .any(|c| trusted.iter().any(|t| t.der() == c.der()));
    if !anchored {
        return Err(
            "the signature's certificate chain does not contain any trusted certificate".into(),
        );
    }
    match &statement.identities {
        Some(Identities::Any) => Ok(()),
        Some(Identities::Subjects(dns)) => {
            let leaf = &chain[0];
            let subject = leaf.subject_attributes()?;
            if dns.iter().any(|d| x509::dn_is_subset(d, &subject)) {
                Ok(())
            } else {
                Err(format!(
                    "signing certificate from the digital signature does not match the X.509 trusted identities {:?} defined in the trust policy {:?} (subject {:?})",
                    dns,
                    statement.name,
                    leaf.subject()
                ))
            }
        }
        None => Err("the trust policy statement has no trusted identities".into()),
    }
}

fn authentic_timestamp(
    env: &Envelope,
    chain: &[Cert],
    statement: &Statement,
    stores: &TrustStores,
    now: i64,
) -> Result<(), String> {
    if env.signing_scheme == SigningScheme::X509SigningAuthority {
        let t = env
            .authentic_signing_time
            .ok_or("the signature has no authentic signing time")?;
        return x509::chain_valid_over(chain, t, t, "authentic signing time");
    }
    let tsa_configured = statement
        .trust_stores
        .iter()
        .any(|s| s.kind == StoreType::Tsa);
    let mut perform = tsa_configured;
    if perform
        && statement.verify_timestamp == VerifyTimestamp::AfterCertExpiry
        && x509::chain_valid_over(chain, now, now, "verification time").is_ok()
    {
        perform = false;
    }
    if !perform {
        return x509::chain_valid_over(chain, now, now, "verification time");
    }
    let token = env
        .timestamp_token
        .as_deref()
        .ok_or("no timestamp countersignature was found in the signature envelope")?;
    let roots = stores.certs(&statement.trust_stores, StoreType::Tsa)?;
    let range = timestamp::verify(token, &env.signature, &roots)?;
    x509::chain_valid_over(chain, range.lower, range.upper, "timestamp")
        .map_err(|e| e.replacen("timestamp is", "timestamp can be", 1))
}
