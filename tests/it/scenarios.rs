//! The lab's incident scenarios (issue 12 §5): each one is planted on its
//! own network, seen only from its compromised host, and removed without a
//! trace; then the generic playbook, given only the scenario's declared
//! victim and services, must remove everything malicious, leave everything
//! innocent exactly as it was, and do the same through a dry-run plan and
//! `hound apply`.
//!
//! Everything happens inside the lab's namespaces (no link to the host's).
//! What is malicious and what is innocent comes from the scenario's own
//! data (`/run/hound-lab/NAME/scenario.json`), never from this file.

use crate::common::hound;
use hound::host::netns::{list_prefix, unique_tag, Netns};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// A scenario's lab with a unique prefix, torn down on drop (also when the
/// test fails).
struct Lab {
    name: String,
    s: Value,
}

impl Lab {
    fn up(scenario: &str) -> Lab {
        let name = format!("s{}", unique_tag());
        let out = hound()
            .args(["lab", "up", "--name", &name, "--scenario", scenario])
            .output()
            .unwrap();
        // Drop tears down whatever `up` left, even when it failed.
        let mut lab = Lab {
            name,
            s: Value::Null,
        };
        assert!(
            out.status.success(),
            "lab up --scenario {scenario}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = std::fs::read(format!("/run/hound-lab/{}/scenario.json", lab.name)).unwrap();
        lab.s = serde_json::from_slice(&json).unwrap();
        assert_eq!(lab.s["name"], scenario);
        lab
    }

    fn host(&self) -> String {
        self.s["compromised"].as_str().unwrap().to_string()
    }

    fn exec(&self, host: &str, argv: &[&str]) -> Output {
        hound()
            .args(["lab", "exec", "--name", &self.name, host, "--"])
            .args(argv)
            .output()
            .unwrap()
    }

    /// hound on the compromised host (the lab's copy of this binary).
    fn hound_on(&self, args: &[&str]) -> Output {
        let mut argv = vec!["hound"];
        argv.extend_from_slice(args);
        self.exec(&self.host(), &argv)
    }

    /// The pid (as this machine sees it) of a host's init: its /proc/PID/root
    /// is the host's own file system view.
    fn init_pid(&self, host: &str) -> i32 {
        procs(&self.ns(host))
            .into_iter()
            .find(|p| status_field(p.pid, "NSpid:").split_whitespace().last() == Some("1"))
            .map(|p| p.pid)
            .unwrap_or_else(|| panic!("no init on {host}"))
    }

    fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.name)
    }

    /// A file as the compromised host sees it: bytes, or a symlink's target
    /// (never followed: it would resolve against this machine's root).
    fn file(&self, path: &str) -> Option<Vec<u8>> {
        let p = PathBuf::from(format!("/proc/{}/root{path}", self.init_pid(&self.host())));
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if meta.file_type().is_symlink() {
            let t = std::fs::read_link(&p).ok()?;
            Some(format!("-> {}", t.display()).into_bytes())
        } else {
            std::fs::read(&p).ok()
        }
    }

    fn list(&self, key: &str, field: &str) -> Vec<Value> {
        let v = self.s[key][field].as_array().cloned().unwrap_or_default();
        v
    }

    fn params(&self) -> Vec<String> {
        self.s["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = hound().args(["lab", "down", "--name", &self.name]).output();
    }
}

#[derive(Debug, Clone)]
struct P {
    pid: i32,
    start: String,
    /// Command line and executable, for matching patterns.
    text: String,
}

/// Live (non-zombie) processes of a lab host, as this machine sees them.
fn procs(ns: &str) -> Vec<P> {
    Netns::existing(ns, true)
        .pids()
        .into_iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.first() == Some(&"Z") {
                return None;
            }
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            Some(P {
                pid,
                start: fields.get(19)?.to_string(),
                text: format!(
                    "{} {}",
                    String::from_utf8_lossy(&cmd).replace('\0', " "),
                    exe.display()
                ),
            })
        })
        .collect()
}

fn matching(ns: &str, pattern: &str) -> Vec<P> {
    procs(ns)
        .into_iter()
        .filter(|p| p.text.contains(pattern))
        .collect()
}

/// The matching processes whose parent does not match: a shell's fork
/// (about to run a pipeline or a background job) carries its parent's
/// command line for a moment, and is not the process the scenario means.
fn roots(ns: &str, pattern: &str) -> Vec<P> {
    let all = matching(ns, pattern);
    all.iter()
        .filter(|p| !all.iter().any(|q| q.pid == parent(p.pid)))
        .cloned()
        .collect()
}

fn pattern(v: &Value) -> &str {
    v["pattern"].as_str().unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// What must not change, taken right after `lab up`.
struct Before {
    /// Innocent processes: what, pid, start time.
    procs: Vec<(String, P)>,
    /// Innocent files, files with a malicious line, and approval files.
    files: BTreeMap<String, Option<Vec<u8>>>,
}

fn before(lab: &Lab) -> Before {
    let ns = lab.ns(&lab.host());
    let mut procs = Vec::new();
    for p in lab.list("innocent", "processes") {
        let found = roots(&ns, pattern(&p));
        assert!(!found.is_empty(), "innocent {} runs", pattern(&p));
        procs.extend(found.into_iter().map(|x| (s(&p["what"]).to_string(), x)));
    }
    let mut files = BTreeMap::new();
    let mut paths: Vec<String> = lab
        .list("innocent", "files")
        .iter()
        .map(|f| s(f).to_string())
        .collect();
    for e in lab
        .list("malicious", "persistence")
        .into_iter()
        .chain(lab.list("malicious", "approval"))
    {
        if e["line"].is_string() {
            paths.push(s(&e["path"]).to_string());
        }
    }
    for p in paths {
        let content = lab.file(&p);
        assert!(content.is_some(), "{p} exists before the response");
        files.insert(p, content);
    }
    Before { procs, files }
}

/// `content` without the lines equal to `line`.
fn without(content: &[u8], line: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(content);
    text.split_inclusive('\n')
        .filter(|l| l.trim_end_matches('\n') != line)
        .collect::<String>()
        .into_bytes()
}

fn nas_pushes(lab: &Lab, flow: &str) -> usize {
    // The flow's far end logs each connection (the nas role).
    let host = lab.s["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| s(&h["addr"]).split('/').next() == flow.split(':').next())
        .map(|h| s(&h["name"]).to_string())
        .unwrap();
    let out = lab.exec(&host, &["cat", "/var/log/rsyncd.log"]);
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Everything malicious is still there and everything innocent unchanged
/// (after `lab up`, and after a dry run).
fn assert_untouched(lab: &Lab, b: &Before) {
    let ns = lab.ns(&lab.host());
    for p in lab.list("malicious", "processes") {
        assert!(
            !matching(&ns, pattern(&p)).is_empty(),
            "{} runs",
            pattern(&p)
        );
    }
    for f in lab.list("malicious", "files") {
        assert!(lab.file(s(&f)).is_some(), "{} exists", s(&f));
    }
    for e in lab.list("malicious", "persistence") {
        assert!(
            lab.file(s(&e["path"])).is_some(),
            "{} exists",
            s(&e["path"])
        );
    }
    assert_innocent(lab, b, &[]);
}

/// Innocent processes alive (same pid and start), innocent files
/// byte-identical; `removed` lines are allowed to be gone from their files.
fn assert_innocent(lab: &Lab, b: &Before, removed: &[(String, String)]) {
    let ns = lab.ns(&lab.host());
    let now = procs(&ns);
    for (what, p) in &b.procs {
        assert!(
            now.iter().any(|q| q.pid == p.pid && q.start == p.start),
            "innocent process killed: {what} (pid {}: {}); /proc/{}/stat now: {:?}; host processes: {now:?}",
            p.pid,
            p.text,
            p.pid,
            std::fs::read_to_string(format!("/proc/{}/stat", p.pid)).ok()
        );
    }
    for (path, content) in &b.files {
        let mut expected = content.clone().unwrap_or_default();
        for (file, line) in removed {
            if file == path {
                expected = without(&expected, line);
            }
        }
        let got = lab.file(path).unwrap_or_default();
        assert!(
            got == expected,
            "{path} changed:\n--- expected\n{}\n--- got\n{}",
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(&got)
        );
    }
}

/// The scenario's services answer from the analyst seat.
fn assert_services(lab: &Lab) {
    for svc in lab.s["services"].as_array().unwrap() {
        let (addr, port) = s(svc).rsplit_once(':').unwrap();
        let out = lab.exec("analyst", &["nc", "-z", "-w", "3", addr, port]);
        assert!(out.status.success(), "service {} answers", s(svc));
    }
}

/// Malicious processes, files and persistence gone; approval items still
/// there (nobody approved them); innocent things unchanged; services up;
/// and for several beacon periods nothing comes back while the innocent
/// flows go on.
fn assert_clean(lab: &Lab, b: &Before) {
    let ns = lab.ns(&lab.host());
    let mut removed = Vec::new();
    let wait = Instant::now();
    for p in lab.list("malicious", "processes") {
        while !matching(&ns, pattern(&p)).is_empty() && wait.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for e in lab.list("malicious", "persistence") {
        let path = s(&e["path"]);
        match e["line"].as_str() {
            Some(line) => removed.push((path.to_string(), line.to_string())),
            None => assert!(lab.file(path).is_none(), "persistence {path} removed"),
        }
    }
    for e in lab.list("malicious", "approval") {
        let text =
            String::from_utf8_lossy(&lab.file(s(&e["path"])).unwrap_or_default()).to_string();
        assert!(
            text.contains(s(&e["line"])),
            "{} was changed without approval",
            s(&e["what"])
        );
    }
    assert_innocent(lab, b, &removed);
    assert_services(lab);

    let flows: Vec<(String, usize)> = lab
        .list("innocent", "flows")
        .iter()
        .map(|f| (s(f).to_string(), nas_pushes(lab, s(f))))
        .collect();
    let victim = format!(
        "{}:{}",
        s(&lab.s["victim"]),
        lab.s["victim_port"].as_u64().unwrap()
    );
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        for p in lab.list("malicious", "processes") {
            let back = matching(&ns, pattern(&p));
            assert!(back.is_empty(), "{} came back: {back:?}", s(&p["what"]));
        }
        for f in lab.list("malicious", "files") {
            assert!(lab.file(s(&f)).is_none(), "{} is gone", s(&f));
        }
        let ss = lab.exec(&lab.host(), &["ss", "-tnpH"]);
        let owned: Vec<String> = String::from_utf8_lossy(&ss.stdout)
            .lines()
            .filter(|l| l.contains(&victim) && l.contains("users:("))
            .map(String::from)
            .collect();
        assert!(owned.is_empty(), "a process talks to {victim}: {owned:?}");
        std::thread::sleep(Duration::from_millis(1000));
    }
    for (flow, n) in flows {
        assert!(
            nas_pushes(lab, &flow) > n,
            "the innocent periodic job to {flow} stopped"
        );
    }
    assert_innocent(lab, b, &removed);
}

// ---------------------------------------------------------------- setup

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
            let n = nas_pushes(&lab, "10.20.30.50:873");
            let t = Instant::now();
            while nas_pushes(&lab, "10.20.30.50:873") == n {
                assert!(t.elapsed() < Duration::from_secs(10), "the NAS gets pushes");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        _ => {}
    }

    // Down leaves nothing: namespaces, mounts, processes, run folder.
    let name = lab.name.clone();
    drop(lab);
    assert!(
        list_prefix(&format!("{name}-")).is_empty(),
        "namespaces left"
    );
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !mounts.contains(&format!("/run/hound-lab/{name}/")),
        "mounts left"
    );
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
            t.elapsed() < Duration::from_secs(5),
            "processes left: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_field(pid: i32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

fn parent(pid: i32) -> i32 {
    status_field(pid, "PPid:").parse().unwrap_or(0)
}

fn owner(pid: i32) -> u32 {
    status_field(pid, "Uid:")
        .split_whitespace()
        .next()
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn scenarios_are_listed_with_their_data() {
    let out = hound().args(["lab", "scenarios"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["original", "webshell", "deleted-miner", "admin-parent"] {
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
    let all: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(all.len() >= 4);
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

// ------------------------------------------------------------- playbook

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
    lab.hound_on(&refs)
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
    let r = result_of(out);
    let path = r["report"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_else(|| case.join("report.md"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("report {}: {e}", path.display()))
}

fn result_of(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("null");
    serde_json::from_str(last).unwrap_or(Value::Null)
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
    let r = result_of(out);
    assert_eq!(r["compromised"], Value::Bool(true), "{r}");
    assert!(
        r["came_back"].as_array().is_none_or(|a| a.is_empty()),
        "the run says something came back: {r}"
    );
}

/// The webshell's account and key, applied once approved: the key line
/// goes, the admin's key stays, the account can no longer log in.
fn approve_and_check(lab: &Lab, case: &Path) {
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
    let out = lab.hound_on(&[
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
            assert!(
                now.contains("admin@corp-laptop"),
                "the admin's key stays:\n{now}"
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
    let items = plan_items(case.path());
    assert_plan_spares_the_innocent(&lab, &b, &items);
    assert_approvals_waiting(&lab, &items);
    for i in items.iter().filter(|i| i["approval"] != "required") {
        assert_applied(&lab, i);
    }
    assert_report(&lab, &report_of(&out, case.path()), &out);
    let done = items
        .iter()
        .filter(|i| i["approval"] != "required")
        .filter_map(|i| normalized(&lab, i))
        .collect();
    approve_and_check(&lab, case.path());
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

    let out = lab.hound_on(&[
        "apply",
        case.path().to_str().unwrap(),
        "--allow-destructive",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.code() != Some(2), "apply: {stderr}");
    assert_clean(&lab, &b);
    let items = plan_items(case.path());
    assert_approvals_waiting(&lab, &items);
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
#[ignore = "needs evidence-driven playbook (issue 12): a web shell called by a plain POST is not tied yet"]
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
