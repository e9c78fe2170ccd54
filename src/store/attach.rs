//! Legacy cosign attachments: the `sha256-<hex>.sig` and `sha256-<hex>.att` images that
//! hold one signature or attestation per layer (cosign-formats §1, §2).
//!
//! Writes **append**: the existing manifest is read, the new layer added (unless an
//! equivalent one is already there) and the manifest written back under the same tag. Plain
//! registries have no compare-and-swap on tags, so the write is guarded twice: the tag is
//! re-read just before the PUT (if it moved, start over with the new content), and read
//! again after the PUT (if a concurrent writer's PUT replaced ours, merge and write again).
//! Every layer seen at any point is kept, so a concurrent signer's signature is not lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::format::digest::Digest;
use crate::format::oci::{self, Descriptor, ImageIndex, ImageManifest};
use crate::store::{Blob, Manifest, ManifestRef, RegistryError, Repository, media_types};

/// Annotation holding the base64 signature (present and empty on attestation layers).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Annotation holding the PEM certificate (keyless).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation holding the PEM chain (keyless).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Annotation holding the Rekor bundle JSON.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Annotation holding an RFC 3161 timestamp JSON.
pub const TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// Annotation holding an attestation layer's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// How many times a write is retried when concurrent writers keep moving the tag. Each round
/// lets at least one of the contending writers through, so N concurrent writers need up to N
/// rounds: 10 was too few for the 20-writer test under a loaded machine (seen twice); with
/// the backoff capped at 640 ms (+ jitter), 32 rounds wait at most about 40 s in all.
const MAX_WRITE_ATTEMPTS: u32 = 32;
/// How many of those rounds may follow a 5xx rather than contention: a registry that keeps
/// failing is not contention, and its error is the answer.
const MAX_SERVER_ERROR_RETRIES: u32 = 3;
/// Bounds of the wait between our PUT and the check that it was not overwritten.
const SETTLE_MIN: Duration = Duration::from_millis(20);
const SETTLE_MAX: Duration = Duration::from_secs(2);

/// Randomised exponential backoff between attempts, so contending writers spread out.
async fn backoff(attempt: u32) {
    let mut r = [0u8; 2];
    // Jitter only; if the system RNG fails, a fixed delay is still correct.
    let _ = aws_lc_rs::rand::fill(&mut r);
    let base = 10u64 << attempt.min(6);
    let jitter = u64::from(u16::from_le_bytes(r)) % base;
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

/// Which legacy attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.sig`: simple-signing payload layers.
    Signature,
    /// `.att`: DSSE envelope layers.
    Attestation,
}

impl Kind {
    /// The tag for `subject`: `sha256-<hex>.sig` / `.att`.
    pub fn tag(self, subject: &Digest) -> String {
        format!("{}.{}", subject.tag_base(), self.suffix())
    }
    fn suffix(self) -> &'static str {
        match self {
            Self::Signature => "sig",
            Self::Attestation => "att",
        }
    }
}

/// Errors reading or writing attachments.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The attachment manifest is not a usable image manifest.
    #[error("attachment manifest `{tag}` ({digest}) in `{repository}` is malformed: {message}")]
    Malformed {
        /// Repository.
        repository: String,
        /// Tag.
        tag: String,
        /// Manifest digest.
        digest: Digest,
        /// Why.
        message: String,
    },
    /// More layers than the limit.
    #[error(
        "max_layers: attachment manifest `{tag}` in `{repository}` has {count} layers, over the limit of {limit}"
    )]
    TooManyLayers {
        /// Repository.
        repository: String,
        /// Tag.
        tag: String,
        /// Layers present.
        count: usize,
        /// Limit.
        limit: usize,
    },
    /// Concurrent writers kept moving the tag.
    #[error(
        "gave up writing `{tag}` in `{repository}` after {attempts} attempts: the tag kept changing under concurrent writers"
    )]
    Contended {
        /// Repository.
        repository: String,
        /// Tag.
        tag: String,
        /// Attempts made.
        attempts: u32,
    },
}

/// A legacy attachment image as read from the registry.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The manifest's digest.
    pub digest: Digest,
    /// The tag it was read from.
    pub tag: String,
    /// Parsed manifest.
    pub manifest: ImageManifest,
}

/// Read the legacy attachment of `kind` for `subject`. `Ok(None)` when the tag does not exist.
pub async fn read<R: Repository>(
    repo: &R,
    subject: &Digest,
    kind: Kind,
    max_layers: usize,
) -> Result<Option<Attachment>, AttachError> {
    let tag = kind.tag(subject);
    let Some(m) = repo.get_manifest(ManifestRef::Tag(&tag)).await? else {
        return Ok(None);
    };
    let manifest = parse_attachment(repo, &tag, &m, max_layers)?;
    Ok(Some(Attachment {
        digest: m.digest,
        tag,
        manifest,
    }))
}

/// A layer to add: its descriptor (with annotations) and content.
#[derive(Debug, Clone)]
pub struct NewLayer {
    /// Descriptor; `digest` and `size` must describe `bytes`.
    pub descriptor: Descriptor,
    /// The layer content (payload or envelope), shared with the upload rather than copied.
    pub blob: Blob,
}

impl NewLayer {
    /// Build a layer of `media_type` over `bytes` with `annotations`.
    pub fn new(
        media_type: &str,
        bytes: impl Into<bytes::Bytes>,
        annotations: BTreeMap<String, String>,
    ) -> Self {
        Self::from_blob(media_type, Blob::new(bytes), annotations)
    }

    /// Build a layer of `media_type` over `blob` with `annotations`.
    pub fn from_blob(media_type: &str, blob: Blob, annotations: BTreeMap<String, String>) -> Self {
        let mut descriptor = blob_descriptor(media_type, &blob);
        descriptor.annotations = Some(annotations);
        Self { descriptor, blob }
    }
}

/// The descriptor of `blob` (its digest as computed when the blob was made).
fn blob_descriptor(media_type: &str, blob: &Blob) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        size: blob.len() as u64,
        digest: blob.digest().clone(),
        data: None,
        urls: None,
        annotations: None,
        platform: None,
        artifact_type: None,
    }
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// The layer was written; the attachment manifest now has this digest.
    Written {
        /// New manifest digest.
        manifest: Digest,
        /// Layers in it.
        layers: usize,
    },
    /// An equivalent layer was already present; nothing was written.
    AlreadyPresent {
        /// Existing manifest digest.
        manifest: Digest,
    },
}

/// Options for [`append`].
pub struct AppendOptions<'a> {
    /// Layer limit (as for reads).
    pub max_layers: usize,
    /// Is an existing layer (same digest, media type and non-signature annotations) an
    /// equivalent of the new one? cosign asks whether the existing signature verifies over the
    /// new payload with the new signer's key.
    pub is_equivalent: &'a (dyn Fn(&Descriptor) -> bool + Send + Sync),
    /// Existing layers to drop (`attest --replace`). Never called for the new layer.
    pub drop_existing: Option<&'a (dyn Fn(&Descriptor) -> bool + Send + Sync)>,
}

/// Append `layer` to the `kind` attachment of `subject`, cosign-style.
pub async fn append<R: Repository>(
    repo: &R,
    subject: &Digest,
    kind: Kind,
    layer: NewLayer,
    opts: &AppendOptions<'_>,
) -> Result<Appended, AttachError> {
    let tag = kind.tag(subject);
    // Upload the layer blob once; it is content-addressed, so retries need not repeat it.
    repo.put_blob(layer.blob.clone()).await?;
    // Every layer observed in the tag during this call; never dropped unless `drop_existing`.
    let mut seen: Vec<Descriptor> = Vec::new();
    let mut dropped_any = false;
    let outcome = update_tag(
        repo,
        &tag,
        |current| {
            let current_layers = match current {
                Some(m) => parse_attachment(repo, &tag, m, opts.max_layers)?.layers,
                None => Vec::new(),
            };
            for l in &current_layers {
                merge_layer(&mut seen, l);
            }
            if let Some(drop) = opts.drop_existing {
                seen.retain(|l| {
                    let remove = l.digest != layer.descriptor.digest && drop(l);
                    dropped_any |= remove;
                    !remove
                });
            }
            let equivalent = seen
                .iter()
                .any(|l| equivalent_candidate(l, &layer.descriptor) && (opts.is_equivalent)(l));
            if equivalent {
                // A no-op only if the tag already holds everything we must keep.
                if current.is_some()
                    && !dropped_any
                    && seen.iter().all(|l| current_layers.contains(l))
                {
                    return Ok(Step::Done);
                }
            } else {
                merge_layer(&mut seen, &layer.descriptor);
            }
            let (config, manifest) = build_manifest(&seen);
            Ok(Step::Write {
                manifest,
                media_type: media_types::OCI_MANIFEST,
                blobs: vec![config],
                wanted: seen.clone(),
            })
        },
        |after, wanted: &Vec<Descriptor>| {
            serde_json::from_slice::<ImageManifest>(&after.bytes)
                .is_ok_and(|m| wanted.iter().all(|l| m.layers.contains(l)))
        },
    )
    .await?;
    Ok(match outcome {
        Updated::Unchanged(manifest) => Appended::AlreadyPresent { manifest },
        Updated::Written(manifest, wanted) => Appended::Written {
            manifest,
            layers: wanted.len(),
        },
    })
}

fn parse_attachment<R: Repository>(
    repo: &R,
    tag: &str,
    m: &Manifest,
    max_layers: usize,
) -> Result<ImageManifest, AttachError> {
    let manifest: ImageManifest =
        serde_json::from_slice(&m.bytes).map_err(|e| AttachError::Malformed {
            repository: repo.name().to_owned(),
            tag: tag.to_owned(),
            digest: m.digest.clone(),
            message: e.to_string(),
        })?;
    if manifest.layers.len() > max_layers {
        return Err(AttachError::TooManyLayers {
            repository: repo.name().to_owned(),
            tag: tag.to_owned(),
            count: manifest.layers.len(),
            limit: max_layers,
        });
    }
    Ok(manifest)
}

/// What the `build` step of [`update_tag`] decided.
enum Step<W> {
    /// The tag already says what we want.
    Done,
    /// Write this manifest (after uploading `blobs`); `wanted` is what must be in the tag after.
    Write {
        manifest: Vec<u8>,
        media_type: &'static str,
        blobs: Vec<Vec<u8>>,
        wanted: W,
    },
}

/// What [`update_tag`] did.
enum Updated<W> {
    Unchanged(Digest),
    Written(Digest, W),
}

/// Read-modify-write of a mutable tag, guarded against concurrent writers: `build` sees what
/// the tag holds now and says what to write; the tag is re-read just before the PUT (moved:
/// start over) and after it (`done` must hold for what is there, else start over: `build`
/// then merges the other writer's content).
async fn update_tag<R, W, B, D>(
    repo: &R,
    tag: &str,
    mut build: B,
    done: D,
) -> Result<Updated<W>, AttachError>
where
    R: Repository,
    B: FnMut(Option<&Manifest>) -> Result<Step<W>, AttachError>,
    D: Fn(&Manifest, &W) -> bool,
{
    let mut server_errors = 0;
    for attempt in 0..MAX_WRITE_ATTEMPTS {
        match update_once(repo, tag, &mut build, &done).await {
            Ok(Some(updated)) => return Ok(updated),
            Ok(None) => {}
            // A registry under concurrent tag writes may answer 5xx: try again (the blobs are
            // put again on the next round), a few times.
            // A manifest refused for a blob another writer was uploading at the same moment
            // (distribution answers DIGEST_INVALID / MANIFEST_BLOB_UNKNOWN when writers upload
            // one blob concurrently): contention, retried like a moved tag.
            Err(AttachError::Registry(RegistryError::ManifestBlobUnknown { .. }))
                if attempt + 1 < MAX_WRITE_ATTEMPTS => {}
            Err(AttachError::Registry(RegistryError::Server { .. }))
                if server_errors < MAX_SERVER_ERROR_RETRIES && attempt + 1 < MAX_WRITE_ATTEMPTS =>
            {
                server_errors += 1;
            }
            Err(e) => return Err(e),
        }
        backoff(attempt).await;
    }
    Err(AttachError::Contended {
        repository: repo.name().to_owned(),
        tag: tag.to_owned(),
        attempts: MAX_WRITE_ATTEMPTS,
    })
}

/// One read-build-guard-write-check round of [`update_tag`]. `Ok(None)`: try again.
async fn update_once<R, W, B, D>(
    repo: &R,
    tag: &str,
    build: &mut B,
    done: &D,
) -> Result<Option<Updated<W>>, AttachError>
where
    R: Repository,
    B: FnMut(Option<&Manifest>) -> Result<Step<W>, AttachError>,
    D: Fn(&Manifest, &W) -> bool,
{
    let current = repo.get_manifest(ManifestRef::Tag(tag)).await?;
    let (manifest, media_type, blobs, wanted) = match build(current.as_ref())? {
        Step::Done => {
            if let Some(c) = current {
                return Ok(Some(Updated::Unchanged(c.digest)));
            }
            return Ok(None);
        }
        Step::Write {
            manifest,
            media_type,
            blobs,
            wanted,
        } => (manifest, media_type, blobs, wanted),
    };
    for b in blobs {
        repo.put_blob(Blob::new(b)).await?;
    }
    let guard_started = Instant::now();
    let before = repo
        .get_manifest(ManifestRef::Tag(tag))
        .await?
        .map(|m| m.digest);
    if before != current.as_ref().map(|m| m.digest.clone()) {
        return Ok(None);
    }
    repo.put_manifest(Some(tag), media_type, &manifest).await?;
    // A writer whose guard read came just before our PUT may still PUT its own (stale)
    // manifest over ours. Such a PUT follows its guard read by about one round trip, so
    // wait a few of ours before the final check; if our content was clobbered, the next
    // attempt merges it back in.
    let round_trip = guard_started.elapsed();
    tokio::time::sleep((round_trip * 3).clamp(SETTLE_MIN, SETTLE_MAX)).await;
    if let Some(after) = repo.get_manifest(ManifestRef::Tag(tag)).await?
        && done(&after, &wanted)
    {
        return Ok(Some(Updated::Written(after.digest, wanted)));
    }
    Ok(None)
}

fn merge_layer(seen: &mut Vec<Descriptor>, l: &Descriptor) {
    if !seen.contains(l) {
        seen.push(l.clone());
    }
}

/// Same digest, same media type, and every non-signature annotation of `new` present with an
/// equal value in `existing` (cosign's dedupe precondition).
fn equivalent_candidate(existing: &Descriptor, new: &Descriptor) -> bool {
    if existing.digest != new.digest || existing.media_type != new.media_type {
        return false;
    }
    let empty = BTreeMap::new();
    let have = existing.annotations.as_ref().unwrap_or(&empty);
    new.annotations
        .as_ref()
        .unwrap_or(&empty)
        .iter()
        .filter(|(k, _)| k.as_str() != SIGNATURE_ANNOTATION)
        .all(|(k, v)| have.get(k) == Some(v))
}

/// The 2-byte empty config (`{}`) of OCI artifacts.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// Annotations cosign puts on a bundle referrer manifest.
pub mod bundle_annotations {
    /// `dsse-envelope` or `message-signature`.
    pub const CONTENT: &str = "dev.sigstore.bundle.content";
    /// The statement's predicate type.
    pub const PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
    /// RFC 3339 creation time (seconds).
    pub const CREATED: &str = "org.opencontainers.image.created";
}

/// The subject of a referrer: the image manifest being signed.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// Its digest.
    pub digest: Digest,
}

/// Push a Sigstore bundle as an OCI 1.1 referrer of `subject`, as cosign v3 does
/// (cosign-formats §3.2), and, when the store has no referrers API, add it to the
/// `sha256-<hex>` tag-schema index. Returns the referrer manifest's digest.
pub async fn push_bundle_referrer<R: Repository>(
    repo: &R,
    subject: &Subject,
    bundle: Blob,
    predicate_type: &str,
    created_rfc3339: &str,
) -> Result<Digest, AttachError> {
    let mut config = Descriptor::for_bytes(media_types::OCI_EMPTY, EMPTY_CONFIG);
    // cosign quirk: artifactType also inside the config descriptor (`cosign clean` uses it).
    config.artifact_type = Some(media_types::SIGSTORE_BUNDLE_V03.to_owned());
    let mut annotations = BTreeMap::new();
    annotations.insert(
        bundle_annotations::CONTENT.to_owned(),
        "dsse-envelope".to_owned(),
    );
    annotations.insert(
        bundle_annotations::PREDICATE_TYPE.to_owned(),
        predicate_type.to_owned(),
    );
    annotations.insert(
        bundle_annotations::CREATED.to_owned(),
        created_rfc3339.to_owned(),
    );
    let subject_desc = Descriptor {
        media_type: subject.media_type.clone(),
        size: subject.size,
        digest: subject.digest.clone(),
        data: None,
        urls: None,
        annotations: None,
        platform: None,
        artifact_type: None,
    };
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.to_owned()),
        config,
        layers: vec![blob_descriptor(media_types::SIGSTORE_BUNDLE_V03, &bundle)],
        annotations: Some(annotations),
        subject: Some(subject_desc),
        artifact_type: Some(media_types::SIGSTORE_BUNDLE_V03.to_owned()),
    };
    let bytes = oci::to_go_json(&manifest);
    // Every bundle referrer shares the empty config blob: writers uploading it at the same
    // moment make distribution refuse a manifest (DIGEST_INVALID / MANIFEST_BLOB_UNKNOWN).
    // Upload again and retry, as for a moved tag.
    let mut attempt = 0;
    let digest = loop {
        repo.put_blob(Blob::new(EMPTY_CONFIG)).await?;
        repo.put_blob(bundle.clone()).await?;
        match repo
            .put_manifest(None, media_types::OCI_MANIFEST, &bytes)
            .await
        {
            Ok(d) => break d,
            Err(RegistryError::ManifestBlobUnknown { .. }) if attempt + 1 < MAX_WRITE_ATTEMPTS => {
                backoff(attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    };
    if repo.referrers_api(&subject.digest).await?.is_none() {
        let mut entry = Descriptor::for_bytes(media_types::OCI_MANIFEST, &bytes);
        entry.artifact_type = Some(media_types::SIGSTORE_BUNDLE_V03.to_owned());
        add_to_tag_schema_index(repo, &subject.digest, entry).await?;
    }
    Ok(digest)
}

/// Add `entry` to the referrers tag-schema index `sha256-<subject hex>` (ggcr's fallback):
/// read-modify-write, never dropping entries another writer added, sorted by digest.
pub async fn add_to_tag_schema_index<R: Repository>(
    repo: &R,
    subject: &Digest,
    entry: Descriptor,
) -> Result<(), AttachError> {
    let tag = subject.tag_base();
    let mut seen: Vec<Descriptor> = Vec::new();
    update_tag(
        repo,
        &tag,
        |current| {
            if let Some(m) = current {
                let index: ImageIndex =
                    serde_json::from_slice(&m.bytes).map_err(|e| AttachError::Malformed {
                        repository: repo.name().to_owned(),
                        tag: tag.clone(),
                        digest: m.digest.clone(),
                        message: format!("referrers index: {e}"),
                    })?;
                let present: Vec<Digest> =
                    index.manifests.iter().map(|d| d.digest.clone()).collect();
                for d in index.manifests {
                    if !seen.iter().any(|s| s.digest == d.digest) {
                        seen.push(d);
                    }
                }
                if present.contains(&entry.digest)
                    && seen.iter().all(|s| present.contains(&s.digest))
                {
                    return Ok(Step::Done);
                }
            }
            if !seen.iter().any(|s| s.digest == entry.digest) {
                seen.push(entry.clone());
            }
            seen.sort_by_key(|d| d.digest.to_string());
            let index = ImageIndex {
                schema_version: 2,
                media_type: Some(media_types::OCI_INDEX.to_owned()),
                manifests: seen.clone(),
                annotations: None,
                subject: None,
            };
            Ok(Step::Write {
                manifest: oci::to_go_json(&index),
                media_type: media_types::OCI_INDEX,
                blobs: Vec::new(),
                wanted: seen.iter().map(|s| s.digest.clone()).collect::<Vec<_>>(),
            })
        },
        |after, wanted| wanted.iter().all(|d| index_has(&after.bytes, d)),
    )
    .await?;
    Ok(())
}

fn index_has(index_bytes: &[u8], digest: &Digest) -> bool {
    serde_json::from_slice::<ImageIndex>(index_bytes)
        .is_ok_and(|i| i.manifests.iter().any(|d| &d.digest == digest))
}

/// The config blob and manifest bytes cosign would write for these layers.
pub fn build_manifest(layers: &[Descriptor]) -> (Vec<u8>, Vec<u8>) {
    let config = oci::cosign_config_blob(layers);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.to_owned()),
        config: Descriptor::for_bytes(media_types::OCI_CONFIG, &config),
        layers: layers.to_vec(),
        annotations: None,
        subject: None,
        artifact_type: None,
    };
    (config, oci::to_go_json(&manifest))
}
