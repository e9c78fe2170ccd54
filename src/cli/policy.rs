//! `imprint verify --policy` and `imprint policy lint`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use super::Outcome;
use super::registry_opts::RegistryOpts;
use imprint::format::reference::ImageRef;
use imprint::format::text::for_terminal;
use imprint::gate::Verifier;
use imprint::policy::{self, LintFinding, LintLevel, Policy};

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

/// Output of `imprint policy lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum LintOutput {
    /// One line per finding: `file:line:column: severity[code] field: message`.
    #[default]
    Text,
    /// A JSON array of `{code, severity, file, line, column, field, message}` (every file).
    Json,
}

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Load a policy strictly and report findings with their file:line:column (exit 1 when
    /// any finding is an error, 2 when a policy cannot be loaded). The codes are listed in
    /// policies/README.md.
    Lint {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: LintOutput,
        /// Policy files.
        #[arg(required = true)]
        policies: Vec<PathBuf>,
    },
    /// Show which rules and requirements of a policy apply to each image, and why the other
    /// rules do not; from the policy alone (no registry access, nothing is verified).
    Explain {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: LintOutput,
        /// The policy file.
        policy: PathBuf,
        /// Image references.
        #[arg(required = true)]
        images: Vec<String>,
    },
}

/// Run `imprint policy …`.
pub(crate) fn run(args: PolicyArgs) -> anyhow::Result<Outcome> {
    match args.command {
        PolicyCommand::Lint { output, policies } => lint(output, &policies),
        PolicyCommand::Explain {
            output,
            policy,
            images,
        } => explain(output, &policy, &images),
    }
}

/// `policy explain`: which rules and requirements apply to each image, from the policy alone.
fn explain(output: LintOutput, path: &Path, images: &[String]) -> anyhow::Result<Outcome> {
    let policy = Policy::from_path(path)
        .with_context(|| format!("cannot load policy `{}`", path.display()))?;
    let explained = images
        .iter()
        .map(|i| {
            ImageRef::parse(i)
                .map(|image| policy.explain(&image))
                .with_context(|| format!("`{i}` is not an image reference"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out = super::output::stdout();
    match output {
        LintOutput::Json => writeln!(out, "{}", serde_json::to_string_pretty(&explained)?)?,
        LintOutput::Text => {
            for e in &explained {
                write!(
                    out,
                    "{}",
                    imprint::format::text::lines_for_terminal(&e.to_text())
                )?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// `imprint policy lint`: every policy is loaded first (one that cannot be loaded is an
/// operational error, exit 2), then the findings of all of them are printed.
fn lint(output: LintOutput, policies: &[PathBuf]) -> anyhow::Result<Outcome> {
    let mut all = Vec::new();
    for path in policies {
        let policy = Policy::from_path(path)
            .with_context(|| format!("cannot load policy `{}`", path.display()))?;
        all.push((path, policy.lint()));
    }
    let mut out = super::output::stdout();
    match output {
        LintOutput::Json => {
            let findings: Vec<_> = all.iter().flat_map(|(_, f)| f).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?;
        }
        LintOutput::Text => {
            for (path, findings) in &all {
                if findings.is_empty() {
                    writeln!(out, "{}: ok", for_terminal(&path.display().to_string()))?;
                }
                for f in findings {
                    writeln!(out, "{}", lint_line(f))?;
                }
            }
        }
    }
    let errors = all
        .iter()
        .flat_map(|(_, f)| f)
        .filter(|f| f.severity == LintLevel::Error)
        .count();
    Ok(if errors > 0 {
        Outcome::Rejected(vec![format!(
            "{errors} error-level lint finding(s) in {} policy file(s)",
            policies.len()
        )])
    } else {
        Outcome::Success
    })
}

/// `file:line:column: severity[code] field: message`, escaped for the terminal.
fn lint_line(f: &LintFinding) -> String {
    let severity = match f.severity {
        LintLevel::Error => "error",
        LintLevel::Warning => "warning",
        _ => "info",
    };
    format!(
        "{}: {severity}[{}] {}: {}",
        for_terminal(&f.position()),
        f.code,
        for_terminal(&f.field),
        for_terminal(&f.message)
    )
}
