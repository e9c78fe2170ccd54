//! `sign-blob`, `verify-blob`, `attest-blob`, `verify-blob-attestation`: key-based signing of
//! files in cosign's formats (the logic is in `imprint::sign::blob` and `imprint::verify::blob`).
//!
//! The `run_*` functions return [`Outcome::Rejected`] when verification rejected the file (the
//! failed check is named) and `Err(_)` for operational errors (unreadable files, bad key, bad
//! arguments).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Outcome;
use super::unsupported::{IgnoreTlog, SigningCompat, VerifyFlags};
use imprint::format::{self, IN_TOTO_PAYLOAD_TYPE};
use imprint::limits::Limits;
use imprint::verify::blob::{BlobError, BlobEvidence};
use imprint::verify::proof::Source;

/// The library functions this file calls, by the layer that holds them.
pub(super) mod api {
    pub(super) use imprint::format::bundle::{
        dsse_bundle, message_signature_bundle, signature_base64,
    };
    pub(super) use imprint::fs::digest_file;
    pub(super) use imprint::sign::blob::{attest_blob, sign_blob};
    pub(super) use imprint::verify::blob::{verify_blob, verify_blob_attestation};

    /// Writes an output file atomically, replacing an existing one as cosign does, mode 0644.
    pub(crate) fn write_output(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
        use anyhow::Context as _;
        imprint::fs::write_atomic(path, bytes, 0o644, imprint::fs::Overwrite::Replace)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// `imprint sign-blob [--key K] [--bundle F] [--output-signature F] FILE`
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct SignBlobArgs {
    /// cosign encrypted private key: a file or `env://VAR` (password from IMPRINT_PASSWORD /
    /// COSIGN_PASSWORD or a prompt). Without it, keyless: an identity token, a Fulcio
    /// certificate, a Rekor entry (and a timestamp with --timestamp-server-url).
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: Option<String>,
    /// Also write a Sigstore bundle v0.3 (public-key hint or certificate, message signature,
    /// tlog entry when uploaded) to this file; required for keyless signing.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Keyless: write the Fulcio certificate (PEM) to this file.
    #[arg(long)]
    pub output_certificate: Option<PathBuf>,
    /// Write the base64 signature to this file instead of stdout.
    #[arg(long)]
    pub output_signature: Option<PathBuf>,
    /// cosign's signing switches (`--tlog-upload=false`, `-y`) and refused keyless flags.
    #[command(flatten)]
    pub cosign: SigningCompat,
    /// The file to sign.
    pub file: PathBuf,
}

/// `imprint verify-blob --key PUB (--signature S | --bundle B) FILE`
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct VerifyBlobArgs {
    /// PEM public key: a file or `env://VAR`.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: String,
    /// File with the base64 signature (as `sign-blob` / `cosign sign-blob` write it).
    #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
    pub signature: Option<PathBuf>,
    /// Key-based Sigstore bundle (as `sign-blob --bundle` / `cosign sign-blob --bundle` write it).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Trust root (`trusted_root.json`) for the Rekor entries of a key bundle (`--tlog-upload`);
    /// default: the embedded public-good root. A bundle with entries has them checked
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// `--insecure-ignore-tlog[=BOOL]`.
    #[command(flatten)]
    pub ignore_tlog: IgnoreTlog,
    /// cosign's verification flags imprint refuses by name.
    #[command(flatten)]
    pub unsupported: VerifyFlags,
    /// The signed file.
    pub file: PathBuf,
}

/// `imprint attest-blob [--key K] --predicate P [--type T] [--bundle F] [--output-signature F] FILE`
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct AttestBlobArgs {
    /// cosign encrypted private key: a file or `env://VAR`.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: Option<String>,
    /// The predicate file (JSON; any text for `--type custom`).
    #[arg(long)]
    pub predicate: PathBuf,
    /// Predicate type: custom, slsaprovenance, slsaprovenance02, slsaprovenance1, link, spdx,
    /// spdxjson, cyclonedx, vuln, openvex, or a URI.
    #[arg(long = "type", default_value = "custom")]
    pub type_: String,
    /// Largest predicate accepted, in bytes (checked before reading it).
    #[arg(long, default_value_t = format::DEFAULT_MAX_PREDICATE_BYTES)]
    pub max_predicate_bytes: u64,
    /// Also write a Sigstore bundle v0.3 (public-key hint or certificate, DSSE envelope, tlog
    /// entry when uploaded) to this file; required for keyless signing.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Write the DSSE envelope to this file instead of stdout.
    #[arg(long)]
    pub output_signature: Option<PathBuf>,
    /// cosign's signing switches (`--tlog-upload=false`, `-y`) and refused keyless flags.
    #[command(flatten)]
    pub cosign: SigningCompat,
    /// The file the attestation is about.
    pub file: PathBuf,
}

/// `imprint verify-blob-attestation --key PUB (--signature S | --bundle B) [--type T] FILE`
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct VerifyBlobAttestationArgs {
    /// PEM public key: a file or `env://VAR`.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: String,
    /// File with the DSSE envelope JSON (or its base64), as `attest-blob` writes it.
    #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
    pub signature: Option<PathBuf>,
    /// Key-based Sigstore bundle holding a DSSE envelope.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Require this predicate type (shortcut or URI). Without it any type is accepted.
    #[arg(long = "type")]
    pub type_: Option<String>,
    /// Trust root (`trusted_root.json`) for the Rekor entries of a key bundle (`--tlog-upload`);
    /// default: the embedded public-good root. A bundle with entries has them checked
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// `--insecure-ignore-tlog[=BOOL]`.
    #[command(flatten)]
    pub ignore_tlog: IgnoreTlog,
    /// cosign's verification flags imprint refuses by name.
    #[command(flatten)]
    pub unsupported: VerifyFlags,
    /// The file the attestation must be about.
    pub file: PathBuf,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn evidence_file(
    signature: &Option<PathBuf>,
    bundle: &Option<PathBuf>,
) -> anyhow::Result<(PathBuf, Vec<u8>, bool)> {
    let (path, is_bundle) = match (signature, bundle) {
        (Some(s), None) => (s.clone(), false),
        (None, Some(b)) => (b.clone(), true),
        _ => anyhow::bail!("give exactly one of --signature or --bundle"),
    };
    let bytes = imprint::fs::read_limited(&path, Limits::DEFAULT.max_evidence_bytes)?;
    Ok((path, bytes, is_bundle))
}

/// A key bundle with Rekor entries (`--tlog-upload`) has them checked as cosign does: the SET or
/// inclusion proof against the trust root's Rekor key, and the entry bound to this signature
/// and key (sigstore-verify, as `verify-bundle --key`). `Some(reason)` when that fails; `None`
/// when there are no entries, or they verify, or `--insecure-ignore-tlog` skips them.
fn check_key_bundle_tlog(
    key: &imprint::keys::PublicKey,
    bundle: &[u8],
    artifact: imprint::verify::bundle::Artifact<'_>,
    trusted_root: Option<&Path>,
    ignore_tlog: bool,
    bundle_path: &Path,
) -> anyhow::Result<Option<String>> {
    use imprint::verify::bundle::{VerificationPolicy, VerifyOptions, verify_bundle_with};
    let Ok(kb) = format::bundle::parse_key_bundle(bundle) else {
        return Ok(None);
    };
    if kb.tlog_entries == 0 || ignore_tlog {
        return Ok(None);
    }
    let trust = match trusted_root {
        Some(p) => imprint::trust::TrustRoot::from_file(p),
        None => imprint::trust::TrustRoot::public_good(),
    }
    .context("cannot load the trust root")?;
    let policy = VerificationPolicy::Key {
        spki_der: key.spki_der().to_vec(),
    };
    match verify_bundle_with(
        bundle,
        Some(artifact),
        &policy,
        &trust,
        VerifyOptions::new(),
    ) {
        Ok(v) => {
            if let Some(t) = v.tlog() {
                eprintln!(
                    "tlog: log index {} (log {}), integrated time {}",
                    t.log_index,
                    format::text::for_terminal(&t.log_id.to_string()),
                    t.integrated_time
                );
            }
            Ok(None)
        }
        Err(e) => Ok(Some(format!(
            "verification of the transparency-log entry of {} failed [{}]: {e}",
            bundle_path.display(),
            e.check()
        ))),
    }
}

/// A verification refusal is a rejected outcome naming the failed check; a file that cannot be
/// read is an operational error.
fn rejected(e: BlobError, what: &Path, file: &Path) -> anyhow::Result<Outcome> {
    match e {
        BlobError::File(_) => Err(e.into()),
        e => Ok(Outcome::Rejected(vec![format!(
            "verification of {} with {} failed: {}",
            file.display(),
            what.display(),
            super::one_line(&e)
        )])),
    }
}

/// Runs `sign-blob`: prints the base64 signature (or writes it to `--output-signature`), and
/// writes the bundle when asked.
pub(crate) fn run_sign_blob(args: &SignBlobArgs) -> anyhow::Result<Outcome> {
    let key_ref = super::unsupported::signing_key(args.key.as_deref())?;
    args.cosign.check(key_ref.is_none())?;
    let Some(key_ref) = key_ref else {
        return super::keyless::sign_blob(args);
    };
    if args.output_certificate.is_some() {
        anyhow::bail!(
            "--output-certificate is for keyless signing: a key signature has no certificate"
        );
    }
    let key = super::image::load_signing_key(&key_ref)?;
    let data = imprint::fs::read_limited(&args.file, u64::MAX)?;
    let sig = api::sign_blob(&key, &data)?;
    let b64 = api::signature_base64(&sig);
    let entry = if args.cosign.upload_key_signature() {
        Some(super::keyless::upload_key_signature(
            &args.cosign,
            &key,
            &data,
            &sig,
        )?)
    } else {
        None
    };
    if let Some(bundle) = &args.bundle {
        let bytes = api::message_signature_bundle(
            key.public_key().spki_der(),
            &format::digest::Digest::of(&data),
            &sig,
        );
        let bytes = super::keyless::with_tlog_entry(bytes, entry.as_ref())?;
        api::write_output(bundle, &bytes)?;
        eprintln!("Wrote bundle to file {}", bundle.display());
    }
    write_signature(args.output_signature.as_deref(), &b64)?;
    Ok(Outcome::Success)
}

/// Prints the base64 signature, or writes it to `--output-signature`.
pub(super) fn write_signature(out: Option<&Path>, b64: &str) -> anyhow::Result<()> {
    match out {
        Some(out) => {
            api::write_output(out, b64.as_bytes())?;
            eprintln!("Signature wrote in the file {}", out.display());
        }
        None => {
            let mut stdout = super::output::stdout();
            writeln!(stdout, "{b64}").context("writing the signature to stdout")?;
        }
    }
    Ok(())
}

/// Runs `verify-blob`: prints `Verified OK` on stderr and exits 0, or names the failed check
/// and exits 1.
pub(crate) fn run_verify_blob(args: &VerifyBlobArgs) -> anyhow::Result<Outcome> {
    args.unsupported.check()?;
    args.ignore_tlog.check(false)?;
    let key = super::image::load_public_key(&args.key)?;
    let (evidence_path, evidence, is_bundle) = evidence_file(&args.signature, &args.bundle)?;
    let data = imprint::fs::read_limited(&args.file, u64::MAX)?;
    let ev = if is_bundle {
        BlobEvidence::Bundle(&evidence)
    } else {
        BlobEvidence::Signature(&evidence)
    };
    let source = Source::File {
        path: evidence_path.display().to_string(),
    };
    match api::verify_blob(&key, &data, ev, source) {
        Ok(v) => {
            if v.tlog_entries_unchecked() > 0
                && let Some(reason) = check_key_bundle_tlog(
                    &key,
                    &evidence,
                    imprint::verify::bundle::Artifact::Bytes(&data),
                    args.trusted_root.as_deref(),
                    args.ignore_tlog.insecure_ignore_tlog,
                    &evidence_path,
                )?
            {
                return Ok(Outcome::Rejected(vec![reason]));
            }
            eprintln!("Verified OK");
            Ok(Outcome::Success)
        }
        Err(e) => rejected(e, &evidence_path, &args.file),
    }
}

/// Runs `attest-blob`: validates the predicate (size, JSON, SBOM type), signs the DSSE
/// envelope, prints it (or writes it to `--output-signature`) and writes the bundle when asked.
pub(crate) fn run_attest_blob(args: &AttestBlobArgs) -> anyhow::Result<Outcome> {
    let key_ref = super::unsupported::signing_key(args.key.as_deref())?;
    args.cosign.check(key_ref.is_none())?;
    let type_uri = format::predicate_type_uri(&args.type_)?;
    let pred_bytes = imprint::fs::read_limited(&args.predicate, args.max_predicate_bytes)
        .with_context(|| format!("predicate {}", args.predicate.display()))?;
    let predicate = format::load_predicate(&type_uri, &pred_bytes, args.max_predicate_bytes)
        .with_context(|| format!("predicate {}", args.predicate.display()))?;
    drop(pred_bytes);
    let digest = api::digest_file(&args.file)?;
    let Some(key_ref) = key_ref else {
        let statement = format::statement(&file_name(&args.file), &digest, &type_uri, predicate);
        return super::keyless::attest_blob(args, &statement);
    };
    let key = super::image::load_signing_key(&key_ref)?;
    let att = api::attest_blob(&key, &file_name(&args.file), &digest, &type_uri, predicate)?;
    let entry = if args.cosign.upload_key_signature() {
        Some(super::keyless::upload_key_envelope(
            &args.cosign,
            &key,
            &att.statement,
            &att.signature,
        )?)
    } else {
        None
    };
    if let Some(bundle) = &args.bundle {
        let bytes = api::dsse_bundle(
            key.public_key().spki_der(),
            IN_TOTO_PAYLOAD_TYPE,
            &att.statement,
            &att.signature,
        );
        let bytes = super::keyless::with_tlog_entry(bytes, entry.as_ref())?;
        api::write_output(bundle, &bytes)?;
        eprintln!("Wrote bundle to file {}", bundle.display());
    }
    write_envelope(args.output_signature.as_deref(), &att.envelope)?;
    Ok(Outcome::Success)
}

/// Prints the DSSE envelope, or writes it to `--output-signature`.
pub(super) fn write_envelope(out: Option<&Path>, envelope: &[u8]) -> anyhow::Result<()> {
    match out {
        Some(out) => {
            api::write_output(out, envelope)?;
            eprintln!("Attestation written in {}", out.display());
        }
        None => {
            let mut stdout = super::output::stdout();
            stdout
                .write_all(envelope)
                .and_then(|()| stdout.write_all(b"\n"))
                .context("writing the envelope to stdout")?;
        }
    }
    Ok(())
}

/// Runs `verify-blob-attestation`: prints `Verified OK` on stderr and exits 0, or names the
/// failed check (signature, payload type, subject, predicate type) and exits 1.
pub(crate) fn run_verify_blob_attestation(
    args: &VerifyBlobAttestationArgs,
) -> anyhow::Result<Outcome> {
    args.unsupported.check()?;
    args.ignore_tlog.check(false)?;
    let key = super::image::load_public_key(&args.key)?;
    let type_uri = args
        .type_
        .as_deref()
        .map(format::predicate_type_uri)
        .transpose()?;
    let (evidence_path, evidence, is_bundle) = evidence_file(&args.signature, &args.bundle)?;
    let digest = api::digest_file(&args.file)?;
    let ev = if is_bundle {
        BlobEvidence::Bundle(&evidence)
    } else {
        BlobEvidence::Signature(&evidence)
    };
    let source = Source::File {
        path: evidence_path.display().to_string(),
    };
    match api::verify_blob_attestation(&key, &digest, ev, type_uri.as_deref(), source) {
        Ok(v) => {
            if is_bundle
                && let Some(reason) = check_key_bundle_tlog(
                    &key,
                    &evidence,
                    imprint::verify::bundle::Artifact::Digest(digest.clone()),
                    args.trusted_root.as_deref(),
                    args.ignore_tlog.insecure_ignore_tlog,
                    &evidence_path,
                )?
            {
                return Ok(Outcome::Rejected(vec![reason]));
            }
            eprintln!(
                "Verified OK (predicateType {})",
                format::text::for_terminal(v.predicate_type())
            );
            Ok(Outcome::Success)
        }
        Err(e) => rejected(e, &evidence_path, &args.file),
    }
}
