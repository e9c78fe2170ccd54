//! Reading Kubernetes manifests: which images do the workloads in these files name, and where?
//!
//! Inputs are YAML streams (any number of `---`-separated documents) or JSON (one object per
//! file, as `kubectl get … -o json` prints it), from files, from directories walked
//! recursively (`*.yaml`, `*.yml`, `*.json`, sorted by name; hidden entries skipped) or from
//! stdin. Both are read with the crate's YAML parser (JSON is YAML), whose spans give the line
//! and column of every `image:` key.
//!
//! Understood: `Pod`, `ReplicationController` (core), `Deployment`, `ReplicaSet`,
//! `StatefulSet`, `DaemonSet` (`apps`, and `extensions` for the old ones), `Job`, `CronJob`
//! (`batch`, through `jobTemplate`), and lists of any of them (`kind: List`, or a typed list such
//! as `PodList` whose items may omit `kind`). In each pod spec: `containers`, `initContainers`,
//! `ephemeralContainers` and image volumes (`volumes[].image.reference`).
//!
//! A document of another kind (a `Service`, a CRD, a Helm `Chart.yaml` without `kind`) is
//! skipped and counted. A document that is not YAML, or a workload of a known kind whose
//! structure is wrong (`containers` that is not a list, an `image` that is not a string), is an
//! error naming `file:line`. A container without `image` (the API allows it, for tools that
//! fill it in later) is skipped with a warning.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_saphyr::Spanned;

use crate::format::yaml::{Key, Node};

/// The largest manifest file (or stdin) read: 256 MiB, the YAML parser's own input cap.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// How deep directories are walked.
const MAX_DEPTH: usize = 64;

/// The workload an image belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// `apps/v1`, `v1`, `batch/v1`.
    pub api_version: String,
    /// `Deployment`, `Pod`, …
    pub kind: String,
    /// `metadata.namespace`; `None` when the manifest does not say (it is then whatever
    /// namespace it is applied to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.name` (or `metadata.generateName` followed by `*`; `-` when neither is set).
    pub name: String,
}

impl Workload {
    /// `apiVersion/kind/namespace/name`, with `-` for an unset namespace.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or("-"),
            self.name
        )
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// Where something was written: a file (or `<stdin>`), 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SourceLocation {
    /// The path as given (or found under a directory that was given), or `<stdin>`.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One image named by one workload slot (or given directly as an input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUse {
    /// The workload; `None` for an image reference given directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// `containers[0]`, `initContainers[1]`, `ephemeralContainers[0]`, `volumes[2]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The container's (or volume's) `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The image exactly as written.
    pub image: String,
    /// The `image:` key (for volumes, the `reference:` key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
}

/// What was read from a set of inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifests {
    /// Every image use, in input order.
    pub uses: Vec<ImageUse>,
    /// Files read (stdin counts as one).
    pub files: usize,
    /// Documents read (list items not counted separately).
    pub documents: usize,
    /// Skipped objects by `apiVersion kind` (`(no kind)` for documents without one).
    pub skipped: BTreeMap<String, usize>,
    /// Things skipped inside workloads (a container without `image`), with `file:line`.
    pub warnings: Vec<String>,
    /// Registry requests spent reading the inputs themselves (`--repository` tag lists,
    /// [`add_repository`](super::report::add_repository)); the audit summary counts them with
    /// the verifications' requests.
    #[serde(skip)]
    pub registry_requests: u64,
}

/// Why manifests could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// A file or directory could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Over [`MAX_MANIFEST_BYTES`].
    #[error("`{path}` is over the limit of {limit} bytes for a manifest")]
    TooLarge {
        /// The path (or `<stdin>`).
        path: String,
        /// The limit.
        limit: u64,
    },
    /// Not UTF-8.
    #[error("`{path}` is not UTF-8 text")]
    NotText {
        /// The path (or `<stdin>`).
        path: String,
    },
    /// A document that is not YAML/JSON, or a workload whose structure is wrong.
    #[error("{file}:{line}: {message}")]
    Malformed {
        /// The file (or `<stdin>`).
        file: String,
        /// 1-based line (0 when the parser gave none).
        line: u64,
        /// What is wrong.
        message: String,
    },
}

impl Manifests {
    /// Read a file, or a directory recursively (`*.yaml`, `*.yml`, `*.json`).
    pub fn read_path(&mut self, path: &Path) -> Result<(), ManifestError> {
        let mut seen = BTreeSet::new();
        self.read_path_inner(path, 0, &mut seen, true)
    }

    fn read_path_inner(
        &mut self,
        path: &Path,
        depth: usize,
        seen: &mut BTreeSet<PathBuf>,
        given: bool,
    ) -> Result<(), ManifestError> {
        let read_err = |source| ManifestError::Read {
            path: path.display().to_string(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        if !meta.is_dir() {
            if given || is_manifest_name(path) {
                return self.read_file(path);
            }
            return Ok(());
        }
        // A symlink loop (or the same directory twice) is walked once.
        let canonical = std::fs::canonicalize(path).map_err(read_err)?;
        if depth > MAX_DEPTH || !seen.insert(canonical) {
            return Ok(());
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            entries.push(entry.path());
        }
        entries.sort();
        for entry in entries {
            self.read_path_inner(&entry, depth + 1, seen, false)?;
        }
        Ok(())
    }

    fn read_file(&mut self, path: &Path) -> Result<(), ManifestError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| ManifestError::Read {
            path: name.clone(),
            source,
        })?;
        let text = read_capped(file, &name)?;
        self.read_str(&text, &name)
    }

    /// Read stdin (`-`).
    pub fn read_stdin(&mut self) -> Result<(), ManifestError> {
        let text = read_capped(std::io::stdin().lock(), "<stdin>")?;
        self.read_str(&text, "<stdin>")
    }

    /// Read the documents in `text`; `file` names it in locations and errors.
    pub fn read_str(&mut self, text: &str, file: &str) -> Result<(), ManifestError> {
        self.files += 1;
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_documents: 1_000_000,
                max_nodes: 50_000_000,
                max_events: 100_000_000,
                max_reader_input_bytes: Some(MAX_MANIFEST_BYTES as usize),
            },
        };
        let docs: Vec<Spanned<Node>> = serde_saphyr::from_multiple_with_options(text, options)
            .map_err(|e| ManifestError::Malformed {
                file: file.to_owned(),
                line: e.location().map_or(0, |l| l.line()),
                message: first_line(&e.to_string()),
            })?;
        for doc in &docs {
            self.documents += 1;
            self.object(doc, file, None)?;
        }
        Ok(())
    }

    /// One Kubernetes object (a document, or an item of a list). `defaults` is the
    /// (apiVersion, kind) of a typed list's items.
    fn object(
        &mut self,
        doc: &Spanned<Node>,
        file: &str,
        defaults: Option<(&str, &str)>,
    ) -> Result<(), ManifestError> {
        let at = Cx { file, loc: doc };
        let Node::Map(_) = &doc.value else {
            return Err(at.malformed("a Kubernetes object must be a mapping"));
        };
        let kind = match doc.value.get("kind") {
            Some(k) => Some(at.at(k).string(k, "kind")?),
            None => defaults.map(|d| d.1.to_owned()),
        };
        let api_version = match doc.value.get("apiVersion") {
            Some(v) => at.at(v).string(v, "apiVersion")?,
            None => defaults.map(|d| d.0.to_owned()).unwrap_or_default(),
        };
        let Some(kind) = kind else {
            *self.skipped.entry("(no kind)".to_owned()).or_default() += 1;
            return Ok(());
        };
        if let Some(items) = doc.value.get("items")
            && (kind == "List" || kind.ends_with("List"))
        {
            let Node::Seq(items) = &items.value else {
                return Err(at
                    .at(items)
                    .malformed("`items` of a list must be a sequence"));
            };
            let item_kind = kind.strip_suffix("List").unwrap_or_default();
            let item_defaults =
                (!item_kind.is_empty()).then_some((api_version.as_str(), item_kind));
            for item in items {
                self.object(item, file, item_defaults)?;
            }
            return Ok(());
        }
        let Some(path) = pod_spec_path(&api_version, &kind) else {
            *self
                .skipped
                .entry(format!("{api_version} {kind}").trim().to_owned())
                .or_default() += 1;
            return Ok(());
        };
        let workload = workload(&at, &api_version, &kind)?;
        let mut spec = doc;
        // Errors about a missing field point at the key of its parent.
        let mut line = doc.referenced.line();
        for (i, key) in path.iter().enumerate() {
            let Some((k, next)) = spec.value.entry(key) else {
                return Err(ManifestError::Malformed {
                    file: file.to_owned(),
                    line,
                    message: format!(
                        "{kind} `{}` has no `{}`",
                        workload.name,
                        path[..=i].join(".")
                    ),
                });
            };
            line = k.referenced.line();
            if !matches!(next.value, Node::Map(_)) {
                return Err(at
                    .at(next)
                    .malformed(format!("`{}` must be a mapping", path[..=i].join("."))));
            }
            spec = next;
        }
        self.pod_spec(&at.at(spec), spec, &workload)
    }

    fn pod_spec(
        &mut self,
        at: &Cx<'_>,
        spec: &Spanned<Node>,
        workload: &Workload,
    ) -> Result<(), ManifestError> {
        for slot in ["initContainers", "containers", "ephemeralContainers"] {
            let Some(list) = spec.value.get(slot) else {
                continue;
            };
            let items = match &list.value {
                Node::Seq(items) => items.as_slice(),
                Node::Null => &[],
                _ => {
                    return Err(at
                        .at(list)
                        .malformed(format!("`{slot}` must be a sequence")));
                }
            };
            for (i, item) in items.iter().enumerate() {
                let here = at.at(item);
                let Node::Map(_) = &item.value else {
                    return Err(here.malformed(format!("`{slot}[{i}]` must be a mapping")));
                };
                let name = item.value.get("name").and_then(|n| n.value.as_str());
                let Some((key, value)) = item.value.entry("image") else {
                    self.warnings.push(format!(
                        "{}:{}: {workload} {slot}[{i}] has no image (skipped)",
                        at.file,
                        item.referenced.line()
                    ));
                    continue;
                };
                let image = here.at(value).string(value, "image")?;
                self.uses.push(ImageUse {
                    workload: Some(workload.clone()),
                    slot: Some(format!("{slot}[{i}]")),
                    container: name.map(str::to_owned),
                    image,
                    location: Some(at.location(key)),
                });
            }
        }
        if let Some(volumes) = spec.value.get("volumes") {
            let items = match &volumes.value {
                Node::Seq(items) => items.as_slice(),
                Node::Null => &[],
                _ => return Err(at.at(volumes).malformed("`volumes` must be a sequence")),
            };
            for (i, item) in items.iter().enumerate() {
                let Some(image) = item.value.get("image") else {
                    continue;
                };
                let here = at.at(image);
                let Node::Map(_) = &image.value else {
                    return Err(here.malformed(format!("`volumes[{i}].image` must be a mapping")));
                };
                let Some((key, value)) = image.value.entry("reference") else {
                    self.warnings.push(format!(
                        "{}:{}: {workload} volumes[{i}] is an image volume without a reference (skipped)",
                        at.file,
                        image.referenced.line()
                    ));
                    continue;
                };
                let reference = here.at(value).string(value, "reference")?;
                self.uses.push(ImageUse {
                    workload: Some(workload.clone()),
                    slot: Some(format!("volumes[{i}]")),
                    container: item
                        .value
                        .get("name")
                        .and_then(|n| n.value.as_str())
                        .map(str::to_owned),
                    image: reference,
                    location: Some(at.location(key)),
                });
            }
        }
        Ok(())
    }

    /// An image reference given directly (no workload, no location).
    pub fn add_image(&mut self, image: &str) {
        self.uses.push(ImageUse {
            workload: None,
            slot: None,
            container: None,
            image: image.to_owned(),
            location: None,
        });
    }
}

/// One image named by an object read as JSON ([`value_images`]), with the RFC 6901 JSON
/// Pointer of its string in that object (for a JSONPatch that pins it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointedImage {
    /// The use (its `location` is `None`: JSON values carry no lines).
    pub image_use: ImageUse,
    /// `/spec/template/spec/containers/0/image`, `/spec/volumes/2/image/reference`.
    pub pointer: String,
}

/// The images one Kubernetes object already parsed as JSON names (an admission request's
/// `object`), by the same kinds and slots as [`Manifests`] reads: `Ok(None)` for a kind
/// without a pod spec, an error (`file` `what`, line 0) for a known kind whose structure is
/// wrong. Containers without `image` are skipped. Lists are not expanded.
pub fn value_images(
    object: &serde_json::Value,
    what: &str,
) -> Result<Option<(Workload, Vec<PointedImage>)>, ManifestError> {
    use serde_json::Value;
    let malformed = |message: String| ManifestError::Malformed {
        file: what.to_owned(),
        line: 0,
        message,
    };
    let text = |v: Option<&Value>, field: &str| -> Result<Option<String>, ManifestError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(malformed(format!("`{field}` must be a string"))),
        }
    };
    let Value::Object(_) = object else {
        return Err(malformed(
            "a Kubernetes object must be a mapping".to_owned(),
        ));
    };
    let kind = text(object.get("kind"), "kind")?.unwrap_or_default();
    let api_version = text(object.get("apiVersion"), "apiVersion")?.unwrap_or_default();
    let Some(path) = pod_spec_path(&api_version, &kind) else {
        return Ok(None);
    };
    let meta = object.get("metadata");
    let field = |name: &str| text(meta.and_then(|m| m.get(name)), &format!("metadata.{name}"));
    let name = match (field("name")?, field("generateName")?) {
        (Some(n), _) => n,
        (None, Some(g)) => format!("{g}*"),
        (None, None) => "-".to_owned(),
    };
    let workload = Workload {
        api_version,
        kind,
        namespace: field("namespace")?,
        name,
    };
    let mut spec = object;
    for (i, key) in path.iter().enumerate() {
        spec = match spec.get(key) {
            Some(next @ Value::Object(_)) => next,
            Some(_) => {
                return Err(malformed(format!(
                    "`{}` must be a mapping",
                    path[..=i].join(".")
                )));
            }
            None => {
                return Err(malformed(format!(
                    "{} `{}` has no `{}`",
                    workload.kind,
                    workload.name,
                    path[..=i].join(".")
                )));
            }
        };
    }
    let base: String = path.iter().map(|k| format!("/{k}")).collect();
    let items = |slot: &str| -> Result<&[Value], ManifestError> {
        match spec.get(slot) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items.as_slice()),
            Some(_) => Err(malformed(format!("`{slot}` must be a sequence"))),
        }
    };
    let mut out = Vec::new();
    let mut push = |slot: String, container: Option<String>, image: String, pointer: String| {
        out.push(PointedImage {
            image_use: ImageUse {
                workload: Some(workload.clone()),
                slot: Some(slot),
                container,
                image,
                location: None,
            },
            pointer,
        });
    };
    for slot in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, item) in items(slot)?.iter().enumerate() {
            let Value::Object(_) = item else {
                return Err(malformed(format!("`{slot}[{i}]` must be a mapping")));
            };
            let Some(image) = text(item.get("image"), "image")? else {
                continue;
            };
            let container = text(item.get("name"), "name")?;
            push(
                format!("{slot}[{i}]"),
                container,
                image,
                format!("{base}/{slot}/{i}/image"),
            );
        }
    }
    for (i, item) in items("volumes")?.iter().enumerate() {
        let Some(volume) = item.get("image") else {
            continue;
        };
        let Value::Object(_) = volume else {
            return Err(malformed(format!("`volumes[{i}].image` must be a mapping")));
        };
        let Some(reference) = text(volume.get("reference"), "reference")? else {
            continue;
        };
        let container = text(item.get("name"), "name")?;
        push(
            format!("volumes[{i}]"),
            container,
            reference,
            format!("{base}/volumes/{i}/image/reference"),
        );
    }
    Ok(Some((workload, out)))
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn read_capped(reader: impl std::io::Read, name: &str) -> Result<String, ManifestError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ManifestError::Read {
            path: name.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            path: name.to_owned(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    // A UTF-8 byte order mark (some Windows editors write one) is not part of the YAML.
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|_| ManifestError::NotText {
        path: name.to_owned(),
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_owned()
}

/// The path from the object to its pod spec, for the kinds that have one.
fn pod_spec_path(api_version: &str, kind: &str) -> Option<&'static [&'static str]> {
    const TEMPLATE: &[&str] = &["spec", "template", "spec"];
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    Some(match (group, kind) {
        ("", "Pod") => &["spec"],
        ("", "ReplicationController") => TEMPLATE,
        ("apps" | "extensions", "Deployment" | "ReplicaSet" | "DaemonSet")
        | ("apps", "StatefulSet")
        | ("batch", "Job") => TEMPLATE,
        ("batch", "CronJob") => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

fn workload(at: &Cx<'_>, api_version: &str, kind: &str) -> Result<Workload, ManifestError> {
    let meta = at.loc.value.get("metadata");
    let field = |name: &str| -> Result<Option<String>, ManifestError> {
        match meta.and_then(|m| m.value.get(name)) {
            Some(v) => at.at(v).string(v, &format!("metadata.{name}")).map(Some),
            None => Ok(None),
        }
    };
    let name = match (field("name")?, field("generateName")?) {
        (Some(n), _) => n,
        (None, Some(g)) => format!("{g}*"),
        (None, None) => "-".to_owned(),
    };
    Ok(Workload {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace: field("namespace")?,
        name,
    })
}

/// Where an error is reported: the file and the node being read.
struct Cx<'a> {
    file: &'a str,
    loc: &'a Spanned<Node>,
}

impl<'a> Cx<'a> {
    fn at(&self, loc: &'a Spanned<Node>) -> Self {
        Self {
            file: self.file,
            loc,
        }
    }

    fn malformed(&self, message: impl Into<String>) -> ManifestError {
        ManifestError::Malformed {
            file: self.file.to_owned(),
            line: self.loc.referenced.line(),
            message: message.into(),
        }
    }

    fn location(&self, key: &Spanned<Key>) -> SourceLocation {
        SourceLocation {
            file: self.file.to_owned(),
            line: key.referenced.line(),
            column: key.referenced.column(),
        }
    }

    /// `node` as a string, or an error naming `what`.
    fn string(&self, node: &Spanned<Node>, what: &str) -> Result<String, ManifestError> {
        node.value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.malformed(format!("`{what}` must be a string")))
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
