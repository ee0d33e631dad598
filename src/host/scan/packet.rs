//! The few packets a scanner sends and reads: TCP SYN/ACK probes, ICMP echo,
//! ARP requests, and the replies to them. Built by hand rather than with
//! pnet: they are a handful of fixed layouts, and owning the bytes keeps the
//! hot path free of allocation and of pnet's (unmaintained) datalink layer.

use std::net::Ipv4Addr;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        acc += u32::from(*b) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum16(data, 0))
}

/// A TCP header (with an MSS option, as real stacks send) for a raw IPv4
/// socket; the kernel adds the IP header. `seq`/`ack` carry the cookie.
#[allow(clippy::too_many_arguments)]
pub fn tcp_probe(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    out: &mut [u8; 24],
) {
    out.fill(0);
    out[0..2].copy_from_slice(&sport.to_be_bytes());
    out[2..4].copy_from_slice(&dport.to_be_bytes());
    out[4..8].copy_from_slice(&seq.to_be_bytes());
    out[8..12].copy_from_slice(&ack.to_be_bytes());
    out[12] = 6 << 4; // data offset: 24 bytes
    out[13] = flags;
    out[14..16].copy_from_slice(&1024u16.to_be_bytes());
    out[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&src.octets());
    pseudo[4..8].copy_from_slice(&dst.octets());
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&24u16.to_be_bytes());
    let c = fold(sum16(&out[..], sum16(&pseudo, 0)));
    out[16..18].copy_from_slice(&c.to_be_bytes());
}

/// An IPv4 header + the TCP probe, for an IPPROTO_RAW socket. The kernel
/// fills in the IP checksum and the total length.
#[allow(clippy::too_many_arguments)]
pub fn ip_tcp_probe(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    id: u16,
    out: &mut [u8; 44],
) {
    out[0] = 0x45;
    out[1] = 0;
    out[2..4].copy_from_slice(&44u16.to_be_bytes());
    out[4..6].copy_from_slice(&id.to_be_bytes());
    out[6..8].copy_from_slice(&[0x40, 0]); // don't fragment
    out[8] = 64;
    out[9] = 6;
    out[10..12].fill(0);
    out[12..16].copy_from_slice(&src.octets());
    out[16..20].copy_from_slice(&dst.octets());
    let mut t = [0u8; 24];
    tcp_probe(src, dst, sport, dport, seq, 0, flags, &mut t);
    out[20..44].copy_from_slice(&t);
}

/// An ICMP echo request with an 8-byte payload.
pub fn icmp_echo(id: u16, seq: u16, out: &mut [u8; 16]) {
    out.fill(0);
    out[0] = 8;
    out[4..6].copy_from_slice(&id.to_be_bytes());
    out[6..8].copy_from_slice(&seq.to_be_bytes());
    out[8..16].copy_from_slice(b"hound\0\0\0");
    let c = checksum(&out[..]);
    out[2..4].copy_from_slice(&c.to_be_bytes());
}

/// A broadcast ARP request for `target`, as a whole Ethernet frame.
pub fn arp_request(src_mac: [u8; 6], src_ip: Ipv4Addr, target: Ipv4Addr, out: &mut [u8; 42]) {
    out[0..6].copy_from_slice(&[0xff; 6]);
    out[6..12].copy_from_slice(&src_mac);
    out[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    out[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    out[22..28].copy_from_slice(&src_mac);
    out[28..32].copy_from_slice(&src_ip.octets());
    out[32..38].fill(0);
    out[38..42].copy_from_slice(&target.octets());
}

/// An ARP reply: (sender IP, sender MAC), when `frame` is one addressed to `me`.
pub fn parse_arp_reply(frame: &[u8], me: Ipv4Addr) -> Option<(Ipv4Addr, [u8; 6])> {
    if frame.len() < 42 || frame[12..14] != [8, 6] || frame[20..22] != [0, 2] {
        return None;
    }
    let tpa = Ipv4Addr::new(frame[38], frame[39], frame[40], frame[41]);
    if tpa != me {
        return None;
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&frame[22..28]);
    Some((
        Ipv4Addr::new(frame[28], frame[29], frame[30], frame[31]),
        mac,
    ))
}

/// The fields of a TCP segment a scanner matches on.
#[derive(Debug, Clone, Copy)]
pub struct TcpReply {
    pub src: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

/// Splits an IPv4 packet (as a raw socket delivers it) into (src, proto, payload).
pub fn ipv4(pkt: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8, &[u8])> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]])).min(pkt.len());
    if ihl < 20 || total < ihl {
        return None;
    }
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
    Some((src, dst, pkt[9], &pkt[ihl..total]))
}

pub fn parse_tcp(pkt: &[u8]) -> Option<TcpReply> {
    let (src, _, proto, t) = ipv4(pkt)?;
    if proto != 6 || t.len() < 20 {
        return None;
    }
    Some(TcpReply {
        src,
        sport: u16::from_be_bytes([t[0], t[1]]),
        dport: u16::from_be_bytes([t[2], t[3]]),
        seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
        flags: t[13],
    })
}

/// What an ICMP packet says.
#[derive(Debug, Clone, Copy)]
pub enum Icmp {
    /// Echo reply from `src` with (id, seq).
    EchoReply { src: Ipv4Addr, id: u16, seq: u16 },
    /// Destination unreachable about a TCP segment we sent: the original
    /// destination, ports and sequence number.
    Unreachable {
        dst: Ipv4Addr,
        sport: u16,
        dport: u16,
        seq: u32,
    },
}

pub fn parse_icmp(pkt: &[u8]) -> Option<Icmp> {
    let (src, _, proto, m) = ipv4(pkt)?;
    if proto != 1 || m.len() < 8 {
        return None;
    }
    match m[0] {
        0 => Some(Icmp::EchoReply {
            src,
            id: u16::from_be_bytes([m[4], m[5]]),
            seq: u16::from_be_bytes([m[6], m[7]]),
        }),
        3 => {
            let inner = &m[8..];
            if inner.len() < 20 || inner[0] >> 4 != 4 || inner[9] != 6 {
                return None;
            }
            let ihl = usize::from(inner[0] & 0x0f) * 4;
            let t = inner.get(ihl..ihl + 8)?;
            Some(Icmp::Unreachable {
                dst: Ipv4Addr::new(inner[16], inner[17], inner[18], inner[19]),
                sport: u16::from_be_bytes([t[0], t[1]]),
                dport: u16::from_be_bytes([t[2], t[3]]),
                seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_checksum_verifies() {
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut b = [0u8; 24];
        tcp_probe(s, d, 61000, 80, 0xdead_beef, 0, TCP_SYN, &mut b);
        let mut pseudo = vec![10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 24];
        pseudo.extend_from_slice(&b);
        assert_eq!(checksum(&pseudo), 0);
    }

    #[test]
    fn echo_checksum_verifies() {
        let mut b = [0u8; 16];
        icmp_echo(7, 9, &mut b);
        assert_eq!(checksum(&b), 0);
    }
}
