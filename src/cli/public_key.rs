//! `imprint public-key`: print the public key of a cosign encrypted private key (cosign
//! `public-key --key K`).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use super::Outcome;

/// `imprint public-key --key K [--outfile F]`.
#[derive(Debug, clap::Args)]
pub(crate) struct PublicKeyArgs {
    /// The private key (cosign encrypted PEM). Password from IMPRINT_PASSWORD, COSIGN_PASSWORD or a prompt.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: String,
    /// Write the PEM public key to this file (mode 0644, replaced if it exists) instead of
    /// stdout (cosign's `--outfile`; the global `--output-file` works too).
    #[arg(long, value_name = "FILE")]
    pub outfile: Option<PathBuf>,
}

/// Run `imprint public-key`: the PEM `PUBLIC KEY` on stdout, or in `--outfile` with a line
/// on stderr saying where.
pub(crate) fn run(args: &PublicKeyArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        !(args.outfile.is_some() && super::output::is_captured()),
        "--outfile and --output-file both name where the key goes: give one"
    );
    let key = super::image::load_signing_key(&imprint::keys::KeyRef::parse(&args.key)?)?;
    let pem = key.public_key().to_pem();
    match &args.outfile {
        Some(path) => {
            imprint::fs::write_atomic(path, pem.as_bytes(), 0o644, imprint::fs::Overwrite::Replace)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("Public key written to {}", path.display());
        }
        None => {
            let mut out = super::output::stdout();
            out.write_all(pem.as_bytes())
                .context("writing the public key to stdout")?;
        }
    }
    Ok(Outcome::Success)
}
