//! The incident report, built from the typed journal (and the plan): what
//! was found, on what evidence, what was done (and how to undo it), what to
//! do next. The Markdown and HTML renderings are in `report_render`.

use crate::error::{Error, Result};
use crate::runtime::action::Status;
use crate::runtime::case::{Finding, SEVERITIES};
use crate::runtime::journal::{self, Action, Body, Entry};
use crate::runtime::plan;
pub use crate::runtime::report_render::{html, markdown};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub time: String,
    #[serde(flatten)]
    pub finding: Finding,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceRow {
    pub id: String,
    pub kind: String,
    pub what: String,
    pub sha256: Option<String>,
    pub stored: String,
    /// What could not be captured.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    #[serde(flatten)]
    pub action: Action,
    /// In words, for the tables.
    pub target: String,
    pub outcome: String,
    pub undo_text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    pub id: String,
    pub action: String,
    pub target: String,
    pub why: String,
    pub approval: String,
    pub status: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    pub time: String,
    pub primitive: String,
    pub dry_run: bool,
    pub summary: String,
}

/// The report as data (what `--format json` writes).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub integrity: String,
    pub containment: String,
    pub host: String,
    pub from: String,
    pub to: String,
    pub verdict: String,
    pub findings: Vec<FindingRow>,
    pub evidence: Vec<EvidenceRow>,
    pub actions: Vec<ActionRow>,
    pub plan: Vec<PlanRow>,
    pub journal_entries: usize,
    pub timeline: Vec<TimelineRow>,
    /// Entries whose fields did not parse (edited, or written by another version).
    pub unreadable: Vec<String>,
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Long values (a whole nft batch) cut for a table cell; the journal keeps them.
pub(crate) fn short(text: &str) -> String {
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(159).collect::<String>())
    } else {
        text.to_string()
    }
}

fn rank(sev: &str) -> usize {
    SEVERITIES.iter().position(|x| *x == sev).unwrap_or(0)
}

/// What `proc::kill` returns, as far as the report reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KillView {
    status: String,
    signal: String,
    killed: Vec<i32>,
    respawned: bool,
    new_pid: Option<i32>,
    evidence: Option<String>,
    what: String,
}

/// What `fs::quarantine` returns, as far as the report reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QuarantineView {
    stored: String,
    sha256: Option<String>,
    size: u64,
}

fn view<T: Default + serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// What an action was aimed at and what came of it, in words.
fn action_text(a: &Action) -> (String, String) {
    let target = match a.primitive.as_str() {
        "proc::kill" | "proc::suspend" | "proc::resume" => {
            let k: KillView = view(&a.result);
            let what = a
                .what
                .split_once(" (")
                .map(|x| x.1.trim_end_matches(')'))
                .unwrap_or("");
            format!(
                "pid {} ({})",
                s(&a.args["pid"]),
                if k.what.is_empty() { what } else { &k.what }
            )
        }
        _ => a.what.clone(),
    };
    let outcome = match a.status {
        None => "no outcome recorded (check the target by hand)".to_string(),
        Some(Status::Would) => format!("would {}", a.what),
        Some(st @ (Status::Failed | Status::Refused | Status::Skipped)) => {
            format!("{}: {}", st.as_str(), s(&a.result["error"]))
        }
        Some(Status::Done) => match a.primitive.as_str() {
            "proc::kill" => {
                let k: KillView = view(&a.result);
                let mut t = format!(
                    "{}: pids {:?} stopped with {}; evidence {}",
                    k.status,
                    k.killed,
                    k.signal,
                    k.evidence.unwrap_or_default()
                );
                if k.respawned {
                    t.push_str(&format!(
                        "; RESPAWNED as pid {}",
                        k.new_pid.map(|p| p.to_string()).unwrap_or_default()
                    ));
                }
                t
            }
            "fs::quarantine" => {
                let q: QuarantineView = view(&a.result);
                format!(
                    "copied to {} (sha256 {}, {} bytes), original removed",
                    q.stored,
                    q.sha256.unwrap_or_default(),
                    q.size
                )
            }
            _ => format!("done: {}", short(&s(&a.result["status"]))),
        },
    };
    (target, outcome)
}

/// How to undo an action, as a call to type (or why there is none). Undos
/// with no primitive of their own (a removed line, a disabled unit, a
/// locked account) are carried out by `case::undo` with the action's id.
fn undo_text(a: &Action) -> String {
    match &a.undo {
        None => "-".into(),
        Some(u) if u.primitive == "none" => s(&u.args["note"]),
        Some(u) if crate::runtime::action_exec::UNDO_ONLY.contains(&u.primitive.as_str()) => {
            format!("case::undo(\"{}\")", a.action_id)
        }
        Some(u) => format!("{} {}", u.primitive, u.args),
    }
}

fn summary(e: &Entry) -> (String, String) {
    match &e.body {
        Body::Finding(f) => (
            "case::finding".into(),
            format!("[{}] {}", f.severity, f.title),
        ),
        Body::Evidence(r) => ("case::evidence".into(), format!("preserved {}", r.what)),
        Body::Planned(p) => (
            "case::plan_add".into(),
            format!(
                "planned {}: {} {}",
                p.id,
                p.action,
                short(&p.target.to_string())
            ),
        ),
        Body::Intent {
            primitive, record, ..
        } => (primitive.clone(), record.what.clone()),
        Body::Outcome {
            primitive,
            status,
            result,
            ..
        } => {
            let detail = match status {
                Status::Done => short(&s(&result["status"])),
                Status::Would => "previewed, nothing changed".into(),
                _ => short(&s(&result["error"])),
            };
            (primitive.clone(), format!("{}: {detail}", status.as_str()))
        }
        Body::Other {
            primitive, args, ..
        } => (primitive.clone(), short(&s(args))),
        Body::Unreadable { primitive, error } => {
            (primitive.clone(), format!("UNREADABLE entry: {error}"))
        }
    }
}

/// The conclusion a responder would write: compromised or not, on which
/// findings, and whether the host was used against others (outbound
/// command-and-control or flooding findings that name addresses).
fn verdict(host: &str, findings: &[FindingRow]) -> String {
    let Some(top) = findings.first().map(|f| f.finding.severity.as_str()) else {
        return format!("No findings were recorded on {host}.");
    };
    if rank(top) < rank("high") {
        return format!(
            "{host} shows findings of at most {top} severity; no compromise was established."
        );
    }
    let serious: Vec<&Finding> = findings
        .iter()
        .map(|f| &f.finding)
        .filter(|f| rank(&f.severity) >= rank("high"))
        .collect();
    let lead = serious[0];
    let ev = short(&s(&lead.details["evidence"]));
    let mut v = format!("{host} was compromised: {}", lead.title);
    if !ev.is_empty() {
        v.push_str(&format!(" ({ev})"));
    }
    v.push('.');
    // T1071 command and control, T1498/T1499 denial of service, T1090 proxy.
    let mut targets: Vec<String> = Vec::new();
    for f in &serious {
        let m = f.mitre.clone().unwrap_or_else(|| s(&f.details["mitre"]));
        if ["T1071", "T1498", "T1499", "T1090"]
            .iter()
            .any(|t| m.starts_with(t))
        {
            for a in f.details["addresses"].as_array().into_iter().flatten() {
                let a = s(a);
                if !targets.contains(&a) {
                    targets.push(a);
                }
            }
        }
    }
    if !targets.is_empty() {
        v.push_str(&format!(
            " It was used to send traffic to {}.",
            short(&targets.join(", "))
        ));
    }
    if serious.len() > 1 {
        v.push_str(&format!(
            " {} high or critical findings in all; see Findings.",
            serious.len()
        ));
    }
    v
}

/// One sentence on what was done about it (dry runs excluded, only actions
/// that were carried out), and what did not go through.
fn containment(actions: &[Action]) -> String {
    let done: Vec<&Action> = actions
        .iter()
        .filter(|a| !a.dry_run && a.status == Some(Status::Done))
        .collect();
    let count = |p: &str| done.iter().filter(|a| a.primitive == p).count();
    let mut parts = Vec::new();
    let kills = count("proc::kill");
    if kills > 0 {
        parts.push(format!("{kills} process kill(s)"));
    }
    let files = count("fs::quarantine");
    if files > 0 {
        parts.push(format!("{files} file(s) quarantined"));
    }
    for (p, label) in [
        ("fs::remove_line", "persistence line(s) removed"),
        ("sys::disable_unit", "unit(s) disabled"),
        ("sys::lock_account", "account(s) locked"),
    ] {
        let n = count(p);
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    let fw = done
        .iter()
        .filter(|a| a.primitive.starts_with("fw::"))
        .count();
    if fw > 0 {
        parts.push(format!("{fw} firewall change(s)"));
    }
    let mut t = if parts.is_empty() {
        "No containment action was taken through hound.".to_string()
    } else {
        format!("Actions taken: {}.", parts.join(", "))
    };
    let respawned: Vec<String> = done
        .iter()
        .filter(|a| a.primitive == "proc::kill")
        .filter_map(|a| {
            let k: KillView = view(&a.result);
            k.respawned.then(|| s(&a.args["pid"]))
        })
        .collect();
    if !respawned.is_empty() {
        t.push_str(&format!(
            " Killed processes came back (pid {}): something restarts them; find and remove it.",
            respawned.join(", ")
        ));
    }
    let not_done = actions
        .iter()
        .filter(|a| !a.dry_run && a.status != Some(Status::Done))
        .count();
    if not_done > 0 {
        t.push_str(&format!(
            " {not_done} action(s) were skipped, refused, failed or have no recorded outcome; see Actions."
        ));
    }
    let dry = actions.iter().filter(|a| a.dry_run).count();
    if dry > 0 {
        t.push_str(&format!(" {dry} action(s) were only previewed (dry run)."));
    }
    t
}

fn why_text(why: &[Value]) -> String {
    why.iter()
        .map(|w| match w {
            Value::Object(_) => {
                let ev = s(&w["evidence"]);
                let mut t = format!("{} {} {}", s(&w["from"]), s(&w["relation"]), s(&w["to"]));
                if !ev.is_empty() {
                    t.push_str(&format!(" ({ev})"));
                }
                t
            }
            other => s(other),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn plan_rows(dir: &Path) -> Vec<PlanRow> {
    let Ok(p) = plan::load(dir) else {
        return vec![];
    };
    p.items
        .iter()
        .map(|i| PlanRow {
            id: i.id.clone(),
            action: i.action.as_str().into(),
            target: s(&i.target),
            why: why_text(&i.why),
            approval: match &i.approval_reason {
                Some(r) => format!("{} ({r})", i.approval),
                None => i.approval.clone(),
            },
            status: i.status.clone(),
            message: i
                .outcome
                .as_ref()
                .map(|o| o.message.clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// Builds the report of a case folder.
pub fn build(dir: &Path) -> Result<Report> {
    let entries = journal::read(dir)?;
    let host = entries.first().map(|e| e.host.clone()).unwrap_or_default();
    let from = entries.first().map(|e| e.time.clone()).unwrap_or_default();
    let to = entries.last().map(|e| e.time.clone()).unwrap_or_default();
    let mut findings: Vec<FindingRow> = entries
        .iter()
        .filter_map(|e| match &e.body {
            Body::Finding(f) => Some(FindingRow {
                time: e.time.clone(),
                finding: f.clone(),
            }),
            _ => None,
        })
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(rank(&f.finding.severity)));
    let actions = journal::actions(&entries);
    // Evidence taken on purpose, and what each action captured before acting.
    let mut evidence: Vec<EvidenceRow> = entries
        .iter()
        .filter_map(|e| match &e.body {
            Body::Evidence(r) => Some(EvidenceRow {
                id: r.id.clone(),
                kind: r.kind.clone(),
                what: r.what.clone(),
                sha256: r.sha256.clone(),
                stored: r.stored.clone(),
                missing: r
                    .missing
                    .iter()
                    .map(|m| format!("{}: {}", s(&m["what"]), s(&m["error"])))
                    .collect(),
            }),
            _ => None,
        })
        .collect();
    for a in &actions {
        for c in &a.evidence {
            let mut missing = c.missing.clone();
            missing.extend(c.error.iter().map(|e| format!("everything: {e}")));
            evidence.push(EvidenceRow {
                id: c.id.clone().unwrap_or_else(|| "(not captured)".into()),
                kind: "process".into(),
                what: format!("{}, before {} ({})", c.target, a.primitive, a.what),
                sha256: c.sha256.clone(),
                stored: c.stored.clone().unwrap_or_default(),
                missing,
            });
        }
    }
    let containment = containment(&actions);
    let verdict = verdict(&host, &findings);
    let rows = actions
        .into_iter()
        .map(|a| {
            let (target, outcome) = action_text(&a);
            ActionRow {
                undo_text: undo_text(&a),
                action: a,
                target,
                outcome,
            }
        })
        .collect();
    // A report is only as good as its journal: say whether it verified.
    let integrity = match crate::runtime::case::verify(dir) {
        Ok(n) => format!("verified: {n} entries, hash chain intact, nothing cut off"),
        Err(e) => format!("NOT VERIFIED: {}", e.message),
    };
    Ok(Report {
        integrity,
        containment,
        host,
        from,
        to,
        verdict,
        findings,
        evidence,
        actions: rows,
        plan: plan_rows(dir),
        journal_entries: entries.len(),
        timeline: entries
            .iter()
            .map(|e| {
                let (primitive, summary) = summary(e);
                TimelineRow {
                    time: e.time.clone(),
                    primitive,
                    dry_run: e.dry_run,
                    summary,
                }
            })
            .collect(),
        unreadable: entries
            .iter()
            .filter_map(|e| match &e.body {
                Body::Unreadable { primitive, error } => {
                    Some(format!("entry {} ({primitive}): {error}", e.seq))
                }
                _ => None,
            })
            .collect(),
    })
}

pub(crate) fn recommendations(r: &Report) -> Vec<String> {
    let mut v = Vec::new();
    if r.verdict.contains("was compromised") {
        v.push("Keep the host isolated (or its offending traffic blocked) until it is rebuilt; a cleaned system cannot be fully trusted. Reinstall from known-good media when possible.".into());
        v.push("Find the way in: review the web and authentication logs around the first sign of activity, and patch what was exploited. Rotate credentials and SSH keys that lived on the host.".into());
        v.push("Answer the party that reported the attack with the evidence below (hashes, times, processes) and the containment in place.".into());
    }
    if r.actions.iter().any(|a| a.action.primitive == "fw::block") {
        v.push("Review the nftables blocks in hound's table (`fw::blocks()`) and decide how long each stays; `fw::rollback()` removes them all.".into());
    }
    if r.plan
        .iter()
        .any(|p| p.status != "done" && p.status != "undone")
    {
        v.push("Some plan items were not carried out (see Plan): review them, then `hound apply CASE --only ...` (with `--approve` for those that need it).".into());
    }
    v.push("Patch the system and its services, and remove software that is not needed.".into());
    v.push("Deploy network and host intrusion detection (IDS/IPS) and send logs to a central place (a SIEM), so the next beacon is seen in minutes, not reported by an outsider.".into());
    v.push("Train the team on this procedure: detect, contain, verify, investigate, remediate, report.".into());
    v
}

/// Writes `reports/report.<ext>` in the case folder and returns its path.
pub fn write(dir: &Path, format: &str) -> Result<PathBuf> {
    let r = build(dir)?;
    let (ext, text) = match format {
        "md" | "markdown" => ("md", markdown(&r)),
        "json" => (
            "json",
            serde_json::to_string_pretty(&r).map_err(|e| Error::io_msg(format!("report: {e}")))?,
        ),
        "html" => ("html", html(&r)),
        other => {
            return Err(Error::invalid(format!(
                "format {other:?}: expected \"md\", \"json\" or \"html\""
            )))
        }
    };
    let out = dir.join("reports");
    std::fs::create_dir_all(&out).map_err(|e| Error::io(out.display(), e))?;
    let path = out.join(format!("report.{ext}"));
    std::fs::write(&path, text).map_err(|e| Error::io(path.display(), e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The synthetic journal written as a case folder (without a valid chain).
    fn case_with_synthetic_journal() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let text: String = journal::tests::synthetic()
            .iter()
            .map(|v| format!("{v}\n"))
            .collect();
        std::fs::write(d.path().join(crate::runtime::case::JOURNAL), text).unwrap();
        d
    }

    #[test]
    fn the_report_reads_every_kind_of_entry() {
        let d = case_with_synthetic_journal();
        let r = build(d.path()).unwrap();
        assert_eq!(r.host, "web01");
        assert_eq!(r.findings.len(), 1);
        assert!(
            r.verdict.contains("was compromised: Beacon to 192.0.2.9"),
            "{}",
            r.verdict
        );
        assert!(r.verdict.contains("send traffic to 192.0.2.9"));
        // case::evidence, and the kill's capture before it acted.
        assert_eq!(r.evidence.len(), 2);
        assert!(r.evidence[1].what.contains("before proc::kill"));
        assert_eq!(r.actions.len(), 4);
        assert!(
            r.actions[0].outcome.contains("RESPAWNED as pid 50"),
            "{}",
            r.actions[0].outcome
        );
        assert!(r.actions[1]
            .outcome
            .starts_with("failed: permission denied"));
        assert!(r.actions[2].outcome.starts_with("would remove line 3"));
        assert!(r.actions[3].outcome.contains("no outcome recorded"));
        assert!(
            r.containment.contains("1 process kill(s)"),
            "{}",
            r.containment
        );
        assert!(r.containment.contains("came back (pid 42)"));
        assert!(r
            .containment
            .contains("2 action(s) were skipped, refused, failed"));
        assert!(r.containment.contains("1 action(s) were only previewed"));
        assert_eq!(r.unreadable.len(), 1);
        assert!(r.integrity.starts_with("NOT VERIFIED"));
        let md = markdown(&r);
        assert!(md.contains("UNREADABLE entry"));
        assert!(md.contains("## Actions (4)"));
        let html = html(&r);
        assert!(html.contains("<h2>Actions</h2>"));
    }

    #[test]
    fn the_plan_is_shown_with_each_outcome() {
        let d = case_with_synthetic_journal();
        let plan = serde_json::json!({ "version": 1, "items": [
            { "id": "A1", "action": "kill", "target": { "pid": 42 }, "identity": {}, "why": [
                { "from": "process:42:1", "to": "indicator:192.0.2.9", "relation": "connects to", "evidence": "ss" }],
              "approval": "auto", "status": "done", "planned_at": "t",
              "outcome": { "id": "A1", "action": "kill", "status": "done", "message": "kill pid 42", "time": "t" } },
            { "id": "A2", "action": "lock_account", "target": { "user": "svc" }, "identity": {}, "why": ["uid 0"],
              "approval": "required", "approval_reason": "accounts need approval", "status": "refused", "planned_at": "t",
              "outcome": { "id": "A2", "action": "lock_account", "status": "refused", "message": "needs approval", "time": "t" } }
        ]});
        std::fs::write(d.path().join("plan.json"), plan.to_string()).unwrap();
        let r = build(d.path()).unwrap();
        assert_eq!(r.plan.len(), 2);
        assert_eq!(
            r.plan[0].why,
            "process:42:1 connects to indicator:192.0.2.9 (ss)"
        );
        assert_eq!(r.plan[1].status, "refused");
        let md = markdown(&r);
        assert!(md.contains("| A2 | lock_account |"), "{md}");
        assert!(md.contains("needs approval"));
        assert!(recommendations(&r)
            .iter()
            .any(|x| x.contains("hound apply")));
    }
}
