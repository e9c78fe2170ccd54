//! Hand-made legacy `.sig` attachments: layers taken from real vectors, pushed byte-exact or
//! rebuilt around a (possibly mutated) payload and annotations.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use imprint::format::digest::Digest;
use imprint::format::oci;
use imprint::format::reference::ImageRef;
use imprint::store::attach::{self, Kind, NewLayer};
use imprint::store::{AnyRepository, Repository, media_types};

use super::{registry, test_client, unique_repo};

/// containers/image's `signature-1` files hold a cosign layer: `\0sigstore-json\n` + JSON with
/// mimeType, base64 payload and the layer annotations. Returns (payload, annotations).
pub(crate) fn containers_image_layer(path: &Path) -> (Vec<u8>, BTreeMap<String, String>) {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json = raw
        .strip_prefix(b"\0sigstore-json\n")
        .expect("containers/image signature prefix");
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    let payload = B64.decode(v["payload"].as_str().unwrap()).unwrap();
    let annotations: BTreeMap<String, String> =
        serde_json::from_value(v["annotations"].clone()).unwrap();
    (payload, annotations)
}

/// Push one simple-signing layer (`payload` with `annotations`) as the `.sig` attachment of
/// `subject`, in a fresh repository `<registry()>/<prefix>-…`. Returns that repository.
pub(crate) async fn push_sig_layer(
    prefix: &str,
    subject: &Digest,
    payload: Vec<u8>,
    annotations: BTreeMap<String, String>,
) -> AnyRepository {
    let image = ImageRef::parse(&format!("{}/{}", registry(), unique_repo(prefix))).unwrap();
    let repo = test_client().repository(&image).unwrap();
    let layer = NewLayer::new(media_types::SIMPLE_SIGNING, payload, annotations);
    repo.put_blob(layer.blob.clone()).await.unwrap();
    let (config, manifest) = attach::build_manifest(&[layer.descriptor]);
    repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
        .await
        .unwrap();
    repo.put_manifest(
        Some(&Kind::Signature.tag(subject)),
        media_types::OCI_MANIFEST,
        &manifest,
    )
    .await
    .unwrap();
    repo
}

/// Push a legacy `.sig` image byte-exact: its payload blobs, the config (reproduced by cosign's
/// rule, and checked against the digest in the manifest), then the manifest bytes.
pub(crate) async fn push_sig_vector<R: Repository>(
    repo: &R,
    subject: &Digest,
    manifest_bytes: &[u8],
    payloads: &[Vec<u8>],
) {
    let m: oci::ImageManifest = serde_json::from_slice(manifest_bytes).unwrap();
    let config = oci::cosign_config_blob(&m.layers);
    assert_eq!(
        Digest::of(&config),
        m.config.digest,
        "config rule reproduces the vector's config digest"
    );
    repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
        .await
        .unwrap();
    for p in payloads {
        repo.put_blob(imprint::store::Blob::copy_from_slice(p))
            .await
            .unwrap();
    }
    repo.put_manifest(
        Some(&Kind::Signature.tag(subject)),
        media_types::OCI_MANIFEST,
        manifest_bytes,
    )
    .await
    .unwrap();
}
