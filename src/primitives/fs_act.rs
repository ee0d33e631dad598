//! `fs::` primitives that act: quarantine and restore (plus `exists`).

use crate::host::quarantine;
use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use serde_json::json;

fn quarantine_impl(nc: &NativeCallContext, path: &str, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "fs::quarantine";
    let c = ctx(nc, P)?;
    let o = Opts::new(P, opts, &["recursive"])?;
    let recursive = o.bool("recursive")?.unwrap_or(false);
    let case_dir = c.case.lock().map(|s| s.dir.clone()).unwrap_or_default();
    // One plan for the real run and --dry-run, so both say the same.
    let plan =
        quarantine::plan(&quarantine::path_arg(path).rhai(P)?, recursive, &case_dir).rhai(P)?;
    let files = &plan.files;
    c.require_destructive(P, &format!("quarantine {path} ({} file(s))", files.len()))
        .rhai(P)?;
    for (f, why) in &plan.would_refuse {
        c.warn(P, format!("{f}: {why}; left in place"));
    }
    if c.dry_run() {
        let v = json!({ "status": "dry_run", "original": plan.original,
                        "would_quarantine": plan.would_quarantine, "would_refuse": plan.would_refuse });
        c.journal(P, json!({ "path": path }), v.clone(), None)
            .rhai(P)?;
        return to_dyn(&v);
    }
    let qdir = c
        .case
        .lock()
        .map_err(|_| args::bad(P, "case state poisoned"))?
        .quarantine_dir()
        .rhai(P)?;
    let mut done = Vec::new();
    for (f, shown) in files.iter().zip(&plan.would_quarantine) {
        let sha = quarantine::hash_regular(f);
        c.journal(
            P,
            json!({ "path": shown, "sha256": sha }),
            json!({ "planned": "copy, verify, fsync, then remove" }),
            Some(json!({ "primitive": "fs::restore", "args": { "id": sha } })),
        )
        .rhai(P)?;
        let q = match quarantine::quarantine(f, &qdir, &case_dir) {
            Ok(q) => q,
            // One file of a folder that cannot be moved is a warning; the
            // failure happens before its removal, so it stays where it was.
            Err(e) if plan.is_dir => {
                c.warn(P, format!("{shown}: {}; left in place", e.message));
                let _ = c.journal(
                    P,
                    json!({ "path": shown, "outcome": true }),
                    json!({ "failed": e.message, "left_in_place": true }),
                    None,
                );
                continue;
            }
            Err(e) => return Err(crate::primitives::to_rhai(e.in_primitive(P))),
        };
        // The outcome names the record actually written (a second file with
        // the same bytes gets `<sha256>-2`), so its undo is the one to use.
        let _ = c.journal(
            P,
            json!({ "path": shown, "outcome": true }),
            serde_json::to_value(&q).unwrap_or_default(),
            Some(json!({ "primitive": "fs::restore", "args": { "id": q.id } })),
        );
        done.push(q);
    }
    if plan.is_dir {
        // Only empty folders go, deepest first: nothing unquarantined is lost.
        quarantine::remove_empty_dirs(&plan);
        return to_dyn(&json!({ "status": "quarantined", "original": path, "files": done }));
    }
    let mut v = serde_json::to_value(done.pop()).unwrap_or_default();
    v["status"] = json!("quarantined");
    to_dyn(&v)
}

#[export_module]
pub mod fs_act_fns {
    use super::*;

    /// Moves a file into the case's quarantine without losing it: copies it
    /// (named by its sha256) with a metadata record (original path, owner,
    /// mode, times, hash), verifies the copy, fsyncs, and only then removes
    /// the original. A symlink is kept as a link, never followed. Refuses
    /// system paths and directories (unless `recursive: true`). Returns
    /// `#{id, original, sha256, size, stored, status}`; `fs::restore(id)`
    /// undoes it. Destructive.
    ///
    /// ```rhai
    /// // no_run
    /// let q = fs::quarantine("/tmp/bot.sh");
    /// q.sha256
    /// ```
    #[rhai_fn(name = "quarantine", return_raw)]
    pub fn quarantine(nc: NativeCallContext, path: &str) -> RhaiResult<Dynamic> {
        quarantine_impl(&nc, path, Map::new())
    }

    /// `fs::quarantine(path, #{ recursive: true })` for a folder's files.
    ///
    /// ```rhai
    /// // no_run
    /// fs::quarantine("/dev/shm/.x", #{ recursive: true })
    /// ```
    #[rhai_fn(name = "quarantine", return_raw)]
    pub fn quarantine_with(nc: NativeCallContext, path: &str, opts: Map) -> RhaiResult<Dynamic> {
        quarantine_impl(&nc, path, opts)
    }

    /// Puts a quarantined file back where it was, byte for byte, with its
    /// owner, mode and times. Refuses if something exists there again.
    ///
    /// ```rhai
    /// // no_run
    /// fs::restore("a0f4a1571bb43eec90419d46865ff507c6cd5a2abdb3c02d217ebcd10d491c67")
    /// ```
    #[rhai_fn(name = "restore", return_raw)]
    pub fn restore(nc: NativeCallContext, id: &str) -> RhaiResult<Dynamic> {
        const P: &str = "fs::restore";
        let c = ctx(&nc, P)?;
        let qdir = c
            .case
            .lock()
            .map_err(|_| args::bad(P, "case state poisoned"))?
            .quarantine_dir()
            .rhai(P)?;
        let rec = quarantine::record(id, &qdir).rhai(P)?;
        c.require_destructive(P, &format!("restore {}", rec["original"]))
            .rhai(P)?;
        c.journal(
            P,
            json!({ "id": id }),
            json!({ "original": rec["original"] }),
            Some(json!({ "primitive": "fs::quarantine", "args": { "path": rec["original"] } })),
        )
        .rhai(P)?;
        if c.dry_run() {
            quarantine::restore_check(id, &qdir).rhai(P)?;
            return to_dyn(&json!({ "status": "dry_run", "would_restore": rec["original"] }));
        }
        let path = quarantine::restore(id, &qdir).rhai(P)?;
        let path =
            crate::output::lossless(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()));
        to_dyn(&json!({ "status": "restored", "path": path, "sha256": rec["sha256"] }))
    }

    /// Whether something exists at `path` (a broken symlink counts).
    ///
    /// ```rhai
    /// fs::exists("/") && !fs::exists("/nonexistent/x")
    /// ```
    #[rhai_fn(name = "exists")]
    pub fn exists(path: &str) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }
}
