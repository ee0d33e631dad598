//! What a script author sees when something goes wrong: the kind, the
//! message (naming the primitive and argument), file:line:col, the source line
//! with a caret, and a hint.

use crate::error::ErrorKind;
use crate::text::escape;
use rhai::{EvalAltResult, ParseError, Position};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Serialize)]
pub struct ScriptError {
    /// `syntax`, `runtime`, `limit`, or one of [`ErrorKind`]'s names.
    pub kind: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub col: Option<usize>,
    #[serde(skip)]
    pub source_line: Option<String>,
    pub hint: Option<String>,
}

impl ScriptError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        ScriptError {
            kind: kind.into(),
            message: message.into(),
            file: None,
            line: None,
            col: None,
            source_line: None,
            hint: None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.kind == ErrorKind::Cancelled.as_str()
    }

    fn at(mut self, file: Option<&str>, source: Option<&str>, pos: Position) -> Self {
        self.file = file.map(str::to_string);
        if let (Some(line), col) = (pos.line(), pos.position()) {
            self.line = Some(line);
            self.col = col;
            self.source_line = source
                .and_then(|s| s.lines().nth(line - 1))
                .map(str::to_string);
        }
        self
    }

    /// Rhai loses the position of errors raised in namespaced calls
    /// (`fs::stat(..)`): point at the call in the source instead, exactly
    /// when it is called once, else naming every line that calls it.
    fn at_call(self, file: Option<&str>, source: &str, primitive: &str) -> Self {
        let needle = format!("{primitive}(");
        let hits: Vec<(usize, usize)> = source
            .lines()
            .enumerate()
            .filter_map(|(i, l)| l.find(&needle).map(|c| (i + 1, c + 1)))
            .collect();
        match hits.as_slice() {
            [(line, col)] => {
                let pos = Position::new(*line as u16, *col as u16);
                self.at(file, Some(source), pos)
            }
            [] => self.at(file, None, Position::NONE),
            many => {
                let lines: Vec<String> = many.iter().map(|(l, _)| l.to_string()).collect();
                let mut e = self.at(file, None, Position::NONE);
                let note = format!("{primitive} is called on lines {}", lines.join(", "));
                e.hint = Some(match e.hint {
                    Some(h) => format!("{h}; {note}"),
                    None => note,
                });
                e
            }
        }
    }

    pub fn from_parse(err: &ParseError, file: &str, source: &str) -> Self {
        let mut msg = err.err_type().to_string();
        if msg.is_empty() {
            msg = err.to_string();
        }
        ScriptError::new("syntax", msg).at(Some(file), Some(source), err.position())
    }

    /// Walks Rhai's wrapping (function calls, modules) down to the error that
    /// happened, keeping track of which file it happened in.
    pub fn from_eval(err: &EvalAltResult, file: &str, source: &str, max_ops: u64) -> Self {
        let mut cur = err;
        let mut cur_file: Option<String> = Some(file.to_string());
        let mut outer_pos = err.position();
        loop {
            match cur {
                EvalAltResult::ErrorInFunctionCall(_, src, inner, pos) => {
                    if !src.is_empty() {
                        cur_file = Some(src.clone());
                    }
                    if !pos.is_none() && inner.position().is_none() {
                        outer_pos = *pos;
                    }
                    cur = inner;
                }
                EvalAltResult::ErrorInModule(path, inner, pos) => {
                    cur_file = Some(path.clone());
                    outer_pos = *pos;
                    cur = inner;
                }
                _ => break,
            }
        }
        let pos = if cur.position().is_none() {
            outer_pos
        } else {
            cur.position()
        };
        let e = leaf(cur, max_ops);
        let text = match cur_file.as_deref() {
            Some(f) if f == file => Some(source.to_string()),
            Some(f) => read_source(f),
            None => None,
        };
        if pos.is_none() {
            if let (Some(t), Some(prim)) = (text.as_deref(), primitive_of(cur)) {
                return e.at_call(cur_file.as_deref(), t, &prim);
            }
        }
        e.at(cur_file.as_deref(), text.as_deref(), pos)
    }
}

/// Source text of a module for the caret line: bundled or on disk.
fn read_source(name: &str) -> Option<String> {
    if let Some(n) = name.strip_prefix("hound/") {
        return crate::runtime::modules::stdlib_module(n).map(str::to_string);
    }
    std::fs::read_to_string(name)
        .or_else(|_| std::fs::read_to_string(format!("{name}.rhai")))
        .ok()
}

/// The primitive a caught-able hound error names.
fn primitive_of(err: &EvalAltResult) -> Option<String> {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => v.read_lock::<rhai::Map>().and_then(|m| {
            m.get("primitive")
                .filter(|p| p.is_string())
                .map(|p| p.to_string())
        }),
        _ => None,
    }
}

fn leaf(err: &EvalAltResult, max_ops: u64) -> ScriptError {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => {
            if let Some(m) = v.read_lock::<rhai::Map>() {
                if let (Some(kind), Some(msg)) = (m.get("kind"), m.get("message")) {
                    let mut e = ScriptError::new(kind.to_string(), msg.to_string());
                    e.hint = m
                        .get("hint")
                        .filter(|h| !h.is_unit())
                        .map(|h| h.to_string());
                    return e;
                }
            }
            ScriptError::new("runtime", format!("thrown: {v}"))
        }
        EvalAltResult::ErrorTerminated(..) => {
            let mut e = ScriptError::new(ErrorKind::Cancelled.as_str(), "cancelled");
            e.hint = Some("the run was interrupted".into());
            e
        }
        EvalAltResult::ErrorTooManyOperations(..) => {
            let mut e = ScriptError::new(
                "limit",
                format!("the script was stopped after {max_ops} operations (an endless loop?)"),
            );
            e.hint = Some(
                "raise the limit with --max-operations N (0 = none) if the work is real".into(),
            );
            e
        }
        EvalAltResult::ErrorFunctionNotFound(sig, _) => {
            let mut e = ScriptError::new("runtime", format!("function not found: {sig}"));
            e.hint = Some("`hound doc` lists the primitives and their signatures".into());
            e
        }
        other => {
            // Rhai's Display appends " (line N, position M)"; we print positions ourselves.
            let text = other.to_string();
            let text = match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') => text[..i].to_string(),
                _ => text,
            };
            let kind = match other {
                EvalAltResult::ErrorDataTooLarge(..)
                | EvalAltResult::ErrorStackOverflow(..)
                | EvalAltResult::ErrorTooManyModules(..)
                | EvalAltResult::ErrorTooManyVariables(..) => "limit",
                _ => "runtime",
            };
            ScriptError::new(kind, text)
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error[{}]: {}", self.kind, escape(&self.message))?;
        if let Some(file) = &self.file {
            match (self.line, self.col) {
                (Some(l), Some(c)) => writeln!(f, "  --> {}:{l}:{c}", escape(file))?,
                (Some(l), None) => writeln!(f, "  --> {}:{l}", escape(file))?,
                _ => writeln!(f, "  --> {}", escape(file))?,
            }
        }
        if let (Some(line), Some(src)) = (self.line, &self.source_line) {
            let n = line.to_string();
            let pad = " ".repeat(n.len());
            writeln!(f, "{pad} |")?;
            writeln!(f, "{n} | {}", escape(src))?;
            if let Some(c) = self.col {
                writeln!(f, "{pad} | {}^", " ".repeat(c.saturating_sub(1)))?;
            }
        }
        if let Some(h) = &self.hint {
            writeln!(f, "  = hint: {}", escape(h))?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

impl From<crate::error::Error> for ScriptError {
    fn from(e: crate::error::Error) -> Self {
        let mut s = ScriptError::new(e.kind.as_str(), e.to_string());
        s.hint = e.hint;
        s
    }
}
