//! Reading a few fields out of a large JSON document without building a DOM.
//!
//! A `serde_json::Value` of an SBOM is about 5.5 times the file (an `IndexMap` per object, a
//! heap `String` per key and value). The checks read a handful of fields per package, so they
//! deserialize straight from the bytes with the visitors here: strings are borrowed from the
//! input when they have no escapes, everything not asked for is skipped (`Skip`).
//!
//! The readers here are *lenient* exactly as `Value::get(..).and_then(Value::as_str)` is: a
//! field of another JSON kind than the one asked for reads as absent, it is not an error.
//! Only malformed JSON is an error. Duplicate keys: the last one wins, as in a `Value`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The `visit_*` methods of a `Visitor` for the JSON scalars (booleans, numbers, `null`,
/// strings), each returning `Ok($value)`: for the readers here that read only objects or
/// arrays and read any scalar as absent.
macro_rules! scalars_read_as {
    ($value:expr) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}
pub(crate) use scalars_read_as;

/// A value that is skipped but still fully checked, as a `Value` parse checks it: strings
/// are decoded (escapes, surrogates, UTF-8), unlike `serde::de::IgnoredAny`, which lets
/// `serde_json` skip string contents unchecked. A signed document that a DOM parser would
/// refuse must not pass because a field was skipped.
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalars_read_as!(Skip);
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        d.deserialize_any(V)
    }
}

/// How a reader skips the values it does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skipping {
    /// As a `Value` parse checks them ([`Skip`]): for JSON not read before.
    Checked,
    /// With `serde::de::IgnoredAny`, which checks the JSON structure but scans string
    /// contents without decoding them. Only for bytes that were already read in full with
    /// [`Skip`], so that nothing a second read skips can be refused: a verified
    /// attestation's statement, which `format::parse_statement` reads so before the
    /// signature's claims are accepted. The policy checks read a 200 MiB SBOM's statement
    /// this way, once or twice more, at a fraction of the cost.
    Verified,
}

impl Skipping {
    /// Skip the map's next value.
    pub(crate) fn value<'de, A: MapAccess<'de>>(self, map: &mut A) -> Result<(), A::Error> {
        match self {
            Self::Checked => map.next_value::<Skip>().map(|_| ()),
            Self::Verified => map.next_value::<de::IgnoredAny>().map(|_| ()),
        }
    }
}

/// An object key, borrowed when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// What a JSON value of the kind a type reads becomes. Every method has a default that skips
/// the value and reads it as absent (`None`): a type overrides the kinds it reads.
pub(crate) trait Pick<'de>: Sized {
    /// From a JSON string.
    fn from_str(_s: Cow<'de, str>) -> Option<Self> {
        None
    }
    /// From a JSON array.
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(None)
    }
    /// From a JSON object.
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(None)
    }
}

/// `Some` when the JSON value has the kind `T` reads, `None` (the value skipped) otherwise.
pub(crate) struct Opt<T>(pub(crate) Option<T>);

impl<'de, T: Pick<'de>> Deserialize<'de> for Opt<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OptVisitor(PhantomData)).map(Opt)
    }
}

struct OptVisitor<T>(PhantomData<T>);

impl<'de, T: Pick<'de>> Visitor<'de> for OptVisitor<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(T::from_str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(T::from_str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(T::from_str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::from_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map)
    }
}

impl<'de> Pick<'de> for Cow<'de, str> {
    fn from_str(s: Self) -> Option<Self> {
        Some(s)
    }
}

/// An array; an element of another kind than `T` reads becomes `T::default()`, as
/// `element.get(..)` on a non-object `Value` reads every field as absent.
impl<'de, T: Pick<'de> + Default> Pick<'de> for Vec<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let mut out = Self::new();
        while let Some(Opt(item)) = seq.next_element::<Opt<T>>()? {
            out.push(item.unwrap_or_default());
        }
        Ok(Some(out))
    }
}

/// The `predicate` of an in-toto statement, deserialized with `seed` straight from the
/// statement bytes (the rest of the statement is skipped). `Ok(None)`: the statement has no
/// `predicate`. A statement with two `predicate` keys is refused (different JSON readers would
/// see different predicates), as is a statement that is not a JSON object.
pub(crate) fn statement_predicate<'de, S>(
    statement: &'de [u8],
    seed: S,
    skipping: Skipping,
) -> Result<Option<S::Value>, serde_json::Error>
where
    S: DeserializeSeed<'de>,
{
    struct V<S>(S, Skipping);
    impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for V<S> {
        type Value = Option<S::Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an in-toto statement (a JSON object)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut seed = Some(self.0);
            let mut out = None;
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                if k == "predicate" {
                    let Some(s) = seed.take() else {
                        return Err(de::Error::custom(
                            "the statement has more than one `predicate`",
                        ));
                    };
                    out = Some(map.next_value_seed(s)?);
                } else {
                    self.1.value(&mut map)?;
                }
            }
            Ok(out)
        }
    }
    let mut d = serde_json::Deserializer::from_slice(statement);
    let out = d.deserialize_map(V(seed, skipping))?;
    d.end()?;
    Ok(out)
}

/// A seed that reads a JSON value as a `Value` holding only the top-level object keys in
/// `keep` (every other key is skipped without being built); a non-object reads as `null`.
/// For checks that read a few top-level sections of a document that may be huge elsewhere
/// (a vulnerability check on an SBOM reads `vulnerabilities` and `metadata`, never
/// `components`).
pub(crate) struct KeepKeys<'k>(pub(crate) &'k [&'k str], pub(crate) Skipping);

impl<'de> DeserializeSeed<'de> for KeepKeys<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeepKeys<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars_read_as!(Value::Null);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Value::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            if self.0.contains(&k.as_ref()) {
                let v: Value = map.next_value()?;
                out.insert(k.into_owned(), v);
            } else {
                self.1.value(&mut map)?;
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Pkg<'a> {
        name: Option<Cow<'a, str>>,
        tags: Option<Vec<Self>>,
    }

    impl<'de> Pick<'de> for Pkg<'de> {
        fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
            let mut out = Pkg::default();
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                match k.as_ref() {
                    "name" => out.name = map.next_value::<Opt<_>>()?.0,
                    "tags" => out.tags = map.next_value::<Opt<_>>()?.0,
                    _ => {
                        map.next_value::<Skip>()?;
                    }
                }
            }
            Ok(Some(out))
        }
    }

    fn pick(json: &str) -> Option<Pkg<'_>> {
        serde_json::from_str::<Opt<Pkg<'_>>>(json).unwrap().0
    }

    #[test]
    fn lenient_like_value_accessors() {
        let p = pick(r#"{"name":"a","x":[1,{"y":2}],"tags":[{"name":"b"},5,{"name":7}]}"#).unwrap();
        assert_eq!(p.name.as_deref(), Some("a"));
        assert!(matches!(p.name, Some(Cow::Borrowed(_))));
        let tags = p.tags.unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[0].name.as_deref(), Some("b"));
        assert_eq!(tags[1], Pkg::default());
        assert_eq!(tags[2].name, None);
        // Escaped strings are decoded (owned); the last duplicate wins.
        let p = pick(r#"{"name":"x","name":"\u0041\n"}"#).unwrap();
        assert_eq!(p.name.as_deref(), Some("A\n"));
        assert_eq!(pick("[1]"), None);
        assert_eq!(pick("null"), None);
        assert!(serde_json::from_str::<Opt<Pkg<'_>>>(r#"{"name":"a""#).is_err());
    }

    #[test]
    fn statement_predicate_and_kept_keys() {
        let st = br#"{"_type":"t","predicate":{"a":{"b":1},"big":[1,2,3],"c":"d"},"subject":[]}"#;
        let v = statement_predicate(
            st,
            KeepKeys(&["a", "c"], Skipping::Checked),
            Skipping::Checked,
        )
        .unwrap()
        .unwrap();
        assert_eq!(v, serde_json::json!({"a": {"b": 1}, "c": "d"}));
        assert_eq!(
            statement_predicate(
                br#"{"_type":"t"}"#,
                KeepKeys(&["a"], Skipping::Checked),
                Skipping::Checked
            )
            .unwrap(),
            None
        );
        assert_eq!(
            statement_predicate(
                br#"{"predicate":[1]}"#,
                KeepKeys(&["a"], Skipping::Checked),
                Skipping::Checked
            )
            .unwrap(),
            Some(Value::Null)
        );
        let e = statement_predicate(
            br#"{"predicate":{},"predicate":{}}"#,
            KeepKeys(&[], Skipping::Checked),
            Skipping::Checked,
        )
        .unwrap_err();
        assert!(e.to_string().contains("more than one `predicate`"), "{e}");
        assert!(
            statement_predicate(b"[]", KeepKeys(&[], Skipping::Checked), Skipping::Checked)
                .is_err()
        );
        assert!(
            statement_predicate(
                br#"{"predicate":{}} x"#,
                KeepKeys(&[], Skipping::Checked),
                Skipping::Checked
            )
            .is_err()
        );
        // Skipped fields are checked as a `Value` parse checks them.
        assert!(
            statement_predicate(
                br#"{"x":"\ud800","predicate":{}}"#,
                KeepKeys(&[], Skipping::Checked),
                Skipping::Checked
            )
            .is_err()
        );
        assert!(
            statement_predicate(
                b"{\"x\":\"\xff\",\"predicate\":{}}",
                KeepKeys(&[], Skipping::Checked),
                Skipping::Checked
            )
            .is_err()
        );
    }
}
