//! The verification cache for long-running gates (the admission webhook): verified
//! cryptographic evidence, shared across requests, correct by construction.
//!
//! - **Key.** The image *digest*, each needed authority's identity (a hash of its definition:
//!   key PEM or keyless identity and trust-root name), the hash of every trust root those
//!   authorities use, and what was looked for (signatures, attestations). Never a tag: a
//!   moved tag resolves to another digest and misses.
//! - **Value.** What verified and what was rejected per authority ([`Gathered`]). The policy
//!   is evaluated again on every request from this evidence; no decision is cached here.
//! - **Never an infrastructure error.** Evidence gathered while a source could not be read
//!   (`registry-error`, `timeout`) is handed to the requests that waited for it but not kept.
//! - **Single flight.** Concurrent requests for the same key share one verification (a
//!   Deployment → ReplicaSet → Pod rollout verifies once); a request that gives up (its
//!   deadline passed) does not cancel the others, one of them carries on.
//! - **Bounded.** In bytes (an estimate of each entry's size; oldest evicted first) and in
//!   time: an entry lives at most the configured TTL by the injected clock, and never past
//!   the end of its evidence's validity ([`Gathered::valid_until`]: the earliest time at which
//!   a certificate, signature, bundle or attestation the result rests on stops being valid
//!   when that validity is judged against the current time). Evidence whose validity has
//!   already ended is handed to the waiting requests but not kept.
//!
//! Where validity comes from: imprint checks a Fulcio certificate (and its CA chain) at the
//! *signing time* (the verified transparency-log integrated time or RFC 3161 time), never at
//! the current time, so a verified keyless result does not lapse when the ten-minute
//! certificate does; the trust roots' validity periods are judged at the signing time too.
//! What would lapse is evidence judged against "now" (no verification path does that
//! today, so the gate leaves `valid_until` unset); whatever sets it, the cache caps each
//! entry by it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::format::digest::Digest;
use crate::policy::{AuthorityEvidence, Reason};

/// What one gathering produced: evidence per authority name, and the sources that could not
/// be read (non-empty: not cached).
#[derive(Debug, Clone, Default)]
pub(super) struct Gathered {
    pub(super) by_authority: BTreeMap<String, AuthorityEvidence>,
    pub(super) discovery_errors: Vec<Reason>,
    /// When the evidence stops being valid (`None`: it does not lapse with time); the cache
    /// keeps it no longer than this.
    pub(super) valid_until: Option<SystemTime>,
}

/// The cache key (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct EvidenceKey {
    pub(super) digest: Digest,
    /// (authority name, hash of its definition), sorted by name.
    pub(super) authorities: Vec<(String, Digest)>,
    /// Hashes of the trust roots the authorities use, sorted.
    pub(super) trust_roots: Vec<Digest>,
    pub(super) signatures: bool,
    pub(super) attestations: bool,
}

/// Counters of an [`EvidenceCache`] since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EvidenceCacheStats {
    /// Lookups answered from a stored entry.
    pub hits: u64,
    /// Lookups that joined a verification already running for the same key.
    pub shared: u64,
    /// Lookups that ran a verification.
    pub misses: u64,
    /// Entries held now.
    pub entries: usize,
    /// Estimated bytes held now.
    pub bytes: usize,
}

type Flight = Arc<tokio::sync::OnceCell<Arc<Gathered>>>;

#[derive(Debug)]
pub(super) struct EvidenceCache {
    max_bytes: usize,
    ttl: Duration,
    state: Mutex<State>,
    hits: AtomicU64,
    shared: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<EvidenceKey, Entry>,
    order: VecDeque<(EvidenceKey, SystemTime)>,
    bytes: usize,
    in_flight: HashMap<EvidenceKey, Flight>,
}

#[derive(Debug)]
struct Entry {
    at: SystemTime,
    /// `at + ttl`, or the evidence's `valid_until` when earlier.
    expires: SystemTime,
    size: usize,
    value: Arc<Gathered>,
}

impl EvidenceCache {
    pub(super) fn new(max_bytes: usize, ttl: Duration) -> Self {
        Self {
            max_bytes,
            ttl,
            state: Mutex::new(State::default()),
            hits: AtomicU64::new(0),
            shared: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Entries are immutable values; a panic elsewhere cannot leave them half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn stats(&self) -> EvidenceCacheStats {
        let g = self.lock();
        EvidenceCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            shared: self.shared.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: g.entries.len(),
            bytes: g.bytes,
        }
    }

    /// The stored evidence for `key` at `now`, or the result of the verification already
    /// running for it, or of `verify` (run once for all concurrent callers).
    pub(super) async fn get_or_verify<F, Fut>(
        &self,
        key: EvidenceKey,
        now: SystemTime,
        verify: F,
    ) -> Arc<Gathered>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Gathered>,
    {
        let flight = {
            let mut g = self.lock();
            if let Some(e) = g.entries.get(&key) {
                if now < e.expires && now >= e.at {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return e.value.clone();
                }
                if let Some(old) = g.entries.remove(&key) {
                    g.bytes -= old.size;
                }
            }
            match g.in_flight.get(&key) {
                Some(f) => {
                    self.shared.fetch_add(1, Ordering::Relaxed);
                    f.clone()
                }
                None => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    let f = Flight::default();
                    g.in_flight.insert(key.clone(), f.clone());
                    f
                }
            }
        };
        let value = flight
            .get_or_init(|| async { Arc::new(verify().await) })
            .await
            .clone();
        let mut g = self.lock();
        if g.in_flight
            .get(&key)
            .is_some_and(|f| Arc::ptr_eq(f, &flight))
        {
            g.in_flight.remove(&key);
            let expires = self.expiry(now, value.valid_until);
            if value.discovery_errors.is_empty() && !g.entries.contains_key(&key) && expires > now {
                let size = estimate(&key, &value);
                if size <= self.max_bytes {
                    g.bytes += size;
                    g.order.push_back((key.clone(), now));
                    g.entries.insert(
                        key,
                        Entry {
                            at: now,
                            expires,
                            size,
                            value: value.clone(),
                        },
                    );
                    Self::evict(&mut g, self.max_bytes);
                }
            }
        }
        value
    }

    /// When an entry stored at `now` expires: after the TTL, or when its evidence stops
    /// being valid if that is sooner.
    fn expiry(&self, now: SystemTime, valid_until: Option<SystemTime>) -> SystemTime {
        // A TTL too large to add is "no TTL bound" (capped by validity only).
        let by_ttl = now.checked_add(self.ttl);
        match (by_ttl, valid_until) {
            (Some(t), Some(v)) => t.min(v),
            (Some(t), None) => t,
            (None, Some(v)) => v,
            (None, None) => SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4),
        }
    }

    fn evict(g: &mut State, max_bytes: usize) {
        while g.bytes > max_bytes {
            let Some((key, at)) = g.order.pop_front() else {
                break;
            };
            // The order queue may name an entry that was replaced since; only drop the one
            // inserted at that time.
            if g.entries.get(&key).is_some_and(|e| e.at == at)
                && let Some(e) = g.entries.remove(&key)
            {
                g.bytes -= e.size;
            }
        }
    }
}

/// An estimate of the bytes an entry holds: the key, the signed payloads and envelopes, the
/// statements and the rejection messages, plus a fixed overhead per item.
fn estimate(key: &EvidenceKey, value: &Gathered) -> usize {
    const ITEM: usize = 256;
    let mut n = ITEM
        + key
            .authorities
            .iter()
            .map(|(a, _)| a.len() + 80)
            .sum::<usize>();
    n += key.trust_roots.len() * 80;
    for (name, ev) in &value.by_authority {
        n += ITEM + name.len();
        n += ev
            .signatures
            .iter()
            .map(|s| ITEM + s.payload().len() + annotations_len(s.annotations()))
            .sum::<usize>();
        n += ev
            .attestations
            .iter()
            // The statement is held parsed and as the envelope's bytes (base64, 4/3).
            .map(|a| ITEM + a.envelope().len() * 2)
            .sum::<usize>();
        n += ev
            .rejected
            .iter()
            .map(|r| ITEM + r.message.len())
            .sum::<usize>();
    }
    n
}

fn annotations_len(a: &BTreeMap<String, String>) -> usize {
    a.iter().map(|(k, v)| k.len() + v.len() + 48).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ReasonCode;

    fn key(n: u8) -> EvidenceKey {
        EvidenceKey {
            digest: Digest::of(&[n]),
            authorities: vec![("release".to_owned(), Digest::of(b"key"))],
            trust_roots: Vec::new(),
            signatures: true,
            attestations: false,
        }
    }

    fn gathered(rejections: usize) -> Gathered {
        let mut ev = AuthorityEvidence::default();
        for i in 0..rejections {
            ev.rejected.push(crate::policy::Rejection {
                code: ReasonCode::SignatureInvalid,
                message: format!("layer {i} does not verify"),
            });
        }
        Gathered {
            by_authority: BTreeMap::from([("release".to_owned(), ev)]),
            discovery_errors: Vec::new(),
            valid_until: None,
        }
    }

    #[tokio::test]
    async fn hits_after_a_miss_and_expires_by_the_clock() {
        let c = EvidenceCache::new(1 << 20, Duration::from_secs(60));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let runs = AtomicU64::new(0);
        let run = || async {
            runs.fetch_add(1, Ordering::Relaxed);
            gathered(1)
        };
        c.get_or_verify(key(1), t0, run).await;
        c.get_or_verify(key(1), t0 + Duration::from_secs(59), run)
            .await;
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        c.get_or_verify(key(1), t0 + Duration::from_secs(60), run)
            .await;
        assert_eq!(runs.load(Ordering::Relaxed), 2, "expired at the TTL");
        // Another digest is another key.
        c.get_or_verify(key(2), t0, run).await;
        assert_eq!(runs.load(Ordering::Relaxed), 3);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.entries), (1, 3, 2));
    }

    #[tokio::test]
    async fn infrastructure_errors_are_not_kept() {
        let c = EvidenceCache::new(1 << 20, Duration::from_secs(60));
        let t0 = SystemTime::UNIX_EPOCH;
        let runs = AtomicU64::new(0);
        let run = || async {
            runs.fetch_add(1, Ordering::Relaxed);
            let mut g = gathered(0);
            g.discovery_errors.push(Reason::new(
                ReasonCode::RegistryError,
                "503 from the registry",
            ));
            g
        };
        let first = c.get_or_verify(key(1), t0, run).await;
        assert_eq!(first.discovery_errors.len(), 1);
        c.get_or_verify(key(1), t0, run).await;
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        assert_eq!(c.stats().entries, 0);
    }

    #[tokio::test]
    async fn concurrent_lookups_share_one_verification() {
        let c = Arc::new(EvidenceCache::new(1 << 20, Duration::from_secs(60)));
        let runs = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (c, runs, gate) = (c.clone(), runs.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_verify(key(7), SystemTime::UNIX_EPOCH, || async move {
                    runs.fetch_add(1, Ordering::Relaxed);
                    gate.notified().await;
                    gathered(2)
                })
                .await
            }));
        }
        // Let every task reach the cache, then release the one verification.
        while c.stats().misses + c.stats().shared < 8 {
            tokio::task::yield_now().await;
        }
        gate.notify_waiters();
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.unwrap().by_authority["release"].rejected.len(), 2);
        }
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        let s = c.stats();
        assert_eq!((s.misses, s.shared), (1, 7));
    }

    #[tokio::test]
    async fn bounded_in_bytes_oldest_first() {
        let one = estimate(&key(0), &gathered(10));
        let c = EvidenceCache::new(one * 2 + one / 2, Duration::from_secs(60));
        let t0 = SystemTime::UNIX_EPOCH;
        for n in 0..3 {
            c.get_or_verify(key(n), t0, || async { gathered(10) }).await;
        }
        let s = c.stats();
        assert_eq!(s.entries, 2);
        assert!(s.bytes <= one * 2 + one / 2);
        // The oldest (key 0) went: looking it up verifies again.
        let runs = AtomicU64::new(0);
        c.get_or_verify(key(0), t0, || async {
            runs.fetch_add(1, Ordering::Relaxed);
            gathered(10)
        })
        .await;
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        c.get_or_verify(key(2), t0, || async {
            runs.fetch_add(1, Ordering::Relaxed);
            gathered(10)
        })
        .await;
        assert_eq!(runs.load(Ordering::Relaxed), 1, "the newest is still held");
    }

    #[tokio::test]
    async fn an_entry_never_outlives_its_evidence() {
        let c = EvidenceCache::new(1 << 20, Duration::from_secs(300));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let runs = AtomicU64::new(0);
        // Valid for 60 s more (a certificate's notAfter, say): cached 60 s, not the TTL's 300.
        let until = |end: SystemTime| {
            let runs = &runs;
            move || async move {
                runs.fetch_add(1, Ordering::Relaxed);
                let mut g = gathered(0);
                g.valid_until = Some(end);
                g
            }
        };
        let end = t0 + Duration::from_secs(60);
        c.get_or_verify(key(1), t0, until(end)).await;
        c.get_or_verify(key(1), t0 + Duration::from_secs(59), until(end))
            .await;
        assert_eq!(runs.load(Ordering::Relaxed), 1, "a hit before the end");
        c.get_or_verify(key(1), end, until(end + Duration::from_secs(600)))
            .await;
        assert_eq!(runs.load(Ordering::Relaxed), 2, "verified again at the end");
        // Stored again at `end`, valid to end + 600 s: now the TTL (300 s) is the bound.
        c.get_or_verify(key(1), end + Duration::from_secs(299), until(end))
            .await;
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        c.get_or_verify(
            key(1),
            end + Duration::from_secs(300),
            until(end + Duration::from_secs(900)),
        )
        .await;
        assert_eq!(runs.load(Ordering::Relaxed), 3, "expired at the TTL");
        // Evidence whose validity already ended is answered but not kept.
        let past = t0 - Duration::from_secs(1);
        let first = c.get_or_verify(key(2), t0, until(past)).await;
        assert_eq!(first.valid_until, Some(past));
        c.get_or_verify(key(2), t0, until(past)).await;
        assert_eq!(runs.load(Ordering::Relaxed), 5, "not cached");
        // A clock that went backwards before the entry was made does not hit it either.
        c.get_or_verify(
            key(1),
            end - Duration::from_secs(1),
            until(end + Duration::from_secs(900)),
        )
        .await;
        assert_eq!(runs.load(Ordering::Relaxed), 6);
    }
}
