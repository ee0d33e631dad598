//! `case::node`, `case::edge`, `case::graph`: the incident graph hunts build
//! from what they observe, so every destructive step can cite the evidence
//! that ties its target to the attack (see docs/design/eradication.md).

use crate::error::Error;
use crate::primitives::{args, ctx, to_dyn, to_rhai, IntoRhai, RhaiResult};
use crate::runtime::graph::Graph;
use crate::runtime::Ctx;
use rhai::plugin::*;
use rhai::{Dynamic, Map};

/// Loads the case's graph, lets `f` change it, saves it; under the case
/// lock, so two calls never interleave their read and write.
fn with_graph<T>(
    c: &Ctx,
    p: &str,
    f: impl FnOnce(&mut Graph) -> crate::error::Result<T>,
) -> RhaiResult<T> {
    let mut case = c
        .case
        .lock()
        .map_err(|_| to_rhai(Error::io_msg("case state poisoned").in_primitive(p)))?;
    let dir = case.open().rhai(p)?.to_path_buf();
    let mut g = Graph::load(&dir).rhai(p)?;
    let out = f(&mut g).rhai(p)?;
    g.save(&dir).rhai(p)?;
    Ok(out)
}

#[export_module]
pub mod case_graph_fns {
    use super::*;

    /// Adds an entity to the incident graph, or merges `attrs` into the one
    /// already there, and returns its id `"<kind>:<key>"`. Kinds:
    /// `indicator`, `socket`, `process`, `file`, `persistence`, `log_line`,
    /// `account`, `key`, `rule`, `service`. Keys: a process `"<pid>"` (hound
    /// adds its start time: `"<pid>:<start ticks>"`), a file its absolute
    /// path, persistence/key/log line `"<path>:<line>"`, an account its name.
    /// `attrs` is kept as given (`label` names the node in the report).
    ///
    /// ```rhai
    /// let f = case::node("file", "/tmp/bot.sh", #{ label: "/tmp/bot.sh", size: 64 });
    /// f == "file:/tmp/bot.sh"
    /// ```
    ///
    /// Params: key: string|int
    #[rhai_fn(name = "node", return_raw)]
    pub fn node(nc: NativeCallContext, kind: &str, key: Dynamic, attrs: Map) -> RhaiResult<String> {
        const P: &str = "case::node";
        let c = ctx(&nc, P)?;
        if !(key.is_string() || key.is_int()) {
            return Err(args::bad(
                P,
                format!("key: expected a string or a pid, found {}", key.type_name()),
            ));
        }
        let key = key.to_string();
        let attrs: serde_json::Map<String, serde_json::Value> =
            rhai::serde::from_dynamic(&Dynamic::from_map(attrs))
                .map_err(|e| args::bad(P, format!("attrs: {e}")))?;
        with_graph(&c, P, |g| g.add_node(kind, &key, attrs))
    }

    /// Adds an edge between two nodes with the evidence that ties them.
    /// Relations: `connects to`, `child of`, `runs`, `written by request`,
    /// `started by entry`, `listed in`, `matches rule`, `names indicator`,
    /// `restarted activity`, `serves` (a reason *not* to act on a process).
    /// Both nodes must exist.
    ///
    /// ```rhai
    /// let p = case::node("process", "4242:1", #{ label: "bash /tmp/bot.sh" });
    /// let f = case::node("file", "/tmp/bot.sh", #{});
    /// case::edge(p, f, "runs", "cmdline: bash /tmp/bot.sh");
    /// case::graph().edges.some(|e| e.from == p && e.relation == "runs")
    /// ```
    #[rhai_fn(name = "edge", return_raw)]
    pub fn edge(
        nc: NativeCallContext,
        from: &str,
        to: &str,
        relation: &str,
        evidence: &str,
    ) -> RhaiResult<()> {
        const P: &str = "case::edge";
        let c = ctx(&nc, P)?;
        with_graph(&c, P, |g| g.add_edge(from, to, relation, evidence))
    }

    /// The incident graph so far: `#{ nodes: [#{id, kind, label, attrs}],
    /// edges: [#{from, to, relation, evidence}] }`.
    ///
    /// ```rhai
    /// let i = case::node("indicator", "192.0.2.7:443", #{});
    /// case::graph().nodes.some(|n| n.id == i)
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "graph", return_raw)]
    pub fn graph(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "case::graph";
        let c = ctx(&nc, P)?;
        let case = c
            .case
            .lock()
            .map_err(|_| to_rhai(Error::io_msg("case state poisoned").in_primitive(P)))?;
        let g = Graph::load(&case.dir).rhai(P)?;
        to_dyn(&g)
    }
}
