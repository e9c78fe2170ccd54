//! Verifying a log directory, and making and checking `tlog-proof` files.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::log::{CheckpointLine, LineHeader, lines};
use super::merkle::{self, Hash};
use super::note::{Checkpoint, NoteVerifier, TlogProof};
use super::{CHECKPOINTS_FILE, LogError, PUBLIC_KEY_FILE, RECORDS_FILE};

/// How to verify a log.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The verifier key; `None`: the directory's own `log.pub` (which an attacker on the host
    /// can replace: pass a key kept elsewhere).
    pub key: Option<NoteVerifier>,
    /// The expected origin; `None`: the first checkpoint's.
    pub origin: Option<String>,
    /// A signed checkpoint saved elsewhere: the log must still contain its tree.
    pub trusted_checkpoint: Option<String>,
}

/// One thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The first record it makes untrustworthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The file and line it was found at.
    pub file: String,
    /// Its line (1-based), when it is about one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// Records in the log.
    pub records: u64,
    /// Checkpoints whose signature and tree verified.
    pub valid_checkpoints: u64,
    /// Records covered by the newest valid checkpoint.
    pub sealed: u64,
    /// Records after it (not yet covered by any checkpoint).
    pub unsealed: u64,
    /// The origin the checkpoints carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The key the signatures were checked with, and where it came from.
    pub key: String,
    /// Everything wrong, in the order found.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first broken record: the lowest index the records themselves show (the chain names
    /// the exact record), else the lowest a checkpoint shows (a checkpoint whose tree does not
    /// match only bounds it: the first record after the last valid checkpoint), else the first
    /// problem.
    pub fn first_broken(&self) -> Option<&Problem> {
        let lowest = |file: Option<&str>| {
            self.problems
                .iter()
                .filter(|p| p.index.is_some() && file.is_none_or(|f| p.file == f))
                .min_by_key(|p| p.index)
        };
        lowest(Some(RECORDS_FILE))
            .or_else(|| lowest(None))
            .or_else(|| self.problems.first())
    }
}

/// Check a log directory: the hash chain (index and `prev` of every record), every
/// checkpoint's signature and tree, that checkpoints only grow (consistency proofs between
/// successive ones), and the trusted checkpoint. `Err` only when files cannot be read.
pub fn verify(dir: &Path, options: &VerifyOptions) -> Result<VerifyReport, LogError> {
    if !dir.is_dir() {
        return Err(LogError::Io {
            what: "cannot read the log directory",
            path: dir.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let (key, key_from) = resolve_key(dir, options.key.as_ref())?;
    let records_path = dir.join(RECORDS_FILE);
    let bytes = read(&records_path)?;
    let mut problems = Vec::new();
    let mut leaves: Vec<Hash> = Vec::new();
    let mut chain_broken = false;
    let count = lines(&bytes).count() as u64;
    for (i, line) in lines(&bytes).enumerate() {
        let i = i as u64;
        let mut problem = |index: u64, message: String| {
            problems.push(Problem {
                index: Some(index),
                file: RECORDS_FILE.to_owned(),
                line: Some(index + 1),
                message,
            });
        };
        let torn = i + 1 == count && !bytes.ends_with(b"\n");
        if torn {
            problem(
                i,
                format!(
                    "record {i} (line {}) is torn (no final newline): the log was not closed \
                     cleanly; opening it cuts the line back",
                    i + 1
                ),
            );
        } else if !chain_broken {
            match serde_json::from_slice::<LineHeader>(line) {
                Err(e) => {
                    problem(
                        i,
                        format!("record {i} (line {}) is not a decision record: {e}", i + 1),
                    );
                    chain_broken = true;
                }
                Ok(h) if h.index != i => {
                    problem(
                        i,
                        format!(
                            "line {} carries index {}, expected {i}: a record was removed, \
                             inserted or moved at record {i}",
                            i + 1,
                            h.index
                        ),
                    );
                    chain_broken = true;
                }
                Ok(h) if h.prev != leaves.last().map(hex::encode) => {
                    let changed = i.saturating_sub(1);
                    problems.push(Problem {
                        index: Some(changed),
                        file: RECORDS_FILE.to_owned(),
                        line: Some(changed + 1),
                        message: format!(
                            "record {changed} (line {}) does not match the hash that record {i} \
                             carries: it was changed, or a record was removed after it",
                            changed + 1
                        ),
                    });
                    chain_broken = true;
                }
                Ok(_) => {}
            }
        }
        leaves.push(merkle::leaf_hash(line));
    }
    let records = leaves.len() as u64;

    // Checkpoints, in order.
    let checkpoints_path = dir.join(CHECKPOINTS_FILE);
    let cp_bytes = read(&checkpoints_path)?;
    let mut origin = options.origin.clone();
    let mut last_valid: Option<Checkpoint> = None;
    let mut valid = 0u64;
    let mut seen_sizes = 0u64;
    for (j, line) in lines(&cp_bytes).enumerate() {
        let line_no = j as u64 + 1;
        let sealed_before = last_valid.as_ref().map_or(0, |c| c.size);
        let mut problem = |index: Option<u64>, message: String| {
            problems.push(Problem {
                index,
                file: CHECKPOINTS_FILE.to_owned(),
                line: Some(line_no),
                message,
            });
        };
        let checkpoint = match open_checkpoint_line(line, &key) {
            Ok(c) => c,
            Err(message) => {
                problem(
                    Some(sealed_before),
                    format!(
                        "checkpoint {line_no}: {message}; records from {sealed_before} on are not \
                         sealed by a valid checkpoint"
                    ),
                );
                continue;
            }
        };
        match &origin {
            Some(o) if *o != checkpoint.origin => {
                problem(
                    Some(sealed_before),
                    format!(
                        "checkpoint {line_no} has origin `{}`, expected `{o}`",
                        checkpoint.origin
                    ),
                );
                continue;
            }
            Some(_) => {}
            None => origin = Some(checkpoint.origin.clone()),
        }
        if checkpoint.size < seen_sizes {
            problem(
                Some(checkpoint.size),
                format!(
                    "checkpoint {line_no} shrinks the log from {seen_sizes} to {} records",
                    checkpoint.size
                ),
            );
            continue;
        }
        seen_sizes = checkpoint.size;
        if checkpoint.size > records {
            problem(
                Some(records),
                format!(
                    "checkpoint {line_no} covers {} records, the log holds {records}: records \
                     {records}..{} were removed (truncated)",
                    checkpoint.size,
                    checkpoint.size - 1
                ),
            );
            continue;
        }
        let prefix = &leaves[..checkpoint.size as usize];
        if merkle::root(prefix) != checkpoint.root {
            problem(
                Some(sealed_before),
                format!(
                    "the records do not match checkpoint {line_no} (tree of {} records): a record \
                     from {sealed_before} to {} was changed, removed or reordered",
                    checkpoint.size,
                    checkpoint.size.saturating_sub(1)
                ),
            );
            continue;
        }
        if let Some(previous) = &last_valid {
            let consistent = merkle::consistency_proof(prefix, previous.size)
                .ok_or(merkle::ProofError::RootMismatch)
                .and_then(|proof| {
                    merkle::verify_consistency(
                        previous.size,
                        checkpoint.size,
                        &previous.root,
                        &checkpoint.root,
                        &proof,
                    )
                });
            if let Err(e) = consistent {
                problem(
                    Some(previous.size),
                    format!("checkpoint {line_no} is not consistent with the one before: {e}"),
                );
                continue;
            }
        }
        valid += 1;
        last_valid = Some(checkpoint);
    }

    if let Some(text) = &options.trusted_checkpoint {
        let mut problem = |index: Option<u64>, message: String| {
            problems.push(Problem {
                index,
                file: "trusted checkpoint".to_owned(),
                line: None,
                message,
            });
        };
        match key
            .open(text)
            .map_err(|e| e.to_string())
            .and_then(|t| Checkpoint::parse(t).map_err(|e| e.to_string()))
        {
            Err(e) => problem(None, format!("the trusted checkpoint is unusable: {e}")),
            Ok(c) if origin.as_ref().is_some_and(|o| *o != c.origin) => problem(
                None,
                format!(
                    "the trusted checkpoint is of another log (origin `{}`)",
                    c.origin
                ),
            ),
            Ok(c) if c.size > records => problem(
                Some(records),
                format!(
                    "the trusted checkpoint covers {} records, the log holds {records}: records \
                     {records}..{} were removed (truncated)",
                    c.size,
                    c.size - 1
                ),
            ),
            Ok(c) if merkle::root(&leaves[..c.size as usize]) != c.root => problem(
                Some(0),
                format!(
                    "the first {} records do not match the trusted checkpoint: the log was \
                     rewritten",
                    c.size
                ),
            ),
            Ok(_) => {}
        }
    }

    let sealed = last_valid.as_ref().map_or(0, |c| c.size);
    Ok(VerifyReport {
        records,
        valid_checkpoints: valid,
        sealed,
        unsealed: records - sealed.min(records),
        origin,
        key: format!("{} ({key_from})", key.to_text()),
        problems,
    })
}

/// Make a `c2sp.org/tlog-proof@v1` for record `index`, against the newest checkpoint (which
/// must cover it, verify under the key and match the records). `extra` is the record's line.
pub fn prove(dir: &Path, index: u64, key: Option<&NoteVerifier>) -> Result<TlogProof, LogError> {
    let (key, _) = resolve_key(dir, key)?;
    let records_path = dir.join(RECORDS_FILE);
    let bytes = read(&records_path)?;
    let all: Vec<&[u8]> = lines(&bytes).collect();
    let leaves: Vec<Hash> = all.iter().map(|l| merkle::leaf_hash(l)).collect();
    let cp_path = dir.join(CHECKPOINTS_FILE);
    let cp_bytes = read(&cp_path)?;
    let line = lines(&cp_bytes)
        .last()
        .ok_or_else(|| LogError::Proof(format!("{} holds no checkpoint", cp_path.display())))?;
    let parsed: CheckpointLine = serde_json::from_slice(line)
        .map_err(|e| LogError::Proof(format!("the newest checkpoint line is malformed: {e}")))?;
    let checkpoint = open_checkpoint_line(line, &key)
        .map_err(|m| LogError::Proof(format!("newest checkpoint: {m}")))?;
    if index >= checkpoint.size {
        return Err(LogError::Proof(format!(
            "record {index} is not sealed: the newest checkpoint covers {} records",
            checkpoint.size
        )));
    }
    let size = checkpoint.size as usize;
    if size > leaves.len() || merkle::root(&leaves[..size]) != checkpoint.root {
        return Err(LogError::Proof(format!(
            "the records do not match the newest checkpoint (size {size}): run `imprint audit-log verify`"
        )));
    }
    let hashes = merkle::inclusion_proof(&leaves[..size], index)
        .ok_or_else(|| LogError::Proof(format!("record {index} is not in the log")))?;
    Ok(TlogProof {
        extra: Some(all[index as usize].to_vec()),
        index,
        hashes,
        checkpoint: parsed.note,
    })
}

/// A proof that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The record's index.
    pub index: u64,
    /// The checkpoint it is included in.
    pub checkpoint: Checkpoint,
    /// The record's exact line.
    pub record: Vec<u8>,
}

/// Check a `tlog-proof` offline: the checkpoint's signature by `key` (and `origin`, if given),
/// the record in `extra` (its `index` field must be the proof's), and its inclusion proof.
pub fn verify_proof(
    text: &str,
    key: &NoteVerifier,
    origin: Option<&str>,
) -> Result<VerifiedProof, LogError> {
    let proof = TlogProof::parse(text)?;
    let checkpoint = Checkpoint::parse(key.open(&proof.checkpoint)?)?;
    if let Some(o) = origin
        && o != checkpoint.origin
    {
        return Err(LogError::Proof(format!(
            "the proof's checkpoint is of origin `{}`, expected `{o}`",
            checkpoint.origin
        )));
    }
    let record = proof
        .extra
        .ok_or_else(|| LogError::Proof("the proof carries no record (`extra` line)".to_owned()))?;
    let header: LineHeader = serde_json::from_slice(&record).map_err(|e| {
        LogError::Proof(format!("the proof's record is not a decision record: {e}"))
    })?;
    if header.index != proof.index {
        return Err(LogError::Proof(format!(
            "the proof is for index {}, its record carries index {}",
            proof.index, header.index
        )));
    }
    merkle::verify_inclusion(
        proof.index,
        checkpoint.size,
        &merkle::leaf_hash(&record),
        &proof.hashes,
        &checkpoint.root,
    )
    .map_err(|e| {
        LogError::Proof(format!(
            "record {} is not in the tree of checkpoint size {}: {e}",
            proof.index, checkpoint.size
        ))
    })?;
    Ok(VerifiedProof {
        index: proof.index,
        checkpoint,
        record,
    })
}

fn open_checkpoint_line(line: &[u8], key: &NoteVerifier) -> Result<Checkpoint, String> {
    let parsed: CheckpointLine =
        serde_json::from_slice(line).map_err(|e| format!("not a checkpoint line: {e}"))?;
    let text = key.open(&parsed.note).map_err(|e| e.to_string())?;
    Checkpoint::parse(text).map_err(|e| e.to_string())
}

fn resolve_key(
    dir: &Path,
    key: Option<&NoteVerifier>,
) -> Result<(NoteVerifier, &'static str), LogError> {
    if let Some(k) = key {
        return Ok((k.clone(), "given"));
    }
    let path = dir.join(PUBLIC_KEY_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| LogError::Io {
        what: "cannot read",
        path: path.clone(),
        source,
    })?;
    Ok((NoteVerifier::parse(&text)?, "the log directory's log.pub"))
}

fn read(path: &PathBuf) -> Result<Vec<u8>, LogError> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(LogError::Io {
            what: "cannot read",
            path: path.clone(),
            source,
        }),
    }
}
