use super::*;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/audit/manifests")
        .join(rel)
}

fn read(text: &str) -> Manifests {
    let mut m = Manifests::default();
    m.read_str(text, "t.yaml").unwrap();
    m
}

fn read_err(text: &str) -> (u64, String) {
    let mut m = Manifests::default();
    match m.read_str(text, "t.yaml").unwrap_err() {
        ManifestError::Malformed {
            file,
            line,
            message,
        } => {
            assert_eq!(file, "t.yaml");
            (line, message)
        }
        e => panic!("not a Malformed error: {e}"),
    }
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u64 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"))
}

fn summary(m: &Manifests) -> Vec<(String, String, String)> {
    m.uses
        .iter()
        .map(|u| {
            (
                u.workload.as_ref().map(Workload::id).unwrap_or_default(),
                u.slot.clone().unwrap_or_default(),
                u.image.clone(),
            )
        })
        .collect()
}

#[test]
fn every_kind_and_slot_with_the_line_of_its_image_key() {
    let path = fixture("workloads.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut m = Manifests::default();
    m.read_path(&path).unwrap();
    let got = summary(&m);
    let want = [
        (
            "v1/Pod/shop/web",
            "initContainers[0]",
            "registry.example/shop/migrate:1.0",
        ),
        (
            "v1/Pod/shop/web",
            "initContainers[1]",
            "registry.example/shop/warm@sha256:3333333333333333333333333333333333333333333333333333333333333333",
        ),
        (
            "v1/Pod/shop/web",
            "containers[0]",
            "registry.example/shop/web:2.1",
        ),
        (
            "v1/Pod/shop/web",
            "ephemeralContainers[0]",
            "registry.example/tools/debug:latest",
        ),
        (
            "v1/Pod/shop/web",
            "volumes[1]",
            "registry.example/shop/models:v3",
        ),
        (
            "apps/v1/Deployment/shop/api",
            "containers[0]",
            "registry.example/shop/api:1.4.2",
        ),
        (
            "apps/v1/Deployment/shop/api",
            "containers[1]",
            "registry.example/mesh/proxy:1.20",
        ),
        (
            "apps/v1/StatefulSet/data/db",
            "containers[0]",
            "registry.example/data/postgres:16",
        ),
        (
            "apps/v1/DaemonSet/kube-system/agent",
            "containers[0]",
            "registry.example/ops/agent:5",
        ),
        (
            "apps/v1/ReplicaSet/shop/api-7d9f",
            "containers[0]",
            "registry.example/shop/api:1.4.2",
        ),
        (
            "batch/v1/Job/batch/report-*",
            "containers[0]",
            "registry.example/batch/report:2024.1",
        ),
        (
            "v1/ReplicationController/-/legacy",
            "containers[0]",
            "registry.example/old/legacy:0.9",
        ),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(m.files, 1);
    // 9 documents with content; the empty one between `---` lines is not a document.
    assert_eq!(m.documents, 9);
    assert_eq!(
        m.skipped,
        BTreeMap::from([
            ("v1 Service".to_owned(), 1),
            ("argoproj.io/v1alpha1 Rollout".to_owned(), 1)
        ])
    );
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    // Lines and columns, against the text itself.
    let loc = |i: usize| m.uses[i].location.clone().unwrap();
    assert_eq!(
        loc(0).line,
        line_of(&text, "image: registry.example/shop/migrate:1.0")
    );
    assert_eq!(loc(0).column, 7, "the column of `image`");
    assert_eq!(loc(0).file, path.display().to_string());
    assert_eq!(
        loc(2).line,
        line_of(&text, "image: \"registry.example/shop/web:2.1\"")
    );
    assert_eq!(
        loc(4).line,
        line_of(&text, "reference: registry.example/shop/models:v3"),
        "an image volume: the line of `reference:`"
    );
    // The value is on the next line: the `image:` key's line.
    assert_eq!(
        loc(6).line,
        line_of(&text, "registry.example/mesh/proxy:1.20") - 1
    );
    // Flow style.
    assert_eq!(
        loc(7).line,
        line_of(&text, "registry.example/data/postgres:16")
    );
    assert!(loc(7).column > 20);
    assert_eq!(
        loc(11).line,
        line_of(&text, "image: registry.example/old/legacy:0.9")
    );
    // Container names.
    assert_eq!(m.uses[0].container.as_deref(), Some("migrate"));
    assert_eq!(m.uses[4].container.as_deref(), Some("models"));
}

#[test]
fn directories_are_walked_recursively_and_in_order() {
    let mut m = Manifests::default();
    m.read_path(&fixture("")).unwrap();
    // cluster-dump.json, nested/Chart.yaml, nested/cronjob.yml, workloads.yaml; not the .txt.
    assert_eq!(m.files, 4);
    let mut files: Vec<String> = m
        .uses
        .iter()
        .map(|u| {
            let f = u.location.as_ref().unwrap().file.clone();
            f.rsplit("manifests/").next().unwrap().to_owned()
        })
        .collect();
    files.dedup();
    assert_eq!(
        files,
        ["cluster-dump.json", "nested/cronjob.yml", "workloads.yaml"]
    );
    assert_eq!(m.skipped.get("(no kind)"), Some(&1), "Chart.yaml");
    assert!(!m.uses.iter().any(|u| u.image.contains("never")));
    let cron: Vec<_> = summary(&m)
        .into_iter()
        .filter(|u| u.0.contains("CronJob"))
        .collect();
    assert_eq!(
        cron,
        [
            (
                "batch/v1/CronJob/batch/nightly".to_owned(),
                "initContainers[0]".to_owned(),
                "registry.example/batch/fetch:1".to_owned()
            ),
            (
                "batch/v1/CronJob/batch/nightly".to_owned(),
                "containers[0]".to_owned(),
                "registry.example/batch/nightly:3".to_owned()
            )
        ]
    );
}

#[test]
fn kubectl_json_list_with_lines() {
    let path = fixture("cluster-dump.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut m = Manifests::default();
    m.read_path(&path).unwrap();
    assert_eq!(
        summary(&m),
        [
            (
                "v1/Pod/shop/api-7d9f-x2x4k".to_owned(),
                "containers[0]".to_owned(),
                "registry.example/shop/api:1.4.2".to_owned()
            ),
            (
                "apps/v1/Deployment/shop/api".to_owned(),
                "containers[0]".to_owned(),
                "registry.example/shop/api:1.4.2".to_owned()
            )
        ]
    );
    assert_eq!(m.skipped, BTreeMap::from([("v1 ConfigMap".to_owned(), 1)]));
    let first = line_of(&text, "\"image\"");
    assert_eq!(m.uses[0].location.as_ref().unwrap().line, first);
    let second = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("\"image\""))
        .nth(1)
        .map(|(i, _)| i as u64 + 1)
        .unwrap();
    assert_eq!(m.uses[1].location.as_ref().unwrap().line, second);
    assert_eq!(m.uses[1].location.as_ref().unwrap().column, 33);
}

#[test]
fn json_with_tabs_compact_json_and_typed_lists() {
    // Tab-indented JSON (JSON allows tabs, YAML block indentation does not).
    let m = read(
        "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"p\"},\n\t\"spec\": {\n\t\t\"containers\": [\n\t\t\t{\"name\": \"c\", \"image\": \"r.example/a:1\"}\n\t\t]\n\t}\n}\n",
    );
    assert_eq!(m.uses.len(), 1);
    assert_eq!(m.uses[0].location.as_ref().unwrap().line, 7);
    // Everything on one line, with escapes.
    let m = read(
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"r.example\/a:1"}]}}"#,
    );
    assert_eq!(m.uses[0].image, "r.example/a:1");
    assert_eq!(m.uses[0].location.as_ref().unwrap().line, 1);
    // A typed list from the API (`PodList`): items without kind or apiVersion.
    let m = read(
        "apiVersion: v1\nkind: PodList\nitems:\n  - metadata: {name: a, namespace: ns}\n    spec: {containers: [{name: c, image: r.example/a:1}]}\n  - metadata: {name: b}\n    spec: {containers: [{name: c, image: r.example/b:1}]}\n",
    );
    assert_eq!(
        summary(&m),
        [
            (
                "v1/Pod/ns/a".to_owned(),
                "containers[0]".to_owned(),
                "r.example/a:1".to_owned()
            ),
            (
                "v1/Pod/-/b".to_owned(),
                "containers[0]".to_owned(),
                "r.example/b:1".to_owned()
            )
        ]
    );
    // `kind: List` nested in a multi-document stream, with a BOM-free CRLF file.
    let m = read(
        "apiVersion: v1\r\nkind: List\r\nitems:\r\n- apiVersion: batch/v1\r\n  kind: Job\r\n  metadata: {name: j}\r\n  spec:\r\n    template:\r\n      spec:\r\n        containers:\r\n        - image: r.example/j:1\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: p}\r\nspec:\r\n  containers:\r\n  - image: r.example/p:1\r\n",
    );
    assert_eq!(m.uses.len(), 2);
    assert_eq!(m.uses[0].location.as_ref().unwrap().line, 11);
    assert_eq!(m.uses[1].location.as_ref().unwrap().line, 18);
    assert_eq!(m.uses[1].container, None);
}

#[test]
fn multi_document_lines_are_absolute() {
    let text = "# leading comment\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n    - image: r.example/a:1\n---\n# comment only\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers:\n    - name: b\n      image: r.example/b:1\n...\n";
    let m = read(text);
    assert_eq!(m.documents, 2);
    assert_eq!(m.uses[0].location.as_ref().unwrap().line, 8);
    assert_eq!(m.uses[1].location.as_ref().unwrap().line, 18);
    assert_eq!(
        m.uses[1].location.as_ref().unwrap().line,
        line_of(text, "image: r.example/b:1")
    );
}

#[test]
fn unknown_and_kindless_documents_are_skipped_and_counted() {
    let m = read(
        "apiVersion: v1\nkind: ConfigMap\ndata: {image: r.example/x:1}\n---\napiVersion: serving.knative.dev/v1\nkind: Service\nspec: {template: {spec: {containers: [{image: r.example/k:1}]}}}\n---\nfoo: bar\n---\napiVersion: example.com/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{image: r.example/d:1}]}}}\n",
    );
    assert!(m.uses.is_empty(), "{:?}", m.uses);
    assert_eq!(
        m.skipped,
        BTreeMap::from([
            ("(no kind)".to_owned(), 1),
            ("example.com/v1 Deployment".to_owned(), 1),
            ("serving.knative.dev/v1 Service".to_owned(), 1),
            ("v1 ConfigMap".to_owned(), 1),
        ])
    );
    // extensions/v1beta1 Deployment is still a Deployment.
    let m = read(
        "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old}\nspec: {template: {spec: {containers: [{image: r.example/o:1}]}}}\n",
    );
    assert_eq!(m.uses.len(), 1);
}

#[test]
fn containers_without_image_warn_and_empty_slots_are_fine() {
    let m = read(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n  containers:\n    - name: filled-later\n    - name: c\n      image: r.example/c:1\n  volumes:\n    - name: v\n      image: {pullPolicy: Always}\n",
    );
    assert_eq!(m.uses.len(), 1);
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(
        m.warnings[0].starts_with("t.yaml:7: v1/Pod/-/p containers[0] has no image"),
        "{}",
        m.warnings[0]
    );
    assert!(m.warnings[1].contains("volumes[0]"), "{}", m.warnings[1]);
}

#[test]
fn malformed_documents_name_file_and_line() {
    // Not YAML.
    let (line, message) = read_err("apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n");
    assert!(line >= 4, "{line} {message}");
    let (line, _) = read_err(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{image: r.example/a:1}]}\n---\nkind: Pod\n  bad: indent\n",
    );
    assert!(line >= 6, "{line}");
    // A known kind with the wrong structure.
    let (line, message) = read_err(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    image: r.example/a:1\n",
    );
    assert_eq!(
        (line, message.as_str()),
        (6, "`containers` must be a sequence")
    );
    let (line, message) = read_err(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: [a, b]\n",
    );
    assert_eq!((line, message.as_str()), (7, "`image` must be a string"));
    let (line, message) = read_err(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - image: 12\n",
    );
    assert_eq!((line, message.as_str()), (6, "`image` must be a string"));
    let (line, message) = read_err(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 1\n",
    );
    assert_eq!(
        (line, message.as_str()),
        (4, "Deployment `d` has no `spec.template`")
    );
    let (line, message) = read_err("- a\n- b\n");
    assert_eq!(
        (line, message.as_str()),
        (1, "a Kubernetes object must be a mapping")
    );
    let (line, message) = read_err("apiVersion: v1\nkind: List\nitems: {a: b}\n");
    assert_eq!(
        (line, message.as_str()),
        (3, "`items` of a list must be a sequence")
    );
    let (_, message) = read_err("apiVersion: v1\nkind: [Pod]\n");
    assert_eq!(message, "`kind` must be a string");
    // The error's text names the file and line.
    let mut m = Manifests::default();
    let e = m
        .read_str(
            "apiVersion: v1\nkind: Pod\nspec: {containers: 3}\n",
            "dir/x.yaml",
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "dir/x.yaml:3: `containers` must be a sequence"
    );
}

#[test]
fn unreadable_and_non_text_inputs() {
    let mut m = Manifests::default();
    let e = m
        .read_path(Path::new("/nonexistent/imprint-audit.yaml"))
        .unwrap_err();
    assert!(matches!(e, ManifestError::Read { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin.yaml");
    std::fs::write(&bin, b"\xff\xfe\x00garbage").unwrap();
    let e = m.read_path(&bin).unwrap_err();
    assert!(matches!(e, ManifestError::NotText { .. }), "{e}");
    // A BOM is skipped.
    let bom = dir.path().join("bom.yaml");
    std::fs::write(
        &bom,
        b"\xEF\xBB\xBFapiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: r.example/a:1}]}\n",
    )
    .unwrap();
    let mut m = Manifests::default();
    m.read_path(&bom).unwrap();
    assert_eq!(m.uses.len(), 1);
    // A named file is read whatever its extension.
    let other = dir.path().join("manifest.txt");
    std::fs::write(
        &other,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: r.example/a:1}]}\n",
    )
    .unwrap();
    m.read_path(&other).unwrap();
    assert_eq!(m.uses.len(), 2);
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_walked_once() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(
        sub.join("p.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: r.example/a:1}]}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.path(), sub.join("loop")).unwrap();
    let mut m = Manifests::default();
    m.read_path(dir.path()).unwrap();
    assert_eq!(m.uses.len(), 1);
}
