//! Renders values as aligned tables (arrays of maps), key/value blocks (maps)
//! or JSON lines. Every string is escaped on the way out.

use super::escape;
use crate::runtime::Sink;
use comfy_table::{presets, Cell, ContentArrangement, Table};
use owo_colors::OwoColorize;
use rhai::Dynamic;
use serde_json::Value;
use std::io::{IsTerminal, Write};

/// How output looks.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub json: bool,
    pub color: bool,
    /// Rows shown before "… N more" on a terminal (0 = all).
    pub max_rows: usize,
}

impl Style {
    pub fn detect(json: bool, no_color: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        Style {
            json,
            color: tty && !no_color && std::env::var_os("NO_COLOR").is_none(),
            max_rows: if tty { 200 } else { 0 },
        }
    }
}

pub fn to_json(v: &Dynamic) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn cell_text(v: &Value, max: usize) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| cell_text(x, max))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    let s = escape(&s).into_owned();
    if max > 0 && s.chars().count() > max {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// Columns that identify a row come first, in this order; Rhai maps are
/// sorted by key, which would put `cmdline` before `pid`.
const FIRST: &[&str] = &[
    "severity",
    "hunt",
    "title",
    "name",
    "version",
    "pid",
    "ppid",
    "user",
    "uid",
    "proto",
    "family",
    "state",
    "ip",
    "mac",
    "vendor",
    "port",
    "service",
    "product",
    "local",
    "remote",
    "local_ip",
    "local_port",
    "remote_ip",
    "remote_port",
    "process",
    "path",
    "type",
    "size",
];
/// Long free text goes last, where truncation hurts least.
const LAST: &[&str] = &[
    "description",
    "evidence",
    "cmdline",
    "banner",
    "line",
    "flags",
    "details",
];

fn column_rank(c: &str) -> (usize, usize) {
    if let Some(i) = FIRST.iter().position(|f| *f == c) {
        (0, i)
    } else if let Some(i) = LAST.iter().position(|f| *f == c) {
        (2, i)
    } else {
        (1, 0)
    }
}

/// An array of maps as a table: identifying columns first, long text last.
pub fn render_table(rows: &[Value], style: Style) -> String {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        if let Value::Object(m) = r {
            for k in m.keys() {
                if !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
    }
    // Stable: columns of equal rank keep their (alphabetical) order.
    cols.sort_by_key(|c| column_rank(c));
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(cols.iter().map(|c| {
        let c = escape(c).into_owned();
        if style.color {
            Cell::new(c.bold().cyan().to_string())
        } else {
            Cell::new(c)
        }
    }));
    let shown = if style.max_rows > 0 {
        rows.len().min(style.max_rows)
    } else {
        rows.len()
    };
    for r in &rows[..shown] {
        t.add_row(
            cols.iter()
                .map(|c| cell_text(r.get(c).unwrap_or(&Value::Null), 120)),
        );
    }
    let mut out = t.to_string();
    if shown < rows.len() {
        out.push_str(&format!(
            "\n… {} more rows ({} in all; --json prints every row)",
            rows.len() - shown,
            rows.len()
        ));
    } else {
        out.push_str(&format!("\n({} rows)", rows.len()));
    }
    out
}

fn render_map(m: &serde_json::Map<String, Value>, style: Style) -> String {
    let w = m.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in m {
        let key = format!("{:w$}", escape(k));
        let key = if style.color {
            key.cyan().to_string()
        } else {
            key
        };
        let val = match v {
            Value::Array(a) if a.iter().all(Value::is_object) && !a.is_empty() => {
                format!("\n{}", render_table(a, style))
            }
            Value::Object(o) => escape(&Value::Object(o.clone()).to_string()).into_owned(),
            other => cell_text(other, 0),
        };
        out.push_str(&format!("{key}  {val}\n"));
    }
    out.trim_end().to_string()
}

/// A value as text for a terminal (or a pipe without `--json`).
pub fn render(v: &Value, style: Style) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Array(a) if a.is_empty() => Some("(no rows)".into()),
        Value::Array(a) if a.iter().all(Value::is_object) => Some(render_table(a, style)),
        Value::Array(a) => Some(
            a.iter()
                .map(|x| cell_text(x, 0))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Value::Object(m) => Some(render_map(m, style)),
        other => Some(cell_text(other, 0)),
    }
}

/// Prints a value to stdout in the chosen style.
pub fn print_value(v: &Dynamic, style: Style) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if style.json {
        // Straight from the script's value to text: no intermediate JSON
        // tree, which for a 100k-row result costs as much as the hunt.
        let mut line = |d: &Dynamic| {
            if serde_json::to_writer(&mut out, d).is_ok() {
                let _ = out.write_all(b"\n");
            }
        };
        if v.is_unit() {
        } else if let Some(a) = v.read_lock::<rhai::Array>() {
            a.iter().for_each(&mut line);
        } else {
            line(v);
        }
        let _ = out.flush();
        return;
    }
    let j = to_json(v);
    if let Some(s) = render(&j, style) {
        let _ = writeln!(out, "{s}");
    }
}

/// One line for a finding-style record (`severity` + `title`), so a hunt's
/// progress reads like a log: `HIGH     triage  Suspicious process … · evidence`.
pub fn finding_line(m: &serde_json::Map<String, Value>, color: bool) -> String {
    let text = |k: &str| m.get(k).map(|v| cell_text(v, 0)).unwrap_or_default();
    let sev = text("severity");
    let label = format!("{:<8}", sev.to_uppercase());
    let label = if !color {
        label
    } else {
        match sev.as_str() {
            "critical" => label.red().bold().to_string(),
            "high" => label.red().to_string(),
            "medium" => label.yellow().to_string(),
            "low" => label.blue().to_string(),
            _ => label.dimmed().to_string(),
        }
    };
    let mut line = format!("{label} {:<12} {}", text("hunt"), text("title"));
    let ev = text("evidence");
    if !ev.is_empty() {
        line.push_str(&format!("  · {ev}"));
    }
    line
}

fn is_finding(v: &Value) -> bool {
    v.get("severity").is_some_and(Value::is_string) && v.get("title").is_some_and(Value::is_string)
}

/// The CLI's sink. With `--json` every record is a line at once. On a
/// terminal, finding-style records print as one line each as they come;
/// other records are gathered and printed as one table by [`ConsoleSink::flush`]
/// (the CLI flushes after every run, also after an error or Ctrl-C).
pub struct ConsoleSink {
    style: Style,
    pub quiet: bool,
    json: std::sync::atomic::AtomicBool,
    pending: std::sync::Mutex<Vec<Value>>,
    /// With `--json`: the envelope every line carries (see `envelope.rs`).
    envelope: Option<std::sync::Arc<super::Envelope>>,
}

impl ConsoleSink {
    pub fn new(style: Style, quiet: bool) -> Self {
        ConsoleSink {
            style,
            quiet,
            json: std::sync::atomic::AtomicBool::new(style.json),
            pending: Default::default(),
            envelope: None,
        }
    }

    /// JSON lines carry this envelope (and go where it writes).
    pub fn with_envelope(mut self, e: std::sync::Arc<super::Envelope>) -> Self {
        self.envelope = Some(e);
        self
    }

    pub fn envelope(&self) -> Option<&std::sync::Arc<super::Envelope>> {
        self.envelope.as_ref()
    }

    /// Prints a script's final value (through the envelope in JSON mode).
    pub fn print_result(&self, v: &Dynamic) {
        let style = self.current_style();
        match &self.envelope {
            Some(e) if style.json => e.emit(v, true),
            _ => print_value(v, style),
        }
    }

    /// The style now (the REPL's `:json` switches JSON on and off).
    pub fn current_style(&self) -> Style {
        Style {
            json: self.json.load(std::sync::atomic::Ordering::Relaxed),
            ..self.style
        }
    }

    pub fn set_json(&self, on: bool) {
        self.json.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Prints the gathered records.
    pub fn flush(&self) {
        if let Some(e) = &self.envelope {
            e.flush();
        }
        let rows = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        if rows.is_empty() {
            return;
        }
        let v = if rows.len() == 1 {
            rows.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(rows)
        };
        if let Some(s) = render(&v, self.current_style()) {
            let _ = writeln!(std::io::stdout().lock(), "{s}");
        }
    }
}

impl Sink for ConsoleSink {
    fn emit(&self, value: &Dynamic) {
        let style = self.current_style();
        if style.json {
            match &self.envelope {
                Some(e) => e.emit(value, false),
                None => print_value(value, style),
            }
            return;
        }
        let v = to_json(value);
        if let Value::Object(m) = &v {
            if is_finding(&v) {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    finding_line(m, self.style.color)
                );
                return;
            }
        }
        if let Ok(mut p) = self.pending.lock() {
            match v {
                Value::Array(a) => p.extend(a),
                other => p.push(other),
            }
        }
    }
    fn warn(&self, source: &str, message: &str) {
        if self.current_style().json {
            if let Some(e) = &self.envelope {
                if !self.quiet || e.to_file() {
                    e.warn(source, message);
                }
                return;
            }
        }
        if self.quiet {
            return;
        }
        let line = format!("warning: {}: {}", escape(source), escape(message));
        if self.style.color && std::io::stderr().is_terminal() {
            eprintln!("{}", line.yellow());
        } else {
            eprintln!("{line}");
        }
    }
    fn interactive(&self) -> bool {
        !self.current_style().json && !self.quiet && std::io::stderr().is_terminal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_escape_and_count() {
        let rows = vec![
            json!({"name": "nc\x1b[2J", "pid": 1}),
            json!({"pid": 2, "extra": true}),
        ];
        let s = render_table(
            &rows,
            Style {
                json: false,
                color: false,
                max_rows: 0,
            },
        );
        assert!(s.contains("nc\\x1b[2J"));
        assert!(s.contains("extra"));
        assert!(s.contains("(2 rows)"));
    }
}
