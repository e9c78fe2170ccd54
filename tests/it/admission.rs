//! The admission webhook (issue 13) over HTTPS against the real registry: AdmissionReview
//! bodies shaped as the API server sends them (`admission.k8s.io/v1`, fields as in the
//! Kubernetes reference "Dynamic Admission Control" request example) for a Pod, a Deployment,
//! a CronJob, the `pods/ephemeralcontainers` subresource, a dry run, an unknown kind, a
//! malformed and an oversize body; a registry too slow for the budget; `--validate-only`;
//! the evidence cache sharing one verification; metrics; certificate reload; shutdown; the
//! decision log (`--audit-log`): records per decided image with their index in
//! `auditAnnotations`, dry runs not logged, `imprint audit-log verify` accepting the log and
//! naming a record tampered afterwards; HTTP/2 (what the API server speaks to webhooks).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::proxy::{Fault, Proxy};
use crate::support::{crate_path, push_random_image, registry, test_client, unique_repo};
use imprint::admission::server::{Server, ServerConfig};
use imprint::admission::{PinMode, Webhook, WebhookOptions};
use imprint::decisionlog::note::NoteSigner;
use imprint::decisionlog::{DecisionLog, Options as LogOptions};
use imprint::format::digest::Digest;
use imprint::gate::Verifier;
use imprint::keys::SigningKey;
use imprint::policy::Policy;
use imprint::sign::{self, SignOptions};
use imprint::store::{AuthSource, RegistryConfig};

/// Signed and unsigned images under one prefix, and a policy: `enforced/**` must be signed
/// by the key (enforce), `soft/**` too but in `warn` mode; also through `via` (a proxy).
struct World {
    dir: tempfile::TempDir,
    prefix: String,
    signed: (String, Digest),
}

impl World {
    async fn new(via: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate_p256().unwrap();
        std::fs::write(dir.path().join("release.pub"), key.public_key().to_pem()).unwrap();
        let prefix = unique_repo("admission");
        let (signed_ref, digest) = push_random_image(&format!("{prefix}/enforced/signed")).await;
        sign::sign_image(&test_client(), &signed_ref, &key, &SignOptions::default())
            .await
            .unwrap();
        push_random_image(&format!("{prefix}/enforced/unsigned")).await;
        push_random_image(&format!("{prefix}/soft/unsigned")).await;
        let mut enforced = vec![format!("\"{}/{prefix}/enforced/**\"", registry())];
        if let Some(via) = via {
            enforced.push(format!("\"{via}/{prefix}/**\""));
        }
        let policy = format!(
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: deny\n  authorities:\n    release: {{key: {{file: release.pub}}}}\n  rules:\n    - name: release-signed\n      images: [{}]\n      signatures: {{authority: release}}\n    - name: soft\n      mode: warn\n      images: [\"{}/{prefix}/soft/**\"]\n      signatures: {{authority: release}}\n",
            enforced.join(", "),
            registry()
        );
        std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
        Self {
            dir,
            signed: (format!("{prefix}/enforced/signed"), digest),
            prefix,
        }
    }

    fn verifier(&self, cache: bool) -> Verifier {
        let policy = Policy::from_path(&self.dir.path().join("policy.yaml")).unwrap();
        let mut b = Verifier::builder(policy).registry(RegistryConfig {
            auth: AuthSource::Anonymous,
            ..RegistryConfig::default()
        });
        if cache {
            b = b.evidence_cache(1 << 20, Duration::from_secs(300));
        }
        b.build().unwrap()
    }

    /// `<registry>/<prefix>/enforced/signed:v1`.
    fn signed_tag(&self) -> String {
        format!("{}/{}:v1", registry(), self.signed.0)
    }

    fn unsigned_tag(&self) -> String {
        format!("{}/{}/enforced/unsigned:v1", registry(), self.prefix)
    }

    fn soft_tag(&self) -> String {
        format!("{}/{}/soft/unsigned:v1", registry(), self.prefix)
    }
}

/// A running webhook on 127.0.0.1 with copies of the test certificates.
struct Hook {
    addr: SocketAddr,
    webhook: Arc<Webhook>,
    certs: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn testdata(name: &str) -> PathBuf {
    crate_path("testdata/admission").join(name)
}

impl Hook {
    async fn start(verifier: Verifier, options: WebhookOptions) -> Self {
        Self::serve(Webhook::new(verifier, options)).await
    }

    async fn serve(webhook: Webhook) -> Self {
        let certs = tempfile::tempdir().unwrap();
        for f in ["server.pem", "server.key"] {
            std::fs::copy(testdata(f), certs.path().join(f)).unwrap();
        }
        let server = Server::bind(&ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            cert: certs.path().join("server.pem"),
            key: certs.path().join("server.key"),
        })
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        let webhook = Arc::new(webhook);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let w = webhook.clone();
        let task = tokio::spawn(async move {
            server
                .serve(w, async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            webhook,
            certs,
            stop: Some(tx),
            task: Some(task),
        }
    }

    fn client() -> reqwest::Client {
        let ca = std::fs::read(testdata("ca.pem")).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .tls_info(true)
            .build()
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> (u16, String) {
        let r = Self::client()
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POST a review; the `response` of the answer (after checking the envelope and uid).
    async fn review(&self, path: &str, body: Vec<u8>) -> Value {
        let sent: Value = serde_json::from_slice(&body).unwrap();
        let (status, text) = self.post(path, body).await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        assert_eq!(v["response"]["uid"], sent["request"]["uid"], "uid echoed");
        v["response"].clone()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = Self::client().get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("the server drains and stops")
                .unwrap();
        }
    }
}

/// A request as the API server sends it.
struct Req {
    gvk: (&'static str, &'static str, &'static str),
    resource: &'static str,
    sub_resource: Option<&'static str>,
    operation: &'static str,
    object: Value,
    old: Value,
    dry_run: bool,
}

impl Req {
    fn create(
        gvk: (&'static str, &'static str, &'static str),
        resource: &'static str,
        object: Value,
    ) -> Self {
        Self {
            gvk,
            resource,
            sub_resource: None,
            operation: "CREATE",
            object,
            old: Value::Null,
            dry_run: false,
        }
    }

    fn body(&self) -> Vec<u8> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (group, version, kind) = self.gvk;
        let options_kind = if self.operation == "CREATE" {
            "CreateOptions"
        } else {
            "UpdateOptions"
        };
        let mut request = json!({
            "uid": format!("705ab4f5-6393-11e8-b7cc-{n:012x}"),
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": self.resource},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": self.resource},
            "name": self.object["metadata"]["name"],
            "namespace": "shop",
            "operation": self.operation,
            "userInfo": {
                "username": "admin",
                "uid": "014fbff9a07c",
                "groups": ["system:authenticated", "my-admin-group"],
                "extra": {"some-key": ["some-value1", "some-value2"]}
            },
            "object": self.object,
            "oldObject": self.old,
            "dryRun": self.dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": options_kind}
        });
        if let Some(s) = self.sub_resource {
            request["subResource"] = s.into();
            request["requestSubResource"] = s.into();
        }
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": request
        }))
        .unwrap()
    }
}

const POD: (&str, &str, &str) = ("", "v1", "Pod");

fn pod(name: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image, "resources": {}}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": {"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}
    })
}

fn deployment(name: &str, replicas: u64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    })
}

fn patch_of(response: &Value) -> Value {
    assert_eq!(response["patchType"], "JSONPatch", "{response}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn pod_signed_is_allowed_and_pinned_unsigned_is_denied_with_its_reason() {
    let w = World::new(None).await;
    let hook = Hook::start(w.verifier(false), WebhookOptions::default()).await;

    let signed = Req::create(POD, "pods", pod("web", &[&w.signed_tag()])).body();
    let r = hook.review("/validate", signed.clone()).await;
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r.get("patch").is_none(), "/validate never patches: {r}");
    let id = r["auditAnnotations"]["decision-id"].as_str().unwrap();
    assert_eq!(id.len(), 32, "{r}");

    let r = hook.review("/mutate", signed).await;
    assert_eq!(r["allowed"], true, "{r}");
    assert_ne!(
        r["auditAnnotations"]["decision-id"].as_str().unwrap(),
        id,
        "fresh id"
    );
    assert_eq!(
        patch_of(&r),
        json!([{
            "op": "replace",
            "path": "/spec/containers/0/image",
            "value": format!("{}@{}", w.signed_tag(), w.signed.1)
        }])
    );
    // Already pinned: nothing to patch.
    let pinned = format!("{}@{}", w.signed_tag(), w.signed.1);
    let r = hook
        .review(
            "/mutate",
            Req::create(POD, "pods", pod("pinned", &[&pinned])).body(),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r.get("patch").is_none(), "{r}");

    // One signed, one unsigned: denied, naming the unsigned one's slot and reason only.
    let body = Req::create(
        POD,
        "pods",
        pod("mixed", &[&w.signed_tag(), &w.unsigned_tag()]),
    )
    .body();
    for endpoint in ["/validate", "/mutate"] {
        let r = hook.review(endpoint, body.clone()).await;
        assert_eq!(r["allowed"], false, "{r}");
        assert!(r.get("patch").is_none(), "{r}");
        assert_eq!(r["status"]["code"], 403);
        let message = r["status"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("imprint denied v1/Pod/shop/mixed:"),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "- containers[1] {}: no-signatures",
                w.unsigned_tag()
            )),
            "{message}"
        );
        assert!(!message.contains("containers[0]"), "{message}");
    }
    hook.stop().await;
}

#[tokio::test]
async fn deployment_cronjob_and_warn_mode() {
    let w = World::new(None).await;
    let hook = Hook::start(w.verifier(false), WebhookOptions::default()).await;

    let r = hook
        .review(
            "/mutate",
            Req::create(
                ("apps", "v1", "Deployment"),
                "deployments",
                deployment("api", 3, &w.signed_tag()),
            )
            .body(),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(
        patch_of(&r)[0]["path"],
        "/spec/template/spec/containers/0/image"
    );

    let r = hook
        .review(
            "/validate",
            Req::create(
                ("apps", "v1", "Deployment"),
                "deployments",
                deployment("api", 3, &w.unsigned_tag()),
            )
            .body(),
        )
        .await;
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("imprint denied apps/v1/Deployment/shop/api:\n- containers[0]"),
        "{r}"
    );

    let cron = json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "shop"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "job", "image": w.signed_tag()}]
            }}}}
        }
    });
    let r = hook
        .review(
            "/mutate",
            Req::create(("batch", "v1", "CronJob"), "cronjobs", cron).body(),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(
        patch_of(&r)[0]["path"],
        "/spec/jobTemplate/spec/template/spec/containers/0/image"
    );

    // warn mode: allowed, one warning line of at most 120 characters.
    let r = hook
        .review(
            "/validate",
            Req::create(POD, "pods", pod("soft", &[&w.soft_tag()])).body(),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{r}");
    let line = warnings[0].as_str().unwrap();
    assert!(line.chars().count() <= 120, "{line}");
    assert!(line.starts_with("imprint: containers[0] "), "{line}");
    hook.stop().await;
}

#[tokio::test]
async fn ephemeral_containers_dry_run_updates_and_unknown_kinds() {
    let w = World::new(None).await;
    let hook = Hook::start(w.verifier(false), WebhookOptions::default()).await;

    // `kubectl debug`: an UPDATE of pods/ephemeralcontainers adding an unsigned debug image.
    let old = pod("web", &[&w.signed_tag()]);
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"] =
        json!([{"name": "debugger", "image": w.unsigned_tag(), "targetContainerName": "c0"}]);
    let req = Req {
        gvk: POD,
        resource: "pods",
        sub_resource: Some("ephemeralcontainers"),
        operation: "UPDATE",
        object: new.clone(),
        old: old.clone(),
        dry_run: false,
    };
    let r = hook.review("/validate", req.body()).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("- ephemeralContainers[0] "),
        "{r}"
    );
    // A dry run is decided the same way.
    let dry = Req {
        dry_run: true,
        ..req
    };
    let r = hook.review("/validate", dry.body()).await;
    assert_eq!(r["allowed"], false, "{r}");

    // Scale-down of an unsigned Deployment passes; scale-up is checked.
    let update = |replicas, old_replicas| Req {
        gvk: ("apps", "v1", "Deployment"),
        resource: "deployments",
        sub_resource: None,
        operation: "UPDATE",
        object: deployment("api", replicas, &w.unsigned_tag()),
        old: deployment("api", old_replicas, &w.unsigned_tag()),
        dry_run: false,
    };
    let r = hook.review("/validate", update(1, 3).body()).await;
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("scale-down"),
        "{r}"
    );
    let r = hook.review("/validate", update(4, 3).body()).await;
    assert_eq!(r["allowed"], false, "{r}");
    // An object being deleted passes (finalizers removing themselves).
    let mut deleting = update(3, 3);
    deleting.object["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z".into();
    let r = hook.review("/validate", deleting.body()).await;
    assert_eq!(r["allowed"], true, "{r}");

    // An unknown kind has no pod template: allowed, and the message says it was not checked.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"image": w.unsigned_tag()}});
    let r = hook
        .review(
            "/validate",
            Req::create(("", "v1", "ConfigMap"), "configmaps", cm).body(),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(
        r["status"]["message"],
        "imprint: kind `v1/ConfigMap` has no pod template; not checked"
    );
    // A Pod whose containers are not a list is denied (fail closed), not skipped.
    let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"}, "spec": {"containers": {"image": "x"}}});
    let r = hook
        .review("/validate", Req::create(POD, "pods", bad).body())
        .await;
    assert_eq!(r["allowed"], false, "{r}");
    hook.stop().await;
}

#[tokio::test]
async fn malformed_and_oversize_bodies_are_refused_and_counted() {
    let w = World::new(None).await;
    let hook = Hook::start(
        w.verifier(false),
        WebhookOptions::default().max_body_bytes(64 * 1024),
    )
    .await;
    let (status, text) = hook.post("/validate", b"{\"apiVersion\": ".to_vec()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("not an AdmissionReview"), "{text}");
    let (status, text) = hook
        .post("/validate", br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}"#.to_vec())
        .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("admission.k8s.io/v1beta1"), "{text}");

    let mut big = pod("big", &[&w.signed_tag()]);
    big["metadata"]["annotations"] = json!({"filler": "x".repeat(100 * 1024)});
    let (status, text) = hook
        .post("/validate", Req::create(POD, "pods", big).body())
        .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("max_admission_body_bytes"), "{text}");

    let (status, _) = hook.get("/validate").await;
    assert_eq!(status, 405);
    let (status, _) = hook.get("/nothing").await;
    assert_eq!(status, 404);
    let (status, metrics) = hook.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            "imprint_admission_requests_total{endpoint=\"validate\",answer=\"bad-request\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "imprint_admission_requests_total{endpoint=\"validate\",answer=\"too-large\"} 1"
        ),
        "{metrics}"
    );
    hook.stop().await;
}

#[tokio::test]
async fn a_registry_slower_than_the_budget_denies_with_timeout_in_time() {
    let proxy = Proxy::start(registry()).await;
    let w = World::new(Some(proxy.addr())).await;
    let budget = Duration::from_millis(1500);
    let hook = Hook::start(w.verifier(false), WebhookOptions::default().budget(budget)).await;
    let mut slow = Fault::body(
        "application/vnd.oci.image.manifest.v1+json",
        vec![b' '; 1000],
    );
    slow.trickle = Some(Duration::from_millis(100));
    proxy.inject("GET", "/manifests/", slow.clone());
    proxy.inject("HEAD", "/manifests/", slow);

    let image = format!("{}/{}:v1", proxy.addr(), w.signed.0);
    let started = Instant::now();
    let r = hook
        .review(
            "/validate",
            Req::create(POD, "pods", pod("slow", &[&image])).body(),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("containers[0] {image}: timeout")),
        "{message}"
    );
    assert!(took < budget + Duration::from_secs(2), "took {took:?}");
    assert!(
        took >= budget,
        "answered before the budget ran out: {took:?}"
    );
    let (_, metrics) = hook.get("/metrics").await;
    assert!(
        metrics.contains("imprint_admission_timeouts_total 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("imprint_admission_decisions_total{outcome=\"denied\",reason=\"timeout\"} 1"),
        "{metrics}"
    );
    hook.stop().await;
}

#[tokio::test]
async fn validate_only_requires_digests_and_reports_the_tags_digest() {
    let w = World::new(None).await;
    let hook = Hook::start(
        w.verifier(false),
        WebhookOptions::default().pin(PinMode::ValidateOnly),
    )
    .await;
    let r = hook
        .review(
            "/mutate",
            Req::create(POD, "pods", pod("web", &[&w.signed_tag()])).body(),
        )
        .await;
    assert_eq!(r["allowed"], false, "{r}");
    assert!(r.get("patch").is_none(), "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "digest-required: written without a digest; it resolves to {}: write {}@{}",
            w.signed.1,
            w.signed_tag(),
            w.signed.1
        )),
        "{message}"
    );
    let pinned = format!("{}@{}", w.signed_tag(), w.signed.1);
    let r = hook
        .review(
            "/mutate",
            Req::create(POD, "pods", pod("web", &[&pinned])).body(),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r.get("patch").is_none(), "{r}");
    hook.stop().await;
}

#[tokio::test]
async fn the_evidence_cache_verifies_a_rollout_once_and_evaluates_the_policy_each_time() {
    let proxy = Proxy::start(registry()).await;
    let w = World::new(Some(proxy.addr())).await;
    let hook = Hook::start(w.verifier(true), WebhookOptions::default()).await;
    let pinned = format!("{}/{}@{}", proxy.addr(), w.signed.0, w.signed.1);
    // Deployment → ReplicaSet → Pods at once: 8 concurrent requests for the same digest.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let body = Req::create(POD, "pods", pod(&format!("web-{i}"), &[&pinned])).body();
        let client = Hook::client();
        let url = hook.url("/validate");
        tasks.push(tokio::spawn(async move {
            let text = client
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            serde_json::from_str::<Value>(&text).unwrap()
        }));
    }
    for t in tasks {
        let v = t.await.unwrap();
        assert_eq!(v["response"]["allowed"], true, "{v}");
    }
    let stats = hook.webhook.verifier().evidence_cache_stats().unwrap();
    assert_eq!(stats.misses, 1, "{stats:?}");
    assert_eq!(stats.hits + stats.shared, 7, "{stats:?}");
    let before = proxy.requests().len();
    let r = hook
        .review(
            "/validate",
            Req::create(POD, "pods", pod("later", &[&pinned])).body(),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(
        proxy.requests().len(),
        before,
        "a cached digest sends no request"
    );
    let (_, metrics) = hook.get("/metrics").await;
    assert!(
        metrics.contains("imprint_evidence_cache_lookups_total{result=\"miss\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("imprint_registry_requests_total "),
        "{metrics}"
    );
    assert!(
        metrics.contains("imprint_admission_request_duration_seconds_count 9"),
        "{metrics}"
    );
    hook.stop().await;
}

#[tokio::test]
async fn health_readiness_and_certificate_reload() {
    let w = World::new(None).await;
    let hook = Hook::start(w.verifier(false), WebhookOptions::default()).await;
    assert_eq!(hook.get("/healthz").await, (200, "ok\n".to_owned()));
    assert_eq!(hook.get("/readyz").await, (200, "ready\n".to_owned()));

    let presented = |url: String| async move {
        let r = Hook::client().get(url).send().await.unwrap();
        r.extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|t| t.peer_certificate().map(<[u8]>::to_vec))
            .unwrap()
    };
    let der = |name: &str| {
        let pem = std::fs::read(testdata(name)).unwrap();
        pem::parse(pem).unwrap().contents().to_vec()
    };
    assert_eq!(presented(hook.url("/healthz")).await, der("server.pem"));
    // Replace the pair (as a Secret update does), with a newer modification time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    replace(
        &testdata("server2.key"),
        &hook.certs.path().join("server.key"),
    );
    replace(
        &testdata("server2.pem"),
        &hook.certs.path().join("server.pem"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if presented(hook.url("/healthz")).await == der("server2.pem") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A broken pair is not loaded: the previous one keeps serving.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(hook.certs.path().join("server.pem"), "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(presented(hook.url("/healthz")).await, der("server2.pem"));
    hook.stop().await;
}

fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// `imprint admission` as deployed: serves the policy's decisions over HTTPS, then stops
/// with exit status 0 on SIGTERM (what the kubelet sends).
#[tokio::test]
async fn the_cli_serves_and_stops_on_sigterm() {
    use std::io::BufRead as _;
    let w = World::new(None).await;
    let mut child = crate::support::cli::imprint()
        .args([
            "admission",
            "--listen",
            "127.0.0.1:0",
            "--budget",
            "5s",
            "--policy",
        ])
        .arg(w.dir.path().join("policy.yaml"))
        .arg("--tls-cert")
        .arg(testdata("server.pem"))
        .arg("--tls-key")
        .arg(testdata("server.key"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stderr)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("imprint admission: listening on https://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .parse()
        .unwrap();
    let client = Hook::client();
    let post = |image: String| {
        let client = client.clone();
        async move {
            let body = Req::create(POD, "pods", pod("web", &[&image])).body();
            let text = client
                .post(format!("https://localhost:{port}/validate"))
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    assert_eq!(post(w.signed_tag()).await["response"]["allowed"], true);
    assert_eq!(post(w.unsigned_tag()).await["response"]["allowed"], false);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// A decision-log directory with its key pair (key files as `imprint audit-log keygen`
/// writes them).
struct LogDir {
    tmp: tempfile::TempDir,
}

impl LogDir {
    const ORIGIN: &'static str = "imprint.test/admission";

    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let signer = NoteSigner::generate(Self::ORIGIN).unwrap();
        std::fs::write(
            tmp.path().join("log.key"),
            format!("{}\n", signer.to_private_text().as_str()),
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("log.pub"),
            format!("{}\n", signer.verifier().to_text()),
        )
        .unwrap();
        Self { tmp }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("log")
    }

    fn open(&self) -> DecisionLog {
        let text = std::fs::read_to_string(self.tmp.path().join("log.key")).unwrap();
        let signer = NoteSigner::parse(&text).unwrap();
        DecisionLog::open(&self.dir(), LogOptions::new(Self::ORIGIN, signer)).unwrap()
    }

    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir().join("decisions.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `imprint audit-log verify DIR --key PUB`: (exit code, stdout, stderr).
    fn verify(&self) -> (i32, String, String) {
        crate::support::cli::run(
            crate::support::cli::imprint()
                .args(["audit-log", "verify"])
                .arg(self.dir())
                .arg("--key")
                .arg(self.tmp.path().join("log.pub")),
        )
    }
}

#[tokio::test]
async fn decisions_are_logged_with_their_index_in_audit_annotations() {
    let w = World::new(None).await;
    let log = LogDir::new();
    let webhook = Webhook::new(w.verifier(false), WebhookOptions::default())
        .with_decision_log(Arc::new(log.open()));
    let hook = Hook::serve(webhook).await;

    // Allowed: one record, index 0.
    let allowed = Req::create(POD, "pods", pod("web", &[&w.signed_tag()]));
    let body = allowed.body();
    let uid = serde_json::from_slice::<Value>(&body).unwrap()["request"]["uid"].clone();
    let r = hook.review("/mutate", body).await;
    assert_eq!(r["allowed"], true, "{r}");
    let a = &r["auditAnnotations"];
    assert_eq!(a["decision-log-index"], "0", "{r}");
    assert_eq!(a["decision-log-records"], "1", "{r}");
    assert_eq!(a["decision-log-origin"], LogDir::ORIGIN, "{r}");
    let first_id = a["decision-id"].as_str().unwrap().to_owned();
    // On disk before the answer (fsynced; read back here without a checkpoint yet).
    let records = log.records();
    assert_eq!(records.len(), 1);
    let rec = &records[0];
    assert_eq!(rec["index"], 0);
    assert_eq!(rec["source"]["kind"], "admission");
    assert_eq!(rec["source"]["decisionId"], first_id.as_str());
    assert_eq!(rec["source"]["uid"], uid);
    assert_eq!(rec["source"]["user"], "admin");
    assert_eq!(rec["source"]["operation"], "CREATE");
    assert_eq!(
        rec["source"]["object"],
        json!({"kind": "Pod", "namespace": "shop", "name": "web"})
    );
    assert_eq!(rec["decision"]["image"], w.signed_tag());
    assert_eq!(rec["decision"]["digest"], w.signed.1.to_string());
    assert_eq!(rec["decision"]["outcome"], "allowed");
    assert!(
        rec["decision"]["policyHash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    // A dry run is decided but not logged.
    let dry = Req {
        dry_run: true,
        ..Req::create(POD, "pods", pod("dry", &[&w.unsigned_tag()]))
    };
    let r = hook.review("/validate", dry.body()).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(
        r["auditAnnotations"]["decision-log"],
        "not logged (dry run)"
    );
    assert!(r["auditAnnotations"].get("decision-log-index").is_none());
    assert_eq!(log.records().len(), 1, "a dry run adds no record");

    // Two distinct images (one of them twice) in a Deployment: two records, 1 and 2, the
    // denied one with its reason; a request without a decision (unknown kind) logs nothing.
    let mut d = deployment("api", 2, &w.signed_tag());
    d["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "a", "image": w.unsigned_tag()},
        {"name": "b", "image": w.signed_tag()},
        {"name": "c", "image": w.unsigned_tag()}
    ]);
    let r = hook
        .review(
            "/validate",
            Req::create(("apps", "v1", "Deployment"), "deployments", d).body(),
        )
        .await;
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(r["auditAnnotations"]["decision-log-index"], "1", "{r}");
    assert_eq!(r["auditAnnotations"]["decision-log-records"], "2", "{r}");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}});
    let r = hook
        .review(
            "/validate",
            Req::create(("", "v1", "ConfigMap"), "configmaps", cm).body(),
        )
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    let records = log.records();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1]["decision"]["image"], w.unsigned_tag());
    assert_eq!(records[1]["decision"]["outcome"], "denied");
    assert_eq!(records[1]["decision"]["reasons"][0], "no-signatures");
    assert_eq!(records[2]["decision"]["image"], w.signed_tag());
    assert_eq!(records[2]["decision"]["outcome"], "allowed");
    assert_eq!(
        records[2]["source"]["object"]["kind"], "Deployment",
        "{}",
        records[2]
    );
    assert_eq!(
        records[1]["source"]["decisionId"],
        records[2]["source"]["decisionId"]
    );
    let (_, metrics) = hook.get("/metrics").await;
    assert!(
        metrics.contains("imprint_decision_log_records_total 3"),
        "{metrics}"
    );

    // Before the shutdown checkpoint the records are unsealed; after it, sealed.
    let (code, out, err) = log.verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("3 records, 0 valid checkpoints, 0 sealed, 3 unsealed"),
        "{out}"
    );
    let note = hook.webhook.seal_log().await.unwrap();
    assert!(note.is_some(), "a final checkpoint");
    assert_eq!(
        hook.webhook.seal_log().await.unwrap(),
        None,
        "nothing new to seal"
    );
    hook.stop().await;
    let (code, out, err) = log.verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("3 records, 1 valid checkpoints, 3 sealed, 0 unsealed"),
        "{out}"
    );

    // A record changed afterwards (the denial turned into an allow) is named as the first
    // broken one.
    let path = log.dir().join("decisions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let tampered: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 1 {
                l.replace("\"outcome\":\"denied\"", "\"outcome\":\"allowed\"")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_ne!(tampered.join("\n") + "\n", text, "the record was edited");
    std::fs::write(&path, tampered.join("\n") + "\n").unwrap();
    let (code, out, err) = log.verify();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.lines()
            .next()
            .unwrap_or_default()
            .starts_with("error: first broken record: index 1 (decisions.jsonl line 2)"),
        "{err}"
    );
}

/// `imprint admission --audit-log`: records written while serving, the log sealed by a
/// checkpoint on SIGTERM, `imprint audit-log verify` accepting it.
#[tokio::test]
async fn the_cli_logs_decisions_and_seals_the_log_on_sigterm() {
    use std::io::BufRead as _;
    let w = World::new(None).await;
    let log = LogDir::new();
    let mut child = crate::support::cli::imprint()
        .args(["admission", "--listen", "127.0.0.1:0", "--policy"])
        .arg(w.dir.path().join("policy.yaml"))
        .arg("--tls-cert")
        .arg(testdata("server.pem"))
        .arg("--tls-key")
        .arg(testdata("server.key"))
        .arg("--audit-log")
        .arg(log.dir())
        .arg("--audit-log-key")
        .arg(log.tmp.path().join("log.key"))
        .args(["--audit-log-checkpoint-every", "2"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stderr)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("imprint admission: listening on https://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .parse()
        .unwrap();
    let client = Hook::client();
    let mut indices = Vec::new();
    for image in [w.signed_tag(), w.unsigned_tag(), w.signed_tag()] {
        let body = Req::create(POD, "pods", pod("web", &[&image])).body();
        let text = client
            .post(format!("https://localhost:{port}/validate"))
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        indices.push(v["response"]["auditAnnotations"]["decision-log-index"].clone());
    }
    assert_eq!(indices, vec![json!("0"), json!("1"), json!("2")]);
    // The second record made a checkpoint (every 2); the third is sealed at shutdown.
    let (code, out, err) = log.verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("3 records, 1 valid checkpoints, 2 sealed, 1 unsealed"),
        "{out}"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let (code, out, err) = log.verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("3 records, 2 valid checkpoints, 3 sealed, 0 unsealed"),
        "{out}"
    );
    let records = log.records();
    assert_eq!(records[1]["decision"]["outcome"], "denied");
    assert_eq!(records[0]["source"]["kind"], "admission");
}

/// The API server speaks HTTP/2 to webhooks (TLS with ALPN `h2`): the same answers over
/// hyper's HTTP/2 client.
#[tokio::test]
async fn http2_over_tls() {
    use http_body_util::BodyExt as _;
    use rustls::pki_types::pem::PemObject as _;
    let w = World::new(None).await;
    let hook = Hook::start(w.verifier(false), WebhookOptions::default()).await;
    let ca = std::fs::read(testdata("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(hook.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let body = Req::create(POD, "pods", pod("web", &[&w.signed_tag()])).body();
    let request = hyper::Request::post(hook.url("/mutate"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
        .unwrap();
    let r = sender.send_request(request).await.unwrap();
    assert_eq!(r.version(), hyper::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v}");
    assert_eq!(
        patch_of(&v["response"])[0]["value"],
        format!("{}@{}", w.signed_tag(), w.signed.1)
    );
    // A second request on the same connection (streams are multiplexed).
    let request = hyper::Request::get(hook.url("/healthz"))
        .body(http_body_util::Full::new(hyper::body::Bytes::new()))
        .unwrap();
    let r = sender.send_request(request).await.unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..], b"ok\n");
    hook.stop().await;
}
