//! log::auth and log::journal: the same events written as an auth.log and as
//! a journal file (built by systemd-journal-remote from export-format text)
//! give identical records; the hunt's log checks on fixture roots.

use crate::common::{run_json_own_case, script_json_own_case};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";
const T0: i64 = 1_796_032_800; // 2026-11-30T10:00:00Z

/// (seconds after T0, program, pid, message)
fn events() -> Vec<(i64, &'static str, i64, String)> {
    let mut v = vec![
        (
            0,
            "sshd",
            100,
            "Failed password for bob from 10.0.0.5 port 50000 ssh2".to_string(),
        ),
        (
            5,
            "sshd",
            100,
            "Accepted password for bob from 10.0.0.5 port 50000 ssh2".into(),
        ),
        (
            6,
            "sshd",
            100,
            "pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)".into(),
        ),
    ];
    for i in 0..12 {
        let m = match i % 3 {
            0 => format!(
                "Failed password for root from 203.0.113.9 port {} ssh2",
                40000 + i
            ),
            1 => format!(
                "Failed password for invalid user admin from 203.0.113.9 port {} ssh2",
                40000 + i
            ),
            _ => format!("Invalid user oracle from 203.0.113.9 port {}", 40000 + i),
        };
        v.push((60 + i, "sshd", 200 + i, m));
    }
    for i in 0..5 {
        v.push((
            80 + i,
            "sshd",
            250 + i,
            format!(
                "Failed password for root from 198.51.100.7 port {} ssh2",
                41000 + i
            ),
        ));
    }
    v.extend([
        (120, "sshd", 300, "Accepted password for root from 203.0.113.9 port 7000 ssh2".to_string()),
        (121, "sshd", 301, "Accepted publickey for root from 198.51.100.7 port 7001 ssh2: ED25519 SHA256:abc".into()),
        (130, "sudo", 310, "    root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/id".into()),
        (140, "useradd", 400, "new group: name=eve, GID=1001".into()),
        (141, "useradd", 400, "new user: name=eve, UID=1001, GID=1001, home=/home/eve, shell=/bin/bash, from=/dev/pts/0".into()),
        (142, "useradd", 401, "new user: name=_svc, UID=994, GID=994, home=/nonexistent, shell=/usr/sbin/nologin, from=none".into()),
        (143, "usermod", 402, "add 'eve' to group 'sudo'".into()),
        (144, "passwd", 403, "pam_unix(passwd:chauthtok): password changed for eve".into()),
        (150, "su", 404, "(to root) eve on pts/1".into()),
        (150 + 10 * 3600, "CRON", 500, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)".into()),
    ]);
    v
}

fn auth_log() -> String {
    events()
        .iter()
        .map(|(dt, prog, pid, msg)| {
            let t = chrono::DateTime::from_timestamp(T0 + dt, 0).unwrap();
            format!(
                "{} web1 {prog}[{pid}]: {msg}\n",
                t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            )
        })
        .collect()
}

fn export_text() -> String {
    let mut s = String::new();
    for (i, (dt, prog, pid, msg)) in events().iter().enumerate() {
        s += &format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n\
             _HOSTNAME=web1\nSYSLOG_IDENTIFIER={prog}\n_PID={pid}\nMESSAGE={msg}\n\n",
            (T0 + dt) * 1_000_000,
            (i as i64 + 1) * 1000
        );
    }
    s
}

/// A journal file of the fixture events, or `None` (with the reason
/// printed) when systemd-journal-remote is not installed.
fn build_journal(dir: &Path) -> Option<PathBuf> {
    build_journal_as(dir, true)
}

/// `compact`: the 32-bit offsets systemd 252+ writes by default; else the
/// older 64-bit layout.
fn build_journal_as(dir: &Path, compact: bool) -> Option<PathBuf> {
    if !Path::new(JOURNAL_REMOTE).exists() {
        eprintln!("SKIP: {JOURNAL_REMOTE} missing (scripts/test installs systemd-journal-remote)");
        return None;
    }
    let src = dir.join("export.txt");
    std::fs::write(&src, export_text()).unwrap();
    let out = dir.join(if compact {
        "system.journal"
    } else {
        "system@regular.journal"
    });
    let st = std::process::Command::new(JOURNAL_REMOTE)
        .env("SYSTEMD_JOURNAL_COMPACT", if compact { "1" } else { "0" })
        .arg("--split-mode=none")
        .arg(format!("--output={}", out.display()))
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    Some(out)
}

fn strip_place(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("file");
        m.remove("line");
    }
    v
}

#[test]
fn auth_log_and_journal_give_identical_records() {
    let d = tempfile::tempdir().unwrap();
    let Some(j) = build_journal(d.path()) else {
        return;
    };
    let regular = build_journal_as(d.path(), false).unwrap();
    let a = d.path().join("auth.log");
    std::fs::write(&a, auth_log()).unwrap();
    let body = format!(
        "emit(#{{ auth: log::auth(#{{ paths: [\"{}\"] }}), journal: log::journal(#{{ paths: [\"{}\"] }}), \
         regular: log::journal(#{{ paths: [\"{}\"] }}) }});",
        a.display(),
        j.display(),
        regular.display()
    );
    let (status, lines) = script_json_own_case(&body);
    assert_eq!(status.code(), Some(0), "{lines:?}");
    let row = lines
        .iter()
        .find(|l| l.get("auth").is_some())
        .expect("a row");
    let auth: Vec<Value> = row["auth"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(strip_place)
        .collect();
    let journal: Vec<Value> = row["journal"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(strip_place)
        .collect();
    assert_eq!(auth, journal);
    let regular: Vec<Value> = row["regular"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(strip_place)
        .collect();
    assert_eq!(journal, regular, "compact and regular journal files");
    let kinds: Vec<&str> = auth.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(count("ssh_fail"), 1 + 4 + 5);
    assert_eq!(count("ssh_invalid_user"), 8);
    assert_eq!(count("ssh_accept"), 3);
    for k in ["sudo", "su", "usermod", "passwd_change", "groupadd"] {
        assert_eq!(count(k), 1, "{k}: {kinds:?}");
    }
    assert_eq!(count("useradd"), 2);
    assert_eq!(count("gap"), 1, "the 10 h silence");
    let acc = auth.iter().find(|r| r["kind"] == "ssh_accept").unwrap();
    assert_eq!(acc["user"], "bob");
    assert_eq!(acc["source_ip"], "10.0.0.5");
    assert_eq!(acc["method"], "password");
    assert_eq!(acc["pid"], 100);
    assert_eq!(acc["host"], "web1");
    assert_eq!(acc["time"], "2026-11-30T10:00:05Z");
    let sudo = auth.iter().find(|r| r["kind"] == "sudo").unwrap();
    assert_eq!(sudo["method"], "/usr/bin/id");
}

fn findings(lines: &[Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|l| l.get("severity").is_some() && l.get("title").is_some())
        .map(|l| {
            (
                l["severity"].as_str().unwrap_or("").to_string(),
                l["title"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn hunt_findings(root: &Path) -> Vec<(String, String)> {
    hunt_findings_with(root, &[])
}

fn hunt_findings_with(root: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let root = format!("root={}", root.display());
    let (_, lines) = run_json_own_case(["run", "rootkit", "-p", root.as_str()].iter().chain(extra));
    findings(&lines)
}

#[test]
fn hunt_flags_brute_force_then_login_accounts_and_gaps() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("var/log")).unwrap();
    std::fs::write(d.path().join("var/log/auth.log"), auth_log()).unwrap();
    let f = hunt_findings(d.path());
    let has = |sev: &str, t: &str| f.iter().any(|(s, x)| s == sev && x == t);
    assert!(
        has("high", "Login after brute force from 203.0.113.9"),
        "{f:?}"
    );
    // bob's one typo, and 5 failures before a key login, are not brute force.
    assert!(
        !f.iter()
            .any(|(_, t)| t.contains("10.0.0.5") || t.contains("198.51.100.7")),
        "{f:?}"
    );
    assert!(has("medium", "Login account created"), "eve: {f:?}");
    assert!(has("high", "Account added to an admin group"), "{f:?}");
    assert!(has("low", "Log gap"), "{f:?}");
    assert!(
        !f.iter().any(|(_, t)| t.starts_with("Log cleared")),
        "{f:?}"
    );
    let made = f
        .iter()
        .filter(|(_, t)| t.starts_with("Login account created"))
        .count();
    assert_eq!(made, 1, "the nologin system user is not a finding: {f:?}");
    // With a lower threshold, 5 failures then a key login is brute force too.
    let f = hunt_findings_with(d.path(), &["-p", "brute_min=5"]);
    assert!(
        f.iter()
            .any(|(s, t)| s == "high" && t == "Login after brute force from 198.51.100.7"),
        "{f:?}"
    );
}

#[test]
fn quiet_auth_log_gives_no_log_findings() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("var/log")).unwrap();
    let normal: String = auth_log()
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.path().join("var/log/auth.log"), normal).unwrap();
    let f = hunt_findings(d.path());
    assert!(f.iter().all(|(s, _)| s == "info"), "{f:?}");
}

/// Sets the sequence number of every entry after the `from`-th one `by`
/// higher: what deleting entries (or a whole rotated file) leaves behind.
fn bump_seqnums(path: &Path, from: usize, by: u64) {
    let mut b = std::fs::read(path).unwrap();
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let header = u64_at(&b, 88) as usize;
    let end = header + u64_at(&b, 96) as usize;
    let (mut off, mut n) = (header, 0);
    while off + 16 <= end.min(b.len()) {
        let size = u64_at(&b, off + 8) as usize;
        if size < 16 {
            break;
        }
        if b[off] == 3 {
            if n >= from {
                let s = u64_at(&b, off + 16) + by;
                b[off + 16..off + 24].copy_from_slice(&s.to_le_bytes());
            }
            n += 1;
        }
        off += (size + 7) & !7;
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn journal_with_deleted_entries_is_a_cleared_log() {
    let d = tempfile::tempdir().unwrap();
    let jdir = d
        .path()
        .join("var/log/journal/0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&jdir).unwrap();
    let Some(j) = build_journal(&jdir) else {
        return;
    };
    bump_seqnums(&j, 5, 40);
    let (_, lines) = script_json_own_case(&format!(
        "for r in log::journal(#{{ root: \"{}\" }}) {{ if r.kind == \"gap\" {{ emit(r); }} }}",
        d.path().display()
    ));
    let gaps: Vec<&Value> = lines.iter().filter(|l| l.get("kind").is_some()).collect();
    assert!(
        gaps.iter().any(|g| g["method"] == "deleted"
            && g["message"]
                .as_str()
                .unwrap()
                .starts_with("40 journal entries missing")),
        "{lines:?}"
    );
    let f = hunt_findings(d.path());
    assert!(
        f.iter()
            .any(|(s, t)| s == "high" && t == "Log cleared or cut"),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(s, t)| s == "high" && t.starts_with("Login after brute force")),
        "journal-only host: {f:?}"
    );
    // With a user journal among the files a hole may be journald's own
    // vacuuming: a low gap, not a cleared log.
    std::fs::copy(&j, jdir.join("user-1000.journal")).unwrap();
    let f = hunt_findings(d.path());
    assert!(!f.iter().any(|(_, t)| t == "Log cleared or cut"), "{f:?}");
    let (_, lines) = script_json_own_case(&format!(
        "for r in log::journal(#{{ root: \"{}\" }}) {{ if r.kind == \"gap\" {{ emit(r); }} }}",
        d.path().display()
    ));
    assert!(
        lines.iter().any(|g| g["method"] == "missing")
            && !lines.iter().any(|g| g["method"] == "deleted"),
        "{lines:?}"
    );
}

#[test]
fn rotated_gzip_logs_and_an_emptied_log() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("var/log");
    std::fs::create_dir_all(&log).unwrap();
    let lines: Vec<String> = auth_log().lines().map(|l| format!("{l}\n")).collect();
    let (old, new) = lines.split_at(lines.len() - 1);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(old.concat().as_bytes()).unwrap();
    std::fs::write(log.join("auth.log.2.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(log.join("auth.log.1"), new.concat()).unwrap();
    let f = std::fs::File::create(log.join("auth.log")).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600))
        .unwrap();
    drop(f);
    let (status, out) = script_json_own_case(&format!(
        "for r in log::auth(#{{ root: \"{}\" }}) {{ emit(r); }}",
        d.path().display()
    ));
    assert_eq!(status.code(), Some(0), "{out:?}");
    let recs: Vec<&Value> = out.iter().filter(|l| l.get("kind").is_some()).collect();
    assert_eq!(
        recs.iter().filter(|r| r["kind"] == "ssh_fail").count(),
        10,
        "gz read: {out:?}"
    );
    let methods: Vec<&str> = recs
        .iter()
        .filter(|r| r["kind"] == "gap")
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert!(methods.contains(&"rotation"), "{methods:?}");
    assert!(methods.contains(&"emptied"), "{methods:?}");
    let (status, bad) = script_json_own_case("log::auth(#{ gap: \"soon\" })");
    assert_eq!(status.code(), Some(2), "{bad:?}");
}
