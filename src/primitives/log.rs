//! `log::` primitives: tail and grep for logs, access-log parsing, journal.

use rhai::plugin::*;

/// The options of `log::parse_access` and `log::each_access`.
fn access_opts(
    p: &str,
    opts: rhai::Map,
) -> crate::primitives::RhaiResult<crate::host::log::AccessOpts> {
    let o = crate::primitives::Opts::new(p, opts, &["grep", "since", "limit"])?;
    let matching = match o.str("grep")? {
        Some(re) => Some(crate::host::fs::read::regex(&re, false).map_err(|e| {
            crate::primitives::args::bad(p, format!("option \"grep\": {}", e.message))
        })?),
        None => None,
    };
    let since = since_iso(p, o.raw("since"))?;
    Ok(crate::host::log::AccessOpts {
        matching,
        since,
        limit: o.int("limit", 0, i64::MAX)?.map(|n| n as usize),
    })
}

/// A `since` option as ISO 8601 UTC: an ISO time, a date, or how long ago.
pub(crate) fn since_iso(
    prim: &str,
    v: Option<&Dynamic>,
) -> crate::primitives::RhaiResult<Option<String>> {
    let Some(v) = v else { return Ok(None) };
    let t = crate::primitives::fs::time_arg(prim, "option \"since\"", v)?;
    Ok(Some(crate::host::fs::iso(t)))
}

#[export_module]
pub mod log_fns {
    use crate::host;
    use crate::host::fs::script_path;
    use crate::primitives::{ctx, to_dyn, IntoRhai, RhaiResult};
    use rhai::Map;

    /// The last `n` lines of a log, read from the end.
    ///
    /// The last `n` lines of a log, read backwards from the end (same as
    /// `fs::tail`): cheap on a log of any size.
    ///
    /// ```rhai
    /// let last = log::tail("/etc/passwd", 5);
    /// last.len() <= 5
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "tail", return_raw)]
    pub fn tail(nc: NativeCallContext, path: &str, n: i64) -> RhaiResult<Dynamic> {
        const P: &str = "log::tail";
        let c = ctx(&nc, P)?;
        if !(0..=10_000_000).contains(&n) {
            return Err(crate::primitives::args::bad(
                P,
                format!("n: {n} is out of range 0..=10000000"),
            ));
        }
        to_dyn(&host::fs::tail(&script_path(path), n as usize, &mut |w| c.warn(P, w)).rhai(P)?)
    }

    /// Lines of a log (or a glob's files) matching a regex.
    ///
    /// Lines of a log (or of the files a glob matches) matching a regex:
    /// `[#{path, line_no, line}]` (same as `fs::grep`).
    ///
    /// ```rhai
    /// log::grep("/etc/passwd", "^root:").len() == 1
    /// ```
    ///
    /// `log::grep(path, regex, opts)` with the options of `fs::grep`
    /// (`ignore_case`, `invert`, `limit`, `binary`, `max_depth`).
    ///
    /// ```rhai
    /// log::grep("/var/log/*.log", "failed|denied", #{ ignore_case: true, limit: 100 })
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "grep", return_raw)]
    pub fn grep(nc: NativeCallContext, path: &str, regex: &str) -> RhaiResult<Dynamic> {
        crate::primitives::fs::grep_as(&nc, "log::grep", path, regex, Map::new())
    }

    #[rhai_fn(name = "grep", return_raw)]
    pub fn grep_with(
        nc: NativeCallContext,
        path: &str,
        regex: &str,
        opts: Map,
    ) -> RhaiResult<Dynamic> {
        crate::primitives::fs::grep_as(&nc, "log::grep", path, regex, opts)
    }

    /// An Apache/Nginx access log as rows (combined or common format).
    ///
    /// An Apache/Nginx access log (combined or common format) as rows:
    /// `line_no`, `client`, `ident`, `user`, `time` (ISO 8601 UTC), `method`,
    /// `path`, `protocol`, `status`, `bytes`, `referer`, `agent`, `request`
    /// (the raw request line). Lines in another format are counted in one
    /// warning that names the first; they never stop the parse.
    ///
    /// ```rhai
    /// // no_run: needs a web server's log
    /// let hits = log::parse_access("/var/log/apache2/access.log");
    /// hits.filter(|r| r.path.contains("/cgi-bin/") || r.agent.contains("sqlmap"))
    /// ```
    ///
    /// `log::parse_access(path, opts)`: `grep` (a regex tried on the raw
    /// line first: the fast way through a big log), `since` (an ISO time, or
    /// how long ago: `"2d"`), `limit` (rows).
    ///
    /// ```rhai
    /// // no_run: needs a web server's log
    /// log::parse_access("/var/log/nginx/access.log", #{ grep: "\\.php|cgi-bin", since: "2d" })
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "parse_access", return_raw)]
    pub fn parse_access(nc: NativeCallContext, path: &str) -> RhaiResult<Dynamic> {
        parse_access_with(nc, path, Map::new())
    }

    #[rhai_fn(name = "parse_access", return_raw)]
    pub fn parse_access_with(nc: NativeCallContext, path: &str, opts: Map) -> RhaiResult<Dynamic> {
        const P: &str = "log::parse_access";
        let c = ctx(&nc, P)?;
        let ao = super::access_opts(P, opts)?;
        let v = host::log::parse_access(&script_path(path), &ao, &c.cancel, &mut |w| c.warn(P, w))
            .rhai(P)?;
        crate::primitives::fs::fits(&nc, P, v.len(), 13)?;
        to_dyn(&v)
    }

    /// Streams an access log's rows to a function, one at a time, for logs
    /// too big to hold (`log::parse_access` stops at 32 MiB of row text).
    ///
    /// Calls `f(row)` for every row (the fields of `log::parse_access`);
    /// `f` returning `false` stops early. Returns the number of rows seen.
    /// Options as `log::parse_access` (`grep`, `since`; `limit` is ignored).
    ///
    /// ```rhai
    /// // no_run: needs a web server's log
    /// let hits = #{};
    /// log::each_access("/var/log/nginx/access.log", |r| {
    ///     if r.path.contains("/cgi-bin/") { hits[r.client] = (hits[r.client] ?? 0) + 1; }
    /// });
    /// ```
    #[rhai_fn(name = "each_access", return_raw)]
    pub fn each_access(nc: NativeCallContext, path: &str, f: rhai::FnPtr) -> RhaiResult<i64> {
        each_access_with(nc, path, Map::new(), f)
    }

    #[rhai_fn(name = "each_access", return_raw)]
    pub fn each_access_with(
        nc: NativeCallContext,
        path: &str,
        opts: Map,
        f: rhai::FnPtr,
    ) -> RhaiResult<i64> {
        const P: &str = "log::each_access";
        let c = ctx(&nc, P)?;
        let mut ao = super::access_opts(P, opts)?;
        ao.limit = None;
        let mut failed: Option<Box<rhai::EvalAltResult>> = None;
        let n = host::log::for_each_access(
            &script_path(path),
            &ao,
            &c.cancel,
            &mut |w| c.warn(P, w),
            &mut |row| {
                let d = to_dyn(&row).map_err(|e| crate::Error::io_msg(e.to_string()))?;
                match f.call_within_context::<Dynamic>(&nc, (d,)) {
                    Ok(r) => Ok(r.as_bool().unwrap_or(true)),
                    Err(e) => {
                        failed = Some(e);
                        Ok(false)
                    }
                }
            },
        )
        .rhai(P)?;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(n as i64)
    }
}
