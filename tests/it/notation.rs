//! Notation (Notary Project) signatures against `../shared/vectors/notation`: every vector of
//! its `expected.json` reproduced (each id has its cases below; an id this file does not know
//! fails the suite), and tampered variants of every envelope that verifies rejected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coset::TaggedCborSerializable as _;
use imprint::notation::discover;
use imprint::notation::envelope::{self, Envelope};
use imprint::notation::trustpolicy::StoreType;
use imprint::notation::{
    ArtifactDescriptor, Check, NotationError, StoreRef, TrustPolicyDocument, TrustStores,
    VerifyOptions, verify_signature,
};
use imprint::store::Limits;
use imprint::store::layout::LayoutRepository;
use serde_json::Value;

fn vdir() -> PathBuf {
    crate::support::vectors().join("notation")
}

/// 2026-12-01T00:00:00Z: inside the generated leaves' validity (2026-11-22 .. 2027-11-23),
/// after every upstream expiry the vectors expect to have passed.
const AT: i64 = 1_796_083_200;

const E2E_IMAGE: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";
const NET_MONITOR: &str = "registry.acme-rockets.io/software/net-monitor";

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Verifies, with no logged failure.
    Verified,
    /// Verifies, with this check's failure logged.
    Logged(Check),
    /// Verifies, and this check's failure is not among the logged ones.
    Passes(Check),
    /// Fails this check; the message contains the text.
    Fails(Check, &'static str),
    /// The policy skips verification.
    Skipped,
    /// The user-metadata check fails.
    Metadata,
}

#[derive(Clone)]
struct Case {
    name: String,
    /// Envelope file (relative to the vectors) and its media type; `None` = layout case.
    envelope: Option<(String, &'static str)>,
    /// OCI layout (relative): every Notation signature of the image is tried, the image
    /// passes when one verifies (Notation's rule).
    layout: Option<String>,
    artifact: ArtifactDescriptor,
    policy: Value,
    stores: Vec<(String, Vec<String>)>,
    repository: String,
    user_metadata: BTreeMap<String, String>,
    expect: Expect,
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(vdir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn policy(rel: &str) -> Value {
    serde_json::from_slice(&read(rel)).unwrap()
}

fn with_level(mut p: Value, level: &str) -> Value {
    p["trustPolicies"][0]["signatureVerification"]["level"] = Value::from(level);
    p
}

fn artifact_of(v: &Value) -> ArtifactDescriptor {
    ArtifactDescriptor {
        media_type: v["mediaType"].as_str().unwrap().to_owned(),
        digest: v["digest"].as_str().unwrap().to_owned(),
        size: v["size"].as_u64().unwrap(),
    }
}

fn e2e_artifact() -> ArtifactDescriptor {
    ArtifactDescriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: E2E_IMAGE.into(),
        size: 517,
    }
}

fn stores_of(v: &Value) -> Vec<(String, Vec<String>)> {
    v["trustStores"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, paths)| {
                    (
                        k.clone(),
                        paths
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| p.as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn load_stores(stores: &[(String, Vec<String>)]) -> TrustStores {
    let mut out = TrustStores::new();
    for (name, paths) in stores {
        let r = StoreRef::parse(name).unwrap();
        let paths: Vec<PathBuf> = paths.iter().map(|p| vdir().join(p)).collect();
        out.load_paths(r, &paths);
    }
    out
}

const NG_CA_STORE: &str = "notation-go/verifier/testdata/truststore/x509/ca/valid-trust-store/";
const NG_SA_STORE: &str =
    "notation-go/verifier/testdata/truststore/x509/signingAuthority/valid-trust-store/";
const NG_TSA_STORE: &str =
    "notation-go/verifier/testdata/truststore/x509/tsa/test-timestamp/globalsignRoot.cer";
const E2E_POLICIES: &str = "notation/test/e2e/testdata/config/trustpolicies";
const E2E_KEYS: &str = "notation/test/e2e/testdata/config/localkeys";
const E2E_LAYOUTS: &str = "notation/test/e2e/testdata/registry/oci_layout";

fn ng_stores() -> Vec<(String, Vec<String>)> {
    vec![
        ("ca:valid-trust-store".into(), vec![NG_CA_STORE.into()]),
        (
            "signingAuthority:valid-trust-store".into(),
            vec![NG_SA_STORE.into()],
        ),
    ]
}

fn e2e_store(cert: &str) -> Vec<(String, Vec<String>)> {
    vec![("ca:e2e".into(), vec![format!("{E2E_KEYS}/{cert}")])]
}

fn base_case(name: &str, v: &Value) -> Case {
    Case {
        name: name.to_owned(),
        envelope: None,
        layout: None,
        artifact: v
            .get("artifact")
            .filter(|a| a.is_object())
            .map_or_else(e2e_artifact, artifact_of),
        policy: Value::Null,
        stores: stores_of(v),
        repository: "localhost:5000/e2e".into(),
        user_metadata: BTreeMap::new(),
        expect: Expect::Verified,
    }
}

/// The cases of one vector of `expected.json`, as its `expect`/`note`/`alsoFailsWith` text says.
fn cases_for(v: &Value) -> Vec<Case> {
    let id = v["id"].as_str().unwrap();
    let env = |c: &mut Case, rel: &str, mt: &'static str| c.envelope = Some((rel.to_owned(), mt));
    let jws = envelope::MEDIA_TYPE_JWS;
    let cose = envelope::MEDIA_TYPE_COSE;
    let mut out = Vec::new();
    let mut push = |c: Case| out.push(c);
    let ng_policy = || policy("policies/notation-go-dummyOCIPolicyDocument.json");
    let ng = |name: &str, file: &str, p: Value, expect: Expect| {
        let mut c = base_case(name, v);
        env(
            &mut c,
            &format!("notation-go/internal/mock/testdata/{file}"),
            jws,
        );
        c.policy = p;
        c.stores = ng_stores();
        c.repository = NET_MONITOR.into();
        c.expect = expect;
        c
    };
    match id {
        "ng-ca-valid" | "ng-sa-valid" => {
            let file = if id == "ng-ca-valid" {
                "ca_valid_sig_env.json"
            } else {
                "sa_valid_sig_env.json"
            };
            for level in ["strict", "permissive", "audit"] {
                push(ng(
                    level,
                    file,
                    with_level(ng_policy(), level),
                    Expect::Verified,
                ));
            }
        }
        "ng-ca-invalid" | "ng-sa-invalid" => {
            let file = if id == "ng-ca-invalid" {
                "ca_invalid_sig_env.json"
            } else {
                "sa_invalid_sig_env.json"
            };
            for level in ["strict", "permissive", "audit"] {
                push(ng(
                    level,
                    file,
                    with_level(ng_policy(), level),
                    Expect::Fails(Check::Integrity, "not strict base64url"),
                ));
            }
        }
        "ng-ca-expired" | "ng-sa-expired" => {
            let file = if id == "ng-ca-expired" {
                "ca_expired_sig_env.json"
            } else {
                "sa_expired_sig_env.json"
            };
            push(ng(
                "strict",
                file,
                ng_policy(),
                Expect::Fails(
                    Check::Expiry,
                    "digital signature has expired on \"Fri, 29 Jul 2022 23:59:00 +0000\"",
                ),
            ));
            for level in ["permissive", "audit"] {
                push(ng(
                    level,
                    file,
                    with_level(ng_policy(), level),
                    Expect::Logged(Check::Expiry),
                ));
            }
        }
        "ng-ca-untrusted-store" => {
            let store2 = |p: Value| {
                let mut p = p;
                p["trustPolicies"][0]["trustStores"] = serde_json::json!([
                    "ca:valid-trust-store-2",
                    "signingAuthority:valid-trust-store-2"
                ]);
                p
            };
            let msg = "the signature's certificate chain does not contain any trusted certificate";
            for (level, expect) in [
                ("strict", Expect::Fails(Check::Authenticity, msg)),
                ("permissive", Expect::Fails(Check::Authenticity, msg)),
                ("audit", Expect::Logged(Check::Authenticity)),
            ] {
                let mut c = ng(
                    level,
                    "ca_valid_sig_env.json",
                    store2(with_level(ng_policy(), level)),
                    expect,
                );
                c.stores = vec![(
                    "ca:valid-trust-store-2".into(),
                    vec![
                        "notation-go/verifier/testdata/truststore/x509/ca/valid-trust-store-2/"
                            .into(),
                    ],
                )];
                push(c);
            }
        }
        "ng-ca-wrong-identity" => {
            let mut p = ng_policy();
            p["trustPolicies"][0]["trustedIdentities"] =
                serde_json::json!(["x509.subject:CN=LOL,O=DummyOrg,L=Hyderabad,ST=TG,C=IN"]);
            push(ng(
                "strict",
                "ca_valid_sig_env.json",
                p,
                Expect::Fails(
                    Check::Authenticity,
                    "signing certificate from the digital signature does not match the X.509 trusted identities",
                ),
            ));
        }
        "ng-plugin" => {
            for file in ["ca_plugin_sig_env.json", "sa_plugin_sig_env.json"] {
                push(ng(
                    file,
                    file,
                    ng_policy(),
                    Expect::Fails(Check::Integrity, ""),
                ));
            }
        }
        "ng-metadata" => {
            let p = with_level(ng_policy(), "audit");
            for (name, md, expect) in [
                ("{}", vec![], Expect::Logged(Check::Authenticity)),
                (
                    "{buildId:123}",
                    vec![("io.wabbit-networks.buildId", "123")],
                    Expect::Logged(Check::Authenticity),
                ),
                (
                    "{buildId:123,buildTime:1672944615}",
                    vec![
                        ("io.wabbit-networks.buildId", "123"),
                        ("io.wabbit-networks.buildTime", "1672944615"),
                    ],
                    Expect::Logged(Check::Authenticity),
                ),
                (
                    "{buildId:321}",
                    vec![("io.wabbit-networks.buildId", "321")],
                    Expect::Metadata,
                ),
                (
                    "{buildTime:1}",
                    vec![("io.wabbit-networks.buildTime", "1")],
                    Expect::Metadata,
                ),
            ] {
                let mut c = ng(name, "sig_env_with_metadata.json", p.clone(), expect);
                c.user_metadata = md
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                push(c);
            }
        }
        "ng-pluginver-*" => {
            let dir = vdir().join("notation-go/internal/mock/testdata");
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f.contains("compatible_pluginver_sig_env_"))
                .collect();
            files.sort();
            assert_eq!(files.len(), 8, "{files:?}");
            for f in files {
                // imprint runs no plugins: like notation without the plugin, every one fails.
                push(ng(
                    &f,
                    &f,
                    ng_policy(),
                    Expect::Fails(Check::Integrity, "verification plugin"),
                ));
            }
        }
        id if id.starts_with("ng-ts-") => {
            let file = v["envelope"].as_str().unwrap().to_owned();
            let mt = if v["mediaType"] == cose { cose } else { jws };
            // notation-go's TestAuthenticTimestamp runs the authenticTimestamp validation
            // alone; its signing certificates are not in any trust store, so authenticity is
            // logged here and the expectations are about authenticTimestamp.
            let mut ts_policy = policy("policies/notation-go-TestAuthenticTimestamp-policy.json");
            ts_policy["trustPolicies"][0]["signatureVerification"]["override"] =
                serde_json::json!({"authenticity": "log"});
            let ts_stores = vec![
                (
                    "ca:valid-trust-store".to_owned(),
                    vec![NG_CA_STORE.to_owned()],
                ),
                (
                    "tsa:test-timestamp".to_owned(),
                    vec![NG_TSA_STORE.to_owned()],
                ),
            ];
            let mk = |name: &str, p: Value, expect: Expect| {
                let mut c = base_case(name, v);
                env(&mut c, &file, mt);
                c.artifact = ArtifactDescriptor {
                    media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
                    digest:
                        "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda"
                            .into(),
                    size: 528,
                };
                c.policy = p;
                c.stores = ts_stores.clone();
                c.expect = expect;
                c
            };
            let no_tsa = {
                let mut p = ts_policy.clone();
                p["trustPolicies"][0]["trustStores"] = serde_json::json!(["ca:valid-trust-store"]);
                p
            };
            match id {
                "ng-ts-jwsWithTimestamp" | "ng-ts-coseWithTimestamp" => {
                    push(mk(
                        "tsa",
                        ts_policy,
                        Expect::Passes(Check::AuthenticTimestamp),
                    ));
                }
                "ng-ts-jwsExpiredWithTimestamp" | "ng-ts-coseExpiredWithTimestamp" => {
                    push(mk(
                        "tsa",
                        ts_policy,
                        Expect::Passes(Check::AuthenticTimestamp),
                    ));
                    push(mk(
                        "no tsa store",
                        no_tsa,
                        Expect::Fails(
                            Check::AuthenticTimestamp,
                            "verification time is after certificate \"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US\" validity period, it was expired at \"Tue, 18 Jun 2024 07:30:31 +0000\"",
                        ),
                    ));
                }
                "ng-ts-withoutTimestamp" => push(mk(
                    "always",
                    ts_policy,
                    Expect::Fails(
                        Check::AuthenticTimestamp,
                        "no timestamp countersignature was found in the signature envelope",
                    ),
                )),
                "ng-ts-timestampBeforeNotBefore" => push(mk(
                    "always",
                    ts_policy,
                    Expect::Fails(
                        Check::AuthenticTimestamp,
                        "timestamp can be before certificate \"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US\" validity period, it will be valid from \"Fri, 18 Sep 2099 11:54:34 +0000\"",
                    ),
                )),
                "ng-ts-timestampAfterNotAfter" => push(mk(
                    "always",
                    ts_policy,
                    Expect::Fails(
                        Check::AuthenticTimestamp,
                        "timestamp can be after certificate \"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US\" validity period, it was expired at \"Tue, 18 Sep 2001 11:54:34 +0000\"",
                    ),
                )),
                other => panic!("unknown timestamp vector {other}"),
            }
        }
        id if id.starts_with("e2e-") && v.get("policy").is_some() => {
            let layout = v["layout"].as_str().unwrap().to_owned();
            let e2e = |name: &str, pol: &str, store: &str, expect: Expect| {
                let mut c = base_case(name, v);
                c.layout = Some(layout.clone());
                c.policy = policy(&format!("{E2E_POLICIES}/{pol}"));
                c.stores = e2e_store(store);
                c.expect = expect;
                c
            };
            match id {
                "e2e-valid" => {
                    push(e2e(
                        "strict",
                        "trustpolicy.json",
                        "e2e.crt",
                        Expect::Verified,
                    ));
                    push(e2e(
                        "permissive",
                        "permissive_trustpolicy.json",
                        "e2e.crt",
                        Expect::Verified,
                    ));
                    push(e2e(
                        "audit",
                        "audit_trustpolicy.json",
                        "e2e.crt",
                        Expect::Verified,
                    ));
                    push(e2e(
                        "store new_e2e.crt",
                        "trustpolicy.json",
                        "new_e2e.crt",
                        Expect::Fails(
                            Check::Authenticity,
                            "does not contain any trusted certificate",
                        ),
                    ));
                    push(e2e(
                        "invalid identity",
                        "invalid_trusted_identity_trustpolicy.json",
                        "e2e.crt",
                        Expect::Fails(
                            Check::Authenticity,
                            "signing certificate from the digital signature does not match the X.509 trusted identities",
                        ),
                    ));
                }
                "e2e-expired-signature" => {
                    push(e2e(
                        "strict",
                        "trustpolicy.json",
                        "e2e.crt",
                        Expect::Fails(Check::Expiry, "digital signature has expired"),
                    ));
                    for p in [
                        "permissive_trustpolicy.json",
                        "audit_trustpolicy.json",
                        "override_strict_trustpolicy.json",
                    ] {
                        push(e2e(p, p, "e2e.crt", Expect::Logged(Check::Expiry)));
                    }
                }
                "e2e-invalid-signature" => {
                    for p in [
                        "trustpolicy.json",
                        "permissive_trustpolicy.json",
                        "audit_trustpolicy.json",
                    ] {
                        push(e2e(p, p, "e2e.crt", Expect::Fails(Check::Integrity, "")));
                    }
                    let mut c = e2e("skip", "skip_trustpolicy.json", "e2e.crt", Expect::Skipped);
                    c.stores = Vec::new();
                    push(c);
                }
                "e2e-with-expired-cert" => {
                    push(e2e(
                        "strict",
                        "trustpolicy.json",
                        "expired_e2e.crt",
                        Expect::Fails(
                            Check::AuthenticTimestamp,
                            "verification time is after certificate",
                        ),
                    ));
                    for p in ["permissive_trustpolicy.json", "audit_trustpolicy.json"] {
                        push(e2e(
                            p,
                            p,
                            "expired_e2e.crt",
                            Expect::Logged(Check::AuthenticTimestamp),
                        ));
                    }
                }
                "e2e-valid-multiple-signatures" => {
                    push(e2e(
                        "strict",
                        "trustpolicy.json",
                        "e2e.crt",
                        Expect::Verified,
                    ));
                }
                other => panic!("unknown e2e vector {other}"),
            }
        }
        "e2e-with-timestamped-signature" | "e2e-with-invalid-timestamped-signature" => {
            // Inspect-only vectors: handled by `inspect_vectors`, one case each.
        }
        "ng-internal-jws/cose" => {
            for (file, mt) in [("jws_signature.sig", jws), ("cose_signature.sig", cose)] {
                let rel = format!("notation-go/internal/testdata/{file}");
                let mut c = base_case(file, v);
                env(&mut c, &rel, mt);
                c.policy = policy(&format!("{E2E_POLICIES}/trustpolicy.json"));
                // Trust the x5c certificate itself, as the README says.
                let env_parsed = Envelope::parse(&read(&rel), mt).unwrap();
                let dir = tempdir_with_cert(file, &env_parsed.certificate_chain[0]);
                c.stores = vec![("ca:e2e".into(), vec![dir])];
                push(c);
            }
        }
        id if id.starts_with("gen-") && v.get("envelope").is_some() && !id.contains('{') => {
            let file = v["envelope"].as_str().unwrap().to_owned();
            let mt = if file.ends_with(".cose") { cose } else { jws };
            let lab = policy("policies/generated-lab-policy.json");
            let mut c = base_case("strict", v);
            env(&mut c, &file, mt);
            c.policy = lab;
            let kind = if file.contains("/rsa-") {
                "pki-rsa"
            } else {
                "pki-ec"
            };
            c.expect = match () {
                () if file.contains("-valid.") => Expect::Verified,
                () if file.contains("-expired-signature.") => {
                    Expect::Fails(Check::Expiry, "has expired")
                }
                () if file.contains("-expired-cert.") => Expect::Fails(
                    Check::AuthenticTimestamp,
                    "verification time is after certificate",
                ),
                () if file.contains("-serverauth-eku.") => {
                    Expect::Fails(Check::Integrity, "certificate-chain is invalid")
                }
                () if file.contains("-wrong-digest.") => {
                    Expect::Fails(Check::Integrity, "content descriptor mismatch")
                }
                () if file.contains("-unknown-crit.") => {
                    Expect::Fails(Check::Integrity, "io.example.unknown")
                }
                () if file.contains("-selfsigned.") => Expect::Fails(
                    Check::Authenticity,
                    "does not contain any trusted certificate",
                ),
                () => panic!("unknown generated vector {file}"),
            };
            if file.contains("-selfsigned.") {
                let mut ok = c.clone();
                ok.name = "self-signed leaf in ca:lab".into();
                ok.stores = vec![(
                    "ca:lab".into(),
                    vec![format!("generated/{kind}/selfsigned.chain.pem")],
                )];
                // The self-signed leaf is "CN=Lab Self Signed,…": name it as the identity.
                ok.policy["trustPolicies"][0]["trustedIdentities"] = serde_json::json!([
                    "x509.subject: CN=Lab Self Signed,O=Notary,L=Seattle,ST=WA,C=US"
                ]);
                ok.expect = Expect::Verified;
                push(ok);
                c.name = "root.pem in ca:lab".into();
            }
            push(c);
        }
        "gen-e2e-key.{jws,cose}" => {
            for (file, mt) in [
                ("generated/e2e-key.jws", jws),
                ("generated/e2e-key.cose", cose),
                ("generated/e2e-key-openssl.jws", jws),
            ] {
                let mut c = base_case(file, v);
                env(&mut c, file, mt);
                c.policy = policy(&format!("{E2E_POLICIES}/trustpolicy.json"));
                c.stores = e2e_store("e2e.crt");
                push(c);
            }
        }
        "gen-oci-layout" => {
            let lab = policy("policies/generated-lab-policy.json");
            for (name, root, expect) in [
                (
                    "pki-rsa root",
                    "generated/pki-rsa/root.pem",
                    Expect::Verified,
                ),
                ("pki-ec root", "generated/pki-ec/root.pem", Expect::Verified),
                (
                    "other-root only",
                    "generated/pki-rsa/other-root.pem",
                    Expect::Fails(
                        Check::Authenticity,
                        "does not contain any trusted certificate",
                    ),
                ),
            ] {
                let mut c = base_case(name, v);
                c.layout = Some("generated/oci-layout-signed".into());
                c.policy = lab.clone();
                c.stores = vec![("ca:lab".into(), vec![root.into()])];
                c.expect = expect;
                push(c);
            }
        }
        other => panic!("expected.json has vector {other:?}, which this suite does not handle"),
    }
    out
}

/// A directory (under the target dir) holding one DER certificate, for "trust the x5c cert".
fn tempdir_with_cert(tag: &str, der: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("imprint-notation-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("leaf.der"), der).unwrap();
    // vdir().join(absolute) is the absolute path itself.
    dir.display().to_string()
}

/// Verify one case; `Ok(detail)` when it came out as expected.
fn run_case(c: &Case) -> Result<String, String> {
    let doc = TrustPolicyDocument::from_json(&serde_json::to_vec(&c.policy).unwrap())
        .map_err(|e| format!("policy rejected: {e}"))?;
    let statement = doc.select(&c.repository)?;
    let stores = load_stores(&c.stores);
    let opts = VerifyOptions {
        at: AT,
        user_metadata: c.user_metadata.clone(),
    };
    let results: Vec<Result<imprint::notation::VerifiedNotation, NotationError>> =
        if let Some((rel, mt)) = &c.envelope {
            vec![verify_signature(
                &read(rel),
                mt,
                &c.artifact,
                statement,
                &stores,
                &opts,
            )]
        } else {
            let layout = c.layout.as_ref().unwrap();
            let sigs = layout_sigs(&vdir().join(layout), &c.artifact.digest);
            if sigs.is_empty() {
                return Err("no Notation signature found in the layout".into());
            }
            sigs.iter()
                .map(|s| match &s.envelope {
                    Ok(bytes) => verify_signature(
                        bytes,
                        &s.media_type,
                        &c.artifact,
                        statement,
                        &stores,
                        &opts,
                    ),
                    Err(e) => Err(NotationError::Failed {
                        check: Check::Integrity,
                        reason: e.clone(),
                    }),
                })
                .collect()
        };
    // Skip is decided before any signature is looked at.
    let outcome = results
        .iter()
        .find(|r| r.is_ok())
        .cloned()
        .unwrap_or_else(|| results[0].clone());
    let detail = match &outcome {
        Ok(v) => format!(
            "verified (signer {:?}, logged {:?})",
            v.signer(),
            v.logged()
        ),
        Err(e) => format!("rejected: {e}"),
    };
    let ok = match (&c.expect, &outcome) {
        (Expect::Verified, Ok(v)) => v.logged().is_empty(),
        (Expect::Logged(check), Ok(v)) => v.logged().iter().any(|l| l.check == *check),
        (Expect::Passes(check), Ok(v)) => v.logged().iter().all(|l| l.check != *check),
        (Expect::Fails(check, text), Err(e)) => {
            e.check() == Some(*check) && e.to_string().contains(text)
        }
        (Expect::Skipped, Err(NotationError::Skipped(_))) => true,
        (Expect::Metadata, Err(NotationError::UserMetadata(_))) => true,
        _ => false,
    };
    if ok {
        Ok(detail)
    } else {
        Err(format!("expected {:?}, got {detail}", c.expect))
    }
}

fn layout_sigs(path: &Path, subject: &str) -> Vec<discover::AttachedSignature> {
    let repo = LayoutRepository::new(&path.display().to_string(), Limits::DEFAULT);
    let subject = subject.parse().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(discover::layout_signatures(
            &repo,
            &subject,
            &Limits::DEFAULT,
        ))
        .unwrap()
}

/// The two inspect-only vectors: what `notation inspect` reports, reproduced by parsing.
fn inspect_vector(id: &str) -> Result<String, String> {
    let (layout, subject) = match id {
        "e2e-with-timestamped-signature" => (
            "e2e-with-timestamped-signature",
            "sha256:53b0191218aed9a3c1f7c661736ac40cfc8eb928642348fd843ba3f0483c0c20",
        ),
        _ => (
            "e2e-with-invalid-timestamped-signature",
            "sha256:f1da8cd70d6d851fa2313c8d6618f79508cf1e86877edf1c0bfe49a1b0a6467a",
        ),
    };
    let sigs = layout_sigs(&vdir().join(E2E_LAYOUTS).join(layout), subject);
    let [sig] = sigs.as_slice() else {
        return Err(format!("expected one signature, found {}", sigs.len()));
    };
    let env = Envelope::parse(
        sig.envelope.as_ref().map_err(String::clone)?,
        &sig.media_type,
    )
    .map_err(|e| e.to_string())?;
    let token = env
        .timestamp_token
        .as_deref()
        .ok_or("no countersignature")?;
    let ts = imprint::notation::timestamp::inspect(token);
    let leaf = imprint::notation::x509::Cert::from_der(&env.certificate_chain[0])?;
    if id == "e2e-with-timestamped-signature" {
        let annotations: Value = serde_json::from_slice(&env.payload).unwrap();
        let ok = env.algorithm.jose_name() == "PS256"
            && leaf.subject().starts_with("CN=testcert7,")
            && env.expiry == Some(1_737_463_186) // 2025-01-21T12:39:46Z
            && annotations["targetArtifact"]["annotations"]["purpose"] == "e2e"
            && ts.is_ok();
        if ok {
            Ok(format!("inspected: timestamp genTime {ts:?}"))
        } else {
            Err(format!("inspect mismatch: {ts:?}"))
        }
    } else {
        match ts {
            Err(e) if e.contains("failed to parse timestamp countersignature") => {
                Ok(format!("inspect reports: {e}"))
            }
            other => Err(format!("expected a parse failure, got {other:?}")),
        }
    }
}

#[test]
fn notation_vector_suite() {
    let expected: Value = serde_json::from_slice(&read("expected.json")).unwrap();
    let vectors = expected["vectors"].as_array().unwrap();
    let (mut vectors_ok, mut cases_run, mut failed) = (0, 0, Vec::new());
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let mut all_ok = true;
        if id == "e2e-with-timestamped-signature" || id == "e2e-with-invalid-timestamped-signature"
        {
            cases_run += 1;
            let r = inspect_vector(id);
            println!(
                "{} {id}: {}",
                if r.is_ok() { "PASS" } else { "FAIL" },
                r.clone().unwrap_or_else(|e| e)
            );
            if r.is_err() {
                all_ok = false;
                failed.push(id.to_owned());
            }
        }
        for c in cases_for(v) {
            cases_run += 1;
            let r = run_case(&c);
            let ok = r.is_ok();
            println!(
                "{} {id} / {}: {}",
                if ok { "PASS" } else { "FAIL" },
                c.name,
                r.unwrap_or_else(|e| e)
            );
            if !ok {
                all_ok = false;
                failed.push(format!("{id} / {}", c.name));
            }
        }
        if all_ok {
            vectors_ok += 1;
        }
    }
    println!(
        "notation vectors: {vectors_ok} of {} reproduced ({cases_run} cases); {} passed, {} failed",
        vectors.len(),
        cases_run - failed.len(),
        failed.len()
    );
    assert_eq!(vectors.len(), 56, "expected.json has 56 vectors");
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

// ---- tampered variants -------------------------------------------------------------------

/// Tampered copies of an envelope: each must fail integrity.
fn tampered(bytes: &[u8], media_type: &str) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    if media_type == envelope::MEDIA_TYPE_JWS {
        let j: Value = serde_json::from_slice(bytes).unwrap();
        let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
        let enc = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut sig = b64(j["signature"].as_str().unwrap());
        sig[10] ^= 1;
        let mut t = j.clone();
        t["signature"] = Value::from(enc(&sig));
        out.push(("signature bit flipped", serde_json::to_vec(&t).unwrap()));
        // Payload: a different digest.
        let mut other = b64(j["payload"].as_str().unwrap());
        let i = other.windows(7).position(|w| w == b"sha256:").unwrap() + 7;
        other[i] = if other[i] == b'f' { b'e' } else { b'f' };
        let mut t = j.clone();
        t["payload"] = Value::from(enc(&other));
        out.push(("payload changed", serde_json::to_vec(&t).unwrap()));
        // Protected header: add a space to the JSON (same meaning, different bytes).
        let prot = String::from_utf8(b64(j["protected"].as_str().unwrap())).unwrap();
        let mut t = j.clone();
        t["protected"] = Value::from(enc(prot.replacen('{', "{ ", 1).as_bytes()));
        out.push((
            "protected header re-encoded",
            serde_json::to_vec(&t).unwrap(),
        ));
        // Padding on the signature: strict base64url refuses it.
        let mut t = j.clone();
        t["signature"] = Value::from(format!("{}=", j["signature"].as_str().unwrap()));
        out.push(("signature padded", serde_json::to_vec(&t).unwrap()));
        // An extra top-level member.
        let mut t = j.clone();
        t["signatures"] = Value::Array(vec![]);
        out.push(("extra top-level member", serde_json::to_vec(&t).unwrap()));
        // Chain without its leaf.
        let mut t = j;
        if let Some(arr) = t["header"]["x5c"].as_array_mut()
            && arr.len() > 1
        {
            arr.remove(0);
            out.push(("leaf removed from x5c", serde_json::to_vec(&t).unwrap()));
        }
    } else {
        let msg = coset::CoseSign1::from_tagged_slice(bytes).unwrap();
        let mut t = msg.clone();
        t.signature[10] ^= 1;
        out.push(("signature bit flipped", t.to_tagged_vec().unwrap()));
        let mut t = msg.clone();
        let p = t.payload.as_mut().unwrap();
        let i = p.windows(7).position(|w| w == b"sha256:").unwrap() + 7;
        p[i] = if p[i] == b'f' { b'e' } else { b'f' };
        out.push(("payload changed", t.to_tagged_vec().unwrap()));
        let mut t = msg.clone();
        let orig = t.protected.original_data.as_mut().unwrap();
        // Flip a byte inside the signing scheme text value.
        let i = orig.windows(11).position(|w| w == b"notary.x509").unwrap() + 7;
        orig[i] = b'X';
        out.push(("protected header changed", t.to_tagged_vec().unwrap()));
        // Untagged COSE_Sign1.
        use coset::CborSerializable as _;
        out.push(("untagged", msg.to_vec().unwrap()));
    }
    out
}

#[test]
fn notation_tampered_envelopes_are_rejected() {
    let expected: Value = serde_json::from_slice(&read("expected.json")).unwrap();
    let (mut valid, mut rejected, mut failed) = (0, 0, Vec::new());
    for v in expected["vectors"].as_array().unwrap() {
        for c in cases_for(v) {
            if c.expect != Expect::Verified {
                continue;
            }
            let doc =
                TrustPolicyDocument::from_json(&serde_json::to_vec(&c.policy).unwrap()).unwrap();
            let statement = doc.select(&c.repository).unwrap();
            let stores = load_stores(&c.stores);
            let opts = VerifyOptions {
                at: AT,
                user_metadata: BTreeMap::new(),
            };
            // Envelope files, and the envelopes of a layout that verify under this case.
            let envelopes: Vec<(String, &str, Vec<u8>)> = match (&c.envelope, &c.layout) {
                (Some((rel, mt)), _) => vec![(rel.clone(), *mt, read(rel))],
                (None, Some(layout)) => layout_sigs(&vdir().join(layout), &c.artifact.digest)
                    .into_iter()
                    .filter_map(|s| {
                        let bytes = s.envelope.ok()?;
                        let mt = if s.media_type == envelope::MEDIA_TYPE_COSE {
                            envelope::MEDIA_TYPE_COSE
                        } else {
                            envelope::MEDIA_TYPE_JWS
                        };
                        verify_signature(&bytes, mt, &c.artifact, statement, &stores, &opts)
                            .is_ok()
                            .then(|| (format!("{layout} {}", s.manifest), mt, bytes))
                    })
                    .collect(),
                _ => continue,
            };
            for (rel, mt, bytes) in &envelopes {
                let (rel, mt, bytes) = (rel.as_str(), *mt, bytes.clone());
                let mt = &mt;
                valid += 1;
                assert!(
                    verify_signature(&bytes, mt, &c.artifact, statement, &stores, &opts).is_ok(),
                    "{rel}"
                );
                for (what, t) in tampered(&bytes, mt) {
                    match verify_signature(&t, mt, &c.artifact, statement, &stores, &opts) {
                        Err(e) if e.check() == Some(Check::Integrity) => rejected += 1,
                        other => failed.push(format!("{rel} ({what}): {other:?}")),
                    }
                }
                // The envelope read as the other format fails too.
                let other = if *mt == envelope::MEDIA_TYPE_JWS {
                    envelope::MEDIA_TYPE_COSE
                } else {
                    envelope::MEDIA_TYPE_JWS
                };
                match verify_signature(&bytes, other, &c.artifact, statement, &stores, &opts) {
                    Err(e) if e.check() == Some(Check::Integrity) => rejected += 1,
                    o => failed.push(format!("{rel} (as {other}): {o:?}")),
                }
            }
        }
    }
    println!(
        "notation tampered: {valid} valid envelopes, {rejected} tampered variants rejected, {} accepted",
        failed.len()
    );
    assert!(valid >= 22, "{valid}");
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn notation_trust_policies_validate_like_notation() {
    let dir = vdir().join(E2E_POLICIES);
    // Files notation's e2e suite expects `notation verify` to refuse at policy load.
    for bad in [
        "invalid_format_trustpolicy.json",
        "malformed_registry_scope_trustpolicy.json",
        "malformed_trust_store_trustpolicy.json",
        "malformed_trusted_identity_trustpolicy.json",
        "missing_country_trusted_identity_trustpolicy.json",
        "missing_organization_trusted_identity_trustpolicy.json",
        "missing_state_trusted_identity_trustpolicy.json",
        "multi_statements_with_the_same_name_trustpolicy.json",
        "multi_statements_with_the_same_registry_scope_trustpolicy.json",
        "multi_statements_with_multi_wildcard_registry_scope_trustpolicy.json",
        "override_integrity_for_permissive_trustpolicy.json",
        "wildcard_plus_other_registry_scope_trustpolicy.json",
        "wildcard_plus_other_trusted_identity_trustpolicy.json",
        "empty_registry_scope_trustpolicy.json",
        "empty_trusted_identity_trustpolicy.json",
        "unset_trust_store_trustpolicy.json",
        "unset_trusted_identity_trustpolicy.json",
        "overlapped_trusted_identity_trustpolicy.json",
    ] {
        let bytes = std::fs::read(dir.join(bad)).unwrap();
        let r = TrustPolicyDocument::from_json(&bytes);
        assert!(r.is_err(), "{bad} must be refused, loaded as {r:?}");
    }
    for good in [
        "trustpolicy.json",
        "permissive_trustpolicy.json",
        "audit_trustpolicy.json",
        "skip_trustpolicy.json",
        "override_strict_trustpolicy.json",
        "valid_trusted_identity_trustpolicy.json",
        "multiple_trusted_identity_trustpolicy.json",
        "timestamp_trustpolicy.json",
    ] {
        let bytes = std::fs::read(dir.join(good)).unwrap();
        TrustPolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    // A ca store holding a certificate that is neither a CA nor self-signed is refused.
    let mut s = TrustStores::new();
    s.load_paths(
        StoreRef::parse("ca:leafs").unwrap(),
        &[vdir()
            .join("notation-go/verifier/testdata/truststore/x509/ca/trust-store-with-leaf-certs/")],
    );
    let doc = TrustPolicyDocument::from_json(
        br#"{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:leafs"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let st = doc.select("x/y").unwrap();
    let e = verify_signature(
        &read("generated/rsa-valid.jws"),
        envelope::MEDIA_TYPE_JWS,
        &e2e_artifact(),
        st,
        &s,
        &VerifyOptions {
            at: AT,
            user_metadata: BTreeMap::new(),
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("not a CA certificate or self-signed"),
        "{e}"
    );
    let _ = StoreType::Tsa;
}

// ---- images: a Notation-signed OCI layout allowed, then denied when the trust store changes

/// A Notation trust-store directory holding `ca:<name>` = `certs`.
fn store_dir(tag: &str, name: &str, certs: &[&str]) -> PathBuf {
    let root = std::env::temp_dir().join(format!(
        "imprint-notation-store-{}-{tag}",
        std::process::id()
    ));
    let dir = root.join("x509/ca").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for c in certs {
        let src = vdir().join(c);
        std::fs::copy(&src, dir.join(src.file_name().unwrap())).unwrap();
    }
    root
}

#[test]
fn notation_layout_allowed_then_denied_when_the_trust_store_changes() {
    use imprint::format::reference::ImageRef;
    use imprint::notation::{StoreSource, verify_image};
    use imprint::store::{Client, RegistryConfig};
    let layout = vdir()
        .join(E2E_LAYOUTS)
        .join("e2e-valid-multiple-signatures");
    let image = ImageRef::parse(&format!("oci:{}:v1", layout.display())).unwrap();
    let doc =
        TrustPolicyDocument::from_json(&read(&format!("{E2E_POLICIES}/trustpolicy.json"))).unwrap();
    let client = Client::new(RegistryConfig::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = VerifyOptions {
        at: AT,
        user_metadata: BTreeMap::new(),
    };
    let good = store_dir("good", "e2e", &[&format!("{E2E_KEYS}/e2e.crt")]);
    let v = rt.block_on(verify_image(
        &client,
        &image,
        &doc,
        StoreSource::Dir(&good),
        &opts,
    ));
    assert_eq!(v.signatures, 2);
    let ok = v.outcome.unwrap();
    assert_eq!(ok.signer(), "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US");
    assert!(v.reference.contains(E2E_IMAGE), "{}", v.reference);
    // Another certificate in ca:e2e: neither signature is trusted.
    let bad = store_dir("bad", "e2e", &[&format!("{E2E_KEYS}/new_e2e.crt")]);
    let v = rt.block_on(verify_image(
        &client,
        &image,
        &doc,
        StoreSource::Dir(&bad),
        &opts,
    ));
    let e = v.outcome.unwrap_err();
    assert_eq!(e.check(), Some(Check::Authenticity), "{e}");
    // The store named by the policy missing altogether: authenticity fails, naming it.
    let empty = store_dir("empty", "other", &[&format!("{E2E_KEYS}/e2e.crt")]);
    let e = rt
        .block_on(verify_image(
            &client,
            &image,
            &doc,
            StoreSource::Dir(&empty),
            &opts,
        ))
        .outcome
        .unwrap_err();
    assert!(e.to_string().contains("ca:e2e"), "{e}");
    // An unsigned image.
    let unsigned = ImageRef::parse(&format!(
        "oci:{}:v1",
        vdir().join(E2E_LAYOUTS).join("e2e").display()
    ))
    .unwrap();
    let e = rt
        .block_on(verify_image(
            &client,
            &unsigned,
            &doc,
            StoreSource::Dir(&good),
            &opts,
        ))
        .outcome
        .unwrap_err();
    assert_eq!(e, NotationError::NoSignature);
}

#[test]
fn notation_cli_verify_with_notation_trust_policy() {
    let layout = vdir().join(E2E_LAYOUTS).join("e2e-valid-signature");
    let image = format!("oci:{}:v1", layout.display());
    let policy = vdir().join(E2E_POLICIES).join("trustpolicy.json");
    let run = |store: &Path| {
        crate::support::cli::run(
            crate::support::cli::imprint()
                .arg("verify")
                .arg("--notation-trust-policy")
                .arg(&policy)
                .arg("--notation-trust-store")
                .arg(store)
                .arg(&image),
        )
    };
    let good = store_dir("cli-good", "e2e", &[&format!("{E2E_KEYS}/e2e.crt")]);
    let (code, out, err) = run(&good);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("verified a Notation signature by \"CN=e2e,O=Notary,L=Seattle,ST=WA,C=US\""),
        "{out}"
    );
    let bad = store_dir("cli-bad", "e2e", &[&format!("{E2E_KEYS}/new_e2e.crt")]);
    let (code, out, err) = run(&bad);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("authenticity validation failed"), "{err}");
    // The strict policy refuses the expired signature; the permissive one logs it.
    let expired = format!(
        "oci:{}:v1",
        vdir()
            .join(E2E_LAYOUTS)
            .join("e2e-expired-signature")
            .display()
    );
    let (code, _, err) = crate::support::cli::run(
        crate::support::cli::imprint()
            .args(["verify", "--notation-trust-policy"])
            .arg(&policy)
            .arg("--notation-trust-store")
            .arg(&good)
            .arg(&expired),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("expiry validation failed"), "{err}");
    let (code, _, err) = crate::support::cli::run(
        crate::support::cli::imprint()
            .args(["verify", "--notation-trust-policy"])
            .arg(
                vdir()
                    .join(E2E_POLICIES)
                    .join("permissive_trustpolicy.json"),
            )
            .arg("--notation-trust-store")
            .arg(&good)
            .arg(&expired),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("expiry validation failed, logged by policy"),
        "{err}"
    );
}

/// The e2e layout copied into the test registry (image by tag, signature manifest by digest,
/// the `sha256-<hex>` tag-schema index): found as referrers there and verified the same way.
#[tokio::test]
async fn notation_signatures_found_in_a_registry() {
    use imprint::format::reference::ImageRef;
    use imprint::notation::{StoreSource, verify_image};
    use imprint::store::Repository as _;
    let layout = vdir().join(E2E_LAYOUTS).join("e2e-valid-signature");
    let repo_name = crate::support::unique_repo("notation");
    let image = ImageRef::parse(&format!("{}/{repo_name}:v1", crate::support::registry())).unwrap();
    let client = crate::support::test_client();
    let repo = client.repository(&image).unwrap();
    for e in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        repo.put_blob(imprint::store::Blob::copy_from_slice(
            &std::fs::read(e.unwrap().path()).unwrap(),
        ))
        .await
        .unwrap();
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    for m in index["manifests"].as_array().unwrap() {
        let digest = m["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let bytes = std::fs::read(layout.join("blobs/sha256").join(digest)).unwrap();
        let tag = m["annotations"]["org.opencontainers.image.ref.name"].as_str();
        repo.put_manifest(tag, m["mediaType"].as_str().unwrap(), &bytes)
            .await
            .unwrap();
    }
    let doc =
        TrustPolicyDocument::from_json(&read(&format!("{E2E_POLICIES}/trustpolicy.json"))).unwrap();
    let opts = VerifyOptions {
        at: AT,
        user_metadata: BTreeMap::new(),
    };
    let good = store_dir("reg-good", "e2e", &[&format!("{E2E_KEYS}/e2e.crt")]);
    let v = verify_image(&client, &image, &doc, StoreSource::Dir(&good), &opts).await;
    assert_eq!(v.signatures, 1, "{:?}", v.outcome);
    assert!(v.outcome.is_ok(), "{:?}", v.outcome);
    let bad = store_dir("reg-bad", "e2e", &[&format!("{E2E_KEYS}/new_e2e.crt")]);
    let v = verify_image(&client, &image, &doc, StoreSource::Dir(&bad), &opts).await;
    assert_eq!(v.outcome.unwrap_err().check(), Some(Check::Authenticity));
}
