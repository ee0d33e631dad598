//! authorized_keys lines (options, key blobs, comments).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = hound::output::lossless(data);
    for l in text.lines() {
        let _ = hound::host::sys::users::parse_key_line(l);
    }
});
