//! Loading: policy YAML → [`wire`](super::wire) types → the validated [`model`](super::model).
//! Strict: unknown fields and values are errors with a suggestion and the line:column
//! ([`super::locate`]); every cross-reference, regex, glob, CEL condition, duration, license
//! expression and version range is checked here, never at evaluation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::duration::parse_duration;
use super::error::PolicyError;
use super::glob::ImagePattern;
use super::model::{
    AttestationRequirement, Authority, AuthorityExpr, GithubClaims, KeyAuthority, KeySource,
    KeylessAuthority, NotationAuthority, NotationStore, Policy, Rule, SbomCheck, Select,
    SignedByOrigin, TrustRoot, VulnCheck,
};
use super::sbom::DeniedPackage;
use super::version::VersionRange;
use super::wire as raw;
use crate::format::digest::Digest;
use crate::trust::{EmbeddedRoot, IdentityError, Matcher};

/// The only `apiVersion` this build understands.
pub const API_VERSION: &str = "imprint.dev/v1";
/// The only `kind` this build understands.
pub const KIND: &str = "TrustPolicy";
/// Largest policy file accepted (bytes): [`Limits::max_policy_bytes`].
///
/// [`Limits::max_policy_bytes`]: crate::limits::Limits::max_policy_bytes
pub const MAX_POLICY_BYTES: usize = crate::limits::Limits::DEFAULT.max_policy_bytes as usize;
/// Largest CEL condition accepted (characters): [`Limits::max_condition_chars`].
///
/// [`Limits::max_condition_chars`]: crate::limits::Limits::max_condition_chars
pub const MAX_CONDITION_CHARS: usize = crate::limits::Limits::DEFAULT.max_condition_chars;

impl Policy {
    /// Loads a policy file; relative key/trust-root paths resolve against its directory.
    pub fn from_path(path: &Path) -> Result<Self, PolicyError> {
        let origin = path.display().to_string();
        let limit = crate::limits::Limits::DEFAULT.max_policy_bytes;
        let bytes = crate::fs::read_limited(path, limit).map_err(|e| match e {
            crate::fs::ReadError::TooLarge { .. } => PolicyError::TooLarge {
                origin: origin.clone(),
                // The read stopped past the limit; the file's length says by how much (an
                // endless file such as a FIFO reports no length).
                size: std::fs::metadata(path)
                    .ok()
                    .and_then(|m| usize::try_from(m.len()).ok())
                    .unwrap_or(0)
                    .max(MAX_POLICY_BYTES + 1),
            },
            crate::fs::ReadError::Io { path, source } => PolicyError::Read { path, source },
        })?;
        let text = String::from_utf8(bytes).map_err(|e| PolicyError::Syntax {
            origin: origin.clone(),
            message: format!("not UTF-8: {e}"),
            location: None,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, base, origin)
    }

    /// Parses policy YAML; relative paths resolve against `base_dir`.
    pub fn from_str_with_base(yaml: &str, base_dir: &Path) -> Result<Self, PolicyError> {
        Self::parse(yaml, base_dir, "<inline>".to_string())
    }

    fn parse(yaml: &str, base: &Path, origin: String) -> Result<Self, PolicyError> {
        if yaml.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                origin,
                size: yaml.len(),
            });
        }
        let file: raw::PolicyFile =
            serde_saphyr::from_str(yaml).map_err(|e| convert_yaml_error(&e, &origin))?;
        let mut v = Validator {
            origin: origin.clone(),
            base: base.to_path_buf(),
        };
        let policy = v.validate(file).map_err(|e| match e {
            PolicyError::Invalid {
                origin,
                field,
                message,
                location: None,
            } => PolicyError::Invalid {
                origin,
                location: super::locate::locate(yaml, &field),
                field,
                message,
            },
            other => other,
        })?;
        Ok(Self {
            origin,
            source: yaml.into(),
            hash: Digest::of(yaml.as_bytes()),
            ..policy
        })
    }
}

impl FromStr for Policy {
    type Err = PolicyError;
    /// Parses policy YAML; relative paths resolve against the current directory.
    fn from_str(yaml: &str) -> Result<Self, PolicyError> {
        Self::from_str_with_base(yaml, Path::new("."))
    }
}

fn convert_yaml_error(error: &serde_saphyr::Error, origin: &str) -> PolicyError {
    let inner = error.without_snippet();
    let location = inner
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| (l.line(), l.column()));
    match inner {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => PolicyError::UnknownField {
            origin: origin.to_string(),
            suggestion: suggest(field, expected),
            field: field.clone(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
            location,
        },
        serde_saphyr::Error::SerdeUnknownVariant {
            variant, expected, ..
        } => PolicyError::UnknownValue {
            origin: origin.to_string(),
            suggestion: suggest(variant, expected),
            value: variant.clone(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
            location,
        },
        other => PolicyError::Syntax {
            origin: origin.to_string(),
            message: strip_location_suffix(&other.to_string()),
            location,
        },
    }
}

fn strip_location_suffix(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

/// The closest candidate by edit distance (case-insensitive), if it is close enough.
pub(crate) fn suggest(word: &str, candidates: &[&str]) -> Option<String> {
    let lower = word.to_lowercase();
    let close = candidates
        .iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string());
    // `denied` → `deny`, `imagesList` → `images`: a shared stem of 3+ characters that is at
    // least half of the candidate.
    close.or_else(|| {
        candidates
            .iter()
            .filter(|c| {
                let c = c.to_lowercase();
                let common = c
                    .chars()
                    .zip(lower.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                common >= 3 && common * 2 >= c.len()
            })
            .max_by_key(|c| c.len())
            .map(|c| c.to_string())
    })
}

/// Expands cosign's `--type` shortcuts with the one table
/// ([`crate::format::predicate::SHORTCUTS`]); anything else is kept as written.
fn expand_predicate_alias(t: &str) -> String {
    crate::format::predicate::expand_shortcut(t).map_or_else(|| t.to_owned(), str::to_owned)
}

struct Validator {
    origin: String,
    base: PathBuf,
}

impl Validator {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            origin: self.origin.clone(),
            field: field.into(),
            message: message.into(),
            location: None,
        }
    }

    fn validate(&mut self, file: raw::PolicyFile) -> Result<Policy, PolicyError> {
        if file.api_version != API_VERSION {
            return Err(self.err(
                "apiVersion",
                format!(
                    "`{}` is not supported (expected `{API_VERSION}`)",
                    file.api_version
                ),
            ));
        }
        if file.kind != KIND {
            return Err(self.err(
                "kind",
                format!("`{}` is not supported (expected `{KIND}`)", file.kind),
            ));
        }
        let spec = file.spec;
        let mut trust_roots = BTreeMap::new();
        for (name, root) in spec.trust_roots {
            let field = format!("spec.trustRoots.{name}");
            let root = match (root.embedded, root.file) {
                (Some(e), None) => match EmbeddedRoot::from_name(&e) {
                    Some(root) => TrustRoot::Embedded(root),
                    None => {
                        return Err(self.err(
                            format!("{field}.embedded"),
                            format!(
                                "unknown embedded trust root `{e}` (known: {})",
                                EmbeddedRoot::known_names()
                            ),
                        ));
                    }
                },
                (None, Some(f)) => {
                    let path = self.base.join(f);
                    if !path.is_file() {
                        return Err(self.err(
                            format!("{field}.file"),
                            format!("{} does not exist or is not a file", path.display()),
                        ));
                    }
                    TrustRoot::File(path)
                }
                _ => return Err(self.err(field, "give exactly one of `embedded` or `file`")),
            };
            trust_roots.insert(name, root);
        }
        let mut authorities = BTreeMap::new();
        for (name, a) in spec.authorities {
            let authority = self.authority(&name, a, &trust_roots)?;
            authorities.insert(name, authority);
        }
        let mut rules = Vec::new();
        let mut names = BTreeSet::new();
        for (i, r) in spec.rules.into_iter().enumerate() {
            let field = format!("spec.rules[{i}]");
            if !names.insert(r.name.clone()) {
                return Err(self.err(
                    format!("{field}.name"),
                    format!("duplicate rule name `{}`", r.name),
                ));
            }
            rules.push(self.rule(&field, r, &authorities)?);
        }
        Ok(Policy {
            origin: self.origin.clone(),
            source: "".into(),
            hash: Digest::of(b""),
            name: file.metadata.and_then(|m| m.name),
            no_match: spec.no_match.unwrap_or_default(),
            trust_roots,
            authorities,
            rules,
        })
    }

    fn authority(
        &self,
        name: &str,
        a: raw::Authority,
        trust_roots: &BTreeMap<String, TrustRoot>,
    ) -> Result<Authority, PolicyError> {
        let field = format!("spec.authorities.{name}");
        let format = a.signature_format.map(Into::into).unwrap_or_default();
        if let Some(n) = a.notation {
            if a.key.is_some() || a.keyless.is_some() || a.static_action.is_some() {
                return Err(self.err(
                    field,
                    "give exactly one of `key`, `keyless`, `notation` or `static`",
                ));
            }
            if a.signature_format.is_some() {
                return Err(self.err(
                    format!("{field}.signatureFormat"),
                    "a `notation` authority has no cosign signature format",
                ));
            }
            return self.notation(&format!("{field}.notation"), name, n);
        }
        match (a.key, a.keyless, a.static_action) {
            (Some(key), None, None) => {
                let (source, pem) = match (key.file, key.pem, key.env) {
                    (Some(f), None, None) => {
                        let path = self.base.join(&f);
                        // Bounded: a policy naming `/dev/zero` or a huge file must neither hang
                        // nor exhaust memory.
                        let pem = crate::keys::read_limited(&path).map_err(|e| {
                            let message = match e {
                                crate::keys::KeyError::Read { source, .. } => {
                                    format!("cannot read {}: {source}", path.display())
                                }
                                other => other.to_string(),
                            };
                            self.err(format!("{field}.key.file"), message)
                        })?;
                        (KeySource::File(path), pem.to_vec())
                    }
                    (None, Some(p), None) => (KeySource::Inline, p.into_bytes()),
                    (None, None, Some(var)) => {
                        let value = std::env::var(&var).map_err(|_| {
                            self.err(
                                format!("{field}.key.env"),
                                format!("environment variable `{var}` is not set (or not UTF-8)"),
                            )
                        })?;
                        (KeySource::Env(var), value.into_bytes())
                    }
                    _ => {
                        return Err(self.err(
                            format!("{field}.key"),
                            "give exactly one of `file`, `pem` or `env`",
                        ));
                    }
                };
                let parsed = pem::parse(&pem).map_err(|e| {
                    self.err(format!("{field}.key"), format!("not a PEM public key: {e}"))
                })?;
                // The canonical identity (as the verifier reports it) when the key parses.
                let fingerprint = (parsed.tag() == "PUBLIC KEY").then(|| {
                    crate::keys::PublicKey::from_spki_der(parsed.contents()).map_or_else(
                        |_| Digest::of(parsed.contents()).to_string(),
                        |key| key.fingerprint(),
                    )
                });
                Ok(Authority::Key(KeyAuthority {
                    source,
                    pem,
                    fingerprint,
                    signature_format: format,
                }))
            }
            (None, Some(k), None) => {
                let default_root = EmbeddedRoot::PublicGood.name();
                let trust_root = k.trust_root.unwrap_or_else(|| default_root.to_owned());
                if !trust_roots.contains_key(&trust_root) && trust_root != default_root {
                    return Err(self.err(
                        format!("{field}.keyless.trustRoot"),
                        format!("trust root `{trust_root}` is not defined in spec.trustRoots"),
                    ));
                }
                let issuer = self.matcher(
                    &format!("{field}.keyless"),
                    "issuer",
                    k.issuer,
                    k.issuer_reg_exp,
                )?;
                let subject = self.matcher(
                    &format!("{field}.keyless"),
                    "subject",
                    k.subject,
                    k.subject_reg_exp,
                )?;
                let github = k
                    .github
                    .map(|g| GithubClaims {
                        trigger: g.trigger,
                        sha: g.sha,
                        name: g.name,
                        repository: g.repository,
                        git_ref: g.git_ref,
                    })
                    .unwrap_or_default();
                Ok(Authority::Keyless(KeylessAuthority {
                    trust_root,
                    issuer,
                    subject,
                    github,
                    signature_format: format,
                }))
            }
            (None, None, Some(action)) => Ok(Authority::Static(action)),
            _ => Err(self.err(
                field,
                "give exactly one of `key`, `keyless`, `notation` or `static`",
            )),
        }
    }

    /// A `notation:` authority, validated with [`crate::notation`]'s own rules (store
    /// references, trusted identities, level and overrides).
    fn notation(
        &self,
        field: &str,
        name: &str,
        n: raw::Notation,
    ) -> Result<Authority, PolicyError> {
        use crate::notation::trustpolicy::{Actions, Identities, VerifyTimestamp};
        use crate::notation::{Level, Statement, StoreRef, TrustStores};
        let (level_word, overrides, verify_timestamp) = match n.signature_verification {
            Some(v) => (v.level, v.r#override, v.verify_timestamp),
            None => ("strict".to_owned(), BTreeMap::new(), None),
        };
        let level = match level_word.as_str() {
            "strict" => Level::Strict,
            "permissive" => Level::Permissive,
            "audit" => Level::Audit,
            "skip" => Level::Skip,
            other => {
                return Err(self.err(
                    format!("{field}.signatureVerification.level"),
                    format!("unknown level `{other}` (strict, permissive, audit, skip)"),
                ));
            }
        };
        let actions = Actions::new(level, &overrides)
            .map_err(|e| self.err(format!("{field}.signatureVerification.override"), e))?;
        let verify_timestamp_word = verify_timestamp.unwrap_or_else(|| "always".to_owned());
        let verify_timestamp = match verify_timestamp_word.as_str() {
            "always" => VerifyTimestamp::Always,
            "afterCertExpiry" => VerifyTimestamp::AfterCertExpiry,
            other => {
                return Err(self.err(
                    format!("{field}.signatureVerification.verifyTimestamp"),
                    format!("unknown value `{other}` (always, afterCertExpiry)"),
                ));
            }
        };
        let mut refs: Vec<StoreRef> = Vec::new();
        let mut written = Vec::new();
        let mut stores = TrustStores::new();
        for (i, s) in n.trust_stores.iter().enumerate() {
            let f = format!("{field}.trustStores[{i}]");
            let r = StoreRef::parse(&s.store).map_err(|e| self.err(format!("{f}.store"), e))?;
            if refs.contains(&r) {
                return Err(self.err(
                    format!("{f}.store"),
                    format!("trust store `{r}` is listed twice"),
                ));
            }
            let path = self.base.join(&s.path);
            // Read now; an unusable store is recorded and fails authenticity (fail closed).
            stores.load_paths(r.clone(), std::slice::from_ref(&path));
            refs.push(r);
            written.push(NotationStore {
                store: s.store.clone(),
                path,
            });
        }
        let identities = if level == Level::Skip {
            if !refs.is_empty() || !n.trusted_identities.is_empty() {
                return Err(self.err(
                    field,
                    "level `skip` verifies nothing: remove `trustStores` and `trustedIdentities`",
                ));
            }
            None
        } else {
            if refs.is_empty() {
                return Err(self.err(
                    format!("{field}.trustStores"),
                    "at least one trust store is required",
                ));
            }
            Some(
                Identities::parse(&n.trusted_identities)
                    .map_err(|e| self.err(format!("{field}.trustedIdentities"), e))?,
            )
        };
        let statement = Statement {
            name: name.to_owned(),
            registry_scopes: vec!["*".to_owned()],
            actions,
            verify_timestamp,
            trust_stores: refs,
            identities,
        };
        Ok(Authority::Notation(NotationAuthority {
            trust_stores: written,
            trusted_identities: n.trusted_identities,
            level: level_word,
            overrides,
            verify_timestamp: verify_timestamp_word,
            statement,
            stores,
        }))
    }

    fn matcher(
        &self,
        field: &str,
        what: &str,
        exact: Option<String>,
        regex: Option<String>,
    ) -> Result<Matcher, PolicyError> {
        match (exact, regex) {
            (Some(e), None) => Ok(Matcher::Exact(e)),
            (None, Some(r)) => Matcher::unanchored_regex(&r).map_err(|e| {
                let reason = match e {
                    IdentityError::InvalidRegex { reason, .. } => reason,
                    other => other.to_string(),
                };
                self.err(format!("{field}.{what}RegExp"), format!("invalid regex: {reason}"))
            }),
            (Some(_), Some(_)) => Err(self.err(
                field,
                format!("give `{what}` or `{what}RegExp`, not both"),
            )),
            (None, None) => Err(self.err(
                field,
                format!("`{what}` or `{what}RegExp` is required (use `{what}RegExp: '.*'` to accept any, explicitly)"),
            )),
        }
    }

    fn rule(
        &self,
        field: &str,
        r: raw::Rule,
        authorities: &BTreeMap<String, Authority>,
    ) -> Result<Rule, PolicyError> {
        if r.name.trim().is_empty() {
            return Err(self.err(format!("{field}.name"), "rule name is empty"));
        }
        let patterns = |list: Vec<String>, sub: &str| -> Result<Vec<ImagePattern>, PolicyError> {
            list.iter()
                .enumerate()
                .map(|(i, p)| {
                    ImagePattern::new_in(p, &self.base)
                        .map_err(|e| self.err(format!("{field}.{sub}[{i}]"), e))
                })
                .collect()
        };
        let images = patterns(r.images, "images")?;
        let exclude = patterns(r.exclude, "exclude")?;
        let signatures = r
            .signatures
            .map(|e| self.expr(&format!("{field}.signatures"), e, authorities, 1))
            .transpose()?;
        let mut attestations = Vec::new();
        for (i, a) in r.attestations.into_iter().enumerate() {
            attestations.push(self.attestation(
                &format!("{field}.attestations[{i}]"),
                a,
                authorities,
                signatures.as_ref(),
            )?);
        }
        if signatures.is_none() && attestations.is_empty() {
            return Err(self.err(
                field,
                "the rule has no `signatures` and no `attestations`; to allow images explicitly, use an authority with `static: pass`",
            ));
        }
        Ok(Rule {
            name: r.name,
            images,
            exclude,
            mode: r.mode.unwrap_or_default(),
            signatures,
            attestations,
        })
    }

    /// An authority expression at nesting `depth` (1 at the top), at most
    /// [`Limits::max_policy_depth`](crate::limits::Limits::max_policy_depth) deep: deeper
    /// expressions are refused at load, naming the limit, before any evaluation recurses.
    fn expr(
        &self,
        field: &str,
        e: raw::Expr,
        authorities: &BTreeMap<String, Authority>,
        depth: usize,
    ) -> Result<AuthorityExpr, PolicyError> {
        let max = crate::limits::Limits::DEFAULT.max_policy_depth;
        if depth > max {
            return Err(self.err(
                field,
                format!("max_policy_depth: anyOf/allOf/threshold nested {depth} deep, over the limit of {max}"),
            ));
        }
        let known = |name: &str, f: &str| -> Result<(), PolicyError> {
            if authorities.contains_key(name) {
                Ok(())
            } else {
                let keys: Vec<&str> = authorities.keys().map(String::as_str).collect();
                let hint = suggest(name, &keys)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                Err(self.err(
                    f,
                    format!("authority `{name}` is not defined in spec.authorities{hint}"),
                ))
            }
        };
        Ok(match e {
            raw::Expr::Authority(name) => {
                known(&name, &format!("{field}.authority"))?;
                AuthorityExpr::Authority(name)
            }
            raw::Expr::AnyOf(children) | raw::Expr::AllOf(children) if children.is_empty() => {
                return Err(self.err(field, "`anyOf`/`allOf` must not be empty"));
            }
            raw::Expr::AnyOf(children) => AuthorityExpr::AnyOf(
                children
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| {
                        self.expr(&format!("{field}.anyOf[{i}]"), c, authorities, depth + 1)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            raw::Expr::AllOf(children) => AuthorityExpr::AllOf(
                children
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| {
                        self.expr(&format!("{field}.allOf[{i}]"), c, authorities, depth + 1)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            raw::Expr::Threshold(t) => {
                let f = format!("{field}.threshold");
                let mut seen = BTreeSet::new();
                for (i, name) in t.of.iter().enumerate() {
                    known(name, &format!("{f}.of[{i}]"))?;
                    if !seen.insert(name) {
                        return Err(self.err(
                            format!("{f}.of[{i}]"),
                            format!("authority `{name}` is listed twice"),
                        ));
                    }
                }
                if t.count == 0 || t.count as usize > t.of.len() {
                    return Err(self.err(
                        format!("{f}.count"),
                        format!(
                            "count must be between 1 and the number of authorities in `of` ({}), got {}",
                            t.of.len(),
                            t.count
                        ),
                    ));
                }
                AuthorityExpr::Threshold {
                    count: t.count as usize,
                    of: t.of,
                }
            }
        })
    }

    fn attestation(
        &self,
        field: &str,
        a: raw::Attestation,
        authorities: &BTreeMap<String, Authority>,
        rule_signatures: Option<&AuthorityExpr>,
    ) -> Result<AttestationRequirement, PolicyError> {
        let written = match a.predicate_type {
            raw::PredicateTypes::One(t) => vec![(format!("{field}.predicateType"), t)],
            raw::PredicateTypes::Many(list) if list.is_empty() => {
                return Err(self.err(
                    format!("{field}.predicateType"),
                    "empty list: give at least one predicate type",
                ));
            }
            raw::PredicateTypes::Many(list) => list
                .into_iter()
                .enumerate()
                .map(|(i, t)| (format!("{field}.predicateType[{i}]"), t))
                .collect(),
        };
        let mut predicate_types: Vec<String> = Vec::new();
        for (f, t) in written {
            if t.trim().is_empty() {
                return Err(self.err(f, "empty predicate type"));
            }
            let expanded = expand_predicate_alias(t.trim());
            if predicate_types.contains(&expanded) {
                return Err(self.err(f, format!("predicate type `{expanded}` is listed twice")));
            }
            predicate_types.push(expanded);
        }
        let select = match a.select.as_deref() {
            None => Select::default(),
            Some(word) => Select::from_word(word.trim()).ok_or_else(|| {
                let hint = suggest(word.trim(), &Select::WORDS)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                self.err(
                    format!("{field}.select"),
                    format!(
                        "unknown value `{word}`{hint}; expected one of: {}",
                        Select::WORDS.join(", ")
                    ),
                )
            })?,
        };
        let (signed_by, signed_by_origin) = match a.signed_by {
            Some(e) => (
                Some(self.expr(&format!("{field}.signedBy"), e, authorities, 1)?),
                SignedByOrigin::Written,
            ),
            None => match rule_signatures {
                Some(expr) => (Some(expr.clone()), SignedByOrigin::RuleSignatures),
                None => (None, SignedByOrigin::AnyAuthority),
            },
        };
        let sbom = a
            .sbom
            .map(|s| self.sbom(&format!("{field}.sbom"), s))
            .transpose()?;
        let vulnerabilities = match a.vulnerabilities {
            Some(v) => {
                let max_age = v
                    .max_age
                    .map(|d| parse_duration(&d))
                    .transpose()
                    .map_err(|e| self.err(format!("{field}.vulnerabilities.maxAge"), e))?;
                if v.max_severity.is_none() && max_age.is_none() {
                    return Err(self.err(
                        format!("{field}.vulnerabilities"),
                        "give `maxSeverity` and/or `maxAge`",
                    ));
                }
                Some(VulnCheck {
                    max_severity: v.max_severity,
                    max_age,
                    ignore: v
                        .ignore
                        .into_iter()
                        .map(|s| s.trim().to_uppercase())
                        .collect(),
                })
            }
            None => None,
        };
        if let Some(c) = &a.condition {
            if c.chars().count() > MAX_CONDITION_CHARS {
                return Err(self.err(
                    format!("{field}.condition"),
                    format!("condition is longer than {MAX_CONDITION_CHARS} characters"),
                ));
            }
            super::cel::compile_check(c).map_err(|e| self.err(format!("{field}.condition"), e))?;
        }
        Ok(AttestationRequirement {
            name: a.name,
            predicate_types,
            select,
            signed_by,
            signed_by_origin,
            sbom,
            vulnerabilities,
            condition: a.condition,
        })
    }

    fn sbom(&self, field: &str, s: raw::Sbom) -> Result<SbomCheck, PolicyError> {
        let mut ids = BTreeSet::new();
        for (i, text) in s.denied_licenses.iter().enumerate() {
            let parsed = super::sbom::denied_license_ids(text)
                .map_err(|e| self.err(format!("{field}.deniedLicenses[{i}]"), e))?;
            ids.extend(parsed);
        }
        let mut packages = Vec::new();
        for (i, p) in s.denied_packages.into_iter().enumerate() {
            if p.name.trim().is_empty() {
                return Err(self.err(format!("{field}.deniedPackages[{i}].name"), "empty name"));
            }
            let versions = p
                .versions
                .as_deref()
                .map(VersionRange::parse)
                .transpose()
                .map_err(|e| self.err(format!("{field}.deniedPackages[{i}].versions"), e))?;
            packages.push(DeniedPackage {
                name: p.name,
                versions,
            });
        }
        if ids.is_empty() && packages.is_empty() {
            return Err(self.err(field, "give `deniedLicenses` and/or `deniedPackages`"));
        }
        Ok(SbomCheck {
            denied_licenses: s.denied_licenses,
            denied_license_ids: ids,
            denied_packages: packages,
            license_or: s.license_or.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n";

    fn parse(spec: &str) -> Result<Policy, PolicyError> {
        Policy::from_str_with_base(&format!("{HEAD}{spec}"), Path::new("."))
    }

    fn invalid(spec: &str) -> (String, String) {
        match parse(spec) {
            Err(PolicyError::Invalid {
                field,
                message,
                location,
                ..
            }) => {
                assert!(location.is_some(), "no location for {field}");
                (field, message)
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    const KEYLESS: &str = "  authorities:\n    ci:\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n";

    #[test]
    fn unknown_field_has_suggestion_and_location() {
        let spec = format!("{KEYLESS}        subjectRegex: '^x$'\n");
        let err = parse(&spec).unwrap_err();
        match &err {
            PolicyError::UnknownField {
                field,
                suggestion,
                location,
                ..
            } => {
                assert_eq!(field, "subjectRegex");
                assert_eq!(suggestion.as_deref(), Some("subjectRegExp"));
                assert_eq!(location.map(|l| l.0), Some(8));
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(text.starts_with("<inline>:8:"), "{text}");
        assert!(text.contains("did you mean `subjectRegExp`?"), "{text}");
    }

    #[test]
    fn unknown_top_level_and_rule_fields() {
        let err = Policy::from_str_with_base(
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec: {}\nspecs: {}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(
            matches!(err, PolicyError::UnknownField { ref suggestion, .. } if suggestion.as_deref() == Some("spec")),
            "{err}"
        );
        let err = parse("  rules:\n    - name: a\n      image: [x]\n").unwrap_err();
        assert!(err.to_string().contains("did you mean `images`?"), "{err}");
        let err = parse("  noMatch: denied\n").unwrap_err();
        assert!(
            matches!(err, PolicyError::UnknownValue { ref suggestion, .. } if suggestion.as_deref() == Some("deny")),
            "{err}"
        );
        let err = parse("  authorities:\n    a: {static: pass}\n  rules:\n    - name: r\n      images: [x]\n      signatures: {anyof: [{authority: a}]}\n").unwrap_err();
        assert!(err.to_string().contains("did you mean `anyOf`?"), "{err}");
    }

    #[test]
    fn wrong_api_version_and_kind() {
        let err = Policy::from_str_with_base(
            "apiVersion: v1\nkind: TrustPolicy\nspec: {}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("apiVersion"), "{err}");
        let err = Policy::from_str_with_base(
            "apiVersion: imprint.dev/v1\nkind: Policy\nspec: {}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("kind"), "{err}");
    }

    #[test]
    fn syntax_error_has_location() {
        let err = parse("  rules: [\n").unwrap_err();
        assert!(matches!(err, PolicyError::Syntax { .. }), "{err}");
        let err = parse("  noMatch: deny\n  noMatch: allow\n").unwrap_err();
        assert!(
            matches!(
                err,
                PolicyError::Syntax {
                    location: Some((5, _)),
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("duplicate"), "{err}");
        let err = parse("  authorities:\n    a: {static: pass}\n  rules:\n    - name: r\n      images: [x]\n      signatures: {threshold: {count: two, of: [a]}}\n").unwrap_err();
        assert!(
            matches!(
                err,
                PolicyError::Syntax {
                    location: Some((9, _)),
                    ..
                }
            ),
            "{err}"
        );
        let err = parse("  rules:\n    - images: [x]\n").unwrap_err();
        assert!(err.to_string().contains("missing field `name`"), "{err}");
    }

    const AUTH: &str = "  authorities:\n    a: {static: pass}\n    b: {static: pass}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n";

    #[test]
    fn references_must_exist() {
        let (field, message) = invalid(&format!("{AUTH}      signatures: {{authority: c}}\n"));
        assert_eq!(field, "spec.rules[0].signatures.authority");
        assert!(message.contains("`c` is not defined"), "{message}");
        let (_, message) = invalid(&format!("{AUTH}      signatures: {{authority: aa}}\n"));
        assert!(message.contains("did you mean `a`?"), "{message}");
        let (field, _) = invalid(
            "  authorities:\n    ci:\n      keyless: {issuer: x, subject: y, trustRoot: corp}\n",
        );
        assert_eq!(field, "spec.authorities.ci.keyless.trustRoot");
    }

    #[test]
    fn embedded_trust_roots_come_from_trust_root() {
        let p = parse("  trustRoots:\n    stg: {embedded: staging}\n    pg: {embedded: public-good}\n  authorities:\n    ci:\n      keyless: {issuer: x, subject: y, trustRoot: stg}\n").unwrap();
        let roots: Vec<_> = p.trust_roots().collect();
        assert_eq!(
            roots,
            [
                ("pg", &TrustRoot::Embedded(EmbeddedRoot::PublicGood)),
                ("stg", &TrustRoot::Embedded(EmbeddedRoot::Staging)),
            ]
        );
        // `public-good` exists implicitly; other names must be defined.
        assert_eq!(
            p.trust_root("public-good"),
            Some(TrustRoot::Embedded(EmbeddedRoot::PublicGood))
        );
        assert_eq!(p.trust_root("corp"), None);
        let (field, message) = invalid("  trustRoots:\n    corp: {embedded: corp}\n");
        assert_eq!(field, "spec.trustRoots.corp.embedded");
        assert_eq!(
            message,
            "unknown embedded trust root `corp` (known: public-good, staging)"
        );
    }

    #[test]
    fn thresholds_are_checked() {
        let (field, _) = invalid(&format!(
            "{AUTH}      signatures: {{threshold: {{count: 3, of: [a, b]}}}}\n"
        ));
        assert_eq!(field, "spec.rules[0].signatures.threshold.count");
        let (field, _) = invalid(&format!(
            "{AUTH}      signatures: {{threshold: {{count: 0, of: [a, b]}}}}\n"
        ));
        assert_eq!(field, "spec.rules[0].signatures.threshold.count");
        let (field, message) = invalid(&format!(
            "{AUTH}      signatures: {{threshold: {{count: 1, of: [a, a]}}}}\n"
        ));
        assert_eq!(field, "spec.rules[0].signatures.threshold.of[1]");
        assert!(message.contains("twice"));
        let (field, _) = invalid(&format!(
            "{AUTH}      signatures: {{anyOf: [{{allOf: []}}]}}\n"
        ));
        assert_eq!(field, "spec.rules[0].signatures.anyOf[0]");
        // Regression (issue 10): nesting had no bound at load. Up to max_policy_depth (16)
        // parses; one more level is refused at the field where it starts, naming the limit.
        let nested = |levels: usize| {
            let mut e = "{authority: b}".to_owned();
            for _ in 1..levels {
                e = format!("{{anyOf: [{e}]}}");
            }
            format!("{AUTH}      signatures: {e}\n")
        };
        parse(&nested(16)).unwrap();
        let (field, message) = invalid(&nested(17));
        assert!(
            message.contains("max_policy_depth") && message.contains("17"),
            "{message}"
        );
        assert!(field.ends_with(".anyOf[0]"), "{field}");
        // Nesting within the limit parses.
        let ok = parse(&format!("{AUTH}      signatures: {{anyOf: [{{allOf: [{{anyOf: [{{threshold: {{count: 1, of: [a, b]}}}}]}}, {{authority: b}}]}}]}}\n")).unwrap();
        assert_eq!(
            ok.rules()[0].signatures.as_ref().unwrap().to_string(),
            "anyOf(allOf(anyOf(1 of [a, b]), b))"
        );
    }

    #[test]
    fn values_are_compiled_at_load() {
        let cases = [
            (
                "      exclude: ['ghcr.io/[x']\n      signatures: {authority: a}\n",
                "spec.rules[0].exclude[0]",
            ),
            (
                "      attestations: [{predicateType: x, condition: 'predicate.a =='}]\n",
                "spec.rules[0].attestations[0].condition",
            ),
            (
                "      attestations: [{predicateType: x, vulnerabilities: {maxAge: 7y}}]\n",
                "spec.rules[0].attestations[0].vulnerabilities.maxAge",
            ),
            (
                "      attestations: [{predicateType: x, sbom: {deniedLicenses: ['MIT AND (']}}]\n",
                "spec.rules[0].attestations[0].sbom.deniedLicenses[0]",
            ),
            (
                "      attestations: [{predicateType: x, sbom: {deniedPackages: [{name: a, versions: '<'}]}}]\n",
                "spec.rules[0].attestations[0].sbom.deniedPackages[0].versions",
            ),
            (
                "      attestations: [{predicateType: x, vulnerabilities: {}}]\n",
                "spec.rules[0].attestations[0].vulnerabilities",
            ),
            ("      mode: warn\n", "spec.rules[0]"),
        ];
        for (rule, want) in cases {
            let (field, message) = invalid(&format!("{AUTH}{rule}"));
            assert_eq!(field, want, "{message}");
        }
        let (field, _) =
            invalid("  authorities:\n    ci:\n      keyless: {issuer: x, subjectRegExp: '(' }\n");
        assert_eq!(field, "spec.authorities.ci.keyless.subjectRegExp");
        let (_, message) = invalid("  authorities:\n    ci:\n      keyless: {issuer: x}\n");
        assert!(message.contains("subjectRegExp: '.*'"), "{message}");
        let (field, _) = invalid("  authorities:\n    k: {key: {pem: 'not a pem'}}\n");
        assert_eq!(field, "spec.authorities.k.key");
        let (field, _) = invalid("  authorities:\n    k: {static: pass, key: {pem: x}}\n");
        assert_eq!(field, "spec.authorities.k");
        let (field, _) = invalid(&format!(
            "{AUTH}      signatures: {{authority: a}}\n    - name: r\n      images: [x]\n      signatures: {{authority: a}}\n"
        ));
        assert_eq!(field, "spec.rules[1].name");
    }

    #[test]
    fn keys_from_file_env_and_inline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let pem = "-----BEGIN PUBLIC KEY-----\nAAECAw==\n-----END PUBLIC KEY-----\n";
        std::fs::write(dir.path().join("keys/release.pub"), pem).unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(
            &path,
            format!("{HEAD}  authorities:\n    release: {{key: {{file: keys/release.pub}}}}\n    missing: {{key: {{env: IMPRINT_TEST_UNSET_VAR_9f2}}}}\n"),
        )
        .unwrap();
        let (field, message) = match Policy::from_path(&path) {
            Err(PolicyError::Invalid { field, message, .. }) => (field, message),
            other => panic!("{other:?}"),
        };
        assert_eq!(field, "spec.authorities.missing.key.env");
        assert!(message.contains("IMPRINT_TEST_UNSET_VAR_9f2"));
        std::fs::write(
            &path,
            format!("{HEAD}  authorities:\n    release: {{key: {{file: keys/release.pub}}}}\n"),
        )
        .unwrap();
        let policy = Policy::from_path(&path).unwrap();
        let Some(Authority::Key(key)) = policy.authority("release") else {
            panic!("not a key authority");
        };
        assert_eq!(key.pem, pem.as_bytes());
        assert_eq!(
            key.source,
            KeySource::File(dir.path().join("keys/release.pub"))
        );
        assert_eq!(
            key.fingerprint.as_deref(),
            Some(Digest::of(&[0, 1, 2, 3]).to_string().as_str())
        );
        assert_eq!(policy.hash(), Digest::of(&std::fs::read(&path).unwrap()));
        let missing = dir.path().join("nope.yaml");
        assert!(matches!(
            Policy::from_path(&missing),
            Err(PolicyError::Read { .. })
        ));
    }

    #[test]
    fn an_endless_key_file_is_refused_not_read_forever() {
        let yaml = format!("{HEAD}  authorities:\n    z: {{key: {{file: /dev/zero}}}}\n");
        match Policy::from_str(&yaml) {
            Err(PolicyError::Invalid { field, message, .. }) => {
                assert_eq!(field, "spec.authorities.z.key.file");
                assert!(message.contains("larger than"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_policy_file_is_refused_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        let mut yaml = format!("{HEAD}  noMatch: deny\n");
        yaml.push_str(&"#".repeat(MAX_POLICY_BYTES));
        std::fs::write(&path, &yaml).unwrap();
        match Policy::from_path(&path) {
            Err(PolicyError::TooLarge { origin, size }) => {
                assert_eq!(origin, path.display().to_string());
                assert_eq!(size, yaml.len());
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn predicate_aliases_and_rules_for() {
        let p = parse(&format!("{AUTH}      exclude: ['ghcr.io/x/sandbox/**']\n      attestations: [{{predicateType: slsaprovenance1}}]\n")).unwrap();
        assert_eq!(
            p.rules()[0].attestations[0].predicate_types[0],
            "https://slsa.dev/provenance/v1"
        );
        let rules_for = |r: &str| p.rules_for(&r.parse().unwrap()).len();
        assert_eq!(rules_for("ghcr.io/x/app:1"), 1);
        assert_eq!(rules_for("ghcr.io/x/sandbox/app:1"), 0);
        assert_eq!(rules_for("docker.io/library/busybox"), 0);
    }

    #[test]
    fn every_attest_type_shortcut_expands_like_attest() {
        for (shortcut, _) in crate::format::predicate::SHORTCUTS {
            let p = parse(&format!(
                "{AUTH}      attestations: [{{predicateType: {shortcut}}}]\n"
            ))
            .unwrap();
            assert_eq!(
                p.rules()[0].attestations[0].predicate_types[0],
                crate::format::predicate::predicate_type_uri(shortcut).unwrap(),
                "predicateType: {shortcut}"
            );
        }
        // `custom` and `link` are what `imprint attest --type custom|link` writes.
        let p = parse(&format!(
            "{AUTH}      attestations: [{{predicateType: custom}}, {{predicateType: link}}]\n"
        ))
        .unwrap();
        let types: Vec<&str> = p.rules()[0]
            .attestations
            .iter()
            .map(|a| a.predicate_types[0].as_str())
            .collect();
        assert_eq!(
            types,
            [
                "https://cosign.sigstore.dev/attestation/v1",
                "https://in-toto.io/Link/v1"
            ]
        );
    }

    #[test]
    fn select_is_checked_naming_the_field() {
        let p = parse(&format!(
            "{AUTH}      attestations: [{{predicateType: vuln}}, {{predicateType: vuln, select: all}}, {{predicateType: vuln, select: any}}]\n"
        ))
        .unwrap();
        let selects: Vec<Select> = p.rules()[0].attestations.iter().map(|a| a.select).collect();
        assert_eq!(selects, [Select::Newest, Select::All, Select::Any]);
        let (field, message) = invalid(&format!(
            "{AUTH}      attestations: [{{predicateType: vuln, select: latest}}]\n"
        ));
        assert_eq!(field, "spec.rules[0].attestations[0].select");
        assert!(
            message.contains("unknown value `latest`") && message.contains("newest, all, any"),
            "{message}"
        );
        let (_, message) = invalid(&format!(
            "{AUTH}      attestations: [{{predicateType: vuln, select: newst}}]\n"
        ));
        assert!(message.contains("did you mean `newest`?"), "{message}");
    }

    #[test]
    fn predicate_type_lists() {
        let p = parse(&format!(
            "{AUTH}      attestations:\n        - predicateType: [spdx, cyclonedx, https://example.com/x]\n"
        ))
        .unwrap();
        assert_eq!(
            p.rules()[0].attestations[0].predicate_types,
            [
                "https://spdx.dev/Document",
                "https://cyclonedx.org/bom",
                "https://example.com/x"
            ]
        );
        assert_eq!(
            p.rules()[0].attestations[0].label(),
            "[https://spdx.dev/Document, https://cyclonedx.org/bom, https://example.com/x]"
        );
        let (field, message) = invalid(&format!(
            "{AUTH}      attestations: [{{predicateType: []}}]\n"
        ));
        assert_eq!(field, "spec.rules[0].attestations[0].predicateType");
        assert!(message.contains("at least one"), "{message}");
        let (field, message) = invalid(&format!(
            "{AUTH}      attestations: [{{predicateType: [spdx, 'https://spdx.dev/Document']}}]\n"
        ));
        assert_eq!(field, "spec.rules[0].attestations[0].predicateType[1]");
        assert!(message.contains("listed twice"), "{message}");
        let (field, _) = invalid(&format!(
            "{AUTH}      attestations: [{{predicateType: [spdx, ' ']}}]\n"
        ));
        assert_eq!(field, "spec.rules[0].attestations[0].predicateType[1]");
    }

    #[test]
    fn signed_by_defaults_to_the_rules_signatures() {
        let p = parse(&format!(
            "{AUTH}      signatures: {{anyOf: [{{authority: a}}, {{authority: b}}]}}\n      attestations: [{{predicateType: vuln}}, {{predicateType: spdx, signedBy: {{authority: b}}}}]\n    - name: s\n      images: ['ghcr.io/**']\n      attestations: [{{predicateType: vuln}}]\n"
        ))
        .unwrap();
        let r = &p.rules()[0];
        assert_eq!(r.attestations[0].signed_by, r.signatures);
        assert_eq!(
            r.attestations[0].signed_by_origin,
            SignedByOrigin::RuleSignatures
        );
        assert_eq!(
            r.attestations[1].signed_by,
            Some(AuthorityExpr::Authority("b".into()))
        );
        assert_eq!(r.attestations[1].signed_by_origin, SignedByOrigin::Written);
        let s = &p.rules()[1].attestations[0];
        assert_eq!(
            (s.signed_by.is_none(), s.signed_by_origin),
            (true, SignedByOrigin::AnyAuthority)
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("subjectRegex", &["subject", "subjectRegExp"]).as_deref(),
            Some("subjectRegExp")
        );
        assert_eq!(suggest("zzz", &["images", "exclude"]), None);
    }

    fn lab_root() -> String {
        crate::format::vectors_dir()
            .join("notation/generated/pki-rsa/root.pem")
            .display()
            .to_string()
    }

    fn notation_spec(body: &str) -> String {
        format!(
            "  authorities:\n    lab:\n      notation:\n{body}  rules:\n    - {{name: r, images: ['**'], signatures: {{authority: lab}}}}\n"
        )
    }

    #[test]
    fn notation_authority_loads_with_notations_rules() {
        let vec = lab_root();
        let p = parse(&notation_spec(&format!(
            "        trustStores: [{{store: 'ca:lab', path: '{vec}'}}]\n        trustedIdentities: ['x509.subject: C=US, ST=WA, O=Notary']\n        signatureVerification: {{level: permissive, override: {{expiry: enforce, revocation: skip}}}}\n"
        )))
        .unwrap();
        let Some(Authority::Notation(n)) = p.authority("lab") else {
            panic!("not notation")
        };
        use crate::notation::{Action, Check};
        let a = &n.statement().actions;
        assert_eq!(a.action(Check::Expiry), Action::Enforce);
        assert_eq!(a.action(Check::Revocation), Action::Skip);
        assert_eq!(a.action(Check::AuthenticTimestamp), Action::Log);
        assert_eq!(n.statement().trust_stores[0].to_string(), "ca:lab");
        if Path::new(&lab_root()).exists() {
            assert!(n.store_problems().is_empty(), "{:?}", n.store_problems());
        }
        // Default level: strict.
        let p = parse(&notation_spec(&format!(
            "        trustStores: [{{store: 'ca:lab', path: '{vec}'}}]\n        trustedIdentities: ['*']\n"
        )))
        .unwrap();
        let Some(Authority::Notation(n)) = p.authority("lab") else {
            panic!("not notation")
        };
        assert_eq!(n.level, "strict");
    }

    #[test]
    fn notation_authority_errors_name_the_field() {
        let vec = lab_root();
        let stores = format!("        trustStores: [{{store: 'ca:lab', path: '{vec}'}}]\n");
        let cases = [
            (
                format!("{stores}        trustedIdentities: ['*']\n        signatureVerification: {{level: strict, override: {{integrity: log}}}}\n"),
                "spec.authorities.lab.notation.signatureVerification.override",
                "integrity",
            ),
            (
                format!("{stores}        trustedIdentities: ['*']\n        signatureVerification: {{level: lax}}\n"),
                "spec.authorities.lab.notation.signatureVerification.level",
                "lax",
            ),
            (
                format!("{stores}        trustedIdentities: ['x509.subject: CN=x']\n"),
                "spec.authorities.lab.notation.trustedIdentities",
                "C, ST and O",
            ),
            (
                format!("{stores}        trustedIdentities: ['*', 'x509.subject: C=US, ST=WA, O=N']\n"),
                "spec.authorities.lab.notation.trustedIdentities",
                "only trusted identity",
            ),
            (
                "        trustStores: [{store: 'root:lab', path: x}]\n        trustedIdentities: ['*']\n".to_owned(),
                "spec.authorities.lab.notation.trustStores[0].store",
                "unsupported trust store type",
            ),
            (
                "        trustedIdentities: ['*']\n".to_owned(),
                "spec.authorities.lab.notation.trustStores",
                "at least one",
            ),
            (
                format!("{stores}        trustedIdentities: ['*']\n        signatureVerification: {{level: skip}}\n"),
                "spec.authorities.lab.notation",
                "skip",
            ),
            (
                format!("{stores}        trustedIdentities: ['*']\n        signatureVerification: {{level: audit, override: {{expiry: skip}}}}\n"),
                "spec.authorities.lab.notation.signatureVerification.override",
                "expiry",
            ),
        ];
        for (body, want_field, want_message) in cases {
            let (field, message) = invalid(&notation_spec(&body));
            assert_eq!(field, want_field, "{message}");
            assert!(message.contains(want_message), "{field}: {message}");
        }
    }

    #[test]
    fn notation_authority_refuses_unknown_fields_and_mixed_kinds() {
        let e = parse(&notation_spec(
            "        trustStores: [{store: 'ca:lab', path: x}]\n        trustedIdentity: ['*']\n",
        ))
        .unwrap_err();
        match e {
            PolicyError::UnknownField {
                field, suggestion, ..
            } => {
                assert_eq!(field, "trustedIdentity");
                assert_eq!(suggestion.as_deref(), Some("trustedIdentities"));
            }
            other => panic!("{other:?}"),
        }
        let e = parse(&notation_spec(
            "        trustStores: [{store: 'ca:lab', path: x, kind: ca}]\n        trustedIdentities: ['*']\n",
        ))
        .unwrap_err();
        assert!(
            matches!(&e, PolicyError::UnknownField { field, .. } if field == "kind"),
            "{e}"
        );
        let (field, message) = invalid(
            "  authorities:\n    lab:\n      static: pass\n      notation: {trustStores: [{store: 'ca:lab', path: x}], trustedIdentities: ['*']}\n",
        );
        assert_eq!(field, "spec.authorities.lab");
        assert!(message.contains("exactly one"), "{message}");
    }

    #[test]
    fn notation_store_that_cannot_be_read_loads_but_is_reported() {
        let p = parse(&notation_spec(
            "        trustStores: [{store: 'ca:lab', path: /nonexistent/imprint-npol.pem}]\n        trustedIdentities: ['*']\n",
        ))
        .unwrap();
        let Some(Authority::Notation(n)) = p.authority("lab") else {
            panic!("not notation")
        };
        let problems = n.store_problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("ca:lab"), "{problems:?}");
        let lint = p.lint();
        assert!(
            lint.iter().any(|f| f.code == "notation-store-unusable"),
            "{lint:?}"
        );
    }

    #[test]
    fn notation_authority_without_evidence_is_unmet_and_never_signs_attestations() {
        let vec = lab_root();
        let p = parse(&format!(
            "  authorities:\n    lab:\n      notation:\n        trustStores: [{{store: 'ca:lab', path: '{vec}'}}]\n        trustedIdentities: ['*']\n  rules:\n    - name: r\n      images: ['**']\n      signatures: {{authority: lab}}\n"
        ))
        .unwrap();
        let image: crate::format::reference::ImageRef = "registry.example/app:v1".parse().unwrap();
        assert_eq!(
            p.authorities_needed(&image).into_iter().collect::<Vec<_>>(),
            ["lab"]
        );
        let evidence = crate::policy::Evidence::new(image, Digest::of(b"manifest"));
        let d = crate::policy::evaluate(&p, &evidence, std::time::SystemTime::UNIX_EPOCH);
        assert_eq!(d.outcome(), crate::policy::Outcome::Denied);
        let reason = d.reason().unwrap();
        assert_eq!(reason.code, crate::policy::ReasonCode::NoSignatures);
        assert!(
            reason
                .message
                .contains("lab: no verified Notation signatures"),
            "{reason:?}"
        );
    }
}
