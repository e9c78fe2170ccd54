//! Checks of attached signatures and attestations.
//!
//! Verification is split in two so that one fetch serves many verifiers (the policy engine
//! checks the same material against every authority):
//! 1. [`crate::store::discover`] fetches what is attached to an image digest: legacy `.sig` /
//!    `.att` layers (blob digests checked by the repository) and Sigstore bundle referrers.
//! 2. [`check_signature`] / [`check_attestation`] / [`check_bundle`] run the cryptographic and
//!    claim checks of one candidate against one [`SignatureVerifier`], in a fixed order (listed
//!    in [`crate::verify`]), failing closed, and return a proof value or a [`CandidateFailure`]
//!    naming the check that failed and its typed [`Cause`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use crate::format;
use crate::format::bundle::{KeyBundleContent, parse_key_bundle, public_key_hint};
use crate::format::digest::Digest;
pub use crate::format::statement::COSIGN_SIGN_PREDICATE;
use crate::keys::PublicKey;
use crate::store::attach;
use crate::store::discover::{Candidate, Discovered, SignatureFormat};
use crate::store::media_types;
use crate::trust::{IdentityPolicy, TrustRoot};
use crate::verify::bundle::{self, BundleCheck, BundleError};
use crate::verify::dsse::{self, DsseError, Placement};
use crate::verify::intoto::{self, CheckedStatement, ClaimError};
use crate::verify::proof::Source;
use crate::verify::proof::VerifiedBundleItem;
use crate::verify::proof::{
    SignedBy, VerifiedAttestation, VerifiedSignature, seal_attestation, seal_bundle_signature,
    seal_legacy_signature,
};

/// What a signature must verify with.
#[derive(Clone)]
#[non_exhaustive]
pub enum SignatureVerifier {
    /// A public key (cosign `--key`).
    Key(PublicKey),
    /// A public key whose signatures must each carry a transparency-log entry that verifies
    /// against `trust`'s Rekor keys (cosign `--key` with Rekor; imprint `verify --key K
    /// --trusted-root F`): a legacy layer's `dev.sigstore.cosign/bundle` annotation
    /// ([`crate::verify::key_tlog`]), a bundle's `tlogEntries`. A signature without one, or
    /// with one that does not verify, is rejected.
    KeyTlog {
        /// The public key.
        key: PublicKey,
        /// Trusted root (the Rekor keys).
        trust: Arc<TrustRoot>,
    },
    /// A Fulcio certificate chaining to `trust`, whose identity matches `identity`.
    Keyless {
        /// Identity constraints (subject, issuer, GitHub claims).
        identity: IdentityPolicy,
        /// Trusted root (Fulcio CAs, Rekor and CT log keys, TSAs).
        trust: Arc<TrustRoot>,
    },
}

impl fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(k) => write!(f, "Key({})", k.fingerprint()),
            Self::KeyTlog { key, .. } => write!(f, "KeyTlog({})", key.fingerprint()),
            Self::Keyless { .. } => write!(f, "Keyless"),
        }
    }
}

/// The check that rejected a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Check {
    /// Fetching the layer (digest mismatch, size, missing blob).
    Fetch,
    /// The layer media type is not the expected one.
    MediaType,
    /// The signature annotation is missing or not base64.
    SignatureAnnotation,
    /// The signature does not verify with the key.
    Signature,
    /// Certificate chain, SCT, tlog or identity (keyless); [`Cause::Sigstore`] says which.
    Certificate,
    /// The payload does not parse.
    Payload,
    /// The signed image digest is not this image's digest.
    ImageDigest,
    /// A required annotation is missing or different.
    Annotations,
    /// The DSSE payload type is not in-toto.
    PayloadType,
    /// The in-toto statement does not parse.
    Statement,
    /// No statement subject has this image's sha256.
    Subject,
    /// The predicate type differs from the one asked for.
    PredicateType,
    /// The candidate needs a verifier of another kind (e.g. a certificate and only a key was given).
    VerifierKind,
    /// The Sigstore bundle failed verification; [`Cause::Sigstore`] says which step, when
    /// Sigstore verification ran.
    Bundle,
}

impl Check {
    /// The check's stable kebab-case name (as serialised): `signature`, `predicate-type`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fetch => "fetch",
            Self::MediaType => "media-type",
            Self::SignatureAnnotation => "signature-annotation",
            Self::Signature => "signature",
            Self::Certificate => "certificate",
            Self::Payload => "payload",
            Self::ImageDigest => "image-digest",
            Self::Annotations => "annotations",
            Self::PayloadType => "payload-type",
            Self::Statement => "statement",
            Self::Subject => "subject",
            Self::PredicateType => "predicate-type",
            Self::VerifierKind => "verifier-kind",
            Self::Bundle => "bundle",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What exactly rejected a candidate, as a value: the gate maps it to a reason code without
/// reading any message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "check", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Cause {
    /// The check named by [`CandidateFailure::check`] failed on the candidate itself (fetch,
    /// media type, annotation, payload, signature, digest, statement, predicate type, verifier
    /// kind, a key bundle that does not parse); there is nothing finer to say.
    Plain,
    /// The signature does not verify with the key, and the bundle's `publicKey.hint` names a
    /// different key: the candidate was signed by someone else, not tampered with.
    OtherKey,
    /// A step of Sigstore verification (a bundle, or the certificate, chain and tlog of a legacy
    /// keyless layer) failed: which one.
    Sigstore(BundleCheck),
}

/// Why one candidate was rejected.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateFailure {
    /// Where the candidate was.
    pub source: Source,
    /// Which check failed.
    pub check: Check,
    /// What exactly failed, typed.
    pub cause: Cause,
    /// Details.
    pub message: String,
}

impl fmt::Display for CandidateFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::LegacyLayer { layer, index, .. } => write!(f, "layer {index} ({layer})")?,
            Source::Bundle { referrer, .. } => write!(f, "bundle referrer {referrer}")?,
            Source::File { path } => write!(f, "{path}")?,
        }
        write!(f, ": {} check failed: {}", self.check, self.message)
    }
}

fn fail(c: &Candidate, check: Check, message: impl Into<String>) -> CandidateFailure {
    failure(c, check, Cause::Plain, message)
}

fn failure(
    c: &Candidate,
    check: Check,
    cause: Cause,
    message: impl Into<String>,
) -> CandidateFailure {
    CandidateFailure {
        source: c.source.clone(),
        check,
        cause,
        message: message.into(),
    }
}

/// A Sigstore verification failure (bundle or legacy keyless layer), typed by its check.
fn fail_sigstore(c: &Candidate, check: Check, e: &BundleError) -> CandidateFailure {
    let message = match check {
        Check::Bundle => format!("[{}] {e}", e.check()),
        _ => e.to_string(),
    };
    failure(c, check, Cause::Sigstore(e.kind()), message)
}

/// The candidate's content as a shared buffer (the one that was fetched, not a copy: an
/// attestation of a large SBOM is hundreds of MiB); `bytes` is what [`content`] returned.
fn shared_content(c: &Candidate, bytes: &[u8]) -> Arc<Vec<u8>> {
    match &c.content {
        Ok(b) => Arc::clone(b),
        Err(_) => Arc::new(bytes.to_vec()),
    }
}

fn content(c: &Candidate) -> Result<&[u8], CandidateFailure> {
    match &c.content {
        Ok(b) => Ok(b.as_slice()),
        Err(e) => Err(fail(c, Check::Fetch, e.clone())),
    }
}

/// Check one legacy `.sig` layer, in cosign's order: layer digest (done at fetch), media type,
/// signature over the exact payload bytes, payload parse, signed digest == image digest,
/// annotations.
pub fn check_signature(
    c: &Candidate,
    image: &Digest,
    verifier: &SignatureVerifier,
    required: &BTreeMap<String, String>,
) -> Result<VerifiedSignature, CandidateFailure> {
    let bytes = content(c)?;
    if c.descriptor.media_type != media_types::SIMPLE_SIGNING {
        return Err(fail(
            c,
            Check::MediaType,
            format!(
                "layer media type `{}` is not `{}`",
                c.descriptor.media_type,
                media_types::SIMPLE_SIGNING
            ),
        ));
    }
    let sig_b64 = c
        .descriptor
        .annotation(attach::SIGNATURE_ANNOTATION)
        .ok_or_else(|| {
            fail(
                c,
                Check::SignatureAnnotation,
                format!("annotation `{}` is missing", attach::SIGNATURE_ANNOTATION),
            )
        })?;
    let signed = check_layer_signer(c, bytes, sig_b64, verifier, false)?;
    let ss =
        format::parse_simple_signing(bytes).map_err(|e| fail(c, Check::Payload, e.to_string()))?;
    if &ss.digest != image {
        return Err(fail(
            c,
            Check::ImageDigest,
            format!("payload signs {} but the image is {image}", ss.digest),
        ));
    }
    let annotations = string_map(&ss.optional);
    for (k, v) in required {
        match annotations.get(k) {
            Some(have) if have == v => {}
            Some(have) => {
                return Err(fail(
                    c,
                    Check::Annotations,
                    format!("annotation `{k}` is `{have}`, required `{v}`"),
                ));
            }
            None => {
                return Err(fail(
                    c,
                    Check::Annotations,
                    format!("required annotation `{k}` is not in the signed payload"),
                ));
            }
        }
    }
    Ok(seal_legacy_signature(
        image,
        ss.docker_reference,
        annotations,
        bytes.to_vec(),
        signed,
        c.source.clone(),
    ))
}

/// Verify the layer's signature material with `verifier`: key signature over `signed`, or the
/// keyless certificate + Rekor bundle checks ([`crate::verify::legacy`]).
fn check_layer_signer(
    c: &Candidate,
    layer_bytes: &[u8],
    sig_b64: &str,
    verifier: &SignatureVerifier,
    is_attestation: bool,
) -> Result<SignedBy, CandidateFailure> {
    match verifier {
        SignatureVerifier::Key(key) => {
            let sig = B64.decode(sig_b64.trim()).map_err(|e| {
                fail(
                    c,
                    Check::SignatureAnnotation,
                    format!("signature annotation is not base64: {e}"),
                )
            })?;
            // The key error names the algorithm and the fingerprint.
            key.verify(layer_bytes, &sig)
                .map_err(|e| fail(c, Check::Signature, e.to_string()))?;
            Ok(SignedBy::key(key.fingerprint()))
        }
        SignatureVerifier::KeyTlog { key, trust } => {
            let mut signed = check_layer_signer(
                c,
                layer_bytes,
                sig_b64,
                &SignatureVerifier::Key(key.clone()),
                is_attestation,
            )?;
            signed.tlog = Some(key_layer_tlog(
                c,
                layer_bytes,
                sig_b64,
                key,
                trust,
                is_attestation,
            )?);
            Ok(signed)
        }
        SignatureVerifier::Keyless { identity, trust } => {
            let cert = c
                .descriptor
                .annotation(attach::CERTIFICATE_ANNOTATION)
                .ok_or_else(|| {
                    fail(
                        c,
                        Check::VerifierKind,
                        "layer has no certificate; keyless verification needs one",
                    )
                })?;
            let layer = crate::verify::legacy::LegacyKeylessLayer {
                layer_bytes,
                signature_b64: sig_b64,
                certificate_pem: cert,
                chain_pem: c.descriptor.annotation(attach::CHAIN_ANNOTATION),
                rekor_bundle_json: c.descriptor.annotation(attach::BUNDLE_ANNOTATION),
                rfc3161_timestamp_json: c.descriptor.annotation(attach::TIMESTAMP_ANNOTATION),
                is_attestation,
            };
            let (signer, tlog) =
                crate::verify::legacy::verify_legacy_keyless(layer, identity, trust)
                    .map_err(|e| fail_sigstore(c, Check::Certificate, &e))?;
            Ok(SignedBy {
                signer,
                tlog: Some(tlog),
            })
        }
    }
}

/// Check one legacy `.att` layer: media type, envelope parse, the DSSE signature
/// ([`crate::verify::dsse`]: any one signature verifying with a key; exactly one, the
/// certificate's, for keyless), then the in-toto claims ([`crate::verify::intoto`]).
pub fn check_attestation(
    c: &Candidate,
    image: &Digest,
    verifier: &SignatureVerifier,
    predicate_type: Option<&str>,
) -> Result<VerifiedAttestation, CandidateFailure> {
    let bytes = content(c)?;
    if c.descriptor.media_type != media_types::DSSE_ENVELOPE {
        return Err(fail(
            c,
            Check::MediaType,
            format!(
                "layer media type `{}` is not `{}`",
                c.descriptor.media_type,
                media_types::DSSE_ENVELOPE
            ),
        ));
    }
    let env = format::parse_envelope(bytes).map_err(|e| fail(c, Check::Payload, e.to_string()))?;
    let signed = match verifier {
        SignatureVerifier::Key(key) => {
            dsse::verify_with_key(&env, key, Placement::Detached)
                .map_err(|e| fail(c, Check::Signature, e.to_string()))?;
            SignedBy::key(key.fingerprint())
        }
        SignatureVerifier::KeyTlog { key, trust } => {
            // The entry logs one signature: the envelope must hold exactly that one.
            let sig = dsse::single_signature(&env, Placement::KeylessLayer)
                .map_err(|e| fail(c, Check::Signature, e.to_string()))?;
            dsse::verify_with_key(&env, key, Placement::Detached)
                .map_err(|e| fail(c, Check::Signature, e.to_string()))?;
            let mut signed = SignedBy::key(key.fingerprint());
            signed.tlog = Some(key_layer_tlog(
                c,
                bytes,
                &B64.encode(&sig.sig),
                key,
                trust,
                true,
            )?);
            signed
        }
        SignatureVerifier::Keyless { .. } => {
            let sig = dsse::single_signature(&env, Placement::KeylessLayer)
                .map_err(|e| fail(c, Check::Signature, e.to_string()))?;
            let sig_b64 = B64.encode(&sig.sig);
            // The certificate signed the PAE; the tlog entry binds the envelope bytes.
            check_layer_signer(c, bytes, &sig_b64, verifier, true)?
        }
    };
    let claims = claims(c, &env.payload_type, env.payload, image, predicate_type)?;
    Ok(seal_attestation(
        claims,
        shared_content(c, bytes),
        signed,
        c.source.clone(),
    ))
}

/// The in-toto claim checks, with each failure named by its [`Check`].
fn claims(
    c: &Candidate,
    payload_type: &str,
    payload: Vec<u8>,
    image: &Digest,
    predicate_type: Option<&str>,
) -> Result<CheckedStatement, CandidateFailure> {
    intoto::check_claims(payload_type, payload, image, predicate_type).map_err(|e| {
        let check = match &e {
            ClaimError::PayloadType { .. } => Check::PayloadType,
            ClaimError::Statement(_) => Check::Statement,
            ClaimError::Subject(_) => Check::Subject,
            ClaimError::PredicateType { .. } => Check::PredicateType,
        };
        fail(c, check, e.to_string())
    })
}

/// Check one bundle referrer with `verifier`: the bundle's signature (key bundle: exactly one
/// DSSE signature, over the PAE, with the key; keyless: the full Sigstore verification), then
/// the in-toto claims about `image`; a statement of [`COSIGN_SIGN_PREDICATE`] is an image
/// signature, whose subject must carry the `required` annotations.
pub fn check_bundle(
    c: &Candidate,
    image: &Digest,
    verifier: &SignatureVerifier,
    required: &BTreeMap<String, String>,
) -> Result<VerifiedBundleItem, CandidateFailure> {
    let bytes = content(c)?;
    let (payload_type, statement, signed) = match verifier {
        SignatureVerifier::Key(k) => key_bundle_content(c, bytes, image, k)?,
        SignatureVerifier::KeyTlog { key, trust } => {
            key_bundle_tlog_content(c, bytes, image, key, trust)?
        }
        // Keyless: the full Sigstore check (chain, SCT, tlog or timestamp, identity) against
        // the caller's trust root; the tlog is never ignored.
        SignatureVerifier::Keyless { identity, trust } => {
            let vb = bundle::verify_bundle(
                bytes,
                Some(bundle::Artifact::Digest(image.clone())),
                &bundle::VerificationPolicy::Keyless(identity.clone()),
                trust,
            )
            .map_err(|e| fail_sigstore(c, Check::Bundle, &e))?;
            let (payload_type, payload) = dsse_content(c, vb.content())?;
            let signed = SignedBy {
                signer: vb.signer().clone(),
                tlog: vb.tlog().cloned(),
            };
            (payload_type, payload, signed)
        }
    };
    let claims = claims(c, &payload_type, statement, image, None)?;
    if claims.predicate_type() != COSIGN_SIGN_PREDICATE {
        return Ok(VerifiedBundleItem::Attestation(seal_attestation(
            claims,
            shared_content(c, bytes),
            signed,
            c.source.clone(),
        )));
    }
    // The annotations of the subject that names this image (cosign `-a` checks look there).
    let annotations = claims
        .statement()
        .subject_for(image)
        .map(|s| string_map(&s.annotations))
        .unwrap_or_default();
    for (k, v) in required {
        if annotations.get(k) != Some(v) {
            return Err(fail(
                c,
                Check::Annotations,
                format!("required annotation `{k}`=`{v}` is not on the signed subject"),
            ));
        }
    }
    Ok(VerifiedBundleItem::Signature(seal_bundle_signature(
        claims,
        annotations,
        signed,
        c.source.clone(),
    )))
}

fn dsse_content(
    c: &Candidate,
    content: &bundle::BundleContent,
) -> Result<(String, Vec<u8>), CandidateFailure> {
    match content {
        bundle::BundleContent::Dsse {
            payload_type,
            payload,
        } => Ok((payload_type.clone(), payload.clone())),
        _ => Err(fail(
            c,
            Check::Bundle,
            "image bundles must carry a DSSE envelope, found a message signature",
        )),
    }
}

/// A bundle checked with a key (cosign `--key`). The key is the trust anchor, so no
/// transparency-log proof is required (imprint and `cosign sign --tlog-upload=false` write
/// none; legacy key signatures are treated the same way). The bundle is parsed once, by
/// `sigstore-types` ([`parse_key_bundle`]; a bundle with a certificate is refused), then:
/// - without tlog entries (what imprint writes): its DSSE envelope (exactly one signature, as
///   in every bundle) verified over the PAE with the key ([`crate::verify::dsse`]);
/// - with tlog entries (cosign with Rekor upload): verified by the Sigstore verifier with the
///   key, tlog proof not required, entries checked for consistency against the embedded
///   public-good root.
///
/// A signature that does not verify while the bundle's `publicKey.hint` names another key is
/// [`Cause::OtherKey`]: signed by someone else.
fn key_bundle_content(
    c: &Candidate,
    bytes: &[u8],
    image: &Digest,
    key: &PublicKey,
) -> Result<(String, Vec<u8>, SignedBy), CandidateFailure> {
    let kb = parse_key_bundle(bytes).map_err(|e| fail(c, Check::Bundle, e.to_string()))?;
    let other_key = !kb.hint.is_empty() && kb.hint != public_key_hint(key.spki_der());
    let hint_note = if other_key {
        format!(" (the bundle's key hint {} names a different key)", kb.hint)
    } else {
        String::new()
    };
    if kb.tlog_entries > 0 {
        // Only the tlog entries or timestamps such a bundle may carry are checked against the
        // embedded public-good root (for consistency; none is required).
        let trust = crate::trust::EmbeddedRoot::PublicGood
            .load()
            .map_err(|e| fail(c, Check::Bundle, e.to_string()))?;
        let vb = bundle::verify_parsed(
            &kb.parsed,
            Some(bundle::Artifact::Digest(image.clone())),
            &bundle::VerificationPolicy::Key {
                spki_der: key.spki_der().to_vec(),
            },
            &trust,
            bundle::VerifyOptions::new().insecure_ignore_tlog(true),
        )
        .map_err(|e| match e.kind() {
            BundleCheck::Signature if other_key => failure(
                c,
                Check::Bundle,
                Cause::OtherKey,
                format!("[{}] {e}{hint_note}", e.check()),
            ),
            _ => fail_sigstore(c, Check::Bundle, &e),
        })?;
        let (payload_type, payload) = dsse_content(c, vb.content())?;
        let signed = SignedBy {
            signer: vb.signer().clone(),
            tlog: vb.tlog().cloned(),
        };
        return Ok((payload_type, payload, signed));
    }
    let KeyBundleContent::Dsse(env) = kb.content else {
        return Err(fail(
            c,
            Check::Bundle,
            "image bundles must carry a DSSE envelope, found a message signature",
        ));
    };
    dsse::verify_with_key(&env, key, Placement::Bundle).map_err(|e| match e {
        DsseError::SignatureCount { .. } => fail(c, Check::Bundle, format!("the bundle's {e}")),
        DsseError::NoSignatureVerifies { .. } => failure(
            c,
            Check::Signature,
            if other_key {
                Cause::OtherKey
            } else {
                Cause::Plain
            },
            format!(
                "the bundle's DSSE signature does not verify with key {}{hint_note}",
                key.fingerprint()
            ),
        ),
    })?;
    Ok((
        env.payload_type,
        env.payload,
        SignedBy::key(key.fingerprint()),
    ))
}

/// The Rekor entry of a key-signed legacy layer, required and verified against `trust`
/// ([`crate::verify::key_tlog`]); a failure is a [`Check::Bundle`] naming the entry.
fn key_layer_tlog(
    c: &Candidate,
    layer_bytes: &[u8],
    sig_b64: &str,
    key: &PublicKey,
    trust: &TrustRoot,
    is_attestation: bool,
) -> Result<crate::verify::proof::TlogEvidence, CandidateFailure> {
    let layer = crate::verify::key_tlog::KeyTlogLayer {
        layer_bytes,
        signature_b64: sig_b64,
        rekor_bundle_json: c.descriptor.annotation(attach::BUNDLE_ANNOTATION),
        is_attestation,
    };
    crate::verify::key_tlog::verify_legacy_key_tlog(layer, key, trust).map_err(|e| {
        failure(
            c,
            Check::Bundle,
            Cause::Sigstore(e.kind()),
            format!(
                "transparency-log entry ({}) [{}]: {e}",
                attach::BUNDLE_ANNOTATION,
                e.check()
            ),
        )
    })
}

/// A key bundle checked with a key and a trust root ([`SignatureVerifier::KeyTlog`]): it must
/// carry tlog entries, and the Sigstore verifier checks them (SET or inclusion proof against
/// `trust`'s Rekor keys, the body bound to this envelope and key) with the signature.
fn key_bundle_tlog_content(
    c: &Candidate,
    bytes: &[u8],
    image: &Digest,
    key: &PublicKey,
    trust: &TrustRoot,
) -> Result<(String, Vec<u8>, SignedBy), CandidateFailure> {
    let kb = parse_key_bundle(bytes).map_err(|e| fail(c, Check::Bundle, e.to_string()))?;
    if kb.tlog_entries == 0 {
        return Err(fail(
            c,
            Check::Bundle,
            "no transparency-log entry: the bundle has no tlogEntries, and verification with \
             this trust root requires one (written by sign --key K --tlog-upload)",
        ));
    }
    let vb = bundle::verify_parsed(
        &kb.parsed,
        Some(bundle::Artifact::Digest(image.clone())),
        &bundle::VerificationPolicy::Key {
            spki_der: key.spki_der().to_vec(),
        },
        trust,
        bundle::VerifyOptions::new(),
    )
    .map_err(|e| {
        failure(
            c,
            Check::Bundle,
            Cause::Sigstore(e.kind()),
            format!("transparency-log entry of the bundle [{}]: {e}", e.check()),
        )
    })?;
    let (payload_type, payload) = dsse_content(c, vb.content())?;
    let signed = SignedBy {
        signer: vb.signer().clone(),
        tlog: vb.tlog().cloned(),
    };
    Ok((payload_type, payload, signed))
}

/// Everything that verified (and every candidate that did not, with why) when all
/// discovered candidates are checked against one verifier.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Image signatures (legacy `.sig` layers and cosign v3 signature bundles).
    pub signatures: Vec<VerifiedSignature>,
    /// Attestations (legacy `.att` layers and attestation bundles).
    pub attestations: Vec<VerifiedAttestation>,
    /// Candidates that failed a check.
    pub failures: Vec<CandidateFailure>,
}

/// Check every candidate in `found` with `verifier`, each exactly once. Only the formats
/// `format` allows are looked at; `required` annotations apply to signatures; a
/// `predicate_type` limits which attestations count (others fail the `PredicateType` check).
pub fn check_discovered(
    found: &Discovered,
    image: &Digest,
    verifier: &SignatureVerifier,
    format: SignatureFormat,
    required: &BTreeMap<String, String>,
    predicate_type: Option<&str>,
) -> Checked {
    let mut out = Checked::default();
    if format.legacy() {
        for c in &found.signatures {
            match check_signature(c, image, verifier, required) {
                Ok(v) => out.signatures.push(v),
                Err(f) => out.failures.push(f),
            }
        }
        for c in &found.attestations {
            match check_attestation(c, image, verifier, predicate_type) {
                Ok(v) => out.attestations.push(v),
                Err(f) => out.failures.push(f),
            }
        }
    }
    if format.bundle() {
        for c in &found.bundles {
            match check_bundle(c, image, verifier, required) {
                Ok(VerifiedBundleItem::Signature(v)) => out.signatures.push(v),
                Ok(VerifiedBundleItem::Attestation(a)) => match predicate_type {
                    Some(want) if a.predicate_type() != want => out.failures.push(fail(
                        c,
                        Check::PredicateType,
                        format!(
                            "predicate type is `{}`, wanted `{want}`",
                            a.predicate_type()
                        ),
                    )),
                    _ => out.attestations.push(a),
                },
                Err(f) => out.failures.push(f),
            }
        }
    }
    out
}

fn string_map(m: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::format::oci::Descriptor;
    use crate::keys::SigningKey;

    fn candidate(bytes: Vec<u8>) -> Candidate {
        let descriptor = Descriptor::for_bytes(media_types::SIGSTORE_BUNDLE_V03, &bytes);
        Candidate {
            source: Source::Bundle {
                referrer: Digest::of(b"referrer"),
                layer: descriptor.digest.clone(),
            },
            descriptor,
            content: Ok(Arc::new(bytes)),
        }
    }

    fn signed_bundle(key: &SigningKey, statement: &[u8]) -> Vec<u8> {
        let sig = key
            .sign(&format::pae(format::IN_TOTO_PAYLOAD_TYPE, statement))
            .unwrap();
        format::bundle::dsse_bundle(
            key.public_key().spki_der(),
            format::IN_TOTO_PAYLOAD_TYPE,
            statement,
            &sig,
        )
    }

    #[test]
    fn key_bundles_verify_without_tlog_and_fail_closed() {
        let key = SigningKey::generate_p256().unwrap();
        let image = Digest::of(b"image");
        let mut ann = BTreeMap::new();
        ann.insert("env".to_owned(), "prod".to_owned());
        let st = crate::sign::image_signature_statement(&image, &ann);
        let c = candidate(signed_bundle(&key, &st));
        let v = SignatureVerifier::Key(key.public_key());
        let VerifiedBundleItem::Signature(s) = check_bundle(&c, &image, &v, &ann).unwrap() else {
            panic!("a signature");
        };
        assert_eq!(s.annotations()["env"], "prod");
        assert!(s.tlog().is_none());
        // Other image, other key, missing annotation.
        let other = Digest::of(b"other");
        assert_eq!(
            check_bundle(&c, &other, &v, &BTreeMap::new())
                .unwrap_err()
                .check,
            Check::Subject
        );
        let bob = SignatureVerifier::Key(SigningKey::generate_p256().unwrap().public_key());
        assert_eq!(
            check_bundle(&c, &image, &bob, &BTreeMap::new())
                .unwrap_err()
                .check,
            Check::Signature
        );
        let mut need = BTreeMap::new();
        need.insert("team".to_owned(), "x".to_owned());
        assert_eq!(
            check_bundle(&c, &image, &v, &need).unwrap_err().check,
            Check::Annotations
        );
        // A message-signature bundle is not an image bundle.
        let sig = key.sign(b"blob").unwrap();
        let ms = format::bundle::message_signature_bundle(
            key.public_key().spki_der(),
            &Digest::of(b"blob"),
            &sig,
        );
        assert_eq!(
            check_bundle(&candidate(ms), &image, &v, &BTreeMap::new())
                .unwrap_err()
                .check,
            Check::Bundle
        );
        // Two DSSE signatures: refused (a bundle envelope carries exactly one).
        let mut two: serde_json::Value = serde_json::from_slice(&signed_bundle(&key, &st)).unwrap();
        let first = two["dsseEnvelope"]["signatures"][0].clone();
        two["dsseEnvelope"]["signatures"] = serde_json::json!([first.clone(), first]);
        let c2 = candidate(serde_json::to_vec(&two).unwrap());
        assert_eq!(
            check_bundle(&c2, &image, &v, &BTreeMap::new())
                .unwrap_err()
                .check,
            Check::Bundle
        );
        // A fetch failure fails the candidate.
        let mut broken = c;
        broken.content = Err("digest mismatch".into());
        assert_eq!(
            check_bundle(&broken, &image, &v, &BTreeMap::new())
                .unwrap_err()
                .check,
            Check::Fetch
        );
    }
}
