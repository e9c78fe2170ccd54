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
    audit_log: &super::audit_log::AuditLogOpts,
    images: &[String],
) -> anyhow::Result<Outcome> {
    let policy = Policy::from_path(path)
        .with_context(|| format!("cannot load policy `{}`", path.display()))?;
    let refs = images
        .iter()
        .map(|s| ImageRef::parse(s).with_context(|| format!("invalid image reference `{s}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Opened before anything is verified: a bad key or a tampered log stops the command.
    let log = audit_log.open(|_| {})?;
    let verifier = Verifier::builder(policy)
        .registry(registry.to_config())
        .concurrency(registry.max_workers)
        .build()
        .context("cannot set up verification")?;
    for (_, root) in verifier.trust_roots() {
        super::trust_root::say_which(root);
    }
    let decisions = verifier.verify_all(&refs).await;
    if let (Some(log), Some(dir)) = (log, &audit_log.audit_log) {
        super::audit_log::log_decisions(log, &verifier, &decisions)
            .with_context(|| format!("cannot write the decision log `{}`", dir.display()))?;
    }
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
    /// Run policy test files (imprint-test.yaml, found recursively under each PATH; default
    /// `.`): each case names an image in an OCI layout and the decision expected (outcome,
    /// optionally reason codes and an authority). Offline. Exit 1 when any case fails.
    Test {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: TestOutput,
        /// Test files or directories to search.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
    },
    /// Convert sigstore policy-controller ClusterImagePolicy, Kyverno ClusterPolicy/Policy
    /// (verifyImages rules) and Kyverno ImageValidatingPolicy resources (YAML, multi-document
    /// or a List, any mix) into one imprint policy on stdout; every field not converted as
    /// written is listed on stderr with why (what cannot be checked becomes `static: fail`;
    /// CEL validations and JMESPath conditions are listed, not converted).
    Import {
        /// The policy file (`-` for stdin).
        file: PathBuf,
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
        PolicyCommand::Test { output, paths } => super::block_on(test(output, &paths))?,
        PolicyCommand::Import { file } => import(&file),
        PolicyCommand::Explain {
            output,
            policy,
            images,
        } => explain(output, &policy, &images),
    }
}

/// `policy import`: the converted policy on stdout, the notes on stderr.
fn import(file: &Path) -> anyhow::Result<Outcome> {
    let limit = imprint::limits::Limits::DEFAULT.max_policy_bytes;
    let bytes = if file == Path::new("-") {
        use std::io::Read as _;
        let mut b = Vec::new();
        std::io::stdin()
            .take(limit + 1)
            .read_to_end(&mut b)
            .context("cannot read stdin")?;
        anyhow::ensure!(b.len() as u64 <= limit, "stdin is over {limit} bytes");
        b
    } else {
        imprint::fs::read_limited(file, limit)
            .with_context(|| format!("cannot read `{}`", file.display()))?
    };
    let text = String::from_utf8(bytes).context("the input is not UTF-8")?;
    let imported = policy::import_policies(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("cannot import `{}`", file.display()))?;
    write!(super::output::stdout(), "{}", imported.yaml)?;
    for n in &imported.notes {
        eprintln!(
            "not converted as written: {}: {}",
            for_terminal(&n.field),
            for_terminal(&n.reason)
        );
    }
    Ok(Outcome::Success)
}

/// Output of `policy test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum TestOutput {
    /// `PASS`/`FAIL` per case with file:line, then a summary.
    #[default]
    Text,
    /// A JSON array of case results.
    Json,
    /// JUnit XML (one testsuite per file).
    Junit,
    /// GitHub Actions annotations (`::error file=…,line=…::…`) for failing cases.
    Github,
}

/// `policy test`: run every case of every test file found.
async fn test(output: TestOutput, paths: &[PathBuf]) -> anyhow::Result<Outcome> {
    use imprint::gate::cases;
    let files = cases::find_test_files(paths)?;
    let mut results = Vec::new();
    for f in &files {
        results.extend(cases::run_file(f).await?);
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let mut out = super::output::stdout();
    match output {
        TestOutput::Json => writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?,
        TestOutput::Text => {
            for r in &results {
                let status = if r.passed { "PASS" } else { "FAIL" };
                writeln!(
                    out,
                    "{status} {}:{}: {} (expected {}, got {})",
                    r.file.display(),
                    r.line,
                    for_terminal(&r.name),
                    r.expected,
                    r.got
                )?;
                if !r.passed {
                    writeln!(out, "  {}", for_terminal(&r.message))?;
                }
            }
            writeln!(
                out,
                "{} case(s) in {} file(s): {} passed, {failed} failed",
                results.len(),
                files.len(),
                results.len() - failed
            )?;
        }
        TestOutput::Github => {
            for r in results.iter().filter(|r| !r.passed) {
                // Workflow-command escaping: %, CR and LF in the message.
                let msg = format!("{}: {}", r.name, r.message)
                    .replace('%', "%25")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A");
                writeln!(
                    out,
                    "::error file={},line={},title=policy test failed::{msg}",
                    r.file.display(),
                    r.line
                )?;
            }
        }
        TestOutput::Junit => {
            let esc = |s: &str| {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
            };
            writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
            writeln!(
                out,
                r#"<testsuites name="imprint policy test" tests="{}" failures="{failed}">"#,
                results.len()
            )?;
            for f in &files {
                let here: Vec<_> = results.iter().filter(|r| &r.file == f).collect();
                let fails = here.iter().filter(|r| !r.passed).count();
                writeln!(
                    out,
                    r#"  <testsuite name="{}" tests="{}" failures="{fails}">"#,
                    esc(&f.display().to_string()),
                    here.len()
                )?;
                for r in here {
                    write!(
                        out,
                        r#"    <testcase name="{}" classname="{}""#,
                        esc(&r.name),
                        esc(&f.display().to_string())
                    )?;
                    if r.passed {
                        writeln!(out, "/>")?;
                    } else {
                        writeln!(
                            out,
                            ">\n      <failure message=\"{}\"/>\n    </testcase>",
                            esc(&r.message)
                        )?;
                    }
                }
                writeln!(out, "  </testsuite>")?;
            }
            writeln!(out, "</testsuites>")?;
        }
    }
    Ok(if failed == 0 {
        Outcome::Success
    } else {
        Outcome::Rejected(vec![format!(
            "{failed} of {} policy test case(s) failed",
            results.len()
        )])
    })
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
