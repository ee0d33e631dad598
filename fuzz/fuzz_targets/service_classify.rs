//! Banners and HTTP answers from a scanned (hostile) host.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let port = data.first().map_or(80, |b| u16::from(*b) * 257);
    let body = data.get(1..).unwrap_or_default();
    let _ = hound::host::scan::services::greeting::classify(port, body);
    if let Some(r) = hound::host::scan::services::http::parse(body) {
        let _ = hound::host::scan::services::http::basic(&r);
    }
    let _ = hound::host::scan::services::http::title(&String::from_utf8_lossy(body));
});
