//! One TCP connect, classified: open, closed (a remote RST), filtered
//! (silence, unreachable) or blocked (refused locally by a firewall rule).

use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub ip: String,
    pub port: u16,
    pub state: &'static str,
    pub reason: String,
    pub rtt_ms: Option<f64>,
}

/// Connects once. Runs on the caller's thread (the current-thread runtime),
/// so the socket belongs to the caller's network namespace.
pub async fn connect(ip: IpAddr, port: u16, timeout: Duration) -> Probe {
    let start = Instant::now();
    let ms = || Some((start.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0);
    let (state, reason, rtt) = match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect(SocketAddr::new(ip, port)),
    )
    .await
    {
        Ok(Ok(_)) => ("open", "syn-ack".to_string(), ms()),
        Ok(Err(e)) => match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => ("closed", "rst".to_string(), ms()),
            Some(libc::EPERM) | Some(libc::EACCES) => (
                "blocked",
                "refused by a local firewall rule".to_string(),
                ms(),
            ),
            Some(libc::EHOSTUNREACH) => ("filtered", "host-unreachable".to_string(), ms()),
            Some(libc::ENETUNREACH) => ("filtered", "no route to the network".to_string(), ms()),
            _ => ("filtered", e.to_string(), ms()),
        },
        Err(_) => ("filtered", "timeout".to_string(), None),
    };
    Probe {
        ip: ip.to_string(),
        port,
        state,
        reason,
        rtt_ms: rtt,
    }
}

/// Connects once and, when the connect met silence, asks hound's own
/// blocks whether one of them dropped it: a drop looks like silence from
/// the socket, the block's counter tells (`state: "blocked"`).
pub async fn verify(ip: IpAddr, port: u16, timeout: Duration) -> Probe {
    let before = super::blocking(ip, port, "tcp");
    let mut r = connect(ip, port, timeout).await;
    if r.state == "filtered" {
        if let Some(b) = before {
            let after = super::blocking(ip, port, "tcp")
                .map(|a| a.packets)
                .unwrap_or(b.packets);
            r.state = "blocked";
            r.reason = format!(
                "dropped by hound's block of {} ({} more packet(s) counted)",
                b.target,
                after.saturating_sub(b.packets)
            );
        }
    }
    r
}
