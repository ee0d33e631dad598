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

mod playbook;
mod setup;

use crate::common::{hound, json_lines, result_of, TestLab};
use hound::host::netns::Netns;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

/// A scenario's lab with a unique prefix, torn down on drop (also when the
/// test fails): a `TestLab` and the scenario's data.
struct Lab {
    lab: TestLab,
    s: Value,
}

impl std::ops::Deref for Lab {
    type Target = TestLab;
    fn deref(&self) -> &TestLab {
        &self.lab
    }
}

impl Lab {
    fn up(scenario: &str) -> Lab {
        let lab = TestLab::up("s", &["--scenario", scenario]);
        let json = std::fs::read(format!("/run/hound-lab/{}/scenario.json", lab.name)).unwrap();
        let lab = Lab {
            lab,
            s: serde_json::from_slice(&json).unwrap(),
        };
        assert_eq!(lab.s["name"], scenario);
        lab
    }

    fn host(&self) -> String {
        self.s["compromised"].as_str().unwrap().to_string()
    }

    /// hound on the compromised host (the lab's copy of this binary).
    fn hound_on(&self, args: &[&str]) -> Output {
        self.lab.hound_on(&self.host(), args)
    }

    /// hound on the compromised host run by a responder logged in over
    /// SSH from the analyst seat, as in real life: fw's guard and the
    /// playbook's session evidence read SSH_CONNECTION.
    fn responder(&self, args: &[&str]) -> Output {
        let addr = |name: &str| {
            self.s["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["name"] == name)
                .map(|h| s(&h["addr"]).split('/').next().unwrap_or("").to_string())
                .unwrap_or_default()
        };
        let (seat, host) = (addr("analyst"), addr(&self.host()));
        hound()
            .env("SSH_CONNECTION", format!("{seat} 52144 {host} 22"))
            .env("SSH_CLIENT", format!("{seat} 52144 22"))
            .args([
                "lab",
                "exec",
                "--name",
                &self.name,
                &self.host(),
                "--",
                "hound",
            ])
            .args(args)
            .output()
            .unwrap()
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
        while !matching(&ns, pattern(&p)).is_empty() && wait.elapsed() < Duration::from_secs(10) {
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
        // UDP too: a beacon may hold a connected datagram socket.
        let ss = lab.exec(&lab.host(), &["ss", "-tunpH"]);
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
