//! Issue 19, "safe on a hostile host": each test replays one attack from the
//! review (in temp dirs, tmpfs or the test's own namespaces) against the fix.

use crate::common::{hound, script};
use predicates::prelude::*;

// --- panics -----------------------------------------------------------------

/// A scanned host's `<title>` with no closing tag and a multi-byte character
/// across byte 200 used to panic the classifier (and drop the row).
#[test]
fn http_title_cut_at_a_char_boundary() {
    let mut body = b"HTTP/1.1 200 OK\r\n\r\n<title>".to_vec();
    body.extend(std::iter::repeat_n(b'a', 199));
    body.extend("é".repeat(50).as_bytes());
    let s = hound::host::scan::services::classify(80, &body, Some("http"));
    assert_eq!(s.service, "http");
    let t = s.title.expect("title kept");
    assert!(t.starts_with("aaa") && t.len() <= 200, "{t}");
}

/// `sleep(1e300)` exited 101; `sleep(1.8e19)` slept forever; huge `ttl`,
/// `grace` and timeouts the same. All are a catchable invalid_argument now.
#[test]
fn huge_durations_are_refused_not_fatal() {
    let (_d, p) = script(
        "durations.rhai",
        r#"
        let kinds = [];
        for f in [|| sleep(1e300), || sleep(1.8e19), || sleep(-1.0), || sleep("999999999999h"),
                  || proc::kill(999999999, #{ grace: 1e300 }),
                  || fw::block("192.0.2.1", #{ ttl: 1e300 }),
                  || net::probe("127.0.0.1", 9, 1e300)] {
            try { f.call(); kinds.push("none"); } catch (e) { kinds.push(e.kind); }
        }
        print(kinds);
        "#,
    );
    hound()
        .args(["--dry-run", "run"])
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            r#"["invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument"]"#,
        ));
}

/// A head forged with seq = u64::MAX panicked verify in debug and wrapped
/// into "ok" in release.
#[test]
fn journal_head_seq_u64_max_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    let (_d, p) = script("note.rhai", r#"case::finding("info", "one");"#);
    hound()
        .arg("--case")
        .arg(&case)
        .arg("run")
        .arg(&p)
        .assert()
        .code(1);
    for seq in [u64::MAX, u64::MAX - 1] {
        let head = std::fs::read_to_string(case.join("journal.head")).unwrap();
        let mut h: serde_json::Value = serde_json::from_str(&head).unwrap();
        h["seq"] = seq.into();
        std::fs::write(case.join("journal.head"), h.to_string()).unwrap();
        hound()
            .args(["case", "verify"])
            .arg(&case)
            .assert()
            .failure();
    }
}

// --- hangs and unbounded reads ----------------------------------------------

fn mkfifo(p: &std::path::Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
}

/// A fixture root where a local user planted fifos and links to /dev/zero
/// in every per-user file triage reads, plus an access log padded past the
/// engine's string limit. Triage must finish, warn about each, and go on.
#[test]
fn planted_fifos_links_and_padded_log_do_not_stop_triage() {
    use std::os::unix::fs::symlink;
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for d in [
        "etc/cron.d",
        "home/eve/.ssh",
        "home/eve/.config/systemd/user",
        "var/spool/cron/crontabs",
        "var/log",
        "logs",
    ] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\neve:x:1000:1000::/home/eve:/bin/bash\n",
    )
    .unwrap();
    mkfifo(&r.join("home/eve/.ssh/authorized_keys"));
    symlink("/dev/zero", r.join("home/eve/.ssh/authorized_keys2")).unwrap();
    mkfifo(&r.join("home/eve/.config/systemd/user/x.service"));
    symlink("/dev/zero", r.join("etc/cron.d/zero")).unwrap();
    mkfifo(&r.join("var/spool/cron/crontabs/eve"));
    mkfifo(&r.join("var/log/wtmp"));
    let pad = "A".repeat(8192);
    let line = format!(
        "203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] \"GET /cgi-bin/x.php?c=id HTTP/1.1\" 200 1 \"-\" \"{pad}\"\n"
    );
    std::fs::write(r.join("logs/access.log"), line.repeat(9000)).unwrap();
    let out = hound()
        .args(["run", "triage", "-p"])
        .arg(format!("root={}", r.display()))
        .arg("-p")
        .arg(format!(
            "access_logs={}",
            r.join("logs/access.log").display()
        ))
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    for planted in [
        "authorized_keys: is a fifo",
        "authorized_keys2: is a char",
        "x.service: is a fifo",
        "cron.d/zero: is a char",
        "crontabs/eve: is a fifo",
        "wtmp: is a fifo",
    ] {
        assert!(err.contains(planted), "no warning for {planted}: {err}");
    }
    assert!(err.contains("(cut)"), "{err}");
    assert!(stdout.contains("9000 requests parsed"), "{stdout}");
}

/// `fs::read("/dev/zero", huge)` read gigabytes; now the size is capped and
/// a bounded read of a device still works.
#[test]
fn fs_read_is_capped() {
    let (_d, p) = script(
        "read.rhai",
        r#"
        let k = "";
        try { fs::read("/dev/zero", 1 << 40); } catch (e) { k = e.kind; }
        print(k);
        print(fs::read("/dev/zero", 1000).len());
        "#,
    );
    hound()
        .arg("run")
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("invalid_argument\n1000"));
}
