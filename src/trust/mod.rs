//! Trust material and identities: Sigstore trust roots (`trusted_root.json`, the embedded
//! public-good and staging roots) and the certificate identity of a Fulcio leaf (SAN, OIDC
//! issuer, Fulcio extensions such as the GitHub workflow claims) with the matchers that policies
//! and flags apply to it.

pub mod identity;
pub mod root;
pub mod tuf;

pub use identity::{
    ClaimMismatch, FULCIO_EXTENSIONS, GithubClaims, IdentityError, IdentityPolicy, Matcher,
};
pub use root::{EmbeddedRoot, PUBLIC_GOOD_ORIGIN, TrustRoot, TrustRootError};
