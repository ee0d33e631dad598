//! Service identification: connect, listen for a greeting, and if the
//! server waits for the client, send the probe its port suggests (HTTP,
//! RDP's X.224 connection request, PostgreSQL's SSLRequest). The answer is
//! classified from its first bytes. Everything read is attacker-controlled:
//! it is kept lossless (`\xNN` for bad bytes), cut short, and escaped by the
//! printers.

use super::connect::Collector;
use super::Progress;
use crate::text::lossless;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// What listens on a port.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServiceInfo {
    /// `ssh`, `http`, `mysql`, `postgresql`, `smtp`, `ftp`, `pop3`, `imap`,
    /// `rdp`, `tls`, or `unknown`.
    pub service: String,
    pub product: Option<String>,
    pub version: Option<String>,
    /// The greeting or the HTTP `Server` header, first line, at most 200 chars.
    pub banner: Option<String>,
    /// The HTTP page title, when there is one.
    pub title: Option<String>,
    /// TLS services: the certificate's subject and issuer (`CN=…, O=…`),
    /// read from a TLS 1.2 handshake, not verified.
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
}

/// One identified port.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceResult {
    pub ip: String,
    pub port: u16,
    #[serde(flatten)]
    pub info: ServiceInfo,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// Ports where TLS comes first (HTTPS, SMTPS, LDAPS, DoT, IMAPS, POP3S).
fn tls_first(port: u16) -> bool {
    matches!(port, 443 | 465 | 636 | 853 | 993 | 995 | 4443 | 8443 | 9443)
}

/// Ports where the client speaks first, so waiting for a greeting is wasted.
fn client_first(port: u16) -> bool {
    matches!(
        port,
        80 | 81
            | 443
            | 591
            | 3000
            | 3389
            | 5000
            | 5432
            | 8000
            | 8008
            | 8080
            | 8081
            | 8443
            | 8888
            | 9000
            | 9090
    )
}

const RDP_CR: &[u8] = &[3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0];
const PG_SSL: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Reads until EOF, `limit` bytes, the deadline, or a pause once data came.
async fn read_some(s: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant) {
    let mut chunk = [0u8; 4096];
    while buf.len() < 65536 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let wait = if buf.is_empty() {
            deadline - now
        } else {
            (deadline - now).min(Duration::from_millis(300))
        };
        match tokio::time::timeout(wait, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Connects to `addr` and identifies the service; `None` when it cannot connect.
pub async fn identify(addr: SocketAddr, timeout: Duration) -> Option<ServiceInfo> {
    let port = addr.port();
    if tls_first(port) {
        // One connection at a time: a single-threaded server would serve an
        // idle first connection and leave the handshake waiting.
        if let Some(i) = tls(addr, timeout).await {
            return Some(i);
        }
    }
    let mut s = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let mut buf = Vec::new();
    if !client_first(port) {
        read_some(
            &mut s,
            &mut buf,
            Instant::now() + timeout.min(Duration::from_millis(1500)),
        )
        .await;
    }
    let mut sent: Option<&str> = None;
    if buf.is_empty() {
        let (kind, probe): (&str, Vec<u8>) = match port {
            3389 => ("rdp", RDP_CR.to_vec()),
            5432 => ("pg", PG_SSL.to_vec()),
            _ => (
                "http",
                format!(
                    "GET / HTTP/1.0\r\nHost: {}\r\nUser-Agent: hound\r\nAccept: */*\r\n\r\n",
                    addr.ip()
                )
                .into_bytes(),
            ),
        };
        if s.write_all(&probe).await.is_ok() {
            sent = Some(kind);
            read_some(&mut s, &mut buf, Instant::now() + timeout).await;
        }
    }
    let info = classify(port, &buf, sent);
    if info.service == "tls" {
        // Our plaintext probe met a TLS server: ask again in its language.
        drop(s);
        return Some(tls(addr, timeout).await.unwrap_or(info));
    }
    Some(info)
}

/// A TLS handshake up to the server's certificate, on a new connection.
async fn tls(addr: SocketAddr, timeout: Duration) -> Option<ServiceInfo> {
    let mut s = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    s.write_all(&super::tls::client_hello(None)).await.ok()?;
    let mut buf = Vec::new();
    read_some(&mut s, &mut buf, Instant::now() + timeout).await;
    if buf.first() != Some(&0x16) && buf.first() != Some(&0x15) {
        return None;
    }
    let mut i = ServiceInfo {
        service: "tls".into(),
        ..Default::default()
    };
    if let Some((sub, iss)) =
        super::tls::first_certificate(&buf).and_then(|c| super::tls::names(&c))
    {
        i.banner = Some(sub.chars().take(200).collect());
        i.cert_subject = Some(sub);
        i.cert_issuer = Some(iss);
    }
    Some(i)
}

fn first_line(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    let mut s = lossless(&b[..end]);
    s = s.trim_end_matches('\r').to_string();
    if s.chars().count() > 200 {
        s = s.chars().take(200).collect();
    }
    s
}

fn split_product(s: &str, sep: char) -> (Option<String>, Option<String>) {
    let word = s.split_whitespace().next().unwrap_or("");
    match word.split_once(sep) {
        Some((p, v)) if !p.is_empty() => (
            Some(p.to_string()),
            Some(v.to_string()).filter(|v| !v.is_empty()),
        ),
        _ => (Some(word.to_string()).filter(|w| !w.is_empty()), None),
    }
}

const MAIL_FTP_PRODUCTS: &[&str] = &[
    "Postfix",
    "Exim",
    "Sendmail",
    "OpenSMTPD",
    "vsFTPd",
    "ProFTPD",
    "Pure-FTPd",
    "FileZilla",
    "Dovecot",
    "Cyrus",
    "Courier",
    "Microsoft",
];

fn known_product(line: &str) -> Option<String> {
    let low = line.to_ascii_lowercase();
    MAIL_FTP_PRODUCTS
        .iter()
        .find(|p| low.contains(&p.to_ascii_lowercase()))
        .map(|p| p.to_string())
}

/// A MySQL/MariaDB first packet: 3-byte length, sequence 0, then protocol
/// 10 (handshake) or 0xff (an error such as "host not allowed").
fn is_mysql(b: &[u8]) -> bool {
    if b.len() <= 5 {
        return false;
    }
    let len = usize::from(b[0]) | usize::from(b[1]) << 8 | usize::from(b[2]) << 16;
    b[3] == 0 && (b[4] == 0x0a || b[4] == 0xff) && (1..4096).contains(&len)
}

/// Names the service from the bytes it sent.
pub fn classify(port: u16, b: &[u8], sent: Option<&str>) -> ServiceInfo {
    let mut i = ServiceInfo {
        service: "unknown".into(),
        ..Default::default()
    };
    if b.is_empty() {
        return i;
    }
    i.banner = Some(first_line(b));
    if b.starts_with(b"SSH-") {
        i.service = "ssh".into();
        let line = first_line(b);
        // SSH-2.0-OpenSSH_9.2p1 Debian-2
        if let Some(sw) = line.splitn(3, '-').nth(2) {
            let (p, v) = split_product(sw, '_');
            i.product = p;
            i.version = v;
        }
    } else if is_mysql(b) {
        i.service = "mysql".into();
        if b[4] == 0x0a {
            let v = &b[5..];
            let end = v.iter().position(|&c| c == 0).unwrap_or(v.len().min(64));
            let ver = lossless(&v[..end]);
            i.banner = Some(ver.clone());
            if ver.contains("MariaDB") {
                i.product = Some("MariaDB".into());
                let v = ver.strip_prefix("5.5.5-").unwrap_or(&ver);
                i.version = v.split("-MariaDB").next().map(String::from);
            } else {
                i.product = Some("MySQL".into());
                i.version = Some(ver);
            }
        } else {
            i.banner = Some(first_line(b.get(7..).unwrap_or_default()));
        }
    } else if b.starts_with(b"HTTP/") {
        i.service = "http".into();
        let text = lossless(&b[..b.len().min(16384)]);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        if let Some(server) = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("server")
                .then(|| v.trim().to_string())
        }) {
            let (p, v) = split_product(&server, '/');
            i.product = p;
            i.version = v;
            i.banner = Some(server.chars().take(200).collect());
        }
        let low = text.to_ascii_lowercase();
        if let Some(s) = low.find("<title>") {
            let rest = &text[s + 7..];
            let e = rest
                .to_ascii_lowercase()
                .find("</title>")
                .unwrap_or(rest.len().min(200));
            let t: String = rest[..e].split_whitespace().collect::<Vec<_>>().join(" ");
            i.title = Some(t.chars().take(200).collect());
        }
    } else if b.starts_with(b"220") {
        let line = first_line(b);
        let up = line.to_ascii_uppercase();
        i.service = if up.contains("FTP") || port == 21 {
            "ftp"
        } else if up.contains("SMTP") || matches!(port, 25 | 465 | 587) {
            "smtp"
        } else {
            "unknown"
        }
        .into();
        i.product = known_product(&line);
    } else if b.starts_with(b"+OK") {
        i.service = "pop3".into();
        i.product = known_product(&first_line(b));
    } else if b.starts_with(b"* OK") {
        i.service = "imap".into();
        i.product = known_product(&first_line(b));
    } else if b.len() >= 6 && b[0] == 3 && b[1] == 0 && b[5] == 0xd0 {
        i.service = "rdp".into();
        i.banner = None;
    } else if sent == Some("pg") && (b == b"S" || b == b"N" || b[0] == b'E') {
        i.service = "postgresql".into();
        i.product = Some("PostgreSQL".into());
        i.banner = None;
    } else if (b[0] == 0x15 || b[0] == 0x16) && b.get(1) == Some(&3) {
        i.service = "tls".into();
        i.banner = None;
    }
    i
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
    loop {
        while set.len() < concurrency.max(1) {
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

    #[test]
    fn classifies_greetings() {
        let s = classify(22, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", None);
        assert_eq!(
            (
                s.service.as_str(),
                s.product.as_deref(),
                s.version.as_deref()
            ),
            ("ssh", Some("OpenSSH"), Some("9.2p1"))
        );
        let mut my = vec![0x2e, 0, 0, 0, 0x0a];
        my.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0rest");
        let m = classify(3306, &my, None);
        assert_eq!(
            (
                m.service.as_str(),
                m.product.as_deref(),
                m.version.as_deref()
            ),
            ("mysql", Some("MariaDB"), Some("10.11.6"))
        );
        let h = classify(80, b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.62 (Debian)\r\n\r\n<html><title>It works</title>", Some("http"));
        assert_eq!(
            (
                h.service.as_str(),
                h.product.as_deref(),
                h.version.as_deref(),
                h.title.as_deref()
            ),
            ("http", Some("Apache"), Some("2.4.62"), Some("It works"))
        );
        assert_eq!(
            classify(25, b"220 mx ESMTP Postfix\r\n", None)
                .product
                .as_deref(),
            Some("Postfix")
        );
        assert_eq!(
            classify(3389, &[3, 0, 0, 19, 14, 0xd0, 0, 0], Some("rdp")).service,
            "rdp"
        );
        assert_eq!(classify(5432, b"N", Some("pg")).service, "postgresql");
        let ftp = classify(21, b"220 (vsFTPd 3.0.3)\r\n", None);
        assert_eq!(
            (ftp.service.as_str(), ftp.product.as_deref()),
            ("ftp", Some("vsFTPd"))
        );
        assert_eq!(
            classify(110, b"+OK Dovecot ready.\r\n", None).service,
            "pop3"
        );
        assert_eq!(
            classify(143, b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", None)
                .product
                .as_deref(),
            Some("Dovecot")
        );
        assert_eq!(
            classify(443, &[0x15, 3, 3, 0, 2, 2, 40], Some("http")).service,
            "tls"
        );
        assert_eq!(
            classify(9999, b"\x1b[2Jhi", None).banner.as_deref(),
            Some("\u{1b}[2Jhi")
        );
    }
}
