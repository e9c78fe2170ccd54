//! Signing and verifying files ("blobs") with a key, in cosign's file formats:
//!
//! - a detached signature: the base64 (standard alphabet) of the raw signature bytes, which
//!   `cosign sign-blob` prints and `--output-signature` writes;
//! - a DSSE envelope for `attest-blob` (the JSON `cosign attest-blob` writes);
//! - a Sigstore bundle v0.3 (protobuf JSON) with `verificationMaterial.publicKey.hint` =
//!   base64(sha256(SPKI DER)) and either `messageSignature` or `dsseEnvelope`, without
//!   transparency-log entries (cosign-formats §3.3).
//!
//! Verification here is key-only: bundles that carry a certificate are refused with a pointer to
//! `verify-bundle`, and transparency-log entries in a bundle are not checked (the returned proof
//! says so: its `tlog` is `None`).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::digest::Digest;
use crate::evidence::{Signer, Source, VerifiedAttestation};
use crate::keys::{KeyError, PublicKey, SigningKey};
use crate::payload::{
    self, Envelope, IN_TOTO_PAYLOAD_TYPE, PayloadError, envelope_json, parse_envelope,
    parse_statement,
};

/// Media type of the bundles this module writes.
pub const BUNDLE_MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Bundle media types accepted when reading.
pub const BUNDLE_MEDIA_TYPES: &[&str] = &[
    BUNDLE_MEDIA_TYPE_V03,
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];

/// Largest signature or bundle file read (bundles with a DSSE envelope carry the whole
/// statement, so this is generous: the default predicate limit plus base64 overhead).
pub const MAX_EVIDENCE_BYTES: u64 = payload::DEFAULT_MAX_PREDICATE_BYTES * 2;

/// Why signing or verifying a blob failed. Verification fails closed: every variant is a refusal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// "cannot read" / "cannot write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than allowed.
    #[error("{} is larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
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
    /// The bundle JSON is malformed or not a key-based bundle we can read.
    #[error("invalid Sigstore bundle: {0}")]
    Bundle(String),
    /// The bundle was made with a certificate (keyless), not a key.
    #[error(
        "the bundle carries a certificate (keyless signing); this command verifies key-based bundles only (keyless bundles: use verify-bundle)"
    )]
    KeylessBundle,
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

/// base64 (standard alphabet, padded) of signature bytes: what cosign prints.
pub fn signature_base64(sig: &[u8]) -> String {
    STANDARD.encode(sig)
}

/// The bundle `publicKey.hint` cosign writes: base64(sha256(SPKI DER)).
pub fn public_key_hint(key: &PublicKey) -> String {
    STANDARD.encode(Digest::of(key.spki_der()).raw())
}

/// Signs the exact blob bytes (what `cosign sign-blob --key` signs).
pub fn sign_blob(key: &SigningKey, blob: &[u8]) -> Result<Vec<u8>, BlobError> {
    Ok(key.sign(blob)?)
}

fn bundle_prefix(out: &mut Vec<u8>, key: &PublicKey) {
    out.extend_from_slice(br#"{"mediaType":""#);
    out.extend_from_slice(BUNDLE_MEDIA_TYPE_V03.as_bytes());
    out.extend_from_slice(br#"","verificationMaterial":{"publicKey":{"hint":""#);
    out.extend_from_slice(public_key_hint(key).as_bytes());
    out.extend_from_slice(br#""}},"#);
}

/// A key-based bundle v0.3 for a blob signature (protobuf JSON field order):
/// `{"mediaType":…,"verificationMaterial":{"publicKey":{"hint":…}},"messageSignature":
/// {"messageDigest":{"algorithm":"SHA2_256","digest":<b64>},"signature":<b64>}}`.
pub fn message_signature_bundle(key: &PublicKey, blob_digest: &Digest, sig: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    bundle_prefix(&mut out, key);
    out.extend_from_slice(
        br#""messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":""#,
    );
    out.extend_from_slice(STANDARD.encode(blob_digest.raw()).as_bytes());
    out.extend_from_slice(br#""},"signature":""#);
    out.extend_from_slice(signature_base64(sig).as_bytes());
    out.extend_from_slice(br#""}}"#);
    out
}

/// A key-based bundle v0.3 holding a DSSE envelope (protobuf JSON: `payload, payloadType,
/// signatures[{sig}]`, no keyid).
pub fn dsse_bundle(key: &PublicKey, payload_type: &str, payload: &[u8], sig: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() * 4 / 3 + 512);
    bundle_prefix(&mut out, key);
    out.extend_from_slice(br#""dsseEnvelope":{"payload":""#);
    out.extend_from_slice(STANDARD.encode(payload).as_bytes());
    out.extend_from_slice(br#"","payloadType":"#);
    payload::json::write_string(&mut out, payload_type);
    out.extend_from_slice(br#","signatures":[{"sig":""#);
    out.extend_from_slice(signature_base64(sig).as_bytes());
    out.extend_from_slice(br#""}]}}"#);
    out
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
) -> Result<BlobAttestation, BlobError> {
    let statement = payload::statement(subject_name, blob_digest, predicate_type, predicate);
    let signature = key.sign(&payload::pae(IN_TOTO_PAYLOAD_TYPE, &statement))?;
    let envelope = envelope_json(IN_TOTO_PAYLOAD_TYPE, &statement, &signature);
    Ok(BlobAttestation {
        statement,
        signature,
        envelope,
    })
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

/// A blob signature that verified with a key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifiedBlob {
    digest: Digest,
    signer: Signer,
    source: Source,
    tlog_entries_unchecked: usize,
}

impl VerifiedBlob {
    /// sha256 of the blob that verified.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
    /// The key that verified it.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
    /// Where the signature came from.
    pub fn source(&self) -> &Source {
        &self.source
    }
    /// How many transparency-log entries the bundle carried that were *not* checked
    /// (key-only verification).
    pub fn tlog_entries_unchecked(&self) -> usize {
        self.tlog_entries_unchecked
    }
}

/// The parts of a key-based bundle this module uses.
#[derive(Debug, Clone)]
pub struct KeyBundle {
    /// `verificationMaterial.publicKey.hint` (may be empty).
    pub hint: String,
    /// Number of `tlogEntries` (never checked here).
    pub tlog_entries: usize,
    /// The signed content.
    pub content: BundleContent,
}

/// What a bundle signs.
#[derive(Debug, Clone)]
pub enum BundleContent {
    /// `messageSignature`.
    MessageSignature {
        /// `messageDigest.algorithm` (e.g. `SHA2_256`).
        algorithm: String,
        /// `messageDigest.digest`, decoded.
        digest: Vec<u8>,
        /// `signature`, decoded.
        signature: Vec<u8>,
    },
    /// `dsseEnvelope`.
    Dsse(Envelope),
}

fn bundle_err(msg: impl Into<String>) -> BlobError {
    BlobError::Bundle(msg.into())
}

fn b64_field(v: Option<&Value>, field: &str) -> Result<Vec<u8>, BlobError> {
    let s = v
        .and_then(Value::as_str)
        .ok_or_else(|| bundle_err(format!("`{field}` is missing or not a string")))?;
    STANDARD
        .decode(s)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
        .map_err(|_| bundle_err(format!("`{field}` is not valid base64")))
}

/// Parses a Sigstore bundle (v0.1–v0.3 media types) that was made with a key. A bundle with a
/// certificate or certificate chain is refused with [`BlobError::KeylessBundle`].
pub fn parse_key_bundle(bytes: &[u8]) -> Result<KeyBundle, BlobError> {
    let root: Value =
        serde_json::from_slice(bytes).map_err(|e| bundle_err(format!("not valid JSON: {e}")))?;
    let obj = root
        .as_object()
        .ok_or_else(|| bundle_err("the top level is not a JSON object"))?;
    let media_type = obj
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| bundle_err("`mediaType` is missing"))?;
    if !BUNDLE_MEDIA_TYPES.contains(&media_type) {
        return Err(bundle_err(format!(
            "unsupported mediaType `{}`",
            payload_excerpt(media_type)
        )));
    }
    let vm = obj
        .get("verificationMaterial")
        .and_then(Value::as_object)
        .ok_or_else(|| bundle_err("`verificationMaterial` is missing"))?;
    if vm.contains_key("certificate") || vm.contains_key("x509CertificateChain") {
        return Err(BlobError::KeylessBundle);
    }
    let hint = match vm.get("publicKey") {
        Some(Value::Object(pk)) => match pk.get("hint") {
            None => String::new(),
            Some(Value::String(h)) => h.clone(),
            Some(_) => {
                return Err(bundle_err(
                    "`verificationMaterial.publicKey.hint` is not a string",
                ));
            }
        },
        _ => {
            return Err(bundle_err(
                "`verificationMaterial.publicKey` is missing (neither key nor certificate material)",
            ));
        }
    };
    let tlog_entries = match vm.get("tlogEntries") {
        None | Some(Value::Null) => 0,
        Some(Value::Array(a)) => a.len(),
        Some(_) => {
            return Err(bundle_err(
                "`verificationMaterial.tlogEntries` is not an array",
            ));
        }
    };
    let content = match (obj.get("messageSignature"), obj.get("dsseEnvelope")) {
        (Some(_), Some(_)) => {
            return Err(bundle_err(
                "both `messageSignature` and `dsseEnvelope` are present",
            ));
        }
        (Some(ms), None) => {
            let md = ms
                .get("messageDigest")
                .and_then(Value::as_object)
                .ok_or_else(|| bundle_err("`messageSignature.messageDigest` is missing"))?;
            let algorithm = md
                .get("algorithm")
                .and_then(Value::as_str)
                .ok_or_else(|| bundle_err("`messageSignature.messageDigest.algorithm` is missing"))?
                .to_owned();
            let digest = b64_field(md.get("digest"), "messageSignature.messageDigest.digest")?;
            let signature = b64_field(ms.get("signature"), "messageSignature.signature")?;
            BundleContent::MessageSignature {
                algorithm,
                digest,
                signature,
            }
        }
        (None, Some(env)) => {
            let env_bytes =
                serde_json::to_vec(env).map_err(|e| bundle_err(format!("`dsseEnvelope`: {e}")))?;
            BundleContent::Dsse(parse_envelope(&env_bytes)?)
        }
        (None, None) => {
            return Err(bundle_err(
                "neither `messageSignature` nor `dsseEnvelope` is present",
            ));
        }
    };
    Ok(KeyBundle {
        hint,
        tlog_entries,
        content,
    })
}

fn payload_excerpt(s: &str) -> String {
    s.chars().take(80).collect()
}

fn hint_note(bundle_hint: Option<&str>, key: &PublicKey) -> String {
    match bundle_hint {
        Some(h) if !h.is_empty() && h != public_key_hint(key) => {
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

fn hash_with(algorithm: &str, blob: &[u8]) -> Result<Vec<u8>, BlobError> {
    use aws_lc_rs::digest::{SHA256, SHA384, SHA512, digest};
    let alg = match algorithm {
        "SHA2_256" => &SHA256,
        "SHA2_384" => &SHA384,
        "SHA2_512" => &SHA512,
        other => {
            return Err(bundle_err(format!(
                "unsupported messageDigest algorithm `{}` (SHA2_256, SHA2_384, SHA2_512 are accepted)",
                payload_excerpt(other)
            )));
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
                BundleContent::MessageSignature {
                    algorithm,
                    digest,
                    signature,
                } => {
                    let computed = hash_with(&algorithm, blob)?;
                    if computed != digest {
                        return Err(BlobError::MessageDigestMismatch {
                            algorithm,
                            in_bundle: hex::encode(&digest),
                            computed: hex::encode(&computed),
                        });
                    }
                    (signature, Some(b.hint), b.tlog_entries)
                }
                BundleContent::Dsse(_) => {
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
    Ok(VerifiedBlob {
        digest: Digest::of(blob),
        signer: Signer::Key {
            fingerprint: key.fingerprint(),
        },
        source,
        tlog_entries_unchecked: tlog_entries,
    })
}

/// Verifies a blob attestation with `key`, failing closed in this order: the DSSE signature over
/// the PAE (any one signature of a detached envelope; exactly one in a bundle), payloadType
/// in-toto, the statement parses (v0.1 or v1), a subject's sha256 equals `blob_digest`, and the
/// predicate type equals `predicate_type` when given (already mapped from a `--type` shortcut).
pub fn verify_blob_attestation(
    key: &PublicKey,
    blob_digest: &Digest,
    evidence: BlobEvidence<'_>,
    predicate_type: Option<&str>,
    source: Source,
) -> Result<VerifiedAttestation, BlobError> {
    let (envelope, raw, hint) = match evidence {
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
            (parse_envelope(&raw)?, raw, None)
        }
        BlobEvidence::Bundle(bytes) => {
            let b = parse_key_bundle(bytes)?;
            match b.content {
                BundleContent::Dsse(env) => {
                    if env.signatures.len() != 1 {
                        return Err(BlobError::SignatureCount(env.signatures.len()));
                    }
                    (env, bytes.to_vec(), Some(b.hint))
                }
                BundleContent::MessageSignature { .. } => {
                    return Err(BlobError::WrongBundleContent {
                        found: "a message signature (use verify-blob)",
                        expected: "a DSSE envelope",
                    });
                }
            }
        }
    };
    let pae = envelope.pae();
    if !envelope
        .signatures
        .iter()
        .any(|s| key.verify(&pae, &s.sig).is_ok())
    {
        return Err(bad_signature(
            "the DSSE envelope signature",
            key,
            hint.as_deref(),
        ));
    }
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(BlobError::PayloadType(payload_excerpt(
            &envelope.payload_type,
        )));
    }
    let statement = parse_statement(&envelope.payload)?;
    statement.require_subject_digest(blob_digest)?;
    if let Some(expected) = predicate_type
        && statement.predicate_type != expected
    {
        return Err(BlobError::PredicateType {
            expected: expected.to_owned(),
            found: statement.predicate_type,
        });
    }
    Ok(VerifiedAttestation::new(
        blob_digest.clone(),
        statement.predicate_type,
        statement.raw,
        raw,
        Signer::Key {
            fingerprint: key.fingerprint(),
        },
        None,
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

/// Reads a whole file, refusing it past `limit` bytes.
pub fn read_file_limited(path: &Path, limit: u64) -> Result<Vec<u8>, BlobError> {
    let io = |source| BlobError::Io {
        action: "cannot read",
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(BlobError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(buf)
}

/// sha256 of a file, streamed (for attestations, which only need the digest).
pub fn digest_file(path: &Path) -> Result<Digest, BlobError> {
    let io = |source| BlobError::Io {
        action: "cannot read",
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    let d = ctx.finish();
    let mut raw = [0u8; 32];
    raw.copy_from_slice(d.as_ref());
    Ok(Digest::from_raw(&raw))
}

/// Writes an output file atomically (temp file + rename), replacing an existing one as cosign
/// does, mode 0644.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
    crate::fsutil::write_atomic(path, bytes, 0o644, true).map_err(|source| BlobError::Io {
        action: "cannot write",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

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
        let bundle = message_signature_bundle(&pk, &Digest::of(blob), &sig);
        let v = verify_blob(&pk, blob, BlobEvidence::Bundle(&bundle), src()).unwrap();
        assert_eq!(v.tlog_entries_unchecked(), 0);
        // Shape check.
        let j: Value = serde_json::from_slice(&bundle).unwrap();
        assert_eq!(j["mediaType"], BUNDLE_MEDIA_TYPE_V03);
        assert_eq!(
            j["verificationMaterial"]["publicKey"]["hint"],
            public_key_hint(&pk)
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
        let bundle = message_signature_bundle(&pk, &Digest::of(b"a"), &sig);
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
        let bundle = dsse_bundle(&pk, IN_TOTO_PAYLOAD_TYPE, &att.statement, &att.signature);
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
        let ms = message_signature_bundle(&pk, &d, &att.signature);
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
        let stmt = payload::statement("x", &d, "https://t", serde_json::json!({}));
        let sig = k.sign(&payload::pae("text/plain", &stmt)).unwrap();
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

    #[test]
    fn digest_file_streams() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data = vec![7u8; 200_000];
        std::fs::write(&p, &data).unwrap();
        assert_eq!(digest_file(&p).unwrap(), Digest::of(&data));
        assert!(matches!(
            read_file_limited(&p, 10).unwrap_err(),
            BlobError::TooLarge { .. }
        ));
        assert!(digest_file(&dir.path().join("missing")).is_err());
        let out = dir.path().join("out.sig");
        write_output(&out, b"x").unwrap();
        write_output(&out, b"y").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"y");
    }
}
