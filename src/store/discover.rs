//! Discovery: fetching everything attached to an image digest, without judging it.
//!
//! Legacy `sha256-<hex>.sig` / `.att` layers (cosign-formats §1, §2) and Sigstore bundles
//! attached as OCI referrers (the referrers API, else the `sha256-<hex>` tag-schema index,
//! §3.4). Every blob is digest-checked by the [`Repository`] and size-checked against
//! [`Limits`]; a candidate that cannot be fetched carries why, and fails its check later.
//! Everything fetched for one image goes through one budget (`store::budget`): each digest
//! fetched once and shared, bounded concurrency, one byte total
//! ([`Limits::max_image_bytes`]), and simple-signing payloads bounded by
//! [`Limits::max_payload_bytes`] before they are fetched.
//! Nothing here verifies a signature: that is `crate::verify`.

use std::sync::Arc;

use serde::Serialize;

use crate::format::digest::Digest;
use crate::format::oci::{Descriptor, ImageIndex, ImageManifest};
use crate::store::attach::{self, Kind};
use crate::store::budget::ImageFetches;
use crate::store::{Limits, ManifestRef, RegistryError, Repository, media_types};
/// Where a verified item came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Source {
    /// A layer of a legacy `sha256-<hex>.sig` / `.att` manifest.
    LegacyLayer {
        /// The `.sig`/`.att` manifest's digest.
        manifest: Digest,
        /// The layer's digest.
        layer: Digest,
        /// The layer's position in the manifest.
        index: usize,
    },
    /// A Sigstore bundle attached as an OCI referrer.
    Bundle {
        /// The referrer manifest's digest.
        referrer: Digest,
        /// The bundle blob's digest.
        layer: Digest,
    },
    /// A detached file (blob signing).
    File {
        /// The file path as given.
        path: String,
    },
}

/// Which formats to look at (cosign `--signature-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureFormat {
    /// Legacy `.sig` / `.att` tags only.
    Legacy,
    /// Sigstore bundles as OCI referrers only.
    Bundle,
    /// Both (default).
    #[default]
    Any,
}

impl SignatureFormat {
    /// The formats either `self` or `other` accepts.
    pub fn union(self, other: Self) -> Self {
        match (
            self.legacy() || other.legacy(),
            self.bundle() || other.bundle(),
        ) {
            (true, false) => Self::Legacy,
            (false, true) => Self::Bundle,
            _ => Self::Any,
        }
    }

    pub(crate) fn legacy(self) -> bool {
        matches!(self, Self::Legacy | Self::Any)
    }
    pub(crate) fn bundle(self) -> bool {
        matches!(self, Self::Bundle | Self::Any)
    }
}

/// One attached item, fetched but not yet checked.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where it was found.
    pub source: Source,
    /// The layer descriptor (annotations carry the legacy signature, certificate, ...).
    pub descriptor: Descriptor,
    /// The content: payload, DSSE envelope or bundle JSON. `Err` holds why it could not be
    /// fetched (digest mismatch, too large, missing), which fails the candidate.
    pub content: Result<Arc<Vec<u8>>, String>,
}

/// Everything found attached to one image digest.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    /// Legacy `.sig` layers.
    pub signatures: Vec<Candidate>,
    /// Legacy `.att` layers.
    pub attestations: Vec<Candidate>,
    /// Sigstore bundles found as referrers (signatures and attestations alike).
    pub bundles: Vec<Candidate>,
}

/// Errors that stop discovery as a whole (as opposed to one candidate failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// Registry failure.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Attachment manifest problem.
    #[error(transparent)]
    Attach(#[from] attach::AttachError),
    /// The referrers index is unusable.
    #[error("referrers index for {subject} in `{repository}` is malformed: {message}")]
    Referrers {
        /// Repository.
        repository: String,
        /// Subject digest.
        subject: Digest,
        /// Why.
        message: String,
    },
}

/// Fetch every signature, attestation and bundle attached to `subject`.
pub async fn discover<R: Repository>(
    repo: &R,
    subject: &Digest,
    format: SignatureFormat,
    want_signatures: bool,
    want_attestations: bool,
    limits: &Limits,
) -> Result<Discovered, DiscoverError> {
    let mut out = Discovered::default();
    let fetches = ImageFetches::new(repo, limits);
    if format.legacy() {
        if want_signatures {
            out.signatures = legacy_candidates(&fetches, subject, Kind::Signature, limits).await?;
        }
        if want_attestations {
            out.attestations =
                legacy_candidates(&fetches, subject, Kind::Attestation, limits).await?;
        }
    }
    if format.bundle() {
        out.bundles = bundle_candidates(&fetches, subject, limits).await?;
    }
    Ok(out)
}

async fn legacy_candidates<R: Repository>(
    fetches: &ImageFetches<'_, R>,
    subject: &Digest,
    kind: Kind,
    limits: &Limits,
) -> Result<Vec<Candidate>, DiscoverError> {
    let Some(att) = attach::read(fetches, subject, kind, limits.max_layers).await? else {
        return Ok(Vec::new());
    };
    // A simple-signing payload is a few hundred bytes of JSON: `.sig` layers get the small
    // payload limit, `.att` envelopes (which carry whole statements) the blob limit.
    let (max, limit) = match kind {
        Kind::Signature => (limits.max_payload_bytes, "max_payload_bytes"),
        Kind::Attestation => (limits.max_blob_bytes, "max_blob_bytes"),
    };
    let candidates = att
        .manifest
        .layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let source = Source::LegacyLayer {
                manifest: att.digest.clone(),
                layer: layer.digest.clone(),
                index,
            };
            fetch_candidate(fetches, source, layer.clone(), max, limit)
        });
    Ok(futures_util::future::join_all(candidates).await)
}

async fn fetch_candidate<R: Repository>(
    fetches: &ImageFetches<'_, R>,
    source: Source,
    descriptor: Descriptor,
    max: u64,
    limit: &str,
) -> Candidate {
    let content: Result<Arc<Vec<u8>>, String> = fetches.blob(&descriptor, max, limit).await;
    Candidate {
        source,
        descriptor,
        content,
    }
}

/// Find bundle referrers: the referrers API when the store has it, else the `sha256-<hex>`
/// tag-schema index (cosign-formats §3.4).
async fn bundle_candidates<R: Repository>(
    repo: &ImageFetches<'_, R>,
    subject: &Digest,
    limits: &Limits,
) -> Result<Vec<Candidate>, DiscoverError> {
    let index_bytes = match repo.referrers_api(subject).await? {
        Some(b) => b,
        None => match repo
            .get_manifest(ManifestRef::Tag(&subject.tag_base()))
            .await?
        {
            Some(m) => m.bytes,
            None => return Ok(Vec::new()),
        },
    };
    let index: ImageIndex =
        serde_json::from_slice(&index_bytes).map_err(|e| DiscoverError::Referrers {
            repository: repo.name().to_owned(),
            subject: subject.clone(),
            message: e.to_string(),
        })?;
    let wanted: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(media_types::SIGSTORE_BUNDLE_V03))
        .take(limits.max_layers)
        .collect();
    let fetches = wanted.into_iter().map(|d| async move {
        let referrer = d.digest.clone();
        let failed = |message: String| Candidate {
            source: Source::Bundle {
                referrer: referrer.clone(),
                layer: referrer.clone(),
            },
            descriptor: d.clone(),
            content: Err(message),
        };
        let m = match repo.get_manifest(ManifestRef::Digest(&referrer)).await {
            Ok(Some(m)) => m,
            Ok(None) => return failed("referrer manifest listed in the index is missing".into()),
            Err(e) => return failed(crate::format::error_chain(&e)),
        };
        let manifest: ImageManifest = match serde_json::from_slice(&m.bytes) {
            Ok(x) => x,
            Err(e) => return failed(format!("referrer manifest is malformed: {e}")),
        };
        // cosign: exactly one layer whose media type is a Sigstore bundle.
        let [layer] = manifest.layers.as_slice() else {
            return failed(format!(
                "referrer has {} layers, expected exactly one bundle layer",
                manifest.layers.len()
            ));
        };
        if !layer
            .media_type
            .starts_with("application/vnd.dev.sigstore.bundle")
        {
            return failed(format!(
                "referrer layer has media type `{}`, not a Sigstore bundle",
                layer.media_type
            ));
        }
        if manifest.subject.as_ref().map(|s| &s.digest) != Some(subject) {
            return failed("referrer manifest's subject is not this image".into());
        }
        let source = Source::Bundle {
            referrer: referrer.clone(),
            layer: layer.digest.clone(),
        };
        fetch_candidate(
            repo,
            source,
            layer.clone(),
            limits.max_blob_bytes,
            "max_blob_bytes",
        )
        .await
    });
    Ok(futures_util::future::join_all(fetches).await)
}
