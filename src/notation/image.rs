//! Verifying an image (registry or OCI layout) the way `notation verify` does: pick the
//! trust policy statement for its repository, find its Notation signatures, and accept the
//! image when one signature verifies under the statement.

use std::path::Path;

use crate::format::reference::ImageRef;
use crate::store::{AnyRepository, Client};

use super::trustpolicy::{Level, Statement, TrustPolicyDocument, TrustStores};
use super::verify::{
    ArtifactDescriptor, NotationError, VerifiedNotation, VerifyOptions, verify_signature,
};

/// Where trust-store certificates come from.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum StoreSource<'a> {
    /// A Notation trust-store directory (`<dir>/x509/<type>/<name>/`), read per statement.
    Dir(&'a Path),
    /// Stores already loaded.
    Loaded(&'a TrustStores),
}

/// The result for one image.
#[derive(Debug, Clone)]
pub struct ImageVerification {
    /// The image, pinned to its digest.
    pub reference: String,
    /// How many Notation signatures were found.
    pub signatures: usize,
    /// The verified signature, or why none verified (the first signature's failure).
    pub outcome: Result<VerifiedNotation, NotationError>,
}

/// Verify `image` under `doc`.
pub async fn verify_image(
    client: &Client,
    image: &ImageRef,
    doc: &TrustPolicyDocument,
    stores: StoreSource<'_>,
    opts: &VerifyOptions,
) -> ImageVerification {
    let name = image.repository_name();
    let fail = |reference: String, e: NotationError| ImageVerification {
        reference,
        signatures: 0,
        outcome: Err(e),
    };
    let statement = match doc.select(&name) {
        Ok(s) => s,
        Err(e) => return fail(image.to_string(), NotationError::NoPolicy(e)),
    };
    verify_image_with(client, image, statement, stores, opts).await
}

/// Verify `image` under one trust policy `statement` (used by the `notation` authority of an
/// imprint policy, whose authority is one statement with its own stores).
pub async fn verify_image_with(
    client: &Client,
    image: &ImageRef,
    statement: &Statement,
    stores: StoreSource<'_>,
    opts: &VerifyOptions,
) -> ImageVerification {
    let fail = |reference: String, e: NotationError| ImageVerification {
        reference,
        signatures: 0,
        outcome: Err(e),
    };
    if statement.actions.level() == Level::Skip {
        return fail(
            image.to_string(),
            NotationError::Skipped(statement.name.clone()),
        );
    }
    let resolved = match client.resolve(image).await {
        Ok(r) => r,
        Err(e) => {
            return fail(
                image.to_string(),
                NotationError::Unreadable(crate::format::error_chain(&e)),
            );
        }
    };
    let reference = resolved.reference.to_string();
    let artifact = ArtifactDescriptor {
        media_type: resolved.manifest.media_type.clone(),
        digest: resolved.manifest.digest.to_string(),
        size: resolved.manifest.bytes.len() as u64,
    };
    let limits = client.config().limits;
    let subject = &resolved.manifest.digest;
    let found = match &resolved.repository {
        AnyRepository::Layout(l) => super::discover::layout_signatures(l, subject, &limits).await,
        AnyRepository::Remote(r) => super::discover::signatures(r, subject, &limits).await,
    };
    let sigs = match found {
        Ok(s) => s,
        Err(e) => {
            return fail(
                reference,
                NotationError::Unreadable(crate::format::error_chain(&e)),
            );
        }
    };
    let loaded;
    let stores = match stores {
        StoreSource::Loaded(s) => s,
        StoreSource::Dir(d) => {
            loaded = TrustStores::load_dir_for(d, statement);
            &loaded
        }
    };
    let mut first_err = None;
    for s in &sigs {
        let r = match &s.envelope {
            Ok(bytes) => verify_signature(bytes, &s.media_type, &artifact, statement, stores, opts),
            Err(e) => Err(NotationError::Failed {
                check: super::Check::Integrity,
                reason: format!("signature {}: {e}", s.manifest),
            }),
        };
        match r {
            Ok(v) => {
                return ImageVerification {
                    reference,
                    signatures: sigs.len(),
                    outcome: Ok(v),
                };
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    ImageVerification {
        reference,
        signatures: sigs.len(),
        outcome: Err(first_err.unwrap_or(NotationError::NoSignature)),
    }
}
