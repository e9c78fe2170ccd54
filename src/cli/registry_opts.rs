//! Registry flags shared by every command that talks to registries (cosign's names).

use imprint::store::{Limits, RegistryConfig};

/// How to reach registries.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RegistryOpts {
    /// Use plain HTTP for this registry (`host` or `host:port`); repeatable. Without a value
    /// (cosign's boolean form), plain HTTP for every registry. Loopback registries
    /// (127.0.0.0/8, localhost, [::1]) always use plain HTTP
    #[arg(
        long = "allow-http-registry",
        value_name = "HOST[:PORT]",
        num_args = 0..=1,
        default_missing_value = imprint::store::client::ALL_REGISTRIES,
        action = clap::ArgAction::Append
    )]
    pub allow_http_registry: Vec<String>,

    /// Skip TLS certificate verification for registries (insecure: anyone on the network
    /// path can impersonate the registry; a warning is printed)
    #[arg(long = "allow-insecure-registry")]
    pub allow_insecure_registry: bool,
}

impl RegistryOpts {
    /// The registry configuration these flags ask for (default limits, docker config auth).
    pub(crate) fn to_config(&self) -> RegistryConfig {
        RegistryConfig {
            allow_http_registries: self.allow_http_registry.clone(),
            insecure_skip_tls_verify: self.allow_insecure_registry,
            limits: Limits::default(),
            ..RegistryConfig::default()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        registry: RegistryOpts,
        image: Vec<String>,
    }

    #[test]
    fn parses_flags() {
        let cli = Cli::try_parse_from(["x", "img"]).unwrap();
        assert_eq!(cli.registry, RegistryOpts::default());
        let config = cli.registry.to_config();
        assert!(config.allow_http_registries.is_empty());
        assert!(!config.insecure_skip_tls_verify);

        let cli = Cli::try_parse_from([
            "x",
            "--allow-http-registry",
            "reg.local:5000",
            "--allow-http-registry=other",
            "--allow-insecure-registry",
            "img",
        ])
        .unwrap();
        let config = cli.registry.to_config();
        assert_eq!(config.allow_http_registries, ["reg.local:5000", "other"]);
        assert!(config.insecure_skip_tls_verify);
        assert_eq!(cli.image, ["img"]);

        // cosign's boolean form.
        let cli = Cli::try_parse_from(["x", "--allow-http-registry"]).unwrap();
        assert_eq!(
            cli.registry.allow_http_registry,
            [imprint::store::client::ALL_REGISTRIES]
        );
    }
}
