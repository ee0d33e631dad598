//! `proc::` primitives that act: kill, suspend, resume. They check their
//! arguments; the action gate (`runtime::action_exec`) does the rest:
//! evidence, journal, dry-run, the signal.

use crate::host::remediate;
use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use crate::runtime::action_exec::{self, KillArgs};
use rhai::plugin::*;
use rhai::{Dynamic, Map};
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
    let k = KillArgs {
        pid,
        signal: remediate::signal_of(&o.str("signal")?.unwrap_or_else(|| "TERM".into())).rhai(P)?,
        grace: o.duration("grace")?.unwrap_or(Duration::from_secs(3)),
        tree: o.bool("tree")?.unwrap_or(false),
    };
    let a = action_exec::kill(&c, &k, None).into_result().rhai(P)?;
    to_dyn(&a.result)
}

fn stop_cont(nc: &NativeCallContext, p: &str, pid: i64, suspend: bool) -> RhaiResult<Dynamic> {
    let c = ctx(nc, p)?;
    let pid = pid_of(p, pid)?;
    let a = action_exec::stop_cont(&c, p, pid, suspend)
        .into_result()
        .rhai(p)?;
    to_dyn(&a.result)
}

#[export_module]
pub mod proc_act_fns {
    use super::*;

    /// Stops a process: captures it as evidence (executable, environment,
    /// maps, files, sockets, parent chain), journals, sends TERM, waits 3 s,
    /// then KILL, and checks it is gone and whether it respawned within
    /// 1.5 s (`respawned`, `new_pid`): a process started after the kill, in
    /// the same pid, mount and network namespaces and cgroup, running the
    /// same executable with the same arguments, or the same script. Refuses
    /// pid 1, hound itself and its parents, and kernel threads.
    /// Destructive. Returns `#{pid, signal,
    /// killed, gone, respawned, new_pid, evidence, evidence_error,
    /// children_evidence, children_evidence_failed, what, status}`; in a dry
    /// run `#{pid, status: "dry_run", would_kill, what}`.
    ///
    /// ```rhai
    /// // no_run
    /// proc::kill(6856)
    /// ```
    ///
    /// Returns: map
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
    ///
    /// Returns: map
    #[rhai_fn(name = "suspend", return_raw)]
    pub fn suspend(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        stop_cont(&nc, "proc::suspend", pid, true)
    }

    /// Resumes a suspended process (SIGCONT).
    ///
    /// ```rhai
    /// // no_run
    /// proc::resume(6840)
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "resume", return_raw)]
    pub fn resume(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        stop_cont(&nc, "proc::resume", pid, false)
    }
}
