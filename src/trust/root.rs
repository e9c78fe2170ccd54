//! Trust material: a parsed `trusted_root.json` (Sigstore protobuf-specs `TrustedRoot`).
//!
//! The public-good production root is compiled in ([`TrustRoot::public_good`]); a root can also
//! be read from a file (`--trusted-root`). TUF refresh can plug in later by producing the same
//! JSON bytes and calling [`TrustRoot::from_json`].

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use sigstore_trust_root::TrustedRoot;
use sigstore_verify::Verifier;

use crate::verify::bundle::BundleError;

/// The embedded copy of the Sigstore public-good `trusted_root.json`.
const PUBLIC_GOOD_JSON: &[u8] = include_bytes!("public-good-trusted_root.json");

/// Where and when the embedded public-good root was taken from.
pub const PUBLIC_GOOD_ORIGIN: &str =
    "sigstore/root-signing targets/trusted_root.json, last changed 2025-09-22 (commit c9bda74a)";

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
    /// The Sigstore public-good production root compiled into this binary.
    pub fn public_good() -> Result<Self, BundleError> {
        Self::parse(
            PUBLIC_GOOD_JSON,
            format!("embedded public-good root ({PUBLIC_GOOD_ORIGIN})"),
        )
    }

    /// The Sigstore public-good staging root (as shipped by `sigstore-trust-root`), for
    /// `--staging`.
    pub fn staging() -> Result<Self, BundleError> {
        let json = sigstore_trust_root::SigstoreInstance::Staging.embedded_trusted_root_json();
        Self::parse(
            json.as_bytes(),
            "embedded staging root (from sigstore-trust-root 0.15)".into(),
        )
    }

    /// Parse a `trusted_root.json` document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BundleError> {
        Self::parse(bytes, "trusted root given as JSON".into())
    }

    /// Read and parse a `trusted_root.json` file.
    pub fn from_file(path: &Path) -> Result<Self, BundleError> {
        let limit = crate::limits::Limits::DEFAULT.max_trust_root_bytes;
        let bytes = crate::fs::read_limited(path, limit).map_err(|e| BundleError::TrustRoot {
            source_name: path.display().to_string(),
            detail: crate::format::error_chain(&e),
        })?;
        Self::parse(&bytes, path.display().to_string())
    }

    fn parse(bytes: &[u8], origin: String) -> Result<Self, BundleError> {
        let err = |detail: String| BundleError::TrustRoot {
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
        })
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    pub(crate) fn root(&self) -> &TrustedRoot {
        &self.root
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
        assert!(TrustRoot::from_json(b"{").is_err());
        let mut v: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD_JSON).unwrap();
        v["mediaType"] = "application/json".into();
        let e = TrustRoot::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("mediaType"), "{e}");
    }

    #[test]
    fn rejects_log_key_without_validity_start() {
        let mut v: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD_JSON).unwrap();
        v["tlogs"][0]["publicKey"]
            .as_object_mut()
            .unwrap()
            .remove("validFor");
        assert!(TrustRoot::from_json(&serde_json::to_vec(&v).unwrap()).is_err());
    }
}
