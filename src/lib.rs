#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]
#![doc = include_str!("../README.md")]
//!
//! # Layers
//!
//! Each module depends only on the ones listed above it:
//!
//! | module | owns |
//! |---|---|
//! | [`limits`], [`fs`] | every resource bound with its default; bounded file reads, atomic writes |
//! | [`format`] | wire formats, no I/O: digests, Go-style JSON, OCI manifests and media types, image references, simple signing, DSSE, in-toto statements, predicate types, key-bundle JSON |
//! | [`store`] | where images live: the registry client (auth, remote), OCI layouts, legacy `.sig`/`.att` attachments, discovery of what is attached to an image |
//! | [`keys`], [`trust`] | cosign key files and keys; Sigstore trust roots and certificate identities |
//! | [`sign`], [`verify`] | writing signatures and attestations; every check that turns attached bytes into a proof value |
//! | [`policy`] | trust policies: model, loading, lint, evaluation of verified evidence into a [`Decision`] |
//! | [`gate`] | the deploy gate: resolve an image, discover once, check against every authority, decide |
//!
//! The paved path is re-exported here: build a [`Verifier`] from a [`Policy`], ask it about an
//! [`ImageRef`], get a [`Decision`].

pub mod format;
pub mod fs;
pub mod gate;
pub mod keys;
pub mod limits;
pub mod policy;
pub mod sign;
pub mod store;
pub mod trust;
pub mod verify;

pub use format::digest::Digest;
pub use format::reference::ImageRef;
pub use gate::{Clock, SystemClock, Verifier, VerifierBuilder};
pub use keys::{PublicKey, SigningKey};
pub use limits::Limits;
pub use policy::{Decision, Outcome, Policy, ReasonCode};
pub use sign::{AttestOptions, SignOptions, attest_image, sign_image};
pub use store::{Client, RegistryConfig};
pub use trust::TrustRoot;
pub use verify::{SignatureVerifier, VerifiedAttestation, VerifiedSignature};
