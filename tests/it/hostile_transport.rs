//! A hostile registry's transport tricks, through the fault-injecting proxy in front of the
//! real registry: each request ends within its deadline, fails closed and names the fault.

use std::time::{Duration, Instant};

use crate::support::proxy::{Fault, Proxy};
use crate::support::{client_with, registry, repo_at, unique_repo};
use imprint::store::{
    AuthSource, Client, Limits, ManifestRef, RegistryConfig, RegistryError, Repository, media_types,
};

/// Regression: only per-read timeouts existed, so a registry sending one byte just before each
/// read timeout held a request (and `verify --policy`) forever. Now the whole request has one
/// deadline, body included, and running past it is a `Timeout` error.
#[tokio::test]
async fn a_trickling_registry_runs_into_the_request_deadline() {
    let proxy = Proxy::start(registry()).await;
    let limits = Limits {
        request_timeout: Duration::from_millis(1500),
        ..Limits::default()
    };
    let client = client_with(limits);
    let repo = repo_at(&client, proxy.addr(), &unique_repo("trickle"));
    let mut slow = Fault::body(media_types::OCI_MANIFEST, vec![b' '; 1000]);
    // Each byte comes well inside any per-read timeout; the body would take 200 s in all.
    slow.trickle = Some(Duration::from_millis(200));
    proxy.inject("GET", "/manifests/slow", slow);
    let started = Instant::now();
    let e = repo
        .get_manifest(ManifestRef::Tag("slow"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(e, RegistryError::Timeout { after, .. } if after == Duration::from_millis(1500)),
        "{e}"
    );
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A redirect loop ends at `max_redirects` with an error naming the limit.
#[tokio::test]
async fn a_redirect_loop_stops_at_the_limit() {
    let proxy = Proxy::start(registry()).await;
    let limits = Limits {
        max_redirects: 3,
        ..Limits::default()
    };
    let client = client_with(limits);
    let name = unique_repo("loop");
    let repo = repo_at(&client, proxy.addr(), &name);
    let mut redirect = Fault::status(307);
    redirect.headers.push((
        "Location".into(),
        format!("http://{}/v2/{name}/manifests/loop", proxy.addr()),
    ));
    proxy.inject("GET", "/manifests/loop", redirect);
    let e = repo
        .get_manifest(ManifestRef::Tag("loop"))
        .await
        .unwrap_err();
    let text = imprint::format::error_chain(&e);
    assert!(text.contains("more than 3 redirects"), "{text}");
    assert!(text.contains("max_redirects"), "{text}");
}

/// Regression for `overflow when adding duration to instant` (a panic in verify, sign and
/// attest): a token endpoint whose answer says `expires_in: u64::MAX`.
#[tokio::test]
async fn hostile_token_lifetime_does_not_panic() {
    let proxy = Proxy::start_with_bearer(registry(), "alice", "s3cret").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec(
            &serde_json::json!({"auths": {proxy.addr(): {"auth": base64_of("alice:s3cret")}}}),
        )
        .unwrap(),
    )
    .unwrap();
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(dir.path().to_path_buf()),
        ..RegistryConfig::default()
    })
    .unwrap();
    let repo = repo_at(&client, proxy.addr(), &unique_repo("token"));
    proxy.inject(
        "GET",
        "/token",
        Fault::body(
            "application/json",
            format!(r#"{{"token":"t","expires_in":{}}}"#, u64::MAX).into_bytes(),
        ),
    );
    // The injected answer replaces the gate's; its token is unknown to the gate, so the
    // request is refused: an error naming authentication, not a panic.
    let e = repo
        .get_manifest(ManifestRef::Tag("absent"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::Auth { .. } | RegistryError::Protocol { .. }
        ),
        "{e}"
    );
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}
