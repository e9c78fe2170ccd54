//! Resource limits: every bound imprint applies to input it does not control, in one value.
//!
//! A hostile registry, attachment, key file, policy or SBOM must not make imprint allocate,
//! loop or wait without bound. Each limit below has a documented default; going over one is an
//! error that names the limit. [`Limits::DEFAULT`] is usable in `const` contexts; a
//! [`Limits`] value is threaded through the registry client, discovery and signing so that
//! tests and long-running services can tighten them.

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
}

impl Limits {
    /// The defaults, documented on each field.
    pub const DEFAULT: Self = Self {
        max_manifest_bytes: 4 * MIB,
        max_blob_bytes: 128 * MIB,
        max_layers: 1000,
        max_predicate_bytes: 128 * MIB,
        max_evidence_bytes: 256 * MIB,
        max_key_file_bytes: MIB,
        max_policy_bytes: MIB,
        max_condition_chars: 4096,
        max_layout_index_bytes: 64 * MIB,
        max_token_response_bytes: MIB,
        max_trust_root_bytes: 16 * MIB,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

const MIB: u64 = 1024 * 1024;
