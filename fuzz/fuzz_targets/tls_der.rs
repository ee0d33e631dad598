//! TLS records and the certificate DER a server sends back.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(cert) = hound::host::scan::tls::first_certificate(data) {
        let _ = hound::host::scan::tls::names(&cert);
    }
    let _ = hound::host::scan::tls::names(data);
});
