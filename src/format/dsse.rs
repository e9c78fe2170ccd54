//! DSSE envelopes (cosign-formats §2.2) and the pre-authentication encoding their signatures
//! cover (§2.3).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use std::borrow::Cow;

use serde::Deserialize as _;
use serde::de::MapAccess;
use serde_json::Value;

use super::pick::{Key, Opt, Pick, Skip};
use super::{PayloadError, excerpt, gojson};

/// The DSSE `payloadType` of an in-toto Statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

const WHAT: &str = "DSSE envelope";

/// The DSSE v1 pre-authentication encoding: the exact bytes a DSSE signature covers,
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body` with decimal ASCII lengths.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = pae_header(payload_type, payload.len());
    out.extend_from_slice(payload);
    out
}

/// The PAE without the payload: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP`. The PAE is
/// this followed by the payload bytes, so a signature over it can be made or checked over the
/// two parts ([`crate::keys::SigningKey::sign_parts`], [`crate::keys::PublicKey::verify_parts`])
/// without copying a large payload.
pub fn pae_header(payload_type: &str, payload_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_len.to_string().as_bytes());
    out.push(b' ');
    out
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// `keyid`, when present (cosign v2 writes `""`, cosign v3 omits it).
    pub keyid: Option<String>,
    /// The decoded signature bytes.
    pub sig: Vec<u8>,
}

/// A parsed DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `payloadType`.
    pub payload_type: String,
    /// The decoded payload bytes (the statement exactly as signed).
    pub payload: Vec<u8>,
    /// The signatures, in document order (at least one).
    pub signatures: Vec<EnvelopeSignature>,
}

impl Envelope {
    /// The PAE bytes the signatures of this envelope cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// Decodes base64 the way go-securesystemslib's DSSE code does: standard alphabet first, then
/// the URL-safe one (both padded).
fn b64(field: String, s: &str) -> Result<Vec<u8>, PayloadError> {
    STANDARD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .map_err(|_| PayloadError::Base64 { what: WHAT, field })
}

/// The top level of an envelope, read straight from its bytes (see [`parse_envelope`]):
/// `payloadType` and `payload` borrowed when they have no escapes, `signatures` (small) as a
/// `Value`, everything else skipped but checked as a `Value` parse checks it.
struct TopLevel<'a> {
    payload_type: Option<Cow<'a, str>>,
    payload: Option<Cow<'a, str>>,
    signatures: Option<Value>,
}

impl<'a> TopLevel<'a> {
    /// `Ok(None)`: valid JSON, but not an object.
    fn read(bytes: &'a [u8]) -> Result<Option<Self>, serde_json::Error> {
        let mut d = serde_json::Deserializer::from_slice(bytes);
        let out = Opt::<Self>::deserialize(&mut d)?;
        d.end()?;
        Ok(out.0)
    }
}

impl<'de> Pick<'de> for TopLevel<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut out = TopLevel {
            payload_type: None,
            payload: None,
            signatures: None,
        };
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match k.as_ref() {
                "payloadType" => out.payload_type = map.next_value::<Opt<_>>()?.0,
                "payload" => out.payload = map.next_value::<Opt<_>>()?.0,
                "signatures" => out.signatures = Some(map.next_value()?),
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(out))
    }
}

/// Parses a DSSE envelope in either key order (cosign v2's `payloadType, payload, signatures`
/// or cosign v3's `payload, payloadType, signatures`), with or without `keyid`. Base64 fields
/// may use the standard or URL-safe alphabet. At least one signature is required.
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, PayloadError> {
    // Read with borrowed fields, not as a `Value`: a `Value` would hold the base64 payload as
    // a second `String` beside the fetched bytes and the decoded payload (for a 200 MB SBOM
    // envelope, 195 MB more at the peak). The reading is the same as the `Value` accessors':
    // the last duplicate key wins, and a field of another JSON kind reads as absent.
    let top = TopLevel::read(bytes).map_err(|source| PayloadError::Json { what: WHAT, source })?;
    let field = |name: &str, expected: &'static str| PayloadError::Field {
        what: WHAT,
        field: name.to_owned(),
        expected,
    };
    let top = top.ok_or_else(|| field("(top level)", "object"))?;
    let payload_type = top
        .payload_type
        .ok_or_else(|| field("payloadType", "string"))?
        .into_owned();
    let payload_b64 = top.payload.ok_or_else(|| field("payload", "string"))?;
    let payload = b64("payload".into(), &payload_b64)?;
    drop(payload_b64);
    let sigs = top
        .signatures
        .as_ref()
        .and_then(Value::as_array)
        .ok_or_else(|| field("signatures", "array"))?;
    if sigs.is_empty() {
        return Err(PayloadError::Value {
            what: WHAT,
            field: "signatures".into(),
            found: "[]".into(),
            expected: "at least one signature".into(),
        });
    }
    let mut signatures = Vec::with_capacity(sigs.len());
    for (i, s) in sigs.iter().enumerate() {
        let s = s
            .as_object()
            .ok_or_else(|| field(&format!("signatures[{i}]"), "object"))?;
        let sig_b64 = s
            .get("sig")
            .and_then(Value::as_str)
            .ok_or_else(|| field(&format!("signatures[{i}].sig"), "string"))?;
        let sig = b64(format!("signatures[{i}].sig"), sig_b64)?;
        let keyid = match s.get("keyid") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(other) => {
                return Err(PayloadError::Value {
                    what: WHAT,
                    field: format!("signatures[{i}].keyid"),
                    found: excerpt(&other.to_string()),
                    expected: "a string".into(),
                });
            }
        };
        signatures.push(EnvelopeSignature { keyid, sig });
    }
    Ok(Envelope {
        payload_type,
        payload,
        signatures,
    })
}

/// The envelope JSON cosign v2 writes (go-securesystemslib layout):
/// `{"payloadType":…,"payload":"<b64>","signatures":[{"keyid":"","sig":"<b64>"}]}`.
pub fn envelope_json(payload_type: &str, payload: &[u8], sig: &[u8]) -> Vec<u8> {
    envelope_json_parts(payload_type, &[payload], sig)
}

/// [`envelope_json`] of the payload that is the concatenation of `payload` (a statement
/// written in pieces: its head, the predicate bytes, its tail), without joining them first.
pub fn envelope_json_parts(payload_type: &str, payload: &[&[u8]], sig: &[u8]) -> Vec<u8> {
    envelope_frame(payload_type).assemble(payload, sig)
}

/// The frame of [`envelope_json`]: `{"payloadType":…,"payload":"` base64(payload)
/// `","signatures":[{"keyid":"","sig":"` base64(signature) `"}]}`.
pub fn envelope_frame(payload_type: &str) -> DsseFrame {
    let mut before = br#"{"payloadType":"#.to_vec();
    gojson::write_string(&mut before, payload_type);
    before.extend_from_slice(br#","payload":""#);
    DsseFrame {
        before,
        between: br#"","signatures":[{"keyid":"","sig":""#.to_vec(),
        after: br#""}]}"#,
    }
}

/// A signed DSSE document whose one large part is its payload, as the bytes around the two
/// base64 fields: `before` base64(payload) `between` base64(signature) `after`. In both
/// layouts imprint writes (the cosign v2 envelope, the bundle's `dsseEnvelope`) the payload
/// comes first, so a large document can be written up to the signature while the signature
/// is still being made ([`write_head`](Self::write_head), then
/// [`write_tail`](Self::write_tail)).
#[derive(Debug, Clone)]
pub struct DsseFrame {
    pub(crate) before: Vec<u8>,
    pub(crate) between: Vec<u8>,
    pub(crate) after: &'static [u8],
}

impl DsseFrame {
    /// Length of the document for a payload of `payload_len` bytes, give or take the
    /// signature's (a capacity hint).
    pub fn len_hint(&self, payload_len: usize) -> usize {
        self.before.len()
            + payload_len.div_ceil(3) * 4
            + self.between.len()
            + 256
            + self.after.len()
    }

    /// The whole document, in one buffer.
    pub fn assemble(&self, payload: &[&[u8]], sig: &[u8]) -> Vec<u8> {
        let len: usize = payload.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(self.len_hint(len));
        self.write_head(payload, &mut |c| out.extend_from_slice(c));
        self.write_tail(sig, &mut |c| out.extend_from_slice(c));
        out
    }

    /// The document up to the signature, handed to `emit` in order, the payload's base64 a
    /// chunk (1 MiB) at a time.
    pub fn write_head(&self, payload: &[&[u8]], emit: &mut dyn FnMut(&[u8])) {
        emit(&self.before);
        base64_chunks(payload, emit);
        emit(&self.between);
    }

    /// The rest of the document after [`write_head`](Self::write_head).
    pub fn write_tail(&self, sig: &[u8], emit: &mut dyn FnMut(&[u8])) {
        let mut tail = Vec::with_capacity(sig.len().div_ceil(3) * 4 + self.after.len());
        push_base64(&mut tail, sig);
        tail.extend_from_slice(self.after);
        emit(&tail);
    }
}

/// Standard padded base64 of the concatenation of `parts`, handed to `emit` in order, about
/// 1 MiB at a time (so that a consumer hashes it while it is still in cache).
fn base64_chunks(parts: &[&[u8]], emit: &mut dyn FnMut(&[u8])) {
    const IN: usize = 3 * 256 * 1024;
    let mut buf = Vec::with_capacity(IN / 3 * 4 + 8);
    let mut carry: Vec<u8> = Vec::with_capacity(3);
    for part in parts {
        let mut rest: &[u8] = part;
        if !carry.is_empty() {
            let take = (3 - carry.len()).min(rest.len());
            carry.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if carry.len() < 3 {
                continue;
            }
            push_base64(&mut buf, &carry);
            carry.clear();
        }
        let whole = rest.len() / 3 * 3;
        for window in rest[..whole].chunks(IN) {
            push_base64(&mut buf, window);
            emit(&buf);
            buf.clear();
        }
        carry.extend_from_slice(&rest[whole..]);
    }
    push_base64(&mut buf, &carry);
    if !buf.is_empty() {
        emit(&buf);
    }
}

/// Appends standard padded base64 of `data` to `out` in place (no intermediate `String`: the
/// payload of a large SBOM attestation is tens of MiB).
pub(crate) fn push_base64(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    let len = base64::encoded_len(data.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    match STANDARD.encode_slice(data, &mut out[start..]) {
        Ok(written) => out.truncate(start + written),
        Err(_) => {
            // Unreachable: `len` is the exact encoded size. Fall back to the allocating encoder.
            out.truncate(start);
            out.extend_from_slice(STANDARD.encode(data).as_bytes());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::format::digest::Digest;

    fn vectors() -> String {
        crate::format::vectors_dir().display().to_string()
    }

    #[test]
    fn in_place_base64_is_standard_padded_base64() {
        for len in 0..70 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut out = b"x".to_vec();
            push_base64(&mut out, &data);
            assert_eq!(&out[1..], STANDARD.encode(&data).as_bytes(), "len {len}");
        }
    }

    #[test]
    fn chunked_base64_is_base64_of_the_joined_bytes() {
        let data: Vec<u8> = (0..2_400_007u32).map(|i| (i * 131 + 7) as u8).collect();
        for cuts in [
            vec![],
            vec![1],
            vec![2, 3],
            vec![786_431, 786_433],
            vec![5, 786_432, 1_572_865, 2_400_000],
        ] {
            let mut parts = Vec::new();
            let mut at = 0;
            for &c in &cuts {
                parts.push(&data[at..c]);
                at = c;
            }
            parts.push(&data[at..]);
            let mut out = Vec::new();
            let mut chunks = 0;
            base64_chunks(&parts, &mut |c| {
                chunks += 1;
                out.extend_from_slice(c);
            });
            assert_eq!(out, STANDARD.encode(&data).as_bytes(), "cuts {cuts:?}");
            assert!(chunks >= 4, "{chunks}");
        }
        let frame = envelope_frame(IN_TOTO_PAYLOAD_TYPE);
        assert_eq!(
            frame.assemble(&[b"ab", b"c"], b"sig"),
            envelope_json(IN_TOTO_PAYLOAD_TYPE, b"abc", b"sig")
        );
    }

    #[test]
    fn base64_of_parts_is_base64_of_the_joined_bytes() {
        let data: Vec<u8> = (0..40u32).map(|i| (i * 53 + 7) as u8).collect();
        for a in 0..8 {
            for b in a..12 {
                let parts: [&[u8]; 4] = [&data[..a], &data[a..b], &[], &data[b..]];
                let mut out = Vec::new();
                base64_chunks(&parts, &mut |c| out.extend_from_slice(c));
                assert_eq!(out, STANDARD.encode(&data).as_bytes(), "{a} {b}");
                let e = envelope_json_parts(IN_TOTO_PAYLOAD_TYPE, &parts, &[9]);
                assert_eq!(e, envelope_json(IN_TOTO_PAYLOAD_TYPE, &data, &[9]));
            }
        }
        assert_eq!(
            [pae_header("t", 2), b"{}".to_vec()].concat(),
            pae("t", b"{}")
        );
    }

    #[test]
    fn pae_known_bytes() {
        assert_eq!(
            pae(IN_TOTO_PAYLOAD_TYPE, b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
        // The example from the DSSE spec.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn envelope_roundtrip_and_layout() {
        let e = envelope_json(IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}", &[1, 2, 3]);
        assert_eq!(
            String::from_utf8(e.clone()).unwrap(),
            r#"{"payloadType":"application/vnd.in-toto+json","payload":"eyJhIjoxfQ==","signatures":[{"keyid":"","sig":"AQID"}]}"#
        );
        let p = parse_envelope(&e).unwrap();
        assert_eq!(p.payload, b"{\"a\":1}");
        assert_eq!(
            p.signatures,
            vec![EnvelopeSignature {
                keyid: Some(String::new()),
                sig: vec![1, 2, 3]
            }]
        );
    }

    #[test]
    fn reemits_cosign_v2_envelopes_byte_exact() {
        let v = vectors();
        let dir = format!("{v}/attestations/cosign-blob-attestation");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if !path.to_string_lossy().ends_with(".dsse.json") {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let env = parse_envelope(&raw).unwrap();
            assert_eq!(env.payload_type, IN_TOTO_PAYLOAD_TYPE);
            let again = envelope_json(&env.payload_type, &env.payload, &env.signatures[0].sig);
            assert_eq!(again, raw, "{}", path.display());
            n += 1;
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn legacy_att_vector_parses_and_hash_matches_rekor() {
        let v = vectors();
        let raw = std::fs::read(format!(
            "{v}/derived/legacy-att-keyless-from-cosign-bundle/layer-envelope.json"
        ))
        .unwrap();
        assert_eq!(
            Digest::of(&raw).hex(),
            "c6adaaf149084f1977c14b5b1412f88258e5830d87a5c64403c403b9b73ff136"
        );
        let env = parse_envelope(&raw).unwrap();
        assert_eq!(env.signatures.len(), 1);
        assert!(
            env.pae()
                .starts_with(b"DSSEv1 28 application/vnd.in-toto+json 316 {\"_type\":")
        );
    }

    #[test]
    fn v3_key_order_without_keyid_and_urlsafe() {
        let v3 = br#"{"payload":"eyJhIjoxfQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"-_8="}]}"#;
        let p = parse_envelope(v3).unwrap();
        assert_eq!(p.payload, b"{\"a\":1}");
        assert_eq!(p.signatures[0].keyid, None);
        assert_eq!(p.signatures[0].sig, vec![0xfb, 0xff]);
    }

    #[test]
    fn fields_are_read_as_value_accessors_read_them() {
        // Last duplicate wins; unknown fields are skipped; an escaped payload is decoded.
        let e = parse_envelope(
            br#"{"payload":"AQ==","x":{"y":[1]},"payloadType":"a","payloadType":"b","payload":"\u0041Q==","signatures":[{"sig":"AQ=="}]}"#,
        )
        .unwrap();
        assert_eq!(e.payload_type, "b");
        assert_eq!(e.payload, b"\x01");
        assert_eq!(e.signatures.len(), 1);
    }

    #[test]
    fn rejects_malformed_envelopes() {
        for (bad, needle) in [
            (
                &br#"{"payloadType":"t","payload":"!!","signatures":[{"sig":"AQ=="}]}"#[..],
                "payload",
            ),
            (
                br#"{"payloadType":"t","payload":"AQ==","signatures":[]}"#,
                "signatures",
            ),
            (br#"{"payloadType":"t","payload":"AQ=="}"#, "signatures"),
            (
                br#"{"payload":"AQ==","signatures":[{"sig":"AQ=="}]}"#,
                "payloadType",
            ),
            (
                br#"{"payloadType":"t","payload":"AQ==","signatures":[{"keyid":""}]}"#,
                "signatures[0].sig",
            ),
            (
                br#"{"payloadType":"t","payload":"AQ==","signatures":[{"sig":"AQ==","keyid":5}]}"#,
                "keyid",
            ),
            (b"[1]", "top level"),
            (b"nope", "JSON"),
            // Read as the `Value` accessors read it: another kind is absent, the last
            // duplicate wins, trailing bytes and bad skipped strings are refused.
            (
                br#"{"payloadType":7,"payload":"AQ==","signatures":[{"sig":"AQ=="}]}"#,
                "payloadType",
            ),
            (
                br#"{"payloadType":"t","payload":"AQ==","payload":1,"signatures":[{"sig":"AQ=="}]}"#,
                "payload",
            ),
            (
                br#"{"payloadType":"t","payload":"AQ==","signatures":[{"sig":"AQ=="}]} {}"#,
                "JSON",
            ),
            (
                br#"{"x":"\ud800","payloadType":"t","payload":"AQ==","signatures":[{"sig":"AQ=="}]}"#,
                "JSON",
            ),
        ] {
            let e = parse_envelope(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }
}
