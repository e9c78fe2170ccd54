//! Notary Project (Notation) signatures: the other family of signed container images
//! (Ratify, AWS Signer, Azure Key Vault), verified under Notation's own rules.
//!
//! - [`envelope`]: JWS (flattened JSON) and COSE_Sign1 envelopes, strict base64url, critical
//!   headers, the allowed algorithms (RSASSA-PSS with salt = hash length, ECDSA raw `r||s`).
//! - [`x509`]: the signature specification's certificate requirements, chain order and
//!   signatures, trust-store certificates, subject DN matching.
//! - [`timestamp`]: RFC 3161 countersignatures (`notary.x509`).
//! - [`trustpolicy`]: `trustpolicy.json` 1.0 and the trust-store directory layout;
//!   verification levels and overrides.
//! - [`verify`]: the verification workflow, producing [`VerifiedNotation`].
//!
//! Not done: verification plugins (a signature that requires one fails integrity), and
//! OCSP/CRL fetching (a chain naming revocation endpoints fails `revocation` where it is
//! enforced; the TSA chain's revocation is not checked).

pub mod discover;
pub mod envelope;
pub mod image;
pub mod timestamp;
pub mod trustpolicy;
pub mod verify;
pub mod x509;

pub use envelope::{Envelope, Format, SigningScheme};
pub use image::{ImageVerification, StoreSource, verify_image, verify_image_with};
pub use trustpolicy::{
    Action, Check, Level, Statement, StoreRef, TrustPolicyDocument, TrustStores,
};
pub use verify::{
    ArtifactDescriptor, NotationError, VerifiedNotation, VerifyOptions, verify_signature,
};

/// `artifactType` (or legacy `config.mediaType`) of a Notation signature manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
