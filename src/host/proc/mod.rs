//! Processes, read from /proc with the procfs crate. A process may exit
//! while it is read: list() skips it, get() says not_found.

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::text::lossless;
use procfs::WithCurrentSystemInfo;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;

pub mod place;

#[derive(Debug, Clone, Serialize)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub name: String,
    pub cmdline: Vec<String>,
    pub exe: Option<String>,
    /// The executable was removed from disk (a classic dropper trick).
    pub exe_deleted: bool,
    pub cwd: Option<String>,
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub state: String,
    pub start_time: Option<String>,
    /// Resident memory in bytes.
    pub rss: u64,
    pub threads: i64,
    /// The cgroup path (v2, or the telling v1 hierarchy).
    pub cgroup: Option<String>,
    /// The container its cgroup names (`runtime`, `id`, `pod`), if any.
    pub container: Option<place::Container>,
    /// Namespace inode numbers by name; compare with pid 1's. Eight
    /// readlinks per process: about 10% of `list` (release build).
    pub namespaces: BTreeMap<String, u64>,
}

/// Resolves uids to names once per call.
#[derive(Default)]
pub struct Users(HashMap<u32, Option<String>>);

impl Users {
    pub fn name(&mut self, uid: u32) -> Option<String> {
        self.0
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
    }
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

fn link(pid: i32, what: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/{what}"))
        .ok()
        .map(|p| lossless(p.as_os_str().as_bytes()))
}

fn state_name(c: char) -> &'static str {
    match c {
        'R' => "running",
        'S' => "sleeping",
        'D' => "disk-sleep",
        'Z' => "zombie",
        'T' => "stopped",
        't' => "tracing-stop",
        'X' | 'x' => "dead",
        'I' => "idle",
        'W' => "paging",
        'P' => "parked",
        _ => "unknown",
    }
}

fn read(p: &procfs::process::Process, users: &mut Users) -> procfs::ProcResult<Process> {
    let stat = p.stat()?;
    let uid = p.uid().ok();
    let exe = link(p.pid, "exe");
    let cgroup = place::cgroup(p.pid);
    // Deleted means the running image has no name left (link count 0), not
    // that the link text ends in " (deleted)": a binary can be named that.
    let nlink = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{}/exe", p.pid))
            .ok()
            .map(|m| m.nlink())
    };
    let exe_deleted = match nlink {
        Some(n) => n == 0,
        None => exe.as_deref().is_some_and(|e| e.ends_with(" (deleted)")),
    };
    let start_time = stat.starttime().get().ok().map(|t| {
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    Ok(Process {
        pid: p.pid,
        ppid: stat.ppid,
        name: stat.comm.clone(),
        cmdline: cmdline(p.pid),
        exe: exe.map(|e| match e.strip_suffix(" (deleted)") {
            Some(base) if exe_deleted => base.to_string(),
            _ => e,
        }),
        exe_deleted,
        cwd: link(p.pid, "cwd"),
        user: uid.and_then(|u| users.name(u)),
        uid,
        state: state_name(stat.state).to_string(),
        start_time,
        rss: stat.rss * procfs::page_size(),
        threads: stat.num_threads,
        container: cgroup.as_deref().and_then(place::container_of),
        cgroup,
        namespaces: place::namespaces(p.pid),
    })
}

fn not_found(pid: i32) -> Error {
    Error::not_found(format!("pid {pid}: no such process"))
}

fn check_pid(pid: i64) -> Result<i32> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::invalid(format!("pid: {pid} is not a process id (1 or more)")))
}

/// One process.
pub fn get(pid: i64) -> Result<Process> {
    let pid = check_pid(pid)?;
    let p = procfs::process::Process::new(pid).map_err(|_| not_found(pid))?;
    read(&p, &mut Users::default()).map_err(|e| match e {
        procfs::ProcError::NotFound(_) => not_found(pid),
        procfs::ProcError::PermissionDenied(_) => {
            Error::permission(format!("pid {pid}: access denied"))
        }
        other => Error::io_msg(format!("pid {pid}: {other}")),
    })
}

/// Every process; those that exit mid-read are skipped, unreadable ones warned about once.
pub fn list(cancel: &CancelToken, warn: &mut dyn FnMut(&str)) -> Result<Vec<Process>> {
    let all = procfs::process::all_processes().map_err(|e| Error::io_msg(format!("/proc: {e}")))?;
    let mut users = Users::default();
    let mut out = Vec::new();
    let mut denied = 0;
    for (i, p) in all.enumerate() {
        if i % 256 == 0 {
            cancel.check()?;
        }
        let Ok(p) = p else { continue };
        match read(&p, &mut users) {
            Ok(proc) => out.push(proc),
            Err(procfs::ProcError::PermissionDenied(_)) => denied += 1,
            Err(_) => {} // exited while we read it
        }
    }
    if denied > 0 {
        warn(&format!(
            "{denied} process(es) could not be read (permission denied)"
        ));
    }
    // Unprivileged, other users' executables and folders are unreadable: a
    // root payload in /tmp would be missed without a word.
    let hidden = out
        .iter()
        .filter(|p| p.exe.is_none() && p.pid != 2 && p.ppid != 2 && p.state != "zombie")
        .count();
    if hidden > 0 && !nix::unistd::Uid::effective().is_root() {
        warn(&format!(
            "{hidden} process(es) of other users could not be inspected (executable and folder unreadable); run as root to see them"
        ));
    }
    out.sort_by_key(|p| p.pid);
    Ok(out)
}

/// Direct children.
pub fn children(pid: i64, cancel: &CancelToken) -> Result<Vec<Process>> {
    let pid = check_pid(pid)?;
    let mut none = |_: &str| {};
    Ok(list(cancel, &mut none)?
        .into_iter()
        .filter(|p| p.ppid == pid)
        .collect())
}

/// The parents up to pid 1, nearest first (the process itself excluded).
pub fn ancestors(pid: i64) -> Result<Vec<Process>> {
    let mut cur = get(pid)?;
    let mut out = Vec::new();
    let mut seen = 0;
    while cur.ppid > 0 && seen < 4096 {
        match get(cur.ppid as i64) {
            Ok(parent) => {
                out.push(parent.clone());
                cur = parent;
            }
            Err(_) => break,
        }
        seen += 1;
    }
    Ok(out)
}

/// The chain as text, outermost first: "bash /tmp/x.sh (12) → nc -zv … (34)".
pub fn chain_text(pid: i32) -> String {
    let Ok(me) = get(pid as i64) else {
        return String::new();
    };
    let mut chain = ancestors(pid as i64).unwrap_or_default();
    chain.reverse();
    chain.push(me);
    chain
        .iter()
        .filter(|p| p.pid > 1)
        .map(|p| {
            let cmd = if p.cmdline.is_empty() {
                format!("[{}]", p.name)
            } else {
                p.cmdline.join(" ")
            };
            format!("{cmd} ({})", p.pid)
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenFile {
    pub fd: i32,
    pub target: String,
    /// file, socket, pipe, anon or other.
    pub kind: String,
    pub inode: Option<u64>,
}

/// Open file descriptors and what they point at.
pub fn files(pid: i64) -> Result<Vec<OpenFile>> {
    let pid = check_pid(pid)?;
    let dir = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(t) = std::fs::read_link(e.path()) else {
            continue;
        };
        let target = lossless(t.as_os_str().as_bytes());
        let inode = socket_inode(&target);
        let kind = if inode.is_some() {
            "socket"
        } else if target.starts_with("pipe:") {
            "pipe"
        } else if target.starts_with("anon_inode:") {
            "anon"
        } else if target.starts_with('/') {
            "file"
        } else {
            "other"
        };
        out.push(OpenFile {
            fd,
            target,
            kind: kind.into(),
            inode,
        });
    }
    out.sort_by_key(|f| f.fd);
    Ok(out)
}

/// `socket:[1234]` → 1234.
pub fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The environment of a process (root or the same user).
pub fn env(pid: i64) -> Result<BTreeMap<String, String>> {
    let pid = check_pid(pid)?;
    let path = format!("/proc/{pid}/environ");
    let raw = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    Ok(raw
        .split(|c| *c == 0)
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let s = lossless(kv);
            match s.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (s, String::new()),
            }
        })
        .collect())
}

/// One pass over /proc/*/fd: socket inode → owning pids. Processes that
/// exit or deny access are skipped (`denied` counts the latter).
pub fn socket_owners(cancel: &CancelToken) -> Result<(HashMap<u64, Vec<i32>>, usize)> {
    let mut map: HashMap<u64, Vec<i32>> = HashMap::new();
    let mut denied = 0;
    let dir = std::fs::read_dir("/proc").map_err(|e| Error::io("/proc", e))?;
    for (i, e) in dir.flatten().enumerate() {
        if i % 256 == 0 {
            cancel.check()?;
        }
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let fds = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(f) => f,
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                denied += 1;
                continue;
            }
            Err(_) => continue,
        };
        for fd in fds.flatten() {
            if let Ok(t) = std::fs::read_link(fd.path()) {
                if let Some(inode) = socket_inode(&t.to_string_lossy()) {
                    let owners = map.entry(inode).or_default();
                    if !owners.contains(&pid) {
                        owners.push(pid);
                    }
                }
            }
        }
    }
    Ok((map, denied))
}

/// The short name of a process (`comm`), if it still exists.
pub fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}
