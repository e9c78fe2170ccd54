//! Keyless signatures and attestations of images, in both of cosign's formats:
//! - a Sigstore bundle v0.3 referrer (cosign v3): the in-toto statement signed as DSSE, the
//!   Fulcio certificate, the `intoto` Rekor entry and the RFC 3161 timestamp over the signature;
//! - a legacy `.sig` / `.att` layer (cosign v2, `--new-bundle-format=false`) with cosign's
//!   annotations: `dev.cosignproject.cosign/signature`, `dev.sigstore.cosign/certificate`
//!   (leaf PEM), `dev.sigstore.cosign/chain` (intermediates and root PEM),
//!   `dev.sigstore.cosign/bundle` (the Rekor SET and entry) and, with a TSA,
//!   `dev.sigstore.cosign/rfc3161timestamp` (over the signature for `.sig`, over the envelope for
//!   `.att`, as cosign stamps them).
//!
//! One [`KeylessSession`] (one ephemeral key, one certificate) signs everything of one command.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::keyless::{self, KeylessError, KeylessSession, StampOver};
use super::{Attached, AttestOptions, SignError, SignOptions, WriteFormat};
use crate::format::reference::ImageRef;
use crate::format::statement::COSIGN_SIGN_PREDICATE;
use crate::format::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::store::attach::{self, AppendOptions, Appended, Kind, NewLayer};
use crate::store::{Blob, Client, Repository, media_types};

/// Errors of keyless image signing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessImageError {
    /// Reading or writing the registry failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// A signing service failed.
    #[error(transparent)]
    Keyless(#[from] KeylessError),
}

impl From<crate::store::RegistryError> for KeylessImageError {
    fn from(e: crate::store::RegistryError) -> Self {
        Self::Sign(e.into())
    }
}

impl From<attach::AttachError> for KeylessImageError {
    fn from(e: attach::AttachError) -> Self {
        Self::Sign(e.into())
    }
}

fn created() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn keyless_annotations(
    session: &KeylessSession,
    signature_b64: String,
    entry: &keyless::RekorEntry,
    timestamp: Option<&[u8]>,
) -> Result<BTreeMap<String, String>, KeylessError> {
    let mut ann = BTreeMap::new();
    ann.insert(attach::SIGNATURE_ANNOTATION.to_owned(), signature_b64);
    ann.insert(
        attach::CERTIFICATE_ANNOTATION.to_owned(),
        session.leaf_pem(),
    );
    ann.insert(attach::CHAIN_ANNOTATION.to_owned(), session.chain_pem());
    ann.insert(
        attach::BUNDLE_ANNOTATION.to_owned(),
        entry.cosign_bundle_annotation()?,
    );
    if let Some(ts) = timestamp {
        ann.insert(
            attach::TIMESTAMP_ANNOTATION.to_owned(),
            keyless::cosign_timestamp_annotation(ts),
        );
    }
    Ok(ann)
}

/// Signs `image` (and with `recursive` each manifest of its index) keyless: a bundle referrer,
/// or a legacy `.sig` layer per identity (`opts.identities`, as [`super::sign_image`]).
/// `opts.payload` is not supported here (cosign's `--payload` is key-only in imprint).
pub async fn sign_image_keyless(
    client: &Client,
    image: &ImageRef,
    session: &KeylessSession,
    opts: &SignOptions,
) -> Result<Vec<Attached>, KeylessImageError> {
    let resolved = client.resolve(image).await?;
    let repo = &resolved.repository;
    let subjects = super::targets(image, &resolved.manifest, opts.recursive)?;
    let identities = match opts.format {
        WriteFormat::Legacy => super::identities(image, &resolved, opts).await?,
        WriteFormat::Bundle => Vec::new(),
    };
    let mut out = Vec::new();
    for subject in subjects {
        if opts.format == WriteFormat::Bundle {
            let statement = super::image_signature_statement(&subject.digest, &opts.annotations);
            let signed = session
                .sign_dsse(IN_TOTO_PAYLOAD_TYPE, &statement, StampOver::Signature)
                .await?;
            let bundle = session.dsse_bundle(&signed)?;
            let bytes = bundle
                .to_json()
                .map_err(|e| KeylessError::Bundle(e.to_string()))?;
            let manifest = attach::push_bundle_referrer(
                repo,
                &subject,
                Blob::new(bytes),
                COSIGN_SIGN_PREDICATE,
                &created(),
            )
            .await?;
            out.push(Attached {
                repository: repo.name().to_owned(),
                digest: subject.digest.clone(),
                outcome: Appended::Written {
                    manifest,
                    layers: 1,
                },
                format: WriteFormat::Bundle,
                signature: signed.signature,
            });
            continue;
        }
        for identity in &identities {
            let payload =
                format::simple_signing_payload(identity, &subject.digest, &opts.annotations);
            let signed = session.sign_message(&payload).await?;
            let ann = keyless_annotations(
                session,
                B64.encode(&signed.signature),
                &signed.entry,
                signed.timestamp.as_deref(),
            )?;
            let layer = NewLayer::new(media_types::SIMPLE_SIGNING, payload, ann);
            // A fresh certificate each run: no earlier layer is the same signature.
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
                signature: signed.signature,
            });
        }
    }
    Ok(out)
}

/// Attests `image` keyless with an in-toto statement of `opts.predicate_type`: a bundle
/// referrer, or a legacy `.att` layer (with `replace`, earlier ones of the type are dropped).
pub async fn attest_image_keyless(
    client: &Client,
    image: &ImageRef,
    session: &KeylessSession,
    opts: &AttestOptions,
) -> Result<Vec<Attached>, KeylessImageError> {
    let targets = super::AttestTargets::of(client, image, opts).await?;
    let repo = &targets.resolved.repository;
    let mut out = Vec::new();
    for subject in targets.subjects.iter().cloned() {
        // One joined copy of the statement: keyless signing hands whole payloads to the
        // signing session (the key path signs the PAE in parts, see `sign::attest_image`).
        let statement = targets.statement(&subject, opts).parts().concat();
        if opts.format == WriteFormat::Bundle {
            let signed = session
                .sign_dsse(IN_TOTO_PAYLOAD_TYPE, &statement, StampOver::Signature)
                .await?;
            let bundle = session.dsse_bundle(&signed)?;
            let bytes = bundle
                .to_json()
                .map_err(|e| KeylessError::Bundle(e.to_string()))?;
            let manifest = attach::push_bundle_referrer(
                repo,
                &subject,
                Blob::new(bytes),
                &opts.predicate_type,
                &created(),
            )
            .await?;
            out.push(Attached {
                repository: repo.name().to_owned(),
                digest: subject.digest.clone(),
                outcome: Appended::Written {
                    manifest,
                    layers: 1,
                },
                format: WriteFormat::Bundle,
                signature: Vec::new(),
            });
            continue;
        }
        let signed = session
            .sign_dsse(IN_TOTO_PAYLOAD_TYPE, &statement, StampOver::Envelope)
            .await?;
        let mut ann = keyless_annotations(
            session,
            String::new(),
            &signed.entry,
            signed.timestamp.as_deref(),
        )?;
        ann.insert(
            attach::PREDICATE_TYPE_ANNOTATION.to_owned(),
            opts.predicate_type.clone(),
        );
        let layer = NewLayer::new(media_types::DSSE_ENVELOPE, signed.envelope, ann);
        out.push(super::append_attestation(repo, &subject.digest, layer, opts, false).await?);
    }
    Ok(out)
}
