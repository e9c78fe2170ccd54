//! Keyless signing: an OIDC identity token, an ephemeral P-256 key held only in memory, a
//! short-lived Fulcio certificate, a Rekor v1 entry and (when a timestamp authority is
//! configured) an RFC 3161 timestamp; and the Rekor upload of key signatures
//! (`--tlog-upload`).
//!
//! What comes from `sigstore-sign` and what is written here:
//! - Message signatures of blobs (`sign-blob` without a key) go through
//!   [`sigstore_sign::Signer::sign`] unchanged: it makes exactly the hashedrekord bundle v0.3
//!   cosign writes.
//! - Service selection from a `signing_config.json` (v0.2) is
//!   [`sigstore_sign::SigningServices::from_signing_config_with_rekor_version`], pinned to
//!   Rekor v1 (every Rekor imprint writes entries for is v1: the legacy `.sig` Rekor bundle
//!   annotation exists only for v1 entries, and the public-good v1 log is still listed).
//! - Everything else uses the crate's service clients (`fulcio`, `tsa`, `crypto`) through a
//!   [`KeylessSession`], because the high-level `Signer` does not fit:
//!   - it never exposes the certificate chain nor the raw Rekor response, which a legacy
//!     `.sig` layer needs (`dev.sigstore.cosign/chain` and the `dev.sigstore.cosign/bundle`
//!     SET payload, as cosign writes them);
//!   - it logs DSSE envelopes as Rekor `dsse` 0.0.1 entries, whose canonical body only a real
//!     Rekor computes (the Sigstore mock stores proposed entries as they are), while cosign
//!     (v2 `attest`) and sigstore-js log `intoto` 0.0.2 entries, which verify either way;
//!   - its Rekor client only logs certificates, not the public keys of `--tlog-upload` key
//!     signatures.
//!
//!   So Rekor entries are proposed here (`hashedrekord` 0.0.1 and `intoto` 0.0.2, in the JSON
//!   shape cosign and sigstore-js send) and the answer is read into `sigstore_rekor::LogEntry`.
//! - The GitHub Actions ambient token is fetched here, from an injected environment, instead of
//!   `sigstore_oidc::IdentityToken::detect_ambient`, which reads the process environment and
//!   tries several CI providers.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sigstore_sign::crypto::KeyPair;
use sigstore_sign::fulcio::{FulcioClient, SigningCertificate};
use sigstore_sign::oidc::IdentityToken;
use sigstore_sign::rekor::{LogEntry, RekorApiVersion};
use sigstore_sign::tsa::TimestampClient;
use sigstore_sign::types::{
    Bundle, DerCertificate, DsseEnvelope, DsseSignature, KeyId, KindVersion, PayloadBytes,
    SignatureBytes, TimestampToken, TransparencyLogEntry,
};
use sigstore_sign::{SigningContext, SigningServices};

use crate::format::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::SigningKey;

/// The environment variable holding an identity token (as cosign reads it).
pub const SIGSTORE_ID_TOKEN: &str = "SIGSTORE_ID_TOKEN";
/// GitHub Actions: the URL to ask for an OIDC token.
pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// GitHub Actions: the bearer token for [`ACTIONS_ID_TOKEN_REQUEST_URL`].
pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
/// The audience Fulcio expects.
pub const SIGSTORE_AUDIENCE: &str = "sigstore";
/// Largest answer read from any signing service.
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// Errors of keyless signing and of Rekor uploads. Token values never appear in them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// No identity token was given and none could be found in the environment.
    #[error(
        "no OIDC identity token: pass --identity-token TOKEN|FILE, set SIGSTORE_ID_TOKEN, or run \
         in GitHub Actions with `id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN); or sign \
         with --key"
    )]
    NoToken,
    /// The identity token is not a JWT with the claims Fulcio needs.
    #[error("the identity token from {source_name} is not usable: {reason}")]
    Token {
        /// Where it came from (flag, file, variable, GitHub Actions).
        source_name: String,
        /// Why (never the token itself).
        reason: String,
    },
    /// The identity token has expired.
    #[error("the identity token from {0} has expired")]
    TokenExpired(String),
    /// Fetching the GitHub Actions token failed.
    #[error("fetching the GitHub Actions identity token failed: {0}")]
    Ambient(String),
    /// The signing config or service flags cannot be used.
    #[error("signing services: {0}")]
    Services(String),
    /// Fulcio refused or failed.
    #[error("Fulcio at {url}: {message}")]
    Fulcio {
        /// Fulcio URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// Rekor refused or failed.
    #[error("Rekor at {url}: {message}")]
    Rekor {
        /// Rekor URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The timestamp authority refused or failed.
    #[error("timestamp authority at {url}: {message}")]
    Timestamp {
        /// TSA URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// Signing with the ephemeral or given key failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The signed result could not be encoded.
    #[error("bundle: {0}")]
    Bundle(String),
}

/// Where an identity token came from; shown in errors instead of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `--identity-token VALUE`.
    Flag,
    /// `--identity-token FILE`.
    File(String),
    /// `SIGSTORE_ID_TOKEN`.
    Environment,
    /// The GitHub Actions token service.
    GithubActions,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag => f.write_str("--identity-token"),
            Self::File(p) => write!(f, "--identity-token file {p}"),
            Self::Environment => f.write_str(SIGSTORE_ID_TOKEN),
            Self::GithubActions => f.write_str("GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL)"),
        }
    }
}

/// A parsed (not authenticated: Fulcio authenticates it) OIDC identity token.
#[derive(Clone)]
pub struct Token {
    inner: IdentityToken,
    source: TokenSource,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("source", &self.source)
            .field("issuer", &self.inner.issuer())
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Parses a raw JWT; refuses an expired one.
    pub fn parse(raw: &str, source: TokenSource) -> Result<Self, KeylessError> {
        let inner = IdentityToken::from_jwt(raw.trim()).map_err(|e| KeylessError::Token {
            source_name: source.to_string(),
            reason: e.to_string(),
        })?;
        if inner.is_expired() {
            return Err(KeylessError::TokenExpired(source.to_string()));
        }
        Ok(Self { inner, source })
    }

    /// The token's `iss` claim (unauthenticated).
    pub fn issuer(&self) -> &str {
        self.inner.issuer()
    }

    /// The identity Fulcio will certify (email, else subject; unauthenticated).
    pub fn identity(&self) -> &str {
        self.inner.identity()
    }

    /// Where the token came from.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }
}

/// Finds the identity token as cosign does: `given` (`--identity-token`: a file when one exists
/// at that path, else the token itself), then `SIGSTORE_ID_TOKEN`, then the GitHub Actions
/// token service (audience `sigstore`). `env` reads environment variables (injected for tests).
pub async fn identity_token(
    given: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    http: &reqwest::Client,
) -> Result<Token, KeylessError> {
    if let Some(given) = given.filter(|g| !g.trim().is_empty()) {
        let path = std::path::Path::new(given);
        if path.is_file() {
            let bytes =
                crate::fs::read_limited(path, 1 << 20).map_err(|e| KeylessError::Token {
                    source_name: format!("--identity-token file {given}"),
                    reason: e.to_string(),
                })?;
            let text = String::from_utf8_lossy(&bytes);
            return Token::parse(&text, TokenSource::File(given.to_owned()));
        }
        return Token::parse(given, TokenSource::Flag);
    }
    if let Some(t) = env(SIGSTORE_ID_TOKEN).filter(|t| !t.trim().is_empty()) {
        return Token::parse(&t, TokenSource::Environment);
    }
    if let (Some(url), Some(bearer)) = (
        env(ACTIONS_ID_TOKEN_REQUEST_URL),
        env(ACTIONS_ID_TOKEN_REQUEST_TOKEN),
    ) {
        let raw = github_actions_token(&url, &bearer, http).await?;
        return Token::parse(&raw, TokenSource::GithubActions);
    }
    Err(KeylessError::NoToken)
}

/// Asks the GitHub Actions token service for a token with audience `sigstore`.
async fn github_actions_token(
    url: &str,
    bearer: &str,
    http: &reqwest::Client,
) -> Result<String, KeylessError> {
    let mut u = reqwest::Url::parse(url).map_err(|e| {
        KeylessError::Ambient(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"))
    })?;
    u.query_pairs_mut()
        .append_pair("audience", SIGSTORE_AUDIENCE);
    let resp = http
        .get(u)
        .bearer_auth(bearer)
        .send()
        .await
        .map_err(|e| KeylessError::Ambient(e.without_url().to_string()))?;
    let status = resp.status();
    let body = read_body(resp).await.map_err(KeylessError::Ambient)?;
    if !status.is_success() {
        return Err(KeylessError::Ambient(format!("HTTP {status}")));
    }
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| KeylessError::Ambient(format!("answer is not JSON: {e}")))?;
    v["value"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| KeylessError::Ambient("answer has no `value`".into()))
}

async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!("answer is larger than {MAX_RESPONSE_BYTES} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The public-good Fulcio, used when neither a signing config nor `--fulcio-url` is given.
pub const PUBLIC_GOOD_FULCIO: &str = "https://fulcio.sigstore.dev";
/// The public-good Rekor v1.
pub const PUBLIC_GOOD_REKOR: &str = "https://rekor.sigstore.dev";

/// The services one signing run talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    /// Fulcio base URL.
    pub fulcio: String,
    /// Rekor v1 base URL.
    pub rekor: String,
    /// RFC 3161 timestamp authority (the full URL requests are posted to), if any.
    pub tsa: Option<String>,
}

/// How the services are chosen: a signing config, then single flags on top of it, else the
/// public-good defaults.
#[derive(Debug, Clone, Default)]
pub struct ServiceChoice {
    /// `signing_config.json` (Sigstore signing config v0.2) text.
    pub signing_config: Option<String>,
    /// `--fulcio-url`.
    pub fulcio: Option<String>,
    /// `--rekor-url`.
    pub rekor: Option<String>,
    /// `--timestamp-server-url`.
    pub tsa: Option<String>,
}

impl ServiceChoice {
    /// Resolves the services. A signing config's Rekor must offer API v1.
    pub fn resolve(&self) -> Result<Services, KeylessError> {
        let base = match &self.signing_config {
            Some(text) => {
                let cfg = sigstore_sign::trust_root::SigningConfig::from_json(text)
                    .map_err(|e| KeylessError::Services(format!("signing config: {e}")))?;
                let s = SigningServices::from_signing_config_with_rekor_version(
                    &cfg,
                    Some(RekorApiVersion::V1),
                )
                .map_err(|e| KeylessError::Services(format!("signing config: {e}")))?;
                Services {
                    fulcio: s.fulcio_url().to_owned(),
                    rekor: s.rekor_url().to_owned(),
                    tsa: s.tsa_url().map(str::to_owned),
                }
            }
            None => Services {
                fulcio: PUBLIC_GOOD_FULCIO.to_owned(),
                rekor: PUBLIC_GOOD_REKOR.to_owned(),
                tsa: None,
            },
        };
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        let out = Services {
            fulcio: self.fulcio.as_deref().map_or(base.fulcio, trim),
            rekor: self.rekor.as_deref().map_or(base.rekor, trim),
            tsa: self.tsa.as_deref().map(str::to_owned).or(base.tsa),
        };
        for (what, url) in [("Fulcio", &out.fulcio), ("Rekor", &out.rekor)] {
            reqwest::Url::parse(url)
                .map_err(|e| KeylessError::Services(format!("{what} URL `{url}`: {e}")))?;
        }
        Ok(out)
    }
}

/// The HTTP client for the signing services (rustls on aws-lc-rs, timeouts).
pub fn http_client() -> Result<reqwest::Client, KeylessError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("imprint/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| KeylessError::Services(format!("HTTP client: {e}")))
}

/// Signs `data` keyless and returns the Sigstore bundle v0.3 (hashedrekord message signature,
/// certificate, Rekor entry, and an RFC 3161 timestamp when `services.tsa` is set): what
/// `cosign sign-blob --bundle` writes. This is [`sigstore_sign::Signer::sign`].
pub async fn sign_blob(
    services: &Services,
    token: &Token,
    data: &[u8],
    http: &reqwest::Client,
) -> Result<Bundle, KeylessError> {
    let mut s = SigningServices::new(&services.fulcio, &services.rekor);
    if let Some(tsa) = &services.tsa {
        s = s.with_tsa_url(tsa);
    }
    let signer = SigningContext::new(s)
        .with_http_client(http.clone())
        .signer(token.inner.clone());
    signer.sign(data).await.map_err(|e| sign_error(services, e))
}

fn sign_error(services: &Services, e: sigstore_sign::Error) -> KeylessError {
    use sigstore_sign::Error as E;
    match e {
        E::Fulcio(e) => KeylessError::Fulcio {
            url: services.fulcio.clone(),
            message: e.to_string(),
        },
        E::Rekor(e) => KeylessError::Rekor {
            url: services.rekor.clone(),
            message: e.to_string(),
        },
        E::Tsa(e) => KeylessError::Timestamp {
            url: services.tsa.clone().unwrap_or_default(),
            message: e.to_string(),
        },
        other => KeylessError::Signing(other.to_string()),
    }
}

/// One Rekor v1 entry as the log returned it.
#[derive(Debug, Clone)]
pub struct RekorEntry {
    entry: LogEntry,
    raw: Value,
    kind_version: KindVersion,
}

impl RekorEntry {
    /// The entry in bundle form (`tlogEntries[]`).
    pub fn to_bundle_entry(&self) -> Result<TransparencyLogEntry, KeylessError> {
        self.entry
            .to_bundle_entry(self.kind_version)
            .map_err(|e| KeylessError::Bundle(format!("Rekor entry: {e}")))
    }

    /// The `dev.sigstore.cosign/bundle` annotation cosign writes on legacy layers:
    /// `{"SignedEntryTimestamp":…,"Payload":{"body":…,"integratedTime":…,"logIndex":…,"logID":…}}`.
    pub fn cosign_bundle_annotation(&self) -> Result<String, KeylessError> {
        let set = self.raw["verification"]["signedEntryTimestamp"]
            .as_str()
            .ok_or_else(|| {
                KeylessError::Bundle("Rekor entry has no signed entry timestamp".into())
            })?;
        let v = json!({
            "SignedEntryTimestamp": set,
            "Payload": {
                "body": self.raw["body"],
                "integratedTime": self.raw["integratedTime"],
                "logIndex": self.raw["logIndex"],
                "logID": self.raw["logID"],
            }
        });
        Ok(v.to_string())
    }

    /// The log index.
    pub fn log_index(&self) -> u64 {
        self.raw["logIndex"].as_u64().unwrap_or_default()
    }
}

/// Posts a proposed entry to Rekor v1 (`/api/v1/log/entries`) and reads the one entry back.
pub async fn rekor_upload(
    rekor: &str,
    proposed: &Value,
    kind_version: KindVersion,
    http: &reqwest::Client,
) -> Result<RekorEntry, KeylessError> {
    let err = |message: String| KeylessError::Rekor {
        url: rekor.to_owned(),
        message,
    };
    let resp = http
        .post(format!("{rekor}/api/v1/log/entries"))
        .json(proposed)
        .send()
        .await
        .map_err(|e| err(e.without_url().to_string()))?;
    let status = resp.status();
    let body = read_body(resp).await.map_err(&err)?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let text: String = text.chars().take(300).collect();
        return Err(err(format!("HTTP {status}: {}", text.trim())));
    }
    let map: BTreeMap<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| err(format!("answer is not a JSON object of entries: {e}")))?;
    let mut entries = map.into_iter();
    let (Some((_uuid, raw)), None) = (entries.next(), entries.next()) else {
        return Err(err("answer does not hold exactly one entry".into()));
    };
    let entry: LogEntry =
        serde_json::from_value(raw.clone()).map_err(|e| err(format!("malformed entry: {e}")))?;
    Ok(RekorEntry {
        entry,
        raw,
        kind_version,
    })
}

/// A `hashedrekord` 0.0.1 proposal: the sha256 of the signed bytes, the signature and the PEM
/// of the certificate or public key (base64), as cosign sends it.
pub fn hashedrekord_proposal(signed: &[u8], signature: &[u8], verifier_pem: &str) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": format::digest::Digest::of(signed).hex()}},
            "signature": {
                "content": B64.encode(signature),
                "publicKey": {"content": B64.encode(verifier_pem)},
            },
        },
    })
}

/// An `intoto` 0.0.2 proposal for a one-signature DSSE envelope (payload and signature
/// base64-encoded twice, the verifier's PEM base64-encoded, `hash` over the canonical
/// envelope-with-verifier), as cosign and sigstore-js send it.
pub fn intoto_proposal(
    payload_type: &str,
    payload: &[u8],
    signature: &[u8],
    verifier_pem: &str,
) -> Value {
    let payload_b64 = B64.encode(payload);
    let sig_b64 = B64.encode(signature);
    // RFC 8785 for this shape is sorted keys, no spaces (all values are ASCII strings).
    let canonical = json!({
        "payload": payload_b64,
        "payloadType": payload_type,
        "signatures": [{"publicKey": verifier_pem, "sig": sig_b64}],
    });
    let envelope_hash = format::digest::Digest::of(canonical.to_string().as_bytes());
    json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payloadType": payload_type,
                    "payload": B64.encode(&payload_b64),
                    "signatures": [{"sig": B64.encode(&sig_b64), "publicKey": B64.encode(verifier_pem)}],
                },
                "hash": {"algorithm": "sha256", "value": envelope_hash.hex()},
                "payloadHash": {"algorithm": "sha256", "value": format::digest::Digest::of(payload).hex()},
            },
        },
    })
}

/// PEM with LF line endings, as cosign writes certificates and chains.
pub fn pem_lf(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// One keyless signing run: the ephemeral key (memory only, dropped with the session), the
/// Fulcio certificate chain for it, and the services. Everything one command signs (every
/// image, every identity) is signed with this one key and certificate, as cosign does.
pub struct KeylessSession {
    key: KeyPair,
    certificate: SigningCertificate,
    services: Services,
    http: reqwest::Client,
}

impl std::fmt::Debug for KeylessSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessSession")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

/// What the RFC 3161 timestamp of a DSSE envelope covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StampOver {
    /// The signature bytes (bundles: `timestampVerificationData`).
    Signature,
    /// The envelope JSON, as cosign stamps a legacy `.att` layer.
    Envelope,
}

/// A message signature made in a [`KeylessSession`].
#[derive(Debug, Clone)]
pub struct KeylessSignature {
    /// The raw ECDSA signature (ASN.1 DER).
    pub signature: Vec<u8>,
    /// Its Rekor entry.
    pub entry: RekorEntry,
    /// The RFC 3161 timestamp over the signature, when a TSA is configured.
    pub timestamp: Option<Vec<u8>>,
}

/// A DSSE envelope signed in a [`KeylessSession`].
#[derive(Debug, Clone)]
pub struct KeylessEnvelope {
    /// The envelope JSON (cosign layout: payloadType, payload, signatures[{keyid, sig}]).
    pub envelope: Vec<u8>,
    /// The raw signature over the PAE.
    pub signature: Vec<u8>,
    /// The `intoto` Rekor entry.
    pub entry: RekorEntry,
    /// The RFC 3161 timestamp over the signature, when a TSA is configured.
    pub timestamp: Option<Vec<u8>>,
    payload_type: String,
    payload: Vec<u8>,
}

impl KeylessSession {
    /// Makes the ephemeral key and asks Fulcio for its certificate.
    pub async fn start(
        services: Services,
        token: &Token,
        http: reqwest::Client,
    ) -> Result<Self, KeylessError> {
        let key = KeyPair::generate_ecdsa_p256()
            .map_err(|e| KeylessError::Signing(format!("ephemeral key: {e}")))?;
        let fulcio_err = |message: String| KeylessError::Fulcio {
            url: services.fulcio.clone(),
            message,
        };
        let fulcio = FulcioClient::builder(&services.fulcio)
            .with_http_client(http.clone())
            .build()
            .map_err(|e| fulcio_err(e.to_string()))?;
        let certificate = fulcio
            .create_signing_certificate(&token.inner, &key)
            .await
            .map_err(|e| fulcio_err(e.to_string()))?;
        Ok(Self {
            key,
            certificate,
            services,
            http,
        })
    }

    /// The leaf certificate (DER).
    pub fn leaf_der(&self) -> &[u8] {
        self.certificate.leaf_certificate().as_bytes()
    }

    /// The leaf certificate, PEM.
    pub fn leaf_pem(&self) -> String {
        pem_lf("CERTIFICATE", self.leaf_der())
    }

    /// The chain above the leaf (intermediates, then root), PEM, as cosign's chain annotation.
    pub fn chain_pem(&self) -> String {
        self.certificate
            .certificate_chain()
            .iter()
            .skip(1)
            .map(|c| pem_lf("CERTIFICATE", c.as_bytes()))
            .collect()
    }

    /// The services.
    pub fn services(&self) -> &Services {
        &self.services
    }

    async fn timestamp(&self, signature: &[u8]) -> Result<Option<Vec<u8>>, KeylessError> {
        timestamp(self.services.tsa.as_deref(), signature, &self.http).await
    }

    /// Signs `payload` (hashedrekord entry, timestamp).
    pub async fn sign_message(&self, payload: &[u8]) -> Result<KeylessSignature, KeylessError> {
        let signature = self
            .key
            .sign(payload)
            .map_err(|e| KeylessError::Signing(e.to_string()))?
            .as_bytes()
            .to_vec();
        let proposal = hashedrekord_proposal(payload, &signature, &self.leaf_pem());
        let entry = rekor_upload(
            &self.services.rekor,
            &proposal,
            KindVersion::HashedRekordV001,
            &self.http,
        )
        .await?;
        let timestamp = self.timestamp(&signature).await?;
        Ok(KeylessSignature {
            signature,
            entry,
            timestamp,
        })
    }

    /// Signs `payload` as a DSSE envelope of `payload_type` (intoto entry, and a timestamp
    /// over what `stamp` says when a TSA is configured).
    pub async fn sign_dsse(
        &self,
        payload_type: &str,
        payload: &[u8],
        stamp: StampOver,
    ) -> Result<KeylessEnvelope, KeylessError> {
        let signature = self
            .key
            .sign(&format::pae(payload_type, payload))
            .map_err(|e| KeylessError::Signing(e.to_string()))?
            .as_bytes()
            .to_vec();
        let proposal = intoto_proposal(payload_type, payload, &signature, &self.leaf_pem());
        let entry = rekor_upload(
            &self.services.rekor,
            &proposal,
            KindVersion::IntotoV002,
            &self.http,
        )
        .await?;
        let envelope = format::envelope_json(payload_type, payload, &signature);
        let timestamp = match stamp {
            StampOver::Signature => self.timestamp(&signature).await?,
            StampOver::Envelope => self.timestamp(&envelope).await?,
        };
        Ok(KeylessEnvelope {
            envelope,
            signature,
            entry,
            timestamp,
            payload_type: payload_type.to_owned(),
            payload: payload.to_vec(),
        })
    }

    /// A Sigstore bundle v0.3 of a DSSE envelope signed in this session.
    pub fn dsse_bundle(&self, signed: &KeylessEnvelope) -> Result<Bundle, KeylessError> {
        let envelope = DsseEnvelope::new(
            signed.payload_type.clone(),
            PayloadBytes::new(signed.payload.clone()),
            DsseSignature::new(
                SignatureBytes::new(signed.signature.clone()),
                KeyId::default(),
            ),
        );
        let mut b = sigstore_sign::bundle::BundleV03::with_certificate_and_dsse(
            DerCertificate::new(self.leaf_der().to_vec()),
            envelope,
        )
        .with_tlog_entry(signed.entry.to_bundle_entry()?);
        if let Some(ts) = &signed.timestamp {
            b = b.with_rfc3161_timestamp(TimestampToken::new(ts.clone()));
        }
        Ok(b.into_bundle())
    }
}

/// Asks `tsa` (when given) for an RFC 3161 timestamp over sha256(`signature`).
pub async fn timestamp(
    tsa: Option<&str>,
    signature: &[u8],
    http: &reqwest::Client,
) -> Result<Option<Vec<u8>>, KeylessError> {
    let Some(url) = tsa else { return Ok(None) };
    let err = |message: String| KeylessError::Timestamp {
        url: url.to_owned(),
        message,
    };
    let client = TimestampClient::builder(url)
        .with_http_client(http.clone())
        .build()
        .map_err(|e| err(e.to_string()))?;
    let token = client
        .timestamp_signature(&SignatureBytes::new(signature.to_vec()))
        .await
        .map_err(|e| err(e.to_string()))?;
    Ok(Some(token.as_bytes().to_vec()))
}

/// The `dev.sigstore.cosign/rfc3161timestamp` annotation: `{"SignedRFC3161Timestamp":"<b64>"}`.
pub fn cosign_timestamp_annotation(token: &[u8]) -> String {
    json!({"SignedRFC3161Timestamp": B64.encode(token)}).to_string()
}

/// Uploads a key signature of `signed` to Rekor (`--tlog-upload`): a hashedrekord entry with
/// the key's PEM public key.
pub async fn upload_key_signature(
    rekor: &str,
    key: &SigningKey,
    signed: &[u8],
    signature: &[u8],
    http: &reqwest::Client,
) -> Result<RekorEntry, KeylessError> {
    let pem = pem_lf("PUBLIC KEY", key.public_key().spki_der());
    let proposal = hashedrekord_proposal(signed, signature, &pem);
    rekor_upload(rekor, &proposal, KindVersion::HashedRekordV001, http).await
}

/// Uploads a key-signed DSSE envelope to Rekor (`--tlog-upload`): an intoto entry.
pub async fn upload_key_envelope(
    rekor: &str,
    key: &SigningKey,
    payload: &[u8],
    signature: &[u8],
    http: &reqwest::Client,
) -> Result<RekorEntry, KeylessError> {
    let pem = pem_lf("PUBLIC KEY", key.public_key().spki_der());
    let proposal = intoto_proposal(IN_TOTO_PAYLOAD_TYPE, payload, signature, &pem);
    rekor_upload(rekor, &proposal, KindVersion::IntotoV002, http).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn jwt(claims: &Value) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as U;
        format!(
            "{}.{}.",
            U.encode(br#"{"alg":"none"}"#),
            U.encode(claims.to_string())
        )
    }

    #[tokio::test]
    async fn token_sources_in_cosign_order() {
        let good =
            jwt(&json!({"iss": "https://issuer.example", "sub": "me", "exp": 4_000_000_000u64}));
        let http = http_client().unwrap();
        let env_tok = good.clone();
        let env = move |k: &str| (k == SIGSTORE_ID_TOKEN).then(|| env_tok.clone());
        let t = identity_token(None, &env, &http).await.unwrap();
        assert_eq!(t.source(), &TokenSource::Environment);
        assert_eq!(t.issuer(), "https://issuer.example");
        // The flag wins over the environment.
        let t = identity_token(Some(&good), &env, &http).await.unwrap();
        assert_eq!(t.source(), &TokenSource::Flag);
        // None anywhere.
        let none = |_: &str| None;
        assert!(matches!(
            identity_token(None, &none, &http).await,
            Err(KeylessError::NoToken)
        ));
        // Expired and malformed tokens are refused, without echoing the token.
        let old = jwt(&json!({"iss": "i", "sub": "s", "exp": 1}));
        assert!(matches!(
            identity_token(Some(&old), &none, &http).await,
            Err(KeylessError::TokenExpired(_))
        ));
        let e = identity_token(Some("not.a-jwt"), &none, &http)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--identity-token") && !e.contains("not.a-jwt"),
            "{e}"
        );
    }

    /// The GitHub Actions token service: a bearer request for audience `sigstore`, answered
    /// with `{"value": JWT}` (a one-connection HTTP/1.1 server on 127.0.0.1).
    #[tokio::test]
    async fn github_actions_ambient_token() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let good =
            jwt(&json!({"iss": ISSUER_GH, "sub": "repo:acme/widget", "exp": 4_000_000_000u64}));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = good.clone();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let body = json!({"value": answer}).to_string();
            s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
            request
        });
        let url = format!("http://{addr}/token?api-version=2.0");
        let env = move |k: &str| match k {
            ACTIONS_ID_TOKEN_REQUEST_URL => Some(url.clone()),
            ACTIONS_ID_TOKEN_REQUEST_TOKEN => Some("runner-bearer".to_owned()),
            _ => None,
        };
        let t = identity_token(None, &env, &http_client().unwrap())
            .await
            .unwrap();
        assert_eq!(t.source(), &TokenSource::GithubActions);
        assert_eq!(t.issuer(), ISSUER_GH);
        let request = server.await.unwrap().to_lowercase();
        assert!(
            request.starts_with("get /token?api-version=2.0&audience=sigstore "),
            "{request}"
        );
        assert!(
            request.contains("authorization: bearer runner-bearer"),
            "{request}"
        );
        // Only one of the two variables: not GitHub Actions, so no token.
        let half = |k: &str| (k == ACTIONS_ID_TOKEN_REQUEST_TOKEN).then(|| "x".to_owned());
        assert!(matches!(
            identity_token(None, &half, &http_client().unwrap()).await,
            Err(KeylessError::NoToken)
        ));
    }

    const ISSUER_GH: &str = "https://token.actions.githubusercontent.com";

    #[test]
    fn services_from_flags_config_and_defaults() {
        let d = ServiceChoice::default().resolve().unwrap();
        assert_eq!(d.fulcio, PUBLIC_GOOD_FULCIO);
        assert_eq!(d.rekor, PUBLIC_GOOD_REKOR);
        let cfg = r#"{
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [{"url": "https://fulcio.example", "majorApiVersion": 1,
                "validFor": {"start": "2020-01-01T00:00:00Z"}}],
            "rekorTlogUrls": [{"url": "https://rekor2.example", "majorApiVersion": 2,
                "validFor": {"start": "2020-01-01T00:00:00Z"}},
                {"url": "https://rekor.example", "majorApiVersion": 1,
                "validFor": {"start": "2020-01-01T00:00:00Z"}}],
            "tsaUrls": [{"url": "https://tsa.example/api/v1/timestamp", "majorApiVersion": 1,
                "validFor": {"start": "2020-01-01T00:00:00Z"}}],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"}
        }"#;
        let s = ServiceChoice {
            signing_config: Some(cfg.into()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(s.fulcio, "https://fulcio.example");
        assert_eq!(s.rekor, "https://rekor.example", "Rekor v1 is chosen");
        assert_eq!(
            s.tsa.as_deref(),
            Some("https://tsa.example/api/v1/timestamp")
        );
        let s = ServiceChoice {
            signing_config: Some(cfg.into()),
            rekor: Some("http://127.0.0.1:1/".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(s.rekor, "http://127.0.0.1:1");
        assert!(
            ServiceChoice {
                signing_config: Some("{}".into()),
                ..Default::default()
            }
            .resolve()
            .is_err()
        );
        assert!(
            ServiceChoice {
                fulcio: Some("not a url".into()),
                ..Default::default()
            }
            .resolve()
            .is_err()
        );
    }

    #[test]
    fn intoto_proposal_shape() {
        let p = intoto_proposal("t", b"{}", b"sig", "PEM");
        let env = &p["spec"]["content"]["envelope"];
        assert_eq!(env["payload"], B64.encode(B64.encode(b"{}")));
        assert_eq!(env["signatures"][0]["sig"], B64.encode(B64.encode(b"sig")));
        assert_eq!(env["signatures"][0]["publicKey"], B64.encode("PEM"));
        assert_eq!(
            p["spec"]["content"]["payloadHash"]["value"],
            format::digest::Digest::of(b"{}").hex()
        );
    }
}
