//! Trust-root refresh over TUF: `trusted_root.json` (and `signing_config.v0.2.json` when the
//! repository publishes it) fetched through The Update Framework with `sigstore-trust-root`'s
//! client (`TufConfig::custom(mirror, TufBootstrap::trusted(root))`), kept in an explicit cache
//! directory, and the one function that picks the root verification uses: the cached one when
//! an update has succeeded, the embedded public-good copy otherwise ([`default_root`]).
//!
//! Cache layout (`$XDG_CACHE_HOME/imprint/tuf/<host>[_<port>]`, or `--cache DIR`):
//!
//! ```text
//! DIR/root.json timestamp.json snapshot.json targets.json targets/…   sigstore-tuf's own store
//! DIR/imprint/trusted_root.json                                       the verified target bytes
//! DIR/imprint/signing_config.json                                     (when published)
//! DIR/imprint/state.json                                              mirror, time, sha256s
//! ```
//!
//! Every file imprint writes is written atomically (readers see the old or the new copy). The
//! verified copy under `imprint/` is what [`load_cached`] reads; its sha256 must match
//! `state.json` (a torn or edited copy is refused, never silently replaced by the embedded
//! root). The cache directory must be writable only by its owner: like every local trust store
//! it is trusted once written; [`verify_offline`] re-runs the whole TUF verification over the
//! cached metadata (`imprint trust-root update --offline`).
//!
//! For a long-running process (the admission webhook), [`spawn_refresher`] refreshes on a
//! background task and hands each new root to a callback; the request path only ever reads the
//! root it already has.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sigstore_trust_root::{SigningConfig, TrustedRoot, TufBootstrap, TufConfig};

use super::root::{EmbeddedRoot, TrustRoot, TrustRootError};
use crate::format::digest::Digest;

/// The Sigstore public-good TUF repository.
pub const PUBLIC_GOOD_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";

/// Environment variable naming the TUF cache directory that [`default_root`] reads (instead
/// of the public-good mirror's default cache directory).
pub const CACHE_ENV: &str = "IMPRINT_TUF_CACHE";

/// The TUF target holding the trusted root.
pub const TRUSTED_ROOT_TARGET: &str = sigstore_trust_root::TRUSTED_ROOT_TARGET;

/// The TUF target holding the signing configuration (optional in a repository).
pub const SIGNING_CONFIG_TARGET: &str = sigstore_trust_root::SIGNING_CONFIG_TARGET;

/// Largest TUF metadata or target imprint accepts from a bootstrap file.
const MAX_ROOT_JSON_BYTES: u64 = 1024 * 1024;

/// Why a TUF update, or reading its cache, failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TufError {
    /// No cache directory was given and none can be derived (no `XDG_CACHE_HOME`, no `HOME`).
    #[error("no TUF cache directory: set XDG_CACHE_HOME or HOME, or give --cache DIR")]
    NoCacheDir,
    /// The mirror URL is not an absolute http(s) URL.
    #[error("TUF mirror `{url}`: {detail}")]
    Mirror {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The bootstrap `root.json` cannot be read or is not JSON.
    #[error("TUF bootstrap root {source_name}: {detail}")]
    Bootstrap {
        /// Where it was read from.
        source_name: String,
        /// What is wrong.
        detail: String,
    },
    /// The TUF client refused the repository (signatures, thresholds, expiry, rollback,
    /// hashes, lengths) or could not reach it.
    #[error("TUF update from {mirror} failed: {detail}")]
    Update {
        /// The mirror.
        mirror: String,
        /// The client's reason.
        detail: String,
    },
    /// The cache directory cannot be read or written, or its verified copy does not match.
    #[error("TUF cache {dir}: {detail}")]
    Cache {
        /// The cache directory.
        dir: String,
        /// What is wrong.
        detail: String,
    },
    /// The target verified through TUF is not a usable `trusted_root.json`.
    #[error(transparent)]
    Root(#[from] TrustRootError),
}

/// A TUF repository to refresh from: its mirror URL, the root of trust it is bootstrapped
/// from (out of band), and the cache directory.
#[derive(Debug, Clone)]
pub struct TufSource {
    mirror: String,
    bootstrap: Vec<u8>,
    cache_dir: PathBuf,
    timeout: Duration,
}

impl TufSource {
    /// The Sigstore public-good repository, bootstrapped from the TUF root shipped in
    /// `sigstore-trust-root`, cached in [`default_cache_dir`].
    pub fn public_good() -> Result<Self, TufError> {
        let root = sigstore_trust_root::SigstoreInstance::PublicGood.tuf_root();
        Self::custom(PUBLIC_GOOD_MIRROR, root.to_vec())
    }

    /// A repository at `mirror` (metadata at the base URL, targets under `targets/`, as
    /// Sigstore's CDN lays them out), trusted from `bootstrap_root_json` (a `root.json` obtained
    /// out of band), cached in [`default_cache_dir`].
    pub fn custom(mirror: &str, bootstrap_root_json: Vec<u8>) -> Result<Self, TufError> {
        let cache_dir = default_cache_dir(mirror)?;
        if serde_json::from_slice::<serde_json::Value>(&bootstrap_root_json).is_err() {
            return Err(TufError::Bootstrap {
                source_name: "given as bytes".into(),
                detail: "not JSON".into(),
            });
        }
        Ok(Self {
            mirror: mirror.to_owned(),
            bootstrap: bootstrap_root_json,
            cache_dir,
            timeout: Duration::from_secs(30),
        })
    }

    /// Like [`custom`](Self::custom), reading the bootstrap root from a file.
    pub fn custom_from_file(mirror: &str, root: &Path) -> Result<Self, TufError> {
        let bytes = crate::fs::read_limited(root, MAX_ROOT_JSON_BYTES).map_err(|e| {
            TufError::Bootstrap {
                source_name: root.display().to_string(),
                detail: crate::format::error_chain(&e),
            }
        })?;
        Self::custom(mirror, bytes).map_err(|e| match e {
            TufError::Bootstrap { detail, .. } => TufError::Bootstrap {
                source_name: root.display().to_string(),
                detail,
            },
            other => other,
        })
    }

    /// Use `dir` as the cache directory.
    pub fn with_cache_dir(mut self, dir: PathBuf) -> Self {
        self.cache_dir = dir;
        self
    }

    /// The total deadline of each HTTP request (default 30 s), so a mirror that trickles bytes
    /// cannot hold an update forever.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The mirror URL.
    pub fn mirror(&self) -> &str {
        &self.mirror
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    fn config(&self) -> Result<TufConfig, TufError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("imprint/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .build()
            .map_err(|e| self.update_error(format!("cannot build the HTTP client: {e}")))?;
        Ok(
            TufConfig::custom(self.mirror.clone(), TufBootstrap::trusted(&self.bootstrap))
                .with_cache_dir(self.cache_dir.clone())
                .with_http_client(http),
        )
    }

    fn update_error(&self, detail: String) -> TufError {
        TufError::Update {
            mirror: self.mirror.clone(),
            detail,
        }
    }

    fn cache_error(&self, detail: String) -> TufError {
        TufError::Cache {
            dir: self.cache_dir.display().to_string(),
            detail,
        }
    }
}

/// The default cache directory for `mirror`: `$XDG_CACHE_HOME/imprint/tuf/<host>[_<port>]`
/// (`$HOME/.cache/…` when `XDG_CACHE_HOME` is unset or relative).
pub fn default_cache_dir(mirror: &str) -> Result<PathBuf, TufError> {
    let url = reqwest::Url::parse(mirror).map_err(|e| TufError::Mirror {
        url: mirror.to_owned(),
        detail: e.to_string(),
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(TufError::Mirror {
            url: mirror.to_owned(),
            detail: format!("scheme `{}` is not http or https", url.scheme()),
        });
    }
    let host = url.host_str().ok_or_else(|| TufError::Mirror {
        url: mirror.to_owned(),
        detail: "no host".into(),
    })?;
    let mut name: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Some(port) = url.port() {
        name.push_str(&format!("_{port}"));
    }
    Ok(cache_base()?.join("imprint").join("tuf").join(name))
}

fn cache_base() -> Result<PathBuf, TufError> {
    let absolute = |v: Option<std::ffi::OsString>| {
        v.map(PathBuf::from)
            .filter(|p| p.is_absolute() && !p.as_os_str().is_empty())
    };
    if let Some(p) = absolute(std::env::var_os("XDG_CACHE_HOME")) {
        return Ok(p);
    }
    absolute(std::env::var_os("HOME"))
        .map(|h| h.join(".cache"))
        .ok_or(TufError::NoCacheDir)
}

/// What `imprint/state.json` records about the last successful update.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CacheState {
    /// The mirror it was fetched from.
    pub mirror: String,
    /// When (RFC 3339, UTC).
    pub updated_at: String,
    /// sha256 (hex) of `imprint/trusted_root.json`.
    pub trusted_root_sha256: String,
    /// sha256 (hex) of `imprint/signing_config.json`, when the repository publishes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_config_sha256: Option<String>,
}

/// The result of a successful update (or offline re-verification).
#[derive(Debug, Clone)]
pub struct Updated {
    /// The cache directory.
    pub cache_dir: PathBuf,
    /// The state now recorded in it.
    pub state: CacheState,
    /// The verified trust root (its origin names the cache).
    pub root: Arc<TrustRoot>,
    /// Whether the repository publishes a signing configuration (and it was cached).
    pub signing_config: bool,
    /// Whether `trusted_root.json` differs from what the cache held before.
    pub changed: bool,
}

/// Refresh from the mirror: run the TUF workflow (root rotation, timestamp, snapshot,
/// targets; signatures, thresholds, expiry at `now`, rollback, lengths and hashes), fetch
/// `trusted_root.json` (and the signing configuration when listed), check it is a usable trust
/// root, and put it into the cache atomically. On any failure the cache keeps what it had.
pub async fn update(source: &TufSource, now: SystemTime) -> Result<Updated, TufError> {
    fetch(source, now, false).await
}

/// Re-run the whole TUF verification over the cached metadata and targets, with no network
/// (expiry evaluated at `now`), and rewrite the verified copy from it.
pub async fn verify_offline(source: &TufSource, now: SystemTime) -> Result<Updated, TufError> {
    fetch(source, now, true).await
}

/// [`update`] under the name the admission webhook calls it by: run it off the request path
/// (see [`spawn_refresher`]); on failure keep serving the root you have.
pub async fn refresh(source: &TufSource, now: SystemTime) -> Result<Updated, TufError> {
    update(source, now).await
}

/// Refresh every `interval` on a background tokio task (the first refresh right away),
/// calling `on_update` with each newly verified root that differs from the last one, and
/// `on_error` with each failure (the caller keeps its current root). Never touches the request
/// path; abort the returned handle to stop.
pub fn spawn_refresher<U, E>(
    source: TufSource,
    interval: Duration,
    clock: Arc<dyn crate::gate::Clock>,
    on_update: U,
    on_error: E,
) -> tokio::task::JoinHandle<()>
where
    U: Fn(Arc<TrustRoot>) + Send + 'static,
    E: Fn(TufError) + Send + 'static,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: Option<Digest> = None;
        loop {
            ticker.tick().await;
            match update(&source, clock.now()).await {
                Ok(u) => {
                    let hash = u.root.hash();
                    if last.as_ref() != Some(&hash) {
                        last = Some(hash);
                        on_update(u.root);
                    }
                }
                Err(e) => on_error(e),
            }
        }
    })
}

fn jiff_time(now: SystemTime) -> Result<jiff::Timestamp, String> {
    jiff::Timestamp::try_from(now).map_err(|e| format!("clock out of range: {e}"))
}

fn normalised<T: serde::Serialize + serde::de::DeserializeOwned>(
    source: &TufSource,
    target: &str,
    value: &T,
    bytes: Option<&[u8]>,
) -> Result<serde_json::Value, TufError> {
    let err = |e: serde_json::Error| source.cache_error(format!("{target}: {e}"));
    match bytes {
        None => serde_json::to_value(value).map_err(err),
        Some(b) => {
            let parsed: T = serde_json::from_slice(b).map_err(err)?;
            serde_json::to_value(parsed).map_err(err)
        }
    }
}

/// The bytes sigstore-tuf wrote through to its store for `target`, bound to the document it
/// verified: they must parse to the same value in the same typed model (so a writer racing
/// the update cannot slip other bytes in).
fn store_bytes<T: serde::Serialize + serde::de::DeserializeOwned>(
    source: &TufSource,
    target: &str,
    verified: &T,
) -> Result<Vec<u8>, TufError> {
    let path = source.cache_dir.join("targets").join(target);
    let limit = crate::limits::Limits::DEFAULT.max_trust_root_bytes;
    let bytes = crate::fs::read_limited(&path, limit).map_err(|e| {
        source.cache_error(format!(
            "cannot read the verified target: {}",
            crate::format::error_chain(&e)
        ))
    })?;
    if normalised(source, target, verified, Some(&bytes))?
        != normalised(source, target, verified, None)?
    {
        return Err(source.cache_error(format!(
            "{target} in the store changed while it was being verified"
        )));
    }
    Ok(bytes)
}

async fn fetch(source: &TufSource, now: SystemTime, offline: bool) -> Result<Updated, TufError> {
    let when = jiff_time(now).map_err(|e| source.update_error(e))?;
    let mut config = source.config()?;
    if offline {
        config = config.offline();
    }
    let root = TrustedRoot::from_tuf_at(config.clone(), when)
        .await
        .map_err(|e| source.update_error(e.to_string()))?;
    let root_bytes = store_bytes(source, TRUSTED_ROOT_TARGET, &root)?;

    // The signing configuration is optional: absent from the targets metadata means not
    // published; any other failure (bad hash, expiry) fails the update.
    let signing = match SigningConfig::from_tuf_at(config, when).await {
        Ok(sc) => Some(store_bytes(source, SIGNING_CONFIG_TARGET, &sc)?),
        Err(e)
            if e.to_string()
                .contains("is not listed by any trusted targets role") =>
        {
            None
        }
        Err(e) => return Err(source.update_error(e.to_string())),
    };

    let updated_at = jiff::Timestamp::try_from(now)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let state = CacheState {
        mirror: source.mirror.clone(),
        updated_at,
        trusted_root_sha256: Digest::of(&root_bytes).hex().to_owned(),
        signing_config_sha256: signing.as_ref().map(|b| Digest::of(b).hex().to_owned()),
    };
    // Refuse an unusable root before anything is written.
    let parsed = TrustRoot::parse_with_origin(&root_bytes, origin(&source.cache_dir, &state))?;
    let previous = read_state(&source.cache_dir).ok().flatten();
    let changed = previous
        .as_ref()
        .is_none_or(|p| p.trusted_root_sha256 != state.trusted_root_sha256);

    let dir = source.cache_dir.join("imprint");
    std::fs::create_dir_all(&dir)
        .map_err(|e| source.cache_error(format!("cannot create {}: {e}", dir.display())))?;
    let write = |name: &str, bytes: &[u8]| {
        crate::fs::write_atomic(&dir.join(name), bytes, 0o644, crate::fs::Overwrite::Replace)
            .map_err(|e| source.cache_error(format!("cannot write {name}: {e}")))
    };
    // Targets first, state last: a reader that sees the new state sees the new bytes.
    write("trusted_root.json", &root_bytes)?;
    match &signing {
        Some(b) => write("signing_config.json", b)?,
        None => match std::fs::remove_file(dir.join("signing_config.json")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(source.cache_error(format!("cannot remove signing_config.json: {e}")));
            }
        },
    }
    let state_json = serde_json::to_vec_pretty(&state)
        .map_err(|e| source.cache_error(format!("cannot encode state.json: {e}")))?;
    write("state.json", &state_json)?;
    Ok(Updated {
        cache_dir: source.cache_dir.clone(),
        state,
        root: Arc::new(parsed),
        signing_config: signing.is_some(),
        changed,
    })
}

fn origin(dir: &Path, state: &CacheState) -> String {
    format!(
        "TUF cache {} (mirror {}, updated {})",
        dir.display(),
        state.mirror,
        state.updated_at
    )
}

fn read_state(dir: &Path) -> Result<Option<CacheState>, TufError> {
    let path = dir.join("imprint").join("state.json");
    let cache_error = |detail: String| TufError::Cache {
        dir: dir.display().to_string(),
        detail,
    };
    let bytes = match crate::fs::read_limited(&path, MAX_ROOT_JSON_BYTES) {
        Ok(b) => b,
        Err(crate::fs::ReadError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(None);
        }
        Err(e) => return Err(cache_error(crate::format::error_chain(&e))),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| cache_error(format!("imprint/state.json: {e}")))
}

/// The verified copy in `dir`, when an update has succeeded there (`None`: never updated).
/// A copy that does not match its recorded sha256, or does not parse, is an error.
pub fn load_cached(dir: &Path) -> Result<Option<TrustRoot>, TufError> {
    let Some(state) = read_state(dir)? else {
        return Ok(None);
    };
    let cache_error = |detail: String| TufError::Cache {
        dir: dir.display().to_string(),
        detail,
    };
    let path = dir.join("imprint").join("trusted_root.json");
    let limit = crate::limits::Limits::DEFAULT.max_trust_root_bytes;
    let bytes = crate::fs::read_limited(&path, limit)
        .map_err(|e| cache_error(crate::format::error_chain(&e)))?;
    let got = Digest::of(&bytes);
    if got.hex() != state.trusted_root_sha256 {
        return Err(cache_error(format!(
            "imprint/trusted_root.json has sha256 {} but the last update recorded {}; run `imprint trust-root update`",
            got.hex(),
            state.trusted_root_sha256
        )));
    }
    Ok(Some(TrustRoot::parse_with_origin(
        &bytes,
        origin(dir, &state),
    )?))
}

/// The cached signing configuration in `dir` (`None`: never updated, or not published).
pub fn cached_signing_config(dir: &Path) -> Result<Option<Vec<u8>>, TufError> {
    let Some(state) = read_state(dir)? else {
        return Ok(None);
    };
    let Some(want) = state.signing_config_sha256 else {
        return Ok(None);
    };
    let cache_error = |detail: String| TufError::Cache {
        dir: dir.display().to_string(),
        detail,
    };
    let path = dir.join("imprint").join("signing_config.json");
    let bytes = crate::fs::read_limited(&path, crate::limits::Limits::DEFAULT.max_trust_root_bytes)
        .map_err(|e| cache_error(crate::format::error_chain(&e)))?;
    if Digest::of(&bytes).hex() != want {
        return Err(cache_error(
            "imprint/signing_config.json does not match the last update".into(),
        ));
    }
    Ok(Some(bytes))
}

/// The cache directory [`default_root`] reads: `$IMPRINT_TUF_CACHE`, else the public-good
/// mirror's [`default_cache_dir`] (`None` when neither can be found).
pub fn default_root_cache_dir() -> Option<PathBuf> {
    match std::env::var_os(CACHE_ENV) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => default_cache_dir(PUBLIC_GOOD_MIRROR).ok(),
    }
}

/// The root verification uses by default: the TUF-cached one when an update has succeeded in
/// [`default_root_cache_dir`], else the embedded public-good copy. Its
/// [`origin`](TrustRoot::origin) says which. A cache that exists but is damaged is an error
/// (fail closed), not a silent fall-back.
pub fn default_root() -> Result<Arc<TrustRoot>, TrustRootError> {
    if let Some(dir) = default_root_cache_dir() {
        match load_cached(&dir) {
            Ok(Some(root)) => return Ok(Arc::new(root)),
            Ok(None) => {}
            Err(TufError::Root(e)) => return Err(e),
            Err(e) => {
                return Err(TrustRootError {
                    source_name: format!("TUF cache {}", dir.display()),
                    detail: e.to_string(),
                });
            }
        }
    }
    EmbeddedRoot::PublicGood.load()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_names_host_and_port() {
        let d = default_cache_dir("http://127.0.0.1:8123/repo/").unwrap();
        assert!(d.ends_with("imprint/tuf/127.0.0.1_8123"), "{}", d.display());
        let d = default_cache_dir(PUBLIC_GOOD_MIRROR).unwrap();
        assert!(d.ends_with("imprint/tuf/tuf-repo-cdn.sigstore.dev"));
        assert!(matches!(
            default_cache_dir("file:///etc"),
            Err(TufError::Mirror { .. })
        ));
        assert!(matches!(
            default_cache_dir("not a url"),
            Err(TufError::Mirror { .. })
        ));
    }

    #[tokio::test]
    async fn refresher_reports_each_failure_and_keeps_running() {
        let dir = tempfile::tempdir().unwrap();
        let source = TufSource::custom("http://127.0.0.1:1", br#"{"signed":{}}"#.to_vec())
            .unwrap()
            .with_cache_dir(dir.path().to_path_buf())
            .with_timeout(Duration::from_secs(2));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = spawn_refresher(
            source,
            Duration::from_millis(20),
            Arc::new(crate::gate::SystemClock),
            |_| panic!("nothing to update from"),
            move |e| {
                let _ = tx.send(e);
            },
        );
        for _ in 0..2 {
            let e = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .unwrap()
                .unwrap();
            assert!(matches!(e, TufError::Update { .. }), "{e}");
        }
        handle.abort();
        assert!(load_cached(dir.path()).unwrap().is_none());
    }

    #[test]
    fn empty_cache_is_none_and_damaged_copy_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_cached(dir.path()).unwrap().is_none());
        let imprint = dir.path().join("imprint");
        std::fs::create_dir_all(&imprint).unwrap();
        let json = sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT.as_bytes();
        std::fs::write(imprint.join("trusted_root.json"), json).unwrap();
        let state = CacheState {
            mirror: "http://127.0.0.1:1".into(),
            updated_at: "2026-12-03T00:00:00Z".into(),
            trusted_root_sha256: Digest::of(json).hex().to_owned(),
            signing_config_sha256: None,
        };
        std::fs::write(
            imprint.join("state.json"),
            serde_json::to_vec(&state).unwrap(),
        )
        .unwrap();
        let root = load_cached(dir.path()).unwrap().unwrap();
        assert!(root.origin().starts_with("TUF cache "), "{}", root.origin());
        let mut edited = json.to_vec();
        edited.push(b'\n');
        std::fs::write(imprint.join("trusted_root.json"), edited).unwrap();
        let e = load_cached(dir.path()).unwrap_err();
        assert!(e.to_string().contains("sha256"), "{e}");
    }
}
