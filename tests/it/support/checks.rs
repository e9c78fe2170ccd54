//! Discover an image's legacy attachments and run the library's candidate checks on each, so
//! a test asserts which [`Check`] rejected a candidate.

use std::collections::BTreeMap;

use imprint::format::digest::Digest;
use imprint::format::oci::ImageIndex;
use imprint::keys::PublicKey;
use imprint::sign::{AttestOptions, WriteFormat};
use imprint::store::discover::{self, Candidate, Discovered, SignatureFormat};
use imprint::store::{Limits, ManifestRef, Repository};
use imprint::verify::{
    self, CandidateFailure, Check, SignatureVerifier, VerifiedAttestation, VerifiedBundleItem,
    VerifiedSignature,
};

/// Attestation options with defaults (no replace, not recursive, default limits).
pub(crate) fn attest_options(
    format: WriteFormat,
    predicate_type: &str,
    predicate: serde_json::Value,
) -> AttestOptions {
    AttestOptions {
        predicate_type: predicate_type.to_owned(),
        predicate: predicate.into(),
        replace: false,
        recursive: false,
        limits: Limits::default(),
        format,
    }
}

async fn discover_legacy<R: Repository>(
    repo: &R,
    digest: &Digest,
    signatures: bool,
    attestations: bool,
) -> Discovered {
    discover::discover(
        repo,
        digest,
        SignatureFormat::Legacy,
        signatures,
        attestations,
        &Limits::default(),
    )
    .await
    .complete()
    .expect("discover")
}

/// Discover and check every `.sig` layer of `digest` with `key` and `required` annotations.
pub(crate) async fn signature_checks<R: Repository>(
    repo: &R,
    digest: &Digest,
    key: &PublicKey,
    required: &BTreeMap<String, String>,
) -> Vec<Result<VerifiedSignature, CandidateFailure>> {
    let v = SignatureVerifier::Key(key.clone());
    discover_legacy(repo, digest, true, false)
        .await
        .signatures
        .iter()
        .map(|c| verify::check_signature(c, digest, &v, required))
        .collect()
}

/// Discover the `.att` layers of `digest` and check each with `key` and `want`.
pub(crate) async fn attestation_checks<R: Repository>(
    repo: &R,
    digest: &Digest,
    key: &PublicKey,
    want: Option<&str>,
) -> Vec<Result<VerifiedAttestation, CandidateFailure>> {
    let v = SignatureVerifier::Key(key.clone());
    discover_legacy(repo, digest, false, true)
        .await
        .attestations
        .iter()
        .map(|c| verify::check_attestation(c, digest, &v, want))
        .collect()
}

/// Check every bundle candidate with `v` and `required` annotations.
pub(crate) fn bundle_checks(
    cands: &[Candidate],
    digest: &Digest,
    v: &SignatureVerifier,
    required: &BTreeMap<String, String>,
) -> Vec<Result<VerifiedBundleItem, CandidateFailure>> {
    cands
        .iter()
        .map(|c| verify::check_bundle(c, digest, v, required))
        .collect()
}

/// The check that rejected each candidate; panics if one passed.
pub(crate) fn failed_checks<T>(r: &[Result<T, CandidateFailure>]) -> Vec<Check> {
    r.iter()
        .map(|x| match x {
            Ok(_) => panic!("a candidate passed where all must fail"),
            Err(f) => f.check,
        })
        .collect()
}

/// Discover the bundle referrers of `digest` (signatures and attestations).
pub(crate) async fn bundles_of<R: Repository>(repo: &R, digest: &Digest) -> Vec<Candidate> {
    discover::discover(
        repo,
        digest,
        SignatureFormat::Bundle,
        true,
        true,
        &Limits::default(),
    )
    .await
    .complete()
    .expect("discover bundles")
    .bundles
}

/// The `sha256-<hex>` tag-schema referrers index of `digest` (it must exist).
pub(crate) async fn tag_index<R: Repository>(repo: &R, digest: &Digest) -> ImageIndex {
    let m = repo
        .get_manifest(ManifestRef::Tag(&digest.tag_base()))
        .await
        .expect("read the tag-schema index")
        .expect("tag-schema index exists");
    serde_json::from_slice(&m.bytes).expect("tag-schema index parses")
}
