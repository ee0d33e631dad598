//! Global helpers available in every script, without a namespace.

use rhai::plugin::*;

#[export_module]
pub mod core_fns {
    use crate::primitives::{args, ctx, IntoRhai, RhaiResult};

    /// Sends a record to the output: a table row on a terminal, one JSON line
    /// with `--json`. Hunts emit what they find as they find it.
    ///
    /// ```rhai
    /// emit(#{ host: "10.0.0.5", port: 22, state: "open" });
    /// ```
    ///
    /// Params: value: any
    #[rhai_fn(return_raw)]
    pub fn emit(nc: NativeCallContext, value: Dynamic) -> RhaiResult<()> {
        let c = ctx(&nc, "emit")?;
        c.sink.emit(&value);
        Ok(())
    }

    /// Prints a warning on stderr (never mixed into results).
    ///
    /// ```rhai
    /// warn("no access log found; skipping web checks");
    /// ```
    #[rhai_fn(name = "warn", return_raw)]
    pub fn warn_msg(nc: NativeCallContext, message: &str) -> RhaiResult<()> {
        let c = ctx(&nc, "warn")?;
        let src = nc.call_source().unwrap_or("script").to_string();
        c.warn(&src, message);
        Ok(())
    }

    /// Sleeps, but wakes at once on Ctrl-C. Takes seconds (int or float) or a
    /// string such as `"500ms"`.
    ///
    /// ```rhai
    /// sleep(0.01);
    /// sleep("10ms");
    /// ```
    ///
    /// Params: duration: int|float|string
    #[rhai_fn(name = "sleep", return_raw)]
    pub fn sleep(nc: NativeCallContext, duration: Dynamic) -> RhaiResult<()> {
        let c = ctx(&nc, "sleep")?;
        let d = args::duration("sleep", "duration", &duration)?;
        c.cancel.sleep(d).rhai("sleep")
    }

    // Rhai's core package has its own sleep(INT) and sleep(FLOAT), which
    // exact type matching would prefer over `sleep(Dynamic)`, and which
    // Ctrl-C cannot interrupt: these overloads take precedence.
    #[rhai_fn(name = "sleep", return_raw)]
    pub fn sleep_int(nc: NativeCallContext, seconds: i64) -> RhaiResult<()> {
        sleep(nc, Dynamic::from(seconds))
    }

    #[rhai_fn(name = "sleep", return_raw)]
    pub fn sleep_float(nc: NativeCallContext, seconds: f64) -> RhaiResult<()> {
        sleep(nc, Dynamic::from(seconds))
    }

    /// The current time, ISO 8601 in UTC.
    ///
    /// ```rhai
    /// let t = now();
    /// t.len() > 10
    /// ```
    pub fn now() -> String {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// Seconds since the Unix epoch, as a float (for measuring intervals).
    ///
    /// ```rhai
    /// let t0 = epoch();
    /// epoch() >= t0
    /// ```
    pub fn epoch() -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }

    /// Whether hound runs as root.
    ///
    /// ```rhai
    /// if !is_root() { warn("not root: some sockets will have no owner"); }
    /// ```
    pub fn is_root() -> bool {
        nix::unistd::Uid::effective().is_root()
    }

    /// hound itself: `#{ pid, exe, case_dir }` (the running binary's path and
    /// the case folder in use), so hunts never report hound, or what it
    /// writes, as a finding (it is often run from a temp folder by Ansible).
    ///
    /// ```rhai
    /// let me = hound_self();
    /// me.pid > 0 && me.exe != ""
    /// ```
    #[rhai_fn(return_raw)]
    pub fn hound_self(nc: NativeCallContext) -> RhaiResult<rhai::Map> {
        let c = ctx(&nc, "hound_self")?;
        let mut m = rhai::Map::new();
        m.insert("pid".into(), (std::process::id() as i64).into());
        let exe = std::fs::read_link("/proc/self/exe")
            .map(|p| crate::output::lossless(p.as_os_str().as_encoded_bytes()))
            .unwrap_or_default();
        m.insert("exe".into(), exe.into());
        let dir = c
            .case
            .lock()
            .map(|s| s.dir.display().to_string())
            .unwrap_or_default();
        m.insert("case_dir".into(), dir.into());
        Ok(m)
    }

    /// Whether this run is a dry run (destructive primitives only describe).
    ///
    /// ```rhai
    /// if dry_run() { print("nothing will change"); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn dry_run(nc: NativeCallContext) -> RhaiResult<bool> {
        Ok(ctx(&nc, "dry_run")?.dry_run())
    }

    /// Escapes control characters so attacker-controlled text is safe to print.
    ///
    /// ```rhai
    /// escape("evil\u001b[2Jname") == "evil\\x1b[2Jname"
    /// ```
    pub fn escape(text: &str) -> String {
        crate::output::escape(text).into_owned()
    }

    /// `ioc_match(ip, port, indicators)`: whether an endpoint matches any indicator.
    ///
    /// Indicators are strings:
    /// `"10.0.0.196"`, `"10.0.0.0/24"`, `"10.0.0.196:80"`, `"[2001:db8::1]:443"`,
    /// `":80"` (any address on port 80). A malformed indicator is an error
    /// naming it. Use port 0 when the port is unknown.
    ///
    /// ```rhai
    /// ioc_match("10.0.0.196", 80, ["10.0.0.0/24"]) && !ioc_match("10.0.1.1", 80, ["10.0.0.196:80"])
    /// ```
    ///
    /// Params: indicators: string|array
    #[rhai_fn(return_raw)]
    pub fn ioc_match(ip: &str, port: i64, indicators: Dynamic) -> RhaiResult<bool> {
        const P: &str = "ioc_match";
        let list = args::string_list(P, "indicators", &indicators)?;
        let inds = crate::host::ioc::parse_all(&list).rhai(P)?;
        let Ok(addr) = ip.trim().parse::<std::net::IpAddr>() else {
            return Err(args::bad(P, format!("ip: {ip:?} is not an IP address")));
        };
        let port = u16::try_from(port)
            .map_err(|_| args::bad(P, format!("port: {port} is out of range 0..=65535")))?;
        Ok(inds.iter().any(|i| i.matches(&addr, port)))
    }

    /// Checks a list of indicators and returns it normalised (trimmed); an
    /// error names the first malformed one. Hunts call it on their parameters
    /// before doing anything.
    ///
    /// ```rhai
    /// ioc_check(["10.0.0.196", " :80 "]) == ["10.0.0.196", ":80"]
    /// ```
    ///
    /// Params: indicators: string|array
    #[rhai_fn(return_raw)]
    pub fn ioc_check(indicators: Dynamic) -> RhaiResult<rhai::Array> {
        let list = args::string_list("ioc_check", "indicators", &indicators)?;
        crate::host::ioc::parse_all(&list).rhai("ioc_check")?;
        Ok(list
            .into_iter()
            .map(|s| Dynamic::from(s.trim().to_string()))
            .collect())
    }

    /// `re_match(text, pattern)`: whether `text` matches the regex `pattern`.
    ///
    /// The text comes first, the pattern second (Rust `regex` syntax; `(?i)`
    /// for case-insensitive). A bad pattern is an error naming it.
    ///
    /// ```rhai
    /// re_match("GET /../../etc/passwd", "(?i)\\.\\./|/etc/passwd")
    /// ```
    #[rhai_fn(return_raw)]
    pub fn re_match(text: &str, pattern: &str) -> RhaiResult<bool> {
        crate::primitives::regex_cache::with("re_match", pattern, |re| re.is_match(text))
    }

    /// `re_find(text, pattern)`: the first match of `pattern` in `text`, or `()`.
    ///
    /// ```rhai
    /// re_find("nc -zv 10.0.0.196 80", "\\d+\\.\\d+\\.\\d+\\.\\d+") == "10.0.0.196"
    /// ```
    ///
    /// Returns: string|()
    #[rhai_fn(return_raw)]
    pub fn re_find(text: &str, pattern: &str) -> RhaiResult<Dynamic> {
        crate::primitives::regex_cache::with("re_find", pattern, |re| {
            re.find(text)
                .map(|m| Dynamic::from(m.as_str().to_string()))
                .unwrap_or(Dynamic::UNIT)
        })
    }

    /// `re_captures(text, pattern)`: the groups of the first match.
    ///
    /// Index 0 is the whole match, `()` a group that did not take part; an
    /// empty array when nothing matches.
    ///
    /// ```rhai
    /// let c = re_captures("user=root uid=0", "user=(\\w+) uid=(\\d+)");
    /// c[1] == "root" && c[2] == "0"
    /// ```
    #[rhai_fn(return_raw)]
    pub fn re_captures(text: &str, pattern: &str) -> RhaiResult<rhai::Array> {
        crate::primitives::regex_cache::with("re_captures", pattern, |re| {
            re.captures(text)
                .map(|c| {
                    c.iter()
                        .map(|m| {
                            m.map(|m| Dynamic::from(m.as_str().to_string()))
                                .unwrap_or(Dynamic::UNIT)
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Escapes a literal string for use inside a regular expression.
    ///
    /// ```rhai
    /// re_match("a+b=c", re_escape("a+b"))
    /// ```
    pub fn re_escape(text: &str) -> String {
        regex::escape(text)
    }

    /// Seconds since the Unix epoch for an ISO 8601 / RFC 3339 time, as a
    /// float, to measure intervals between times that primitives return.
    ///
    /// ```rhai
    /// to_epoch("1970-01-01T00:01:00Z") == 60.0
    /// ```
    #[rhai_fn(return_raw)]
    pub fn to_epoch(time: &str) -> RhaiResult<f64> {
        chrono::DateTime::parse_from_rfc3339(time.trim())
            .map(|t| t.timestamp_millis() as f64 / 1000.0)
            .map_err(|e| {
                args::bad(
                    "to_epoch",
                    format!("time: {time:?} is not an ISO 8601 time ({e})"),
                )
            })
    }

    /// Fails the script with `message` unless `condition` holds: for hunt
    /// authors testing their detection logic (`tests/stdlib/*.rhai`).
    ///
    /// ```rhai
    /// assert(1 + 1 == 2, "arithmetic");
    /// ```
    #[rhai_fn(name = "assert", return_raw)]
    pub fn assert_true(condition: bool, message: &str) -> RhaiResult<()> {
        if condition {
            Ok(())
        } else {
            Err(crate::primitives::to_rhai(
                crate::Error::invalid(format!("assertion failed: {message}"))
                    .in_primitive("assert"),
            ))
        }
    }

    /// Fails unless the two values are equal, showing both.
    ///
    /// ```rhai
    /// assert_eq([1, 2].len(), 2);
    /// ```
    ///
    /// Params: actual: any, expected: any
    #[rhai_fn(return_raw)]
    pub fn assert_eq(actual: Dynamic, expected: Dynamic) -> RhaiResult<()> {
        let a = crate::output::to_json(&actual);
        let e = crate::output::to_json(&expected);
        if a == e {
            Ok(())
        } else {
            Err(crate::primitives::to_rhai(
                crate::Error::invalid(format!("assertion failed: {a} != {e} (expected)"))
                    .in_primitive("assert_eq"),
            ))
        }
    }

    /// `re_replace(text, pattern, with)`: every match replaced (`$1` names a group).
    ///
    /// ```rhai
    /// re_replace("nc -zv 10.0.0.196 80", "\\d+\\.\\d+\\.\\d+\\.\\d+", "ADDR") == "nc -zv ADDR 80"
    /// ```
    #[rhai_fn(return_raw)]
    pub fn re_replace(text: &str, pattern: &str, with: &str) -> RhaiResult<String> {
        crate::primitives::regex_cache::with("re_replace", pattern, |re| {
            re.replace_all(text, with).into_owned()
        })
    }
}
