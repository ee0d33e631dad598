//! Services that speak first: SSH, MySQL/MariaDB, FTP, SMTP, POP3, IMAP,
//! VNC. The greeting names most of them; on the same connection hound then
//! asks for capabilities (FEAT, EHLO, CAPA, CAPABILITY) or, for VNC, the
//! security types, and says goodbye.

use super::{first_line, lossless, read_until, ServiceInfo};
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Mail and FTP products whose greeting names them; a version follows the
/// name when the server tells it (`ProFTPD 1.3.8`, `Exim 4.96`).
const PRODUCTS: &[(&str, &str)] = &[
    ("vsftpd", "vsftpd"),
    ("proftpd", "ProFTPD"),
    ("pure-ftpd", "Pure-FTPd"),
    ("filezilla", "FileZilla"),
    ("postfix", "Postfix"),
    ("exim", "Exim"),
    ("sendmail", "Sendmail"),
    ("opensmtpd", "OpenSMTPD"),
    ("dovecot", "Dovecot"),
    ("cyrus", "Cyrus"),
    ("courier", "Courier"),
    ("microsoft", "Microsoft"),
];

fn known_product(line: &str) -> (Option<String>, Option<String>) {
    let low = line.to_ascii_lowercase();
    for (key, name) in PRODUCTS {
        if let Some(at) = low.find(key) {
            let after = &line[at + key.len()..];
            let v = after
                .split_whitespace()
                .next()
                .map(|w| w.trim_end_matches([')', ',', ';', ']']))
                .filter(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                .map(String::from);
            return (Some(name.to_string()), v);
        }
    }
    (None, None)
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

/// Names the service from its greeting alone.
pub fn classify(port: u16, b: &[u8]) -> ServiceInfo {
    let mut i = ServiceInfo::new("unknown");
    if b.is_empty() {
        return i;
    }
    let line = first_line(b);
    i.banner = Some(line.clone());
    if b.starts_with(b"SSH-") {
        i.service = "ssh".into();
        // SSH-2.0-OpenSSH_9.2p1 Debian-2
        if let Some(sw) = line.splitn(3, '-').nth(2) {
            let word = sw.split_whitespace().next().unwrap_or("");
            let (p, v) = word.split_once('_').unwrap_or((word, ""));
            if !p.is_empty() {
                i = i.product(p, Some(v.to_string()));
            }
            i.extra = sw.split_once(' ').map(|(_, c)| c.to_string());
        }
    } else if is_mysql(b) {
        i.service = "mysql".into();
        if b[4] == 0x0a {
            let v = &b[5..];
            let end = v.iter().position(|&c| c == 0).unwrap_or(v.len().min(64));
            let ver = lossless(&v[..end]);
            i.banner = Some(ver.clone());
            if ver.contains("MariaDB") {
                let v = ver.strip_prefix("5.5.5-").unwrap_or(&ver);
                i = i.product("MariaDB", v.split("-MariaDB").next().map(String::from));
            } else {
                i = i.product("MySQL", Some(ver));
            }
        } else {
            let msg = first_line(b.get(7..).unwrap_or_default());
            i.extra = Some(msg.clone());
            i.banner = Some(msg);
        }
    } else if b.starts_with(b"RFB ") {
        i.service = "vnc".into();
        let v = line.trim_start_matches("RFB ").trim();
        let proto = v
            .split('.')
            .map(|n| n.trim_start_matches('0'))
            .map(|n| if n.is_empty() { "0" } else { n })
            .collect::<Vec<_>>()
            .join(".");
        i.product = Some("VNC".into());
        i.extra = Some(format!("protocol {proto}"));
    } else if b.starts_with(b"220") {
        let up = line.to_ascii_uppercase();
        i.service = if up.contains("FTP") || port == 21 {
            "ftp"
        } else if up.contains("SMTP") || matches!(port, 25 | 465 | 587) {
            "smtp"
        } else {
            "unknown"
        }
        .into();
        (i.product, i.version) = known_product(&line);
    } else if b.starts_with(b"500 OOPS: vsftpd") {
        // vsftpd refusing every login still names itself.
        i.service = "ftp".into();
        i.product = Some("vsftpd".into());
        i.extra = Some(line.clone());
    } else if b.starts_with(b"+OK") {
        i.service = "pop3".into();
        (i.product, i.version) = known_product(&line);
    } else if b.starts_with(b"* OK") {
        i.service = "imap".into();
        (i.product, i.version) = known_product(&line);
    }
    i
}

/// The capabilities in an answer to FEAT, EHLO, CAPA or CAPABILITY.
fn caps(service: &str, text: &str) -> Option<String> {
    let v: Vec<&str> = match service {
        // 250-name, 250-CAP..., 250 CAP: all but the first.
        "smtp" => text
            .lines()
            .filter_map(|l| l.strip_prefix("250-").or_else(|| l.strip_prefix("250 ")))
            .skip(1)
            .collect(),
        // 211-Features:, " CAP" lines, 211 End.
        "ftp" => text
            .lines()
            .filter(|l| l.starts_with(' '))
            .map(str::trim)
            .collect(),
        // +OK, CAP lines, "."
        "pop3" => text
            .lines()
            .skip_while(|l| !l.starts_with("+OK"))
            .skip(1)
            .take_while(|l| l.trim() != ".")
            .collect(),
        "imap" => text
            .lines()
            .find_map(|l| l.strip_prefix("* CAPABILITY "))
            .map(|c| c.split_whitespace().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let v: Vec<&str> = v
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .take(30)
        .collect();
    Some(super::cut(&v.join(", "), 300).to_string()).filter(|s| !s.is_empty())
}

/// Classifies the greeting and asks for more on the same connection.
pub async fn identify(s: &mut TcpStream, port: u16, b: &[u8], deadline: Instant) -> ServiceInfo {
    let mut i = classify(port, b);
    let ask: &[u8] = match i.service.as_str() {
        "ftp" => b"FEAT\r\nQUIT\r\n",
        "smtp" => b"EHLO hound\r\nQUIT\r\n",
        "pop3" => b"CAPA\r\nQUIT\r\n",
        "imap" => b"a CAPABILITY\r\nb LOGOUT\r\n",
        "vnc" => b"RFB 003.008\n",
        _ => return i,
    };
    let mut more = Vec::new();
    if s.write_all(ask).await.is_ok() {
        let done: fn(&[u8]) -> bool = if i.service == "vnc" {
            |b| !b.is_empty() && b.len() > usize::from(b[0])
        } else {
            super::never
        };
        read_until(s, &mut more, deadline, done).await;
    }
    if i.service == "vnc" {
        vnc_security(&mut i, &more);
        return i;
    }
    let text = lossless(&more[..more.len().min(16384)]);
    // IMAP often lists capabilities in its greeting already.
    let greeting = lossless(&b[..b.len().min(4096)]);
    i.extra = caps(&i.service, &text).or_else(|| {
        let g = greeting.replacen("* OK [CAPABILITY ", "* CAPABILITY ", 1);
        caps(&i.service, &g)
    });
    i
}

/// RFB 3.7+: a count, then the security types; type 1 is "None".
fn vnc_security(i: &mut ServiceInfo, b: &[u8]) {
    let Some((&n, types)) = b.split_first() else {
        return;
    };
    if n == 0 {
        return;
    }
    let types = &types[..usize::from(n).min(types.len())];
    let names: Vec<&str> = types
        .iter()
        .map(|t| match t {
            1 => "none",
            2 => "vnc-auth",
            16 => "tight",
            18 => "tls",
            19 => "vencrypt",
            30 => "apple",
            _ => "other",
        })
        .collect();
    i.auth = if types.contains(&1) {
        "none"
    } else {
        "required"
    }
    .into();
    let proto = i.extra.take().unwrap_or_default();
    i.extra = Some(format!("{proto}, security {}", names.join(" ")));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(i: &ServiceInfo) -> (&str, Option<&str>, Option<&str>) {
        (
            i.service.as_str(),
            i.product.as_deref(),
            i.version.as_deref(),
        )
    }

    #[test]
    fn classifies_greetings() {
        let s = classify(22, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
        assert_eq!(pv(&s), ("ssh", Some("OpenSSH"), Some("9.2p1")));
        assert_eq!(s.extra.as_deref(), Some("Debian-2+deb12u3"));
        let mut my = vec![0x2e, 0, 0, 0, 0x0a];
        my.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0rest");
        assert_eq!(
            pv(&classify(3306, &my)),
            ("mysql", Some("MariaDB"), Some("10.11.6"))
        );
        assert_eq!(
            pv(&classify(25, b"220 mx ESMTP Postfix (Debian/GNU)\r\n")),
            ("smtp", Some("Postfix"), None)
        );
        assert_eq!(
            pv(&classify(21, b"220 (vsFTPd 3.0.3)\r\n")),
            ("ftp", Some("vsftpd"), Some("3.0.3"))
        );
        assert_eq!(
            pv(&classify(2121, b"220 ProFTPD 1.3.8 Server (Debian)\r\n")),
            ("ftp", Some("ProFTPD"), Some("1.3.8"))
        );
        assert_eq!(classify(110, b"+OK Dovecot ready.\r\n").service, "pop3");
        assert_eq!(
            pv(&classify(
                143,
                b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"
            )),
            ("imap", Some("Dovecot"), None)
        );
        let v = classify(5901, b"RFB 003.008\n");
        assert_eq!(
            (v.service.as_str(), v.extra.as_deref()),
            ("vnc", Some("protocol 3.8"))
        );
        assert_eq!(
            classify(9999, b"\x1b[2Jhi").banner.as_deref(),
            Some("\u{1b}[2Jhi")
        );
    }

    #[test]
    fn vnc_without_password_is_auth_none() {
        let mut v = classify(5900, b"RFB 003.008\n");
        vnc_security(&mut v, &[2, 1, 2]);
        assert_eq!(v.auth, "none");
        assert_eq!(
            v.extra.as_deref(),
            Some("protocol 3.8, security none vnc-auth")
        );
    }

    #[test]
    fn smtp_capabilities() {
        let c = caps(
            "smtp",
            "250-mx\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n221 2.0.0 Bye\r\n",
        );
        assert_eq!(c.as_deref(), Some("PIPELINING, STARTTLS, SMTPUTF8"));
        let f = caps(
            "ftp",
            "211-Features:\r\n EPRT\r\n UTF8\r\n211 End\r\n221 Goodbye.\r\n",
        );
        assert_eq!(f.as_deref(), Some("EPRT, UTF8"));
        let p = caps("pop3", "+OK\r\nTOP\r\nUIDL\r\n.\r\n+OK bye\r\n");
        assert_eq!(p.as_deref(), Some("TOP, UIDL"));
    }
}
