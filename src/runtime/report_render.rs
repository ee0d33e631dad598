//! The report as Markdown and as a self-contained HTML page. Every value
//! that may hold attacker text is escaped for its format.

use crate::runtime::report::{recommendations, short, Report};
use std::fmt::Write;

/// Text safe in a Markdown table cell (see `text::markdown_cell`): no
/// control characters, no cell, code, HTML, link or image syntax.
fn cell(s: &str) -> String {
    crate::text::markdown_cell(s)
}

fn md_table(m: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(m, "| {} |", head.join(" | "));
    let _ = writeln!(m, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        let _ = writeln!(m, "| {} |", cells.join(" | "));
    }
    m.push('\n');
}

fn dry(on: bool) -> &'static str {
    if on {
        " (dry run)"
    } else {
        ""
    }
}

fn finding_rows(r: &Report) -> Vec<Vec<String>> {
    r.findings
        .iter()
        .map(|f| {
            let ev = match &f.finding.details["evidence"] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            let title = if f.times > 1 {
                format!("{} (recorded {} times)", f.finding.title, f.times)
            } else {
                f.finding.title.clone()
            };
            vec![
                f.finding.severity.clone(),
                title,
                short(&ev),
                f.finding.mitre.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

fn evidence_rows(r: &Report) -> Vec<Vec<String>> {
    r.evidence
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.what.clone(),
                e.sha256.clone().unwrap_or_default(),
                e.stored.clone(),
                if e.missing.is_empty() {
                    "-".into()
                } else {
                    short(&e.missing.join("; "))
                },
            ]
        })
        .collect()
}

fn plan_rows(r: &Report) -> Vec<Vec<String>> {
    r.plan
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.action.clone(),
                short(&p.target),
                short(&p.why),
                p.approval.clone(),
                p.status.clone(),
                short(&p.message),
            ]
        })
        .collect()
}

fn action_rows(r: &Report) -> Vec<Vec<String>> {
    r.actions
        .iter()
        .map(|a| {
            vec![
                a.action.time.clone(),
                format!("{}{}", a.action.primitive, dry(a.action.dry_run)),
                short(&a.target),
                a.outcome.clone(),
                short(&a.undo_text),
            ]
        })
        .collect()
}

const EVIDENCE_HEAD: [&str; 5] = ["id", "what", "sha256", "stored at", "not captured"];
const PLAN_HEAD: [&str; 7] = [
    "id", "action", "target", "why", "approval", "status", "outcome",
];
const ACTION_HEAD: [&str; 5] = ["time", "action", "target", "result", "undo"];

pub fn markdown(r: &Report) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Incident report: {}\n", cell(&r.host));
    let _ = writeln!(m, "- Period: {} to {}", cell(&r.from), cell(&r.to));
    let _ = writeln!(
        m,
        "- Journal entries: {} (verify with `hound case verify`)",
        r.journal_entries
    );
    let _ = writeln!(m, "- Journal integrity: {}", cell(&r.integrity));
    let _ = writeln!(
        m,
        "\n## Conclusion\n\n{}\n\n{}\n",
        cell(&r.verdict),
        cell(&r.containment.summary)
    );
    let _ = writeln!(m, "## Findings ({})\n", r.findings.len());
    if r.findings.is_empty() {
        let _ = writeln!(m, "None recorded.\n");
    } else {
        md_table(
            &mut m,
            &["severity", "finding", "evidence", "MITRE"],
            &finding_rows(r),
        );
    }
    let _ = writeln!(m, "## Evidence preserved ({})\n", r.evidence.len());
    if !r.evidence.is_empty() {
        md_table(&mut m, &EVIDENCE_HEAD, &evidence_rows(r));
    }
    if !r.plan.is_empty() {
        let _ = writeln!(m, "## Plan ({} item(s))\n", r.plan.len());
        md_table(&mut m, &PLAN_HEAD, &plan_rows(r));
    }
    m.push_str(&crate::runtime::graph::markdown_of(&r.graph));
    let _ = writeln!(m, "## Actions ({})\n", r.actions.len());
    if !r.actions.is_empty() {
        md_table(&mut m, &ACTION_HEAD, &action_rows(r));
    }
    if let Some(f) = &r.firewall_dry_run {
        let (ids, file) = (cell(&f.actions.join(", ")), cell(&f.file));
        let _ = writeln!(
            m,
            "Firewall changes previewed in a dry run ({ids}) are one nftables JSON batch in \
             [{file}]({file}), next to this report, worked out against the ruleset of that \
             moment. From the case folder, `nft -j -c -f reports/{file}` checks it and \
             `nft -j -f reports/{file}` applies it.\n"
        );
    }
    let _ = writeln!(m, "## Timeline\n");
    for t in &r.timeline {
        let _ = writeln!(
            m,
            "- {} {}{}: {}",
            cell(&t.time),
            cell(&t.primitive),
            dry(t.dry_run),
            cell(&t.summary)
        );
    }
    if !r.unreadable.is_empty() {
        let _ = writeln!(m, "\n## Unreadable journal entries\n");
        for u in &r.unreadable {
            let _ = writeln!(m, "- {}", cell(u));
        }
    }
    let _ = writeln!(m, "\n## Recommendations\n");
    for rec in recommendations(r) {
        let _ = writeln!(m, "- {rec}");
    }
    m
}

fn h(text: &str) -> String {
    crate::text::escape(text)
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
pub fn html(r: &Report) -> String {
    let mut o = String::from("<!doctype html>\n<html><head><meta charset=\"utf-8\">");
    let _ = write!(
        o,
        "<title>Incident report: {0}</title><style>body{{font-family:sans-serif;max-width:70em;margin:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:2px 6px;vertical-align:top;font-size:90%}}</style></head><body>\n<h1>Incident report: {0}</h1>\n",
        h(&r.host)
    );
    let _ = writeln!(
        o,
        "<p>Period: {} to {}. Journal entries: {} (verify with <code>hound case verify</code>).</p>",
        h(&r.from),
        h(&r.to),
        r.journal_entries
    );
    let _ = writeln!(o, "<p>Journal integrity: {}</p>", h(&r.integrity));
    let _ = writeln!(
        o,
        "<h2>Conclusion</h2>\n<p>{}</p>\n<p>{}</p>",
        h(&r.verdict),
        h(&r.containment.summary)
    );
    o.push_str("<h2>Findings</h2>\n");
    table(
        &mut o,
        &["severity", "finding", "evidence", "MITRE"],
        finding_rows(r),
    );
    o.push_str("<h2>Evidence preserved</h2>\n");
    table(&mut o, &EVIDENCE_HEAD, evidence_rows(r));
    if !r.plan.is_empty() {
        o.push_str("<h2>Plan</h2>\n");
        table(&mut o, &PLAN_HEAD, plan_rows(r));
    }
    o.push_str(&crate::runtime::graph::html_of(&r.graph));
    o.push_str("<h2>Actions</h2>\n");
    table(&mut o, &ACTION_HEAD, action_rows(r));
    if let Some(f) = &r.firewall_dry_run {
        let (ids, file) = (h(&f.actions.join(", ")), h(&f.file));
        let _ = writeln!(
            o,
            "<p>Firewall changes previewed in a dry run ({ids}) are one nftables JSON batch in \
             <a href=\"{file}\">{file}</a>, next to this report, worked out against the ruleset \
             of that moment. From the case folder, <code>nft -j -c -f reports/{file}</code> \
             checks it and <code>nft -j -f reports/{file}</code> applies it.</p>"
        );
    }
    o.push_str("<h2>Timeline</h2>\n");
    let rows = r
        .timeline
        .iter()
        .map(|t| {
            vec![
                t.time.clone(),
                format!("{}{}", t.primitive, dry(t.dry_run)),
                t.summary.clone(),
            ]
        })
        .collect();
    table(&mut o, &["time", "primitive", "what"], rows);
    if !r.unreadable.is_empty() {
        o.push_str("<h2>Unreadable journal entries</h2>\n");
        table(
            &mut o,
            &["entry"],
            r.unreadable.iter().map(|u| vec![u.clone()]).collect(),
        );
    }
    o.push_str("<h2>Recommendations</h2>\n<ul>\n");
    for rec in recommendations(r) {
        let _ = writeln!(o, "<li>{}</li>", h(&rec));
    }
    o.push_str("</ul>\n</body></html>\n");
    o
}
