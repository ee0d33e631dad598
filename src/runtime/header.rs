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
}

impl ParamType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" | "str" => ParamType::String,
            "int" | "integer" => ParamType::Int,
            "float" | "number" => ParamType::Float,
            "bool" | "boolean" => ParamType::Bool,
            "list" | "array" => ParamType::List,
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

/// Parses the header; `Ok(None)` when the script has none.
pub fn parse(source: &str, file: &str) -> Result<Option<Header>> {
    let lines = header_lines(source);
    if lines.is_empty() {
        return Ok(None);
    }
    let text = lines.join("\n");
    let bad = |m: String| Error::invalid(format!("{file}: header: {m}"));
    let table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
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

fn param_spec(name: &str, spec: &toml::Value) -> std::result::Result<ParamSpec, String> {
    let t = spec.as_table().ok_or("must be a table")?;
    let ty_name = t.get("type").and_then(|v| v.as_str()).unwrap_or("string");
    let ty = ParamType::parse(ty_name)
        .ok_or_else(|| format!("unknown type `{ty_name}` (string, int, float, bool, list)"))?;
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
    fn no_header_is_none_and_bad_header_names_file() {
        assert!(parse("let x = 1;", "a.rhai").unwrap().is_none());
        let e = parse("//! nme = 1\n", "a.rhai").unwrap_err();
        assert!(
            e.message.contains("a.rhai: header: unknown key `nme`"),
            "{e}"
        );
    }
}
