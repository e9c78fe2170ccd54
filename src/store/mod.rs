//! Where images and their signatures live: an OCI registry (the distribution API over
//! reqwest, see [`remote`]) or an OCI image
//! layout directory on disk. Signing and verification are written once against
//! [`Repository`]; both backends implement it, so the offline demo runs the real code.
//!
//! Every manifest and blob handed out has been checked against its digest: callers never see
//! bytes that do not hash to the digest they asked for.

use std::future::Future;

use crate::format::digest::Digest;

pub mod attach;
pub(crate) mod auth;
mod budget;
pub mod client;
pub mod discover;
pub mod layout;
pub mod remote;

pub use client::{
    AnyRepository, AuthSource, Client, DEFAULT_MAX_REQUESTS_PER_REGISTRY, ProgressEvent,
    ProgressHook, RegistryConfig, ResolvedImage,
};
pub use layout::LayoutRepository;
pub use remote::{RemoteRepository, TagList};

pub use crate::format::media_types;
pub use crate::limits::Limits;

/// How a manifest is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestRef<'a> {
    /// By tag (mutable).
    Tag(&'a str),
    /// By digest (immutable).
    Digest(&'a Digest),
}

/// Blob content with its sha256 digest, computed once when the `Blob` is made (no constructor
/// takes a digest, so `digest` always describes `bytes`). The descriptor that names a blob and
/// the store that uploads it share the one computation: an SBOM envelope of 200 MB is hashed
/// once, not once per step. The bytes are shared, reference-counted: cloning a `Blob` (for a
/// retried upload) copies no content.
#[derive(Debug, Clone)]
pub struct Blob {
    bytes: bytes::Bytes,
    digest: Digest,
}

impl Blob {
    /// The blob of `bytes` (hashed here).
    pub fn new(bytes: impl Into<bytes::Bytes>) -> Self {
        let bytes = bytes.into();
        let digest = Digest::of(&bytes);
        Self { bytes, digest }
    }
    /// The blob of a copy of `bytes`.
    pub fn copy_from_slice(bytes: &[u8]) -> Self {
        Self::new(bytes::Bytes::copy_from_slice(bytes))
    }
    /// The content.
    pub fn bytes(&self) -> &bytes::Bytes {
        &self.bytes
    }
    /// sha256 of the content.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Whether the blob is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A [`Blob`] written in pieces, each hashed as it is appended (while it is in cache), so that
/// the blob's digest is ready when its last piece is: [`finish`](Self::finish). Every byte of
/// the blob passes through [`push`](Self::push), so the digest describes exactly the bytes.
pub struct BlobWriter {
    bytes: Vec<u8>,
    sha256: aws_lc_rs::digest::Context,
}

impl BlobWriter {
    /// An empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
            sha256: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
        }
    }
    /// Append `piece`.
    pub fn push(&mut self, piece: &[u8]) {
        self.bytes.extend_from_slice(piece);
        self.sha256.update(piece);
    }
    /// The blob of everything pushed.
    pub fn finish(self) -> Blob {
        Blob {
            digest: Digest::from_sha256_context(self.sha256),
            bytes: self.bytes.into(),
        }
    }
}

/// A manifest as fetched: the exact bytes, their (checked) digest and the media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// sha256 of `bytes` (computed locally, never trusted from a header).
    pub digest: Digest,
    /// Media type: the manifest's own `mediaType` field, else the Content-Type the store gave.
    pub media_type: String,
    /// The exact bytes.
    pub bytes: Vec<u8>,
}

/// `bytes` if they hash to `digest`, else [`RegistryError::DigestMismatch`] naming the blob: the
/// check every backend makes before it hands a blob out.
pub(crate) fn checked_blob(
    repository: &str,
    digest: &Digest,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, RegistryError> {
    let actual = Digest::of(&bytes);
    if actual != *digest {
        return Err(RegistryError::DigestMismatch {
            repository: repository.to_owned(),
            what: "blob".to_owned(),
            expected: digest.clone(),
            actual,
        });
    }
    Ok(bytes)
}

impl Manifest {
    /// A manifest whose `bytes` hash to `digest` (the caller checked): its media type is the
    /// document's own `mediaType`, else `declared` (the registry's Content-Type, the layout
    /// index entry's), else the OCI manifest type. Fails when the bytes are not a JSON object.
    pub(crate) fn checked(
        digest: Digest,
        bytes: Vec<u8>,
        declared: Option<String>,
    ) -> Result<Self, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct MediaTypeField {
            #[serde(rename = "mediaType")]
            media_type: Option<String>,
        }
        let field: MediaTypeField = serde_json::from_slice(&bytes)?;
        let media_type = field
            .media_type
            .or(declared)
            .unwrap_or_else(|| media_types::OCI_MANIFEST.to_owned());
        Ok(Self {
            digest,
            media_type,
            bytes,
        })
    }
}

/// Errors from a repository backend. Each names the repository and the object involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry could not be reached or answered with a transport error.
    #[error("registry `{registry}` unreachable: {message}")]
    Unreachable {
        /// Registry host.
        registry: String,
        /// What went wrong.
        message: String,
    },
    /// The registry refused our credentials or asked for ones we do not have.
    #[error("authentication to `{registry}` failed: {message}")]
    Auth {
        /// Registry host.
        registry: String,
        /// What went wrong.
        message: String,
    },
    /// The content did not hash to the digest it was fetched by.
    #[error(
        "{what} in `{repository}` does not match its digest: expected {expected}, got {actual}"
    )]
    DigestMismatch {
        /// Repository name.
        repository: String,
        /// What was fetched (e.g. `manifest`, `blob`).
        what: String,
        /// Digest asked for.
        expected: Digest,
        /// Digest of the bytes received.
        actual: Digest,
    },
    /// The object is larger than [`Limits`] allows.
    #[error("{what} `{object}` in `{repository}` is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Repository name.
        repository: String,
        /// What was fetched.
        what: String,
        /// Digest or tag.
        object: String,
        /// Its size (declared or actual).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A blob that must exist is missing.
    #[error("blob {digest} not found in `{repository}`")]
    BlobNotFound {
        /// Repository name.
        repository: String,
        /// The blob.
        digest: Digest,
    },
    /// The registry answered something we cannot use.
    #[error("registry protocol error on `{repository}` ({operation}): {message}")]
    Protocol {
        /// Repository name.
        repository: String,
        /// What we were doing.
        operation: String,
        /// What went wrong.
        message: String,
    },
    /// The registry failed with a 5xx status (possibly transient: writers retry these).
    #[error("registry server error on `{repository}` ({operation}): {message}")]
    Server {
        /// Repository name.
        repository: String,
        /// What we were doing.
        operation: String,
        /// HTTP status.
        status: u16,
        /// Status line and body excerpt.
        message: String,
    },
    /// A manifest PUT was refused because a blob it references is not (yet) known to the
    /// registry (`MANIFEST_BLOB_UNKNOWN`). Seen transiently when another writer uploads the
    /// same blob at the same moment: writers retry these.
    #[error(
        "registry refused the manifest on `{repository}` ({operation}): a blob it references is unknown: {message}"
    )]
    ManifestBlobUnknown {
        /// Repository name.
        repository: String,
        /// What we were doing.
        operation: String,
        /// Status line and body excerpt.
        message: String,
    },
    /// The image (tag or digest) does not exist.
    #[error("manifest `{reference}` not found in `{repository}`")]
    ManifestNotFound {
        /// Repository name.
        repository: String,
        /// The tag or digest asked for.
        reference: String,
    },
    /// A request, or the whole image's verification, ran past its deadline
    /// ([`Limits::request_timeout`](crate::Limits::request_timeout),
    /// [`Limits::image_timeout`](crate::Limits::image_timeout)).
    #[error("registry `{registry}` timed out ({operation}) after {after:?}")]
    Timeout {
        /// Registry host (or layout path).
        registry: String,
        /// What we were doing.
        operation: String,
        /// The deadline that ran out.
        after: std::time::Duration,
    },
    /// The client could not be set up (e.g. the TLS stack failed to initialise).
    #[error("registry client configuration: {message}")]
    Config {
        /// What went wrong.
        message: String,
    },
    /// Local I/O on an OCI layout failed.
    #[error("OCI layout `{path}`: {message}")]
    Layout {
        /// Layout directory.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// One repository (a registry repository, or an OCI layout directory). All methods are
/// async because the registry backend is; the layout backend just does file I/O.
pub trait Repository: Send + Sync {
    /// The repository name as cosign writes it into signatures (`critical.identity.docker-reference`)
    /// and attestation subjects: e.g. `127.0.0.1:5000/app`, `index.docker.io/library/busybox`.
    /// For an OCI layout, the layout path as given.
    fn name(&self) -> &str;

    /// Fetch a manifest or index. `Ok(None)` when it does not exist (404 / no such tag).
    /// The returned digest is computed from the bytes; when fetched by digest, a mismatch is
    /// [`RegistryError::DigestMismatch`].
    fn get_manifest(
        &self,
        reference: ManifestRef<'_>,
    ) -> impl Future<Output = Result<Option<Manifest>, RegistryError>> + Send;

    /// Store a manifest with the given media type. `tag = Some(t)` puts it under tag `t`;
    /// `None` puts it by its digest only (referrers). Returns the digest of `bytes`.
    /// The bytes are stored exactly as given.
    fn put_manifest(
        &self,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Digest, RegistryError>> + Send;

    /// Fetch a blob, refusing anything over `max_bytes`, and check it hashes to `digest`. The
    /// bytes are shared (`Arc`): a cache in front of a store hands out the buffer it holds,
    /// not a copy (a 200 MB SBOM envelope is held once).
    fn get_blob(
        &self,
        digest: &Digest,
        max_bytes: u64,
    ) -> impl Future<Output = Result<std::sync::Arc<Vec<u8>>, RegistryError>> + Send;

    /// Store a blob (skipped when the store already has it). Returns its digest. The upload
    /// sends the blob's own shared buffer ([`Blob`]): a 200 MB SBOM envelope is neither copied
    /// nor hashed again to be uploaded.
    fn put_blob(&self, blob: Blob) -> impl Future<Output = Result<Digest, RegistryError>> + Send;

    /// The OCI 1.1 referrers API for `subject`: `Ok(Some(index bytes))` when the store
    /// supports it, `Ok(None)` when it does not (callers then use the `sha256-<hex>` tag
    /// schema). An OCI layout answers `None`... unless it can scan its blobs cheaply.
    fn referrers_api(
        &self,
        subject: &Digest,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, RegistryError>> + Send;

    /// Whether the store has already shown it has the referrers API (it answered one with an
    /// index): discovery then asks only the API, not the tag-schema fallback beside it.
    /// `false` when unknown (the default).
    fn has_referrers_api(&self) -> bool {
        false
    }
}
