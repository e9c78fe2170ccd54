//! The transport layer against a real registry (Debian's docker-registry, distribution 2.8)
//! and on OCI layout directories: exact bytes, digest and size checks, not-found handling,
//! request counts, auth.

use crate::support::proxy::{Fault, Kind, Proxy};
use crate::support::{
    push_image_to, push_index, push_random_image, registry, test_client, unique_repo,
};
use imprint::format::digest::Digest;
use imprint::format::reference::ImageRef;
use imprint::store::{
    AnyRepository, AuthSource, Client, Limits, ManifestRef, RegistryConfig, RegistryError,
    Repository, media_types,
};

fn repo_at(client: &Client, registry: &str, repo: &str) -> AnyRepository {
    client
        .repository(&ImageRef::parse(&format!("{registry}/{repo}")).unwrap())
        .unwrap()
}

/// A manifest written with unusual formatting (spaces, key order, trailing newline) comes
/// back byte for byte, by tag and by digest.
#[tokio::test]
async fn manifest_bytes_round_trip_exactly() {
    let client = test_client();
    let repo = repo_at(&client, registry(), &unique_repo("exact"));
    let (_, config, layer) = crate::support::build_image(("amd64", "linux"));
    repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
        .await
        .unwrap();
    repo.put_blob(imprint::store::Blob::copy_from_slice(&layer))
        .await
        .unwrap();
    let manifest = format!(
        "{{\n  \"mediaType\": \"{}\",  \"schemaVersion\": 2,\n  \"config\": {{\"size\": {}, \"digest\": \"{}\", \"mediaType\": \"{}\"}},\n  \"layers\": [{{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar\", \"digest\": \"{}\", \"size\": {}}}],\n  \"annotations\": {{\"z\": \"1\", \"a\": \"2\"}}\n}}\n",
        media_types::OCI_MANIFEST,
        config.len(),
        Digest::of(&config),
        media_types::OCI_CONFIG,
        Digest::of(&layer),
        layer.len()
    );
    let digest = repo
        .put_manifest(Some("odd"), media_types::OCI_MANIFEST, manifest.as_bytes())
        .await
        .unwrap();
    assert_eq!(digest, Digest::of(manifest.as_bytes()));

    let by_tag = repo
        .get_manifest(ManifestRef::Tag("odd"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_tag.bytes, manifest.as_bytes());
    assert_eq!(by_tag.digest, digest);
    assert_eq!(by_tag.media_type, media_types::OCI_MANIFEST);
    let by_digest = repo
        .get_manifest(ManifestRef::Digest(&digest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_digest, by_tag);

    // Pushed by digest only (no tag): readable by digest.
    let untagged = repo
        .put_manifest(
            None,
            media_types::OCI_MANIFEST,
            manifest.trim_end().as_bytes(),
        )
        .await
        .unwrap();
    assert_ne!(untagged, digest);
    assert!(
        repo.get_manifest(ManifestRef::Digest(&untagged))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn blobs_round_trip_and_existing_blobs_are_not_uploaded_again() {
    let proxy = Proxy::start(registry()).await;
    let client = test_client();
    let repo = repo_at(&client, proxy.addr(), &unique_repo("blobs"));
    let blob = crate::support::random_bytes(10_000);
    let d = repo
        .put_blob(imprint::store::Blob::copy_from_slice(&blob))
        .await
        .unwrap();
    assert_eq!(d, Digest::of(&blob));
    assert_eq!(proxy.count("HEAD", Kind::Blob), 1);
    assert_eq!(proxy.count("POST", Kind::Upload), 1);
    assert_eq!(proxy.count("PUT", Kind::Upload), 1);

    proxy.reset();
    assert_eq!(
        repo.put_blob(imprint::store::Blob::copy_from_slice(&blob))
            .await
            .unwrap(),
        d
    );
    assert_eq!(proxy.count("HEAD", Kind::Blob), 1);
    assert_eq!(
        proxy.count("POST", Kind::Upload),
        0,
        "{:?}",
        proxy.requests()
    );
    assert_eq!(proxy.count("PUT", Kind::Upload), 0);

    assert_eq!(*repo.get_blob(&d, 10_000).await.unwrap(), blob);
    // One byte over the caller's limit: refused.
    let e = repo.get_blob(&d, 9_999).await.unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::TooLarge {
                size: 10_000,
                limit: 9_999,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn tampered_blobs_and_manifests_are_refused() {
    let proxy = Proxy::start(registry()).await;
    let client = test_client();
    let name = unique_repo("tamper");
    let repo = repo_at(&client, proxy.addr(), &name);
    let digest = push_image_to(&repo, Some("v1"), ("amd64", "linux")).await;
    let blob = crate::support::random_bytes(100);
    let blob_digest = repo
        .put_blob(imprint::store::Blob::copy_from_slice(&blob))
        .await
        .unwrap();

    // Blob served with other bytes.
    proxy.inject(
        "GET",
        &format!("/blobs/{blob_digest}"),
        Fault::body(
            "application/octet-stream",
            crate::support::random_bytes(100),
        ),
    );
    let e = repo.get_blob(&blob_digest, 1000).await.unwrap_err();
    assert!(
        matches!(&e, RegistryError::DigestMismatch { expected, .. } if *expected == blob_digest),
        "{e}"
    );

    // Blob cut short (the connection closes before the declared length): an error.
    proxy.clear_faults();
    let mut truncated = Fault::body("application/octet-stream", blob[..50].to_vec());
    truncated.declared_length = Some(100);
    proxy.inject("GET", &format!("/blobs/{blob_digest}"), truncated);
    let e = repo.get_blob(&blob_digest, 1000).await.unwrap_err();
    assert!(matches!(e, RegistryError::Unreachable { .. }), "{e}");
    proxy.clear_faults();
    assert_eq!(*repo.get_blob(&blob_digest, 1000).await.unwrap(), blob);

    // Manifest by digest served with other bytes.
    proxy.inject(
        "GET",
        &format!("/manifests/{digest}"),
        Fault::body(media_types::OCI_MANIFEST, b"{\"schemaVersion\":2}".to_vec()),
    );
    let e = repo
        .get_manifest(ManifestRef::Digest(&digest))
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");

    // Manifest by tag whose Docker-Content-Digest disagrees with the bytes.
    let mut lying = Fault::body(media_types::OCI_MANIFEST, b"{\"schemaVersion\":2}".to_vec());
    lying
        .headers
        .push(("Docker-Content-Digest".into(), digest.to_string()));
    proxy.inject("GET", "/manifests/v1", lying);
    let e = repo.get_manifest(ManifestRef::Tag("v1")).await.unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
}

#[tokio::test]
async fn oversize_manifests_are_refused_before_reading() {
    let proxy = Proxy::start(registry()).await;
    let limits = Limits {
        max_manifest_bytes: 1000,
        ..Limits::default()
    };
    let client = Client::new(RegistryConfig {
        auth: AuthSource::Anonymous,
        limits,
        ..RegistryConfig::default()
    })
    .unwrap();
    let repo = repo_at(&client, proxy.addr(), &unique_repo("big"));

    // Declared too large: refused from the header (the body is never sent in full).
    let mut declared = Fault::body(media_types::OCI_MANIFEST, vec![b' '; 10]);
    declared.declared_length = Some(5 * 1024 * 1024 * 1024);
    proxy.inject("GET", "/manifests/declared", declared);
    let e = repo
        .get_manifest(ManifestRef::Tag("declared"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::TooLarge {
                size: 5_368_709_120,
                limit: 1000,
                ..
            }
        ),
        "{e}"
    );

    // No Content-Length: the stream is cut off once over the limit.
    let mut streamed = Fault::body(media_types::OCI_MANIFEST, vec![b' '; 200_000]);
    streamed.content_length = false;
    proxy.inject("GET", "/manifests/streamed", streamed);
    let e = repo
        .get_manifest(ManifestRef::Tag("streamed"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegistryError::TooLarge { limit: 1000, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("streamed") && msg.contains("manifest"),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_things_are_none_or_not_found() {
    let client = test_client();
    let name = unique_repo("missing");
    let repo = repo_at(&client, registry(), &name);
    // Unknown repository and unknown tag.
    assert!(
        repo.get_manifest(ManifestRef::Tag("nope"))
            .await
            .unwrap()
            .is_none()
    );
    let (image, _) = push_random_image(&name).await;
    assert!(
        repo.get_manifest(ManifestRef::Tag("nope"))
            .await
            .unwrap()
            .is_none()
    );
    let absent = Digest::of(b"absent");
    assert!(
        repo.get_manifest(ManifestRef::Digest(&absent))
            .await
            .unwrap()
            .is_none()
    );
    let e = repo.get_blob(&absent, 100).await.unwrap_err();
    assert!(matches!(e, RegistryError::BlobNotFound { .. }), "{e}");

    let e = client.resolve(&image.with_tag("nope")).await.unwrap_err();
    assert!(
        matches!(&e, RegistryError::ManifestNotFound { reference, .. } if reference == "nope"),
        "{e}"
    );
    let e = client
        .resolve(&image.with_digest(absent))
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::ManifestNotFound { .. }), "{e}");
}

#[tokio::test]
async fn resolve_fetches_the_manifest_once_and_pins_the_digest() {
    let proxy = Proxy::start(registry()).await;
    let name = unique_repo("resolve");
    let (_, digest) = crate::support::push_random_image_at(proxy.addr(), &name).await;
    proxy.reset();

    let client = test_client();
    let image = ImageRef::parse(&format!("{}/{name}:v1", proxy.addr())).unwrap();
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.manifest.digest, digest);
    assert_eq!(resolved.reference.digest(), Some(&digest));
    assert_eq!(
        resolved.reference.to_string(),
        format!("{}/{name}@{digest}", proxy.addr())
    );
    assert_eq!(
        resolved.repository.name(),
        format!("{}/{name}", proxy.addr())
    );
    // No `/v2/` ping (issue 14): the manifest read is the first and only request.
    assert_eq!(proxy.count("GET", Kind::Ping), 0);
    assert_eq!(proxy.count("GET", Kind::Manifest), 1);
    assert_eq!(proxy.requests().len(), 1, "{:?}", proxy.requests());

    // By digest: fetched and checked.
    let again = client.resolve(&resolved.reference).await.unwrap();
    assert_eq!(again.manifest, resolved.manifest);
    assert_eq!(proxy.count("GET", Kind::Ping), 0);
    assert_eq!(proxy.requests().len(), 2);
}

#[tokio::test]
async fn index_resolves_with_its_media_type() {
    let name = unique_repo("index");
    let (image, digest, children) = push_index(&name).await;
    let client = test_client();
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.manifest.digest, digest);
    assert_eq!(resolved.manifest.media_type, media_types::OCI_INDEX);
    let index: serde_json::Value = serde_json::from_slice(&resolved.manifest.bytes).unwrap();
    let listed: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        children.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    for child in &children {
        let m = client
            .resolve(&image.with_digest(child.clone()))
            .await
            .unwrap();
        assert_eq!(m.manifest.media_type, media_types::OCI_MANIFEST);
    }
}

/// The issue 6 budget: a key-signed image in legacy format costs 3 requests (resolve,
/// `.sig` manifest, payload blob); since issue 14 there is no `/v2/` ping at all.
#[tokio::test]
async fn no_ping_and_three_requests_per_signed_image() {
    let proxy = Proxy::start(registry()).await;
    let setup = test_client();
    let mut images = Vec::new();
    for i in 0..5 {
        let name = unique_repo(&format!("count{i}"));
        let (image, digest) = crate::support::push_random_image_at(proxy.addr(), &name).await;
        // A stand-in `.sig` manifest with one payload layer.
        let repo = setup.repository(&image).unwrap();
        let payload = crate::support::random_bytes(200);
        let payload_digest = repo
            .put_blob(imprint::store::Blob::copy_from_slice(&payload))
            .await
            .unwrap();
        let config = b"{}".to_vec();
        repo.put_blob(imprint::store::Blob::copy_from_slice(&config))
            .await
            .unwrap();
        let sig = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "config": {"mediaType": media_types::OCI_CONFIG, "digest": Digest::of(&config).to_string(), "size": 2},
            "layers": [{"mediaType": media_types::SIMPLE_SIGNING, "digest": payload_digest.to_string(), "size": 200}],
        }))
        .unwrap();
        repo.put_manifest(
            Some(&format!("{}.sig", digest.tag_base())),
            media_types::OCI_MANIFEST,
            &sig,
        )
        .await
        .unwrap();
        images.push((image, payload_digest));
    }
    proxy.reset();

    let client = test_client();
    let mut tasks = Vec::new();
    for (image, payload_digest) in images.clone() {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let resolved = client.resolve(&image).await.unwrap();
            let tag = format!("{}.sig", resolved.manifest.digest.tag_base());
            let sig = resolved
                .repository
                .get_manifest(ManifestRef::Tag(&tag))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(sig.media_type, media_types::OCI_MANIFEST);
            let payload = resolved
                .repository
                .get_blob(&payload_digest, 1024)
                .await
                .unwrap();
            assert_eq!(Digest::of(&payload), payload_digest);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = proxy.requests();
    assert_eq!(proxy.count("GET", Kind::Ping), 0, "{log:?}");
    assert_eq!(proxy.count("GET", Kind::Manifest), 10, "{log:?}");
    assert_eq!(proxy.count("GET", Kind::Blob), 5, "{log:?}");
    assert_eq!(log.len(), 3 * images.len(), "{log:?}");
}

#[tokio::test]
async fn referrers_api_only_for_an_oci_index_answer() {
    let proxy = Proxy::start(registry()).await;
    let client = test_client();
    let name = unique_repo("referrers");
    let repo = repo_at(&client, proxy.addr(), &name);
    let subject = push_image_to(&repo, Some("v1"), ("amd64", "linux")).await;

    // distribution 2.8 has no referrers API: 404 -> None, remembered for the registry (the
    // bare 404 comes from its router), so the next image skips the probe.
    assert_eq!(repo.referrers_api(&subject).await.unwrap(), None);
    assert_eq!(proxy.count("GET", Kind::Referrers), 1);
    assert_eq!(repo.referrers_api(&subject).await.unwrap(), None);
    assert_eq!(proxy.count("GET", Kind::Referrers), 1, "no second probe");

    // A fresh client (a registry session that has not seen the 404) for the API answers.
    let client = test_client();
    let repo = repo_at(&client, proxy.addr(), &name);

    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec();
    proxy.inject(
        "GET",
        "/referrers/",
        Fault::body(
            "application/vnd.oci.image.index.v1+json; charset=utf-8",
            index.clone(),
        ),
    );
    assert_eq!(
        repo.referrers_api(&subject).await.unwrap(),
        Some(index.clone())
    );
    proxy.clear_faults();
    proxy.inject("GET", "/referrers/", Fault::body("application/json", index));
    assert_eq!(repo.referrers_api(&subject).await.unwrap(), None);
    proxy.clear_faults();
    proxy.inject("GET", "/referrers/", Fault::status(503));
    let e = repo.referrers_api(&subject).await.unwrap_err();
    assert!(matches!(e, RegistryError::Server { .. }), "{e:?}");
}

#[tokio::test]
async fn unreachable_registry_is_a_clear_error() {
    let client = test_client();
    // A loopback port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let image = ImageRef::parse(&format!("127.0.0.1:{port}/app:v1")).unwrap();
    let e = client.resolve(&image).await.unwrap_err();
    assert!(
        matches!(&e, RegistryError::Unreachable { registry, .. } if *registry == format!("127.0.0.1:{port}")),
        "{e}"
    );
}

// ---- OCI layout backend -------------------------------------------------------------

#[tokio::test]
async fn layout_round_trip_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layout");
    let path_str = path.to_str().unwrap().to_owned();
    let client = test_client();
    let image = ImageRef::parse(&format!("oci:{path_str}:v1")).unwrap();
    let repo = client.repository(&image).unwrap();
    assert!(repo.is_layout());
    assert_eq!(repo.name(), path_str);

    let d1 = push_image_to(&repo, Some("v1"), ("amd64", "linux")).await;
    assert!(path.join("oci-layout").is_file());
    assert!(path.join("blobs/sha256").join(d1.hex()).is_file());

    // Resolve by tag and by digest; exact bytes; `oci:PATH` names the only image.
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.manifest.digest, d1);
    assert_eq!(
        resolved.reference.to_string(),
        format!("oci:{path_str}@{d1}")
    );
    let bare = ImageRef::parse(&format!("oci:{path_str}")).unwrap();
    assert_eq!(client.resolve(&bare).await.unwrap().manifest.digest, d1);

    // A `.sig`-style tag does not make `oci:PATH` ambiguous.
    let sig_tag = format!("{}.sig", d1.tag_base());
    let sig = push_image_to(&repo, Some(&sig_tag), ("amd64", "linux")).await;
    assert_eq!(client.resolve(&bare).await.unwrap().manifest.digest, d1);
    let got = repo
        .get_manifest(ManifestRef::Tag(&sig_tag))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.digest, sig);

    // Re-tagging v1 replaces its entry and keeps the others.
    let d2 = push_image_to(&repo, Some("v1"), ("arm64", "linux")).await;
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{index}");
    assert_eq!(
        repo.get_manifest(ManifestRef::Tag("v1"))
            .await
            .unwrap()
            .unwrap()
            .digest,
        d2
    );
    // The old manifest is still readable by digest.
    assert!(
        repo.get_manifest(ManifestRef::Digest(&d1))
            .await
            .unwrap()
            .is_some()
    );

    // Untagged: appended once.
    let (m, _, _) = crate::support::build_image(("amd64", "linux"));
    let u = repo
        .put_manifest(None, media_types::OCI_MANIFEST, &m)
        .await
        .unwrap();
    repo.put_manifest(None, media_types::OCI_MANIFEST, &m)
        .await
        .unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{index}");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["digest"] == u.to_string())
            .count(),
        1
    );
    // Two untagged... no: two images now (v1 and the untagged one): `oci:PATH` is ambiguous.
    let e = client.resolve(&bare).await.unwrap_err();
    assert!(e.to_string().contains("oci:PATH:TAG"), "{e}");

    // Missing tag -> None / ManifestNotFound; no referrers API.
    assert!(
        repo.get_manifest(ManifestRef::Tag("nope"))
            .await
            .unwrap()
            .is_none()
    );
    let e = client.resolve(&image.with_tag("nope")).await.unwrap_err();
    assert!(matches!(e, RegistryError::ManifestNotFound { .. }), "{e}");
    assert_eq!(repo.referrers_api(&d1).await.unwrap(), None);
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn layout_checks_digests_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layout");
    let path_str = path.to_str().unwrap().to_owned();
    let client = Client::new(RegistryConfig {
        auth: AuthSource::Anonymous,
        limits: Limits {
            max_manifest_bytes: 2000,
            ..Limits::default()
        },
        ..RegistryConfig::default()
    })
    .unwrap();
    let image = ImageRef::parse(&format!("oci:{path_str}:v1")).unwrap();
    let repo = client.repository(&image).unwrap();
    let d = push_image_to(&repo, Some("v1"), ("amd64", "linux")).await;
    let blob = crate::support::random_bytes(300);
    let bd = repo
        .put_blob(imprint::store::Blob::copy_from_slice(&blob))
        .await
        .unwrap();
    assert_eq!(*repo.get_blob(&bd, 300).await.unwrap(), blob);
    let e = repo.get_blob(&bd, 299).await.unwrap_err();
    assert!(
        matches!(e, RegistryError::TooLarge { size: 300, .. }),
        "{e}"
    );
    let e = repo.get_blob(&Digest::of(b"x"), 10).await.unwrap_err();
    assert!(matches!(e, RegistryError::BlobNotFound { .. }), "{e}");

    // Tamper with the blob and the manifest on disk.
    std::fs::write(
        path.join("blobs/sha256").join(bd.hex()),
        crate::support::random_bytes(300),
    )
    .unwrap();
    let e = repo.get_blob(&bd, 300).await.unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
    let manifest_path = path.join("blobs/sha256").join(d.hex());
    let mut bytes = std::fs::read(&manifest_path).unwrap();
    bytes.push(b'\n');
    std::fs::write(&manifest_path, &bytes).unwrap();
    let e = repo.get_manifest(ManifestRef::Tag("v1")).await.unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");

    // An oversize manifest is refused from its size.
    std::fs::write(&manifest_path, vec![b' '; 5000]).unwrap();
    let e = client.resolve(&image).await.unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::TooLarge {
                size: 5000,
                limit: 2000,
                ..
            }
        ),
        "{e}"
    );

    // Not a layout at all.
    let nowhere = ImageRef::parse(&format!("oci:{}/nowhere:v1", dir.path().display())).unwrap();
    let e = client.resolve(&nowhere).await.unwrap_err();
    assert!(matches!(e, RegistryError::Layout { .. }), "{e}");
    // A corrupt index.json is an error naming the file.
    std::fs::write(path.join("index.json"), b"{nope").unwrap();
    let e = client.resolve(&image).await.unwrap_err();
    assert!(e.to_string().contains("index.json"), "{e}");
}

/// An image copied from the registry to a layout keeps its digest (same bytes), so
/// signatures made on one verify on the other.
#[tokio::test]
async fn registry_image_copies_to_layout_byte_exact() {
    let client = test_client();
    let name = unique_repo("copy");
    let (image, digest) = push_random_image(&name).await;
    let resolved = client.resolve(&image).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = ImageRef::parse(&format!("oci:{}:v1", dir.path().display())).unwrap();
    let layout = client.repository(&target).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&resolved.manifest.bytes).unwrap();
    let mut blobs = vec![m["config"]["digest"].as_str().unwrap().to_owned()];
    for l in m["layers"].as_array().unwrap() {
        blobs.push(l["digest"].as_str().unwrap().to_owned());
    }
    for b in blobs {
        let d: Digest = b.parse().unwrap();
        let bytes = resolved.repository.get_blob(&d, 1 << 20).await.unwrap();
        assert_eq!(
            layout
                .put_blob(imprint::store::Blob::copy_from_slice(&bytes))
                .await
                .unwrap(),
            d
        );
    }
    let copied = layout
        .put_manifest(
            Some("v1"),
            &resolved.manifest.media_type,
            &resolved.manifest.bytes,
        )
        .await
        .unwrap();
    assert_eq!(copied, digest);
    assert_eq!(
        client.resolve(&target).await.unwrap().manifest,
        resolved.manifest
    );
}

// ---- auth ---------------------------------------------------------------------------

fn htpasswd(user: &str, password: &str) -> String {
    let htpasswd = crate::support::require_program("htpasswd", "apache2-utils");
    let out = std::process::Command::new(htpasswd)
        .args(["-Bbn", user, password])
        .output()
        .expect("run htpasswd");
    assert!(out.status.success(), "htpasswd failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn docker_config(dir: &std::path::Path, registry: &str, user: &str, password: &str) {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec(&serde_json::json!({"auths": {registry: {"auth": auth}}})).unwrap(),
    )
    .unwrap();
}

#[tokio::test]
async fn basic_auth_from_docker_config() {
    let reg = crate::support::start_registry(crate::support::RegistryOptions {
        htpasswd: Some(htpasswd("alice", "s3cret-pw")),
    });
    let proxy = Proxy::start(reg.addr()).await;
    let name = unique_repo("auth");
    let image = ImageRef::parse(&format!("{}/{name}:v1", proxy.addr())).unwrap();

    // Anonymous: refused, as an auth error.
    let anonymous = test_client();
    let e = anonymous.resolve(&image).await.unwrap_err();
    assert!(matches!(e, RegistryError::Auth { .. }), "{e}");

    // Right credentials from a docker config directory: push and pull work.
    let cfg = tempfile::tempdir().unwrap();
    docker_config(cfg.path(), proxy.addr(), "alice", "s3cret-pw");
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(cfg.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap();
    let repo = client.repository(&image).unwrap();
    let digest = push_image_to(&repo, Some("v1"), ("amd64", "linux")).await;
    proxy.reset();
    let resolved = client.resolve(&image).await.unwrap();
    assert_eq!(resolved.manifest.digest, digest);
    assert_eq!(proxy.count("GET", Kind::Ping), 0, "no ping");
    assert_eq!(proxy.requests().len(), 1, "{:?}", proxy.requests());

    // Wrong password: an auth error that does not contain the password.
    let bad = tempfile::tempdir().unwrap();
    docker_config(bad.path(), proxy.addr(), "alice", "wrong-pw");
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(bad.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap();
    let e = client.resolve(&image).await.unwrap_err();
    assert!(matches!(e, RegistryError::Auth { .. }), "{e}");
    assert!(!e.to_string().contains("wrong-pw"), "{e}");
}

/// Token auth as Docker Hub, GHCR and distribution's token server do it: no `/v2/` ping (the
/// first request's 401 names the realm, once per registry), one token per repository and
/// scope (a push token also serves pulls), a refused (expired) token is replaced once.
#[tokio::test]
async fn bearer_tokens_are_fetched_once_per_repository() {
    let proxy = Proxy::start_with_bearer(registry(), "bob", "t0ken-pw").await;
    let cfg = tempfile::tempdir().unwrap();
    docker_config(cfg.path(), proxy.addr(), "bob", "t0ken-pw");
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(cfg.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap();

    let a = ImageRef::parse(&format!("{}/{}:v1", proxy.addr(), unique_repo("bearer-a"))).unwrap();
    let repo_a = client.repository(&a).unwrap();
    let digest = push_image_to(&repo_a, Some("v1"), ("amd64", "linux")).await;
    assert_eq!(proxy.count("GET", Kind::Ping), 0, "{:?}", proxy.requests());
    assert_eq!(proxy.count("GET", Kind::Token), 1, "{:?}", proxy.requests());

    // Pull in the same repository reuses the push token: one request.
    proxy.reset();
    assert_eq!(client.resolve(&a).await.unwrap().manifest.digest, digest);
    assert_eq!(proxy.requests().len(), 1, "{:?}", proxy.requests());

    // Another repository: one pull token, no 401 first (the challenge is known); then cached.
    let b_name = unique_repo("bearer-b");
    let b = ImageRef::parse(&format!("{}/{b_name}:v1", proxy.addr())).unwrap();
    proxy.reset();
    assert!(
        client
            .repository(&b)
            .unwrap()
            .get_manifest(ManifestRef::Tag("v1"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        client
            .repository(&b)
            .unwrap()
            .get_manifest(ManifestRef::Tag("v2"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(proxy.count("GET", Kind::Ping), 0);
    assert_eq!(proxy.count("GET", Kind::Token), 1);
    assert_eq!(proxy.requests().len(), 3, "{:?}", proxy.requests());

    // Tokens revoked (expired): the refusal is followed by one new token and a retry.
    proxy.revoke_tokens();
    proxy.reset();
    assert_eq!(client.resolve(&a).await.unwrap().manifest.digest, digest);
    let kinds: Vec<Kind> = proxy.requests().iter().map(|r| r.kind).collect();
    assert_eq!(kinds, vec![Kind::Manifest, Kind::Token, Kind::Manifest]);

    // Without credentials: the token endpoint refuses, reported as an auth error.
    let e = test_client().resolve(&a).await.unwrap_err();
    assert!(matches!(e, RegistryError::Auth { .. }), "{e}");
    assert!(e.to_string().contains("anonymously"), "{e}");
    // Wrong password never appears in the error.
    let bad = tempfile::tempdir().unwrap();
    docker_config(bad.path(), proxy.addr(), "bob", "nope-pw");
    let e = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(bad.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap()
    .resolve(&a)
    .await
    .unwrap_err();
    assert!(matches!(e, RegistryError::Auth { .. }), "{e}");
    assert!(!e.to_string().contains("nope-pw"), "{e}");

    // A docker `identitytoken` login: the token is exchanged with an OAuth2 refresh-token
    // POST (this gate takes the password as the refresh token).
    let idcfg = tempfile::tempdir().unwrap();
    std::fs::write(
        idcfg.path().join("config.json"),
        serde_json::to_vec(
            &serde_json::json!({"auths": {proxy.addr(): {"identitytoken": "t0ken-pw"}}}),
        )
        .unwrap(),
    )
    .unwrap();
    proxy.reset();
    let client = Client::new(RegistryConfig {
        auth: AuthSource::DockerConfigDir(idcfg.path().to_owned()),
        ..RegistryConfig::default()
    })
    .unwrap();
    assert_eq!(client.resolve(&a).await.unwrap().manifest.digest, digest);
    assert_eq!(
        proxy.count("POST", Kind::Token),
        1,
        "{:?}",
        proxy.requests()
    );
}
