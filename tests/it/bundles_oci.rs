//! Sigstore bundles attached as OCI 1.1 referrers, and keyless legacy signatures, against the
//! real registry (Debian's distribution 2.8: no referrers API, so the `sha256-<hex>`
//! tag-schema index is used) and through a proxy that adds a native referrers API.

use crate::support::checks::{attest_options, bundle_checks as check_all, bundles_of, tag_index};
use crate::support::cli::{imprint, run};
use crate::support::sig::{containers_image_layer, push_sig_layer};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::support::proxy::{Fault, Proxy};
use crate::support::{push_random_image, registry, test_client, unique_repo, vectors};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use imprint::format::digest::Digest;
use imprint::format::oci::{self, ImageManifest};
use imprint::format::reference::ImageRef;
use imprint::format::{self, IN_TOTO_PAYLOAD_TYPE};
use imprint::keys::SigningKey;
use imprint::sign::{self, AttestOptions, SignOptions, WriteFormat};
use imprint::store::attach::{self, Kind, NewLayer};
use imprint::store::discover::{self, Candidate, SignatureFormat};
use imprint::store::{Limits, ManifestRef, Repository, media_types};
use imprint::trust::{GithubClaims, IdentityPolicy, Matcher, TrustRoot};
use imprint::verify::proof::{Signer, Source};
use imprint::verify::{self, COSIGN_SIGN_PREDICATE, Check, SignatureVerifier, VerifiedBundleItem};

const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

fn pgi() -> Arc<TrustRoot> {
    Arc::new(TrustRoot::from_file(&vectors().join("trust-roots/pgi-trusted_root.json")).unwrap())
}

fn keyless(san: &str, issuer: &str) -> SignatureVerifier {
    SignatureVerifier::Keyless {
        identity: IdentityPolicy::new(
            Matcher::Exact(san.into()),
            Matcher::Exact(issuer.into()),
            GithubClaims::default(),
        )
        .unwrap(),
        trust: pgi(),
    }
}

fn bundle_opts(annotations: &[(&str, &str)]) -> SignOptions {
    SignOptions {
        annotations: annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        format: WriteFormat::Bundle,
        ..SignOptions::default()
    }
}

fn attest_opts(predicate_type: &str, predicate: serde_json::Value) -> AttestOptions {
    attest_options(WriteFormat::Bundle, predicate_type, predicate)
}

/// A key-signed bundle for `statement` (what `sign`/`attest --new-bundle-format` store).
fn key_bundle(key: &SigningKey, statement: &[u8]) -> Vec<u8> {
    let sig = key
        .sign(&format::pae(IN_TOTO_PAYLOAD_TYPE, statement))
        .unwrap();
    format::bundle::dsse_bundle(
        key.public_key().spki_der(),
        IN_TOTO_PAYLOAD_TYPE,
        statement,
        &sig,
    )
}

async fn subject_of<R: Repository>(repo: &R, digest: &Digest) -> attach::Subject {
    let m = repo
        .get_manifest(ManifestRef::Digest(digest))
        .await
        .unwrap()
        .unwrap();
    attach::Subject {
        media_type: m.media_type,
        size: m.bytes.len() as u64,
        digest: digest.clone(),
    }
}

#[tokio::test]
async fn sign_and_attest_as_bundles_then_verify() {
    let (image, digest) = push_random_image(&unique_repo("bundle-sign")).await;
    let client = test_client();
    let repo = client.repository(&image).unwrap();
    let alice = SigningKey::generate_p256().unwrap();
    let bob = SigningKey::generate_p256().unwrap();

    let done = sign::sign_image(&client, &image, &alice, &bundle_opts(&[("env", "prod")]))
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].format, WriteFormat::Bundle);
    let predicate = serde_json::json!({"builder": {"id": "test"}});
    sign::attest_image(
        &client,
        &image,
        &alice,
        &attest_opts(CUSTOM, predicate.clone()),
    )
    .await
    .unwrap();

    // Nothing legacy was written.
    assert!(
        repo.get_manifest(ManifestRef::Tag(&Kind::Signature.tag(&digest)))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        repo.get_manifest(ManifestRef::Tag(&Kind::Attestation.tag(&digest)))
            .await
            .unwrap()
            .is_none()
    );

    // The tag-schema index lists both referrers; each referrer has cosign's shape.
    let index = tag_index(&repo, &digest).await;
    assert_eq!(index.manifests.len(), 2);
    let mut predicate_types = Vec::new();
    for d in &index.manifests {
        assert_eq!(
            d.artifact_type.as_deref(),
            Some(media_types::SIGSTORE_BUNDLE_V03)
        );
        let m = repo
            .get_manifest(ManifestRef::Digest(&d.digest))
            .await
            .unwrap()
            .unwrap();
        let rm: ImageManifest = serde_json::from_slice(&m.bytes).unwrap();
        assert_eq!(
            rm.artifact_type.as_deref(),
            Some(media_types::SIGSTORE_BUNDLE_V03)
        );
        assert_eq!(rm.config.media_type, media_types::OCI_EMPTY);
        assert_eq!(rm.config.size, 2);
        assert_eq!(rm.subject.as_ref().unwrap().digest, digest);
        assert_eq!(rm.layers.len(), 1);
        let ann = rm.annotations.unwrap();
        assert_eq!(ann["dev.sigstore.bundle.content"], "dsse-envelope");
        let created = &ann["org.opencontainers.image.created"];
        assert!(
            created.ends_with('Z') && created.len() == 20,
            "created = {created}"
        );
        predicate_types.push(ann["dev.sigstore.bundle.predicateType"].clone());
        // The bundle: key hint, DSSE, no tlog entries.
        let b = repo.get_blob(&rm.layers[0].digest, 1 << 20).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v["verificationMaterial"]["publicKey"]["hint"],
            format::bundle::public_key_hint(alice.public_key().spki_der())
        );
        assert!(v["verificationMaterial"].get("tlogEntries").is_none());
        assert_eq!(v["dsseEnvelope"]["payloadType"], IN_TOTO_PAYLOAD_TYPE);
    }
    predicate_types.sort();
    assert_eq!(
        predicate_types,
        vec![CUSTOM.to_owned(), COSIGN_SIGN_PREDICATE.to_owned()]
    );

    // Both verify with alice's key: one signature (with its annotations), one attestation.
    let cands = bundles_of(&repo, &digest).await;
    assert_eq!(cands.len(), 2);
    let mut required = BTreeMap::new();
    required.insert("env".to_owned(), "prod".to_owned());
    let results = check_all(
        &cands,
        &digest,
        &SignatureVerifier::Key(alice.public_key()),
        &required,
    );
    let mut sigs = 0;
    let mut atts = 0;
    for r in results {
        match r.unwrap() {
            VerifiedBundleItem::Signature(s) => {
                sigs += 1;
                assert_eq!(s.image(), &digest);
                assert_eq!(s.annotations()["env"], "prod");
                assert_eq!(
                    s.signer(),
                    &Signer::Key {
                        fingerprint: alice.public_key().fingerprint()
                    }
                );
                assert!(matches!(s.source(), Source::Bundle { .. }));
                assert!(s.tlog().is_none());
                // The signed statement: v1, one subject without a name, predicate {}.
                let st: serde_json::Value = serde_json::from_slice(s.payload()).unwrap();
                assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
                assert_eq!(st["subject"][0]["digest"]["sha256"], digest.hex());
                assert!(st["subject"][0].get("name").is_none());
                assert_eq!(st["subject"][0]["annotations"]["env"], "prod");
                assert_eq!(st["predicate"], serde_json::json!({}));
            }
            VerifiedBundleItem::Attestation(a) => {
                atts += 1;
                assert_eq!(a.predicate_type(), CUSTOM);
                assert_eq!(a.predicate_value(u64::MAX).unwrap(), predicate);
            }
        }
    }
    assert_eq!((sigs, atts), (1, 1));

    // A required annotation with another value: the signature is rejected (the attestation
    // is not an image signature and has no annotation requirement).
    let mut wrong = BTreeMap::new();
    wrong.insert("env".to_owned(), "dev".to_owned());
    let r = check_all(
        &cands,
        &digest,
        &SignatureVerifier::Key(alice.public_key()),
        &wrong,
    );
    assert_eq!(
        r.iter()
            .filter(|x| x.as_ref().is_err_and(|f| f.check == Check::Annotations))
            .count(),
        1
    );

    // Wrong key: both rejected by the signature check.
    let r = check_all(
        &cands,
        &digest,
        &SignatureVerifier::Key(bob.public_key()),
        &BTreeMap::new(),
    );
    assert!(
        r.iter()
            .all(|x| x.as_ref().is_err_and(|f| f.check == Check::Signature)),
        "{r:?}"
    );
    // Keyless verifier on key-signed bundles: rejected.
    let r = check_all(
        &cands,
        &digest,
        &keyless("x@example.com", "https://github.com/login/oauth"),
        &BTreeMap::new(),
    );
    assert!(
        r.iter()
            .all(|x| x.as_ref().is_err_and(|f| f.check == Check::Bundle)),
        "{r:?}"
    );
}

/// A validly signed bundle for image B attached as a referrer of image A; a bundle blob with
/// one byte changed; a referrer whose statement has no subject for A: all rejected.
#[tokio::test]
async fn bundles_for_other_digests_and_tampered_bundles_are_rejected() {
    let (image, digest) = push_random_image(&unique_repo("bundle-neg")).await;
    let (_, other) = push_random_image(&unique_repo("bundle-neg-other")).await;
    let client = test_client();
    let repo = client.repository(&image).unwrap();
    let key = SigningKey::generate_p256().unwrap();
    let subject = subject_of(&repo, &digest).await;

    // 1. Signature bundle whose statement names the other image.
    let for_other = key_bundle(
        &key,
        &sign::image_signature_statement(&other, &BTreeMap::new()),
    );
    attach::push_bundle_referrer(
        &repo,
        &subject,
        imprint::store::Blob::copy_from_slice(&for_other),
        COSIGN_SIGN_PREDICATE,
        "2026-01-01T00:00:00Z",
    )
    .await
    .unwrap();
    let v = SignatureVerifier::Key(key.public_key());
    let r = check_all(
        &bundles_of(&repo, &digest).await,
        &digest,
        &v,
        &BTreeMap::new(),
    );
    assert_eq!(r.len(), 1);
    let f = r[0].as_ref().unwrap_err();
    assert_eq!(f.check, Check::Subject, "{f}");

    // 2. A correct bundle for this image, one byte of the DSSE signature changed.
    let (image2, digest2) = push_random_image(&unique_repo("bundle-tamper")).await;
    let repo2 = client.repository(&image2).unwrap();
    let subject2 = subject_of(&repo2, &digest2).await;
    let good = key_bundle(
        &key,
        &sign::image_signature_statement(&digest2, &BTreeMap::new()),
    );
    let mut v_json: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let mut sig = B64
        .decode(
            v_json["dsseEnvelope"]["signatures"][0]["sig"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let n = sig.len();
    sig[n - 1] ^= 1;
    v_json["dsseEnvelope"]["signatures"][0]["sig"] = B64.encode(&sig).into();
    let bad_sig = serde_json::to_vec(&v_json).unwrap();
    // 3. The statement changed after signing (payload re-encoded with another digest inside).
    let mut v_json: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let other_statement = sign::image_signature_statement(&other, &BTreeMap::new());
    v_json["dsseEnvelope"]["payload"] = B64.encode(&other_statement).into();
    let bad_payload = serde_json::to_vec(&v_json).unwrap();
    // 4. Not JSON at all.
    let garbage = b"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",".to_vec();
    for b in [&bad_sig, &bad_payload, &garbage] {
        attach::push_bundle_referrer(
            &repo2,
            &subject2,
            imprint::store::Blob::copy_from_slice(b),
            COSIGN_SIGN_PREDICATE,
            "2026-01-01T00:00:00Z",
        )
        .await
        .unwrap();
    }
    let r = check_all(
        &bundles_of(&repo2, &digest2).await,
        &digest2,
        &v,
        &BTreeMap::new(),
    );
    assert_eq!(r.len(), 3);
    let mut checks: Vec<Check> = r.iter().map(|x| x.as_ref().unwrap_err().check).collect();
    checks.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        checks,
        vec![Check::Bundle, Check::Signature, Check::Signature],
        "{r:?}"
    );
    // The untampered bundle verifies (the negatives fail for the mutation, not the setup).
    attach::push_bundle_referrer(
        &repo2,
        &subject2,
        imprint::store::Blob::copy_from_slice(&good),
        COSIGN_SIGN_PREDICATE,
        "2026-01-01T00:00:00Z",
    )
    .await
    .unwrap();
    let r = check_all(
        &bundles_of(&repo2, &digest2).await,
        &digest2,
        &v,
        &BTreeMap::new(),
    );
    assert_eq!(r.iter().filter(|x| x.is_ok()).count(), 1);
}

#[tokio::test]
async fn concurrent_bundle_attestations_keep_both_referrers() {
    let (image, digest) = push_random_image(&unique_repo("bundle-race")).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    let o1 = attest_opts("https://example.com/one/v1", serde_json::json!({"n": 1}));
    let o2 = attest_opts("https://example.com/two/v1", serde_json::json!({"n": 2}));
    let (a, b) = tokio::join!(
        sign::attest_image(&client, &image, &key, &o1),
        sign::attest_image(&client, &image, &key, &o2)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let repo = client.repository(&image).unwrap();
    let index = tag_index(&repo, &digest).await;
    let listed: Vec<&Digest> = index.manifests.iter().map(|d| &d.digest).collect();
    for done in [&a[0], &b[0]] {
        let attach::Appended::Written { manifest, .. } = &done.outcome else {
            panic!("{:?}", done.outcome)
        };
        assert!(
            listed.contains(&manifest),
            "referrer {manifest} lost from the index"
        );
    }
    assert_eq!(listed.len(), 2);
    let r = check_all(
        &bundles_of(&repo, &digest).await,
        &digest,
        &SignatureVerifier::Key(key.public_key()),
        &BTreeMap::new(),
    );
    let mut types: Vec<String> = r
        .into_iter()
        .map(|x| match x.unwrap() {
            VerifiedBundleItem::Attestation(a) => a.predicate_type().to_owned(),
            VerifiedBundleItem::Signature(_) => panic!("no signature was written"),
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec!["https://example.com/one/v1", "https://example.com/two/v1"]
    );
}

/// A proxy adds `GET /v2/<repo>/referrers/<digest>` (served from the real registry's
/// tag-schema index): discovery uses it and never fetches the fallback tag; a writer that
/// sees the API does not write the tag-schema index.
#[tokio::test]
async fn native_referrers_api_is_used_when_present() {
    let name = unique_repo("bundle-native");
    let (image, digest) = push_random_image(&name).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    sign::sign_image(&client, &image, &key, &bundle_opts(&[]))
        .await
        .unwrap();
    sign::attest_image(
        &client,
        &image,
        &key,
        &attest_opts(CUSTOM, serde_json::json!({})),
    )
    .await
    .unwrap();
    let real = client.repository(&image).unwrap();
    let index_bytes = real
        .get_manifest(ManifestRef::Tag(&digest.tag_base()))
        .await
        .unwrap()
        .unwrap()
        .bytes;

    let proxy = Proxy::start(registry()).await;
    proxy.inject(
        "GET",
        &format!("/v2/{name}/referrers/{digest}"),
        Fault::body(media_types::OCI_INDEX, index_bytes),
    );
    let via = ImageRef::parse(&format!("{}/{name}@{digest}", proxy.addr())).unwrap();
    let repo = client.repository(&via).unwrap();
    let cands = bundles_of(&repo, &digest).await;
    assert_eq!(cands.len(), 2);
    let r = check_all(
        &cands,
        &digest,
        &SignatureVerifier::Key(key.public_key()),
        &BTreeMap::new(),
    );
    assert!(r.iter().all(Result::is_ok), "{r:?}");
    let log = proxy.requests();
    assert_eq!(
        log.iter()
            .filter(|l| l.path.contains("/referrers/"))
            .count(),
        1,
        "{log:?}"
    );
    // The first read of a registry asks the tag-schema fallback beside the API (issue 14:
    // one round trip, not two, when the API is absent); once the API has answered, the
    // session remembers it and the fallback is not read again.
    let fallback = format!("/manifests/{}", digest.tag_base());
    assert!(
        log.iter().filter(|l| l.path.ends_with(&fallback)).count() <= 1,
        "{log:?}"
    );
    proxy.reset();
    assert_eq!(bundles_of(&repo, &digest).await.len(), 2);
    let log = proxy.requests();
    assert_eq!(
        log.iter()
            .filter(|l| l.path.contains("/referrers/"))
            .count(),
        1,
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l.path.ends_with(&fallback)),
        "fallback tag fetched with the API known: {log:?}"
    );

    // Writing through a registry with the referrers API: the referrer is pushed, the
    // tag-schema index is not touched.
    let name2 = unique_repo("bundle-native-write");
    let (_, digest2) = push_random_image(&name2).await;
    let empty = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec();
    proxy.inject(
        "GET",
        &format!("/v2/{name2}/referrers/{digest2}"),
        Fault::body(media_types::OCI_INDEX, empty),
    );
    let via2 = ImageRef::parse(&format!("{}/{name2}@{digest2}", proxy.addr())).unwrap();
    let done = sign::sign_image(&client, &via2, &key, &bundle_opts(&[]))
        .await
        .unwrap();
    let attach::Appended::Written { manifest, .. } = &done[0].outcome else {
        panic!()
    };
    let repo2 = client.repository(&via2).unwrap();
    assert!(
        repo2
            .get_manifest(ManifestRef::Digest(manifest))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        repo2
            .get_manifest(ManifestRef::Tag(&digest2.tag_base()))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn signature_format_limits_what_is_read() {
    let (image, digest) = push_random_image(&unique_repo("bundle-format")).await;
    let client = test_client();
    let legacy_key = SigningKey::generate_p256().unwrap();
    let bundle_key = SigningKey::generate_p256().unwrap();
    sign::sign_image(&client, &image, &legacy_key, &SignOptions::default())
        .await
        .unwrap();
    sign::sign_image(&client, &image, &bundle_key, &bundle_opts(&[]))
        .await
        .unwrap();
    let repo = client.repository(&image).unwrap();
    let limits = Limits::default();
    let (repo, digest, limits) = (&repo, &digest, &limits);
    let find = |f| async move {
        discover::discover(repo, digest, f, true, false, limits)
            .await
            .complete()
    };
    let legacy = find(SignatureFormat::Legacy).await.unwrap();
    assert_eq!((legacy.signatures.len(), legacy.bundles.len()), (1, 0));
    let bundle = find(SignatureFormat::Bundle).await.unwrap();
    assert_eq!((bundle.signatures.len(), bundle.bundles.len()), (0, 1));
    let any = find(SignatureFormat::Any).await.unwrap();
    assert_eq!((any.signatures.len(), any.bundles.len()), (1, 1));
    assert!(
        verify::check_signature(
            &any.signatures[0],
            digest,
            &SignatureVerifier::Key(legacy_key.public_key()),
            &BTreeMap::new()
        )
        .is_ok()
    );
    assert!(
        verify::check_bundle(
            &any.bundles[0],
            digest,
            &SignatureVerifier::Key(bundle_key.public_key()),
            &BTreeMap::new()
        )
        .is_ok()
    );
    // Each key verifies only its own format.
    assert_eq!(
        verify::check_signature(
            &any.signatures[0],
            digest,
            &SignatureVerifier::Key(bundle_key.public_key()),
            &BTreeMap::new()
        )
        .unwrap_err()
        .check,
        Check::Signature
    );
    assert_eq!(
        verify::check_bundle(
            &any.bundles[0],
            digest,
            &SignatureVerifier::Key(legacy_key.public_key()),
            &BTreeMap::new()
        )
        .unwrap_err()
        .check,
        Check::Signature
    );
}

/// cosign's `oci-attestation.sigstore.json` (keyless, Rekor) verifies through the referrer
/// check as an attestation of its subject, and only of it; warm timing printed.
#[test]
fn cosign_oci_attestation_vector_through_check_bundle() {
    let bytes = std::fs::read(
        vectors().join("bundles/cosign-oci-attestation/oci-attestation.sigstore.json"),
    )
    .unwrap();
    let subject: Digest = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
        .parse()
        .unwrap();
    let layer = oci::Descriptor::for_bytes(media_types::SIGSTORE_BUNDLE_V03, &bytes);
    let c = Candidate {
        source: Source::Bundle {
            referrer: Digest::of(b"referrer"),
            layer: layer.digest.clone(),
        },
        descriptor: layer,
        content: Ok(Arc::new(bytes)),
    };
    let v = keyless("cody@soyland.com", "https://github.com/login/oauth");
    let VerifiedBundleItem::Attestation(a) =
        verify::check_bundle(&c, &subject, &v, &BTreeMap::new()).unwrap()
    else {
        panic!("an attestation, not an image signature");
    };
    assert_eq!(a.predicate_type(), CUSTOM);
    assert_eq!(a.image(), &subject);
    assert!(
        matches!(a.signer(), Signer::Certificate { identity, .. } if identity == "cody@soyland.com")
    );
    assert!(a.tlog().is_some());
    // With the embedded public-good root too.
    let pg = SignatureVerifier::Keyless {
        identity: IdentityPolicy::new(
            Matcher::Exact("cody@soyland.com".into()),
            Matcher::Exact("https://github.com/login/oauth".into()),
            GithubClaims::default(),
        )
        .unwrap(),
        trust: Arc::new(TrustRoot::public_good().unwrap()),
    };
    assert!(verify::check_bundle(&c, &subject, &pg, &BTreeMap::new()).is_ok());
    // Another digest, another identity, another issuer, a key: rejected.
    let other = Digest::of(b"another image");
    let f = verify::check_bundle(&c, &other, &v, &BTreeMap::new()).unwrap_err();
    assert_eq!(f.check, Check::Bundle, "{f}");
    assert!(f.to_string().contains("artifact-digest"), "{f}");
    // (A key verifier meets a certificate bundle: refused as not a key bundle.)
    for wrong in [
        keyless("someone@else.com", "https://github.com/login/oauth"),
        keyless("cody@soyland.com", "https://accounts.google.com"),
        SignatureVerifier::Key(SigningKey::generate_p256().unwrap().public_key()),
    ] {
        assert_eq!(
            verify::check_bundle(&c, &subject, &wrong, &BTreeMap::new())
                .unwrap_err()
                .check,
            Check::Bundle
        );
    }
}

/// The keyless legacy `.sig` of containers/image, pushed under its `.sig` tag, verifies through
/// discovery with the right identity only; a mutated certificate annotation is rejected.
#[tokio::test]
async fn keyless_legacy_sig_on_the_registry() {
    let dir =
        vectors().join("legacy-signatures/containers-image/dir-img-cosign-fulcio-rekor-valid");
    let digest = Digest::of(&std::fs::read(dir.join("manifest.json")).unwrap());
    let (payload, annotations) = containers_image_layer(&dir.join("signature-1"));
    let push = |annotations: BTreeMap<String, String>| {
        let payload = payload.clone();
        let digest = digest.clone();
        async move { push_sig_layer("keyless-sig", &digest, payload, annotations).await }
    };
    let repo = push(annotations.clone()).await;
    let found = discover::discover(
        &repo,
        &digest,
        SignatureFormat::Any,
        true,
        false,
        &Limits::default(),
    )
    .await
    .complete()
    .unwrap();
    assert_eq!(found.signatures.len(), 1);
    let ok = verify::check_signature(
        &found.signatures[0],
        &digest,
        &keyless("mitr@redhat.com", "https://github.com/login/oauth"),
        &BTreeMap::new(),
    )
    .unwrap();
    assert!(
        matches!(ok.signer(), Signer::Certificate { identity, .. } if identity == "mitr@redhat.com")
    );
    assert_eq!(ok.tlog().unwrap().integrated_time, 1674247893);
    for wrong in [
        keyless("someone@redhat.com", "https://github.com/login/oauth"),
        keyless("mitr@redhat.com", "https://oauth2.sigstore.dev/auth"),
    ] {
        let f = verify::check_signature(&found.signatures[0], &digest, &wrong, &BTreeMap::new())
            .unwrap_err();
        assert_eq!(f.check, Check::Certificate, "{f}");
    }
    // A key verifier on a keyless layer: the signature check fails (no such key).
    let f = verify::check_signature(
        &found.signatures[0],
        &digest,
        &SignatureVerifier::Key(SigningKey::generate_p256().unwrap().public_key()),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(f.check, Check::Signature);
    // Without the Rekor bundle annotation: rejected (keyless legacy needs the tlog proof).
    let mut no_rekor = annotations.clone();
    no_rekor.remove("dev.sigstore.cosign/bundle");
    let repo = push(no_rekor).await;
    let found = discover::discover(
        &repo,
        &digest,
        SignatureFormat::Legacy,
        true,
        false,
        &Limits::default(),
    )
    .await
    .complete()
    .unwrap();
    let f = verify::check_signature(
        &found.signatures[0],
        &digest,
        &keyless("mitr@redhat.com", "https://github.com/login/oauth"),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(f.check, Check::Certificate, "{f}");
}

/// sigstore-rs (the `sigstore` crate's cosign client) finds and verifies the legacy `.sig`
/// signature imprint writes, with a public-key constraint, over plain HTTP; another key is not
/// satisfied. (Key-signed v3 bundle referrers cannot be checked with it: sigstore-rs 0.15 finds
/// them through the tag-schema fallback but skips them, "Sigstore Bundle v0.3: expected
/// Certificate in verificationMaterial"; it reads keyless bundles only.)
#[tokio::test]
async fn sigstore_rs_verifies_legacy_signatures_imprint_writes() {
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
    use sigstore::cosign::{ClientBuilder, CosignCapabilities as _, verify_constraints};
    use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

    let key = SigningKey::generate_p256().unwrap();
    let other = SigningKey::generate_p256().unwrap();
    let client = test_client();
    let mut rs = ClientBuilder::default()
        .with_oci_client_config(ClientConfig {
            protocol: ClientProtocol::Http,
            ..ClientConfig::default()
        })
        .build()
        .unwrap();
    let constraint = |k: &SigningKey| -> VerificationConstraintVec {
        vec![Box::new(
            PublicKeyVerifier::try_from(k.public_key().to_pem().as_bytes()).unwrap(),
        )]
    };

    let (image, digest) = push_random_image(&unique_repo("sigstore-rs")).await;
    let mut annotations = BTreeMap::new();
    annotations.insert("env".to_owned(), "prod".to_owned());
    let opts = SignOptions {
        annotations,
        ..SignOptions::default()
    };
    sign::sign_image(&client, &image, &key, &opts)
        .await
        .unwrap();
    let oci: OciReference = format!("{}@{digest}", image.repository_name())
        .parse()
        .unwrap();
    let layers = rs
        .trusted_signature_layers(&Auth::Anonymous, &oci)
        .await
        .unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]
            .simple_signing
            .critical
            .image
            .docker_manifest_digest,
        digest.to_string()
    );
    verify_constraints(&layers, constraint(&key).iter()).unwrap();
    let constraints = constraint(&other);
    let e = verify_constraints(&layers, constraints.iter()).unwrap_err();
    assert_eq!(
        e.unsatisfied_constraints.len(),
        1,
        "the public-key constraint"
    );
}

/// The same bundle write and read paths on an OCI layout (no referrers API: the tag-schema
/// index is a tag in `index.json`).
#[tokio::test]
async fn oci_layout_bundle_sign_attest_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, repo, digest) = crate::support::push_image_to_layout(tmp.path()).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    sign::sign_image(&client, &layout, &key, &bundle_opts(&[("env", "demo")]))
        .await
        .unwrap();
    sign::attest_image(
        &client,
        &layout,
        &key,
        &attest_opts(CUSTOM, serde_json::json!({"a": 1})),
    )
    .await
    .unwrap();
    assert_eq!(tag_index(&repo, &digest).await.manifests.len(), 2);
    let cands = bundles_of(&repo, &digest).await;
    let r = check_all(
        &cands,
        &digest,
        &SignatureVerifier::Key(key.public_key()),
        &BTreeMap::new(),
    );
    assert_eq!(
        r.iter()
            .filter(|x| matches!(x, Ok(VerifiedBundleItem::Signature(_))))
            .count(),
        1,
        "{r:?}"
    );
    assert_eq!(
        r.iter()
            .filter(|x| matches!(x, Ok(VerifiedBundleItem::Attestation(_))))
            .count(),
        1,
        "{r:?}"
    );
    let other = SigningKey::generate_p256().unwrap();
    let r = check_all(
        &cands,
        &digest,
        &SignatureVerifier::Key(other.public_key()),
        &BTreeMap::new(),
    );
    assert!(
        r.iter()
            .all(|x| x.as_ref().is_err_and(|f| f.check == Check::Signature))
    );
}

// ---- CLI ----

#[tokio::test]
async fn cli_bundle_default_legacy_opt_out_formats_and_keyless_flags() {
    let (image, digest) = push_random_image(&unique_repo("cli-bundle")).await;
    let image_s = image.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let (k1, k2) = (tmp.path().join("one"), tmp.path().join("two"));
    for k in [&k1, &k2] {
        imprint::keys::password::generate_key_pair(
            k,
            &imprint::keys::password::Password::new("test-password"),
            false,
        )
        .unwrap();
    }
    let (key1, pub1) = (k1.with_extension("key"), k1.with_extension("pub"));
    let (key2, pub2) = (k2.with_extension("key"), k2.with_extension("pub"));

    // Default: a bundle referrer (cosign v3), no `.sig` tag.
    let (code, _, err) =
        run(imprint()
            .args(["sign", "--key"])
            .arg(&key1)
            .args(["-a", "team=payments", &image_s]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("bundle referrer"), "{err}");
    let client = test_client();
    let repo = client.repository(&image).unwrap();
    assert!(
        repo.get_manifest(ManifestRef::Tag(&Kind::Signature.tag(&digest)))
            .await
            .unwrap()
            .is_none()
    );
    // --new-bundle-format=false: a legacy `.sig` layer.
    let (code, _, err) = run(imprint()
        .args(["sign", "--new-bundle-format=false", "--key"])
        .arg(&key2)
        .arg(&image_s));
    assert_eq!(code, 0, "{err}");
    assert!(
        repo.get_manifest(ManifestRef::Tag(&Kind::Signature.tag(&digest)))
            .await
            .unwrap()
            .is_some()
    );

    // verify: the bundle signature prints the signed statement, nothing synthesized.
    let (code, out, err) =
        run(imprint()
            .args(["verify", "--key"])
            .arg(&pub1)
            .args(["-a", "team=payments", &image_s]));
    assert_eq!(code, 0, "{err}");
    // A bundle prints the signed in-toto statement (subject = the image, `-a` pairs on it).
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed[0]["subject"][0]["digest"]["sha256"], digest.hex());
    assert_eq!(printed[0]["subject"][0]["annotations"]["team"], "payments");
    assert_eq!(
        printed[0]["predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    assert!(printed[0].get("critical").is_none());
    // --signature-format: each key verifies only in its own format.
    let fmt = |f: &str, p: &Path| {
        run(imprint()
            .args(["verify", "--signature-format", f, "--key"])
            .arg(p)
            .arg(&image_s))
        .0
    };
    assert_eq!(fmt("bundle", &pub1), 0);
    assert_eq!(fmt("legacy", &pub1), 1);
    assert_eq!(fmt("legacy", &pub2), 0);
    assert_eq!(fmt("bundle", &pub2), 1);
    assert_eq!(fmt("any", &pub2), 0);

    // attest (default bundle) and verify-attestation.
    let pred = tmp.path().join("pred.json");
    std::fs::write(&pred, br#"{"hello":"world"}"#).unwrap();
    let (code, _, err) = run(imprint()
        .args(["attest", "--type", "custom", "--key"])
        .arg(&key1)
        .arg("--predicate")
        .arg(&pred)
        .arg(&image_s));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("bundle referrer"), "{err}");
    let (code, out, err) = run(imprint()
        .args(["verify-attestation", "--type", "custom", "--key"])
        .arg(&pub1)
        .arg(&image_s));
    assert_eq!(code, 0, "{err}");
    // JSON output: the DSSE envelope (cosign's shape), from inside the bundle.
    let env: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(env["payloadType"], IN_TOTO_PAYLOAD_TYPE);
    let st: serde_json::Value =
        serde_json::from_slice(&B64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(st["predicateType"], CUSTOM, "{st}");
    assert_eq!(
        run(imprint()
            .args(["verify-attestation", "--type", "custom", "--key"])
            .arg(&pub2)
            .arg(&image_s))
        .0,
        1
    );
    assert_eq!(
        run(imprint()
            .args([
                "verify-attestation",
                "--signature-format",
                "legacy",
                "--key"
            ])
            .arg(&pub1)
            .arg(&image_s))
        .0,
        1
    );

    // Keyless flags: identity and issuer both needed; not with --key; no verifier at all is
    // an error (2). Keyless against key-only signatures: verification failure (1).
    let (code, _, err) =
        run(imprint().args(["verify", "--certificate-identity", "a@b.c", &image_s]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--certificate-oidc-issuer"), "{err}");
    let (code, _, err) = run(imprint().args(["verify", &image_s]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no verifier: give --key"), "{err}");
    let (code, _, err) = run(imprint()
        .args(["verify", "--certificate-identity", "a@b.c", "--key"])
        .arg(&pub1)
        .arg(&image_s));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "'--certificate-identity <IDENTITY>' cannot be used with '--key <FILE|env://VAR>'"
        ),
        "{err}"
    );
    let (code, _, err) = run(imprint().args([
        "verify",
        "--certificate-identity",
        "a@b.c",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
        &image_s,
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("verifier-kind check failed: layer has no certificate"),
        "{err}"
    );
    assert!(
        err.contains("keyless verification needs a certificate in the bundle"),
        "{err}"
    );
    let (code, _, err) = run(imprint()
        .args([
            "verify-attestation",
            "--certificate-identity-regexp",
            ".*",
            "--certificate-oidc-issuer",
            "https://x",
            "--trusted-root",
        ])
        .arg(vectors().join("trust-roots/pgi-trusted_root.json"))
        .arg(&image_s));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("keyless verification needs a certificate in the bundle"),
        "{err}"
    );
}

/// The CLI verifies the keyless containers/image signature with identity flags (an OCI layout
/// holds the image manifest and its `.sig`, since the registry would refuse the manifest
/// without its layer blobs); a wrong identity or issuer fails (1); a regex identity works.
#[tokio::test]
async fn cli_keyless_legacy_signature_on_a_layout() {
    let dir =
        vectors().join("legacy-signatures/containers-image/dir-img-cosign-fulcio-rekor-valid");
    let manifest = std::fs::read(dir.join("manifest.json")).unwrap();
    let digest = Digest::of(&manifest);
    let (payload, annotations) = containers_image_layer(&dir.join("signature-1"));
    let tmp = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:v1", tmp.path().join("img").display());
    let client = test_client();
    let repo = client
        .repository(&ImageRef::parse(&layout).unwrap())
        .unwrap();
    assert_eq!(
        repo.put_manifest(Some("v1"), media_types::DOCKER_MANIFEST, &manifest)
            .await
            .unwrap(),
        digest
    );
    let layer = NewLayer::new(media_types::SIMPLE_SIGNING, payload, annotations);
    repo.put_blob(layer.blob.clone()).await.unwrap();
    let (config, m) = attach::build_manifest(&[layer.descriptor]);
    repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
        .await
        .unwrap();
    repo.put_manifest(
        Some(&Kind::Signature.tag(&digest)),
        media_types::OCI_MANIFEST,
        &m,
    )
    .await
    .unwrap();

    let root = vectors().join("trust-roots/pgi-trusted_root.json");
    let keyless = |id_flag: &str, id: &str, issuer: &str| {
        run(imprint()
            .args([
                "verify",
                id_flag,
                id,
                "--certificate-oidc-issuer",
                issuer,
                "--trusted-root",
            ])
            .arg(&root)
            .arg(&layout))
    };
    let (code, out, err) = keyless(
        "--certificate-identity",
        "mitr@redhat.com",
        "https://github.com/login/oauth",
    );
    assert_eq!(code, 0, "{err}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        printed[0]["critical"]["image"]["docker-manifest-digest"],
        digest.to_string()
    );
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(
        keyless(
            "--certificate-identity-regexp",
            ".*@redhat\\.com",
            "https://github.com/login/oauth"
        )
        .0,
        0
    );
    // Anchored: a partial regex does not match.
    assert_eq!(
        keyless(
            "--certificate-identity-regexp",
            "@redhat\\.com",
            "https://github.com/login/oauth"
        )
        .0,
        1
    );
    let (code, _, err) = keyless(
        "--certificate-identity",
        "someone@redhat.com",
        "https://github.com/login/oauth",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("certificate check failed: identity check failed"),
        "{err}"
    );
    let (code, _, err) = keyless(
        "--certificate-identity",
        "mitr@redhat.com",
        "https://accounts.google.com",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("certificate check failed: issuer check failed"),
        "{err}"
    );
    // The embedded public-good root also verifies it (default trust).
    let (code, _, err) = run(imprint()
        .args([
            "verify",
            "--certificate-identity",
            "mitr@redhat.com",
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
        ])
        .arg(&layout));
    assert_eq!(code, 0, "{err}");
    // --signature-format bundle ignores the legacy signature.
    let (code, _, err) = run(imprint()
        .args([
            "verify",
            "--signature-format",
            "bundle",
            "--certificate-identity",
            "mitr@redhat.com",
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
        ])
        .arg(&layout));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no signatures found"), "{err}");
}
