//! Registry credentials (from the docker config) and the distribution token protocol.
//!
//! We follow the same protocol as oci-client (and docker, ggcr), without their `GET /v2/`
//! ping: a registry answers a request 200 (no auth), or 401 with a `WWW-Authenticate`
//! challenge. A `Basic` challenge means the
//! credentials go on every request; a `Bearer realm=…,service=…` challenge means a token is
//! fetched from the realm for scope `repository:<repo>:pull[,push]` (with the credentials as
//! HTTP Basic, or an OAuth2 refresh-token exchange for docker `identitytoken` logins, which
//! oci-client does not do) and sent as `Authorization: Bearer`.
//!
//! Unlike oci-client 0.18, which pings `/v2/` again before every operation whenever it holds
//! no cached token (always, for registries that need no auth), the session in
//! [`super::remote`] never pings: it learns the challenge from the first 401 it is answered
//! (once per registry per process), and caches tokens per (repository, scope) until they
//! expire, so a second image of one repository costs no token request.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::RegistryError;
use super::client::AuthSource;

/// Docker Hub's key in docker config files.
const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// Tokens without `expires_in` are valid for 60 s (distribution token spec).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// The longest a token is reused, whatever `expires_in` says.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Margin before a token's stated expiry at which it is refreshed.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// A credential from the docker config. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// `auths.<registry>.auth` / username+password, or a credential helper's answer.
    UsernamePassword(String, String),
    /// `identitytoken`: an OAuth2 refresh token.
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UsernamePassword(user, _) => {
                write!(f, "UsernamePassword({user:?}, <redacted>)")
            }
            Self::IdentityToken(_) => write!(f, "IdentityToken(<redacted>)"),
        }
    }
}

/// Look up the credential for `registry` (blocking: may run a credential helper).
pub(crate) fn lookup_credential(
    source: &AuthSource,
    registry: &str,
) -> Result<Option<Credential>, RegistryError> {
    let dir = match source {
        AuthSource::Anonymous => return Ok(None),
        AuthSource::DockerConfigDir(dir) => Some(dir.clone()),
        AuthSource::DockerConfig => std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker"))),
    };
    let Some(dir) = dir else {
        return Ok(None);
    };
    let path = dir.join("config.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::Auth {
                registry: registry.to_owned(),
                message: format!("cannot read docker config `{}`: {e}", path.display()),
            });
        }
    };
    let keys: &[&str] = if registry == crate::format::reference::DOCKER_HUB_REGISTRY {
        &[DOCKER_HUB_CONFIG_KEY, registry]
    } else {
        &[registry]
    };
    for key in keys {
        use docker_credential::{CredentialRetrievalError as E, DockerCredential as D};
        match docker_credential::get_credential_from_reader(bytes.as_slice(), key) {
            Ok(D::UsernamePassword(u, p)) => return Ok(Some(Credential::UsernamePassword(u, p))),
            Ok(D::IdentityToken(t)) => return Ok(Some(Credential::IdentityToken(t))),
            Err(E::NoCredentialConfigured) => continue,
            Err(e) => {
                // Never include helper output: it may contain the secret.
                let what = match e {
                    E::HelperFailure { helper, .. } => {
                        format!("credential helper `docker-credential-{helper}` failed")
                    }
                    E::HelperCommunicationError => {
                        "could not run the configured credential helper".to_owned()
                    }
                    E::MalformedHelperResponse => {
                        "the credential helper answered something unreadable".to_owned()
                    }
                    E::CredentialDecodingError => {
                        "the `auth` field is not base64 `user:password`".to_owned()
                    }
                    E::CredentialMismatchError => {
                        "the `auth` field disagrees with `username`/`password`".to_owned()
                    }
                    E::ConfigReadError | E::ConfigNotFound => {
                        "the file is not valid JSON".to_owned()
                    }
                    E::NoCredentialConfigured => "no credential".to_owned(),
                };
                return Err(RegistryError::Auth {
                    registry: registry.to_owned(),
                    message: format!("docker config `{}`: {what}", path.display()),
                });
            }
        }
    }
    Ok(None)
}

/// What a registry asked for in the `WWW-Authenticate` header of a 401 (or that it asked for
/// nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// No authentication needed.
    None,
    /// HTTP Basic with the credentials on every request.
    Basic,
    /// Token auth.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// `service` parameter, if given.
        service: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` header value. `None` when the scheme is unknown or a bearer
/// challenge has no realm.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = match header.split_once(char::is_whitespace) {
        Some((s, p)) => (s, p),
        None => (header, ""),
    };
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(params);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let realm = get("realm")?;
    Some(Challenge::Bearer {
        realm,
        service: get("service"),
    })
}

/// `k="v", k2=v2` (quoted values may contain commas and `\"`).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    out
}

/// The access asked of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// `pull`
    Pull,
    /// `pull,push`
    Push,
}

impl Scope {
    pub(crate) fn for_repository(self, repository: &str) -> String {
        match self {
            Self::Pull => format!("repository:{repository}:pull"),
            Self::Push => format!("repository:{repository}:pull,push"),
        }
    }
}

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) value: String,
    pub(crate) refresh_at: Instant,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    pub(crate) fn fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// Whether the registry credentials may be sent to the token `realm` named by the registry at
/// `registry_base` (`https://host[:port]`): over HTTPS always (the realm's certificate is
/// checked); over plain HTTP only to the registry's own host when the registry itself is
/// spoken to over plain HTTP (loopback or `--allow-http-registry`). A hostile registry must not
/// be able to collect the docker config password in clear text on the network, nor turn an
/// HTTPS registry's credentials into a plain-HTTP request.
pub(crate) fn may_send_credentials(
    registry_base: &str,
    realm: &reqwest::Url,
) -> Result<(), String> {
    if realm.scheme() == "https" {
        return Ok(());
    }
    let registry = reqwest::Url::parse(registry_base)
        .map_err(|e| format!("registry address `{registry_base}` is not a URL: {e}"))?;
    if realm.scheme() != "http" {
        return Err(format!(
            "token realm `{realm}` uses scheme `{}`: only https (or http on the registry's own plain-HTTP host) is used",
            realm.scheme()
        ));
    }
    if registry.scheme() == "https" {
        return Err(format!(
            "the registry is spoken to over HTTPS but names a plain-HTTP token realm `{realm}`: refusing to send credentials in clear text"
        ));
    }
    let same_host = registry.host_str().map(str::to_ascii_lowercase)
        == realm.host_str().map(str::to_ascii_lowercase)
        && registry.port_or_known_default() == realm.port_or_known_default();
    if same_host {
        Ok(())
    } else {
        Err(format!(
            "token realm `{realm}` is plain HTTP on another host than the registry: refusing to send credentials in clear text"
        ))
    }
}

/// Parse a token endpoint answer.
pub(crate) fn parse_token_response(body: &[u8]) -> Result<Token, String> {
    let r: TokenResponse = serde_json::from_slice(body)
        .map_err(|e| format!("token response is not the expected JSON: {e}"))?;
    let value = r
        .token
        .filter(|t| !t.is_empty())
        .or(r.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| "token response has neither `token` nor `access_token`".to_owned())?;
    // A registry may claim any lifetime; a huge one must neither overflow the clock
    // (`Instant + Duration` panics) nor keep a token forever.
    let lifetime = r
        .expires_in
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs)
        .min(MAX_TOKEN_LIFETIME);
    let now = Instant::now();
    let refresh_at = now
        .checked_add(lifetime.saturating_sub(TOKEN_EXPIRY_MARGIN))
        .unwrap_or(now);
    Ok(Token { value, refresh_at })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"bearer realm="http://127.0.0.1:1/t?a=1,b=2""#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t?a=1,b=2".into(),
                service: None,
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate abc"), None);
    }

    #[test]
    fn parses_token_responses() {
        let t = parse_token_response(br#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(t.value, "abc");
        assert!(t.fresh());
        let t = parse_token_response(br#"{"access_token":"xyz"}"#).unwrap();
        assert_eq!(t.value, "xyz");
        let t = parse_token_response(br#"{"token":"abc","expires_in":1}"#).unwrap();
        assert!(!t.fresh(), "a token about to expire is refreshed");
        assert!(parse_token_response(br#"{"token":""}"#).is_err());
        assert!(parse_token_response(b"<html>").is_err());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    /// Regression: `Instant::now() + Duration::from_secs(u64::MAX)` panicked ("overflow when
    /// adding duration to instant") in verify, sign and attest.
    #[test]
    fn hostile_token_lifetimes_do_not_panic() {
        let huge = format!(r#"{{"token":"abc","expires_in":{}}}"#, u64::MAX);
        let t = parse_token_response(huge.as_bytes()).unwrap();
        assert!(t.fresh());
        assert!(t.refresh_at <= Instant::now() + MAX_TOKEN_LIFETIME);
        for body in [
            r#"{"token":"abc","expires_in":-1}"#,
            r#"{"token":"abc","expires_in":1e300}"#,
            r#"{"token":"abc","expires_in":"300"}"#,
            r#"{"token":7}"#,
            "[]",
            "",
        ] {
            let e = parse_token_response(body.as_bytes())
                .map(|_| ())
                .unwrap_err();
            assert!(e.contains("token response"), "{body}: {e}");
        }
    }

    #[test]
    fn credentials_go_only_to_safe_realms() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        // HTTPS realms: always (any host, as Docker Hub's auth.docker.io).
        assert!(
            may_send_credentials(
                "https://registry.acme.io",
                &url("https://auth.acme.io/token")
            )
            .is_ok()
        );
        assert!(
            may_send_credentials("http://127.0.0.1:5000", &url("https://auth.acme.io/token"))
                .is_ok()
        );
        // Plain HTTP only to the plain-HTTP registry's own host and port.
        assert!(
            may_send_credentials("http://127.0.0.1:5000", &url("http://127.0.0.1:5000/token"))
                .is_ok()
        );
        let e = may_send_credentials("http://127.0.0.1:5000", &url("http://evil.example/token"))
            .unwrap_err();
        assert!(e.contains("another host"), "{e}");
        let e = may_send_credentials("http://127.0.0.1:5000", &url("http://127.0.0.1:5001/token"))
            .unwrap_err();
        assert!(e.contains("another host"), "{e}");
        // Never from an HTTPS registry to a plain-HTTP realm, not even on the same host.
        let e = may_send_credentials(
            "https://registry.acme.io",
            &url("http://registry.acme.io/token"),
        )
        .unwrap_err();
        assert!(e.contains("HTTPS"), "{e}");
        assert!(
            may_send_credentials(
                "https://registry.acme.io",
                &url("ftp://registry.acme.io/token")
            )
            .is_err()
        );
    }

    #[test]
    fn reads_docker_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            // "user:secret"
            r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpzZWNyZXQ="},"https://index.docker.io/v1/":{"identitytoken":"tok"}}}"#,
        )
        .unwrap();
        let source = AuthSource::DockerConfigDir(dir.path().to_owned());
        assert_eq!(
            lookup_credential(&source, "127.0.0.1:5000").unwrap(),
            Some(Credential::UsernamePassword("user".into(), "secret".into()))
        );
        assert_eq!(
            lookup_credential(&source, "index.docker.io").unwrap(),
            Some(Credential::IdentityToken("tok".into()))
        );
        assert_eq!(lookup_credential(&source, "ghcr.io").unwrap(), None);
        assert_eq!(
            lookup_credential(&AuthSource::Anonymous, "127.0.0.1:5000").unwrap(),
            None
        );
        let dbg = format!(
            "{:?}",
            lookup_credential(&source, "127.0.0.1:5000").unwrap()
        );
        assert!(!dbg.contains("secret"), "{dbg}");

        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let e = lookup_credential(&source, "127.0.0.1:5000").unwrap_err();
        assert!(matches!(e, RegistryError::Auth { .. }), "{e}");
        let missing = AuthSource::DockerConfigDir(dir.path().join("nope"));
        assert_eq!(lookup_credential(&missing, "127.0.0.1:5000").unwrap(), None);
    }
}
