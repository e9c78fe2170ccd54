//! `imprint verify --notation-trust-policy trustpolicy.json [--notation-trust-store DIR]`:
//! Notation signatures under Notation's own trust policy and trust-store layout.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Outcome;
use super::registry_opts::RegistryOpts;
use imprint::format::reference::ImageRef;
use imprint::format::text::for_terminal;
use imprint::notation::{StoreSource, TrustPolicyDocument, VerifyOptions, verify_image};
use imprint::store::Client;

/// Notation's default trust store: `$XDG_CONFIG_HOME/notation/truststore`, else
/// `~/.config/notation/truststore`.
fn default_store() -> anyhow::Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("notation/truststore"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither XDG_CONFIG_HOME nor HOME is set: pass --notation-trust-store")?;
    Ok(PathBuf::from(home).join(".config/notation/truststore"))
}

/// Verify each image; exit 1 when any has no signature that verifies.
pub(crate) async fn verify(
    policy: &Path,
    store: Option<&Path>,
    registry: &RegistryOpts,
    images: &[String],
) -> anyhow::Result<Outcome> {
    let bytes = std::fs::read(policy)
        .with_context(|| format!("cannot read trust policy `{}`", policy.display()))?;
    let doc = TrustPolicyDocument::from_json(&bytes)
        .map_err(|e| anyhow::anyhow!("invalid trust policy `{}`: {e}", policy.display()))?;
    let store = match store {
        Some(s) => s.to_owned(),
        None => default_store()?,
    };
    let refs = images
        .iter()
        .map(|s| ImageRef::parse(s).with_context(|| format!("invalid image reference `{s}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client = Client::new(registry.to_config())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let opts = VerifyOptions {
        at: now,
        ..VerifyOptions::default()
    };
    let mut problems = Vec::new();
    for r in &refs {
        let v = verify_image(&client, r, &doc, StoreSource::Dir(&store), &opts).await;
        match &v.outcome {
            Ok(ok) => {
                for l in ok.logged() {
                    eprintln!(
                        "warning: {}: {} validation failed, logged by policy: {}",
                        for_terminal(&v.reference),
                        l.check.as_str(),
                        for_terminal(&l.reason)
                    );
                }
                println!(
                    "{}: verified a Notation signature by {:?} (trust policy statement {:?})",
                    for_terminal(&v.reference),
                    for_terminal(ok.signer()),
                    for_terminal(ok.statement())
                );
            }
            Err(imprint::notation::NotationError::Skipped(name)) => {
                println!(
                    "{}: signature verification skipped by trust policy statement {:?}",
                    for_terminal(&v.reference),
                    for_terminal(name)
                );
            }
            Err(e) => problems.push(format!(
                "{}: {} ({} Notation signature(s) found)",
                v.reference, e, v.signatures
            )),
        }
    }
    Ok(Outcome::from_problems(problems))
}
