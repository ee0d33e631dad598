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

/// One value of type `ty` (a scalar, or one item of a list), in bounds.
fn scalar(spec: &ParamSpec, ty: ParamType, raw: &str) -> Result<Dynamic> {
    let bad = |what: String| {
        Error::invalid(format!("--param {}={raw:?}: expected {what}", spec.name)).with_hint(
            format!(
                "{} is {}: {}",
                spec.name,
                spec.type_text(),
                spec.description
            ),
        )
    };
    let in_bounds = |x: f64| spec.min.is_none_or(|m| x >= m) && spec.max.is_none_or(|m| x <= m);
    let range = || spec.type_text().replace("list of ", "");
    Ok(match ty {
        ParamType::String | ParamType::List => raw.into(),
        ParamType::Int => {
            let n = raw
                .trim()
                .parse::<i64>()
                .map_err(|_| bad("an integer".into()))?;
            if !in_bounds(n as f64) {
                return Err(bad(range()));
            }
            n.into()
        }
        ParamType::Float => {
            let n = raw
                .trim()
                .parse::<f64>()
                .map_err(|_| bad("a number".into()))?;
            if !n.is_finite() || !in_bounds(n) {
                return Err(bad(range()));
            }
            n.into()
        }
        ParamType::Bool => match raw.trim() {
            "true" | "yes" | "1" | "on" => true.into(),
            "false" | "no" | "0" | "off" => false.into(),
            _ => return Err(bad("true or false".into())),
        },
        ParamType::Ports => {
            crate::host::scan::spec::parse_ports(raw.trim()).map_err(|e| {
                Error::invalid(format!("--param {}={raw:?}: {}", spec.name, e.message))
                    .with_hint("e.g. \"22,80,443\", \"1-1024\", \"top:100\" or \"all\"")
            })?;
            raw.trim().into()
        }
    })
}

/// The items of one `--param` value (a list: comma-separated).
fn convert(spec: &ParamSpec, raw: &str) -> Result<Dynamic> {
    if spec.ty != ParamType::List {
        return scalar(spec, spec.ty, raw);
    }
    let item = spec.items.unwrap_or(ParamType::String);
    Ok(raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| scalar(spec, item, s))
        .collect::<Result<Array>>()?
        .into())
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
            if map.contains_key(k.as_str()) {
                return Err(
                    Error::invalid(format!("--param {k} is given more than once"))
                        .with_hint("a script without a header takes one string per parameter"),
                );
            }
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
    let mut seen: Vec<&str> = Vec::new();
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
        let value = convert(spec, v)?;
        if seen.contains(&k.as_str()) {
            // A list gathers every -p; any other parameter given twice is
            // a mistake, never silently the last value.
            let Some(mut more) = value.try_cast::<Array>() else {
                return Err(Error::invalid(format!(
                    "--param {k} is given more than once; `{k}` takes one value"
                ))
                .with_hint("only list parameters take several (-p k=a -p k=b, or -p k=a,b)"));
            };
            if let Some(prev) = map.get_mut(k.as_str()) {
                if let Some(mut a) = prev.write_lock::<Array>() {
                    a.append(&mut more);
                }
            }
            continue;
        }
        seen.push(k);
        map.insert(k.as_str().into(), value);
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

    fn bounded() -> Header {
        parse(
            "//! name = \"t\"\n//! [params.port]\n//! type = \"int\"\n//! min = 1\n//! max = 65535\n//! [params.ports]\n//! type = \"list\"\n//! items = \"int\"\n//! min = 1\n//! max = 65535\n//! [params.spec]\n//! type = \"ports\"\n//! default = \"top:50\"\n",
            "t",
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn ranges_items_and_port_specs_are_checked() {
        let h = bounded();
        let e = build(Some(&h), &[("port".into(), "70000".into())]).unwrap_err();
        assert!(e.message.contains("expected int 1..=65535"), "{e}");
        let e = build(Some(&h), &[("ports".into(), "22,0".into())]).unwrap_err();
        assert!(e.message.contains("\"0\""), "{e}");
        let e = build(Some(&h), &[("spec".into(), "70000".into())]).unwrap_err();
        assert!(e.message.contains("--param spec="), "{e}");
        let m = build(Some(&h), &[("ports".into(), "22, 80".into())]).unwrap();
        assert_eq!(m["ports"].clone().into_array().unwrap()[1].as_int(), Ok(80));
    }

    #[test]
    fn repeated_params_gather_into_lists_or_are_refused() {
        let h = bounded();
        let m = build(
            Some(&h),
            &[
                ("ports".into(), "22".into()),
                ("ports".into(), "80,443".into()),
            ],
        )
        .unwrap();
        assert_eq!(m["ports"].clone().into_array().unwrap().len(), 3);
        let e = build(
            Some(&h),
            &[("port".into(), "22".into()), ("port".into(), "80".into())],
        )
        .unwrap_err();
        assert!(e.message.contains("more than once"), "{e}");
        assert!(build(None, &[("a".into(), "1".into()), ("a".into(), "2".into())]).is_err());
    }
}
