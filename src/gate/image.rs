//! One image, checked against verifiers: resolve once, discover what is attached once, check
//! every candidate against each verifier once.
//!
//! This is the flow behind `imprint verify --key …` / `verify-attestation` (one verifier) and
//! behind the policy [`Verifier`](super::Verifier) (one verifier per authority the matching
//! rules name); both call [`discover_and_check`], so there is one way an image gets verified.

use std::collections::BTreeMap;

use crate::format::digest::Digest;
use crate::format::reference::ImageRef;
use crate::limits::Limits;
use crate::store::discover::{self, Discovered, SignatureFormat, Unreadable};
use crate::store::{Client, RegistryError, Repository, ResolvedImage};
use crate::verify::{self, Checked, SignatureVerifier};

/// What to look for on an image.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Wanted {
    /// Image signatures (legacy `.sig` layers and cosign v3 signature bundles).
    pub signatures: bool,
    /// Attestations (legacy `.att` layers and attestation bundles).
    pub attestations: bool,
    /// Annotations every counted signature must carry (cosign `-a k=v`).
    pub required_annotations: BTreeMap<String, String>,
    /// Only attestations of this predicate type count (already expanded from a `--type`
    /// shortcut); others fail the predicate-type check.
    pub predicate_type: Option<String>,
}

impl Wanted {
    /// Signatures carrying `required_annotations`.
    pub fn signatures(required_annotations: BTreeMap<String, String>) -> Self {
        Self {
            signatures: true,
            required_annotations,
            ..Self::default()
        }
    }

    /// Attestations, of `predicate_type` when given.
    pub fn attestations(predicate_type: Option<String>) -> Self {
        Self {
            attestations: true,
            predicate_type,
            ..Self::default()
        }
    }

    /// Signatures and attestations, with no annotation or predicate-type filter (the policy
    /// engine filters itself).
    pub fn everything() -> Self {
        Self {
            signatures: true,
            attestations: true,
            ..Self::default()
        }
    }
}

/// Why an image could not be checked at all (as opposed to a candidate failing a check).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The image (tag or digest) does not exist.
    #[error("{image}: image not found")]
    NotFound {
        /// The reference as given.
        image: String,
    },
    /// Resolving the image failed.
    #[error("resolving `{image}`")]
    Resolve {
        /// The reference as given.
        image: String,
        /// Why.
        #[source]
        source: RegistryError,
    },
    /// Nothing of what was wanted verified, and a source of attachments could not be read
    /// (so the image may well be signed: this is not "unsigned").
    #[error("reading what is attached to `{image}`")]
    Discover {
        /// The reference pinned to its digest.
        image: String,
        /// The first source that could not be read.
        #[source]
        source: Unreadable,
    },
}

/// One image checked against one verifier.
#[derive(Debug)]
pub struct ImageReport {
    /// The resolved image (repository, reference pinned to the digest, manifest bytes).
    pub resolved: ResolvedImage,
    /// What verified, and every candidate that did not with why.
    pub checked: Checked,
    /// Sources of attachments that could not be read in full (warnings when something
    /// verified anyway).
    pub unreadable: Vec<Unreadable>,
}

/// Every candidate checked with each verifier, and the sources that could not be read.
#[derive(Debug, Default)]
pub struct Checks {
    /// One [`Checked`] per verifier, in order.
    pub per_verifier: Vec<Checked>,
    /// Sources that could not be read in full; the evidence may be incomplete.
    pub unreadable: Vec<Unreadable>,
}

/// Resolve `image`, discover what is attached to it and check every candidate with `verifier`.
pub async fn check_image(
    client: &Client,
    image: &ImageRef,
    verifier: &SignatureVerifier,
    format: SignatureFormat,
    wanted: &Wanted,
    limits: &Limits,
) -> Result<ImageReport, ImageError> {
    let deadline = tokio::time::Instant::now() + limits.image_timeout;
    let verifiers = [(verifier, format)];
    let (resolving, checks) = match image.digest() {
        // Pinned: the digest is known, so discovery need not wait for the manifest read (which
        // only confirms the image exists): one round trip fewer on the critical path.
        Some(digest) => {
            let repository = client
                .repository(image)
                .map_err(|source| ImageError::Resolve {
                    image: image.to_string(),
                    source,
                })?;
            let (resolving, checks) = tokio::join!(
                tokio::time::timeout_at(deadline, client.resolve(image)),
                discover_and_check(&repository, digest, wanted, limits, &verifiers, deadline),
            );
            (resolving, Some(checks))
        }
        None => (
            tokio::time::timeout_at(deadline, client.resolve(image)).await,
            None,
        ),
    };
    let resolved = resolution(image, resolving, limits)?;
    let mut checks = match checks {
        Some(c) => c,
        None => {
            let digest = resolved.manifest.digest.clone();
            discover_and_check(
                &resolved.repository,
                &digest,
                wanted,
                limits,
                &verifiers,
                deadline,
            )
            .await
        }
    };
    let checked = checks.per_verifier.pop().unwrap_or_default();
    let nothing = (!wanted.signatures || checked.signatures.is_empty())
        && (!wanted.attestations || checked.attestations.is_empty());
    if nothing && let Some(first) = checks.unreadable.first() {
        return Err(ImageError::Discover {
            image: resolved.reference.to_string(),
            source: first.clone(),
        });
    }
    Ok(ImageReport {
        resolved,
        checked,
        unreadable: checks.unreadable,
    })
}

/// The outcome of resolving `image` (with its deadline) as an [`ImageError`].
fn resolution(
    image: &ImageRef,
    resolving: Result<Result<ResolvedImage, RegistryError>, tokio::time::error::Elapsed>,
    limits: &Limits,
) -> Result<ResolvedImage, ImageError> {
    match resolving {
        Err(_) => Err(ImageError::Resolve {
            image: image.to_string(),
            source: RegistryError::Timeout {
                registry: image.repository_name(),
                operation: "resolving the image (image_timeout)".to_owned(),
                after: limits.image_timeout,
            },
        }),
        Ok(Ok(r)) => Ok(r),
        Ok(Err(RegistryError::ManifestNotFound { .. })) => Err(ImageError::NotFound {
            image: image.to_string(),
        }),
        Ok(Err(source)) => Err(ImageError::Resolve {
            image: image.to_string(),
            source,
        }),
    }
}

/// Discover what is attached to `digest` in `repo` once (the formats any of `verifiers`
/// accepts) before `deadline`, then check every candidate against each verifier with its own
/// accepted formats, in order: one [`Checked`] per verifier. An empty `verifiers` discovers
/// nothing. A source that cannot be read does not discard what the others held.
pub async fn discover_and_check<R: Repository>(
    repo: &R,
    digest: &Digest,
    wanted: &Wanted,
    limits: &Limits,
    verifiers: &[(&SignatureVerifier, SignatureFormat)],
    deadline: tokio::time::Instant,
) -> Checks {
    let Some(format) = verifiers
        .iter()
        .map(|(_, f)| *f)
        .reduce(SignatureFormat::union)
    else {
        return Checks::default();
    };
    let found: Discovered = discover::discover_until(
        repo,
        digest,
        format,
        wanted.signatures,
        wanted.attestations,
        limits,
        deadline,
    )
    .await;
    Checks {
        per_verifier: verifiers
            .iter()
            .map(|(verifier, format)| check_found(&found, digest, verifier, *format, wanted))
            .collect(),
        unreadable: found.unreadable,
    }
}

/// Check already-discovered candidates with one verifier (the sync half of
/// [`discover_and_check`], for callers that check with verifiers of different formats).
pub fn check_found(
    found: &Discovered,
    digest: &Digest,
    verifier: &SignatureVerifier,
    format: SignatureFormat,
    wanted: &Wanted,
) -> Checked {
    verify::check_discovered(
        found,
        digest,
        verifier,
        format,
        &wanted.required_annotations,
        wanted.predicate_type.as_deref(),
    )
}
