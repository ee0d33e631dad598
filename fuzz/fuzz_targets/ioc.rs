//! Indicator lists.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let list: Vec<String> = s.split('\n').map(String::from).collect();
    if let Ok(iocs) = hound::host::ioc::parse_all(&list) {
        for i in &iocs {
            let _ = i.matches(&"10.0.0.1".parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()), 80);
        }
    }
});
