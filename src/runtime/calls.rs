//! `hound check`'s look at calls: a call to a function that exists nowhere
//! (not a primitive, not Rhai's, not defined in the script) is reported with
//! its position and the nearest names. Rhai itself only finds out when the
//! call runs, which for a hunt may be after minutes of work.

use super::diagnostic::ScriptError;
use rhai::{ASTNode, Engine, Expr, FnCallExpr, Position, Stmt, AST};
use std::collections::{BTreeMap, BTreeSet};

/// Functions the engine handles itself, absent from its metadata.
const BUILTIN: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "eval",
];

/// Names the engine knows: globals (Rhai's packages included) and each
/// static module's (the primitive families).
pub struct Known {
    global: BTreeSet<String>,
    modules: BTreeMap<String, BTreeSet<String>>,
}

impl Known {
    pub fn of(engine: &Engine) -> Known {
        let json = engine.gen_fn_metadata_to_json(true).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let names = |fns: &serde_json::Value| -> BTreeSet<String> {
            fns.as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["name"].as_str())
                // Getters and setters (`get$field`) are not called by name.
                .filter(|n| !n.contains('$'))
                .map(str::to_string)
                .collect()
        };
        let mut global = names(&v["functions"]);
        global.extend(BUILTIN.iter().map(|s| s.to_string()));
        let modules = v["modules"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(ns, m)| (ns.clone(), names(&m["functions"])))
            .collect();
        Known { global, modules }
    }
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to three names close to `name` (a typo, a missing letter).
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= limit || (c.starts_with(name) && name.len() >= 3))
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

fn did_you_mean(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| format!("did you mean {}?", names.join(", ")))
}

/// Every call in `ast` to a function that does not exist, as errors
/// pointing at the call.
pub fn unknown_calls(known: &Known, ast: &AST, origin: &str, source: &str) -> Vec<ScriptError> {
    let mut script_fns: BTreeSet<String> =
        ast.iter_functions().map(|f| f.name.to_string()).collect();
    // A variable holding a function pointer may be called like a function.
    let mut vars: BTreeSet<String> = BTreeSet::new();
    for f in ast.iter_functions() {
        vars.extend(f.params.iter().map(|p| p.to_string()));
    }
    let mut calls: Vec<(String, String, bool, Position)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let call = |x: &FnCallExpr, pos: Position, method: bool| {
            (x.namespace.to_string(), x.name.to_string(), method, pos)
        };
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                vars.insert(x.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(x, ..))) => {
                vars.insert(x.0.name.to_string());
                if let Some(i) = &x.1 {
                    vars.insert(i.name.to_string());
                }
            }
            Some(ASTNode::Stmt(Stmt::FnCall(x, pos)))
            | Some(ASTNode::Expr(Expr::FnCall(x, pos)))
                if x.op_token.is_none() =>
            {
                calls.push(call(x, *pos, false));
            }
            Some(ASTNode::Expr(Expr::MethodCall(x, pos))) => calls.push(call(x, *pos, true)),
            _ => {}
        }
        true
    });
    script_fns.extend(vars.iter().cloned());
    let mut out = Vec::new();
    for (ns, name, method, pos) in calls {
        let (exists, candidates): (bool, Vec<&str>) = if ns.is_empty() {
            let ok = known.global.contains(&name) || script_fns.contains(&name);
            let c = known
                .global
                .iter()
                .chain(script_fns.iter())
                .map(String::as_str)
                .filter(|c| !c.starts_with("anon$"))
                .collect();
            (ok, c)
        } else if let Some(m) = known.modules.get(&ns) {
            (m.contains(&name), m.iter().map(String::as_str).collect())
        } else {
            // An `import ... as alias`: resolved only when the script runs.
            continue;
        };
        if exists || (method && script_fns.contains(&name)) {
            continue;
        }
        let full = if ns.is_empty() {
            name.clone()
        } else {
            format!("{ns}::{name}")
        };
        let mut e = ScriptError::new(
            "unknown_function",
            format!(
                "{}{full}: no such function",
                if method { "method ." } else { "" }
            ),
        );
        let near: Vec<String> = nearest(&name, candidates)
            .into_iter()
            .map(|n| {
                if ns.is_empty() {
                    n
                } else {
                    format!("{ns}::{n}")
                }
            })
            .collect();
        e.hint = did_you_mean(&near).or_else(|| {
            Some(if ns.is_empty() {
                "`hound doc` lists the primitives and helpers".into()
            } else {
                format!("`hound doc {ns}` lists the family")
            })
        });
        out.push(e.at_pos(Some(origin), Some(source), pos));
    }
    out
}
