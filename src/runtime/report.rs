//! The incident report, written from the case journal: what was found, on
//! what evidence, what was done (and how to undo it), what to do next.

use crate::error::{Error, Result};
use crate::runtime::case::{read_journal, SEVERITIES};
use serde_json::{json, Value};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Text safe in a Markdown table cell (see `output::markdown_cell`).
fn cell(s: &str) -> String {
    crate::output::markdown_cell(s)
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Long values (a whole nft batch) cut for a table cell; the journal keeps them.
fn short(text: &str) -> String {
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(159).collect::<String>())
    } else {
        text.to_string()
    }
}

fn rank(sev: &str) -> usize {
    SEVERITIES.iter().position(|x| *x == sev).unwrap_or(0)
}

const ACTIONS: &[&str] = &[
    "proc::kill",
    "proc::suspend",
    "proc::resume",
    "fs::quarantine",
    "fs::restore",
    "fw::block",
    "fw::unblock",
    "fw::rollback",
    "fw::isolate",
    "fw::unisolate",
];

/// The report as data (what `--format json` writes).
pub fn build(dir: &Path) -> Result<Value> {
    let entries = read_journal(dir)?;
    let host = entries.first().map(|e| s(&e["host"])).unwrap_or_default();
    let first = entries.first().map(|e| s(&e["time"])).unwrap_or_default();
    let last = entries.last().map(|e| s(&e["time"])).unwrap_or_default();
    let mut findings: Vec<Value> = entries
        .iter()
        .filter(|e| e["primitive"] == "case::finding")
        .map(|e| json!({ "time": e["time"], "severity": e["args"]["severity"], "title": e["args"]["title"],
                          "details": e["args"]["details"], "mitre": e["args"]["details"]["mitre"] }))
        .collect();
    findings.sort_by(|a, b| rank(&s(&b["severity"])).cmp(&rank(&s(&a["severity"]))));
    // Evidence taken on purpose, and the captures proc::kill made before
    // signalling (its intent entry names them).
    let evidence: Vec<Value> = entries
        .iter()
        .filter_map(|e| match e["primitive"].as_str() {
            Some("case::evidence") => Some(e["result"].clone()),
            Some("proc::kill") if e["result"]["evidence"].is_string() && e["args"]["outcome"] != true => {
                Some(json!({ "id": e["result"]["evidence"], "kind": "process",
                    "what": format!("{} (pid {}, before proc::kill)", s(&e["result"]["what"]), s(&e["args"]["pid"])),
                    "sha256": e["result"]["exe_sha256"], "stored": e["undo"]["args"]["evidence"] }))
            }
            _ => None,
        })
        .collect();
    // An action journals its intent, then its outcome: the table shows the
    // intent with the outcome's result when there is one.
    let actions: Vec<Value> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            ACTIONS.contains(&e["primitive"].as_str().unwrap_or_default())
                && e["args"]["outcome"] != true
        })
        .map(|(i, e)| {
            let outcome = entries[i + 1..]
                .iter()
                .take(3)
                .find(|o| o["primitive"] == e["primitive"] && o["args"]["outcome"] == true);
            let mut e = e.clone();
            if let Some(o) = outcome {
                e["result"] = o["result"].clone();
                if !o["undo"].is_null() {
                    e["undo"] = o["undo"].clone();
                }
            }
            e
        })
        .map(|e| {
            json!({ "time": e["time"], "primitive": e["primitive"], "args": e["args"],
                          "result": e["result"], "undo": e["undo"], "dry_run": e["dry_run"] })
        })
        .collect();
    let top = findings
        .first()
        .map(|f| s(&f["severity"]))
        .unwrap_or_default();
    let verdict = verdict(&host, &top, &findings);
    let containment = containment(&actions);
    // A report is only as good as its journal: say whether it verified.
    let integrity = match crate::runtime::case::verify(dir) {
        Ok(n) => format!("verified: {n} entries, hash chain intact, nothing cut off"),
        Err(e) => format!("NOT VERIFIED: {}", e.message),
    };
    Ok(json!({
        "integrity": integrity,
        "containment": containment,
        "host": host, "from": first, "to": last, "verdict": verdict,
        "findings": findings, "evidence": evidence, "actions": actions,
        "journal_entries": entries.len(),
        "timeline": entries.iter().map(|e| json!({ "time": e["time"], "primitive": e["primitive"],
            "dry_run": e["dry_run"], "summary": summary(e) })).collect::<Vec<_>>(),
    }))
}

/// The conclusion a responder would write: compromised or not, on which
/// findings, and whether the host was used against others (outbound
/// command-and-control or flooding findings that name addresses).
fn verdict(host: &str, top: &str, findings: &[Value]) -> String {
    if findings.is_empty() {
        return format!("No findings were recorded on {host}.");
    }
    if rank(top) < rank("high") {
        return format!(
            "{host} shows findings of at most {top} severity; no compromise was established."
        );
    }
    let serious: Vec<&Value> = findings
        .iter()
        .filter(|f| rank(&s(&f["severity"])) >= rank("high"))
        .collect();
    let lead = serious[0];
    let ev = short(&s(&lead["details"]["evidence"]));
    let mut v = format!("{host} was compromised: {}", s(&lead["title"]));
    if !ev.is_empty() {
        v.push_str(&format!(" ({ev})"));
    }
    v.push('.');
    // T1071 command and control, T1498/T1499 denial of service, T1090 proxy.
    let mut targets: Vec<String> = Vec::new();
    for f in &serious {
        let m = s(&f["mitre"]);
        if ["T1071", "T1498", "T1499", "T1090"]
            .iter()
            .any(|t| m.starts_with(t))
        {
            for a in f["details"]["addresses"].as_array().into_iter().flatten() {
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

/// What an action was aimed at and what came of it, in words for the table
/// (the journal keeps the full JSON).
fn action_text(a: &Value) -> (String, String) {
    let (args, r) = (&a["args"], &a["result"]);
    match a["primitive"].as_str().unwrap_or_default() {
        "proc::kill" => {
            let target = format!("pid {} ({})", s(&args["pid"]), s(&r["what"]));
            let result = if a["dry_run"] == true {
                format!("would stop {}", s(&r["would_kill"]))
            } else if r["gone"].is_boolean() {
                let mut t = format!(
                    "{}: pids {} stopped with {}; evidence {}",
                    s(&r["status"]),
                    s(&r["killed"]),
                    s(&r["signal"]),
                    s(&r["evidence"])
                );
                if r["respawned"] == true {
                    t.push_str(&format!("; RESPAWNED as pid {}", s(&r["new_pid"])));
                }
                t
            } else {
                format!("evidence {} (outcome not recorded)", s(&r["evidence"]))
            };
            (target, result)
        }
        "proc::suspend" | "proc::resume" => (
            format!("pid {} ({})", s(&args["pid"]), s(&r["what"])),
            String::from(if a["dry_run"] == true {
                "planned"
            } else {
                "signalled"
            }),
        ),
        "fs::quarantine" => {
            let result = if a["dry_run"] == true {
                format!("would quarantine {}", s(&r["would_quarantine"]))
            } else if r["failed"].is_string() {
                format!("failed: {}; left in place", s(&r["failed"]))
            } else if r["stored"].is_string() {
                format!(
                    "copied to {} (sha256 {}, {} bytes), original removed",
                    s(&r["stored"]),
                    s(&r["sha256"]),
                    s(&r["size"])
                )
            } else {
                "planned; no outcome recorded (check the quarantine folder)".into()
            };
            (s(&args["path"]), result)
        }
        "fs::restore" => (
            format!("quarantine id {}", s(&args["id"])),
            format!("back at {}", s(&r["original"])),
        ),
        _ => (s(args), s(r)),
    }
}

/// One sentence on what was done about it, from the actions (dry runs
/// excluded): processes stopped, files quarantined, firewall changes.
fn containment(actions: &[Value]) -> String {
    let real: Vec<&Value> = actions.iter().filter(|a| a["dry_run"] != true).collect();
    let count = |p: &str| real.iter().filter(|a| a["primitive"] == p).count();
    let mut parts = Vec::new();
    let kills = count("proc::kill");
    if kills > 0 {
        parts.push(format!("{kills} process kill(s)"));
    }
    let respawned: Vec<String> = real
        .iter()
        .filter(|a| a["primitive"] == "proc::kill" && a["result"]["respawned"] == true)
        .map(|a| s(&a["args"]["pid"]))
        .collect();
    let files = count("fs::quarantine");
    if files > 0 {
        parts.push(format!("{files} file(s) quarantined"));
    }
    let fw = real
        .iter()
        .filter(|a| s(&a["primitive"]).starts_with("fw::"))
        .count();
    if fw > 0 {
        parts.push(format!("{fw} firewall change(s)"));
    }
    let mut t = if parts.is_empty() {
        "No containment action was taken through hound.".to_string()
    } else {
        format!("Actions taken: {}.", parts.join(", "))
    };
    if !respawned.is_empty() {
        t.push_str(&format!(
            " Killed processes came back (pid {}): something restarts them; find and remove it.",
            respawned.join(", ")
        ));
    }
    let dry = actions.len() - real.len();
    if dry > 0 {
        t.push_str(&format!(" {dry} action(s) were only previewed (dry run)."));
    }
    t
}

/// How to undo an action, as a call to type (or why there is none).
fn undo_text(a: &Value) -> String {
    let u = &a["undo"];
    match u["primitive"].as_str() {
        None => "-".into(),
        Some("none") => s(&u["args"]["note"]),
        Some(p) => format!("{p} {}", s(&u["args"])),
    }
}

fn summary(e: &Value) -> String {
    let a = &e["args"];
    match e["primitive"].as_str().unwrap_or_default() {
        "case::finding" => format!("[{}] {}", s(&a["severity"]), s(&a["title"])),
        "case::evidence" => format!("preserved {}", s(&e["result"]["what"])),
        "proc::kill" if a["outcome"] == true => {
            let r = &e["result"];
            let again = if r["respawned"] == true {
                format!(", respawned as pid {}", s(&r["new_pid"]))
            } else {
                String::new()
            };
            format!(
                "pid {}: {} (pids {}){again}",
                s(&a["pid"]),
                s(&r["status"]),
                s(&r["killed"])
            )
        }
        "proc::kill" => format!(
            "stopping pid {} ({}), evidence first",
            s(&a["pid"]),
            s(&e["result"]["what"])
        ),
        "fs::quarantine" if a["outcome"] == true => format!(
            "{} stored as {}, original removed",
            s(&a["path"]),
            s(&e["result"]["id"])
        ),
        _ if a["outcome"] == true => format!("done: {}", short(&s(&e["result"]["status"]))),
        "fs::quarantine" => format!("quarantined {}", s(&a["path"])),
        "fs::restore" => format!("restored {}", s(&a["id"])),
        p if p.starts_with("fw::") => format!("{p} {}", s(&e["result"]["planned"])),
        p => format!("{p} {}", s(a)),
    }
}

fn recommendations(r: &Value) -> Vec<String> {
    let mut v = Vec::new();
    let compromised = r["verdict"]
        .as_str()
        .is_some_and(|t| t.contains("was compromised"));
    if compromised {
        v.push("Keep the host isolated (or its offending traffic blocked) until it is rebuilt; a cleaned system cannot be fully trusted. Reinstall from known-good media when possible.".into());
        v.push("Find the way in: review the web and authentication logs around the first sign of activity, and patch what was exploited. Rotate credentials and SSH keys that lived on the host.".into());
        v.push("Answer the party that reported the attack with the evidence below (hashes, times, processes) and the containment in place.".into());
    }
    if r["actions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|x| s(&x["primitive"]).starts_with("fw::block"))
    }) {
        v.push("Review the nftables blocks in hound's table (`fw::blocks()`) and decide how long each stays; `fw::rollback()` removes them all.".into());
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
            crate::output::json_safe(&serde_json::to_string_pretty(&r).unwrap_or_default()),
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

pub fn markdown(r: &Value) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Incident report: {}\n", cell(&s(&r["host"])));
    let _ = writeln!(
        m,
        "- Period: {} to {}",
        cell(&s(&r["from"])),
        cell(&s(&r["to"]))
    );
    let _ = writeln!(
        m,
        "- Journal entries: {} (verify with `hound case verify`)",
        s(&r["journal_entries"])
    );
    let _ = writeln!(m, "- Journal integrity: {}", cell(&s(&r["integrity"])));
    let _ = writeln!(
        m,
        "\n## Conclusion\n\n{}\n\n{}\n",
        cell(&s(&r["verdict"])),
        cell(&s(&r["containment"]))
    );
    let findings = r["findings"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(m, "## Findings ({})\n", findings.len());
    if findings.is_empty() {
        let _ = writeln!(m, "None recorded.\n");
    } else {
        let _ = writeln!(
            m,
            "| severity | finding | evidence | MITRE |\n|---|---|---|---|"
        );
        for f in &findings {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} |",
                cell(&s(&f["severity"])),
                cell(&s(&f["title"])),
                cell(&short(&s(&f["details"]["evidence"]))),
                cell(&s(&f["mitre"]))
            );
        }
        m.push('\n');
    }
    let evidence = r["evidence"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(m, "## Evidence preserved ({})\n", evidence.len());
    if !evidence.is_empty() {
        let _ = writeln!(m, "| id | what | sha256 | stored at |\n|---|---|---|---|");
        for e in &evidence {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} |",
                cell(&s(&e["id"])),
                cell(&s(&e["what"])),
                cell(&s(&e["sha256"])),
                cell(&s(&e["stored"]))
            );
        }
        m.push('\n');
    }
    let actions = r["actions"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(m, "## Actions taken ({})\n", actions.len());
    if !actions.is_empty() {
        let _ = writeln!(
            m,
            "| time | action | target | result | undo |\n|---|---|---|---|---|"
        );
        for a in &actions {
            let dry = if a["dry_run"] == true {
                " (dry run)"
            } else {
                ""
            };
            let undo = undo_text(a);
            let (target, result) = action_text(a);
            let _ = writeln!(
                m,
                "| {} | {}{dry} | {} | {} | {} |",
                cell(&s(&a["time"])),
                cell(&s(&a["primitive"])),
                cell(&short(&target)),
                cell(&result),
                cell(&short(&undo))
            );
        }
        m.push('\n');
    }
    let _ = writeln!(m, "## Timeline\n");
    for t in r["timeline"].as_array().into_iter().flatten() {
        let dry = if t["dry_run"] == true {
            " (dry run)"
        } else {
            ""
        };
        let _ = writeln!(
            m,
            "- {} {}{dry}: {}",
            cell(&s(&t["time"])),
            cell(&s(&t["primitive"])),
            cell(&s(&t["summary"]))
        );
    }
    let _ = writeln!(m, "\n## Recommendations\n");
    for rec in recommendations(r) {
        let _ = writeln!(m, "- {rec}");
    }
    m
}

fn h(text: &str) -> String {
    crate::output::escape(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn table(out: &mut String, head: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str("<table>\n<tr>");
    for c in head {
        let _ = write!(out, "<th>{c}</th>");
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", h(&c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// A self-contained page (no scripts, no external resources) for people
/// who do not read Markdown; every value is HTML-escaped.
pub fn html(r: &Value) -> String {
    let list = |k: &str| r[k].as_array().cloned().unwrap_or_default();
    let mut o = String::from("<!doctype html>\n<html><head><meta charset=\"utf-8\">");
    let _ = write!(
        o,
        "<title>Incident report: {0}</title><style>body{{font-family:sans-serif;max-width:70em;margin:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:2px 6px;vertical-align:top;font-size:90%}}</style></head><body>\n<h1>Incident report: {0}</h1>\n",
        h(&s(&r["host"]))
    );
    let _ = writeln!(
        o,
        "<p>Period: {} to {}. Journal entries: {} (verify with <code>hound case verify</code>).</p>",
        h(&s(&r["from"])),
        h(&s(&r["to"])),
        h(&s(&r["journal_entries"]))
    );
    let _ = writeln!(o, "<p>Journal integrity: {}</p>", h(&s(&r["integrity"])));
    let _ = writeln!(
        o,
        "<h2>Conclusion</h2>\n<p>{}</p>\n<p>{}</p>",
        h(&s(&r["verdict"])),
        h(&s(&r["containment"]))
    );
    o.push_str("<h2>Findings</h2>\n");
    let rows = list("findings")
        .iter()
        .map(|f| {
            vec![
                s(&f["severity"]),
                s(&f["title"]),
                short(&s(&f["details"]["evidence"])),
                s(&f["mitre"]),
            ]
        })
        .collect();
    table(&mut o, &["severity", "finding", "evidence", "MITRE"], rows);
    o.push_str("<h2>Evidence preserved</h2>\n");
    let rows = list("evidence")
        .iter()
        .map(|e| vec![s(&e["id"]), s(&e["what"]), s(&e["sha256"]), s(&e["stored"])])
        .collect();
    table(&mut o, &["id", "what", "sha256", "stored at"], rows);
    o.push_str("<h2>Actions taken</h2>\n");
    let rows = list("actions")
        .iter()
        .map(|a| {
            let undo = undo_text(a);
            let dry = if a["dry_run"] == true {
                " (dry run)"
            } else {
                ""
            };
            let (target, result) = action_text(a);
            vec![
                s(&a["time"]),
                format!("{}{dry}", s(&a["primitive"])),
                short(&target),
                result,
                short(&undo),
            ]
        })
        .collect();
    table(
        &mut o,
        &["time", "action", "target", "result", "undo"],
        rows,
    );
    o.push_str("<h2>Timeline</h2>\n");
    let rows = list("timeline")
        .iter()
        .map(|t| vec![s(&t["time"]), s(&t["primitive"]), s(&t["summary"])])
        .collect();
    table(&mut o, &["time", "primitive", "what"], rows);
    o.push_str("<h2>Recommendations</h2>\n<ul>\n");
    for rec in recommendations(r) {
        let _ = writeln!(o, "<li>{}</li>", h(&rec));
    }
    o.push_str("</ul>\n</body></html>\n");
    o
}
