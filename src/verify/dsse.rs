//! DSSE signatures, one primitive for images and blobs alike. How many signatures an envelope
//! may carry is stated once, by where the envelope sits ([`Placement`]):
//!
//! - in a Sigstore bundle: exactly one (protobuf-specs: "a DSSE envelope in a bundle MUST only
//!   contain one signature"; the bundle's verification material vouches for one signature);
//! - detached and checked with a key (a legacy `.att` layer, `attest-blob` output): at least
//!   one, and the envelope passes when any one of them verifies over the PAE with the key
//!   (cosign, and DSSE with threshold 1);
//! - a legacy keyless `.att` layer: exactly one (the certificate signs one).
//!
//! The signature always covers the PAE of the exact payload bytes ([`crate::format::pae`]).

use crate::format::{Envelope, EnvelopeSignature};
use crate::keys::PublicKey;

/// Where a DSSE envelope sits; this fixes how many signatures it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// Inside a Sigstore bundle: exactly one signature.
    Bundle,
    /// A detached envelope checked with a key (legacy `.att` layer, `attest-blob` output): any
    /// one of its signatures verifying with the key is enough.
    Detached,
    /// A legacy keyless `.att` layer: exactly one signature, the one the certificate made.
    KeylessLayer,
}

impl Placement {
    /// Whether an envelope here must carry exactly one signature (else: at least one).
    pub fn exactly_one(self) -> bool {
        match self {
            Self::Bundle | Self::KeylessLayer => true,
            Self::Detached => false,
        }
    }
}

/// Why a DSSE envelope's signatures were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DsseError {
    /// The envelope carries a number of signatures its placement does not allow.
    #[error("the DSSE envelope has {found} signatures; {}", if placement.exactly_one() { "exactly one is required" } else { "at least one is required" })]
    SignatureCount {
        /// Where the envelope sits.
        placement: Placement,
        /// How many signatures it carries.
        found: usize,
    },
    /// No signature that may be checked verifies over the PAE with the key.
    #[error("no DSSE signature ({present} present) verifies with key {fingerprint}")]
    NoSignatureVerifies {
        /// How many signatures the envelope carries.
        present: usize,
        /// The key's fingerprint.
        fingerprint: String,
    },
}

/// Check the signature count of an envelope at `placement` (the rule in the module docs).
pub(crate) fn check_count(found: usize, placement: Placement) -> Result<(), DsseError> {
    let ok = if placement.exactly_one() {
        found == 1
    } else {
        found >= 1
    };
    if ok {
        Ok(())
    } else {
        Err(DsseError::SignatureCount { placement, found })
    }
}

/// The one signature of an envelope that must carry exactly one ([`Placement::Bundle`],
/// [`Placement::KeylessLayer`]).
pub(crate) fn single_signature(
    envelope: &Envelope,
    placement: Placement,
) -> Result<&EnvelopeSignature, DsseError> {
    match envelope.signatures.as_slice() {
        [one] => Ok(one),
        sigs => Err(DsseError::SignatureCount {
            placement,
            found: sigs.len(),
        }),
    }
}

/// Verify `envelope` with `key` at `placement`: the count rule, then a signature over the PAE
/// that verifies with the key.
pub(crate) fn verify_with_key(
    envelope: &Envelope,
    key: &PublicKey,
    placement: Placement,
) -> Result<(), DsseError> {
    check_count(envelope.signatures.len(), placement)?;
    // The PAE as two parts (header, payload): no copy of a large payload.
    let header = crate::format::pae_header(&envelope.payload_type, envelope.payload.len());
    let pae: [&[u8]; 2] = [&header, &envelope.payload];
    if envelope
        .signatures
        .iter()
        .any(|s| key.verify_parts(&pae, &s.sig).is_ok())
    {
        Ok(())
    } else {
        Err(DsseError::NoSignatureVerifies {
            present: envelope.signatures.len(),
            fingerprint: key.fingerprint(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::format::{self, IN_TOTO_PAYLOAD_TYPE};
    use crate::keys::SigningKey;

    fn envelope(sigs: Vec<Vec<u8>>) -> Envelope {
        Envelope {
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            payload: b"{}".to_vec(),
            signatures: sigs
                .into_iter()
                .map(|sig| EnvelopeSignature { keyid: None, sig })
                .collect(),
        }
    }

    #[test]
    fn the_count_rule_depends_on_the_placement() {
        let alice = SigningKey::generate_p256().unwrap();
        let bob = SigningKey::generate_p256().unwrap();
        let pae = format::pae(IN_TOTO_PAYLOAD_TYPE, b"{}");
        let a = alice.sign(&pae).unwrap();
        let b = bob.sign(&pae).unwrap();
        let key = alice.public_key();
        // One signature: fine everywhere.
        for p in [Placement::Bundle, Placement::Detached] {
            verify_with_key(&envelope(vec![a.clone()]), &key, p).unwrap();
        }
        // Two signatures, the second by the key: a detached envelope passes (threshold 1), a
        // bundle envelope is refused for its count before any signature is tried.
        let two = envelope(vec![b.clone(), a]);
        verify_with_key(&two, &key, Placement::Detached).unwrap();
        assert_eq!(
            verify_with_key(&two, &key, Placement::Bundle),
            Err(DsseError::SignatureCount {
                placement: Placement::Bundle,
                found: 2
            })
        );
        assert_eq!(
            single_signature(&two, Placement::KeylessLayer).unwrap_err(),
            DsseError::SignatureCount {
                placement: Placement::KeylessLayer,
                found: 2
            }
        );
        assert!(check_count(0, Placement::Detached).is_err());
        // No signature by the key.
        assert!(matches!(
            verify_with_key(&envelope(vec![b]), &key, Placement::Detached),
            Err(DsseError::NoSignatureVerifies { present: 1, .. })
        ));
    }
}
