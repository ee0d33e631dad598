//! Rhai bindings: one module per family, all registered here.
//!
//! A binding is thin: it checks and converts arguments (naming the primitive
//! and the argument when they are wrong), calls into `crate::host`, and turns
//! the serde result into a Rhai value. Errors reach scripts as a catchable map
//! `#{kind, message, primitive, hint}`.

pub mod args;
pub mod case;
pub mod case_graph;
pub mod case_plan;
pub mod core;
pub mod fs;
pub mod fs_act;
pub mod fw;
pub mod linux;
pub mod log;
pub mod log_auth;
pub mod net;
pub mod net_verify;
pub mod proc;
pub mod proc_act;
pub mod regex_cache;
pub mod scan;
pub mod sys;
pub mod yara;

use crate::error::Error;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Module, Position};
use serde::Serialize;

pub use args::Opts;

pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// Registers every family as a static module (`proc::list()`), plus the
/// global helpers (`emit`, `sleep`, `warn`). A family may span several files
/// (reading in one, acting in another); their functions are combined here.
/// This is the one list of families: `hound doc`, the REPL and `hound
/// check` read them back from the engine (`runtime::docs`).
pub fn register(engine: &mut Engine) {
    use rhai::exported_module as m;
    engine.register_global_module(m!(core::core_fns).into());
    // (namespace, the one line `hound doc` and `:help` show, its parts)
    let families: [(&str, &str, Vec<Module>); 8] = [
        (
            "scan",
            "host discovery, port scans and service detection",
            vec![m!(scan::scan_fns)],
        ),
        (
            "net",
            "sockets, connections, neighbours, interfaces, routes, probes",
            vec![m!(net::net_fns), m!(net_verify::net_verify_fns)],
        ),
        (
            "proc",
            "processes: list, inspect, parent chains, kill/suspend",
            vec![
                m!(proc::proc_fns),
                m!(proc_act::proc_act_fns),
                m!(yara::proc_yara_fns),
            ],
        ),
        (
            "fw",
            "nftables containment: block, unblock, isolate, rollback",
            vec![m!(fw::fw_fns)],
        ),
        (
            "fs",
            "files: find, stat, read, grep, hash, quarantine",
            vec![
                m!(fs::fs_fns),
                m!(fs_act::fs_act_fns),
                m!(yara::fs_yara_fns),
            ],
        ),
        (
            "sys",
            "the host: info, users, logins, cron, services, keys",
            vec![m!(sys::sys_fns), m!(linux::linux_fns)],
        ),
        (
            "log",
            "log files: tail, grep, access-log parsing, journal",
            vec![m!(log::log_fns), m!(log_auth::log_auth_fns)],
        ),
        (
            "case",
            "the case: findings, evidence, journal, report",
            vec![
                m!(case::case_fns),
                m!(case_graph::case_graph_fns),
                m!(case_plan::case_plan_fns),
            ],
        ),
    ];
    for (name, summary, parts) in families {
        let mut module = Module::new();
        for part in parts {
            module.combine(part);
        }
        // The engine's metadata carries it: `docs::families` reads it there.
        module.set_doc(summary);
        engine.register_static_module(name, module.into());
    }
}

thread_local! {
    /// Where the primitive being called was called from. Rhai fills in the
    /// position of errors from plain calls but not from namespaced ones
    /// (`fs::stat(..)`), so bindings record it (in [`ctx`]) for [`to_rhai`].
    static CALL_POS: std::cell::RefCell<(String, Position)> =
        const { std::cell::RefCell::new((String::new(), Position::NONE)) };
}

/// Turns a hound error into the value a script's `catch (e)` receives.
pub fn to_rhai(err: Error) -> Box<EvalAltResult> {
    let mut m = Map::new();
    m.insert("kind".into(), err.kind.as_str().into());
    m.insert("code".into(), err.kind.code().into());
    m.insert("message".into(), err.to_string().into());
    m.insert(
        "primitive".into(),
        err.primitive
            .clone()
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT),
    );
    m.insert(
        "hint".into(),
        err.hint.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    // Only a position recorded by the very primitive that failed is trusted.
    let pos = CALL_POS.with(|p| {
        let (name, pos) = &*p.borrow();
        if err.primitive.as_deref() == Some(name.as_str()) {
            *pos
        } else {
            Position::NONE
        }
    });
    Box::new(EvalAltResult::ErrorRuntime(m.into(), pos))
}

/// `result.rhai("fs::stat")?` in a binding: names the primitive and converts.
pub trait IntoRhai<T> {
    fn rhai(self, primitive: &str) -> RhaiResult<T>;
}

impl<T> IntoRhai<T> for Result<T, Error> {
    fn rhai(self, primitive: &str) -> RhaiResult<T> {
        self.map_err(|e| to_rhai(e.in_primitive(primitive)))
    }
}

/// A serde value (a host struct, a Vec of them) as a Rhai value.
pub fn to_dyn<T: Serialize + ?Sized>(value: &T) -> RhaiResult<Dynamic> {
    rhai::serde::to_dynamic(value)
}

/// Shorthand for the context, named for errors.
pub fn ctx(nc: &rhai::NativeCallContext, primitive: &str) -> RhaiResult<crate::runtime::Ctx> {
    CALL_POS.with(|p| *p.borrow_mut() = (primitive.to_string(), nc.call_position()));
    let c = crate::runtime::Ctx::from_call(nc).rhai(primitive)?;
    crate::host::fs::bounded::set_cancel(&c.cancel); // system-file reads honour Ctrl-C
    Ok(c)
}
