//! Notation signature envelopes: JWS (flattened JSON serialization) and COSE_Sign1_Tagged,
//! parsed into one [`Envelope`] whose signature is then checked with the leaf key.
//!
//! The JWS side is written here over `serde_json` and a strict base64url decoder: no
//! well-kept JWS crate does the flattened JSON serialization with Notation's rules (exactly
//! four top-level members, required `crit` entries, no `b64`/`jku`/`jwk`/`kid`, the alg tied
//! to the leaf key, RFC 3339 times) without pulling in OpenSSL (`josekit`) or being a JWT
//! library (`jsonwebtoken`, compact serialization only). COSE parsing and the
//! `Sig_structure` come from `coset`; the checks on its headers are Notation's and are here.
//! The signature algorithms are aws-lc-rs: RSASSA-PSS with salt length = hash length, and
//! ECDSA with the raw `r || s` signature form.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use coset::TaggedCborSerializable as _;
use serde_json::{Map, Value};

/// `application/jose+json`: a JWS envelope.
pub const MEDIA_TYPE_JWS: &str = "application/jose+json";
/// `application/cose`: a COSE_Sign1 envelope.
pub const MEDIA_TYPE_COSE: &str = "application/cose";
/// The only payload content type Notation defines.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

const H_SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
const H_SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const H_AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
const H_EXPIRY: &str = "io.cncf.notary.expiry";
const H_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
const H_PLUGIN_MIN_VERSION: &str = "io.cncf.notary.verificationPluginMinVersion";
const H_SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
const H_TIMESTAMP: &str = "io.cncf.notary.timestampSignature";
/// COSE header label of `x5chain` (RFC 9360).
const COSE_X5CHAIN: i64 = 33;

/// Which envelope format a signature came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// COSE_Sign1_Tagged (`application/cose`).
    Cose,
    /// JWS flattened JSON (`application/jose+json`).
    Jws,
}

impl Format {
    /// The envelope media type (the signature layer's `mediaType`).
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            MEDIA_TYPE_JWS => Some(Self::Jws),
            MEDIA_TYPE_COSE => Some(Self::Cose),
            _ => None,
        }
    }

    /// The media type of this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jws => MEDIA_TYPE_JWS,
            Self::Cose => MEDIA_TYPE_COSE,
        }
    }
}

/// The signing schemes of the Notary Project signature specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningScheme {
    /// `notary.x509`: signing time is self-asserted; trust stores of type `ca`.
    X509,
    /// `notary.x509.signingAuthority`: an authentic signing time; stores `signingAuthority`.
    X509SigningAuthority,
}

impl SigningScheme {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X509 => "notary.x509",
            Self::X509SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// The signature algorithms Notation allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA P-256 SHA-256.
    Es256,
    /// ECDSA P-384 SHA-384.
    Es384,
    /// ECDSA P-521 SHA-512.
    Es512,
    /// RSASSA-PSS SHA-256, salt 32.
    Ps256,
    /// RSASSA-PSS SHA-384, salt 48.
    Ps384,
    /// RSASSA-PSS SHA-512, salt 64.
    Ps512,
}

impl Algorithm {
    /// The JOSE name.
    pub fn jose_name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
        }
    }

    fn from_jose(name: &str) -> Option<Self> {
        Some(match name {
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            _ => return None,
        })
    }

    fn from_cose(alg: i64) -> Option<Self> {
        Some(match alg {
            -7 => Self::Es256,
            -35 => Self::Es384,
            -36 => Self::Es512,
            -37 => Self::Ps256,
            -38 => Self::Ps384,
            -39 => Self::Ps512,
            _ => return None,
        })
    }

    pub(crate) fn verification(self) -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
        use aws_lc_rs::signature as s;
        match self {
            Self::Es256 => &s::ECDSA_P256_SHA256_FIXED,
            Self::Es384 => &s::ECDSA_P384_SHA384_FIXED,
            Self::Es512 => &s::ECDSA_P521_SHA512_FIXED,
            Self::Ps256 => &s::RSA_PSS_2048_8192_SHA256,
            Self::Ps384 => &s::RSA_PSS_2048_8192_SHA384,
            Self::Ps512 => &s::RSA_PSS_2048_8192_SHA512,
        }
    }
}

/// A parsed envelope: the signed attributes, the payload, and what the signature covers. Its
/// signature is **not** checked yet (see [`Envelope::verify_signature`]).
#[derive(Debug, Clone)]
pub struct Envelope {
    /// JWS or COSE.
    pub format: Format,
    /// The protected `alg`.
    pub algorithm: Algorithm,
    /// The protected signing scheme.
    pub signing_scheme: SigningScheme,
    /// `io.cncf.notary.signingTime` (unix seconds), `notary.x509` only.
    pub signing_time: Option<i64>,
    /// `io.cncf.notary.authenticSigningTime` (unix seconds), signingAuthority only.
    pub authentic_signing_time: Option<i64>,
    /// `io.cncf.notary.expiry` (unix seconds).
    pub expiry: Option<i64>,
    /// `io.cncf.notary.verificationPlugin`, if the signature requires a plugin.
    pub verification_plugin: Option<String>,
    /// Protected headers that are neither standard nor Notation's (extended attributes).
    pub extended_attributes: Vec<String>,
    /// The payload bytes (`{"targetArtifact": …}`).
    pub payload: Vec<u8>,
    /// The certificate chain, leaf first, DER.
    pub certificate_chain: Vec<Vec<u8>>,
    /// The RFC 3161 countersignature token (CMS), if any.
    pub timestamp_token: Option<Vec<u8>>,
    /// `io.cncf.notary.signingAgent` (informational).
    pub signing_agent: Option<String>,
    /// The signature value.
    pub signature: Vec<u8>,
    signing_input: Vec<u8>,
}

/// Why an envelope is malformed or its signature does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct EnvelopeError(pub String);

fn bad(msg: impl Into<String>) -> EnvelopeError {
    EnvelopeError(msg.into())
}

impl Envelope {
    /// Parse `bytes` as an envelope of `media_type` (`application/jose+json` or
    /// `application/cose`).
    pub fn parse(bytes: &[u8], media_type: &str) -> Result<Self, EnvelopeError> {
        match Format::from_media_type(media_type) {
            Some(Format::Jws) => parse_jws(bytes),
            Some(Format::Cose) => parse_cose(bytes),
            None => Err(bad(format!(
                "unsupported signature envelope media type `{media_type}` (expected {MEDIA_TYPE_JWS} or {MEDIA_TYPE_COSE})"
            ))),
        }
    }

    /// The bytes the signature covers (JWS signing input or COSE `Sig_structure`).
    pub fn signing_input(&self) -> &[u8] {
        &self.signing_input
    }

    /// Check the signature with the public key of the leaf certificate, given as the SPKI's
    /// `subjectPublicKey` bits (PKCS#1 for RSA, an uncompressed point for ECDSA).
    pub fn verify_signature(&self, leaf_public_key: &[u8]) -> Result<(), EnvelopeError> {
        aws_lc_rs::signature::UnparsedPublicKey::new(self.algorithm.verification(), leaf_public_key)
            .verify(&self.signing_input, &self.signature)
            .map_err(|_| {
                bad(format!(
                    "the {} signature ({}) does not verify with the signing certificate's key",
                    match self.format {
                        Format::Jws => "JWS",
                        Format::Cose => "COSE",
                    },
                    self.algorithm.jose_name()
                ))
            })
    }
}

/// The required `crit` entries and the known protected headers, shared by both formats.
fn check_signed_attributes(
    scheme: SigningScheme,
    crit: &[String],
    has_expiry: bool,
    has_plugin: bool,
    has_plugin_min_version: bool,
    extended: &[String],
) -> Result<(), EnvelopeError> {
    let mut required = vec![H_SIGNING_SCHEME];
    if has_expiry {
        required.push(H_EXPIRY);
    }
    if scheme == SigningScheme::X509SigningAuthority {
        required.push(H_AUTHENTIC_SIGNING_TIME);
    }
    if has_plugin {
        required.push(H_PLUGIN);
    }
    if has_plugin_min_version {
        required.push(H_PLUGIN_MIN_VERSION);
    }
    for r in &required {
        if !crit.iter().any(|c| c == r) {
            return Err(bad(format!(
                "protected header `{r}` must be listed in `crit`"
            )));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in crit {
        if !seen.insert(c) {
            return Err(bad(format!("`crit` lists `{c}` twice")));
        }
        let known = required.contains(&c.as_str());
        if !known && !extended.contains(c) {
            return Err(bad(format!(
                "`crit` lists `{c}`, which is not a protected header of the signature"
            )));
        }
    }
    // A critical extended attribute is only understood by a verification plugin; imprint
    // runs none, so it cannot honour it (spec: unknown critical headers MUST fail).
    if let Some(c) = crit.iter().find(|c| extended.contains(c)) {
        return Err(bad(format!(
            "unsupported critical protected header `{c}` (extended attributes need a verification plugin)"
        )));
    }
    Ok(())
}

fn scheme_from(s: &str) -> Result<SigningScheme, EnvelopeError> {
    match s {
        "notary.x509" => Ok(SigningScheme::X509),
        "notary.x509.signingAuthority" => Ok(SigningScheme::X509SigningAuthority),
        other => Err(bad(format!("unsupported signing scheme `{other}`"))),
    }
}

/// The time headers a scheme requires and forbids.
fn check_times(
    scheme: SigningScheme,
    signing_time: Option<i64>,
    authentic: Option<i64>,
) -> Result<(), EnvelopeError> {
    match scheme {
        SigningScheme::X509 => {
            if signing_time.is_none() {
                return Err(bad(format!(
                    "signing scheme notary.x509 requires protected header `{H_SIGNING_TIME}`"
                )));
            }
            if authentic.is_some() {
                return Err(bad(format!(
                    "signing scheme notary.x509 must not carry `{H_AUTHENTIC_SIGNING_TIME}`"
                )));
            }
        }
        SigningScheme::X509SigningAuthority => {
            if authentic.is_none() {
                return Err(bad(format!(
                    "signing scheme notary.x509.signingAuthority requires protected header `{H_AUTHENTIC_SIGNING_TIME}`"
                )));
            }
            if signing_time.is_some() {
                return Err(bad(format!(
                    "signing scheme notary.x509.signingAuthority must not carry `{H_SIGNING_TIME}`"
                )));
            }
        }
    }
    Ok(())
}

/// Strict base64url (RFC 7515 §2): URL alphabet, no padding, no stray trailing bits.
fn b64url(field: &str, s: &str) -> Result<Vec<u8>, EnvelopeError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| bad(format!("JWS `{field}` is not strict base64url: {e}")))
}

fn rfc3339(field: &str, v: &Value) -> Result<i64, EnvelopeError> {
    let s = v.as_str().ok_or_else(|| {
        bad(format!(
            "protected header `{field}` must be an RFC 3339 string"
        ))
    })?;
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .map_err(|e| {
            bad(format!(
                "protected header `{field}` is not RFC 3339 (`{s}`): {e}"
            ))
        })
}

fn parse_jws(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    let top: Map<String, Value> = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("JWS envelope is not a JSON object: {e}")))?;
    for k in top.keys() {
        if !matches!(k.as_str(), "payload" | "protected" | "header" | "signature") {
            return Err(bad(format!(
                "JWS envelope has member `{k}` (the flattened JSON serialization allows only payload, protected, header, signature)"
            )));
        }
    }
    let field = |name: &str| -> Result<&str, EnvelopeError> {
        top.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("JWS envelope has no string member `{name}`")))
    };
    let payload_b64 = field("payload")?;
    let protected_b64 = field("protected")?;
    let signature = b64url("signature", field("signature")?)?;
    let payload = b64url("payload", payload_b64)?;
    let protected_raw = b64url("protected", protected_b64)?;
    let protected: Map<String, Value> = serde_json::from_slice(&protected_raw)
        .map_err(|e| bad(format!("JWS protected header is not a JSON object: {e}")))?;

    let alg_name = protected
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("JWS protected header has no `alg`"))?;
    let algorithm = Algorithm::from_jose(alg_name).ok_or_else(|| {
        bad(format!(
            "signature algorithm `{alg_name}` is not allowed (PS256/384/512, ES256/384/512)"
        ))
    })?;
    match protected.get("cty").and_then(Value::as_str) {
        Some(PAYLOAD_CONTENT_TYPE) => {}
        Some(other) => return Err(bad(format!("unsupported payload content type `{other}`"))),
        None => return Err(bad("JWS protected header has no `cty`")),
    }
    let crit: Vec<String> = match protected.get("crit") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("JWS `crit` entries must be strings"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad("JWS protected header has no non-empty `crit` array")),
    };
    let scheme = scheme_from(
        protected
            .get(H_SIGNING_SCHEME)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("protected header has no `{H_SIGNING_SCHEME}`")))?,
    )?;
    let signing_time = protected
        .get(H_SIGNING_TIME)
        .map(|v| rfc3339(H_SIGNING_TIME, v))
        .transpose()?;
    let authentic = protected
        .get(H_AUTHENTIC_SIGNING_TIME)
        .map(|v| rfc3339(H_AUTHENTIC_SIGNING_TIME, v))
        .transpose()?;
    let expiry = protected
        .get(H_EXPIRY)
        .map(|v| rfc3339(H_EXPIRY, v))
        .transpose()?;
    let verification_plugin = match protected.get(H_PLUGIN) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad(format!("`{H_PLUGIN}` must be a string"))),
    };
    let mut extended = Vec::new();
    for k in protected.keys() {
        match k.as_str() {
            "alg"
            | "cty"
            | "crit"
            | H_SIGNING_SCHEME
            | H_SIGNING_TIME
            | H_AUTHENTIC_SIGNING_TIME
            | H_EXPIRY
            | H_PLUGIN
            | H_PLUGIN_MIN_VERSION => {}
            // Headers that change what is signed or where the key comes from.
            "b64" | "jku" | "jwk" | "kid" | "x5u" | "x5c" | "x5t" | "x5t#S256" | "typ" => {
                return Err(bad(format!(
                    "JWS protected header `{k}` is not allowed in a Notation signature"
                )));
            }
            other => extended.push(other.to_owned()),
        }
    }
    check_times(scheme, signing_time, authentic)?;
    check_signed_attributes(
        scheme,
        &crit,
        expiry.is_some(),
        verification_plugin.is_some(),
        protected.contains_key(H_PLUGIN_MIN_VERSION),
        &extended,
    )?;

    let header = match top.get("header") {
        Some(Value::Object(h)) => h,
        Some(_) => return Err(bad("JWS `header` must be a JSON object")),
        None => {
            return Err(bad(
                "JWS envelope has no unprotected `header` (x5c is required)",
            ));
        }
    };
    let mut chain = Vec::new();
    let mut timestamp_token = None;
    let mut signing_agent = None;
    // notation-core-go reads the unprotected header with Go's encoding/json, which matches
    // member names case-insensitively (older signers wrote `io.cncf.notary.SigningAgent`) and
    // ignores unknown members; the header is unsigned, so unknown members are ignored here too.
    for (k, v) in header {
        let key = k.to_ascii_lowercase();
        if key == "x5c" {
            let arr = v
                .as_array()
                .ok_or_else(|| bad("JWS `x5c` must be an array"))?;
            for (i, c) in arr.iter().enumerate() {
                let s = c
                    .as_str()
                    .ok_or_else(|| bad(format!("JWS `x5c[{i}]` must be a string")))?;
                chain.push(
                    STANDARD
                        .decode(s)
                        .map_err(|e| bad(format!("JWS `x5c[{i}]` is not base64 DER: {e}")))?,
                );
            }
        } else if key == H_SIGNING_AGENT.to_ascii_lowercase() {
            signing_agent = Some(
                v.as_str()
                    .ok_or_else(|| bad(format!("`{H_SIGNING_AGENT}` must be a string")))?
                    .to_owned(),
            );
        } else if key == H_TIMESTAMP.to_ascii_lowercase() {
            let s = v
                .as_str()
                .ok_or_else(|| bad(format!("`{H_TIMESTAMP}` must be a base64 string")))?;
            timestamp_token = Some(
                STANDARD
                    .decode(s)
                    .map_err(|e| bad(format!("`{H_TIMESTAMP}` is not base64: {e}")))?,
            );
        } else {
            tracing::debug!(header = %k, "ignoring unknown JWS unprotected header");
        }
    }
    if chain.is_empty() {
        return Err(bad(
            "JWS unprotected header has no certificate chain (`x5c`)",
        ));
    }
    let mut signing_input = Vec::with_capacity(protected_b64.len() + 1 + payload_b64.len());
    signing_input.extend_from_slice(protected_b64.as_bytes());
    signing_input.push(b'.');
    signing_input.extend_from_slice(payload_b64.as_bytes());
    Ok(Envelope {
        format: Format::Jws,
        algorithm,
        signing_scheme: scheme,
        signing_time,
        authentic_signing_time: authentic,
        expiry,
        verification_plugin,
        extended_attributes: extended,
        payload,
        certificate_chain: chain,
        timestamp_token,
        signing_agent,
        signature,
        signing_input,
    })
}

fn cose_text_label(l: &coset::Label) -> Option<&str> {
    match l {
        coset::Label::Text(t) => Some(t),
        coset::Label::Int(_) => None,
    }
}

/// A CBOR tag-1 epoch time (`Tag(1, int)`), as Notation writes its COSE times.
fn cose_time(field: &str, v: &ciborium_value::Value) -> Result<i64, EnvelopeError> {
    match v {
        ciborium_value::Value::Tag(1, inner) => match inner.as_ref() {
            ciborium_value::Value::Integer(i) => {
                i64::try_from(*i).map_err(|_| bad(format!("COSE `{field}` is out of range")))
            }
            _ => Err(bad(format!(
                "COSE `{field}` must be a tag-1 integer epoch time"
            ))),
        },
        _ => Err(bad(format!(
            "COSE `{field}` must be a CBOR tag-1 epoch time"
        ))),
    }
}

/// `coset` re-exports ciborium's value type; a local name keeps the signatures short.
mod ciborium_value {
    pub(super) use coset::cbor::value::Value;
}

fn parse_cose(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    use ciborium_value::Value as C;
    let msg = coset::CoseSign1::from_tagged_slice(bytes)
        .map_err(|e| bad(format!("not a COSE_Sign1_Tagged message: {e}")))?;
    let protected_raw = msg
        .protected
        .original_data
        .clone()
        .ok_or_else(|| bad("COSE protected header is missing"))?;
    let ph = &msg.protected.header;
    let algorithm = match &ph.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => Algorithm::from_cose(*a as i64)
            .ok_or_else(|| bad(format!("COSE signature algorithm {a:?} is not allowed")))?,
        Some(other) => {
            return Err(bad(format!(
                "COSE signature algorithm {other:?} is not allowed"
            )));
        }
        None => return Err(bad("COSE protected header has no algorithm (label 1)")),
    };
    match &ph.content_type {
        Some(coset::ContentType::Text(t)) if t == PAYLOAD_CONTENT_TYPE => {}
        Some(other) => return Err(bad(format!("unsupported payload content type {other:?}"))),
        None => return Err(bad("COSE protected header has no content type (label 3)")),
    }
    if !ph.key_id.is_empty() || !ph.iv.is_empty() || !ph.partial_iv.is_empty() {
        return Err(bad(
            "COSE protected header carries kid/IV labels Notation does not allow",
        ));
    }
    let mut crit = Vec::new();
    for c in &ph.crit {
        match c {
            coset::RegisteredLabelWithPrivate::Text(t) => crit.push(t.clone()),
            other => {
                return Err(bad(format!(
                    "COSE `crit` lists {other:?}, which Notation does not define"
                )));
            }
        }
    }
    if crit.is_empty() {
        return Err(bad("COSE protected header has no `crit` (label 2)"));
    }
    let mut scheme = None;
    let mut signing_time = None;
    let mut authentic = None;
    let mut expiry = None;
    let mut verification_plugin = None;
    let mut has_min_version = false;
    let mut extended = Vec::new();
    for (label, v) in &ph.rest {
        let Some(name) = cose_text_label(label) else {
            return Err(bad(format!(
                "COSE protected header label {label:?} is not allowed in a Notation signature"
            )));
        };
        match name {
            H_SIGNING_SCHEME => match v {
                C::Text(s) => scheme = Some(scheme_from(s)?),
                _ => return Err(bad(format!("COSE `{H_SIGNING_SCHEME}` must be text"))),
            },
            H_SIGNING_TIME => signing_time = Some(cose_time(name, v)?),
            H_AUTHENTIC_SIGNING_TIME => authentic = Some(cose_time(name, v)?),
            H_EXPIRY => expiry = Some(cose_time(name, v)?),
            H_PLUGIN => match v {
                C::Text(s) => verification_plugin = Some(s.clone()),
                _ => return Err(bad(format!("COSE `{H_PLUGIN}` must be text"))),
            },
            H_PLUGIN_MIN_VERSION => has_min_version = true,
            other => extended.push(other.to_owned()),
        }
    }
    let scheme =
        scheme.ok_or_else(|| bad(format!("protected header has no `{H_SIGNING_SCHEME}`")))?;
    check_times(scheme, signing_time, authentic)?;
    check_signed_attributes(
        scheme,
        &crit,
        expiry.is_some(),
        verification_plugin.is_some(),
        has_min_version,
        &extended,
    )?;

    let uh = &msg.unprotected;
    if uh.alg.is_some()
        || !uh.crit.is_empty()
        || uh.content_type.is_some()
        || !uh.key_id.is_empty()
        || !uh.counter_signatures.is_empty()
    {
        return Err(bad(
            "COSE unprotected header carries labels Notation does not allow",
        ));
    }
    let mut chain = Vec::new();
    let mut timestamp_token = None;
    let mut signing_agent = None;
    for (label, v) in &uh.rest {
        match (label, v) {
            (coset::Label::Int(COSE_X5CHAIN), C::Array(items)) => {
                for (i, it) in items.iter().enumerate() {
                    match it {
                        C::Bytes(b) => chain.push(b.clone()),
                        _ => return Err(bad(format!("COSE x5chain[{i}] must be a byte string"))),
                    }
                }
            }
            (coset::Label::Int(COSE_X5CHAIN), C::Bytes(b)) => chain.push(b.clone()),
            (coset::Label::Text(t), C::Text(s)) if t == H_SIGNING_AGENT => {
                signing_agent = Some(s.clone());
            }
            (coset::Label::Text(t), C::Bytes(b)) if t == H_TIMESTAMP => {
                timestamp_token = Some(b.clone());
            }
            (l, _) => {
                return Err(bad(format!(
                    "COSE unprotected header label {l:?} is not allowed (x5chain, {H_SIGNING_AGENT}, {H_TIMESTAMP})"
                )));
            }
        }
    }
    if chain.is_empty() {
        return Err(bad(
            "COSE unprotected header has no certificate chain (x5chain, label 33)",
        ));
    }
    let payload = msg
        .payload
        .clone()
        .ok_or_else(|| bad("COSE payload is detached (Notation requires it embedded)"))?;
    let signing_input = coset::sig_structure_data(
        coset::SignatureContext::CoseSign1,
        coset::ProtectedHeader {
            original_data: Some(protected_raw),
            header: ph.clone(),
        },
        None,
        &[],
        &payload,
    );
    Ok(Envelope {
        format: Format::Cose,
        algorithm,
        signing_scheme: scheme,
        signing_time,
        authentic_signing_time: authentic,
        expiry,
        verification_plugin,
        extended_attributes: extended,
        payload,
        certificate_chain: chain,
        timestamp_token,
        signing_agent,
        signature: msg.signature,
        signing_input,
    })
}
