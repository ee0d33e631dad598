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

/// The script types a doc comment may declare, joined by `|` for a union.
const SCRIPT_TYPES: &[&str] = &[
    "string", "int", "float", "bool", "map", "array", "fn", "()", "any",
];

/// What Rhai's metadata calls a Rust type, as the script type it is.
/// `Dynamic` is absent on purpose: only the doc comment can say what it is.
fn script_type(rust: &str) -> Option<&'static str> {
    let rust = rust.trim();
    let inner = rust
        .strip_prefix("RhaiResult<")
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(rust);
    Some(match inner.trim_start_matches("rhai::") {
        "&str" | "String" | "ImmutableString" => "string",
        "i64" | "INT" => "int",
        "f64" | "FLOAT" => "float",
        "bool" => "bool",
        "Map" => "map",
        "Array" => "array",
        "FnPtr" => "fn",
        "()" | "" => "()",
        _ => return None,
    })
}

fn is_dynamic(rust: &str) -> bool {
    let r = rust.trim();
    r == "Dynamic" || r == "RhaiResult<Dynamic>"
}

/// The types a primitive's doc comment declares for what Rust leaves as
/// `Dynamic`, in one fixed form (lines of their own, anywhere in the doc):
///
/// ```text
/// Params: target: string|array, timeout: int|float|string
/// Returns: map
/// ```
#[derive(Debug, Default)]
struct Declared {
    returns: Option<String>,
    params: Vec<(String, String)>,
    /// Lines in the fixed form that do not parse, or contradict each other.
    errors: Vec<String>,
}

fn valid_type(t: &str) -> bool {
    !t.is_empty() && t.split('|').all(|p| SCRIPT_TYPES.contains(&p))
}

impl Declared {
    /// Takes the type lines out of `doc` (they end up in the signature).
    fn take_from(doc: &str, into: &mut Declared) -> String {
        let mut kept = Vec::new();
        let mut in_code = false;
        for line in doc.lines() {
            let t = line.trim();
            in_code ^= t.starts_with("```");
            if in_code || t.starts_with("```") {
                kept.push(line);
            } else if let Some(ty) = t.strip_prefix("Returns:") {
                let ty = ty.trim();
                if !valid_type(ty) {
                    into.errors
                        .push(format!("`{t}`: not a type ({SCRIPT_TYPES:?})"));
                }
                match &into.returns {
                    Some(r) if r != ty => into
                        .errors
                        .push(format!("`{t}`: contradicts `Returns: {r}`")),
                    _ => into.returns = Some(ty.to_string()),
                }
            } else if let Some(list) = t.strip_prefix("Params:") {
                for p in list.split(',') {
                    let Some((name, ty)) = p.split_once(':') else {
                        into.errors.push(format!("`{t}`: expected `name: type`"));
                        continue;
                    };
                    let (name, ty) = (name.trim(), ty.trim());
                    if !valid_type(ty) {
                        into.errors.push(format!("`{t}`: {ty:?} is not a type"));
                    }
                    match into.params.iter().find(|(n, _)| n == name) {
                        Some((_, old)) if old != ty => {
                            into.errors.push(format!("`{t}`: {name} was {old}"))
                        }
                        Some(_) => {}
                        None => into.params.push((name.into(), ty.into())),
                    }
                }
            } else {
                kept.push(line);
            }
        }
        // The fixed-form lines usually close the comment: no blank tail.
        while kept.last().is_some_and(|l| l.trim().is_empty()) {
            kept.pop();
        }
        kept.join("\n")
    }
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }
}

/// One registered overload, as Rhai's metadata describes it.
struct Overload {
    params: Vec<(String, String)>,
    returns: String,
}

/// `name(p: type, ...) -> type`, script types throughout; `?` where
/// neither Rust nor the doc comment says (a test keeps that from shipping).
fn signature(name: &str, o: &Overload, d: &Declared) -> String {
    let ty = |rust: &str, declared: Option<&str>| -> String {
        if is_dynamic(rust) {
            declared.unwrap_or("?").to_string()
        } else {
            script_type(rust).unwrap_or("?").to_string()
        }
    };
    let params: Vec<String> = o
        .params
        .iter()
        .map(|(n, t)| format!("{n}: {}", ty(t, d.param(n))))
        .collect();
    let ret = ty(&o.returns, d.returns.as_deref());
    let base = format!("{name}({})", params.join(", "));
    if ret == "()" {
        base
    } else {
        format!("{base} -> {ret}")
    }
}

/// A primitive while its overloads are gathered.
struct Entry {
    namespace: String,
    name: String,
    doc: String,
    declared: Declared,
    overloads: Vec<Overload>,
}

/// Every registered function of ours, overloads merged, in metadata order.
fn entries(engine: &Engine) -> Vec<Entry> {
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let v: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    let mut out: Vec<Entry> = Vec::new();
    let mut add = |ns: &str, f: &Value| {
        let Some(name) = f["name"].as_str() else {
            return;
        };
        let raw = strip_comment(
            f["docComments"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        );
        // Global functions without docs are Rhai's own or operators: not ours.
        if ns.is_empty() && raw.is_empty() {
            return;
        }
        let overload = Overload {
            params: f["params"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let s = |k: &str| p[k].as_str().unwrap_or("?").to_string();
                    (s("name"), s("type"))
                })
                .collect(),
            returns: f["returnType"].as_str().unwrap_or("()").to_string(),
        };
        let i = match out.iter().position(|e| e.namespace == ns && e.name == name) {
            Some(i) => i,
            None => {
                out.push(Entry {
                    namespace: ns.into(),
                    name: name.into(),
                    doc: String::new(),
                    declared: Declared::default(),
                    overloads: Vec::new(),
                });
                out.len() - 1
            }
        };
        let e = &mut out[i];
        // Each overload's comment says what that form adds (the options of
        // `fw::block(target, opts)`, say): all of them are the help text, in
        // registration order, and all their examples are tested.
        let doc = Declared::take_from(&raw, &mut e.declared);
        if !doc.is_empty() && !e.doc.contains(&doc) {
            if !e.doc.is_empty() {
                e.doc.push_str("\n\n");
            }
            e.doc.push_str(&doc);
        }
        e.overloads.push(overload);
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
    out
}

/// Every hound primitive and global helper, overloads merged, sorted.
pub fn primitives(engine: &Engine) -> Vec<FnDoc> {
    let mut out: Vec<FnDoc> = entries(engine)
        .into_iter()
        .map(|e| {
            let full = if e.namespace.is_empty() {
                e.name.clone()
            } else {
                format!("{}::{}", e.namespace, e.name)
            };
            let mut signatures: Vec<String> = Vec::new();
            for o in &e.overloads {
                let s = signature(&e.name, o, &e.declared);
                if !signatures.contains(&s) {
                    signatures.push(s);
                }
            }
            FnDoc {
                options: crate::primitives::args::option_table(&full).unwrap_or(&[]),
                namespace: e.namespace,
                name: e.name,
                signatures,
                doc: e.doc,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

/// What the registration leaves unsaid or says wrongly: a `Dynamic` whose
/// type no doc comment declares, a declaration Rust already makes (two
/// sources drift), a malformed or contradicting type line. Empty when every
/// signature is fully typed.
pub fn problems(engine: &Engine) -> Vec<String> {
    let mut out = Vec::new();
    for e in entries(engine) {
        let full = format!("{}::{}", e.namespace, e.name);
        let full = full.trim_start_matches("::");
        let d = &e.declared;
        out.extend(d.errors.iter().map(|m| format!("{full}: {m}")));
        let dynamic_return = e.overloads.iter().any(|o| is_dynamic(&o.returns));
        match (&d.returns, dynamic_return) {
            (None, true) => out.push(format!("{full}: returns Dynamic; add `Returns: TYPE`")),
            (Some(r), false) => out.push(format!(
                "{full}: `Returns: {r}` repeats what the Rust signature says; remove it"
            )),
            _ => {}
        }
        for (name, ty) in &d.params {
            let dynamic = e
                .overloads
                .iter()
                .flat_map(|o| &o.params)
                .any(|(n, t)| n == name && is_dynamic(t));
            if !dynamic {
                out.push(format!(
                    "{full}: `Params: {name}: {ty}` names no Dynamic parameter; remove it"
                ));
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (name, rust) in e.overloads.iter().flat_map(|o| &o.params) {
            if seen.contains(&name.as_str()) {
                continue;
            }
            seen.push(name);
            if is_dynamic(rust) && d.param(name).is_none() {
                out.push(format!(
                    "{full}: parameter `{name}` is Dynamic; add `Params: {name}: TYPE`"
                ));
            } else if !is_dynamic(rust) && script_type(rust).is_none() {
                out.push(format!(
                    "{full}: parameter `{name}`: Rust type {rust} has no script type (docs::script_type)"
                ));
            }
        }
        for o in &e.overloads {
            if !is_dynamic(&o.returns) && script_type(&o.returns).is_none() {
                out.push(format!(
                    "{full}: returns {}: no script type (docs::script_type)",
                    o.returns
                ));
            }
        }
    }
    out
}

/// A family (`proc`): its name and one line, from the doc the registration
/// gives its module.
#[derive(Debug, Clone, Serialize)]
pub struct Family {
    pub name: String,
    pub summary: String,
}

/// The primitive families the engine has, sorted by name.
pub fn families(engine: &Engine) -> Vec<Family> {
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let v: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    v["modules"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, m)| Family {
            name: name.clone(),
            summary: m["doc"]
                .as_str()
                .and_then(|d| {
                    strip_comment(&[Value::from(d)])
                        .lines()
                        .next()
                        .map(String::from)
                })
                .unwrap_or_default(),
        })
        .collect()
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

    fn declared(doc: &str) -> (Declared, String) {
        let mut d = Declared::default();
        let kept = Declared::take_from(doc, &mut d);
        (d, kept)
    }

    #[test]
    fn type_lines_leave_the_doc_and_type_the_signature() {
        let (d, kept) = declared(
            "Blocks.\n\n```rhai\nReturns: not this\n```\n\nParams: target: string|array\nReturns: map",
        );
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(kept, "Blocks.\n\n```rhai\nReturns: not this\n```");
        let o = Overload {
            params: vec![
                ("target".into(), "Dynamic".into()),
                ("opts".into(), "Map".into()),
            ],
            returns: "RhaiResult<Dynamic>".into(),
        };
        assert_eq!(
            signature("block", &o, &d),
            "block(target: string|array, opts: map) -> map"
        );
        let undeclared = Declared::default();
        assert_eq!(
            signature("block", &o, &undeclared),
            "block(target: ?, opts: map) -> ?"
        );
    }

    #[test]
    fn malformed_or_contradicting_type_lines_are_errors() {
        let (d, _) = declared("Returns: maps\nParams: x\nParams: a: int\nParams: a: string");
        assert_eq!(d.errors.len(), 3, "{:?}", d.errors);
    }
}
