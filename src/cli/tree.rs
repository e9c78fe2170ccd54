//! `imprint tree IMAGE`: list what is attached to an image (cosign `tree`), without a key and
//! without verifying anything. The listing is the library's
//! [`imprint::store::discover::list_attachments`].

use std::io::Write as _;

use anyhow::Context as _;
use clap::ValueEnum;

use super::Outcome;
use super::registry_opts::RegistryOpts;
use imprint::format::reference::ImageRef;
use imprint::format::text::for_terminal;
use imprint::store::discover::{AttachmentKind, Attachments, ListedAttachment, list_attachments};
use imprint::store::{Client, Limits, Repository as _};

/// The stderr line every inspection command prints.
pub(crate) const INSPECTION_NOTE: &str = "note: inspection only: nothing shown here was verified (use verify / verify-attestation with a key or identity)";

/// How `tree` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum TreeOutput {
    /// cosign's tree, with each layer's media type and size.
    #[default]
    Text,
    /// One JSON object: the image, its digest, the legacy attachments and the referrers.
    Json,
}

/// `imprint tree IMAGE`.
#[derive(Debug, clap::Args)]
#[command(
    about = "List what is attached to an image: legacy .sig/.att/.sbom tags and OCI referrers (nothing is verified)",
    after_help = "Needs no key: this is inspection, not verification (a line on stderr says so). \
Referrers are read from the referrers API, else the sha256-<hex> tag-schema index. \
Exit status: 0 listed (even when nothing is attached), 2 the image cannot be resolved or a source cannot be read \
(what could be read is still printed)."
)]
pub(crate) struct TreeArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: TreeOutput,
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image (`registry/repo:tag`, `repo@sha256:...`, `oci:PATH[:TAG]`).
    pub image: String,
}

/// Resolve `image` for an inspection command: not found and unresolvable are operational
/// errors (exit 2).
pub(crate) async fn resolve(
    client: &Client,
    image: &str,
) -> anyhow::Result<imprint::store::ResolvedImage> {
    let parsed =
        ImageRef::parse(image).with_context(|| format!("invalid image reference `{image}`"))?;
    client
        .resolve(&parsed)
        .await
        .with_context(|| format!("resolving `{image}`"))
}

/// Run `imprint tree`.
pub(crate) async fn run(args: TreeArgs) -> anyhow::Result<Outcome> {
    eprintln!("{INSPECTION_NOTE}");
    let client = Client::new(args.registry.to_config())?;
    let resolved = resolve(&client, &args.image).await?;
    let limits = Limits::default();
    let listed = list_attachments(&resolved.repository, &resolved.manifest.digest, &limits).await;
    let repo = resolved.repository.name().to_owned();
    let mut out = super::output::stdout();
    match args.output {
        TreeOutput::Json => {
            let v = serde_json::json!({
                "image": resolved.reference.to_string(),
                "repository": repo,
                "digest": listed.subject,
                "legacy": listed.legacy,
                "referrersVia": listed.referrers_via,
                "referrers": listed.referrers,
                "unreadable": listed.unreadable.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
            writeln!(out, "{v}")?;
        }
        TreeOutput::Text => out.write_all(render(&args.image, &repo, &listed).as_bytes())?,
    }
    if let Some(first) = listed.unreadable.first() {
        for u in &listed.unreadable {
            eprintln!("warning: could not read {}", for_terminal(&u.to_string()));
        }
        anyhow::bail!("the listing of `{}` is incomplete: {}", args.image, first);
    }
    Ok(Outcome::Success)
}

/// The text tree, as cosign draws it, with media types and sizes.
fn render(image: &str, repo: &str, listed: &Attachments) -> String {
    let mut s = format!(
        "📦 Supply Chain Security Related artifacts for an image: {}\n",
        for_terminal(image)
    );
    if listed.legacy.is_empty() && listed.referrers.is_empty() {
        s.push_str(&format!(
            "No Supply Chain Security Related Artifacts found for image {} ({})\n",
            for_terminal(image),
            listed.subject
        ));
        return s;
    }
    let repo = for_terminal(repo);
    for a in &listed.legacy {
        let tag = a.tag.as_deref().map(for_terminal).unwrap_or_default();
        let title = match a.kind {
            AttachmentKind::Signatures => "🔐 Signatures",
            AttachmentKind::Attestations => "💾 Attestations",
            AttachmentKind::Sboms => "📦 SBOMs",
            _ => "🔗 Attachments",
        };
        s.push_str(&format!(
            "└── {title} for an image tag: {repo}:{tag} ({})\n",
            a.digest
        ));
        layers(&mut s, a);
    }
    for a in &listed.referrers {
        let artifact = a
            .artifact_type
            .as_deref()
            .map(for_terminal)
            .unwrap_or_else(|| "(no artifact type)".into());
        let predicate = a
            .predicate_type
            .as_deref()
            .map(|p| format!(" (predicate type {})", for_terminal(p)))
            .unwrap_or_default();
        s.push_str(&format!(
            "└── 🔗 {artifact} artifacts via OCI referrer: {repo}@{}{predicate}\n",
            a.digest
        ));
        if let Some(e) = &a.error {
            s.push_str(&format!("   └── ⚠ unreadable: {}\n", for_terminal(e)));
        }
        layers(&mut s, a);
    }
    s
}

fn layers(s: &mut String, a: &ListedAttachment) {
    for (i, l) in a.layers.iter().enumerate() {
        let sym = if i + 1 == a.layers.len() {
            "   └──"
        } else {
            "   ├──"
        };
        s.push_str(&format!(
            "{sym} 🍒 {} ({}, {} bytes)\n",
            l.digest,
            for_terminal(&l.media_type),
            l.size
        ));
    }
}
