//! `fw::` primitives: containment with nftables in hound's own table.

use crate::host::fw::{self, Plan, Request};
use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use crate::runtime::action::Undo;
use crate::runtime::action_exec;
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use serde_json::{json, Value};

/// The options of `fw::block` and `fw::unblock` (`hound doc` shows them).
pub const BLOCK_OPTS: &[args::Opt] = &[
    args::Opt {
        key: "direction",
        ty: "string",
        default: "\"out\"",
        description: "\"out\", \"in\" or \"both\"",
    },
    args::Opt {
        key: "proto",
        ty: "string",
        default: "any",
        description: "\"tcp\" or \"udp\"; needs `port`",
    },
    args::Opt {
        key: "port",
        ty: "int",
        default: "any",
        description: "1-65535, with `proto`",
    },
    args::Opt {
        key: "comment",
        ty: "string",
        default: "none",
        description: "kept with the block (first 120 characters)",
    },
    args::Opt {
        key: "ttl",
        ty: "int|string",
        default: "forever",
        description: "expiry: seconds or \"2h\", \"30m\"",
    },
    args::Opt {
        key: "force",
        ty: "bool",
        default: "false",
        description: "block even what would cut this host off (its own addresses inbound, /0, the SSH client)",
    },
];

/// The options of `fw::isolate`.
pub const ISOLATE_OPTS: &[args::Opt] = &[
    args::Opt {
        key: "allow",
        ty: "array",
        default: "[]",
        description: "management addresses/CIDRs that keep access",
    },
    args::Opt {
        key: "ports",
        ty: "array",
        default: "all",
        description: "inbound ports the allowed addresses may reach",
    },
    args::Opt {
        key: "force",
        ty: "bool",
        default: "false",
        description: "isolate even when your own SSH session is not allowed",
    },
];

fn request(p: &str, target: &Dynamic, opts: Map) -> RhaiResult<Request> {
    let o = Opts::spec(p, opts, BLOCK_OPTS)?;
    Ok(Request {
        targets: args::string_list(p, "target", target)?,
        direction: o.str("direction")?,
        proto: o.str("proto")?,
        port: o.int("port", 1, 65535)?.map(|v| v as u16),
        comment: o.str("comment")?,
        ttl: o.duration("ttl")?,
        force: o.bool("force")?.unwrap_or(false),
    })
}

fn req_json(r: &Request) -> Value {
    json!({
        "targets": r.targets, "direction": r.direction.as_deref().unwrap_or("out"),
        "proto": r.proto, "port": r.port, "comment": r.comment,
        "ttl_s": r.ttl.map(|t| t.as_secs()),
    })
}

/// The common path of every change: the action gate (policy, journal
/// intent, dry-run, apply, journal outcome). `noop` names the status when
/// the plan changes nothing.
fn change(
    nc: &NativeCallContext,
    p: &str,
    args: Value,
    plan: Plan,
    undo: Option<Value>,
    done: &str,
    noop: &str,
) -> RhaiResult<Dynamic> {
    let c = ctx(nc, p)?;
    let mut out = json!({
        "table": format!("inet {}", plan.table), "changes": plan.changes, "unchanged": plan.unchanged,
    });
    if plan.batch.is_empty() {
        out["status"] = json!(noop);
        return to_dyn(&out);
    }
    let undo =
        undo.map(|u| Undo::new(u["primitive"].as_str().unwrap_or("none"), u["args"].clone()));
    // The transaction fails as a whole: nothing changed, and the outcome says so.
    action_exec::firewall(&c, p, args, &plan, undo)
        .into_result()
        .rhai(p)?;
    if c.dry_run() {
        out["status"] = json!("dry_run");
        out["batch"] = json!(plan.batch);
    } else {
        out["status"] = json!(done);
    }
    to_dyn(&out)
}

fn block_impl(nc: &NativeCallContext, target: Dynamic, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "fw::block";
    let r = request(P, &target, opts)?;
    let plan = fw::plan_block(&r).rhai(P)?;
    let undo = json!({ "primitive": "fw::unblock", "args": req_json(&r) });
    change(
        nc,
        P,
        req_json(&r),
        plan,
        Some(undo),
        "blocked",
        "already_blocked",
    )
}

fn unblock_impl(nc: &NativeCallContext, target: Dynamic, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "fw::unblock";
    let r = request(P, &target, opts)?;
    let plan = fw::plan_unblock(&r).rhai(P)?;
    let undo = json!({ "primitive": "fw::block", "args": req_json(&r) });
    change(
        nc,
        P,
        req_json(&r),
        plan,
        Some(undo),
        "unblocked",
        "not_blocked",
    )
}

fn isolate_impl(nc: &NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "fw::isolate";
    let o = Opts::spec(P, opts, ISOLATE_OPTS)?;
    let allow = o.strings("allow")?.unwrap_or_default();
    let ports: Vec<u16> = match o.raw("ports") {
        None => vec![],
        Some(v) => v
            .clone()
            .into_array()
            .map_err(|_| args::bad(P, "option \"ports\": expected an array of ports"))?
            .iter()
            .map(|x| {
                x.as_int()
                    .ok()
                    .and_then(|i| u16::try_from(i).ok())
                    .filter(|p| *p > 0)
            })
            .collect::<Option<Vec<u16>>>()
            .ok_or_else(|| args::bad(P, "option \"ports\": every port must be 1-65535"))?,
    };
    let force = o.bool("force")?.unwrap_or(false);
    let plan = fw::isolate::plan(&allow, &ports, force).rhai(P)?;
    let args = json!({ "allow": allow, "ports": ports, "force": force });
    let undo = json!({ "primitive": "fw::unisolate", "args": {} });
    let out = change(nc, P, args, plan, Some(undo), "isolated", "isolated")?;
    let c = ctx(nc, P)?;
    if !c.dry_run() {
        // The management path must survive; if the responder's own session
        // died, undo at once rather than leave the host unreachable.
        c.cancel
            .sleep(std::time::Duration::from_millis(1500))
            .rhai(P)?;
        if !fw::isolate::session_alive() {
            let lift = fw::isolate::plan_lift().rhai(P)?;
            // The roll-back is an action of its own, journaled like any other.
            action_exec::firewall(
                &c,
                "fw::unisolate",
                json!({ "reason": "own SSH session did not survive fw::isolate" }),
                &lift,
                None,
            )
            .into_result()
            .rhai(P)?;
            return Err(crate::primitives::to_rhai(
                crate::Error::io_msg(
                    "the management session did not survive isolation; rolled back",
                )
                .in_primitive(P),
            ));
        }
    }
    Ok(out)
}

#[export_module]
pub mod fw_fns {
    use super::*;

    /// Blocks an address, CIDR or array of them in hound's own nftables table
    /// (`inet hound`), outbound by default. A block is an element of a named
    /// set: expiry is native (`ttl`) and each block counts what it dropped.
    /// Repeating a block changes nothing and says `already_blocked`.
    ///
    /// Returns `#{status, table, changes, unchanged}` (`status`: `blocked`,
    /// `already_blocked`, `dry_run` with the exact `batch`). Journaled before
    /// it applies; one transaction, so a failure changes nothing.
    ///
    /// ```rhai
    /// // no_run
    /// fw::block("10.0.0.196")
    /// ```
    ///
    /// Params: target: string|array
    /// Returns: map
    #[rhai_fn(name = "block", return_raw)]
    pub fn block(nc: NativeCallContext, target: Dynamic) -> RhaiResult<Dynamic> {
        block_impl(&nc, target, Map::new())
    }

    /// `fw::block(target, opts)`. Options: `direction` (`"out"`, `"in"`,
    /// `"both"`), `proto` (`"tcp"`/`"udp"`) with `port`, `comment`, `ttl`
    /// (seconds or `"2h"`), `force`. A block that would lock you out
    /// (inbound from this host's own addresses, every address, or the
    /// SSH client of `SSH_CONNECTION`) is refused unless `force: true`.
    /// Comments are cut to 120 bytes; quotes, `;`, `\` and control
    /// characters become `_` so the saved ruleset still loads.
    ///
    /// ```rhai
    /// // no_run
    /// fw::block(["10.0.0.196", "198.51.100.0/24"], #{ direction: "both", ttl: "2h", comment: "bot C2" })
    /// ```
    #[rhai_fn(name = "block", return_raw)]
    pub fn block_with(nc: NativeCallContext, target: Dynamic, opts: Map) -> RhaiResult<Dynamic> {
        block_impl(&nc, target, opts)
    }

    /// Removes a block (same target and options as when it was added).
    ///
    /// ```rhai
    /// // no_run
    /// fw::unblock("10.0.0.196")
    /// ```
    ///
    /// Params: target: string|array
    /// Returns: map
    #[rhai_fn(name = "unblock", return_raw)]
    pub fn unblock(nc: NativeCallContext, target: Dynamic) -> RhaiResult<Dynamic> {
        unblock_impl(&nc, target, Map::new())
    }

    /// `fw::unblock(target, opts)` with `direction`, `proto`, `port`.
    ///
    /// ```rhai
    /// // no_run
    /// fw::unblock("10.0.0.196", #{ direction: "both" })
    /// ```
    #[rhai_fn(name = "unblock", return_raw)]
    pub fn unblock_with(nc: NativeCallContext, target: Dynamic, opts: Map) -> RhaiResult<Dynamic> {
        unblock_impl(&nc, target, opts)
    }

    /// The blocks in place: `target`, `direction`, `proto`, `port`,
    /// `comment`, `expires_in_s` (`()` without ttl), `packets` and `bytes`
    /// dropped, `set`. Empty when hound's table does not exist.
    ///
    /// ```rhai
    /// // no_run
    /// fw::blocks().filter(|b| b.packets > 0)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "blocks", return_raw)]
    pub fn blocks(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "fw::blocks")?;
        to_dyn(&fw::blocks().rhai("fw::blocks")?)
    }

    /// Removes hound's table, and with it every block and isolation; the rest
    /// of the ruleset stays exactly as it was.
    ///
    /// ```rhai
    /// // no_run
    /// fw::rollback()
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "rollback", return_raw)]
    pub fn rollback(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "fw::rollback";
        let plan = fw::plan_rollback().rhai(P)?;
        change(
            &nc,
            P,
            json!({}),
            plan,
            None,
            "rolled_back",
            "nothing_to_roll_back",
        )
    }

    /// The whole nftables ruleset as data (nft's JSON objects), read-only.
    ///
    /// ```rhai
    /// // no_run
    /// fw::ruleset().filter(|o| "table" in o).map(|o| o.table.name)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "ruleset", return_raw)]
    pub fn ruleset(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "fw::ruleset")?;
        let v: Vec<Value> = fw::nft::list_ruleset()
            .rhai("fw::ruleset")?
            .into_iter()
            .filter(|o| o.get("metainfo").is_none())
            .collect();
        to_dyn(&v)
    }

    /// A snapshot of the ruleset to compare with `fw::diff` later.
    ///
    /// ```rhai
    /// // no_run
    /// let before = fw::snapshot();
    /// fw::block("10.0.0.196");
    /// fw::diff(before).added.len()
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "snapshot", return_raw)]
    pub fn snapshot(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "fw::snapshot")?;
        to_dyn(&fw::snapshot().rhai("fw::snapshot")?)
    }

    /// What changed since a snapshot: `#{added, removed, changed}` (handles,
    /// counters and time left are ignored).
    ///
    /// ```rhai
    /// // no_run
    /// let d = fw::diff(fw::snapshot());
    /// d.changed == false
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "diff", return_raw)]
    pub fn diff(nc: NativeCallContext, snapshot: Map) -> RhaiResult<Dynamic> {
        const P: &str = "fw::diff";
        let _ = ctx(&nc, P)?;
        let before: Value = rhai::serde::from_dynamic(&Dynamic::from_map(snapshot))
            .map_err(|_| args::bad(P, "snapshot: expected a value returned by fw::snapshot()"))?;
        let before = before["ruleset"]
            .as_array()
            .cloned()
            .ok_or_else(|| args::bad(P, "snapshot: expected a value returned by fw::snapshot()"))?;
        let now = fw::nft::list_ruleset().rhai(P)?;
        to_dyn(&fw::diff(&before, &now))
    }

    /// Isolates the host: drops everything but loopback, established
    /// sessions and the management `allow` list (addresses/CIDRs; `ports`
    /// limits what they may reach inbound). Refuses when the responder's own
    /// SSH session is not allowed, and rolls back if it does not survive.
    ///
    /// ```rhai
    /// // no_run
    /// fw::isolate(#{ allow: ["10.1.0.5"], ports: [22] })
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "isolate", return_raw)]
    pub fn isolate(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        isolate_impl(&nc, opts)
    }

    /// Lifts isolation; blocks stay.
    ///
    /// ```rhai
    /// // no_run
    /// fw::unisolate()
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "unisolate", return_raw)]
    pub fn unisolate(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "fw::unisolate";
        let plan = fw::isolate::plan_lift().rhai(P)?;
        change(&nc, P, json!({}), plan, None, "lifted", "not_isolated")
    }
}
