//! Acting on the host: signals that are checked (quarantine lives in
//! `host::quarantine`). Evidence and journaling happen in the binding,
//! before any of this runs.

use crate::error::{Error, Result};
use crate::host::proc;
use crate::runtime::CancelToken;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;
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
}

/// Stops every pid in `targets` (the first is the one asked for): `signal`
/// first, then KILL after `grace` for what is still there; then checks
/// whether something with the same command line came back.
pub fn kill_all(
    targets: &[i32],
    signal: Signal,
    grace: Duration,
    cancel: &CancelToken,
) -> Result<Killed> {
    let first = *targets
        .first()
        .ok_or_else(|| Error::invalid("pid: nothing to kill"))?;
    let before = proc::get(first as i64).ok();
    // Stop them all first, so a parent loop cannot respawn a child between signals.
    for &p in targets {
        let _ = kill(Pid::from_raw(p), Signal::SIGSTOP);
    }
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
    // A supervisor or a parent loop would start the same command again.
    let mut new_pid = None;
    if let Some(b) = before.filter(|b| !b.cmdline.is_empty()) {
        let start = Instant::now();
        while new_pid.is_none() && start.elapsed() < Duration::from_millis(1500) {
            cancel.sleep(Duration::from_millis(100))?;
            new_pid = proc::list(cancel, &mut |_| {})?
                .into_iter()
                .find(|p| {
                    // Same command under the same parent (a loop) or init (a
                    // daemon restarted by a supervisor or re-parented).
                    p.cmdline == b.cmdline
                        && !targets.contains(&p.pid)
                        && p.pid != b.pid
                        && (p.ppid == b.ppid || p.ppid == 1)
                })
                .map(|p| p.pid);
        }
    }
    Ok(Killed {
        pid: first,
        signal: used,
        killed: targets.to_vec(),
        gone,
        respawned: new_pid.is_some(),
        new_pid,
    })
}
