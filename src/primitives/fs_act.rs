//! `fs::` primitives that act: quarantine and restore (plus `exists`).
//! They check their arguments; the action gate (`runtime::action_exec`)
//! does the rest.

use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use crate::runtime::action::{Act, Applied, Status, Undo};
use crate::runtime::action_exec;
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use serde_json::json;
use std::path::Path;

fn quarantine_impl(nc: &NativeCallContext, path: &str, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "fs::quarantine";
    let c = ctx(nc, P)?;
    let o = Opts::new(P, opts, &["recursive"])?;
    let recursive = o.bool("recursive")?.unwrap_or(false);
    // Names round-trip as bytes: `\xNN` in the argument is that byte, and
    // an argument that could name two files is refused.
    let pb = crate::host::quarantine::path_arg(path).rhai(P)?;
    let p = pb.as_path();
    let meta = std::fs::symlink_metadata(p)
        .map_err(|e| crate::Error::io(path, e))
        .rhai(P)?;
    if !meta.is_dir() {
        let a = action_exec::quarantine(&c, p, None).into_result().rhai(P)?;
        return to_dyn(&a.result);
    }
    if !recursive {
        return Err(args::bad(
            P,
            format!("{path:?} is a directory; pass #{{ recursive: true }} to quarantine its files"),
        ));
    }
    let case_dir = c.case_lock().rhai(P)?.dir.clone();
    action_exec::q::check(p, &case_dir).rhai(P)?;
    let (acted, files, refused) = action_exec::quarantine_tree(&c, p).rhai(P)?;
    // A refusal of the whole run (policy) is an error; one file that could
    // not be moved is a warning, and it stays where it was.
    if let Some(e) = acted
        .iter()
        .find(|a| a.status == Status::Refused)
        .and_then(|a| a.error.clone())
    {
        return Err(crate::primitives::to_rhai(e.in_primitive(P)));
    }
    for a in acted.iter().filter(|a| a.status == Status::Failed) {
        c.warn(P, format!("{}; left in place", a.message));
    }
    if c.dry_run() {
        return to_dyn(&json!({ "status": "dry_run", "original": path,
                               "would_quarantine": files, "would_refuse": refused }));
    }
    let done: Vec<_> = acted
        .into_iter()
        .filter(|a| a.status == Status::Done)
        .map(|a| a.result)
        .collect();
    to_dyn(&json!({ "status": "quarantined", "original": path, "files": done, "refused": refused }))
}

fn restore_impl(nc: &NativeCallContext, id: &str) -> RhaiResult<Dynamic> {
    const P: &str = "fs::restore";
    let c = ctx(nc, P)?;
    let qdir = c.case_lock().rhai(P)?.quarantine_dir().rhai(P)?;
    let rec = action_exec::q::record(id, &qdir).rhai(P)?;
    let original = rec["original"].clone();
    let mut a = Act::new(P, format!("restore {original}"), json!({ "id": id }));
    a.undo = Some(Undo::new("fs::quarantine", json!({ "path": original })));
    a.would = json!({ "status": "dry_run", "would_restore": original });
    let acted = c
        .act(a, |_| {
            let path = action_exec::q::restore(id, &qdir)?;
            // A name may not be UTF-8: `json!` of a PathBuf would panic.
            let shown =
                crate::text::lossless(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()));
            Ok(Applied {
                result: json!({ "status": "restored", "path": shown, "sha256": rec["sha256"] }),
                undo: None,
            })
        })
        .into_result()
        .rhai(P)?;
    to_dyn(&acted.result)
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
    ///
    /// Returns: map
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
    ///
    /// Returns: map
    #[rhai_fn(name = "restore", return_raw)]
    pub fn restore(nc: NativeCallContext, id: &str) -> RhaiResult<Dynamic> {
        restore_impl(&nc, id)
    }

    /// Removes exactly one line of a file (persistence: a crontab line, an
    /// rc or profile line, an authorized key): `line` is 1-based and `text`
    /// its exact content without the line ending; a line that reads
    /// otherwise is refused and nothing changes. Every other byte stays as
    /// it was (the file is rewritten atomically, mode and owner kept). The
    /// journal keeps the removed bytes, so `case::undo(action_id)` puts them
    /// back byte for byte. Returns `#{status: "removed", path, line,
    /// offset, removed_text, removed_hex, sha256_before, sha256_after,
    /// action_id}`. Destructive.
    ///
    /// ```rhai
    /// // no_run
    /// let r = fs::remove_line("/var/spool/cron/crontabs/www-data", 3, "@reboot /tmp/.x/b.sh");
    /// case::undo(r.action_id);
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "remove_line", return_raw)]
    pub fn remove_line(
        nc: NativeCallContext,
        path: &str,
        line: i64,
        text: &str,
    ) -> RhaiResult<Dynamic> {
        const P: &str = "fs::remove_line";
        let c = ctx(&nc, P)?;
        let n = usize::try_from(line)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                args::bad(P, format!("line: {line} is not a line number (1 or more)"))
            })?;
        if !path.starts_with('/') {
            return Err(args::bad(P, format!("path: {path:?} is not absolute")));
        }
        let a = action_exec::remove_line(&c, Path::new(path), n, text, None)
            .into_result()
            .rhai(P)?;
        let mut v = a.result;
        v["action_id"] = json!(a.action_id);
        to_dyn(&v)
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
