//! Exposures: services in the state intruders and cryptominer botnets look
//! for (no authentication, management APIs in the clear). Each is a fact the
//! probe established, not a guess from the port number.

use super::ServiceInfo;
use serde::Serialize;
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exposure {
    /// Stable identifier, e.g. `redis-no-auth`.
    pub id: &'static str,
    /// `critical`, `high` or `medium`.
    pub severity: &'static str,
    /// MITRE ATT&CK technique.
    pub mitre: &'static str,
    pub title: String,
}

fn e(id: &'static str, severity: &'static str, mitre: &'static str, title: &str) -> Exposure {
    Exposure {
        id,
        severity,
        mitre,
        title: title.to_string(),
    }
}

/// Adds the exposures `i` shows on `addr`.
pub fn assess(addr: SocketAddr, mut i: ServiceInfo) -> ServiceInfo {
    let product = i.product.clone().unwrap_or_default();
    let none = i.auth == "none";
    let remote = !addr.ip().is_loopback();
    let mut x = Vec::new();
    match (i.service.as_str(), product.as_str()) {
        ("redis", _) if none => x.push(e(
            "redis-no-auth",
            "high",
            "T1190",
            "Redis answers without authentication",
        )),
        // memcached has no authentication in its text protocol: reachable
        // from elsewhere means readable and writable by anyone there.
        ("memcached", _) if remote && i.auth != "required" => x.push(e(
            "memcached-exposed",
            "high",
            "T1190",
            "memcached reachable beyond loopback",
        )),
        ("http", "Docker Engine API") => x.push(e(
            "docker-api-no-tls",
            "critical",
            "T1610",
            "Docker Engine API without TLS",
        )),
        ("http", "kubelet") if none => x.push(e(
            "kubelet-anonymous",
            "critical",
            "T1610",
            "kubelet allows anonymous access",
        )),
        ("http", "Kubernetes API") if none => x.push(e(
            "kubernetes-api-insecure",
            "critical",
            "T1610",
            "Kubernetes API served without TLS",
        )),
        ("http", "Elasticsearch" | "OpenSearch") if none => x.push(e(
            "elasticsearch-no-security",
            "high",
            "T1190",
            &format!("{product} without security (no authentication)"),
        )),
        ("mongodb", _) if none => x.push(e(
            "mongodb-no-auth",
            "high",
            "T1190",
            "MongoDB without authentication",
        )),
        ("postgresql", _) if none => x.push(e(
            "postgresql-trust",
            "high",
            "T1190",
            "PostgreSQL lets this host in without a password (trust)",
        )),
        ("vnc", _) if none => x.push(e("vnc-no-auth", "high", "T1133", "VNC without a password")),
        ("snmp", _) if none => x.push(e(
            "snmp-public",
            "medium",
            "T1602",
            "SNMP answers the community \"public\"",
        )),
        ("rdp", _) if i.auth != "required" => x.push(e(
            "rdp-no-nla",
            "medium",
            "T1133",
            "RDP without Network Level Authentication",
        )),
        _ => {}
    }
    i.exposures = x;
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 1)
    }

    #[test]
    fn only_established_facts() {
        let mut r = ServiceInfo::new("redis");
        r.auth = "none".into();
        assert_eq!(
            assess(at("10.0.0.1"), r.clone()).exposures[0].id,
            "redis-no-auth"
        );
        r.auth = "required".into();
        assert!(assess(at("10.0.0.1"), r).exposures.is_empty());
        let m = ServiceInfo::new("memcached");
        assert!(assess(at("127.0.0.1"), m.clone()).exposures.is_empty());
        assert_eq!(assess(at("10.0.0.1"), m).exposures[0].mitre, "T1190");
        let d = ServiceInfo::new("http").product("Docker Engine API", None);
        assert_eq!(assess(at("10.0.0.1"), d).exposures[0].mitre, "T1610");
    }
}
