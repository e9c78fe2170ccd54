//! Transparency-log entries of key signatures (`cosign sign --key K` with Rekor upload, imprint
//! `sign|attest --key K --tlog-upload`), checked against a trust root's Rekor keys as cosign
//! does when it verifies with a key and without `--insecure-ignore-tlog`.
//!
//! A legacy `.sig` / `.att` layer's `dev.sigstore.cosign/bundle` annotation (Rekor SET and
//! entry) is turned into a v0.1 Sigstore bundle with a public-key hint, as
//! [`super::legacy`] does with a certificate, and `sigstore-verify` checks: the SET over the
//! canonical `{body, integratedTime, logID, logIndex}` with the Rekor key whose log id matches
//! (valid at the integrated time), the signature with the key, and the entry body bound to this
//! signature, payload (hashedrekord) or envelope (intoto / dsse) and key. Bundles are checked by
//! [`super::bundle::verify_parsed`] without `insecure_ignore_tlog`.
//!
//! Nothing here decides whether an entry is required: [`super::check`] requires one for
//! [`super::SignatureVerifier::KeyTlog`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::bundle::{self, BundleError};
use super::legacy::{RekorAnnotation, parse_rekor_annotation};
use crate::format::bundle::public_key_hint;
use crate::format::digest::Digest;
use crate::keys::PublicKey;
use crate::trust::TrustRoot;
use crate::verify::proof::TlogEvidence;

/// One legacy layer signed with a key, and its Rekor bundle annotation.
#[derive(Debug, Clone, Copy)]
pub struct KeyTlogLayer<'a> {
    /// The layer bytes (simple-signing payload, or the DSSE envelope of an `.att`).
    pub layer_bytes: &'a [u8],
    /// The base64 signature: the `.sig` annotation, or the envelope's one signature.
    pub signature_b64: &'a str,
    /// `dev.sigstore.cosign/bundle`; `None` is rejected (an entry is required).
    pub rekor_bundle_json: Option<&'a str>,
    /// `.att` (DSSE envelope, `intoto` 0.0.2 or `dsse` 0.0.1 entry) or `.sig` (`hashedrekord`).
    pub is_attestation: bool,
}

/// Verifies the Rekor entry of a key-signed legacy layer against `trust` (and the signature
/// with `key` once more, inside the Sigstore verifier). The caller has checked the signature
/// and checks the payload's claims.
pub fn verify_legacy_key_tlog(
    layer: KeyTlogLayer<'_>,
    key: &PublicKey,
    trust: &TrustRoot,
) -> Result<TlogEvidence, BundleError> {
    let rb_text = layer.rekor_bundle_json.ok_or_else(|| {
        BundleError::TlogSet(
            "no transparency-log entry: the layer has no Rekor bundle annotation \
             (dev.sigstore.cosign/bundle), and verification with this trust root requires one"
                .into(),
        )
    })?;
    let RekorAnnotation {
        kind,
        version,
        body: body_json,
        integrated_time: t,
        log_index,
        log_id,
        entry,
    } = parse_rekor_annotation(rb_text)?;
    let material = serde_json::json!({
        "publicKey": {"hint": public_key_hint(key.spki_der())},
        "tlogEntries": [entry],
    });
    let (content_key, content, artifact_digest): (&str, serde_json::Value, Option<Digest>) =
        if layer.is_attestation {
            if !matches!(
                (kind.as_str(), version.as_str()),
                ("dsse", "0.0.1") | ("intoto", "0.0.2")
            ) {
                return Err(BundleError::TlogEntry(format!(
                    "attestation tlog entry is {kind} {version}, expected dsse 0.0.1 or intoto 0.0.2"
                )));
            }
            let env: serde_json::Value =
                serde_json::from_slice(layer.layer_bytes).map_err(|e| {
                    BundleError::Malformed(format!("attestation layer is not JSON: {e}"))
                })?;
            if kind == "dsse" {
                let want = body_json["spec"]["envelopeHash"]["value"].as_str();
                let alg = body_json["spec"]["envelopeHash"]["algorithm"].as_str();
                let have = Digest::of(layer.layer_bytes);
                if alg != Some("sha256") || want != Some(have.hex()) {
                    return Err(BundleError::TlogEntry(format!(
                        "dsse envelopeHash {} does not match sha256 of the layer ({})",
                        want.unwrap_or("(missing)"),
                        have.hex()
                    )));
                }
            }
            let payload = env["payload"].as_str().unwrap_or_default();
            let payload = B64
                .decode(payload)
                .map_err(|e| BundleError::Malformed(format!("DSSE payload is not base64: {e}")))?;
            let subject = bundle::first_statement_subject(&payload)?;
            (
                "dsseEnvelope",
                serde_json::json!({
                    "payloadType": env["payloadType"],
                    "payload": env["payload"],
                    "signatures": [{"sig": layer.signature_b64}],
                }),
                Some(subject),
            )
        } else {
            if (kind.as_str(), version.as_str()) != ("hashedrekord", "0.0.1") {
                return Err(BundleError::TlogEntry(format!(
                    "signature tlog entry is {kind} {version}, expected hashedrekord 0.0.1"
                )));
            }
            let sig = B64.decode(layer.signature_b64.trim()).map_err(|e| {
                BundleError::Signature(format!("signature annotation is not base64: {e}"))
            })?;
            (
                "messageSignature",
                serde_json::json!({
                    "messageDigest": {"algorithm": "SHA2_256",
                                      "digest": B64.encode(Digest::of(layer.layer_bytes).raw())},
                    "signature": B64.encode(sig),
                }),
                None,
            )
        };
    let mut b = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": material,
    });
    b[content_key] = content;
    let parsed = sigstore_types::Bundle::from_json(&b.to_string())
        .map_err(|e| BundleError::Malformed(format!("legacy layer as bundle: {e}")))?;
    let artifact = match &artifact_digest {
        Some(d) => bundle::Artifact::Digest(d.clone()),
        None => bundle::Artifact::Bytes(layer.layer_bytes),
    };
    let verified = bundle::verify_parsed(
        &parsed,
        Some(artifact),
        &bundle::VerificationPolicy::Key {
            spki_der: key.spki_der().to_vec(),
        },
        trust,
        bundle::VerifyOptions::new(),
    )?;
    match verified.tlog() {
        Some(t) => Ok(t.clone()),
        None => Ok(TlogEvidence {
            log_index,
            integrated_time: t,
            log_id,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    fn annotation(body: &serde_json::Value, log_id: &str) -> String {
        serde_json::json!({
            "SignedEntryTimestamp": B64.encode(b"not a signature"),
            "Payload": {
                "body": B64.encode(body.to_string()),
                "integratedTime": 1_700_000_000,
                "logIndex": 7,
                "logID": log_id,
            }
        })
        .to_string()
    }

    fn check(
        rekor_bundle_json: Option<&str>,
        is_attestation: bool,
    ) -> Result<TlogEvidence, BundleError> {
        let key = SigningKey::generate_p256().unwrap().public_key();
        let trust = TrustRoot::public_good().unwrap();
        let layer = KeyTlogLayer {
            layer_bytes: b"{}",
            signature_b64: "c2ln",
            rekor_bundle_json,
            is_attestation,
        };
        verify_legacy_key_tlog(layer, &key, &trust)
    }

    #[test]
    fn entries_fail_closed_naming_what_is_wrong() {
        let e = check(None, false).unwrap_err().to_string();
        assert!(e.contains("no transparency-log entry"), "{e}");
        let e = check(Some("{"), false).unwrap_err().to_string();
        assert!(e.contains("Rekor bundle annotation"), "{e}");
        let hashed = serde_json::json!({"kind": "hashedrekord", "apiVersion": "0.0.1"});
        let upper = "AB".repeat(32);
        let e = check(Some(&annotation(&hashed, &upper)), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("64 lowercase hex"), "{e}");
        let log_id = "ab".repeat(32);
        // A .sig needs a hashedrekord entry, an .att an envelope entry.
        let e = check(Some(&annotation(&hashed, &log_id)), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected dsse 0.0.1 or intoto 0.0.2"), "{e}");
        let intoto = serde_json::json!({"kind": "intoto", "apiVersion": "0.0.2"});
        let e = check(Some(&annotation(&intoto, &log_id)), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected hashedrekord 0.0.1"), "{e}");
        // Well-formed but signed by no log of the root: the crate rejects it.
        assert!(check(Some(&annotation(&hashed, &log_id)), false).is_err());
    }
}
