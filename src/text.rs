//! Text from the system, made safe: attacker-controlled text (process names,
//! file names, log lines) must never drive the terminal, so control
//! characters and bidi overrides become visible escapes before anything is
//! printed; bytes that are not UTF-8 keep every byte. Depends on nothing, so
//! every layer may use it.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters that reorder or break text on a terminal or in a viewer
/// without being control characters: bidi marks, overrides and isolates
/// (U+061C ARABIC LETTER MARK included) and the Unicode line and paragraph
/// separators.
fn is_format_trick(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}'
        | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

/// Control characters (C0, DEL and C1) and the format tricks above.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_format_trick(c)
}

/// Escapes control characters: `\n` → `\\n`, ESC → `\\x1b`, U+202E → `\\u{202e}`.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text safe in a Markdown table cell: terminal escapes as [`escape`], and
/// everything that would end the cell, open code or HTML, or make a link or
/// image (`![t](http://…)`, `[x](javascript:…)`: no link without its
/// brackets) escaped, so the rendered report shows the attacker's text as
/// text.
pub fn markdown_cell(s: &str) -> String {
    let e = escape(s);
    let mut out = String::with_capacity(e.len() + 8);
    for c in e.chars() {
        match c {
            '|' | '`' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            c => out.push(c),
        }
    }
    out
}

/// The `--json` policy: strings keep their exact value, but C1 controls
/// (U+0080–U+009F, which some terminals obey as escape sequences), bidi
/// controls and U+2028/U+2029 are written as `\uXXXX` escapes. A JSON
/// reader gets the same string back; a terminal shows inert text. (C0
/// controls are already escaped by every JSON encoder.) Wraps the writer
/// the JSON encoder writes to.
pub struct JsonSafe<W: std::io::Write>(pub W);

impl<W: std::io::Write> std::io::Write for JsonSafe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The encoder writes whole characters; anything else passes as is.
        let Ok(text) = std::str::from_utf8(buf) else {
            return self.0.write_all(buf).map(|_| buf.len());
        };
        if !text.chars().any(|c| (c as u32) >= 0x80 && needs_escape(c)) {
            return self.0.write_all(buf).map(|_| buf.len());
        }
        let mut out = String::with_capacity(text.len() + 16);
        for c in text.chars() {
            if (c as u32) >= 0x80 && needs_escape(c) {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                out.push(c);
            }
        }
        self.0.write_all(out.as_bytes()).map(|_| buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A JSON text made safe the same way as [`JsonSafe`].
pub fn json_safe(json: &str) -> String {
    let mut out = Vec::new();
    let _ = std::io::Write::write_all(&mut JsonSafe(&mut out), json.as_bytes());
    String::from_utf8(out).unwrap_or_default()
}

/// Bytes that may not be UTF-8 (a file name, a cmdline argument) as a string
/// that keeps every byte: invalid sequences become `\xNN`.
pub fn lossless(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(escape("x\ny"), "x\\ny");
        assert_eq!(escape("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn format_tricks_and_markdown() {
        for c in ['\u{061c}', '\u{2028}', '\u{2029}', '\u{9b}'] {
            assert!(
                escape(&format!("a{c}b")).contains("\\u{")
                    || escape(&format!("a{c}b")).contains("\\x")
            );
        }
        assert_eq!(markdown_cell("![t](http://x)"), "!\\[t\\](http://x)");
        assert_eq!(
            markdown_cell("[x](javascript:alert)"),
            "\\[x\\](javascript:alert)"
        );
        assert_eq!(markdown_cell("a|b<c"), "a\\|b&lt;c");
    }

    #[test]
    fn json_policy_escapes_c1_and_bidi_losslessly() {
        let v = serde_json::json!({ "name": "a\u{9b}31m\u{202e}b\u{2028}c\u{061c}é\x1b" });
        let text = json_safe(&v.to_string());
        assert!(text.is_ascii() || text.contains('é'));
        assert!(
            !text.chars().any(|c| (c as u32) >= 0x80 && needs_escape(c)),
            "{text}"
        );
        assert!(text.contains("\\u009b") && text.contains("\\u202e") && text.contains("\\u2028"));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn lossless_keeps_invalid_bytes() {
        assert_eq!(lossless(b"ok\xffname"), "ok\\xffname");
    }
}
