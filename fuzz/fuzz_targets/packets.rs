//! Raw replies read from the wire: IPv4, TCP, ICMP, ARP.
#![no_main]
use libfuzzer_sys::fuzz_target;
use hound::host::scan::packet;

fuzz_target!(|data: &[u8]| {
    let _ = packet::ipv4(data);
    let _ = packet::parse_tcp(data);
    let _ = packet::parse_icmp(data);
    let _ = packet::parse_arp_reply(data, std::net::Ipv4Addr::new(10, 0, 0, 1));
    let _ = packet::checksum(data);
});
