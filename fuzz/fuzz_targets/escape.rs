//! The escaping every path to a terminal goes through: whatever goes in,
//! nothing that drives a terminal comes out, and --json stays lossless.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = hound::output::lossless(data);
    let e = hound::output::escape(&s);
    assert!(!e.chars().any(|c| c.is_control()));
    let m = hound::output::markdown_cell(&s);
    assert!(!m.contains('|') || m.contains("\\|"));
    let j = serde_json::to_string(&s).unwrap_or_default();
    let safe = hound::output::json_safe(&j);
    assert!(!safe.chars().any(|c| (0x80..0xa0).contains(&(c as u32))));
    assert_eq!(serde_json::from_str::<String>(&safe).ok().as_deref(), Some(s.as_str()));
    // Without a literal backslash the lossless text round-trips to the bytes.
    if !data.contains(&b'\\') {
        let back = hound::host::quarantine::unescape_lossless(&s);
        assert_eq!(back.as_deref().unwrap_or(s.as_bytes()), data);
    }
});
