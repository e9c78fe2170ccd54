//! cosign flags imprint cannot honour yet, accepted by clap (hidden) so that using one is
//! refused by name with the reason, instead of clap's generic "unexpected argument".
//!
//! Every such flag takes an optional value after `=` (`--sk`, `--fulcio-url=URL`); a value
//! given after a space (`--fulcio-url URL`) is left as a positional argument, which does not
//! matter: the command stops at [`check`](KeylessSigningFlags::check) before using any.

const KEYLESS: &str = "keyless signing (Fulcio certificates, OIDC identity tokens) is not supported yet \
(issue 15); sign with --key";
const TLOG: &str = "imprint does not talk to a transparency log (Rekor) yet: signatures are written \
without a tlog entry, and key signatures are verified without one";
const TSA: &str = "RFC 3161 timestamp authorities are not used yet (for signing, or to verify key \
signatures); the RFC 3161 timestamps inside keyless bundles and .att layers are verified";
const HARDWARE: &str = "hardware security keys are not supported; use a cosign key file (--key)";
const CERT: &str =
    "certificates attached to key signatures are not supported yet; sign with --key alone";
const SIGNING_CONFIG: &str = "signing configs name Fulcio, Rekor and timestamp services, which imprint \
does not use yet (issue 15)";
const REGISTRY_AUTH: &str = "registry credentials come from the docker config ($DOCKER_CONFIG/config.json, \
as `docker login` writes it); flags for them are not supported";
const SIGN_OUTPUTS: &str = "local copies of an image signature are not written (the bundle or .sig is \
pushed to the registry); --output-signature FILE writes the signature";
const ATTACHMENT: &str = "signing attachments by tag is deprecated in cosign and not supported; attest \
the SBOM with `imprint attest --type spdxjson|cyclonedx`";
const VERIFY_CERT: &str = "verifying against a given certificate or CA is not supported: use --key \
CERT.pem (its public key is used) or --certificate-identity/--certificate-oidc-issuer with \
--trusted-root";
const VERIFY_DETACHED: &str = "detached signatures and local images are not verified; imprint reads the \
signatures attached to the image in the registry or OCI layout (oci:PATH)";

macro_rules! unsupported_flags {
    ($(#[$meta:meta])* $name:ident { $($field:ident = $flag:literal => $reason:expr,)* }) => {
        $(#[$meta])*
        #[derive(clap::Args, Debug, Clone, Default)]
        pub(crate) struct $name {
            $(
                #[arg(long = $flag, hide = true, num_args = 0..=1, require_equals = true,
                      default_missing_value = "", value_name = "VALUE",
                      action = clap::ArgAction::Append)]
                $field: Vec<String>,
            )*
        }

        impl $name {
            /// Refuse the first of these flags that was given, by name, with the reason.
            pub(crate) fn check(&self) -> anyhow::Result<()> {
                $(
                    if !self.$field.is_empty() {
                        anyhow::bail!("--{} is not supported: {}", $flag, $reason);
                    }
                )*
                Ok(())
            }
        }
    };
}

unsupported_flags! {
    /// cosign's keyless, hardware, timestamp and transparency-log flags of `sign`, `attest`,
    /// `sign-blob` and `attest-blob`.
    KeylessSigningFlags {
        fulcio_url = "fulcio-url" => KEYLESS,
        fulcio_auth_flow = "fulcio-auth-flow" => KEYLESS,
        identity_token = "identity-token" => KEYLESS,
        oidc_issuer = "oidc-issuer" => KEYLESS,
        oidc_client_id = "oidc-client-id" => KEYLESS,
        oidc_client_secret_file = "oidc-client-secret-file" => KEYLESS,
        oidc_redirect_url = "oidc-redirect-url" => KEYLESS,
        oidc_provider = "oidc-provider" => KEYLESS,
        oidc_disable_ambient_providers = "oidc-disable-ambient-providers" => KEYLESS,
        insecure_skip_verify = "insecure-skip-verify" => KEYLESS,
        issue_certificate = "issue-certificate" => KEYLESS,
        sk = "sk" => HARDWARE,
        slot = "slot" => HARDWARE,
        certificate = "certificate" => CERT,
        certificate_chain = "certificate-chain" => CERT,
        rekor_url = "rekor-url" => TLOG,
        timestamp_server_url = "timestamp-server-url" => TSA,
        timestamp_client_cacert = "timestamp-client-cacert" => TSA,
        timestamp_client_cert = "timestamp-client-cert" => TSA,
        timestamp_client_key = "timestamp-client-key" => TSA,
        timestamp_server_name = "timestamp-server-name" => TSA,
        signing_config = "signing-config" => SIGNING_CONFIG,
    }
}

unsupported_flags! {
    /// cosign's `sign` flags for local outputs and attachments.
    SignOutputFlags {
        bundle = "bundle" => SIGN_OUTPUTS,
        output_payload = "output-payload" => SIGN_OUTPUTS,
        output_certificate = "output-certificate" => SIGN_OUTPUTS,
        attachment = "attachment" => ATTACHMENT,
    }
}

unsupported_flags! {
    /// cosign's registry credential flags.
    RegistryAuthFlags {
        registry_username = "registry-username" => REGISTRY_AUTH,
        registry_password = "registry-password" => REGISTRY_AUTH,
        registry_token = "registry-token" => REGISTRY_AUTH,
        k8s_keychain = "k8s-keychain" => REGISTRY_AUTH,
    }
}

unsupported_flags! {
    /// cosign's verification flags for certificates, hardware keys, timestamps and Rekor.
    VerifyFlags {
        rekor_url = "rekor-url" => TLOG,
        certificate = "certificate" => VERIFY_CERT,
        certificate_chain = "certificate-chain" => VERIFY_CERT,
        ca_roots = "ca-roots" => VERIFY_CERT,
        ca_intermediates = "ca-intermediates" => VERIFY_CERT,
        sk = "sk" => HARDWARE,
        slot = "slot" => HARDWARE,
        timestamp_certificate_chain = "timestamp-certificate-chain" => TSA,
        use_signed_timestamps = "use-signed-timestamps" => TSA,
        rfc3161_timestamp = "rfc3161-timestamp" => TSA,
        private_infrastructure = "private-infrastructure" => TLOG,
    }
}

unsupported_flags! {
    /// cosign's `verify` flags for detached signatures and local images.
    VerifyImageFlags {
        signature = "signature" => VERIFY_DETACHED,
        payload = "payload" => VERIFY_DETACHED,
        local_image = "local-image" => VERIFY_DETACHED,
        attachment = "attachment" => ATTACHMENT,
    }
}

/// `--tlog-upload[=BOOL]` (sign, attest, sign-blob, attest-blob): `false` is what imprint
/// does; `true` (also the bare flag, as in cosign) is refused with the reason.
pub(crate) fn parse_tlog_upload(s: &str) -> Result<bool, String> {
    match s {
        "false" => Ok(false),
        "true" => Err(
            "imprint does not upload to a transparency log (Rekor) yet: signatures are written \
             without a tlog entry, as with cosign --tlog-upload=false (pass that, or leave the flag out)"
                .into(),
        ),
        _ => Err(format!("`{s}` is not true or false")),
    }
}

/// `--use-signing-config[=BOOL]`: `false` is what imprint does (it uses no signing config).
pub(crate) fn parse_use_signing_config(s: &str) -> Result<bool, String> {
    match s {
        "false" => Ok(false),
        "true" => Err(format!(
            "{SIGNING_CONFIG}; pass --use-signing-config=false or leave the flag out"
        )),
        _ => Err(format!("`{s}` is not true or false")),
    }
}

/// The `--key` value, required for signing: keyless signing is not supported yet.
pub(crate) fn signing_key(key: Option<&str>) -> anyhow::Result<imprint::keys::KeyRef> {
    let key = key.ok_or_else(|| {
        anyhow::anyhow!(
            "--key is required: keyless signing (Fulcio, OIDC) is not supported yet (issue 15)"
        )
    })?;
    Ok(imprint::keys::KeyRef::parse(key)?)
}

/// cosign's signing flags every signing command shares: the transparency-log and signing
/// config switches (only their `false` forms), `-y`, and the keyless flags refused by name.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct SigningCompat {
    /// Accepted for cosign compatibility: only `--tlog-upload=false` (what imprint does;
    /// cosign's default is true). `--tlog-upload` / `=true` is refused: no Rekor upload yet
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false",
          value_parser = parse_tlog_upload, action = clap::ArgAction::Set)]
    pub tlog_upload: bool,
    /// Accepted for cosign compatibility: only `=false` (imprint uses no signing config)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false",
          value_parser = parse_use_signing_config, action = clap::ArgAction::Set, hide = true)]
    pub use_signing_config: bool,
    /// Skip confirmation prompts (cosign's `-y`). imprint asks nothing except a key's
    /// password (IMPRINT_PASSWORD / COSIGN_PASSWORD avoid that), so this changes nothing
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Keyless flags, refused by name.
    #[command(flatten)]
    pub keyless: KeylessSigningFlags,
}

/// `--insecure-ignore-tlog[=BOOL]` of the verify commands.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct IgnoreTlog {
    /// cosign's flag: accept signatures without a transparency-log entry. Key signatures
    /// never need one in imprint (it signs without one), so with --key this changes nothing;
    /// keyless signatures always need their Rekor proof, so `=true` with keyless flags is refused
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub insecure_ignore_tlog: bool,
}

impl IgnoreTlog {
    /// Refuse `--insecure-ignore-tlog=true` for keyless verification; note it for keys.
    pub(crate) fn check(&self, keyless: bool) -> anyhow::Result<()> {
        if !self.insecure_ignore_tlog {
            return Ok(());
        }
        if keyless {
            anyhow::bail!(
                "--insecure-ignore-tlog is not supported with keyless verification: imprint \
                 always checks the Rekor proof of certificate signatures"
            );
        }
        eprintln!(
            "note: --insecure-ignore-tlog: key signatures are verified without a transparency-log entry anyway"
        );
        Ok(())
    }
}
