//! `imprint audit`: every image that manifests (or the command line) name, decided against a
//! trust policy, with what enforcing would deny. Reading, verifying and rendering are the
//! library's (`imprint::audit`); this file parses flags, picks inputs and writes the output.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::Outcome;
use super::registry_opts::RegistryOpts;
use imprint::audit::{self, Manifests};
use imprint::format::reference::ImageRef;
use imprint::gate::Verifier;
use imprint::policy::Policy;

const AUDIT_HELP: &str = "Each input is `-` (stdin), a file, a directory (walked recursively for \
*.yaml, *.yml and *.json), or else an image reference; a path that exists wins. Manifests may \
hold many YAML documents, JSON, `kind: List` and `kubectl get ... -o json` dumps; Pod, \
Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob and ReplicationController are \
read (containers, initContainers, ephemeralContainers, image volumes); other kinds are skipped \
and counted. `--repository R` adds every tag of a registry repository (tag list API, cosign \
attachment tags skipped). Each distinct image is verified once; on a terminal a progress line \
is drawn on stderr.

The header (every format) names the imprint version, the policy's sha256 and the trust roots' \
sha256 (the embedded public-good root's when the policy uses none); the summary counts the \
registry requests the verifications sent, 401 challenges and token fetches included (the \
tag-list pages of `--repository` are read before them: the client counts them, this figure \
does not).

Outcomes: allowed, warned, denied (unsigned, wrong signer, failed attestation checks, no \
matching rule, invalid reference) and error (could not check: registry unreachable, rate \
limited, authentication failed, timeout).

Exit status: 0 when every row is allowed or warned; 1 when any row is denied or could not be \
checked (error rows fail closed, as registry errors deny in `imprint verify --policy`; the \
report keeps them apart); 2 on an operational error (unusable policy, unreadable or malformed \
manifest, bad flags).";

/// Output formats of `imprint audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum AuditOutput {
    /// One line per (workload, slot, image), failures indented, then the summary.
    #[default]
    Table,
    /// The typed report (rows and summary).
    Json,
    /// SARIF 2.1.0 (code scanning): one result per failed requirement, at the `image:` line.
    Sarif,
    /// JUnit XML: one test case per row; denied rows fail, error rows are errors.
    Junit,
    /// Kubernetes Policy Reports (`wgpolicyk8s.io/v1alpha2`) as multi-document YAML: a
    /// PolicyReport per namespace, a ClusterPolicyReport for rows without one.
    #[value(name = "policyreport")]
    PolicyReport,
}

/// `imprint audit`.
#[derive(Debug, Args)]
#[command(after_help = AUDIT_HELP)]
pub(crate) struct AuditArgs {
    /// The trust policy (YAML; see policies/README.md).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: AuditOutput,
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// Audit every tag of this registry repository (`registry/path`), read with the tag list
    /// API (paginated, at most 10,000 tags; the rest are left off with a warning); each tag is
    /// a row. Repeatable; combines with the inputs.
    #[arg(long, value_name = "REPOSITORY")]
    pub repository: Vec<String>,
    #[command(flatten)]
    pub audit_log: super::audit_log::AuditLogOpts,
    /// Manifest files or directories, `-` for stdin, or image references.
    #[arg(required_unless_present = "repository", value_name = "INPUT")]
    pub inputs: Vec<String>,
}

/// Read every input into one manifest set. A path that exists is read as manifests; `-` is
/// stdin (once); anything else must be an image reference.
fn read_inputs(inputs: &[String]) -> anyhow::Result<Manifests> {
    let mut manifests = Manifests::default();
    let mut stdin_read = false;
    for input in inputs {
        if input == "-" {
            anyhow::ensure!(!stdin_read, "`-` (stdin) is given more than once");
            stdin_read = true;
            manifests.read_stdin()?;
            continue;
        }
        let path = std::path::Path::new(input);
        if path.exists() {
            manifests.read_path(path)?;
            continue;
        }
        ImageRef::parse(input).with_context(|| {
            format!("`{input}` is not a file or directory, nor a valid image reference")
        })?;
        manifests.add_image(input);
    }
    Ok(manifests)
}

/// Run `imprint audit`.
pub(crate) async fn run(args: AuditArgs) -> anyhow::Result<Outcome> {
    let policy = Policy::from_path(&args.policy)
        .with_context(|| format!("cannot load policy `{}`", args.policy.display()))?;
    let mut manifests = read_inputs(&args.inputs)?;
    // Opened before anything is verified: a bad key or a tampered log stops the audit.
    let log = args.audit_log.open(|_| {})?;
    let verifier = Verifier::builder(policy)
        .registry(args.registry.to_config())
        .build()
        .context("cannot set up verification")?;
    for (_, root) in verifier.trust_roots() {
        super::trust_root::say_which(root);
    }
    for repository in &args.repository {
        audit::add_repository(
            &verifier,
            &mut manifests,
            repository,
            audit::report::MAX_REPOSITORY_TAGS,
            audit::report::TAG_PAGE_SIZE,
        )
        .await
        .with_context(|| format!("cannot list the tags of `{repository}`"))?;
    }
    // A progress line on a terminal only (never in CI logs or redirected stderr).
    let report = match super::progress::terminal_audit_progress() {
        Some(bar) => {
            let b = bar.clone();
            let report = audit::audit_with_progress(&verifier, manifests, move |done, total| {
                b.set_length(total as u64);
                b.set_position(done as u64);
            })
            .await;
            bar.finish_and_clear();
            report
        }
        None => audit::audit(&verifier, manifests).await,
    };
    if let (Some(log), Some(dir)) = (log, &args.audit_log.audit_log) {
        write_log(log, &report)
            .with_context(|| format!("cannot write the decision log `{}`", dir.display()))?;
    }
    let text = match args.output {
        AuditOutput::Table => audit::render::table(&report),
        AuditOutput::Json => {
            let mut s = audit::render::json(&report)?;
            s.push('\n');
            s
        }
        AuditOutput::Sarif => {
            let mut s = serde_json::to_string_pretty(&audit::sarif::sarif(&report))?;
            s.push('\n');
            s
        }
        AuditOutput::Junit => audit::junit::junit(&report),
        AuditOutput::PolicyReport => audit::policyreport::yaml(&report)
            .context("cannot serialise the policy reports as YAML")?,
    };
    // Through the command's stdout, so the global `--output-file` writes it atomically.
    let mut out = super::output::stdout();
    if args.output == AuditOutput::Table {
        write!(out, "{}", imprint::format::text::lines_for_terminal(&text))?;
    } else {
        write!(out, "{text}")?;
    }
    out.flush()?;
    let s = &report.summary;
    let mut problems = Vec::new();
    if s.denied > 0 {
        problems.push(format!(
            "{} of {} row(s) denied by policy `{}`",
            s.denied,
            s.rows,
            args.policy.display()
        ));
    }
    if s.error > 0 {
        problems.push(format!(
            "{} of {} row(s) could not be checked (registry error or timeout)",
            s.error, s.rows
        ));
    }
    Ok(Outcome::from_problems(problems))
}

/// One record per distinct image (its first row), then a final checkpoint.
fn write_log(log: imprint::decisionlog::DecisionLog, report: &audit::Report) -> anyhow::Result<()> {
    use imprint::decisionlog::{DecisionContext, Record};
    // The hashes the report's header shows (`imprint::audit` computes them).
    let context = DecisionContext {
        policy_hash: report.policy.hash.clone(),
        trust_root_hash: report.trust_root.as_ref().map(|t| t.hash.clone()),
    };
    let mut seen = std::collections::HashSet::new();
    for row in &report.rows {
        let image = row.reference.as_deref().unwrap_or(&row.source.image);
        if seen.insert(image.to_owned()) {
            log.append(&Record::from_audit_row(row, &context))?;
        }
    }
    log.close()?;
    Ok(())
}
