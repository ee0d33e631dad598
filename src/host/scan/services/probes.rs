//! The probe table for services that wait for the client: what to send,
//! when the answer is complete, and how to read it. Written for hound from
//! the protocols' specifications (nmap's probe database is under a licence
//! hound cannot ship). Payloads end with the protocol's "quit" where it has
//! one, so the server closes and the answer is complete without waiting.

use super::{exchange, http, lossless, ServiceInfo};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

type Fut = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// What a probe learnt: a match, or the raw bytes it got (for the banner
/// and TLS detection) when its parser did not recognise them.
pub enum Outcome {
    Match(Box<ServiceInfo>),
    Raw(Vec<u8>),
}

pub enum Kind {
    /// Send `payload`, read until `done`, `parse`.
    Exchange {
        payload: &'static [u8],
        done: fn(&[u8]) -> bool,
        parse: fn(&[u8]) -> Option<ServiceInfo>,
    },
    /// A dialogue that needs code (several steps, or computed payloads).
    Custom(fn(SocketAddr, Instant) -> Fut),
}

pub struct Probe {
    /// Ports where this service usually listens: probed first, alone.
    pub ports: &'static [u16],
    pub kind: Kind,
}

pub static PROBES: &[Probe] = &[
    Probe {
        ports: &[6379, 6380, 16379, 26379],
        kind: Kind::Exchange {
            payload: b"PING\r\nINFO\r\nQUIT\r\n",
            done: |b| b.ends_with(b"+OK\r\n"),
            parse: redis,
        },
    },
    Probe {
        ports: &[11211],
        kind: Kind::Exchange {
            payload: b"version\r\nstats\r\nquit\r\n",
            done: |b| b.ends_with(b"END\r\n") || b.ends_with(b"ERROR\r\n"),
            parse: memcached,
        },
    },
    Probe {
        ports: &[5432, 5433],
        kind: Kind::Custom(|a, d| Box::pin(postgres(a, d))),
    },
    Probe {
        ports: &[27017, 27018, 27019],
        kind: Kind::Custom(|a, d| Box::pin(mongodb(a, d))),
    },
    Probe {
        ports: &[3389],
        kind: Kind::Custom(|a, d| Box::pin(rdp_probe(a, d))),
    },
    Probe {
        ports: &[445, 139],
        kind: Kind::Custom(|a, d| Box::pin(super::smb::probe(a, d))),
    },
    Probe {
        ports: &[53],
        kind: Kind::Exchange {
            // version.bind over TCP: the UDP query behind a length prefix.
            payload: b"\0\x1e\x48\x44\0\0\0\x01\0\0\0\0\0\0\x07version\x04bind\0\0\x10\0\x03",
            done: |b| b.len() >= 2 && b.len() >= 2 + usize::from(u16::from_be_bytes([b[0], b[1]])),
            parse: |b| super::udp::dns_parse(b.get(2..)?, 0x4844),
        },
    },
    Probe {
        ports: &[389, 3268],
        kind: Kind::Custom(|a, d| Box::pin(super::ldap::probe(a, d))),
    },
    Probe {
        ports: &[
            80, 81, 591, 2375, 2379, 2380, 3000, 4194, 5000, 5601, 8000, 8008, 8080, 8081, 8088,
            8888, 9000, 9090, 9091, 9093, 9100, 9200, 9300, 10255,
        ],
        kind: Kind::Custom(|a, d| Box::pin(http::probe(a, d))),
    },
];

/// The probes `port` suggests.
pub fn hinted(port: u16) -> Vec<&'static Probe> {
    PROBES.iter().filter(|p| p.ports.contains(&port)).collect()
}

/// The probes `port` does not suggest.
pub fn rest(port: u16) -> Vec<&'static Probe> {
    PROBES.iter().filter(|p| !p.ports.contains(&port)).collect()
}

async fn run(p: &'static Probe, addr: SocketAddr, deadline: Instant) -> Option<Outcome> {
    match &p.kind {
        Kind::Exchange {
            payload,
            done,
            parse,
        } => {
            let b = exchange(addr, payload, deadline, *done).await?;
            Some(match parse(&b) {
                Some(i) => Outcome::Match(Box::new(i)),
                None => Outcome::Raw(b),
            })
        }
        Kind::Custom(f) => Some(f(addr, deadline).await),
    }
}

/// Runs `set` concurrently; the first match wins and the others are
/// dropped. Also returns the first raw answer seen.
pub async fn race(
    addr: SocketAddr,
    set: Vec<&'static Probe>,
    deadline: Instant,
) -> (Option<ServiceInfo>, Vec<u8>) {
    let mut js = JoinSet::new();
    for p in set {
        js.spawn(run(p, addr, deadline));
    }
    let mut raw = Vec::new();
    while let Some(r) = js.join_next().await {
        match r {
            Ok(Some(Outcome::Match(i))) => return (Some(*i), raw),
            Ok(Some(Outcome::Raw(b))) if raw.is_empty() => raw = b,
            _ => {}
        }
    }
    (None, raw)
}

/// `key:value` from a `\r\n`-separated listing.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

fn redis(b: &[u8]) -> Option<ServiceInfo> {
    let t = lossless(&b[..b.len().min(65536)]);
    let mut i = ServiceInfo::new("redis").product("Redis", field(&t, "redis_version"));
    if t.starts_with("+PONG") || t.contains("redis_version:") {
        i.auth = "none".into();
        let extra: Vec<String> = [("role", "role"), ("redis_mode", "mode"), ("os", "os")]
            .iter()
            .filter_map(|(k, n)| field(&t, k).map(|v| format!("{n} {v}")))
            .collect();
        i.extra = Some(extra.join(", ")).filter(|e| !e.is_empty());
    } else if t.starts_with("-NOAUTH") || t.starts_with("-WRONGPASS") {
        i.auth = "required".into();
    } else if t.starts_with("-DENIED") {
        // Protected mode: no password set, but it refuses remote clients.
        i.auth = "required".into();
        i.extra = Some("protected mode".into());
    } else {
        return None;
    }
    Some(i)
}

fn memcached(b: &[u8]) -> Option<ServiceInfo> {
    let t = lossless(&b[..b.len().min(65536)]);
    let v = t.strip_prefix("VERSION ")?;
    let version = v.lines().next().map(|s| s.trim().to_string());
    let mut i = ServiceInfo::new("memcached").product("memcached", version);
    let stat = |k: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix(&format!("STAT {k} ")).map(String::from))
    };
    if t.contains("\nSTAT ") {
        i.auth = "none".into();
        let extra: Vec<String> = ["curr_items", "curr_connections"]
            .iter()
            .filter_map(|k| stat(k).map(|v| format!("{k} {v}")))
            .collect();
        i.extra = Some(extra.join(", ")).filter(|e| !e.is_empty());
    } else if t.contains("unauthenticated") {
        i.auth = "required".into();
    }
    Some(i)
}

/// Two X.224 connection requests, concurrently: one with an RDP_NEG_REQ
/// asking for TLS and CredSSP (the answer tells the security), one without,
/// followed by a malformed MCS request: xrdp answers that with a disconnect
/// ultimatum, Windows hangs up.
async fn rdp_probe(addr: SocketAddr, deadline: Instant) -> Outcome {
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
/// Trust authentication also reveals `server_version`.
async fn postgres(addr: SocketAddr, deadline: Instant) -> Outcome {
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

/// A BSON document of string, int32 and bool elements.
fn bson(fields: &[(&str, Bson)]) -> Vec<u8> {
    let mut d = Vec::new();
    for (k, v) in fields {
        let (tag, val) = match v {
            Bson::I32(n) => (0x10, n.to_le_bytes().to_vec()),
            Bson::Bool(b) => (0x08, vec![u8::from(*b)]),
            Bson::Str(s) => {
                let mut x = ((s.len() + 1) as u32).to_le_bytes().to_vec();
                x.extend_from_slice(s.as_bytes());
                x.push(0);
                (0x02, x)
            }
        };
        d.push(tag);
        d.extend_from_slice(k.as_bytes());
        d.push(0);
        d.extend_from_slice(&val);
    }
    d.push(0);
    let mut out = ((d.len() + 4) as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&d);
    out
}

enum Bson {
    I32(i32),
    Bool(bool),
    Str(&'static str),
}

/// OP_MSG (opcode 2013) carrying one body section.
fn op_msg(id: i32, doc: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((doc.len() + 21) as i32).to_le_bytes());
    m.extend_from_slice(&id.to_le_bytes());
    m.extend_from_slice(&0i32.to_le_bytes());
    m.extend_from_slice(&2013i32.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.push(0);
    m.extend_from_slice(doc);
    m
}

/// Top-level string and number fields of a BSON document.
fn bson_fields(d: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut p = 4;
    while p < d.len() && d[p] != 0 {
        let tag = d[p];
        let Some(kend) = d[p + 1..].iter().position(|&c| c == 0) else {
            break;
        };
        let key = lossless(&d[p + 1..p + 1 + kend]);
        let v = p + 2 + kend;
        let le32 = |o: usize| -> Option<usize> {
            Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?) as usize)
        };
        let (val, size) = match tag {
            0x01 => (
                d.get(v..v + 8)
                    .and_then(|x| x.try_into().ok())
                    .map(|x| f64::from_le_bytes(x).to_string()),
                8,
            ),
            0x02 => {
                let Some(n) = le32(v) else { break };
                (
                    d.get(v + 4..v + 4 + n.saturating_sub(1)).map(lossless),
                    4 + n,
                )
            }
            0x03 | 0x04 => (None, le32(v).unwrap_or(usize::MAX / 2)),
            0x08 => (d.get(v).map(|b| (*b != 0).to_string()), 1),
            0x10 => (le32(v).map(|n| (n as i32).to_string()), 4),
            0x09 | 0x11 | 0x12 => (None, 8),
            0x07 => (None, 12),
            0x0a => (None, 0),
            _ => break,
        };
        if let Some(val) = val {
            out.push((key, val));
        }
        p = v.saturating_add(size);
    }
    out
}

/// Replies to OP_MSG requests: each reply's body document fields.
fn mongo_replies(b: &[u8]) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + 21 <= b.len() {
        let len = u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]) as usize;
        let op = u32::from_le_bytes([b[p + 12], b[p + 13], b[p + 14], b[p + 15]]);
        if len < 21 || p + len > b.len() || op != 2013 {
            break;
        }
        if b[p + 20] == 0 {
            out.push(bson_fields(&b[p + 21..p + len]));
        }
        p += len;
    }
    out
}

/// `buildInfo` (allowed without credentials) for the version, then
/// `listDatabases`, which only a server without authorization answers.
async fn mongodb(addr: SocketAddr, deadline: Instant) -> Outcome {
    let mut req = op_msg(
        1,
        &bson(&[("buildInfo", Bson::I32(1)), ("$db", Bson::Str("admin"))]),
    );
    req.extend_from_slice(&op_msg(
        2,
        &bson(&[
            ("listDatabases", Bson::I32(1)),
            ("nameOnly", Bson::Bool(true)),
            ("$db", Bson::Str("admin")),
        ]),
    ));
    let b = exchange(addr, &req, deadline, |b| mongo_replies(b).len() >= 2)
        .await
        .unwrap_or_default();
    match mongo_parse(&b) {
        Some(i) => Outcome::Match(Box::new(i)),
        None => Outcome::Raw(b),
    }
}

pub fn mongo_parse(b: &[u8]) -> Option<ServiceInfo> {
    let replies = mongo_replies(b);
    let first = replies.first()?;
    let get =
        |r: &Vec<(String, String)>, k: &str| r.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    get(first, "ok")?;
    let mut i = ServiceInfo::new("mongodb").product("MongoDB", get(first, "version"));
    if let Some(second) = replies.get(1) {
        i.auth = match get(second, "ok").as_deref() {
            Some("1") => "none",
            _ if get(second, "codeName").as_deref() == Some("Unauthorized") => "required",
            _ => "unknown",
        }
        .into();
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_answers() {
        let open = redis(b"+PONG\r\n$100\r\n# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux\r\n# Replication\r\nrole:master\r\n\r\n+OK\r\n").unwrap();
        assert_eq!(open.version.as_deref(), Some("7.0.15"));
        assert_eq!(open.auth, "none");
        assert_eq!(
            open.extra.as_deref(),
            Some("role master, mode standalone, os Linux")
        );
        let locked = redis(
            b"-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n+OK\r\n",
        )
        .unwrap();
        assert_eq!((locked.auth.as_str(), locked.version), ("required", None));
        assert!(redis(b"HTTP/1.1 400 Bad Request\r\n").is_none());
    }

    #[test]
    fn dns_over_tcp_payload_is_the_udp_query() {
        let Kind::Exchange { payload, .. } = &hinted(53)[0].kind else {
            panic!("53 is an exchange");
        };
        assert_eq!(&payload[2..], &super::super::udp::dns_query(0x4844)[..]);
        assert_eq!(usize::from(payload[1]), payload.len() - 2);
    }

    #[test]
    fn memcached_answers() {
        let m = memcached(b"VERSION 1.6.18\r\nSTAT pid 1\r\nSTAT curr_items 3\r\nEND\r\n").unwrap();
        assert_eq!(
            (m.version.as_deref(), m.auth.as_str()),
            (Some("1.6.18"), "none")
        );
        assert!(memcached(b"-ERR unknown command").is_none());
    }

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

    #[test]
    fn mongodb_replies() {
        let r1 = op_msg(
            0,
            &bson(&[("version", Bson::Str("7.0.2")), ("ok", Bson::I32(1))]),
        );
        // `ok` is a double in real replies.
        let mut doc = vec![];
        doc.push(0x01);
        doc.extend_from_slice(b"ok\0");
        doc.extend_from_slice(&0f64.to_le_bytes());
        doc.extend(bson(&[("codeName", Bson::Str("Unauthorized"))])[4..].iter());
        let mut d2 = ((doc.len() + 4) as u32).to_le_bytes().to_vec();
        d2.extend_from_slice(&doc);
        let mut b = r1;
        b.extend_from_slice(&op_msg(0, &d2));
        let i = mongo_parse(&b).unwrap();
        assert_eq!(
            (i.version.as_deref(), i.auth.as_str()),
            (Some("7.0.2"), "required")
        );
    }
}
