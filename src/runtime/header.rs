//! The versioned header of a hunt script: a `//!` block of TOML at the top.
//!
//! ```text
//! //! name = "connections"
//! //! version = "1.0.0"
//! //! description = "Outbound connections and the processes behind them"
//! //! author = "hound"
//! //! requires = ["root"]
//! //! destructive = false
//! //! mitre = ["T1071"]
//! //!
//! //! [params.indicators]
//! //! type = "list"
//! //! default = []
//! //! description = "Addresses, CIDRs or ports to flag"
//! ```

use crate::error::{Error, Result};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    String,
    Int,
    Float,
    Bool,
    /// Comma-separated on the command line, an array in the script.
    List,
    /// A port spec as the scan primitives take it (`22,80`, `1-1024`,
    /// `top:100`, `all`), checked on the command line, a string in the script.
    Ports,
}

impl ParamType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" | "str" => ParamType::String,
            "int" | "integer" => ParamType::Int,
            "float" | "number" => ParamType::Float,
            "bool" | "boolean" => ParamType::Bool,
            "list" | "array" => ParamType::List,
            "ports" => ParamType::Ports,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub default: Option<serde_json::Value>,
    pub required: bool,
    pub description: String,
    /// The type of a list's items (string unless said).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<ParamType>,
    /// Bounds of a number, or of each number of a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
            ParamType::List => "list",
            ParamType::Ports => "ports",
        }
    }
}

impl ParamSpec {
    /// `int 1..=65535`, `list of int >= 0`: the type as `hound doc` shows it.
    pub fn type_text(&self) -> String {
        let mut t = self.ty.name().to_string();
        if let (ParamType::List, Some(i)) = (self.ty, self.items) {
            t = format!("list of {}", i.name());
        }
        let n = |x: f64| format!("{x}");
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("{t} {}..={}", n(a), n(b)),
            (Some(a), None) => format!("{t} >= {}", n(a)),
            (None, Some(b)) => format!("{t} <= {}", n(b)),
            (None, None) => t,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Header {
    pub name: String,
    pub version: String,
    pub description: String,
    pub author: String,
    pub params: Vec<ParamSpec>,
    pub requires: Vec<String>,
    pub destructive: bool,
    pub mitre: Vec<String>,
}

/// The `//!` lines at the very top of a script, without the marker.
fn header_lines(source: &str) -> Vec<&str> {
    source
        .lines()
        .skip_while(|l| l.starts_with("#!"))
        .take_while(|l| l.trim_start().starts_with("//!"))
        .map(|l| {
            let l = l.trim_start().trim_start_matches("//!");
            l.strip_prefix(' ').unwrap_or(l)
        })
        .collect()
}

const KNOWN_KEYS: [&str; 8] = [
    "name",
    "version",
    "description",
    "author",
    "params",
    "requires",
    "destructive",
    "mitre",
];
const KNOWN_REQUIRES: [&str; 3] = ["root", "net_raw", "net_admin"];

/// Where a TOML syntax error in the header is: (line, column) in the
/// script, both from 1, so it can be shown with the line and a caret.
pub fn syntax_position(source: &str) -> Option<(usize, usize)> {
    let lines = header_lines(source);
    let text = lines.join("\n");
    let err = toml::from_str::<toml::Table>(&text).err()?;
    let at = err.span()?.start;
    let before = &text[..at.min(text.len())];
    let hline = before.matches('\n').count();
    let col_in_header = before.len() - before.rfind('\n').map_or(0, |i| i + 1);
    // Back to the script's own line: skipped `#!` lines, and the `//! `
    // marker the header text lost.
    let skipped = source.lines().take_while(|l| l.starts_with("#!")).count();
    let src_line = source.lines().nth(skipped + hline)?;
    let marker = src_line.len() - lines.get(hline)?.len();
    Some((skipped + hline + 1, marker + col_in_header + 1))
}

/// Parses the header; `Ok(None)` when the script has none.
pub fn parse(source: &str, file: &str) -> Result<Option<Header>> {
    let lines = header_lines(source);
    if lines.is_empty() {
        return Ok(None);
    }
    let text = lines.join("\n");
    let bad = |m: String| Error::invalid(format!("{file}: header: {m}"));
    // Only toml's message: the position is shown the way every other
    // script error shows it (see `syntax_position`).
    let table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.message().to_string()))?;
    if let Some(k) = table.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown key `{k}` (known: {})",
            KNOWN_KEYS.join(", ")
        )));
    }
    let s = |k: &str| {
        table
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let list = |k: &str| -> Result<Vec<String>> {
        match table.get(k) {
            None => Ok(vec![]),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(format!("`{k}` must be a list of strings")))
                })
                .collect(),
            Some(_) => Err(bad(format!("`{k}` must be a list of strings"))),
        }
    };
    let requires = list("requires")?;
    if let Some(r) = requires
        .iter()
        .find(|r| !KNOWN_REQUIRES.contains(&r.as_str()))
    {
        return Err(bad(format!(
            "unknown requirement `{r}` (known: {})",
            KNOWN_REQUIRES.join(", ")
        )));
    }
    let mut params = Vec::new();
    if let Some(p) = table.get("params") {
        let p = p
            .as_table()
            .ok_or_else(|| bad("`params` must be a table of tables".into()))?;
        for (name, spec) in p {
            params.push(param_spec(name, spec).map_err(|m| bad(format!("param `{name}`: {m}")))?);
        }
    }
    Ok(Some(Header {
        name: s("name"),
        version: s("version"),
        description: s("description"),
        author: s("author"),
        params,
        requires,
        destructive: table
            .get("destructive")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        mitre: list("mitre")?,
    }))
}

const PARAM_KEYS: [&str; 7] = [
    "type",
    "default",
    "required",
    "description",
    "items",
    "min",
    "max",
];

fn param_spec(name: &str, spec: &toml::Value) -> std::result::Result<ParamSpec, String> {
    let t = spec.as_table().ok_or("must be a table")?;
    if let Some(k) = t.keys().find(|k| !PARAM_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown key `{k}` (known: {})",
            PARAM_KEYS.join(", ")
        ));
    }
    let ty_of = |key: &str, default: &str| {
        let n = t.get(key).and_then(|v| v.as_str()).unwrap_or(default);
        ParamType::parse(n)
            .ok_or_else(|| format!("unknown {key} `{n}` (string, int, float, bool, list, ports)"))
    };
    let ty = ty_of("type", "string")?;
    let items = match t.get("items") {
        None => None,
        Some(_) if ty != ParamType::List => return Err("`items` is for lists".into()),
        Some(_) => Some(ty_of("items", "string")?),
    };
    let bound = |key: &str| -> std::result::Result<Option<f64>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(toml::Value::Float(f)) => Ok(Some(*f)),
            Some(_) => Err(format!("`{key}` must be a number")),
        }
    };
    let (min, max) = (bound("min")?, bound("max")?);
    let numeric = matches!(ty, ParamType::Int | ParamType::Float)
        || matches!(items, Some(ParamType::Int | ParamType::Float));
    if (min.is_some() || max.is_some()) && !numeric {
        return Err("`min`/`max` bound numbers: an int or float, or a list of them".into());
    }
    let default = match t.get("default") {
        Some(v) => Some(serde_json::to_value(v).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(ParamSpec {
        name: name.to_string(),
        ty,
        required: t.get("required").and_then(|v| v.as_bool()).unwrap_or(false),
        default,
        description: t
            .get("description")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
        items,
        min,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "//! name = \"demo\"\n//! version = \"1.2.0\"\n//! requires = [\"root\"]\n//! [params.victim]\n//! type = \"string\"\n//! required = true\n//! description = \"the address\"\n//! [params.port]\n//! type = \"int\"\n//! default = 80\nlet x = 1;\n";

    #[test]
    fn parses_header_in_order() {
        let h = parse(SRC, "demo.rhai").unwrap().unwrap();
        assert_eq!(h.name, "demo");
        assert_eq!(h.params[0].name, "victim");
        assert!(h.params[0].required);
        assert_eq!(h.params[1].default, Some(serde_json::json!(80)));
    }

    #[test]
    fn toml_errors_point_into_the_script() {
        let src = "#!/usr/bin/env hound\n//! name = \"x\"\n//! version 1\nlet a = 1;\n";
        let e = parse(src, "x.rhai").unwrap_err();
        assert!(!e.message.contains('\n'), "{e}");
        let (line, col) = syntax_position(src).unwrap();
        assert_eq!(line, 3);
        assert!(
            src.lines().nth(2).unwrap()[col - 1..].starts_with('1') || col > 4,
            "{col}"
        );
        assert!(syntax_position("//! name = \"ok\"\n").is_none());
    }

    #[test]
    fn no_header_is_none_and_bad_header_names_file() {
        assert!(parse("let x = 1;", "a.rhai").unwrap().is_none());
        let e = parse("//! nme = 1\n", "a.rhai").unwrap_err();
        assert!(
            e.message.contains("a.rhai: header: unknown key `nme`"),
            "{e}"
        );
    }
}
