//! `imprint audit`: would enforcing this policy break anything that is deployed or declared?
//!
//! [`manifest`] reads Kubernetes manifests (files, directories, stdin, cluster dumps) into
//! image uses: which workload, which container slot, which image as written, and the file and
//! line of its `image:` key.

pub mod manifest;

pub use manifest::{ImageUse, ManifestError, Manifests, SourceLocation, Workload};
