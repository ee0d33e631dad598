//! Acting on the host: signals that are checked (quarantine lives in
//! `host::quarantine`). Evidence and journaling happen in the binding,
//! before any of this runs.

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::host::{action, proc};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use std::path::Path;
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
