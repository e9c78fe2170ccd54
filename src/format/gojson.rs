//! JSON text the way Go's `encoding/json` `Marshal` writes it, so that payloads we produce are
//! byte-identical to cosign's.
//!
//! Go differs from `serde_json` in string escaping: it escapes `<`, `>` and `&` as `\u003c`,
//! `\u003e` and `\u0026` (HTML safety), and U+2028 / U+2029 as `\u2028` / `\u2029`. Control
//! characters use the short forms `\n`, `\r`, `\t`, `\b`, `\f` (Go ≥ 1.22) and `\u00XX`
//! otherwise. Everything else, including non-ASCII text and DEL, is written as UTF-8.

use serde_json::Value;

/// Appends `s` as a Go-escaped JSON string literal (with the quotes) to `out`.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
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

    fn s(x: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, x);
        String::from_utf8(out).unwrap()
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
