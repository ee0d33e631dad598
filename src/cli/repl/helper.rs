//! Line editing for the REPL: completion, hints, highlighting and
//! multi-line input. The completion index is built on the first Tab, from
//! the engine's own metadata, so new primitives appear without changes here.

use hound::runtime::docs::FnDoc;
use hound::runtime::modules;
use owo_colors::OwoColorize;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

pub const COMMANDS: &[(&str, &str)] = &[
    (":help", "families, and how to get started"),
    (
        ":doc",
        "NAME: signature, description and example of a primitive or hunt",
    ),
    (":run", "NAME [k=v...]: run a bundled hunt or a script file"),
    (
        ":load",
        "FILE: run a file in this session (its functions stay defined)",
    ),
    (":vars", "the variables of this session"),
    (":case", "the case folder and the findings so far"),
    (
        ":dry-run",
        "on|off: destructive primitives only describe what they would do",
    ),
    (":json", "toggle JSON output"),
    (":quit", "leave (Ctrl-D also does)"),
];

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "return", "throw", "try", "catch", "import", "as", "true", "false", "switch",
];

/// What completion knows about the session, updated after each line.
#[derive(Default)]
pub struct Session {
    pub variables: Vec<String>,
    /// Fields of the last result (a map, or the first map of an array).
    pub fields: Vec<String>,
}

pub struct ReplHelper {
    docs: Arc<dyn Fn() -> Vec<FnDoc> + Send + Sync>,
    index: OnceLock<Vec<FnDoc>>,
    pub session: Arc<Mutex<Session>>,
    pub color: bool,
}

impl ReplHelper {
    pub fn new(docs: Arc<dyn Fn() -> Vec<FnDoc> + Send + Sync>, color: bool) -> Self {
        ReplHelper {
            docs,
            index: OnceLock::new(),
            session: Default::default(),
            color,
        }
    }

    fn index(&self) -> &[FnDoc] {
        self.index.get_or_init(|| (self.docs)())
    }

    fn signature_of(&self, name: &str) -> Option<String> {
        self.index()
            .iter()
            .find(|d| d.full_name() == name)
            .and_then(|d| d.signatures.first().cloned())
    }
}

fn in_string(before: &str) -> bool {
    let mut inside = false;
    let mut escaped = false;
    for c in before.chars() {
        match c {
            '\\' if inside => escaped = !escaped,
            '"' if !escaped => inside = !inside,
            _ => escaped = false,
        }
    }
    inside
}

fn pairs(items: impl IntoIterator<Item = (String, String)>) -> Vec<Pair> {
    // A name with control or bidi characters (a file planted to retitle
    // the terminal) is not offered: shown or inserted, it reaches the
    // terminal raw.
    let safe = |s: &str| hound::output::escape(s) == s;
    let mut v: Vec<Pair> = items
        .into_iter()
        .filter(|(d, r)| safe(d) && safe(r))
        .map(|(display, replacement)| Pair {
            display,
            replacement,
        })
        .collect();
    v.sort_by(|a, b| a.replacement.cmp(&b.replacement));
    v.dedup_by(|a, b| a.replacement == b.replacement);
    v
}

fn complete_path(partial: &str) -> Vec<Pair> {
    let (dir, prefix) = match partial.rfind('/') {
        Some(i) => (&partial[..=i], &partial[i + 1..]),
        None => ("./", partial),
    };
    let Ok(entries) = std::fs::read_dir(if dir.is_empty() { "/" } else { dir }) else {
        return vec![];
    };
    let base = if partial.contains('/') { dir } else { "" };
    pairs(entries.flatten().filter_map(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(prefix) {
            return None;
        }
        let slash = if e.file_type().is_ok_and(|t| t.is_dir()) {
            "/"
        } else {
            ""
        };
        Some((format!("{name}{slash}"), format!("{base}{name}{slash}")))
    }))
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if before.starts_with(':') && !before.contains(' ') {
            let c = COMMANDS.iter().filter(|(c, _)| c.starts_with(before));
            return Ok((0, pairs(c.map(|(c, _)| (c.to_string(), format!("{c} "))))));
        }
        for cmd in [":run ", ":doc "] {
            if let Some(rest) = before.strip_prefix(cmd) {
                if !rest.contains(' ') {
                    let mut names: Vec<String> = modules::stdlib_hunt_names();
                    if cmd == ":doc " {
                        names.extend(self.index().iter().map(FnDoc::full_name));
                    }
                    let c = names
                        .into_iter()
                        .filter(|n| n.starts_with(rest))
                        .map(|n| (n.clone(), n));
                    return Ok((cmd.len(), pairs(c)));
                }
            }
        }
        if in_string(before) {
            let start = before.rfind('"').map(|i| i + 1).unwrap_or(0);
            let partial = &before[start..];
            if before[..start]
                .trim_end_matches('"')
                .trim_end()
                .ends_with("import")
            {
                let c = modules::stdlib_module_names()
                    .into_iter()
                    .map(|n| format!("hound/{n}"))
                    .filter(|n| n.starts_with(partial))
                    .map(|n| (n.clone(), n));
                return Ok((start, pairs(c)));
            }
            return Ok((start, complete_path(partial)));
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '.'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let word = &before[start..];
        if let Some(dot) = word.rfind('.') {
            let field = &word[dot + 1..];
            let s = self
                .session
                .lock()
                .map(|s| s.fields.clone())
                .unwrap_or_default();
            let c = s
                .into_iter()
                .filter(|f| f.starts_with(field))
                .map(|f| (f.clone(), f));
            return Ok((start + dot + 1, pairs(c)));
        }
        let idx = self.index();
        let mut c: Vec<(String, String)> = Vec::new();
        if word.contains("::") {
            let found: Vec<&FnDoc> = idx
                .iter()
                .filter(|d| d.full_name().starts_with(word))
                .collect();
            let w = found
                .iter()
                .filter_map(|d| d.signatures.first())
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0);
            for d in found {
                let sig = d.signatures.first().cloned().unwrap_or_default();
                c.push((format!("{sig:<w$}  {}", d.summary()), d.full_name()));
            }
        } else {
            // The families are the index's namespaces (sorted: dedup suffices).
            let mut families: Vec<&str> = idx
                .iter()
                .map(|d| d.namespace.as_str())
                .filter(|f| !f.is_empty() && f.starts_with(word))
                .collect();
            families.dedup();
            for fam in families {
                c.push((format!("{fam}::"), format!("{fam}::")));
            }
            for d in idx
                .iter()
                .filter(|d| d.namespace.is_empty() && d.name.starts_with(word))
            {
                c.push((
                    d.signatures.first().cloned().unwrap_or_default(),
                    d.name.clone(),
                ));
            }
            let vars = self
                .session
                .lock()
                .map(|s| s.variables.clone())
                .unwrap_or_default();
            c.extend(
                vars.into_iter()
                    .filter(|v| v.starts_with(word))
                    .map(|v| (v.clone(), v)),
            );
            c.extend(
                KEYWORDS
                    .iter()
                    .filter(|k| k.starts_with(word))
                    .map(|k| (k.to_string(), k.to_string())),
            );
        }
        Ok((start, pairs(c)))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    /// After `proc::kill(`, the signature: what the call takes.
    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        if pos < line.len() || !line.ends_with('(') || self.index.get().is_none() {
            return None;
        }
        let before = &line[..pos - 1];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let sig = self.signature_of(&before[start..])?;
        let args = sig.split_once('(')?.1;
        Some(args.to_string())
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _: usize) -> Cow<'l, str> {
        if !self.color || line.starts_with(':') {
            return Cow::Borrowed(line);
        }
        let mut out = String::with_capacity(line.len() + 16);
        let mut word = String::new();
        let mut in_str = false;
        let flush = |w: &mut String, out: &mut String| {
            if KEYWORDS.contains(&w.as_str()) {
                out.push_str(&w.magenta().to_string());
            } else if w.contains("::") {
                out.push_str(&w.cyan().to_string());
            } else {
                out.push_str(w);
            }
            w.clear();
        };
        for c in line.chars() {
            if in_str {
                word.push(c);
                if c == '"' {
                    out.push_str(&word.green().to_string());
                    word.clear();
                    in_str = false;
                }
            } else if c == '"' {
                flush(&mut word, &mut out);
                word.push(c);
                in_str = true;
            } else if c.is_alphanumeric() || c == '_' || c == ':' {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        if in_str {
            out.push_str(&word.green().to_string());
        } else {
            flush(&mut word, &mut out);
        }
        Cow::Owned(out)
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(hint.dimmed().to_string())
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _: &str, _: usize, _: CmdKind) -> bool {
        self.color
    }
}

/// Lines are gathered by the REPL loop itself (see `incomplete`), so each
/// continuation line gets its own `...>` prompt.
impl Validator for ReplHelper {}

/// Whether input still has an open brace, bracket, parenthesis or string:
/// the REPL then reads another line, with the continuation prompt.
pub fn incomplete(input: &str) -> bool {
    if input.trim_start().starts_with(':') {
        return false;
    }
    let mut depth: i32 = 0;
    let mut in_str = false;
    let mut escaped = false;
    for c in input.chars() {
        if in_str {
            match c {
                '\\' => escaped = !escaped,
                '"' if !escaped => in_str = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            _ => {}
        }
    }
    depth > 0 || in_str
}

impl Helper for ReplHelper {}
