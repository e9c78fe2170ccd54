//! Lint: findings about a policy that loads but is probably wrong or too weak
//! (`imprint policy lint`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::glob::ImagePattern;
use super::model::{Authority, KeySource, Mode, NoMatch, Policy, SignedByOrigin, StaticAction};
use crate::trust::Matcher;

/// How serious a lint finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LintLevel {
    /// Worth knowing.
    Info,
    /// Probably not what you meant.
    Warning,
    /// The policy does not protect anything (or cannot match anything).
    Error,
}

/// One lint finding, with the file, line and column of the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintFinding {
    /// Stable kebab-case code (`allows-everything`, `unused-authority`, ...; the table is in
    /// `policies/README.md`).
    pub code: &'static str,
    /// Severity.
    pub severity: LintLevel,
    /// The policy file (or `<inline>`).
    pub file: String,
    /// 1-based line of the field (or its nearest ancestor that exists), when known.
    pub line: Option<u64>,
    /// 1-based column of the field, when known.
    pub column: Option<u64>,
    /// Dotted path of the field (`spec.rules[0].images[1]`, `spec.authorities.bob.key.file`).
    pub field: String,
    /// One-line explanation, with a suggestion where there is one.
    pub message: String,
}

impl LintFinding {
    /// `file:line:column` (or fewer parts when not known).
    pub fn position(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file),
            (Some(l), None) => format!("{}:{l}", self.file),
            _ => self.file.clone(),
        }
    }
}

/// Every code lint can report (each is documented in `policies/README.md`, section Lint).
pub const LINT_CODES: &[&str] = &[
    "private-key",
    "not-a-public-key",
    "weak-key",
    "unknown-predicate-type",
    "unmatchable-pattern",
    "unmatchable-layout-pattern",
    "duplicate-pattern",
    "redundant-pattern",
    "pattern-shadowed-by-exclude",
    "allow-rule-overridden",
    "rule-matches-nothing",
    "rule-shadowed-by-exclude",
    "same-images-as-earlier-rule",
    "unused-authority",
    "duplicate-key",
    "denied-license-variant",
    "expired-trust-root",
    "invalid-trust-root",
    "unused-trust-root",
    "allows-everything",
    "no-match-allow",
    "never-denies",
    "unanchored-regexp",
    "attestation-any-signer",
    "audit-only",
    "static-pass",
    "attestation-presence-only",
    "notation-skip",
    "notation-store-unusable",
    "notation-not-enforced",
];

/// SPDX license ids with `-only` / `-or-later` variants (GNU families).
const GNU_FAMILIES: [&str; 4] = ["GPL-", "LGPL-", "AGPL-", "GFDL-"];

impl Policy {
    /// Findings about a policy that loads but is probably wrong or too weak, with the clock
    /// at now (see [`Policy::lint_at`]).
    pub fn lint(&self) -> Vec<LintFinding> {
        self.lint_at(SystemTime::now())
    }

    /// Findings about a policy that loads but is probably wrong or too weak; `now` decides
    /// which trust-root keys have expired. Reads key material already loaded and the trust
    /// roots the policy names (no network).
    pub fn lint_at(&self, now: SystemTime) -> Vec<LintFinding> {
        let mut out = Vec::new();
        let locator = super::locate::Locator::new(&self.source);
        let mut push = |severity, code, field: String, message: String| {
            let (line, column) = locator.locate(&field).unzip();
            out.push(LintFinding {
                code,
                severity,
                file: self.origin.clone(),
                line,
                column,
                field,
                message,
            })
        };
        let any_signatures = self.rules.iter().any(|r| r.signatures.is_some());
        if self.no_match == NoMatch::Allow && !any_signatures {
            push(
                LintLevel::Warning,
                "allows-everything",
                "spec.noMatch".into(),
                if self.rules.is_empty() {
                    "no rules and `noMatch: allow`: every image is allowed without any check; add rules with `signatures`, or use `noMatch: deny`".into()
                } else {
                    "`noMatch: allow` and no rule has `signatures`: every image is allowed without a signature check; add `signatures` to the rules, or use `noMatch: deny`".into()
                },
            );
        } else if self.no_match == NoMatch::Allow {
            push(
                LintLevel::Warning,
                "no-match-allow",
                "spec.noMatch".into(),
                "images that no rule matches are allowed unchecked; consider `deny` or `warn`"
                    .into(),
            );
        }
        if !self.rules.is_empty()
            && self.rules.iter().all(|r| r.mode != Mode::Enforce)
            && self.no_match != NoMatch::Deny
        {
            push(
                LintLevel::Warning,
                "never-denies",
                "spec.rules".into(),
                "no rule is in `enforce` mode and `noMatch` is not `deny`: this policy never denies an image".into(),
            );
        }
        let mut used: BTreeSet<&str> = BTreeSet::new();
        let mut used_roots: BTreeMap<&str, String> = BTreeMap::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let field = format!("spec.rules[{i}]");
            let name = &rule.name;
            used.extend(rule.authority_names());
            for (list, patterns) in [("images", &rule.images), ("exclude", &rule.exclude)] {
                for (k, p) in patterns.iter().enumerate() {
                    if let Some(why) = never_matches(p.as_str()) {
                        push(
                            LintLevel::Error,
                            "unmatchable-pattern",
                            format!("{field}.{list}[{k}]"),
                            format!(
                                "rule `{name}`: pattern `{}` can never match an image: {why}",
                                p.as_str()
                            ),
                        );
                    }
                    if let Some(why) = layout_never_matches(p) {
                        push(
                            LintLevel::Error,
                            "unmatchable-layout-pattern",
                            format!("{field}.{list}[{k}]"),
                            format!(
                                "rule `{name}`: layout pattern `{}` can never match an OCI layout image: {why}",
                                p.as_str()
                            ),
                        );
                    }
                    if let Some(j) = patterns[..k]
                        .iter()
                        .position(|e| e.normalised() == p.normalised())
                    {
                        push(
                            LintLevel::Warning,
                            "duplicate-pattern",
                            format!("{field}.{list}[{k}]"),
                            format!(
                                "rule `{name}`: `{}` is `{}` ({list}[{j}]) again: both read as `{}`; remove one",
                                p.as_str(),
                                patterns[j].as_str(),
                                p.normalised()
                            ),
                        );
                    } else if let Some((j, wider)) = patterns.iter().enumerate().find(|(j, e)| {
                        *j != k
                            && e.normalised() != p.normalised()
                            && glob_covers(e.normalised(), p.normalised())
                    }) {
                        push(
                            LintLevel::Info,
                            "redundant-pattern",
                            format!("{field}.{list}[{k}]"),
                            format!(
                                "rule `{name}`: every image `{}` matches is also matched by `{}` ({list}[{j}]), so it can be removed",
                                p.as_str(),
                                wider.as_str()
                            ),
                        );
                    }
                }
            }
            if rule.images.is_empty() {
                push(
                    LintLevel::Error,
                    "rule-matches-nothing",
                    format!("{field}.images"),
                    format!("rule `{name}`: `images` is empty, so the rule never applies"),
                );
            } else if rule
                .images
                .iter()
                .all(|p| rule.exclude.iter().any(|e| covers(e, p)))
            {
                push(
                    LintLevel::Error,
                    "rule-shadowed-by-exclude",
                    format!("{field}.exclude"),
                    format!(
                        "rule `{name}`: every `images` pattern is also covered by `exclude`, so the rule never applies; narrow `exclude` or remove the rule"
                    ),
                );
            }
            if !rule
                .images
                .iter()
                .all(|p| rule.exclude.iter().any(|e| covers(e, p)))
            {
                for (k, p) in rule.images.iter().enumerate() {
                    if let Some(e) = rule.exclude.iter().find(|e| covers(e, p)) {
                        push(
                            LintLevel::Warning,
                            "pattern-shadowed-by-exclude",
                            format!("{field}.images[{k}]"),
                            format!(
                                "rule `{name}`: every image `{}` matches is excluded by `{}`, so this pattern never makes the rule apply; remove it or narrow the exclude",
                                p.as_str(),
                                e.as_str()
                            ),
                        );
                    }
                }
            }
            if passes_unchecked(self, rule)
                && let Some((j, other)) = self.rules.iter().enumerate().find(|(j, other)| {
                    *j != i
                        && !passes_unchecked(self, other)
                        && !rule.images.is_empty()
                        && rule.images.iter().all(|p| {
                            other.images.iter().any(|o| covers(o, p))
                                && other.exclude.iter().all(|e| disjoint(e, p))
                        })
                })
            {
                push(
                    LintLevel::Warning,
                    "allow-rule-overridden",
                    format!("{field}.images"),
                    format!(
                        "rule `{name}` allows its images unchecked (`static: pass`), but every one of them is also matched by rule `{}` (spec.rules[{j}]), and every matching rule must pass (rules are not first-match): it exempts nothing; to exempt these images add them to the `exclude` of rule `{}`",
                        other.name, other.name
                    ),
                );
            }
            if let Some((j, earlier)) = self.rules[..i].iter().enumerate().find(|(_, e)| {
                same_patterns(&e.images, &rule.images) && same_patterns(&e.exclude, &rule.exclude)
            }) && !rule.images.is_empty()
            {
                push(
                    LintLevel::Warning,
                    "same-images-as-earlier-rule",
                    format!("{field}.images"),
                    format!(
                        "rule `{name}` applies to exactly the images of the earlier rule `{}` (spec.rules[{j}]); both must pass, so merge their requirements into one rule or give this one its own images",
                        earlier.name
                    ),
                );
            }
            if rule.mode == Mode::Audit {
                push(
                    LintLevel::Info,
                    "audit-only",
                    format!("{field}.mode"),
                    format!(
                        "rule `{name}` is in audit mode: failures are recorded but never deny or warn"
                    ),
                );
            }
            let names = rule.authority_names();
            let static_pass_only = !names.is_empty()
                && names.iter().all(|n| {
                    matches!(
                        self.authorities.get(*n),
                        Some(Authority::Static(StaticAction::Pass))
                    )
                })
                && rule.attestations.is_empty();
            let matches_all = rule.images.iter().position(|p| p.normalised() == "**");
            match (static_pass_only, matches_all) {
                (true, Some(k)) => push(
                    LintLevel::Warning,
                    "allows-everything",
                    format!("{field}.images[{k}]"),
                    format!(
                        "rule `{name}` matches `**` and its only authority is `static: pass`: every image is allowed without any check"
                    ),
                ),
                (true, None) => push(
                    LintLevel::Info,
                    "static-pass",
                    format!("{field}.signatures"),
                    format!(
                        "rule `{name}` only uses `static: pass` authorities: matching images are allowed unchecked"
                    ),
                ),
                _ => {}
            }
            for (j, a) in rule.attestations.iter().enumerate() {
                let afield = format!("{field}.attestations[{j}]");
                if a.signed_by_origin == SignedByOrigin::AnyAuthority {
                    push(
                        LintLevel::Warning,
                        "attestation-any-signer",
                        afield.clone(),
                        format!(
                            "attestation requirement `{}` has no `signedBy` and rule `{name}` has no `signatures` to default it to: an attestation signed by any authority of the policy counts; name who must sign it",
                            a.label(),
                        ),
                    );
                }
                for (t, ty) in a.predicate_types.iter().enumerate() {
                    if let Some(suggestion) = predicate_type_suggestion(ty) {
                        let tfield = if a.predicate_types.len() == 1 {
                            format!("{afield}.predicateType")
                        } else {
                            format!("{afield}.predicateType[{t}]")
                        };
                        push(
                            LintLevel::Warning,
                            "unknown-predicate-type",
                            tfield,
                            format!(
                                "predicate type `{ty}` is not a known one; did you mean `{suggestion}`? (attestations of a mistyped type are never found)"
                            ),
                        );
                    }
                }
                if let Some(sbom) = &a.sbom {
                    for (k, text) in sbom.denied_licenses.iter().enumerate() {
                        if let Some(message) = license_variants(text, &sbom.denied_license_ids) {
                            push(
                                LintLevel::Warning,
                                "denied-license-variant",
                                format!("{afield}.sbom.deniedLicenses[{k}]"),
                                message,
                            );
                        }
                    }
                }
            }
            if rule.attestations.iter().any(|a| {
                a.signed_by.is_none()
                    && a.sbom.is_none()
                    && a.vulnerabilities.is_none()
                    && a.condition.is_none()
            }) {
                push(
                    LintLevel::Info,
                    "attestation-presence-only",
                    format!("{field}.attestations"),
                    format!(
                        "rule `{name}`: an attestation requirement has no content check and no `signedBy`: any policy authority's attestation of that type is enough"
                    ),
                );
            }
        }
        for (name, authority) in &self.authorities {
            let afield = format!("spec.authorities.{name}");
            if !used.contains(name.as_str()) {
                push(
                    LintLevel::Warning,
                    "unused-authority",
                    afield.clone(),
                    format!(
                        "authority `{name}` is not used by any rule; use it in a rule or remove it"
                    ),
                );
            }
            if let Authority::Notation(n) = authority {
                let nfield = format!("{afield}.notation");
                if n.level == "skip" {
                    push(
                        LintLevel::Warning,
                        "notation-skip",
                        format!("{nfield}.signatureVerification.level"),
                        format!(
                            "authority `{name}`: level `skip` verifies nothing, so imprint never counts it as met (fail closed); use `static: pass` to let images through without verification, or a real level"
                        ),
                    );
                }
                for problem in n.store_problems() {
                    push(
                        LintLevel::Warning,
                        "notation-store-unusable",
                        format!("{nfield}.trustStores"),
                        format!(
                            "authority `{name}`: {problem}; every signature fails authenticity until it is fixed"
                        ),
                    );
                }
                use crate::notation::{Action, Check};
                let actions = &n.statement().actions;
                if n.level != "skip" {
                    for check in [
                        Check::Authenticity,
                        Check::Expiry,
                        Check::AuthenticTimestamp,
                    ] {
                        if actions.action(check) != Action::Enforce {
                            push(
                                LintLevel::Warning,
                                "notation-not-enforced",
                                format!("{nfield}.signatureVerification"),
                                format!(
                                    "authority `{name}`: `{}` is not enforced (level `{}`): a signature failing it still counts",
                                    check.as_str(),
                                    n.level
                                ),
                            );
                        }
                    }
                }
            }
            match authority {
                Authority::Keyless(k) => {
                    used_roots
                        .entry(k.trust_root.as_str())
                        .or_insert_with(|| format!("{afield}.keyless.trustRoot"));
                    for (f, matcher) in [("issuerRegExp", &k.issuer), ("subjectRegExp", &k.subject)]
                    {
                        if let Matcher::Regex(r) = matcher {
                            let s = r.as_str();
                            if !s.starts_with('^') || !s.ends_with('$') {
                                push(
                                    LintLevel::Warning,
                                    "unanchored-regexp",
                                    format!("{afield}.keyless.{f}"),
                                    format!(
                                        "`{s}` is not anchored with `^…$`, so it also matches identities that merely contain it"
                                    ),
                                );
                            }
                        }
                    }
                }
                Authority::Key(k) => {
                    let kfield = match &k.source {
                        KeySource::File(_) => format!("{afield}.key.file"),
                        KeySource::Env(_) => format!("{afield}.key.env"),
                        _ => format!("{afield}.key.pem"),
                    };
                    let whence = match &k.source {
                        KeySource::File(p) => format!("key file {}", p.display()),
                        KeySource::Env(v) => format!("environment variable `{v}`"),
                        _ => "inline `pem`".to_string(),
                    };
                    let tag = pem::parse(&k.pem)
                        .map(|b| b.tag().to_owned())
                        .unwrap_or_default();
                    if tag.contains("PRIVATE KEY") {
                        push(
                            LintLevel::Error,
                            "private-key",
                            kfield,
                            format!(
                                "authority `{name}`: {whence} holds a private key (`{tag}`), not a public key: verification cannot use it and the secret should not be in a policy; give the public key (`imprint public-key --key …`)"
                            ),
                        );
                    } else if let Some(bits) = crate::keys::rsa_pem_bits(&k.pem)
                        && bits < 2048
                    {
                        push(
                            LintLevel::Error,
                            "weak-key",
                            kfield,
                            format!(
                                "authority `{name}`: {whence} is a {bits}-bit RSA key; RSA keys must be at least 2048 bits (signatures from it are refused); use a P-256 or a 3072-bit RSA key"
                            ),
                        );
                    } else if let Err(e) = crate::keys::PublicKey::from_pem(&k.pem) {
                        push(
                            LintLevel::Error,
                            "not-a-public-key",
                            kfield,
                            format!(
                                "authority `{name}`: {whence} is not a usable public key ({}); every signature check against it would fail",
                                crate::format::error_chain(&e)
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
        // Key authorities that are one key by canonical identity (however the PEM writes it:
        // SPKI or PKCS#1, compressed or uncompressed point, a certificate's key).
        let mut by_key: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, authority) in &self.authorities {
            if let Authority::Key(k) = authority {
                let identity = crate::keys::PublicKey::from_pem(&k.pem)
                    .ok()
                    .map(|key| key.fingerprint())
                    .or_else(|| k.fingerprint.clone());
                if let Some(identity) = identity {
                    by_key.entry(identity).or_default().push(name.as_str());
                }
            }
        }
        for (identity, names) in &by_key {
            if let [first, .., last] = names.as_slice() {
                let listed = names[..names.len() - 1]
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                push(
                    LintLevel::Warning,
                    "duplicate-key",
                    format!("spec.authorities.{first}"),
                    format!(
                        "authorities {listed} and `{last}` are the same key ({identity}): they count as one signer"
                    ),
                );
            }
        }
        for name in self.trust_roots.keys() {
            if !used_roots.contains_key(name.as_str()) {
                push(
                    LintLevel::Warning,
                    "unused-trust-root",
                    format!("spec.trustRoots.{name}"),
                    format!("trust root `{name}` is not used by any keyless authority"),
                );
            }
        }
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        for (name, used_at) in &used_roots {
            let field = if self.trust_roots.contains_key(*name) {
                format!("spec.trustRoots.{name}")
            } else {
                used_at.clone()
            };
            let Some(root) = self.trust_root(name) else {
                continue;
            };
            match root.load() {
                Err(e) => push(
                    LintLevel::Error,
                    "invalid-trust-root",
                    field,
                    format!(
                        "trust root `{name}` cannot be loaded ({e}); every keyless check against it would fail"
                    ),
                ),
                Ok(root) => {
                    let ends = root.ca_and_tlog_validity_ends();
                    let last = ends
                        .iter()
                        .try_fold(i64::MIN, |acc, e| e.map(|e| acc.max(e)));
                    if !ends.is_empty()
                        && let Some(last) = last
                        && last < now_secs
                    {
                        let when = chrono::DateTime::from_timestamp(last, 0)
                            .map_or_else(|| last.to_string(), |t| t.to_rfc3339());
                        push(
                            LintLevel::Warning,
                            "expired-trust-root",
                            field,
                            format!(
                                "trust root `{name}`: every Fulcio CA and transparency-log key stopped being valid (the last at {when}): new keyless signatures cannot verify against it; refresh the trusted_root.json (`imprint trust-root …` or the TUF repository)"
                            ),
                        );
                    }
                }
            }
        }
        out
    }
}

/// Why an image pattern can never match a normalised image name, if it cannot.
fn never_matches(pattern: &str) -> Option<String> {
    let p = pattern.trim();
    if p.starts_with("oci:") {
        return None;
    }
    if let Some((scheme, _)) = p.split_once("://") {
        return Some(format!(
            "image names have no `{scheme}://` scheme; write `{}`",
            &p[scheme.len() + 3..]
        ));
    }
    if p.chars().any(char::is_whitespace) {
        return Some("it contains whitespace, which no image name does".into());
    }
    // The repository path: after the host, before a tag or digest.
    let repo = p.split('@').next().unwrap_or(p);
    let repo = match repo.rfind(':') {
        Some(i) if !repo[i..].contains('/') => &repo[..i],
        _ => repo,
    };
    // The first segment is a host only if it looks like one (as Docker reads names):
    // `Acme/app` is Docker Hub's `acme/app` written wrongly, not a host `Acme`.
    let path = match repo.split_once('/') {
        Some((host, path)) if host.contains(['.', ':']) || host == "localhost" => path,
        Some(_) => repo,
        None if repo.contains(['*', '?', '[', '{']) => "",
        None => repo,
    };
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Some(format!(
            "repository paths are lowercase (`{}`)",
            path.to_lowercase()
        ));
    }
    if repo.split('/').any(str::is_empty) {
        return Some("it has an empty path segment (`//`, or a leading or trailing `/`)".into());
    }
    None
}

/// Whether `exclude` removes every image `pattern` could match.
fn covers(exclude: &ImagePattern, pattern: &ImagePattern) -> bool {
    let (e, p) = (exclude.normalised(), pattern.normalised());
    if e == p || e == "**" {
        return true;
    }
    if p.contains(['*', '?', '[', '{']) {
        // A pattern against a pattern: `prefix/**` covering whatever starts with `prefix/`,
        // or a glob that matches every name the other does.
        return e.strip_suffix("/**").is_some_and(|prefix| {
            !prefix.contains(['*', '?', '[', '{']) && p.starts_with(&format!("{prefix}/"))
        }) || glob_covers(e, p);
    }
    exclude.matches_text(p) || glob_covers(e, p)
}

/// Whether the rule's only authorities are `static: pass` and it has no attestations: it
/// allows what it matches without any check.
fn passes_unchecked(policy: &Policy, rule: &super::model::Rule) -> bool {
    let names = rule.authority_names();
    !names.is_empty()
        && rule.attestations.is_empty()
        && names.iter().all(|n| {
            matches!(
                policy.authorities.get(*n),
                Some(Authority::Static(StaticAction::Pass))
            )
        })
}

/// Glob characters (as globset reads them, with backslash escapes).
const GLOB_META: [char; 5] = ['*', '?', '[', '{', '\\'];

/// Whether no name matches both patterns, known from their literal prefixes (the text before
/// the first glob character): when neither prefix extends the other, nothing matches both.
fn disjoint(a: &ImagePattern, b: &ImagePattern) -> bool {
    let prefix = |p: &str| p[..p.find(GLOB_META).unwrap_or(p.len())].to_owned();
    let (a, b) = (prefix(a.normalised()), prefix(b.normalised()));
    !a.starts_with(&b) && !b.starts_with(&a)
}

/// Whether `hex` is `len` lowercase hex digits.
fn is_hex(hex: &str, len: usize) -> bool {
    hex.len() == len
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// Why an `oci:` pattern can never match a layout image as imprint names one (`oci:` and
/// the layout's absolute path with symbolic links resolved, then `:TAG` or `@DIGEST`), if it
/// cannot.
fn layout_never_matches(pattern: &ImagePattern) -> Option<String> {
    let written = pattern.as_str().trim();
    let rest = written.strip_prefix("oci:")?;
    if let Some(host) = rest.strip_prefix("//") {
        return Some(format!(
            "`oci:` names an OCI layout directory on disk, not a registry, so this is the directory `/{host}`; for registry images write `{host}` (without a scheme)"
        ));
    }
    if rest.chars().any(char::is_whitespace) {
        return Some("it contains whitespace, which no layout reference does".into());
    }
    let path = pattern.normalised().strip_prefix("oci:")?;
    // `@sha256:…` after the path: a digest, which is `sha256:` and 64 lowercase hex digits.
    if let Some((_, digest)) = path.rsplit_once('@')
        && digest.contains(':')
    {
        if digest.contains(GLOB_META) {
            return None;
        }
        let ok = digest
            .strip_prefix("sha256:")
            .is_some_and(|hex| is_hex(hex, 64))
            || digest
                .strip_prefix("sha512:")
                .is_some_and(|hex| is_hex(hex, 128));
        return (!ok).then(|| {
            format!("`{digest}` is not a digest (`sha256:` and 64 lowercase hex digits)")
        });
    }
    // A layout reference's path ends at its first `:`; what follows is a tag.
    if let Some((dir, tag)) = path.split_once(':') {
        if tag.contains('/') {
            return Some(format!(
                "a layout path ends at its first `:` and a tag has no `/`, so no layout reference reads as `{dir}:{tag}`"
            ));
        }
        if !tag.contains(GLOB_META)
            && (tag.is_empty()
                || tag.len() > 128
                || tag.starts_with(['.', '-'])
                || !tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Some(format!(
                "`{tag}` is not a valid tag (letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`)"
            ));
        }
    }
    // Images are matched by their path with symbolic links resolved; a pattern is only
    // normalised lexically, so a link in its literal directory part is never matched.
    let literal = &path[..path.find(GLOB_META).unwrap_or(path.len())];
    let literal = literal.split(':').next().unwrap_or(literal);
    let dir = if literal.len() < path.len() {
        // A glob or a tag follows: the directories before its segment.
        &literal[..literal.rfind('/')?]
    } else {
        literal
    };
    if dir.is_empty() {
        return None;
    }
    let resolved = std::fs::canonicalize(dir).ok()?;
    let resolved = resolved.to_string_lossy();
    (resolved != dir).then(|| {
        format!(
            "`{dir}` resolves (through a symbolic link) to `{resolved}`, and layout images are matched by their resolved path; write the pattern under `{resolved}`"
        )
    })
}

/// A piece of a glob, as globset reads it with `literal_separator` and backslash escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// One character.
    Lit(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**` alone, or `/**` at the end: any run of characters.
    Deep,
    /// `**/` at the start, or `/**/` (after its first `/`): nothing, or any run ending in `/`.
    DeepDir,
    /// `[…]`: negated or not, the ranges.
    Class(bool, Vec<(char, char)>),
}

/// Most alternatives a pattern's `{a,b}` groups expand to (and most pairs of alternatives
/// compared) before coverage gives up.
const MAX_ALTERNATIVES: usize = 64;

/// Longest pattern coverage is decided for.
const MAX_COVERAGE_CHARS: usize = 256;

/// Whether every name the glob `specific` matches is matched by the glob `general` (both
/// normalised). Sound, not complete: `false` also when it cannot tell.
fn glob_covers(general: &str, specific: &str) -> bool {
    // Bounded work for hostile policies: real patterns are short.
    if general.len() > MAX_COVERAGE_CHARS || specific.len() > MAX_COVERAGE_CHARS {
        return false;
    }
    let (Some(gs), Some(ss)) = (tokens(general), tokens(specific)) else {
        return false;
    };
    if gs.len() * ss.len() > MAX_ALTERNATIVES {
        return false;
    }
    ss.iter()
        .all(|s| gs.iter().any(|g| Coverage::new(g, s).covers(0, 0)))
}

/// The token sequences of `pattern`, one per expansion of its `{a,b}` groups; `None` for
/// what this reading does not model (nested groups, too many alternatives, bad classes).
fn tokens(pattern: &str) -> Option<Vec<Vec<Tok>>> {
    let mut alternatives = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next()?;
                for a in &mut alternatives {
                    a.push('\\');
                    a.push(next);
                }
            }
            '{' => {
                let mut group = String::new();
                loop {
                    match chars.next()? {
                        '}' => break,
                        '{' => return None,
                        '\\' => {
                            group.push('\\');
                            group.push(chars.next()?);
                        }
                        other => group.push(other),
                    }
                }
                let options: Vec<&str> = group.split(',').collect();
                if alternatives.len() * options.len() > MAX_ALTERNATIVES {
                    return None;
                }
                alternatives = alternatives
                    .iter()
                    .flat_map(|a| options.iter().map(move |o| format!("{a}{o}")))
                    .collect();
            }
            '}' => return None,
            other => {
                for a in &mut alternatives {
                    a.push(other);
                }
            }
        }
    }
    alternatives.iter().map(|a| tokenize(a)).collect()
}

/// One alternative (no `{…}`) as tokens.
fn tokenize(glob: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                out.push(Tok::Lit(*chars.get(i + 1)?));
                i += 2;
            }
            '?' => {
                out.push(Tok::One);
                i += 1;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                // Recursive only as a whole segment; elsewhere `**` is `*`.
                let segment_start = i == 0 || chars[i - 1] == '/';
                match (segment_start, chars.get(i + 2)) {
                    (true, None) => out.push(Tok::Deep),
                    (true, Some('/')) => {
                        out.push(Tok::DeepDir);
                        i += 1;
                    }
                    _ => out.push(Tok::Star),
                }
                i += 2;
            }
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let c = *chars.get(j)?;
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|e| *e != ']')
                    {
                        ranges.push((c, chars[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((c, c));
                        j += 1;
                    }
                }
                out.push(Tok::Class(negated, ranges));
                i = j + 1;
            }
            c => {
                out.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Some(out)
}

/// Whether a token matches only single characters other than `/` (so `?` and `*` absorb it).
fn one_non_slash(t: &Tok) -> bool {
    match t {
        Tok::Lit(c) => *c != '/',
        Tok::One => true,
        Tok::Class(false, ranges) => ranges.iter().all(|(a, b)| !(*a..=*b).contains(&'/')),
        _ => false,
    }
}

/// Whether a glob covers another, token by token (memoised over positions).
struct Coverage<'a> {
    general: &'a [Tok],
    specific: &'a [Tok],
    memo: Vec<Option<bool>>,
}

impl<'a> Coverage<'a> {
    fn new(general: &'a [Tok], specific: &'a [Tok]) -> Self {
        Self {
            general,
            specific,
            memo: vec![None; (general.len() + 1) * (specific.len() + 1)],
        }
    }

    /// Whether `general[i..]` matches every name `specific[j..]` matches.
    fn covers(&mut self, i: usize, j: usize) -> bool {
        let slot = i * (self.specific.len() + 1) + j;
        if let Some(known) = self.memo[slot] {
            return known;
        }
        let (g, s) = (self.general, self.specific);
        let next = s.get(j);
        let result = match g.get(i) {
            None => next.is_none(),
            Some(Tok::Deep) => self.covers(i + 1, j) || (next.is_some() && self.covers(i, j + 1)),
            Some(Tok::DeepDir) => {
                self.covers(i + 1, j)
                    || (next == Some(&Tok::DeepDir) && self.covers(i + 1, j + 1))
                    || (j + 1..=s.len()).any(|k| {
                        // The absorbed piece must end in `/`: a `/`, or a `**/` after a `/`
                        // (or alone), which is nothing or ends in `/`.
                        let ends_in_slash = s[k - 1] == Tok::Lit('/')
                            || (s[k - 1] == Tok::DeepDir
                                && (k - 1 == j || s[k - 2] == Tok::Lit('/')));
                        ends_in_slash && self.covers(i + 1, k)
                    })
            }
            Some(Tok::Star) => {
                self.covers(i + 1, j)
                    || (next.is_some_and(|t| *t == Tok::Star || one_non_slash(t))
                        && self.covers(i, j + 1))
            }
            Some(Tok::One) => next.is_some_and(one_non_slash) && self.covers(i + 1, j + 1),
            Some(Tok::Lit(c)) => next == Some(&Tok::Lit(*c)) && self.covers(i + 1, j + 1),
            Some(class @ Tok::Class(negated, ranges)) => {
                next.is_some_and(|t| match t {
                    Tok::Lit(c) => ranges.iter().any(|(a, b)| (*a..=*b).contains(c)) != *negated,
                    other => other == class,
                }) && self.covers(i + 1, j + 1)
            }
        };
        self.memo[slot] = Some(result);
        result
    }
}

fn same_patterns(a: &[ImagePattern], b: &[ImagePattern]) -> bool {
    let set = |l: &[ImagePattern]| {
        l.iter()
            .map(|p| p.normalised().to_owned())
            .collect::<BTreeSet<_>>()
    };
    set(a) == set(b)
}

/// The known predicate type (a URI for a URI, a `--type` shortcut otherwise) that an unknown
/// `predicate_type` is probably a typo of.
fn predicate_type_suggestion(predicate_type: &str) -> Option<&'static str> {
    use crate::format::predicate::SHORTCUTS;
    if SHORTCUTS.iter().any(|(_, uri)| *uri == predicate_type) {
        return None;
    }
    let lower = predicate_type.to_lowercase();
    let uri = predicate_type.contains(':');
    SHORTCUTS
        .iter()
        .map(|(name, u)| if uri { *u } else { *name })
        .map(|c| (strsim::levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len() / 10).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A warning when a `deniedLicenses` entry misses an obvious variant of a GNU license: a
/// deprecated bare id (`GPL-3.0`, read as `GPL-3.0-only`), or `-only` without `-or-later`
/// (or the reverse) anywhere in the list.
fn license_variants(text: &str, all_denied: &BTreeSet<String>) -> Option<String> {
    let ids = super::sbom::denied_license_ids(text).ok()?;
    let mut notes = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        let bare = token.trim_end_matches('+').to_uppercase();
        if GNU_FAMILIES.iter().any(|f| bare.starts_with(f))
            && !bare.ends_with("-ONLY")
            && !bare.ends_with("-OR-LATER")
            && bare
                .rsplit('-')
                .next()
                .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        {
            notes.push(format!(
                "`{token}` is a deprecated SPDX id (read as `{bare}-{}`); SBOMs use `{bare}-only` and `{bare}-or-later`: list both",
                if token.ends_with('+') { "or-later" } else { "only" }
            ));
        }
    }
    if notes.is_empty() {
        for id in &ids {
            let (stem, other) = if let Some(stem) = id.strip_suffix("-only") {
                (stem, format!("{stem}-or-later"))
            } else if let Some(stem) = id.strip_suffix("-or-later") {
                (stem, format!("{stem}-only"))
            } else {
                continue;
            };
            if GNU_FAMILIES.iter().any(|f| stem.starts_with(f)) && !all_denied.contains(&other) {
                notes.push(format!(
                    "`{id}` is denied but `{other}` is not, so a package under `{other}` passes; add `{other}`"
                ));
            }
        }
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(spec: &str) -> Policy {
        let yaml = format!("apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n{spec}");
        Policy::from_str_with_base(&yaml, Path::new(".")).unwrap()
    }

    #[test]
    fn lint_findings() {
        let codes = |p: &Policy| p.lint().into_iter().map(|f| f.code).collect::<Vec<_>>();
        let p = parse("  noMatch: allow\n");
        assert_eq!(codes(&p), ["allows-everything"]);
        let p = parse(
            "  noMatch: warn\n  authorities:\n    a: {static: pass}\n    unused: {static: fail}\n    ci: {keyless: {issuer: x, subjectRegExp: 'acme'}}\n  rules:\n    - name: r\n      images: []\n      mode: warn\n      signatures: {anyOf: [{authority: a}, {authority: ci}]}\n",
        );
        let found = codes(&p);
        for want in [
            "rule-matches-nothing",
            "never-denies",
            "unused-authority",
            "unanchored-regexp",
        ] {
            assert!(found.contains(&want), "{want} missing from {found:?}");
        }
        let p = parse(
            "  authorities:\n    a: {static: pass}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      exclude: ['ghcr.io/**']\n      signatures: {authority: a}\n",
        );
        assert!(codes(&p).contains(&"rule-shadowed-by-exclude"));
        assert!(codes(&p).contains(&"static-pass"));
    }

    #[test]
    fn an_attestation_without_any_signer_constraint_is_a_warning() {
        let p = parse(
            "  authorities:\n    ci: {keyless: {issuer: x, subject: y}}\n    dev: {key: {pem: \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}}\n  rules:\n    - name: scans\n      images: ['ghcr.io/**']\n      attestations:\n        - {name: scan, predicateType: vuln, vulnerabilities: {maxSeverity: high}}\n        - {predicateType: spdx, signedBy: {authority: ci}, sbom: {deniedLicenses: [AGPL-3.0-only]}}\n    - name: signed\n      images: ['ghcr.io/**']\n      signatures: {authority: ci}\n      attestations: [{predicateType: vuln, vulnerabilities: {maxSeverity: high}}]\n",
        );
        let found: Vec<LintFinding> = p
            .lint()
            .into_iter()
            .filter(|f| f.code == "attestation-any-signer")
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, LintLevel::Warning);
        assert_eq!(found[0].field, "spec.rules[0].attestations[0]");
        assert_eq!(found[0].line, Some(11));
        assert!(
            found[0].message.contains("`scan`") && found[0].message.contains("rule `scans`"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn the_same_key_under_several_names_is_reported() {
        let (_, encodings) = crate::keys::test_p256_encodings();
        let pem = |der: &[u8]| crate::keys::go_pem("PUBLIC KEY", der).replace('\n', "\\n");
        let other = crate::keys::SigningKey::generate_p256()
            .unwrap()
            .public_key()
            .to_pem()
            .replace('\n', "\\n");
        let p = parse(&format!(
            "  authorities:\n    a: {{key: {{pem: \"{}\"}}}}\n    b: {{key: {{pem: \"{}\"}}}}\n    c: {{key: {{pem: \"{}\"}}}}\n    d: {{key: {{pem: \"{other}\"}}}}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      signatures: {{threshold: {{count: 3, of: [a, b, c, d]}}}}\n",
            pem(&encodings[0]),
            pem(&encodings[1]),
            pem(&encodings[2]),
        ));
        let found: Vec<LintFinding> = p
            .lint()
            .into_iter()
            .filter(|f| f.code == "duplicate-key")
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, LintLevel::Warning);
        assert_eq!(found[0].field, "spec.authorities.a");
        assert!(
            found[0].message.contains("`a`, `b` and `c`"),
            "{}",
            found[0].message
        );
    }

    fn found(p: &Policy, code: &str) -> Vec<LintFinding> {
        p.lint().into_iter().filter(|f| f.code == code).collect()
    }

    /// A policy whose only rule needs `authority: k`, with `k` defined by `key`.
    fn with_key(key: &str) -> String {
        format!(
            "  authorities:\n    k: {{key: {key}}}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      signatures: {{authority: k}}\n"
        )
    }

    const WEAK_RSA: &str = "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDPzpUSZgxTF+vjx3Ze8kzaTlaM\n7Y6+zhFzAGMK6AboHwzvob0KgMUM1A0pPEh9DLbai2qafQDbch5LENC9vgEZlCP0\n8wMg61hpUzL7cclL1CnTq1GFvdO0QBeRIhD5laRe/mHDFsUj8TTbx/kCA2AGiAT3\ntR7KeMmrfdmTqQeb9wIDAQAB\n-----END PUBLIC KEY-----\n";

    #[test]
    fn private_keys_and_non_keys_in_key_files_are_errors_at_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::keys::SigningKey::generate_p256().unwrap();
        let private = crate::keys::go_pem("PRIVATE KEY", &key.to_pkcs8_der().unwrap());
        std::fs::write(dir.path().join("private.pem"), private).unwrap();
        std::fs::write(
            dir.path().join("garbage.pub"),
            "-----BEGIN PUBLIC KEY-----\nAAECAw==\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("good.pub"), key.public_key().to_pem()).unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(
            &path,
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  authorities:\n    priv:\n      key: {file: private.pem}\n    junk:\n      key:\n        file: garbage.pub\n    good: {key: {file: good.pub}}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      signatures: {threshold: {count: 2, of: [priv, junk, good]}}\n",
        )
        .unwrap();
        let p = Policy::from_path(&path).unwrap();
        let private = found(&p, "private-key");
        assert_eq!(private.len(), 1, "{private:?}");
        assert_eq!(private[0].severity, LintLevel::Error);
        assert_eq!(private[0].field, "spec.authorities.priv.key.file");
        assert_eq!(private[0].file, path.display().to_string());
        assert_eq!(private[0].line, Some(6));
        assert!(private[0].column.is_some_and(|c| c > 7), "{private:?}");
        let junk = found(&p, "not-a-public-key");
        assert_eq!(junk.len(), 1, "{junk:?}");
        assert_eq!(junk[0].severity, LintLevel::Error);
        assert_eq!(junk[0].field, "spec.authorities.junk.key.file");
        assert_eq!((junk[0].line, junk[0].column), (Some(9), Some(15)));
        assert!(junk[0].position().ends_with("policy.yaml:9:15"));
        // Not the good key, and a PEM block of another kind is not a key either.
        let p = parse(&with_key(
            "{pem: \"-----BEGIN CERTIFICATE REQUEST-----\\nAAECAw==\\n-----END CERTIFICATE REQUEST-----\\n\"}",
        ));
        assert_eq!(found(&p, "not-a-public-key").len(), 1);
        for tag in [
            "EC PRIVATE KEY",
            "ENCRYPTED SIGSTORE PRIVATE KEY",
            "RSA PRIVATE KEY",
        ] {
            let p = parse(&with_key(&format!(
                "{{pem: \"-----BEGIN {tag}-----\\nAAECAw==\\n-----END {tag}-----\\n\"}}"
            )));
            assert_eq!(found(&p, "private-key").len(), 1, "{tag}: {:?}", p.lint());
            assert!(found(&p, "not-a-public-key").is_empty(), "{tag}");
        }
        let good = key.public_key().to_pem().replace('\n', "\\n");
        assert!(
            parse(&with_key(&format!("{{pem: \"{good}\"}}")))
                .lint()
                .is_empty()
        );
    }

    #[test]
    fn rsa_keys_below_2048_bits_are_weak() {
        let p = parse(&with_key(&format!(
            "{{pem: \"{}\"}}",
            WEAK_RSA.replace('\n', "\\n")
        )));
        let weak = found(&p, "weak-key");
        assert_eq!(weak.len(), 1, "{:?}", p.lint());
        assert_eq!(weak[0].severity, LintLevel::Error);
        assert_eq!(weak[0].field, "spec.authorities.k.key.pem");
        assert!(weak[0].message.contains("1024-bit"), "{}", weak[0].message);
        // Reported once, as weak, not also as "not a key".
        assert!(found(&p, "not-a-public-key").is_empty());
        assert_eq!(crate::keys::rsa_pem_bits(WEAK_RSA.as_bytes()), Some(1024));
    }

    fn with_attestation(att: &str) -> Policy {
        parse(&format!(
            "  authorities:\n    ci: {{keyless: {{issuer: x, subject: y}}}}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      signatures: {{authority: ci}}\n      attestations: [{att}]\n"
        ))
    }

    #[test]
    fn a_mistyped_predicate_type_gets_a_suggestion() {
        for (written, want) in [
            ("spdxx", "spdx"),
            ("SPDX", "spdx"),
            ("slsaprovenence1", "slsaprovenance1"),
            ("'https://spdx.dev/document'", "https://spdx.dev/Document"),
            (
                "'https://slsa.dev/provenance/v1/'",
                "https://slsa.dev/provenance/v1",
            ),
        ] {
            let p = with_attestation(&format!("{{predicateType: {written}}}"));
            let f = found(&p, "unknown-predicate-type");
            assert_eq!(f.len(), 1, "{written}: {:?}", p.lint());
            assert_eq!(f[0].severity, LintLevel::Warning);
            assert_eq!(f[0].field, "spec.rules[0].attestations[0].predicateType");
            assert!(
                f[0].message.contains(&format!("`{want}`")),
                "{}",
                f[0].message
            );
        }
        let p = with_attestation(
            "{predicateType: [spdx, 'https://example.com/attestation/v1', cyclonedxx]}",
        );
        let f = found(&p, "unknown-predicate-type");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].field, "spec.rules[0].attestations[0].predicateType[2]");
        for fine in [
            "vuln",
            "'https://slsa.dev/provenance/v0.2'",
            "'https://example.com/x'",
        ] {
            let p = with_attestation(&format!("{{predicateType: {fine}}}"));
            assert!(found(&p, "unknown-predicate-type").is_empty(), "{fine}");
        }
    }

    fn with_images(images: &str, exclude: &str) -> Policy {
        parse(&format!(
            "  authorities:\n    ci: {{keyless: {{issuer: x, subject: y}}}}\n  rules:\n    - name: r\n      images: {images}\n      exclude: {exclude}\n      signatures: {{authority: ci}}\n"
        ))
    }

    #[test]
    fn patterns_that_can_never_match_are_errors() {
        for bad in [
            "'http://ghcr.io/acme/*'",
            "'https://ghcr.io/acme/*'",
            "'docker://ghcr.io/acme'",
            "'ghcr.io/acme/my app'",
            "'ghcr.io/Acme/app'",
            "'ghcr.io/acme//app'",
            "'ghcr.io/acme/'",
            "'Acme/app'",
            "'Busybox'",
        ] {
            let p = with_images(&format!("[{bad}]"), "[]");
            let f = found(&p, "unmatchable-pattern");
            assert_eq!(f.len(), 1, "{bad}: {:?}", p.lint());
            assert_eq!(f[0].severity, LintLevel::Error);
            assert_eq!(f[0].field, "spec.rules[0].images[0]");
        }
        let p = with_images("['ghcr.io/**']", "['HTTPS://ghcr.io/x']");
        assert_eq!(
            found(&p, "unmatchable-pattern")[0].field,
            "spec.rules[0].exclude[0]"
        );
        for fine in [
            "'ghcr.io/acme/app:Latest'",
            "'GHCR.io/acme/app'",
            "'localhost:5000/acme/*'",
            "'**'",
            "'ghcr.io/acme/app@sha256:*'",
            "'oci:./layout'",
            "'busybox'",
            "'*'",
            "'{Foo,bar}.io/x'",
        ] {
            let p = with_images(&format!("[{fine}]"), "[]");
            assert!(found(&p, "unmatchable-pattern").is_empty(), "{fine}");
        }
    }

    #[test]
    fn rules_shadowed_by_their_excludes_or_doubling_an_earlier_rule() {
        let p = with_images(
            "['ghcr.io/acme/*', 'ghcr.io/acme/app']",
            "['ghcr.io/acme/**']",
        );
        let f = found(&p, "rule-shadowed-by-exclude");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, LintLevel::Error);
        assert_eq!(f[0].field, "spec.rules[0].exclude");
        // One pattern left uncovered, or a narrower exclude: the rule still applies.
        for (images, exclude) in [
            (
                "['ghcr.io/acme/*', 'ghcr.io/other/app']",
                "['ghcr.io/acme/**']",
            ),
            ("['ghcr.io/**']", "['ghcr.io/*']"),
            ("['ghcr.io/acme/*']", "['ghcr.io/acme/app']"),
        ] {
            let p = with_images(images, exclude);
            assert!(
                found(&p, "rule-shadowed-by-exclude").is_empty(),
                "{images} {exclude}"
            );
        }
        let p = parse(
            "  authorities:\n    ci: {keyless: {issuer: x, subject: y}}\n  rules:\n    - name: a\n      images: ['ghcr.io/x/*', 'ghcr.io/y/*']\n      signatures: {authority: ci}\n    - name: b\n      images: ['ghcr.io/y/*', 'ghcr.io/x/*']\n      signatures: {authority: ci}\n    - name: c\n      images: ['ghcr.io/y/*', 'ghcr.io/x/*']\n      exclude: ['ghcr.io/x/tmp']\n      signatures: {authority: ci}\n",
        );
        let f = found(&p, "same-images-as-earlier-rule");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].field, "spec.rules[1].images");
        assert!(f[0].message.contains("rule `a`"), "{}", f[0].message);
    }

    #[test]
    fn glob_coverage_is_sound() {
        for (general, specific, want) in [
            ("ghcr.io/acme/*", "ghcr.io/acme/app-?", true),
            ("ghcr.io/acme/*", "ghcr.io/acme/app-*", true),
            ("ghcr.io/acme/*", "ghcr.io/acme/*/x", false),
            ("ghcr.io/acme/**", "ghcr.io/acme/*/x", true),
            ("ghcr.io/**", "ghcr.io/acme/**", true),
            ("ghcr.io/acme/**", "ghcr.io/**", false),
            ("**/app", "ghcr.io/acme/app", true),
            ("**/app", "ghcr.io/**/app", true),
            ("ghcr.io/**/app", "ghcr.io/app", true),
            ("ghcr.io/**/app", "ghcr.io/acme/x/app", true),
            ("ghcr.io/**/app", "ghcr.io/acme/x/app2", false),
            ("ghcr.io/acme/app:*", "ghcr.io/acme/app:v[0-9]", true),
            ("ghcr.io/acme/app:v[0-9]", "ghcr.io/acme/app:v1", true),
            ("ghcr.io/acme/app:v[0-9]", "ghcr.io/acme/app:va", false),
            ("ghcr.io/acme/app:v[!0-9]", "ghcr.io/acme/app:v1", false),
            ("ghcr.io/{acme,other}/*", "ghcr.io/other/app", true),
            ("ghcr.io/acme/*", "ghcr.io/{acme,other}/app", false),
            ("ghcr.io/{acme,other}/*", "ghcr.io/{other,acme}/a*", true),
            ("ghcr.io/acme/a\\*", "ghcr.io/acme/a*", false),
            ("ghcr.io/acme/?", "ghcr.io/acme/*", false),
            ("ghcr.io/acme/*", "ghcr.io/acme/a/", false),
            ("ghcr.io/acme/{a", "ghcr.io/acme/a", false),
        ] {
            assert_eq!(
                glob_covers(general, specific),
                want,
                "{general} over {specific}"
            );
            if want {
                // What it claims is what globset does on a sample of names.
                let g = ImagePattern::new(general).unwrap();
                for name in [
                    "ghcr.io/acme/app-1",
                    "ghcr.io/acme/app:v1",
                    "ghcr.io/other/app",
                ] {
                    if ImagePattern::new(specific).unwrap().matches_text(name) {
                        assert!(g.matches_text(name), "{general} misses {name}");
                    }
                }
            }
        }
    }

    #[test]
    fn layout_patterns_that_can_never_match_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap().join("real");
        std::fs::create_dir_all(real.join("app")).unwrap();
        let link = real.parent().unwrap().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let hex = "ab".repeat(32);
        for (bad, why) in [
            ("oci://ghcr.io/acme/*".to_owned(), "not a registry"),
            ("'oci:/srv/layouts/my app'".to_owned(), "whitespace"),
            ("oci:/srv/a:b/c".to_owned(), "ends at its first `:`"),
            ("oci:/srv/a@sha256:abc".to_owned(), "not a digest"),
            ("'oci:/srv/a:.v1'".to_owned(), "not a valid tag"),
            (format!("'oci:{}/**'", link.display()), "symbolic link"),
            (format!("'oci:{}/app:v1'", link.display()), "symbolic link"),
            (
                format!("'oci:{}'", link.join("app").display()),
                "symbolic link",
            ),
        ] {
            let p = with_images(&format!("[{bad}]"), "[]");
            let f = found(&p, "unmatchable-layout-pattern");
            assert_eq!(f.len(), 1, "{bad}: {:?}", p.lint());
            assert_eq!(f[0].severity, LintLevel::Error);
            assert_eq!(f[0].field, "spec.rules[0].images[0]");
            assert_eq!(f[0].line, Some(8), "{f:?}");
            assert!(f[0].message.contains(why), "{bad}: {}", f[0].message);
        }
        let p = with_images(&format!("['oci:{}/**']", link.display()), "[]");
        let f = found(&p, "unmatchable-layout-pattern");
        assert!(
            f[0].message.contains(&format!("`{}`", real.display())),
            "{}",
            f[0].message
        );
        for fine in [
            "'oci:./layout'".to_owned(),
            "'oci:../testdata/demo-image**'".to_owned(),
            "'oci:/srv/x:v1'".to_owned(),
            "'oci:/srv/x:*'".to_owned(),
            format!("'oci:/srv/x@sha256:{hex}'"),
            format!("'oci:{}/**'", real.display()),
            format!("'oci:{}/app:v1'", real.display()),
        ] {
            let p = with_images(&format!("[{fine}]"), "[]");
            assert!(
                found(&p, "unmatchable-layout-pattern").is_empty(),
                "{fine}: {:?}",
                p.lint()
            );
        }
    }

    #[test]
    fn duplicate_and_redundant_patterns() {
        let p = with_images(
            "['ghcr.io/x/*', 'busybox', 'docker.io/library/busybox']",
            "[]",
        );
        let f = found(&p, "duplicate-pattern");
        assert_eq!(f.len(), 1, "{:?}", p.lint());
        assert_eq!(f[0].severity, LintLevel::Warning);
        assert_eq!(f[0].field, "spec.rules[0].images[2]");
        assert!(
            f[0].message.contains("index.docker.io/library/busybox"),
            "{}",
            f[0].message
        );
        let p = with_images("['oci:./a']", "['ghcr.io/x/tmp', 'GHCR.IO/x/tmp']");
        assert_eq!(
            found(&p, "duplicate-pattern")[0].field,
            "spec.rules[0].exclude[1]"
        );
        let p = with_images("['oci:./a', 'oci:a']", "[]");
        assert_eq!(found(&p, "duplicate-pattern").len(), 1);

        let p = with_images("['ghcr.io/acme/app-*', 'ghcr.io/acme/**']", "[]");
        let f = found(&p, "redundant-pattern");
        assert_eq!(f.len(), 1, "{:?}", p.lint());
        assert_eq!(f[0].severity, LintLevel::Info);
        assert_eq!(f[0].field, "spec.rules[0].images[0]");
        assert!(
            f[0].message.contains("`ghcr.io/acme/**` (images[1])"),
            "{}",
            f[0].message
        );
        for fine in [
            "['ghcr.io/acme/*', 'ghcr.io/acme/*/x']",
            "['ghcr.io/a/*', 'ghcr.io/b/*']",
        ] {
            let p = with_images(fine, "[]");
            assert!(found(&p, "redundant-pattern").is_empty(), "{fine}");
            assert!(found(&p, "duplicate-pattern").is_empty(), "{fine}");
        }
    }

    #[test]
    fn excludes_that_cover_a_pattern_or_the_whole_rule() {
        // Glob over glob: `app-*` covers `app-?`, which the `prefix/**` rule alone missed.
        let p = with_images("['ghcr.io/acme/app-?']", "['ghcr.io/acme/app-*']");
        let f = found(&p, "rule-shadowed-by-exclude");
        assert_eq!(f.len(), 1, "{:?}", p.lint());
        assert!(found(&p, "pattern-shadowed-by-exclude").is_empty());
        let p = with_images(
            "['ghcr.io/acme/tmp-*', 'ghcr.io/other/*']",
            "['ghcr.io/acme/*']",
        );
        assert!(found(&p, "rule-shadowed-by-exclude").is_empty());
        let f = found(&p, "pattern-shadowed-by-exclude");
        assert_eq!(f.len(), 1, "{:?}", p.lint());
        assert_eq!(f[0].severity, LintLevel::Warning);
        assert_eq!(f[0].field, "spec.rules[0].images[0]");
        assert_eq!(f[0].line, Some(8));
        let p = with_images(
            "['ghcr.io/acme/*', 'ghcr.io/other/*']",
            "['ghcr.io/acme/tmp-*']",
        );
        assert!(found(&p, "pattern-shadowed-by-exclude").is_empty());
    }

    fn allow_list(signed_exclude: &str, allowed: &str) -> Policy {
        parse(&format!(
            "  authorities:\n    ci: {{keyless: {{issuer: x, subject: y}}}}\n    ok: {{static: pass}}\n  rules:\n    - name: signed\n      images: ['ghcr.io/acme/**']\n      exclude: {signed_exclude}\n      signatures: {{authority: ci}}\n    - name: tools\n      images: {allowed}\n      signatures: {{authority: ok}}\n"
        ))
    }

    #[test]
    fn an_allow_rule_under_a_wider_checked_rule_exempts_nothing() {
        let p = allow_list("[]", "['ghcr.io/acme/tools/*']");
        let f = found(&p, "allow-rule-overridden");
        assert_eq!(f.len(), 1, "{:?}", p.lint());
        assert_eq!(f[0].severity, LintLevel::Warning);
        assert_eq!(f[0].field, "spec.rules[1].images");
        assert_eq!(f[0].line, Some(13));
        assert!(
            f[0].message.contains("rule `signed` (spec.rules[0])")
                && f[0].message.contains("not first-match"),
            "{}",
            f[0].message
        );
        for (exclude, allowed) in [
            // The checked rule excludes them: the allow rule is what applies.
            ("['ghcr.io/acme/tools/**']", "['ghcr.io/acme/tools/*']"),
            // An exclude that may remove some of them: not sure, so no finding.
            ("['ghcr.io/acme/tools/x']", "['ghcr.io/acme/tools/*']"),
            // One pattern outside the checked rule.
            (
                "[]",
                "['ghcr.io/acme/tools/*', 'docker.io/library/busybox']",
            ),
        ] {
            let p = allow_list(exclude, allowed);
            assert!(
                found(&p, "allow-rule-overridden").is_empty(),
                "{exclude} {allowed}: {:?}",
                p.lint()
            );
        }
    }

    #[test]
    fn denied_licenses_missing_obvious_variants() {
        let sbom = |list: &str| {
            with_attestation(&format!(
                "{{predicateType: spdx, sbom: {{deniedLicenses: {list}}}}}"
            ))
        };
        let p = sbom("[MIT, GPL-3.0]");
        let f = found(&p, "denied-license-variant");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, LintLevel::Warning);
        assert_eq!(
            f[0].field,
            "spec.rules[0].attestations[0].sbom.deniedLicenses[1]"
        );
        assert!(
            f[0].message.contains("`GPL-3.0-only`") && f[0].message.contains("`GPL-3.0-or-later`"),
            "{}",
            f[0].message
        );
        let p = sbom("[AGPL-3.0-only]");
        let f = found(&p, "denied-license-variant");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("add `AGPL-3.0-or-later`"),
            "{}",
            f[0].message
        );
        let p = sbom("[LGPL-2.1-or-later]");
        assert!(
            found(&p, "denied-license-variant")[0]
                .message
                .contains("`LGPL-2.1-only`")
        );
        for fine in [
            "[AGPL-3.0-only, AGPL-3.0-or-later]",
            "['GPL-2.0-only OR GPL-2.0-or-later']",
            "[MIT, Apache-2.0]",
        ] {
            assert!(
                found(&sbom(fine), "denied-license-variant").is_empty(),
                "{fine}"
            );
        }
    }

    #[test]
    fn a_trust_root_whose_every_key_has_expired_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let mut root: serde_json::Value =
            serde_json::from_str(include_str!("../trust/public-good-trusted_root.json")).unwrap();
        let mut last_start = String::new();
        let close = |v: &mut serde_json::Value, last: &mut String| {
            let start = v["validFor"]["start"].as_str().unwrap().to_owned();
            if start > *last {
                last.clone_from(&start);
            }
            v["validFor"]["end"] = start.into();
        };
        for ca in root["certificateAuthorities"].as_array_mut().unwrap() {
            close(ca, &mut last_start);
        }
        for log in root["tlogs"].as_array_mut().unwrap() {
            close(&mut log["publicKey"], &mut last_start);
        }
        std::fs::write(dir.path().join("old.json"), root.to_string()).unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(
            &path,
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  trustRoots:\n    old: {file: old.json}\n  authorities:\n    ci: {keyless: {trustRoot: old, issuer: x, subject: y}}\n    pg: {keyless: {issuer: x, subject: y}}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      signatures: {anyOf: [{authority: ci}, {authority: pg}]}\n",
        )
        .unwrap();
        let p = Policy::from_path(&path).unwrap();
        let expired = |now| -> Vec<LintFinding> {
            p.lint_at(now)
                .into_iter()
                .filter(|f| f.code == "expired-trust-root")
                .collect()
        };
        let f = expired(SystemTime::now());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, LintLevel::Warning);
        assert_eq!(f[0].field, "spec.trustRoots.old");
        assert_eq!(f[0].line, Some(5));
        // The clock is injected: before the last key's end nothing has expired.
        let before = chrono::DateTime::parse_from_rfc3339(&last_start)
            .unwrap()
            .timestamp();
        let before =
            UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(before).unwrap() - 1);
        assert!(expired(before).is_empty());
        // A garbage trust-root file is an error (it loads only at verification time).
        std::fs::write(dir.path().join("old.json"), "{}").unwrap();
        let p = Policy::from_path(&path).unwrap();
        assert_eq!(found(&p, "invalid-trust-root").len(), 1);
    }

    #[test]
    fn policies_that_allow_everything() {
        let p = parse(
            "  noMatch: allow\n  authorities:\n    ci: {keyless: {issuer: x, subject: y}}\n  rules:\n    - name: r\n      images: ['ghcr.io/**']\n      attestations: [{predicateType: vuln, signedBy: {authority: ci}}]\n",
        );
        let f = found(&p, "allows-everything");
        assert_eq!(f.len(), 1, "{:?}", p.lint());
        assert_eq!(f[0].severity, LintLevel::Warning);
        assert_eq!(f[0].field, "spec.noMatch");
        assert_eq!(f[0].line, Some(4));
        let p = parse(
            "  authorities:\n    ok: {static: pass}\n  rules:\n    - name: all\n      images: ['ghcr.io/acme/**', '**']\n      signatures: {authority: ok}\n",
        );
        let f = found(&p, "allows-everything");
        assert_eq!(f.len(), 1, "{:?}", p.lint());
        assert_eq!(f[0].field, "spec.rules[0].images[1]");
        assert!(found(&p, "static-pass").is_empty());
        // Signatures somewhere, and `static: pass` for a narrower pattern: not everything.
        let p = parse(
            "  noMatch: allow\n  authorities:\n    ok: {static: pass}\n    ci: {keyless: {issuer: x, subject: y}}\n  rules:\n    - name: a\n      images: ['ghcr.io/acme/**']\n      signatures: {authority: ok}\n    - name: b\n      images: ['**']\n      signatures: {authority: ci}\n",
        );
        assert!(found(&p, "allows-everything").is_empty(), "{:?}", p.lint());
        assert_eq!(found(&p, "no-match-allow").len(), 1);
        assert_eq!(found(&p, "static-pass").len(), 1);
    }

    #[test]
    fn every_code_is_documented_and_every_finding_uses_a_listed_code() {
        let readme = include_str!("../../policies/README.md");
        let lint = &readme[readme.find("## Lint").unwrap()..];
        for code in LINT_CODES {
            assert!(
                lint.contains(&format!("| `{code}` |")),
                "{code} not in the Lint table"
            );
        }
        let source = include_str!("lint.rs");
        let body = &source[..source.find("#[cfg(test)]").unwrap()];
        for (i, _) in body.match_indices("LintLevel::") {
            let rest = &body[i..];
            let Some(start) = rest.find('"') else {
                continue;
            };
            let code = &rest[start + 1..start + 1 + rest[start + 1..].find('"').unwrap()];
            if code.chars().all(|c| c.is_ascii_lowercase() || c == '-') && code.contains('-') {
                assert!(LINT_CODES.contains(&code), "{code} is not in LINT_CODES");
            }
        }
    }
}
