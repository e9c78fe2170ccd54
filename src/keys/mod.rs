//! Signing and verification keys, and cosign's key files.
//!
//! - [`SigningKey`]: a private key (ECDSA P-256/P-384/P-521, Ed25519 or RSA) that signs the way
//!   cosign does: ECDSA as ASN.1 DER over SHA-256/384/512 of the message, RSA PKCS#1 v1.5 with
//!   SHA-256, Ed25519 pure.
//! - [`PublicKey`]: a verification key from a PEM `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY`
//!   (PKCS#1) or `CERTIFICATE` (its subject key).
//! - [`cosign`]: the encrypted private key file (`ENCRYPTED SIGSTORE PRIVATE KEY`): scrypt +
//!   nacl/secretbox over PKCS#8 DER.
//! - [`password`]: where the key file password comes from, and `generate-key-pair` /
//!   `import-key-pair`.
//!
//! All cryptography is aws-lc-rs, except scrypt and XSalsa20-Poly1305 for the key file.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, ParsedPublicKey,
    RsaKeyPair, VerificationAlgorithm,
};
use x509_cert::der::asn1::{BitString, ObjectIdentifier};
use x509_cert::der::{Decode, Encode};
use x509_cert::spki::{
    AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef,
};
use zeroize::Zeroizing;

pub mod cosign;
pub mod keyref;
pub mod password;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;

pub use keyref::KeyRef;

#[cfg(feature = "cli")]
pub use password::password_from_env_or_prompt;
pub use password::{Password, generate_key_pair, import_key_pair, password_from_env};

/// Everything that can go wrong with keys and key files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The output file exists and overwriting was not requested.
    #[error("refusing to overwrite existing {} (use --force to replace it)", path.display())]
    AlreadyExists {
        /// The file that exists.
        path: PathBuf,
    },
    /// A key file is larger than [`Limits::max_key_file_bytes`](crate::limits::Limits::max_key_file_bytes).
    #[error("{} is larger than {limit} bytes; not a key file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A key reference (`--key`) names an environment variable that is not set (or is not
    /// valid UTF-8).
    #[error("environment variable `{var}` (from --key env://{var}) is not set")]
    EnvNotSet {
        /// The variable's name.
        var: String,
    },
    /// An error about the contents of a key read from an environment variable. The message
    /// names the variable, never its content.
    #[error("key in environment variable `{var}`: {error}")]
    InEnv {
        /// The variable's name.
        var: String,
        /// What was wrong with it.
        error: Box<Self>,
    },
    /// A key reference imprint cannot use (KMS, Kubernetes secrets, hardware tokens).
    #[error("key reference `{reference}` is not supported: {reason}")]
    UnsupportedKeyRef {
        /// The reference, up to its `://` (never more: the rest may be a secret's path).
        reference: String,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// An error about the contents of a particular file.
    #[error("{}: {error}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        error: Box<Self>,
    },
    /// The input is not PEM.
    #[error("not a PEM file")]
    Pem(#[source] pem::PemError),
    /// The PEM block has a label we do not accept here.
    #[error("unexpected PEM block `{found}` (expected {expected})")]
    UnexpectedPemLabel {
        /// The label found.
        found: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The PEM block is encrypted the legacy OpenSSL way (`Proc-Type: 4,ENCRYPTED`).
    #[error(
        "PEM block `{label}` is password-encrypted; decrypt it first (for example with `openssl pkey`)"
    )]
    EncryptedPemInput {
        /// The label.
        label: String,
    },
    /// The encrypted key file's JSON is malformed.
    #[error("malformed encrypted key file: invalid JSON")]
    KeyFileJson(#[source] serde_json::Error),
    /// A field of the encrypted key file is malformed.
    #[error("malformed encrypted key file: field `{field}` {problem}")]
    KeyFileField {
        /// The JSON field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The key file names a KDF other than scrypt.
    #[error("unsupported key derivation function `{name}` (only scrypt is supported)")]
    UnsupportedKdf {
        /// The name in the file.
        name: String,
    },
    /// The key file names a cipher other than nacl/secretbox.
    #[error("unsupported cipher `{name}` (only nacl/secretbox is supported)")]
    UnsupportedCipher {
        /// The name in the file.
        name: String,
    },
    /// The scrypt parameters are not one of the sets cosign writes.
    #[error(
        "unsupported scrypt parameters N={n} r={r} p={p} (accepted: N = 32768, 65536 or 131072 with r=8, p=1)"
    )]
    UnsupportedScryptParameters {
        /// Cost parameter N.
        n: u64,
        /// Block size r.
        r: u64,
        /// Parallelism p.
        p: u64,
    },
    /// The secretbox did not open: the password is wrong or the ciphertext was altered.
    #[error("wrong password or corrupted key file")]
    WrongPassword,
    /// The decrypted key is SEC1 (`EC PRIVATE KEY`) DER, which cosign's loader rejects.
    #[error(
        "the decrypted private key is SEC1 (`EC PRIVATE KEY`), not PKCS#8 as cosign requires; cosign rejects this key file"
    )]
    Sec1Plaintext,
    /// The decrypted key is PKCS#1 (`RSA PRIVATE KEY`) DER, which cosign's loader rejects.
    #[error(
        "the decrypted private key is PKCS#1 (`RSA PRIVATE KEY`), not PKCS#8 as cosign requires; cosign rejects this key file"
    )]
    Pkcs1Plaintext,
    /// The private key is not one we can use.
    #[error(
        "unsupported or malformed private key (supported: ECDSA P-256, P-384, P-521, Ed25519, RSA 2048-8192 bits)"
    )]
    UnsupportedPrivateKey,
    /// The public key DER is malformed.
    #[error("malformed public key: {problem}")]
    MalformedPublicKey {
        /// What is wrong.
        problem: &'static str,
    },
    /// The public key uses an algorithm or curve we do not support.
    #[error("unsupported public key algorithm {oid}")]
    UnsupportedPublicKeyAlgorithm {
        /// The algorithm (or curve) OID.
        oid: String,
    },
    /// The certificate could not be parsed.
    #[error("malformed X.509 certificate")]
    MalformedCertificate(#[source] x509_cert::der::Error),
    /// The signature does not verify with the key.
    #[error("signature does not verify with the {algorithm} key {fingerprint}")]
    BadSignature {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// Signing or key generation failed inside the crypto library.
    #[error("{operation} failed in the crypto library")]
    Crypto {
        /// What was being done.
        operation: &'static str,
    },
    /// No password source is available.
    #[error(
        "no password available: set IMPRINT_PASSWORD or COSIGN_PASSWORD (an empty value means an empty password), or run on a terminal"
    )]
    NoPassword,
    /// The two passwords typed at the prompt differ.
    #[error("passwords do not match")]
    PasswordMismatch,
    /// Reading the password from the terminal failed.
    #[error("cannot read the password from the terminal")]
    PasswordPrompt(#[source] std::io::Error),
    /// A PKCS#11 token or key cannot be used. The URI is shown without its PIN.
    #[error("PKCS#11 key `{uri}`: {detail}")]
    Pkcs11 {
        /// The `pkcs11:` URI, PIN removed.
        uri: String,
        /// What went wrong.
        detail: String,
    },
}

impl KeyError {
    /// The error without any [`KeyError::InFile`] wrappers, for matching on the cause.
    pub fn innermost(&self) -> &Self {
        match self {
            Self::InFile { error, .. } | Self::InEnv { error, .. } => error.innermost(),
            other => other,
        }
    }

    pub(crate) fn in_file(self, path: &Path) -> Self {
        Self::InFile {
            path: path.to_path_buf(),
            error: Box::new(self),
        }
    }
}

/// A signature algorithm: key type plus hash and encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256, ASN.1 DER signatures (cosign's default).
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384, ASN.1 DER signatures.
    EcdsaP384Sha384,
    /// ECDSA on P-521 with SHA-512, ASN.1 DER signatures.
    EcdsaP521Sha512,
    /// Ed25519 (pure, no prehash).
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256. As a public key algorithm, verification also accepts
    /// RSA-PSS with SHA-256.
    RsaPkcs1Sha256,
    /// RSA-PSS with SHA-256 (verification only).
    RsaPssSha256,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Self::EcdsaP384Sha384 => "ecdsa-p384-sha384",
            Self::EcdsaP521Sha512 => "ecdsa-p521-sha512",
            Self::Ed25519 => "ed25519",
            Self::RsaPkcs1Sha256 => "rsa-pkcs1v15-sha256",
            Self::RsaPssSha256 => "rsa-pss-sha256",
        })
    }
}

const EC_CURVES: [(KeyAlgorithm, &EcdsaSigningAlgorithm); 3] = [
    (
        KeyAlgorithm::EcdsaP256Sha256,
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
    ),
    (
        KeyAlgorithm::EcdsaP384Sha384,
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
    ),
    (
        KeyAlgorithm::EcdsaP521Sha512,
        &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
    ),
];

enum SigningInner {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
    #[cfg(feature = "pkcs11")]
    Token(pkcs11::TokenKey),
}

/// A private key that signs as cosign does. Its `Debug` output shows only the algorithm and
/// the public key fingerprint, never secret material.
pub struct SigningKey {
    inner: SigningInner,
    algorithm: KeyAlgorithm,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("public_key", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key on a PKCS#11 token (see [`pkcs11`]).
    #[cfg(feature = "pkcs11")]
    pub fn from_token(key: pkcs11::TokenKey) -> Self {
        let public = key.public_key().clone();
        Self {
            algorithm: public.algorithm(),
            public,
            inner: SigningInner::Token(key),
        }
    }

    /// Whether this key lives on a PKCS#11 token.
    pub fn is_token(&self) -> bool {
        match &self.inner {
            #[cfg(feature = "pkcs11")]
            SigningInner::Token(_) => true,
            _ => false,
        }
    }

    /// A fresh ECDSA P-256 key (what `generate-key-pair` makes).
    pub fn generate_p256() -> Result<Self, KeyError> {
        let pair =
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|_| {
                KeyError::Crypto {
                    operation: "key generation",
                }
            })?;
        Self::from_ecdsa(pair, KeyAlgorithm::EcdsaP256Sha256)
    }

    /// Parse an unencrypted PKCS#8 `PrivateKeyInfo` (v1, or v2 with the public key embedded):
    /// EC P-256/P-384/P-521, Ed25519 or RSA (2048-8192 bits).
    ///
    /// SEC1 or PKCS#1 DER is rejected with [`KeyError::Sec1Plaintext`] /
    /// [`KeyError::Pkcs1Plaintext`], as cosign's loader rejects it.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        for (algorithm, signing) in EC_CURVES {
            if let Ok(pair) = EcdsaKeyPair::from_pkcs8(signing, der) {
                return Self::from_ecdsa(pair, algorithm);
            }
        }
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der) {
            return Self::from_ed25519(pair);
        }
        if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            return Self::from_rsa(pair);
        }
        if Self::from_sec1_der(der).is_ok() {
            return Err(KeyError::Sec1Plaintext);
        }
        if RsaKeyPair::from_der(der).is_ok() {
            return Err(KeyError::Pkcs1Plaintext);
        }
        Err(KeyError::UnsupportedPrivateKey)
    }

    /// Parse a SEC1 `ECPrivateKey` (PEM `EC PRIVATE KEY`) on P-256, P-384 or P-521. Used by
    /// `import-key-pair`; key files must hold PKCS#8.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        for (algorithm, signing) in EC_CURVES {
            // from_private_key_der also accepts PKCS#8; insist that this is not PKCS#8.
            if EcdsaKeyPair::from_pkcs8(signing, der).is_ok() {
                return Err(KeyError::UnsupportedPrivateKey);
            }
            if let Ok(pair) = EcdsaKeyPair::from_private_key_der(signing, der) {
                return Self::from_ecdsa(pair, algorithm);
            }
        }
        Err(KeyError::UnsupportedPrivateKey)
    }

    /// Parse a PKCS#1 `RSAPrivateKey` (PEM `RSA PRIVATE KEY`), 2048-8192 bits. Used by
    /// `import-key-pair`; key files must hold PKCS#8.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = RsaKeyPair::from_der(der).map_err(|_| KeyError::UnsupportedPrivateKey)?;
        Self::from_rsa(pair)
    }

    fn from_ecdsa(pair: EcdsaKeyPair, algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        let spki = AsDer::<PublicKeyX509Der>::as_der(pair.public_key())
            .map_err(|_| KeyError::UnsupportedPrivateKey)?;
        let public = PublicKey::from_spki_der(spki.as_ref())?;
        Ok(Self {
            inner: SigningInner::Ecdsa(pair),
            algorithm,
            public,
        })
    }

    fn from_ed25519(pair: Ed25519KeyPair) -> Result<Self, KeyError> {
        let spki = AsDer::<PublicKeyX509Der>::as_der(pair.public_key())
            .map_err(|_| KeyError::UnsupportedPrivateKey)?;
        let public = PublicKey::from_spki_der(spki.as_ref())?;
        Ok(Self {
            inner: SigningInner::Ed25519(pair),
            algorithm: KeyAlgorithm::Ed25519,
            public,
        })
    }

    fn from_rsa(pair: RsaKeyPair) -> Result<Self, KeyError> {
        // aws-lc-rs only loads 2048..=8192-bit keys; cosign's goodkey wants >= 2048 too.
        let spki = AsDer::<PublicKeyX509Der>::as_der(pair.public_key())
            .map_err(|_| KeyError::UnsupportedPrivateKey)?;
        let public = PublicKey::from_spki_der(spki.as_ref())?;
        Ok(Self {
            inner: SigningInner::Rsa(pair),
            algorithm: KeyAlgorithm::RsaPkcs1Sha256,
            public,
        })
    }

    /// The key as PKCS#8 v1 DER (what Go's `x509.MarshalPKCS8PrivateKey` writes).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let failed = |_| KeyError::Crypto {
            operation: "PKCS#8 encoding",
        };
        let bytes = match &self.inner {
            SigningInner::Ecdsa(pair) => {
                Zeroizing::new(pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec())
            }
            SigningInner::Ed25519(pair) => Zeroizing::new(
                AsDer::<Pkcs8V1Der>::as_der(pair)
                    .map_err(failed)?
                    .as_ref()
                    .to_vec(),
            ),
            SigningInner::Rsa(pair) => Zeroizing::new(
                AsDer::<Pkcs8V1Der>::as_der(pair)
                    .map_err(failed)?
                    .as_ref()
                    .to_vec(),
            ),
            #[cfg(feature = "pkcs11")]
            SigningInner::Token(key) => {
                return Err(KeyError::Pkcs11 {
                    uri: key.uri().to_owned(),
                    detail: "a key on a token cannot be exported".into(),
                });
            }
        };
        Ok(bytes)
    }

    /// The signature algorithm this key signs with.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Sign `message` as cosign does: ECDSA ASN.1 DER over the SHA-256/384/512 of the message
    /// (by curve), RSA PKCS#1 v1.5 with SHA-256, Ed25519 pure.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError::Crypto {
            operation: "signing",
        };
        let rng = SystemRandom::new();
        match &self.inner {
            SigningInner::Ecdsa(pair) => {
                Ok(pair.sign(&rng, message).map_err(failed)?.as_ref().to_vec())
            }
            SigningInner::Ed25519(pair) => {
                Ok(pair.try_sign(message).map_err(failed)?.as_ref().to_vec())
            }
            SigningInner::Rsa(pair) => {
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
                    .map_err(failed)?;
                Ok(out)
            }
            #[cfg(feature = "pkcs11")]
            SigningInner::Token(key) => key.sign(message),
        }
    }

    /// [`sign`](Self::sign) over the concatenation of `parts`, without building it: ECDSA and
    /// RSA hash the parts in a stream and sign the digest (the same signature as over the
    /// joined bytes); Ed25519 (pure, no prehash) needs the message in one piece, so its parts
    /// are joined. A DSSE payload of a large SBOM is tens of MiB; its PAE need not be a copy.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError::Crypto {
            operation: "signing",
        };
        match &self.inner {
            SigningInner::Ecdsa(pair) => {
                let alg = match self.algorithm {
                    KeyAlgorithm::EcdsaP384Sha384 => &aws_lc_rs::digest::SHA384,
                    KeyAlgorithm::EcdsaP521Sha512 => &aws_lc_rs::digest::SHA512,
                    _ => &aws_lc_rs::digest::SHA256,
                };
                let digest = digest_parts(alg, parts);
                Ok(pair.sign_digest(&digest).map_err(failed)?.as_ref().to_vec())
            }
            SigningInner::Rsa(pair) => {
                let digest = digest_parts(&aws_lc_rs::digest::SHA256, parts);
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(&signature::RSA_PKCS1_SHA256, &digest, &mut out)
                    .map_err(failed)?;
                Ok(out)
            }
            SigningInner::Ed25519(_) => self.sign(&parts.concat()),
            // The token is handed the whole message (it hashes it in `TokenKey::sign`).
            #[cfg(feature = "pkcs11")]
            SigningInner::Token(_) => self.sign(&parts.concat()),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// RSA key size in bits, if this is an RSA key.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.inner {
            SigningInner::Rsa(pair) => Some(pair.public_modulus_len() * 8),
            #[cfg(feature = "pkcs11")]
            SigningInner::Token(key) => rsa_pem_bits(key.public_key().to_pem().as_bytes()),
            _ => None,
        }
    }
}

// OIDs used in SubjectPublicKeyInfo.
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A verification key, held as its canonical DER SubjectPublicKeyInfo: the SPKI aws-lc-rs
/// writes for the parsed key (for EC keys, with the uncompressed point, whichever SEC1 form
/// the input used). Equality, [`PublicKey::fingerprint`] and [`PublicKey::spki_der`] are all
/// of that canonical form, so one key in several encodings is one identity.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    spki: Vec<u8>,
    algorithm: KeyAlgorithm,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl PublicKey {
    /// Parse a PEM public key: `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1) or `CERTIFICATE`
    /// (the certificate's subject public key is used; the certificate is not validated). Only
    /// the first PEM block is read.
    pub fn from_pem(pem_bytes: &[u8]) -> Result<Self, KeyError> {
        let block = pem::parse(pem_bytes).map_err(KeyError::Pem)?;
        match block.tag() {
            "PUBLIC KEY" => Self::from_spki_der(block.contents()),
            "RSA PUBLIC KEY" => Self::from_pkcs1_rsa_der(block.contents()),
            "CERTIFICATE" => {
                let cert = x509_cert::Certificate::from_der(block.contents())
                    .map_err(KeyError::MalformedCertificate)?;
                let spki = cert
                    .tbs_certificate
                    .subject_public_key_info
                    .to_der()
                    .map_err(KeyError::MalformedCertificate)?;
                Self::from_spki_der(&spki)
            }
            other => Err(KeyError::UnexpectedPemLabel {
                found: other.to_owned(),
                expected: "`PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE`",
            }),
        }
    }

    /// A PKCS#1 `RSAPublicKey` DER, wrapped into an SPKI.
    pub fn from_pkcs1_rsa_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: OID_RSA,
                parameters: Some(x509_cert::der::asn1::Any::null()),
            },
            subject_public_key: BitString::from_bytes(der).map_err(|_| {
                KeyError::MalformedPublicKey {
                    problem: "RSA public key does not fit in a BIT STRING",
                }
            })?,
        }
        .to_der()
        .map_err(|_| KeyError::MalformedPublicKey {
            problem: "cannot encode RSA public key as SubjectPublicKeyInfo",
        })?;
        Self::from_spki_der(&spki)
    }

    /// Parse a DER SubjectPublicKeyInfo: EC P-256/P-384/P-521 (uncompressed, compressed or
    /// hybrid point), Ed25519 or RSA (2048-8192). The key is kept in canonical form.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let info =
            SubjectPublicKeyInfoRef::from_der(der).map_err(|_| KeyError::MalformedPublicKey {
                problem: "not a DER SubjectPublicKeyInfo",
            })?;
        let oid = info.algorithm.oid;
        let algorithm = if oid == OID_EC_PUBLIC_KEY {
            let curve: ObjectIdentifier = info
                .algorithm
                .parameters
                .ok_or(KeyError::MalformedPublicKey {
                    problem: "EC key without a named curve",
                })?
                .decode_as()
                .map_err(|_| KeyError::MalformedPublicKey {
                    problem: "EC key parameters are not a named curve",
                })?;
            if curve == OID_P256 {
                KeyAlgorithm::EcdsaP256Sha256
            } else if curve == OID_P384 {
                KeyAlgorithm::EcdsaP384Sha384
            } else if curve == OID_P521 {
                KeyAlgorithm::EcdsaP521Sha512
            } else {
                return Err(KeyError::UnsupportedPublicKeyAlgorithm {
                    oid: format!("EC curve {curve}"),
                });
            }
        } else if oid == OID_ED25519 {
            KeyAlgorithm::Ed25519
        } else if oid == OID_RSA {
            let modulus_bits = rsa_modulus_bits(info.subject_public_key.raw_bytes())?;
            if !(2048..=8192).contains(&modulus_bits) {
                return Err(KeyError::MalformedPublicKey {
                    problem: "RSA keys must be 2048 to 8192 bits",
                });
            }
            KeyAlgorithm::RsaPkcs1Sha256
        } else {
            return Err(KeyError::UnsupportedPublicKeyAlgorithm {
                oid: oid.to_string(),
            });
        };
        // An EC key is handed to aws-lc-rs as its bare SEC1 point (after the form checks in
        // `ec_point`); other keys as the whole SPKI.
        let point;
        let input = match ec_coordinate_len(algorithm) {
            Some(coordinate) => {
                let bits =
                    info.subject_public_key
                        .as_bytes()
                        .ok_or(KeyError::MalformedPublicKey {
                            problem: "EC public key BIT STRING has unused bits",
                        })?;
                point = ec_point(bits, coordinate)?;
                point.as_slice()
            }
            None => der,
        };
        // Let aws-lc-rs check the key itself (point on curve, RSA size and exponent) and
        // write it back out: the key's identity is that canonical SPKI (for EC, with the
        // uncompressed point), so every encoding of one key gets one fingerprint.
        let parsed = ParsedPublicKey::new(verification_algorithms(algorithm)[0], input).map_err(
            |_| KeyError::MalformedPublicKey {
                problem: "the key material is invalid or unsupported (RSA must be 2048-8192 bits)",
            },
        )?;
        let canonical = AsDer::<PublicKeyX509Der>::as_der(&parsed).map_err(|_| {
            KeyError::MalformedPublicKey {
                problem: "the key cannot be re-encoded as a SubjectPublicKeyInfo",
            }
        })?;
        Ok(Self {
            spki: canonical.as_ref().to_vec(),
            algorithm,
        })
    }

    /// Verify `signature` over `message`. ECDSA signatures are ASN.1 DER over the curve's
    /// hash (P-384 and P-521 keys also accept SHA-256, which legacy `cosign verify --key`
    /// uses for every curve); RSA accepts PKCS#1 v1.5 and PSS with SHA-256; Ed25519 is pure.
    /// Any mismatch is [`KeyError::BadSignature`].
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        for alg in verification_algorithms(self.algorithm) {
            if let Ok(key) = ParsedPublicKey::new(*alg, &self.spki)
                && key.verify_sig(message, signature).is_ok()
            {
                return Ok(());
            }
        }
        Err(KeyError::BadSignature {
            algorithm: self.algorithm,
            fingerprint: self.fingerprint(),
        })
    }

    /// [`verify`](Self::verify) over the concatenation of `parts`, without building it:
    /// ECDSA and RSA hash the parts in a stream (once per hash the key's algorithms use) and
    /// verify the digest; Ed25519 (pure) joins them. Accepts exactly what `verify` accepts.
    pub fn verify_parts(&self, parts: &[&[u8]], signature: &[u8]) -> Result<(), KeyError> {
        let Some(algs) = prehash_algorithms(self.algorithm) else {
            return self.verify(&parts.concat(), signature);
        };
        let mut digests: Vec<aws_lc_rs::digest::Digest> = Vec::with_capacity(2);
        for (alg, hash) in algs {
            let digest = match digests.iter().find(|d| d.algorithm() == *hash) {
                Some(d) => *d,
                None => {
                    let d = digest_parts(hash, parts);
                    digests.push(d);
                    d
                }
            };
            if let Ok(key) = ParsedPublicKey::new(*alg, &self.spki)
                && key.verify_digest_sig(&digest, signature).is_ok()
            {
                return Ok(());
            }
        }
        Err(KeyError::BadSignature {
            algorithm: self.algorithm,
            fingerprint: self.fingerprint(),
        })
    }

    /// The canonical DER SubjectPublicKeyInfo (see [`PublicKey`]).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// `sha256:<hex>` of the canonical DER SubjectPublicKeyInfo: the key's identity, the same
    /// for every encoding of the key.
    pub fn fingerprint(&self) -> String {
        crate::format::digest::Digest::of(&self.spki).to_string()
    }

    /// PEM `PUBLIC KEY`, 64-character lines, `\n` line ends, trailing newline (as Go writes).
    pub fn to_pem(&self) -> String {
        go_pem("PUBLIC KEY", &self.spki)
    }

    /// The key's algorithm ([`KeyAlgorithm::RsaPkcs1Sha256`] for any RSA key).
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }
}

/// Size in bytes of one coordinate of the curve, for EC algorithms.
fn ec_coordinate_len(algorithm: KeyAlgorithm) -> Option<usize> {
    match algorithm {
        KeyAlgorithm::EcdsaP256Sha256 => Some(32),
        KeyAlgorithm::EcdsaP384Sha384 => Some(48),
        KeyAlgorithm::EcdsaP521Sha512 => Some(66),
        _ => None,
    }
}

/// Checks the form and length of a SEC1 point (uncompressed `04 X Y`, compressed `02/03 X`,
/// hybrid `06/07 X Y`) and returns it in a form aws-lc-rs parses: a hybrid point must have
/// the Y parity its prefix states and becomes `04 X Y`. aws-lc-rs checks that the point is
/// on the curve (and decompresses), but does not say which of these was wrong, and
/// accepting hybrid points is not something every libcrypto does; this byte-level check
/// makes both explicit.
fn ec_point(point: &[u8], coordinate: usize) -> Result<Vec<u8>, KeyError> {
    let wrong_size = KeyError::MalformedPublicKey {
        problem: "EC point has the wrong length for its form and curve",
    };
    match point.first() {
        Some(0x04) if point.len() == 1 + 2 * coordinate => Ok(point.to_vec()),
        Some(0x02 | 0x03) if point.len() == 1 + coordinate => Ok(point.to_vec()),
        Some(&prefix @ (0x06 | 0x07)) if point.len() == 1 + 2 * coordinate => {
            let y_odd = point.last().is_some_and(|last| last & 1 == 1);
            if y_odd != (prefix == 0x07) {
                return Err(KeyError::MalformedPublicKey {
                    problem: "hybrid EC point: the prefix's Y parity does not match Y",
                });
            }
            let mut uncompressed = point.to_vec();
            uncompressed[0] = 0x04;
            Ok(uncompressed)
        }
        Some(0x02..=0x04 | 0x06 | 0x07) => Err(wrong_size),
        _ => Err(KeyError::MalformedPublicKey {
            problem: "EC point is not uncompressed (04), compressed (02/03) or hybrid (06/07)",
        }),
    }
}

/// Bit length of the modulus of a PKCS#1 `RSAPublicKey`.
/// The modulus size in bits of an RSA public key in PEM (`PUBLIC KEY`, `RSA PUBLIC KEY` or
/// `CERTIFICATE`; first block), also for sizes [`PublicKey::from_pem`] refuses (below 2048
/// bits). `None` when the PEM is not an RSA public key or does not parse.
pub fn rsa_pem_bits(pem_bytes: &[u8]) -> Option<usize> {
    let block = pem::parse(pem_bytes).ok()?;
    let spki_bits = |der: &[u8]| -> Option<usize> {
        let info = SubjectPublicKeyInfoRef::from_der(der).ok()?;
        if info.algorithm.oid != OID_RSA {
            return None;
        }
        rsa_modulus_bits(info.subject_public_key.raw_bytes()).ok()
    };
    match block.tag() {
        "PUBLIC KEY" => spki_bits(block.contents()),
        "RSA PUBLIC KEY" => rsa_modulus_bits(block.contents()).ok(),
        "CERTIFICATE" => {
            let cert = x509_cert::Certificate::from_der(block.contents()).ok()?;
            let spki = cert.tbs_certificate.subject_public_key_info.to_der().ok()?;
            spki_bits(&spki)
        }
        _ => None,
    }
}

fn rsa_modulus_bits(pkcs1: &[u8]) -> Result<usize, KeyError> {
    use x509_cert::der::asn1::UintRef;
    use x509_cert::der::{Reader, SliceReader};
    let malformed = |_| KeyError::MalformedPublicKey {
        problem: "RSA public key is not a DER RSAPublicKey",
    };
    let mut reader = SliceReader::new(pkcs1).map_err(malformed)?;
    let modulus = reader
        .sequence(|r| {
            let n = UintRef::decode(r)?;
            let _e = UintRef::decode(r)?;
            Ok(n.as_bytes().to_vec())
        })
        .map_err(malformed)?;
    reader.finish(()).map_err(malformed)?;
    Ok(match modulus.first() {
        Some(&top) => modulus.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    })
}

/// The hash of the concatenation of `parts`.
fn digest_parts(
    alg: &'static aws_lc_rs::digest::Algorithm,
    parts: &[&[u8]],
) -> aws_lc_rs::digest::Digest {
    let mut ctx = aws_lc_rs::digest::Context::new(alg);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish()
}

type Prehashed = (
    &'static dyn VerificationAlgorithm,
    &'static aws_lc_rs::digest::Algorithm,
);

/// [`verification_algorithms`] with the hash each one applies to the message, for the
/// algorithms that verify a digest (`None`: Ed25519, which hashes the message itself).
/// Same algorithms, same order.
fn prehash_algorithms(algorithm: KeyAlgorithm) -> Option<&'static [Prehashed]> {
    use aws_lc_rs::digest::{SHA256, SHA384, SHA512};
    Some(match algorithm {
        KeyAlgorithm::EcdsaP256Sha256 => &[(&signature::ECDSA_P256_SHA256_ASN1, &SHA256)],
        KeyAlgorithm::EcdsaP384Sha384 => &[
            (&signature::ECDSA_P384_SHA384_ASN1, &SHA384),
            (&signature::ECDSA_P384_SHA256_ASN1, &SHA256),
        ],
        KeyAlgorithm::EcdsaP521Sha512 => &[
            (&signature::ECDSA_P521_SHA512_ASN1, &SHA512),
            (&signature::ECDSA_P521_SHA256_ASN1, &SHA256),
        ],
        KeyAlgorithm::Ed25519 => return None,
        KeyAlgorithm::RsaPkcs1Sha256 | KeyAlgorithm::RsaPssSha256 => &[
            (&signature::RSA_PKCS1_2048_8192_SHA256, &SHA256),
            (&signature::RSA_PSS_2048_8192_SHA256, &SHA256),
        ],
    })
}

fn verification_algorithms(
    algorithm: KeyAlgorithm,
) -> &'static [&'static dyn VerificationAlgorithm] {
    match algorithm {
        KeyAlgorithm::EcdsaP256Sha256 => &[&signature::ECDSA_P256_SHA256_ASN1],
        // Legacy `cosign verify --key` hashes with SHA-256 whatever the curve, so signatures
        // over SHA-256 of the message are accepted from P-384 and P-521 keys as well.
        KeyAlgorithm::EcdsaP384Sha384 => &[
            &signature::ECDSA_P384_SHA384_ASN1,
            &signature::ECDSA_P384_SHA256_ASN1,
        ],
        KeyAlgorithm::EcdsaP521Sha512 => &[
            &signature::ECDSA_P521_SHA512_ASN1,
            &signature::ECDSA_P521_SHA256_ASN1,
        ],
        KeyAlgorithm::Ed25519 => &[&signature::ED25519],
        KeyAlgorithm::RsaPkcs1Sha256 | KeyAlgorithm::RsaPssSha256 => &[
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &signature::RSA_PSS_2048_8192_SHA256,
        ],
    }
}

/// PEM as Go's `pem.Encode` writes it.
pub(crate) fn go_pem(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Read a whole key file, refusing anything larger than [`Limits::max_key_file_bytes`].
pub(crate) fn read_limited(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let limit = crate::limits::Limits::DEFAULT.max_key_file_bytes;
    crate::fs::read_limited(path, limit)
        .map(Zeroizing::new)
        .map_err(|e| match e {
            crate::fs::ReadError::TooLarge { path, limit, .. } => {
                KeyError::TooLarge { path, limit }
            }
            crate::fs::ReadError::Io { path, source } => KeyError::Read { path, source },
        })
}

/// Load a cosign encrypted private key file (`ENCRYPTED SIGSTORE PRIVATE KEY` or the older
/// `ENCRYPTED COSIGN PRIVATE KEY`). Errors name the file.
pub fn load_signing_key(path: &Path, password: &Password) -> Result<SigningKey, KeyError> {
    let bytes = read_limited(path)?;
    cosign::decrypt(&bytes, password.as_bytes()).map_err(|e| e.in_file(path))
}

/// A warning when the private key file at `path` can be read or written by users other than
/// its owner (any of the mode bits `0o077`), as ssh checks. The key is encrypted, but its
/// password is then the only protection. `None` when the mode is private, or cannot be read
/// (loading reports that).
pub fn private_key_file_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "private key file `{}` is accessible by other users (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

/// Load a PEM public key file (`PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE`). Errors name
/// the file.
pub fn load_public_key(path: &Path) -> Result<PublicKey, KeyError> {
    let bytes = read_limited(path)?;
    PublicKey::from_pem(&bytes).map_err(|e| e.in_file(path))
}

#[cfg(test)]
mod file_mode_tests {
    use std::os::unix::fs::PermissionsExt as _;

    /// Regression (issue 10): a world-readable private key file was used without a word.
    #[test]
    fn a_key_file_readable_by_others_gets_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cosign.key");
        std::fs::write(&path, b"not read").unwrap();
        for (mode, warned) in [
            (0o600, false),
            (0o400, false),
            (0o644, true),
            (0o640, true),
            (0o606, true),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let w = super::private_key_file_warning(&path);
            assert_eq!(w.is_some(), warned, "mode {mode:o}: {w:?}");
            if let Some(w) = w {
                assert!(
                    w.contains(&format!("{mode:04o}")) && w.contains("chmod 600"),
                    "{w}"
                );
            }
        }
        assert!(super::private_key_file_warning(&dir.path().join("missing")).is_none());
    }
}

/// Test support: the vector P-256 key and its public key as SPKI DER in the three SEC1 point
/// encodings `[uncompressed, compressed, hybrid]`, derived here from the uncompressed point.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) fn test_p256_encodings() -> (SigningKey, [Vec<u8>; 3]) {
    let path = crate::format::vectors_dir().join("keys/sigstore-rs-ecdsa_private.key");
    let pem_text = std::fs::read(&path).unwrap();
    let block = pem::parse(&pem_text).unwrap();
    let key = SigningKey::from_pkcs8_der(block.contents()).unwrap();
    let uncompressed = key.public_key().spki_der().to_vec();
    let (compressed, hybrid) = test_other_encodings(&uncompressed);
    (key, [uncompressed, compressed, hybrid])
}

/// Test support: the compressed and hybrid SPKI of an uncompressed EC SPKI.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) fn test_other_encodings(uncompressed: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let info = SubjectPublicKeyInfoOwned::from_der(uncompressed).unwrap();
    let point = info.subject_public_key.raw_bytes();
    assert_eq!(point[0], 0x04);
    let y_odd = point[point.len() - 1] & 1;
    let coordinate = (point.len() - 1) / 2;
    let mut compressed = vec![0x02 | y_odd];
    compressed.extend_from_slice(&point[1..=coordinate]);
    let mut hybrid = point.to_vec();
    hybrid[0] = 0x06 | y_odd;
    let with_point = |p: &[u8]| {
        let mut info = info.clone();
        info.subject_public_key = BitString::from_bytes(p).unwrap();
        info.to_der().unwrap()
    };
    (with_point(&compressed), with_point(&hybrid))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn signing_and_verifying_parts_equals_the_joined_message() {
        use aws_lc_rs::rsa::KeySize;
        let p384 = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap();
        let p521 = EcdsaKeyPair::generate(&signature::ECDSA_P521_SHA512_ASN1_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap();
        let ed = Ed25519KeyPair::generate().unwrap().to_pkcs8().unwrap();
        let rsa =
            AsDer::<Pkcs8V1Der>::as_der(&RsaKeyPair::generate(KeySize::Rsa2048).unwrap()).unwrap();
        let keys = [
            SigningKey::generate_p256().unwrap(),
            SigningKey::from_pkcs8_der(p384.as_ref()).unwrap(),
            SigningKey::from_pkcs8_der(p521.as_ref()).unwrap(),
            SigningKey::from_pkcs8_der(ed.as_ref()).unwrap(),
            SigningKey::from_pkcs8_der(rsa.as_ref()).unwrap(),
        ];
        let parts: [&[u8]; 4] = [b"DSSEv1 4 type 9 ", b"{\"a\"", b"", b":[1]}"];
        let joined = parts.concat();
        for key in &keys {
            let public = key.public_key();
            let from_parts = key.sign_parts(&parts).unwrap();
            public.verify(&joined, &from_parts).unwrap();
            public.verify_parts(&parts, &from_parts).unwrap();
            let whole = key.sign(&joined).unwrap();
            public.verify_parts(&parts, &whole).unwrap();
            // A different message, and a split that joins to a different message, fail.
            assert!(
                public
                    .verify_parts(&[b"DSSEv1 4 type 9 {}"], &whole)
                    .is_err()
            );
            assert!(public.verify_parts(&parts[..3], &whole).is_err());
            assert!(
                key.public_key()
                    .verify_parts(&parts, &whole[..whole.len() - 1])
                    .is_err()
            );
        }
    }

    #[test]
    fn keys_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SigningKey>();
        assert_send_sync::<PublicKey>();
        assert_send_sync::<KeyError>();
        assert_send_sync::<Password>();
    }

    #[test]
    fn to_pem_is_go_formatted() {
        let key = SigningKey::generate_p256().unwrap().public_key();
        let pem = key.to_pem();
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(*lines.last().unwrap(), "-----END PUBLIC KEY-----");
        assert!(pem.ends_with("-----\n") && !pem.contains('\r'));
        assert_eq!(PublicKey::from_pem(pem.as_bytes()).unwrap(), key);
    }

    #[test]
    fn fingerprint_is_sha256_of_spki() {
        let key = SigningKey::generate_p256().unwrap().public_key();
        let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.spki_der());
        assert_eq!(
            key.fingerprint(),
            format!("sha256:{}", hex::encode(expected.as_ref()))
        );
    }

    #[test]
    fn in_file_wrapping_keeps_the_cause() {
        let err = KeyError::WrongPassword.in_file(Path::new("a/b.key"));
        assert!(matches!(err.innermost(), KeyError::WrongPassword));
        assert_eq!(
            err.to_string(),
            "a/b.key: wrong password or corrupted key file"
        );
    }

    #[test]
    fn unsupported_spki_algorithm_is_named() {
        // SPKI with an X25519 key (OID 1.3.101.110): a key type cosign does not sign with.
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(&[7u8; 32]);
        let err = PublicKey::from_spki_der(&der).unwrap_err();
        assert!(
            matches!(&err, KeyError::UnsupportedPublicKeyAlgorithm { oid } if oid == "1.3.101.110"),
            "{err:?}"
        );
    }

    #[test]
    fn one_p256_key_in_three_encodings_has_one_identity() {
        let (key, encodings) = test_p256_encodings();
        let parsed: Vec<PublicKey> = encodings
            .iter()
            .map(|der| PublicKey::from_spki_der(der).unwrap())
            .collect();
        for (der, k) in encodings.iter().zip(&parsed) {
            assert_eq!(k, &key.public_key(), "{}", hex::encode(der));
            assert_eq!(k.fingerprint(), key.public_key().fingerprint());
            // The canonical SPKI carries the uncompressed point.
            assert_eq!(k.spki_der(), encodings[0].as_slice());
        }
        // The same through PEM.
        for der in &encodings {
            let pem = go_pem("PUBLIC KEY", der);
            assert_eq!(
                PublicKey::from_pem(pem.as_bytes()).unwrap().fingerprint(),
                key.public_key().fingerprint()
            );
        }
    }

    #[test]
    fn signatures_verify_under_compressed_and_hybrid_encodings() {
        let (key, encodings) = test_p256_encodings();
        let sig = key.sign(b"payload").unwrap();
        for der in &encodings {
            let public = PublicKey::from_spki_der(der).unwrap();
            public.verify(b"payload", &sig).unwrap();
            assert!(public.verify(b"other", &sig).is_err());
        }
    }

    #[test]
    fn p384_and_p521_compressed_and_hybrid_are_the_same_key() {
        for (algorithm, signing) in &EC_CURVES[1..] {
            let pair = EcdsaKeyPair::generate(signing).unwrap();
            let key = SigningKey::from_ecdsa(pair, *algorithm).unwrap();
            let uncompressed = key.public_key().spki_der().to_vec();
            let (compressed, hybrid) = test_other_encodings(&uncompressed);
            let sig = key.sign(b"m").unwrap();
            for der in [&compressed, &hybrid] {
                let public = PublicKey::from_spki_der(der).unwrap();
                assert_eq!(public, key.public_key(), "{algorithm}");
                public.verify(b"m", &sig).unwrap();
            }
        }
    }

    #[test]
    fn hybrid_point_with_the_wrong_y_parity_is_rejected() {
        let (_, [_, _, hybrid]) = test_p256_encodings();
        let mut info = SubjectPublicKeyInfoOwned::from_der(&hybrid).unwrap();
        let mut point = info.subject_public_key.raw_bytes().to_vec();
        point[0] ^= 1; // 0x06 <-> 0x07: the parity no longer matches Y
        info.subject_public_key = BitString::from_bytes(&point).unwrap();
        let err = PublicKey::from_spki_der(&info.to_der().unwrap()).unwrap_err();
        assert!(
            matches!(&err, KeyError::MalformedPublicKey { problem } if problem.contains("hybrid")),
            "{err:?}"
        );
    }

    #[test]
    fn ec_points_of_the_wrong_form_or_length_are_rejected() {
        let (_, [uncompressed, compressed, _]) = test_p256_encodings();
        for (base, edit) in [
            (&uncompressed, 0x05u8), // unknown prefix
            (&compressed, 0x04),     // uncompressed prefix on 33 bytes
            (&uncompressed, 0x02),   // compressed prefix on 65 bytes
        ] {
            let mut info = SubjectPublicKeyInfoOwned::from_der(base).unwrap();
            let mut point = info.subject_public_key.raw_bytes().to_vec();
            point[0] = edit;
            info.subject_public_key = BitString::from_bytes(&point).unwrap();
            let err = PublicKey::from_spki_der(&info.to_der().unwrap()).unwrap_err();
            assert!(
                matches!(&err, KeyError::MalformedPublicKey { .. }),
                "{edit:#x}: {err:?}"
            );
        }
    }

    #[test]
    fn rsa_pkcs1_and_spki_are_one_identity() {
        let path = crate::format::vectors_dir().join("keys/sigstore-rs-rsa_private.key");
        let block = pem::parse(std::fs::read(path).unwrap()).unwrap();
        let key = SigningKey::from_pkcs1_der(block.contents()).unwrap();
        let spki = key.public_key();
        let info = SubjectPublicKeyInfoRef::from_der(spki.spki_der()).unwrap();
        let pkcs1 = PublicKey::from_pkcs1_rsa_der(info.subject_public_key.raw_bytes()).unwrap();
        assert_eq!(pkcs1.fingerprint(), spki.fingerprint());
    }
}
