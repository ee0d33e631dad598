//! RDP: the X.224 connection confirm and the RDP negotiation response
//! (security protocol; NLA means credentials before a session), and which
//! server sent them.

use super::probes::Outcome;
use super::{exchange, ServiceInfo};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Two X.224 connection requests, concurrently: one with an RDP_NEG_REQ
/// asking for TLS and CredSSP (the answer tells the security), one without,
/// followed by a malformed MCS request: xrdp answers that with a disconnect
/// ultimatum, Windows hangs up.
pub async fn probe(addr: SocketAddr, deadline: Instant) -> Outcome {
    const NEG: &[u8] = &[3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0];
    let (neg, plain) = tokio::join!(
        exchange(addr, NEG, deadline, |b| b.len() >= 19),
        rdp_plain(addr, deadline)
    );
    let neg = neg.unwrap_or_default();
    let (plain, hung_up) = plain.unwrap_or_default();
    match rdp(&neg, &plain, hung_up) {
        Some(i) => Outcome::Match(Box::new(i)),
        None => Outcome::Raw(neg),
    }
}

/// The plain connection confirm and what followed the malformed request;
/// `true` when the server hung up.
async fn rdp_plain(addr: SocketAddr, deadline: Instant) -> Option<(Vec<u8>, bool)> {
    const PLAIN: &[u8] = &[3, 0, 0, 11, 6, 0xe0, 0, 0, 0, 0, 0];
    const JUNK: &[u8] = &[3, 0, 0, 12, 2, 0xf0, 0x80, 0x7f, 0x65, 0, 0, 0];
    let mut s = super::connect(addr, deadline).await?;
    let mut b = Vec::new();
    s.write_all(PLAIN).await.ok()?;
    super::read_until(&mut s, &mut b, deadline, |b| b.len() >= 11).await;
    let mut hung_up = false;
    if b.len() >= 11 && s.write_all(JUNK).await.is_ok() {
        // Until the answer, a hang-up or the deadline: a loaded xrdp may be
        // slow to answer, Windows hangs up at once.
        let mut chunk = [0u8; 256];
        let end = b.len() + 9;
        while b.len() < end {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, s.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    hung_up = true;
                    break;
                }
                Ok(Ok(n)) => b.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
    }
    Some((b, hung_up))
}

/// X.224 connection confirms; `Some` when `b` is one. xrdp answers the
/// malformed request with a disconnect ultimatum (older xrdp also confirms
/// with source reference 0); Windows confirms with 0x1234 and hangs up.
pub fn rdp(b: &[u8], plain: &[u8], hung_up: bool) -> Option<ServiceInfo> {
    if b.len() < 11 || b[0] != 3 || b[1] != 0 || b[5] != 0xd0 {
        return None;
    }
    let mut i = ServiceInfo::new("rdp");
    if plain.len() >= 11 && plain[5] == 0xd0 {
        let src = u16::from_be_bytes([plain[8], plain[9]]);
        let ultimatum = plain[11..]
            .windows(5)
            .any(|w| w == [2, 0xf0, 0x80, 0x21, 0x80]);
        i.product = if ultimatum || src == 0 {
            Some("xrdp".into())
        } else if src == 0x1234 && hung_up {
            Some("Microsoft Terminal Services".into())
        } else {
            None
        };
    }
    if b.len() >= 19 {
        let code = u32::from_le_bytes([b[15], b[16], b[17], b[18]]);
        match b[11] {
            2 => {
                let sec = match code {
                    0 => "standard RDP",
                    1 => "TLS",
                    2 => "CredSSP (NLA)",
                    8 => "RDSTLS",
                    _ => "other",
                };
                i.extra = Some(format!("security {sec}"));
                if code == 2 || code == 8 {
                    i.auth = "required".into();
                }
            }
            3 => i.extra = Some(format!("negotiation failure {code}")),
            _ => {}
        }
    } else {
        i.extra = Some("security standard RDP".into());
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdp_negotiation() {
        let nla = rdp(
            &[
                3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0, 2, 0, 0, 0,
            ],
            &[3, 0, 0, 11, 6, 0xd0, 0, 0, 0x12, 0x34, 0],
            true,
        )
        .unwrap();
        assert_eq!(nla.product.as_deref(), Some("Microsoft Terminal Services"));
        assert_eq!(nla.auth, "required");
        assert_eq!(nla.extra.as_deref(), Some("security CredSSP (NLA)"));
        let x = rdp(
            &[
                3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0,
            ],
            &[
                3, 0, 0, 11, 6, 0xd0, 0, 0, 0x12, 0x34, 0, 3, 0, 0, 9, 2, 0xf0, 0x80, 0x21, 0x80,
            ],
            false,
        )
        .unwrap();
        assert_eq!(x.product.as_deref(), Some("xrdp"));
        assert_eq!(x.extra.as_deref(), Some("security TLS"));
        assert!(rdp(b"SSH-2.0-x", b"", false).is_none());
    }
}
