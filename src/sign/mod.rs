//! Signing and attesting images, written exactly as cosign writes them.

pub mod blob;
#[cfg(feature = "keyless-sign")]
pub mod key_tlog;
#[cfg(feature = "keyless-sign")]
pub mod keyless;
#[cfg(feature = "keyless-sign")]
pub mod keyless_image;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::format::digest::Digest;
use crate::format::oci::ImageIndex;
use crate::format::reference::ImageRef;
use crate::format::statement::COSIGN_SIGN_PREDICATE;
use crate::format::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::{KeyError, SigningKey};
use crate::store::attach::{self, AppendOptions, Appended, Kind, NewLayer};
use crate::store::{Blob, BlobWriter, Client, Limits, RegistryError, Repository, media_types};

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
    #[error("signing failed")]
    Key(#[from] KeyError),
    /// The image does not exist.
    #[error("image `{0}` not found")]
    NotFound(String),
    /// Signing an OCI layout, with no identity given and no full reference in the layout's
    /// `index.json` to take it from.
    #[error(
        "cannot tell which image `{layout}` is: a legacy signature names the image \
         (critical.identity.docker-reference) and a file path is accepted by no containers/image \
         policy. Pass the reference the image will be pulled by (imprint sign \
         --sign-container-identity REGISTRY/REPOSITORY[:TAG]), or annotate its index.json entry \
         with org.opencontainers.image.ref.name set to that full reference"
    )]
    NoIdentity {
        /// The layout reference.
        layout: String,
    },
    /// `--recursive` on something that is not an index, or a malformed index.
    #[error("image index `{reference}` is malformed: {message}")]
    Index {
        /// Image.
        reference: String,
        /// Why.
        message: String,
    },
    /// `replace` with [`WriteFormat::Bundle`]: refused, nothing written.
    #[error(
        "--replace works only with legacy `.att` attestations (--new-bundle-format=false): bundle \
         referrers are never removed (registries keep listing a referrer until its manifest is \
         deleted, and cosign v3 does not remove them either); nothing was written. Without \
         --replace the new attestation is added, and a policy's default `select: newest` lets \
         the newest attestation of a type decide"
    )]
    ReplaceBundle,
}

/// How signatures and attestations are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WriteFormat {
    /// cosign v1/v2: a layer appended to the `sha256-<hex>.sig` / `.att` tag (the library
    /// default; the CLI default is [`WriteFormat::Bundle`], as in cosign v3).
    #[default]
    Legacy,
    /// cosign v3 (`--new-bundle-format`): a Sigstore bundle v0.3 (DSSE, key hint, no tlog
    /// entry) pushed as an OCI 1.1 referrer of the image, listed in the `sha256-<hex>`
    /// tag-schema index when the registry has no referrers API.
    Bundle,
}

/// Options for [`sign_image`].
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// `-a k=v` annotations, signed into the payload's `optional` map (legacy) or the
    /// statement subject's `annotations` (bundle).
    pub annotations: BTreeMap<String, String>,
    /// Also sign every manifest of an index.
    pub recursive: bool,
    /// Limits for reading existing attachments.
    pub limits: Limits,
    /// Legacy `.sig` layer or bundle referrer.
    pub format: WriteFormat,
    /// `critical.identity.docker-reference` values of legacy signatures (cosign's
    /// `--sign-container-identity`): one signature per identity. Empty: the repository name
    /// for a registry image; for an OCI layout, the layout entry's
    /// `org.opencontainers.image.ref.name` when it is a full reference
    /// (`registry.example/repo[:tag]`), else [`SignError::NoIdentity`] (never a file path).
    /// Bundles do not sign an identity, so this is unused for [`WriteFormat::Bundle`].
    pub identities: Vec<String>,
    /// Sign these bytes instead of a generated payload (cosign's `--payload`), for every
    /// target and identity. Legacy format only; [`WriteFormat::Bundle`] ignores it.
    pub payload: Option<Vec<u8>>,
}

/// A signature computed by [`prepare_signatures`], not yet written anywhere.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Repository name.
    pub repository: String,
    /// The manifest signed.
    pub subject: attach::Subject,
    /// The signed bytes: the simple-signing payload (legacy) or the in-toto statement
    /// (bundle, signed as DSSE).
    pub payload: Vec<u8>,
    /// The raw signature (over `payload`, or over its DSSE PAE for a bundle).
    pub signature: Vec<u8>,
    /// The format it is meant for.
    pub format: WriteFormat,
}

/// One digest that was signed or attested.
#[derive(Debug, Clone)]
pub struct Attached {
    /// Repository name.
    pub repository: String,
    /// The signed digest.
    pub digest: Digest,
    /// What happened on the registry. For [`WriteFormat::Bundle`] this is always
    /// `Appended::Written { manifest: <referrer manifest digest>, layers: 1 }`.
    pub outcome: Appended,
    /// The format that was written.
    pub format: WriteFormat,
    /// The raw signature written (empty for attestations).
    pub signature: Vec<u8>,
}

/// The manifests to sign: the resolved one and, with `recursive`, its index children, each as
/// the referrer subject (media type, size, digest).
pub(crate) fn targets(
    image: &ImageRef,
    manifest: &crate::store::Manifest,
    recursive: bool,
) -> Result<Vec<attach::Subject>, SignError> {
    let mut out = vec![attach::Subject {
        media_type: manifest.media_type.clone(),
        size: manifest.bytes.len() as u64,
        digest: manifest.digest.clone(),
    }];
    if recursive {
        out.extend(index_children(
            image,
            &manifest.media_type,
            &manifest.bytes,
        )?);
    }
    Ok(out)
}

/// The in-toto Statement v1 cosign v3 signs for an image (cosign-formats §3.1): one subject
/// `{"digest":{"sha256":…},"annotations":{…}}` without a name (annotations omitted when
/// there are none), predicate type [`COSIGN_SIGN_PREDICATE`], predicate `{}`.
pub fn image_signature_statement(
    digest: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(br#"{"_type":"#);
    format::gojson::write_string(&mut out, format::statement::STATEMENT_V1);
    out.extend_from_slice(br#","subject":[{"digest":{"sha256":"#);
    format::gojson::write_string(&mut out, digest.hex());
    out.push(b'}');
    if !annotations.is_empty() {
        out.extend_from_slice(br#","annotations":{"#);
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            format::gojson::write_string(&mut out, k);
            out.push(b':');
            format::gojson::write_string(&mut out, v);
        }
        out.push(b'}');
    }
    out.extend_from_slice(br#"}],"predicateType":"#);
    format::gojson::write_string(&mut out, COSIGN_SIGN_PREDICATE);
    out.extend_from_slice(br#","predicate":{}}"#);
    out
}

/// Wrap a DSSE signature of `statement` in a key-based bundle v0.3 (public-key hint, no tlog
/// entry) and push it as a referrer of `subject`.
async fn push_signed_statement<R: Repository>(
    repo: &R,
    subject: &attach::Subject,
    key: &SigningKey,
    statement: &[u8],
    sig: &[u8],
    predicate_type: &str,
) -> Result<Appended, SignError> {
    push_signed_statement_parts(repo, subject, key, &[statement], sig, predicate_type).await
}

/// [`push_signed_statement`] of the statement that is the concatenation of `statement`.
async fn push_signed_statement_parts<R: Repository>(
    repo: &R,
    subject: &attach::Subject,
    key: &SigningKey,
    statement: &[&[u8]],
    sig: &[u8],
    predicate_type: &str,
) -> Result<Appended, SignError> {
    let bundle = format::bundle::dsse_bundle_parts(
        key.public_key().spki_der(),
        IN_TOTO_PAYLOAD_TYPE,
        statement,
        sig,
    );
    push_bundle_blob(repo, subject, Blob::new(bundle), predicate_type).await
}

/// Push a bundle as a referrer of `subject`.
async fn push_bundle_blob<R: Repository>(
    repo: &R,
    subject: &attach::Subject,
    bundle: Blob,
    predicate_type: &str,
) -> Result<Appended, SignError> {
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let manifest =
        attach::push_bundle_referrer(repo, subject, bundle, predicate_type, &created).await?;
    Ok(Appended::Written {
        manifest,
        layers: 1,
    })
}

/// Sign the statement that is the concatenation of `statement` as DSSE with `key`, and write
/// the signed document `frame` describes as a blob. The document up to the signature (the
/// statement's base64: for a large SBOM, ~0.93x its file) is encoded and hashed on another
/// thread while the signature is made over the PAE, so the two passes over a large statement
/// run side by side.
fn signed_dsse_blob(
    key: &SigningKey,
    frame: &format::DsseFrame,
    statement: &[&[u8]],
) -> Result<Blob, SignError> {
    let len: usize = statement.iter().map(|p| p.len()).sum();
    let header = format::pae_header(IN_TOTO_PAYLOAD_TYPE, len);
    let mut pae: Vec<&[u8]> = Vec::with_capacity(statement.len() + 1);
    pae.push(&header);
    pae.extend_from_slice(statement);
    let (sig, head) = std::thread::scope(|scope| {
        let head = scope.spawn(|| {
            let mut blob = BlobWriter::with_capacity(frame.len_hint(len));
            frame.write_head(statement, &mut |piece| blob.push(piece));
            blob
        });
        (key.sign_parts(&pae), head.join())
    });
    // The encoding thread runs only this crate's code over borrowed bytes; a panic there is
    // a bug, carried on as one.
    let mut blob = head.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    frame.write_tail(&sig?, &mut |piece| blob.push(piece));
    Ok(blob.finish())
}

/// Sign `statement` as DSSE with `key` and push it as a bundle referrer of `subject`. The
/// PAE is signed in parts (header, statement pieces): a large statement is not copied.
async fn push_statement_bundle<R: Repository>(
    repo: &R,
    subject: &attach::Subject,
    key: &SigningKey,
    statement: &format::statement::StatementParts<'_>,
    predicate_type: &str,
) -> Result<Appended, SignError> {
    let frame =
        format::bundle::dsse_bundle_frame(key.public_key().spki_der(), IN_TOTO_PAYLOAD_TYPE);
    let bundle = signed_dsse_blob(key, &frame, &statement.parts())?;
    push_bundle_blob(repo, subject, bundle, predicate_type).await
}

/// Whether `name` is a full image reference (an explicit registry host, a repository path),
/// as an identity must be: `registry.example/repo[:tag]`, `localhost:5000/repo`.
fn is_full_reference(name: &str) -> bool {
    let Some((host, _)) = name.split_once('/') else {
        return false;
    };
    let explicit_host = host.contains('.') || host.contains(':') || host == "localhost";
    explicit_host && matches!(ImageRef::parse(name), Ok(ImageRef::Remote(_)))
}

/// The statement subject name of an attestation about `resolved`: the repository, as cosign
/// writes it; for an OCI layout the repository of its full `org.opencontainers.image.ref.name`
/// when it has one, else empty (the digest identifies the subject), never the layout's path.
pub(crate) async fn subject_name(
    resolved: &crate::store::ResolvedImage,
) -> Result<String, SignError> {
    match &resolved.repository {
        crate::store::AnyRepository::Remote(r) => Ok(r.name().to_owned()),
        crate::store::AnyRepository::Layout(l) => {
            let names = l.ref_names_of(&resolved.manifest.digest).await?;
            Ok(names
                .iter()
                .find(|n| is_full_reference(n))
                .and_then(|n| match ImageRef::parse(n) {
                    Ok(ImageRef::Remote(r)) => Some(r.name()),
                    _ => None,
                })
                .unwrap_or_default())
        }
    }
}

/// The identities legacy signatures of `resolved` name (see [`SignOptions::identities`]).
pub(crate) async fn identities(
    image: &ImageRef,
    resolved: &crate::store::ResolvedImage,
    opts: &SignOptions,
) -> Result<Vec<String>, SignError> {
    if !opts.identities.is_empty() {
        return Ok(opts.identities.clone());
    }
    match &resolved.repository {
        crate::store::AnyRepository::Remote(r) => Ok(vec![r.name().to_owned()]),
        crate::store::AnyRepository::Layout(l) => {
            let names = l.ref_names_of(&resolved.manifest.digest).await?;
            match names.into_iter().find(|n| is_full_reference(n)) {
                Some(n) => Ok(vec![n]),
                None => Err(SignError::NoIdentity {
                    layout: image.to_string(),
                }),
            }
        }
    }
}

/// Compute the signatures [`sign_image`] would write for `image` (and, with `recursive`,
/// each manifest of its index), reading the registry but writing nothing (cosign's
/// `--upload=false`).
pub async fn prepare_signatures(
    client: &Client,
    image: &ImageRef,
    key: &SigningKey,
    opts: &SignOptions,
) -> Result<Vec<Prepared>, SignError> {
    Ok(prepare(client, image, key, opts).await?.1)
}

async fn prepare(
    client: &Client,
    image: &ImageRef,
    key: &SigningKey,
    opts: &SignOptions,
) -> Result<(crate::store::ResolvedImage, Vec<Prepared>), SignError> {
    let resolved = client.resolve(image).await?;
    let repo = &resolved.repository;
    let subjects = targets(image, &resolved.manifest, opts.recursive)?;
    let identities = match (opts.format, &opts.payload) {
        (WriteFormat::Legacy, None) => identities(image, &resolved, opts).await?,
        _ => Vec::new(),
    };
    let mut out = Vec::with_capacity(subjects.len());
    for subject in subjects {
        let mut push = |payload: Vec<u8>, signature: Vec<u8>, format: WriteFormat| {
            out.push(Prepared {
                repository: repo.name().to_owned(),
                subject: subject.clone(),
                payload,
                signature,
                format,
            });
        };
        match (opts.format, &opts.payload) {
            (WriteFormat::Bundle, _) => {
                let statement = image_signature_statement(&subject.digest, &opts.annotations);
                let sig = key.sign(&format::pae(IN_TOTO_PAYLOAD_TYPE, &statement))?;
                push(statement, sig, WriteFormat::Bundle);
            }
            (WriteFormat::Legacy, Some(payload)) => {
                let sig = key.sign(payload)?;
                push(payload.clone(), sig, WriteFormat::Legacy);
            }
            (WriteFormat::Legacy, None) => {
                for identity in &identities {
                    let bytes = format::simple_signing_payload(
                        identity,
                        &subject.digest,
                        &opts.annotations,
                    );
                    let sig = key.sign(&bytes)?;
                    push(bytes, sig, WriteFormat::Legacy);
                }
            }
        }
    }
    Ok((resolved, out))
}

/// Sign `image` (and, with `recursive`, each manifest of its index) with `key`: a legacy
/// `.sig` layer per identity appended cosign-style, or a bundle referrer.
pub async fn sign_image(
    client: &Client,
    image: &ImageRef,
    key: &SigningKey,
    opts: &SignOptions,
) -> Result<Vec<Attached>, SignError> {
    let (resolved, prepared) = prepare(client, image, key, opts).await?;
    let repo = &resolved.repository;
    let public = key.public_key();
    let mut out = Vec::with_capacity(prepared.len());
    for p in prepared {
        let subject = p.subject;
        if p.format == WriteFormat::Bundle {
            let outcome = push_signed_statement(
                repo,
                &subject,
                key,
                &p.payload,
                &p.signature,
                COSIGN_SIGN_PREDICATE,
            )
            .await?;
            out.push(Attached {
                repository: p.repository,
                digest: subject.digest,
                outcome,
                format: WriteFormat::Bundle,
                signature: p.signature,
            });
            continue;
        }
        let digest = subject.digest;
        let bytes = p.payload;
        let mut ann = BTreeMap::new();
        ann.insert(
            attach::SIGNATURE_ANNOTATION.to_owned(),
            B64.encode(&p.signature),
        );
        let layer = NewLayer::new(media_types::SIMPLE_SIGNING, bytes.clone(), ann);
        // cosign's dedupe: an existing layer with the same payload whose signature verifies
        // with this signer's key makes the new one redundant.
        let is_equivalent = |d: &format::oci::Descriptor| {
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
            repository: p.repository,
            digest,
            outcome,
            format: WriteFormat::Legacy,
            signature: p.signature,
        });
    }
    Ok(out)
}

/// Options for [`attest_image`].
#[derive(Debug, Clone)]
pub struct AttestOptions {
    /// The predicate type URI.
    pub predicate_type: String,
    /// The predicate (already validated against its type), as the compact JSON bytes the
    /// statement carries ([`format::load_predicate_json`]; `Value.into()` for one in memory).
    pub predicate: format::PredicateJson,
    /// Replace earlier attestations of the same predicate type.
    pub replace: bool,
    /// Also attest each manifest of an index.
    pub recursive: bool,
    /// Limits.
    pub limits: Limits,
    /// Legacy `.att` layer or bundle referrer. With [`WriteFormat::Bundle`], `replace` is
    /// refused ([`SignError::ReplaceBundle`]): referrers are never removed.
    pub format: WriteFormat,
}

/// What every attest path (key, key with Rekor, keyless) starts from: the image resolved, the
/// digests to attest (`--recursive`: each manifest of an index too) and the repository name
/// their statements carry. `replace` with the bundle format is refused before anything is
/// read or written: the flag would otherwise do nothing.
pub(crate) struct AttestTargets {
    pub(crate) resolved: crate::store::ResolvedImage,
    pub(crate) subjects: Vec<attach::Subject>,
    name: String,
}

impl AttestTargets {
    pub(crate) async fn of(
        client: &Client,
        image: &ImageRef,
        opts: &AttestOptions,
    ) -> Result<Self, SignError> {
        if opts.replace && opts.format == WriteFormat::Bundle {
            return Err(SignError::ReplaceBundle);
        }
        let resolved = client.resolve(image).await?;
        let subjects = targets(image, &resolved.manifest, opts.recursive)?;
        let name = subject_name(&resolved).await?;
        Ok(Self {
            resolved,
            subjects,
            name,
        })
    }

    /// The statement for `subject`, in pieces around the predicate bytes (a large SBOM's
    /// predicate is never copied into a statement buffer, nor, per digest, with
    /// `--recursive`).
    pub(crate) fn statement<'a>(
        &'a self,
        subject: &attach::Subject,
        opts: &'a AttestOptions,
    ) -> format::statement::StatementParts<'a> {
        format::statement_parts(
            &self.name,
            &subject.digest,
            &opts.predicate_type,
            opts.predicate.as_bytes(),
        )
    }
}

/// Attest `image` with an in-toto statement of `opts.predicate_type`, stored as a legacy
/// `.att` DSSE layer or (with [`WriteFormat::Bundle`]) a bundle referrer.
pub async fn attest_image(
    client: &Client,
    image: &ImageRef,
    key: &SigningKey,
    opts: &AttestOptions,
) -> Result<Vec<Attached>, SignError> {
    let targets = AttestTargets::of(client, image, opts).await?;
    let repo = &targets.resolved.repository;
    let mut out = Vec::with_capacity(targets.subjects.len());
    for subject in targets.subjects.iter().cloned() {
        let statement = targets.statement(&subject, opts);
        if opts.format == WriteFormat::Bundle {
            let outcome =
                push_statement_bundle(repo, &subject, key, &statement, &opts.predicate_type)
                    .await?;
            out.push(Attached {
                repository: repo.name().to_owned(),
                digest: subject.digest,
                outcome,
                format: WriteFormat::Bundle,
                signature: Vec::new(),
            });
            continue;
        }
        let digest = subject.digest;
        let envelope = signed_dsse_blob(
            key,
            &format::envelope_frame(IN_TOTO_PAYLOAD_TYPE),
            &statement.parts(),
        )?;
        let mut ann = BTreeMap::new();
        ann.insert(attach::SIGNATURE_ANNOTATION.to_owned(), String::new());
        ann.insert(
            attach::PREDICATE_TYPE_ANNOTATION.to_owned(),
            opts.predicate_type.clone(),
        );
        let layer = NewLayer::from_blob(media_types::DSSE_ENVELOPE, envelope, ann);
        // Identical envelope bytes (deterministic signatures) are the same attestation.
        out.push(append_attestation(repo, &digest, layer, opts, true).await?);
    }
    Ok(out)
}

/// Append `layer` (a DSSE envelope) to the `.att` attachment of `digest`; with
/// `opts.replace`, earlier layers of the predicate type are dropped. `same_bytes_is_same`:
/// an earlier layer with identical bytes is this attestation (key signatures, which are
/// deterministic) rather than a new one (layers carrying their own tlog entry or timestamp).
pub(crate) async fn append_attestation<R: Repository>(
    repo: &R,
    digest: &Digest,
    layer: NewLayer,
    opts: &AttestOptions,
    same_bytes_is_same: bool,
) -> Result<Attached, SignError> {
    let is_equivalent = move |_: &format::oci::Descriptor| same_bytes_is_same;
    let ptype = opts.predicate_type.clone();
    let drop_same_type = move |d: &format::oci::Descriptor| {
        d.annotation(attach::PREDICATE_TYPE_ANNOTATION) == Some(ptype.as_str())
    };
    let outcome = attach::append(
        repo,
        digest,
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
    Ok(Attached {
        repository: repo.name().to_owned(),
        digest: digest.clone(),
        outcome,
        format: WriteFormat::Legacy,
        signature: Vec::new(),
    })
}

/// The child manifests of an index (empty for a plain manifest).
fn index_children(
    image: &ImageRef,
    media_type: &str,
    bytes: &[u8],
) -> Result<Vec<attach::Subject>, SignError> {
    if media_type != media_types::OCI_INDEX && media_type != media_types::DOCKER_MANIFEST_LIST {
        return Ok(Vec::new());
    }
    let index: ImageIndex = serde_json::from_slice(bytes).map_err(|e| SignError::Index {
        reference: image.to_string(),
        message: e.to_string(),
    })?;
    Ok(index
        .manifests
        .into_iter()
        .map(|d| attach::Subject {
            media_type: d.media_type,
            size: d.size,
            digest: d.digest,
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn image_signature_statement_is_cosign_v3_shape() {
        let d = Digest::of(b"image");
        let bytes = image_signature_statement(&d, &BTreeMap::new());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(v["predicateType"], COSIGN_SIGN_PREDICATE);
        assert_eq!(v["predicate"], serde_json::json!({}));
        assert_eq!(
            v["subject"],
            serde_json::json!([{"digest": {"sha256": d.hex()}}])
        );
        // Annotations (sorted, JSON-escaped) on the subject; the statement parses and names
        // the digest.
        let mut ann = BTreeMap::new();
        ann.insert("z".to_owned(), "last".to_owned());
        ann.insert("a\"q".to_owned(), "line\nbreak".to_owned());
        let bytes = image_signature_statement(&d, &ann);
        let st = format::parse_statement(&bytes).unwrap();
        assert!(st.has_subject_digest(&d));
        assert!(!st.has_subject_digest(&Digest::of(b"other")));
        let s = st.subject_for(&d).unwrap();
        assert_eq!(s.name, "");
        assert_eq!(s.annotations["a\"q"], "line\nbreak");
        assert_eq!(s.annotations["z"], "last");
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.find("a\\\"q").unwrap() < text.find("\"z\"").unwrap());
    }

    #[test]
    fn identities_from_layouts_must_be_full_references() {
        for ok in [
            "registry.example.com/app:1.0",
            "localhost:5000/app",
            "localhost/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "ghcr.io/org/app",
        ] {
            assert!(is_full_reference(ok), "{ok}");
        }
        for bad in [
            "latest",
            "app:1.0",
            "library/app",
            "sha256-abc.sig",
            "/tmp/layout",
            "",
        ] {
            assert!(!is_full_reference(bad), "{bad}");
        }
    }

    #[test]
    fn write_format_default_is_legacy() {
        assert_eq!(SignOptions::default().format, WriteFormat::Legacy);
        assert_eq!(WriteFormat::default(), WriteFormat::Legacy);
    }
}
