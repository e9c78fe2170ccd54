//! Key-based image signatures and attestations logged in Rekor (`sign|attest --key K
//! --tlog-upload`), as cosign writes them:
//! - a Sigstore bundle v0.3 referrer: the key-signed DSSE envelope, the public-key hint and the
//!   `intoto` 0.0.2 Rekor entry (with the public key) in `verificationMaterial.tlogEntries`;
//! - a legacy `.sig` layer: the signature annotation and `dev.sigstore.cosign/bundle` (the Rekor
//!   SET, logIndex, logID, integratedTime and the `hashedrekord` 0.0.1 body over the payload);
//! - a legacy `.att` layer: the DSSE envelope, the predicate-type annotation and
//!   `dev.sigstore.cosign/bundle` of the `intoto` 0.0.2 entry.
//!
//! The Rekor code is [`super::keyless`]'s ([`keyless::upload_key_signature`],
//! [`keyless::upload_key_envelope`]). A bundle `sign` logs an `intoto` entry, not a
//! `hashedrekord` one: its signature is over the DSSE PAE of the statement, which only an
//! envelope entry binds (a hashedrekord entry would name a digest no verifier recomputes).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::keyless::{self, KeylessError, RekorEntry};
use super::keyless_image::KeylessImageError;
use super::{Attached, AttestOptions, SignError, SignOptions, WriteFormat};
use crate::format::reference::ImageRef;
use crate::format::statement::COSIGN_SIGN_PREDICATE;
use crate::format::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::SigningKey;
use crate::store::attach::{self, AppendOptions, Appended, Kind, NewLayer};
use crate::store::{Blob, Client, Repository, media_types};

/// Where key signatures are logged: the Rekor v1 base URL and the HTTP client.
#[derive(Debug, Clone)]
pub struct TlogUpload {
    /// Rekor base URL (`https://rekor.sigstore.dev`).
    pub rekor: String,
    /// The client for Rekor ([`keyless::http_client`]).
    pub http: reqwest::Client,
}

fn created() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A key bundle v0.3 (DSSE) with `entry` as its one tlog entry.
fn dsse_bundle_with_entry(
    key: &SigningKey,
    statement: &[u8],
    sig: &[u8],
    entry: &RekorEntry,
) -> Result<Vec<u8>, KeylessError> {
    let bytes = format::bundle::dsse_bundle(
        key.public_key().spki_der(),
        IN_TOTO_PAYLOAD_TYPE,
        statement,
        sig,
    );
    let mut v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| KeylessError::Bundle(format!("re-reading the key bundle: {e}")))?;
    let tlog = serde_json::to_value(entry.to_bundle_entry()?)
        .map_err(|e| KeylessError::Bundle(format!("encoding the tlog entry: {e}")))?;
    v["verificationMaterial"]["tlogEntries"] = serde_json::json!([tlog]);
    serde_json::to_vec(&v).map_err(|e| KeylessError::Bundle(format!("encoding the bundle: {e}")))
}

async fn push_referrer<R: Repository>(
    repo: &R,
    subject: &attach::Subject,
    bundle: Vec<u8>,
    predicate_type: &str,
) -> Result<Appended, KeylessImageError> {
    let manifest =
        attach::push_bundle_referrer(repo, subject, Blob::new(bundle), predicate_type, &created())
            .await?;
    Ok(Appended::Written {
        manifest,
        layers: 1,
    })
}

/// Signs `image` (and with `recursive` each manifest of its index) with `key` and logs each
/// signature in Rekor: a bundle referrer with the entry, or a legacy `.sig` layer per identity
/// (or of `opts.payload`) with the Rekor bundle annotation. A new entry is a new layer: no
/// earlier layer is taken as the same signature.
pub async fn sign_image_with_tlog(
    client: &Client,
    image: &ImageRef,
    key: &SigningKey,
    opts: &SignOptions,
    tlog: &TlogUpload,
) -> Result<Vec<Attached>, KeylessImageError> {
    let resolved = client.resolve(image).await?;
    let repo = &resolved.repository;
    let subjects = super::targets(image, &resolved.manifest, opts.recursive)?;
    let identities = match (opts.format, &opts.payload) {
        (WriteFormat::Legacy, None) => super::identities(image, &resolved, opts).await?,
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for subject in subjects {
        if opts.format == WriteFormat::Bundle {
            let statement = super::image_signature_statement(&subject.digest, &opts.annotations);
            let sig = key
                .sign(&format::pae(IN_TOTO_PAYLOAD_TYPE, &statement))
                .map_err(SignError::from)?;
            let entry =
                keyless::upload_key_envelope(&tlog.rekor, key, &statement, &sig, &tlog.http)
                    .await?;
            let bundle = dsse_bundle_with_entry(key, &statement, &sig, &entry)?;
            let outcome = push_referrer(repo, &subject, bundle, COSIGN_SIGN_PREDICATE).await?;
            out.push(Attached {
                repository: repo.name().to_owned(),
                digest: subject.digest.clone(),
                outcome,
                format: WriteFormat::Bundle,
                signature: sig,
            });
            continue;
        }
        let payloads: Vec<Vec<u8>> = match &opts.payload {
            Some(p) => vec![p.clone()],
            None => identities
                .iter()
                .map(|id| format::simple_signing_payload(id, &subject.digest, &opts.annotations))
                .collect(),
        };
        for payload in payloads {
            let sig = key.sign(&payload).map_err(SignError::from)?;
            let entry =
                keyless::upload_key_signature(&tlog.rekor, key, &payload, &sig, &tlog.http).await?;
            let mut ann = BTreeMap::new();
            ann.insert(attach::SIGNATURE_ANNOTATION.to_owned(), B64.encode(&sig));
            ann.insert(
                attach::BUNDLE_ANNOTATION.to_owned(),
                entry.cosign_bundle_annotation()?,
            );
            let layer = NewLayer::new(media_types::SIMPLE_SIGNING, payload, ann);
            let never = |_: &format::oci::Descriptor| false;
            let outcome = attach::append(
                repo,
                &subject.digest,
                Kind::Signature,
                layer,
                &AppendOptions {
                    max_layers: opts.limits.max_layers,
                    is_equivalent: &never,
                    drop_existing: None,
                },
            )
            .await?;
            out.push(Attached {
                repository: repo.name().to_owned(),
                digest: subject.digest.clone(),
                outcome,
                format: WriteFormat::Legacy,
                signature: sig,
            });
        }
    }
    Ok(out)
}

/// Attests `image` with `key` and logs each envelope in Rekor (`intoto` 0.0.2 with the public
/// key): a bundle referrer with the entry, or a legacy `.att` layer with the Rekor bundle
/// annotation (with `replace`, earlier ones of the predicate type are dropped).
pub async fn attest_image_with_tlog(
    client: &Client,
    image: &ImageRef,
    key: &SigningKey,
    opts: &AttestOptions,
    tlog: &TlogUpload,
) -> Result<Vec<Attached>, KeylessImageError> {
    let targets = super::AttestTargets::of(client, image, opts).await?;
    let repo = &targets.resolved.repository;
    let mut out = Vec::new();
    for subject in targets.subjects.iter().cloned() {
        // One joined copy of the statement: the Rekor entry and the signature need the whole
        // payload (the plain key path signs the PAE in parts, see `sign::attest_image`).
        let statement = targets.statement(&subject, opts).parts().concat();
        let sig = key
            .sign(&format::pae(IN_TOTO_PAYLOAD_TYPE, &statement))
            .map_err(SignError::from)?;
        let entry =
            keyless::upload_key_envelope(&tlog.rekor, key, &statement, &sig, &tlog.http).await?;
        if opts.format == WriteFormat::Bundle {
            let bundle = dsse_bundle_with_entry(key, &statement, &sig, &entry)?;
            let outcome = push_referrer(repo, &subject, bundle, &opts.predicate_type).await?;
            out.push(Attached {
                repository: repo.name().to_owned(),
                digest: subject.digest.clone(),
                outcome,
                format: WriteFormat::Bundle,
                signature: Vec::new(),
            });
            continue;
        }
        let envelope = format::envelope_json(IN_TOTO_PAYLOAD_TYPE, &statement, &sig);
        let mut ann = BTreeMap::new();
        ann.insert(attach::SIGNATURE_ANNOTATION.to_owned(), String::new());
        ann.insert(
            attach::PREDICATE_TYPE_ANNOTATION.to_owned(),
            opts.predicate_type.clone(),
        );
        ann.insert(
            attach::BUNDLE_ANNOTATION.to_owned(),
            entry.cosign_bundle_annotation()?,
        );
        let layer = NewLayer::new(media_types::DSSE_ENVELOPE, envelope, ann);
        out.push(super::append_attestation(repo, &subject.digest, layer, opts, false).await?);
    }
    Ok(out)
}
