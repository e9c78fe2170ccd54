//! A spanned YAML value: every mapping key, value and sequence item with the line and column
//! where it was written, read with serde-saphyr (JSON is YAML, so JSON reads too). Used where
//! a finding or an error must point into the source: image keys of Kubernetes manifests
//! ([`crate::audit::manifest`]) and policy fields (policy load errors and lint).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A YAML node with the location of every key and value.
#[derive(Debug)]
pub(crate) enum Node {
    /// A mapping, entries in source order (duplicates kept).
    Map(Vec<(Spanned<Key>, Spanned<Self>)>),
    /// A sequence.
    Seq(Vec<Spanned<Self>>),
    /// A string scalar.
    Str(String),
    /// `null`, `~` or nothing.
    Null,
    /// Numbers and booleans.
    Other,
}

impl Node {
    /// The last entry for `key` (YAML and JSON readers keep the last of duplicates). A key
    /// the parser resolved to a YAML 1.1 boolean (`on`, `n`, `yes`) is found by any spelling
    /// of that boolean, as the key's own spelling is not kept.
    pub(crate) fn entry(&self, key: &str) -> Option<(&Spanned<Key>, &Spanned<Self>)> {
        let as_bool = yaml11_bool(key).map(|b| b.to_string());
        match self {
            Self::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| {
                    let text = k.value.0.as_deref();
                    text == Some(key) || (as_bool.is_some() && text == as_bool.as_deref())
                })
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The value of the last entry for `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Spanned<Self>> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The text of a string scalar.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The boolean a YAML 1.1 plain scalar spelled `s` resolves to, if any.
fn yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// A mapping key: its text when it is a scalar, `None` for a complex key.
#[derive(Debug)]
pub(crate) struct Key(pub(crate) Option<String>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
        Ok(Key(Some(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
        Ok(Key(Some(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
        Ok(Key(Some(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
        Ok(Key(Some(v.to_string())))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key(Some(v.to_owned())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
        Ok(Key(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Key, E> {
        Ok(Key(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Key, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Key(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Key(None))
    }
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
        Ok(Node::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_carry_their_line_and_column() {
        let yaml = "a: 1\nb:\n  - x\n  - {c: d, e: f}\n? [complex]\n: v\nn: ~\nlabel: z\n";
        let doc: Spanned<Node> = serde_saphyr::from_str(yaml).unwrap();
        let (key, value) = doc.value.entry("b").unwrap();
        assert_eq!((key.referenced.line(), key.referenced.column()), (2, 1));
        let Node::Seq(items) = &value.value else {
            panic!("not a sequence: {value:?}")
        };
        assert_eq!(items[0].value.as_str(), Some("x"));
        assert_eq!(items[0].referenced.line(), 3);
        let (k, v) = items[1].value.entry("e").unwrap();
        assert_eq!(v.value.as_str(), Some("f"));
        assert!(k.referenced.column() > 5, "{:?}", k.referenced);
        assert!(matches!(doc.value.get("a").unwrap().value, Node::Other));
        assert!(
            matches!(doc.value.get("n").map(|n| &n.value), Some(Node::Null)),
            "{doc:?}"
        );
        assert!(doc.value.get("complex").is_none());
        assert_eq!(doc.value.get("label").unwrap().value.as_str(), Some("z"));
        // `n` resolved to `false`: found by its spelling, not by another key's.
        assert!(doc.value.get("no").is_some() && doc.value.get("yes").is_none());
        let Node::Map(entries) = &doc.value else {
            panic!("not a mapping")
        };
        assert!(
            entries.iter().any(|(k, _)| k.value.0.is_none()),
            "{entries:?}"
        );
        assert!(doc.value.get("missing").is_none() && items[0].value.get("x").is_none());
        assert_eq!(doc.value.get("a").unwrap().value.as_str(), None);
    }
}
