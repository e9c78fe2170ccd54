//! The webhook's HTTPS server: rustls (aws-lc-rs provider) with the certificate and key read
//! from PEM files and read again when either file's modification time changes (checked at
//! most once a second, on a handshake; a pair that does not load keeps the previous one), and
//! hyper (HTTP/1.1 and HTTP/2).
//!
//! Routes: `POST /validate`, `POST /mutate` (AdmissionReview in, AdmissionReview out; a body
//! that is too large is answered 413, one that is not an AdmissionReview 400), `GET /healthz`
//! (the process serves), `GET /readyz` (the policy and trust roots are loaded, which they are
//! before the server starts, and it is not shutting down), `GET /metrics`.
//!
//! Shutdown: when the `shutdown` future completes (SIGTERM or ctrl-c in the CLI) the listener
//! closes, `/readyz` turns 503, open connections are told to finish (HTTP/2 GOAWAY, HTTP/1.1
//! close after the current answer) and the server waits for them up to the time budget plus
//! two seconds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{Endpoint, Webhook};

/// Largest certificate or key PEM file read.
const MAX_PEM_BYTES: u64 = 1024 * 1024;
/// Longest TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once; more are closed as they arrive.
const MAX_CONNECTIONS: usize = 4096;
/// Longest wait for an HTTP/1.1 request head (slow clients).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the certificate files are looked at, at most.
const RELOAD_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A certificate or key file could not be read or parsed.
    #[error("TLS {what} `{path}`: {message}")]
    Tls {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where to listen and which certificate to present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on (`0.0.0.0:8443` in `deploy/`).
    pub listen: SocketAddr,
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

/// A bound server, not yet serving (so callers learn the port first).
pub struct Server {
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    certs: Arc<ReloadingCert>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("certs", &self.certs)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Load the certificate and key, bind the address.
    pub async fn bind(config: &ServerConfig) -> Result<Self, ServerError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs = Arc::new(ReloadingCert::load(
            config.cert.clone(),
            config.key.clone(),
            provider.clone(),
        )?);
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Tls {
                what: "configuration",
                path: config.cert.clone(),
                message: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(certs.clone());
        let mut tls = tls;
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.listen,
                source,
            })?;
        Ok(Self {
            listener,
            tls: tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
            certs,
        })
    }

    /// The bound address (the port when `:0` was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// How many times the certificate pair was (re)loaded, the first load included.
    pub fn certificate_loads(&self) -> u64 {
        self.certs.loads()
    }

    /// Serve `webhook` until `shutdown` completes, then drain.
    pub async fn serve(self, webhook: Arc<Webhook>, shutdown: impl Future<Output = ()>) {
        let draining = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                a = self.listener.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!("{MAX_CONNECTIONS} connections open; closing one from {peer}");
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let tls = self.tls.clone();
            let webhook = webhook.clone();
            let draining = draining.clone();
            let mut stop = stop_rx.clone();
            connections.spawn(async move {
                let _slot = slot;
                let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake with {peer}: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake with {peer} timed out");
                        return;
                    }
                };
                let service = hyper::service::service_fn(move |req| {
                    let webhook = webhook.clone();
                    let draining = draining.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(handle(&webhook, &draining, req).await)
                    }
                });
                let mut builder =
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT);
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!("connection from {peer}: {e}");
                        }
                    }
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
            // Reap finished connections so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
        }
        draining.store(true, Ordering::SeqCst);
        drop(self.listener);
        let _ = stop_tx.send(true);
        let grace = webhook.options().budget + Duration::from_secs(2);
        let drained = tokio::time::timeout(grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "{} connection(s) still open after {grace:?}; closing them",
                connections.len()
            );
            connections.abort_all();
        }
    }
}

async fn handle(
    webhook: &Webhook,
    draining: &AtomicBool,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let deadline = tokio::time::Instant::now() + webhook.options().budget;
    let endpoint = match (req.method(), req.uri().path()) {
        (&Method::POST, "/validate") => Endpoint::Validate,
        (&Method::POST, "/mutate") => Endpoint::Mutate,
        (&Method::GET, "/healthz") => return text(StatusCode::OK, "ok\n".to_owned()),
        (&Method::GET, "/readyz") => {
            return if draining.load(Ordering::SeqCst) {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting down\n".to_owned(),
                )
            } else {
                text(StatusCode::OK, "ready\n".to_owned())
            };
        }
        (&Method::GET, "/metrics") => {
            let mut r = text(StatusCode::OK, webhook.render_metrics());
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return r;
        }
        (_, "/validate" | "/mutate" | "/healthz" | "/readyz" | "/metrics") => {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed\n".to_owned(),
            );
        }
        _ => return text(StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    let limit = webhook.options().max_body_bytes;
    let body = Limited::new(
        req.into_body(),
        usize::try_from(limit).unwrap_or(usize::MAX),
    );
    let bytes = match tokio::time::timeout_at(deadline, body.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                let err = super::ReviewError::TooLarge { limit };
                webhook.metrics().rejected_body(endpoint, &err);
                return text(StatusCode::PAYLOAD_TOO_LARGE, format!("{err}\n"));
            }
            return text(
                StatusCode::BAD_REQUEST,
                format!("reading the request body: {e}\n"),
            );
        }
        Err(_) => {
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive within the time budget\n".to_owned(),
            );
        }
    };
    match webhook.review_by(endpoint, &bytes, deadline).await {
        Ok(json) => {
            let mut r = Response::new(Full::new(Bytes::from(json)));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e @ super::ReviewError::TooLarge { .. }) => {
            text(StatusCode::PAYLOAD_TOO_LARGE, format!("{e}\n"))
        }
        Err(e) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The certificate pair, read again when a file's modification time changes.
#[derive(Debug)]
struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    state: Mutex<CertState>,
}

#[derive(Debug)]
struct CertState {
    current: Arc<CertifiedKey>,
    mtimes: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
    loads: u64,
}

impl ReloadingCert {
    fn load(
        cert: PathBuf,
        key: PathBuf,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, ServerError> {
        let mtimes = (mtime(&cert), mtime(&key));
        let current = Arc::new(load_pair(&cert, &key, &provider)?);
        Ok(Self {
            cert,
            key,
            provider,
            state: Mutex::new(CertState {
                current,
                mtimes,
                checked: Instant::now(),
                loads: 1,
            }),
        })
    }

    fn loads(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .loads
    }

    fn current(&self) -> Arc<CertifiedKey> {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if g.checked.elapsed() < RELOAD_CHECK_EVERY {
            return g.current.clone();
        }
        g.checked = Instant::now();
        let mtimes = (mtime(&self.cert), mtime(&self.key));
        if mtimes != g.mtimes {
            match load_pair(&self.cert, &self.key, &self.provider) {
                Ok(pair) => {
                    g.current = Arc::new(pair);
                    g.mtimes = mtimes;
                    g.loads += 1;
                    tracing::info!("reloaded the TLS certificate `{}`", self.cert.display());
                }
                // Half-written files (a secret being updated): keep the old pair, try again
                // on a later handshake.
                Err(e) => tracing::warn!("keeping the previous TLS certificate: {e}"),
            }
        }
        g.current.clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, ServerError> {
    let tls_err = |what, path: &Path, message: String| ServerError::Tls {
        what,
        path: path.to_owned(),
        message,
    };
    let cert_pem = crate::fs::read_limited(cert, MAX_PEM_BYTES)
        .map_err(|e| tls_err("certificate", cert, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err("certificate", cert, format!("not PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(tls_err(
            "certificate",
            cert,
            "no CERTIFICATE block".to_owned(),
        ));
    }
    let key_pem = crate::fs::read_limited(key, MAX_PEM_BYTES)
        .map_err(|e| tls_err("key", key, e.to_string()))?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| tls_err("key", key, format!("no usable private key: {e}")))?;
    CertifiedKey::from_der(chain, private, provider)
        .map_err(|e| tls_err("key", key, format!("does not fit the certificate: {e}")))
}
