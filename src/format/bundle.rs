//! Sigstore bundle JSON as cosign writes it for key-based signatures (cosign-formats §3.3): a
//! bundle v0.3 (protobuf JSON field order) with `verificationMaterial.publicKey.hint` =
//! base64(sha256(SPKI DER)) and either `messageSignature` or `dsseEnvelope`, and the reader of
//! such bundles. Keyless bundles are read by `sigstore-types` (see `crate::verify::bundle`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::digest::Digest;
use super::{Envelope, PayloadError, gojson, parse_envelope};
use crate::keys::PublicKey;

/// Media type of the bundles this module writes.
pub const BUNDLE_MEDIA_TYPE_V03: &str = super::media_types::SIGSTORE_BUNDLE_V03;

/// Bundle media types accepted when reading.
pub const BUNDLE_MEDIA_TYPES: &[&str] = &[
    BUNDLE_MEDIA_TYPE_V03,
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];

/// The bundle `publicKey.hint` cosign writes: base64(sha256(SPKI DER)).
pub fn public_key_hint(key: &PublicKey) -> String {
    STANDARD.encode(Digest::of(key.spki_der()).raw())
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
    gojson::write_string(&mut out, payload_type);
    out.extend_from_slice(br#","signatures":[{"sig":""#);
    out.extend_from_slice(signature_base64(sig).as_bytes());
    out.extend_from_slice(br#""}]}}"#);
    out
}

/// The parts of a key-based bundle this module uses.
#[derive(Debug, Clone)]
pub struct KeyBundle {
    /// `verificationMaterial.publicKey.hint` (may be empty).
    pub hint: String,
    /// Number of `tlogEntries` (never checked here).
    pub tlog_entries: usize,
    /// The signed content.
    pub content: KeyBundleContent,
}

/// What a bundle signs.
#[derive(Debug, Clone)]
pub enum KeyBundleContent {
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

fn bundle_err(msg: impl Into<String>) -> PayloadError {
    PayloadError::Bundle(msg.into())
}

fn b64_field(v: Option<&Value>, field: &str) -> Result<Vec<u8>, PayloadError> {
    let s = v
        .and_then(Value::as_str)
        .ok_or_else(|| bundle_err(format!("`{field}` is missing or not a string")))?;
    STANDARD
        .decode(s)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
        .map_err(|_| bundle_err(format!("`{field}` is not valid base64")))
}

/// Parses a Sigstore bundle (v0.1–v0.3 media types) that was made with a key. A bundle with a
/// certificate or certificate chain is refused with [`PayloadError::KeylessBundle`].
pub fn parse_key_bundle(bytes: &[u8]) -> Result<KeyBundle, PayloadError> {
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
        return Err(PayloadError::KeylessBundle);
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
            KeyBundleContent::MessageSignature {
                algorithm,
                digest,
                signature,
            }
        }
        (None, Some(env)) => {
            let env_bytes =
                serde_json::to_vec(env).map_err(|e| bundle_err(format!("`dsseEnvelope`: {e}")))?;
            KeyBundleContent::Dsse(parse_envelope(&env_bytes)?)
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

/// base64 (standard alphabet, padded) of signature bytes: what cosign prints and writes.
pub fn signature_base64(sig: &[u8]) -> String {
    STANDARD.encode(sig)
}
