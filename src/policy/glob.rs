//! Image patterns: policy-controller style globs over normalised image references.
//!
//! * `*` matches within one path segment (never `/`); `**` as a whole segment (`a/**`,
//!   `**/b`, `a/**/b`) crosses segments; `?` is one non-`/` character; `[abc]` and `{a,b}`
//!   work as in globset.
//! * `:` is not a separator, so `repo:*` (or `repo:**`) matches any tag.
//! * Docker Hub names are normalised before matching. Images arrive parsed
//!   ([`ImageRef`], which already normalises `busybox` → `index.docker.io/library/busybox` and
//!   `docker.io` → `index.docker.io`); [`NormalisedImage`] only adds `registry-1.docker.io` →
//!   `index.docker.io`. Patterns get the same normalisation from their text.
//! * A pattern matches an image if it matches its repository (`host/path`), its reference as
//!   given (`host/path:tag` or `host/path@sha256:…`) or its digest form (`host/path@sha256:…`).
//!   So `registry.acme.io/payments/**` covers every tag and digest under `payments/`.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::format::reference::{
    DOCKER_HUB_REGISTRY as DOCKER_HUB, ImageRef, canonical_registry, is_docker_hub,
    is_registry_host,
};

/// A compiled image pattern.
#[derive(Debug, Clone)]
pub struct ImagePattern {
    source: String,
    normalised: String,
    matcher: GlobMatcher,
}

impl ImagePattern {
    /// Compiles a pattern; the error says why globset rejected it. An `oci:PATH` pattern
    /// with a relative path is taken relative to the current directory.
    pub fn new(pattern: &str) -> Result<Self, String> {
        Self::new_in(pattern, Path::new("."))
    }

    /// Compiles a pattern whose relative `oci:PATH` is relative to `base` (the policy file's
    /// directory, as for key files). Layout patterns are matched as absolute paths, and
    /// layout images are resolved the same way, so a policy works from any directory.
    pub fn new_in(pattern: &str, base: &Path) -> Result<Self, String> {
        let trimmed = pattern.trim();
        if trimmed.is_empty() {
            return Err("empty image pattern".into());
        }
        let normalised = match trimmed.strip_prefix("oci:") {
            Some(path) => format!("oci:{}", layout_pattern_path(path, base)),
            None => normalise_pattern(trimmed),
        };
        let glob = GlobBuilder::new(&normalised)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("invalid image pattern `{pattern}`: {}", e.kind()))?;
        Ok(Self {
            source: pattern.to_string(),
            normalised,
            matcher: glob.compile_matcher(),
        })
    }

    /// The pattern as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The pattern after Docker Hub normalisation.
    pub fn normalised(&self) -> &str {
        &self.normalised
    }

    /// Whether the pattern matches `text` (a normalised name, or another pattern's text).
    pub(crate) fn matches_text(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }

    /// Whether the pattern matches any of the image's candidate names.
    pub fn matches(&self, image: &NormalisedImage) -> bool {
        image
            .candidates()
            .iter()
            .any(|candidate| self.matcher.is_match(candidate))
    }
}

/// An image reference split into the parts patterns are matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalisedImage {
    /// `host/path`, normalised.
    pub repository: String,
    /// The tag, if the reference had one.
    pub tag: Option<String>,
    /// The digest (`sha256:…`), if the reference had one or it was resolved.
    pub digest: Option<String>,
}

impl From<&ImageRef> for NormalisedImage {
    fn from(image: &ImageRef) -> Self {
        Self::new(image)
    }
}

impl NormalisedImage {
    /// The parts of a parsed reference. A registry image is `registry/repository` (Docker Hub
    /// as `index.docker.io`, also when written `registry-1.docker.io`); an OCI layout image is
    /// `oci:PATH`.
    pub fn new(image: &ImageRef) -> Self {
        let repository = match image {
            ImageRef::Remote(r) if is_docker_hub(r.registry()) => {
                if r.repository().contains('/') {
                    format!("{DOCKER_HUB}/{}", r.repository())
                } else {
                    format!("{DOCKER_HUB}/library/{}", r.repository())
                }
            }
            ImageRef::Remote(r) => r.name(),
            ImageRef::Layout(l) => format!("oci:{}", absolute_layout_path(l.path())),
        };
        Self {
            repository,
            tag: image.tag().map(str::to_owned),
            digest: image.digest().map(ToString::to_string),
        }
    }

    /// Adds (or replaces) the resolved digest.
    pub fn with_digest(mut self, digest: &str) -> Self {
        self.digest = Some(digest.to_string());
        self
    }

    /// The full normalised reference: `repo:tag@digest`, `repo:tag` or `repo@digest`.
    pub fn full(&self) -> String {
        let mut out = self.repository.clone();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// The registry host (first segment).
    pub fn registry(&self) -> &str {
        self.repository
            .split_once('/')
            .map_or(self.repository.as_str(), |(host, _)| host)
    }

    /// The repository path without the registry host.
    pub fn path(&self) -> &str {
        self.repository.split_once('/').map_or("", |(_, path)| path)
    }

    fn candidates(&self) -> Vec<String> {
        let mut out = vec![self.repository.clone()];
        if let Some(tag) = &self.tag {
            out.push(format!("{}:{tag}", self.repository));
        }
        if let Some(digest) = &self.digest {
            out.push(format!("{}@{digest}", self.repository));
        }
        out
    }
}

/// A layout image's path as patterns see it: absolute, symlinks resolved when it exists,
/// else `.`/`..` removed lexically.
fn absolute_layout_path(path: &str) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
    let resolved = std::fs::canonicalize(&abs).unwrap_or_else(|_| lexical(&abs));
    resolved.to_string_lossy().into_owned()
}

/// A layout pattern's path: absolute ones as written, relative ones joined to `base` (itself
/// resolved like an image path), `.`/`..` removed lexically; glob characters are untouched.
fn layout_pattern_path(path: &str, base: &Path) -> String {
    if Path::new(path).is_absolute() {
        return lexical(Path::new(path)).to_string_lossy().into_owned();
    }
    let base = absolute_layout_path(&base.to_string_lossy());
    lexical(&Path::new(&base).join(path))
        .to_string_lossy()
        .into_owned()
}

/// `path` with `.` removed and `..` applied to what precedes it (no file system access).
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn normalise_pattern(pattern: &str) -> String {
    let first = pattern.split('/').next().unwrap_or(pattern);
    // A pattern whose first segment is itself a glob (`*`, `**`, `*.acme.io`, `{a,b}`) is
    // taken literally, but for the case of a host-like segment: we cannot know whether it
    // means a host, and hosts are matched in lowercase.
    if first.contains(['*', '?', '[', '{']) {
        if pattern.contains('/') && is_registry_host(first) {
            let rest = &pattern[first.len()..];
            return format!("{}{rest}", first.to_ascii_lowercase());
        }
        return pattern.to_string();
    }
    // The host as references spell it (`REGISTRY.ACME.IO`, `registry.acme.io:443` →
    // `registry.acme.io`), so a rule cannot be escaped by another spelling of its registry.
    let canonical;
    let pattern = match pattern.split_once('/') {
        Some((host, rest)) if is_registry_host(host) => {
            canonical = format!("{}/{rest}", canonical_registry(host));
            canonical.as_str()
        }
        _ => pattern,
    };
    if !pattern.contains('/') {
        // `busybox`, `busybox:*`: a Docker Hub official image.
        return format!("{DOCKER_HUB}/library/{pattern}");
    }
    let (first, rest) = pattern.split_once('/').unwrap_or((pattern, ""));
    if is_docker_hub(first) {
        if rest.contains('/') || rest.contains(['*', '?', '[', '{']) {
            format!("{DOCKER_HUB}/{rest}")
        } else {
            format!("{DOCKER_HUB}/library/{rest}")
        }
    } else if is_registry_host(first) {
        pattern.to_string()
    } else {
        format!("{DOCKER_HUB}/{pattern}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const HEX: &str = "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff";

    fn image(reference: &str) -> NormalisedImage {
        NormalisedImage::new(&ImageRef::parse(reference).unwrap())
    }

    fn m(pattern: &str, reference: &str) -> bool {
        ImagePattern::new(pattern)
            .unwrap()
            .matches(&image(reference))
    }

    #[test]
    fn docker_hub_normalisation() {
        assert_eq!(
            image("busybox").full(),
            "index.docker.io/library/busybox:latest"
        );
        assert_eq!(
            image("docker.io/acme/app:v1").full(),
            "index.docker.io/acme/app:v1"
        );
        assert_eq!(
            image("docker.io/busybox").full(),
            "index.docker.io/library/busybox:latest"
        );
        assert_eq!(
            image("registry-1.docker.io/busybox:1").full(),
            "index.docker.io/library/busybox:1"
        );
        assert_eq!(
            image("registry-1.docker.io/acme/app").repository,
            "index.docker.io/acme/app"
        );
        assert_eq!(image("acme/app").repository, "index.docker.io/acme/app");
        assert_eq!(image("localhost:5000/a/b:t").full(), "localhost:5000/a/b:t");
        assert_eq!(image("oci:/tmp/x:v1").full(), "oci:/tmp/x:v1");
        let with_digest = image(&format!("ghcr.io/a/b@sha256:{HEX}"));
        assert_eq!(
            with_digest.digest.as_deref(),
            Some(format!("sha256:{HEX}").as_str())
        );
        assert_eq!(with_digest.tag, None);
        assert_eq!(with_digest.registry(), "ghcr.io");
        assert_eq!(with_digest.path(), "a/b");
    }

    /// Regression: `REGISTRY.ACME.IO/payments/api` and `registry.acme.io:443/payments/api`
    /// reach the same registry as `registry.acme.io/payments/api` but escaped its rule.
    #[test]
    fn every_spelling_of_a_registry_meets_its_rule() {
        for image in [
            "registry.acme.io/payments/api:v1",
            "REGISTRY.ACME.IO/payments/api:v1",
            "Registry.Acme.Io:443/payments/api",
            "registry.acme.io:443/payments/api@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            for pattern in [
                "registry.acme.io/payments/**",
                "REGISTRY.acme.io/payments/*",
                "registry.acme.io:443/payments/api",
                "*.ACME.IO/payments/**",
            ] {
                assert!(m(pattern, image), "{pattern} must match {image}");
            }
        }
        // Another port is another registry.
        assert!(!m(
            "registry.acme.io/payments/**",
            "registry.acme.io:5000/payments/api"
        ));
        assert!(!m(
            "registry.acme.io:5000/payments/**",
            "registry.acme.io/payments/api"
        ));
        // Docker Hub, however it is spelled.
        for image in [
            "busybox",
            "DOCKER.IO/library/busybox",
            "docker.io:443/busybox",
            "Index.Docker.Io/library/busybox:1",
            "registry-1.docker.io:443/library/busybox",
        ] {
            for pattern in [
                "busybox",
                "docker.io/library/busybox:*",
                "INDEX.DOCKER.IO/library/**",
            ] {
                let matched = m(pattern, image) || m(&format!("{pattern}:*"), image);
                assert!(matched, "{pattern} must match {image}");
            }
        }
    }

    #[test]
    fn star_stays_in_segment() {
        assert!(m(
            "registry.acme.io/payments/*",
            "registry.acme.io/payments/api:v1"
        ));
        assert!(!m(
            "registry.acme.io/payments/*",
            "registry.acme.io/payments/team/api:v1"
        ));
        assert!(m(
            "registry.acme.io/payments/**",
            "registry.acme.io/payments/team/api:v1"
        ));
        assert!(!m(
            "registry.acme.io/payments/**",
            "registry.acme.io/other/api"
        ));
    }

    #[test]
    fn colon_is_not_a_separator() {
        assert!(m("ghcr.io/a/b:**", "ghcr.io/a/b:v1.2"));
        assert!(m("ghcr.io/a/b:v1.*", "ghcr.io/a/b:v1.2"));
        assert!(!m("ghcr.io/a/b:v1.*", "ghcr.io/a/b:v2.0"));
        assert!(!m("ghcr.io/a/b:*", "ghcr.io/a/bc:v1"));
    }

    #[test]
    fn docker_hub_patterns_match_short_names() {
        assert!(m("busybox", "busybox"));
        assert!(m("busybox", "docker.io/library/busybox:1.36"));
        assert!(m("index.docker.io/library/*", "busybox:latest"));
        assert!(m("docker.io/acme/*", "acme/app"));
        assert!(!m("busybox", "acme/busybox"));
    }

    #[test]
    fn digest_references_match() {
        assert!(m("ghcr.io/a/**", &format!("ghcr.io/a/b@sha256:{HEX}")));
        assert!(m(
            "ghcr.io/a/b@sha256:*",
            &format!("ghcr.io/a/b@sha256:{HEX}")
        ));
        let resolved = image("ghcr.io/a/b:v1").with_digest(&format!("sha256:{HEX}"));
        assert!(
            ImagePattern::new(&format!("ghcr.io/a/b@sha256:{HEX}"))
                .unwrap()
                .matches(&resolved)
        );
    }

    #[test]
    fn match_everything_and_bad_globs() {
        assert!(m("**", "ghcr.io/a/b:v1"));
        assert!(m("*.acme.io/**", "registry.acme.io/x/y"));
        assert!(ImagePattern::new("ghcr.io/a/[b").is_err());
        assert!(ImagePattern::new("  ").is_err());
    }

    #[test]
    fn layout_patterns_and_images_are_absolute() {
        let base = std::env::temp_dir().join("imprint-glob-base");
        std::fs::create_dir_all(&base).unwrap();
        let base = std::fs::canonicalize(&base).unwrap();
        let p = ImagePattern::new_in("oci:../layouts/app**", &base.join("policies")).unwrap();
        assert_eq!(
            p.normalised(),
            format!("oci:{}/layouts/app**", base.display())
        );
        let img = ImageRef::parse(&format!("oci:{}/layouts/./app:v1", base.display())).unwrap();
        assert!(p.matches(&NormalisedImage::new(&img)));
        let other = ImageRef::parse(&format!("oci:{}/elsewhere/app:v1", base.display())).unwrap();
        assert!(!p.matches(&NormalisedImage::new(&other)));
        // Absolute patterns are kept (lexically normalised).
        let abs = ImagePattern::new_in("oci:/srv/x/../images/**", &base).unwrap();
        assert_eq!(abs.normalised(), "oci:/srv/images/**");
    }
}
