//! proc:: and net:: against their oracles: `ss -tunap` on sockets opened in
//! a namespace the test creates, and procfs for a process the test starts.

use crate::common::{
    hound, hound_in, json_lines, ok_result, result_of, run_json, run_json_in, script, spawn_in,
    Reaped,
};
use hound::host::netns::Netns;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn spawn(ns: &Netns, cmd: &str) -> Reaped {
    spawn_in(ns, &["sh", "-c", cmd])
}

/// (proto, state, local port, remote port, owner pid) rows from `ss -tunapH`.
fn ss_rows(ns: &Netns) -> BTreeSet<(String, String, u16, u16, Option<i32>)> {
    let out = ns.exec(&["ss", "-tunapH"]).unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            let port = |s: &str| {
                s.rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or(0)
            };
            let pid = l
                .split("pid=")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|p| p.parse().ok());
            Some((
                c.first()?.to_string(),
                c.get(1)?.to_string(),
                port(c.get(4)?),
                port(c.get(5)?),
                pid,
            ))
        })
        .collect()
}

#[test]
fn sockets_agree_with_ss() {
    crate::require_root!();
    crate::require_cmd!("nc");
    let ns = Netns::create_unique("hpn").unwrap();
    let _kids = [
        spawn(&ns, "exec nc -lk 127.0.0.1 7001"),
        spawn(&ns, "exec nc -6 -lk ::1 7002"),
        spawn(&ns, "exec nc -u -l 127.0.0.1 7003"),
        spawn(&ns, "exec nc -lk 127.0.0.1 7004"),
        spawn(&ns, "sleep 0.3; exec sleep 60 | nc 127.0.0.1 7004"),
    ];
    let start = Instant::now();
    while ss_rows(&ns).iter().filter(|r| r.1 == "ESTAB").count() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "fixture sockets did not open"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_d, p) = script(
        "s.rhai",
        "#{ v: net::sockets(),\n\
           bare: net::sockets(#{ fields: [\"proto\", \"state\", \"local_port\", \"remote_port\"] }),\n\
           owned: net::sockets(#{ fields: \"pid\" }) }\n",
    );
    let v = ok_result(run_json_in(&ns, ["run", p.to_str().unwrap()]));
    // `fields` keeps the rows and only the named keys; owners only when asked.
    let bare = v["bare"].as_array().unwrap();
    assert_eq!(bare.len(), v["v"].as_array().unwrap().len());
    for (row, full) in bare.iter().zip(v["v"].as_array().unwrap()) {
        let row = row.as_object().unwrap();
        assert_eq!(row.len(), 4, "{row:?}");
        for (k, val) in row {
            assert_eq!(&full[k], val, "{k}");
        }
    }
    let owned = v["owned"].as_array().unwrap();
    assert!(owned.iter().all(|r| r.as_object().unwrap().len() == 1));
    assert_eq!(
        owned.iter().filter(|r| r["pid"].is_i64()).count(),
        v["v"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["pid"].is_i64())
            .count(),
        "owners are looked up when a field needs them"
    );
    let ours: BTreeSet<(String, String, u16, u16, Option<i32>)> = v["v"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["proto"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
                s["local_port"].as_u64().unwrap() as u16,
                s["remote_port"].as_u64().unwrap() as u16,
                s["pid"].as_i64().map(|p| p as i32),
            )
        })
        .collect();
    let theirs = ss_rows(&ns);
    assert_eq!(ours, theirs, "hound vs ss -tunap");
    for want in [
        ("tcp", "LISTEN", 7001),
        ("tcp", "LISTEN", 7002),
        ("udp", "UNCONN", 7003),
        ("tcp", "ESTAB", 7004),
    ] {
        assert!(
            ours.iter()
                .any(|r| r.0 == want.0 && r.1 == want.1 && (r.2 == want.2 || r.3 == want.2)),
            "{want:?}"
        );
    }
}

#[test]
fn process_facts_agree_with_procfs_including_a_deleted_binary() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("sleepy");
    std::fs::copy("/bin/sleep", &copy).unwrap();
    let mut child = Reaped(crate::common::spawn_fresh_copy(
        std::process::Command::new(&copy).arg("30"),
    ));
    std::thread::sleep(Duration::from_millis(100));
    std::fs::remove_file(&copy).unwrap();
    let pid = child.id();
    let (_d, p) = script(
        "p.rhai",
        &format!("let p = proc::get({pid});\n#{{ p: p, chain: proc::ancestors({pid}).map(|a| a.pid), kids: proc::children(p.ppid).map(|c| c.pid) }}\n"),
    );
    let run = run_json(["run", p.to_str().unwrap()]);
    let _ = child.kill();
    let _ = child.wait();
    let v = ok_result(run);
    let pr = procfs::process::Process::new(pid as i32).ok();
    let p = &v["p"];
    assert_eq!(p["pid"], pid);
    assert_eq!(p["name"], "sleepy");
    assert_eq!(
        p["cmdline"],
        serde_json::json!([copy.to_str().unwrap(), "30"])
    );
    assert_eq!(p["exe_deleted"], true, "{p}");
    assert_eq!(p["exe"], copy.to_str().unwrap());
    assert_eq!(p["ppid"], std::process::id(), "started by the test");
    if let Some(pr) = pr {
        if let Ok(uid) = pr.uid() {
            assert_eq!(p["uid"], uid);
        }
    }
    let chain = v["chain"].as_array().unwrap();
    assert_eq!(
        chain.last().and_then(Value::as_i64),
        Some(1),
        "ancestors reach pid 1: {chain:?}"
    );
    assert!(
        v["kids"].as_array().unwrap().iter().any(|k| k == pid),
        "the test's children include it"
    );
}

#[test]
fn watch_attributes_stuck_attempts_to_the_process_and_its_loop() {
    crate::require_root!();
    crate::require_cmd!("nc");
    crate::require_cmd!("nft");
    let ns = Netns::create_unique("hpw").unwrap();
    ns.exec_ok(&["ip", "addr", "add", "10.9.9.1/24", "dev", "lo"])
        .unwrap();
    // The destination drops everything: attempts hang in SYN-SENT, as after containment.
    for cmd in [
        "add table inet t",
        "add chain inet t o { type filter hook output priority 0 ; }",
        "add rule inet t o ip daddr 10.9.9.9 drop",
    ] {
        let mut argv = vec!["nft"];
        argv.extend(cmd.split(' '));
        ns.exec_ok(&argv).unwrap();
    }
    let _k = spawn(
        &ns,
        "exec bash -c 'while true; do nc -z -w 1 10.9.9.9 80; sleep 0.2; done'",
    );
    let (_d, p) = script(
        "w.rhai",
        "net::watch(#{ remote: \"10.9.9.9\", remote_port: 80 }, 3)\n",
    );
    let v = ok_result(run_json_in(&ns, ["run", p.to_str().unwrap()]));
    let n = v["summary"]["attempts"].as_u64().unwrap();
    assert!(n >= 2, "repeated attempts are counted: {v}");
    assert_eq!(v["summary"]["established"], 0);
    let a = &v["attempts"][0];
    assert_eq!(a["process"], "nc", "{a}");
    assert!(a["states"]
        .as_array()
        .unwrap()
        .contains(&Value::from("SYN-SENT")));
    let chain = a["chain"].as_str().unwrap();
    assert!(
        chain.contains("bash -c while true") && chain.contains("nc -z"),
        "{chain}"
    );
}

#[test]
fn filters_reject_bad_input_by_name() {
    let (_d, p) = script(
        "f.rhai",
        "let m = [];\ntry { net::sockets(#{ remot: \"1.2.3.4\" }); } catch (e) { m.push(e.message); }\ntry { net::sockets(#{ remote: \"10.0.0.0/33\" }); } catch (e) { m.push(e.message); }\ntry { net::watch(#{}, -1); } catch (e) { m.push(e.message); }\ntry { net::sockets(#{ fields: [\"pid\", \"cmd\"] }); } catch (e) { m.push(e.message); }\ntry { net::watch(#{ fields: \"pid\" }, 0); } catch (e) { m.push(e.message); }\ntry { proc::get(0); } catch (e) { m.push(e.message); }\ntry { proc::get(999999999); } catch (e) { m.push(e.kind); }\nm\n",
    );
    let out = hound().args(["run", p.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "net::sockets: unknown option \"remot\"",
        "\"10.0.0.0/33\" is not a valid CIDR",
        "net::watch: seconds",
        "net::sockets: option \"fields\": \"cmd\" is not a socket field",
        "net::watch: unknown option \"fields\"",
        "proc::get: pid: 0 is not a process id",
        "not_found",
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }
}

/// Holds TCP (v4, v6, listening and connected), UDP and unix sockets
/// (stream listener and pair, dgram) in one process; prints `ready`.
const SOCKET_FIXTURE: &str = r#"
import os, socket, sys
held = []
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.bind((addr, 0)); srv.listen(64); held.append(srv)
    for _ in range(40):
        c = socket.create_connection(srv.getsockname()[:2]); a, _ = srv.accept(); held += [c, a]
    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((addr, 0)); held.append(u)
    u2 = socket.socket(fam, socket.SOCK_DGRAM); u2.connect(u.getsockname()[:2]); held.append(u2)
d = sys.argv[1]
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ls.bind(d + "/l.sock"); ls.listen(8); held.append(ls)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(d + "/l.sock"); a, _ = ls.accept(); held += [c, a]
ab = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); ab.bind("\0hound-abstract-" + os.path.basename(d)); held.append(ab)
held += list(socket.socketpair())
print("ready", flush=True)
sys.stdin.read()
"#;

type Row = (String, String, String, String, Option<i32>);

/// `(netid, state, local, remote, first pid)` rows of `ss -tunapH` or
/// `ss -xapH`; unix rows keep `path inode` as the local side.
fn ss_full(ns: &Netns, flags: &str) -> Vec<Row> {
    let out = ns.exec(&["ss", flags]).unwrap();
    let mut v: Vec<Row> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            let pid = l
                .split("pid=")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|p| p.parse().ok());
            let (local, remote) = if c.first()?.starts_with("u_") {
                (
                    format!("{} {}", c.get(4)?, c.get(5)?),
                    c.get(6)?.to_string(),
                )
            } else {
                (c.get(4)?.to_string(), c.get(5)?.to_string())
            };
            Some((c[0].to_string(), c.get(1)?.to_string(), local, remote, pid))
        })
        .collect();
    v.sort();
    v
}

/// The same rows from hound's records, printed the way ss prints them.
fn ours_full(v: &Value) -> Vec<Row> {
    let mut rows: Vec<Row> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let proto = s["proto"].as_str().unwrap();
            let ep = |ip: &str, port: u64| {
                let ip = match ip {
                    "0.0.0.0" => "0.0.0.0".to_string(),
                    "::" => "*".to_string(),
                    a if a.contains(':') => format!("[{a}]"),
                    a => a.to_string(),
                };
                let port = if port == 0 {
                    "*".to_string()
                } else {
                    port.to_string()
                };
                format!("{ip}:{port}")
            };
            let (netid, local, remote) = if proto == "unix" {
                let t = match s["sock_type"].as_str().unwrap() {
                    "stream" => "u_str",
                    "dgram" => "u_dgr",
                    _ => "u_seq",
                };
                (
                    t.to_string(),
                    format!("{} {}", s["local_ip"].as_str().unwrap(), s["inode"]),
                    s["remote_ip"].as_str().unwrap().to_string(),
                )
            } else {
                (
                    proto.to_string(),
                    ep(
                        s["local_ip"].as_str().unwrap(),
                        s["local_port"].as_u64().unwrap(),
                    ),
                    ep(
                        s["remote_ip"].as_str().unwrap(),
                        s["remote_port"].as_u64().unwrap(),
                    ),
                )
            };
            (
                netid,
                s["state"].as_str().unwrap().to_string(),
                local,
                remote,
                s["pid"].as_i64().map(|p| p as i32),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Compares endpoints the way both sides mean them: ss prints a v6 socket's
/// unspecified peer as `*` and v4's as `0.0.0.0:*`, v4-mapped as v4.
fn norm(rows: Vec<Row>) -> Vec<Row> {
    let fix = |e: String| {
        e.replace("[::ffff:", "[")
            .replace("[::]:", "*:")
            .replace("0.0.0.0:", "*:")
            .replace("[::1]", "::1")
            .replace(['[', ']'], "")
    };
    let mut v: Vec<Row> = rows
        .into_iter()
        .map(|(a, b, c, d, e)| (a, b, fix(c), fix(d), e))
        .collect();
    v.sort();
    v
}

#[test]
fn sockets_by_netlink_and_by_proc_net_agree_with_ss_including_unix() {
    crate::require_root!();
    crate::require_cmd!("python3");
    let ns = Netns::create_unique("hps").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = ns
        .command("python3")
        .args(["-c", SOCKET_FIXTURE, dir.path().to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _kids = Reaped(child);
    assert_eq!(line.trim(), "ready");
    let (_d, p) = script(
        "s.rhai",
        "#{ inet: net::sockets(), unix: net::sockets(#{ proto: \"unix\" }) }\n",
    );
    let tcp_udp = norm(ss_full(&ns, "-tunapH"));
    let unix = ss_full(&ns, "-xapH");
    assert_eq!(tcp_udp.len(), 166, "fixture: {tcp_udp:?}");
    assert!(unix.len() >= 6, "fixture: {unix:?}");
    for diag in ["1", "0"] {
        let out = hound_in(&ns)
            .env("HOUND_SOCK_DIAG", diag)
            .args(["--json", "run", p.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        // The fallback says so; netlink is silent.
        assert_eq!(err.contains("/proc/net instead"), diag == "0", "{err}");
        let v = result_of(&json_lines(&out.stdout));
        assert_eq!(
            norm(ours_full(&v["inet"])),
            tcp_udp,
            "HOUND_SOCK_DIAG={diag}"
        );
        let ours = ours_full(&v["unix"]);
        if diag == "1" {
            assert_eq!(ours, unix, "unix sockets vs ss -xap");
        } else {
            // /proc/net/unix has no peers: compare the rest.
            let strip = |v: &[Row]| -> Vec<(String, String, String, Option<i32>)> {
                let mut x: Vec<_> = v
                    .iter()
                    .map(|r| (r.0.clone(), r.1.clone(), r.2.clone(), r.4))
                    .collect();
                x.sort();
                x
            };
            assert_eq!(
                strip(&ours),
                strip(&unix),
                "unix sockets from /proc/net/unix"
            );
        }
    }
}
