//! Key handling: cosign key file vectors, generate/import, sign/verify for every algorithm,
//! public keys from PEM/certificates, and interop with the `sigstore` crate.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::vectors;
use aws_lc_rs::encoding::{AsDer, EcPrivateKeyRfc5915Der};
use aws_lc_rs::signature::{self as lc, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use imprint::keys::{
    KeyAlgorithm, KeyError, Password, PublicKey, SigningKey, cosign, generate_key_pair,
    import_key_pair, load_public_key, load_signing_key,
};

fn vector_key(name: &str) -> PathBuf {
    vectors().join("keys").join(name)
}

fn derived_pub(name: &str) -> PathBuf {
    vectors().join("derived/keys").join(name)
}

fn fixture(name: &str) -> PathBuf {
    crate::support::crate_path("testdata/keys").join(name)
}

/// (key file, password, algorithm, derived public key file) from the vectors README table.
const GOOD_VECTORS: &[(&str, &str, KeyAlgorithm, &str)] = &[
    (
        "cosign-keys_test-pemcosignkey.key",
        "hello",
        KeyAlgorithm::EcdsaP256Sha256,
        "cosign-keys_test-pemcosignkey.pub",
    ),
    (
        "cosign-keys_test-pemsigstorekey.key",
        "hello",
        KeyAlgorithm::EcdsaP256Sha256,
        "cosign-keys_test-pemsigstorekey.pub",
    ),
    (
        "sigstore-rs-ecdsa_encrypted_private.key",
        "123",
        KeyAlgorithm::EcdsaP256Sha256,
        "sigstore-rs-ecdsa_encrypted_private.pub",
    ),
    (
        "sigstore-rs-rsa_encrypted_private.key",
        "123",
        KeyAlgorithm::RsaPkcs1Sha256,
        "sigstore-rs-rsa_encrypted_private.pub",
    ),
    (
        "sigstore-rs-ed25519_encrypted_private.key",
        "123",
        KeyAlgorithm::Ed25519,
        "sigstore-rs-ed25519_encrypted_private.pub",
    ),
    (
        "sigstore-rs-cosign_generated_encrypted_empty_private.key",
        "",
        KeyAlgorithm::EcdsaP256Sha256,
        "sigstore-rs-cosign_generated_encrypted_empty_private.pub",
    ),
];

/// `result` is the rejection of a signature by `key`: [`KeyError::BadSignature`] naming that
/// key's algorithm and fingerprint, not some other failure.
#[track_caller]
fn assert_bad_signature(key: &PublicKey, result: Result<(), KeyError>) {
    match result {
        Err(KeyError::BadSignature {
            algorithm,
            fingerprint,
        }) => {
            assert_eq!(algorithm, key.algorithm());
            assert_eq!(fingerprint, key.fingerprint());
        }
        other => panic!(
            "expected BadSignature from {}, got {other:?}",
            key.fingerprint()
        ),
    }
}

#[test]
fn vectors_decrypt_with_right_password_and_match_derived_public_keys() {
    for (file, password, algorithm, pub_file) in GOOD_VECTORS {
        let key = load_signing_key(&vector_key(file), &Password::from(*password))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(key.algorithm(), *algorithm, "{file}");
        let expected_pem = fs::read_to_string(derived_pub(pub_file)).unwrap();
        let expected = PublicKey::from_pem(expected_pem.as_bytes()).unwrap();
        assert_eq!(key.public_key(), expected, "{file}");
        assert_eq!(key.public_key().to_pem(), expected_pem, "{file}: PEM text");
        assert_eq!(load_public_key(&derived_pub(pub_file)).unwrap(), expected);
    }
}

#[test]
fn vector_keys_sign_and_derived_public_keys_verify() {
    for (file, password, _, pub_file) in GOOD_VECTORS {
        let key = load_signing_key(&vector_key(file), &Password::from(*password)).unwrap();
        let public = load_public_key(&derived_pub(pub_file)).unwrap();
        let message = format!("payload signed by {file}");
        let signature = key.sign(message.as_bytes()).unwrap();
        public.verify(message.as_bytes(), &signature).unwrap();
        let err = public.verify(b"another payload", &signature).unwrap_err();
        assert!(
            matches!(err, KeyError::BadSignature { .. }),
            "{file}: {err:?}"
        );
    }
}

#[test]
fn wrong_password_says_so_for_every_vector() {
    for (file, password, _, _) in GOOD_VECTORS {
        let wrong = format!("Xq7-{password}-not-it");
        let path = vector_key(file);
        let err = load_signing_key(&path, &Password::from(wrong.as_str())).unwrap_err();
        assert!(
            matches!(err.innermost(), KeyError::WrongPassword),
            "{file}: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("wrong password or corrupted key file"),
            "{text}"
        );
        assert!(text.contains(file), "error should name the file: {text}");
        assert!(
            !text.contains(&wrong),
            "error must not contain the password: {text}"
        );
    }
}

#[test]
fn pemsigstorekey_wrong_password_is_a_secretbox_failure() {
    let pem = fs::read(vector_key("cosign-keys_test-pemsigstorekey.key")).unwrap();
    let err = cosign::decrypt(&pem, b"wrong").unwrap_err();
    assert!(matches!(err, KeyError::WrongPassword), "{err:?}");
    assert_eq!(err.to_string(), "wrong password or corrupted key file");
}

#[test]
fn sec1_plaintext_vector_is_rejected_with_its_own_message() {
    let path = vector_key("cosign-keys_test-pemcosigneckey.NEGATIVE-sec1-plaintext.key");
    let err = load_signing_key(&path, &Password::from("hello")).unwrap_err();
    assert!(
        matches!(err.innermost(), KeyError::Sec1Plaintext),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("SEC1") && text.contains("not PKCS#8"),
        "{text}"
    );
    // The wrong password is still reported as such, not as a format problem.
    let err = load_signing_key(&path, &Password::from("nope")).unwrap_err();
    assert!(
        matches!(err.innermost(), KeyError::WrongPassword),
        "{err:?}"
    );
}

#[test]
fn legacy_cosign_label_vector_decrypts() {
    let pem = fs::read_to_string(vector_key("cosign-keys_test-pemcosignkey.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"));
    cosign::decrypt(pem.as_bytes(), b"hello").unwrap();
}

/// Replace the scrypt parameters inside a real key file.
fn with_scrypt_params(pem_text: &str, n: u64, r: u64, p: u64) -> String {
    let block = pem::parse(pem_text).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(block.contents()).unwrap();
    json["kdf"]["params"] = serde_json::json!({"N": n, "r": r, "p": p});
    let body = serde_json::to_vec(&json).unwrap();
    pem::encode(&pem::Pem::new(block.tag(), body))
}

#[test]
fn absurd_scrypt_parameters_are_refused_before_any_work() {
    let pem = fs::read_to_string(vector_key("sigstore-rs-ecdsa_encrypted_private.key")).unwrap();
    for (n, r, p) in [
        (1u64 << 30, 8, 1),
        (1 << 20, 8, 1),
        (32768, 1024, 1),
        (32768, 8, 64),
    ] {
        let tampered = with_scrypt_params(&pem, n, r, p);
        let err = cosign::decrypt(tampered.as_bytes(), b"123").unwrap_err();
        assert!(
            matches!(err, KeyError::UnsupportedScryptParameters { n: en, .. } if en == n),
            "{err:?}"
        );
        assert!(err.to_string().contains("unsupported scrypt parameters"));
    }
    // The accepted set still works: re-labelled N of a real file only changes the derived key,
    // so the box no longer opens, but the KDF ran (wrong password, not a parameter error).
    let err =
        cosign::decrypt(with_scrypt_params(&pem, 65536, 8, 1).as_bytes(), b"123").unwrap_err();
    assert!(matches!(err, KeyError::WrongPassword), "{err:?}");
}

#[test]
fn tampered_ciphertext_is_reported_as_corrupted() {
    let pem = fs::read_to_string(vector_key("sigstore-rs-ecdsa_encrypted_private.key")).unwrap();
    let block = pem::parse(&pem).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(block.contents()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ct = b64.decode(json["ciphertext"].as_str().unwrap()).unwrap();
    let last = ct.len() - 1;
    ct[last] ^= 1;
    json["ciphertext"] = serde_json::Value::String(b64.encode(ct));
    let tampered = pem::encode(&pem::Pem::new(
        block.tag(),
        serde_json::to_vec(&json).unwrap(),
    ));
    let err = cosign::decrypt(tampered.as_bytes(), b"123").unwrap_err();
    assert!(matches!(err, KeyError::WrongPassword), "{err:?}");
}

#[test]
fn missing_key_file_is_a_read_error_naming_the_file() {
    let err =
        load_signing_key(Path::new("/nonexistent/cosign.key"), &Password::from("x")).unwrap_err();
    assert!(matches!(err, KeyError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/cosign.key"));
    let err = load_public_key(Path::new("/nonexistent/cosign.pub")).unwrap_err();
    assert!(matches!(err, KeyError::Read { .. }), "{err:?}");
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn generate_then_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("cosign");
    let password = Password::from("correct horse");
    let (key_path, pub_path) = generate_key_pair(&prefix, &password, false).unwrap();
    assert_eq!(key_path, dir.path().join("cosign.key"));
    assert_eq!(pub_path, dir.path().join("cosign.pub"));
    #[cfg(unix)]
    {
        assert_eq!(mode_of(&key_path), 0o600);
        assert_eq!(mode_of(&pub_path), 0o644);
    }
    let key_text = fs::read_to_string(&key_path).unwrap();
    assert!(key_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    assert!(key_text.lines().all(|l| l.len() <= 64));
    let pub_text = fs::read_to_string(&pub_path).unwrap();
    assert!(pub_text.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(pub_text.ends_with("-----END PUBLIC KEY-----\n"));

    let key = load_signing_key(&key_path, &password).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256Sha256);
    let public = load_public_key(&pub_path).unwrap();
    assert_eq!(key.public_key(), public);
    let signature = key.sign(b"hello").unwrap();
    public.verify(b"hello", &signature).unwrap();

    // The plaintext inside is PKCS#8 P-256 (138 bytes, like Go's MarshalPKCS8PrivateKey).
    assert_eq!(key.to_pkcs8_der().unwrap().len(), 138);

    let err = load_signing_key(&key_path, &Password::from("wrong")).unwrap_err();
    assert!(matches!(err.innermost(), KeyError::WrongPassword));
}

#[test]
fn generate_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k");
    let password = Password::from("");
    let (key_path, pub_path) = generate_key_pair(&prefix, &password, false).unwrap();
    let before = (fs::read(&key_path).unwrap(), fs::read(&pub_path).unwrap());

    let err = generate_key_pair(&prefix, &password, false).unwrap_err();
    assert!(
        matches!(&err, KeyError::AlreadyExists { path } if *path == key_path),
        "{err:?}"
    );
    assert_eq!(fs::read(&key_path).unwrap(), before.0);
    assert_eq!(fs::read(&pub_path).unwrap(), before.1);

    generate_key_pair(&prefix, &password, true).unwrap();
    assert_ne!(fs::read(&key_path).unwrap(), before.0);
    assert_ne!(fs::read(&pub_path).unwrap(), before.1);
    // Only the two files, no temporaries left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn generate_refuses_when_only_the_public_key_exists() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k");
    fs::write(dir.path().join("k.pub"), b"keep me").unwrap();
    let err = generate_key_pair(&prefix, &Password::from("x"), false).unwrap_err();
    assert!(matches!(err, KeyError::AlreadyExists { .. }), "{err:?}");
    assert!(!dir.path().join("k.key").exists());
    assert_eq!(fs::read(dir.path().join("k.pub")).unwrap(), b"keep me");
}

/// Import `input`, check the written pair loads, has `algorithm`, and (when given) that the
/// public key equals `expected_pub`.
fn check_import(input: &Path, algorithm: KeyAlgorithm, expected_pub: Option<&Path>) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("import-cosign");
    let password = Password::from("pw");
    let (key_path, pub_path) = import_key_pair(input, &prefix, &password, false)
        .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    #[cfg(unix)]
    {
        assert_eq!(mode_of(&key_path), 0o600);
        assert_eq!(mode_of(&pub_path), 0o644);
    }
    assert!(
        fs::read_to_string(&key_path)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    );
    let key = load_signing_key(&key_path, &password).unwrap();
    assert_eq!(key.algorithm(), algorithm, "{}", input.display());
    let public = load_public_key(&pub_path).unwrap();
    assert_eq!(key.public_key(), public);
    if let Some(expected) = expected_pub {
        assert_eq!(
            public,
            load_public_key(expected).unwrap(),
            "{}",
            input.display()
        );
    }
    let signature = key.sign(b"imported").unwrap();
    public.verify(b"imported", &signature).unwrap();
    // What was written is PKCS#8 inside: a cosign-compatible loader (the sigstore crate) reads it.
    let pem = fs::read(&key_path).unwrap();
    sigstore::crypto::signing_key::SigStoreKeyPair::from_encrypted_pem(&pem, b"pw")
        .unwrap_or_else(|e| panic!("sigstore cannot load import of {}: {e}", input.display()));
}

#[test]
fn import_pkcs8_pkcs1_and_sec1_keys() {
    check_import(
        &fixture("ec-p384-sec1.pem"),
        KeyAlgorithm::EcdsaP384Sha384,
        Some(&fixture("ec-p384-sec1.pub")),
    );
    check_import(
        &fixture("ec-p521-pkcs8.pem"),
        KeyAlgorithm::EcdsaP521Sha512,
        Some(&fixture("ec-p521-pkcs8.pub")),
    );
    check_import(
        &fixture("ed25519-pkcs8.pem"),
        KeyAlgorithm::Ed25519,
        Some(&fixture("ed25519-pkcs8.pub")),
    );
    check_import(
        &fixture("rsa-2048-pkcs1.pem"),
        KeyAlgorithm::RsaPkcs1Sha256,
        Some(&fixture("rsa-2048-pkcs1.pub")),
    );
    check_import(
        &fixture("rsa-2048-pkcs8.pem"),
        KeyAlgorithm::RsaPkcs1Sha256,
        Some(&fixture("rsa-2048-pkcs1.pub")),
    );
    // Unencrypted keys from the sigstore-rs vectors: PKCS#8 EC, PKCS#1 RSA 4096, PKCS#8 Ed25519.
    check_import(
        &vector_key("sigstore-rs-ecdsa_private.key"),
        KeyAlgorithm::EcdsaP256Sha256,
        None,
    );
    check_import(
        &vector_key("sigstore-rs-rsa_private.key"),
        KeyAlgorithm::RsaPkcs1Sha256,
        None,
    );
    check_import(
        &vector_key("sigstore-rs-ed25519_private.key"),
        KeyAlgorithm::Ed25519,
        None,
    );
}

#[test]
fn import_sec1_p256_made_in_test() {
    let pair = EcdsaKeyPair::generate(&lc::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let sec1: EcPrivateKeyRfc5915Der = pair.private_key().as_der().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pem");
    fs::write(
        &input,
        pem::encode(&pem::Pem::new("EC PRIVATE KEY", sec1.as_ref().to_vec())),
    )
    .unwrap();
    let expected_spki = pair.public_key().as_der().unwrap();
    let expected_pub = dir.path().join("expected.pub");
    fs::write(
        &expected_pub,
        PublicKey::from_spki_der(expected_spki.as_ref())
            .unwrap()
            .to_pem(),
    )
    .unwrap();
    check_import(&input, KeyAlgorithm::EcdsaP256Sha256, Some(&expected_pub));
}

#[test]
fn import_rejects_unsupported_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("out");
    let pw = Password::from("pw");
    for input in [
        fixture("ec-secp256k1-pkcs8.unsupported.pem"),
        fixture("rsa-1024-pkcs1.too-small.pem"),
    ] {
        let err = import_key_pair(&input, &prefix, &pw, false).unwrap_err();
        assert!(
            matches!(err.innermost(), KeyError::UnsupportedPrivateKey),
            "{}: {err:?}",
            input.display()
        );
    }
    // An already-encrypted cosign key and a public key are not importable.
    let err = import_key_pair(
        &vector_key("sigstore-rs-ecdsa_encrypted_private.key"),
        &prefix,
        &pw,
        false,
    )
    .unwrap_err();
    assert!(
        matches!(err.innermost(), KeyError::EncryptedPemInput { .. }),
        "{err:?}"
    );
    let err = import_key_pair(&fixture("ec-p521-pkcs8.pub"), &prefix, &pw, false).unwrap_err();
    assert!(
        matches!(err.innermost(), KeyError::UnexpectedPemLabel { .. }),
        "{err:?}"
    );
    // Nothing was written by the failures.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn import_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("import-cosign");
    fs::write(dir.path().join("import-cosign.key"), b"old").unwrap();
    let pw = Password::from("pw");
    let err = import_key_pair(&fixture("ed25519-pkcs8.pem"), &prefix, &pw, false).unwrap_err();
    assert!(matches!(err, KeyError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(
        fs::read(dir.path().join("import-cosign.key")).unwrap(),
        b"old"
    );
    import_key_pair(&fixture("ed25519-pkcs8.pem"), &prefix, &pw, true).unwrap();
    load_signing_key(&dir.path().join("import-cosign.key"), &pw).unwrap();
}

fn pkcs8_fixture(name: &str) -> SigningKey {
    let text = fs::read_to_string(fixture(name)).unwrap();
    let block = pem::parse(text).unwrap();
    match block.tag() {
        "PRIVATE KEY" => SigningKey::from_pkcs8_der(block.contents()).unwrap(),
        "EC PRIVATE KEY" => SigningKey::from_sec1_der(block.contents()).unwrap(),
        "RSA PRIVATE KEY" => SigningKey::from_pkcs1_der(block.contents()).unwrap(),
        other => panic!("unexpected {other}"),
    }
}

fn every_algorithm() -> Vec<SigningKey> {
    vec![
        SigningKey::generate_p256().unwrap(),
        pkcs8_fixture("ec-p384-sec1.pem"),
        pkcs8_fixture("ec-p521-pkcs8.pem"),
        pkcs8_fixture("ed25519-pkcs8.pem"),
        pkcs8_fixture("rsa-2048-pkcs8.pem"),
    ]
}

#[test]
fn sign_verify_every_algorithm_and_reject_tampering() {
    let keys = every_algorithm();
    let algorithms: Vec<_> = keys.iter().map(SigningKey::algorithm).collect();
    assert_eq!(
        algorithms,
        [
            KeyAlgorithm::EcdsaP256Sha256,
            KeyAlgorithm::EcdsaP384Sha384,
            KeyAlgorithm::EcdsaP521Sha512,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::RsaPkcs1Sha256,
        ]
    );
    let message = b"{\"critical\":{}}";
    for (i, key) in keys.iter().enumerate() {
        let public = key.public_key();
        assert_eq!(public.algorithm(), key.algorithm());
        let signature = key.sign(message).unwrap();
        public.verify(message, &signature).unwrap();

        // Tampered message.
        let err = public
            .verify(b"{\"critical\":{ }}", &signature)
            .unwrap_err();
        assert!(matches!(err, KeyError::BadSignature { .. }), "{err:?}");
        // Tampered signature.
        let mut bad = signature.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x01;
        assert_bad_signature(&public, public.verify(message, &bad));
        // Empty and truncated signatures.
        assert_bad_signature(&public, public.verify(message, &[]));
        assert_bad_signature(
            &public,
            public.verify(message, &signature[..signature.len() - 1]),
        );
        // Every other key rejects it.
        for (j, other) in keys.iter().enumerate() {
            if i != j {
                let other = other.public_key();
                assert_bad_signature(&other, other.verify(message, &signature));
            }
        }
        // Another key of the same algorithm rejects it too (P-256).
        if i == 0 {
            let other = SigningKey::generate_p256().unwrap().public_key();
            assert_bad_signature(&other, other.verify(message, &signature));
        }
    }
}

#[test]
fn signature_encodings_are_cosigns() {
    // ECDSA: ASN.1 DER over SHA-256 of the message, checked with aws-lc-rs directly.
    let key = SigningKey::generate_p256().unwrap();
    let signature = key.sign(b"msg").unwrap();
    assert_eq!(signature[0], 0x30, "ECDSA signature must be a DER SEQUENCE");
    lc::UnparsedPublicKey::new(&lc::ECDSA_P256_SHA256_ASN1, key.public_key().spki_der())
        .verify(b"msg", &signature)
        .unwrap();
    // RSA: PKCS#1 v1.5 with SHA-256, deterministic.
    let rsa = pkcs8_fixture("rsa-2048-pkcs8.pem");
    let s1 = rsa.sign(b"msg").unwrap();
    assert_eq!(s1.len(), 256);
    assert_eq!(s1, rsa.sign(b"msg").unwrap());
    lc::UnparsedPublicKey::new(&lc::RSA_PKCS1_2048_8192_SHA256, rsa.public_key().spki_der())
        .verify(b"msg", &s1)
        .unwrap();
    // Ed25519: pure, 64 bytes.
    let ed = pkcs8_fixture("ed25519-pkcs8.pem");
    let s = ed.sign(b"msg").unwrap();
    assert_eq!(s.len(), 64);
    lc::UnparsedPublicKey::new(&lc::ED25519, ed.public_key().spki_der())
        .verify(b"msg", &s)
        .unwrap();
}

#[test]
fn rsa_pss_signatures_verify() {
    let text = fs::read_to_string(fixture("rsa-2048-pkcs8.pem")).unwrap();
    let der = pem::parse(text).unwrap().into_contents();
    let pair = lc::RsaKeyPair::from_pkcs8(&der).unwrap();
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &lc::RSA_PSS_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        b"pss message",
        &mut signature,
    )
    .unwrap();
    let public = load_public_key(&fixture("rsa-2048-pkcs1.pub")).unwrap();
    public.verify(b"pss message", &signature).unwrap();
    assert_bad_signature(&public, public.verify(b"other message", &signature));
}

#[test]
fn p384_signature_over_sha256_verifies() {
    // Made with `openssl dgst -sha256 -sign ec-p384-sec1.pem` (see testdata/keys/README.md).
    let message = fs::read(fixture("p384-sha256.msg")).unwrap();
    let signature = fs::read(fixture("p384-sha256.sig")).unwrap();
    let public = load_public_key(&fixture("ec-p384-sec1.pub")).unwrap();
    public.verify(&message, &signature).unwrap();
    assert_bad_signature(&public, public.verify(b"another message", &signature));
    let other = load_public_key(&fixture("ec-p521-pkcs8.pub")).unwrap();
    assert_bad_signature(&other, other.verify(&message, &signature));
}

#[test]
fn public_key_from_certificate_uses_its_spki() {
    let path = vectors().join("legacy-signatures/containers-image/fulcio_v1.crt.pem");
    let key = load_public_key(&path).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP384Sha384);
    // openssl x509 -in fulcio_v1.crt.pem -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum
    assert_eq!(
        key.fingerprint(),
        "sha256:fef4e9beb17faa47735277cca7633ae5e670b8d83dce91508342397148f4e13a"
    );
    // A corrupted certificate is an error, not a key.
    let text = fs::read_to_string(&path).unwrap();
    let block = pem::parse(&text).unwrap();
    let mut der = block.contents().to_vec();
    der.truncate(der.len() / 2);
    let err = PublicKey::from_pem(pem::encode(&pem::Pem::new("CERTIFICATE", der)).as_bytes())
        .unwrap_err();
    assert!(matches!(err, KeyError::MalformedCertificate(_)), "{err:?}");
}

#[test]
fn rsa_public_key_pkcs1_pem_is_accepted() {
    let pkcs1 = load_public_key(&fixture("rsa-2048.rsa-public-key.pem")).unwrap();
    let spki = load_public_key(&fixture("rsa-2048-pkcs1.pub")).unwrap();
    assert_eq!(pkcs1, spki);
    assert_eq!(pkcs1.algorithm(), KeyAlgorithm::RsaPkcs1Sha256);
}

#[test]
fn fingerprints_are_stable() {
    // openssl pkey -pubin -in X.pub -outform DER | sha256sum
    let key = load_public_key(&derived_pub("cosign-keys_test-pemcosignkey.pub")).unwrap();
    assert_eq!(
        key.fingerprint(),
        "sha256:a6659c08b9909880c6e4bc51cab6fd7265673f67d614c20ba59a18957feb700d"
    );
    let key =
        load_public_key(&vectors().join("legacy-signatures/containers-image/cosign.pub")).unwrap();
    assert_eq!(
        key.fingerprint(),
        "sha256:c87a79018f346cc02482448b77296b0bea143ef2ccab99b04776fb0f638f301f"
    );
    // The same key from its PEM text and from its re-encoded PEM.
    let again = PublicKey::from_pem(key.to_pem().as_bytes()).unwrap();
    assert_eq!(again.fingerprint(), key.fingerprint());
    assert_eq!(again.spki_der(), key.spki_der());
}

#[test]
fn public_key_parsing_rejects_bad_input() {
    assert!(matches!(
        PublicKey::from_pem(b"not pem").unwrap_err(),
        KeyError::Pem(_)
    ));
    let private = fs::read(fixture("ed25519-pkcs8.pem")).unwrap();
    assert!(matches!(
        PublicKey::from_pem(&private).unwrap_err(),
        KeyError::UnexpectedPemLabel { .. }
    ));
    let good = load_public_key(&fixture("ed25519-pkcs8.pub")).unwrap();
    let mut trailing = good.spki_der().to_vec();
    trailing.push(0);
    assert!(matches!(
        PublicKey::from_spki_der(&trailing).unwrap_err(),
        KeyError::MalformedPublicKey { .. }
    ));
    // A P-256 key whose point is not on the curve.
    let p256 = SigningKey::generate_p256().unwrap().public_key();
    let mut off_curve = p256.spki_der().to_vec();
    let last = off_curve.len() - 1;
    off_curve[last] ^= 0x01;
    let err = PublicKey::from_spki_der(&off_curve).unwrap_err();
    assert!(
        matches!(err, KeyError::MalformedPublicKey { .. }),
        "{err:?}"
    );
    // RSA 1024 is too small.
    let err = load_public_key(&fixture("rsa-1024.too-small.pub")).unwrap_err();
    assert!(
        matches!(err.innermost(), KeyError::MalformedPublicKey { .. }),
        "{err:?}"
    );
}

#[test]
fn debug_output_has_no_secret_material() {
    let key = pkcs8_fixture("ec-p384-sec1.pem");
    let der = key.to_pkcs8_der().unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains("EcdsaP384Sha384"), "{debug}");
    // No run of 16 bytes of the PKCS#8 encoding shows up in hex or decimal.
    for window in der.chunks(16) {
        assert!(!debug.contains(&hex::encode(window)), "{debug}");
    }
    assert!(!debug.contains(&format!("{:?}", &der[..])));
    let password = Password::from("s3cret-password");
    assert!(!format!("{password:?}").contains("s3cret"));
}

#[test]
fn pkcs8_round_trip_for_every_algorithm() {
    for key in every_algorithm() {
        let der = key.to_pkcs8_der().unwrap();
        let back = SigningKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let pem = cosign::encrypt(&der, b"round").unwrap();
        let decrypted = cosign::decrypt(pem.as_bytes(), b"round").unwrap();
        assert_eq!(decrypted.public_key(), key.public_key());
    }
}

#[test]
fn from_pkcs8_rejects_sec1_and_pkcs1() {
    let sec1 = pem::parse(fs::read(fixture("ec-p384-sec1.pem")).unwrap()).unwrap();
    assert!(matches!(
        SigningKey::from_pkcs8_der(sec1.contents()).unwrap_err(),
        KeyError::Sec1Plaintext
    ));
    let pkcs1 = pem::parse(fs::read(fixture("rsa-2048-pkcs1.pem")).unwrap()).unwrap();
    assert!(matches!(
        SigningKey::from_pkcs8_der(pkcs1.contents()).unwrap_err(),
        KeyError::Pkcs1Plaintext
    ));
    assert!(matches!(
        SigningKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00").unwrap_err(),
        KeyError::UnsupportedPrivateKey
    ));
}

mod interop {
    use super::*;
    use sigstore::crypto::signing_key::SigStoreKeyPair;
    use sigstore::crypto::{CosignVerificationKey, Signature, SigningScheme};

    #[test]
    fn imprint_generated_key_pair_works_in_sigstore() {
        let dir = tempfile::tempdir().unwrap();
        let password = Password::from("interop");
        let (key_path, pub_path) =
            generate_key_pair(&dir.path().join("cosign"), &password, false).unwrap();
        let key_pem = fs::read(&key_path).unwrap();
        let pub_pem = fs::read(&pub_path).unwrap();

        let theirs = SigStoreKeyPair::from_encrypted_pem(&key_pem, b"interop").unwrap();
        let ours = load_signing_key(&key_path, &password).unwrap();
        assert_eq!(
            theirs.public_key_to_der().unwrap(),
            ours.public_key().spki_der()
        );

        // sigstore signs, imprint verifies.
        let signer = theirs
            .to_sigstore_signer(&SigningScheme::ECDSA_P256_SHA256_ASN1)
            .unwrap();
        let message = b"signed by sigstore-rs";
        let signature = signer.sign(message).unwrap();
        let public = load_public_key(&pub_path).unwrap();
        public.verify(message, &signature).unwrap();
        assert_bad_signature(&public, public.verify(b"tampered", &signature));

        // imprint signs, sigstore verifies with the .pub file.
        let verifier =
            CosignVerificationKey::from_pem(&pub_pem, &SigningScheme::ECDSA_P256_SHA256_ASN1)
                .unwrap();
        let signature = ours.sign(b"signed by imprint").unwrap();
        verifier
            .verify_signature(Signature::Raw(&signature), b"signed by imprint")
            .unwrap();
        let e = verifier
            .verify_signature(Signature::Raw(&signature), b"tampered")
            .unwrap_err();
        assert!(
            matches!(
                e,
                sigstore::errors::SigstoreError::PublicKeyVerificationError
            ),
            "{e:?}"
        );
        // Wrong password in sigstore too (sigstore-rs 0.15 reports it as an unparsable key).
        match SigStoreKeyPair::from_encrypted_pem(&key_pem, b"nope") {
            Ok(_) => panic!("sigstore opened the key with a wrong password"),
            Err(e) => assert!(
                matches!(e, sigstore::errors::SigstoreError::KeyParseError(_)),
                "{e:?}"
            ),
        }
    }

    #[test]
    fn sigstore_generated_keys_load_in_imprint() {
        for scheme in [
            SigningScheme::ECDSA_P256_SHA256_ASN1,
            SigningScheme::ED25519,
        ] {
            let signer = scheme.create_signer().unwrap();
            let pair = signer.to_sigstore_keypair().unwrap();
            let pem = pair.private_key_to_encrypted_pem(b"pw").unwrap();
            let ours = cosign::decrypt(pem.as_bytes(), b"pw").unwrap();
            assert_eq!(
                ours.public_key().spki_der(),
                pair.public_key_to_der().unwrap()
            );
            let signature = ours.sign(b"m").unwrap();
            let verifier = signer.to_verification_key().unwrap();
            verifier
                .verify_signature(Signature::Raw(&signature), b"m")
                .unwrap();
            let their_signature = signer.sign(b"m").unwrap();
            ours.public_key().verify(b"m", &their_signature).unwrap();
        }
    }
}

#[test]
fn example_public_keys_in_keys_dir_load() {
    let dir = crate::support::crate_path("keys");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("pub") => {
                load_public_key(&path).unwrap_or_else(|e| panic!("{e}"));
                count += 1;
            }
            Some("key") => panic!("private key in keys/: {}", path.display()),
            _ => {}
        }
    }
    assert!(count >= 2, "expected example keys in {}", dir.display());
    // The containers-image example is the vector's cosign.pub.
    assert_eq!(
        load_public_key(&dir.join("containers-image-fixtures.pub"))
            .unwrap()
            .fingerprint(),
        "sha256:c87a79018f346cc02482448b77296b0bea143ef2ccab99b04776fb0f638f301f"
    );
}

/// Regression (issue 10, "a world-readable private key file gets a warning"): signing with a
/// key file other users can read said nothing. Now `sign-blob` (like `sign` and `attest`)
/// warns, naming the mode and the fix; a private file gets no warning.
#[test]
fn signing_with_a_key_file_others_can_read_warns() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (key_path, _) = generate_key_pair(
        &dir.path().join("k"),
        &Password::from("test-password"),
        false,
    )
    .unwrap();
    let blob = dir.path().join("blob.txt");
    fs::write(&blob, b"hello").unwrap();
    let sign = || {
        crate::support::cli::run(crate::support::cli::imprint().args([
            "sign-blob",
            "--key",
            key_path.to_str().unwrap(),
            blob.to_str().unwrap(),
        ]))
    };
    let (code, _, stderr) = sign();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("accessible by other users"), "{stderr}");
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, stderr) = sign();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("accessible by other users") && stderr.contains("0644"),
        "{stderr}"
    );
}
