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

use std::sync::{Arc, Mutex, PoisonError};

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
    /// Sources that could not be read (or were cut short by a limit or the deadline). What
    /// the other sources held is still here: junk in one place does not hide valid evidence
    /// in another. Non-empty means the evidence may be incomplete.
    pub unreadable: Vec<Unreadable>,
}

impl Discovered {
    /// `self` when every source was read in full, else the first that was not: for callers
    /// that would rather fail than decide on incomplete evidence.
    pub fn complete(self) -> Result<Self, Unreadable> {
        match self.unreadable.first() {
            Some(u) => Err(u.clone()),
            None => Ok(self),
        }
    }
}

/// Where attachments are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SourceKind {
    /// The legacy `sha256-<hex>.sig` tag.
    LegacySignatures,
    /// The legacy `sha256-<hex>.att` tag.
    LegacyAttestations,
    /// Referrers (the referrers API or the `sha256-<hex>` tag-schema index).
    Referrers,
    /// The legacy `sha256-<hex>.sbom` tag (`cosign attach sbom`; listed by `imprint tree`).
    LegacySboms,
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LegacySignatures => "legacy signatures (.sig)",
            Self::LegacyAttestations => "legacy attestations (.att)",
            Self::Referrers => "referrers",
            Self::LegacySboms => "legacy SBOMs (.sbom)",
        })
    }
}

/// A source of attachments that could not be read in full, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{source_kind}: {}", crate::format::error_chain(.error.as_ref()))]
pub struct Unreadable {
    /// Which source.
    pub source_kind: SourceKind,
    /// Why (shared: [`Discovered`] is cheap to clone).
    pub error: Arc<DiscoverError>,
}

impl Unreadable {
    fn new(source_kind: SourceKind, error: impl Into<DiscoverError>) -> Self {
        Self {
            source_kind,
            error: Arc::new(error.into()),
        }
    }

    /// Did a deadline ([`Limits::request_timeout`], [`Limits::image_timeout`]) cut it short?
    pub fn timed_out(&self) -> bool {
        matches!(
            self.error.as_ref(),
            DiscoverError::Registry(RegistryError::Timeout { .. })
                | DiscoverError::Attach(attach::AttachError::Registry(
                    RegistryError::Timeout { .. }
                ))
        )
    }
}

/// Errors that make one source unreadable (as opposed to one candidate failing).
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
    /// More referrers, or more candidates in all, than a limit allows: candidates up to the
    /// limit were checked, the rest were not.
    #[error(
        "{limit}: {count} {what} for this image, over the limit of {max}; those past it were not checked"
    )]
    TooMany {
        /// The limit's name (`max_referrers`, `max_attachments`).
        limit: &'static str,
        /// What was counted.
        what: &'static str,
        /// How many there were.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Fetch every signature, attestation and bundle attached to `subject`, within
/// [`Limits::image_timeout`] from now.
pub async fn discover<R: Repository>(
    repo: &R,
    subject: &Digest,
    format: SignatureFormat,
    want_signatures: bool,
    want_attestations: bool,
    limits: &Limits,
) -> Discovered {
    let deadline = tokio::time::Instant::now() + limits.image_timeout;
    discover_until(
        repo,
        subject,
        format,
        want_signatures,
        want_attestations,
        limits,
        deadline,
    )
    .await
}

/// [`discover`], with the image's deadline given (the gate starts it before resolving the
/// tag). Each source (the `.sig` tag, the `.att` tag, the referrers) is listed and fetched on
/// its own, concurrently, so a slow or broken source does not hold up the others; all of them
/// share one fetch budget, [`Limits::max_attachments`] candidates (reserved in the order the
/// sources are listed) and [`Limits::max_referrers`]. A source that fails, runs into a limit
/// or past the deadline is reported in [`Discovered::unreadable`]; what the others held is
/// still used.
pub async fn discover_until<R: Repository>(
    repo: &R,
    subject: &Digest,
    format: SignatureFormat,
    want_signatures: bool,
    want_attestations: bool,
    limits: &Limits,
    deadline: tokio::time::Instant,
) -> Discovered {
    let fetches = ImageFetches::new(repo, limits);
    let room = Mutex::new(limits.max_attachments);
    let source = Discovery {
        fetches: &fetches,
        subject,
        limits,
        room: &room,
    };
    let none = || (Vec::new(), Vec::new());
    let (sig, att, refs) = tokio::join!(
        async {
            if want_signatures && format.legacy() {
                source.within(deadline, SourceKind::LegacySignatures).await
            } else {
                none()
            }
        },
        async {
            if want_attestations && format.legacy() {
                source
                    .within(deadline, SourceKind::LegacyAttestations)
                    .await
            } else {
                none()
            }
        },
        async {
            if format.bundle() {
                source.within(deadline, SourceKind::Referrers).await
            } else {
                none()
            }
        }
    );
    let mut out = Discovered {
        signatures: sig.0,
        attestations: att.0,
        bundles: refs.0,
        unreadable: Vec::new(),
    };
    out.unreadable.extend(sig.1);
    out.unreadable.extend(att.1);
    out.unreadable.extend(refs.1);
    out
}

/// One image's discovery state shared by its sources.
struct Discovery<'a, 'r, R> {
    fetches: &'a ImageFetches<'r, R>,
    subject: &'a Digest,
    limits: &'a Limits,
    /// Candidates still allowed under `max_attachments`.
    room: &'a Mutex<usize>,
}

impl<R: Repository> Discovery<'_, '_, R> {
    /// Read one source before `deadline`: its candidates, and why it is incomplete (if it is).
    async fn within(
        &self,
        deadline: tokio::time::Instant,
        kind: SourceKind,
    ) -> (Vec<Candidate>, Vec<Unreadable>) {
        let mut problems = Vec::new();
        let listed = match tokio::time::timeout_at(deadline, self.list(kind)).await {
            Ok(Ok(listed)) => listed,
            Ok(Err(e)) => return (Vec::new(), vec![Unreadable::new(kind, e)]),
            Err(_) => return (Vec::new(), vec![Unreadable::new(kind, self.late())]),
        };
        let mut listed = listed;
        if kind == SourceKind::Referrers && listed.len() > self.limits.max_referrers {
            problems.push(Unreadable::new(
                kind,
                DiscoverError::TooMany {
                    limit: "max_referrers",
                    what: "bundle referrers",
                    count: listed.len(),
                    max: self.limits.max_referrers,
                },
            ));
            listed.truncate(self.limits.max_referrers);
        }
        let (granted, seen) = {
            // A plain counter: a panic elsewhere cannot leave it inconsistent.
            let mut room = self.room.lock().unwrap_or_else(PoisonError::into_inner);
            let granted = listed.len().min(*room);
            let seen = self.limits.max_attachments - *room + listed.len();
            *room -= granted;
            (granted, seen)
        };
        if granted < listed.len() {
            problems.push(Unreadable::new(
                kind,
                DiscoverError::TooMany {
                    limit: "max_attachments",
                    what: "signature and attestation candidates",
                    count: seen,
                    max: self.limits.max_attachments,
                },
            ));
            listed.truncate(granted);
        }
        let fetched = listed.into_iter().map(|item| async move {
            let late = item.unfetched("not fetched before the image's deadline (image_timeout)");
            match tokio::time::timeout_at(deadline, self.fetch(item)).await {
                Ok(c) => (c, false),
                Err(_) => (late, true),
            }
        });
        let fetched = futures_util::future::join_all(fetched).await;
        if fetched.iter().any(|(_, late)| *late) {
            problems.push(Unreadable::new(kind, self.late()));
        }
        (fetched.into_iter().map(|(c, _)| c).collect(), problems)
    }

    fn late(&self) -> DiscoverError {
        RegistryError::Timeout {
            registry: self.fetches.name().to_owned(),
            operation: "verifying the image (image_timeout)".to_owned(),
            after: self.limits.image_timeout,
        }
        .into()
    }

    /// What one source lists, not yet fetched.
    async fn list(&self, kind: SourceKind) -> Result<Vec<Listed>, DiscoverError> {
        let legacy = match kind {
            SourceKind::LegacySignatures => Kind::Signature,
            SourceKind::LegacyAttestations => Kind::Attestation,
            SourceKind::Referrers => {
                let refs = list_referrers(self.fetches, self.subject).await?;
                return Ok(refs.into_iter().map(Listed::Referrer).collect());
            }
            SourceKind::LegacySboms => return Ok(Vec::new()),
        };
        let Some(att) =
            attach::read(self.fetches, self.subject, legacy, self.limits.max_layers).await?
        else {
            return Ok(Vec::new());
        };
        // A simple-signing payload is a few hundred bytes of JSON: `.sig` layers get the
        // small payload limit, `.att` envelopes (which carry whole statements) the blob limit.
        let signature = legacy == Kind::Signature;
        Ok(att
            .manifest
            .layers
            .into_iter()
            .enumerate()
            .map(|(index, layer)| Listed::Layer {
                manifest: att.digest.clone(),
                index,
                layer,
                signature,
            })
            .collect())
    }

    async fn fetch(&self, item: Listed) -> Candidate {
        match item {
            Listed::Layer {
                manifest,
                index,
                layer,
                signature,
            } => {
                let (max, limit) = if signature {
                    (self.limits.max_payload_bytes, "max_payload_bytes")
                } else {
                    (self.limits.max_blob_bytes, "max_blob_bytes")
                };
                let source = Source::LegacyLayer {
                    manifest,
                    layer: layer.digest.clone(),
                    index,
                };
                fetch_candidate(self.fetches, source, layer, max, limit).await
            }
            Listed::Referrer(d) => {
                bundle_candidate(self.fetches, self.subject, &d, self.limits).await
            }
        }
    }
}

/// One candidate as a source lists it.
enum Listed {
    /// A layer of the `.sig` (`signature`) or `.att` manifest.
    Layer {
        manifest: Digest,
        index: usize,
        layer: Descriptor,
        signature: bool,
    },
    /// A bundle referrer's descriptor in the referrers index.
    Referrer(Descriptor),
}

impl Listed {
    /// The failed candidate for this item when it could not be fetched.
    fn unfetched(&self, why: &str) -> Candidate {
        let (source, descriptor) = match self {
            Self::Layer {
                manifest,
                index,
                layer,
                ..
            } => (
                Source::LegacyLayer {
                    manifest: manifest.clone(),
                    layer: layer.digest.clone(),
                    index: *index,
                },
                layer.clone(),
            ),
            Self::Referrer(d) => (
                Source::Bundle {
                    referrer: d.digest.clone(),
                    layer: d.digest.clone(),
                },
                d.clone(),
            ),
        };
        Candidate {
            source,
            descriptor,
            content: Err(why.to_owned()),
        }
    }
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

/// List bundle referrers: the referrers API when the store has it, else the `sha256-<hex>`
/// tag-schema index (cosign-formats §3.4). Only descriptors with the bundle artifact type.
async fn list_referrers<R: Repository>(
    repo: &ImageFetches<'_, R>,
    subject: &Digest,
) -> Result<Vec<Descriptor>, DiscoverError> {
    let entries = referrers_index(repo, subject)
        .await?
        .map(|(_, entries)| entries)
        .unwrap_or_default();
    Ok(entries
        .into_iter()
        .filter(|d| d.artifact_type.as_deref() == Some(media_types::SIGSTORE_BUNDLE_V03))
        .collect())
}

/// Fetch one bundle referrer: its manifest, then its one bundle layer.
async fn bundle_candidate<R: Repository>(
    repo: &ImageFetches<'_, R>,
    subject: &Digest,
    d: &Descriptor,
    limits: &Limits,
) -> Candidate {
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
}

/// How the referrers of an image were listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReferrersVia {
    /// The OCI 1.1 referrers API.
    Api,
    /// The `sha256-<hex>` tag-schema index (no referrers API).
    TagSchema,
    /// Neither: the store has no referrers API and no tag-schema index exists.
    None,
}

/// Which kind of attachment a [`ListedAttachment`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AttachmentKind {
    /// The legacy `sha256-<hex>.sig` tag.
    Signatures,
    /// The legacy `sha256-<hex>.att` tag.
    Attestations,
    /// The legacy `sha256-<hex>.sbom` tag (`cosign attach sbom`).
    Sboms,
    /// An OCI 1.1 referrer (any artifact type).
    Referrer,
}

/// One blob of an attachment manifest, as listed (not fetched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedLayer {
    /// The layer's media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its declared size in bytes.
    pub size: u64,
}

/// One attachment of an image: a legacy tag or a referrer, with its manifest's layers.
/// Nothing here is verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedAttachment {
    /// What it is.
    pub kind: AttachmentKind,
    /// The tag it was read from (legacy attachments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The attachment manifest's digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// The manifest's size in bytes.
    pub size: u64,
    /// The artifact type (referrers: the index entry's, else the manifest's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The predicate type a bundle referrer declares in its `dev.sigstore.bundle.predicateType`
    /// annotation (unverified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Its layers, in manifest order (empty when the manifest could not be read).
    pub layers: Vec<ListedLayer>,
    /// Why the manifest could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything attached to one image digest, listed without fetching any layer and without
/// verifying anything (`imprint tree`).
#[derive(Debug, Clone, Serialize)]
pub struct Attachments {
    /// The image digest.
    pub subject: Digest,
    /// Legacy `.sig`, `.att` and `.sbom` attachments that exist, in that order.
    pub legacy: Vec<ListedAttachment>,
    /// How referrers were listed.
    pub referrers_via: ReferrersVia,
    /// Referrers (every artifact type), in index order, at most [`Limits::max_referrers`].
    pub referrers: Vec<ListedAttachment>,
    /// Sources that could not be read; what the others held is still listed.
    #[serde(serialize_with = "unreadable_texts")]
    pub unreadable: Vec<Unreadable>,
}

fn unreadable_texts<S: serde::Serializer>(u: &[Unreadable], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(u.iter().map(ToString::to_string))
}

/// The legacy `.sbom` tag of `subject` (`cosign attach sbom`).
pub fn sbom_tag(subject: &Digest) -> String {
    format!("{}.sbom", subject.tag_base())
}

/// List what is attached to `subject`: the legacy `.sig`, `.att` and `.sbom` tags and every
/// referrer (the referrers API, else the tag-schema index), each with its manifest's layers.
/// No layer is fetched and nothing is verified.
pub async fn list_attachments<R: Repository>(
    repo: &R,
    subject: &Digest,
    limits: &Limits,
) -> Attachments {
    let mut out = Attachments {
        subject: subject.clone(),
        legacy: Vec::new(),
        referrers_via: ReferrersVia::None,
        referrers: Vec::new(),
        unreadable: Vec::new(),
    };
    let legacy = [
        (
            AttachmentKind::Signatures,
            Kind::Signature.tag(subject),
            SourceKind::LegacySignatures,
        ),
        (
            AttachmentKind::Attestations,
            Kind::Attestation.tag(subject),
            SourceKind::LegacyAttestations,
        ),
        (
            AttachmentKind::Sboms,
            sbom_tag(subject),
            SourceKind::LegacySboms,
        ),
    ];
    for (kind, tag, source_kind) in legacy {
        match read_listed(repo, ManifestRef::Tag(&tag), limits).await {
            Ok(None) => {}
            Ok(Some((m, manifest))) => out.legacy.push(ListedAttachment {
                kind,
                tag: Some(tag),
                digest: m.digest,
                media_type: m.media_type,
                size: m.bytes.len() as u64,
                artifact_type: manifest.artifact_type.clone(),
                predicate_type: None,
                layers: listed_layers(&manifest),
                error: None,
            }),
            Err(e) => out.unreadable.push(Unreadable::new(source_kind, e)),
        }
    }
    let index = match referrers_index(repo, subject).await {
        Ok(x) => x,
        Err(e) => {
            out.unreadable
                .push(Unreadable::new(SourceKind::Referrers, e));
            return out;
        }
    };
    let Some((via, mut entries)) = index else {
        return out;
    };
    out.referrers_via = via;
    if entries.len() > limits.max_referrers {
        out.unreadable.push(Unreadable::new(
            SourceKind::Referrers,
            DiscoverError::TooMany {
                limit: "max_referrers",
                what: "referrers",
                count: entries.len(),
                max: limits.max_referrers,
            },
        ));
        entries.truncate(limits.max_referrers);
    }
    for d in entries {
        let mut listed = ListedAttachment {
            kind: AttachmentKind::Referrer,
            tag: None,
            digest: d.digest.clone(),
            media_type: d.media_type.clone(),
            size: d.size,
            artifact_type: d.artifact_type.clone(),
            predicate_type: None,
            layers: Vec::new(),
            error: None,
        };
        match read_listed(repo, ManifestRef::Digest(&d.digest), limits).await {
            Ok(Some((_, manifest))) => {
                if listed.artifact_type.is_none() {
                    listed.artifact_type = manifest.artifact_type.clone();
                }
                listed.predicate_type = manifest
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(attach::bundle_annotations::PREDICATE_TYPE))
                    .cloned();
                listed.layers = listed_layers(&manifest);
            }
            Ok(None) => {
                listed.error = Some("referrer manifest listed in the index is missing".into());
            }
            Err(e) => listed.error = Some(crate::format::error_chain(&e)),
        }
        out.referrers.push(listed);
    }
    out
}

fn listed_layers(manifest: &ImageManifest) -> Vec<ListedLayer> {
    manifest
        .layers
        .iter()
        .map(|l| ListedLayer {
            media_type: l.media_type.clone(),
            digest: l.digest.clone(),
            size: l.size,
        })
        .collect()
}

/// A manifest and its parse as an image manifest, refused over [`Limits::max_layers`].
async fn read_listed<R: Repository>(
    repo: &R,
    reference: ManifestRef<'_>,
    limits: &Limits,
) -> Result<Option<(crate::store::Manifest, ImageManifest)>, DiscoverError> {
    let Some(m) = repo.get_manifest(reference).await? else {
        return Ok(None);
    };
    let what = match reference {
        ManifestRef::Tag(t) => t.to_owned(),
        ManifestRef::Digest(d) => d.to_string(),
    };
    let manifest: ImageManifest = serde_json::from_slice(&m.bytes).map_err(|e| {
        DiscoverError::Attach(attach::AttachError::Malformed {
            repository: repo.name().to_owned(),
            tag: what.clone(),
            digest: m.digest.clone(),
            message: e.to_string(),
        })
    })?;
    if manifest.layers.len() > limits.max_layers {
        return Err(DiscoverError::Attach(attach::AttachError::TooManyLayers {
            repository: repo.name().to_owned(),
            tag: what,
            count: manifest.layers.len(),
            limit: limits.max_layers,
        }));
    }
    Ok(Some((m, manifest)))
}

/// The referrers index of `subject` (every entry, any artifact type): from the referrers API
/// when the store has it, else the `sha256-<hex>` tag-schema index; `None` when neither exists.
/// While it is not known whether the store has the API, both are asked at once (one round
/// trip, not two, for a registry without it), and the tag-schema answer is used only when the
/// API is absent. The registry session remembers what it learned: a router that has no API
/// at all is not asked again, and once the API answered, the fallback is not read beside it.
async fn referrers_index<R: Repository>(
    repo: &R,
    subject: &Digest,
) -> Result<Option<(ReferrersVia, Vec<Descriptor>)>, DiscoverError> {
    let tag = subject.tag_base();
    let fallback = || repo.get_manifest(ManifestRef::Tag(&tag));
    let (api, early) = if repo.has_referrers_api() {
        (repo.referrers_api(subject).await, None)
    } else {
        let (api, fallback) = tokio::join!(repo.referrers_api(subject), fallback());
        (api, Some(fallback))
    };
    let (via, bytes) = match api? {
        Some(b) => (ReferrersVia::Api, b),
        None => {
            let fallback = match early {
                Some(f) => f,
                None => fallback().await,
            };
            match fallback? {
                Some(m) => (ReferrersVia::TagSchema, m.bytes),
                None => return Ok(None),
            }
        }
    };
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(|e| DiscoverError::Referrers {
            repository: repo.name().to_owned(),
            subject: subject.clone(),
            message: e.to_string(),
        })?;
    Ok(Some((via, index.manifests)))
}

/// The layers of the legacy `.sbom` attachment of `subject` (`cosign attach sbom`), each
/// with its content (digest-checked, at most [`Limits::max_blob_bytes`]). Empty when there
/// is no `.sbom` tag. Nothing is verified: these are not signed.
pub async fn legacy_sboms<R: Repository>(
    repo: &R,
    subject: &Digest,
    limits: &Limits,
) -> Result<Vec<(Descriptor, Vec<u8>)>, DiscoverError> {
    let tag = sbom_tag(subject);
    let Some((_, manifest)) = read_listed(repo, ManifestRef::Tag(&tag), limits).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(manifest.layers.len());
    for layer in manifest.layers {
        let bytes = repo.get_blob(&layer.digest, limits.max_blob_bytes).await?;
        out.push((layer, Arc::unwrap_or_clone(bytes)));
    }
    Ok(out)
}
