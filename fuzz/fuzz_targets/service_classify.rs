//! Banners and HTTP answers from a scanned (hostile) host.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let port = data.first().map_or(80, |b| u16::from(*b) * 257);
    let body = data.get(1..).unwrap_or_default();
    for sent in [None, Some("http"), Some("tls")] {
        let _ = hound::host::scan::services::classify(port, body, sent);
    }
});
