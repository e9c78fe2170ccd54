//! Registry connection flags shared by every command that talks to a registry.

use imprint::registry::RegistryConfig;

/// `--allow-http-registry`, `--allow-insecure-registry`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RegistryOpts {
    /// Talk plain HTTP to this registry (`host` or `host:port`; repeatable). Loopback
    /// registries (127.0.0.0/8, localhost, [::1]) always use HTTP.
    #[arg(long)]
    pub allow_http_registry: Vec<String>,
    /// Skip TLS certificate verification for registries (insecure; a warning is printed).
    #[arg(long)]
    pub allow_insecure_registry: bool,
}

impl RegistryOpts {
    /// The library configuration for these flags.
    pub fn to_config(&self) -> RegistryConfig {
        RegistryConfig {
            allow_http_registries: self.allow_http_registry.clone(),
            insecure_skip_tls_verify: self.allow_insecure_registry,
            ..RegistryConfig::default()
        }
    }
}
