//! Signing and attesting images, written exactly as cosign writes them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::attach::{self, AppendOptions, Appended, Kind, NewLayer};
use crate::digest::Digest;
use crate::keys::{KeyError, SigningKey};
use crate::oci::ImageIndex;
use crate::payload;
use crate::reference::ImageRef;
use crate::registry::{Client, Limits, RegistryError, Repository, media_types};

/// Errors while signing or attesting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// Registry failure.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Attachment write failure.
    #[error(transparent)]
    Attach(#[from] attach::AttachError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Key(#[from] KeyError),
    /// The image does not exist.
    #[error("image `{0}` not found")]
    NotFound(String),
    /// `--recursive` on something that is not an index, or a malformed index.
    #[error("image index `{reference}` is malformed: {message}")]
    Index {
        /// Image.
        reference: String,
        /// Why.
        message: String,
    },
}

/// Options for [`sign_image`].
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// `-a k=v` annotations, signed into the payload's `optional` map.
    pub annotations: BTreeMap<String, String>,
    /// Also sign every manifest of an index.
    pub recursive: bool,
    /// Limits for reading existing attachments.
    pub limits: Limits,
}

/// One digest that was signed or attested.
#[derive(Debug, Clone)]
pub struct Attached {
    /// Repository name.
    pub repository: String,
    /// The signed digest.
    pub digest: Digest,
    /// What happened on the registry.
    pub outcome: Appended,
}

/// Sign `image` (and, with `recursive`, each manifest of its index) with `key`, appending a
/// legacy `.sig` layer cosign-style.
pub async fn sign_image(
    client: &Client,
    image: &ImageRef,
    key: &SigningKey,
    opts: &SignOptions,
) -> Result<Vec<Attached>, SignError> {
    let resolved = client.resolve(image).await?;
    let repo = &resolved.repository;
    let mut digests = vec![resolved.manifest.digest.clone()];
    if opts.recursive {
        digests.extend(index_children(
            image,
            &resolved.manifest.media_type,
            &resolved.manifest.bytes,
        )?);
    }
    let public = key.public_key();
    let mut out = Vec::with_capacity(digests.len());
    for digest in digests {
        let bytes = payload::simple_signing_payload(repo.name(), &digest, &opts.annotations);
        let sig = key.sign(&bytes)?;
        let mut ann = BTreeMap::new();
        ann.insert(attach::SIGNATURE_ANNOTATION.to_owned(), B64.encode(&sig));
        let layer = NewLayer::new(media_types::SIMPLE_SIGNING, bytes.clone(), ann);
        // cosign's dedupe: an existing layer with the same payload whose signature verifies
        // with this signer's key makes the new one redundant.
        let is_equivalent = |d: &crate::oci::Descriptor| {
            d.annotation(attach::SIGNATURE_ANNOTATION)
                .and_then(|s| B64.decode(s.trim()).ok())
                .is_some_and(|s| public.verify(&bytes, &s).is_ok())
        };
        let outcome = attach::append(
            repo,
            &digest,
            Kind::Signature,
            layer,
            &AppendOptions {
                max_layers: opts.limits.max_layers,
                is_equivalent: &is_equivalent,
                drop_existing: None,
            },
        )
        .await?;
        out.push(Attached {
            repository: repo.name().to_owned(),
            digest,
            outcome,
        });
    }
    Ok(out)
}

/// Options for [`attest_image`].
#[derive(Debug, Clone)]
pub struct AttestOptions {
    /// The predicate type URI.
    pub predicate_type: String,
    /// The predicate (already validated against its type).
    pub predicate: serde_json::Value,
    /// Replace earlier attestations of the same predicate type.
    pub replace: bool,
    /// Also attest each manifest of an index.
    pub recursive: bool,
    /// Limits.
    pub limits: Limits,
}

/// Attest `image` with an in-toto statement of `opts.predicate_type`, stored as a legacy
/// `.att` DSSE layer.
pub async fn attest_image(
    client: &Client,
    image: &ImageRef,
    key: &SigningKey,
    opts: &AttestOptions,
) -> Result<Vec<Attached>, SignError> {
    let resolved = client.resolve(image).await?;
    let repo = &resolved.repository;
    let mut digests = vec![resolved.manifest.digest.clone()];
    if opts.recursive {
        digests.extend(index_children(
            image,
            &resolved.manifest.media_type,
            &resolved.manifest.bytes,
        )?);
    }
    let mut out = Vec::with_capacity(digests.len());
    for digest in digests {
        let statement = payload::statement(
            repo.name(),
            &digest,
            &opts.predicate_type,
            opts.predicate.clone(),
        );
        let sig = key.sign(&payload::pae(payload::IN_TOTO_PAYLOAD_TYPE, &statement))?;
        let envelope = payload::envelope_json(payload::IN_TOTO_PAYLOAD_TYPE, &statement, &sig);
        let mut ann = BTreeMap::new();
        ann.insert(attach::SIGNATURE_ANNOTATION.to_owned(), String::new());
        ann.insert(
            attach::PREDICATE_TYPE_ANNOTATION.to_owned(),
            opts.predicate_type.clone(),
        );
        let layer = NewLayer::new(media_types::DSSE_ENVELOPE, envelope, ann);
        // Identical envelope bytes (deterministic signatures) are the same attestation.
        let is_equivalent = |_: &crate::oci::Descriptor| true;
        let ptype = opts.predicate_type.clone();
        let drop_same_type = move |d: &crate::oci::Descriptor| {
            d.annotation(attach::PREDICATE_TYPE_ANNOTATION) == Some(ptype.as_str())
        };
        let outcome = attach::append(
            repo,
            &digest,
            Kind::Attestation,
            layer,
            &AppendOptions {
                max_layers: opts.limits.max_layers,
                is_equivalent: &is_equivalent,
                drop_existing: if opts.replace {
                    Some(&drop_same_type)
                } else {
                    None
                },
            },
        )
        .await?;
        out.push(Attached {
            repository: repo.name().to_owned(),
            digest,
            outcome,
        });
    }
    Ok(out)
}

/// The child manifest digests of an index (empty for a plain manifest).
fn index_children(
    image: &ImageRef,
    media_type: &str,
    bytes: &[u8],
) -> Result<Vec<Digest>, SignError> {
    if media_type != media_types::OCI_INDEX && media_type != media_types::DOCKER_MANIFEST_LIST {
        return Ok(Vec::new());
    }
    let index: ImageIndex = serde_json::from_slice(bytes).map_err(|e| SignError::Index {
        reference: image.to_string(),
        message: e.to_string(),
    })?;
    Ok(index.manifests.into_iter().map(|d| d.digest).collect())
}
