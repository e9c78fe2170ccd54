//! Issue 14, round trips: what a cold verification waits for, one request after another.
//!
//! The proxy holds every answer back by [`DELAY`] and records when each request arrived and
//! when its answer began to go out; [`critical_path`] is the longest chain of requests each
//! sent after the previous one was answered. Requests sent at once start within a
//! millisecond or two of each other, far under the delay, so they never chain; requests that
//! wait for an answer always do. The counts below are therefore not timings and do not
//! depend on the machine's speed.

use std::time::Duration;

use imprint::format::reference::ImageRef;
use imprint::gate::image::{Wanted, check_image};
use imprint::keys::SigningKey;
use imprint::sign::{self, SignOptions, WriteFormat};
use imprint::store::discover::SignatureFormat;
use imprint::store::{AuthSource, Client, RegistryConfig};
use imprint::verify::SignatureVerifier;

use crate::support::proxy::{Fault, Kind, Logged, Proxy, critical_path};
use crate::support::{push_random_image, registry, test_client, unique_repo};

/// Every answer is held back this long: far over the client's own time between an answer
/// and the next request, so overlap is unambiguous.
const DELAY: Duration = Duration::from_millis(30);

/// A fresh image `<repo>:v1` signed with `key` in `format`, pushed straight to the registry
/// (not through the proxy). Returns the repository path and the digest.
async fn signed(
    prefix: &str,
    key: &SigningKey,
    format: WriteFormat,
) -> (String, imprint::format::digest::Digest) {
    let repo = unique_repo(prefix);
    signed_in(&repo, key, format).await
}

async fn signed_in(
    repo: &str,
    key: &SigningKey,
    format: WriteFormat,
) -> (String, imprint::format::digest::Digest) {
    let (image, digest) = push_random_image(repo).await;
    let opts = SignOptions {
        format,
        ..SignOptions::default()
    };
    sign::sign_image(&test_client(), &image, key, &opts)
        .await
        .unwrap();
    (repo.to_owned(), digest)
}

/// Verify `reference` with `key` through `client`; it must verify.
async fn verify(client: &Client, reference: &str, key: &SigningKey, format: SignatureFormat) {
    let image = ImageRef::parse(reference).unwrap();
    let verifier = SignatureVerifier::Key(key.public_key());
    let wanted = Wanted::signatures(Default::default());
    let limits = client.config().limits;
    let report = check_image(client, &image, &verifier, format, &wanted, &limits)
        .await
        .unwrap_or_else(|e| panic!("{reference}: {e}"));
    assert_eq!(
        report.checked.signatures.len(),
        1,
        "{reference}: {:?}",
        report.checked.failures
    );
}

/// [`verify`] through `proxy`, then what the proxy saw.
async fn verify_logged(
    proxy: &Proxy,
    client: &Client,
    reference: &str,
    key: &SigningKey,
    format: SignatureFormat,
) -> Vec<Logged> {
    verify(client, reference, key, format).await;
    proxy.requests()
}

/// A delayed proxy in front of the shared registry.
async fn delayed_proxy() -> Proxy {
    let proxy = Proxy::start(registry()).await;
    proxy.set_delay(DELAY);
    proxy
}

/// `(kind, method)` of each request, for readable assertions.
fn kinds(log: &[Logged]) -> Vec<(Kind, String)> {
    log.iter().map(|r| (r.kind, r.method.clone())).collect()
}

fn get(kind: Kind) -> (Kind, String) {
    (kind, "GET".to_owned())
}

/// Every request was answered (none left hanging), and none is a `/v2/` ping.
fn no_ping(log: &[Logged]) {
    assert!(log.iter().all(|r| r.answered.is_some()), "{log:#?}");
    assert!(log.iter().all(|r| r.kind != Kind::Ping), "{log:#?}");
}

#[tokio::test]
async fn the_path_of_a_chain_and_of_concurrent_requests() {
    // The helper itself: three requests one after another chain; three at once do not.
    let proxy = delayed_proxy().await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/v2/", proxy.addr());
    for _ in 0..3 {
        http.get(&url).send().await.unwrap();
    }
    assert_eq!(critical_path(&proxy.requests()).len(), 3);
    proxy.reset();
    let all = (0..3).map(|_| http.get(&url).send());
    futures_util::future::join_all(all).await;
    assert_eq!(proxy.requests().len(), 3);
    assert_eq!(critical_path(&proxy.requests()).len(), 1);
}

/// Anonymous registry, key-signed legacy image, `--signature-format legacy`: the manifest by
/// tag, the `.sig` manifest, the payload blob. Three round trips, three requests, no ping.
#[tokio::test]
async fn legacy_only_is_three_round_trips() {
    let key = SigningKey::generate_p256().unwrap();
    let (repo, _) = signed("rt-legacy", &key, WriteFormat::Legacy).await;
    let proxy = delayed_proxy().await;
    let client = test_client();
    let log = verify_logged(
        &proxy,
        &client,
        &format!("{}/{repo}:v1", proxy.addr()),
        &key,
        SignatureFormat::Legacy,
    )
    .await;
    no_ping(&log);
    assert_eq!(
        kinds(&critical_path(&log)),
        vec![get(Kind::Manifest), get(Kind::Manifest), get(Kind::Blob)],
        "{log:#?}"
    );
    assert_eq!(log.len(), 3, "{log:#?}");
    assert_eq!(client.requests(), 3);
}

/// Full discovery of a legacy-signed image: the `.sig` tag, the referrers API and the
/// tag-schema fallback are asked at once after the manifest, so the path stays three long
/// (five requests). A bundle-signed image needs the referrer manifest before its bundle:
/// four round trips.
#[tokio::test]
async fn full_discovery_is_at_most_four_round_trips() {
    let key = SigningKey::generate_p256().unwrap();
    let (legacy, _) = signed("rt-any-legacy", &key, WriteFormat::Legacy).await;
    let (bundle, _) = signed("rt-any-bundle", &key, WriteFormat::Bundle).await;

    let proxy = delayed_proxy().await;
    let log = verify_logged(
        &proxy,
        &test_client(),
        &format!("{}/{legacy}:v1", proxy.addr()),
        &key,
        SignatureFormat::Any,
    )
    .await;
    no_ping(&log);
    let path = critical_path(&log);
    assert_eq!(path.len(), 3, "{path:#?}\n{log:#?}");
    // The three lookups went out together, after the manifest, before the blob.
    assert_eq!(proxy.count("GET", Kind::Referrers), 1, "{log:#?}");
    assert_eq!(proxy.count("GET", Kind::Manifest), 3, "{log:#?}");
    assert_eq!(log.len(), 5, "{log:#?}");

    proxy.reset();
    let log = verify_logged(
        &proxy,
        &test_client(),
        &format!("{}/{bundle}:v1", proxy.addr()),
        &key,
        SignatureFormat::Any,
    )
    .await;
    no_ping(&log);
    assert_eq!(
        kinds(&critical_path(&log)),
        vec![
            get(Kind::Manifest), // the image by tag
            get(Kind::Manifest), // the tag-schema index (the API probe beside it)
            get(Kind::Manifest), // the referrer manifest
            get(Kind::Blob),     // the bundle
        ],
        "{log:#?}"
    );
}

/// A digest-pinned reference is not resolved by tag: the one manifest read is by digest. On a
/// cold session that read also learns the registry's challenge, so discovery (`.sig`
/// manifest, then payload) waits for its answer: three round trips in sequence. (Once the
/// challenge is known the read runs beside discovery: see the token tests.)
#[tokio::test]
async fn a_digest_pinned_reference_skips_the_tag() {
    let key = SigningKey::generate_p256().unwrap();
    let (repo, digest) = signed("rt-pinned", &key, WriteFormat::Legacy).await;
    let proxy = delayed_proxy().await;
    let log = verify_logged(
        &proxy,
        &test_client(),
        &format!("{}/{repo}@{digest}", proxy.addr()),
        &key,
        SignatureFormat::Legacy,
    )
    .await;
    no_ping(&log);
    assert_eq!(
        log.iter()
            .filter(|r| r.path.ends_with(&format!("/manifests/{digest}")))
            .count(),
        1,
        "{log:#?}"
    );
    assert_eq!(proxy.count_path("GET", "/manifests/v1"), 0, "{log:#?}");
    assert_eq!(critical_path(&log).len(), 3, "{log:#?}");
}

/// Discovery beside the manifest read does not turn a missing image into "unsigned": a
/// digest-pinned reference to a manifest the registry does not hold is `NotFound`, even when
/// the signature tag for that digest exists (a `.sig` left behind by a deleted image).
#[tokio::test]
async fn a_pinned_digest_that_is_not_there_is_not_found() {
    let key = SigningKey::generate_p256().unwrap();
    let (repo, digest) = signed("rt-pinned-gone", &key, WriteFormat::Legacy).await;
    let proxy = Proxy::start(registry()).await;
    proxy.inject("GET", &format!("/manifests/{digest}"), Fault::status(404));
    let image = ImageRef::parse(&format!("{}/{repo}@{digest}", proxy.addr())).unwrap();
    let client = test_client();
    let limits = client.config().limits;
    let err = check_image(
        &client,
        &image,
        &SignatureVerifier::Key(key.public_key()),
        SignatureFormat::Legacy,
        &Wanted::signatures(Default::default()),
        &limits,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, imprint::gate::image::ImageError::NotFound { .. }),
        "{err}"
    );
    // Discovery did run beside it (the `.sig` manifest was asked for), and was discarded.
    assert_eq!(
        proxy.count_path("GET", ".sig"),
        1,
        "{:#?}",
        proxy.requests()
    );
}

fn docker_config(dir: &std::path::Path, registry: &str, user: &str, password: &str) {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec(&serde_json::json!({"auths": {registry: {"auth": auth}}})).unwrap(),
    )
    .unwrap();
}

/// Token auth: the first request is the real one; its 401 names the token realm, one token
/// is fetched and the request sent again (two round trips no client can avoid: the realm is
/// known only from a challenge). The `.sig` manifest and the blob reuse the token. A second
/// image of the same repository costs no token request and no 401; another repository costs
/// one token and no 401 (the challenge is remembered per registry).
#[tokio::test]
async fn token_auth_costs_one_token_per_repository() {
    let key = SigningKey::generate_p256().unwrap();
    let repo = unique_repo("rt-token");
    // Two images in one repository: the first, then the second (now tagged `v1`).
    let (_, first) = signed_in(&repo, &key, WriteFormat::Legacy).await;
    let (_, second) = {
        let (image, digest) = push_random_image(&repo).await;
        let pinned = image.with_digest(digest.clone());
        sign::sign_image(&test_client(), &pinned, &key, &SignOptions::default())
            .await
            .unwrap();
        (image, digest)
    };
    let (other, _) = signed("rt-token-other", &key, WriteFormat::Legacy).await;

    let proxy = Proxy::start_with_bearer(registry(), "carol", "t0ken-pw").await;
    proxy.set_delay(DELAY);
    let cfg = tempfile::tempdir().unwrap();
    docker_config(cfg.path(), proxy.addr(), "carol", "t0ken-pw");
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(cfg.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap();

    let log = verify_logged(
        &proxy,
        &client,
        &format!("{}/{repo}@{first}", proxy.addr()),
        &key,
        SignatureFormat::Legacy,
    )
    .await;
    no_ping(&log);
    assert_eq!(
        kinds(&critical_path(&log)),
        vec![
            get(Kind::Manifest), // answered 401 with the challenge
            get(Kind::Token),
            // The pinned manifest is read beside discovery: the `.sig` manifest is next.
            get(Kind::Manifest),
            get(Kind::Blob),
        ],
        "{log:#?}"
    );
    assert_eq!(log.len(), 5, "{log:#?}");

    // The same repository again (another image, by tag): no token, no 401.
    assert_ne!(first, second);
    proxy.reset();
    let log = verify_logged(
        &proxy,
        &client,
        &format!("{}/{repo}:v1", proxy.addr()),
        &key,
        SignatureFormat::Legacy,
    )
    .await;
    assert_eq!(proxy.count("GET", Kind::Token), 0, "{log:#?}");
    assert_eq!(log.len(), 3, "{log:#?}");
    assert_eq!(critical_path(&log).len(), 3, "{log:#?}");

    // Another repository: one token for its scope, no 401 first.
    proxy.reset();
    let log = verify_logged(
        &proxy,
        &client,
        &format!("{}/{other}:v1", proxy.addr()),
        &key,
        SignatureFormat::Legacy,
    )
    .await;
    assert_eq!(
        kinds(&log),
        vec![
            get(Kind::Token),
            get(Kind::Manifest),
            get(Kind::Manifest),
            get(Kind::Blob)
        ],
        "{log:#?}"
    );
}

/// Concurrent first requests of a fresh session learn the challenge once: one 401, one token.
#[tokio::test]
async fn concurrent_cold_images_of_one_repository_fetch_one_token() {
    let key = SigningKey::generate_p256().unwrap();
    let repo = unique_repo("rt-token-many");
    let mut digests = Vec::new();
    for _ in 0..4 {
        let (image, digest) = push_random_image(&repo).await;
        sign::sign_image(
            &test_client(),
            &image.with_digest(digest.clone()),
            &key,
            &SignOptions::default(),
        )
        .await
        .unwrap();
        digests.push(digest);
    }
    let proxy = Proxy::start_with_bearer(registry(), "dave", "t0ken-pw").await;
    proxy.set_delay(DELAY);
    let cfg = tempfile::tempdir().unwrap();
    docker_config(cfg.path(), proxy.addr(), "dave", "t0ken-pw");
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(cfg.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap();
    let refs: Vec<String> = digests
        .iter()
        .map(|d| format!("{}/{repo}@{d}", proxy.addr()))
        .collect();
    let all = refs
        .iter()
        .map(|r| verify(&client, r, &key, SignatureFormat::Legacy));
    futures_util::future::join_all(all).await;
    let log = proxy.requests();
    assert_eq!(proxy.count("GET", Kind::Token), 1, "{log:#?}");
    // One 401 (the learning request), then 3 requests per image.
    assert_eq!(log.len(), 1 + 1 + 3 * digests.len(), "{log:#?}");
    // The others waited for the first answer, then ran at once, each image's manifest read
    // beside its discovery: 401, token, `.sig` manifest, payload: 4 round trips in all.
    assert_eq!(critical_path(&log).len(), 4, "{log:#?}");
}

/// A registry without the referrers API (distribution 2.8's router answers a bare 404) is
/// remembered: the next image on it goes straight to the tag-schema fallback. A registry that
/// has the API is asked again each time.
#[tokio::test]
async fn a_missing_referrers_api_is_remembered_per_registry() {
    let key = SigningKey::generate_p256().unwrap();
    let (a, _) = signed("rt-norefs-a", &key, WriteFormat::Legacy).await;
    let (b, _) = signed("rt-norefs-b", &key, WriteFormat::Legacy).await;
    let proxy = delayed_proxy().await;
    let client = test_client();
    verify(
        &client,
        &format!("{}/{a}:v1", proxy.addr()),
        &key,
        SignatureFormat::Any,
    )
    .await;
    assert_eq!(proxy.count("GET", Kind::Referrers), 1);
    proxy.reset();
    let log = verify_logged(
        &proxy,
        &client,
        &format!("{}/{b}:v1", proxy.addr()),
        &key,
        SignatureFormat::Any,
    )
    .await;
    assert_eq!(proxy.count("GET", Kind::Referrers), 0, "{log:#?}");
    assert_eq!(proxy.count("GET", Kind::Manifest), 3, "{log:#?}");
    assert_eq!(critical_path(&log).len(), 3, "{log:#?}");

    // A registry that answers the API (an empty index) is not marked as lacking it.
    let with_api = delayed_proxy().await;
    with_api.inject(
        "GET",
        "/referrers/",
        Fault::body(
            "application/vnd.oci.image.index.v1+json",
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec(),
        ),
    );
    let client = test_client();
    for r in [&a, &b] {
        verify(
            &client,
            &format!("{}/{r}:v1", with_api.addr()),
            &key,
            SignatureFormat::Any,
        )
        .await;
    }
    assert_eq!(with_api.count("GET", Kind::Referrers), 2);
}

/// `max_requests_per_registry` bounds requests in flight to one registry across images: with
/// 2, never more than 2 are open at the proxy at once; with the default, 8 images at once
/// overlap far more than 2.
#[tokio::test]
async fn requests_in_flight_per_registry_are_bounded() {
    let key = SigningKey::generate_p256().unwrap();
    let mut repos = Vec::new();
    for i in 0..8 {
        repos.push(
            signed(&format!("rt-limit{i}"), &key, WriteFormat::Legacy)
                .await
                .0,
        );
    }
    let most_at_once = |log: &[Logged]| {
        log.iter()
            .map(|r| {
                log.iter()
                    .filter(|o| o.started <= r.started && o.answered.is_none_or(|a| a > r.started))
                    .count()
            })
            .max()
            .unwrap_or(0)
    };
    for (limit, check) in [
        (2usize, (|n: usize| n <= 2) as fn(usize) -> bool),
        (32, |n: usize| n > 2),
    ] {
        let proxy = delayed_proxy().await;
        let client = Client::new(RegistryConfig {
            auth: AuthSource::Anonymous,
            max_requests_per_registry: limit,
            ..RegistryConfig::default()
        })
        .unwrap();
        let refs: Vec<String> = repos
            .iter()
            .map(|r| format!("{}/{r}:v1", proxy.addr()))
            .collect();
        let all = refs
            .iter()
            .map(|r| verify(&client, r, &key, SignatureFormat::Legacy));
        futures_util::future::join_all(all).await;
        let log = proxy.requests();
        assert_eq!(log.len(), 3 * repos.len(), "{log:#?}");
        let n = most_at_once(&log);
        assert!(check(n), "limit {limit}: {n} requests in flight at once");
    }
}

/// The tag lists of `imprint audit --repository` go through the client, so
/// [`Client::requests`] counts them, every page (pages chained by `Link`, answered by the
/// proxy as distribution 3 does: distribution 2.8 ignores `n`).
#[tokio::test]
async fn tag_list_pages_are_counted() {
    let repo = unique_repo("rt-tags");
    push_random_image(&repo).await;
    let proxy = Proxy::start(registry()).await;
    let path = format!("/v2/{repo}/tags/list");
    let page = |tags: &[&str], next: Option<String>| {
        let body = serde_json::to_vec(&serde_json::json!({"name": repo, "tags": tags})).unwrap();
        let mut f = Fault::body("application/json", body);
        if let Some(n) = next {
            f.headers
                .push(("Link".into(), format!("<{n}>; rel=\"next\"")));
        }
        f
    };
    proxy.inject(
        "GET",
        &format!("{path}?n=2"),
        page(&["a", "b"], Some(format!("{path}?page=2"))),
    );
    proxy.inject("GET", &format!("{path}?page=2"), page(&["c"], None));
    let client = test_client();
    let image = ImageRef::parse(&format!("{}/{repo}", proxy.addr())).unwrap();
    let list = client.list_tags(&image, 100, 2).await.unwrap();
    assert_eq!(list.tags, ["a", "b", "c"]);
    assert_eq!(proxy.count("GET", Kind::Tags), 2, "{:?}", proxy.requests());
    assert_eq!(client.requests(), 2);
    // And the verification of an image after them adds its own requests to the same count.
    verify_unsigned_costs(&client, &format!("{}/{repo}:v1", proxy.addr())).await;
    assert_eq!(client.requests(), proxy.requests().len() as u64);
}

/// Resolve `reference` (one request) through `client`.
async fn verify_unsigned_costs(client: &Client, reference: &str) {
    let image = ImageRef::parse(reference).unwrap();
    client.resolve(&image).await.unwrap();
}

/// Without a ping, the first 401 is where an unusable challenge shows: an auth error naming
/// it, after one request (not a retry loop); a 401 without any challenge is reported as the
/// refusal it is.
#[tokio::test]
async fn an_unsupported_challenge_fails_at_the_first_request() {
    let repo = unique_repo("rt-negotiate");
    push_random_image(&repo).await;
    let proxy = Proxy::start(registry()).await;
    let mut fault = Fault::status(401);
    fault
        .headers
        .push(("WWW-Authenticate".into(), "Negotiate abc".into()));
    proxy.inject("GET", "/manifests/", fault);
    let client = test_client();
    let image = ImageRef::parse(&format!("{}/{repo}:v1", proxy.addr())).unwrap();
    let e = client.resolve(&image).await.unwrap_err();
    assert!(
        matches!(e, imprint::store::RegistryError::Auth { .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("unsupported challenge `Negotiate abc`"),
        "{e}"
    );
    assert_eq!(proxy.requests().len(), 1, "{:?}", proxy.requests());

    let bare = Proxy::start(registry()).await;
    bare.inject("GET", "/manifests/", Fault::status(401));
    let e = test_client()
        .resolve(&ImageRef::parse(&format!("{}/{repo}:v1", bare.addr())).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(e, imprint::store::RegistryError::Auth { .. }),
        "{e}"
    );
    assert_eq!(bare.requests().len(), 1, "{:?}", bare.requests());
}
