//! The `imprint` command line: flag parsing and printing only. Every command calls the
//! library; nothing here decides whether something verifies.
//!
//! Exit codes (as ripgrep/uv): 0 success, 1 verification failed / denied, 2 operational error
//! (bad flags, unreadable key, registry unreachable).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod blob;
pub mod image;
pub mod keys;
pub mod policy;
pub mod progress;
pub mod registry_opts;
pub mod trust_root;
pub mod verify_bundle;

/// Exit code for a verification failure or a denied image.
pub const EXIT_FAILED: u8 = 1;
/// Exit code for an operational error.
pub const EXIT_ERROR: u8 = 2;

/// Sign container images and verify them against trust policies (cosign-compatible).
#[derive(Debug, Parser)]
#[command(name = "imprint", version, about, long_about = None)]
pub struct Cli {
    /// More logging on stderr (repeat for more). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
}

/// Parse the command line and run. Used by `src/main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
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
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::GenerateKeyPair(a) => keys::run_generate(a).map(|()| ExitCode::SUCCESS),
        Command::ImportKeyPair(a) => keys::run_import(a).map(|()| ExitCode::SUCCESS),
        Command::Sign(a) => block_on(image::sign(a)),
        Command::Verify(a) => block_on(image::verify(a)),
        Command::Attest(a) => block_on(image::attest(a)),
        Command::VerifyAttestation(a) => block_on(image::verify_attestation(a)),
        Command::SignBlob(a) => blob::run_sign_blob(&a),
        Command::VerifyBlob(a) => blob::run_verify_blob(&a),
        Command::AttestBlob(a) => blob::run_attest_blob(&a),
        Command::VerifyBlobAttestation(a) => blob::run_verify_blob_attestation(&a),
        Command::Policy(a) => policy::run(a),
        Command::VerifyBundle(a) => verify_bundle::run(a),
        Command::TrustRoot(a) => trust_root::run(a),
    }
}

/// Run a future on a multi-threaded runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            // Without a runtime nothing can run; report as an operational error.
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(i32::from(EXIT_ERROR));
        }
    }
}

/// Parse `k=v` pairs (cosign `-a`).
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not of the form key=value")),
    }
}
