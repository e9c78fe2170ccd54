//! Many writers on one image at once (issue 10): 20 concurrent signers (legacy `.sig`
//! read-modify-write of one tag) and 20 concurrent bundle attestations (20 referrers, one
//! tag-schema index) on one image in the real registry keep all 20.

use std::collections::BTreeMap;

use crate::support::checks::{
    attest_options, bundle_checks, bundles_of, signature_checks, tag_index,
};
use crate::support::{push_random_image, test_client, unique_repo};
use imprint::keys::SigningKey;
use imprint::sign::{self, SignOptions, WriteFormat};
use imprint::store::attach::Appended;
use imprint::verify::{SignatureVerifier, VerifiedBundleItem};

const WRITERS: usize = 20;

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_signers_keep_all_twenty() {
    let (image, digest) = push_random_image(&unique_repo("concurrent-20-sign")).await;
    let client = test_client();
    let keys: Vec<SigningKey> = (0..WRITERS)
        .map(|_| SigningKey::generate_p256().unwrap())
        .collect();
    let opts = SignOptions::default();
    let runs = keys
        .iter()
        .map(|k| sign::sign_image(&client, &image, k, &opts));
    for (i, r) in futures_util::future::join_all(runs)
        .await
        .into_iter()
        .enumerate()
    {
        r.unwrap_or_else(|e| panic!("signer {i}: {}", imprint::format::error_chain(&e)));
    }
    let repo = client.repository(&image).unwrap();
    let mut lost = Vec::new();
    for k in &keys {
        let r = signature_checks(&repo, &digest, &k.public_key(), &BTreeMap::new()).await;
        match r.iter().filter(|x| x.is_ok()).count() {
            1 => {}
            n => lost.push(format!("{}: {n} signatures", k.public_key().fingerprint())),
        }
    }
    assert!(lost.is_empty(), "{} of {WRITERS}: {lost:#?}", lost.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_bundle_attestations_keep_all_twenty() {
    let (image, digest) = push_random_image(&unique_repo("concurrent-20-attest")).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    let types: Vec<String> = (0..WRITERS)
        .map(|i| format!("https://example.com/concurrent-{i:02}/v1"))
        .collect();
    let opts: Vec<_> = types
        .iter()
        .enumerate()
        .map(|(i, t)| attest_options(WriteFormat::Bundle, t, serde_json::json!({ "n": i })))
        .collect();
    let runs = opts
        .iter()
        .map(|o| sign::attest_image(&client, &image, &key, o));
    let mut written = Vec::new();
    for (i, r) in futures_util::future::join_all(runs)
        .await
        .into_iter()
        .enumerate()
    {
        let done =
            r.unwrap_or_else(|e| panic!("attester {i}: {}", imprint::format::error_chain(&e)));
        let Appended::Written { manifest, .. } = &done[0].outcome else {
            panic!("attester {i}: {:?}", done[0].outcome)
        };
        written.push(manifest.clone());
    }
    let repo = client.repository(&image).unwrap();
    let index = tag_index(&repo, &digest).await;
    let lost: Vec<_> = written
        .iter()
        .filter(|m| !index.manifests.iter().any(|d| &d.digest == *m))
        .collect();
    assert!(lost.is_empty(), "referrers lost from the index: {lost:?}");
    assert_eq!(index.manifests.len(), WRITERS);
    let r = bundle_checks(
        &bundles_of(&repo, &digest).await,
        &digest,
        &SignatureVerifier::Key(key.public_key()),
        &BTreeMap::new(),
    );
    let mut verified: Vec<String> = r
        .into_iter()
        .map(|x| match x.unwrap() {
            VerifiedBundleItem::Attestation(a) => a.predicate_type().to_owned(),
            VerifiedBundleItem::Signature(_) => panic!("no signature was written"),
        })
        .collect();
    verified.sort();
    assert_eq!(verified, types);
}
