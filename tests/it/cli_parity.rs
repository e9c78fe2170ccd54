//! cosign parity of the command line (issue 11): `public-key`, `tree`, `download`,
//! `verify-bundle` on imprint's own bundles, exit codes for images that do not exist,
//! concurrent multi-image verification in input order, and what verified bundles print.
//! Each test asserts exit code, stdout and stderr, against the test binary's registry.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use imprint::format::digest::Digest;
use imprint::format::oci::Descriptor;
use imprint::store::{Repository as _, media_types};

use crate::support::cli::{imprint, run};
use crate::support::{crate_path, push_random_image, registry, test_client, unique_repo};

const INSPECTION: &str = "note: inspection only: nothing shown here was verified";

fn key_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("k");
    let (code, _, err) = run(imprint()
        .arg("generate-key-pair")
        .arg("--output-key-prefix")
        .arg(&prefix));
    assert_eq!(code, 0, "{err}");
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

/// No Rust `Debug` text and no ANSI escape (stdout and stderr are pipes here).
fn clean(text: &str) {
    for bad in ["Digest(", "{ referrer", "Some(", "\u{1b}["] {
        assert!(!text.contains(bad), "`{bad}` in output:\n{text}");
    }
}

fn sign(key: &Path, image: &str, bundle: bool) {
    let format = format!("--new-bundle-format={bundle}");
    let (code, out, err) = run(imprint()
        .args(["sign", "--key"])
        .arg(key)
        .arg(&format)
        .arg(image));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
}

fn attest(key: &Path, image: &str, predicate: &Path, t: &str, bundle: bool) {
    let format = format!("--new-bundle-format={bundle}");
    let (code, _, err) = run(imprint()
        .args(["attest", "--key"])
        .arg(key)
        .arg("--predicate")
        .arg(predicate)
        .args(["--type", t, &format, image]));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn public_key_prints_the_pem_of_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path());
    let expected = std::fs::read_to_string(&public).unwrap();
    let (code, out, err) = run(imprint().arg("public-key").arg("--key").arg(&key));
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, expected.as_str(), "")
    );

    let written = dir.path().join("out.pub");
    let (code, out, err) = run(imprint()
        .arg("public-key")
        .arg("--key")
        .arg(&key)
        .arg("--outfile")
        .arg(&written));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("Public key written to {}\n", written.display())
    );
    assert_eq!(std::fs::read_to_string(&written).unwrap(), expected);
    // The global `--output-file` catches stdout.
    let captured = dir.path().join("captured.pub");
    let (code, out, err) = run(imprint()
        .arg("public-key")
        .arg("--key")
        .arg(&key)
        .arg("--output-file")
        .arg(&captured));
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(std::fs::read_to_string(&captured).unwrap(), expected);
    // An `--output-file` that cannot be written fails before the command runs (here the
    // `--outfile` of the command itself is never created), naming the file.
    let not_written = dir.path().join("never.pub");
    let (code, out, err) = run(imprint()
        .arg("public-key")
        .arg("--key")
        .arg(&key)
        .arg("--outfile")
        .arg(&not_written)
        .arg("--output-file")
        .arg(dir.path().join("no-such-dir/captured.pub")));
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("cannot write --output-file") && err.contains("no-such-dir"),
        "{err}"
    );
    assert!(!not_written.exists());

    let (code, out, err) = run(imprint()
        .env("IMPRINT_PASSWORD", "wrong")
        .arg("public-key")
        .arg("--key")
        .arg(&key));
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.starts_with("error: cannot load private key"), "{err}");
}

#[test]
fn verify_bundle_verifies_imprints_own_blob_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path());
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"hello\n").unwrap();
    let other = dir.path().join("g.txt");
    std::fs::write(&other, b"other\n").unwrap();
    let predicate = dir.path().join("p.json");
    std::fs::write(&predicate, br#"{"a":1}"#).unwrap();
    let sb = dir.path().join("sig.sigstore.json");
    let ab = dir.path().join("att.sigstore.json");
    let (code, _, err) = run(imprint()
        .arg("sign-blob")
        .arg("--key")
        .arg(&key)
        .arg("--bundle")
        .arg(&sb)
        .arg(&file));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(imprint()
        .arg("attest-blob")
        .arg("--key")
        .arg(&key)
        .arg("--predicate")
        .arg(&predicate)
        .arg("--bundle")
        .arg(&ab)
        .arg(&file));
    assert_eq!(code, 0, "{err}");

    let fingerprint = imprint::keys::load_public_key(&public)
        .unwrap()
        .fingerprint();
    let note = "note: the bundle has no transparency-log entry: verified against the key alone \
                (as verify-blob; imprint and `cosign sign-blob --tlog-upload=false` write such bundles)\n";
    let verify = |bundle: &Path, artifact: &Path| {
        run(imprint()
            .arg("verify-bundle")
            .arg("--key")
            .arg(&public)
            .arg("--bundle")
            .arg(bundle)
            .arg(artifact))
    };
    assert_eq!(
        verify(&sb, &file),
        (
            0,
            String::new(),
            format!("{note}signer: key {fingerprint}\nVerified OK\n")
        )
    );
    assert_eq!(
        verify(&ab, &file),
        (
            0,
            String::new(),
            format!(
                "{note}signer: key {fingerprint}\npredicate type: https://cosign.sigstore.dev/attestation/v1\nVerified OK\n"
            )
        )
    );
    // The DSSE bundle against the artifact's digest works too.
    let digest = Digest::of(b"hello\n").to_string();
    let (code, _, err) = run(imprint()
        .arg("verify-bundle")
        .arg("--key")
        .arg(&public)
        .arg("--bundle")
        .arg(&ab)
        .arg(&digest));
    assert_eq!(code, 0, "{err}");
    // Another file: rejected (exit 1), the failed check named; never "malformed".
    for bundle in [&sb, &ab] {
        let (code, out, err) = verify(bundle, &other);
        assert_eq!((code, out.as_str()), (1, ""), "{err}");
        assert!(err.starts_with(note), "{err}");
        assert!(
            err.contains("error: verification failed for bundle"),
            "{err}"
        );
        assert!(!err.contains("malformed"), "{err}");
    }
    // Another key: rejected.
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other_pub) = key_pair(other_dir.path());
    let (code, _, err) = run(imprint()
        .arg("verify-bundle")
        .arg("--key")
        .arg(&other_pub)
        .arg("--bundle")
        .arg(&sb)
        .arg(&file));
    assert_eq!(code, 1, "{err}");
}

/// An image with a legacy `.sig`, a bundle signature, a legacy `.att` (CycloneDX), a bundle
/// attestation (custom) and a legacy `.sbom`.
struct Attached {
    image: String,
    repo: String,
    digest: Digest,
    public: PathBuf,
    _dir: tempfile::TempDir,
}

async fn attached(name: &str) -> Attached {
    let repo_name = unique_repo(name);
    let (image, digest) = push_random_image(&repo_name).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path());
    let image_s = image.to_string();
    sign(&key, &image_s, false);
    sign(&key, &image_s, true);
    let cdx = crate_path("testdata/sbom/imprint.cdx-1.5.json");
    attest(&key, &image_s, &cdx, "cyclonedx", false);
    let custom = dir.path().join("custom.json");
    std::fs::write(&custom, br#"{"note":"custom"}"#).unwrap();
    attest(&key, &image_s, &custom, "custom", true);
    Attached {
        image: image_s,
        repo: format!("{}/{repo_name}", registry()),
        digest,
        public,
        _dir: dir,
    }
}

/// Attach `sbom` as `cosign attach sbom` does: a `.sbom` tag with one layer.
async fn attach_sbom(image: &str, digest: &Digest, sbom: &[u8], media_type: &str) {
    let repo = test_client()
        .repository(&imprint::format::reference::ImageRef::parse(image).unwrap())
        .unwrap();
    let layer = Descriptor::for_bytes(media_type, sbom);
    let (config, manifest) = imprint::store::attach::build_manifest(&[layer]);
    repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
        .await
        .unwrap();
    repo.put_blob(imprint::store::Blob::copy_from_slice(sbom))
        .await
        .unwrap();
    repo.put_manifest(
        Some(&format!("{}.sbom", digest.tag_base())),
        media_types::OCI_MANIFEST,
        &manifest,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn tree_lists_legacy_tags_and_referrers_without_a_key() {
    let a = attached("parity-tree").await;
    attach_sbom(
        &a.image,
        &a.digest,
        br#"{"bomFormat":"CycloneDX"}"#,
        "application/vnd.cyclonedx+json",
    )
    .await;
    let (code, out, err) = run(imprint().args(["tree", &a.image]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        format!("{INSPECTION} (use verify / verify-attestation with a key or identity)\n")
    );
    clean(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "📦 Supply Chain Security Related artifacts for an image: {}",
            a.image
        )
    );
    let base = a.digest.tag_base();
    assert!(
        lines[1].starts_with(&format!(
            "└── 🔐 Signatures for an image tag: {}:{base}.sig (sha256:",
            a.repo
        )),
        "{out}"
    );
    assert!(lines[2].starts_with("   └── 🍒 sha256:"), "{out}");
    assert!(
        lines[2].contains(&format!("({}, ", media_types::SIMPLE_SIGNING)),
        "{out}"
    );
    assert!(
        lines[3].starts_with(&format!(
            "└── 💾 Attestations for an image tag: {}:{base}.att (sha256:",
            a.repo
        )),
        "{out}"
    );
    assert!(lines[4].contains(media_types::DSSE_ENVELOPE), "{out}");
    assert!(
        lines[5].starts_with(&format!(
            "└── 📦 SBOMs for an image tag: {}:{base}.sbom (sha256:",
            a.repo
        )),
        "{out}"
    );
    assert!(
        lines[6].ends_with("(application/vnd.cyclonedx+json, 25 bytes)"),
        "{out}"
    );
    let referrers: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("via OCI referrer"))
        .collect();
    assert_eq!(referrers.len(), 2, "{out}");
    for r in &referrers {
        assert!(
            r.starts_with(&format!(
                "└── 🔗 {} artifacts via OCI referrer: {}@sha256:",
                media_types::SIGSTORE_BUNDLE_V03,
                a.repo
            )),
            "{out}"
        );
    }
    assert!(
        out.contains("(predicate type https://sigstore.dev/cosign/sign/v1)"),
        "{out}"
    );
    assert!(
        out.contains("(predicate type https://cosign.sigstore.dev/attestation/v1)"),
        "{out}"
    );
    assert_eq!(lines.len(), 1 + 2 * 3 + 2 * 2, "{out}");

    // JSON: one object, reachable from Rust as store::discover::Attachments.
    let (code, out, err) = run(imprint().args(["tree", "-o", "json", &a.image]));
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with(INSPECTION));
    assert_eq!(out.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["digest"], a.digest.to_string());
    let kinds: Vec<&str> = v["legacy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["signatures", "attestations", "sboms"]);
    assert_eq!(v["legacy"][2]["layers"][0]["size"], 25);
    assert_eq!(v["referrers"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["referrers"][0]["artifact_type"],
        media_types::SIGSTORE_BUNDLE_V03
    );
    assert!(["api", "tag-schema"].contains(&v["referrersVia"].as_str().unwrap()));

    // Nothing attached: said, exit 0.
    let (bare, bare_digest) = push_random_image(&unique_repo("parity-tree-bare")).await;
    let (code, out, err) = run(imprint().args(["tree", &bare.to_string()]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.ends_with(&format!(
            "No Supply Chain Security Related Artifacts found for image {bare} ({bare_digest})\n"
        )),
        "{out}"
    );
    // Not found: an operational error.
    let missing = format!("{}/{}:nope", registry(), unique_repo("parity-missing"));
    let (code, out, err) = run(imprint().args(["tree", &missing]));
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains(&format!("error: resolving `{missing}`")),
        "{err}"
    );
}

#[tokio::test]
async fn download_prints_signatures_attestations_and_sboms_as_cosign() {
    let a = attached("parity-download").await;
    // signature: the legacy layer as cosign's SignedPayload, then the signature bundle.
    let (code, out, err) = run(imprint().args(["download", "signature", &a.image]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        format!("{INSPECTION} (use verify / verify-attestation with a key or identity)\n")
    );
    clean(&out);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "Base64Signature",
            "Payload",
            "Cert",
            "Chain",
            "Bundle",
            "RFC3161Timestamp"
        ]
    );
    let payload: serde_json::Value =
        serde_json::from_slice(&B64.decode(lines[0]["Payload"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        a.digest.to_string()
    );
    assert!(!lines[0]["Base64Signature"].as_str().unwrap().is_empty());
    assert_eq!(lines[0]["Cert"], serde_json::Value::Null);
    assert_eq!(lines[1]["mediaType"], media_types::SIGSTORE_BUNDLE_V03);
    assert!(lines[1]["dsseEnvelope"].is_object());

    // attestation: one DSSE envelope per line, --predicate-type filters.
    let (code, out, err) = run(imprint().args(["download", "attestation", &a.image]));
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with(INSPECTION));
    let types: Vec<String> = out
        .lines()
        .map(|l| {
            let env: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
            let st: serde_json::Value =
                serde_json::from_slice(&B64.decode(env["payload"].as_str().unwrap()).unwrap())
                    .unwrap();
            st["predicateType"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "https://cyclonedx.org/bom",
            "https://cosign.sigstore.dev/attestation/v1"
        ]
    );
    let (code, out, err) = run(imprint().args([
        "download",
        "attestation",
        "--predicate-type",
        "custom",
        &a.image,
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1);
    let (code, out, err) = run(imprint().args([
        "download",
        "attestation",
        "--predicate-type",
        "slsaprovenance",
        &a.image,
    ]));
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.ends_with("no attestations of type `https://slsa.dev/provenance/v0.2` attached\n"),
        "{err}"
    );

    // sbom without a .sbom tag: the attestation's SBOM predicate, with a note.
    let (code, out, err) = run(imprint().args(["download", "sbom", &a.image]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: no .sbom attachment; printing the SBOM predicate of 1 attestation(s), NOT verified"), "{err}");
    let printed: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    let original: serde_json::Value = serde_json::from_slice(
        &std::fs::read(crate_path("testdata/sbom/imprint.cdx-1.5.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, original);
    // With a .sbom tag: its content as is.
    let sbom = br#"{"spdxVersion":"SPDX-2.3"}"#;
    attach_sbom(&a.image, &a.digest, sbom, "application/spdx+json").await;
    let (code, out, err) = run(imprint().args(["download", "sbom", &a.image]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", std::str::from_utf8(sbom).unwrap()));
    assert!(
        err.ends_with("Found SBOM of media type: application/spdx+json\n"),
        "{err}"
    );

    // Nothing attached: exit 1; not found: exit 2.
    let (bare, _) = push_random_image(&unique_repo("parity-download-bare")).await;
    let (code, out, err) = run(imprint().args(["download", "signature", &bare.to_string()]));
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains(": no signatures attached"), "{err}");
    let missing = format!("{}/{}:nope", registry(), unique_repo("parity-missing"));
    let (code, _, err) = run(imprint().args(["download", "attestation", &missing]));
    assert_eq!(code, 2, "{err}");
    let _ = a.public;
}

#[tokio::test]
async fn missing_images_are_operational_errors_and_others_are_still_reported() {
    let a = attached("parity-exit").await;
    let missing = format!("{}/{}:nope", registry(), unique_repo("parity-missing"));
    for cmd in ["verify", "verify-attestation"] {
        let (code, out, err) = run(imprint().arg(cmd).arg("--key").arg(&a.public).arg(&missing));
        assert_eq!((code, out.as_str()), (2, ""), "{cmd}: {err}");
        assert_eq!(err, format!("error: {missing}: image not found\n"), "{cmd}");
        // With a good image first: its output is printed, then exit 2.
        let (code, out, err) = run(imprint()
            .arg(cmd)
            .arg("--key")
            .arg(&a.public)
            .args([&a.image, &missing]));
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(!out.is_empty(), "{cmd}");
        assert!(err.contains("Verification for"), "{err}");
        assert!(
            err.ends_with(&format!("error: {missing}: image not found\n")),
            "{err}"
        );
    }
    // An unsigned image is a verification failure (1), not an operational error.
    let (bare, _) = push_random_image(&unique_repo("parity-unsigned")).await;
    let bare = bare.to_string();
    let (code, out, err) = run(imprint()
        .arg("verify")
        .arg("--key")
        .arg(&a.public)
        .arg(&bare));
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.ends_with(": no signatures found\n"), "{err}");
    // An unreachable registry: 2.
    let (code, _, err) = run(imprint()
        .arg("verify")
        .arg("--key")
        .arg(&a.public)
        .arg("127.0.0.1:1/none:v1"));
    assert_eq!(code, 2, "{err}");
    // --policy: not found is a decision (denied, exit 1).
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nmetadata: {{name: p}}\n\
             spec:\n  authorities:\n    k: {{key: {{file: {}}}}}\n  rules:\n    - name: all\n      \
             images: [\"**\"]\n      signatures: {{authority: k}}\n",
            a.public.display()
        ),
    )
    .unwrap();
    let (code, out, err) = run(imprint()
        .arg("verify")
        .arg("--policy")
        .arg(&policy)
        .arg(&missing));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("1 of 1 image(s) denied"), "{err}");
}

#[tokio::test]
async fn several_images_are_reported_in_input_order_and_bundles_print_the_signed_statement() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path());
    let mut images = Vec::new();
    for i in 0..10 {
        let (image, digest) = push_random_image(&unique_repo(&format!("parity-many-{i}"))).await;
        let image = image.to_string();
        sign(&key, &image, i % 2 == 0);
        images.push((image, digest));
    }
    let (code, out, err) = run(imprint()
        .arg("verify")
        .arg("--key")
        .arg(&public)
        .args(images.iter().map(|(i, _)| i)));
    assert_eq!(code, 0, "{err}");
    clean(&out);
    clean(&err);
    let printed: Vec<serde_json::Value> = serde_json::from_str::<serde_json::Value>(out.trim_end())
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(printed.len(), 10);
    let order: Vec<usize> = err
        .lines()
        .filter_map(|l| l.strip_prefix("Verification for "))
        .map(|l| {
            images
                .iter()
                .position(|(_, d)| l.contains(&d.to_string()))
                .unwrap()
        })
        .collect();
    assert_eq!(order, (0..10).collect::<Vec<_>>());
    for (i, (p, (_, digest))) in printed.iter().zip(&images).enumerate() {
        if i % 2 == 0 {
            // A bundle: the signed in-toto statement, nothing synthesized.
            assert!(
                p["_type"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://in-toto.io/Statement/"),
                "{p}"
            );
            assert_eq!(p["predicateType"], "https://sigstore.dev/cosign/sign/v1");
            assert_eq!(p["subject"][0]["digest"]["sha256"], digest.hex());
            assert!(p.get("critical").is_none());
        } else {
            assert_eq!(
                p["critical"]["image"]["docker-manifest-digest"],
                digest.to_string()
            );
            assert_eq!(p["critical"]["type"], "cosign container image signature");
        }
    }
    // verify-attestation prints JSON lines (as its help says), in input order.
    let (code, out, err) = run(imprint().args(["verify-attestation", "--help"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("one DSSE envelope per line"), "{out}");
}

/// cosign's `-d` (verbose) works; `public-key --outfile` with the global `--output-file` is
/// refused instead of leaving the second file empty (seen while writing docs/cosign-parity.md).
#[test]
fn short_verbose_and_conflicting_output_files() {
    let (code, _, err) = run(imprint().args([
        "-d",
        "verify",
        "--key",
        "keys/demo.pub",
        "oci:testdata/demo-image:demo",
    ]));
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = key_pair(dir.path());
    let (a, b) = (dir.path().join("a.pub"), dir.path().join("b.pub"));
    let (code, out, err) = run(imprint()
        .arg("public-key")
        .arg("--key")
        .arg(&key)
        .arg("--outfile")
        .arg(&a)
        .arg("--output-file")
        .arg(&b));
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("--outfile and --output-file"), "{err}");
    assert!(!a.exists());
}
