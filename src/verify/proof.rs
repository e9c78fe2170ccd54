//! Proof types: values that can only be made by code that ran every check.
//!
//! A [`VerifiedSignature`], [`VerifiedAttestation`], [`VerifiedBundle`] or [`VerifiedBlob`]
//! exists only if its signature verified, its payload parsed and its subject is the digest it
//! names. This file is the only place that constructs one: the types have private fields and
//! private constructors, no `Default`, and the checks in [`crate::verify`] call the `seal_*`
//! functions below as their final step. Those take the checked parts by type where a type
//! exists (a `CheckedStatement` can only come from [`crate::verify::intoto`]), so grep for
//! `seal_` to find every place that vouches for a proof. The policy engine and the CLI consume
//! proofs; nothing outside the crate can forge one.

use std::collections::BTreeMap;

use serde::Serialize;

use std::sync::Arc;

use crate::format::PayloadError;
use crate::format::digest::Digest;
pub use crate::store::discover::Source;
use crate::verify::intoto::CheckedStatement;

/// Who made a signature that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Signer {
    /// A public key (given by the verifier), identified by the sha256 of its SPKI DER.
    Key {
        /// `sha256:<hex>` of the SubjectPublicKeyInfo DER.
        fingerprint: String,
    },
    /// A (Fulcio) certificate whose chain, identity and issuer were checked.
    Certificate {
        /// The certificate identity (SAN) that matched.
        identity: String,
        /// The OIDC issuer from the certificate.
        issuer: String,
        /// Other Fulcio extension values read from the certificate (by readable name).
        extensions: BTreeMap<String, String>,
    },
}

/// Transparency-log evidence that was verified (SET and/or inclusion proof).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlogEvidence {
    /// Global log index.
    pub log_index: i64,
    /// Unix seconds at which the entry was integrated.
    pub integrated_time: i64,
    /// Hex log ID (sha256 of the log's public key).
    pub log_id: String,
}

/// A signature over an image that passed every check.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedSignature {
    image: Digest,
    docker_reference: Option<String>,
    annotations: BTreeMap<String, String>,
    #[serde(skip)]
    payload: Vec<u8>,
    signer: Signer,
    tlog: Option<TlogEvidence>,
    source: Source,
}

impl VerifiedSignature {
    #[allow(clippy::too_many_arguments)]
    fn new(
        image: Digest,
        docker_reference: Option<String>,
        annotations: BTreeMap<String, String>,
        payload: Vec<u8>,
        signer: Signer,
        tlog: Option<TlogEvidence>,
        source: Source,
    ) -> Self {
        Self {
            image,
            docker_reference,
            annotations,
            payload,
            signer,
            tlog,
            source,
        }
    }
    /// The image digest the signature covers.
    pub fn image(&self) -> &Digest {
        &self.image
    }
    /// The signed `docker-reference` (reported, not required to match).
    pub fn docker_reference(&self) -> Option<&str> {
        self.docker_reference.as_deref()
    }
    /// The signed annotations (`optional` map, or the bundle subject's annotations).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
    /// The exact signed payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
    /// Who signed.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
    /// Transparency-log evidence, when there was a verified entry.
    pub fn tlog(&self) -> Option<&TlogEvidence> {
        self.tlog.as_ref()
    }
    /// Where it was found.
    pub fn source(&self) -> &Source {
        &self.source
    }
}

/// An in-toto attestation about an image that passed every check: DSSE signature over the
/// PAE, payload type, statement parse, and a subject whose sha256 equals the image digest.
///
/// It holds the signed statement as bytes, not as a DOM: an SBOM's predicate can be hundreds
/// of MiB, and a `serde_json::Value` of it about 5.5 times that. Checks read the fields they
/// need from [`statement_json`](Self::statement_json); [`predicate_value`](Self::predicate_value)
/// builds the DOM, within a byte limit, for those that need it whole (CEL conditions).
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedAttestation {
    image: Digest,
    predicate_type: String,
    #[serde(skip)]
    statement: Arc<Vec<u8>>,
    #[serde(skip)]
    envelope: Arc<Vec<u8>>,
    signer: Signer,
    tlog: Option<TlogEvidence>,
    source: Source,
}

impl VerifiedAttestation {
    fn new(
        image: Digest,
        predicate_type: String,
        statement: Arc<Vec<u8>>,
        envelope: Arc<Vec<u8>>,
        signer: Signer,
        tlog: Option<TlogEvidence>,
        source: Source,
    ) -> Self {
        Self {
            image,
            predicate_type,
            statement,
            envelope,
            signer,
            tlog,
            source,
        }
    }
    /// The image digest that is a subject of the statement.
    pub fn image(&self) -> &Digest {
        &self.image
    }
    /// The statement's predicate type.
    pub fn predicate_type(&self) -> &str {
        &self.predicate_type
    }
    /// The exact signed in-toto statement bytes (the DSSE payload).
    pub fn statement_json(&self) -> &[u8] {
        &self.statement
    }
    /// The predicate as a `serde_json::Value` (`null` when absent), parsed from the statement;
    /// refused ([`PayloadError::PredicateDomTooLarge`]) when the statement is longer than
    /// `max_bytes` ([`crate::limits::Limits::max_predicate_dom_bytes`]).
    pub fn predicate_value(&self, max_bytes: u64) -> Result<serde_json::Value, PayloadError> {
        crate::format::predicate_value(&self.statement, max_bytes)
    }
    /// The exact envelope (or bundle) bytes that were verified.
    pub fn envelope(&self) -> &[u8] {
        &self.envelope
    }
    /// Who signed.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
    /// Transparency-log evidence, when there was a verified entry.
    pub fn tlog(&self) -> Option<&TlogEvidence> {
        self.tlog.as_ref()
    }
    /// Where it was found.
    pub fn source(&self) -> &Source {
        &self.source
    }
}

/// What a verified bundle signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleContent {
    /// A signature over a message digest (`sign-blob`).
    MessageSignature {
        /// The signed digest.
        digest: Digest,
    },
    /// A DSSE envelope.
    Dsse {
        /// The envelope's payload type.
        payload_type: String,
        /// The payload (the in-toto statement bytes).
        payload: Vec<u8>,
    },
}

/// A Sigstore bundle that passed every check of [`crate::verify::bundle::verify_bundle`].
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    signer: Signer,
    tlog: Option<TlogEvidence>,
    content: BundleContent,
}

impl VerifiedBundle {
    /// Who signed.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
    /// The verified tlog entry (first one), if the bundle had one.
    pub fn tlog(&self) -> Option<&TlogEvidence> {
        self.tlog.as_ref()
    }
    /// What was signed.
    pub fn content(&self) -> &BundleContent {
        &self.content
    }
}

/// A blob signature that verified with a key.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedBlob {
    digest: Digest,
    signer: Signer,
    source: Source,
    tlog_entries_unchecked: usize,
}

impl VerifiedBlob {
    /// sha256 of the blob that verified.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
    /// The key that verified it.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
    /// Where the signature came from.
    pub fn source(&self) -> &Source {
        &self.source
    }
    /// How many transparency-log entries the bundle carried that were *not* checked
    /// (key-only verification).
    pub fn tlog_entries_unchecked(&self) -> usize {
        self.tlog_entries_unchecked
    }
}

/// A verified bundle referrer: an image signature (`https://sigstore.dev/cosign/sign/v1`) or
/// an attestation.
#[derive(Debug, Clone)]
pub enum VerifiedBundleItem {
    /// cosign v3 image signature.
    Signature(VerifiedSignature),
    /// Any other predicate.
    Attestation(VerifiedAttestation),
}

/// Who signed and the transparency-log evidence that was verified with it: the result of a
/// signature check, input to every sealing step.
#[derive(Debug, Clone)]
pub(crate) struct SignedBy {
    /// The signer that verified.
    pub(crate) signer: Signer,
    /// The tlog entry that was verified with it, if any.
    pub(crate) tlog: Option<TlogEvidence>,
}

impl SignedBy {
    /// A key signature (no tlog evidence).
    pub(crate) fn key(fingerprint: String) -> Self {
        Self {
            signer: Signer::Key { fingerprint },
            tlog: None,
        }
    }
}

/// Final step of a legacy `.sig` check: the signature over `payload` verified (`signed`), the
/// payload parsed and its `docker-manifest-digest` is `image`, required annotations matched.
pub(crate) fn seal_legacy_signature(
    image: &Digest,
    docker_reference: String,
    annotations: BTreeMap<String, String>,
    payload: Vec<u8>,
    signed: SignedBy,
    source: Source,
) -> VerifiedSignature {
    VerifiedSignature::new(
        image.clone(),
        Some(docker_reference),
        annotations,
        payload,
        signed.signer,
        signed.tlog,
        source,
    )
}

/// Final step of an attestation check (legacy `.att`, bundle, blob): the envelope's signature
/// verified (`signed`) and its claims were checked against `claims.subject()`.
/// `envelope` is shared with the candidate it was read from (no copy of a large envelope).
pub(crate) fn seal_attestation(
    claims: CheckedStatement,
    envelope: Arc<Vec<u8>>,
    signed: SignedBy,
    source: Source,
) -> VerifiedAttestation {
    let (subject, statement, bytes) = claims.into_parts();
    VerifiedAttestation::new(
        subject,
        statement.predicate_type,
        Arc::new(bytes),
        envelope,
        signed.signer,
        signed.tlog,
        source,
    )
}

/// Final step of a bundle image-signature check: the bundle's signature verified (`signed`)
/// and its statement of the cosign signing predicate passed the claim checks, so it is an image
/// signature whose payload is the signed `statement` bytes and whose annotations are those of
/// the subject that names the image (already compared with the required ones).
pub(crate) fn seal_bundle_signature(
    claims: CheckedStatement,
    annotations: BTreeMap<String, String>,
    signed: SignedBy,
    source: Source,
) -> VerifiedSignature {
    let (image, _, statement) = claims.into_parts();
    VerifiedSignature::new(
        image,
        None,
        annotations,
        statement,
        signed.signer,
        signed.tlog,
        source,
    )
}

/// Final step of [`crate::verify::bundle::verify_bundle`].
pub(crate) fn seal_bundle(
    signer: Signer,
    tlog: Option<TlogEvidence>,
    content: BundleContent,
) -> VerifiedBundle {
    VerifiedBundle {
        signer,
        tlog,
        content,
    }
}

/// Final step of [`crate::verify::blob::verify_blob`]: the signature over the blob verified
/// with the key (and a bundle's message digest is the blob's `digest`).
pub(crate) fn seal_blob(
    digest: Digest,
    signed: SignedBy,
    source: Source,
    tlog_entries_unchecked: usize,
) -> VerifiedBlob {
    VerifiedBlob {
        digest,
        signer: signed.signer,
        source,
        tlog_entries_unchecked,
    }
}

/// Test-only fabrication of proofs for the policy engine's unit tests (never compiled into
/// the library).
#[cfg(test)]
impl VerifiedSignature {
    /// A signature proof without any check (tests only).
    pub(crate) fn fabricated(
        image: Digest,
        docker_reference: Option<String>,
        annotations: BTreeMap<String, String>,
        payload: Vec<u8>,
        signer: Signer,
        tlog: Option<TlogEvidence>,
        source: Source,
    ) -> Self {
        Self::new(
            image,
            docker_reference,
            annotations,
            payload,
            signer,
            tlog,
            source,
        )
    }
}

#[cfg(test)]
impl VerifiedAttestation {
    /// An attestation proof without any check (tests only).
    pub(crate) fn fabricated(
        image: Digest,
        predicate_type: String,
        statement: serde_json::Value,
        envelope: Vec<u8>,
        signer: Signer,
        tlog: Option<TlogEvidence>,
        source: Source,
    ) -> Self {
        Self::new(
            image,
            predicate_type,
            Arc::new(serde_json::to_vec(&statement).unwrap_or_default()),
            Arc::new(envelope),
            signer,
            tlog,
            source,
        )
    }
}
