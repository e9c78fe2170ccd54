//! Shared harness for integration tests: a real registry (Debian's `docker-registry`, i.e.
//! distribution 2.8) started once per test binary, image builders that push through the
//! crate's own [`Repository`] API, and a request-counting / fault-injecting proxy.
//!
//! Included once by `tests/it/main.rs` (and by `benches/bulk_verify.rs` with `#[path]`); not
//! every user uses every helper. Before a test runs an external program it calls
//! [`require_program`], so a missing tool fails with its name and the Debian package to install
//! (`bash scripts/test.sh` installs them all).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub(crate) mod checks;
pub(crate) mod cli;
pub(crate) mod proxy;
pub(crate) mod sig;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use imprint::format::digest::Digest;
use imprint::format::reference::ImageRef;
use imprint::store::{
    AnyRepository, AuthSource, Client, Limits, RegistryConfig, Repository, media_types,
};

/// The shared test vectors: `$IMPRINT_VECTORS` if set, else `../shared/vectors` beside the
/// crate (the layout of a checkout and of CI). The one place the integration tests locate them;
/// a missing directory fails the test (with a hint) rather than skipping it.
pub(crate) fn vectors() -> PathBuf {
    let dir = std::env::var_os("IMPRINT_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"));
    assert!(
        dir.is_dir(),
        "test vectors not found at {} (set IMPRINT_VECTORS)",
        dir.display()
    );
    dir
}

/// `rel` inside the crate's own checkout (`testdata/…`, `policies/…`, `keys/…`).
pub(crate) fn crate_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The registry binary (`apt-get install docker-registry`).
pub(crate) const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// Where `program` is: itself if it is a path, else the first executable file of that name on
/// `$PATH`; `None` when there is none.
pub(crate) fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// The message [`require_program`] fails with.
pub(crate) fn missing_program_message(program: &str, debian_package: &str) -> String {
    format!(
        "this test runs `{program}`, which is not installed: it is in Debian's \
         `{debian_package}` package (`bash scripts/test.sh` installs everything the tests \
         run, or `apt-get install {debian_package}`)"
    )
}

/// Call before a test runs `program`: returns its path, or fails the test naming the program
/// and the Debian package that provides it, instead of a panic deep inside the test.
pub(crate) fn require_program(program: &str, debian_package: &str) -> PathBuf {
    find_program(program)
        .unwrap_or_else(|| panic!("{}", missing_program_message(program, debian_package)))
}

/// Call before a test runs `python3` with `modules`: fails the test naming python3's package or
/// the missing modules and how to install them.
pub(crate) fn require_python_modules(modules: &[&str], install: &str) {
    let python = require_program("python3", "python3");
    let import = format!("import {}", modules.join(", "));
    let out = Command::new(python)
        .args(["-c", &import])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3: {e}"));
    assert!(
        out.status.success(),
        "this test needs the Python modules {modules:?}, which are not importable: {install} \
         (`bash scripts/test.sh` installs them)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A registry process. It runs under a small `sh` wrapper that reads its stdin: when this
/// test process exits (however it exits), the pipe closes, `read` returns, and the wrapper
/// kills the registry and removes its storage. No unsafe code, no `prctl`.
pub(crate) struct RegistryProcess {
    addr: String,
    dir: PathBuf,
    _child: Mutex<Child>,
}

impl RegistryProcess {
    /// `host:port`.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// The directory holding config, storage and the registry's log.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// How to start a registry.
#[derive(Default)]
pub(crate) struct RegistryOptions {
    /// `htpasswd` file contents: enables HTTP Basic auth.
    pub htpasswd: Option<String>,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Start a registry with `options`, wait until `/v2/` answers, return it.
pub(crate) fn start_registry(options: RegistryOptions) -> RegistryProcess {
    require_program(REGISTRY_BIN, "docker-registry");
    let dir = tempfile::Builder::new()
        .prefix("imprint-registry-")
        .tempdir()
        .expect("tempdir")
        .keep();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut config = format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n  secret: imprint-test-secret\n",
        dir.join("storage").display()
    );
    if let Some(htpasswd) = &options.htpasswd {
        let path = dir.join("htpasswd");
        std::fs::write(&path, htpasswd).expect("write htpasswd");
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: imprint-test\n    path: {}\n",
            path.display()
        ));
    }
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config).expect("write registry config");
    let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
    let child = Command::new("sh")
        .arg("-c")
        .arg(
            r#""$1" serve "$2" >"$3/registry.log" 2>&1 & pid=$!
               read _ignored
               kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$3""#,
        )
        .arg("sh")
        .arg(REGISTRY_BIN)
        .arg(&config_path)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start docker-registry");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if ping(&addr) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "registry on {addr} did not answer within 20 s; log: {}",
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    RegistryProcess {
        addr,
        dir,
        _child: Mutex::new(child),
    }
}

/// Whether `GET /v2/` gets an HTTP answer (200 or 401).
fn ping(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(
        format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && (buf.ends_with(b"200") || buf.ends_with(b"401"))
}

static REGISTRY: LazyLock<RegistryProcess> =
    LazyLock::new(|| start_registry(RegistryOptions::default()));

/// The shared anonymous registry of this test binary (`127.0.0.1:<port>`).
pub(crate) fn registry() -> &'static str {
    REGISTRY.addr()
}

/// A repository name no other test uses.
pub(crate) fn unique_repo(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{name}-{}-{n}-{nanos}", std::process::id())
}

/// Fresh pseudo-random bytes (unique per call; not for cryptography).
pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{:?}-{}-{}",
        SystemTime::now(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut out = Vec::with_capacity(len + 32);
    let mut block = Digest::of(seed.as_bytes()).raw();
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Digest::from_raw(&block).raw();
        block = Digest::of(&block).raw();
    }
    out.truncate(len);
    out
}

/// A client for test registries: anonymous (ignores the machine's docker config).
pub(crate) fn test_client() -> Client {
    Client::new(RegistryConfig {
        auth: AuthSource::Anonymous,
        ..RegistryConfig::default()
    })
    .expect("client")
}

/// An anonymous client with `limits` (tight deadlines and sizes for hostile-registry tests).
pub(crate) fn client_with(limits: Limits) -> Client {
    Client::new(RegistryConfig {
        auth: AuthSource::Anonymous,
        limits,
        ..RegistryConfig::default()
    })
    .expect("client")
}

/// The repository `<registry>/<repo>` through `client`.
pub(crate) fn repo_at(client: &Client, registry: &str, repo: &str) -> AnyRepository {
    client
        .repository(&ImageRef::parse(&format!("{registry}/{repo}")).expect("reference"))
        .expect("repository")
}

/// A tiny image: (manifest bytes, config bytes, layer bytes), OCI media types, compact JSON.
pub(crate) fn build_image(platform: (&str, &str)) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let layer = random_bytes(512);
    let layer_digest = Digest::of(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": platform.0,
        "os": platform.1,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]},
    }))
    .expect("config json");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "config": {
            "mediaType": media_types::OCI_CONFIG,
            "digest": Digest::of(&config).to_string(),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest.to_string(),
            "size": layer.len(),
        }],
    }))
    .expect("manifest json");
    (manifest, config, layer)
}

/// Push a tiny image (config + one layer) to `repository` through any [`Repository`].
/// `tag = None` pushes by digest only. Returns the manifest digest.
pub(crate) async fn push_image_to(
    repository: &impl Repository,
    tag: Option<&str>,
    platform: (&str, &str),
) -> Digest {
    let (manifest, config, layer) = build_image(platform);
    push_built(repository, tag, &manifest, config, layer).await
}

/// Push an image [`build_image`] made: its config and layer blobs, then its manifest.
async fn push_built(
    repository: &impl Repository,
    tag: Option<&str>,
    manifest: &[u8],
    config: Vec<u8>,
    layer: Vec<u8>,
) -> Digest {
    for (what, blob) in [("config", config), ("layer", layer)] {
        repository
            .put_blob(imprint::store::Blob::new(blob))
            .await
            .unwrap_or_else(|e| panic!("push {what}: {e}"));
    }
    repository
        .put_manifest(tag, media_types::OCI_MANIFEST, manifest)
        .await
        .expect("push manifest")
}

/// Push a fresh tiny image to `<registry()>/<repo>:v1`. Returns the reference by tag and
/// the manifest digest.
pub(crate) async fn push_random_image(repo: &str) -> (ImageRef, Digest) {
    push_random_image_at(registry(), repo).await
}

/// Like [`push_random_image`] on another registry address (e.g. a proxy).
pub(crate) async fn push_random_image_at(registry: &str, repo: &str) -> (ImageRef, Digest) {
    let image = ImageRef::parse(&format!("{registry}/{repo}:v1")).expect("reference");
    let repository = test_client().repository(&image).expect("repository");
    let digest = push_image_to(&repository, Some("v1"), ("amd64", "linux")).await;
    (image, digest)
}

/// Push a fresh tiny image to a new OCI layout `<dir>/img` tagged `v1`. Returns the layout
/// reference (`oci:<dir>/img:v1`), its repository and the manifest digest.
pub(crate) async fn push_image_to_layout(dir: &Path) -> (ImageRef, AnyRepository, Digest) {
    let layout = ImageRef::parse(&format!("oci:{}:v1", dir.join("img").display()))
        .expect("layout reference");
    let repository = test_client()
        .repository(&layout)
        .expect("layout repository");
    let digest = push_image_to(&repository, Some("v1"), ("amd64", "linux")).await;
    (layout, repository, digest)
}

/// Push a 2-platform index (linux/amd64 and linux/arm64) to `<registry()>/<repo>:multi`.
/// Returns the reference by tag, the index digest and the two platform manifest digests.
pub(crate) async fn push_index(repo: &str) -> (ImageRef, Digest, Vec<Digest>) {
    let image = ImageRef::parse(&format!("{}/{repo}:multi", registry())).expect("reference");
    let repository = test_client().repository(&image).expect("repository");
    let mut entries = Vec::new();
    let mut children = Vec::new();
    for (arch, os) in [("amd64", "linux"), ("arm64", "linux")] {
        let (manifest, config, layer) = build_image((arch, os));
        let d = push_built(&repository, None, &manifest, config, layer).await;
        entries.push(serde_json::json!({
            "mediaType": media_types::OCI_MANIFEST,
            "digest": d.to_string(),
            "size": manifest.len(),
            "platform": {"architecture": arch, "os": os},
        }));
        children.push(d);
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_INDEX,
        "manifests": entries,
    }))
    .expect("index json");
    let digest = repository
        .put_manifest(Some("multi"), media_types::OCI_INDEX, &index)
        .await
        .expect("push index");
    (image, digest, children)
}

/// `PUBLIC KEY` PEMs of the EC key in `spki_der` with its point uncompressed, compressed and
/// hybrid (SEC 1 §2.3.3): three spellings of one key.
pub(crate) fn point_encodings(spki_der: &[u8]) -> [String; 3] {
    use x509_cert::der::asn1::BitString;
    use x509_cert::der::{Decode, Encode};
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    let info = SubjectPublicKeyInfoOwned::from_der(spki_der).unwrap();
    let point = info.subject_public_key.raw_bytes().to_vec();
    assert_eq!(point[0], 0x04, "an uncompressed point to start from");
    let y_odd = point[point.len() - 1] & 1;
    let mut compressed = vec![0x02 | y_odd];
    compressed.extend_from_slice(&point[1..=(point.len() - 1) / 2]);
    let mut hybrid = point.clone();
    hybrid[0] = 0x06 | y_odd;
    [point, compressed, hybrid].map(|p| {
        let mut info = info.clone();
        info.subject_public_key = BitString::from_bytes(&p).unwrap();
        pem::encode(&pem::Pem::new("PUBLIC KEY", info.to_der().unwrap()))
    })
}
