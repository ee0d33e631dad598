//! Reading blocks back from nft's JSON, and comparing rulesets.

use super::target::{Block, Direction};
use ipnet::IpNet;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// One block as it stands in the table.
#[derive(Debug, Clone, Serialize)]
pub struct BlockInfo {
    pub target: String,
    pub direction: &'static str,
    pub proto: Option<String>,
    pub port: Option<u16>,
    pub comment: Option<String>,
    /// Seconds until nft removes it; `None` for a block without a ttl.
    pub expires_in_s: Option<u64>,
    pub packets: u64,
    pub bytes: u64,
    pub set: String,
    #[serde(skip)]
    pub block: Block,
}

fn net_of(v: &Value) -> Option<IpNet> {
    if let Some(s) = v.as_str() {
        return super::target::parse_net(s).ok();
    }
    if let Some(p) = v.get("prefix") {
        return format!("{}/{}", p["addr"].as_str()?, p["len"].as_u64()?)
            .parse()
            .ok();
    }
    if let Some(r) = v.get("range").and_then(Value::as_array) {
        // An interval nft prints as a range: find the prefix it spans.
        let a: std::net::IpAddr = r.first()?.as_str()?.parse().ok()?;
        let b: std::net::IpAddr = r.get(1)?.as_str()?.parse().ok()?;
        let max = if a.is_ipv4() { 32 } else { 128 };
        return (0..=max)
            .filter_map(|len| IpNet::new(a, len).ok())
            .find(|n| n.network() == a && n.broadcast() == b);
    }
    None
}

fn element(set: &str, raw: &Value) -> Option<BlockInfo> {
    let (val, meta) = match raw.get("elem") {
        Some(e) => (e.get("val")?.clone(), e.clone()),
        None => (raw.clone(), json!({})),
    };
    let (net, proto_port) = match val.get("concat").and_then(Value::as_array) {
        Some(parts) => {
            let net = net_of(parts.first()?)?;
            let proto = parts.get(1)?.as_str()?.to_string();
            let port = parts.get(2)?.as_u64()? as u16;
            (net, Some((proto, port)))
        }
        None => (net_of(&val)?, None),
    };
    let direction = if set.starts_with("out") {
        Direction::Out
    } else {
        Direction::In
    };
    let block = Block {
        net,
        direction,
        proto_port: proto_port.clone(),
    };
    Some(BlockInfo {
        target: if net.prefix_len() == net.max_prefix_len() {
            net.addr().to_string()
        } else {
            net.to_string()
        },
        direction: direction.as_str(),
        proto: proto_port.as_ref().map(|p| p.0.clone()),
        port: proto_port.as_ref().map(|p| p.1),
        comment: meta["comment"].as_str().map(String::from),
        expires_in_s: meta["expires"].as_u64(),
        packets: meta["counter"]["packets"].as_u64().unwrap_or(0),
        bytes: meta["counter"]["bytes"].as_u64().unwrap_or(0),
        set: set.to_string(),
        block,
    })
}

/// The blocks held by the sets of a listed table.
pub fn blocks_of(objects: &[Value]) -> Vec<BlockInfo> {
    let mut out = Vec::new();
    for o in objects {
        let Some(set) = o.get("set") else { continue };
        let name = set["name"].as_str().unwrap_or_default();
        for raw in set["elem"].as_array().into_iter().flatten() {
            out.extend(element(name, raw));
        }
    }
    out
}

/// Strips what changes without a change of policy (handles, counters,
/// time left) and sorts keys (a snapshot may have passed through a script's
/// sorted maps), so two listings compare by meaning.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m
                .keys()
                .filter(|k| {
                    !matches!(
                        k.as_str(),
                        "handle" | "expires" | "counter" | "packets" | "bytes"
                    )
                })
                .collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// What was added to and removed from the ruleset since a snapshot.
pub fn diff(before: &[Value], after: &[Value]) -> Value {
    let set = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .filter(|o| o.get("metainfo").is_none())
            .map(|o| canonical(o).to_string())
            .collect()
    };
    let (b, a) = (set(before), set(after));
    let parse = |s: &String| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    json!({
        "added": a.difference(&b).map(parse).collect::<Vec<_>>(),
        "removed": b.difference(&a).map(parse).collect::<Vec<_>>(),
        "changed": a != b,
    })
}
