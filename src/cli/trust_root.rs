//! `imprint trust-root show [--trusted-root F] [--staging]`: print the trust material in use
//! (media type, Rekor and CT logs, Fulcio CAs and TSAs with their validity windows, and where the
//! root came from — for the embedded copy, its date).

use std::path::PathBuf;

use anyhow::Context as _;
use imprint::trust::TrustRoot;

/// Arguments of `imprint trust-root`.
#[derive(Debug, clap::Args)]
#[command(about = "Inspect the Sigstore trust root used for keyless verification")]
pub(crate) struct TrustRootArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TrustRootCommand,
}

/// `imprint trust-root` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TrustRootCommand {
    /// Show the logs, CAs and TSAs of a trusted root (default: the embedded public-good root).
    Show {
        /// A `trusted_root.json` to show instead of the embedded copy.
        #[arg(long, value_name = "FILE")]
        trusted_root: Option<PathBuf>,
        /// Show the embedded Sigstore staging root.
        #[arg(long, conflicts_with = "trusted_root")]
        staging: bool,
    },
}

/// Run `imprint trust-root`.
pub(crate) fn run(args: TrustRootArgs) -> anyhow::Result<super::Outcome> {
    match args.command {
        TrustRootCommand::Show {
            trusted_root,
            staging,
        } => {
            let root = match (trusted_root, staging) {
                (Some(p), _) => TrustRoot::from_file(&p),
                (None, true) => TrustRoot::staging(),
                (None, false) => TrustRoot::public_good(),
            };
            let root = root.context("cannot load the trust root")?;
            use std::io::Write as _;
            write!(super::output::stdout(), "{}", root.summary())?;
            Ok(super::Outcome::Success)
        }
    }
}
