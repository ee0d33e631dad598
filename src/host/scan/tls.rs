//! The subject of a TLS server's certificate, without a TLS library: a
//! ClientHello offering only TLS 1.2 makes the server send its Certificate
//! message in the clear (TLS 1.3 would encrypt it), and a small DER walk
//! pulls the subject and issuer names out. Nothing is verified: this
//! identifies a service, it does not trust one.

use crate::text::lossless;

/// A TLS 1.2 ClientHello with common ECDHE/RSA suites; SNI when `host` is a
/// name (an IP address is not allowed there).
pub fn client_hello(host: Option<&str>) -> Vec<u8> {
    let mut body = vec![3, 3];
    let seed = std::collections::hash_map::RandomState::new();
    for k in 0..4u64 {
        use std::hash::BuildHasher;
        body.extend_from_slice(&seed.hash_one(k).to_be_bytes());
    }
    body.push(0); // no session id
    let suites: [u16; 12] = [
        0xc02f, 0xc030, 0xc02b, 0xc02c, 0xcca8, 0xcca9, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
        0x0035,
    ];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    suites
        .iter()
        .for_each(|s| body.extend_from_slice(&s.to_be_bytes()));
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut ext = Vec::new();
    if let Some(h) = host {
        let n = h.as_bytes();
        let l = n.len() as u16;
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&(l + 5).to_be_bytes());
        ext.extend_from_slice(&(l + 3).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&l.to_be_bytes());
        ext.extend_from_slice(n);
    }
    ext.extend_from_slice(&[0, 0x0a, 0, 8, 0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]); // groups
    ext.extend_from_slice(&[0, 0x0b, 0, 2, 1, 0]); // point formats
    let sigs: [u16; 9] = [
        0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0804, 0x0805, 0x0806, 0x0201,
    ];
    ext.extend_from_slice(&[0, 0x0d]);
    ext.extend_from_slice(&((sigs.len() * 2 + 2) as u16).to_be_bytes());
    ext.extend_from_slice(&((sigs.len() * 2) as u16).to_be_bytes());
    sigs.iter()
        .for_each(|s| ext.extend_from_slice(&s.to_be_bytes()));
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// The first certificate's DER from the server's records, if it sent one.
pub fn first_certificate(records: &[u8]) -> Option<Vec<u8>> {
    // Handshake messages may span records: gather handshake payloads first.
    let mut hs = Vec::new();
    let mut p = 0;
    while p + 5 <= records.len() {
        let len = usize::from(u16::from_be_bytes([records[p + 3], records[p + 4]]));
        let end = (p + 5 + len).min(records.len());
        if records[p] == 0x16 {
            hs.extend_from_slice(&records[p + 5..end]);
        }
        p = end;
    }
    let mut q = 0;
    while q + 4 <= hs.len() {
        let len = u32::from_be_bytes([0, hs[q + 1], hs[q + 2], hs[q + 3]]) as usize;
        if hs[q] == 11 {
            // certificate_list length (3), then the first certificate's length (3).
            let b = hs.get(q + 4..)?;
            let cl = u32::from_be_bytes([0, *b.get(3)?, *b.get(4)?, *b.get(5)?]) as usize;
            return b.get(6..6 + cl).map(<[u8]>::to_vec);
        }
        q += 4 + len;
    }
    None
}

pub(crate) fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let l0 = *b.get(1)?;
    let (len, hdr) = if l0 < 0x80 {
        (usize::from(l0), 2)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for k in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + k)?);
        }
        (len, 2 + n)
    };
    let body = b.get(hdr..hdr + len)?;
    Some((tag, body, &b[hdr + len..]))
}

fn name(mut b: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((_, set, rest)) = tlv(b) {
        b = rest;
        let Some((_, atv, _)) = tlv(set) else {
            continue;
        };
        let Some((_, oid, after)) = tlv(atv) else {
            continue;
        };
        let Some((_, val, _)) = tlv(after) else {
            continue;
        };
        let key = match oid {
            [0x55, 4, 3] => "CN",
            [0x55, 4, 10] => "O",
            [0x55, 4, 11] => "OU",
            [0x55, 4, 6] => "C",
            [0x55, 4, 7] => "L",
            [0x55, 4, 8] => "ST",
            _ => continue,
        };
        parts.push(format!("{key}={}", lossless(val)));
    }
    parts.join(", ")
}

/// (subject, issuer) of a DER certificate, as `CN=…, O=…`.
pub fn names(der: &[u8]) -> Option<(String, String)> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2;
    }
    rest = tlv(rest)?.2; // serial
    rest = tlv(rest)?.2; // signature algorithm
    let (_, issuer, r) = tlv(rest)?;
    let (_, _, r) = tlv(r)?; // validity
    let (_, subject, _) = tlv(r)?;
    Some((name(subject), name(issuer)))
}
