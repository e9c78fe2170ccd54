//! `imprint policy test`: test files (`imprint-test.yaml`, found recursively as `kyverno test`
//! finds its files) list images in OCI layouts, or Kubernetes manifests whose images are OCI
//! layouts, and the decision a policy must make about each: the outcome, and optionally the
//! reason codes and an authority whose evidence met a requirement. Runs offline: only `oci:`
//! layout images, no registry.
//!
//! ```yaml
//! apiVersion: imprint.dev/v1
//! kind: PolicyTest
//! policy: ../../policies/demo.yaml        # relative to this file
//! cases:
//!   - name: the demo image is allowed
//!     image: oci:../demo-image:demo        # relative to this file
//!     expect: {outcome: allowed, authority: demo-key}
//!   - name: another key's policy denies it
//!     policy: wrong-key.yaml              # a case may use its own policy
//!     image: oci:../demo-image:demo
//!     expect: {outcome: denied, reasons: [signature-invalid]}
//!   - name: the demo workloads are allowed
//!     manifest: workloads.yaml            # relative to this file; a file or a directory
//!     expect: {outcome: allowed}          # the default for every image of the manifest
//!     results:                            # per workload and/or image, as `kyverno test`'s
//!       - resources: [CronJob/nightly]
//!         expect: {outcome: allowed, reasons: [], authority: demo-key}
//!       - resources: [apps/v1/Deployment/shop/web]
//!         image: oci:../demo-image:demo
//!         expect: {outcome: allowed}
//! ```
//!
//! A `manifest` is read as `imprint audit` reads it ([`crate::audit::manifest`]: YAML streams,
//! JSON, lists, every workload kind and container slot). Each of its images must be an
//! `oci:PATH[:TAG]` reference, a relative `PATH` being relative to the manifest file; a
//! registry image there makes the test file invalid (the error names the manifest's
//! `file:line`), as the run would otherwise need the network.
//!
//! Every image use (workload, slot, image) of the manifest is checked against each `results`
//! entry that selects it, and against the case's `expect` when no entry selects it. An entry
//! selects the uses whose workload is one of its `resources` (written `name`, `Kind/name`,
//! `Kind/namespace/name` or the full `apiVersion/Kind/namespace/name` that `imprint audit`
//! prints, `-` for no namespace) and whose image, as written in the manifest, is its `image`;
//! it needs at least one of the two. A use that nothing selects, with no case-level `expect`,
//! fails, and so does an entry that selects no use (a misspelt resource cannot pass
//! silently). Each image is verified once per case; each checked use is reported as its own
//! result, named `CASE: apiVersion/Kind/namespace/name SLOT`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Verifier;
use crate::audit::manifest::{Manifests, Workload};
use crate::format::reference::ImageRef;
use crate::policy::{Decision, Outcome, Policy};

/// File names of test files.
pub const TEST_FILE_NAMES: [&str; 2] = ["imprint-test.yaml", "imprint-test.yml"];

/// Why test files could not be found or read (as opposed to a case failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CasesError {
    /// A file or directory could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A test file is not a valid PolicyTest.
    #[error("`{path}` is not a valid PolicyTest: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// No test file was found.
    #[error("no imprint-test.yaml found under {0}")]
    NoneFound(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireFile {
    api_version: String,
    kind: String,
    policy: Option<String>,
    cases: Vec<WireCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireCase {
    name: String,
    image: Option<String>,
    manifest: Option<String>,
    policy: Option<String>,
    expect: Option<WireExpect>,
    results: Option<Vec<WireResult>>,
}

/// One `results` entry of a manifest case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireResult {
    resources: Option<Vec<String>>,
    image: Option<String>,
    expect: WireExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireExpect {
    outcome: WireOutcome,
    reasons: Option<Vec<String>>,
    authority: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum WireOutcome {
    Allowed,
    Warned,
    Denied,
}

impl WireOutcome {
    fn of(o: Outcome) -> Self {
        match o {
            Outcome::Allowed => Self::Allowed,
            Outcome::Warned => Self::Warned,
            Outcome::Denied => Self::Denied,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Warned => "warned",
            Self::Denied => "denied",
        }
    }
}

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CaseResult {
    /// The test file.
    pub file: PathBuf,
    /// The line of the case's `name:` (1-based; 0 when not found).
    pub line: usize,
    /// The case name.
    pub name: String,
    /// Whether the decision was as expected.
    pub passed: bool,
    /// What was expected, in words.
    pub expected: String,
    /// What the policy decided (outcome and reason codes), in words.
    pub got: String,
    /// Why it failed (empty when it passed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// For a manifest case: the workload (`apiVersion/Kind/namespace/name`) and slot
    /// (`containers[0]`) of the image use this result is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// For a manifest case: the image as written in the manifest, at `file:line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Every test file under `paths` (files are taken as given; directories are walked, in name
/// order, for [`TEST_FILE_NAMES`]).
pub fn find_test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CasesError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(CasesError::NoneFound(shown.join(", ")));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CasesError> {
    let read = |e| CasesError::Read {
        path: dir.to_owned(),
        source: e,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort();
    for p in entries {
        // Symlinked directories are not followed (no cycles); hidden and target dirs skipped.
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else { continue };
        let meta = std::fs::symlink_metadata(&p).map_err(|e| CasesError::Read {
            path: p.clone(),
            source: e,
        })?;
        if meta.is_dir() {
            if !name.starts_with('.') && name != "target" {
                walk(&p, out)?;
            }
        } else if TEST_FILE_NAMES.contains(&name.as_str()) {
            out.push(p);
        }
    }
    Ok(())
}

/// Run every case of the test file at `path`.
pub async fn run_file(path: &Path) -> Result<Vec<CaseResult>, CasesError> {
    let limit = crate::limits::Limits::DEFAULT.max_policy_bytes;
    let bytes = crate::fs::read_limited(path, limit).map_err(|e| CasesError::Invalid {
        path: path.to_owned(),
        message: crate::format::error_chain(&e),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| CasesError::Invalid {
        path: path.to_owned(),
        message: "not UTF-8".into(),
    })?;
    let invalid = |message: String| CasesError::Invalid {
        path: path.to_owned(),
        message,
    };
    let wire: WireFile = serde_saphyr::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if wire.api_version != crate::policy::API_VERSION || wire.kind != "PolicyTest" {
        return Err(invalid(format!(
            "expected apiVersion {} and kind PolicyTest, got {} {}",
            crate::policy::API_VERSION,
            wire.api_version,
            wire.kind
        )));
    }
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let mut out = Vec::with_capacity(wire.cases.len());
    for case in wire.cases {
        let line = text
            .lines()
            .position(|l| {
                l.trim_start().trim_start_matches("- ").trim_start()
                    == format!("name: {}", case.name)
            })
            .map_or(0, |i| i + 1);
        let policy_rel = case
            .policy
            .as_ref()
            .or(wire.policy.as_ref())
            .ok_or_else(|| {
                invalid(format!(
                    "case `{}` has no policy and the file names none",
                    case.name
                ))
            })?;
        let case_at =
            |message: &str| invalid(format!("case `{}` (line {line}): {message}", case.name));
        match (&case.image, &case.manifest) {
            (Some(image), None) => {
                if case.results.is_some() {
                    return Err(case_at(
                        "`results` needs `manifest`; an `image` case has one `expect`",
                    ));
                }
                let Some(expect) = &case.expect else {
                    return Err(case_at("an `image` case needs `expect`"));
                };
                let expected = describe_expected(expect);
                let decided = match verifier(base, policy_rel) {
                    Ok(v) => match layout_ref(base, image) {
                        Ok(image) => Ok(v.verify(&image).await),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                out.push(judge(
                    path,
                    line,
                    case.name.clone(),
                    expected,
                    expect,
                    decided.as_ref(),
                    None,
                    None,
                ));
            }
            (None, Some(manifest)) => {
                if case.expect.is_none() && case.results.is_none() {
                    return Err(case_at(
                        "a `manifest` case needs `expect`, `results` or both",
                    ));
                }
                let uses = manifest_uses(base, manifest).map_err(|m| case_at(&m))?;
                let results = case.results.as_deref().unwrap_or_default();
                for (k, r) in results.iter().enumerate() {
                    if r.resources.is_none() && r.image.is_none() {
                        return Err(case_at(&format!(
                            "results[{k}] selects nothing: give `resources`, `image` or both"
                        )));
                    }
                }
                out.extend(
                    run_manifest_case(
                        path,
                        line,
                        &case.name,
                        policy_rel,
                        base,
                        case.expect.as_ref(),
                        results,
                        &uses,
                    )
                    .await,
                );
            }
            _ => {
                return Err(case_at(
                    "give exactly one of `image` (an OCI layout) and `manifest` (Kubernetes manifests)",
                ));
            }
        }
    }
    Ok(out)
}

/// One image use of a manifest case, its layout resolved.
struct Use {
    workload: Workload,
    slot: String,
    /// As written in the manifest.
    image: String,
    /// `file:line` of its `image:` key.
    location: String,
    layout: ImageRef,
}

impl Use {
    /// The spellings of its workload a `resources` entry may use.
    fn named_by(&self, resource: &str) -> bool {
        let w = &self.workload;
        let ns = w.namespace.as_deref().unwrap_or("-");
        resource == w.name
            || resource == format!("{}/{}", w.kind, w.name)
            || resource == format!("{}/{ns}/{}", w.kind, w.name)
            || resource == w.id()
    }
}

/// The image uses of the manifest file or directory `rel` (relative to `base`); every image
/// must be an OCI layout (relative paths are relative to the manifest file).
fn manifest_uses(base: &Path, rel: &str) -> Result<Vec<Use>, String> {
    let path = base.join(rel);
    let mut manifests = Manifests::default();
    manifests
        .read_path(&path)
        .map_err(|e| format!("manifest `{}`: {e}", path.display()))?;
    let mut out = Vec::with_capacity(manifests.uses.len());
    for u in manifests.uses {
        let (Some(workload), Some(slot), Some(location)) = (u.workload, u.slot, u.location) else {
            continue;
        };
        let at = format!("{}:{}", location.file, location.line);
        if !u.image.starts_with("oci:") {
            return Err(format!(
                "{at}: image `{}` of {workload} {slot} is not an OCI layout: policy tests run offline, so manifest images must be `oci:PATH[:TAG]`",
                u.image
            ));
        }
        let dir = Path::new(&location.file)
            .parent()
            .unwrap_or_else(|| Path::new("."));
        let layout = layout_ref(dir, &u.image).map_err(|e| format!("{at}: {e}"))?;
        out.push(Use {
            workload,
            slot,
            image: u.image,
            location: at,
            layout,
        });
    }
    if out.is_empty() {
        return Err(format!(
            "manifest `{}` names no workload image",
            path.display()
        ));
    }
    Ok(out)
}

#[expect(clippy::too_many_arguments, reason = "the parts of one case result")]
async fn run_manifest_case(
    path: &Path,
    line: usize,
    name: &str,
    policy_rel: &str,
    base: &Path,
    default: Option<&WireExpect>,
    results: &[WireResult],
    uses: &[Use],
) -> Vec<CaseResult> {
    let mut out = Vec::new();
    let verifier = verifier(base, policy_rel);
    let mut decisions: BTreeMap<String, Result<Decision, String>> = BTreeMap::new();
    for u in uses {
        let key = u.layout.to_string();
        if let std::collections::btree_map::Entry::Vacant(slot) = decisions.entry(key) {
            slot.insert(match &verifier {
                Ok(v) => Ok(v.verify(&u.layout).await),
                Err(e) => Err(e.clone()),
            });
        }
    }
    let selects = |r: &WireResult, u: &Use| {
        r.resources
            .as_ref()
            .is_none_or(|list| list.iter().any(|res| u.named_by(res)))
            && r.image.as_ref().is_none_or(|i| *i == u.image)
    };
    let missing = String::from("internal error: the image was not verified; please file a bug");
    for u in uses {
        let resource = format!("{} {}", u.workload, u.slot);
        let label = format!("{name}: {resource}");
        let decided = decisions
            .get(&u.layout.to_string())
            .map_or(Err(&missing), Result::as_ref);
        let image = Some(format!("{} at {}", u.image, u.location));
        let mut expectations: Vec<&WireExpect> = results
            .iter()
            .filter(|r| selects(r, u))
            .map(|r| &r.expect)
            .collect();
        if expectations.is_empty() {
            expectations.extend(default);
        }
        if expectations.is_empty() {
            out.push(CaseResult {
                file: path.to_owned(),
                line,
                name: label.clone(),
                passed: false,
                expected: "an expectation".into(),
                got: decided.map_or_else(|_| "error".into(), describe_decision),
                message: format!(
                    "no `results` entry selects {resource} ({}) and the case has no `expect`",
                    u.image
                ),
                resource: Some(resource.clone()),
                image: image.clone(),
            });
        }
        for e in expectations {
            out.push(judge(
                path,
                line,
                label.clone(),
                describe_expected(e),
                e,
                decided,
                Some(resource.clone()),
                image.clone(),
            ));
        }
    }
    for (k, r) in results.iter().enumerate() {
        if !uses.iter().any(|u| selects(r, u)) {
            let mut what = Vec::new();
            if let Some(list) = &r.resources {
                what.push(format!("resources [{}]", list.join(", ")));
            }
            if let Some(i) = &r.image {
                what.push(format!("image `{i}`"));
            }
            out.push(CaseResult {
                file: path.to_owned(),
                line,
                name: format!("{name}: results[{k}]"),
                passed: false,
                expected: describe_expected(&r.expect),
                got: "nothing selected".into(),
                message: format!(
                    "results[{k}] ({}) selects no image use of the manifest",
                    what.join(", ")
                ),
                resource: None,
                image: None,
            });
        }
    }
    out
}

/// The result of checking one decision (or the error that prevented it) against `expect`.
#[expect(clippy::too_many_arguments, reason = "the parts of one case result")]
fn judge(
    path: &Path,
    line: usize,
    name: String,
    expected: String,
    expect: &WireExpect,
    decided: Result<&Decision, &String>,
    resource: Option<String>,
    image: Option<String>,
) -> CaseResult {
    let (passed, got, message) = match decided {
        Err(message) => (false, "error".to_owned(), message.clone()),
        Ok(d) => {
            let got = describe_decision(d);
            match mismatch(expect, d) {
                None => (true, got, String::new()),
                Some(m) => (false, got, m),
            }
        }
    };
    CaseResult {
        file: path.to_owned(),
        line,
        name,
        passed,
        expected,
        got,
        message,
        resource,
        image,
    }
}

/// The verifier of the policy at `policy_rel` (relative to `base`).
fn verifier(base: &Path, policy_rel: &str) -> Result<Verifier, String> {
    let policy_path = base.join(policy_rel);
    let policy = Policy::from_path(&policy_path)
        .map_err(|e| format!("policy `{}`: {e}", policy_path.display()))?;
    Verifier::builder(policy)
        .build()
        .map_err(|e| crate::format::error_chain(&e))
}

/// `image`, which must be `oci:PATH[:TAG]`, with a relative `PATH` joined to `base`.
fn layout_ref(base: &Path, image: &str) -> Result<ImageRef, String> {
    let Some(layout) = image.strip_prefix("oci:") else {
        return Err(format!(
            "`{image}`: policy tests run offline, so images must be OCI layouts (`oci:PATH[:TAG]`)"
        ));
    };
    let layout = if Path::new(layout).is_absolute() {
        layout.to_owned()
    } else {
        base.join(layout).display().to_string()
    };
    ImageRef::parse(&format!("oci:{layout}")).map_err(|e| e.to_string())
}

/// The reason codes of a decision: its reason and the reason of every unmet requirement.
fn codes(d: &Decision) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = d.reason().map(|r| r.code.to_string()).into_iter().collect();
    for rule in d.rules() {
        for req in rule.requirements() {
            if let Some(r) = req.reason() {
                out.insert(r.code.to_string());
            }
        }
    }
    out
}

fn describe_expected(e: &WireExpect) -> String {
    let mut s = e.outcome.as_str().to_owned();
    if let Some(r) = &e.reasons {
        s.push_str(&format!(" [{}]", r.join(", ")));
    }
    if let Some(a) = &e.authority {
        s.push_str(&format!(" by {a}"));
    }
    s
}

fn describe_decision(d: &Decision) -> String {
    let codes: Vec<String> = codes(d).into_iter().collect();
    format!("{} [{}]", d.outcome().as_str(), codes.join(", "))
}

/// Why `d` is not what `e` expects, if it is not.
fn mismatch(e: &WireExpect, d: &Decision) -> Option<String> {
    if WireOutcome::of(d.outcome()) != e.outcome {
        let why = d
            .reason()
            .map(|r| format!(": {}", r.message))
            .unwrap_or_default();
        return Some(format!(
            "expected {}, got {}{why}",
            e.outcome.as_str(),
            d.outcome().as_str()
        ));
    }
    if let Some(want) = &e.reasons {
        let want: BTreeSet<String> = want.iter().cloned().collect();
        let got = codes(d);
        if want != got {
            return Some(format!(
                "expected reason codes [{}], got [{}]",
                want.into_iter().collect::<Vec<_>>().join(", "),
                got.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if let Some(a) = &e.authority {
        let met = d.rules().iter().any(|r| {
            r.requirements()
                .iter()
                .any(|q| q.met() && q.evidence().iter().any(|ev| &ev.authority == a))
        });
        if !met {
            return Some(format!(
                "no met requirement has evidence from authority `{a}`"
            ));
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
    }

    /// A test file in a temporary directory, with `cases` (YAML lines) under `cases:` and the
    /// demo policy; `manifest` is written beside it as `m.yaml`.
    fn scratch(manifest: &str, cases: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
        let file = dir.path().join("imprint-test.yaml");
        std::fs::write(
            &file,
            format!(
                "apiVersion: imprint.dev/v1\nkind: PolicyTest\npolicy: {}/policies/demo.yaml\ncases:\n{cases}",
                root().display()
            ),
        )
        .unwrap();
        (dir, file)
    }

    fn deployment(images: &[&str]) -> String {
        let containers: String = images
            .iter()
            .enumerate()
            .map(|(i, image)| format!("        - name: c{i}\n          image: {image}\n"))
            .collect();
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      containers:\n{containers}"
        )
    }

    fn demo() -> String {
        format!("oci:{}/testdata/demo-image:demo", root().display())
    }

    fn invalid_message(e: CasesError) -> String {
        match e {
            CasesError::Invalid { message, .. } => message,
            e => panic!("not Invalid: {e}"),
        }
    }

    #[tokio::test]
    async fn the_fixture_checks_every_workload_image() {
        let file = root().join("testdata/policy-tests/imprint-test.yaml");
        let results = run_file(&file).await.unwrap();
        assert!(results.iter().all(|r| r.passed), "{results:#?}");
        let manifest: Vec<&CaseResult> = results.iter().filter(|r| r.resource.is_some()).collect();
        // Two manifest cases, three image uses each (initContainers, containers, CronJob).
        assert_eq!(manifest.len(), 6, "{results:#?}");
        let names: BTreeSet<&str> = manifest
            .iter()
            .filter_map(|r| r.resource.as_deref())
            .collect();
        assert_eq!(
            names,
            BTreeSet::from([
                "apps/v1/Deployment/shop/web initContainers[0]",
                "apps/v1/Deployment/shop/web containers[0]",
                "batch/v1/CronJob/shop/nightly containers[0]",
            ])
        );
        let denied: Vec<_> = manifest
            .iter()
            .filter(|r| r.got.starts_with("denied"))
            .collect();
        assert_eq!(denied.len(), 3, "{manifest:#?}");
        assert!(denied.iter().all(|r| r.got == "denied [signature-invalid]"));
        let cron = manifest
            .iter()
            .find(|r| r.resource.as_deref() == Some("batch/v1/CronJob/shop/nightly containers[0]"))
            .unwrap();
        assert!(
            cron.image
                .as_deref()
                .unwrap()
                .ends_with("workloads.yaml:33"),
            "{cron:?}"
        );
    }

    #[tokio::test]
    async fn wrong_expectations_unselected_uses_and_empty_selections_fail() {
        let image = demo();
        let (_dir, file) = scratch(
            &deployment(&[&image, &image]),
            "  - name: m\n    manifest: m.yaml\n    results:\n      - resources: [Deployment/web]\n        expect: {outcome: denied}\n      - resources: [Pod/nope]\n        expect: {outcome: allowed}\n",
        );
        let results = run_file(&file).await.unwrap();
        assert_eq!(results.len(), 3, "{results:#?}");
        assert!(results.iter().all(|r| !r.passed), "{results:#?}");
        assert!(
            results[0].message.contains("expected denied, got allowed"),
            "{results:#?}"
        );
        assert_eq!(results[0].name, "m: apps/v1/Deployment/-/web containers[0]");
        assert_eq!(results[0].line, 5);
        assert!(
            results[2]
                .message
                .contains("results[1] (resources [Pod/nope]) selects no image use"),
            "{results:#?}"
        );

        // One container selected by image, the other by nothing and no default: that fails.
        let other = format!("oci:{}/testdata/demo-image", root().display());
        let (_dir, file) = scratch(
            &deployment(&[&image, &other]),
            &format!(
                "  - name: m\n    manifest: m.yaml\n    results:\n      - image: '{image}'\n        expect: {{outcome: allowed}}\n"
            ),
        );
        let results = run_file(&file).await.unwrap();
        assert_eq!(results.len(), 2, "{results:#?}");
        assert!(results[0].passed, "{results:#?}");
        assert!(!results[1].passed);
        assert!(
            results[1].message.contains("no `results` entry selects"),
            "{results:#?}"
        );
        // With a case-level default it passes.
        let (_dir, file) = scratch(
            &deployment(&[&image, &other]),
            &format!(
                "  - name: m\n    manifest: m.yaml\n    expect: {{outcome: allowed}}\n    results:\n      - image: '{image}'\n        expect: {{outcome: allowed, reasons: []}}\n"
            ),
        );
        let results = run_file(&file).await.unwrap();
        assert_eq!(results.len(), 2);
        assert!(results.iter().all(|r| r.passed), "{results:#?}");
    }

    #[tokio::test]
    async fn a_registry_image_in_a_manifest_is_an_error_of_the_test_file_at_its_line() {
        let (_dir, file) = scratch(
            &deployment(&[&demo(), "ghcr.io/acme/app:1"]),
            "  - name: m\n    manifest: m.yaml\n    expect: {outcome: allowed}\n",
        );
        let message = invalid_message(run_file(&file).await.unwrap_err());
        assert!(
            message.contains("m.yaml:11: image `ghcr.io/acme/app:1`"),
            "{message}"
        );
        assert!(message.contains("run offline"), "{message}");
    }

    #[tokio::test]
    async fn malformed_manifest_cases_are_errors_of_the_test_file() {
        for (cases, want) in [
            (
                format!(
                    "  - name: m\n    manifest: m.yaml\n    image: '{}'\n    expect: {{outcome: allowed}}\n",
                    demo()
                ),
                "exactly one of `image`",
            ),
            (
                "  - name: m\n    expect: {outcome: allowed}\n".to_owned(),
                "exactly one of `image`",
            ),
            (
                "  - name: m\n    manifest: m.yaml\n".to_owned(),
                "needs `expect`, `results` or both",
            ),
            (
                "  - name: m\n    manifest: m.yaml\n    results: [{expect: {outcome: allowed}}]\n"
                    .to_owned(),
                "results[0] selects nothing",
            ),
            (
                format!(
                    "  - name: m\n    image: '{}'\n    results: []\n    expect: {{outcome: allowed}}\n",
                    demo()
                ),
                "`results` needs `manifest`",
            ),
            (
                "  - name: m\n    manifest: absent.yaml\n    expect: {outcome: allowed}\n"
                    .to_owned(),
                "absent.yaml",
            ),
        ] {
            let (_dir, file) = scratch(&deployment(&[&demo()]), &cases);
            let message = invalid_message(run_file(&file).await.unwrap_err());
            assert!(message.contains(want), "{cases}: {message}");
        }
        // A manifest without any workload image.
        let (_dir, file) = scratch(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
            "  - name: m\n    manifest: m.yaml\n    expect: {outcome: allowed}\n",
        );
        let message = invalid_message(run_file(&file).await.unwrap_err());
        assert!(message.contains("names no workload image"), "{message}");
    }
}
