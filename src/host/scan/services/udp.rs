//! UDP services, probed only when a script asks (`udp: true`): DNS
//! (`version.bind` in the CHAOS class) and SNMP (`sysDescr.0` with the
//! `public` community). A silent port says nothing: UDP has no refusal
//! worth trusting behind a firewall, so no answer means no record.

use super::{cut, lossless, ServiceInfo};
use crate::host::scan::tls::tlv;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

/// Ports with a UDP probe.
pub const PORTS: &[u16] = &[53, 161];

pub fn dns_query(id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(b"\x07version\x04bind\x00");
    q.extend_from_slice(&[0, 16, 0, 3]); // TXT, CHAOS
    q
}

/// The version.bind answer: product and version from the TXT string.
pub fn dns_parse(b: &[u8], id: u16) -> Option<ServiceInfo> {
    if b.len() < 12 || b[..2] != id.to_be_bytes() || b[2] & 0x80 == 0 {
        return None;
    }
    let mut i = ServiceInfo::new("dns");
    let rcode = b[3] & 0x0f;
    let ancount = u16::from_be_bytes([b[6], b[7]]);
    if rcode != 0 || ancount == 0 {
        i.extra = Some(format!("version.bind refused (rcode {rcode})"));
        return Some(i);
    }
    // Skip the question (name, type, class), then the answer's name.
    let mut p = 12;
    while p < b.len() && b[p] != 0 {
        p += usize::from(b[p]) + 1;
    }
    p += 5;
    p += if b.get(p).is_some_and(|c| c & 0xc0 == 0xc0) {
        2
    } else {
        let mut q = p;
        while q < b.len() && b[q] != 0 {
            q += usize::from(b[q]) + 1;
        }
        q + 1 - p
    };
    let rd = b.get(p + 10..)?;
    let n = usize::from(*rd.first()?);
    let txt = lossless(rd.get(1..1 + n)?);
    i.banner = Some(txt.clone());
    let low = txt.to_ascii_lowercase();
    let (product, version) = if txt.starts_with(|c: char| c.is_ascii_digit()) {
        ("ISC BIND", Some(txt.clone()))
    } else if let Some(v) = low.strip_prefix("dnsmasq-") {
        ("dnsmasq", Some(v.to_string()))
    } else if low.starts_with("unbound") {
        ("Unbound", txt.split_whitespace().nth(1).map(String::from))
    } else if low.starts_with("powerdns") {
        ("PowerDNS", txt.split_whitespace().nth(2).map(String::from))
    } else {
        ("", None)
    };
    if !product.is_empty() {
        i = i.product(product, version);
    }
    Some(i)
}

fn ber(tag: u8, c: &[u8]) -> Vec<u8> {
    let mut v = vec![tag, c.len() as u8];
    v.extend_from_slice(c);
    v
}

fn snmp_get(id: u32) -> Vec<u8> {
    const SYS_DESCR: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 1, 0];
    let vb = ber(0x30, &[ber(0x06, SYS_DESCR), vec![5, 0]].concat());
    let pdu = [
        ber(0x02, &id.to_be_bytes()),
        vec![2, 1, 0, 2, 1, 0],
        ber(0x30, &vb),
    ]
    .concat();
    let msg = [vec![2, 1, 0], ber(0x04, b"public"), ber(0xa0, &pdu)].concat();
    ber(0x30, &msg)
}

/// sysDescr from a GetResponse.
pub fn snmp_parse(b: &[u8]) -> Option<ServiceInfo> {
    let (_, msg, _) = tlv(b)?;
    let (_, _, r) = tlv(msg)?; // version
    let (_, _, r) = tlv(r)?; // community
    let (t, pdu, _) = tlv(r)?;
    if t != 0xa2 {
        return None;
    }
    let (_, _, r) = tlv(pdu)?; // request id
    let (_, err, r) = tlv(r)?;
    let (_, _, r) = tlv(r)?; // error index
    let mut i = ServiceInfo::new("snmp").product("SNMP", None);
    i.auth = "none".into();
    i.extra = Some("community public".into());
    if err.iter().any(|&e| e != 0) {
        return Some(i);
    }
    let (_, vbl, _) = tlv(r)?;
    let (_, vb, _) = tlv(vbl)?;
    let (_, _, r) = tlv(vb)?;
    let (t, val, _) = tlv(r)?;
    if t == 0x04 {
        let d = lossless(val);
        i.banner = Some(cut(&d, 200).to_string());
        i.extra = Some(format!("community public, sysDescr {}", cut(&d, 200)));
    }
    Some(i)
}

/// Probes `ip:port` over UDP when hound has a probe for that port.
pub async fn identify(ip: IpAddr, port: u16, timeout: Duration) -> Option<ServiceInfo> {
    let any: SocketAddr = match ip {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let s = UdpSocket::bind(any).await.ok()?;
    s.connect((ip, port)).await.ok()?;
    let seed = std::collections::hash_map::RandomState::new();
    let id = std::hash::BuildHasher::hash_one(&seed, (ip, port)) as u32;
    let q = match port {
        53 => dns_query(id as u16),
        161 => snmp_get(id & 0x7fff_ffff),
        _ => return None,
    };
    let mut buf = vec![0u8; 4096];
    // One resend: UDP probes get lost.
    for _ in 0..2 {
        s.send(&q).await.ok()?;
        if let Ok(Ok(n)) = tokio::time::timeout(timeout / 2, s.recv(&mut buf)).await {
            let b = &buf[..n];
            let r = if port == 53 {
                dns_parse(b, id as u16)
            } else {
                snmp_parse(b)
            };
            if r.is_some() {
                return r;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_version_bind() {
        let mut r = dns_query(7);
        r[2] = 0x84;
        r[7] = 1; // one answer
        r.extend_from_slice(&[0xc0, 12, 0, 16, 0, 3, 0, 0, 0, 0, 0, 9, 8]);
        r.extend_from_slice(b"9.18.28x");
        let i = dns_parse(&r, 7).unwrap();
        assert_eq!(
            (i.product.as_deref(), i.version.as_deref()),
            (Some("ISC BIND"), Some("9.18.28x"))
        );
        let mut refused = dns_query(7);
        refused[2] = 0x84;
        refused[3] = 5;
        assert_eq!(dns_parse(&refused, 7).unwrap().product, None);
        assert!(dns_parse(&refused, 8).is_none());
    }

    #[test]
    fn snmp_sysdescr() {
        let vb = ber(
            0x30,
            &[
                ber(0x06, &[0x2b, 6, 1, 2, 1, 1, 1, 0]),
                ber(0x04, b"Linux gw 6.1.0"),
            ]
            .concat(),
        );
        let pdu = [ber(0x02, &[1]), vec![2, 1, 0, 2, 1, 0], ber(0x30, &vb)].concat();
        let msg = [vec![2, 1, 0], ber(0x04, b"public"), ber(0xa2, &pdu)].concat();
        let i = snmp_parse(&ber(0x30, &msg)).unwrap();
        assert_eq!(
            i.extra.as_deref(),
            Some("community public, sysDescr Linux gw 6.1.0")
        );
        assert!(snmp_parse(&snmp_get(1)).is_none());
    }
}
