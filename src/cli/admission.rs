//! `imprint admission`: serve the admission webhook (`imprint::admission`) over HTTPS until
//! SIGTERM or ctrl-c. This file parses flags and builds the library's values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::Outcome;
use super::audit_log::AuditLogOpts;
use super::registry_opts::{RegistryOpts, parse_go_duration};
use imprint::admission::server::{Server, ServerConfig};
use imprint::admission::{PinMode, Webhook, WebhookOptions};
use imprint::gate::{SystemClock, Verifier};
use imprint::policy::Policy;
use imprint::store::AuthSource;
use imprint::trust::TrustRoot;
use imprint::trust::tuf::{self, TufSource};

const ADMISSION_HELP: &str = "Endpoints: POST /validate and POST /mutate (admission.k8s.io/v1 \
AdmissionReview), GET /healthz, /readyz, /metrics (Prometheus text). Pod (and \
pods/ephemeralcontainers), Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob and \
ReplicationController are checked on CREATE and UPDATE, by the same decision as \
`imprint verify --policy`; an UPDATE of an object being deleted, a scale-down and other kinds \
pass. /mutate pins each image written by tag to the verified digest (name:tag@sha256:...) \
unless --validate-only. The policy, keys and trust roots are read once, at start; the TLS \
certificate and key are read again when they change. See deploy/README.md.";

/// `imprint admission`.
#[derive(Debug, Args)]
#[command(after_help = ADMISSION_HELP)]
pub(crate) struct AdmissionArgs {
    /// The trust policy (YAML; see policies/README.md).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// PEM certificate chain the server presents (leaf first); read again when it changes.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// PEM private key of the certificate.
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Time budget of one request (a Go duration), below the webhook's `timeoutSeconds`
    /// (10 s by default): past it the images not yet decided are denied with reason `timeout`.
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = parse_go_duration)]
    pub budget: Duration,
    /// Do not patch: deny images written without a digest (`digest-required`), reporting the
    /// digest their tag resolves to.
    #[arg(long)]
    pub validate_only: bool,
    /// Bytes of verified evidence kept (keyed by digest, authority and trust root; 0
    /// disables).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    pub cache_bytes: usize,
    /// How long verified evidence is reused (a Go duration; 0 disables).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_go_duration)]
    pub cache_ttl: Duration,
    /// Directory holding the registry credentials' `config.json` (a mounted
    /// `kubernetes.io/dockerconfigjson` secret); default: `$DOCKER_CONFIG`, else
    /// `~/.docker`.
    #[arg(long, value_name = "DIR")]
    pub docker_config: Option<PathBuf>,
    /// Registry connection options.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// Decision log (`--audit-log DIR --audit-log-key FILE [--audit-log-origin O]`).
    #[command(flatten)]
    pub audit_log: AuditLogOpts,
    /// A checkpoint of the decision log after this many records.
    #[arg(long, value_name = "N", default_value_t = 256, requires = "audit_log",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_log_checkpoint_every: u64,
    /// A checkpoint of the decision log when this long has passed since the last one and
    /// records came since (a Go duration; checked every second, and at shutdown).
    #[arg(long, value_name = "DURATION", default_value = "1m", requires = "audit_log",
          value_parser = parse_go_duration)]
    pub audit_log_checkpoint_interval: Duration,
    /// Refresh the Sigstore trust root over TUF this often, in the background (a Go
    /// duration; 0, the default, never): each newly verified root replaces the one the
    /// policy names `--tuf-trust-root` for requests that arrive afterwards; a failed refresh
    /// keeps the current root. Trust material is never fetched on the request path.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_go_duration)]
    pub trust_root_refresh: Duration,
    /// The TUF repository to refresh from (default: Sigstore's public-good CDN).
    #[arg(long, value_name = "URL", requires = "tuf_root")]
    pub tuf_mirror: Option<String>,
    /// The `--tuf-mirror` repository's `root.json`, obtained out of band.
    #[arg(long, value_name = "ROOT.json", requires = "tuf_mirror")]
    pub tuf_root: Option<PathBuf>,
    /// TUF cache directory (default: `$XDG_CACHE_HOME/imprint/tuf/<host>[_<port>]`, as
    /// `imprint trust-root update` uses).
    #[arg(long, value_name = "DIR")]
    pub tuf_cache: Option<PathBuf>,
    /// The policy's trust-root name the refreshed root stands for.
    #[arg(long, value_name = "NAME", default_value = "public-good")]
    pub tuf_trust_root: String,
}

/// Run `imprint admission` until a signal.
pub(crate) async fn run(args: AdmissionArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(!args.budget.is_zero(), "--budget must be more than 0");
    let policy = Policy::from_path(&args.policy)
        .with_context(|| format!("cannot load policy `{}`", args.policy.display()))?;
    let mut registry = args.registry.to_config();
    // No registry request and no image may outlast the request's budget.
    registry.limits.image_timeout = args.budget;
    registry.limits.request_timeout = registry.limits.request_timeout.min(args.budget);
    registry.limits.connect_timeout = registry.limits.connect_timeout.min(args.budget);
    if let Some(dir) = &args.docker_config {
        registry.auth = AuthSource::DockerConfigDir(dir.clone());
    }
    let max_body_bytes = registry.limits.max_admission_body_bytes;
    // Opened before serving: a bad key or a tampered log stops the start.
    let every = args.audit_log_checkpoint_every;
    let interval = args.audit_log_checkpoint_interval;
    anyhow::ensure!(
        args.audit_log.audit_log.is_none() || !interval.is_zero(),
        "--audit-log-checkpoint-interval must be more than 0"
    );
    let log = args.audit_log.open(|o| {
        o.checkpoint_every = every;
        o.checkpoint_interval = interval;
    })?;
    let build = {
        let (cache_bytes, cache_ttl) = (args.cache_bytes, args.cache_ttl);
        move |root: Option<(&str, Arc<TrustRoot>)>| {
            let mut builder = Verifier::builder(policy.clone())
                .registry(registry.clone())
                .evidence_cache(cache_bytes, cache_ttl);
            if let Some((name, root)) = root {
                builder = builder.trust_root(name, root);
            }
            builder.build()
        }
    };
    // With a refresh, the source's cache is the root's home from the start: what an earlier
    // run verified there is used until the first refresh succeeds.
    let tuf = if args.trust_root_refresh.is_zero() {
        None
    } else {
        let source = match (&args.tuf_mirror, &args.tuf_root) {
            (Some(mirror), Some(root)) => TufSource::custom_from_file(mirror, root)?,
            _ => TufSource::public_good()?,
        };
        Some(match &args.tuf_cache {
            Some(dir) => source.with_cache_dir(dir.clone()),
            None => source,
        })
    };
    let cached = match &tuf {
        Some(source) => tuf::load_cached(source.cache_dir())
            .with_context(|| format!("TUF cache {}", source.cache_dir().display()))?
            .map(Arc::new),
        None => None,
    };
    let verifier = build(cached.map(|root| (args.tuf_trust_root.as_str(), root)))
        .context("cannot set up verification")?;
    let options = WebhookOptions::default()
        .budget(args.budget)
        .pin(if args.validate_only {
            PinMode::ValidateOnly
        } else {
            PinMode::Patch
        })
        .max_body_bytes(max_body_bytes);
    let mut webhook = Webhook::new(verifier, options);
    if let Some(log) = log {
        webhook = webhook.with_decision_log(Arc::new(log));
    }
    let webhook = Arc::new(webhook);
    let server = Server::bind(&ServerConfig {
        listen: args.listen,
        cert: args.tls_cert,
        key: args.tls_key,
    })
    .await
    .context("cannot start the admission server")?;
    let addr = server
        .local_addr()
        .context("cannot read the bound address")?;
    eprintln!("imprint admission: listening on https://{addr}");
    let refresher = if let Some(source) = tuf {
        let name = args.tuf_trust_root.clone();
        let webhook = webhook.clone();
        eprintln!(
            "imprint admission: refreshing trust root `{name}` from {} every {:?}",
            source.mirror(),
            args.trust_root_refresh
        );
        Some(tuf::spawn_refresher(
            source,
            args.trust_root_refresh,
            Arc::new(SystemClock),
            move |root| {
                let origin = root.origin().to_owned();
                let hash = root.hash();
                match build(Some((&name, root))) {
                    Ok(verifier) => {
                        webhook.replace_verifier(verifier);
                        eprintln!("imprint admission: trust root `{name}` now {origin} ({hash})");
                    }
                    Err(e) => tracing::warn!(
                        "trust root `{name}` from {origin} not used, keeping the current one: {e}"
                    ),
                }
            },
            |e| tracing::warn!("trust-root refresh failed, keeping the current root: {e}"),
        ))
    } else {
        None
    };
    let timer = {
        let webhook = webhook.clone();
        let period = interval.min(Duration::from_secs(1));
        tokio::spawn(async move { webhook.run_checkpoints(period).await })
    };
    server.serve(webhook.clone(), shutdown_signal()).await;
    timer.abort();
    if let Some(r) = refresher {
        r.abort();
    }
    // The final checkpoint: every record logged is sealed before the process exits.
    webhook
        .seal_log()
        .await
        .context("cannot make the decision log's final checkpoint")?;
    Ok(Outcome::Success)
}

/// SIGTERM (what the kubelet sends) or ctrl-c.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
