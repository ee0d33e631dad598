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
    #[rhai_fn(return_raw)]
    pub fn sleep(nc: NativeCallContext, duration: Dynamic) -> RhaiResult<()> {
        let c = ctx(&nc, "sleep")?;
        let d = args::duration("sleep", "duration", &duration)?;
        c.cancel.sleep(d).rhai("sleep")
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
}
