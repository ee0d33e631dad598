//! The report's words for firewall changes and their targets: a block
//! reads "blocked outbound traffic to 10.0.0.196", not its nft batch. The
//! batches of dry-run changes become one nftables JSON file that
//! `nft -j -f` can apply, written next to the report.

use crate::runtime::action::{Status, Undo};
use crate::runtime::journal::Action;
use serde_json::{json, Value};

/// The file, in the case's `reports/` folder, holding the dry-run batch.
pub const DRY_RUN_FILE: &str = "fw-dryrun.nft.json";

/// A firewall change in words: "block" + "outbound traffic to 10.0.0.196".
pub struct Words {
    pub verb: &'static str,
    pub past: &'static str,
    pub object: String,
}

impl Words {
    pub fn done(&self) -> String {
        format!("{} {}", self.past, self.object)
    }
    pub fn would(&self) -> String {
        format!("would {} {}", self.verb, self.object)
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
            .collect(),
        _ => vec![],
    }
}

fn traffic(args: &Value) -> String {
    let targets = strings(&args["targets"]).join(", ");
    let scope = match (args["proto"].as_str(), args["port"].as_u64()) {
        (Some(p), Some(port)) => format!(" ({p} port {port})"),
        _ => String::new(),
    };
    match args["direction"].as_str().unwrap_or("out") {
        "in" => format!("inbound traffic from {targets}{scope}"),
        "both" => format!("traffic to and from {targets}{scope}"),
        _ => format!("outbound traffic to {targets}{scope}"),
    }
}

/// The words for a firewall primitive's arguments (`None`: not a firewall
/// change).
pub fn words(primitive: &str, args: &Value) -> Option<Words> {
    let w = |verb, past, object| Some(Words { verb, past, object });
    match primitive {
        "fw::block" => {
            let mut o = traffic(args);
            if let Some(t) = args["ttl_s"].as_u64() {
                o.push_str(&format!(" for {t} s"));
            }
            w("block", "blocked", o)
        }
        "fw::unblock" => w("lift", "lifted", format!("the block of {}", traffic(args))),
        "fw::isolate" => {
            let allow = strings(&args["allow"]);
            let ports = strings(&args["ports"]);
            let o = if allow.is_empty() {
                "the host from every network (no address kept access)".to_string()
            } else {
                format!(
                    "the host (only {} kept access{}; everything else dropped)",
                    allow.join(", "),
                    if ports.is_empty() {
                        String::new()
                    } else {
                        format!(", to port {}", ports.join(", "))
                    }
                )
            };
            w("isolate", "isolated", o)
        }
        "fw::unisolate" => w("lift", "lifted", "the host's isolation".into()),
        "fw::rollback" => w(
            "remove",
            "removed",
            "every block and isolation in hound's nftables table".into(),
        ),
        _ => None,
    }
}

/// A firewall undo as the call to type (`None`: not a firewall undo).
pub fn undo_call(u: &Undo) -> Option<String> {
    match u.primitive.as_str() {
        p @ ("fw::block" | "fw::unblock") => {
            let targets: Vec<String> = strings(&u.args["targets"])
                .iter()
                .map(|t| Value::String(t.clone()).to_string())
                .collect();
            let mut opts = vec![format!(
                "direction: {}",
                json!(u.args["direction"].as_str().unwrap_or("out"))
            )];
            if let (Some(p), Some(port)) = (u.args["proto"].as_str(), u.args["port"].as_u64()) {
                opts.push(format!("proto: {}, port: {port}", json!(p)));
            }
            Some(format!(
                "{p}([{}], #{{ {} }})",
                targets.join(", "),
                opts.join(", ")
            ))
        }
        "fw::unisolate" => Some("fw::unisolate()".into()),
        _ => None,
    }
}

/// The batches of the firewall changes previewed in a dry run, in journal
/// order, as one nftables JSON document (`{"nftables": [...]}`), and the
/// ids of those actions. Each batch was worked out against the ruleset of
/// its moment, so they share the commands that create hound's table: a
/// command already in the document is left out again, unless something
/// was deleted since (then it may be needed anew).
pub fn dry_run_batch(actions: &[Action]) -> Option<(Value, Vec<String>)> {
    let mut cmds: Vec<Value> = Vec::new();
    let mut since_delete = 0;
    let mut ids = Vec::new();
    for a in actions
        .iter()
        .filter(|a| a.primitive.starts_with("fw::") && a.status == Some(Status::Would))
    {
        let Some(batch) = a.result["batch"].as_array().filter(|b| !b.is_empty()) else {
            continue;
        };
        ids.push(a.action_id.clone());
        for c in batch {
            let removes = ["delete", "flush", "destroy"]
                .iter()
                .any(|k| c.get(k).is_some());
            if !removes && cmds[since_delete..].contains(c) {
                continue;
            }
            cmds.push(c.clone());
            if removes {
                since_delete = cmds.len();
            }
        }
    }
    if cmds.is_empty() {
        return None;
    }
    let mut all = vec![json!({ "metainfo": { "json_schema_version": 1 } })];
    all.extend(cmds);
    Some((json!({ "nftables": all }), ids))
}

/// A target named in findings as a host and its ports: "10.0.0.196:80",
/// "10.0.0.196:80 SYN-SENT", "[2001:db8::1]:443", "tcp/10.0.0.196:80" (the
/// beacons hunt's spelling) and "10.0.0.196" are all the host 10.0.0.196.
fn host_port(text: &str) -> (String, Option<u16>) {
    let tok = text.split_whitespace().next().unwrap_or_default();
    let tok = ["tcp/", "udp/"]
        .iter()
        .find_map(|p| tok.strip_prefix(p))
        .unwrap_or(tok);
    if let Ok(sa) = tok.parse::<std::net::SocketAddr>() {
        return (sa.ip().to_string(), Some(sa.port()));
    }
    if let Ok(ip) = tok.parse::<std::net::IpAddr>() {
        return (ip.to_string(), None);
    }
    if let Some((h, p)) = tok.rsplit_once(':') {
        if let (false, Ok(port)) = (h.contains(':'), p.parse::<u16>()) {
            return (h.to_string(), Some(port));
        }
    }
    (tok.to_string(), None)
}

/// Each host once, in the order first named, with the ports seen:
/// `["10.0.0.196 (port 80)", "192.0.2.9"]`.
pub fn distinct_targets<'a>(named: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut hosts: Vec<(String, Vec<u16>)> = Vec::new();
    for n in named {
        let (h, port) = host_port(n);
        if h.is_empty() {
            continue;
        }
        let i = match hosts.iter().position(|(x, _)| *x == h) {
            Some(i) => i,
            None => {
                hosts.push((h, vec![]));
                hosts.len() - 1
            }
        };
        if let Some(p) = port.filter(|p| !hosts[i].1.contains(p)) {
            hosts[i].1.push(p);
        }
    }
    hosts
        .into_iter()
        .map(|(h, ports)| {
            let shown = match ports.len() {
                0 => h.clone(),
                1 => format!("{h} (port {})", ports[0]),
                _ => format!(
                    "{h} (ports {})",
                    ports
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            (h, shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_named_once_with_their_ports() {
        let t = distinct_targets([
            "10.0.0.196:80 SYN-SENT",
            "10.0.0.196",
            "10.0.0.196:80",
            "[2001:db8::1]:443",
            "evil.example:8080",
            "10.0.0.196:8080",
            "tcp/10.0.0.196:80",
        ]);
        let shown: Vec<&str> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(
            shown,
            [
                "10.0.0.196 (ports 80, 8080)",
                "2001:db8::1 (port 443)",
                "evil.example (port 8080)"
            ]
        );
    }

    #[test]
    fn firewall_changes_read_as_words_and_undos_as_calls() {
        let a = json!({ "targets": ["10.0.0.196"], "direction": "out", "proto": "tcp", "port": 80, "ttl_s": 60 });
        let w = words("fw::block", &a).unwrap();
        assert_eq!(
            w.done(),
            "blocked outbound traffic to 10.0.0.196 (tcp port 80) for 60 s"
        );
        assert!(w.would().starts_with("would block outbound"));
        let i = words(
            "fw::isolate",
            &json!({ "allow": ["10.1.0.5"], "ports": [22] }),
        )
        .unwrap();
        assert_eq!(
            i.done(),
            "isolated the host (only 10.1.0.5 kept access, to port 22; everything else dropped)"
        );
        assert!(words("proc::kill", &a).is_none());
        assert_eq!(
            undo_call(&Undo::new("fw::unblock", a)).unwrap(),
            r#"fw::unblock(["10.0.0.196"], #{ direction: "out", proto: "tcp", port: 80 })"#
        );
    }
}
