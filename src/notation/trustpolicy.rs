//! Notation's own trust policy (`trustpolicy.json`, version 1.0) and trust-store directory
//! layout (`<root>/x509/{ca,signingAuthority,tsa}/<name>/*.{pem,crt,cer,der}`), validated the
//! way the trust-store-trust-policy specification says, and resolved into a
//! [`VerificationPolicy`] for one artifact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::x509::{Cert, parse_cert_file, parse_dn};

/// The five validations of the verification workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The envelope parses, its signature and chain are valid, it signs this artifact.
    Integrity,
    /// The chain leads to a trust-store certificate and the leaf is a trusted identity.
    Authenticity,
    /// The signature was made while the chain was valid (timestamp or verification time).
    AuthenticTimestamp,
    /// The signature's own expiry has not passed.
    Expiry,
    /// No certificate of the chain is revoked.
    Revocation,
}

impl Check {
    /// The name Notation uses (`integrity`, `authenticity`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integrity => "integrity",
            Self::Authenticity => "authenticity",
            Self::AuthenticTimestamp => "authenticTimestamp",
            Self::Expiry => "expiry",
            Self::Revocation => "revocation",
        }
    }
}

/// What a failed validation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Action {
    /// The failure fails verification.
    Enforce,
    /// The failure is logged; verification goes on.
    Log,
    /// The validation is not run.
    Skip,
}

/// The predefined verification levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Level {
    /// Enforce everything.
    Strict,
    /// Enforce integrity and authenticity; log the rest.
    Permissive,
    /// Enforce integrity; log the rest.
    Audit,
    /// Verify nothing.
    Skip,
}

impl Level {
    /// The action of `check` at this level, before overrides.
    pub fn action(self, check: Check) -> Action {
        use Action::{Enforce, Log, Skip};
        match (self, check) {
            (Self::Skip, _) => Skip,
            (Self::Strict, _) | (_, Check::Integrity) => Enforce,
            (Self::Permissive, Check::Authenticity) => Enforce,
            (Self::Permissive | Self::Audit, _) => Log,
        }
    }
}

/// When the RFC 3161 countersignature is verified (`verifyTimestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[non_exhaustive]
pub enum VerifyTimestamp {
    /// Always (the default).
    #[default]
    #[serde(rename = "always")]
    Always,
    /// Only once the signing chain has expired at verification time.
    #[serde(rename = "afterCertExpiry")]
    AfterCertExpiry,
}

/// The actions of every check, after applying a level and its overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actions {
    level: Level,
    overrides: BTreeMap<Check, Action>,
}

impl Actions {
    /// A level, with validated overrides (`integrity` cannot be overridden; `authenticity`,
    /// `authenticTimestamp`, `expiry` take enforce/log; `revocation` also skip; `skip` cannot
    /// be customised).
    pub fn new(level: Level, overrides: &BTreeMap<String, String>) -> Result<Self, String> {
        if level == Level::Skip && !overrides.is_empty() {
            return Err("verification level `skip` cannot be overridden".into());
        }
        let mut out = BTreeMap::new();
        for (k, v) in overrides {
            let check = match k.as_str() {
                "integrity" => {
                    return Err(
                        "\"integrity\" verification can not be overridden in custom signature verification".into(),
                    );
                }
                "authenticity" => Check::Authenticity,
                "authenticTimestamp" => Check::AuthenticTimestamp,
                "expiry" => Check::Expiry,
                "revocation" => Check::Revocation,
                other => return Err(format!("verification type {other:?} is not supported")),
            };
            let action = match v.as_str() {
                "enforce" => Action::Enforce,
                "log" => Action::Log,
                "skip" if check == Check::Revocation => Action::Skip,
                other => {
                    return Err(format!(
                        "verification action {other:?} is not supported for {k:?}"
                    ));
                }
            };
            out.insert(check, action);
        }
        Ok(Self {
            level,
            overrides: out,
        })
    }

    /// The action for `check`.
    pub fn action(&self, check: Check) -> Action {
        self.overrides
            .get(&check)
            .copied()
            .unwrap_or_else(|| self.level.action(check))
    }

    /// The level before overrides.
    pub fn level(&self) -> Level {
        self.level
    }
}

/// A trust store type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StoreType {
    /// `ca`: roots for `notary.x509` signatures.
    Ca,
    /// `signingAuthority`: roots for `notary.x509.signingAuthority` signatures.
    SigningAuthority,
    /// `tsa`: roots of RFC 3161 timestamp authorities.
    Tsa,
}

impl StoreType {
    /// The directory and prefix name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ca => "ca",
            Self::SigningAuthority => "signingAuthority",
            Self::Tsa => "tsa",
        }
    }
}

/// `type:name`, as in a policy's `trustStores`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoreRef {
    /// The type.
    pub kind: StoreType,
    /// The named store.
    pub name: String,
}

impl StoreRef {
    /// Parse `ca:name` / `signingAuthority:name` / `tsa:name`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (t, n) = s
            .split_once(':')
            .ok_or_else(|| format!("trust store {s:?} is not of the form `type:name`"))?;
        let kind = match t {
            "ca" => StoreType::Ca,
            "signingAuthority" => StoreType::SigningAuthority,
            "tsa" => StoreType::Tsa,
            other => {
                return Err(format!(
                    "trust store {s:?} uses unsupported trust store type {other:?} (ca, signingAuthority, tsa)"
                ));
            }
        };
        if n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(format!(
                "trust store {s:?}: named store {n:?} must match ^[a-zA-Z0-9_.-]+$"
            ));
        }
        Ok(Self {
            kind,
            name: n.to_owned(),
        })
    }
}

impl std::fmt::Display for StoreRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

/// Trusted identities: anyone the stores vouch for, or X.509 subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Identities {
    /// `*`.
    Any,
    /// `x509.subject:` DNs; the leaf subject must contain all attributes of one of them.
    Subjects(Vec<BTreeMap<String, String>>),
}

impl Identities {
    /// Parse and validate a policy's `trustedIdentities`.
    pub fn parse(items: &[String]) -> Result<Self, String> {
        if items.is_empty() {
            return Err("trustedIdentities must not be empty".into());
        }
        if items.iter().any(|i| i.trim() == "*") {
            if items.len() > 1 {
                return Err(
                    "a wildcard trusted identity `*` must be the only trusted identity".into(),
                );
            }
            return Ok(Self::Any);
        }
        let mut dns = Vec::new();
        for item in items {
            let Some(dn) = item.strip_prefix("x509.subject:") else {
                return Err(format!(
                    "trusted identity {item:?} must be `*` or start with `x509.subject:`"
                ));
            };
            let parsed = parse_dn(dn.trim())?;
            for required in ["C", "ST", "O"] {
                if !parsed.contains_key(required) {
                    return Err(format!(
                        "trusted identity {item:?} has no {required} attribute (C, ST and O are required)"
                    ));
                }
            }
            dns.push(parsed);
        }
        for (i, a) in dns.iter().enumerate() {
            for b in dns.iter().skip(i + 1) {
                if super::x509::dn_is_subset(a, b) || super::x509::dn_is_subset(b, a) {
                    return Err("trustedIdentities has overlapping identities".into());
                }
            }
        }
        Ok(Self::Subjects(dns))
    }
}

/// One statement of a trust policy, validated.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Its name.
    pub name: String,
    /// Repository URIs, or `*`.
    pub registry_scopes: Vec<String>,
    /// Check actions.
    pub actions: Actions,
    /// When to verify the countersignature.
    pub verify_timestamp: VerifyTimestamp,
    /// Named trust stores.
    pub trust_stores: Vec<StoreRef>,
    /// Trusted identities (`None` for level `skip`).
    pub identities: Option<Identities>,
}

/// A validated `trustpolicy.json`.
#[derive(Debug, Clone)]
pub struct TrustPolicyDocument {
    statements: Vec<Statement>,
}

#[derive(Deserialize)]
// Unknown members are ignored, as notation (Go encoding/json) ignores them.

struct WireDoc {
    version: String,
    #[serde(rename = "trustPolicies")]
    trust_policies: Vec<WireStatement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStatement {
    name: String,
    registry_scopes: Vec<String>,
    signature_verification: WireVerification,
    #[serde(default)]
    trust_stores: Vec<String>,
    #[serde(default)]
    trusted_identities: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireVerification {
    level: String,
    #[serde(default)]
    r#override: BTreeMap<String, String>,
    #[serde(default)]
    verify_timestamp: Option<VerifyTimestamp>,
}

impl TrustPolicyDocument {
    /// Parse and validate.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let doc: WireDoc =
            serde_json::from_slice(bytes).map_err(|e| format!("malformed trust policy: {e}"))?;
        if doc.version != "1.0" {
            return Err(format!(
                "trust policy version {:?} is not supported (1.0)",
                doc.version
            ));
        }
        if doc.trust_policies.is_empty() {
            return Err("trust policy has no statements".into());
        }
        let mut names = BTreeSet::new();
        let mut scopes = BTreeSet::new();
        let mut statements = Vec::new();
        for w in doc.trust_policies {
            if w.name.trim().is_empty() {
                return Err("a trust policy statement has an empty name".into());
            }
            if !names.insert(w.name.clone()) {
                return Err(format!(
                    "multiple trust policy statements use the same name {:?}",
                    w.name
                ));
            }
            let level = match w.signature_verification.level.as_str() {
                "strict" => Level::Strict,
                "permissive" => Level::Permissive,
                "audit" => Level::Audit,
                "skip" => Level::Skip,
                other => {
                    return Err(format!(
                        "trust policy statement {:?} uses invalid signatureVerification level {other:?}",
                        w.name
                    ));
                }
            };
            let actions = Actions::new(level, &w.signature_verification.r#override)
                .map_err(|e| format!("trust policy statement {:?}: {e}", w.name))?;
            if w.registry_scopes.is_empty() {
                return Err(format!(
                    "trust policy statement {:?} has zero registry scopes",
                    w.name
                ));
            }
            for s in &w.registry_scopes {
                if s == "*" {
                    if w.registry_scopes.len() > 1 {
                        return Err(format!(
                            "trust policy statement {:?} uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values",
                            w.name
                        ));
                    }
                } else if s.contains('*') || !valid_repository_uri(s) {
                    return Err(format!(
                        "trust policy statement {:?} has invalid registry scope {s:?} (a fully qualified repository URI, or `*`)",
                        w.name
                    ));
                }
                if !scopes.insert(s.clone()) {
                    return Err(format!(
                        "registry scope {s:?} is present in multiple trust policy statements, one registry scope value can only be associated with one statement"
                    ));
                }
            }
            let mut stores = Vec::new();
            let identities = if level == Level::Skip {
                if !w.trust_stores.is_empty() || !w.trusted_identities.is_empty() {
                    return Err(format!(
                        "trust policy statement {:?} is set to skip signature verification but configured with trust stores and/or trusted identities, remove them",
                        w.name
                    ));
                }
                None
            } else {
                if w.trust_stores.is_empty() {
                    return Err(format!(
                        "trust policy statement {:?} has no trust stores",
                        w.name
                    ));
                }
                for s in &w.trust_stores {
                    let r = StoreRef::parse(s)
                        .map_err(|e| format!("trust policy statement {:?}: {e}", w.name))?;
                    if stores.contains(&r) {
                        return Err(format!(
                            "trust policy statement {:?} lists trust store {s:?} twice",
                            w.name
                        ));
                    }
                    stores.push(r);
                }
                Some(
                    Identities::parse(&w.trusted_identities)
                        .map_err(|e| format!("trust policy statement {:?}: {e}", w.name))?,
                )
            };
            statements.push(Statement {
                name: w.name,
                registry_scopes: w.registry_scopes,
                actions,
                verify_timestamp: w
                    .signature_verification
                    .verify_timestamp
                    .unwrap_or_default(),
                trust_stores: stores,
                identities,
            });
        }
        Ok(Self { statements })
    }

    /// The statements.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The statement for an artifact in `repository` (`registry/namespace/repo`, no tag or
    /// digest): the one naming it exactly, else the global one.
    pub fn select(&self, repository: &str) -> Result<&Statement, String> {
        self.statements
            .iter()
            .find(|s| s.registry_scopes.iter().any(|r| r == repository))
            .or_else(|| {
                self.statements
                    .iter()
                    .find(|s| s.registry_scopes.iter().any(|r| r == "*"))
            })
            .ok_or_else(|| {
                format!("artifact {repository:?} has no applicable trust policy statement")
            })
    }
}

fn valid_repository_uri(s: &str) -> bool {
    let Some((host, path)) = s.split_once('/') else {
        return false;
    };
    !host.is_empty()
        && !path.is_empty()
        && !s.contains('@')
        && !path.contains(':')
        && s.chars().all(|c| !c.is_whitespace())
}

/// Certificates of named trust stores.
#[derive(Debug, Clone, Default)]
pub struct TrustStores {
    stores: BTreeMap<StoreRef, Vec<Cert>>,
    errors: BTreeMap<StoreRef, String>,
}

impl TrustStores {
    /// No stores.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add certificates to a named store (in memory), checking Notation's rule for `ca` and
    /// `signingAuthority` stores: each certificate is a CA or self-signed.
    pub fn add(&mut self, store: StoreRef, certs: Vec<Cert>) -> Result<(), String> {
        if store.kind != StoreType::Tsa {
            for c in &certs {
                if !c.is_ca() && !c.is_self_signed() {
                    return Err(format!(
                        "trust store {store}: certificate with subject {:?} is not a CA certificate or self-signed signing certificate",
                        c.subject()
                    ));
                }
            }
        } else {
            for c in &certs {
                if !c.is_ca() && !c.is_self_signed() {
                    return Err(format!(
                        "trust store {store}: certificate with subject {:?} is not a root CA certificate",
                        c.subject()
                    ));
                }
            }
        }
        self.stores.entry(store).or_default().extend(certs);
        Ok(())
    }

    /// Load the named store from files or directories (each file may hold several
    /// certificates); on failure the store is recorded as unusable, so verification fails
    /// the authenticity check naming the reason.
    pub fn load_paths(&mut self, store: StoreRef, paths: &[PathBuf]) {
        match load_files(paths).and_then(|c| {
            if c.is_empty() {
                Err(format!("trust store {store} has no certificates"))
            } else {
                Ok(c)
            }
        }) {
            Ok(certs) => {
                if let Err(e) = self.add(store.clone(), certs) {
                    self.errors.insert(store, e);
                }
            }
            Err(e) => {
                self.errors.insert(store, e);
            }
        }
    }

    /// Load every store `statement` names from a Notation trust-store directory
    /// (`<root>/x509/<type>/<name>/`).
    pub fn load_dir_for(root: &Path, statement: &Statement) -> Self {
        let mut out = Self::new();
        for s in &statement.trust_stores {
            let dir = root.join("x509").join(s.kind.as_str()).join(&s.name);
            out.load_paths(s.clone(), &[dir]);
        }
        out
    }

    /// The certificates of the stores `refs` of kind `kind`, or the reason one is unusable.
    pub(crate) fn certs(&self, refs: &[StoreRef], kind: StoreType) -> Result<Vec<&Cert>, String> {
        let mut out = Vec::new();
        for r in refs.iter().filter(|r| r.kind == kind) {
            if let Some(e) = self.errors.get(r) {
                return Err(format!("error while loading the trust store {r}: {e}"));
            }
            match self.stores.get(r) {
                Some(c) => out.extend(c.iter()),
                None => return Err(format!("trust store {r} is not configured")),
            }
        }
        Ok(out)
    }
}

/// Read certificates from files, and from every regular file of directories (sorted).
/// Trust stores are small; each file is read with a 1 MiB bound.
fn load_files(paths: &[PathBuf]) -> Result<Vec<Cert>, String> {
    const MAX_CERT_FILE: u64 = 1 << 20;
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let files = if meta.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read directory {}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .collect();
            v.sort();
            v
        } else {
            vec![p.clone()]
        };
        for f in files {
            let bytes = crate::fs::read_limited(&f, MAX_CERT_FILE)
                .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
            let certs = parse_cert_file(&bytes).map_err(|e| format!("{}: {e}", f.display()))?;
            out.extend(certs);
        }
    }
    Ok(out)
}
