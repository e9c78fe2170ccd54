//! The hostile-registry suite (issue 10): the real registry behind the fault-injecting proxy,
//! which answers chosen requests itself with wrong, truncated, endless or oversized bodies,
//! error statuses (always, or only the first N times), a cyclic index, a tag that reads
//! differently the next time, or a dropped connection. For each, `verify` (the library
//! [`Verifier`] with a key policy, as the deploy gate runs it; the CLI where the image manifest
//! itself is the target) ends well within tight limits, never allows the image, and its
//! decision names the fault. Signing and attesting through a proxy that fails the writes
//! never leaves a partial attachment: what was signed before still verifies.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::checks::{attest_options, bundles_of, signature_checks, tag_index};
use crate::support::cli::{imprint, run};
use crate::support::proxy::{Fault, Kind as ReqKind, Proxy};
use crate::support::{
    build_image, client_with, push_image_to, push_random_image, random_bytes, registry,
    test_client, unique_repo,
};
use imprint::format::digest::Digest;
use imprint::format::oci::{ImageIndex, ImageManifest};
use imprint::format::reference::ImageRef;
use imprint::gate::Verifier;
use imprint::keys::SigningKey;
use imprint::policy::{Decision, Outcome, Policy};
use imprint::sign::{self, SignOptions, WriteFormat};
use imprint::store::attach::Kind;
use imprint::store::{AuthSource, Limits, ManifestRef, RegistryConfig, Repository, media_types};
use imprint::verify::{SignatureVerifier, VerifiedBundleItem};

/// Every hostile scenario must end within this (its limits are far tighter).
const BOUND: Duration = Duration::from_secs(20);

/// Tight limits: 4 s per request, 10 s per image, retries in tens of milliseconds.
fn tight() -> Limits {
    Limits {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(4),
        image_timeout: Duration::from_secs(10),
        ..Limits::default()
    }
}

/// An image signed (by `key`, in `format`) on the real registry, and a proxy in front of it.
struct Signed {
    proxy: Proxy,
    /// Repository path (the same through the proxy).
    repo: String,
    digest: Digest,
    key: SigningKey,
    /// Holds the policy's key file.
    dir: tempfile::TempDir,
}

impl Signed {
    async fn new(prefix: &str, format: WriteFormat) -> Self {
        let proxy = Proxy::start(registry()).await;
        let repo = unique_repo(prefix);
        let (direct, digest) = push_random_image(&repo).await;
        let key = SigningKey::generate_p256().unwrap();
        let opts = SignOptions {
            format,
            ..SignOptions::default()
        };
        sign::sign_image(&test_client(), &direct, &key, &opts)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.pub"), key.public_key().to_pem()).unwrap();
        let s = Self {
            proxy,
            repo,
            digest,
            key,
            dir,
        };
        // Without faults the image is allowed through the proxy.
        let (d, _) = s.decide(&s.via(":v1"), tight()).await;
        assert_eq!(d.outcome(), Outcome::Allowed, "{}", json(&d));
        s.proxy.reset();
        s
    }

    /// `<proxy>/<repo><suffix>` (`:v1`, `@sha256:…`).
    fn via(&self, suffix: &str) -> ImageRef {
        ImageRef::parse(&format!("{}/{}{suffix}", self.proxy.addr(), self.repo)).unwrap()
    }

    /// `<registry>/<repo>` without the proxy.
    fn direct(&self) -> ImageRef {
        ImageRef::parse(&format!("{}/{}:v1", registry(), self.repo)).unwrap()
    }

    fn sig_tag_path(&self) -> String {
        format!("/manifests/{}", Kind::Signature.tag(&self.digest))
    }

    /// The policy verifier's decision for `image` (key policy: every image needs a signature
    /// by `key`), and how long it took.
    async fn decide(&self, image: &ImageRef, limits: Limits) -> (Decision, Duration) {
        let yaml = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nmetadata: {name: hostile}\n\
                    spec:\n  authorities:\n    k: {key: {file: k.pub}}\n  rules:\n    - name: all\n      \
                    images: [\"**\"]\n      signatures: {authority: k}\n";
        let policy = Policy::from_str_with_base(yaml, self.dir.path()).unwrap();
        let verifier = Verifier::builder(policy)
            .registry(RegistryConfig {
                auth: AuthSource::Anonymous,
                limits,
                ..RegistryConfig::default()
            })
            .tag_ttl(Duration::ZERO)
            .build()
            .unwrap();
        let started = Instant::now();
        let d = verifier.verify(image).await;
        (d, started.elapsed())
    }

    /// The `.sig` manifest as the registry holds it.
    async fn sig_manifest(&self) -> (Vec<u8>, ImageManifest) {
        let repo = test_client().repository(&self.direct()).unwrap();
        let m = repo
            .get_manifest(ManifestRef::Tag(&Kind::Signature.tag(&self.digest)))
            .await
            .unwrap()
            .expect(".sig manifest");
        let parsed = serde_json::from_slice(&m.bytes).unwrap();
        (m.bytes, parsed)
    }

    /// Run `imprint verify --key` on `image` (blocking; multi-thread runtime only).
    fn cli_verify(&self, image: &ImageRef) -> (i32, String, Duration) {
        let key = self.dir.path().join("k.pub");
        let started = Instant::now();
        let (code, stdout, stderr) = tokio::task::block_in_place(|| {
            run(imprint()
                .args(["verify", "--key"])
                .arg(&key)
                .arg(image.to_string()))
        });
        (code, format!("{stdout}{stderr}"), started.elapsed())
    }
}

fn json(d: &Decision) -> String {
    serde_json::to_string_pretty(d).unwrap()
}

/// `d` is a denial, reached within [`BOUND`], whose decision names every one of `needles`.
#[track_caller]
fn assert_denied(d: &Decision, took: Duration, needles: &[&str]) {
    let text = json(d);
    assert_eq!(d.outcome(), Outcome::Denied, "{text}");
    assert!(took < BOUND, "took {took:?}: {text}");
    for n in needles {
        assert!(text.contains(n), "the decision does not name {n:?}: {text}");
    }
}

/// The CLI failed (exit code not 0), within [`BOUND`], naming every one of `needles`.
#[track_caller]
fn assert_cli_failed((code, out, took): &(i32, String, Duration), needles: &[&str]) {
    assert_ne!(*code, 0, "verify succeeded:\n{out}");
    assert!(*took < BOUND, "took {took:?}:\n{out}");
    for n in needles {
        assert!(out.contains(n), "the output does not name {n:?}:\n{out}");
    }
}

/// Wrong bytes for a manifest digest: a bundle referrer manifest (fetched by digest during
/// discovery), the image manifest fetched by digest (CLI), and a tag read whose
/// `Docker-Content-Digest` contradicts the bytes.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_bytes_for_a_manifest_digest() {
    let s = Signed::new("hostile-wrong-manifest", WriteFormat::Bundle).await;
    let direct = test_client().repository(&s.direct()).unwrap();
    let referrer = tag_index(&direct, &s.digest).await.manifests[0]
        .digest
        .clone();
    let (other, _, _) = build_image(("amd64", "linux"));
    s.proxy.inject(
        "GET",
        &format!("/manifests/{referrer}"),
        Fault::body(media_types::OCI_MANIFEST, other.clone()),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(
        &d,
        took,
        &["does not match its digest", &referrer.to_string()],
    );

    // The image manifest itself, by digest: `imprint verify --key` fetches it.
    s.proxy.clear_faults();
    s.proxy.inject(
        "GET",
        &format!("/manifests/{}", s.digest),
        Fault::body(media_types::OCI_MANIFEST, other.clone()),
    );
    let out = s.cli_verify(&s.via(&format!("@{}", s.digest)));
    assert_cli_failed(&out, &["does not match its digest", &s.digest.to_string()]);

    // By tag, with a Docker-Content-Digest that is not the digest of the bytes.
    s.proxy.clear_faults();
    let mut lying = Fault::body(media_types::OCI_MANIFEST, other);
    lying
        .headers
        .push(("Docker-Content-Digest".into(), s.digest.to_string()));
    s.proxy.inject("GET", "/manifests/v1", lying);
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(&d, took, &["does not match its digest"]);
}

/// Wrong bytes (of the right length) for the signature layer's blob digest.
#[tokio::test]
async fn wrong_bytes_for_a_blob_digest() {
    let s = Signed::new("hostile-wrong-blob", WriteFormat::Legacy).await;
    let (_, sig) = s.sig_manifest().await;
    let layer = &sig.layers[0];
    s.proxy.inject(
        "GET",
        &format!("/blobs/{}", layer.digest),
        Fault::body(
            "application/octet-stream",
            random_bytes(usize::try_from(layer.size).unwrap()),
        ),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(
        &d,
        took,
        &["does not match its digest", &layer.digest.to_string()],
    );
}

/// A well-framed but truncated body (`Content-Length` of what is sent): the `.sig` manifest
/// cut in half is not JSON; the signature layer cut in half does not match its digest.
#[tokio::test]
async fn truncated_bodies() {
    let s = Signed::new("hostile-truncated", WriteFormat::Legacy).await;
    let (bytes, sig) = s.sig_manifest().await;
    s.proxy.inject(
        "GET",
        &s.sig_tag_path(),
        Fault::body(media_types::OCI_MANIFEST, bytes[..bytes.len() / 2].to_vec()),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(&d, took, &["registry-error", "not JSON"]);

    s.proxy.clear_faults();
    let layer = &sig.layers[0];
    let payload = test_client()
        .repository(&s.direct())
        .unwrap()
        .get_blob(&layer.digest, layer.size)
        .await
        .unwrap();
    s.proxy.inject(
        "GET",
        &format!("/blobs/{}", layer.digest),
        Fault::body(
            "application/octet-stream",
            payload[..payload.len() / 2].to_vec(),
        ),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(&d, took, &["does not match its digest"]);
}

/// Endless bodies: a 1 GiB `Content-Length` is refused before reading, a body without
/// length that never ends is cut at the limit; for the `.sig` manifest
/// (`max_manifest_bytes`) and for the signature layer (its descriptor's size).
#[tokio::test]
async fn endless_bodies() {
    const GIB: u64 = 1024 * 1024 * 1024;
    let s = Signed::new("hostile-endless", WriteFormat::Legacy).await;
    let limits = Limits {
        max_manifest_bytes: 256 * 1024,
        ..tight()
    };
    for declared in [Some(GIB), None] {
        s.proxy.clear_faults();
        s.proxy.inject(
            "GET",
            &s.sig_tag_path(),
            Fault::endless(media_types::OCI_MANIFEST, declared),
        );
        let (d, took) = s.decide(&s.via(":v1"), limits).await;
        let size = declared.map_or_else(String::new, |n| n.to_string());
        assert_denied(
            &d,
            took,
            &["max_manifest_bytes", "over the limit of 262144", &size],
        );
    }
    let (_, sig) = s.sig_manifest().await;
    let layer = &sig.layers[0];
    for declared in [Some(GIB), None] {
        s.proxy.clear_faults();
        s.proxy.inject(
            "GET",
            &format!("/blobs/{}", layer.digest),
            Fault::endless("application/octet-stream", declared),
        );
        let (d, took) = s.decide(&s.via(":v1"), limits).await;
        assert_denied(
            &d,
            took,
            &[
                &layer.digest.to_string(),
                &format!("over the limit of {}", layer.size),
            ],
        );
    }
}

/// `status` on resolving the tag: the first two answers only (retried, then allowed), or
/// every answer (denied naming the status after `max_retries` retries); each with and
/// without `Retry-After: 1`.
async fn status_scenario(status: u16) {
    let s = Signed::new(&format!("hostile-{status}"), WriteFormat::Legacy).await;
    for retry_after in [None, Some("1")] {
        let fault = match retry_after {
            Some(v) => Fault::retry_after(status, v),
            None => Fault::status(status),
        };
        s.proxy.clear_faults();
        s.proxy.reset();
        s.proxy
            .inject_times("GET", "/manifests/v1", fault.clone(), 2);
        let (d, took) = s.decide(&s.via(":v1"), tight()).await;
        assert_eq!(
            d.outcome(),
            Outcome::Allowed,
            "{status} twice ({retry_after:?}) was not retried: {}",
            json(&d)
        );
        assert_eq!(s.proxy.count_path("GET", "/manifests/v1"), 3);
        if retry_after.is_some() {
            assert!(
                took >= Duration::from_secs(2),
                "Retry-After ignored: {took:?}"
            );
        }

        s.proxy.clear_faults();
        s.proxy.reset();
        s.proxy.inject("GET", "/manifests/v1", fault);
        let (d, took) = s.decide(&s.via(":v1"), tight()).await;
        assert_denied(&d, took, &["registry-error", &status.to_string()]);
        let limits = tight();
        assert_eq!(
            s.proxy.count_path("GET", "/manifests/v1"),
            limits.max_retries as usize + 1,
            "{status} ({retry_after:?}): {:?}",
            s.proxy.requests()
        );
    }
    // A registry asking to come back in an hour: refused at once, naming the limit.
    s.proxy.clear_faults();
    s.proxy.reset();
    s.proxy
        .inject("GET", "/manifests/v1", Fault::retry_after(status, "3600"));
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(&d, took, &["max_retry_after", &status.to_string()]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(s.proxy.count_path("GET", "/manifests/v1"), 1);
}

#[tokio::test]
async fn status_500_transient_and_persistent() {
    status_scenario(500).await;
}

#[tokio::test]
async fn status_502_transient_and_persistent() {
    status_scenario(502).await;
}

#[tokio::test]
async fn status_503_transient_and_persistent() {
    status_scenario(503).await;
}

#[tokio::test]
async fn status_429_transient_and_persistent() {
    status_scenario(429).await;
}

/// Wrong media types: the `.sig` layer re-typed as a plain blob (the signature is not
/// counted), and an index where the `.sig` image manifest should be.
#[tokio::test]
async fn wrong_media_types() {
    let s = Signed::new("hostile-media-type", WriteFormat::Legacy).await;
    let (bytes, _) = s.sig_manifest().await;
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["layers"][0]["mediaType"] = "application/octet-stream".into();
    s.proxy.inject(
        "GET",
        &s.sig_tag_path(),
        Fault::body(media_types::OCI_MANIFEST, serde_json::to_vec(&v).unwrap()),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(
        &d,
        took,
        &[
            "signature-invalid",
            "layer media type `application/octet-stream`",
        ],
    );

    s.proxy.clear_faults();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_INDEX,
        "manifests": [{"mediaType": media_types::OCI_MANIFEST, "digest": s.digest.to_string(), "size": 1}],
    }))
    .unwrap();
    s.proxy.inject(
        "GET",
        &s.sig_tag_path(),
        Fault::body(media_types::OCI_INDEX, index),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(&d, took, &["registry-error", "config"]);
}

/// A `.sig` manifest with 10,000 layers (all naming the real signature layer): refused by
/// its layer count before any blob is fetched, naming `max_layers`.
#[tokio::test]
async fn sig_manifest_with_10000_layers() {
    let s = Signed::new("hostile-layers", WriteFormat::Legacy).await;
    let (bytes, _) = s.sig_manifest().await;
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let layer = v["layers"][0].clone();
    v["layers"] = serde_json::Value::Array(vec![layer; 10_000]);
    let huge = serde_json::to_vec(&v).unwrap();
    assert!(huge.len() < 4 * 1024 * 1024, "{}", huge.len());
    s.proxy.inject(
        "GET",
        &s.sig_tag_path(),
        Fault::body(media_types::OCI_MANIFEST, huge),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    // Limits' contract: going over a limit is an error that names it.
    assert_denied(
        &d,
        took,
        &["10000 layers", "over the limit of 1000", "max_layers"],
    );
    assert_eq!(s.proxy.count("GET", ReqKind::Blob), 0);
}

/// An index that lists itself: the tag `loop` answers an index whose one entry is a digest
/// the proxy answers with that same index again. Verification of the index does not follow
/// it and is denied (unsigned), by the child's digest it fails on the digest mismatch, and a
/// recursive signature signs the index and its one listed child, once each.
#[tokio::test(flavor = "multi_thread")]
async fn index_that_contains_itself() {
    let s = Signed::new("hostile-cycle", WriteFormat::Legacy).await;
    let child = Digest::of(b"the index itself, as far as a follower can tell");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_INDEX,
        "manifests": [
            {"mediaType": media_types::OCI_INDEX, "digest": child.to_string(), "size": 300},
        ],
    }))
    .unwrap();
    let index_digest = Digest::of(&index);
    for part in ["/manifests/loop".to_owned(), format!("/manifests/{child}")] {
        for method in ["GET", "HEAD"] {
            s.proxy.inject(
                method,
                &part,
                Fault::body(media_types::OCI_INDEX, index.clone()),
            );
        }
    }
    let (d, took) = s.decide(&s.via(":loop"), tight()).await;
    assert_denied(&d, took, &["no-signatures"]);
    assert_eq!(d.digest(), Some(&index_digest));
    assert!(
        s.proxy.count_path("GET", "/manifests/") < 10,
        "{:?}",
        s.proxy.requests()
    );

    let out = s.cli_verify(&s.via(&format!("@{child}")));
    assert_cli_failed(&out, &["does not match its digest", &child.to_string()]);

    let started = Instant::now();
    let opts = SignOptions {
        recursive: true,
        ..SignOptions::default()
    };
    let done = sign::sign_image(&client_with(tight()), &s.via(":loop"), &s.key, &opts)
        .await
        .unwrap();
    assert!(started.elapsed() < BOUND);
    let signed: Vec<&Digest> = done.iter().map(|a| &a.digest).collect();
    assert_eq!(signed, vec![&index_digest, &child]);
}

/// A tag that reads differently the next time: one verification reads it once and decides
/// about the digest it read (the signed image: allowed; the unsigned one: denied), and a
/// signature goes to the digest the signer read.
#[tokio::test]
async fn tag_that_changes_between_two_reads() {
    let s = Signed::new("hostile-flip", WriteFormat::Legacy).await;
    // An unsigned image in the same repository, by digest only.
    let repo = test_client().repository(&s.direct()).unwrap();
    let unsigned = push_image_to(&repo, None, ("arm64", "linux")).await;
    let unsigned_bytes = repo
        .get_manifest(ManifestRef::Digest(&unsigned))
        .await
        .unwrap()
        .unwrap()
        .bytes;
    let answer_unsigned = || {
        let mut f = Fault::body(media_types::OCI_MANIFEST, unsigned_bytes.clone());
        f.headers
            .push(("Docker-Content-Digest".into(), unsigned.to_string()));
        f
    };

    // First read: the signed image (passes through); every later read: the unsigned one.
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_eq!(d.outcome(), Outcome::Allowed, "{}", json(&d));
    assert_eq!(d.digest(), Some(&s.digest));
    assert_eq!(s.proxy.count_path("GET", "/manifests/v1"), 1, "read once");
    s.proxy.inject("GET", "/manifests/v1", answer_unsigned());
    let (d, took2) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(&d, took + took2, &["no-signatures"]);
    assert_eq!(d.digest(), Some(&unsigned));

    // First read the unsigned image, then the signed one again.
    s.proxy.clear_faults();
    s.proxy.reset();
    s.proxy
        .inject_times("GET", "/manifests/v1", answer_unsigned(), 1);
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(&d, took, &["no-signatures"]);
    assert_eq!(d.digest(), Some(&unsigned));
    assert_eq!(s.proxy.count_path("GET", "/manifests/v1"), 1, "read once");
    let (d, _) = s.decide(&s.via(":v1"), tight()).await;
    assert_eq!(d.outcome(), Outcome::Allowed, "{}", json(&d));
    assert_eq!(d.digest(), Some(&s.digest));

    // A signer reading the flipped tag signs what it read, and only that.
    s.proxy.clear_faults();
    s.proxy
        .inject_times("GET", "/manifests/v1", answer_unsigned(), 1);
    let other = SigningKey::generate_p256().unwrap();
    let done = sign::sign_image(
        &client_with(tight()),
        &s.via(":v1"),
        &other,
        &SignOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].digest, unsigned);
    s.proxy.clear_faults();
    let repo = test_client().repository(&s.via(":v1")).unwrap();
    let r = signature_checks(&repo, &unsigned, &other.public_key(), &BTreeMap::new()).await;
    assert_eq!(r.iter().filter(|x| x.is_ok()).count(), 1);
    let r = signature_checks(&repo, &s.digest, &other.public_key(), &BTreeMap::new()).await;
    assert_eq!(r.iter().filter(|x| x.is_ok()).count(), 0);
}

/// A connection closed without an answer: twice (the read is retried, then allowed), or
/// every time (denied after `max_retries` retries, naming the closed connection).
#[tokio::test]
async fn connection_dropped_before_answering() {
    let s = Signed::new("hostile-drop", WriteFormat::Legacy).await;
    s.proxy
        .inject_times("GET", &s.sig_tag_path(), Fault::drop_connection(), 2);
    let (d, _) = s.decide(&s.via(":v1"), tight()).await;
    assert_eq!(d.outcome(), Outcome::Allowed, "not retried: {}", json(&d));
    assert_eq!(s.proxy.count_path("GET", &s.sig_tag_path()), 3);

    s.proxy.clear_faults();
    s.proxy.reset();
    s.proxy
        .inject("GET", &s.sig_tag_path(), Fault::drop_connection());
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(&d, took, &["registry-error", "after 3 retries", "closed"]);
    assert_eq!(s.proxy.count_path("GET", &s.sig_tag_path()), 4);
}

/// A connection dropped mid-body (`Content-Length` of the whole, half sent): the `.sig`
/// manifest and the signature layer. Denied, naming the unfinished body.
#[tokio::test]
async fn connection_dropped_mid_body() {
    let s = Signed::new("hostile-cut", WriteFormat::Legacy).await;
    let (bytes, sig) = s.sig_manifest().await;
    s.proxy.inject(
        "GET",
        &s.sig_tag_path(),
        Fault::cut(media_types::OCI_MANIFEST, &bytes, bytes.len() / 2),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(
        &d,
        took,
        &[
            "registry-error",
            "end of file before message length reached",
            "after 3 retries",
        ],
    );
    assert_eq!(s.proxy.count_path("GET", &s.sig_tag_path()), 4);

    // Once only: an idempotent read, retried like a connection dropped before the answer.
    s.proxy.clear_faults();
    s.proxy.reset();
    s.proxy.inject_times(
        "GET",
        &s.sig_tag_path(),
        Fault::cut(media_types::OCI_MANIFEST, &bytes, bytes.len() / 2),
        1,
    );
    let (d, _) = s.decide(&s.via(":v1"), tight()).await;
    assert_eq!(d.outcome(), Outcome::Allowed, "not retried: {}", json(&d));
    assert_eq!(s.proxy.count_path("GET", &s.sig_tag_path()), 2);

    s.proxy.clear_faults();
    let layer = &sig.layers[0];
    let payload = test_client()
        .repository(&s.direct())
        .unwrap()
        .get_blob(&layer.digest, layer.size)
        .await
        .unwrap();
    s.proxy.inject(
        "GET",
        &format!("/blobs/{}", layer.digest),
        Fault::cut("application/octet-stream", &payload, payload.len() / 2),
    );
    let (d, took) = s.decide(&s.via(":v1"), tight()).await;
    assert_denied(
        &d,
        took,
        &[
            "end of file before message length reached",
            &layer.digest.to_string(),
        ],
    );
}

/// The write faults a signer or attester meets: (method, path part, fault).
fn write_faults() -> Vec<(&'static str, &'static str, Fault)> {
    vec![
        ("PUT", "/manifests/", Fault::status(500)),
        ("PUT", "/manifests/", Fault::drop_connection()),
        ("PUT", "/blobs/uploads/", Fault::status(503)),
        ("POST", "/blobs/uploads/", Fault::drop_connection()),
    ]
}

/// Signing through a proxy that fails the manifest PUT or a blob upload fails, and leaves the
/// `.sig` tag exactly as it was: the earlier signature still verifies, the failed one is absent.
#[tokio::test]
async fn failed_sign_writes_leave_no_partial_signature() {
    let s = Signed::new("hostile-sign-write", WriteFormat::Legacy).await;
    let direct = test_client().repository(&s.direct()).unwrap();
    let (before, _) = s.sig_manifest().await;
    for (i, (method, part, fault)) in write_faults().into_iter().enumerate() {
        s.proxy.clear_faults();
        s.proxy.inject(method, part, fault.clone());
        let bob = SigningKey::generate_p256().unwrap();
        // A payload (and so a config blob) of its own: nothing to upload is already there.
        let opts = SignOptions {
            annotations: BTreeMap::from([("attempt".to_owned(), i.to_string())]),
            ..SignOptions::default()
        };
        let started = Instant::now();
        let r = sign::sign_image(&client_with(tight()), &s.via(":v1"), &bob, &opts).await;
        assert!(started.elapsed() < BOUND, "{method} {part}");
        assert!(r.is_err(), "{method} {part} {fault:?}: signing succeeded");
        let (after, _) = s.sig_manifest().await;
        assert_eq!(after, before, "{method} {part}: the .sig manifest changed");
        let ok = |r: Vec<Result<_, _>>| r.iter().filter(|x| x.is_ok()).count();
        let none = BTreeMap::new();
        let alice = signature_checks(&direct, &s.digest, &s.key.public_key(), &none).await;
        assert_eq!(ok(alice), 1, "{method} {part}");
        let bob = signature_checks(&direct, &s.digest, &bob.public_key(), &none).await;
        assert_eq!(ok(bob), 0, "{method} {part}");
        s.proxy.clear_faults();
        let (d, _) = s.decide(&s.via(":v1"), tight()).await;
        assert_eq!(
            d.outcome(),
            Outcome::Allowed,
            "{method} {part}: {}",
            json(&d)
        );
    }
}

/// Attesting (legacy `.att` and bundle referrers) through a proxy that fails the manifest PUT
/// or a blob upload fails, and leaves what was attested before intact and verifying.
#[tokio::test]
async fn failed_attest_writes_leave_no_partial_attestation() {
    let proxy = Proxy::start(registry()).await;
    let repo_name = unique_repo("hostile-attest-write");
    let (direct_ref, digest) = push_random_image(&repo_name).await;
    let via = ImageRef::parse(&format!("{}/{repo_name}:v1", proxy.addr())).unwrap();
    let direct = test_client().repository(&direct_ref).unwrap();
    let alice = SigningKey::generate_p256().unwrap();
    let first = "https://example.com/first/v1";
    for format in [WriteFormat::Legacy, WriteFormat::Bundle] {
        let opts = attest_options(format, first, serde_json::json!({"n": 1}));
        sign::attest_image(&test_client(), &direct_ref, &alice, &opts)
            .await
            .unwrap();
    }
    let tags = [Kind::Attestation.tag(&digest), digest.tag_base()];
    let snapshot = || async {
        let mut out = Vec::new();
        for t in &tags {
            let m = direct.get_manifest(ManifestRef::Tag(t)).await.unwrap();
            out.push(m.map(|m| m.bytes));
        }
        out
    };
    let before = snapshot().await;
    assert!(before.iter().all(Option::is_some));
    for format in [WriteFormat::Legacy, WriteFormat::Bundle] {
        for (i, (method, part, fault)) in write_faults().into_iter().enumerate() {
            proxy.clear_faults();
            proxy.inject(method, part, fault.clone());
            let opts = attest_options(
                format,
                "https://example.com/second/v1",
                serde_json::json!({"attempt": i}),
            );
            let started = Instant::now();
            let r = sign::attest_image(&client_with(tight()), &via, &alice, &opts).await;
            assert!(started.elapsed() < BOUND, "{format:?} {method} {part}");
            assert!(
                r.is_err(),
                "{format:?} {method} {part}: attesting succeeded"
            );
            assert_eq!(
                snapshot().await,
                before,
                "{format:?} {method} {part}: an attachment tag changed"
            );
        }
    }
    proxy.clear_faults();
    // What was attested before still verifies, in both formats.
    let legacy = crate::support::checks::attestation_checks(
        &direct,
        &digest,
        &alice.public_key(),
        Some(first),
    )
    .await;
    assert_eq!(legacy.iter().filter(|x| x.is_ok()).count(), 1);
    let v = SignatureVerifier::Key(alice.public_key());
    let bundles = crate::support::checks::bundle_checks(
        &bundles_of(&direct, &digest).await,
        &digest,
        &v,
        &BTreeMap::new(),
    );
    let types: Vec<String> = bundles
        .into_iter()
        .filter_map(|x| match x {
            Ok(VerifiedBundleItem::Attestation(a)) => Some(a.predicate_type().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(types, vec![first.to_owned()]);
    let index: ImageIndex = tag_index(&direct, &digest).await;
    assert_eq!(index.manifests.len(), 1);
}
