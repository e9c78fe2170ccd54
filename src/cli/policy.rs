//! `imprint verify --policy` and `imprint policy lint`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use super::Outcome;
use super::registry_opts::RegistryOpts;
use imprint::format::reference::ImageRef;
use imprint::gate::Verifier;
use imprint::policy::{self, LintLevel, Policy};

/// Output of a policy decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum DecisionOutput {
    /// A compact table on stdout (one line per image, reasons indented).
    #[default]
    Table,
    /// The typed decisions as a JSON array on stdout.
    Json,
}

/// Decide `images` against the policy at `path`: exit 0 when every image is allowed or
/// warned, 1 when any is denied (registry errors deny), 2 on an operational error.
pub(crate) async fn verify(
    path: &Path,
    output: DecisionOutput,
    registry: &RegistryOpts,
    images: &[String],
) -> anyhow::Result<Outcome> {
    let policy = Policy::from_path(path)
        .with_context(|| format!("cannot load policy `{}`", path.display()))?;
    let refs = images
        .iter()
        .map(|s| ImageRef::parse(s).with_context(|| format!("invalid image reference `{s}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let verifier = Verifier::builder(policy)
        .registry(registry.to_config())
        .concurrency(registry.max_workers)
        .build()
        .context("cannot set up verification")?;
    let decisions = verifier.verify_all(&refs).await;
    let mut out = super::output::stdout();
    match output {
        DecisionOutput::Table => write!(
            out,
            "{}",
            imprint::format::text::lines_for_terminal(&policy::render_table(&decisions))
        )?,
        DecisionOutput::Json => writeln!(out, "{}", serde_json::to_string_pretty(&decisions)?)?,
    }
    let denied = decisions.iter().filter(|d| !d.is_allowed()).count();
    Ok(if denied > 0 {
        Outcome::Rejected(vec![format!(
            "{denied} of {} image(s) denied by policy `{}`",
            decisions.len(),
            path.display()
        )])
    } else {
        Outcome::Success
    })
}

/// `imprint policy …`.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Load a policy strictly and report findings (exit 1 on error-level findings).
    Lint {
        /// Policy files.
        #[arg(required = true)]
        policies: Vec<PathBuf>,
    },
}

/// Run `imprint policy …`.
pub(crate) fn run(args: PolicyArgs) -> anyhow::Result<Outcome> {
    match args.command {
        PolicyCommand::Lint { policies } => {
            let mut errors = 0;
            for path in &policies {
                let policy = Policy::from_path(path)
                    .with_context(|| format!("cannot load policy `{}`", path.display()))?;
                let findings = policy.lint();
                let mut out = super::output::stdout();
                if findings.is_empty() {
                    writeln!(out, "{}: ok", path.display())?;
                }
                for f in findings {
                    if f.level == LintLevel::Error {
                        errors += 1;
                    }
                    let level = match f.level {
                        LintLevel::Error => "error",
                        LintLevel::Warning => "warning",
                        _ => "info",
                    };
                    writeln!(
                        out,
                        "{}: {level} {} at {}: {}",
                        path.display(),
                        f.code,
                        imprint::format::text::for_terminal(&f.location.to_string()),
                        imprint::format::text::for_terminal(&f.message)
                    )?;
                }
            }
            Ok(if errors > 0 {
                Outcome::Rejected(vec![format!(
                    "{errors} error-level lint finding(s) in {} policy file(s)",
                    policies.len()
                )])
            } else {
                Outcome::Success
            })
        }
    }
}
