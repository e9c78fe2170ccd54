//! Content digests (`sha256:<hex>`), the only algorithm cosign and the OCI tooling we
//! interoperate with write. Hashing goes through aws-lc-rs, the crate's one crypto provider.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// Why a string is not a digest we accept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// Only `sha256:` digests are accepted.
    #[error("unsupported digest algorithm in `{0}` (only sha256 is accepted)")]
    UnsupportedAlgorithm(String),
    /// The hex part is not 64 lowercase hex characters.
    #[error("malformed sha256 digest `{0}`: expected 64 lowercase hex characters")]
    Malformed(String),
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        Self {
            hex: hex::encode(d.as_ref()),
        }
    }

    /// The sha256 digest an incremental hash (`aws_lc_rs::digest::Context` over SHA-256)
    /// finished with.
    pub(crate) fn from_sha256_context(ctx: aws_lc_rs::digest::Context) -> Self {
        Self {
            hex: hex::encode(ctx.finish().as_ref()),
        }
    }

    /// From 32 raw digest bytes.
    pub fn from_raw(raw: &[u8; 32]) -> Self {
        Self {
            hex: hex::encode(raw),
        }
    }

    /// From a bare 64-char hex string (no `sha256:` prefix).
    pub fn from_hex(hex_str: &str) -> Result<Self, DigestError> {
        if hex_str.len() == 64
            && hex_str
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self {
                hex: hex_str.to_owned(),
            })
        } else {
            Err(DigestError::Malformed(hex_str.to_owned()))
        }
    }

    /// The 64 hex characters, without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The 32 raw bytes.
    pub fn raw(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // Invariant: `hex` is always 64 valid lowercase hex characters (checked on construction).
        if hex::decode_to_slice(&self.hex, &mut out).is_err() {
            unreachable!("Digest holds validated hex");
        }
        out
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Self::of(bytes) == *self
    }

    /// The cosign tag-scheme name for this digest: `sha256-<hex>` (no suffix). Used as the
    /// referrers fallback tag; append `.sig` / `.att` for legacy attachments.
    pub fn tag_base(&self) -> String {
        format!("sha256-{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("sha256", hex_str)) => {
                Self::from_hex(hex_str).map_err(|_| DigestError::Malformed(s.to_owned()))
            }
            Some(_) => Err(DigestError::UnsupportedAlgorithm(s.to_owned())),
            None => Err(DigestError::Malformed(s.to_owned())),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest(sha256:{})", self.hex)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_round_trips() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d.clone()));
        assert_eq!(d.tag_base(), format!("sha256-{}", d.hex()));
        assert!(d.matches(b""));
        assert!(!d.matches(b"x"));
    }

    #[test]
    fn rejects_bad_digests() {
        assert!(matches!(
            "sha512:ab".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            "sha256:AB".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            "e3b0".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(upper.parse::<Digest>().is_err());
    }
}
