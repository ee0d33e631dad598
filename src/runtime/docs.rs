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

/// Rhai derives signatures from Rust types; show script types instead.
fn tidy_signature(sig: &str) -> String {
    let mut s = sig.to_string();
    if let Some(i) = s.find(" -> RhaiResult<") {
        let inner = s[i + 15..].trim_end_matches('>').to_string();
        s = format!("{} -> {inner}", &s[..i]);
    }
    for (from, to) in [
        ("&str", "String"),
        ("ImmutableString", "String"),
        ("Dynamic", "?"),
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
        let sig = tidy_signature(f["signature"].as_str().unwrap_or(name));
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
        };
        assert_eq!(
            d.summary(),
            "Stops a process: evidence first, then TERM (3 s)."
        );
    }
}
