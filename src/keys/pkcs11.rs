//! PKCS#11 keys: `--key pkcs11:token=…;object=…?module-path=…&pin-value=…` (RFC 7512 URIs,
//! as cosign accepts them) for signing with a hardware or software token, through the
//! `cryptoki` crate (a `libloading` binding to the token's module).
//!
//! The URI's path attributes select the token (`token`, `manufacturer`, `serial`, `model`,
//! `slot-id`) and the key (`object` = `CKA_LABEL`, `id` = `CKA_ID`, percent-encoded bytes); its
//! query gives the module (`module-path`; else `$IMPRINT_PKCS11_MODULE`, then cosign's
//! `$COSIGN_PKCS11_MODULE_PATH`) and the user PIN (`pin-value`, or `pin-source` naming a file;
//! else `$IMPRINT_PKCS11_PIN`, then cosign's `$COSIGN_PKCS11_PIN`). ECDSA P-256/P-384 keys sign
//! with `CKM_ECDSA` over the SHA-256/384 digest (the token's raw `r||s` is re-encoded as the
//! ASN.1 DER cosign writes); RSA keys with `CKM_SHA256_RSA_PKCS`. The signatures are the
//! bytes a key file of the same key would give (ECDSA up to its randomness), so they verify
//! with `verify --key` on the exported public key.
//!
//! The PIN is never logged, displayed or put in an error: [`Pkcs11Uri`]'s `Display` and
//! `Debug` leave the query's secrets out.

use std::path::PathBuf;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::{KeyAlgorithm, KeyError, PublicKey};

/// Environment variables naming the module, in the order they are read.
pub const MODULE_ENV: [&str; 2] = ["IMPRINT_PKCS11_MODULE", "COSIGN_PKCS11_MODULE_PATH"];
/// Environment variables holding the user PIN, in the order they are read.
pub const PIN_ENV: [&str; 2] = ["IMPRINT_PKCS11_PIN", "COSIGN_PKCS11_PIN"];

/// Longest `pin-source` file read.
const MAX_PIN_FILE_BYTES: u64 = 1024;

/// A parsed `pkcs11:` URI (RFC 7512).
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `manufacturer`: the token's manufacturer ID.
    pub manufacturer: Option<String>,
    /// `serial`: the token's serial number.
    pub serial: Option<String>,
    /// `model`: the token's model.
    pub model: Option<String>,
    /// `slot-id`: the slot number.
    pub slot_id: Option<u64>,
    /// `object`: the key's `CKA_LABEL`.
    pub object: Option<String>,
    /// `id`: the key's `CKA_ID`.
    pub id: Option<Vec<u8>>,
    /// `module-path`: the PKCS#11 module (shared library).
    pub module_path: Option<PathBuf>,
    pin_value: Option<Zeroizing<String>>,
    pin_source: Option<PathBuf>,
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Uri")
            .field("uri", &self.to_string())
            .field("pin_value", &self.pin_value.as_ref().map(|_| "<redacted>"))
            .field("pin_source", &self.pin_source)
            .finish()
    }
}

/// The URI without its PIN: `pkcs11:token=…;object=…;id=…` (and `module-path` when given).
impl std::fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        let mut push = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={}", encode(v.as_bytes())));
            }
        };
        push("token", &self.token);
        push("manufacturer", &self.manufacturer);
        push("serial", &self.serial);
        push("model", &self.model);
        push("object", &self.object);
        if let Some(s) = self.slot_id {
            parts.push(format!("slot-id={s}"));
        }
        if let Some(id) = &self.id {
            parts.push(format!(
                "id={}",
                id.iter().map(|b| format!("%{b:02x}")).collect::<String>()
            ));
        }
        write!(f, "pkcs11:{}", parts.join(";"))?;
        if let Some(m) = &self.module_path {
            write!(
                f,
                "?module-path={}",
                encode(m.display().to_string().as_bytes())
            )?;
        }
        Ok(())
    }
}

fn encode(v: &[u8]) -> String {
    v.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn uri_error(detail: impl Into<String>) -> KeyError {
    KeyError::Pkcs11 {
        uri: "pkcs11:".into(),
        detail: detail.into(),
    }
}

/// Percent-decode an RFC 7512 attribute value.
fn decode(v: &str, what: &str) -> Result<Vec<u8>, KeyError> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| uri_error(format!("`{what}` has a bad percent-escape")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn decode_str(v: &str, what: &str) -> Result<String, KeyError> {
    String::from_utf8(decode(v, what)?).map_err(|_| uri_error(format!("`{what}` is not UTF-8")))
}

impl Pkcs11Uri {
    /// Parse a `pkcs11:` URI. Unknown path attributes are refused (they would select a key
    /// differently than the user meant); unknown query attributes too, except the standard
    /// `module-name` which is refused with a pointer to `module-path`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let rest = s
            .strip_prefix("pkcs11:")
            .ok_or_else(|| uri_error("a PKCS#11 URI starts with `pkcs11:`"))?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut uri = Self::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| uri_error(format!("path attribute `{attr}` has no `=`")))?;
            let set = |slot: &mut Option<String>| -> Result<(), KeyError> {
                if slot.is_some() {
                    return Err(uri_error(format!("`{k}` given twice")));
                }
                *slot = Some(decode_str(v, k)?);
                Ok(())
            };
            match k {
                "token" => set(&mut uri.token)?,
                "manufacturer" => set(&mut uri.manufacturer)?,
                "serial" => set(&mut uri.serial)?,
                "model" => set(&mut uri.model)?,
                "object" => set(&mut uri.object)?,
                "id" => uri.id = Some(decode(v, k)?),
                "slot-id" => {
                    uri.slot_id = Some(
                        v.parse()
                            .map_err(|_| uri_error("`slot-id` is not a number"))?,
                    );
                }
                // Only private keys sign; `type=private` (or none) is what we look up.
                "type" if matches!(v, "private" | "public") => {}
                "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-manufacturer"
                | "slot-description" => {}
                other => {
                    return Err(uri_error(format!(
                        "unknown path attribute `{other}` (known: token, manufacturer, serial, model, slot-id, object, id, type)"
                    )));
                }
            }
        }
        for attr in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|a| !a.is_empty())
        {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| uri_error("a query attribute has no `=`"))?;
            match k {
                "pin-value" => uri.pin_value = Some(Zeroizing::new(decode_str(v, k)?)),
                "pin-source" => {
                    let src = decode_str(v, k)?;
                    let path = src.strip_prefix("file:").unwrap_or(&src);
                    uri.pin_source = Some(PathBuf::from(path));
                }
                "module-path" => uri.module_path = Some(PathBuf::from(decode_str(v, k)?)),
                "module-name" => {
                    return Err(uri_error(
                        "`module-name` is not supported: give `module-path` (or set IMPRINT_PKCS11_MODULE)",
                    ));
                }
                other => {
                    return Err(uri_error(format!(
                        "unknown query attribute `{other}` (known: module-path, pin-value, pin-source)"
                    )));
                }
            }
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(uri_error(
                "name the key with `object=LABEL` or `id=%..` in the URI",
            ));
        }
        if uri.pin_value.is_some() && uri.pin_source.is_some() {
            return Err(uri_error("give `pin-value` or `pin-source`, not both"));
        }
        Ok(uri)
    }

    fn error(&self, detail: impl Into<String>) -> KeyError {
        KeyError::Pkcs11 {
            uri: self.to_string(),
            detail: detail.into(),
        }
    }

    fn module(&self) -> Result<PathBuf, KeyError> {
        if let Some(p) = &self.module_path {
            return Ok(p.clone());
        }
        for var in MODULE_ENV {
            if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                return Ok(PathBuf::from(v));
            }
        }
        Err(self.error(
            "no PKCS#11 module: add `?module-path=/path/to/module.so` to the URI or set IMPRINT_PKCS11_MODULE",
        ))
    }

    /// The user PIN, if any source gives one.
    fn pin(&self) -> Result<Option<AuthPin>, KeyError> {
        if let Some(p) = &self.pin_value {
            return Ok(Some(AuthPin::from(p.as_str())));
        }
        if let Some(path) = &self.pin_source {
            let bytes = crate::fs::read_limited(path, MAX_PIN_FILE_BYTES).map_err(|e| {
                self.error(format!(
                    "cannot read pin-source: {}",
                    crate::format::error_chain(&e)
                ))
            })?;
            let bytes = Zeroizing::new(bytes);
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| self.error("the pin-source file is not UTF-8"))?;
            return Ok(Some(AuthPin::from(text.trim_end_matches(['\r', '\n']))));
        }
        for var in PIN_ENV {
            if let Ok(v) = std::env::var(var) {
                return Ok(Some(AuthPin::from(v.as_str())));
            }
        }
        Ok(None)
    }

    fn pkcs11_error(&self, doing: &str, e: CkError) -> KeyError {
        let detail = match &e {
            CkError::Pkcs11(RvError::PinIncorrect, _) => {
                "login failed: the PIN is incorrect".to_owned()
            }
            CkError::Pkcs11(RvError::PinLocked, _) => "login failed: the PIN is locked".to_owned(),
            CkError::Pkcs11(RvError::PinLenRange, _) => {
                "login failed: the PIN has the wrong length".to_owned()
            }
            _ => format!("{doing}: {e}"),
        };
        self.error(detail)
    }

    /// The one slot whose token matches the URI's token attributes.
    fn slot(&self, ctx: &Pkcs11) -> Result<Slot, KeyError> {
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| self.pkcs11_error("listing slots", e))?;
        let mut found = Vec::new();
        for slot in slots {
            if self.slot_id.is_some_and(|id| id != slot.id()) {
                continue;
            }
            let info = ctx
                .get_token_info(slot)
                .map_err(|e| self.pkcs11_error("reading token info", e))?;
            let same = |want: &Option<String>, got: &str| {
                want.as_ref().is_none_or(|w| w.trim_end() == got.trim_end())
            };
            if same(&self.token, info.label())
                && same(&self.manufacturer, info.manufacturer_id())
                && same(&self.serial, info.serial_number())
                && same(&self.model, info.model())
            {
                found.push(slot);
            }
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(self.error("no token matches the URI")),
            _ => Err(self.error(format!(
                "{} tokens match the URI: add token=, serial= or slot-id=",
                found.len()
            ))),
        }
    }

    fn find_one(
        &self,
        session: &Session,
        class: ObjectClass,
        what: &str,
    ) -> Result<Option<ObjectHandle>, KeyError> {
        let mut template = vec![Attribute::Class(class)];
        if let Some(label) = &self.object {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            template.push(Attribute::Id(id.clone()));
        }
        let found = session
            .find_objects(&template)
            .map_err(|e| self.pkcs11_error("searching the token", e))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(self.error(format!(
                "{} {what} objects match: add id= to the URI",
                found.len()
            ))),
        }
    }

    fn open(&self, login: bool) -> Result<(Session, Slot), KeyError> {
        let module = self.module()?;
        let ctx = Pkcs11::new(&module).map_err(|e| {
            self.error(format!(
                "cannot load the PKCS#11 module {}: {e}",
                module.display()
            ))
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(self.pkcs11_error("initialising the module", e)),
        }
        let slot = self.slot(&ctx)?;
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| self.pkcs11_error("opening a session", e))?;
        if login {
            let pin = self.pin()?.ok_or_else(|| {
                self.error(
                    "no PIN: add `pin-value=` or `pin-source=` to the URI's query, or set COSIGN_PKCS11_PIN",
                )
            })?;
            match session.login(UserType::User, Some(&pin)) {
                Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(e) => return Err(self.pkcs11_error("login", e)),
            }
        }
        Ok((session, slot))
    }

    /// The key's public half, read from the token's public key object (no login needed when
    /// the token allows it; the PIN is used when one is given).
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        let login = self.pin()?.is_some();
        let (session, _) = self.open(login)?;
        self.read_public(&session)
    }

    fn read_public(&self, session: &Session) -> Result<PublicKey, KeyError> {
        let handle = self
            .find_one(session, ObjectClass::PUBLIC_KEY, "public key")?
            .ok_or_else(|| {
                self.error("no public key object matches the URI (the token must hold the key pair's public half)")
            })?;
        let attrs = session
            .get_attributes(
                handle,
                &[
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::EcPoint,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                ],
            )
            .map_err(|e| self.pkcs11_error("reading the public key", e))?;
        let mut key_type = None;
        let (mut params, mut point, mut modulus, mut exponent) = (None, None, None, None);
        for a in attrs {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::EcParams(v) => params = Some(v),
                Attribute::EcPoint(v) => point = Some(v),
                Attribute::Modulus(v) => modulus = Some(v),
                Attribute::PublicExponent(v) => exponent = Some(v),
                _ => {}
            }
        }
        let spki_or_pkcs1 = match key_type {
            Some(KeyType::EC) => {
                let (params, point) = params.zip(point).ok_or_else(|| {
                    self.error("the EC public key lacks CKA_EC_PARAMS or CKA_EC_POINT")
                })?;
                let spki = ec_spki(&params, &point).map_err(|d| self.error(d))?;
                return PublicKey::from_spki_der(&spki).map_err(|e| self.error(e.to_string()));
            }
            Some(KeyType::RSA) => {
                let (n, e) = modulus.zip(exponent).ok_or_else(|| {
                    self.error("the RSA public key lacks its modulus or exponent")
                })?;
                rsa_pkcs1(&n, &e)
            }
            other => {
                return Err(self.error(format!(
                    "unsupported key type {} (supported: EC P-256/P-384, RSA)",
                    other.map(|t| t.to_string()).unwrap_or_else(|| "?".into())
                )));
            }
        };
        PublicKey::from_pkcs1_rsa_der(&spki_or_pkcs1).map_err(|e| self.error(e.to_string()))
    }

    /// Open the token, log in with the PIN and find the private key and its public half.
    pub fn open_signing_key(&self) -> Result<TokenKey, KeyError> {
        let (session, _) = self.open(true)?;
        let private = self
            .find_one(&session, ObjectClass::PRIVATE_KEY, "private key")?
            .ok_or_else(|| self.error("no private key object matches the URI"))?;
        let public = self.read_public(&session)?;
        let algorithm = public.algorithm();
        if !matches!(
            algorithm,
            KeyAlgorithm::EcdsaP256Sha256
                | KeyAlgorithm::EcdsaP384Sha384
                | KeyAlgorithm::RsaPkcs1Sha256
        ) {
            return Err(self.error(format!("{algorithm} keys are not supported on tokens")));
        }
        Ok(TokenKey {
            uri: self.to_string(),
            session: Mutex::new(session),
            private,
            public,
        })
    }
}

/// A private key on a PKCS#11 token, with an open, logged-in session.
pub struct TokenKey {
    uri: String,
    session: Mutex<Session>,
    private: ObjectHandle,
    public: PublicKey,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("uri", &self.uri)
            .field("public_key", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// The key's URI, without the PIN.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Sign `message` as cosign does with this key type (see the module docs).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let err = |e: CkError| KeyError::Pkcs11 {
            uri: self.uri.clone(),
            detail: format!("signing failed: {e}"),
        };
        let session = self.session.lock().map_err(|_| KeyError::Pkcs11 {
            uri: self.uri.clone(),
            detail: "the token session is unusable after an earlier failure".into(),
        })?;
        match self.public.algorithm() {
            KeyAlgorithm::EcdsaP256Sha256 | KeyAlgorithm::EcdsaP384Sha384 => {
                let (alg, width) = if self.public.algorithm() == KeyAlgorithm::EcdsaP256Sha256 {
                    (&aws_lc_rs::digest::SHA256, 32)
                } else {
                    (&aws_lc_rs::digest::SHA384, 48)
                };
                let digest = aws_lc_rs::digest::digest(alg, message);
                let raw = session
                    .sign(&Mechanism::Ecdsa, self.private, digest.as_ref())
                    .map_err(err)?;
                if raw.len() != 2 * width {
                    return Err(KeyError::Pkcs11 {
                        uri: self.uri.clone(),
                        detail: format!(
                            "the token returned a {}-byte ECDSA signature, expected {}",
                            raw.len(),
                            2 * width
                        ),
                    });
                }
                Ok(ecdsa_der(&raw[..width], &raw[width..]))
            }
            _ => session
                .sign(&Mechanism::Sha256RsaPkcs, self.private, message)
                .map_err(err),
        }
    }
}

// --- minimal DER, for the structures the token's attributes are turned into ---

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let bytes: Vec<u8> = n
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_uint(v: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    tlv(0x02, &content)
}

/// ECDSA-Sig-Value `SEQUENCE { r INTEGER, s INTEGER }` from the token's `r || s`.
fn ecdsa_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut seq = der_uint(r);
    seq.extend(der_uint(s));
    tlv(0x30, &seq)
}

/// `RSAPublicKey` (PKCS#1) from the modulus and exponent.
fn rsa_pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut seq = der_uint(n);
    seq.extend(der_uint(e));
    tlv(0x30, &seq)
}

const OID_EC_PUBLIC_KEY_DER: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// SubjectPublicKeyInfo from `CKA_EC_PARAMS` (the curve OID) and `CKA_EC_POINT` (the
/// uncompressed point, DER OCTET STRING-wrapped as the standard says, or bare as some tokens
/// return it).
fn ec_spki(params: &[u8], point: &[u8]) -> Result<Vec<u8>, String> {
    let point_len = match params {
        P256_PARAMS => 65,
        P384_PARAMS => 97,
        _ => return Err("unsupported EC curve (supported: P-256, P-384)".into()),
    };
    let bare = if point.len() == point_len {
        point
    } else if point.len() == point_len + 2 && point[0] == 0x04 && usize::from(point[1]) == point_len
    {
        &point[2..]
    } else {
        return Err(format!(
            "CKA_EC_POINT has {} bytes, not an uncompressed point on this curve",
            point.len()
        ));
    };
    if bare.first() != Some(&0x04) {
        return Err("CKA_EC_POINT is not an uncompressed point".into());
    }
    let mut alg = OID_EC_PUBLIC_KEY_DER.to_vec();
    alg.extend_from_slice(params);
    let mut bits = vec![0u8];
    bits.extend_from_slice(bare);
    let mut spki = tlv(0x30, &alg);
    spki.extend(tlv(0x03, &bits));
    Ok(tlv(0x30, &spki))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cosign_style_uris_and_never_shows_the_pin() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=my%20token;object=signing-key;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=s3cret-1234",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("my token"));
        assert_eq!(u.object.as_deref(), Some("signing-key"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(
            u.module_path.as_deref(),
            Some(std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so"))
        );
        let shown = format!("{u} {u:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("token=my%20token"), "{shown}");
        let u = Pkcs11Uri::parse("pkcs11:object=k?pin-source=file:/run/pin").unwrap();
        assert_eq!(
            u.pin_source.as_deref(),
            Some(std::path::Path::new("/run/pin"))
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for (uri, word) in [
            ("pkcs11:token=t", "object="),
            ("pkcs11:object=k;colour=red", "colour"),
            ("pkcs11:object=k?module-name=softhsm2", "module-path"),
            ("pkcs11:object=k?pin-value=1&pin-source=/f", "not both"),
            ("pkcs11:object=%zz", "percent"),
            ("pkcs11:object=a;object=b", "twice"),
            ("pkcs11:object=k;slot-id=x", "slot-id"),
        ] {
            let e = Pkcs11Uri::parse(uri).unwrap_err().to_string();
            assert!(e.contains(word), "{uri}: {e}");
        }
    }

    #[test]
    fn der_helpers_match_known_encodings() {
        // r with the high bit set gets a leading zero; leading zeros are stripped.
        let r = [0x80u8; 32];
        let mut s = [0u8; 32];
        s[31] = 1;
        let der = ecdsa_der(&r, &s);
        assert_eq!(&der[..4], &[0x30, 0x26, 0x02, 0x21]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
        // A P-256 SPKI parses as the same key as aws-lc-rs's own.
        let key = crate::keys::SigningKey::generate_p256().unwrap();
        let spki = key.public_key().spki_der().to_vec();
        let point = &spki[spki.len() - 65..];
        let mut wrapped = vec![0x04, 65];
        wrapped.extend_from_slice(point);
        for p in [point.to_vec(), wrapped] {
            let built = ec_spki(P256_PARAMS, &p).unwrap();
            assert_eq!(PublicKey::from_spki_der(&built).unwrap(), key.public_key());
        }
        assert!(ec_spki(P384_PARAMS, point).is_err());
    }
}
