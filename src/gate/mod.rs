//! The deploy-gate question as a library call: *does this image satisfy our trust policy?*
//!
//! A [`Verifier`] is built once from a validated [`Policy`] (keys parsed, trust roots loaded,
//! one registry [`Client`] with one connection pool and auth session per registry) and shared
//! across threads. [`Verifier::verify`] resolves an image once, fetches what is attached to
//! it once, checks every candidate against every authority the matching rules name, and hands
//! the verified evidence to the policy engine, which returns a [`Decision`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use imprint::policy::Policy;
//! use imprint::gate::Verifier;
//!
//! let policy = Policy::from_path("policies/example.yaml".as_ref())?;
//! let verifier = Verifier::builder(policy).build()?;
//! let decision = verifier.verify_str("registry.example/payments/api:1.4.2").await;
//! println!("{}: {}", decision.reference(), decision.outcome().as_str());
//! # Ok(()) }
//! ```

mod cache;
pub mod cases;
mod evidence_cache;
pub mod image;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::format::digest::Digest;
use crate::format::reference::ImageRef;
use crate::keys::PublicKey;
use crate::policy::{self, Authority, AuthorityEvidence, Decision, Evidence, Policy, Rejection};
use crate::store::discover::SignatureFormat;
use crate::store::{Client, Limits, RegistryConfig, RegistryError};
use crate::trust::{self, IdentityPolicy};
use crate::verify::{self, CandidateFailure, Cause, Check, SignatureVerifier};
use cache::{CachingRepository, ContentCache, TtlCache};
pub use evidence_cache::EvidenceCacheStats;
use evidence_cache::{EvidenceCache, EvidenceKey, Gathered};

/// The time source (injected so tests and the webhook cache can control it).
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Errors building a [`Verifier`] (bad key material or trust roots in the policy).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// An authority's key does not parse.
    #[error("authority `{authority}`: {message}")]
    Authority {
        /// Authority name.
        authority: String,
        /// Why.
        message: String,
    },
    /// A trust root does not load.
    #[error("trust root `{name}`: {message}")]
    TrustRoot {
        /// Trust root name.
        name: String,
        /// Why.
        message: String,
    },
    /// The registry client could not be built.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Builder for [`Verifier`]; every setting has a documented default.
#[derive(Debug)]
pub struct VerifierBuilder {
    policy: Policy,
    registry: RegistryConfig,
    clock: Arc<dyn Clock>,
    concurrency: usize,
    content_cache_bytes: usize,
    tag_ttl: Duration,
    decision_ttl: Duration,
    evidence_cache: Option<(usize, Duration)>,
    trust_root_overrides: HashMap<String, Arc<trust::TrustRoot>>,
}

impl VerifierBuilder {
    /// Use `root` wherever the policy names the trust root `name` (its own definition or the
    /// embedded one of that name), instead of loading it: the admission webhook hands in the
    /// root a background TUF refresh verified ([`trust::tuf::spawn_refresher`]). Default: none.
    pub fn trust_root(mut self, name: impl Into<String>, root: Arc<trust::TrustRoot>) -> Self {
        self.trust_root_overrides.insert(name.into(), root);
        self
    }

    /// Registry settings (HTTP allow-list, TLS, auth, [`Limits`]). Default: docker config
    /// auth, HTTPS except loopback, default limits.
    pub fn registry(mut self, config: RegistryConfig) -> Self {
        self.registry = config;
        self
    }
    /// The clock. Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Images verified at once by [`Verifier::verify_all`]. Default: 8 per CPU core.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// Bytes of manifests and blobs kept (content-addressed, never stale). Default 64 MiB.
    pub fn content_cache_bytes(mut self, n: usize) -> Self {
        self.content_cache_bytes = n;
        self
    }
    /// How long a tag → digest resolution is reused. Default 30 s; zero disables.
    pub fn tag_ttl(mut self, ttl: Duration) -> Self {
        self.tag_ttl = ttl;
        self
    }
    /// How long a whole decision per (image digest, policy) is reused (the admission-webhook
    /// case). Default 0 (disabled): a CLI run always verifies.
    pub fn decision_ttl(mut self, ttl: Duration) -> Self {
        self.decision_ttl = ttl;
        self
    }

    /// Keep verified evidence (what verified and what was rejected, per authority) for up to
    /// `ttl`, in at most about `max_bytes`, keyed by image digest, authority identity and
    /// trust-root hash, never by tag; the policy is still evaluated on every call, evidence
    /// gathered while a source could not be read is not kept, and concurrent calls for the
    /// same digest share one verification (the admission-webhook case). Default: off.
    pub fn evidence_cache(mut self, max_bytes: usize, ttl: Duration) -> Self {
        self.evidence_cache = (max_bytes > 0 && !ttl.is_zero()).then_some((max_bytes, ttl));
        self
    }

    /// Parse keys, load trust roots, create the registry client.
    pub fn build(self) -> Result<Verifier, VerifierError> {
        let overrides = self.trust_root_overrides;
        let load = |name: &str, root: &policy::TrustRoot| match overrides.get(name) {
            Some(given) => Ok(given.clone()),
            None => root.load(),
        };
        let mut trust_roots: HashMap<String, Arc<trust::TrustRoot>> = HashMap::new();
        for (name, root) in self.policy.trust_roots() {
            let loaded = load(name, root).map_err(|e| VerifierError::TrustRoot {
                name: name.to_owned(),
                message: e.to_string(),
            })?;
            trust_roots.insert(name.to_owned(), loaded);
        }
        let mut verifiers = BTreeMap::new();
        for (name, authority) in self.policy.authorities() {
            let v = match authority {
                Authority::Key(k) => {
                    let key =
                        PublicKey::from_pem(&k.pem).map_err(|e| VerifierError::Authority {
                            authority: name.to_owned(),
                            message: e.to_string(),
                        })?;
                    SignatureVerifier::Key(key)
                }
                Authority::Keyless(k) => {
                    let trust = match trust_roots.get(&k.trust_root) {
                        Some(t) => t.clone(),
                        None => {
                            let Some(root) = self.policy.trust_root(&k.trust_root) else {
                                return Err(VerifierError::TrustRoot {
                                    name: k.trust_root.clone(),
                                    message: format!(
                                        "authority `{name}` names it, but the policy does not define it"
                                    ),
                                });
                            };
                            let t = load(&k.trust_root, &root).map_err(|e| {
                                VerifierError::TrustRoot {
                                    name: k.trust_root.clone(),
                                    message: e.to_string(),
                                }
                            })?;
                            trust_roots.insert(k.trust_root.clone(), t.clone());
                            t
                        }
                    };
                    let identity =
                        IdentityPolicy::new(k.subject.clone(), k.issuer.clone(), k.github.clone())
                            .map_err(|e| VerifierError::Authority {
                                authority: name.to_owned(),
                                message: e.to_string(),
                            })?;
                    SignatureVerifier::Keyless { identity, trust }
                }
                _ => continue,
            };
            verifiers.insert(name.to_owned(), (v, authority.signature_format()));
        }
        let limits = self.registry.limits;
        let client = Client::new(self.registry)?;
        Ok(Verifier {
            inner: Arc::new(Inner {
                trust_roots: trust_roots.into_iter().collect(),
                policy: self.policy,
                verifiers,
                client,
                limits,
                clock: self.clock,
                concurrency: self.concurrency,
                content: Arc::new(ContentCache::new(self.content_cache_bytes)),
                tags: TtlCache::new(self.tag_ttl, 100_000),
                decisions: TtlCache::new(self.decision_ttl, 100_000),
                evidence: self
                    .evidence_cache
                    .map(|(bytes, ttl)| EvidenceCache::new(bytes, ttl)),
            }),
        })
    }
}

/// Verifies images against one policy. Cheap to clone; share it across threads.
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: Policy,
    /// Every trust root loaded: those the policy defines and the embedded ones its keyless
    /// authorities name.
    trust_roots: BTreeMap<String, Arc<trust::TrustRoot>>,
    verifiers: BTreeMap<String, (SignatureVerifier, SignatureFormat)>,
    client: Client,
    limits: Limits,
    clock: Arc<dyn Clock>,
    concurrency: usize,
    content: Arc<ContentCache>,
    tags: TtlCache<String, Digest>,
    decisions: TtlCache<(String, Digest), Decision>,
    evidence: Option<EvidenceCache>,
}

impl Verifier {
    /// A builder with defaults for everything but the policy.
    pub fn builder(policy: Policy) -> VerifierBuilder {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        VerifierBuilder {
            policy,
            registry: RegistryConfig::default(),
            clock: Arc::new(SystemClock),
            concurrency: cores * 8,
            content_cache_bytes: 64 * 1024 * 1024,
            tag_ttl: Duration::from_secs(30),
            decision_ttl: Duration::ZERO,
            evidence_cache: None,
            trust_root_overrides: HashMap::new(),
        }
    }

    /// The policy this verifier applies.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The trust roots this verifier loaded, by name: every root the policy defines in
    /// `spec.trustRoots` and the embedded ones its keyless authorities name. Empty when the
    /// policy has only key authorities.
    pub fn trust_roots(&self) -> impl Iterator<Item = (&str, &trust::TrustRoot)> {
        self.inner
            .trust_roots
            .iter()
            .map(|(n, r)| (n.as_str(), r.as_ref()))
    }

    /// The registry client this verifier reads through (shared connections, auth sessions
    /// and request counter): for reads that belong to the same run, such as tag lists.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// HTTP requests this verifier's registry client has sent so far
    /// ([`Client::requests`]); the difference across a call is what the call cost.
    pub fn registry_requests(&self) -> u64 {
        self.inner.client.requests()
    }

    /// The evidence cache's counters, when it is on ([`VerifierBuilder::evidence_cache`]).
    pub fn evidence_cache_stats(&self) -> Option<EvidenceCacheStats> {
        self.inner.evidence.as_ref().map(EvidenceCache::stats)
    }

    /// Parse `reference` and [`verify`](Self::verify) it; an unparsable reference is denied.
    pub async fn verify_str(&self, reference: &str) -> Decision {
        match ImageRef::parse(reference) {
            Ok(r) => self.verify(&r).await,
            Err(e) => self.unresolved(
                reference,
                policy::ReasonCode::RegistryError,
                format!("invalid image reference: {e}"),
            ),
        }
    }

    /// Decide one image. Never panics and never returns an error: registry failures deny
    /// (fail closed) with reason `registry-error`.
    pub async fn verify(&self, image: &ImageRef) -> Decision {
        let roots = self
            .trust_roots()
            .map(|(name, r)| policy::TrustRootUse {
                name: name.to_owned(),
                origin: r.origin().to_owned(),
                sha256: r.hash(),
            })
            .collect();
        self.decide(image).await.with_trust_roots(roots)
    }

    async fn decide(&self, image: &ImageRef) -> Decision {
        let inner = &self.inner;
        let reference = image.to_string();
        let now = inner.clock.now();
        // One deadline for the whole image: resolution, discovery and every fetch.
        let deadline = tokio::time::Instant::now() + inner.limits.image_timeout;
        let digest = match tokio::time::timeout_at(deadline, self.resolve(image, now)).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                let code = if matches!(e, RegistryError::Timeout { .. }) {
                    policy::ReasonCode::Timeout
                } else {
                    policy::ReasonCode::RegistryError
                };
                return self.unresolved(&reference, code, crate::format::error_chain(&e));
            }
            Err(_) => {
                return self.unresolved(
                    &reference,
                    policy::ReasonCode::Timeout,
                    format!(
                        "resolving the image ran past image_timeout ({:?})",
                        inner.limits.image_timeout
                    ),
                );
            }
        };
        // Keyed by the reference as given (rules may match on tags) and the digest it
        // resolved to; the policy is fixed for this verifier.
        let cache_key = (reference.clone(), digest.clone());
        if let Some(d) = inner.decisions.get(&cache_key, now) {
            return d;
        }
        let evidence = self.gather(image, &digest, deadline).await;
        let decision = policy::evaluate(&inner.policy, &evidence, now);
        // A decision made on incomplete evidence is not reused: the next request reads again.
        if evidence.discovery_errors.is_empty() {
            inner.decisions.insert(cache_key, decision.clone(), now);
        }
        decision
    }

    /// Decide many images concurrently (at most the configured concurrency at once), in input
    /// order. Connections, auth sessions and fetched content are shared.
    pub async fn verify_all(&self, images: &[ImageRef]) -> Vec<Decision> {
        self.verify_all_with(images, |_| {}).await
    }

    /// [`verify_all`](Self::verify_all), calling `on_done(i)` as the decision for
    /// `images[i]` is made (in completion order, from the verifying tasks: keep it quick), e.g.
    /// to draw progress.
    pub async fn verify_all_with(
        &self,
        images: &[ImageRef],
        on_done: impl Fn(usize) + Send + Sync + 'static,
    ) -> Vec<Decision> {
        let on_done = Arc::new(on_done);
        let sem = Arc::new(tokio::sync::Semaphore::new(self.inner.concurrency));
        let mut handles = Vec::with_capacity(images.len());
        for (i, image) in images.iter().enumerate() {
            let permit = sem.clone().acquire_owned().await;
            let this = self.clone();
            let image = image.clone();
            let on_done = on_done.clone();
            handles.push(tokio::spawn(async move {
                let _permit = permit;
                let d = this.verify(&image).await;
                on_done(i);
                d
            }));
        }
        let mut out = Vec::with_capacity(handles.len());
        for (h, image) in handles.into_iter().zip(images) {
            out.push(match h.await {
                Ok(d) => d,
                Err(e) => self.unresolved(
                    &image.to_string(),
                    policy::ReasonCode::RegistryError,
                    format!("verification task failed: {e}"),
                ),
            });
        }
        out
    }

    async fn resolve(&self, image: &ImageRef, now: SystemTime) -> Result<Digest, RegistryError> {
        if let Some(d) = image.digest() {
            return Ok(d.clone());
        }
        let key = image.to_string();
        if let Some(d) = self.inner.tags.get(&key, now) {
            return Ok(d);
        }
        let resolved = self.inner.client.resolve(image).await?;
        let d = resolved.manifest.digest;
        self.inner.tags.insert(key, d.clone(), now);
        Ok(d)
    }

    /// Fetch once, check every candidate against every needed authority.
    async fn gather(
        &self,
        image: &ImageRef,
        digest: &Digest,
        deadline: tokio::time::Instant,
    ) -> Evidence {
        let inner = &self.inner;
        let mut evidence = Evidence::new(image.clone(), digest.clone());
        let needed: BTreeSet<String> = inner
            .policy
            .authorities_needed(image)
            .into_iter()
            .map(str::to_owned)
            .collect();
        if needed.is_empty() {
            return evidence;
        }
        let rules = inner.policy.rules_for(image);
        let wanted = image::Wanted {
            signatures: rules.iter().any(|r| r.signatures.is_some()),
            attestations: rules.iter().any(|r| !r.attestations.is_empty()),
            ..image::Wanted::default()
        };
        let authorities: Vec<(&String, &SignatureVerifier, SignatureFormat)> = needed
            .iter()
            .filter_map(|name| {
                let (verifier, format) = inner.verifiers.get(name)?;
                Some((name, verifier, *format))
            })
            .collect();
        // Notation authorities sign images only (rule `signatures`), never attestations.
        let notation: Vec<(&String, &policy::NotationAuthority)> = needed
            .iter()
            .filter_map(|name| match inner.policy.authority(name) {
                Some(Authority::Notation(a)) if wanted.signatures => Some((name, a)),
                _ => None,
            })
            .collect();
        for (name, authority) in notation {
            let (ev, errors) = self
                .notation_check(image, digest, authority, deadline)
                .await;
            evidence.by_authority.insert(name.clone(), ev);
            evidence.discovery_errors.extend(errors);
        }
        if authorities.is_empty() {
            return evidence;
        }
        let gathered = match &inner.evidence {
            None => Arc::new(
                self.check(image, digest, &wanted, authorities, deadline)
                    .await,
            ),
            Some(cache) => {
                let key = self.evidence_key(digest, &wanted, &authorities);
                let now = inner.clock.now();
                cache
                    .get_or_verify(key, now, || {
                        self.check(image, digest, &wanted, authorities, deadline)
                    })
                    .await
            }
        };
        evidence.by_authority.extend(
            gathered
                .by_authority
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        evidence
            .discovery_errors
            .extend(gathered.discovery_errors.iter().cloned());
        evidence
    }

    /// Find the Notation signatures of `digest` and verify them under a `notation`
    /// authority (not kept in the evidence cache: each call verifies).
    async fn notation_check(
        &self,
        image: &ImageRef,
        digest: &Digest,
        authority: &policy::NotationAuthority,
        deadline: tokio::time::Instant,
    ) -> (AuthorityEvidence, Vec<policy::Reason>) {
        use crate::notation::{NotationError, StoreSource, VerifyOptions};
        let inner = &self.inner;
        let mut ev = AuthorityEvidence::default();
        let at = inner
            .clock
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let opts = VerifyOptions {
            at,
            user_metadata: BTreeMap::new(),
        };
        let pinned = image.with_digest(digest.clone());
        let run = crate::notation::verify_image_with(
            &inner.client,
            &pinned,
            authority.statement(),
            StoreSource::Loaded(authority.stores()),
            &opts,
        );
        let Ok(v) = tokio::time::timeout_at(deadline, run).await else {
            let reason = policy::Reason::new(
                policy::ReasonCode::Timeout,
                format!(
                    "Notation signatures of {pinned}: ran past image_timeout ({:?})",
                    inner.limits.image_timeout
                ),
            );
            return (ev, vec![reason]);
        };
        match v.outcome {
            Ok(verified) => ev.notation.push(policy::NotationEvidence {
                image: digest.clone(),
                verified,
            }),
            Err(NotationError::NoSignature) => {}
            Err(NotationError::Unreadable(m)) => {
                let reason = policy::Reason::new(
                    policy::ReasonCode::RegistryError,
                    format!("Notation signatures of {pinned}: {m}"),
                );
                return (ev, vec![reason]);
            }
            Err(e) => ev.rejected.push(Rejection {
                code: notation_reason_code(&e),
                message: format!("{} Notation signature(s), none verified: {e}", v.signatures),
            }),
        }
        (ev, Vec::new())
    }

    /// The evidence-cache key: the digest, each authority's definition hash and the hashes of
    /// the trust roots keyless authorities use.
    fn evidence_key(
        &self,
        digest: &Digest,
        wanted: &image::Wanted,
        authorities: &[(&String, &SignatureVerifier, SignatureFormat)],
    ) -> EvidenceKey {
        let inner = &self.inner;
        let mut names = Vec::new();
        let mut roots = Vec::new();
        for (name, _, _) in authorities {
            let definition = inner
                .policy
                .authorities()
                .find(|(n, _)| *n == name.as_str());
            let bytes = definition
                .and_then(|(_, a)| serde_json::to_vec(a).ok())
                .unwrap_or_default();
            if let Some((_, Authority::Keyless(k))) = definition
                && let Some(root) = inner.trust_roots.get(&k.trust_root)
            {
                roots.push(root.hash());
            }
            names.push(((*name).clone(), Digest::of(&bytes)));
        }
        names.sort();
        roots.sort();
        roots.dedup();
        EvidenceKey {
            digest: digest.clone(),
            authorities: names,
            trust_roots: roots,
            signatures: wanted.signatures,
            attestations: wanted.attestations,
        }
    }

    /// Discover what is attached to `digest` and check it with each authority.
    async fn check(
        &self,
        image: &ImageRef,
        digest: &Digest,
        wanted: &image::Wanted,
        authorities: Vec<(&String, &SignatureVerifier, SignatureFormat)>,
        deadline: tokio::time::Instant,
    ) -> Gathered {
        let inner = &self.inner;
        let mut evidence = Gathered::default();
        let repo = match inner.client.repository(image) {
            Ok(r) => CachingRepository::new(r, inner.content.clone()),
            Err(e) => {
                evidence.discovery_errors.push(policy::Reason::new(
                    policy::ReasonCode::RegistryError,
                    crate::format::error_chain(&e),
                ));
                return evidence;
            }
        };
        let verifiers: Vec<(&SignatureVerifier, SignatureFormat)> =
            authorities.iter().map(|(_, v, f)| (*v, *f)).collect();
        let checks =
            image::discover_and_check(&repo, digest, wanted, &inner.limits, &verifiers, deadline)
                .await;
        for u in &checks.unreadable {
            let code = if u.timed_out() {
                policy::ReasonCode::Timeout
            } else {
                policy::ReasonCode::RegistryError
            };
            evidence
                .discovery_errors
                .push(policy::Reason::new(code, u.to_string()));
        }
        for ((name, _, _), checked) in authorities.into_iter().zip(checks.per_verifier) {
            evidence
                .by_authority
                .insert(name.clone(), authority_evidence(checked));
        }
        evidence
    }

    fn unresolved(&self, reference: &str, code: policy::ReasonCode, message: String) -> Decision {
        Decision::unresolved(
            reference,
            &self.inner.policy,
            self.inner.clock.now(),
            code,
            message,
        )
    }
}

/// What verified under one authority, and why the rest was rejected (typed reason codes).
fn authority_evidence(checked: verify::Checked) -> AuthorityEvidence {
    let mut ev = AuthorityEvidence {
        notation: Vec::new(),
        signatures: checked.signatures,
        attestations: checked.attestations,
        rejected: Vec::new(),
    };
    for f in checked.failures {
        reject(&mut ev, f);
    }
    ev
}

fn reject(ev: &mut AuthorityEvidence, f: CandidateFailure) {
    // A candidate of the other kind (certificate vs key) is simply not this authority's.
    let Some(code) = reason_code(&f) else {
        return;
    };
    ev.rejected.push(Rejection {
        code,
        message: f.to_string(),
    });
}

/// The reason code of a rejected candidate, from its typed cause alone (`policies/README.md`,
/// "Reason codes"): signed by another key, certificate identity, issuer or GitHub claim →
/// `identity-mismatch`; for another image → `digest-mismatch`; anything else that failed
/// (chain, signature, tlog, SCT, timestamp, malformed material) → `signature-invalid`. `None`
/// for a candidate that needs a verifier of the other kind.
fn reason_code(f: &CandidateFailure) -> Option<policy::ReasonCode> {
    use policy::ReasonCode::{DigestMismatch, IdentityMismatch, SignatureInvalid};
    use verify::bundle::BundleCheck as B;
    Some(match f.cause {
        Cause::OtherKey => IdentityMismatch,
        Cause::Sigstore(check) => match check {
            B::Identity | B::Issuer | B::GithubClaim => IdentityMismatch,
            B::ArtifactDigest => DigestMismatch,
            B::BundleFormat
            | B::BundleSupport
            | B::TrustRoot
            | B::IdentityPolicy
            | B::Certificate
            | B::CertificateChain
            | B::Sct
            | B::TlogSet
            | B::InclusionProof
            | B::Checkpoint
            | B::TlogEntry
            | B::Signature
            | B::Timestamp
            | B::Key => SignatureInvalid,
        },
        Cause::Plain => match f.check {
            Check::VerifierKind => return None,
            Check::ImageDigest | Check::Subject => DigestMismatch,
            Check::Fetch
            | Check::MediaType
            | Check::SignatureAnnotation
            | Check::Signature
            | Check::Certificate
            | Check::Payload
            | Check::Annotations
            | Check::PayloadType
            | Check::Statement
            | Check::PredicateType
            | Check::Bundle => SignatureInvalid,
        },
    })
}

/// The reason code of a Notation signature that did not verify: untrusted chain or
/// identity → `identity-mismatch`; for another image → `digest-mismatch`; a `skip`-level
/// authority (which verifies nothing, so is never met) → `no-signatures`; anything else
/// (integrity, expiry, authentic timestamp, revocation, user metadata) → `signature-invalid`.
fn notation_reason_code(e: &crate::notation::NotationError) -> policy::ReasonCode {
    use crate::notation::{Check as N, NotationError as E};
    use policy::ReasonCode::{DigestMismatch, IdentityMismatch, NoSignatures, SignatureInvalid};
    match e {
        E::Failed {
            check: N::Authenticity,
            ..
        } => IdentityMismatch,
        E::Failed {
            check: N::Integrity,
            reason,
        } if reason.starts_with("content descriptor mismatch") => DigestMismatch,
        E::Skipped(_) | E::NoSignature | E::NoPolicy(_) => NoSignatures,
        _ => SignatureInvalid,
    }
}

#[cfg(test)]
mod reject_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notation_failures_get_the_policy_reason_codes() {
        use crate::notation::{Check as N, NotationError as E};
        use policy::ReasonCode as R;
        let failed = |check, reason: &str| E::Failed {
            check,
            reason: reason.into(),
        };
        for (e, code) in [
            (failed(N::Authenticity, "untrusted"), R::IdentityMismatch),
            (
                failed(
                    N::Integrity,
                    "content descriptor mismatch: the signature is for x",
                ),
                R::DigestMismatch,
            ),
            (failed(N::Integrity, "bad signature"), R::SignatureInvalid),
            (failed(N::Expiry, "expired"), R::SignatureInvalid),
            (
                failed(N::AuthenticTimestamp, "expired"),
                R::SignatureInvalid,
            ),
            (failed(N::Revocation, "unknown"), R::SignatureInvalid),
            (E::Skipped("lab".into()), R::NoSignatures),
            (E::UserMetadata("x".into()), R::SignatureInvalid),
        ] {
            assert_eq!(notation_reason_code(&e), code, "{e}");
        }
    }

    #[test]
    fn verifier_is_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<Verifier>();
        is::<crate::store::discover::Candidate>();
    }
}
