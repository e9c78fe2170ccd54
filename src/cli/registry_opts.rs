//! Registry flags shared by every command that talks to registries (cosign's names), and
//! cosign's root `--timeout`.

use std::sync::OnceLock;
use std::time::Duration;

use imprint::store::client::ALL_REGISTRIES;
use imprint::store::{Limits, RegistryConfig};

/// cosign's default `--timeout` (`3m0s`).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// cosign's default `--max-workers`.
pub(crate) const DEFAULT_MAX_WORKERS: usize = 10;

/// `--timeout`, set once by `main` (a root flag in cosign, so global here).
static TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Record the command line's `--timeout` (the first call wins).
pub(crate) fn set_timeout(timeout: Duration) {
    let _ = TIMEOUT.set(timeout);
}

/// `--timeout`, or cosign's default.
pub(crate) fn timeout() -> Duration {
    TIMEOUT.get().copied().unwrap_or(DEFAULT_TIMEOUT)
}

/// `COSIGN_MAX_ATTACHMENT_SIZE` (cosign's name), read once at startup: the largest
/// attachment (signature layer, envelope, bundle) fetched, in place of the 128 MiB default
/// of `Limits::max_blob_bytes`.
static MAX_ATTACHMENT: OnceLock<Option<u64>> = OnceLock::new();

/// Read `COSIGN_MAX_ATTACHMENT_SIZE`: bytes, as a decimal number with an optional unit
/// (`B`, `KB`/`MB`/`GB` powers of 1000, `KiB`/`MiB`/`GiB` powers of 1024, as cosign's
/// `humanize.ParseBytes`). A value that is not a size is an error, never ignored.
pub(crate) fn init_max_attachment() -> Result<(), String> {
    let value = match std::env::var("COSIGN_MAX_ATTACHMENT_SIZE") {
        Ok(v) if !v.trim().is_empty() => Some(parse_size(v.trim()).ok_or_else(|| {
            format!(
                "COSIGN_MAX_ATTACHMENT_SIZE=`{v}` is not a size in bytes (e.g. 268435456 or 256MiB)"
            )
        })?),
        _ => None,
    };
    let _ = MAX_ATTACHMENT.set(value);
    Ok(())
}

fn parse_size(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "mb" | "m" => 1000 * 1000,
        "gb" | "g" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// How to reach registries.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegistryOpts {
    /// Plain HTTP to registries. cosign's boolean: `--allow-http-registry` or `=true` for
    /// every registry of the command, `=false` for none; imprint also takes
    /// `--allow-http-registry=HOST[:PORT]` (repeatable) for one registry. The value needs
    /// `=`: `--allow-http-registry IMAGE` leaves IMAGE an image. Loopback registries
    /// (127.0.0.0/8, localhost, [::1]) always use plain HTTP
    #[arg(
        long = "allow-http-registry",
        value_name = "BOOL|HOST[:PORT]",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Append
    )]
    pub allow_http_registry: Vec<String>,

    /// Skip TLS certificate verification for registries (insecure: anyone on the network
    /// path can impersonate the registry; a warning is printed). `=false` turns it off
    #[arg(
        long = "allow-insecure-registry",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub allow_insecure_registry: bool,

    /// Most images a multi-image command works on at once (cosign's `--max-workers`, default
    /// 10). `verify --policy` decides that many images concurrently
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_WORKERS,
          value_parser = parse_workers)]
    pub max_workers: usize,
}

impl Default for RegistryOpts {
    fn default() -> Self {
        Self {
            allow_http_registry: Vec::new(),
            allow_insecure_registry: false,
            max_workers: DEFAULT_MAX_WORKERS,
        }
    }
}

fn parse_workers(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a positive number")),
    }
}

/// The registries `--allow-http-registry` values name: `true` is every registry, `false`
/// none (it cancels earlier values, as a later boolean flag does in cosign), anything else a
/// `HOST[:PORT]`.
fn http_registries(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        match v.as_str() {
            "true" => out.push(ALL_REGISTRIES.to_owned()),
            "false" => out.clear(),
            host => out.push(host.to_owned()),
        }
    }
    out.dedup();
    out
}

impl RegistryOpts {
    /// The limits these flags and `--timeout` ask for: the request and per-image timeouts
    /// are at most `--timeout`.
    pub(crate) fn limits(&self) -> Limits {
        let t = timeout();
        let mut limits = Limits::default();
        limits.image_timeout = t;
        limits.request_timeout = limits.request_timeout.min(t);
        limits.connect_timeout = limits.connect_timeout.min(t);
        if let Some(Some(max)) = MAX_ATTACHMENT.get() {
            limits.max_blob_bytes = *max;
        }
        limits
    }

    /// The registry configuration these flags ask for (docker config auth).
    pub(crate) fn to_config(&self) -> RegistryConfig {
        RegistryConfig {
            allow_http_registries: http_registries(&self.allow_http_registry),
            insecure_skip_tls_verify: self.allow_insecure_registry,
            limits: self.limits(),
            ..RegistryConfig::default()
        }
    }
}

/// Parse a Go duration as cosign's `--timeout` takes it: a sequence of decimal numbers with
/// units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h` (`3m0s`, `90s`, `1.5h`); `0` alone is zero.
pub(crate) fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration (e.g. 3m0s, 90s, 1h30m)");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {

    #[test]
    fn attachment_sizes_parse_like_cosign() {
        assert_eq!(parse_size("268435456"), Some(268_435_456));
        assert_eq!(parse_size("256MiB"), Some(256 << 20));
        assert_eq!(parse_size("1 GB"), Some(1_000_000_000));
        assert_eq!(parse_size("10kb"), Some(10_000));
        assert_eq!(parse_size("MiB"), None);
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999999GiB"), None);
    }
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
            "--allow-http-registry=reg.local:5000",
            "--allow-http-registry=other",
            "--allow-insecure-registry",
            "--max-workers",
            "3",
            "img",
        ])
        .unwrap();
        let config = cli.registry.to_config();
        assert_eq!(config.allow_http_registries, ["reg.local:5000", "other"]);
        assert!(config.insecure_skip_tls_verify);
        assert_eq!(cli.registry.max_workers, 3);
        assert_eq!(cli.image, ["img"]);
        assert!(Cli::try_parse_from(["x", "--max-workers", "0", "img"]).is_err());
    }

    #[test]
    fn allow_http_registry_is_cosigns_boolean_and_never_swallows_the_image() {
        let http = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).unwrap();
            (cli.registry.to_config().allow_http_registries, cli.image)
        };
        let all = vec![ALL_REGISTRIES.to_owned()];
        assert_eq!(
            http(&["x", "--allow-http-registry", "img"]),
            (all.clone(), vec!["img".to_owned()])
        );
        assert_eq!(http(&["x", "--allow-http-registry=true", "img"]).0, all);
        assert!(
            http(&["x", "--allow-http-registry=false", "img"])
                .0
                .is_empty()
        );
        assert!(
            http(&[
                "x",
                "--allow-http-registry",
                "--allow-http-registry=false",
                "img"
            ])
            .0
            .is_empty()
        );
        assert_eq!(
            http(&["x", "--allow-http-registry=reg:5000", "img"]).0,
            ["reg:5000"]
        );
        let cli = Cli::try_parse_from(["x", "--allow-insecure-registry=false", "i"]).unwrap();
        assert!(!cli.registry.allow_insecure_registry);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("3m0s").unwrap(), Duration::from_secs(180));
        assert_eq!(parse_go_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_go_duration("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "3", "m", "3x", "-1s", "1..2s", "s3"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}
