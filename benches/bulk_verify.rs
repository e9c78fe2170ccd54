//! Bulk verification benchmark (issue 6, "Benchmark"): imprint against the registry's own
//! bound and against sigstore-rs, on a loopback registry, in one process.
//!
//! Run it with `bash bench/run.sh` (see `bench/README.md`). Environment:
//! - `N` images (default 1000), `CONCURRENCY` (default 8, used by imprint and the peer),
//! - `ROUNDS` measured rounds (default 3; medians are reported),
//! - `AB_REQUESTS` requests per URL for `ab` (default 2000),
//! - `IMPRINT_BIN`: a release `imprint` binary; when set, `imprint verify --key` on one image is
//!   timed with hyperfine (or a 20-run loop when hyperfine is missing).
//!
//! Prints a summary and writes it as JSON to `bench/out/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imprint::format::digest::Digest;
use imprint::format::reference::ImageRef;
use imprint::gate::Verifier;
use imprint::keys::SigningKey;
use imprint::policy::{Outcome, Policy};
use imprint::sign::{SignOptions, sign_image};
use imprint::store::{AuthSource, Client, ManifestRef, RegistryConfig, Repository};
use serde_json::{Value, json};
use support::proxy::Proxy;
use tokio::sync::Semaphore;

const ACCEPT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json,\
application/vnd.oci.image.index.v1+json,\
application/vnd.docker.distribution.manifest.v2+json,\
application/vnd.docker.distribution.manifest.list.v2+json";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// CPU accounting from /proc: this process (the client), the registry process, the machine.
#[derive(Clone)]
struct Meter {
    registry_port: u16,
    registry_pid: Option<String>,
    ticks_per_s: f64,
}

#[derive(Clone, Copy)]
struct Snapshot {
    wall: Instant,
    client: f64,
    registry: f64,
    machine_busy: f64,
    machine_total: f64,
    /// TCP sockets to the registry port (any state, TIME_WAIT included).
    sockets: usize,
}

impl Meter {
    fn new(registry_dir: &Path, registry_addr: &str) -> Self {
        let registry_port = registry_addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(0);
        let ticks_per_s = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0);
        let dir = registry_dir.display().to_string();
        let registry_pid = std::fs::read_dir("/proc").ok().and_then(|entries| {
            entries.flatten().find_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                (cmd.starts_with(support::REGISTRY_BIN) && cmd.contains(&dir)).then_some(name)
            })
        });
        Self {
            registry_port,
            registry_pid,
            ticks_per_s,
        }
    }

    /// utime + stime of a process, seconds.
    fn proc_cpu(&self, pid: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(") ")?.1.to_owned();
                let f: Vec<&str> = rest.split_whitespace().collect();
                let u: f64 = f.get(11)?.parse().ok()?;
                let k: f64 = f.get(12)?.parse().ok()?;
                Some((u + k) / self.ticks_per_s)
            })
            .unwrap_or(f64::NAN)
    }

    /// Client-side TCP sockets whose remote port is the registry's (from /proc/net/tcp).
    fn sockets(&self) -> usize {
        let port = format!(":{:04X}", self.registry_port);
        std::fs::read_to_string("/proc/net/tcp")
            .map(|t| {
                t.lines()
                    .skip(1)
                    .filter(|l| {
                        l.split_whitespace()
                            .nth(2)
                            .is_some_and(|r| r.ends_with(&port))
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    fn snapshot(&self) -> Snapshot {
        let (busy, total) = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                let line = s.lines().next()?.to_owned();
                let v: Vec<f64> = line
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                let total: f64 = v.iter().take(8).sum();
                let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
                Some(((total - idle) / self.ticks_per_s, total / self.ticks_per_s))
            })
            .unwrap_or((f64::NAN, f64::NAN));
        Snapshot {
            wall: Instant::now(),
            client: self.proc_cpu("self"),
            registry: self
                .registry_pid
                .as_deref()
                .map_or(f64::NAN, |p| self.proc_cpu(p)),
            machine_busy: busy,
            machine_total: total,
            sockets: self.sockets(),
        }
    }

    /// CPU used since `start`, per image (ms) and as a share of the machine.
    fn since(&self, start: Snapshot, images: usize) -> Value {
        let end = self.snapshot();
        let n = images as f64;
        let client = end.client - start.client;
        let registry = end.registry - start.registry;
        let busy = end.machine_busy - start.machine_busy;
        let total = end.machine_total - start.machine_total;
        json!({
            "wall_s": round2(end.wall.duration_since(start.wall).as_secs_f64()),
            "client_cpu_ms_per_image": round3(client * 1000.0 / n),
            "registry_cpu_ms_per_image": round3(registry * 1000.0 / n),
            "other_processes_cpu_ms_per_image": round3((busy - client - registry) * 1000.0 / n),
            "machine_busy_fraction": round2(busy / total),
            "client_sockets_to_registry_before": start.sockets,
            "client_sockets_to_registry_after": end.sockets,
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

struct Setup {
    _process: support::RegistryProcess,
    meter: Meter,
    registry: String,
    key_pem: String,
    key_file: PathBuf,
    /// `bench/app-<i>` repositories, one image tagged `v1` in each.
    repos: Vec<String>,
    first_digest: Digest,
    first_payload: Digest,
}

async fn setup(n: usize, concurrency: usize, dir: &Path) -> Setup {
    let process = support::start_registry(support::RegistryOptions::default());
    let meter = Meter::new(process.dir(), process.addr());
    let registry = process.addr().to_owned();
    let client = Client::new(RegistryConfig {
        auth: AuthSource::Anonymous,
        ..RegistryConfig::default()
    })
    .expect("client");
    let key = Arc::new(SigningKey::generate_p256().expect("key"));
    let key_pem = key.public_key().to_pem();
    let key_file = dir.join("bench.pub");
    std::fs::write(&key_file, &key_pem).expect("write public key");
    let repos: Vec<String> = (0..n).map(|i| format!("bench/app-{i}")).collect();
    let sem = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(n);
    for repo in &repos {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let client = client.clone();
        let key = key.clone();
        let image = ImageRef::parse(&format!("{registry}/{repo}:v1")).expect("reference");
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let repository = client.repository(&image).expect("repository");
            let digest = support::push_image_to(&repository, Some("v1"), ("amd64", "linux")).await;
            let done = sign_image(&client, &image, &key, &SignOptions::default())
                .await
                .expect("sign");
            assert_eq!(done.len(), 1);
            assert_eq!(done[0].digest, digest);
            digest
        }));
    }
    let mut digests = Vec::with_capacity(n);
    for t in tasks {
        digests.push(t.await.expect("setup task"));
    }
    // The payload blob of the first image's signature, for the `ab` bound.
    let first = ImageRef::parse(&format!("{registry}/{}:v1", repos[0])).expect("reference");
    let repository = client.repository(&first).expect("repository");
    let sig_tag = format!("{}.sig", digests[0].tag_base());
    let sig = repository
        .get_manifest(ManifestRef::Tag(&sig_tag))
        .await
        .expect("get .sig manifest")
        .expect(".sig manifest exists");
    let sig_json: Value = serde_json::from_slice(&sig.bytes).expect(".sig manifest json");
    let layers = sig_json["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "one signature layer per image");
    let first_payload: Digest = layers[0]["digest"]
        .as_str()
        .expect("layer digest")
        .parse()
        .expect("digest");
    Setup {
        _process: process,
        meter,
        registry,
        key_pem,
        key_file,
        repos,
        first_digest: digests[0].clone(),
        first_payload,
    }
}

/// One `ab` run: requests per second, failures, registry CPU per request.
fn ab(
    meter: &Meter,
    url: &str,
    requests: usize,
    concurrency: usize,
    accept: Option<&str>,
) -> Value {
    let mut cmd = Command::new("ab");
    cmd.arg("-k")
        .arg("-q")
        .arg("-c")
        .arg(concurrency.to_string())
        .arg("-n")
        .arg(requests.to_string());
    if let Some(a) = accept {
        cmd.arg("-H").arg(format!("Accept: {a}"));
    }
    cmd.arg(url);
    let before = meter.snapshot();
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => return json!({"url": url, "error": format!("cannot run ab: {e}")}),
    };
    let after = meter.snapshot();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l[name.len()..].split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    json!({
        "url": url,
        "requests_per_s": field("Requests per second:"),
        "complete": field("Complete requests:"),
        "failed": field("Failed requests:"),
        "non_2xx": field("Non-2xx responses:").unwrap_or(0.0),
        "registry_cpu_ms_per_request":
            round3((after.registry - before.registry) * 1000.0 / requests as f64),
        "exit": out.status.code(),
    })
}

/// Images per second when each image costs one request of each rate, served one after another
/// by the CPU-bound registry: 1 / (1/r1 + 1/r2 + ...).
fn images_per_s(parts: &[&Value]) -> Option<f64> {
    let mut per_image = 0.0;
    for p in parts {
        let r = p["requests_per_s"].as_f64().filter(|r| *r > 0.0)?;
        per_image += 1.0 / r;
    }
    Some(1.0 / per_image)
}

/// The registry bound: `ab` on the three URLs a legacy verification fetches, plus the two a
/// full discovery adds on this registry (referrers API, 404 here, and the referrers tag-schema
/// fallback `sha256-<hex>`, also 404).
fn registry_bound(s: &Setup, requests: usize, concurrency: usize) -> Value {
    let base = format!("http://{}/v2/{}", s.registry, s.repos[0]);
    let m = &s.meter;
    let manifest = ab(
        m,
        &format!("{base}/manifests/v1"),
        requests,
        concurrency,
        Some(ACCEPT_MANIFEST),
    );
    let sig = ab(
        m,
        &format!("{base}/manifests/{}.sig", s.first_digest.tag_base()),
        requests,
        concurrency,
        Some(ACCEPT_MANIFEST),
    );
    let blob = ab(
        m,
        &format!("{base}/blobs/{}", s.first_payload),
        requests,
        concurrency,
        None,
    );
    let referrers = ab(
        m,
        &format!("{base}/referrers/{}", s.first_digest),
        requests,
        concurrency,
        Some("application/vnd.oci.image.index.v1+json"),
    );
    let fallback = ab(
        m,
        &format!("{base}/manifests/{}", s.first_digest.tag_base()),
        requests,
        concurrency,
        Some(ACCEPT_MANIFEST),
    );
    json!({
        "manifest_by_tag": manifest,
        "sig_manifest": sig,
        "payload_blob": blob,
        "referrers_404": referrers,
        "referrers_tag_fallback_404": fallback,
        "images_per_s": images_per_s(&[&manifest, &sig, &blob]),
        "images_per_s_5_requests": images_per_s(&[&manifest, &sig, &blob, &referrers, &fallback]),
    })
}

fn policy(s: &Setup, format: &str) -> Policy {
    let yaml = format!(
        "apiVersion: imprint.dev/v1\n\
         kind: TrustPolicy\n\
         spec:\n  \
           noMatch: deny\n  \
           authorities:\n    \
             bench-key: {{key: {{file: bench.pub}}{fmt}}}\n  \
           rules:\n    \
             - name: bench\n      \
               images: [\"**\"]\n      \
               signatures: {{authority: bench-key}}\n",
        fmt = if format == "legacy" {
            ", signatureFormat: legacy"
        } else {
            ""
        },
    );
    let dir = s.key_file.parent().expect("key dir");
    Policy::from_str_with_base(&yaml, dir).expect("policy")
}

fn refs(registry: &str, repos: &[String]) -> Vec<ImageRef> {
    repos
        .iter()
        .map(|r| ImageRef::parse(&format!("{registry}/{r}:v1")).expect("reference"))
        .collect()
}

fn verifier(s: &Setup, format: &str, concurrency: usize, decision_ttl: Duration) -> Verifier {
    Verifier::builder(policy(s, format))
        .registry(RegistryConfig {
            auth: AuthSource::Anonymous,
            ..RegistryConfig::default()
        })
        .concurrency(concurrency)
        .decision_ttl(decision_ttl)
        .build()
        .expect("verifier")
}

/// Verify all with a fresh verifier; (seconds, allowed count).
async fn imprint_cold(
    s: &Setup,
    format: &str,
    images: &[ImageRef],
    concurrency: usize,
) -> (f64, usize) {
    let v = verifier(s, format, concurrency, Duration::ZERO);
    let start = Instant::now();
    let decisions = v.verify_all(images).await;
    let secs = start.elapsed().as_secs_f64();
    let allowed = decisions
        .iter()
        .filter(|d| d.outcome() == Outcome::Allowed)
        .count();
    if allowed != images.len()
        && let Some(d) = decisions.iter().find(|d| d.outcome() != Outcome::Allowed)
    {
        eprintln!(
            "imprint ({format}): {} of {} not allowed, e.g. {}: {:?}",
            images.len() - allowed,
            images.len(),
            d.reference(),
            d.reason()
        );
    }
    (secs, allowed)
}

/// The peer: sigstore-rs 0.15's cosign client, one client per concurrent slot (its methods take
/// `&mut self`), tasks bounded by a semaphore; (seconds, verified count).
async fn peer(key_pem: &str, registry: &str, repos: &[String], concurrency: usize) -> (f64, usize) {
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
    use sigstore::cosign::{ClientBuilder, CosignCapabilities};
    use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

    let clients = Arc::new(std::sync::Mutex::new(
        (0..concurrency)
            .map(|_| {
                let config = ClientConfig {
                    protocol: ClientProtocol::Http,
                    ..ClientConfig::default()
                };
                ClientBuilder::default()
                    .with_oci_client_config(config)
                    .build()
                    .expect("sigstore client")
            })
            .collect::<Vec<_>>(),
    ));
    let key = Arc::new(key_pem.as_bytes().to_vec());
    let sem = Arc::new(Semaphore::new(concurrency));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(repos.len());
    for repo in repos {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let clients = clients.clone();
        let key = key.clone();
        let reference: OciReference = format!("{registry}/{repo}:v1").parse().expect("oci ref");
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let mut client = clients
                .lock()
                .expect("client pool")
                .pop()
                .expect("a client per permit");
            let layers = client
                .trusted_signature_layers(&Auth::Anonymous, &reference)
                .await;
            clients.lock().expect("client pool").push(client);
            let layers = match layers {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("peer: {reference}: {e}");
                    return false;
                }
            };
            let constraints: VerificationConstraintVec = vec![Box::new(
                PublicKeyVerifier::try_from(&key).expect("peer key"),
            )];
            sigstore::cosign::verify_constraints(&layers, constraints.iter()).is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("peer task") {
            ok += 1;
        }
    }
    (start.elapsed().as_secs_f64(), ok)
}

/// Requests seen by the proxy, per image and by kind.
fn request_counts(proxy: &Proxy, n: usize) -> Value {
    let log = proxy.requests();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for r in &log {
        *by_kind
            .entry(format!("{} {:?}", r.method, r.kind))
            .or_default() += 1;
    }
    let pings = log
        .iter()
        .filter(|r| r.kind == support::proxy::Kind::Ping)
        .count();
    let per_kind: BTreeMap<String, f64> = by_kind
        .iter()
        .map(|(k, v)| (k.clone(), round2(*v as f64 / n as f64)))
        .collect();
    let example: Vec<String> = log
        .iter()
        .filter(|r| r.path.starts_with("/v2/bench/app-0/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    json!({
        "total": log.len(),
        "image_0_requests": example,
        "per_image": round2(log.len() as f64 / n as f64),
        "per_image_excluding_pings": round2((log.len() - pings) as f64 / n as f64),
        "pings_total": pings,
        "by_kind_total": by_kind,
        "by_kind_per_image": per_kind,
    })
}

/// `imprint verify --key` on one image, repeated: hyperfine when present, else a 20-run loop.
fn cli_timing(bin: &Path, key: &Path, image: &str, dir: &Path) -> Value {
    let check = Command::new(bin)
        .arg("verify")
        .arg("--key")
        .arg(key)
        .arg(image)
        .output();
    match check {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return json!({"error": format!(
                "`imprint verify` exited with {:?}: {}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            )});
        }
        Err(e) => return json!({"error": format!("cannot run {}: {e}", bin.display())}),
    }
    let command = format!("{} verify --key {} {image}", bin.display(), key.display());
    let export = dir.join("hyperfine.json");
    let hyper = Command::new("hyperfine")
        .args(["-N", "--warmup", "3", "--runs", "30", "--export-json"])
        .arg(&export)
        .arg(&command)
        .output();
    if let Ok(o) = hyper
        && o.status.success()
        && let Ok(text) = std::fs::read_to_string(&export)
        && let Ok(v) = serde_json::from_str::<Value>(&text)
    {
        let r = &v["results"][0];
        let ms = |k: &str| r[k].as_f64().map(|s| round2(s * 1000.0));
        return json!({
            "tool": "hyperfine -N --warmup 3 --runs 30",
            "command": command,
            "mean_ms": ms("mean"),
            "stddev_ms": ms("stddev"),
            "median_ms": ms("median"),
            "min_ms": ms("min"),
            "max_ms": ms("max"),
        });
    }
    let mut times = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let ok = Command::new(bin)
            .arg("verify")
            .arg("--key")
            .arg(key)
            .arg(image)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return json!({"error": "`imprint verify` failed during the timing loop"});
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    json!({
        "tool": "loop of 20 runs",
        "command": command,
        "mean_ms": round2(times.iter().sum::<f64>() / times.len() as f64),
        "median_ms": round2(median(&times)),
        "min_ms": round2(times.iter().copied().fold(f64::INFINITY, f64::min)),
        "max_ms": round2(times.iter().copied().fold(0.0, f64::max)),
    })
}

async fn run() {
    let n = env_usize("N", 1000);
    let concurrency = env_usize("CONCURRENCY", 8);
    let rounds = env_usize("ROUNDS", 3);
    let ab_requests = env_usize("AB_REQUESTS", 2000);
    let load_start = loadavg();
    let dir = tempfile::tempdir().expect("tempdir");
    eprintln!("bench: N={n} concurrency={concurrency} rounds={rounds}; load {load_start}");

    let t = Instant::now();
    let s = setup(n, concurrency, dir.path()).await;
    let setup_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "setup: pushed and signed {n} images in {setup_secs:.1} s on {}",
        s.registry
    );
    let images = refs(&s.registry, &s.repos);

    // Measured rounds, interleaved so that load changes hit every contender alike.
    let mut bound_runs = Vec::new();
    let mut legacy_rates = Vec::new();
    let mut any_rates = Vec::new();
    let mut peer_rates = Vec::new();
    let mut failures = Vec::new();
    let mut cpu: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for round in 0..rounds {
        let bound = tokio::task::block_in_place(|| registry_bound(&s, ab_requests, concurrency));
        let t = s.meter.snapshot();
        let (secs, ok) = imprint_cold(&s, "legacy", &images, concurrency).await;
        cpu.entry("imprint_legacy")
            .or_default()
            .push(s.meter.since(t, n));
        legacy_rates.push(n as f64 / secs);
        if ok != n {
            failures.push(format!("round {round}: imprint legacy allowed {ok}/{n}"));
        }
        let t = s.meter.snapshot();
        let (secs, ok) = imprint_cold(&s, "any", &images, concurrency).await;
        cpu.entry("imprint_any")
            .or_default()
            .push(s.meter.since(t, n));
        any_rates.push(n as f64 / secs);
        if ok != n {
            failures.push(format!("round {round}: imprint any allowed {ok}/{n}"));
        }
        let t = s.meter.snapshot();
        let (secs, ok) = peer(&s.key_pem, &s.registry, &s.repos, concurrency).await;
        cpu.entry("sigstore_rs")
            .or_default()
            .push(s.meter.since(t, n));
        peer_rates.push(n as f64 / secs);
        if ok != n {
            failures.push(format!("round {round}: sigstore-rs verified {ok}/{n}"));
        }
        eprintln!(
            "round {round}: bound {:.0} img/s; imprint legacy {:.0}, any {:.0}; sigstore-rs {:.0} img/s; load {}",
            bound["images_per_s"].as_f64().unwrap_or(f64::NAN),
            legacy_rates[round],
            any_rates[round],
            peer_rates[round],
            loadavg()
        );
        bound_runs.push(bound);
    }
    let bound_rates: Vec<f64> = bound_runs
        .iter()
        .filter_map(|b| b["images_per_s"].as_f64())
        .collect();
    let bound5_rates: Vec<f64> = bound_runs
        .iter()
        .filter_map(|b| b["images_per_s_5_requests"].as_f64())
        .collect();

    // Warm: a verifier caching decisions; prime it, then time cached decisions.
    let warm = verifier(&s, "any", concurrency, Duration::from_secs(600));
    let primed = warm.verify_all(&images).await;
    let primed_ok = primed
        .iter()
        .filter(|d| d.outcome() == Outcome::Allowed)
        .count();
    let start = Instant::now();
    let again = warm.verify_all(&images).await;
    let warm_all_secs = start.elapsed().as_secs_f64();
    let warm_ok = again
        .iter()
        .filter(|d| d.outcome() == Outcome::Allowed)
        .count();
    let start = Instant::now();
    let mut seq_ok = 0;
    for image in &images {
        if warm.verify(image).await.outcome() == Outcome::Allowed {
            seq_ok += 1;
        }
    }
    let warm_seq_secs = start.elapsed().as_secs_f64();
    if primed_ok != n || warm_ok != n || seq_ok != n {
        failures.push(format!(
            "warm: allowed primed {primed_ok}, verify_all {warm_ok}, sequential {seq_ok} of {n}"
        ));
    }

    // Requests per image, through the counting proxy (separate runs: the proxy costs CPU).
    let proxy = Proxy::start(&s.registry).await;
    let proxied = refs(proxy.addr(), &s.repos);
    let mut counts = serde_json::Map::new();
    for format in ["legacy", "any"] {
        proxy.reset();
        let (_, ok) = imprint_cold(&s, format, &proxied, concurrency).await;
        if ok != n {
            failures.push(format!("proxy: imprint {format} allowed {ok}/{n}"));
        }
        counts.insert(format!("imprint_{format}"), request_counts(&proxy, n));
    }
    // Warm through the proxy: how many requests do cached decisions still make?
    let warm_proxy = verifier(&s, "any", concurrency, Duration::from_secs(600));
    let _ = warm_proxy.verify_all(&proxied).await;
    proxy.reset();
    let _ = warm_proxy.verify_all(&proxied).await;
    counts.insert("imprint_warm".into(), request_counts(&proxy, n));
    proxy.reset();
    let (_, ok) = peer(&s.key_pem, proxy.addr(), &s.repos, concurrency).await;
    if ok != n {
        failures.push(format!("proxy: sigstore-rs verified {ok}/{n}"));
    }
    counts.insert("sigstore_rs".into(), request_counts(&proxy, n));

    // The CLI on one image.
    let cli = match std::env::var_os("IMPRINT_BIN") {
        Some(bin) => tokio::task::block_in_place(|| {
            cli_timing(
                Path::new(&bin),
                &s.key_file,
                &format!("{}/{}:v1", s.registry, s.repos[0]),
                dir.path(),
            )
        }),
        None => json!({"skipped": "IMPRINT_BIN not set"}),
    };

    let bound = median(&bound_rates);
    let bound5 = median(&bound5_rates);
    let legacy = median(&legacy_rates);
    let any = median(&any_rates);
    let peer_rate = median(&peer_rates);
    let us_all = warm_all_secs * 1e6 / n as f64;
    let us_seq = warm_seq_secs * 1e6 / n as f64;
    let per_image = |k: &str| counts[k]["per_image"].as_f64().unwrap_or(f64::NAN);
    let summary = json!({
        "n": n,
        "concurrency": concurrency,
        "rounds": rounds,
        "ab_requests_per_url": ab_requests,
        "setup_secs": round2(setup_secs),
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "registry_bound": {
            "images_per_s_median": round2(bound),
            "images_per_s_5_requests_median": round2(bound5),
            "rounds": bound_runs,
        },
        "imprint_cold_legacy": {
            "images_per_s_median": round2(legacy),
            "rounds": legacy_rates.iter().map(|x| round2(*x)).collect::<Vec<_>>(),
            "time_vs_bound": round2(bound / legacy),
        },
        "imprint_cold_any": {
            "images_per_s_median": round2(any),
            "rounds": any_rates.iter().map(|x| round2(*x)).collect::<Vec<_>>(),
            "time_vs_bound": round2(bound / any),
            "time_vs_5_request_bound": round2(bound5 / any),
        },
        "sigstore_rs": {
            "images_per_s_median": round2(peer_rate),
            "rounds": peer_rates.iter().map(|x| round2(*x)).collect::<Vec<_>>(),
        },
        "ratio_imprint_any_over_peer": round2(any / peer_rate),
        "ratio_imprint_legacy_over_peer": round2(legacy / peer_rate),
        "imprint_warm": {
            "verify_all_images_per_s": round2(n as f64 / warm_all_secs),
            "us_per_cached_decision_verify_all": round2(us_all),
            "us_per_cached_decision_sequential": round2(us_seq),
        },
        "requests": counts,
        "cpu_per_round": cpu,
        "cli_verify_one_image": cli,
        "failures": failures,
        "targets": {
            "requests_per_image_any_le_5": per_image("imprint_any") <= 5.0,
            "requests_per_image_legacy_le_3": per_image("imprint_legacy") <= 3.0,
            "within_1_2x_of_bound_legacy": bound / legacy <= 1.2,
            "at_least_3x_peer_any": any / peer_rate >= 3.0,
            "cached_decision_under_50us_sequential": us_seq < 50.0,
        },
    });

    println!(
        "== imprint bulk verify benchmark (N={n}, concurrency {concurrency}, median of {rounds} rounds) =="
    );
    println!("registry bound (ab -k -c {concurrency}, 3 requests/image): {bound:.0} images/s");
    for (i, b) in bound_runs.iter().enumerate() {
        println!(
            "  round {i}: manifest {:.0}/s, .sig manifest {:.0}/s, payload blob {:.0}/s",
            b["manifest_by_tag"]["requests_per_s"]
                .as_f64()
                .unwrap_or(f64::NAN),
            b["sig_manifest"]["requests_per_s"]
                .as_f64()
                .unwrap_or(f64::NAN),
            b["payload_blob"]["requests_per_s"]
                .as_f64()
                .unwrap_or(f64::NAN),
        );
    }
    println!(
        "imprint cold, legacy-only policy: {legacy:.0} images/s = {:.2}x the bound's time",
        bound / legacy
    );
    println!(
        "imprint cold, full discovery:     {any:.0} images/s = {:.2}x the bound's time",
        bound / any
    );
    println!(
        "  (bound for full discovery's 5 requests/image: {bound5:.0} images/s; imprint = {:.2}x its time)",
        bound5 / any
    );
    println!("sigstore-rs 0.15 peer:            {peer_rate:.0} images/s");
    println!(
        "ratio imprint/peer: {:.2}x (full discovery), {:.2}x (legacy-only)",
        any / peer_rate,
        legacy / peer_rate
    );
    println!(
        "imprint warm (cached decisions): {:.0} images/s via verify_all ({us_all:.1} µs each); \
         {us_seq:.1} µs per cached decision sequentially",
        n as f64 / warm_all_secs
    );
    for (k, v) in &counts {
        println!(
            "requests/image {k}: {} ({} excl. pings; /v2/ pings total {}); {}",
            v["per_image"],
            v["per_image_excluding_pings"],
            v["pings_total"],
            v["by_kind_per_image"]
        );
    }
    for (k, runs) in &cpu {
        for (i, v) in runs.iter().enumerate() {
            println!(
                "cpu {k} round {i}: client {} ms/image, registry {} ms/image, other processes {} ms/image, machine busy {}; client sockets to registry {} -> {}",
                v["client_cpu_ms_per_image"],
                v["registry_cpu_ms_per_image"],
                v["other_processes_cpu_ms_per_image"],
                v["machine_busy_fraction"],
                v["client_sockets_to_registry_before"],
                v["client_sockets_to_registry_after"]
            );
        }
    }
    for (i, b) in bound_runs.iter().enumerate() {
        let reg: f64 = ["manifest_by_tag", "sig_manifest", "payload_blob"]
            .iter()
            .filter_map(|k| b[*k]["registry_cpu_ms_per_request"].as_f64())
            .sum();
        println!("cpu ab round {i}: registry {reg:.3} ms per 3-request image");
    }
    println!("imprint verify --key, one image: {cli}");
    if !failures.is_empty() {
        println!("FAILURES: {failures:?}");
    }
    println!("load average: start {load_start}; end {}", loadavg());

    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/out");
    std::fs::create_dir_all(&out_dir).expect("bench/out");
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let path = out_dir.join(format!("bulk_verify-{stamp}.json"));
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&summary).expect("summary json"),
    )
    .expect("write summary");
    std::fs::copy(&path, out_dir.join("latest.json")).expect("copy latest");
    println!("wrote {}", path.display());
}
