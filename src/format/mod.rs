//! The signed payload formats cosign uses, byte-compatible with what cosign writes:
//!
//! - [`simple_signing`]: the "simple signing" JSON that legacy `.sig` image signatures cover
//!   (cosign-formats §1.4);
//! - [`dsse`]: DSSE envelopes and the PAE bytes their signatures cover (§2.2, §2.3);
//! - [`statement`](mod@statement): in-toto Statements v0.1 and v1 (§2.4);
//! - [`predicate`]: `--type` shortcuts and predicate loading with SBOM validation (§2.5).
//!
//! Nothing here does cryptography: callers sign or verify the exact bytes these functions
//! return or receive.

pub mod bundle;
pub mod digest;
pub mod dsse;
pub(crate) mod gojson;
pub mod oci;
pub(crate) mod pick;
pub mod predicate;
pub mod reference;
pub mod simple_signing;
pub mod statement;
pub mod text;
pub(crate) mod yaml;

pub use dsse::{
    DsseFrame, Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE, envelope_frame, envelope_json,
    envelope_json_parts, pae, pae_header, parse_envelope,
};
pub use predicate::{
    DEFAULT_MAX_PREDICATE_BYTES, PredicateJson, load_predicate, load_predicate_at,
    load_predicate_json, predicate_type_uri,
};
pub use simple_signing::{
    SIMPLE_SIGNING_TYPE, SimpleSigning, parse_simple_signing, simple_signing_payload,
};
pub use statement::{
    Statement, Subject, parse_statement, predicate_value, statement, statement_parts, statement_ref,
};

/// Media types used across the crate.
pub mod media_types {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// OCI empty descriptor (`{}`).
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// cosign simple-signing payload layer.
    pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
    /// DSSE envelope layer (legacy `.att`).
    pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
    /// Sigstore bundle v0.3 (layer media type and referrer artifactType).
    pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

    /// Every manifest media type we ask a registry for.
    pub const ACCEPTED_MANIFESTS: &[&str] = &[
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST,
        DOCKER_MANIFEST_LIST,
    ];
}

/// Why a payload, envelope, statement or predicate was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// A Sigstore bundle is malformed or not a key-based bundle this reader handles.
    #[error("invalid Sigstore bundle: {0}")]
    Bundle(String),
    /// The bundle was made with a certificate (keyless), not a key.
    #[error(
        "the bundle carries a certificate (keyless signing); this command verifies key-based bundles only (keyless bundles: use verify-bundle)"
    )]
    KeylessBundle,
    /// The bytes are not JSON, or not the JSON shape expected.
    #[error("{what} is not valid JSON")]
    Json {
        /// What was being parsed (e.g. "simple-signing payload").
        what: &'static str,
        /// The parser's message.
        #[source]
        source: serde_json::Error,
    },
    /// A required field is missing or has the wrong JSON type.
    #[error("{what}: field `{field}` is missing or not a {expected}")]
    Field {
        /// What was being parsed.
        what: &'static str,
        /// The JSON path of the field.
        field: String,
        /// The JSON type that was expected.
        expected: &'static str,
    },
    /// A field has a value we do not accept.
    #[error("{what}: field `{field}` has unexpected value `{found}` (expected {expected})")]
    Value {
        /// What was being parsed.
        what: &'static str,
        /// The JSON path of the field.
        field: String,
        /// The value found (truncated when long).
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A base64 field does not decode.
    #[error("{what}: field `{field}` is not valid base64")]
    Base64 {
        /// What was being parsed.
        what: &'static str,
        /// The JSON path of the field.
        field: String,
    },
    /// The statement has no subjects at all.
    #[error("in-toto statement has an empty subject list, so it is not about {expected}")]
    EmptySubject {
        /// The digest the statement was expected to be about.
        expected: digest::Digest,
    },
    /// No subject carries a sha256 digest.
    #[error(
        "no subject of the in-toto statement has a sha256 digest (subjects: {names}), so it is not about {expected}"
    )]
    NoSha256Subject {
        /// The digest the statement was expected to be about.
        expected: digest::Digest,
        /// The subject names, comma separated.
        names: String,
    },
    /// Subjects have sha256 digests, but none equals the expected one.
    #[error("no subject of the in-toto statement matches {expected} (found sha256 {found})")]
    SubjectMismatch {
        /// The digest the statement was expected to be about.
        expected: digest::Digest,
        /// The sha256 values found, comma separated.
        found: String,
    },
    /// An unknown `--type` value that is not an absolute URI either.
    #[error(
        "invalid predicate type `{0}`: not one of custom, slsaprovenance, slsaprovenance02, slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex, and not an absolute URI"
    )]
    UnknownPredicateType(String),
    /// The predicate is larger than the limit; it was not parsed.
    #[error("predicate is {size} bytes, over the limit of {limit} bytes")]
    PredicateTooLarge {
        /// Its size.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A statement is too large to be read as a DOM (`serde_json::Value`) of its predicate,
    /// which a CEL condition needs; the condition fails closed.
    #[error(
        "the statement is {size} bytes, over the limit of {limit} bytes for reading its whole predicate (max_predicate_dom_bytes)"
    )]
    PredicateDomTooLarge {
        /// The statement's size.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The predicate is not the kind of document its declared type says.
    #[error("predicate declared as {declared} is not one: {reason}{}", suggestion.as_ref().map(|s| format!("; it looks like {s}")).unwrap_or_default())]
    PredicateMismatch {
        /// The declared type, e.g. "SPDX JSON (`https://spdx.dev/Document`)".
        declared: String,
        /// What is wrong with it.
        reason: String,
        /// The detected kind and the `--type` to use instead, if recognised.
        suggestion: Option<String>,
    },
}

/// An error and its sources as one line (`outer: inner: innermost`), each cause once, for
/// places that must carry an error as text (a candidate that could not be fetched).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Truncates a found value for an error message.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        s.to_owned()
    } else {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// The shared test vectors: `$IMPRINT_VECTORS`, else `../shared/vectors` beside the crate (the
/// layout of a checkout and of CI).
#[cfg(test)]
pub(crate) fn vectors_dir() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("IMPRINT_VECTORS") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors")
}
