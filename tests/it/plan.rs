//! The remediation plan on real processes and files: identities re-checked
//! at apply time, exact line removal and undo, dry-run, `hound apply --only`,
//! and one refused item not stopping the others.

use crate::common::{hound, in_case, json_lines, read_jsonl, script_output, Reaped};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// Runs a script in `case` and returns (output, its JSON lines as an array:
/// an array result prints one line per element).
fn run(case: &Path, body: &str, extra: &[&str]) -> (std::process::Output, Value) {
    let args = in_case(case)
        .into_iter()
        .chain(extra.iter().map(OsStr::new));
    let (out, lines) = script_output(body, args);
    (out, Value::Array(lines))
}

fn plan_json(case: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(case.join("plan.json")).unwrap()).unwrap()
}

fn status<'a>(outcomes: &'a Value, id: &str) -> &'a str {
    outcomes
        .as_array()
        .and_then(|a| a.iter().find(|o| o["id"] == id))
        .and_then(|o| o["status"].as_str())
        .unwrap_or("(missing)")
}

fn alive(c: &mut Reaped) -> bool {
    c.try_wait().unwrap().is_none()
}

#[test]
fn kill_rechecks_start_time_and_skips_a_reused_pid() {
    let mut a = Reaped(Command::new("sleep").arg("60").spawn().unwrap());
    let mut b = Reaped(Command::new("sleep").arg("61").spawn().unwrap());
    let case = tempfile::tempdir().unwrap();
    let body = format!(
        r#"[case::plan_add(#{{ action: "kill", target: #{{ pid: {} }}, why: ["connects to 192.0.2.9"] }}),
            case::plan_add(#{{ action: "kill", target: #{{ pid: {} }}, why: ["connects to 192.0.2.9"] }})]"#,
        a.0.id(),
        b.0.id()
    );
    let (out, ids) = run(case.path(), &body, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids, serde_json::json!(["A1", "A2"]));
    let mut plan = plan_json(case.path());
    assert!(
        plan["items"][0]["identity"]["start_ticks"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(plan["items"][0]["identity"]["exe"], "/usr/bin/sleep");
    // Stand-in for a reused pid: the same number, another start time.
    let t = plan["items"][1]["identity"]["start_ticks"]
        .as_u64()
        .unwrap();
    plan["items"][1]["identity"]["start_ticks"] = (t + 1).into();
    std::fs::write(case.path().join("plan.json"), plan.to_string()).unwrap();
    let (out, o) = run(case.path(), "case::apply()", &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&o, "A1"), "done", "{o}");
    assert_eq!(status(&o, "A2"), "skipped", "{o}");
    assert!(o[1]["message"].as_str().unwrap().contains("reused"), "{o}");
    let _ = a.0.wait();
    assert!(alive(&mut b), "the 'reused' pid was not signalled");
    // Evidence came first and the journal pairs intent and outcome.
    let entries = read_jsonl(&case.path().join("journal.jsonl"));
    let id = o[0]["action_id"].as_str().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .filter(|e| e["action_id"] == id)
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["intent", "outcome"]);
    assert!(o[0]["result"]["evidence"].is_string(), "{o}");
    assert_eq!(plan_json(case.path())["items"][0]["status"], "done");
}

#[test]
fn changed_files_are_skipped_and_lines_come_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (f1, f2, cron) = (
        dir.path().join("payload"),
        dir.path().join("changed"),
        dir.path().join("crontab"),
    );
    std::fs::write(&f1, "evil").unwrap();
    std::fs::write(&f2, "evil too").unwrap();
    let body = b"# keep me\r\n*/5 * * * * /usr/bin/backup\n@reboot /tmp/.x/b.sh\n0 1 * * * /usr/bin/ok \xff\n";
    std::fs::write(&cron, body).unwrap();
    let case = tempfile::tempdir().unwrap();
    let add = format!(
        r#"let w = ["written by the web shell request"];
           [case::plan_add(#{{ action: "quarantine", target: #{{ path: "{}" }}, why: w }}),
            case::plan_add(#{{ action: "quarantine", target: #{{ path: "{}" }}, why: w }}),
            case::plan_add(#{{ action: "remove_line", target: #{{ path: "{}", line: 3, text: "@reboot /tmp/.x/b.sh" }}, why: w }})]"#,
        f1.display(),
        f2.display(),
        cron.display()
    );
    let (out, ids) = run(case.path(), &add, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids, serde_json::json!(["A1", "A2", "A3"]));
    std::fs::write(&f2, "edited after planning").unwrap();
    // Dry run first: plan.json says "would", nothing changes.
    let (out, o) = run(case.path(), "case::apply()", &["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&o, "A1"), "would", "{o}");
    assert_eq!(status(&o, "A3"), "would", "{o}");
    assert_eq!(std::fs::read(&cron).unwrap(), body);
    assert!(f1.exists());
    assert_eq!(plan_json(case.path())["items"][0]["status"], "would");
    let (out, o) = run(case.path(), "case::apply()", &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&o, "A1"), "done", "{o}");
    assert_eq!(status(&o, "A2"), "skipped", "{o}");
    assert_eq!(status(&o, "A3"), "done", "{o}");
    assert!(!f1.exists());
    assert_eq!(
        std::fs::read_to_string(&f2).unwrap(),
        "edited after planning"
    );
    assert_eq!(
        std::fs::read(&cron).unwrap(),
        b"# keep me\r\n*/5 * * * * /usr/bin/backup\n0 1 * * * /usr/bin/ok \xff\n",
        "only that line went"
    );
    let (out, _) = run(case.path(), r#"case::undo("A3")"#, &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&cron).unwrap(),
        body,
        "undo restores byte for byte"
    );
    let (out, _) = run(case.path(), r#"case::undo("A1")"#, &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&f1).unwrap(), "evil");
}

#[test]
fn apply_only_does_exactly_those_items_and_a_refusal_stops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = (1..=3).map(|i| dir.path().join(format!("f{i}"))).collect();
    for f in &files {
        std::fs::write(f, f.display().to_string()).unwrap();
    }
    let keys = dir.path().join("authorized_keys");
    std::fs::write(&keys, "ssh-ed25519 AAAA admin\nssh-ed25519 BBBB backdoor\n").unwrap();
    let case = tempfile::tempdir().unwrap();
    let mut body = String::from("let w = [#{ from: \"file:x\", to: \"indicator:y\", relation: \"names indicator\", evidence: \"grep\" }];\n[");
    for f in &files {
        body.push_str(&format!(
            "case::plan_add(#{{ action: \"quarantine\", target: #{{ path: \"{}\" }}, why: w }}),",
            f.display()
        ));
    }
    body.push_str(&format!(
        "case::plan_add(#{{ action: \"remove_line\", target: #{{ path: \"{}\", line: 2, text: \"ssh-ed25519 BBBB backdoor\" }}, why: w }}),",
        keys.display()
    ));
    body.push_str("case::plan_add(#{ action: \"kill\", target: #{ pid: 1 }, why: [\"parent of a beacon\"] })]");
    let (out, ids) = run(case.path(), &body, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids.as_array().unwrap().len(), 5, "{ids}");
    assert_eq!(plan_json(case.path())["items"][3]["approval"], "required");
    // An item without evidence is refused when planned.
    let (out, _) = run(
        case.path(),
        &format!(
            "case::plan_add(#{{ action: \"quarantine\", target: #{{ path: \"{}\" }}, why: [] }})",
            files[0].display()
        ),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no evidence"));

    let o = hound()
        .args(["apply", "--json", "--only", "A2,A4,A5"])
        .arg(case.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines = json_lines(&o.stdout);
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["id"].as_str().unwrap(), l["status"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("A2", "done"), ("A4", "refused"), ("A5", "refused")]);
    assert!(files[0].exists() && !files[1].exists() && files[2].exists());
    assert!(
        std::fs::read_to_string(&keys).unwrap().contains("BBBB"),
        "approval required"
    );
    let o = hound()
        .args(["apply", "--json", "--only", "A4", "--approve", "A4"])
        .arg(case.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&keys).unwrap(),
        "ssh-ed25519 AAAA admin\n"
    );
    hound()
        .args(["apply", "--only", "A9"])
        .arg(case.path())
        .assert()
        .code(2);
}

/// Regression (issue 12): an older process with the same command line in
/// another network namespace was counted as a respawn of the killed one.
#[test]
fn an_older_twin_in_another_namespace_is_not_a_respawn() {
    crate::require_root!();
    crate::require_cmd!("unshare");
    let twin = Reaped(
        Command::new("unshare")
            .args(["--net", "--", "sleep", "1234"])
            .spawn()
            .unwrap(),
    );
    let target = Reaped(Command::new("sleep").arg("1234").spawn().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let case = tempfile::tempdir().unwrap();
    let (out, v) = run(
        case.path(),
        &format!("proc::kill({}, #{{ grace: 1 }})", target.0.id()),
        &["--allow-destructive"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v[0]["gone"], true, "{v}");
    assert_eq!(v[0]["respawned"], false, "{v}");
    drop(twin);
}

#[test]
fn a_unit_is_disabled_with_its_links_an_exited_process_is_skipped_and_the_report_shows_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("bot.service");
    std::fs::write(&unit, "[Service]\nExecStart=/tmp/.x/b.sh\n").unwrap();
    let wants = dir.path().join("multi-user.target.wants");
    std::fs::create_dir(&wants).unwrap();
    std::os::unix::fs::symlink(&unit, wants.join("bot.service")).unwrap();
    std::os::unix::fs::symlink("/lib/systemd/system/ok.service", wants.join("ok.service")).unwrap();
    let mut gone = Reaped(Command::new("sleep").arg("60").spawn().unwrap());
    let case = tempfile::tempdir().unwrap();
    let body = format!(
        r#"[case::plan_add(#{{ action: "disable_unit", target: #{{ path: "{}" }}, why: ["ExecStart runs /tmp/.x/b.sh"] }}),
            case::plan_add(#{{ action: "kill", target: #{{ pid: {} }}, why: ["runs /tmp/.x/b.sh"] }})]"#,
        unit.display(),
        gone.0.id()
    );
    let (out, _) = run(case.path(), &body, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = gone.0.kill();
    let _ = gone.0.wait();
    let (out, o) = run(
        case.path(),
        "let o = case::apply(); case::report(\"md\"); o",
        &["--allow-destructive"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&o, "A1"), "done", "{o}");
    assert_eq!(status(&o, "A2"), "skipped", "{o}");
    assert!(o[1]["message"].as_str().unwrap().contains("exited"), "{o}");
    assert!(!unit.exists());
    assert!(std::fs::symlink_metadata(wants.join("bot.service")).is_err());
    assert!(
        std::fs::symlink_metadata(wants.join("ok.service")).is_ok(),
        "other links stay"
    );
    let report = std::fs::read_to_string(case.path().join("reports/report.md")).unwrap();
    for needle in [
        "## Plan (2 item(s))",
        "| A1 | disable_unit |",
        "| skipped |",
        "ExecStart runs",
    ] {
        assert!(report.contains(needle), "report lacks {needle}:\n{report}");
    }
    let (out, _) = run(case.path(), r#"case::undo("A1")"#, &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(unit.exists());
    assert_eq!(std::fs::read_link(wants.join("bot.service")).unwrap(), unit);
}

#[test]
fn a_line_removed_directly_is_undone_by_its_action_id() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("profile");
    let body = "export PATH=/usr/bin\n(nohup /tmp/.x/b.sh &)\nalias ll='ls -l'\n";
    std::fs::write(&rc, body).unwrap();
    let case = tempfile::tempdir().unwrap();
    let call = format!(
        r#"fs::remove_line("{}", 2, "(nohup /tmp/.x/b.sh &)")"#,
        rc.display()
    );
    let (out, _) = run(case.path(), &call, &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "policy refuses without --allow-destructive"
    );
    let (out, v) = run(case.path(), &call, &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&rc).unwrap(),
        "export PATH=/usr/bin\nalias ll='ls -l'\n"
    );
    let id = v[0]["action_id"].as_str().unwrap();
    let (out, r) = run(case.path(), "case::report(\"md\")", &[]);
    assert!(out.status.success());
    let report = std::fs::read_to_string(r[0].as_str().unwrap()).unwrap();
    assert!(
        report.contains(&format!("case::undo(\"{id}\")")),
        "{report}"
    );
    let (out, _) = run(
        case.path(),
        &format!("case::undo(\"{id}\")"),
        &["--allow-destructive"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), body);
}

#[test]
fn an_account_lock_waits_for_approval_and_dry_run_touches_nothing() {
    let shadow = std::fs::read("/etc/shadow").ok();
    let case = tempfile::tempdir().unwrap();
    let add = r#"case::plan_add(#{ action: "lock_account", target: #{ user: "nobody" }, why: ["uid 0 backdoor"] })"#;
    let (out, id) = run(case.path(), add, &[]);
    if !crate::common::is_root() {
        // Unprivileged, /etc/shadow cannot be read: the item is refused when planned.
        assert_eq!(out.status.code(), Some(2));
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(id[0], "A1");
    let item = &plan_json(case.path())["items"][0];
    assert_eq!(item["approval"], "required", "{item}");
    let (out, o) = run(case.path(), "case::apply()", &["--allow-destructive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&o, "A1"), "refused", "{o}");
    assert!(
        o[0]["message"].as_str().unwrap().contains("--approve A1"),
        "{o}"
    );
    // A preview refuses nothing: it says the real run will ask.
    let (_, o) = run(case.path(), "case::apply()", &["--dry-run"]);
    assert_eq!(status(&o, "A1"), "would", "{o}");
    assert!(
        o[0]["message"]
            .as_str()
            .unwrap()
            .contains("would need approval first"),
        "{o}"
    );
    let (out, o) = run(
        case.path(),
        r#"case::apply(#{ approve: ["A1"] })"#,
        &["--dry-run"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&o, "A1"), "would", "{o}");
    assert_eq!(std::fs::read("/etc/shadow").ok(), shadow, "nothing changed");
}

/// "No evidence" and "capture failed" differ: a zombie has no executable
/// left to copy, and the manifest says so.
#[test]
fn evidence_lists_what_it_could_not_capture() {
    crate::require_root!();
    let mut z = Command::new("true").spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let case = tempfile::tempdir().unwrap();
    let (out, v) = run(case.path(), &format!("case::evidence({})", z.id()), &[]);
    let _ = z.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let missing = v[0]["missing"].as_array().unwrap();
    assert!(missing.iter().any(|m| m["what"] == "exe"), "{v}");
    let journal = std::fs::read_to_string(case.path().join("journal.jsonl")).unwrap();
    assert!(journal.contains("{\"what\":\"exe\",\"error\""), "{journal}");
}

/// The gate checks a planned target's identity before anything else: a
/// file that has gone, and one replaced by something a quarantine would
/// refuse (a fifo), are both skipped, never refused, and nothing about them
/// is journaled as an action.
#[test]
fn a_gone_or_replaced_target_is_skipped_by_the_gate_before_its_protection() {
    let dir = tempfile::tempdir().unwrap();
    let (gone, cron, unit, fifo) = (
        dir.path().join("gone.sh"),
        dir.path().join("crontab"),
        dir.path().join("evil.service"),
        dir.path().join("swapped"),
    );
    std::fs::write(&gone, "evil").unwrap();
    std::fs::write(&cron, "@reboot /tmp/.x/b.sh\n").unwrap();
    std::fs::write(&unit, "[Service]\nExecStart=/tmp/.x/b.sh\n").unwrap();
    std::fs::write(&fifo, "evil").unwrap();
    let case = tempfile::tempdir().unwrap();
    let add = format!(
        r#"let w = ["written by the web shell request"];
           [case::plan_add(#{{ action: "quarantine", target: #{{ path: "{}" }}, why: w }}),
            case::plan_add(#{{ action: "remove_line", target: #{{ path: "{}", line: 1, text: "@reboot /tmp/.x/b.sh" }}, why: w }}),
            case::plan_add(#{{ action: "disable_unit", target: #{{ path: "{}" }}, why: w }}),
            case::plan_add(#{{ action: "quarantine", target: #{{ path: "{}" }}, why: w }})]"#,
        gone.display(),
        cron.display(),
        unit.display(),
        fifo.display()
    );
    let (out, ids) = run(case.path(), &add, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids, serde_json::json!(["A1", "A2", "A3", "A4"]));
    for f in [&gone, &cron, &unit, &fifo] {
        std::fs::remove_file(f).unwrap();
    }
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (out, o) = run(case.path(), "case::apply()", &["--allow-destructive"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for id in ["A1", "A2", "A3", "A4"] {
        assert_eq!(status(&o, id), "skipped", "{id}: {o}");
    }
    assert!(o[0]["message"].as_str().unwrap().contains("gone"), "{o}");
    assert!(
        o[3]["message"]
            .as_str()
            .unwrap()
            .contains("not a regular file"),
        "{o}"
    );
    assert!(err.contains("skipped:"), "{err}");
    assert!(fifo.exists(), "the fifo stays");
    let journal = std::fs::read_to_string(case.path().join("journal.jsonl")).unwrap();
    assert!(!journal.contains("\"intent\""), "{journal}");
}

/// Several lines planned out of one file (two lines appended to a script):
/// each removal changes the file's hash, which the next item was planned
/// with. hound's own removal moves them on (and up a line when below it),
/// in one apply or across `--only` runs; any other edit still skips them.
#[test]
fn several_lines_of_one_file_all_go_and_a_foreign_edit_still_skips() {
    let dir = tempfile::tempdir().unwrap();
    let (script, other) = (dir.path().join("backup.sh"), dir.path().join("rc"));
    let body = "#!/bin/sh\ntar czf /srv/b.tgz /srv/data\nbad one\nbad two\necho done\n";
    std::fs::write(&script, body).unwrap();
    std::fs::write(&other, "keep\nbad three\nbad four\n").unwrap();
    let case = tempfile::tempdir().unwrap();
    // Top line first on purpose: the second moves up when the first goes.
    let add = format!(
        r#"let w = ["runs /tmp/.x/payload"];
           [case::plan_add(#{{ action: "remove_line", target: #{{ path: "{s}", line: 3, text: "bad one" }}, why: w }}),
            case::plan_add(#{{ action: "remove_line", target: #{{ path: "{s}", line: 4, text: "bad two" }}, why: w }}),
            case::plan_add(#{{ action: "remove_line", target: #{{ path: "{o}", line: 3, text: "bad four" }}, why: w }}),
            case::plan_add(#{{ action: "remove_line", target: #{{ path: "{o}", line: 2, text: "bad three" }}, why: w }})]"#,
        s = script.display(),
        o = other.display()
    );
    let (out, ids) = run(case.path(), &add, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids.as_array().unwrap().len(), 4, "{ids}");
    let (out, o) = run(
        case.path(),
        "case::apply(#{ only: [\"A1\", \"A2\"] })",
        &["--allow-destructive"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&o, "A1"), "done", "{o}");
    assert_eq!(status(&o, "A2"), "done", "{o}");
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\ntar czf /srv/b.tgz /srv/data\necho done\n"
    );
    // Across runs: A3 now, A4 in a later `hound apply`.
    let (_, o) = run(
        case.path(),
        "case::apply(#{ only: [\"A3\"] })",
        &["--allow-destructive"],
    );
    assert_eq!(status(&o, "A3"), "done", "{o}");
    let o = hound()
        .args(["apply", "--json", "--only", "A4"])
        .arg(case.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep\n");

    // Someone else's edit between two planned removals still skips.
    std::fs::write(&script, "#!/bin/sh\nbad five\nbad six\nkeep\n").unwrap();
    let add = format!(
        r#"let w = ["runs /tmp/.x/payload"];
           [case::plan_add(#{{ action: "remove_line", target: #{{ path: "{s}", line: 3, text: "bad six" }}, why: w }}),
            case::plan_add(#{{ action: "remove_line", target: #{{ path: "{s}", line: 2, text: "bad five" }}, why: w }})]"#,
        s = script.display()
    );
    run(case.path(), &add, &[]);
    let (_, o) = run(
        case.path(),
        "case::apply(#{ only: [\"A5\"] })",
        &["--allow-destructive"],
    );
    assert_eq!(status(&o, "A5"), "done", "{o}");
    std::fs::write(&script, "#!/bin/sh\nbad five\nkeep\nadmin edit\n").unwrap();
    let (_, o) = run(
        case.path(),
        "case::apply(#{ only: [\"A6\"] })",
        &["--allow-destructive"],
    );
    assert_eq!(status(&o, "A6"), "skipped", "{o}");
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\nbad five\nkeep\nadmin edit\n"
    );
}
