//! Hostile attachments (issue 10, "a total byte budget per image"): an attacker with push
//! access writes `.sig` manifests whose layers all point at one blob, or whose payload layer is
//! huge. Discovery fetches each digest once, charges everything it fetches for one image to
//! `Limits::max_image_bytes`, and refuses a simple-signing layer over
//! `Limits::max_payload_bytes` before fetching it. Requests are counted through the proxy in
//! front of the real registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::support::checks::signature_checks;
use crate::support::proxy::{Kind as ReqKind, Proxy};
use crate::support::{push_random_image_at, random_bytes, registry, test_client, unique_repo};
use imprint::format::digest::Digest;
use imprint::keys::SigningKey;
use imprint::sign::{self, SignOptions};
use imprint::store::attach::Kind;
use imprint::store::discover::{self, Discovered, SignatureFormat};
use imprint::store::{AnyRepository, Limits, Repository, media_types};
use imprint::verify::{self, SignatureVerifier};

/// A `.sig` manifest for `subject` with `layers` simple-signing layers, each pointing at
/// (`digest`, `size`). Returns the manifest bytes.
async fn push_sig_layers(
    repo: &AnyRepository,
    subject: &Digest,
    layers: usize,
    digest: &Digest,
    size: u64,
) -> Vec<u8> {
    let config = b"{}".to_vec();
    repo.put_blob(&config).await.unwrap();
    let layer = serde_json::json!({
        "mediaType": media_types::SIMPLE_SIGNING,
        "digest": digest.to_string(),
        "size": size,
        "annotations": {"dev.cosignproject.cosign/signature": "AAAA"},
    });
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "config": {"mediaType": media_types::OCI_CONFIG, "digest": Digest::of(&config).to_string(), "size": 2},
        "layers": vec![layer; layers],
    }))
    .unwrap();
    repo.put_manifest(
        Some(&Kind::Signature.tag(subject)),
        media_types::OCI_MANIFEST,
        &manifest,
    )
    .await
    .unwrap();
    manifest
}

async fn discover_sigs<R: Repository>(
    repo: &R,
    subject: &Digest,
    limits: &Limits,
) -> Result<Discovered, discover::DiscoverError> {
    discover::discover(repo, subject, SignatureFormat::Legacy, true, false, limits).await
}

/// 50 layers pointing at one blob: one blob GET, one shared copy in memory.
#[tokio::test]
async fn layers_sharing_one_blob_fetch_it_once() {
    let proxy = Proxy::start(registry()).await;
    let (image, subject) = push_random_image_at(proxy.addr(), &unique_repo("hostile-same")).await;
    let repo = test_client().repository(&image).unwrap();
    let blob = random_bytes(4096);
    let blob_digest = repo.put_blob(&blob).await.unwrap();
    push_sig_layers(&repo, &subject, 50, &blob_digest, 4096).await;

    proxy.reset();
    let found = discover_sigs(&repo, &subject, &Limits::default())
        .await
        .unwrap();
    assert_eq!(found.signatures.len(), 50);
    let first = found.signatures[0].content.as_ref().unwrap();
    assert_eq!(first.as_slice(), blob.as_slice());
    for c in &found.signatures {
        let content = c.content.as_ref().unwrap();
        assert!(Arc::ptr_eq(first, content), "one shared copy per digest");
    }
    assert_eq!(
        proxy.count("GET", ReqKind::Blob),
        1,
        "{:?}",
        proxy.requests()
    );

    // Concurrency 1 still finishes (and still fetches once).
    proxy.reset();
    let one = Limits {
        max_concurrent_fetches: 1,
        ..Limits::default()
    };
    let found = discover_sigs(&repo, &subject, &one).await.unwrap();
    assert!(found.signatures.iter().all(|c| c.content.is_ok()));
    assert_eq!(proxy.count("GET", ReqKind::Blob), 1);
}

/// The per-image total counts the attachment manifest and each distinct blob: over it, the
/// blob is refused before it is fetched, and a manifest over it stops discovery; both errors
/// name `max_image_bytes` and the value seen.
#[tokio::test]
async fn the_image_total_is_bounded_by_max_image_bytes() {
    let proxy = Proxy::start(registry()).await;
    let (image, subject) = push_random_image_at(proxy.addr(), &unique_repo("hostile-total")).await;
    let repo = test_client().repository(&image).unwrap();
    let blob = random_bytes(4096);
    let blob_digest = repo.put_blob(&blob).await.unwrap();
    let manifest = push_sig_layers(&repo, &subject, 50, &blob_digest, 4096).await;
    let m = manifest.len() as u64;

    // Exactly enough for the manifest and one copy of the blob: accepted.
    let exact = Limits {
        max_image_bytes: m + 4096,
        ..Limits::default()
    };
    let found = discover_sigs(&repo, &subject, &exact).await.unwrap();
    assert!(found.signatures.iter().all(|c| c.content.is_ok()));

    // One byte less: every layer refused, the blob never fetched.
    proxy.reset();
    let tight = Limits {
        max_image_bytes: m + 4095,
        ..Limits::default()
    };
    let found = discover_sigs(&repo, &subject, &tight).await.unwrap();
    assert_eq!(found.signatures.len(), 50);
    for c in &found.signatures {
        let e = c.content.as_ref().unwrap_err();
        assert!(e.contains("max_image_bytes"), "{e}");
        assert!(e.contains(&(m + 4096).to_string()), "value seen: {e}");
        assert!(e.contains(&(m + 4095).to_string()), "the limit: {e}");
    }
    assert_eq!(proxy.count("GET", ReqKind::Blob), 0);
    // Verification of those candidates fails closed.
    let key = SigningKey::generate_p256().unwrap().public_key();
    let r = verify::check_signature(
        &found.signatures[0],
        &subject,
        &SignatureVerifier::Key(key),
        &BTreeMap::new(),
    );
    assert!(r.is_err());

    // A budget smaller than the `.sig` manifest itself: discovery stops, naming the limit.
    let tiny = Limits {
        max_image_bytes: 100,
        ..Limits::default()
    };
    let e = discover_sigs(&repo, &subject, &tiny).await.unwrap_err();
    let msg = imprint::format::error_chain(&e);
    assert!(msg.contains("max_image_bytes"), "{msg}");
    assert!(msg.contains(&m.to_string()), "{msg}");
    assert!(msg.contains("100"), "{msg}");
}

/// A simple-signing layer declaring more than `max_payload_bytes` is refused by its
/// descriptor, without a blob GET.
#[tokio::test]
async fn an_oversized_payload_layer_is_refused_before_it_is_fetched() {
    let proxy = Proxy::start(registry()).await;
    let (image, subject) =
        push_random_image_at(proxy.addr(), &unique_repo("hostile-payload")).await;
    let repo = test_client().repository(&image).unwrap();
    let size = Limits::DEFAULT.max_payload_bytes + 1;
    let blob = random_bytes(size as usize);
    let blob_digest = repo.put_blob(&blob).await.unwrap();
    push_sig_layers(&repo, &subject, 1, &blob_digest, size).await;

    proxy.reset();
    let found = discover_sigs(&repo, &subject, &Limits::default())
        .await
        .unwrap();
    let e = found.signatures[0].content.as_ref().unwrap_err();
    assert!(e.contains("max_payload_bytes"), "{e}");
    assert!(e.contains(&size.to_string()), "{e}");
    assert!(
        e.contains(&Limits::DEFAULT.max_payload_bytes.to_string()),
        "{e}"
    );
    assert_eq!(
        proxy.count("GET", ReqKind::Blob),
        0,
        "{:?}",
        proxy.requests()
    );
}

/// A real signature still verifies under the budget, also with one fetch at a time and a
/// budget just large enough.
#[tokio::test]
async fn a_valid_signature_still_verifies() {
    let proxy = Proxy::start(registry()).await;
    let (image, subject) = push_random_image_at(proxy.addr(), &unique_repo("hostile-valid")).await;
    let client = test_client();
    let alice = SigningKey::generate_p256().unwrap();
    sign::sign_image(&client, &image, &alice, &SignOptions::default())
        .await
        .unwrap();
    let repo = client.repository(&image).unwrap();
    let r = signature_checks(&repo, &subject, &alice.public_key(), &BTreeMap::new()).await;
    assert_eq!(r.len(), 1);
    assert!(r[0].is_ok(), "{:?}", r[0]);

    let limits = Limits {
        max_concurrent_fetches: 1,
        max_image_bytes: 64 * 1024,
        ..Limits::default()
    };
    let found = discover_sigs(&repo, &subject, &limits).await.unwrap();
    let v = SignatureVerifier::Key(alice.public_key());
    let r = verify::check_signature(&found.signatures[0], &subject, &v, &BTreeMap::new());
    assert!(r.is_ok(), "{r:?}");
}
