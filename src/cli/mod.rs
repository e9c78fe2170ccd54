//! The `imprint` command line: flag parsing and printing only. Every command calls the
//! library; nothing here decides whether something verifies.
//!
//! Every command returns `anyhow::Result<`[`Outcome`]`>`; [`report`] prints it and picks the
//! [`ExitStatus`] (0 success, 1 verification failed / denied, 2 operational error) in one place.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imprint::format::text::for_terminal;

pub(crate) mod admission;
pub(crate) mod audit;
pub(crate) mod audit_log;
pub(crate) mod blob;
pub(crate) mod download;
pub(crate) mod image;
pub(crate) mod keyless;
pub(crate) mod keys;
pub(crate) mod notation;
pub(crate) mod output;
pub(crate) mod policy;
pub(crate) mod progress;
pub(crate) mod public_key;
pub(crate) mod registry_opts;
pub(crate) mod tree;
pub(crate) mod trust_root;
pub(crate) mod unsupported;
pub(crate) mod verify_bundle;

/// Sign container images and verify them against trust policies (cosign-compatible).
#[derive(Debug, Parser)]
#[command(name = "imprint", version, about, long_about = None)]
pub(crate) struct Cli {
    /// More logging on stderr (repeat for more; `-d` too, as cosign spells it). `RUST_LOG`
    /// overrides.
    #[arg(short, long, short_alias = 'd', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Write what the command prints on stdout to FILE instead (cosign's root flag; written
    /// atomically when the command ends, replacing FILE). stderr is unchanged.
    #[arg(long, global = true, value_name = "FILE")]
    pub output_file: Option<std::path::PathBuf>,
    /// Longest a command may take talking to registries (cosign's root flag, a Go duration:
    /// 3m0s, 90s, 1h): each image's verification and each registry request stop after it.
    #[arg(short = 't', long, global = true, value_name = "DURATION", default_value = "3m0s",
          value_parser = registry_opts::parse_go_duration)]
    pub timeout: std::time::Duration,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a cosign key pair (`cosign.key`, encrypted, mode 0600; `cosign.pub`).
    GenerateKeyPair(keys::GenerateKeyPairArgs),
    /// Convert a PEM private key (PKCS#8, PKCS#1 RSA, SEC1 EC) into cosign's encrypted format.
    ImportKeyPair(keys::ImportKeyPairArgs),
    /// Sign images: push a Sigstore bundle referrer (cosign v3; `--new-bundle-format=false`: a `.sig` layer).
    Sign(image::SignArgs),
    /// Verify the cosign signatures of images.
    Verify(image::VerifyArgs),
    /// Attach an in-toto attestation (SBOM, provenance, vuln report, ...) to images.
    Attest(image::AttestArgs),
    /// Verify the attestations of images.
    VerifyAttestation(image::VerifyAttestationArgs),
    /// Sign a file: print the base64 signature (and write a bundle with `--bundle`).
    SignBlob(blob::SignBlobArgs),
    /// Verify a file's signature or key-signed bundle.
    VerifyBlob(blob::VerifyBlobArgs),
    /// Attest a file: sign an in-toto statement about it (DSSE).
    AttestBlob(blob::AttestBlobArgs),
    /// Verify an attestation about a file.
    VerifyBlobAttestation(blob::VerifyBlobAttestationArgs),
    /// Check trust policies themselves.
    Policy(policy::PolicyArgs),
    /// Verify a Sigstore bundle for a file or digest (sigstore-conformance CLI shape).
    VerifyBundle(verify_bundle::VerifyBundleArgs),
    /// Inspect trust roots.
    TrustRoot(trust_root::TrustRootArgs),
    /// Print the PEM public key of a cosign encrypted private key.
    PublicKey(public_key::PublicKeyArgs),
    /// List what is attached to an image (legacy tags and referrers); nothing is verified.
    Tree(tree::TreeArgs),
    /// Print an image's signatures, attestations or SBOM as cosign does; nothing is verified.
    Download(download::DownloadArgs),
    /// Decide every image that manifests name against a trust policy; what would enforcing deny?
    Audit(audit::AuditArgs),
    /// Decision logs: make checkpoint keys, verify a log, prove one decision.
    AuditLog(audit_log::AuditLogArgs),
    /// Serve the Kubernetes admission webhook (validate, mutate) over HTTPS.
    Admission(admission::AdmissionArgs),
}

/// How a command ended. [`report`] turns it into output and the exit code, in one place.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Everything asked for succeeded: verified, allowed, written.
    Success,
    /// A verification failed or an image was denied. Each entry is one problem, printed on
    /// stderr as `error: …`; the exit code is [`ExitStatus::Failure`].
    Rejected(Vec<String>),
}

impl Outcome {
    /// [`Outcome::Success`] when `problems` is empty, else [`Outcome::Rejected`].
    pub(crate) fn from_problems(problems: Vec<String>) -> Self {
        if problems.is_empty() {
            Self::Success
        } else {
            Self::Rejected(problems)
        }
    }
}

/// The exit codes (as ripgrep and uv): documented in the README and tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: everything verified or allowed, or the command did what it was asked.
    Success,
    /// 1: a verification failed, or an image was denied by the policy.
    Failure,
    /// 2: an operational error (bad flags, unreadable key, unusable policy, registry
    /// unreachable). clap's own usage errors exit 2 as well.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::SUCCESS,
            ExitStatus::Failure => Self::from(1),
            ExitStatus::Error => Self::from(2),
        }
    }
}

/// Parse the command line and run. Used by `src/main.rs`.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    registry_opts::set_timeout(cli.timeout);
    if let Err(e) = registry_opts::init_max_attachment() {
        eprintln!("error: {e}");
        return ExitStatus::Error.into();
    }
    if let Some(path) = &cli.output_file
        && let Err(e) = output::capture(path)
    {
        eprint!("{}", render_error(&e));
        return ExitStatus::Error.into();
    }
    let status = report(run(cli.command));
    if let Some(path) = &cli.output_file
        && let Err(e) = output::finish(path)
    {
        eprint!("{}", render_error(&e));
        return ExitStatus::Error.into();
    }
    status.into()
}

/// Print how a command ended on stderr and choose its exit status: problems of a rejected
/// verification as `error: …` lines (exit 1); an operational error as `error: …` followed by
/// its causes, each once, as `  Caused by: …` lines (exit 2).
pub(crate) fn report(result: anyhow::Result<Outcome>) -> ExitStatus {
    match result {
        Ok(Outcome::Success) => ExitStatus::Success,
        Ok(Outcome::Rejected(problems)) => {
            for p in problems {
                // Problems are built here with their outside text already escaped (one line
                // per failure); this keeps those breaks and escapes anything else.
                eprintln!("error: {}", imprint::format::text::lines_for_terminal(&p));
            }
            ExitStatus::Failure
        }
        Err(e) => {
            eprint!("{}", render_error(&e));
            ExitStatus::Error
        }
    }
}

/// `error: <top>` then one `  Caused by: <cause>` line per cause. A cause whose text the line
/// above already ends with (an error that prints its source in its own message) is skipped,
/// so each cause appears once.
pub(crate) fn render_error(e: &anyhow::Error) -> String {
    let mut out = format!("error: {}\n", for_terminal(&e.to_string()));
    let mut previous = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if text.is_empty() || previous.ends_with(&text) {
            continue;
        }
        out.push_str("  Caused by: ");
        out.push_str(&for_terminal(&text));
        out.push('\n');
        previous = text;
    }
    out
}

/// An error and its causes on one line (`outer: inner`), each cause once: for problems that
/// are reported as one `error:` line per image or file.
pub(crate) fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    for_terminal(&imprint::format::error_chain(e)).into_owned()
}

/// Who signed, for people: a key fingerprint or a certificate identity and issuer.
pub(crate) fn describe_signer(signer: &imprint::verify::proof::Signer) -> String {
    use imprint::verify::proof::Signer;
    match signer {
        Signer::Key { fingerprint } => format!("key {}", for_terminal(&fingerprint.to_string())),
        Signer::Certificate {
            identity, issuer, ..
        } => format!(
            "{} (issuer {})",
            for_terminal(&identity.to_string()),
            for_terminal(&issuer.to_string())
        ),
        _ => "an unknown kind of signer".to_owned(),
    }
}

/// Where a verified item was found, for people.
pub(crate) fn describe_source(source: &imprint::verify::proof::Source) -> String {
    use imprint::verify::proof::Source;
    match source {
        Source::LegacyLayer {
            manifest, index, ..
        } => format!("layer {index} of {manifest}"),
        Source::Bundle { referrer, .. } => format!("bundle referrer {referrer}"),
        Source::File { path } => path.clone(),
        _ => "an unknown place".to_owned(),
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,imprint=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Run one command.
pub(crate) fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::GenerateKeyPair(a) => keys::run_generate(a),
        Command::ImportKeyPair(a) => keys::run_import(a),
        Command::Sign(a) => block_on(image::sign(a))?,
        Command::Verify(a) => block_on(image::verify(a))?,
        Command::Attest(a) => block_on(image::attest(a))?,
        Command::VerifyAttestation(a) => block_on(image::verify_attestation(a))?,
        Command::SignBlob(a) => blob::run_sign_blob(&a),
        Command::VerifyBlob(a) => blob::run_verify_blob(&a),
        Command::AttestBlob(a) => blob::run_attest_blob(&a),
        Command::VerifyBlobAttestation(a) => blob::run_verify_blob_attestation(&a),
        Command::Policy(a) => policy::run(a),
        Command::VerifyBundle(a) => verify_bundle::run(a),
        Command::TrustRoot(a) => trust_root::run(a),
        Command::PublicKey(a) => public_key::run(&a),
        Command::Tree(a) => block_on(tree::run(a))?,
        Command::Download(a) => block_on(download::run(a))?,
        Command::Audit(a) => block_on(audit::run(a))?,
        Command::AuditLog(a) => audit_log::run(a),
        Command::Admission(a) => block_on(admission::run(a))?,
    }
}

/// Run a future on a multi-threaded runtime (the binary owns the runtime).
pub(crate) fn block_on<F: Future>(f: F) -> anyhow::Result<F::Output> {
    use anyhow::Context as _;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

/// Parse `k=v` pairs (cosign `-a`).
pub(crate) fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not of the form key=value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {0}")]
    struct Read(&'static str, #[source] std::io::Error);

    #[test]
    fn each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(Read("k.pub", io)).context("cannot load public key `k.pub`");
        assert_eq!(
            render_error(&e),
            "error: cannot load public key `k.pub`\n  Caused by: cannot read k.pub\n  Caused by: no such file\n"
        );
        // A context that already ends with its cause's text does not repeat it.
        let e = anyhow::anyhow!("no such file").context("reading k.pub: no such file");
        assert_eq!(render_error(&e), "error: reading k.pub: no such file\n");
    }

    /// Regression: two commands' flags collided (`public-key --output-file` and the global
    /// `--output-file`), which clap reports only by panicking when the command is parsed.
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    #[test]
    fn exit_status_comes_from_the_outcome() {
        assert_eq!(report(Ok(Outcome::Success)), ExitStatus::Success);
        assert_eq!(
            report(Ok(Outcome::Rejected(vec![
                "img: no signatures found".into()
            ]))),
            ExitStatus::Failure
        );
        assert_eq!(
            report(Err(anyhow::anyhow!("registry unreachable"))),
            ExitStatus::Error
        );
        assert!(matches!(
            Outcome::from_problems(Vec::new()),
            Outcome::Success
        ));
        assert!(matches!(
            Outcome::from_problems(vec!["x".into()]),
            Outcome::Rejected(p) if p == ["x"]
        ));
    }
}
