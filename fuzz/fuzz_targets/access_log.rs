//! Web access-log lines (every field is the client's).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hound::host::log::parse_line(data, 1);
});
