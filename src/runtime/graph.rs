//! The incident graph: the entities a hunt observed (indicators, sockets,
//! processes, files, persistence entries, log lines, accounts, keys) and the
//! evidence that ties them. Destructive steps cite its edges as their
//! justification; the report draws it. Stored as `<case>/graph.json`,
//! rewritten atomically on every change, so a case spanning several runs
//! keeps growing one graph.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

pub const GRAPH: &str = "graph.json";

pub const KINDS: &[&str] = &[
    "indicator",
    "socket",
    "process",
    "file",
    "persistence",
    "log_line",
    "account",
    "key",
    "rule",
    "service",
];

pub const RELATIONS: &[&str] = &[
    "connects to",
    "child of",
    "runs",
    "written by request",
    "started by entry",
    "listed in",
    "matches rule",
    "names indicator",
    "restarted activity",
    "serves",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    pub id: String,
    pub kind: String,
    pub label: String,
    #[serde(default)]
    pub attrs: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub relation: String,
    #[serde(default)]
    pub evidence: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Graph {
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

/// The start time of a live process in clock ticks since boot (field 22 of
/// `/proc/PID/stat`): with the pid, it names one process even after the
/// pid is reused.
pub fn start_ticks(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.starttime)
}

impl Graph {
    /// The graph of a case folder; an empty one when none was recorded.
    pub fn load(dir: &Path) -> Result<Graph> {
        let path = dir.join(GRAPH);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::invalid(format!("{}: not a graph ({e})", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Graph::default()),
            Err(e) => Err(Error::io(path.display(), e)),
        }
    }

    /// Writes `graph.json` through a temp file and a rename, so a reader
    /// (or a crash) never sees half a graph.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(".graph.json.tmp");
        let body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io_msg(format!("encoding the graph: {e}")))?;
        std::fs::write(&tmp, body).map_err(|e| Error::io(tmp.display(), e))?;
        let path = dir.join(GRAPH);
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(path.display(), e))
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Turns a process key given as a bare pid into `pid:start_ticks`: from
    /// /proc while it runs, else the node already recorded for that pid.
    fn process_key(&self, key: &str) -> String {
        let Ok(pid) = key.trim().parse::<i32>() else {
            return key.to_string();
        };
        if let Some(t) = start_ticks(pid) {
            return format!("{pid}:{t}");
        }
        let prefix = format!("process:{pid}:");
        self.nodes
            .iter()
            .rev()
            .find(|n| n.id.starts_with(&prefix))
            .map(|n| n.id["process:".len()..].to_string())
            .unwrap_or_else(|| format!("{pid}:0"))
    }

    /// Adds a node or merges `attrs` into the one with the same id (later
    /// values win). Returns the id `kind:key`.
    pub fn add_node(&mut self, kind: &str, key: &str, attrs: Map<String, Value>) -> Result<String> {
        if !KINDS.contains(&kind) {
            return Err(Error::invalid(format!(
                "kind {kind:?}: expected one of {}",
                KINDS.join(", ")
            )));
        }
        if key.trim().is_empty() {
            return Err(Error::invalid("key: empty"));
        }
        let key = if kind == "process" {
            self.process_key(key)
        } else {
            key.to_string()
        };
        let id = format!("{kind}:{key}");
        let label = attrs
            .get("label")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| key.clone());
        match self.nodes.iter_mut().find(|n| n.id == id) {
            Some(n) => {
                if attrs.contains_key("label") {
                    n.label = label;
                }
                n.attrs.extend(attrs);
            }
            None => self.nodes.push(Node {
                id: id.clone(),
                kind: kind.to_string(),
                label,
                attrs,
            }),
        }
        Ok(id)
    }

    /// Adds an edge between two recorded nodes; the same (from, to,
    /// relation) again only adds evidence it did not have.
    pub fn add_edge(&mut self, from: &str, to: &str, relation: &str, evidence: &str) -> Result<()> {
        for (arg, id) in [("from", from), ("to", to)] {
            if self.node(id).is_none() {
                return Err(Error::invalid(format!(
                    "{arg}: no node {id:?} (add it with case::node first)"
                )));
            }
        }
        if !RELATIONS.contains(&relation) {
            return Err(Error::invalid(format!(
                "relation {relation:?}: expected one of {}",
                RELATIONS.join(", ")
            )));
        }
        if let Some(e) = self
            .edges
            .iter_mut()
            .find(|e| e.from == from && e.to == to && e.relation == relation)
        {
            if !evidence.is_empty() && !e.evidence.contains(evidence) {
                e.evidence = if e.evidence.is_empty() {
                    evidence.to_string()
                } else {
                    format!("{}; {evidence}", e.evidence)
                };
            }
            return Ok(());
        }
        self.edges.push(Edge {
            from: from.into(),
            to: to.into(),
            relation: relation.into(),
            evidence: evidence.into(),
        });
        Ok(())
    }

    fn label_of(&self, id: &str) -> String {
        self.node(id)
            .map(|n| format!("{} {}", n.kind, n.label))
            .unwrap_or_else(|| id.to_string())
    }

    /// The graph as a Markdown edge list: `from —relation→ to (evidence)`.
    pub fn markdown(&self) -> String {
        let mut m = String::new();
        if self.nodes.is_empty() {
            return m;
        }
        let _ = writeln!(
            m,
            "## Incident graph ({} entities, {} links)\n",
            self.nodes.len(),
            self.edges.len()
        );
        for e in &self.edges {
            let ev = if e.evidence.is_empty() {
                String::new()
            } else {
                format!(" ({})", md(&short(&e.evidence, 160)))
            };
            let _ = writeln!(
                m,
                "- {} — *{}* → {}{ev}",
                md(&self.label_of(&e.from)),
                md(&e.relation),
                md(&self.label_of(&e.to)),
            );
        }
        let linked: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| !self.edges.iter().any(|e| e.from == n.id || e.to == n.id))
            .collect();
        if !linked.is_empty() {
            let _ = writeln!(m, "\nUnlinked: {}", {
                let v: Vec<String> = linked
                    .iter()
                    .map(|n| md(&format!("{} {}", n.kind, n.label)))
                    .collect();
                v.join(", ")
            });
        }
        m.push('\n');
        m
    }

    /// A small inline SVG, one row per kind of entity (indicators on top,
    /// accounts and keys at the bottom), edges as lines labelled with their
    /// relation. Every label is escaped.
    pub fn svg(&self) -> String {
        if self.nodes.is_empty() {
            return String::new();
        }
        const W: usize = 190;
        const H: usize = 90;
        let mut rows: BTreeMap<usize, Vec<&Node>> = BTreeMap::new();
        for n in &self.nodes {
            rows.entry(layer(&n.kind)).or_default().push(n);
        }
        let mut pos: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let widest = rows.values().map(Vec::len).max().unwrap_or(1);
        for (r, (_, nodes)) in rows.iter().enumerate() {
            let offset = (widest - nodes.len()) * W / 2;
            for (i, n) in nodes.iter().enumerate() {
                pos.insert(&n.id, (offset + i * W + W / 2, r * H + 30));
            }
        }
        let (width, height) = (widest * W, rows.len() * H);
        let mut o = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"10\">\n"
        );
        for e in &self.edges {
            let (Some(a), Some(b)) = (pos.get(e.from.as_str()), pos.get(e.to.as_str())) else {
                continue;
            };
            let _ = writeln!(
                o,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"><title>{}</title></line>\
                 <text x=\"{}\" y=\"{}\" fill=\"#555\" text-anchor=\"middle\">{}</text>",
                a.0,
                a.1,
                b.0,
                b.1,
                xml(&short(&e.evidence, 300)),
                (a.0 + b.0) / 2,
                (a.1 + b.1) / 2,
                xml(&e.relation)
            );
        }
        for n in &self.nodes {
            let Some((x, y)) = pos.get(n.id.as_str()) else {
                continue;
            };
            let _ = writeln!(
                o,
                "<g><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"30\" rx=\"4\" \
                 fill=\"{}\" stroke=\"#333\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">\
                 <tspan font-weight=\"bold\">{}</tspan> {}</text></g>",
                xml(&n.id),
                x - (W - 14) / 2,
                y - 15,
                W - 14,
                colour(&n.kind),
                y + 4,
                xml(&n.kind),
                xml(&short(&n.label, 26))
            );
        }
        o.push_str("</svg>\n");
        o
    }
}

fn layer(kind: &str) -> usize {
    match kind {
        "indicator" => 0,
        "socket" => 1,
        "process" | "service" => 2,
        "file" | "rule" => 3,
        "persistence" | "log_line" => 4,
        _ => 5,
    }
}

fn colour(kind: &str) -> &'static str {
    match kind {
        "indicator" => "#f4c7c3",
        "process" => "#fce8b2",
        "file" => "#c6dafc",
        "persistence" => "#e1c6fc",
        "account" | "key" => "#fcc6e8",
        _ => "#e8e8e8",
    }
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Attacker text made safe in a Markdown list item.
fn md(s: &str) -> String {
    crate::text::escape(s)
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('[', "\\[")
        .replace('<', "&lt;")
}

/// Attacker text made safe in SVG/HTML text and attributes.
fn xml(s: &str) -> String {
    crate::text::escape(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The graph of a case as report data (`null` when there is none).
pub fn as_value(dir: &Path) -> Value {
    Graph::load(dir)
        .ok()
        .filter(|g| !g.nodes.is_empty())
        .and_then(|g| serde_json::to_value(g).ok())
        .unwrap_or(Value::Null)
}

fn from_value(v: &Value) -> Graph {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// The report's graph section in Markdown (empty without a graph).
pub fn section_markdown(dir: &Path) -> String {
    markdown_of(&as_value(dir))
}

/// The report's graph section in HTML: a heading and the inline SVG.
pub fn section_html(dir: &Path) -> String {
    html_of(&as_value(dir))
}

/// [`section_markdown`] from the report's data (`report["graph"]`).
pub fn markdown_of(v: &Value) -> String {
    from_value(v).markdown()
}

/// [`section_html`] from the report's data (`report["graph"]`).
pub fn html_of(v: &Value) -> String {
    let g = from_value(v);
    if g.nodes.is_empty() {
        return String::new();
    }
    let mut o = format!(
        "<h2>Incident graph</h2>\n<p>{} entities, {} links; hover a line for its evidence.</p>\n<div style=\"overflow-x:auto\">\n",
        g.nodes.len(),
        g.edges.len()
    );
    o.push_str(&g.svg());
    o.push_str("</div>\n<ul>\n");
    for e in &g.edges {
        let _ = writeln!(
            o,
            "<li>{} — <em>{}</em> → {} ({})</li>",
            xml(&g.label_of(&e.from)),
            xml(&e.relation),
            xml(&g.label_of(&e.to)),
            xml(&short(&e.evidence, 200))
        );
    }
    o.push_str("</ul>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn nodes_merge_by_id_and_edges_need_both_ends() {
        let mut g = Graph::default();
        let a = g
            .add_node("file", "/tmp/x.sh", attrs(json!({ "size": 3 })))
            .unwrap();
        let b = g
            .add_node("file", "/tmp/x.sh", attrs(json!({ "sha256": "ab" })))
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.nodes[0].attrs["size"], 3);
        assert_eq!(g.nodes[0].attrs["sha256"], "ab");
        let i = g.add_node("indicator", "192.0.2.9", Map::new()).unwrap();
        assert!(g.add_edge(&a, "file:/nope", "runs", "").is_err());
        assert!(g.add_edge(&a, &i, "likes", "").is_err());
        g.add_edge(&a, &i, "names indicator", "line 1").unwrap();
        g.add_edge(&a, &i, "names indicator", "line 2").unwrap();
        assert_eq!(g.edges.len(), 1);
        assert_eq!(g.edges[0].evidence, "line 1; line 2");
        assert!(g.add_node("planet", "x", Map::new()).is_err());
    }

    #[test]
    fn a_bare_pid_gets_its_start_time() {
        let mut g = Graph::default();
        let me = std::process::id() as i32;
        let id = g.add_node("process", &me.to_string(), Map::new()).unwrap();
        assert_eq!(id, format!("process:{me}:{}", start_ticks(me).unwrap()));
        // A pid that no longer runs maps to the node recorded for it.
        let mut g = Graph::default();
        g.add_node("process", "999999999:42", Map::new()).unwrap();
        assert_eq!(
            g.add_node("process", "999999999", Map::new()).unwrap(),
            "process:999999999:42"
        );
    }

    #[test]
    fn saves_atomically_loads_and_renders_escaped() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Graph::load(dir.path()).unwrap(), Graph::default());
        let mut g = Graph::default();
        let p = g
            .add_node(
                "process",
                "7:1",
                attrs(json!({ "label": "<script>x</script> `a|b`" })),
            )
            .unwrap();
        let f = g.add_node("file", "/tmp/\x1b[31mred", Map::new()).unwrap();
        g.add_edge(&p, &f, "runs", "cmdline \"bash /tmp/x\"")
            .unwrap();
        g.save(dir.path()).unwrap();
        assert_eq!(Graph::load(dir.path()).unwrap(), g);
        assert!(!dir.path().join(".graph.json.tmp").exists());
        let html = section_html(dir.path());
        assert!(html.contains("<svg") && !html.contains("<script>") && !html.contains('\x1b'));
        assert!(html.contains("&lt;script&gt;"));
        let md = section_markdown(dir.path());
        assert!(md.contains("*runs*") && !md.contains("`a|b`") && !md.contains('\x1b'));
        assert!(md.contains("## Incident graph (2 entities, 1 links)"));
        assert_eq!(section_markdown(tempfile::tempdir().unwrap().path()), "");
    }
}
