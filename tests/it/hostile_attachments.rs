//! Hostile attachments (issue 10, "a total byte budget per image"): an attacker with push
//! access writes `.sig` manifests whose layers all point at one blob, or whose payload layer is
//! huge. Discovery fetches each digest once, charges everything it fetches for one image to
//! `Limits::max_image_bytes`, and refuses a simple-signing layer over
//! `Limits::max_payload_bytes` before fetching it. Requests are counted through the proxy in
//! front of the real registry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::checks::signature_checks;
use crate::support::proxy::{Fault, Kind as ReqKind, Proxy};
use crate::support::{
    push_random_image, push_random_image_at, random_bytes, registry, test_client, unique_repo,
};
use imprint::format::digest::Digest;
use imprint::format::reference::ImageRef;
use imprint::gate::Verifier;
use imprint::keys::SigningKey;
use imprint::policy::{Decision, Outcome, Policy, ReasonCode};
use imprint::sign::{self, SignOptions, WriteFormat};
use imprint::store::attach::Kind;
use imprint::store::discover::{self, Discovered, SignatureFormat};
use imprint::store::{AnyRepository, AuthSource, Limits, RegistryConfig, Repository, media_types};
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
    repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
        .await
        .unwrap();
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
) -> Result<Discovered, discover::Unreadable> {
    discover::discover(repo, subject, SignatureFormat::Legacy, true, false, limits)
        .await
        .complete()
}

/// 50 layers pointing at one blob: one blob GET, one shared copy in memory.
#[tokio::test]
async fn layers_sharing_one_blob_fetch_it_once() {
    let proxy = Proxy::start(registry()).await;
    let (image, subject) = push_random_image_at(proxy.addr(), &unique_repo("hostile-same")).await;
    let repo = test_client().repository(&image).unwrap();
    let blob = random_bytes(4096);
    let blob_digest = repo
        .put_blob(imprint::store::Blob::copy_from_slice(&blob))
        .await
        .unwrap();
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
    let blob_digest = repo
        .put_blob(imprint::store::Blob::copy_from_slice(&blob))
        .await
        .unwrap();
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
    let blob_digest = repo
        .put_blob(imprint::store::Blob::copy_from_slice(&blob))
        .await
        .unwrap();
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

/// A policy requiring a signature by `key` on every image, decided by a [`Verifier`] with
/// `limits` (anonymous registry access). The tempdir holds the key file.
fn gate_for(key: &SigningKey, limits: Limits) -> (tempfile::TempDir, Verifier) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.pub"), key.public_key().to_pem()).unwrap();
    let yaml = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: deny\n  \
                authorities:\n    k: {key: {file: k.pub}}\n  rules:\n    - name: all\n      \
                images: [\"**\"]\n      signatures: {authority: k}\n";
    let policy = Policy::from_str_with_base(yaml, dir.path()).unwrap();
    let v = Verifier::builder(policy)
        .registry(RegistryConfig {
            auth: AuthSource::Anonymous,
            limits,
            ..RegistryConfig::default()
        })
        .build()
        .unwrap();
    (dir, v)
}

fn bundle_format() -> SignOptions {
    SignOptions {
        format: WriteFormat::Bundle,
        ..SignOptions::default()
    }
}

fn pretty(d: &Decision) -> String {
    serde_json::to_string_pretty(d).unwrap()
}

/// Regression (issue 10, "junk from one source"): a validly bundle-signed image plus an
/// attacker-pushed `.sig` with 1001 layers (over `max_layers`) was denied with
/// `registry-error`, the valid bundle never looked at. Now the bundle decides and the broken
/// `.sig` is a warning; an image with only the junk is still denied as `registry-error` (its
/// signatures could not be read: not "unsigned").
#[tokio::test]
async fn junk_in_the_sig_tag_does_not_hide_a_valid_bundle() {
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    let junk = |image: ImageRef, subject: Digest| {
        let client = &client;
        async move {
            let repo = client.repository(&image).unwrap();
            let blob = random_bytes(64);
            let blob_digest = repo
                .put_blob(imprint::store::Blob::copy_from_slice(&blob))
                .await
                .unwrap();
            push_sig_layers(&repo, &subject, 1001, &blob_digest, 64).await;
        }
    };
    let (signed, subject) = push_random_image(&unique_repo("junk-sig-valid")).await;
    sign::sign_image(&client, &signed, &key, &bundle_format())
        .await
        .unwrap();
    junk(signed.clone(), subject).await;
    let (_dir, gate) = gate_for(&key, Limits::default());
    let d = gate.verify(&signed).await;
    assert_eq!(d.outcome(), Outcome::Allowed, "{}", pretty(&d));
    assert!(
        d.warnings()
            .iter()
            .any(|w| w.contains("legacy signatures (.sig)") && w.contains("1001 layers")),
        "{}",
        pretty(&d)
    );

    let (unsigned, subject) = push_random_image(&unique_repo("junk-sig-only")).await;
    junk(unsigned.clone(), subject).await;
    let d = gate.verify(&unsigned).await;
    assert_eq!(d.outcome(), Outcome::Denied, "{}", pretty(&d));
    let reason = d.reason().unwrap();
    assert_eq!(reason.code, ReasonCode::RegistryError, "{}", pretty(&d));
    assert!(reason.message.contains("1001 layers"), "{}", reason.message);
}

/// Which of three signers' signatures were checked under a limit that admits two: exactly
/// two of the three single-signer policies allow; the third is denied with `registry-error`
/// naming the limit (an attacker's extra attachments cannot turn "signed" into "unsigned").
async fn two_of_three_checked(image: &ImageRef, keys: &[SigningKey], limits: Limits, limit: &str) {
    let mut allowed = 0;
    for key in keys {
        let (_dir, gate) = gate_for(key, limits);
        let d = gate.verify(image).await;
        match d.outcome() {
            Outcome::Allowed => {
                allowed += 1;
                assert!(
                    d.warnings().iter().any(|w| w.contains(limit)),
                    "{}",
                    pretty(&d)
                );
            }
            _ => {
                let reason = d.reason().unwrap();
                assert_eq!(reason.code, ReasonCode::RegistryError, "{}", pretty(&d));
                assert!(reason.message.contains(limit), "{}", pretty(&d));
                assert!(reason.message.contains("3 "), "value seen: {}", pretty(&d));
            }
        }
    }
    assert_eq!(allowed, 2, "exactly the first two candidates are checked");
}

/// Regression: referrers past the limit were dropped silently (`take(max_layers)`), so a
/// valid signature listed after them read as "unsigned". Now `max_referrers` is enforced and
/// named.
#[tokio::test]
async fn referrers_past_max_referrers_are_named() {
    let client = test_client();
    let (image, _) = push_random_image(&unique_repo("max-referrers")).await;
    let keys: Vec<SigningKey> = (0..3)
        .map(|_| SigningKey::generate_p256().unwrap())
        .collect();
    for k in &keys {
        sign::sign_image(&client, &image, k, &bundle_format())
            .await
            .unwrap();
    }
    let limits = Limits {
        max_referrers: 2,
        ..Limits::default()
    };
    two_of_three_checked(&image, &keys, limits, "max_referrers").await;
    // Under the default limit all three are checked.
    for k in &keys {
        let (_dir, gate) = gate_for(k, Limits::default());
        let d = gate.verify(&image).await;
        assert_eq!(d.outcome(), Outcome::Allowed, "{}", pretty(&d));
        assert!(d.warnings().is_empty(), "{}", pretty(&d));
    }
}

/// `max_attachments` bounds the candidates of one image across sources (here three `.sig`
/// layers with a limit of two): past it, candidates are not fetched and the limit is named.
#[tokio::test]
async fn candidates_past_max_attachments_are_named() {
    let client = test_client();
    let (image, _) = push_random_image(&unique_repo("max-attachments")).await;
    let keys: Vec<SigningKey> = (0..3)
        .map(|_| SigningKey::generate_p256().unwrap())
        .collect();
    for k in &keys {
        sign::sign_image(&client, &image, k, &SignOptions::default())
            .await
            .unwrap();
    }
    let limits = Limits {
        max_attachments: 2,
        ..Limits::default()
    };
    two_of_three_checked(&image, &keys, limits, "max_attachments").await;
}

/// Regression (issue 10, "deadlines"): only per-request deadlines existed, so a registry
/// answering each request just inside `request_timeout` could hold one image's verification
/// for requests × timeout. Now the whole image has `image_timeout`: a `.sig` tag that
/// trickles is cut off there, the decision is `timeout` (fail closed) when nothing else
/// verified, and a valid bundle read meanwhile still allows (with a warning).
#[tokio::test]
async fn the_image_deadline_cuts_off_a_trickling_source() {
    let proxy = Proxy::start(registry()).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    let limits = Limits {
        image_timeout: Duration::from_millis(1500),
        ..Limits::default()
    };
    let (_dir, gate) = gate_for(&key, limits);
    let mut slow = Fault::body(media_types::OCI_MANIFEST, vec![b' '; 1000]);
    slow.trickle = Some(Duration::from_millis(100));
    proxy.inject("GET", ".sig", slow);

    let (signed, _) = push_random_image_at(proxy.addr(), &unique_repo("deadline-valid")).await;
    sign::sign_image(&client, &signed, &key, &bundle_format())
        .await
        .unwrap();
    let started = Instant::now();
    let d = gate.verify(&signed).await;
    let took = started.elapsed();
    assert_eq!(d.outcome(), Outcome::Allowed, "{}", pretty(&d));
    assert!(
        d.warnings()
            .iter()
            .any(|w| w.starts_with("timeout:") && w.contains("image_timeout")),
        "{}",
        pretty(&d)
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let (unsigned, _) = push_random_image_at(proxy.addr(), &unique_repo("deadline-none")).await;
    let started = Instant::now();
    let d = gate.verify(&unsigned).await;
    let took = started.elapsed();
    assert_eq!(d.outcome(), Outcome::Denied, "{}", pretty(&d));
    assert_eq!(
        d.reason().unwrap().code,
        ReasonCode::Timeout,
        "{}",
        pretty(&d)
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
