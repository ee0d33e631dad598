//! `proc::` primitives that read (kill/suspend live in `proc_act.rs`).

use crate::host::proc as host;
use crate::primitives::{ctx, to_dyn, IntoRhai, RhaiResult};
use rhai::plugin::*;
use rhai::Dynamic;

#[export_module]
pub mod proc_fns {
    use super::*;

    /// Every process: `pid`, `ppid`, `name`, `cmdline` (array), `exe`,
    /// `exe_deleted` (the binary was removed from disk), `cwd`, `user`,
    /// `uid`, `state`, `start_time` (ISO 8601 UTC), `rss` (bytes),
    /// `threads`, `cgroup` (path), `container` (`()` or `#{runtime, id,
    /// pod}` from the cgroup path: docker, podman, containerd, cri-o,
    /// kubernetes, lxc, nspawn, machine), `namespaces` (inode by name:
    /// `net`, `pid`, `mnt`, ...). Processes that exit while being read are
    /// skipped; unprivileged, other users' `exe`/`cwd`/`namespaces` are empty.
    ///
    /// ```rhai
    /// let ps = proc::list();
    /// ps.len() > 0 && ps.all(|p| p.pid > 0)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "list", return_raw)]
    pub fn list(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "proc::list";
        let c = ctx(&nc, P)?;
        to_dyn(&host::list(&c.cancel, &mut |w| c.warn(P, w)).rhai(P)?)
    }

    /// One process by pid (same fields as `proc::list`); `not_found` when
    /// it does not exist.
    ///
    /// ```rhai
    /// let me = proc::get(proc::list()[0].pid);
    /// me.pid > 0
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "get", return_raw)]
    pub fn get(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "proc::get")?;
        to_dyn(&host::get(pid).rhai("proc::get")?)
    }

    /// The direct children of a process.
    ///
    /// ```rhai
    /// proc::children(1).all(|c| c.ppid == 1)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "children", return_raw)]
    pub fn children(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        let c = ctx(&nc, "proc::children")?;
        to_dyn(&host::children(pid, &c.cancel).rhai("proc::children")?)
    }

    /// The parent chain up to pid 1, nearest first (the process itself
    /// excluded): who started `nc`, and who started that.
    ///
    /// ```rhai
    /// // hound's own chain: a process listed a moment ago may have exited.
    /// proc::ancestors(hound_self().pid).map(|a| a.name)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "ancestors", return_raw)]
    pub fn ancestors(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "proc::ancestors")?;
        to_dyn(&host::ancestors(pid).rhai("proc::ancestors")?)
    }

    /// Open file descriptors: `fd`, `target`, `kind` (`file`, `socket`,
    /// `pipe`, `anon`, `other`), `inode` (sockets).
    ///
    /// ```rhai
    /// proc::files(proc::list()[-1].pid).filter(|f| f.kind == "socket")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "files", return_raw)]
    pub fn files(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "proc::files")?;
        to_dyn(&host::files(pid).rhai("proc::files")?)
    }

    /// The environment of a process, as a map (root, or your own processes).
    ///
    /// ```rhai
    /// // no_run
    /// proc::env(1234).LD_PRELOAD
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "env", return_raw)]
    pub fn env(nc: NativeCallContext, pid: i64) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "proc::env")?;
        to_dyn(&host::env(pid).rhai("proc::env")?)
    }

    /// Processes by name or by path: `proc::find("nc")` finds processes named
    /// `nc` or whose executable (or `argv[0]`) is called `nc`, not every
    /// command line that happens to contain the letters; a pattern with a `/`
    /// (`proc::find("/tmp/")`) finds processes whose executable or any
    /// argument starts with that path (`bash /tmp/bot.sh`).
    ///
    /// ```rhai
    /// type_of(proc::find("/tmp/")) == "array" && proc::find("hound").all(|p| p.pid > 0)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "find", return_raw)]
    pub fn find(nc: NativeCallContext, pattern: &str) -> RhaiResult<Dynamic> {
        const P: &str = "proc::find";
        let c = ctx(&nc, P)?;
        let all = host::list(&c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
        let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
        let hits: Vec<_> = all
            .into_iter()
            .filter(|p| {
                if pattern.contains('/') {
                    p.exe.as_deref().is_some_and(|e| e.starts_with(pattern))
                        || p.cmdline.iter().any(|a| a.starts_with(pattern))
                } else {
                    p.name == pattern
                        || p.exe.as_deref().is_some_and(|e| base(e) == pattern)
                        || p.cmdline.first().is_some_and(|a| base(a) == pattern)
                }
            })
            .collect();
        to_dyn(&hits)
    }
}
