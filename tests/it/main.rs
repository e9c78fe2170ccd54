//! The integration tests, in one binary (as ripgrep and uv do): one module per topic, and one
//! shared [`support`] module (the `imprint` command, the shared vectors, hand-made `.sig`
//! layers, the registry and the proxy). Run one topic with `cargo test --test it attest::`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod attest;
mod blob;
mod bundles_oci;
mod conformance;
mod demo;
mod dsse_interop;
mod keyless_legacy;
mod keys;
mod policy_checks;
mod policy_scenarios;
mod registry;
mod sign_verify;
