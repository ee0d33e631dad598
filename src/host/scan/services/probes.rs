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
        kind: Kind::Custom(|a, d| Box::pin(super::postgres::probe(a, d))),
    },
    Probe {
        ports: &[27017, 27018, 27019],
        kind: Kind::Custom(|a, d| Box::pin(super::mongodb::probe(a, d))),
    },
    Probe {
        ports: &[3389],
        kind: Kind::Custom(|a, d| Box::pin(super::rdp::probe(a, d))),
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
}
