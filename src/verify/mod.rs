//! Verification: every check that stands between attached bytes and a proof value.
//!
//! * [`proof`]: the proof types ([`VerifiedSignature`], [`VerifiedAttestation`], …) and the
//!   only code that constructs them.
//! * `check`: the checks of one discovered candidate against one [`SignatureVerifier`].
//! * [`dsse`]: DSSE signatures with a key, and how many signatures an envelope may carry.
//! * [`intoto`]: the in-toto claim checks (payload type, statement, subject, predicate type).
//! * [`bundle`]: Sigstore bundle verification (offline, against a trust root).
//! * [`legacy`]: legacy keyless `.sig`/`.att` layers.
//! * [`blob`]: files verified with a key.
//!
//! # The checks, per signature kind
//!
//! Every check listed is required: they run in this order, the first that fails rejects the
//! candidate (fail closed, naming the [`Check`] and its typed [`Cause`]), and there is no option
//! that skips one, except [`bundle::VerifyOptions::insecure_ignore_tlog`] (named as such, and
//! used for key-signed bundles, whose key is the trust anchor).
//!
//! **Legacy `.sig` layer** ([`check_signature`]):
//! 1. fetch: the layer blob's digest and size, checked by the repository at discovery;
//! 2. media type: `application/vnd.dev.cosign.simplesigning.v1+json`;
//! 3. the signature annotation is present;
//! 4. signature: with a key, the base64 annotation verifies over the exact payload bytes;
//!    keyless, the layer carries a certificate (else the candidate is not this verifier's
//!    kind) and passes every legacy keyless check of [`legacy`] (leaf certificate, Rekor
//!    bundle annotation, chain annotation, Fulcio chain and SCT, SET, certificate valid at the
//!    integrated time, signature, tlog body bound to this signature and payload, RFC 3161
//!    timestamp when present, certificate identity, issuer and GitHub claims);
//! 5. the payload parses as simple signing;
//! 6. its `docker-manifest-digest` is the image digest;
//! 7. the required annotations are in its `optional` map.
//!
//! **Legacy `.att` layer** ([`check_attestation`]):
//! 1. fetch; 2. media type `application/vnd.dsse.envelope.v1+json`; 3. the envelope parses;
//! 4. DSSE signature ([`dsse`]): with a key, any one signature verifies over the PAE (a
//!    detached envelope); keyless, exactly one signature, then the legacy keyless checks as for
//!    `.sig`, plus the tlog entry kind (`dsse`/`intoto`) and its `envelopeHash` over the layer;
//! 5. the in-toto claims ([`intoto`]): payload type, statement, a subject with the image's
//!    sha256, and the predicate type when one is asked for.
//!
//! **Sigstore bundle referrer** ([`check_bundle`]):
//! 1. fetch;
//! 2. the bundle parses (`sigstore-types`, the one bundle parser);
//! 3. signature: with a key, the bundle carries no certificate, and either (no tlog entries)
//!    its DSSE envelope has exactly one signature, which verifies over the PAE with the key, or
//!    (tlog entries) the Sigstore verifier checks it with the key and the entries for
//!    consistency; keyless, every check of [`bundle::verify_bundle`] against the trust root
//!    (below) with the image digest as the artifact;
//! 4. the content is a DSSE envelope (not a message signature);
//! 5. the in-toto claims ([`intoto`]) about the image digest; a predicate type asked for is
//!    compared by [`check_discovered`];
//! 6. a statement of [`COSIGN_SIGN_PREDICATE`] is an image signature: the required annotations
//!    are on the subject that names the image.
//!
//! **Sigstore bundle, keyless** ([`bundle::verify_bundle`], also `verify-bundle`): the bundle
//! parses; an identity constraint exists; a signing certificate is present; a v0.1/v0.2 chain
//! holds no self-signed root; then `sigstore-verify`: the Fulcio chain at the signing time, the
//! SCT, the tlog (SET, or inclusion proof and checkpoint) or an RFC 3161 timestamp, the tlog
//! body bound to this bundle, the signature (message or DSSE) and the artifact digest (message
//! digest, or a statement subject); then ours: every trust-root CA certificate valid at each
//! verified signing time, then the certificate identity, issuer and GitHub claims.
//!
//! **Blob signature, key** ([`blob::verify_blob`]): a detached base64 signature verifies over
//! the blob bytes; or a key bundle (a certificate is refused: "use verify-bundle") with a
//! message signature whose `messageDigest` is the blob's digest and whose signature verifies
//! over the blob bytes. Tlog entries are counted, not checked.
//!
//! **Blob attestation, key** ([`blob::verify_blob_attestation`]): the detached envelope (JSON or
//! its base64) or a key bundle's DSSE envelope parses; the DSSE signature ([`dsse`]: any one of
//! a detached envelope, exactly one in a bundle); the in-toto claims ([`intoto`]) about the
//! blob digest, with the predicate type when one is asked for.

pub mod blob;
pub mod bundle;
mod check;
pub mod dsse;
pub mod intoto;
pub mod key_tlog;
pub mod legacy;
pub mod proof;

pub use check::{
    COSIGN_SIGN_PREDICATE, CandidateFailure, Cause, Check, Checked, SignatureVerifier,
    check_attestation, check_bundle, check_discovered, check_signature,
};
pub use proof::{
    BundleContent, Signer, Source, TlogEvidence, VerifiedAttestation, VerifiedBlob, VerifiedBundle,
    VerifiedBundleItem, VerifiedSignature,
};
