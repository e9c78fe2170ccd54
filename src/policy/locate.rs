//! Maps a validation field path (`spec.rules[0].signatures.threshold.count`) back to a
//! line and column in the policy source, so load errors point into the file.

use serde_saphyr::Spanned;

use crate::format::yaml::Node;

/// Line and column (1-based) of the value at `field` (`a.b[0].c`; names may contain `-`),
/// or of its nearest ancestor that exists. `None` if the source cannot be re-read.
pub(crate) fn locate(yaml: &str, field: &str) -> Option<(u64, u64)> {
    Locator::new(yaml).locate(field)
}

/// The source parsed once, for locating many fields (lint).
pub(crate) struct Locator(Option<Spanned<Node>>);

impl Locator {
    /// Parses `yaml` (a source that does not parse locates nothing).
    pub(crate) fn new(yaml: &str) -> Self {
        Self(serde_saphyr::from_str(yaml).ok())
    }

    /// As [`locate`].
    pub(crate) fn locate(&self, field: &str) -> Option<(u64, u64)> {
        let mut current = self.0.as_ref()?;
        let mut best = None;
        for segment in split_path(field) {
            let next = match (&current.value, segment) {
                (Node::Map(_), Segment::Key(k)) => current.value.get(k),
                (Node::Seq(items), Segment::Index(i)) => items.get(i),
                _ => None,
            };
            match next {
                Some(n) => {
                    current = n;
                    let l = n.referenced;
                    if l.line() > 0 {
                        best = Some((l.line(), l.column()));
                    }
                }
                None => break,
            }
        }
        best
    }
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_path(field: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Segment::Key(name));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            if let Ok(i) = stripped[..end].parse() {
                out.push(Segment::Index(i));
            }
            rest = &stripped[end + 1..];
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_fields() {
        let yaml = "spec:\n  rules:\n    - name: a\n    - name: b\n      signatures: {threshold: {count: 3, of: [x]}}\n";
        assert_eq!(locate(yaml, "spec.rules[1].name").map(|l| l.0), Some(4));
        let (line, column) = locate(yaml, "spec.rules[1].signatures.threshold.count").unwrap();
        assert_eq!(line, 5);
        assert!(column > 20, "{column}");
        // Missing leaf: nearest ancestor.
        assert_eq!(locate(yaml, "spec.rules[1].nope").map(|l| l.0), Some(4));
        assert_eq!(locate("a: [", "a"), None);
        // Keys YAML 1.1 reads as booleans are still found by their spelling.
        let yaml = "spec:\n  authorities:\n    on: {static: pass}\n    n: {static: fail}\n";
        assert_eq!(locate(yaml, "spec.authorities.on").map(|l| l.0), Some(3));
        assert_eq!(locate(yaml, "spec.authorities.n").map(|l| l.0), Some(4));
    }
}
