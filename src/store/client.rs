//! The entry point to every image store: a [`Client`] shared by everything one invocation
//! (or one long-running verifier) touches.
//!
//! One [`Client`] holds one HTTP connection pool and one auth session per registry (a
//! challenge learned from its first answer, no `/v2/` ping; credentials read once; tokens
//! cached per repository and scope until they expire), so verifying many images costs only
//! the requests the images themselves need.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::layout::LayoutRepository;
use super::remote::{RegistrySession, RemoteRepository};
use super::{Blob, Limits, Manifest, ManifestRef, RegistryError, Repository};
use crate::format::digest::Digest;
use crate::format::reference::ImageRef;

/// Where registry credentials come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthSource {
    /// The docker config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`
    /// (`auths`, `credsStore`, `credHelpers`, `identitytoken`). Anonymous when absent.
    #[default]
    DockerConfig,
    /// `config.json` in this directory (same format as the docker config).
    DockerConfigDir(PathBuf),
    /// Never send credentials.
    Anonymous,
}

/// In [`RegistryConfig::allow_http_registries`]: plain HTTP for every registry (cosign's
/// boolean `--allow-http-registry`).
pub const ALL_REGISTRIES: &str = "*";

/// The default of [`RegistryConfig::max_requests_per_registry`].
pub const DEFAULT_MAX_REQUESTS_PER_REGISTRY: usize = 32;

/// How to talk to registries.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Registries (`host` or `host:port`) spoken to over plain HTTP; [`ALL_REGISTRIES`]
    /// (`*`) for all. Loopback registries (`127.0.0.0/8`, `localhost`, `[::1]`) always are.
    pub allow_http_registries: Vec<String>,
    /// Skip TLS certificate verification for every registry (a warning is logged).
    pub insecure_skip_tls_verify: bool,
    /// Size limits for everything read.
    pub limits: Limits,
    /// Where credentials come from.
    pub auth: AuthSource,
    /// Told how uploads of blobs of at least [`PROGRESS_MIN_BYTES`] advance (e.g. to draw a
    /// progress bar). `None`: nothing is reported.
    pub progress: Option<ProgressHook>,
    /// Most requests in flight at once to one registry (its token endpoint included), across
    /// every image this client works on: multi-image commands run images concurrently and
    /// each image fetches its attachments concurrently; this keeps one registry from being
    /// sent more than that at a time (the rest wait their turn). Requests to one registry
    /// share one connection pool, so connections are reused across images. Default
    /// [`DEFAULT_MAX_REQUESTS_PER_REGISTRY`] (32); 0 counts as 1.
    pub max_requests_per_registry: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            allow_http_registries: Vec::new(),
            insecure_skip_tls_verify: false,
            limits: Limits::default(),
            auth: AuthSource::default(),
            progress: None,
            max_requests_per_registry: DEFAULT_MAX_REQUESTS_PER_REGISTRY,
        }
    }
}

/// Blobs smaller than this are uploaded without progress reports.
pub const PROGRESS_MIN_BYTES: u64 = 1024 * 1024;

/// One step of a blob upload, reported to a [`ProgressHook`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// An upload of `total` bytes to `repository` begins.
    Started {
        /// `registry/path`.
        repository: String,
        /// The blob's digest.
        digest: Digest,
        /// The blob's size in bytes.
        total: u64,
    },
    /// `sent` of `total` bytes have been handed to the connection. Across one upload, `sent`
    /// strictly increases (a retried request reports only bytes past the earlier high mark).
    Sent {
        /// The blob's digest.
        digest: Digest,
        /// Bytes sent so far.
        sent: u64,
        /// The blob's size in bytes.
        total: u64,
    },
    /// The registry accepted the blob.
    Finished {
        /// The blob's digest.
        digest: Digest,
        /// The blob's size in bytes.
        total: u64,
    },
    /// The upload failed; the error is returned to the caller of `put_blob`.
    Failed {
        /// The blob's digest.
        digest: Digest,
    },
}

/// An observer of blob uploads (see [`RegistryConfig::progress`]). It is called on the
/// task doing the upload, so it must be quick and must not block.
#[derive(Clone)]
pub struct ProgressHook(Arc<dyn Fn(&ProgressEvent) + Send + Sync>);

impl ProgressHook {
    /// Wrap `f`.
    pub fn new(f: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Report `event`.
    pub fn emit(&self, event: &ProgressEvent) {
        (self.0)(event);
    }
}

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook(..)")
    }
}

/// A cheap-to-clone handle on the shared connection pool and per-registry auth sessions.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: RegistryConfig,
    http: reqwest::Client,
    sessions: Mutex<HashMap<String, Arc<RegistrySession>>>,
    layouts: Mutex<HashMap<String, LayoutRepository>>,
    /// HTTP requests sent to registries (and their token endpoints) through this client.
    requests: Arc<std::sync::atomic::AtomicU64>,
}

/// An image resolved to its digest, with the manifest that was fetched to do it.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// Where it lives.
    pub repository: AnyRepository,
    /// The image reference pinned to the digest of `manifest`.
    pub reference: ImageRef,
    /// The manifest (or index), exact bytes, digest computed locally.
    pub manifest: Manifest,
}

/// Either backend, so callers hold one type.
#[derive(Debug, Clone)]
pub enum AnyRepository {
    /// A registry repository.
    Remote(RemoteRepository),
    /// An OCI layout directory.
    Layout(LayoutRepository),
}

impl Client {
    /// A client for `config`. Fails only when the TLS stack cannot be set up.
    pub fn new(config: RegistryConfig) -> Result<Self, RegistryError> {
        if config.insecure_skip_tls_verify {
            tracing::warn!(
                "TLS certificate verification is disabled for all registries \
                 (--allow-insecure-registry): anyone on the network path can impersonate them"
            );
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("imprint/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.limits.connect_timeout)
            // A total deadline per request, body included: per-read timeouts alone let a
            // registry that trickles one byte at a time hold a request forever.
            .timeout(config.limits.request_timeout)
            .read_timeout(config.limits.request_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(redirect_policy(config.limits.max_redirects))
            .tls_danger_accept_invalid_certs(config.insecure_skip_tls_verify)
            .build()
            .map_err(|e| RegistryError::Config {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                sessions: Mutex::new(HashMap::new()),
                layouts: Mutex::new(HashMap::new()),
                requests: Arc::default(),
            }),
        })
    }

    /// HTTP requests sent so far through this client and its clones: every attempt (retries
    /// included) to every registry: manifests, blobs, referrers, tag lists (every page of
    /// [`Client::list_tags`]), token fetches, 401s answered before a token, and uploads
    /// redirected to other hosts. OCI layouts cost none.
    pub fn requests(&self) -> u64 {
        self.inner
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    /// The repository `image` lives in. Registry repositories share this client's session
    /// for their registry; layout directories are opened (not read) here.
    pub fn repository(&self, image: &ImageRef) -> Result<AnyRepository, RegistryError> {
        match image {
            ImageRef::Remote(r) => {
                let session = self.session(r.registry());
                Ok(AnyRepository::Remote(RemoteRepository::new(
                    session,
                    r.repository(),
                    self.inner.config.limits,
                    self.inner.config.progress.clone(),
                )))
            }
            ImageRef::Layout(l) => {
                let mut layouts = lock(&self.inner.layouts);
                let repo = layouts
                    .entry(l.path().to_owned())
                    .or_insert_with(|| LayoutRepository::new(l.path(), self.inner.config.limits))
                    .clone();
                Ok(AnyRepository::Layout(repo))
            }
        }
    }

    fn session(&self, registry: &str) -> Arc<RegistrySession> {
        let mut sessions = lock(&self.inner.sessions);
        sessions
            .entry(registry.to_owned())
            .or_insert_with(|| {
                let scheme = if use_plain_http(registry, &self.inner.config.allow_http_registries) {
                    "http"
                } else {
                    "https"
                };
                Arc::new(RegistrySession::new(
                    registry,
                    scheme,
                    self.inner.http.clone(),
                    self.inner.config.auth.clone(),
                    self.inner.config.limits,
                    self.inner.config.max_requests_per_registry,
                    self.inner.requests.clone(),
                ))
            })
            .clone()
    }

    /// Tags of `image`'s registry repository (its tag or digest is ignored), from the tag
    /// list API with pagination, at most `max` ([`RemoteRepository::list_tags`], pages of
    /// `page`). OCI layouts are refused ([`RegistryError::Config`]).
    pub async fn list_tags(
        &self,
        image: &ImageRef,
        max: usize,
        page: usize,
    ) -> Result<super::TagList, RegistryError> {
        match self.repository(image)? {
            AnyRepository::Remote(r) => r.list_tags(max, page).await,
            AnyRepository::Layout(_) => Err(RegistryError::Config {
                message: format!("`{image}` is an OCI layout, not a registry repository"),
            }),
        }
    }

    /// Resolve `image` to a digest, once: the manifest is fetched (by tag, or by digest and
    /// checked) and returned with a reference pinned to the digest of its exact bytes.
    /// A layout reference with neither tag nor digest names the layout's only image (entries
    /// tagged `sha256-…` — cosign attachments — are not counted).
    pub async fn resolve(&self, image: &ImageRef) -> Result<ResolvedImage, RegistryError> {
        let repository = self.repository(image)?;
        let not_found = |reference: String| RegistryError::ManifestNotFound {
            repository: image.repository_name(),
            reference,
        };
        let manifest = match (image.digest(), image.tag(), &repository) {
            (Some(d), _, _) => repository
                .get_manifest(ManifestRef::Digest(d))
                .await?
                .ok_or_else(|| not_found(d.to_string()))?,
            (None, Some(t), _) => repository
                .get_manifest(ManifestRef::Tag(t))
                .await?
                .ok_or_else(|| not_found(t.to_owned()))?,
            (None, None, AnyRepository::Layout(layout)) => {
                let d = layout.sole_image().await?;
                repository
                    .get_manifest(ManifestRef::Digest(&d))
                    .await?
                    .ok_or_else(|| not_found(d.to_string()))?
            }
            (None, None, AnyRepository::Remote(_)) => {
                // The parser gives registry references `latest`; this is only reachable with
                // a hand-built reference.
                return Err(not_found(String::new()));
            }
        };
        Ok(ResolvedImage {
            repository,
            reference: image.with_digest(manifest.digest.clone()),
            manifest,
        })
    }
}

/// At most `max` redirects, and none that changes the scheme from HTTPS to plain HTTP. reqwest
/// already drops `Authorization` when a redirect leaves the host.
fn redirect_policy(max: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            let url = attempt.url().to_string();
            attempt.error(format!(
                "more than {max} redirects (limit `max_redirects`), last to `{url}`"
            ))
        } else if attempt.url().scheme() == "http"
            && attempt
                .previous()
                .last()
                .is_some_and(|u| u.scheme() == "https")
        {
            let url = attempt.url().to_string();
            attempt.error(format!(
                "refusing a redirect from HTTPS to plain HTTP `{url}`"
            ))
        } else {
            attempt.follow()
        }
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Plain HTTP for loopback registries and the ones the user allowed.
fn use_plain_http(registry: &str, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| {
        let a = crate::format::reference::canonical_registry(a);
        a == ALL_REGISTRIES
            || a == registry
            || registry.rsplit_once(':').is_some_and(|(host, _)| a == host)
    }) {
        return true;
    }
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(h, _)| h)
    } else {
        registry.split_once(':').map_or(registry, |(h, _)| h)
    };
    if host == "localhost" {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl AnyRepository {
    /// Whether this is an OCI layout directory (not a registry).
    pub fn is_layout(&self) -> bool {
        matches!(self, Self::Layout(_))
    }
}

impl Repository for AnyRepository {
    fn name(&self) -> &str {
        match self {
            Self::Remote(r) => r.name(),
            Self::Layout(l) => l.name(),
        }
    }

    async fn get_manifest(
        &self,
        reference: ManifestRef<'_>,
    ) -> Result<Option<Manifest>, RegistryError> {
        match self {
            Self::Remote(r) => r.get_manifest(reference).await,
            Self::Layout(l) => l.get_manifest(reference).await,
        }
    }

    async fn put_manifest(
        &self,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        match self {
            Self::Remote(r) => r.put_manifest(tag, media_type, bytes).await,
            Self::Layout(l) => l.put_manifest(tag, media_type, bytes).await,
        }
    }

    async fn get_blob(
        &self,
        digest: &Digest,
        max_bytes: u64,
    ) -> Result<Arc<Vec<u8>>, RegistryError> {
        match self {
            Self::Remote(r) => r.get_blob(digest, max_bytes).await,
            Self::Layout(l) => l.get_blob(digest, max_bytes).await,
        }
    }

    async fn put_blob(&self, blob: Blob) -> Result<Digest, RegistryError> {
        match self {
            Self::Remote(r) => r.put_blob(blob).await,
            Self::Layout(l) => l.put_blob(blob).await,
        }
    }

    async fn referrers_api(&self, subject: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        match self {
            Self::Remote(r) => r.referrers_api(subject).await,
            Self::Layout(l) => l.referrers_api(subject).await,
        }
    }

    fn has_referrers_api(&self) -> bool {
        match self {
            Self::Remote(r) => r.has_referrers_api(),
            Self::Layout(l) => l.has_referrers_api(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_and_allowed() {
        let none: Vec<String> = vec![];
        for r in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(use_plain_http(r, &none), "{r}");
        }
        for r in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.evil.com",
            "[::2]:5000",
            "128.0.0.1",
        ] {
            assert!(!use_plain_http(r, &none), "{r}");
        }
        let allowed = vec!["reg.local".to_owned(), "other:5000".to_owned()];
        assert!(use_plain_http("reg.local", &allowed));
        assert!(use_plain_http("reg.local:8080", &allowed));
        assert!(use_plain_http("other:5000", &allowed));
        assert!(!use_plain_http("other:5001", &allowed));
        assert!(!use_plain_http("reg.local.evil", &allowed));
        assert!(use_plain_http("ghcr.io", &[ALL_REGISTRIES.to_owned()]));
    }
}
