//! JSON text the way Go's `encoding/json` `Marshal` writes it, so that payloads we produce are
//! byte-identical to cosign's.
//!
//! Go differs from `serde_json` in string escaping: it escapes `<`, `>` and `&` as `\u003c`,
//! `\u003e` and `\u0026` (HTML safety), and U+2028 / U+2029 as `\u2028` / `\u2029`. Control
//! characters use the short forms `\n`, `\r`, `\t`, `\b`, `\f` (Go ≥ 1.22) and `\u00XX`
//! otherwise. Everything else, including non-ASCII text and DEL, is written as UTF-8.

use serde_json::Value;

/// Bytes that start something [`write_string`] must escape: control characters, `"`, `\\`,
/// `<`, `>`, `&`, and 0xE2 (the first byte of U+2028 and U+2029, checked further).
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xE2] = true;
    t
};

/// Appends `s` as a Go-escaped JSON string literal (with the quotes) to `out`. Runs of bytes
/// that need no escape are copied whole (an SBOM is almost all such runs).
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !SPECIAL[b as usize] {
            i += 1;
            continue;
        }
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0xE2 => match bytes.get(i + 1..i + 3) {
                // U+2028 and U+2029 (E2 80 A8 / E2 80 A9).
                Some([0x80, 0xA8]) => b"\\u2028",
                Some([0x80, 0xA9]) => b"\\u2029",
                _ => {
                    i += 1;
                    continue;
                }
            },
            _ => &[],
        };
        out.extend_from_slice(&bytes[run..i]);
        if escape.is_empty() {
            // `<`, `>`, `&` and the other control characters: `\u00XX`.
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
            i += 1;
        } else {
            out.extend_from_slice(escape);
            i += if b == 0xE2 { 3 } else { 1 };
        }
        run = i;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// Appends `v` as compact JSON with Go string escaping. Object keys are written in the order the
/// value holds them (`serde_json` is built with `preserve_order`, so that is document order);
/// call [`sorted`] first to get Go's map order.
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Why [`transcode_object`] did not produce output.
#[derive(Debug)]
pub(crate) enum TranscodeError {
    /// Not JSON, not an object at the top, or an object with a repeated key (whose
    /// `Value`-based rewriting keeps only the last): callers fall back to the `Value` path,
    /// which reports or resolves these exactly as before.
    Unsupported,
}

/// Rewrites the JSON object in `input` as [`write_value`] would write its `serde_json::Value`
/// (compact, document key order, Go string escaping, numbers as `serde_json` prints them),
/// without building the `Value`: one streaming pass from the bytes into the output. Also
/// returns the top level as a shallow map, for checks of its fields: strings, numbers, bools
/// and nulls as they are, arrays and objects as empty ones of the same kind.
///
/// The output is exactly `write_value(serde_json::from_slice(input))` for every input it
/// accepts; it refuses ([`TranscodeError::Unsupported`]) the ones where that would differ or
/// fail: malformed JSON, a non-object top level, and repeated keys in any object.
pub(crate) fn transcode_object(
    input: &[u8],
) -> Result<(Vec<u8>, serde_json::Map<String, Value>), TranscodeError> {
    use serde::de::DeserializeSeed as _;
    // Compact output is at most the input's length plus Go's extra escapes; reserving the
    // input's length costs no memory until written (the pages are touched as they fill).
    let mut out = Vec::with_capacity(input.len());
    let mut d = serde_json::Deserializer::from_slice(input);
    let top = transcode::Top { out: &mut out }
        .deserialize(&mut d)
        .map_err(|_| TranscodeError::Unsupported)?;
    d.end().map_err(|_| TranscodeError::Unsupported)?;
    let top = top.ok_or(TranscodeError::Unsupported)?;
    out.shrink_to_fit();
    Ok((out, top))
}

mod transcode {
    use std::borrow::Cow;
    use std::collections::HashSet;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    use super::write_string;
    use crate::format::pick::Key;

    /// The top level: an object, transcoded, with its shallow map; `None` for any other kind.
    pub(super) struct Top<'o> {
        pub(super) out: &'o mut Vec<u8>,
    }

    impl<'de> DeserializeSeed<'de> for Top<'_> {
        type Value = Option<Map<String, Value>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Top<'_> {
        type Value = Option<Map<String, Value>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        crate::format::pick::scalars_read_as!(None);
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut shallow = Map::new();
            self.out.push(b'{');
            let mut keys = Keys::default();
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                if !keys.insert(&k) {
                    return Err(de::Error::custom("repeated key"));
                }
                if !shallow.is_empty() {
                    self.out.push(b',');
                }
                write_string(self.out, &k);
                self.out.push(b':');
                let v = map.next_value_seed(Any {
                    out: &mut *self.out,
                    keep: true,
                })?;
                shallow.insert(k.into_owned(), v);
            }
            self.out.push(b'}');
            Ok(Some(shallow))
        }
    }

    /// The keys seen in one object, to refuse repeats. Most objects have a few keys: a short
    /// list compared in place; a long one switches to a set.
    #[derive(Default)]
    struct Keys<'de> {
        few: Vec<Cow<'de, str>>,
        many: Option<HashSet<Cow<'de, str>>>,
    }

    impl<'de> Keys<'de> {
        // The `Cow` is stored: a borrowed key is copied as a pointer, not as text.
        #[allow(clippy::ptr_arg)]
        fn insert(&mut self, k: &Cow<'de, str>) -> bool {
            if let Some(set) = &mut self.many {
                return set.insert(k.clone());
            }
            if self.few.iter().any(|x| x == k) {
                return false;
            }
            self.few.push(k.clone());
            if self.few.len() > 16 {
                self.many = Some(self.few.drain(..).collect());
            }
            true
        }
    }

    /// Any value below the top: transcoded; `keep` (a top-level value) also returns its
    /// shallow form, otherwise `null` (nothing is built).
    struct Any<'o> {
        out: &'o mut Vec<u8>,
        keep: bool,
    }

    impl<'de> DeserializeSeed<'de> for Any<'_> {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Any<'_> {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
            self.out
                .extend_from_slice(if v { b"true" } else { b"false" });
            Ok(if self.keep {
                Value::Bool(v)
            } else {
                Value::Null
            })
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
            self.number(Number::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
            self.number(Number::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            // As `Value` does: a finite float is a number (JSON text has no other kind).
            match Number::from_f64(v) {
                Some(n) => self.number(n),
                None => {
                    self.out.extend_from_slice(b"null");
                    Ok(Value::Null)
                }
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
            self.out.extend_from_slice(b"null");
            Ok(Value::Null)
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Value, E> {
            self.visit_str(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
            write_string(self.out, v);
            Ok(if self.keep {
                Value::String(v.to_owned())
            } else {
                Value::Null
            })
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            self.out.push(b'[');
            let mut first = true;
            loop {
                let mark = self.out.len();
                if !first {
                    self.out.push(b',');
                }
                let item = seq.next_element_seed(Any {
                    out: &mut *self.out,
                    keep: false,
                })?;
                if item.is_none() {
                    self.out.truncate(mark);
                    break;
                }
                first = false;
            }
            self.out.push(b']');
            Ok(if self.keep {
                Value::Array(Vec::new())
            } else {
                Value::Null
            })
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            self.out.push(b'{');
            let mut keys = Keys::default();
            let mut first = true;
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                if !keys.insert(&k) {
                    return Err(de::Error::custom("repeated key"));
                }
                if !first {
                    self.out.push(b',');
                }
                first = false;
                write_string(self.out, &k);
                self.out.push(b':');
                map.next_value_seed(Any {
                    out: &mut *self.out,
                    keep: false,
                })?;
            }
            self.out.push(b'}');
            Ok(if self.keep {
                Value::Object(Map::new())
            } else {
                Value::Null
            })
        }
    }

    impl Any<'_> {
        fn number<E>(self, n: Number) -> Result<Value, E> {
            self.out.extend_from_slice(n.to_string().as_bytes());
            Ok(if self.keep {
                Value::Number(n)
            } else {
                Value::Null
            })
        }
    }
}

/// `v` with every object's keys sorted by byte order, recursively: the order Go uses when it
/// marshals a `map[string]any`.
#[cfg(test)]
fn sorted(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, item)| (k.clone(), sorted(item)))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// `v` as compact Go-style JSON bytes (see [`write_value`]).
#[cfg(test)]
fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v);
    out
}

/// Serialize like Go's `json.Marshal`: compact, HTML-escaped, U+2028/2029 escaped.
pub fn to_go_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // serde_json output of our own types cannot fail (string keys, no non-finite floats).
    let compact = match serde_json::to_string(value) {
        Ok(s) => s,
        Err(e) => unreachable!("serializing an in-memory value failed: {e}"),
    };
    go_escape(&compact).into_bytes()
}

/// Apply Go's extra escapes to already-serialized compact JSON. `<`, `>`, `&`, U+2028 and
/// U+2029 can only occur inside JSON strings, so replacing them textually is exact.
pub(crate) fn go_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The char-by-char escaper [`write_string`] replaced, as the reference it must equal.
    fn write_string_by_char(out: &mut Vec<u8>, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(b'"');
        for c in s.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\u{8}' => out.extend_from_slice(b"\\b"),
                '\u{c}' => out.extend_from_slice(b"\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    let code = c as u32;
                    out.extend_from_slice(b"\\u");
                    for shift in [12u32, 8, 4, 0] {
                        out.push(HEX[((code >> shift) & 0xf) as usize]);
                    }
                }
                c if (c as u32) < 0x20 => {
                    let code = c as u32;
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[((code >> 4) & 0xf) as usize]);
                    out.push(HEX[(code & 0xf) as usize]);
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        out.push(b'"');
    }

    #[test]
    fn run_copying_escaper_equals_the_char_by_char_one() {
        let mut samples: Vec<String> = vec![
            String::new(),
            "plain ascii text".into(),
            "<a href=\"x\">&amp;</a>".into(),
            "tab\tnl\ncr\rbs\u{8}ff\u{c}nul\u{0}us\u{1f}del\u{7f}".into(),
            "\u{2028}\u{2029}\u{2027}\u{202a}\u{20ac}€—‘’".into(),
            "é日本語🦀\\\"".into(),
            "\u{e2}\u{80}".into(),
        ];
        // Every code point up to U+3000, and each at the start, middle and end of a run.
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        samples.push(all);
        for c in (0u32..0x300)
            .chain(0x2020..0x2030)
            .filter_map(char::from_u32)
        {
            samples.push(format!("{c}ab{c}cd{c}"));
        }
        for s in &samples {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            write_string(&mut fast, s);
            write_string_by_char(&mut slow, s);
            assert_eq!(fast, slow, "{s:?}");
        }
    }

    fn s(x: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    fn via_value(input: &str) -> Vec<u8> {
        to_vec(&serde_json::from_str::<Value>(input).unwrap())
    }

    #[test]
    fn transcoding_equals_writing_the_value() {
        for input in [
            r#"{}"#,
            r#"{"a":1}"#,
            "{\n  \"z\": [1, -2, 3.5, 1e3, 1.0, -0, 0.1, 12345678901234567890, -9223372036854775808],\n  \"a\": {\"<&>\": \"\\u00e9\\u2028\\/\\\"x\\\\\\n\\u0001\\ud83d\\ude00\", \"e\": [], \"o\": {}},\n  \"t\": true, \"f\": false, \"n\": null, \"s\": \"plain\"\n}\n",
            r#"{"deep":[[[{"k":[{"x":[]}]}]]],"u":"\u003cscript\u003e"}"#,
            r#"{"many":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18}}"#,
        ] {
            let (out, shallow) = transcode_object(input.as_bytes()).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(via_value(input)).unwrap(),
                "{input}"
            );
            let v: Value = serde_json::from_str(input).unwrap();
            let obj = v.as_object().unwrap();
            assert_eq!(shallow.len(), obj.len());
            for (k, item) in obj {
                let expect = match item {
                    Value::Array(_) => Value::Array(Vec::new()),
                    Value::Object(_) => Value::Object(serde_json::Map::new()),
                    other => other.clone(),
                };
                assert_eq!(shallow[k], expect, "{k}");
            }
        }
    }

    #[test]
    fn transcoding_refuses_what_the_value_path_must_decide() {
        for input in [
            r#"[1]"#,
            r#""s""#,
            r#"{"a":1"#,
            r#"{"a":1} x"#,
            r#"{"a":1,"a":2}"#,
            r#"{"o":{"b":1,"b":1}}"#,
            r#"{"l":[{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":18}]}"#,
            r#"{"\u0061":1,"a":2}"#,
        ] {
            assert!(transcode_object(input.as_bytes()).is_err(), "{input}");
        }
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(s("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(s("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(s("q\"\\"), r#""q\"\\""#);
        assert_eq!(
            s("\n\r\t\u{8}\u{c}\u{1}\u{1f}"),
            r#""\n\r\t\b\f\u0001\u001f""#
        );
        assert_eq!(s("é\u{7f}/"), "\"é\u{7f}/\"");
    }

    #[test]
    fn sorts_maps_like_go() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"z":1,"y":2}],"c":null},"B":true}"#).unwrap();
        assert_eq!(
            String::from_utf8(to_vec(&sorted(&v))).unwrap(),
            r#"{"B":true,"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}"#
        );
    }
}
