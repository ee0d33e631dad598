//! `hound fleet merge`: one view of a hunt run on many hosts through
//! Ansible (see `ansible/`). Each host's archive (its JSON lines and case
//! folder) is unpacked as it came, its journal verified, and the lines of
//! every host are joined into one file with a summary per host.

mod summary;
pub mod unpack;

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub use summary::{html, markdown};

/// What the Ansible recap said of one host.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Recap {
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
}

/// One host in the merged view.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostResult {
    /// The inventory name (the folder the playbook fetched into).
    pub inventory: String,
    /// `host.name` of its lines (the machine's own host name).
    pub host_names: Vec<String>,
    /// `ok`, `unreachable`, `failed` or `no_results`.
    pub status: String,
    pub recap: Option<Recap>,
    pub lines: u64,
    /// Findings by severity.
    pub findings: BTreeMap<String, u64>,
    /// Finding titles, most severe first (at most 20).
    pub titles: Vec<(String, String)>,
    /// `ok: N entries`, `no case`, or what verification found.
    pub journal: String,
    pub journal_ok: bool,
    /// Indicators (from `--indicator`) that appear in its lines.
    pub indicators: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Fleet {
    pub hosts: Vec<HostResult>,
    pub indicators: Vec<String>,
    /// `fleet.jsonl` and the summaries, as written.
    pub files: Vec<PathBuf>,
}

impl Fleet {
    pub fn with_findings(&self) -> usize {
        self.hosts.iter().filter(|h| !h.findings.is_empty()).count()
    }
}

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// Parses the `PLAY RECAP` lines of an Ansible log (the last one per host
/// wins: a log may hold several runs).
pub fn parse_recap(text: &str) -> BTreeMap<String, Recap> {
    let re = regex::Regex::new(
        r"(?m)(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
    );
    let mut out = BTreeMap::new();
    let Ok(re) = re else { return out };
    for c in re.captures_iter(text) {
        let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
        out.insert(
            c[1].to_string(),
            Recap {
                ok: n(2),
                changed: n(3),
                unreachable: n(4),
                failed: n(5),
            },
        );
    }
    out
}

/// A host name safe as one path component.
fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The archive the playbook fetched for a host (the newest `*.tar*`).
fn archive_of(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.ends_with(".tar.gz") || n.ends_with(".tgz") || n.ends_with(".tar")
            })
        })
        .collect();
    found.sort();
    found.pop()
}

/// Case folders inside an unpacked archive: folders holding a journal.
fn case_dirs(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(4)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.file_name() == crate::runtime::case::JOURNAL)
        .filter_map(|e| e.path().parent().map(Path::to_path_buf))
        .collect()
}

/// Merges `results` (one folder per inventory host, plus `ansible.log`)
/// into `out`: `hosts/<host>/` unpacked, `fleet.jsonl`, `summary.md`,
/// `summary.html`, `summary.json`.
pub fn merge(results: &Path, out: &Path, indicators: &[String]) -> Result<Fleet> {
    if !results.is_dir() {
        return Err(Error::not_found(format!(
            "{}: no such results folder",
            results.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out.display(), e))?;
    let hosts_dir = out.join("hosts");
    if hosts_dir.exists() {
        return Err(Error::invalid(format!(
            "{}: already holds a merge; choose an empty output folder",
            out.display()
        )));
    }
    let recap = ["ansible.log", "recap.txt"]
        .iter()
        .filter_map(|n| std::fs::read_to_string(results.join(n)).ok())
        .map(|t| parse_recap(&t))
        .fold(BTreeMap::new(), |mut a, b| {
            a.extend(b);
            a
        });
    let mut names: Vec<String> = std::fs::read_dir(results)
        .map_err(|e| Error::io(results.display(), e))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| safe_name(n))
        .collect();
    // Hosts with no results folder matter when Ansible says why (the
    // playbook's last play runs on localhost and fetches nothing).
    for (h, r) in &recap {
        if safe_name(h) && !names.contains(h) && (r.unreachable > 0 || r.failed > 0) {
            names.push(h.clone());
        }
    }
    names.sort();
    let jsonl_path = out.join("fleet.jsonl");
    let mut jsonl = std::io::BufWriter::new(
        std::fs::File::create(&jsonl_path).map_err(|e| Error::io(jsonl_path.display(), e))?,
    );
    let mut fleet = Fleet {
        indicators: indicators.to_vec(),
        ..Default::default()
    };
    for name in names {
        let mut h = HostResult {
            inventory: name.clone(),
            recap: recap.get(&name).cloned(),
            ..Default::default()
        };
        let dest = hosts_dir.join(&name);
        if let Some(a) = archive_of(&results.join(&name)) {
            match unpack::unpack(&a, &dest) {
                Ok(w) => h.warnings.extend(w),
                Err(e) => h.warnings.push(format!("archive: {}", e.message)),
            }
        }
        read_lines(&dest, &name, indicators, &mut h, &mut jsonl)?;
        let cases = case_dirs(&dest);
        if cases.is_empty() {
            h.journal = "no case".into();
            h.journal_ok = true;
        }
        for c in cases {
            match crate::runtime::case::verify(&c) {
                Ok(n) => {
                    h.journal = format!("ok: {n} entries");
                    h.journal_ok = true;
                }
                Err(e) => {
                    h.journal = e.message.clone();
                    h.journal_ok = false;
                    break;
                }
            }
        }
        h.status = match &h.recap {
            Some(r) if r.unreachable > 0 => "unreachable",
            Some(r) if r.failed > 0 => "failed",
            _ if h.lines == 0 => "no_results",
            _ => "ok",
        }
        .into();
        fleet.hosts.push(h);
    }
    jsonl
        .flush()
        .map_err(|e| Error::io(jsonl_path.display(), e))?;
    fleet.files.push(jsonl_path);
    for (file, text) in [
        ("summary.md", markdown(&fleet)),
        ("summary.html", html(&fleet)),
        (
            "summary.json",
            serde_json::to_string_pretty(&fleet).unwrap_or_default(),
        ),
    ] {
        let p = out.join(file);
        std::fs::write(&p, text).map_err(|e| Error::io(p.display(), e))?;
        fleet.files.push(p);
    }
    Ok(fleet)
}

/// Reads a host's JSON lines (every `*.jsonl` of the archive), counts its
/// findings and indicators, and appends the lines to the fleet file.
fn read_lines(
    dest: &Path,
    inventory: &str,
    indicators: &[String],
    h: &mut HostResult,
    out: &mut impl Write,
) -> Result<()> {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dest)
        .follow_links(false)
        .max_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter(|e| e.file_name() != crate::runtime::case::JOURNAL)
        .map(|e| e.into_path())
        .collect();
    for f in files {
        let Ok(file) = std::fs::File::open(&f) else {
            continue;
        };
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            let Ok(mut v) = serde_json::from_str::<Value>(&line) else {
                h.warnings
                    .push(format!("{}: a line that is not JSON, skipped", f.display()));
                continue;
            };
            let Some(m) = v.as_object_mut() else { continue };
            let name = m
                .get("host.name")
                .or_else(|| m.get("host").and_then(|x| x.get("name")))
                .and_then(Value::as_str)
                .map(String::from);
            match name {
                Some(n) if !h.host_names.contains(&n) => h.host_names.push(n),
                Some(_) => {}
                None => {
                    m.insert("host.name".into(), Value::String(inventory.into()));
                }
            }
            m.insert(
                "fleet.inventory_host".into(),
                Value::String(inventory.into()),
            );
            let kind = m
                .get("hound.type")
                .or_else(|| m.get("hound").and_then(|x| x.get("type")))
                .and_then(Value::as_str)
                .unwrap_or("");
            if kind == "finding" {
                let sev = m
                    .get("severity")
                    .or_else(|| m.get("log").and_then(|x| x.get("level")))
                    .and_then(Value::as_str)
                    .unwrap_or("high")
                    .to_string();
                let title = m
                    .get("title")
                    .or_else(|| m.get("rule").and_then(|x| x.get("name")))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                *h.findings.entry(sev.clone()).or_default() += 1;
                h.titles.push((sev, title));
            }
            let text = line.as_str();
            for i in indicators {
                if !i.is_empty() && text.contains(i.as_str()) && !h.indicators.contains(i) {
                    h.indicators.push(i.clone());
                }
            }
            h.lines += 1;
            writeln!(out, "{v}").map_err(|e| Error::io("fleet.jsonl", e))?;
        }
    }
    h.titles
        .sort_by_key(|(s, _)| SEVERITIES.iter().position(|x| x == s).unwrap_or(9));
    h.titles.truncate(20);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recap_lines_parse() {
        let log = "2026-11-30 18:00:00,1 p=1 u=root n=ansible | PLAY RECAP ****\n\
                   2026-11-30 18:00:00,1 p=1 u=root n=ansible | h01 : ok=7 changed=3 unreachable=0 failed=0 skipped=1\n\
                   h02                        : ok=0    changed=0    unreachable=1    failed=0\n";
        let r = parse_recap(log);
        assert_eq!(r["h01"].ok, 7);
        assert_eq!(r["h02"].unreachable, 1);
    }

    #[test]
    fn names_are_one_component() {
        assert!(safe_name("web-01.example"));
        assert!(!safe_name(".."));
        assert!(!safe_name("a/b"));
    }
}
