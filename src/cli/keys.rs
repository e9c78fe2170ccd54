//! `imprint generate-key-pair` and `imprint import-key-pair`: flags and output only; the work
//! is in [`imprint::keys`].

use std::path::PathBuf;

use super::Outcome;
use anyhow::Context as _;
use imprint::keys::{generate_key_pair, import_key_pair, password_from_env_or_prompt};

/// Flags of `imprint generate-key-pair`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Generate an ECDSA P-256 key pair in cosign's format (PREFIX.key, PREFIX.pub)",
    long_about = "Generate an ECDSA P-256 key pair in cosign's format.\n\n\
        PREFIX.key is the private key, encrypted with a password (scrypt + nacl/secretbox, \
        PEM `ENCRYPTED SIGSTORE PRIVATE KEY`), mode 0600. PREFIX.pub is the PEM public key, \
        mode 0644. Both are written atomically; existing files are kept unless --force.\n\n\
        The password comes from IMPRINT_PASSWORD, then COSIGN_PASSWORD (an empty value means \
        an empty password), then a prompt on the terminal (asked twice)."
)]
pub(crate) struct GenerateKeyPairArgs {
    /// Write the key pair to PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    pub output_key_prefix: PathBuf,
    /// Replace PREFIX.key and PREFIX.pub if they exist.
    #[arg(long)]
    pub force: bool,
}

/// Flags of `imprint import-key-pair`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Convert an unencrypted PEM private key into a cosign key pair (PREFIX.key, PREFIX.pub)",
    long_about = "Convert an unencrypted PEM private key into a cosign key pair.\n\n\
        Accepted input: `PRIVATE KEY` (PKCS#8: ECDSA P-256/P-384/P-521, Ed25519, RSA), \
        `RSA PRIVATE KEY` (PKCS#1) and `EC PRIVATE KEY` (SEC1). RSA keys must be 2048 to 8192 \
        bits. The key is re-encoded as PKCS#8 and encrypted like generate-key-pair does; the \
        password comes from IMPRINT_PASSWORD, COSIGN_PASSWORD or a prompt."
)]
pub(crate) struct ImportKeyPairArgs {
    /// The unencrypted PEM private key to import.
    #[arg(short = 'k', long, value_name = "FILE")]
    pub key: PathBuf,
    /// Write the key pair to PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "import-cosign")]
    pub output_key_prefix: PathBuf,
    /// Replace PREFIX.key and PREFIX.pub if they exist.
    #[arg(long)]
    pub force: bool,
}

/// Run `imprint generate-key-pair`.
pub(crate) fn run_generate(args: GenerateKeyPairArgs) -> anyhow::Result<Outcome> {
    let password = password_from_env_or_prompt(true)?;
    let (key_path, pub_path) = generate_key_pair(&args.output_key_prefix, &password, args.force)
        .context("cannot generate the key pair")?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(Outcome::Success)
}

/// Run `imprint import-key-pair`.
pub(crate) fn run_import(args: ImportKeyPairArgs) -> anyhow::Result<Outcome> {
    let password = password_from_env_or_prompt(true)?;
    let (key_path, pub_path) =
        import_key_pair(&args.key, &args.output_key_prefix, &password, args.force)
            .context("cannot import the key pair")?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(Outcome::Success)
}
