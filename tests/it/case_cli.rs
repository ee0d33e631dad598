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

/// A case folder that cannot hold a case stops the run before the script
/// does anything (not at its first finding), naming the folder; the same
/// for `hound apply` and the REPL.
#[test]
fn an_unusable_case_folder_fails_before_anything_runs() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let (_d, p) = script(
        "w.rhai",
        "emit(#{ went_on: true });\ncase::finding(\"low\", \"x\");\n",
    );
    let p = p.to_str().unwrap();
    let check = |out: std::process::Output, needles: &[&str]| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("went_on"));
        for n in needles {
            assert!(err.contains(n), "lacks {n:?}: {err}");
        }
    };
    let shown = file.to_str().unwrap();
    check(
        hound()
            .env("HOUND_CASE", &file)
            .args(["run", p])
            .output()
            .unwrap(),
        &[shown, "not a folder", "--case DIR"],
    );
    let below = file.join("case");
    check(
        hound()
            .args(["--case", below.to_str().unwrap(), "run", p])
            .output()
            .unwrap(),
        &[below.to_str().unwrap(), "cannot be made"],
    );
    check(
        hound()
            .env("HOUND_CASE", &file)
            .arg("repl")
            .write_stdin("emit(#{ went_on: true });\n")
            .output()
            .unwrap(),
        &[shown, "not a folder"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");

    // Unprivileged: a folder of root's, and a new folder under one.
    crate::require_root!();
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let roots = t.path().join("roots");
    std::fs::create_dir(&roots).unwrap();
    std::fs::write(roots.join("plan.json"), r#"{"version":1,"items":[]}"#).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(_d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = |args: &[&str]| {
        std::process::Command::new(crate::common::hound_path())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", "/nonexistent")
            .env("NO_COLOR", "1")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap()
    };
    let r = roots.to_str().unwrap();
    check(nobody(&["--case", r, "run", p]), &[r, "owned by uid 0"]);
    let new = roots.join("new");
    check(
        nobody(&["--case", new.to_str().unwrap(), "run", p]),
        &[new.to_str().unwrap(), "cannot be made", "cannot be written"],
    );
    check(nobody(&["apply", r]), &[r, "owned by uid 0"]);
    assert!(!new.exists());
    assert!(!roots.join(hound::runtime::case::JOURNAL).exists());
}
