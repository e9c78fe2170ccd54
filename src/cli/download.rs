//! `imprint download signature|attestation|sbom IMAGE`: print what is attached, as cosign
//! `download` prints it, without a key and without verifying anything.

use std::io::Write as _;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use super::Outcome;
use super::registry_opts::RegistryOpts;
use super::tree::{INSPECTION_NOTE, resolve};
use imprint::format::statement::COSIGN_SIGN_PREDICATE;
use imprint::format::text::for_terminal;
use imprint::store::attach::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, SIGNATURE_ANNOTATION,
    TIMESTAMP_ANNOTATION,
};
use imprint::store::discover::{self, Candidate, Discovered, SignatureFormat};
use imprint::store::{Client, Limits};

/// `imprint download`.
#[derive(Debug, clap::Args)]
pub(crate) struct DownloadArgs {
    /// What to download.
    #[command(subcommand)]
    pub what: DownloadCommand,
}

/// What `download` prints.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DownloadCommand {
    /// Print the signatures of an image as JSON lines: one object per legacy `.sig` layer
    /// ({"Base64Signature","Payload" (base64),"Cert","Chain","Bundle","RFC3161Timestamp"}, as
    /// cosign), then one Sigstore bundle per signature bundle referrer. Nothing is verified.
    #[command(after_help = DOWNLOAD_HELP)]
    Signature(DownloadImageArgs),
    /// Print the attestations of an image as JSON lines: one DSSE envelope per legacy `.att`
    /// layer and per attestation bundle referrer (its `dsseEnvelope`). Nothing is verified.
    #[command(after_help = DOWNLOAD_HELP)]
    Attestation(DownloadAttestationArgs),
    /// Print the SBOM attached with `cosign attach sbom` (the `.sbom` tag's content, as is);
    /// without one, the SBOM predicates (SPDX, CycloneDX) of the image's attestations, one JSON
    /// per line, with a note on stderr. Nothing is verified.
    #[command(after_help = DOWNLOAD_HELP)]
    Sbom(DownloadImageArgs),
}

const DOWNLOAD_HELP: &str = "Needs no key: this is inspection, not verification (a line on stderr says so); \
verify with `imprint verify` / `verify-attestation`. Exit status: 0 printed, 1 nothing of that kind is attached, \
2 the image cannot be resolved or what is attached cannot be read.";

/// `imprint download signature|sbom IMAGE`.
#[derive(Debug, clap::Args)]
pub(crate) struct DownloadImageArgs {
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image.
    pub image: String,
}

/// `imprint download attestation [--predicate-type T] IMAGE`.
#[derive(Debug, clap::Args)]
pub(crate) struct DownloadAttestationArgs {
    /// Only attestations of this predicate type (a cosign shortcut or a URI), as the statement
    /// inside the envelope declares it (unverified).
    #[arg(long)]
    pub predicate_type: Option<String>,
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image.
    pub image: String,
}

/// Run `imprint download …`.
pub(crate) async fn run(args: DownloadArgs) -> anyhow::Result<Outcome> {
    eprintln!("{INSPECTION_NOTE}");
    match args.what {
        DownloadCommand::Signature(a) => signatures(a).await,
        DownloadCommand::Attestation(a) => attestations(a).await,
        DownloadCommand::Sbom(a) => sboms(a).await,
    }
}

/// cosign's `SignedPayload`, as `cosign download signature` writes it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SignedPayload {
    base64_signature: String,
    /// base64 of the simple-signing payload (Go's `[]byte` in JSON).
    payload: String,
    /// The certificate PEM (cosign writes Go's parsed `x509.Certificate` here).
    cert: Option<String>,
    /// The chain PEM.
    chain: Option<String>,
    /// The Rekor bundle annotation, parsed.
    bundle: Option<serde_json::Value>,
    /// The RFC 3161 timestamp annotation, parsed.
    #[serde(rename = "RFC3161Timestamp")]
    rfc3161_timestamp: Option<serde_json::Value>,
}

/// What a bundle referrer holds, read without verifying it.
enum BundleKind {
    /// A cosign image signature (DSSE with the cosign sign predicate, or a message signature).
    Signature,
    /// An attestation: its `dsseEnvelope` and the statement's predicate type.
    Attestation(serde_json::Value, Option<String>),
}

fn classify_bundle(bytes: &[u8]) -> Option<BundleKind> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if v.get("messageSignature").is_some() {
        return Some(BundleKind::Signature);
    }
    let env = v.get("dsseEnvelope")?.clone();
    let predicate = envelope_predicate_type(&env);
    if predicate.as_deref() == Some(COSIGN_SIGN_PREDICATE) {
        Some(BundleKind::Signature)
    } else {
        Some(BundleKind::Attestation(env, predicate))
    }
}

/// The `predicateType` of the statement in a DSSE envelope (unverified).
fn envelope_predicate_type(env: &serde_json::Value) -> Option<String> {
    statement_of(env)?
        .get("predicateType")?
        .as_str()
        .map(str::to_owned)
}

fn statement_of(env: &serde_json::Value) -> Option<serde_json::Value> {
    let payload = B64.decode(env.get("payload")?.as_str()?).ok()?;
    serde_json::from_slice(&payload).ok()
}

/// Resolve and discover everything attached (signatures and attestations, both formats).
async fn discover_all(
    registry: &RegistryOpts,
    image: &str,
) -> anyhow::Result<(String, Discovered)> {
    let client = Client::new(registry.to_config())?;
    let resolved = resolve(&client, image).await?;
    let limits = Limits::default();
    let found = discover::discover(
        &resolved.repository,
        &resolved.manifest.digest,
        SignatureFormat::Any,
        true,
        true,
        &limits,
    )
    .await;
    Ok((resolved.reference.to_string(), found))
}

/// The content of a candidate, or a warning on stderr and `None` when it could not be fetched.
fn fetched(c: &Candidate) -> Option<&[u8]> {
    match &c.content {
        Ok(b) => Some(b.as_slice()),
        Err(why) => {
            eprintln!(
                "warning: {} could not be fetched: {}",
                super::describe_source(&c.source),
                for_terminal(why)
            );
            None
        }
    }
}

/// One JSON document on one line: the bytes as they are when they already are one line of
/// JSON, else re-serialized compactly.
fn json_line(bytes: &[u8]) -> Vec<u8> {
    let trimmed = bytes.trim_ascii();
    if !trimmed.contains(&b'\n') && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok()
    {
        return trimmed.to_vec();
    }
    match serde_json::from_slice::<serde_json::Value>(trimmed) {
        Ok(v) => v.to_string().into_bytes(),
        Err(_) => trimmed.to_vec(),
    }
}

/// Sources that could not be read: a warning each, then an operational error (exit 2) after
/// what could be read was printed.
fn finish(found: &Discovered, printed: usize, what: &str, image: &str) -> anyhow::Result<Outcome> {
    if let Some(first) = found.unreadable.first() {
        for u in &found.unreadable {
            eprintln!("warning: could not read {}", for_terminal(&u.to_string()));
        }
        anyhow::bail!("what is attached to `{image}` could not all be read: {first}");
    }
    if printed == 0 {
        return Ok(Outcome::Rejected(vec![format!(
            "{}: no {what} attached",
            for_terminal(image)
        )]));
    }
    Ok(Outcome::Success)
}

async fn signatures(args: DownloadImageArgs) -> anyhow::Result<Outcome> {
    let (pinned, found) = discover_all(&args.registry, &args.image).await?;
    let mut out = super::output::stdout();
    let mut printed = 0;
    for c in &found.signatures {
        let Some(payload) = fetched(c) else { continue };
        let ann = c.descriptor.annotations.clone().unwrap_or_default();
        let parsed = |k: &str| {
            ann.get(k)
                .map(|s| serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.clone())))
        };
        let line = SignedPayload {
            base64_signature: ann.get(SIGNATURE_ANNOTATION).cloned().unwrap_or_default(),
            payload: B64.encode(payload),
            cert: ann.get(CERTIFICATE_ANNOTATION).cloned(),
            chain: ann.get(CHAIN_ANNOTATION).cloned(),
            bundle: parsed(BUNDLE_ANNOTATION),
            rfc3161_timestamp: parsed(TIMESTAMP_ANNOTATION),
        };
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
        printed += 1;
    }
    for c in &found.bundles {
        let Some(bytes) = fetched(c) else { continue };
        if let Some(BundleKind::Signature) = classify_bundle(bytes) {
            out.write_all(&json_line(bytes))?;
            writeln!(out)?;
            printed += 1;
        }
    }
    finish(&found, printed, "signatures", &pinned)
}

async fn attestations(args: DownloadAttestationArgs) -> anyhow::Result<Outcome> {
    let want = args
        .predicate_type
        .as_deref()
        .map(imprint::format::predicate_type_uri)
        .transpose()?;
    let (pinned, found) = discover_all(&args.registry, &args.image).await?;
    let wanted = |t: Option<&str>| want.is_none() || want.as_deref() == t;
    let mut out = super::output::stdout();
    let mut printed = 0;
    for c in &found.attestations {
        let Some(bytes) = fetched(c) else { continue };
        let predicate = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|env| envelope_predicate_type(&env));
        if wanted(predicate.as_deref()) {
            out.write_all(&json_line(bytes))?;
            writeln!(out)?;
            printed += 1;
        }
    }
    for c in &found.bundles {
        let Some(bytes) = fetched(c) else { continue };
        if let Some(BundleKind::Attestation(env, predicate)) = classify_bundle(bytes)
            && wanted(predicate.as_deref())
        {
            writeln!(out, "{env}")?;
            printed += 1;
        }
    }
    let what = match &want {
        Some(t) => format!("attestations of type `{}`", for_terminal(t)),
        None => "attestations".to_owned(),
    };
    finish(&found, printed, &what, &pinned)
}

/// Predicate types whose predicate is an SBOM.
fn is_sbom_type(t: &str) -> bool {
    use imprint::format::predicate::{CYCLONEDX, SPDX};
    t == SPDX
        || t == CYCLONEDX
        || t.starts_with("https://spdx.dev/")
        || t.starts_with("https://cyclonedx.org/")
}

async fn sboms(args: DownloadImageArgs) -> anyhow::Result<Outcome> {
    let client = Client::new(args.registry.to_config())?;
    let resolved = resolve(&client, &args.image).await?;
    let pinned = resolved.reference.to_string();
    let limits = Limits::default();
    let legacy = discover::legacy_sboms(&resolved.repository, &resolved.manifest.digest, &limits)
        .await
        .with_context(|| format!("reading the .sbom attachment of `{pinned}`"))?;
    let mut out = super::output::stdout();
    if !legacy.is_empty() {
        for (descriptor, bytes) in &legacy {
            eprintln!(
                "Found SBOM of media type: {}",
                for_terminal(&descriptor.media_type)
            );
            out.write_all(bytes)?;
            if !bytes.ends_with(b"\n") {
                writeln!(out)?;
            }
        }
        return Ok(Outcome::Success);
    }
    let found = discover::discover(
        &resolved.repository,
        &resolved.manifest.digest,
        SignatureFormat::Any,
        false,
        true,
        &limits,
    )
    .await;
    let mut predicates = Vec::new();
    let mut envelope = |env: &serde_json::Value| {
        if let Some(st) = statement_of(env)
            && st
                .get("predicateType")
                .and_then(|t| t.as_str())
                .is_some_and(is_sbom_type)
            && let Some(p) = st.get("predicate")
        {
            predicates.push(p.to_string());
        }
    };
    for c in &found.attestations {
        if let Some(bytes) = fetched(c)
            && let Ok(env) = serde_json::from_slice::<serde_json::Value>(bytes)
        {
            envelope(&env);
        }
    }
    for c in &found.bundles {
        if let Some(bytes) = fetched(c)
            && let Some(BundleKind::Attestation(env, _)) = classify_bundle(bytes)
        {
            envelope(&env);
        }
    }
    if !predicates.is_empty() {
        eprintln!(
            "note: no .sbom attachment; printing the SBOM predicate of {} attestation(s), NOT verified \
             (verify with `imprint verify-attestation --type spdxjson|cyclonedx --key K {}`)",
            predicates.len(),
            for_terminal(&args.image)
        );
    }
    let mut out = super::output::stdout();
    for p in &predicates {
        writeln!(out, "{p}")?;
    }
    finish(&found, predicates.len(), "SBOM", &pinned)
}
