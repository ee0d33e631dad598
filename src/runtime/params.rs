//! `--param key=value` strings checked against the header before anything runs.

use crate::error::{Error, Result};
use crate::runtime::header::{Header, ParamSpec, ParamType};
use rhai::{Array, Dynamic, Map};

/// Splits `key=value`.
pub fn split(arg: &str) -> Result<(String, String)> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(Error::invalid(format!(
            "--param {arg:?}: expected key=value"
        ))),
    }
}

fn convert(spec: &ParamSpec, raw: &str) -> Result<Dynamic> {
    let bad =
        |what: &str| Error::invalid(format!("--param {}={raw:?}: expected {what}", spec.name));
    Ok(match spec.ty {
        ParamType::String => raw.into(),
        ParamType::Int => raw
            .trim()
            .parse::<i64>()
            .map_err(|_| bad("an integer"))?
            .into(),
        ParamType::Float => raw
            .trim()
            .parse::<f64>()
            .map_err(|_| bad("a number"))?
            .into(),
        ParamType::Bool => match raw.trim() {
            "true" | "yes" | "1" | "on" => true.into(),
            "false" | "no" | "0" | "off" => false.into(),
            _ => return Err(bad("true or false")),
        },
        ParamType::List => raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Dynamic::from(s.to_string()))
            .collect::<Array>()
            .into(),
    })
}

fn json_to_dynamic(v: &serde_json::Value) -> Dynamic {
    rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT)
}

/// Builds the `params` map: declared defaults, overridden by the given pairs.
/// Without a header every value passes through as a string.
pub fn build(header: Option<&Header>, given: &[(String, String)]) -> Result<Map> {
    let mut map = Map::new();
    let Some(h) = header else {
        for (k, v) in given {
            map.insert(k.as_str().into(), v.as_str().into());
        }
        return Ok(map);
    };
    for spec in &h.params {
        let v = spec
            .default
            .as_ref()
            .map(json_to_dynamic)
            .unwrap_or(Dynamic::UNIT);
        map.insert(spec.name.as_str().into(), v);
    }
    for (k, v) in given {
        let spec = h.params.iter().find(|p| &p.name == k).ok_or_else(|| {
            let known: Vec<_> = h.params.iter().map(|p| p.name.as_str()).collect();
            Error::invalid(format!("--param {k}: `{}` has no parameter `{k}`", h.name)).with_hint(
                if known.is_empty() {
                    "this hunt takes no parameters".to_string()
                } else {
                    format!("known parameters: {}", known.join(", "))
                },
            )
        })?;
        map.insert(k.as_str().into(), convert(spec, v)?);
    }
    for spec in h.params.iter().filter(|p| p.required) {
        let missing = map.get(spec.name.as_str()).is_none_or(|v| v.is_unit());
        if missing {
            return Err(Error::invalid(format!(
                "`{}` needs --param {}=… ({})",
                h.name, spec.name, spec.description
            )));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::header::parse;

    fn header() -> Header {
        parse(
            "//! name = \"t\"\n//! [params.port]\n//! type = \"int\"\n//! default = 80\n//! [params.ips]\n//! type = \"list\"\n",
            "t",
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn defaults_and_overrides() {
        let m = build(Some(&header()), &[("ips".into(), "a, b".into())]).unwrap();
        assert_eq!(m["port"].as_int().unwrap(), 80);
        assert_eq!(m["ips"].clone().into_array().unwrap().len(), 2);
    }

    #[test]
    fn unknown_and_malformed_are_refused() {
        let e = build(Some(&header()), &[("nope".into(), "1".into())]).unwrap_err();
        assert!(e.message.contains("no parameter `nope`"));
        let e = build(Some(&header()), &[("port".into(), "eighty".into())]).unwrap_err();
        assert!(e.message.contains("expected an integer"));
        assert!(split("novalue").is_err());
    }
}
