//! The remediation plan: each destructive step a hunt wants, with the
//! target's identity captured when it was planned and the evidence that
//! justifies it, kept in `<case>/plan.json`. `apply` re-checks every
//! identity right before acting, and one item's failure never stops the
//! others. See docs/design/eradication.md.

use crate::error::{Error, Result};
use crate::host::action::{self, FileIdentity, ProcIdentity};
use crate::host::{action_account, action_file};
use crate::runtime::action::{Acted, Status, Undo};
use crate::runtime::action_exec as exec;
use crate::runtime::context::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const PLAN: &str = "plan.json";
/// Where the dpkg database lists each package's files.
const DPKG_INFO: &str = "/var/lib/dpkg/info";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Kill,
    Quarantine,
    RemoveLine,
    DisableUnit,
    LockAccount,
    Block,
}

impl ActionKind {
    pub const ALL: [ActionKind; 6] = [
        ActionKind::Kill,
        ActionKind::Quarantine,
        ActionKind::RemoveLine,
        ActionKind::DisableUnit,
        ActionKind::LockAccount,
        ActionKind::Block,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Kill => "kill",
            ActionKind::Quarantine => "quarantine",
            ActionKind::RemoveLine => "remove_line",
            ActionKind::DisableUnit => "disable_unit",
            ActionKind::LockAccount => "lock_account",
            ActionKind::Block => "block",
        }
    }
    fn parse(s: &str) -> Result<ActionKind> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "action {s:?}: expected one of {}",
                    Self::ALL.map(|a| a.as_str()).join(", ")
                ))
            })
    }
}

/// What came of applying an item (also what `case::apply` returns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub id: String,
    pub action: ActionKind,
    pub status: Status,
    pub message: String,
    #[serde(default)]
    pub undo: Option<Undo>,
    /// Pairs the item with its journal entries (`None`: nothing was journaled).
    #[serde(default)]
    pub action_id: Option<String>,
    #[serde(default)]
    pub result: Value,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub action: ActionKind,
    pub target: Value,
    /// Captured when planned: a process's start time, executable and its
    /// hash, command line, namespaces; a file's sha256, size, inode.
    pub identity: Value,
    pub why: Vec<Value>,
    /// `auto` or `required`.
    pub approval: String,
    #[serde(default)]
    pub approval_reason: Option<String>,
    /// `planned`, then the status of the last apply.
    pub status: String,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    pub planned_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub items: Vec<Item>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The plan of a case folder (empty when there is none yet).
pub fn load(dir: &Path) -> Result<Plan> {
    let path = dir.join(PLAN);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("{}: not a hound plan: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Plan {
            version: 1,
            items: vec![],
        }),
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

/// Writes the plan atomically: a crash leaves the old plan or the new one.
pub fn save(dir: &Path, plan: &Plan) -> Result<()> {
    let path = dir.join(PLAN);
    let tmp = dir.join(format!(".{PLAN}.tmp"));
    let text = serde_json::to_string_pretty(plan)
        .map_err(|e| Error::io_msg(format!("{}: {e}", path.display())))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(tmp.display(), e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(tmp.display(), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(path.display(), e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn case_dir(c: &Context) -> Result<PathBuf> {
    Ok(c.case_lock()?.open()?.to_path_buf())
}

fn field<'a>(target: &'a Value, key: &str, action: ActionKind) -> Result<&'a Value> {
    target
        .get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| Error::invalid(format!("target: {} needs `{key}`", action.as_str())))
}

fn str_field(target: &Value, key: &str, action: ActionKind) -> Result<String> {
    field(target, key, action)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(String::from)
        .ok_or_else(|| Error::invalid(format!("target.{key}: expected a non-empty string")))
}

fn path_field(target: &Value, action: ActionKind) -> Result<PathBuf> {
    let p = str_field(target, "path", action)?;
    if !p.starts_with('/') {
        return Err(Error::invalid(format!(
            "target.path: {p:?} is not absolute"
        )));
    }
    Ok(PathBuf::from(p))
}

fn check_keys(v: &Value, what: &str, known: &[&str]) -> Result<()> {
    if let Some(m) = v.as_object() {
        if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Error::invalid(format!("{what}: unknown key {k:?}"))
                .with_hint(format!("known keys: {}", known.join(", "))));
        }
        Ok(())
    } else {
        Err(Error::invalid(format!("{what}: expected a map")))
    }
}

/// The package owning `path` (as given, or with its folders resolved).
fn owner(path: &Path) -> Option<String> {
    let info = Path::new(DPKG_INFO);
    let given = path.display().to_string();
    action::package_owner(&given, info).or_else(|| {
        let real = path.parent()?.canonicalize().ok()?.join(path.file_name()?);
        action::package_owner(&real.display().to_string(), info)
    })
}

fn is_key_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("authorized_keys"))
}

/// Checks a target and captures its identity; says why approval is forced.
fn identify(action: ActionKind, target: &Value) -> Result<(Value, Option<String>)> {
    fn v<T: Serialize>(x: &T) -> Value {
        serde_json::to_value(x).unwrap_or_default()
    }
    let pkg = |p: &Path| {
        owner(p).map(|o| format!("{} belongs to the installed package {o}", p.display()))
    };
    match action {
        ActionKind::Kill => {
            check_keys(target, "target", &["pid", "tree", "signal"])?;
            let pid = field(target, "pid", action)?
                .as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| Error::invalid("target.pid: expected a process id"))?;
            match target.get("signal") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    crate::host::remediate::signal_of(s)?;
                }
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "target.signal: {other} is not a signal name"
                    )))
                }
            }
            if !matches!(
                target.get("tree"),
                None | Some(Value::Null | Value::Bool(_))
            ) {
                return Err(Error::invalid("target.tree: expected true or false"));
            }
            let id: ProcIdentity = action::proc_identity(pid)?;
            Ok((v(&id), None))
        }
        ActionKind::Quarantine | ActionKind::DisableUnit => {
            check_keys(target, "target", &["path"])?;
            let p = path_field(target, action)?;
            let id: FileIdentity = action::file_identity(&p)?;
            Ok((v(&id), pkg(&p)))
        }
        ActionKind::RemoveLine => {
            check_keys(target, "target", &["path", "line", "text"])?;
            let p = path_field(target, action)?;
            let line = field(target, "line", action)?
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::invalid("target.line: expected a line number (1 or more)"))?;
            let text = field(target, "text", action)?
                .as_str()
                .ok_or_else(|| Error::invalid("target.text: expected the line's exact text"))?;
            let now = action_file::read_line(&p, line as usize)?;
            if !action_file::same_line(&now, text) {
                return Err(Error::invalid(format!(
                    "target: line {line} of {} reads {now:?}, not {text:?}",
                    p.display()
                )));
            }
            let id = action::file_identity(&p)?;
            let forced = if is_key_file(&p) {
                Some(format!(
                    "{} holds SSH keys: a key line needs approval",
                    p.display()
                ))
            } else {
                pkg(&p)
            };
            Ok((v(&id), forced))
        }
        ActionKind::LockAccount => {
            check_keys(target, "target", &["user"])?;
            let user = str_field(target, "user", action)?;
            if !action_account::exists(&user, Path::new("/"))? {
                return Err(Error::not_found(format!(
                    "target.user: no account {user:?}"
                )));
            }
            Ok((
                json!({ "user": user }),
                Some("locking an account needs approval".into()),
            ))
        }
        ActionKind::Block => {
            check_keys(target, "target", &["target", "direction"])?;
            let t = field(target, "target", action)?;
            let list: Vec<String> = match t {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                _ => vec![],
            };
            if list.is_empty() {
                return Err(Error::invalid(
                    "target.target: expected an address, CIDR or a list of them",
                ));
            }
            for t in &list {
                crate::host::fw::target::parse_net(t)?;
            }
            if let Some(d) = target.get("direction").and_then(|d| d.as_str()) {
                crate::host::fw::Direction::parse(d)?;
            }
            Ok((json!({ "targets": list }), None))
        }
    }
}

fn why_ok(why: &[Value]) -> bool {
    why.iter().any(|w| match w {
        Value::String(s) => !s.trim().is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => false,
    })
}

/// Adds an item (`#{ action, target, why, approval? }`) and returns its id.
/// The same action on the same target already planned returns that item,
/// with the new evidence added to its `why`.
pub fn add(c: &Context, req: &Value) -> Result<String> {
    check_keys(req, "item", &["action", "target", "why", "approval"])?;
    let action = ActionKind::parse(req["action"].as_str().unwrap_or_default())?;
    let target = req
        .get("target")
        .filter(|t| t.is_object())
        .cloned()
        .ok_or_else(|| Error::invalid("target: expected a map"))?;
    let why: Vec<Value> = match &req["why"] {
        Value::Array(a) => a.clone(),
        Value::String(s) => vec![json!(s)],
        Value::Null => vec![],
        _ => return Err(Error::invalid("why: expected an array of edges or strings")),
    };
    if !why_ok(&why) {
        return Err(Error::invalid(
            "why: empty; an item needs the evidence that ties its target to the attack (no evidence, no action)",
        ));
    }
    let asked = match req["approval"].as_str() {
        None | Some("auto") => "auto",
        Some("required") => "required",
        Some(o) => {
            return Err(Error::invalid(format!(
                "approval {o:?}: expected \"auto\" or \"required\""
            )))
        }
    };
    let (identity, forced) = identify(action, &target)?;
    let dir = case_dir(c)?;
    let mut plan = load(&dir)?;
    // An account locked by a done item and still locked needs no second
    // item (which would only ask for approval again): the first is the
    // answer. Other done actions cannot recur: their targets are gone.
    if action == ActionKind::LockAccount {
        if let Some(it) = plan
            .items
            .iter()
            .find(|i| i.action == action && i.target == target && i.status == "done")
        {
            let user = target["user"].as_str().unwrap_or_default();
            if action_account::is_locked(user, Path::new("/")).unwrap_or(false) {
                return Ok(it.id.clone());
            }
        }
    }
    if let Some(it) = plan
        .items
        .iter_mut()
        .find(|i| i.action == action && i.target == target && i.status != "done")
    {
        for w in why {
            if !it.why.contains(&w) {
                it.why.push(w);
            }
        }
        let id = it.id.clone();
        save(&dir, &plan)?;
        return Ok(id);
    }
    let n = plan
        .items
        .iter()
        .filter_map(|i| i.id.strip_prefix('A')?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let id = format!("A{n}");
    // The journal is hash-chained, plan.json is not: the chain records
    // what was planned, on what evidence, with which identity.
    c.journal(
        "case::plan_add",
        json!({ "id": id, "action": action, "target": target, "why": why }),
        json!({ "identity": identity, "approval": if forced.is_some() { "required" } else { asked } }),
        None,
    )?;
    plan.version = 1;
    plan.items.push(Item {
        id: id.clone(),
        action,
        target,
        identity,
        why,
        approval: if forced.is_some() { "required" } else { asked }.into(),
        approval_reason: forced
            .or_else(|| (asked == "required").then(|| "asked by the hunt".into())),
        status: "planned".into(),
        outcome: None,
        planned_at: now(),
    });
    save(&dir, &plan)?;
    Ok(id)
}

/// The case's plan (empty when none).
pub fn current(c: &Context) -> Result<Plan> {
    let dir = c.case_lock()?.dir.clone();
    if !dir.join(PLAN).exists() {
        return Ok(Plan::default());
    }
    load(&dir)
}

fn outcome(it: &Item, a: Acted) -> Outcome {
    Outcome {
        id: it.id.clone(),
        action: it.action,
        status: a.status,
        message: a.message,
        undo: a.undo,
        action_id: a.action_id,
        result: a.result,
        time: now(),
    }
}

fn stop(it: &Item, status: Status, message: String) -> Outcome {
    Outcome {
        id: it.id.clone(),
        action: it.action,
        status,
        message,
        undo: None,
        action_id: None,
        result: Value::Null,
        time: now(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(it: &Item) -> std::result::Result<T, String> {
    serde_json::from_value(it.identity.clone())
        .map_err(|e| format!("{}: identity unreadable ({e}); plan it again", it.id))
}

/// Carries out one item through the gate.
fn run(c: &Context, it: &Item) -> Outcome {
    let t = &it.target;
    let path = || PathBuf::from(t["path"].as_str().unwrap_or_default());
    let acted = match it.action {
        ActionKind::Kill => {
            let id: ProcIdentity = match parse(it) {
                Ok(i) => i,
                Err(m) => return stop(it, Status::Failed, m),
            };
            let signal = crate::host::remediate::signal_of(t["signal"].as_str().unwrap_or("TERM"))
                .unwrap_or(nix::sys::signal::Signal::SIGTERM);
            let k = exec::KillArgs {
                pid: id.pid,
                signal,
                grace: Duration::from_secs(3),
                tree: t["tree"].as_bool().unwrap_or(false),
            };
            exec::kill(c, &k, Some(&id))
        }
        ActionKind::Quarantine => match parse::<FileIdentity>(it) {
            Ok(id) => exec::quarantine(c, &path(), Some(&id)),
            Err(m) => return stop(it, Status::Failed, m),
        },
        ActionKind::DisableUnit => match parse::<FileIdentity>(it) {
            Ok(id) => exec::disable_unit(c, &path(), Some(&id)),
            Err(m) => return stop(it, Status::Failed, m),
        },
        ActionKind::RemoveLine => exec::remove_line(
            c,
            &path(),
            t["line"].as_u64().unwrap_or(0) as usize,
            t["text"].as_str().unwrap_or_default(),
            it.identity["sha256"].as_str(),
        ),
        ActionKind::LockAccount => {
            exec::lock_account(c, t["user"].as_str().unwrap_or_default(), true)
        }
        ActionKind::Block => {
            let req = crate::host::fw::Request {
                targets: serde_json::from_value(it.identity["targets"].clone()).unwrap_or_default(),
                direction: t["direction"].as_str().map(String::from),
                ..Default::default()
            };
            let args = json!({ "targets": req.targets, "direction": req.direction.as_deref().unwrap_or("out") });
            match crate::host::fw::plan_block(&req) {
                Ok(p) if p.batch.is_empty() => {
                    return stop(
                        it,
                        Status::Done,
                        format!("already blocked: {}", p.unchanged.join(", ")),
                    )
                }
                Ok(p) => exec::firewall(
                    c,
                    "fw::block",
                    args.clone(),
                    &p,
                    Some(Undo::new("fw::unblock", args)),
                ),
                Err(e) => return stop(it, Status::Failed, e.message),
            }
        }
    };
    outcome(it, acted)
}

/// Options of [`apply`].
#[derive(Debug, Clone, Default)]
pub struct ApplyOpts {
    /// Only these item ids (all pending items when `None`).
    pub only: Option<Vec<String>>,
    /// Items whose approval is required and given.
    pub approve: Vec<String>,
}

/// Carries out the plan: items not done yet (or exactly `only`), each
/// identity re-checked; the plan is saved after every item, outcomes
/// included. In a dry run every item reports `would` and nothing changes.
pub fn apply(c: &Context, o: &ApplyOpts) -> Result<Vec<Outcome>> {
    let dir = case_dir(c)?;
    let mut plan = load(&dir)?;
    for id in o.only.iter().flatten() {
        if !plan.items.iter().any(|i| &i.id == id) {
            return Err(Error::invalid(format!(
                "item {id:?}: not in the plan of {}",
                dir.display()
            ))
            .with_hint("case::plan() or plan.json lists the items"));
        }
    }
    // Approving what is not there changes nothing: worth a word, not an abort.
    for id in o
        .approve
        .iter()
        .filter(|id| !plan.items.iter().any(|i| i.id == **id))
    {
        c.warn("case::apply", format!("approve: {id:?} is not in the plan"));
    }
    let mut out = Vec::new();
    for i in 0..plan.items.len() {
        c.cancel.check()?;
        let it = plan.items[i].clone();
        let picked = o.only.as_ref().is_none_or(|only| only.contains(&it.id));
        if !picked {
            continue;
        }
        if it.status == "done" {
            if let Some(prev) = &it.outcome {
                out.push(prev.clone());
            }
            continue;
        }
        let o2 = if !why_ok(&it.why) {
            stop(
                &it,
                Status::Refused,
                "no evidence (empty why): not acted on".into(),
            )
        } else if it.approval == "required" && !o.approve.contains(&it.id) && c.dry_run() {
            // A preview refuses nothing: it says what the real run will ask.
            stop(
                &it,
                Status::Would,
                format!(
                    "would need approval first ({}): approve it with `approve: [\"{}\"]` or `hound apply --approve {}`",
                    it.approval_reason.as_deref().unwrap_or("required"),
                    it.id,
                    it.id
                ),
            )
        } else if it.approval == "required" && !o.approve.contains(&it.id) && !confirmed(c, &it) {
            stop(
                &it,
                Status::Refused,
                format!(
                    "needs approval ({}): approve it with `approve: [\"{}\"]` or `hound apply --approve {}`",
                    it.approval_reason.as_deref().unwrap_or("required"),
                    it.id,
                    it.id
                ),
            )
        } else {
            run(c, &it)
        };
        if matches!(
            o2.status,
            Status::Refused | Status::Failed | Status::Skipped
        ) {
            c.warn(
                "case::apply",
                format!("{} {}: {}", it.id, o2.status.as_str(), o2.message),
            );
        }
        if it.action == ActionKind::RemoveLine && o2.status == Status::Done {
            rebase_lines(&mut plan, i, &o2.result);
        }
        plan.items[i].status = o2.status.as_str().into();
        plan.items[i].outcome = Some(o2.clone());
        save(&dir, &plan)?;
        out.push(o2);
    }
    Ok(out)
}

/// Other lines of the same file planned for removal were identified by the
/// file's hash before this removal: the change is hound's own (journaled,
/// `r` is its result), so they move to the hash it left, and up one line
/// when they were below the removed one. Any other change still skips them.
fn rebase_lines(plan: &mut Plan, done: usize, r: &Value) {
    let (Some(path), Some(before), Some(after), Some(line)) = (
        r["path"].as_str(),
        r["sha256_before"].as_str(),
        r["sha256_after"].as_str(),
        r["line"].as_u64(),
    ) else {
        return;
    };
    let removed = r["removed_hex"].as_str().map_or(0, |h| h.len() as u64 / 2);
    for (j, it) in plan.items.iter_mut().enumerate() {
        if j == done
            || it.action != ActionKind::RemoveLine
            || it.status == "done"
            || it.target["path"].as_str() != Some(path)
            || it.identity["sha256"].as_str() != Some(before)
        {
            continue;
        }
        it.identity["sha256"] = json!(after);
        if let Some(size) = it.identity["size"].as_u64() {
            it.identity["size"] = json!(size.saturating_sub(removed));
        }
        if let Some(n) = it.target["line"].as_u64().filter(|n| *n > line) {
            it.target["line"] = json!(n - 1);
        }
    }
}

/// The REPL asks for approval where there is someone to ask.
fn confirmed(c: &Context, it: &Item) -> bool {
    if c.dry_run() {
        return false;
    }
    let confirm = c.policy.lock().ok().and_then(|p| p.confirm.clone());
    confirm.is_some_and(|f| {
        f(&format!(
            "approve {} ({} {}): {}",
            it.id,
            it.action.as_str(),
            it.target,
            it.approval_reason.as_deref().unwrap_or("approval required")
        ))
    })
}

/// Undoes an applied item with the undo its outcome recorded.
pub fn undo(c: &Context, id: &str) -> Result<Value> {
    let dir = case_dir(c)?;
    if id.starts_with('x') {
        return undo_action(c, &dir, id);
    }
    let mut plan = load(&dir)?;
    let i = plan
        .items
        .iter()
        .position(|x| x.id == id)
        .ok_or_else(|| Error::invalid(format!("item {id:?}: not in the plan")))?;
    let it = &plan.items[i];
    let u = match (
        &it.status[..],
        it.outcome.as_ref().and_then(|o| o.undo.clone()),
    ) {
        ("done", Some(u)) if u.primitive != "none" => u,
        ("done", _) => {
            return Err(Error::unsupported(format!(
                "item {id}: {} cannot be undone (its evidence is kept)",
                it.action.as_str()
            )))
        }
        (s, _) => {
            return Err(Error::invalid(format!(
                "item {id}: status {s}, nothing to undo"
            )))
        }
    };
    let r = exec::undo(c, &u)?;
    if !c.dry_run() {
        plan.items[i].status = "undone".into();
        save(&dir, &plan)?;
    }
    Ok(r)
}

/// Undoes a journaled action by its `action_id` (`"x12"`), for actions
/// taken by primitives directly rather than through the plan.
fn undo_action(c: &Context, dir: &Path, id: &str) -> Result<Value> {
    let entries = crate::runtime::journal::read(dir)?;
    let a = crate::runtime::journal::actions(&entries)
        .into_iter()
        .find(|a| a.action_id == id)
        .ok_or_else(|| Error::invalid(format!("action {id:?}: not in the journal")))?;
    match (a.status, a.undo) {
        (Some(Status::Done), Some(u)) if u.primitive != "none" => exec::undo(c, &u),
        (Some(Status::Done), _) => Err(Error::unsupported(format!(
            "action {id} ({}) cannot be undone",
            a.primitive
        ))),
        (s, _) => Err(Error::invalid(format!(
            "action {id}: {}, nothing to undo",
            s.map(|s| s.as_str()).unwrap_or("no outcome recorded")
        ))),
    }
}
