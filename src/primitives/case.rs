//! `case::` primitives: findings, evidence, the journal and the report.

use crate::host::evidence;
use crate::primitives::{args, ctx, to_dyn, to_rhai, IntoRhai, RhaiResult};
use crate::runtime::case::{CaseState, Finding, SEVERITIES};
use crate::runtime::Ctx;
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use serde_json::{json, Value};

fn lock<'a>(c: &'a Ctx, p: &str) -> RhaiResult<std::sync::MutexGuard<'a, CaseState>> {
    c.case_lock().map_err(|e| to_rhai(e.in_primitive(p)))
}

fn current_of(c: &Ctx) -> RhaiResult<Dynamic> {
    let mut case = lock(c, "case::current")?;
    // An existing case folder is continued (nothing new is created), so its
    // earlier findings and entries count; a new one stays unmade until needed.
    if !case.is_open() && case.dir.join(crate::runtime::case::JOURNAL).exists() {
        case.open().rhai("case::current")?;
    }
    let mut by = serde_json::Map::new();
    for s in SEVERITIES {
        by.insert(
            s.into(),
            json!(case
                .case_findings
                .iter()
                .filter(|f| f.severity == s)
                .count()),
        );
    }
    to_dyn(&json!({
        "dir": case.dir.display().to_string(), "opened": case.is_open(),
        "findings": case.case_findings.len(), "by_severity": by, "journal_entries": case.entries(),
    }))
}

fn finding_impl(
    nc: &NativeCallContext,
    severity: &str,
    title: &str,
    details: Map,
) -> RhaiResult<Dynamic> {
    const P: &str = "case::finding";
    let c = ctx(nc, P)?;
    let sev = severity.to_ascii_lowercase();
    if !SEVERITIES.contains(&sev.as_str()) {
        return Err(args::bad(
            P,
            format!(
                "severity {severity:?}: expected one of {}",
                SEVERITIES.join(", ")
            ),
        ));
    }
    if title.trim().is_empty() {
        return Err(args::bad(P, "title: empty"));
    }
    let details: Value =
        rhai::serde::from_dynamic(&Dynamic::from_map(details)).unwrap_or(Value::Null);
    let f = Finding {
        severity: sev,
        title: title.to_string(),
        mitre: details["mitre"].as_str().map(String::from),
        details,
    };
    let dry = c.dry_run();
    lock(&c, P)?.add_finding(f.clone(), dry).rhai(P)?;
    to_dyn(&f)
}

#[export_module]
pub mod case_fns {
    use super::*;

    /// Records a finding: severity (`info`, `low`, `medium`, `high`,
    /// `critical`) and a title. Findings go to the journal and make
    /// `hound run` exit with status 1.
    ///
    /// ```rhai
    /// case::finding("low", "SSH allows password logins");
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "finding", return_raw)]
    pub fn finding(nc: NativeCallContext, severity: &str, title: &str) -> RhaiResult<Dynamic> {
        finding_impl(&nc, severity, title, Map::new())
    }

    /// `case::finding(severity, title, details)`: details is a map; hound
    /// reads `evidence` (text for the report), `mitre` (technique id),
    /// `pids`, `paths`, `addresses`; anything else is kept as is.
    ///
    /// ```rhai
    /// case::finding("high", "Beacon to 10.0.0.196:80", #{ evidence: "nc every 2 s", mitre: "T1071", pids: [6856] });
    /// ```
    #[rhai_fn(name = "finding", return_raw)]
    pub fn finding_with(
        nc: NativeCallContext,
        severity: &str,
        title: &str,
        details: Map,
    ) -> RhaiResult<Dynamic> {
        finding_impl(&nc, severity, title, details)
    }

    /// The case: `dir`, `opened` (created on disk yet), `findings` (count,
    /// earlier runs in the same folder included once it is opened),
    /// `by_severity` (count per severity), `journal_entries`.
    ///
    /// ```rhai
    /// case::current().dir != ""
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "current", return_raw)]
    pub fn current(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        let c = ctx(&nc, "case::current")?;
        current_of(&c)
    }

    /// Switches to (and creates) the case folder `dir`; an existing case
    /// continues, its journal chain intact. Returns `case::current()`.
    /// `findings` there counts the folder's findings, earlier runs included;
    /// the exit status of `hound run` counts only this run's.
    ///
    /// ```rhai
    /// // no_run
    /// case::open("/var/lib/hound/cases/web01-beacon")
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "open", return_raw)]
    pub fn open(nc: NativeCallContext, dir: &str) -> RhaiResult<Dynamic> {
        const P: &str = "case::open";
        let c = ctx(&nc, P)?;
        {
            let mut case = lock(&c, P)?;
            let mut next = CaseState::new(dir.into());
            next.open().rhai(P)?;
            // This run's findings still decide its exit status.
            next.findings = std::mem::take(&mut case.findings);
            *case = next;
        }
        current_of(&c)
    }

    /// Preserves a file (path) or a process (pid) in the case's evidence
    /// folder without changing it: a file is copied with sha256, owner,
    /// mode and times; a process is captured with cmdline, environment,
    /// executable (from /proc/PID/exe, even if deleted) and its hash, cwd,
    /// maps, open files, sockets and parent chain. Returns the manifest:
    /// `id`, `kind`, `what`, `sha256`, `stored`, `details`.
    ///
    /// ```rhai
    /// // no_run
    /// case::evidence("/tmp/bot.sh");
    /// case::evidence(6856)
    /// ```
    ///
    /// Params: target: string|int
    /// Returns: map
    #[rhai_fn(name = "evidence", return_raw)]
    pub fn evidence(nc: NativeCallContext, target: Dynamic) -> RhaiResult<Dynamic> {
        const P: &str = "case::evidence";
        let c = ctx(&nc, P)?;
        let dir = lock(&c, P)?.evidence_dir().rhai(P)?;
        let m = if let Ok(pid) = target.as_int() {
            let pid = i32::try_from(pid)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| args::bad(P, format!("pid {pid} is not a process id")))?;
            evidence::process(pid, &dir, &c.cancel).rhai(P)?
        } else if target.is_string() {
            evidence::file(std::path::Path::new(&target.to_string()), &dir).rhai(P)?
        } else {
            return Err(args::bad(
                P,
                format!("expected a path or a pid, found {}", target.type_name()),
            ));
        };
        for x in &m.missing {
            c.warn(
                P,
                format!("{}: {} not captured: {}", m.what, x.what, x.error),
            );
        }
        let summary = serde_json::to_value(crate::runtime::journal::EvidenceRecord {
            id: m.id.clone(),
            kind: m.kind.into(),
            what: m.what.clone(),
            sha256: m.sha256.clone(),
            stored: m.stored.clone(),
            missing: m
                .missing
                .iter()
                .filter_map(|x| serde_json::to_value(x).ok())
                .collect(),
        })
        .unwrap_or_default();
        let dry = c.dry_run();
        lock(&c, P)?
            .append(
                P,
                json!({ "target": target.to_string() }),
                summary,
                None,
                dry,
            )
            .rhai(P)?;
        to_dyn(&m)
    }

    /// Writes the incident report from the journal (`"md"`, `"json"` or
    /// `"html"`) into the case's `reports/` folder (`report.md`, ...) and
    /// returns its path. The journal is the source: the report can be
    /// written again at any time, also with `hound report CASE_DIR`.
    ///
    /// ```rhai
    /// // no_run
    /// let path = case::report("md");
    /// print(fs::read(path));
    /// ```
    ///
    /// Returns: string
    #[rhai_fn(name = "report", return_raw)]
    pub fn report(nc: NativeCallContext, format: &str) -> RhaiResult<Dynamic> {
        const P: &str = "case::report";
        let c = ctx(&nc, P)?;
        let dir = lock(&c, P)?.open().rhai(P)?.to_path_buf();
        let path = crate::runtime::report::write(&dir, format).rhai(P)?;
        Ok(path.display().to_string().into())
    }

    /// The journal's entries so far (each: `seq`, `time`, `host`, `user`,
    /// `primitive`, `args`, `result`, `undo`, `dry_run`, `prev`, `hash`).
    ///
    /// ```rhai
    /// case::journal().all(|e| e.hash != "")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "journal", return_raw)]
    pub fn journal(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "case::journal";
        let c = ctx(&nc, P)?;
        let case = lock(&c, P)?;
        if !case.is_open() {
            return Ok(rhai::Array::new().into());
        }
        to_dyn(&crate::runtime::case::read_journal(&case.dir).rhai(P)?)
    }
}
