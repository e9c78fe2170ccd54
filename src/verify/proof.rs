//! Proof types: values that can only be made by code that ran every check.
//!
//! A [`VerifiedSignature`] or [`VerifiedAttestation`] exists only if its signature verified,
//! its payload parsed and its subject is the image digest it names. Their constructors are
//! `pub(crate)`; grep for `VerifiedSignature::new` / `VerifiedAttestation::new` to find every
//! place that vouches for one. The policy engine and the CLI consume them; nothing outside the
//! crate can forge one.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format::digest::Digest;
pub use crate::store::discover::Source;

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
    /// Only verification code calls this, after the signature, the payload and the subject
    /// digest were all checked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
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
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedAttestation {
    image: Digest,
    predicate_type: String,
    #[serde(skip)]
    statement: serde_json::Value,
    #[serde(skip)]
    envelope: Vec<u8>,
    signer: Signer,
    tlog: Option<TlogEvidence>,
    source: Source,
}

impl VerifiedAttestation {
    /// Only verification code calls this, after every check passed.
    pub(crate) fn new(
        image: Digest,
        predicate_type: String,
        statement: serde_json::Value,
        envelope: Vec<u8>,
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
    /// The whole parsed in-toto statement.
    pub fn statement(&self) -> &serde_json::Value {
        &self.statement
    }
    /// The predicate (`null` when absent).
    pub fn predicate(&self) -> &serde_json::Value {
        self.statement
            .get("predicate")
            .unwrap_or(&serde_json::Value::Null)
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
