//! Built-in SBOM check: denied licenses and denied packages, for SPDX 2.x JSON and
//! CycloneDX JSON.
//!
//! Licenses read: SPDX `packages[].licenseConcluded` **and** `licenseDeclared` (both are
//! checked; `NOASSERTION`/`NONE` carry no information); CycloneDX `components[]` (nested
//! `components` too) `licenses[]` entries `{license: {id}}`, `{license: {name}}` or
//! `{expression}`; several entries are each checked (any denied entry denies).
//!
//! A package's license text is parsed as an SPDX expression (leniently: `/` as `OR`,
//! `GPL-2.0+`, deprecated ids; imprecise names such as `GPL` are *not* guessed). Deprecated GNU ids are normalised (`GPL-2.0` →
//! `GPL-2.0-only`, `GPL-2.0+` → `GPL-2.0-or-later`) in both the policy and the SBOM; ids are
//! otherwise compared exactly (denying `GPL-2.0-only` does not deny `GPL-2.0-or-later`).
//! With the default `licenseOr: choice`, `A OR B` is denied only if every way of satisfying
//! it needs a denied license; `A AND B` is denied if either is denied. With
//! `licenseOr: anyMention`, any denied id anywhere in the expression denies. Text that is not
//! an SPDX expression (`Bouncy Castle Licence`, `GPL-3.0-only AND LGPL2.1`) is searched for
//! denied ids word by word: a hit denies, except that under `choice` an `OR` in the text
//! offers an alternative that cannot be judged, so the text is reported as unparsed instead.
//! Unparsed texts are listed in the report (never silently allowed without trace).
//!
//! Denied packages match by name (case-insensitive), either the SBOM package name or the
//! name part of its purl (`pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1` →
//! `log4j-core`). A package without a version is inside every range (fail closed).

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use serde::Serialize;
use serde_json::Value;

use super::decision::{Reason, ReasonCode};
use super::model::{OrSemantics, SbomCheck};
use super::version::VersionRange;
use crate::format::pick::{Key, Opt, Pick, Skip, Skipping};

/// A denied package entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeniedPackage {
    /// Package name (case-insensitive).
    pub name: String,
    /// Version range; `None`: every version.
    pub versions: Option<VersionRange>,
}

/// Which SBOM format was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SbomFormat {
    /// CycloneDX JSON (any 1.x).
    CycloneDx,
    /// SPDX 2.x JSON.
    Spdx,
}

/// One package as read from an SBOM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SbomPackage {
    /// Name.
    pub name: String,
    /// Version, if present.
    pub version: Option<String>,
    /// purl, if present.
    pub purl: Option<String>,
    /// `(field, license text)` pairs.
    pub licenses: Vec<(String, String)>,
}

/// One violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomFinding {
    /// `sbom-denied-license` or `sbom-denied-package`.
    pub code: ReasonCode,
    /// Package name.
    pub package: String,
    /// Package version.
    pub version: Option<String>,
    /// What matched: the denied license ids, or the denied range.
    pub detail: String,
}

/// The result of checking one SBOM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomReport {
    /// Format read.
    pub format: SbomFormat,
    /// Number of packages read.
    pub packages: usize,
    /// Violations.
    pub findings: Vec<SbomFinding>,
    /// License texts that are not SPDX expressions (not denied, listed for review).
    pub unparsed_licenses: BTreeSet<String>,
}

impl SbomReport {
    /// The failure reason, if any finding.
    pub fn reason(&self) -> Option<Reason> {
        let first = self.findings.first()?;
        let version = first.version.as_deref().unwrap_or("(no version)");
        let more = if self.findings.len() > 1 {
            format!(" (and {} more)", self.findings.len() - 1)
        } else {
            String::new()
        };
        Some(Reason::new(
            first.code,
            format!("{} {version}: {}{more}", first.package, first.detail),
        ))
    }
}

/// How license text is parsed: `/` as `OR`, `GPL-2.0+`, deprecated ids; no guessing of
/// imprecise names (`GPL`, `Artistic` stay unparsed instead of becoming a specific id).
const PARSE_MODE: spdx::ParseMode = spdx::ParseMode {
    allow_slash_as_or_operator: true,
    allow_imprecise_license_names: false,
    allow_postfix_plus_on_gpl: true,
    allow_deprecated: true,
    allow_unknown: false,
};

/// Rewrites every word of a license text that names an SPDX license or exception id, or an
/// operator, in any letter case, to its canonical spelling (`agpl-3.0-only` becomes
/// `AGPL-3.0-only`, `And` becomes `AND`). SPDX ids match case-insensitively (SPDX spec,
/// annex D), but the `spdx` crate's lexer compares exactly, and its `imprecise` mode only knows
/// a fixed list of common misspellings; so this small pass, over the crate's own id tables,
/// is hand-written. Words it does not know are left as they are.
fn canonical_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let (base, plus) = match word.strip_suffix('+') {
            Some(b) => (b.to_string(), "+"),
            None => (word.clone(), ""),
        };
        let upper = base.to_ascii_uppercase();
        if matches!(upper.as_str(), "AND" | "OR" | "WITH") && plus.is_empty() {
            out.push_str(&upper);
        } else if let Some(l) = spdx::identifiers::LICENSES
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(&base))
        {
            out.push_str(l.name);
            out.push_str(plus);
        } else if let Some(e) = spdx::identifiers::EXCEPTIONS
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(&base))
        {
            out.push_str(e.name);
            out.push_str(plus);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':') {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Parses the denied license expression of a policy into normalised ids.
pub(crate) fn denied_license_ids(text: &str) -> Result<BTreeSet<String>, String> {
    let expr = spdx::Expression::parse_mode(&canonical_case(text), PARSE_MODE).map_err(|e| {
        format!(
            "`{text}` is not an SPDX license expression: {} at character {}",
            e.reason,
            e.span.start + 1
        )
    })?;
    Ok(expr.requirements().map(|r| req_name(&r.req)).collect())
}

fn req_name(req: &spdx::LicenseReq) -> String {
    match &req.license {
        spdx::LicenseItem::Spdx { id, or_later } => normalise_id(id.name, *or_later),
        spdx::LicenseItem::Other(r) => r.to_string(),
    }
}

fn normalise_id(name: &str, or_later: bool) -> String {
    let (base, plus) = match name.strip_suffix('+') {
        Some(b) => (b, true),
        None => (name, or_later),
    };
    let gnu_bare = ["GPL-", "LGPL-", "AGPL-", "GFDL-"]
        .iter()
        .any(|p| base.starts_with(p))
        && !base.ends_with("-only")
        && !base.ends_with("-or-later")
        && base
            .rsplit('-')
            .next()
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if gnu_bare {
        format!("{base}-{}", if plus { "or-later" } else { "only" })
    } else if plus {
        match base.strip_suffix("-only") {
            Some(stem) => format!("{stem}-or-later"),
            None => base.to_string(),
        }
    } else {
        base.to_string()
    }
}

/// Reads the packages of an SPDX 2.x or CycloneDX JSON document. `Err` is `field-missing`
/// (naming the field) or `unsupported-format`. (The `Value` form of
/// [`sbom_packages_json`], for callers that hold a DOM already.)
pub fn sbom_packages(predicate: &Value) -> Result<(SbomFormat, Vec<SbomPackage>), Reason> {
    let bytes = value_bytes(predicate)?;
    let (format, packages) = read_predicate(&bytes, &Vec::new())?;
    Ok((format, packages.into_iter().map(Pkg::into_owned).collect()))
}

/// [`sbom_packages`] from the predicate's JSON bytes, without building a DOM.
pub fn sbom_packages_json(predicate: &[u8]) -> Result<(SbomFormat, Vec<SbomPackage>), Reason> {
    let (format, packages) = read_predicate(predicate, &Vec::new())?;
    Ok((format, packages.into_iter().map(Pkg::into_owned).collect()))
}

fn value_bytes(v: &Value) -> Result<Vec<u8>, Reason> {
    serde_json::to_vec(v).map_err(|e| {
        Reason::new(
            ReasonCode::UnsupportedFormat,
            format!("the SBOM cannot be read: {e}"),
        )
    })
}

/// Deepest `components` nesting read; deeper fails closed (a component that is not read
/// cannot be judged). `Limits::max_json_depth` bounds the JSON itself; each component level
/// is at least two JSON levels, so this bound is never the tighter one for a document that
/// parsed.
const MAX_COMPONENT_DEPTH: usize = crate::limits::Limits::DEFAULT.max_json_depth;

fn too_deep() -> Reason {
    Reason::new(
        ReasonCode::UnsupportedFormat,
        format!(
            "CycloneDX components are nested deeper than the limit max_json_depth = {MAX_COMPONENT_DEPTH}; the SBOM cannot be judged"
        ),
    )
}

/// One package as read, borrowing its strings from the document where they have no escapes
/// (a 200 MiB SBOM has ~280,000 components; owned copies of every field add up).
#[derive(Debug, Default)]
struct Pkg<'a> {
    name: Option<Cow<'a, str>>,
    version: Option<Cow<'a, str>>,
    purl: Option<Cow<'a, str>>,
    licenses: Vec<(&'static str, Cow<'a, str>)>,
}

impl Pkg<'_> {
    fn into_owned(self) -> SbomPackage {
        SbomPackage {
            name: self.name.map(Cow::into_owned).unwrap_or_default(),
            version: self.version.map(Cow::into_owned),
            purl: self.purl.map(Cow::into_owned),
            licenses: self
                .licenses
                .into_iter()
                .map(|(f, t)| (f.to_string(), t.into_owned()))
                .collect(),
        }
    }
}

/// Where the packages of an SBOM go as they are read, in document order (each CycloneDX
/// component before its nested ones): collected (`Vec<Pkg>`, for [`sbom_packages`]), or
/// judged one by one ([`Judge`], for the checks), so that the check of a 200 MiB SBOM never
/// holds its ~280,000 packages at once.
trait Sink<'de>: Sized {
    /// An empty sink of the same kind, for a list read on its own (nested components, which a
    /// later `components` key of the same object replaces, as in a `Value`).
    fn fresh(&self) -> Self;
    /// One package, after the ones already given.
    fn push(&mut self, p: Pkg<'de>);
    /// The packages of `other`, after the ones already given.
    fn append(&mut self, other: Self);
}

impl<'de> Sink<'de> for Vec<Pkg<'de>> {
    fn fresh(&self) -> Self {
        Vec::new()
    }
    fn push(&mut self, p: Pkg<'de>) {
        Vec::push(self, p);
    }
    fn append(&mut self, other: Self) {
        self.extend(other);
    }
}

/// What the packages are judged against, and each distinct license text judged once (the
/// same few texts recur across thousands of packages).
struct Judging<'c> {
    check: &'c SbomCheck,
    judged: Cell<HashMap<String, Result<Vec<String>, ()>>>,
}

/// Packages judged as they are read: their count, findings and unparsed license texts.
struct Judge<'c> {
    judging: &'c Judging<'c>,
    packages: usize,
    findings: Vec<SbomFinding>,
    unparsed: BTreeSet<String>,
}

impl<'de> Sink<'de> for Judge<'_> {
    fn fresh(&self) -> Self {
        Judge {
            judging: self.judging,
            packages: 0,
            findings: Vec::new(),
            unparsed: BTreeSet::new(),
        }
    }
    fn push(&mut self, p: Pkg<'de>) {
        self.packages += 1;
        self.judge(&p);
    }
    fn append(&mut self, other: Self) {
        self.packages += other.packages;
        self.findings.extend(other.findings);
        self.unparsed.extend(other.unparsed);
    }
}

impl Judge<'_> {
    fn judge(&mut self, p: &Pkg<'_>) {
        let check = self.judging.check;
        let name = p.name.as_deref().unwrap_or_default();
        if !check.denied_license_ids.is_empty() {
            // Taken out and put back (a `Cell`, not a `RefCell`: no borrow that could fail).
            let mut judged = self.judging.judged.take();
            let mut hits = BTreeSet::new();
            for (field, text) in &p.licenses {
                let result = match judged.get(text.as_ref()) {
                    Some(r) => r,
                    None => judged.entry(text.to_string()).or_insert_with(|| {
                        license_hits(text, &check.denied_license_ids, check.license_or)
                    }),
                };
                match result {
                    Ok(h) => hits.extend(h.iter().map(|id| format!("{id} (in {field}: `{text}`)"))),
                    Err(()) => {
                        self.unparsed.insert(text.to_string());
                    }
                }
            }
            self.judging.judged.set(judged);
            if !hits.is_empty() {
                self.findings.push(SbomFinding {
                    code: ReasonCode::SbomDeniedLicense,
                    package: name.to_string(),
                    version: p.version.as_deref().map(str::to_string),
                    detail: format!(
                        "denied license {}",
                        hits.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
        for denied in &check.denied_packages {
            let name_match = name.eq_ignore_ascii_case(&denied.name)
                || p.purl
                    .as_deref()
                    .and_then(purl_name)
                    .is_some_and(|n| n.eq_ignore_ascii_case(&denied.name));
            if !name_match {
                continue;
            }
            let version = p.version.as_deref();
            let in_range = match (&denied.versions, version) {
                (None, _) => true,
                (Some(_), None) => true,
                (Some(range), Some(v)) => range.contains(v),
            };
            if in_range {
                self.findings.push(SbomFinding {
                    code: ReasonCode::SbomDeniedPackage,
                    package: name.to_string(),
                    version: version.map(str::to_string),
                    detail: match (&denied.versions, version) {
                        (Some(r), Some(_)) => format!("denied package (versions {})", r.as_str()),
                        (Some(r), None) => format!(
                            "denied package (versions {}); the SBOM gives no version, so it is treated as inside the range",
                            r.as_str()
                        ),
                        (None, _) => "denied package (all versions)".to_string(),
                    },
                });
            }
        }
    }
}

/// Why the typed read stopped.
enum ReadError {
    /// CycloneDX components nested past [`MAX_COMPONENT_DEPTH`].
    TooDeep,
    /// Not JSON (or nested past serde_json's recursion limit).
    Json(serde_json::Error),
}

/// What the top level of an SBOM says, read in one pass (fields in any order; the last of
/// duplicate keys wins, as in a `Value`).
struct Doc<S> {
    object: bool,
    spdx_marker: bool,
    bom_format_cdx: bool,
    has_components: bool,
    spdx_packages: Option<S>,
    components: Option<S>,
    main_component: Option<S>,
}

impl<S> Doc<S> {
    fn not_an_object() -> Self {
        Self {
            object: false,
            spdx_marker: false,
            bom_format_cdx: false,
            has_components: false,
            spdx_packages: None,
            components: None,
            main_component: None,
        }
    }
}

fn read_predicate<'de, S: Sink<'de>>(
    bytes: &'de [u8],
    proto: &S,
) -> Result<(SbomFormat, S), Reason> {
    let too_deep_flag = Cell::new(false);
    let mut d = serde_json::Deserializer::from_slice(bytes);
    let doc = DocSeed {
        too_deep: &too_deep_flag,
        proto,
        skipping: Skipping::Checked,
    }
    .deserialize(&mut d)
    .and_then(|doc| d.end().map(|()| doc))
    .map_err(|e| {
        if too_deep_flag.get() {
            ReadError::TooDeep
        } else {
            ReadError::Json(e)
        }
    });
    let doc = match doc {
        Ok(doc) => doc,
        Err(ReadError::TooDeep) => return Err(too_deep()),
        Err(ReadError::Json(e)) if e.to_string().contains("recursion limit") => {
            return Err(too_deep());
        }
        Err(ReadError::Json(e)) => {
            return Err(Reason::new(
                ReasonCode::UnsupportedFormat,
                format!("SBOM predicate is not valid JSON: {e}"),
            ));
        }
    };
    from_doc(doc, proto)
}

/// The packages of a statement's `predicate`, read from the statement bytes.
fn read_statement<'de, S: Sink<'de>>(
    statement: &'de [u8],
    proto: &S,
    skipping: Skipping,
) -> Result<(SbomFormat, S), Reason> {
    let too_deep_flag = Cell::new(false);
    let doc = crate::format::pick::statement_predicate(
        statement,
        DocSeed {
            too_deep: &too_deep_flag,
            proto,
            skipping,
        },
        skipping,
    );
    match doc {
        Ok(Some(doc)) => from_doc(doc, proto),
        Ok(None) => from_doc(Doc::not_an_object(), proto),
        Err(_) if too_deep_flag.get() => Err(too_deep()),
        Err(e) if e.to_string().contains("recursion limit") => Err(too_deep()),
        Err(e) => Err(Reason::new(
            ReasonCode::UnsupportedFormat,
            format!("the statement's predicate cannot be read: {e}"),
        )),
    }
}

fn from_doc<'de, S: Sink<'de>>(doc: Doc<S>, proto: &S) -> Result<(SbomFormat, S), Reason> {
    if !doc.object {
        return Err(Reason::new(
            ReasonCode::UnsupportedFormat,
            "SBOM predicate is not a JSON object",
        ));
    }
    if doc.spdx_marker {
        let Some(packages) = doc.spdx_packages else {
            return Err(Reason::new(
                ReasonCode::FieldMissing,
                "SPDX document has no `packages` array",
            ));
        };
        return Ok((SbomFormat::Spdx, packages));
    }
    if doc.bom_format_cdx || doc.has_components {
        let Some(components) = doc.components else {
            return Err(Reason::new(
                ReasonCode::FieldMissing,
                "CycloneDX document has no `components` array",
            ));
        };
        // The component the SBOM describes is a package too, with its own licenses (and
        // possibly nested components); it comes first.
        let mut out = doc.main_component.unwrap_or_else(|| proto.fresh());
        out.append(components);
        return Ok((SbomFormat::CycloneDx, out));
    }
    Err(Reason::new(
        ReasonCode::UnsupportedFormat,
        "not an SBOM: neither `spdxVersion`/`packages` (SPDX 2.x) nor `bomFormat`/`components` (CycloneDX) found",
    ))
}

struct DocSeed<'f, S> {
    too_deep: &'f Cell<bool>,
    proto: &'f S,
    skipping: Skipping,
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for DocSeed<'_, S> {
    type Value = Doc<S>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Doc<S>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for DocSeed<'_, S> {
    type Value = Doc<S>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an SBOM")
    }
    crate::format::pick::scalars_read_as!(Doc::not_an_object());
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<S>, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Doc::not_an_object())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<S>, A::Error> {
        let mut doc = Doc {
            object: true,
            ..Doc::not_an_object()
        };
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match k.as_ref() {
                "spdxVersion" | "SPDXID" => {
                    doc.spdx_marker = true;
                    self.skipping.value(&mut map)?;
                }
                "packages" => {
                    doc.spdx_packages = map.next_value_seed(SpdxPackagesSeed(self.proto))?;
                }
                "bomFormat" => {
                    doc.bom_format_cdx =
                        map.next_value::<Opt<Cow<'de, str>>>()?.0.as_deref() == Some("CycloneDX");
                }
                "components" => {
                    doc.has_components = true;
                    doc.components = map.next_value_seed(ComponentsSeed {
                        depth: 0,
                        too_deep: self.too_deep,
                        proto: self.proto,
                        skipping: self.skipping,
                    })?;
                }
                "metadata" => {
                    doc.main_component = map.next_value_seed(MetadataSeed {
                        too_deep: self.too_deep,
                        proto: self.proto,
                        skipping: self.skipping,
                    })?;
                }
                _ => {
                    self.skipping.value(&mut map)?;
                }
            }
        }
        Ok(doc)
    }
}

/// SPDX `packages`: each element read as an [`SpdxPkg`] (an element of another kind: a package
/// without fields), into a fresh sink. `None`: not an array.
struct SpdxPackagesSeed<'f, S>(&'f S);

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for SpdxPackagesSeed<'_, S> {
    type Value = Option<S>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for SpdxPackagesSeed<'_, S> {
    type Value = Option<S>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SPDX packages")
    }
    crate::format::pick::scalars_read_as!(None);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = self.0.fresh();
        while let Some(Opt(p)) = seq.next_element::<Opt<SpdxPkg<'de>>>()? {
            out.push(p.unwrap_or_default().0);
        }
        Ok(Some(out))
    }
}

/// An SPDX 2.x package: `name`, `versionInfo`, `licenseConcluded` then `licenseDeclared`,
/// and the `referenceLocator` of the first `externalRefs` entry whose `referenceType` is
/// `purl`.
#[derive(Default)]
struct SpdxPkg<'a>(Pkg<'a>);

#[derive(Default)]
struct ExternalRef<'a> {
    purl_type: bool,
    locator: Option<Cow<'a, str>>,
}

impl<'de> Pick<'de> for ExternalRef<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut out = ExternalRef::default();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match k.as_ref() {
                "referenceType" => {
                    out.purl_type =
                        map.next_value::<Opt<Cow<'de, str>>>()?.0.as_deref() == Some("purl");
                }
                "referenceLocator" => out.locator = map.next_value::<Opt<_>>()?.0,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(out))
    }
}

impl<'de> Pick<'de> for SpdxPkg<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut p = Pkg::default();
        let mut concluded = None;
        let mut declared = None;
        let mut refs: Option<Vec<ExternalRef<'de>>> = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match k.as_ref() {
                "name" => p.name = map.next_value::<Opt<_>>()?.0,
                "versionInfo" => p.version = map.next_value::<Opt<_>>()?.0,
                "licenseConcluded" => concluded = map.next_value::<Opt<_>>()?.0,
                "licenseDeclared" => declared = map.next_value::<Opt<_>>()?.0,
                "externalRefs" => refs = map.next_value::<Opt<_>>()?.0,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        if let Some(t) = concluded {
            p.licenses.push(("licenseConcluded", t));
        }
        if let Some(t) = declared {
            p.licenses.push(("licenseDeclared", t));
        }
        p.purl = refs
            .and_then(|refs| refs.into_iter().find(|r| r.purl_type))
            .and_then(|r| r.locator);
        Ok(Some(SpdxPkg(p)))
    }
}

/// `metadata` of a CycloneDX document: its `component` (any kind: a non-object reads as a
/// package without fields), flattened with its nested components.
struct MetadataSeed<'f, S> {
    too_deep: &'f Cell<bool>,
    proto: &'f S,
    skipping: Skipping,
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for MetadataSeed<'_, S> {
    type Value = Option<S>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for MetadataSeed<'_, S> {
    type Value = Option<S>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CycloneDX metadata")
    }
    crate::format::pick::scalars_read_as!(None);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            if k == "component" {
                let mut pkgs = self.proto.fresh();
                map.next_value_seed(ComponentSeed {
                    out: &mut pkgs,
                    depth: 0,
                    too_deep: self.too_deep,
                    skipping: self.skipping,
                })?;
                out = Some(pkgs);
            } else {
                self.skipping.value(&mut map)?;
            }
        }
        Ok(out)
    }
}

/// A CycloneDX `components` array at nesting `depth`, flattened in document order (each
/// component before its nested ones). `None`: not an array.
struct ComponentsSeed<'f, S> {
    depth: usize,
    too_deep: &'f Cell<bool>,
    proto: &'f S,
    skipping: Skipping,
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for ComponentsSeed<'_, S> {
    type Value = Option<S>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for ComponentsSeed<'_, S> {
    type Value = Option<S>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CycloneDX components")
    }
    crate::format::pick::scalars_read_as!(None);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = self.proto.fresh();
        self.append(&mut seq, &mut out)?;
        Ok(Some(out))
    }
}

impl<S> ComponentsSeed<'_, S> {
    fn append<'de, A: SeqAccess<'de>>(&self, seq: &mut A, out: &mut S) -> Result<(), A::Error>
    where
        S: Sink<'de>,
    {
        if self.depth > MAX_COMPONENT_DEPTH {
            self.too_deep.set(true);
            return Err(de::Error::custom("components nested too deep"));
        }
        while seq
            .next_element_seed(ComponentSeed {
                out: &mut *out,
                depth: self.depth,
                too_deep: self.too_deep,
                skipping: self.skipping,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// One CycloneDX component at `depth`, appended to `out` (a non-object: a package without
/// fields), followed by its nested `components`.
struct ComponentSeed<'o, 'f, S> {
    out: &'o mut S,
    depth: usize,
    too_deep: &'f Cell<bool>,
    skipping: Skipping,
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for ComponentSeed<'_, '_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> ComponentSeed<'_, '_, S> {
    fn empty(self) {
        self.out.push(Pkg::default());
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for ComponentSeed<'_, '_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CycloneDX component")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.empty();
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.empty();
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.empty();
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.empty();
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.empty();
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.empty();
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        self.empty();
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // The last `components` of the object wins, as in a `Value`: children are read into
        // their own list and given after the component itself, once the object is done.
        let mut children: Option<S> = None;
        let mut licenses: Option<Vec<LicenseEntry<'de>>> = None;
        let mut p = Pkg::default();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match k.as_ref() {
                "name" => p.name = map.next_value::<Opt<_>>()?.0,
                "version" => p.version = map.next_value::<Opt<_>>()?.0,
                "purl" => p.purl = map.next_value::<Opt<_>>()?.0,
                "licenses" => licenses = map.next_value::<Opt<_>>()?.0,
                "components" => {
                    children = map.next_value_seed(ComponentsSeed {
                        depth: self.depth + 1,
                        too_deep: self.too_deep,
                        proto: &*self.out,
                        skipping: self.skipping,
                    })?;
                }
                _ => {
                    self.skipping.value(&mut map)?;
                }
            }
        }
        for entry in licenses.into_iter().flatten() {
            if let Some(expr) = entry.expression {
                p.licenses.push(("licenses[].expression", expr));
            } else if let Some(id) = entry.license_id {
                p.licenses.push(("licenses[].license.id", id));
            } else if let Some(name) = entry.license_name {
                p.licenses.push(("licenses[].license.name", name));
            }
        }
        self.out.push(p);
        if let Some(children) = children {
            self.out.append(children);
        }
        Ok(())
    }
}

/// A CycloneDX `licenses[]` entry: `expression`, else `license.id`, else `license.name`.
#[derive(Default)]
struct LicenseEntry<'a> {
    expression: Option<Cow<'a, str>>,
    license_id: Option<Cow<'a, str>>,
    license_name: Option<Cow<'a, str>>,
}

#[derive(Default)]
struct LicenseObj<'a> {
    id: Option<Cow<'a, str>>,
    name: Option<Cow<'a, str>>,
}

impl<'de> Pick<'de> for LicenseObj<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut out = LicenseObj::default();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match k.as_ref() {
                "id" => out.id = map.next_value::<Opt<_>>()?.0,
                "name" => out.name = map.next_value::<Opt<_>>()?.0,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(out))
    }
}

impl<'de> Pick<'de> for LicenseEntry<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut out = LicenseEntry::default();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match k.as_ref() {
                "expression" => out.expression = map.next_value::<Opt<_>>()?.0,
                "license" => {
                    let lic: Option<LicenseObj<'de>> = map.next_value::<Opt<_>>()?.0;
                    let lic = lic.unwrap_or_default();
                    out.license_id = lic.id;
                    out.license_name = lic.name;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(out))
    }
}

/// Which denied ids a license text hits (empty: allowed). `Err(text)`: not an expression
/// and not a denied id.
fn license_hits(text: &str, denied: &BTreeSet<String>, or: OrSemantics) -> Result<Vec<String>, ()> {
    let canonical = canonical_case(text.trim());
    let trimmed = canonical.as_str();
    if trimmed.is_empty()
        || trimmed.eq_ignore_ascii_case("NOASSERTION")
        || trimmed.eq_ignore_ascii_case("NONE")
    {
        return Ok(Vec::new());
    }
    match spdx::Expression::parse_mode(trimmed, PARSE_MODE) {
        Ok(expr) => {
            let hits: Vec<String> = expr
                .requirements()
                .map(|r| req_name(&r.req))
                .filter(|n| denied.contains(n))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if hits.is_empty() {
                return Ok(hits);
            }
            match or {
                OrSemantics::AnyMention => Ok(hits),
                _ => {
                    let satisfiable = expr.evaluate(|req| !denied.contains(&req_name(req)));
                    Ok(if satisfiable { Vec::new() } else { hits })
                }
            }
        }
        Err(_) => {
            // Not an expression (`GPL-3.0-or-later OR BSD-like`, `Bouncy Castle Licence`):
            // look for denied ids among its words. With `choice`, an `OR` offers an
            // alternative we cannot judge, so only `anyMention` denies then.
            let lower = trimmed.to_lowercase();
            let mut hits: BTreeSet<String> = denied
                .iter()
                .filter(|d| d.to_lowercase() == lower)
                .cloned()
                .collect();
            let has_or = trimmed
                .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .any(|w| w.eq_ignore_ascii_case("or") || w == "/");
            for word in
                trimmed.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '/')
            {
                let (base, plus) = match word.strip_suffix('+') {
                    Some(b) => (b, true),
                    None => (word, false),
                };
                if let Some(id) = spdx::license_id(base) {
                    let name = normalise_id(id.name, plus);
                    if denied.contains(&name) {
                        hits.insert(name);
                    }
                }
            }
            if hits.is_empty() || (has_or && or == OrSemantics::Choice) {
                Err(())
            } else {
                Ok(hits.into_iter().collect())
            }
        }
    }
}

fn purl_name(purl: &str) -> Option<&str> {
    let without_qualifiers = purl.split(['?', '#']).next()?;
    let without_version = without_qualifiers.split('@').next()?;
    let name = without_version.rsplit('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// Runs the SBOM check on a predicate. (The `Value` form of [`check_sbom_json`].)
pub fn check_sbom(check: &SbomCheck, predicate: &Value) -> Result<SbomReport, Reason> {
    check_sbom_json(check, &value_bytes(predicate)?)
}

/// Runs the SBOM check on a predicate's JSON bytes, reading only the fields it judges (no DOM),
/// and judging each package as it is read.
pub fn check_sbom_json(check: &SbomCheck, predicate: &[u8]) -> Result<SbomReport, Reason> {
    let judging = Judging::new(check);
    let (format, judge) = read_predicate(predicate, &Judge::new(&judging))?;
    Ok(judge.report(format))
}

/// Runs the SBOM check on the `predicate` of an in-toto statement, read from the statement's
/// bytes (a verified attestation's [`statement_json`]) without a DOM of it.
///
/// [`statement_json`]: crate::verify::proof::VerifiedAttestation::statement_json
pub fn check_sbom_statement(check: &SbomCheck, statement: &[u8]) -> Result<SbomReport, Reason> {
    let judging = Judging::new(check);
    let (format, judge) = read_statement(statement, &Judge::new(&judging), Skipping::Checked)?;
    Ok(judge.report(format))
}

/// [`check_sbom_statement`] on a verified attestation's statement, which was read in full
/// when it was verified: what the check does not read is skipped unchecked
/// ([`Skipping::Verified`]).
pub(crate) fn check_sbom_verified(
    check: &SbomCheck,
    att: &crate::verify::proof::VerifiedAttestation,
) -> Result<SbomReport, Reason> {
    let judging = Judging::new(check);
    let (format, judge) = read_statement(
        att.statement_json(),
        &Judge::new(&judging),
        Skipping::Verified,
    )?;
    Ok(judge.report(format))
}

impl<'c> Judging<'c> {
    fn new(check: &'c SbomCheck) -> Self {
        Judging {
            check,
            judged: Cell::new(HashMap::new()),
        }
    }
}

impl<'c> Judge<'c> {
    fn new(judging: &'c Judging<'c>) -> Self {
        Judge {
            judging,
            packages: 0,
            findings: Vec::new(),
            unparsed: BTreeSet::new(),
        }
    }

    fn report(self, format: SbomFormat) -> SbomReport {
        SbomReport {
            format,
            packages: self.packages,
            findings: self.findings,
            unparsed_licenses: self.unparsed,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(licenses: &[&str], packages: &[(&str, Option<&str>)], or: OrSemantics) -> SbomCheck {
        let mut ids = BTreeSet::new();
        for l in licenses {
            ids.extend(denied_license_ids(l).unwrap());
        }
        SbomCheck {
            denied_licenses: licenses.iter().map(|s| s.to_string()).collect(),
            denied_license_ids: ids,
            denied_packages: packages
                .iter()
                .map(|(n, v)| DeniedPackage {
                    name: n.to_string(),
                    versions: v.map(|v| VersionRange::parse(v).unwrap()),
                })
                .collect(),
            license_or: or,
        }
    }

    fn spdx_doc(license: &str) -> Value {
        json!({"spdxVersion": "SPDX-2.3", "packages": [
            {"name": "p", "versionInfo": "1.0", "licenseConcluded": license, "licenseDeclared": "NOASSERTION"}
        ]})
    }

    #[test]
    fn normalises_gnu_ids() {
        assert_eq!(normalise_id("GPL-2.0", false), "GPL-2.0-only");
        assert_eq!(normalise_id("GPL-2.0+", false), "GPL-2.0-or-later");
        assert_eq!(normalise_id("GPL-2.0-only", true), "GPL-2.0-or-later");
        assert_eq!(normalise_id("MIT", false), "MIT");
        assert_eq!(
            normalise_id("GPL-2.0-with-classpath-exception", false),
            "GPL-2.0-with-classpath-exception"
        );
    }

    #[test]
    fn or_semantics() {
        let choice = check(&["GPL-3.0-or-later"], &[], OrSemantics::Choice);
        let any = check(&["GPL-3.0-or-later"], &[], OrSemantics::AnyMention);
        let doc = spdx_doc("GPL-3.0-or-later OR MIT");
        assert!(check_sbom(&choice, &doc).unwrap().findings.is_empty());
        assert_eq!(check_sbom(&any, &doc).unwrap().findings.len(), 1);
        let and = spdx_doc("GPL-3.0-or-later AND MIT");
        let r = check_sbom(&choice, &and).unwrap();
        assert_eq!(r.findings[0].code, ReasonCode::SbomDeniedLicense);
        assert!(r.reason().unwrap().message.contains("GPL-3.0-or-later"));
    }

    #[test]
    fn deprecated_ids_match_only_form() {
        let c = check(&["GPL-2.0-only"], &[], OrSemantics::Choice);
        assert_eq!(
            check_sbom(&c, &spdx_doc("GPL-2.0")).unwrap().findings.len(),
            1
        );
        assert!(
            check_sbom(&c, &spdx_doc("GPL-2.0-or-later"))
                .unwrap()
                .findings
                .is_empty()
        );
    }

    #[test]
    fn free_text_is_unparsed_not_denied() {
        let c = check(&["MIT"], &[], OrSemantics::Choice);
        let r = check_sbom(&c, &spdx_doc("Bouncy Castle Licence")).unwrap();
        assert!(r.findings.is_empty());
        assert!(r.unparsed_licenses.contains("Bouncy Castle Licence"));
    }

    #[test]
    fn denied_packages_by_name_purl_and_range() {
        let c = check(&[], &[("log4j-core", Some("<2.17.1"))], OrSemantics::Choice);
        let doc = json!({"bomFormat": "CycloneDX", "components": [
            {"name": "log4j-core", "version": "2.14.1"},
            {"name": "other", "version": "2.0", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.0?type=jar"},
            {"name": "log4j-core", "version": "2.17.1"},
            {"name": "log4j-core"},
        ]});
        let r = check_sbom(&c, &doc).unwrap();
        assert_eq!(r.format, SbomFormat::CycloneDx);
        assert_eq!(r.findings.len(), 3, "{r:?}");
        assert!(
            r.findings
                .iter()
                .all(|f| f.code == ReasonCode::SbomDeniedPackage)
        );
    }

    #[test]
    fn missing_fields() {
        let c = check(&["MIT"], &[], OrSemantics::Choice);
        let e = check_sbom(&c, &json!({"spdxVersion": "SPDX-2.3"})).unwrap_err();
        assert_eq!(e.code, ReasonCode::FieldMissing);
        assert!(e.message.contains("packages"));
        let e = check_sbom(&c, &json!({"hello": 1})).unwrap_err();
        assert_eq!(e.code, ReasonCode::UnsupportedFormat);
    }

    #[test]
    fn bad_policy_license() {
        assert!(denied_license_ids("MIT AND (").is_err());
    }
}

/// Issue 10: license checks must not fail open.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod fail_closed_tests {
    use serde_json::json;

    use super::*;

    fn deny(license: &str) -> SbomCheck {
        SbomCheck {
            denied_licenses: vec![license.to_string()],
            denied_license_ids: denied_license_ids(license).unwrap(),
            denied_packages: Vec::new(),
            license_or: OrSemantics::Choice,
        }
    }

    fn spdx(concluded: &str, declared: &str) -> Value {
        json!({"spdxVersion": "SPDX-2.3", "packages": [
            {"name": "p", "versionInfo": "1.0", "licenseConcluded": concluded, "licenseDeclared": declared}
        ]})
    }

    fn cdx(licenses: Value) -> Value {
        json!({"bomFormat": "CycloneDX", "components": [
            {"name": "c", "version": "1.0", "licenses": licenses}
        ]})
    }

    fn denied(check: &SbomCheck, doc: &Value) -> bool {
        check_sbom(check, doc).unwrap().reason().is_some()
    }

    #[test]
    fn license_ids_match_case_insensitively_in_spdx() {
        let c = deny("AGPL-3.0-only");
        assert!(denied(&c, &spdx("agpl-3.0-only AND MIT", "NOASSERTION")));
        assert!(denied(&c, &spdx("NOASSERTION", "agpl-3.0-only and mit")));
        assert!(denied(&c, &spdx("NONE", "Agpl-3.0-Only")));
        assert!(!denied(&c, &spdx("mit", "noassertion")));
        // A lower-case policy denies the canonical spelling too.
        let lower = deny("agpl-3.0-only");
        assert!(denied(&lower, &spdx("AGPL-3.0-only", "NONE")));
        // `gpl-2.0+` is GPL-2.0-or-later in any case.
        assert!(denied(&deny("GPL-2.0-or-later"), &spdx("gpl-2.0+", "NONE")));
    }

    #[test]
    fn license_ids_match_case_insensitively_in_cyclonedx() {
        let c = deny("AGPL-3.0-only");
        assert!(denied(
            &c,
            &cdx(json!([{"expression": "agpl-3.0-only AND MIT"}]))
        ));
        assert!(denied(
            &c,
            &cdx(json!([{"license": {"id": "agpl-3.0-only"}}]))
        ));
        assert!(denied(
            &c,
            &cdx(json!([{"license": {"name": "agpl-3.0-only"}}]))
        ));
        assert!(!denied(&c, &cdx(json!([{"license": {"id": "mit"}}]))));
    }

    #[test]
    fn metadata_component_is_checked() {
        let doc = json!({"bomFormat": "CycloneDX",
            "metadata": {"component": {"name": "app", "version": "2.0",
                "licenses": [{"license": {"id": "AGPL-3.0-only"}}]}},
            "components": []});
        assert!(denied(&deny("AGPL-3.0-only"), &doc));
        let pkg = SbomCheck {
            denied_licenses: Vec::new(),
            denied_license_ids: BTreeSet::new(),
            denied_packages: vec![DeniedPackage {
                name: "app".into(),
                versions: None,
            }],
            license_or: OrSemantics::Choice,
        };
        assert!(denied(&pkg, &doc));
    }

    fn nested(levels: usize, leaf_license: &str) -> Value {
        let mut v = json!({"name": "leaf", "licenses": [{"license": {"id": leaf_license}}]});
        for _ in 0..levels {
            v = json!({"name": "wrap", "components": [v]});
        }
        json!({"bomFormat": "CycloneDX", "components": [v]})
    }

    #[test]
    fn statement_form_reads_the_predicate_in_place() {
        let doc = cdx(json!([{"license": {"id": "AGPL-3.0-only"}}]));
        let statement = serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [],
            "predicateType": "https://cyclonedx.org/bom",
            "predicate": doc,
        }))
        .unwrap();
        let check = deny("AGPL-3.0-only");
        let r = check_sbom_statement(&check, &statement).unwrap();
        assert_eq!(r, check_sbom(&check, &doc).unwrap());
        assert_eq!(r.findings.len(), 1);
        // No predicate: not an SBOM; two predicates: refused, never one of them picked.
        let none = br#"{"_type":"t","subject":[]}"#;
        assert_eq!(
            check_sbom_statement(&check, none).unwrap_err().code,
            ReasonCode::UnsupportedFormat
        );
        let two = br#"{"predicate":{"bomFormat":"CycloneDX","components":[]},"predicate":{}}"#;
        let e = check_sbom_statement(&check, two).unwrap_err();
        assert!(e.message.contains("more than one"), "{}", e.message);
    }

    /// The checks judge packages as they are read: the report must equal judging the
    /// collected package list (document order, the main component first, the last of
    /// repeated keys, only the chosen format's packages).
    #[test]
    fn judging_while_reading_equals_judging_the_collected_packages() {
        let check = SbomCheck {
            denied_licenses: Vec::new(),
            denied_license_ids: denied_license_ids("AGPL-3.0-only OR GPL-3.0-only").unwrap(),
            denied_packages: vec![DeniedPackage {
                name: "bad".into(),
                versions: None,
            }],
            license_or: OrSemantics::Choice,
        };
        // Raw text: a `json!` map cannot hold a repeated key.
        let agpl = r#"[{"license": {"id": "AGPL-3.0-only"}}]"#;
        let docs = [
            // `metadata` after `components`; nested components, the object's last wins.
            r#"{"components": [
                    {"name": "a", "licenses": @AGPL@, "components": [{"name": "gone", "licenses": @AGPL@}],
                     "components": [{"name": "a1", "licenses": @AGPL@}, 7, {"name": "bad"}]},
                    "x",
                    {"name": "b", "licenses": [{"expression": "GPL-3.0-only OR BSD-like"}]}],
                "bomFormat": "CycloneDX",
                "metadata": {"component": {"name": "main", "licenses": @AGPL@,
                    "components": [{"name": "main-child", "licenses": @AGPL@}]}}}"#,
            // Top-level `components` twice: the last wins; SPDX `packages` of a CycloneDX
            // document are not judged (nor their unparsed texts reported).
            r#"{"bomFormat": "CycloneDX", "components": [{"name": "first", "licenses": @AGPL@}],
                "packages": [{"name": "spdx", "licenseConcluded": "Weird OR Thing"}],
                "components": [{"name": "bad", "version": "1"}]}"#,
            // SPDX, with a non-object package and CycloneDX components beside.
            r#"{"spdxVersion": "SPDX-2.3", "packages": [
                    {"name": "p", "licenseConcluded": "AGPL-3.0-only", "licenseDeclared": "Odd OR Text"},
                    null,
                    {"name": "bad", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:x/bad@1"}]}],
                "components": [{"name": "cdx", "licenses": @AGPL@}]}"#,
        ];
        for doc in docs {
            let doc = doc.replace("@AGPL@", agpl);
            let bytes = doc.as_bytes();
            let (format, collected) = read_predicate(bytes, &Vec::new()).unwrap();
            let judging = Judging::new(&check);
            let mut expected = Judge::new(&judging);
            for p in collected {
                expected.push(p);
            }
            let expected = expected.report(format);
            let got = check_sbom_json(&check, bytes).unwrap();
            assert_eq!(got, expected, "{doc}");
            assert!(!got.findings.is_empty(), "{doc}");
            // The same as the `Value` accessors read it (where the last repeated key wins).
            let value: Value = serde_json::from_slice(bytes).unwrap();
            assert_eq!(check_sbom(&check, &value).unwrap(), got, "{doc}");
        }
    }

    #[test]
    fn verified_skipping_reads_what_checked_skipping_reads() {
        let check = deny("AGPL-3.0-only");
        let statement = |predicate: &str| {
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://cyclonedx.org/bom","predicate":{predicate}}}"#
            )
        };
        let good = statement(
            r#"{"bomFormat":"CycloneDX","x":{"y":["\u00e9 \"q\" \n",1.5e3,null]},
               "components":[{"name":"a","description":"d\u00e9\\","hashes":[{"alg":"SHA-256"}],
                 "licenses":[{"license":{"id":"AGPL-3.0-only"}}],"components":[{"name":"b","z":{}}]}]}"#,
        );
        let read = |st: &str, skipping| {
            let judging = Judging::new(&check);
            read_statement(st.as_bytes(), &Judge::new(&judging), skipping)
                .map(|(format, judge)| judge.report(format))
        };
        let checked = read(&good, Skipping::Checked).unwrap();
        assert_eq!(checked.findings.len(), 1);
        assert_eq!(read(&good, Skipping::Verified).unwrap(), checked);
        // What only `Checked` refuses, the verification's own read refuses first: that is
        // why `Verified` is for verified statements only.
        let bad = statement(r#"{"bomFormat":"CycloneDX","x":"\ud800","components":[]}"#);
        assert!(read(&bad, Skipping::Checked).is_err());
        assert!(read(&bad, Skipping::Verified).is_ok());
        assert!(crate::format::parse_statement(bad.as_bytes()).is_err());
        assert!(crate::format::parse_statement(good.as_bytes()).is_ok());
    }

    #[test]
    fn deeply_nested_components_are_read() {
        // 40 levels is well inside serde_json's limit; the old traversal stopped at 32 and
        // skipped what was below.
        assert!(denied(&deny("AGPL-3.0-only"), &nested(40, "AGPL-3.0-only")));
    }

    #[test]
    fn components_past_the_depth_limit_fail_closed() {
        let doc = nested(MAX_COMPONENT_DEPTH + 2, "MIT");
        let err = check_sbom(&deny("AGPL-3.0-only"), &doc).unwrap_err();
        assert_eq!(err.code, ReasonCode::UnsupportedFormat);
        assert!(err.message.contains("max_json_depth"), "{}", err.message);
    }
}
