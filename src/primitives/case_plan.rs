//! `case::` primitives of the remediation plan: `plan_add`, `plan`,
//! `apply`, `undo`. The work is in `runtime::plan`.

use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use crate::runtime::plan::{self, ApplyOpts};
use rhai::plugin::*;
use rhai::{Dynamic, Map};

fn apply_impl(nc: &NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "case::apply";
    let c = ctx(nc, P)?;
    let o = Opts::new(P, opts, &["only", "approve"])?;
    let a = ApplyOpts {
        only: o.strings("only")?,
        approve: o.strings("approve")?.unwrap_or_default(),
    };
    to_dyn(&plan::apply(&c, &a).rhai(P)?)
}

#[export_module]
pub mod case_plan_fns {
    use super::*;

    /// Adds a remediation step to the case's plan and returns its id
    /// (`"A1"`, `"A2"`, ...); nothing is changed until `case::apply`.
    ///
    /// `item` is `#{ action, target, why, approval }`:
    /// - `action` `"kill"` (target `#{ pid, tree, signal }`), `"quarantine"`
    ///   (`#{ path }`), `"remove_line"` (`#{ path, line, text }`: 1-based
    ///   line and its exact text), `"disable_unit"` (`#{ path }` of a unit
    ///   file), `"lock_account"` (`#{ user }`), `"block"` (`#{ target,
    ///   direction }`).
    /// - `why`: the evidence edges (`#{ from, to, relation, evidence }`) or
    ///   strings; empty is refused (no evidence, no action).
    /// - `approval`: `"auto"` (default) or `"required"`; hound forces
    ///   `"required"` for accounts, SSH key lines and package-owned files.
    ///
    /// hound records the target's identity now (a process's start time,
    /// executable and its sha256, command line, namespaces; a file's sha256,
    /// size and inode) and re-checks it before acting. The same action on
    /// the same target returns the existing id. Saved in `<case>/plan.json`.
    ///
    /// ```rhai
    /// let id = case::plan_add(#{ action: "block", target: #{ target: "192.0.2.7" },
    ///                           why: ["beacon to 192.0.2.7:80 every 2 s"] });
    /// id.starts_with("A")
    /// ```
    ///
    /// Returns: string
    #[rhai_fn(name = "plan_add", return_raw)]
    pub fn plan_add(nc: NativeCallContext, item: Map) -> RhaiResult<Dynamic> {
        const P: &str = "case::plan_add";
        let c = ctx(&nc, P)?;
        let v: serde_json::Value = rhai::serde::from_dynamic(&Dynamic::from_map(item))
            .map_err(|e| args::bad(P, format!("item: {e}")))?;
        Ok(plan::add(&c, &v).rhai(P)?.into())
    }

    /// The plan's items: `id`, `action`, `target`, `identity`, `why`,
    /// `approval`, `approval_reason`, `status` (`planned`, then `done`,
    /// `would`, `skipped`, `refused`, `failed` or `undone`), `outcome`
    /// (the last apply's, see `case::apply`), `planned_at`.
    ///
    /// ```rhai
    /// case::plan().all(|i| i.status != "")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "plan", return_raw)]
    pub fn plan(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "case::plan";
        let c = ctx(&nc, P)?;
        to_dyn(&plan::current(&c).rhai(P)?.items)
    }

    /// Carries out every item not done yet, each through the action gate:
    /// identity re-checked right before acting, evidence first, journaled
    /// with undo. Returns one outcome per item: `#{ id, action, status,
    /// message, undo, action_id, result, time }`, `status` one of `done`,
    /// `would` (dry run: nothing changed), `skipped` (the pid was reused or
    /// the file changed since planned), `refused` (a protected target, the
    /// policy, or approval missing), `failed`. One item failing never stops
    /// the others. Destructive.
    ///
    /// ```rhai
    /// // no_run
    /// case::apply().filter(|o| o.status != "done")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "apply", return_raw)]
    pub fn apply(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        apply_impl(&nc, Map::new())
    }

    /// `case::apply(#{ only: ["A1", "A3"], approve: ["A4"] })`: exactly
    /// the items in `only`; `approve` gives the approval items marked
    /// `required` need (accounts, key lines, package files).
    ///
    /// ```rhai
    /// // no_run
    /// case::apply(#{ only: ["A2"], approve: ["A2"] })
    /// ```
    #[rhai_fn(name = "apply", return_raw)]
    pub fn apply_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        apply_impl(&nc, opts)
    }

    /// Undoes an applied plan item (`"A3"`), or a journaled action by its
    /// `action_id` (`"x12"`, as the report's undo column shows), with the
    /// undo its outcome recorded: a
    /// quarantined file or unit is restored (the unit's links too), a
    /// removed line goes back byte for byte, an account is unlocked, a
    /// block lifted. A killed process cannot be undone. Destructive.
    ///
    /// ```rhai
    /// // no_run
    /// case::undo("A3")
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "undo", return_raw)]
    pub fn undo(nc: NativeCallContext, id: &str) -> RhaiResult<Dynamic> {
        const P: &str = "case::undo";
        let c = ctx(&nc, P)?;
        to_dyn(&plan::undo(&c, id).rhai(P)?)
    }
}
