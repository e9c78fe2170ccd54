//! Finding Notation signatures attached to an image: OCI referrers with artifact type
//! `application/vnd.cncf.notary.signature` (or the legacy `config.mediaType` of that name),
//! through the referrers API, else the `sha256-<hex>` tag-schema index, as cosign bundle
//! referrers are found (`store::discover`); an OCI layout without a tag-schema index is also
//! scanned for manifests whose `subject` is the image (what `oras` and `notation` do for
//! layouts). Nothing here verifies anything.

use crate::format::digest::Digest;
use crate::format::oci::{Descriptor, ImageIndex, ImageManifest};
use crate::store::layout::LayoutRepository;
use crate::store::{Limits, ManifestRef, RegistryError, Repository};

use super::ARTIFACT_TYPE;

/// One signature manifest attached to the image, with its envelope (or why it could not be
/// fetched: such a signature fails integrity when verified).
#[derive(Debug, Clone)]
pub struct AttachedSignature {
    /// The signature manifest's digest.
    pub manifest: Digest,
    /// The envelope layer's media type.
    pub media_type: String,
    /// The envelope bytes.
    pub envelope: Result<Vec<u8>, String>,
}

/// The Notation signatures of `subject` in `repo`.
pub async fn signatures<R: Repository>(
    repo: &R,
    subject: &Digest,
    limits: &Limits,
) -> Result<Vec<AttachedSignature>, RegistryError> {
    let listed = referrer_descriptors(repo, subject).await?;
    fetch_all(repo, subject, limits, listed).await
}

/// The Notation signatures of `subject` in an OCI layout: the referrers found by
/// [`signatures`], plus the layout's untagged index entries whose manifest names `subject`.
pub async fn layout_signatures(
    repo: &LayoutRepository,
    subject: &Digest,
    limits: &Limits,
) -> Result<Vec<AttachedSignature>, RegistryError> {
    let mut listed = referrer_descriptors(repo, subject).await?;
    let index_path = repo.path().join("index.json");
    if let Ok(bytes) = crate::fs::read_limited(&index_path, limits.max_layout_index_bytes)
        && let Ok(index) = serde_json::from_slice::<ImageIndex>(&bytes)
    {
        for d in index.manifests {
            let candidate = d.artifact_type.as_deref() == Some(ARTIFACT_TYPE)
                || (d.artifact_type.is_none()
                    && d.media_type == crate::store::media_types::OCI_MANIFEST);
            if candidate && d.digest != *subject {
                listed.push(d);
            }
        }
    }
    fetch_all(repo, subject, limits, listed).await
}

async fn referrer_descriptors<R: Repository>(
    repo: &R,
    subject: &Digest,
) -> Result<Vec<Descriptor>, RegistryError> {
    let index_bytes = match repo.referrers_api(subject).await? {
        Some(b) => Some(b),
        None => repo
            .get_manifest(ManifestRef::Tag(&subject.tag_base()))
            .await?
            .map(|m| m.bytes),
    };
    let Some(bytes) = index_bytes else {
        return Ok(Vec::new());
    };
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
            repository: repo.name().to_owned(),
            operation: format!("referrers of {subject}"),
            message: format!("referrers index is malformed: {e}"),
        })?;
    Ok(index
        .manifests
        .into_iter()
        // Tag-schema indexes written before OCI 1.1 may leave artifactType out; the manifest
        // itself is checked below.
        .filter(|d| {
            d.artifact_type
                .as_deref()
                .is_none_or(|t| t == ARTIFACT_TYPE)
        })
        .collect())
}

async fn fetch_all<R: Repository>(
    repo: &R,
    subject: &Digest,
    limits: &Limits,
    listed: Vec<Descriptor>,
) -> Result<Vec<AttachedSignature>, RegistryError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for d in listed {
        if !seen.insert(d.digest.clone()) {
            continue;
        }
        if out.len() >= limits.max_referrers {
            break;
        }
        let Some(m) = repo.get_manifest(ManifestRef::Digest(&d.digest)).await? else {
            continue;
        };
        let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&m.bytes) else {
            continue;
        };
        let is_notation = manifest.artifact_type.as_deref() == Some(ARTIFACT_TYPE)
            || manifest.config.media_type == ARTIFACT_TYPE;
        if !is_notation || manifest.subject.as_ref().map(|s| &s.digest) != Some(subject) {
            continue;
        }
        let sig = match manifest.layers.as_slice() {
            [layer] => {
                let envelope = if layer.size > limits.max_payload_bytes {
                    Err(format!(
                        "signature envelope is {} bytes, over the {} byte limit",
                        layer.size, limits.max_payload_bytes
                    ))
                } else {
                    repo.get_blob(&layer.digest, limits.max_payload_bytes)
                        .await
                        .map(std::sync::Arc::unwrap_or_clone)
                        .map_err(|e| crate::format::error_chain(&e))
                };
                AttachedSignature {
                    manifest: m.digest.clone(),
                    media_type: layer.media_type.clone(),
                    envelope,
                }
            }
            layers => AttachedSignature {
                manifest: m.digest.clone(),
                media_type: String::new(),
                envelope: Err(format!(
                    "signature manifest has {} layers, expected exactly one envelope",
                    layers.len()
                )),
            },
        };
        out.push(sig);
    }
    Ok(out)
}
