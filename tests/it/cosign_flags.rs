//! cosign's command lines (issue 11): the flags cosign users pass, accepted with cosign's
//! meaning, and the ones imprint cannot honour refused by name with the reason. Each test
//! runs the binary and checks exit code, stdout and stderr.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::support::cli::{imprint, run};
use crate::support::{push_image_to, push_index, push_random_image, test_client, unique_repo};

/// A fresh cosign key pair (password `test-password`, as `imprint()` sets it).
fn key_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("cosign");
    imprint::keys::password::generate_key_pair(
        &prefix,
        &imprint::keys::password::Password::new("test-password"),
        false,
    )
    .unwrap();
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs imprint with `args` from a multi-threaded test.
fn imprint_run(args: &[&str]) -> (i32, String, String) {
    tokio::task::block_in_place(|| run(imprint().args(args)))
}

/// A freshly pushed image by digest, with a key pair in `dir`.
async fn image_and_keys(name: &str, dir: &Path) -> (String, PathBuf, PathBuf) {
    let (image, digest) = push_random_image(&unique_repo(name)).await;
    let pinned = format!("{}@{digest}", image.repository_name());
    let (key, public) = key_pair(dir);
    (pinned, key, public)
}

fn sign_ok(key: &Path, image: &str, extra: &[&str]) -> String {
    let mut args = vec!["sign", "--key", s(key)];
    args.extend_from_slice(extra);
    args.push(image);
    let (code, out, err) = imprint_run(&args);
    assert_eq!(code, 0, "{args:?}\n{err}");
    assert_eq!(out, "", "{args:?}");
    err
}

/// The simple-signing payloads `verify -o json` prints for legacy signatures.
fn verified_payloads(public: &Path, image: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = imprint_run(&[
        "verify",
        "--key",
        s(public),
        "--signature-format",
        "legacy",
        image,
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v.as_array().unwrap().clone()
}

fn docker_reference(p: &serde_json::Value) -> &str {
    p["critical"]["identity"]["docker-reference"]
        .as_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tlog_upload_false_is_accepted_and_true_talks_to_rekor() {
    let dir = tempfile::tempdir().unwrap();
    let (image, key, public) = image_and_keys("flags-tlog", dir.path()).await;
    let err = sign_ok(&key, &image, &["--tlog-upload=false"]);
    assert!(err.contains("Signed "), "{err}");
    // attest, sign-blob and attest-blob take it too.
    let blob = dir.path().join("blob.txt");
    std::fs::write(&blob, b"hello").unwrap();
    let (code, out, err) = imprint_run(&[
        "sign-blob",
        "--tlog-upload=false",
        "-y",
        "--key",
        s(&key),
        s(&blob),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().len() > 40, "{out}");
    let predicate = dir.path().join("p.json");
    std::fs::write(&predicate, b"{}").unwrap();
    let (code, _, err) = imprint_run(&[
        "attest",
        "--tlog-upload=false",
        "--yes",
        "--key",
        s(&key),
        "--predicate",
        s(&predicate),
        &image,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Attested "), "{err}");
    // `--tlog-upload` (bare or `=true`) uploads to Rekor: an unreachable one is an operational
    // error naming it, and nothing is printed (keyless_sign:: uploads to the Sigstore mock).
    for bad in ["--tlog-upload", "--tlog-upload=true"] {
        let (code, out, err) = imprint_run(&[
            "sign-blob",
            "--key",
            s(&key),
            bad,
            "--rekor-url",
            "http://127.0.0.1:1",
            s(&blob),
        ]);
        assert_eq!((code, out.as_str()), (2, ""), "{bad}: {err}");
        assert!(err.contains("Rekor at http://127.0.0.1:1"), "{bad}: {err}");
    }
    let (code, _, err) = imprint_run(&[
        "attest-blob",
        "--tlog-upload",
        "--rekor-url=http://127.0.0.1:1",
        "--key",
        s(&key),
        "--predicate",
        s(&predicate),
        s(&blob),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Rekor at http://127.0.0.1:1"), "{err}");
    // What was signed verifies.
    let (code, _, err) = imprint_run(&["verify", "--key", s(&public), &image]);
    assert_eq!(code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn yes_is_accepted_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (image, key, public) = image_and_keys("flags-yes", dir.path()).await;
    sign_ok(&key, &image, &["-y"]);
    sign_ok(&key, &image, &["--yes", "--new-bundle-format=false"]);
    let (code, out, err) = imprint_run(&["verify", "--key", s(&public), &image]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with('['), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn insecure_ignore_tlog_on_every_verify_command() {
    let dir = tempfile::tempdir().unwrap();
    let (image, key, public) = image_and_keys("flags-ignore-tlog", dir.path()).await;
    sign_ok(&key, &image, &[]);
    let predicate = dir.path().join("p.json");
    std::fs::write(&predicate, b"{}").unwrap();
    let (code, _, err) = imprint_run(&[
        "attest",
        "--key",
        s(&key),
        "--predicate",
        s(&predicate),
        &image,
    ]);
    assert_eq!(code, 0, "{err}");
    for form in [
        "--insecure-ignore-tlog",
        "--insecure-ignore-tlog=true",
        "--insecure-ignore-tlog=false",
    ] {
        for cmd in ["verify", "verify-attestation"] {
            let (code, out, err) = imprint_run(&[cmd, form, "--key", s(&public), &image]);
            assert_eq!(code, 0, "{cmd} {form}: {err}");
            assert!(
                out.starts_with('{') || out.starts_with('['),
                "{cmd} {form}: {out}"
            );
            assert_eq!(
                err.contains("note: --insecure-ignore-tlog"),
                !form.ends_with("false"),
                "{cmd} {form}: {err}"
            );
        }
    }
    // Keyless verification always checks the Rekor proof: refused, by name.
    let (code, out, err) = imprint_run(&[
        "verify",
        "--insecure-ignore-tlog",
        "--certificate-identity=a@example.com",
        "--certificate-oidc-issuer=https://accounts.example.com",
        &image,
    ]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("--insecure-ignore-tlog is not supported with keyless verification"),
        "{err}"
    );

    // verify-blob, verify-blob-attestation, verify-bundle.
    let blob = dir.path().join("blob.txt");
    std::fs::write(&blob, b"hello").unwrap();
    let bundle = dir.path().join("blob.sigstore.json");
    let (code, _, err) = imprint_run(&[
        "sign-blob",
        "--key",
        s(&key),
        "--bundle",
        s(&bundle),
        s(&blob),
    ]);
    assert_eq!(code, 0, "{err}");
    let att = dir.path().join("att.json");
    let (code, _, err) = imprint_run(&[
        "attest-blob",
        "--key",
        s(&key),
        "--predicate",
        s(&predicate),
        "--output-signature",
        s(&att),
        s(&blob),
    ]);
    assert_eq!(code, 0, "{err}");
    for form in ["--insecure-ignore-tlog", "--insecure-ignore-tlog=false"] {
        let (code, out, err) = imprint_run(&[
            "verify-blob",
            form,
            "--key",
            s(&public),
            "--bundle",
            s(&bundle),
            s(&blob),
        ]);
        assert_eq!((code, out.as_str()), (0, ""), "{form}: {err}");
        assert!(err.contains("Verified OK"), "{err}");
        let (code, _, err) = imprint_run(&[
            "verify-blob-attestation",
            form,
            "--key",
            s(&public),
            "--signature",
            s(&att),
            s(&blob),
        ]);
        assert_eq!(code, 0, "{form}: {err}");
        assert!(err.contains("Verified OK"), "{err}");
    }
    let (code, _, err) = imprint_run(&[
        "verify-bundle",
        "--insecure-ignore-tlog=false",
        "--key",
        s(&public),
        "--bundle",
        s(&bundle),
        s(&blob),
    ]);
    // Whether verify-bundle verifies sign-blob's bundle is another change (issue 11); the
    // flag form itself is accepted: no usage error.
    assert_ne!(code, 2, "{err}");
    assert!(!err.contains("unexpected"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn r_is_short_for_recursive() {
    let dir = tempfile::tempdir().unwrap();
    let (image, index, children) = push_index(&unique_repo("flags-recursive")).await;
    let (key, _) = key_pair(dir.path());
    let pinned = format!("{}@{index}", image.repository_name());
    let err = sign_ok(&key, &pinned, &["-r"]);
    assert_eq!(err.matches("Signed ").count(), 3, "{err}");
    for child in children {
        assert!(err.contains(&child.to_string()), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_http_registry_is_a_boolean_and_keeps_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let (image, key, public) = image_and_keys("flags-http", dir.path()).await;
    // Before the image: the image stays an image (it used to be taken as the flag's value).
    let err = sign_ok(&key, &image, &["--allow-http-registry"]);
    assert!(err.contains("Signed "), "{err}");
    let host = image.split('/').next().unwrap().to_owned();
    let host_form = format!("--allow-http-registry={host}");
    for form in [
        "--allow-http-registry",
        "--allow-http-registry=true",
        "--allow-http-registry=false",
        host_form.as_str(),
    ] {
        let (code, out, err) = imprint_run(&["verify", form, "--key", s(&public), &image]);
        assert_eq!(code, 0, "{form}: {err}");
        assert!(out.starts_with('['), "{form}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn output_file_timeout_and_max_workers() {
    let dir = tempfile::tempdir().unwrap();
    let (image, key, public) = image_and_keys("flags-output", dir.path()).await;
    let (other, other_key, other_pub) =
        image_and_keys("flags-output2", &dir.path().join("b").tap_mkdir()).await;
    sign_ok(&key, &image, &[]);
    sign_ok(&other_key, &other, &[]);

    // --output-file, before or after the command: stdout goes to the file.
    let file = dir.path().join("out.json");
    for args in [
        vec![
            "--output-file",
            s(&file),
            "verify",
            "--key",
            s(&public),
            &image,
        ],
        vec![
            "verify",
            "--key",
            s(&public),
            "--output-file",
            s(&file),
            &image,
        ],
    ] {
        let _ = std::fs::remove_file(&file);
        let (code, out, err) = imprint_run(&args);
        assert_eq!((code, out.as_str()), (0, ""), "{args:?}: {err}");
        assert!(err.contains("Verification for"), "{err}");
        let text = std::fs::read_to_string(&file).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1, "{text}");
    }
    // A failed verification still writes what was printed (nothing) and exits 1.
    let (code, out, err) = imprint_run(&[
        "verify",
        "--output-file",
        s(&file),
        "--key",
        s(&other_pub),
        &image,
    ]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");

    // --timeout: a Go duration; an impossible deadline is an operational error.
    let (code, out, err) =
        imprint_run(&["verify", "--timeout", "3m0s", "--key", s(&public), &image]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with('['));
    let (code, out, err) = imprint_run(&["-t", "1ns", "verify", "--key", s(&public), &image]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("image_timeout") || err.contains("timed out"),
        "{err}"
    );
    let (code, _, err) = imprint_run(&["verify", "--timeout", "soon", "--key", s(&public), &image]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--timeout") && err.contains("is not a duration"),
        "{err}"
    );
    let (code, _, err) = imprint_run(&["sign", "--timeout=1ns", "--key", s(&key), &image]);
    assert_eq!(code, 2, "{err}");
    // The request timeout or the whole-image one, whichever fires first.
    assert!(
        err.contains("timed out") && err.contains("after 1ns"),
        "{err}"
    );

    // --max-workers: accepted on multi-image commands; 0 is a usage error.
    let (code, out, err) = imprint_run(&[
        "verify",
        "--max-workers",
        "1",
        "--key",
        s(&public),
        &image,
        &other,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(out.starts_with('['), "{out}");
    assert!(err.contains(other.split('@').next().unwrap()), "{err}");
    let (code, _, err) = imprint_run(&["verify", "--max-workers=0", "--key", s(&public), &image]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--max-workers") && err.contains("at least 1"),
        "{err}"
    );
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_container_identity_is_signed_into_the_payload() {
    let dir = tempfile::tempdir().unwrap();
    let (image, key, public) = image_and_keys("flags-identity", dir.path()).await;
    sign_ok(
        &key,
        &image,
        &[
            "--new-bundle-format=false",
            "--sign-container-identity",
            "registry.example.com/app:1.0,registry.example.com/app:latest",
        ],
    );
    let payloads = verified_payloads(&public, &image);
    let mut ids: Vec<&str> = payloads.iter().map(docker_reference).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "registry.example.com/app:1.0",
            "registry.example.com/app:latest"
        ]
    );
    // Bundles sign no identity: refused rather than ignored.
    let (code, out, err) = imprint_run(&[
        "sign",
        "--key",
        s(&key),
        "--sign-container-identity=registry.example.com/app:1.0",
        &image,
    ]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("--sign-container-identity needs --new-bundle-format=false"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_a_layout_never_signs_its_file_path() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path());
    let path = dir.path().join("layout");
    let plain =
        imprint::format::reference::ImageRef::parse(&format!("oci:{}:v1", path.display())).unwrap();
    let repository = test_client().repository(&plain).unwrap();
    push_image_to(&repository, Some("v1"), ("amd64", "linux")).await;
    let named = push_image_to(
        &repository,
        Some("registry.example.com/team/app:2.0"),
        ("arm64", "linux"),
    )
    .await;
    let by_tag = format!("oci:{}:v1", path.display());

    // The tag is no full reference: refused, pointing at --sign-container-identity.
    let (code, out, err) = imprint_run(&[
        "sign",
        "--new-bundle-format=false",
        "--key",
        s(&key),
        &by_tag,
    ]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("--sign-container-identity"), "{err}");
    assert!(err.contains("org.opencontainers.image.ref.name"), "{err}");
    // With --sign-container-identity: that identity.
    sign_ok(
        &key,
        &by_tag,
        &[
            "--new-bundle-format=false",
            "--sign-container-identity=registry.example.com/team/app:1.0",
        ],
    );
    let payloads = verified_payloads(&public, &by_tag);
    assert_eq!(
        docker_reference(&payloads[0]),
        "registry.example.com/team/app:1.0"
    );
    // An entry named by a full reference: that reference.
    let by_digest = format!("oci:{}@{named}", path.display());
    sign_ok(&key, &by_digest, &["--new-bundle-format=false"]);
    let payloads = verified_payloads(&public, &by_digest);
    assert_eq!(
        docker_reference(&payloads[0]),
        "registry.example.com/team/app:2.0"
    );
    for p in &payloads {
        assert!(!docker_reference(p).contains(s(dir.path())), "{p}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn payload_output_signature_and_no_upload() {
    let dir = tempfile::tempdir().unwrap();
    let (image, key, public) = image_and_keys("flags-payload", dir.path()).await;
    let digest = image.split('@').nth(1).unwrap();
    let payload = dir.path().join("payload.json");
    let bytes = format!(
        "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"registry.example.com/app\"}},\
         \"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\
         \"optional\":null}}"
    );
    std::fs::write(&payload, &bytes).unwrap();
    let sig = dir.path().join("sig.b64");
    let err = sign_ok(
        &key,
        &image,
        &[
            "--new-bundle-format=false",
            "--payload",
            s(&payload),
            "--output-signature",
            s(&sig),
            "--upload=false",
        ],
    );
    assert!(err.contains("--upload=false: nothing pushed"), "{err}");
    assert!(err.contains("Signature written to"), "{err}");
    let b64 = std::fs::read_to_string(&sig).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    let pem = std::fs::read(&public).unwrap();
    imprint::PublicKey::from_pem(&pem)
        .unwrap()
        .verify(bytes.as_bytes(), &raw)
        .unwrap();
    // Nothing was pushed.
    let (code, out, err) = imprint_run(&["verify", "--key", s(&public), &image]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("no signatures found"), "{err}");
    // Uploaded, the given payload is the one attached.
    sign_ok(
        &key,
        &image,
        &["--new-bundle-format=false", "--payload", s(&payload)],
    );
    let payloads = verified_payloads(&public, &image);
    assert_eq!(docker_reference(&payloads[0]), "registry.example.com/app");
    // --payload with the bundle format is refused.
    let (code, _, err) = imprint_run(&["sign", "--key", s(&key), "--payload", s(&payload), &image]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--payload needs --new-bundle-format=false"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn env_key_references() {
    let dir = tempfile::tempdir().unwrap();
    let (image, key, public) = image_and_keys("flags-env", dir.path()).await;
    let private_pem = std::fs::read_to_string(&key).unwrap();
    let public_pem = std::fs::read_to_string(&public).unwrap();
    let (code, out, err) = tokio::task::block_in_place(|| {
        run(imprint().env("IMPRINT_T_PRIV", &private_pem).args([
            "sign",
            "--key",
            "env://IMPRINT_T_PRIV",
            &image,
        ]))
    });
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let (code, out, err) = tokio::task::block_in_place(|| {
        run(imprint().env("IMPRINT_T_PUB", &public_pem).args([
            "verify",
            "--key",
            "env://IMPRINT_T_PUB",
            &image,
        ]))
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with('['), "{out}");
    // Unset: named. Garbage: the variable is named, its content never printed.
    let (code, out, err) = imprint_run(&["verify", "--key", "env://IMPRINT_T_UNSET", &image]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("environment variable `IMPRINT_T_UNSET`") && err.contains("is not set"),
        "{err}"
    );
    for cmd in ["sign", "verify"] {
        let (code, out, err) = tokio::task::block_in_place(|| {
            run(imprint()
                .env("IMPRINT_T_BAD", "SUPERSECRETVALUE-not-a-pem")
                .args([cmd, "--key", "env://IMPRINT_T_BAD", &image]))
        });
        assert_eq!((code, out.as_str()), (2, ""), "{cmd}: {err}");
        assert!(
            err.contains("environment variable `IMPRINT_T_BAD`"),
            "{cmd}: {err}"
        );
        assert!(!err.contains("SUPERSECRETVALUE"), "{cmd}: {err}");
    }
}

#[test]
fn unsupported_cosign_flags_are_refused_by_name() {
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &[
                "sign",
                "--key",
                "k",
                "--fulcio-url=https://fulcio.example",
                "img",
            ],
            "--fulcio-url",
            "is for keyless signing",
        ),
        (
            &["sign", "--key", "k", "--identity-token=abc", "img"],
            "--identity-token",
            "is for keyless signing",
        ),
        (
            &["sign", "--oidc-issuer", "https://x", "img"],
            "--oidc-issuer",
            "interactive OIDC flows",
        ),
        (
            &["sign-blob", "--fulcio-auth-flow=device", "f"],
            "--fulcio-auth-flow",
            "SIGSTORE_ID_TOKEN",
        ),
        (
            &["sign", "--timestamp-client-cert=c.pem", "img"],
            "--timestamp-client-cert",
            "--timestamp-server-url alone",
        ),
        (&["sign", "--sk", "img"], "--sk", "hardware security keys"),
        (
            &["sign", "--key", "k", "--slot=signature", "img"],
            "--slot",
            "hardware",
        ),
        (
            &["sign", "--key", "k", "--certificate=c.pem", "img"],
            "--certificate",
            "certificates",
        ),
        (
            &["sign", "--key", "k", "--certificate-chain=c.pem", "img"],
            "--certificate-chain",
            "certificates",
        ),
        (
            &["sign", "--key", "k", "--bundle=b.json", "img"],
            "--bundle",
            "--output-signature",
        ),
        (
            &["sign", "--key", "k", "--registry-password=pw", "img"],
            "--registry-password",
            "docker config",
        ),
        (
            &[
                "attest",
                "--key",
                "k",
                "--predicate",
                "p",
                "--identity-token=t",
                "img",
            ],
            "--identity-token",
            "is for keyless signing",
        ),
        (
            &["sign-blob", "--key", "k", "--fulcio-url=x", "f"],
            "--fulcio-url",
            "is for keyless signing",
        ),
        (
            &[
                "sign-blob",
                "--bundle",
                "b.json",
                "--identity-token",
                "",
                "f",
            ],
            "no OIDC identity token",
            "SIGSTORE_ID_TOKEN",
        ),
        (
            &["verify", "--key", "k", "--rekor-url=https://r", "img"],
            "--rekor-url",
            "Rekor",
        ),
        (
            &["verify", "--certificate=c.pem", "img"],
            "--certificate",
            "--key CERT.pem",
        ),
        (
            &["verify", "--key", "k", "--local-image", "img"],
            "--local-image",
            "OCI layout",
        ),
        (
            &[
                "verify-attestation",
                "--key",
                "k",
                "--certificate-chain=c",
                "img",
            ],
            "--certificate-chain",
            "not supported",
        ),
        (
            &[
                "verify-blob",
                "--key",
                "k",
                "--rfc3161-timestamp=t",
                "--signature",
                "s",
                "f",
            ],
            "--rfc3161-timestamp",
            "RFC 3161",
        ),
        (
            &[
                "sign",
                "--key",
                "awskms://localhost/alias/secretname",
                "img",
            ],
            "awskms://",
            "KMS",
        ),
        (
            &["verify", "--key", "gcpkms://projects/p/k", "img"],
            "gcpkms://",
            "KMS",
        ),
        (
            &["sign", "--key", "k8s://ns/secret", "img"],
            "k8s://",
            "Kubernetes",
        ),
        (
            &["sign", "img"],
            "no OIDC identity token",
            "--identity-token",
        ),
    ];
    for (args, flag, reason) in cases {
        let (code, out, err) = run(imprint().args(*args));
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(
            err.contains(flag) && err.contains(reason),
            "{args:?}: {err}"
        );
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
        assert!(!err.contains("secretname"), "{args:?}: {err}");
    }
}
