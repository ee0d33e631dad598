//! Target and port specifications (parameters, often pasted from reports).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    // Only specs that start with an address: a name would be resolved
    // through DNS, and a fuzzer must not send packets.
    let specs: Vec<String> = s
        .split(',')
        .filter(|p| {
            p.split(['/', '-'])
                .next()
                .is_some_and(|a| a.trim().parse::<std::net::IpAddr>().is_ok())
        })
        .map(String::from)
        .collect();
    let _ = hound::host::scan::spec::parse_targets(&specs, 4096);
    let _ = hound::host::scan::spec::parse_ports(s);
});
