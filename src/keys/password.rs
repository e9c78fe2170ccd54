//! Key file passwords, and the `generate-key-pair` / `import-key-pair` operations.

use std::ffi::OsString;
use std::fmt;
#[cfg(feature = "cli")]
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{KeyError, SigningKey, cosign, read_limited};

/// Environment variable read first for the key password.
pub const IMPRINT_PASSWORD_ENV: &str = "IMPRINT_PASSWORD";
/// Environment variable read second (cosign's), so existing pipelines keep working.
pub const COSIGN_PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// A key file password. Zeroed on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// A password from raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(bytes.into()))
    }

    /// The password bytes (no trimming or encoding applied).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Self {
        Self::new(value.as_bytes())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The password from the environment: `IMPRINT_PASSWORD`, then `COSIGN_PASSWORD`. A variable
/// that is set to the empty string gives the empty password (as in cosign); an unset one is
/// skipped. `lookup` is `std::env::var_os` in production.
pub fn password_from_env(lookup: impl Fn(&str) -> Option<OsString>) -> Option<Password> {
    [IMPRINT_PASSWORD_ENV, COSIGN_PASSWORD_ENV]
        .into_iter()
        .find_map(|name| lookup(name).map(|value| Password::new(os_bytes(value))))
}

#[cfg(unix)]
fn os_bytes(value: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    value.into_vec()
}

#[cfg(not(unix))]
fn os_bytes(value: OsString) -> Vec<u8> {
    value.to_string_lossy().into_owned().into_bytes()
}

/// The key password: `IMPRINT_PASSWORD`, then `COSIGN_PASSWORD` (set-but-empty means the empty
/// password), then an interactive prompt on the terminal (typed twice when `confirm`, for
/// `generate-key-pair`). Without a variable and without a terminal: [`KeyError::NoPassword`],
/// never an empty password by accident.
#[cfg(feature = "cli")]
pub fn password_from_env_or_prompt(confirm: bool) -> Result<Password, KeyError> {
    if let Some(password) = password_from_env(|name| std::env::var_os(name)) {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(KeyError::NoPassword);
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ")
            .map_err(KeyError::PasswordPrompt)?,
    );
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key again: ")
                .map_err(KeyError::PasswordPrompt)?,
        );
        if *first != *second {
            return Err(KeyError::PasswordMismatch);
        }
    }
    Ok(Password::new(first.as_bytes()))
}

/// `PREFIX.key` and `PREFIX.pub`.
pub fn key_pair_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(ext);
        PathBuf::from(name)
    };
    (with(".key"), with(".pub"))
}

/// Generate an ECDSA P-256 key pair and write `PREFIX.key` (cosign encrypted format, mode 0600)
/// and `PREFIX.pub` (PEM `PUBLIC KEY`, mode 0644), atomically. Existing files are only replaced
/// when `force`. Returns the two paths (private, public).
pub fn generate_key_pair(
    prefix: &Path,
    password: &Password,
    force: bool,
) -> Result<(PathBuf, PathBuf), KeyError> {
    let key = SigningKey::generate_p256()?;
    write_key_pair(&key, prefix, password, force)
}

/// Convert an unencrypted PEM private key (`PRIVATE KEY` PKCS#8, `RSA PRIVATE KEY` PKCS#1 or
/// `EC PRIVATE KEY` SEC1; ECDSA P-256/P-384/P-521, Ed25519, RSA 2048-8192) into a cosign key
/// pair `PREFIX.key` / `PREFIX.pub`, as [`generate_key_pair`] writes them.
pub fn import_key_pair(
    input_pem: &Path,
    prefix: &Path,
    password: &Password,
    force: bool,
) -> Result<(PathBuf, PathBuf), KeyError> {
    let bytes = read_limited(input_pem)?;
    let key = parse_private_key_pem(&bytes).map_err(|e| e.in_file(input_pem))?;
    write_key_pair(&key, prefix, password, force)
}

/// Parse an unencrypted PEM private key as `import-key-pair` accepts it.
pub fn parse_private_key_pem(pem_bytes: &[u8]) -> Result<SigningKey, KeyError> {
    let block = pem::parse(pem_bytes).map_err(KeyError::Pem)?;
    let label = block.tag();
    if block
        .headers()
        .get("Proc-Type")
        .is_some_and(|v| v.contains("ENCRYPTED"))
    {
        return Err(KeyError::EncryptedPemInput {
            label: label.to_owned(),
        });
    }
    let der = Zeroizing::new(block.contents().to_vec());
    match label {
        "PRIVATE KEY" => SigningKey::from_pkcs8_der(&der),
        "RSA PRIVATE KEY" => SigningKey::from_pkcs1_der(&der),
        "EC PRIVATE KEY" => SigningKey::from_sec1_der(&der),
        "ENCRYPTED PRIVATE KEY" | cosign::PEM_LABEL | cosign::LEGACY_PEM_LABEL => {
            Err(KeyError::EncryptedPemInput {
                label: label.to_owned(),
            })
        }
        other => Err(KeyError::UnexpectedPemLabel {
            found: other.to_owned(),
            expected: "`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`",
        }),
    }
}

fn write_key_pair(
    key: &SigningKey,
    prefix: &Path,
    password: &Password,
    force: bool,
) -> Result<(PathBuf, PathBuf), KeyError> {
    let (key_path, pub_path) = key_pair_paths(prefix);
    if !force {
        for path in [&key_path, &pub_path] {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(KeyError::AlreadyExists { path: path.clone() });
            }
        }
    }
    let der = key.to_pkcs8_der()?;
    let encrypted = cosign::encrypt(&der, password.as_bytes())?;
    let public_pem = key.public_key().to_pem();
    write_file(&key_path, encrypted.as_bytes(), 0o600, force)?;
    if let Err(e) = write_file(&pub_path, public_pem.as_bytes(), 0o644, force) {
        // Do not leave a private key without its public half behind. (With `force` the old
        // private key is already replaced, so the new one is kept.)
        if !force {
            let _ = std::fs::remove_file(&key_path);
        }
        return Err(e);
    }
    Ok((key_path, pub_path))
}

fn write_file(path: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<(), KeyError> {
    crate::fs::write_atomic(
        path,
        bytes,
        mode,
        if force {
            crate::fs::Overwrite::Replace
        } else {
            crate::fs::Overwrite::Refuse
        },
    )
    .map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::AlreadyExists {
                path: path.to_path_buf(),
            }
        } else {
            KeyError::Write {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn env_order_and_empty_value() {
        let both = |name: &str| match name {
            "IMPRINT_PASSWORD" => Some(OsString::from("imprint")),
            "COSIGN_PASSWORD" => Some(OsString::from("cosign")),
            _ => None,
        };
        assert_eq!(password_from_env(both).unwrap().as_bytes(), b"imprint");
        let cosign_only = |name: &str| (name == "COSIGN_PASSWORD").then(|| OsString::from("c"));
        assert_eq!(password_from_env(cosign_only).unwrap().as_bytes(), b"c");
        let empty = |name: &str| (name == "IMPRINT_PASSWORD").then(OsString::new);
        assert_eq!(password_from_env(empty).unwrap().as_bytes(), b"");
        assert!(password_from_env(|_| None).is_none());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::from("hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn paths_append_extensions() {
        let (k, p) = key_pair_paths(Path::new("dir/my.keys"));
        assert_eq!(k, PathBuf::from("dir/my.keys.key"));
        assert_eq!(p, PathBuf::from("dir/my.keys.pub"));
    }
}
