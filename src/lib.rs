#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]
#![doc = include_str!("../README.md")]
//!
//! The paved path is re-exported here: build a [`Verifier`] from a [`Policy`], ask it about an
//! [`ImageRef`], get a [`Decision`]. The modules are the layers of the table above
//! ("Where things are"): [`limits`], [`fs`], [`format`](mod@format), [`store`], [`keys`], [`trust`],
//! [`sign`], [`verify`], [`policy`], [`gate`].

pub mod admission;
pub mod audit;
pub mod decisionlog;
pub mod format;
pub mod fs;
/// Entry points for the fuzz targets in `fuzz/` and the replay test: for fuzzing only, not a
/// stable API.
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod keys;
pub mod limits;
pub mod notation;
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
