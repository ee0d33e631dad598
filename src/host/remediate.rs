//! Acting on the host: signals that are checked, and a quarantine that
//! loses nothing. Evidence and journaling happen in the binding, before any
//! of this runs.

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::host::evidence::{copy_synced, metadata, sha256_file};
use crate::host::{action, proc};
use crate::text::lossless;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use serde_json::{json, Value};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Refuses targets whose death would hurt the host or hound itself.
pub fn check_killable(pid: i32) -> Result<proc::Process> {
    if pid <= 1 {
        return Err(Error::invalid(format!(
            "pid {pid}: refusing to signal init"
        )));
    }
    let me = std::process::id() as i32;
    if pid == me
        || proc::ancestors(me as i64)
            .unwrap_or_default()
            .iter()
            .any(|a| a.pid == pid)
    {
        return Err(Error::invalid(format!(
            "pid {pid}: refusing to signal hound itself or its parents"
        )));
    }
    let p = proc::get(pid as i64)?;
    if p.ppid == 2 || pid == 2 {
        return Err(Error::invalid(format!(
            "pid {pid} ({}): refusing to signal a kernel thread",
            p.name
        )));
    }
    Ok(p)
}

/// The process and all its descendants, parents before children.
pub fn tree(pid: i32, cancel: &CancelToken) -> Result<Vec<i32>> {
    let all = proc::list(cancel, &mut |_| {})?;
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            all.iter()
                .filter(|p| p.ppid == parent && !out.contains(&p.pid))
                .map(|p| p.pid)
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    Ok(out)
}

/// Freezes the process, then its descendants, rescanning until no new one
/// appears: a stopped parent cannot start another child, and a child forked
/// just before the parent stopped is caught by the next scan. Returns the
/// tree, parents before children (all of it stopped).
pub fn freeze_tree(pid: i32, cancel: &CancelToken) -> Result<Vec<i32>> {
    let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
    let mut seen = vec![pid];
    for _ in 0..10 {
        let now = tree(pid, cancel)?;
        let fresh: Vec<i32> = now.iter().copied().filter(|p| !seen.contains(p)).collect();
        if fresh.is_empty() {
            break;
        }
        for &p in &fresh {
            let _ = kill(Pid::from_raw(p), Signal::SIGSTOP);
        }
        seen.extend(fresh);
    }
    Ok(seen)
}

fn alive(pid: i32) -> bool {
    proc::get(pid as i64).is_ok_and(|p| p.state != "zombie" && p.state != "dead")
}

pub fn signal_of(name: &str) -> Result<Signal> {
    match name.trim_start_matches("SIG").to_ascii_uppercase().as_str() {
        "TERM" => Ok(Signal::SIGTERM),
        "KILL" => Ok(Signal::SIGKILL),
        "INT" => Ok(Signal::SIGINT),
        "HUP" => Ok(Signal::SIGHUP),
        "STOP" => Ok(Signal::SIGSTOP),
        "CONT" => Ok(Signal::SIGCONT),
        other => Err(Error::invalid(format!(
            "signal {other:?}: expected TERM, KILL, INT, HUP, STOP or CONT"
        ))),
    }
}

#[derive(Debug, Serialize)]
pub struct Killed {
    pub pid: i32,
    pub signal: String,
    pub killed: Vec<i32>,
    pub gone: bool,
    pub respawned: bool,
    pub new_pid: Option<i32>,
    /// Evidence ids of the descendants captured while they were frozen.
    pub children_evidence: Vec<String>,
    /// Descendants whose capture failed, with why.
    pub children_evidence_failed: Vec<String>,
}

pub struct KillRequest {
    pub pid: i32,
    pub signal: Signal,
    pub grace: Duration,
    /// The process and all its descendants together (a loop and its child).
    pub tree: bool,
}

/// Sends one signal (suspend, resume) to a process checked by [`check_killable`].
pub fn signal(pid: i32, sig: Signal) -> Result<()> {
    kill(Pid::from_raw(pid), sig).map_err(|e| Error::io(format!("pid {pid}"), e.into()))
}

/// Stops a process (with its tree when asked): the tree is frozen first so
/// a loop cannot start another child, the frozen descendants are captured
/// into `evidence_dir`, then all are signalled and checked for respawns.
/// The caller has captured the process itself and journaled the intent.
pub fn kill_process(
    req: &KillRequest,
    evidence_dir: Option<&Path>,
    cancel: &CancelToken,
) -> Result<Killed> {
    let pid = req.pid;
    let targets = if req.tree {
        // Re-walked now, frozen, so a child forked since the plan is not missed.
        freeze_tree(pid, cancel).or_else(|_| tree(pid, cancel))?
    } else {
        vec![pid]
    };
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    if let Some(dir) = evidence_dir {
        for &p in targets.iter().skip(1) {
            match crate::host::evidence::process(p, dir, cancel) {
                Ok(m) => ok.push(m.id),
                Err(e) => failed.push(format!("pid {p}: {}", e.message)),
            }
        }
    }
    let mut k = kill_all(&targets, req.signal, req.grace, cancel)?;
    k.children_evidence = ok;
    k.children_evidence_failed = failed;
    Ok(k)
}

/// Stops every pid in `targets` (the first is the one asked for): `signal`
/// first, then KILL after `grace` for what is still there; then watches for
/// a respawn ([`crate::host::action::is_respawn`]).
pub fn kill_all(
    targets: &[i32],
    signal: Signal,
    grace: Duration,
    cancel: &CancelToken,
) -> Result<Killed> {
    let first = *targets
        .first()
        .ok_or_else(|| Error::invalid("pid: nothing to kill"))?;
    let before = action::proc_identity_light(first).ok();
    // Stop them all first, so a parent loop cannot respawn a child between signals.
    for &p in targets {
        let _ = kill(Pid::from_raw(p), Signal::SIGSTOP);
    }
    let after_ticks = action::now_ticks()?;
    for &p in targets {
        let _ = kill(Pid::from_raw(p), signal);
        let _ = kill(Pid::from_raw(p), Signal::SIGCONT);
    }
    let start = Instant::now();
    while targets.iter().any(|p| alive(*p)) && start.elapsed() < grace {
        cancel.sleep(Duration::from_millis(50))?;
    }
    let mut used = format!("{signal:?}").trim_start_matches("SIG").to_string();
    if targets.iter().any(|p| alive(*p)) {
        for &p in targets {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        used.push_str(" then KILL");
        let start = Instant::now();
        while targets.iter().any(|p| alive(*p)) && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let gone = !targets.iter().any(|p| alive(*p));
    // A supervisor or a parent loop would start the same program again.
    let mut new_pid = None;
    if let Some(b) = before {
        let start = Instant::now();
        while new_pid.is_none() && start.elapsed() < Duration::from_millis(1500) {
            cancel.sleep(Duration::from_millis(100))?;
            new_pid = respawn_of(&b, targets, after_ticks, cancel)?;
        }
    }
    Ok(Killed {
        pid: first,
        signal: used,
        killed: targets.to_vec(),
        gone,
        respawned: new_pid.is_some(),
        new_pid,
        children_evidence: vec![],
        children_evidence_failed: vec![],
    })
}

/// A process that respawned `killed` since `after_ticks`, if any.
fn respawn_of(
    killed: &action::ProcIdentity,
    targets: &[i32],
    after_ticks: u64,
    cancel: &CancelToken,
) -> Result<Option<i32>> {
    let dir = std::fs::read_dir("/proc").map_err(|e| Error::io("/proc", e))?;
    for (i, e) in dir.flatten().enumerate() {
        if i % 256 == 0 {
            cancel.check()?;
        }
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if targets.contains(&pid) {
            continue;
        }
        // Cheap filter first: most processes started before the kill.
        if action::start_ticks(pid).map_or(true, |t| t < after_ticks) {
            continue;
        }
        if let Ok(p) = action::proc_identity_light(pid) {
            if action::is_respawn(killed, &p, after_ticks) {
                return Ok(Some(pid));
            }
        }
    }
    Ok(None)
}

/// Paths whose removal would break the system.
const CRITICAL: &[&str] = &[
    "/",
    "/bin",
    "/sbin",
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/lib",
    "/lib64",
    "/lib32",
    "/etc",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/sudoers",
    "/etc/fstab",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var",
    "/home",
    "/root",
    "/tmp",
    "/var/tmp",
    "/dev/shm",
];

/// The path as the kernel would resolve it, except its last component: the
/// parent folder is canonicalized (so `..` and symlinked folders cannot
/// smuggle `/etc/passwd` past the check) while a final symlink stays a link.
fn resolved(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let name = abs.file_name().filter(|n| *n != ".." && *n != ".");
    match (abs.parent(), name) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|p| p.join(name))
            .unwrap_or(abs.clone()),
        _ => std::fs::canonicalize(&abs).unwrap_or(abs),
    }
}

/// Refuses critical paths and anything inside the case folder.
pub fn check_removable(path: &Path, case_dir: &Path) -> Result<()> {
    let abs = resolved(path);
    let shown = lossless(abs.as_os_str().as_bytes());
    let norm = shown.trim_end_matches('/');
    let norm = if norm.is_empty() { "/" } else { norm };
    if CRITICAL.contains(&norm) || norm.starts_with("/proc/") || norm.starts_with("/sys/") {
        return Err(Error::invalid(format!(
            "{shown:?} is a system path; refusing to remove it"
        )));
    }
    let case_dir = std::fs::canonicalize(case_dir).unwrap_or_else(|_| case_dir.to_path_buf());
    if abs.starts_with(&case_dir) || case_dir.starts_with(&abs) {
        return Err(Error::invalid(format!(
            "{shown:?} is (or holds) the case folder"
        )));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Quarantined {
    pub id: String,
    pub original: String,
    pub sha256: Option<String>,
    pub size: u64,
    pub stored: String,
    pub kind: &'static str,
}

fn failpoint(name: &str) -> Result<()> {
    // Documented for tests of crash safety: HOUND_FAILPOINT=quarantine_after_copy.
    if std::env::var("HOUND_FAILPOINT").is_ok_and(|v| v == name) {
        return Err(Error::io_msg(format!("failpoint {name} triggered")));
    }
    Ok(())
}

/// Moves one file (or symlink, kept as a link) into `qdir`: copy, verify,
/// fsync, metadata, and only then remove the original.
pub fn quarantine(path: &Path, qdir: &Path) -> Result<Quarantined> {
    let meta = metadata(path)?;
    // Opening a fifo to hash it would block forever; devices and sockets
    // are not payloads to move either.
    let ft = std::fs::symlink_metadata(path)
        .map_err(|e| Error::io(path.display(), e))?
        .file_type();
    if !ft.is_file() && !ft.is_symlink() {
        return Err(Error::invalid(format!(
            "{}: not a regular file or symlink (a fifo, socket or device); nothing moved",
            path.display()
        )));
    }
    // Absolute, so fs::restore puts it back whatever the working folder then.
    let original = lossless(resolved(path).as_os_str().as_bytes());
    std::fs::create_dir_all(qdir).map_err(|e| Error::io(qdir.display(), e))?;
    let (id, sha, kind) = if meta["symlink"] == true {
        (
            format!("link-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%6f")),
            None,
            "symlink",
        )
    } else {
        let sha = sha256_file(path)?;
        let stored = qdir.join(&sha);
        // The content is stored once per hash; each quarantined path gets its
        // own record, so two files with the same bytes both restore.
        let mut id = sha.clone();
        let mut n = 1;
        // A record of this very path (a retry after a crash before removal)
        // is reused.
        while let Ok(rec) = record(&id, qdir) {
            if rec["original"].as_str() == Some(original.as_str()) {
                break;
            }
            n += 1;
            id = format!("{sha}-{n}");
        }
        if stored.exists() {
            if sha256_file(&stored)? != sha {
                return Err(Error::io_msg(format!(
                    "{}: stored copy does not match its name; nothing removed",
                    stored.display()
                )));
            }
        } else {
            let tmp = qdir.join(format!(".{id}.part"));
            let _ = std::fs::remove_file(&tmp);
            let copied = copy_synced(path, &tmp)?;
            if copied != sha {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::io_msg(format!(
                    "{original}: changed while it was copied; nothing removed"
                )));
            }
            std::fs::rename(&tmp, &stored).map_err(|e| Error::io(stored.display(), e))?;
        }
        (id, Some(sha), "file")
    };
    let record = json!({ "id": id, "original": original, "sha256": sha, "kind": kind, "metadata": meta,
                         "quarantined_at": chrono::Utc::now().to_rfc3339() });
    crate::host::evidence::write_json(&qdir.join(format!("{id}.json")), &record)?;
    if let Ok(d) = std::fs::File::open(qdir) {
        let _ = d.sync_all();
    }
    failpoint("quarantine_after_copy")?;
    std::fs::remove_file(path).map_err(|e| Error::io(format!("removing {original}"), e))?;
    let stored = qdir
        .join(sha.as_deref().unwrap_or(id.as_str()))
        .display()
        .to_string();
    Ok(Quarantined {
        id,
        original,
        sha256: sha,
        size: meta["size"].as_u64().unwrap_or(0),
        stored,
        kind,
    })
}

/// The record of a quarantined item.
pub fn record(id: &str, qdir: &Path) -> Result<Value> {
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return Err(Error::invalid(format!("id {id:?} is not a quarantine id")));
    }
    let p = qdir.join(format!("{id}.json"));
    let text = std::fs::read_to_string(&p).map_err(|_| {
        Error::not_found(format!(
            "id {id:?}: nothing with that id in {}",
            qdir.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| Error::io_msg(format!("{}: {e}", p.display())))
}

/// Puts a quarantined item back, byte for byte, with owner, mode and times.
pub fn restore(id: &str, qdir: &Path) -> Result<PathBuf> {
    let rec = record(id, qdir)?;
    let original = PathBuf::from(rec["original"].as_str().unwrap_or_default());
    if std::fs::symlink_metadata(&original).is_ok() {
        return Err(Error::invalid(format!(
            "{}: something exists there again; move it away first",
            original.display()
        )));
    }
    // A recursive quarantine removes the emptied folders; put them back.
    if let Some(parent) = original.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent.display(), e))?;
    }
    let m = &rec["metadata"];
    if rec["kind"] == "symlink" {
        let target = m["link_target"].as_str().unwrap_or_default();
        std::os::unix::fs::symlink(target, &original)
            .map_err(|e| Error::io(original.display(), e))?;
        return Ok(original);
    }
    let stored = qdir.join(rec["sha256"].as_str().unwrap_or(id));
    let sha = copy_synced(&stored, &original)?;
    if Some(sha.as_str()) != rec["sha256"].as_str() {
        return Err(Error::io_msg(format!(
            "{}: restored copy does not match its hash",
            original.display()
        )));
    }
    // Owner first: chown clears set-uid and set-gid, so the mode goes after.
    let uid = m["uid"]
        .as_u64()
        .map(|u| nix::unistd::Uid::from_raw(u as u32));
    let gid = m["gid"]
        .as_u64()
        .map(|g| nix::unistd::Gid::from_raw(g as u32));
    let _ = nix::unistd::chown(&original, uid, gid);
    let mode = u32::from_str_radix(m["mode"].as_str().unwrap_or("0644"), 8).unwrap_or(0o644);
    let _ = nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &original,
        nix::sys::stat::Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    );
    let ts = |k: &str| {
        let a = m[k].as_array()?;
        Some(nix::sys::time::TimeSpec::new(
            a.first()?.as_i64()?,
            a.get(1)?.as_i64()?,
        ))
    };
    if let (Some(at), Some(mt)) = (ts("atime_ns"), ts("mtime_ns")) {
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &original,
            &at,
            &mt,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| Error::io(original.display(), e.into()))?;
    }
    Ok(original)
}
