//! Sigstore bundle JSON as cosign writes it for key-based signatures (cosign-formats §3.3): a
//! bundle v0.3 (protobuf JSON field order) with `verificationMaterial.publicKey.hint` =
//! base64(sha256(SPKI DER)) and either `messageSignature` or `dsseEnvelope`, and a view of such
//! bundles for key verification. Every bundle, key-based or keyless, is parsed by
//! `sigstore-types` (here and in `crate::verify::bundle`); the only reader of this file's own
//! locates a key bundle's DSSE payload string so that a large payload is decoded once
//! ([`parse_key_bundle`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::digest::Digest;
use super::{Envelope, EnvelopeSignature, PayloadError, gojson};

/// Media type of the bundles this module writes.
pub const BUNDLE_MEDIA_TYPE_V03: &str = super::media_types::SIGSTORE_BUNDLE_V03;

/// Bundle media types accepted when reading (the ones `sigstore-types` reads).
pub const BUNDLE_MEDIA_TYPES: &[&str] = &[
    BUNDLE_MEDIA_TYPE_V03,
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];

/// The bundle `publicKey.hint` cosign writes: base64(sha256(SPKI DER)).
pub fn public_key_hint(spki_der: &[u8]) -> String {
    STANDARD.encode(Digest::of(spki_der).raw())
}

fn bundle_prefix(out: &mut Vec<u8>, spki_der: &[u8]) {
    out.extend_from_slice(br#"{"mediaType":""#);
    out.extend_from_slice(BUNDLE_MEDIA_TYPE_V03.as_bytes());
    out.extend_from_slice(br#"","verificationMaterial":{"publicKey":{"hint":""#);
    out.extend_from_slice(public_key_hint(spki_der).as_bytes());
    out.extend_from_slice(br#""}},"#);
}

/// A key-based bundle v0.3 for a blob signature (protobuf JSON field order):
/// `{"mediaType":…,"verificationMaterial":{"publicKey":{"hint":…}},"messageSignature":
/// {"messageDigest":{"algorithm":"SHA2_256","digest":<b64>},"signature":<b64>}}`.
pub fn message_signature_bundle(spki_der: &[u8], blob_digest: &Digest, sig: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    bundle_prefix(&mut out, spki_der);
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
pub fn dsse_bundle(spki_der: &[u8], payload_type: &str, payload: &[u8], sig: &[u8]) -> Vec<u8> {
    dsse_bundle_parts(spki_der, payload_type, &[payload], sig)
}

/// [`dsse_bundle`] of the payload that is the concatenation of `payload`, base64-encoded
/// straight into the bundle (no joined payload, no intermediate base64 `String`).
pub fn dsse_bundle_parts(
    spki_der: &[u8],
    payload_type: &str,
    payload: &[&[u8]],
    sig: &[u8],
) -> Vec<u8> {
    dsse_bundle_frame(spki_der, payload_type).assemble(payload, sig)
}

/// The frame of [`dsse_bundle`]: the bundle up to `"dsseEnvelope":{"payload":"`,
/// base64(payload), `","payloadType":…,"signatures":[{"sig":"`, base64(signature), `"}]}}`.
pub fn dsse_bundle_frame(spki_der: &[u8], payload_type: &str) -> super::dsse::DsseFrame {
    let mut before = Vec::with_capacity(256);
    bundle_prefix(&mut before, spki_der);
    before.extend_from_slice(br#""dsseEnvelope":{"payload":""#);
    let mut between = br#"","payloadType":"#.to_vec();
    gojson::write_string(&mut between, payload_type);
    between.extend_from_slice(br#","signatures":[{"sig":""#);
    super::dsse::DsseFrame {
        before,
        between,
        after: br#""}]}}"#,
    }
}

/// A key-based bundle, parsed by `sigstore-types` (the one bundle parser of the crate, which
/// the keyless path and the conformance suite use too), with the parts key verification needs.
#[derive(Debug, Clone)]
pub struct KeyBundle {
    /// `verificationMaterial.publicKey.hint` (may be empty).
    pub hint: String,
    /// Number of `tlogEntries` (never checked here).
    pub tlog_entries: usize,
    /// The signed content.
    pub content: KeyBundleContent,
    /// The whole parsed bundle (for Sigstore verification of its tlog entries). When it has
    /// none, its DSSE payload has been moved into [`content`](Self::content) (left empty here).
    pub parsed: sigstore_types::Bundle,
}

/// What a bundle signs.
#[derive(Debug, Clone)]
pub enum KeyBundleContent {
    /// `messageSignature`.
    MessageSignature {
        /// `messageDigest.algorithm`.
        algorithm: sigstore_types::HashAlgorithm,
        /// `messageDigest.digest`, decoded.
        digest: Vec<u8>,
        /// `signature`, decoded.
        signature: Vec<u8>,
    },
    /// `dsseEnvelope` (in a bundle: exactly one signature, which the parser enforces).
    Dsse(Envelope),
}

fn bundle_err(msg: impl Into<String>) -> PayloadError {
    PayloadError::Bundle(msg.into())
}

/// Parses a Sigstore bundle (v0.1–v0.3 media types) that was made with a key. A bundle with a
/// certificate or certificate chain is refused with [`PayloadError::KeylessBundle`].
///
/// `sigstore-types` reads the bundle, but not its DSSE payload when that can be avoided: it
/// would hold the payload's base64 as a `String` next to the bundle text and the decoded
/// bytes (for a 200 MB SBOM attestation, 195 MB more at the peak). The payload string is
/// located with a borrowed reader ([`dsse_payload_span`]), `sigstore-types` parses the bundle
/// with that string emptied, and the payload is decoded here from the original text with
/// `sigstore-types`' own base64 decoder ([`sigstore_types::PayloadBytes::from_base64`]).
pub fn parse_key_bundle(bytes: &[u8]) -> Result<KeyBundle, PayloadError> {
    use sigstore_types::bundle::VerificationMaterialContent;
    let text = std::str::from_utf8(bytes).map_err(|_| bundle_err("not UTF-8"))?;
    let span = dsse_payload_span(text);
    let light;
    let (parse_text, payload_b64) = match &span {
        Some(r) => {
            let (head, rest) = text.split_at(r.start);
            let tail = rest.get(r.len()..).unwrap_or_default();
            light = [head, tail].concat();
            (light.as_str(), rest.get(..r.len()))
        }
        None => (text, None),
    };
    let mut parsed =
        sigstore_types::Bundle::from_json(parse_text).map_err(|e| bundle_err(e.to_string()))?;
    if let Some(problem) = top_level_problem(parse_text) {
        return Err(bundle_err(problem));
    }
    let hint = match &parsed.verification_material.content {
        VerificationMaterialContent::PublicKey(pk) => pk.hint.clone(),
        VerificationMaterialContent::Certificate(_)
        | VerificationMaterialContent::X509CertificateChain { .. } => {
            return Err(PayloadError::KeylessBundle);
        }
        _ => {
            return Err(bundle_err(
                "`verificationMaterial` holds neither a public key nor a certificate",
            ));
        }
    };
    let tlog_entries = parsed.verification_material.tlog_entries.len();
    let content = match &mut parsed.content {
        sigstore_types::SignatureContent::MessageSignature(ms) => {
            let md = ms
                .message_digest
                .as_ref()
                .ok_or_else(|| bundle_err("`messageSignature.messageDigest` is missing"))?;
            KeyBundleContent::MessageSignature {
                algorithm: md.algorithm,
                digest: md.digest.as_bytes().to_vec(),
                signature: ms.signature.as_bytes().to_vec(),
            }
        }
        sigstore_types::SignatureContent::DsseEnvelope(env) => {
            if let Some(b64) = payload_b64 {
                env.payload = sigstore_types::PayloadBytes::from_base64(b64)
                    .map_err(|e| bundle_err(format!("`dsseEnvelope.payload`: {e}")))?;
            }
            KeyBundleContent::Dsse(Envelope {
                payload_type: env.payload_type.clone(),
                // Without tlog entries the parsed bundle is not verified again: move the
                // payload (a large SBOM statement) out of it instead of copying it.
                payload: if tlog_entries == 0 {
                    std::mem::replace(
                        &mut env.payload,
                        sigstore_types::PayloadBytes::from_bytes(&[]),
                    )
                    .into_bytes()
                } else {
                    env.payload.as_bytes().to_vec()
                },
                signatures: vec![EnvelopeSignature {
                    keyid: Some(env.signature.keyid.as_str().to_owned()).filter(|k| !k.is_empty()),
                    sig: env.signature.sig.as_bytes().to_vec(),
                }],
            })
        }
        _ => {
            return Err(bundle_err(
                "the bundle content is neither a message signature nor a DSSE envelope",
            ));
        }
    };
    Ok(KeyBundle {
        hint,
        tlog_entries,
        content,
        parsed,
    })
}

/// A bundle's `dsseEnvelope`, serialized compactly exactly as `serde_json` writes the
/// envelope's `Value` (`{"key":value,...}`, keys in document order), as pieces to be written
/// in order: the payload's base64 is a slice of `bundle` (base64 needs no JSON escapes), so a
/// large payload is not copied to be printed. `None` when the bundle's payload cannot be
/// located ([`dsse_payload_span`]) or the bundle has no envelope object; the caller then
/// serializes the parsed envelope.
pub fn dsse_envelope_pieces(bundle: &[u8]) -> Option<Vec<std::borrow::Cow<'_, [u8]>>> {
    use std::borrow::Cow;
    let text = std::str::from_utf8(bundle).ok()?;
    let span = dsse_payload_span(text)?;
    let light = [&text[..span.start], &text[span.end..]].concat();
    let v: serde_json::Value = serde_json::from_str(&light).ok()?;
    let env = v.get("dsseEnvelope")?.as_object()?;
    let mut pieces = Vec::with_capacity(3);
    let mut head = b"{".to_vec();
    for (i, (k, v)) in env.iter().enumerate() {
        if i > 0 {
            head.push(b',');
        }
        serde_json::to_writer(&mut head, k).ok()?;
        head.push(b':');
        if k == "payload" {
            head.push(b'"');
            pieces.push(Cow::Owned(std::mem::take(&mut head)));
            pieces.push(Cow::Borrowed(&bundle[span.clone()]));
            head.push(b'"');
        } else {
            serde_json::to_writer(&mut head, v).ok()?;
        }
    }
    head.push(b'}');
    pieces.push(Cow::Owned(head));
    Some(pieces)
}

/// The byte range, in `text`, of the `dsseEnvelope.payload` string's content (inside its
/// quotes), when the bundle is one JSON object with exactly one `dsseEnvelope` object holding
/// exactly one `payload` string without escapes. `None` in every other case (no envelope,
/// repeated keys, an escaped or non-string payload, malformed JSON): the caller then lets
/// `sigstore-types` read the whole text, so such bundles are judged exactly as before.
fn dsse_payload_span(text: &str) -> Option<std::ops::Range<usize>> {
    use std::borrow::Cow;

    use serde::de::{Deserializer as _, MapAccess, Visitor};

    use super::pick::{Key, Opt, Pick, Skip};

    /// `payload` of an envelope: `Some` only for exactly one borrowed string.
    struct Payload<'a>(Option<&'a str>);
    impl<'de> Pick<'de> for Payload<'de> {
        fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
            let mut seen = 0;
            let mut out = None;
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                if k == "payload" {
                    seen += 1;
                    out = match map.next_value::<Opt<Cow<'de, str>>>()?.0 {
                        Some(Cow::Borrowed(s)) => Some(s),
                        _ => None,
                    };
                } else {
                    map.next_value::<Skip>()?;
                }
            }
            Ok(Some(Payload(out.filter(|_| seen == 1))))
        }
    }
    struct Top;
    impl<'de> Visitor<'de> for Top {
        type Value = Option<&'de str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a bundle (a JSON object)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut seen = 0;
            let mut out = None;
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                if k == "dsseEnvelope" {
                    seen += 1;
                    out = map.next_value::<Opt<Payload<'de>>>()?.0.and_then(|p| p.0);
                } else {
                    map.next_value::<Skip>()?;
                }
            }
            Ok(out.filter(|_| seen == 1))
        }
    }
    let mut d = serde_json::Deserializer::from_str(text);
    let payload = d.deserialize_map(Top).ok()??;
    d.end().ok()?;
    // `payload` borrows from `text`: its offset is where it starts in `text`.
    let start = payload.as_ptr().addr().checked_sub(text.as_ptr().addr())?;
    let range = start..start.checked_add(payload.len())?;
    let quoted = text.as_bytes();
    (start > 0 && quoted.get(start - 1) == Some(&b'"') && quoted.get(range.end) == Some(&b'"'))
        .then_some(range)
}

/// What `sigstore-types` lets pass at the top level of a bundle that a key bundle must not
/// have: no `mediaType` (read as v0.1), or both `messageSignature` and `dsseEnvelope` (the first
/// is taken). Values are skipped, not parsed.
fn top_level_problem(text: &str) -> Option<&'static str> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TopLevel {
        media_type: Option<serde::de::IgnoredAny>,
        message_signature: Option<serde::de::IgnoredAny>,
        dsse_envelope: Option<serde::de::IgnoredAny>,
    }
    let top: TopLevel = serde_json::from_str(text).ok()?;
    if top.media_type.is_none() {
        Some("`mediaType` is missing")
    } else if top.message_signature.is_some() && top.dsse_envelope.is_some() {
        Some("both `messageSignature` and `dsseEnvelope` are present")
    } else {
        None
    }
}

/// base64 (standard alphabet, padded) of signature bytes: what cosign prints and writes.
pub fn signature_base64(sig: &[u8]) -> String {
    STANDARD.encode(sig)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::format::IN_TOTO_PAYLOAD_TYPE;
    use crate::keys::{PublicKey, SigningKey};

    #[test]
    fn reads_what_it_writes_with_the_key_hint() {
        let key = SigningKey::generate_p256().unwrap();
        let pk = key.public_key();
        let d = Digest::of(b"blob");
        let kb = parse_key_bundle(&message_signature_bundle(pk.spki_der(), &d, b"sig")).unwrap();
        assert_eq!(kb.hint, public_key_hint(pk.spki_der()));
        assert_eq!(kb.tlog_entries, 0);
        let KeyBundleContent::MessageSignature {
            algorithm,
            digest,
            signature,
        } = kb.content
        else {
            panic!("a message signature");
        };
        assert_eq!(algorithm, sigstore_types::HashAlgorithm::Sha2256);
        assert_eq!(digest, d.raw());
        assert_eq!(signature, b"sig");
        let kb = parse_key_bundle(&dsse_bundle(
            pk.spki_der(),
            IN_TOTO_PAYLOAD_TYPE,
            b"{}",
            b"sig",
        ))
        .unwrap();
        assert_eq!(kb.hint, public_key_hint(pk.spki_der()));
        let KeyBundleContent::Dsse(env) = kb.content else {
            panic!("a DSSE envelope");
        };
        assert_eq!(env.payload, b"{}");
        assert_eq!(env.signatures.len(), 1);
        assert_eq!(env.signatures[0].sig, b"sig");
    }

    #[test]
    fn real_vectors_key_and_keyless() {
        let v = crate::format::vectors_dir().join("bundles");
        let dir = v.join("conformance/managed-key-happy-path");
        let key = PublicKey::from_pem(&std::fs::read(dir.join("key.pub")).unwrap()).unwrap();
        let kb =
            parse_key_bundle(&std::fs::read(dir.join("bundle.sigstore.json")).unwrap()).unwrap();
        assert_eq!(kb.hint, public_key_hint(key.spki_der()));
        assert_eq!(kb.tlog_entries, 1);
        for keyless in [
            "conformance/happy-path-v0.3/bundle.sigstore.json",
            "cosign-oci-attestation/oci-attestation.sigstore.json",
        ] {
            let e = parse_key_bundle(&std::fs::read(v.join(keyless)).unwrap()).unwrap_err();
            assert!(matches!(e, PayloadError::KeylessBundle), "{keyless}: {e}");
        }
    }

    #[test]
    fn payload_is_read_as_sigstore_types_reads_it() {
        let key = SigningKey::generate_p256().unwrap();
        let spki = key.public_key().spki_der().to_vec();
        let payload = br#"{"_type":"https://in-toto.io/Statement/v1","x":"\u00e9"}"#;
        let ours = dsse_bundle(&spki, IN_TOTO_PAYLOAD_TYPE, payload, b"sig");
        let text = std::str::from_utf8(&ours).unwrap();
        let span = dsse_payload_span(text).unwrap();
        assert_eq!(&text[span], STANDARD.encode(payload));
        let KeyBundleContent::Dsse(env) = parse_key_bundle(&ours).unwrap().content else {
            panic!("a DSSE envelope");
        };
        assert_eq!(env.payload, payload);

        // Read whole (no span): a JSON-escaped payload, a repeated envelope or payload key.
        let escaped = text.replacen("\"payload\":\"e", "\"payload\":\"\\u0065", 1);
        assert_ne!(escaped, text);
        assert_eq!(dsse_payload_span(&escaped), None);
        let KeyBundleContent::Dsse(env) = parse_key_bundle(escaped.as_bytes()).unwrap().content
        else {
            panic!("a DSSE envelope");
        };
        assert_eq!(env.payload, payload);
        let twice = text.replacen("\"payload\":", "\"payload\":\"AA==\",\"payload\":", 1);
        assert_eq!(dsse_payload_span(&twice), None);
        assert_eq!(
            dsse_payload_span(
                "{\"dsseEnvelope\":{\"payload\":\"AA==\"},\"dsseEnvelope\":{\"payload\":\"AA==\"}}"
            ),
            None
        );
        assert_eq!(dsse_payload_span("[\"payload\"]"), None);

        // Both readers accept unpadded and URL-safe base64 alike (protobuf JSON bytes) and
        // refuse what is not base64, naming the field.
        let b64 = STANDARD.encode(payload);
        for (alt, ok) in [
            (b64.trim_end_matches('=').to_owned(), true),
            (b64.replace('+', "-").replace('/', "_"), true),
            ("!!!!".to_owned(), false),
        ] {
            let t = text.replacen(&b64, &alt, 1);
            assert!(dsse_payload_span(&t).is_some());
            let whole = sigstore_types::Bundle::from_json(&t);
            let r = parse_key_bundle(t.as_bytes());
            assert_eq!(r.is_ok(), ok, "{alt}: {r:?}");
            assert_eq!(whole.is_ok(), ok, "{alt}");
            match r {
                Ok(kb) => {
                    let KeyBundleContent::Dsse(env) = kb.content else {
                        panic!("a DSSE envelope");
                    };
                    let sigstore_types::SignatureContent::DsseEnvelope(w) = whole.unwrap().content
                    else {
                        panic!("a DSSE envelope");
                    };
                    assert_eq!(env.payload, w.payload.as_bytes());
                }
                Err(e) => assert!(e.to_string().contains("dsseEnvelope.payload"), "{e}"),
            }
        }

        // With tlog entries (here a cosign vector's, grafted on), the parsed bundle keeps the
        // payload too, equal to what `sigstore-types` reads from the whole text.
        let v = crate::format::vectors_dir().join("bundles");
        let cosign: serde_json::Value = serde_json::from_slice(
            &std::fs::read(v.join("conformance/managed-key-happy-path/bundle.sigstore.json"))
                .unwrap(),
        )
        .unwrap();
        let mut grafted: serde_json::Value = serde_json::from_slice(&ours).unwrap();
        grafted["verificationMaterial"]["tlogEntries"] =
            cosign["verificationMaterial"]["tlogEntries"].clone();
        let kb = parse_key_bundle(&serde_json::to_vec(&grafted).unwrap()).unwrap();
        assert_eq!(kb.tlog_entries, 1);
        let sigstore_types::SignatureContent::DsseEnvelope(p) = &kb.parsed.content else {
            panic!("a DSSE envelope");
        };
        assert_eq!(p.payload.as_bytes(), payload);
        let KeyBundleContent::Dsse(env) = &kb.content else {
            panic!("a DSSE envelope");
        };
        assert_eq!(env.payload, payload);
        for path in std::fs::read_dir(v.join("conformance")).unwrap() {
            let file = path.unwrap().path().join("bundle.sigstore.json");
            let Ok(raw) = std::fs::read(&file) else {
                continue;
            };
            let Ok(whole) = sigstore_types::Bundle::from_json(std::str::from_utf8(&raw).unwrap())
            else {
                assert!(parse_key_bundle(&raw).is_err(), "{}", file.display());
                continue;
            };
            let Ok(kb) = parse_key_bundle(&raw) else {
                continue;
            };
            if let (
                sigstore_types::SignatureContent::DsseEnvelope(w),
                sigstore_types::SignatureContent::DsseEnvelope(p),
            ) = (&whole.content, &kb.parsed.content)
            {
                if kb.tlog_entries > 0 {
                    assert_eq!(w.payload, p.payload, "{}", file.display());
                }
                let KeyBundleContent::Dsse(env) = &kb.content else {
                    panic!("a DSSE envelope");
                };
                assert_eq!(env.payload, w.payload.as_bytes(), "{}", file.display());
            }
        }
    }

    #[test]
    fn envelope_pieces_are_the_envelope_value_serialized() {
        let key = SigningKey::generate_p256().unwrap();
        let spki = key.public_key().spki_der().to_vec();
        let ours = dsse_bundle(&spki, IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}", b"sig");
        let mut extra: serde_json::Value = serde_json::from_slice(&ours).unwrap();
        extra["dsseEnvelope"]["x\u{e9}"] = serde_json::json!({"y": [1, "\u{e9}</"]});
        let pretty = serde_json::to_vec_pretty(&extra).unwrap();
        for bundle in [ours, pretty] {
            let pieces = dsse_envelope_pieces(&bundle).unwrap();
            let joined: Vec<u8> = pieces.iter().flat_map(|p| p.iter().copied()).collect();
            let v: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
            assert_eq!(joined, v["dsseEnvelope"].to_string().into_bytes());
        }
        assert!(dsse_envelope_pieces(b"{\"dsseEnvelope\":[]}").is_none());
        assert!(dsse_envelope_pieces(b"nope").is_none());
    }

    #[test]
    fn refuses_malformed_bundles() {
        let key = SigningKey::generate_p256().unwrap();
        let one: serde_json::Value = serde_json::from_slice(&dsse_bundle(
            key.public_key().spki_der(),
            IN_TOTO_PAYLOAD_TYPE,
            b"{}",
            b"sig",
        ))
        .unwrap();
        // A bundle's DSSE envelope carries exactly one signature.
        let mut two = one.clone();
        let sig = two["dsseEnvelope"]["signatures"][0].clone();
        two["dsseEnvelope"]["signatures"] = serde_json::json!([sig.clone(), sig]);
        // Both contents at once.
        let mut both = one.clone();
        both["messageSignature"] = serde_json::json!({
            "messageDigest": {"algorithm": "SHA2_256", "digest": "AA=="}, "signature": "AA=="
        });
        let mut md5 = serde_json::from_slice::<serde_json::Value>(&message_signature_bundle(
            key.public_key().spki_der(),
            &Digest::of(b"x"),
            b"sig",
        ))
        .unwrap();
        md5["messageSignature"]["messageDigest"]["algorithm"] = "MD5".into();
        let mut media = one.clone();
        media["mediaType"] = "application/x".into();
        let mut no_media = one;
        no_media.as_object_mut().unwrap().remove("mediaType");
        for (name, bad) in [
            ("two signatures", serde_json::to_vec(&two).unwrap()),
            ("both contents", serde_json::to_vec(&both).unwrap()),
            ("md5", serde_json::to_vec(&md5).unwrap()),
            ("media type", serde_json::to_vec(&media).unwrap()),
            ("no media type", serde_json::to_vec(&no_media).unwrap()),
            ("empty object", b"{}".to_vec()),
            ("not JSON", b"nope".to_vec()),
            ("not UTF-8", b"\xff".to_vec()),
        ] {
            let e = parse_key_bundle(&bad).unwrap_err();
            assert!(matches!(e, PayloadError::Bundle(_)), "{name}: {e}");
        }
    }
}
