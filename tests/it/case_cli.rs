//! One case per incident: `hound case new|list|current|close`, runs that
//! continue the open case and say where they wrote, no empty folders, and
//! a case that degrades when the case base cannot be written.

use crate::common::{hound, script};
use predicates::prelude::*;
use serde_json::Value;
use std::path::Path;

fn finding_script(title: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    script(
        "f.rhai",
        &format!("case::finding(\"low\", \"{title}\");\nemit(#{{ step: \"{title}\" }});\n"),
    )
}

fn titles(dir: &Path) -> Vec<String> {
    hound::runtime::case::read_journal(dir)
        .unwrap()
        .iter()
        .filter(|e| e["primitive"] == "case::finding")
        .map(|e| e["args"]["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn an_open_case_collects_every_run_until_closed() {
    let base = tempfile::tempdir().unwrap();
    let cmd = || {
        let mut c = hound();
        c.env("HOUND_CASES", base.path());
        c
    };
    let out = cmd().args(["case", "new", "web01"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = base.path().join("web01");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.to_str().unwrap()
    );
    cmd()
        .args(["case", "current"])
        .assert()
        .success()
        .stdout(format!("{}\n", dir.display()));

    // Two steps, the second with --json: both record into the open case and
    // say so on stderr.
    let (_a, first) = finding_script("discovery");
    cmd()
        .args(["run", first.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("case: {}", dir.display())));
    let (_b, second) = finding_script("containment");
    let out = cmd()
        .args(["--json", "run", second.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line: Value = err
        .lines()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v.get("case").is_some())
        })
        .unwrap_or_else(|| panic!("no case line: {err}"));
    assert_eq!(line["case"]["dir"], dir.to_str().unwrap());
    assert_eq!(line["case"]["findings_this_run"], 1);
    assert_eq!(titles(&dir), ["discovery", "containment"]);

    // HOUND_CASE (like --case) still wins over the open case.
    let other = base.path().join("elsewhere");
    cmd()
        .env("HOUND_CASE", &other)
        .args(["run", first.to_str().unwrap()])
        .assert()
        .code(1);
    assert_eq!(titles(&other), ["discovery"]);
    assert_eq!(titles(&dir).len(), 2);

    // One incident at a time; the list marks the open case; the report
    // needs no folder.
    cmd()
        .args(["case", "new", "second"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("still open"))
        .stderr(predicate::str::contains("hound case close"));
    let list = cmd().args(["--json", "case", "list"]).output().unwrap();
    let rows = crate::common::json_lines(&list.stdout);
    let open: Vec<&Value> = rows.iter().filter(|r| r["open"] == true).collect();
    assert_eq!(open.len(), 1, "{rows:?}");
    assert_eq!(open[0]["name"], "web01");
    assert_eq!(open[0]["findings"], 2);
    cmd()
        .arg("report")
        .assert()
        .success()
        .stdout(predicate::str::contains("containment"));
    cmd().args(["case", "verify"]).assert().success();

    // Closed: the next run starts a folder of its own.
    cmd()
        .args(["case", "close"])
        .assert()
        .success()
        .stderr(predicate::str::contains("closed"));
    cmd().args(["case", "current"]).assert().code(1);
    cmd()
        .args(["run", first.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(base.path().to_str().unwrap()));
    assert_eq!(titles(&dir).len(), 2);
    cmd()
        .args(["case", "new", "../evil"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("case name"));
}

#[test]
fn a_run_that_records_nothing_leaves_no_folder() {
    let base = tempfile::tempdir().unwrap();
    // Evidence of a missing file opens the case folder, then fails.
    let (_d, p) = script(
        "n.rhai",
        "try { case::evidence(\"/nonexistent/x\") } catch (e) { }\nemit(#{ ok: true });\n",
    );
    hound()
        .env("HOUND_CASES", base.path())
        .args(["run", p.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::contains("case:").not());
    let left: Vec<_> = std::fs::read_dir(base.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_unwritable_case_base_degrades_with_one_warning() {
    crate::require_root!();
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // An unprivileged user whose HOME (and so the case base) is read-only.
    let home = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let (d, p) = script(
        "two.rhai",
        "case::finding(\"low\", \"first\");\ncase::finding(\"low\", \"second\");\nemit(#{ went_on: true });\n",
    );
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(crate::common::hound_path())
        .args(["run", p.to_str().unwrap()])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("went_on"));
    assert_eq!(
        err.matches("warning: cannot write cases").count(),
        1,
        "{err}"
    );
    assert!(!err.contains("Permission denied"), "{err}");
    assert!(
        err.contains(&format!(
            "case: {}/hound-65534/cases/",
            tmp.path().display()
        )),
        "{err}"
    );
}
