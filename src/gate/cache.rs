//! Caches for bulk and repeated verification.
//!
//! - [`ContentCache`]: manifests and blobs by digest. Content-addressed, so an entry can never
//!   be stale; bounded in bytes (oldest entries evicted first).
//! - [`TtlCache`]: small time-bounded maps (tag → digest resolutions, whole decisions) with an
//!   injected clock.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::format::digest::Digest;
use crate::store::{Blob, Manifest, ManifestRef, RegistryError, Repository};

/// Bounded content-addressed cache of manifests and blobs.
#[derive(Debug)]
pub(super) struct ContentCache {
    max_bytes: usize,
    inner: Mutex<ContentInner>,
}

#[derive(Debug, Default)]
struct ContentInner {
    bytes: usize,
    blobs: HashMap<Digest, Arc<Vec<u8>>>,
    manifests: HashMap<Digest, Arc<Manifest>>,
    order: VecDeque<Digest>,
}

impl ContentCache {
    /// A cache holding at most `max_bytes` of content.
    pub(super) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: Mutex::new(ContentInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ContentInner> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters (entries are immutable); keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn blob(&self, d: &Digest) -> Option<Arc<Vec<u8>>> {
        self.lock().blobs.get(d).cloned()
    }

    fn manifest(&self, d: &Digest) -> Option<Arc<Manifest>> {
        self.lock().manifests.get(d).cloned()
    }

    fn insert_blob(&self, d: Digest, bytes: Arc<Vec<u8>>) {
        let size = bytes.len();
        if size > self.max_bytes {
            return;
        }
        let mut g = self.lock();
        if g.blobs.insert(d.clone(), bytes).is_none() {
            g.bytes += size;
            g.order.push_back(d);
        }
        Self::evict(&mut g, self.max_bytes);
    }

    fn insert_manifest(&self, m: Arc<Manifest>) {
        let size = m.bytes.len();
        if size > self.max_bytes {
            return;
        }
        let mut g = self.lock();
        if g.manifests.insert(m.digest.clone(), m.clone()).is_none() {
            g.bytes += size;
            g.order.push_back(m.digest.clone());
        }
        Self::evict(&mut g, self.max_bytes);
    }

    fn evict(g: &mut ContentInner, max: usize) {
        while g.bytes > max {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            if let Some(b) = g.blobs.remove(&old) {
                g.bytes -= b.len();
            }
            if let Some(m) = g.manifests.remove(&old) {
                g.bytes -= m.bytes.len();
            }
        }
    }
}

/// A [`Repository`] wrapper that serves manifests-by-digest and blobs from a shared
/// [`ContentCache`]. Tags are never cached here (they move).
#[derive(Debug, Clone)]
pub(super) struct CachingRepository<R> {
    inner: R,
    cache: Arc<ContentCache>,
}

impl<R: Repository> CachingRepository<R> {
    /// Wrap `inner`.
    pub(super) fn new(inner: R, cache: Arc<ContentCache>) -> Self {
        Self { inner, cache }
    }
}

impl<R: Repository> Repository for CachingRepository<R> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get_manifest(
        &self,
        reference: ManifestRef<'_>,
    ) -> Result<Option<Manifest>, RegistryError> {
        if let ManifestRef::Digest(d) = reference
            && let Some(m) = self.cache.manifest(d)
        {
            return Ok(Some((*m).clone()));
        }
        let m = self.inner.get_manifest(reference).await?;
        if let Some(m) = &m {
            self.cache.insert_manifest(Arc::new(m.clone()));
        }
        Ok(m)
    }

    async fn put_manifest(
        &self,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        self.inner.put_manifest(tag, media_type, bytes).await
    }

    async fn get_blob(
        &self,
        digest: &Digest,
        max_bytes: u64,
    ) -> Result<Arc<Vec<u8>>, RegistryError> {
        if let Some(b) = self.cache.blob(digest)
            && b.len() as u64 <= max_bytes
        {
            return Ok(b);
        }
        let b = self.inner.get_blob(digest, max_bytes).await?;
        self.cache.insert_blob(digest.clone(), b.clone());
        Ok(b)
    }

    async fn put_blob(&self, blob: Blob) -> Result<Digest, RegistryError> {
        self.inner.put_blob(blob).await
    }

    async fn referrers_api(&self, subject: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        self.inner.referrers_api(subject).await
    }
}

/// A map whose entries expire `ttl` after insertion, by an injected clock.
#[derive(Debug)]
pub(super) struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    inner: Mutex<HashMap<K, (SystemTime, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// Entries live `ttl`; at most `max_entries` are kept (expired ones are dropped first,
    /// then everything if still full — simple and bounded).
    pub(super) fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            inner: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `k` if present and not expired at `now`.
    pub(super) fn get(&self, k: &K, now: SystemTime) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match g.get(k) {
            Some((at, v)) if now.duration_since(*at).is_ok_and(|age| age < self.ttl) => {
                Some(v.clone())
            }
            _ => None,
        }
    }

    /// Insert `v` for `k` at `now`.
    pub(super) fn insert(&self, k: K, v: V, now: SystemTime) {
        if self.ttl.is_zero() {
            return;
        }
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if g.len() >= self.max_entries {
            let ttl = self.ttl;
            g.retain(|_, (at, _)| now.duration_since(*at).is_ok_and(|age| age < ttl));
            if g.len() >= self.max_entries {
                g.clear();
            }
        }
        g.insert(k, (now, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_expires_by_injected_clock() {
        let c = TtlCache::new(Duration::from_secs(10), 2);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        c.insert("a", 1, t0);
        assert_eq!(c.get(&"a", t0 + Duration::from_secs(9)), Some(1));
        assert_eq!(c.get(&"a", t0 + Duration::from_secs(10)), None);
        c.insert("b", 2, t0);
        c.insert("c", 3, t0 + Duration::from_secs(20));
        assert_eq!(c.get(&"c", t0 + Duration::from_secs(21)), Some(3));
        assert!(c.get(&"a", t0 + Duration::from_secs(21)).is_none());
    }

    #[test]
    fn content_cache_is_bounded() {
        let c = ContentCache::new(10);
        let a = Digest::of(b"aaaaaa");
        let b = Digest::of(b"bbbbbb");
        c.insert_blob(a.clone(), Arc::new(b"aaaaaa".to_vec()));
        c.insert_blob(b.clone(), Arc::new(b"bbbbbb".to_vec()));
        assert!(c.blob(&a).is_none(), "oldest evicted");
        assert!(c.blob(&b).is_some());
        c.insert_blob(Digest::of(&[0; 11]), Arc::new(vec![0; 11]));
        assert!(c.blob(&b).is_some(), "oversize entries are not cached");
    }
}
