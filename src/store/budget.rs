//! One image's fetch budget during discovery (issue 10): every digest fetched once, at most
//! [`Limits::max_concurrent_fetches`] fetches at a time, and everything fetched (attachment
//! manifests, referrers indexes, referrer manifests, layers, bundles) charged to one total,
//! [`Limits::max_image_bytes`].
//!
//! Without this, a `.sig` manifest whose layers all point at one 128 MiB blob made the verifier
//! hold one copy per layer. Blobs are memoised by (digest, declared size) and handed out as one
//! shared `Arc`; the size is part of the key so that a junk descriptor declaring the wrong size
//! for a digest cannot poison the fetch of a valid one. A blob is charged its declared size
//! before it is fetched, and fetched with that size as its cap, so the total is never exceeded
//! by blob bytes held in memory. Manifests have no trustworthy size before they arrive (they
//! are capped by [`Limits::max_manifest_bytes`] in the transport) and are charged on arrival.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OnceCell, Semaphore};

use crate::format::digest::Digest;
use crate::format::oci::Descriptor;
use crate::store::{Blob, Limits, Manifest, ManifestRef, RegistryError, Repository};

/// A fetched blob as shared by every candidate that names it, or why it could not be fetched.
pub(crate) type Shared = Result<Arc<Vec<u8>>, String>;

/// One shared fetch per (digest, declared size).
type Memo = HashMap<(Digest, u64), Arc<OnceCell<Shared>>>;

/// The fetches of one image's discovery, over `repo`. Also a [`Repository`] itself, so code
/// that reads manifests (`attach::read`) is charged and throttled too.
pub(crate) struct ImageFetches<'a, R> {
    repo: &'a R,
    limits: &'a Limits,
    permits: Semaphore,
    spent: Mutex<u64>,
    memo: Mutex<Memo>,
}

impl<'a, R: Repository> ImageFetches<'a, R> {
    /// A fresh budget for one image.
    pub(crate) fn new(repo: &'a R, limits: &'a Limits) -> Self {
        Self {
            repo,
            limits,
            // A limit of 0 would wait forever: treat it as one fetch at a time.
            permits: Semaphore::new(limits.max_concurrent_fetches.max(1)),
            spent: Mutex::new(0),
            memo: Mutex::new(HashMap::new()),
        }
    }

    /// Add `bytes` to the image total. `Err((total it would reach, limit))` when that is over
    /// [`Limits::max_image_bytes`]; nothing is charged then.
    fn charge(&self, bytes: u64) -> Result<(), (u64, u64)> {
        // The guarded value is a plain counter: a panic elsewhere cannot leave it inconsistent.
        let mut spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        let total = spent.saturating_add(bytes);
        if total > self.limits.max_image_bytes {
            return Err((total, self.limits.max_image_bytes));
        }
        *spent = total;
        Ok(())
    }

    /// The blob `descriptor` names, at most `max` bytes (`limit` names that limit in the
    /// error). Refused by its declared size before any request; fetched once per image however
    /// many descriptors name it, and charged to the image total once.
    pub(crate) async fn blob(&self, descriptor: &Descriptor, max: u64, limit: &str) -> Shared {
        let size = descriptor.size;
        if size > max {
            return Err(format!(
                "{limit}: layer {} declares {size} bytes, over the limit of {max}",
                descriptor.digest
            ));
        }
        let cell = {
            let mut memo = self.memo.lock().unwrap_or_else(PoisonError::into_inner);
            memo.entry((descriptor.digest.clone(), size))
                .or_default()
                .clone()
        };
        cell.get_or_init(|| self.fetch(&descriptor.digest, size))
            .await
            .clone()
    }

    async fn fetch(&self, digest: &Digest, size: u64) -> Shared {
        self.charge(size).map_err(|(total, limit)| {
            format!(
                "max_image_bytes: fetching layer {digest} ({size} bytes) would bring the bytes \
                 fetched for this image to {total}, over the limit of {limit}"
            )
        })?;
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        // Capped at the declared size: a registry sending more is refused, not buffered.
        let fetched = match self.repo.get_blob(digest, size).await {
            Ok(bytes) if bytes.len() as u64 != size => Err(format!(
                "blob is {} bytes but the descriptor says {size}",
                bytes.len()
            )),
            Ok(bytes) => Ok(bytes),
            Err(e) => Err(crate::format::error_chain(&e)),
        };
        if fetched.is_err() {
            // Nothing is held for a failed fetch: give its charge back, so descriptors that
            // declare huge sizes for blobs that do not exist cannot use up the budget of the
            // valid attachments beside them.
            self.refund(size);
        }
        fetched
    }

    fn refund(&self, bytes: u64) {
        let mut spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        *spent = spent.saturating_sub(bytes);
    }

    /// Charge `len` bytes of a `what` (manifest, index, blob) just fetched, as a transport
    /// error naming the limit when the total goes over it.
    fn charge_fetched(&self, what: &str, object: &str, len: usize) -> Result<(), RegistryError> {
        self.charge(len as u64)
            .map_err(|(size, limit)| RegistryError::TooLarge {
                repository: self.repo.name().to_owned(),
                what: format!("max_image_bytes: the bytes fetched for this image, with {what}"),
                object: object.to_owned(),
                size,
                limit,
            })
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, RegistryError> {
        self.permits
            .acquire()
            .await
            .map_err(|e| RegistryError::Config {
                message: e.to_string(),
            })
    }
}

impl<R: Repository> Repository for ImageFetches<'_, R> {
    fn name(&self) -> &str {
        self.repo.name()
    }

    async fn get_manifest(
        &self,
        reference: ManifestRef<'_>,
    ) -> Result<Option<Manifest>, RegistryError> {
        let m = {
            let _permit = self.permit().await?;
            self.repo.get_manifest(reference).await?
        };
        if let Some(m) = &m {
            let object = match reference {
                ManifestRef::Tag(t) => t.to_owned(),
                ManifestRef::Digest(d) => d.to_string(),
            };
            self.charge_fetched("manifest", &object, m.bytes.len())?;
        }
        Ok(m)
    }

    async fn put_manifest(
        &self,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        self.repo.put_manifest(tag, media_type, bytes).await
    }

    async fn get_blob(
        &self,
        digest: &Digest,
        max_bytes: u64,
    ) -> Result<Arc<Vec<u8>>, RegistryError> {
        // Not memoised here; discovery uses `blob` instead.
        let bytes = {
            let _permit = self.permit().await?;
            self.repo.get_blob(digest, max_bytes).await?
        };
        self.charge_fetched("blob", &digest.to_string(), bytes.len())?;
        Ok(bytes)
    }

    async fn put_blob(&self, blob: Blob) -> Result<Digest, RegistryError> {
        self.repo.put_blob(blob).await
    }

    async fn referrers_api(&self, subject: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        let index = {
            let _permit = self.permit().await?;
            self.repo.referrers_api(subject).await?
        };
        if let Some(b) = &index {
            self.charge_fetched("referrers index", &subject.to_string(), b.len())?;
        }
        Ok(index)
    }

    fn has_referrers_api(&self) -> bool {
        self.repo.has_referrers_api()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A store that serves any blob as `size` zero bytes after a short wait, counting calls and
    /// the most calls in flight at once. Hand-written: the point is to observe concurrency,
    /// which neither backend exposes.
    #[derive(Default)]
    struct Slow {
        calls: AtomicUsize,
        in_flight: AtomicUsize,
        most: AtomicUsize,
        /// Blobs asked for with this size fail (as a blob that does not exist would).
        fail_size: Option<u64>,
    }

    impl Repository for Slow {
        fn name(&self) -> &str {
            "slow"
        }
        async fn get_manifest(
            &self,
            _: ManifestRef<'_>,
        ) -> Result<Option<Manifest>, RegistryError> {
            Ok(None)
        }
        async fn put_manifest(
            &self,
            _: Option<&str>,
            _: &str,
            bytes: &[u8],
        ) -> Result<Digest, RegistryError> {
            Ok(Digest::of(bytes))
        }
        async fn get_blob(
            &self,
            _: &Digest,
            max_bytes: u64,
        ) -> Result<Arc<Vec<u8>>, RegistryError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.fail_size == Some(max_bytes) {
                return Err(RegistryError::Config {
                    message: "no such blob".into(),
                });
            }
            Ok(Arc::new(vec![0; usize::try_from(max_bytes).unwrap_or(0)]))
        }
        async fn put_blob(&self, blob: Blob) -> Result<Digest, RegistryError> {
            Ok(blob.digest().clone())
        }
        async fn referrers_api(&self, _: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
            Ok(None)
        }
    }

    fn descriptor(n: usize, size: u64) -> Descriptor {
        Descriptor {
            size,
            ..Descriptor::for_bytes("x", format!("{n}").as_bytes())
        }
    }

    #[tokio::test]
    async fn concurrent_requests_for_one_digest_share_one_fetch() {
        let repo = Slow::default();
        let limits = Limits::DEFAULT;
        let f = ImageFetches::new(&repo, &limits);
        let d = descriptor(0, 10);
        let all = futures_util::future::join_all((0..100).map(|_| f.blob(&d, 10, "max"))).await;
        assert_eq!(repo.calls.load(Ordering::SeqCst), 1);
        let first = all[0].as_ref().unwrap();
        assert!(all.iter().all(|b| Arc::ptr_eq(first, b.as_ref().unwrap())));
    }

    #[tokio::test]
    async fn fetches_are_bounded_by_max_concurrent_fetches() {
        let repo = Slow::default();
        let limits = Limits {
            max_concurrent_fetches: 3,
            ..Limits::DEFAULT
        };
        let f = ImageFetches::new(&repo, &limits);
        let ds: Vec<_> = (0..20).map(|n| descriptor(n, 10)).collect();
        let all = futures_util::future::join_all(ds.iter().map(|d| f.blob(d, 10, "max"))).await;
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(repo.calls.load(Ordering::SeqCst), 20);
        assert_eq!(repo.most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_total_is_charged_once_per_digest_and_refused_past_the_limit() {
        let repo = Slow::default();
        let limits = Limits {
            max_image_bytes: 25,
            ..Limits::DEFAULT
        };
        let f = ImageFetches::new(&repo, &limits);
        let (a, b, c) = (descriptor(1, 10), descriptor(2, 10), descriptor(3, 10));
        assert!(f.blob(&a, 10, "max").await.is_ok());
        assert!(
            f.blob(&a, 10, "max").await.is_ok(),
            "memoised: not charged again"
        );
        assert!(f.blob(&b, 10, "max").await.is_ok());
        let e = f.blob(&c, 10, "max").await.unwrap_err();
        assert!(
            e.contains("max_image_bytes") && e.contains("30") && e.contains("25"),
            "{e}"
        );
        assert_eq!(
            repo.calls.load(Ordering::SeqCst),
            2,
            "refused before fetching"
        );
    }

    /// Regression: a failed fetch kept its charge, so descriptors declaring huge sizes for
    /// blobs that do not exist used up the budget of valid attachments beside them.
    #[tokio::test]
    async fn a_failed_fetch_gives_its_charge_back() {
        let repo = Slow {
            fail_size: Some(20),
            ..Slow::default()
        };
        let limits = Limits {
            max_image_bytes: 25,
            ..Limits::DEFAULT
        };
        let f = ImageFetches::new(&repo, &limits);
        assert!(f.blob(&descriptor(1, 20), 20, "max").await.is_err());
        assert!(f.blob(&descriptor(2, 15), 15, "max").await.is_ok());
    }

    #[tokio::test]
    async fn a_declared_size_over_the_kind_limit_is_refused_without_a_fetch() {
        let repo = Slow::default();
        let limits = Limits::DEFAULT;
        let f = ImageFetches::new(&repo, &limits);
        let e = f
            .blob(&descriptor(1, 11), 10, "max_payload_bytes")
            .await
            .unwrap_err();
        assert!(
            e.contains("max_payload_bytes") && e.contains("11") && e.contains("10"),
            "{e}"
        );
        assert_eq!(repo.calls.load(Ordering::SeqCst), 0);
    }
}
