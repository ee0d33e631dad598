//! SMB2: NEGOTIATE (dialect, signing), then the first leg of an NTLMSSP
//! session setup, whose CHALLENGE carries the server's names and, from
//! Windows, its OS version. No credentials are sent: the dialogue stops at
//! the challenge.

use super::probes::Outcome;
use super::{connect, read_until, ServiceInfo};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

fn header(cmd: u16, id: u64) -> Vec<u8> {
    let mut h = b"\xfeSMB".to_vec();
    h.extend_from_slice(&64u16.to_le_bytes());
    h.extend_from_slice(&[0; 6]); // credit charge, status
    h.extend_from_slice(&cmd.to_le_bytes());
    h.extend_from_slice(&31u16.to_le_bytes()); // credits requested
    h.extend_from_slice(&[0; 8]); // flags, next command
    h.extend_from_slice(&id.to_le_bytes());
    h.extend_from_slice(&[0; 32]); // process, tree, session ids, signature
    h
}

/// Direct-TCP framing: a zero byte and a 24-bit length.
fn frame(mut m: Vec<u8>) -> Vec<u8> {
    let n = m.len() as u32;
    let mut f = vec![0, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    f.append(&mut m);
    f
}

fn negotiate() -> Vec<u8> {
    // 3.1.1 needs negotiate contexts; 2.0.2 to 3.0.2 is enough to name it.
    let dialects: [u16; 4] = [0x0202, 0x0210, 0x0300, 0x0302];
    let mut m = header(0, 0);
    m.extend_from_slice(&36u16.to_le_bytes());
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes()); // signing enabled
    m.extend_from_slice(&[0; 2 + 4]); // reserved, capabilities
    m.extend_from_slice(b"hound-smb-probe!"); // client GUID
    m.extend_from_slice(&[0; 8]); // client start time
    dialects
        .iter()
        .for_each(|d| m.extend_from_slice(&d.to_le_bytes()));
    frame(m)
}

fn session_setup() -> Vec<u8> {
    let mut ntlm = b"NTLMSSP\0".to_vec();
    ntlm.extend_from_slice(&1u32.to_le_bytes());
    ntlm.extend_from_slice(&0xe208_8297u32.to_le_bytes());
    ntlm.extend_from_slice(&[0; 16]); // domain and workstation fields
    let mut m = header(1, 1);
    m.extend_from_slice(&25u16.to_le_bytes());
    m.extend_from_slice(&[0, 1]); // flags, security mode
    m.extend_from_slice(&[0; 8]); // capabilities, channel
    m.extend_from_slice(&88u16.to_le_bytes());
    m.extend_from_slice(&(ntlm.len() as u16).to_le_bytes());
    m.extend_from_slice(&[0; 8]); // previous session
    m.extend_from_slice(&ntlm);
    frame(m)
}

/// One framed SMB2 message, if `b` holds a whole one.
fn message(b: &[u8]) -> Option<&[u8]> {
    let n = u32::from_be_bytes([0, *b.get(1)?, *b.get(2)?, *b.get(3)?]) as usize;
    let m = b.get(4..4 + n)?;
    m.starts_with(b"\xfeSMB").then_some(m)
}

fn le16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

/// Dialect and signing from a NEGOTIATE response.
pub fn parse_negotiate(m: &[u8]) -> Option<ServiceInfo> {
    if le16(m, 12)? != 0 || m.get(8..12)? != [0; 4] {
        return None;
    }
    let body = m.get(64..)?;
    let dialect = match le16(body, 4)? {
        0x0202 => "2.0.2",
        0x0210 => "2.1",
        0x0300 => "3.0",
        0x0302 => "3.0.2",
        0x0311 => "3.1.1",
        0x02ff => "2.x (wildcard)",
        _ => "unknown",
    };
    let signing = if le16(body, 2)? & 2 != 0 {
        "signing required"
    } else {
        "signing optional"
    };
    let mut i = ServiceInfo::new("smb");
    i.product = Some("SMB".into());
    i.extra = Some(format!("dialect {dialect}, {signing}"));
    Some(i)
}

fn utf16(b: &[u8]) -> String {
    let u: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&u)
}

/// Names and OS version from an NTLMSSP CHALLENGE anywhere in `m`.
pub fn parse_challenge(m: &[u8], i: &mut ServiceInfo) {
    let Some(at) = m.windows(8).position(|w| w == b"NTLMSSP\0") else {
        return;
    };
    let c = &m[at..];
    if le16(c, 8) != Some(2) {
        return;
    }
    let mut extra = Vec::new();
    if let (Some(len), Some(off)) = (le16(c, 40), le16(c, 44)) {
        let info = c
            .get(usize::from(off)..usize::from(off) + usize::from(len))
            .unwrap_or_default();
        let mut p = 0;
        while let (Some(id), Some(n)) = (le16(info, p), le16(info, p + 2)) {
            let v = info.get(p + 4..p + 4 + usize::from(n)).unwrap_or_default();
            let name = match id {
                0 => break,
                1 => "computer",
                2 => "domain",
                4 => "dns domain",
                _ => "",
            };
            if !name.is_empty() && !v.is_empty() {
                extra.push(format!("{name} {}", utf16(v)));
            }
            p += 4 + usize::from(n);
        }
    }
    // The VERSION field: Windows puts its real build there; Samba 6.1.0.
    if let Some(v) = c.get(48..56) {
        let build = u16::from_le_bytes([v[2], v[3]]);
        if build != 0 {
            extra.insert(0, format!("os Windows {}.{} build {build}", v[0], v[1]));
            i.product = Some("Microsoft Windows SMB".into());
        } else if v[0] == 6 && v[1] == 1 {
            i.product = Some("Samba".into());
        }
    }
    if !extra.is_empty() {
        let base = i.extra.take().unwrap_or_default();
        i.extra = Some(super::cut(&format!("{base}, {}", extra.join(", ")), 300).to_string());
    }
}

pub async fn probe(addr: SocketAddr, deadline: Instant) -> Outcome {
    let Some(mut s) = connect(addr, deadline).await else {
        return Outcome::Raw(Vec::new());
    };
    let mut buf = Vec::new();
    if s.write_all(&negotiate()).await.is_err() {
        return Outcome::Raw(buf);
    }
    read_until(&mut s, &mut buf, deadline, |b| message(b).is_some()).await;
    let Some(mut i) = message(&buf).and_then(parse_negotiate) else {
        return Outcome::Raw(buf);
    };
    let mut more = Vec::new();
    if s.write_all(&session_setup()).await.is_ok() {
        read_until(&mut s, &mut more, deadline, |b| message(b).is_some()).await;
        if let Some(m) = message(&more) {
            parse_challenge(m, &mut i);
        }
    }
    Outcome::Match(Box::new(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_and_challenge() {
        let mut m = header(0, 0);
        m.extend_from_slice(&65u16.to_le_bytes());
        m.extend_from_slice(&3u16.to_le_bytes());
        m.extend_from_slice(&0x0302u16.to_le_bytes());
        m.extend_from_slice(&[0; 58]);
        let f = frame(m);
        let mut i = parse_negotiate(message(&f).unwrap()).unwrap();
        assert_eq!(i.extra.as_deref(), Some("dialect 3.0.2, signing required"));
        let mut c = b"NTLMSSP\0".to_vec();
        c.extend_from_slice(&2u32.to_le_bytes());
        c.extend_from_slice(&[0; 28]);
        let name: Vec<u8> = "CORP"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let mut info = vec![2, 0, name.len() as u8, 0];
        info.extend_from_slice(&name);
        info.extend_from_slice(&[0; 4]);
        c.extend_from_slice(&(info.len() as u16).to_le_bytes());
        c.extend_from_slice(&(info.len() as u16).to_le_bytes());
        c.extend_from_slice(&56u32.to_le_bytes());
        c.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
        c.extend_from_slice(&info);
        parse_challenge(&c, &mut i);
        assert_eq!(
            i.extra.as_deref(),
            Some("dialect 3.0.2, signing required, os Windows 10.0 build 19041, domain CORP")
        );
    }
}
