//! Each destructive action, put through the gate: the direct primitives
//! (`proc::kill`, `fs::quarantine`, ...) and plan items share these, so a
//! kill is the same kill whichever way it was asked for.

use crate::error::{Error, Result};
use crate::host::action::{self, FileIdentity, ProcIdentity};
use crate::host::{action_account, action_file, fw, remediate};
use crate::runtime::action::{Act, Acted, Applied, Capture, Captured, Undo};
use crate::runtime::context::Context;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The quarantine as the actions use it, in one place: the host side
/// (`host::remediate` today, `host::quarantine` after the safety work) is
/// swapped here and nowhere else.
pub mod q {
    use crate::error::{Error, Result};
    use crate::host::quarantine;
    use std::path::{Path, PathBuf};

    pub use quarantine::Quarantined;

    /// Refuses what a quarantine would refuse: system paths, packaged
    /// files, mount points, hound itself, the case folder, non-files.
    pub fn check(path: &Path, case_dir: &Path) -> Result<()> {
        quarantine::plan(path, true, case_dir).map(|_| ())
    }
    /// For removing one line of a file: a regular file, not a system
    /// path or the case folder. A packaged conffile (an edited
    /// /etc/crontab) is allowed here: the plan asks approval for it.
    pub fn check_line(path: &Path, case_dir: &Path) -> Result<()> {
        let canon = quarantine::canonical_parent(path)?;
        let st = quarantine::at::lstat(&canon).map_err(|e| Error::io(path.display(), e.into()))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Error::invalid(format!(
                "{}: not a regular file; no line removed",
                path.display()
            )));
        }
        let none = quarantine::guard::Packages::default();
        quarantine::guard::check(&canon, &st, case_dir, &none)
    }
    pub fn put(path: &Path, qdir: &Path, case_dir: &Path) -> Result<Quarantined> {
        quarantine::quarantine(path, qdir, case_dir)
    }
    pub fn record(id: &str, qdir: &Path) -> Result<serde_json::Value> {
        quarantine::record(id, qdir)
    }
    pub fn restore(id: &str, qdir: &Path) -> Result<PathBuf> {
        quarantine::restore(id, qdir)
    }
}

pub struct KillArgs {
    pub pid: i32,
    pub signal: nix::sys::signal::Signal,
    pub grace: Duration,
    pub tree: bool,
}

fn describe(p: &crate::host::proc::Process) -> String {
    if p.cmdline.is_empty() {
        p.name.clone()
    } else {
        p.cmdline.join(" ")
    }
}

/// Kills a process (with its tree), evidence first. `planned`: the identity
/// recorded at plan time, re-checked right before the signal.
pub fn kill(c: &Context, k: &KillArgs, planned: Option<&ProcIdentity>) -> Acted {
    const P: &str = "proc::kill";
    let pid = k.pid;
    // Read for the description; a planned pid that has exited is the
    // identity check's to report (it runs first), a direct one the
    // protect step's.
    let target = remediate::check_killable(pid);
    let what_cmd = target.as_ref().map(describe).unwrap_or_default();
    let targets = if k.tree {
        remediate::tree(pid, &c.cancel).unwrap_or_else(|_| vec![pid])
    } else {
        vec![pid]
    };
    let what = format!(
        "kill pid {pid} ({what_cmd}){}",
        if k.tree { " and its descendants" } else { "" }
    );
    let mut a = Act::new(
        P,
        what,
        json!({ "pid": pid, "signal": format!("{:?}", k.signal), "tree": k.tree, "targets": targets }),
    );
    a.protect = Some(Box::new(move || target.map(|_| ())));
    if let Some(id) = planned {
        a.identity = Some(Box::new(move || action::proc_still(id)));
    }
    a.capture = vec![Capture::Process(pid)];
    a.would = json!({ "pid": pid, "status": "dry_run", "would_kill": targets, "what": what_cmd });
    a.undo = Some(Undo::none(
        "a killed process cannot be revived; its evidence is kept",
    ));
    let req = remediate::KillRequest {
        pid,
        signal: k.signal,
        grace: k.grace,
        tree: k.tree,
    };
    c.act(a, |ev| {
        let dir = c.case_lock()?.evidence_dir()?;
        let killed = remediate::kill_process(&req, Some(&dir), &c.cancel)?;
        for f in &killed.children_evidence_failed {
            c.warn(P, format!("evidence not captured: {f}"));
        }
        let mut out = serde_json::to_value(&killed).unwrap_or_default();
        // The descendants' captures with where they went and their hash,
        // so the journal (and the report) name them like the main one.
        let children: Vec<Captured> = killed
            .children_evidence
            .iter()
            .map(|id| child_capture(&dir, id))
            .chain(killed.children_evidence_failed.iter().map(|f| {
                let (target, error) = f.split_once(": ").unwrap_or(("a descendant", f));
                Captured {
                    target: target.to_string(),
                    id: None,
                    stored: None,
                    sha256: None,
                    error: Some(error.to_string()),
                    missing: vec![],
                }
            }))
            .collect();
        out["children_captured"] = json!(children);
        let main = ev.first();
        out["what"] = json!(what_cmd);
        out["evidence"] = json!(main.and_then(|m| m.id.clone()));
        out["evidence_error"] = json!(main.and_then(|m| m.error.clone()));
        out["status"] = json!(if killed.gone {
            "killed"
        } else {
            "still_running"
        });
        let note = json!({ "note": "a killed process cannot be revived; its evidence is kept",
                           "evidence": main.and_then(|m| m.stored.clone()) });
        Ok(Applied {
            result: out,
            undo: Some(Undo::new("none", note)),
        })
    })
}

/// A descendant's capture (made while its tree was frozen) read back from
/// its manifest: where it is, the executable's hash, what ran.
pub fn child_capture(evidence_dir: &Path, id: &str) -> Captured {
    let stored = evidence_dir.join(id);
    let manifest: serde_json::Value = std::fs::read(stored.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let p = &manifest["process"];
    let pid = p["pid"].as_i64().map_or_else(
        || id.split('-').nth(1).unwrap_or("?").to_string(),
        |p| p.to_string(),
    );
    let cmd = p["cmdline"]
        .as_array()
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .or_else(|| p["name"].as_str().map(String::from))
        .unwrap_or_default();
    Captured {
        target: if cmd.is_empty() {
            format!("pid {pid}")
        } else {
            format!("pid {pid} ({cmd})")
        },
        id: Some(id.to_string()),
        stored: Some(stored.display().to_string()),
        sha256: manifest["exe_sha256"].as_str().map(String::from),
        error: None,
        missing: manifest["missing"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                format!(
                    "{}: {}",
                    m["what"].as_str().unwrap_or("?"),
                    m["error"].as_str().unwrap_or("?")
                )
            })
            .collect(),
    }
}

/// Suspends (`STOP`) or resumes (`CONT`) a process.
pub fn stop_cont(c: &Context, p: &str, pid: i32, suspend: bool) -> Acted {
    use nix::sys::signal::Signal;
    let target = remediate::check_killable(pid);
    let name = target.as_ref().map(|t| t.name.clone()).unwrap_or_default();
    let (undo, status, sig) = if suspend {
        ("proc::resume", "suspended", Signal::SIGSTOP)
    } else {
        ("proc::suspend", "resumed", Signal::SIGCONT)
    };
    let mut a = Act::new(p, format!("{p} pid {pid} ({name})"), json!({ "pid": pid }));
    a.protect = Some(Box::new(move || target.map(|_| ())));
    a.undo = Some(Undo::new(undo, json!({ "pid": pid })));
    a.would = json!({ "pid": pid, "status": "dry_run" });
    c.act(a, |_| {
        remediate::signal(pid, sig)?;
        Ok(Applied {
            result: json!({ "pid": pid, "status": status }),
            undo: None,
        })
    })
}

/// Quarantines one file or symlink. `planned`: identity from plan time.
pub fn quarantine(c: &Context, path: &Path, planned: Option<&FileIdentity>) -> Acted {
    const P: &str = "fs::quarantine";
    let case_dir = c.case_lock().map(|s| s.dir.clone()).unwrap_or_default();
    let case_dir2 = case_dir.clone();
    let sha = if path.is_file() {
        crate::host::evidence::sha256_file(path).ok()
    } else {
        None
    };
    let shown = path.display().to_string();
    let mut a = Act::new(
        P,
        format!("quarantine {shown}"),
        json!({ "path": shown, "sha256": sha }),
    );
    let owned = path.to_path_buf();
    a.protect = Some(Box::new(move || q::check(&owned, &case_dir)));
    if let Some(id) = planned {
        a.identity = Some(Box::new(move || action::file_still(id)));
    }
    a.would = json!({ "status": "dry_run", "original": shown, "would_quarantine": [shown] });
    a.undo = Some(Undo::new("fs::restore", json!({ "id": sha })));
    c.act(a, |_| {
        let qdir = c.case_lock()?.quarantine_dir()?;
        let q = q::put(path, &qdir, &case_dir2)?;
        let mut v = serde_json::to_value(&q).unwrap_or_default();
        v["status"] = json!("quarantined");
        // The record actually written (a second file with the same bytes
        // gets `<sha256>-2`) is the one to restore.
        Ok(Applied {
            result: v,
            undo: Some(Undo::new("fs::restore", json!({ "id": q.id }))),
        })
    })
}

/// Every file under a folder, each through the gate; then the emptied
/// folders go (only empty ones, deepest first).
/// Returns what was done, the files planned and `[path, reason]` of what
/// stays (the same lists a dry run shows).
#[allow(clippy::type_complexity)]
pub fn quarantine_tree(
    c: &Context,
    dir: &Path,
) -> Result<(Vec<Acted>, Vec<String>, Vec<(String, String)>)> {
    const P: &str = "fs::quarantine";
    let case_dir = c.case_lock().map(|s| s.dir.clone()).unwrap_or_default();
    // One plan for the real run and --dry-run, so both say the same.
    let plan = crate::host::quarantine::plan(dir, true, &case_dir)?;
    for (f, why) in &plan.would_refuse {
        c.warn(P, format!("{f}: {why}; left in place"));
    }
    let out: Vec<Acted> = plan.files.iter().map(|f| quarantine(c, f, None)).collect();
    if !c.dry_run() {
        crate::host::quarantine::remove_empty_dirs(&plan);
    }
    Ok((
        out,
        plan.would_quarantine.clone(),
        plan.would_refuse.clone(),
    ))
}

/// Removes line `line` of `path` when it reads `text`; `sha256`: the file's
/// hash at plan time.
pub fn remove_line(
    c: &Context,
    path: &Path,
    line: usize,
    text: &str,
    sha256: Option<&str>,
) -> Acted {
    const P: &str = "fs::remove_line";
    let shown = path.display().to_string();
    let mut a = Act::new(
        P,
        format!("remove line {line} of {shown}: {text}"),
        json!({ "path": shown, "line": line, "text": text, "sha256": sha256 }),
    );
    let case_dir = c.case_lock().map(|s| s.dir.clone()).unwrap_or_default();
    let owned = path.to_path_buf();
    a.protect = Some(Box::new(move || q::check_line(&owned, &case_dir)));
    let (p2, t2, s2) = (
        path.to_path_buf(),
        text.to_string(),
        sha256.map(String::from),
    );
    a.identity = Some(Box::new(move || {
        let now = action_file::read_line(&p2, line).map_err(|e| e.message)?;
        if !action_file::same_line(&now, &t2) {
            return Err(format!("{}: line {line} reads {now:?} now", p2.display()));
        }
        match s2 {
            Some(s) => action::file_identity(&p2)
                .map_err(|e| e.message)
                .and_then(|id| {
                    if id.sha256.as_deref() == Some(s.as_str()) {
                        Ok(())
                    } else {
                        Err(format!("{} changed since it was planned", p2.display()))
                    }
                }),
            None => Ok(()),
        }
    }));
    a.capture = vec![Capture::File(path.to_path_buf())];
    a.would = json!({ "status": "dry_run", "path": shown, "line": line, "would_remove": text });
    c.act(a, |_| {
        let r = action_file::remove_line(path, line, text, sha256)?;
        let mut v = serde_json::to_value(&r).unwrap_or_default();
        v["status"] = json!("removed");
        Ok(Applied {
            result: v.clone(),
            undo: Some(Undo::new("fs::restore_line", v)),
        })
    })
}

/// Stops and disables a systemd unit and quarantines its file.
pub fn disable_unit(c: &Context, path: &Path, planned: Option<&FileIdentity>) -> Acted {
    const P: &str = "sys::disable_unit";
    let shown = path.display().to_string();
    let links: Vec<String> = action_file::unit_links(path)
        .iter()
        .map(|l| l.display().to_string())
        .collect();
    let mut a = Act::new(P, format!("disable unit {shown}"), json!({ "path": shown }));
    let case_dir = c.case_lock().map(|s| s.dir.clone()).unwrap_or_default();
    let case_dir2 = case_dir.clone();
    let owned = path.to_path_buf();
    a.protect = Some(Box::new(move || q::check(&owned, &case_dir)));
    if let Some(id) = planned {
        a.identity = Some(Box::new(move || action::file_still(id)));
    }
    a.would = json!({ "status": "dry_run", "unit": shown, "would_remove_links": links,
                      "would_stop": action_file::systemd_running() });
    c.act(a, |_| {
        let d = action_file::disable_unit(path)?;
        let qdir = c.case_lock()?.quarantine_dir()?;
        let q = q::put(path, &qdir, &case_dir2)?;
        let mut v = serde_json::to_value(&d).unwrap_or_default();
        v["quarantine_id"] = json!(q.id);
        v["status"] = json!("disabled");
        let undo = json!({ "quarantine_id": q.id, "links": d.links_removed });
        Ok(Applied {
            result: v,
            undo: Some(Undo::new("sys::enable_unit", undo)),
        })
    })
}

/// Locks an account (password and expiry); undo unlocks it exactly.
/// `planned`: the account was there when planned (gone now: skipped).
pub fn lock_account(c: &Context, user: &str, planned: bool) -> Acted {
    const P: &str = "sys::lock_account";
    let mut a = Act::new(P, format!("lock account {user}"), json!({ "user": user }));
    let exists = |u: &str| -> Result<()> {
        match action_account::exists(u, Path::new("/"))? {
            true => Ok(()),
            false => Err(Error::not_found(format!("user {u:?}: no such account"))),
        }
    };
    if planned {
        let u = user.to_string();
        a.identity = Some(Box::new(move || exists(&u).map_err(|e| e.message)));
    }
    let u = user.to_string();
    a.protect = Some(Box::new(move || {
        if u == "root" {
            return Err(Error::invalid("user \"root\": refusing to lock root"));
        }
        exists(&u)
    }));
    a.would = json!({ "status": "dry_run", "would_lock": user });
    c.act(a, |_| {
        let r = action_account::lock(user, Path::new("/"))?;
        let v = serde_json::to_value(&r).unwrap_or_default();
        Ok(Applied {
            result: json!({ "status": "locked", "user": user, "already_locked": r.already_locked }),
            undo: Some(Undo::new("sys::unlock_account", v)),
        })
    })
}

/// One firewall change (block, unblock, isolate, rollback) of an nft plan.
pub fn firewall(
    c: &Context,
    p: &str,
    args: serde_json::Value,
    plan: &fw::Plan,
    undo: Option<Undo>,
) -> Acted {
    // The journal's and the prompt's line in words ("block outbound traffic
    // to 10.0.0.196 (nftables table inet hound)"), as the report says it, not the
    // set elements' labels.
    let what = match crate::runtime::report_fw::words(p, &args) {
        Some(w) => format!(
            "{} {} (nftables table inet {})",
            w.verb, w.object, plan.table
        ),
        None => plan.changes.join(", "),
    };
    let mut a = Act::new(p, what, args);
    a.would = json!({ "status": "dry_run", "batch": plan.batch });
    a.undo = undo;
    c.act(a, |_| {
        fw::apply(plan)?;
        Ok(Applied {
            result: json!({ "planned": plan.changes, "batch": plan.batch }),
            undo: None,
        })
    })
}

/// Undo "primitives" that exist only as `case::undo` (with the plan item's
/// or the action's id), not as functions a script calls.
pub const UNDO_ONLY: &[&str] = &[
    "fs::restore_line",
    "sys::enable_unit",
    "sys::unlock_account",
];

/// Carries out a recorded undo (plan items' `case::undo`), through the gate.
pub fn undo(c: &Context, u: &Undo) -> Result<serde_json::Value> {
    let mut a = Act::new(
        "case::undo",
        format!("undo: {} {}", u.primitive, u.args),
        json!(u),
    );
    a.protect = Some(Box::new(|| match u.primitive.as_str() {
        "fs::restore"
        | "fs::restore_line"
        | "sys::enable_unit"
        | "sys::unlock_account"
        | "fw::unblock" => Ok(()),
        other => Err(Error::unsupported(format!(
            "{other}: this action cannot be undone automatically"
        ))),
    }));
    a.would = json!({ "status": "dry_run", "would": u });
    let acted = c.act(a, |_| {
        Ok(Applied {
            result: undo_now(c, u)?,
            undo: None,
        })
    });
    Ok(acted.into_result()?.result)
}

fn undo_now(c: &Context, u: &Undo) -> Result<serde_json::Value> {
    let args = &u.args;
    let qdir = || -> Result<PathBuf> { c.case_lock()?.quarantine_dir() };
    Ok(match u.primitive.as_str() {
        "fs::restore" => {
            let id = args["id"].as_str().unwrap_or_default();
            let path = q::restore(id, &qdir()?)?;
            json!({ "status": "restored", "path": crate::text::lossless(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())) })
        }
        "fs::restore_line" => {
            let r: action_file::LineRemoved = serde_json::from_value(args.clone())
                .map_err(|e| Error::invalid(format!("undo args: {e}")))?;
            action_file::restore_line(&r)?;
            json!({ "status": "restored", "path": r.path })
        }
        "sys::enable_unit" => {
            let id = args["quarantine_id"].as_str().unwrap_or_default();
            let path = q::restore(id, &qdir()?)?;
            let links: Vec<action_file::Link> =
                serde_json::from_value(args["links"].clone()).unwrap_or_default();
            action_file::relink_unit(&links)?;
            json!({ "status": "restored", "path": crate::text::lossless(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())), "links": links })
        }
        "sys::unlock_account" => {
            let r: action_account::AccountLocked = serde_json::from_value(args.clone())
                .map_err(|e| Error::invalid(format!("undo args: {e}")))?;
            action_account::unlock(&r, Path::new("/"))?;
            json!({ "status": "unlocked", "user": r.user })
        }
        "fw::unblock" => {
            let req = fw::Request {
                targets: serde_json::from_value(args["targets"].clone()).unwrap_or_default(),
                direction: args["direction"].as_str().map(String::from),
                proto: args["proto"].as_str().map(String::from),
                port: args["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
                comment: None,
                ttl: None,
                force: false,
            };
            fw::apply(&fw::plan_unblock(&req)?)?;
            json!({ "status": "unblocked" })
        }
        other => {
            return Err(Error::unsupported(format!(
                "{other}: this action cannot be undone automatically"
            )))
        }
    })
}
