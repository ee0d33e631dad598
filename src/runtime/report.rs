//! The incident report, built from the typed journal (and the plan): what
//! was found, on what evidence, what was done (and how to undo it), what to
//! do next. The Markdown and HTML renderings are in `report_render`.

use crate::error::{Error, Result};
use crate::runtime::action::{Captured, Status};
use crate::runtime::case::{Finding, SEVERITIES};
use crate::runtime::journal::{self, Action, Body, Entry};
use crate::runtime::plan;
use crate::runtime::report_fw;
pub use crate::runtime::report_render::{html, markdown};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub time: String,
    #[serde(flatten)]
    pub finding: Finding,
    /// How many times the same finding (severity, title, evidence) was
    /// recorded in the case (hunts run again into one case); 1 is left out.
    #[serde(skip_serializing_if = "is_once")]
    pub times: usize,
}

fn is_once(n: &usize) -> bool {
    *n <= 1
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

/// One action of the containment, in words.
#[derive(Debug, Clone, Serialize)]
pub struct ContainmentRow {
    pub action_id: String,
    pub time: String,
    pub primitive: String,
    pub dry_run: bool,
    /// `done`, `would`, `skipped`, `refused`, `failed`, or `unknown` (no
    /// outcome was journaled).
    pub status: String,
    /// What it did (or would do), in words.
    pub what: String,
    pub undo: String,
}

/// What was done about the incident: a sentence, and every action.
#[derive(Debug, Clone, Serialize)]
pub struct Containment {
    pub summary: String,
    pub actions: Vec<ContainmentRow>,
}

/// The firewall changes previewed in a dry run, as one nft JSON file.
#[derive(Debug, Clone, Serialize)]
pub struct FirewallDryRun {
    /// In the case's `reports/` folder, next to the report.
    pub file: String,
    /// The dry-run actions it holds.
    pub actions: Vec<String>,
    /// `{"nftables": [...]}`, for `nft -j -f`.
    #[serde(skip)]
    pub nft: Value,
}

/// The report as data (what `--format json` writes).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub integrity: String,
    pub containment: Containment,
    /// `null` when no firewall change was previewed.
    pub firewall_dry_run: Option<FirewallDryRun>,
    pub host: String,
    pub from: String,
    pub to: String,
    pub verdict: String,
    pub findings: Vec<FindingRow>,
    pub evidence: Vec<EvidenceRow>,
    pub actions: Vec<ActionRow>,
    pub plan: Vec<PlanRow>,
    /// The incident graph (`graph.json`), `null` when none was recorded.
    pub graph: serde_json::Value,
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
            let tree = a.args["tree"] == true;
            // "kill pid 12 (nc -z ...) and its descendants": the command.
            let what = a
                .what
                .trim_end_matches(" and its descendants")
                .split_once(" (")
                .map(|x| x.1.strip_suffix(')').unwrap_or(x.1))
                .unwrap_or("");
            format!(
                "pid {} ({}){}",
                s(&a.args["pid"]),
                if k.what.is_empty() { what } else { &k.what },
                if tree { " and its descendants" } else { "" }
            )
        }
        p => report_fw::words(p, &a.args).map_or_else(|| a.what.clone(), |w| w.object),
    };
    let fw = report_fw::words(&a.primitive, &a.args);
    let outcome = match a.status {
        None => "no outcome recorded (check the target by hand)".to_string(),
        Some(Status::Would) => match &fw {
            Some(w) => format!("{} (nft batch in {})", w.would(), report_fw::DRY_RUN_FILE),
            None => format!("would {}", a.what),
        },
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
                    k.evidence.unwrap_or_else(|| "none recorded".into())
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
            _ => match &fw {
                Some(w) => format!("{} in hound's nftables table", w.past),
                None => format!("done: {}", short(&s(&a.result["status"]))),
            },
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
        Some(u) => report_fw::undo_call(u).unwrap_or_else(|| format!("{} {}", u.primitive, u.args)),
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
            primitive,
            record,
            args,
            ..
        } => (
            primitive.clone(),
            report_fw::words(primitive, args).map_or_else(
                || record.what.clone(),
                |w| format!("{} {}", w.verb, w.object),
            ),
        ),
        Body::Outcome {
            primitive,
            status,
            result,
            target,
            ..
        } => {
            let fw = report_fw::words(primitive, target);
            let detail = match (status, fw) {
                (Status::Done, Some(w)) => w.done(),
                (Status::Done, None) => short(&s(&result["status"])),
                (Status::Would, _) => "previewed, nothing changed".into(),
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

/// The conclusion's evidence is kept whole (it is the attack chain); only
/// text past this length, which no chain reaches, is cut.
const CONCLUSION_MAX: usize = 4000;

fn whole(text: &str) -> String {
    if text.chars().count() <= CONCLUSION_MAX {
        return text.to_string();
    }
    format!(
        "{}… (cut at {CONCLUSION_MAX} characters; the journal keeps it whole)",
        text.chars().take(CONCLUSION_MAX).collect::<String>()
    )
}

/// The conclusion a responder would write: compromised or not, on which
/// findings, and whether the host was used against others (outbound
/// command-and-control or flooding findings that name addresses). Each
/// target is named once, ports gathered, and not again when the leading
/// finding's title names it already.
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
    let ev = whole(&s(&lead.details["evidence"]));
    let mut v = format!("{host} was compromised: {}", lead.title);
    if !ev.is_empty() {
        v.push_str(&format!(" ({ev})"));
    }
    v.push('.');
    // T1071 command and control, T1498/T1499 denial of service, T1090 proxy.
    let mut named: Vec<String> = Vec::new();
    for f in &serious {
        let m = f.mitre.clone().unwrap_or_else(|| s(&f.details["mitre"]));
        if ["T1071", "T1498", "T1499", "T1090"]
            .iter()
            .any(|t| m.starts_with(t))
        {
            named.extend(
                f.details["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(s),
            );
        }
    }
    let targets = report_fw::distinct_targets(named.iter().map(String::as_str));
    let untold: Vec<&str> = targets
        .iter()
        .filter(|(h, _)| !mentions(&lead.title, h))
        .map(|(_, shown)| shown.as_str())
        .collect();
    if !untold.is_empty() {
        v.push_str(&format!(
            " It was {}used to send traffic to {}.",
            if untold.len() < targets.len() {
                "also "
            } else {
                ""
            },
            untold.join(", ")
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

/// Whether `text` names `host` as a whole address: 10.0.0.196 names it in
/// "to 10.0.0.196:80" and "to 10.0.0.196.", 10.0.0.1 is not named by
/// 10.0.0.196.
fn mentions(text: &str, host: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '-';
    text.match_indices(host).any(|(i, _)| {
        let mut before = text[..i].chars();
        let mut after = text[i + host.len()..].chars();
        let open = before
            .next_back()
            .is_none_or(|c| !word(c) && c != '.' && c != ':');
        let closed = match after.next() {
            None => true,
            Some('.') => after.next().is_none_or(|c| !word(c)),
            Some(c) => !word(c),
        };
        open && closed
    })
}

/// What was done about it: one sentence (dry runs excluded, only actions
/// that were carried out; firewall changes in words), what did not go
/// through, and every action in words.
fn containment(actions: &[Action], fw_dry_run: Option<&FirewallDryRun>) -> Containment {
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
    for a in &done {
        match report_fw::words(&a.primitive, &a.args) {
            Some(w) => parts.push(w.done()),
            None if a.primitive.starts_with("fw::") => {
                parts.push(format!("firewall change: {}", a.what))
            }
            None => {}
        }
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
    // A preview that a later run (`hound apply`) carried out was not "only"
    // previewed: counted are those with no done action of the same call.
    let dry = actions
        .iter()
        .filter(|a| a.dry_run)
        .filter(|a| {
            !done
                .iter()
                .any(|d| d.primitive == a.primitive && d.args == a.args)
        })
        .count();
    if dry > 0 {
        t.push_str(&format!(
            " {dry} action(s) were only previewed (dry run) and not carried out later"
        ));
        if let Some(f) = fw_dry_run {
            t.push_str(&format!(
                "; the firewall changes among them are in reports/{}, ready for nft -j -f",
                f.file
            ));
        }
        t.push('.');
    }
    let rows = actions
        .iter()
        .map(|a| {
            let (target, outcome) = action_text(a);
            let what = match (a.status, report_fw::words(&a.primitive, &a.args)) {
                (Some(Status::Done), Some(w)) => w.done(),
                (Some(Status::Would), Some(w)) => w.would(),
                (Some(Status::Done), None) => format!("{target}: {outcome}"),
                (Some(Status::Would), None) => outcome,
                _ => format!("{}: {target}; {outcome}", a.primitive),
            };
            ContainmentRow {
                action_id: a.action_id.clone(),
                time: a.time.clone(),
                primitive: a.primitive.clone(),
                dry_run: a.dry_run,
                status: a.status.map_or("unknown", |s| s.as_str()).into(),
                what,
                undo: undo_text(a),
            }
        })
        .collect();
    Containment {
        summary: t,
        actions: rows,
    }
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
        .map(|i| {
            let message = i
                .outcome
                .as_ref()
                .map(|o| o.message.clone())
                .unwrap_or_default();
            // A block in words, as in the actions.
            let fw = (i.action == plan::ActionKind::Block)
                .then(|| {
                    let args = serde_json::json!({
                        "targets": i.identity["targets"],
                        "direction": i.target["direction"].as_str().unwrap_or("out"),
                    });
                    report_fw::words("fw::block", &args)
                })
                .flatten();
            PlanRow {
                id: i.id.clone(),
                action: i.action.as_str().into(),
                target: fw
                    .as_ref()
                    .map_or_else(|| s(&i.target), |w| w.object.clone()),
                why: why_text(&i.why),
                approval: match &i.approval_reason {
                    Some(r) => format!("{} ({r})", i.approval),
                    None => i.approval.clone(),
                },
                message: match (&fw, i.status.as_str()) {
                    (Some(w), "done") if !message.starts_with("already") => w.done(),
                    (Some(w), "would") => w.would(),
                    _ => message,
                },
                status: i.status.clone(),
            }
        })
        .collect()
}

/// What a tree kill captured of the descendants: journaled with path and
/// hash; for journals that kept only the ids, read back from the case's
/// evidence folder.
fn children_evidence(dir: &Path, a: &Action) -> Vec<Captured> {
    if a.primitive != "proc::kill" {
        return vec![];
    }
    if let Ok(c) = serde_json::from_value::<Vec<Captured>>(a.result["children_captured"].clone()) {
        return c;
    }
    let ids: Vec<String> = view(&a.result["children_evidence"]);
    let evidence = dir.join("evidence");
    ids.iter()
        // Ids are hound's own ("proc-42-2026..."); nothing else names a path.
        .filter(|id| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(|id| crate::runtime::action_exec::child_capture(&evidence, id))
        .collect()
}

/// Builds the report of a case folder.
pub fn build(dir: &Path) -> Result<Report> {
    let entries = journal::read(dir)?;
    let host = entries.first().map(|e| e.host.clone()).unwrap_or_default();
    let from = entries.first().map(|e| e.time.clone()).unwrap_or_default();
    let to = entries.last().map(|e| e.time.clone()).unwrap_or_default();
    // The same finding from several runs into one case (triage, then the
    // playbook) is one row, first seen, with how often it was recorded.
    let mut findings: Vec<FindingRow> = Vec::new();
    let mut seen: std::collections::HashMap<(String, String, String), usize> =
        std::collections::HashMap::new();
    for e in &entries {
        let Body::Finding(f) = &e.body else { continue };
        let key = (
            f.severity.clone(),
            f.title.clone(),
            f.details["evidence"].to_string(),
        );
        match seen.get(&key) {
            Some(&i) => findings[i].times += 1,
            None => {
                seen.insert(key, findings.len());
                findings.push(FindingRow {
                    time: e.time.clone(),
                    finding: f.clone(),
                    times: 1,
                });
            }
        }
    }
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
    let row = |c: &Captured, what: String| {
        let mut missing = c.missing.clone();
        missing.extend(c.error.iter().map(|e| format!("everything: {e}")));
        EvidenceRow {
            id: c.id.clone().unwrap_or_else(|| "(not captured)".into()),
            kind: "process".into(),
            what,
            sha256: c.sha256.clone(),
            stored: c.stored.clone().unwrap_or_default(),
            missing,
        }
    };
    for a in &actions {
        for c in &a.evidence {
            evidence.push(row(
                c,
                format!("{}, before {} ({})", c.target, a.primitive, a.what),
            ));
        }
        for c in children_evidence(dir, a) {
            evidence.push(row(
                &c,
                format!(
                    "{}, descendant of pid {}, frozen and captured by {}",
                    c.target,
                    s(&a.args["pid"]),
                    a.primitive
                ),
            ));
        }
    }
    let firewall_dry_run = report_fw::dry_run_batch(&actions).map(|(nft, ids)| FirewallDryRun {
        file: report_fw::DRY_RUN_FILE.into(),
        actions: ids,
        nft,
    });
    let containment = containment(&actions, firewall_dry_run.as_ref());
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
        firewall_dry_run,
        host,
        from,
        to,
        verdict,
        findings,
        evidence,
        actions: rows,
        plan: plan_rows(dir),
        graph: crate::runtime::graph::as_value(dir),
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
            crate::text::json_safe(
                &serde_json::to_string_pretty(&r)
                    .map_err(|e| Error::io_msg(format!("report: {e}")))?,
            ),
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
    if let Some(f) = &r.firewall_dry_run {
        let nft = out.join(&f.file);
        let text = serde_json::to_string_pretty(&f.nft)
            .map_err(|e| Error::io_msg(format!("{}: {e}", nft.display())))?;
        std::fs::write(&nft, crate::text::json_safe(&text) + "\n")
            .map_err(|e| Error::io(nft.display(), e))?;
    }
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
        // The title names the target already: no sentence repeats it.
        assert!(!r.verdict.contains("send traffic"), "{}", r.verdict);
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
            r.containment.summary.contains("1 process kill(s)"),
            "{}",
            r.containment.summary
        );
        assert!(r.containment.summary.contains("came back (pid 42)"));
        assert!(r
            .containment
            .summary
            .contains("2 action(s) were skipped, refused, failed"));
        assert!(r
            .containment
            .summary
            .contains("1 action(s) were only previewed"));
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
            { "id": "A3", "action": "block", "target": { "target": "10.0.0.196" }, "identity": { "targets": ["10.0.0.196"] },
              "why": ["beacon"], "approval": "auto", "status": "would", "planned_at": "t",
              "outcome": { "id": "A3", "action": "block", "status": "would", "message": "would 10.0.0.196 out", "time": "t" } },
            { "id": "A2", "action": "lock_account", "target": { "user": "svc" }, "identity": {}, "why": ["uid 0"],
              "approval": "required", "approval_reason": "accounts need approval", "status": "refused", "planned_at": "t",
              "outcome": { "id": "A2", "action": "lock_account", "status": "refused", "message": "needs approval", "time": "t" } }
        ]});
        std::fs::write(d.path().join("plan.json"), plan.to_string()).unwrap();
        let mut r = build(d.path()).unwrap();
        assert_eq!(r.plan.len(), 3);
        assert_eq!(r.plan[1].target, "outbound traffic to 10.0.0.196");
        assert_eq!(
            r.plan[1].message,
            "would block outbound traffic to 10.0.0.196"
        );
        r.plan.remove(1);
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

    /// One journal line of the incident journal below.
    fn entry(seq: u64, primitive: &str, extra: Value) -> Value {
        let mut v = serde_json::json!({ "seq": seq, "time": format!("2026-11-30T10:00:{seq:02}Z"),
            "host": "server01", "user": "root", "primitive": primitive, "args": {}, "result": null,
            "undo": null, "dry_run": false, "prev": "", "hash": "" });
        for (k, x) in extra.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        v
    }

    /// The incident as hound journals it: a long attack chain, the victim
    /// named by three findings in three spellings, a tree kill with
    /// captured descendants, a block carried out and one previewed.
    fn incident_journal(dir: &Path) {
        use serde_json::json;
        let chain = format!(
            "nc -zv 10.0.0.196 80 (pid 6856) <- /bin/sh /tmp/bot.sh (pid 6800) <- {}<script>alert(1)</script> | `x` [l](javascript:y) END-OF-CHAIN",
            "cron[611] <- ".repeat(20)
        );
        let block = json!({ "targets": ["10.0.0.196"], "direction": "out", "proto": null, "port": null,
                            "comment": "hound contain", "ttl_s": null });
        let batch = json!([
            { "add": { "table": { "family": "inet", "name": "hound" } } },
            { "add": { "element": { "family": "inet", "table": "hound", "name": "out4", "elem": [{ "elem": { "val": "10.0.0.197" } }] } } }
        ]);
        let batch2 = json!([
            { "add": { "table": { "family": "inet", "name": "hound" } } },
            { "add": { "element": { "family": "inet", "table": "hound", "name": "out4", "elem": [{ "elem": { "val": "10.0.0.198" } }] } } }
        ]);
        let lines = vec![
            entry(
                0,
                "case::finding",
                json!({ "args": { "severity": "critical",
                "title": "Host compromised and used to attack 10.0.0.196",
                "details": { "evidence": chain, "addresses": ["10.0.0.196"] }, "mitre": "T1498" } }),
            ),
            entry(
                1,
                "case::finding",
                json!({ "args": { "severity": "high", "title": "Periodic attempts to 10.0.0.196:80",
                "details": { "evidence": "nc", "addresses": ["10.0.0.196:80", "10.0.0.196:80 SYN-SENT", "192.0.2.9:443"] },
                "mitre": "T1071" } }),
            ),
            entry(
                2,
                "fw::block",
                json!({ "kind": "intent", "action_id": "x2", "args": block,
                "result": { "what": "10.0.0.196 out", "evidence": [], "would": {} },
                "undo": { "primitive": "fw::unblock", "args": block } }),
            ),
            entry(
                3,
                "fw::block",
                json!({ "kind": "outcome", "action_id": "x2",
                "args": { "outcome": true, "status": "done", "target": block },
                "result": { "planned": ["10.0.0.196 out"], "batch": [{ "add": { "table": { "family": "inet", "name": "hound", "comment": "A".repeat(4096) } } }] } }),
            ),
            entry(
                4,
                "proc::kill",
                json!({ "kind": "intent", "action_id": "x4", "args": { "pid": 6800, "tree": true },
                "result": { "what": "kill pid 6800 (/bin/sh /tmp/bot.sh) and its descendants", "evidence": [{ "target": "pid 6800",
                    "id": "proc-6800-1", "stored": "/c/evidence/proc-6800-1", "sha256": "aa", "error": null, "missing": [] }] } }),
            ),
            entry(
                5,
                "proc::kill",
                json!({ "kind": "outcome", "action_id": "x4",
                "args": { "outcome": true, "status": "done", "target": { "pid": 6800 } },
                "result": { "status": "killed", "killed": [6800, 6856], "signal": "TERM", "evidence": "proc-6800-1",
                    "children_evidence": ["proc-6856-1"],
                    "children_captured": [
                        { "target": "pid 6856 (nc -zv 10.0.0.196 80)", "id": "proc-6856-1", "stored": "/c/evidence/proc-6856-1", "sha256": "bb", "missing": [] },
                        { "target": "pid 6857", "error": "no such process" }] } }),
            ),
            entry(
                6,
                "proc::kill",
                json!({ "kind": "intent", "action_id": "x6", "args": { "pid": 7000, "tree": true },
                "result": { "what": "kill pid 7000 (sh)" } }),
            ),
            entry(
                7,
                "proc::kill",
                json!({ "kind": "outcome", "action_id": "x6",
                "args": { "outcome": true, "status": "done", "target": { "pid": 7000 } },
                "result": { "status": "killed", "killed": [7000, 7001], "signal": "TERM", "children_evidence": ["proc-7001-9", "../../etc"] } }),
            ),
            entry(
                8,
                "fw::block",
                json!({ "kind": "intent", "action_id": "x8", "dry_run": true,
                "args": { "targets": ["10.0.0.197"], "direction": "out" }, "result": { "what": "10.0.0.197 out", "would": { "batch": batch } } }),
            ),
            entry(
                9,
                "fw::block",
                json!({ "kind": "outcome", "action_id": "x8", "dry_run": true,
                "args": { "outcome": true, "status": "would", "target": { "targets": ["10.0.0.197"], "direction": "out" } },
                "result": { "status": "dry_run", "batch": batch } }),
            ),
            entry(
                10,
                "fw::block",
                json!({ "kind": "intent", "action_id": "x10", "dry_run": true,
                "args": { "targets": ["10.0.0.198"], "direction": "in" }, "result": { "what": "10.0.0.198 in", "would": { "batch": batch2 } } }),
            ),
            entry(
                11,
                "fw::block",
                json!({ "kind": "outcome", "action_id": "x10", "dry_run": true,
                "args": { "outcome": true, "status": "would", "target": { "targets": ["10.0.0.198"], "direction": "in" } },
                "result": { "status": "dry_run", "batch": batch2 } }),
            ),
        ];
        let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(dir.join(crate::runtime::case::JOURNAL), text).unwrap();
        // The older kill kept only ids: its descendant's manifest is read back.
        let m = dir.join("evidence/proc-7001-9");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(
            m.join("manifest.json"),
            json!({ "process": { "pid": 7001, "name": "nc", "cmdline": ["nc", "-z", "192.0.2.9"] },
            "exe_sha256": "cc", "missing": [{ "what": "environ", "error": "denied" }] })
            .to_string(),
        )
        .unwrap();
    }

    /// Hunts run again into one case record the same finding again: the
    /// report shows it once, with how often (a trial's report repeated a
    /// preload finding four times).
    #[test]
    fn a_finding_recorded_twice_is_one_row() {
        let d = tempfile::tempdir().unwrap();
        let f = |seq, title: &str| {
            entry(
                seq,
                "case::finding",
                serde_json::json!({ "args": { "severity": "critical", "title": title,
                    "details": { "evidence": "/usr/local/lib/x.so (/etc/ld.so.preload:1)" } } }),
            )
        };
        let lines = [
            f(0, "Library preloaded"),
            f(1, "Library preloaded"),
            f(2, "Other"),
        ];
        let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(d.path().join(crate::runtime::case::JOURNAL), text).unwrap();
        let r = build(d.path()).unwrap();
        assert_eq!(r.findings.len(), 2);
        assert_eq!(r.findings[0].times, 2);
        assert!(markdown(&r).contains("Library preloaded (recorded 2 times)"));
    }

    /// A preview that `hound apply` carried out later was not "only
    /// previewed": a responder trial's report said 7 were, all done.
    #[test]
    fn a_preview_carried_out_later_is_not_counted_as_only_previewed() {
        let act = |dry: bool, pid: u32| Action {
            action_id: format!("x{pid}{dry}"),
            primitive: "proc::kill".into(),
            time: "t".into(),
            dry_run: dry,
            args: serde_json::json!({ "pid": pid }),
            what: format!("kill pid {pid}"),
            evidence: vec![],
            status: Some(if dry { Status::Would } else { Status::Done }),
            result: Value::Null,
            undo: None,
        };
        let c = containment(&[act(true, 1), act(true, 2), act(false, 1)], None);
        assert!(
            c.summary
                .contains("1 action(s) were only previewed (dry run) and not carried out later"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn the_conclusion_is_whole_and_names_each_target_once() {
        let d = tempfile::tempdir().unwrap();
        incident_journal(d.path());
        let r = build(d.path()).unwrap();
        let v = &r.verdict;
        assert!(v.contains("END-OF-CHAIN"), "the chain was cut: {v}");
        assert!(!v.contains('…'), "{v}");
        // 10.0.0.196 is in the lead title; the sentence adds only the rest.
        assert!(
            v.contains("It was also used to send traffic to 192.0.2.9 (port 443)."),
            "{v}"
        );
        let tail = &v[v.find("END-OF-CHAIN").unwrap()..];
        assert!(!tail.contains("10.0.0.196"), "target repeated: {tail}");
        let md = markdown(&r);
        let conclusion = &md[md.find("## Conclusion").unwrap()..md.find("## Findings").unwrap()];
        assert!(conclusion.contains("END-OF-CHAIN"), "{conclusion}");
        assert!(!conclusion.contains("<script"), "{conclusion}");
        assert!(conclusion.contains("\\[l\\](javascript"), "{conclusion}");
        let html = html(&r);
        assert!(html.contains("END-OF-CHAIN") && !html.contains("<script>"));
        // Only the lead names the victim: no sentence about targets at all.
        let one = verdict(
            "h",
            &[FindingRow {
                time: String::new(),
                finding: Finding {
                    severity: "high".into(),
                    title: "Beacon to 10.0.0.196:80".into(),
                    details: serde_json::json!({ "addresses": ["10.0.0.196:80", "10.0.0.196"] }),
                    mitre: Some("T1071".into()),
                },
                times: 1,
            }],
        );
        assert!(!one.contains("send traffic"), "{one}");
        assert!(mentions("to 10.0.0.196.", "10.0.0.196"));
        assert!(!mentions("to 10.0.0.196", "10.0.0.19"));
        assert!(!mentions("to 10.0.0.1.5", "10.0.0.1"));
    }

    #[test]
    fn firewall_changes_read_as_words_and_the_dry_run_is_an_nft_file() {
        let d = tempfile::tempdir().unwrap();
        incident_journal(d.path());
        let r = build(d.path()).unwrap();
        let block = r
            .actions
            .iter()
            .find(|a| a.action.action_id == "x2")
            .unwrap();
        assert_eq!(block.target, "outbound traffic to 10.0.0.196");
        assert_eq!(block.outcome, "blocked in hound's nftables table");
        assert_eq!(
            block.undo_text,
            r#"fw::unblock(["10.0.0.196"], #{ direction: "out" })"#
        );
        let md = markdown(&r);
        assert!(!md.contains("AAAAAAAA"), "a batch in the report");
        assert!(
            md.contains("would block inbound traffic from 10.0.0.198"),
            "{md}"
        );
        assert!(
            md.contains("[fw-dryrun.nft.json](fw-dryrun.nft.json)"),
            "{md}"
        );
        assert!(md.contains("nft -j -f reports/fw-dryrun.nft.json"));
        assert!(html(&r).contains("<a href=\"fw-dryrun.nft.json\">"));
        assert!(
            r.containment
                .summary
                .contains("blocked outbound traffic to 10.0.0.196"),
            "{}",
            r.containment.summary
        );
        assert!(r.containment.summary.contains("reports/fw-dryrun.nft.json"));
        // Both previews, their shared table once, as nft JSON.
        let f = r.firewall_dry_run.as_ref().unwrap();
        assert_eq!(f.actions, ["x8", "x10"]);
        let cmds = f.nft["nftables"].as_array().unwrap();
        assert_eq!(cmds.len(), 4, "{cmds:?}");
        assert!(cmds[0].get("metainfo").is_some());
        let tables = cmds
            .iter()
            .filter(|c| c["add"].get("table").is_some())
            .count();
        assert_eq!(tables, 1);
        let path = write(d.path(), "json").unwrap();
        let file = d.path().join("reports").join(report_fw::DRY_RUN_FILE);
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(back, f.nft);
        let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(json["firewall_dry_run"]["file"], "fw-dryrun.nft.json");
    }

    #[test]
    fn the_json_containment_lists_every_action_in_words() {
        let d = tempfile::tempdir().unwrap();
        incident_journal(d.path());
        let path = write(d.path(), "json").unwrap();
        let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let c = &json["containment"];
        assert!(c["summary"].as_str().unwrap().contains("2 process kill(s)"));
        let rows = c["actions"].as_array().unwrap();
        assert_eq!(rows.len(), 5, "{c}");
        assert_eq!(rows[0]["what"], "blocked outbound traffic to 10.0.0.196");
        assert_eq!(rows[0]["status"], "done");
        assert_eq!(
            rows[0]["undo"],
            r#"fw::unblock(["10.0.0.196"], #{ direction: "out" })"#
        );
        assert_eq!(rows[1]["primitive"], "proc::kill");
        assert!(
            rows[1]["what"]
                .as_str()
                .unwrap()
                .starts_with("pid 6800 (/bin/sh /tmp/bot.sh"),
            "{c}"
        );
        assert_eq!(rows[2]["status"], "done");
        assert_eq!(rows[3]["status"], "would");
        assert_eq!(rows[3]["dry_run"], true);
        assert_eq!(
            rows[3]["what"],
            "would block outbound traffic to 10.0.0.197"
        );
    }

    #[test]
    fn the_descendants_evidence_is_listed_with_path_and_hash() {
        let d = tempfile::tempdir().unwrap();
        incident_journal(d.path());
        let r = build(d.path()).unwrap();
        assert_eq!(
            r.actions[1].target,
            "pid 6800 (/bin/sh /tmp/bot.sh) and its descendants"
        );
        let child = r.evidence.iter().find(|e| e.id == "proc-6856-1").unwrap();
        assert_eq!(child.sha256.as_deref(), Some("bb"));
        assert_eq!(child.stored, "/c/evidence/proc-6856-1");
        assert!(
            child.what.contains("nc -zv 10.0.0.196 80"),
            "{}",
            child.what
        );
        assert!(
            child.what.contains("descendant of pid 6800"),
            "{}",
            child.what
        );
        let failed = r
            .evidence
            .iter()
            .find(|e| e.what.starts_with("pid 6857"))
            .unwrap();
        assert_eq!(failed.missing, ["everything: no such process"]);
        // From an older journal: the manifest read back; a path-like id ignored.
        let old = r.evidence.iter().find(|e| e.id == "proc-7001-9").unwrap();
        assert_eq!(old.sha256.as_deref(), Some("cc"));
        assert!(old.stored.ends_with("evidence/proc-7001-9"));
        assert!(old.what.contains("nc -z 192.0.2.9"), "{}", old.what);
        assert_eq!(old.missing, ["environ: denied"]);
        assert!(!r.evidence.iter().any(|e| e.id.contains("..")));
        let md = markdown(&r);
        assert!(
            md.contains("| proc-6856-1 |") && md.contains("| bb |"),
            "{md}"
        );
        assert!(html(&r).contains("<td>proc-7001-9</td>"));
    }
}
