//! What a block is: an address or network, a direction, optionally a
//! protocol and port, as the set elements that express it.

use crate::error::{Error, Result};
use ipnet::IpNet;
use serde::Serialize;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Out,
    In,
}

impl Direction {
    /// `out`, `in` or `both` as the directions it covers.
    pub fn parse(s: &str) -> Result<Vec<Direction>> {
        match s {
            "out" => Ok(vec![Direction::Out]),
            "in" => Ok(vec![Direction::In]),
            "both" => Ok(vec![Direction::Out, Direction::In]),
            _ => Err(Error::invalid(format!(
                "direction {s:?}: expected \"out\", \"in\" or \"both\""
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
        }
    }
}

/// One block: network, direction and an optional protocol/port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub net: IpNet,
    pub direction: Direction,
    /// `tcp` or `udp` with a port, or neither.
    pub proto_port: Option<(String, u16)>,
}

pub fn parse_net(s: &str) -> Result<IpNet> {
    let t = s.trim();
    if t.contains('/') {
        IpNet::from_str(t)
            .map(|n| n.trunc())
            .map_err(|_| Error::invalid(format!("{t:?} is not a valid CIDR")))
    } else {
        IpAddr::from_str(t)
            .map(IpNet::from)
            .map_err(|_| Error::invalid(format!("{t:?} is not an IP address or CIDR")))
    }
}

impl Block {
    fn v6(&self) -> bool {
        matches!(self.net, IpNet::V6(_))
    }

    /// The set this block lives in: out4, in6p, ...
    pub fn set_name(&self) -> String {
        format!(
            "{}{}{}",
            self.direction.as_str(),
            if self.v6() { "6" } else { "4" },
            if self.proto_port.is_some() { "p" } else { "" }
        )
    }

    fn addr_expr(&self) -> Value {
        if self.net.prefix_len() == self.net.max_prefix_len() {
            json!(self.net.addr().to_string())
        } else {
            json!({ "prefix": { "addr": self.net.network().to_string(), "len": self.net.prefix_len() } })
        }
    }

    /// The element's key as nft's JSON writes it.
    pub fn key(&self) -> Value {
        match &self.proto_port {
            None => self.addr_expr(),
            Some((proto, port)) => json!({ "concat": [self.addr_expr(), proto, port] }),
        }
    }

    /// How a person writes this block: `10.0.0.196`, `10.0.0.0/24 tcp/80`.
    pub fn label(&self) -> String {
        let net = if self.net.prefix_len() == self.net.max_prefix_len() {
            self.net.addr().to_string()
        } else {
            self.net.to_string()
        };
        match &self.proto_port {
            None => net,
            Some((p, port)) => format!("{net} {p}/{port}"),
        }
    }
}

/// The sets hound uses, and the rules that drop what they hold.
pub fn set_names() -> Vec<String> {
    let mut v = Vec::new();
    for d in ["out", "in"] {
        for f in ["4", "6"] {
            for p in ["", "p"] {
                v.push(format!("{d}{f}{p}"));
            }
        }
    }
    v
}

/// The set declaration (typed address, or address . proto . port), with
/// timeouts for native expiry and a counter per element.
pub fn set_decl(table: &str, name: &str) -> Value {
    let addr = if name.contains('6') {
        "ipv6_addr"
    } else {
        "ipv4_addr"
    };
    let ty = if name.ends_with('p') {
        json!([addr, "inet_proto", "inet_service"])
    } else {
        json!(addr)
    };
    json!({ "set": {
        "family": "inet", "table": table, "name": name, "type": ty,
        "flags": ["interval", "timeout"], "stmt": [{ "counter": null }],
    }})
}

/// The drop rule of a set: `ip daddr @out4 counter drop`, or with
/// `. meta l4proto . th dport` for port sets.
pub fn rule_decl(table: &str, name: &str) -> Value {
    let chain = if name.starts_with("out") {
        "output"
    } else {
        "input"
    };
    let proto = if name.contains('6') { "ip6" } else { "ip" };
    let field = if name.starts_with("out") {
        "daddr"
    } else {
        "saddr"
    };
    let addr = json!({ "payload": { "protocol": proto, "field": field } });
    let left = if name.ends_with('p') {
        json!({ "concat": [addr, { "meta": { "key": "l4proto" } }, { "payload": { "protocol": "th", "field": "dport" } }] })
    } else {
        addr
    };
    json!({ "rule": {
        "family": "inet", "table": table, "chain": chain,
        "comment": format!("hound: drop @{name}"),
        "expr": [
            { "match": { "op": "==", "left": left, "right": format!("@{name}") } },
            { "counter": null },
            { "drop": null },
        ],
    }})
}
