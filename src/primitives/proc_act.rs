//! `proc::` primitives that act: kill, suspend, resume. Each captures the
//! process as evidence and journals before it signals.

use crate::host::{evidence, remediate};
use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use serde_json::json;
use std::time::Duration;

fn pid_of(p: &str, pid: i64) -> RhaiResult<i32> {
    i32::try_from(pid)
        .ok()
        .filter(|x| *x > 0)
        .ok_or_else(|| args::bad(p, format!("pid: {pid} is not a process id")))
}

fn kill_impl(nc: &NativeCallContext, pid: i64, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "proc::kill";
    let c = ctx(nc, P)?;
    let pid = pid_of(P, pid)?;
    let o = Opts::new(P, opts, &["signal", "grace", "tree"])?;
    let signal =
        remediate::signal_of(&o.str("signal")?.unwrap_or_else(|| "TERM".into())).rhai(P)?;
    let grace = o.duration("grace")?.unwrap_or(Duration::from_secs(3));
    let tree = o.bool("tree")?.unwrap_or(false);
    let target = remediate::check_killable(pid).rhai(P)?;
    let targets = if tree {
        remediate::tree(pid, &c.cancel).rhai(P)?
    } else {
        vec![pid]
    };
    let what = if target.cmdline.is_empty() {
        target.name.clone()
    } else {
        target.cmdline.join(" ")
    };
    c.require_destructive(
        P,
        &format!(
            "kill pid {pid} ({what}){}",
            if tree { " and its descendants" } else { "" }
        ),
    )
    .rhai(P)?;
    let args =
        json!({ "pid": pid, "signal": format!("{signal:?}"), "tree": tree, "targets": targets });
    if c.dry_run() {
        c.journal(
            P,
            args,
            json!({ "what": what, "would_kill": targets }),
            None,
        )
        .rhai(P)?;
        return to_dyn(
            &json!({ "pid": pid, "status": "dry_run", "would_kill": targets, "what": what }),
        );
    }
    // Evidence first: once it is dead, /proc/PID is gone with the executable.
    let dir = c
        .case
        .lock()
        .map_err(|_| args::bad(P, "case state poisoned"))?
        .evidence_dir()
        .rhai(P)?;
    let ev = evidence::process(pid, &dir, &c.cancel).rhai(P)?;
    c.journal(
        P,
        args.clone(),
        json!({ "what": what, "evidence": ev.id, "exe_sha256": ev.sha256 }),
        Some(json!({ "primitive": "none", "args": { "note": "a killed process cannot be revived; its evidence is kept", "evidence": ev.stored } })),
    )
    .rhai(P)?;
    // Re-walk the tree now, frozen, so a child forked since the plan is not missed.
    // On failure the planned list is used: kill_all signals (and continues)
    // every one of them, so nothing is left frozen.
    let targets = if tree {
        remediate::freeze_tree(pid, &c.cancel).unwrap_or_else(|_| targets.clone())
    } else {
        targets
    };
    // The descendants are frozen now: capture them too (the loop's `nc`
    // child is what shows where the traffic went). Best effort.
    let mut child_evidence = Vec::new();
    for &p in targets.iter().skip(1) {
        match evidence::process(p, &dir, &c.cancel) {
            Ok(m) => child_evidence.push(m.id),
            Err(e) => c.warn(P, format!("pid {p}: evidence not captured: {}", e.message)),
        }
    }
    let k = remediate::kill_all(&targets, signal, grace, &c.cancel).rhai(P)?;
    let mut out = serde_json::to_value(&k).unwrap_or_default();
    out["children_evidence"] = json!(child_evidence);
    out["what"] = json!(what);
    out["evidence"] = json!(ev.id);
    out["status"] = json!(if k.gone { "killed" } else { "still_running" });
    let _ = c.journal(P, json!({ "pid": pid, "outcome": true }), out.clone(), None);
    to_dyn(&out)
}

fn stop_cont(
    nc: &NativeCallContext,
    p: &str,
    pid: i64,
    sig: nix::sys::signal::Signal,
) -> RhaiResult<Dynamic> {
    let c = ctx(nc, p)?;
    let pid = pid_of(p, pid)?;
    let target = remediate::check_killable(pid).rhai(p)?;
    c.require_destructive(p, &format!("{p} pid {pid} ({})", target.name))
        .rhai(p)?;
    let undo = if p == "proc::suspend" {
        "proc::resume"
    } else {
        "proc::suspend"
    };
    c.journal(
        p,
        json!({ "pid": pid }),
        json!({ "what": target.name }),
        Some(json!({ "primitive": undo, "args": { "pid": pid } })),
    )
    .rhai(p)?;
    if c.dry_run() {
        return to_dyn(&json!({ "pid": pid, "status": "dry_run" }));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
        .map_err(|e| crate::Error::io(format!("pid {pid}"), e.into()))
        .rhai(p)?;
    to_dyn(
        &json!({ "pid": pid, "status": if p == "proc::suspend" { "suspended" } else { "resumed" } }),
    )
}

#[export_module]
pub mod proc_act_fns {
    use super::*;

    /// Stops a process: captures it as evidence (executable, environment,
    /// maps, files, sockets, parent chain), journals, sends TERM, waits 3 s,
    /// then KILL, and checks it is gone and whether something restarted the
    /// same command within 1.5 s under the same parent or init (`respawned`,
    /// `new_pid`). Refuses pid 1, hound itself and its parents, and kernel
    /// threads. Destructive. Returns `#{pid, signal, killed, gone,
    /// respawned, new_pid, evidence, children_evidence, what, status}`; in a
    /// dry run `#{pid, status: "dry_run", would_kill, what}`.
    ///
    /// ```rhai
    /// // no_run
    /// proc::kill(6856)
    /// ```
    #[rhai_fn(name = "kill", return_raw)]
    pub fn kill(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        kill_impl(&nc, pid, Map::new())
    }

    /// `proc::kill(pid, opts)`: `signal` (`"TERM"`, `"KILL"`, ...), `grace`
    /// (before KILL), `tree: true` to stop the process and all its
    /// descendants together (a loop that respawns its child).
    ///
    /// ```rhai
    /// // no_run
    /// proc::kill(6840, #{ tree: true, grace: "1s" })
    /// ```
    #[rhai_fn(name = "kill", return_raw)]
    pub fn kill_with(nc: NativeCallContext, pid: i64, opts: Map) -> RhaiResult<Dynamic> {
        kill_impl(&nc, pid, opts)
    }

    /// Freezes a process (SIGSTOP) while you investigate; `proc::resume`
    /// undoes it. Destructive (journaled, honours dry-run).
    ///
    /// ```rhai
    /// // no_run
    /// proc::suspend(6840)
    /// ```
    #[rhai_fn(name = "suspend", return_raw)]
    pub fn suspend(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        stop_cont(&nc, "proc::suspend", pid, nix::sys::signal::Signal::SIGSTOP)
    }

    /// Resumes a suspended process (SIGCONT).
    ///
    /// ```rhai
    /// // no_run
    /// proc::resume(6840)
    /// ```
    #[rhai_fn(name = "resume", return_raw)]
    pub fn resume(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        stop_cont(&nc, "proc::resume", pid, nix::sys::signal::Signal::SIGCONT)
    }
}
