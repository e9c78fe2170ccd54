//! Keyless signing against Sigstore's own mock services (`@sigstore/mock`: Fulcio, CT log,
//! Rekor, TSA) served on 127.0.0.1 by `../shared/harness/sigstore-mock`, cross-checked with the
//! sigstore-js verifier (`verify.js`) and signer (`sign.js`) of the same folder.
//!
//! The harness's `node_modules` are installed by `scripts/test.sh` into a copy of the folder
//! (`target/sigstore-mock`, or `$IMPRINT_SIGSTORE_MOCK`); the tests run offline.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{LazyLock, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::support::cli::{imprint, run};
use crate::support::{crate_path, require_program};

const SAN: &str = "https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The prepared copy of the harness (with `node_modules`).
pub(crate) fn harness() -> PathBuf {
    require_program("node", "nodejs");
    let dir = std::env::var_os("IMPRINT_SIGSTORE_MOCK")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_path("target/sigstore-mock"));
    assert!(
        dir.join("node_modules/@sigstore/mock").is_dir(),
        "the Sigstore mock harness is not installed in {}: `bash scripts/test.sh` copies \
         ../shared/harness/sigstore-mock there and runs `npm ci` (Debian's `npm`); or point \
         IMPRINT_SIGSTORE_MOCK at such a copy",
        dir.display()
    );
    dir
}

/// The running mock: its URL and the trusted root it wrote.
pub(crate) struct Mock {
    pub(crate) url: String,
    pub(crate) trusted_root: PathBuf,
    _child: Mutex<Child>,
}

/// One mock for the whole test binary. It runs under `sh`, which kills it when this process
/// exits and its stdin pipe closes (as the registry helper does).
static MOCK: LazyLock<Mock> = LazyLock::new(|| {
    let dir = harness();
    let out = tempfile::Builder::new()
        .prefix("imprint-sigstore-mock-")
        .tempdir()
        .unwrap()
        .keep();
    let trusted_root = out.join("trusted_root.json");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            r#"node mock-sigstore-server.js --port 0 --out "$1" & pid=$!
               read _ignored
               kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null"#,
        )
        .arg("sh")
        .arg(&trusted_root)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Sigstore mock");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("mock did not print its URL ({e}): {line:?}"));
    Mock {
        url: v["url"].as_str().unwrap().to_owned(),
        trusted_root,
        _child: Mutex::new(child),
    }
});

pub(crate) fn mock() -> &'static Mock {
    &MOCK
}

/// An unsigned JWT (`alg: none`) for `sub`, as the mock Fulcio accepts (see `sign.js`).
fn token(sub: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as U;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": sub, "aud": "sigstore", "iat": now, "exp": now + 600,
    });
    format!(
        "{}.{}.",
        U.encode(br#"{"alg":"none","typ":"JWT"}"#),
        U.encode(claims.to_string())
    )
}

pub(crate) fn tmp() -> PathBuf {
    tempfile::Builder::new()
        .prefix("imprint-keyless-")
        .tempdir()
        .unwrap()
        .keep()
}

/// `imprint` with the mock's services and a token in SIGSTORE_ID_TOKEN.
fn keyless_imprint(args: &[&str]) -> (i32, String, String) {
    let m = mock();
    let tsa = format!("{}/api/v1/timestamp", m.url);
    let mut c = imprint();
    c.env("SIGSTORE_ID_TOKEN", token(SAN))
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .args(args)
        .args(["--fulcio-url", &m.url, "--rekor-url", &m.url])
        .args(["--timestamp-server-url", &tsa]);
    run(&mut c)
}

/// sigstore-js's offline verifier: Ok(stdout) or Err(stdout).
fn js_verify(bundle: &Path, artifact: &Path, extra: &[&str]) -> Result<String, String> {
    let out = Command::new("node")
        .current_dir(harness())
        .arg("verify.js")
        .arg(&mock().trusted_root)
        .arg(bundle)
        .arg(artifact)
        .args(["--identity", SAN, "--issuer", ISSUER])
        .args(extra)
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

/// imprint's offline verifier (`verify-bundle` with the mock's trusted root).
fn imprint_verify(bundle: &Path, artifact: &Path, san: &str) -> (i32, String) {
    let mut c = imprint();
    c.arg("verify-bundle")
        .arg("--bundle")
        .arg(bundle)
        .args([
            "--certificate-identity",
            san,
            "--certificate-oidc-issuer",
            ISSUER,
        ])
        .arg("--trusted-root")
        .arg(&mock().trusted_root)
        .arg(artifact);
    let (code, _, err) = run(&mut c);
    (code, err)
}

fn both_accept(bundle: &Path, artifact: &Path, js_extra: &[&str]) -> String {
    let (code, err) = imprint_verify(bundle, artifact, SAN);
    assert_eq!(code, 0, "imprint rejected {}: {err}", bundle.display());
    js_verify(bundle, artifact, js_extra)
        .unwrap_or_else(|e| panic!("sigstore-js rejected {}: {e}", bundle.display()))
}

fn both_reject(bundle: &Path, artifact: &Path, what: &str) -> (String, String) {
    let (code, err) = imprint_verify(bundle, artifact, SAN);
    assert_eq!(code, 1, "imprint did not reject {what}: {err}");
    let js = js_verify(bundle, artifact, &[]).expect_err(&format!("sigstore-js accepted {what}"));
    (err, js)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// Flips one bit of the base64 value at `pointer` (at byte `at` of the decoded bytes, counted
/// from the end when negative).
fn flip_b64(v: &mut Value, pointer: &str, at: isize) {
    let slot = v
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}"));
    let mut bytes = B64.decode(slot.as_str().unwrap()).unwrap();
    let i = if at < 0 {
        bytes.len() - at.unsigned_abs()
    } else {
        at as usize
    };
    bytes[i] ^= 1;
    *slot = Value::String(B64.encode(bytes));
}

/// Writes `bundle` with `edit` applied next to it and returns the new path.
fn tampered(bundle: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v = read_json(bundle);
    edit(&mut v);
    let out = bundle.with_file_name(format!("{name}.json"));
    write_json(&out, &v);
    out
}

/// The four tamperings both verifiers must reject, for a bundle with a certificate, one tlog
/// entry and one RFC 3161 timestamp; `sig` is the pointer of the signature.
fn assert_tampering_rejected(bundle: &Path, artifact: &Path, sig: &str) {
    let cert = tampered(bundle, "tampered-certificate", |v| {
        // A bit inside the certificate's own signature (its last bytes).
        flip_b64(v, "/verificationMaterial/certificate/rawBytes", -3);
    });
    both_reject(&cert, artifact, "a tampered certificate");
    let entry = tampered(bundle, "tampered-tlog-entry", |v| {
        let e = &mut v["verificationMaterial"]["tlogEntries"][0];
        let t: i64 = e["integratedTime"].as_str().unwrap().parse().unwrap();
        e["integratedTime"] = Value::String((t + 1).to_string());
    });
    both_reject(
        &entry,
        artifact,
        "a tlog entry with a changed integrated time",
    );
    let body = tampered(bundle, "tampered-tlog-body", |v| {
        flip_b64(
            v,
            "/verificationMaterial/tlogEntries/0/canonicalizedBody",
            40,
        );
    });
    both_reject(&body, artifact, "a tlog entry with a changed body");
    let ts = tampered(bundle, "tampered-timestamp", |v| {
        flip_b64(
            v,
            "/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp",
            -5,
        );
    });
    both_reject(&ts, artifact, "a tampered RFC 3161 timestamp");
    let signature = tampered(bundle, "tampered-signature", |v| flip_b64(v, sig, 10));
    both_reject(&signature, artifact, "a tampered signature");
}

#[test]
fn imprint_keyless_sign_blob_verifies_with_imprint_and_sigstore_js() {
    let dir = tmp();
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, b"release artifact\n").unwrap();
    let bundle = dir.join("artifact.sigstore.json");
    let cert = dir.join("artifact.pem");
    let (code, out, err) = keyless_imprint(&[
        "sign-blob",
        "--bundle",
        bundle.to_str().unwrap(),
        "--output-certificate",
        cert.to_str().unwrap(),
        artifact.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("SIGSTORE_ID_TOKEN") && err.contains(SAN),
        "{err}"
    );
    assert!(
        !err.contains(&token(SAN)[..20]),
        "the token is not printed: {err}"
    );
    // stdout: the base64 signature, which is the bundle's.
    let v = read_json(&bundle);
    assert_eq!(
        v["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        out.trim(),
        v["messageSignature"]["signature"].as_str().unwrap()
    );
    assert_eq!(
        v["verificationMaterial"]["tlogEntries"][0]["kindVersion"],
        serde_json::json!({"kind": "hashedrekord", "version": "0.0.1"})
    );
    assert!(
        std::fs::read_to_string(&cert)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );

    let js = both_accept(&bundle, &artifact, &["--timestamps", "2"]);
    assert!(
        js.contains("timestamp-authority") && js.contains("transparency-log"),
        "{js}"
    );

    // A wrong identity, a changed artifact.
    let (code, err) = imprint_verify(&bundle, &artifact, "https://github.com/evil/widget");
    assert_eq!(code, 1, "{err}");
    let other = dir.join("other.txt");
    std::fs::write(&other, b"release artifacT\n").unwrap();
    both_reject(&bundle, &other, "another artifact");
    assert_tampering_rejected(&bundle, &artifact, "/messageSignature/signature");
}

#[test]
fn imprint_keyless_attest_blob_verifies_with_imprint_and_sigstore_js() {
    let dir = tmp();
    let artifact = dir.join("app.tar.gz");
    std::fs::write(&artifact, b"not really a tarball").unwrap();
    let predicate = dir.join("predicate.json");
    std::fs::write(
        &predicate,
        br#"{"builder":{"id":"https://example.com/ci"}}"#,
    )
    .unwrap();
    let bundle = dir.join("att.sigstore.json");
    let (code, out, err) = keyless_imprint(&[
        "attest-blob",
        "--predicate",
        predicate.to_str().unwrap(),
        "--type",
        "slsaprovenance1",
        "--bundle",
        bundle.to_str().unwrap(),
        artifact.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let envelope: Value = serde_json::from_str(out.trim()).unwrap();
    let v = read_json(&bundle);
    assert_eq!(envelope["payload"], v["dsseEnvelope"]["payload"]);
    // cosign's and sigstore-js's entry type for DSSE (the mock cannot canonicalize `dsse`).
    assert_eq!(
        v["verificationMaterial"]["tlogEntries"][0]["kindVersion"],
        serde_json::json!({"kind": "intoto", "version": "0.0.2"})
    );
    both_accept(&bundle, &artifact, &["--timestamps", "2"]);
    assert_tampering_rejected(&bundle, &artifact, "/dsseEnvelope/signatures/0/sig");
    // A changed statement (payload): both reject.
    let payload = tampered(&bundle, "tampered-payload", |v| {
        flip_b64(v, "/dsseEnvelope/payload", 30);
    });
    both_reject(&payload, &artifact, "a changed statement");
    // imprint checks the statement's subject against the artifact.
    let other = dir.join("other");
    std::fs::write(&other, b"x").unwrap();
    let (code, err) = imprint_verify(&bundle, &other, SAN);
    assert_eq!(code, 1, "{err}");
}

/// What the sigstore-js signer makes against the same mock verifies with imprint; tampered
/// copies are rejected by both.
#[test]
fn sigstore_js_signed_blobs_verify_with_imprint() {
    let dir = tmp();
    let artifact = dir.join("js-artifact.txt");
    std::fs::write(&artifact, b"signed by sigstore-js\n").unwrap();
    for (name, flags, timestamps) in [
        ("js-default", &[][..], "2"),
        ("js-no-tsa", &["--no-tsa"][..], "1"),
    ] {
        let bundle = dir.join(format!("{name}.json"));
        let out = Command::new("node")
            .current_dir(harness())
            .arg("sign.js")
            .arg(&mock().url)
            .arg(&artifact)
            .arg(&bundle)
            .args(flags)
            .env("OIDC_SUBJECT", SAN)
            .env("OIDC_ISSUER", ISSUER)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sign.js {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        both_accept(&bundle, &artifact, &["--timestamps", timestamps]);
        let sig = tampered(&bundle, &format!("{name}-tampered-signature"), |v| {
            flip_b64(v, "/messageSignature/signature", 10);
        });
        both_reject(
            &sig,
            &artifact,
            &format!("{name} with a tampered signature"),
        );
        let entry = tampered(&bundle, &format!("{name}-tampered-entry"), |v| {
            let e = &mut v["verificationMaterial"]["tlogEntries"][0];
            let i: i64 = e["logIndex"].as_str().unwrap().parse().unwrap();
            e["logIndex"] = Value::String((i + 1).to_string());
        });
        both_reject(
            &entry,
            &artifact,
            &format!("{name} with a changed log index"),
        );
    }
}

/// The identity token: a file given to `--identity-token`, and errors that name the source
/// without printing the token.
#[test]
fn identity_token_from_a_file_and_clear_errors() {
    let dir = tmp();
    let artifact = dir.join("a.txt");
    std::fs::write(&artifact, b"a").unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{}\n", token(SAN))).unwrap();
    let bundle = dir.join("a.json");
    let m = mock();
    let mut c = imprint();
    c.env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .args([
            "sign-blob",
            "--fulcio-url",
            &m.url,
            "--rekor-url",
            &m.url,
            "--bundle",
        ])
        .arg(&bundle)
        .arg("--identity-token")
        .arg(&token_file)
        .arg(&artifact);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--identity-token file"), "{err}");
    // No timestamp authority: sigstore-js needs only the tlog time.
    both_accept(&bundle, &artifact, &["--timestamps", "1"]);

    // No token anywhere.
    let mut c = imprint();
    c.env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .args([
            "sign-blob",
            "--fulcio-url",
            &m.url,
            "--rekor-url",
            &m.url,
            "--bundle",
        ])
        .arg(&bundle)
        .arg(&artifact);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no OIDC identity token"), "{err}");

    // A malformed token: named by source, not printed.
    let mut c = imprint();
    c.env("SIGSTORE_ID_TOKEN", "secret-not-a-jwt")
        .args([
            "sign-blob",
            "--fulcio-url",
            &m.url,
            "--rekor-url",
            &m.url,
            "--bundle",
        ])
        .arg(&bundle)
        .arg(&artifact);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("SIGSTORE_ID_TOKEN") && !err.contains("secret-not-a-jwt"),
        "{err}"
    );

    // Keyless without --bundle, and --tlog-upload=false with keyless, are refused.
    let (code, _, err) = keyless_imprint(&["sign-blob", artifact.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("needs --bundle"), "{err}");
    let (code, _, err) = keyless_imprint(&[
        "sign-blob",
        "--tlog-upload=false",
        "--bundle",
        bundle.to_str().unwrap(),
        artifact.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--tlog-upload=false is not supported for keyless"),
        "{err}"
    );
}

/// A signing config names the services (the mock's URLs); what is signed with it verifies.
#[test]
fn signing_config_names_the_services() {
    let dir = tmp();
    let m = mock();
    let cfg = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [{"url": m.url, "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}}],
        "oidcUrls": [],
        "rekorTlogUrls": [{"url": m.url, "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}}],
        "tsaUrls": [{"url": format!("{}/api/v1/timestamp", m.url), "majorApiVersion": 1,
                     "validFor": {"start": "2020-01-01T00:00:00Z"}}],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    });
    let cfg_path = dir.join("signing_config.json");
    write_json(&cfg_path, &cfg);
    let artifact = dir.join("a.txt");
    std::fs::write(&artifact, b"config").unwrap();
    let bundle = dir.join("a.json");
    let mut c = imprint();
    c.env("SIGSTORE_ID_TOKEN", token(SAN))
        .args(["sign-blob", "--signing-config"])
        .arg(&cfg_path)
        .arg("--bundle")
        .arg(&bundle)
        .arg(&artifact);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    let js = both_accept(&bundle, &artifact, &["--timestamps", "2"]);
    assert!(
        js.contains("timestamp-authority"),
        "the config's TSA was used: {js}"
    );
}

fn imprint_image_verify(cmd: &[&str], image: &str, san: &str) -> (i32, String, String) {
    let mut c = imprint();
    c.args(cmd)
        .args([
            "--certificate-identity",
            san,
            "--certificate-oidc-issuer",
            ISSUER,
        ])
        .arg("--trusted-root")
        .arg(&mock().trusted_root)
        .arg(image);
    run(&mut c)
}

/// The digest after `bundle referrer ` in imprint's stderr.
pub(crate) fn referrer_digest(stderr: &str) -> imprint::format::digest::Digest {
    let at = stderr.find("bundle referrer sha256:").expect(stderr) + "bundle referrer ".len();
    stderr[at..at + 71].parse().unwrap()
}

/// The bundle a referrer manifest holds, fetched from the registry.
pub(crate) async fn referrer_bundle(
    image: &str,
    manifest: &imprint::format::digest::Digest,
) -> Vec<u8> {
    use imprint::store::{ManifestRef, Repository as _};
    let client = crate::support::test_client();
    let repo = client
        .repository(&imprint::format::reference::ImageRef::parse(image).unwrap())
        .unwrap();
    let m = repo
        .get_manifest(ManifestRef::Digest(manifest))
        .await
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_slice(&m.bytes).unwrap();
    let layer: imprint::format::digest::Digest =
        v["layers"][0]["digest"].as_str().unwrap().parse().unwrap();
    std::sync::Arc::unwrap_or_clone(repo.get_blob(&layer, 1 << 20).await.unwrap())
}

/// Keyless `sign` and `attest` of an image on the real registry, in both formats: imprint
/// verifies each (and refuses a wrong identity); the bundle referrers also verify with
/// sigstore-js, and a tampered copy of one is rejected by both.
#[tokio::test(flavor = "multi_thread")]
async fn keyless_image_signatures_and_attestations_in_both_formats() {
    let (image, digest) =
        crate::support::push_random_image(&crate::support::unique_repo("keyless-img")).await;
    let pinned = format!("{}@{digest}", image.repository_name());
    let dir = tmp();
    let block = |args: &[&str]| tokio::task::block_in_place(|| keyless_imprint(args));

    // cosign v3: a bundle referrer.
    let (code, _, err) = block(&["sign", "-a", "team=widget", &pinned]);
    assert_eq!(code, 0, "{err}");
    let sig_referrer = referrer_digest(&err);
    let (code, out, err) = tokio::task::block_in_place(|| {
        imprint_image_verify(&["verify", "--signature-format", "bundle"], &pinned, SAN)
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""team":"widget""#), "{out}");
    let (code, _, err) = tokio::task::block_in_place(|| {
        imprint_image_verify(&["verify"], &pinned, "https://github.com/evil/widget")
    });
    assert_eq!(code, 1, "{err}");

    // The referrer's bundle, checked by sigstore-js (a DSSE bundle: the artifact is unused).
    let bundle = dir.join("image.sigstore.json");
    std::fs::write(&bundle, referrer_bundle(&pinned, &sig_referrer).await).unwrap();
    let v = read_json(&bundle);
    assert_eq!(
        v["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "intoto"
    );
    let statement: Value = serde_json::from_slice(
        &B64.decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(statement["subject"][0]["digest"]["sha256"], digest.hex());
    let js = tokio::task::block_in_place(|| js_verify(&bundle, &bundle, &["--timestamps", "2"]))
        .unwrap_or_else(|e| panic!("sigstore-js rejected the image bundle: {e}"));
    assert!(js.contains(SAN), "{js}");
    let bad = tampered(&bundle, "image-tampered-signature", |v| {
        flip_b64(v, "/dsseEnvelope/signatures/0/sig", 10);
    });
    tokio::task::block_in_place(|| js_verify(&bad, &bad, &[]))
        .expect_err("sigstore-js accepted a tampered image bundle");

    // cosign v2: a legacy .sig layer with the certificate, chain, Rekor bundle and timestamp.
    let (legacy_image, legacy_digest) =
        crate::support::push_random_image(&crate::support::unique_repo("keyless-legacy")).await;
    let legacy = format!("{}@{legacy_digest}", legacy_image.repository_name());
    let (code, _, err) = block(&["sign", "--new-bundle-format=false", &legacy]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = tokio::task::block_in_place(|| {
        imprint_image_verify(&["verify", "--signature-format", "legacy"], &legacy, SAN)
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("docker-manifest-digest"), "{out}");
    let (code, _, err) = tokio::task::block_in_place(|| {
        imprint_image_verify(&["verify"], &legacy, "https://github.com/evil/widget")
    });
    assert_eq!(code, 1, "{err}");
    // Under another trust root (the embedded public-good one), neither format verifies: the
    // mock's CA, CT log, Rekor and TSA are unknown there.
    for (image, format) in [(&legacy, "legacy"), (&pinned, "bundle")] {
        let (code, _, err) = tokio::task::block_in_place(|| {
            run(imprint()
                .args(["verify", "--signature-format", format])
                .args([
                    "--certificate-identity",
                    SAN,
                    "--certificate-oidc-issuer",
                    ISSUER,
                ])
                .arg(image))
        });
        assert_eq!(code, 1, "{format}: {err}");
    }
    // The layer carries cosign's keyless annotations.
    let (code, out, err) =
        tokio::task::block_in_place(|| run(imprint().args(["download", "signature", &legacy])));
    assert_eq!(code, 0, "{err}");
    for field in [
        r#""Cert":"-----BEGIN CERTIFICATE-----"#,
        r#""Chain":"-----BEGIN CERTIFICATE-----"#,
        r#""Bundle":{"SignedEntryTimestamp":"#,
        r#""RFC3161Timestamp":{"SignedRFC3161Timestamp":"#,
    ] {
        assert!(out.contains(field), "{field}: {out}");
    }

    // Attestations: a bundle referrer and a legacy .att layer, each verified by type.
    let predicate = dir.join("provenance.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/b"}}"#,
    )
    .unwrap();
    let p = predicate.to_str().unwrap();
    let (code, _, err) = block(&[
        "attest",
        "--type",
        "slsaprovenance1",
        "--predicate",
        p,
        &pinned,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = block(&[
        "attest",
        "--new-bundle-format=false",
        "--type",
        "cyclonedx",
        "--predicate",
        crate_path("testdata/sbom/imprint.cdx-1.5.json")
            .to_str()
            .unwrap(),
        &pinned,
    ]);
    assert_eq!(code, 0, "{err}");
    for (ty, format) in [("slsaprovenance1", "bundle"), ("cyclonedx", "legacy")] {
        let (code, _, err) = tokio::task::block_in_place(|| {
            imprint_image_verify(
                &[
                    "verify-attestation",
                    "--type",
                    ty,
                    "--signature-format",
                    format,
                ],
                &pinned,
                SAN,
            )
        });
        assert_eq!(code, 0, "{ty} ({format}): {err}");
        let (code, _, err) = tokio::task::block_in_place(|| {
            imprint_image_verify(
                &["verify-attestation", "--type", ty],
                &pinned,
                "https://github.com/evil/widget",
            )
        });
        assert_eq!(code, 1, "{ty}: {err}");
    }
}

/// Key signatures with `--tlog-upload`: the entry goes to Rekor (the mock) and into the bundle;
/// the verifiers then check it against the trusted root (a changed entry is rejected), while a
/// bundle without entries still verifies with the key alone (imprint's default).
#[test]
fn key_signatures_with_tlog_upload_have_their_entry_checked() {
    let dir = tmp();
    let prefix = dir.join("k");
    let (code, _, err) = run(imprint()
        .args(["generate-key-pair", "--output-key-prefix"])
        .arg(&prefix));
    assert_eq!(code, 0, "{err}");
    let (key, public) = (dir.join("k.key"), dir.join("k.pub"));
    let artifact = dir.join("a.txt");
    std::fs::write(&artifact, b"key-signed and logged").unwrap();
    let m = mock();
    let root = &m.trusted_root;

    let bundle = dir.join("a.sigstore.json");
    let (code, _, err) = run(imprint()
        .args(["sign-blob", "--tlog-upload", "--rekor-url", &m.url, "--key"])
        .arg(&key)
        .arg("--bundle")
        .arg(&bundle)
        .arg(&artifact));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("tlog entry created with index"), "{err}");
    let v = read_json(&bundle);
    assert!(v["verificationMaterial"]["publicKey"]["hint"].is_string());
    assert_eq!(
        v["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "hashedrekord"
    );
    let verify_blob = |b: &Path| {
        run(imprint()
            .args(["verify-blob", "--key"])
            .arg(&public)
            .arg("--trusted-root")
            .arg(root)
            .arg("--bundle")
            .arg(b)
            .arg(&artifact))
    };
    let (code, _, err) = verify_blob(&bundle);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("tlog: log index"),
        "the entry was checked: {err}"
    );
    let (code, _, err) = run(imprint()
        .args(["verify-bundle", "--key"])
        .arg(&public)
        .arg("--trusted-root")
        .arg(root)
        .arg("--bundle")
        .arg(&bundle)
        .arg(&artifact));
    assert_eq!(code, 0, "{err}");
    let changed = tampered(&bundle, "key-tampered-entry", |v| {
        let e = &mut v["verificationMaterial"]["tlogEntries"][0];
        let t: i64 = e["integratedTime"].as_str().unwrap().parse().unwrap();
        e["integratedTime"] = Value::String((t - 1).to_string());
    });
    let (code, _, err) = verify_blob(&changed);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("transparency-log entry"), "{err}");
    // Against another trust root (the public-good one), the mock's log is unknown.
    let (code, _, err) = run(imprint()
        .args(["verify-blob", "--key"])
        .arg(&public)
        .arg("--bundle")
        .arg(&bundle)
        .arg(&artifact));
    assert_eq!(code, 1, "{err}");

    // attest-blob: an intoto entry for the key's envelope.
    let predicate = dir.join("p.json");
    std::fs::write(&predicate, b"{}").unwrap();
    let att = dir.join("att.sigstore.json");
    let (code, _, err) = run(imprint()
        .args([
            "attest-blob",
            "--tlog-upload",
            "--rekor-url",
            &m.url,
            "--key",
        ])
        .arg(&key)
        .arg("--predicate")
        .arg(&predicate)
        .arg("--bundle")
        .arg(&att)
        .arg(&artifact));
    assert_eq!(code, 0, "{err}");
    let verify_att = |b: &Path| {
        run(imprint()
            .args(["verify-blob-attestation", "--key"])
            .arg(&public)
            .arg("--trusted-root")
            .arg(root)
            .arg("--bundle")
            .arg(b)
            .arg(&artifact))
    };
    let (code, _, err) = verify_att(&att);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("tlog: log index"), "{err}");
    let changed = tampered(&att, "key-att-tampered-body", |v| {
        flip_b64(
            v,
            "/verificationMaterial/tlogEntries/0/canonicalizedBody",
            60,
        );
    });
    let (code, _, err) = verify_att(&changed);
    assert_eq!(code, 1, "{err}");
}
