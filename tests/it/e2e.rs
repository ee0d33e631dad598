//! The incident, replayed end to end in the built-in lab: discovery from the
//! analyst seat, then the incident-response playbook on the server, then
//! proof that the bot is gone and the services still serve.
//!
//! Everything happens inside the lab's namespaces (no link to the host's).

use crate::common::{json_lines, result_of, TestLab};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const VICTIM: &str = "10.0.0.196";
const SERVER: &str = "172.20.0.10";

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_incident_end_to_end() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("nc");
    let lab = TestLab::up("e", &[]);

    // 1. Discovery from the analyst seat finds exactly the incident's hosts and services.
    let out = lab.hound_on(
        "analyst",
        &[
            "run",
            "sweep",
            "--json",
            "-p",
            "networks=172.19.0.0/24,172.20.0.0/24",
            "-p",
            "ports=top:100",
        ],
    );
    let sweep = result_of(&json_lines(&out.stdout));
    let hosts: BTreeSet<String> = sweep["hosts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h["ip"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let expected: BTreeSet<String> = ["172.19.0.22", "172.19.0.254", "172.20.0.10", "172.20.0.254"]
        .into_iter()
        .map(String::from)
        .collect();
    let found: BTreeSet<String> = hosts.into_iter().filter(|h| h != "172.19.0.100").collect();
    assert_eq!(
        found,
        expected,
        "sweep: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let open: BTreeSet<String> = sweep["open"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| format!("{}:{}", r["ip"].as_str().unwrap_or(""), r["port"]))
                .collect()
        })
        .unwrap_or_default();
    for svc in [
        "172.20.0.10:22",
        "172.20.0.10:80",
        "172.20.0.10:3306",
        "172.19.0.22:3389",
    ] {
        assert!(open.contains(svc), "{svc} open in {open:?}");
    }

    // 2. The playbook on the server, with the victim as its only input.
    // Under /run: lab hosts have their own /tmp, and the test reads the case.
    std::fs::create_dir_all("/run/hound-test").unwrap();
    let case = tempfile::Builder::new()
        .prefix("e2e-case")
        .tempdir_in("/run/hound-test")
        .unwrap();
    let case_dir = case.path().to_str().unwrap();
    let services = format!("services={SERVER}:22,{SERVER}:80,{SERVER}:3306");
    let out = lab.hound_on(
        "server",
        &[
            "run",
            "incident-response",
            "--json",
            "--allow-destructive",
            "--case",
            case_dir,
            "-p",
            &format!("victim={VICTIM}"),
            "-p",
            "victim_port=80",
            "-p",
            &services,
            "-p",
            "watch_seconds=6",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings make exit 1; stderr:\n{stderr}"
    );
    let r = result_of(&json_lines(&out.stdout));
    assert_eq!(r["compromised"], Value::Bool(true), "{r}\n{stderr}");
    let evidence = strings(&r["evidence"]).join("\n");
    assert!(
        evidence.contains("nc"),
        "the bot's tool is named: {evidence}"
    );
    assert!(
        evidence.contains("/tmp/bot.sh"),
        "the loop behind it is named: {evidence}"
    );
    assert!(strings(&r["services_broken"]).is_empty(), "{r}");
    assert!(strings(&r["came_back"]).is_empty(), "{r}");

    // 3. The report names the bot, the victim, the evidence and the actions.
    let report = std::fs::read_to_string(r["report"].as_str().unwrap_or_default()).unwrap();
    for needle in [VICTIM, "bot.sh", "nc", "quarantine", "kill"] {
        assert!(
            report.to_lowercase().contains(&needle.to_lowercase()),
            "report lacks {needle}:\n{report}"
        );
    }

    // 4. The payload is gone from the server and kept in quarantine.
    assert!(
        !lab.exec("server", &["test", "-e", "/tmp/bot.sh"])
            .status
            .success(),
        "bot.sh removed"
    );
    let quarantined = std::fs::read_dir(case.path().join("quarantine"))
        .unwrap()
        .count();
    assert!(quarantined > 0, "payload kept in quarantine");

    // 5. Legitimate services still serve the client.
    for port in ["22", "80", "3306"] {
        let ok = lab.exec("client", &["nc", "-z", "-w", "3", SERVER, port]);
        assert!(ok.status.success(), "client reaches {SERVER}:{port}");
    }

    // 6. Nothing comes back for ten seconds.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let ss = lab.exec("server", &["ss", "-tnpH", "dst", VICTIM]);
        let text = String::from_utf8_lossy(&ss.stdout);
        assert!(
            !text.contains("\"nc\""),
            "an nc to the victim came back:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // 7. lab down leaves nothing behind.
    let name = lab.name.clone();
    drop(lab);
    let left = hound::host::netns::list_prefix(&format!("{name}-"));
    assert!(left.is_empty(), "namespaces left: {left:?}");
}
