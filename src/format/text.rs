//! Text from outside the process (registries, attachments, certificates) made safe to print on a
//! terminal.
//!
//! A registry operator or anyone with push access controls tag names, annotations, error bodies
//! and certificate identities. Printed raw, an escape sequence (`ESC [2J`) rewrites the screen, a
//! carriage return or newline forges a line such as `Verified OK`, and a bidi override
//! (U+202E) makes text read differently from its bytes. [`for_terminal`] replaces each such
//! character with a visible escape (`\u{1b}`, `\n`), so a reader sees that something was there.
//!
//! JSON output does not go through this: serde_json already escapes control characters, and
//! JSON consumers get the exact data (bidi characters included) to judge themselves.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: control characters (C0, DEL, C1) and the
/// invisible formatting characters that reorder or hide text (bidi marks, embeddings,
/// overrides and isolates, zero-width characters, the byte-order mark, interlinear
/// annotation).
///
/// Hand-written: the set is short and fixed (Unicode's Bidi_Control and Default_Ignorable
/// format characters that matter for display), and a Unicode-properties crate for it would be
/// a new dependency for a dozen ranges.
pub fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'              // soft hyphen (invisible)
            | '\u{061C}'            // Arabic letter mark
            | '\u{180E}'            // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}' // line/paragraph separator, LRE, RLE, PDF, LRO, RLO
            | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, LRI..PDI, deprecated
            | '\u{FEFF}'            // byte-order mark / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        )
}

/// `s` with every character for which [`is_unsafe_for_terminal`] holds written as a visible
/// escape: `\n`, `\r` and `\t` as such, every other one as `\u{…}` (Rust's notation). Borrows
/// when there is nothing to escape.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe_for_terminal) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_for_terminal(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Multi-line text built by this program (a table, a report) whose lines may carry outside
/// text: each line escaped with [`for_terminal`], the line breaks kept.
pub fn lines_for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&for_terminal(line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "registry.acme.io/payments/api:v1 — ünïcödé ok";
        assert!(matches!(for_terminal(s), Cow::Borrowed(t) if t == s));
    }

    #[test]
    fn control_characters_are_escaped_visibly() {
        assert_eq!(
            for_terminal("a\x1b[2Jb\rc\nOK\u{7f}\u{9b}\0"),
            "a\\u{1b}[2Jb\\rc\\nOK\\u{7f}\\u{9b}\\u{0}"
        );
    }

    #[test]
    fn bidi_and_invisible_characters_are_escaped() {
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}',
            '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{200B}', '\u{FEFF}',
        ] {
            let s = format!("x{c}y");
            let e = for_terminal(&s);
            assert!(!e.contains(c), "{c:?} kept");
            assert_eq!(e, format!("x{}y", c.escape_unicode()));
        }
    }

    #[test]
    fn lines_keep_their_breaks_but_lose_escapes() {
        assert_eq!(
            lines_for_terminal("IMAGE\nimg\u{202E}x \x1b[31m\n"),
            "IMAGE\nimg\\u{202e}x \\u{1b}[31m\n"
        );
    }
}
