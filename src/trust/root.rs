//! Trust material: a parsed `trusted_root.json` (Sigstore protobuf-specs `TrustedRoot`).
//!
//! The embedded roots are named in one place, [`EmbeddedRoot`] (`public-good`, `staging`), and
//! each is parsed once per process; a root can also be read from a file (`--trusted-root`). TUF refresh can plug in later by producing the same
//! JSON bytes and calling [`TrustRoot::from_json`].

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use sigstore_trust_root::TrustedRoot;
use sigstore_verify::Verifier;

/// The embedded copy of the Sigstore public-good `trusted_root.json`.
const PUBLIC_GOOD_JSON: &[u8] = include_bytes!("public-good-trusted_root.json");

/// Where and when the embedded public-good root was taken from.
pub const PUBLIC_GOOD_ORIGIN: &str =
    "sigstore/root-signing targets/trusted_root.json, last changed 2025-09-22 (commit c9bda74a)";

/// A trust root that cannot be used (unreadable, malformed, unsupported, or a log key without a
/// validity start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trusted root {source_name}: {detail}")]
#[non_exhaustive]
pub struct TrustRootError {
    /// Which root (path, or the embedded copy).
    pub source_name: String,
    /// What is wrong.
    pub detail: String,
}

/// A trust root compiled into imprint: the one place that names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EmbeddedRoot {
    /// The Sigstore public-good production instance (`public-good`).
    PublicGood,
    /// The Sigstore public-good staging instance (`staging`).
    Staging,
}

impl EmbeddedRoot {
    /// Every embedded root.
    pub const ALL: [Self; 2] = [Self::PublicGood, Self::Staging];

    /// Its name in policies and messages: `public-good`, `staging`.
    pub fn name(self) -> &'static str {
        match self {
            Self::PublicGood => "public-good",
            Self::Staging => "staging",
        }
    }

    /// The root called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The names of all embedded roots, comma-separated (for messages).
    pub fn known_names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The parsed root, parsed once per process and shared.
    pub fn load(self) -> Result<Arc<TrustRoot>, TrustRootError> {
        static PUBLIC_GOOD: OnceLock<Result<Arc<TrustRoot>, TrustRootError>> = OnceLock::new();
        static STAGING: OnceLock<Result<Arc<TrustRoot>, TrustRootError>> = OnceLock::new();
        let (cell, json, origin): (_, &[u8], String) = match self {
            Self::PublicGood => (
                &PUBLIC_GOOD,
                PUBLIC_GOOD_JSON,
                format!("embedded public-good root ({PUBLIC_GOOD_ORIGIN})"),
            ),
            Self::Staging => (
                &STAGING,
                sigstore_trust_root::SigstoreInstance::Staging
                    .embedded_trusted_root_json()
                    .as_bytes(),
                "embedded staging root (from sigstore-trust-root 0.15)".into(),
            ),
        };
        cell.get_or_init(|| TrustRoot::parse(json, origin).map(Arc::new))
            .clone()
    }
}

impl std::fmt::Display for EmbeddedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Serialised as its name.
impl serde::Serialize for EmbeddedRoot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Media types of `trusted_root.json` we accept.
const MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

/// A parsed and validated `trusted_root.json`: Rekor logs, CT logs, Fulcio CAs and TSAs, each
/// with its validity window. Keys and CAs outside their windows are not used for verification.
#[derive(Clone)]
pub struct TrustRoot {
    root: TrustedRoot,
    verifier: Arc<Verifier>,
    origin: String,
    hash: crate::format::digest::Digest,
}

impl std::fmt::Debug for TrustRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustRoot")
            .field("origin", &self.origin)
            .field("tlogs", &self.root.tlogs.len())
            .field("ctlogs", &self.root.ctlogs.len())
            .field(
                "certificate_authorities",
                &self.root.certificate_authorities.len(),
            )
            .field(
                "timestamp_authorities",
                &self.root.timestamp_authorities.len(),
            )
            .finish()
    }
}

impl TrustRoot {
    /// The Sigstore public-good production root compiled into this binary
    /// ([`EmbeddedRoot::PublicGood`]).
    pub fn public_good() -> Result<Self, TrustRootError> {
        EmbeddedRoot::PublicGood.load().map(|r| (*r).clone())
    }

    /// The Sigstore public-good staging root (as shipped by `sigstore-trust-root`), for
    /// `--staging` ([`EmbeddedRoot::Staging`]).
    pub fn staging() -> Result<Self, TrustRootError> {
        EmbeddedRoot::Staging.load().map(|r| (*r).clone())
    }

    /// Parse a `trusted_root.json` document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustRootError> {
        Self::parse(bytes, "trusted root given as JSON".into())
    }

    /// Read and parse a `trusted_root.json` file.
    pub fn from_file(path: &Path) -> Result<Self, TrustRootError> {
        let limit = crate::limits::Limits::DEFAULT.max_trust_root_bytes;
        let bytes = crate::fs::read_limited(path, limit).map_err(|e| TrustRootError {
            source_name: path.display().to_string(),
            detail: crate::format::error_chain(&e),
        })?;
        Self::parse(&bytes, path.display().to_string())
    }

    /// Parse `bytes`, recording `origin` as where they came from (the TUF cache).
    pub(crate) fn parse_with_origin(bytes: &[u8], origin: String) -> Result<Self, TrustRootError> {
        Self::parse(bytes, origin)
    }

    fn parse(bytes: &[u8], origin: String) -> Result<Self, TrustRootError> {
        let err = |detail: String| TrustRootError {
            source_name: origin.clone(),
            detail,
        };
        let text = std::str::from_utf8(bytes).map_err(|_| err("not UTF-8".into()))?;
        let root = TrustedRoot::from_json(text).map_err(|e| err(e.to_string()))?;
        if !MEDIA_TYPES.contains(&root.media_type.as_str()) {
            return Err(err(format!("unsupported mediaType `{}`", root.media_type)));
        }
        // Our own check (sigstore-trust-root accepts it): every log key must say since when it
        // is valid; a key without `validFor.start` would be usable at any time.
        for (kind, log) in root
            .tlogs
            .iter()
            .map(|l| ("tlog", &l.public_key))
            .chain(root.ctlogs.iter().map(|l| ("ctlog", &l.public_key)))
        {
            if log.valid_for.is_none() {
                return Err(err(format!("a {kind} key has no validFor.start")));
            }
        }
        let verifier = Verifier::new(&root).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            root,
            verifier: Arc::new(verifier),
            origin,
            hash: crate::format::digest::Digest::of(bytes),
        })
    }

    /// When each Fulcio CA and each transparency-log key stops being valid, as Unix seconds
    /// (`None`: no end). Empty when the root has neither.
    pub fn ca_and_tlog_validity_ends(&self) -> Vec<Option<i64>> {
        let end =
            |v: Option<sigstore_types::TimeRange>| v.and_then(|r| r.end.map(|e| e.as_second()));
        self.root
            .certificate_authorities
            .iter()
            .map(|ca| end(ca.valid_for))
            .chain(self.root.tlogs.iter().map(|l| end(l.public_key.valid_for)))
            .collect()
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    pub(crate) fn root(&self) -> &TrustedRoot {
        &self.root
    }

    /// sha256 of the exact `trusted_root.json` bytes this root was parsed from (the file, or
    /// the embedded copy): names the root in reports (`imprint audit`'s header), so two runs
    /// can be seen to have trusted the same keys.
    pub fn hash(&self) -> crate::format::digest::Digest {
        self.hash.clone()
    }

    /// Where this root came from (file path, or the embedded copy and its date).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A human-readable summary for `imprint trust-root show`: media type, logs, CAs and TSAs
    /// with their validity windows, and where the root came from.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let window = |v: Option<sigstore_types::TimeRange>| match v {
            Some(r) => format!(
                "{} .. {}",
                r.start,
                r.end
                    .map_or_else(|| "(open)".to_string(), |e| e.to_string())
            ),
            None => "(no validity window)".to_string(),
        };
        let _ = writeln!(s, "source:     {}", self.origin);
        let _ = writeln!(s, "mediaType:  {}", self.root.media_type);
        let _ = writeln!(s, "tlogs ({}):", self.root.tlogs.len());
        for l in &self.root.tlogs {
            let _ = writeln!(
                s,
                "  {}  logId {}  {}  valid {}",
                l.base_url,
                hex::encode(l.log_id.key_id.as_bytes()),
                l.public_key.key_details.as_str(),
                window(l.public_key.valid_for)
            );
        }
        let _ = writeln!(s, "ctlogs ({}):", self.root.ctlogs.len());
        for l in &self.root.ctlogs {
            let _ = writeln!(
                s,
                "  {}  logId {}  valid {}",
                l.base_url,
                hex::encode(l.log_id.key_id.as_bytes()),
                window(l.public_key.valid_for)
            );
        }
        let _ = writeln!(
            s,
            "certificateAuthorities ({}):",
            self.root.certificate_authorities.len()
        );
        for ca in &self.root.certificate_authorities {
            let _ = writeln!(
                s,
                "  {} ({} / {})  {} certs  valid {}",
                ca.uri,
                ca.subject.organization.as_deref().unwrap_or("-"),
                ca.subject.common_name.as_deref().unwrap_or("-"),
                ca.cert_chain.certificates.len(),
                window(ca.valid_for)
            );
        }
        let _ = writeln!(
            s,
            "timestampAuthorities ({}):",
            self.root.timestamp_authorities.len()
        );
        for ta in &self.root.timestamp_authorities {
            let _ = writeln!(
                s,
                "  {} ({} / {})  {} certs  valid {}",
                ta.uri.as_deref().unwrap_or("-"),
                ta.subject.organization.as_deref().unwrap_or("-"),
                ta.subject.common_name.as_deref().unwrap_or("-"),
                ta.cert_chain.certificates.len(),
                window(ta.valid_for)
            );
        }
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn public_good_parses_and_summarizes() {
        let root = TrustRoot::public_good().unwrap();
        let s = root.summary();
        assert!(s.contains("https://rekor.sigstore.dev"), "{s}");
        assert!(s.contains("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"));
        assert!(s.contains("2025-09-22"));
        assert!(s.contains("application/vnd.dev.sigstore.trustedroot+json;version=0.1"));
        assert_eq!(root.root().tlogs.len(), 2);
    }

    #[test]
    fn rejects_garbage_and_wrong_media_type() {
        let e = TrustRoot::from_json(b"{").unwrap_err();
        assert_eq!(e.source_name, "trusted root given as JSON");
        let mut v: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD_JSON).unwrap();
        v["mediaType"] = "application/json".into();
        let e = TrustRoot::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(e.detail, "unsupported mediaType `application/json`");
    }

    #[test]
    fn rejects_log_key_without_validity_start() {
        let mut v: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD_JSON).unwrap();
        v["tlogs"][0]["publicKey"]
            .as_object_mut()
            .unwrap()
            .remove("validFor");
        let e = TrustRoot::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(e.detail, "a tlog key has no validFor.start");
    }

    #[test]
    fn embedded_roots_are_named_once_and_cached() {
        for root in EmbeddedRoot::ALL {
            assert_eq!(EmbeddedRoot::from_name(root.name()), Some(root));
            let a = root.load().unwrap();
            let b = root.load().unwrap();
            assert!(Arc::ptr_eq(&a, &b), "{root} parsed twice");
        }
        assert_eq!(EmbeddedRoot::from_name("corp"), None);
        assert_eq!(EmbeddedRoot::known_names(), "public-good, staging");
        assert!(
            EmbeddedRoot::PublicGood
                .load()
                .unwrap()
                .origin()
                .contains("2025-09-22")
        );
    }
}
