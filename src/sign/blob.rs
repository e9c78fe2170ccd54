//! Signing files ("blobs") with a key, in cosign's file formats: a detached signature (the
//! base64 of the raw signature bytes, which `cosign sign-blob` prints), a DSSE envelope for
//! `attest-blob`, and key-based Sigstore bundles ([`crate::format::bundle`]).

use serde_json::Value;

use crate::format::digest::Digest;
use crate::format::{self, IN_TOTO_PAYLOAD_TYPE, envelope_json};
use crate::keys::{KeyError, SigningKey};

/// Signs the exact blob bytes (what `cosign sign-blob --key` signs).
pub fn sign_blob(key: &SigningKey, blob: &[u8]) -> Result<Vec<u8>, KeyError> {
    key.sign(blob)
}

/// The result of [`attest_blob`].
#[derive(Debug, Clone)]
pub struct BlobAttestation {
    /// The in-toto statement bytes that were signed (inside the PAE).
    pub statement: Vec<u8>,
    /// The raw signature over the PAE.
    pub signature: Vec<u8>,
    /// The DSSE envelope JSON (cosign v2 layout), as `attest-blob` writes it.
    pub envelope: Vec<u8>,
}

/// Builds the statement for a blob (`subject_name` is the file name, as cosign uses), signs its
/// DSSE PAE and returns the envelope.
pub fn attest_blob(
    key: &SigningKey,
    subject_name: &str,
    blob_digest: &Digest,
    predicate_type: &str,
    predicate: Value,
) -> Result<BlobAttestation, KeyError> {
    let statement = format::statement(subject_name, blob_digest, predicate_type, predicate);
    let signature = key.sign(&format::pae(IN_TOTO_PAYLOAD_TYPE, &statement))?;
    let envelope = envelope_json(IN_TOTO_PAYLOAD_TYPE, &statement, &signature);
    Ok(BlobAttestation {
        statement,
        signature,
        envelope,
    })
}
