//! The cosign "simple signing" payload (cosign-formats §1.4): the JSON that legacy `.sig`
//! signatures cover.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{PayloadError, excerpt, gojson};
use crate::format::digest::Digest;

/// The constant `critical.type` of a cosign simple-signing payload.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";

const WHAT: &str = "simple-signing payload";

/// The exact bytes cosign (Go `json.Marshal`) writes for an image signature payload:
/// compact, keys in the order `critical{identity{docker-reference}, image{docker-manifest-digest},
/// type}, optional`, `optional` = `null` without annotations or else the annotations with their
/// keys sorted, and Go's string escaping (`<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`).
pub fn simple_signing_payload(
    docker_reference: &str,
    digest: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(br#"{"critical":{"identity":{"docker-reference":"#);
    gojson::write_string(&mut out, docker_reference);
    out.extend_from_slice(br#"},"image":{"docker-manifest-digest":"#);
    gojson::write_string(&mut out, &digest.to_string());
    out.extend_from_slice(br#"},"type":"#);
    gojson::write_string(&mut out, SIMPLE_SIGNING_TYPE);
    out.extend_from_slice(br#"},"optional":"#);
    if annotations.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        // BTreeMap<String, _> iterates in byte order of the keys, which is Go's map order.
        out.push(b'{');
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            gojson::write_string(&mut out, k);
            out.push(b':');
            gojson::write_string(&mut out, v);
        }
        out.push(b'}');
    }
    out.push(b'}');
    out
}

/// A parsed simple-signing payload.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleSigning {
    /// `critical.identity.docker-reference` (cosign does not check it on verify).
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`: the signed image digest.
    pub digest: Digest,
    /// `critical.type` (always [`SIMPLE_SIGNING_TYPE`] once parsed).
    pub kind: String,
    /// `optional`: empty when it is `null` or absent.
    pub optional: BTreeMap<String, Value>,
}

/// Looks a key up the way Go's `encoding/json` does when decoding into a struct: an exact match
/// first, otherwise a case-insensitive one. (So cosign reads `Docker-manifest-digest` too.)
fn go_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .next_back()
    })
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, PayloadError> {
    go_field(obj, name)
        .and_then(Value::as_object)
        .ok_or_else(|| PayloadError::Field {
            what: WHAT,
            field: path.to_owned(),
            expected: "object",
        })
}

fn string<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<&'a str, PayloadError> {
    go_field(obj, name)
        .and_then(Value::as_str)
        .ok_or_else(|| PayloadError::Field {
            what: WHAT,
            field: path.to_owned(),
            expected: "string",
        })
}

/// Parses a simple-signing payload. `critical.type` must be exactly
/// `cosign container image signature` and the digest must be a valid `sha256:` digest; key names
/// are matched as Go matches them (exact, else case-insensitive).
pub fn parse_simple_signing(bytes: &[u8]) -> Result<SimpleSigning, PayloadError> {
    let root: Value = serde_json::from_slice(bytes)
        .map_err(|source| PayloadError::Json { what: WHAT, source })?;
    let root = root.as_object().ok_or_else(|| PayloadError::Field {
        what: WHAT,
        field: "(top level)".into(),
        expected: "object",
    })?;
    let critical = object(root, "critical", "critical")?;
    let kind = string(critical, "type", "critical.type")?;
    if kind != SIMPLE_SIGNING_TYPE {
        return Err(PayloadError::Value {
            what: WHAT,
            field: "critical.type".into(),
            found: excerpt(kind),
            expected: format!("`{SIMPLE_SIGNING_TYPE}`"),
        });
    }
    let image = object(critical, "image", "critical.image")?;
    let digest_str = string(
        image,
        "docker-manifest-digest",
        "critical.image.docker-manifest-digest",
    )?;
    let digest: Digest = digest_str.parse().map_err(|_| PayloadError::Value {
        what: WHAT,
        field: "critical.image.docker-manifest-digest".into(),
        found: excerpt(digest_str),
        expected: "a sha256:<64 hex> digest".into(),
    })?;
    let identity = object(critical, "identity", "critical.identity")?;
    let docker_reference = string(
        identity,
        "docker-reference",
        "critical.identity.docker-reference",
    )?
    .to_owned();
    let optional = match go_field(root, "optional") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(_) => {
            return Err(PayloadError::Field {
                what: WHAT,
                field: "optional".into(),
                expected: "object or null",
            });
        }
    };
    Ok(SimpleSigning {
        docker_reference,
        digest,
        kind: kind.to_owned(),
        optional,
    })
}

impl SimpleSigning {
    /// The `optional` entries whose values are strings (the `-a key=value` annotations cosign
    /// writes and checks).
    pub fn string_annotations(&self) -> BTreeMap<String, String> {
        self.optional
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn vectors() -> String {
        crate::format::vectors_dir().display().to_string()
    }

    fn d(hex: &str) -> Digest {
        Digest::from_hex(hex).unwrap()
    }

    fn reemit(bytes: &[u8]) -> Vec<u8> {
        let p = parse_simple_signing(bytes).unwrap();
        simple_signing_payload(&p.docker_reference, &p.digest, &p.string_annotations())
    }

    #[test]
    fn reproduces_real_payloads_byte_exact() {
        let v = vectors();
        let mut files = vec![std::path::PathBuf::from(format!(
            "{v}/derived/legacy-sig-keyless-containers-image/payload.json"
        ))];
        for e in std::fs::read_dir(format!("{v}/legacy-signatures/connaisseur/blobs")).unwrap() {
            files.push(e.unwrap().path());
        }
        assert!(files.len() >= 4);
        for f in files {
            let original = std::fs::read(&f).unwrap();
            assert_eq!(reemit(&original), original, "{}", f.display());
        }
    }

    #[test]
    fn reproduces_containers_image_layer_payloads() {
        let v = vectors();
        use base64::Engine as _;
        for dir in [
            "dir-img-cosign-valid",
            "dir-img-cosign-key-rekor-valid",
            "dir-img-cosign-fulcio-rekor-valid",
        ] {
            let sig = std::fs::read(format!(
                "{v}/legacy-signatures/containers-image/{dir}/signature-1"
            ))
            .unwrap();
            // "sigstore-json" magic, then JSON.
            let start = sig.iter().position(|&b| b == b'{').unwrap();
            let v: Value = serde_json::from_slice(&sig[start..]).unwrap();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(v["payload"].as_str().unwrap())
                .unwrap();
            assert_eq!(reemit(&payload), payload, "{dir}");
        }
    }

    #[test]
    fn known_bytes_with_annotations_and_escaping() {
        let mut a = BTreeMap::new();
        a.insert("z".to_owned(), "<&>".to_owned());
        a.insert("a".to_owned(), "x".to_owned());
        let dg = d(&"ab".repeat(32));
        let got = simple_signing_payload("localhost:5000/r", &dg, &a);
        let want = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"localhost:5000/r"}},"image":{{"docker-manifest-digest":"sha256:{}"}},"type":"cosign container image signature"}},"optional":{{"a":"x","z":"\u003c\u0026\u003e"}}}}"#,
            "ab".repeat(32)
        );
        assert_eq!(String::from_utf8(got.clone()).unwrap(), want);
        let p = parse_simple_signing(&got).unwrap();
        assert_eq!(p.string_annotations(), a);
        assert_eq!(p.digest, dg);
    }

    #[test]
    fn go_case_insensitive_keys() {
        let hex = "cd".repeat(32);
        let p = parse_simple_signing(
            format!(r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"Docker-manifest-digest":"sha256:{hex}"}},"type":"cosign container image signature"}},"optional":null}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(p.digest, d(&hex));
    }

    #[test]
    fn rejects_bad_payloads() {
        let hex = "cd".repeat(32);
        let wrong_type = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"sha256:{hex}"}},"type":"atomic container signature"}},"optional":null}}"#
        );
        let e = parse_simple_signing(wrong_type.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("critical.type"), "{e}");
        let bad_digest = r#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:xyz"},"type":"cosign container image signature"},"optional":null}"#;
        let e = parse_simple_signing(bad_digest.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("docker-manifest-digest"), "{e}");
        let missing = r#"{"critical":{"type":"cosign container image signature"}}"#;
        assert!(parse_simple_signing(missing.as_bytes()).is_err());
        assert!(parse_simple_signing(b"not json").is_err());
        assert!(parse_simple_signing(b"[]").is_err());
        let bad_optional = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"sha256:{hex}"}},"type":"cosign container image signature"}},"optional":"x"}}"#
        );
        assert!(parse_simple_signing(bad_optional.as_bytes()).is_err());
    }
}
