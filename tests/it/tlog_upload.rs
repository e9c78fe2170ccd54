//! Key-based image signatures and attestations with `--tlog-upload`: the Rekor entry goes to
//! Sigstore's own mock Rekor (`@sigstore/mock`, served on 127.0.0.1 by the harness that
//! `keyless_sign` starts) and into what is pushed to the real registry: the bundle v0.3
//! referrer's `tlogEntries` (`intoto` 0.0.2 with the public key) or, for legacy `.sig` / `.att`
//! layers, cosign's `dev.sigstore.cosign/bundle` annotation (`hashedrekord` for `.sig`, `intoto`
//! for `.att`). `verify --key K --trusted-root F` then requires each signature's entry and
//! checks it against F; changed entries (body, integrated time, SET), a foreign trust root and
//! a missing entry are rejected, naming the entry. The bundle referrers are also checked with
//! sigstore-js (`@sigstore/verify` given the key, tests/it/interop/sigstore_js_key_verify.js:
//! the harness's verify.js passes no keys), which accepts them and rejects the same tamperings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use imprint::format::digest::Digest;
use imprint::keys::PublicKey;
use imprint::store::Limits;
use imprint::store::attach::BUNDLE_ANNOTATION;
use imprint::store::discover::{self, Candidate, SignatureFormat};
use imprint::trust::TrustRoot;
use imprint::verify::{SignatureVerifier, check_attestation, check_bundle, check_signature};

use crate::keyless_sign::{harness, mock, referrer_bundle, referrer_digest, tmp};
use crate::support::cli::{imprint, run};
use crate::support::{push_random_image, test_client, unique_repo};

struct Keys {
    key: PathBuf,
    public: PathBuf,
}

fn keys(dir: &Path) -> Keys {
    let prefix = dir.join("k");
    let (code, _, err) = run(imprint()
        .args(["generate-key-pair", "--output-key-prefix"])
        .arg(&prefix));
    assert_eq!(code, 0, "{err}");
    Keys {
        key: dir.join("k.key"),
        public: dir.join("k.pub"),
    }
}

/// `imprint ARGS --key K --tlog-upload --rekor-url MOCK IMAGE`.
fn sign_logged(args: &[&str], k: &Keys, image: &str) -> (i32, String, String) {
    tokio::task::block_in_place(|| {
        run(imprint()
            .args(args)
            .args(["--tlog-upload", "--rekor-url", &mock().url, "--key"])
            .arg(&k.key)
            .arg(image))
    })
}

/// `imprint ARGS --key PUB [--trusted-root MOCK-ROOT] IMAGE`.
fn verify_key(args: &[&str], k: &Keys, root: bool, image: &str) -> (i32, String, String) {
    tokio::task::block_in_place(|| {
        let mut c = imprint();
        c.args(args).arg("--key").arg(&k.public);
        if root {
            c.arg("--trusted-root").arg(&mock().trusted_root);
        }
        run(c.arg(image))
    })
}

async fn found(image: &str, digest: &Digest) -> discover::Discovered {
    let client = test_client();
    let repo = client
        .repository(&imprint::format::reference::ImageRef::parse(image).unwrap())
        .unwrap();
    discover::discover(
        &repo,
        digest,
        SignatureFormat::Any,
        true,
        true,
        &Limits::default(),
    )
    .await
    .complete()
    .unwrap()
}

fn key_tlog(k: &Keys, trust: TrustRoot) -> SignatureVerifier {
    let public = PublicKey::from_pem(&std::fs::read(&k.public).unwrap()).unwrap();
    SignatureVerifier::KeyTlog {
        key: public,
        trust: Arc::new(trust),
    }
}

/// Flips one bit of a base64 string (at byte `at` of the decoded bytes).
fn flip(b64: &str, at: usize) -> String {
    let mut bytes = B64.decode(b64).unwrap();
    bytes[at] ^= 1;
    B64.encode(bytes)
}

/// A legacy layer candidate whose Rekor bundle annotation is changed by `edit`.
fn with_rekor_bundle(c: &Candidate, edit: impl FnOnce(&mut Value)) -> Candidate {
    let mut c = c.clone();
    let ann = c.descriptor.annotations.as_mut().unwrap();
    let mut v: Value = serde_json::from_str(&ann[BUNDLE_ANNOTATION]).unwrap();
    edit(&mut v);
    ann.insert(BUNDLE_ANNOTATION.to_owned(), v.to_string());
    c
}

/// A bundle candidate whose JSON is changed by `edit`.
fn with_bundle(c: &Candidate, edit: impl FnOnce(&mut Value)) -> Candidate {
    let mut c = c.clone();
    let mut v: Value = serde_json::from_slice(c.content.as_ref().unwrap()).unwrap();
    edit(&mut v);
    c.content = Ok(Arc::new(serde_json::to_vec(&v).unwrap()));
    c
}

/// The changed entries every format must reject: `(what, candidate)`.
fn legacy_tamperings(c: &Candidate) -> Vec<(&'static str, Candidate)> {
    vec![
        (
            "changed body",
            with_rekor_bundle(c, |v| {
                let b = v["Payload"]["body"].as_str().unwrap().to_owned();
                v["Payload"]["body"] = Value::String(flip(&b, 40));
            }),
        ),
        (
            "changed integrated time",
            with_rekor_bundle(c, |v| {
                let t = v["Payload"]["integratedTime"].as_i64().unwrap();
                v["Payload"]["integratedTime"] = Value::from(t + 1);
            }),
        ),
        (
            "changed SET",
            with_rekor_bundle(c, |v| {
                let s = v["SignedEntryTimestamp"].as_str().unwrap().to_owned();
                v["SignedEntryTimestamp"] = Value::String(flip(&s, 12));
            }),
        ),
        ("no Rekor bundle annotation", {
            let mut c = c.clone();
            c.descriptor
                .annotations
                .as_mut()
                .unwrap()
                .remove(BUNDLE_ANNOTATION);
            c
        }),
    ]
}

fn bundle_tamperings(c: &Candidate) -> Vec<(&'static str, Candidate)> {
    let entry = "/verificationMaterial/tlogEntries/0";
    vec![
        (
            "changed body",
            with_bundle(c, |v| {
                let e = v.pointer_mut(entry).unwrap();
                let b = e["canonicalizedBody"].as_str().unwrap().to_owned();
                e["canonicalizedBody"] = Value::String(flip(&b, 40));
            }),
        ),
        (
            "changed integrated time",
            with_bundle(c, |v| {
                let e = v.pointer_mut(entry).unwrap();
                let t: i64 = e["integratedTime"].as_str().unwrap().parse().unwrap();
                e["integratedTime"] = Value::String((t + 1).to_string());
            }),
        ),
        (
            "changed SET",
            with_bundle(c, |v| {
                let e = v.pointer_mut(entry).unwrap();
                let s = e["inclusionPromise"]["signedEntryTimestamp"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                e["inclusionPromise"]["signedEntryTimestamp"] = Value::String(flip(&s, 12));
            }),
        ),
        (
            "no tlog entries",
            with_bundle(c, |v| {
                v["verificationMaterial"]["tlogEntries"] = Value::Array(vec![]);
                // Without entries an inclusion proof is not what is missing: drop nothing else.
            }),
        ),
    ]
}

fn assert_names_entry(what: &str, message: &str) {
    assert!(
        message.contains("transparency-log entry"),
        "{what}: the failure does not name the entry: {message}"
    );
}

/// sigstore-js (`@sigstore/verify`, given the key): Ok(stdout) or Err(stdout).
fn js_key_verify(root: &Path, bundle: &Path, public: &Path) -> Result<String, String> {
    let out = std::process::Command::new("node")
        .current_dir(harness())
        .arg(crate::support::crate_path(
            "tests/it/interop/sigstore_js_key_verify.js",
        ))
        .arg(root)
        .arg(bundle)
        .arg(public)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() && text.contains("VERIFIED OK") {
        Ok(text)
    } else {
        Err(text)
    }
}

/// `sign` and `attest` of images with a key and `--tlog-upload`, in both formats, on the real
/// registry; verified with imprint against the mock's trusted root; tampered entries, a foreign
/// trust root and missing entries rejected.
#[tokio::test(flavor = "multi_thread")]
async fn key_signed_images_with_tlog_upload_have_their_entry_required_and_checked() {
    let dir = tmp();
    let k = keys(&dir);
    let mock_root = || TrustRoot::from_file(&mock().trusted_root).unwrap();
    let good = key_tlog(&k, mock_root());
    let foreign = key_tlog(&k, TrustRoot::public_good().unwrap());

    // --- bundle referrer (cosign v3): sign and attest.
    let (image, digest) = push_random_image(&unique_repo("tlog-bundle")).await;
    let pinned = format!("{}@{digest}", image.repository_name());
    let (code, _, err) = sign_logged(&["sign", "-a", "team=widget"], &k, &pinned);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("tlog entries created"), "{err}");
    let referrer = referrer_digest(&err);
    let bundle: Value = serde_json::from_slice(&referrer_bundle(&pinned, &referrer).await).unwrap();
    let vm = &bundle["verificationMaterial"];
    assert!(vm["publicKey"]["hint"].is_string(), "{vm}");
    assert!(vm.get("certificate").is_none(), "{vm}");
    assert_eq!(vm["tlogEntries"][0]["kindVersion"]["kind"], "intoto");
    assert_eq!(vm["tlogEntries"][0]["kindVersion"]["version"], "0.0.2");
    let body: Value = serde_json::from_slice(
        &B64.decode(vm["tlogEntries"][0]["canonicalizedBody"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let logged_key = body["spec"]["content"]["envelope"]["signatures"][0]["publicKey"]
        .as_str()
        .unwrap();
    let logged_key = String::from_utf8(B64.decode(logged_key).unwrap()).unwrap();
    assert!(logged_key.contains("BEGIN PUBLIC KEY"), "{logged_key}");

    let (code, out, err) = verify_key(
        &["verify", "--signature-format", "bundle"],
        &k,
        true,
        &pinned,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""team":"widget""#), "{out}");
    assert!(err.contains("transparency-log entry was verified"), "{err}");

    let predicate = dir.join("provenance.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/b"}}"#,
    )
    .unwrap();
    let p = predicate.to_str().unwrap();
    let (code, _, err) = sign_logged(
        &["attest", "--type", "slsaprovenance1", "--predicate", p],
        &k,
        &pinned,
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = verify_key(
        &["verify-attestation", "--type", "slsaprovenance1"],
        &k,
        true,
        &pinned,
    );
    assert_eq!(code, 0, "{err}");

    // Each bundle (signature and attestation) verifies in the library with the mock root, and
    // not with a foreign root or changed.
    let f = found(&pinned, &digest).await;
    assert_eq!(f.bundles.len(), 2, "{:?}", f.bundles.len());
    let public_good = crate::support::crate_path("src/trust/public-good-trusted_root.json");
    for (i, c) in f.bundles.iter().enumerate() {
        // sigstore-js agrees: accepted under the mock's root, rejected under another one.
        let file = dir.join(format!("bundle-{i}.sigstore.json"));
        std::fs::write(&file, c.content.as_ref().unwrap().as_slice()).unwrap();
        let js =
            tokio::task::block_in_place(|| js_key_verify(&mock().trusted_root, &file, &k.public))
                .unwrap_or_else(|e| panic!("sigstore-js rejected the key bundle: {e}"));
        assert!(js.contains("transparency-log"), "{js}");
        tokio::task::block_in_place(|| js_key_verify(&public_good, &file, &k.public))
            .expect_err("sigstore-js accepted the mock's entry under the public-good root");
        for (what, bad) in bundle_tamperings(c) {
            let file = dir.join(format!(
                "bundle-{i}-{}.sigstore.json",
                what.replace(' ', "-")
            ));
            std::fs::write(&file, bad.content.as_ref().unwrap().as_slice()).unwrap();
            tokio::task::block_in_place(|| js_key_verify(&mock().trusted_root, &file, &k.public))
                .expect_err(&format!("sigstore-js accepted a bundle with {what}"));
        }
        let item = check_bundle(c, &digest, &good, &Default::default()).unwrap();
        let tlog = match &item {
            imprint::verify::VerifiedBundleItem::Signature(s) => s.tlog().cloned(),
            imprint::verify::VerifiedBundleItem::Attestation(a) => a.tlog().cloned(),
        };
        assert!(tlog.is_some_and(|t| t.integrated_time > 0));
        let e = check_bundle(c, &digest, &foreign, &Default::default()).unwrap_err();
        assert_names_entry("foreign trust root", &e.to_string());
        for (what, bad) in bundle_tamperings(c) {
            let e = check_bundle(&bad, &digest, &good, &Default::default())
                .err()
                .unwrap_or_else(|| panic!("bundle with {what} accepted"));
            assert_names_entry(what, &e.to_string());
        }
    }

    // --- legacy .sig / .att layers (cosign v2).
    let (limage, ldigest) = push_random_image(&unique_repo("tlog-legacy")).await;
    let legacy = format!("{}@{ldigest}", limage.repository_name());
    let (code, _, err) = sign_logged(&["sign", "--new-bundle-format=false"], &k, &legacy);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = sign_logged(
        &[
            "attest",
            "--new-bundle-format=false",
            "--type",
            "slsaprovenance1",
            "--predicate",
            p,
        ],
        &k,
        &legacy,
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = verify_key(
        &["verify", "--signature-format", "legacy"],
        &k,
        true,
        &legacy,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("docker-manifest-digest"), "{out}");
    let (code, _, err) = verify_key(
        &[
            "verify-attestation",
            "--type",
            "slsaprovenance1",
            "--signature-format",
            "legacy",
        ],
        &k,
        true,
        &legacy,
    );
    assert_eq!(code, 0, "{err}");
    // cosign's annotation on the layer.
    let (code, out, err) =
        tokio::task::block_in_place(|| run(imprint().args(["download", "signature", &legacy])));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(r#""Bundle":{"SignedEntryTimestamp":"#),
        "{out}"
    );

    // `--key` alone keeps imprint's default: the key decides, the entries (here of a log the
    // embedded public-good root does not know) are not required (docs/keyless-signing.md).
    for img in [&pinned, &legacy] {
        let (code, _, err) = verify_key(&["verify"], &k, false, img);
        assert_eq!(code, 0, "{err}");
        assert!(
            !err.contains("transparency-log entry was verified"),
            "{err}"
        );
    }
    let f = found(&legacy, &ldigest).await;
    assert_eq!((f.signatures.len(), f.attestations.len()), (1, 1));
    let sig = &f.signatures[0];
    let att = &f.attestations[0];
    let kinds = |c: &Candidate| {
        let v: Value =
            serde_json::from_str(&c.descriptor.annotations.as_ref().unwrap()[BUNDLE_ANNOTATION])
                .unwrap();
        let body: Value =
            serde_json::from_slice(&B64.decode(v["Payload"]["body"].as_str().unwrap()).unwrap())
                .unwrap();
        (
            body["kind"].as_str().unwrap().to_owned(),
            body["apiVersion"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(kinds(sig), ("hashedrekord".into(), "0.0.1".into()));
    assert_eq!(kinds(att), ("intoto".into(), "0.0.2".into()));
    let s = check_signature(sig, &ldigest, &good, &Default::default()).unwrap();
    assert!(s.tlog().is_some());
    let a = check_attestation(att, &ldigest, &good, None).unwrap();
    assert!(a.tlog().is_some());
    let e = check_signature(sig, &ldigest, &foreign, &Default::default()).unwrap_err();
    assert_names_entry("foreign trust root (.sig)", &e.to_string());
    let e = check_attestation(att, &ldigest, &foreign, None).unwrap_err();
    assert_names_entry("foreign trust root (.att)", &e.to_string());
    for (what, bad) in legacy_tamperings(sig) {
        let e = check_signature(&bad, &ldigest, &good, &Default::default())
            .err()
            .unwrap_or_else(|| panic!(".sig with {what} accepted"));
        assert_names_entry(what, &e.to_string());
    }
    for (what, bad) in legacy_tamperings(att) {
        let e = check_attestation(&bad, &ldigest, &good, None)
            .err()
            .unwrap_or_else(|| panic!(".att with {what} accepted"));
        assert_names_entry(what, &e.to_string());
    }
    // The entry of one layer does not vouch for another signature: the .att's entry on the .sig.
    let att_bundle = att.descriptor.annotations.as_ref().unwrap()[BUNDLE_ANNOTATION].clone();
    let swapped = with_rekor_bundle(sig, |v| *v = serde_json::from_str(&att_bundle).unwrap());
    let e = check_signature(&swapped, &ldigest, &good, &Default::default()).unwrap_err();
    assert_names_entry("another layer's entry", &e.to_string());
}

/// Without a Rekor entry: `verify --key K` alone accepts (imprint's default, unchanged),
/// `--key K --trusted-root F` rejects naming the missing entry, and `--insecure-ignore-tlog`
/// goes back to the key-only check (cosign's behaviour for key verification).
#[tokio::test(flavor = "multi_thread")]
async fn key_signatures_without_an_entry_need_insecure_ignore_tlog_with_a_trust_root() {
    let dir = tmp();
    let k = keys(&dir);
    for format in ["bundle", "legacy"] {
        let (image, digest) = push_random_image(&unique_repo("tlog-none")).await;
        let pinned = format!("{}@{digest}", image.repository_name());
        let legacy_flag = format!("--new-bundle-format={}", format == "bundle");
        let (code, _, err) = tokio::task::block_in_place(|| {
            run(imprint()
                .args(["sign", &legacy_flag, "--key"])
                .arg(&k.key)
                .arg(&pinned))
        });
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = verify_key(&["verify"], &k, false, &pinned);
        assert_eq!(code, 0, "{format}, key alone: {err}");
        let (code, _, err) = verify_key(&["verify"], &k, true, &pinned);
        assert_eq!(code, 1, "{format}, with a trust root: {err}");
        assert!(err.contains("no transparency-log entry"), "{format}: {err}");
        let (code, _, err) = verify_key(&["verify", "--insecure-ignore-tlog"], &k, true, &pinned);
        assert_eq!(code, 0, "{format}, --insecure-ignore-tlog: {err}");
    }
    // --tlog-upload needs the signature to be pushed.
    let (image, digest) = push_random_image(&unique_repo("tlog-noupload")).await;
    let pinned = format!("{}@{digest}", image.repository_name());
    let (code, _, err) = sign_logged(&["sign", "--upload=false"], &k, &pinned);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tlog-upload with --upload=false"), "{err}");
}
