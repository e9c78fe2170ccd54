//! `imprint audit-log`: make decision-log keys, verify a decision log, write and check
//! `tlog-proof` files. The logic is the library's (`imprint::decisionlog`); this file parses
//! flags, reads files and prints.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use super::Outcome;
use imprint::decisionlog::note::{NoteSigner, NoteVerifier};
use imprint::decisionlog::{self, DecisionLog, Options, VerifyOptions};
use imprint::fs::{Overwrite, read_limited, write_atomic};

/// Largest key, checkpoint or proof file read.
const MAX_NOTE_FILE: u64 = 1 << 20;

const AUDIT_LOG_HELP: &str = "A decision log is a directory: decisions.jsonl (one JSON record \
per decision, each carrying its index and the previous record's hash), checkpoints.jsonl \
(signed C2SP tlog-checkpoints of the RFC 6962 tree of the records), checkpoint (the newest \
one: copy it off the host), log.pub (the verifier key). `verify` and `verify-proof` exit 0 when \
everything checks, 1 when something does not (the first broken record is named), 2 on an \
operational error (unreadable files, bad flags).

Threat model: an attacker on the host can rewrite every record since the last checkpoint that \
left the host. Verify with a --key kept elsewhere and --trusted-checkpoint of a saved copy.";

/// `imprint audit-log`.
#[derive(Debug, Args)]
#[command(after_help = AUDIT_LOG_HELP)]
pub(crate) struct AuditLogArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AuditLogCommand,
}

/// Output formats of `imprint audit-log verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum VerifyOutput {
    /// A summary line (problems on stderr).
    #[default]
    Text,
    /// The typed report.
    Json,
}

/// `imprint audit-log` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditLogCommand {
    /// Make an Ed25519 checkpoint key in Go's `note` format: the private key (mode 0600) and
    /// the verifier key.
    Keygen {
        /// The key's name, normally the log's origin (e.g. `imprint.example/decisions`).
        #[arg(long, value_name = "ORIGIN")]
        name: String,
        /// Where to write the private key (`PRIVATE+KEY+<name>+<hash>+<key>`); never replaced.
        #[arg(long, value_name = "FILE", default_value = "audit-log.key")]
        key_file: PathBuf,
        /// Where to write the verifier key (`<name>+<hash>+<key>`); never replaced.
        #[arg(long, value_name = "FILE", default_value = "audit-log.pub")]
        pub_file: PathBuf,
    },
    /// Check a decision log: the hash chain, each checkpoint's tree and signature, that
    /// checkpoints only grow, and (with --trusted-checkpoint) that a checkpoint saved
    /// elsewhere still matches.
    Verify {
        /// The log directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The verifier key file (default: the directory's own log.pub, which an attacker on
        /// the host can replace).
        #[arg(long, value_name = "PUB")]
        key: Option<PathBuf>,
        /// A signed checkpoint saved elsewhere: the log must still contain its tree.
        #[arg(long, value_name = "FILE")]
        trusted_checkpoint: Option<PathBuf>,
        /// The expected origin (default: the first checkpoint's).
        #[arg(long, value_name = "ORIGIN")]
        origin: Option<String>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: VerifyOutput,
    },
    /// Write a `c2sp.org/tlog-proof@v1` for one record (against the newest checkpoint).
    Prove {
        /// The log directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The record's index (line number minus one).
        #[arg(long, value_name = "N")]
        index: u64,
        /// The verifier key file (default: the directory's log.pub).
        #[arg(long, value_name = "PUB")]
        key: Option<PathBuf>,
        /// Write the proof here (atomically) instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check a `tlog-proof` file offline; prints the record it proves.
    VerifyProof {
        /// The proof file.
        #[arg(value_name = "FILE")]
        proof: PathBuf,
        /// The verifier key file.
        #[arg(long, value_name = "PUB")]
        key: PathBuf,
        /// The expected origin.
        #[arg(long, value_name = "ORIGIN")]
        origin: Option<String>,
    },
}

/// Run `imprint audit-log`.
pub(crate) fn run(args: AuditLogArgs) -> anyhow::Result<Outcome> {
    match args.command {
        AuditLogCommand::Keygen {
            name,
            key_file,
            pub_file,
        } => keygen(&name, &key_file, &pub_file),
        AuditLogCommand::Verify {
            dir,
            key,
            trusted_checkpoint,
            origin,
            output,
        } => {
            let options = VerifyOptions {
                key: key.as_deref().map(read_verifier).transpose()?,
                origin,
                trusted_checkpoint: trusted_checkpoint.as_deref().map(read_text).transpose()?,
            };
            let report = decisionlog::verify(&dir, &options)
                .with_context(|| format!("cannot verify the decision log `{}`", dir.display()))?;
            let mut out = super::output::stdout();
            match output {
                VerifyOutput::Json => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
                }
                VerifyOutput::Text => writeln!(
                    out,
                    "{}: {} records, {} valid checkpoints, {} sealed, {} unsealed (after the last checkpoint)",
                    dir.display(),
                    report.records,
                    report.valid_checkpoints,
                    report.sealed,
                    report.unsealed
                )?,
            }
            out.flush()?;
            let mut problems = Vec::new();
            if let Some(first) = report.first_broken() {
                problems.push(match (first.index, first.line) {
                    (Some(i), Some(l)) => format!(
                        "first broken record: index {i} ({} line {l}): {}",
                        first.file, first.message
                    ),
                    (Some(i), None) => format!(
                        "first broken record: index {i} ({}): {}",
                        first.file, first.message
                    ),
                    _ => format!("{}: {}", first.file, first.message),
                });
                for p in report.problems.iter().filter(|p| !std::ptr::eq(*p, first)) {
                    problems.push(p.message.clone());
                }
            }
            Ok(Outcome::from_problems(problems))
        }
        AuditLogCommand::Prove {
            dir,
            index,
            key,
            output,
        } => {
            let key = key.as_deref().map(read_verifier).transpose()?;
            let proof = decisionlog::prove(&dir, index, key.as_ref())
                .with_context(|| format!("cannot prove record {index} of `{}`", dir.display()))?;
            let text = proof.to_text();
            match output {
                Some(path) => write_atomic(&path, text.as_bytes(), 0o644, Overwrite::Replace)
                    .with_context(|| format!("cannot write `{}`", path.display()))?,
                None => {
                    let mut out = super::output::stdout();
                    out.write_all(text.as_bytes())?;
                    out.flush()?;
                }
            }
            Ok(Outcome::Success)
        }
        AuditLogCommand::VerifyProof { proof, key, origin } => {
            let key = read_verifier(&key)?;
            let text = read_text(&proof)?;
            match decisionlog::verify_proof(&text, &key, origin.as_deref()) {
                Ok(verified) => {
                    let mut out = super::output::stdout();
                    out.write_all(&verified.record)?;
                    out.write_all(b"\n")?;
                    out.flush()?;
                    eprintln!(
                        "record {} is in the tree of {} records signed by `{}` (origin `{}`)",
                        verified.index,
                        verified.checkpoint.size,
                        key.name(),
                        imprint::format::text::for_terminal(&verified.checkpoint.origin)
                    );
                    Ok(Outcome::Success)
                }
                // Checking a proof reads no file: every error is a proof that does not hold.
                Err(e) => Ok(Outcome::Rejected(vec![format!(
                    "{}: {}",
                    proof.display(),
                    super::one_line(&e)
                )])),
            }
        }
    }
}

fn keygen(name: &str, key_file: &Path, pub_file: &Path) -> anyhow::Result<Outcome> {
    for path in [key_file, pub_file] {
        anyhow::ensure!(
            std::fs::symlink_metadata(path).is_err(),
            "`{}` already exists (keygen never replaces a key)",
            path.display()
        );
    }
    let signer = NoteSigner::generate(name).context("cannot make the key")?;
    let verifier = format!("{}\n", signer.verifier().to_text());
    // The public file first: a clash leaves no orphaned private key behind.
    write_atomic(pub_file, verifier.as_bytes(), 0o644, Overwrite::Refuse)
        .with_context(|| format!("cannot write `{}`", pub_file.display()))?;
    let mut private = signer.to_private_text();
    private.push('\n');
    write_atomic(key_file, private.as_bytes(), 0o600, Overwrite::Refuse)
        .with_context(|| format!("cannot write `{}`", key_file.display()))?;
    eprintln!(
        "Private key written to {} (mode 0600), verifier key to {}",
        key_file.display(),
        pub_file.display()
    );
    Ok(Outcome::Success)
}

/// The decision-log flags of `imprint verify --policy` and `imprint admission` (the same
/// names as `imprint audit`'s).
#[derive(Debug, Clone, Args)]
pub(crate) struct AuditLogOpts {
    /// Append one decision record per image to the decision log in DIR (created if
    /// missing; see `imprint audit-log`), with signed checkpoints.
    #[arg(long, value_name = "DIR", requires = "audit_log_key")]
    pub audit_log: Option<PathBuf>,
    /// The decision log's private checkpoint key (`imprint audit-log keygen`).
    #[arg(long, value_name = "FILE", requires = "audit_log")]
    pub audit_log_key: Option<PathBuf>,
    /// The decision log's origin (default: the key's name).
    #[arg(long, value_name = "ORIGIN", requires = "audit_log")]
    pub audit_log_origin: Option<String>,
}

impl AuditLogOpts {
    /// The log, opened, when `--audit-log` is given.
    pub(crate) fn open(
        &self,
        tune: impl FnOnce(&mut Options),
    ) -> anyhow::Result<Option<DecisionLog>> {
        match &self.audit_log {
            Some(dir) => open_log_with(
                dir,
                self.audit_log_key.as_deref(),
                self.audit_log_origin.as_deref(),
                tune,
            )
            .map(Some),
            None => Ok(None),
        }
    }
}

/// Open the decision log of `--audit-log DIR` with the private key of `--audit-log-key` and
/// the origin of `--audit-log-origin` (default: the key's name), with the checkpoint options
/// adjusted by `tune`.
pub(crate) fn open_log_with(
    dir: &Path,
    key: Option<&Path>,
    origin: Option<&str>,
    tune: impl FnOnce(&mut Options),
) -> anyhow::Result<DecisionLog> {
    let key = key.context(
        "`--audit-log` needs `--audit-log-key FILE` (make one with `imprint audit-log keygen`)",
    )?;
    let bytes = zeroize::Zeroizing::new(
        read_limited(key, MAX_NOTE_FILE)
            .with_context(|| format!("cannot read the decision-log key `{}`", key.display()))?,
    );
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("`{}` is not a note private key (not UTF-8)", key.display()))?;
    let signer = NoteSigner::parse(text)
        .with_context(|| format!("`{}` is not a note private key", key.display()))?;
    let origin = origin.unwrap_or(signer.name()).to_owned();
    let mut options = Options::new(origin, signer);
    tune(&mut options);
    DecisionLog::open(dir, options)
        .with_context(|| format!("cannot open the decision log `{}`", dir.display()))
}

/// One `verify` record per decision (in the order given), then a final checkpoint.
pub(crate) fn log_decisions(
    log: DecisionLog,
    verifier: &imprint::gate::Verifier,
    decisions: &[imprint::policy::Decision],
) -> anyhow::Result<()> {
    use imprint::decisionlog::{DecisionContext, Record, Source};
    let context = DecisionContext::of(verifier);
    let records: Vec<Record> = decisions
        .iter()
        .map(|d| Record::from_decision(Source::Verify, d, &context))
        .collect();
    log.append_all(&records)?;
    log.close()?;
    Ok(())
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes = read_limited(path, MAX_NOTE_FILE)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("`{}` is not UTF-8 text", path.display()))
}

fn read_verifier(path: &Path) -> anyhow::Result<NoteVerifier> {
    NoteVerifier::parse(&read_text(path)?)
        .with_context(|| format!("`{}` is not a note verifier key", path.display()))
}
