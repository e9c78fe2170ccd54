//! `imprint trust-root update` against a real python-tuf repository on 127.0.0.1
//! (`../shared/harness/tuf/build_repo.py`, served by `python3 -m http.server`), each case
//! cross-checked with python-tuf's own client (`ngclient_check.py`): imprint and ngclient must
//! agree. Then `verify-bundle` with the cached root, online and with the server gone.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::{self, cli};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// `$IMPRINT_HARNESS/tuf`, else `harness/tuf` beside the vectors directory (`../shared`).
fn harness() -> PathBuf {
    let base = match std::env::var_os("IMPRINT_HARNESS") {
        Some(h) => PathBuf::from(h),
        None => support::vectors()
            .parent()
            .map(|p| p.join("harness"))
            .unwrap_or_else(|| PathBuf::from("../shared/harness")),
    };
    let dir = base.join("tuf");
    assert!(
        dir.join("build_repo.py").exists(),
        "{} has no build_repo.py: set IMPRINT_HARNESS to the shared harness directory",
        dir.display()
    );
    dir
}

fn pgi_root() -> PathBuf {
    support::vectors().join("trust-roots/pgi-trusted_root.json")
}

fn scaffolding_root() -> PathBuf {
    support::vectors().join("trust-roots/sigstore-go-scaffolding-trusted_root.json")
}

/// A python-tuf repository and the HTTP server serving it; the server is killed on drop.
struct Repo {
    state: tempfile::TempDir,
    server: Option<Child>,
    url: String,
}

impl Repo {
    /// `build_repo.py init` with `trusted_root` as the target, served on a free port.
    fn new(trusted_root: &Path) -> Self {
        support::require_python_modules(
            &["tuf.api.metadata", "tuf.ngclient"],
            "pip install tuf (or Debian's python3-tuf)",
        );
        let state = tempfile::tempdir().unwrap();
        let mut repo = Self {
            state,
            server: None,
            url: String::new(),
        };
        repo.build(&[
            "init",
            repo.state_dir(),
            &trusted_root.display().to_string(),
        ]);
        repo.serve();
        repo
    }

    fn state_dir(&self) -> &str {
        self.state.path().to_str().unwrap()
    }

    fn repo_dir(&self) -> PathBuf {
        self.state.path().join("repo")
    }

    /// The out-of-band bootstrap root.
    fn bootstrap(&self) -> PathBuf {
        self.state.path().join("trusted-1.root.json")
    }

    fn serve(&mut self) {
        let python = support::require_program("python3", "python3");
        let mut child = Command::new(python)
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .current_dir(self.repo_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port: u16 = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in http.server's banner: {line:?}"));
        self.url = format!("http://127.0.0.1:{port}");
        self.server = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn build(&self, args: &[&str]) {
        let out = Command::new("python3")
            .arg(harness().join("build_repo.py"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "build_repo.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn mutate(&self, cmd: &str) {
        self.build(&[cmd, self.state_dir()]);
    }

    fn update_target(&self, file: &Path) {
        self.build(&[
            "update-target",
            self.state_dir(),
            &file.display().to_string(),
        ]);
    }

    /// python-tuf's client, from a fresh work directory: `Ok(sha256)` or `Err(message)`.
    fn ngclient(&self, root: &Path) -> Result<String, String> {
        let work = tempfile::tempdir().unwrap();
        let out = Command::new("python3")
            .arg(harness().join("ngclient_check.py"))
            .arg(&self.url)
            .arg(root)
            .arg(work.path().join("w"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && stdout.starts_with("OK ") {
            Ok(stdout
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .to_owned())
        } else {
            Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// `imprint trust-root update --mirror URL --root ROOT --cache CACHE`.
    fn imprint_update(&self, root: &Path, cache: &Path) -> (i32, String, String) {
        cli::run(
            cli::imprint()
                .args(["trust-root", "update", "--mirror", &self.url, "--root"])
                .arg(root)
                .arg("--cache")
                .arg(cache),
        )
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The sha256 the last successful update recorded.
fn cached_sha256(cache: &Path) -> String {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("imprint/state.json")).unwrap()).unwrap();
    state["trustedRootSha256"].as_str().unwrap().to_owned()
}

/// `imprint verify-bundle` of the sigstore-conformance happy path (signed under the
/// public-good root) with the trust root from `cache` (or none): (exit code, stderr).
fn verify_with_cache(cache: Option<&Path>) -> (i32, String) {
    let suite = support::vectors().join("bundles/conformance");
    let mut c = cli::imprint();
    c.arg("verify-bundle")
        .arg("--bundle")
        .arg(suite.join("happy-path-v0.3/bundle.sigstore.json"))
        .args([
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ])
        .arg(suite.join("a.txt"));
    if let Some(dir) = cache {
        c.env("IMPRINT_TUF_CACHE", dir);
    }
    let (code, _, stderr) = cli::run(&mut c);
    (code, stderr)
}

fn sha256_hex(path: &Path) -> String {
    imprint::format::digest::Digest::of(&std::fs::read(path).unwrap())
        .hex()
        .to_owned()
}

#[test]
fn good_update_feeds_verify_and_the_cache_serves_offline() {
    let mut repo = Repo::new(&scaffolding_root());
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().join("c");

    let (code, out, err) = repo.imprint_update(&repo.bootstrap(), &cache);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("updated trusted_root.json"), "{out}");
    assert!(out.contains("changed"), "{out}");
    assert!(out.contains("not published"), "{out}");
    let ng = repo
        .ngclient(&repo.bootstrap())
        .expect("ngclient accepts the repository");
    assert_eq!(
        ng,
        cached_sha256(&cache),
        "imprint and ngclient got the same target"
    );
    assert_eq!(ng, sha256_hex(&scaffolding_root()));

    // The cached root is really what verification uses: the scaffolding root cannot verify a
    // public-good bundle, the embedded root can.
    let (code, err) = verify_with_cache(Some(&cache));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("trust root: TUF cache"), "{err}");
    let (code, err) = verify_with_cache(None);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("trust root: embedded public-good root"),
        "{err}"
    );

    // A new target is published: the update says so, and verification follows it.
    repo.update_target(&pgi_root());
    let (code, out, err) = repo.imprint_update(&repo.bootstrap(), &cache);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(changed;"), "{out}");
    let ng = repo
        .ngclient(&repo.bootstrap())
        .expect("ngclient accepts the update");
    assert_eq!(ng, cached_sha256(&cache));
    assert_eq!(ng, sha256_hex(&pgi_root()));
    let (code, err) = verify_with_cache(Some(&cache));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("trust root: TUF cache"), "{err}");
    assert!(
        err.contains(&repo.url),
        "the origin names the mirror: {err}"
    );
    let (code, out, err) = repo.imprint_update(&repo.bootstrap(), &cache);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(unchanged;"), "{out}");

    let (code, out, _) = cli::run(
        cli::imprint()
            .args(["trust-root", "show", "--cache"])
            .arg(&cache),
    );
    assert_eq!(code, 0);
    assert!(out.contains("TUF cache"), "{out}");

    // Offline: the server is gone. Verification still uses the cache; the online update fails
    // and leaves the cache as it was; the offline update re-verifies the cached metadata.
    repo.stop();
    let (code, err) = verify_with_cache(Some(&cache));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("trust root: TUF cache"), "{err}");
    let (code, _, err) = repo.imprint_update(&repo.bootstrap(), &cache);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("keeps what it had"), "{err}");
    assert!(repo.ngclient(&repo.bootstrap()).is_err());
    assert_eq!(cached_sha256(&cache), sha256_hex(&pgi_root()));
    let (code, out, err) = cli::run(
        cli::imprint()
            .args([
                "trust-root",
                "update",
                "--offline",
                "--mirror",
                &repo.url,
                "--root",
            ])
            .arg(repo.bootstrap())
            .arg("--cache")
            .arg(&cache),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("re-verified"), "{out}");

    // verify --policy with a keyless authority: the stderr line and the JSON decision's
    // `trustRoots` evidence name the cache (the image does not exist: denied, but decided).
    let policy_verify = |cache: Option<&Path>| {
        let mut c = cli::imprint();
        c.args([
            "verify",
            "--policy",
            "policies/github-keyless.yaml",
            "-o",
            "json",
            "oci:/nonexistent/imprint-tuf-layout:v1",
        ]);
        if let Some(dir) = cache {
            c.env("IMPRINT_TUF_CACHE", dir);
        }
        let (code, out, err) = cli::run(&mut c);
        assert_eq!(code, 1, "{out}{err}");
        let decisions: serde_json::Value = serde_json::from_str(&out).unwrap();
        (decisions[0]["trustRoots"].clone(), err)
    };
    let (roots, err) = policy_verify(Some(&cache));
    assert!(err.contains("trust root: TUF cache"), "{err}");
    assert_eq!(roots[0]["name"], "public-good", "{roots}");
    assert!(
        roots[0]["origin"]
            .as_str()
            .unwrap()
            .starts_with("TUF cache "),
        "{roots}"
    );
    assert_eq!(
        roots[0]["sha256"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(&pgi_root()))
    );
    let (roots, err) = policy_verify(None);
    assert!(
        err.contains("trust root: embedded public-good root"),
        "{err}"
    );
    assert!(
        roots[0]["origin"]
            .as_str()
            .unwrap()
            .starts_with("embedded public-good"),
        "{roots}"
    );

    // A verified copy edited in the cache is refused, not silently replaced.
    let copy = cache.join("imprint/trusted_root.json");
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes.push(b' ');
    std::fs::write(&copy, bytes).unwrap();
    let (code, err) = verify_with_cache(Some(&cache));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sha256"), "{err}");
}

/// Both clients refuse: imprint exits 2, says why, and writes nothing to a fresh cache.
fn both_refuse(repo: &Repo, root: &Path, words: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let (code, out, err) = repo.imprint_update(root, cache.path());
    assert_eq!(code, 2, "imprint accepted it: {out}{err}");
    let lower = err.to_lowercase();
    assert!(
        words.iter().any(|w| lower.contains(w)),
        "imprint's error names none of {words:?}: {err}"
    );
    assert!(!cache.path().join("imprint/state.json").exists());
    let ng = repo.ngclient(root);
    assert!(
        ng.is_err(),
        "ngclient accepted what imprint refused: {ng:?}"
    );
    format!("imprint: {err}\nngclient: {}", ng.unwrap_err())
}

#[test]
fn expired_timestamp_is_refused_and_the_cache_keeps_the_last_good_root() {
    let repo = Repo::new(&pgi_root());
    let cache = tempfile::tempdir().unwrap();
    let (code, out, err) = repo.imprint_update(&repo.bootstrap(), cache.path());
    assert_eq!(code, 0, "{out}{err}");
    repo.mutate("expire-timestamp");
    let why = both_refuse(&repo, &repo.bootstrap(), &["expired"]);
    println!("{why}");
    let (code, _, err) = repo.imprint_update(&repo.bootstrap(), cache.path());
    assert_eq!(code, 2, "{err}");
    assert_eq!(cached_sha256(cache.path()), sha256_hex(&pgi_root()));
    let (code, err) = verify_with_cache(Some(cache.path()));
    assert_eq!(code, 0, "{err}");
    // A fresh timestamp makes it acceptable again, to both.
    repo.mutate("refresh-timestamp");
    let (code, out, err) = repo.imprint_update(&repo.bootstrap(), cache.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(repo.ngclient(&repo.bootstrap()).is_ok());
}

#[test]
fn tampered_target_is_refused() {
    let repo = Repo::new(&pgi_root());
    repo.mutate("tamper-target");
    let why = both_refuse(&repo, &repo.bootstrap(), &["hash", "length", "integrity"]);
    println!("{why}");
}

#[test]
fn unsigned_metadata_edit_is_refused() {
    let repo = Repo::new(&pgi_root());
    repo.mutate("expire-timestamp");
    // The freeze attack: push the expired timestamp's expiry into the future without the
    // timestamp key.
    let path = repo.repo_dir().join("timestamp.json");
    let mut md: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    md["signed"]["expires"] = "2099-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&md).unwrap()).unwrap();
    let why = both_refuse(&repo, &repo.bootstrap(), &["signature", "threshold"]);
    println!("{why}");
}

#[test]
fn root_rotation_is_followed_from_the_first_root() {
    let repo = Repo::new(&scaffolding_root());
    let cache = tempfile::tempdir().unwrap();
    let (code, out, err) = repo.imprint_update(&repo.bootstrap(), cache.path());
    assert_eq!(code, 0, "{out}{err}");
    repo.mutate("rotate-root");
    repo.update_target(&pgi_root());
    // The same out-of-band root v1: both clients walk 2.root.json (signed by the old and the
    // new root key) and accept the new target.
    let (code, out, err) = repo.imprint_update(&repo.bootstrap(), cache.path());
    assert_eq!(code, 0, "{out}{err}");
    let ng = repo
        .ngclient(&repo.bootstrap())
        .expect("ngclient follows the rotation");
    assert_eq!(ng, cached_sha256(cache.path()));
    assert_eq!(ng, sha256_hex(&pgi_root()));
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.path().join("root.json")).unwrap()).unwrap();
    assert_eq!(root["signed"]["version"], 2, "the trusted root is now v2");
    // And from a fresh cache.
    let fresh = tempfile::tempdir().unwrap();
    let (code, out, err) = repo.imprint_update(&repo.bootstrap(), fresh.path());
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn rotation_signed_only_by_the_new_key_is_refused() {
    let repo = Repo::new(&pgi_root());
    repo.mutate("rotate-root");
    // Drop the old root key's signature from 2.root.json: the previous root's threshold is
    // no longer met.
    let path = repo.repo_dir().join("2.root.json");
    let mut md: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let sigs = md["signatures"].as_array_mut().unwrap();
    assert_eq!(sigs.len(), 2);
    sigs.remove(0);
    std::fs::write(&path, serde_json::to_vec_pretty(&md).unwrap()).unwrap();
    let why = both_refuse(&repo, &repo.bootstrap(), &["signature", "threshold"]);
    println!("{why}");
}

#[test]
fn foreign_bootstrap_root_is_refused() {
    let repo = Repo::new(&pgi_root());
    let other = Repo::new(&pgi_root());
    let why = both_refuse(&repo, &other.bootstrap(), &["signature", "threshold"]);
    println!("{why}");
}

#[test]
fn bad_arguments_are_named() {
    let (code, _, err) = cli::run(cli::imprint().args([
        "trust-root",
        "update",
        "--mirror",
        "file:///etc",
        "--root",
        "/nonexistent/root.json",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/root.json"), "{err}");
    let root = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(root.path(), b"{}").unwrap();
    let (code, _, err) = cli::run(
        cli::imprint()
            .args(["trust-root", "update", "--mirror", "file:///etc", "--root"])
            .arg(root.path()),
    );
    assert_eq!(code, 2);
    assert!(err.contains("file:///etc"), "{err}");
    let (code, _, err) =
        cli::run(cli::imprint().args(["trust-root", "update", "--mirror", "http://127.0.0.1:1"]));
    assert_eq!(code, 2, "--mirror needs --root: {err}");
}

/// `imprint admission --trust-root-refresh`: the webhook refreshes its trust root from the TUF
/// repository in the background, takes each newly verified root for the requests that follow,
/// keeps serving (and keeps its root) while the repository is unusable, and follows the next
/// good update.
#[test]
fn admission_refreshes_the_trust_root_in_the_background() {
    let repo = Repo::new(&scaffolding_root());
    let cache = tempfile::tempdir().unwrap();
    let policy = cache.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: deny\n  authorities:\n    ci:\n      keyless: {issuer: https://issuer.example, subject: ci@example.com}\n  rules:\n    - name: all\n      images: [\"**\"]\n      signatures: {authority: ci}\n",
    )
    .unwrap();
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/admission");
    let mut child = cli::imprint()
        .args(["admission", "--listen", "127.0.0.1:0", "--policy"])
        .arg(&policy)
        .arg("--tls-cert")
        .arg(tls.join("server.pem"))
        .arg("--tls-key")
        .arg(tls.join("server.key"))
        .args(["--trust-root-refresh", "300ms", "--tuf-mirror", &repo.url])
        .arg("--tuf-root")
        .arg(repo.bootstrap())
        .arg("--tuf-cache")
        .arg(cache.path().join("c"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let wait_for = |what: &str, seen: &mut Vec<String>| -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    seen.push(line.clone());
                    if line.contains(what) {
                        return line;
                    }
                }
                Err(_) => panic!("no stderr line with {what:?} in 30 s; seen: {seen:#?}"),
            }
        }
    };
    wait_for("listening on https://", &mut seen);
    let first = wait_for("trust root `public-good` now", &mut seen);
    assert!(first.contains("TUF cache"), "{first}");
    assert!(first.contains(&sha256_hex(&scaffolding_root())), "{first}");
    assert_eq!(
        cached_sha256(&cache.path().join("c")),
        sha256_hex(&scaffolding_root())
    );

    // An unusable repository: refreshes fail, the webhook keeps its root and keeps serving.
    repo.mutate("expire-timestamp");
    let failed = wait_for("expired", &mut seen);
    assert!(failed.contains("trust-root refresh failed"), "{failed}");
    assert_eq!(
        cached_sha256(&cache.path().join("c")),
        sha256_hex(&scaffolding_root())
    );

    // The next good update is followed.
    repo.update_target(&pgi_root());
    repo.mutate("refresh-timestamp");
    let next = wait_for("trust root `public-good` now", &mut seen);
    assert!(next.contains(&sha256_hex(&pgi_root())), "{next}");

    let _ = child.kill();
    let _ = child.wait();
}
