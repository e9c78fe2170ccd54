//! The OCI image layout backend: a directory with `oci-layout`, `index.json` and
//! `blobs/sha256/<hex>`, as skopeo, buildah, crane and oras write it.
//!
//! - Tags are the `org.opencontainers.image.ref.name` annotations on `index.json` entries.
//!   Putting a manifest under a tag replaces that tag's entry and keeps every other one;
//!   putting it without a tag adds an untagged entry unless the digest is already listed.
//! - Writes are atomic (temporary file in the same directory, then rename), and the index
//!   read-modify-write is serialised within the process (clones share one lock; a
//!   [`super::Client`] hands out one instance per path). A missing directory is created on
//!   the first write.
//! - Reads check digests and sizes like the registry backend.
//! - [`Repository::referrers_api`] answers `None`: a layout has no referrers API, so callers
//!   use the `sha256-<hex>` tag schema, which works here as on a registry without the API.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use super::{Blob, Limits, Manifest, ManifestRef, RegistryError, Repository, media_types};
use crate::format::digest::Digest;

/// The annotation that names an image in `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Largest `index.json` read (it grows by one entry per signed image and signature tag).
const MAX_INDEX_BYTES: u64 = Limits::DEFAULT.max_layout_index_bytes;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct LayoutRepository {
    root: PathBuf,
    name: String,
    limits: Limits,
    index_lock: Arc<tokio::sync::Mutex<()>>,
}

impl LayoutRepository {
    /// The layout at `path` (nothing is read until used).
    pub fn new(path: &str, limits: Limits) -> Self {
        Self {
            root: PathBuf::from(path),
            name: path.to_owned(),
            limits,
            index_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The layout directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    fn err(&self, message: impl Into<String>) -> RegistryError {
        RegistryError::Layout {
            path: self.name.clone(),
            message: message.into(),
        }
    }

    fn io_err(&self, what: &str, path: &Path, e: &std::io::Error) -> RegistryError {
        self.err(format!("{what} `{}`: {e}", path.display()))
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    /// Read `index.json`. `None` when the layout (or its index) does not exist.
    async fn read_index(&self) -> Result<Option<Value>, RegistryError> {
        let path = self.root.join("index.json");
        let bytes = match read_limited(&path, MAX_INDEX_BYTES).await {
            Ok(b) => b,
            Err(ReadFile::NotFound) => return Ok(None),
            Err(ReadFile::TooLarge(size)) => {
                return Err(self.err(format!(
                    "`{}` is {size} bytes, over the limit of {MAX_INDEX_BYTES}",
                    path.display()
                )));
            }
            Err(ReadFile::Io(e)) => return Err(self.io_err("cannot read", &path, &e)),
        };
        let index: Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.err(format!("`{}` is not valid JSON: {e}", path.display())))?;
        match index.get("manifests") {
            Some(Value::Array(_)) | None => Ok(Some(index)),
            Some(_) => Err(self.err(format!("`{}`: `manifests` is not an array", path.display()))),
        }
    }

    fn entries(index: &Value) -> &[Value] {
        index
            .get("manifests")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    fn entry_digest(&self, entry: &Value) -> Result<Digest, RegistryError> {
        entry
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| self.err("an index.json entry has no `digest`"))?
            .parse()
            .map_err(|e| self.err(format!("an index.json entry has a bad digest: {e}")))
    }

    fn ref_name(entry: &Value) -> Option<&str> {
        entry
            .get("annotations")
            .and_then(|a| a.get(REF_NAME_ANNOTATION))
            .and_then(Value::as_str)
    }

    /// The digest of the layout's only image, for `oci:PATH` without tag or digest.
    /// Entries tagged `sha256-…` (cosign signature/attestation/referrer tags) are ignored.
    pub async fn sole_image(&self) -> Result<Digest, RegistryError> {
        let index = self
            .read_index()
            .await?
            .ok_or_else(|| self.err("no index.json: not an OCI image layout"))?;
        let images: Vec<&Value> = Self::entries(&index)
            .iter()
            .filter(|e| !Self::ref_name(e).is_some_and(|n| n.starts_with("sha256-")))
            .collect();
        match images.as_slice() {
            [one] => self.entry_digest(one),
            [] => Err(self.err("index.json lists no image")),
            many => Err(self.err(format!(
                "index.json lists {} images; name one with `oci:PATH:TAG` or `oci:PATH@sha256:…`",
                many.len()
            ))),
        }
    }

    /// The `org.opencontainers.image.ref.name` annotations of the `index.json` entries that
    /// point at `digest` (in index order; empty when the layout has no index).
    pub async fn ref_names_of(&self, digest: &Digest) -> Result<Vec<String>, RegistryError> {
        let Some(index) = self.read_index().await? else {
            return Ok(Vec::new());
        };
        let wanted = digest.to_string();
        Ok(Self::entries(&index)
            .iter()
            .filter(|e| e.get("digest").and_then(Value::as_str) == Some(wanted.as_str()))
            .filter_map(|e| Self::ref_name(e).map(str::to_owned))
            .collect())
    }

    /// Write `bytes` to `path` atomically (temp file in the same directory, then rename).
    async fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
        let dir = path
            .parent()
            .ok_or_else(|| self.err(format!("`{}` has no parent directory", path.display())))?;
        self.refuse_symlinks(dir).await?;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| self.io_err("cannot create directory", dir, &e))?;
        self.refuse_symlinks(dir).await?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(
            ".{file_name}.tmp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = async {
            use tokio::io::AsyncWriteExt as _;
            // `create_new`: never opens (and follows) something already at the name.
            let mut f = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .await?;
            f.write_all(bytes).await?;
            f.sync_all().await?;
            drop(f);
            tokio::fs::rename(&tmp, path).await
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(self.io_err("cannot write", path, &e));
        }
        Ok(())
    }

    /// Refuse to write below a symlink inside the layout (`blobs`, `blobs/sha256`, ...): a
    /// layout from elsewhere could otherwise make signing write outside it. The layout root
    /// itself may be a symlink (the user named it). Checked before and after creating the
    /// directories; a writer racing us inside the layout directory is out of scope (that
    /// needs `openat`-style handles, which std does not offer).
    async fn refuse_symlinks(&self, dir: &Path) -> Result<(), RegistryError> {
        let Ok(inside) = dir.strip_prefix(&self.root) else {
            return Err(self.err(format!(
                "`{}` is outside the layout directory",
                dir.display()
            )));
        };
        let mut path = self.root.clone();
        for part in inside.components() {
            path.push(part);
            match tokio::fs::symlink_metadata(&path).await {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(self.err(format!(
                        "refusing to write through the symlink `{}` inside the layout",
                        path.display()
                    )));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(self.io_err("cannot inspect", &path, &e)),
            }
        }
        Ok(())
    }

    async fn ensure_layout_file(&self) -> Result<(), RegistryError> {
        let path = self.root.join("oci-layout");
        match tokio::fs::metadata(&path).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.write_atomic(&path, br#"{"imageLayoutVersion":"1.0.0"}"#)
                    .await
            }
            Err(e) => Err(self.io_err("cannot read", &path, &e)),
        }
    }

    async fn write_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), RegistryError> {
        let path = self.blob_path(digest);
        if tokio::fs::metadata(&path)
            .await
            .is_ok_and(|m| m.len() == bytes.len() as u64)
        {
            return Ok(());
        }
        self.write_atomic(&path, bytes).await
    }
}

enum ReadFile {
    NotFound,
    TooLarge(u64),
    Io(std::io::Error),
}

/// Read a file through [`crate::fs::read_limited`] (refused by its size before reading when
/// it is over `limit`), off the async runtime's threads.
async fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadFile> {
    let owned = path.to_owned();
    let read = tokio::task::spawn_blocking(move || crate::fs::read_limited(&owned, limit))
        .await
        .map_err(|e| ReadFile::Io(std::io::Error::other(e)))?;
    read.map_err(|e| match e {
        crate::fs::ReadError::TooLarge { size, .. } => ReadFile::TooLarge(size),
        crate::fs::ReadError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            ReadFile::NotFound
        }
        crate::fs::ReadError::Io { source, .. } => ReadFile::Io(source),
    })
}

impl Repository for LayoutRepository {
    fn name(&self) -> &str {
        &self.name
    }

    async fn get_manifest(
        &self,
        reference: ManifestRef<'_>,
    ) -> Result<Option<Manifest>, RegistryError> {
        let (digest, entry_media_type) = match reference {
            ManifestRef::Digest(d) => (d.clone(), None),
            ManifestRef::Tag(tag) => {
                let index = self.read_index().await?.ok_or_else(|| {
                    self.err("no index.json: not an OCI image layout (or it does not exist)")
                })?;
                // The last entry with the name wins (we never write duplicates).
                let Some(entry) = Self::entries(&index)
                    .iter()
                    .rev()
                    .find(|e| Self::ref_name(e) == Some(tag))
                else {
                    return Ok(None);
                };
                let media_type = entry
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (self.entry_digest(entry)?, media_type)
            }
        };
        let path = self.blob_path(&digest);
        let limit = self.limits.max_manifest_bytes;
        let bytes = match read_limited(&path, limit).await {
            Ok(b) => b,
            Err(ReadFile::NotFound) => {
                return match reference {
                    ManifestRef::Digest(_) => Ok(None),
                    // Listed in index.json but missing: the layout is broken.
                    ManifestRef::Tag(t) => Err(self.err(format!(
                        "tag `{t}` points at {digest}, whose blob is missing"
                    ))),
                };
            }
            Err(ReadFile::TooLarge(size)) => {
                return Err(RegistryError::TooLarge {
                    repository: self.name.clone(),
                    what: "manifest".to_owned(),
                    object: digest.to_string(),
                    size,
                    limit,
                });
            }
            Err(ReadFile::Io(e)) => return Err(self.io_err("cannot read", &path, &e)),
        };
        let actual = Digest::of(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                repository: self.name.clone(),
                what: "manifest".to_owned(),
                expected: digest,
                actual,
            });
        }
        let what = format!("manifest {digest} is not JSON");
        Manifest::checked(digest, bytes, entry_media_type)
            .map(Some)
            .map_err(|e| self.err(format!("{what}: {e}")))
    }

    async fn put_manifest(
        &self,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(bytes);
        self.ensure_layout_file().await?;
        self.write_blob(&digest, bytes).await?;

        let _guard = self.index_lock.lock().await;
        let mut index = match self.read_index().await? {
            Some(i) => i,
            None => serde_json::json!({
                "schemaVersion": 2,
                "mediaType": media_types::OCI_INDEX,
                "manifests": [],
            }),
        };
        let Some(obj) = index.as_object_mut() else {
            return Err(self.err("index.json is not a JSON object"));
        };
        let manifests = obj
            .entry("manifests")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(entries) = manifests else {
            return Err(self.err("index.json: `manifests` is not an array"));
        };
        let digest_str = digest.to_string();
        let mut entry = Map::new();
        entry.insert("mediaType".into(), Value::from(media_type));
        entry.insert("digest".into(), Value::from(digest_str.clone()));
        entry.insert("size".into(), Value::from(bytes.len() as u64));
        match tag {
            Some(tag) => {
                entries.retain(|e| Self::ref_name(e) != Some(tag));
                let mut annotations = Map::new();
                annotations.insert(REF_NAME_ANNOTATION.into(), Value::from(tag));
                entry.insert("annotations".into(), Value::Object(annotations));
                entries.push(Value::Object(entry));
            }
            None => {
                let listed = entries
                    .iter()
                    .any(|e| e.get("digest").and_then(Value::as_str) == Some(digest_str.as_str()));
                if !listed {
                    entries.push(Value::Object(entry));
                }
            }
        }
        let out = serde_json::to_vec(&index)
            .map_err(|e| self.err(format!("cannot serialise index.json: {e}")))?;
        self.write_atomic(&self.root.join("index.json"), &out)
            .await?;
        Ok(digest)
    }

    async fn get_blob(
        &self,
        digest: &Digest,
        max_bytes: u64,
    ) -> Result<Arc<Vec<u8>>, RegistryError> {
        let path = self.blob_path(digest);
        let bytes = match read_limited(&path, max_bytes).await {
            Ok(b) => b,
            Err(ReadFile::NotFound) => {
                return Err(RegistryError::BlobNotFound {
                    repository: self.name.clone(),
                    digest: digest.clone(),
                });
            }
            Err(ReadFile::TooLarge(size)) => {
                return Err(RegistryError::TooLarge {
                    repository: self.name.clone(),
                    what: "blob".to_owned(),
                    object: digest.to_string(),
                    size,
                    limit: max_bytes,
                });
            }
            Err(ReadFile::Io(e)) => return Err(self.io_err("cannot read", &path, &e)),
        };
        super::checked_blob(&self.name, digest, bytes).map(Arc::new)
    }

    async fn put_blob(&self, blob: Blob) -> Result<Digest, RegistryError> {
        self.ensure_layout_file().await?;
        self.write_blob(blob.digest(), blob.bytes()).await?;
        Ok(blob.digest().clone())
    }

    async fn referrers_api(&self, _subject: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        // No referrers API in a layout: callers use the `sha256-<hex>` tag schema.
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 10): a layout whose `blobs/sha256` is a symlink made `put_blob`
    /// (signing into the layout) write wherever the link pointed.
    #[tokio::test]
    async fn writes_do_not_follow_symlinks_inside_the_layout() {
        let outside = tempfile::tempdir().unwrap();
        let layout = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(layout.path().join("blobs")).unwrap();
        std::os::unix::fs::symlink(outside.path(), layout.path().join("blobs/sha256")).unwrap();
        let repo = LayoutRepository::new(&layout.path().display().to_string(), Limits::DEFAULT);
        let e = repo
            .put_blob(Blob::copy_from_slice(b"payload"))
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("symlink") && msg.contains("blobs/sha256"),
            "{msg}"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

        // `blobs` itself a symlink: refused too.
        let layout = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), layout.path().join("blobs")).unwrap();
        let repo = LayoutRepository::new(&layout.path().display().to_string(), Limits::DEFAULT);
        assert!(
            repo.put_blob(Blob::copy_from_slice(b"payload"))
                .await
                .is_err()
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

        // A plain layout still works.
        let layout = tempfile::tempdir().unwrap();
        let repo = LayoutRepository::new(&layout.path().display().to_string(), Limits::DEFAULT);
        let digest = repo
            .put_blob(Blob::copy_from_slice(b"payload"))
            .await
            .unwrap();
        assert!(
            layout
                .path()
                .join("blobs/sha256")
                .join(digest.hex())
                .is_file()
        );
    }
}
