//! The JSON envelope and `hound fleet merge` on results made here (the real
//! 20-host run over Ansible is `scripts/fleet-test`, run by `scripts/test`).

use crate::common::{hound, read_jsonl, script};
use crate::require_cmd;
use serde_json::Value;
use std::path::Path;

const HUNT: &str = r#"//! name = "fleet-probe"
//! version = "1.0.0"
//! description = "test"
emit(#{ host: "10.0.0.5", port: 22 });
warn("one item could not be read");
case::finding("high", "payload in /tmp/.x/upd", #{ evidence: "203.0.113.9" });
emit(#{ hunt: "fleet-probe", severity: "high", title: "payload in /tmp/.x/upd", evidence: "203.0.113.9" });
42
"#;

#[test]
fn json_out_lines_carry_the_envelope() {
    let (dir, s) = script("probe.rhai", HUNT);
    let out = dir.path().join("out.jsonl");
    hound()
        .args(["--case"])
        .arg(dir.path().join("case"))
        .arg("--json-out")
        .arg(&out)
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stdout("");
    let ls = read_jsonl(&out);
    let types: Vec<&str> = ls
        .iter()
        .map(|l| l["hound.type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["row", "warning", "finding", "result"], "{ls:#?}");
    for (i, l) in ls.iter().enumerate() {
        for k in [
            "@timestamp",
            "host.name",
            "agent.version",
            "event.kind",
            "hound.run_id",
        ] {
            assert!(l.get(k).is_some(), "{k} missing in {l}");
        }
        assert_eq!(l["agent.type"], "hound");
        assert_eq!(l["event.dataset"], "hound.fleet-probe");
        assert_eq!(l["hound.seq"], i as u64);
        assert_eq!(l["hound.run_id"], ls[0]["hound.run_id"]);
    }
    // The script's own `host` field is untouched by the envelope's host.name.
    assert_eq!(ls[0]["host"], "10.0.0.5");
    assert_eq!(ls[2]["event.kind"], "alert");
    assert_eq!(ls[0]["event.kind"], "state");
    assert_eq!(ls[3]["value"], 42);
}

#[test]
fn ecs_format_maps_fields() {
    let (_d, s) = script(
        "p.rhai",
        r#"emit(#{ pid: 7, ppid: 1, exe: "/usr/bin/nc", name: "nc", cmdline: ["nc", "-z", "h", "80"], remote_ip: "192.0.2.1", remote_port: 80, local_ip: "10.0.0.2", local_port: 5000, proto: "tcp" }); ()"#,
    );
    let out = hound()
        .args(["--json", "--json-format", "ecs", "run"])
        .arg(&s)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["process"]["pid"], 7);
    assert_eq!(v["process"]["parent"]["pid"], 1);
    assert_eq!(v["destination"]["port"], 80);
    assert_eq!(
        v["host"]["name"].as_str().unwrap(),
        hound::runtime::case::hostname()
    );
    assert_eq!(v["hound"]["data"]["name"], "nc");
}

/// Makes `results/<host>/hound.tar.gz` the way the playbook does.
fn host_result(results: &Path, host: &str, hunt: &Path, findings: bool) {
    let work = tempfile::tempdir().unwrap();
    let body = if findings {
        HUNT.to_string()
    } else {
        "emit(#{ ok: true }); ()".into()
    };
    let s = work.path().join("h.rhai");
    std::fs::write(&s, body.replace("{HUNT}", &hunt.display().to_string())).unwrap();
    hound()
        .arg("--case")
        .arg(work.path().join("case"))
        .arg("--json-out")
        .arg(work.path().join("out.jsonl"))
        .arg("run")
        .arg(&s)
        .assert()
        .code(if findings { 1 } else { 0 });
    std::fs::remove_file(&s).unwrap();
    let dest = results.join(host);
    std::fs::create_dir_all(&dest).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-czf")
        .arg(dest.join("hound.tar.gz"))
        .arg("-C")
        .arg(work.path())
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn merge_joins_hosts_verifies_journals_and_reports_unreachable() {
    require_cmd!("tar");
    let d = tempfile::tempdir().unwrap();
    let results = d.path().join("results");
    host_result(&results, "web-01", Path::new("x"), true);
    host_result(&results, "db-01", Path::new("x"), false);
    std::fs::write(
        results.join("ansible.log"),
        "x | web-01 : ok=9 changed=4 unreachable=0 failed=0\n\
         x | db-01 : ok=9 changed=4 unreachable=0 failed=0\n\
         x | app-01 : ok=0 changed=0 unreachable=1 failed=0\n\
         x | localhost : ok=1 changed=0 unreachable=0 failed=0\n",
    )
    .unwrap();
    let out = d.path().join("merged");
    hound()
        .args(["--quiet", "fleet", "merge"])
        .arg(&results)
        .arg("-o")
        .arg(&out)
        .args(["--indicator", "203.0.113.9"])
        .assert()
        .code(1);
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let hosts = s["hosts"].as_array().unwrap();
    let by = |n: &str| hosts.iter().find(|h| h["inventory"] == n).unwrap().clone();
    assert_eq!(hosts.len(), 3, "{s:#}");
    assert_eq!(by("web-01")["findings"]["high"], 1);
    assert_eq!(by("web-01")["indicators"][0], "203.0.113.9");
    assert_eq!(by("db-01")["findings"], serde_json::json!({}));
    assert_eq!(by("app-01")["status"], "unreachable");
    assert!(by("web-01")["journal"].as_str().unwrap().starts_with("ok"));
    assert_eq!(by("web-01")["journal_ok"], true);
    let merged = read_jsonl(&out.join("fleet.jsonl"));
    assert!(merged.iter().any(|l| l["fleet.inventory_host"] == "web-01"));
    assert!(merged.iter().any(|l| l["fleet.inventory_host"] == "db-01"));
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("Unreachable hosts** (1): app-01"), "{md}");
    // The case folder is kept as it came: its chain verifies on its own.
    hound()
        .args(["case", "verify"])
        .arg(out.join("hosts/web-01/case"))
        .assert()
        .success();
    // A second merge into the same folder is refused rather than mixed.
    hound()
        .args(["fleet", "merge"])
        .arg(&results)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2);
}

#[test]
fn merge_flags_a_tampered_journal() {
    require_cmd!("tar");
    let d = tempfile::tempdir().unwrap();
    let results = d.path().join("results");
    host_result(&results, "h1", Path::new("x"), true);
    // Re-pack with one journal byte changed, as a compromised host could.
    let tmp = d.path().join("x");
    std::fs::create_dir_all(&tmp).unwrap();
    let a = results.join("h1/hound.tar.gz");
    assert!(std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&a)
        .arg("-C")
        .arg(&tmp)
        .status()
        .unwrap()
        .success());
    let j = tmp.join("case/journal.jsonl");
    let t = std::fs::read_to_string(&j)
        .unwrap()
        .replace("payload", "pAyload");
    std::fs::write(&j, t).unwrap();
    assert!(std::process::Command::new("tar")
        .arg("-czf")
        .arg(&a)
        .arg("-C")
        .arg(&tmp)
        .arg(".")
        .status()
        .unwrap()
        .success());
    let out = d.path().join("m");
    hound()
        .args(["--quiet", "fleet", "merge"])
        .arg(&results)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["hosts"][0]["journal_ok"], false, "{s:#}");
}

#[test]
fn merge_of_a_missing_folder_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    hound()
        .args(["fleet", "merge"])
        .arg(d.path().join("nope"))
        .arg("-o")
        .arg(d.path().join("o"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no such results folder"));
}
