//! End-to-end attestations on a real registry (Debian's docker-registry started by the harness):
//! real SPDX and CycloneDX SBOMs attested and verified through the library and the CLI, the
//! attacks a deploy gate must refuse (wrong key, statement about another image, predicate type
//! annotation contradicting the payload, tampered payload, non-SBOM declared as SBOM),
//! `--replace`, `--recursive`, and upload progress reporting.

use crate::support::checks::{attest_options, attestation_checks as check_all, failed_checks};
use crate::support::cli::{imprint, stderr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use crate::support::vectors;
use crate::support::{
    push_index, push_random_image, random_bytes, registry, test_client, unique_repo,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use imprint::format;
use imprint::format::digest::Digest;
use imprint::format::oci;
use imprint::format::predicate::{CYCLONEDX, OPENVEX, SPDX, VULN};
use imprint::format::reference::ImageRef;
use imprint::keys::SigningKey;
use imprint::sign::{self, AttestOptions, WriteFormat};
use imprint::store::attach::{self, Kind};
use imprint::store::client::PROGRESS_MIN_BYTES;
use imprint::store::discover::{self, SignatureFormat};
use imprint::store::{AnyRepository, Limits};
use imprint::store::{
    AuthSource, Client, ManifestRef, ProgressEvent, ProgressHook, RegistryConfig, Repository,
    media_types,
};
use imprint::verify::proof::{Signer, VerifiedAttestation};
use imprint::verify::{CandidateFailure, Check};

/// Every real SBOM: the vectors made by trivy, syft, apko, cdxgen, and the cargo-cyclonedx
/// SBOM of this repository. With the predicate type each one is.
fn sbom_files() -> Vec<(PathBuf, &'static str)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors().join("predicates/sbom"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.push(crate::support::crate_path(
        "testdata/sbom/imprint.cdx-1.5.json",
    ));
    let typed: Vec<_> = files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let t = if name.ends_with(".spdx.json") {
                SPDX
            } else if name.contains(".cdx-") {
                CYCLONEDX
            } else {
                panic!("unclassified SBOM vector {name}")
            };
            (p, t)
        })
        .collect();
    assert!(typed.len() >= 10, "expected the 9 vectors and testdata");
    assert!(typed.iter().any(|(_, t)| *t == SPDX));
    assert!(typed.iter().any(|(_, t)| *t == CYCLONEDX));
    typed
}

fn attest_opts(predicate_type: &str, predicate: serde_json::Value) -> AttestOptions {
    attest_options(WriteFormat::Legacy, predicate_type, predicate)
}

fn load(path: &Path, type_uri: &str) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap();
    format::load_predicate(type_uri, &bytes, format::DEFAULT_MAX_PREDICATE_BYTES)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Write `layers` (descriptor, content) as the `.att` attachment of `digest`, by hand.
async fn push_att_layers(
    repo: &AnyRepository,
    digest: &Digest,
    layers: Vec<(oci::Descriptor, Vec<u8>)>,
) {
    let mut descriptors = Vec::new();
    for (d, bytes) in layers {
        repo.put_blob(imprint::store::Blob::copy_from_slice(&bytes))
            .await
            .unwrap();
        descriptors.push(d);
    }
    let (config, manifest) = attach::build_manifest(&descriptors);
    repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
        .await
        .unwrap();
    repo.put_manifest(
        Some(&Kind::Attestation.tag(digest)),
        media_types::OCI_MANIFEST,
        &manifest,
    )
    .await
    .unwrap();
}

/// A correctly signed DSSE layer whose statement has `subject` and `stmt_type`, annotated
/// with `annotation_type`.
fn dsse_layer(
    key: &SigningKey,
    name: &str,
    subject: &Digest,
    stmt_type: &str,
    annotation_type: &str,
    predicate: serde_json::Value,
) -> (oci::Descriptor, Vec<u8>) {
    let statement = format::statement(name, subject, stmt_type, predicate);
    let sig = key
        .sign(&format::pae(format::IN_TOTO_PAYLOAD_TYPE, &statement))
        .unwrap();
    let envelope = format::envelope_json(format::IN_TOTO_PAYLOAD_TYPE, &statement, &sig);
    let mut d = oci::Descriptor::for_bytes(media_types::DSSE_ENVELOPE, &envelope);
    d.annotations = Some(
        [
            (attach::SIGNATURE_ANNOTATION.to_owned(), String::new()),
            (
                attach::PREDICATE_TYPE_ANNOTATION.to_owned(),
                annotation_type.to_owned(),
            ),
        ]
        .into(),
    );
    (d, envelope)
}

#[tokio::test]
async fn real_sboms_attest_and_verify_with_and_without_type() {
    let (image, digest) = push_random_image(&unique_repo("sbom")).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    let files = sbom_files();
    let mut expected: Vec<(&'static str, serde_json::Value)> = Vec::new();
    for (path, t) in &files {
        let predicate = load(path, t);
        let done = sign::attest_image(&client, &image, &key, &attest_opts(t, predicate.clone()))
            .await
            .unwrap_or_else(|e| panic!("attesting {}: {e}", path.display()));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].digest, digest);
        expected.push((t, predicate));
    }
    let repo = client.repository(&image).unwrap();

    // No type: every attestation verifies, in order, with the exact predicate and the key.
    let all = check_all(&repo, &digest, &key.public_key(), None).await;
    assert_eq!(all.len(), files.len());
    for ((r, (t, predicate)), (path, _)) in all.iter().zip(&expected).zip(&files) {
        let v = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(v.predicate_type(), *t, "{}", path.display());
        assert_eq!(v.image(), &digest);
        assert_eq!(
            &v.predicate_value(u64::MAX).unwrap(),
            predicate,
            "{}",
            path.display()
        );
        assert_eq!(
            v.signer(),
            &Signer::Key {
                fingerprint: key.public_key().fingerprint()
            }
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(v.statement_json()).unwrap()["subject"][0]
                ["digest"]["sha256"],
            digest.hex()
        );
        // The envelope is the stored layer, and it is cosign's DSSE layout.
        let env = format::parse_envelope(v.envelope()).unwrap();
        assert_eq!(env.payload_type, format::IN_TOTO_PAYLOAD_TYPE);
    }

    // With a type: exactly the attestations of that type verify; the others fail on the
    // predicate type check, not earlier.
    for t in [SPDX, CYCLONEDX] {
        let r = check_all(&repo, &digest, &key.public_key(), Some(t)).await;
        for (x, (want, _)) in r.iter().zip(&expected) {
            match x {
                Ok(v) => {
                    assert_eq!(*want, t);
                    assert_eq!(v.predicate_type(), t);
                }
                Err(f) => {
                    assert_ne!(*want, t);
                    assert_eq!(f.check, Check::PredicateType, "{f}");
                }
            }
        }
        let n = expected.iter().filter(|(w, _)| *w == t).count();
        assert_eq!(r.iter().filter(|x| x.is_ok()).count(), n);
    }
    // A type nothing has: nothing verifies, each layer fails on the predicate type.
    let r = check_all(&repo, &digest, &key.public_key(), Some(VULN)).await;
    assert_eq!(failed_checks(&r), vec![Check::PredicateType; r.len()]);

    // Wrong key: every layer fails on the signature.
    let other = SigningKey::generate_p256().unwrap();
    let r = check_all(&repo, &digest, &other.public_key(), None).await;
    assert_eq!(failed_checks(&r), vec![Check::Signature; files.len()]);
}

/// A statement about another image's digest, signed correctly with the right key and stored
/// in this image's `.att`: refused on the subject check.
#[tokio::test]
async fn statement_for_another_image_is_rejected() {
    let (image, digest) = push_random_image(&unique_repo("subject")).await;
    let (_, other) = push_random_image(&unique_repo("subject-other")).await;
    let client = test_client();
    let repo = client.repository(&image).unwrap();
    let key = SigningKey::generate_p256().unwrap();
    let name = image.repository_name();
    let predicate = load(
        &vectors().join("predicates/sbom/trivy-bitnami-postgresql.spdx.json"),
        SPDX,
    );
    push_att_layers(
        &repo,
        &digest,
        vec![dsse_layer(&key, &name, &other, SPDX, SPDX, predicate)],
    )
    .await;
    let r = check_all(&repo, &digest, &key.public_key(), None).await;
    assert_eq!(failed_checks(&r), vec![Check::Subject]);
    let r = check_all(&repo, &digest, &key.public_key(), Some(SPDX)).await;
    assert_eq!(failed_checks(&r), vec![Check::Subject]);
}

/// The layer annotation says CycloneDX, the signed payload says SPDX: the payload decides.
#[tokio::test]
async fn predicate_type_annotation_contradicting_payload_is_not_trusted() {
    let (image, digest) = push_random_image(&unique_repo("swapped")).await;
    let client = test_client();
    let repo = client.repository(&image).unwrap();
    let key = SigningKey::generate_p256().unwrap();
    let predicate = load(
        &vectors().join("predicates/sbom/trivy-bitnami-elasticsearch.spdx.json"),
        SPDX,
    );
    push_att_layers(
        &repo,
        &digest,
        vec![dsse_layer(
            &key,
            &image.repository_name(),
            &digest,
            SPDX,
            CYCLONEDX,
            predicate,
        )],
    )
    .await;
    let any = check_all(&repo, &digest, &key.public_key(), None).await;
    assert_eq!(any[0].as_ref().unwrap().predicate_type(), SPDX);
    let cdx = check_all(&repo, &digest, &key.public_key(), Some(CYCLONEDX)).await;
    assert_eq!(failed_checks(&cdx), vec![Check::PredicateType]);
    let spdx = check_all(&repo, &digest, &key.public_key(), Some(SPDX)).await;
    assert_eq!(spdx[0].as_ref().unwrap().predicate_type(), SPDX);
}

/// An envelope whose payload was changed after signing (the layer itself is consistent: its
/// descriptor digest is the tampered bytes' digest) fails on the signature; so does an
/// envelope whose signature was replaced by the signature of another statement.
#[tokio::test]
async fn tampered_payload_with_original_signature_fails() {
    let (image, digest) = push_random_image(&unique_repo("tampered")).await;
    let client = test_client();
    let repo = client.repository(&image).unwrap();
    let key = SigningKey::generate_p256().unwrap();
    let name = image.repository_name();
    let predicate = load(
        &vectors().join("predicates/sbom/protobom-apko-curl.spdx.json"),
        SPDX,
    );
    let (good_d, good) = dsse_layer(&key, &name, &digest, SPDX, SPDX, predicate.clone());
    let env: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let statement = B64.decode(env["payload"].as_str().unwrap()).unwrap();
    let sig = B64
        .decode(env["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();

    // 1. One package name changed in the signed statement.
    let mut st: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    st["predicate"]["packages"][0]["name"] = serde_json::Value::String("evil".into());
    let tampered = serde_json::to_vec(&st).unwrap();
    assert_ne!(tampered, statement);
    let bad1 = format::envelope_json(format::IN_TOTO_PAYLOAD_TYPE, &tampered, &sig);
    // 2. The original statement with one more byte of whitespace (same JSON meaning).
    let mut spaced = statement.clone();
    spaced.push(b' ');
    let bad2 = format::envelope_json(format::IN_TOTO_PAYLOAD_TYPE, &spaced, &sig);
    // 3. The payload type changed (PAE covers it).
    let bad3 = format::envelope_json("application/json", &statement, &sig);
    let mut layers = vec![(good_d.clone(), good.clone())];
    for bad in [bad1, bad2, bad3] {
        let mut d = oci::Descriptor::for_bytes(media_types::DSSE_ENVELOPE, &bad);
        d.annotations = good_d.annotations.clone();
        layers.push((d, bad));
    }
    push_att_layers(&repo, &digest, layers).await;
    let r = check_all(&repo, &digest, &key.public_key(), None).await;
    assert!(r[0].is_ok(), "{:?}", r[0]);
    assert_eq!(
        failed_checks(&r[1..]),
        vec![Check::Signature, Check::Signature, Check::Signature]
    );
}

#[tokio::test]
async fn replace_drops_only_the_same_predicate_type() {
    let (image, digest) = push_random_image(&unique_repo("replace")).await;
    let client = test_client();
    let repo = client.repository(&image).unwrap();
    let key = SigningKey::generate_p256().unwrap();
    let spdx = load(
        &vectors().join("predicates/sbom/trivy-bitnami-postgresql.spdx.json"),
        SPDX,
    );
    let cdx = load(
        &vectors().join("predicates/sbom/guac-syft-0.58.0_alpine.cdx-1.4.json"),
        CYCLONEDX,
    );
    let vuln = serde_json::json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy", "version": "0.50.0"}});
    for (t, p) in [
        (SPDX, &spdx),
        (CYCLONEDX, &cdx),
        (SPDX, &spdx),
        (VULN, &vuln),
    ] {
        sign::attest_image(&client, &image, &key, &attest_opts(t, p.clone()))
            .await
            .unwrap();
    }
    let types = |r: &[Result<VerifiedAttestation, CandidateFailure>]| -> Vec<String> {
        r.iter()
            .map(|x| x.as_ref().unwrap().predicate_type().to_owned())
            .collect()
    };
    let r = check_all(&repo, &digest, &key.public_key(), None).await;
    assert_eq!(types(&r), vec![SPDX, CYCLONEDX, SPDX, VULN]);

    let mut opts = attest_opts(SPDX, spdx.clone());
    opts.replace = true;
    let done = sign::attest_image(&client, &image, &key, &opts)
        .await
        .unwrap();
    assert!(
        matches!(done[0].outcome, attach::Appended::Written { layers: 3, .. }),
        "{:?}",
        done[0].outcome
    );
    let r = check_all(&repo, &digest, &key.public_key(), None).await;
    assert_eq!(types(&r), vec![CYCLONEDX, VULN, SPDX]);
    // The annotations of the stored layers agree with the payloads.
    let att = attach::read(&repo, &digest, Kind::Attestation, 100)
        .await
        .unwrap()
        .unwrap();
    let annotated: Vec<&str> = att
        .manifest
        .layers
        .iter()
        .map(|l| l.annotation(attach::PREDICATE_TYPE_ANNOTATION).unwrap())
        .collect();
    assert_eq!(annotated, vec![CYCLONEDX, VULN, SPDX]);

    // Replacing a type that is absent just appends.
    let mut opts = attest_opts(OPENVEX, serde_json::json!({"@context": "x"}));
    opts.replace = true;
    sign::attest_image(&client, &image, &key, &opts)
        .await
        .unwrap();
    let r = check_all(&repo, &digest, &key.public_key(), None).await;
    assert_eq!(types(&r), vec![CYCLONEDX, VULN, SPDX, OPENVEX]);
}

#[tokio::test]
async fn recursive_attests_index_and_each_child() {
    let (image, index_digest, children) = push_index(&unique_repo("att-index")).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    let predicate = load(
        &crate::support::crate_path("testdata/sbom/imprint.cdx-1.5.json"),
        CYCLONEDX,
    );
    let mut opts = attest_opts(CYCLONEDX, predicate);
    opts.recursive = true;
    let done = sign::attest_image(&client, &image, &key, &opts)
        .await
        .unwrap();
    let attested: Vec<&Digest> = done.iter().map(|a| &a.digest).collect();
    assert_eq!(attested.len(), 3);
    let repo = client.repository(&image).unwrap();
    for d in children.iter().chain([&index_digest]) {
        assert!(attested.contains(&d));
        let r = check_all(&repo, d, &key.public_key(), Some(CYCLONEDX)).await;
        assert_eq!(r.len(), 1, "{d}");
        let v = r[0].as_ref().unwrap();
        assert_eq!(v.image(), d);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(v.statement_json()).unwrap()["subject"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    // Without --recursive only the index is attested.
    let (image2, index2, children2) = push_index(&unique_repo("att-index-flat")).await;
    let done = sign::attest_image(
        &client,
        &image2,
        &key,
        &attest_opts(VULN, serde_json::json!({"scanner": {}})),
    )
    .await
    .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].digest, index2);
    let repo2 = client.repository(&image2).unwrap();
    for c in &children2 {
        assert!(
            check_all(&repo2, c, &key.public_key(), None)
                .await
                .is_empty()
        );
    }
}

// ---- upload progress ----

#[tokio::test]
async fn upload_progress_counts_bytes_up_to_the_blob_size() {
    let events: Arc<Mutex<Vec<ProgressEvent>>> = Arc::default();
    let sink = events.clone();
    let client = Client::new(RegistryConfig {
        auth: AuthSource::Anonymous,
        progress: Some(ProgressHook::new(move |e| {
            sink.lock().unwrap().push(e.clone())
        })),
        ..RegistryConfig::default()
    })
    .unwrap();
    let image = ImageRef::parse(&format!("{}/{}:v1", registry(), unique_repo("progress"))).unwrap();
    let repo = client.repository(&image).unwrap();

    let blob = random_bytes(3 * 1024 * 1024);
    let total = blob.len() as u64;
    let digest = repo
        .put_blob(imprint::store::Blob::copy_from_slice(&blob))
        .await
        .unwrap();
    assert_eq!(digest, Digest::of(&blob));
    // The registry holds exactly these bytes.
    assert_eq!(*repo.get_blob(&digest, total).await.unwrap(), blob);

    let seen = std::mem::take(&mut *events.lock().unwrap());
    assert!(
        matches!(&seen[0], ProgressEvent::Started { digest: d, total: t, repository }
            if d == &digest && *t == total && repository == &image.repository_name()),
        "{:?}",
        seen[0]
    );
    assert!(
        matches!(seen.last(), Some(ProgressEvent::Finished { digest: d, total: t })
            if d == &digest && *t == total),
        "{:?}",
        seen.last()
    );
    let sent: Vec<u64> = seen[1..seen.len() - 1]
        .iter()
        .map(|e| match e {
            ProgressEvent::Sent {
                digest: d,
                sent,
                total: t,
            } => {
                assert_eq!(d, &digest);
                assert_eq!(*t, total);
                *sent
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(
        sent.len() > 2,
        "a 3 MiB blob is reported in steps: {sent:?}"
    );
    assert!(
        sent.windows(2).all(|w| w[0] < w[1]),
        "not increasing: {sent:?}"
    );
    assert!(sent[0] > 0);
    assert_eq!(sent.last(), Some(&total));

    // Already present: no upload, no events.
    repo.put_blob(imprint::store::Blob::copy_from_slice(&blob))
        .await
        .unwrap();
    assert!(events.lock().unwrap().is_empty());
    // Small blobs are not reported.
    let small = random_bytes(usize::try_from(PROGRESS_MIN_BYTES).unwrap() - 1);
    let d = repo
        .put_blob(imprint::store::Blob::copy_from_slice(&small))
        .await
        .unwrap();
    assert_eq!(
        *repo.get_blob(&d, 2 * PROGRESS_MIN_BYTES).await.unwrap(),
        small
    );
    assert!(events.lock().unwrap().is_empty());
}

// ---- CLI ----

fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let prefix = dir.join(name);
    let out = imprint()
        .arg("generate-key-pair")
        .arg("--output-key-prefix")
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

fn cli_attest(key: &Path, predicate: &Path, t: &str, image: &str, extra: &[&str]) -> Output {
    imprint()
        .args(["attest", "--key"])
        .arg(key)
        .arg("--predicate")
        .arg(predicate)
        .args(["--type", t])
        .args(extra)
        .arg(image)
        .output()
        .unwrap()
}

fn cli_verify(public: &Path, t: Option<&str>, image: &str) -> Output {
    let mut c = imprint();
    c.args(["verify-attestation", "--key"]).arg(public);
    if let Some(t) = t {
        c.args(["--type", t]);
    }
    c.arg(image).output().unwrap()
}

/// Each stdout line must be a DSSE envelope; returns the predicate types of their statements.
fn printed_types(out: &Output, digest: &Digest) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| {
            let env: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(env["payloadType"], format::IN_TOTO_PAYLOAD_TYPE);
            assert!(env["signatures"][0]["sig"].is_string());
            let st: serde_json::Value =
                serde_json::from_slice(&B64.decode(env["payload"].as_str().unwrap()).unwrap())
                    .unwrap();
            assert_eq!(st["subject"][0]["digest"]["sha256"], digest.hex());
            st["predicateType"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn cli_attest_verify_attestation_legacy_att() {
    cli_attest_and_verify(false).await;
}

#[tokio::test]
async fn cli_attest_verify_attestation_bundle_referrer() {
    cli_attest_and_verify(true).await;
}

/// `attest` then `verify-attestation` through the CLI, writing legacy `.att` layers
/// (`--new-bundle-format=false`) or Sigstore bundle referrers (the default).
async fn cli_attest_and_verify(bundle: bool) {
    let (image, digest) = push_random_image(&unique_repo("cli-att")).await;
    let format = if bundle {
        "--new-bundle-format=true"
    } else {
        "--new-bundle-format=false"
    };
    let image_s = image.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(tmp.path(), "k");
    let spdx = vectors().join("predicates/sbom/guac-syft-0.90.0_kubectl-amd64.spdx.json");
    let cdx = crate::support::crate_path("testdata/sbom/imprint.cdx-1.5.json");

    let out = cli_attest(&key, &spdx, "spdxjson", &image_s, &[format]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli_attest(&key, &cdx, "cyclonedx", &image_s, &[format]);
    assert!(out.status.success(), "{}", stderr(&out));

    // No --type: both, one envelope per line.
    let out = cli_verify(&public, None, &image_s);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut types = printed_types(&out, &digest);
    if bundle {
        // Referrers come in the registry's order, not the order they were pushed in.
        types.sort();
        assert_eq!(types, vec![CYCLONEDX, SPDX]);
    } else {
        assert_eq!(types, vec![SPDX, CYCLONEDX]);
    }
    // Written in the format asked for, and nothing in the other.
    let repo = test_client().repository(&image).unwrap();
    let found = discover::discover(
        &repo,
        &digest,
        SignatureFormat::Any,
        false,
        true,
        &Limits::default(),
    )
    .await
    .complete()
    .unwrap();
    let line2 = out.stdout.split(|b| *b == b'\n').nth(1).unwrap();
    if bundle {
        assert!(found.attestations.is_empty());
        assert_eq!(found.bundles.len(), 2);
        // The printed envelope is the bundle's DSSE envelope.
        let printed: serde_json::Value = serde_json::from_slice(line2).unwrap();
        let stored = found
            .bundles
            .iter()
            .map(|c| {
                serde_json::from_slice::<serde_json::Value>(c.content.as_ref().unwrap()).unwrap()
            })
            .find(|b| b["dsseEnvelope"] == printed);
        assert!(
            stored.is_some(),
            "printed envelope is not a stored bundle's"
        );
    } else {
        assert!(found.bundles.is_empty());
        assert_eq!(found.attestations.len(), 2);
        // The printed envelope is the stored layer, byte for byte.
        let stored = found.attestations[1].content.as_ref().unwrap();
        assert_eq!(line2, stored.as_slice());
    }

    // --type: only that one.
    for (t, uri) in [("cyclonedx", CYCLONEDX), ("spdx", SPDX), (SPDX, SPDX)] {
        let out = cli_verify(&public, Some(t), &image_s);
        assert_eq!(out.status.code(), Some(0), "{t}: {}", stderr(&out));
        assert_eq!(printed_types(&out, &digest), vec![uri]);
    }
    // A type nothing has: 1, nothing printed, the reason on stderr.
    let out = cli_verify(&public, Some("vuln"), &image_s);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out)
            .contains("no attestation of type `https://cosign.sigstore.dev/attestation/vuln/v1`"),
        "{}",
        stderr(&out)
    );
    if !bundle {
        // Legacy layers are listed with the check that refused them.
        assert!(stderr(&out).contains("predicate-type"), "{}", stderr(&out));
    }
    // Wrong key: 1.
    let (_, other_pub) = key_pair(tmp.path(), "other");
    let out = cli_verify(&other_pub, None, &image_s);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("signature check failed"),
        "{}",
        stderr(&out)
    );
    // Not attested: 1.
    let (bare, _) = push_random_image(&unique_repo("cli-att-bare")).await;
    let out = cli_verify(&public, None, &bare.to_string());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no attestations found"),
        "{}",
        stderr(&out)
    );
    // Operational errors: 2.
    let missing = tmp.path().join("missing.pub");
    let out = cli_verify(&missing, None, &image_s);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let expected = format!("cannot load public key `{}`", missing.display());
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    let out = cli_verify(&public, Some("not a type"), &image_s);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid predicate type `not a type`"),
        "{}",
        stderr(&out)
    );
    let out = cli_verify(&public, None, "127.0.0.1:1/nothing:here");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("registry `127.0.0.1:1` unreachable"),
        "{}",
        stderr(&out)
    );
}

/// The swapped-annotation and other-subject layers through the CLI: the payload decides.
#[tokio::test]
async fn cli_trusts_the_payload_not_the_annotation() {
    let (image, digest) = push_random_image(&unique_repo("cli-swap")).await;
    let (_, other) = push_random_image(&unique_repo("cli-swap-other")).await;
    let tmp = tempfile::tempdir().unwrap();
    let (key_path, public) = key_pair(tmp.path(), "k");
    let key = imprint::keys::load_signing_key(
        &key_path,
        &imprint::keys::password::Password::new("test-password"),
    )
    .unwrap();
    let repo = test_client().repository(&image).unwrap();
    let name = image.repository_name();
    let p = load(
        &vectors().join("predicates/sbom/trivy-bitnami-postgresql.spdx.json"),
        SPDX,
    );
    push_att_layers(
        &repo,
        &digest,
        vec![dsse_layer(&key, &name, &digest, SPDX, CYCLONEDX, p.clone())],
    )
    .await;
    let image_s = image.to_string();
    let out = cli_verify(&public, Some("cyclonedx"), &image_s);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out)
            .contains("predicate-type check failed: predicate type is `https://spdx.dev/Document`"),
        "{}",
        stderr(&out)
    );
    let out = cli_verify(&public, None, &image_s);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(printed_types(&out, &digest), vec![SPDX]);

    // Only a statement about another image: 1.
    push_att_layers(
        &repo,
        &digest,
        vec![dsse_layer(&key, &name, &other, SPDX, SPDX, p)],
    )
    .await;
    let out = cli_verify(&public, None, &image_s);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("subject check failed"),
        "{}",
        stderr(&out)
    );
}

/// A file that is not the SBOM it is declared as is refused before anything is pushed.
#[tokio::test]
async fn cli_refuses_non_sbom_declared_as_sbom_before_pushing() {
    let (image, digest) = push_random_image(&unique_repo("cli-notsbom")).await;
    let image_s = image.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let (key, _) = key_pair(tmp.path(), "k");
    let cdx = crate::support::crate_path("testdata/sbom/imprint.cdx-1.5.json");
    let spdx = vectors().join("predicates/sbom/protobom-apko-curl.spdx.json");
    let plain = tmp.path().join("config.json");
    std::fs::write(&plain, br#"{"name": "not an sbom", "packages": 3}"#).unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "just some text\n").unwrap();

    let cases: [(&Path, &str, &str); 5] = [
        (&cdx, "spdxjson", "cyclonedx"),
        (&spdx, "cyclonedx", "spdx"),
        (&plain, "spdxjson", "spdx"),
        (&plain, "cyclonedx", "cyclonedx"),
        (&text, "spdx", "json"),
    ];
    for (file, t, mentions) in cases {
        let out = cli_attest(&key, file, t, &image_s, &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{} as {t}: {}",
            file.display(),
            stderr(&out)
        );
        let err = stderr(&out).to_lowercase();
        assert!(err.contains(mentions), "{} as {t}: {err}", file.display());
    }
    // The CycloneDX file declared as SPDX: the message suggests the right type.
    let out = cli_attest(&key, &cdx, "spdxjson", &image_s, &[]);
    assert!(
        stderr(&out).contains("--type cyclonedx"),
        "{}",
        stderr(&out)
    );
    // A predicate over --max-predicate-bytes: refused too.
    let out = cli_attest(
        &key,
        &cdx,
        "cyclonedx",
        &image_s,
        &["--max-predicate-bytes", "1000"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("over the limit of 1000 bytes"),
        "{}",
        stderr(&out)
    );

    // Nothing was pushed: no `.att` tag, no referrer, no tag-schema index.
    let repo = test_client().repository(&image).unwrap();
    let tag = Kind::Attestation.tag(&digest);
    assert!(
        repo.get_manifest(ManifestRef::Tag(&tag))
            .await
            .unwrap()
            .is_none(),
        "{tag} exists after refused attests"
    );
    assert!(
        repo.get_manifest(ManifestRef::Tag(&digest.tag_base()))
            .await
            .unwrap()
            .is_none()
    );
    let found = discover::discover(
        &repo,
        &digest,
        SignatureFormat::Any,
        true,
        true,
        &Limits::default(),
    )
    .await
    .complete()
    .unwrap();
    assert!(found.attestations.is_empty() && found.bundles.is_empty());
    // And the right declaration works, in both formats.
    let out = cli_attest(
        &key,
        &cdx,
        "cyclonedx",
        &image_s,
        &["--new-bundle-format=false"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        repo.get_manifest(ManifestRef::Tag(&tag))
            .await
            .unwrap()
            .is_some()
    );
    let out = cli_attest(&key, &cdx, "cyclonedx", &image_s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let found = discover::discover(
        &repo,
        &digest,
        SignatureFormat::Any,
        false,
        true,
        &Limits::default(),
    )
    .await
    .complete()
    .unwrap();
    assert_eq!((found.attestations.len(), found.bundles.len()), (1, 1));
}

/// Regression (issue 11): `attest --replace` in the default bundle format did nothing and
/// said nothing. Now it is refused before anything is written (exit 2, naming the legacy
/// format as the way to replace); the legacy form still replaces.
#[tokio::test]
async fn cli_attest_replace_with_bundles_is_refused_and_writes_nothing() {
    let (image, digest) = push_random_image(&unique_repo("replace-bundle")).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path(), "k");
    let predicate = dir.path().join("vex.json");
    std::fs::write(
        &predicate,
        br#"{"@context": "https://openvex.dev/ns/v0.2.0"}"#,
    )
    .unwrap();
    let image = image.to_string();
    let out = cli_attest(&key, &predicate, "openvex", &image, &["--replace"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--replace works only with legacy") && err.contains("nothing was written"),
        "{err}"
    );
    // Nothing was attached.
    let repo = test_client()
        .repository(&ImageRef::parse(&image).unwrap())
        .unwrap();
    let found = discover::discover(
        &repo,
        &digest,
        SignatureFormat::Any,
        true,
        true,
        &Limits::default(),
    )
    .await
    .complete()
    .unwrap();
    assert!(found.bundles.is_empty() && found.attestations.is_empty());
    // The legacy form replaces, as before.
    for _ in 0..2 {
        let out = cli_attest(
            &key,
            &predicate,
            "openvex",
            &image,
            &["--replace", "--new-bundle-format=false"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = cli_verify(&public, Some("openvex"), &image);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(printed_types(&out, &digest).len(), 1, "replaced, not added");
}

/// Regression (issue 11): attesting an OCI layout wrote the layout's file path as the
/// statement's subject name. Now it is empty (the digest is the subject) unless the layout
/// names the image by a full reference, whose repository it then is.
#[tokio::test]
async fn layout_attestations_never_name_a_file_path() {
    let dir = tempfile::tempdir().unwrap();
    let (image, repo, digest) = crate::support::push_image_to_layout(dir.path()).await;
    let client = test_client();
    let key = SigningKey::generate_p256().unwrap();
    let vex = serde_json::json!({"@context": "https://openvex.dev/ns/v0.2.0"});
    sign::attest_image(&client, &image, &key, &attest_opts(OPENVEX, vex.clone()))
        .await
        .unwrap();
    let r = check_all(&repo, &digest, &key.public_key(), None).await;
    let att = r[0].as_ref().unwrap();
    let statement: serde_json::Value = serde_json::from_slice(att.statement_json()).unwrap();
    let name = statement["subject"][0]["name"].as_str().unwrap().to_owned();
    assert_eq!(name, "", "not {:?}", dir.path());
}
