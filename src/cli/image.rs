//! `sign`, `verify`, `attest`, `verify-attestation` over images.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::registry_opts::RegistryOpts;
use super::unsupported::{
    IgnoreTlog, RegistryAuthFlags, SignOutputFlags, SigningCompat, VerifyFlags, VerifyImageFlags,
};
use super::verify_bundle::IdentityOpts;
use super::{Outcome, describe_source, parse_key_value};
use imprint::format::reference::ImageRef;
use imprint::format::text::{for_terminal, lines_for_terminal};
use imprint::gate::image::{ImageReport, Wanted, check_image};
use imprint::keys::{self, KeyRef, PublicKey};
use imprint::sign::{self, AttestOptions, SignOptions, WriteFormat};
use imprint::store::Client;
use imprint::store::discover::SignatureFormat;
use imprint::trust::TrustRoot;
use imprint::verify::proof::Source;
use imprint::verify::{self, SignatureVerifier};

/// Output format for verification results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Output {
    /// cosign's JSON on stdout: `verify` prints one JSON array of the signed payloads (simple
    /// signing, or a bundle's in-toto statement); `verify-attestation` one DSSE envelope per line.
    #[default]
    Json,
    /// `verify`: each signed payload as text, one per line; `verify-attestation`: each
    /// verified in-toto statement, one per line.
    Text,
}

/// Signature formats to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FormatArg {
    /// Legacy `.sig`/`.att` tags.
    Legacy,
    /// Sigstore bundles attached as OCI referrers.
    Bundle,
    /// Both.
    #[default]
    Any,
}

impl From<FormatArg> for SignatureFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Legacy => Self::Legacy,
            FormatArg::Bundle => Self::Bundle,
            FormatArg::Any => Self::Any,
        }
    }
}

/// The default of `--new-bundle-format` for `sign` and `attest` (cosign v3: bundles).
pub(crate) const NEW_BUNDLE_FORMAT_DEFAULT: bool = true;

fn write_format(new_bundle_format: bool) -> WriteFormat {
    if new_bundle_format {
        WriteFormat::Bundle
    } else {
        WriteFormat::Legacy
    }
}

/// `imprint sign`.
#[derive(Debug, Args)]
#[command(
    after_help = "With --key, no transparency-log upload is done unless --tlog-upload is given (imprint's default is \
cosign's --tlog-upload=false); with it, the Rekor entry (--rekor-url) is written into the bundle referrer or the legacy \
layer's dev.sigstore.cosign/bundle annotation, and `verify --key K --trusted-root F` requires and checks it. Keyless \
signing always logs to Rekor."
)]
pub(crate) struct SignArgs {
    /// The private key: a cosign encrypted PEM file, or `env://VAR` (the PEM in variable VAR).
    /// Password from IMPRINT_PASSWORD, COSIGN_PASSWORD or a prompt. KMS URIs are refused.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: Option<String>,
    /// Annotation `key=value` signed into the payload (repeatable).
    #[arg(short = 'a', long = "annotations", value_parser = parse_key_value)]
    pub annotations: Vec<(String, String)>,
    /// Sign every manifest of an image index as well as the index.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// The `critical.identity.docker-reference` a legacy signature names (cosign's flag;
    /// comma-separated or repeated: one signature per identity), e.g. the `registry/repo:tag`
    /// the image is pulled by, which containers/image policies match. Default: the image's
    /// repository; for `oci:PATH`, the layout entry's `org.opencontainers.image.ref.name`
    /// when it is a full reference (else imprint refuses: it never signs a file path).
    /// Needs `--new-bundle-format=false` (bundles sign no identity)
    #[arg(
        long = "sign-container-identity",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub sign_container_identity: Vec<String>,
    /// Sign this payload file instead of generating the simple-signing payload (cosign's
    /// deprecated `--payload`). Needs `--new-bundle-format=false`
    #[arg(long, value_name = "FILE", conflicts_with_all = ["annotations", "sign_container_identity"])]
    pub payload: Option<PathBuf>,
    /// Write the base64 signature to FILE (one image, no --recursive)
    #[arg(long, value_name = "FILE", conflicts_with = "recursive")]
    pub output_signature: Option<PathBuf>,
    /// Push the signature (default). `--upload=false` signs and writes only --output-signature
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value_t = true, action = clap::ArgAction::Set)]
    pub upload: bool,
    /// Write a Sigstore bundle attached as an OCI 1.1 referrer (cosign v3's default);
    /// `--new-bundle-format=false` appends a legacy `.sig` layer (cosign v2).
    #[arg(long, value_name = "BOOL", default_value_t = NEW_BUNDLE_FORMAT_DEFAULT, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub new_bundle_format: bool,
    /// cosign's signing switches (`--tlog-upload=false`, `-y`) and refused keyless flags.
    #[command(flatten)]
    pub cosign: SigningCompat,
    /// cosign's local-output flags, refused by name.
    #[command(flatten)]
    pub outputs: SignOutputFlags,
    /// cosign's registry credential flags, refused by name.
    #[command(flatten)]
    pub registry_auth: RegistryAuthFlags,
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// Images to sign (`registry/repo:tag`, `repo@sha256:...`, `oci:PATH[:TAG]`).
    #[arg(required = true)]
    pub images: Vec<String>,
}

const KEYLESS_HELP: &str = "Verify with --key, or keyless with --certificate-identity[-regexp] and \
--certificate-oidc-issuer[-regexp] (plus optional --certificate-github-workflow-* claims) against \
--trusted-root (default: the embedded Sigstore public-good root); keyless without identity \
constraints is refused. Regexes match the whole value (anchored ^(?:R)$), stricter than cosign. \
Legacy `.sig`/`.att` layers and Sigstore bundles attached as OCI referrers are both read \
(--signature-format limits it). With --key alone, key signatures need no transparency-log entry \
(imprint signs without one unless --tlog-upload); with --key and --trusted-root, every signature \
needs a Rekor entry that verifies against that root (--insecure-ignore-tlog: not required); \
keyless ones always need the Rekor proof. Several images are verified \
concurrently (--max-workers at a time, 10 by default), reported in the order given. Exit status: 0 every image verified, \
1 an image has no signature (attestation) that verifies, 2 an image does not exist or cannot be \
resolved or read (a typo is not an unsigned image; cosign exits 1 for both), or bad flags / key. \
With --policy the decision decides: an image that cannot be found is denied (registry-error, exit 1).";

/// `imprint verify`.
#[derive(Debug, Args)]
#[command(after_help = KEYLESS_HELP)]
pub(crate) struct VerifyArgs {
    /// Decide each image against this trust policy (YAML; see policies/README.md) instead of
    /// a single key or identity. Prints a table (or the typed decisions with `-o json`); exit
    /// 1 when any image is denied.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "trusted_root", "annotations", "signature_format"])]
    pub policy: Option<PathBuf>,
    /// Public key (PEM SPKI, or an X.509 certificate PEM whose key is used): a file or
    /// `env://VAR`.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: Option<String>,
    /// Keyless identity constraints.
    #[command(flatten)]
    pub identity: IdentityOpts,
    /// Trust material (`trusted_root.json`) for keyless verification; default: the embedded
    /// public-good root. With --key: every signature must carry a transparency-log entry
    /// (sign --key K --tlog-upload) that verifies against this root's Rekor keys, unless
    /// --insecure-ignore-tlog.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Require this annotation in the signed payload (repeatable).
    #[arg(short = 'a', long = "annotations", value_parser = parse_key_value)]
    pub annotations: Vec<(String, String)>,
    /// Output format: `json` (default; with `--policy`, the typed decisions) or `text`
    /// (with `--policy`, a table).
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
    /// Which signature formats to look for.
    #[arg(long, value_enum, default_value_t)]
    pub signature_format: FormatArg,
    /// `--insecure-ignore-tlog[=BOOL]`.
    #[command(flatten)]
    pub ignore_tlog: IgnoreTlog,
    /// cosign's verification flags imprint refuses by name.
    #[command(flatten)]
    pub unsupported: VerifyFlags,
    /// cosign's detached-signature flags, refused by name.
    #[command(flatten)]
    pub unsupported_image: VerifyImageFlags,
    /// cosign's registry credential flags, refused by name.
    #[command(flatten)]
    pub registry_auth: RegistryAuthFlags,
    /// Verify Notation (Notary Project) signatures under Notation's own trust policy
    /// (`trustpolicy.json`) instead of cosign signatures.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["policy", "key", "trusted_root", "annotations"])]
    pub notation_trust_policy: Option<PathBuf>,
    /// Notation trust-store directory (`x509/{ca,signingAuthority,tsa}/<name>/`); default
    /// `$XDG_CONFIG_HOME/notation/truststore`.
    #[arg(long, value_name = "DIR", requires = "notation_trust_policy")]
    pub notation_trust_store: Option<PathBuf>,
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// Decision log of `--policy` decisions (`--audit-log DIR --audit-log-key FILE`).
    #[command(flatten)]
    pub audit_log: super::audit_log::AuditLogOpts,
    /// Images to verify.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `imprint attest`.
#[derive(Debug, Args)]
pub(crate) struct AttestArgs {
    /// The private key: a cosign encrypted PEM file or `env://VAR`.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: Option<String>,
    /// The predicate file (JSON; an SBOM, provenance, vuln report, ...).
    #[arg(long)]
    pub predicate: PathBuf,
    /// Predicate type: a cosign shortcut (slsaprovenance, slsaprovenance02, slsaprovenance1, link,
    /// spdx, spdxjson, cyclonedx, vuln, openvex, custom) or a URI.
    #[arg(long = "type", default_value = "custom")]
    pub predicate_type: String,
    /// Replace earlier attestations of the same predicate type.
    #[arg(long)]
    pub replace: bool,
    /// Attest every manifest of an index as well.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Write a Sigstore bundle attached as an OCI 1.1 referrer (cosign v3's default);
    /// `--new-bundle-format=false` appends a legacy `.att` layer (cosign v2).
    #[arg(long, value_name = "BOOL", default_value_t = NEW_BUNDLE_FORMAT_DEFAULT, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub new_bundle_format: bool,
    /// Largest predicate accepted, in bytes (cosign's limit by default).
    #[arg(long, default_value_t = 128 * 1024 * 1024)]
    pub max_predicate_bytes: u64,
    /// cosign's signing switches (`--tlog-upload=false`, `-y`) and refused keyless flags.
    #[command(flatten)]
    pub cosign: SigningCompat,
    /// cosign's registry credential flags, refused by name.
    #[command(flatten)]
    pub registry_auth: RegistryAuthFlags,
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// Images to attest.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `imprint verify-attestation`.
#[derive(Debug, Args)]
#[command(after_help = KEYLESS_HELP)]
pub(crate) struct VerifyAttestationArgs {
    /// Public key (PEM SPKI or certificate): a file or `env://VAR`.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: Option<String>,
    /// Keyless identity constraints.
    #[command(flatten)]
    pub identity: IdentityOpts,
    /// Trust material (`trusted_root.json`) for keyless verification; default: the embedded
    /// public-good root. With --key: every signature must carry a transparency-log entry
    /// (sign --key K --tlog-upload) that verifies against this root's Rekor keys, unless
    /// --insecure-ignore-tlog.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Only accept this predicate type (shortcut or URI). Unlike cosign, no type means any type.
    #[arg(long = "type")]
    pub predicate_type: Option<String>,
    /// Output format: `json` (default), one DSSE envelope per line (JSON lines, as cosign), or
    /// `text`, one in-toto statement per line.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
    /// Which signature formats to look for.
    #[arg(long, value_enum, default_value_t)]
    pub signature_format: FormatArg,
    /// `--insecure-ignore-tlog[=BOOL]`.
    #[command(flatten)]
    pub ignore_tlog: IgnoreTlog,
    /// cosign's verification flags imprint refuses by name.
    #[command(flatten)]
    pub unsupported: VerifyFlags,
    /// cosign's detached-signature flags, refused by name.
    #[command(flatten)]
    pub unsupported_image: VerifyImageFlags,
    /// cosign's registry credential flags, refused by name.
    #[command(flatten)]
    pub registry_auth: RegistryAuthFlags,
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// Images to verify.
    #[arg(required = true)]
    pub images: Vec<String>,
}

fn parse_images(images: &[String]) -> anyhow::Result<Vec<ImageRef>> {
    images
        .iter()
        .map(|s| ImageRef::parse(s).with_context(|| format!("invalid image reference `{s}`")))
        .collect()
}

/// Load a private key for signing: warns when the file is accessible by others, then asks
/// for its password (`COSIGN_PASSWORD` or a prompt).
pub(super) fn load_signing_key(key: &KeyRef) -> anyhow::Result<keys::SigningKey> {
    if let Some(w) = key.path().and_then(keys::private_key_file_warning) {
        eprintln!("warning: {}", for_terminal(&w));
    }
    let password = if key.needs_password() {
        keys::password::password_from_env_or_prompt(false)?
    } else {
        keys::Password::new(Vec::new())
    };
    key.load_signing_key(&password)
        .with_context(|| format!("cannot load private key `{key}`"))
}

/// Load the public key `--key` names (a file or `env://VAR`).
pub(super) fn load_public_key(key: &str) -> anyhow::Result<PublicKey> {
    let key = KeyRef::parse(key)?;
    key.load_public_key()
        .with_context(|| format!("cannot load public key `{key}`"))
}

/// `--key`, or the identity flags with `--trusted-root`: exactly one kind.
fn build_verifier(
    key: Option<&str>,
    identity: &IdentityOpts,
    trusted_root: Option<&std::path::Path>,
    ignore_tlog: bool,
) -> anyhow::Result<SignatureVerifier> {
    match (key, identity.any()) {
        (Some(_), true) => {
            anyhow::bail!("give either --key or the --certificate-* identity flags, not both")
        }
        // --key with --trusted-root: the tlog entry is required and checked against that root
        // (cosign's key verification); --insecure-ignore-tlog keeps the key-only check.
        (Some(k), false) => match trusted_root {
            Some(p) if !ignore_tlog => Ok(SignatureVerifier::KeyTlog {
                key: load_public_key(k)?,
                trust: std::sync::Arc::new(TrustRoot::from_file(p)?),
            }),
            _ => Ok(SignatureVerifier::Key(load_public_key(k)?)),
        },
        (None, true) => {
            let policy = identity.policy().map_err(anyhow::Error::msg)?;
            let trust = match trusted_root {
                Some(p) => std::sync::Arc::new(TrustRoot::from_file(p)?),
                None => imprint::trust::tuf::default_root()?,
            };
            super::trust_root::say_which(&trust);
            Ok(SignatureVerifier::Keyless {
                identity: policy,
                trust,
            })
        }
        (None, false) => anyhow::bail!(
            "no verifier: give --key, or --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp] for keyless signatures"
        ),
    }
}

/// Writes what `verify-attestation -o json` prints for one attestation: the DSSE envelope (for
/// a bundle, its `dsseEnvelope`, re-serialized compactly; the verified bytes are the bundle's).
/// The envelope's payload (a whole SBOM, for an SBOM attestation) is written from the verified
/// bytes, not copied first.
fn write_envelope(
    out: &mut impl Write,
    a: &verify::proof::VerifiedAttestation,
) -> std::io::Result<()> {
    if let Source::Bundle { .. } = a.source() {
        if let Some(pieces) = imprint::format::bundle::dsse_envelope_pieces(a.envelope()) {
            return pieces.iter().try_for_each(|p| out.write_all(p));
        }
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(a.envelope())
            && let Some(env) = v.get("dsseEnvelope")
        {
            return serde_json::to_writer(out, env).map_err(std::io::Error::other);
        }
    }
    out.write_all(a.envelope())
}

fn checked_against(verifier: &SignatureVerifier) -> &'static str {
    match verifier {
        SignatureVerifier::Key(_) => {
            "  - The signatures were verified against the specified public key"
        }
        SignatureVerifier::KeyTlog { .. } => {
            "  - The signatures were verified against the specified public key\n  - Each signature's transparency-log entry was verified against the trusted root"
        }
        _ => {
            "  - The code-signing certificate was verified using the trusted root, its identity matched, and the transparency-log proof was checked"
        }
    }
}

/// The statement as compact JSON text (re-serialized, as before the statement was kept as
/// bytes); a statement over `max_predicate_dom_bytes` is printed as its signed bytes.
fn statement_text(a: &verify::proof::VerifiedAttestation) -> String {
    let bytes = a.statement_json();
    if bytes.len() as u64 <= imprint::limits::Limits::DEFAULT.max_predicate_dom_bytes
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes)
    {
        return v.to_string();
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// What `verify -o json` prints for one verified signature: exactly the bytes that were
/// signed, parsed: a legacy layer's simple-signing payload, a bundle's in-toto statement (whose
/// subject is the image and whose predicate is cosign's signature predicate). Nothing is
/// synthesized: every field printed is covered by the signature.
fn printed_payload(v: &verify::proof::VerifiedSignature) -> serde_json::Value {
    serde_json::from_slice::<serde_json::Value>(v.payload()).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(v.payload()).into_owned())
    })
}

/// A client for commands that upload: progress bars on an interactive terminal.
fn upload_client(registry: &RegistryOpts) -> anyhow::Result<Client> {
    let mut config = registry.to_config();
    config.progress = super::progress::terminal_upload_progress();
    Ok(Client::new(config)?)
}

/// Run `imprint sign`.
pub(crate) async fn sign(args: SignArgs) -> anyhow::Result<Outcome> {
    args.outputs.check()?;
    args.registry_auth.check()?;
    let key_ref = super::unsupported::signing_key(args.key.as_deref())?;
    args.cosign.check(key_ref.is_none())?;
    let format = write_format(args.new_bundle_format);
    if format == WriteFormat::Bundle {
        if !args.sign_container_identity.is_empty() {
            anyhow::bail!(
                "--sign-container-identity needs --new-bundle-format=false: a bundle signs an \
                 in-toto statement, which names no identity (containers/image reads only legacy .sig signatures)"
            );
        }
        if args.payload.is_some() {
            anyhow::bail!(
                "--payload needs --new-bundle-format=false: a bundle signs the in-toto statement imprint writes"
            );
        }
    }
    if let Some(name) = args
        .sign_container_identity
        .iter()
        .find(|n| n.trim().is_empty())
    {
        anyhow::bail!("--sign-container-identity `{name}` is empty");
    }
    if args.output_signature.is_some() && args.images.len() > 1 {
        anyhow::bail!("--output-signature writes one signature: give one image");
    }
    let images = parse_images(&args.images)?;
    let limits = args.registry.limits();
    let payload = args
        .payload
        .as_deref()
        .map(|p| {
            imprint::fs::read_limited(p, limits.max_payload_bytes)
                .with_context(|| format!("cannot read the payload file `{}`", p.display()))
        })
        .transpose()?;
    let opts = SignOptions {
        annotations: args.annotations.into_iter().collect(),
        recursive: args.recursive,
        format,
        identities: args.sign_container_identity,
        payload,
        limits,
    };
    let Some(key_ref) = key_ref else {
        if opts.payload.is_some() || !args.upload || args.output_signature.is_some() {
            anyhow::bail!(
                "keyless signing of images always pushes what it signs: --payload, \
                 --upload=false and --output-signature need --key"
            );
        }
        let client = upload_client(&args.registry)?;
        let done = super::keyless::sign_images(&args.cosign, &client, &images, &opts).await?;
        report_signed(&done);
        return Ok(Outcome::Success);
    };
    let tlog_upload = args.cosign.upload_key_signature();
    if tlog_upload && !args.upload {
        anyhow::bail!(
            "--tlog-upload with --upload=false: the Rekor entry is written into the pushed \
             signature; push it (leave out --upload=false) or leave out --tlog-upload"
        );
    }
    let key = load_signing_key(&key_ref)?;
    let client = upload_client(&args.registry)?;
    let timeout = super::registry_opts::timeout();
    for image in &images {
        let signatures = if tlog_upload {
            let done = tokio::time::timeout(
                timeout,
                super::keyless::sign_images_with_key_tlog(
                    &args.cosign,
                    &client,
                    image,
                    &key,
                    &opts,
                ),
            )
            .await
            .map_err(|_| timed_out(timeout))
            .and_then(|r| r)
            .with_context(|| format!("signing `{image}`"))?;
            report_signed(&done);
            done.into_iter().map(|a| a.signature).collect::<Vec<_>>()
        } else if args.upload {
            let done = tokio::time::timeout(timeout, sign::sign_image(&client, image, &key, &opts))
                .await
                .map_err(|_| timed_out(timeout))
                .and_then(|r| r.map_err(anyhow::Error::from))
                .with_context(|| format!("signing `{image}`"))?;
            report_signed(&done);
            done.into_iter().map(|a| a.signature).collect::<Vec<_>>()
        } else {
            let prepared = tokio::time::timeout(
                timeout,
                sign::prepare_signatures(&client, image, &key, &opts),
            )
            .await
            .map_err(|_| timed_out(timeout))
            .and_then(|r| r.map_err(anyhow::Error::from))
            .with_context(|| format!("signing `{image}`"))?;
            for p in &prepared {
                eprintln!(
                    "Signed {}@{} (--upload=false: nothing pushed)",
                    p.repository, p.subject.digest
                );
            }
            prepared.into_iter().map(|p| p.signature).collect()
        };
        if let Some(out) = &args.output_signature {
            // One image, no --recursive: one signature per identity, one per line.
            let text: String = signatures
                .iter()
                .map(|s| imprint::format::bundle::signature_base64(s) + "\n")
                .collect();
            let text = if signatures.len() == 1 {
                text.trim_end().to_owned()
            } else {
                text
            };
            imprint::fs::write_atomic(out, text.as_bytes(), 0o644, imprint::fs::Overwrite::Replace)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("Signature written to {}", out.display());
        } else if !args.upload {
            eprintln!(
                "warning: --upload=false without --output-signature: the signature is not kept anywhere"
            );
        }
    }
    Ok(Outcome::Success)
}

fn timed_out(after: std::time::Duration) -> anyhow::Error {
    anyhow::anyhow!("timed out after {after:?} (--timeout)")
}

/// What `sign` wrote, on stderr.
fn report_signed(done: &[sign::Attached]) {
    for a in done {
        match &a.outcome {
            imprint::store::attach::Appended::Written { manifest, .. }
                if a.format == WriteFormat::Bundle =>
            {
                eprintln!(
                    "Signed {}@{} (bundle referrer {manifest})",
                    a.repository, a.digest
                );
            }
            imprint::store::attach::Appended::Written { manifest, layers } => {
                eprintln!(
                    "Signed {}@{} ({} signature(s) in {manifest})",
                    a.repository, a.digest, layers
                );
            }
            imprint::store::attach::Appended::AlreadyPresent { .. } => {
                eprintln!(
                    "{}@{} is already signed with this key; nothing written",
                    a.repository, a.digest
                );
            }
        }
    }
}

/// Run `imprint attest`.
pub(crate) async fn attest(args: AttestArgs) -> anyhow::Result<Outcome> {
    args.registry_auth.check()?;
    let key_ref = super::unsupported::signing_key(args.key.as_deref())?;
    args.cosign.check(key_ref.is_none())?;
    let images = parse_images(&args.images)?;
    let type_uri = imprint::format::predicate_type_uri(&args.predicate_type)?;
    let predicate_bytes = imprint::fs::read_limited(&args.predicate, args.max_predicate_bytes)
        .context("cannot read the predicate file (a larger one needs --max-predicate-bytes)")?;
    // A cosign key's scrypt decryption (~0.2 s) runs beside the predicate's transcoding (a
    // large SBOM takes longer) when it asks nothing on the terminal: its password is in the
    // environment, or it has none. Otherwise the key is loaded afterwards, as before, so a bad
    // predicate is reported before any prompt. A predicate error is reported first either way.
    let prompt_free = key_ref.as_ref().is_some_and(|k| {
        !k.needs_password()
            || keys::password::password_from_env(|name| std::env::var_os(name)).is_some()
    });
    let (predicate, early_key) = std::thread::scope(|scope| {
        let job = key_ref
            .as_ref()
            .filter(|_| prompt_free)
            .map(|k| scope.spawn(move || load_signing_key(k)));
        let predicate = imprint::format::load_predicate_json(
            &type_uri,
            &predicate_bytes,
            args.max_predicate_bytes,
        );
        let key = job.map(|j| {
            j.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("loading the signing key failed")))
        });
        (predicate, key)
    });
    let predicate =
        predicate.with_context(|| format!("predicate `{}`", args.predicate.display()))?;
    // The file is not needed once its statement bytes exist (a large SBOM: do not hold both).
    drop(predicate_bytes);
    let timeout = super::registry_opts::timeout();
    let opts = AttestOptions {
        predicate_type: type_uri,
        predicate,
        replace: args.replace,
        recursive: args.recursive,
        limits: args.registry.limits(),
        format: write_format(args.new_bundle_format),
    };
    let key = match (early_key, key_ref) {
        (Some(loaded), _) => Some(loaded?),
        (None, Some(key_ref)) => Some(load_signing_key(&key_ref)?),
        (None, None) => None,
    };
    let tlog_upload = key.is_some() && args.cosign.upload_key_signature();
    let client = upload_client(&args.registry)?;
    let session = match &key {
        Some(_) => None,
        None => Some(super::keyless::session(&args.cosign).await?),
    };
    for image in &images {
        let done = match (&key, &session) {
            (Some(key), _) if tlog_upload => tokio::time::timeout(
                timeout,
                super::keyless::attest_image_with_key_tlog(
                    &args.cosign,
                    &client,
                    image,
                    key,
                    &opts,
                ),
            )
            .await
            .map_err(|_| timed_out(timeout))
            .and_then(|r| r),
            (Some(key), _) => {
                tokio::time::timeout(timeout, sign::attest_image(&client, image, key, &opts))
                    .await
                    .map_err(|_| timed_out(timeout))
                    .and_then(|r| r.map_err(anyhow::Error::from))
            }
            (None, Some(session)) => tokio::time::timeout(
                timeout,
                super::keyless::attest_image(&client, image, session, &opts),
            )
            .await
            .map_err(|_| timed_out(timeout))
            .and_then(|r| r),
            (None, None) => anyhow::bail!("internal error: neither a key nor a keyless session"),
        }
        .with_context(|| format!("attesting `{image}`"))?;
        for a in done {
            match (&a.outcome, a.format) {
                (
                    imprint::store::attach::Appended::Written { manifest, .. },
                    WriteFormat::Bundle,
                ) => {
                    eprintln!(
                        "Attested {}@{} with {} (bundle referrer {manifest})",
                        a.repository, a.digest, opts.predicate_type
                    )
                }
                _ => eprintln!(
                    "Attested {}@{} with {}",
                    a.repository, a.digest, opts.predicate_type
                ),
            }
        }
    }
    Ok(Outcome::Success)
}

/// Run `imprint verify`.
pub(crate) async fn verify(args: VerifyArgs) -> anyhow::Result<Outcome> {
    args.unsupported.check()?;
    args.unsupported_image.check()?;
    args.registry_auth.check()?;
    args.ignore_tlog
        .check(args.identity.any() || args.policy.is_some())?;
    if let Some(p) = &args.notation_trust_policy {
        let store = args.notation_trust_store.as_deref();
        return super::notation::verify(p, store, &args.registry, &args.images).await;
    }
    if let Some(policy) = &args.policy {
        let output = match args.output {
            Some(Output::Json) => super::policy::DecisionOutput::Json,
            Some(Output::Text) | None => super::policy::DecisionOutput::Table,
        };
        return super::policy::verify(
            policy,
            output,
            &args.registry,
            &args.audit_log,
            &args.images,
        )
        .await;
    }
    anyhow::ensure!(
        args.audit_log.audit_log.is_none(),
        "`--audit-log` logs policy decisions: it needs `--policy`"
    );
    let output = args.output.unwrap_or_default();
    let images = parse_images(&args.images)?;
    let verifier = build_verifier(
        args.key.as_deref(),
        &args.identity,
        args.trusted_root.as_deref(),
        args.ignore_tlog.insecure_ignore_tlog,
    )?;
    let wanted = Wanted::signatures(args.annotations.into_iter().collect());
    let client = Client::new(args.registry.to_config())?;
    let mut all_payloads = Vec::new();
    let mut problems = Vec::new();
    let format = args.signature_format.into();
    let workers = args.registry.max_workers;
    let (reports, errors) = check_each(&client, &images, &verifier, format, &wanted, workers).await;
    for report in reports {
        let (verified, failures) = (report.checked.signatures, report.checked.failures);
        let pinned = report.resolved.reference.to_string();
        if verified.is_empty() {
            problems.push(no_match(
                &pinned,
                "signatures found",
                "matching signatures",
                &failures,
            ));
            continue;
        }
        eprintln!("\nVerification for {pinned} --");
        eprintln!("The following checks were performed on each of these signatures:");
        eprintln!("  - The cosign claims were validated");
        eprintln!("{}", checked_against(&verifier));
        eprintln!(
            "  ({} signature(s) verified, {} candidate(s) rejected)",
            verified.len(),
            failures.len()
        );
        for v in &verified {
            match output {
                Output::Json => all_payloads.push(printed_payload(v)),
                Output::Text => all_payloads.push(serde_json::Value::String(
                    String::from_utf8_lossy(v.payload()).into_owned(),
                )),
            }
        }
    }
    let mut out = super::output::stdout();
    match output {
        Output::Json => {
            if !all_payloads.is_empty() {
                writeln!(out, "{}", serde_json::Value::Array(all_payloads))?;
            }
        }
        Output::Text => {
            for p in all_payloads {
                if let serde_json::Value::String(s) = p {
                    writeln!(out, "{}", for_terminal(&s))?;
                }
            }
        }
    }
    finish(problems, errors)
}

/// Check every image with the library's one image flow ([`check_image`]), up to `workers`
/// (`--max-workers`, cosign's default 10) at once, results in input order. An image that does not exist or
/// cannot be checked at all (not found, unresolvable, registry unreachable, attachments
/// unreadable) is an operational error (exit 2, after the others are reported); the others
/// are still checked.
async fn check_each(
    client: &Client,
    images: &[ImageRef],
    verifier: &SignatureVerifier,
    format: SignatureFormat,
    wanted: &Wanted,
    workers: usize,
) -> (Vec<ImageReport>, Vec<anyhow::Error>) {
    use futures_util::StreamExt as _;
    let limits = client.config().limits;
    let results: Vec<_> = futures_util::stream::iter(images)
        .map(|image| check_image(client, image, verifier, format, wanted, &limits))
        .buffered(workers.max(1))
        .collect()
        .await;
    let mut reports = Vec::with_capacity(images.len());
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(r) => {
                // Something verified anyway: the evidence may be incomplete, say where.
                for u in &r.unreadable {
                    eprintln!(
                        "warning: {}: could not read {}",
                        r.resolved.reference,
                        for_terminal(&u.to_string())
                    );
                }
                reports.push(r)
            }
            Err(e) => errors.push(anyhow::Error::new(e)),
        }
    }
    (reports, errors)
}

/// How `verify` / `verify-attestation` end: with no image that could not be checked, the
/// verification problems decide (exit 0 or 1); otherwise the problems are printed, every
/// operational error but the last as well, and the last is returned (exit 2).
fn finish(problems: Vec<String>, mut errors: Vec<anyhow::Error>) -> anyhow::Result<Outcome> {
    let Some(last) = errors.pop() else {
        return Ok(Outcome::from_problems(problems));
    };
    for p in problems {
        eprintln!("error: {}", lines_for_terminal(&p));
    }
    for e in &errors {
        eprint!("{}", super::render_error(e));
    }
    Err(last)
}

/// The problem line for an image where nothing verified: `none` when there were no candidates
/// at all, else `no <what>:` and one indented line per rejected candidate.
fn no_match(pinned: &str, none: &str, what: &str, failures: &[verify::CandidateFailure]) -> String {
    if failures.is_empty() {
        return format!("{pinned}: no {none}");
    }
    let mut out = format!("{pinned}: no {what}:");
    for f in failures {
        out.push_str("\n  - ");
        // Each failure on its own line: its text (which may quote registry data) escaped, so
        // only these breaks are line breaks (`report` keeps them).
        out.push_str(&for_terminal(&f.to_string()));
    }
    out
}

/// Run `imprint verify-attestation`.
pub(crate) async fn verify_attestation(args: VerifyAttestationArgs) -> anyhow::Result<Outcome> {
    args.unsupported.check()?;
    args.unsupported_image.check()?;
    args.registry_auth.check()?;
    args.ignore_tlog.check(args.identity.any())?;
    let images = parse_images(&args.images)?;
    let want = args
        .predicate_type
        .as_deref()
        .map(imprint::format::predicate_type_uri)
        .transpose()?;
    let verifier = build_verifier(
        args.key.as_deref(),
        &args.identity,
        args.trusted_root.as_deref(),
        args.ignore_tlog.insecure_ignore_tlog,
    )?;
    let wanted = Wanted::attestations(want.clone());
    let client = Client::new(args.registry.to_config())?;
    let mut problems = Vec::new();
    let format = args.signature_format.into();
    let workers = args.registry.max_workers;
    let (reports, errors) = check_each(&client, &images, &verifier, format, &wanted, workers).await;
    let mut out = super::output::stdout();
    for report in reports {
        let (verified, failures) = (report.checked.attestations, report.checked.failures);
        let pinned = report.resolved.reference.to_string();
        if verified.is_empty() {
            let what = want
                .as_deref()
                .map(|w| format!("attestation of type `{w}` verified"))
                .unwrap_or_else(|| "attestation verified".to_owned());
            problems.push(no_match(&pinned, "attestations found", &what, &failures));
            continue;
        }
        eprintln!("\nVerification for {pinned} --");
        eprintln!("The following checks were performed on each of these attestations:");
        eprintln!("{}", checked_against(&verifier));
        eprintln!("  - The statement's subject digest is the image digest");
        for a in &verified {
            eprintln!(
                "  verified: {} ({})",
                for_terminal(a.predicate_type()),
                for_terminal(&describe_source(a.source()))
            );
            match args.output {
                Output::Json => write_envelope(&mut out, a)?,
                Output::Text => write!(out, "{}", lines_for_terminal(&statement_text(a)))?,
            }
            writeln!(out)?;
        }
    }
    finish(problems, errors)
}
