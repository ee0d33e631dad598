//! Each scenario comes up on its own network, is seen from its compromised
//! host only, never touches the real machine, and goes down without a trace.

use super::*;
use std::path::Path;

fn setup_and_teardown(scenario: &str) {
    let lab = Lab::up(scenario);
    let host = lab.host();
    let ns = lab.ns(&host);
    let b = before(&lab);
    assert_untouched(&lab, &b);
    assert_services(&lab);

    // The host's own PID namespace: pid 1 is the lab's init, and its /proc
    // holds only its processes; the analyst seat sees none of them.
    let inside = lab.exec(
        &host,
        &[
            "sh",
            "-c",
            "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done",
        ],
    );
    let inside = String::from_utf8_lossy(&inside.stdout).to_string();
    let init = lab.exec(&host, &["cat", "/proc/1/cmdline"]);
    assert!(String::from_utf8_lossy(&init.stdout).contains("lab\0init"));
    let seat = lab.exec(
        "analyst",
        &[
            "sh",
            "-c",
            "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done",
        ],
    );
    let seat = String::from_utf8_lossy(&seat.stdout).to_string();
    for p in lab.list("malicious", "processes") {
        assert!(
            inside.contains(pattern(&p)) || !matching(&ns, pattern(&p)).is_empty(),
            "{} visible on {host}",
            pattern(&p)
        );
        assert!(
            !seat.contains(pattern(&p)),
            "{} not visible from the analyst seat",
            pattern(&p)
        );
    }
    for p in lab.list("innocent", "processes") {
        assert!(!seat.contains(pattern(&p)) || pattern(&p) == "lab init");
    }

    // hound run there sees exactly the host's processes.
    std::fs::create_dir_all("/run/hound-test").unwrap();
    let dir = tempfile::Builder::new()
        .prefix("scenario-ps")
        .tempdir_in("/run/hound-test")
        .unwrap();
    let script = dir.path().join("ps.rhai");
    std::fs::write(&script, "proc::list().map(|p| p.cmdline)\n").unwrap();
    let out = lab.hound_on(&["run", script.to_str().unwrap(), "--json"]);
    let seen: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|v| {
            v.as_array()
                .map(|a| a.iter().map(s).collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        })
        .collect();
    for p in lab
        .list("malicious", "processes")
        .iter()
        .chain(&lab.list("innocent", "processes"))
    {
        assert!(
            seen.iter().any(|c| c.contains(pattern(p))),
            "{} in {seen:?}",
            pattern(p)
        );
    }
    for h in lab.s["hosts"].as_array().unwrap() {
        if h["name"] != host.as_str() && h["serve"].is_string() {
            let other = format!("lab serve --role {}", s(&h["serve"]));
            assert!(
                !seen.iter().any(|c| c.contains(&other)),
                "{other} seen on {host}"
            );
        }
    }

    // Planted files exist on the compromised host only: not on the analyst
    // seat, and never on the real machine.
    let mut planted: Vec<String> = lab
        .list("malicious", "files")
        .iter()
        .map(|f| s(f).to_string())
        .collect();
    planted.extend(
        lab.list("malicious", "persistence")
            .iter()
            .filter(|e| e["line"].is_null())
            .map(|e| s(&e["path"]).to_string()),
    );
    for f in &planted {
        assert!(lab.file(f).is_some(), "{f} on {host}");
        assert!(
            !lab.exec("analyst", &["test", "-e", f]).status.success(),
            "{f} is not on the analyst seat"
        );
        assert!(
            std::fs::symlink_metadata(f).is_err(),
            "{f} must not exist on the real machine"
        );
    }
    for e in lab
        .list("malicious", "approval")
        .iter()
        .chain(&lab.list("malicious", "persistence"))
    {
        if let Some(line) = e["line"].as_str() {
            let real = std::fs::read_to_string(s(&e["path"])).unwrap_or_default();
            assert!(
                !real.contains(line),
                "the real {} is untouched",
                s(&e["path"])
            );
        }
    }

    // Scenario-specific shapes the playbook must cope with.
    match scenario {
        "webshell" => {
            let log = String::from_utf8_lossy(&lab.file("/var/log/httpd/access_log").unwrap())
                .to_string();
            assert!(
                log.contains("198.51.100.50 - - [")
                    && log.contains("\"POST /uploads/.thumb.php HTTP/1.1\" 200"),
                "{log}"
            );
            let beacon = &roots(&ns, "dbus-notify.pl")[0];
            let ppid = parent(beacon.pid);
            let server = &roots(&ns, "lab serve --role www")[0];
            assert_eq!(ppid, server.pid, "the web server started the beacon");
            assert_eq!(comm(server.pid), "httpd");
        }
        "deleted-miner" => {
            let miner = &roots(&ns, "kdevtmpfsi")[0];
            let exe = std::fs::read_link(format!("/proc/{}/exe", miner.pid)).unwrap();
            assert!(exe.to_string_lossy().ends_with("(deleted)"), "{exe:?}");
            assert_eq!(owner(miner.pid), 1001, "runs as deploy");
            assert_eq!(
                parent(miner.pid),
                lab.init_pid(&host),
                "a daemon under init"
            );
        }
        "admin-parent" => {
            let beacon = &roots(&ns, "/tmp/.ICE-unix/ice-sync")[0];
            let lp = &roots(&ns, "/usr/local/sbin/backup-loop.sh")[0];
            assert_eq!(parent(beacon.pid), lp.pid, "the backup loop is the parent");
            wait_for_pushes(&lab, "10.20.30.50:873");
        }
        "systemd-shell" => {
            // As systemd starts it: a daemon under init, the address only
            // in base64; the innocent Python service keeps pushing.
            let shell = &roots(&ns, "base64.b64decode")[0];
            assert_eq!(parent(shell.pid), lab.init_pid(&host), "a daemon");
            assert!(!shell.text.contains(s(&lab.s["victim"])), "{}", shell.text);
            wait_for_pushes(&lab, "10.61.0.50:873");
        }
        "ssh-foothold" => {
            // Detached from a closed session: under init, still holding the
            // session's SSH_CONNECTION; the admin's session is sshd → bash.
            let beacon = &roots(&ns, "tracker3/tracker-sync")[0];
            assert_eq!(parent(beacon.pid), lab.init_pid(&host), "a daemon");
            assert_eq!(owner(beacon.pid), 1003, "runs as mara");
            let env = std::fs::read(format!("/proc/{}/environ", beacon.pid)).unwrap();
            assert!(String::from_utf8_lossy(&env).contains("SSH_CONNECTION=198.19.44.66 61040 "));
            let shell = &roots(&ns, "-bash --noprofile --norc")[0];
            assert_eq!(
                comm(parent(shell.pid)),
                "sshd",
                "the admin's shell under sshd"
            );
            wait_for_pushes(&lab, "10.62.0.50:873");
        }
        "trojaned-script" => {
            // Started by the trojaned backup script, detached: under init,
            // argv[0] a kernel thread's name; the WAL shipper keeps pushing.
            let beacon = &roots(&ns, "/var/tmp/.X11-unix-cache/xsessiond")[0];
            assert_eq!(parent(beacon.pid), lab.init_pid(&host), "a daemon");
            assert!(
                beacon.text.starts_with("[kworker/u8:1] "),
                "{}",
                beacon.text
            );
            assert!(
                !beacon.text.contains(s(&lab.s["victim"])),
                "{}",
                beacon.text
            );
            wait_for_pushes(&lab, "10.63.0.50:873");
        }
        "timer-udp" => {
            // A renamed copy of python3 running as the service account,
            // holding a UDP socket to the victim's port 53, beside the
            // innocent resolver check doing the same to the resolver.
            let implant = &roots(&ns, "reportd/report-indexer")[0];
            assert_eq!(owner(implant.pid), 1004, "runs as svc-report");
            assert_eq!(comm(implant.pid), "report-indexer");
            let exe = lab.file("/var/lib/svc-report/.local/lib/reportd/report-indexer");
            let python = std::fs::read(std::fs::canonicalize("/usr/bin/python3").unwrap());
            assert!(exe == python.ok(), "a byte-identical copy of python3");
            let ss = lab.exec(&host, &["ss", "-unpH"]);
            let ss = String::from_utf8_lossy(&ss.stdout).to_string();
            for (peer, who) in [
                ("198.18.90.53:53", "report-indexer"),
                ("10.64.0.53:53", "python3"),
            ] {
                assert!(
                    ss.lines().any(|l| l.contains(peer) && l.contains(who)),
                    "{who} holds a UDP socket to {peer}:\n{ss}"
                );
            }
        }
        _ => {}
    }

    // Status names the compromised host's malicious processes, numbered as
    // the host sees them, and nothing on the other hosts.
    let out = hound()
        .args(["lab", "status", "--name", &lab.name, "--json"])
        .output()
        .unwrap();
    let rows = json_lines(&out.stdout);
    for r in &rows {
        let suspects = r["suspect_pids"].as_array().cloned().unwrap_or_default();
        if r["host"] == host.as_str() {
            assert!(!suspects.is_empty(), "{r}");
            let seen: Vec<i64> = suspects.iter().filter_map(Value::as_i64).collect();
            for p in lab.list("malicious", "processes") {
                let root = &roots(&ns, pattern(&p))[0];
                let inner: i64 = status_field(root.pid, "NSpid:")
                    .split_whitespace()
                    .last()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                assert!(seen.contains(&inner), "{} in {r}", pattern(&p));
            }
        } else {
            assert!(suspects.is_empty(), "{r}");
        }
    }
    assert_eq!(
        rows.len(),
        lab.s["hosts"].as_array().unwrap().len() + 1,
        "hosts and router"
    );

    // Down leaves nothing: namespaces, mounts, processes, run folder.
    let name = lab.lab.down_leaves_nothing();
    assert!(
        !Path::new(&format!("/run/hound-lab/{name}")).exists(),
        "run folder left"
    );
    let needle = format!("/run/hound-lab/{name}/");
    let t = Instant::now();
    loop {
        let left: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&needle))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "processes left: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Until the NAS logs one more connection of the innocent flow.
fn wait_for_pushes(lab: &Lab, flow: &str) {
    let n = nas_pushes(lab, flow);
    let t = Instant::now();
    while nas_pushes(lab, flow) == n {
        assert!(t.elapsed() < Duration::from_secs(30), "the NAS gets pushes");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn scenarios_are_listed_with_their_data() {
    let out = hound().args(["lab", "scenarios"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "original",
        "webshell",
        "deleted-miner",
        "admin-parent",
        "systemd-shell",
        "ssh-foothold",
        "trojaned-script",
        "timer-udp",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(name) && l.len() > name.len() + 20),
            "{name} listed with a description:\n{text}"
        );
    }
    let out = hound()
        .args(["lab", "scenarios", "--json"])
        .output()
        .unwrap();
    let all = json_lines(&out.stdout);
    assert!(all.len() >= 6);
    let mut victims = BTreeSet::new();
    for s in &all {
        assert!(victims.insert(s["victim"].to_string()), "own victim: {s}");
        assert!(s["params"][0].as_str().unwrap().starts_with("victim="));
        assert!(!s["malicious"]["processes"].as_array().unwrap().is_empty());
        assert!(!s["innocent"]["processes"].as_array().unwrap().is_empty());
        assert!(s["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == s["compromised"]));
    }
    hound()
        .args(["lab", "up", "--name", "nolab", "--scenario", "mars"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "expected one of original, webshell",
        ));
}

#[test]
fn scenario_original_setup_and_teardown() {
    crate::require_root!();
    crate::require_cmd!("nc");
    setup_and_teardown("original");
}

#[test]
fn scenario_webshell_setup_and_teardown() {
    crate::require_root!();
    crate::require_cmd!("nc");
    crate::require_cmd!("perl");
    setup_and_teardown("webshell");
}

#[test]
fn scenario_deleted_miner_setup_and_teardown() {
    crate::require_root!();
    crate::require_cmd!("nc");
    setup_and_teardown("deleted-miner");
}

#[test]
fn scenario_admin_parent_setup_and_teardown() {
    crate::require_root!();
    crate::require_cmd!("nc");
    setup_and_teardown("admin-parent");
}

#[test]
fn scenario_systemd_shell_setup_and_teardown() {
    crate::require_root!();
    crate::require_cmd!("nc");
    crate::require_cmd!("python3");
    setup_and_teardown("systemd-shell");
}

#[test]
fn scenario_ssh_foothold_setup_and_teardown() {
    crate::require_root!();
    crate::require_cmd!("nc");
    setup_and_teardown("ssh-foothold");
}

#[test]
fn scenario_trojaned_script_setup_and_teardown() {
    crate::require_root!();
    crate::require_cmd!("nc");
    setup_and_teardown("trojaned-script");
}

#[test]
fn scenario_timer_udp_setup_and_teardown() {
    crate::require_root!();
    crate::require_cmd!("nc");
    crate::require_cmd!("python3");
    setup_and_teardown("timer-udp");
}
