//! `imprint admission`: a Kubernetes validating and mutating admission webhook that makes the
//! same decision as `imprint verify --policy` and `imprint audit`.
//!
//! * [`review`] reads `admission.k8s.io/v1` AdmissionReview requests (bounded by
//!   [`Limits::max_admission_body_bytes`](crate::limits::Limits)) and writes responses.
//! * [`Webhook::admit`] decides one request: the object's images are read by kind and slot as
//!   `imprint audit` reads manifests ([`crate::audit::manifest::value_images`]: Pod and the
//!   `pods/ephemeralcontainers` subresource, Deployment, ReplicaSet, StatefulSet, DaemonSet,
//!   Job, CronJob and ReplicationController templates, image volumes); each distinct image is
//!   decided by the policy [`Verifier`] within the time budget.
//! * [`metrics`] counts requests, decisions, latency, cache hits, registry requests and
//!   timeouts in the Prometheus text format; [`server`] serves it all over HTTPS (rustls).
//!
//! What passes unchecked (allowed, with the reason in `status.message`): operations other
//! than `CREATE` and `UPDATE`; subresources other than `ephemeralcontainers` (`status`,
//! `scale`); an `UPDATE` of an object being deleted (`metadata.deletionTimestamp` set); an
//! `UPDATE` that only lowers `spec.replicas`; objects of a kind without a pod template.
//!
//! Answers:
//! * `/validate`: allowed, or denied (403) with one line per denied image naming its slot and
//!   reason code; images allowed under a failing `warn` rule come back as `warnings`, one line
//!   of at most [`MAX_WARNING_CHARS`] per image.
//! * `/mutate`: the same decision, and when allowed a JSONPatch pinning every image written
//!   by tag to the digest that was verified (`name:tag@sha256:…`, the tag kept as cosign and
//!   policy-controller do). With [`PinMode::ValidateOnly`] no patch is made: an image without
//!   a digest is denied with reason `digest-required`, and the message says which digest the
//!   tag resolved to.
//! * Every answer carries `auditAnnotations` with a decision id, so the cluster's audit log
//!   links to imprint's decision.
//! * Past the time budget (default [`DEFAULT_BUDGET`], below the API server's 10 s), the
//!   images not yet decided are denied with reason `timeout` (fail closed), never a hung
//!   request.

pub mod metrics;
pub mod review;
pub mod server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;

use crate::audit::manifest::{PointedImage, value_images};
use crate::decisionlog::{
    DecisionContext, DecisionLog, DecisionSummary, ObjectRef, Record, RecordOutcome, Source,
};
use crate::format::digest::Digest;
use crate::format::reference::ImageRef;
use crate::gate::Verifier;
use crate::policy::{Decision, Outcome};
use metrics::Metrics;
pub use review::{AdmissionRequest, AdmissionResponse, ReviewError};

/// The default time budget: 8 s of the API server's default 10 s webhook timeout.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(8);

/// Kubernetes truncates longer warnings; imprint cuts them itself, ending in `…`.
pub const MAX_WARNING_CHARS: usize = 120;

/// The reason code of an image written without a digest under [`PinMode::ValidateOnly`].
pub const DIGEST_REQUIRED: &str = "digest-required";
/// The reason code of an image reference that does not parse.
pub const INVALID_REFERENCE: &str = "invalid-reference";
/// The reason code of an image not decided within the time budget.
pub const TIMEOUT: &str = "timeout";

/// Which endpoint a review came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/mutate`: decide and pin tags to digests.
    Mutate,
    /// `/validate`: decide.
    Validate,
}

impl Endpoint {
    /// `mutate` or `validate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mutate => "mutate",
            Self::Validate => "validate",
        }
    }
}

/// What `/mutate` does with images written by tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PinMode {
    /// Patch each to `name:tag@<verified digest>` (the default).
    #[default]
    Patch,
    /// Patch nothing; deny images without a digest (`digest-required`), reporting the
    /// digest their tag resolved to (`--validate-only`, for GitOps controllers that revert
    /// mutations).
    ValidateOnly,
}

/// Settings of a [`Webhook`], with documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookOptions {
    /// The time budget of one request, from when it arrived. Default [`DEFAULT_BUDGET`].
    pub budget: Duration,
    /// What `/mutate` does with tags. Default [`PinMode::Patch`].
    pub pin: PinMode,
    /// Largest request body. Default: [`Limits::DEFAULT`](crate::limits::Limits::DEFAULT)'s
    /// `max_admission_body_bytes` (8 MiB).
    pub max_body_bytes: u64,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            budget: DEFAULT_BUDGET,
            pin: PinMode::Patch,
            max_body_bytes: crate::limits::Limits::DEFAULT.max_admission_body_bytes,
        }
    }
}

impl WebhookOptions {
    /// Set the time budget.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }
    /// Set the pin mode.
    pub fn pin(mut self, pin: PinMode) -> Self {
        self.pin = pin;
        self
    }
    /// Set the body limit.
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = n;
        self
    }
}

/// The decision for one image slot of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageVerdict {
    /// `containers[0]`, `volumes[1]`, …
    pub slot: String,
    /// The image as written.
    pub image: String,
    /// Where it is in the object (JSON Pointer).
    pub pointer: String,
    /// Allowed, warned or denied.
    pub outcome: Outcome,
    /// The reason code of a denied or warned outcome (a policy reason code, or
    /// [`TIMEOUT`], [`DIGEST_REQUIRED`], [`INVALID_REFERENCE`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One line on why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The digest that was verified (also when the image was written by tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The policy decision with its evidence (`None` for an invalid reference or a timeout).
    #[serde(skip)]
    pub decision: Option<Box<Decision>>,
}

/// What the decision-log seam is given for one decided request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecidedRequest<'a> {
    /// A fresh id for this decision (in `auditAnnotations`).
    pub decision_id: &'a str,
    /// The AdmissionReview request uid.
    pub uid: &'a str,
    /// Who asked.
    pub user: &'a str,
    /// `CREATE` or `UPDATE`.
    pub operation: &'a str,
    /// `apiVersion/kind/namespace/name`.
    pub object: &'a str,
    /// A dry run (not to be logged).
    pub dry_run: bool,
    /// Per image slot.
    pub images: &'a [ImageVerdict],
    /// The policy's sha256.
    pub policy: &'a Digest,
    /// The policy and trust-root hashes of the verifier that decided (for the log records).
    #[serde(skip)]
    pub context: &'a DecisionContext,
}

/// The verifier a request is decided with, and the hashes its log records carry; replaced as
/// a whole by [`Webhook::replace_verifier`] (a refreshed trust root), so one request never
/// mixes two.
#[derive(Debug)]
struct Generation {
    verifier: Verifier,
    context: DecisionContext,
}

impl Generation {
    fn of(verifier: Verifier) -> Arc<Self> {
        let context = DecisionContext::of(&verifier);
        Arc::new(Self { verifier, context })
    }
}

/// The webhook: a policy [`Verifier`] (trust material loaded at start, and replaced only by
/// [`replace_verifier`](Webhook::replace_verifier), never fetched on the request path),
/// options, metrics and optionally a [`DecisionLog`]. Cheap to share behind an [`Arc`].
#[derive(Debug)]
pub struct Webhook {
    current: std::sync::RwLock<Arc<Generation>>,
    options: WebhookOptions,
    metrics: Arc<Metrics>,
    log: Option<Arc<DecisionLog>>,
}

impl Webhook {
    /// A webhook deciding with `verifier`.
    pub fn new(verifier: Verifier, options: WebhookOptions) -> Self {
        Self {
            current: std::sync::RwLock::new(Generation::of(verifier)),
            options,
            metrics: Arc::new(Metrics::default()),
            log: None,
        }
    }

    /// The generation requests start with now. The lock is held only to clone an `Arc`
    /// (never across an await); a poisoned lock still holds a whole generation.
    fn current(&self) -> Arc<Generation> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Decide requests that arrive from now on with `verifier` (built from the same policy
    /// with a refreshed trust root, see [`trust::tuf::spawn_refresher`]); requests already
    /// being decided finish with the verifier they started with, and their log records name
    /// its hashes.
    ///
    /// [`trust::tuf::spawn_refresher`]: crate::trust::tuf::spawn_refresher
    pub fn replace_verifier(&self, verifier: Verifier) {
        let next = Generation::of(verifier);
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// Log every decided request (dry runs excepted) to `log`: one record per distinct
    /// image, appended off the async reactor ([`tokio::task::spawn_blocking`]) and made
    /// durable (group-committed fsync) before the answer is sent. The answer's
    /// `auditAnnotations` carry the records' indices. A request whose records cannot be
    /// written by [`LOG_GRACE`] after its budget is denied (fail closed). Checkpoints are
    /// made every `checkpoint_every` records on append, by [`run_checkpoints`] on a timer
    /// and by [`seal_log`](Self::seal_log) at shutdown.
    ///
    /// [`run_checkpoints`]: Self::run_checkpoints
    pub fn with_decision_log(mut self, log: Arc<DecisionLog>) -> Self {
        self.log = Some(log);
        self
    }

    /// The decision log, when there is one.
    pub fn decision_log(&self) -> Option<&Arc<DecisionLog>> {
        self.log.as_ref()
    }

    /// Make a checkpoint whenever one is due ([`DecisionLog::checkpoint_if_due`]: the
    /// log's interval passed since the last one and records came since), looking every
    /// `period`; runs until dropped or aborted. Nothing to do without a log.
    pub async fn run_checkpoints(&self, period: Duration) {
        let Some(log) = &self.log else {
            return std::future::pending().await;
        };
        let mut tick = tokio::time::interval(period.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let log = log.clone();
            match tokio::task::spawn_blocking(move || log.checkpoint_if_due()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    self.metrics.log_failed();
                    tracing::warn!("decision log checkpoint: {e}");
                }
                Err(e) => tracing::warn!("decision log checkpoint task: {e}"),
            }
        }
    }

    /// The final checkpoint at shutdown ([`DecisionLog::seal`]): `Ok(None)` without a log
    /// or when every record is already covered by one.
    pub async fn seal_log(&self) -> Result<Option<String>, crate::decisionlog::LogError> {
        let Some(log) = &self.log else {
            return Ok(None);
        };
        let log = log.clone();
        tokio::task::spawn_blocking(move || log.seal())
            .await
            .map_err(|e| crate::decisionlog::LogError::Internal(e.to_string()))?
    }

    /// The verifier requests are decided with now (a cheap clone).
    pub fn verifier(&self) -> Verifier {
        self.current().verifier.clone()
    }

    /// The options.
    pub fn options(&self) -> &WebhookOptions {
        &self.options
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The `/metrics` page (Prometheus text format 0.0.4).
    pub fn render_metrics(&self) -> String {
        self.metrics.render(&self.current().verifier)
    }

    /// Parse an AdmissionReview body and decide it within the budget (counted from now);
    /// the answer is the response AdmissionReview's JSON.
    pub async fn review(&self, endpoint: Endpoint, body: &[u8]) -> Result<Vec<u8>, ReviewError> {
        let deadline = tokio::time::Instant::now() + self.options.budget;
        self.review_by(endpoint, body, deadline).await
    }

    /// [`review`](Self::review) with the deadline given (the server counts from when the
    /// request arrived, before its body was read).
    pub async fn review_by(
        &self,
        endpoint: Endpoint,
        body: &[u8],
        deadline: tokio::time::Instant,
    ) -> Result<Vec<u8>, ReviewError> {
        let request = match review::parse_request(body, self.options.max_body_bytes) {
            Ok(r) => r,
            Err(e) => {
                self.metrics.rejected_body(endpoint, &e);
                return Err(e);
            }
        };
        Ok(self
            .admit(endpoint, &request, deadline)
            .await
            .to_review_json())
    }

    /// Decide one request before `deadline`.
    pub async fn admit(
        &self,
        endpoint: Endpoint,
        request: &AdmissionRequest,
        deadline: tokio::time::Instant,
    ) -> AdmissionResponse {
        let started = tokio::time::Instant::now();
        let response = self.admit_inner(endpoint, request, deadline).await;
        self.metrics
            .answered(endpoint, &response, started.elapsed());
        response
    }

    async fn admit_inner(
        &self,
        endpoint: Endpoint,
        request: &AdmissionRequest,
        deadline: tokio::time::Instant,
    ) -> AdmissionResponse {
        let uid = request.uid.as_str();
        if let Some(why) = unchecked(request) {
            let mut r = AdmissionResponse::allow(uid);
            r.status = Some(review::Status {
                code: 200,
                reason: String::new(),
                message: why,
            });
            return r;
        }
        let (workload, images) = match value_images(&request.object, "request.object") {
            Ok(Some(found)) => found,
            Ok(None) => {
                let mut r = AdmissionResponse::allow(uid);
                r.status = Some(review::Status {
                    code: 200,
                    reason: String::new(),
                    message: format!(
                        "imprint: kind `{}` has no pod template; not checked",
                        object_kind(request)
                    ),
                });
                return r;
            }
            Err(e) => {
                return AdmissionResponse::deny(
                    uid,
                    format!("imprint: cannot read the images of the object: {e}"),
                );
            }
        };
        let generation = self.current();
        let verdicts = self.decide(&generation.verifier, &images, deadline).await;
        let decision_id = decision_id();
        let object = workload.id();
        let policy = generation.context.policy_hash.clone();
        let object_ref = ObjectRef {
            kind: workload.kind.clone(),
            namespace: workload
                .namespace
                .clone()
                .or_else(|| (!request.namespace.is_empty()).then(|| request.namespace.clone())),
            name: if (workload.name.is_empty() || workload.name == "-") && !request.name.is_empty()
            {
                request.name.clone()
            } else {
                workload.name.clone()
            },
        };
        // decision-log seam: one place after the decision and before the answer.
        let annotations = match self
            .record(
                &DecidedRequest {
                    decision_id: &decision_id,
                    uid,
                    user: &request.user_info.username,
                    operation: &request.operation,
                    object: &object,
                    dry_run: request.dry_run,
                    images: &verdicts,
                    policy: &policy,
                    context: &generation.context,
                },
                &object_ref,
                deadline + LOG_GRACE,
            )
            .await
        {
            Ok(a) => a,
            Err(why) => {
                self.metrics.log_failed();
                let mut r = AdmissionResponse::deny(
                    uid,
                    format!("imprint denied {object}: the decision could not be logged: {why}"),
                );
                r.audit_annotations
                    .insert("decision-id".to_owned(), decision_id.clone());
                return r;
            }
        };
        self.metrics.decided(&verdicts);
        respond(
            uid,
            endpoint,
            self.options.pin,
            &object,
            &verdicts,
            annotations,
        )
    }

    /// Decide every distinct image once, each before `deadline`; one verdict per slot.
    async fn decide(
        &self,
        verifier: &Verifier,
        images: &[PointedImage],
        deadline: tokio::time::Instant,
    ) -> Vec<ImageVerdict> {
        let mut distinct: Vec<&str> = images.iter().map(|i| i.image_use.image.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let budget = self.options.budget;
        let decided = futures_util::future::join_all(distinct.iter().map(|image| async move {
            let parsed = match ImageRef::parse(image) {
                Ok(r) => r,
                Err(e) => {
                    return Verdict::Invalid(format!("invalid image reference: {e}"));
                }
            };
            match tokio::time::timeout_at(deadline, verifier.verify(&parsed)).await {
                Ok(d) => Verdict::Decided(parsed, Box::new(d)),
                Err(_) => Verdict::TimedOut(budget),
            }
        }))
        .await;
        let by_image: BTreeMap<&str, Verdict> = distinct.into_iter().zip(decided).collect();
        images
            .iter()
            .map(|i| {
                let written = i.image_use.image.as_str();
                let mut v = ImageVerdict {
                    slot: i.image_use.slot.clone().unwrap_or_default(),
                    image: written.to_owned(),
                    pointer: i.pointer.clone(),
                    outcome: Outcome::Denied,
                    reason: None,
                    message: None,
                    digest: None,
                    decision: None,
                };
                match by_image.get(written) {
                    Some(Verdict::Decided(parsed, d)) => {
                        self.fill(&mut v, parsed, d);
                    }
                    Some(Verdict::Invalid(message)) => {
                        v.reason = Some(INVALID_REFERENCE.to_owned());
                        v.message = Some(message.clone());
                    }
                    Some(Verdict::TimedOut(budget)) => {
                        v.reason = Some(TIMEOUT.to_owned());
                        v.message = Some(format!(
                            "not decided within the time budget ({}s)",
                            budget.as_secs_f64()
                        ));
                    }
                    None => {
                        v.reason = Some(TIMEOUT.to_owned());
                        v.message = Some("not decided".to_owned());
                    }
                }
                v
            })
            .collect()
    }

    fn fill(&self, v: &mut ImageVerdict, parsed: &ImageRef, d: &Decision) {
        v.decision = Some(Box::new(d.clone()));
        v.outcome = d.outcome();
        v.digest = d.digest().cloned();
        if let Some(r) = d.reason() {
            v.reason = Some(r.code.as_str().to_owned());
            v.message = Some(r.message.clone());
        } else if let Some(w) = d.warnings().first() {
            v.message = Some(w.clone());
        }
        if self.options.pin == PinMode::ValidateOnly && d.is_allowed() && parsed.digest().is_none()
        {
            v.outcome = Outcome::Denied;
            v.reason = Some(DIGEST_REQUIRED.to_owned());
            v.message = Some(match d.digest() {
                Some(digest) => format!(
                    "written without a digest; it resolves to {digest}: write {}@{digest}",
                    v.image
                ),
                None => "written without a digest".to_owned(),
            });
        }
    }

    /// The decision-log seam: the one call made for every decided request, after the
    /// decision and before the answer. With a log (and not a dry run) the request's records
    /// are appended and fsynced off the reactor before `log_deadline`; the returned
    /// `auditAnnotations` carry the decision id and the records' place in the log. An error
    /// names why the records could not be written (the caller denies).
    async fn record(
        &self,
        decided: &DecidedRequest<'_>,
        object: &ObjectRef,
        log_deadline: tokio::time::Instant,
    ) -> Result<BTreeMap<String, String>, String> {
        let denied = decided
            .images
            .iter()
            .filter(|v| v.outcome == Outcome::Denied)
            .count();
        let mut annotations = BTreeMap::new();
        annotations.insert("decision-id".to_owned(), decided.decision_id.to_owned());
        annotations.insert(
            "decision".to_owned(),
            format!(
                "{} of {} image(s) denied, policy {}",
                denied,
                decided.images.len(),
                decided.policy
            ),
        );
        let Some(log) = &self.log else {
            return Ok(annotations);
        };
        if decided.dry_run {
            annotations.insert("decision-log".to_owned(), "not logged (dry run)".to_owned());
            return Ok(annotations);
        }
        let records = admission_records(decided, object, decided.context);
        let count = records.len();
        let writer = log.clone();
        let write = tokio::task::spawn_blocking(move || {
            let positions = writer.append_all(&records)?;
            // Group commit: concurrent requests share one fsync.
            writer.sync()?;
            Ok::<_, crate::decisionlog::LogError>(positions)
        });
        let positions = match tokio::time::timeout_at(log_deadline, write).await {
            Ok(Ok(Ok(p))) => p,
            Ok(Ok(Err(e))) => return Err(e.to_string()),
            Ok(Err(e)) => return Err(format!("the log writer failed: {e}")),
            Err(_) => {
                return Err(format!(
                    "{TIMEOUT}: the decision log did not commit within the time budget"
                ));
            }
        };
        self.metrics.logged(count);
        if let Some(first) = positions.first() {
            annotations.insert("decision-log-index".to_owned(), first.index.to_string());
            annotations.insert("decision-log-records".to_owned(), count.to_string());
            annotations.insert("decision-log-origin".to_owned(), log.origin().to_owned());
        }
        Ok(annotations)
    }
}

/// How long past the request's budget the decision log may take to commit its records (a
/// phase deadline of its own: 8 s + 1 s stays below the API server's 10 s).
pub const LOG_GRACE: Duration = Duration::from_secs(1);

/// One record per distinct image of a decided request (in slot order), each carrying the
/// request's source.
fn admission_records(
    decided: &DecidedRequest<'_>,
    object: &ObjectRef,
    context: &DecisionContext,
) -> Vec<Record> {
    let source = Source::Admission {
        decision_id: decided.decision_id.to_owned(),
        uid: decided.uid.to_owned(),
        user: decided.user.to_owned(),
        operation: decided.operation.to_owned(),
        object: object.clone(),
    };
    let mut seen = std::collections::BTreeSet::new();
    decided
        .images
        .iter()
        .filter(|v| seen.insert(v.image.as_str()))
        .map(|v| image_record(source.clone(), v, context))
        .collect()
}

/// The record of one image's verdict: the policy decision's, with the webhook's own
/// outcomes (timeout, invalid reference, digest required) applied over it.
fn image_record(source: Source, v: &ImageVerdict, context: &DecisionContext) -> Record {
    let mut record = match &v.decision {
        Some(d) => Record::from_decision(source, d, context),
        None => Record {
            source,
            decision: Some(DecisionSummary {
                image: v.image.clone(),
                digest: v.digest.clone(),
                policy_hash: context.policy_hash.clone(),
                trust_root_hash: context.trust_root_hash.clone(),
                outcome: RecordOutcome::Denied,
                reasons: Vec::new(),
                evidence: Vec::new(),
            }),
        },
    };
    if let Some(summary) = record.decision.as_mut() {
        let reason = v.reason.as_deref();
        if v.outcome == Outcome::Denied {
            if reason == Some(TIMEOUT) {
                summary.outcome = RecordOutcome::Error;
            } else if matches!(
                summary.outcome,
                RecordOutcome::Allowed | RecordOutcome::Warned
            ) {
                summary.outcome = RecordOutcome::Denied;
            }
        }
        if let Some(r) = reason
            && !summary.reasons.iter().any(|c| c == r)
        {
            summary.reasons.insert(0, r.to_owned());
        }
    }
    record
}

enum Verdict {
    Decided(ImageRef, Box<Decision>),
    Invalid(String),
    TimedOut(Duration),
}

/// Why a request passes without being checked, or `None` when it is checked.
fn unchecked(request: &AdmissionRequest) -> Option<String> {
    let op = request.operation.as_str();
    if op != "CREATE" && op != "UPDATE" {
        return Some(format!("imprint: operation `{op}` is not checked"));
    }
    if !request.sub_resource.is_empty() && request.sub_resource != "ephemeralcontainers" {
        return Some(format!(
            "imprint: subresource `{}` is not checked",
            request.sub_resource
        ));
    }
    if op == "UPDATE" {
        let meta = request.object.get("metadata");
        if meta
            .and_then(|m| m.get("deletionTimestamp"))
            .is_some_and(|t| !t.is_null())
        {
            return Some("imprint: the object is being deleted; not checked".to_owned());
        }
        if is_scale_down(&request.object, &request.old_object) {
            return Some("imprint: scale-down only; not checked".to_owned());
        }
    }
    None
}

/// `spec.replicas` decreased and nothing else in `spec` changed.
fn is_scale_down(object: &serde_json::Value, old: &serde_json::Value) -> bool {
    let (Some(new_spec), Some(old_spec)) = (object.get("spec"), old.get("spec")) else {
        return false;
    };
    let replicas = |s: &serde_json::Value| s.get("replicas").and_then(serde_json::Value::as_u64);
    let (Some(n), Some(o)) = (replicas(new_spec), replicas(old_spec)) else {
        return false;
    };
    if n >= o {
        return false;
    }
    let without = |s: &serde_json::Value| {
        let mut s = s.clone();
        if let Some(m) = s.as_object_mut() {
            m.remove("replicas");
        }
        s
    };
    without(new_spec) == without(old_spec)
}

fn object_kind(request: &AdmissionRequest) -> String {
    let k = &request.kind;
    match (k.group.as_str(), k.kind.as_str()) {
        (_, "") => request
            .object
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("(none)")
            .to_owned(),
        ("", kind) => format!("{}/{kind}", k.version),
        (group, kind) => format!("{group}/{}/{kind}", k.version),
    }
}

/// A random 128-bit id, hex.
fn decision_id() -> String {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    // The system random source failing is not recoverable; an all-zero id still answers.
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes);
    hex::encode(bytes)
}

/// The answer for decided images.
fn respond(
    uid: &str,
    endpoint: Endpoint,
    pin: PinMode,
    object: &str,
    verdicts: &[ImageVerdict],
    audit_annotations: BTreeMap<String, String>,
) -> AdmissionResponse {
    let denied: Vec<&ImageVerdict> = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Denied)
        .collect();
    let mut response = if denied.is_empty() {
        AdmissionResponse::allow(uid)
    } else {
        AdmissionResponse::deny(uid, denial_message(object, &denied))
    };
    response.audit_annotations = audit_annotations;
    response.warnings = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Warned)
        .map(|v| {
            truncate_warning(&format!(
                "imprint: {} {}: {}: {}",
                v.slot,
                v.image,
                v.reason.as_deref().unwrap_or("warned"),
                v.message.as_deref().unwrap_or_default()
            ))
        })
        .collect();
    if endpoint == Endpoint::Mutate && pin == PinMode::Patch && response.allowed {
        let ops = pin_patch(verdicts);
        if !ops.is_empty() {
            // A Vec of plain structs serialises.
            let json = serde_json::to_vec(&ops).unwrap_or_default();
            response.patch = Some(base64::engine::general_purpose::STANDARD.encode(json));
            response.patch_type = Some("JSONPatch".to_owned());
        }
    }
    response
}

fn denial_message(object: &str, denied: &[&ImageVerdict]) -> String {
    let mut s = format!("imprint denied {object}:");
    for v in denied {
        s.push_str(&format!(
            "\n- {} {}: {}: {}",
            v.slot,
            v.image,
            v.reason.as_deref().unwrap_or("denied"),
            v.message.as_deref().unwrap_or_default()
        ));
    }
    s
}

/// One RFC 6902 operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchOperation {
    /// Always `replace`.
    pub op: &'static str,
    /// JSON Pointer of the image string.
    pub path: String,
    /// The pinned reference.
    pub value: String,
}

/// `replace` operations pinning each image written without a digest to its verified digest.
pub fn pin_patch(verdicts: &[ImageVerdict]) -> Vec<PatchOperation> {
    verdicts
        .iter()
        .filter(|v| v.outcome != Outcome::Denied)
        .filter_map(|v| {
            let digest = v.digest.as_ref()?;
            let parsed = ImageRef::parse(&v.image).ok()?;
            if parsed.digest().is_some() {
                return None;
            }
            Some(PatchOperation {
                op: "replace",
                path: v.pointer.clone(),
                value: format!("{}@{digest}", v.image),
            })
        })
        .collect()
}

/// `s` cut to [`MAX_WARNING_CHARS`] characters (ending in `…` when cut), on one line.
pub fn truncate_warning(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX_WARNING_CHARS {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_WARNING_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests;
