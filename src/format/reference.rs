//! Image references as users write them: docker/cosign syntax for registry images
//! (`registry:port/repo:tag`, `repo@sha256:…`, Docker Hub short names) and skopeo's
//! `oci:PATH[:TAG]` / `oci:PATH@sha256:…` for an OCI image layout directory on disk.
//!
//! Parsing follows the distribution reference grammar (as go-containerregistry applies it):
//! the first path component is a registry host when it contains `.` or `:` or is
//! `localhost`; otherwise the image lives on Docker Hub (`index.docker.io`), and a single
//! component name gets the `library/` prefix. `docker.io` is normalised to
//! `index.docker.io`, as ggcr does, so signatures name the same repository cosign writes.

use std::fmt;

use crate::format::digest::Digest;

/// The registry Docker Hub images live on (the name ggcr and cosign use).
pub const DOCKER_HUB_REGISTRY: &str = "index.docker.io";

/// Whether `host` is a name of Docker Hub: `docker.io`, `index.docker.io` or
/// `registry-1.docker.io`. (Parsing rewrites only `docker.io` to [`DOCKER_HUB_REGISTRY`], as
/// ggcr does; policy image patterns treat all three as the same registry.)
pub fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | DOCKER_HUB_REGISTRY | "registry-1.docker.io"
    )
}

/// The one spelling of a registry host used for matching, connecting and naming: ASCII
/// lowercase (DNS names are case-insensitive), without HTTPS's default port `:443`. So
/// `REGISTRY.ACME.IO` and `registry.acme.io:443` are `registry.acme.io`, and cannot escape a
/// rule written for it. A loopback registry keeps `:443`: loopback registries are spoken to
/// over plain HTTP, where 443 is not the default port. Docker Hub's `docker.io` becomes
/// [`DOCKER_HUB_REGISTRY`] in [`ImageRef::parse`], after this.
pub fn canonical_registry(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    match lower.strip_suffix(":443") {
        // Only when the bare name still reads as a registry host: `com:443/x` must not
        // become `com/x`, which names Docker Hub's `com/x` (found by fuzzing).
        Some(bare) if !is_loopback_host(bare) && is_registry_host(bare) => bare.to_owned(),
        _ => lower,
    }
}

/// `localhost`, `127.0.0.0/8` or `[::1]` (a host without port).
fn is_loopback_host(host: &str) -> bool {
    let ip = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host == "localhost"
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether the first component of an image name is a registry host (the distribution rule):
/// it contains `.` or `:`, or is `localhost`. Otherwise the name is on Docker Hub.
pub fn is_registry_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

/// The tag used when a registry reference names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";

/// Longest repository name distribution accepts (registry included).
const MAX_NAME_LEN: usize = 255;
/// Longest tag distribution accepts.
const MAX_TAG_LEN: usize = 128;

/// Why a string is not an image reference.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The reference is empty.
    #[error("empty image reference")]
    Empty,
    /// The repository part is malformed.
    #[error("invalid image reference `{reference}`: {reason}")]
    InvalidName {
        /// The whole reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The tag is malformed.
    #[error(
        "invalid tag `{tag}` in image reference `{reference}`: a tag is 1-128 characters of \
         [A-Za-z0-9_.-] and may not start with `.` or `-`"
    )]
    InvalidTag {
        /// The whole reference as given.
        reference: String,
        /// The tag.
        tag: String,
    },
    /// The digest is malformed or not sha256.
    #[error("invalid digest in image reference `{reference}`")]
    InvalidDigest {
        /// The whole reference as given.
        reference: String,
        /// Why the digest was refused.
        source: crate::format::digest::DigestError,
    },
    /// An `oci:` reference without a path.
    #[error("invalid OCI layout reference `{reference}`: the path is empty (use `oci:PATH[:TAG]`)")]
    EmptyLayoutPath {
        /// The whole reference as given.
        reference: String,
    },
}

/// An image in a registry repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl RemoteRef {
    /// Registry host (and port), e.g. `127.0.0.1:5000` or `index.docker.io`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path inside the registry, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// `registry/repository`, the name cosign writes into signatures.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag, if any (`latest` when the reference named neither tag nor digest).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference is pinned.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
}

/// An image in an OCI image layout directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayoutRef {
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl LayoutRef {
    /// The layout directory, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag (`org.opencontainers.image.ref.name`), if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference is pinned.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
}

/// An image reference: a registry image or an image in an OCI layout directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// An image in a registry.
    Remote(RemoteRef),
    /// An image in an OCI image layout directory (`oci:PATH…`).
    Layout(LayoutRef),
}

impl ImageRef {
    /// Parse a reference in docker/cosign syntax, or skopeo's `oci:PATH[:TAG]` /
    /// `oci:PATH@sha256:…` for an OCI layout directory.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if let Some(rest) = s.strip_prefix("oci:") {
            return parse_layout(s, rest).map(ImageRef::Layout);
        }
        parse_remote(s).map(ImageRef::Remote)
    }

    /// The tag, if any. Registry references that name neither tag nor digest get `latest`.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Self::Remote(r) => r.tag(),
            Self::Layout(l) => l.tag(),
        }
    }

    /// The digest, if the reference is pinned.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Self::Remote(r) => r.digest(),
            Self::Layout(l) => l.digest(),
        }
    }

    /// The repository name as cosign writes it into signatures: `127.0.0.1:5000/app`,
    /// `index.docker.io/library/busybox`; for a layout, the path as given.
    pub fn repository_name(&self) -> String {
        match self {
            Self::Remote(r) => r.name(),
            Self::Layout(l) => l.path.clone(),
        }
    }

    /// The same repository, pinned to `digest` (the tag is dropped: the digest is what
    /// everything after resolution works on).
    pub fn with_digest(&self, digest: Digest) -> Self {
        match self {
            Self::Remote(r) => Self::Remote(RemoteRef {
                registry: r.registry.clone(),
                repository: r.repository.clone(),
                tag: None,
                digest: Some(digest),
            }),
            Self::Layout(l) => Self::Layout(LayoutRef {
                path: l.path.clone(),
                tag: None,
                digest: Some(digest),
            }),
        }
    }

    /// The same repository, addressed by `tag` (e.g. a `sha256-<hex>.sig` tag).
    pub fn with_tag(&self, tag: &str) -> Self {
        match self {
            Self::Remote(r) => Self::Remote(RemoteRef {
                registry: r.registry.clone(),
                repository: r.repository.clone(),
                tag: Some(tag.to_owned()),
                digest: None,
            }),
            Self::Layout(l) => Self::Layout(LayoutRef {
                path: l.path.clone(),
                tag: Some(tag.to_owned()),
                digest: None,
            }),
        }
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ImageRef {
    /// Canonical form: `repo@digest` when pinned, else `repo:tag`; layouts keep `oci:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, name, tag, digest) = match self {
            Self::Remote(r) => ("", r.name(), r.tag(), r.digest()),
            Self::Layout(l) => ("oci:", l.path.clone(), l.tag(), l.digest()),
        };
        match (digest, tag) {
            (Some(d), _) => write!(f, "{prefix}{name}@{d}"),
            (None, Some(t)) => write!(f, "{prefix}{name}:{t}"),
            (None, None) => write!(f, "{prefix}{name}"),
        }
    }
}

fn invalid(reference: &str, reason: impl Into<String>) -> ReferenceError {
    ReferenceError::InvalidName {
        reference: reference.to_owned(),
        reason: reason.into(),
    }
}

fn parse_digest(reference: &str, d: &str) -> Result<Digest, ReferenceError> {
    d.parse().map_err(|source| ReferenceError::InvalidDigest {
        reference: reference.to_owned(),
        source,
    })
}

fn check_tag(reference: &str, tag: &str) -> Result<(), ReferenceError> {
    let ok = !tag.is_empty()
        && tag.len() <= MAX_TAG_LEN
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::InvalidTag {
            reference: reference.to_owned(),
            tag: tag.to_owned(),
        })
    }
}

fn parse_layout(reference: &str, rest: &str) -> Result<LayoutRef, ReferenceError> {
    // `oci:PATH@sha256:<hex>` (the digest part always starts with an algorithm).
    if let Some(at) = rest.rfind('@') {
        let (path, digest) = (&rest[..at], &rest[at + 1..]);
        if digest.contains(':') {
            if path.is_empty() {
                return Err(ReferenceError::EmptyLayoutPath {
                    reference: reference.to_owned(),
                });
            }
            return Ok(LayoutRef {
                path: path.to_owned(),
                tag: None,
                digest: Some(parse_digest(reference, digest)?),
            });
        }
    }
    // skopeo: the path ends at the first `:`; what follows names the image in the index.
    let (path, tag) = match rest.split_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(ReferenceError::EmptyLayoutPath {
            reference: reference.to_owned(),
        });
    }
    if let Some(tag) = tag {
        check_tag(reference, tag)?;
    }
    Ok(LayoutRef {
        path: path.to_owned(),
        tag: tag.map(str::to_owned),
        digest: None,
    })
}

fn parse_remote(reference: &str) -> Result<RemoteRef, ReferenceError> {
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, d)) => (rest, Some(parse_digest(reference, d)?)),
        None => (reference, None),
    };
    // A tag is after the last `:` that follows the last `/` (a `:` before it is a port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(reference, tag)?;
    }
    if name.is_empty() {
        return Err(invalid(reference, "the repository name is empty"));
    }
    let (registry, path) = match name.split_once('/') {
        Some((first, path)) if is_registry_host(first) => (first, path),
        _ => (DOCKER_HUB_REGISTRY, name),
    };
    check_registry(reference, registry)?;
    let registry = canonical_registry(registry);
    if registry.starts_with("oci:") {
        // `OCI:5000/x` names registry `oci:5000`, but its canonical spelling `oci:5000/x` is an
        // OCI layout reference: refuse rather than have it change meaning (found by fuzzing).
        return Err(invalid(
            reference,
            "a registry named `oci` with a port reads as an OCI layout reference (`oci:PATH`)",
        ));
    }
    let registry = if registry == "docker.io" {
        DOCKER_HUB_REGISTRY
    } else {
        registry.as_str()
    };
    check_path(reference, path)?;
    let repository = if registry == DOCKER_HUB_REGISTRY && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
        return Err(invalid(
            reference,
            format!("the repository name is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    let tag = match (tag, &digest) {
        (Some(t), _) => Some(t.to_owned()),
        (None, None) => Some(DEFAULT_TAG.to_owned()),
        (None, Some(_)) => None,
    };
    Ok(RemoteRef {
        registry: registry.to_owned(),
        repository,
        tag,
        digest,
    })
}

fn check_registry(reference: &str, registry: &str) -> Result<(), ReferenceError> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        // IPv6 literal: `[::1]:5000`.
        let Some((ip, after)) = rest.split_once(']') else {
            return Err(invalid(
                reference,
                format!("unclosed `[` in registry `{registry}`"),
            ));
        };
        if ip.is_empty()
            || !ip
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(invalid(
                reference,
                format!("invalid IPv6 registry `{registry}`"),
            ));
        }
        match after {
            "" => (None, None),
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => {
                    return Err(invalid(reference, format!("invalid registry `{registry}`")));
                }
            },
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        let ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !ok {
            return Err(invalid(
                reference,
                format!("invalid registry host `{registry}`"),
            ));
        }
    }
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(invalid(
            reference,
            format!("invalid port in registry `{registry}`"),
        ));
    }
    Ok(())
}

fn check_path(reference: &str, path: &str) -> Result<(), ReferenceError> {
    for component in path.split('/') {
        if component.is_empty() {
            return Err(invalid(
                reference,
                "empty path component in repository name",
            ));
        }
        if component.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid(
                reference,
                format!("repository name component `{component}` must be lowercase"),
            ));
        }
        if !component_ok(component) {
            return Err(invalid(
                reference,
                format!(
                    "invalid repository name component `{component}`: use [a-z0-9] separated \
                     by `.`, `_`, `__` or dashes"
                ),
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn component_ok(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    let n = bytes.len();
    let run = |i: &mut usize| {
        let start = *i;
        while *i < n && alnum(bytes[*i]) {
            *i += 1;
        }
        *i > start
    };
    if !run(&mut i) {
        return false;
    }
    while i < n {
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < n && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < n && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if !run(&mut i) {
            return false;
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn remote(s: &str) -> RemoteRef {
        match ImageRef::parse(s) {
            Ok(ImageRef::Remote(r)) => r,
            other => panic!("{s}: {other:?}"),
        }
    }

    /// (input, registry, repository, tag, has digest, canonical display)
    type Case = (
        String,
        &'static str,
        &'static str,
        Option<&'static str>,
        bool,
        String,
    );

    #[test]
    fn parses_registry_references() {
        let d = format!("sha256:{HEX}");
        let table: Vec<Case> = vec![
            (
                "busybox".into(),
                "index.docker.io",
                "library/busybox",
                Some("latest"),
                false,
                "index.docker.io/library/busybox:latest".into(),
            ),
            (
                "busybox:1.36".into(),
                "index.docker.io",
                "library/busybox",
                Some("1.36"),
                false,
                "index.docker.io/library/busybox:1.36".into(),
            ),
            (
                "docker.io/library/busybox".into(),
                "index.docker.io",
                "library/busybox",
                Some("latest"),
                false,
                "index.docker.io/library/busybox:latest".into(),
            ),
            (
                "docker.io/busybox".into(),
                "index.docker.io",
                "library/busybox",
                Some("latest"),
                false,
                "index.docker.io/library/busybox:latest".into(),
            ),
            (
                "acme/app:v1".into(),
                "index.docker.io",
                "acme/app",
                Some("v1"),
                false,
                "index.docker.io/acme/app:v1".into(),
            ),
            (
                "127.0.0.1:5000/app:v1".into(),
                "127.0.0.1:5000",
                "app",
                Some("v1"),
                false,
                "127.0.0.1:5000/app:v1".into(),
            ),
            (
                "localhost/team/app".into(),
                "localhost",
                "team/app",
                Some("latest"),
                false,
                "localhost/team/app:latest".into(),
            ),
            (
                "localhost:5000/a/b/c".into(),
                "localhost:5000",
                "a/b/c",
                Some("latest"),
                false,
                "localhost:5000/a/b/c:latest".into(),
            ),
            (
                "[::1]:5000/app".into(),
                "[::1]:5000",
                "app",
                Some("latest"),
                false,
                "[::1]:5000/app:latest".into(),
            ),
            (
                format!("ghcr.io/acme/app@{d}"),
                "ghcr.io",
                "acme/app",
                None,
                true,
                format!("ghcr.io/acme/app@{d}"),
            ),
            (
                // HTTPS's default port is dropped and the host lowercased: one spelling.
                format!("Reg.Example.COM:443/x/y:v2@{d}"),
                "reg.example.com",
                "x/y",
                Some("v2"),
                true,
                format!("reg.example.com/x/y@{d}"),
            ),
            (
                // Loopback registries speak plain HTTP: 443 is not their default port.
                "127.0.0.1:443/x".into(),
                "127.0.0.1:443",
                "x",
                Some("latest"),
                false,
                "127.0.0.1:443/x:latest".into(),
            ),
            (
                // A dotless host keeps `:443`: without it the name would be Docker Hub's
                // (fuzz/regressions/image_reference/dotless-host-port-443).
                "Com:443/team/app:1.0".into(),
                "com:443",
                "team/app",
                Some("1.0"),
                false,
                "com:443/team/app:1.0".into(),
            ),
            (
                "DOCKER.IO:443/busybox".into(),
                "index.docker.io",
                "library/busybox",
                Some("latest"),
                false,
                "index.docker.io/library/busybox:latest".into(),
            ),
            (
                "quay.io/a-b__c.d/e---f:TAG_1.0-x".into(),
                "quay.io",
                "a-b__c.d/e---f",
                Some("TAG_1.0-x"),
                false,
                "quay.io/a-b__c.d/e---f:TAG_1.0-x".into(),
            ),
        ];
        for (input, registry, repository, tag, has_digest, display) in table {
            let r = remote(&input);
            assert_eq!(r.registry(), registry, "{input}");
            assert_eq!(r.repository(), repository, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.digest().is_some(), has_digest, "{input}");
            let image = ImageRef::Remote(r.clone());
            assert_eq!(image.to_string(), display, "{input}");
            assert_eq!(image.repository_name(), format!("{registry}/{repository}"));
            // The canonical display parses back to the same pinned/tagged image.
            let again = remote(&display);
            assert_eq!(again.name(), r.name(), "{input}");
            assert_eq!(again.digest(), r.digest(), "{input}");
        }
    }

    /// Every short string over an alphabet of the grammar's special characters: parsing
    /// never panics, and whatever parses displays to a canonical form that parses back to
    /// the same canonical form.
    #[test]
    fn parser_is_total_and_display_is_canonical() {
        let alphabet = ['a', 'B', '0', '.', '-', '_', ':', '/', '@', '[', ']', 'é'];
        // All strings of length 0..=4 over the alphabet.
        let mut inputs = vec![String::new()];
        let mut layer = vec![String::new()];
        for _ in 0..4 {
            layer = layer
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            inputs.extend(layer.iter().cloned());
        }
        let mut parsed = 0;
        for prefix in ["", "oci:", "localhost:5000/"] {
            for s in &inputs {
                let input = format!("{prefix}{s}");
                if let Ok(image) = ImageRef::parse(&input) {
                    parsed += 1;
                    let canonical = image.to_string();
                    let again = ImageRef::parse(&canonical)
                        .unwrap_or_else(|e| panic!("{input} -> {canonical}: {e}"));
                    assert_eq!(again.to_string(), canonical, "{input}");
                    assert_eq!(again.repository_name(), image.repository_name(), "{input}");
                }
            }
        }
        assert!(parsed > 100, "only {parsed} inputs parsed");
    }

    #[test]
    fn with_digest_pins_and_drops_tag() {
        let d: Digest = format!("sha256:{HEX}").parse().unwrap();
        let image = ImageRef::parse("127.0.0.1:5000/app:v1").unwrap();
        let pinned = image.with_digest(d.clone());
        assert_eq!(pinned.digest(), Some(&d));
        assert_eq!(pinned.tag(), None);
        assert_eq!(pinned.to_string(), format!("127.0.0.1:5000/app@{d}"));
        assert_eq!(pinned.repository_name(), "127.0.0.1:5000/app");
        let sig = pinned.with_tag(&format!("{}.sig", d.tag_base()));
        assert_eq!(
            sig.to_string(),
            format!("127.0.0.1:5000/app:sha256-{HEX}.sig")
        );
    }

    #[test]
    fn parses_layout_references() {
        let d = format!("sha256:{HEX}");
        let cases: Vec<(String, &str, Option<&str>, bool)> = vec![
            (
                "oci:testdata/demo-image".into(),
                "testdata/demo-image",
                None,
                false,
            ),
            ("oci:/tmp/x:v1".into(), "/tmp/x", Some("v1"), false),
            (
                "oci:./rel/dir:latest".into(),
                "./rel/dir",
                Some("latest"),
                false,
            ),
            (format!("oci:/tmp/x@{d}"), "/tmp/x", None, true),
        ];
        for (input, path, tag, has_digest) in cases {
            let ImageRef::Layout(l) = ImageRef::parse(&input).unwrap() else {
                panic!("{input} is not a layout");
            };
            assert_eq!(l.path(), path, "{input}");
            assert_eq!(l.tag(), tag, "{input}");
            assert_eq!(l.digest().is_some(), has_digest, "{input}");
            let image = ImageRef::Layout(l);
            assert_eq!(image.repository_name(), path);
            assert_eq!(image.to_string(), input);
        }
    }

    #[test]
    fn rejects_invalid_references() {
        let e = ImageRef::parse("").unwrap_err();
        assert_eq!(e, ReferenceError::Empty);

        for bad in [
            "Busybox",
            "ghcr.io/Acme/app",
            "ghcr.io//app",
            "ghcr.io/app/",
            "a..b",
            "-app",
            "app_",
            "ghcr.io:99999/app",
            "ghcr.io:/app",
            "[::1/app",
            "bad host.io/app",
            "app:a/b",
        ] {
            assert!(
                matches!(
                    ImageRef::parse(bad),
                    Err(ReferenceError::InvalidName { .. })
                ),
                "{bad}: {:?}",
                ImageRef::parse(bad)
            );
        }
        for bad in ["app:", "app:-x", "app:.x", "app:a$b"] {
            assert!(
                matches!(ImageRef::parse(bad), Err(ReferenceError::InvalidTag { .. })),
                "{bad}: {:?}",
                ImageRef::parse(bad)
            );
        }
        let long_tag = format!("app:{}", "a".repeat(129));
        assert!(matches!(
            ImageRef::parse(&long_tag),
            Err(ReferenceError::InvalidTag { .. })
        ));
        let long_name = format!("ghcr.io/{}", "a".repeat(300));
        assert!(matches!(
            ImageRef::parse(&long_name),
            Err(ReferenceError::InvalidName { .. })
        ));
        for bad in [
            "app@sha256:abc",
            "app@sha512:abc",
            "app@",
            "oci:/x@sha256:zz",
        ] {
            assert!(
                matches!(
                    ImageRef::parse(bad),
                    Err(ReferenceError::InvalidDigest { .. })
                ),
                "{bad}: {:?}",
                ImageRef::parse(bad)
            );
        }
        // Would display as `oci:0/layout`, a layout reference
        // (fuzz/regressions/image_reference/uppercase-oci-registry).
        for bad in ["Oci:0/layout", "OCI:5000/x:v1", "oCi:443/x"] {
            assert!(
                matches!(
                    ImageRef::parse(bad),
                    Err(ReferenceError::InvalidName { .. })
                ),
                "{bad}: {:?}",
                ImageRef::parse(bad)
            );
        }
        for bad in ["oci:", "oci::tag", &format!("oci:@sha256:{HEX}")] {
            assert!(
                matches!(
                    ImageRef::parse(bad),
                    Err(ReferenceError::EmptyLayoutPath { .. })
                ),
                "{bad}: {:?}",
                ImageRef::parse(bad)
            );
        }
        // Errors name the reference and say what is wrong.
        let msg = ImageRef::parse("ghcr.io/Acme/app").unwrap_err().to_string();
        assert!(
            msg.contains("ghcr.io/Acme/app") && msg.contains("lowercase"),
            "{msg}"
        );
    }
}
