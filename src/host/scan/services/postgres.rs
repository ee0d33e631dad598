//! PostgreSQL: does it offer TLS, and what authentication does it ask of a
//! client it has never seen. No password is ever sent.

use super::probes::Outcome;
use super::{exchange, lossless, ServiceInfo};
use std::net::SocketAddr;
use std::time::Instant;

/// StartupMessage for user and database `hound`, protocol 3.0.
fn pg_startup() -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    for kv in [
        "user",
        "hound",
        "database",
        "hound",
        "application_name",
        "hound",
    ] {
        body.extend_from_slice(kv.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut m = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&body);
    m
}

/// SSLRequest on one connection (does it offer TLS?), a StartupMessage on
/// another: the first answer tells the authentication the server wants.
/// Under trust the server accepts first and then finds that no role
/// `hound` exists; it reports `server_version` only to a session that
/// starts, which hound does not open.
pub async fn probe(addr: SocketAddr, deadline: Instant) -> Outcome {
    const SSL_REQ: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let ssl = exchange(addr, SSL_REQ, deadline, |b| !b.is_empty()).await;
    let start = exchange(addr, &pg_startup(), deadline, pg_done).await;
    let ssl = ssl.unwrap_or_default();
    let start = start.unwrap_or_default();
    match pg_parse(&ssl, &start) {
        Some(i) => Outcome::Match(Box::new(i)),
        None => Outcome::Raw(if ssl.is_empty() { start } else { ssl }),
    }
}

/// Backend messages: (type, body).
fn pg_messages(b: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + 5 <= b.len() {
        let len = u32::from_be_bytes([b[p + 1], b[p + 2], b[p + 3], b[p + 4]]) as usize;
        if len < 4 || p + 1 + len > b.len() {
            break;
        }
        out.push((b[p], &b[p + 5..p + 1 + len]));
        p += 1 + len;
    }
    out
}

fn pg_done(b: &[u8]) -> bool {
    // An error, ready-for-query, or a request for credentials ends it.
    pg_messages(b).iter().any(|(t, body)| {
        *t == b'E' || *t == b'Z' || (*t == b'R' && body.get(..4).is_some_and(|c| c != [0; 4]))
    })
}

pub fn pg_parse(ssl: &[u8], start: &[u8]) -> Option<ServiceInfo> {
    let msgs = pg_messages(start);
    let ssl_ok = ssl == b"S" || ssl == b"N";
    if msgs.is_empty() && !ssl_ok {
        return None;
    }
    let mut i = ServiceInfo::new("postgresql").product("PostgreSQL", None);
    let mut extra = Vec::new();
    if ssl_ok {
        extra.push(if ssl == b"S" { "ssl offered" } else { "no ssl" }.to_string());
    }
    for (t, body) in msgs {
        match t {
            b'R' if body.len() >= 4 => {
                let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                let how = match code {
                    0 => "trust",
                    3 => "password (cleartext)",
                    5 => "md5",
                    7 | 8 => "gss",
                    9 => "sspi",
                    10 => "scram-sha-256",
                    _ => "other",
                };
                i.auth = if code == 0 { "none" } else { "required" }.into();
                extra.push(format!("auth {how}"));
            }
            b'S' => {
                let mut kv = body.split(|&c| c == 0);
                if let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                    if k == b"server_version" {
                        let v = lossless(v);
                        i.version = v.split_whitespace().next().map(String::from);
                    }
                }
            }
            b'E' => {
                let mut code = String::new();
                let mut msg = String::new();
                for f in body.split(|&c| c == 0) {
                    match f.first() {
                        Some(b'C') => code = lossless(&f[1..]),
                        Some(b'M') => msg = lossless(&f[1..]),
                        _ => {}
                    }
                }
                // 28000: pg_hba refuses this host/user; 28P01: bad password.
                if i.auth == "unknown" && code.starts_with("28") {
                    i.auth = "required".into();
                }
                if !msg.is_empty() {
                    extra.push(super::cut(&msg, 120).to_string());
                }
            }
            _ => {}
        }
    }
    i.extra = Some(extra.join(", ")).filter(|e| !e.is_empty());
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_auth() {
        let scram = [b'R', 0, 0, 0, 23, 0, 0, 0, 10]
            .iter()
            .chain(b"SCRAM-SHA-256\0\0")
            .copied()
            .collect::<Vec<u8>>();
        let i = pg_parse(b"N", &scram).unwrap();
        assert_eq!(i.auth, "required");
        assert_eq!(i.extra.as_deref(), Some("no ssl, auth scram-sha-256"));
        let mut trust = vec![b'R', 0, 0, 0, 8, 0, 0, 0, 0];
        let sv = b"server_version\x0015.10 (Debian 15.10-0+deb12u1)\0";
        trust.push(b'S');
        trust.extend_from_slice(&((sv.len() + 4) as u32).to_be_bytes());
        trust.extend_from_slice(sv);
        let t = pg_parse(b"S", &trust).unwrap();
        assert_eq!(
            (t.auth.as_str(), t.version.as_deref()),
            ("none", Some("15.10"))
        );
        assert!(pg_parse(b"", b"HTTP/1.1 400").is_none());
    }
}
