//! `imprint policy test`: test files (`imprint-test.yaml`, found recursively as `kyverno test`
//! finds its files) list images in OCI layouts and the decision a policy must make about each:
//! the outcome, and optionally the reason codes and an authority whose evidence met a
//! requirement. Runs offline: only `oci:` layout images, no registry.
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
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Verifier;
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
    image: String,
    policy: Option<String>,
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
        let expected = describe_expected(&case.expect);
        let result = |passed: bool, got: String, message: String| CaseResult {
            file: path.to_owned(),
            line,
            name: case.name.clone(),
            passed,
            expected: expected.clone(),
            got,
            message,
        };
        let decided = decide(base, policy_rel, &case.image).await;
        out.push(match decided {
            Err(message) => result(false, "error".into(), message),
            Ok(d) => {
                let got = describe_decision(&d);
                match mismatch(&case.expect, &d) {
                    None => result(true, got, String::new()),
                    Some(m) => result(false, got, m),
                }
            }
        });
    }
    Ok(out)
}

async fn decide(base: &Path, policy_rel: &str, image: &str) -> Result<Decision, String> {
    let policy_path = base.join(policy_rel);
    let policy = Policy::from_path(&policy_path)
        .map_err(|e| format!("policy `{}`: {e}", policy_path.display()))?;
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
    let image = ImageRef::parse(&format!("oci:{layout}")).map_err(|e| e.to_string())?;
    let verifier = Verifier::builder(policy)
        .build()
        .map_err(|e| crate::format::error_chain(&e))?;
    Ok(verifier.verify(&image).await)
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
