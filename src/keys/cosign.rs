//! cosign's encrypted private key file.
//!
//! A PEM block `ENCRYPTED SIGSTORE PRIVATE KEY` (older files: `ENCRYPTED COSIGN PRIVATE KEY`)
//! whose body is this JSON (go-securesystemslib `encrypted`, compact, in this key order):
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64, 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<b64, 24 bytes>"},
//!  "ciphertext":"<b64>"}
//! ```
//!
//! The secretbox key is `scrypt(password, salt, N, r, p, 32)`; the ciphertext is Poly1305 tag
//! then XSalsa20 ciphertext of the PKCS#8 DER private key. Only the scrypt parameter sets
//! cosign has written are accepted (N = 32768, 65536 or 131072, r = 8, p = 1); anything else is
//! refused before the KDF runs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{KeyError, SigningKey, go_pem};

/// PEM label written by [`encrypt`].
pub const PEM_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// Older PEM label, accepted by [`decrypt`].
pub const LEGACY_PEM_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// scrypt N that [`encrypt`] uses (cosign's current default).
pub const SCRYPT_N: u64 = 65536;
const SCRYPT_R: u64 = 8;
const SCRYPT_P: u64 = 1;
/// The scrypt N values cosign has used: legacy, standard, OWASP.
pub const ACCEPTED_SCRYPT_N: [u64; 3] = [32768, 65536, 131072];

const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const MAX_SALT_LEN: usize = 1024;

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Encrypt a PKCS#8 DER private key with `password` into cosign's PEM key file format
/// (`ENCRYPTED SIGSTORE PRIVATE KEY`, scrypt N=65536 r=8 p=1, fresh random salt and nonce).
///
/// The DER is checked to be a key [`SigningKey::from_pkcs8_der`] accepts, so the file written
/// can always be loaded again.
pub fn encrypt(pkcs8_der: &[u8], password: &[u8]) -> Result<String, KeyError> {
    SigningKey::from_pkcs8_der(pkcs8_der)?;
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| KeyError::Crypto {
        operation: "random salt generation",
    })?;
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| KeyError::Crypto {
        operation: "random nonce generation",
    })?;
    let key = derive_key(password, &salt, SCRYPT_N)?;
    let cipher = XSalsa20Poly1305::new(key.as_slice().into());
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), pkcs8_der)
        .map_err(|_| KeyError::Crypto {
            operation: "secretbox encryption",
        })?;
    let envelope = Envelope {
        kdf: Kdf {
            name: KDF_NAME.to_owned(),
            params: KdfParams {
                n: SCRYPT_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: B64.encode(salt),
        },
        cipher: Cipher {
            name: CIPHER_NAME.to_owned(),
            nonce: B64.encode(nonce),
        },
        ciphertext: B64.encode(&ciphertext),
    };
    let json = serde_json::to_vec(&envelope).map_err(KeyError::KeyFileJson)?;
    Ok(go_pem(PEM_LABEL, &json))
}

/// Decrypt a cosign encrypted key file (either label) and parse the PKCS#8 key inside.
///
/// Errors: [`KeyError::WrongPassword`] when the secretbox does not open,
/// [`KeyError::UnsupportedScryptParameters`] (checked before the KDF runs),
/// [`KeyError::Sec1Plaintext`] when the plaintext is SEC1 rather than PKCS#8.
pub fn decrypt(pem_bytes: &[u8], password: &[u8]) -> Result<SigningKey, KeyError> {
    let block = pem::parse(pem_bytes).map_err(KeyError::Pem)?;
    if block.tag() != PEM_LABEL && block.tag() != LEGACY_PEM_LABEL {
        return Err(KeyError::UnexpectedPemLabel {
            found: block.tag().to_owned(),
            expected: "`ENCRYPTED SIGSTORE PRIVATE KEY` or `ENCRYPTED COSIGN PRIVATE KEY`",
        });
    }
    let envelope: Envelope =
        serde_json::from_slice(block.contents()).map_err(KeyError::KeyFileJson)?;

    if envelope.kdf.name != KDF_NAME {
        return Err(KeyError::UnsupportedKdf {
            name: envelope.kdf.name,
        });
    }
    if envelope.cipher.name != CIPHER_NAME {
        return Err(KeyError::UnsupportedCipher {
            name: envelope.cipher.name,
        });
    }
    let KdfParams { n, r, p } = envelope.kdf.params;
    if !ACCEPTED_SCRYPT_N.contains(&n) || r != SCRYPT_R || p != SCRYPT_P {
        return Err(KeyError::UnsupportedScryptParameters { n, r, p });
    }
    let salt = decode_field("kdf.salt", &envelope.kdf.salt)?;
    if salt.is_empty() || salt.len() > MAX_SALT_LEN {
        return Err(KeyError::KeyFileField {
            field: "kdf.salt",
            problem: "must be 1 to 1024 bytes",
        });
    }
    let nonce = decode_field("cipher.nonce", &envelope.cipher.nonce)?;
    if nonce.len() != NONCE_LEN {
        return Err(KeyError::KeyFileField {
            field: "cipher.nonce",
            problem: "must be 24 bytes",
        });
    }
    let ciphertext = decode_field("ciphertext", &envelope.ciphertext)?;
    if ciphertext.len() < TAG_LEN {
        return Err(KeyError::KeyFileField {
            field: "ciphertext",
            problem: "is shorter than the 16-byte authentication tag",
        });
    }

    let key = derive_key(password, &salt, n)?;
    let cipher = XSalsa20Poly1305::new(key.as_slice().into());
    let plaintext = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| KeyError::WrongPassword)?,
    );
    SigningKey::from_pkcs8_der(&plaintext)
}

fn decode_field(field: &'static str, value: &str) -> Result<Vec<u8>, KeyError> {
    B64.decode(value).map_err(|_| KeyError::KeyFileField {
        field,
        problem: "is not valid base64",
    })
}

/// `scrypt(password, salt, n, 8, 1, 32)`. `n` must already be one of [`ACCEPTED_SCRYPT_N`].
fn derive_key(password: &[u8], salt: &[u8], n: u64) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let unsupported = KeyError::UnsupportedScryptParameters {
        n,
        r: SCRYPT_R,
        p: SCRYPT_P,
    };
    if !ACCEPTED_SCRYPT_N.contains(&n) {
        return Err(unsupported);
    }
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| KeyError::Crypto {
        operation: "scrypt parameter setup",
    })?;
    // r and p are the constants 8 and 1.
    let params = scrypt::Params::new(log_n, 8, 1).map_err(|_| unsupported)?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut_slice()).map_err(|_| KeyError::Crypto {
        operation: "scrypt key derivation",
    })?;
    Ok(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn envelope_pem(json: &str) -> String {
        go_pem(PEM_LABEL, json.as_bytes())
    }

    fn json_with(n: u64, r: u64, p: u64) -> String {
        format!(
            r#"{{"kdf":{{"name":"scrypt","params":{{"N":{n},"r":{r},"p":{p}}},"salt":"{}"}},"cipher":{{"name":"nacl/secretbox","nonce":"{}"}},"ciphertext":"{}"}}"#,
            B64.encode([1u8; 32]),
            B64.encode([2u8; 24]),
            B64.encode([3u8; 64])
        )
    }

    #[test]
    fn round_trip_p256() {
        let key = SigningKey::generate_p256().unwrap();
        let der = key.to_pkcs8_der().unwrap();
        let pem = encrypt(&der, b"pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        for line in pem.lines() {
            assert!(line.len() <= 64, "line too long: {line}");
        }
        let back = decrypt(pem.as_bytes(), b"pw").unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }

    #[test]
    fn json_layout_matches_go() {
        let key = SigningKey::generate_p256().unwrap();
        let pem = encrypt(&key.to_pkcs8_der().unwrap(), b"").unwrap();
        let block = pem::parse(pem.as_bytes()).unwrap();
        let json = std::str::from_utf8(block.contents()).unwrap();
        assert!(
            json.starts_with(
                r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#
            ),
            "{json}"
        );
        assert!(json.contains(r#""cipher":{"name":"nacl/secretbox","nonce":""#));
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let salt = B64.decode(v["kdf"]["salt"].as_str().unwrap()).unwrap();
        let nonce = B64.decode(v["cipher"]["nonce"].as_str().unwrap()).unwrap();
        let ct = B64.decode(v["ciphertext"].as_str().unwrap()).unwrap();
        assert_eq!(salt.len(), 32);
        assert_eq!(nonce.len(), 24);
        assert_eq!(ct.len(), key.to_pkcs8_der().unwrap().len() + 16);
    }

    #[test]
    fn salt_and_nonce_are_fresh() {
        let der = SigningKey::generate_p256().unwrap().to_pkcs8_der().unwrap();
        assert_ne!(encrypt(&der, b"x").unwrap(), encrypt(&der, b"x").unwrap());
    }

    #[test]
    fn wrong_password() {
        let der = SigningKey::generate_p256().unwrap().to_pkcs8_der().unwrap();
        let pem = encrypt(&der, b"right").unwrap();
        let err = decrypt(pem.as_bytes(), b"wrong").unwrap_err();
        assert!(matches!(err, KeyError::WrongPassword));
        assert_eq!(err.to_string(), "wrong password or corrupted key file");
    }

    #[test]
    fn absurd_scrypt_parameters_refused_fast() {
        let start = std::time::Instant::now();
        for (n, r, p) in [
            (1u64 << 30, 8, 1),
            (16384, 8, 1),
            (65536, 16, 1),
            (65536, 8, 2),
            (0, 8, 1),
        ] {
            let err = decrypt(envelope_pem(&json_with(n, r, p)).as_bytes(), b"x").unwrap_err();
            assert!(
                matches!(err, KeyError::UnsupportedScryptParameters { n: en, r: er, p: ep } if en == n && er == r && ep == p),
                "{err:?}"
            );
            assert!(err.to_string().contains("unsupported scrypt parameters"));
        }
        assert!(start.elapsed() < std::time::Duration::from_millis(500));
    }

    #[test]
    fn unknown_kdf_and_cipher() {
        let j = json_with(65536, 8, 1).replace("\"scrypt\"", "\"argon2\"");
        assert!(matches!(
            decrypt(envelope_pem(&j).as_bytes(), b"").unwrap_err(),
            KeyError::UnsupportedKdf { name } if name == "argon2"
        ));
        let j = json_with(65536, 8, 1).replace("nacl/secretbox", "aes-gcm");
        assert!(matches!(
            decrypt(envelope_pem(&j).as_bytes(), b"").unwrap_err(),
            KeyError::UnsupportedCipher { name } if name == "aes-gcm"
        ));
    }

    #[test]
    fn malformed_envelopes() {
        let bad_json = envelope_pem("{not json");
        assert!(matches!(
            decrypt(bad_json.as_bytes(), b"").unwrap_err(),
            KeyError::KeyFileJson(_)
        ));
        let short_nonce =
            json_with(32768, 8, 1).replace(&B64.encode([2u8; 24]), &B64.encode([2u8; 12]));
        assert!(matches!(
            decrypt(envelope_pem(&short_nonce).as_bytes(), b"").unwrap_err(),
            KeyError::KeyFileField {
                field: "cipher.nonce",
                ..
            }
        ));
        let bad_b64 = json_with(32768, 8, 1).replace(&B64.encode([1u8; 32]), "!!!");
        assert!(matches!(
            decrypt(envelope_pem(&bad_b64).as_bytes(), b"").unwrap_err(),
            KeyError::KeyFileField {
                field: "kdf.salt",
                ..
            }
        ));
        let other_label = go_pem("PRIVATE KEY", b"abc");
        assert!(matches!(
            decrypt(other_label.as_bytes(), b"").unwrap_err(),
            KeyError::UnexpectedPemLabel { .. }
        ));
        assert!(matches!(
            decrypt(b"hello", b"").unwrap_err(),
            KeyError::Pem(_)
        ));
    }

    #[test]
    fn legacy_label_accepted() {
        let key = SigningKey::generate_p256().unwrap();
        let pem = encrypt(&key.to_pkcs8_der().unwrap(), b"pw").unwrap();
        let legacy = pem.replace(PEM_LABEL, LEGACY_PEM_LABEL);
        let back = decrypt(legacy.as_bytes(), b"pw").unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }

    #[test]
    fn encrypt_rejects_non_pkcs8() {
        assert!(encrypt(b"not a key", b"pw").is_err());
    }
}
