//! Blob signing and attestation against real vectors (cosign's own test data, the Sigstore
//! conformance suite's key-based bundle, real SBOMs) and sign-then-verify with real cosign keys.

use std::path::{Path, PathBuf};

use crate::support::vectors;
use imprint::verify::blob::{BlobError, BlobEvidence};

/// The blob functions by the layer that holds them.
mod api {
    pub(super) use imprint::format::bundle::{
        dsse_bundle, message_signature_bundle, parse_key_bundle, public_key_hint, signature_base64,
    };
    pub(super) use imprint::sign::blob::{attest_blob, sign_blob};
    pub(super) use imprint::verify::blob::{verify_blob, verify_blob_attestation};
}
use imprint::format::digest::Digest;
use imprint::format::{self, IN_TOTO_PAYLOAD_TYPE, PayloadError};
use imprint::keys::{self, PublicKey, SigningKey, password::Password};
use imprint::verify::proof::Source;

fn att_dir() -> PathBuf {
    vectors().join("attestations/cosign-blob-attestation")
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

fn src() -> Source {
    Source::File {
        path: "test".into(),
    }
}

fn cosign_pub() -> PublicKey {
    PublicKey::from_pem(&read(att_dir().join("cosign.pub"))).unwrap()
}

const ENVELOPES: [&str; 5] = [
    "blobSLSAProvenanceSignature",
    "dssePredicateEmptySubject",
    "dssePredicateMissingSha256",
    "dssePredicateMultipleSubjects",
    "dssePredicateMultipleSubjectsInvalid",
];

#[test]
fn all_five_cosign_envelopes_verify_cryptographically() {
    let key = cosign_pub();
    for name in ENVELOPES {
        let env =
            format::parse_envelope(&read(att_dir().join(format!("{name}.dsse.json")))).unwrap();
        assert_eq!(env.payload_type, IN_TOTO_PAYLOAD_TYPE);
        key.verify(&env.pae(), &env.signatures[0].sig)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Tampering with one payload byte breaks it.
        let mut tampered = env.payload.clone();
        tampered[10] ^= 1;
        let err = key
            .verify(
                &format::pae(&env.payload_type, &tampered),
                &env.signatures[0].sig,
            )
            .unwrap_err();
        assert!(
            matches!(err, keys::KeyError::BadSignature { ref fingerprint, .. } if *fingerprint == key.fingerprint()),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn cosign_blob_attestation_vectors_behave_as_readme_says() {
    let key = cosign_pub();
    let digest = Digest::of(&read(att_dir().join("blob")));
    assert_eq!(
        digest.hex(),
        "658781cd4ed9bca60dacd09f7bb914bb51502e8b5d619f57f39a1d652596cc24"
    );
    let verify = |name: &str, ty: Option<&str>| {
        let env = read(att_dir().join(format!("{name}.dsse.json")));
        api::verify_blob_attestation(&key, &digest, BlobEvidence::Signature(&env), ty, src())
    };
    for ok in [
        "blobSLSAProvenanceSignature",
        "dssePredicateMultipleSubjects",
    ] {
        let v = verify(ok, None).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(v.predicate_type(), "https://slsa.dev/provenance/v0.2");
        assert_eq!(v.image(), &digest);
        let slsa = format::predicate_type_uri("slsaprovenance").unwrap();
        assert!(verify(ok, Some(&slsa)).is_ok());
        let e = verify(ok, Some("https://cyclonedx.org/bom")).unwrap_err();
        assert!(matches!(e, BlobError::PredicateType { .. }), "{e}");
    }
    let e = verify("dssePredicateEmptySubject", None).unwrap_err();
    assert!(
        matches!(e, BlobError::Payload(PayloadError::EmptySubject { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("empty subject"), "{e}");
    let e = verify("dssePredicateMissingSha256", None).unwrap_err();
    assert!(
        matches!(e, BlobError::Payload(PayloadError::NoSha256Subject { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("sha256"), "{e}");
    let e = verify("dssePredicateMultipleSubjectsInvalid", None).unwrap_err();
    assert!(
        matches!(e, BlobError::Payload(PayloadError::SubjectMismatch { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("no subject"), "{e}");

    // Base64 of the envelope (how the Go test feeds it to cosign) is read too.
    use base64::Engine as _;
    let env = read(att_dir().join("blobSLSAProvenanceSignature.dsse.json"));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&env);
    assert!(
        api::verify_blob_attestation(
            &key,
            &digest,
            BlobEvidence::Signature(b64.as_bytes()),
            None,
            src()
        )
        .is_ok()
    );
    // Another key refuses them all.
    let other = PublicKey::from_pem(&read(
        vectors().join("legacy-signatures/containers-image/cosign2.pub"),
    ))
    .unwrap();
    let e =
        api::verify_blob_attestation(&other, &digest, BlobEvidence::Signature(&env), None, src())
            .unwrap_err();
    assert!(matches!(e, BlobError::BadSignature { .. }), "{e}");
}

#[test]
fn conformance_managed_key_bundle_verifies() {
    let dir = vectors().join("bundles/conformance/managed-key-happy-path");
    let key = PublicKey::from_pem(&read(dir.join("key.pub"))).unwrap();
    let bundle = read(dir.join("bundle.sigstore.json"));
    let parsed = api::parse_key_bundle(&bundle).unwrap();
    // cosign's hint rule: base64(sha256(SPKI DER)), the same as the suite's bundle.
    assert_eq!(parsed.hint, api::public_key_hint(key.spki_der()));
    let artifact = read(vectors().join("bundles/conformance/a.txt"));
    let v = api::verify_blob(&key, &artifact, BlobEvidence::Bundle(&bundle), src()).unwrap();
    assert_eq!(v.tlog_entries_unchecked(), 1);
    let mut other = artifact;
    other.push(b'\n');
    let e = api::verify_blob(&key, &other, BlobEvidence::Bundle(&bundle), src()).unwrap_err();
    assert!(matches!(e, BlobError::MessageDigestMismatch { .. }), "{e}");
}

#[test]
fn keyless_bundles_are_pointed_to_verify_bundle() {
    let key = cosign_pub();
    for f in [
        "bundles/conformance/happy-path-v0.3/bundle.sigstore.json",
        "bundles/cosign-oci-attestation/oci-attestation.sigstore.json",
    ] {
        let bundle = read(vectors().join(f));
        let e = api::verify_blob(&key, b"x", BlobEvidence::Bundle(&bundle), src()).unwrap_err();
        assert!(
            matches!(e, BlobError::Payload(PayloadError::KeylessBundle)),
            "{f}: {e}"
        );
        assert!(e.to_string().contains("verify-bundle"), "{e}");
    }
}

fn signing_key(file: &str, password: &str) -> SigningKey {
    keys::load_signing_key(
        &vectors().join("keys").join(file),
        &Password::new(password.as_bytes()),
    )
    .unwrap()
}

fn derived_pub(file: &str) -> PublicKey {
    keys::load_public_key(&vectors().join("derived/keys").join(file)).unwrap()
}

#[test]
fn sign_blob_with_real_cosign_keys_then_verify() {
    let cases = [
        (
            "cosign-keys_test-pemcosignkey.key",
            "hello",
            "cosign-keys_test-pemcosignkey.pub",
        ),
        (
            "sigstore-rs-ecdsa_encrypted_private.key",
            "123",
            "sigstore-rs-ecdsa_encrypted_private.pub",
        ),
        (
            "sigstore-rs-rsa_encrypted_private.key",
            "123",
            "sigstore-rs-rsa_encrypted_private.pub",
        ),
        (
            "sigstore-rs-ed25519_encrypted_private.key",
            "123",
            "sigstore-rs-ed25519_encrypted_private.pub",
        ),
    ];
    let blob_bytes = b"release-artifact-1.2.3.tar.gz contents";
    let wrong = derived_pub("cosign-keys_test-pemsigstorekey.pub");
    for (key_file, pw, pub_file) in cases {
        let k = signing_key(key_file, pw);
        let pk = derived_pub(pub_file);
        let sig = api::sign_blob(&k, blob_bytes).unwrap();
        let b64 = api::signature_base64(&sig);
        api::verify_blob(
            &pk,
            blob_bytes,
            BlobEvidence::Signature(b64.as_bytes()),
            src(),
        )
        .unwrap_or_else(|e| panic!("{key_file}: {e}"));
        let bundle = api::message_signature_bundle(pk.spki_der(), &Digest::of(blob_bytes), &sig);
        api::verify_blob(&pk, blob_bytes, BlobEvidence::Bundle(&bundle), src())
            .unwrap_or_else(|e| panic!("{key_file} bundle: {e}"));
        // Wrong key, tampered blob, tampered signature.
        let bad_signature = |key: &PublicKey, e: BlobError| {
            assert!(
                matches!(e, BlobError::BadSignature { what: "the blob signature", ref fingerprint, .. } if *fingerprint == key.fingerprint()),
                "{key_file}: {e:?}"
            );
        };
        bad_signature(
            &wrong,
            api::verify_blob(
                &wrong,
                blob_bytes,
                BlobEvidence::Signature(b64.as_bytes()),
                src(),
            )
            .unwrap_err(),
        );
        bad_signature(
            &pk,
            api::verify_blob(
                &pk,
                b"tampered",
                BlobEvidence::Signature(b64.as_bytes()),
                src(),
            )
            .unwrap_err(),
        );
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let bad_b64 = api::signature_base64(&bad);
        bad_signature(
            &pk,
            api::verify_blob(
                &pk,
                blob_bytes,
                BlobEvidence::Signature(bad_b64.as_bytes()),
                src(),
            )
            .unwrap_err(),
        );
    }
}

#[test]
fn attest_blob_with_real_sboms_then_verify() {
    let k = signing_key("cosign-keys_test-pemcosignkey.key", "hello");
    let pk = derived_pub("cosign-keys_test-pemcosignkey.pub");
    let artifact = b"an image tarball";
    let digest = Digest::of(artifact);
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors().join("predicates/sbom"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(crate::support::crate_path(
        "testdata/sbom/imprint.cdx-1.5.json",
    ));
    assert!(files.len() >= 10);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let (flag, wrong_flag) = if name.contains(".spdx.") {
            ("spdxjson", "cyclonedx")
        } else {
            ("cyclonedx", "spdxjson")
        };
        let uri = format::predicate_type_uri(flag).unwrap();
        let bytes = imprint::fs::read_limited(&f, format::DEFAULT_MAX_PREDICATE_BYTES).unwrap();
        // Declared as the wrong SBOM type: refused before signing, naming the right flag.
        let wrong_uri = format::predicate_type_uri(wrong_flag).unwrap();
        let e = format::load_predicate(&wrong_uri, &bytes, format::DEFAULT_MAX_PREDICATE_BYTES)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("--type {flag}")), "{name}: {e}");
        let pred = format::load_predicate(&uri, &bytes, format::DEFAULT_MAX_PREDICATE_BYTES)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let att = api::attest_blob(&k, "artifact.tar", &digest, &uri, pred.clone()).unwrap();
        let bundle = api::dsse_bundle(
            pk.spki_der(),
            IN_TOTO_PAYLOAD_TYPE,
            &att.statement,
            &att.signature,
        );
        for ev in [
            BlobEvidence::Signature(&att.envelope),
            BlobEvidence::Bundle(&bundle),
        ] {
            let v = api::verify_blob_attestation(&pk, &digest, ev, Some(&uri), src())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(v.predicate_value(u64::MAX).unwrap(), pred, "{name}");
            let e = api::verify_blob_attestation(&pk, &digest, ev, Some(&wrong_uri), src())
                .unwrap_err();
            assert!(matches!(e, BlobError::PredicateType { .. }), "{name}: {e}");
            let e = api::verify_blob_attestation(&pk, &Digest::of(b"other"), ev, None, src())
                .unwrap_err();
            assert!(
                matches!(e, BlobError::Payload(PayloadError::SubjectMismatch { .. })),
                "{name}: {e}"
            );
        }
    }
}

#[test]
fn tampered_envelope_payload_with_original_signature_is_refused() {
    let k = signing_key("cosign-keys_test-pemcosignkey.key", "hello");
    let pk = k.public_key();
    let digest = Digest::of(b"x");
    let att = api::attest_blob(
        &k,
        "x",
        &digest,
        format::predicate::CUSTOM,
        serde_json::json!({"Data": "a", "Timestamp": "2026-01-01T00:00:00Z"}),
    )
    .unwrap();
    // Same signature, statement claiming another predicate type.
    let forged_statement = String::from_utf8(att.statement.clone())
        .unwrap()
        .replace(format::predicate::CUSTOM, "https://slsa.dev/provenance/v1");
    let forged = format::envelope_json(
        IN_TOTO_PAYLOAD_TYPE,
        forged_statement.as_bytes(),
        &att.signature,
    );
    let e =
        api::verify_blob_attestation(&pk, &digest, BlobEvidence::Signature(&forged), None, src())
            .unwrap_err();
    assert!(matches!(e, BlobError::BadSignature { .. }), "{e}");
}

#[test]
fn legacy_att_vector_parses_with_logged_hash() {
    let dir = vectors().join("derived/legacy-att-keyless-from-cosign-bundle");
    let raw = read(dir.join("layer-envelope.json"));
    let rekor: serde_json::Value =
        serde_json::from_slice(&read(dir.join("rekor-bundle.json"))).unwrap();
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD
        .decode(rekor["Payload"]["body"].as_str().unwrap())
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let logged = body["spec"]["envelopeHash"]["value"].as_str().unwrap();
    assert_eq!(Digest::of(&raw).hex(), logged);
    let env = format::parse_envelope(&raw).unwrap();
    let st = format::parse_statement(&env.payload).unwrap();
    assert_eq!(
        st.predicate_type,
        "https://cosign.sigstore.dev/attestation/v1"
    );
    assert!(
        st.has_subject_digest(
            &"sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
                .parse()
                .unwrap()
        )
    );
}

#[test]
fn policy_custom_vector_parses() {
    let raw = read(vectors().join("attestations/cosign-policy-testdata-valid-custom.dsse.json"));
    let env = format::parse_envelope(&raw).unwrap();
    let st = format::parse_statement(&env.payload).unwrap();
    assert_eq!(
        st.predicate_type,
        format::predicate_type_uri("custom").unwrap()
    );
    assert_eq!(
        format::predicate_value(&env.payload, u64::MAX).unwrap()["Data"],
        "foobar test attestation"
    );
}

#[test]
fn written_bundles_parse_with_sigstore_types() {
    // An independent reader of the protobuf-JSON bundle (sigstore-types, the Rust Sigstore
    // model) reads what we write. We do not serialize with it: it always emits `tlogEntries: []`
    // and `timestampVerificationData`, which protojson (cosign) omits when empty.
    let k = signing_key("cosign-keys_test-pemcosignkey.key", "hello");
    let pk = k.public_key();
    let data = b"bundle me";
    let sig = api::sign_blob(&k, data).unwrap();
    let ms = api::message_signature_bundle(pk.spki_der(), &Digest::of(data), &sig);
    let parsed = sigstore_types::Bundle::from_json(std::str::from_utf8(&ms).unwrap()).unwrap();
    assert!(matches!(
        parsed.content,
        sigstore_types::bundle::SignatureContent::MessageSignature(_)
    ));
    let att = api::attest_blob(
        &k,
        "x",
        &Digest::of(data),
        format::predicate::SLSA_PROVENANCE_V1,
        serde_json::json!({}),
    )
    .unwrap();
    let dsse = api::dsse_bundle(
        pk.spki_der(),
        IN_TOTO_PAYLOAD_TYPE,
        &att.statement,
        &att.signature,
    );
    let parsed = sigstore_types::Bundle::from_json(std::str::from_utf8(&dsse).unwrap()).unwrap();
    assert!(matches!(
        parsed.content,
        sigstore_types::bundle::SignatureContent::DsseEnvelope(_)
    ));
}
