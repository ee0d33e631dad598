//! Containment with nftables. Everything hound does lives in its own table
//! (`inet hound`): eight named sets (out/in × IPv4/IPv6 × address or
//! address·protocol·port) with timeouts and a counter per element, and one
//! drop rule per set. A block is a set element, expiry is native, and the
//! element's counter says how many packets it dropped. Other tables are
//! never read or touched, except by the read-only `ruleset`.
//!
//! The batches are JSON built here and applied through the `nftables` crate
//! as one transaction; the crate's typed `Set` cannot express per-element
//! counters (`stmt`), hence `serde_json` values.

mod guard;
pub mod isolate;
pub mod nft;
pub mod probe;
mod read;
pub mod target;

pub use read::{diff, BlockInfo};
pub use target::{Block, Direction};

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;

/// What the caller asked to block or unblock.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub targets: Vec<String>,
    /// `out` (default), `in` or `both`.
    pub direction: Option<String>,
    pub proto: Option<String>,
    pub port: Option<u16>,
    pub comment: Option<String>,
    pub ttl: Option<Duration>,
    /// Block even what would lock the responder out (see `guard`).
    pub force: bool,
}

/// A change worked out against the current table, not yet applied.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub table: String,
    /// Labels of the blocks this plan adds or removes.
    pub changes: Vec<String>,
    /// Blocks that are already in place (block) or absent (unblock).
    pub unchanged: Vec<String>,
    /// The exact JSON commands that `apply` sends to nft.
    pub batch: Vec<Value>,
}

impl Request {
    fn blocks(&self) -> Result<Vec<Block>> {
        if self.targets.is_empty() {
            return Err(Error::invalid("target: no address or CIDR given"));
        }
        let dirs = Direction::parse(self.direction.as_deref().unwrap_or("out"))?;
        let proto_port = match (&self.proto, self.port) {
            (None, None) => None,
            (Some(p), Some(port)) if p == "tcp" || p == "udp" => Some((p.clone(), port)),
            (Some(p), Some(_)) => {
                return Err(Error::invalid(format!(
                    "proto {p:?}: expected \"tcp\" or \"udp\""
                )))
            }
            (None, Some(port)) => Some(("tcp".to_string(), port)),
            (Some(p), None) => return Err(Error::invalid(format!("proto {p:?} needs a port"))),
        };
        let mut out = Vec::new();
        for t in &self.targets {
            let net = target::parse_net(t)?;
            for d in &dirs {
                out.push(Block {
                    net,
                    direction: *d,
                    proto_port: proto_port.clone(),
                });
            }
        }
        Ok(out)
    }
}

pub(crate) fn skeleton(table: &str) -> Vec<Value> {
    let mut v = vec![json!({ "add": { "table": { "family": "inet", "name": table } } })];
    for (chain, hook) in [("output", "output"), ("input", "input")] {
        v.push(json!({ "add": { "chain": {
            "family": "inet", "table": table, "name": chain, "type": "filter",
            "hook": hook, "prio": -10, "policy": "accept",
        }}}));
    }
    for s in target::set_names() {
        v.push(json!({ "add": target::set_decl(table, &s) }));
    }
    for s in target::set_names() {
        v.push(json!({ "add": target::rule_decl(table, &s) }));
    }
    v
}

fn element(table: &str, b: &Block, ttl: Option<Duration>, comment: Option<&str>) -> Value {
    let mut elem = json!({ "val": b.key() });
    if let Some(t) = ttl {
        elem["timeout"] = json!(t.as_secs().max(1));
    }
    if let Some(c) = comment.filter(|c| !c.is_empty()) {
        elem["comment"] = json!(guard::comment(c));
    }
    json!({ "element": { "family": "inet", "table": table, "name": b.set_name(), "elem": [{ "elem": elem }] } })
}

/// Works out the batch that adds the blocks; already present (or covered
/// by a wider block) ones are left alone and reported.
pub fn plan_block(req: &Request) -> Result<Plan> {
    let table = nft::table_name();
    let blocks = req.blocks()?;
    guard::check(&blocks, req.force)?;
    if let Some(ttl) = req.ttl {
        if ttl.as_secs() == 0 || ttl.as_secs() > u32::MAX as u64 {
            return Err(Error::invalid(format!(
                "ttl: {ttl:?} must be between 1 s and 136 years"
            )));
        }
    }
    let current = nft::list_table(&table)?;
    let existing = current.as_deref().map(read::blocks_of).unwrap_or_default();
    let mut batch = if current.is_none() {
        skeleton(&table)
    } else {
        Vec::new()
    };
    let mut plan = Plan {
        table: table.clone(),
        changes: vec![],
        unchanged: vec![],
        batch: vec![],
    };
    for b in &blocks {
        let same_kind =
            |e: &&BlockInfo| e.set == b.set_name() && e.block.proto_port == b.proto_port;
        if let Some(e) = existing
            .iter()
            .filter(same_kind)
            .find(|e| e.block.net.contains(&b.net))
        {
            let note = if e.block.net == b.net {
                String::new()
            } else {
                format!(" (covered by {})", e.target)
            };
            plan.unchanged
                .push(format!("{} {}{note}", b.label(), b.direction.as_str()));
            continue;
        }
        // Narrower blocks inside the new one would make the interval set refuse it.
        for inner in existing
            .iter()
            .filter(same_kind)
            .filter(|e| b.net.contains(&e.block.net))
        {
            batch.push(json!({ "delete": element(&table, &inner.block, None, None) }));
        }
        batch.push(json!({ "add": element(&table, b, req.ttl, req.comment.as_deref()) }));
        plan.changes
            .push(format!("{} {}", b.label(), b.direction.as_str()));
    }
    plan.batch = if plan.changes.is_empty() {
        Vec::new()
    } else {
        batch
    };
    Ok(plan)
}

/// Works out the batch that removes the blocks.
pub fn plan_unblock(req: &Request) -> Result<Plan> {
    let table = nft::table_name();
    let blocks = req.blocks()?;
    let existing = nft::list_table(&table)?
        .as_deref()
        .map(read::blocks_of)
        .unwrap_or_default();
    let mut plan = Plan {
        table: table.clone(),
        changes: vec![],
        unchanged: vec![],
        batch: vec![],
    };
    for b in &blocks {
        let found = existing.iter().find(|e| {
            e.set == b.set_name() && e.block.net == b.net && e.block.proto_port == b.proto_port
        });
        match found {
            Some(e) => {
                plan.batch
                    .push(json!({ "delete": element(&table, &e.block, None, None) }));
                plan.changes
                    .push(format!("{} {}", b.label(), b.direction.as_str()));
            }
            None => plan
                .unchanged
                .push(format!("{} {}", b.label(), b.direction.as_str())),
        }
    }
    Ok(plan)
}

/// The batch that deletes hound's table (empty when there is none).
pub fn plan_rollback() -> Result<Plan> {
    let table = nft::table_name();
    let exists = nft::list_table(&table)?.is_some();
    Ok(Plan {
        table: table.clone(),
        changes: if exists {
            vec![format!("delete table inet {table}")]
        } else {
            vec![]
        },
        unchanged: vec![],
        batch: if exists {
            vec![json!({ "delete": { "table": { "family": "inet", "name": table } } })]
        } else {
            vec![]
        },
    })
}

/// Applies a plan as one transaction (nothing to do is not an error).
pub fn apply(plan: &Plan) -> Result<()> {
    if plan.batch.is_empty() {
        return Ok(());
    }
    nft::apply(&plan.batch)
}

/// Every block in hound's table, with counters and time left.
pub fn blocks() -> Result<Vec<BlockInfo>> {
    Ok(nft::list_table(&nft::table_name())?
        .as_deref()
        .map(read::blocks_of)
        .unwrap_or_default())
}

/// The outbound block that covers `ip:port`, if any (for `net::probe`).
pub fn blocking(ip: std::net::IpAddr, port: u16, proto: &str) -> Option<BlockInfo> {
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    blocks().ok()?.into_iter().find(|b| {
        b.block.direction == Direction::Out
            && b.block.net.contains(&ip)
            && b.block
                .proto_port
                .as_ref()
                .is_none_or(|(p, pt)| p == proto && *pt == port)
    })
}

/// A snapshot of the whole ruleset, to diff against later.
pub fn snapshot() -> Result<Value> {
    Ok(json!({ "time": chrono::Utc::now().to_rfc3339(), "ruleset": nft::list_ruleset()? }))
}
