//! Service identification. A port either greets (SSH, FTP, SMTP, POP3,
//! IMAP, MySQL, VNC: `greeting.rs` reads it and asks for capabilities), or
//! waits for the client: then the probes of `probes.rs` (a table of payload,
//! completion test and parser; the longer dialogues in `http.rs` with its
//! JSON APIs, `postgres.rs`, `mongodb.rs`, `rdp.rs`, `smb.rs`, `ldap.rs`) run
//! concurrently, the ones the port suggests first, and the first parser that
//! recognises its answer wins. A port that answers nothing a parser knows
//! stays `unknown`. Everything read is attacker-controlled: it is kept
//! lossless (`\xNN` for bad bytes), cut short, and escaped by the printers.

mod exposure;
pub mod greeting;
pub mod http;
mod ldap;
mod mongodb;
mod postgres;
mod probes;
mod rdp;
mod smb;
pub mod udp;

use super::connect::Collector;
use super::Progress;
use crate::output::lossless;
pub use exposure::Exposure;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// What listens on a port.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServiceInfo {
    /// `ssh`, `http`, `redis`, `memcached`, `mysql`, `postgresql`,
    /// `mongodb`, `smtp`, `ftp`, `pop3`, `imap`, `rdp`, `vnc`, `smb`,
    /// `ldap`, `dns`, `snmp`, `tls`, or `unknown`.
    pub service: String,
    pub product: Option<String>,
    pub version: Option<String>,
    /// What else the service told: a Redis role, SMB dialect and OS, mail
    /// capabilities, RDP security, the HTTP API's platform.
    pub extra: Option<String>,
    /// `required`, `none` (it served us without credentials) or `unknown`.
    pub auth: String,
    /// The greeting or the HTTP `Server` header, first line, at most 200 chars.
    pub banner: Option<String>,
    /// The HTTP page title, when there is one.
    pub title: Option<String>,
    /// TLS services: the certificate's subject and issuer (`CN=…, O=…`),
    /// read from a TLS 1.2 handshake, not verified.
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
    /// What an intruder could abuse here (see `exposure.rs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exposures: Vec<Exposure>,
}

impl ServiceInfo {
    pub fn new(service: &str) -> Self {
        ServiceInfo {
            service: service.into(),
            auth: "unknown".into(),
            ..Default::default()
        }
    }

    fn product(mut self, p: &str, v: Option<String>) -> Self {
        self.product = Some(p.into());
        self.version = v.filter(|v| !v.is_empty());
        self
    }
}

/// One identified port.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceResult {
    pub ip: String,
    pub port: u16,
    pub proto: &'static str,
    #[serde(flatten)]
    pub info: ServiceInfo,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// Ports where TLS comes first (HTTPS, SMTPS, LDAPS, DoT, IMAPS, POP3S,
/// Docker TLS, the Kubernetes API, the kubelet).
fn tls_first(port: u16) -> bool {
    matches!(
        port,
        443 | 465 | 636 | 853 | 993 | 995 | 2376 | 4443 | 6443 | 8443 | 9443 | 10250
    )
}

/// Ports whose usual service greets first, so it is worth waiting the whole
/// timeout for the greeting.
fn greets(port: u16) -> bool {
    matches!(
        port,
        21 | 22 | 23 | 25 | 110 | 143 | 587 | 2222 | 3306 | 5900..=5910
    )
}

/// Reads until `done` says the answer is complete, EOF, the deadline, or a
/// pause once data came.
async fn read_until(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    done: fn(&[u8]) -> bool,
) {
    let mut chunk = [0u8; 8192];
    while buf.len() < 262_144 && !done(buf) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let wait = if buf.is_empty() {
            deadline - now
        } else {
            (deadline - now).min(Duration::from_millis(400))
        };
        match tokio::time::timeout(wait, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn never(_: &[u8]) -> bool {
    false
}

async fn connect(addr: SocketAddr, deadline: Instant) -> Option<TcpStream> {
    let wait = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(wait, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()
}

/// One request/answer on a fresh connection; `None` when it cannot connect.
async fn exchange(
    addr: SocketAddr,
    payload: &[u8],
    deadline: Instant,
    done: fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let mut s = connect(addr, deadline).await?;
    let mut buf = Vec::new();
    if s.write_all(payload).await.is_ok() {
        read_until(&mut s, &mut buf, deadline, done).await;
    }
    Some(buf)
}

/// Connects to `addr` and identifies the service; `None` when it cannot connect.
pub async fn identify(addr: SocketAddr, timeout: Duration) -> Option<ServiceInfo> {
    let start = Instant::now();
    let deadline = start + timeout;
    let port = addr.port();
    if tls_first(port) {
        // One connection at a time: a single-threaded server would serve an
        // idle first connection and leave the handshake waiting.
        if let Some(i) = tls(addr, deadline).await {
            return Some(exposure::assess(addr, i));
        }
    }
    let hinted = probes::hinted(port);
    let mut s = connect(addr, deadline).await?;
    let mut buf = Vec::new();
    if hinted.is_empty() || greets(port) {
        let wait = if greets(port) {
            deadline
        } else {
            Instant::now() + (timeout / 3).min(Duration::from_millis(1500))
        };
        read_until(&mut s, &mut buf, wait, never).await;
    }
    if !buf.is_empty() {
        let info = greeting::identify(&mut s, port, &buf, deadline).await;
        if info.service != "tls" {
            return Some(exposure::assess(addr, info));
        }
    }
    drop(s);
    let mut seen = buf;
    let mut result = None;
    let rest = probes::rest(port);
    for set in [hinted, rest] {
        if set.is_empty() {
            continue;
        }
        let (r, raw) = probes::race(addr, set, deadline).await;
        if seen.is_empty() {
            seen = raw;
        }
        if r.is_some() {
            result = r;
            break;
        }
    }
    let info = match result {
        Some(i) => i,
        // A server that greets on a port whose usual service does not
        // (SSH on 80): its greeting came back as a probe's answer.
        None if greeting::classify(port, &seen).service != "unknown" => {
            greeting::classify(port, &seen)
        }
        None if is_tls(&seen) => tls(addr, Instant::now() + timeout)
            .await
            .unwrap_or_else(|| ServiceInfo::new("tls")),
        None => {
            let mut i = ServiceInfo::new("unknown");
            if !seen.is_empty() {
                i.banner = Some(first_line(&seen));
            }
            i
        }
    };
    Some(exposure::assess(addr, info))
}

fn is_tls(b: &[u8]) -> bool {
    (b.first() == Some(&0x15) || b.first() == Some(&0x16)) && b.get(1) == Some(&3)
}

/// A TLS handshake up to the server's certificate, on a new connection.
async fn tls(addr: SocketAddr, deadline: Instant) -> Option<ServiceInfo> {
    let buf = exchange(addr, &super::tls::client_hello(None), deadline, never).await?;
    if !is_tls(&buf) {
        return None;
    }
    let mut i = ServiceInfo::new("tls");
    if let Some((sub, iss)) =
        super::tls::first_certificate(&buf).and_then(|c| super::tls::names(&c))
    {
        i.banner = Some(sub.chars().take(200).collect());
        // Cluster components carry their role in self-issued certificate
        // names; the port alone would be a guess.
        let both = format!("{sub} {iss}").to_ascii_lowercase();
        if both.contains("kube-apiserver") || both.contains("cn=kubernetes") {
            i.product = Some("Kubernetes API".into());
        } else if addr.port() == 10250 && both.contains("-ca@") {
            i.product = Some("kubelet".into());
        }
        i.cert_subject = Some(sub);
        i.cert_issuer = Some(iss);
    }
    Some(i)
}

/// The first line of `b`, lossless, at most 200 chars.
fn first_line(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    let s = lossless(&b[..end.min(4096)]);
    s.trim_end_matches('\r').chars().take(200).collect()
}

/// Cuts `s` to at most `n` bytes without splitting a character (attacker
/// text is any UTF-8; a byte index inside a character would panic).
fn cut(s: &str, n: usize) -> &str {
    let mut e = n.min(s.len());
    while !s.is_char_boundary(e) {
        e -= 1;
    }
    &s[..e]
}

/// Identifies every (ip, port) in `targets`, pushing results into `out`.
pub async fn identify_all(
    targets: Vec<(IpAddr, u16)>,
    timeout: Duration,
    concurrency: usize,
    progress: Progress,
    out: Collector<ServiceResult>,
) -> crate::Result<()> {
    let mut queue = targets.into_iter();
    let mut set = JoinSet::new();
    let mut done = 0u64;
    // Each port may open several probe connections at once.
    let window = (concurrency / 4).max(1);
    loop {
        while set.len() < window {
            let Some((ip, port)) = queue.next() else {
                break;
            };
            set.spawn(
                async move { (ip, port, identify(SocketAddr::new(ip, port), timeout).await) },
            );
        }
        let Some(j) = set.join_next().await else {
            break;
        };
        done += 1;
        progress.set(done);
        let Ok((ip, port, Some(info))) = j else {
            continue;
        };
        if let Ok(mut v) = out.lock() {
            v.push(ServiceResult {
                ip: ip.to_string(),
                port,
                proto: "tcp",
                info,
                partial: false,
            });
        }
    }
    Ok(())
}

/// Probes the UDP services hound knows ([`udp::PORTS`]) on every target.
pub async fn identify_udp(
    targets: Vec<IpAddr>,
    timeout: Duration,
    out: Collector<ServiceResult>,
) -> crate::Result<()> {
    let pairs: Vec<(IpAddr, u16)> = targets
        .iter()
        .flat_map(|ip| udp::PORTS.iter().map(|port| (*ip, *port)))
        .collect();
    let mut queue = pairs.into_iter();
    let mut set = JoinSet::new();
    loop {
        // Bounded: a /16 would otherwise open 131,072 sockets at once.
        while set.len() < 256 {
            let Some((ip, port)) = queue.next() else {
                break;
            };
            set.spawn(async move { (ip, port, udp::identify(ip, port, timeout).await) });
        }
        let Some(j) = set.join_next().await else {
            break;
        };
        let Ok((ip, port, Some(info))) = j else {
            continue;
        };
        let info = exposure::assess(SocketAddr::new(ip, port), info);
        if let Ok(mut v) = out.lock() {
            v.push(ServiceResult {
                ip: ip.to_string(),
                port,
                proto: "udp",
                info,
                partial: false,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::net::TcpListener;

    /// A one-connection-at-a-time fake server on loopback: answers each
    /// connection with `reply` once it has read something (or at once when
    /// `greet`), then hangs up.
    async fn fake(reply: &'static [u8], greet: bool) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    if !greet && !matches!(s.read(&mut b).await, Ok(n) if n > 0) {
                        return;
                    }
                    // Only Redis's own probe gets the Redis answer.
                    if greet || b.starts_with(b"PING") {
                        let _ = s.write_all(reply).await;
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn unusual_ports_and_silence() {
        let t = Duration::from_millis(1500);
        // Redis on a port that suggests nothing: found by the other probes.
        let r = fake(
            b"+PONG\r\n$30\r\nredis_version:7.2.4\r\nrole:master\r\n",
            false,
        )
        .await;
        let i = identify(r, t).await.unwrap();
        assert_eq!(
            (i.service.as_str(), i.version.as_deref(), i.auth.as_str()),
            ("redis", Some("7.2.4"), "none")
        );
        // Loopback: still an exposure for Redis without a password.
        assert_eq!(i.exposures[0].id, "redis-no-auth");
        // A server that accepts and says nothing stays unknown.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = l.local_addr().unwrap();
        let keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let u = identify(silent, t).await.unwrap();
        assert_eq!(
            (u.service.as_str(), u.product.as_deref()),
            ("unknown", None)
        );
        keep.abort();
        // SSH on a port whose probes are for others: the greeting wins.
        let ssh = fake(b"SSH-2.0-OpenSSH_9.6\r\n", true).await;
        assert_eq!(identify(ssh, t).await.unwrap().service, "ssh");
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("aé", 2), "a");
        assert_eq!(cut("aé", 3), "aé");
        assert_eq!(cut("日本", 4), "日");
        assert_eq!(cut("", 5), "");
    }
}
