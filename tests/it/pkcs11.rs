//! `--key pkcs11:…` against SoftHSM2 (Debian's `softhsm2`): a token initialised by the test in
//! its own `SOFTHSM2_CONF`, key pairs imported with `softhsm2-util --import` (an ECDSA P-256
//! key made by imprint, an RSA key made by `openssl genpkey`). What the token signs must verify
//! with `verify --key` / `verify-blob --key` on the exported public key.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, cli};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "71829304";
const SO_PIN: &str = "55512345";

/// A SoftHSM2 token in a temporary directory.
struct Token {
    dir: tempfile::TempDir,
    label: String,
}

impl Token {
    fn new(label: &str) -> Self {
        let util = support::require_program("softhsm2-util", "softhsm2");
        assert!(
            Path::new(MODULE).exists(),
            "{MODULE} is missing: install Debian's softhsm2 (`bash scripts/test.sh` does)"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let t = Self {
            dir,
            label: label.to_owned(),
        };
        let out = Command::new(util)
            .env("SOFTHSM2_CONF", t.conf())
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                SO_PIN,
                "--pin",
                PIN,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// Import an unencrypted PKCS#8 PEM key pair as `label` with CKA_ID `id`.
    fn import(&self, pem: &Path, label: &str, id: &str) {
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", self.conf())
            .args(["--import"])
            .arg(pem)
            .args([
                "--token",
                &self.label,
                "--label",
                label,
                "--id",
                id,
                "--pin",
                PIN,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "softhsm2-util --import: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn uri(&self, object: &str, pin: &str) -> String {
        format!(
            "pkcs11:token={};object={object}?module-path={MODULE}&pin-value={pin}",
            self.label
        )
    }

    /// `imprint ARGS` with this token's SoftHSM2 configuration.
    fn imprint(&self) -> Command {
        let mut c = cli::imprint();
        c.env("SOFTHSM2_CONF", self.conf())
            .env_remove("IMPRINT_PKCS11_PIN")
            .env_remove("COSIGN_PKCS11_PIN")
            .env_remove("IMPRINT_PKCS11_MODULE")
            .env_remove("COSIGN_PKCS11_MODULE_PATH")
            // A token key never asks for the key-file password.
            .env_remove("IMPRINT_PASSWORD");
        c
    }
}

/// An ECDSA P-256 key made by imprint, written as an unencrypted PKCS#8 PEM; its public key.
fn p256_pem(dir: &Path) -> (PathBuf, imprint::keys::PublicKey) {
    let key = imprint::keys::SigningKey::generate_p256().unwrap();
    let der = key.to_pkcs8_der().unwrap();
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()));
    let path = dir.join("p256.pem");
    std::fs::write(&path, pem).unwrap();
    (path, key.public_key())
}

fn export_public(token: &Token, uri: &str, out: &Path) {
    let (code, _, err) = cli::run(
        token
            .imprint()
            .args(["public-key", "--key", uri, "--outfile"])
            .arg(out),
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn blob_signed_on_the_token_verifies_with_the_exported_key() {
    let token = Token::new("imprint-blob");
    let tmp = tempfile::tempdir().unwrap();
    let (pem, public) = p256_pem(tmp.path());
    token.import(&pem, "signer", "01");
    let uri = token.uri("signer", PIN);

    let pubfile = tmp.path().join("token.pub");
    export_public(&token, &uri, &pubfile);
    let exported = imprint::keys::PublicKey::from_pem(&std::fs::read(&pubfile).unwrap()).unwrap();
    assert_eq!(
        exported, public,
        "the token's public key is the imported one"
    );

    let blob = tmp.path().join("blob.txt");
    std::fs::write(&blob, b"signed on a PKCS#11 token\n").unwrap();
    let sig = tmp.path().join("blob.sig");
    let bundle = tmp.path().join("blob.bundle");
    let (code, _, err) = cli::run(
        token
            .imprint()
            .args([
                "sign-blob",
                "--tlog-upload=false",
                "--key",
                &uri,
                "--output-signature",
            ])
            .arg(&sig)
            .arg("--bundle")
            .arg(&bundle)
            .arg(&blob),
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(PIN), "the PIN is never printed: {err}");
    let verify = |args: &[&str], file: &Path| {
        cli::run(
            cli::imprint()
                .arg("verify-blob")
                .arg("--key")
                .arg(&pubfile)
                .args(args)
                .arg(file),
        )
    };
    let (code, _, err) = verify(&["--signature", sig.to_str().unwrap()], &blob);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = verify(&["--bundle", bundle.to_str().unwrap()], &blob);
    assert_eq!(code, 0, "{err}");
    // The signature is ASN.1 DER ECDSA, as a key file's would be: the library's own
    // verification of the raw bytes agrees.
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(std::fs::read_to_string(&sig).unwrap().trim())
        .unwrap();
    assert_eq!(raw[0], 0x30, "DER SEQUENCE");
    public
        .verify(&std::fs::read(&blob).unwrap(), &raw)
        .expect("verifies as a key-file signature would");

    // Tampered: another blob, or a flipped signature byte.
    let other = tmp.path().join("other.txt");
    std::fs::write(&other, b"signed on a PKCS#11 token?\n").unwrap();
    let (code, _, err) = verify(&["--signature", sig.to_str().unwrap()], &other);
    assert_eq!(code, 1, "{err}");
    let mut bad = raw;
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let bad_sig = tmp.path().join("bad.sig");
    std::fs::write(
        &bad_sig,
        base64::engine::general_purpose::STANDARD.encode(&bad),
    )
    .unwrap();
    let (code, _, err) = verify(&["--signature", bad_sig.to_str().unwrap()], &blob);
    assert_eq!(code, 1, "{err}");

    // attest-blob on the token: the DSSE bundle verifies with the exported key.
    let predicate = tmp.path().join("predicate.json");
    std::fs::write(&predicate, br#"{"builder":"pkcs11-test"}"#).unwrap();
    let att = tmp.path().join("att.bundle");
    let (code, _, err) = cli::run(
        token
            .imprint()
            .args([
                "attest-blob",
                "--tlog-upload=false",
                "--key",
                &uri,
                "--predicate",
            ])
            .arg(&predicate)
            .arg("--bundle")
            .arg(&att)
            .arg(&blob),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli::run(
        cli::imprint()
            .args(["verify-blob-attestation", "--key"])
            .arg(&pubfile)
            .args(["--type", "custom", "--bundle"])
            .arg(&att)
            .arg(&blob),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli::run(
        cli::imprint()
            .args(["verify-blob-attestation", "--key"])
            .arg(&pubfile)
            .args(["--type", "custom", "--bundle"])
            .arg(&att)
            .arg(&other),
    );
    assert_eq!(code, 1, "attestation for another blob: {err}");

    // The PIN from a pin-source file, the module from the environment.
    let pin_file = tmp.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let uri2 = format!(
        "pkcs11:token={};object=signer?pin-source={}",
        token.label,
        pin_file.display()
    );
    let (code, _, err) = cli::run(
        token
            .imprint()
            .env("IMPRINT_PKCS11_MODULE", MODULE)
            .args([
                "sign-blob",
                "--tlog-upload=false",
                "--key",
                &uri2,
                "--output-signature",
            ])
            .arg(tmp.path().join("2.sig"))
            .arg(&blob),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = verify(
        &["--signature", tmp.path().join("2.sig").to_str().unwrap()],
        &blob,
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn wrong_pin_unknown_object_and_missing_module_are_refused_clearly() {
    let token = Token::new("imprint-errors");
    let tmp = tempfile::tempdir().unwrap();
    let (pem, _) = p256_pem(tmp.path());
    token.import(&pem, "signer", "02");
    let blob = tmp.path().join("blob.txt");
    std::fs::write(&blob, b"x").unwrap();
    let sign = |uri: &str| {
        cli::run(
            token
                .imprint()
                .args(["sign-blob", "--tlog-upload=false", "--key", uri])
                .arg(&blob),
        )
    };
    let wrong = "99999999";
    let (code, out, err) = sign(&token.uri("signer", wrong));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "no signature on a failed login: {out}");
    assert!(err.contains("the PIN is incorrect"), "{err}");
    assert!(!err.contains(wrong), "the PIN is never printed: {err}");

    let (code, _, err) = sign(&token.uri("nobody", PIN));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no private key object matches"), "{err}");
    assert!(
        err.contains("object=nobody"),
        "the error names the object: {err}"
    );
    assert!(!err.contains(PIN), "{err}");

    let (code, _, err) = sign(&format!(
        "pkcs11:token=no-such-token;object=signer?module-path={MODULE}&pin-value={PIN}"
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no token matches"), "{err}");

    let (code, _, err) = sign(&format!(
        "pkcs11:token={};object=signer?pin-value={PIN}",
        token.label
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no PKCS#11 module"), "{err}");

    let (code, _, err) = sign(&format!(
        "pkcs11:token={};object=signer?module-path={MODULE}",
        token.label
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no PIN"), "{err}");
}

#[tokio::test]
async fn image_signed_on_the_token_verifies_and_rsa_keys_work_too() {
    let token = Token::new("imprint-image");
    let tmp = tempfile::tempdir().unwrap();
    let (pem, _) = p256_pem(tmp.path());
    token.import(&pem, "ec", "03");
    let openssl = support::require_program("openssl", "openssl");
    let rsa_pem = tmp.path().join("rsa.pem");
    let out = Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&rsa_pem)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    token.import(&rsa_pem, "rsa", "04");

    for object in ["ec", "rsa"] {
        let uri = token.uri(object, PIN);
        let pubfile = tmp.path().join(format!("{object}.pub"));
        export_public(&token, &uri, &pubfile);
        let (image, _) = support::push_random_image(&support::unique_repo("pkcs11")).await;
        let image = image.to_string();
        let (code, _, err) =
            cli::run(
                token
                    .imprint()
                    .args(["sign", "--tlog-upload=false", "--key", &uri, &image]),
            );
        assert_eq!(code, 0, "{object}: {err}");
        let (code, _, err) = cli::run(
            cli::imprint()
                .args(["verify", "--key"])
                .arg(&pubfile)
                .arg(&image),
        );
        assert_eq!(code, 0, "{object}: {err}");
        let predicate = tmp.path().join("predicate.json");
        std::fs::write(&predicate, br#"{"builder":"pkcs11-test"}"#).unwrap();
        let (code, _, err) = cli::run(
            token
                .imprint()
                .args([
                    "attest",
                    "--tlog-upload=false",
                    "--key",
                    &uri,
                    "--predicate",
                ])
                .arg(&predicate)
                .arg(&image),
        );
        assert_eq!(code, 0, "{object}: {err}");
        let (code, _, err) = cli::run(
            cli::imprint()
                .args(["verify-attestation", "--type", "custom", "--key"])
                .arg(&pubfile)
                .arg(&image),
        );
        assert_eq!(code, 0, "{object}: {err}");
        // verify --key also takes the token URI directly (its public key object).
        let (code, _, err) = cli::run(token.imprint().args(["verify", "--key", &uri, &image]));
        assert_eq!(code, 0, "{object}: {err}");
        // Another key does not verify it.
        let other = if object == "ec" { "rsa" } else { "ec" };
        let (code, _, err) = cli::run(
            cli::imprint()
                .args(["verify", "--key"])
                .arg(tmp.path().join(format!("{other}.pub")))
                .arg(&image),
        );
        if tmp.path().join(format!("{other}.pub")).exists() {
            assert_eq!(
                code, 1,
                "{object} signature verified with the {other} key: {err}"
            );
        }
    }
    let rsa =
        imprint::keys::PublicKey::from_pem(&std::fs::read(tmp.path().join("rsa.pub")).unwrap())
            .unwrap();
    assert_eq!(rsa.algorithm(), imprint::keys::KeyAlgorithm::RsaPkcs1Sha256);
}
