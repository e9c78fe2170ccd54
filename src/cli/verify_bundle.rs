//! `imprint verify-bundle`: verify a Sigstore bundle for a file or digest, in the shape the
//! sigstore-conformance harness drives:
//! `verify-bundle [--staging] --bundle B (--certificate-identity I --certificate-oidc-issuer U | --key K) [--trusted-root F] ARTIFACT`.
//!
//! Exit codes: 0 verified; 1 rejected (the failing check is named on stderr); 2 usage or
//! operational error (unreadable file, bad key, bad trust root, missing identity).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use imprint::trust::{GithubClaims, IdentityPolicy, Matcher, TrustRoot};
use imprint::verify::bundle::{Artifact, VerificationPolicy, VerifyOptions, verify_bundle_with};

use imprint::format::digest::Digest;
use imprint::limits::Limits;

use super::Outcome;

// Keyless identity flags, named as cosign names them, shared with `verify` and
// `verify-attestation` (src/cli/image.rs). Every flag conflicts with `--key` (the parent
// command must define an argument with id `key`).

/// Long help of the regex flags.
pub(crate) const REGEX_HELP: &str = "Regular expression (Rust `regex` syntax, close to Go RE2) matched against the WHOLE value: \
imprint anchors it as ^(?:REGEX)$. cosign matches unanchored (Go MatchString); imprint is stricter, \
so write `.*@example\\.com`, not `@example\\.com`.";

/// `--certificate-identity[-regexp]`, `--certificate-oidc-issuer[-regexp]`,
/// `--certificate-github-workflow-{trigger,sha,name,repository,ref}`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct IdentityOpts {
    /// Expected certificate identity (SAN: email, URI or username), exact match.
    #[arg(long, value_name = "IDENTITY", conflicts_with_all = ["key", "certificate_identity_regexp"])]
    pub certificate_identity: Option<String>,

    /// Expected certificate identity as a regex matched against the whole SAN.
    #[arg(long, value_name = "REGEX", long_help = REGEX_HELP, conflicts_with = "key")]
    pub certificate_identity_regexp: Option<String>,

    /// Expected OIDC issuer, exact match.
    #[arg(long, value_name = "URL", conflicts_with_all = ["key", "certificate_oidc_issuer_regexp"])]
    pub certificate_oidc_issuer: Option<String>,

    /// Expected OIDC issuer as a regex matched against the whole issuer.
    #[arg(long, value_name = "REGEX", long_help = REGEX_HELP, conflicts_with = "key")]
    pub certificate_oidc_issuer_regexp: Option<String>,

    /// Expected GitHub workflow trigger (Fulcio OID .2, else .20), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_trigger: Option<String>,
    /// Expected GitHub workflow commit SHA (OID .3, else .13), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_sha: Option<String>,
    /// Expected GitHub workflow name (OID .4), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_name: Option<String>,
    /// Expected GitHub repository `owner/repo` (OID .5, else .12), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_repository: Option<String>,
    /// Expected GitHub workflow ref (OID .6, else .14), exact.
    #[arg(long, value_name = "V", conflicts_with = "key")]
    pub certificate_github_workflow_ref: Option<String>,
}

impl IdentityOpts {
    /// Whether any identity flag was given.
    pub(crate) fn any(&self) -> bool {
        self.certificate_identity.is_some()
            || self.certificate_identity_regexp.is_some()
            || self.certificate_oidc_issuer.is_some()
            || self.certificate_oidc_issuer_regexp.is_some()
            || self.certificate_github_workflow_trigger.is_some()
            || self.certificate_github_workflow_sha.is_some()
            || self.certificate_github_workflow_name.is_some()
            || self.certificate_github_workflow_repository.is_some()
            || self.certificate_github_workflow_ref.is_some()
    }

    /// The identity policy: an identity and an issuer are both required (keyless
    /// verification without identity constraints is refused, as cosign refuses it).
    pub(crate) fn policy(&self) -> Result<IdentityPolicy, String> {
        let subject = match (
            &self.certificate_identity,
            &self.certificate_identity_regexp,
        ) {
            (Some(s), None) => Matcher::Exact(s.clone()),
            (None, Some(r)) => Matcher::regex(r).map_err(|e| e.to_string())?,
            _ => {
                return Err(
                    "keyless verification needs --certificate-identity or --certificate-identity-regexp (or use --key)"
                        .into(),
                );
            }
        };
        let issuer = match (
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        ) {
            (Some(s), None) => Matcher::Exact(s.clone()),
            (None, Some(r)) => Matcher::regex(r).map_err(|e| e.to_string())?,
            _ => {
                return Err(
                    "keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp"
                        .into(),
                );
            }
        };
        let github = GithubClaims {
            trigger: self.certificate_github_workflow_trigger.clone(),
            sha: self.certificate_github_workflow_sha.clone(),
            name: self.certificate_github_workflow_name.clone(),
            repository: self.certificate_github_workflow_repository.clone(),
            git_ref: self.certificate_github_workflow_ref.clone(),
        };
        IdentityPolicy::new(subject, issuer, github).map_err(|e| e.to_string())
    }
}

/// Arguments of `imprint verify-bundle`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Verify a Sigstore bundle (v0.1-v0.3) for a file or sha256 digest, offline",
    after_help = "Keyless verification needs an identity (--certificate-identity or --certificate-identity-regexp) \
and an issuer (--certificate-oidc-issuer or --certificate-oidc-issuer-regexp). Regexes match the whole value \
(anchored ^(?:R)$), stricter than cosign's unanchored matching.\n\
Exit status: 0 verified, 1 rejected (the failing check is named), 2 usage or operational error."
)]
pub(crate) struct VerifyBundleArgs {
    /// The bundle file (`.sigstore.json`).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,

    /// Keyless identity constraints.
    #[command(flatten)]
    pub identity: IdentityOpts,

    /// Verify with this PEM public key (a file or `env://VAR`) instead of a certificate identity.
    #[arg(long, value_name = "FILE|env://VAR")]
    pub key: Option<String>,

    /// Trust material (`trusted_root.json`); default: the embedded public-good root.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,

    /// Use the embedded Sigstore staging root (ignored when --trusted-root is given).
    #[arg(long)]
    pub staging: bool,

    /// Accept a bundle without transparency-log proof (no inclusion proof, checkpoint or SET).
    /// Keyless bundles still need an RFC 3161 timestamp. Like cosign's flag of the same name
    /// (`--insecure-ignore-tlog[=BOOL]`).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value_t = false, action = clap::ArgAction::Set)]
    pub insecure_ignore_tlog: bool,

    /// The artifact: a file path, or `sha256:<hex>`.
    #[arg(value_name = "ARTIFACT")]
    pub artifact: String,
}

fn build_policy(args: &VerifyBundleArgs) -> Result<VerificationPolicy, String> {
    if let Some(key) = &args.key {
        // Parsed and re-encoded (canonical SPKI): the signer shown and matched is the same
        // key however the file spells it (compressed, uncompressed or hybrid point).
        let public = imprint::keys::KeyRef::parse(key)
            .and_then(|k| k.load_public_key())
            .map_err(|e| super::one_line(&e))?;
        return Ok(VerificationPolicy::Key {
            spki_der: public.spki_der().to_vec(),
        });
    }
    args.identity.policy().map(VerificationPolicy::Keyless)
}

/// Run `imprint verify-bundle`.
pub(crate) fn run(args: VerifyBundleArgs) -> anyhow::Result<Outcome> {
    let policy = build_policy(&args).map_err(anyhow::Error::msg)?;
    let trust = match (&args.trusted_root, args.staging) {
        (Some(p), _) => TrustRoot::from_file(p).map(std::sync::Arc::new),
        (None, true) => TrustRoot::staging().map(std::sync::Arc::new),
        (None, false) => imprint::trust::tuf::default_root(),
    }
    .context("cannot load the trust root")?;
    let limits = Limits::DEFAULT;
    let bundle = imprint::fs::read_limited(&args.bundle, limits.max_evidence_bytes)
        .context("cannot read the bundle")?;
    // Say which trust root is used when one is: keyless, or a key bundle with log entries or
    // timestamps (checked against the root's Rekor and TSA keys).
    if matches!(policy, VerificationPolicy::Keyless(_)) || uses_trust_material(&bundle) {
        super::trust_root::say_which(&trust);
    }
    let artifact_bytes;
    let artifact = if args.artifact.starts_with("sha256:") {
        Artifact::Digest(
            args.artifact
                .parse::<Digest>()
                .context("the artifact digest is malformed")?,
        )
    } else {
        artifact_bytes = imprint::fs::read_limited(Path::new(&args.artifact), u64::MAX)
            .context("cannot read the artifact")?;
        Artifact::Bytes(&artifact_bytes)
    };
    if let Some(key) = &args.key
        && let Ok(kb) = imprint::format::bundle::parse_key_bundle(&bundle)
        && kb.tlog_entries == 0
    {
        return verify_without_tlog(&args, key, &bundle, &artifact);
    }
    let options = VerifyOptions::new().insecure_ignore_tlog(args.insecure_ignore_tlog);
    if args.insecure_ignore_tlog {
        eprintln!("warning: --insecure-ignore-tlog: transparency-log proof is not required");
    }
    match verify_bundle_with(&bundle, Some(artifact), &policy, &trust, options) {
        Ok(v) => {
            eprintln!("signer: {}", super::describe_signer(v.signer()));
            if let Some(t) = v.tlog() {
                eprintln!(
                    "tlog: log index {} (log {}), integrated time {}",
                    t.log_index,
                    imprint::format::text::for_terminal(&t.log_id.to_string()),
                    t.integrated_time
                );
            }
            eprintln!("Verified OK");
            Ok(Outcome::Success)
        }
        Err(e) => Ok(Outcome::Rejected(vec![format!(
            "verification failed for bundle {} [{}]: {e}",
            args.bundle.display(),
            e.check()
        )])),
    }
}

/// A key bundle with no transparency-log entry (what `imprint sign-blob --bundle`,
/// `attest-blob --bundle` and `cosign sign-blob --tlog-upload=false` write): the Sigstore
/// verifier refuses every v0.3 bundle without tlog or timestamp evidence as malformed, so such
/// a bundle is checked against the key alone, as `verify-blob` / `verify-blob-attestation` do
/// (the key is the trust anchor): a message signature over the artifact's bytes, or a DSSE
/// envelope whose statement names the artifact's digest.
fn verify_without_tlog(
    args: &VerifyBundleArgs,
    key_ref: &str,
    bundle: &[u8],
    artifact: &Artifact<'_>,
) -> anyhow::Result<Outcome> {
    use imprint::format::bundle::{KeyBundleContent, parse_key_bundle};
    use imprint::verify::blob::{BlobEvidence, verify_blob, verify_blob_attestation};
    // File or `env://VAR`, as `--key` everywhere.
    let key = imprint::keys::KeyRef::parse(key_ref)
        .and_then(|k| k.load_public_key())
        .with_context(|| format!("key {key_ref}"))?;
    let source = imprint::verify::proof::Source::File {
        path: args.bundle.display().to_string(),
    };
    let evidence = BlobEvidence::Bundle(bundle);
    let message = matches!(
        parse_key_bundle(bundle).map(|b| b.content),
        Ok(KeyBundleContent::MessageSignature { .. })
    );
    eprintln!(
        "note: the bundle has no transparency-log entry: verified against the key alone \
         (as verify-blob; imprint and `cosign sign-blob --tlog-upload=false` write such bundles)"
    );
    let result = match (message, artifact) {
        (true, Artifact::Bytes(bytes)) => verify_blob(&key, bytes, evidence, source).map(|_| None),
        (true, Artifact::Digest(_)) => anyhow::bail!(
            "a message-signature bundle without transparency-log entries is verified against the artifact file, not a digest: give the file"
        ),
        (false, a) => {
            let digest = match a {
                Artifact::Bytes(bytes) => Digest::of(bytes),
                Artifact::Digest(d) => d.clone(),
            };
            verify_blob_attestation(&key, &digest, evidence, None, source)
                .map(|v| Some(v.predicate_type().to_owned()))
        }
    };
    match result {
        Ok(predicate_type) => {
            eprintln!(
                "signer: key {}",
                imprint::format::text::for_terminal(&key.fingerprint())
            );
            if let Some(t) = predicate_type {
                eprintln!(
                    "predicate type: {}",
                    imprint::format::text::for_terminal(&t)
                );
            }
            eprintln!("Verified OK");
            Ok(Outcome::Success)
        }
        Err(e) => Ok(Outcome::Rejected(vec![format!(
            "verification failed for bundle {}: {}",
            args.bundle.display(),
            super::one_line(&e)
        )])),
    }
}

/// Whether a bundle carries transparency-log entries or RFC 3161 timestamps (a malformed bundle
/// counts as carrying them: the line is then printed, and verification reports the problem).
fn uses_trust_material(bundle: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bundle) else {
        return true;
    };
    let material = &v["verificationMaterial"];
    let non_empty = |x: &serde_json::Value| x.as_array().is_some_and(|a| !a.is_empty());
    non_empty(&material["tlogEntries"])
        || non_empty(&material["timestampVerificationData"]["rfc3161Timestamps"])
}
