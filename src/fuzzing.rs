//! Entry points for the fuzz targets in `fuzz/` and for the stable-Rust replay in
//! `tests/it/fuzz.rs`. **Not a stable API**: hidden from the docs, and free to change with the
//! parsers it drives.
//!
//! One function per target, each taking arbitrary bytes. It hands them to the real parser(s)
//! of that kind of outside input and, where that is cheap, checks a round trip (parse →
//! serialize → parse gives the same value). None of these may panic on any input, except for a
//! failed round-trip assertion, which is a bug in the parser or its serializer: a panic here is
//! a finding.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::format::digest::Digest;
use crate::format::oci::{ImageIndex, ImageManifest, to_go_json};
use crate::format::reference::ImageRef;
use crate::format::{dsse, simple_signing, statement};
use crate::keys::{PublicKey, SigningKey};
use crate::policy::{
    DeniedPackage, OrSemantics, Policy, SbomCheck, Severity, VersionRange, VulnCheck,
};
use crate::trust::{GithubClaims, IdentityPolicy, Matcher, TrustRoot};
use crate::verify::bundle::{Artifact, VerificationPolicy, VerifyOptions, verify_bundle_with};

/// The password [`cosign_key`] decrypts with (the one of the `sigstore-rs-*` vectors).
pub const COSIGN_KEY_PASSWORD: &[u8] = b"123";

/// Where [`trust_policy`] resolves relative key paths: a directory that does not exist.
const POLICY_BASE: &str = "/nonexistent/imprint-fuzz";

/// Longest input [`sbom`] also reads as a licence expression and a version range.
const MAX_POLICY_STRING: usize = 4096;

/// Cosign encrypted private key PEM (decrypted with [`COSIGN_KEY_PASSWORD`]), and the
/// unencrypted PEM private keys `import-key-pair` reads. Round trip: a decrypted key's PKCS#8
/// re-encoding parses to the same public key.
pub fn cosign_key(data: &[u8]) {
    for key in [
        crate::keys::cosign::decrypt(data, COSIGN_KEY_PASSWORD),
        crate::keys::password::parse_private_key_pem(data),
    ]
    .into_iter()
    .flatten()
    {
        signing_key_round_trip(&key);
    }
}

/// Public keys: PEM (`PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE`), DER SPKI and DER PKCS#1.
/// Round trip: the canonical SPKI, as DER and as PEM, parses to the same key.
pub fn public_key(data: &[u8]) {
    for key in [
        PublicKey::from_pem(data),
        PublicKey::from_spki_der(data),
        PublicKey::from_pkcs1_rsa_der(data),
    ]
    .into_iter()
    .flatten()
    {
        public_key_round_trip(&key);
    }
}

/// Certificates, PEM (one or a chain) or DER: the Fulcio identity reader, the legacy chain
/// annotation reader and the certificate's public key.
pub fn certificate(data: &[u8]) {
    let _ = crate::trust::identity::read_identity(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(ders) = crate::verify::legacy::pem_certs(text, "fuzz input")
    {
        for der in ders {
            let _ = crate::verify::legacy::parse_cert(&der, "fuzz input");
            let _ = crate::trust::identity::read_identity(&der);
        }
    }
    if let Ok(key) = PublicKey::from_pem(data) {
        public_key_round_trip(&key);
    }
}

/// Image references (`registry/repo:tag@sha256:…`, `oci:path`) and digests. Round trip: the
/// canonical form parses to a reference with the same canonical form, repository and digest.
pub fn image_reference(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(digest) = text.parse::<Digest>() {
        let again: Result<Digest, _> = digest.to_string().parse();
        assert_eq!(again.as_ref(), Ok(&digest), "digest round trip");
    }
    let Ok(reference) = ImageRef::parse(text) else {
        return;
    };
    let canonical = reference.to_string();
    let again = match ImageRef::parse(&canonical) {
        Ok(r) => r,
        Err(e) => panic!("canonical form `{canonical}` of `{text}` does not parse: {e}"),
    };
    assert_eq!(
        again.to_string(),
        canonical,
        "reference round trip of `{text}`"
    );
    assert_eq!(again.repository_name(), reference.repository_name());
    assert_eq!(again.digest(), reference.digest());
    if reference.digest().is_none() {
        assert_eq!(again.tag(), reference.tag());
    }
    let pinned = reference.with_digest(Digest::of(data));
    let _ = ImageRef::parse(&pinned.to_string());
}

/// OCI image manifests and indexes, and the manifest media-type sniffing of the stores. Round
/// trip: the Go-compatible serialization parses to an equal value.
pub fn oci_manifest(data: &[u8]) {
    let _ = crate::store::Manifest::checked(Digest::of(data), data.to_vec(), None);
    if let Ok(m) = serde_json::from_slice::<ImageManifest>(data) {
        let again: ImageManifest = match serde_json::from_slice(&to_go_json(&m)) {
            Ok(again) => again,
            Err(e) => panic!("manifest re-serialization does not parse: {e}"),
        };
        assert_eq!(again, m, "manifest round trip");
    }
    if let Ok(i) = serde_json::from_slice::<ImageIndex>(data) {
        let again: ImageIndex = match serde_json::from_slice(&to_go_json(&i)) {
            Ok(again) => again,
            Err(e) => panic!("index re-serialization does not parse: {e}"),
        };
        assert_eq!(again, i, "index round trip");
    }
}

/// Simple-signing payloads (legacy `.sig` layers). Round trip: the payload cosign would write
/// for the parsed reference, digest and string annotations parses back to them.
pub fn simple_signing(data: &[u8]) {
    let Ok(parsed) = simple_signing::parse_simple_signing(data) else {
        return;
    };
    let annotations = parsed.string_annotations();
    let bytes = simple_signing::simple_signing_payload(
        &parsed.docker_reference,
        &parsed.digest,
        &annotations,
    );
    let again = match simple_signing::parse_simple_signing(&bytes) {
        Ok(again) => again,
        Err(e) => panic!("re-serialized simple-signing payload does not parse: {e}"),
    };
    assert_eq!(again.docker_reference, parsed.docker_reference);
    assert_eq!(again.digest, parsed.digest);
    assert_eq!(again.string_annotations(), annotations);
}

/// DSSE envelopes. Round trip (one signature): the envelope cosign would write parses to the
/// same payload type, payload and signature.
pub fn dsse_envelope(data: &[u8]) {
    let Ok(env) = dsse::parse_envelope(data) else {
        return;
    };
    let _ = env.pae();
    if let [sig] = env.signatures.as_slice() {
        let bytes = dsse::envelope_json(&env.payload_type, &env.payload, &sig.sig);
        let again = match dsse::parse_envelope(&bytes) {
            Ok(again) => again,
            Err(e) => panic!("re-serialized envelope does not parse: {e}"),
        };
        assert_eq!(again.payload_type, env.payload_type);
        assert_eq!(again.payload, env.payload);
        assert_eq!(again.signatures.len(), 1);
        assert_eq!(again.signatures[0].sig, sig.sig);
    }
    statement_checks(&env.payload);
}

/// in-toto statements (v0.1 and v1). Round trip: the statement re-serialized parses equal.
pub fn intoto_statement(data: &[u8]) {
    statement_checks(data);
}

/// Sigstore bundles: the key-bundle reader and full verification against the public-good
/// trust root (keyless, any identity), with an empty artifact and with none, with and
/// without the transparency log required.
pub fn sigstore_bundle(data: &[u8]) {
    let _ = crate::format::bundle::parse_key_bundle(data);
    let Some((trust, policy)) = BUNDLE_CONTEXT.as_ref() else {
        return;
    };
    for options in [
        VerifyOptions::new(),
        VerifyOptions::new().insecure_ignore_tlog(true),
    ] {
        let _ = verify_bundle_with(data, Some(Artifact::Bytes(b"")), policy, trust, options);
        let _ = verify_bundle_with(data, None, policy, trust, options);
    }
}

/// Sigstore `trusted_root.json` documents.
pub fn trust_root(data: &[u8]) {
    if let Ok(root) = TrustRoot::from_json(data) {
        let _ = root.summary();
    }
}

/// Trust policies (YAML); relative key paths point into a directory that does not exist. A
/// policy that loads is also linted.
pub fn trust_policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::from_str_with_base(text, Path::new(POLICY_BASE)) {
        let _ = policy.lint();
    }
}

/// SBOM predicates (SPDX 2.x and CycloneDX JSON) through the licence and package check; the
/// input as text also goes through the SPDX licence expression and version range parsers.
pub fn sbom(data: &[u8]) {
    // Licence expressions and version ranges are policy strings (short); a whole SBOM as one is
    // not interesting and slow in debug builds.
    if let Ok(text) = std::str::from_utf8(data)
        && text.len() <= MAX_POLICY_STRING
    {
        let _ = crate::policy::sbom::denied_license_ids(text);
        let _ = VersionRange::parse(text);
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for check in SBOM_CHECKS.iter() {
        let _ = crate::policy::check_sbom(check, &value);
    }
}

/// Vulnerability reports (cosign-vuln, Trivy, Grype, SARIF, …) through the vulnerability check
/// at a fixed time.
pub fn vuln_report(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = crate::policy::parse_vuln_report(&value);
    let check = VulnCheck {
        max_severity: Some(Severity::Medium),
        max_age: Some(Duration::from_secs(7 * 24 * 3600)),
        ignore: BTreeSet::from(["CVE-2021-44228".to_owned()]),
    };
    // 2026-01-01T00:00:00Z.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let _ = crate::policy::check_vulnerabilities(&check, &value, now);
}

/// Registry token endpoint answers, and (the input as text) `WWW-Authenticate` challenges.
pub fn token_response(data: &[u8]) {
    if let Ok(token) = crate::store::auth::parse_token_response(data) {
        let _ = token.fresh();
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(challenge) = crate::store::auth::parse_challenge(text)
    {
        let _ = format!("{challenge:?}");
    }
}

fn signing_key_round_trip(key: &SigningKey) {
    let public = key.public_key();
    public_key_round_trip(&public);
    if let Ok(der) = key.to_pkcs8_der() {
        match SigningKey::from_pkcs8_der(&der) {
            Ok(again) => assert_eq!(
                again.public_key().spki_der(),
                public.spki_der(),
                "PKCS#8 round trip"
            ),
            Err(e) => panic!("PKCS#8 re-encoding of a parsed key does not parse: {e}"),
        }
    }
}

fn public_key_round_trip(key: &PublicKey) {
    for again in [
        PublicKey::from_spki_der(key.spki_der()),
        PublicKey::from_pem(key.to_pem().as_bytes()),
    ] {
        match again {
            Ok(again) => {
                assert_eq!(again.spki_der(), key.spki_der(), "public key round trip");
                assert_eq!(again.algorithm(), key.algorithm());
            }
            Err(e) => panic!("canonical SPKI of a parsed key does not parse: {e}"),
        }
    }
}

fn statement_checks(data: &[u8]) {
    let Ok(st) = statement::parse_statement(data) else {
        return;
    };
    let _ =
        statement::predicate_value(data, crate::limits::Limits::DEFAULT.max_predicate_dom_bytes);
    // Whatever parse_statement accepts is a JSON object; its re-serialization reads the same.
    let raw: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => panic!("a parsed statement is not JSON: {e}"),
    };
    let bytes = match serde_json::to_vec(&raw) {
        Ok(b) => b,
        Err(e) => panic!("a parsed statement does not serialize: {e}"),
    };
    match statement::parse_statement(&bytes) {
        Ok(again) => assert_eq!(again, st, "statement round trip"),
        Err(e) => panic!("re-serialized statement does not parse: {e}"),
    }
    for subject in &st.subjects {
        if let Some(hex) = subject.digests.get("sha256")
            && let Ok(d) = Digest::from_hex(hex)
        {
            assert!(st.has_subject_digest(&d));
        }
    }
}

static BUNDLE_CONTEXT: LazyLock<Option<(TrustRoot, VerificationPolicy)>> = LazyLock::new(|| {
    let trust = TrustRoot::public_good().ok()?;
    let identity = IdentityPolicy::new(
        Matcher::regex(".*").ok()?,
        Matcher::regex(".*").ok()?,
        GithubClaims::default(),
    )
    .ok()?;
    Some((trust, VerificationPolicy::Keyless(identity)))
});

static SBOM_CHECKS: LazyLock<Vec<SbomCheck>> = LazyLock::new(|| {
    let denied = "GPL-3.0-or-later OR AGPL-3.0 AND LicenseRef-proprietary".to_owned();
    let ids = crate::policy::sbom::denied_license_ids(&denied).unwrap_or_default();
    let packages = vec![
        DeniedPackage {
            name: "log4j-core".to_owned(),
            versions: VersionRange::parse(">=2.0, <2.17.1 || =1.2.3").ok(),
        },
        DeniedPackage {
            name: "openssl".to_owned(),
            versions: None,
        },
    ];
    [OrSemantics::Choice, OrSemantics::AnyMention]
        .into_iter()
        .map(|license_or| SbomCheck {
            denied_licenses: vec![denied.clone()],
            denied_license_ids: ids.clone(),
            denied_packages: packages.clone(),
            license_or,
        })
        .collect()
});
