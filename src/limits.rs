//! Resource limits: every bound imprint applies to input it does not control, in one value.
//!
//! A hostile registry, attachment, key file, policy or SBOM must not make imprint allocate,
//! loop or wait without bound. Each limit below has a documented default; going over one is an
//! error that names the limit. [`Limits::DEFAULT`] is usable in `const` contexts; a
//! [`Limits`] value is threaded through the registry client, discovery and signing so that
//! tests and long-running services can tighten them.

use std::time::Duration;

/// Size and count limits, with documented defaults ([`Limits::DEFAULT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest manifest or index accepted (bytes). Default 4 MiB, as distribution enforces.
    pub max_manifest_bytes: u64,
    /// Largest blob accepted from a registry or layout (bytes). Default 128 MiB, cosign's
    /// `COSIGN_MAX_ATTACHMENT_SIZE`.
    pub max_blob_bytes: u64,
    /// Most layers read from one signature/attestation manifest, and most referrers read for
    /// one image. Default 1000, as cosign.
    pub max_layers: usize,
    /// Largest predicate file (`attest --predicate`). Default 128 MiB (large SBOMs).
    pub max_predicate_bytes: u64,
    /// Largest statement whose whole predicate is read as a DOM (`serde_json::Value`, about
    /// 5.5 times the JSON), which only CEL conditions need; the built-in SBOM and
    /// vulnerability checks read their fields without one. Over it a condition fails closed.
    /// Default 128 MiB (as `max_blob_bytes`, so no attestation that can be fetched is refused).
    pub max_predicate_dom_bytes: u64,
    /// Largest signature, envelope or bundle file read for blob verification. Default 256 MiB
    /// (a bundle with a DSSE envelope carries the whole statement, base64-encoded).
    pub max_evidence_bytes: u64,
    /// Largest key file. Default 1 MiB.
    pub max_key_file_bytes: u64,
    /// Largest policy file. Default 1 MiB.
    pub max_policy_bytes: u64,
    /// Longest CEL condition in a policy (characters). Default 4096.
    pub max_condition_chars: usize,
    /// Largest `index.json` of an OCI image layout. Default 64 MiB.
    pub max_layout_index_bytes: u64,
    /// Largest registry token response. Default 1 MiB.
    pub max_token_response_bytes: u64,
    /// Largest `trusted_root.json`. Default 16 MiB.
    pub max_trust_root_bytes: u64,
    /// Largest simple-signing payload (the JSON a `.sig` layer signs). Default 256 KiB: cosign's
    /// payloads are a few hundred bytes plus annotations.
    pub max_payload_bytes: u64,
    /// Most bytes fetched for one image in total: every attachment manifest, signature layer,
    /// attestation, referrer and bundle together. Default 512 MiB.
    pub max_image_bytes: u64,
    /// Most signature/attestation candidates (layers and referrers together) evaluated for one
    /// image. Default 1000.
    pub max_attachments: usize,
    /// Most referrer manifests followed for one image. Default 256.
    pub max_referrers: usize,
    /// Most HTTP redirects followed for one request. Default 5.
    pub max_redirects: usize,
    /// Deepest JSON nesting accepted in documents imprint inspects (SBOMs, reports,
    /// statements). Default 128, as `serde_json`'s own recursion limit.
    pub max_json_depth: usize,
    /// Deepest nesting of `anyOf`/`allOf`/`threshold` in a policy. Default 16.
    pub max_policy_depth: usize,
    /// Most estimated CEL cost one condition may have over the inputs it is evaluated on
    /// (`policy::cel`: nodes, with each comprehension's body times its range's size). Default
    /// 1,000,000, Kubernetes' per-expression limit: one pass over a 100,000-component SBOM
    /// fits, a nested loop over two 5,000-item lists does not.
    pub max_cel_cost: u64,
    /// Longest certificate chain accepted (leaf included). Default 10.
    pub max_cert_chain_len: usize,
    /// Largest scrypt cost exponent (`log2 N`) accepted in an encrypted key file. Default 20
    /// (cosign writes 15).
    pub max_scrypt_log_n: u8,
    /// Largest scrypt block size `r` accepted in a key file. Default 32 (cosign writes 8).
    pub max_scrypt_r: u32,
    /// Largest scrypt parallelism `p` accepted in a key file. Default 16 (cosign writes 1).
    pub max_scrypt_p: u32,
    /// Longest time to establish a connection to a registry. Default 10 s.
    pub connect_timeout: Duration,
    /// Longest time one registry request may take in total, body included. Default 120 s.
    pub request_timeout: Duration,
    /// Longest time verification of one image may take (resolution, discovery, every fetch).
    /// Default 300 s.
    pub image_timeout: Duration,
    /// Most retries of one idempotent read after 429, 5xx or a reset connection. Default 3.
    pub max_retries: u32,
    /// Longest `Retry-After` honoured; a registry asking for a longer wait fails the read.
    /// Default 30 s.
    pub max_retry_after: Duration,
    /// Most concurrent fetches for one image. Default 8.
    pub max_concurrent_fetches: usize,
    /// Largest AdmissionReview request body the admission webhook reads (bytes). Default
    /// 8 MiB: a review carries the object and, on UPDATE, the old object, each up to the API
    /// server's 3 MiB request limit, JSON-encoded.
    pub max_admission_body_bytes: u64,
}

impl Limits {
    /// The defaults, documented on each field.
    pub const DEFAULT: Self = Self {
        max_manifest_bytes: 4 * MIB,
        max_blob_bytes: 128 * MIB,
        max_layers: 1000,
        max_predicate_bytes: 128 * MIB,
        max_predicate_dom_bytes: 128 * MIB,
        max_evidence_bytes: 256 * MIB,
        max_key_file_bytes: MIB,
        max_policy_bytes: MIB,
        max_condition_chars: 4096,
        max_layout_index_bytes: 64 * MIB,
        max_token_response_bytes: MIB,
        max_trust_root_bytes: 16 * MIB,
        max_payload_bytes: 256 * KIB,
        max_image_bytes: 512 * MIB,
        max_attachments: 1000,
        max_referrers: 256,
        max_redirects: 5,
        max_json_depth: 128,
        max_policy_depth: 16,
        max_cel_cost: 1_000_000,
        max_cert_chain_len: 10,
        max_scrypt_log_n: 20,
        max_scrypt_r: 32,
        max_scrypt_p: 16,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(120),
        image_timeout: Duration::from_secs(300),
        max_retries: 3,
        max_retry_after: Duration::from_secs(30),
        max_concurrent_fetches: 8,
        max_admission_body_bytes: 8 * MIB,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
