use super::*;

fn verdict(slot: &str, image: &str, outcome: Outcome, digest: Option<&Digest>) -> ImageVerdict {
    ImageVerdict {
        slot: slot.to_owned(),
        image: image.to_owned(),
        pointer: format!("/spec/{slot}"),
        outcome,
        reason: (outcome != Outcome::Allowed).then(|| "no-signatures".to_owned()),
        message: (outcome != Outcome::Allowed).then(|| "nothing verified".to_owned()),
        digest: digest.cloned(),
        decision: None,
    }
}

fn request(operation: &str, object: serde_json::Value, old: serde_json::Value) -> AdmissionRequest {
    let body = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": object,
            "oldObject": old,
        }
    });
    review::parse_request(&serde_json::to_vec(&body).unwrap(), 1 << 20).unwrap()
}

fn deployment(replicas: u64, image: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "app", "image": image}]}}
        }
    })
}

#[test]
fn slots_and_pointers_of_every_kind() {
    let cron = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [{"name": "init", "image": "a:1"}],
            "containers": [{"name": "job", "image": "b:1"}, {"name": "noimage"}],
            "volumes": [{"name": "data"}, {"name": "model", "image": {"reference": "c:1"}}]
        }}}}}
    });
    let (w, images) = value_images(&cron, "t").unwrap().unwrap();
    assert_eq!(w.id(), "batch/v1/CronJob/-/nightly");
    let got: Vec<(String, &str, &str)> = images
        .iter()
        .map(|i| {
            (
                i.image_use.slot.clone().unwrap(),
                i.image_use.image.as_str(),
                i.pointer.as_str(),
            )
        })
        .collect();
    let base = "/spec/jobTemplate/spec/template/spec";
    assert_eq!(
        got,
        [
            (
                "initContainers[0]".to_owned(),
                "a:1",
                &*format!("{base}/initContainers/0/image")
            ),
            (
                "containers[0]".to_owned(),
                "b:1",
                &*format!("{base}/containers/0/image")
            ),
            (
                "volumes[1]".to_owned(),
                "c:1",
                &*format!("{base}/volumes/1/image/reference")
            ),
        ]
    );
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "x"}],
                 "ephemeralContainers": [{"name": "debug", "image": "busybox:1"}]}
    });
    let (_, images) = value_images(&pod, "t").unwrap().unwrap();
    assert_eq!(images[1].pointer, "/spec/ephemeralContainers/0/image");
    // Another kind: no pod spec.
    let svc = serde_json::json!({"apiVersion": "v1", "kind": "Service", "spec": {}});
    assert!(value_images(&svc, "t").unwrap().is_none());
    // A known kind of the wrong shape is an error.
    let bad = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {}}});
    let e = value_images(&bad, "request.object")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`containers` must be a sequence"), "{e}");
    let bad = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"image": 3}]}});
    assert!(value_images(&bad, "t").is_err());
}

#[test]
fn deletion_and_scale_down_pass_other_updates_are_checked() {
    let old = deployment(3, "nginx:1");
    assert!(unchecked(&request("UPDATE", deployment(1, "nginx:1"), old.clone())).is_some());
    // Scaling up, or scaling down with a new image, is checked.
    assert!(unchecked(&request("UPDATE", deployment(5, "nginx:1"), old.clone())).is_none());
    assert!(unchecked(&request("UPDATE", deployment(1, "nginx:2"), old.clone())).is_none());
    let mut deleting = deployment(3, "nginx:2");
    deleting["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z".into();
    let why = unchecked(&request("UPDATE", deleting.clone(), old.clone())).unwrap();
    assert!(why.contains("being deleted"), "{why}");
    // On CREATE a deletion timestamp means nothing: checked.
    assert!(unchecked(&request("CREATE", deleting, serde_json::Value::Null)).is_none());
    assert!(unchecked(&request("DELETE", serde_json::Value::Null, old)).is_some());
    assert!(
        unchecked(&request(
            "CONNECT",
            serde_json::Value::Null,
            serde_json::Value::Null
        ))
        .is_some()
    );
    let mut status = request("UPDATE", deployment(3, "nginx:2"), deployment(3, "nginx:1"));
    status.sub_resource = "status".to_owned();
    assert!(unchecked(&status).is_some());
    status.sub_resource = "ephemeralcontainers".to_owned();
    assert!(unchecked(&status).is_none());
}

#[test]
fn warnings_are_one_line_of_at_most_120_characters() {
    let long = format!(
        "imprint: containers[0] {}: no-signatures\nsecond line",
        "é".repeat(200)
    );
    let w = truncate_warning(&long);
    assert_eq!(w.chars().count(), MAX_WARNING_CHARS);
    assert!(w.ends_with('…'));
    assert!(!w.contains('\n'));
    assert_eq!(truncate_warning("short\tone"), "short one");
    let exactly = "x".repeat(MAX_WARNING_CHARS);
    assert_eq!(truncate_warning(&exactly), exactly);
}

#[test]
fn patch_pins_tags_keeps_the_tag_and_skips_digests_and_denials() {
    let d = Digest::of(b"image");
    let verdicts = [
        verdict(
            "containers[0]",
            "registry.example/app:1.2",
            Outcome::Allowed,
            Some(&d),
        ),
        verdict(
            "containers[1]",
            &format!("registry.example/app@{d}"),
            Outcome::Allowed,
            Some(&d),
        ),
        verdict(
            "containers[2]",
            "registry.example/warned:1",
            Outcome::Warned,
            Some(&d),
        ),
        verdict(
            "containers[3]",
            "registry.example/denied:1",
            Outcome::Denied,
            Some(&d),
        ),
    ];
    let ops = pin_patch(&verdicts);
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0].op, "replace");
    assert_eq!(ops[0].path, "/spec/containers[0]");
    assert_eq!(ops[0].value, format!("registry.example/app:1.2@{d}"));
    assert_eq!(ops[1].value, format!("registry.example/warned:1@{d}"));
    // The answer: allowed ones patched on /mutate only, as base64 JSONPatch.
    let ok = &verdicts[..3];
    let r = respond(
        "u",
        Endpoint::Mutate,
        PinMode::Patch,
        "o",
        ok,
        BTreeMap::new(),
    );
    assert!(r.allowed);
    assert_eq!(r.patch_type.as_deref(), Some("JSONPatch"));
    let patch = base64::engine::general_purpose::STANDARD
        .decode(r.patch.unwrap())
        .unwrap();
    let patch: serde_json::Value = serde_json::from_slice(&patch).unwrap();
    assert_eq!(patch.as_array().unwrap().len(), 2);
    assert_eq!(patch[0]["op"], "replace");
    assert_eq!(patch[0]["path"], "/spec/containers[0]");
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0]
            .starts_with("imprint: containers[2] registry.example/warned:1: no-signatures")
    );
    let r = respond(
        "u",
        Endpoint::Validate,
        PinMode::Patch,
        "o",
        ok,
        BTreeMap::new(),
    );
    assert!(r.patch.is_none());
    let r = respond(
        "u",
        Endpoint::Mutate,
        PinMode::ValidateOnly,
        "o",
        ok,
        BTreeMap::new(),
    );
    assert!(r.patch.is_none());
    // A denial lists each denied image with its code, and patches nothing.
    let r = respond(
        "u",
        Endpoint::Mutate,
        PinMode::Patch,
        "apps/v1/Deployment/shop/web",
        &verdicts,
        BTreeMap::new(),
    );
    assert!(!r.allowed);
    assert!(r.patch.is_none());
    let status = r.status.unwrap();
    assert_eq!(status.code, 403);
    assert_eq!(
        status.message,
        "imprint denied apps/v1/Deployment/shop/web:\n- containers[3] registry.example/denied:1: no-signatures: nothing verified"
    );
}

#[test]
fn validate_only_requires_digests_and_reports_the_resolution() {
    let policy = crate::policy::Policy::from_str_with_base(
        "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: allow\n  authorities:\n    s: {static: pass}\n  rules:\n    - name: other\n      images: [\"other.example/**\"]\n      signatures: {authority: s}\n",
        std::path::Path::new("."),
    )
    .unwrap();
    let verifier = Verifier::builder(policy).build().unwrap();
    let d = Digest::of(b"x");
    let tagged = ImageRef::parse("r.example/a:1").unwrap();
    let evidence = crate::policy::Evidence::new(tagged.clone(), d.clone());
    let allowed =
        crate::policy::evaluate(verifier.policy(), &evidence, std::time::SystemTime::now());
    assert_eq!(allowed.outcome(), Outcome::Allowed);
    let only = Webhook::new(
        verifier.clone(),
        WebhookOptions::default().pin(PinMode::ValidateOnly),
    );
    let mut v = verdict("containers[0]", "r.example/a:1", Outcome::Allowed, None);
    only.fill(&mut v, &tagged, &allowed);
    assert_eq!(v.outcome, Outcome::Denied);
    assert_eq!(v.reason.as_deref(), Some(DIGEST_REQUIRED));
    assert_eq!(
        v.message.as_deref(),
        Some(&*format!(
            "written without a digest; it resolves to {d}: write r.example/a:1@{d}"
        ))
    );
    // Written with its digest: allowed.
    let pinned = ImageRef::parse(&format!("r.example/a:1@{d}")).unwrap();
    let mut v = verdict("containers[0]", &pinned.to_string(), Outcome::Allowed, None);
    only.fill(&mut v, &pinned, &allowed);
    assert_eq!(v.outcome, Outcome::Allowed);
    // Patch mode allows the tag (and /mutate will pin it).
    let patching = Webhook::new(verifier, WebhookOptions::default());
    let mut v = verdict("containers[0]", "r.example/a:1", Outcome::Allowed, None);
    patching.fill(&mut v, &tagged, &allowed);
    assert_eq!((v.outcome, v.digest.as_ref()), (Outcome::Allowed, Some(&d)));
}

fn denied_verdict(image: &str, outcome: Outcome, reason: Option<&str>) -> ImageVerdict {
    ImageVerdict {
        slot: "containers[0]".into(),
        image: image.into(),
        pointer: "/spec/containers/0/image".into(),
        outcome,
        reason: reason.map(str::to_owned),
        message: None,
        digest: None,
        decision: None,
    }
}

#[test]
fn admission_records_one_per_distinct_image_with_the_webhooks_own_reasons() {
    let policy = Digest::of(b"policy");
    let context = DecisionContext {
        policy_hash: policy.clone(),
        trust_root_hash: None,
    };
    let images = [
        denied_verdict("r.example/a:1", Outcome::Denied, Some(TIMEOUT)),
        denied_verdict("r.example/b:1", Outcome::Denied, Some(INVALID_REFERENCE)),
        denied_verdict("r.example/a:1", Outcome::Denied, Some(TIMEOUT)),
    ];
    let decided = DecidedRequest {
        decision_id: "00ff",
        uid: "uid-1",
        user: "alice",
        operation: "CREATE",
        object: "v1/Pod/shop/web",
        dry_run: false,
        images: &images,
        policy: &policy,
        context: &context,
    };
    let object = ObjectRef {
        kind: "Pod".into(),
        namespace: Some("shop".into()),
        name: "web".into(),
    };
    let records = admission_records(&decided, &object, &context);
    assert_eq!(records.len(), 2, "one per distinct image");
    let a = records[0].decision.as_ref().unwrap();
    assert_eq!(a.image, "r.example/a:1");
    assert_eq!(
        a.outcome,
        RecordOutcome::Error,
        "a timeout could not be checked"
    );
    assert_eq!(a.reasons, vec![TIMEOUT.to_owned()]);
    let b = records[1].decision.as_ref().unwrap();
    assert_eq!(b.outcome, RecordOutcome::Denied);
    assert_eq!(b.reasons, vec![INVALID_REFERENCE.to_owned()]);
    assert_eq!(
        records[0].source,
        Source::Admission {
            decision_id: "00ff".into(),
            uid: "uid-1".into(),
            user: "alice".into(),
            operation: "CREATE".into(),
            object,
        }
    );
}

#[test]
fn a_replaced_verifier_decides_and_logs_requests_from_then_on() {
    let policy = crate::policy::Policy::from_str_with_base(
        "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  noMatch: deny\n  authorities:\n    ci:\n      keyless: {issuer: https://issuer.example, subject: ci@example.com}\n  rules:\n    - name: all\n      images: [\"**\"]\n      signatures: {authority: ci}\n",
        std::path::Path::new("."),
    )
    .unwrap();
    let staging = Arc::new(crate::trust::TrustRoot::staging().unwrap());
    let first = Verifier::builder(policy.clone()).build().unwrap();
    let refreshed = Verifier::builder(policy)
        .trust_root("public-good", staging)
        .build()
        .unwrap();
    let before = DecisionContext::of(&first);
    let after = DecisionContext::of(&refreshed);
    assert_ne!(before.trust_root_hash, after.trust_root_hash);
    assert_eq!(before.policy_hash, after.policy_hash);

    let webhook = Webhook::new(first, WebhookOptions::default());
    assert_eq!(webhook.current().context, before);
    // A request that started before the swap keeps its generation.
    let started = webhook.current();
    webhook.replace_verifier(refreshed);
    assert_eq!(started.context, before);
    assert_eq!(webhook.current().context, after);
    assert_eq!(
        DecisionContext::of(&webhook.verifier()).trust_root_hash,
        Some(
            crate::audit::report::TrustRootInfo::of(&webhook.verifier())
                .unwrap()
                .hash
        ),
    );
}
