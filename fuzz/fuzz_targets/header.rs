//! Hunt headers (`//!` TOML), from scripts someone else wrote.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = hound::runtime::header::parse(s, "fuzz.rhai");
});
