//! Key references as cosign's `--key` takes them: a file path, or `env://VAR` (the PEM is the
//! value of the environment variable `VAR`). KMS URIs (`awskms://`, `gcpkms://`,
//! `azurekms://`, `hashivault://`), Kubernetes secrets (`k8s://`) and GitLab variables
//! (`gitlab://`) are recognised and refused by name, so they are never read as a file of that
//! name. `pkcs11:` URIs (RFC 7512) name a key on a PKCS#11 token (feature `pkcs11`,
//! [`super::pkcs11`]); without the feature they are refused by name too.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{KeyError, Password, PublicKey, SigningKey};

/// Where a key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRef {
    /// A PEM file.
    File(PathBuf),
    /// `env://VAR`: the PEM is the value of the environment variable `VAR`.
    Env(String),
    /// `pkcs11:…`: a key on a PKCS#11 token (RFC 7512 URI; feature `pkcs11`).
    #[cfg(feature = "pkcs11")]
    Pkcs11(Box<super::pkcs11::Pkcs11Uri>),
}

/// Schemes cosign accepts for `--key` that imprint does not, with the reason.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "awskms://",
        "KMS keys are not supported; export the public key, or sign with a cosign key file",
    ),
    (
        "gcpkms://",
        "KMS keys are not supported; export the public key, or sign with a cosign key file",
    ),
    (
        "azurekms://",
        "KMS keys are not supported; export the public key, or sign with a cosign key file",
    ),
    (
        "hashivault://",
        "KMS keys are not supported; export the public key, or sign with a cosign key file",
    ),
    (
        "k8s://",
        "Kubernetes secrets are not read; pass the key with env://VAR or a file",
    ),
    (
        "gitlab://",
        "GitLab CI variables are not read; pass the key with env://VAR or a file",
    ),
    #[cfg(not(feature = "pkcs11"))]
    (
        "pkcs11:",
        "this imprint was built without the `pkcs11` feature; use a cosign key file",
    ),
];

impl KeyRef {
    /// Parse a `--key` value. Refuses the schemes imprint does not support and an `env://`
    /// without a variable name.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        if let Some(var) = s.strip_prefix("env://") {
            if var.is_empty() || var.contains('=') || var.contains('\0') {
                return Err(KeyError::UnsupportedKeyRef {
                    reference: "env://".to_owned(),
                    reason: "give the variable's name: env://VAR",
                });
            }
            return Ok(Self::Env(var.to_owned()));
        }
        #[cfg(feature = "pkcs11")]
        if s.starts_with("pkcs11:") {
            return super::pkcs11::Pkcs11Uri::parse(s).map(|u| Self::Pkcs11(Box::new(u)));
        }
        for (scheme, reason) in UNSUPPORTED {
            if s.starts_with(scheme) {
                return Err(KeyError::UnsupportedKeyRef {
                    reference: (*scheme).to_owned(),
                    reason,
                });
            }
        }
        Ok(Self::File(PathBuf::from(s)))
    }

    /// The file, for a file reference.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::File(p) => Some(p),
            _ => None,
        }
    }

    /// Whether signing with this key needs the cosign key password (not for a token, which
    /// takes its PIN from the URI or the environment).
    pub fn needs_password(&self) -> bool {
        match self {
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(_) => false,
            _ => true,
        }
    }

    /// The PEM bytes: the file's (at most [`Limits::max_key_file_bytes`](crate::limits::Limits::max_key_file_bytes))
    /// or the variable's value.
    fn read(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match self {
            Self::File(p) => super::read_limited(p),
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(uri) => Err(KeyError::Pkcs11 {
                uri: uri.to_string(),
                detail: "a token key has no PEM to read".into(),
            }),
            Self::Env(var) => {
                let value = std::env::var_os(var)
                    .ok_or_else(|| KeyError::EnvNotSet { var: var.clone() })?;
                let limit = crate::limits::Limits::DEFAULT.max_key_file_bytes;
                if value.len() as u64 > limit {
                    return Err(KeyError::InEnv {
                        var: var.clone(),
                        error: Box::new(KeyError::TooLarge {
                            path: PathBuf::from(format!("${var}")),
                            limit,
                        }),
                    });
                }
                use std::os::unix::ffi::OsStringExt as _;
                Ok(Zeroizing::new(value.into_vec()))
            }
        }
    }

    fn wrap(&self, e: KeyError) -> KeyError {
        match self {
            Self::File(p) => e.in_file(p),
            Self::Env(var) => KeyError::InEnv {
                var: var.clone(),
                error: Box::new(e),
            },
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(_) => e,
        }
    }

    /// Load a cosign encrypted private key from this reference. Errors name the file or the
    /// variable, never the key.
    pub fn load_signing_key(&self, password: &Password) -> Result<SigningKey, KeyError> {
        #[cfg(feature = "pkcs11")]
        if let Self::Pkcs11(uri) = self {
            return uri.open_signing_key().map(SigningKey::from_token);
        }
        let bytes = self.read()?;
        super::cosign::decrypt(&bytes, password.as_bytes()).map_err(|e| self.wrap(e))
    }

    /// Load a PEM public key (`PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE`) from this
    /// reference. Errors name the file or the variable.
    pub fn load_public_key(&self) -> Result<PublicKey, KeyError> {
        #[cfg(feature = "pkcs11")]
        if let Self::Pkcs11(uri) = self {
            return uri.public_key();
        }
        let bytes = self.read()?;
        PublicKey::from_pem(&bytes).map_err(|e| self.wrap(e))
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Env(var) => write!(f, "env://{var}"),
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(uri) => write!(f, "{uri}"),
        }
    }
}

impl std::str::FromStr for KeyRef {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_files_env_and_refuses_kms() {
        assert_eq!(
            KeyRef::parse("cosign.key").unwrap(),
            KeyRef::File("cosign.key".into())
        );
        assert_eq!(
            KeyRef::parse("env://MY_KEY").unwrap(),
            KeyRef::Env("MY_KEY".into())
        );
        assert!(KeyRef::parse("env://").is_err());
        let e = KeyRef::parse("awskms://localhost/alias/secret-name").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("awskms://") && text.contains("KMS"), "{text}");
        assert!(!text.contains("secret-name"), "{text}");
        for s in [
            "gcpkms://p",
            "azurekms://v",
            "hashivault://k",
            "k8s://ns/k",
            "gitlab://p",
            #[cfg(not(feature = "pkcs11"))]
            "pkcs11:token=x",
        ] {
            assert!(
                matches!(KeyRef::parse(s), Err(KeyError::UnsupportedKeyRef { .. })),
                "{s}"
            );
        }
    }

    #[test]
    fn env_errors_name_the_variable_not_the_value() {
        let r = KeyRef::Env("IMPRINT_KEYREF_TEST_UNSET_VAR".into());
        let e = r.load_public_key().unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable `IMPRINT_KEYREF_TEST_UNSET_VAR` (from --key env://IMPRINT_KEYREF_TEST_UNSET_VAR) is not set"
        );
    }
}
