//! in-toto Statements (cosign-formats §2.4), v0.1 and v1.

use std::collections::BTreeMap;

use serde::Deserialize as _;
use serde::de::DeserializeSeed;
use serde_json::{Map, Value};

use super::{PayloadError, excerpt, gojson};
use crate::format::digest::Digest;

/// `_type` of an in-toto Statement v0.1 (what cosign v1–v3 `attest` writes).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// The predicate type cosign v3 uses for image signatures in bundles.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

const WHAT: &str = "in-toto statement";

/// The statement bytes `imprint attest` signs: compact JSON in cosign's field order
/// `_type, predicateType, subject, predicate`, one subject
/// `{"name": subject_name, "digest": {"sha256": <hex>}}`, and the predicate written as given
/// (document key order, Go string escaping).
///
/// Choice: `_type` is `https://in-toto.io/Statement/v1`, as issue 4 requires, although cosign
/// itself still writes the v0.1 type string (cosign-formats §2.4). The two layouts are otherwise
/// identical for this one-subject shape, and cosign's verifiers (and ours) accept both; byte
/// compatibility of statements is not needed because verifiers hash the stored bytes and never
/// re-serialize.
pub fn statement(
    subject_name: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: Value,
) -> Vec<u8> {
    statement_ref(subject_name, digest, predicate_type, &predicate)
}

/// [`statement`] over a borrowed predicate: the same bytes, without needing a copy of the
/// predicate (a 50 MiB SBOM is about 280 MiB as a `serde_json::Value`; attesting several
/// digests with one predicate should not clone it per digest).
pub fn statement_ref(
    subject_name: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: &Value,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(br#"{"_type":"#);
    gojson::write_string(&mut out, STATEMENT_V1);
    out.extend_from_slice(br#","predicateType":"#);
    gojson::write_string(&mut out, predicate_type);
    out.extend_from_slice(br#","subject":[{"name":"#);
    gojson::write_string(&mut out, subject_name);
    out.extend_from_slice(br#","digest":{"sha256":"#);
    gojson::write_string(&mut out, digest.hex());
    out.extend_from_slice(br#"}}],"predicate":"#);
    gojson::write_value(&mut out, predicate);
    out.push(b'}');
    out
}

/// The statement [`statement`] writes, as three pieces that join to it: the head
/// (`{"_type":…,"subject":[…],"predicate":`), the predicate JSON as given (already compact
/// Go-style JSON, see [`crate::format::predicate::load_predicate_json`]) and the closing `}`.
/// Signing and enveloping take the pieces ([`crate::keys::SigningKey::sign_parts`],
/// [`crate::format::envelope_json_parts`]), so a large predicate is never copied into a
/// statement buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementParts<'p> {
    head: Vec<u8>,
    predicate: &'p [u8],
}

impl<'p> StatementParts<'p> {
    /// The three pieces, in order.
    pub fn parts(&self) -> [&[u8]; 3] {
        [&self.head, self.predicate, b"}"]
    }
    /// The statement's length in bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.predicate.len() + 1
    }
    /// Never empty (the head alone is not).
    pub fn is_empty(&self) -> bool {
        false
    }
    /// The joined statement bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.parts().concat()
    }
}

/// [`statement`] as [`StatementParts`], from the predicate's compact JSON bytes.
pub fn statement_parts<'p>(
    subject_name: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate_json: &'p [u8],
) -> StatementParts<'p> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(br#"{"_type":"#);
    gojson::write_string(&mut head, STATEMENT_V1);
    head.extend_from_slice(br#","predicateType":"#);
    gojson::write_string(&mut head, predicate_type);
    head.extend_from_slice(br#","subject":[{"name":"#);
    gojson::write_string(&mut head, subject_name);
    head.extend_from_slice(br#","digest":{"sha256":"#);
    gojson::write_string(&mut head, digest.hex());
    head.extend_from_slice(br#"}}],"predicate":"#);
    StatementParts {
        head,
        predicate: predicate_json,
    }
}

/// One subject of a statement (a v1 ResourceDescriptor, or a v0.1 subject).
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// `name` (optional in v1; empty when absent).
    pub name: String,
    /// `digest`: algorithm → hex value (may be empty).
    pub digests: BTreeMap<String, String>,
    /// `annotations` (v1 ResourceDescriptor; cosign checks `-a` pairs here). Empty when absent.
    pub annotations: BTreeMap<String, Value>,
}

/// A parsed in-toto Statement: its envelope fields. The predicate is not parsed (it can be
/// hundreds of MiB, and a `Value` of it about 5.5 times that): read it from the statement
/// bytes with [`predicate_value`], or with a typed reader that extracts only what it needs
/// (the SBOM and vulnerability checks).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `_type`: [`STATEMENT_V01`] or [`STATEMENT_V1`].
    pub type_: String,
    /// `subject`, in document order (may be empty; then nothing matches).
    pub subjects: Vec<Subject>,
    /// `predicateType`.
    pub predicate_type: String,
}

fn field_err(field: String, expected: &'static str) -> PayloadError {
    PayloadError::Field {
        what: WHAT,
        field,
        expected,
    }
}

fn string_map(v: Option<&Value>, path: &str) -> Result<BTreeMap<String, String>, PayloadError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| field_err(format!("{path}.{k}"), "string"))
            })
            .collect(),
        Some(_) => Err(field_err(path.to_owned(), "object")),
    }
}

fn parse_subject(i: usize, v: &Value) -> Result<Subject, PayloadError> {
    let path = format!("subject[{i}]");
    let obj: &Map<String, Value> = v
        .as_object()
        .ok_or_else(|| field_err(path.clone(), "object"))?;
    let name = match obj.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(field_err(format!("{path}.name"), "string")),
    };
    let digests = string_map(obj.get("digest"), &format!("{path}.digest"))?;
    let annotations = match obj.get("annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(_) => return Err(field_err(format!("{path}.annotations"), "object")),
    };
    Ok(Subject {
        name,
        digests,
        annotations,
    })
}

/// Parses an in-toto Statement v0.1 or v1. `_type` must be one of those two, `predicateType` a
/// non-empty string and `subject` an array of objects whose `digest` maps are string → string.
///
/// Only `_type`, `predicateType` and `subject` are built; `predicate` and any other field
/// are checked to be well-formed JSON and skipped.
pub fn parse_statement(bytes: &[u8]) -> Result<Statement, PayloadError> {
    let top: Option<Map<String, Value>> = serde_json::from_slice::<EnvelopeFields>(bytes)
        .map_err(|source| PayloadError::Json { what: WHAT, source })?
        .0;
    let obj = top
        .as_ref()
        .ok_or_else(|| field_err("(top level)".into(), "object"))?;
    let type_ = obj
        .get("_type")
        .and_then(Value::as_str)
        .ok_or_else(|| field_err("_type".into(), "string"))?;
    if type_ != STATEMENT_V01 && type_ != STATEMENT_V1 {
        return Err(PayloadError::Value {
            what: WHAT,
            field: "_type".into(),
            found: excerpt(type_),
            expected: format!("`{STATEMENT_V01}` or `{STATEMENT_V1}`"),
        });
    }
    let predicate_type = obj
        .get("predicateType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| field_err("predicateType".into(), "non-empty string"))?
        .to_owned();
    let subjects = obj
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| field_err("subject".into(), "array"))?
        .iter()
        .enumerate()
        .map(|(i, v)| parse_subject(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Statement {
        type_: type_.to_owned(),
        subjects,
        predicate_type,
    })
}

/// The top-level statement fields [`parse_statement`] reads, as a `Value` map of only those
/// keys (`None`: the statement is not a JSON object). The last of duplicate keys wins, as in a
/// `Value`.
struct EnvelopeFields(Option<Map<String, Value>>);

impl<'de> serde::Deserialize<'de> for EnvelopeFields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const KEEP: &[&str] = &["_type", "predicateType", "subject"];
        match super::pick::KeepKeys(KEEP, super::pick::Skipping::Checked).deserialize(d)? {
            Value::Object(m) => Ok(Self(Some(m))),
            _ => Ok(Self(None)),
        }
    }
}

/// The statement's `predicate` as a `Value` (`null` when absent, which v1 allows), parsed
/// from the statement bytes. Refused when the statement is longer than `max_bytes`: a `Value`
/// of a large SBOM is about 5.5 times its JSON, so callers that need the whole predicate as a
/// DOM (CEL conditions) bound it ([`crate::limits::Limits::max_predicate_dom_bytes`]).
pub fn predicate_value(statement: &[u8], max_bytes: u64) -> Result<Value, PayloadError> {
    if statement.len() as u64 > max_bytes {
        return Err(PayloadError::PredicateDomTooLarge {
            size: statement.len() as u64,
            limit: max_bytes,
        });
    }
    struct AsValue;
    impl<'de> DeserializeSeed<'de> for AsValue {
        type Value = Value;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            Value::deserialize(d)
        }
    }
    Ok(
        super::pick::statement_predicate(statement, AsValue, super::pick::Skipping::Checked)
            .map_err(|source| PayloadError::Json { what: WHAT, source })?
            .unwrap_or(Value::Null),
    )
}

impl Statement {
    /// Whether some subject's `sha256` digest equals `d` (cosign's claim check).
    pub fn has_subject_digest(&self, d: &Digest) -> bool {
        self.subject_for(d).is_some()
    }

    /// The first subject whose `sha256` digest equals `d`.
    pub fn subject_for(&self, d: &Digest) -> Option<&Subject> {
        self.subjects
            .iter()
            .find(|s| s.digests.get("sha256").is_some_and(|h| h == d.hex()))
    }

    /// Like [`has_subject_digest`](Self::has_subject_digest), but says why not: an empty subject
    /// list, no subject with a sha256 digest, or sha256 digests that differ.
    pub fn require_subject_digest(&self, d: &Digest) -> Result<&Subject, PayloadError> {
        if let Some(s) = self.subject_for(d) {
            return Ok(s);
        }
        if self.subjects.is_empty() {
            return Err(PayloadError::EmptySubject {
                expected: d.clone(),
            });
        }
        let found: Vec<&str> = self
            .subjects
            .iter()
            .filter_map(|s| s.digests.get("sha256").map(String::as_str))
            .collect();
        if found.is_empty() {
            let names: Vec<String> = self
                .subjects
                .iter()
                .map(|s| {
                    if s.name.is_empty() {
                        "(unnamed)".to_owned()
                    } else {
                        excerpt(&s.name)
                    }
                })
                .collect();
            return Err(PayloadError::NoSha256Subject {
                expected: d.clone(),
                names: names.join(", "),
            });
        }
        Err(PayloadError::SubjectMismatch {
            expected: d.clone(),
            found: found
                .into_iter()
                .map(excerpt)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::format::dsse::parse_envelope;

    fn dir() -> String {
        crate::format::vectors_dir()
            .join("attestations/cosign-blob-attestation")
            .display()
            .to_string()
    }

    fn blob_digest() -> Digest {
        Digest::of(&std::fs::read(format!("{}/blob", dir())).unwrap())
    }

    fn vector(name: &str) -> Statement {
        parse_statement(&vector_bytes(name)).unwrap()
    }

    fn vector_bytes(name: &str) -> Vec<u8> {
        parse_envelope(&std::fs::read(format!("{}/{name}.dsse.json", dir())).unwrap())
            .unwrap()
            .payload
    }

    #[test]
    fn cosign_vectors_subject_checks() {
        let d = blob_digest();
        assert!(d.hex().starts_with("658781cd"));
        assert!(vector("blobSLSAProvenanceSignature").has_subject_digest(&d));
        assert!(vector("dssePredicateMultipleSubjects").has_subject_digest(&d));
        let e = vector("dssePredicateEmptySubject")
            .require_subject_digest(&d)
            .unwrap_err();
        assert!(matches!(e, PayloadError::EmptySubject { .. }), "{e}");
        let e = vector("dssePredicateMissingSha256")
            .require_subject_digest(&d)
            .unwrap_err();
        assert!(matches!(e, PayloadError::NoSha256Subject { .. }), "{e}");
        let e = vector("dssePredicateMultipleSubjectsInvalid")
            .require_subject_digest(&d)
            .unwrap_err();
        assert!(matches!(e, PayloadError::SubjectMismatch { .. }), "{e}");
        assert!(e.to_string().contains("a6823f9c"), "{e}");
    }

    #[test]
    fn v01_fields() {
        let s = vector("blobSLSAProvenanceSignature");
        assert_eq!(s.type_, STATEMENT_V01);
        assert_eq!(s.predicate_type, "https://slsa.dev/provenance/v0.2");
        assert_eq!(s.subjects[0].name, "blob");
        let p = predicate_value(&vector_bytes("blobSLSAProvenanceSignature"), 1 << 20).unwrap();
        assert_eq!(p["builder"]["id"], "2");
    }

    #[test]
    fn policy_custom_vector_parses() {
        let env = parse_envelope(
            &std::fs::read(
                crate::format::vectors_dir()
                    .join("attestations/cosign-policy-testdata-valid-custom.dsse.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let s = parse_statement(&env.payload).unwrap();
        assert_eq!(
            s.predicate_type,
            "https://cosign.sigstore.dev/attestation/v1"
        );
        assert_eq!(
            predicate_value(&env.payload, 1 << 20).unwrap()["Data"],
            "foobar test attestation"
        );
        assert_eq!(s.subjects[0].name, "registry.local:5000/knative/demo");
    }

    #[test]
    fn statement_bytes_and_roundtrip() {
        let d = Digest::from_hex(&"0a".repeat(32)).unwrap();
        let pred: Value = serde_json::from_str(r#"{"z":1,"a":"<x>"}"#).unwrap();
        let b = statement("reg:5000/repo", &d, "https://example.com/p", pred.clone());
        assert_eq!(
            String::from_utf8(b.clone()).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://example.com/p","subject":[{{"name":"reg:5000/repo","digest":{{"sha256":"{}"}}}}],"predicate":{{"z":1,"a":"\u003cx\u003e"}}}}"#,
                "0a".repeat(32)
            )
        );
        let s = parse_statement(&b).unwrap();
        assert_eq!(s.type_, STATEMENT_V1);
        assert_eq!(predicate_value(&b, 1 << 20).unwrap(), pred);
        // The DOM of the predicate is bounded.
        assert!(matches!(
            predicate_value(&b, b.len() as u64 - 1),
            Err(PayloadError::PredicateDomTooLarge { .. })
        ));
        assert_eq!(
            statement_ref("reg:5000/repo", &d, "https://example.com/p", &pred),
            b
        );
        let pred_json = br#"{"z":1,"a":"\u003cx\u003e"}"#;
        let parts = statement_parts("reg:5000/repo", &d, "https://example.com/p", pred_json);
        assert_eq!(parts.to_vec(), b);
        assert_eq!(parts.len(), b.len());
        assert!(s.has_subject_digest(&d));
        assert!(!s.has_subject_digest(&Digest::of(b"other")));
    }

    #[test]
    fn v1_without_name_or_predicate() {
        let hex = "11".repeat(32);
        let bytes = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{hex}"}},"annotations":{{"k":"v"}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1"}}"#
        );
        let s = parse_statement(bytes.as_bytes()).unwrap();
        assert_eq!(
            predicate_value(bytes.as_bytes(), 1 << 20).unwrap(),
            Value::Null
        );
        assert_eq!(s.subjects[0].annotations["k"], "v");
        assert!(s.has_subject_digest(&Digest::from_hex(&hex).unwrap()));
    }

    #[test]
    fn rejects_malformed_statements() {
        for (bad, needle) in [
            (
                r#"{"_type":"https://in-toto.io/Statement/v2","subject":[],"predicateType":"x"}"#,
                "_type",
            ),
            (r#"{"subject":[],"predicateType":"x"}"#, "_type"),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":""}"#,
                "predicateType",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"x"}"#,
                "subject",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":5}}],"predicateType":"x"}"#,
                "subject[0].digest.sha256",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":["x"],"predicateType":"x"}"#,
                "subject[0]",
            ),
            ("[]", "top level"),
        ] {
            let e = parse_statement(bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }
}
