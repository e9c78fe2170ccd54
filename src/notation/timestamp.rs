//! RFC 3161 countersignatures on Notation signatures (`notary.x509` only): the token stamps
//! the envelope's signature value. The CMS signature, message imprint, TSA chain and
//! timeStamping EKU are checked by sigstore-tsa (`verify_timestamp_for_authority`), which
//! the repository already uses for cosign's timestamps; what is Notation's is here: the TSA
//! roots come from `tsa` trust stores, the signer certificate from the token, and the
//! timestamp's accuracy widens it into a range.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode, Reader as _, SliceReader, Tag, TagNumber};

use super::x509::Cert;

/// A verified timestamp: `[lower, upper]` in unix seconds (genTime ± accuracy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampRange {
    /// genTime − accuracy.
    pub lower: i64,
    /// genTime + accuracy.
    pub upper: i64,
}

/// Verify `token` over `signature` against the `tsa_roots`.
pub fn verify(token: &[u8], signature: &[u8], tsa_roots: &[&Cert]) -> Result<TimestampRange, String> {
    let ci = ContentInfo::from_der(token)
        .map_err(|e| format!("failed to parse timestamp countersignature: {e}"))?;
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| format!("failed to parse timestamp countersignature: {e}"))?;
    let mut certs = Vec::new();
    if let Some(set) = &sd.certificates {
        for c in set.0.iter() {
            if let CertificateChoices::Certificate(c) = c {
                certs.push(
                    c.to_der()
                        .map_err(|e| format!("timestamp certificate cannot be encoded: {e}"))?,
                );
            }
        }
    }
    if certs.is_empty() {
        return Err("timestamp countersignature carries no certificates".into());
    }
    if tsa_roots.is_empty() {
        return Err("no tsa trust store certificates are configured".into());
    }
    let accuracy = accuracy_seconds(&sd)?;
    let tok = sigstore_types::TimestampToken::new(token.to_vec());
    let msg = sigstore_types::SignatureBytes::new(signature.to_vec());
    let mut last = String::from("no certificate of the token chains to a trusted TSA root");
    for (i, leaf) in certs.iter().enumerate() {
        for root in tsa_roots {
            let intermediates = certs
                .iter()
                .enumerate()
                .filter(|(j, c)| *j != i && c.as_slice() != root.der())
                .map(|(_, c)| sigstore_types::DerCertificate::new(c.clone()))
                .collect();
            let authority = sigstore_types::TsaAuthority::new(
                sigstore_types::DerCertificate::new(leaf.clone()),
                intermediates,
                sigstore_types::DerCertificate::new(root.der().to_vec()),
                None,
            );
            match sigstore_verify::tsa::verify_timestamp_for_authority(&tok, &msg, &authority) {
                Ok(t) => {
                    let t = t.as_second();
                    return Ok(TimestampRange {
                        lower: t.saturating_sub(accuracy),
                        upper: t.saturating_add(accuracy),
                    });
                }
                Err(e) => last = e.to_string(),
            }
        }
    }
    Err(format!("failed to verify the timestamp countersignature: {last}"))
}

/// TSTInfo.accuracy in whole seconds, rounded up (RFC 3161 §2.4.2). Without an accuracy
/// the baseline policy (RFC 3628, 0.4.0.2023.1.1) means one second, else zero.
fn accuracy_seconds(sd: &SignedData) -> Result<i64, String> {
    const BASELINE: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("timestamp token has no TSTInfo")?;
    let octets: OctetString = econtent
        .decode_as()
        .map_err(|e| format!("timestamp TSTInfo is not an OCTET STRING: {e}"))?;
    let bad = |e: x509_cert::der::Error| format!("malformed TSTInfo: {e}");
    let mut r = SliceReader::new(octets.as_bytes()).map_err(bad)?;
    r.sequence(|r| {
        let _version = u8::decode(r)?;
        let policy = ObjectIdentifier::decode(r)?;
        let _imprint = x509_cert::der::Any::decode(r)?;
        let _serial = x509_cert::der::Any::decode(r)?;
        let _gen = x509_cert::der::Any::decode(r)?;
        let mut secs: i64 = 0;
        let mut frac_us: i64 = 0;
        let mut explicit = false;
        if r.peek_tag().ok() == Some(Tag::Sequence) {
            explicit = true;
            let acc = x509_cert::der::Any::decode(r)?;
            let mut ar = SliceReader::new(acc.value())?;
            while !ar.is_finished() {
                let tag = ar.peek_tag()?;
                match tag {
                    Tag::Integer => secs = i64::from(u32::decode(&mut ar)?),
                    Tag::ContextSpecific { number, .. } if number == TagNumber::N0 => {
                        let any = x509_cert::der::Any::decode(&mut ar)?;
                        frac_us += small_uint(any.value()) * 1000;
                    }
                    Tag::ContextSpecific { number, .. } if number == TagNumber::N1 => {
                        let any = x509_cert::der::Any::decode(&mut ar)?;
                        frac_us += small_uint(any.value());
                    }
                    _ => {
                        let _ = x509_cert::der::Any::decode(&mut ar)?;
                    }
                }
            }
        }
        // Skip the rest (ordering, nonce, tsa, extensions).
        while !r.is_finished() {
            let _ = x509_cert::der::Any::decode(r)?;
        }
        Ok(if explicit {
            secs + i64::from(frac_us > 0)
        } else if policy == BASELINE {
            1
        } else {
            0
        })
    })
    .map_err(bad)
}

fn small_uint(b: &[u8]) -> i64 {
    b.iter().take(4).fold(0i64, |acc, x| (acc << 8) | i64::from(*x))
}

/// Parse a countersignature token without verifying it (what `notation inspect` shows): the
/// genTime, unix seconds.
pub fn inspect(token: &[u8]) -> Result<i64, String> {
    let ci = ContentInfo::from_der(token)
        .map_err(|e| format!("failed to parse timestamp countersignature: {e}"))?;
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| format!("failed to parse timestamp countersignature: {e}"))?;
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("timestamp token has no TSTInfo")?;
    let octets: OctetString = econtent
        .decode_as()
        .map_err(|e| format!("timestamp TSTInfo is not an OCTET STRING: {e}"))?;
    let bad = |e: x509_cert::der::Error| format!("malformed TSTInfo: {e}");
    let mut r = SliceReader::new(octets.as_bytes()).map_err(bad)?;
    let gen_time = r
        .sequence(|r| {
            let _version = u8::decode(r)?;
            let _policy = ObjectIdentifier::decode(r)?;
            let _imprint = x509_cert::der::Any::decode(r)?;
            let _serial = x509_cert::der::Any::decode(r)?;
            let gen_time = x509_cert::der::Any::decode(r)?;
            while !r.is_finished() {
                let _ = x509_cert::der::Any::decode(r)?;
            }
            Ok(gen_time)
        })
        .map_err(bad)?;
    if x509_cert::der::Tagged::tag(&gen_time) != Tag::GeneralizedTime {
        return Err("TSTInfo genTime is not a GeneralizedTime".into());
    }
    generalized_time(gen_time.value())
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
