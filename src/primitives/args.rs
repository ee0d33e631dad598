//! Argument checking shared by the bindings, so every primitive words its
//! complaints the same way: `fw::block: option "ttl": "2x" is not a duration`.

use super::{to_rhai, RhaiResult};
use crate::error::Error;
use rhai::{Dynamic, Map};
use std::time::Duration;

/// An invalid-argument error already named for the primitive.
pub fn bad(primitive: &str, msg: impl Into<String>) -> Box<rhai::EvalAltResult> {
    to_rhai(Error::invalid(msg).in_primitive(primitive))
}

/// A string or an array of strings (targets, indicators, paths).
pub fn string_list(primitive: &str, arg: &str, v: &Dynamic) -> RhaiResult<Vec<String>> {
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        return Ok(vec![s.to_string()]);
    }
    if let Some(a) = v.read_lock::<rhai::Array>() {
        return a
            .iter()
            .map(|x| {
                x.read_lock::<rhai::ImmutableString>()
                    .map(|s| s.to_string())
                    .ok_or_else(|| {
                        bad(
                            primitive,
                            format!("{arg}: expected strings, found {}", x.type_name()),
                        )
                    })
            })
            .collect();
    }
    Err(bad(
        primitive,
        format!(
            "{arg}: expected a string or an array of strings, found {}",
            v.type_name()
        ),
    ))
}

/// One key of a primitive's options map, as `hound doc` shows it. The
/// binding checks maps against the same table ([`Opts::spec`]), so the
/// documented keys are exactly the accepted ones.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Opt {
    pub key: &'static str,
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub default: &'static str,
    pub description: &'static str,
}

/// The option tables of the primitives that have one, for `hound doc`.
pub fn option_table(primitive: &str) -> Option<&'static [Opt]> {
    Some(match primitive {
        "fw::block" => super::fw::BLOCK_OPTS,
        "fw::unblock" => super::fw::BLOCK_OPTS,
        "fw::isolate" => super::fw::ISOLATE_OPTS,
        "scan::hosts" => super::scan::HOSTS_OPTS,
        "scan::ports" => super::scan::PORTS_OPTS,
        "scan::services" => super::scan::SERVICES_OPTS,
        _ => return None,
    })
}

/// An options map checked against the keys the primitive knows, so a typo
/// (`directon`) is an error rather than a silently ignored option.
pub struct Opts<'a> {
    primitive: &'a str,
    map: Map,
}

impl<'a> Opts<'a> {
    pub fn new(primitive: &'a str, map: Map, known: &[&str]) -> RhaiResult<Self> {
        if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(to_rhai(
                Error::invalid(format!("unknown option {:?}", k.as_str()))
                    .in_primitive(primitive)
                    .with_hint(format!("known options: {}", known.join(", "))),
            ));
        }
        Ok(Opts { primitive, map })
    }

    /// [`Opts::new`] with the keys of a documented option table.
    pub fn spec(primitive: &'a str, map: Map, spec: &[Opt]) -> RhaiResult<Self> {
        let keys: Vec<&str> = spec.iter().map(|o| o.key).collect();
        Self::new(primitive, map, &keys)
    }

    pub fn empty(primitive: &'a str) -> Self {
        Opts {
            primitive,
            map: Map::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&Dynamic> {
        self.map.get(key).filter(|v| !v.is_unit())
    }

    fn wrong(&self, key: &str, want: &str, v: &Dynamic) -> Box<rhai::EvalAltResult> {
        bad(
            self.primitive,
            format!("option {key:?}: expected {want}, found {v}"),
        )
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn raw(&self, key: &str) -> Option<&Dynamic> {
        self.get(key)
    }

    pub fn str(&self, key: &str) -> RhaiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.to_string())),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    pub fn bool(&self, key: &str) -> RhaiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .map_err(|_| self.wrong(key, "true or false", v)),
        }
    }

    /// An integer within `min..=max`.
    pub fn int(&self, key: &str, min: i64, max: i64) -> RhaiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                let n = v.as_int().map_err(|_| self.wrong(key, "an integer", v))?;
                if n < min || n > max {
                    return Err(bad(
                        self.primitive,
                        format!("option {key:?}: {n} is out of range {min}..={max}"),
                    ));
                }
                Ok(Some(n))
            }
        }
    }

    pub fn float(&self, key: &str) -> RhaiResult<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_float()
                .or_else(|_| v.as_int().map(|i| i as f64))
                .map(Some)
                .map_err(|_| self.wrong(key, "a number", v)),
        }
    }

    /// Seconds as a number, or a string like `"1500ms"`, `"2h"`, `"1h 30m"`.
    pub fn duration(&self, key: &str) -> RhaiResult<Option<Duration>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => duration(self.primitive, key, v).map(Some),
        }
    }

    pub fn strings(&self, key: &str) -> RhaiResult<Option<Vec<String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => string_list(self.primitive, &format!("option {key:?}"), v).map(Some),
        }
    }
}

/// The longest duration a primitive accepts: a year. Longer is a typo or an
/// attack on the arithmetic (`sleep(1e300)` used to panic converting to a
/// `Duration`, `sleep(1.8e19)` slept forever).
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// A duration argument: seconds (int or float) or a humantime string, at most
/// [`MAX_DURATION`].
pub fn duration(primitive: &str, arg: &str, v: &Dynamic) -> RhaiResult<Duration> {
    duration_max(primitive, arg, v, MAX_DURATION)
}

/// A duration argument bounded by `max` (a look-back such as
/// `modified_since` may reach further than a wait).
pub fn duration_max(
    primitive: &str,
    arg: &str,
    v: &Dynamic,
    max: Duration,
) -> RhaiResult<Duration> {
    // Compare as f64 before building a Duration: from_secs_f64 panics on
    // values it cannot hold.
    let secs = if let Ok(i) = v.as_int() {
        (i >= 0).then_some(i as f64)
    } else if let Ok(f) = v.as_float() {
        (f >= 0.0 && f.is_finite()).then_some(f)
    } else if v.is_string() {
        humantime::parse_duration(v.to_string().trim())
            .ok()
            .map(|d| d.as_secs_f64())
    } else {
        None
    };
    let Some(secs) = secs else {
        return Err(bad(
            primitive,
            format!("{arg}: {v:?} is not a duration (seconds, or a string like \"500ms\", \"2h\")"),
        ));
    };
    if secs > max.as_secs_f64() {
        return Err(bad(
            primitive,
            format!(
                "{arg}: {v:?} is too long (at most {} seconds)",
                max.as_secs()
            ),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}
