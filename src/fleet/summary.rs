//! The fleet summary for people: findings by severity per host, hosts with
//! an indicator, hosts that were unreachable or failed, journals that did
//! not verify. Host names and titles are host-made text: escaped.

use super::{Fleet, SEVERITIES};
use crate::output::escape;

/// Text safe in a Markdown table cell.
fn md(s: &str) -> String {
    let e = escape(s);
    let mut out = String::with_capacity(e.len());
    for c in e.chars() {
        if "|\\`*_[]()<>!#".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn h(s: &str) -> String {
    escape(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Rows of the per-host table: host, status, one count per severity,
/// journal, indicators, top finding.
fn rows(f: &Fleet) -> Vec<Vec<String>> {
    f.hosts
        .iter()
        .map(|x| {
            let mut r = vec![
                x.inventory.clone(),
                x.host_names.join(", "),
                x.status.clone(),
            ];
            for s in SEVERITIES {
                r.push(x.findings.get(s).copied().unwrap_or(0).to_string());
            }
            r.push(x.journal.clone());
            r.push(x.indicators.join(", "));
            r.push(x.titles.first().map(|t| t.1.clone()).unwrap_or_default());
            r
        })
        .collect()
}

const HEAD: [&str; 10] = [
    "inventory host",
    "host.name",
    "status",
    "critical",
    "high",
    "medium",
    "low",
    "journal",
    "indicators",
    "top finding",
];

fn lists(f: &Fleet) -> Vec<(String, Vec<String>)> {
    let pick = |p: &dyn Fn(&super::HostResult) -> bool| -> Vec<String> {
        f.hosts
            .iter()
            .filter(|x| p(x))
            .map(|x| x.inventory.clone())
            .collect()
    };
    let mut out = vec![
        (
            "Hosts with findings".to_string(),
            pick(&|x| !x.findings.is_empty()),
        ),
        (
            "Unreachable hosts".to_string(),
            pick(&|x| x.status == "unreachable"),
        ),
        ("Failed hosts".to_string(), pick(&|x| x.status == "failed")),
        (
            "Hosts without results".to_string(),
            pick(&|x| x.status == "no_results"),
        ),
        (
            "Journals that did not verify".to_string(),
            pick(&|x| !x.journal_ok),
        ),
    ];
    for i in &f.indicators {
        out.push((
            format!("Hosts with indicator {i}"),
            pick(&|x| x.indicators.contains(i)),
        ));
    }
    out
}

pub fn markdown(f: &Fleet) -> String {
    let mut s = format!(
        "# Fleet summary\n\n{} host(s); {} with findings.\n\n",
        f.hosts.len(),
        f.with_findings()
    );
    for (title, hosts) in lists(f) {
        let names: Vec<String> = hosts.iter().map(|n| md(n)).collect();
        s.push_str(&format!(
            "- **{}** ({}): {}\n",
            md(&title),
            hosts.len(),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ));
    }
    s.push_str("\n| ");
    s.push_str(&HEAD.join(" | "));
    s.push_str(" |\n|");
    s.push_str(&"---|".repeat(HEAD.len()));
    s.push('\n');
    for r in rows(f) {
        let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

pub fn html(f: &Fleet) -> String {
    let mut s = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>hound fleet summary</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
         .bad{color:#b00;font-weight:bold}</style></head><body><h1>Fleet summary</h1>",
    );
    s.push_str(&format!(
        "<p>{} host(s); {} with findings.</p><ul>",
        f.hosts.len(),
        f.with_findings()
    ));
    for (title, hosts) in lists(f) {
        let names: Vec<String> = hosts.iter().map(|n| h(n)).collect();
        s.push_str(&format!(
            "<li><b>{}</b> ({}): {}</li>",
            h(&title),
            hosts.len(),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ));
    }
    s.push_str("</ul><table><tr>");
    for c in HEAD {
        s.push_str(&format!("<th>{}</th>", h(c)));
    }
    s.push_str("</tr>");
    for r in rows(f) {
        let bad = r[3] != "0" || r[4] != "0";
        s.push_str(if bad { "<tr class=\"bad\">" } else { "<tr>" });
        for c in r {
            s.push_str(&format!("<td>{}</td>", h(&c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></body></html>\n");
    s
}
