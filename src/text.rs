//! Text from the system, made safe: attacker-controlled text (process names,
//! file names, log lines) must never drive the terminal, so control
//! characters and bidi overrides become visible escapes before anything is
//! printed; bytes that are not UTF-8 keep every byte. Depends on nothing, so
//! every layer may use it.

use std::borrow::Cow;
use std::fmt::Write;

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
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
    fn lossless_keeps_invalid_bytes() {
        assert_eq!(lossless(b"ok\xffname"), "ok\\xffname");
    }
}
