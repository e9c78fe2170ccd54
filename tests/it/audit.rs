//! `imprint audit` (issue 12) against the real registry: manifests naming a signed image (twice,
//! by digest, from two workloads), an unsigned one and one on an unreachable registry give
//! allowed / denied / error rows; each distinct image is verified once (requests counted by the
//! proxy); the CLI's outputs and exit codes.

use std::path::{Path, PathBuf};

use crate::support::cli::{imprint, run};
use crate::support::proxy::{Fault, Kind, Proxy};
use crate::support::{crate_path, push_random_image, registry, test_client, unique_repo};
use imprint::audit::{Manifests, Report, RowOutcome, audit};
use imprint::format::digest::Digest;
use imprint::gate::Verifier;
use imprint::keys::SigningKey;
use imprint::policy::Policy;
use imprint::sign::{self, SignOptions};
use imprint::store::{AuthSource, RegistryConfig};

const UNREACHABLE: &str = "127.0.0.1:1/nothing/here:v1";

/// A signed and an unsigned image in fresh repositories under one prefix, a key and a policy
/// whose one rule (enforce, signed by that key) covers the prefix (through the registry and
/// through `via`, a proxy) and the unreachable registry.
struct World {
    dir: tempfile::TempDir,
    /// `<repo>` of the signed image (under the prefix), and its digest.
    signed: (String, Digest),
    /// `<repo>` of the unsigned image.
    unsigned: String,
}

impl World {
    async fn new(via: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate_p256().unwrap();
        std::fs::write(dir.path().join("release.pub"), key.public_key().to_pem()).unwrap();
        let prefix = unique_repo("audit");
        let (signed_ref, signed_digest) = push_random_image(&format!("{prefix}/signed")).await;
        sign::sign_image(&test_client(), &signed_ref, &key, &SignOptions::default())
            .await
            .unwrap();
        push_random_image(&format!("{prefix}/unsigned")).await;
        let mut images = vec![
            format!("\"{}/{prefix}/**\"", registry()),
            "\"127.0.0.1:1/**\"".to_owned(),
        ];
        if let Some(via) = via {
            images.push(format!("\"{via}/{prefix}/**\""));
        }
        let policy = format!(
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: deny\n  authorities:\n    release: {{key: {{file: release.pub}}}}\n  rules:\n    - name: release-signed\n      images: [{}]\n      signatures: {{authority: release}}\n",
            images.join(", ")
        );
        std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
        Self {
            dir,
            signed: (format!("{prefix}/signed"), signed_digest),
            unsigned: format!("{prefix}/unsigned"),
        }
    }

    fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policy.yaml")
    }

    fn policy(&self) -> Policy {
        Policy::from_path(&self.policy_path()).unwrap()
    }

    /// `<host>/<signed repo>@<digest>`.
    fn signed_ref(&self, host: &str) -> String {
        format!("{host}/{}@{}", self.signed.0, self.signed.1)
    }

    fn unsigned_ref(&self, host: &str) -> String {
        format!("{host}/{}:v1", self.unsigned)
    }

    /// Write `name` in the world's directory.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn deployment(name: &str, namespace: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {image}\n"
    )
}

fn pod(name: &str, namespace: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  initContainers:\n    - name: init\n      image: {image}\n  containers: []\n"
    )
}

/// The four-workload manifest set: signed (Deployment and Pod, same digest), unsigned,
/// unreachable; on `host` (the registry or a proxy in front of it).
fn manifest_set(w: &World, host: &str) -> String {
    [
        deployment("signed", "prod", &w.signed_ref(host)),
        pod("signed-again", "prod", &w.signed_ref(host)),
        deployment("unsigned", "dev", &w.unsigned_ref(host)),
        pod("offline", "dev", UNREACHABLE),
    ]
    .join("---\n")
}

fn verifier(policy: Policy) -> Verifier {
    Verifier::builder(policy)
        .registry(RegistryConfig {
            auth: AuthSource::Anonymous,
            ..RegistryConfig::default()
        })
        .build()
        .unwrap()
}

async fn audit_text(w: &World, text: &str) -> Report {
    let mut m = Manifests::default();
    m.read_str(text, "set.yaml").unwrap();
    audit(&verifier(w.policy()), m).await
}

/// 1-based lines of `text` that contain `needle`.
fn lines_with(text: &str, needle: &str) -> Vec<u64> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

#[tokio::test]
async fn allowed_denied_and_error_rows_each_image_verified_once() {
    let upstream = registry();
    let proxy = Proxy::start(upstream).await;
    let w = World::new(Some(proxy.addr())).await;
    let text = manifest_set(&w, proxy.addr());
    let report = audit_text(&w, &text).await;
    let json = serde_json::to_string_pretty(&report).unwrap();
    // With a progress observer: called once per unique image, ending at (total, total).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let mut m = Manifests::default();
    m.read_str(&text, "set.yaml").unwrap();
    let again = imprint::audit::audit_with_progress(&verifier(w.policy()), m, move |d, t| {
        s2.lock().unwrap().push((d, t));
    })
    .await;
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, [(1, 3), (2, 3), (3, 3)]);
    assert_eq!(again.rows.len(), report.rows.len());

    let rows = &report.rows;
    assert_eq!(rows.len(), 4, "{json}");
    let outcomes: Vec<RowOutcome> = rows.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            RowOutcome::Allowed,
            RowOutcome::Allowed,
            RowOutcome::Denied,
            RowOutcome::Error
        ],
        "{json}"
    );
    // Workloads, slots, lines of the image: keys.
    let ids: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.source.workload.as_ref().unwrap().id(),
                r.source.slot.as_deref().unwrap()
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            "apps/v1/Deployment/prod/signed containers[0]",
            "v1/Pod/prod/signed-again initContainers[0]",
            "apps/v1/Deployment/dev/unsigned containers[0]",
            "v1/Pod/dev/offline initContainers[0]",
        ]
    );
    let signed_lines = lines_with(&text, &w.signed_ref(proxy.addr()));
    assert_eq!(
        rows[..2]
            .iter()
            .map(|r| r.source.location.as_ref().unwrap().line)
            .collect::<Vec<_>>(),
        signed_lines
    );
    assert_eq!(
        rows[3].source.location.as_ref().unwrap().line,
        lines_with(&text, UNREACHABLE)[0]
    );
    // Signed by digest: allowed, not a tag.
    assert_eq!(rows[0].digest.as_ref(), Some(&w.signed.1));
    assert!(!rows[0].by_tag);
    assert!(rows[0].reasons.is_empty(), "{json}");
    // Unsigned by tag: resolved, denied as unsigned.
    assert!(rows[2].by_tag);
    assert!(rows[2].digest.is_some());
    assert_eq!(rows[2].reasons, ["no-signatures"], "{json}");
    assert_eq!(rows[2].failures[0].rule.as_deref(), Some("release-signed"));
    assert!(
        rows[2].failures[0].message.starts_with("release: "),
        "{json}"
    );
    assert!(rows[2].would_deny);
    // Unreachable: not a verdict.
    assert_eq!(rows[3].digest, None);
    assert!(
        rows[3].reasons == ["registry-error"] || rows[3].reasons == ["timeout"],
        "{json}"
    );
    assert!(!rows[3].would_deny);

    let s = &report.summary;
    assert_eq!(
        (s.rows, s.allowed, s.warned, s.denied, s.error),
        (4, 2, 0, 1, 1)
    );
    assert_eq!(s.unique_images, 3);
    assert_eq!(s.unique_digests, 2);
    // Counted in the transport: at least the proxy's requests (the unreachable registry's
    // failed connection attempts count too).
    assert!(s.registry_requests.is_some_and(|n| n > 0), "{json}");
    let r = &s.enforce_readiness;
    assert_eq!((r.would_deny, r.unchecked), (1, 1));
    assert_eq!(r.by_rule["release-signed"].rows, 3);
    assert_eq!(r.by_rule["release-signed"].would_deny, 1);
    assert_eq!(r.by_namespace["prod"].would_deny, 0);
    assert_eq!(r.by_namespace["dev"].would_deny, 1);
    assert_eq!(r.by_namespace["dev"].error, 1);

    // The same digest in two workloads costs what it costs in one: requests for the signed
    // image through the proxy, with one use and with two (fresh verifiers each time).
    let signed_path = format!("/v2/{}/", w.signed.0);
    let one = [deployment("signed", "prod", &w.signed_ref(proxy.addr()))].join("");
    proxy.reset();
    audit_text(&w, &one).await;
    let once = proxy.count_path("GET", &signed_path) + proxy.count_path("HEAD", &signed_path);
    assert!(once > 0, "the proxy saw no request for the signed image");
    proxy.reset();
    let twice = [
        deployment("signed", "prod", &w.signed_ref(proxy.addr())),
        pod("signed-again", "prod", &w.signed_ref(proxy.addr())),
        deployment("signed-thrice", "qa", &w.signed_ref(proxy.addr())),
    ]
    .join("---\n");
    let report = audit_text(&w, &twice).await;
    assert_eq!(report.summary.unique_images, 1);
    assert!(report.rows.iter().all(|r| r.outcome == RowOutcome::Allowed));
    // The client's counter agrees with what the proxy saw, request for request.
    assert_eq!(
        report.summary.registry_requests,
        Some(proxy.requests().len() as u64),
        "{:?}",
        proxy.requests()
    );
    let thrice = proxy.count_path("GET", &signed_path) + proxy.count_path("HEAD", &signed_path);
    assert_eq!(
        thrice,
        once,
        "three workloads naming one digest must cost one verification: {:?}",
        proxy.requests()
    );
}

#[tokio::test]
async fn warn_and_audit_rules_count_as_would_deny() {
    let w = World::new(None).await;
    // The same policy with the rule in warn mode, then audit mode.
    for (mode, outcome) in [("warn", RowOutcome::Warned), ("audit", RowOutcome::Allowed)] {
        let text = std::fs::read_to_string(w.policy_path()).unwrap().replace(
            "    - name: release-signed\n",
            &format!("    - name: release-signed\n      mode: {mode}\n"),
        );
        let policy = Policy::from_str_with_base(&text, w.dir.path()).unwrap();
        let mut m = Manifests::default();
        m.read_str(
            &deployment("u", "dev", &w.unsigned_ref(registry())),
            "u.yaml",
        )
        .unwrap();
        let report = audit(&verifier(policy), m).await;
        let row = &report.rows[0];
        assert_eq!(row.outcome, outcome, "{mode}");
        assert!(row.would_deny, "{mode}");
        assert_eq!(row.would_deny_rules, ["release-signed"]);
        assert_eq!(report.summary.enforce_readiness.would_deny, 1);
        assert_eq!(report.summary.denied, 0);
    }
}

fn cli_audit(w: &World, args: &[&str]) -> (i32, String, String) {
    run(imprint()
        .arg("audit")
        .arg("--policy")
        .arg(w.policy_path())
        .args(args))
}

#[tokio::test]
async fn cli_table_json_and_exit_codes() {
    let w = World::new(None).await;
    let host = registry();
    let all = w.write("all.yaml", &manifest_set(&w, host));
    let good = w.write(
        "good.yaml",
        &deployment("signed", "prod", &w.signed_ref(host)),
    );
    let offline = w.write("offline.yaml", &pod("offline", "dev", UNREACHABLE));
    let all = all.to_str().unwrap();
    let good = good.to_str().unwrap();

    // Everything allowed: 0. The table names the workload, the outcome and file:line.
    let (code, out, err) = cli_audit(&w, &[good]);
    assert_eq!(code, 0, "{out}\n{err}");
    // stderr is not a terminal here: no progress line.
    assert!(!err.contains("verifying"), "{err}");
    assert!(out.starts_with("WORKLOAD"), "{out}");
    assert!(out.contains("apps/v1/Deployment/prod/signed"), "{out}");
    assert!(out.contains(&format!("{good}:11")), "{out}");
    assert!(out.contains("allowed"), "{out}");
    assert!(out.contains("enforce readiness"), "{out}");
    assert!(out.contains("registry requests: "), "{out}");
    assert!(!out.contains("not counted"), "{out}");
    assert!(
        out.contains(&format!("imprint {}, policy ", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains(&w.policy().hash().to_string()), "{out}");
    assert!(out.contains("trust root sha256:"), "{out}");

    // A denied row: 1. An image given directly is a row too.
    let (code, out, err) = cli_audit(&w, &[all, &w.signed_ref(host)]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("1 of 5 row(s) denied"), "{err}");
    assert!(err.contains("1 of 5 row(s) could not be checked"), "{err}");
    assert!(out.contains("no-signatures"), "{out}");
    assert!(out.contains("[release-signed/enforce]"), "{out}");

    // Only an unreachable registry: error rows fail closed (1), said apart from denials.
    let (code, out, err) = cli_audit(&w, &[offline.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(!err.contains("denied"), "{err}");
    assert!(err.contains("could not be checked"), "{err}");
    assert!(out.contains(" error "), "{out}");

    // JSON, to a file.
    let file = w.dir.path().join("out.json");
    let (code, out, err) = cli_audit(
        &w,
        &["-o", "json", "--output-file", file.to_str().unwrap(), all],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.is_empty(), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let outcomes: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["allowed", "allowed", "denied", "error"]);
    assert_eq!(v["summary"]["uniqueImages"], 3);
    assert_eq!(v["summary"]["uniqueDigests"], 2);
    assert!(
        v["summary"]["registryRequests"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert_eq!(v["rows"][0]["location"]["file"], all);
    assert_eq!(v["rows"][0]["location"]["line"], 11);
    assert_eq!(v["policy"]["hash"], w.policy().hash().to_string());
    // Header: version, policy hash, trust-root hash (key authorities only: the default's).
    assert_eq!(v["imprintVersion"], env!("CARGO_PKG_VERSION"));
    let pg = imprint::trust::EmbeddedRoot::PublicGood
        .load()
        .unwrap()
        .hash()
        .to_string();
    assert_eq!(v["trustRoot"]["hash"], pg.as_str());
    assert_eq!(v["trustRoot"]["default"], true);

    // Stdin.
    let mut c = imprint();
    c.args(["audit", "-o", "json", "--policy"])
        .arg(w.policy_path())
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(deployment("signed", "prod", &w.signed_ref(host)).as_bytes())
            .unwrap();
    }
    let done = child.wait_with_output().unwrap();
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        crate::support::cli::stderr(&done)
    );
    let v: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(v["rows"][0]["location"]["file"], "<stdin>");
}

#[test]
fn cli_operational_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let policy = crate_path("policies/audit-everything.yaml");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    image: x\n",
    )
    .unwrap();
    let run_with = |policy: &Path, input: &str| {
        run(imprint()
            .arg("audit")
            .arg("--policy")
            .arg(policy)
            .arg(input))
    };
    // A malformed manifest names file:line.
    let (code, _, err) = run_with(&policy, bad.to_str().unwrap());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{}:6: `containers` must be a sequence",
            bad.display()
        )),
        "{err}"
    );
    // Neither a path nor an image reference.
    let (code, _, err) = run_with(&policy, "Not An Image");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("not a file or directory, nor a valid image reference"),
        "{err}"
    );
    // No such policy.
    let (code, _, err) = run_with(&dir.path().join("nope.yaml"), "x.example/a:1");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot load policy"), "{err}");
    // No inputs: a usage error.
    let (code, _, _) = run(imprint().arg("audit").arg("--policy").arg(&policy));
    assert_eq!(code, 2);
}

#[test]
fn the_fixture_set_reads_without_a_registry() {
    // Every fixture manifest parses (the CLI would then verify them); counts as documented in
    // testdata/audit/README.md.
    let mut m = Manifests::default();
    m.read_path(&crate_path("testdata/audit/manifests"))
        .unwrap();
    assert_eq!(m.uses.len(), 16);
    assert_eq!(m.skipped.values().sum::<usize>(), 4);
}

/// SARIF: the required fields of 2.1.0 (log `version`, `runs`, `tool.driver.name`; results
/// with `message.text`), a rule with help text for every `ruleId`, levels from modes, regions
/// at the `image:` lines, fingerprints without the digest; parsed back with serde_json.
/// JUnit: well-formed XML (parsed by Python's xml.etree) with a failure and an error.
#[tokio::test]
async fn cli_sarif_and_junit() {
    let w = World::new(None).await;
    let host = registry();
    let text = manifest_set(&w, host);
    let all = w.write("all.yaml", &text);
    let all = all.to_str().unwrap();

    let (code, out, err) = cli_audit(&w, &["-o", "sarif", all]);
    assert_eq!(code, 1, "{out}\n{err}");
    let log: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "imprint");
    let rules = driver["rules"].as_array().unwrap();
    let results = runs[0]["results"].as_array().unwrap();
    // The unsigned row and the unreachable row; the allowed rows give none.
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], "no-signatures", "{out}");
    assert!(ids[1] == "registry-error" || ids[1] == "timeout", "{out}");
    assert_eq!(results.len(), 2, "{out}");
    for (i, r) in results.iter().enumerate() {
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        assert_eq!(r["level"], "error", "enforce mode / could not check");
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert!(!rules[index]["help"]["text"].as_str().unwrap().is_empty());
        assert!(
            !rules[index]["shortDescription"]["text"]
                .as_str()
                .unwrap()
                .is_empty()
        );
        let fp = r["partialFingerprints"]["imprintFinding/v1"]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 64);
        let physical = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            physical["artifactLocation"]["uri"],
            format!("file://{all}"),
            "{i}"
        );
        assert!(physical["region"]["startColumn"].as_u64().unwrap() > 1);
    }
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        lines_with(&text, &w.unsigned_ref(host))[0]
    );
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["region"]["startLine"],
        lines_with(&text, UNREACHABLE)[0]
    );
    assert_eq!(
        results[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "apps/v1/Deployment/dev/unsigned/containers[0]"
    );
    assert_eq!(results[0]["properties"]["policyRule"], "release-signed");

    // The fingerprint stays when the image gets a new digest and moves down a line.
    let unsigned = w.unsigned.clone();
    push_random_image(&unsigned).await;
    let moved = w.write("moved.yaml", &format!("# moved\n{text}"));
    let (_, out2, _) = cli_audit(&w, &["-o", "sarif", moved.to_str().unwrap()]);
    let log2: serde_json::Value = serde_json::from_str(&out2).unwrap();
    let r2 = &log2["runs"][0]["results"][0];
    assert_ne!(
        r2["properties"]["digest"],
        results[0]["properties"]["digest"]
    );
    assert_eq!(
        r2["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .unwrap(),
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .unwrap()
            + 1
    );
    assert_eq!(r2["partialFingerprints"], results[0]["partialFingerprints"]);

    // JUnit.
    let file = w.dir.path().join("junit.xml");
    let (code, _, err) = cli_audit(
        &w,
        &["-o", "junit", "--output-file", file.to_str().unwrap(), all],
    );
    assert_eq!(code, 1, "{err}");
    crate::support::require_python_modules(&["xml.etree.ElementTree"], "part of python3");
    let check = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as E\n\
             root = E.parse(sys.argv[1]).getroot()\n\
             cases = root.findall('./testsuite/testcase')\n\
             print(root.get('tests'), root.get('failures'), root.get('errors'), len(cases),\n\
                   sum(1 for c in cases if c.find('failure') is not None),\n\
                   sum(1 for c in cases if c.find('error') is not None),\n\
                   cases[2].get('classname'), cases[2].find('failure').get('type'))",
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&check.stderr),
        std::fs::read_to_string(&file).unwrap()
    );
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "4 1 1 4 1 1 apps/v1/Deployment/dev/unsigned no-signatures"
    );
}

#[tokio::test]
async fn cli_policyreport_yaml_parses_back() {
    let w = World::new(None).await;
    let host = registry();
    let all = w.write("all.yaml", &manifest_set(&w, host));
    let all = all.to_str().unwrap();
    let signed = w.signed_ref(host);
    let (code, out, err) = cli_audit(&w, &["-o", "policyreport", all, &signed]);
    assert_eq!(code, 1, "{out}\n{err}");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&out).unwrap();
    let kinds: Vec<(&str, Option<&str>)> = docs
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["namespace"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("PolicyReport", Some("dev")),
            ("PolicyReport", Some("prod")),
            ("ClusterPolicyReport", None),
        ],
        "{out}"
    );
    for d in &docs {
        assert_eq!(d["apiVersion"], "wgpolicyk8s.io/v1alpha2", "{out}");
        assert_eq!(
            d["metadata"]["annotations"]["imprint.dev/policy-hash"],
            w.policy().hash().to_string()
        );
        assert!(
            d["metadata"]["annotations"]["imprint.dev/trust-root-hash"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
    }
    // dev: the unsigned deployment fails, the unreachable pod is an error.
    let dev = &docs[0];
    let results: Vec<(&str, &str)> = dev["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resources"][0]["name"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [("unsigned", "fail"), ("offline", "error")],
        "{out}"
    );
    assert_eq!(dev["summary"]["fail"], 1);
    assert_eq!(dev["summary"]["error"], 1);
    // prod: both pass, with digest and slot.
    let prod = &docs[1]["results"];
    assert_eq!(prod.as_array().unwrap().len(), 2, "{out}");
    assert_eq!(prod[0]["result"], "pass");
    assert_eq!(prod[0]["rule"], "release-signed");
    assert_eq!(prod[0]["properties"]["digest"], w.signed.1.to_string());
    assert_eq!(prod[0]["properties"]["slot"], "containers[0]");
    assert_eq!(prod[1]["properties"]["slot"], "initContainers[0]");
    // The image given directly: the cluster report, no resources.
    let cluster = &docs[2]["results"][0];
    assert_eq!(cluster["result"], "pass", "{out}");
    assert_eq!(cluster["properties"]["image"], signed.as_str());
    assert!(cluster.get("resources").is_none());
}

#[tokio::test]
async fn repository_tags_are_paginated_bounded_and_audited() {
    use crate::support::push_image_to;
    let proxy = Proxy::start(registry()).await;
    let w = World::new(Some(proxy.addr())).await;
    // Five more tags in the signed image's repository (unsigned images), besides `v1` (signed)
    // and the signature's `sha256-….sig` tag, which is not an image.
    let repo_ref = format!("{}/{}", proxy.addr(), w.signed.0);
    let image = imprint::format::reference::ImageRef::parse(&format!("{repo_ref}:v1")).unwrap();
    let repository = test_client().repository(&image).unwrap();
    for t in ["t1", "t2", "t3", "t4", "t5"] {
        push_image_to(&repository, Some(t), ("amd64", "linux")).await;
    }
    let v = verifier(w.policy());
    // The real registry (distribution 2.8 ignores `n`): all seven tags.
    let list = v.client().list_tags(&image, 100, 2).await.unwrap();
    assert_eq!(list.tags.len(), 7, "{:?}", list.tags);
    assert!(!list.truncated);
    // Pagination as distribution 3 and other registries do it, answered by the proxy: three
    // pages chained by `Link: <…>; rel="next"` (relative and absolute targets).
    let path = format!("/v2/{}/tags/list", w.signed.0);
    let page = |tags: &[&str], next: Option<String>| {
        let mut f = imprint_fault(tags);
        if let Some(n) = next {
            f.headers
                .push(("Link".into(), format!("<{n}>; rel=\"next\"")));
        }
        f
    };
    proxy.inject(
        "GET",
        &format!("{path}?n=2"),
        page(&["a", "b"], Some(format!("{path}?page=2"))),
    );
    proxy.inject(
        "GET",
        &format!("{path}?page=2"),
        page(
            &["c", "d"],
            Some(format!("http://{}{path}?page=3", proxy.addr())),
        ),
    );
    proxy.inject("GET", &format!("{path}?page=3"), page(&["e"], None));
    proxy.reset();
    let list = v.client().list_tags(&image, 100, 2).await.unwrap();
    assert_eq!(list.tags, ["a", "b", "c", "d", "e"]);
    assert!(!list.truncated);
    assert_eq!(proxy.count("GET", Kind::Tags), 3, "{:?}", proxy.requests());
    // Bounded: stops at the limit, without reading further pages.
    proxy.reset();
    let list = v.client().list_tags(&image, 3, 2).await.unwrap();
    assert_eq!(list.tags, ["a", "b", "c"]);
    assert!(list.truncated);
    assert_eq!(proxy.count("GET", Kind::Tags), 2);
    // A next page on another host is refused.
    proxy.clear_faults();
    proxy.inject(
        "GET",
        &format!("{path}?n=2"),
        page(&["a"], Some("http://127.0.0.2:1/v2/x/tags/list".into())),
    );
    let err = v.client().list_tags(&image, 100, 2).await.unwrap_err();
    assert!(err.to_string().contains("another host"), "{err}");
    proxy.clear_faults();
    // Audited: each image tag a row (the .sig tag skipped); v1 allowed, the rest denied.
    // A fresh verifier (nothing cached), so the summary's request count is exactly what the
    // proxy saw: the tag list included, not only the verifications.
    let v = verifier(w.policy());
    proxy.reset();
    let mut m = Manifests::default();
    let added = imprint::audit::add_repository(&v, &mut m, &repo_ref, 100, 2)
        .await
        .unwrap();
    assert_eq!(added, 6);
    assert!(m.registry_requests >= 1, "{m:?}");
    let report = audit(&v, m).await;
    assert_eq!(
        report.summary.registry_requests,
        Some(proxy.requests().len() as u64),
        "{:?}",
        proxy.requests()
    );
    assert!(proxy.count("GET", Kind::Tags) >= 1);
    let mut rows: Vec<(String, RowOutcome)> = report
        .rows
        .iter()
        .map(|r| (r.source.image.clone(), r.outcome))
        .collect();
    rows.sort();
    let expect: Vec<(String, RowOutcome)> = ["t1", "t2", "t3", "t4", "t5", "v1"]
        .iter()
        .map(|t| {
            let o = if *t == "v1" {
                RowOutcome::Allowed
            } else {
                RowOutcome::Denied
            };
            (format!("{repo_ref}:{t}"), o)
        })
        .collect();
    assert_eq!(rows, expect);
    // A truncated list says so in the inputs.
    let mut m = Manifests::default();
    imprint::audit::add_repository(&v, &mut m, &repo_ref, 2, 2)
        .await
        .unwrap();
    assert!(
        m.warnings.iter().any(|x| x.contains("first 2 tags")),
        "{:?}",
        m.warnings
    );
    // The CLI: --repository alone (on the registry itself: the proxy runs on this test's
    // runtime, which the blocking CLI call holds).
    let direct = format!("{}/{}", registry(), w.signed.0);
    let (code, out, err) = cli_audit(&w, &["-o", "json", "--repository", &direct]);
    assert_eq!(code, 1, "{out}\n{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 6, "{out}");
    assert_eq!(json["summary"]["allowed"], 1);
    assert_eq!(json["summary"]["denied"], 5);
}

/// A tag list page answered by the proxy.
fn imprint_fault(tags: &[&str]) -> Fault {
    Fault::body(
        "application/json",
        serde_json::to_vec(&serde_json::json!({"name": "x", "tags": tags})).unwrap(),
    )
}
