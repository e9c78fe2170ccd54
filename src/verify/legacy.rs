//! Legacy keyless `.sig` / `.att` layers (cosign v1/v2 tag scheme, cosign-formats §1.3, §5).
//!
//! We convert the layer into a v0.1 Sigstore bundle (as sigstore-go does for cosign) and let
//! `sigstore-verify` check: the Fulcio chain to the trust root at the integrated time (with each
//! CA's `validFor`), the SCT, the SET over the RFC 8785 canonical `{body, integratedTime, logID,
//! logIndex}` with the Rekor key whose log id matches (valid at integratedTime), the certificate
//! valid at integratedTime, the signature, and the tlog body bound to this signature, payload
//! hash and certificate. On top of that, our checks:
//! - the chain annotation, when not empty, must be a well-formed issuer-linked chain ending in
//!   a self-signed root, every certificate of it byte-identical to one in the trust root (the
//!   crate would otherwise ignore a tampered chain, since all trust-root CAs are anchors);
//! - every CA in that chain must itself be valid at the integrated time (cosign checks this;
//!   the trust-root CA's certificates are checked the same way for bundles, in `mod.rs`);
//! - `dsse` bodies: `envelopeHash` must equal sha256 of the layer bytes (cosign's check; the
//!   crate only checks `payloadHash`);
//! - an attestation's signature annotation must be empty or equal to the envelope signature;
//! - the Rekor bundle annotation is required and parsed strictly.
//!
//! The RFC 3161 annotation, when present, must verify against a TSA of the trust root: on a
//! `.sig` layer it is passed to the crate as the bundle's timestamp (its imprint covers the
//! signature bytes); on an `.att` layer cosign stamps the layer bytes (the envelope), which
//! the crate's bundle path cannot express, so we verify it here with `sigstore-tsa` and then
//! require the certificate and its CA to be valid at the stamped time as well.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use super::bundle::BundleError;
use crate::format::digest::Digest;
use crate::trust::{IdentityPolicy, TrustRoot};
use crate::verify::proof::{Signer, TlogEvidence};

/// One legacy keyless layer: its bytes and annotations.
#[derive(Debug, Clone, Copy)]
pub struct LegacyKeylessLayer<'a> {
    /// The layer blob: simple-signing payload (`.sig`) or DSSE envelope JSON (`.att`).
    pub layer_bytes: &'a [u8],
    /// `dev.cosignproject.cosign/signature` (base64); `""` for attestations.
    pub signature_b64: &'a str,
    /// `dev.sigstore.cosign/certificate` (PEM leaf).
    pub certificate_pem: &'a str,
    /// `dev.sigstore.cosign/chain` (PEM intermediates then root), if present.
    pub chain_pem: Option<&'a str>,
    /// `dev.sigstore.cosign/bundle` (Rekor bundle JSON).
    pub rekor_bundle_json: Option<&'a str>,
    /// `dev.sigstore.cosign/rfc3161timestamp` JSON.
    pub rfc3161_timestamp_json: Option<&'a str>,
    /// Whether this is an `.att` layer (DSSE envelope).
    pub is_attestation: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// A cosign Rekor bundle annotation (`dev.sigstore.cosign/bundle`), checked for shape and
/// turned into the `tlogEntries` item of a bundle v0.1 (the Sigstore verifier then checks the
/// SET, the body and the signature against the trust root).
pub(crate) struct RekorAnnotation {
    /// The entry's `kind` and `apiVersion` (`hashedrekord` 0.0.1, `intoto` 0.0.2, ...).
    pub(crate) kind: String,
    pub(crate) version: String,
    /// The decoded entry body.
    pub(crate) body: serde_json::Value,
    /// The integrated time (seconds since the epoch, positive).
    pub(crate) integrated_time: i64,
    /// The log index (non-negative) and the logID as written (64 lowercase hex digits).
    pub(crate) log_index: i64,
    pub(crate) log_id: String,
    /// The bundle v0.1 `tlogEntries[0]`.
    pub(crate) entry: serde_json::Value,
}

/// Parse and check a Rekor bundle annotation: base64 JSON body, logID as the SET covers it
/// (64 lowercase hex digits: the crate re-encodes it so, and only that spelling is accepted),
/// a non-negative log index and a positive integrated time.
pub(crate) fn parse_rekor_annotation(text: &str) -> Result<RekorAnnotation, BundleError> {
    let rb: RekorBundle = serde_json::from_str(text)
        .map_err(|e| BundleError::TlogSet(format!("Rekor bundle annotation: {e}")))?;
    let body = B64
        .decode(&rb.payload.body)
        .map_err(|e| BundleError::TlogEntry(format!("Rekor body is not base64: {e}")))?;
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| BundleError::TlogEntry(format!("Rekor body is not JSON: {e}")))?;
    let kind = body["kind"].as_str().unwrap_or_default().to_owned();
    let version = body["apiVersion"].as_str().unwrap_or_default().to_owned();
    if rb.payload.log_id.len() != 64
        || !rb
            .payload
            .log_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(BundleError::TlogSet(format!(
            "Rekor logID `{}` is not 64 lowercase hex digits",
            rb.payload.log_id
        )));
    }
    let log_id = hex::decode(&rb.payload.log_id)
        .map_err(|e| BundleError::TlogSet(format!("Rekor logID is not hex: {e}")))?;
    if rb.payload.log_index < 0 || rb.payload.integrated_time <= 0 {
        return Err(BundleError::TlogSet(
            "Rekor bundle has a negative log index or non-positive integrated time".into(),
        ));
    }
    let t = rb.payload.integrated_time;
    let entry = serde_json::json!({
        "logIndex": rb.payload.log_index.to_string(),
        "logId": {"keyId": B64.encode(&log_id)},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": t.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": rb.set},
        "canonicalizedBody": rb.payload.body,
    });
    Ok(RekorAnnotation {
        kind,
        version,
        body,
        integrated_time: t,
        log_index: rb.payload.log_index,
        log_id: rb.payload.log_id,
        entry,
    })
}

#[derive(Deserialize)]
struct Rfc3161Annotation {
    #[serde(rename = "SignedRFC3161Timestamp")]
    signed: String,
}

pub(crate) fn pem_certs(text: &str, what: &str) -> Result<Vec<Vec<u8>>, BundleError> {
    let blocks = pem::parse_many(text)
        .map_err(|e| BundleError::CertificateChain(format!("{what}: bad PEM: {e}")))?;
    // Our check: nothing but PEM blocks (and whitespace) may be in the annotation.
    if let Some(first) = text.find("-----BEGIN")
        && !text[..first].trim().is_empty()
    {
        return Err(BundleError::CertificateChain(format!(
            "{what}: data before the first certificate"
        )));
    }
    let rest: String = text
        .split("-----END CERTIFICATE-----")
        .last()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if !rest.is_empty() && text.contains("-----END CERTIFICATE-----") {
        return Err(BundleError::CertificateChain(format!(
            "{what}: trailing data after the last certificate"
        )));
    }
    blocks
        .into_iter()
        .map(|b| {
            if b.tag() == "CERTIFICATE" {
                Ok(b.into_contents())
            } else {
                Err(BundleError::CertificateChain(format!(
                    "{what}: unexpected PEM block `{}`",
                    b.tag()
                )))
            }
        })
        .collect()
}

pub(crate) fn parse_cert(der: &[u8], what: &str) -> Result<Certificate, BundleError> {
    let c = Certificate::from_der(der)
        .map_err(|e| BundleError::CertificateChain(format!("{what}: not a certificate: {e}")))?;
    // Our check: DER must re-encode identically (no trailing or non-canonical bytes).
    if c.to_der().ok().as_deref() != Some(der) {
        return Err(BundleError::CertificateChain(format!(
            "{what}: non-canonical DER encoding"
        )));
    }
    Ok(c)
}

pub(crate) fn valid_at(c: &Certificate, t: i64) -> bool {
    let v = &c.tbs_certificate.validity;
    let nb = v.not_before.to_unix_duration().as_secs();
    let na = v.not_after.to_unix_duration().as_secs();
    u64::try_from(t).is_ok_and(|t| nb <= t && t <= na)
}

/// Our check of the chain annotation (see the module docs), and CA validity at `t`.
fn check_chain(
    leaf: &Certificate,
    chain_pem: Option<&str>,
    trust: &TrustRoot,
    t: i64,
) -> Result<(), BundleError> {
    let Some(text) = chain_pem.filter(|s| !s.trim().is_empty()) else {
        return Ok(());
    };
    let ders = pem_certs(text, "chain annotation")?;
    if ders.is_empty() {
        return Err(BundleError::CertificateChain(
            "chain annotation holds no certificate".into(),
        ));
    }
    let max = crate::limits::Limits::DEFAULT.max_cert_chain_len;
    if ders.len() + 1 > max {
        return Err(BundleError::CertificateChain(format!(
            "max_cert_chain_len: the chain annotation makes a chain of {} certificates with the \
             leaf, over the limit of {max}",
            ders.len() + 1
        )));
    }
    let trusted: Vec<&[u8]> = trust
        .root()
        .certificate_authorities
        .iter()
        .flat_map(|ca| ca.cert_chain.certificates.iter())
        .map(|c| c.raw_bytes.as_bytes())
        .collect();
    let mut child = leaf.clone();
    for (i, der) in ders.iter().enumerate() {
        let what = format!("chain annotation certificate {}", i + 1);
        let c = parse_cert(der, &what)?;
        if !trusted.contains(&der.as_slice()) {
            return Err(BundleError::CertificateChain(format!(
                "{what} is not a certificate of the trusted root"
            )));
        }
        if child.tbs_certificate.issuer != c.tbs_certificate.subject {
            return Err(BundleError::CertificateChain(format!(
                "{what} is not the issuer of the certificate before it"
            )));
        }
        if !valid_at(&c, t) {
            return Err(BundleError::CertificateChain(format!(
                "{what} is not valid at the integrated time {t}"
            )));
        }
        child = c;
    }
    if child.tbs_certificate.issuer != child.tbs_certificate.subject {
        return Err(BundleError::CertificateChain(
            "chain annotation does not end in a self-signed root".into(),
        ));
    }
    Ok(())
}

/// Our check for `.att` layers: the RFC 3161 token stamps the layer bytes; verify it against
/// the trust root's TSAs, then require the leaf (and its CA) valid at the stamped time.
fn check_att_timestamp(
    annotation: &str,
    layer_bytes: &[u8],
    leaf: &Certificate,
    leaf_der: &[u8],
    trust: &TrustRoot,
) -> Result<(), BundleError> {
    let ann: Rfc3161Annotation = serde_json::from_str(annotation)
        .map_err(|e| BundleError::Timestamp(format!("rfc3161 annotation: {e}")))?;
    let token = B64
        .decode(&ann.signed)
        .map_err(|e| BundleError::Timestamp(format!("rfc3161 annotation is not base64: {e}")))?;
    let token = sigstore_types::TimestampToken::new(token);
    let message = sigstore_types::SignatureBytes::new(layer_bytes.to_vec());
    let mut last = String::from("the trusted root has no usable timestamp authority");
    for authority in trust.root().tsa_authorities() {
        match sigstore_verify::tsa::verify_timestamp_for_authority(&token, &message, &authority) {
            Ok(time) => {
                let t = time.as_second();
                if !valid_at(leaf, t) {
                    return Err(BundleError::Certificate(format!(
                        "certificate is not valid at the RFC 3161 time {time}"
                    )));
                }
                return super::bundle::check_ca_valid_at(leaf_der, trust, t);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(BundleError::Timestamp(format!(
        "rfc3161 timestamp over the attestation layer does not verify: {last}"
    )))
}

/// Verify a legacy keyless layer against `identity` and `trust`. The signature (or DSSE
/// envelope) is checked, but **not** what the payload says: the caller checks the
/// simple-signing `docker-manifest-digest` or the statement subject against the image.
pub fn verify_legacy_keyless(
    layer: LegacyKeylessLayer<'_>,
    identity: &IdentityPolicy,
    trust: &TrustRoot,
) -> Result<(Signer, TlogEvidence), BundleError> {
    identity.check_constrained()?;

    // Leaf certificate: exactly one PEM CERTIFICATE block.
    let leaf_ders = pem_certs(layer.certificate_pem, "certificate annotation")
        .map_err(|e| BundleError::Certificate(e.to_string()))?;
    let [leaf_der] = leaf_ders.as_slice() else {
        return Err(BundleError::Certificate(format!(
            "certificate annotation must hold exactly one certificate, found {}",
            leaf_ders.len()
        )));
    };
    let leaf = parse_cert(leaf_der, "certificate annotation")
        .map_err(|e| BundleError::Certificate(e.to_string()))?;

    // Rekor bundle annotation (required for keyless).
    let rb_text = layer.rekor_bundle_json.ok_or_else(|| {
        BundleError::TlogSet("no Rekor bundle annotation (dev.sigstore.cosign/bundle)".into())
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

    check_chain(&leaf, layer.chain_pem, trust, t)?;

    let mut material = serde_json::json!({
        "x509CertificateChain": {"certificates": [{"rawBytes": B64.encode(leaf_der)}]},
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
            let sigs = env["signatures"].as_array().map_or(0, Vec::len);
            super::dsse::check_count(sigs, super::dsse::Placement::KeylessLayer)
                .map_err(|e| BundleError::Signature(e.to_string()))?;
            let env_sig = env["signatures"][0]["sig"].as_str().unwrap_or_default();
            if !layer.signature_b64.is_empty() && layer.signature_b64 != env_sig {
                return Err(BundleError::Signature(
                    "signature annotation differs from the envelope signature".into(),
                ));
            }
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
            if let Some(ts) = layer.rfc3161_timestamp_json {
                check_att_timestamp(ts, layer.layer_bytes, &leaf, leaf_der, trust)?;
            }
            let payload = env["payload"].as_str().unwrap_or_default();
            let payload = B64
                .decode(payload)
                .map_err(|e| BundleError::Malformed(format!("DSSE payload is not base64: {e}")))?;
            // The caller checks the statement subject; bind the crate's check to it.
            let subject = super::bundle::first_statement_subject(&payload)?;
            (
                "dsseEnvelope",
                serde_json::json!({
                    "payloadType": env["payloadType"],
                    "payload": env["payload"],
                    "signatures": [{"sig": env_sig}],
                }),
                Some(subject),
            )
        } else {
            if (kind.as_str(), version.as_str()) != ("hashedrekord", "0.0.1") {
                return Err(BundleError::TlogEntry(format!(
                    "signature tlog entry is {kind} {version}, expected hashedrekord 0.0.1"
                )));
            }
            if layer.signature_b64.is_empty() {
                return Err(BundleError::Signature("empty signature annotation".into()));
            }
            let sig = B64.decode(layer.signature_b64).map_err(|e| {
                BundleError::Signature(format!("signature annotation is not base64: {e}"))
            })?;
            if let Some(ts) = layer.rfc3161_timestamp_json {
                let ts: Rfc3161Annotation = serde_json::from_str(ts)
                    .map_err(|e| BundleError::Timestamp(format!("rfc3161 annotation: {e}")))?;
                material["timestampVerificationData"] =
                    serde_json::json!({"rfc3161Timestamps": [{"signedTimestamp": ts.signed}]});
            }
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

    let mut bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": material,
    });
    bundle[content_key] = content;
    let bundle_text = bundle.to_string();
    let parsed = sigstore_types::Bundle::from_json(&bundle_text)
        .map_err(|e| BundleError::Malformed(format!("legacy layer as bundle: {e}")))?;
    let artifact = match &artifact_digest {
        Some(d) => super::bundle::Artifact::Digest(d.clone()),
        None => super::bundle::Artifact::Bytes(layer.layer_bytes),
    };
    let verified = super::bundle::verify_parsed(
        &parsed,
        Some(artifact),
        &super::bundle::VerificationPolicy::Keyless(identity.clone()),
        trust,
        super::bundle::VerifyOptions::default(),
    )?;
    // Identity, issuer and GitHub claims were checked by verify_parsed.
    let signer = verified.signer().clone();
    Ok((
        signer,
        TlogEvidence {
            log_index,
            integrated_time: t,
            log_id,
        },
    ))
}
