//! OCI manifest, index and descriptor types, serialized the way cosign (go-containerregistry,
//! Go `encoding/json`) writes them: compact, fields in Go struct order, map keys sorted, and
//! `<`, `>`, `&`, U+2028, U+2029 escaped. Byte-compatibility matters because a manifest's
//! digest is its identity: the same signature written by cosign and by imprint must produce the
//! same manifest digest.
//!
//! Parsing is lenient about field order and whitespace (other tools pretty-print), strict about
//! types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::format::digest::Digest;

/// A content descriptor. Field order is go-containerregistry's `v1.Descriptor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Digest of the content.
    pub digest: Digest,
    /// Embedded content (base64), rarely used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Alternate URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations (sorted on output, as Go maps are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform of an index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
    /// Artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A plain descriptor for `bytes` with the given media type.
    pub fn for_bytes(media_type: &str, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.to_owned(),
            size: bytes.len() as u64,
            digest: Digest::of(bytes),
            data: None,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// An annotation value, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An image manifest. Field order is go-containerregistry's `v1.Manifest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// Manifest media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Manifest annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The subject (OCI 1.1 referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// An image index. Field order is go-containerregistry's `v1.IndexManifest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// Index media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The entries.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Index annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The subject (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
}

pub use super::gojson::to_go_json;

/// The config blob cosign writes for a signature/attestation image with these layers:
/// zero creation time, one history entry and one diff_id per layer (layers are stored
/// uncompressed, so diff_id = layer digest). 233 bytes for one layer, +109 per extra layer.
pub fn cosign_config_blob(layers: &[Descriptor]) -> Vec<u8> {
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    let history: Vec<String> = layers
        .iter()
        .map(|_| format!("{{\"created\":\"{ZERO_TIME}\"}}"))
        .collect();
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("\"{}\"", l.digest)).collect();
    format!(
        "{{\"architecture\":\"\",\"created\":\"{ZERO_TIME}\",\"history\":[{}],\"os\":\"\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}},\"config\":{{}}}}",
        history.join(","),
        diff_ids.join(",")
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_blob_sizes_match_cosign() {
        let l = Descriptor::for_bytes("x", b"a");
        assert_eq!(cosign_config_blob(std::slice::from_ref(&l)).len(), 233);
        assert_eq!(cosign_config_blob(&[l.clone(), l.clone(), l]).len(), 451);
    }

    #[test]
    fn go_escaping() {
        let mut a = BTreeMap::new();
        a.insert("k".to_owned(), "<a&b>\n".to_owned());
        assert_eq!(
            to_go_json(&a),
            br#"{"k":"\u003ca\u0026b\u003e\n"}"#.to_vec()
        );
    }

    #[test]
    fn reproduces_derived_signature_manifest() {
        // The derived vector's manifest was reconstructed by cosign's rules; re-serializing it
        // through our types must give the same bytes.
        let dir = crate::format::vectors_dir().join("derived/legacy-sig-keyless-containers-image");
        let bytes = std::fs::read(dir.join("sig-manifest.json")).unwrap();
        let m: ImageManifest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(to_go_json(&m), bytes);
        let config = std::fs::read(dir.join("sig-config.json")).unwrap();
        assert_eq!(cosign_config_blob(&m.layers), config);
        assert_eq!(m.config.digest, Digest::of(&config));
    }
}
