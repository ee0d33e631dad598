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
    let r = hound::host::scan::services::http::parse(&body).expect("an HTTP answer");
    let text = String::from_utf8_lossy(&body).into_owned();
    let _ = hound::host::scan::services::http::basic(&r);
    let t = hound::host::scan::services::http::title(&text).expect("title kept");
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
        .arg("--case")
        .arg(r.join("case"))
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

// --- quarantine and restore against races -----------------------------------

use hound::host::quarantine as q;
use std::path::{Path, PathBuf};

struct Qlab {
    _t: tempfile::TempDir,
    root: PathBuf,
    qdir: PathBuf,
    case: PathBuf,
}

fn qlab() -> Qlab {
    let t = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(t.path()).unwrap();
    let qdir = root.join("case/quarantine");
    let case = root.join("case");
    std::fs::create_dir_all(&qdir).unwrap();
    Qlab {
        _t: t,
        root,
        qdir,
        case,
    }
}

fn stored(l: &Qlab, sha: &str) -> Vec<u8> {
    std::fs::read(l.qdir.join(sha)).unwrap()
}

/// The parent folder swapped for a link to "/etc" between the check and the
/// removal: the walk without links refuses, and "/etc" keeps its file.
#[test]
fn parent_swapped_for_a_link_after_the_check_removes_nothing() {
    let l = qlab();
    let etc = l.root.join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(etc.join("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    let dir = l.root.join("drop");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("passwd"), "payload").unwrap();
    let plan = q::plan(&dir.join("passwd"), false, &l.case).unwrap();
    std::fs::rename(&dir, l.root.join("drop.old")).unwrap();
    std::os::unix::fs::symlink(&etc, &dir).unwrap();
    let e = q::quarantine(&plan.files[0], &l.qdir, &l.case).unwrap_err();
    assert!(e.message.contains("not a folder any more"), "{}", e.message);
    assert_eq!(
        std::fs::read_to_string(etc.join("passwd")).unwrap(),
        "root:x:0:0::/root:/bin/sh\n"
    );
    assert!(l.root.join("drop.old/passwd").exists());

    // Swapped after the folder was opened: the file removed is the one
    // checked and stored, never the one behind the link.
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(l.root.join("drop.old"), &dir).unwrap();
    let r = q::quarantine_hooked(&plan.files[0], &l.qdir, &l.case, &mut || {
        std::fs::rename(&dir, l.root.join("drop.old")).unwrap();
        std::os::unix::fs::symlink(&etc, &dir).unwrap();
    })
    .unwrap();
    assert_eq!(stored(&l, r.sha256.as_deref().unwrap()), b"payload");
    assert!(!l.root.join("drop.old/passwd").exists());
    assert!(etc.join("passwd").exists());
}

/// Recursive: a sub-folder swapped for a link after the walk.
#[test]
fn recursive_quarantine_does_not_follow_a_swapped_subfolder() {
    let l = qlab();
    let etc = l.root.join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(etc.join("x"), "system").unwrap();
    let top = l.root.join("kit");
    std::fs::create_dir_all(top.join("sub")).unwrap();
    std::fs::write(top.join("sub/x"), "payload").unwrap();
    std::fs::write(top.join("a"), "payload a").unwrap();
    let plan = q::plan(&top, true, &l.case).unwrap();
    assert_eq!(plan.files.len(), 2);
    std::fs::rename(top.join("sub"), l.root.join("sub.old")).unwrap();
    std::os::unix::fs::symlink(&etc, top.join("sub")).unwrap();
    let results: Vec<_> = plan
        .files
        .iter()
        .map(|f| q::quarantine(f, &l.qdir, &l.case))
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(std::fs::read_to_string(etc.join("x")).unwrap(), "system");
}

/// A different file renamed over the name between the copy and the
/// removal goes back and stays; nothing is removed.
#[test]
fn a_file_replaced_before_removal_is_put_back() {
    let l = qlab();
    let f = l.root.join("bot.sh");
    std::fs::write(&f, "payload").unwrap();
    std::fs::write(l.root.join("decoy"), "decoy").unwrap();
    let e = q::quarantine_hooked(&f, &l.qdir, &l.case, &mut || {
        std::fs::rename(l.root.join("decoy"), &f).unwrap();
    })
    .unwrap_err();
    assert!(e.message.contains("replaced"), "{}", e.message);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "decoy");
}

/// Bytes appended while the file is quarantined are kept, not lost.
#[test]
fn bytes_appended_during_quarantine_are_kept() {
    use std::io::Write;
    let l = qlab();
    let f = l.root.join("growing.log");
    std::fs::write(&f, "first\n").unwrap();
    let mut w = std::fs::OpenOptions::new().append(true).open(&f).unwrap();
    let r = q::quarantine_hooked(&f, &l.qdir, &l.case, &mut || {
        // mtime granularity: make sure the change is visible by size too.
        w.write_all(b"appended while quarantining\n").unwrap();
    })
    .unwrap();
    assert!(r.changed_during_removal);
    assert_eq!(
        stored(&l, r.sha256.as_deref().unwrap()),
        b"first\nappended while quarantining\n"
    );
    assert!(!f.exists());
    let back = q::restore(&r.id, &l.qdir).unwrap();
    assert_eq!(
        std::fs::read(back).unwrap(),
        b"first\nappended while quarantining\n"
    );
}

/// Restore after the parent was swapped for a link to a root-only folder,
/// and restore whose private copy is swapped for a link to a 0600 file
/// before chown/chmod: neither writes or changes anything behind the link.
#[test]
fn restore_does_not_follow_swapped_links() {
    crate::require_root!();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let l = qlab();
    let vault = l.root.join("vault");
    std::fs::create_dir(&vault).unwrap();
    std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o700)).unwrap();
    let secret = vault.join("secret");
    std::fs::write(&secret, "root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dir = l.root.join("home");
    std::fs::create_dir(&dir).unwrap();
    let f = dir.join("tool");
    std::fs::write(&f, "setuid tool").unwrap();
    nix::unistd::chown(&f, Some(65534.into()), Some(65534.into())).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4777)).unwrap();
    let r = q::quarantine(&f, &l.qdir, &l.case).unwrap();
    std::fs::rename(&dir, l.root.join("home.old")).unwrap();
    std::os::unix::fs::symlink(&vault, &dir).unwrap();
    // --dry-run says what the real run then does: refuse.
    let e = q::restore_check(&r.id, &l.qdir).unwrap_err();
    assert!(e.message.contains("not a folder any more"), "{}", e.message);
    let e = q::restore(&r.id, &l.qdir).unwrap_err();
    assert!(e.message.contains("not a folder any more"), "{}", e.message);
    assert_eq!(std::fs::read_dir(&vault).unwrap().count(), 1);
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(l.root.join("home.old"), &dir).unwrap();
    let e = q::restore_hooked(&r.id, &l.qdir, &mut |part: &Path| {
        std::fs::remove_file(part).unwrap();
        std::os::unix::fs::symlink(&secret, part).unwrap();
    })
    .unwrap_err();
    assert!(e.message.contains("replaced"), "{}", e.message);
    let m = std::fs::metadata(&secret).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o600));
    assert!(!f.exists());
    // Undisturbed, owner and set-uid mode come back.
    for e in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let back = q::restore(&r.id, &l.qdir).unwrap();
    let m = std::fs::symlink_metadata(back).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (65534, 0o4777));
}

/// A name that is not UTF-8 next to a decoy whose name is the lossless
/// spelling: the path argument is ambiguous and refused; alone, the real
/// file is moved and restored byte for byte.
#[test]
fn invalid_utf8_names_round_trip_and_decoys_are_refused() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let l = qlab();
    let real = l.root.join(OsStr::from_bytes(b"bad\xffname"));
    let decoy = l.root.join("bad\\xffname");
    std::fs::write(&real, "payload").unwrap();
    std::fs::write(&decoy, "innocent").unwrap();
    let arg = format!("{}/bad\\\\xffname", l.root.display());
    let body = format!("fs::quarantine(\"{arg}\")");
    let (_d, p) = script("q.rhai", &body);
    let run = |p: &Path| {
        hound()
            .arg("--case")
            .arg(&l.case)
            .args(["--allow-destructive", "run"])
            .arg(p)
            .output()
            .unwrap()
    };
    let out = run(&p);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("names two files"));
    std::fs::remove_file(&decoy).unwrap();
    let (_d2, p2) = script(
        "q2.rhai",
        &format!("let r = fs::quarantine(\"{arg}\"); fs::restore(r.id); print(r.original);"),
    );
    let out = run(&p2);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&real).unwrap(), b"payload");
}

/// The guard works by rule: package-owned files (even through the merged
/// /usr alias), system folders, and what --dry-run says is what the real run
/// does (/dev/null, fifos and sockets refused by both).
#[test]
fn system_paths_by_rule_and_dry_run_tells_the_truth() {
    let l = qlab();
    nix::unistd::mkfifo(
        &l.root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(l.root.join("sock")).unwrap();
    let mut targets = vec![
        ("/dev/null".to_string(), "is a character device"),
        (format!("{}/fifo", l.root.display()), "is a fifo"),
        (format!("{}/sock", l.root.display()), "is a socket"),
    ];
    if Path::new("/var/lib/dpkg/info").is_dir() {
        targets.push(("/bin/sh".into(), "belongs to the package"));
        targets.push(("/usr/bin/sh".into(), "belongs to the package"));
        // A bot run as `bash -s /usr/sbin/agetty < bot.sh` made the
        // remediate hunt quarantine agetty; a packaged binary is refused.
        if Path::new("/usr/sbin/agetty").exists() {
            targets.push(("/usr/sbin/agetty".into(), "belongs to the package"));
        }
        if let Some(libc) = glob::glob("/usr/lib/*/libc.so.6").unwrap().flatten().next() {
            targets.push((libc.display().to_string(), "belongs to the package"));
        }
    } else {
        eprintln!("no dpkg database: package-owned checks skipped");
    }
    for dry in [true, false] {
        for (t, why) in &targets {
            // The real run only for the test's own files.
            if !dry && !t.starts_with(&*l.root.to_string_lossy()) {
                continue;
            }
            let (_d, p) = script("q.rhai", &format!("fs::quarantine(\"{t}\")"));
            let mut c = hound();
            c.arg("--case").arg(&l.case).arg("--allow-destructive");
            if dry {
                c.arg("--dry-run");
            }
            c.arg("run")
                .arg(&p)
                .assert()
                .code(2)
                .stderr(predicate::str::contains(*why));
        }
    }
    let (_d, p) = script(
        "q.rhai",
        r#"fs::quarantine("/var/lib", #{ recursive: true })"#,
    );
    hound()
        .args(["--dry-run", "run"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("system path"));
    // A folder with a fifo: dry-run lists it as refused, like the real run.
    let kit = l.root.join("kit");
    std::fs::create_dir(&kit).unwrap();
    std::fs::write(kit.join("bot"), "x").unwrap();
    nix::unistd::mkfifo(
        &kit.join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let (_d, p) = script(
        "q.rhai",
        &format!(
            "let r = fs::quarantine(\"{}\", #{{ recursive: true }}); print(r.would_quarantine.len()); print(r.would_refuse.len());",
            kit.display()
        ),
    );
    hound()
        .args(["--dry-run", "--case"])
        .arg(&l.case)
        .arg("run")
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("1\n1\n"));
}

/// A link on the way that root does not own is not followed.
#[test]
fn links_owned_by_others_are_not_followed() {
    crate::require_root!();
    let l = qlab();
    let real = l.root.join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("f"), "x").unwrap();
    let link = l.root.join("via");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &link,
        Some(65534.into()),
        Some(65534.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .unwrap();
    let e = q::plan(&link.join("f"), false, &l.case).unwrap_err();
    assert!(e.message.contains("owned by uid 65534"), "{}", e.message);
}

/// A mount point (a tmpfs in the test's own mount namespace) is not
/// removed by a recursive quarantine of the folder holding it.
#[test]
fn mount_points_are_refused() {
    crate::require_root!();
    crate::require_cmd!("unshare");
    let l = qlab();
    let kit = l.root.join("kit");
    std::fs::create_dir_all(kit.join("mnt")).unwrap();
    std::fs::write(kit.join("bot"), "x").unwrap();
    let (_d, p) = script(
        "q.rhai",
        &format!(
            "let r = fs::quarantine(\"{}\", #{{ recursive: true }}); print(r.files.len());",
            kit.display()
        ),
    );
    let sh = format!(
        "mount -t tmpfs none {k}/mnt && echo keep > {k}/mnt/data && {h} --case {c} --allow-destructive run {p} && cat {k}/mnt/data",
        k = kit.display(),
        h = crate::common::hound_path().display(),
        c = l.case.display(),
        p = p.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &sh])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("mount point"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\nkeep\n");
}

// --- the case folder ----------------------------------------------------------

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The case is 0700 (sub-folders too) and evidence copies 0600; a file
/// over the evidence cap keeps its hash, first and last MiB and a note.
#[test]
fn case_folder_is_private_and_evidence_is_capped() {
    let t = tempfile::tempdir().unwrap();
    let case = t.path().join("case");
    let big = t.path().join("sparse.img");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(70 << 20).unwrap();
    drop(f);
    std::fs::write(t.path().join("small"), "secret=1").unwrap();
    let (_d, p) = script(
        "e.rhai",
        &format!(
            "let a = case::evidence(\"{}\"); let b = case::evidence(\"{}\"); print(a.stored); print(b.stored);",
            big.display(),
            t.path().join("small").display()
        ),
    );
    let out = hound()
        .arg("--case")
        .arg(&case)
        .arg("run")
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode_of(&case), 0o700);
    for sub in ["evidence", "quarantine", "reports"] {
        assert_eq!(mode_of(&case.join(sub)), 0o700, "{sub}");
    }
    assert_eq!(mode_of(&case.join("journal.jsonl")), 0o600);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dirs: Vec<&str> = stdout.lines().collect();
    let copy = Path::new(dirs[0]).join("sparse.img");
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), 2 << 20);
    assert_eq!(mode_of(&copy), 0o600);
    let note: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(dirs[0]).join("sparse.img.not-kept.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(note["size"], 70u64 << 20);
    assert_eq!(
        note["not_kept"],
        serde_json::json!([1u64 << 20, 69u64 << 20])
    );
    assert_eq!(mode_of(&Path::new(dirs[1]).join("small")), 0o600);
}

/// A case folder prepared by someone else: `quarantine` a link to a
/// cron folder, or the folder owned by another user, or inside a folder
/// anyone can write. hound refuses it and writes nothing there.
#[test]
fn prepared_case_folders_are_refused() {
    crate::require_root!();
    let t = tempfile::tempdir().unwrap();
    let cron = t.path().join("cron.d");
    std::fs::create_dir(&cron).unwrap();
    let (_d, p) = script("f.rhai", r#"case::finding("info", "x");"#);
    let run = |case: &Path| {
        hound()
            .arg("--case")
            .arg(case)
            .arg("run")
            .arg(&p)
            .output()
            .unwrap()
    };
    let linked = t.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink(&cron, linked.join("quarantine")).unwrap();
    let out = run(&linked);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds a symlink"));
    let owned = t.path().join("owned");
    std::fs::create_dir(&owned).unwrap();
    nix::unistd::chown(&owned, Some(65534.into()), None).unwrap();
    let out = run(&owned);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("owned by uid 65534"));
    let open = t.path().join("open");
    std::fs::create_dir(&open).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let out = run(&open.join("case"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("changed by others"));
    assert_eq!(std::fs::read_dir(&cron).unwrap().count(), 0);
    assert!(!linked.join("journal.jsonl").exists());
}

// --- the journal --------------------------------------------------------------

struct Journal {
    _t: tempfile::TempDir,
    case: PathBuf,
    key: PathBuf,
    pubkey: PathBuf,
    stderr: String,
}

/// A case of three findings, its heads signed with a fresh key; the
/// public key is kept outside the case.
fn signed_case(syslog: Option<&str>) -> Journal {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("sign.key");
    let seed: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    std::fs::write(&key, hex::encode(&seed)).unwrap();
    let out = hound().args(["case", "pubkey"]).arg(&key).output().unwrap();
    assert!(out.status.success());
    let pubkey = t.path().join("sign.pub");
    std::fs::write(&pubkey, &out.stdout).unwrap();
    let case = t.path().join("case");
    let (_d, p) = script(
        "f.rhai",
        r#"for i in 0..3 { case::finding("low", `finding ${i}`); }"#,
    );
    let mut c = hound();
    c.arg("--case").arg(&case).arg("--sign-key").arg(&key);
    if let Some(a) = syslog {
        c.arg("--syslog").arg(a);
    }
    let out = c.arg("run").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    Journal {
        case,
        key,
        pubkey,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        _t: t,
    }
}

fn lines(j: &Journal) -> Vec<serde_json::Value> {
    crate::common::read_jsonl(&j.case.join("journal.jsonl"))
}

fn write_lines(j: &Journal, v: &[serde_json::Value]) {
    let text: String = v.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(j.case.join("journal.jsonl"), text).unwrap();
}

fn set_head(j: &Journal, seq: Option<u64>, hash: &str) {
    let h = serde_json::json!({ "seq": seq, "hash": hash, "pending": null });
    std::fs::write(j.case.join("journal.head"), h.to_string()).unwrap();
}

fn verify(j: &Journal, with_key: bool) -> (bool, String) {
    let mut c = hound();
    c.args(["case", "verify"]).arg(&j.case);
    if with_key {
        c.arg("--pubkey").arg(&j.pubkey);
    }
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A forged entry chained onto `prev`, with a correct hash.
fn forge(seq: u64, prev: &str) -> serde_json::Value {
    let mut e = serde_json::json!({ "seq": seq, "time": "2026-01-01T00:00:00.000Z", "host": "h",
        "user": "root", "primitive": "case::finding", "args": { "severity": "info", "title": "all clear" },
        "result": null, "undo": null, "dry_run": false, "prev": prev });
    e["hash"] = hound::runtime::case::entry_hash(&e).into();
    e
}

/// The review's tamperings that `hound case verify` missed, each caught:
/// by the chain and head alone where possible, by the signed head where
/// only an anchor can tell.
#[test]
fn journal_tamperings_are_caught() {
    let j = signed_case(None);
    let (ok, text) = verify(&j, true);
    assert!(ok, "{text}");
    assert!(text.contains("signature verifies"), "{text}");
    // Every head lands in the terminal log.
    let last = lines(&j)[2]["hash"].as_str().unwrap().to_string();
    assert!(
        j.stderr.contains(&format!("journal head 2 {last}")),
        "{}",
        j.stderr
    );
    let orig_journal = std::fs::read(j.case.join("journal.jsonl")).unwrap();
    let orig_head = std::fs::read(j.case.join("journal.head")).unwrap();
    let reset = || {
        std::fs::write(j.case.join("journal.jsonl"), &orig_journal).unwrap();
        std::fs::write(j.case.join("journal.head"), &orig_head).unwrap();
    };
    let all = lines(&j);
    let h = |i: usize| all[i]["hash"].as_str().unwrap().to_string();

    // 1. The last line cut and the head rewritten to match.
    write_lines(&j, &all[..2]);
    set_head(&j, Some(1), &h(1));
    let (ok, text) = verify(&j, false);
    assert!(ok && text.contains("no signature"), "{text}");
    assert!(!verify(&j, true).0);
    reset();
    // 2. The journal emptied and the head deleted.
    std::fs::write(j.case.join("journal.jsonl"), "").unwrap();
    std::fs::remove_file(j.case.join("journal.head")).unwrap();
    assert!(!verify(&j, false).0);
    reset();
    // 3. A forged entry appended, the head untouched (not crash lag).
    let mut more = all.clone();
    more.push(forge(3, &h(2)));
    write_lines(&j, &more);
    let (ok, text) = verify(&j, false);
    assert!(!ok && text.contains("not covered"), "{text}");
    // 4. The same with the head updated.
    set_head(&j, Some(3), more[3]["hash"].as_str().unwrap());
    assert!(!verify(&j, true).0);
    reset();
    // 5. The whole chain rewritten, the head too, signed with another key.
    let mut prev = String::new();
    let fake: Vec<_> = (0..3)
        .map(|i| {
            let e = forge(i, &prev);
            prev = e["hash"].as_str().unwrap().to_string();
            e
        })
        .collect();
    write_lines(&j, &fake);
    set_head(&j, Some(2), &prev);
    assert!(!verify(&j, true).0);
    reset();
    // 6. A head seq of u64::MAX.
    let mut head: serde_json::Value = serde_json::from_slice(&orig_head).unwrap();
    head["seq"] = u64::MAX.into();
    std::fs::write(j.case.join("journal.head"), head.to_string()).unwrap();
    assert!(!verify(&j, false).0);
    reset();
    assert!(verify(&j, true).0);
    let _ = &j.key;
}

/// Each head also goes to a syslog receiver (here on 127.0.0.1).
#[test]
fn journal_heads_go_to_syslog() {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let addr = rx.local_addr().unwrap().to_string();
    let j = signed_case(Some(&addr));
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < 3 {
        let n = rx.recv(&mut buf).unwrap();
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let last = lines(&j)[2]["hash"].as_str().unwrap().to_string();
    assert!(got[2].starts_with("<134>1 "), "{got:?}");
    assert!(
        got[2].contains(&format!("journal head 2 {last}")),
        "{got:?}"
    );
}

// --- firewall lock-out ----------------------------------------------------------

/// Blocking your own address inbound, everything inbound, or the SSH
/// client you come from is refused before nftables is touched; `force`
/// overrides (checked for real in the test's own network namespace).
#[test]
fn fw_block_refuses_to_lock_you_out() {
    let (_d, p) = script(
        "b.rhai",
        r#"
        let m = [];
        for t in [["127.0.0.1", "in"], ["0.0.0.0/0", "in"], ["::/0", "both"], ["198.51.100.9", "in"], ["198.51.100.0/24", "out"]] {
            try { fw::block(t[0], #{ direction: t[1] }); m.push("accepted"); } catch (e) { m.push(e.message); }
        }
        for x in m { print(x); }
        "#,
    );
    let out = hound()
        .args(["--dry-run", "run"])
        .arg(&p)
        .env("SSH_CONNECTION", "198.51.100.9 50022 10.0.0.5 22")
        .env(
            "HOUND_FW_TABLE",
            format!("hsafe{}", hound::host::netns::unique_tag()),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].contains("an address of this host"), "{text}");
    assert!(lines[1].contains("blocks every address"), "{text}");
    assert!(lines[2].contains("blocks every address"), "{text}");
    assert!(lines[3].contains("SSH session"), "{text}");
    assert!(lines[4].contains("SSH session"), "{text}");
}

/// With `force`, and comments that used to break the saved ruleset (120
/// `é`, `"; flush ruleset;`): applied in a namespace of the test's own, and
/// the listed ruleset loads again.
#[test]
fn fw_force_and_hostile_comments_keep_a_loadable_ruleset() {
    crate::require_root!();
    crate::require_cmd!("nft");
    let ns = hound::host::netns::Netns::create_unique("hsf").unwrap();
    let table = format!("hsafe{}", hound::host::netns::unique_tag());
    let case = tempfile::tempdir().unwrap();
    let (_d, p) = script(
        "b.rhai",
        r#"
        let e = "";
        for i in 0..120 { e += "é"; }
        fw::block("203.0.113.0/24", #{ comment: e });
        fw::block("203.0.114.1", #{ comment: "x\"; flush ruleset;" });
        print(fw::block("127.0.0.1", #{ direction: "in", force: true }).status);
        "#,
    );
    let out = ns
        .command(crate::common::hound_path().to_str().unwrap())
        .args(["--allow-destructive", "--case"])
        .arg(case.path())
        .arg("run")
        .arg(&p)
        .env("HOUND_FW_TABLE", &table)
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("blocked"));
    let listed = ns.exec_ok(&["nft", "list", "ruleset"]).unwrap().stdout;
    let saved = case.path().join("saved.nft");
    std::fs::write(&saved, &listed).unwrap();
    let check = ns
        .exec(&["nft", "-c", "-f", saved.to_str().unwrap()])
        .unwrap();
    assert!(
        check.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&listed),
        String::from_utf8_lossy(&check.stderr)
    );
}

// --- detection evasion ------------------------------------------------------------

/// uid fields glibc reads as 0 (" 0", "\t0", "4294967296") hid two of four
/// backdoor accounts; now all are uid 0, flagged by triage, and each
/// malformed line is named in a warning.
#[test]
fn passwd_is_read_like_glibc() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("etc")).unwrap();
    std::fs::write(
        t.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n\
         bd1:x:0:0::/root:/bin/bash\n\
         bd2:x: 0:0::/root:/bin/bash\n\
         bd3:x:\t0:0::/root:/bin/bash\n\
         bd4:x:4294967296:0::/root:/bin/bash\n",
    )
    .unwrap();
    let out = hound()
        .arg("--case")
        .arg(t.path().join("case"))
        .args(["run", "triage", "-p"])
        .arg(format!("root={}", t.path().display()))
        .args(["-p", "access_logs="])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for bd in ["bd1", "bd2", "bd3", "bd4"] {
        assert!(
            stdout.contains(&format!("Second uid-0 account: {bd}")),
            "{bd} missed:\n{stdout}"
        );
    }
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("warning: sys::users:") && l.contains("malformed entry"))
            .count(),
        3,
        "{stderr}"
    );
}

/// A binary named `legit (deleted)` is not a deleted executable; a deleted
/// one is, whatever its name.
#[test]
fn deleted_executables_by_link_count_not_name() {
    let t = tempfile::tempdir().unwrap();
    let sleep = std::fs::canonicalize("/bin/sleep").unwrap();
    let named = t.path().join("legit (deleted)");
    let gone = t.path().join("gone");
    std::fs::copy(&sleep, &named).unwrap();
    std::fs::copy(&sleep, &gone).unwrap();
    let mut a = std::process::Command::new(&named)
        .arg("60")
        .spawn()
        .unwrap();
    let mut b = std::process::Command::new(&gone).arg("60").spawn().unwrap();
    std::fs::remove_file(&gone).unwrap();
    let pa = hound::host::proc::get(a.id() as i64).unwrap();
    let pb = hound::host::proc::get(b.id() as i64).unwrap();
    let _ = (a.kill(), b.kill(), a.wait(), b.wait());
    assert_eq!(pa.exe.as_deref(), Some(named.to_str().unwrap()));
    assert!(!pa.exe_deleted);
    assert_eq!(pb.exe.as_deref(), Some(gone.to_str().unwrap()));
    assert!(pb.exe_deleted);
}

/// Unprivileged, processes of other users are not silently skipped: the
/// run says how many could not be inspected.
#[test]
fn unprivileged_runs_say_what_they_could_not_inspect() {
    crate::require_root!();
    crate::require_cmd!("setpriv");
    let (_d, p) = script("l.rhai", "proc::list().len()");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(_d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(crate::common::hound_path())
        .arg("run")
        .arg(&p)
        .env("NO_COLOR", "1")
        .env("HOME", "/tmp")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not be inspected"), "{stderr}");
}

// --- escapes ----------------------------------------------------------------------

const OSC_TITLE: &str = "\u{1b}]0;PWNED\u{7}";

/// A hunt whose header carries terminal escapes and bidi controls:
/// `hound doc` shows them as text.
#[test]
fn hound_doc_escapes_a_hostile_header() {
    let (_d, p) = script(
        "hostile.rhai",
        "//! name = \"evil\\u001b]0;PWNED\\u0007\"\n//! version = \"1.0.0\"\n//! description = \"desc \\u001b[2J\\u202e cleared\"\n//! author = \"a\\u009b31m\"\n//!\n//! [params.x]\n//! type = \"string\"\n//! default = \"d\\u001b]0;T\\u0007\"\n//! description = \"p\\u2028q\"\nprint(1);\n",
    );
    let out = hound().arg("doc").arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("evil"), "{text}");
    for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2028}'] {
        assert!(
            !text.contains(bad),
            "{bad:?} reached the terminal: {text:?}"
        );
    }
}

/// Report time fields (from an edited journal), Markdown link and image
/// syntax in a finding, and C1/bidi characters in the JSON report.
#[test]
fn report_escapes_time_fields_and_markdown() {
    let t = tempfile::tempdir().unwrap();
    let case = t.path().join("case");
    let (_d, p) = script(
        "f.rhai",
        "case::finding(\"high\", \"cron: ![t](http://evil/x.png) [x](javascript:alert(1)) \\u009b31m\\u202e\");",
    );
    hound()
        .arg("--case")
        .arg(&case)
        .arg("run")
        .arg(&p)
        .assert()
        .code(1);
    // Rewrite the entry's time with a terminal escape (and re-chain it, as
    // an attacker would).
    let text = std::fs::read_to_string(case.join("journal.jsonl")).unwrap();
    let mut e: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    e["time"] = format!("2026-01-01T00:00:00Z{OSC_TITLE}").into();
    e["hash"] = hound::runtime::case::entry_hash(&e).into();
    std::fs::write(case.join("journal.jsonl"), format!("{e}\n")).unwrap();
    let md = hound()
        .args(["report", "--format", "md"])
        .arg(&case)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("!\\[t\\]"), "{md}");
    assert!(!md.contains("[x](javascript"), "{md}");
    for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!md.contains(bad), "{bad:?} in the Markdown report");
    }
    let js = hound()
        .args(["report", "--format", "json"])
        .arg(&case)
        .output()
        .unwrap();
    let js = String::from_utf8_lossy(&js.stdout);
    assert!(js.contains("\\u009b") && js.contains("\\u202e"), "{js}");
    assert!(!js.contains('\u{9b}') && !js.contains('\u{202e}'));
}

/// The --json policy: C1 and bidi controls and U+2028/U+2029/U+061C are
/// `\uXXXX` escapes, so a terminal shows text and a JSON reader gets the
/// exact string back. Tables escape the same characters.
#[test]
fn json_and_tables_escape_c1_bidi_and_separators() {
    let s = "a\u{9b}31m\u{202e}b\u{2028}c\u{2029}d\u{61c}e";
    let (_d, p) = script(
        "e.rhai",
        r#"emit(#{ name: "a\u009b31m\u202eb\u2028c\u2029d\u061ce" });"#,
    );
    let out = hound().args(["--json", "run"]).arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for c in s.chars().filter(|c| !c.is_ascii()) {
        assert!(!text.contains(c), "{c:?} raw in {text:?}");
    }
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["name"], s);
    let out = hound().arg("run").arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for c in s.chars().filter(|c| !c.is_ascii()) {
        assert!(!text.contains(c), "{c:?} raw in the table {text:?}");
    }
}

/// Completion never offers a file name that would retitle the terminal.
#[test]
fn repl_completion_hides_hostile_names() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join(format!("a{OSC_TITLE}x")), "").unwrap();
    std::fs::write(t.path().join("ab_safe"), "").unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new(crate::common::hound_path());
    c.arg("repl")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("HOUND_CASE");
    let mut p = rexpect::session::spawn_command(c, Some(20_000)).unwrap();
    p.exp_string("hound> ").unwrap();
    p.send(&format!("fs::stat(\"{}/a", t.path().display()))
        .unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    let seen = p.exp_string("ab_safe").unwrap();
    assert!(!seen.contains("PWNED"), "{seen:?}");
    p.send("\t\t").unwrap();
    p.send_line("\")").unwrap();
    let after = p.exp_string("hound> ").unwrap();
    assert!(!after.contains("PWNED"), "{after:?}");
}

// --- planted scripts -----------------------------------------------------------------

/// A file named like a bundled hunt in the current folder does not run in
/// its place; `./triage` runs it, and the shadowing is said.
#[test]
fn bundled_hunts_win_over_planted_files() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("triage"), "print(\"PLANTED\");").unwrap();
    let out = hound()
        .current_dir(t.path())
        .args(["--case"])
        .arg(t.path().join("case"))
        .args(["doc", "triage"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Read-only sweep"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bundled hunt"));
    let out = hound()
        .current_dir(t.path())
        .args(["run", "./triage"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("PLANTED"));
    let out = hound()
        .current_dir(t.path())
        .args(["check", "triage"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("running the bundled one"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- parsers under random input -------------------------------------------------------

/// A bounded, deterministic stand-in for the fuzz targets in fuzz/ (which
/// need a nightly toolchain): every parser of attacker input gets random
/// and mutated inputs and must not panic.
#[test]
fn parsers_survive_random_input() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds: [&[u8]; 6] = [
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.2\r\n\r\n<title>x</title>",
        b"SSH-2.0-OpenSSH_9.2p1\r\n",
        b"203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"",
        b"command=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== c",
        b"//! name = \"x\"\n//! version = \"1.0.0\"\n",
        b"10.0.0.0/30,10.0.0.5-7,::1",
    ];
    for i in 0..3000 {
        let mut d: Vec<u8> = seeds[i % seeds.len()].to_vec();
        for _ in 0..(next() % 8) {
            let r = next();
            match r % 4 {
                0 if !d.is_empty() => {
                    let at = (r >> 8) as usize % d.len();
                    d[at] = (r >> 32) as u8;
                }
                1 => d.push((r >> 16) as u8),
                2 if !d.is_empty() => {
                    let at = (r >> 8) as usize % d.len();
                    d.truncate(at);
                }
                _ => d.extend("é\u{202e}".as_bytes()),
            }
        }
        let text = String::from_utf8_lossy(&d).into_owned();
        let _ = hound::host::scan::services::greeting::classify((next() % 65536) as u16, &d);
        if let Some(r) = hound::host::scan::services::http::parse(&d) {
            let _ = hound::host::scan::services::http::basic(&r);
        }
        let _ = hound::host::scan::services::http::title(&text);
        let _ = hound::host::scan::tls::first_certificate(&d);
        let _ = hound::host::scan::tls::names(&d);
        let _ = hound::host::scan::packet::parse_tcp(&d);
        let _ = hound::host::scan::packet::parse_icmp(&d);
        let _ = hound::host::scan::packet::parse_arp_reply(&d, std::net::Ipv4Addr::LOCALHOST);
        let _ = hound::host::scan::spec::parse_ports(&text);
        // Not parse_targets: a name that is not an address is resolved (DNS),
        // which a test must not send from the host namespace.
        let _ = hound::host::ioc::parse_all(std::slice::from_ref(&text));
        let _ = hound::host::log::parse_line(&d, 1);
        let _ = hound::host::sys::users::parse_key_line(&text);
        let _ = hound::host::sys::users::glibc_id(&text);
        let _ = hound::runtime::header::parse(&text, "x.rhai");
        let _ = hound::output::markdown_cell(&text);
        let rec = [d.first().copied().unwrap_or(7); hound::host::sys::utmp::RECORD];
        let _ = hound::host::sys::utmp::Record::parse(&rec);
    }
}

/// Logs too big to hold go row by row through `log::each_access`: nothing
/// is collected, a callback's `false` stops early, and a script error in
/// the callback is the call's error.
#[test]
fn access_logs_stream_row_by_row() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("access.log");
    let pad = "A".repeat(8192);
    let line = format!(
        "203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] \"GET /cgi-bin/{pad} HTTP/1.1\" 200 1 \"-\" \"ua\"\n"
    );
    std::fs::write(&log, line.repeat(3000)).unwrap();
    let (_d, p) = script(
        "s.rhai",
        &format!(
            r#"
            let n = 0;
            let seen = log::each_access("{l}", |r| {{ if r.path.contains("/cgi-bin/") {{ n += 1; }} }});
            print(`${{seen}} ${{n}}`);
            let first = log::each_access("{l}", |r| r.line_no < 10);
            print(first);
            let k = "";
            try {{ log::each_access("{l}", |r| r.nope()); }} catch (e) {{ k = "caught"; }}
            print(k);
            "#,
            l = log.display()
        ),
    );
    hound()
        .arg("run")
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("3000 3000\n10\ncaught\n"));
}
