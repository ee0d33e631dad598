//! Host isolation: everything dropped but loopback, established sessions
//! and an allow-list of management addresses (and inbound ports), in two
//! extra chains of hound's table. Refuses to cut the responder's own SSH
//! session, and rolls back when the session does not survive.

use super::{nft, target, Plan};
use crate::error::{Error, Result};
use ipnet::IpNet;
use serde_json::{json, Value};

pub const CHAINS: [&str; 2] = ["isolate_in", "isolate_out"];

/// The responder's SSH session, from SSH_CONNECTION: (client ip, client port,
/// server port).
pub fn ssh_session() -> Option<(std::net::IpAddr, u16, u16)> {
    let v = std::env::var("SSH_CONNECTION").ok()?;
    let p: Vec<&str> = v.split_whitespace().collect();
    Some((
        p.first()?.parse().ok()?,
        p.get(1)?.parse().ok()?,
        p.get(3)?.parse().ok()?,
    ))
}

fn rule(table: &str, chain: &str, expr: Vec<Value>) -> Value {
    json!({ "add": { "rule": { "family": "inet", "table": table, "chain": chain, "expr": expr } } })
}

fn accept_from(proto: &str, field: &str, set: &str, ports: &[u16]) -> Vec<Value> {
    let mut e = vec![
        json!({ "match": { "op": "==", "left": { "payload": { "protocol": proto, "field": field } }, "right": format!("@{set}") } }),
    ];
    if !ports.is_empty() && field == "saddr" {
        e.push(json!({ "match": { "op": "==", "left": { "payload": { "protocol": "th", "field": "dport" } }, "right": { "set": ports } } }));
    }
    e.push(json!({ "accept": null }));
    e
}

/// Works out the batch. `allow`: management addresses/CIDRs; `ports`:
/// inbound ports they may reach (empty: any).
pub fn plan(allow: &[String], ports: &[u16], force: bool) -> Result<Plan> {
    let nets: Vec<IpNet> = allow
        .iter()
        .map(|a| target::parse_net(a))
        .collect::<Result<_>>()?;
    if nets.is_empty() && !force {
        return Err(Error::invalid(
            "allow: no management address given; isolation would cut every session",
        )
        .with_hint(
            "pass #{ allow: [\"10.1.0.5\"], ports: [22] }, or force: true to cut everything",
        ));
    }
    if let Some((ip, _, sport)) = ssh_session() {
        let kept =
            nets.iter().any(|n| n.contains(&ip)) && (ports.is_empty() || ports.contains(&sport));
        if !kept && !force {
            return Err(Error::invalid(format!(
                "allow: your own SSH session from {ip} to port {sport} is not in the allow-list"
            ))
            .with_hint("add it to `allow` (and `ports`), or force: true"));
        }
    }
    let table = nft::table_name();
    let mut batch = if nft::list_table(&table)?.is_none() {
        super::skeleton(&table)
    } else {
        vec![]
    };
    for (set, ty) in [("mgmt4", "ipv4_addr"), ("mgmt6", "ipv6_addr")] {
        let elems: Vec<Value> = nets
            .iter()
            .filter(|n| (ty == "ipv4_addr") == n.addr().is_ipv4())
            .map(
                |n| json!({ "prefix": { "addr": n.network().to_string(), "len": n.prefix_len() } }),
            )
            .collect();
        let mut decl = json!({ "family": "inet", "table": table, "name": set, "type": ty, "flags": ["interval"] });
        if !elems.is_empty() {
            decl["elem"] = json!(elems);
        }
        batch.push(json!({ "add": { "set": decl } }));
    }
    for (chain, hook) in [("isolate_in", "input"), ("isolate_out", "output")] {
        batch.push(json!({ "add": { "chain": {
            "family": "inet", "table": table, "name": chain, "type": "filter",
            "hook": hook, "prio": -5, "policy": "drop",
        }}}));
        let lo = if hook == "input" {
            "iifname"
        } else {
            "oifname"
        };
        batch.push(rule(&table, chain, vec![
            json!({ "match": { "op": "==", "left": { "meta": { "key": lo } }, "right": "lo" } }),
            json!({ "accept": null }),
        ]));
        batch.push(rule(&table, chain, vec![
            json!({ "match": { "op": "in", "left": { "ct": { "key": "state" } }, "right": ["established", "related"] } }),
            json!({ "accept": null }),
        ]));
        let field = if hook == "input" { "saddr" } else { "daddr" };
        batch.push(rule(
            &table,
            chain,
            accept_from("ip", field, "mgmt4", ports),
        ));
        batch.push(rule(
            &table,
            chain,
            accept_from("ip6", field, "mgmt6", ports),
        ));
    }
    Ok(Plan {
        table,
        changes: vec![format!(
            "isolate: allow {allow:?} ports {ports:?}, drop everything else"
        )],
        unchanged: vec![],
        batch,
    })
}

/// The batch that lifts isolation (hound's blocks stay).
pub fn plan_lift() -> Result<Plan> {
    let table = nft::table_name();
    let objects = nft::list_table(&table)?.unwrap_or_default();
    let has = |kind: &str, name: &str| objects.iter().any(|o| o[kind]["name"] == name);
    let mut batch = Vec::new();
    for c in CHAINS.iter().filter(|c| has("chain", c)) {
        batch.push(
            json!({ "delete": { "chain": { "family": "inet", "table": table, "name": c } } }),
        );
    }
    for s in ["mgmt4", "mgmt6"].iter().filter(|s| has("set", s)) {
        batch.push(json!({ "delete": { "set": { "family": "inet", "table": table, "name": s } } }));
    }
    Ok(Plan {
        table,
        changes: if batch.is_empty() {
            vec![]
        } else {
            vec!["lift isolation".into()]
        },
        unchanged: vec![],
        batch,
    })
}

/// Whether the responder's SSH session (if any) is still established.
pub fn session_alive() -> bool {
    let Some((ip, cport, sport)) = ssh_session() else {
        return true;
    };
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(st)) = (cols.get(1), cols.get(2), cols.get(3))
            else {
                continue;
            };
            let port = |s: &str| {
                s.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if *st == "01" && port(local) == Some(sport) && port(remote) == Some(cport) {
                let _ = ip;
                return true;
            }
        }
    }
    false
}
