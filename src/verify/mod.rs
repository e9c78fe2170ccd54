//! Verification: every check that stands between attached bytes and a proof value.
//!
//! * [`proof`]: the proof types ([`VerifiedSignature`], [`VerifiedAttestation`], …). Only this
//!   module's checks construct them.
//! * [`check`]: the checks of one discovered candidate against one [`SignatureVerifier`].
//! * [`bundle`]: Sigstore bundle verification (offline, against a trust root).
//! * [`legacy`]: legacy keyless `.sig`/`.att` layers.

pub mod blob;
pub mod bundle;
pub mod check;
pub mod legacy;
pub mod proof;

pub use check::*;
pub use proof::{Signer, Source, TlogEvidence, VerifiedAttestation, VerifiedSignature};
