//! `imprint audit`: would enforcing this policy break anything that is deployed or declared?
//!
//! * [`manifest`] reads Kubernetes manifests (files, directories, stdin, cluster dumps) into
//!   [`ImageUse`]s: which workload, which container slot, which image as written, and the file
//!   and line of its `image:` key.
//! * [`audit`] verifies each distinct reference once, concurrently, with the policy's
//!   [`Verifier`](crate::gate::Verifier), and fans the decisions back out to one [`Row`] per
//!   use. Outcomes keep verdicts (`allowed`, `warned`, `denied`) apart from infrastructure
//!   (`error`: the decision was a denial for `registry-error` or `timeout`).
//! * The [`Report`]'s summary says what would be denied if every rule's mode were `enforce`
//!   (a rule that failed in `warn` or `audit` mode for a reason other than infrastructure
//!   counts), per rule and per namespace.
//! * [`render`] prints it as a table or JSON, [`sarif`] as SARIF 2.1.0, [`junit`] as JUnit
//!   XML, [`policyreport`] as Kubernetes `wgpolicyk8s.io/v1alpha2` Policy Reports.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use imprint::audit::{Manifests, audit};
//! use imprint::gate::Verifier;
//! use imprint::policy::Policy;
//!
//! let mut manifests = Manifests::default();
//! manifests.read_path("deploy/".as_ref())?;
//! let verifier = Verifier::builder(Policy::from_path("policy.yaml".as_ref())?).build()?;
//! let report = audit(&verifier, manifests).await;
//! print!("{}", imprint::audit::render::table(&report));
//! # Ok(()) }
//! ```

pub mod junit;
pub mod manifest;
pub mod policyreport;
pub mod render;
pub mod report;
pub mod sarif;

pub use manifest::{ImageUse, ManifestError, Manifests, SourceLocation, Workload};
pub use report::{Failure, Report, Row, RowOutcome, add_repository, audit, audit_with_progress};
