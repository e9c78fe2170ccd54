//! Legacy keyless `.sig` / `.att` layers: the real vectors verify, and every single mutation of
//! the certificate, chain, Rekor bundle (SET, body, integratedTime, logIndex, logID), payload or
//! signature is rejected. Each mutation is a named case; all are printed with the failing check.

use std::collections::BTreeMap;

use crate::support::vectors;
use base64::Engine as _;
use imprint::trust::{GithubClaims, IdentityPolicy, Matcher, TrustRoot};
use imprint::verify::bundle::BundleError;
use imprint::verify::legacy::{LegacyKeylessLayer, verify_legacy_keyless};
use imprint::verify::proof::{Signer, TlogEvidence};

const SAN: &str = "mitr@redhat.com";
const GH_OAUTH: &str = "https://github.com/login/oauth";

fn read(p: &str) -> String {
    std::fs::read_to_string(vectors().join(p)).unwrap()
}

fn policy(san: &str, issuer: &str) -> IdentityPolicy {
    IdentityPolicy::new(
        Matcher::Exact(san.into()),
        Matcher::Exact(issuer.into()),
        GithubClaims::default(),
    )
    .unwrap()
}

/// The parts of one `.sig` layer, owned so tests can mutate them.
#[derive(Clone)]
struct SigParts {
    payload: Vec<u8>,
    sig: String,
    cert: String,
    chain: Option<String>,
    rekor: Option<String>,
}

impl SigParts {
    fn layer(&self) -> LegacyKeylessLayer<'_> {
        LegacyKeylessLayer {
            layer_bytes: &self.payload,
            signature_b64: &self.sig,
            certificate_pem: &self.cert,
            chain_pem: self.chain.as_deref(),
            rekor_bundle_json: self.rekor.as_deref(),
            rfc3161_timestamp_json: None,
            is_attestation: false,
        }
    }
}

fn derived_sig() -> SigParts {
    let d = "derived/legacy-sig-keyless-containers-image";
    SigParts {
        payload: std::fs::read(vectors().join(d).join("payload.json")).unwrap(),
        sig: read(&format!("{d}/signature.b64")),
        cert: read(&format!("{d}/certificate.pem")),
        chain: Some(read(&format!("{d}/chain.pem"))),
        rekor: Some(read(&format!("{d}/rekor-bundle.json"))),
    }
}

fn from_annotations(payload: Vec<u8>, ann: &BTreeMap<String, String>) -> SigParts {
    SigParts {
        payload,
        sig: ann["dev.cosignproject.cosign/signature"].clone(),
        cert: ann["dev.sigstore.cosign/certificate"].clone(),
        chain: ann.get("dev.sigstore.cosign/chain").cloned(),
        rekor: ann.get("dev.sigstore.cosign/bundle").cloned(),
    }
}

fn trust() -> TrustRoot {
    TrustRoot::public_good().unwrap()
}

#[test]
fn derived_containers_image_sig_verifies() {
    let parts = derived_sig();
    let (signer, tlog) = verify_legacy_keyless(parts.layer(), &policy(SAN, GH_OAUTH), &trust())
        .expect("derived legacy keyless .sig verifies");
    match signer {
        Signer::Certificate {
            identity, issuer, ..
        } => {
            assert_eq!(identity, SAN);
            assert_eq!(issuer, GH_OAUTH);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(tlog.integrated_time, 1674247893);
    assert_eq!(
        tlog.log_id,
        "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
    );
    // The same with the trust root read from the vectors' file.
    let file_root =
        TrustRoot::from_file(&vectors().join("trust-roots/pgi-trusted_root.json")).unwrap();
    verify_legacy_keyless(parts.layer(), &policy(SAN, GH_OAUTH), &file_root).unwrap();
    // Without a chain annotation (cosign v3 legacy writes ""), intermediates come from the root.
    let mut no_chain = parts;
    no_chain.chain = Some(String::new());
    verify_legacy_keyless(no_chain.layer(), &policy(SAN, GH_OAUTH), &trust()).unwrap();
    no_chain.chain = None;
    verify_legacy_keyless(no_chain.layer(), &policy(SAN, GH_OAUTH), &trust()).unwrap();
    // Regression (issue 10): a chain annotation of any length was parsed and walked. Over
    // max_cert_chain_len (10, leaf included) it is refused by count, naming the limit.
    let mut long = derived_sig();
    long.chain = long.chain.map(|c| c.repeat(10));
    let e = verify_legacy_keyless(long.layer(), &policy(SAN, GH_OAUTH), &trust()).unwrap_err();
    assert!(e.to_string().contains("max_cert_chain_len"), "{e}");
}

#[test]
fn containers_image_dir_signature_verifies() {
    // containers/image stores a signature as "\0sigstore-json\n" + {mimeType, payload, annotations}.
    let raw =
        std::fs::read(vectors().join(
            "legacy-signatures/containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1",
        ))
        .unwrap();
    let json = raw.strip_prefix(b"\x00sigstore-json\n").unwrap();
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str().unwrap())
        .unwrap();
    let ann: BTreeMap<String, String> = serde_json::from_value(v["annotations"].clone()).unwrap();
    let parts = from_annotations(payload, &ann);
    verify_legacy_keyless(parts.layer(), &policy(SAN, GH_OAUTH), &trust()).unwrap();
    // Regex identity, anchored.
    let re = IdentityPolicy::new(
        Matcher::regex(".*@redhat\\.com").unwrap(),
        Matcher::regex("https://github\\.com/login/oauth").unwrap(),
        GithubClaims::default(),
    )
    .unwrap();
    verify_legacy_keyless(parts.layer(), &re, &trust()).unwrap();
    let unanchored = IdentityPolicy::new(
        Matcher::regex("@redhat\\.com").unwrap(),
        Matcher::Exact(GH_OAUTH.into()),
        GithubClaims::default(),
    )
    .unwrap();
    let e = verify_legacy_keyless(parts.layer(), &unanchored, &trust()).unwrap_err();
    assert_eq!(e.check(), "identity", "{e}");
}

#[test]
fn connaisseur_keyless_layer_verifies() {
    let m: serde_json::Value = serde_json::from_str(&read(
        "legacy-signatures/connaisseur/manifests/sha256-31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee.sig.json",
    ))
    .unwrap();
    let layer = &m["layers"][0];
    let digest = layer["digest"].as_str().unwrap().replace(':', "-");
    let payload =
        std::fs::read(vectors().join(format!("legacy-signatures/connaisseur/blobs/{digest}.json")))
            .unwrap();
    let ann: BTreeMap<String, String> =
        serde_json::from_value(layer["annotations"].clone()).unwrap();
    let parts = from_annotations(payload, &ann);
    let (signer, _) = verify_legacy_keyless(
        parts.layer(),
        &policy("philipp.belitz@securesystems.de", GH_OAUTH),
        &trust(),
    )
    .unwrap();
    assert!(matches!(signer, Signer::Certificate { .. }));
    let e = verify_legacy_keyless(parts.layer(), &policy(SAN, GH_OAUTH), &trust()).unwrap_err();
    assert_eq!(e.check(), "identity");
}

fn att_parts() -> (Vec<u8>, BTreeMap<String, String>) {
    let d = "derived/legacy-att-keyless-from-cosign-bundle";
    let env = std::fs::read(vectors().join(d).join("layer-envelope.json")).unwrap();
    let ann: BTreeMap<String, String> =
        serde_json::from_str(&read(&format!("{d}/layer-annotations.json"))).unwrap();
    (env, ann)
}

fn att_layer<'a>(env: &'a [u8], ann: &'a BTreeMap<String, String>) -> LegacyKeylessLayer<'a> {
    LegacyKeylessLayer {
        layer_bytes: env,
        signature_b64: &ann["dev.cosignproject.cosign/signature"],
        certificate_pem: &ann["dev.sigstore.cosign/certificate"],
        chain_pem: ann.get("dev.sigstore.cosign/chain").map(String::as_str),
        rekor_bundle_json: ann.get("dev.sigstore.cosign/bundle").map(String::as_str),
        rfc3161_timestamp_json: None,
        is_attestation: true,
    }
}

#[test]
fn derived_legacy_att_verifies_and_mutations_rejected() {
    let (env, ann) = att_parts();
    let pol = policy("cody@soyland.com", GH_OAUTH);
    let (signer, tlog) = verify_legacy_keyless(att_layer(&env, &ann), &pol, &trust()).unwrap();
    assert!(
        matches!(signer, Signer::Certificate { ref identity, .. } if identity == "cody@soyland.com")
    );
    assert_eq!(tlog.log_index, 175508996);

    // Re-serialized envelope (same content, other bytes): envelopeHash no longer matches.
    let v: serde_json::Value = serde_json::from_slice(&env).unwrap();
    let pretty = serde_json::to_vec_pretty(&v).unwrap();
    let e = verify_legacy_keyless(att_layer(&pretty, &ann), &pol, &trust()).unwrap_err();
    assert_eq!(e.check(), "tlog-entry", "{e}");
    // Every third byte of the envelope flipped in turn: the envelope no longer parses, its
    // signature no longer decodes, or it no longer hashes to the logged envelopeHash.
    let flips = (0..env.len()).step_by(3).map(|i| {
        let mut m = env.clone();
        m[i] ^= 0x01;
        let r = verify_legacy_keyless(att_layer(&m, &ann), &pol, &trust());
        (format!("envelope byte {i} flipped"), r)
    });
    let by_check = rejections("legacy att envelope", flips);
    assert_only_checks(
        "legacy att envelope",
        &by_check,
        &["bundle-format", "signature", "tlog-entry"],
    );
    // A non-empty signature annotation must match the envelope's.
    let mut ann2 = ann.clone();
    ann2.insert(
        "dev.cosignproject.cosign/signature".into(),
        "MEUCIQ==".into(),
    );
    let e = verify_legacy_keyless(att_layer(&env, &ann2), &pol, &trust()).unwrap_err();
    assert_eq!(e.check(), "signature");
    // Chain and certificate mutations on the attestation too.
    for (key, checks) in [
        (
            "dev.sigstore.cosign/certificate",
            &["certificate", "certificate-chain"][..],
        ),
        ("dev.sigstore.cosign/chain", &["certificate-chain"][..]),
    ] {
        let cases = b64_char_mutations(&ann[key])
            .into_iter()
            .map(|(name, text)| {
                let mut a = ann.clone();
                a.insert(key.into(), text);
                let r = verify_legacy_keyless(att_layer(&env, &a), &pol, &trust());
                (format!("{key} {name}"), r)
            });
        let by_check = rejections(key, cases);
        assert_only_checks(key, &by_check, checks);
    }
}

/// Change one base64 character of a PEM body (or a bare base64 string), at every position.
fn b64_char_mutations(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut in_header = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'-' {
            in_header = !in_header || bytes.get(i + 1) == Some(&b'-');
        }
        if in_header || !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/') {
            continue;
        }
        // Skip the header/footer words ("BEGIN CERTIFICATE").
        let line_start = text[..i].rfind('\n').map_or(0, |p| p + 1);
        if text[line_start..].starts_with("-----") {
            continue;
        }
        let replacement = if b == b'A' { 'B' } else { 'A' };
        let mut m = text.to_owned();
        m.replace_range(i..=i, &replacement.to_string());
        out.push((format!("char {i} {}->{}", b as char, replacement), m));
    }
    out
}

/// Which checks rejected `cases` (check name → count); fails the test if one was accepted.
fn rejections(
    what: &str,
    cases: impl IntoIterator<Item = (String, Result<(Signer, TlogEvidence), BundleError>)>,
) -> BTreeMap<&'static str, usize> {
    let mut accepted = Vec::new();
    let mut by_check: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (name, result) in cases {
        match result {
            Ok(_) => accepted.push(name),
            Err(e) => *by_check.entry(e.check()).or_default() += 1,
        }
    }
    assert!(
        accepted.is_empty(),
        "{what}: accepted mutations: {accepted:?}"
    );
    assert!(!by_check.is_empty(), "{what}: no mutations");
    by_check
}

/// Every case is rejected, each by one of the `checks` expected for this kind of mutation.
/// Returns the number of cases.
fn expect_all_rejected(what: &str, cases: Vec<(String, SigParts)>, checks: &[&str]) -> usize {
    let t = trust();
    let pol = policy(SAN, GH_OAUTH);
    let by_check = rejections(
        what,
        cases.into_iter().map(|(name, parts)| {
            let r = verify_legacy_keyless(parts.layer(), &pol, &t);
            (name, r)
        }),
    );
    assert_only_checks(what, &by_check, checks);
    by_check.values().sum()
}

/// `by_check` names no check outside `checks`.
fn assert_only_checks(what: &str, by_check: &BTreeMap<&'static str, usize>, checks: &[&str]) {
    assert!(
        by_check.keys().all(|c| checks.contains(c)),
        "{what}: rejected by {by_check:?}, expected only by {checks:?}"
    );
}

#[test]
fn certificate_mutations_rejected() {
    let base = derived_sig();
    let mut cases: Vec<(String, SigParts)> = b64_char_mutations(&base.cert)
        .into_iter()
        .map(|(n, c)| {
            let mut p = base.clone();
            p.cert = c;
            (format!("cert {n}"), p)
        })
        .collect();
    // Named semantic mutations.
    let mut p = base.clone();
    p.cert = read("derived/legacy-att-keyless-from-cosign-bundle/certificate.pem");
    cases.push(("cert: another valid Fulcio certificate".into(), p));
    let mut p = base.clone();
    p.cert = format!("{}{}", base.cert, base.cert);
    cases.push(("cert: two certificates".into(), p));
    let mut p = base.clone();
    p.cert = String::new();
    cases.push(("cert: empty".into(), p));
    let mut p = base.clone();
    p.cert = format!("x{}", base.cert);
    cases.push(("cert: leading garbage".into(), p));
    let mut p = base.clone();
    p.cert = base.chain.unwrap();
    cases.push(("cert: the chain instead of the leaf".into(), p));
    expect_all_rejected("certificate", cases, &["certificate", "certificate-chain"]);
}

#[test]
fn chain_mutations_rejected() {
    let base = derived_sig();
    let chain = base.chain.clone().unwrap();
    let mut cases: Vec<(String, SigParts)> = b64_char_mutations(&chain)
        .into_iter()
        .map(|(n, c)| {
            let mut p = base.clone();
            p.chain = Some(c);
            (format!("chain {n}"), p)
        })
        .collect();
    let blocks: Vec<String> = chain
        .split_inclusive("-----END CERTIFICATE-----")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(blocks.len(), 2, "intermediate and root");
    let named = [
        ("chain: root only", blocks[1].clone()),
        ("chain: intermediate only (no root)", blocks[0].clone()),
        ("chain: reversed", format!("{}\n{}\n", blocks[1], blocks[0])),
        (
            "chain: intermediate twice",
            format!("{}\n{}\n", blocks[0], blocks[0]),
        ),
        ("chain: leaf prepended", format!("{}{}", base.cert, chain)),
        ("chain: trailing garbage", format!("{chain}garbage")),
        ("chain: leading garbage", format!("garbage\n{chain}")),
        ("chain: not PEM", "garbage".to_owned()),
    ];
    for (n, c) in named {
        let mut p = base.clone();
        p.chain = Some(c);
        cases.push((n.into(), p));
    }
    expect_all_rejected("chain", cases, &["certificate-chain"]);
}

#[test]
fn rekor_bundle_mutations_rejected() {
    let base = derived_sig();
    let rb: serde_json::Value = serde_json::from_str(base.rekor.as_deref().unwrap()).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = rb.clone();
        f(&mut v);
        let mut p = base.clone();
        p.rekor = Some(v.to_string());
        p
    };
    let mut cases = Vec::new();
    let set = rb["SignedEntryTimestamp"].as_str().unwrap().to_owned();
    for (n, m) in b64_char_mutations(&set) {
        cases.push((
            format!("SET {n}"),
            with(&|v| v["SignedEntryTimestamp"] = m.clone().into()),
        ));
    }
    let body = rb["Payload"]["body"].as_str().unwrap().to_owned();
    for (n, m) in b64_char_mutations(&body).into_iter().step_by(5) {
        cases.push((
            format!("body {n}"),
            with(&|v| v["Payload"]["body"] = m.clone().into()),
        ));
    }
    let log_id = rb["Payload"]["logID"].as_str().unwrap().to_owned();
    for i in 0..log_id.len() {
        let mut m = log_id.clone();
        let c = if &m[i..=i] == "0" { "1" } else { "0" };
        m.replace_range(i..=i, c);
        cases.push((
            format!("logID char {i}"),
            with(&|v| v["Payload"]["logID"] = m.clone().into()),
        ));
    }
    let it = rb["Payload"]["integratedTime"].as_i64().unwrap();
    let li = rb["Payload"]["logIndex"].as_i64().unwrap();
    for d in [-1i64, 1, 60, -3600] {
        cases.push((
            format!("integratedTime {d:+}"),
            with(&|v| v["Payload"]["integratedTime"] = (it + d).into()),
        ));
        cases.push((
            format!("logIndex {d:+}"),
            with(&|v| v["Payload"]["logIndex"] = (li + d).into()),
        ));
    }
    cases.push((
        "logID uppercase".into(),
        with(&|v| v["Payload"]["logID"] = log_id.to_uppercase().into()),
    ));
    cases.push((
        "integratedTime as string".into(),
        with(&|v| v["Payload"]["integratedTime"] = it.to_string().into()),
    ));
    cases.push((
        "body not a string".into(),
        with(&|v| v["Payload"]["body"] = serde_json::json!({"x": 1})),
    ));
    cases.push((
        "SET removed".into(),
        with(&|v| {
            v.as_object_mut().unwrap().remove("SignedEntryTimestamp");
        }),
    ));
    let mut p = base.clone();
    p.rekor = None;
    cases.push(("Rekor bundle annotation missing".into(), p));
    let mut p = base.clone();
    p.rekor = Some(read(
        "derived/legacy-att-keyless-from-cosign-bundle/rekor-bundle.json",
    ));
    cases.push(("Rekor bundle of another entry".into(), p));
    expect_all_rejected("rekor bundle", cases, &["tlog-entry", "tlog-set"]);
}

#[test]
fn payload_mutations_rejected() {
    let base = derived_sig();
    let mut cases = Vec::new();
    for i in 0..base.payload.len() {
        let mut p = base.clone();
        p.payload[i] ^= 0x20;
        cases.push((format!("payload byte {i} ^0x20"), p));
    }
    let mut p = base.clone();
    p.payload.push(b'\n');
    cases.push(("payload + newline".into(), p));
    let mut p = base;
    p.payload.pop();
    cases.push(("payload truncated".into(), p));
    expect_all_rejected("payload", cases, &["signature"]);
}

#[test]
fn signature_mutations_rejected() {
    let base = derived_sig();
    let mut cases: Vec<(String, SigParts)> = b64_char_mutations(&base.sig)
        .into_iter()
        .map(|(n, s)| {
            let mut p = base.clone();
            p.sig = s;
            (format!("signature {n}"), p)
        })
        .collect();
    let mut p = base.clone();
    p.sig = String::new();
    cases.push(("signature empty".into(), p));
    let mut p = base;
    p.sig = "not base64!".into();
    cases.push(("signature not base64".into(), p));
    expect_all_rejected("signature", cases, &["signature"]);
}

#[test]
fn identity_and_issuer_mismatch_rejected_with_named_check() {
    let base = derived_sig();
    let t = trust();
    let e =
        verify_legacy_keyless(base.layer(), &policy("mitr@redhat.co", GH_OAUTH), &t).unwrap_err();
    assert_eq!(e.check(), "identity");
    let e = verify_legacy_keyless(
        base.layer(),
        &policy(SAN, "https://accounts.google.com"),
        &t,
    )
    .unwrap_err();
    assert_eq!(e.check(), "issuer");
    let mut gh = policy(SAN, GH_OAUTH);
    gh.github.repository = Some("containers/image".into());
    let e = verify_legacy_keyless(base.layer(), &gh, &t).unwrap_err();
    assert_eq!(e.check(), "github-claim");
    // A policy built around the constructor with an empty identity is still refused.
    let mut empty = policy(SAN, GH_OAUTH);
    empty.subject = Matcher::Exact(String::new());
    let e = verify_legacy_keyless(base.layer(), &empty, &t).unwrap_err();
    assert_eq!(e.check(), "identity-policy");
}

#[test]
fn wrong_trust_root_rejected() {
    let base = derived_sig();
    let other = TrustRoot::from_file(
        &vectors().join("trust-roots/sigstore-go-scaffolding-trusted_root.json"),
    )
    .unwrap();
    let e = verify_legacy_keyless(base.layer(), &policy(SAN, GH_OAUTH), &other).unwrap_err();
    assert_eq!(e.check(), "certificate-chain", "{e}");
}

/// The sigstore-conformance `bundle-verify` cases.
fn conformance_case(rel: &str) -> std::path::PathBuf {
    vectors()
        .join("sigstore-conformance/bundle-verify")
        .join(rel)
}
const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GHA: &str = "https://token.actions.githubusercontent.com";

/// The legacy annotations cosign v2 would have written for a Rekor v1 bundle's content.
fn legacy_from_bundle(case: &str) -> (serde_json::Value, String, String, String) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b: serde_json::Value = serde_json::from_slice(
        &std::fs::read(conformance_case(case).join("bundle.sigstore.json")).unwrap(),
    )
    .unwrap();
    let vm = &b["verificationMaterial"];
    let leaf = vm["x509CertificateChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .or(vm["certificate"]["rawBytes"].as_str())
        .unwrap();
    let cert = pem::encode(&pem::Pem::new("CERTIFICATE", b64.decode(leaf).unwrap()));
    let e = &vm["tlogEntries"][0];
    let rekor = serde_json::json!({
        "SignedEntryTimestamp": e["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": e["canonicalizedBody"],
            "integratedTime": e["integratedTime"].as_str().unwrap().parse::<i64>().unwrap(),
            "logIndex": e["logIndex"].as_str().unwrap().parse::<i64>().unwrap(),
            "logID": hex::encode(b64.decode(e["logId"]["keyId"].as_str().unwrap()).unwrap()),
        }
    })
    .to_string();
    let ts = vm["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]
        .as_str()
        .map(|t| serde_json::json!({ "SignedRFC3161Timestamp": t }).to_string())
        .unwrap_or_default();
    (b, cert, rekor, ts)
}

#[test]
fn conformance_v01_message_signature_as_legacy_sig() {
    let (b, cert, rekor, _) = legacy_from_bundle("happy-path-v0.1");
    let parts = SigParts {
        payload: std::fs::read(conformance_case("a.txt")).unwrap(),
        sig: b["messageSignature"]["signature"]
            .as_str()
            .unwrap()
            .to_owned(),
        cert,
        chain: None,
        rekor: Some(rekor),
    };
    let t = trust();
    let pol = policy(BEACON, GHA);
    verify_legacy_keyless(parts.layer(), &pol, &t).unwrap();
    // A timestamp annotation that does not verify is rejected (fail closed), named.
    let bad_ts = serde_json::json!({"SignedRFC3161Timestamp": "MAA="}).to_string();
    let layer = LegacyKeylessLayer {
        rfc3161_timestamp_json: Some(&bad_ts),
        ..parts.layer()
    };
    let e = verify_legacy_keyless(layer, &pol, &t).unwrap_err();
    assert_eq!(e.check(), "timestamp", "{e}");
    let layer = LegacyKeylessLayer {
        rfc3161_timestamp_json: Some("not json"),
        ..parts.layer()
    };
    assert_eq!(
        verify_legacy_keyless(layer, &pol, &t).unwrap_err().check(),
        "timestamp"
    );
    // A .sig layer claiming to be an attestation is rejected.
    let layer = LegacyKeylessLayer {
        is_attestation: true,
        ..parts.layer()
    };
    let e = verify_legacy_keyless(layer, &pol, &t).unwrap_err();
    assert_eq!(e.check(), "tlog-entry", "{e}");
}

#[test]
fn conformance_intoto_entry_as_legacy_att() {
    let (b, cert, rekor, ts) = legacy_from_bundle("intoto-with-custom-trust-root");
    let env = &b["dsseEnvelope"];
    let layer_bytes = serde_json::to_vec(&serde_json::json!({
        "payloadType": env["payloadType"],
        "payload": env["payload"],
        "signatures": [{"keyid": "", "sig": env["signatures"][0]["sig"]}],
    }))
    .unwrap();
    let t = TrustRoot::from_file(&conformance_case(
        "intoto-with-custom-trust-root/trusted_root.json",
    ))
    .unwrap();
    let pol = policy(BEACON, GHA);
    let layer = LegacyKeylessLayer {
        layer_bytes: &layer_bytes,
        signature_b64: "",
        certificate_pem: &cert,
        chain_pem: Some(""),
        rekor_bundle_json: Some(&rekor),
        rfc3161_timestamp_json: None,
        is_attestation: true,
    };
    verify_legacy_keyless(layer, &pol, &t).unwrap();
    // The bundle's timestamp stamps the signature, not these layer bytes: as a legacy .att
    // timestamp (which cosign makes over the layer bytes) it must be rejected.
    assert!(!ts.is_empty());
    let with_ts = LegacyKeylessLayer {
        rfc3161_timestamp_json: Some(&ts),
        ..layer
    };
    let e = verify_legacy_keyless(with_ts, &pol, &t).unwrap_err();
    assert_eq!(e.check(), "timestamp", "{e}");
    // Payload tampering is caught by the intoto entry's payloadHash / the signature. A payload
    // that is no statement about a sha256 subject fails before that, on the subject.
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v: serde_json::Value = serde_json::from_slice(&layer_bytes).unwrap();
    let payload = b64.decode(v["payload"].as_str().unwrap()).unwrap();
    let mut statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    statement["predicate"] = serde_json::json!({"tampered": true});
    let tampered_statement = serde_json::to_vec(&statement).unwrap();
    v["payload"] = b64.encode(&tampered_statement).into();
    let tampered = serde_json::to_vec(&v).unwrap();
    let e = verify_legacy_keyless(
        LegacyKeylessLayer {
            layer_bytes: &tampered,
            ..layer
        },
        &pol,
        &t,
    )
    .unwrap_err();
    assert_eq!(e.check(), "signature", "{e}");
    v["payload"] = b64.encode(b"{}").into();
    let tampered = serde_json::to_vec(&v).unwrap();
    let e = verify_legacy_keyless(
        LegacyKeylessLayer {
            layer_bytes: &tampered,
            ..layer
        },
        &pol,
        &t,
    )
    .unwrap_err();
    assert_eq!(e.check(), "artifact-digest", "{e}");
}
