//! The action gate: every destructive step goes through [`Context::act`],
//! in one order: identity re-check → protected-target check → policy →
//! evidence capture (failures recorded) → journal intent (with an
//! `action_id` and the undo) → apply, or in a dry run describe → journal
//! outcome (same `action_id`; a failure to write it is surfaced).
//!
//! Identity comes first so that a planned target that has gone (an exited
//! process, a removed file, a deleted account) or changed is reported by
//! the gate as skipped, for every kind of action alike, instead of each
//! protection check having to tell "gone" from "protected".

use crate::error::{Error, Result};
use crate::host::evidence;
use crate::runtime::context::Context;
use crate::runtime::journal::{IntentRecord, OutcomeArgs};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::PathBuf;

/// How an action ended. Plan items and the report use the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Carried out.
    Done,
    /// Dry run: described, nothing changed.
    Would,
    /// The target is not the one planned any more (pid reused, file changed).
    Skipped,
    /// A protected target, a policy that says no, or an approval missing.
    Refused,
    /// Tried and failed; nothing else was stopped by it.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Would => "would",
            Status::Skipped => "skipped",
            Status::Refused => "refused",
            Status::Failed => "failed",
        }
    }
}

/// How to undo an action: the primitive to call and its arguments (`none`
/// with a `note` when it cannot be undone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    pub primitive: String,
    pub args: Value,
}

impl Undo {
    pub fn new(primitive: &str, args: Value) -> Self {
        Undo {
            primitive: primitive.into(),
            args,
        }
    }
    pub fn none(note: &str) -> Self {
        Undo::new("none", json!({ "note": note }))
    }
}

/// Evidence to capture before acting.
pub enum Capture {
    Process(i32),
    File(PathBuf),
}

/// One capture: where it went, or why it could not be made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Captured {
    pub target: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub stored: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// Parts that could not be captured (`"environ: permission denied"`).
    #[serde(default)]
    pub missing: Vec<String>,
}

type Check<'a, E> = Box<dyn FnOnce() -> std::result::Result<(), E> + 'a>;

/// A destructive step, described for the gate.
pub struct Act<'a> {
    pub primitive: &'a str,
    /// One line for the confirmation prompt and the journal ("kill pid 12 (nc ...)").
    pub what: String,
    pub args: Value,
    /// Protected targets: an error here refuses the action. Runs after
    /// the identity check, so it may treat a missing target as an error.
    pub protect: Option<Check<'a, Error>>,
    /// Identity re-check (planned targets: still there, still the same):
    /// a message here skips the action. Runs first.
    pub identity: Option<Check<'a, String>>,
    pub capture: Vec<Capture>,
    /// The undo known before acting (the outcome may replace it).
    pub undo: Option<Undo>,
    /// What a dry run reports instead of acting.
    pub would: Value,
}

impl<'a> Act<'a> {
    pub fn new(primitive: &'a str, what: impl Into<String>, args: Value) -> Self {
        Act {
            primitive,
            what: what.into(),
            args,
            protect: None,
            identity: None,
            capture: vec![],
            undo: None,
            would: Value::Null,
        }
    }
}

/// What the apply step returns.
pub struct Applied {
    pub result: Value,
    /// Replaces the intent's undo (the quarantine id is known only after).
    pub undo: Option<Undo>,
}

/// The gate's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Acted {
    /// Pairs the journal's intent and outcome (`None`: nothing was journaled).
    pub action_id: Option<String>,
    pub status: Status,
    pub message: String,
    pub result: Value,
    pub undo: Option<Undo>,
    pub evidence: Vec<Captured>,
    /// The outcome could not be journaled (the action itself happened).
    pub journal_error: Option<String>,
    #[serde(skip)]
    pub error: Option<Error>,
}

impl Acted {
    fn stop(status: Status, err: Error) -> Acted {
        Acted {
            action_id: None,
            status,
            message: err.message.clone(),
            result: Value::Null,
            undo: None,
            evidence: vec![],
            journal_error: None,
            error: Some(err),
        }
    }

    /// For a primitive called directly: done and would are results, the
    /// rest are errors a script can catch.
    pub fn into_result(self) -> Result<Acted> {
        match (self.status, self.error.clone()) {
            (Status::Done | Status::Would, _) => Ok(self),
            (_, Some(e)) => Err(e),
            (s, None) => Err(Error::io_msg(format!("{}: {}", s.as_str(), self.message))),
        }
    }
}

impl Context {
    fn capture(&self, what: &[Capture]) -> Result<Vec<Captured>> {
        if what.is_empty() {
            return Ok(vec![]);
        }
        let dir = self.case_lock()?.evidence_dir()?;
        Ok(what
            .iter()
            .map(|c| {
                let (target, r) = match c {
                    Capture::Process(pid) => (
                        format!("pid {pid}"),
                        evidence::process(*pid, &dir, &self.cancel),
                    ),
                    Capture::File(p) => (p.display().to_string(), evidence::file(p, &dir)),
                };
                match r {
                    Ok(m) => Captured {
                        target,
                        missing: m
                            .missing
                            .iter()
                            .map(|x| format!("{}: {}", x.what, x.error))
                            .collect(),
                        id: Some(m.id),
                        stored: Some(m.stored),
                        sha256: m.sha256,
                        error: None,
                    },
                    Err(e) => Captured {
                        target,
                        id: None,
                        stored: None,
                        sha256: None,
                        error: Some(e.message),
                        missing: vec![],
                    },
                }
            })
            .collect())
    }

    /// The one path of every destructive step; see the module doc for the
    /// order. `apply` runs only when the gate lets the action through and
    /// the run is not a dry run; it gets the evidence captured.
    pub fn act(&self, a: Act<'_>, apply: impl FnOnce(&[Captured]) -> Result<Applied>) -> Acted {
        let p = a.primitive;
        if let Some(identity) = a.identity {
            if let Err(why) = identity() {
                self.warn(p, format!("skipped: {why}"));
                return Acted::stop(
                    Status::Skipped,
                    Error::invalid(format!("{why}; skipped")).in_primitive(p),
                );
            }
        }
        if let Some(protect) = a.protect {
            if let Err(e) = protect() {
                return Acted::stop(Status::Refused, e.in_primitive(p));
            }
        }
        if let Err(e) = self.require_destructive(p, &a.what) {
            return Acted::stop(Status::Refused, e);
        }
        let dry = self.dry_run();
        // Evidence is a copy into the case: a dry run changes nothing, so it takes none.
        let captured = if dry {
            vec![]
        } else {
            match self.capture(&a.capture) {
                Ok(c) => c,
                Err(e) => return Acted::stop(Status::Failed, e.in_primitive(p)),
            }
        };
        for c in &captured {
            if let Some(e) = &c.error {
                self.warn(p, format!("evidence of {} not captured: {e}", c.target));
            }
            for m in &c.missing {
                self.warn(p, format!("evidence of {}: not captured: {m}", c.target));
            }
        }
        let intent = serde_json::to_value(IntentRecord {
            what: a.what.clone(),
            evidence: captured.clone(),
            would: a.would.clone(),
        })
        .unwrap_or_default();
        let undo_json = a.undo.as_ref().and_then(|u| serde_json::to_value(u).ok());
        let id = match self.journal_tagged(p, "intent", None, a.args.clone(), intent, undo_json) {
            Ok(id) => id,
            // Unrecorded actions are not taken.
            Err(e) => return Acted::stop(Status::Failed, e),
        };
        let (status, result, undo, error) = if dry {
            (Status::Would, a.would.clone(), a.undo.clone(), None)
        } else {
            match apply(&captured) {
                Ok(done) => (
                    Status::Done,
                    done.result,
                    done.undo.or(a.undo.clone()),
                    None,
                ),
                Err(e) => (
                    Status::Failed,
                    json!({ "error": e.message }),
                    None,
                    Some(e.in_primitive(p)),
                ),
            }
        };
        let message = match &error {
            Some(e) => e.message.clone(),
            None if dry => format!("would {}", a.what),
            None => a.what.clone(),
        };
        let outcome_args = serde_json::to_value(OutcomeArgs {
            outcome: true,
            status,
            target: a.args,
        })
        .unwrap_or_default();
        let undo_json = undo.as_ref().and_then(|u| serde_json::to_value(u).ok());
        let journal_error = self
            .journal_tagged(
                p,
                "outcome",
                Some(&id),
                outcome_args,
                result.clone(),
                undo_json,
            )
            .err()
            .map(|e| {
                self.warn(
                    p,
                    format!("the outcome of {id} was not journaled: {}", e.message),
                );
                e.message
            });
        Acted {
            action_id: Some(id),
            status,
            message,
            result,
            undo,
            evidence: captured,
            journal_error,
            error,
        }
    }

    /// Appends an intent (a new action id, returned) or an outcome (of `id`).
    fn journal_tagged(
        &self,
        primitive: &str,
        kind: &str,
        id: Option<&str>,
        args: Value,
        result: Value,
        undo: Option<Value>,
    ) -> Result<String> {
        let dry = self.dry_run();
        let mut case = self.case_lock()?;
        let id = match id {
            Some(id) => id.to_string(),
            None => format!("x{}", case.next_seq()?),
        };
        case.append_tagged(primitive, Some((kind, &id)), args, result, undo, dry)
            .map_err(|e| e.in_primitive(primitive))?;
        Ok(id)
    }
}
