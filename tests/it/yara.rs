//! fs::yara, proc::yara and the `yara` hunt: a marker in a fixture file, a
//! marker that exists only in a process's memory, bad rules, warnings, the
//! evidence kept in the case, and the --json fields docs/yara.md documents.

use crate::common::{hound, hound_path, in_case, is_root, json_lines, read_jsonl, script_output};
use crate::{require_cmd, require_root};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MARKER: &str = "HOUND-YARA-INMEM-7342";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yara")
}

fn lit(p: &Path) -> String {
    format!("{:?}", p.to_str().expect("test paths are UTF-8"))
}

/// stderr as text: `--json` writes warnings as JSON lines (`source`,
/// `message`); they become `warning: SOURCE: MESSAGE` lines again.
fn stderr_text(err: &[u8]) -> String {
    String::from_utf8_lossy(err)
        .lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v) if v["hound.type"] == "warning" => format!(
                "warning: {}: {}",
                v["source"].as_str().unwrap_or_default(),
                v["message"].as_str().unwrap_or_default()
            ),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn sha256(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// A python3 process that builds `MARKER` (with `join`, or with `sep`
/// for the benign twin) and sleeps; killed on drop.
struct Py(crate::common::Reaped);

impl Py {
    fn start(sep: &str) -> Py {
        let code = format!(
            "import sys, time\np = ['HOUND', 'YARA', 'INMEM', '7342']\nx = '{sep}'.join(p)\nprint('ready', flush=True)\ntime.sleep(300)\n"
        );
        let mut c = Command::new("python3")
            .args(["-c", &code])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(c.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Py(crate::common::Reaped(c))
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

#[test]
fn a_marker_in_a_fixture_file_is_found_with_its_fields() {
    let case = tempfile::tempdir().unwrap();
    let rules = fixtures().join("rules");
    let tree = fixtures().join("tree");
    let (out, v) = script_output(
        &format!(
            "fs::yara({}, {}, #{{ evidence: true }})",
            lit(&tree),
            lit(&rules)
        ),
        in_case(case.path()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v.len(), 1, "{v:?}");
    let m = &v[0];
    // The fields docs/yara.md documents for a file match.
    for k in [
        "target",
        "path",
        "pid",
        "start_time_ticks",
        "name",
        "exe",
        "region",
        "rule",
        "namespace",
        "tags",
        "meta",
        "strings",
        "sha256",
        "evidence",
    ] {
        assert!(m.get(k).is_some(), "field {k} missing: {m}");
    }
    let shell = tree.join("www/shell.php");
    assert_eq!(m["target"], "file");
    assert_eq!(m["path"], shell.to_str().unwrap());
    assert_eq!(m["rule"], "fixture_webshell");
    assert_eq!(m["namespace"], "webshell");
    assert_eq!(m["tags"], serde_json::json!(["webshell", "php"]));
    assert_eq!(m["meta"]["severity"], "critical");
    let hit = m["strings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["string"] == "$marker")
        .unwrap();
    assert_eq!(hit["offset"], 9);
    assert_eq!(hit["data"], "HOUND-YARA-FIXTURE-7b1e");
    for k in ["string", "offset", "length", "data"] {
        assert!(hit.get(k).is_some(), "{k}: {hit}");
    }
    // The file was copied into the case and its hash verifies.
    assert_eq!(m["sha256"], sha256(&shell));
    let ev = case
        .path()
        .join("evidence")
        .join(m["evidence"].as_str().unwrap());
    assert_eq!(sha256(&ev.join("shell.php")), sha256(&shell));
    hound()
        .args(["case", "verify"])
        .arg(case.path())
        .assert()
        .success();
}

#[test]
fn a_bad_rule_fails_with_its_position() {
    let case = tempfile::tempdir().unwrap();
    let out = hound()
        .args(["--case"])
        .arg(case.path())
        .args(["run", "yara", "-p"])
        .arg(format!("rules={}", fixtures().join("bad.yar").display()))
        .output()
        .unwrap();
    let err = stderr_text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.yar:5:12"), "{err}");
    assert!(err.contains("unknown variable $nope"), "{err}");
    // Rule text fails the same way, positioned in the text.
    let (out, _) = script_output(
        r#"fs::yara("/etc/passwd", "rule x {\n condition: nope }")"#,
        in_case(case.path()),
    );
    let err = stderr_text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("<rules>:2:13"), "{err}");
}

#[test]
fn unreadable_files_and_bounds_are_warnings() {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tree = d.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("big.bin"), vec![b'A'; 4096]).unwrap();
    std::fs::write(tree.join("locked.txt"), "HOUND-YARA-FIXTURE-7b1e").unwrap();
    std::fs::write(tree.join("open.txt"), "HOUND-YARA-FIXTURE-7b1e").unwrap();
    std::fs::set_permissions(
        tree.join("locked.txt"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let script = d.path().join("t.rhai");
    std::fs::write(
        &script,
        format!(
            "fs::yara({}, `rule m {{ strings: $a = \"HOUND-YARA-FIXTURE-7b1e\" condition: $a }}`, #{{ max_file_size: 1024, evidence: false }})",
            lit(&tree)
        ),
    )
    .unwrap();
    // Root reads through mode 000: run as nobody then.
    let mut cmd = if is_root() {
        if Command::new("setpriv").arg("--help").output().is_err() {
            eprintln!("SKIP unreadable file part: setpriv missing");
            return;
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(hound_path());
        c
    } else {
        Command::new(hound_path())
    };
    // A case folder the run's user may use: an unwritable one stops it at once.
    let case = d.path().join("case");
    std::fs::create_dir(&case).unwrap();
    if is_root() {
        nix::unistd::chown(&case, Some(65534.into()), Some(65534.into())).unwrap();
    }
    let out = cmd
        .args(["--json", "run"])
        .arg(&script)
        .env("HOUND_CASE", &case)
        .env("HOME", d.path())
        .output()
        .unwrap();
    let err = stderr_text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v = json_lines(&out.stdout);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0]["path"].as_str().unwrap().ends_with("open.txt"));
    assert!(
        err.contains("warning: fs::yara: cannot read") && err.contains("locked.txt"),
        "{err}"
    );
    assert!(
        err.contains("big.bin: skipped") && err.contains("max_file_size"),
        "{err}"
    );
}

#[test]
fn processes_that_are_gone_are_warnings() {
    // A zombie (exited, not yet reaped by us) and a pid that is gone
    // altogether: both exited before hound could read them.
    let mut zombie = Command::new("true").spawn().unwrap();
    let zpid = zombie.id();
    for _ in 0..200 {
        let st = std::fs::read_to_string(format!("/proc/{zpid}/stat")).unwrap_or_default();
        if st.contains(") Z ") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut gone = Command::new("true").spawn().unwrap();
    let gpid = gone.id();
    gone.wait().unwrap();
    let case = tempfile::tempdir().unwrap();
    let (out, v) = script_output(
        &format!(
            "proc::yara([{zpid}, {gpid}], {}, #{{ evidence: false }})",
            lit(&fixtures().join("rules/inmem.yara"))
        ),
        in_case(case.path()),
    );
    zombie.wait().unwrap();
    let err = stderr_text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(v.is_empty(), "{v:?}");
    assert!(
        err.contains(&format!("pid {zpid}: no such process")),
        "{err}"
    );
    assert!(
        err.contains(&format!("pid {gpid}: no such process")),
        "{err}"
    );
    // One pid asked for by itself is an error a script can catch.
    let (out, _) = script_output(
        &format!(
            "try {{ proc::yara({gpid}, {}) }} catch (e) {{ emit(e.kind) }}",
            lit(&fixtures().join("rules/inmem.yara"))
        ),
        in_case(case.path()),
    );
    assert_eq!(json_lines(&out.stdout), ["not_found"]);
}

#[test]
fn a_marker_only_in_memory_is_found_and_kept_as_evidence() {
    require_root!(); // /proc/PID/mem of a process hound did not start
    require_cmd!("python3");
    let bad = Py::start("-");
    let benign = Py::start("+");
    // The marker is nowhere but in the process's memory.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", bad.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(MARKER));
    let exe = std::fs::read(format!("/proc/{}/exe", bad.pid())).unwrap();
    assert!(!exe.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));

    let case = tempfile::tempdir().unwrap();
    let out = hound()
        .args(["--json", "--case"])
        .arg(case.path())
        .args(["run", "yara", "-p"])
        .arg(format!("rules={}", fixtures().join("rules").display()))
        .arg("-p")
        .arg(format!("processes={},{}", bad.pid(), benign.pid()))
        .output()
        .unwrap();
    let err = stderr_text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "findings make status 1: {err}");
    assert!(
        err.contains("big_file") && err.contains("filesize"),
        "{err}"
    );
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    // The hunt's row fields (docs/yara.md).
    for k in ["severity", "rule", "target", "where", "strings", "region"] {
        assert!(row.get(k).is_some(), "{k}: {row}");
    }
    assert_eq!(row["rule"], "inmem_marker");
    assert_eq!(row["severity"], "high");
    assert!(row["where"]
        .as_str()
        .unwrap()
        .starts_with(&format!("pid {} (python3", bad.pid())));

    // The finding carries the ATT&CK id from the rule's metadata.
    let entries = read_jsonl(&case.path().join("journal.jsonl"));
    let finding = entries
        .iter()
        .find(|e| e["primitive"] == "case::finding")
        .unwrap();
    assert_eq!(finding["args"]["mitre"], "T1620");
    assert_eq!(finding["args"]["severity"], "high");
    // The evidence: the process captured, the region kept, hashes verify.
    let rec = &entries
        .iter()
        .find(|e| e["primitive"] == "proc::yara")
        .unwrap()["result"];
    assert_eq!(rec["matched"], serde_json::json!(["inmem:inmem_marker"]));
    let stored = PathBuf::from(rec["stored"].as_str().unwrap());
    assert!(stored.starts_with(case.path()));
    assert_eq!(rec["exe_sha256"], sha256(&stored.join("exe")));
    assert!(stored.join("maps").exists());
    let region = &rec["regions"][0];
    let file = PathBuf::from(region["file"].as_str().unwrap());
    assert_eq!(region["sha256"], sha256(&file));
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));
    hound()
        .args(["case", "verify"])
        .arg(case.path())
        .assert()
        .success();

    // proc::yara's own fields for the match.
    let (out, v) = script_output(
        &format!(
            "proc::yara({}, {}, #{{ evidence: false }})",
            bad.pid(),
            lit(&fixtures().join("rules/inmem.yara"))
        ),
        in_case(case.path()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v.len(), 1, "{v:?}");
    let m = &v[0];
    assert_eq!(m["target"], "process");
    assert_eq!(m["pid"], bad.pid());
    assert!(m["start_time_ticks"].as_u64().is_some());
    assert_eq!(m["name"], "python3");
    assert!(m["exe"].as_str().unwrap().contains("python"));
    let r = &m["region"];
    let addr = m["strings"][0]["offset"].as_u64().unwrap();
    assert!(r["start"].as_u64().unwrap() <= addr && addr < r["end"].as_u64().unwrap());
    assert!(r["perms"].as_str().unwrap().starts_with("rw"), "{r}");
    assert_eq!(m["strings"][0]["data"], MARKER);
    for k in ["path", "meta", "tags", "namespace", "evidence"] {
        assert!(m.get(k).is_some(), "field {k} missing: {m}");
    }
}

#[test]
fn the_hunt_reports_file_matches_with_severity_and_attack_ids() {
    let case = tempfile::tempdir().unwrap();
    let out = hound()
        .args(["--json", "--case"])
        .arg(case.path())
        .args(["run", "yara", "-p"])
        .arg(format!("rules={}", fixtures().join("rules").display()))
        .arg("-p")
        .arg(format!(
            "paths={},/nonexistent-hound-yara",
            fixtures().join("tree").display()
        ))
        .args(["-p", "processes="])
        .output()
        .unwrap();
    let err = stderr_text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/nonexistent-hound-yara: nothing there, skipped"),
        "{err}"
    );
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["severity"], "critical");
    assert_eq!(rows[0]["target"], "file");
    let entries = read_jsonl(&case.path().join("journal.jsonl"));
    let f = entries
        .iter()
        .find(|e| e["primitive"] == "case::finding")
        .unwrap();
    assert_eq!(f["args"]["mitre"], "T1505.003");
    let shell = fixtures().join("tree/www/shell.php");
    assert_eq!(f["args"]["details"]["sha256"], sha256(&shell));
    let rec = &entries
        .iter()
        .find(|e| e["primitive"] == "fs::yara")
        .unwrap()["result"];
    assert_eq!(rec["sha256"], sha256(&shell));
}
