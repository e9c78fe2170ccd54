//! `imprint trust-root show [--trusted-root F | --staging | --cache DIR]`: print the trust
//! material in use (media type, Rekor and CT logs, Fulcio CAs and TSAs with their validity
//! windows, and where the root came from: the TUF cache with its mirror and update time, or the
//! embedded copy with its date).
//!
//! `imprint trust-root update [--mirror URL --root ROOT.json] [--cache DIR] [--offline]`:
//! refresh `trusted_root.json` (and the signing configuration when published) through TUF into
//! the cache that `verify` reads (`imprint::trust::tuf`).

use std::path::PathBuf;

use anyhow::Context as _;
use imprint::trust::{TrustRoot, tuf};

/// Arguments of `imprint trust-root`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Inspect or refresh (over TUF) the Sigstore trust root used for keyless verification"
)]
pub(crate) struct TrustRootArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TrustRootCommand,
}

/// `imprint trust-root` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TrustRootCommand {
    /// Show the logs, CAs and TSAs of a trusted root (default: the one `verify` uses, the TUF
    /// cache when `trust-root update` has filled it, else the embedded public-good root).
    Show {
        /// A `trusted_root.json` to show instead.
        #[arg(long, value_name = "FILE", conflicts_with = "cache")]
        trusted_root: Option<PathBuf>,
        /// Show the embedded Sigstore staging root.
        #[arg(long, conflicts_with_all = ["trusted_root", "cache"])]
        staging: bool,
        /// Show the root cached in this TUF cache directory (default: `$IMPRINT_TUF_CACHE`,
        /// else the public-good mirror's cache under `$XDG_CACHE_HOME/imprint/tuf/`).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
    /// Fetch trusted_root.json (and signing_config when published) through TUF into the cache.
    Update {
        /// TUF repository base URL (metadata at the base, targets under `targets/`); needs
        /// --root. Default: the Sigstore public-good repository with its shipped TUF root.
        #[arg(long, value_name = "URL", requires = "root")]
        mirror: Option<String>,
        /// The repository's `root.json`, obtained out of band: the root of trust.
        #[arg(long, value_name = "ROOT.json", requires = "mirror")]
        root: Option<PathBuf>,
        /// Cache directory (default: `$XDG_CACHE_HOME/imprint/tuf/<host>[_<port>]`).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// No network: re-verify the cached metadata and targets through TUF.
        #[arg(long)]
        offline: bool,
    },
}

/// Run `imprint trust-root`.
pub(crate) fn run(args: TrustRootArgs) -> anyhow::Result<super::Outcome> {
    use std::io::Write as _;
    match args.command {
        TrustRootCommand::Show {
            trusted_root,
            staging,
            cache,
        } => {
            let root = match (trusted_root, staging, cache) {
                (Some(p), _, _) => TrustRoot::from_file(&p).map(std::sync::Arc::new),
                (None, true, _) => TrustRoot::staging().map(std::sync::Arc::new),
                (None, false, Some(dir)) => match tuf::load_cached(&dir)? {
                    Some(r) => Ok(std::sync::Arc::new(r)),
                    None => anyhow::bail!(
                        "no trust root cached in {} (run `imprint trust-root update --cache {}`)",
                        dir.display(),
                        dir.display()
                    ),
                },
                (None, false, None) => tuf::default_root(),
            };
            let root = root.context("cannot load the trust root")?;
            write!(super::output::stdout(), "{}", root.summary())?;
            Ok(super::Outcome::Success)
        }
        TrustRootCommand::Update {
            mirror,
            root,
            cache,
            offline,
        } => {
            let mut source = match (mirror, root) {
                (Some(m), Some(r)) => tuf::TufSource::custom_from_file(&m, &r)?,
                _ => tuf::TufSource::public_good()?,
            };
            if let Some(dir) = cache {
                source = source.with_cache_dir(dir);
            }
            let now = std::time::SystemTime::now();
            let result = if offline {
                super::block_on(tuf::verify_offline(&source, now))?
            } else {
                super::block_on(tuf::update(&source, now))?
            };
            let u = result.with_context(|| {
                format!(
                    "trust root not updated (the cache {} keeps what it had)",
                    source.cache_dir().display()
                )
            })?;
            let mut out = super::output::stdout();
            writeln!(
                out,
                "{} trusted_root.json from {} into {} ({}; sha256 {})",
                if offline { "re-verified" } else { "updated" },
                u.state.mirror,
                u.cache_dir.display(),
                if u.changed { "changed" } else { "unchanged" },
                u.state.trusted_root_sha256,
            )?;
            writeln!(
                out,
                "signing config: {}",
                if u.signing_config {
                    "cached (imprint/signing_config.json)"
                } else {
                    "not published by this repository"
                }
            )?;
            Ok(super::Outcome::Success)
        }
    }
}

/// The stderr line every verification that uses a trust root prints: which one (the TUF
/// cache with its mirror and update time, the embedded copy, or a file).
pub(crate) fn say_which(root: &TrustRoot) {
    eprintln!("trust root: {}", root.origin());
}
