//! RFC 3161 countersignatures on Notation signatures (`notary.x509` only): the token stamps
//! the envelope's signature value.
//!
//! The CMS check is written here: the repository's RFC 3161 verifier (sigstore-tsa, used for
//! cosign timestamps) accepts only ECDSA TSA keys, as Sigstore's TSAs are, while the TSAs
//! Notation users stamp with (GlobalSign, DigiCert, Microsoft) sign with RSA. Checked: the
//! encapsulated content is a TSTInfo whose message imprint is the hash of the signature; one
//! SignerInfo, whose signer certificate is in the token; signed attributes with contentType
//! id-ct-TSTInfo, messageDigest over the TSTInfo and a signing-certificate(-v2) attribute
//! naming the signer certificate; the signature over the attributes (RSA PKCS#1 v1.5 or
//! ECDSA with SHA-256/384/512, aws-lc-rs); the chain to a `tsa` trust store valid at genTime
//! with the timeStamping EKU (`x509::validate_tsa_chain`). The time range is genTime ±
//! accuracy.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode, Reader as _, SliceReader, Tag, TagNumber};

use super::x509::{
    Cert, OID_ECDSA_SHA256, OID_ECDSA_SHA384, OID_ECDSA_SHA512, OID_RSA, OID_SHA256_RSA,
    OID_SHA384_RSA, OID_SHA512_RSA,
};

const OID_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_CERT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const OID_SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

/// A verified timestamp: `[lower, upper]` in unix seconds (genTime ± accuracy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampRange {
    /// genTime − accuracy.
    pub lower: i64,
    /// genTime + accuracy.
    pub upper: i64,
}

fn hash(oid: ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, String> {
    use aws_lc_rs::digest as d;
    let alg = match oid {
        o if o == OID_SHA256 => &d::SHA256,
        o if o == OID_SHA384 => &d::SHA384,
        o if o == OID_SHA512 => &d::SHA512,
        // Only for the v1 signing-certificate attribute's certificate hash.
        o if o == OID_SHA1 => &d::SHA1_FOR_LEGACY_USE_ONLY,
        o => return Err(format!("unsupported hash algorithm {o}")),
    };
    Ok(d::digest(alg, data).as_ref().to_vec())
}

fn parse_token(token: &[u8]) -> Result<SignedData, String> {
    let ci = ContentInfo::from_der(token)
        .map_err(|e| format!("failed to parse timestamp countersignature: {e}"))?;
    ci.content
        .decode_as()
        .map_err(|e| format!("failed to parse timestamp countersignature: {e}"))
}

/// Verify `token` over `signature` against the `tsa_roots`.
pub fn verify(
    token: &[u8],
    signature: &[u8],
    tsa_roots: &[&Cert],
) -> Result<TimestampRange, String> {
    if tsa_roots.is_empty() {
        return Err("no tsa trust store certificates are configured".into());
    }
    let sd = parse_token(token)?;
    if sd.encap_content_info.econtent_type != OID_TST_INFO {
        return Err(format!(
            "timestamp token content type is {}, not id-ct-TSTInfo",
            sd.encap_content_info.econtent_type
        ));
    }
    let tst_der = tst_info_bytes(&sd)?;
    let info = parse_tst_info(&tst_der)?;
    if hash(info.imprint_alg, signature)? != info.imprint {
        return Err("timestamp message imprint does not match the signature".into());
    }
    let mut certs = Vec::new();
    if let Some(set) = &sd.certificates {
        for c in set.0.iter() {
            if let CertificateChoices::Certificate(c) = c {
                let der = c
                    .to_der()
                    .map_err(|e| format!("timestamp certificate cannot be encoded: {e}"))?;
                certs.push(Cert::from_der(&der)?);
            }
        }
    }
    let [si] = sd.signer_infos.0.as_slice() else {
        return Err(format!(
            "timestamp token has {} signer infos, expected one",
            sd.signer_infos.0.len()
        ));
    };
    let signer = certs
        .iter()
        .find(|c| match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                c.inner().tbs_certificate.issuer == ias.issuer
                    && c.inner().tbs_certificate.serial_number == ias.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => c
                .inner()
                .tbs_certificate
                .extensions
                .iter()
                .flatten()
                .any(|e| {
                    e.extn_id == OID_SKI && e.extn_value.as_bytes().ends_with(ski.0.as_bytes())
                }),
        })
        .ok_or("the timestamp token does not carry its signer certificate")?;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or("timestamp SignerInfo has no signed attributes")?;
    let digest_alg = si.digest_alg.oid;
    let mut content_type_ok = false;
    let mut digest_ok = false;
    let mut cert_bound = false;
    for attr in attrs.iter() {
        let [value] = attr.values.as_slice() else {
            return Err(format!("signed attribute {} must have one value", attr.oid));
        };
        match attr.oid {
            o if o == OID_CONTENT_TYPE => {
                content_type_ok = value.decode_as::<ObjectIdentifier>().ok() == Some(OID_TST_INFO);
            }
            o if o == OID_MESSAGE_DIGEST => {
                let md: OctetString = value
                    .decode_as()
                    .map_err(|e| format!("messageDigest attribute: {e}"))?;
                digest_ok = md.as_bytes() == hash(digest_alg, &tst_der)?.as_slice();
            }
            o if o == OID_SIGNING_CERT || o == OID_SIGNING_CERT_V2 => {
                cert_bound = signing_cert_matches(value, o == OID_SIGNING_CERT_V2, signer.der())?;
            }
            _ => {}
        }
    }
    if !content_type_ok {
        return Err("timestamp signed attributes lack contentType id-ct-TSTInfo".into());
    }
    if !digest_ok {
        return Err("timestamp messageDigest attribute does not match the TSTInfo".into());
    }
    if !cert_bound {
        return Err(
            "timestamp signing-certificate attribute is missing or does not name the signer certificate"
                .into(),
        );
    }
    let signed = attrs
        .to_der()
        .map_err(|e| format!("cannot encode signed attributes: {e}"))?;
    verify_cms_signature(
        signer,
        si.signature_algorithm.oid,
        digest_alg,
        &signed,
        si.signature.as_bytes(),
    )?;
    super::x509::validate_tsa_chain(signer, &certs, tsa_roots, info.gen_time)?;
    Ok(TimestampRange {
        lower: info.gen_time.saturating_sub(info.accuracy),
        upper: info.gen_time.saturating_add(info.accuracy),
    })
}

fn verify_cms_signature(
    signer: &Cert,
    sig_alg: ObjectIdentifier,
    digest_alg: ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    use super::x509::KeyKind;
    use aws_lc_rs::signature as s;
    let key = signer.key_kind()?;
    let rsa = sig_alg == OID_RSA
        || sig_alg == OID_SHA256_RSA
        || sig_alg == OID_SHA384_RSA
        || sig_alg == OID_SHA512_RSA;
    let ecdsa =
        sig_alg == OID_ECDSA_SHA256 || sig_alg == OID_ECDSA_SHA384 || sig_alg == OID_ECDSA_SHA512;
    let alg: &'static dyn s::VerificationAlgorithm = match (key, digest_alg) {
        (KeyKind::Rsa(_), d) if rsa && d == OID_SHA256 => &s::RSA_PKCS1_2048_8192_SHA256,
        (KeyKind::Rsa(_), d) if rsa && d == OID_SHA384 => &s::RSA_PKCS1_2048_8192_SHA384,
        (KeyKind::Rsa(_), d) if rsa && d == OID_SHA512 => &s::RSA_PKCS1_2048_8192_SHA512,
        (KeyKind::Ec256, d) if ecdsa && d == OID_SHA256 => &s::ECDSA_P256_SHA256_ASN1,
        (KeyKind::Ec256, d) if ecdsa && d == OID_SHA384 => &s::ECDSA_P256_SHA384_ASN1,
        (KeyKind::Ec384, d) if ecdsa && d == OID_SHA256 => &s::ECDSA_P384_SHA256_ASN1,
        (KeyKind::Ec384, d) if ecdsa && d == OID_SHA384 => &s::ECDSA_P384_SHA384_ASN1,
        (KeyKind::Ec521, d) if ecdsa && d == OID_SHA512 => &s::ECDSA_P521_SHA512_ASN1,
        (k, d) => {
            return Err(format!(
                "timestamp signature algorithm {sig_alg} with digest {d} and key {k:?} is not supported"
            ));
        }
    };
    s::UnparsedPublicKey::new(alg, signer.public_key_bits())
        .verify(message, signature)
        .map_err(|_| "the timestamp token's signature does not verify".to_owned())
}

/// ESS signing-certificate (v1: SHA-1 hashes) / signing-certificate-v2 (hash algorithm,
/// default SHA-256): the first ESSCertID must hash the signer certificate.
fn signing_cert_matches(
    value: &x509_cert::der::Any,
    v2: bool,
    signer_der: &[u8],
) -> Result<bool, String> {
    let bad = |e: x509_cert::der::Error| format!("malformed signing-certificate attribute: {e}");
    let inner = value.to_der().map_err(bad)?;
    let mut r = SliceReader::new(&inner).map_err(bad)?;
    let (alg, cert_hash) = r
        .sequence(|r| {
            // certs SEQUENCE OF ESSCertID(v2)
            let (alg, h) = r.sequence(|r| {
                let first = r.sequence(|r| {
                    let mut alg = if v2 { OID_SHA256 } else { OID_SHA1 };
                    if v2 && r.peek_tag()? == Tag::Sequence {
                        alg = r.sequence(|r| {
                            let oid = ObjectIdentifier::decode(r)?;
                            while !r.is_finished() {
                                let _ = x509_cert::der::Any::decode(r)?;
                            }
                            Ok(oid)
                        })?;
                    }
                    let h = OctetString::decode(r)?;
                    while !r.is_finished() {
                        let _ = x509_cert::der::Any::decode(r)?;
                    }
                    Ok((alg, h.as_bytes().to_vec()))
                })?;
                while !r.is_finished() {
                    let _ = x509_cert::der::Any::decode(r)?;
                }
                Ok(first)
            })?;
            while !r.is_finished() {
                let _ = x509_cert::der::Any::decode(r)?;
            }
            Ok((alg, h))
        })
        .map_err(bad)?;
    Ok(hash(alg, signer_der)? == cert_hash)
}

fn tst_info_bytes(sd: &SignedData) -> Result<Vec<u8>, String> {
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("timestamp token has no TSTInfo")?;
    let octets: OctetString = econtent
        .decode_as()
        .map_err(|e| format!("timestamp TSTInfo is not an OCTET STRING: {e}"))?;
    Ok(octets.as_bytes().to_vec())
}

struct TstInfo {
    imprint_alg: ObjectIdentifier,
    imprint: Vec<u8>,
    gen_time: i64,
    accuracy: i64,
}

fn parse_tst_info(der: &[u8]) -> Result<TstInfo, String> {
    const BASELINE: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");
    let bad = |e: x509_cert::der::Error| format!("malformed TSTInfo: {e}");
    let mut r = SliceReader::new(der).map_err(bad)?;
    let (policy, imprint_alg, imprint, gen_any, accuracy) = r
        .sequence(|r| {
            let _version = u8::decode(r)?;
            let policy = ObjectIdentifier::decode(r)?;
            let (alg, imprint) = r.sequence(|r| {
                let alg = r.sequence(|r| {
                    let oid = ObjectIdentifier::decode(r)?;
                    while !r.is_finished() {
                        let _ = x509_cert::der::Any::decode(r)?;
                    }
                    Ok(oid)
                })?;
                let h = OctetString::decode(r)?;
                Ok((alg, h.as_bytes().to_vec()))
            })?;
            let _serial = x509_cert::der::Any::decode(r)?;
            let gen_any = x509_cert::der::Any::decode(r)?;
            let mut accuracy = None;
            if !r.is_finished() && r.peek_tag()? == Tag::Sequence {
                let acc = x509_cert::der::Any::decode(r)?;
                accuracy = Some(parse_accuracy(acc.value())?);
            }
            while !r.is_finished() {
                let _ = x509_cert::der::Any::decode(r)?;
            }
            Ok((policy, alg, imprint, gen_any, accuracy))
        })
        .map_err(bad)?;
    if x509_cert::der::Tagged::tag(&gen_any) != Tag::GeneralizedTime {
        return Err("TSTInfo genTime is not a GeneralizedTime".into());
    }
    let gen_time = generalized_time(gen_any.value())?;
    let accuracy = match accuracy {
        Some(a) => a,
        None if policy == BASELINE => 1,
        None => 0,
    };
    Ok(TstInfo {
        imprint_alg,
        imprint,
        gen_time,
        accuracy,
    })
}

/// Accuracy in whole seconds, rounded up.
fn parse_accuracy(body: &[u8]) -> Result<i64, x509_cert::der::Error> {
    let mut ar = SliceReader::new(body)?;
    let mut secs: i64 = 0;
    let mut frac = false;
    while !ar.is_finished() {
        match ar.peek_tag()? {
            Tag::Integer => secs = i64::from(u32::decode(&mut ar)?),
            Tag::ContextSpecific { number, .. }
                if number == TagNumber::N0 || number == TagNumber::N1 =>
            {
                let any = x509_cert::der::Any::decode(&mut ar)?;
                frac |= any.value().iter().any(|b| *b != 0);
            }
            _ => {
                let _ = x509_cert::der::Any::decode(&mut ar)?;
            }
        }
    }
    Ok(secs + i64::from(frac))
}

/// Parse a countersignature token without verifying it (what `notation inspect` shows): the
/// genTime, unix seconds.
pub fn inspect(token: &[u8]) -> Result<i64, String> {
    let sd = parse_token(token)?;
    Ok(parse_tst_info(&tst_info_bytes(&sd)?)?.gen_time)
}

/// `YYYYMMDDHHMMSS[.f+]Z` (RFC 3161 allows fractional seconds, which DER GeneralizedTime
/// decoders refuse), as unix seconds (the fraction is dropped).
fn generalized_time(v: &[u8]) -> Result<i64, String> {
    let s = std::str::from_utf8(v).map_err(|_| "genTime is not ASCII".to_owned())?;
    let body = s
        .strip_suffix('Z')
        .ok_or_else(|| format!("genTime {s:?} is not UTC"))?;
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    if whole.len() != 14
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("genTime {s:?} is malformed"));
    }
    chrono::NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S")
        .map(|t| t.and_utc().timestamp())
        .map_err(|e| format!("genTime {s:?} is malformed: {e}"))
}
