//! Verification: every check that stands between attached bytes and a proof value.
//!
//! * [`proof`]: the proof types ([`VerifiedSignature`], [`VerifiedAttestation`], …) and the
//!   only code that constructs them.
//! * [`check`]: the checks of one discovered candidate against one [`SignatureVerifier`].
//! * [`dsse`]: DSSE signatures with a key, and how many signatures an envelope may carry.
//! * [`intoto`]: the in-toto claim checks (payload type, statement, subject, predicate type).
//! * [`bundle`]: Sigstore bundle verification (offline, against a trust root).
//! * [`legacy`]: legacy keyless `.sig`/`.att` layers.
//! * [`blob`]: files verified with a key.
//!
//! TODO: list of checks.

pub mod blob;
pub mod bundle;
pub mod check;
pub mod dsse;
pub mod intoto;
pub mod legacy;
pub mod proof;

pub use check::*;
pub use proof::{
    BundleContent, Signer, Source, TlogEvidence, VerifiedAttestation, VerifiedBlob, VerifiedBundle,
    VerifiedBundleItem, VerifiedSignature,
};
