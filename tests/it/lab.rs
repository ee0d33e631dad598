//! `hound lab`: the incident's network, built and torn down in namespaces.

use crate::common::{hound, TestLab};
use std::time::{Duration, Instant};

#[test]
fn the_lab_replays_the_incident_network() {
    crate::require_root!();
    crate::require_cmd!("nc");
    let lab = TestLab::up("l", &[]);

    // Services, reached from the analyst seat through the router.
    for (ip, port) in [
        ("172.20.0.10", "22"),
        ("172.20.0.10", "80"),
        ("172.20.0.10", "3306"),
        ("172.19.0.22", "3389"),
    ] {
        assert!(
            lab.exec("analyst", &["nc", "-z", "-w", "3", ip, port])
                .status
                .success(),
            "{ip}:{port}"
        );
    }
    let banner = lab.ok(
        "analyst",
        &["sh", "-c", "nc -w 2 172.20.0.10 22 </dev/null | head -1"],
    );
    assert!(
        banner.starts_with("SSH-2.0-OpenSSH_9.2p1 Debian"),
        "{banner}"
    );

    // Each host has its own /tmp: the bot is on the server only, as found.
    let ls = lab.ok("server", &["stat", "-c", "%s %a %U", "/tmp/bot.sh"]);
    assert_eq!(ls.trim(), "64 755 root");
    let bot = lab.ok("server", &["cat", "/tmp/bot.sh"]);
    assert!(bot.contains("while true; do nc -zv 10.0.0.196 80; sleep 2; done"));
    assert!(!lab
        .exec("client", &["test", "-e", "/tmp/bot.sh"])
        .status
        .success());

    // The bot reaches the victim: a new nc every two seconds.
    let start = Instant::now();
    loop {
        let ss = lab.ok("server", &["ss", "-tanH", "dst", "10.0.0.196"]);
        if ss.contains("10.0.0.196:80") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "no bot traffic to the victim"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The web server logs ordinary requests, old and new.
    lab.ok(
        "analyst",
        &[
            "sh",
            "-c",
            "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 172.20.0.10 80 >/dev/null",
        ],
    );
    let log = lab.ok("server", &["cat", "/var/log/apache2/access.log"]);
    assert!(log.contains("10.0.0.203 - - ["), "seeded: {log}");
    assert!(log.contains("172.19.0.100 - - ["), "appended: {log}");

    // The client's MAC is the incident's (a Proxmox VM).
    let neigh = lab.ok("analyst", &["ip", "neigh", "show", "172.19.0.22"]);
    assert!(neigh.contains("bc:24:11:fb:f0:03"), "{neigh}");

    // The lost host has nothing but loopback.
    let links = lab.ok("isolated", &["ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");

    // Status, then down leaves nothing behind.
    let status = hound()
        .args(["lab", "status", "--name", &lab.name, "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("\"host\":\"server\"") && text.contains("\"listening\":[22,80,3306]"),
        "{text}"
    );
    let name = lab.down_leaves_nothing();
    let procs = std::process::Command::new("pgrep")
        .args(["-f", "/tmp/bot.sh"])
        .output()
        .unwrap();
    assert!(
        procs.stdout.is_empty()
            || !String::from_utf8_lossy(&procs.stdout).lines().any(|p| {
                std::fs::read_link(format!("/proc/{p}/ns/net"))
                    .is_ok_and(|l| l.to_string_lossy().contains(&name))
            })
    );
}

#[test]
fn lab_errors_are_clear() {
    hound()
        .args(["lab", "exec", "--name", "nolab", "server", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does not exist"));
    hound()
        .args(["lab", "up", "--name", "bad name"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--name"));
    hound()
        .args(["lab", "exec", "--name", "x", "mars", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("the lab has analyst, client"));
}

/// `lab exec` enters a host's PID namespace through `hound lab enter`,
/// whose waiting parent must leave Ctrl-C to the command: a SIGINT to the
/// whole process group (what the terminal sends) reaches the command, which
/// decides; the parent relays its exit status.
#[test]
fn lab_enter_leaves_ctrl_c_to_the_command() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    crate::require_root!();
    let lab = TestLab::up("l", &[]);
    let ns = hound::host::netns::Netns::existing(&format!("{}-server", lab.name), true);
    let nspid = |p: i32| {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("NSpid:")
                    .map(|v| v.split_whitespace().last().unwrap_or("").to_string())
            })
            .unwrap_or_default()
    };
    let init = ns.pids().into_iter().find(|p| nspid(*p) == "1").unwrap();
    let mut child = std::process::Command::new(crate::common::hound_path())
        .args([
            "lab",
            "enter",
            "--pid",
            &format!("/proc/{init}/ns/pid"),
            "--",
        ])
        .args([
            "sh",
            "-c",
            "trap 'echo got-int; exit 5' INT; echo ready $$; while :; do sleep 0.1; done",
        ])
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // The command is a process of the host: numbered from its own pid 1.
    let inner: i32 = line.trim().strip_prefix("ready ").unwrap().parse().unwrap();
    assert!(inner > 1 && inner != child.id() as i32, "{line}");
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("got-int"), "{rest}");
    assert_eq!(
        status.code(),
        Some(5),
        "the command's status, not a death by SIGINT"
    );
}
