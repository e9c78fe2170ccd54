//! End-to-end: sign and verify images on a real registry (Debian's docker-registry started by
//! the harness), cosign's real signature vectors pushed byte-exact, negative cases, and the CLI.

use crate::support::checks::{failed_checks, signature_checks as check_all};
use crate::support::cli::{imprint, run};
use crate::support::sig::{containers_image_layer, push_sig_layer, push_sig_vector};
use std::collections::BTreeMap;

use crate::support::vectors;
use crate::support::{push_index, push_random_image, registry, test_client, unique_repo};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use imprint::format::digest::Digest;
use imprint::format::oci;
use imprint::format::reference::ImageRef;
use imprint::keys::{PublicKey, SigningKey};
use imprint::sign::{self, SignOptions};
use imprint::store::attach::{self, Appended, Kind};
use imprint::store::discover::{self, SignatureFormat};
use imprint::store::{Limits, Repository, media_types};
use imprint::verify::Check;
use imprint::verify::proof::Signer;

fn no_annotations() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[tokio::test]
async fn sign_then_verify_with_annotations_and_append() {
    let (image, digest) = push_random_image(&unique_repo("sign")).await;
    let client = test_client();
    let alice = SigningKey::generate_p256().unwrap();
    let bob = SigningKey::generate_p256().unwrap();
    let mut annotations = BTreeMap::new();
    annotations.insert("env".to_owned(), "prod".to_owned());
    let opts = SignOptions {
        annotations: annotations.clone(),
        ..SignOptions::default()
    };
    let done = sign::sign_image(&client, &image, &alice, &opts)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].digest, digest);
    assert!(matches!(
        done[0].outcome,
        Appended::Written { layers: 1, .. }
    ));

    let repo = client.repository(&image).unwrap();
    let results = check_all(&repo, &digest, &alice.public_key(), &annotations).await;
    let v = results[0].as_ref().unwrap();
    assert_eq!(v.image(), &digest);
    assert_eq!(v.docker_reference(), Some(image.repository_name().as_str()));
    assert_eq!(v.annotations().get("env").map(String::as_str), Some("prod"));
    assert_eq!(
        v.signer(),
        &Signer::Key {
            fingerprint: alice.public_key().fingerprint()
        }
    );

    // Required annotation with another value: rejected by the annotations check.
    let mut wrong = BTreeMap::new();
    wrong.insert("env".to_owned(), "dev".to_owned());
    let r = check_all(&repo, &digest, &alice.public_key(), &wrong).await;
    assert_eq!(r[0].as_ref().unwrap_err().check, Check::Annotations);
    // Wrong key: rejected by the signature check.
    let r = check_all(&repo, &digest, &bob.public_key(), &no_annotations()).await;
    assert_eq!(r[0].as_ref().unwrap_err().check, Check::Signature);

    // Re-signing with the same key is a no-op (cosign dedupe); another key appends.
    let again = sign::sign_image(&client, &image, &alice, &opts)
        .await
        .unwrap();
    assert!(
        matches!(again[0].outcome, Appended::AlreadyPresent { .. }),
        "{:?}",
        again[0].outcome
    );
    let second = sign::sign_image(&client, &image, &bob, &opts)
        .await
        .unwrap();
    assert!(
        matches!(second[0].outcome, Appended::Written { layers: 2, .. }),
        "{:?}",
        second[0].outcome
    );
    for key in [&alice, &bob] {
        let r = check_all(&repo, &digest, &key.public_key(), &no_annotations()).await;
        assert_eq!(
            r.iter().filter(|x| x.is_ok()).count(),
            1,
            "exactly one layer per signer"
        );
    }
}

#[tokio::test]
async fn concurrent_signers_never_lose_a_signature() {
    let (image, digest) = push_random_image(&unique_repo("concurrent")).await;
    let client = test_client();
    let keys: Vec<SigningKey> = (0..4)
        .map(|_| SigningKey::generate_p256().unwrap())
        .collect();
    let opts = SignOptions::default();
    let runs = keys
        .iter()
        .map(|k| sign::sign_image(&client, &image, k, &opts));
    for r in futures_util::future::join_all(runs).await {
        r.unwrap();
    }
    let repo = client.repository(&image).unwrap();
    for k in &keys {
        let r = check_all(&repo, &digest, &k.public_key(), &no_annotations()).await;
        assert_eq!(
            r.iter().filter(|x| x.is_ok()).count(),
            1,
            "signature of {} lost",
            k.public_key().fingerprint()
        );
    }
}

#[tokio::test]
async fn recursive_signs_index_and_children() {
    let (image, index_digest, children) = push_index(&unique_repo("index")).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    let opts = SignOptions {
        recursive: true,
        ..SignOptions::default()
    };
    let done = sign::sign_image(&client, &image, &key, &opts)
        .await
        .unwrap();
    let signed: Vec<&Digest> = done.iter().map(|a| &a.digest).collect();
    assert_eq!(signed.len(), 3);
    assert!(signed.contains(&&index_digest));
    let repo = client.repository(&image).unwrap();
    for d in children.iter().chain([&index_digest]) {
        let r = check_all(&repo, d, &key.public_key(), &no_annotations()).await;
        assert!(r[0].is_ok(), "{d} not verified: {:?}", r[0]);
    }
}

/// A signature layer whose payload names another digest, or whose signature is over another
/// payload, or whose blob is missing: each fails its own check, and nothing else verifies.
#[tokio::test]
async fn tampered_layers_fail_closed() {
    let (image, digest) = push_random_image(&unique_repo("tamper")).await;
    let (_, other) = push_random_image(&unique_repo("tamper-other")).await;
    let client = test_client();
    let repo = client.repository(&image).unwrap();
    let key = SigningKey::generate_p256().unwrap();
    let name = image.repository_name();

    // 1. Payload for another digest, validly signed.
    let p_other = imprint::format::simple_signing_payload(&name, &other, &no_annotations());
    // 2. Payload for this digest, with the signature of another payload.
    let p_this = imprint::format::simple_signing_payload(&name, &digest, &no_annotations());
    let sig_of_other = key.sign(&p_other).unwrap();
    let mut layers = Vec::new();
    for (payload, sig) in [
        (p_other.clone(), key.sign(&p_other).unwrap()),
        (p_this.clone(), sig_of_other),
    ] {
        repo.put_blob(imprint::store::Blob::copy_from_slice(&payload))
            .await
            .unwrap();
        let mut l = oci::Descriptor::for_bytes(media_types::SIMPLE_SIGNING, &payload);
        l.annotations = Some([(attach::SIGNATURE_ANNOTATION.to_owned(), B64.encode(sig))].into());
        layers.push(l);
    }
    // 3. A truncated blob: descriptor size larger than the content.
    let mut truncated = oci::Descriptor::for_bytes(media_types::SIMPLE_SIGNING, &p_this);
    truncated.size += 10;
    truncated.annotations = Some(
        [(
            attach::SIGNATURE_ANNOTATION.to_owned(),
            B64.encode(key.sign(&p_this).unwrap()),
        )]
        .into(),
    );
    repo.put_blob(imprint::store::Blob::copy_from_slice(&p_this))
        .await
        .unwrap();
    layers.push(truncated);
    // 4. A layer without the signature annotation.
    let mut unsigned = oci::Descriptor::for_bytes(media_types::SIMPLE_SIGNING, &p_this);
    unsigned.annotations = None;
    layers.push(unsigned);
    let (config, manifest) = attach::build_manifest(&layers);
    repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
        .await
        .unwrap();
    repo.put_manifest(
        Some(&Kind::Signature.tag(&digest)),
        media_types::OCI_MANIFEST,
        &manifest,
    )
    .await
    .unwrap();

    let r = check_all(&repo, &digest, &key.public_key(), &no_annotations()).await;
    let checks: Vec<Check> = r.iter().map(|x| x.as_ref().unwrap_err().check).collect();
    assert_eq!(
        checks,
        vec![
            Check::ImageDigest,
            Check::Signature,
            Check::Fetch,
            Check::SignatureAnnotation
        ]
    );

    // No signature tag at all: nothing is found.
    let found = discover::discover(
        &repo,
        &other,
        SignatureFormat::Any,
        true,
        true,
        &Limits::default(),
    )
    .await
    .complete()
    .unwrap();
    assert!(
        found.signatures.is_empty() && found.attestations.is_empty() && found.bundles.is_empty()
    );
}

/// A registry that serves other bytes for a signature's payload blob: the layer digest check
/// rejects it before any signature check runs.
#[tokio::test]
async fn blob_not_matching_its_layer_digest_is_rejected() {
    let (image, digest) = push_random_image(&unique_repo("wrongblob")).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    sign::sign_image(&client, &image, &key, &SignOptions::default())
        .await
        .unwrap();
    let repo = client.repository(&image).unwrap();
    let att = attach::read(&repo, &digest, Kind::Signature, 10)
        .await
        .unwrap()
        .unwrap();
    let payload_digest = att.manifest.layers[0].digest.clone();

    let proxy = crate::support::proxy::Proxy::start(registry()).await;
    let via = ImageRef::parse(&format!(
        "{}/{}",
        proxy.addr(),
        image.repository_name().split_once('/').unwrap().1
    ))
    .unwrap();
    let proxied = client.repository(&via).unwrap();
    let mut forged = imprint::format::simple_signing_payload(
        &image.repository_name(),
        &digest,
        &no_annotations(),
    );
    forged.push(b' ');
    proxy.inject(
        "GET",
        &format!("/blobs/{payload_digest}"),
        crate::support::proxy::Fault::body("application/octet-stream", forged),
    );
    let r = check_all(&proxied, &digest, &key.public_key(), &no_annotations()).await;
    let f = r[0].as_ref().unwrap_err();
    assert_eq!(f.check, Check::Fetch, "{f}");
    assert!(
        f.message.contains("digest") || f.message.contains("bytes"),
        "{f}"
    );
    proxy.clear_faults();
    assert!(check_all(&proxied, &digest, &key.public_key(), &no_annotations()).await[0].is_ok());
}

#[tokio::test]
async fn connaisseur_vectors_verify_with_exactly_the_right_keys() {
    let dir = vectors().join("legacy-signatures/connaisseur");
    let key = |n: &str| {
        PublicKey::from_pem(&std::fs::read(dir.join(format!("keys/{n}.pub"))).unwrap()).unwrap()
    };
    let (alice, bob, charlie) = (key("alice"), key("bob"), key("charlie"));
    let client = test_client();
    let image = ImageRef::parse(&format!("{}/{}", registry(), unique_repo("connaisseur"))).unwrap();
    let repo = client.repository(&image).unwrap();
    let payloads: Vec<Vec<u8>> = std::fs::read_dir(dir.join("blobs"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();

    // bfec161f…: layers 0, 1, 2 verify with alice, bob, charlie respectively.
    let d1: Digest = "sha256:bfec161fecb0a887df7cb85e4da327c65986ccda7060cf3cd92171c6c90d7533"
        .parse()
        .unwrap();
    let m1 = std::fs::read(dir.join(format!("manifests/{}.sig.json", d1.tag_base()))).unwrap();
    push_sig_vector(&repo, &d1, &m1, &payloads).await;
    for (i, k) in [&alice, &bob, &charlie].into_iter().enumerate() {
        let r = check_all(&repo, &d1, k, &no_annotations()).await;
        let ok: Vec<usize> = r
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_ok())
            .map(|(j, _)| j)
            .collect();
        assert_eq!(ok, vec![i], "key {i} verifies exactly layer {i}");
    }
    // 071bf7a9…: verifies with alice only.
    let d2: Digest = "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81"
        .parse()
        .unwrap();
    let m2 = std::fs::read(dir.join(format!("manifests/{}.sig.json", d2.tag_base()))).unwrap();
    push_sig_vector(&repo, &d2, &m2, &payloads).await;
    assert!(
        check_all(&repo, &d2, &alice, &no_annotations())
            .await
            .iter()
            .all(Result::is_ok)
    );
    let r = check_all(&repo, &d2, &bob, &no_annotations()).await;
    assert_eq!(failed_checks(&r), vec![Check::Signature; r.len()]);

    // The same signatures attached to a digest one byte off: alice's layer verifies but its
    // payload names the real digest, so the claim check rejects it; bob's and charlie's layers
    // fail on the signature (checked first) with alice's key.
    let mut hex = d1.hex().to_owned();
    hex.replace_range(0..1, if hex.starts_with('0') { "1" } else { "0" });
    let off: Digest = format!("sha256:{hex}").parse().unwrap();
    push_sig_vector(&repo, &off, &m1, &payloads).await;
    let r = check_all(&repo, &off, &alice, &no_annotations()).await;
    assert_eq!(
        failed_checks(&r),
        vec![Check::ImageDigest, Check::Signature, Check::Signature]
    );
}

#[tokio::test]
async fn containers_image_vector_and_single_byte_mutations() {
    let dir = vectors().join("legacy-signatures/containers-image");
    let manifest = std::fs::read(dir.join("dir-img-cosign-valid/manifest.json")).unwrap();
    let digest = Digest::of(&manifest);
    let (payload, annotations) =
        containers_image_layer(&dir.join("dir-img-cosign-valid/signature-1"));
    let cosign = PublicKey::from_pem(&std::fs::read(dir.join("cosign.pub")).unwrap()).unwrap();
    let cosign2 = PublicKey::from_pem(&std::fs::read(dir.join("cosign2.pub")).unwrap()).unwrap();

    let push = |payload: Vec<u8>, annotations: BTreeMap<String, String>, subject: Digest| async move {
        push_sig_layer("ci-vector", &subject, payload, annotations).await
    };
    let repo = push(payload.clone(), annotations.clone(), digest.clone()).await;
    assert!(check_all(&repo, &digest, &cosign, &no_annotations()).await[0].is_ok());
    assert_eq!(
        check_all(&repo, &digest, &cosign2, &no_annotations()).await[0]
            .as_ref()
            .unwrap_err()
            .check,
        Check::Signature
    );

    // One byte of the payload changed (inside the JSON so it still parses).
    let mut p = payload.clone();
    let pos = p.iter().position(|&b| b == b'f').unwrap();
    p[pos] = b'e';
    let repo = push(p, annotations.clone(), digest.clone()).await;
    assert_eq!(
        check_all(&repo, &digest, &cosign, &no_annotations()).await[0]
            .as_ref()
            .unwrap_err()
            .check,
        Check::Signature
    );

    // One byte of the signature changed.
    let mut a = annotations.clone();
    let mut sig = B64.decode(&a[attach::SIGNATURE_ANNOTATION]).unwrap();
    let n = sig.len();
    sig[n - 1] ^= 1;
    a.insert(attach::SIGNATURE_ANNOTATION.to_owned(), B64.encode(sig));
    let repo = push(payload.clone(), a, digest.clone()).await;
    assert_eq!(
        check_all(&repo, &digest, &cosign, &no_annotations()).await[0]
            .as_ref()
            .unwrap_err()
            .check,
        Check::Signature
    );

    // One byte of the manifest changed: another image digest; the signature does not cover it.
    let mut m = manifest.clone();
    let last = m.len() - 2;
    m[last] = b' ';
    let other = Digest::of(&m);
    let repo = push(payload, annotations, other.clone()).await;
    assert_eq!(
        check_all(&repo, &other, &cosign, &no_annotations()).await[0]
            .as_ref()
            .unwrap_err()
            .check,
        Check::ImageDigest
    );
}

// ---- CLI ----

#[tokio::test]
async fn cli_generate_sign_verify_and_exit_codes() {
    let (image, digest) = push_random_image(&unique_repo("cli")).await;
    let tmp = tempfile::tempdir().unwrap();
    let generate = |prefix: &std::path::Path| {
        let (code, _, stderr) = run(imprint()
            .arg("generate-key-pair")
            .arg("--output-key-prefix")
            .arg(prefix));
        assert_eq!(code, 0, "{stderr}");
        (prefix.with_extension("key"), prefix.with_extension("pub"))
    };
    let (key, pubkey) = generate(&tmp.path().join("k"));

    let image_s = image.to_string();
    let (code, _, stderr) =
        run(imprint()
            .args(["sign", "--key"])
            .arg(&key)
            .args(["-a", "team=payments", &image_s]));
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, stderr) = run(imprint().args(["verify", "--key"]).arg(&pubkey).args([
        "-a",
        "team=payments",
        &image_s,
    ]));
    assert_eq!(code, 0, "{stderr}");
    // A bundle prints the signed in-toto statement (subject = the image, `-a` pairs on it).
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed[0]["subject"][0]["digest"]["sha256"], digest.hex());
    assert_eq!(printed[0]["subject"][0]["annotations"]["team"], "payments");
    assert_eq!(
        printed[0]["predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    assert!(printed[0].get("critical").is_none());

    // Wrong annotation, wrong key: verification failures (1), naming the check that rejected.
    let (code, stdout, stderr) =
        run(imprint()
            .args(["verify", "--key"])
            .arg(&pubkey)
            .args(["-a", "team=other", &image_s]));
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains("annotations check failed"), "{stderr}");
    assert!(
        stderr.contains("required annotation `team`=`other` is not on the signed subject"),
        "{stderr}"
    );
    let (_, other_pub) = generate(&tmp.path().join("other"));
    let (code, stdout, stderr) = run(imprint()
        .args(["verify", "--key"])
        .arg(&other_pub)
        .arg(&image_s));
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains("signature check failed"), "{stderr}");
    // An unsigned image: 1, "no signatures found".
    let (unsigned, _) = push_random_image(&unique_repo("cli-unsigned")).await;
    let (code, _, stderr) = run(imprint()
        .args(["verify", "--key"])
        .arg(&pubkey)
        .arg(unsigned.to_string()));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no signatures found"), "{stderr}");
    // Operational errors: 2, saying what could not be done.
    let missing = tmp.path().join("missing.pub");
    let (code, _, stderr) = run(imprint()
        .args(["verify", "--key"])
        .arg(&missing)
        .arg(&image_s));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot load public key `{}`", missing.display())),
        "{stderr}"
    );
    let (code, _, stderr) = run(imprint()
        .args(["verify", "--key"])
        .arg(&pubkey)
        .arg("127.0.0.1:1/nothing:here"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("registry `127.0.0.1:1` unreachable"),
        "{stderr}"
    );
    let (code, _, stderr) = run(imprint().args(["verify", "--bogus-flag"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("unexpected argument '--bogus-flag'"),
        "{stderr}"
    );
}

#[tokio::test]
async fn oci_layout_sign_and_verify_through_the_same_code() {
    // Copy a registry image into a fresh layout via the Repository API, then sign it there.
    let tmp = tempfile::tempdir().unwrap();
    let (layout, repo, digest) = crate::support::push_image_to_layout(tmp.path()).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    // A layout tag (`v1`) is no image name: a legacy signature needs the identity given
    // (issue 11: the file path was signed before).
    let e = sign::sign_image(&client, &layout, &key, &SignOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, sign::SignError::NoIdentity { .. }), "{e}");
    let opts = SignOptions {
        identities: vec!["registry.example.com/app:v1".to_owned()],
        ..SignOptions::default()
    };
    let done = sign::sign_image(&client, &layout, &key, &opts)
        .await
        .unwrap();
    assert_eq!(done[0].digest, digest);
    let r = check_all(&repo, &digest, &key.public_key(), &no_annotations()).await;
    assert!(r[0].is_ok());
    let other = SigningKey::generate_p256().unwrap();
    assert_eq!(
        check_all(&repo, &digest, &other.public_key(), &no_annotations()).await[0]
            .as_ref()
            .unwrap_err()
            .check,
        Check::Signature
    );
}
