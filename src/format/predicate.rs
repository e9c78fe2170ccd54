//! Predicate types: cosign's `--type` shortcuts (cosign-formats §2.5) and loading a predicate
//! file with the checks cosign does not do but a deploy gate needs — a size limit enforced before
//! parsing, JSON only, and SBOMs that really are the SBOM format they are declared as.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::{PayloadError, excerpt, gojson};

/// cosign's default predicate size limit: 128 MiB ([`Limits::max_predicate_bytes`]).
///
/// [`Limits::max_predicate_bytes`]: crate::limits::Limits::max_predicate_bytes
pub const DEFAULT_MAX_PREDICATE_BYTES: u64 = crate::limits::Limits::DEFAULT.max_predicate_bytes;

/// `custom` (the default `--type` of cosign attest and verify-attestation).
pub const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";
/// SLSA provenance v0.2 (`slsaprovenance`, `slsaprovenance02`).
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
/// SLSA provenance v1 (`slsaprovenance1`).
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// in-toto link (`link`).
pub const LINK: &str = "https://in-toto.io/Link/v1";
/// SPDX (`spdx`, `spdxjson`).
pub const SPDX: &str = "https://spdx.dev/Document";
/// CycloneDX (`cyclonedx`).
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// cosign's vulnerability scan predicate (`vuln`).
pub const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// OpenVEX (`openvex`).
pub const OPENVEX: &str = "https://openvex.dev/ns";

/// cosign's `--type` shortcuts → predicateType URIs: the one alias table, used by
/// `imprint attest --type` and by `predicateType:` in policies.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("custom", CUSTOM),
    ("slsaprovenance", SLSA_PROVENANCE_V02),
    ("slsaprovenance02", SLSA_PROVENANCE_V02),
    ("slsaprovenance1", SLSA_PROVENANCE_V1),
    ("link", LINK),
    ("spdx", SPDX),
    ("spdxjson", SPDX),
    ("cyclonedx", CYCLONEDX),
    ("vuln", VULN),
    ("openvex", OPENVEX),
];

/// Maps a `--type` value to its predicateType URI: one of cosign's shortcuts (exact, lowercase),
/// or else the value itself when it is an absolute URI (`scheme:` followed by something).
pub fn predicate_type_uri(type_flag: &str) -> Result<String, PayloadError> {
    if let Some(uri) = expand_shortcut(type_flag) {
        return Ok(uri.to_owned());
    }
    if is_absolute_uri(type_flag) {
        Ok(type_flag.to_owned())
    } else {
        Err(PayloadError::UnknownPredicateType(excerpt(type_flag)))
    }
}

/// The predicateType URI of one of cosign's `--type` shortcuts ([`SHORTCUTS`]; exact,
/// lowercase), or `None`.
pub fn expand_shortcut(type_flag: &str) -> Option<&'static str> {
    SHORTCUTS
        .iter()
        .find(|(k, _)| *k == type_flag)
        .map(|(_, uri)| *uri)
}

/// RFC 3986 `scheme ":" rest`, with a non-empty rest and no whitespace or control characters.
fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Loads predicate bytes for `type_uri` (already mapped with [`predicate_type_uri`]), as
/// [`load_predicate_at`] with the current time.
pub fn load_predicate(type_uri: &str, bytes: &[u8], max_bytes: u64) -> Result<Value, PayloadError> {
    load_predicate_at(type_uri, bytes, max_bytes, Utc::now())
}

/// Loads predicate bytes for `type_uri`:
///
/// - more than `max_bytes` is refused before parsing;
/// - `custom` ([`CUSTOM`]) wraps the file text as cosign does,
///   `{"Data": "<text>", "Timestamp": "<now, RFC 3339 UTC, seconds>"}`; the text must be UTF-8
///   but need not be JSON (cosign's custom type carries arbitrary text);
/// - SPDX must be an SPDX 2.2 / 2.3 JSON document (`spdxVersion`, `SPDXID`, `packages`);
/// - CycloneDX must have `bomFormat: "CycloneDX"` and `specVersion` 1.2 to 1.6;
/// - every other type must be a JSON object.
///
/// A document of another recognisable kind is refused with what it looks like and the `--type`
/// to use instead.
pub fn load_predicate_at(
    type_uri: &str,
    bytes: &[u8],
    max_bytes: u64,
    now: DateTime<Utc>,
) -> Result<Value, PayloadError> {
    if bytes.len() as u64 > max_bytes {
        return Err(PayloadError::PredicateTooLarge {
            size: bytes.len() as u64,
            limit: max_bytes,
        });
    }
    if type_uri == CUSTOM {
        let text = std::str::from_utf8(bytes).map_err(|_| PayloadError::PredicateMismatch {
            declared: format!("custom ({CUSTOM})"),
            reason: "the file is not UTF-8 text".into(),
            suggestion: None,
        })?;
        let mut m = Map::new();
        m.insert("Data".into(), Value::String(text.to_owned()));
        m.insert(
            "Timestamp".into(),
            Value::String(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        return Ok(Value::Object(m));
    }
    let declared = declared_name(type_uri);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let looks_spdx_tv = bytes.starts_with(b"SPDXVersion:");
        PayloadError::PredicateMismatch {
            declared: declared.clone(),
            reason: format!("the predicate is not JSON ({e})"),
            suggestion: looks_spdx_tv.then(|| {
                "an SPDX tag-value document; convert it to SPDX JSON (only JSON SBOMs are accepted)"
                    .to_owned()
            }),
        }
    })?;
    let Some(obj) = value.as_object() else {
        return Err(PayloadError::PredicateMismatch {
            declared,
            reason: "the predicate is JSON but not a JSON object".into(),
            suggestion: None,
        });
    };
    let kind = detect(obj);
    match type_uri {
        SPDX => check_spdx(obj, &declared, kind)?,
        CYCLONEDX => check_cyclonedx(obj, &declared, kind)?,
        _ => {}
    }
    Ok(value)
}

/// A predicate ready to be written into a statement: its compact Go-style JSON bytes, as
/// `write_value` writes its `Value` (document key order, Go string escaping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredicateJson(Vec<u8>);

impl PredicateJson {
    /// The compact JSON bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The predicate written from a `Value`.
    pub fn from_value(v: &Value) -> Self {
        let mut out = Vec::new();
        gojson::write_value(&mut out, v);
        Self(out)
    }
}

impl From<Value> for PredicateJson {
    fn from(v: Value) -> Self {
        Self::from_value(&v)
    }
}

impl From<&Value> for PredicateJson {
    fn from(v: &Value) -> Self {
        Self::from_value(v)
    }
}

/// [`load_predicate`] for attesting: the same checks and the same refusals, but the result is
/// the predicate's statement bytes ([`PredicateJson`]), made in one streaming pass from the
/// file bytes without a `serde_json::Value` of the document (about 5.5 times the file for an
/// SBOM). The bytes are identical to writing the `Value` [`load_predicate`] returns. Inputs
/// the streaming pass leaves to the `Value` path (repeated keys, anything malformed) take it.
pub fn load_predicate_json(
    type_uri: &str,
    bytes: &[u8],
    max_bytes: u64,
) -> Result<PredicateJson, PayloadError> {
    load_predicate_json_at(type_uri, bytes, max_bytes, Utc::now())
}

/// [`load_predicate_json`] at time `now` (the custom type's `Timestamp`).
pub fn load_predicate_json_at(
    type_uri: &str,
    bytes: &[u8],
    max_bytes: u64,
    now: DateTime<Utc>,
) -> Result<PredicateJson, PayloadError> {
    if bytes.len() as u64 > max_bytes || type_uri == CUSTOM {
        return load_predicate_at(type_uri, bytes, max_bytes, now).map(PredicateJson::from);
    }
    let Ok((json, shallow)) = gojson::transcode_object(bytes) else {
        return load_predicate_at(type_uri, bytes, max_bytes, now).map(PredicateJson::from);
    };
    // The checks read only top-level keys and string fields, which the shallow map holds.
    let declared = declared_name(type_uri);
    let kind = detect(&shallow);
    match type_uri {
        SPDX => check_spdx(&shallow, &declared, kind)?,
        CYCLONEDX => check_cyclonedx(&shallow, &declared, kind)?,
        _ => {}
    }
    Ok(PredicateJson(json))
}

fn declared_name(type_uri: &str) -> String {
    match type_uri {
        SPDX => format!("SPDX JSON (`--type spdxjson`, {SPDX})"),
        CYCLONEDX => format!("CycloneDX (`--type cyclonedx`, {CYCLONEDX})"),
        other => format!("`{}`", excerpt(other)),
    }
}

/// What a JSON document looks like, for mismatch suggestions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Spdx,
    CycloneDx,
    Statement,
    Envelope,
    Other,
}

fn detect(obj: &Map<String, Value>) -> Kind {
    if obj.contains_key("spdxVersion") || obj.contains_key("SPDXID") {
        Kind::Spdx
    } else if obj.contains_key("bomFormat") {
        Kind::CycloneDx
    } else if obj.contains_key("_type") && obj.contains_key("predicateType") {
        Kind::Statement
    } else if obj.contains_key("payloadType") && obj.contains_key("signatures") {
        Kind::Envelope
    } else {
        Kind::Other
    }
}

fn suggestion(kind: Kind) -> Option<String> {
    match kind {
        Kind::Spdx => Some("an SPDX document: use `--type spdxjson`".into()),
        Kind::CycloneDx => Some("a CycloneDX document: use `--type cyclonedx`".into()),
        Kind::Statement => Some(
            "a whole in-toto statement: pass only its `predicate` as the predicate file".into(),
        ),
        Kind::Envelope => Some("a DSSE envelope (an attestation), not a predicate".into()),
        Kind::Other => None,
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    obj.get(name).and_then(Value::as_str)
}

fn check_spdx(obj: &Map<String, Value>, declared: &str, kind: Kind) -> Result<(), PayloadError> {
    let fail = |reason: String| PayloadError::PredicateMismatch {
        declared: declared.to_owned(),
        reason,
        suggestion: if kind == Kind::Spdx {
            None
        } else {
            suggestion(kind)
        },
    };
    if kind != Kind::Spdx {
        return Err(fail("it has no `spdxVersion` field".into()));
    }
    match obj.get("spdxVersion") {
        Some(Value::String(v)) if v == "SPDX-2.2" || v == "SPDX-2.3" => {}
        Some(Value::String(v)) => {
            return Err(fail(format!(
                "`spdxVersion` is `{}`; only SPDX-2.2 and SPDX-2.3 are accepted",
                excerpt(v)
            )));
        }
        _ => return Err(fail("`spdxVersion` is missing or not a string".into())),
    }
    match str_field(obj, "SPDXID") {
        Some(id) if id.starts_with("SPDXRef-") => {}
        Some(id) => {
            return Err(fail(format!(
                "`SPDXID` is `{}`, not an `SPDXRef-…` identifier",
                excerpt(id)
            )));
        }
        None => return Err(fail("`SPDXID` is missing or not a string".into())),
    }
    if !obj.get("packages").is_some_and(Value::is_array) {
        return Err(fail("`packages` is missing or not an array".into()));
    }
    Ok(())
}

fn check_cyclonedx(
    obj: &Map<String, Value>,
    declared: &str,
    kind: Kind,
) -> Result<(), PayloadError> {
    let fail = |reason: String| PayloadError::PredicateMismatch {
        declared: declared.to_owned(),
        reason,
        suggestion: if kind == Kind::CycloneDx {
            None
        } else {
            suggestion(kind)
        },
    };
    match obj.get("bomFormat") {
        Some(Value::String(f)) if f == "CycloneDX" => {}
        Some(Value::String(f)) => {
            return Err(fail(format!(
                "`bomFormat` is `{}`, not `CycloneDX`",
                excerpt(f)
            )));
        }
        Some(_) => return Err(fail("`bomFormat` is not a string".into())),
        None => return Err(fail("it has no `bomFormat` field".into())),
    }
    match str_field(obj, "specVersion") {
        Some(v @ ("1.2" | "1.3" | "1.4" | "1.5" | "1.6")) => {
            let _ = v;
            Ok(())
        }
        Some(v) => Err(fail(format!(
            "`specVersion` is `{}`; only CycloneDX 1.2 to 1.6 are accepted",
            excerpt(v)
        ))),
        None => Err(fail("`specVersion` is missing or not a string".into())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sbom_dir() -> std::path::PathBuf {
        crate::format::vectors_dir().join("predicates/sbom")
    }

    fn sboms() -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(sbom_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn streamed_predicate_bytes_equal_the_value_path() {
        let now = Utc::now();
        let mut n = 0;
        for path in sboms() {
            let bytes = std::fs::read(&path).unwrap();
            for t in [SPDX, CYCLONEDX, SLSA_PROVENANCE_V1] {
                let streamed = load_predicate_json_at(t, &bytes, u64::MAX, now);
                let dom = load_predicate_at(t, &bytes, u64::MAX, now);
                match (streamed, dom) {
                    (Ok(s), Ok(v)) => {
                        assert_eq!(s, PredicateJson::from_value(&v), "{}", path.display());
                        n += 1;
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => panic!("{}: {a:?} vs {b:?}", path.display()),
                }
            }
        }
        assert!(n >= 4, "{n}");
        // Repeated keys and non-objects go the Value way (last key wins; the same refusal).
        let dup = br#"{"bomFormat":"x","bomFormat":"CycloneDX","specVersion":"1.5","a":1,"a":2}"#;
        assert_eq!(
            load_predicate_json_at(CYCLONEDX, dup, u64::MAX, now)
                .unwrap()
                .as_bytes(),
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","a":2}"#
        );
        for bad in [&b"[1]"[..], b"{", b"nope"] {
            assert_eq!(
                load_predicate_json_at(SLSA_PROVENANCE_V1, bad, u64::MAX, now)
                    .unwrap_err()
                    .to_string(),
                load_predicate_at(SLSA_PROVENANCE_V1, bad, u64::MAX, now)
                    .unwrap_err()
                    .to_string()
            );
        }
        let custom = load_predicate_json_at(CUSTOM, b"hi <there>", u64::MAX, now).unwrap();
        assert_eq!(
            custom,
            PredicateJson::from_value(
                &load_predicate_at(CUSTOM, b"hi <there>", u64::MAX, now).unwrap()
            )
        );
        assert!(matches!(
            load_predicate_json_at(SPDX, b"{}", 1, now),
            Err(PayloadError::PredicateTooLarge { .. })
        ));
    }

    #[test]
    fn shortcut_table() {
        for (flag, uri) in [
            ("custom", "https://cosign.sigstore.dev/attestation/v1"),
            ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
            ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
            ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
            ("link", "https://in-toto.io/Link/v1"),
            ("spdx", "https://spdx.dev/Document"),
            ("spdxjson", "https://spdx.dev/Document"),
            ("cyclonedx", "https://cyclonedx.org/bom"),
            ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
            ("openvex", "https://openvex.dev/ns"),
            (
                "https://example.com/my/type/v1",
                "https://example.com/my/type/v1",
            ),
            ("urn:example:x", "urn:example:x"),
        ] {
            assert_eq!(predicate_type_uri(flag).unwrap(), uri, "{flag}");
        }
        for bad in [
            "",
            "SPDX",
            "notauri",
            "1http://x",
            "http:",
            "has space:x",
            "/rel/path",
        ] {
            assert!(predicate_type_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_sbom_vector_accepted_as_its_type_and_refused_as_the_other() {
        let files = sboms();
        assert!(files.len() >= 9);
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let (right, wrong, hint) = if name.contains(".spdx.") {
                (SPDX, CYCLONEDX, "--type spdxjson")
            } else {
                (CYCLONEDX, SPDX, "--type cyclonedx")
            };
            let v = load_predicate(right, &bytes, DEFAULT_MAX_PREDICATE_BYTES)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(v.is_object());
            let e = load_predicate(wrong, &bytes, DEFAULT_MAX_PREDICATE_BYTES)
                .unwrap_err()
                .to_string();
            assert!(e.contains(hint), "{name}: {e}");
        }
    }

    #[test]
    fn the_issue_example_message() {
        let bytes = std::fs::read(sbom_dir().join("guac-syft-0.58.0_alpine.cdx-1.4.json")).unwrap();
        let e = load_predicate(&predicate_type_uri("spdxjson").unwrap(), &bytes, u64::MAX)
            .unwrap_err()
            .to_string();
        assert!(e.contains("declared as SPDX JSON"), "{e}");
        assert!(
            e.contains("CycloneDX document: use `--type cyclonedx`"),
            "{e}"
        );
    }

    #[test]
    fn non_sbom_declared_as_sbom() {
        let vuln = std::fs::read(
            crate::format::vectors_dir().join("predicates/vuln/trivy-alpine-39.trivy.json"),
        )
        .unwrap();
        for t in [SPDX, CYCLONEDX] {
            let e = load_predicate(t, &vuln, u64::MAX).unwrap_err();
            assert!(matches!(e, PayloadError::PredicateMismatch { .. }), "{e}");
        }
        // But it is fine as a vuln predicate (any JSON object).
        assert!(load_predicate(VULN, &vuln, u64::MAX).is_ok());
    }

    #[test]
    fn version_checks() {
        let spdx = |ver: &str| {
            format!(r#"{{"spdxVersion":"{ver}","SPDXID":"SPDXRef-DOCUMENT","packages":[]}}"#)
        };
        assert!(load_predicate(SPDX, spdx("SPDX-2.2").as_bytes(), 1000).is_ok());
        assert!(load_predicate(SPDX, spdx("SPDX-2.3").as_bytes(), 1000).is_ok());
        let e = load_predicate(SPDX, spdx("SPDX-2.1").as_bytes(), 1000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SPDX-2.1"), "{e}");
        assert!(
            load_predicate(
                SPDX,
                br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}"#,
                1000
            )
            .is_err()
        );
        assert!(
            load_predicate(SPDX, br#"{"spdxVersion":"SPDX-2.3","packages":[]}"#, 1000).is_err()
        );
        let cdx = |ver: &str| format!(r#"{{"bomFormat":"CycloneDX","specVersion":"{ver}"}}"#);
        for ok in ["1.2", "1.3", "1.4", "1.5", "1.6"] {
            assert!(
                load_predicate(CYCLONEDX, cdx(ok).as_bytes(), 1000).is_ok(),
                "{ok}"
            );
        }
        for bad in ["1.1", "1.7", "2.0"] {
            assert!(
                load_predicate(CYCLONEDX, cdx(bad).as_bytes(), 1000).is_err(),
                "{bad}"
            );
        }
        assert!(
            load_predicate(
                CYCLONEDX,
                br#"{"bomFormat":"SPDX","specVersion":"1.5"}"#,
                1000
            )
            .is_err()
        );
    }

    #[test]
    fn not_json_and_not_object() {
        let e = load_predicate(
            SPDX,
            b"SPDXVersion: SPDX-2.3\nSPDXID: SPDXRef-DOCUMENT\n",
            1000,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not JSON") && e.contains("tag-value"), "{e}");
        assert!(load_predicate(SLSA_PROVENANCE_V02, b"hello", 1000).is_err());
        assert!(load_predicate("https://example.com/t", b"[1,2]", 1000).is_err());
        assert!(load_predicate("https://example.com/t", b"{\"a\":1}", 1000).is_ok());
    }

    #[test]
    fn size_limit_before_parse() {
        let e = load_predicate(SPDX, b"not even json", 5).unwrap_err();
        assert!(
            matches!(e, PayloadError::PredicateTooLarge { size: 13, limit: 5 }),
            "{e}"
        );
    }

    #[test]
    fn custom_wraps_like_cosign() {
        let now = DateTime::parse_from_rfc3339("2022-04-07T19:22:25.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let v = load_predicate_at(CUSTOM, b"foobar test attestation", 1000, now).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"Data":"foobar test attestation","Timestamp":"2022-04-07T19:22:25Z"}"#
        );
        assert!(load_predicate_at(CUSTOM, &[0xff, 0xfe], 1000, now).is_err());
    }
}
