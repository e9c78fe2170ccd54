//! The registry backend: the OCI distribution API over HTTP(S).
//!
//! Why requests are made here with reqwest (the HTTP client oci-client itself uses, same
//! version) rather than through oci-client's methods:
//! - oci-client 0.18 pings `GET /v2/` before every operation unless it holds a cached token,
//!   and it never caches "no auth needed", so against an anonymous registry every manifest or
//!   blob read costs two requests (sigstore-rs shows 8 pings per verified image).
//!   `RegistrySession` never pings (issue 14): the first real request goes out without
//!   credentials; a 401 with a `WWW-Authenticate` challenge is answered (token fetched, request
//!   sent again) and the challenge is remembered for the session, as is "no auth needed" when
//!   the first answer is not a 401. An anonymous registry costs no extra round trip at all.
//! - `pull_manifest_raw` does not return the Content-Type and reads the whole body before any
//!   size check; we need exact bytes, the media type, a `Content-Length` check before reading
//!   and a capped stream (the same for blobs).
//! - The referrers endpoint must be answered with the raw index bytes and only when the
//!   Content-Type is the OCI index type (ggcr's rule); `pull_referrers` parses and falls back
//!   on its own.
//!
//! The auth protocol is the one oci-client implements (see `registry/auth.rs`).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};

use super::auth::{self, Challenge, Credential, Scope, Token};
use super::client::{AuthSource, PROGRESS_MIN_BYTES, ProgressEvent, ProgressHook};
use super::{Blob, Limits, Manifest, ManifestRef, RegistryError, Repository, media_types};
use crate::format::digest::Digest;

/// Most characters of a registry error body quoted in an error message.
const MAX_QUOTED_BODY: usize = 300;

/// A token slot: locked while a token is fetched, so concurrent requests fetch one token.
type TokenSlot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// One registry host: its base URL, the shared HTTP client (connection pool), the challenge
/// it answered, the credential, the token cache and what it lacks. One per registry per
/// [`super::Client`].
pub(crate) struct RegistrySession {
    host: String,
    base: String,
    http: reqwest::Client,
    auth_source: AuthSource,
    /// What the registry asks for, learned from the first answer (a 401's challenge, or
    /// [`Challenge::None`] when it answered without one). `None`: nothing learned yet.
    challenge: Mutex<Option<Challenge>>,
    /// Held by the one request that learns the challenge, so concurrent first requests wait
    /// for its answer instead of each collecting a 401.
    learning: tokio::sync::Mutex<()>,
    /// Requests to this registry (and its token endpoint) in flight at once, at most
    /// [`super::RegistryConfig::max_requests_per_registry`]; held until the answer's headers.
    in_flight: tokio::sync::Semaphore,
    credential: tokio::sync::OnceCell<Option<Credential>>,
    /// Per (repository, scope): a lock held while a token is fetched, so concurrent requests
    /// for one repository fetch one token.
    tokens: Mutex<HashMap<(String, Scope), TokenSlot>>,
    /// Deadlines, retries and the token response cap.
    limits: Limits,
    /// Set once the registry showed it has no referrers API at all (its router answered 404
    /// without a registry error body, as distribution 2.8 does), so later images skip the
    /// probe and go straight to the tag-schema fallback: one request less per image.
    no_referrers_api: std::sync::atomic::AtomicBool,
    /// Set once the registry answered the referrers API with an index: later images ask only
    /// the API, not the tag-schema fallback beside it.
    referrers_api: std::sync::atomic::AtomicBool,
    /// HTTP requests sent, shared with the [`super::Client`] (every attempt of every request
    /// counts: token fetches, retries, uploads to other hosts, tag lists).
    requests: Arc<AtomicU64>,
}

impl std::fmt::Debug for RegistrySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySession")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl RegistrySession {
    pub(crate) fn new(
        host: &str,
        scheme: &str,
        http: reqwest::Client,
        auth_source: AuthSource,
        limits: Limits,
        max_in_flight: usize,
        requests: Arc<AtomicU64>,
    ) -> Self {
        Self {
            host: host.to_owned(),
            base: format!("{scheme}://{host}"),
            http,
            auth_source,
            challenge: Mutex::new(None),
            learning: tokio::sync::Mutex::new(()),
            in_flight: tokio::sync::Semaphore::new(
                max_in_flight.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            ),
            credential: tokio::sync::OnceCell::new(),
            tokens: Mutex::new(HashMap::new()),
            limits,
            no_referrers_api: std::sync::atomic::AtomicBool::new(false),
            referrers_api: std::sync::atomic::AtomicBool::new(false),
            requests,
        }
    }

    /// Count one HTTP request about to be sent.
    fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn unreachable(&self, e: &reqwest::Error) -> RegistryError {
        if e.is_timeout() {
            return RegistryError::Timeout {
                registry: self.host.clone(),
                operation: e
                    .url()
                    .map_or_else(|| "request".to_owned(), |u| format!("GET/PUT {}", u.path())),
                after: self.limits.request_timeout,
            };
        }
        // reqwest's Display includes the URL (no credentials: they travel in headers).
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        RegistryError::Unreachable {
            registry: self.host.clone(),
            message,
        }
    }

    fn auth_error(&self, message: impl Into<String>) -> RegistryError {
        RegistryError::Auth {
            registry: self.host.clone(),
            message: message.into(),
        }
    }

    /// The challenge learned so far, if any.
    fn known_challenge(&self) -> Option<Challenge> {
        match self.challenge.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Remember `challenge`; with `only_if_unknown`, keep one learned earlier.
    fn learn(&self, challenge: Challenge, only_if_unknown: bool) {
        let mut c = match self.challenge.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !(only_if_unknown && c.is_some()) {
            *c = Some(challenge);
        }
    }

    async fn credential(&self) -> Result<Option<&Credential>, RegistryError> {
        let c = self
            .credential
            .get_or_try_init(|| async {
                let source = self.auth_source.clone();
                let host = self.host.clone();
                tokio::task::spawn_blocking(move || auth::lookup_credential(&source, &host))
                    .await
                    .map_err(|e| {
                        self.auth_error(format!("credential lookup did not finish: {e}"))
                    })?
            })
            .await?;
        Ok(c.as_ref())
    }

    fn token_slot(&self, repository: &str, scope: Scope) -> TokenSlot {
        let mut map = match self.tokens.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry((repository.to_owned(), scope))
            .or_default()
            .clone()
    }

    /// The `Authorization` header value for `repository` at `scope`, if any is needed.
    /// `stale` is a token the registry just refused: it is replaced, not reused.
    async fn authorization(
        &self,
        challenge: &Challenge,
        repository: &str,
        scope: Scope,
        stale: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        match challenge {
            Challenge::None => Ok(None),
            Challenge::Basic => match self.credential().await? {
                Some(Credential::UsernamePassword(u, p)) => Ok(Some(basic(u, p))),
                Some(Credential::IdentityToken(_)) => Err(self.auth_error(
                    "the registry asks for HTTP Basic auth but the docker config holds only an identity token",
                )),
                None => Ok(None),
            },
            Challenge::Bearer { realm, service } => {
                // A push token also allows pull: reuse it if we have one.
                if scope == Scope::Pull && stale.is_none() {
                    let push = self.token_slot(repository, Scope::Push);
                    if let Ok(guard) = push.try_lock()
                        && let Some(t) = guard.as_ref().filter(|t| t.fresh())
                    {
                        return Ok(Some(format!("Bearer {}", t.value)));
                    }
                }
                let slot = self.token_slot(repository, scope);
                let mut guard = slot.lock().await;
                if let Some(t) = guard.as_ref()
                    && t.fresh()
                    && stale != Some(t.value.as_str())
                {
                    return Ok(Some(format!("Bearer {}", t.value)));
                }
                let token = self
                    .fetch_token(realm, service.as_deref(), repository, scope)
                    .await?;
                let header = format!("Bearer {}", token.value);
                *guard = Some(token);
                Ok(Some(header))
            }
        }
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        repository: &str,
        scope: Scope,
    ) -> Result<Token, RegistryError> {
        let scope_str = scope.for_repository(repository);
        let url = reqwest::Url::parse(realm)
            .map_err(|e| self.auth_error(format!("token realm `{realm}` is not a URL: {e}")))?;
        let credential = self.credential().await?;
        if credential.is_some() {
            auth::may_send_credentials(&self.base, &url).map_err(|m| self.auth_error(m))?;
        }
        let post = matches!(credential, Some(Credential::IdentityToken(_)));
        let make = || match credential {
            Some(Credential::IdentityToken(refresh)) => {
                // OAuth2 refresh-token grant (docker `identitytoken` logins).
                let mut form = reqwest::Url::parse("http://form.invalid/")
                    .map_err(|e| self.auth_error(e.to_string()))?;
                {
                    let mut q = form.query_pairs_mut();
                    q.append_pair("grant_type", "refresh_token");
                    q.append_pair("refresh_token", refresh);
                    q.append_pair("client_id", "imprint");
                    q.append_pair("scope", &scope_str);
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                }
                let body = form.query().unwrap_or_default().to_owned();
                Ok(self
                    .http
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body))
            }
            other => {
                let mut url = url.clone();
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("scope", &scope_str);
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                }
                let rb = self.http.get(url);
                Ok(match other {
                    Some(Credential::UsernamePassword(u, p)) => {
                        rb.header(AUTHORIZATION, basic(u, p))
                    }
                    _ => rb,
                })
            }
        };
        // Fail before any request when the form cannot be built.
        let _ = make()?;
        let method = if post { Method::POST } else { Method::GET };
        let resp = self
            .execute(&method, realm, || {
                make().unwrap_or_else(|_| self.http.get(realm))
            })
            .await?;
        let status = resp.status();
        let body = read_capped(resp, self.limits.max_token_response_bytes)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge(size) => self.auth_error(format!(
                    "token response from `{realm}` is over {size} bytes"
                )),
                ReadError::Http(e) => self.unreachable(&e),
            })?;
        if !status.is_success() {
            return Err(self.auth_error(format!(
                "token endpoint `{realm}` refused scope `{scope_str}` ({status}){}: {}",
                if credential.is_some() {
                    " with the docker config credentials"
                } else {
                    " anonymously"
                },
                quote_body(&body)
            )));
        }
        auth::parse_token_response(&body)
            .map_err(|m| self.auth_error(format!("token endpoint `{realm}`: {m}")))
    }

    /// Send one request made by `make` within the request deadline
    /// ([`Limits::request_timeout`], retries and their waits included). Idempotent reads (GET,
    /// HEAD) are retried at most [`Limits::max_retries`] times on 429, 500, 502, 503, 504 and
    /// on a connection that failed or dropped before an answer, after an exponential backoff
    /// or the `Retry-After` the registry asked for. A `Retry-After` over
    /// [`Limits::max_retry_after`] fails at once. Writes are sent once.
    async fn execute(
        &self,
        method: &Method,
        url: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistryError> {
        let idempotent = *method == Method::GET || *method == Method::HEAD;
        let started = std::time::Instant::now();
        let deadline = started.checked_add(self.limits.request_timeout);
        let mut attempt: u32 = 0;
        loop {
            let remaining =
                deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if remaining.is_some_and(|r| r.is_zero()) {
                return Err(self.timeout(method, url));
            }
            let mut rb = make();
            if let Some(r) = remaining {
                rb = rb.timeout(r);
            }
            let result = {
                let _permit = self.in_flight.acquire().await;
                self.count_request();
                rb.send().await
            };
            let wait = match &result {
                Ok(resp) if idempotent && retryable_status(resp.status()) => {
                    let asked = resp
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry_after(v, chrono::Utc::now()));
                    match asked {
                        Some(wait) if wait > self.limits.max_retry_after => {
                            let status = resp.status();
                            return Err(RegistryError::Unreachable {
                                registry: self.host.clone(),
                                message: format!(
                                    "`{method} {url}` answered {status} and asked to retry after {wait:?}, over the limit `max_retry_after` of {:?}",
                                    self.limits.max_retry_after
                                ),
                            });
                        }
                        Some(wait) => wait,
                        None => backoff(&self.limits, attempt),
                    }
                }
                Err(e) if idempotent && !e.is_timeout() && (e.is_connect() || e.is_request()) => {
                    backoff(&self.limits, attempt)
                }
                Err(e) if e.is_timeout() => return Err(self.timeout(method, url)),
                _ => return result.map_err(|e| self.unreachable(&e)),
            };
            let past_deadline = deadline.is_some_and(|d| {
                std::time::Instant::now()
                    .checked_add(wait)
                    .is_none_or(|t| t >= d)
            });
            if attempt >= self.limits.max_retries || past_deadline {
                return match result {
                    // The caller reports the status (with the body excerpt).
                    Ok(resp) => Ok(resp),
                    Err(e) => Err(match self.unreachable(&e) {
                        RegistryError::Unreachable { registry, message } => {
                            RegistryError::Unreachable {
                                registry,
                                message: format!("{message} (after {attempt} retries)"),
                            }
                        }
                        other => other,
                    }),
                };
            }
            if let Ok(resp) = result {
                drain(resp).await;
            }
            tracing::debug!(%method, url, attempt, ?wait, "retrying an idempotent registry read");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn timeout(&self, method: &Method, url: &str) -> RegistryError {
        RegistryError::Timeout {
            registry: self.host.clone(),
            operation: format!("{method} {}", url.split('?').next().unwrap_or(url)),
            after: self.limits.request_timeout,
        }
    }

    /// Send a request to this registry with authentication. No `/v2/` ping: while the
    /// session knows no challenge, the request goes out without credentials (one request at a
    /// time learns it; the others wait for that answer). A 401 whose challenge differs from
    /// the known one is followed once (token fetched, request sent again) and remembered; a
    /// cached token that is refused is replaced once.
    pub(crate) async fn send(
        &self,
        repository: &str,
        scope: Scope,
        method: Method,
        url: &str,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut challenge = self.known_challenge();
        let mut learning = if challenge.is_none() {
            let guard = self.learning.lock().await;
            challenge = self.known_challenge();
            // Still unknown: this request learns it; the others wait on the guard until it
            // has (not for the token fetch nor the second attempt).
            challenge.is_none().then_some(guard)
        } else {
            None
        };
        let mut header = match &challenge {
            Some(c) => self.authorization(c, repository, scope, None).await?,
            None => None,
        };
        let mut followed = false;
        let mut refreshed = false;
        loop {
            let resp = self
                .execute(&method, url, || {
                    let rb = build(self.http.request(method.clone(), url));
                    match &header {
                        Some(h) => rb.header(AUTHORIZATION, h),
                        None => rb,
                    }
                })
                .await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                if challenge.is_none() {
                    // Answered without asking for credentials: none are needed here.
                    self.learn(Challenge::None, true);
                }
                drop(learning);
                return Ok(resp);
            }
            let raw = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned);
            let answered = raw.as_deref().and_then(auth::parse_challenge);
            match answered {
                Some(c) if !followed && challenge.as_ref() != Some(&c) => {
                    // The first 401 of a session (or a repository protected differently
                    // from the others): follow its challenge once, and remember it.
                    followed = true;
                    self.learn(c.clone(), false);
                    drop(learning.take());
                    let next = self.authorization(&c, repository, scope, None).await?;
                    challenge = Some(c);
                    if next.is_none() {
                        // Nothing to answer it with (Basic, no credentials): the 401 stands.
                        return Ok(resp);
                    }
                    drain(resp).await;
                    header = next;
                }
                None if header.is_none() && raw.is_some() => {
                    let raw = raw.unwrap_or_default();
                    return Err(self.auth_error(format!(
                        "`{method} {}` answered 401 with an unsupported challenge `{raw}`",
                        url.split('?').next().unwrap_or(url)
                    )));
                }
                _ if !refreshed
                    && !followed
                    && matches!(challenge, Some(Challenge::Bearer { .. }))
                    && header.is_some() =>
                {
                    // Our cached token was refused (expired or revoked): fetch a new one once.
                    // (A token fetched just now for this request is not fetched again.)
                    refreshed = true;
                    let stale = header
                        .as_deref()
                        .and_then(|h| h.strip_prefix("Bearer "))
                        .map(str::to_owned);
                    let Some(c) = challenge.as_ref() else {
                        return Ok(resp);
                    };
                    let next = self
                        .authorization(c, repository, scope, stale.as_deref())
                        .await?;
                    drain(resp).await;
                    header = next;
                }
                _ => return Ok(resp),
            }
        }
    }
}

/// Statuses after which an idempotent read is retried.
fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// The wait before retry number `attempt + 1`: `base * 2^attempt`, the base derived from the
/// request deadline (a hundredth of it, between 10 ms and 500 ms) so the defaults wait 0.5 s,
/// 1 s, 2 s and tight test limits retry in milliseconds. No jitter: one process retries few
/// reads of one registry at once, and a predictable wait keeps the deadline arithmetic exact.
fn backoff(limits: &Limits, attempt: u32) -> std::time::Duration {
    let base = (limits.request_timeout / 100).clamp(
        std::time::Duration::from_millis(10),
        std::time::Duration::from_millis(500),
    );
    base.saturating_mul(2u32.saturating_pow(attempt.min(16)))
}

/// A `Retry-After` value (RFC 9110 10.2.3): delay seconds or an HTTP-date, relative to `now`.
/// A date in the past is no wait; an unparsable value is `None` (the backoff applies).
pub(crate) fn retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<std::time::Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    // IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) is RFC 2822 syntax.
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (when.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn quote_body(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.chars().count() > MAX_QUOTED_BODY {
        let cut: String = s.chars().take(MAX_QUOTED_BODY).collect();
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}

/// Read and drop a small error body so the connection goes back to the pool.
async fn drain(resp: reqwest::Response) {
    let _ = read_capped(resp, 64 * 1024).await;
}

pub(crate) enum ReadError {
    TooLarge(u64),
    Http(reqwest::Error),
}

/// Read a body, refusing it up front when `Content-Length` is over `limit`, and stopping
/// as soon as more than `limit` bytes have arrived.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, ReadError> {
    let declared = resp
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > limit
    {
        return Err(ReadError::TooLarge(len));
    }
    let initial = declared.unwrap_or(0).min(limit).min(8 * 1024 * 1024);
    let mut buf = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
        let new_len = (buf.len() + chunk.len()) as u64;
        if new_len > limit {
            return Err(ReadError::TooLarge(new_len));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Bytes handed to hyper per frame of a reported upload.
const PROGRESS_CHUNK: usize = 64 * 1024;

/// A request body over shared bytes that reports how far it has been read. The bytes sent
/// are exactly `data`; only the framing into chunks differs from a plain body.
struct CountingBody {
    data: bytes::Bytes,
    pos: usize,
    high: Arc<AtomicU64>,
    digest: Digest,
    hook: ProgressHook,
}

impl http_body::Body for CountingBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if this.pos >= this.data.len() {
            return Poll::Ready(None);
        }
        let end = this.data.len().min(this.pos + PROGRESS_CHUNK);
        let chunk = this.data.slice(this.pos..end);
        this.pos = end;
        let sent = end as u64;
        if this.high.fetch_max(sent, Ordering::Relaxed) < sent {
            this.hook.emit(&ProgressEvent::Sent {
                digest: this.digest.clone(),
                sent,
                total: this.data.len() as u64,
            });
        }
        Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact((self.data.len() - self.pos) as u64)
    }
}

/// A repository in a registry.
#[derive(Clone, Debug)]
pub struct RemoteRepository {
    session: Arc<RegistrySession>,
    /// Path inside the registry (`library/busybox`).
    path: String,
    /// `registry/path`.
    name: String,
    limits: Limits,
    /// Observer of large blob uploads.
    progress: Option<ProgressHook>,
}

impl RemoteRepository {
    pub(crate) fn new(
        session: Arc<RegistrySession>,
        path: &str,
        limits: Limits,
        progress: Option<ProgressHook>,
    ) -> Self {
        Self {
            name: format!("{}/{}", session.host, path),
            session,
            path: path.to_owned(),
            limits,
            progress,
        }
    }

    /// The registry host (and port).
    pub fn registry(&self) -> &str {
        &self.session.host
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        format!("{}/v2/{}/{kind}/{reference}", self.session.base, self.path)
    }

    fn protocol(&self, operation: &str, message: impl Into<String>) -> RegistryError {
        RegistryError::Protocol {
            repository: self.name.clone(),
            operation: operation.to_owned(),
            message: message.into(),
        }
    }

    /// Turn a non-success status into an error (auth failures as [`RegistryError::Auth`]).
    async fn status_error(&self, operation: &str, resp: reqwest::Response) -> RegistryError {
        let status = resp.status();
        let body = read_capped(resp, 64 * 1024).await.unwrap_or_default();
        let message = format!("{status}: {}", quote_body(&body));
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            RegistryError::Auth {
                registry: self.session.host.clone(),
                message: format!("{operation} on `{}`: {message}", self.name),
            }
        } else if status == StatusCode::BAD_REQUEST
            && has_error_code(&body, "MANIFEST_BLOB_UNKNOWN")
        {
            RegistryError::ManifestBlobUnknown {
                repository: self.name.clone(),
                operation: operation.to_owned(),
                message,
            }
        } else if status.is_server_error() {
            RegistryError::Server {
                repository: self.name.clone(),
                operation: operation.to_owned(),
                status: status.as_u16(),
                message,
            }
        } else {
            self.protocol(operation, message)
        }
    }

    /// A failed body read as an error. Where the limit is a [`Limits`] field, `what` starts
    /// with its name (`max_manifest_bytes: manifest`), as the per-image budget names
    /// `max_image_bytes`; a blob's limit is its caller's (often the descriptor's size).
    /// `retries`: how many earlier reads of this body were cut off and retried.
    fn read_error(
        &self,
        e: ReadError,
        what: &str,
        object: &str,
        limit: u64,
        retries: u32,
    ) -> RegistryError {
        match e {
            ReadError::TooLarge(size) => RegistryError::TooLarge {
                repository: self.name.clone(),
                what: what.to_owned(),
                object: object.to_owned(),
                size,
                limit,
            },
            ReadError::Http(e) => match self.session.unreachable(&e) {
                RegistryError::Unreachable { registry, message } if retries > 0 => {
                    RegistryError::Unreachable {
                        registry,
                        message: format!("{message} (after {retries} retries)"),
                    }
                }
                other => other,
            },
        }
    }

    /// The wait before reading a GET's body again, when the last read (number `attempt`,
    /// the first began at `started`) was cut off: the connection dropped mid-body, as
    /// [`RegistrySession::execute`] retries one dropped before the answer. `None` (give up)
    /// on a timeout, an oversized body, after [`Limits::max_retries`], or when the wait would
    /// end past the request deadline.
    fn body_retry(
        &self,
        e: &ReadError,
        attempt: u32,
        started: std::time::Instant,
    ) -> Option<std::time::Duration> {
        let ReadError::Http(e) = e else {
            return None;
        };
        if e.is_timeout() || attempt >= self.limits.max_retries {
            return None;
        }
        let wait = backoff(&self.limits, attempt);
        let deadline = started.checked_add(self.limits.request_timeout)?;
        (std::time::Instant::now().checked_add(wait)? < deadline).then_some(wait)
    }

    /// Monolithic upload of a blob known to be absent; `hook` sees the bytes go out.
    async fn upload_blob(
        &self,
        body: bytes::Bytes,
        digest: &Digest,
        hook: Option<&ProgressHook>,
    ) -> Result<Digest, RegistryError> {
        // Monolithic upload: POST to open a session, then one PUT with the content.
        let start = format!("{}/v2/{}/blobs/uploads/", self.session.base, self.path);
        let resp = self
            .session
            .send(&self.path, Scope::Push, Method::POST, &start, |rb| {
                rb.header(CONTENT_LENGTH, "0")
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED && !resp.status().is_success() {
            return Err(self.status_error("POST blob upload", resp).await);
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol("POST blob upload", "no Location header in the answer"))?;
        let base = reqwest::Url::parse(&start)
            .map_err(|e| self.protocol("POST blob upload", e.to_string()))?;
        let mut upload = base.join(location).map_err(|e| {
            self.protocol(
                "POST blob upload",
                format!("bad Location `{location}`: {e}"),
            )
        })?;
        upload
            .query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        // One high-water mark across retried requests, so reported counts never go back.
        let high = Arc::new(AtomicU64::new(0));
        let make_body = |body: &bytes::Bytes| -> reqwest::Body {
            match hook {
                Some(hook) => reqwest::Body::wrap(CountingBody {
                    data: body.clone(),
                    pos: 0,
                    high: high.clone(),
                    digest: digest.clone(),
                    hook: hook.clone(),
                }),
                None => reqwest::Body::from(body.clone()),
            }
        };
        let resp = if self.same_registry(&upload) {
            self.session
                .send(
                    &self.path,
                    Scope::Push,
                    Method::PUT,
                    upload.as_str(),
                    |rb| {
                        rb.header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, body.len())
                            .body(make_body(&body))
                    },
                )
                .await?
        } else {
            // Never send our credentials to another host.
            let _permit = self.session.in_flight.acquire().await;
            self.session.count_request();
            self.session
                .http
                .put(upload.as_str())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, body.len())
                .body(make_body(&body))
                .send()
                .await
                .map_err(|e| self.session.unreachable(&e))?
        };
        if !resp.status().is_success() {
            return Err(self.status_error("PUT blob", resp).await);
        }
        Ok(digest.clone())
    }

    async fn blob_exists(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let url = self.url("blobs", &digest.to_string());
        let resp = self
            .session
            .send(&self.path, Scope::Push, Method::HEAD, &url, |rb| rb)
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error("HEAD blob", resp).await),
        }
    }

    /// Tags of this repository from the tag list API (`GET /v2/<name>/tags/list?n=<page>`),
    /// following `Link: <…>; rel="next"` pages on this registry, at most `max` tags (then
    /// `truncated` is true). Each page body is capped at [`Limits::max_manifest_bytes`]. A
    /// repository the registry does not know is [`RegistryError::ManifestNotFound`].
    pub async fn list_tags(&self, max: usize, page: usize) -> Result<TagList, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let page = page.clamp(1, 10_000);
        let mut url = format!("{}/v2/{}/tags/list?n={page}", self.session.base, self.path);
        let mut out = TagList::default();
        // Each page makes progress or the loop ends: at most one page per tag, plus one.
        for _ in 0..=max {
            let resp = self
                .session
                .send(&self.path, Scope::Pull, Method::GET, &url, |rb| {
                    rb.header(ACCEPT, "application/json")
                })
                .await?;
            let status = resp.status();
            if status == StatusCode::NOT_FOUND {
                drain(resp).await;
                return Err(RegistryError::ManifestNotFound {
                    repository: self.name.clone(),
                    reference: "(tag list)".to_owned(),
                });
            }
            if !status.is_success() {
                return Err(self.status_error("GET tags/list", resp).await);
            }
            let next = resp
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let limit = self.limits.max_manifest_bytes;
            let body = read_capped(resp, limit).await.map_err(|e| {
                self.read_error(e, "max_manifest_bytes: tag list", "tags/list", limit, 0)
            })?;
            let parsed: Page = serde_json::from_slice(&body)
                .map_err(|e| self.protocol("GET tags/list", format!("not a tag list: {e}")))?;
            let tags = parsed.tags.unwrap_or_default();
            let got = tags.len();
            for t in tags {
                if out.tags.len() >= max {
                    out.truncated = true;
                    return Ok(out);
                }
                out.tags.push(t);
            }
            let Some(next) = next else {
                return Ok(out);
            };
            if got == 0 {
                return Ok(out);
            }
            let base = reqwest::Url::parse(&url)
                .map_err(|e| self.protocol("GET tags/list", e.to_string()))?;
            let joined = base
                .join(&next)
                .map_err(|e| self.protocol("GET tags/list", format!("bad Link `{next}`: {e}")))?;
            if !self.same_registry(&joined) {
                return Err(self.protocol(
                    "GET tags/list",
                    format!("the next page `{joined}` is on another host"),
                ));
            }
            url = joined.to_string();
        }
        out.truncated = true;
        Ok(out)
    }

    /// Whether `url` points at this registry (credentials are only ever sent there).
    fn same_registry(&self, url: &reqwest::Url) -> bool {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => return false,
        };
        host == self.session.host
    }
}

impl Repository for RemoteRepository {
    fn name(&self) -> &str {
        &self.name
    }

    async fn get_manifest(
        &self,
        reference: ManifestRef<'_>,
    ) -> Result<Option<Manifest>, RegistryError> {
        let object = match reference {
            ManifestRef::Tag(t) => t.to_owned(),
            ManifestRef::Digest(d) => d.to_string(),
        };
        let url = self.url("manifests", &object);
        let accept = media_types::ACCEPTED_MANIFESTS.join(", ");
        let limit = self.limits.max_manifest_bytes;
        let started = std::time::Instant::now();
        let mut attempt = 0;
        let (bytes, content_type, header_digest) = loop {
            let resp = self
                .session
                .send(&self.path, Scope::Pull, Method::GET, &url, |rb| {
                    rb.header(ACCEPT, &accept)
                })
                .await?;
            let status = resp.status();
            if status == StatusCode::NOT_FOUND {
                drain(resp).await;
                return Ok(None);
            }
            if !status.is_success() {
                return Err(self.status_error("GET manifest", resp).await);
            }
            let content_type = resp
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
            let header_digest = resp
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<Digest>().ok());
            match read_capped(resp, limit).await {
                Ok(bytes) => break (bytes, content_type, header_digest),
                Err(e) => match self.body_retry(&e, attempt, started) {
                    Some(wait) => {
                        tracing::debug!(url, attempt, ?wait, "manifest body cut off; retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => {
                        return Err(self.read_error(
                            e,
                            "max_manifest_bytes: manifest",
                            &object,
                            limit,
                            attempt,
                        ));
                    }
                },
            }
        };
        let digest = Digest::of(&bytes);
        let expected = match reference {
            ManifestRef::Digest(d) => Some(d.clone()),
            ManifestRef::Tag(_) => header_digest,
        };
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(RegistryError::DigestMismatch {
                repository: self.name.clone(),
                what: format!("manifest `{object}`"),
                expected,
                actual: digest,
            });
        }
        Manifest::checked(digest, bytes, content_type)
            .map(Some)
            .map_err(|e| {
                self.protocol(
                    "GET manifest",
                    format!("manifest `{object}` is not JSON: {e}"),
                )
            })
    }

    async fn put_manifest(
        &self,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(bytes);
        let object = match tag {
            Some(t) => t.to_owned(),
            None => digest.to_string(),
        };
        let url = self.url("manifests", &object);
        let resp = self
            .session
            .send(&self.path, Scope::Push, Method::PUT, &url, |rb| {
                rb.header(CONTENT_TYPE, media_type).body(bytes.to_vec())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.status_error("PUT manifest", resp).await);
        }
        if let Some(stored) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok())
            && stored != digest
        {
            return Err(RegistryError::DigestMismatch {
                repository: self.name.clone(),
                what: format!("stored manifest `{object}`"),
                expected: digest,
                actual: stored,
            });
        }
        Ok(digest)
    }

    async fn get_blob(
        &self,
        digest: &Digest,
        max_bytes: u64,
    ) -> Result<Arc<Vec<u8>>, RegistryError> {
        let object = digest.to_string();
        let url = self.url("blobs", &object);
        let started = std::time::Instant::now();
        let mut attempt = 0;
        let bytes = loop {
            let resp = self
                .session
                .send(&self.path, Scope::Pull, Method::GET, &url, |rb| rb)
                .await?;
            let status = resp.status();
            if status == StatusCode::NOT_FOUND {
                drain(resp).await;
                return Err(RegistryError::BlobNotFound {
                    repository: self.name.clone(),
                    digest: digest.clone(),
                });
            }
            if !status.is_success() {
                return Err(self.status_error("GET blob", resp).await);
            }
            match read_capped(resp, max_bytes).await {
                Ok(bytes) => break bytes,
                Err(e) => match self.body_retry(&e, attempt, started) {
                    Some(wait) => {
                        tracing::debug!(url, attempt, ?wait, "blob body cut off; retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => {
                        return Err(self.read_error(e, "blob", &object, max_bytes, attempt));
                    }
                },
            }
        };
        super::checked_blob(&self.name, digest, bytes).map(Arc::new)
    }

    async fn put_blob(&self, blob: Blob) -> Result<Digest, RegistryError> {
        let (digest, bytes) = (blob.digest().clone(), blob.bytes().clone());
        if self.blob_exists(&digest).await? {
            return Ok(digest);
        }
        let hook = self
            .progress
            .as_ref()
            .filter(|_| bytes.len() as u64 >= PROGRESS_MIN_BYTES);
        let Some(hook) = hook else {
            return self.upload_blob(bytes, &digest, None).await;
        };
        let total = bytes.len() as u64;
        hook.emit(&ProgressEvent::Started {
            repository: self.name.clone(),
            digest: digest.clone(),
            total,
        });
        let result = self.upload_blob(bytes, &digest, Some(hook)).await;
        hook.emit(&match &result {
            Ok(_) => ProgressEvent::Finished {
                digest: digest.clone(),
                total,
            },
            Err(_) => ProgressEvent::Failed {
                digest: digest.clone(),
            },
        });
        result
    }

    async fn referrers_api(&self, subject: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        use std::sync::atomic::Ordering;
        if self.session.no_referrers_api.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let object = subject.to_string();
        let url = self.url("referrers", &object);
        let resp = self
            .session
            .send(&self.path, Scope::Pull, Method::GET, &url, |rb| {
                rb.header(ACCEPT, media_types::OCI_INDEX)
            })
            .await?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.status_error("GET referrers", resp).await);
        }
        let is_index = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim())
            == Some(media_types::OCI_INDEX);
        if status == StatusCode::OK && is_index {
            let limit = self.limits.max_manifest_bytes;
            let bytes = read_capped(resp, limit).await.map_err(|e| {
                self.read_error(e, "max_manifest_bytes: referrers index", &object, limit, 0)
            })?;
            self.session.referrers_api.store(true, Ordering::Relaxed);
            return Ok(Some(bytes));
        }
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            return Err(self.status_error("GET referrers", resp).await);
        }
        // 404/400/405/406/501, or an answer of another type: no referrers API (ggcr's rule).
        // A registry that has the API answers a missing repository or subject with a JSON
        // error (or an empty index); a bare 404/405/501 comes from a router that lacks the
        // route entirely, which holds for every repository of this registry.
        let json_error = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        if matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
        ) && !json_error
        {
            self.session.no_referrers_api.store(true, Ordering::Relaxed);
        }
        drain(resp).await;
        Ok(None)
    }

    fn has_referrers_api(&self) -> bool {
        self.session.referrers_api.load(Ordering::Relaxed)
    }
}

/// A repository's tags ([`RemoteRepository::list_tags`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagList {
    /// Tags in the registry's order.
    pub tags: Vec<String>,
    /// Whether more were left off at the limit.
    pub truncated: bool,
}

/// The target of the `rel="next"` entry of a `Link` header (`<url>; rel="next"`).
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| target.to_owned())
    })
}

/// Whether a distribution error body (`{"errors":[{"code":…}]}`) carries `code`.
fn has_error_code(body: &[u8], code: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
    }
    serde_json::from_slice::<Body>(body).is_ok_and(|b| b.errors.iter().any(|e| e.code == code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_next() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<http://x/prev>; rel="prev", <http://x/n>; rel=next"#).as_deref(),
            Some("http://x/n")
        );
        assert_eq!(next_link(r#"<http://x/p>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn distribution_error_codes() {
        let body = br#"{"errors":[{"code":"DIGEST_INVALID","message":"x"},{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:ab"}]}"#;
        assert!(has_error_code(body, "MANIFEST_BLOB_UNKNOWN"));
        assert!(!has_error_code(body, "NAME_UNKNOWN"));
        assert!(!has_error_code(
            b"<html>bad gateway</html>",
            "MANIFEST_BLOB_UNKNOWN"
        ));
        assert!(!has_error_code(b"{}", "MANIFEST_BLOB_UNKNOWN"));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let secs = std::time::Duration::from_secs;
        assert_eq!(retry_after("7", now), Some(secs(7)));
        assert_eq!(retry_after(" 0 ", now), Some(secs(0)));
        assert_eq!(
            retry_after("Wed, 02 Dec 2026 12:00:30 GMT", now),
            Some(secs(30))
        );
        // A date in the past means: now.
        assert_eq!(
            retry_after("Wed, 02 Dec 2026 11:00:00 GMT", now),
            Some(secs(0))
        );
        assert_eq!(
            retry_after(&u64::MAX.to_string(), now),
            Some(secs(u64::MAX))
        );
        for junk in ["-1", "1.5", "soon", "", "99999999999999999999999"] {
            assert_eq!(retry_after(junk, now), None, "{junk}");
        }
    }

    #[test]
    fn backoff_grows_from_a_base_derived_from_the_deadline() {
        let ms = std::time::Duration::from_millis;
        let defaults = Limits::default();
        assert_eq!(backoff(&defaults, 0), ms(500));
        assert_eq!(backoff(&defaults, 2), ms(2000));
        let tight = Limits {
            request_timeout: ms(2000),
            ..Limits::default()
        };
        assert_eq!(backoff(&tight, 0), ms(20));
        assert_eq!(backoff(&tight, 1), ms(40));
        // Never overflows.
        let _ = backoff(&defaults, u32::MAX);
        for s in [429, 500, 502, 503, 504] {
            assert!(retryable_status(StatusCode::from_u16(s).unwrap()));
        }
        for s in [400, 401, 404, 501] {
            assert!(!retryable_status(StatusCode::from_u16(s).unwrap()));
        }
    }

    /// Neither the docker config password, an identity token nor a bearer token appears in
    /// the `Debug` text of the session (nor of the `Client` that holds the sessions).
    #[tokio::test]
    async fn debug_output_redacts_credentials_and_tokens() {
        let session = RegistrySession::new(
            "registry.example",
            "https",
            reqwest::Client::new(),
            AuthSource::Anonymous,
            Limits::default(),
            super::super::client::DEFAULT_MAX_REQUESTS_PER_REGISTRY,
            Arc::default(),
        );
        session
            .credential
            .set(Some(Credential::UsernamePassword(
                "alice".into(),
                "hunter2-password".into(),
            )))
            .unwrap();
        let slot = session.token_slot("app", Scope::Pull);
        *slot.lock().await = auth::parse_token_response(br#"{"token":"bearer-secret-xyz"}"#).ok();
        let text = format!("{session:?}");
        for secret in ["hunter2-password", "bearer-secret-xyz"] {
            assert!(!text.contains(secret), "{text}");
        }
        let c = Credential::IdentityToken("refresh-secret".into());
        assert!(!format!("{c:?}").contains("refresh-secret"));
        let c = Credential::UsernamePassword("alice".into(), "hunter2-password".into());
        assert!(!format!("{c:?}").contains("hunter2-password"));
        let t = auth::parse_token_response(br#"{"access_token":"bearer-secret-xyz"}"#).unwrap();
        assert!(!format!("{t:?}").contains("bearer-secret-xyz"));
        let config = super::super::RegistryConfig::default();
        let client = super::super::Client::new(config).unwrap();
        assert!(!format!("{client:?}").contains("hunter2-password"));
    }
}
