//! The journal's entries as types. The writers (`Context::act`,
//! `case::finding`, `case::evidence`) and the report share these, so a
//! renamed field fails to parse (and says so) instead of silently dropping
//! a line from the report. Intent and outcome are paired by `action_id`.

use crate::error::Result;
use crate::runtime::action::{Captured, Status, Undo};
use crate::runtime::case::{read_journal, Finding};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// The `result` of an intent entry: what is about to happen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentRecord {
    pub what: String,
    #[serde(default)]
    pub evidence: Vec<Captured>,
    /// What a dry run reported instead of acting.
    #[serde(default)]
    pub would: Value,
}

/// The `args` of an outcome entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeArgs {
    /// Always true: lets readers of older journals tell outcomes apart.
    pub outcome: bool,
    pub status: Status,
    #[serde(default)]
    pub target: Value,
}

/// The `result` of a `case::evidence` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    pub id: String,
    pub kind: String,
    pub what: String,
    #[serde(default)]
    pub sha256: Option<String>,
    pub stored: String,
    #[serde(default)]
    pub missing: Vec<Value>,
}

/// The `args` of a `case::plan_add` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRecord {
    pub id: String,
    pub action: String,
    pub target: Value,
    #[serde(default)]
    pub why: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Finding(Finding),
    Planned(PlannedRecord),
    Evidence(EvidenceRecord),
    Intent {
        action_id: String,
        primitive: String,
        args: Value,
        record: IntentRecord,
        undo: Option<Undo>,
    },
    Outcome {
        action_id: String,
        primitive: String,
        status: Status,
        target: Value,
        result: Value,
        undo: Option<Undo>,
    },
    /// An entry of another kind (or of an older hound), kept for the timeline.
    Other {
        primitive: String,
        args: Value,
        result: Value,
    },
    /// A known kind whose fields did not parse: reported, never dropped.
    Unreadable {
        primitive: String,
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub time: String,
    pub host: String,
    pub user: String,
    pub dry_run: bool,
    pub body: Body,
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

fn typed<T: serde::de::DeserializeOwned>(v: &Value, what: &str) -> std::result::Result<T, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("{what}: {e}"))
}

impl Entry {
    /// One journal line as a typed entry.
    pub fn parse(v: &Value) -> Entry {
        let primitive = text(v, "primitive");
        let undo = || -> std::result::Result<Option<Undo>, String> {
            match &v["undo"] {
                Value::Null => Ok(None),
                u => typed(u, "undo").map(Some),
            }
        };
        let body = match (v["kind"].as_str(), primitive.as_str()) {
            (Some("intent"), _) => {
                typed::<IntentRecord>(&v["result"], "result").and_then(|record| {
                    Ok(Body::Intent {
                        action_id: text(v, "action_id"),
                        primitive: primitive.clone(),
                        args: v["args"].clone(),
                        record,
                        undo: undo()?,
                    })
                })
            }
            (Some("outcome"), _) => typed::<OutcomeArgs>(&v["args"], "args").and_then(|a| {
                Ok(Body::Outcome {
                    action_id: text(v, "action_id"),
                    primitive: primitive.clone(),
                    status: a.status,
                    target: a.target,
                    result: v["result"].clone(),
                    undo: undo()?,
                })
            }),
            (_, "case::finding") => typed(&v["args"], "args").map(Body::Finding),
            (_, "case::evidence") => typed(&v["result"], "result").map(Body::Evidence),
            (_, "case::plan_add") => typed(&v["args"], "args").map(Body::Planned),
            _ => Ok(Body::Other {
                primitive: primitive.clone(),
                args: v["args"].clone(),
                result: v["result"].clone(),
            }),
        };
        Entry {
            seq: v["seq"].as_u64().unwrap_or_default(),
            time: text(v, "time"),
            host: text(v, "host"),
            user: text(v, "user"),
            dry_run: v["dry_run"] == true,
            body: body.unwrap_or_else(|error| Body::Unreadable {
                primitive: primitive.clone(),
                error,
            }),
        }
    }
}

/// Every entry of a case's journal, typed.
pub fn read(dir: &Path) -> Result<Vec<Entry>> {
    Ok(read_journal(dir)?.iter().map(Entry::parse).collect())
}

/// An action: its intent and, when one was written, its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub action_id: String,
    pub primitive: String,
    pub time: String,
    pub dry_run: bool,
    pub args: Value,
    pub what: String,
    pub evidence: Vec<Captured>,
    /// `None`: no outcome was journaled (a crash while acting, or the
    /// outcome's write failed).
    pub status: Option<Status>,
    pub result: Value,
    pub undo: Option<Undo>,
}

/// The actions of a journal, in the order they were started.
pub fn actions(entries: &[Entry]) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        match &e.body {
            Body::Intent {
                action_id,
                primitive,
                args,
                record,
                undo,
            } => {
                by_id.insert(action_id, out.len());
                out.push(Action {
                    action_id: action_id.clone(),
                    primitive: primitive.clone(),
                    time: e.time.clone(),
                    dry_run: e.dry_run,
                    args: args.clone(),
                    what: record.what.clone(),
                    evidence: record.evidence.clone(),
                    status: None,
                    result: Value::Null,
                    undo: undo.clone(),
                });
            }
            Body::Outcome {
                action_id,
                status,
                result,
                undo,
                ..
            } => {
                if let Some(a) = by_id.get(action_id.as_str()).and_then(|i| out.get_mut(*i)) {
                    a.status = Some(*status);
                    a.result = result.clone();
                    if undo.is_some() {
                        a.undo = undo.clone();
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn line(seq: u64, primitive: &str, extra: Value) -> Value {
        let mut v = json!({ "seq": seq, "time": format!("2026-01-01T00:00:0{seq}Z"), "host": "web01",
                            "user": "root", "primitive": primitive, "args": {}, "result": null,
                            "undo": null, "dry_run": false, "prev": "", "hash": "" });
        for (k, x) in extra.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        v
    }

    /// A small journal with one entry of every kind.
    pub(crate) fn synthetic() -> Vec<Value> {
        vec![
            line(
                0,
                "case::finding",
                json!({ "args": { "severity": "high", "title": "Beacon to 192.0.2.9",
                 "details": { "evidence": "nc every 2 s", "addresses": ["192.0.2.9"] }, "mitre": "T1071" } }),
            ),
            line(
                1,
                "case::evidence",
                json!({ "result": { "id": "file-1", "kind": "file", "what": "/tmp/b.sh",
                 "sha256": "ab", "stored": "/case/evidence/file-1" } }),
            ),
            line(
                2,
                "proc::kill",
                json!({ "kind": "intent", "action_id": "x2",
                 "args": { "pid": 42, "tree": true },
                 "result": { "what": "kill pid 42 (bash /tmp/b.sh)", "evidence": [{ "target": "pid 42",
                    "id": "proc-42-1", "stored": "/case/evidence/proc-42-1", "sha256": "cd", "error": null, "missing": [] }],
                    "would": {} },
                 "undo": { "primitive": "none", "args": { "note": "cannot be revived" } } }),
            ),
            line(
                3,
                "fs::quarantine",
                json!({ "kind": "intent", "action_id": "x3", "args": { "path": "/tmp/b.sh" },
                 "result": { "what": "quarantine /tmp/b.sh" }, "undo": { "primitive": "fs::restore", "args": { "id": null } } }),
            ),
            line(
                4,
                "proc::kill",
                json!({ "kind": "outcome", "action_id": "x2",
                 "args": { "outcome": true, "status": "done", "target": { "pid": 42 } },
                 "result": { "status": "killed", "killed": [42, 43], "gone": true, "respawned": true, "new_pid": 50,
                             "signal": "TERM", "evidence": "proc-42-1", "what": "bash /tmp/b.sh" } }),
            ),
            line(
                5,
                "fs::quarantine",
                json!({ "kind": "outcome", "action_id": "x3",
                 "args": { "outcome": true, "status": "failed", "target": { "path": "/tmp/b.sh" } },
                 "result": { "error": "permission denied" } }),
            ),
            line(
                6,
                "fs::remove_line",
                json!({ "kind": "intent", "action_id": "x6", "args": { "path": "/etc/crontab", "line": 3 },
                 "result": { "what": "remove line 3 of /etc/crontab" }, "dry_run": true }),
            ),
            line(
                7,
                "fs::remove_line",
                json!({ "kind": "outcome", "action_id": "x6", "dry_run": true,
                 "args": { "outcome": true, "status": "would", "target": {} }, "result": { "would_remove": "x" } }),
            ),
            line(
                8,
                "proc::kill",
                json!({ "kind": "intent", "action_id": "x8", "args": { "pid": 77 },
                 "result": { "what": "kill pid 77 (nc)" } }),
            ),
            line(9, "case::note", json!({ "args": { "text": "hello" } })),
            line(10, "case::finding", json!({ "args": { "sev": "high" } })),
            line(
                11,
                "case::plan_add",
                json!({ "args": { "id": "A1", "action": "kill", "target": { "pid": 42 },
                 "why": ["connects to 192.0.2.9"] } }),
            ),
        ]
    }

    #[test]
    fn every_kind_parses_to_its_type() {
        let e: Vec<Entry> = synthetic().iter().map(Entry::parse).collect();
        assert!(matches!(&e[0].body, Body::Finding(f) if f.severity == "high"));
        assert!(matches!(&e[1].body, Body::Evidence(r) if r.id == "file-1"));
        assert!(
            matches!(&e[2].body, Body::Intent { record, .. } if record.evidence[0].id.as_deref() == Some("proc-42-1"))
        );
        assert!(matches!(
            &e[4].body,
            Body::Outcome {
                status: Status::Done,
                ..
            }
        ));
        assert!(matches!(&e[9].body, Body::Other { primitive, .. } if primitive == "case::note"));
        // A renamed field is reported, not dropped.
        assert!(
            matches!(&e[10].body, Body::Unreadable { error, .. } if error.contains("severity"))
        );
    }

    #[test]
    fn intents_and_outcomes_pair_by_id_not_position() {
        let e: Vec<Entry> = synthetic().iter().map(Entry::parse).collect();
        let a = actions(&e);
        assert_eq!(a.len(), 4);
        assert_eq!(a[0].action_id, "x2");
        assert_eq!(a[0].status, Some(Status::Done));
        assert_eq!(a[0].result["respawned"], true);
        assert_eq!(a[1].status, Some(Status::Failed));
        assert_eq!(
            a[1].undo.as_ref().map(|u| u.primitive.as_str()),
            Some("fs::restore")
        );
        assert_eq!(a[2].status, Some(Status::Would));
        assert!(a[2].dry_run);
        assert_eq!(a[3].status, None, "no outcome journaled");
    }
}
