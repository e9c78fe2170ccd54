//! DSSE interop both ways with an independent implementation: Python `securesystemslib`
//! (driven by `tests/it/interop/dsse.py`). The test setup installs it
//! (`pip install 'securesystemslib[crypto]'`); if it is missing these tests fail, they do not skip.

use std::path::PathBuf;
use std::process::Command;

use crate::support::vectors;
use imprint::verify::blob::{BlobError, BlobEvidence};

/// The blob functions by the layer that holds them.
mod api {
    pub(super) use imprint::sign::blob::attest_blob;
    pub(super) use imprint::verify::blob::verify_blob_attestation;
}
use imprint::format::digest::Digest;
use imprint::format::{self, IN_TOTO_PAYLOAD_TYPE};
use imprint::keys::{self, PublicKey, SigningKey, password::Password};
use imprint::verify::proof::Source;

fn script() -> PathBuf {
    crate::support::crate_path("tests/it/interop/dsse.py")
}

/// Runs the Python side; returns (exit code, stdout + stderr). Fails with an install hint when
/// python3 or securesystemslib is missing.
fn python(args: &[&str]) -> (i32, String) {
    crate::support::require_python_modules(
        &["securesystemslib", "cryptography"],
        "pip install 'securesystemslib[crypto]' (Debian: python3-securesystemslib)",
    );
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn src() -> Source {
    Source::File {
        path: "interop".into(),
    }
}

#[test]
fn securesystemslib_signed_envelopes_verify_with_imprint() {
    let dir = tempfile::tempdir().unwrap();
    let artifact_digest = Digest::of(b"interop artifact");
    let statement = format::statement(
        "interop-artifact",
        &artifact_digest,
        "https://slsa.dev/provenance/v1",
        serde_json::json!({"buildDefinition": {"buildType": "https://example.com/t"}}),
    );
    let payload_file = dir.path().join("statement.json");
    std::fs::write(&payload_file, &statement).unwrap();
    for scheme in ["ecdsa-sha2-nistp256", "ed25519"] {
        let env_path = dir.path().join(format!("{scheme}.env.json"));
        let pub_path = dir.path().join(format!("{scheme}.pub"));
        let (code, text) = python(&[
            "sign",
            "--scheme",
            scheme,
            "--payload-file",
            payload_file.to_str().unwrap(),
            "--envelope-out",
            env_path.to_str().unwrap(),
            "--pub-out",
            pub_path.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{scheme}: {text}");
        let env_bytes = std::fs::read(&env_path).unwrap();
        let key = keys::load_public_key(&pub_path).unwrap();

        // Parses (securesystemslib's key order, non-empty keyid) and the PAE signature verifies.
        let env = format::parse_envelope(&env_bytes).unwrap();
        assert_eq!(env.payload, statement, "{scheme}");
        assert_eq!(
            env.signatures[0].keyid.as_deref(),
            Some("securesystemslib-test")
        );
        key.verify(&env.pae(), &env.signatures[0].sig)
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));

        // The full attestation check passes.
        let v = api::verify_blob_attestation(
            &key,
            &artifact_digest,
            BlobEvidence::Signature(&env_bytes),
            Some("https://slsa.dev/provenance/v1"),
            src(),
        )
        .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        assert_eq!(v.image(), &artifact_digest);

        // Tampered payload with the original signature: refused.
        let tampered_statement = String::from_utf8(statement.clone())
            .unwrap()
            .replace("example.com", "evil.example");
        let forged = format::envelope_json(
            IN_TOTO_PAYLOAD_TYPE,
            tampered_statement.as_bytes(),
            &env.signatures[0].sig,
        );
        let e = api::verify_blob_attestation(
            &key,
            &artifact_digest,
            BlobEvidence::Signature(&forged),
            None,
            src(),
        )
        .unwrap_err();
        assert!(matches!(e, BlobError::BadSignature { .. }), "{scheme}: {e}");

        // Another key: refused.
        let other = SigningKey::generate_p256().unwrap().public_key();
        let e = api::verify_blob_attestation(
            &other,
            &artifact_digest,
            BlobEvidence::Signature(&env_bytes),
            None,
            src(),
        )
        .unwrap_err();
        assert!(
            matches!(e, BlobError::BadSignature { ref fingerprint, .. } if *fingerprint == other.fingerprint()),
            "{e:?}"
        );
    }
}

fn vector_key(file: &str, password: &str) -> SigningKey {
    keys::load_signing_key(
        &vectors().join("keys").join(file),
        &Password::new(password.as_bytes()),
    )
    .unwrap()
}

#[test]
fn imprint_signed_envelopes_verify_with_securesystemslib() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, SigningKey); 3] = [
        ("ecdsa-sha2-nistp256", SigningKey::generate_p256().unwrap()),
        (
            "ed25519",
            vector_key("sigstore-rs-ed25519_encrypted_private.key", "123"),
        ),
        (
            "rsa-pkcs1v15-sha256",
            vector_key("sigstore-rs-rsa_encrypted_private.key", "123"),
        ),
    ];
    let digest = Digest::of(b"artifact for python");
    for (scheme, key) in cases {
        let att = api::attest_blob(
            &key,
            "artifact",
            &digest,
            "https://cyclonedx.org/bom",
            serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "note": "<&>"}),
        )
        .unwrap();
        let pub_path = dir.path().join(format!("{scheme}.pub"));
        std::fs::write(&pub_path, key.public_key().to_pem()).unwrap();
        let env_path = dir.path().join(format!("{scheme}.env.json"));
        std::fs::write(&env_path, &att.envelope).unwrap();
        let (code, text) = python(&[
            "verify",
            "--scheme",
            scheme,
            "--pub",
            pub_path.to_str().unwrap(),
            "--envelope",
            env_path.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{scheme}: {text}");
        assert!(text.contains("OK application/vnd.in-toto+json"), "{text}");

        // The Python side really checks: a tampered payload with our signature fails there too.
        let tampered = String::from_utf8(att.statement.clone())
            .unwrap()
            .replace("artifact", "artefact");
        let forged =
            format::envelope_json(IN_TOTO_PAYLOAD_TYPE, tampered.as_bytes(), &att.signature);
        let forged_path = dir.path().join(format!("{scheme}.forged.json"));
        std::fs::write(&forged_path, forged).unwrap();
        let (code, text) = python(&[
            "verify",
            "--scheme",
            scheme,
            "--pub",
            pub_path.to_str().unwrap(),
            "--envelope",
            forged_path.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{scheme}: {text}");
        assert!(text.contains("FAILED"), "{text}");
    }
}

#[test]
fn securesystemslib_verifies_cosign_vector_envelope() {
    // A cosign-made envelope (from cosign's tests) checked by the independent implementation:
    // pins that our reading of the vector is the same as securesystemslib's.
    let dir = vectors().join("attestations/cosign-blob-attestation");
    let (code, text) = python(&[
        "verify",
        "--scheme",
        "ecdsa-sha2-nistp256",
        "--pub",
        dir.join("cosign.pub").to_str().unwrap(),
        "--envelope",
        dir.join("blobSLSAProvenanceSignature.dsse.json")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    let key = PublicKey::from_pem(&std::fs::read(dir.join("cosign.pub")).unwrap()).unwrap();
    let env = format::parse_envelope(
        &std::fs::read(dir.join("blobSLSAProvenanceSignature.dsse.json")).unwrap(),
    )
    .unwrap();
    assert!(key.verify(&env.pae(), &env.signatures[0].sig).is_ok());
}
