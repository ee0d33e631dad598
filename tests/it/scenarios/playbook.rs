//! The generic playbook on each scenario, with the scenario's declared
//! victim and services as its only parameters: directly, and as a dry-run
//! plan then `hound apply`, side by side on two labs.

use super::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A case folder the lab hosts and this test both see (/run is shared;
/// each host's /tmp is its own).
fn case_dir() -> tempfile::TempDir {
    std::fs::create_dir_all("/run/hound-test").unwrap();
    tempfile::Builder::new()
        .prefix("scenario-case")
        .tempdir_in("/run/hound-test")
        .unwrap()
}

fn playbook(lab: &Lab, case: &Path, extra: &[&str]) -> Output {
    let case = case.to_str().unwrap().to_string();
    let mut args: Vec<String> = vec![
        "run".into(),
        "incident-response".into(),
        "--json".into(),
        "--case".into(),
        case,
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    for p in lab.params() {
        args.push("-p".into());
        args.push(p);
    }
    args.extend(["-p".into(), "watch_seconds=4".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.responder(&refs)
}

fn plan_items(case: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(case.join("plan.json"))
        .unwrap_or_else(|e| panic!("{}/plan.json: {e}", case.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    match v {
        Value::Array(a) => a,
        other => other["items"].as_array().cloned().unwrap_or_default(),
    }
}

/// A field as text; an argv array joined with spaces, so a pattern like
/// `lab serve --role www` matches it.
fn item_text(item: &Value, key: &str) -> String {
    match &item[key] {
        Value::Null => String::new(),
        Value::String(t) => t.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(" "),
        v => v.to_string(),
    }
}

/// A plan item in words that do not depend on pids: the action and the
/// path it targets, or the declared pattern of the process it kills.
/// `None` for a process the scenario does not declare (a short-lived `nc`
/// one run catches and another does not).
fn normalized(lab: &Lab, item: &Value) -> Option<String> {
    let action = s(&item["action"]).to_string();
    if let Some(path) = item["target"]["path"].as_str() {
        let line = item_text(&item["target"], "text");
        return Some(format!("{action} {path} {line}"));
    }
    if let Some(user) = item["target"]["user"].as_str() {
        return Some(format!("{action} {user}"));
    }
    if let Some(t) = item["target"]["target"].as_str() {
        return Some(format!("{action} {t}"));
    }
    let id = format!(
        "{} {}",
        item_text(&item["identity"], "cmdline"),
        item_text(&item["identity"], "exe")
    );
    lab.list("malicious", "processes")
        .iter()
        .find(|p| id.contains(pattern(p)))
        .map(|p| format!("{action} <{}>", pattern(p)))
}

/// Applied items: done, or skipped because the target was already gone (a
/// process that exited, a unit's link removed with its unit).
fn assert_applied(lab: &Lab, item: &Value) {
    let gone = match item["target"]["path"].as_str() {
        Some(path) => lab.file(path).is_none(),
        None => item["action"] == "kill",
    };
    let ok = item["status"] == "done" || (item["status"] == "skipped" && gone);
    assert!(ok, "plan item not carried out: {item}");
}

/// Every malicious file went to the case's quarantine (evidence kept, not
/// deleted): a done quarantine item for it whose copy is in the case.
fn assert_evidence_kept(lab: &Lab, case: &Path, items: &[Value]) {
    for f in lab.list("malicious", "files") {
        let item = items
            .iter()
            .find(|i| i["action"] == "quarantine" && i["target"]["path"] == f)
            .unwrap_or_else(|| panic!("no quarantine item for {f}"));
        assert_eq!(item["status"], "done", "{item}");
        let id = s(&item["outcome"]["result"]["id"]);
        assert!(
            !id.is_empty() && case.join("quarantine").join(id).is_file(),
            "{f} kept in {}/quarantine: {item}",
            case.display()
        );
    }
}

/// No plan item targets an innocent file, an innocent process or pid 1.
fn assert_plan_spares_the_innocent(lab: &Lab, b: &Before, items: &[Value]) {
    assert!(!items.is_empty(), "the plan has items");
    let files: Vec<String> = lab
        .list("innocent", "files")
        .iter()
        .map(|f| s(f).to_string())
        .collect();
    for item in items {
        if let Some(path) = item["target"]["path"].as_str() {
            assert!(
                !files.iter().any(|f| f == path),
                "innocent {path} in the plan: {item}"
            );
        }
        if let Some(pid) = item["target"]["pid"].as_i64() {
            assert_ne!(pid, 1, "pid 1 in the plan: {item}");
            let identity = format!(
                "{} {}",
                item_text(&item["identity"], "cmdline"),
                item_text(&item["identity"], "exe")
            );
            for (what, _) in &b.procs {
                let pat = lab
                    .list("innocent", "processes")
                    .into_iter()
                    .find(|p| s(&p["what"]) == what)
                    .map(|p| pattern(&p).to_string())
                    .unwrap_or_default();
                assert!(
                    !identity.contains(&pat),
                    "innocent {what} in the plan: {item}"
                );
            }
        }
        let why = &item["why"];
        assert!(
            why.as_array().is_some_and(|a| !a.is_empty()),
            "an item without evidence: {item}"
        );
    }
}

/// The items that need approval are exactly the scenario's approval entries
/// (by path), and none of them was carried out.
fn assert_approvals_waiting(lab: &Lab, items: &[Value]) {
    for e in lab.list("malicious", "approval") {
        let path = s(&e["path"]);
        let user = s(&e["line"]).split(':').next().unwrap_or("");
        let found = items.iter().find(|i| {
            i["target"]["path"].as_str() == Some(path) || i["target"]["user"].as_str() == Some(user)
        });
        let item = found.unwrap_or_else(|| panic!("no plan item for {}", s(&e["what"])));
        assert_eq!(item["approval"], "required", "{item}");
        assert_ne!(item["status"], "done", "{item}");
    }
}

fn report_of(out: &Output, case: &Path) -> String {
    let r = result_of(&json_lines(&out.stdout));
    let path = r["report"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_else(|| case.join("report.md"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("report {}: {e}", path.display()))
}

/// The report names the victim, every malicious file and persistence entry,
/// and does not claim anything came back.
fn assert_report(lab: &Lab, report: &str, out: &Output) {
    assert!(
        report.contains(s(&lab.s["victim"])),
        "report names the victim:\n{report}"
    );
    for f in lab.list("malicious", "files") {
        assert!(report.contains(s(&f)), "report names {}:\n{report}", s(&f));
    }
    for e in lab.list("malicious", "persistence") {
        assert!(
            report.contains(s(&e["path"])),
            "report names {}:\n{report}",
            s(&e["path"])
        );
    }
    // The innocent periodic job (backups to the NAS) is not flagged.
    for f in lab.list("innocent", "flows") {
        let addr = s(&f).rsplit_once(':').map(|(a, _)| a).unwrap_or(s(&f));
        assert!(!report.contains(addr), "the report flags {addr}:\n{report}");
    }
    let r = result_of(&json_lines(&out.stdout));
    assert_eq!(r["compromised"], Value::Bool(true), "{r}");
    assert!(
        r["came_back"].as_array().is_none_or(|a| a.is_empty()),
        "the run says something came back: {r}"
    );
}

/// The approval items, applied once approved: a key line goes and every
/// other line of its file stays; an account can no longer log in.
fn approve_and_check(lab: &Lab, case: &Path, b: &Before) {
    let items = plan_items(case);
    let ids: Vec<String> = items
        .iter()
        .filter(|i| i["approval"] == "required")
        .filter_map(|i| i["id"].as_str().map(String::from))
        .collect();
    if ids.is_empty() {
        return;
    }
    let list = ids.join(",");
    let out = lab.responder(&[
        "apply",
        case.to_str().unwrap(),
        "--allow-destructive",
        "--only",
        &list,
        "--approve",
        &list,
    ]);
    assert!(
        out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for e in lab.list("malicious", "approval") {
        let path = s(&e["path"]);
        let line = s(&e["line"]);
        let now = String::from_utf8_lossy(&lab.file(path).unwrap_or_default()).to_string();
        if path.ends_with("authorized_keys") {
            assert!(!now.contains(line), "approved key line removed:\n{now}");
            let before = b.files[path].clone().unwrap_or_default();
            assert_eq!(
                now.as_bytes(),
                without(&before, line),
                "only the approved key line went from {path}"
            );
        } else {
            let user = line.split(':').next().unwrap();
            let shadow =
                String::from_utf8_lossy(&lab.file("/etc/shadow").unwrap_or_default()).to_string();
            let locked = !now.contains(line)
                || shadow.lines().any(|l| {
                    l.starts_with(&format!("{user}:!")) || l.starts_with(&format!("{user}:*"))
                })
                || now.lines().any(|l| {
                    l.starts_with(&format!("{user}:"))
                        && (l.ends_with("nologin") || l.ends_with("/false"))
                });
            assert!(locked, "approved account {user} is locked");
        }
    }
}

/// One scenario, twice: a direct run on one lab, and a dry run then
/// `hound apply` of its plan on another, side by side.
fn playbook_scenario(scenario: &str) {
    let direct = std::thread::scope(|t| {
        let a = t.spawn(|| run_direct(scenario));
        let b = t.spawn(|| run_plan_then_apply(scenario));
        let a = a.join();
        let b = b.join();
        match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
        }
    });
    let (direct, applied) = direct;
    assert_eq!(
        direct, applied,
        "hound apply of the dry-run plan did what the direct run did"
    );
}

fn run_direct(scenario: &str) -> BTreeSet<String> {
    let lab = Lab::up(scenario);
    let b = before(&lab);
    let case = case_dir();
    let out = playbook(&lab, case.path(), &["--allow-destructive"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings make exit 1; stderr:\n{stderr}"
    );
    assert_clean(&lab, &b);
    // A large payload (a copied interpreter) is searched, not cut short.
    for f in lab.list("malicious", "files") {
        let cut = format!("{}: truncated", s(&f));
        assert!(!stderr.contains(&cut), "{cut}:\n{stderr}");
    }
    let items = plan_items(case.path());
    assert_plan_spares_the_innocent(&lab, &b, &items);
    assert_approvals_waiting(&lab, &items);
    for i in items.iter().filter(|i| i["approval"] != "required") {
        assert_applied(&lab, i);
    }
    assert_evidence_kept(&lab, case.path(), &items);
    assert_report(&lab, &report_of(&out, case.path()), &out);
    let done = items
        .iter()
        .filter(|i| i["approval"] != "required")
        .filter_map(|i| normalized(&lab, i))
        .collect();
    approve_and_check(&lab, case.path(), &b);
    done
}

fn run_plan_then_apply(scenario: &str) -> BTreeSet<String> {
    let lab = Lab::up(scenario);
    let b = before(&lab);
    let case = case_dir();
    let nft = |lab: &Lab| lab.exec(&lab.host(), &["nft", "list", "ruleset"]).stdout;
    let rules = nft(&lab);
    let out = playbook(&lab, case.path(), &["--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.code() != Some(2), "dry run: {stderr}");
    assert!(
        !stderr.contains("Stopped"),
        "a dry run never says Stopped:\n{stderr}"
    );
    // The dry run changed nothing, and left a plan.
    let before_pids: Vec<Vec<i32>> = lab
        .list("malicious", "processes")
        .iter()
        .map(|p| {
            matching(&lab.ns(&lab.host()), pattern(p))
                .iter()
                .map(|x| x.pid)
                .collect()
        })
        .collect();
    assert_untouched(&lab, &b);
    assert_eq!(nft(&lab), rules, "a dry run adds no firewall rule");
    let items = plan_items(case.path());
    assert_plan_spares_the_innocent(&lab, &b, &items);
    for i in &items {
        assert_ne!(i["status"], "done", "a dry run did {i}");
    }
    assert!(before_pids.iter().all(|p| !p.is_empty()));

    let out = lab.responder(&[
        "apply",
        case.path().to_str().unwrap(),
        "--allow-destructive",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.code() != Some(2), "apply: {stderr}");
    assert_clean(&lab, &b);
    let items = plan_items(case.path());
    assert_approvals_waiting(&lab, &items);
    assert_evidence_kept(&lab, case.path(), &items);
    items
        .iter()
        .filter(|i| i["approval"] != "required")
        .inspect(|i| assert_applied(&lab, i))
        .filter_map(|i| normalized(&lab, i))
        .collect()
}

#[test]
fn playbook_original() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("nc");
    playbook_scenario("original");
}

#[test]
fn playbook_webshell() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("perl");
    playbook_scenario("webshell");
}

#[test]
fn playbook_deleted_miner() {
    crate::require_root!();
    crate::require_cmd!("nft");
    playbook_scenario("deleted-miner");
}

#[test]
fn playbook_admin_parent() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("nc");
    playbook_scenario("admin-parent");
}

#[test]
fn playbook_systemd_shell() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("python3");
    playbook_scenario("systemd-shell");
}

#[test]
fn playbook_ssh_foothold() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("nc");
    playbook_scenario("ssh-foothold");
}

#[test]
fn playbook_trojaned_script() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("nc");
    playbook_scenario("trojaned-script");
}

#[test]
fn playbook_timer_udp() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("python3");
    playbook_scenario("timer-udp");
}
