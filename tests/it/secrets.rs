//! No secret reaches stdout or stderr at any log level: `generate-key-pair`, `sign`, `attest`,
//! `verify`, `verify-attestation` and `sign-blob` run with `RUST_LOG=trace` against registries
//! that want credentials (HTTP Basic on the registry itself; a bearer token gate whose `/token`
//! wants Basic), with known secrets, and their whole output is searched for each secret and
//! its base64 forms.

use crate::support::cli::imprint;
use crate::support::proxy::Proxy;
use crate::support::{registry, unique_repo};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use imprint::format::reference::ImageRef;
use imprint::store::{AuthSource, Client, RegistryConfig};

const KEY_PASSWORD: &str = "k3y-pa55word-7f3a";
const USER: &str = "secret-user";
const USER_PASSWORD: &str = "us3r-pa55word-91c2";

fn htpasswd(user: &str, password: &str) -> String {
    let htpasswd = crate::support::require_program("htpasswd", "apache2-utils");
    let out = std::process::Command::new(htpasswd)
        .args(["-Bbn", user, password])
        .output()
        .expect("run htpasswd");
    assert!(out.status.success(), "htpasswd failed: {out:?}");
    String::from_utf8(out.stdout).expect("htpasswd output")
}

fn docker_config(dir: &std::path::Path, registry: &str) {
    let auth = B64.encode(format!("{USER}:{USER_PASSWORD}"));
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec(&serde_json::json!({"auths": {registry: {"auth": auth}}})).unwrap(),
    )
    .unwrap();
}

/// Runs `imprint args` at trace level with the key password in `COSIGN_PASSWORD` and the
/// docker config in `cfg`; returns exit code and stdout+stderr.
fn run_traced(cfg: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = tokio::task::block_in_place(|| {
        imprint()
            .args(args)
            .env_remove("IMPRINT_PASSWORD")
            .env("COSIGN_PASSWORD", KEY_PASSWORD)
            .env("DOCKER_CONFIG", cfg)
            .env("RUST_LOG", "trace")
            .output()
            .expect("run imprint")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Every form a secret could take in output: itself, Basic's `user:password` in base64
/// (standard and URL-safe, with and without padding), and any 24-character slice of the
/// encrypted key file's base64 body.
fn forbidden(key_pem: &str) -> Vec<String> {
    let basic = format!("{USER}:{USER_PASSWORD}");
    let mut v = vec![
        KEY_PASSWORD.to_owned(),
        USER_PASSWORD.to_owned(),
        B64.encode(&basic),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&basic),
        B64.encode(USER_PASSWORD),
        B64.encode(KEY_PASSWORD),
    ];
    let body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let chars: Vec<char> = body.chars().collect();
    for chunk in chars.chunks(24).filter(|c| c.len() == 24) {
        v.push(chunk.iter().collect());
    }
    v
}

fn assert_no_secret(what: &str, output: &str, forbidden: &[String]) {
    for s in forbidden {
        assert!(
            !output.contains(s.as_str()),
            "{what} printed a secret ({s:?}) at RUST_LOG=trace:\n{output}"
        );
    }
}

async fn exercise(registry_addr: &str, upstream_client: &Client, cfg: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k");
    let prefix = prefix.to_str().unwrap();
    let (code, out) = run_traced(cfg, &["generate-key-pair", "--output-key-prefix", prefix]);
    assert_eq!(code, 0, "{out}");
    let key_pem = std::fs::read_to_string(format!("{prefix}.key")).unwrap();
    let forbidden = forbidden(&key_pem);
    assert!(forbidden.len() > 10, "the key file has a base64 body");
    assert_no_secret("generate-key-pair", &out, &forbidden);

    let name = unique_repo("secrets");
    let image = format!("{registry_addr}/{name}:v1");
    let repo = upstream_client
        .repository(&ImageRef::parse(&image).unwrap())
        .unwrap();
    crate::support::push_image_to(&repo, Some("v1"), ("amd64", "linux")).await;

    let key = format!("{prefix}.key");
    let public = format!("{prefix}.pub");
    let predicate = dir.path().join("predicate.json");
    std::fs::write(&predicate, br#"{"hello":"world"}"#).unwrap();
    let blob = dir.path().join("blob.txt");
    std::fs::write(&blob, b"some bytes").unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec!["sign", "--key", &key, &image],
        vec!["sign", "--key", &key, "--new-bundle-format=false", &image],
        vec![
            "attest",
            "--key",
            &key,
            "--predicate",
            predicate.to_str().unwrap(),
            &image,
        ],
        vec!["verify", "--key", &public, &image],
        vec!["verify-attestation", "--key", &public, &image],
        vec!["sign-blob", "--key", &key, blob.to_str().unwrap()],
    ];
    for args in runs {
        let (code, out) = run_traced(cfg, &args);
        assert_eq!(code, 0, "{args:?}:\n{out}");
        // sign-blob talks to no registry, so it may log nothing; the others must log.
        assert!(
            args[0] == "sign-blob" || out.contains("TRACE") || out.contains("DEBUG"),
            "{args:?}: RUST_LOG=trace produced no log lines, so this test would not see a leak:\n{out}"
        );
        assert_no_secret(&format!("{args:?}"), &out, &forbidden);
    }
    // A wrong key password: the error names the problem, not the password tried.
    let (code, out) = tokio::task::block_in_place(|| {
        let o = imprint()
            .args(["sign", "--key", &key, &image])
            .env_remove("IMPRINT_PASSWORD")
            .env("COSIGN_PASSWORD", "wr0ng-pa55word-x")
            .env("DOCKER_CONFIG", cfg)
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    });
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("wr0ng-pa55word-x"), "{out}");
    assert_no_secret("sign with a wrong password", &out, &forbidden);
}

/// A registry with HTTP Basic auth (htpasswd), credentials from a docker config.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_trace_output_with_basic_auth() {
    let reg = crate::support::start_registry(crate::support::RegistryOptions {
        htpasswd: Some(htpasswd(USER, USER_PASSWORD)),
    });
    let cfg = tempfile::tempdir().unwrap();
    docker_config(cfg.path(), reg.addr());
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(cfg.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap();
    exercise(reg.addr(), &client, cfg.path()).await;
}

/// A bearer token gate (Basic credentials for `/token`, then `Bearer` tokens).
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_trace_output_with_a_token_gate() {
    let proxy = Proxy::start_with_bearer(registry(), USER, USER_PASSWORD).await;
    let cfg = tempfile::tempdir().unwrap();
    docker_config(cfg.path(), proxy.addr());
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(cfg.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap();
    exercise(proxy.addr(), &client, cfg.path()).await;
}
