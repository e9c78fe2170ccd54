//! X.509 for Notation: the certificate requirements of the signature specification, chain
//! order and signatures, trust-store certificates, and subject DN matching.
//!
//! The chain is checked here over `x509-cert` and aws-lc-rs rather than through webpki's path
//! builder: Notation's chain is given in order (leaf … self-signed root) and must be complete,
//! trust means "the chain contains a trust-store certificate" (which may be the leaf itself),
//! and the time checks are a separate, policy-controlled validation (`authenticTimestamp`,
//! which the `permissive` and `audit` levels only log). webpki fuses path building, anchors
//! and time into one call, so it cannot express the logged-only time check.

use std::collections::BTreeMap;

use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode, Reader as _, SliceReader};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

pub(super) const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
pub(super) const OID_SHA256_RSA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub(super) const OID_SHA384_RSA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
pub(super) const OID_SHA512_RSA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
pub(super) const OID_ECDSA_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(super) const OID_ECDSA_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
pub(super) const OID_ECDSA_SHA512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_KU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_BC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_CRL_DP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const OID_AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const OID_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const EKU_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const EKU_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
const EKU_EMAIL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");
const EKU_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const EKU_ANY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// A certificate with its DER bytes, parsed once.
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
}

/// The key of a certificate, as far as Notation's algorithm table cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Ec256,
    Ec384,
    Ec521,
    /// RSA with its modulus size in bits.
    Rsa(usize),
}

impl Cert {
    /// Parse one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let cert =
            Certificate::from_der(der).map_err(|e| format!("not a DER X.509 certificate: {e}"))?;
        Ok(Self {
            der: der.to_vec(),
            cert,
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject DN, formatted as RFC 4514 (as Notation prints it).
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// notBefore and notAfter, unix seconds.
    pub fn validity(&self) -> (i64, i64) {
        let v = &self.cert.tbs_certificate.validity;
        let nb = i64::try_from(v.not_before.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        let na = i64::try_from(v.not_after.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        (nb, na)
    }

    fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate.subject == self.cert.tbs_certificate.issuer
    }

    /// Self-issued and its signature verifies with its own key.
    pub fn is_self_signed(&self) -> bool {
        self.is_self_issued() && self.verify_issued_by(self).is_ok()
    }

    /// The subject public key bits (PKCS#1 for RSA, the point for EC).
    pub fn public_key_bits(&self) -> &[u8] {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
    }

    pub(crate) fn key_kind(&self) -> Result<KeyKind, String> {
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid == OID_RSA {
            return rsa_bits(self.public_key_bits()).map(KeyKind::Rsa);
        }
        if spki.algorithm.oid == OID_EC {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or("EC key without a named curve")?;
            return match curve {
                c if c == OID_P256 => Ok(KeyKind::Ec256),
                c if c == OID_P384 => Ok(KeyKind::Ec384),
                c if c == OID_P521 => Ok(KeyKind::Ec521),
                c => Err(format!("unsupported EC curve {c}")),
            };
        }
        Err(format!(
            "unsupported public key algorithm {}",
            spki.algorithm.oid
        ))
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&x509_cert::ext::Extension> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
    }

    fn key_usage(&self) -> Result<Option<KeyUsage>, String> {
        self.extension(OID_KU)
            .map(|e| {
                KeyUsage::from_der(e.extn_value.as_bytes())
                    .map_err(|e| format!("bad keyUsage: {e}"))
            })
            .transpose()
    }

    fn basic_constraints(&self) -> Result<Option<BasicConstraints>, String> {
        self.extension(OID_BC)
            .map(|e| {
                BasicConstraints::from_der(e.extn_value.as_bytes())
                    .map_err(|e| format!("bad basicConstraints: {e}"))
            })
            .transpose()
    }

    fn ext_key_usage(&self) -> Result<Option<ExtendedKeyUsage>, String> {
        self.extension(OID_EKU)
            .map(|e| {
                ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
                    .map_err(|e| format!("bad extendedKeyUsage: {e}"))
            })
            .transpose()
    }

    /// A CA certificate: basicConstraints with cA true.
    pub fn is_ca(&self) -> bool {
        matches!(self.basic_constraints(), Ok(Some(bc)) if bc.ca)
    }

    /// Whether the certificate names an OCSP responder or a CRL distribution point, i.e. has
    /// revocation information that a complete check would have to fetch.
    pub fn has_revocation_info(&self) -> bool {
        if self.extension(OID_CRL_DP).is_some() {
            return true;
        }
        self.extension(OID_AIA).is_some_and(|e| {
            x509_cert::ext::pkix::AuthorityInfoAccessSyntax::from_der(e.extn_value.as_bytes())
                .map(|aia| aia.0.iter().any(|ad| ad.access_method == OID_OCSP))
                .unwrap_or(true)
        })
    }

    /// Check that `issuer`'s key signed this certificate, with an allowed algorithm.
    pub fn verify_issued_by(&self, issuer: &Self) -> Result<(), String> {
        use aws_lc_rs::signature as s;
        let sig_oid = self.cert.signature_algorithm.oid;
        let issuer_key = issuer.key_kind()?;
        let alg: &'static dyn s::VerificationAlgorithm = match (sig_oid, issuer_key) {
            (o, KeyKind::Rsa(_)) if o == OID_SHA256_RSA => &s::RSA_PKCS1_2048_8192_SHA256,
            (o, KeyKind::Rsa(_)) if o == OID_SHA384_RSA => &s::RSA_PKCS1_2048_8192_SHA384,
            (o, KeyKind::Rsa(_)) if o == OID_SHA512_RSA => &s::RSA_PKCS1_2048_8192_SHA512,
            (o, KeyKind::Ec256) if o == OID_ECDSA_SHA256 => &s::ECDSA_P256_SHA256_ASN1,
            (o, KeyKind::Ec256) if o == OID_ECDSA_SHA384 => &s::ECDSA_P256_SHA384_ASN1,
            (o, KeyKind::Ec384) if o == OID_ECDSA_SHA256 => &s::ECDSA_P384_SHA256_ASN1,
            (o, KeyKind::Ec384) if o == OID_ECDSA_SHA384 => &s::ECDSA_P384_SHA384_ASN1,
            (o, KeyKind::Ec521) if o == OID_ECDSA_SHA512 => &s::ECDSA_P521_SHA512_ASN1,
            (o, k) => {
                return Err(format!(
                    "certificate {:?} uses signature algorithm {o} with an issuer key {k:?}, which is not allowed (no SHA-1, no mismatched keys)",
                    self.subject()
                ));
            }
        };
        let tbs = self
            .cert
            .tbs_certificate
            .to_der()
            .map_err(|e| format!("cannot encode TBSCertificate: {e}"))?;
        let sig = self
            .cert
            .signature
            .as_bytes()
            .ok_or("certificate signature has unused bits")?;
        s::UnparsedPublicKey::new(alg, issuer.public_key_bits())
            .verify(&tbs, sig)
            .map_err(|_| {
                format!(
                    "certificate {:?} is not signed by {:?}",
                    self.subject(),
                    issuer.subject()
                )
            })
    }

    /// The subject as attribute type → value (C, ST, L, O, OU, CN, …); Notation's identities
    /// compare these, not the formatted string.
    pub fn subject_attributes(&self) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        for rdn in self.cert.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                let name = attr_name(&atv.oid);
                let value = atv_string(&atv.value)
                    .ok_or_else(|| format!("subject attribute {name} is not a string"))?;
                if out.insert(name.clone(), value).is_some() {
                    return Err(format!(
                        "certificate subject {:?} has attribute {name} more than once",
                        self.subject()
                    ));
                }
            }
        }
        Ok(out)
    }
}

fn attr_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "2.5.4.3" => "CN".into(),
        "2.5.4.6" => "C".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.8" => "ST".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        "2.5.4.5" => "SERIALNUMBER".into(),
        "2.5.4.9" => "STREET".into(),
        "2.5.4.17" => "POSTALCODE".into(),
        "0.9.2342.19200300.100.1.25" => "DC".into(),
        "0.9.2342.19200300.100.1.1" => "UID".into(),
        "1.2.840.113549.1.9.1" => "EMAILADDRESS".into(),
        other => other.to_owned(),
    }
}

fn atv_string(v: &x509_cert::der::Any) -> Option<String> {
    use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
    if let Ok(s) = v.decode_as::<Utf8StringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    if let Ok(s) = v.decode_as::<PrintableStringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    if let Ok(s) = v.decode_as::<Ia5StringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    if let Ok(s) = v.decode_as::<TeletexStringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    None
}

/// Bits of an RSA modulus from a PKCS#1 `RSAPublicKey`.
fn rsa_bits(pkcs1: &[u8]) -> Result<usize, String> {
    use x509_cert::der::asn1::UintRef;
    let mut r = SliceReader::new(pkcs1).map_err(|e| format!("bad RSA key: {e}"))?;
    let n = r
        .sequence(|r| {
            let n = UintRef::decode(r)?;
            let _e = UintRef::decode(r)?;
            Ok(n.as_bytes().to_vec())
        })
        .map_err(|e| format!("bad RSA key: {e}"))?;
    let Some(first) = n.first() else {
        return Err("RSA modulus is empty".into());
    };
    Ok((n.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// Parse certificates from a trust-store file: PEM (one or more `CERTIFICATE` blocks) or DER
/// (one or more concatenated certificates).
pub fn parse_cert_file(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        let blocks = pem::parse_many(bytes).map_err(|e| format!("bad PEM: {e}"))?;
        let mut out = Vec::new();
        for b in blocks {
            if b.tag() != "CERTIFICATE" {
                return Err(format!("PEM block `{}` is not a CERTIFICATE", b.tag()));
            }
            out.push(Cert::from_der(b.contents())?);
        }
        if out.is_empty() {
            return Err("no certificate in PEM file".into());
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut r = SliceReader::new(rest).map_err(|e| format!("bad DER: {e}"))?;
        let header = x509_cert::der::Header::decode(&mut r).map_err(|e| format!("bad DER: {e}"))?;
        let total = u32::from(header.encoded_len().map_err(|e| format!("bad DER: {e}"))?) as usize
            + u32::from(header.length) as usize;
        if total > rest.len() {
            return Err("truncated DER certificate".into());
        }
        let _ = r.remaining_len();
        out.push(Cert::from_der(&rest[..total])?);
        rest = &rest[total..];
    }
    if out.is_empty() {
        return Err("empty certificate file".into());
    }
    Ok(out)
}

/// Parse and check the envelope's chain for a code-signing signature (signature
/// specification, certificate requirements): leaf first, each certificate signed by the next,
/// ending in a self-signed root; leaf keyUsage digitalSignature without keyCertSign, no
/// forbidden EKU, not a CA; CA certificates with cA true, keyCertSign and path lengths
/// respected; RSA ≥ 2048, EC P-256/384/521.
pub fn validate_code_signing_chain(chain_der: &[Vec<u8>]) -> Result<Vec<Cert>, String> {
    validate_chain(chain_der, Purpose::CodeSigning)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    CodeSigning,
}

fn validate_chain(chain_der: &[Vec<u8>], purpose: Purpose) -> Result<Vec<Cert>, String> {
    if chain_der.is_empty() {
        return Err("certificate chain is empty".into());
    }
    let max = crate::limits::Limits::DEFAULT.max_cert_chain_len;
    if chain_der.len() > max {
        return Err(format!(
            "certificate chain has {} certificates, more than the limit of {max}",
            chain_der.len()
        ));
    }
    let mut chain = Vec::with_capacity(chain_der.len());
    for (i, d) in chain_der.iter().enumerate() {
        chain.push(Cert::from_der(d).map_err(|e| format!("certificate {}: {e}", i + 1))?);
    }
    for c in &chain {
        match c.key_kind()? {
            KeyKind::Rsa(bits) if bits < 2048 => {
                return Err(format!(
                    "certificate {:?} has a {bits}-bit RSA key (at least 2048 required)",
                    c.subject()
                ));
            }
            _ => {}
        }
    }
    let root = &chain[chain.len() - 1];
    if !root.is_self_issued() {
        return Err(format!(
            "certificate chain does not end in a root certificate: {:?} is issued by {:?}",
            root.subject(),
            root.cert.tbs_certificate.issuer.to_string()
        ));
    }
    root.verify_issued_by(root)
        .map_err(|e| format!("root certificate is not self-signed: {e}"))?;
    for i in 0..chain.len() - 1 {
        let (child, parent) = (&chain[i], &chain[i + 1]);
        if child.cert.tbs_certificate.issuer != parent.cert.tbs_certificate.subject {
            return Err(format!(
                "certificate chain is out of order: {:?} is not issued by {:?}",
                child.subject(),
                parent.subject()
            ));
        }
        child.verify_issued_by(parent)?;
    }
    // Leaf requirements.
    let leaf = &chain[0];
    let Purpose::CodeSigning = purpose;
    let ku = leaf.key_usage()?.ok_or_else(|| {
        format!(
            "signing certificate {:?} has no keyUsage extension",
            leaf.subject()
        )
    })?;
    if !ku.digital_signature() {
        return Err(format!(
            "signing certificate {:?} keyUsage lacks digitalSignature",
            leaf.subject()
        ));
    }
    if ku.key_cert_sign() || ku.crl_sign() {
        return Err(format!(
            "signing certificate {:?} keyUsage must not have keyCertSign or cRLSign",
            leaf.subject()
        ));
    }
    if let Some(bc) = leaf.basic_constraints()?
        && bc.ca
    {
        return Err(format!(
            "signing certificate {:?} is a CA certificate (basicConstraints cA true)",
            leaf.subject()
        ));
    }
    if let Some(eku) = leaf.ext_key_usage()? {
        for oid in &eku.0 {
            let forbidden = [
                (EKU_SERVER_AUTH, "serverAuth"),
                (EKU_CLIENT_AUTH, "clientAuth"),
                (EKU_EMAIL, "emailProtection"),
                (EKU_TIME_STAMPING, "timeStamping"),
                (EKU_ANY, "anyExtendedKeyUsage"),
            ];
            if let Some((_, name)) = forbidden.iter().find(|(o, _)| o == oid) {
                return Err(format!(
                    "signing certificate {:?} has extended key usage {name}, which a code-signing certificate must not have",
                    leaf.subject()
                ));
            }
        }
    }
    // CA requirements.
    for (i, ca) in chain.iter().enumerate().skip(1) {
        let bc = ca
            .basic_constraints()?
            .ok_or_else(|| format!("CA certificate {:?} has no basicConstraints", ca.subject()))?;
        if !bc.ca {
            return Err(format!(
                "certificate {:?} issues another certificate but is not a CA (basicConstraints cA false)",
                ca.subject()
            ));
        }
        if let Some(max) = bc.path_len_constraint {
            // Intermediates below this one (not counting the leaf).
            let below = i - 1;
            if below > usize::from(max) {
                return Err(format!(
                    "CA certificate {:?} allows path length {max} but {below} intermediates follow it",
                    ca.subject()
                ));
            }
        }
        if let Some(ku) = ca.key_usage()? {
            if !ku.key_cert_sign() {
                return Err(format!(
                    "CA certificate {:?} keyUsage lacks keyCertSign",
                    ca.subject()
                ));
            }
        } else {
            return Err(format!(
                "CA certificate {:?} has no keyUsage extension",
                ca.subject()
            ));
        }
    }
    Ok(chain)
}

/// The timestamping chain of an RFC 3161 token: from the token's signer certificate up
/// through certificates embedded in the token to a certificate of a `tsa` trust store (equal
/// to it, or issued by it), each signature checked; the signer has the timeStamping EKU and
/// every certificate is valid at the stamped time `at`.
pub fn validate_tsa_chain(
    signer: &Cert,
    embedded: &[Cert],
    roots: &[&Cert],
    at: i64,
) -> Result<(), String> {
    let eku = signer.ext_key_usage()?.ok_or_else(|| {
        format!(
            "timestamping certificate {:?} has no extended key usage",
            signer.subject()
        )
    })?;
    if !eku.0.contains(&EKU_TIME_STAMPING) {
        return Err(format!(
            "timestamping certificate {:?} lacks the timeStamping extended key usage",
            signer.subject()
        ));
    }
    let mut current = signer.clone();
    let mut path = vec![signer.clone()];
    for _ in 0..8 {
        if roots.iter().any(|r| r.der() == current.der()) {
            return chain_valid_over(&path, at, at, "timestamp");
        }
        if let Some(root) = roots.iter().find(|r| {
            r.cert.tbs_certificate.subject == current.cert.tbs_certificate.issuer
                && current.verify_issued_by(r).is_ok()
        }) {
            path.push((*root).clone());
            return chain_valid_over(&path, at, at, "timestamp");
        }
        let Some(next) = embedded.iter().find(|c| {
            c.der() != current.der()
                && c.cert.tbs_certificate.subject == current.cert.tbs_certificate.issuer
                && c.is_ca()
                && current.verify_issued_by(c).is_ok()
        }) else {
            return Err(format!(
                "the timestamping certificate chain of {:?} does not lead to a certificate of the tsa trust stores",
                signer.subject()
            ));
        };
        current = next.clone();
        path.push(next.clone());
    }
    Err("the timestamping certificate chain is too long".into())
}

impl Cert {
    /// The parsed certificate.
    pub(crate) fn inner(&self) -> &Certificate {
        &self.cert
    }
}

/// Every certificate of `chain` valid over `[lower, upper]` (unix seconds).
pub fn chain_valid_over(chain: &[Cert], lower: i64, upper: i64, what: &str) -> Result<(), String> {
    for c in chain {
        let (nb, na) = c.validity();
        if lower < nb {
            return Err(format!(
                "{what} is before certificate {:?} validity period, it will be valid from {:?}",
                c.subject(),
                fmt_time(nb)
            ));
        }
        if upper > na {
            return Err(format!(
                "{what} is after certificate {:?} validity period, it was expired at {:?}",
                c.subject(),
                fmt_time(na)
            ));
        }
    }
    Ok(())
}

/// RFC 1123 with numeric zone, as Notation prints times.
pub fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// Parse a distinguished name as written in a trusted identity (`C=US, ST=WA, O=…`): RDNs
/// separated by unescaped commas, `\` escapes `,` `;` `\` `+` `"` `=` and leading/trailing
/// spaces; attribute types compared case-insensitively.
pub fn parse_dn(s: &str) -> Result<BTreeMap<String, String>, String> {
    // Each RDN as characters with an "escaped" flag, so escaped spaces survive trimming.
    let mut parts: Vec<Vec<(char, bool)>> = vec![Vec::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let n = chars
                    .next()
                    .ok_or_else(|| format!("distinguished name {s:?} ends in a lone backslash"))?;
                if let Some(p) = parts.last_mut() {
                    p.push((n, true));
                }
            }
            ',' | ';' => parts.push(Vec::new()),
            '+' => {
                return Err(format!(
                    "distinguished name {s:?} has a multi-valued RDN (`+`), which Notation does not support"
                ));
            }
            c => {
                if let Some(p) = parts.last_mut() {
                    p.push((c, false));
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for p in parts {
        let Some(eq) = p.iter().position(|&(c, esc)| c == '=' && !esc) else {
            let text: String = p.iter().map(|&(c, _)| c).collect();
            return Err(format!("distinguished name {s:?}: RDN {text:?} has no `=`"));
        };
        let trim = |v: &[(char, bool)]| -> String {
            let start = v
                .iter()
                .position(|&(c, esc)| c != ' ' || esc)
                .unwrap_or(v.len());
            let end = v
                .iter()
                .rposition(|&(c, esc)| c != ' ' || esc)
                .map_or(start, |e| e + 1);
            v[start..end.max(start)].iter().map(|&(c, _)| c).collect()
        };
        let k = trim(&p[..eq]).to_ascii_uppercase();
        let v = trim(&p[eq + 1..]);
        if k.is_empty() || v.is_empty() {
            return Err(format!(
                "distinguished name {s:?}: empty attribute type or value"
            ));
        }
        let k = match k.as_str() {
            "S" => "ST".to_owned(),
            "E" => "EMAILADDRESS".to_owned(),
            _ => k,
        };
        if out.insert(k.clone(), v).is_some() {
            return Err(format!(
                "distinguished name {s:?} has duplicate RDN attribute for {k:?}, DN can only have unique RDN attributes"
            ));
        }
    }
    Ok(out)
}

/// Whether every attribute of `wanted` is in `subject` with the same value.
pub fn dn_is_subset(wanted: &BTreeMap<String, String>, subject: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|(k, v)| subject.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_parsing_and_matching() {
        let d = parse_dn("x=1").unwrap_or_default();
        assert_eq!(d.get("X").map(String::as_str), Some("1"));
        let d = parse_dn("C=US, ST=WA,O=wabbit\\, inc ,CN=a\\ ").unwrap_or_default();
        assert_eq!(d.get("O").map(String::as_str), Some("wabbit, inc"));
        assert_eq!(d.get("CN").map(String::as_str), Some("a "));
        assert!(parse_dn("C=US,C=DE").is_err());
        assert!(parse_dn("C=US+O=x").is_err());
        assert!(parse_dn("nothing").is_err());
        let subject: BTreeMap<String, String> =
            [("C", "US"), ("ST", "WA"), ("O", "x"), ("CN", "y")]
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect();
        assert!(dn_is_subset(
            &parse_dn("C=US,ST=WA,O=x").unwrap_or_default(),
            &subject
        ));
        assert!(!dn_is_subset(
            &parse_dn("C=USB,ST=WA,O=x").unwrap_or_default(),
            &subject
        ));
        assert!(!dn_is_subset(
            &parse_dn("C=US,ST=WA,O=x,OU=z").unwrap_or_default(),
            &subject
        ));
    }
}
