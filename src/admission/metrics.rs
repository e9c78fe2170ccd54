//! The webhook's counters, rendered in the Prometheus text exposition format (0.0.4) by hand:
//! requests by endpoint and answer, decisions per image by outcome and reason, a latency
//! histogram, timeouts, the evidence cache's hits and the registry requests sent.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::review::{AdmissionResponse, ReviewError};
use super::{Endpoint, ImageVerdict, TIMEOUT};
use crate::gate::Verifier;

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counters since start. Updated under one short lock per request.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (endpoint, answer: allowed | denied | bad-request | too-large) → count.
    requests: BTreeMap<(Endpoint, &'static str), u64>,
    /// (outcome, reason or `none`) → count of image decisions.
    decisions: BTreeMap<(&'static str, String), u64>,
    /// Per bucket (not cumulative), and one more for `+Inf`.
    latency: [u64; LATENCY_BUCKETS.len() + 1],
    latency_sum: f64,
    latency_count: u64,
    timeouts: u64,
    log_records: u64,
    log_errors: u64,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain counters: a panic elsewhere cannot leave them inconsistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn rejected_body(&self, endpoint: Endpoint, e: &ReviewError) {
        let what = match e {
            ReviewError::TooLarge { .. } => "too-large",
            _ => "bad-request",
        };
        *self.lock().requests.entry((endpoint, what)).or_default() += 1;
    }

    pub(super) fn answered(&self, endpoint: Endpoint, r: &AdmissionResponse, took: Duration) {
        let mut g = self.lock();
        let what = if r.allowed { "allowed" } else { "denied" };
        *g.requests.entry((endpoint, what)).or_default() += 1;
        let secs = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        g.latency[bucket] += 1;
        g.latency_sum += secs;
        g.latency_count += 1;
    }

    pub(super) fn decided(&self, verdicts: &[ImageVerdict]) {
        let mut g = self.lock();
        for v in verdicts {
            let reason = v.reason.clone().unwrap_or_else(|| "none".to_owned());
            if reason == TIMEOUT {
                g.timeouts += 1;
            }
            *g.decisions.entry((v.outcome.as_str(), reason)).or_default() += 1;
        }
    }

    pub(super) fn logged(&self, records: usize) {
        self.lock().log_records += records as u64;
    }

    pub(super) fn log_failed(&self) {
        self.lock().log_errors += 1;
    }

    /// Records written to the decision log.
    pub fn log_records(&self) -> u64 {
        self.lock().log_records
    }

    /// Decision-log writes or checkpoints that failed (each request denied for it counts).
    pub fn log_errors(&self) -> u64 {
        self.lock().log_errors
    }

    /// Requests answered at `endpoint` with `answer` (`allowed`, `denied`, `bad-request`,
    /// `too-large`).
    pub fn requests(&self, endpoint: Endpoint, answer: &str) -> u64 {
        self.lock()
            .requests
            .iter()
            .filter(|((e, a), _)| *e == endpoint && *a == answer)
            .map(|(_, n)| n)
            .sum()
    }

    /// Image decisions with `outcome` and `reason` (`none` for an allowed image).
    pub fn decisions(&self, outcome: &str, reason: &str) -> u64 {
        self.lock()
            .decisions
            .iter()
            .filter(|((o, r), _)| *o == outcome && r == reason)
            .map(|(_, n)| n)
            .sum()
    }

    /// The text exposition, with the verifier's cache and registry counters.
    pub fn render(&self, verifier: &Verifier) -> String {
        let g = self.lock();
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            s,
            "# HELP imprint_admission_requests_total AdmissionReview requests by endpoint and answer.\n# TYPE imprint_admission_requests_total counter"
        );
        for ((endpoint, answer), n) in &g.requests {
            let _ = writeln!(
                s,
                "imprint_admission_requests_total{{endpoint=\"{}\",answer=\"{answer}\"}} {n}",
                endpoint.as_str()
            );
        }
        let _ = writeln!(
            s,
            "# HELP imprint_admission_decisions_total Image decisions by outcome and reason code.\n# TYPE imprint_admission_decisions_total counter"
        );
        for ((outcome, reason), n) in &g.decisions {
            let _ = writeln!(
                s,
                "imprint_admission_decisions_total{{outcome=\"{outcome}\",reason=\"{}\"}} {n}",
                escape(reason)
            );
        }
        let _ = writeln!(
            s,
            "# HELP imprint_admission_request_duration_seconds Time to decide a request.\n# TYPE imprint_admission_request_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += g.latency[i];
            let _ = writeln!(
                s,
                "imprint_admission_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += g.latency[LATENCY_BUCKETS.len()];
        let _ = writeln!(
            s,
            "imprint_admission_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}\nimprint_admission_request_duration_seconds_sum {}\nimprint_admission_request_duration_seconds_count {}",
            g.latency_sum, g.latency_count
        );
        let _ = writeln!(
            s,
            "# HELP imprint_admission_timeouts_total Images denied for running past the time budget.\n# TYPE imprint_admission_timeouts_total counter\nimprint_admission_timeouts_total {}",
            g.timeouts
        );
        let _ = writeln!(
            s,
            "# HELP imprint_decision_log_records_total Records written to the decision log.\n# TYPE imprint_decision_log_records_total counter\nimprint_decision_log_records_total {}\n# HELP imprint_decision_log_errors_total Failed decision-log writes and checkpoints.\n# TYPE imprint_decision_log_errors_total counter\nimprint_decision_log_errors_total {}",
            g.log_records, g.log_errors
        );
        let cache = verifier.evidence_cache_stats().unwrap_or_default();
        let _ = writeln!(
            s,
            "# HELP imprint_evidence_cache_lookups_total Evidence cache lookups by result.\n# TYPE imprint_evidence_cache_lookups_total counter\nimprint_evidence_cache_lookups_total{{result=\"hit\"}} {}\nimprint_evidence_cache_lookups_total{{result=\"shared\"}} {}\nimprint_evidence_cache_lookups_total{{result=\"miss\"}} {}",
            cache.hits, cache.shared, cache.misses
        );
        let _ = writeln!(
            s,
            "# HELP imprint_evidence_cache_entries Entries in the evidence cache.\n# TYPE imprint_evidence_cache_entries gauge\nimprint_evidence_cache_entries {}\n# HELP imprint_evidence_cache_bytes Estimated bytes held by the evidence cache.\n# TYPE imprint_evidence_cache_bytes gauge\nimprint_evidence_cache_bytes {}",
            cache.entries, cache.bytes
        );
        let _ = writeln!(
            s,
            "# HELP imprint_registry_requests_total HTTP requests sent to registries.\n# TYPE imprint_registry_requests_total counter\nimprint_registry_requests_total {}",
            verifier.registry_requests()
        );
        s
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
