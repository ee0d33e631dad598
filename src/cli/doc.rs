//! `hound list` and `hound doc`.

use super::{runtime, Global, EXIT_ERROR, EXIT_OK};
use hound::output::{escape, print_value};
use hound::runtime::docs::{self, FnDoc};
use hound::runtime::modules;
use hound::{CancelToken, Script};
use owo_colors::OwoColorize;
use serde_json::json;

/// Bundled hunts: name, version, one line.
pub fn list(g: &Global) -> i32 {
    let mut rows = Vec::new();
    for name in modules::stdlib_hunt_names() {
        let h = Script::load(&name).ok().and_then(|s| s.header);
        let (version, description, destructive) = h
            .map(|h| (h.version, h.description, h.destructive))
            .unwrap_or_default();
        rows.push(json!({
            "name": name,
            "version": version,
            "destructive": destructive,
            "description": description.split_whitespace().collect::<Vec<_>>().join(" "),
        }));
    }
    let v = rhai::serde::to_dynamic(&rows).unwrap_or_default();
    print_value(&v, super::style(g));
    EXIT_OK
}

fn heading(g: &Global, s: &str) -> String {
    if super::style(g).color {
        s.bold().to_string()
    } else {
        s.to_string()
    }
}

fn print_fn(g: &Global, d: &FnDoc) {
    for s in &d.signatures {
        println!(
            "{}",
            heading(g, format!("{}::{s}", d.namespace).trim_start_matches("::"))
        );
    }
    println!();
    println!("{}", d.doc);
    if !d.options.is_empty() {
        println!("\n{}", heading(g, "Options (the opts map):"));
        let w = d.options.iter().map(|o| o.key.len()).max().unwrap_or(0);
        let tw = d.options.iter().map(|o| o.ty.len()).max().unwrap_or(0);
        let dw = d.options.iter().map(|o| o.default.len()).max().unwrap_or(0);
        println!("  {:<w$}  {:<tw$}  {:<dw$}  what", "key", "type", "default");
        for o in d.options {
            println!(
                "  {:<w$}  {:<tw$}  {:<dw$}  {}",
                o.key, o.ty, o.default, o.description
            );
        }
    }
}

pub fn main(g: &Global, name: Option<&str>) -> i32 {
    let rt = match runtime(g, CancelToken::new()) {
        Ok(rt) => rt,
        Err(e) => {
            super::report_error(g, &e);
            return EXIT_ERROR;
        }
    };
    let all = docs::primitives(rt.engine());
    let families = docs::families(rt.engine());
    if g.json {
        let v = match name {
            None => serde_json::to_value(&all),
            Some(n) => serde_json::to_value(
                all.iter()
                    .filter(|d| d.full_name() == n || d.namespace == n)
                    .collect::<Vec<_>>(),
            ),
        };
        println!("{}", v.unwrap_or_default());
        return EXIT_OK;
    }
    match name {
        None => {
            println!(
                "{}",
                heading(
                    g,
                    "Primitive families (hound doc FAMILY, hound doc FAMILY::NAME):"
                )
            );
            for f in &families {
                let n = all.iter().filter(|d| d.namespace == f.name).count();
                println!("  {:<6} {} ({n} functions)", f.name, f.summary);
            }
            // Signatures, not bare names: the argument order is the
            // question (`re_match(text, pattern)`, not the other way).
            println!("\n{}", heading(g, "Global helpers (hound doc NAME):"));
            for d in all.iter().filter(|d| d.namespace.is_empty()) {
                for sig in &d.signatures {
                    println!("  {sig}");
                }
                println!("      {}", d.summary());
            }
            println!(
                "\n{}",
                heading(g, "Bundled hunts (hound doc NAME, hound run NAME):")
            );
            for h in modules::stdlib_hunt_names() {
                println!("  {h}");
            }
            EXIT_OK
        }
        Some(n) => {
            if let Some(d) = all.iter().find(|d| d.full_name() == n) {
                print_fn(g, d);
                return EXIT_OK;
            }
            if families.iter().any(|f| f.name == n) {
                for d in all.iter().filter(|d| d.namespace == n) {
                    println!("  {:<28} {}", d.full_name(), d.summary());
                }
                return EXIT_OK;
            }
            match Script::load(n) {
                Ok(s) => {
                    doc_hunt(g, &s);
                    EXIT_OK
                }
                Err(_) => {
                    eprintln!("error[not_found]: nothing named {:?}", escape(n));
                    let names: Vec<String> = all
                        .iter()
                        .map(FnDoc::full_name)
                        .chain(modules::stdlib_hunt_names())
                        .chain(families.iter().map(|f| f.name.clone()))
                        .collect();
                    let mut close =
                        hound::runtime::calls::nearest(n, names.iter().map(String::as_str));
                    if close.is_empty() && !n.contains("::") {
                        // `blok`: near a primitive's own name, in any family.
                        let bare =
                            hound::runtime::calls::nearest(n, all.iter().map(|d| d.name.as_str()));
                        close = all
                            .iter()
                            .filter(|d| bare.contains(&d.name))
                            .map(FnDoc::full_name)
                            .take(5)
                            .collect();
                    }
                    if close.is_empty() {
                        close = names
                            .iter()
                            .filter(|f| f.contains(n) || n.contains(f.as_str()))
                            .take(5)
                            .cloned()
                            .collect();
                    }
                    if !close.is_empty() {
                        eprintln!("  = hint: did you mean {}?", close.join(", "));
                    } else {
                        eprintln!("  = hint: `hound doc` lists everything");
                    }
                    EXIT_ERROR
                }
            }
        }
    }
}

fn doc_hunt(g: &Global, s: &Script) {
    let Some(h) = &s.header else {
        println!("{} has no header", escape(&s.origin));
        return;
    };
    // Everything in a header is the script author's text: a hostile one
    // must not drive the terminal (newlines of a description are kept).
    let e = |t: &str| escape(t).into_owned();
    let lines = |t: &str| t.lines().map(e).collect::<Vec<_>>().join("\n");
    let list = |v: &[String]| v.iter().map(|x| e(x)).collect::<Vec<_>>().join(", ");
    println!("{} {}", heading(g, &e(&h.name)), e(&h.version));
    println!("{}\n", lines(&h.description));
    if !h.author.is_empty() {
        println!("author:      {}", e(&h.author));
    }
    println!("destructive: {}", h.destructive);
    if !h.requires.is_empty() {
        println!("requires:    {}", list(&h.requires));
    }
    if !h.mitre.is_empty() {
        println!("mitre:       {}", list(&h.mitre));
    }
    if !h.params.is_empty() {
        println!("\n{}", heading(g, "Parameters (--param NAME=VALUE):"));
        for p in &h.params {
            let def = match (&p.default, p.required) {
                (_, true) => "required".to_string(),
                (Some(d), _) => format!("default {}", e(&d.to_string())),
                (None, _) => "optional".to_string(),
            };
            println!(
                "  {:<14} {:<22} {:<22} {}",
                e(&p.name),
                p.type_text(),
                def,
                lines(&p.description)
            );
        }
    }
}
