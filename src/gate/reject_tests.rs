//! Issue 9: reason codes come from the typed cause of a rejection, never from its text. Real
//! vectors where they fit (`../shared/vectors`, see its README).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::format::oci::Descriptor;
use crate::keys::SigningKey;
use crate::store::attach;
use crate::store::discover::{Candidate, Discovered, Source};
use crate::store::media_types;
use crate::trust::{GithubClaims, Matcher};
use crate::verify::bundle::BundleCheck;

const GH_OAUTH: &str = "https://github.com/login/oauth";

fn vectors() -> std::path::PathBuf {
    crate::format::vectors_dir()
}

fn keyless(identity: &str, issuer: &str) -> SignatureVerifier {
    SignatureVerifier::Keyless {
        identity: IdentityPolicy::new(
            Matcher::Exact(identity.into()),
            Matcher::Exact(issuer.into()),
            GithubClaims::default(),
        )
        .unwrap(),
        trust: Arc::new(trust::TrustRoot::public_good().unwrap()),
    }
}

fn bundle_candidate(bytes: Vec<u8>) -> Candidate {
    let descriptor = Descriptor::for_bytes(media_types::SIGSTORE_BUNDLE_V03, &bytes);
    Candidate {
        source: Source::Bundle {
            referrer: Digest::of(b"referrer"),
            layer: descriptor.digest.clone(),
        },
        descriptor,
        content: Ok(Arc::new(bytes)),
    }
}

fn only(found: Discovered, digest: &Digest, verifier: &SignatureVerifier) -> AuthorityEvidence {
    authority_evidence(image::check_found(
        &found,
        digest,
        verifier,
        SignatureFormat::Any,
        &image::Wanted::everything(),
    ))
}

/// The reason code of the one rejection of `ev` (nothing verified; one failure checked).
fn rejected(ev: &AuthorityEvidence, failures: &[CandidateFailure]) -> policy::ReasonCode {
    assert!(ev.signatures.is_empty() && ev.attestations.is_empty());
    assert_eq!(ev.rejected.len(), 1, "{:?}", ev.rejected);
    assert_eq!(failures.len(), 1);
    ev.rejected[0].code
}

/// The legacy keyless `.sig` layer derived from containers/image's test data, as a candidate,
/// with its chain annotation replaced by `chain`.
fn legacy_keyless_layer(chain: Option<String>) -> (Candidate, Digest) {
    let dir = vectors().join("derived/legacy-sig-keyless-containers-image");
    let payload = std::fs::read(dir.join("payload.json")).unwrap();
    let mut annotations: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir.join("layer-annotations.json")).unwrap())
            .unwrap();
    if let Some(chain) = chain {
        annotations.insert(attach::CHAIN_ANNOTATION.into(), chain);
    }
    let image = crate::format::parse_simple_signing(&payload)
        .unwrap()
        .digest;
    let mut descriptor = Descriptor::for_bytes(media_types::SIMPLE_SIGNING, &payload);
    descriptor.annotations = Some(annotations);
    let c = Candidate {
        source: Source::LegacyLayer {
            manifest: Digest::of(b"sig manifest"),
            layer: descriptor.digest.clone(),
            index: 0,
        },
        descriptor,
        content: Ok(Arc::new(payload)),
    };
    (c, image)
}

#[test]
fn legacy_keyless_layer_with_a_broken_chain_is_signature_invalid_not_identity_mismatch() {
    let verifier = keyless("mitr@redhat.com", GH_OAUTH);
    // Control: the layer as cosign wrote it verifies under this authority.
    let (good, image) = legacy_keyless_layer(None);
    let found = Discovered {
        signatures: vec![good.clone()],
        ..Discovered::default()
    };
    let ev = only(found, &image, &verifier);
    assert_eq!(ev.signatures.len(), 1, "{:?}", ev.rejected);

    // The same chain certificates in the wrong order (root first): the chain is broken. Its
    // message says "is not the issuer of the certificate before it", which the old substring
    // match ("issuer") reported as identity-mismatch.
    let chain = good
        .descriptor
        .annotation(attach::CHAIN_ANNOTATION)
        .unwrap()
        .to_owned();
    let mut blocks = pem::parse_many(&chain).unwrap();
    assert_eq!(blocks.len(), 2);
    blocks.reverse();
    let (broken, _) = legacy_keyless_layer(Some(pem::encode_many(&blocks)));
    let found = Discovered {
        signatures: vec![broken],
        ..Discovered::default()
    };
    let checked = verify::check_discovered(
        &found,
        &image,
        &verifier,
        SignatureFormat::Any,
        &BTreeMap::new(),
        None,
    );
    assert_eq!(checked.failures[0].check, Check::Certificate);
    assert_eq!(
        checked.failures[0].cause,
        Cause::Sigstore(BundleCheck::CertificateChain),
        "{}",
        checked.failures[0]
    );
    let ev = only(found, &image, &verifier);
    assert_eq!(
        rejected(&ev, &checked.failures),
        policy::ReasonCode::SignatureInvalid,
        "{:?}",
        ev.rejected
    );
}

#[test]
fn keyless_bundle_with_another_identity_or_issuer_is_identity_mismatch() {
    // cosign's keyless OCI attestation bundle (Rekor entry, Fulcio certificate for
    // cody@soyland.com via GitHub OAuth) about this subject.
    let bytes = std::fs::read(
        vectors().join("bundles/cosign-oci-attestation/oci-attestation.sigstore.json"),
    )
    .unwrap();
    let subject: Digest = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
        .parse()
        .unwrap();
    let found = || Discovered {
        bundles: vec![bundle_candidate(bytes.clone())],
        ..Discovered::default()
    };
    // Control: verified under the right identity.
    let ev = only(found(), &subject, &keyless("cody@soyland.com", GH_OAUTH));
    assert_eq!(ev.attestations.len(), 1, "{:?}", ev.rejected);

    for (verifier, which) in [
        (keyless("someone@else.com", GH_OAUTH), BundleCheck::Identity),
        (
            keyless("cody@soyland.com", "https://accounts.google.com"),
            BundleCheck::Issuer,
        ),
    ] {
        let checked = verify::check_discovered(
            &found(),
            &subject,
            &verifier,
            SignatureFormat::Any,
            &BTreeMap::new(),
            None,
        );
        assert_eq!(checked.failures[0].cause, Cause::Sigstore(which));
        let ev = only(found(), &subject, &verifier);
        assert_eq!(
            rejected(&ev, &checked.failures),
            policy::ReasonCode::IdentityMismatch,
            "{:?}",
            ev.rejected
        );
    }
    // The same bundle checked against another image is about another digest.
    let other = Digest::of(b"another image");
    let ev = only(found(), &other, &keyless("cody@soyland.com", GH_OAUTH));
    assert_eq!(ev.rejected.len(), 1);
    assert_eq!(ev.rejected[0].code, policy::ReasonCode::DigestMismatch);
}

fn key_bundle(key: &SigningKey, image: &Digest) -> Vec<u8> {
    let statement = crate::sign::image_signature_statement(image, &BTreeMap::new());
    let sig = key
        .sign(&crate::format::pae(
            crate::format::IN_TOTO_PAYLOAD_TYPE,
            &statement,
        ))
        .unwrap();
    crate::format::bundle::dsse_bundle(
        key.public_key().spki_der(),
        crate::format::IN_TOTO_PAYLOAD_TYPE,
        &statement,
        &sig,
    )
}

#[test]
fn key_bundle_signed_by_another_key_is_identity_mismatch_and_tampering_is_not() {
    let alice = SigningKey::generate_p256().unwrap();
    let bob = SigningKey::generate_p256().unwrap();
    let image = Digest::of(b"image");
    let by_alice = key_bundle(&alice, &image);
    let found = |bytes: &[u8]| Discovered {
        bundles: vec![bundle_candidate(bytes.to_vec())],
        ..Discovered::default()
    };
    let as_bob = SignatureVerifier::Key(bob.public_key());
    // Control: alice's key verifies alice's bundle.
    let ev = only(
        found(&by_alice),
        &image,
        &SignatureVerifier::Key(alice.public_key()),
    );
    assert_eq!(ev.signatures.len(), 1, "{:?}", ev.rejected);

    // Alice's bundle (its hint names alice's key) checked under bob's key: signed by someone
    // else, not tampered with.
    let checked = verify::check_discovered(
        &found(&by_alice),
        &image,
        &as_bob,
        SignatureFormat::Any,
        &BTreeMap::new(),
        None,
    );
    assert_eq!(checked.failures[0].check, Check::Signature);
    assert_eq!(checked.failures[0].cause, Cause::OtherKey);
    assert!(
        checked.failures[0]
            .message
            .contains("names a different key"),
        "{}",
        checked.failures[0]
    );
    let ev = only(found(&by_alice), &image, &as_bob);
    assert_eq!(
        rejected(&ev, &checked.failures),
        policy::ReasonCode::IdentityMismatch,
        "{:?}",
        ev.rejected
    );

    // Bob's own bundle with its signature changed: the hint names bob's key, so this is
    // tampering, signature-invalid.
    let mut v: serde_json::Value = serde_json::from_slice(&key_bundle(&bob, &image)).unwrap();
    let sig = v["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if sig.starts_with('M') { "N" } else { "M" };
    v["dsseEnvelope"]["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
    let tampered = serde_json::to_vec(&v).unwrap();
    let ev = only(found(&tampered), &image, &as_bob);
    assert_eq!(ev.rejected.len(), 1);
    assert_eq!(ev.rejected[0].code, policy::ReasonCode::SignatureInvalid);
    // So is alice's bundle with no hint at all: nothing says who signed it.
    let mut v: serde_json::Value = serde_json::from_slice(&by_alice).unwrap();
    v["verificationMaterial"]["publicKey"] = serde_json::json!({});
    let ev = only(found(&serde_json::to_vec(&v).unwrap()), &image, &as_bob);
    assert_eq!(ev.rejected.len(), 1);
    assert_eq!(ev.rejected[0].code, policy::ReasonCode::SignatureInvalid);
}
