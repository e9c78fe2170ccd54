//! The decision log: every admission, audit or verify decision as a JSON Lines record in a
//! tamper-evident, append-only log that anyone with the public key can check offline.
//!
//! # Layout of a log directory
//!
//! | file | what |
//! |---|---|
//! | `decisions.jsonl` | one record per line (see [`Record`]); line `i + 1` is record `i` |
//! | `checkpoints.jsonl` | every signed checkpoint, one JSON object `{"note": "<signed note>"}` per line |
//! | `checkpoint` | the newest signed checkpoint alone (replaced atomically): the file to ship off the host |
//! | `log.pub` | the verifier key (Go `note` format), written when the log is created |
//!
//! # What makes it tamper-evident
//!
//! * Every record carries its `index` and `prev`, the hex leaf hash of the record before it,
//!   so an edited, removed, inserted or reordered record is named by index and line.
//! * The records are the leaves of an RFC 6962 Merkle tree: leaf hash = SHA-256(0x00 ||
//!   line bytes without the newline), node = SHA-256(0x01 || left || right).
//! * Every [`Options::checkpoint_every`] records, every [`Options::checkpoint_interval`] (checked
//!   on append and by [`DecisionLog::checkpoint_if_due`]) and on [`DecisionLog::close`], the
//!   tree head is signed as a C2SP [`tlog-checkpoint`](https://c2sp.org/tlog-checkpoint) in
//!   [`signed-note`](https://c2sp.org/signed-note) form with an Ed25519 key (the format of
//!   Rekor v2 checkpoints and Go's `golang.org/x/mod/sumdb/note`; key files in Go's text
//!   format, see [`note`]). Records are fsynced before a checkpoint commits to them.
//! * [`verify`] checks the chain, the tree at each checkpoint, every signature, that the
//!   checkpoints only grow (a consistency proof between successive ones) and, given a
//!   checkpoint kept elsewhere, that the log still contains that tree (which detects
//!   truncation and rewrites); records after the last checkpoint are reported as unsealed.
//! * [`prove`] writes a [`c2sp.org/tlog-proof@v1`](https://c2sp.org/tlog-proof) for one
//!   record: `extra` holds the record's exact line bytes, so [`verify_proof`] checks it offline
//!   with the public key alone.
//!
//! # Threat model
//!
//! The log detects changes made *after* a checkpoint left the host: anyone holding a copy of a
//! signed checkpoint (a SIEM, a witness, object storage, a ticket) can show that the records
//! it covers were not edited, removed, reordered or truncated. It cannot protect what has not
//! left the host: an attacker with write access to the log directory (and the signing key,
//! which a running webhook must hold) can rewrite every record since the last checkpoint that
//! left the host, sign new checkpoints, and replace `log.pub`. Hence: **checkpoints must leave
//! the host** (copy `checkpoint` off it on a schedule, and verify with `--key` from a trusted
//! place and `--trusted-checkpoint` of a copy), and keep the interval short. The chain alone
//! (without a checkpoint) only catches careless edits. Records still in the page cache when
//! the machine crashes can be lost; callers that must not lose a decision call
//! [`DecisionLog::sync`] (group commit) before acting on it. A torn last line (crash during a
//! write) is cut back when the log is opened and a `recovery` record notes how many bytes were
//! cut; `verify` reports a torn tail until then.
//!
//! # Costs
//!
//! [`DecisionLog::open`] reads and hashes the whole record file once (O(n) in the records; a
//! million records of ~600 bytes is about 0.6 GB read): acceptable for now; a future version
//! can start from the last checkpoint's compact range. Appends keep a compact range
//! (O(log n) memory); [`verify`] and [`prove`] keep one 32-byte hash per record in memory.
//!
//! # Use
//!
//! ```no_run
//! # fn demo(decision: &imprint::Decision, verifier: &imprint::Verifier) -> Result<(), Box<dyn std::error::Error>> {
//! use imprint::decisionlog::{DecisionContext, DecisionLog, Options, Record, Source, note::NoteSigner};
//!
//! let signer = NoteSigner::parse(&std::fs::read_to_string("log.key")?)?;
//! let log = DecisionLog::open("decisions/".as_ref(), Options::new("imprint.example/decisions", signer))?;
//! let context = DecisionContext::of(verifier); // once: policy and trust-root hashes
//! let position = log.append(&Record::from_decision(Source::Verify, decision, &context))?;
//! log.sync()?; // before acting on the decision
//! println!("logged as record {}", position.index);
//! log.close()?; // a final checkpoint
//! # Ok(()) }
//! ```

pub mod merkle;
pub mod note;

mod check;
mod log;

use std::path::PathBuf;

use serde::Serialize;

use crate::audit::report::{Row, RowOutcome, TrustRootInfo};
use crate::format::digest::Digest;
use crate::gate::Verifier;
use crate::policy::{Decision, Outcome};

pub use check::{Problem, VerifiedProof, VerifyOptions, VerifyReport, prove, verify, verify_proof};
pub use log::{DecisionLog, Options, Position, Recovered};

/// The record file in a log directory.
pub const RECORDS_FILE: &str = "decisions.jsonl";
/// Every checkpoint, one per line.
pub const CHECKPOINTS_FILE: &str = "checkpoints.jsonl";
/// The newest checkpoint alone.
pub const LATEST_CHECKPOINT_FILE: &str = "checkpoint";
/// The verifier key.
pub const PUBLIC_KEY_FILE: &str = "log.pub";

/// What went wrong with a log directory, a key or a proof.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A file could not be read or written.
    #[error("{what} {}", path.display())]
    Io {
        /// What was being done (`cannot read`, `cannot append to`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The log's files do not hold what the log wrote (refused to append to it).
    #[error("{}: line {line}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Its line (1-based).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A key, note, checkpoint or proof is malformed or not signed by the key.
    #[error(transparent)]
    Note(#[from] note::NoteError),
    /// `log.pub` in the directory is not the key the log is opened with.
    #[error("{} holds key `{found}`, the log is opened with `{expected}`", path.display())]
    WrongKey {
        /// `log.pub`.
        path: PathBuf,
        /// The key in it.
        found: String,
        /// The key given.
        expected: String,
    },
    /// Another [`DecisionLog`] (in this or another process) has the directory open.
    #[error("{} is open in another writer (it is locked)", path.display())]
    Locked {
        /// The record file.
        path: PathBuf,
    },
    /// An earlier write failed part-way; the log refuses more appends until it is reopened
    /// (which cuts the torn line back).
    #[error("an earlier write to {} failed; reopen the log to recover", path.display())]
    Poisoned {
        /// The record file.
        path: PathBuf,
    },
    /// A record could not be serialised (a bug: please report it).
    #[error("internal error: cannot serialise a record: {0}")]
    Internal(String),
    /// `prove` or `verify-proof` could not make or check the proof.
    #[error("{0}")]
    Proof(String),
}

/// Where a decision was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Source {
    /// A Kubernetes admission request.
    #[serde(rename_all = "camelCase")]
    Admission {
        /// The webhook's decision id (in the response's `auditAnnotations`).
        decision_id: String,
        /// The AdmissionReview request uid.
        uid: String,
        /// The requesting user (`userInfo.username`).
        user: String,
        /// `CREATE`, `UPDATE`, ...
        operation: String,
        /// The object.
        object: ObjectRef,
    },
    /// `imprint audit`.
    Audit,
    /// `imprint verify --policy`.
    Verify,
    /// Written by [`DecisionLog::open`] after cutting back a torn last line.
    #[serde(rename_all = "camelCase")]
    Recovery {
        /// Bytes cut from the end of the record file.
        truncated_bytes: u64,
        /// The file length they were cut back to.
        at_offset: u64,
    },
}

/// The object of an admission request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// Its kind (`Pod`, `Deployment`, ...).
    pub kind: String,
    /// Its namespace, if namespaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name (may be empty for `generateName` objects).
    pub name: String,
}

/// The outcome of a logged decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RecordOutcome {
    /// Allowed.
    Allowed,
    /// Allowed with warnings.
    Warned,
    /// Denied by the policy.
    Denied,
    /// Denied because it could not be checked (registry error, timeout): fail closed.
    Error,
}

/// One requirement of one rule, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceSummary {
    /// The rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The requirement (`signatures: release`, `attestation …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// Whether it was met.
    pub met: bool,
    /// `authority: signer` for each piece of evidence that (partly) met it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    /// The reason code when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The decision part of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionSummary {
    /// The image as given.
    pub image: String,
    /// The digest that was evaluated (`None`: not resolved).
    pub digest: Option<Digest>,
    /// sha256 of the policy source.
    pub policy_hash: Digest,
    /// The trust roots' hash (as in `imprint audit`'s header).
    pub trust_root_hash: Option<Digest>,
    /// The outcome.
    pub outcome: RecordOutcome,
    /// Reason codes: the main one first, then those of every failed requirement, each once.
    pub reasons: Vec<String>,
    /// Per requirement.
    pub evidence: Vec<EvidenceSummary>,
}

/// What the caller logs; [`DecisionLog::append`] adds `index`, `prev` and `time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Where it was decided.
    pub source: Source,
    /// The decision (`None` only for recovery records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionSummary>,
}

/// What every record of one verifier shares: computed once with [`DecisionContext::of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionContext {
    /// sha256 of the policy source.
    pub policy_hash: Digest,
    /// The trust roots' hash ([`TrustRootInfo::of`], as `imprint audit` reports it).
    pub trust_root_hash: Option<Digest>,
}

impl DecisionContext {
    /// The policy and trust-root hashes of `verifier`.
    pub fn of(verifier: &Verifier) -> Self {
        Self {
            policy_hash: verifier.policy().hash(),
            trust_root_hash: TrustRootInfo::of(verifier).map(|t| t.hash),
        }
    }
}

impl Record {
    /// A record of `decision`.
    pub fn from_decision(source: Source, decision: &Decision, context: &DecisionContext) -> Self {
        let outcome = match decision.outcome() {
            Outcome::Allowed => RecordOutcome::Allowed,
            Outcome::Warned => RecordOutcome::Warned,
            _ if decision
                .reason()
                .is_some_and(|r| crate::audit::report::is_infrastructure(r.code)) =>
            {
                RecordOutcome::Error
            }
            _ => RecordOutcome::Denied,
        };
        let mut reasons: Vec<String> = Vec::new();
        let mut add = |code: String| {
            if !reasons.contains(&code) {
                reasons.push(code);
            }
        };
        if let Some(r) = decision.reason() {
            add(r.code.to_string());
        }
        let mut evidence = Vec::new();
        for rule in decision.rules() {
            for req in rule.requirements() {
                if let Some(r) = req.reason() {
                    add(r.code.to_string());
                }
                evidence.push(EvidenceSummary {
                    rule: Some(rule.name().to_owned()),
                    requirement: Some(req.requirement().to_owned()),
                    met: req.met(),
                    signers: req
                        .evidence()
                        .iter()
                        .map(|e| format!("{}: {}", e.authority, e.signer.short()))
                        .collect(),
                    reason: req.reason().map(|r| r.code.to_string()),
                });
            }
        }
        Self {
            source,
            decision: Some(DecisionSummary {
                image: decision.reference().to_owned(),
                digest: decision.digest().cloned(),
                // The decision's own policy hash (the same as the context's for one verifier).
                policy_hash: decision.policy().clone(),
                trust_root_hash: context.trust_root_hash.clone(),
                outcome,
                reasons,
                evidence,
            }),
        }
    }

    /// A record of one row of `imprint audit` (the report keeps the failed requirements of a
    /// row, not the signers of the met ones: those are not in audit records).
    pub fn from_audit_row(row: &Row, context: &DecisionContext) -> Self {
        let outcome = match row.outcome {
            RowOutcome::Allowed => RecordOutcome::Allowed,
            RowOutcome::Warned => RecordOutcome::Warned,
            RowOutcome::Error => RecordOutcome::Error,
            _ => RecordOutcome::Denied,
        };
        Self {
            source: Source::Audit,
            decision: Some(DecisionSummary {
                image: row
                    .reference
                    .clone()
                    .unwrap_or_else(|| row.source.image.clone()),
                digest: row.digest.clone(),
                policy_hash: context.policy_hash.clone(),
                trust_root_hash: context.trust_root_hash.clone(),
                outcome,
                reasons: row.reasons.clone(),
                evidence: row
                    .failures
                    .iter()
                    .filter(|f| !f.detail)
                    .map(|f| EvidenceSummary {
                        rule: f.rule.clone(),
                        requirement: f.requirement.clone(),
                        met: false,
                        signers: Vec::new(),
                        reason: Some(f.code.clone()),
                    })
                    .collect(),
            }),
        }
    }
}

#[cfg(test)]
mod log_tests;
