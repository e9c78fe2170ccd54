//! cosign flags imprint cannot honour yet, accepted by clap (hidden) so that using one is
//! refused by name with the reason, instead of clap's generic "unexpected argument".
//!
//! Every such flag takes an optional value after `=` (`--sk`, `--fulcio-url=URL`); a value
//! given after a space (`--fulcio-url URL`) is left as a positional argument, which does not
//! matter: the command stops at [`check`](KeylessSigningFlags::check) before using any.

const INTERACTIVE: &str = "interactive OIDC flows are not supported: keyless signing takes an identity \
token from --identity-token, SIGSTORE_ID_TOKEN or the GitHub Actions ambient token";
const INSECURE_FULCIO: &str = "TLS verification of Fulcio is never skipped";
const TSA_MTLS: &str = "client certificates for the timestamp authority are not supported; \
--timestamp-server-url alone is";
const TLOG: &str = "verification is offline: Rekor entries are checked from the bundle or layer \
against the trusted root (--trusted-root), never looked up in a log";
const TSA: &str = "RFC 3161 timestamps are not used to verify key signatures (keyless signing \
gets one with --timestamp-server-url); the RFC 3161 timestamps inside keyless bundles and .att \
layers are verified";
const HARDWARE: &str = "hardware security keys are not supported; use a cosign key file (--key)";
const CERT: &str =
    "certificates attached to key signatures are not supported yet; sign with --key alone";
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
    /// cosign's signing flags imprint does not implement: interactive OIDC flows, hardware
    /// keys, certificates for key signatures, mutual TLS to a timestamp authority.
    KeylessSigningFlags {
        fulcio_auth_flow = "fulcio-auth-flow" => INTERACTIVE,
        oidc_issuer = "oidc-issuer" => INTERACTIVE,
        oidc_client_id = "oidc-client-id" => INTERACTIVE,
        oidc_client_secret_file = "oidc-client-secret-file" => INTERACTIVE,
        oidc_redirect_url = "oidc-redirect-url" => INTERACTIVE,
        oidc_provider = "oidc-provider" => INTERACTIVE,
        oidc_disable_ambient_providers = "oidc-disable-ambient-providers" => INTERACTIVE,
        insecure_skip_verify = "insecure-skip-verify" => INSECURE_FULCIO,
        issue_certificate = "issue-certificate" => CERT,
        sk = "sk" => HARDWARE,
        slot = "slot" => HARDWARE,
        certificate = "certificate" => CERT,
        certificate_chain = "certificate-chain" => CERT,
        timestamp_client_cacert = "timestamp-client-cacert" => TSA_MTLS,
        timestamp_client_cert = "timestamp-client-cert" => TSA_MTLS,
        timestamp_client_key = "timestamp-client-key" => TSA_MTLS,
        timestamp_server_name = "timestamp-server-name" => TSA_MTLS,
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

/// The `--key` value, if any: without one, signing is keyless.
pub(crate) fn signing_key(key: Option<&str>) -> anyhow::Result<Option<imprint::keys::KeyRef>> {
    key.map(imprint::keys::KeyRef::parse)
        .transpose()
        .map_err(Into::into)
}

/// cosign's signing flags every signing command shares: keyless identity and services, the
/// transparency-log switch, `-y`, and the flags refused by name.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct SigningCompat {
    /// Upload the signature to Rekor (cosign's default is true). Keyless signatures are always
    /// logged (`=false` is refused with them); key signatures only with this flag, as imprint's
    /// default writes no tlog entry (`--tlog-upload=false`)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tlog_upload: Option<bool>,
    /// Keyless: the OIDC identity token, or a file holding it (default: SIGSTORE_ID_TOKEN, then
    /// the GitHub Actions ambient token for audience `sigstore`)
    #[arg(long, value_name = "TOKEN|FILE")]
    pub identity_token: Option<String>,
    /// Sigstore signing config (`signing_config.json` v0.2) naming Fulcio, Rekor (v1) and the
    /// timestamp authority; the single URL flags override it. Default: the public-good Fulcio
    /// and Rekor, no timestamp authority
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<std::path::PathBuf>,
    /// Accepted for cosign compatibility: a signing config is used exactly when
    /// --signing-config is given
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set, hide = true)]
    pub use_signing_config: Option<bool>,
    /// Keyless: Fulcio base URL
    #[arg(long, value_name = "URL")]
    pub fulcio_url: Option<String>,
    /// Rekor (v1) base URL, for keyless signatures and `--tlog-upload`
    #[arg(long, value_name = "URL")]
    pub rekor_url: Option<String>,
    /// RFC 3161 timestamp authority URL (the full URL requests are posted to); the timestamp
    /// over the signature is added to the bundle or `.sig` layer
    #[arg(long, value_name = "URL")]
    pub timestamp_server_url: Option<String>,
    /// Skip confirmation prompts (cosign's `-y`). imprint asks nothing except a key's
    /// password (IMPRINT_PASSWORD / COSIGN_PASSWORD avoid that), so this changes nothing
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Flags refused by name.
    #[command(flatten)]
    pub keyless: KeylessSigningFlags,
}

impl SigningCompat {
    /// Refuses unsupported flags and flag combinations; `keyless` is whether no key was given.
    pub(crate) fn check(&self, keyless: bool) -> anyhow::Result<()> {
        self.keyless.check()?;
        if keyless {
            if self.tlog_upload == Some(false) {
                anyhow::bail!(
                    "--tlog-upload=false is not supported for keyless signing: a Fulcio \
                     certificate lives minutes, and verifiers need the Rekor entry to know it \
                     was valid when the signature was made"
                );
            }
            return Ok(());
        }
        for (flag, given) in [
            ("--identity-token", self.identity_token.is_some()),
            ("--fulcio-url", self.fulcio_url.is_some()),
        ] {
            if given {
                anyhow::bail!(
                    "{flag} is for keyless signing: leave out --key, or leave out {flag}"
                );
            }
        }
        Ok(())
    }

    /// Whether a key signature is uploaded to Rekor.
    pub(crate) fn upload_key_signature(&self) -> bool {
        self.tlog_upload == Some(true)
    }

    /// The signing services these flags choose.
    #[cfg(feature = "keyless-sign")]
    pub(crate) fn services(&self) -> anyhow::Result<imprint::sign::keyless::Services> {
        use anyhow::Context as _;
        if self.use_signing_config == Some(true) && self.signing_config.is_none() {
            anyhow::bail!(
                "--use-signing-config needs --signing-config FILE: imprint fetches no signing \
                 config (TUF) by itself"
            );
        }
        let signing_config = self
            .signing_config
            .as_deref()
            .map(|p| {
                imprint::fs::read_limited(p, 1 << 20)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .with_context(|| format!("signing config {}", p.display()))
            })
            .transpose()?;
        Ok(imprint::sign::keyless::ServiceChoice {
            signing_config,
            fulcio: self.fulcio_url.clone(),
            rekor: self.rekor_url.clone(),
            tsa: self.timestamp_server_url.clone(),
        }
        .resolve()?)
    }
}

/// `--insecure-ignore-tlog[=BOOL]` of the verify commands.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct IgnoreTlog {
    /// cosign's flag: accept signatures without a transparency-log entry. With --key alone key
    /// signatures need none anyway; with --key and --trusted-root it turns off the required
    /// entry check; keyless signatures always need their Rekor proof, so `=true` with keyless
    /// flags is refused
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
            "note: --insecure-ignore-tlog: key signatures need no transparency-log entry; the \
             entries of key signatures (--tlog-upload) are not checked"
        );
        Ok(())
    }
}
