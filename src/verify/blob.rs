//! Verifying files ("blobs") with a key, in cosign's file formats: a detached base64
//! signature, a DSSE envelope (`attest-blob`), or a key-based Sigstore bundle
//! ([`crate::format::bundle`]).
//!
//! Verification here is key-only: bundles that carry a certificate are refused with a pointer to
//! `verify-bundle`, and transparency-log entries in a bundle are not checked (the returned proof
//! says so: its `tlog` is `None`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use sigstore_types::HashAlgorithm;

use crate::format::bundle::{KeyBundleContent, parse_key_bundle, public_key_hint};
use crate::format::digest::Digest;
use crate::format::{PayloadError, parse_envelope};
use crate::keys::{KeyError, PublicKey};
use crate::verify::dsse::{self, DsseError, Placement};
use crate::verify::intoto::{self, ClaimError};
pub use crate::verify::proof::VerifiedBlob;
use crate::verify::proof::{SignedBy, Source, VerifiedAttestation, seal_attestation, seal_blob};

/// Why signing or verifying a blob failed. Verification fails closed: every variant is a refusal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// A file could not be read.
    #[error(transparent)]
    File(#[from] crate::fs::ReadError),
    /// A key problem (includes a signature that does not verify with the key).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A payload, envelope, statement or predicate problem.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The detached signature is not base64.
    #[error(
        "the signature is not base64 (cosign writes the standard base64 of the signature bytes)"
    )]
    SignatureEncoding,
    /// The signature does not verify over the blob (or the envelope's PAE) with the key.
    #[error("{what} does not verify with the public key {fingerprint}{hint}")]
    BadSignature {
        /// What was checked ("blob signature", "DSSE envelope signature").
        what: &'static str,
        /// The key's fingerprint.
        fingerprint: String,
        /// A note when the bundle's key hint names another key.
        hint: String,
    },
    /// The bundle's message digest is not the blob's digest.
    #[error(
        "the bundle's messageDigest ({algorithm} {in_bundle}) is not the digest of the file ({computed})"
    )]
    MessageDigestMismatch {
        /// The algorithm named in the bundle.
        algorithm: String,
        /// Hex digest in the bundle.
        in_bundle: String,
        /// Hex digest of the file, same algorithm.
        computed: String,
    },
    /// The DSSE envelope's payloadType is not in-toto.
    #[error("DSSE payloadType is `{0}`, expected `application/vnd.in-toto+json`")]
    PayloadType(String),
    /// A bundle's DSSE envelope must have exactly one signature.
    #[error("the bundle's DSSE envelope has {0} signatures; exactly one is required")]
    SignatureCount(usize),
    /// A bundle with a message signature was given where an attestation was expected, or the
    /// other way round.
    #[error("the bundle holds {found}, but {expected} was expected")]
    WrongBundleContent {
        /// What it holds.
        found: &'static str,
        /// What the command needs.
        expected: &'static str,
    },
    /// The statement's predicate type is not the one asked for.
    #[error("the attestation's predicateType is `{found}`, not `{expected}`")]
    PredicateType {
        /// The predicate type asked for.
        expected: String,
        /// The statement's predicate type.
        found: String,
    },
}

/// What the verifier was given besides the blob.
#[derive(Debug, Clone, Copy)]
pub enum BlobEvidence<'a> {
    /// The contents of a `--signature` file: for `verify-blob` the base64 signature; for
    /// `verify-blob-attestation` the DSSE envelope JSON (or its base64, which cosign also reads).
    Signature(&'a [u8]),
    /// The contents of a `--bundle` file.
    Bundle(&'a [u8]),
}

fn hint_note(bundle_hint: Option<&str>, key: &PublicKey) -> String {
    match bundle_hint {
        Some(h) if !h.is_empty() && h != public_key_hint(key.spki_der()) => {
            format!(" (the bundle's key hint {h} names a different key)")
        }
        _ => String::new(),
    }
}

fn bad_signature(what: &'static str, key: &PublicKey, hint: Option<&str>) -> BlobError {
    BlobError::BadSignature {
        what,
        fingerprint: key.fingerprint(),
        hint: hint_note(hint, key),
    }
}

fn hash_with(algorithm: HashAlgorithm, blob: &[u8]) -> Result<Vec<u8>, BlobError> {
    use aws_lc_rs::digest::{SHA256, SHA384, SHA512, digest};
    let alg = match algorithm {
        HashAlgorithm::Sha2256 => &SHA256,
        HashAlgorithm::Sha2384 => &SHA384,
        HashAlgorithm::Sha2512 => &SHA512,
        other => {
            return Err(BlobError::Payload(PayloadError::Bundle(format!(
                "unsupported messageDigest algorithm `{other}` (SHA2_256, SHA2_384, SHA2_512 are accepted)"
            ))));
        }
    };
    Ok(digest(alg, blob).as_ref().to_vec())
}

/// Verifies a blob signature with `key`: a base64 detached signature over the blob bytes, or a
/// key-based bundle whose `messageDigest` equals the blob's digest and whose signature verifies
/// over the blob bytes.
pub fn verify_blob(
    key: &PublicKey,
    blob: &[u8],
    evidence: BlobEvidence<'_>,
    source: Source,
) -> Result<VerifiedBlob, BlobError> {
    let (signature, hint, tlog_entries) = match evidence {
        BlobEvidence::Signature(text) => {
            let trimmed = std::str::from_utf8(text)
                .map_err(|_| BlobError::SignatureEncoding)?
                .trim();
            let sig = STANDARD
                .decode(trimmed)
                .map_err(|_| BlobError::SignatureEncoding)?;
            (sig, None, 0)
        }
        BlobEvidence::Bundle(bytes) => {
            let b = parse_key_bundle(bytes)?;
            match b.content {
                KeyBundleContent::MessageSignature {
                    algorithm,
                    digest,
                    signature,
                } => {
                    let computed = hash_with(algorithm, blob)?;
                    if computed != digest {
                        return Err(BlobError::MessageDigestMismatch {
                            algorithm: algorithm.to_string(),
                            in_bundle: hex::encode(&digest),
                            computed: hex::encode(&computed),
                        });
                    }
                    (signature, Some(b.hint), b.tlog_entries)
                }
                KeyBundleContent::Dsse(_) => {
                    return Err(BlobError::WrongBundleContent {
                        found: "a DSSE envelope (an attestation; use verify-blob-attestation)",
                        expected: "a message signature",
                    });
                }
            }
        }
    };
    key.verify(blob, &signature)
        .map_err(|_| bad_signature("the blob signature", key, hint.as_deref()))?;
    Ok(seal_blob(
        Digest::of(blob),
        SignedBy::key(key.fingerprint()),
        source,
        tlog_entries,
    ))
}

/// Verifies a blob attestation with `key`, failing closed in this order: the DSSE signature over
/// the PAE ([`crate::verify::dsse`]: any one signature of a detached envelope; exactly one in a
/// bundle), then the in-toto claims ([`crate::verify::intoto`]: payloadType in-toto, the
/// statement parses (v0.1 or v1), a subject's sha256 equals `blob_digest`, and the predicate
/// type equals `predicate_type` when given, already mapped from a `--type` shortcut).
pub fn verify_blob_attestation(
    key: &PublicKey,
    blob_digest: &Digest,
    evidence: BlobEvidence<'_>,
    predicate_type: Option<&str>,
    source: Source,
) -> Result<VerifiedAttestation, BlobError> {
    let (envelope, raw, hint, placement) = match evidence {
        BlobEvidence::Signature(bytes) => {
            let trimmed = trim_ascii(bytes);
            let raw = if trimmed.starts_with(b"{") {
                trimmed.to_vec()
            } else {
                // cosign reads the envelope base64-encoded as well.
                STANDARD
                    .decode(trimmed)
                    .map_err(|_| BlobError::SignatureEncoding)?
            };
            (parse_envelope(&raw)?, raw, None, Placement::Detached)
        }
        BlobEvidence::Bundle(bytes) => {
            let b = parse_key_bundle(bytes)?;
            match b.content {
                KeyBundleContent::Dsse(env) => {
                    (env, bytes.to_vec(), Some(b.hint), Placement::Bundle)
                }
                KeyBundleContent::MessageSignature { .. } => {
                    return Err(BlobError::WrongBundleContent {
                        found: "a message signature (use verify-blob)",
                        expected: "a DSSE envelope",
                    });
                }
            }
        }
    };
    dsse::verify_with_key(&envelope, key, placement).map_err(|e| match e {
        DsseError::SignatureCount { found, .. } => BlobError::SignatureCount(found),
        DsseError::NoSignatureVerifies { .. } => {
            bad_signature("the DSSE envelope signature", key, hint.as_deref())
        }
    })?;
    let claims = intoto::check_claims(
        &envelope.payload_type,
        envelope.payload,
        blob_digest,
        predicate_type,
    )
    .map_err(|e| match e {
        ClaimError::PayloadType { found } => BlobError::PayloadType(found),
        ClaimError::Statement(p) | ClaimError::Subject(p) => BlobError::Payload(p),
        ClaimError::PredicateType { expected, found } => {
            BlobError::PredicateType { expected, found }
        }
    })?;
    Ok(seal_attestation(
        claims,
        std::sync::Arc::new(raw),
        SignedBy::key(key.fingerprint()),
        source,
    ))
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::format::bundle::{
        BUNDLE_MEDIA_TYPE_V03, dsse_bundle, message_signature_bundle, signature_base64,
    };
    use crate::format::{self, IN_TOTO_PAYLOAD_TYPE, envelope_json};
    use crate::keys::SigningKey;
    use crate::sign::blob::{attest_blob, sign_blob};
    use serde_json::Value;

    fn key() -> SigningKey {
        SigningKey::generate_p256().unwrap()
    }

    fn src() -> Source {
        Source::File { path: "t".into() }
    }

    #[test]
    fn sign_verify_detached_and_bundle() {
        let k = key();
        let blob = b"hello blob";
        let sig = sign_blob(&k, blob).unwrap();
        let b64 = signature_base64(&sig);
        let pk = k.public_key();
        let v = verify_blob(
            &pk,
            blob,
            BlobEvidence::Signature(format!("{b64}\n").as_bytes()),
            src(),
        )
        .unwrap();
        assert_eq!(v.digest(), &Digest::of(blob));
        let bundle = message_signature_bundle(pk.spki_der(), &Digest::of(blob), &sig);
        let v = verify_blob(&pk, blob, BlobEvidence::Bundle(&bundle), src()).unwrap();
        assert_eq!(v.tlog_entries_unchecked(), 0);
        // Shape check.
        let j: Value = serde_json::from_slice(&bundle).unwrap();
        assert_eq!(j["mediaType"], BUNDLE_MEDIA_TYPE_V03);
        assert_eq!(
            j["verificationMaterial"]["publicKey"]["hint"],
            public_key_hint(pk.spki_der())
        );
        assert_eq!(
            j["messageSignature"]["messageDigest"]["algorithm"],
            "SHA2_256"
        );
        assert!(j["verificationMaterial"].get("tlogEntries").is_none());
    }

    #[test]
    fn tampered_blob_wrong_key_bad_encoding() {
        let k = key();
        let sig = sign_blob(&k, b"a").unwrap();
        let b64 = signature_base64(&sig);
        let pk = k.public_key();
        let e = verify_blob(&pk, b"b", BlobEvidence::Signature(b64.as_bytes()), src()).unwrap_err();
        assert!(matches!(e, BlobError::BadSignature { .. }), "{e}");
        let other = key().public_key();
        let e =
            verify_blob(&other, b"a", BlobEvidence::Signature(b64.as_bytes()), src()).unwrap_err();
        assert!(matches!(e, BlobError::BadSignature { .. }), "{e}");
        let e = verify_blob(&pk, b"a", BlobEvidence::Signature(b"%%%"), src()).unwrap_err();
        assert!(matches!(e, BlobError::SignatureEncoding), "{e}");
        // Bundle: digest of another blob.
        let bundle = message_signature_bundle(pk.spki_der(), &Digest::of(b"a"), &sig);
        let e = verify_blob(&pk, b"b", BlobEvidence::Bundle(&bundle), src()).unwrap_err();
        assert!(matches!(e, BlobError::MessageDigestMismatch { .. }), "{e}");
        // Bundle checked with another key: the hint mismatch is named.
        let e = verify_blob(&other, b"a", BlobEvidence::Bundle(&bundle), src()).unwrap_err();
        assert!(e.to_string().contains("names a different key"), "{e}");
    }

    #[test]
    fn keyless_and_malformed_bundles() {
        let keyless = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"AA=="}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AA=="},"signature":"AA=="}}"#;
        let pk = key().public_key();
        let e = verify_blob(&pk, b"a", BlobEvidence::Bundle(keyless), src()).unwrap_err();
        assert!(e.to_string().contains("use verify-bundle"), "{e}");
        for bad in [
            &b"{}"[..],
            b"nope",
            br#"{"mediaType":"application/x","verificationMaterial":{"publicKey":{}}}"#,
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}}}"#,
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{}}"#,
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"messageSignature":{"messageDigest":{"algorithm":"MD5","digest":"AA=="},"signature":"AA=="}}"#,
        ] {
            assert!(verify_blob(&pk, b"a", BlobEvidence::Bundle(bad), src()).is_err());
        }
    }

    #[test]
    fn attest_and_verify_roundtrip() {
        let k = key();
        let pk = k.public_key();
        let d = Digest::of(b"artifact");
        let pred: Value = serde_json::json!({"buildType": "x"});
        let att = attest_blob(
            &k,
            "artifact.bin",
            &d,
            "https://slsa.dev/provenance/v0.2",
            pred,
        )
        .unwrap();
        let v = verify_blob_attestation(
            &pk,
            &d,
            BlobEvidence::Signature(&att.envelope),
            Some("https://slsa.dev/provenance/v0.2"),
            src(),
        )
        .unwrap();
        assert_eq!(v.predicate_type(), "https://slsa.dev/provenance/v0.2");
        assert_eq!(v.envelope(), &att.envelope[..]);
        // Base64-wrapped envelope, as cosign also reads.
        let b64 = STANDARD.encode(&att.envelope);
        assert!(
            verify_blob_attestation(
                &pk,
                &d,
                BlobEvidence::Signature(b64.as_bytes()),
                None,
                src()
            )
            .is_ok()
        );
        // Bundle form.
        let bundle = dsse_bundle(
            pk.spki_der(),
            IN_TOTO_PAYLOAD_TYPE,
            &att.statement,
            &att.signature,
        );
        assert!(
            verify_blob_attestation(&pk, &d, BlobEvidence::Bundle(&bundle), None, src()).is_ok()
        );
        // Wrong type, wrong digest, wrong key.
        let e = verify_blob_attestation(
            &pk,
            &d,
            BlobEvidence::Bundle(&bundle),
            Some("https://spdx.dev/Document"),
            src(),
        )
        .unwrap_err();
        assert!(matches!(e, BlobError::PredicateType { .. }), "{e}");
        let e = verify_blob_attestation(
            &pk,
            &Digest::of(b"other"),
            BlobEvidence::Bundle(&bundle),
            None,
            src(),
        )
        .unwrap_err();
        assert!(
            matches!(e, BlobError::Payload(PayloadError::SubjectMismatch { .. })),
            "{e}"
        );
        let e = verify_blob_attestation(
            &key().public_key(),
            &d,
            BlobEvidence::Bundle(&bundle),
            None,
            src(),
        )
        .unwrap_err();
        assert!(matches!(e, BlobError::BadSignature { .. }), "{e}");
        // A message-signature bundle is not an attestation and vice versa.
        let ms = message_signature_bundle(pk.spki_der(), &d, &att.signature);
        assert!(matches!(
            verify_blob_attestation(&pk, &d, BlobEvidence::Bundle(&ms), None, src()).unwrap_err(),
            BlobError::WrongBundleContent { .. }
        ));
        assert!(matches!(
            verify_blob(&pk, b"artifact", BlobEvidence::Bundle(&bundle), src()).unwrap_err(),
            BlobError::WrongBundleContent { .. }
        ));
    }

    #[test]
    fn signed_non_in_toto_payload_type_refused() {
        let k = key();
        let d = Digest::of(b"x");
        let stmt = format::statement("x", &d, "https://t", serde_json::json!({}));
        let sig = k.sign(&format::pae("text/plain", &stmt)).unwrap();
        let env = envelope_json("text/plain", &stmt, &sig);
        let e = verify_blob_attestation(
            &k.public_key(),
            &d,
            BlobEvidence::Signature(&env),
            None,
            src(),
        )
        .unwrap_err();
        assert!(matches!(e, BlobError::PayloadType(_)), "{e}");
    }
}
