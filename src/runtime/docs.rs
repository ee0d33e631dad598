//! Primitive documentation, read from the engine's own metadata: the
//! signature Rhai derives and the `///` comments of each binding. One source
//! for `hound doc`, the REPL's `:doc` and completion, and the doc-example tests.

use rhai::Engine;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
pub struct FnDoc {
    /// `proc` for `proc::list`; empty for global helpers such as `emit`.
    pub namespace: String,
    pub name: String,
    pub signatures: Vec<String>,
    /// The doc comment, `///` stripped.
    pub doc: String,
    /// The keys its options map takes (empty when it takes none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub options: &'static [crate::primitives::args::Opt],
}

impl FnDoc {
    pub fn full_name(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}::{}", self.namespace, self.name)
        }
    }
    /// The doc's first sentence (it may span lines), for one-line listings.
    pub fn summary(&self) -> String {
        let para: Vec<&str> = self
            .doc
            .lines()
            .map(str::trim)
            .take_while(|l| !l.is_empty())
            .collect();
        let text = para.join(" ");
        let end = text
            .char_indices()
            .find(|&(i, c)| {
                c == '.' && text[i + 1..].chars().next().is_none_or(char::is_whitespace)
            })
            .map(|(i, _)| i + 1);
        match end {
            Some(e) => text[..e].to_string(),
            None => text,
        }
    }
    /// The ```rhai blocks of the doc comment.
    pub fn examples(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur: Option<String> = None;
        for line in self.doc.lines() {
            let t = line.trim();
            match (&mut cur, t) {
                (None, t) if t.starts_with("```rhai") => cur = Some(String::new()),
                (Some(_), "```") => out.extend(cur.take()),
                (Some(s), _) => {
                    s.push_str(line);
                    s.push('\n');
                }
                _ => {}
            }
        }
        out
    }
}

fn strip_comment(lines: &[Value]) -> String {
    lines
        .iter()
        .filter_map(Value::as_str)
        .flat_map(|c| c.lines())
        .map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("///").unwrap_or(l);
            l.strip_prefix(' ').unwrap_or(l).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a `Dynamic` parameter takes, by its name (Rhai only knows "any").
const PARAM_TYPES: &[(&str, &str)] = &[
    ("target", "string|array"),
    ("indicators", "string|array"),
    ("duration", "int|string"),
    ("timeout", "int|string"),
    ("seconds", "int|string"),
    ("value", "any"),
    ("actual", "any"),
    ("expected", "any"),
    ("ports", "string|int|array"),
    ("targets", "string|array"),
    ("key", "string|int"),
];

/// What a primitive returning `Dynamic` gives back. `returns_are_documented`
/// fails when a new one is missing here.
const RETURNS: &[(&str, &str)] = &[
    ("re_find", "string|()"),
    ("case::current", "map"),
    ("case::evidence", "map"),
    ("case::finding", "map"),
    ("case::journal", "array"),
    ("case::open", "map"),
    ("case::report", "string"),
    ("fs::find", "array"),
    ("fs::glob", "array"),
    ("fs::grep", "array"),
    ("fs::head", "array"),
    ("fs::quarantine", "map"),
    ("fs::restore", "map"),
    ("fs::stat", "map"),
    ("fs::tail", "array"),
    ("fs::temp_files", "array"),
    ("fs::hash", "map"),
    ("fs::read", "string"),
    ("fw::block", "map"),
    ("fw::blocks", "array"),
    ("fw::diff", "map"),
    ("fw::isolate", "map"),
    ("fw::rollback", "map"),
    ("fw::ruleset", "array"),
    ("fw::snapshot", "map"),
    ("fw::unblock", "map"),
    ("fw::unisolate", "map"),
    ("log::grep", "array"),
    ("log::journal", "array"),
    ("log::parse_access", "array"),
    ("log::tail", "array"),
    ("net::connections_to", "array"),
    ("net::interfaces", "array"),
    ("net::listening", "array"),
    ("net::neighbors", "array"),
    ("net::probe", "map"),
    ("net::routes", "array"),
    ("net::sockets", "array"),
    ("net::watch", "map"),
    ("net::verify_block", "map"),
    ("proc::ancestors", "array"),
    ("proc::children", "array"),
    ("proc::env", "map"),
    ("proc::files", "array"),
    ("proc::find", "array"),
    ("proc::get", "map"),
    ("proc::kill", "map"),
    ("proc::list", "array"),
    ("proc::resume", "map"),
    ("proc::suspend", "map"),
    ("proc::tree", "array"),
    ("scan::hosts", "array"),
    ("scan::ports", "array"),
    ("scan::services", "array"),
    ("sys::authorized_keys", "array"),
    ("sys::crontabs", "array"),
    ("sys::info", "map"),
    ("sys::kernel_modules", "array"),
    ("sys::logins", "array"),
    ("sys::services", "array"),
    ("sys::sessions", "array"),
    ("sys::users", "array"),
    ("case::apply", "array"),
    ("case::graph", "map"),
    ("case::plan", "array"),
    ("case::plan_add", "string"),
    ("case::undo", "map"),
    ("fs::remove_line", "map"),
    ("fs::yara", "array"),
    ("proc::yara", "array"),
    ("sys::crossview", "array"),
    ("sys::kernel_taint", "map"),
    ("sys::package_owner", "string|()"),
    ("sys::package_status", "array"),
    ("sys::packages_verify", "array"),
    ("sys::preload_hijacks", "array"),
    ("sys::privileged_files", "array"),
    ("sys::shell_history", "array"),
    ("sys::sniffers", "array"),
    ("log::auth", "array"),
];

/// The type a `Dynamic` return stands for, when known.
fn returns_of(full_name: &str) -> Option<&'static str> {
    RETURNS
        .iter()
        .find(|(n, _)| *n == full_name)
        .map(|(_, t)| *t)
}

/// `target: Dynamic` becomes `target: string|array`, by the parameter's name.
fn typed_params(sig: &str) -> String {
    let mut s = sig.to_string();
    for (name, ty) in PARAM_TYPES {
        s = s.replace(&format!("{name}: Dynamic"), &format!("{name}: {ty}"));
    }
    s
}

/// Rhai derives signatures from Rust types; show script types instead.
fn tidy_signature(sig: &str, full_name: &str) -> String {
    let mut s = typed_params(sig);
    if let Some(i) = s.find(" -> RhaiResult<") {
        let inner = s[i + 15..].trim_end_matches('>').to_string();
        s = format!("{} -> {inner}", &s[..i]);
    }
    if let (Some(base), Some(ret)) = (s.strip_suffix(" -> Dynamic"), returns_of(full_name)) {
        s = format!("{base} -> {ret}");
    }
    for (from, to) in [
        ("&str", "String"),
        ("ImmutableString", "String"),
        ("Dynamic", "any"),
        ("rhai::Array", "array"),
        ("INT", "int"),
        ("i64", "int"),
        ("FLOAT", "float"),
        ("f64", "float"),
        ("Array", "array"),
        ("Map", "map"),
    ] {
        s = s.replace(from, to);
    }
    s.trim_end_matches(" -> ()").to_string()
}

/// Every hound primitive and global helper, overloads merged, sorted.
pub fn primitives(engine: &Engine) -> Vec<FnDoc> {
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let v: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    let mut out: Vec<FnDoc> = Vec::new();
    let mut add = |ns: &str, f: &Value| {
        let Some(name) = f["name"].as_str() else {
            return;
        };
        let doc = strip_comment(
            f["docComments"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        );
        // Global functions without docs are Rhai's own or operators: not ours.
        if ns.is_empty() && doc.is_empty() {
            return;
        }
        let full = if ns.is_empty() {
            name.to_string()
        } else {
            format!("{ns}::{name}")
        };
        let sig = tidy_signature(f["signature"].as_str().unwrap_or(name), &full);
        if let Some(d) = out.iter_mut().find(|d| d.namespace == ns && d.name == name) {
            if !d.signatures.contains(&sig) {
                d.signatures.push(sig);
            }
            if d.doc.is_empty() {
                d.doc = doc;
            }
        } else {
            out.push(FnDoc {
                namespace: ns.into(),
                name: name.into(),
                signatures: vec![sig],
                doc,
                options: crate::primitives::args::option_table(&full).unwrap_or(&[]),
            });
        }
    };
    if let Some(mods) = v["modules"].as_object() {
        for (ns, m) in mods {
            for f in m["functions"].as_array().into_iter().flatten() {
                add(ns, f);
            }
        }
    }
    for f in v["functions"].as_array().into_iter().flatten() {
        add("", f);
    }
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

/// Looks up `proc::list` or `emit`.
pub fn find(engine: &Engine, name: &str) -> Option<FnDoc> {
    primitives(engine)
        .into_iter()
        .find(|d| d.full_name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_first_sentence() {
        let d = FnDoc {
            namespace: "x".into(),
            name: "y".into(),
            signatures: vec![],
            doc: "Stops a process: evidence first,\nthen TERM (3 s). Refuses pid 1.\n\nMore."
                .into(),
            options: Default::default(),
        };
        assert_eq!(
            d.summary(),
            "Stops a process: evidence first, then TERM (3 s)."
        );
    }

    #[test]
    fn returns_are_documented() {
        let rt = crate::Runtime::builder().build().unwrap();
        let vague: Vec<String> = primitives(rt.engine())
            .iter()
            .flat_map(|d| d.signatures.iter().map(move |s| (d.full_name(), s.clone())))
            .filter(|(_, s)| s.contains("any") && !s.contains("value: any"))
            .filter(|(n, _)| !n.starts_with("assert"))
            .map(|(n, s)| format!("{n}: {s}"))
            .collect();
        assert!(
            vague.is_empty(),
            "add these to RETURNS or PARAM_TYPES: {vague:#?}"
        );
    }
}
