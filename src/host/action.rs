//! Who a target is: the identity of a process or a file, captured when an
//! action is planned and compared right before it is carried out, so a pid
//! reused by another process, or a file changed since, is never acted on.

use crate::error::{Error, Result};
use crate::host::evidence::sha256_file;
use crate::text::lossless;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The namespaces compared for identity and respawns.
const NAMESPACES: [&str; 6] = ["pid", "mnt", "net", "user", "uts", "ipc"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcIdentity {
    pub pid: i32,
    /// Start time in clock ticks since boot (/proc/PID/stat field 22): with
    /// the pid, it names one process for the life of the system.
    pub start_ticks: u64,
    pub exe: Option<String>,
    pub exe_sha256: Option<String>,
    pub cmdline: Vec<String>,
    /// Namespace inode numbers by name (`pid`, `mnt`, `net`, ...).
    pub namespaces: BTreeMap<String, u64>,
    pub cgroup: Option<String>,
}

/// Field 22 of /proc/PID/stat. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted from the last `)`.
pub fn start_ticks(pid: i32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(format!("pid {pid}: no such process")),
        _ => Error::io(&path, e),
    })?;
    parse_start_ticks(&text).ok_or_else(|| Error::io_msg(format!("{path}: unreadable")))
}

fn parse_start_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: field 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn link(pid: i32, what: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/{what}"))
        .ok()
        .map(|p| lossless(p.as_os_str().as_bytes()))
}

/// Namespace inodes of a process (those it may read).
pub fn namespaces(pid: i32) -> BTreeMap<String, u64> {
    NAMESPACES
        .iter()
        .filter_map(|ns| {
            let t = link(pid, &format!("ns/{ns}"))?;
            let inode = t.split_once(":[")?.1.strip_suffix(']')?.parse().ok()?;
            Some((ns.to_string(), inode))
        })
        .collect()
}

/// The cgroup path (the unified hierarchy's line, else all lines joined).
pub fn cgroup(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let unified = text.lines().find_map(|l| l.strip_prefix("0::"));
    Some(
        unified
            .map(String::from)
            .unwrap_or_else(|| text.trim().replace('\n', ";")),
    )
}

fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(lossless)
                .collect()
        })
        .unwrap_or_default()
}

/// Identity without hashing the executable: cheap enough to take for every
/// process on the host (respawn detection).
pub fn proc_identity_light(pid: i32) -> Result<ProcIdentity> {
    let start_ticks = start_ticks(pid)?;
    Ok(ProcIdentity {
        pid,
        start_ticks,
        exe: link(pid, "exe").map(|e| e.trim_end_matches(" (deleted)").to_string()),
        exe_sha256: None,
        cmdline: cmdline(pid),
        namespaces: namespaces(pid),
        cgroup: cgroup(pid),
    })
}

/// The full identity, executable hash included (/proc/PID/exe reads the
/// running image even when its file was deleted).
pub fn proc_identity(pid: i32) -> Result<ProcIdentity> {
    let mut id = proc_identity_light(pid)?;
    id.exe_sha256 = sha256_file(Path::new(&format!("/proc/{pid}/exe"))).ok();
    Ok(id)
}

/// `Ok` when `pid` is still the process that was planned; else why not.
/// The start time tells a reused pid; the executable path tells an exec.
pub fn proc_still(planned: &ProcIdentity) -> std::result::Result<(), String> {
    let pid = planned.pid;
    let now = match start_ticks(pid) {
        Ok(t) => t,
        Err(_) => return Err(format!("pid {pid} has exited")),
    };
    if now != planned.start_ticks {
        return Err(format!(
            "pid {pid} is another process now (started at tick {now}, planned {}): the pid was reused",
            planned.start_ticks
        ));
    }
    let exe = link(pid, "exe").map(|e| e.trim_end_matches(" (deleted)").to_string());
    if planned.exe.is_some() && exe != planned.exe {
        return Err(format!(
            "pid {pid} runs {} now, not {} (it exec'd another program)",
            exe.as_deref().unwrap_or("?"),
            planned.exe.as_deref().unwrap_or("?")
        ));
    }
    Ok(())
}

/// Interpreters whose "program" is the script they run, not their binary.
fn is_interpreter(exe: &str) -> bool {
    let name = exe.rsplit('/').next().unwrap_or(exe);
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    [
        "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "python", "perl", "ruby",
        "php", "node", "nodejs", "lua", "tclsh", "awk", "gawk", "mawk",
    ]
    .contains(&base)
}

/// The script an interpreter runs: the text after `-c`, or its first
/// non-option argument. `None` for a binary that is its own program.
pub fn script_of(exe: Option<&str>, cmdline: &[String]) -> Option<String> {
    let interp = exe.map(is_interpreter).unwrap_or(false)
        || cmdline.first().map(|a| is_interpreter(a)).unwrap_or(false);
    if !interp {
        return None;
    }
    let mut args = cmdline.iter().skip(1);
    while let Some(a) = args.next() {
        if a == "-c" || a == "-e" {
            return args.next().cloned();
        }
        if !a.starts_with('-') {
            return Some(a.clone());
        }
    }
    None
}

/// Whether `p` is a respawn of the killed process `k`: it started after the
/// kill (`after_ticks`), in the same pid, mount and network namespaces and
/// cgroup, running the same executable with the same arguments, or (for an
/// interpreter) the same script. Nothing else counts: an older process with
/// the same command line, one in another container, or an unrelated `sleep`
/// started meanwhile is not something the kill brought back.
pub fn is_respawn(k: &ProcIdentity, p: &ProcIdentity, after_ticks: u64) -> bool {
    if p.pid == k.pid && p.start_ticks == k.start_ticks {
        return false;
    }
    if p.start_ticks < after_ticks {
        return false;
    }
    let same_ns = ["pid", "mnt", "net"]
        .iter()
        .all(|n| k.namespaces.get(*n) == p.namespaces.get(*n));
    if !same_ns || k.cgroup != p.cgroup || k.exe.is_none() || k.exe != p.exe {
        return false;
    }
    match script_of(k.exe.as_deref(), &k.cmdline) {
        Some(script) => script_of(p.exe.as_deref(), &p.cmdline).as_ref() == Some(&script),
        None => k.cmdline.get(1..) == p.cmdline.get(1..),
    }
}

/// Clock ticks since boot now, comparable with [`start_ticks`].
pub fn now_ticks() -> Result<u64> {
    let up = std::fs::read_to_string("/proc/uptime").map_err(|e| Error::io("/proc/uptime", e))?;
    let secs: f64 = up
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::io_msg("/proc/uptime: unreadable"))?;
    Ok((secs * procfs::ticks_per_second() as f64) as u64)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileIdentity {
    pub path: String,
    /// `None` for a symlink (compared by its target instead).
    pub sha256: Option<String>,
    pub link_target: Option<String>,
    pub size: u64,
    pub inode: u64,
    pub dev: u64,
}

pub fn file_identity(path: &Path) -> Result<FileIdentity> {
    let m = std::fs::symlink_metadata(path).map_err(|e| Error::io(path.display(), e))?;
    let is_link = m.file_type().is_symlink();
    if !is_link && !m.is_file() {
        return Err(Error::invalid(format!(
            "{}: not a regular file or symlink",
            path.display()
        )));
    }
    Ok(FileIdentity {
        path: lossless(path.as_os_str().as_bytes()),
        sha256: if is_link {
            None
        } else {
            Some(sha256_file(path)?)
        },
        link_target: std::fs::read_link(path)
            .ok()
            .map(|t| lossless(t.as_os_str().as_bytes())),
        size: m.len(),
        inode: m.ino(),
        dev: m.dev(),
    })
}

/// `Ok` when the file is still the one planned (same inode, same content).
pub fn file_still(planned: &FileIdentity) -> std::result::Result<(), String> {
    let now = file_identity(Path::new(&planned.path))
        .map_err(|e| format!("{} is gone or unreadable: {}", planned.path, e.message))?;
    if (now.dev, now.inode) != (planned.dev, planned.inode) {
        return Err(format!(
            "{} was replaced by another file since it was planned",
            planned.path
        ));
    }
    if now.sha256 != planned.sha256 || now.link_target != planned.link_target {
        return Err(format!(
            "{} changed since it was planned (sha256 {} now)",
            planned.path,
            now.sha256.as_deref().unwrap_or("-")
        ));
    }
    Ok(())
}

/// The installed package that owns `path`, from the dpkg database whose
/// `info` folder is `dpkg_info` (the shared loader of `linux::dpkg`).
/// `None` when no package lists it.
pub fn package_owner(path: &str, dpkg_info: &Path) -> Option<String> {
    let dpkg = dpkg_info.parent()?;
    crate::host::linux::dpkg::Owners::cached(dpkg, &mut |_| {})
        .owner(path.as_bytes())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_read_past_odd_names() {
        let stat = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_start_ticks(stat), Some(98765));
        assert!(start_ticks(std::process::id() as i32).is_ok());
    }

    fn id(pid: i32, start: u64, exe: &str, cmd: &[&str], net: u64) -> ProcIdentity {
        ProcIdentity {
            pid,
            start_ticks: start,
            exe: Some(exe.into()),
            exe_sha256: None,
            cmdline: cmd.iter().map(|s| s.to_string()).collect(),
            namespaces: [("pid", 1), ("mnt", 2), ("net", net)]
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            cgroup: Some("/a".into()),
        }
    }

    #[test]
    fn only_a_later_process_in_the_same_place_running_the_same_thing_is_a_respawn() {
        let k = id(10, 100, "/usr/bin/bash", &["bash", "/tmp/.x/b.sh"], 7);
        assert!(is_respawn(
            &k,
            &id(11, 205, "/usr/bin/bash", &["bash", "/tmp/.x/b.sh"], 7),
            200
        ));
        // Older than the kill: it was there already.
        assert!(!is_respawn(
            &k,
            &id(11, 150, "/usr/bin/bash", &["bash", "/tmp/.x/b.sh"], 7),
            200
        ));
        // Same command line in another network namespace (another container).
        assert!(!is_respawn(
            &k,
            &id(11, 205, "/usr/bin/bash", &["bash", "/tmp/.x/b.sh"], 8),
            200
        ));
        // Same interpreter, another script.
        assert!(!is_respawn(
            &k,
            &id(11, 205, "/usr/bin/bash", &["bash", "/opt/ok.sh"], 7),
            200
        ));
        // A binary: the same arguments (argv[0] may differ).
        let b = id(10, 100, "/tmp/implant", &["implant", "-p", "80"], 7);
        let again = id(12, 300, "/tmp/implant", &["./implant", "-p", "80"], 7);
        assert!(is_respawn(&b, &again, 200));
        let bare = id(12, 300, "/tmp/implant", &["implant"], 7);
        assert!(!is_respawn(&b, &bare, 200));
        let s = id(10, 100, "/usr/bin/sleep", &["sleep", "30"], 7);
        let other = id(12, 300, "/usr/bin/sleep", &["sleep", "60"], 7);
        assert!(!is_respawn(&s, &other, 200), "an unrelated sleep");
        let mut other_cg = again.clone();
        other_cg.cgroup = Some("/b".into());
        assert!(!is_respawn(&b, &other_cg, 200));
    }

    #[test]
    fn scripts_of_interpreters() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            script_of(
                Some("/usr/bin/bash"),
                &s(&["bash", "-c", "while :; do x; done"])
            ),
            Some("while :; do x; done".into())
        );
        assert_eq!(
            script_of(
                Some("/usr/bin/python3.11"),
                &s(&["python3", "-u", "/tmp/b.py"])
            ),
            Some("/tmp/b.py".into())
        );
        assert_eq!(
            script_of(Some("/usr/bin/sleep"), &s(&["sleep", "30"])),
            None
        );
    }

    #[test]
    fn a_changed_file_is_not_the_planned_one() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        std::fs::write(&f, "a").unwrap();
        let planned = file_identity(&f).unwrap();
        assert!(file_still(&planned).is_ok());
        std::fs::write(&f, "b").unwrap();
        assert!(file_still(&planned).unwrap_err().contains("changed"));
    }

    #[test]
    fn package_owner_reads_the_dpkg_lists() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("info");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("cron.list"), "/.\n/usr/sbin/cron\n").unwrap();
        std::fs::write(d.join("libfoo:amd64.list"), "/usr/lib/foo.so\n").unwrap();
        assert_eq!(package_owner("/usr/sbin/cron", &d), Some("cron".into()));
        assert_eq!(package_owner("/usr/lib/foo.so", &d), Some("libfoo".into()));
        assert_eq!(package_owner("/tmp/x", &d), None);
    }
}
