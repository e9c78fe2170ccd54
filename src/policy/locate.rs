//! Maps a validation field path (`spec.rules[0].signatures.threshold.count`) back to a
//! line and column in the policy source, so load errors point into the file.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A YAML node with the location of every child.
enum Node {
    Map(BTreeMap<String, Spanned<Self>>),
    Seq(Vec<Spanned<Self>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            out.insert(key, value);
        }
        Ok(Node::Map(out))
    }
}

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
                (Node::Map(map), Segment::Key(k)) => map.get(k),
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
    }
}
